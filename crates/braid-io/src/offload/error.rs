//! Why an offload operation refused its input.

use core::fmt;

/// The reasons segmentation, checksum completion or coalescing can refuse a packet or a batch.
///
/// Every malformed input maps to one of these instead of a panic: a super-packet read from TUN
/// comes from the local kernel, but a bug there or in the caller must cost one packet, never the
/// process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadError {
    /// Fewer than the 10 bytes of a `virtio_net_hdr`.
    TruncatedVnetHeader,
    /// A `gso_type` this code does not segment (UFO, or a value Linux does not define).
    UnsupportedGsoType(u8),
    /// The `gso_type` names another IP version or transport protocol than the packet carries.
    GsoTypeMismatch,
    /// A GSO packet with `gso_size` 0, which would split into infinitely many segments.
    ZeroGsoSize,
    /// The IP header is truncated, has an unknown version or an impossible header length.
    MalformedIpHeader,
    /// The packet is an IP fragment, which cannot be segmented.
    Fragmented,
    /// The TCP or UDP header is truncated or its data offset is impossible.
    MalformedTransportHeader,
    /// `hdr_len` points past the end of the packet.
    BadHeaderLength,
    /// `csum_start`/`csum_offset` point outside the packet or away from the transport checksum.
    BadChecksumOffsets,
    /// A segment would not fit the 16-bit IP length field.
    SegmentTooLarge,
    /// The super-packet splits into more segments than there are output buffers (or size slots).
    TooManySegments {
        /// Segments the packet splits into.
        needed: usize,
        /// Output buffers (or size slots) the caller provided.
        available: usize,
    },
    /// An output buffer cannot hold its segment after the requested headroom.
    BufferTooSmall {
        /// Bytes the buffer needs (headroom + segment).
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The IP header's length field (IPv4 total length, IPv6 payload length plus the header)
    /// does not match the bytes read: a truncated read, which must not leave with fresh
    /// lengths and checksums.
    LengthMismatch {
        /// The length the IP header claims.
        header: usize,
        /// The bytes actually read.
        read: usize,
    },
    /// A coalescing batch is inconsistent: headroom below the vnet header size, a length that
    /// runs past its buffer, or fewer lengths than buffers.
    InvalidBatch,
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffloadError::TruncatedVnetHeader => write!(f, "virtio-net header truncated"),
            OffloadError::UnsupportedGsoType(t) => write!(f, "unsupported virtio-net GSO type {t}"),
            OffloadError::GsoTypeMismatch => write!(f, "GSO type does not match the packet's IP version or protocol"),
            OffloadError::ZeroGsoSize => write!(f, "GSO packet with gso_size 0"),
            OffloadError::MalformedIpHeader => write!(f, "malformed IP header"),
            OffloadError::Fragmented => write!(f, "IP fragment cannot be segmented"),
            OffloadError::MalformedTransportHeader => write!(f, "malformed TCP/UDP header"),
            OffloadError::BadHeaderLength => write!(f, "virtio-net hdr_len beyond the packet"),
            OffloadError::BadChecksumOffsets => write!(f, "virtio-net csum_start/csum_offset invalid"),
            OffloadError::SegmentTooLarge => write!(f, "segment exceeds the IP length field"),
            OffloadError::TooManySegments { needed, available } => {
                write!(f, "packet splits into {needed} segments, only {available} buffers")
            }
            OffloadError::BufferTooSmall { needed, available } => {
                write!(f, "output buffer of {available} bytes, {needed} needed")
            }
            OffloadError::LengthMismatch { header, read } => {
                write!(f, "IP header says {header} bytes, {read} were read")
            }
            OffloadError::InvalidBatch => write!(f, "inconsistent coalescing batch"),
        }
    }
}

impl std::error::Error for OffloadError {}
