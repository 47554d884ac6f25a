//! TCP over the tunnel, with the standard library's shape: [`TcpListener::accept`] and
//! [`TcpStream`]'s `Read`/`Write` block unless `set_nonblocking(true)`; `poll_read` and
//! `poll_write` fit an event loop or an async runtime.

use super::{closed, connection_error, not_yet, StackShared, StackState};
use braid_stack::socket::{BindError, ConnectError, TcpListenerHandle, TcpStreamHandle};
use braid_stack::tcp::{RecvError, SendError, Shutdown};
use core::net::SocketAddr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP connection through the tunnel. Dropping it closes it gracefully: a FIN follows the
/// data still queued, and the stack finishes the close in the background.
pub struct TcpStream {
    shared: Arc<StackShared>,
    handle: TcpStreamHandle,
    local: SocketAddr,
    remote: SocketAddr,
    nonblocking: AtomicBool,
    timeouts: Mutex<Timeouts>,
}

#[derive(Clone, Copy, Default)]
struct Timeouts {
    read: Option<Duration>,
    write: Option<Duration>,
}

impl core::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpStream").field("local", &self.local).field("remote", &self.remote).finish()
    }
}

impl TcpStream {
    pub(crate) fn connect(
        shared: &Arc<StackShared>,
        remote: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<Self> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut state = shared.lock();
        if state.closed {
            return Err(closed());
        }
        let StackState { iface, sockets, .. } = &mut *state;
        let handle = iface.tcp_connect(sockets, shared.now(), remote, shared.tcp).map_err(connect_error)?;
        shared.kick();
        loop {
            let Some(stream) = state.sockets.tcp_stream(handle) else { return Err(closed()) };
            if let Some(e) = stream.error() {
                state.sockets.tcp_abort(handle);
                return Err(connection_error(e));
            }
            if stream.is_established() {
                let (local, remote) = (stream.local_addr(), stream.remote_addr());
                return Ok(TcpStream::new(shared.clone(), handle, local, remote));
            }
            if state.closed {
                return Err(closed());
            }
            let (next, timed_out) = shared.wait(state, deadline);
            state = next;
            if timed_out {
                state.sockets.tcp_abort(handle);
                shared.kick();
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {remote} timed out")));
            }
        }
    }

    fn new(shared: Arc<StackShared>, handle: TcpStreamHandle, local: SocketAddr, remote: SocketAddr) -> Self {
        TcpStream {
            shared,
            handle,
            local,
            remote,
            nonblocking: AtomicBool::new(false),
            timeouts: Mutex::new(Timeouts::default()),
        }
    }

    /// Our address and port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The peer's address and port.
    pub fn peer_addr(&self) -> SocketAddr {
        self.remote
    }

    /// In non-blocking mode reads and writes return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    /// Longest a blocking read waits (`None`: forever); then it fails with `WouldBlock`, as
    /// `std::net::TcpStream` does.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.timeouts.lock().unwrap_or_else(PoisonError::into_inner).read = timeout;
    }

    /// Longest a blocking write waits for room (`None`: forever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.timeouts.lock().unwrap_or_else(PoisonError::into_inner).write = timeout;
    }

    /// Closes one or both directions (`Write`: a FIN after the queued data).
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        let mut state = self.shared.lock();
        state.sockets.tcp_stream(self.handle).ok_or_else(closed)?.shutdown(how);
        drop(state);
        self.shared.kick();
        Ok(())
    }

    /// The connection's smoothed round-trip time, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        let mut state = self.shared.lock();
        state.sockets.tcp_stream(self.handle).and_then(|s| s.connection().rtt().srtt())
    }

    /// Bytes written and not yet acknowledged by the peer.
    pub fn unacknowledged(&self) -> usize {
        let mut state = self.shared.lock();
        state.sockets.tcp_stream(self.handle).map_or(0, |s| s.send_queue())
    }

    fn try_read(&self, state: &mut StackState, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let Some(stream) = state.sockets.tcp_stream(self.handle) else { return Some(Err(closed())) };
        match stream.recv(buf) {
            Ok(0) if !buf.is_empty() => not_yet(state),
            Ok(n) => Some(Ok(n)),
            Err(RecvError::Finished | RecvError::Closed) => Some(Ok(0)),
            Err(RecvError::Connection(e)) => Some(Err(connection_error(e))),
        }
    }

    fn try_write(&self, state: &mut StackState, buf: &[u8]) -> Option<io::Result<usize>> {
        let Some(stream) = state.sockets.tcp_stream(self.handle) else { return Some(Err(closed())) };
        match stream.send(buf) {
            Ok(0) if !buf.is_empty() => not_yet(state),
            Ok(n) => Some(Ok(n)),
            Err(SendError::Closed) => Some(Err(io::Error::from(io::ErrorKind::BrokenPipe))),
            Err(SendError::Connection(e)) => Some(Err(connection_error(e))),
        }
    }

    /// Reads what has arrived into `buf`, or registers `cx` to be woken when more does.
    /// `Ready(Ok(0))` is the end of the stream.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.shared.polled(cx, |state| self.try_read(state, buf))
    }

    /// Queues what fits of `buf`, or registers `cx` to be woken when there is room.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.shared.polled(cx, |state| self.try_write(state, buf))
    }

    fn read_timeout(&self) -> Option<Duration> {
        self.timeouts.lock().unwrap_or_else(PoisonError::into_inner).read
    }

    fn write_timeout(&self) -> Option<Duration> {
        self.timeouts.lock().unwrap_or_else(PoisonError::into_inner).write
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        self.shared.blocking(nonblocking, self.read_timeout(), |state| self.try_read(state, buf))
    }
}

impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        self.shared.blocking(nonblocking, self.write_timeout(), |state| self.try_write(state, buf))
    }

    /// Data leaves as fast as the connection allows; nothing is held back to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.shared.lock().sockets.tcp_release(self.handle);
        self.shared.kick();
    }
}

/// A listening TCP socket on the tunnel. Dropping it stops listening.
pub struct TcpListener {
    shared: Arc<StackShared>,
    handle: TcpListenerHandle,
    local: SocketAddr,
    nonblocking: AtomicBool,
}

impl core::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpListener").field("local", &self.local).finish()
    }
}

impl TcpListener {
    pub(crate) fn bind(shared: &Arc<StackShared>, local: SocketAddr, backlog: usize) -> io::Result<Self> {
        let mut state = shared.lock();
        if state.closed {
            return Err(closed());
        }
        let handle = state.sockets.tcp_listen(local, backlog, shared.tcp).map_err(bind_error)?;
        Ok(TcpListener { shared: shared.clone(), handle, local, nonblocking: AtomicBool::new(false) })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// In non-blocking mode `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    fn try_accept(&self, state: &mut StackState) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        if let Some(handle) = state.sockets.tcp_accept(self.handle) {
            let stream = state.sockets.tcp_stream(handle)?;
            let (local, remote) = (stream.local_addr(), stream.remote_addr());
            return Some(Ok((TcpStream::new(self.shared.clone(), handle, local, remote), remote)));
        }
        not_yet(state)
    }

    /// Waits for the next connection (its handshake completed) and returns it with the
    /// peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        self.shared.blocking(nonblocking, None, |state| self.try_accept(state))
    }

    /// Takes the next connection if one is ready, or registers `cx` to be woken.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.shared.polled(cx, |state| self.try_accept(state))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.shared.lock().sockets.tcp_unlisten(self.handle);
        self.shared.kick();
    }
}

fn connect_error(e: ConnectError) -> io::Error {
    let kind = match e {
        ConnectError::Unaddressable(_) => io::ErrorKind::AddrNotAvailable,
        ConnectError::AddrInUse(_) | ConnectError::NoEphemeralPort => io::ErrorKind::AddrInUse,
    };
    io::Error::new(kind, e)
}

pub(crate) fn bind_error(e: BindError) -> io::Error {
    let kind = match e {
        BindError::AddrInUse(_) | BindError::IdentInUse(_) => io::ErrorKind::AddrInUse,
        BindError::InvalidPort => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e)
}
