//! `-U [bind:]port:host:port`: a local UDP port whose datagrams are carried through the tunnel
//! to `host:port`, and the answers back to whoever sent them.
//!
//! Each local client (source address) gets a UDP socket of its own on the tunnel, so answers
//! find their way back; a client silent for [`IDLE`] is forgotten, and at most [`MAX_CLIENTS`]
//! are served at once (memory stays bounded whatever arrives).

use super::spec::ForwardSpec;
use super::splice::ForwardStats;
use super::{spawn_small, Context};
use crate::net::UdpSocket as TunnelSocket;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A client silent this long is forgotten (its tunnel socket closed).
pub const IDLE: Duration = Duration::from_secs(60);
/// Clients served at once; datagrams from more are dropped (and counted as failed).
pub const MAX_CLIENTS: usize = 4096;
/// Largest datagram carried.
const MAX_DATAGRAM: usize = 65_535;

struct Flow {
    tunnel: TunnelSocket,
    last_seen: Mutex<Instant>,
}

/// A local UDP forward, listening.
pub struct LocalUdpForward {
    local: SocketAddr,
}

impl LocalUdpForward {
    /// Binds the local port and starts relaying.
    pub fn start(spec: &ForwardSpec, context: Context, stats: Arc<ForwardStats>) -> io::Result<LocalUdpForward> {
        let socket = UdpSocket::bind(spec.listen).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on UDP {} for -U {}: {e}", spec.listen, spec.target))
        })?;
        let local = socket.local_addr()?;
        let socket = Arc::new(socket);
        let target_spec = spec.target.clone();
        spawn_small("braid-forward-u", move || {
            let flows: Arc<Mutex<HashMap<SocketAddr, Arc<Flow>>>> = Arc::default();
            let mut buf = vec![0u8; MAX_DATAGRAM];
            let mut target = None;
            loop {
                let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
                if context.connections.is_closing() {
                    return;
                }
                // The target's address, resolved once it is first needed.
                let to = match target {
                    Some(to) => to,
                    None => match context.resolve(&target_spec.host) {
                        Ok(ips) if !ips.is_empty() => *target.insert(SocketAddr::new(ips[0], target_spec.port)),
                        Ok(_) | Err(_) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(target = %target_spec, "UDP forward: the target does not resolve");
                            continue;
                        }
                    },
                };
                let flow = flows.lock().unwrap_or_else(PoisonError::into_inner).get(&client).cloned();
                let flow = match flow {
                    Some(flow) => flow,
                    None => match open_flow(&context, &socket, &flows, client, to, &stats) {
                        Some(flow) => flow,
                        None => continue,
                    },
                };
                *flow.last_seen.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                if flow.tunnel.send_to(&buf[..n], to).is_ok() {
                    stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        })?;
        Ok(LocalUdpForward { local })
    }

    /// The local address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// A tunnel socket for a new client, and the thread that carries its answers back.
fn open_flow(
    context: &Context,
    socket: &Arc<UdpSocket>,
    flows: &Arc<Mutex<HashMap<SocketAddr, Arc<Flow>>>>,
    client: SocketAddr,
    to: SocketAddr,
    stats: &Arc<ForwardStats>,
) -> Option<Arc<Flow>> {
    if flows.lock().unwrap_or_else(PoisonError::into_inner).len() >= MAX_CLIENTS {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let any: IpAddr = if to.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let tunnel = match context.net.udp_bind(SocketAddr::new(any, 0)) {
        Ok(t) => t,
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "UDP forward: no socket on the tunnel");
            return None;
        }
    };
    let flow = Arc::new(Flow { tunnel, last_seen: Mutex::new(Instant::now()) });
    flows.lock().unwrap_or_else(PoisonError::into_inner).insert(client, flow.clone());
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats.open.fetch_add(1, Ordering::Relaxed);
    let (reply_flow, socket, thread_flows, thread_stats, connections) =
        (flow.clone(), socket.clone(), flows.clone(), stats.clone(), context.connections.clone());
    let spawned = spawn_small("braid-forward-u", move || {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match reply_flow.tunnel.recv_from_timeout(&mut buf, Duration::from_secs(1)) {
                Ok((n, from)) if from == to => {
                    if socket.send_to(&buf[..n], client).is_ok() {
                        thread_stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                Ok(_) => {} // from elsewhere: not an answer
                Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            let idle = reply_flow.last_seen.lock().unwrap_or_else(PoisonError::into_inner).elapsed() >= IDLE;
            if idle || connections.is_closing() {
                break;
            }
        }
        thread_flows.lock().unwrap_or_else(PoisonError::into_inner).remove(&client);
        thread_stats.open.fetch_sub(1, Ordering::Relaxed);
    });
    if spawned.is_err() {
        flows.lock().unwrap_or_else(PoisonError::into_inner).remove(&client);
        stats.open.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    Some(flow)
}
