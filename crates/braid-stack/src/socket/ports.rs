//! Ephemeral port selection (RFC 6056 §3.3.3, "double-hash" Algorithm 3).
//!
//! The search for a free port starts at `offset + counter`, where `offset` is a keyed hash of the
//! local address and the remote endpoint and `counter` advances with every port handed out. Ports
//! towards one peer are therefore sequential (no early reuse of a tuple in TIME-WAIT at the peer),
//! while an off-path attacker who does not know the key cannot guess the port of a connection to
//! another peer.

use core::net::{IpAddr, SocketAddr};
use core::ops::RangeInclusive;

use super::keyed_hash::KeyedState;

/// The IANA dynamic port range (RFC 6335), the default for connections and unbound UDP sockets.
pub const DEFAULT_EPHEMERAL_PORTS: RangeInclusive<u16> = 49152..=65535;

/// Hands out local ports for active opens and port-0 binds.
#[derive(Clone, Debug)]
pub(crate) struct EphemeralPorts {
    key: KeyedState,
    first: u16,
    count: u32,
    counter: u32,
}

impl EphemeralPorts {
    pub(crate) fn new(key: [u8; 16], range: RangeInclusive<u16>) -> Self {
        let (first, last) = (*range.start(), *range.end());
        let (first, last) = if first == 0 || first > last { (49152, 65535) } else { (first, last) };
        EphemeralPorts { key: KeyedState::new(key), first, count: u32::from(last - first) + 1, counter: 0 }
    }

    /// The first port in the range, after the keyed starting point for `local` → `remote`, for which
    /// `is_free` holds; `None` when every port is taken.
    pub(crate) fn pick(
        &mut self,
        local: IpAddr,
        remote: SocketAddr,
        mut is_free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let mut message = [0u8; 36];
        encode_ip(&mut message[..17], local);
        encode_ip(&mut message[17..34], remote.ip());
        message[34..].copy_from_slice(&remote.port().to_be_bytes());
        let offset = self.key.hash_bytes(&message) as u32;
        for i in 0..self.count {
            let step = offset.wrapping_add(self.counter).wrapping_add(i) % self.count;
            let port = self.first + step as u16;
            if is_free(port) {
                self.counter = self.counter.wrapping_add(i + 1);
                return Some(port);
            }
        }
        None
    }
}

fn encode_ip(out: &mut [u8], ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            out[0] = 4;
            out[1..5].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out[0] = 6;
            out[1..17].copy_from_slice(&a.octets());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ports_to_one_peer_are_sequential_and_skip_taken_ones() {
        let mut ports = EphemeralPorts::new([1; 16], 40000..=40009);
        let local: IpAddr = "10.0.0.1".parse().unwrap();
        let remote = addr("10.0.0.2:80");
        let a = ports.pick(local, remote, |_| true).unwrap();
        let b = ports.pick(local, remote, |_| true).unwrap();
        assert!((40000..=40009).contains(&a));
        assert_eq!(b, if a == 40009 { 40000 } else { a + 1 });
        let c = ports.pick(local, remote, |p| p != b + 1 && p != 40000).unwrap();
        assert_ne!(c, b + 1);
        assert_eq!(ports.pick(local, remote, |_| false), None, "exhausted");
    }

    #[test]
    fn the_starting_point_depends_on_the_peer_and_the_key() {
        let local: IpAddr = "10.0.0.1".parse().unwrap();
        let starts = |key: u8| {
            let mut ports = EphemeralPorts::new([key; 16], DEFAULT_EPHEMERAL_PORTS);
            (1..=8).map(|i| ports.pick(local, addr(&format!("10.0.0.{i}:443")), |_| true).unwrap()).collect::<Vec<_>>()
        };
        let a = starts(1);
        let mut distinct = a.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() >= 7, "peers get spread starting points: {a:?}");
        assert_ne!(a, starts(2), "another key gives other ports");
    }
}
