//! Parsed forms of the handshake messages: plain data the protocol code fills in or reads,
//! independent of where the fields sit in the datagram.

/// A handshake initiation (type 1, 148 bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitiationRepr {
    /// The initiator's session index, echoed by the response.
    pub sender_index: u32,
    /// The initiator's ephemeral public key.
    pub ephemeral: [u8; 32],
    /// The initiator's static public key, AEAD-sealed (32 + 16 bytes).
    pub encrypted_static: [u8; 48],
    /// The TAI64N timestamp, AEAD-sealed (12 + 16 bytes).
    pub encrypted_timestamp: [u8; 28],
    /// MAC over the message so far, keyed by the responder's public key.
    pub mac1: [u8; 16],
    /// MAC keyed by a cookie, or zeros when there is none.
    pub mac2: [u8; 16],
}

/// A handshake response (type 2, 92 bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ResponseRepr {
    /// The responder's session index.
    pub sender_index: u32,
    /// The initiator's session index from the initiation.
    pub receiver_index: u32,
    /// The responder's ephemeral public key.
    pub ephemeral: [u8; 32],
    /// The AEAD tag over the empty plaintext that confirms the keys.
    pub encrypted_nothing: [u8; 16],
    /// MAC over the message so far, keyed by the initiator's public key.
    pub mac1: [u8; 16],
    /// MAC keyed by a cookie, or zeros when there is none.
    pub mac2: [u8; 16],
}

/// A cookie reply (type 3, 64 bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CookieReplyRepr {
    /// The sender index of the handshake message this replies to.
    pub receiver_index: u32,
    /// Random XChaCha20 nonce.
    pub nonce: [u8; 24],
    /// The 16-byte cookie, sealed (16 + 16 bytes) with mac1 of the triggering message as AAD.
    pub encrypted_cookie: [u8; 32],
}
