//! The bytes a cookie is computed over: the source IP address and UDP port.

use core::net::SocketAddr;

/// The source address as the cookie MAC input: 4 (IPv4) or 16 (IPv6) address bytes followed
/// by the port in network byte order, on the stack. An IPv4-mapped IPv6 address (what a
/// dual-stack socket reports) is encoded as the IPv4 address it stands for, so one sender gets
/// one cookie whichever socket its packets arrive on.
pub(super) struct SourceBytes {
    buf: [u8; 18],
    len: usize,
}

impl SourceBytes {
    /// Encodes `src`.
    pub(super) fn new(src: SocketAddr) -> Self {
        let mut buf = [0u8; 18];
        let addr_len = match src.ip().to_canonical() {
            core::net::IpAddr::V4(v4) => {
                buf[..4].copy_from_slice(&v4.octets());
                4
            }
            core::net::IpAddr::V6(v6) => {
                buf[..16].copy_from_slice(&v6.octets());
                16
            }
        };
        buf[addr_len..addr_len + 2].copy_from_slice(&src.port().to_be_bytes());
        SourceBytes { buf, len: addr_len + 2 }
    }

    /// The encoded bytes.
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_address_then_big_endian_port() {
        let v4 = SourceBytes::new("192.0.2.1:258".parse().unwrap());
        assert_eq!(v4.as_bytes(), &[192, 0, 2, 1, 1, 2]);
        let v6 = SourceBytes::new("[2001:db8::1]:258".parse().unwrap());
        assert_eq!(v6.as_bytes().len(), 18);
        assert_eq!(&v6.as_bytes()[..2], &[0x20, 0x01]);
        assert_eq!(&v6.as_bytes()[16..], &[1, 2]);
        let mapped = SourceBytes::new("[::ffff:192.0.2.1]:258".parse().unwrap());
        assert_eq!(mapped.as_bytes(), v4.as_bytes());
    }
}
