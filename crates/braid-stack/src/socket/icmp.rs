//! ICMP echo sockets: send pings and receive the replies that carry the socket's identifier.
//!
//! The interface answers echo requests by itself; an [`IcmpSocket`] is the other side, what `ping`
//! does. It works for both families: an IPv4 destination gets ICMPv4 type 8, an IPv6 one ICMPv6
//! type 128, and replies of either kind with the socket's identifier come back to it.

use core::net::IpAddr;

use super::packet_ring::{PacketBufferConfig, PacketRing, RingError};

/// Buffer sizes of an [`IcmpSocket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpConfig {
    /// Replies received and not yet read.
    pub rx: PacketBufferConfig,
    /// Requests written and not yet transmitted.
    pub tx: PacketBufferConfig,
}

impl Default for IcmpConfig {
    /// 16 messages of up to 16 KiB in all, each way.
    fn default() -> Self {
        let ring = PacketBufferConfig { packets: 16, bytes: 16 * 1024 };
        IcmpConfig { rx: ring, tx: ring }
    }
}

/// An echo reply handed to the user by [`IcmpSocket::recv_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply {
    /// Who answered.
    pub from: IpAddr,
    /// The sequence number of the request it answers.
    pub seq_no: u16,
    /// Data bytes copied into the caller's buffer.
    pub len: usize,
    /// True when the data was longer than the buffer.
    pub truncated: bool,
}

/// Why [`IcmpSocket::send_echo`] refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcmpSendError {
    /// The transmit queue is full; poll the interface and try again.
    #[error("ICMP transmit buffer full")]
    BufferFull,
    /// The data can never be sent (longer than the transmit buffer or a datagram).
    #[error("ICMP echo data of {0} bytes too long")]
    TooLong(usize),
    /// The destination is unspecified or multicast.
    #[error("ICMP destination {0} cannot be pinged")]
    Unaddressable(IpAddr),
}

/// Metadata of a queued request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EchoMeta {
    pub(crate) addr: IpAddr,
    pub(crate) seq_no: u16,
}

/// Largest echo data that fits an IPv4 datagram (65535 − 20 − 8).
const MAX_ECHO_DATA: usize = 65507;

/// An ICMP echo socket bound to an identifier.
///
/// Created by [`SocketSet::icmp_bind`](super::SocketSet::icmp_bind). Never blocks: requests are
/// queued for the interface's next `poll`, replies are queued until read.
#[derive(Debug)]
pub struct IcmpSocket {
    ident: u16,
    rx: PacketRing<EchoMeta>,
    tx: PacketRing<EchoMeta>,
    rx_dropped: u64,
}

impl IcmpSocket {
    pub(crate) fn new(ident: u16, config: IcmpConfig) -> Self {
        IcmpSocket { ident, rx: PacketRing::new(config.rx), tx: PacketRing::new(config.tx), rx_dropped: 0 }
    }

    /// The echo identifier this socket sends with and receives for.
    pub fn ident(&self) -> u16 {
        self.ident
    }

    /// Queues an echo request to `to` with sequence number `seq_no` and `data` to be echoed.
    pub fn send_echo(&mut self, to: IpAddr, seq_no: u16, data: &[u8]) -> Result<(), IcmpSendError> {
        if to.is_unspecified() || to.is_multicast() {
            return Err(IcmpSendError::Unaddressable(to));
        }
        if data.len() > MAX_ECHO_DATA {
            return Err(IcmpSendError::TooLong(data.len()));
        }
        self.tx.push(EchoMeta { addr: to, seq_no }, data).map_err(|e| match e {
            RingError::Full => IcmpSendError::BufferFull,
            RingError::TooLong { len, .. } => IcmpSendError::TooLong(len),
        })
    }

    /// Moves the oldest reply's data into `buf`, or returns `None` when none is queued.
    pub fn recv_reply(&mut self, buf: &mut [u8]) -> Option<EchoReply> {
        let (meta, data) = self.rx.front()?;
        let len = data.len().min(buf.len());
        buf[..len].copy_from_slice(&data[..len]);
        let reply = EchoReply { from: meta.addr, seq_no: meta.seq_no, len, truncated: len < data.len() };
        self.rx.pop_front();
        Some(reply)
    }

    /// Replies waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.rx.len()
    }

    /// Requests waiting to be transmitted.
    pub fn send_queue(&self) -> usize {
        self.tx.len()
    }

    /// Replies that arrived while the receive queue was full (dropped).
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    /// Queues an arriving reply; false (and counted) when there is no room.
    pub(crate) fn deliver(&mut self, from: IpAddr, seq_no: u16, data: &[u8]) -> bool {
        if self.rx.push(EchoMeta { addr: from, seq_no }, data).is_ok() {
            true
        } else {
            self.rx_dropped += 1;
            false
        }
    }

    /// The next request to transmit.
    pub(crate) fn peek_tx(&self) -> Option<(EchoMeta, &[u8])> {
        self.tx.front()
    }

    /// Forgets the request [`IcmpSocket::peek_tx`] returned.
    pub(crate) fn pop_tx(&mut self) {
        self.tx.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_queue_and_replies_are_read_in_order() {
        let mut socket = IcmpSocket::new(7, IcmpConfig::default());
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        socket.send_echo(peer, 1, b"ping").unwrap();
        assert_eq!(socket.peek_tx(), Some((EchoMeta { addr: peer, seq_no: 1 }, &b"ping"[..])));
        socket.pop_tx();
        assert_eq!(socket.send_queue(), 0);
        assert_eq!(
            socket.send_echo("0.0.0.0".parse().unwrap(), 1, b""),
            Err(IcmpSendError::Unaddressable("0.0.0.0".parse().unwrap()))
        );
        assert!(socket.deliver(peer, 1, b"pong"));
        assert!(socket.deliver(peer, 2, b""));
        let mut buf = [0u8; 8];
        assert_eq!(socket.recv_reply(&mut buf), Some(EchoReply { from: peer, seq_no: 1, len: 4, truncated: false }));
        assert_eq!(&buf[..4], b"pong");
        assert_eq!(socket.recv_reply(&mut buf).map(|r| r.seq_no), Some(2));
        assert_eq!(socket.recv_reply(&mut buf), None);
    }
}
