//! GRO for TUN writes: a batch of decrypted IP packets becomes as few writes as possible.
//!
//! TCP segments of one flow whose sequence numbers follow each other and whose headers are
//! equal (everything but the length fields, the IPv4 ID, which must increase by one, and PSH,
//! which may only end a run) are merged into one super-packet with a `virtio_net_hdr` of type
//! `GSO_TCPV4`/`GSO_TCPV6`; with UDP GRO enabled, consecutive same-sized datagrams of one flow
//! likewise become a `GSO_UDP_L4` super-packet. A merged packet carries `NEEDS_CSUM` with the
//! pseudo-header sum in its checksum field (`CHECKSUM_PARTIAL`), which is what the kernel expects
//! of a GSO packet written to TUN. Everything else is written unchanged behind an empty header.
//!
//! A packet whose checksums do not verify is never merged: the partial checksum of a merged
//! packet is trusted by the kernel, so merging would launder corruption. Checksums are verified
//! lazily, only for packets that are about to be merged.
//!
//! Merging is in place, like wireguard-go: each packet lives in its own caller buffer behind at
//! least [`VIRTIO_NET_HDR_LEN`] bytes of headroom, and a run's payload is appended to the buffer of
//! its first packet, so runs only grow as far as that buffer has room (64 KiB buffers give the
//! full benefit). Per flow, packets keep their order relative to every packet that was not
//! merged; a TCP segment may join an earlier run of its flow (that only repairs reordering).

use super::layout::{
    be16, be32, fix_ipv4_header_checksum, ipv4_header_checksum_valid, pseudo_header, put_be16, tcp_header_len,
    transport_checksum_valid, IpLayout, IpVersion, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_LEN, IPV6_HEADER_LEN,
    MAX_IP_LEN, TCP_ACK, TCP_CHECKSUM_OFFSET, TCP_FLAGS_OFFSET, TCP_PSH, UDP_CHECKSUM_OFFSET, UDP_HEADER_LEN,
};
use super::virtio_net_hdr::{
    VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN,
};
use super::OffloadError;

/// Most datagrams merged into one UDP super-packet. Linux refuses a `GSO_UDP_L4` write with more
/// than `UDP_MAX_SEGMENTS` segments (64 before Linux 6.11 raised it to 128), so runs stop at the
/// older limit.
pub const MAX_UDP_GRO_SEGMENTS: usize = 64;

/// Reusable GRO state: keep one per TUN writer and call [`Coalescer::coalesce`] once per batch.
///
/// Its tables keep their capacity between batches, so after the first batches of a given size
/// coalescing allocates nothing.
#[derive(Debug, Default)]
pub struct Coalescer {
    runs: Vec<Run>,
    writes: Vec<usize>,
    udp_gro: bool,
}

impl Coalescer {
    /// A coalescer that merges TCP only, with room for batches of `batch` packets.
    pub fn with_capacity(batch: usize) -> Coalescer {
        Coalescer { runs: Vec::with_capacity(batch), writes: Vec::with_capacity(batch), udp_gro: false }
    }

    /// Enables or disables UDP GRO (`GSO_UDP_L4`); enable it only when the TUN device accepted
    /// the USO offloads, or the kernel refuses the writes.
    pub fn set_udp_gro(&mut self, enabled: bool) {
        self.udp_gro = enabled;
    }

    /// Coalesces one batch in place and returns the indices of the buffers to write, in order.
    ///
    /// Packet `i` is `bufs[i][offset..offset + lens[i]]`, with `offset >= VIRTIO_NET_HDR_LEN`.
    /// On return, for each returned index `i` the bytes to write to TUN are
    /// `bufs[i][offset - VIRTIO_NET_HDR_LEN..offset + lens[i]]`: a vnet header followed by the
    /// (possibly merged) packet, `lens[i]` updated. Buffers not listed were merged into an
    /// earlier one and may be reused. Fails, touching nothing, when the batch is inconsistent.
    pub fn coalesce<B: AsMut<[u8]>>(
        &mut self,
        bufs: &mut [B],
        lens: &mut [usize],
        offset: usize,
    ) -> Result<&[usize], OffloadError> {
        if offset < VIRTIO_NET_HDR_LEN || lens.len() != bufs.len() {
            return Err(OffloadError::InvalidBatch);
        }
        for (buf, &len) in bufs.iter_mut().zip(lens.iter()) {
            if offset.checked_add(len).is_none_or(|end| end > buf.as_mut().len()) {
                return Err(OffloadError::InvalidBatch);
            }
        }
        self.runs.clear();
        self.writes.clear();
        for (i, &len) in lens.iter().enumerate() {
            let (earlier, rest) = bufs.split_at_mut(i);
            let packet: &[u8] = &rest[0].as_mut()[offset..offset + len];
            match classify(packet, self.udp_gro) {
                Class::Candidate(candidate) => {
                    if !self.try_merge(earlier, offset, packet, &candidate) {
                        self.runs.push(Run::start(i, &candidate));
                        self.writes.push(i);
                    }
                }
                Class::Flow(key) => {
                    for run in self.runs.iter_mut().filter(|run| run.key == key) {
                        run.open = false;
                    }
                    self.writes.push(i);
                }
                Class::Other => self.writes.push(i),
            }
        }
        for &i in &self.writes {
            let buf = bufs[i].as_mut();
            buf[offset - VIRTIO_NET_HDR_LEN..offset].copy_from_slice(&VirtioNetHdr::EMPTY.to_bytes());
        }
        for run in &self.runs {
            if run.segments > 1 {
                let buf = bufs[run.head].as_mut();
                let (vnet, packet) =
                    buf[offset - VIRTIO_NET_HDR_LEN..offset + run.len].split_at_mut(VIRTIO_NET_HDR_LEN);
                vnet.copy_from_slice(&run.finish(packet).to_bytes());
                lens[run.head] = run.len;
            }
        }
        Ok(&self.writes)
    }

    /// Appends `packet` to a run of its flow if one accepts it; false when it must start its own.
    fn try_merge<B: AsMut<[u8]>>(
        &mut self,
        earlier: &mut [B],
        offset: usize,
        packet: &[u8],
        candidate: &Candidate,
    ) -> bool {
        let tcp = candidate.layout.protocol == IPPROTO_TCP;
        for run in self.runs.iter_mut().rev().filter(|run| run.key == candidate.key) {
            let head = &mut earlier[run.head].as_mut()[offset..];
            if run.open && run.accepts(&head[..run.len], packet, candidate, head.len()) {
                if !run.verified {
                    run.verified = checksums_valid(&head[..run.len], &run.layout);
                    if !run.verified {
                        run.open = false;
                        return false;
                    }
                }
                if !checksums_valid(packet, &candidate.layout) {
                    // Written as is; later packets must not overtake it.
                    run.open = false;
                    return false;
                }
                run.append(head, packet, candidate);
                return true;
            }
            if !tcp {
                // A datagram may only extend its flow's newest run, or it would overtake that run.
                return false;
            }
        }
        false
    }
}

/// The 5-tuple (with the IP version) that identifies a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowKey {
    addresses: [u8; 32],
    ports: [u8; 4],
    protocol: u8,
    v6: bool,
}

/// A packet that may be merged, with the facts merging needs.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    key: FlowKey,
    layout: IpLayout,
    headers_len: usize,
    payload_len: usize,
    /// TCP sequence number (0 for UDP).
    seq: u32,
    /// IPv4 identification (0 for IPv6).
    ip_id: u16,
    /// TCP PSH is set: the packet may end a run but not be followed.
    psh: bool,
}

/// What a packet is to the coalescer.
enum Class {
    /// A TCP/UDP packet that may be merged.
    Candidate(Candidate),
    /// A TCP/UDP packet that may not (control flags, no payload, IP options, ...): written as is,
    /// and its flow's runs are closed so no later packet of the flow overtakes it.
    Flow(FlowKey),
    /// Anything else: written as is.
    Other,
}

/// Decides whether `packet` may be merged.
fn classify(packet: &[u8], udp_gro: bool) -> Class {
    let Ok(layout) = IpLayout::parse(packet) else {
        return Class::Other;
    };
    if layout.protocol != IPPROTO_TCP && layout.protocol != IPPROTO_UDP {
        return Class::Other;
    }
    let l4 = layout.transport_offset;
    let Some(ports) = packet.get(l4..l4 + 4) else {
        return Class::Other;
    };
    let mut key = FlowKey {
        addresses: [0; 32],
        ports: [ports[0], ports[1], ports[2], ports[3]],
        protocol: layout.protocol,
        v6: layout.version == IpVersion::V6,
    };
    let addresses = layout.addresses(packet);
    key.addresses[..addresses.len()].copy_from_slice(addresses);
    match candidate(packet, layout, key, udp_gro) {
        Some(candidate) => Class::Candidate(candidate),
        None => Class::Flow(key),
    }
}

/// The merge facts of a TCP/UDP packet, or `None` when it may not be merged.
fn candidate(packet: &[u8], layout: IpLayout, key: FlowKey, udp_gro: bool) -> Option<Candidate> {
    let l4 = layout.transport_offset;
    // No IPv4 options or IPv6 extension headers (the kernel's GRO refuses them too), and IP
    // lengths that match the packet exactly.
    let ip_id = match layout.version {
        IpVersion::V4 => {
            if l4 != IPV4_HEADER_LEN || usize::from(be16(packet, 2)) != packet.len() {
                return None;
            }
            be16(packet, 4)
        }
        IpVersion::V6 => {
            if l4 != IPV6_HEADER_LEN || usize::from(be16(packet, 4)) != packet.len() - IPV6_HEADER_LEN {
                return None;
            }
            0
        }
    };
    let (headers_len, seq, psh) = if layout.protocol == IPPROTO_TCP {
        let headers_len = l4 + tcp_header_len(packet, l4).ok()?;
        let flags = packet[l4 + TCP_FLAGS_OFFSET];
        // Only plain data segments: SYN, FIN, RST, URG, ECE and CWR all end coalescing.
        if flags != TCP_ACK && flags != TCP_ACK | TCP_PSH {
            return None;
        }
        (headers_len, be32(packet, l4 + 4), flags & TCP_PSH != 0)
    } else {
        let headers_len = l4 + UDP_HEADER_LEN;
        if !udp_gro
            || headers_len > packet.len()
            || usize::from(be16(packet, l4 + 4)) != packet.len() - l4
            || be16(packet, l4 + UDP_CHECKSUM_OFFSET) == 0
        {
            return None;
        }
        (headers_len, 0, false)
    };
    let payload_len = packet.len() - headers_len;
    if payload_len == 0 {
        return None;
    }
    Some(Candidate { key, layout, headers_len, payload_len, seq, ip_id, psh })
}

/// IPv4 header checksum (when IPv4) and transport checksum both verify.
fn checksums_valid(packet: &[u8], layout: &IpLayout) -> bool {
    (layout.version == IpVersion::V6 || ipv4_header_checksum_valid(&packet[..layout.transport_offset]))
        && transport_checksum_valid(packet, layout)
}

/// A run of packets being merged into the buffer of its first packet (the head).
#[derive(Clone, Copy, Debug)]
struct Run {
    key: FlowKey,
    /// Index of the head's buffer in the batch.
    head: usize,
    layout: IpLayout,
    headers_len: usize,
    /// Payload per segment: the head's payload length.
    gso_size: usize,
    /// Current length of the merged packet.
    len: usize,
    /// TCP sequence number the next segment must have.
    next_seq: u32,
    /// IPv4 ID of the last segment.
    last_ip_id: u16,
    segments: usize,
    /// More segments may be appended.
    open: bool,
    /// The head's checksums were verified.
    verified: bool,
}

impl Run {
    fn start(head: usize, c: &Candidate) -> Run {
        Run {
            key: c.key,
            head,
            layout: c.layout,
            headers_len: c.headers_len,
            gso_size: c.payload_len,
            len: c.headers_len + c.payload_len,
            next_seq: c.seq.wrapping_add(c.payload_len as u32),
            last_ip_id: c.ip_id,
            segments: 1,
            open: !c.psh,
            verified: false,
        }
    }

    /// True when `packet` can be the next segment of this run, whose head is `head` and whose
    /// buffer has `capacity` bytes from the packet start.
    fn accepts(&self, head: &[u8], packet: &[u8], c: &Candidate, capacity: usize) -> bool {
        let merged_len = self.len + c.payload_len;
        if c.headers_len != self.headers_len
            || c.payload_len > self.gso_size
            || merged_len > MAX_IP_LEN
            || merged_len > capacity
        {
            return false;
        }
        let ip_equal = match self.layout.version {
            // TOS (with ECN), flags and fragment offset, TTL; the ID must continue the run.
            IpVersion::V4 => {
                head[1] == packet[1] && head[6..9] == packet[6..9] && c.ip_id == self.last_ip_id.wrapping_add(1)
            }
            // Version, traffic class (with ECN) and flow label; hop limit.
            IpVersion::V6 => head[..4] == packet[..4] && head[7] == packet[7],
        };
        if !ip_equal {
            return false;
        }
        let l4 = self.layout.transport_offset;
        if self.layout.protocol == IPPROTO_TCP {
            // Acknowledgment, data offset, flags (PSH aside), window, urgent pointer and options
            // all equal, so segmenting the merged packet reproduces every header exactly.
            c.seq == self.next_seq
                && head[l4 + 8..l4 + 13] == packet[l4 + 8..l4 + 13]
                && head[l4 + TCP_FLAGS_OFFSET] == packet[l4 + TCP_FLAGS_OFFSET] & !TCP_PSH
                && head[l4 + 14..l4 + 16] == packet[l4 + 14..l4 + 16]
                && head[l4 + 18..self.headers_len] == packet[l4 + 18..self.headers_len]
        } else {
            // UDP: equal ports and addresses (the flow key) are all; `append` closes a run at
            // MAX_UDP_GRO_SEGMENTS.
            true
        }
    }

    /// Appends the payload of `packet` to the head (in `head_buf`, from the packet start).
    fn append(&mut self, head_buf: &mut [u8], packet: &[u8], c: &Candidate) {
        head_buf[self.len..self.len + c.payload_len].copy_from_slice(&packet[self.headers_len..]);
        self.len += c.payload_len;
        self.segments += 1;
        self.next_seq = self.next_seq.wrapping_add(c.payload_len as u32);
        self.last_ip_id = c.ip_id;
        if c.psh {
            head_buf[self.layout.transport_offset + TCP_FLAGS_OFFSET] |= TCP_PSH;
            self.open = false;
        }
        if c.payload_len < self.gso_size {
            // Only the last segment may be short.
            self.open = false;
        }
        if self.layout.protocol == IPPROTO_UDP && self.segments >= MAX_UDP_GRO_SEGMENTS {
            self.open = false;
        }
    }

    /// Fixes the lengths and checksums of the merged `packet` and returns its vnet header.
    fn finish(&self, packet: &mut [u8]) -> VirtioNetHdr {
        let l4 = self.layout.transport_offset;
        let tcp = self.layout.protocol == IPPROTO_TCP;
        match self.layout.version {
            IpVersion::V4 => {
                put_be16(packet, 2, self.len as u16);
                fix_ipv4_header_checksum(&mut packet[..l4]);
            }
            IpVersion::V6 => put_be16(packet, 4, (self.len - IPV6_HEADER_LEN) as u16),
        }
        let csum_offset = if tcp {
            TCP_CHECKSUM_OFFSET
        } else {
            put_be16(packet, l4 + 4, (self.len - l4) as u16);
            UDP_CHECKSUM_OFFSET
        };
        let partial = pseudo_header(self.layout.addresses(packet), self.layout.protocol, self.len - l4).sum();
        put_be16(packet, l4 + csum_offset, partial);
        let gso_type = match (tcp, self.layout.version) {
            (true, IpVersion::V4) => VIRTIO_NET_HDR_GSO_TCPV4,
            (true, IpVersion::V6) => VIRTIO_NET_HDR_GSO_TCPV6,
            (false, _) => VIRTIO_NET_HDR_GSO_UDP_L4,
        };
        VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: self.headers_len as u16,
            gso_size: self.gso_size as u16,
            csum_start: l4 as u16,
            csum_offset: csum_offset as u16,
        }
    }
}
