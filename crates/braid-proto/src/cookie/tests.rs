//! Round trips between the sender's [`MacSealer`] and the responder's [`CookieChecker`], and
//! the ways each must refuse.

use super::*;
use crate::constants::{COOKIE_MAX_AGE, COOKIE_SECRET_MAX_AGE};
use crate::crypto::StaticSecret;
use crate::time::Instant;
use core::net::SocketAddr;
use core::time::Duration;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const INITIATION_LEN: usize = 148;
const RESPONSE_LEN: usize = 92;

fn public(seed: u8) -> PublicKey {
    StaticSecret::from_bytes([seed; 32]).public_key()
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0x5eed)
}

/// A handshake message of `len` bytes with a type header and random body, MACs still zero.
fn message(rng: &mut ChaCha8Rng, msg_type: u8, len: usize) -> Vec<u8> {
    let mut msg = vec![0u8; len];
    rng.fill_bytes(&mut msg[4..len - 32]);
    msg[0] = msg_type;
    msg
}

fn mac1_of(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 32..msg.len() - 16]
}

fn mac2_of(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 16..]
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A sealer that has learned a cookie for `src` from `checker` at `now`; returns it with the
/// message it sealed.
fn sealer_with_cookie(
    responder: &PublicKey,
    checker: &mut CookieChecker,
    rng: &mut ChaCha8Rng,
    now: Instant,
    src: SocketAddr,
) -> MacSealer {
    let mut sealer = MacSealer::new(responder);
    let mut msg = message(rng, 1, INITIATION_LEN);
    sealer.seal(now, &mut msg).unwrap();
    assert!(checker.verify_mac1(&msg));
    let reply = checker.create_reply(now, rng, src, &msg, 0x1234_5678).unwrap();
    sealer.consume_cookie_reply(now, &reply).unwrap();
    sealer
}

#[test]
fn mac1_verifies_for_the_right_key_only() {
    let mut rng = rng();
    let responder = public(1);
    let checker = CookieChecker::new(&responder);
    let mut sealer = MacSealer::new(&responder);
    for (ty, len) in [(1, INITIATION_LEN), (2, RESPONSE_LEN)] {
        let mut msg = message(&mut rng, ty, len);
        sealer.seal(Instant::ZERO, &mut msg).unwrap();
        assert_ne!(mac1_of(&msg), &[0u8; 16][..]);
        assert!(checker.verify_mac1(&msg));
        // Any flipped bit before mac2 breaks mac1; mac2 itself is not covered by mac1.
        for i in 0..len - 16 {
            let mut bad = msg.clone();
            bad[i] ^= 0x01 << (i % 8);
            assert!(!checker.verify_mac1(&bad), "bit flip at byte {i} of a {len}-byte message");
        }
        let mut other_mac2 = msg.clone();
        other_mac2[len - 1] ^= 0x80;
        assert!(checker.verify_mac1(&other_mac2));
        assert!(!CookieChecker::new(&public(2)).verify_mac1(&msg), "wrong responder key");
    }
}

#[test]
fn short_buffers_are_refused_without_panicking() {
    let mut rng = rng();
    let mut checker = CookieChecker::new(&public(1));
    let mut sealer = MacSealer::new(&public(1));
    for len in [0, 1, 16, 31] {
        let mut msg = vec![0u8; len];
        assert_eq!(sealer.seal(Instant::ZERO, &mut msg), Err(CookieError::MessageTooShort { len }));
        assert!(!checker.verify_mac1(&msg));
        assert!(!checker.verify_mac2(Instant::ZERO, addr("192.0.2.1:1"), &msg));
        assert_eq!(
            checker.create_reply(Instant::ZERO, &mut rng, addr("192.0.2.1:1"), &msg, 1),
            Err(CookieError::MessageTooShort { len })
        );
    }
}

#[test]
fn mac2_is_zero_without_a_cookie() {
    let mut rng = rng();
    let mut sealer = MacSealer::new(&public(1));
    let mut msg = message(&mut rng, 1, INITIATION_LEN);
    msg[INITIATION_LEN - 16..].fill(0xaa);
    sealer.seal(Instant::from_secs(1), &mut msg).unwrap();
    assert_eq!(mac2_of(&msg), &[0u8; 16][..]);
    assert!(!sealer.has_fresh_cookie(Instant::from_secs(1)));
}

#[test]
fn cookie_reply_round_trip_binds_mac2_to_source_ip_and_port() {
    let mut rng = rng();
    let responder = public(1);
    let mut checker = CookieChecker::new(&responder);
    let src = addr("198.18.0.2:51820");
    let t0 = Instant::from_secs(10);

    let mut sealer = MacSealer::new(&responder);
    let mut first = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(t0, &mut first).unwrap();
    assert!(!checker.verify_mac2(t0, src, &first), "zero mac2 never verifies");
    let reply = checker.create_reply(t0, &mut rng, src, &first, 0xabcd_0001).unwrap();
    assert_eq!(reply.receiver_index, 0xabcd_0001);
    sealer.consume_cookie_reply(t0, &reply).unwrap();
    assert!(sealer.has_fresh_cookie(t0));

    // The next message carries mac2, which verifies for that IP and port only.
    let t1 = t0 + Duration::from_secs(3);
    let mut next = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(t1, &mut next).unwrap();
    assert_ne!(mac2_of(&next), &[0u8; 16][..]);
    assert!(checker.verify_mac1(&next));
    assert!(checker.verify_mac2(t1, src, &next));
    assert!(!checker.verify_mac2(t1, addr("198.18.0.2:51821"), &next), "other port");
    assert!(!checker.verify_mac2(t1, addr("198.18.0.3:51820"), &next), "other IP");
    assert!(!checker.verify_mac2(t1, addr("[fd00::2]:51820"), &next), "other family");
    // mac2 covers the whole message including mac1.
    let mut tampered = next.clone();
    tampered[INITIATION_LEN - 20] ^= 1;
    assert!(!checker.verify_mac2(t1, src, &tampered));

    // IPv6 sources work the same way, port included.
    let src6 = addr("[fd00::2]:4000");
    let mut sealer6 = sealer_with_cookie(&responder, &mut checker, &mut rng, t1, src6);
    let mut msg6 = message(&mut rng, 2, RESPONSE_LEN);
    sealer6.seal(t1, &mut msg6).unwrap();
    assert!(checker.verify_mac2(t1, src6, &msg6));
    assert!(!checker.verify_mac2(t1, addr("[fd00::2]:4001"), &msg6));
    assert!(!checker.verify_mac2(t1, addr("[fd00::3]:4000"), &msg6));
}

#[test]
fn cookie_replies_use_fresh_nonces() {
    let mut rng = rng();
    let mut checker = CookieChecker::new(&public(1));
    let msg = message(&mut rng, 1, INITIATION_LEN);
    let src = addr("192.0.2.1:5");
    let a = checker.create_reply(Instant::ZERO, &mut rng, src, &msg, 1).unwrap();
    let b = checker.create_reply(Instant::ZERO, &mut rng, src, &msg, 1).unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.encrypted_cookie, b.encrypted_cookie);
}

#[test]
fn replies_that_do_not_match_the_last_mac1_are_refused() {
    let mut rng = rng();
    let responder = public(1);
    let mut checker = CookieChecker::new(&responder);
    let src = addr("192.0.2.7:9");
    let t = Instant::from_secs(1);
    let mut sealer = MacSealer::new(&responder);

    let mut sent = message(&mut rng, 1, INITIATION_LEN);
    let other = {
        let mut m = message(&mut rng, 1, INITIATION_LEN);
        MacSealer::new(&responder).seal(t, &mut m).unwrap();
        m
    };
    let reply_for_other = checker.create_reply(t, &mut rng, src, &other, 1).unwrap();
    assert_eq!(sealer.consume_cookie_reply(t, &reply_for_other), Err(CookieError::UnexpectedReply), "nothing sent");

    sealer.seal(t, &mut sent).unwrap();
    assert_eq!(sealer.consume_cookie_reply(t, &reply_for_other), Err(CookieError::Authentication), "wrong aad");

    let mut forged = checker.create_reply(t, &mut rng, src, &sent, 1).unwrap();
    forged.encrypted_cookie[3] ^= 1;
    assert_eq!(sealer.consume_cookie_reply(t, &forged), Err(CookieError::Authentication), "tampered");

    let from_stranger = CookieChecker::new(&public(9)).create_reply(t, &mut rng, src, &sent, 1).unwrap();
    assert_eq!(sealer.consume_cookie_reply(t, &from_stranger), Err(CookieError::Authentication), "other key");
    assert!(!sealer.has_fresh_cookie(t));

    let genuine = checker.create_reply(t, &mut rng, src, &sent, 1).unwrap();
    sealer.consume_cookie_reply(t, &genuine).unwrap();
    assert_eq!(sealer.consume_cookie_reply(t, &genuine), Err(CookieError::UnexpectedReply), "replayed reply");
}

#[test]
fn mac2_stops_being_attached_after_cookie_max_age() {
    let mut rng = rng();
    let responder = public(1);
    let mut checker = CookieChecker::new(&responder);
    let src = addr("192.0.2.1:1000");
    let t0 = Instant::from_secs(100);
    let mut sealer = sealer_with_cookie(&responder, &mut checker, &mut rng, t0, src);

    let last_moment = Instant::from_nanos((t0 + COOKIE_MAX_AGE).as_nanos() - 1);
    let mut msg = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(last_moment, &mut msg).unwrap();
    assert_ne!(mac2_of(&msg), &[0u8; 16][..]);
    assert!(checker.verify_mac2(last_moment, src, &msg));

    let expired = t0 + COOKIE_MAX_AGE;
    assert!(!sealer.has_fresh_cookie(expired));
    sealer.seal(expired, &mut msg).unwrap();
    assert_eq!(mac2_of(&msg), &[0u8; 16][..]);
}

#[test]
fn cookies_stop_verifying_when_the_secret_rotates() {
    let mut rng = rng();
    let responder = public(1);
    let mut checker = CookieChecker::new(&responder);
    let src = addr("192.0.2.1:1000");
    // The secret is drawn at t = 0 by a reply to someone else.
    let mut other = message(&mut rng, 1, INITIATION_LEN);
    MacSealer::new(&responder).seal(Instant::ZERO, &mut other).unwrap();
    checker.create_reply(Instant::ZERO, &mut rng, addr("203.0.113.1:1"), &other, 1).unwrap();

    // Our sender gets its cookie at 110 s, still under the secret of t = 0.
    let t_cookie = Instant::from_secs(110);
    let mut sealer = sealer_with_cookie(&responder, &mut checker, &mut rng, t_cookie, src);
    let before = COOKIE_SECRET_MAX_AGE - Duration::from_nanos(1);
    let mut msg = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(Instant::from_duration(before), &mut msg).unwrap();
    assert!(checker.verify_mac2(Instant::from_duration(before), src, &msg));

    // At 120 s the secret is stale: the sender still has a young cookie (10 s old) and
    // attaches it, but it no longer verifies — first rotation.
    let t_rotated = Instant::from_duration(COOKIE_SECRET_MAX_AGE);
    let mut stale = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(t_rotated, &mut stale).unwrap();
    assert_ne!(mac2_of(&stale), &[0u8; 16][..]);
    assert!(!checker.verify_mac2(t_rotated, src, &stale));

    // A new reply (drawing the new secret) gives a cookie that works again...
    let t2 = t_rotated + Duration::from_secs(1);
    let mut sent = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(t2, &mut sent).unwrap();
    let reply = checker.create_reply(t2, &mut rng, src, &sent, 1).unwrap();
    sealer.consume_cookie_reply(t2, &reply).unwrap();
    let mut msg = message(&mut rng, 1, INITIATION_LEN);
    sealer.seal(t2, &mut msg).unwrap();
    assert!(checker.verify_mac2(t2, src, &msg));
    // ...while the message carrying the previous secret's cookie still fails now that the
    // new secret exists.
    assert!(!checker.verify_mac2(t2, src, &stale));

    // The second rotation (at t2 + 120 s) invalidates the cookie drawn at t2 as well.
    let t3 = t2 + COOKIE_SECRET_MAX_AGE;
    let mut other = message(&mut rng, 1, INITIATION_LEN);
    MacSealer::new(&responder).seal(t3, &mut other).unwrap();
    checker.create_reply(t3, &mut rng, addr("203.0.113.1:1"), &other, 1).unwrap();
    assert!(!checker.verify_mac2(t3, src, &msg), "cookie from two secrets ago");
}

#[test]
fn changing_the_local_key_rekeys_mac1_and_cookie_replies() {
    let mut rng = rng();
    let (old_pk, new_pk) = (public(1), public(2));
    let mut checker = CookieChecker::new(&old_pk);
    checker.set_local_public(&new_pk);
    let src = addr("192.0.2.1:1000");
    let t = Instant::from_secs(1);

    let mut to_old = MacSealer::new(&old_pk);
    let mut to_new = MacSealer::new(&new_pk);
    let mut m_old = message(&mut rng, 1, INITIATION_LEN);
    let mut m_new = m_old.clone();
    to_old.seal(t, &mut m_old).unwrap();
    to_new.seal(t, &mut m_new).unwrap();
    assert!(!checker.verify_mac1(&m_old));
    assert!(checker.verify_mac1(&m_new));

    // A reply is sealed under the new key's cookie key: only the sender that knows it opens it.
    let reply = checker.create_reply(t, &mut rng, src, &m_new, 1).unwrap();
    let mut imposter = MacSealer::new(&old_pk);
    imposter.seal(t, &mut m_new.clone()).unwrap();
    assert_eq!(imposter.consume_cookie_reply(t, &reply), Err(CookieError::Authentication));
    to_new.consume_cookie_reply(t, &reply).unwrap();
}
