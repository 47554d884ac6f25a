//! The cryptographic primitives WireGuard needs, behind one small boundary.
//!
//! Everything else in the crate calls these types and functions, never a crypto crate
//! directly, so the backend can be swapped (aws-lc-rs today; ring has the same speed) and
//! benchmarked in one place. Choices (docs/BENCHMARKS.md has the measurements): aws-lc-rs
//! for the data-path ChaCha20-Poly1305 and X25519, the fastest measured here;
//! `blake2s_simd` for hashing; the RustCrypto XChaCha20-Poly1305 only for cookie replies,
//! which aws-lc-rs does not offer.

mod aead;
mod blake2s;
mod x25519;
mod xaead;

pub use aead::{open_once, seal_once, AwsLcChaCha20Poly1305, TransportCipher, TransportKey};
pub use blake2s::{hash, hash2, hmac, kdf1, kdf2, kdf3, mac};
pub use x25519::{PublicKey, SharedSecret, StaticSecret};
pub use xaead::{xopen, xseal};

/// Length of every symmetric key and of an X25519 key.
pub const KEY_LEN: usize = 32;
/// Length of a Poly1305 authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of a BLAKE2s hash as WireGuard uses it.
pub const HASH_LEN: usize = 32;
/// Length of a keyed BLAKE2s-128 MAC (mac1, mac2, cookies).
pub const MAC_LEN: usize = 16;
/// Length of an XChaCha20-Poly1305 nonce (cookie replies).
pub const XNONCE_LEN: usize = 24;

/// A primitive refused its input: an authentication tag did not verify, a buffer was too
/// small, or a Diffie-Hellman result was all zeros (a low-order public key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The authentication tag did not verify.
    #[error("authentication failed")]
    Authentication,
    /// The buffer cannot hold the ciphertext and its tag.
    #[error("buffer too small")]
    BufferTooSmall,
    /// X25519 produced the all-zero secret: the public key has low order.
    #[error("low-order public key")]
    LowOrderPoint,
    /// The backend rejected a key.
    #[error("key rejected by the crypto backend")]
    BadKey,
}
