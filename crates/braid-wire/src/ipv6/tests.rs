use super::*;
use proptest::prelude::*;

const TCP: u8 = 6;

fn src() -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)
}

fn dst() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xff)
}

/// A whole packet: fixed header (traffic class 0xb8, flow 0x12345, hop limit 64) then `payload`.
fn packet(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x6b, 0x81, 0x23, 0x45];
    bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&[next, 64]);
    bytes.extend_from_slice(&src().octets());
    bytes.extend_from_slice(&dst().octets());
    bytes.extend_from_slice(payload);
    bytes
}

/// An options-format extension header (hop-by-hop, destination options, routing): `body` follows
/// the next-header and length bytes and must make the whole a multiple of 8.
fn ext(next: u8, body: &[u8]) -> Vec<u8> {
    assert_eq!((body.len() + 2) % 8, 0);
    let mut header = vec![next, ((body.len() + 2) / 8 - 1) as u8];
    header.extend_from_slice(body);
    header
}

/// A fragment header.
fn frag(next: u8, offset: usize, more: bool, ident: u32) -> Vec<u8> {
    let word = ((offset / 8) as u16) << 3 | u16::from(more);
    let mut header = vec![next, 0];
    header.extend_from_slice(&word.to_be_bytes());
    header.extend_from_slice(&ident.to_be_bytes());
    header
}

const PADN4: [u8; 6] = [1, 4, 0, 0, 0, 0];

fn parse(bytes: &[u8]) -> Result<Ipv6Repr, Ipv6Error> {
    Ipv6Repr::parse(&Ipv6Packet::new_checked(bytes)?)
}

#[test]
fn parses_a_plain_packet() {
    let bytes = packet(TCP, b"0123456789");
    let view = Ipv6Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!((view.version(), view.traffic_class(), view.flow_label()), (6, 0xb8, 0x12345));
    let repr = Ipv6Repr::parse(&view).unwrap();
    assert_eq!(
        repr,
        Ipv6Repr {
            src_addr: src(),
            dst_addr: dst(),
            next_header: TCP,
            payload_len: 10,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    );
    assert_eq!(view.upper_layer_payload(&repr), b"0123456789");

    let mut emitted = vec![0u8; repr.total_len()];
    let mut out = Ipv6Packet::new_unchecked(&mut emitted[..]);
    repr.emit(&mut out);
    out.payload_mut().copy_from_slice(b"0123456789");
    assert_eq!(emitted, bytes);
}

#[test]
fn walks_a_chain_of_extension_headers() {
    let mut payload = ext(next_header::DESTINATION_OPTIONS, &PADN4);
    payload.extend(ext(next_header::ROUTING, &[0, 0, 0, 0, 0, 0])); // dest opts: unknown type 0x1e (skip)
    let routing_at = payload.len();
    payload.extend(ext(next_header::FRAGMENT, &[4, 0, 0, 0, 0, 0])); // routing type 4, 0 segments left
    payload.extend(frag(TCP, 0, false, 7)); // atomic fragment
    payload.extend_from_slice(b"tcp header..");
    // Put an unknown-but-skippable option into the destination options header.
    payload[10..16].copy_from_slice(&[0x1e, 4, 1, 2, 3, 4]);
    let bytes = packet(next_header::HOP_BY_HOP, &payload);

    let view = Ipv6Packet::new_checked(&bytes[..]).unwrap();
    let headers = view.extension_headers().unwrap();
    assert_eq!(headers.protocol, TCP);
    assert_eq!(headers.len, 32);
    assert_eq!(headers.fragment, Some(Ipv6FragmentHeader { next_header: TCP, offset: 0, more_frags: false, ident: 7 }));
    assert!(headers.fragment.unwrap().is_atomic());
    assert_eq!(routing_at, 16);

    let repr = Ipv6Repr::parse(&view).unwrap();
    assert_eq!((repr.next_header, repr.payload_len), (TCP, 12));
    assert_eq!(view.upper_layer_payload(&repr), b"tcp header..");
}

#[test]
fn pad1_and_router_alert_are_accepted() {
    let body = [0, 0, 5, 2, 0, 0]; // Pad1, Pad1, router alert
    let bytes = packet(next_header::HOP_BY_HOP, &[ext(TCP, &body), vec![0; 20]].concat());
    assert_eq!(parse(&bytes).unwrap().payload_len, 20);
}

#[test]
fn authentication_header_length_counts_four_byte_units() {
    // AH with length 4: (4 + 2) × 4 = 24 bytes.
    let mut ah = vec![TCP, 4];
    ah.extend_from_slice(&[0; 22]);
    let bytes = packet(next_header::AUTHENTICATION, &[ah, vec![0xaa; 8]].concat());
    let view = Ipv6Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(view.extension_headers().unwrap().len, 24);
    assert_eq!(parse(&bytes).unwrap().payload_len, 8);
}

#[test]
fn no_next_header_ends_the_walk() {
    let bytes = packet(next_header::DESTINATION_OPTIONS, &ext(next_header::NO_NEXT_HEADER, &PADN4));
    let repr = parse(&bytes).unwrap();
    assert_eq!((repr.next_header, repr.payload_len), (next_header::NO_NEXT_HEADER, 0));
}

#[test]
fn fixed_header_errors() {
    let bytes = packet(TCP, &[0; 8]);
    assert_eq!(Ipv6Packet::new_checked(&bytes[..39]), Err(Ipv6Error::Truncated { actual: 39 }));
    assert_eq!(
        Ipv6Packet::new_checked(&bytes[..45]),
        Err(Ipv6Error::PayloadLenExceedsBuffer { payload_len: 8, available: 5 })
    );
    let mut bad = bytes.clone();
    bad[0] = 0x4b;
    assert_eq!(Ipv6Packet::new_checked(&bad[..]), Err(Ipv6Error::BadVersion(4)));
    assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&bytes[..12])), Err(Ipv6Error::Truncated { actual: 12 }));
    // Bytes beyond the payload length are not part of the packet.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[1, 2, 3]);
    assert_eq!(parse(&padded).unwrap().payload_len, 8);
}

#[test]
fn extension_header_errors() {
    let truncated = packet(next_header::DESTINATION_OPTIONS, &[TCP, 1, 1, 4, 0, 0, 0, 0]);
    assert_eq!(parse(&truncated), Err(Ipv6Error::ExtensionHeaderTruncated { next_header: 60 }));
    let no_length = packet(next_header::ROUTING, &[TCP]);
    assert_eq!(parse(&no_length), Err(Ipv6Error::ExtensionHeaderTruncated { next_header: 43 }));
    let short_fragment = packet(next_header::FRAGMENT, &[TCP, 0, 0, 0]);
    assert_eq!(parse(&short_fragment), Err(Ipv6Error::ExtensionHeaderTruncated { next_header: 44 }));

    let hbh_second = packet(next_header::DESTINATION_OPTIONS, &[ext(0, &PADN4), ext(TCP, &PADN4)].concat());
    assert_eq!(parse(&hbh_second), Err(Ipv6Error::HopByHopNotFirst));

    let mut chain = Vec::new();
    for _ in 0..MAX_EXTENSION_HEADERS {
        chain.extend(ext(next_header::DESTINATION_OPTIONS, &PADN4));
    }
    let exactly_max = packet(next_header::DESTINATION_OPTIONS, &[chain.clone(), ext(TCP, &PADN4)].concat());
    assert_eq!(parse(&exactly_max), Err(Ipv6Error::TooManyExtensionHeaders));
    let below_max = packet(next_header::DESTINATION_OPTIONS, &[chain[8..].to_vec(), ext(TCP, &PADN4)].concat());
    assert_eq!(parse(&below_max).unwrap().next_header, TCP);

    let overrun = packet(next_header::DESTINATION_OPTIONS, &ext(TCP, &[1, 5, 0, 0, 0, 0]));
    assert_eq!(parse(&overrun), Err(Ipv6Error::BadOptionLength { option_type: 1 }));
    let no_option_len = packet(next_header::DESTINATION_OPTIONS, &ext(TCP, &[0, 0, 0, 0, 0, 0x1e]));
    assert_eq!(parse(&no_option_len), Err(Ipv6Error::BadOptionLength { option_type: 0x1e }));

    for option_type in [0x5e, 0x9e, 0xde, 0xc2] {
        let bytes = packet(next_header::DESTINATION_OPTIONS, &ext(TCP, &[option_type, 4, 0, 0, 0, 0]));
        assert_eq!(parse(&bytes), Err(Ipv6Error::UnrecognizedOption { option_type }));
    }

    let routing = packet(next_header::ROUTING, &ext(TCP, &[0, 2, 0, 0, 0, 0]));
    assert_eq!(parse(&routing), Err(Ipv6Error::RoutingSegmentsLeft { routing_type: 0, segments_left: 2 }));

    let two_fragments = packet(next_header::FRAGMENT, &[frag(44, 0, false, 1), frag(TCP, 0, false, 1)].concat());
    assert_eq!(parse(&two_fragments), Err(Ipv6Error::DuplicateFragmentHeader));
}

#[test]
fn fragments_are_reported() {
    let first = packet(next_header::FRAGMENT, &[frag(TCP, 0, true, 0xdead_beef), vec![0; 16]].concat());
    let expected = Ipv6FragmentHeader { next_header: TCP, offset: 0, more_frags: true, ident: 0xdead_beef };
    assert_eq!(parse(&first), Err(Ipv6Error::Fragment(expected)));

    // A first fragment: the walk stops after the fragment header, even if headers follow it (they
    // belong to the fragmentable part, which only reassembly can see whole).
    let dest_opts = ext(TCP, &PADN4);
    let first = packet(next_header::FRAGMENT, &[frag(60, 0, true, 5), dest_opts, vec![0; 16]].concat());
    let headers = Ipv6Packet::new_checked(&first[..]).unwrap().extension_headers().unwrap();
    assert_eq!((headers.protocol, headers.len), (60, 8));

    // A later fragment: whatever follows the fragment header is opaque data, not headers.
    let later = packet(next_header::FRAGMENT, &[frag(TCP, 1232, false, 9), vec![0; 4]].concat());
    let view = Ipv6Packet::new_checked(&later[..]).unwrap();
    let headers = view.extension_headers().unwrap();
    let expected = Ipv6FragmentHeader { next_header: TCP, offset: 1232, more_frags: false, ident: 9 };
    assert_eq!(headers, ExtensionHeaders { protocol: TCP, len: 8, fragment: Some(expected) });
    assert_eq!(parse(&later), Err(Ipv6Error::Fragment(expected)));
}

fn arb_next_header() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), Just(43), Just(44), Just(51), Just(60), any::<u8>()]
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..140)) {
        let _ = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&bytes[..]));
    }

    #[test]
    fn walking_arbitrary_chains_never_panics(
        first in arb_next_header(),
        mut body in proptest::collection::vec(any::<u8>(), 0..140),
        nexts in proptest::collection::vec(arb_next_header(), 0..12),
    ) {
        // Seed plausible next-header bytes so the walk goes deep.
        for (i, next) in nexts.into_iter().enumerate() {
            if let Some(byte) = body.get_mut(i * 8) {
                *byte = next;
            }
            if let Some(byte) = body.get_mut(i * 8 + 1) {
                *byte %= 2;
            }
        }
        if let Ok(headers) = walk_extension_headers(first, &body) {
            prop_assert!(headers.len <= body.len());
        }
        let bytes = packet(first, &body);
        if let Ok(repr) = parse(&bytes) {
            prop_assert!(repr.payload_len <= body.len());
        }
    }

    #[test]
    fn emit_then_parse_is_identity(
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        next in any::<u8>().prop_filter("not an extension header", |n| ![0, 43, 44, 51, 60].contains(n)),
        payload_len in 0usize..100,
        hop_limit in any::<u8>(),
        traffic_class in any::<u8>(),
        flow_label in 0u32..(1 << 20),
    ) {
        let repr = Ipv6Repr {
            src_addr: src.into(), dst_addr: dst.into(), next_header: next, payload_len, hop_limit, traffic_class, flow_label,
        };
        let mut bytes = vec![0u8; repr.total_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut bytes[..]));
        prop_assert_eq!(parse(&bytes), Ok(repr));
    }
}
