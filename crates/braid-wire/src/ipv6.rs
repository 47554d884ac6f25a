//! IPv6 packets (RFC 8200): the fixed header view and a bounded walk over extension headers to the
//! upper-layer protocol.
//!
//! The walk understands hop-by-hop options, routing, fragment, destination options and AH headers.
//! Options inside hop-by-hop and destination-options headers are checked as RFC 8200 §4.2 asks: an
//! unrecognised option whose two high bits are not `00` makes the packet undeliverable. A routing
//! header with segments left is refused (this node is never an intermediate hop). A fragment header
//! is reported; [`Ipv6Repr::parse`] refuses non-atomic fragments so their payload cannot reach an
//! upper layer by mistake, and treats atomic fragments (offset 0, no more fragments) as whole
//! packets (RFC 6946).

use core::net::Ipv6Addr;

/// Byte offsets of the fixed header.
mod field {
    pub(super) const VER_TC_FLOW: usize = 0;
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: usize = 8;
    pub(super) const DST: usize = 24;
}

/// Next-header values the walk recognises (IANA "Assigned Internet Protocol Numbers").
pub mod next_header {
    /// Hop-by-hop options; allowed only directly after the fixed header.
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Authentication header (its length counts 4-byte units).
    pub const AUTHENTICATION: u8 = 51;
    /// No next header: nothing follows.
    pub const NO_NEXT_HEADER: u8 = 59;
    /// Destination options.
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Most extension headers the walk follows before giving up (bounds the work per packet).
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// Pad1 option type (a single zero byte).
const OPT_PAD1: u8 = 0;
/// PadN option type.
const OPT_PADN: u8 = 1;
/// Router alert option type (RFC 2711), harmless to a host.
const OPT_ROUTER_ALERT: u8 = 5;

/// Why a buffer is not an acceptable IPv6 packet for this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ipv6Error {
    /// The buffer is shorter than the 40-byte fixed header.
    #[error("IPv6 packet of {actual} bytes is shorter than the 40-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The version nibble is not 6.
    #[error("IP version {0} in an IPv6 header")]
    BadVersion(u8),
    /// The payload length runs past the end of the buffer.
    #[error("IPv6 payload length {payload_len} exceeds the {available} bytes after the header")]
    PayloadLenExceedsBuffer {
        /// The declared payload length.
        payload_len: usize,
        /// Bytes after the fixed header.
        available: usize,
    },
    /// An extension header runs past the end of the payload.
    #[error("IPv6 extension header {next_header} is truncated")]
    ExtensionHeaderTruncated {
        /// The header's type.
        next_header: u8,
    },
    /// A hop-by-hop header somewhere other than directly after the fixed header.
    #[error("IPv6 hop-by-hop header not first")]
    HopByHopNotFirst,
    /// A second fragment header in one packet.
    #[error("IPv6 packet has two fragment headers")]
    DuplicateFragmentHeader,
    /// More than [`MAX_EXTENSION_HEADERS`] extension headers.
    #[error("more than {MAX_EXTENSION_HEADERS} IPv6 extension headers")]
    TooManyExtensionHeaders,
    /// An option runs past the end of its options header.
    #[error("IPv6 option {option_type} overruns its header")]
    BadOptionLength {
        /// The option type.
        option_type: u8,
    },
    /// An unrecognised option whose action bits say the packet must be discarded.
    #[error("unrecognised IPv6 option {option_type} requires discarding the packet")]
    UnrecognizedOption {
        /// The option type (its high two bits are the action).
        option_type: u8,
    },
    /// A routing header that still has segments to visit: this host does not forward.
    #[error("IPv6 routing header type {routing_type} with {segments_left} segments left")]
    RoutingSegmentsLeft {
        /// The routing type.
        routing_type: u8,
        /// Segments left.
        segments_left: u8,
    },
    /// The packet is a (non-atomic) fragment; reassemble it first.
    #[error("IPv6 fragment (offset {}, more fragments: {})", .0.offset, .0.more_frags)]
    Fragment(Ipv6FragmentHeader),
}

/// The contents of a fragment header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6FragmentHeader {
    /// Type of the header that starts the fragmentable part.
    pub next_header: u8,
    /// Offset of this fragment's data in bytes.
    pub offset: usize,
    /// The M flag: more fragments follow.
    pub more_frags: bool,
    /// Identification shared by the fragments of one packet.
    pub ident: u32,
}

impl Ipv6FragmentHeader {
    /// True for an atomic fragment (offset 0, last): a whole packet, processed as such (RFC 6946).
    pub fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more_frags
    }
}

/// Where the extension headers end and what follows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionHeaders {
    /// The upper-layer protocol (or [`next_header::NO_NEXT_HEADER`]); for a non-atomic fragment,
    /// the type the fragment header names for the fragmentable part.
    pub protocol: u8,
    /// Bytes of extension headers, i.e. the offset of the upper layer in the payload (for a
    /// non-atomic fragment, of the fragment's data).
    pub len: usize,
    /// The fragment header, if one was crossed.
    pub fragment: Option<Ipv6FragmentHeader>,
}

/// Walks the extension-header chain starting with type `first` at the start of `bytes` (the bytes
/// after the fixed header).
///
/// Stops at the first type that is not an extension header, or right after a non-atomic fragment
/// header: what follows is the fragmentable part of a larger packet (for a later fragment, the
/// middle of its data), which only reassembly can interpret. Bounded by
/// [`MAX_EXTENSION_HEADERS`]; never reads outside `bytes`.
pub fn walk_extension_headers(first: u8, bytes: &[u8]) -> Result<ExtensionHeaders, Ipv6Error> {
    let mut next = first;
    let mut at = 0usize;
    let mut count = 0usize;
    let mut fragment = None;
    loop {
        let len = match next {
            next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DESTINATION_OPTIONS => {
                let len_byte = bytes.get(at + 1).ok_or(Ipv6Error::ExtensionHeaderTruncated { next_header: next })?;
                (usize::from(*len_byte) + 1) * 8
            }
            next_header::AUTHENTICATION => {
                let len_byte = bytes.get(at + 1).ok_or(Ipv6Error::ExtensionHeaderTruncated { next_header: next })?;
                (usize::from(*len_byte) + 2) * 4
            }
            next_header::FRAGMENT => 8,
            protocol => return Ok(ExtensionHeaders { protocol, len: at, fragment }),
        };
        if next == next_header::HOP_BY_HOP && count != 0 {
            return Err(Ipv6Error::HopByHopNotFirst);
        }
        count += 1;
        if count > MAX_EXTENSION_HEADERS {
            return Err(Ipv6Error::TooManyExtensionHeaders);
        }
        let header = bytes.get(at..at + len).ok_or(Ipv6Error::ExtensionHeaderTruncated { next_header: next })?;
        match next {
            next_header::HOP_BY_HOP | next_header::DESTINATION_OPTIONS => check_options(&header[2..])?,
            next_header::ROUTING => {
                let (routing_type, segments_left) = (header[2], header[3]);
                if segments_left != 0 {
                    return Err(Ipv6Error::RoutingSegmentsLeft { routing_type, segments_left });
                }
            }
            next_header::FRAGMENT => {
                if fragment.is_some() {
                    return Err(Ipv6Error::DuplicateFragmentHeader);
                }
                let word = u16::from_be_bytes([header[2], header[3]]);
                let parsed = Ipv6FragmentHeader {
                    next_header: header[0],
                    offset: usize::from(word >> 3) * 8,
                    more_frags: word & 1 != 0,
                    ident: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                };
                fragment = Some(parsed);
                if !parsed.is_atomic() {
                    return Ok(ExtensionHeaders { protocol: parsed.next_header, len: at + len, fragment });
                }
            }
            _ => {}
        }
        next = header[0];
        at += len;
    }
}

/// Checks the TLV options of a hop-by-hop or destination-options header (RFC 8200 §4.2).
fn check_options(mut options: &[u8]) -> Result<(), Ipv6Error> {
    while let Some((&option_type, rest)) = options.split_first() {
        if option_type == OPT_PAD1 {
            options = rest;
            continue;
        }
        let len = rest.first().map(|&len| usize::from(len) + 2).ok_or(Ipv6Error::BadOptionLength { option_type })?;
        if len > options.len() {
            return Err(Ipv6Error::BadOptionLength { option_type });
        }
        let known = matches!(option_type, OPT_PADN | OPT_ROUTER_ALERT);
        if !known && option_type >> 6 != 0 {
            return Err(Ipv6Error::UnrecognizedOption { option_type });
        }
        options = &options[len..];
    }
    Ok(())
}

/// A view of an IPv6 packet at the start of a buffer.
///
/// After [`Ipv6Packet::new_checked`] the fixed header and the declared payload lie inside the
/// buffer, so no getter can panic. The buffer may be longer than the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it; getters may panic until [`Ipv6Packet::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after checking the version and lengths.
    pub fn new_checked(buffer: T) -> Result<Self, Ipv6Error> {
        let packet = Ipv6Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the version and every length the getters rely on.
    pub fn check_len(&self) -> Result<(), Ipv6Error> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Ipv6Error::Truncated { actual: data.len() });
        }
        if self.version() != 6 {
            return Err(Ipv6Error::BadVersion(self.version()));
        }
        let available = data.len() - HEADER_LEN;
        if self.payload_len() > available {
            return Err(Ipv6Error::PayloadLenExceedsBuffer { payload_len: self.payload_len(), available });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW] >> 4
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        let data = self.buffer.as_ref();
        (data[0] << 4) | (data[1] >> 4)
    }

    /// The 20-bit flow label.
    pub fn flow_label(&self) -> u32 {
        let data = self.buffer.as_ref();
        u32::from_be_bytes([0, data[1] & 0x0f, data[2], data[3]])
    }

    /// Bytes after the fixed header (extension headers included).
    pub fn payload_len(&self) -> usize {
        let data = self.buffer.as_ref();
        usize::from(u16::from_be_bytes([data[field::PAYLOAD_LEN], data[field::PAYLOAD_LEN + 1]]))
    }

    /// Type of the first header after the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.read_addr(field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.read_addr(field::DST)
    }

    /// Everything after the fixed header, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len()]
    }

    /// Walks the extension headers of the payload (see [`walk_extension_headers`]).
    pub fn extension_headers(&self) -> Result<ExtensionHeaders, Ipv6Error> {
        walk_extension_headers(self.next_header(), self.payload())
    }

    fn read_addr(&self, at: usize) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.buffer.as_ref()[at..at + 16]);
        Ipv6Addr::from(octets)
    }
}

impl<'a> Ipv6Packet<&'a [u8]> {
    /// The upper-layer data a [`Ipv6Repr`] parsed from this packet describes: the last
    /// `repr.payload_len` bytes of the payload, with the buffer's lifetime.
    pub fn upper_layer_payload(&self, repr: &Ipv6Repr) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        let end = HEADER_LEN + self.payload_len();
        let start = end.saturating_sub(repr.payload_len).max(HEADER_LEN);
        &buffer[start..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (low 20 bits used).
    pub fn set_version_class_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[..4].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the type of the first header after the fixed header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 16].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 16].copy_from_slice(&addr.octets());
    }

    /// The payload, writable, up to the payload length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + self.payload_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A parsed IPv6 header with the extension headers walked, or one to emit.
///
/// Exists so the stack can dispatch on the upper-layer protocol without knowing about extension
/// headers: `next_header` is the upper-layer protocol and `payload_len` the upper-layer length.
/// [`Ipv6Repr::emit`] writes no extension headers, so the two coincide on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6).
    pub next_header: u8,
    /// Bytes of upper-layer data (after any extension headers).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses a view: walks the extension headers and refuses non-atomic fragments.
    ///
    /// Lengths are re-checked, so an unchecked view is safe to pass.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr, Ipv6Error> {
        packet.check_len()?;
        let headers = packet.extension_headers()?;
        if let Some(fragment) = headers.fragment {
            if !fragment.is_atomic() {
                return Err(Ipv6Error::Fragment(fragment));
            }
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: headers.protocol,
            payload_len: packet.payload_len() - headers.len,
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Bytes of header [`Ipv6Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the 40-byte fixed header; the caller writes `payload_len` bytes after it.
    ///
    /// # Panics
    /// If the buffer is shorter than 40 bytes or `payload_len` exceeds 65535 (caller bugs).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) {
        let payload_len = u16::try_from(self.payload_len).expect("IPv6 payload longer than 65535 bytes");
        packet.set_version_class_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests;
