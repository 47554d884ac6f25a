use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));

fn src6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1))
}

fn dst6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2))
}

/// 5353 → 53 carrying "abcd", checksum a29d over the IPv4 pseudo-header (computed independently).
const KNOWN: [u8; 12] = [0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0xa2, 0x9d, b'a', b'b', b'c', b'd'];

fn parse(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<UdpRepr<'_>, UdpError> {
    UdpRepr::parse(&UdpPacket::new_checked(bytes)?, src, dst)
}

fn emit_to_vec(repr: &UdpRepr, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut UdpPacket::new_unchecked(&mut bytes[..]), src, dst);
    bytes
}

#[test]
fn known_datagram_parses_and_emits() {
    let repr = UdpRepr { src_port: 5353, dst_port: 53, payload: b"abcd" };
    assert_eq!(parse(&KNOWN, SRC4, DST4), Ok(repr));
    assert_eq!(emit_to_vec(&repr, SRC4, DST4), KNOWN);
    let packet = UdpPacket::new_checked(&KNOWN[..]).unwrap();
    assert_eq!((packet.len(), packet.checksum(), packet.is_empty()), (12, 0xa29d, false));
}

#[test]
fn zero_checksum_is_optional_on_ipv4_only() {
    let mut bytes = KNOWN;
    bytes[6] = 0;
    bytes[7] = 0;
    assert_eq!(parse(&bytes, SRC4, DST4).unwrap().payload, b"abcd");
    assert_eq!(parse(&bytes, src6(), dst6()), Err(UdpError::MissingChecksum));
}

#[test]
fn ipv6_checksum_is_verified() {
    let repr = UdpRepr { src_port: 0, dst_port: 4789, payload: b"vxlan?" };
    let mut bytes = emit_to_vec(&repr, src6(), dst6());
    assert_eq!(parse(&bytes, src6(), dst6()), Ok(repr));
    bytes[9] ^= 0x80;
    assert_eq!(parse(&bytes, src6(), dst6()), Err(UdpError::BadChecksum));
}

#[test]
fn a_computed_zero_is_sent_as_all_ones() {
    // Choose the payload so the one's-complement sum of everything else is 0xffff: the complement
    // (the checksum) would be 0, which means "none", so 0xffff must be sent instead.
    let base = UdpRepr { src_port: 1, dst_port: 2, payload: &[0, 0] };
    let bytes = emit_to_vec(&base, SRC4, DST4);
    let sum_without_payload = !u16::from_be_bytes([bytes[6], bytes[7]]);
    let filler = (!sum_without_payload).to_be_bytes();
    let repr = UdpRepr { payload: &filler, ..base };
    let bytes = emit_to_vec(&repr, SRC4, DST4);
    assert_eq!(&bytes[6..8], &[0xff, 0xff]);
    assert_eq!(parse(&bytes, SRC4, DST4), Ok(repr));
}

#[test]
fn length_field_bounds_the_datagram() {
    let mut bytes = KNOWN.to_vec();
    bytes.extend_from_slice(b"trailer");
    assert_eq!(parse(&bytes, SRC4, DST4).unwrap().payload, b"abcd");
    assert_eq!(UdpPacket::new_checked(&KNOWN[..7]), Err(UdpError::Truncated { actual: 7 }));
    assert_eq!(UdpPacket::new_checked(&KNOWN[..11]), Err(UdpError::LengthExceedsBuffer { length: 12, buffer_len: 11 }));
    let mut short = KNOWN;
    short[5] = 7;
    assert_eq!(UdpPacket::new_checked(&short[..]), Err(UdpError::LengthTooSmall(7)));
    assert_eq!(UdpRepr::parse(&UdpPacket::new_unchecked(&short[..]), SRC4, DST4), Err(UdpError::LengthTooSmall(7)));
}

#[test]
fn destination_port_zero_is_refused() {
    let repr = UdpRepr { src_port: 9, dst_port: 0, payload: b"" };
    let bytes = emit_to_vec(&repr, SRC4, DST4);
    assert_eq!(parse(&bytes, SRC4, DST4), Err(UdpError::ZeroDstPort));
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), v6 in any::<bool>()) {
        let (src, dst) = if v6 { (src6(), dst6()) } else { (SRC4, DST4) };
        let _ = UdpRepr::parse(&UdpPacket::new_unchecked(&bytes[..]), src, dst);
    }

    #[test]
    fn emit_then_parse_is_identity(
        src_port in any::<u16>(),
        dst_port in 1..=u16::MAX,
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        v6 in any::<bool>(),
    ) {
        let (src, dst) = if v6 { (src6(), dst6()) } else { (SRC4, DST4) };
        let repr = UdpRepr { src_port, dst_port, payload: &payload };
        let bytes = emit_to_vec(&repr, src, dst);
        prop_assert_ne!(u16::from_be_bytes([bytes[6], bytes[7]]), 0);
        prop_assert_eq!(parse(&bytes, src, dst), Ok(repr));
    }
}
