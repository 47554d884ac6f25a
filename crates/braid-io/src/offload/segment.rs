//! TSO/USO segmentation: one super-packet read from TUN, with its `virtio_net_hdr`, becomes the
//! MTU-sized IPv4/IPv6 TCP or UDP packets the kernel would have sent without offloads.
//!
//! Every segment gets a copy of the headers (IPv4 options, IPv6 extension headers and TCP
//! options such as timestamps included) with its lengths fixed, the IPv4 ID incremented per
//! segment and the IPv4 header checksum recomputed; TCP segments get their sequence number
//! advanced by `gso_size`, FIN and PSH only on the last segment and CWR only on the first; UDP
//! segments get their length field. The TCP/UDP checksum is computed from scratch over the
//! pseudo-header and the segment, so it is right whether the kernel left a partial checksum
//! (`NEEDS_CSUM`) or none. `hdr_len` is not trusted: the kernel may report the whole linear part
//! there, so the header length comes from the packet itself.

use braid_wire::checksum::Checksum;

use super::layout::{
    be16, be32, check_ip_length, fix_ipv4_header_checksum, pseudo_header, put_be16, put_be32, tcp_header_len, IpLayout,
    IpVersion, IPPROTO_TCP, IPPROTO_UDP, IPV6_HEADER_LEN, MAX_IP_LEN, TCP_CHECKSUM_OFFSET, TCP_CWR, TCP_FIN,
    TCP_FLAGS_OFFSET, TCP_PSH, UDP_CHECKSUM_OFFSET, UDP_HEADER_LEN,
};
use super::virtio_net_hdr::{GsoKind, VirtioNetHdr};
use super::OffloadError;

/// Splits `packet` (read from TUN, without its vnet header `hdr`) into `out`.
///
/// Segment `i` is written to `out[i][offset..offset + sizes[i]]`; `offset` leaves headroom in
/// front of each packet (for the WireGuard transport header, so encryption can happen in place).
/// Returns the number of segments. A non-GSO packet is copied into `out[0]` as one segment, its
/// partial checksum completed when the header says `NEEDS_CSUM`.
///
/// Everything is validated before anything is written: on error no output buffer is touched.
pub fn segment<B: AsMut<[u8]>>(
    hdr: &VirtioNetHdr,
    packet: &[u8],
    out: &mut [B],
    offset: usize,
    sizes: &mut [usize],
) -> Result<usize, OffloadError> {
    let kind = hdr.gso_kind()?;
    if kind == GsoKind::None {
        return copy_single(hdr, packet, out, offset, sizes);
    }
    let plan = Plan::new(hdr, kind, packet)?;
    let available = out.len().min(sizes.len());
    if plan.count > available {
        return Err(OffloadError::TooManySegments { needed: plan.count, available });
    }
    write_segments(&plan, packet, 0, out, offset, sizes)
}

/// Like [`segment`], for a super-packet that splits into more segments than `out` holds:
/// writes segments `first..` into as many buffers as there are, and returns how many it wrote
/// and how many the packet splits into in all. Call again with `first` advanced until all are
/// written (a 64 KiB packet at a small MSS is thousands of segments). A packet that is not a
/// super-packet is one segment, as with [`segment`].
pub fn segment_from<B: AsMut<[u8]>>(
    hdr: &VirtioNetHdr,
    packet: &[u8],
    first: usize,
    out: &mut [B],
    offset: usize,
    sizes: &mut [usize],
) -> Result<(usize, usize), OffloadError> {
    let kind = hdr.gso_kind()?;
    if kind == GsoKind::None {
        if first > 0 {
            return Ok((0, 1));
        }
        return copy_single(hdr, packet, out, offset, sizes).map(|n| (n, 1));
    }
    let plan = Plan::new(hdr, kind, packet)?;
    let written = write_segments(&plan, packet, first, out, offset, sizes)?;
    Ok((written, plan.count))
}

/// Writes segments `first..` of `plan` into `out` (as many as fit, all checked first).
fn write_segments<B: AsMut<[u8]>>(
    plan: &Plan,
    packet: &[u8],
    first: usize,
    out: &mut [B],
    offset: usize,
    sizes: &mut [usize],
) -> Result<usize, OffloadError> {
    let count = plan.count.saturating_sub(first).min(out.len().min(sizes.len()));
    for (k, buf) in out.iter_mut().take(count).enumerate() {
        let needed = offset.saturating_add(plan.segment_len(first + k));
        let available = buf.as_mut().len();
        if needed > available {
            return Err(OffloadError::BufferTooSmall { needed, available });
        }
    }
    for (k, (buf, size)) in out.iter_mut().zip(sizes.iter_mut()).take(count).enumerate() {
        let len = plan.segment_len(first + k);
        plan.write_segment(packet, first + k, &mut buf.as_mut()[offset..offset + len]);
        *size = len;
    }
    Ok(count)
}

/// Completes a partial transport checksum in place, as the kernel's `skb_checksum_help` would:
/// sums from `csum_start` to the end (the checksum field holds the pseudo-header sum) and stores
/// the complement at `csum_start + csum_offset`. Does nothing unless `hdr` says `NEEDS_CSUM`.
///
/// A UDP checksum that comes out as 0 is sent as 0xffff (RFC 768: 0 means "no checksum").
pub fn complete_checksum(hdr: &VirtioNetHdr, packet: &mut [u8]) -> Result<(), OffloadError> {
    if !hdr.needs_csum() {
        return Ok(());
    }
    let start = usize::from(hdr.csum_start);
    let field = start + usize::from(hdr.csum_offset);
    if field + 2 > packet.len() {
        return Err(OffloadError::BadChecksumOffsets);
    }
    let mut sum = Checksum::new();
    sum.add_bytes(&packet[start..]);
    let mut value = sum.finish();
    if value == 0 && is_udp_checksum_field(packet, start, usize::from(hdr.csum_offset)) {
        value = 0xffff;
    }
    put_be16(packet, field, value);
    Ok(())
}

/// True when `start`/`offset` name the checksum field of the packet's UDP header.
fn is_udp_checksum_field(packet: &[u8], start: usize, offset: usize) -> bool {
    offset == UDP_CHECKSUM_OFFSET
        && IpLayout::parse(packet).is_ok_and(|l| l.protocol == IPPROTO_UDP && l.transport_offset == start)
}

/// The non-GSO case: one packet, copied, its checksum completed if partial.
fn copy_single<B: AsMut<[u8]>>(
    hdr: &VirtioNetHdr,
    packet: &[u8],
    out: &mut [B],
    offset: usize,
    sizes: &mut [usize],
) -> Result<usize, OffloadError> {
    let available = out.len().min(sizes.len());
    let (Some(buf), Some(size)) = (out.first_mut(), sizes.first_mut()) else {
        return Err(OffloadError::TooManySegments { needed: 1, available });
    };
    let buf = buf.as_mut();
    let needed = offset.saturating_add(packet.len());
    if needed > buf.len() {
        return Err(OffloadError::BufferTooSmall { needed, available: buf.len() });
    }
    if hdr.needs_csum() {
        if usize::from(hdr.csum_start) + usize::from(hdr.csum_offset) + 2 > packet.len() {
            return Err(OffloadError::BadChecksumOffsets);
        }
        // A checksum completed over a truncated packet would make it look whole.
        check_ip_length(&IpLayout::parse(packet)?, packet)?;
    }
    let dst = &mut buf[offset..needed];
    dst.copy_from_slice(packet);
    complete_checksum(hdr, dst)?;
    *size = packet.len();
    Ok(1)
}

/// A validated super-packet: where its headers end and how it splits.
struct Plan {
    layout: IpLayout,
    /// IP header(s) plus TCP/UDP header: the bytes replicated in every segment.
    headers_len: usize,
    /// Payload bytes after the headers.
    payload_len: usize,
    gso_size: usize,
    /// Number of segments (at least 1, even for an empty payload).
    count: usize,
    tcp: bool,
}

impl Plan {
    fn new(hdr: &VirtioNetHdr, kind: GsoKind, packet: &[u8]) -> Result<Plan, OffloadError> {
        if hdr.gso_size == 0 {
            return Err(OffloadError::ZeroGsoSize);
        }
        if usize::from(hdr.hdr_len) > packet.len() {
            return Err(OffloadError::BadHeaderLength);
        }
        let layout = IpLayout::parse(packet)?;
        let (tcp, version_ok) = match kind {
            GsoKind::TcpV4 => (true, layout.version == IpVersion::V4),
            GsoKind::TcpV6 => (true, layout.version == IpVersion::V6),
            GsoKind::UdpL4 | GsoKind::None => (false, true),
        };
        let protocol = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        if !version_ok || layout.protocol != protocol {
            return Err(OffloadError::GsoTypeMismatch);
        }
        let transport_header_len = if tcp {
            tcp_header_len(packet, layout.transport_offset)?
        } else if layout.transport_offset + UDP_HEADER_LEN <= packet.len() {
            UDP_HEADER_LEN
        } else {
            return Err(OffloadError::MalformedTransportHeader);
        };
        if hdr.needs_csum() {
            let csum_offset = if tcp { TCP_CHECKSUM_OFFSET } else { UDP_CHECKSUM_OFFSET };
            if usize::from(hdr.csum_start) != layout.transport_offset || usize::from(hdr.csum_offset) != csum_offset {
                return Err(OffloadError::BadChecksumOffsets);
            }
        }
        let headers_len = layout.transport_offset + transport_header_len;
        let payload_len = packet.len() - headers_len;
        let gso_size = usize::from(hdr.gso_size);
        let count = payload_len.div_ceil(gso_size).max(1);
        // The IPv4 total length covers the whole packet, the IPv6 payload length all after the
        // fixed header; both are 16 bits.
        let length_base = match layout.version {
            IpVersion::V4 => 0,
            IpVersion::V6 => IPV6_HEADER_LEN,
        };
        if headers_len + payload_len.min(gso_size) - length_base > MAX_IP_LEN {
            return Err(OffloadError::SegmentTooLarge);
        }
        // Last, once the headers are known good: a read cut short (or padded) must not leave
        // as segments with fresh lengths and checksums.
        check_ip_length(&layout, packet)?;
        Ok(Plan { layout, headers_len, payload_len, gso_size, count, tcp })
    }

    /// Payload bytes of segment `i`.
    fn segment_payload(&self, i: usize) -> core::ops::Range<usize> {
        let start = (i * self.gso_size).min(self.payload_len);
        let end = (start + self.gso_size).min(self.payload_len);
        self.headers_len + start..self.headers_len + end
    }

    /// Total length of segment `i`.
    fn segment_len(&self, i: usize) -> usize {
        self.headers_len + self.segment_payload(i).len()
    }

    /// Writes segment `i` into `out`, which is exactly [`Plan::segment_len`] bytes.
    fn write_segment(&self, packet: &[u8], i: usize, out: &mut [u8]) {
        let payload = self.segment_payload(i);
        let l4 = self.layout.transport_offset;
        out[..self.headers_len].copy_from_slice(&packet[..self.headers_len]);
        out[self.headers_len..].copy_from_slice(&packet[payload]);
        let total = out.len();
        match self.layout.version {
            IpVersion::V4 => {
                put_be16(out, 2, total as u16);
                let id = be16(packet, 4).wrapping_add(i as u16);
                put_be16(out, 4, id);
                fix_ipv4_header_checksum(&mut out[..l4]);
            }
            IpVersion::V6 => put_be16(out, 4, (total - IPV6_HEADER_LEN) as u16),
        }
        let checksum_at = if self.tcp {
            let seq = be32(packet, l4 + 4).wrapping_add((i as u32).wrapping_mul(self.gso_size as u32));
            put_be32(out, l4 + 4, seq);
            let mut clear = 0;
            if i + 1 < self.count {
                clear |= TCP_FIN | TCP_PSH;
            }
            if i > 0 {
                clear |= TCP_CWR;
            }
            out[l4 + TCP_FLAGS_OFFSET] &= !clear;
            l4 + TCP_CHECKSUM_OFFSET
        } else {
            put_be16(out, l4 + 4, (total - l4) as u16);
            l4 + UDP_CHECKSUM_OFFSET
        };
        put_be16(out, checksum_at, 0);
        let mut sum = pseudo_header(self.layout.addresses(packet), self.layout.protocol, total - l4);
        sum.add_bytes(&out[l4..]);
        let mut value = sum.finish();
        if !self.tcp && value == 0 {
            value = 0xffff;
        }
        put_be16(out, checksum_at, value);
    }
}
