//! UDP sockets: datagrams queued in fixed rings each way, addressed by socket address.

use core::net::{IpAddr, SocketAddr};

use super::packet_ring::{PacketBufferConfig, PacketRing, RingError};

/// Largest UDP payload an IPv4 datagram can carry (65535 − 20 − 8); IPv6 without jumbograms
/// allows 65527, and the device MTU usually limits both long before.
pub const MAX_PAYLOAD: usize = 65507;

/// Buffer sizes of a [`UdpSocket`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpConfig {
    /// Datagrams received and not yet read.
    pub rx: PacketBufferConfig,
    /// Datagrams written and not yet transmitted.
    pub tx: PacketBufferConfig,
}

/// Where a received datagram came from and was addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpMetadata {
    /// The sender.
    pub remote: SocketAddr,
    /// The local address it was sent to (one of the interface's addresses).
    pub local: IpAddr,
}

/// One datagram handed to the user by [`UdpSocket::recv_from`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpReceived {
    /// Bytes copied into the caller's buffer.
    pub len: usize,
    /// True when the datagram was longer than the buffer and its tail was discarded.
    pub truncated: bool,
    /// Addresses of the datagram.
    pub meta: UdpMetadata,
}

/// Why [`UdpSocket::send_to`] refused a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UdpSendError {
    /// The transmit queue is full; poll the interface and try again.
    #[error("UDP transmit buffer full")]
    BufferFull,
    /// The payload can never be sent (longer than a datagram or than the transmit buffer).
    #[error("UDP payload of {0} bytes too long")]
    TooLong(usize),
    /// The destination is unspecified or multicast, has port 0, or is of the other family than the
    /// address the socket is bound to.
    #[error("UDP destination {0} cannot be sent to from this socket")]
    Unaddressable(SocketAddr),
}

/// Metadata of a datagram waiting to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UdpTxMeta {
    pub(crate) remote: SocketAddr,
}

/// A UDP socket bound to a local address and port.
///
/// Created bound by [`SocketSet::udp_bind`](super::SocketSet::udp_bind). Reads and writes never
/// block: [`UdpSocket::recv_from`] returns `None` when nothing is queued, and
/// [`UdpSocket::send_to`] queues a copy that the interface transmits on its next `poll`.
#[derive(Debug)]
pub struct UdpSocket {
    local: SocketAddr,
    rx: PacketRing<UdpMetadata>,
    tx: PacketRing<UdpTxMeta>,
    rx_dropped: u64,
}

impl UdpSocket {
    pub(crate) fn new(local: SocketAddr, config: UdpConfig) -> Self {
        UdpSocket { local, rx: PacketRing::new(config.rx), tx: PacketRing::new(config.tx), rx_dropped: 0 }
    }

    /// The bound address; an unspecified IP accepts datagrams to any of the interface's addresses.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Queues `data` for `remote`. The source address is the bound one, or (bound to an unspecified
    /// address) the interface's first address of `remote`'s family.
    pub fn send_to(&mut self, data: &[u8], remote: SocketAddr) -> Result<(), UdpSendError> {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_multicast() {
            return Err(UdpSendError::Unaddressable(remote));
        }
        if !self.local.ip().is_unspecified() && self.local.is_ipv4() != remote.is_ipv4() {
            return Err(UdpSendError::Unaddressable(remote));
        }
        if data.len() > MAX_PAYLOAD {
            return Err(UdpSendError::TooLong(data.len()));
        }
        self.tx.push(UdpTxMeta { remote }, data).map_err(|e| match e {
            RingError::Full => UdpSendError::BufferFull,
            RingError::TooLong { len, .. } => UdpSendError::TooLong(len),
        })
    }

    /// Moves the oldest received datagram into `buf`, or returns `None` when none is queued.
    pub fn recv_from(&mut self, buf: &mut [u8]) -> Option<UdpReceived> {
        let (meta, payload) = self.rx.front()?;
        let len = payload.len().min(buf.len());
        buf[..len].copy_from_slice(&payload[..len]);
        let truncated = len < payload.len();
        self.rx.pop_front();
        Some(UdpReceived { len, truncated, meta })
    }

    /// Datagrams waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.rx.len()
    }

    /// Datagrams waiting to be transmitted.
    pub fn send_queue(&self) -> usize {
        self.tx.len()
    }

    /// Datagrams that arrived while the receive queue was full (dropped).
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    /// True when a datagram to `local` belongs to this socket.
    pub(crate) fn accepts(&self, local: SocketAddr) -> bool {
        self.local.port() == local.port() && (self.local.ip().is_unspecified() || self.local.ip() == local.ip())
    }

    /// Queues an arriving datagram; false (and counted) when there is no room.
    pub(crate) fn deliver(&mut self, meta: UdpMetadata, payload: &[u8]) -> bool {
        if self.rx.push(meta, payload).is_ok() {
            true
        } else {
            self.rx_dropped += 1;
            false
        }
    }

    /// The next datagram to transmit.
    pub(crate) fn peek_tx(&self) -> Option<(UdpTxMeta, &[u8])> {
        self.tx.front()
    }

    /// Forgets the datagram [`UdpSocket::peek_tx`] returned (sent, or unsendable).
    pub(crate) fn pop_tx(&mut self) {
        self.tx.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn queues_and_truncates_into_the_callers_buffer() {
        let mut socket = UdpSocket::new(addr("0.0.0.0:53"), UdpConfig::default());
        let meta = UdpMetadata { remote: addr("10.0.0.2:999"), local: "10.0.0.1".parse().unwrap() };
        assert!(socket.deliver(meta, b"hello world"));
        let mut small = [0u8; 5];
        let got = socket.recv_from(&mut small).unwrap();
        assert_eq!((got.len, got.truncated, got.meta), (5, true, meta));
        assert_eq!(&small, b"hello");
        assert_eq!(socket.recv_from(&mut small), None, "the truncated tail is gone with its datagram");
    }

    #[test]
    fn refuses_destinations_it_cannot_reach() {
        let mut v4 = UdpSocket::new(addr("10.0.0.1:5"), UdpConfig::default());
        assert_eq!(v4.send_to(b"x", addr("[fd00::1]:5")), Err(UdpSendError::Unaddressable(addr("[fd00::1]:5"))));
        assert_eq!(v4.send_to(b"x", addr("10.0.0.2:0")), Err(UdpSendError::Unaddressable(addr("10.0.0.2:0"))));
        assert_eq!(v4.send_to(&[0; 70_000], addr("10.0.0.2:1")), Err(UdpSendError::TooLong(70_000)));
        assert_eq!(v4.send_to(b"x", addr("10.0.0.2:1")), Ok(()));
        let any = UdpSocket::new(addr("[::]:5"), UdpConfig::default());
        assert!(
            any.accepts(addr("10.0.0.1:5")) && any.accepts(addr("[fd00::1]:5")) && !any.accepts(addr("10.0.0.1:6"))
        );
        assert!(v4.accepts(addr("10.0.0.1:5")) && !v4.accepts(addr("10.0.0.3:5")));
    }

    #[test]
    fn a_full_receive_queue_drops_and_counts() {
        let config = UdpConfig { rx: PacketBufferConfig { packets: 1, bytes: 100 }, ..UdpConfig::default() };
        let mut socket = UdpSocket::new(addr("0.0.0.0:53"), config);
        let meta = UdpMetadata { remote: addr("10.0.0.2:999"), local: "10.0.0.1".parse().unwrap() };
        assert!(socket.deliver(meta, b"a"));
        assert!(!socket.deliver(meta, b"b"));
        assert_eq!(socket.rx_dropped(), 1);
    }
}
