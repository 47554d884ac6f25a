//! Where the IP and transport headers of a packet sit, and the few header fields offloading
//! rewrites.
//!
//! Segmentation and coalescing both need the same facts: the IP version, the offset of the TCP or
//! UDP header (after IPv4 options or IPv6 extension headers), and the pseudo-header sum. These
//! helpers check every length before they index, so the callers may index within the ranges
//! they were given.

use braid_wire::checksum::Checksum;

use super::OffloadError;

/// IP protocol number of TCP.
pub(crate) const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub(crate) const IPPROTO_UDP: u8 = 17;

/// Fixed IPv4 header length (no options).
pub(crate) const IPV4_HEADER_LEN: usize = 20;
/// Fixed IPv6 header length.
pub(crate) const IPV6_HEADER_LEN: usize = 40;
/// UDP header length.
pub(crate) const UDP_HEADER_LEN: usize = 8;
/// Smallest TCP header (data offset 5).
pub(crate) const TCP_MIN_HEADER_LEN: usize = 20;

/// Offset of the checksum field in a TCP header.
pub(crate) const TCP_CHECKSUM_OFFSET: usize = 16;
/// Offset of the checksum field in a UDP header.
pub(crate) const UDP_CHECKSUM_OFFSET: usize = 6;
/// Offset of the flags byte in a TCP header.
pub(crate) const TCP_FLAGS_OFFSET: usize = 13;

/// TCP FIN flag.
pub(crate) const TCP_FIN: u8 = 0x01;
/// TCP PSH flag.
pub(crate) const TCP_PSH: u8 = 0x08;
/// TCP ACK flag.
pub(crate) const TCP_ACK: u8 = 0x10;
/// TCP CWR flag.
pub(crate) const TCP_CWR: u8 = 0x80;

/// Largest value of a 16-bit IP length field.
pub(crate) const MAX_IP_LEN: usize = 0xffff;

/// IPv6 extension headers that may sit between the fixed header and TCP/UDP, besides the
/// fragment header (which makes the packet unsegmentable).
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTIONS: u8 = 60;
/// Extension headers walked before giving up (a bound on work per packet).
const MAX_IPV6_EXTENSION_HEADERS: usize = 8;

/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpVersion {
    V4,
    V6,
}

/// The network-layer facts of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpLayout {
    pub version: IpVersion,
    /// Offset of the transport header (IPv4 header with options, or IPv6 header plus extension
    /// headers); at most the packet length.
    pub transport_offset: usize,
    /// The transport protocol found at `transport_offset`.
    pub protocol: u8,
}

impl IpLayout {
    /// Locates the transport header. IPv4 fragments and IPv6 fragment headers are refused.
    pub fn parse(packet: &[u8]) -> Result<IpLayout, OffloadError> {
        let first = *packet.first().ok_or(OffloadError::MalformedIpHeader)?;
        match first >> 4 {
            4 => {
                if packet.len() < IPV4_HEADER_LEN {
                    return Err(OffloadError::MalformedIpHeader);
                }
                let header_len = usize::from(first & 0x0f) * 4;
                if header_len < IPV4_HEADER_LEN || header_len > packet.len() {
                    return Err(OffloadError::MalformedIpHeader);
                }
                if ipv4_is_fragment(packet) {
                    return Err(OffloadError::Fragmented);
                }
                Ok(IpLayout { version: IpVersion::V4, transport_offset: header_len, protocol: packet[9] })
            }
            6 => {
                if packet.len() < IPV6_HEADER_LEN {
                    return Err(OffloadError::MalformedIpHeader);
                }
                let mut next = packet[6];
                let mut offset = IPV6_HEADER_LEN;
                for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
                    match next {
                        IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTIONS => {
                            let ext = packet.get(offset..offset + 2).ok_or(OffloadError::MalformedIpHeader)?;
                            next = ext[0];
                            offset += (usize::from(ext[1]) + 1) * 8;
                            if offset > packet.len() {
                                return Err(OffloadError::MalformedIpHeader);
                            }
                        }
                        IPV6_FRAGMENT => return Err(OffloadError::Fragmented),
                        protocol => return Ok(IpLayout { version: IpVersion::V6, transport_offset: offset, protocol }),
                    }
                }
                Err(OffloadError::MalformedIpHeader)
            }
            _ => Err(OffloadError::MalformedIpHeader),
        }
    }

    /// Source and destination address, back to back (8 bytes for IPv4, 32 for IPv6): exactly the
    /// address part of the pseudo-header.
    pub fn addresses<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        match self.version {
            IpVersion::V4 => &packet[12..20],
            IpVersion::V6 => &packet[8..40],
        }
    }
}

/// Checks that the IP header's length field covers exactly `packet` (the caller parsed it as
/// IPv4 or IPv6 already, so the fixed header is there).
pub(crate) fn check_ip_length(layout: &IpLayout, packet: &[u8]) -> Result<(), OffloadError> {
    let header = match layout.version {
        IpVersion::V4 => usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        IpVersion::V6 => IPV6_HEADER_LEN + usize::from(u16::from_be_bytes([packet[4], packet[5]])),
    };
    if header != packet.len() {
        return Err(OffloadError::LengthMismatch { header, read: packet.len() });
    }
    Ok(())
}

/// True for an IPv4 packet with More Fragments set or a non-zero fragment offset.
/// The caller guarantees at least 20 bytes.
pub(crate) fn ipv4_is_fragment(packet: &[u8]) -> bool {
    packet[6] & 0x20 != 0 || (packet[6] & 0x1f) != 0 || packet[7] != 0
}

/// Length of the TCP header at `offset`, checked against the packet.
pub(crate) fn tcp_header_len(packet: &[u8], offset: usize) -> Result<usize, OffloadError> {
    let data_offset = packet.get(offset + 12).ok_or(OffloadError::MalformedTransportHeader)?;
    let len = usize::from(data_offset >> 4) * 4;
    if len < TCP_MIN_HEADER_LEN || offset + len > packet.len() {
        return Err(OffloadError::MalformedTransportHeader);
    }
    Ok(len)
}

/// The pseudo-header sum (RFC 793/768 for IPv4, RFC 8200 §8.1 for IPv6) over `addresses`
/// (source then destination), the transport length and the protocol.
pub(crate) fn pseudo_header(addresses: &[u8], protocol: u8, transport_len: usize) -> Checksum {
    let mut sum = Checksum::new();
    sum.add_bytes(addresses);
    sum.add_u32(transport_len as u32);
    sum.add_u16(u16::from(protocol));
    sum
}

/// Recomputes the IPv4 header checksum over `header` (the whole header, options included).
pub(crate) fn fix_ipv4_header_checksum(header: &mut [u8]) {
    header[10] = 0;
    header[11] = 0;
    let value = braid_wire::checksum::checksum(header);
    header[10..12].copy_from_slice(&value.to_be_bytes());
}

/// True when an IPv4 header (options included) carries a correct header checksum.
pub(crate) fn ipv4_header_checksum_valid(header: &[u8]) -> bool {
    let mut sum = Checksum::new();
    sum.add_bytes(header);
    sum.is_valid()
}

/// True when the TCP or UDP checksum of `packet` verifies (pseudo-header included).
pub(crate) fn transport_checksum_valid(packet: &[u8], layout: &IpLayout) -> bool {
    let transport = &packet[layout.transport_offset..];
    let mut sum = pseudo_header(layout.addresses(packet), layout.protocol, transport.len());
    sum.add_bytes(transport);
    sum.is_valid()
}

/// Reads a big-endian u16 at `at`; the caller has checked `at + 2 <= bytes.len()`.
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Reads a big-endian u32 at `at`; the caller has checked `at + 4 <= bytes.len()`.
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Writes a big-endian u16 at `at`; the caller has checked the range.
pub(crate) fn put_be16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Writes a big-endian u32 at `at`; the caller has checked the range.
pub(crate) fn put_be32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}
