//! Coalescing: what merges, what must not, and that every merged write segments back into
//! exactly the packets it was made of.

use super::packets::*;
use crate::offload::{
    complete_checksum, segment, Coalescer, OffloadError, VirtioNetHdr, MAX_UDP_GRO_SEGMENTS,
    VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN,
};

/// Buffer capacity after the headroom that lets runs grow to 64 KiB.
pub(super) const BIG: usize = 65536;

/// `count` consecutive segments of one flow: sequence numbers and IPv4 IDs advance.
fn flow(base: &Spec, count: usize, size: usize) -> Vec<Spec> {
    (0..count)
        .map(|i| Spec {
            seq: base.seq.wrapping_add((i * size) as u32),
            ip_id: base.ip_id.wrapping_add(i as u16),
            ..base.clone().with_payload(pattern(size, i as u8))
        })
        .collect()
}

fn build_all(specs: &[Spec]) -> Vec<Vec<u8>> {
    specs.iter().map(Spec::build).collect()
}

/// Result of coalescing one batch.
pub(super) struct Outcome {
    pub writes: Vec<usize>,
    pub bufs: Vec<Vec<u8>>,
    pub lens: Vec<usize>,
}

impl Outcome {
    pub fn header(&self, write: usize) -> VirtioNetHdr {
        written(&self.bufs, &self.lens, self.writes[write]).0
    }

    fn packet(&self, write: usize) -> Vec<u8> {
        written(&self.bufs, &self.lens, self.writes[write]).1
    }

    /// Every write turned back into the packets it stands for, in write order. Merged writes
    /// are checked on the way: their partial checksum must complete to a valid one.
    pub fn expand(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &i in &self.writes {
            let (hdr, packet) = written(&self.bufs, &self.lens, i);
            if hdr == VirtioNetHdr::EMPTY {
                out.push(packet);
                continue;
            }
            assert_eq!(hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
            let p = parse(&packet);
            assert_eq!(usize::from(hdr.csum_start), p.l4);
            // The checksum field holds the pseudo-header sum of the merged packet.
            let mut zeroed = packet.clone();
            let field = p.l4 + usize::from(hdr.csum_offset);
            zeroed[field..field + 2].fill(0);
            let partial = reference_sum(&[&pseudo_header_bytes(&zeroed)]);
            assert_eq!(&packet[field..field + 2], &partial.to_be_bytes(), "partial checksum");
            // Completing it as the kernel would gives a valid packet.
            let mut completed = packet.clone();
            complete_checksum(&VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_NONE, ..hdr }, &mut completed).unwrap();
            assert_valid(&completed);
            let max_segments = packet.len() / usize::from(hdr.gso_size) + 2;
            let mut bufs = vec![vec![0u8; packet.len()]; max_segments];
            let mut sizes = vec![0usize; max_segments];
            let n = segment(&hdr, &packet, &mut bufs, 0, &mut sizes).unwrap();
            assert!(n >= 2, "a merged write stands for at least two packets");
            out.extend(bufs.iter().zip(&sizes).take(n).map(|(b, &s)| b[..s].to_vec()));
        }
        out
    }
}

pub(super) fn coalesce_with(coalescer: &mut Coalescer, packets: &[Vec<u8>], capacity: usize) -> Outcome {
    let (mut bufs, mut lens) = batch(packets, capacity);
    let writes = coalescer.coalesce(&mut bufs, &mut lens, OFFSET).unwrap().to_vec();
    Outcome { writes, bufs, lens }
}

fn coalesce(packets: &[Vec<u8>]) -> Outcome {
    coalesce_with(&mut Coalescer::with_capacity(packets.len()), packets, BIG)
}

fn coalesce_udp(packets: &[Vec<u8>]) -> Outcome {
    let mut coalescer = Coalescer::with_capacity(packets.len());
    coalescer.set_udp_gro(true);
    coalesce_with(&mut coalescer, packets, BIG)
}

#[test]
fn a_run_of_44_tcp4_segments_becomes_one_write() {
    let base = Spec::tcp4().with_timestamps(1000, 2000);
    let packets = build_all(&flow(&base, 44, 1448));
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0]);
    assert_eq!(
        out.header(0),
        VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 52,
            gso_size: 1448,
            csum_start: 20,
            csum_offset: 16,
        }
    );
    assert_eq!(out.lens[0], 52 + 44 * 1448);
    let merged = out.packet(0);
    assert_eq!(u16::from_be_bytes([merged[2], merged[3]]) as usize, merged.len());
    assert_eq!(reference_sum(&[&merged[..20]]), 0xffff, "IPv4 header checksum");
    assert_eq!(out.expand(), packets);
}

#[test]
fn a_run_of_tcp6_segments_becomes_one_write() {
    let base = Spec::tcp6().with_timestamps(5, 6);
    let packets = build_all(&flow(&base, 30, 1428));
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0]);
    let hdr = out.header(0);
    assert_eq!(hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
    assert_eq!((hdr.hdr_len, hdr.gso_size, hdr.csum_start, hdr.csum_offset), (72, 1428, 40, 16));
    let merged = out.packet(0);
    assert_eq!(u16::from_be_bytes([merged[4], merged[5]]) as usize, merged.len() - 40);
    assert_eq!(out.expand(), packets);
}

#[test]
fn mixed_flows_in_one_batch() {
    let a = flow(&Spec::tcp4(), 10, 1000);
    let b = flow(&Spec::tcp6(), 10, 1200);
    let c = flow(&Spec { sport: 40001, ..Spec::tcp4() }, 10, 1000);
    let mut packets = Vec::new();
    for i in 0..10 {
        packets.push(a[i].build());
        packets.push(b[i].build());
        packets.push(c[i].build());
    }
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 1, 2]);
    let expanded = out.expand();
    assert_eq!(&expanded[..10], &build_all(&a)[..]);
    assert_eq!(&expanded[10..20], &build_all(&b)[..]);
    assert_eq!(&expanded[20..], &build_all(&c)[..]);
}

/// Two consecutive segments, the second (or first) changed by `change`, must stay two writes,
/// both unchanged behind empty vnet headers.
fn assert_not_merged(name: &str, base: Spec, change_first: fn(&mut Spec), change_second: fn(&mut Spec)) {
    let mut specs = flow(&base, 2, 1000);
    change_first(&mut specs[0]);
    change_second(&mut specs[1]);
    let packets = build_all(&specs);
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 1], "{name}: must not merge");
    for (w, packet) in packets.iter().enumerate() {
        assert_eq!(out.header(w), VirtioNetHdr::EMPTY, "{name}");
        assert_eq!(&out.packet(w), packet, "{name}: written unchanged");
    }
}

fn same(_: &mut Spec) {}

#[test]
fn positive_control_merges() {
    for base in [Spec::tcp4(), Spec::tcp6(), Spec::tcp4().with_timestamps(1, 2)] {
        let packets = build_all(&flow(&base, 2, 1000));
        let out = coalesce(&packets);
        assert_eq!(out.writes, vec![0]);
        assert_eq!(out.expand(), packets);
    }
}

#[test]
fn non_mergeable_tcp_segments() {
    type Change = fn(&mut Spec);
    let cases: Vec<(&str, Change, Change)> = vec![
        ("different TTL", same, |s| s.ttl -= 1),
        ("ECN CE", same, |s| s.tos |= 3),
        ("ECT(0) on one only", |s| s.tos = 2, same),
        ("different DSCP", same, |s| s.tos = 0x20),
        ("PSH on the first", |s| s.flags |= PSH, same),
        ("out of order (gap)", same, |s| s.seq = s.seq.wrapping_add(1)),
        ("out of order (overlap)", same, |s| s.seq = s.seq.wrapping_sub(1)),
        ("SYN", same, |s| s.flags |= SYN),
        ("FIN", same, |s| s.flags |= FIN),
        ("RST", same, |s| s.flags |= RST),
        ("URG", same, |s| s.flags |= URG),
        ("ECE", same, |s| s.flags |= ECE),
        ("CWR", same, |s| s.flags |= CWR),
        ("no ACK", same, |s| s.flags = PSH),
        ("different source port", same, |s| s.sport += 1),
        ("different destination port", same, |s| s.dport += 1),
        ("different source address", same, |s| s.src[3] ^= 1),
        ("IPv4 ID gap", same, |s| s.ip_id = s.ip_id.wrapping_add(1)),
        ("IPv4 ID repeated", same, |s| s.ip_id = s.ip_id.wrapping_sub(1)),
        ("DF differs", same, |s| s.df = false),
        ("different ack", same, |s| s.ack += 1),
        ("different window", same, |s| s.window += 1),
        ("different timestamps", |s| *s = s.clone().with_timestamps(1, 2), |s| *s = s.clone().with_timestamps(2, 2)),
        ("options on one only", same, |s| *s = s.clone().with_timestamps(1, 2)),
        ("bigger second segment", same, |s| s.payload.push(0)),
        ("IPv4 options", same, |s| s.ipv4_options = vec![1, 1, 1, 0]),
        ("pure ACK", same, |s| s.payload.clear()),
    ];
    for (name, first, second) in cases {
        assert_not_merged(name, Spec::tcp4(), first, second);
    }
    let v6_cases: Vec<(&str, Change, Change)> = vec![
        ("different hop limit", same, |s| s.ttl += 1),
        ("different flow label", same, |s| s.flow_label ^= 1),
        ("different traffic class", same, |s| s.tos = 0x20),
        ("ECN CE", same, |s| s.tos |= 3),
        ("extension header", same, |s| s.ipv6_hop_by_hop = true),
        ("different destination address", same, |s| s.dst[15] ^= 1),
    ];
    for (name, first, second) in v6_cases {
        assert_not_merged(name, Spec::tcp6(), first, second);
    }
}

#[test]
fn bad_checksums_and_lengths_are_never_merged() {
    type Corrupt = fn(&mut Vec<u8>);
    let cases: Vec<(&str, usize, Corrupt)> = vec![
        ("bad TCP checksum on the second", 1, |p| p[36] ^= 1),
        ("bad TCP checksum on the first", 0, |p| p[36] ^= 1),
        ("bad IPv4 header checksum", 1, |p| p[10] ^= 1),
        ("payload corrupted", 1, |p| *p.last_mut().unwrap() ^= 0x80),
        ("trailing byte beyond the IP length", 1, |p| p.push(0)),
        ("IP length beyond the packet", 1, |p| {
            p[3] = p[3].wrapping_add(1);
        }),
    ];
    for (name, index, corrupt) in cases {
        let mut packets = build_all(&flow(&Spec::tcp4(), 3, 1000));
        corrupt(&mut packets[index]);
        let out = coalesce(&packets);
        assert!(out.writes.len() >= 2, "{name}: merged anyway");
        // The corrupted packet goes out exactly as it came in.
        let pos = out.writes.iter().position(|&w| w == index).expect("corrupted packet written");
        assert_eq!(out.header(pos), VirtioNetHdr::EMPTY, "{name}");
        assert_eq!(out.packet(pos), packets[index], "{name}");
    }
}

#[test]
fn psh_may_end_a_run_but_not_continue_it() {
    let mut specs = flow(&Spec::tcp4(), 5, 1000);
    specs[2].flags |= PSH;
    let packets = build_all(&specs);
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 3]);
    assert_eq!(out.packet(0)[33] & PSH, PSH, "the merged packet carries PSH");
    assert_eq!(out.expand(), packets);
}

#[test]
fn a_short_segment_ends_a_run() {
    let mut specs = flow(&Spec::tcp6(), 3, 1000);
    specs[2].payload.truncate(500);
    let mut next = flow(&Spec { seq: specs[2].seq + 500, ip_id: 0, ..Spec::tcp6() }, 2, 1000);
    specs.append(&mut next);
    let packets = build_all(&specs);
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 3]);
    assert_eq!(out.header(0).gso_size, 1000);
    assert_eq!(out.lens[0], 60 + 2500);
    assert_eq!(out.expand(), packets);
}

#[test]
fn a_packet_that_is_not_merged_is_not_overtaken() {
    let mut specs = flow(&Spec::tcp4(), 3, 1000);
    // A pure ACK of the same flow between two data segments.
    let mut ack = specs[1].clone();
    ack.payload.clear();
    ack.ip_id = 0;
    specs.insert(1, ack);
    let packets = build_all(&specs);
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 1, 2], "segment 2 must not jump ahead of the ACK");
    assert_eq!(out.expand(), packets);
}

#[test]
fn reordered_segments_join_their_runs() {
    let specs = flow(&Spec::tcp4(), 4, 1000);
    let order = [0, 2, 1, 3];
    let packets: Vec<Vec<u8>> = order.iter().map(|&i| specs[i].build()).collect();
    let out = coalesce(&packets);
    assert_eq!(out.writes, vec![0, 1]);
    assert_eq!(out.expand(), build_all(&specs), "runs restore sequence order");
}

#[test]
fn runs_grow_only_as_far_as_the_head_buffer() {
    let packets = build_all(&flow(&Spec::tcp4(), 10, 1448));
    let out = coalesce_with(&mut Coalescer::with_capacity(10), &packets, 3000);
    assert_eq!(out.writes, vec![0, 2, 4, 6, 8]);
    assert!(out.writes.iter().all(|&w| out.lens[w] == 40 + 2 * 1448));
    assert_eq!(out.expand(), packets);
    // Buffers with no room at all: nothing merges, nothing breaks.
    let out = coalesce_with(&mut Coalescer::with_capacity(10), &packets, 0);
    assert_eq!(out.writes, (0..10).collect::<Vec<_>>());
}

#[test]
fn runs_stop_at_the_ip_length_limit() {
    let packets = build_all(&flow(&Spec::tcp4().with_timestamps(1, 1), 60, 1448));
    let out = coalesce(&packets);
    let first_run = (65535 - 52) / 1448;
    assert_eq!(out.writes, vec![0, first_run]);
    assert_eq!(out.lens[0], 52 + first_run * 1448);
    assert_eq!(out.expand(), packets);
}

#[test]
fn udp_gro_only_when_enabled() {
    for base in [Spec::udp4(), Spec::udp6()] {
        let packets = build_all(&flow(&base, 10, 1200));
        assert_eq!(coalesce(&packets).writes, (0..10).collect::<Vec<_>>());
        let out = coalesce_udp(&packets);
        assert_eq!(out.writes, vec![0]);
        let hdr = out.header(0);
        assert_eq!(hdr.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
        assert_eq!((hdr.gso_size, hdr.csum_offset), (1200, 6));
        assert_eq!(usize::from(hdr.hdr_len), base.ip_header_len() + 8);
        let merged = out.packet(0);
        let l4 = base.ip_header_len();
        assert_eq!(u16::from_be_bytes([merged[l4 + 4], merged[l4 + 5]]) as usize, merged.len() - l4);
        assert_eq!(out.expand(), packets);
    }
}

#[test]
fn udp_datagrams_never_overtake_each_other() {
    let mut specs = flow(&Spec::udp4(), 6, 1000);
    specs[3].payload.truncate(600);
    let mut packets = build_all(&specs);
    // Datagram 1 has no checksum (allowed over IPv4): it is not merged, and 2 must not join 0.
    packets[1][26..28].fill(0);
    let out = coalesce_udp(&packets);
    assert_eq!(out.writes, vec![0, 1, 2, 4]);
    assert_eq!(out.lens[2], 28 + 1600, "2 and the short 3 merge, the short one ends the run");
    assert_eq!(out.expand(), packets);
    // A bigger datagram after a smaller one starts a new run.
    let mut specs = flow(&Spec::udp6(), 3, 800);
    specs[1].payload.truncate(500);
    let packets = build_all(&specs);
    let out = coalesce_udp(&packets);
    assert_eq!(out.writes, vec![0, 2]);
    assert_eq!(out.expand(), packets);
}

#[test]
fn udp_runs_are_capped() {
    let packets = build_all(&flow(&Spec::udp4(), MAX_UDP_GRO_SEGMENTS + 6, 100));
    let out = coalesce_udp(&packets);
    assert_eq!(out.writes, vec![0, MAX_UDP_GRO_SEGMENTS]);
    assert_eq!(out.expand(), packets);
}

#[test]
fn other_packets_pass_through_unchanged() {
    let mut icmp = Spec::tcp4().with_payload(pattern(64, 1)).build();
    icmp[9] = 1;
    let mut fragment = Spec::tcp4().with_payload(pattern(64, 2)).build();
    fragment[6] |= 0x20;
    let v6_ext = build_all(&flow(&Spec { ipv6_hop_by_hop: true, ..Spec::tcp6() }, 2, 100));
    let packets = vec![
        Vec::new(),
        vec![0x45],
        vec![0x60; 39],
        pattern(200, 9),
        icmp.clone(),
        icmp,
        fragment.clone(),
        fragment,
        v6_ext[0].clone(),
        v6_ext[1].clone(),
    ];
    let out = coalesce_udp(&packets);
    assert_eq!(out.writes, (0..packets.len()).collect::<Vec<_>>());
    for (w, packet) in packets.iter().enumerate() {
        assert_eq!(out.header(w), VirtioNetHdr::EMPTY);
        assert_eq!(&out.packet(w), packet);
    }
}

#[test]
fn inconsistent_batches_are_refused_untouched() {
    let packets = build_all(&flow(&Spec::tcp4(), 3, 100));
    let mut coalescer = Coalescer::with_capacity(4);
    let (mut bufs, mut lens) = batch(&packets, 2000);
    let before = bufs.clone();
    assert_eq!(coalescer.coalesce(&mut bufs, &mut lens, VIRTIO_NET_HDR_LEN - 1), Err(OffloadError::InvalidBatch));
    assert_eq!(coalescer.coalesce(&mut bufs, &mut lens[..2], OFFSET), Err(OffloadError::InvalidBatch));
    lens[2] = 2001;
    assert_eq!(coalescer.coalesce(&mut bufs, &mut lens, OFFSET), Err(OffloadError::InvalidBatch));
    lens[2] = usize::MAX;
    assert_eq!(coalescer.coalesce(&mut bufs, &mut lens, OFFSET), Err(OffloadError::InvalidBatch));
    assert_eq!(bufs, before);
    // The smallest headroom works.
    lens[2] = packets[2].len();
    let mut shifted: Vec<Vec<u8>> = bufs.iter().map(|b| b[OFFSET - VIRTIO_NET_HDR_LEN..].to_vec()).collect();
    assert_eq!(coalescer.coalesce(&mut shifted, &mut lens, VIRTIO_NET_HDR_LEN), Ok(&[0usize][..]));
}

#[test]
fn a_coalescer_is_reusable_across_batches() {
    let mut coalescer = Coalescer::with_capacity(1);
    let a = build_all(&flow(&Spec::tcp4(), 20, 1000));
    let b = build_all(&flow(&Spec::tcp6(), 3, 500));
    for _ in 0..3 {
        let out = coalesce_with(&mut coalescer, &a, BIG);
        assert_eq!(out.writes, vec![0]);
        assert_eq!(out.expand(), a);
        let out = coalesce_with(&mut coalescer, &b, BIG);
        assert_eq!(out.writes, vec![0]);
        assert_eq!(out.expand(), b);
    }
    let empty: &mut [Vec<u8>] = &mut [];
    assert_eq!(coalescer.coalesce(empty, &mut [], OFFSET), Ok(&[][..]));
}
