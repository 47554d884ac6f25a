//! The 10-byte `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h) that prefixes every
//! read and write on a TUN device opened with `IFF_VNET_HDR`.
//!
//! Layout: `flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, csum_start: u16,
//! csum_offset: u16`. TUN uses the legacy (pre-virtio-1.0) header, whose 16-bit fields are in the
//! host's byte order unless `TUNSETVNETLE`/`TUNSETVNETBE` changed that, so this module reads and
//! writes them in native order.

use super::OffloadError;

/// Size of `struct virtio_net_hdr` (without the `num_buffers` field of the mergeable variant).
pub const VIRTIO_NET_HDR_LEN: usize = 10;

/// `flags` bit: the transport checksum is partial (`CHECKSUM_PARTIAL`): the field at
/// `csum_start + csum_offset` holds the pseudo-header sum and the rest must be summed from
/// `csum_start` to the end of the packet.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `flags` bit: the sender already verified the checksum (`CHECKSUM_UNNECESSARY`).
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;

/// `gso_type`: not a GSO packet.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// `gso_type`: IPv4 TCP super-packet (TSO).
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP fragmentation offload (UFO), deprecated; never segmented here.
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
/// `gso_type`: IPv6 TCP super-packet (TSO).
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP super-packet split into datagrams of `gso_size` payload bytes (USO).
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// `gso_type` bit: the TCP super-packet has CWR set, which only its first segment may carry.
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// What a super-packet is, once the ECN bit is set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    /// A single packet (possibly with a partial checksum to complete).
    None,
    /// IPv4 TCP, split at `gso_size` payload bytes.
    TcpV4,
    /// IPv6 TCP, split at `gso_size` payload bytes.
    TcpV6,
    /// UDP over IPv4 or IPv6, split into datagrams of `gso_size` payload bytes.
    UdpL4,
}

/// A decoded `virtio_net_hdr`: the kernel's description of how a TUN packet is to be segmented
/// and checksummed, or our description of a coalesced packet we write.
///
/// Fields are kept raw so that a header survives a parse/emit round trip bit for bit; the
/// accessors interpret them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    /// `VIRTIO_NET_HDR_F_*` bits.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` value, possibly with [`VIRTIO_NET_HDR_GSO_ECN`].
    pub gso_type: u8,
    /// Length of the headers replicated in every segment (advisory: the kernel may report the
    /// whole linear part instead, so segmentation derives the real length from the packet).
    pub hdr_len: u16,
    /// Payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// Offset of the transport header, where checksumming starts.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start` (16 for TCP, 6 for UDP).
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// The all-zero header: a complete packet with a complete checksum. Prefixes every packet
    /// written to TUN that was not coalesced.
    pub const EMPTY: VirtioNetHdr =
        VirtioNetHdr { flags: 0, gso_type: 0, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };

    /// Decodes the header at the start of `bytes` (which may continue with the packet).
    pub fn parse(bytes: &[u8]) -> Result<VirtioNetHdr, OffloadError> {
        let b = bytes.get(..VIRTIO_NET_HDR_LEN).ok_or(OffloadError::TruncatedVnetHeader)?;
        let field = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        Ok(VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: field(2),
            gso_size: field(4),
            csum_start: field(6),
            csum_offset: field(8),
        })
    }

    /// The 10 wire bytes of this header.
    pub fn to_bytes(&self) -> [u8; VIRTIO_NET_HDR_LEN] {
        let mut out = [0u8; VIRTIO_NET_HDR_LEN];
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        out
    }

    /// Writes the header into the first 10 bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<(), OffloadError> {
        let dst = out.get_mut(..VIRTIO_NET_HDR_LEN).ok_or(OffloadError::TruncatedVnetHeader)?;
        dst.copy_from_slice(&self.to_bytes());
        Ok(())
    }

    /// True when the transport checksum is partial and must be completed before the packet
    /// leaves (see [`VIRTIO_NET_HDR_F_NEEDS_CSUM`]).
    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }

    /// True when the ECN bit of `gso_type` is set (the super-packet carries TCP CWR).
    pub fn has_ecn(&self) -> bool {
        self.gso_type & VIRTIO_NET_HDR_GSO_ECN != 0
    }

    /// The kind of super-packet, ignoring the ECN bit; UFO and unknown values are refused.
    pub fn gso_kind(&self) -> Result<GsoKind, OffloadError> {
        match self.gso_type & !VIRTIO_NET_HDR_GSO_ECN {
            VIRTIO_NET_HDR_GSO_NONE => Ok(GsoKind::None),
            VIRTIO_NET_HDR_GSO_TCPV4 => Ok(GsoKind::TcpV4),
            VIRTIO_NET_HDR_GSO_TCPV6 => Ok(GsoKind::TcpV6),
            VIRTIO_NET_HDR_GSO_UDP_L4 => Ok(GsoKind::UdpL4),
            _ => Err(OffloadError::UnsupportedGsoType(self.gso_type)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN,
            hdr_len: 0x1234,
            gso_size: 1440,
            csum_start: 40,
            csum_offset: 16,
        };
        let bytes = hdr.to_bytes();
        assert_eq!(VirtioNetHdr::parse(&bytes), Ok(hdr));
        let mut buf = [0xaau8; 12];
        hdr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..10], &bytes);
        assert_eq!(&buf[10..], &[0xaa, 0xaa], "emit must not write past the header");
        assert!(hdr.needs_csum());
        assert!(hdr.has_ecn());
        assert_eq!(hdr.gso_kind(), Ok(GsoKind::TcpV6));
    }

    #[test]
    fn layout_is_the_kernel_struct_in_host_order() {
        let hdr = VirtioNetHdr { flags: 1, gso_type: 5, hdr_len: 2, gso_size: 3, csum_start: 4, csum_offset: 5 };
        let mut expected = vec![1u8, 5];
        for v in [2u16, 3, 4, 5] {
            expected.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(hdr.to_bytes().to_vec(), expected);
    }

    #[test]
    fn truncated_input_and_output_are_errors() {
        assert_eq!(VirtioNetHdr::parse(&[0u8; 9]), Err(OffloadError::TruncatedVnetHeader));
        assert_eq!(VirtioNetHdr::EMPTY.emit(&mut [0u8; 9]), Err(OffloadError::TruncatedVnetHeader));
        assert_eq!(VirtioNetHdr::parse(&[0u8; 10]), Ok(VirtioNetHdr::EMPTY));
    }

    #[test]
    fn gso_kinds() {
        let kind = |gso_type| VirtioNetHdr { gso_type, ..VirtioNetHdr::EMPTY }.gso_kind();
        assert_eq!(kind(VIRTIO_NET_HDR_GSO_NONE), Ok(GsoKind::None));
        assert_eq!(kind(VIRTIO_NET_HDR_GSO_TCPV4), Ok(GsoKind::TcpV4));
        assert_eq!(kind(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN), Ok(GsoKind::TcpV4));
        assert_eq!(kind(VIRTIO_NET_HDR_GSO_UDP_L4), Ok(GsoKind::UdpL4));
        assert_eq!(kind(VIRTIO_NET_HDR_GSO_UDP), Err(OffloadError::UnsupportedGsoType(3)));
        assert_eq!(kind(2), Err(OffloadError::UnsupportedGsoType(2)));
        assert_eq!(kind(0x7f), Err(OffloadError::UnsupportedGsoType(0x7f)));
    }
}
