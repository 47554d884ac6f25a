//! Why a datagram is not a well-formed WireGuard message.

use super::message_type::MessageType;

/// The reason a buffer was refused as a WireGuard message.
///
/// Each variant names the exact defect so a log line (or a fuzz failure) says what was wrong
/// without re-parsing the packet. No variant is produced after a view has been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer than 4 bytes: not even the type byte and reserved bytes are present.
    #[error("datagram of {actual} bytes is too short for the 4-byte message header")]
    HeaderTooShort {
        /// The buffer length that was offered.
        actual: usize,
    },
    /// The type byte is not 1, 2, 3 or 4.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// One of the three bytes after the type byte is not zero.
    #[error("reserved header bytes are not zero: {0:02x?}")]
    ReservedNotZero([u8; 3]),
    /// A view for one message type was given a buffer that holds another type.
    #[error("expected a {expected}, found a {found}")]
    WrongType {
        /// The type the view represents.
        expected: MessageType,
        /// The type the buffer announces.
        found: MessageType,
    },
    /// A handshake or cookie message whose length differs from its fixed size.
    #[error("a {message_type} must be exactly {expected} bytes, got {actual}")]
    WrongLength {
        /// The type announced by the header.
        message_type: MessageType,
        /// The one length this type may have.
        expected: usize,
        /// The length that was offered.
        actual: usize,
    },
    /// A transport message too short to hold its 16-byte header and 16-byte authentication tag.
    #[error("a transport message needs at least 32 bytes (16-byte header + 16-byte tag), got {actual}")]
    TransportTooShort {
        /// The length that was offered.
        actual: usize,
    },
}
