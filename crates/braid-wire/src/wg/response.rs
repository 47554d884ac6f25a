//! Zero-copy view of a handshake response (type 2, exactly 92 bytes), and its repr's parse/emit.

use core::ops::Range;

use super::bytes::{read_array, read_u32, write_array, write_u32};
use super::error::WireError;
use super::message_type::{check_exact_len, check_header_is, write_common_header, MessageType};
use super::repr::ResponseRepr;

/// Byte offsets of the fields after the 4-byte header.
mod field {
    pub(super) const SENDER_INDEX: usize = 4;
    pub(super) const RECEIVER_INDEX: usize = 8;
    pub(super) const EPHEMERAL: usize = 12;
    pub(super) const ENCRYPTED_NOTHING: usize = 44;
    pub(super) const MAC1: usize = 60;
    pub(super) const MAC2: usize = 76;
    pub(super) const END: usize = 92;
}

/// A handshake response read and written in place.
///
/// Once [`Response::new_checked`] (or [`Response::check`]) has succeeded, no getter or setter
/// can panic as long as the buffer keeps its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<T> {
    buffer: T,
}

/// Layout constants. They sit on the `&[u8]` instantiation only so that `Response::LEN`
/// can be written without naming a buffer type.
impl Response<&[u8]> {
    /// The one valid length of a response.
    pub const LEN: usize = field::END;
    /// Where mac1 sits; mac1 authenticates every byte before `MAC1_RANGE.start`.
    pub const MAC1_RANGE: Range<usize> = field::MAC1..field::MAC2;
    /// Where mac2 sits; mac2 authenticates every byte before `MAC2_RANGE.start` (mac1 included).
    pub const MAC2_RANGE: Range<usize> = field::MAC2..field::END;
}

impl<T: AsRef<[u8]>> Response<T> {
    /// Wraps a buffer without checking it, for emitting into a buffer of the right size.
    ///
    /// Getters and setters panic if the buffer is not [`Response::LEN`] bytes long; call
    /// [`Response::check_len`] before using a view built this way on a buffer you did not size.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a received buffer after checking its header (type 2, reserved bytes zero) and length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let view = Self::new_unchecked(buffer);
        view.check()?;
        Ok(view)
    }

    /// Checks only the length, which is all that emitting into the buffer needs.
    pub fn check_len(&self) -> Result<(), WireError> {
        check_exact_len(self.buffer.as_ref(), MessageType::Response, field::END)
    }

    /// Checks everything [`Response::new_checked`] does: header first, then exact length.
    pub fn check(&self) -> Result<(), WireError> {
        check_header_is(self.buffer.as_ref(), MessageType::Response)?;
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

    /// The responder's session index, used as receiver index by the initiator from now on.
    pub fn sender_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SENDER_INDEX)
    }

    /// The initiator's session index, copied from the initiation this answers.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX)
    }

    /// The responder's ephemeral X25519 public key.
    pub fn ephemeral(&self) -> [u8; 32] {
        read_array(self.buffer.as_ref(), field::EPHEMERAL)
    }

    /// The AEAD tag over the empty plaintext that proves the responder derived the same keys.
    pub fn encrypted_nothing(&self) -> [u8; 16] {
        read_array(self.buffer.as_ref(), field::ENCRYPTED_NOTHING)
    }

    /// MAC keyed by the initiator's public key over [`Response::mac1_covered`].
    pub fn mac1(&self) -> [u8; 16] {
        read_array(self.buffer.as_ref(), field::MAC1)
    }

    /// MAC keyed by a cookie over [`Response::mac2_covered`], or zeros without a cookie.
    pub fn mac2(&self) -> [u8; 16] {
        read_array(self.buffer.as_ref(), field::MAC2)
    }

    /// The bytes mac1 authenticates: everything before mac1.
    pub fn mac1_covered(&self) -> &[u8] {
        &self.buffer.as_ref()[..field::MAC1]
    }

    /// The bytes mac2 authenticates: everything before mac2, mac1 included.
    pub fn mac2_covered(&self) -> &[u8] {
        &self.buffer.as_ref()[..field::MAC2]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Response<T> {
    /// Writes the type byte (2) and the three zero reserved bytes.
    pub fn set_header(&mut self) {
        write_common_header(self.buffer.as_mut(), MessageType::Response);
    }

    /// Sets the responder's session index.
    pub fn set_sender_index(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::SENDER_INDEX, value);
    }

    /// Sets the initiator's session index being answered.
    pub fn set_receiver_index(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::RECEIVER_INDEX, value);
    }

    /// Sets the ephemeral public key.
    pub fn set_ephemeral(&mut self, value: &[u8; 32]) {
        write_array(self.buffer.as_mut(), field::EPHEMERAL, value);
    }

    /// Sets the key-confirmation tag.
    pub fn set_encrypted_nothing(&mut self, value: &[u8; 16]) {
        write_array(self.buffer.as_mut(), field::ENCRYPTED_NOTHING, value);
    }

    /// Sets mac1; compute it after every field before it is final.
    pub fn set_mac1(&mut self, value: &[u8; 16]) {
        write_array(self.buffer.as_mut(), field::MAC1, value);
    }

    /// Sets mac2; compute it after mac1 is written.
    pub fn set_mac2(&mut self, value: &[u8; 16]) {
        write_array(self.buffer.as_mut(), field::MAC2, value);
    }
}

impl ResponseRepr {
    /// Copies every field out of a checked view.
    pub fn parse<T: AsRef<[u8]>>(view: &Response<T>) -> Self {
        Self {
            sender_index: view.sender_index(),
            receiver_index: view.receiver_index(),
            ephemeral: view.ephemeral(),
            encrypted_nothing: view.encrypted_nothing(),
            mac1: view.mac1(),
            mac2: view.mac2(),
        }
    }

    /// The number of bytes [`ResponseRepr::emit`] writes: always [`Response::LEN`].
    pub const fn buffer_len(&self) -> usize {
        field::END
    }

    /// Writes the header and every field into a view of [`ResponseRepr::buffer_len`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut Response<T>) {
        view.set_header();
        view.set_sender_index(self.sender_index);
        view.set_receiver_index(self.receiver_index);
        view.set_ephemeral(&self.ephemeral);
        view.set_encrypted_nothing(&self.encrypted_nothing);
        view.set_mac1(&self.mac1);
        view.set_mac2(&self.mac2);
    }
}
