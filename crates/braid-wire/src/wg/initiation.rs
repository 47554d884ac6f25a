//! Zero-copy view of a handshake initiation (type 1, exactly 148 bytes), and its repr's parse/emit.

use core::ops::Range;

use super::bytes::{read_array, read_u32, write_array, write_u32};
use super::error::WireError;
use super::message_type::{check_exact_len, check_header_is, write_common_header, MessageType};
use super::repr::InitiationRepr;

/// Byte offsets of the fields after the 4-byte header.
mod field {
    pub(super) const SENDER_INDEX: usize = 4;
    pub(super) const EPHEMERAL: usize = 8;
    pub(super) const ENCRYPTED_STATIC: usize = 40;
    pub(super) const ENCRYPTED_TIMESTAMP: usize = 88;
    pub(super) const MAC1: usize = 116;
    pub(super) const MAC2: usize = 132;
    pub(super) const END: usize = 148;
}

/// A handshake initiation read and written in place.
///
/// Once [`Initiation::new_checked`] (or [`Initiation::check`]) has succeeded, no getter or setter
/// can panic as long as the buffer keeps its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Initiation<T> {
    buffer: T,
}

/// Layout constants. They sit on the `&[u8]` instantiation only so that `Initiation::LEN`
/// can be written without naming a buffer type.
impl Initiation<&[u8]> {
    /// The one valid length of an initiation.
    pub const LEN: usize = field::END;
    /// Where mac1 sits; mac1 authenticates every byte before `MAC1_RANGE.start`.
    pub const MAC1_RANGE: Range<usize> = field::MAC1..field::MAC2;
    /// Where mac2 sits; mac2 authenticates every byte before `MAC2_RANGE.start` (mac1 included).
    pub const MAC2_RANGE: Range<usize> = field::MAC2..field::END;
}

impl<T: AsRef<[u8]>> Initiation<T> {
    /// Wraps a buffer without checking it, for emitting into a buffer of the right size.
    ///
    /// Getters and setters panic if the buffer is not [`Initiation::LEN`] bytes long; call
    /// [`Initiation::check_len`] before using a view built this way on a buffer you did not size.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a received buffer after checking its header (type 1, reserved bytes zero) and length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let view = Self::new_unchecked(buffer);
        view.check()?;
        Ok(view)
    }

    /// Checks only the length, which is all that emitting into the buffer needs.
    pub fn check_len(&self) -> Result<(), WireError> {
        check_exact_len(self.buffer.as_ref(), MessageType::Initiation, field::END)
    }

    /// Checks everything [`Initiation::new_checked`] does: header first, then exact length.
    pub fn check(&self) -> Result<(), WireError> {
        check_header_is(self.buffer.as_ref(), MessageType::Initiation)?;
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

    /// The initiator's session index, which the response echoes as its receiver index.
    pub fn sender_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SENDER_INDEX)
    }

    /// The initiator's ephemeral X25519 public key.
    pub fn ephemeral(&self) -> [u8; 32] {
        read_array(self.buffer.as_ref(), field::EPHEMERAL)
    }

    /// The initiator's static public key, sealed (32 bytes + 16-byte tag).
    pub fn encrypted_static(&self) -> [u8; 48] {
        read_array(self.buffer.as_ref(), field::ENCRYPTED_STATIC)
    }

    /// The TAI64N timestamp, sealed (12 bytes + 16-byte tag).
    pub fn encrypted_timestamp(&self) -> [u8; 28] {
        read_array(self.buffer.as_ref(), field::ENCRYPTED_TIMESTAMP)
    }

    /// MAC keyed by the responder's public key over [`Initiation::mac1_covered`].
    pub fn mac1(&self) -> [u8; 16] {
        read_array(self.buffer.as_ref(), field::MAC1)
    }

    /// MAC keyed by a cookie over [`Initiation::mac2_covered`], or zeros without a cookie.
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

impl<T: AsRef<[u8]> + AsMut<[u8]>> Initiation<T> {
    /// Writes the type byte (1) and the three zero reserved bytes.
    pub fn set_header(&mut self) {
        write_common_header(self.buffer.as_mut(), MessageType::Initiation);
    }

    /// Sets the initiator's session index.
    pub fn set_sender_index(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::SENDER_INDEX, value);
    }

    /// Sets the ephemeral public key.
    pub fn set_ephemeral(&mut self, value: &[u8; 32]) {
        write_array(self.buffer.as_mut(), field::EPHEMERAL, value);
    }

    /// Sets the sealed static public key.
    pub fn set_encrypted_static(&mut self, value: &[u8; 48]) {
        write_array(self.buffer.as_mut(), field::ENCRYPTED_STATIC, value);
    }

    /// Sets the sealed timestamp.
    pub fn set_encrypted_timestamp(&mut self, value: &[u8; 28]) {
        write_array(self.buffer.as_mut(), field::ENCRYPTED_TIMESTAMP, value);
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

impl InitiationRepr {
    /// Copies every field out of a checked view.
    pub fn parse<T: AsRef<[u8]>>(view: &Initiation<T>) -> Self {
        Self {
            sender_index: view.sender_index(),
            ephemeral: view.ephemeral(),
            encrypted_static: view.encrypted_static(),
            encrypted_timestamp: view.encrypted_timestamp(),
            mac1: view.mac1(),
            mac2: view.mac2(),
        }
    }

    /// The number of bytes [`InitiationRepr::emit`] writes: always [`Initiation::LEN`].
    pub const fn buffer_len(&self) -> usize {
        field::END
    }

    /// Writes the header and every field into a view of [`InitiationRepr::buffer_len`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut Initiation<T>) {
        view.set_header();
        view.set_sender_index(self.sender_index);
        view.set_ephemeral(&self.ephemeral);
        view.set_encrypted_static(&self.encrypted_static);
        view.set_encrypted_timestamp(&self.encrypted_timestamp);
        view.set_mac1(&self.mac1);
        view.set_mac2(&self.mac2);
    }
}
