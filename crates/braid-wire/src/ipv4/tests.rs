use super::*;
use proptest::prelude::*;

/// A UDP datagram header 192.168.0.1 → 192.168.0.199, total length 115, DF, TTL 64, with its
/// well-known checksum b861.
const HEADER: [u8; 20] = [
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00,
    0xc7,
];

fn datagram() -> Vec<u8> {
    let mut bytes = HEADER.to_vec();
    bytes.extend((0..95).map(|i| i as u8));
    bytes
}

fn known_repr() -> Ipv4Repr {
    Ipv4Repr {
        src_addr: Ipv4Addr::new(192, 168, 0, 1),
        dst_addr: Ipv4Addr::new(192, 168, 0, 199),
        protocol: 17,
        payload_len: 95,
        hop_limit: 64,
        traffic_class: 0,
        ident: 0,
        dont_frag: true,
    }
}

/// Rewrites fields through the setters and fixes the checksum.
fn patched(bytes: &mut [u8], edit: impl FnOnce(&mut Ipv4Packet<&mut [u8]>)) {
    let mut packet = Ipv4Packet::new_unchecked(bytes);
    edit(&mut packet);
    packet.fill_checksum();
}

#[test]
fn parses_a_known_header() {
    let bytes = datagram();
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert!(packet.verify_checksum());
    assert!(!packet.is_fragment());
    assert_eq!(Ipv4Repr::parse(&packet), Ok(known_repr()));
    assert_eq!(packet.payload(), &bytes[20..]);
    assert_eq!(packet.payload_slice().len(), 95);
}

#[test]
fn emits_the_known_header() {
    let mut bytes = [0u8; 115];
    known_repr().emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..]));
    assert_eq!(&bytes[..20], &HEADER);
    assert_eq!(known_repr().total_len(), 115);
    assert_eq!(known_repr().buffer_len(), 20);
}

#[test]
fn options_are_skipped() {
    let mut bytes = vec![0u8; 24 + 4];
    patched(&mut bytes, |p| {
        p.set_version_and_header_len(24);
        p.set_total_len(28);
        p.set_hop_limit(1);
        p.set_protocol(6);
        p.options_mut().copy_from_slice(&[0x94, 0x04, 0x00, 0x00]); // router alert
        p.payload_mut().copy_from_slice(b"data");
    });
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
    assert_eq!(packet.payload(), b"data");
    assert_eq!(Ipv4Repr::parse(&packet).unwrap().payload_len, 4);
}

#[test]
fn trailing_link_padding_is_not_payload() {
    let mut bytes = datagram();
    bytes.extend_from_slice(&[0; 10]);
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.payload().len(), 95);
    assert_eq!(Ipv4Repr::parse(&packet).unwrap().payload_len, 95);
}

#[test]
fn length_and_version_errors() {
    let bytes = datagram();
    assert_eq!(Ipv4Packet::new_checked(&bytes[..19]), Err(Ipv4Error::Truncated { actual: 19 }));
    assert_eq!(
        Ipv4Packet::new_checked(&bytes[..100]),
        Err(Ipv4Error::TotalLenExceedsBuffer { total_len: 115, buffer_len: 100 })
    );
    let mut bad = bytes.clone();
    bad[0] = 0x65;
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Ipv4Error::BadVersion(6)));
    bad[0] = 0x44;
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Ipv4Error::HeaderLenTooSmall { header_len: 16 }));
    bad[0] = 0x4f;
    assert_eq!(
        Ipv4Packet::new_checked(&bad[..40]),
        Err(Ipv4Error::HeaderLenExceedsBuffer { header_len: 60, buffer_len: 40 })
    );
    let mut bad = bytes.clone();
    bad[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        Ipv4Packet::new_checked(&bad[..]),
        Err(Ipv4Error::TotalLenBelowHeader { total_len: 19, header_len: 20 })
    );
    // Repr::parse re-checks an unchecked view.
    assert_eq!(
        Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bad[..])),
        Err(Ipv4Error::TotalLenBelowHeader { total_len: 19, header_len: 20 })
    );
}

#[test]
fn bad_checksum_is_refused() {
    for at in 0..20 {
        let mut bytes = datagram();
        bytes[at] ^= 0x01;
        let result = Ipv4Packet::new_checked(&bytes[..]).and_then(|p| Ipv4Repr::parse(&p));
        assert!(result.is_err(), "flip at {at} went unnoticed");
    }
    let mut bytes = datagram();
    bytes[8] = 63; // TTL changed without fixing the checksum
    assert_eq!(Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap()), Err(Ipv4Error::BadChecksum));
}

#[test]
fn fragments_are_refused_with_their_position() {
    let mut first = datagram();
    patched(&mut first, |p| p.set_frag_fields(false, true, 0));
    let packet = Ipv4Packet::new_checked(&first[..]).unwrap();
    assert!(packet.is_fragment() && packet.more_frags() && !packet.dont_frag());
    assert_eq!(Ipv4Repr::parse(&packet), Err(Ipv4Error::Fragment { offset: 0, more_frags: true }));

    let mut last = datagram();
    patched(&mut last, |p| p.set_frag_fields(false, false, 1480));
    let packet = Ipv4Packet::new_checked(&last[..]).unwrap();
    assert_eq!(packet.frag_offset(), 1480);
    assert_eq!(&last[6..8], &[0x00, 0xb9]);
    assert_eq!(Ipv4Repr::parse(&packet), Err(Ipv4Error::Fragment { offset: 1480, more_frags: false }));
}

#[test]
fn setters_round_trip() {
    let mut bytes = vec![0u8; 20];
    patched(&mut bytes, |p| {
        p.set_version_and_header_len(20);
        p.set_traffic_class(0xb8);
        p.set_total_len(20);
        p.set_ident(0xbeef);
        p.set_frag_fields(true, true, 65528);
        p.set_hop_limit(7);
        p.set_protocol(1);
        p.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
        p.set_dst_addr(Ipv4Addr::new(5, 6, 7, 8));
    });
    let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        (p.traffic_class(), p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset()),
        (0xb8, 0xbeef, true, true, 65528)
    );
    assert_eq!(
        (p.hop_limit(), p.protocol(), p.src_addr(), p.dst_addr()),
        (7, 1, [1, 2, 3, 4].into(), [5, 6, 7, 8].into())
    );
    assert!(p.verify_checksum());
    assert_eq!(
        p.checksum(),
        crate::checksum::checksum(&{
            let mut zeroed = bytes.clone();
            zeroed[10] = 0;
            zeroed[11] = 0;
            zeroed
        })
    );
    assert_eq!(p.into_inner().len(), 20);
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bytes[..]));
        if let Ok(packet) = Ipv4Packet::new_checked(&bytes[..]) {
            let _ = (packet.payload(), packet.options(), packet.frag_offset(), packet.verify_checksum());
        }
    }

    #[test]
    fn parse_never_panics_with_a_valid_checksum(mut bytes in proptest::collection::vec(any::<u8>(), 20..100)) {
        let max_words = (bytes.len().min(MAX_HEADER_LEN) / 4) as u8;
        bytes[0] = 0x40 | (5 + bytes[0] % (max_words - 4));
        let header_len = usize::from(bytes[0] & 0x0f) * 4;
        let total = header_len + usize::from(bytes[2]) % (bytes.len() - header_len + 1);
        bytes[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        match Ipv4Repr::parse(&packet) {
            Ok(repr) => prop_assert_eq!(repr.payload_len, total - header_len),
            Err(error) => prop_assert!(matches!(error, Ipv4Error::Fragment { .. }), "{:?}", error),
        }
    }

    #[test]
    fn emit_then_parse_is_identity(
        src in any::<[u8; 4]>(),
        dst in any::<[u8; 4]>(),
        protocol in any::<u8>(),
        payload_len in 0usize..200,
        hop_limit in any::<u8>(),
        traffic_class in any::<u8>(),
        ident in any::<u16>(),
        dont_frag in any::<bool>(),
    ) {
        let repr = Ipv4Repr {
            src_addr: src.into(), dst_addr: dst.into(), protocol, payload_len, hop_limit, traffic_class, ident, dont_frag,
        };
        let mut bytes = vec![0u8; repr.total_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..]));
        prop_assert_eq!(Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap()), Ok(repr));
    }
}
