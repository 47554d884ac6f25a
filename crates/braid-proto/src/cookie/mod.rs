//! WireGuard's denial-of-service defences (whitepaper §5.4.4 and §5.4.7).
//!
//! Every handshake message ends with two MACs. mac1 is keyed by the receiver's static public
//! key, so a responder drops — before any Diffie-Hellman work — messages from anyone who does
//! not know whom they are talking to. mac2 is keyed by a *cookie*: a MAC of the sender's IP
//! address and port under a secret the responder rotates every two minutes. Only when the
//! responder is under load does it insist on mac2; a sender without one gets an encrypted
//! cookie reply instead of a handshake, which proves the sender can receive at its address
//! before the responder spends any expensive work on it. Messages with a valid mac2 then pass
//! a per-source token bucket so one address cannot monopolise the handshake budget.
//!
//! The pieces, each a plain state machine fed `now` (and an RNG where one is needed):
//! - [`MacSealer`]: the sending side, one per peer; writes mac1/mac2 and learns cookies.
//! - [`CookieChecker`]: the receiving side, one per device; verifies MACs, issues cookie replies.
//! - [`RateLimiter`]: the per-source token bucket (IPv4 address or IPv6 /64).
//! - [`HandshakeBudget`]: the device-wide cap on handshake messages that reach the DH steps.
//! - [`LoadDetector`]: decides when the device is "under load".

mod checker;
mod error;
mod handshake_budget;
mod load;
mod mac_sealer;
mod rate_limiter;
mod source;

pub use checker::CookieChecker;
pub use error::CookieError;
pub use handshake_budget::{HandshakeBudget, DEFAULT_HANDSHAKE_BUDGET};
pub use load::{LoadDetector, DEFAULT_HANDSHAKE_LOAD_THRESHOLD};
pub use mac_sealer::MacSealer;
pub use rate_limiter::{RateLimiter, DEFAULT_RATELIMIT_MAX_SOURCES};

use crate::constants::{LABEL_COOKIE, LABEL_MAC1};
use crate::crypto::{hash2, PublicKey, HASH_LEN, MAC_LEN};

/// Length of the mac1 and mac2 fields at the end of a handshake message.
const MACS_LEN: usize = 2 * MAC_LEN;

/// Where mac1 and mac2 start in a handshake message of `len` bytes, or `None` when the
/// message is too short to carry them.
fn mac_offsets(len: usize) -> Option<(usize, usize)> {
    let mac1_at = len.checked_sub(MACS_LEN)?;
    Some((mac1_at, mac1_at + MAC_LEN))
}

/// HASH("mac1----" || public): the key of mac1 for messages sent to `public`.
fn mac1_key(public: &PublicKey) -> [u8; HASH_LEN] {
    hash2(LABEL_MAC1, &public.0)
}

/// HASH("cookie--" || public): the XChaCha20-Poly1305 key of cookie replies sent by `public`.
fn cookie_key(public: &PublicKey) -> [u8; HASH_LEN] {
    hash2(LABEL_COOKIE, &public.0)
}

#[cfg(test)]
mod tests;
