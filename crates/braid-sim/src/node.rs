//! Simulated hosts: a node's identity, its addresses, and what its "TUN" received.
//!
//! Addresses come from the benchmarking range (RFC 2544, 198.18.0.0/15) so a simulated
//! address can never be mistaken for a real one: node `i` starts with underlay
//! `198.18.a.b:51820` and tunnel addresses `198.19.a.b` and `fd00:19::a:b`, where
//! `a.b` is `i + 1` written as two bytes.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use braid_proto::Instant;

use crate::app_payload::PayloadCheck;
use crate::ip_packet::PacketError;

/// The UDP port every simulated device listens on (WireGuard's customary port).
pub const UNDERLAY_PORT: u16 = 51820;

/// Index of a node in its simulation, in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// The `a.b` suffix shared by a node's addresses; panics past 65 534 nodes, which no
/// simulation on this machine approaches.
fn suffix(id: NodeId) -> [u8; 2] {
    let n = u16::try_from(id.0 + 1).ok().filter(|n| *n != u16::MAX);
    n.expect("at most 65534 simulated nodes").to_be_bytes()
}

/// The underlay (UDP) address node `id` starts with.
pub fn default_underlay_addr(id: NodeId) -> SocketAddr {
    let [a, b] = suffix(id);
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 18, a, b), UNDERLAY_PORT))
}

/// The IPv4 tunnel address of node `id` (what its peers route to it).
pub fn tunnel_v4(id: NodeId) -> Ipv4Addr {
    let [a, b] = suffix(id);
    Ipv4Addr::new(198, 19, a, b)
}

/// The IPv6 tunnel address of node `id`.
pub fn tunnel_v6(id: NodeId) -> Ipv6Addr {
    let [a, b] = suffix(id);
    Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, u16::from(a), u16::from(b))
}

/// Which IP version a simulated application packet uses inside the tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// IPv4 between the nodes' `198.19.x.y` addresses.
    V4,
    /// IPv6 between the nodes' `fd00:19::x:y` addresses.
    V6,
}

impl IpFamily {
    /// Node `id`'s tunnel address in this family.
    pub fn tunnel_addr(self, id: NodeId) -> IpAddr {
        match self {
            IpFamily::V4 => IpAddr::V4(tunnel_v4(id)),
            IpFamily::V6 => IpAddr::V6(tunnel_v6(id)),
        }
    }
}

/// One IP packet the device handed to a node's TUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunDelivery {
    /// Simulated time of delivery.
    pub time: Instant,
    /// Length of the delivered IP packet.
    pub len: usize,
    /// Inner source and destination, when the packet checks out as UDP-in-IP.
    pub addrs: Result<(IpAddr, IpAddr), PacketError>,
    /// What the payload proved about itself (tagged traffic carries its own checksum).
    pub payload: PayloadCheck,
    /// The packet bytes, kept unless the simulation was configured not to.
    pub packet: Option<Vec<u8>>,
}

impl TunDelivery {
    /// True when the IP and UDP headers check out and a tagged payload is intact.
    pub fn is_intact(&self) -> bool {
        self.addrs.is_ok() && self.payload != PayloadCheck::Corrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_documented_plan() {
        assert_eq!(default_underlay_addr(NodeId(0)).to_string(), "198.18.0.1:51820");
        assert_eq!(tunnel_v4(NodeId(1)).to_string(), "198.19.0.2");
        assert_eq!(tunnel_v4(NodeId(299)).to_string(), "198.19.1.44");
        assert_eq!(tunnel_v6(NodeId(0)).to_string(), "fd00:19::1");
        assert_eq!(IpFamily::V6.tunnel_addr(NodeId(255)).to_string(), "fd00:19::1:0");
    }
}
