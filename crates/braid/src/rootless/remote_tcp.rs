//! `-R port:host:port`: a port on the tunnel's own addresses whose connections (from hosts on
//! the peer's side) are carried to `host:port` here.

use super::spec::{ForwardSpec, Host};
use super::splice::{splice, ForwardStats};
use super::{spawn_small, Context, CONNECT_TIMEOUT};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Starts a remote forward: listens on `spec.listen`'s port of every tunnel address.
pub fn start(spec: &ForwardSpec, context: Context, stats: Arc<ForwardStats>) -> io::Result<()> {
    let listener = context.net.tcp_listen(spec.listen).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot listen on the tunnel's port {} for -R: {e}", spec.listen.port()))
    })?;
    let target = spec.target.clone();
    spawn_small("braid-forward-r", move || loop {
        let Ok((tunnel, from)) = listener.accept() else {
            if context.connections.is_closing() {
                return;
            }
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        if !context.connections.has_room() {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("remote forward: too many connections open; one refused");
            continue;
        }
        let (context, conn_stats, target) = (context.clone(), stats.clone(), target.clone());
        let spawned = spawn_small("braid-forward-c", move || {
            let addrs: io::Result<Vec<SocketAddr>> = match &target.host {
                Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, target.port)]),
                // A name on our side: the system's resolver, as for any local program.
                Host::Name(name) => (name.as_str(), target.port).to_socket_addrs().map(Iterator::collect),
            };
            let local = addrs.and_then(|addrs| {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                        Ok(s) => return Ok(s),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            });
            match local {
                Ok(local) => splice(local, tunnel, &conn_stats, &context.connections),
                Err(e) => {
                    conn_stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, %target, error = %e, "remote forward: cannot reach the local target");
                }
            }
        });
        if spawned.is_err() {
            stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    })
}
