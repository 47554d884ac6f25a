//! Zero-copy view of a transport data message (type 4): 16-byte header, then ciphertext and tag.
//!
//! The plaintext is zero-padded to a multiple of 16 before sealing, but that padding is inside the
//! ciphertext, so the only length rule on the wire is that the 16-byte tag is present.

use super::bytes::{read_u32, read_u64, write_u32, write_u64};
use super::error::WireError;
use super::message_type::{check_header_is, write_common_header, MessageType};

/// Byte offsets of the fields after the 4-byte header.
mod field {
    pub(super) const RECEIVER_INDEX: usize = 4;
    pub(super) const COUNTER: usize = 8;
    pub(super) const PAYLOAD: usize = 16;
    pub(super) const TAG_LEN: usize = 16;
}

/// A transport message read and written in place; the payload is opened and sealed in the buffer.
///
/// Once [`Transport::new_checked`] (or [`Transport::check`]) has succeeded, no getter or setter
/// can panic as long as the buffer keeps its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport<T> {
    buffer: T,
}

/// Layout constants. They sit on the `&[u8]` instantiation only so that `Transport::HEADER_LEN`
/// can be written without naming a buffer type.
impl Transport<&[u8]> {
    /// Type, reserved bytes, receiver index and counter: where the ciphertext starts.
    pub const HEADER_LEN: usize = field::PAYLOAD;
    /// The Poly1305 tag that ends every payload.
    pub const TAG_LEN: usize = field::TAG_LEN;
    /// The shortest valid transport message: a keepalive (empty plaintext, tag only).
    pub const MIN_LEN: usize = field::PAYLOAD + field::TAG_LEN;
}

impl<T: AsRef<[u8]>> Transport<T> {
    /// Wraps a buffer without checking it, for emitting into a buffer of the right size.
    ///
    /// Getters and setters panic if the buffer is shorter than [`Transport::MIN_LEN`]; call
    /// [`Transport::check_len`] before using a view built this way on a buffer you did not size.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a received buffer after checking its header (type 4, reserved bytes zero) and that
    /// it is long enough to hold the header and the tag.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let view = Self::new_unchecked(buffer);
        view.check()?;
        Ok(view)
    }

    /// Checks only that the header and the tag fit, which is all that emitting needs.
    pub fn check_len(&self) -> Result<(), WireError> {
        let actual = self.buffer.as_ref().len();
        if actual < field::PAYLOAD + field::TAG_LEN {
            return Err(WireError::TransportTooShort { actual });
        }
        Ok(())
    }

    /// Checks everything [`Transport::new_checked`] does: header first, then minimum length.
    pub fn check(&self) -> Result<(), WireError> {
        check_header_is(self.buffer.as_ref(), MessageType::Transport)?;
        self.check_len()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole message as bytes, ready to send.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The receiver's session index, which selects the keypair to open the payload with.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX)
    }

    /// The per-session message counter, used as the AEAD nonce and checked by the replay window.
    pub fn counter(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::COUNTER)
    }

    /// Ciphertext followed by its 16-byte tag (at least 16 bytes).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }

    /// True for a keepalive: a message whose plaintext is empty, so the payload is only the tag.
    pub fn is_keepalive(&self) -> bool {
        self.payload().len() == field::TAG_LEN
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Transport<T> {
    /// Writes the type byte (4) and the three zero reserved bytes.
    pub fn set_header(&mut self) {
        write_common_header(self.buffer.as_mut(), MessageType::Transport);
    }

    /// Sets the peer's session index the message is addressed to.
    pub fn set_receiver_index(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::RECEIVER_INDEX, value);
    }

    /// Sets the message counter (the nonce the payload is sealed with).
    pub fn set_counter(&mut self, value: u64) {
        write_u64(self.buffer.as_mut(), field::COUNTER, value);
    }

    /// The ciphertext and tag, mutable so the payload can be sealed or opened in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}
