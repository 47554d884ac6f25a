use super::*;
use crate::ipv4::{Ipv4Packet, Ipv4Repr};
use proptest::prelude::*;

/// Echo request id 0x1234 seq 1 carrying "ping"; checksum 06fa computed independently.
const ECHO: [u8; 12] = [0x08, 0x00, 0x06, 0xfa, 0x12, 0x34, 0x00, 0x01, b'p', b'i', b'n', b'g'];

fn parse(bytes: &[u8]) -> Result<Icmpv4Repr<'_>, Icmpv4Error> {
    Icmpv4Repr::parse(&Icmpv4Packet::new_checked(bytes)?)
}

fn emit_to_vec(repr: &Icmpv4Repr) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut bytes[..]));
    bytes
}

/// The first 28 bytes of a UDP datagram 10.0.0.1:5000 → 10.0.0.9:53, as an error would quote it.
fn udp_quote_bytes() -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: Ipv4Addr::new(10, 0, 0, 1),
        dst_addr: Ipv4Addr::new(10, 0, 0, 9),
        protocol: 17,
        payload_len: 100,
        hop_limit: 64,
        traffic_class: 0,
        ident: 1,
        dont_frag: true,
    };
    let mut bytes = vec![0u8; 20];
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..]));
    bytes.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0x00, 0x64, 0x12, 0x34]);
    bytes
}

#[test]
fn known_echo_request() {
    let repr = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"ping" };
    assert_eq!(parse(&ECHO), Ok(repr));
    assert_eq!(emit_to_vec(&repr), ECHO);
    let packet = Icmpv4Packet::new_checked(&ECHO[..]).unwrap();
    assert_eq!((packet.msg_type(), packet.msg_code(), packet.checksum()), (8, 0, 0x06fa));
    assert_eq!((packet.echo_ident(), packet.echo_seq_no(), packet.data()), (0x1234, 1, &b"ping"[..]));
}

#[test]
fn echo_reply_round_trips() {
    let repr = Icmpv4Repr::EchoReply { ident: 7, seq_no: 65535, data: &[] };
    let bytes = emit_to_vec(&repr);
    assert_eq!(bytes[0], 0);
    assert_eq!(parse(&bytes), Ok(repr));
}

#[test]
fn port_unreachable_exposes_the_quoted_flow() {
    let quote_bytes = udp_quote_bytes();
    let quote = Ipv4Quote::parse(&quote_bytes).unwrap();
    let repr = Icmpv4Repr::DstUnreachable { reason: Icmpv4Unreachable::PortUnreachable, quote };
    let bytes = emit_to_vec(&repr);
    assert_eq!(&bytes[..2], &[3, 3]);
    assert_eq!(&bytes[4..8], &[0; 4]);
    let Ok(Icmpv4Repr::DstUnreachable { reason, quote }) = parse(&bytes) else { panic!("not parsed") };
    assert_eq!(reason, Icmpv4Unreachable::PortUnreachable);
    assert_eq!(quote.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(quote.dst_addr(), Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(quote.protocol(), 17);
    assert_eq!(quote.ports(), (5000, 53));
    assert_eq!(quote.payload().len(), 8);
    assert_eq!(quote.as_bytes(), &quote_bytes[..]);
    assert_eq!((quote.total_len(), quote.fragment_offset()), (120, 0));
    let mut later_fragment = quote_bytes.clone();
    later_fragment[6..8].copy_from_slice(&[0x20, 0x03]); // more fragments, offset 3 × 8
    assert_eq!(Ipv4Quote::parse(&later_fragment).unwrap().fragment_offset(), 24);
}

#[test]
fn frag_needed_carries_the_next_hop_mtu() {
    let quote_bytes = udp_quote_bytes();
    let repr = Icmpv4Repr::FragNeeded { next_hop_mtu: 1400, quote: Ipv4Quote::parse(&quote_bytes).unwrap() };
    let bytes = emit_to_vec(&repr);
    assert_eq!(&bytes[..2], &[3, 4]);
    assert_eq!(&bytes[4..8], &[0, 0, 0x05, 0x78]);
    assert_eq!(Icmpv4Packet::new_checked(&bytes[..]).unwrap().next_hop_mtu(), 1400);
    assert_eq!(parse(&bytes), Ok(repr));
}

#[test]
fn time_exceeded_and_param_problem() {
    let quote_bytes = udp_quote_bytes();
    let quote = Ipv4Quote::parse(&quote_bytes).unwrap();
    for (reason, code) in [(Icmpv4TimeExceeded::TtlExceeded, 0), (Icmpv4TimeExceeded::ReassemblyTimeExceeded, 1)] {
        let repr = Icmpv4Repr::TimeExceeded { reason, quote };
        let bytes = emit_to_vec(&repr);
        assert_eq!(&bytes[..2], &[11, code]);
        assert_eq!(parse(&bytes), Ok(repr));
    }
    let repr = Icmpv4Repr::ParamProblem { pointer: 9, quote };
    let bytes = emit_to_vec(&repr);
    assert_eq!((&bytes[..2], bytes[4]), (&[12u8, 0][..], 9));
    assert_eq!(Icmpv4Packet::new_checked(&bytes[..]).unwrap().pointer(), 9);
    assert_eq!(parse(&bytes), Ok(repr));
}

#[test]
fn unreachable_codes_round_trip() {
    for code in (0..=255u8).filter(|&c| c != CODE_FRAG_NEEDED) {
        assert_eq!(Icmpv4Unreachable::from_code(code).code(), code);
    }
    assert_eq!(Icmpv4Unreachable::from_code(16), Icmpv4Unreachable::Other(16));
}

/// Rewrites type and code of an encoded message and fixes its checksum.
fn retyped(bytes: &[u8], msg_type: u8, code: u8) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let mut packet = Icmpv4Packet::new_unchecked(&mut bytes[..]);
    packet.set_msg_type(msg_type);
    packet.set_msg_code(code);
    packet.fill_checksum();
    bytes
}

#[test]
fn parse_errors() {
    assert_eq!(parse(&ECHO[..7]), Err(Icmpv4Error::Truncated { actual: 7 }));
    assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&ECHO[..3])), Err(Icmpv4Error::Truncated { actual: 3 }));
    let mut corrupt = ECHO;
    corrupt[9] ^= 1;
    assert_eq!(parse(&corrupt), Err(Icmpv4Error::BadChecksum));
    assert_eq!(parse(&retyped(&ECHO, 13, 0)), Err(Icmpv4Error::UnsupportedType(13)));
    assert_eq!(parse(&retyped(&ECHO, 8, 1)), Err(Icmpv4Error::BadCode { msg_type: 8, code: 1 }));
    assert_eq!(parse(&retyped(&ECHO, 0, 2)), Err(Icmpv4Error::BadCode { msg_type: 0, code: 2 }));

    let quote = udp_quote_bytes();
    let unreachable = emit_to_vec(&Icmpv4Repr::DstUnreachable {
        reason: Icmpv4Unreachable::HostUnreachable,
        quote: Ipv4Quote::parse(&quote).unwrap(),
    });
    assert_eq!(parse(&retyped(&unreachable, 11, 2)), Err(Icmpv4Error::BadCode { msg_type: 11, code: 2 }));
    assert_eq!(parse(&retyped(&unreachable, 12, 1)), Err(Icmpv4Error::BadCode { msg_type: 12, code: 1 }));
    // An echo's 4 data bytes are no quote.
    assert_eq!(parse(&retyped(&ECHO, 3, 1)), Err(Icmpv4Error::BadQuote { len: 4 }));
}

#[test]
fn quote_validation() {
    let quote = udp_quote_bytes();
    assert!(Ipv4Quote::parse(&quote).is_ok());
    assert_eq!(Ipv4Quote::parse(&quote[..27]), Err(Icmpv4Error::BadQuote { len: 27 }));
    assert_eq!(Ipv4Quote::parse(&[]), Err(Icmpv4Error::BadQuote { len: 0 }));
    let mut v6 = quote.clone();
    v6[0] = 0x65;
    assert_eq!(Ipv4Quote::parse(&v6), Err(Icmpv4Error::BadQuote { len: 28 }));
    let mut short_ihl = quote.clone();
    short_ihl[0] = 0x44;
    assert_eq!(Ipv4Quote::parse(&short_ihl), Err(Icmpv4Error::BadQuote { len: 28 }));
    let mut with_options = quote.clone();
    with_options[0] = 0x46; // 24-byte header: 28 bytes leave only 4 of payload
    assert_eq!(Ipv4Quote::parse(&with_options), Err(Icmpv4Error::BadQuote { len: 28 }));
    with_options.extend_from_slice(&[0; 4]);
    assert_eq!(Ipv4Quote::parse(&with_options).unwrap().payload().len(), 8);
}

/// A quote that lives as long as the strategies need it.
static QUOTE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(udp_quote_bytes);

fn arb_repr(data: &'static [u8]) -> impl Strategy<Value = Icmpv4Repr<'static>> {
    let quote = Ipv4Quote::parse(&QUOTE).unwrap();
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(move |(ident, seq_no)| Icmpv4Repr::EchoRequest { ident, seq_no, data }),
        (any::<u16>(), any::<u16>()).prop_map(move |(ident, seq_no)| Icmpv4Repr::EchoReply { ident, seq_no, data }),
        any::<u8>()
            .prop_filter("code 4 is FragNeeded", |c| *c != CODE_FRAG_NEEDED)
            .prop_map(move |c| Icmpv4Repr::DstUnreachable { reason: Icmpv4Unreachable::from_code(c), quote }),
        any::<u16>().prop_map(move |next_hop_mtu| Icmpv4Repr::FragNeeded { next_hop_mtu, quote }),
        any::<bool>().prop_map(move |reassembly| Icmpv4Repr::TimeExceeded {
            reason: if reassembly {
                Icmpv4TimeExceeded::ReassemblyTimeExceeded
            } else {
                Icmpv4TimeExceeded::TtlExceeded
            },
            quote
        }),
        any::<u8>().prop_map(move |pointer| Icmpv4Repr::ParamProblem { pointer, quote }),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&bytes[..]));
    }

    #[test]
    fn parse_never_panics_with_a_valid_checksum(
        msg_type in prop_oneof![Just(0u8), Just(3), Just(8), Just(11), Just(12), any::<u8>()],
        code in 0u8..6,
        mut bytes in proptest::collection::vec(any::<u8>(), 8..80),
    ) {
        bytes[0] = msg_type;
        bytes[1] = code;
        Icmpv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        if let Ok(repr) = parse(&bytes) {
            // Unused rest-of-header bytes are not kept, so compare reprs rather than bytes.
            let again = emit_to_vec(&repr);
            prop_assert_eq!(again.len(), bytes.len());
            prop_assert_eq!(parse(&again), Ok(repr));
        }
    }

    #[test]
    fn emit_then_parse_is_identity(repr in arb_repr(b"echo data")) {
        let bytes = emit_to_vec(&repr);
        prop_assert_eq!(parse(&bytes), Ok(repr));
    }
}
