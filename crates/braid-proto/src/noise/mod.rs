//! The Noise_IKpsk2 handshake of WireGuard (whitepaper §5.4), as pure functions.
//!
//! Nothing here knows about a peers table, an index table, a clock or the OS random source:
//! keys, indices, the timestamp and the random number generator are passed in, and the results
//! are plain values the device stores where it likes. The flow:
//!
//! ```text
//! initiator                                   responder
//! create_initiation(local, peer, idx, ts, rng)
//!   -> InitiationRepr ---------------------->  begin_initiation(local, &msg)  (decrypts S_pub_i)
//!      + InitiatorState                           device looks the peer up by remote_static()
//!                                              opened.finish(&peer)  -> (timestamp, ResponderState)
//!                                                device checks timestamp.is_after(last) and flood
//!                                              create_response(state, &peer, idx, rng)
//!   consume_response(&state, ..) <----------- -> ResponseRepr + SessionKeys
//!   -> SessionKeys
//! ```
//!
//! mac1 and mac2 are not handled here: the messages come out with them zeroed and another
//! module seals them over the encoded bytes (and checks them before anything here runs). The
//! sender indices are likewise covered only by mac1, not by the Noise transcript.
//!
//! Every Diffie-Hellman goes through [`StaticSecret::diffie_hellman`](crate::crypto::StaticSecret::diffie_hellman),
//! which refuses the all-zero result of a low-order point, so a hostile ephemeral key yields
//! [`HandshakeError::LowOrderKey`]. Transient secrets (chaining keys, hashes, ephemeral keys,
//! session keys, the precomputed static-static DH) are zeroed when dropped.

mod handshake;
mod keys;
mod symmetric;
mod tai64n;

#[cfg(test)]
mod kat_tests;

pub use handshake::{
    begin_initiation, consume_response, create_initiation, create_response, InitiationOpened, InitiatorState,
    ResponderState,
};
pub use keys::{LocalIdentity, PeerSecrets, SessionKeys};
pub use tai64n::{Tai64N, TAI64N_LEN, TAI64N_WHITENING, TAI64_BASE};

use crate::crypto::CryptoError;

/// C₀ = HASH(CONSTRUCTION): the initial chaining key of every handshake
/// (`60e26dae…8b78cd36`; a test recomputes it from [`crate::constants::CONSTRUCTION`]).
pub const INITIAL_CHAINING_KEY: [u8; 32] = [
    0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0, 0x2e, 0xc3, 0x35, 0xe2, 0xa0, 0x25, 0xd2, 0xd0, 0x16, 0xeb, 0x42,
    0x06, 0xf8, 0x72, 0x77, 0xf5, 0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78, 0xcd, 0x36,
];

/// H₀ = HASH(C₀ || IDENTIFIER): the initial handshake hash (`2211b361…ba079ef3`; a test
/// recomputes it from [`crate::constants::IDENTIFIER`]).
pub const INITIAL_HASH: [u8; 32] = [
    0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66, 0x69, 0x12, 0x43, 0xdb, 0x45, 0x8a, 0xd5, 0x32, 0x2d, 0x9c, 0x6c,
    0x66, 0x22, 0x93, 0xe8, 0xb7, 0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07, 0x9e, 0xf3,
];

/// Why a handshake step failed. None of these may lead to a reply being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A Diffie-Hellman with the remote key gave the all-zero secret: the remote static or
    /// ephemeral public key has low order (hostile or corrupt).
    #[error("low-order public key (all-zero Diffie-Hellman result)")]
    LowOrderKey,
    /// The initiation's encrypted static key did not authenticate: not meant for our static
    /// key, or tampered with.
    #[error("initiation: static key did not decrypt")]
    StaticDecryption,
    /// The initiation's encrypted timestamp did not authenticate: the initiator does not hold
    /// the private key for the static key it claimed, or the message was tampered with.
    #[error("initiation: timestamp did not decrypt")]
    TimestampDecryption,
    /// The response's empty AEAD did not authenticate: wrong preshared key, wrong keys, or a
    /// tampered message.
    #[error("response: authentication failed (wrong preshared key or tampered message)")]
    ResponseAuthentication,
    /// The response names a receiver index other than this handshake's sender index.
    #[error("response: receiver index does not match the initiation")]
    ReceiverIndexMismatch,
    /// The `PeerSecrets` passed in are for a different remote static key than the handshake.
    #[error("peer secrets are for a different remote static key")]
    PeerMismatch,
    /// The `PeerSecrets` were precomputed with a different local identity (the private key
    /// changed and the peer was not rebound).
    #[error("peer secrets were precomputed for a different local identity")]
    IdentityMismatch,
    /// The crypto backend refused an operation (not expected with well-formed inputs).
    #[error("crypto backend error: {0}")]
    Crypto(CryptoError),
}

impl From<CryptoError> for HandshakeError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::LowOrderPoint => HandshakeError::LowOrderKey,
            other => HandshakeError::Crypto(other),
        }
    }
}
