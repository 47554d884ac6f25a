//! Sockets over the tunnel, no root and no TUN: braid's userspace TCP/IP stack
//! (`braid-stack`) on a tunnel's in-process device, behind handles that work like the
//! standard library's.
//!
//! A [`NetStack`] runs the stack on a thread of its own: it polls the interface whenever the
//! tunnel delivers packets, a handle did something, or a TCP timer is due, and wakes the
//! handles waiting on it. Handles ([`TcpStream`], [`TcpListener`], [`UdpSocket`]) block like
//! `std::net`'s by default (`std::io::Read`/`Write`), or return `WouldBlock` after
//! `set_nonblocking(true)`, or can be polled from an event loop or an async runtime
//! (`poll_read`/`poll_write` take a `std::task::Context`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{Read, Write};
//! let config = braid::config::parse_config("wg0.conf", &std::fs::read_to_string("wg0.conf")?)?;
//! let mut tunnel = braid::Tunnel::start(&config)?;
//! let net = tunnel.net()?;
//! let mut stream = net.tcp_connect("198.19.0.2:80".parse()?)?;
//! stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
//! let mut page = String::new();
//! stream.read_to_string(&mut page)?;
//! # Ok(()) }
//! ```

mod link;
mod tcp;
mod udp;

pub use link::PortLink;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use braid_engine::in_process::PacketPort;
use braid_stack::iface::{Interface, InterfaceConfig, InterfaceCounters};
use braid_stack::socket::{IcmpConfig, SocketSet};
use braid_stack::tcp::TcpConfig;
use braid_stack::time::Instant;
use core::net::{IpAddr, SocketAddr};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// Longest the stack's thread sleeps without looking at the tunnel and its stop flag.
const IDLE: Duration = Duration::from_secs(1);
/// Connections a listener holds between their handshake and `accept`.
const LISTEN_BACKLOG: usize = 128;

/// How a [`NetStack`] is set up.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The stack's own addresses (a tunnel config's `Address`).
    pub addresses: Vec<IpAddr>,
    /// Terminate connections to any destination, not only to `addresses` (a transparent
    /// proxy for whole networks, as rootless forwarding needs).
    pub accept_any_destination: bool,
    /// Settings of every TCP connection.
    pub tcp: TcpConfig,
}

impl NetConfig {
    /// A stack with `addresses` and TCP buffers large enough for a fast tunnel: 4 MiB each
    /// way (memory is touched only as data flows; the stack's default 64 KiB limits one
    /// connection to about 5 Mbit/s at 100 ms of round trip); CUBIC, which regains its
    /// window after a loss in seconds on a long path where NewReno takes minutes; and pacing,
    /// so a window does not leave as one burst that a queue on the path drops.
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> NetConfig {
        let tcp = TcpConfig {
            send_buffer_size: 4 << 20,
            recv_buffer_size: 4 << 20,
            congestion: braid_stack::tcp::CongestionAlgorithm::Cubic,
            pacing: true,
            ..TcpConfig::default()
        };
        NetConfig { addresses: addresses.into_iter().collect(), accept_any_destination: false, tcp }
    }
}

/// The stack's state, behind the one lock its thread and the handles share.
pub(crate) struct StackState {
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet,
    pub(crate) link: PortLink,
    /// Handles blocked on `changed`.
    waiters: usize,
    /// Handles polled from an event loop, to wake after the next poll that did something.
    wakers: Vec<Waker>,
    /// The tunnel stopped or the stack shut down: nothing moves any more.
    pub(crate) closed: bool,
    next_ident: u16,
}

impl StackState {
    /// Remembers `waker` to be woken after the stack's next progress.
    pub(crate) fn wake_later(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }
}

/// What the stack's thread and every handle share.
pub(crate) struct StackShared {
    state: Mutex<StackState>,
    changed: Condvar,
    driver: OnceLock<Thread>,
    kicked: AtomicBool,
    stop: AtomicBool,
    origin: std::time::Instant,
    pub(crate) tcp: TcpConfig,
}

impl StackShared {
    pub(crate) fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StackState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the stack's thread poll soon (a handle queued data, read some, or closed).
    pub(crate) fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        if let Some(driver) = self.driver.get() {
            driver.unpark();
        }
    }

    /// Waits (the lock released meanwhile) until the stack made progress or `deadline`
    /// passed; the second value says the deadline passed. Wake-ups may be spurious: callers
    /// re-check their condition either way.
    pub(crate) fn wait<'a>(
        &self,
        mut state: MutexGuard<'a, StackState>,
        deadline: Option<std::time::Instant>,
    ) -> (MutexGuard<'a, StackState>, bool) {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return (state, true);
                }
                left.min(IDLE)
            }
            None => IDLE,
        };
        state.waiters += 1;
        let (mut state, _) = self.changed.wait_timeout(state, timeout).unwrap_or_else(PoisonError::into_inner);
        state.waiters -= 1;
        (state, false)
    }
}

impl StackShared {
    /// Runs `attempt` until it has an answer, waiting for the stack's progress in between (or
    /// failing with `WouldBlock` when `nonblocking`, or after `timeout`, as `std::net` does);
    /// the stack's thread is told to poll once something was done.
    pub(crate) fn blocking<T>(
        &self,
        nonblocking: bool,
        timeout: Option<Duration>,
        mut attempt: impl FnMut(&mut StackState) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut state = self.lock();
        loop {
            if let Some(result) = attempt(&mut state) {
                drop(state);
                self.kick();
                return result;
            }
            if nonblocking {
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
            let (next, timed_out) = self.wait(state, deadline);
            state = next;
            if timed_out {
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
        }
    }

    /// One `attempt` for an event loop: its answer, or `Pending` with `cx` woken after the
    /// stack's next progress.
    pub(crate) fn polled<T>(
        &self,
        cx: &mut Context<'_>,
        attempt: impl FnOnce(&mut StackState) -> Option<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut state = self.lock();
        match attempt(&mut state) {
            Some(result) => {
                drop(state);
                self.kick();
                Poll::Ready(result)
            }
            None => {
                state.wake_later(cx.waker());
                Poll::Pending
            }
        }
    }
}

/// What an attempt that found nothing to do answers: wait, unless the stack has stopped.
pub(crate) fn not_yet<T>(state: &StackState) -> Option<io::Result<T>> {
    state.closed.then(|| Err(closed()))
}

/// The userspace TCP/IP stack on a tunnel's in-process device, on a thread of its own.
pub struct NetStack {
    shared: Arc<StackShared>,
    driver: Option<JoinHandle<()>>,
}

impl core::fmt::Debug for NetStack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetStack").field("addresses", &self.shared.lock().iface.config().addresses).finish()
    }
}

/// The stack's counters.
#[derive(Clone, Debug)]
pub struct NetStats {
    /// Every packet's fate at the IP layer.
    pub interface: InterfaceCounters,
    /// Live TCP connections (closing ones included).
    pub tcp_connections: usize,
}

impl NetStack {
    /// Runs a stack with `config` on `port` (the application's end of a tunnel).
    pub fn start(port: PacketPort, config: NetConfig) -> io::Result<NetStack> {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let mut secret = [0u8; 32];
        rand_chacha::ChaCha20Rng::from_os_rng().fill_bytes(&mut secret);
        let link = PortLink::new(port);
        let mut iface_config = InterfaceConfig::new(config.addresses.iter().copied());
        iface_config.accept_any_destination = config.accept_any_destination;
        let iface = Interface::new(iface_config, &link);
        let state = StackState {
            iface,
            sockets: SocketSet::new(secret),
            link,
            waiters: 0,
            wakers: Vec::new(),
            closed: false,
            next_ident: 1,
        };
        let shared = Arc::new(StackShared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            driver: OnceLock::new(),
            kicked: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            origin: std::time::Instant::now(),
            tcp: config.tcp,
        });
        let driven = shared.clone();
        let driver = std::thread::Builder::new().name("braid-stack".into()).spawn(move || drive(&driven))?;
        let _ = shared.driver.set(driver.thread().clone());
        // The tunnel calls back when packets arrive or room frees up.
        let notified = Arc::downgrade(&shared);
        shared.lock().link.port().set_notify(move || {
            if let Some(shared) = notified.upgrade() {
                shared.kick();
            }
        });
        shared.kick();
        Ok(NetStack { shared, driver: Some(driver) })
    }

    /// Connects to `remote` through the tunnel, waiting for the handshake (or its failure:
    /// refused, reset, timed out after the SYN retries).
    pub fn tcp_connect(&self, remote: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(&self.shared, remote, None)
    }

    /// Like [`NetStack::tcp_connect`], giving up after `timeout`.
    pub fn tcp_connect_timeout(&self, remote: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect(&self.shared, remote, Some(timeout))
    }

    /// Listens on `local` (an unspecified address: all of the stack's addresses).
    pub fn tcp_listen(&self, local: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind(&self.shared, local, LISTEN_BACKLOG)
    }

    /// A UDP socket on `local` (port 0: an ephemeral port).
    pub fn udp_bind(&self, local: SocketAddr) -> io::Result<UdpSocket> {
        UdpSocket::bind(&self.shared, local)
    }

    /// Sends one ICMP echo request to `to` through the tunnel and waits up to `timeout` for
    /// its reply; returns the round trip.
    pub fn ping(&self, to: IpAddr, timeout: Duration) -> io::Result<Duration> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let ident = state.next_ident;
        state.next_ident = state.next_ident.wrapping_add(1).max(1);
        let handle = state.sockets.icmp_bind(ident, IcmpConfig::default()).map_err(io::Error::other)?;
        let sent = std::time::Instant::now();
        let deadline = sent + timeout;
        let payload = *b"braid ping 0123456789abcdef";
        let mut outcome = match state.sockets.icmp(handle).map(|s| s.send_echo(to, 1, &payload)) {
            Some(Ok(())) => None,
            Some(Err(e)) => Some(Err(io::Error::other(e))),
            None => Some(Err(closed())),
        };
        shared.kick();
        while outcome.is_none() {
            let mut buf = [0u8; 64];
            if let Some(reply) = state.sockets.icmp(handle).and_then(|s| s.recv_reply(&mut buf)) {
                if reply.seq_no == 1 && reply.from == to {
                    outcome = Some(Ok(sent.elapsed()));
                }
                continue;
            }
            if state.closed {
                outcome = Some(Err(closed()));
                continue;
            }
            let (next, timed_out) = shared.wait(state, Some(deadline));
            state = next;
            if timed_out {
                outcome = Some(Err(io::Error::new(io::ErrorKind::TimedOut, format!("no echo reply from {to}"))));
            }
        }
        state.sockets.icmp_close(handle);
        outcome.unwrap_or_else(|| Err(closed()))
    }

    /// The stack's counters.
    pub fn stats(&self) -> NetStats {
        let state = self.shared.lock();
        NetStats { interface: *state.iface.counters(), tcp_connections: state.sockets.tcp_connection_count() }
    }

    /// Stops the stack's thread; handles fail from now on. Connections are not closed
    /// gracefully: close (drop) them first.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.kick();
        if let Some(driver) = self.driver.take() {
            let _ = driver.join();
        }
    }
}

impl Drop for NetStack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The stack's thread: poll whenever there is reason to, sleep until the next timer otherwise.
fn drive(shared: &StackShared) {
    loop {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        shared.kicked.store(false, Ordering::Release);
        let now = shared.now();
        let (sleep, closed) = {
            let mut state = shared.lock();
            let StackState { iface, sockets, link, .. } = &mut *state;
            let progressed = iface.poll(now, link, sockets);
            link.flush();
            let closed = link.port().is_closed();
            let next = iface.poll_at(sockets);
            if progressed || closed {
                if state.waiters > 0 {
                    shared.changed.notify_all();
                }
                for waker in state.wakers.drain(..) {
                    waker.wake();
                }
            }
            let sleep = match next {
                Some(at) => at.saturating_duration_since(now).min(IDLE),
                None => IDLE,
            };
            (sleep, closed)
        };
        if closed {
            break;
        }
        if !sleep.is_zero() && !shared.kicked.load(Ordering::Acquire) {
            std::thread::park_timeout(sleep);
        }
    }
    let mut state = shared.lock();
    state.closed = true;
    shared.changed.notify_all();
    for waker in state.wakers.drain(..) {
        waker.wake();
    }
}

/// The `io::Error` for a connection's failure.
pub(crate) fn connection_error(e: braid_stack::tcp::ConnectionError) -> io::Error {
    use braid_stack::tcp::ConnectionError;
    let kind = match e {
        ConnectionError::Reset => io::ErrorKind::ConnectionReset,
        ConnectionError::Refused => io::ErrorKind::ConnectionRefused,
        ConnectionError::TimedOut => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::HostUnreachable,
    };
    io::Error::new(kind, e)
}

/// The error every handle returns once the stack stopped.
pub(crate) fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the tunnel's stack has stopped")
}
