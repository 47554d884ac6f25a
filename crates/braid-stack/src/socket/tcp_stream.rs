//! A TCP connection as the user sees it: the [`Connection`] plus its addresses and how the stack
//! should treat it when the user lets go.

use core::hash::{Hash, Hasher};
use core::net::{IpAddr, SocketAddr};

use crate::tcp::{Connection, ConnectionError, RecvError, SendError, Shutdown, SoftError, State};

use super::slab::SlotKey;

/// The four-tuple that names a TCP connection on this stack (ports and addresses both ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl Hash for FourTuple {
    /// Hashes a packed encoding in one `write` (the endpoint looks a tuple up for every segment).
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut bytes = [0u8; 38];
        encode(&mut bytes[..19], self.local);
        encode(&mut bytes[19..], self.remote);
        state.write(&bytes);
    }
}

/// Family, address (IPv4 zero-padded) and port of `addr` into 19 bytes.
fn encode(out: &mut [u8], addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[0] = 4;
            out[1..5].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out[0] = 6;
            out[1..17].copy_from_slice(&ip.octets());
        }
    }
    out[17..19].copy_from_slice(&addr.port().to_be_bytes());
}

/// A TCP connection socket, opened by `connect` or returned by `accept`.
///
/// Every call is non-blocking: [`TcpStream::send`] takes what fits in the send buffer and
/// [`TcpStream::recv`] returns what has arrived; the interface moves the bytes on its next `poll`.
#[derive(Debug)]
pub struct TcpStream {
    pub(crate) conn: Connection,
    pub(crate) tuple: FourTuple,
    /// The listener whose backlog this connection counts against, until the user accepts it.
    pub(crate) listener: Option<SlotKey>,
    /// It reached ESTABLISHED and sits in the listener's accept queue.
    pub(crate) queued_for_accept: bool,
    /// The user gave the handle up: the slot is freed as soon as the connection is CLOSED.
    pub(crate) orphaned: bool,
}

impl TcpStream {
    pub(crate) fn new(conn: Connection, tuple: FourTuple, listener: Option<SlotKey>) -> Self {
        TcpStream { conn, tuple, listener, queued_for_accept: false, orphaned: false }
    }

    /// Our address and port.
    pub fn local_addr(&self) -> SocketAddr {
        self.tuple.local
    }

    /// The peer's address and port.
    pub fn remote_addr(&self) -> SocketAddr {
        self.tuple.remote
    }

    /// The RFC 9293 state of the connection.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// True once the handshake completed and until the connection is fully closed.
    pub fn is_established(&self) -> bool {
        self.conn.state().is_synchronized()
    }

    /// Why the connection failed (reset, refused, timed out, unreachable), if it did.
    pub fn error(&self) -> Option<ConnectionError> {
        self.conn.error()
    }

    /// The last ICMP error about this connection's packets (host unreachable, time exceeded...)
    /// while the connection keeps trying, until the peer acknowledges new data; see
    /// [`Connection::soft_error`].
    pub fn soft_error(&self) -> Option<SoftError> {
        self.conn.soft_error()
    }

    /// Queues as much of `data` as fits in the send buffer and returns how many bytes were taken
    /// (0 when it is full). Data written before the handshake completes waits for it.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        self.conn.send(data)
    }

    /// Copies received bytes into `buf`. `Ok(0)`: nothing yet; `Err(RecvError::Finished)`: the
    /// peer closed and every byte was read.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.conn.recv(buf)
    }

    /// The readable bytes in up to two slices, without consuming them (see [`TcpStream::consume`]).
    pub fn peek(&self) -> (&[u8], &[u8]) {
        self.conn.peek()
    }

    /// Drops up to `n` readable bytes after a [`TcpStream::peek`]; returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        self.conn.consume(n)
    }

    /// Free room in the send buffer (0 once the send direction is closed).
    pub fn send_capacity(&self) -> usize {
        self.conn.send_capacity()
    }

    /// Bytes queued and not yet acknowledged by the peer.
    pub fn send_queue(&self) -> usize {
        self.conn.send_queue()
    }

    /// Bytes waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.conn.recv_queue()
    }

    /// True when [`TcpStream::recv`] would return data or end of stream.
    pub fn can_recv(&self) -> bool {
        self.conn.can_recv()
    }

    /// Sends a FIN after the queued data (half-close: reading continues until the peer's FIN).
    ///
    /// Before the handshake completes (SYN-SENT) this abandons the attempt and its queued data,
    /// as RFC 9293's CLOSE and Linux do: wait for [`TcpStream::is_established`] to send and close.
    pub fn close(&mut self) {
        self.conn.close();
    }

    /// Closes one or both directions.
    pub fn shutdown(&mut self, how: Shutdown) {
        self.conn.shutdown(how);
    }

    /// Switches Nagle's algorithm for this connection (on by default in [`crate::tcp::TcpConfig`]).
    pub fn set_nagle(&mut self, enabled: bool) {
        self.conn.set_nagle(enabled);
    }

    /// The connection itself, for statistics (RTT, congestion window, counters) and diagnostics.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}
