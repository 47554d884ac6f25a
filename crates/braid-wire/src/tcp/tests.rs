use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn src6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
}

fn dst6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2))
}

/// A SYN as Linux sends it (MSS, SACK_PERM, TS, NOP, WS), 10.0.0.1:40000 → 10.0.0.2:80, written
/// out by hand from the RFC 9293 layout; the checksum was computed independently.
const LINUX_SYN: [u8; 40] = [
    0x9c, 0x40, 0x00, 0x50, // ports 40000 → 80
    0x6b, 0x8b, 0x45, 0x67, // seq
    0x00, 0x00, 0x00, 0x00, // ack
    0xa0, 0x02, 0xfa, 0xf0, // data offset 10, SYN, window 64240
    0x09, 0x48, 0x00, 0x00, // checksum, urgent
    0x02, 0x04, 0x05, 0xb4, // MSS 1460
    0x04, 0x02, // SACK permitted
    0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, // TS 123456, 0
    0x01, 0x03, 0x03, 0x07, // NOP, WS 7
];

fn emit_to_vec(repr: &TcpRepr, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut buffer = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buffer[..]), src, dst);
    buffer
}

fn parse(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<TcpRepr<'_>, TcpError> {
    TcpRepr::parse(&TcpPacket::new_checked(bytes)?, src, dst)
}

/// A segment whose options area is `options` (a multiple of 4 long), with a valid checksum.
fn with_options(options: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER_LEN + options.len()];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_src_port(1);
    packet.set_dst_port(2);
    packet.set_header_len(HEADER_LEN + options.len());
    packet.options_mut().copy_from_slice(options);
    packet.fill_checksum(SRC4, DST4);
    bytes
}

fn linux_syn_repr() -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 0x6b8b_4567,
        ack: 0,
        flags: TcpFlags { syn: true, ..TcpFlags::default() },
        window: 64240,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_blocks: [None; 4],
            timestamps: Some((123_456, 0)),
        },
        payload: &[],
    }
}

#[test]
fn parses_a_linux_syn() {
    let packet = TcpPacket::new_checked(&LINUX_SYN[..]).unwrap();
    assert_eq!(packet.header_len(), 40);
    assert!(packet.verify_checksum(SRC4, DST4));
    let repr = TcpRepr::parse(&packet, SRC4, DST4).unwrap();
    assert_eq!(repr, linux_syn_repr());
    assert_eq!(repr.segment_len(), 1);
}

#[test]
fn emits_options_in_aligned_groups() {
    let bytes = emit_to_vec(&linux_syn_repr(), SRC4, DST4);
    assert_eq!(bytes.len(), 40);
    // MSS; NOP WS; SACK_PERM TS.
    let expected_options = [
        0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00,
        0x00, 0x00,
    ];
    assert_eq!(&bytes[20..], &expected_options);
    // The fixed header is identical to Linux's apart from the checksum (the options moved).
    assert_eq!(&bytes[..16], &LINUX_SYN[..16]);
    assert_eq!(parse(&bytes, SRC4, DST4).unwrap(), linux_syn_repr());
}

#[test]
fn known_checksum_over_ipv6_pseudo_header() {
    let repr = TcpRepr {
        src_port: 443,
        dst_port: 51000,
        seq: 0x0102_0304,
        ack: 0x6b8b_4568,
        flags: TcpFlags { ack: true, psh: true, ..TcpFlags::default() },
        window: 502,
        urgent: 0,
        options: TcpOptions::default(),
        payload: b"hello",
    };
    let bytes = emit_to_vec(&repr, src6(), dst6());
    assert_eq!(bytes.len(), 25);
    assert_eq!(&bytes[16..18], &[0x90, 0x9d]);
    assert_eq!(bytes[13], 0x18);
    assert_eq!(parse(&bytes, src6(), dst6()).unwrap(), repr);
    // The same bytes do not verify against other addresses.
    assert_eq!(parse(&bytes, dst6(), src6()).map(|_| ()), Ok(()), "swapping addresses keeps the sum");
    assert_eq!(parse(&bytes, src6(), SRC4), Err(TcpError::BadChecksum));
}

#[test]
fn flags_byte_round_trips() {
    for byte in 0..=255u8 {
        assert_eq!(TcpFlags::from_byte(byte).to_byte(), byte);
    }
    let all = TcpFlags { fin: true, syn: true, rst: true, psh: true, ack: true, urg: true, ece: true, cwr: true };
    assert_eq!(all.to_byte(), 0xff);
}

#[test]
fn reserved_bits_are_ignored() {
    let mut bytes = LINUX_SYN;
    bytes[12] |= 0x0f; // reserved and AE bits
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.fill_checksum(SRC4, DST4);
    assert_eq!(parse(&bytes, SRC4, DST4).unwrap(), linux_syn_repr());
}

#[test]
fn length_errors() {
    assert_eq!(TcpPacket::new_checked(&LINUX_SYN[..19]), Err(TcpError::Truncated { actual: 19 }));
    let mut bytes = LINUX_SYN;
    bytes[12] = 0x40;
    assert_eq!(TcpPacket::new_checked(&bytes[..]), Err(TcpError::HeaderLenTooSmall { header_len: 16 }));
    bytes[12] = 0xf0;
    assert_eq!(
        TcpPacket::new_checked(&bytes[..]),
        Err(TcpError::HeaderLenExceedsBuffer { header_len: 60, buffer_len: 40 })
    );
    // Repr::parse re-checks even an unchecked view.
    assert_eq!(
        TcpRepr::parse(&TcpPacket::new_unchecked(&bytes[..]), SRC4, DST4),
        Err(TcpError::HeaderLenExceedsBuffer { header_len: 60, buffer_len: 40 })
    );
    assert_eq!(
        TcpRepr::parse(&TcpPacket::new_unchecked(&bytes[..3]), SRC4, DST4),
        Err(TcpError::Truncated { actual: 3 })
    );
}

#[test]
fn zero_ports_are_refused() {
    for at in [0, 2] {
        let mut bytes = LINUX_SYN;
        bytes[at] = 0;
        bytes[at + 1] = 0;
        TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(SRC4, DST4);
        assert_eq!(parse(&bytes, SRC4, DST4), Err(TcpError::ZeroPort));
    }
}

#[test]
fn corrupted_segment_fails_the_checksum() {
    for at in 0..LINUX_SYN.len() {
        let mut bytes = LINUX_SYN;
        bytes[at] ^= 0x10;
        let result = parse(&bytes, SRC4, DST4);
        assert!(result.is_err(), "flip at byte {at} went unnoticed");
    }
}

#[test]
fn option_length_errors() {
    let bad = |kind: u8, len: u8| Err(TcpError::BadOptionLength { kind, len });
    let cases: [(&[u8], Result<TcpOptions, TcpError>); 12] = [
        (&[1, 1, 1, 2], Err(TcpError::OptionTruncated { kind: 2 })),
        (&[30, 0, 0, 0], bad(30, 0)),
        (&[30, 1, 0, 0], bad(30, 1)),
        (&[30, 5, 0, 0], bad(30, 5)),
        (&[2, 3, 5, 1], bad(2, 3)),
        (&[3, 4, 7, 0], bad(3, 4)),
        (&[4, 3, 0, 0], bad(4, 3)),
        (&[5, 2, 0, 0], bad(5, 2)),
        (&[5, 6, 0, 0, 0, 0, 1, 1], bad(5, 6)),
        (&[8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1], bad(8, 9)),
        (&[2, 4, 5, 0xb4], Ok(TcpOptions { mss: Some(1460), ..TcpOptions::default() })),
        (&[0, 99, 99, 99], Ok(TcpOptions::default())),
    ];
    for (options, expected) in cases {
        assert_eq!(TcpOptions::parse(options), expected, "options {options:?}");
        let bytes = with_options(options);
        assert_eq!(parse(&bytes, SRC4, DST4).map(|r| r.options), expected, "segment with {options:?}");
    }
}

#[test]
fn forty_byte_sack_option_is_refused() {
    // 2 + 5 × 8 = 42 does not even fit; 2 + 4 × 8 = 34 is the largest legal SACK option.
    let mut options = [0u8; 40];
    options[0] = 5;
    options[1] = 34;
    let parsed = TcpOptions::parse(&options[..34]).unwrap();
    assert!(parsed.sack_blocks.iter().all(Option::is_some));
    options[1] = 40;
    assert_eq!(TcpOptions::parse(&options), Err(TcpError::BadOptionLength { kind: 5, len: 40 }));
}

#[test]
fn unknown_options_are_skipped_and_eol_ends_the_list() {
    let options = [30, 4, 0xaa, 0xbb, 1, 3, 3, 9, 0, 2, 4, 5];
    let parsed = TcpOptions::parse(&options).unwrap();
    assert_eq!(parsed, TcpOptions { window_scale: Some(9), ..TcpOptions::default() });
}

#[test]
fn window_scale_above_14_is_clamped() {
    let parsed = TcpOptions::parse(&[3, 3, 200, 1]).unwrap();
    assert_eq!(parsed.window_scale, Some(MAX_WINDOW_SCALE));
}

#[test]
fn a_later_sack_option_replaces_an_earlier_one() {
    let mut options = vec![5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    options.extend_from_slice(&[5, 10, 0, 0, 0, 3, 0, 0, 0, 4]);
    let parsed = TcpOptions::parse(&options).unwrap();
    assert_eq!(parsed.sack_blocks, [Some((3, 4)), None, None, None]);
}

#[test]
fn sack_blocks_that_do_not_fit_are_dropped() {
    let blocks = [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))];
    let only_sack = TcpOptions { sack_blocks: blocks, ..TcpOptions::default() };
    assert_eq!(only_sack.len(), 4 + 32);
    let with_ts = TcpOptions { timestamps: Some((1, 2)), ..only_sack };
    assert_eq!(with_ts.len(), 12 + 4 + 24);
    let everything = TcpOptions { mss: Some(1), window_scale: Some(2), sack_permitted: true, ..with_ts };
    assert_eq!(everything.len(), 4 + 4 + 12 + 4 + 16);

    let repr = TcpRepr { options: with_ts, ..linux_syn_repr() };
    let bytes = emit_to_vec(&repr, SRC4, DST4);
    assert_eq!(bytes.len(), MAX_HEADER_LEN);
    let parsed = parse(&bytes, SRC4, DST4).unwrap();
    assert_eq!(parsed.options.sack_blocks, [Some((1, 2)), Some((3, 4)), Some((5, 6)), None]);
    assert_eq!(parsed.options.timestamps, Some((1, 2)));
}

#[test]
fn segment_len_counts_syn_and_fin() {
    let mut repr = TcpRepr { payload: b"abc", ..linux_syn_repr() };
    assert_eq!(repr.segment_len(), 4);
    repr.flags.fin = true;
    assert_eq!(repr.segment_len(), 5);
    repr.flags.syn = false;
    assert_eq!(repr.segment_len(), 4);
}

#[test]
fn emit_writes_only_its_own_bytes() {
    let repr = TcpRepr { payload: b"xyz", ..linux_syn_repr() };
    let mut buffer = vec![0xeeu8; repr.buffer_len() + 7];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buffer[..]), SRC4, DST4);
    assert!(buffer[repr.buffer_len()..].iter().all(|&b| b == 0xee));
    assert_eq!(parse(&buffer[..repr.buffer_len()], SRC4, DST4).unwrap(), repr);
}

fn arb_addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
    ]
}

prop_compose! {
    fn arb_options()(
        mss in proptest::option::of(any::<u16>()),
        window_scale in proptest::option::of(0..=MAX_WINDOW_SCALE),
        sack_permitted in any::<bool>(),
        timestamps in proptest::option::of(any::<(u32, u32)>()),
        blocks in proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
    ) -> TcpOptions {
        let mut options = TcpOptions { mss, window_scale, sack_permitted, sack_blocks: [None; 4], timestamps };
        for (slot, block) in options.sack_blocks.iter_mut().zip(blocks) {
            *slot = Some(block);
        }
        representable(options)
    }
}

/// `options` without the SACK blocks emit would drop for lack of room.
fn representable(mut options: TcpOptions) -> TcpOptions {
    let fit = options.sack_blocks_to_emit();
    for slot in options.sack_blocks.iter_mut().skip(fit) {
        *slot = None;
    }
    options
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120), (src, dst) in arb_addr_pair()) {
        let _ = parse(&bytes, src, dst);
        let _ = TcpRepr::parse(&TcpPacket::new_unchecked(&bytes[..]), src, dst);
    }

    #[test]
    fn parse_never_panics_with_a_valid_checksum(
        mut bytes in proptest::collection::vec(any::<u8>(), 20..120),
        (src, dst) in arb_addr_pair(),
    ) {
        // Make the header length plausible and the checksum right so parsing reaches the options.
        let max_words = (bytes.len().min(MAX_HEADER_LEN) / 4) as u8;
        bytes[12] = (5 + bytes[12] % (max_words - 4)) << 4;
        TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(src, dst);
        if let Ok(repr) = parse(&bytes, src, dst) {
            // Whatever parsed, re-emitting and re-parsing gives the same repr (less any SACK blocks a
            // tightly packed sender fitted beside MSS and timestamps, which emit's aligned layout drops).
            let again = emit_to_vec(&repr, src, dst);
            let expected = TcpRepr { options: representable(repr.options), ..repr };
            prop_assert_eq!(parse(&again, src, dst), Ok(expected));
        }
    }

    #[test]
    fn emit_then_parse_is_identity(
        src_port in 1..=u16::MAX,
        dst_port in 1..=u16::MAX,
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in any::<u8>(),
        window in any::<u16>(),
        urgent in any::<u16>(),
        options in arb_options(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        (src, dst) in arb_addr_pair(),
    ) {
        let repr = TcpRepr {
            src_port, dst_port, seq, ack, flags: TcpFlags::from_byte(flags), window, urgent, options, payload: &payload,
        };
        let bytes = emit_to_vec(&repr, src, dst);
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(repr.header_len() % 4, 0);
        prop_assert!(repr.header_len() <= MAX_HEADER_LEN);
        prop_assert_eq!(parse(&bytes, src, dst), Ok(repr));
    }
}
