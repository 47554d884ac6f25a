//! Valid IPv4/IPv6 UDP packets for the simulated "TUN", and a strict checker for what comes out.
//!
//! The device routes on the inner destination, checks the inner source against allowed IPs
//! and trims padding by the IP length field, so test traffic must be real IP: right version,
//! lengths, IPv4 header checksum and UDP checksum. The checker verifies all of them, which is
//! how scenarios prove a delivered packet is intact rather than merely present.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::ops::Range;

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// The UDP port simulated applications use on both ends.
pub const APP_PORT: u16 = 7777;

const PROTO_UDP: u8 = 17;
const DEFAULT_TTL: u8 = 64;

/// Why a packet could not be built or did not check out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Source and destination are of different IP versions.
    MixedFamilies,
    /// The payload does not fit the 16-bit length fields.
    TooLarge,
    /// Shorter than its headers or its length fields claim.
    Truncated,
    /// Not version 4 or 6, an IPv4 header with options, or not UDP.
    Unsupported,
    /// The length fields disagree with the buffer length.
    BadLength,
    /// The IPv4 header checksum is wrong.
    BadHeaderChecksum,
    /// The UDP checksum is wrong (or zero on IPv6, where it is mandatory).
    BadUdpChecksum,
}

/// The fields of a checked UDP-in-IP packet; `payload` indexes into the checked buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpPacket {
    /// Inner source address.
    pub src: IpAddr,
    /// Inner destination address.
    pub dst: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// Where the UDP payload lies in the checked buffer.
    pub payload: Range<usize>,
}

/// Builds a complete IPv4 or IPv6 UDP packet from `src` to `dst` carrying `payload`
/// (both ports [`APP_PORT`]), with correct lengths and checksums, into `out` (cleared first).
pub fn build_udp_packet(src: IpAddr, dst: IpAddr, payload: &[u8], out: &mut Vec<u8>) -> Result<(), PacketError> {
    out.clear();
    let udp_len = u16::try_from(UDP_HEADER_LEN + payload.len()).map_err(|_| PacketError::TooLarge)?;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(IPV4_HEADER_LEN + usize::from(udp_len)).map_err(|_| PacketError::TooLarge)?;
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0x40, 0, DEFAULT_TTL, PROTO_UDP, 0, 0]); // id 0, DF, checksum later
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let header_sum = fold(sum_words(0, &out[..IPV4_HEADER_LEN]));
            out[10..12].copy_from_slice(&(!header_sum).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&udp_len.to_be_bytes());
            out.extend_from_slice(&[PROTO_UDP, DEFAULT_TTL]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => return Err(PacketError::MixedFamilies),
    }
    let udp_start = out.len();
    out.extend_from_slice(&APP_PORT.to_be_bytes());
    out.extend_from_slice(&APP_PORT.to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let checksum = udp_checksum(src, dst, &out[udp_start..]);
    out[udp_start + 6..udp_start + 8].copy_from_slice(&checksum.to_be_bytes());
    Ok(())
}

/// Checks every header field a receiver relies on and returns the packet's addresses, ports
/// and payload range. Never panics, whatever the bytes.
pub fn parse_udp_packet(packet: &[u8]) -> Result<UdpPacket, PacketError> {
    let first = *packet.first().ok_or(PacketError::Truncated)?;
    let (src, dst, udp_start) = match first >> 4 {
        4 => {
            let header = packet.get(..IPV4_HEADER_LEN).ok_or(PacketError::Truncated)?;
            if first & 0x0f != 5 || header[9] != PROTO_UDP {
                return Err(PacketError::Unsupported);
            }
            if usize::from(u16::from_be_bytes([header[2], header[3]])) != packet.len() {
                return Err(PacketError::BadLength);
            }
            if fold(sum_words(0, header)) != 0xffff {
                return Err(PacketError::BadHeaderChecksum);
            }
            let src = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
            let dst = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
            (IpAddr::V4(src), IpAddr::V4(dst), IPV4_HEADER_LEN)
        }
        6 => {
            let header = packet.get(..IPV6_HEADER_LEN).ok_or(PacketError::Truncated)?;
            if header[6] != PROTO_UDP {
                return Err(PacketError::Unsupported);
            }
            if IPV6_HEADER_LEN + usize::from(u16::from_be_bytes([header[4], header[5]])) != packet.len() {
                return Err(PacketError::BadLength);
            }
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&header[8..24]).map_err(|_| PacketError::Truncated)?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&header[24..40]).map_err(|_| PacketError::Truncated)?);
            (IpAddr::V6(src), IpAddr::V6(dst), IPV6_HEADER_LEN)
        }
        _ => return Err(PacketError::Unsupported),
    };
    let udp = packet.get(udp_start..).ok_or(PacketError::Truncated)?;
    let udp_header = udp.get(..UDP_HEADER_LEN).ok_or(PacketError::Truncated)?;
    if usize::from(u16::from_be_bytes([udp_header[4], udp_header[5]])) != udp.len() {
        return Err(PacketError::BadLength);
    }
    let stored = u16::from_be_bytes([udp_header[6], udp_header[7]]);
    let ipv4_without_checksum = stored == 0 && src.is_ipv4();
    if !ipv4_without_checksum && fold(pseudo_header_sum(src, dst, udp.len()).wrapping_add(sum_words(0, udp))) != 0xffff
    {
        return Err(PacketError::BadUdpChecksum);
    }
    Ok(UdpPacket {
        src,
        dst,
        src_port: u16::from_be_bytes([udp_header[0], udp_header[1]]),
        dst_port: u16::from_be_bytes([udp_header[2], udp_header[3]]),
        payload: udp_start + UDP_HEADER_LEN..packet.len(),
    })
}

/// The UDP checksum of `udp` (header with a zero checksum field, plus payload); never 0,
/// since 0 means "no checksum" on IPv4 and is forbidden on IPv6.
fn udp_checksum(src: IpAddr, dst: IpAddr, udp: &[u8]) -> u16 {
    let sum = !fold(pseudo_header_sum(src, dst, udp.len()).wrapping_add(sum_words(0, udp)));
    if sum == 0 {
        0xffff
    } else {
        sum
    }
}

/// The one's-complement sum of the pseudo-header (RFC 768 for IPv4, RFC 8200 §8.1 for IPv6).
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, udp_len: usize) -> u64 {
    let len = udp_len as u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum_words(sum_words(0, &s.octets()), &d.octets()) + u64::from(PROTO_UDP) + len
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            sum_words(sum_words(0, &s.octets()), &d.octets()) + u64::from(PROTO_UDP) + len
        }
        // Mixed families never reach here through the builder or the parser.
        _ => 0,
    }
}

/// Adds `bytes` as big-endian 16-bit words (an odd tail is padded with zero) to `acc`.
fn sum_words(acc: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum = acc;
    for pair in &mut chunks {
        sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a wide sum into 16 bits with end-around carry.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 19, 0, last))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, 0, last))
    }

    #[test]
    fn ipv4_header_matches_a_hand_computed_checksum() {
        // 198.19.0.1 -> 198.19.0.2, 4-byte payload: total length 32.
        let mut p = Vec::new();
        build_udp_packet(v4(1), v4(2), b"ping", &mut p).unwrap();
        assert_eq!(p.len(), 32);
        assert_eq!(&p[..4], &[0x45, 0, 0, 32]);
        // Words: 4500 0020 0000 4000 4011 0000 c613 0001 c613 0002 → sum 0x2_515a → 0x515c → !0xaea3.
        assert_eq!(u16::from_be_bytes([p[10], p[11]]), 0xaea3);
        let parsed = parse_udp_packet(&p).unwrap();
        assert_eq!((parsed.src, parsed.dst, parsed.src_port, parsed.dst_port), (v4(1), v4(2), APP_PORT, APP_PORT));
        assert_eq!(&p[parsed.payload], b"ping");
    }

    #[test]
    fn ipv6_packet_round_trips_and_has_a_nonzero_udp_checksum() {
        let mut p = Vec::new();
        build_udp_packet(v6(1), v6(2), b"hello six", &mut p).unwrap();
        assert_eq!(p.len(), IPV6_HEADER_LEN + UDP_HEADER_LEN + 9);
        assert_eq!(p[0] >> 4, 6);
        assert_ne!(u16::from_be_bytes([p[46], p[47]]), 0);
        let parsed = parse_udp_packet(&p).unwrap();
        assert_eq!((parsed.src, parsed.dst), (v6(1), v6(2)));
        assert_eq!(&p[parsed.payload], b"hello six");
    }

    #[test]
    fn builder_refuses_mixed_families_and_oversized_payloads() {
        let mut p = Vec::new();
        assert_eq!(build_udp_packet(v4(1), v6(2), b"", &mut p), Err(PacketError::MixedFamilies));
        let big = vec![0u8; 65_536];
        assert_eq!(build_udp_packet(v4(1), v4(2), &big, &mut p), Err(PacketError::TooLarge));
    }

    #[test]
    fn checker_rejects_padding_and_corruption() {
        let mut p = Vec::new();
        build_udp_packet(v4(1), v4(2), b"abcdef", &mut p).unwrap();
        let mut padded = p.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(parse_udp_packet(&padded), Err(PacketError::BadLength));
        let mut header = p.clone();
        header[8] ^= 1; // TTL
        assert_eq!(parse_udp_packet(&header), Err(PacketError::BadHeaderChecksum));
        let mut body = p.clone();
        let last = body.len() - 1;
        body[last] ^= 0x40;
        assert_eq!(parse_udp_packet(&body), Err(PacketError::BadUdpChecksum));
        assert_eq!(parse_udp_packet(&[]), Err(PacketError::Truncated));
        assert_eq!(parse_udp_packet(&[0x45; 10]), Err(PacketError::Truncated));
    }

    proptest! {
        #[test]
        fn any_payload_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..1500), six in any::<bool>()) {
            let (s, d) = if six { (v6(7), v6(9)) } else { (v4(7), v4(9)) };
            let mut p = Vec::new();
            build_udp_packet(s, d, &payload, &mut p).unwrap();
            let parsed = parse_udp_packet(&p).unwrap();
            prop_assert_eq!(&p[parsed.payload], &payload[..]);
        }

        #[test]
        fn any_single_bit_flip_is_detected_or_changes_a_field(payload in proptest::collection::vec(any::<u8>(), 1..200), bit in 0usize..1600) {
            let mut p = Vec::new();
            build_udp_packet(v4(1), v4(2), &payload, &mut p).unwrap();
            let bit = bit % (p.len() * 8);
            p[bit / 8] ^= 1 << (bit % 8);
            // Every bit is covered by a checksum, a length or a type check; the one escape is a
            // flip that turns the UDP checksum field into 0, which IPv4 defines as "not computed".
            let escaped_as_no_checksum = p[26..28] == [0, 0];
            prop_assert!(parse_udp_packet(&p).is_err() || escaped_as_no_checksum);
        }

        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse_udp_packet(&bytes);
        }
    }
}
