//! Rootless braid: a tunnel on braid's userspace TCP/IP stack, reached through local ports
//! (`braid forward`) or a proxy (`braid socks`), with no TUN device and no privilege.
//!
//! * [`Rootless`]: the tunnel and its stack, started from the same config file `braid up`
//!   reads, with names resolved through the tunnel's DNS ([`resolver`]) and the open
//!   connections kept for a graceful shutdown ([`splice::Connections`]).
//! * [`local_tcp`] (`-L`), [`local_udp`] (`-U`), [`remote_tcp`] (`-R`): the forwards.
//! * [`socks5`] and [`http_proxy`]: the proxies.
//!
//! Each forward and proxy runs on threads of its own (one per connection direction, with
//! small stacks), and every count of what it did is in its [`splice::ForwardStats`].

pub mod http_proxy;
pub mod local_tcp;
pub mod local_udp;
pub mod remote_tcp;
pub mod resolver;
pub mod socks5;
pub mod spec;
pub mod splice;

use crate::config::{DnsEntry, TunnelConfig};
use crate::net::{NetStack, TcpStream as TunnelStream};
use crate::tunnel::{Tunnel, TunnelError};
use core::net::{IpAddr, SocketAddr};
use resolver::Resolver;
use spec::{Host, Target};
use splice::{Connections, ForwardStats};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a connection through the tunnel may take to open (the handshake included).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for open connections to finish their FIN exchange.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running rootless tunnel: the WireGuard engine, the userspace stack on it, and what its
/// forwards share.
pub struct Rootless {
    tunnel: Tunnel,
    net: Arc<NetStack>,
    resolver: Resolver,
    connections: Arc<Connections>,
    stats: Vec<(String, Arc<ForwardStats>)>,
    control: Option<(crate::daemon::ControlSocket, crate::daemon::uapi_server::UapiServer)>,
}

impl Rootless {
    /// Starts the tunnel of `config` (read from `file`, named in messages) with the stack on
    /// it. The keys that need a TUN interface are reported once each, with their lines, as
    /// ignored.
    pub fn start(file: &str, config: &TunnelConfig) -> Result<Rootless, TunnelError> {
        for (key, line) in &config.tun_only {
            tracing::warn!("{file}:{line}: `{key}` acts on a TUN interface; braid without one ignores it");
        }
        let mut tunnel = Tunnel::start(config)?;
        let net = Arc::new(tunnel.net()?);
        let servers = config
            .dns
            .iter()
            .filter_map(|d| match d {
                DnsEntry::Server(ip) => Some(*ip),
                DnsEntry::SearchDomain(_) => None,
            })
            .collect();
        let resolver = Resolver::new(servers, tunnel.addresses());
        Ok(Rootless {
            tunnel,
            net,
            resolver,
            connections: Arc::new(Connections::default()),
            stats: Vec::new(),
            control: None,
        })
    }

    /// The stack on the tunnel.
    pub fn net(&self) -> &Arc<NetStack> {
        &self.net
    }

    /// The tunnel.
    pub fn tunnel(&self) -> &Tunnel {
        &self.tunnel
    }

    /// The tunnel's own addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        self.tunnel.addresses()
    }

    /// The open connections of every forward.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// Shows a forward's or proxy's counters as `name` in `braid show`.
    pub fn track(&mut self, name: String, stats: Arc<ForwardStats>) {
        self.stats.push((name, stats));
    }

    /// Every forward's counters, by name.
    pub fn stats(&self) -> &[(String, Arc<ForwardStats>)] {
        &self.stats
    }

    /// Serves the control socket of `interface` (in the user's runtime directory, or the
    /// system's for root), so `braid show` and `wg` see this tunnel, with every forward's
    /// counters. Call once the forwards exist. Returns the socket's path.
    pub fn serve_control(&mut self, interface: &str) -> io::Result<std::path::PathBuf> {
        let socket = crate::daemon::ControlSocket::bind_for_user(interface)?;
        let listener = socket.listener.try_clone()?;
        let stats = self.stats.clone();
        let extras: crate::uapi::HostExtras = Arc::new(move || {
            stats
                .iter()
                .enumerate()
                .map(|(i, (name, s))| {
                    let (accepted, open, failed, out, inb) = s.snapshot();
                    let value = format!(
                        "{name}: {accepted} connections ({open} open, {failed} failed), {out} bytes out, {inb} bytes in"
                    );
                    (format!("forward_{}", i + 1), value)
                })
                .collect()
        });
        let server =
            crate::daemon::uapi_server::UapiServer::spawn_with(listener, self.tunnel.engine().clone(), Some(extras))?;
        let path = socket.path().to_path_buf();
        self.control = Some((socket, server));
        Ok(path)
    }

    /// What the forwards need from here, for their threads.
    pub fn context(&self) -> Context {
        Context {
            net: self.net.clone(),
            resolver: Arc::new(self.resolver.clone()),
            connections: self.connections.clone(),
        }
    }

    /// Ends every connection with a FIN, waits (a little) for them to finish, then stops the
    /// stack and the tunnel.
    pub fn shutdown(mut self) {
        if let Some((socket, server)) = self.control.take() {
            server.stop();
            drop(socket);
        }
        self.connections.close_all();
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while Instant::now() < deadline
            && (self.stats.iter().any(|(_, s)| s.open.load(std::sync::atomic::Ordering::Relaxed) > 0)
                || self.net.stats().tcp_connections > 0)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(net) = Arc::try_unwrap(self.net) {
            net.shutdown();
        }
        self.tunnel.stop();
    }
}

/// The shared part of a rootless tunnel that forwards and proxies carry to their threads.
#[derive(Clone)]
pub struct Context {
    /// The stack.
    pub net: Arc<NetStack>,
    /// Names through the tunnel.
    pub resolver: Arc<Resolver>,
    /// Open connections.
    pub connections: Arc<Connections>,
}

impl Context {
    /// The addresses of `host` on the tunnel's side.
    pub fn resolve(&self, host: &Host) -> io::Result<Vec<IpAddr>> {
        match host {
            Host::Ip(ip) => Ok(vec![*ip]),
            Host::Name(name) => self.resolver.resolve(&self.net, name).map_err(|e| match e {
                resolver::ResolveError::Io(e) => e,
                other => io::Error::new(io::ErrorKind::NotFound, other),
            }),
        }
    }

    /// A TCP connection through the tunnel to `target`, trying each of its addresses.
    pub fn connect(&self, target: &Target) -> io::Result<TunnelStream> {
        let mut last = None;
        for ip in self.resolve(&target.host)? {
            match self.net.tcp_connect_timeout(SocketAddr::new(ip, target.port), CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{target} has no address"))))
    }
}

/// How a proxy serves one client (until its connection ends).
pub(crate) type ServeClient =
    fn(std::net::TcpStream, &Context, &Arc<ForwardStats>, Option<&socks5::Credentials>) -> io::Result<()>;

/// Listens on `listen` for the proxy called `what` and serves each client with `serve` on a
/// thread of its own (threads named `thread`), counting into `stats`; clients beyond the
/// connection cap are refused at once. Returns the address bound.
pub(crate) fn serve_proxy(
    listen: SocketAddr,
    what: &'static str,
    thread: &'static str,
    context: Context,
    stats: Arc<ForwardStats>,
    auth: Option<socks5::Credentials>,
    serve: ServeClient,
) -> io::Result<SocketAddr> {
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {listen} for {what}: {e}")))?;
    let bound = listener.local_addr()?;
    spawn_small(thread, move || {
        for client in listener.incoming() {
            if context.connections.is_closing() {
                return;
            }
            let Ok(client) = client else { continue };
            stats.accepted.fetch_add(1, Ordering::Relaxed);
            if !context.connections.has_room() {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let (context, stats, auth) = (context.clone(), stats.clone(), auth.clone());
            let _ = spawn_small(thread, move || {
                if let Err(e) = serve(client, &context, &stats, auth.as_ref()) {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, "{what} client ended");
                }
            });
        }
    })?;
    Ok(bound)
}

/// Spawns a named thread with a small stack (the forwards' threads mostly wait).
pub(crate) fn spawn_small(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new().name(name.into()).stack_size(splice::COPY_THREAD_STACK).spawn(body).map(drop)
}
