//! The sending side of the MACs: one [`MacSealer`] per peer.

use super::{cookie_key, mac1_key, mac_offsets, CookieError};
use crate::constants::COOKIE_MAX_AGE;
use crate::crypto::{mac, xopen, PublicKey, HASH_LEN, MAC_LEN};
use crate::time::Instant;
use braid_wire::wg::CookieReplyRepr;
use zeroize::Zeroize;

/// A cookie learned from a cookie reply, with the time it arrived.
struct LearnedCookie {
    value: [u8; MAC_LEN],
    received_at: Instant,
}

/// Writes mac1 and mac2 into the handshake messages sent to one peer, and learns the cookies
/// that peer hands out when it is under load.
///
/// Guarantees: mac1 is always keyed by the peer's static public key; mac2 is a MAC under the
/// last cookie only while that cookie is younger than [`COOKIE_MAX_AGE`] (115 s, so it is
/// never used past the responder's 120 s secret rotation), otherwise sixteen zero bytes; a
/// cookie reply is accepted only if it authenticates against the mac1 of the last message
/// sealed here, and at most once per sealed message (a replayed reply is refused). Both keys
/// are derived once at construction; all secrets are zeroed on drop.
pub struct MacSealer {
    mac1_key: [u8; HASH_LEN],
    cookie_key: [u8; HASH_LEN],
    /// mac1 of the last message sealed, while a cookie reply for it may still arrive.
    awaiting_reply_for: Option<[u8; MAC_LEN]>,
    cookie: Option<LearnedCookie>,
}

impl MacSealer {
    /// A sealer for messages sent to the peer whose static public key is `remote_static`.
    pub fn new(remote_static: &PublicKey) -> Self {
        MacSealer {
            mac1_key: mac1_key(remote_static),
            cookie_key: cookie_key(remote_static),
            awaiting_reply_for: None,
            cookie: None,
        }
    }

    /// Writes mac1 and mac2 over the last 32 bytes of `msg`, a complete handshake message
    /// (initiation or response) whose other fields are final. Remembers mac1 so a cookie reply
    /// to this message can be authenticated.
    pub fn seal(&mut self, now: Instant, msg: &mut [u8]) -> Result<(), CookieError> {
        let (mac1_at, mac2_at) = mac_offsets(msg.len()).ok_or(CookieError::MessageTooShort { len: msg.len() })?;
        let mac1 = mac(&self.mac1_key, &msg[..mac1_at]);
        msg[mac1_at..mac2_at].copy_from_slice(&mac1);
        self.awaiting_reply_for = Some(mac1);

        self.forget_stale_cookie(now);
        let mac2 = match &self.cookie {
            Some(cookie) => mac(&cookie.value, &msg[..mac2_at]),
            None => [0u8; MAC_LEN],
        };
        msg[mac2_at..].copy_from_slice(&mac2);
        Ok(())
    }

    /// Learns the cookie in `reply`, which the caller routed here by its receiver index. The
    /// cookie is attached as mac2 to the next message sealed (it does not trigger a resend).
    pub fn consume_cookie_reply(&mut self, now: Instant, reply: &CookieReplyRepr) -> Result<(), CookieError> {
        let mac1 = self.awaiting_reply_for.ok_or(CookieError::UnexpectedReply)?;
        let mut buf = reply.encrypted_cookie;
        let opened = xopen(&self.cookie_key, &reply.nonce, &mac1, &mut buf);
        if opened != Ok(MAC_LEN) {
            buf.zeroize();
            return Err(CookieError::Authentication);
        }
        let mut value = [0u8; MAC_LEN];
        value.copy_from_slice(&buf[..MAC_LEN]);
        buf.zeroize();
        if let Some(old) = self.cookie.as_mut() {
            old.value.zeroize();
        }
        self.cookie = Some(LearnedCookie { value, received_at: now });
        self.awaiting_reply_for = None;
        Ok(())
    }

    /// True when the next sealed message will carry a non-zero mac2.
    pub fn has_fresh_cookie(&self, now: Instant) -> bool {
        self.cookie.as_ref().is_some_and(|c| !c.received_at.has_elapsed(now, COOKIE_MAX_AGE))
    }

    fn forget_stale_cookie(&mut self, now: Instant) {
        if !self.has_fresh_cookie(now) {
            if let Some(mut old) = self.cookie.take() {
                old.value.zeroize();
            }
        }
    }
}

impl Drop for MacSealer {
    fn drop(&mut self) {
        self.mac1_key.zeroize();
        self.cookie_key.zeroize();
        self.awaiting_reply_for.zeroize();
        if let Some(cookie) = self.cookie.as_mut() {
            cookie.value.zeroize();
        }
    }
}

impl core::fmt::Debug for MacSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MacSealer")
            .field("awaiting_reply", &self.awaiting_reply_for.is_some())
            .field("cookie_received_at", &self.cookie.as_ref().map(|c| c.received_at))
            .finish_non_exhaustive()
    }
}
