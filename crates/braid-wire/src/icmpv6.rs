//! ICMPv6 (RFC 4443): echo, and the error messages a host must understand — destination
//! unreachable, packet too big (path-MTU discovery, RFC 8201), time exceeded and parameter problem —
//! each carrying the quoted start of the offending packet. The checksum covers the IPv6
//! pseudo-header.
//!
//! Other types (neighbour discovery included: a TUN device needs none) are refused with
//! [`Icmpv6Error::UnsupportedType`] so the stack can count and drop them.

use core::net::{IpAddr, Ipv6Addr};

use crate::checksum::Checksum;
use crate::ipv6::{self, walk_extension_headers};

/// IP protocol (next header) number of ICMPv6.
pub const PROTOCOL: u8 = 58;
/// Length of the ICMPv6 header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = 8;
/// Upper-layer bytes an accepted quote must hold (enough for TCP/UDP ports and the TCP sequence).
pub const MIN_QUOTED_PAYLOAD: usize = 8;
/// Most bytes of the original packet an error should quote so the error fits the IPv6 minimum
/// MTU (RFC 4443 §2.4(c): 1280 − 40 IPv6 − 8 ICMPv6).
pub const MAX_QUOTE_LEN: usize = 1232;

/// Message type numbers.
mod msg_type {
    pub(super) const DST_UNREACHABLE: u8 = 1;
    pub(super) const PACKET_TOO_BIG: u8 = 2;
    pub(super) const TIME_EXCEEDED: u8 = 3;
    pub(super) const PARAM_PROBLEM: u8 = 4;
    pub(super) const ECHO_REQUEST: u8 = 128;
    pub(super) const ECHO_REPLY: u8 = 129;
}

/// Why a buffer is not an ICMPv6 message this stack handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Icmpv6Error {
    /// The buffer is shorter than the 8-byte header.
    #[error("ICMPv6 message of {actual} bytes is shorter than the 8-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The message does not fit a 32-bit pseudo-header length.
    #[error("ICMPv6 message too long")]
    TooLong,
    /// The checksum does not verify.
    #[error("ICMPv6 checksum mismatch")]
    BadChecksum,
    /// A message type the stack does not handle.
    #[error("unsupported ICMPv6 type {0}")]
    UnsupportedType(u8),
    /// A code that is not defined for its type.
    #[error("ICMPv6 type {msg_type} has no code {code}")]
    BadCode {
        /// The message type.
        msg_type: u8,
        /// The code.
        code: u8,
    },
    /// An error message whose quote is not an IPv6 packet start with 8 upper-layer bytes.
    #[error("ICMPv6 error quotes {len} bytes, not an IPv6 header plus 8 upper-layer bytes")]
    BadQuote {
        /// Bytes quoted.
        len: usize,
    },
}

/// Why a destination was unreachable (type 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Unreachable {
    /// Code 0.
    NoRoute,
    /// Code 1.
    AdminProhibited,
    /// Code 2.
    BeyondScope,
    /// Code 3.
    AddrUnreachable,
    /// Code 4: no socket on the port.
    PortUnreachable,
    /// Code 5.
    FailedPolicy,
    /// Code 6.
    RejectRoute,
    /// Any other code (kept so it can be counted).
    Other(u8),
}

impl Icmpv6Unreachable {
    fn from_code(code: u8) -> Self {
        use Icmpv6Unreachable::*;
        match code {
            0 => NoRoute,
            1 => AdminProhibited,
            2 => BeyondScope,
            3 => AddrUnreachable,
            4 => PortUnreachable,
            5 => FailedPolicy,
            6 => RejectRoute,
            other => Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        use Icmpv6Unreachable::*;
        match self {
            NoRoute => 0,
            AdminProhibited => 1,
            BeyondScope => 2,
            AddrUnreachable => 3,
            PortUnreachable => 4,
            FailedPolicy => 5,
            RejectRoute => 6,
            Other(code) => code,
        }
    }
}

/// Why a packet expired (type 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6TimeExceeded {
    /// Code 0: the hop limit reached zero in transit.
    HopLimitExceeded,
    /// Code 1: fragment reassembly timed out.
    ReassemblyTimeExceeded,
}

/// What was wrong with a packet (type 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6ParamProblem {
    /// Code 0: a header field was bad.
    ErroneousHeaderField,
    /// Code 1: an unknown next-header type (sent for an unsupported upper-layer protocol).
    UnrecognizedNextHeader,
    /// Code 2: an unknown option whose action bits demand an error.
    UnrecognizedOption,
    /// Any other code (RFC 7112 and later additions).
    Other(u8),
}

impl Icmpv6ParamProblem {
    fn from_code(code: u8) -> Self {
        match code {
            0 => Icmpv6ParamProblem::ErroneousHeaderField,
            1 => Icmpv6ParamProblem::UnrecognizedNextHeader,
            2 => Icmpv6ParamProblem::UnrecognizedOption,
            other => Icmpv6ParamProblem::Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Icmpv6ParamProblem::ErroneousHeaderField => 0,
            Icmpv6ParamProblem::UnrecognizedNextHeader => 1,
            Icmpv6ParamProblem::UnrecognizedOption => 2,
            Icmpv6ParamProblem::Other(code) => code,
        }
    }
}

/// The start of the packet an ICMPv6 error is about: its fixed header, any extension headers, and
/// at least 8 bytes of the upper layer.
///
/// Exists so the stack can find the connection or socket an error concerns; the raw bytes are kept
/// so the quote is re-emitted exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Quote<'a> {
    bytes: &'a [u8],
    protocol: u8,
    upper_offset: usize,
}

impl<'a> Ipv6Quote<'a> {
    /// Validates quoted bytes: version 6, an extension-header chain that fits, and 8 upper-layer
    /// bytes after it. The quoted payload length is not checked (quotes are usually truncated).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Icmpv6Error> {
        let bad = Icmpv6Error::BadQuote { len: bytes.len() };
        if bytes.len() < ipv6::HEADER_LEN || bytes[0] >> 4 != 6 {
            return Err(bad);
        }
        let headers = walk_extension_headers(bytes[6], &bytes[ipv6::HEADER_LEN..]).map_err(|_| bad)?;
        let upper_offset = ipv6::HEADER_LEN + headers.len;
        if bytes.len() < upper_offset + MIN_QUOTED_PAYLOAD {
            return Err(bad);
        }
        Ok(Ipv6Quote { bytes, protocol: headers.protocol, upper_offset })
    }

    /// The quoted bytes, exactly as received (or as given to [`Ipv6Quote::parse`]).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Source of the original packet.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.read_addr(8)
    }

    /// Destination of the original packet.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.read_addr(24)
    }

    /// Upper-layer protocol of the original packet (after its extension headers).
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The quoted start of the upper layer (at least 8 bytes: TCP/UDP ports come first).
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.upper_offset..]
    }

    /// Source and destination ports of a quoted TCP or UDP header (the first four upper-layer bytes).
    pub fn ports(&self) -> (u16, u16) {
        let p = self.payload();
        (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]))
    }

    fn read_addr(&self, at: usize) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.bytes[at..at + 16]);
        Ipv6Addr::from(octets)
    }
}

/// A view of an ICMPv6 message occupying a whole buffer (the upper-layer payload).
///
/// After [`Icmpv6Packet::new_checked`] the 8-byte header is present, so no getter can panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it; getters may panic until [`Icmpv6Packet::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer after checking that the header is present.
    pub fn new_checked(buffer: T) -> Result<Self, Icmpv6Error> {
        let packet = Icmpv6Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the length the getters rely on.
    pub fn check_len(&self) -> Result<(), Icmpv6Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Icmpv6Error::Truncated { actual: len });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Checksum field as received.
    pub fn checksum(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[2], data[3]])
    }

    /// Echo identifier (echo messages).
    pub fn echo_ident(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[4], data[5]])
    }

    /// Echo sequence number (echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[6], data[7]])
    }

    /// The 32-bit rest-of-header: MTU (packet too big) or pointer (parameter problem).
    pub fn rest_u32(&self) -> u32 {
        let data = self.buffer.as_ref();
        u32::from_be_bytes([data[4], data[5], data[6], data[7]])
    }

    /// Everything after the 8-byte header: echo data or the quoted packet.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True when the checksum over the pseudo-header and the whole message verifies.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        let mut sum = Checksum::pseudo_header(IpAddr::V6(src), IpAddr::V6(dst), PROTOCOL, len);
        sum.add_bytes(data);
        sum.is_valid()
    }
}

impl<'a> Icmpv6Packet<&'a [u8]> {
    /// The data with the lifetime of the underlying buffer.
    fn data_of_buffer(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        &buffer[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the checksum field directly (see [`Icmpv6Packet::fill_checksum`]).
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the 4-byte rest of the header.
    pub fn set_rest_of_header(&mut self, value: [u8; 4]) {
        self.buffer.as_mut()[4..8].copy_from_slice(&value);
    }

    /// Everything after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and stores the checksum over the pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let mut sum = Checksum::pseudo_header(IpAddr::V6(src), IpAddr::V6(dst), PROTOCOL, data.len() as u32);
        sum.add_bytes(data);
        let value = sum.finish();
        self.set_checksum(value);
    }
}

/// A parsed, checksum-verified ICMPv6 message of a kind the stack handles, or one to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Type 128: a ping to answer with [`Icmpv6Repr::EchoReply`] carrying the same fields.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to echo.
        data: &'a [u8],
    },
    /// Type 129: the answer to a ping.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echoed data.
        data: &'a [u8],
    },
    /// Type 1.
    DstUnreachable {
        /// The code.
        reason: Icmpv6Unreachable,
        /// The offending packet's start.
        quote: Ipv6Quote<'a>,
    },
    /// Type 2: the packet did not fit the next link (path-MTU discovery).
    PacketTooBig {
        /// MTU of the next hop.
        mtu: u32,
        /// The offending packet's start.
        quote: Ipv6Quote<'a>,
    },
    /// Type 3.
    TimeExceeded {
        /// The code.
        reason: Icmpv6TimeExceeded,
        /// The offending packet's start.
        quote: Ipv6Quote<'a>,
    },
    /// Type 4.
    ParamProblem {
        /// The code.
        reason: Icmpv6ParamProblem,
        /// Offset of the offending byte in the quoted packet.
        pointer: u32,
        /// The offending packet's start.
        quote: Ipv6Quote<'a>,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message: checksum verified against the pseudo-header, type and code known, quote
    /// validated.
    pub fn parse(packet: &Icmpv6Packet<&'a [u8]>, src: Ipv6Addr, dst: Ipv6Addr) -> Result<Icmpv6Repr<'a>, Icmpv6Error> {
        packet.check_len()?;
        if u32::try_from(packet.buffer.len()).is_err() {
            return Err(Icmpv6Error::TooLong);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(Icmpv6Error::BadChecksum);
        }
        let (msg_type, code) = (packet.msg_type(), packet.msg_code());
        let bad_code = Icmpv6Error::BadCode { msg_type, code };
        let data = packet.data_of_buffer();
        let repr = match msg_type {
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY => {
                if code != 0 {
                    return Err(bad_code);
                }
                let (ident, seq_no) = (packet.echo_ident(), packet.echo_seq_no());
                if msg_type == msg_type::ECHO_REQUEST {
                    Icmpv6Repr::EchoRequest { ident, seq_no, data }
                } else {
                    Icmpv6Repr::EchoReply { ident, seq_no, data }
                }
            }
            msg_type::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable {
                reason: Icmpv6Unreachable::from_code(code),
                quote: Ipv6Quote::parse(data)?,
            },
            msg_type::PACKET_TOO_BIG => {
                if code != 0 {
                    return Err(bad_code);
                }
                Icmpv6Repr::PacketTooBig { mtu: packet.rest_u32(), quote: Ipv6Quote::parse(data)? }
            }
            msg_type::TIME_EXCEEDED => {
                let reason = match code {
                    0 => Icmpv6TimeExceeded::HopLimitExceeded,
                    1 => Icmpv6TimeExceeded::ReassemblyTimeExceeded,
                    _ => return Err(bad_code),
                };
                Icmpv6Repr::TimeExceeded { reason, quote: Ipv6Quote::parse(data)? }
            }
            msg_type::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                reason: Icmpv6ParamProblem::from_code(code),
                pointer: packet.rest_u32(),
                quote: Ipv6Quote::parse(data)?,
            },
            other => return Err(Icmpv6Error::UnsupportedType(other)),
        };
        Ok(repr)
    }

    /// Type, code, rest-of-header and trailing data of the message.
    fn parts(&self) -> (u8, u8, [u8; 4], &'a [u8]) {
        let echo_rest = |ident: u16, seq_no: u16| {
            let (i, s) = (ident.to_be_bytes(), seq_no.to_be_bytes());
            [i[0], i[1], s[0], s[1]]
        };
        match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => {
                (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no), data)
            }
            Icmpv6Repr::EchoReply { ident, seq_no, data } => (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no), data),
            Icmpv6Repr::DstUnreachable { reason, quote } => {
                (msg_type::DST_UNREACHABLE, reason.code(), [0; 4], quote.as_bytes())
            }
            Icmpv6Repr::PacketTooBig { mtu, quote } => {
                (msg_type::PACKET_TOO_BIG, 0, mtu.to_be_bytes(), quote.as_bytes())
            }
            Icmpv6Repr::TimeExceeded { reason, quote } => {
                let code = match reason {
                    Icmpv6TimeExceeded::HopLimitExceeded => 0,
                    Icmpv6TimeExceeded::ReassemblyTimeExceeded => 1,
                };
                (msg_type::TIME_EXCEEDED, code, [0; 4], quote.as_bytes())
            }
            Icmpv6Repr::ParamProblem { reason, pointer, quote } => {
                (msg_type::PARAM_PROBLEM, reason.code(), pointer.to_be_bytes(), quote.as_bytes())
            }
        }
    }

    /// Bytes [`Icmpv6Repr::emit`] writes: header plus data or quote.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.parts().3.len()
    }

    /// Writes the message and its checksum (with the pseudo-header for `src` → `dst`) into the
    /// first [`Icmpv6Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Icmpv6Repr::buffer_len`] (a caller bug).
    pub fn emit(&self, packet: &mut Icmpv6Packet<&mut [u8]>, src: Ipv6Addr, dst: Ipv6Addr) {
        let (msg_type, code, rest, data) = self.parts();
        let len = HEADER_LEN + data.len();
        let mut message = Icmpv6Packet::new_unchecked(&mut packet.buffer[..len]);
        message.set_msg_type(msg_type);
        message.set_msg_code(code);
        message.set_rest_of_header(rest);
        message.data_mut().copy_from_slice(data);
        message.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests;
