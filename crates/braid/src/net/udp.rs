//! UDP over the tunnel, shaped like `std::net::UdpSocket`.

use super::tcp::bind_error;
use super::{closed, not_yet, StackShared, StackState};
use braid_stack::socket::{UdpConfig, UdpHandle, UdpSendError};
use core::net::SocketAddr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A UDP socket on the tunnel. Dropping it closes it.
pub struct UdpSocket {
    shared: Arc<StackShared>,
    handle: UdpHandle,
    local: SocketAddr,
    nonblocking: AtomicBool,
}

impl core::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpSocket").field("local", &self.local).finish()
    }
}

impl UdpSocket {
    pub(crate) fn bind(shared: &Arc<StackShared>, local: SocketAddr) -> io::Result<UdpSocket> {
        let mut state = shared.lock();
        if state.closed {
            return Err(closed());
        }
        let handle = state.sockets.udp_bind(local, UdpConfig::default()).map_err(bind_error)?;
        let local = state.sockets.udp(handle).map_or(local, |s| s.local_addr());
        Ok(UdpSocket { shared: shared.clone(), handle, local, nonblocking: AtomicBool::new(false) })
    }

    /// The address bound (with the ephemeral port chosen, if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// In non-blocking mode `send_to` and `recv_from` return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    fn try_send(&self, state: &mut StackState, data: &[u8], to: SocketAddr) -> Option<io::Result<usize>> {
        let Some(socket) = state.sockets.udp(self.handle) else { return Some(Err(closed())) };
        match socket.send_to(data, to) {
            Ok(()) => Some(Ok(data.len())),
            Err(UdpSendError::BufferFull) => not_yet(state),
            Err(e @ UdpSendError::TooLong(_)) => Some(Err(io::Error::new(io::ErrorKind::InvalidInput, e))),
            Err(e @ UdpSendError::Unaddressable(_)) => Some(Err(io::Error::new(io::ErrorKind::AddrNotAvailable, e))),
        }
    }

    fn try_recv(&self, state: &mut StackState, buf: &mut [u8]) -> Option<io::Result<(usize, SocketAddr)>> {
        let Some(socket) = state.sockets.udp(self.handle) else { return Some(Err(closed())) };
        match socket.recv_from(buf) {
            Some(r) => Some(Ok((r.len, r.meta.remote))),
            None => not_yet(state),
        }
    }

    /// Sends one datagram to `to` (waiting for room in the socket's queue when blocking).
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.wait_for(None, |state| self.try_send(state, data, to))
    }

    /// Receives one datagram: its length (a longer one is truncated to `buf`) and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.wait_for(None, |state| self.try_recv(state, buf))
    }

    /// Like [`UdpSocket::recv_from`], failing with `WouldBlock` after `timeout`.
    pub fn recv_from_timeout(&self, buf: &mut [u8], timeout: Duration) -> io::Result<(usize, SocketAddr)> {
        self.wait_for(Some(timeout), |state| self.try_recv(state, buf))
    }

    /// Receives a datagram if one is waiting, or registers `cx` to be woken.
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.shared.polled(cx, |state| self.try_recv(state, buf))
    }

    fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        attempt: impl FnMut(&mut StackState) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        self.shared.blocking(self.nonblocking.load(Ordering::Relaxed), timeout, attempt)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.shared.lock().sockets.udp_close(self.handle);
    }
}
