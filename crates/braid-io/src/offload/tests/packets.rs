//! Test packet builders and an independent checksum, so that the code under test is checked
//! against a second implementation rather than against itself.

use crate::offload::{VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6};
use crate::offload::{VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN};

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

/// Headroom used by most tests (the WireGuard transport header is 16 bytes).
pub const OFFSET: usize = 16;

/// RFC 1071 the textbook way: big-endian 16-bit words, folded after every addition.
pub fn reference_sum(chunks: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for chunk in chunks {
        bytes.extend_from_slice(chunk);
    }
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Parsed essentials of a test packet (built by this module, so well-formed).
#[derive(Clone, Copy, Debug)]
pub struct Parsed {
    pub v6: bool,
    pub l4: usize,
    pub protocol: u8,
}

pub fn parse(packet: &[u8]) -> Parsed {
    if packet[0] >> 4 == 4 {
        Parsed { v6: false, l4: usize::from(packet[0] & 0x0f) * 4, protocol: packet[9] }
    } else {
        let mut next = packet[6];
        let mut l4 = 40;
        while next == 0 || next == 60 || next == 43 {
            next = packet[l4];
            l4 += (usize::from(packet[l4 + 1]) + 1) * 8;
        }
        Parsed { v6: true, l4, protocol: next }
    }
}

/// The pseudo-header bytes for `packet` (addresses, zero, protocol, 16-bit length for IPv4;
/// addresses, 32-bit length, zeros, next header for IPv6).
pub fn pseudo_header_bytes(packet: &[u8]) -> Vec<u8> {
    let p = parse(packet);
    let len = packet.len() - p.l4;
    let mut out = Vec::new();
    if p.v6 {
        out.extend_from_slice(&packet[8..40]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, p.protocol]);
    } else {
        out.extend_from_slice(&packet[12..20]);
        out.extend_from_slice(&[0, p.protocol]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out
}

/// Asserts that every checksum and length field of `packet` is right, by the reference sum.
pub fn assert_valid(packet: &[u8]) {
    let p = parse(packet);
    if p.v6 {
        assert_eq!(usize::from(u16::from_be_bytes([packet[4], packet[5]])), packet.len() - 40, "IPv6 payload length");
    } else {
        assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), packet.len(), "IPv4 total length");
        assert_eq!(reference_sum(&[&packet[..p.l4]]), 0xffff, "IPv4 header checksum");
    }
    if p.protocol == UDP {
        assert_eq!(usize::from(u16::from_be_bytes([packet[p.l4 + 4], packet[p.l4 + 5]])), packet.len() - p.l4);
        assert_ne!(&packet[p.l4 + 6..p.l4 + 8], &[0, 0], "UDP checksum must be present");
    }
    assert_eq!(reference_sum(&[&pseudo_header_bytes(packet), &packet[p.l4..]]), 0xffff, "transport checksum");
}

/// Everything needed to build one TCP or UDP packet over IPv4 or IPv6.
#[derive(Clone, Debug)]
pub struct Spec {
    pub v6: bool,
    pub protocol: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub tcp_options: Vec<u8>,
    pub ttl: u8,
    pub tos: u8,
    pub ip_id: u16,
    pub df: bool,
    pub flow_label: u32,
    pub ipv4_options: Vec<u8>,
    /// IPv6 extension headers (already encoded, chained to the transport by `build`).
    pub ipv6_hop_by_hop: bool,
    pub payload: Vec<u8>,
}

impl Spec {
    pub fn tcp4() -> Spec {
        Spec {
            v6: false,
            protocol: TCP,
            src: addr(10, 1),
            dst: addr(10, 2),
            sport: 40000,
            dport: 443,
            seq: 1_000_000,
            ack: 77,
            flags: ACK,
            window: 501,
            tcp_options: Vec::new(),
            ttl: 64,
            tos: 0,
            ip_id: 100,
            df: true,
            flow_label: 0,
            ipv4_options: Vec::new(),
            ipv6_hop_by_hop: false,
            payload: Vec::new(),
        }
    }

    pub fn tcp6() -> Spec {
        Spec { v6: true, src: addr(0xfd, 1), dst: addr(0xfd, 2), flow_label: 0x12345, ..Spec::tcp4() }
    }

    pub fn udp4() -> Spec {
        Spec { protocol: UDP, sport: 5000, dport: 6000, ..Spec::tcp4() }
    }

    pub fn udp6() -> Spec {
        Spec { protocol: UDP, sport: 5000, dport: 6000, ..Spec::tcp6() }
    }

    pub fn with_payload(mut self, payload: Vec<u8>) -> Spec {
        self.payload = payload;
        self
    }

    /// RFC 7323 timestamps, padded as Linux sends them (NOP NOP TS).
    pub fn with_timestamps(mut self, tsval: u32, tsecr: u32) -> Spec {
        let mut options = vec![1, 1, 8, 10];
        options.extend_from_slice(&tsval.to_be_bytes());
        options.extend_from_slice(&tsecr.to_be_bytes());
        self.tcp_options = options;
        self
    }

    /// Transport header length.
    pub fn transport_header_len(&self) -> usize {
        if self.protocol == TCP {
            20 + self.tcp_options.len()
        } else {
            8
        }
    }

    /// IP header length (options / extension headers included).
    pub fn ip_header_len(&self) -> usize {
        if self.v6 {
            40 + if self.ipv6_hop_by_hop { 8 } else { 0 }
        } else {
            20 + self.ipv4_options.len()
        }
    }

    /// The packet with correct lengths and checksums.
    pub fn build(&self) -> Vec<u8> {
        let mut transport = Vec::new();
        transport.extend_from_slice(&self.sport.to_be_bytes());
        transport.extend_from_slice(&self.dport.to_be_bytes());
        if self.protocol == TCP {
            assert_eq!(self.tcp_options.len() % 4, 0);
            transport.extend_from_slice(&self.seq.to_be_bytes());
            transport.extend_from_slice(&self.ack.to_be_bytes());
            transport.push((((20 + self.tcp_options.len()) / 4) << 4) as u8);
            transport.push(self.flags);
            transport.extend_from_slice(&self.window.to_be_bytes());
            transport.extend_from_slice(&[0, 0, 0, 0]);
            transport.extend_from_slice(&self.tcp_options);
        } else {
            transport.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
            transport.extend_from_slice(&[0, 0]);
        }
        transport.extend_from_slice(&self.payload);
        let mut packet = Vec::new();
        if self.v6 {
            let first = (6u32 << 28) | (u32::from(self.tos) << 20) | (self.flow_label & 0xfffff);
            packet.extend_from_slice(&first.to_be_bytes());
            let ext = if self.ipv6_hop_by_hop { 8 } else { 0 };
            packet.extend_from_slice(&((transport.len() + ext) as u16).to_be_bytes());
            packet.push(if self.ipv6_hop_by_hop { 0 } else { self.protocol });
            packet.push(self.ttl);
            packet.extend_from_slice(&self.src);
            packet.extend_from_slice(&self.dst);
            if self.ipv6_hop_by_hop {
                // Next header, length 0 (8 bytes), PadN covering the remaining 6 bytes.
                packet.extend_from_slice(&[self.protocol, 0, 1, 4, 0, 0, 0, 0]);
            }
        } else {
            assert_eq!(self.ipv4_options.len() % 4, 0);
            let ihl = (20 + self.ipv4_options.len()) / 4;
            packet.push(0x40 | ihl as u8);
            packet.push(self.tos);
            packet.extend_from_slice(&((ihl * 4 + transport.len()) as u16).to_be_bytes());
            packet.extend_from_slice(&self.ip_id.to_be_bytes());
            packet.extend_from_slice(&[if self.df { 0x40 } else { 0 }, 0]);
            packet.push(self.ttl);
            packet.push(self.protocol);
            packet.extend_from_slice(&[0, 0]);
            packet.extend_from_slice(&self.src[..4]);
            packet.extend_from_slice(&self.dst[..4]);
            packet.extend_from_slice(&self.ipv4_options);
            let header_sum = !reference_sum(&[&packet]);
            packet[10..12].copy_from_slice(&header_sum.to_be_bytes());
        }
        let l4 = packet.len();
        packet.extend_from_slice(&transport);
        let at = l4 + if self.protocol == TCP { 16 } else { 6 };
        let mut value = !reference_sum(&[&pseudo_header_bytes(&packet), &packet[l4..]]);
        if self.protocol == UDP && value == 0 {
            value = 0xffff;
        }
        packet[at..at + 2].copy_from_slice(&value.to_be_bytes());
        packet
    }

    /// The packet as the kernel hands a TSO/USO super-packet to TUN: the checksum field holds
    /// only the pseudo-header sum, and a vnet header with NEEDS_CSUM describes it.
    pub fn build_gso(&self, gso_size: u16) -> (VirtioNetHdr, Vec<u8>) {
        let mut packet = self.build();
        let l4 = self.ip_header_len();
        let csum_offset = if self.protocol == TCP { 16 } else { 6 };
        packet[l4 + csum_offset..l4 + csum_offset + 2].fill(0);
        let partial = reference_sum(&[&pseudo_header_bytes(&packet)]);
        packet[l4 + csum_offset..l4 + csum_offset + 2].copy_from_slice(&partial.to_be_bytes());
        let gso_type = match (self.protocol, self.v6) {
            (TCP, false) => VIRTIO_NET_HDR_GSO_TCPV4,
            (TCP, true) => VIRTIO_NET_HDR_GSO_TCPV6,
            _ => VIRTIO_NET_HDR_GSO_UDP_L4,
        };
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: (l4 + self.transport_header_len()) as u16,
            gso_size,
            csum_start: l4 as u16,
            csum_offset: csum_offset as u16,
        };
        (hdr, packet)
    }
}

/// A 16-byte address whose first bytes are `a.0.0.b` (the first 4 serve IPv4).
pub fn addr(a: u8, b: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0] = a;
    out[3] = b;
    out[15] = b;
    out
}

/// Payload bytes that differ by position, so misplaced bytes are caught.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).wrapping_add((i >> 8) as u8)).collect()
}

/// Places each packet at `OFFSET` in a buffer of `capacity` bytes (after the offset) and
/// returns the buffers and lengths, ready for `Coalescer::coalesce`.
pub fn batch(packets: &[Vec<u8>], capacity: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut bufs = Vec::new();
    let mut lens = Vec::new();
    for packet in packets {
        let mut buf = vec![0xeeu8; OFFSET + capacity.max(packet.len())];
        buf[OFFSET..OFFSET + packet.len()].copy_from_slice(packet);
        bufs.push(buf);
        lens.push(packet.len());
    }
    (bufs, lens)
}

/// The vnet header and packet of a coalesced write.
pub fn written(bufs: &[Vec<u8>], lens: &[usize], index: usize) -> (VirtioNetHdr, Vec<u8>) {
    let hdr = VirtioNetHdr::parse(&bufs[index][OFFSET - VIRTIO_NET_HDR_LEN..]).unwrap();
    (hdr, bufs[index][OFFSET..OFFSET + lens[index]].to_vec())
}
