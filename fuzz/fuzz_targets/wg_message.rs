//! Fuzz target: WireGuard message parsing.
//!
//! Any input must parse or be refused without panicking; the generic dispatcher and the
//! per-type views must agree; and a valid message must re-emit from its repr byte for byte.
#![no_main]

use braid_wire::wg::{
    CookieReply, CookieReplyRepr, Initiation, InitiationRepr, Message, Response, ResponseRepr, Transport,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let initiation = Initiation::new_checked(data);
    let response = Response::new_checked(data);
    let cookie_reply = CookieReply::new_checked(data);
    let transport = Transport::new_checked(data);
    let accepted_by_views = [initiation.is_ok(), response.is_ok(), cookie_reply.is_ok(), transport.is_ok()]
        .iter()
        .filter(|ok| **ok)
        .count();

    let Ok(message) = Message::parse(data) else {
        assert_eq!(accepted_by_views, 0, "a view accepted what Message::parse refused");
        return;
    };
    assert_eq!(accepted_by_views, 1, "exactly one view must accept a valid message");
    assert_eq!(message.as_bytes(), data);

    match message {
        Message::Initiation(view) => {
            assert_eq!(Ok(view), initiation);
            let repr = InitiationRepr::parse(&view);
            let mut out = [0u8; 148];
            let mut out_view = Initiation::new_unchecked(&mut out[..]);
            out_view.check_len().expect("148-byte buffer");
            repr.emit(&mut out_view);
            assert_eq!(&out[..], data);
            assert_eq!(view.mac1_covered(), &data[..Initiation::MAC1_RANGE.start]);
            assert_eq!(view.mac2_covered(), &data[..Initiation::MAC2_RANGE.start]);
        }
        Message::Response(view) => {
            assert_eq!(Ok(view), response);
            let repr = ResponseRepr::parse(&view);
            let mut out = [0u8; 92];
            let mut out_view = Response::new_unchecked(&mut out[..]);
            out_view.check_len().expect("92-byte buffer");
            repr.emit(&mut out_view);
            assert_eq!(&out[..], data);
            assert_eq!(view.mac1_covered(), &data[..Response::MAC1_RANGE.start]);
            assert_eq!(view.mac2_covered(), &data[..Response::MAC2_RANGE.start]);
        }
        Message::CookieReply(view) => {
            assert_eq!(Ok(view), cookie_reply);
            let repr = CookieReplyRepr::parse(&view);
            let mut out = [0u8; 64];
            let mut out_view = CookieReply::new_unchecked(&mut out[..]);
            out_view.check_len().expect("64-byte buffer");
            repr.emit(&mut out_view);
            assert_eq!(&out[..], data);
        }
        Message::Transport(view) => {
            assert_eq!(Ok(view), transport);
            assert!(view.payload().len() >= Transport::TAG_LEN);
            let mut out = data.to_vec();
            out[..Transport::HEADER_LEN].fill(0xff);
            let mut out_view = Transport::new_unchecked(&mut out[..]);
            out_view.check_len().expect("same length as a valid message");
            out_view.set_header();
            out_view.set_receiver_index(view.receiver_index());
            out_view.set_counter(view.counter());
            assert_eq!(&out[..], data);
        }
    }
});
