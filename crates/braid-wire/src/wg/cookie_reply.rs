//! Zero-copy view of a cookie reply (type 3, exactly 64 bytes), and its repr's parse/emit.

use super::bytes::{read_array, read_u32, write_array, write_u32};
use super::error::WireError;
use super::message_type::{check_exact_len, check_header_is, write_common_header, MessageType};
use super::repr::CookieReplyRepr;

/// Byte offsets of the fields after the 4-byte header.
mod field {
    pub(super) const RECEIVER_INDEX: usize = 4;
    pub(super) const NONCE: usize = 8;
    pub(super) const ENCRYPTED_COOKIE: usize = 32;
    pub(super) const END: usize = 64;
}

/// A cookie reply read and written in place.
///
/// Once [`CookieReply::new_checked`] (or [`CookieReply::check`]) has succeeded, no getter or
/// setter can panic as long as the buffer keeps its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieReply<T> {
    buffer: T,
}

/// Layout constants. They sit on the `&[u8]` instantiation only so that `CookieReply::LEN`
/// can be written without naming a buffer type.
impl CookieReply<&[u8]> {
    /// The one valid length of a cookie reply.
    pub const LEN: usize = field::END;
}

impl<T: AsRef<[u8]>> CookieReply<T> {
    /// Wraps a buffer without checking it, for emitting into a buffer of the right size.
    ///
    /// Getters and setters panic if the buffer is not [`CookieReply::LEN`] bytes long; call
    /// [`CookieReply::check_len`] before using a view built this way on a buffer you did not size.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a received buffer after checking its header (type 3, reserved bytes zero) and length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let view = Self::new_unchecked(buffer);
        view.check()?;
        Ok(view)
    }

    /// Checks only the length, which is all that emitting into the buffer needs.
    pub fn check_len(&self) -> Result<(), WireError> {
        check_exact_len(self.buffer.as_ref(), MessageType::CookieReply, field::END)
    }

    /// Checks everything [`CookieReply::new_checked`] does: header first, then exact length.
    pub fn check(&self) -> Result<(), WireError> {
        check_header_is(self.buffer.as_ref(), MessageType::CookieReply)?;
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

    /// The sender index of the handshake message that provoked this reply.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX)
    }

    /// The random XChaCha20-Poly1305 nonce the cookie was sealed with.
    pub fn nonce(&self) -> [u8; 24] {
        read_array(self.buffer.as_ref(), field::NONCE)
    }

    /// The 16-byte cookie sealed with a 16-byte tag; the AAD is mac1 of the provoking message.
    pub fn encrypted_cookie(&self) -> [u8; 32] {
        read_array(self.buffer.as_ref(), field::ENCRYPTED_COOKIE)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CookieReply<T> {
    /// Writes the type byte (3) and the three zero reserved bytes.
    pub fn set_header(&mut self) {
        write_common_header(self.buffer.as_mut(), MessageType::CookieReply);
    }

    /// Sets the index of the handshake message being answered.
    pub fn set_receiver_index(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::RECEIVER_INDEX, value);
    }

    /// Sets the nonce.
    pub fn set_nonce(&mut self, value: &[u8; 24]) {
        write_array(self.buffer.as_mut(), field::NONCE, value);
    }

    /// Sets the sealed cookie.
    pub fn set_encrypted_cookie(&mut self, value: &[u8; 32]) {
        write_array(self.buffer.as_mut(), field::ENCRYPTED_COOKIE, value);
    }
}

impl CookieReplyRepr {
    /// Copies every field out of a checked view.
    pub fn parse<T: AsRef<[u8]>>(view: &CookieReply<T>) -> Self {
        Self { receiver_index: view.receiver_index(), nonce: view.nonce(), encrypted_cookie: view.encrypted_cookie() }
    }

    /// The number of bytes [`CookieReplyRepr::emit`] writes: always [`CookieReply::LEN`].
    pub const fn buffer_len(&self) -> usize {
        field::END
    }

    /// Writes the header and every field into a view of [`CookieReplyRepr::buffer_len`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut CookieReply<T>) {
        view.set_header();
        view.set_receiver_index(self.receiver_index);
        view.set_nonce(&self.nonce);
        view.set_encrypted_cookie(&self.encrypted_cookie);
    }
}
