use super::*;
use crate::ipv6::{Ipv6Packet, Ipv6Repr};
use proptest::prelude::*;

fn src() -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)
}

fn dst() -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)
}

/// Echo request fe80::1 → fe80::2, id 0x1234 seq 1, "ping"; checksum 91ae computed independently.
const ECHO: [u8; 12] = [0x80, 0x00, 0x91, 0xae, 0x12, 0x34, 0x00, 0x01, b'p', b'i', b'n', b'g'];

fn parse(bytes: &[u8]) -> Result<Icmpv6Repr<'_>, Icmpv6Error> {
    Icmpv6Repr::parse(&Icmpv6Packet::new_checked(bytes)?, src(), dst())
}

fn emit_to_vec(repr: &Icmpv6Repr) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv6Packet::new_unchecked(&mut bytes[..]), src(), dst());
    bytes
}

/// The start of a TCP segment 2001:db8::1 port 443 → 2001:db8::2 port 50000, behind a
/// destination-options header when `with_ext`.
fn tcp_quote_bytes(with_ext: bool) -> Vec<u8> {
    let ext: &[u8] = if with_ext { &[6, 0, 1, 4, 0, 0, 0, 0] } else { &[] };
    let repr = Ipv6Repr {
        src_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        dst_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
        next_header: if with_ext { 60 } else { 6 },
        payload_len: 1400,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut bytes = vec![0u8; 40];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut bytes[..]));
    bytes.extend_from_slice(ext);
    bytes.extend_from_slice(&[0x01, 0xbb, 0xc3, 0x50, 0, 0, 0, 1, 0, 0, 0, 2]);
    bytes
}

#[test]
fn known_echo_request() {
    let repr = Icmpv6Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"ping" };
    assert_eq!(parse(&ECHO), Ok(repr));
    assert_eq!(emit_to_vec(&repr), ECHO);
    let packet = Icmpv6Packet::new_checked(&ECHO[..]).unwrap();
    assert!(packet.verify_checksum(src(), dst()));
    assert!(!packet.verify_checksum(src(), src()));
    assert_eq!((packet.msg_type(), packet.msg_code(), packet.checksum()), (128, 0, 0x91ae));
    assert_eq!((packet.echo_ident(), packet.echo_seq_no(), packet.data()), (0x1234, 1, &b"ping"[..]));
}

#[test]
fn checksum_covers_the_pseudo_header() {
    let packet = Icmpv6Packet::new_checked(&ECHO[..]).unwrap();
    assert_eq!(Icmpv6Repr::parse(&packet, dst(), Ipv6Addr::LOCALHOST), Err(Icmpv6Error::BadChecksum));
}

#[test]
fn echo_reply_round_trips() {
    let repr = Icmpv6Repr::EchoReply { ident: 1, seq_no: 2, data: &[0xaa; 100] };
    let bytes = emit_to_vec(&repr);
    assert_eq!(bytes[0], 129);
    assert_eq!(parse(&bytes), Ok(repr));
}

#[test]
fn packet_too_big_exposes_mtu_and_flow() {
    for with_ext in [false, true] {
        let quote_bytes = tcp_quote_bytes(with_ext);
        let repr = Icmpv6Repr::PacketTooBig { mtu: 1280, quote: Ipv6Quote::parse(&quote_bytes).unwrap() };
        let bytes = emit_to_vec(&repr);
        assert_eq!(&bytes[..2], &[2, 0]);
        assert_eq!(&bytes[4..8], &[0, 0, 0x05, 0x00]);
        let Ok(Icmpv6Repr::PacketTooBig { mtu, quote }) = parse(&bytes) else { panic!("not parsed") };
        assert_eq!(mtu, 1280);
        assert_eq!(quote.protocol(), 6);
        assert_eq!(quote.ports(), (443, 50000));
        assert_eq!(quote.payload().len(), 12);
        assert_eq!(quote.src_addr(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(quote.dst_addr(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        assert_eq!(quote.as_bytes(), &quote_bytes[..]);
    }
}

#[test]
fn other_errors_round_trip() {
    let quote_bytes = tcp_quote_bytes(false);
    let quote = Ipv6Quote::parse(&quote_bytes).unwrap();
    let cases = [
        (Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::PortUnreachable, quote }, [1u8, 4]),
        (Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::Other(9), quote }, [1, 9]),
        (Icmpv6Repr::TimeExceeded { reason: Icmpv6TimeExceeded::HopLimitExceeded, quote }, [3, 0]),
        (Icmpv6Repr::TimeExceeded { reason: Icmpv6TimeExceeded::ReassemblyTimeExceeded, quote }, [3, 1]),
        (Icmpv6Repr::ParamProblem { reason: Icmpv6ParamProblem::UnrecognizedNextHeader, pointer: 6, quote }, [4, 1]),
    ];
    for (repr, type_code) in cases {
        let bytes = emit_to_vec(&repr);
        assert_eq!(&bytes[..2], &type_code);
        assert_eq!(parse(&bytes), Ok(repr));
    }
    let param = emit_to_vec(&cases[4].0);
    assert_eq!(&param[4..8], &[0, 0, 0, 6]);
    assert_eq!(Icmpv6Packet::new_checked(&param[..]).unwrap().rest_u32(), 6);
}

#[test]
fn codes_round_trip() {
    for code in 0..=255u8 {
        assert_eq!(Icmpv6Unreachable::from_code(code).code(), code);
        assert_eq!(Icmpv6ParamProblem::from_code(code).code(), code);
    }
}

fn retyped(bytes: &[u8], msg_type: u8, code: u8) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let mut packet = Icmpv6Packet::new_unchecked(&mut bytes[..]);
    packet.set_msg_type(msg_type);
    packet.set_msg_code(code);
    packet.fill_checksum(src(), dst());
    bytes
}

#[test]
fn parse_errors() {
    assert_eq!(parse(&ECHO[..7]), Err(Icmpv6Error::Truncated { actual: 7 }));
    assert_eq!(
        Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&ECHO[..2]), src(), dst()),
        Err(Icmpv6Error::Truncated { actual: 2 })
    );
    let mut corrupt = ECHO;
    corrupt[11] ^= 0x40;
    assert_eq!(parse(&corrupt), Err(Icmpv6Error::BadChecksum));
    assert_eq!(parse(&retyped(&ECHO, 135, 0)), Err(Icmpv6Error::UnsupportedType(135)));
    assert_eq!(parse(&retyped(&ECHO, 128, 3)), Err(Icmpv6Error::BadCode { msg_type: 128, code: 3 }));
    let quote = tcp_quote_bytes(false);
    let too_big = emit_to_vec(&Icmpv6Repr::PacketTooBig { mtu: 1280, quote: Ipv6Quote::parse(&quote).unwrap() });
    assert_eq!(parse(&retyped(&too_big, 2, 1)), Err(Icmpv6Error::BadCode { msg_type: 2, code: 1 }));
    assert_eq!(parse(&retyped(&too_big, 3, 2)), Err(Icmpv6Error::BadCode { msg_type: 3, code: 2 }));
    assert_eq!(parse(&retyped(&ECHO, 1, 0)), Err(Icmpv6Error::BadQuote { len: 4 }));
}

#[test]
fn quote_validation() {
    let quote = tcp_quote_bytes(true);
    assert!(Ipv6Quote::parse(&quote).is_ok());
    // Header (40) + destination options (8) + 8 upper-layer bytes is the minimum.
    assert!(Ipv6Quote::parse(&quote[..56]).is_ok());
    assert_eq!(Ipv6Quote::parse(&quote[..55]), Err(Icmpv6Error::BadQuote { len: 55 }));
    assert_eq!(Ipv6Quote::parse(&quote[..44]), Err(Icmpv6Error::BadQuote { len: 44 }));
    assert_eq!(Ipv6Quote::parse(&quote[..39]), Err(Icmpv6Error::BadQuote { len: 39 }));
    let mut v4 = quote.clone();
    v4[0] = 0x45;
    assert_eq!(Ipv6Quote::parse(&v4), Err(Icmpv6Error::BadQuote { len: quote.len() }));
}

/// A quote that lives as long as the strategies need it.
static QUOTE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| tcp_quote_bytes(true));

fn arb_repr(data: &'static [u8]) -> impl Strategy<Value = Icmpv6Repr<'static>> {
    let quote = Ipv6Quote::parse(&QUOTE).unwrap();
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(move |(ident, seq_no)| Icmpv6Repr::EchoRequest { ident, seq_no, data }),
        (any::<u16>(), any::<u16>()).prop_map(move |(ident, seq_no)| Icmpv6Repr::EchoReply { ident, seq_no, data }),
        any::<u8>().prop_map(move |c| Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::from_code(c), quote }),
        any::<u32>().prop_map(move |mtu| Icmpv6Repr::PacketTooBig { mtu, quote }),
        any::<bool>().prop_map(move |reassembly| Icmpv6Repr::TimeExceeded {
            reason: if reassembly {
                Icmpv6TimeExceeded::ReassemblyTimeExceeded
            } else {
                Icmpv6TimeExceeded::HopLimitExceeded
            },
            quote
        }),
        (any::<u8>(), any::<u32>()).prop_map(move |(c, pointer)| Icmpv6Repr::ParamProblem {
            reason: Icmpv6ParamProblem::from_code(c),
            pointer,
            quote
        }),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&bytes[..]), src(), dst());
    }

    #[test]
    fn parse_never_panics_with_a_valid_checksum(
        msg_type in prop_oneof![Just(1u8), Just(2), Just(3), Just(4), Just(128), Just(129), any::<u8>()],
        code in 0u8..3,
        mut bytes in proptest::collection::vec(any::<u8>(), 8..120),
        version_six in any::<bool>(),
    ) {
        bytes[0] = msg_type;
        bytes[1] = code;
        if version_six && bytes.len() > 8 {
            bytes[8] = 0x60 | (bytes[8] & 0x0f);
        }
        Icmpv6Packet::new_unchecked(&mut bytes[..]).fill_checksum(src(), dst());
        if let Ok(repr) = parse(&bytes) {
            let again = emit_to_vec(&repr);
            prop_assert_eq!(parse(&again), Ok(repr));
        }
    }

    #[test]
    fn emit_then_parse_is_identity(repr in arb_repr(b"echo data")) {
        let bytes = emit_to_vec(&repr);
        prop_assert_eq!(parse(&bytes), Ok(repr));
    }
}
