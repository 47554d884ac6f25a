//! Initial sequence numbers per RFC 6528, and the per-connection timestamp offset.
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)` where M is a 4-microsecond
//! clock and F is SipHash-2-4 under a secret key the driver supplies (from its own RNG). Off-path
//! attackers cannot predict another connection's ISN, and a reincarnated four-tuple still gets
//! numbers that move forward with time. The same keyed hash, under a different domain byte, gives
//! the random offset of the RFC 7323 timestamp clock so TSval does not leak the host's uptime.

use core::net::{IpAddr, SocketAddr};

use super::seq::Seq;
use super::siphash::siphash24;
use crate::time::Instant;

/// The numbers a new connection starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialNumbers {
    /// Our initial send sequence number (ISS).
    pub iss: Seq,
    /// Added to the millisecond clock to form TSval.
    pub ts_offset: u32,
}

/// Generates [`InitialNumbers`] from a secret key; the endpoint keeps one per stack.
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u8; 16],
}

impl core::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnGenerator { key: <secret> }")
    }
}

impl IsnGenerator {
    /// A generator keyed by `key`, which must come from a cryptographically secure RNG.
    pub fn new(key: [u8; 16]) -> Self {
        IsnGenerator { key }
    }

    fn hash(&self, domain: u8, local: SocketAddr, remote: SocketAddr) -> u64 {
        // 1 + 2 × (16 address bytes + 2 port bytes + 1 family byte).
        let mut msg = [0u8; 39];
        msg[0] = domain;
        encode(&mut msg[1..20], local);
        encode(&mut msg[20..39], remote);
        siphash24(&self.key, &msg)
    }

    /// RFC 6528: the ISN for the connection `local` ↔ `remote` opened at `now`, plus its timestamp
    /// offset.
    pub fn generate(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> InitialNumbers {
        let m = (now.as_nanos() / 4_000) as u32;
        let f = self.hash(0, local, remote) as u32;
        let ts_offset = self.hash(1, local, remote) as u32;
        InitialNumbers { iss: Seq(m.wrapping_add(f)), ts_offset }
    }
}

fn encode(out: &mut [u8], addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(a) => {
            out[0] = 4;
            out[1..5].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out[0] = 6;
            out[1..17].copy_from_slice(&a.octets());
        }
    }
    out[17..19].copy_from_slice(&addr.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn isn_advances_with_the_four_microsecond_clock() {
        let g = IsnGenerator::new([7; 16]);
        let (l, r) = (addr("10.0.0.1:80"), addr("10.0.0.2:40000"));
        let a = g.generate(Instant::from_secs(1), l, r);
        let b = g.generate(Instant::from_secs(1) + core::time::Duration::from_micros(400), l, r);
        assert_eq!(b.iss.since(a.iss), 100);
        assert_eq!(a.ts_offset, b.ts_offset, "the timestamp offset is fixed per four-tuple");
    }

    #[test]
    fn isn_depends_on_every_tuple_element_and_the_key() {
        let g = IsnGenerator::new([7; 16]);
        let now = Instant::from_secs(3);
        let base = g.generate(now, addr("10.0.0.1:80"), addr("10.0.0.2:40000")).iss;
        let variants = [
            g.generate(now, addr("10.0.0.3:80"), addr("10.0.0.2:40000")).iss,
            g.generate(now, addr("10.0.0.1:81"), addr("10.0.0.2:40000")).iss,
            g.generate(now, addr("10.0.0.1:80"), addr("10.0.0.9:40000")).iss,
            g.generate(now, addr("10.0.0.1:80"), addr("10.0.0.2:40001")).iss,
            g.generate(now, addr("10.0.0.2:40000"), addr("10.0.0.1:80")).iss,
            g.generate(now, addr("[::ffff:10.0.0.1]:80"), addr("10.0.0.2:40000")).iss,
            IsnGenerator::new([8; 16]).generate(now, addr("10.0.0.1:80"), addr("10.0.0.2:40000")).iss,
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }
}
