//! Protocol constants from the WireGuard whitepaper (2020 revision) and the kernel module.
//!
//! They live in one place so a test can name the exact edge it exercises
//! (`REJECT_AFTER_MESSAGES - 1`, `REKEY_AFTER_TIME + 1 ns`) instead of repeating numbers.

use core::time::Duration;

/// Noise construction name hashed into the initial chaining key.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// Protocol identifier mixed into the initial hash.
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// Label for the mac1 key: HASH(LABEL_MAC1 || responder static public key).
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Label for the cookie encryption key: HASH(LABEL_COOKIE || responder static public key).
pub const LABEL_COOKIE: &[u8] = b"cookie--";

/// Initiate a new handshake after this many messages were sent on one session.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Never send or accept a counter at or beyond this value on one session.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// The initiator rekeys when sending on a session at least this old.
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// A session older than this is never used to send or receive.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// Stop retrying a handshake after this long without success.
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// Retry an unanswered initiation after this long (plus jitter).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of the random jitter added to each handshake retry.
pub const REKEY_TIMEOUT_JITTER_MAX: Duration = Duration::from_millis(333);
/// Send a keepalive when data was received but nothing sent for this long.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The initiator rekeys when receiving on a session at least this old
/// (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT).
pub const REKEY_AFTER_TIME_RECV: Duration = Duration::from_secs(165);
/// Start a handshake when data was sent but nothing received for this long.
pub const NEW_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Zero all keys of a peer after this long without a new session (3 × REJECT_AFTER_TIME).
pub const ZERO_KEYS_AFTER: Duration = Duration::from_secs(540);
/// The cookie secret rotates this often; cookies older than this are not used.
pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);
/// A cookie learned from a reply is attached (as mac2) for at most this long.
pub const COOKIE_MAX_AGE: Duration = Duration::from_secs(120 - 5);
/// At most this many initiations per second are accepted from one peer.
pub const MAX_INITIATIONS_PER_SECOND: u32 = 50;
/// The minimum spacing between two accepted initiations of one peer (1 s / 50).
pub const INITIATION_MIN_INTERVAL: Duration = Duration::from_millis(20);
/// Under-load mode stays on for this long after the load was last seen.
pub const UNDER_LOAD_STICKY: Duration = Duration::from_secs(1);
/// Per-source handshake rate under load: packets per second.
pub const RATELIMIT_PACKETS_PER_SECOND: u32 = 20;
/// Per-source handshake burst under load.
pub const RATELIMIT_BURST: u32 = 5;
/// Default anti-replay window, in packets (the Linux kernel's 8192 − 64).
pub const DEFAULT_REPLAY_WINDOW: usize = 8128;
/// Packets queued per peer while a handshake is in progress (older ones are dropped first).
pub const MAX_STAGED_PACKETS: usize = 128;
