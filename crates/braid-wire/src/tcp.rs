//! TCP segments (RFC 9293 §3.1) with the options the stack negotiates: MSS, window scale and
//! timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018).
//!
//! [`TcpPacket`] is a length-checked view over a whole segment (TCP has no length field, so the
//! buffer must be exactly the IP payload). [`TcpRepr`] is the parsed, checksum-verified segment the
//! connection state machine consumes and produces; its payload borrows from the packet buffer.

use core::net::IpAddr;

use crate::checksum::Checksum;

/// IP protocol number of TCP, needed for the pseudo-header.
pub const PROTOCOL: u8 = 6;

/// Byte offsets and option kinds of the TCP header.
mod field {
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const SEQ: usize = 4;
    pub(super) const ACK: usize = 8;
    pub(super) const DATA_OFFSET: usize = 12;
    pub(super) const FLAGS: usize = 13;
    pub(super) const WINDOW: usize = 14;
    pub(super) const CHECKSUM: usize = 16;
    pub(super) const URGENT: usize = 18;

    pub(super) const OPT_EOL: u8 = 0;
    pub(super) const OPT_NOP: u8 = 1;
    pub(super) const OPT_MSS: u8 = 2;
    pub(super) const OPT_WINDOW_SCALE: u8 = 3;
    pub(super) const OPT_SACK_PERMITTED: u8 = 4;
    pub(super) const OPT_SACK: u8 = 5;
    pub(super) const OPT_TIMESTAMPS: u8 = 8;
}

/// Bit masks of the flags byte (offset 13).
mod flag {
    pub(super) const FIN: u8 = 0x01;
    pub(super) const SYN: u8 = 0x02;
    pub(super) const RST: u8 = 0x04;
    pub(super) const PSH: u8 = 0x08;
    pub(super) const ACK: u8 = 0x10;
    pub(super) const URG: u8 = 0x20;
    pub(super) const ECE: u8 = 0x40;
    pub(super) const CWR: u8 = 0x80;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header a 4-bit data offset can announce (15 words).
pub const MAX_HEADER_LEN: usize = 60;
/// Room for options in the largest header.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;
/// Largest window shift a peer may use (RFC 7323 §2.3); larger received values are clamped to it.
pub const MAX_WINDOW_SCALE: u8 = 14;

/// Why a buffer is not an acceptable TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcpError {
    /// The buffer is shorter than the 20-byte fixed header.
    #[error("TCP segment of {actual} bytes is shorter than the 20-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The data offset announces fewer than 5 words.
    #[error("TCP data offset {header_len} bytes is below the 20-byte minimum")]
    HeaderLenTooSmall {
        /// Data offset × 4.
        header_len: usize,
    },
    /// The data offset announces a header longer than the buffer.
    #[error("TCP header of {header_len} bytes exceeds the {buffer_len}-byte segment")]
    HeaderLenExceedsBuffer {
        /// Data offset × 4.
        header_len: usize,
        /// Bytes in the buffer.
        buffer_len: usize,
    },
    /// Source or destination port 0, which no real connection uses.
    #[error("TCP port 0 is reserved")]
    ZeroPort,
    /// The checksum over pseudo-header, header and payload does not verify.
    #[error("TCP checksum mismatch")]
    BadChecksum,
    /// An option's kind byte is the last byte of the options area, so it has no length byte.
    #[error("TCP option {kind} has no length byte")]
    OptionTruncated {
        /// The option kind.
        kind: u8,
    },
    /// An option's length is below 2, runs past the options area, or is wrong for its kind.
    #[error("TCP option {kind} has invalid length {len}")]
    BadOptionLength {
        /// The option kind.
        kind: u8,
        /// The length byte as received.
        len: u8,
    },
}

/// The eight control bits of a segment.
///
/// Exists so the state machine can match on named booleans rather than bit masks; the reserved
/// bits (and the experimental AE bit) are neither reported nor sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags {
    /// No more data from the sender.
    pub fin: bool,
    /// Synchronise sequence numbers.
    pub syn: bool,
    /// Reset the connection.
    pub rst: bool,
    /// Push function.
    pub psh: bool,
    /// The acknowledgment field is significant.
    pub ack: bool,
    /// The urgent pointer is significant.
    pub urg: bool,
    /// ECN echo (RFC 3168).
    pub ece: bool,
    /// Congestion window reduced (RFC 3168).
    pub cwr: bool,
}

impl TcpFlags {
    /// Decodes the flags byte (offset 13).
    pub const fn from_byte(byte: u8) -> Self {
        TcpFlags {
            fin: byte & flag::FIN != 0,
            syn: byte & flag::SYN != 0,
            rst: byte & flag::RST != 0,
            psh: byte & flag::PSH != 0,
            ack: byte & flag::ACK != 0,
            urg: byte & flag::URG != 0,
            ece: byte & flag::ECE != 0,
            cwr: byte & flag::CWR != 0,
        }
    }

    /// Encodes the flags byte (offset 13).
    pub const fn to_byte(self) -> u8 {
        let mut byte = 0;
        if self.fin {
            byte |= flag::FIN;
        }
        if self.syn {
            byte |= flag::SYN;
        }
        if self.rst {
            byte |= flag::RST;
        }
        if self.psh {
            byte |= flag::PSH;
        }
        if self.ack {
            byte |= flag::ACK;
        }
        if self.urg {
            byte |= flag::URG;
        }
        if self.ece {
            byte |= flag::ECE;
        }
        if self.cwr {
            byte |= flag::CWR;
        }
        byte
    }
}

/// The options the stack understands; unknown options are skipped on parse and never emitted.
///
/// A received option that appears twice keeps its last value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), meaningful on SYN segments.
    pub mss: Option<u16>,
    /// Window shift count (kind 3), meaningful on SYN segments; parsed values above 14 become 14.
    pub window_scale: Option<u8>,
    /// The sender accepts SACK (kind 4), meaningful on SYN segments.
    pub sack_permitted: bool,
    /// SACK blocks (kind 5) as (left, right) edges, filled from the front.
    /// At most 3 fit when timestamps are present; [`TcpRepr::emit`] drops blocks that do not fit.
    pub sack_blocks: [Option<(u32, u32)>; 4],
    /// Timestamps (kind 8) as (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    /// Parses an options area (the bytes between the fixed header and the payload).
    ///
    /// NOP is skipped, EOL ends the list, unknown kinds are skipped by their length; a length that
    /// is below 2, runs past the area or is wrong for a known kind is an error.
    pub fn parse(mut bytes: &[u8]) -> Result<TcpOptions, TcpError> {
        let mut options = TcpOptions::default();
        while let Some((&kind, rest)) = bytes.split_first() {
            match kind {
                field::OPT_EOL => break,
                field::OPT_NOP => {
                    bytes = rest;
                    continue;
                }
                _ => {}
            }
            let &len_byte = rest.first().ok_or(TcpError::OptionTruncated { kind })?;
            let len = usize::from(len_byte);
            let bad_len = TcpError::BadOptionLength { kind, len: len_byte };
            if len < 2 || len > bytes.len() {
                return Err(bad_len);
            }
            let (option, after) = bytes.split_at(len);
            let body = &option[2..];
            match kind {
                field::OPT_MSS => {
                    let value: [u8; 2] = body.try_into().map_err(|_| bad_len)?;
                    options.mss = Some(u16::from_be_bytes(value));
                }
                field::OPT_WINDOW_SCALE => {
                    let [shift]: [u8; 1] = body.try_into().map_err(|_| bad_len)?;
                    options.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
                }
                field::OPT_SACK_PERMITTED => {
                    if !body.is_empty() {
                        return Err(bad_len);
                    }
                    options.sack_permitted = true;
                }
                field::OPT_SACK => {
                    if body.is_empty() || body.len() % 8 != 0 || body.len() > 32 {
                        return Err(bad_len);
                    }
                    options.sack_blocks = [None; 4];
                    for (slot, edges) in options.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                        *slot = Some((read_u32(edges, 0), read_u32(edges, 4)));
                    }
                }
                field::OPT_TIMESTAMPS => {
                    if body.len() != 8 {
                        return Err(bad_len);
                    }
                    options.timestamps = Some((read_u32(body, 0), read_u32(body, 4)));
                }
                _ => {}
            }
            bytes = after;
        }
        Ok(options)
    }

    /// How many SACK blocks [`TcpOptions::emit`] writes: the leading `Some` blocks that fit beside
    /// the other options in 40 bytes.
    fn sack_blocks_to_emit(&self) -> usize {
        let wanted = self.sack_blocks.iter().take_while(|block| block.is_some()).count();
        if wanted == 0 {
            return 0;
        }
        let room = MAX_OPTIONS_LEN - self.len_without_sack() - 4;
        wanted.min(room / 8)
    }

    /// Bytes of every emitted option except SACK blocks (always a multiple of 4).
    fn len_without_sack(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4; // MSS
        }
        if self.window_scale.is_some() {
            len += 4; // NOP, WS
        }
        if self.timestamps.is_some() {
            len += 12; // SACK-permitted or NOP NOP, then TS
        } else if self.sack_permitted {
            len += 4; // NOP NOP SACK-permitted
        }
        len
    }

    /// Bytes [`TcpOptions::emit`] writes: a multiple of 4, at most 40.
    pub fn len(&self) -> usize {
        let blocks = self.sack_blocks_to_emit();
        let sack = if blocks == 0 { 0 } else { 4 + 8 * blocks };
        self.len_without_sack() + sack
    }

    /// True when no option is emitted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the options in Linux's layout (MSS; NOP WS; SACK-permitted TS or NOP NOP TS or NOP
    /// NOP SACK-permitted; NOP NOP SACK), each group 4-byte aligned so no padding is needed.
    ///
    /// # Panics
    /// If `out` is shorter than [`TcpOptions::len`] (a caller bug, not a property of any input).
    pub fn emit(&self, out: &mut [u8]) {
        let out = &mut out[..self.len()];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            put(&[field::OPT_MSS, 4, hi, lo]);
        }
        if let Some(shift) = self.window_scale {
            put(&[field::OPT_NOP, field::OPT_WINDOW_SCALE, 3, shift]);
        }
        if let Some((tsval, tsecr)) = self.timestamps {
            if self.sack_permitted {
                put(&[field::OPT_SACK_PERMITTED, 2]);
            } else {
                put(&[field::OPT_NOP, field::OPT_NOP]);
            }
            put(&[field::OPT_TIMESTAMPS, 10]);
            put(&tsval.to_be_bytes());
            put(&tsecr.to_be_bytes());
        } else if self.sack_permitted {
            put(&[field::OPT_NOP, field::OPT_NOP, field::OPT_SACK_PERMITTED, 2]);
        }
        let blocks = self.sack_blocks_to_emit();
        if blocks > 0 {
            // 2 + 8 × blocks ≤ 34, so the length always fits a byte.
            put(&[field::OPT_NOP, field::OPT_NOP, field::OPT_SACK, (2 + 8 * blocks) as u8]);
            for (left, right) in self.sack_blocks.iter().take(blocks).flatten() {
                put(&left.to_be_bytes());
                put(&right.to_be_bytes());
            }
        }
    }
}

/// Reads a big-endian u32 at `at`; callers only pass offsets they have length-checked.
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads a big-endian u16 at `at`; callers only pass offsets they have length-checked.
fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// A view of a TCP segment in a buffer that holds exactly that segment.
///
/// After [`TcpPacket::new_checked`] the fixed header and the options area announced by the data
/// offset lie inside the buffer, so no getter can panic. Setters write in place for building
/// segments; [`TcpRepr::emit`] is the usual way to fill one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it; getters may panic until [`TcpPacket::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after checking that the header and its options fit.
    pub fn new_checked(buffer: T) -> Result<Self, TcpError> {
        let packet = TcpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the lengths that the getters rely on.
    pub fn check_len(&self) -> Result<(), TcpError> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(TcpError::Truncated { actual: data.len() });
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(TcpError::HeaderLenTooSmall { header_len });
        }
        if header_len > data.len() {
            return Err(TcpError::HeaderLenExceedsBuffer { header_len, buffer_len: data.len() });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number of the first octet (or of the SYN).
    pub fn seq_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number (meaningful when the ACK flag is set).
    pub fn ack_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes from the data offset (may be invalid on an unchecked packet).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    /// The control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_byte(self.buffer.as_ref()[field::FLAGS])
    }

    /// The raw 16-bit window field (unscaled).
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// The checksum field as received.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options area (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// True when the checksum over pseudo-header, header and payload verifies.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        let mut sum = Checksum::pseudo_header(src, dst, PROTOCOL, len);
        sum.add_bytes(data);
        sum.is_valid()
    }
}

impl<'a> TcpPacket<&'a [u8]> {
    /// The payload with the lifetime of the underlying buffer (so a repr can outlive the view).
    fn payload_of_buffer(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        &buffer[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: u32) {
        self.buffer.as_mut()[field::SEQ..field::SEQ + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: u32) {
        self.buffer.as_mut()[field::ACK..field::ACK + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4, 20..=60); the reserved
    /// bits are cleared.
    pub fn set_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::DATA_OFFSET] = ((header_len / 4) as u8) << 4;
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.to_byte();
    }

    /// Sets the raw window field.
    pub fn set_window_len(&mut self, value: u16) {
        self.write_u16(field::WINDOW, value);
    }

    /// Sets the checksum field directly (see [`TcpPacket::fill_checksum`]).
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        self.write_u16(field::URGENT, value);
    }

    /// The options area, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[header_len..]
    }

    /// Computes and stores the checksum over the whole buffer and the pseudo-header.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let mut sum = Checksum::pseudo_header(src, dst, PROTOCOL, data.len() as u32);
        sum.add_bytes(data);
        let value = sum.finish();
        self.set_checksum(value);
    }

    fn write_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// A parsed, checksum-verified TCP segment, or one to be emitted.
///
/// Exists as the single currency between the wire and the connection state machine: plain fields,
/// options decoded, payload borrowed from the packet (no copy, no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number; meaningful when `flags.ack`.
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// The raw 16-bit window field (unscaled).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Decoded options.
    pub options: TcpOptions,
    /// Segment data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses and verifies the checksum against the pseudo-header addresses.
    ///
    /// The packet's lengths are re-checked, so an unchecked view is safe to pass.
    pub fn parse(packet: &TcpPacket<&'a [u8]>, src: IpAddr, dst: IpAddr) -> Result<TcpRepr<'a>, TcpError> {
        packet.check_len()?;
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(TcpError::ZeroPort);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(TcpError::BadChecksum);
        }
        let options = TcpOptions::parse(packet.options())?;
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options,
            payload: packet.payload_of_buffer(),
        })
    }

    /// Header length: 20 bytes plus the emitted options (already a multiple of 4).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload: the bytes [`TcpRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes header + options + payload and the checksum.
    ///
    /// Only the first [`TcpRepr::buffer_len`] bytes of the packet buffer are written and
    /// checksummed; the caller sends exactly those.
    ///
    /// # Panics
    /// If the packet buffer is shorter than [`TcpRepr::buffer_len`] (a caller bug).
    pub fn emit(&self, packet: &mut TcpPacket<&mut [u8]>, src: IpAddr, dst: IpAddr) {
        let header_len = self.header_len();
        let total = self.buffer_len();
        let buffer = &mut packet.buffer[..total];
        let mut segment = TcpPacket::new_unchecked(&mut *buffer);
        segment.set_src_port(self.src_port);
        segment.set_dst_port(self.dst_port);
        segment.set_seq_number(self.seq);
        segment.set_ack_number(self.ack);
        segment.set_header_len(header_len);
        segment.set_flags(self.flags);
        segment.set_window_len(self.window);
        segment.set_urgent_at(self.urgent);
        self.options.emit(segment.options_mut());
        segment.payload_mut().copy_from_slice(self.payload);
        segment.fill_checksum(src, dst);
    }

    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn) + usize::from(self.flags.fin)
    }
}

#[cfg(test)]
mod tests;
