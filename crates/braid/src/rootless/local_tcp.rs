//! `-L [bind:]port:host:port`: a local TCP port whose connections are carried through the
//! tunnel to `host:port` on the peer's side.

use super::spec::ForwardSpec;
use super::splice::{splice, ForwardStats};
use super::{spawn_small, Context};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A local TCP forward, listening.
pub struct LocalTcpForward {
    local: SocketAddr,
}

impl LocalTcpForward {
    /// Binds the local port (a clear error when it is in use) and starts accepting.
    pub fn start(spec: &ForwardSpec, context: Context, stats: Arc<ForwardStats>) -> io::Result<LocalTcpForward> {
        let listener = TcpListener::bind(spec.listen).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {} for -L {}: {e}", spec.listen, spec.target))
        })?;
        let local = listener.local_addr()?;
        let target = spec.target.clone();
        spawn_small("braid-forward-l", move || {
            for incoming in listener.incoming() {
                if context.connections.is_closing() {
                    return;
                }
                let Ok(client) = incoming else { continue };
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                if !context.connections.has_room() {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("forward: too many connections open; one refused");
                    continue;
                }
                let (context, conn_stats, target) = (context.clone(), stats.clone(), target.clone());
                let spawned = spawn_small("braid-forward-c", move || match context.connect(&target) {
                    Ok(tunnel) => splice(client, tunnel, &conn_stats, &context.connections),
                    Err(e) => {
                        conn_stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%target, error = %e, "forward: cannot reach the target through the tunnel");
                    }
                });
                if spawned.is_err() {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })?;
        Ok(LocalTcpForward { local })
    }

    /// The local address it listens on (with the port chosen, if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}
