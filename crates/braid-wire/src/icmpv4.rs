//! ICMP for IPv4 (RFC 792): echo for ping, and the error messages a host must understand —
//! destination unreachable, fragmentation needed (path-MTU discovery, RFC 1191), time exceeded and
//! parameter problem — each carrying the quoted start of the offending datagram.
//!
//! Other message types are refused with [`Icmpv4Error::UnsupportedType`] so the stack can count and
//! drop them. A quote is validated when parsed ([`Ipv4Quote`]): it must hold the original IPv4
//! header and at least 8 bytes of its payload, enough to find the TCP/UDP ports it concerns.

use core::net::Ipv4Addr;

use crate::checksum::checksum;

/// IP protocol number of ICMP.
pub const PROTOCOL: u8 = 1;
/// Length of the ICMP header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = 8;
/// Payload bytes an error must quote beyond the original IP header (RFC 792).
pub const MIN_QUOTED_PAYLOAD: usize = 8;
/// Most bytes of the original datagram an error should quote so the whole ICMP datagram stays
/// within 576 bytes (RFC 1812 §4.3.2.3: 576 − 20 IP − 8 ICMP).
pub const MAX_QUOTE_LEN: usize = 548;

/// Message type numbers.
mod msg_type {
    pub(super) const ECHO_REPLY: u8 = 0;
    pub(super) const DST_UNREACHABLE: u8 = 3;
    pub(super) const ECHO_REQUEST: u8 = 8;
    pub(super) const TIME_EXCEEDED: u8 = 11;
    pub(super) const PARAM_PROBLEM: u8 = 12;
}

/// The destination-unreachable code that carries a next-hop MTU.
const CODE_FRAG_NEEDED: u8 = 4;

/// Why a buffer is not an ICMPv4 message this stack handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Icmpv4Error {
    /// The buffer is shorter than the 8-byte header.
    #[error("ICMPv4 message of {actual} bytes is shorter than the 8-byte header")]
    Truncated {
        /// Bytes in the buffer.
        actual: usize,
    },
    /// The checksum does not verify.
    #[error("ICMPv4 checksum mismatch")]
    BadChecksum,
    /// A message type the stack does not handle.
    #[error("unsupported ICMPv4 type {0}")]
    UnsupportedType(u8),
    /// A code that is not defined for its type.
    #[error("ICMPv4 type {msg_type} has no code {code}")]
    BadCode {
        /// The message type.
        msg_type: u8,
        /// The code.
        code: u8,
    },
    /// An error message whose quote is not an IPv4 header plus 8 bytes.
    #[error("ICMPv4 error quotes {len} bytes, not an IPv4 header plus 8 bytes")]
    BadQuote {
        /// Bytes quoted.
        len: usize,
    },
}

/// Why a destination was unreachable (type 3, every code except 4, which is
/// [`Icmpv4Repr::FragNeeded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Unreachable {
    /// Code 0.
    NetUnreachable,
    /// Code 1.
    HostUnreachable,
    /// Code 2: the transport protocol is not supported.
    ProtocolUnreachable,
    /// Code 3: no socket on the port (sent for UDP without a listener).
    PortUnreachable,
    /// Code 5.
    SourceRouteFailed,
    /// Code 6.
    DstNetUnknown,
    /// Code 7.
    DstHostUnknown,
    /// Code 8.
    SourceHostIsolated,
    /// Code 9.
    NetProhibited,
    /// Code 10.
    HostProhibited,
    /// Code 11.
    NetUnreachableForTos,
    /// Code 12.
    HostUnreachableForTos,
    /// Code 13 (RFC 1812).
    AdminProhibited,
    /// Code 14 (RFC 1812).
    HostPrecedenceViolation,
    /// Code 15 (RFC 1812).
    PrecedenceCutoff,
    /// Any code above 15 (kept so it can be counted; never 4).
    Other(u8),
}

impl Icmpv4Unreachable {
    /// The code for everything but 4 (which the caller maps to [`Icmpv4Repr::FragNeeded`]).
    fn from_code(code: u8) -> Self {
        use Icmpv4Unreachable::*;
        match code {
            0 => NetUnreachable,
            1 => HostUnreachable,
            2 => ProtocolUnreachable,
            3 => PortUnreachable,
            5 => SourceRouteFailed,
            6 => DstNetUnknown,
            7 => DstHostUnknown,
            8 => SourceHostIsolated,
            9 => NetProhibited,
            10 => HostProhibited,
            11 => NetUnreachableForTos,
            12 => HostUnreachableForTos,
            13 => AdminProhibited,
            14 => HostPrecedenceViolation,
            15 => PrecedenceCutoff,
            other => Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        use Icmpv4Unreachable::*;
        match self {
            NetUnreachable => 0,
            HostUnreachable => 1,
            ProtocolUnreachable => 2,
            PortUnreachable => 3,
            SourceRouteFailed => 5,
            DstNetUnknown => 6,
            DstHostUnknown => 7,
            SourceHostIsolated => 8,
            NetProhibited => 9,
            HostProhibited => 10,
            NetUnreachableForTos => 11,
            HostUnreachableForTos => 12,
            AdminProhibited => 13,
            HostPrecedenceViolation => 14,
            PrecedenceCutoff => 15,
            Other(code) => code,
        }
    }
}

/// Why a datagram expired (type 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4TimeExceeded {
    /// Code 0: the TTL reached zero in transit.
    TtlExceeded,
    /// Code 1: fragment reassembly timed out.
    ReassemblyTimeExceeded,
}

/// The start of the datagram an ICMP error is about: its IPv4 header and at least 8 payload bytes.
///
/// Exists so the stack can find the connection or socket an error concerns (addresses, protocol,
/// ports) without re-validating; the raw bytes are kept so the quote is re-emitted exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Quote<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv4Quote<'a> {
    /// Validates quoted bytes: version 4, a sane header length, and 8 payload bytes after it.
    ///
    /// The quoted header's total length and checksum are not checked (routers may have changed
    /// them, and the quote is usually truncated).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Icmpv4Error> {
        let bad = Icmpv4Error::BadQuote { len: bytes.len() };
        let &first = bytes.first().ok_or(bad)?;
        let header_len = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || header_len < 20 || bytes.len() < header_len + MIN_QUOTED_PAYLOAD {
            return Err(bad);
        }
        Ok(Ipv4Quote { bytes })
    }

    /// The quoted bytes, exactly as received (or as given to [`Ipv4Quote::parse`]).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Source of the original datagram (this host, for errors about what it sent).
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.bytes[12], self.bytes[13], self.bytes[14], self.bytes[15])
    }

    /// Destination of the original datagram.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.bytes[16], self.bytes[17], self.bytes[18], self.bytes[19])
    }

    /// Protocol of the original datagram.
    pub fn protocol(&self) -> u8 {
        self.bytes[9]
    }

    /// The original datagram's total-length field: how large the datagram that did not fit was
    /// (RFC 1191 §5 picks the next lower MTU plateau from it when a router reports no MTU).
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }

    /// The original datagram's fragment offset in bytes. Only a quote with offset 0 starts with
    /// the transport header, so only then do [`Ipv4Quote::ports`] and the bytes after them mean
    /// anything.
    pub fn fragment_offset(&self) -> usize {
        usize::from(u16::from_be_bytes([self.bytes[6], self.bytes[7]]) & 0x1fff) * 8
    }

    /// The quoted start of the original payload (at least 8 bytes: TCP/UDP ports come first).
    pub fn payload(&self) -> &'a [u8] {
        let header_len = usize::from(self.bytes[0] & 0x0f) * 4;
        &self.bytes[header_len..]
    }

    /// Source and destination ports of a quoted TCP or UDP header (the first four payload bytes).
    pub fn ports(&self) -> (u16, u16) {
        let p = self.payload();
        (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]))
    }
}

/// A view of an ICMPv4 message occupying a whole buffer (the IPv4 payload).
///
/// After [`Icmpv4Packet::new_checked`] the 8-byte header is present, so no getter can panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it; getters may panic until [`Icmpv4Packet::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer after checking that the header is present.
    pub fn new_checked(buffer: T) -> Result<Self, Icmpv4Error> {
        let packet = Icmpv4Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the length the getters rely on.
    pub fn check_len(&self) -> Result<(), Icmpv4Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Icmpv4Error::Truncated { actual: len });
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
        self.read_u16(2)
    }

    /// Echo identifier (echo messages).
    pub fn echo_ident(&self) -> u16 {
        self.read_u16(4)
    }

    /// Echo sequence number (echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(6)
    }

    /// Next-hop MTU (fragmentation needed; 0 from pre-RFC 1191 routers).
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(6)
    }

    /// Offending-octet pointer (parameter problem).
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// Everything after the 8-byte header: echo data or the quoted datagram.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True when the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum(self.buffer.as_ref()) == 0
    }

    fn read_u16(&self, at: usize) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[at], data[at + 1]])
    }
}

impl<'a> Icmpv4Packet<&'a [u8]> {
    /// The data with the lifetime of the underlying buffer.
    fn data_of_buffer(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        &buffer[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the checksum field directly (see [`Icmpv4Packet::fill_checksum`]).
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the 4-byte rest of the header (identifier/sequence, MTU, pointer, or zeros).
    pub fn set_rest_of_header(&mut self, value: [u8; 4]) {
        self.buffer.as_mut()[4..8].copy_from_slice(&value);
    }

    /// Everything after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum(self.buffer.as_ref());
        self.set_checksum(value);
    }
}

/// A parsed, checksum-verified ICMPv4 message of a kind the stack handles, or one to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Type 8: a ping to answer with [`Icmpv4Repr::EchoReply`] carrying the same fields.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to echo.
        data: &'a [u8],
    },
    /// Type 0: the answer to a ping.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echoed data.
        data: &'a [u8],
    },
    /// Type 3 (any code but 4).
    DstUnreachable {
        /// The code.
        reason: Icmpv4Unreachable,
        /// The offending datagram's start.
        quote: Ipv4Quote<'a>,
    },
    /// Type 3 code 4: the datagram had DF set and did not fit the next hop (path-MTU discovery).
    FragNeeded {
        /// MTU of the next hop (0 when the router predates RFC 1191).
        next_hop_mtu: u16,
        /// The offending datagram's start.
        quote: Ipv4Quote<'a>,
    },
    /// Type 11.
    TimeExceeded {
        /// The code.
        reason: Icmpv4TimeExceeded,
        /// The offending datagram's start.
        quote: Ipv4Quote<'a>,
    },
    /// Type 12 code 0: a header field was bad.
    ParamProblem {
        /// Offset of the offending byte in the quoted datagram.
        pointer: u8,
        /// The offending datagram's start.
        quote: Ipv4Quote<'a>,
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message: checksum verified, type and code known, quote validated.
    pub fn parse(packet: &Icmpv4Packet<&'a [u8]>) -> Result<Icmpv4Repr<'a>, Icmpv4Error> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Icmpv4Error::BadChecksum);
        }
        let (msg_type, code) = (packet.msg_type(), packet.msg_code());
        let bad_code = Icmpv4Error::BadCode { msg_type, code };
        let data = packet.data_of_buffer();
        let repr = match msg_type {
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY => {
                if code != 0 {
                    return Err(bad_code);
                }
                let (ident, seq_no) = (packet.echo_ident(), packet.echo_seq_no());
                if msg_type == msg_type::ECHO_REQUEST {
                    Icmpv4Repr::EchoRequest { ident, seq_no, data }
                } else {
                    Icmpv4Repr::EchoReply { ident, seq_no, data }
                }
            }
            msg_type::DST_UNREACHABLE if code == CODE_FRAG_NEEDED => {
                Icmpv4Repr::FragNeeded { next_hop_mtu: packet.next_hop_mtu(), quote: Ipv4Quote::parse(data)? }
            }
            msg_type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                reason: Icmpv4Unreachable::from_code(code),
                quote: Ipv4Quote::parse(data)?,
            },
            msg_type::TIME_EXCEEDED => {
                let reason = match code {
                    0 => Icmpv4TimeExceeded::TtlExceeded,
                    1 => Icmpv4TimeExceeded::ReassemblyTimeExceeded,
                    _ => return Err(bad_code),
                };
                Icmpv4Repr::TimeExceeded { reason, quote: Ipv4Quote::parse(data)? }
            }
            msg_type::PARAM_PROBLEM => {
                if code != 0 {
                    return Err(bad_code);
                }
                Icmpv4Repr::ParamProblem { pointer: packet.pointer(), quote: Ipv4Quote::parse(data)? }
            }
            other => return Err(Icmpv4Error::UnsupportedType(other)),
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
            Icmpv4Repr::EchoRequest { ident, seq_no, data } => {
                (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no), data)
            }
            Icmpv4Repr::EchoReply { ident, seq_no, data } => (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no), data),
            Icmpv4Repr::DstUnreachable { reason, quote } => {
                (msg_type::DST_UNREACHABLE, reason.code(), [0; 4], quote.as_bytes())
            }
            Icmpv4Repr::FragNeeded { next_hop_mtu, quote } => {
                let [hi, lo] = next_hop_mtu.to_be_bytes();
                (msg_type::DST_UNREACHABLE, CODE_FRAG_NEEDED, [0, 0, hi, lo], quote.as_bytes())
            }
            Icmpv4Repr::TimeExceeded { reason, quote } => {
                let code = match reason {
                    Icmpv4TimeExceeded::TtlExceeded => 0,
                    Icmpv4TimeExceeded::ReassemblyTimeExceeded => 1,
                };
                (msg_type::TIME_EXCEEDED, code, [0; 4], quote.as_bytes())
            }
            Icmpv4Repr::ParamProblem { pointer, quote } => {
                (msg_type::PARAM_PROBLEM, 0, [pointer, 0, 0, 0], quote.as_bytes())
            }
        }
    }

    /// Bytes [`Icmpv4Repr::emit`] writes: header plus data or quote.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.parts().3.len()
    }

    /// Writes the message and its checksum into the first [`Icmpv4Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Icmpv4Repr::buffer_len`] (a caller bug).
    pub fn emit(&self, packet: &mut Icmpv4Packet<&mut [u8]>) {
        let (msg_type, code, rest, data) = self.parts();
        let len = HEADER_LEN + data.len();
        let mut message = Icmpv4Packet::new_unchecked(&mut packet.buffer[..len]);
        message.set_msg_type(msg_type);
        message.set_msg_code(code);
        message.set_rest_of_header(rest);
        message.data_mut().copy_from_slice(data);
        message.fill_checksum();
    }
}

#[cfg(test)]
mod tests;
