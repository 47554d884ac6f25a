//! Why a cookie operation was refused.

use crate::crypto::CryptoError;

/// A MAC or cookie-reply operation could not be carried out. None of these is fatal: the
/// caller drops the offending message and carries on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// The buffer is shorter than the 32 bytes of mac1 and mac2, so it cannot be a handshake
    /// message.
    #[error("message of {len} bytes is too short to carry mac1 and mac2")]
    MessageTooShort {
        /// The length that was given.
        len: usize,
    },
    /// A cookie reply arrived although no handshake message is awaiting one (none was sent,
    /// or a reply for the last one was already consumed).
    #[error("cookie reply without a handshake message awaiting it")]
    UnexpectedReply,
    /// The cookie reply did not decrypt under our key with the mac1 we last sent as AAD.
    #[error("cookie reply failed authentication")]
    Authentication,
    /// A primitive failed while building a reply (cannot happen with correctly sized buffers).
    #[error("crypto failure: {0}")]
    Crypto(#[from] CryptoError),
}
