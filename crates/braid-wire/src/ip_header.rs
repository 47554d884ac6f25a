//! The little of an IPv4/IPv6 header the WireGuard core needs: version, addresses, declared length.
//!
//! Outbound, the destination picks the peer from the allowed-IPs table. Inbound, after decryption,
//! the source must belong to the sending peer, and the declared length tells where the packet ends
//! and the zero padding added before sealing begins. Full IP modules for the TCP/IP stack live
//! elsewhere; this view checks only what these three uses rely on (no checksum, no options parsing).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Byte offsets inside the two header formats (RFC 791 §3.1, RFC 8200 §3).
mod field {
    pub(super) const IPV4_TOTAL_LEN: usize = 2;
    pub(super) const IPV4_SRC: usize = 12;
    pub(super) const IPV4_DST: usize = 16;
    pub(super) const IPV4_MIN_HEADER_LEN: usize = 20;
    pub(super) const IPV6_PAYLOAD_LEN: usize = 4;
    pub(super) const IPV6_SRC: usize = 8;
    pub(super) const IPV6_DST: usize = 24;
    pub(super) const IPV6_HEADER_LEN: usize = 40;
}

/// The IP version announced by the high nibble of the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4 (nibble 4).
    V4,
    /// IPv6 (nibble 6).
    V6,
}

/// Why a buffer does not start with a usable IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpHeaderError {
    /// The buffer ends before the header (or the IPv4 options it announces) does.
    #[error("IP header truncated: need {needed} bytes, have {actual}")]
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the buffer holds.
        actual: usize,
    },
    /// The version nibble is neither 4 nor 6.
    #[error("IP version {0} is neither 4 nor 6")]
    BadVersion(u8),
    /// An IPv4 header-length (IHL) field below its minimum of 5 words.
    #[error("IPv4 header length {header_len} bytes is below the 20-byte minimum")]
    Ipv4HeaderLenTooSmall {
        /// IHL × 4.
        header_len: usize,
    },
    /// The declared packet length does not even cover the header.
    #[error("declared IP length {total_len} is smaller than the {header_len}-byte header")]
    TotalLenBelowHeader {
        /// The declared length.
        total_len: usize,
        /// The header length.
        header_len: usize,
    },
    /// The declared packet length runs past the end of the buffer.
    #[error("declared IP length {total_len} exceeds the {buffer_len}-byte buffer")]
    TotalLenExceedsBuffer {
        /// The declared length.
        total_len: usize,
        /// The buffer length.
        buffer_len: usize,
    },
}

/// A checked view of the IP header at the start of a buffer.
///
/// After [`IpHeader::new_checked`] succeeds the header and the declared length fit in the buffer,
/// so no getter can panic. The buffer may be longer than the packet (e.g. WireGuard padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeader<T> {
    buffer: T,
}

/// Layout constants. They sit on the `&[u8]` instantiation only so that
/// `IpHeader::IPV4_MIN_HEADER_LEN` can be written without naming a buffer type.
impl IpHeader<&[u8]> {
    /// An IPv4 header without options.
    pub const IPV4_MIN_HEADER_LEN: usize = field::IPV4_MIN_HEADER_LEN;
    /// The fixed IPv6 header (extension headers count as payload).
    pub const IPV6_HEADER_LEN: usize = field::IPV6_HEADER_LEN;
}

impl<T: AsRef<[u8]>> IpHeader<T> {
    /// Checks the version, that the header fits, and that the declared length is at least the
    /// header and at most the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, IpHeaderError> {
        let buf = buffer.as_ref();
        let actual = buf.len();
        let first = *buf.first().ok_or(IpHeaderError::Truncated { needed: 1, actual })?;
        let (header_len, total_len) = match first >> 4 {
            4 => {
                if actual < field::IPV4_MIN_HEADER_LEN {
                    return Err(IpHeaderError::Truncated { needed: field::IPV4_MIN_HEADER_LEN, actual });
                }
                let header_len = usize::from(first & 0x0f) * 4;
                if header_len < field::IPV4_MIN_HEADER_LEN {
                    return Err(IpHeaderError::Ipv4HeaderLenTooSmall { header_len });
                }
                if actual < header_len {
                    return Err(IpHeaderError::Truncated { needed: header_len, actual });
                }
                (header_len, usize::from(read_u16_be(buf, field::IPV4_TOTAL_LEN)))
            }
            6 => {
                if actual < field::IPV6_HEADER_LEN {
                    return Err(IpHeaderError::Truncated { needed: field::IPV6_HEADER_LEN, actual });
                }
                let payload_len = usize::from(read_u16_be(buf, field::IPV6_PAYLOAD_LEN));
                (field::IPV6_HEADER_LEN, field::IPV6_HEADER_LEN + payload_len)
            }
            other => return Err(IpHeaderError::BadVersion(other)),
        };
        if total_len < header_len {
            return Err(IpHeaderError::TotalLenBelowHeader { total_len, header_len });
        }
        if total_len > actual {
            return Err(IpHeaderError::TotalLenExceedsBuffer { total_len, buffer_len: actual });
        }
        Ok(Self { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether this is an IPv4 or an IPv6 packet.
    pub fn version(&self) -> IpVersion {
        if self.buffer.as_ref()[0] >> 4 == 4 {
            IpVersion::V4
        } else {
            IpVersion::V6
        }
    }

    /// Header length in bytes: IHL × 4 for IPv4 (options included), 40 for IPv6.
    pub fn header_len(&self) -> usize {
        match self.version() {
            IpVersion::V4 => usize::from(self.buffer.as_ref()[0] & 0x0f) * 4,
            IpVersion::V6 => field::IPV6_HEADER_LEN,
        }
    }

    /// The packet's declared length, header included: the IPv4 total-length field, or
    /// 40 + the IPv6 payload-length field. Bytes of the buffer beyond it are padding.
    pub fn total_len(&self) -> usize {
        let buf = self.buffer.as_ref();
        match self.version() {
            IpVersion::V4 => usize::from(read_u16_be(buf, field::IPV4_TOTAL_LEN)),
            IpVersion::V6 => field::IPV6_HEADER_LEN + usize::from(read_u16_be(buf, field::IPV6_PAYLOAD_LEN)),
        }
    }

    /// The source address, which inbound traffic must have from the sending peer's allowed IPs.
    pub fn src(&self) -> IpAddr {
        self.address(field::IPV4_SRC, field::IPV6_SRC)
    }

    /// The destination address, which picks the peer for outbound traffic.
    pub fn dst(&self) -> IpAddr {
        self.address(field::IPV4_DST, field::IPV6_DST)
    }

    /// The packet without trailing padding: the first [`IpHeader::total_len`] bytes.
    pub fn packet(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.total_len()]
    }

    /// Reads the address at the offset matching the version.
    fn address(&self, v4_at: usize, v6_at: usize) -> IpAddr {
        let buf = self.buffer.as_ref();
        match self.version() {
            IpVersion::V4 => {
                let mut octets = [0u8; 4];
                octets.copy_from_slice(&buf[v4_at..v4_at + 4]);
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            IpVersion::V6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&buf[v6_at..v6_at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        }
    }
}

/// Reads a network-order `u16` at an offset the caller has proven in bounds.
fn read_u16_be(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

#[cfg(test)]
mod tests;
