//! The receiving side of the MACs: one [`CookieChecker`] per device.

use super::source::SourceBytes;
use super::{cookie_key, mac1_key, mac_offsets, CookieError};
use crate::constants::COOKIE_SECRET_MAX_AGE;
use crate::crypto::{mac, xseal, PublicKey, HASH_LEN, MAC_LEN, XNONCE_LEN};
use crate::time::Instant;
use braid_wire::wg::CookieReplyRepr;
use core::net::SocketAddr;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// The random secret cookies are computed under, and when it was drawn.
struct CookieSecret {
    bytes: [u8; HASH_LEN],
    created_at: Instant,
}

/// Verifies mac1/mac2 of incoming handshake messages and issues cookie replies.
///
/// Guarantees: MAC comparisons are constant-time; a cookie is MAC(secret, source IP || port),
/// so it is only good for the exact address and port it was issued to; the secret is drawn
/// from the caller's RNG when first needed and replaced once it is [`COOKIE_SECRET_MAX_AGE`]
/// (120 s) old, at which point every cookie issued under it stops verifying. Rotation is lazy:
/// [`verify_mac2`](Self::verify_mac2) discards an expired secret (nothing can verify against
/// it), [`create_reply`](Self::create_reply) draws the replacement. Secrets are zeroed when
/// replaced and on drop.
pub struct CookieChecker {
    mac1_key: [u8; HASH_LEN],
    cookie_key: [u8; HASH_LEN],
    secret: Option<CookieSecret>,
}

impl CookieChecker {
    /// A checker for a device whose static public key is `local_public`.
    pub fn new(local_public: &PublicKey) -> Self {
        CookieChecker { mac1_key: mac1_key(local_public), cookie_key: cookie_key(local_public), secret: None }
    }

    /// Re-derives the mac1 and cookie-reply keys after the device's private key changed;
    /// without this, every sender that knows the new public key would fail mac1.
    pub fn set_local_public(&mut self, local_public: &PublicKey) {
        // Plain assignment overwrites the old keys in place.
        self.mac1_key = mac1_key(local_public);
        self.cookie_key = cookie_key(local_public);
    }

    /// True when `msg` (a whole handshake message) carries a valid mac1 for our public key.
    /// Messages shorter than the two MACs are refused.
    pub fn verify_mac1(&self, msg: &[u8]) -> bool {
        let Some((mac1_at, mac2_at)) = mac_offsets(msg.len()) else {
            return false;
        };
        let expected = mac(&self.mac1_key, &msg[..mac1_at]);
        expected.ct_eq(&msg[mac1_at..mac2_at]).into()
    }

    /// True when `msg` carries a mac2 made with the cookie we would currently give `src`.
    /// Does not check mac1; the caller does that first.
    pub fn verify_mac2(&mut self, now: Instant, src: SocketAddr, msg: &[u8]) -> bool {
        let Some((_, mac2_at)) = mac_offsets(msg.len()) else {
            return false;
        };
        self.discard_expired_secret(now);
        let Some(secret) = &self.secret else {
            return false;
        };
        let mut cookie = mac(&secret.bytes, SourceBytes::new(src).as_bytes());
        let expected = mac(&cookie, &msg[..mac2_at]);
        cookie.zeroize();
        expected.ct_eq(&msg[mac2_at..]).into()
    }

    /// Builds the cookie reply for `msg`, a handshake message from `src` whose mac1 the caller
    /// has verified. `receiver_index` is the sender index of `msg`. Draws a fresh secret first
    /// if there is none or it has expired.
    pub fn create_reply(
        &mut self,
        now: Instant,
        rng: &mut dyn rand_core::CryptoRng,
        src: SocketAddr,
        msg: &[u8],
        receiver_index: u32,
    ) -> Result<CookieReplyRepr, CookieError> {
        let (mac1_at, mac2_at) = mac_offsets(msg.len()).ok_or(CookieError::MessageTooShort { len: msg.len() })?;
        let secret = self.current_secret(now, rng);
        let mut cookie = mac(secret, SourceBytes::new(src).as_bytes());

        let mut nonce = [0u8; XNONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut encrypted_cookie = [0u8; 32];
        encrypted_cookie[..MAC_LEN].copy_from_slice(&cookie);
        cookie.zeroize();
        xseal(&self.cookie_key, &nonce, &msg[mac1_at..mac2_at], &mut encrypted_cookie, MAC_LEN)?;
        Ok(CookieReplyRepr { receiver_index, nonce, encrypted_cookie })
    }

    fn discard_expired_secret(&mut self, now: Instant) {
        if self.secret.as_ref().is_some_and(|s| s.created_at.has_elapsed(now, COOKIE_SECRET_MAX_AGE)) {
            if let Some(mut old) = self.secret.take() {
                old.bytes.zeroize();
            }
        }
    }

    fn current_secret(&mut self, now: Instant, rng: &mut dyn rand_core::CryptoRng) -> &[u8; HASH_LEN] {
        self.discard_expired_secret(now);
        let secret = self.secret.get_or_insert_with(|| {
            let mut bytes = [0u8; HASH_LEN];
            rng.fill_bytes(&mut bytes);
            CookieSecret { bytes, created_at: now }
        });
        &secret.bytes
    }
}

impl Drop for CookieChecker {
    fn drop(&mut self) {
        self.mac1_key.zeroize();
        self.cookie_key.zeroize();
        if let Some(secret) = self.secret.as_mut() {
            secret.bytes.zeroize();
        }
    }
}

impl core::fmt::Debug for CookieChecker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieChecker")
            .field("secret_created_at", &self.secret.as_ref().map(|s| s.created_at))
            .finish_non_exhaustive()
    }
}
