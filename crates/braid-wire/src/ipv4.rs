//! IPv4 datagrams (RFC 791): a checked header view, fragment fields, and the parsed header the
//! stack routes on.
//!
//! Options are skipped by the header length (IHL) and never emitted. A fragment is not a datagram:
//! [`Ipv4Repr::parse`] refuses it, so fragment payload can never reach TCP/UDP by mistake; the
//! stack hands fragments to its reassembler through the [`Ipv4Packet`] view instead.

use core::net::Ipv4Addr;

use crate::checksum::{checksum, Checksum};

/// Byte offsets of the IPv4 header fields.
mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOS: usize = 1;
    pub(super) const TOTAL_LEN: usize = 2;
    pub(super) const IDENT: usize = 4;
    pub(super) const FLAGS_FRAG: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC: usize = 12;
    pub(super) const DST: usize = 16;
}

/// The "don't fragment" bit of the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
/// The "more fragments" bit of the flags/fragment-offset word.
const FLAG_MF: u16 = 0x2000;
/// The 13-bit fragment offset (in 8-byte units).
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// Length of a header without options (what [`Ipv4Repr::emit`] writes).
pub const HEADER_LEN: usize = 20;
/// Longest header an IHL of 15 can announce.
pub const MAX_HEADER_LEN: usize = 60;
/// Largest datagram the 16-bit total length can describe.
pub const MAX_PACKET_LEN: usize = 65535;

/// Why a buffer is not an acceptable IPv4 datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ipv4Error {
    /// The buffer is shorter than the 20-byte fixed header.
    #[error("IPv4 packet of {actual} bytes is shorter than the 20-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The version nibble is not 4.
    #[error("IP version {0} in an IPv4 header")]
    BadVersion(u8),
    /// The IHL announces fewer than 5 words.
    #[error("IPv4 header length {header_len} bytes is below the 20-byte minimum")]
    HeaderLenTooSmall {
        /// IHL × 4.
        header_len: usize,
    },
    /// The IHL announces a header longer than the buffer.
    #[error("IPv4 header of {header_len} bytes exceeds the {buffer_len}-byte buffer")]
    HeaderLenExceedsBuffer {
        /// IHL × 4.
        header_len: usize,
        /// Bytes in the buffer.
        buffer_len: usize,
    },
    /// The total length does not cover the header.
    #[error("IPv4 total length {total_len} is smaller than the {header_len}-byte header")]
    TotalLenBelowHeader {
        /// The declared total length.
        total_len: usize,
        /// IHL × 4.
        header_len: usize,
    },
    /// The total length runs past the end of the buffer.
    #[error("IPv4 total length {total_len} exceeds the {buffer_len}-byte buffer")]
    TotalLenExceedsBuffer {
        /// The declared total length.
        total_len: usize,
        /// Bytes in the buffer.
        buffer_len: usize,
    },
    /// The header checksum does not verify.
    #[error("IPv4 header checksum mismatch")]
    BadChecksum,
    /// The datagram is a fragment (MF set or a nonzero offset); reassemble it first.
    #[error("IPv4 fragment (offset {offset}, more fragments: {more_frags})")]
    Fragment {
        /// Fragment offset in bytes.
        offset: usize,
        /// The "more fragments" flag.
        more_frags: bool,
    },
}

/// A view of an IPv4 datagram at the start of a buffer.
///
/// After [`Ipv4Packet::new_checked`] the header, its options and the declared total length lie
/// inside the buffer, so no getter can panic. The buffer may be longer than the datagram (link
/// padding); [`Ipv4Packet::payload`] stops at the total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it; getters may panic until [`Ipv4Packet::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after checking version and lengths (not the checksum).
    pub fn new_checked(buffer: T) -> Result<Self, Ipv4Error> {
        let packet = Ipv4Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the version and every length the getters rely on.
    pub fn check_len(&self) -> Result<(), Ipv4Error> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Ipv4Error::Truncated { actual: data.len() });
        }
        if self.version() != 4 {
            return Err(Ipv4Error::BadVersion(self.version()));
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Ipv4Error::HeaderLenTooSmall { header_len });
        }
        if header_len > data.len() {
            return Err(Ipv4Error::HeaderLenExceedsBuffer { header_len, buffer_len: data.len() });
        }
        let total_len = self.total_len();
        if total_len < header_len {
            return Err(Ipv4Error::TotalLenBelowHeader { total_len, header_len });
        }
        if total_len > data.len() {
            return Err(Ipv4Error::TotalLenExceedsBuffer { total_len, buffer_len: data.len() });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The former type-of-service byte: DSCP (high six bits) and ECN (low two).
    pub fn traffic_class(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Declared length of header plus payload.
    pub fn total_len(&self) -> usize {
        usize::from(self.read_u16(field::TOTAL_LEN))
    }

    /// Identification, shared by the fragments of one datagram.
    pub fn ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    /// The "don't fragment" flag.
    pub fn dont_frag(&self) -> bool {
        self.read_u16(field::FLAGS_FRAG) & FLAG_DF != 0
    }

    /// The "more fragments" flag.
    pub fn more_frags(&self) -> bool {
        self.read_u16(field::FLAGS_FRAG) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> usize {
        usize::from(self.read_u16(field::FLAGS_FRAG) & FRAG_OFFSET_MASK) * 8
    }

    /// True when this datagram is a piece of a larger one.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The header checksum field as received.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        self.read_addr(field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.read_addr(field::DST)
    }

    /// The option bytes between the fixed header and the payload (skipped by the stack).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload, up to the declared total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len()]
    }

    /// True when the header checksum (options included) verifies.
    pub fn verify_checksum(&self) -> bool {
        let mut sum = Checksum::new();
        sum.add_bytes(&self.buffer.as_ref()[..self.header_len()]);
        sum.is_valid()
    }

    fn read_u16(&self, at: usize) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[at], data[at + 1]])
    }

    fn read_addr(&self, at: usize) -> Ipv4Addr {
        let data = self.buffer.as_ref();
        Ipv4Addr::new(data[at], data[at + 1], data[at + 2], data[at + 3])
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// The payload with the lifetime of the underlying buffer, so it can outlive the view.
    pub fn payload_slice(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        &buffer[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4, 20..=60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP/ECN byte.
    pub fn set_traffic_class(&mut self, value: u8) {
        self.buffer.as_mut()[field::TOS] = value;
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        self.write_u16(field::TOTAL_LEN, value);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u16) {
        self.write_u16(field::IDENT, value);
    }

    /// Sets the flags and the fragment offset (in bytes; must be a multiple of 8 below 65536).
    pub fn set_frag_fields(&mut self, dont_frag: bool, more_frags: bool, offset: usize) {
        let mut word = ((offset / 8) as u16) & FRAG_OFFSET_MASK;
        if dont_frag {
            word |= FLAG_DF;
        }
        if more_frags {
            word |= FLAG_MF;
        }
        self.write_u16(field::FLAGS_FRAG, word);
    }

    /// Sets the time to live.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the upper-layer protocol number.
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Sets the checksum field directly (see [`Ipv4Packet::fill_checksum`]).
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&addr.octets());
    }

    /// Computes and stores the header checksum (over the header length the IHL announces).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let value = checksum(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(value);
    }

    /// The options area, writable (for building datagrams that carry options).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The payload, writable, up to the declared total length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }

    fn write_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// A parsed, checksum-verified, unfragmented IPv4 header, or one to emit.
///
/// Exists so the stack can route on plain fields; the payload stays in the packet
/// ([`Ipv4Packet::payload`]) and is `payload_len` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Upper-layer protocol number (6 TCP, 17 UDP, 1 ICMP).
    pub protocol: u8,
    /// Bytes of payload after the header (options excluded).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
    /// DSCP/ECN byte.
    pub traffic_class: u8,
    /// Identification (the stack varies it per datagram it sends).
    pub ident: u16,
    /// The "don't fragment" flag (set for path-MTU discovery).
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Parses a checked view: verifies the header checksum and refuses fragments.
    ///
    /// Lengths are re-checked, so an unchecked view is safe to pass.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr, Ipv4Error> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Ipv4Error::BadChecksum);
        }
        if packet.is_fragment() {
            return Err(Ipv4Error::Fragment { offset: packet.frag_offset(), more_frags: packet.more_frags() });
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: packet.total_len() - packet.header_len(),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Bytes of header [`Ipv4Repr::emit`] writes (no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the 20-byte header with its checksum; the caller writes `payload_len` bytes of
    /// payload after it (see [`Ipv4Packet::payload_mut`]).
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes or `payload_len` exceeds 65515 (caller bugs).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        let total_len = u16::try_from(self.total_len()).expect("IPv4 datagram longer than 65535 bytes");
        packet.set_version_and_header_len(HEADER_LEN);
        packet.set_traffic_class(self.traffic_class);
        packet.set_total_len(total_len);
        packet.set_ident(self.ident);
        packet.set_frag_fields(self.dont_frag, false, 0);
        packet.set_hop_limit(self.hop_limit);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests;
