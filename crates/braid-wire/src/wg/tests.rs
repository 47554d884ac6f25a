//! Layout, round-trip and refusal tests for the WireGuard message views.

use proptest::prelude::*;

use super::*;

/// A byte pattern that differs at every offset, so a field read from the wrong place shows.
fn pattern<const N: usize>(seed: u8) -> [u8; N] {
    core::array::from_fn(|i| seed.wrapping_add(i as u8).wrapping_mul(7))
}

fn sample_initiation() -> InitiationRepr {
    InitiationRepr {
        sender_index: 0x1122_3344,
        ephemeral: pattern(1),
        encrypted_static: pattern(2),
        encrypted_timestamp: pattern(3),
        mac1: pattern(4),
        mac2: pattern(5),
    }
}

fn sample_response() -> ResponseRepr {
    ResponseRepr {
        sender_index: 0xa1b2_c3d4,
        receiver_index: 0x0102_0304,
        ephemeral: pattern(6),
        encrypted_nothing: pattern(7),
        mac1: pattern(8),
        mac2: pattern(9),
    }
}

fn sample_cookie_reply() -> CookieReplyRepr {
    CookieReplyRepr { receiver_index: 0xdead_beef, nonce: pattern(10), encrypted_cookie: pattern(11) }
}

fn emit_initiation(repr: &InitiationRepr) -> Vec<u8> {
    let mut buf = vec![0xff; repr.buffer_len()];
    let mut view = Initiation::new_unchecked(&mut buf[..]);
    view.check_len().unwrap();
    repr.emit(&mut view);
    buf
}

fn emit_response(repr: &ResponseRepr) -> Vec<u8> {
    let mut buf = vec![0xff; repr.buffer_len()];
    let mut view = Response::new_unchecked(&mut buf[..]);
    view.check_len().unwrap();
    repr.emit(&mut view);
    buf
}

fn emit_cookie_reply(repr: &CookieReplyRepr) -> Vec<u8> {
    let mut buf = vec![0xff; repr.buffer_len()];
    let mut view = CookieReply::new_unchecked(&mut buf[..]);
    view.check_len().unwrap();
    repr.emit(&mut view);
    buf
}

/// A transport message with `payload_len` bytes of ciphertext + tag.
fn transport_bytes(receiver: u32, counter: u64, payload_len: usize) -> Vec<u8> {
    let mut buf = vec![0xff; Transport::HEADER_LEN + payload_len];
    let mut view = Transport::new_unchecked(&mut buf[..]);
    view.set_header();
    view.set_receiver_index(receiver);
    view.set_counter(counter);
    for (i, byte) in view.payload_mut().iter_mut().enumerate() {
        *byte = i as u8;
    }
    buf
}

#[test]
fn sizes_match_the_protocol() {
    assert_eq!(Initiation::LEN, 148);
    assert_eq!(Response::LEN, 92);
    assert_eq!(CookieReply::LEN, 64);
    assert_eq!(Transport::HEADER_LEN, 16);
    assert_eq!(Transport::TAG_LEN, 16);
    assert_eq!(Transport::MIN_LEN, 32);
    assert_eq!(sample_initiation().buffer_len(), 148);
    assert_eq!(sample_response().buffer_len(), 92);
    assert_eq!(sample_cookie_reply().buffer_len(), 64);
}

#[test]
fn initiation_emits_the_documented_layout() {
    let repr = sample_initiation();
    let mut expected = vec![1, 0, 0, 0];
    expected.extend_from_slice(&repr.sender_index.to_le_bytes());
    expected.extend_from_slice(&repr.ephemeral);
    expected.extend_from_slice(&repr.encrypted_static);
    expected.extend_from_slice(&repr.encrypted_timestamp);
    expected.extend_from_slice(&repr.mac1);
    expected.extend_from_slice(&repr.mac2);
    assert_eq!(emit_initiation(&repr), expected);
}

#[test]
fn response_emits_the_documented_layout() {
    let repr = sample_response();
    let mut expected = vec![2, 0, 0, 0];
    expected.extend_from_slice(&repr.sender_index.to_le_bytes());
    expected.extend_from_slice(&repr.receiver_index.to_le_bytes());
    expected.extend_from_slice(&repr.ephemeral);
    expected.extend_from_slice(&repr.encrypted_nothing);
    expected.extend_from_slice(&repr.mac1);
    expected.extend_from_slice(&repr.mac2);
    assert_eq!(emit_response(&repr), expected);
}

#[test]
fn cookie_reply_emits_the_documented_layout() {
    let repr = sample_cookie_reply();
    let mut expected = vec![3, 0, 0, 0];
    expected.extend_from_slice(&repr.receiver_index.to_le_bytes());
    expected.extend_from_slice(&repr.nonce);
    expected.extend_from_slice(&repr.encrypted_cookie);
    assert_eq!(emit_cookie_reply(&repr), expected);
}

#[test]
fn transport_header_layout() {
    let buf = transport_bytes(0x0a0b_0c0d, 0x0102_0304_0506_0708, 20);
    assert_eq!(&buf[..16], &[4, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a, 8, 7, 6, 5, 4, 3, 2, 1]);
    let view = Transport::new_checked(&buf[..]).unwrap();
    assert_eq!(view.receiver_index(), 0x0a0b_0c0d);
    assert_eq!(view.counter(), 0x0102_0304_0506_0708);
    assert_eq!(view.payload(), &(0..20).collect::<Vec<u8>>()[..]);
    assert!(!view.is_keepalive());
}

#[test]
fn handshake_views_round_trip_through_their_reprs() {
    let initiation = sample_initiation();
    let bytes = emit_initiation(&initiation);
    let view = Initiation::new_checked(&bytes[..]).unwrap();
    assert_eq!(InitiationRepr::parse(&view), initiation);

    let response = sample_response();
    let bytes = emit_response(&response);
    let view = Response::new_checked(&bytes[..]).unwrap();
    assert_eq!(ResponseRepr::parse(&view), response);

    let cookie = sample_cookie_reply();
    let bytes = emit_cookie_reply(&cookie);
    let view = CookieReply::new_checked(&bytes[..]).unwrap();
    assert_eq!(CookieReplyRepr::parse(&view), cookie);
}

#[test]
fn mac_ranges_locate_the_macs() {
    let repr = sample_initiation();
    let bytes = emit_initiation(&repr);
    assert_eq!(Initiation::MAC1_RANGE, 116..132);
    assert_eq!(Initiation::MAC2_RANGE, 132..148);
    assert_eq!(&bytes[Initiation::MAC1_RANGE], &repr.mac1);
    assert_eq!(&bytes[Initiation::MAC2_RANGE], &repr.mac2);
    let view = Initiation::new_checked(&bytes[..]).unwrap();
    assert_eq!(view.mac1_covered(), &bytes[..116]);
    assert_eq!(view.mac2_covered(), &bytes[..132]);

    let repr = sample_response();
    let bytes = emit_response(&repr);
    assert_eq!(Response::MAC1_RANGE, 60..76);
    assert_eq!(Response::MAC2_RANGE, 76..92);
    assert_eq!(&bytes[Response::MAC1_RANGE], &repr.mac1);
    assert_eq!(&bytes[Response::MAC2_RANGE], &repr.mac2);
    let view = Response::new_checked(&bytes[..]).unwrap();
    assert_eq!(view.mac1_covered(), &bytes[..60]);
    assert_eq!(view.mac2_covered(), &bytes[..76]);
}

#[test]
fn setting_mac_after_emit_changes_only_the_mac() {
    let repr = sample_initiation();
    let mut bytes = emit_initiation(&repr);
    let before = bytes.clone();
    let mut view = Initiation::new_checked(&mut bytes[..]).unwrap();
    view.set_mac2(&[0xaa; 16]);
    assert_eq!(view.mac2(), [0xaa; 16]);
    assert_eq!(&bytes[..132], &before[..132]);
}

#[test]
fn wrong_lengths_are_refused() {
    let cases: [(Vec<u8>, MessageType); 3] = [
        (emit_initiation(&sample_initiation()), MessageType::Initiation),
        (emit_response(&sample_response()), MessageType::Response),
        (emit_cookie_reply(&sample_cookie_reply()), MessageType::CookieReply),
    ];
    for (bytes, message_type) in cases {
        let expected = bytes.len();
        let mut longer = bytes.clone();
        longer.push(0);
        for candidate in [&bytes[..expected - 1], &bytes[..4], &longer[..]] {
            let want = Err(WireError::WrongLength { message_type, expected, actual: candidate.len() });
            assert_eq!(Message::parse(candidate).map(|_| ()), want);
            let direct = match message_type {
                MessageType::Initiation => Initiation::new_checked(candidate).map(|_| ()),
                MessageType::Response => Response::new_checked(candidate).map(|_| ()),
                _ => CookieReply::new_checked(candidate).map(|_| ()),
            };
            assert_eq!(direct, want);
        }
    }
}

#[test]
fn transport_needs_header_and_tag() {
    for payload_len in 0..16 {
        let bytes = transport_bytes(1, 2, payload_len);
        let want = Err(WireError::TransportTooShort { actual: 16 + payload_len });
        assert_eq!(Transport::new_checked(&bytes[..]).map(|_| ()), want);
        assert_eq!(Message::parse(&bytes).map(|_| ()), want);
    }
    let keepalive = transport_bytes(1, 2, 16);
    assert!(Transport::new_checked(&keepalive[..]).unwrap().is_keepalive());
    // Any length from the minimum up is accepted: padding hides inside the ciphertext.
    for payload_len in [17, 31, 33, 1420] {
        let bytes = transport_bytes(1, 2, payload_len);
        let view = Transport::new_checked(&bytes[..]).unwrap();
        assert_eq!(view.payload().len(), payload_len);
    }
}

#[test]
fn short_headers_are_refused() {
    let three_bytes = [1u8, 0, 0];
    for len in 0..=3 {
        let bytes = &three_bytes[..len];
        assert_eq!(Message::parse(bytes).map(|_| ()), Err(WireError::HeaderTooShort { actual: bytes.len() }));
        assert_eq!(Transport::new_checked(bytes).map(|_| ()), Err(WireError::HeaderTooShort { actual: bytes.len() }));
    }
}

#[test]
fn unknown_types_are_refused() {
    for type_byte in [0u8, 5, 6, 0x80, 0xff] {
        let mut bytes = emit_initiation(&sample_initiation());
        bytes[0] = type_byte;
        assert_eq!(Message::parse(&bytes).map(|_| ()), Err(WireError::UnknownType(type_byte)));
        assert_eq!(Initiation::new_checked(&bytes[..]).map(|_| ()), Err(WireError::UnknownType(type_byte)));
    }
}

#[test]
fn a_view_refuses_another_type() {
    let bytes = emit_response(&sample_response());
    assert_eq!(
        Initiation::new_checked(&bytes[..]).map(|_| ()),
        Err(WireError::WrongType { expected: MessageType::Initiation, found: MessageType::Response })
    );
    let bytes = transport_bytes(1, 2, 48);
    assert_eq!(
        CookieReply::new_checked(&bytes[..]).map(|_| ()),
        Err(WireError::WrongType { expected: MessageType::CookieReply, found: MessageType::Transport })
    );
}

#[test]
fn every_nonzero_reserved_byte_is_refused() {
    let messages = [
        emit_initiation(&sample_initiation()),
        emit_response(&sample_response()),
        emit_cookie_reply(&sample_cookie_reply()),
        transport_bytes(7, 9, 32),
    ];
    for bytes in messages {
        assert!(Message::parse(&bytes).is_ok());
        for position in 1..4 {
            for value in [1u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[position] = value;
                let mut reserved = [0u8; 3];
                reserved[position - 1] = value;
                assert_eq!(Message::parse(&bad).map(|_| ()), Err(WireError::ReservedNotZero(reserved)));
            }
        }
    }
}

#[test]
fn message_parse_dispatches_on_type() {
    let bytes = emit_initiation(&sample_initiation());
    let Ok(Message::Initiation(view)) = Message::parse(&bytes) else { panic!("not an initiation") };
    assert_eq!(view.sender_index(), 0x1122_3344);

    let bytes = emit_response(&sample_response());
    let Ok(Message::Response(view)) = Message::parse(&bytes) else { panic!("not a response") };
    assert_eq!(view.receiver_index(), 0x0102_0304);

    let bytes = emit_cookie_reply(&sample_cookie_reply());
    let Ok(Message::CookieReply(view)) = Message::parse(&bytes) else { panic!("not a cookie reply") };
    assert_eq!(view.receiver_index(), 0xdead_beef);

    let bytes = transport_bytes(5, 6, 16);
    let message = Message::parse(&bytes).unwrap();
    assert_eq!(message.message_type(), MessageType::Transport);
    assert_eq!(message.as_bytes(), &bytes[..]);
    let Message::Transport(view) = message else { panic!("not a transport message") };
    assert_eq!((view.receiver_index(), view.counter()), (5, 6));
}

#[test]
fn transport_payload_is_mutable_in_place_through_message() {
    let mut bytes = transport_bytes(5, 6, 32);
    let Ok(Message::Transport(mut view)) = Message::new_checked(&mut bytes[..]) else { panic!("not transport") };
    view.payload_mut().fill(0x5a);
    assert_eq!(&bytes[16..], &[0x5a; 32]);
    assert_eq!(&bytes[..4], &[4, 0, 0, 0]);
}

#[test]
fn errors_describe_the_defect() {
    let wrong_len = WireError::WrongLength { message_type: MessageType::Initiation, expected: 148, actual: 147 };
    assert_eq!(wrong_len.to_string(), "a handshake initiation (type 1) must be exactly 148 bytes, got 147");
    assert_eq!(WireError::UnknownType(9).to_string(), "unknown message type 9");
    assert_eq!(WireError::ReservedNotZero([0, 1, 0]).to_string(), "reserved header bytes are not zero: [00, 01, 00]");
}

#[test]
fn message_type_byte_mapping() {
    for byte in 0..=255u8 {
        match MessageType::from_byte(byte) {
            Some(message_type) => assert_eq!(message_type.to_byte(), byte),
            None => assert!(!(1..=4).contains(&byte)),
        }
    }
}

/// Puts a valid header for `type_byte` in front of arbitrary bytes, at that type's length.
fn with_valid_header(type_byte: u8, mut body: Vec<u8>) -> Vec<u8> {
    let len = match type_byte {
        1 => 148,
        2 => 92,
        3 => 64,
        _ => body.len().max(32),
    };
    body.resize(len, 0x33);
    body[..4].copy_from_slice(&[type_byte, 0, 0, 0]);
    body
}

proptest! {
    #[test]
    fn parse_never_panics_and_checked_views_read_safely(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(message) = Message::parse(&bytes) {
            prop_assert_eq!(message.as_bytes(), &bytes[..]);
            match message {
                Message::Initiation(view) => { InitiationRepr::parse(&view); view.mac2_covered(); }
                Message::Response(view) => { ResponseRepr::parse(&view); view.mac2_covered(); }
                Message::CookieReply(view) => { CookieReplyRepr::parse(&view); }
                Message::Transport(view) => { prop_assert!(view.payload().len() >= 16); view.counter(); }
            }
        }
    }

    #[test]
    fn valid_handshakes_reemit_byte_for_byte(
        type_byte in 1u8..=3,
        body in proptest::collection::vec(any::<u8>(), 0..160),
    ) {
        let bytes = with_valid_header(type_byte, body);
        let mut out = vec![0u8; bytes.len()];
        match Message::parse(&bytes) {
            Ok(Message::Initiation(view)) => InitiationRepr::parse(&view).emit(&mut Initiation::new_unchecked(&mut out[..])),
            Ok(Message::Response(view)) => ResponseRepr::parse(&view).emit(&mut Response::new_unchecked(&mut out[..])),
            Ok(Message::CookieReply(view)) => CookieReplyRepr::parse(&view).emit(&mut CookieReply::new_unchecked(&mut out[..])),
            other => return Err(TestCaseError::fail(format!("valid message refused: {other:?}"))),
        }
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn transport_of_any_length_from_32_is_accepted(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let bytes = with_valid_header(4, body);
        let Ok(Message::Transport(view)) = Message::parse(&bytes) else {
            return Err(TestCaseError::fail("valid transport refused"));
        };
        prop_assert_eq!(view.payload(), &bytes[16..]);
    }
}
