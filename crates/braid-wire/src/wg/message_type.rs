//! The type byte that opens every WireGuard message, and the 4-byte header check shared by all views.

use core::fmt;

use super::error::WireError;

/// Length of the common header: one type byte followed by three reserved bytes that must be zero.
pub const COMMON_HEADER_LEN: usize = 4;

/// Which of the four WireGuard messages a datagram carries; the discriminant is the type byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// Handshake initiation (type 1, 148 bytes).
    Initiation = 1,
    /// Handshake response (type 2, 92 bytes).
    Response = 2,
    /// Cookie reply sent instead of a response when under load (type 3, 64 bytes).
    CookieReply = 3,
    /// Transport data (type 4, at least 32 bytes).
    Transport = 4,
}

impl MessageType {
    /// Maps a type byte to the message it announces, or `None` for bytes WireGuard does not define.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Initiation),
            2 => Some(Self::Response),
            3 => Some(Self::CookieReply),
            4 => Some(Self::Transport),
            _ => None,
        }
    }

    /// The byte written at offset 0 of a message of this type.
    pub const fn to_byte(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Initiation => "handshake initiation",
            Self::Response => "handshake response",
            Self::CookieReply => "cookie reply",
            Self::Transport => "transport message",
        };
        write!(f, "{name} (type {})", self.to_byte())
    }
}

/// Reads and validates the 4-byte header: known type byte, reserved bytes zero.
///
/// Returns the message type so callers can dispatch on it or compare it to the one they expect.
pub(crate) fn check_common_header(buf: &[u8]) -> Result<MessageType, WireError> {
    let Some(&[type_byte, r0, r1, r2]) = buf.first_chunk::<COMMON_HEADER_LEN>() else {
        return Err(WireError::HeaderTooShort { actual: buf.len() });
    };
    let message_type = MessageType::from_byte(type_byte).ok_or(WireError::UnknownType(type_byte))?;
    if [r0, r1, r2] != [0; 3] {
        return Err(WireError::ReservedNotZero([r0, r1, r2]));
    }
    Ok(message_type)
}

/// Validates the header of a buffer that must hold exactly one kind of message.
pub(crate) fn check_header_is(buf: &[u8], expected: MessageType) -> Result<(), WireError> {
    let found = check_common_header(buf)?;
    if found != expected {
        return Err(WireError::WrongType { expected, found });
    }
    Ok(())
}

/// Validates that a fixed-size message has exactly its defined length.
pub(crate) fn check_exact_len(buf: &[u8], message_type: MessageType, expected: usize) -> Result<(), WireError> {
    if buf.len() != expected {
        return Err(WireError::WrongLength { message_type, expected, actual: buf.len() });
    }
    Ok(())
}

/// Writes the 4-byte header for `message_type`: the type byte and three zero bytes.
///
/// Panics only if `buf` is shorter than 4 bytes, which views rule out before calling it.
pub(crate) fn write_common_header(buf: &mut [u8], message_type: MessageType) {
    buf[..COMMON_HEADER_LEN].copy_from_slice(&[message_type.to_byte(), 0, 0, 0]);
}
