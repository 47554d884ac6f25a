//! UDP datagrams (RFC 768) with the checksum rules of both IP versions.
//!
//! Over IPv4 a zero checksum means "not computed" and is accepted; over IPv6 the checksum is
//! mandatory (RFC 8200 §8.1) and a zero is refused. A computed checksum of zero is sent as `0xffff`.
//! The length field bounds the datagram: bytes after it in the buffer are ignored, and a length
//! beyond the buffer is an error.

use core::net::IpAddr;

use crate::checksum::Checksum;

/// IP protocol number of UDP, needed for the pseudo-header.
pub const PROTOCOL: u8 = 17;
/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// Byte offsets of the header fields.
mod field {
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const LENGTH: usize = 4;
    pub(super) const CHECKSUM: usize = 6;
}

/// Why a buffer is not an acceptable UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UdpError {
    /// The buffer is shorter than the 8-byte header.
    #[error("UDP datagram of {actual} bytes is shorter than the 8-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The length field is below 8.
    #[error("UDP length {0} is below the 8-byte header")]
    LengthTooSmall(usize),
    /// The length field runs past the end of the buffer.
    #[error("UDP length {length} exceeds the {buffer_len}-byte buffer")]
    LengthExceedsBuffer {
        /// The declared length.
        length: usize,
        /// Bytes in the buffer.
        buffer_len: usize,
    },
    /// Destination port 0, which no socket can be bound to.
    #[error("UDP destination port 0 is reserved")]
    ZeroDstPort,
    /// The checksum is zero on IPv6, where it is mandatory.
    #[error("UDP checksum missing over IPv6")]
    MissingChecksum,
    /// The checksum does not verify.
    #[error("UDP checksum mismatch")]
    BadChecksum,
}

/// A view of a UDP datagram at the start of a buffer.
///
/// After [`UdpPacket::new_checked`] the header and the length the header declares lie inside the
/// buffer, so no getter can panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it; getters may panic until [`UdpPacket::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer after checking the header and the declared length.
    pub fn new_checked(buffer: T) -> Result<Self, UdpError> {
        let packet = UdpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the lengths the getters rely on.
    pub fn check_len(&self) -> Result<(), UdpError> {
        let buffer_len = self.buffer.as_ref().len();
        if buffer_len < HEADER_LEN {
            return Err(UdpError::Truncated { actual: buffer_len });
        }
        let length = self.len();
        if length < HEADER_LEN {
            return Err(UdpError::LengthTooSmall(length));
        }
        if length > buffer_len {
            return Err(UdpError::LengthExceedsBuffer { length, buffer_len });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port (0 when the sender expects no reply).
    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> usize {
        usize::from(self.read_u16(field::LENGTH))
    }

    /// True when the datagram carries no payload.
    pub fn is_empty(&self) -> bool {
        self.len() <= HEADER_LEN
    }

    /// The checksum field as received (0: not computed, IPv4 only).
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len()]
    }

    /// Verifies the checksum under the rules of the addresses' family: a zero checksum passes over
    /// IPv4 and fails over IPv6.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> Result<(), UdpError> {
        if self.checksum() == 0 {
            return match (src, dst) {
                (IpAddr::V4(_), IpAddr::V4(_)) => Ok(()),
                _ => Err(UdpError::MissingChecksum),
            };
        }
        let datagram = &self.buffer.as_ref()[..self.len()];
        let mut sum = Checksum::pseudo_header(src, dst, PROTOCOL, datagram.len() as u32);
        sum.add_bytes(datagram);
        if sum.is_valid() {
            Ok(())
        } else {
            Err(UdpError::BadChecksum)
        }
    }

    fn read_u16(&self, at: usize) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[at], data[at + 1]])
    }
}

impl<'a> UdpPacket<&'a [u8]> {
    /// The payload with the lifetime of the underlying buffer.
    fn payload_of_buffer(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        &buffer[HEADER_LEN..self.len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        self.write_u16(field::LENGTH, value);
    }

    /// Sets the checksum field directly (see [`UdpPacket::fill_checksum`]).
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value);
    }

    /// The payload, writable, up to the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes and stores the checksum over the length-field bytes and the pseudo-header; a
    /// computed zero is stored as `0xffff` so it is not mistaken for "no checksum".
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let len = self.len();
        let mut sum = Checksum::pseudo_header(src, dst, PROTOCOL, len as u32);
        sum.add_bytes(&self.buffer.as_ref()[..len]);
        let value = match sum.finish() {
            0 => 0xffff,
            value => value,
        };
        self.set_checksum(value);
    }

    fn write_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// A parsed, checksum-verified UDP datagram, or one to emit.
///
/// Exists as the currency between the wire and UDP sockets; the payload borrows from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    /// Source port (0 allowed: "no reply expected").
    pub src_port: u16,
    /// Destination port (never 0 on parse).
    pub dst_port: u16,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// Parses a view and verifies the checksum under the family's rules.
    ///
    /// Lengths are re-checked, so an unchecked view is safe to pass.
    pub fn parse(packet: &UdpPacket<&'a [u8]>, src: IpAddr, dst: IpAddr) -> Result<UdpRepr<'a>, UdpError> {
        packet.check_len()?;
        if packet.dst_port() == 0 {
            return Err(UdpError::ZeroDstPort);
        }
        packet.verify_checksum(src, dst)?;
        Ok(UdpRepr { src_port: packet.src_port(), dst_port: packet.dst_port(), payload: packet.payload_of_buffer() })
    }

    /// Header plus payload: the bytes [`UdpRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes header, payload and checksum into the first [`UdpRepr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`UdpRepr::buffer_len`] or that exceeds 65535 (caller bugs).
    pub fn emit(&self, packet: &mut UdpPacket<&mut [u8]>, src: IpAddr, dst: IpAddr) {
        let len = self.buffer_len();
        let len_field = u16::try_from(len).expect("UDP datagram longer than 65535 bytes");
        let mut datagram = UdpPacket::new_unchecked(&mut packet.buffer[..len]);
        datagram.set_src_port(self.src_port);
        datagram.set_dst_port(self.dst_port);
        datagram.set_len(len_field);
        datagram.payload_mut().copy_from_slice(self.payload);
        datagram.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests;
