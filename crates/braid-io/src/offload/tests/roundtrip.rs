//! Property tests: coalescing is undone exactly by segmenting, segmenting is undone exactly by
//! coalescing, and no input makes either panic.

use proptest::prelude::*;

use super::coalesce::{coalesce_with, BIG};
use super::packets::*;
use crate::offload::{
    segment, Coalescer, VirtioNetHdr, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
    VIRTIO_NET_HDR_LEN,
};

/// splitmix64: scenarios are generated from one seed so proptest only has to vary a number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The packets of one flow, in the order its sender emitted them.
fn random_flow(rng: &mut Rng, id: u16) -> Vec<Vec<u8>> {
    let mut spec = match rng.below(4) {
        0 => Spec::tcp4(),
        1 => Spec::tcp6(),
        2 => Spec::udp4(),
        _ => Spec::udp6(),
    };
    spec.sport = 1000 + id;
    spec.seq = rng.next() as u32;
    spec.ip_id = rng.next() as u16;
    spec.ttl = 1 + rng.below(255) as u8;
    spec.tos = rng.below(256) as u8;
    spec.window = rng.next() as u16;
    if spec.protocol == TCP && rng.chance(50) {
        spec = spec.with_timestamps(rng.next() as u32, rng.next() as u32);
    }
    let size = [1, 7, 100, 536, 1200, 1448, 1 + rng.below(1460)][rng.below(7)];
    let count = 1 + rng.below(24);
    let mut packets = Vec::new();
    for _ in 0..count {
        let mut s = spec.clone();
        let len = if rng.chance(90) { size } else { 1 + rng.below(size + 10) };
        s.payload = (0..len).map(|_| rng.next() as u8).collect();
        if s.protocol == TCP {
            match rng.below(100) {
                0 => s.flags |= PSH,
                1 => s.payload.clear(),
                2 => s.flags |= FIN,
                3 => s.flags |= CWR,
                _ => {}
            }
        }
        match rng.below(100) {
            0 => spec.seq = spec.seq.wrapping_add(1 + rng.below(5000) as u32),
            1 => spec.ip_id = spec.ip_id.wrapping_add(rng.next() as u16),
            2 => spec.ttl = spec.ttl.wrapping_add(1),
            3 => spec.window = spec.window.wrapping_add(1),
            _ => {}
        }
        s.seq = spec.seq;
        s.ip_id = spec.ip_id;
        s.ttl = spec.ttl;
        s.window = spec.window;
        let mut packet = s.build();
        if s.protocol == UDP && !s.v6 && rng.chance(3) {
            packet[26..28].fill(0);
        }
        if rng.chance(2) {
            // A corrupted payload byte: such a packet must never be merged.
            let at = packet.len() - 1;
            packet[at] ^= 0x40;
        }
        packets.push(packet);
        spec.seq = spec.seq.wrapping_add(s.payload.len() as u32);
        spec.ip_id = spec.ip_id.wrapping_add(1);
    }
    packets
}

/// The flow a packet belongs to (the source port, unique per generated flow).
fn flow_of(packet: &[u8]) -> u16 {
    let p = parse(packet);
    u16::from_be_bytes([packet[p.l4], packet[p.l4 + 1]])
}

/// Coalesces a random interleaving of random flows and checks that segmenting the writes gives
/// back every flow's packets, byte for byte and in order. Returns (packets, writes, merged
/// TCP writes, merged UDP writes) so callers can see that merging really happened.
fn check_scenario(seed: u64) -> (usize, usize, usize, usize) {
    let mut rng = Rng(seed);
    let flows: Vec<Vec<Vec<u8>>> = (0..1 + rng.below(5)).map(|id| random_flow(&mut rng, id as u16)).collect();
    let mut cursors = vec![0usize; flows.len()];
    let mut packets = Vec::new();
    while cursors.iter().zip(&flows).any(|(&c, f)| c < f.len()) {
        let f = rng.below(flows.len());
        if cursors[f] < flows[f].len() {
            packets.push(flows[f][cursors[f]].clone());
            cursors[f] += 1;
        }
    }
    let capacity = [BIG, BIG, BIG, 3000, 0][rng.below(5)];
    let mut coalescer = Coalescer::with_capacity(4);
    coalescer.set_udp_gro(rng.chance(70));
    let out = coalesce_with(&mut coalescer, &packets, capacity);
    assert!(out.writes.windows(2).all(|w| w[0] < w[1]), "writes in batch order");
    let expanded = out.expand();
    assert_eq!(expanded.len(), packets.len());
    for (id, flow) in flows.iter().enumerate() {
        let got: Vec<&Vec<u8>> = expanded.iter().filter(|p| flow_of(p) == 1000 + id as u16).collect();
        let want: Vec<&Vec<u8>> = flow.iter().collect();
        assert_eq!(got, want, "flow {id} (seed {seed:#x})");
    }
    let gso_types: Vec<u8> = (0..out.writes.len()).map(|w| out.header(w).gso_type).collect();
    let tcp = gso_types.iter().filter(|&&t| t == VIRTIO_NET_HDR_GSO_TCPV4 || t == VIRTIO_NET_HDR_GSO_TCPV6).count();
    let udp = gso_types.iter().filter(|&&t| t == VIRTIO_NET_HDR_GSO_UDP_L4).count();
    (packets.len(), out.writes.len(), tcp, udp)
}

#[test]
fn fixed_scenarios() {
    let (mut packets, mut writes, mut tcp, mut udp) = (0, 0, 0, 0);
    for seed in 0..64 {
        let (p, w, t, u) = check_scenario(seed);
        packets += p;
        writes += w;
        tcp += t;
        udp += u;
    }
    // The scenarios must exercise merging, or the identity above would prove nothing.
    assert!(writes * 3 < packets * 2, "{writes} writes for {packets} packets");
    assert!(tcp > 20 && udp > 20, "merged TCP writes {tcp}, UDP writes {udp}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn coalesce_then_segment_is_the_identity_per_flow(seed in any::<u64>()) {
        check_scenario(seed);
    }

    /// A super-packet cut into segments and coalesced again is the super-packet the kernel
    /// handed over (with its partial checksum), under the same vnet header.
    #[test]
    fn segment_then_coalesce_is_the_identity(
        v6 in any::<bool>(),
        timestamps in any::<bool>(),
        gso_size in 1usize..1500,
        payload_len in 0usize..6_000,
        seq in any::<u32>(),
        ip_id in any::<u16>(),
    ) {
        let mut spec = if v6 { Spec::tcp6() } else { Spec::tcp4() };
        if timestamps {
            spec = spec.with_timestamps(9, 10);
        }
        spec.flags = ACK | PSH;
        spec.seq = seq;
        spec.ip_id = ip_id;
        spec.payload = pattern(payload_len, seq as u8);
        let (hdr, packet) = spec.build_gso(gso_size as u16);
        let count = payload_len.div_ceil(gso_size).max(1);
        let mut bufs = vec![vec![0u8; OFFSET + 100 + gso_size]; count];
        bufs[0].resize(OFFSET + BIG, 0);
        let mut lens = vec![0usize; count];
        prop_assert_eq!(segment(&hdr, &packet, &mut bufs, OFFSET, &mut lens), Ok(count));
        let writes = Coalescer::with_capacity(count).coalesce(&mut bufs, &mut lens, OFFSET).unwrap().to_vec();
        let merged_len = packet.len();
        if count == 1 || merged_len > 65535 {
            prop_assert!(!writes.is_empty());
        } else {
            prop_assert_eq!(&writes, &vec![0]);
            let got_hdr = VirtioNetHdr::parse(&bufs[0][OFFSET - VIRTIO_NET_HDR_LEN..]).unwrap();
            prop_assert_eq!(got_hdr, hdr);
            prop_assert_eq!(&bufs[0][OFFSET..OFFSET + lens[0]], &packet[..]);
        }
    }

    /// Segmentation never panics, whatever the header and however the packet is damaged.
    #[test]
    fn segment_never_panics(
        flags in any::<u8>(),
        gso_type in prop::sample::select(vec![0u8, 1, 3, 4, 5, 0x81, 0x84, 2, 0xff]),
        hdr_len in any::<u16>(),
        gso_size in prop::sample::select(vec![0u16, 1, 2, 100, 1448, 65535]),
        csum_start in prop::sample::select(vec![0u16, 20, 24, 40, 48, 1000, 65535]),
        csum_offset in prop::sample::select(vec![0u16, 6, 16, 65535]),
        base in 0usize..4,
        payload_len in 0usize..3000,
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        out_count in 0usize..8,
        out_size in prop::sample::select(vec![0usize, 60, 1500, 4000]),
    ) {
        let spec = [Spec::tcp4(), Spec::tcp6(), Spec::udp4(), Spec::udp6()][base].clone();
        let mut packet = spec.with_payload(pattern(payload_len, 3)).build();
        for (at, value) in damage {
            let i = at.index(packet.len());
            packet[i] = value;
        }
        let keep = cut.index(packet.len() + 1);
        packet.truncate(keep.max(packet.len() / 2));
        let hdr = VirtioNetHdr { flags, gso_type, hdr_len, gso_size, csum_start, csum_offset };
        let mut out = vec![vec![0u8; out_size]; out_count];
        let mut sizes = vec![0usize; out_count];
        if let Ok(n) = segment(&hdr, &packet, &mut out, OFFSET, &mut sizes) {
            prop_assert!(n <= out_count);
            for (buf, &size) in out.iter().zip(&sizes).take(n) {
                prop_assert!(OFFSET + size <= buf.len());
            }
        }
        let mut in_place = packet.clone();
        let _ = crate::offload::complete_checksum(&hdr, &mut in_place);
    }

    /// Coalescing never panics on arbitrary packets and lists each buffer at most once.
    #[test]
    fn coalesce_never_panics(
        packets in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..120),
                (0usize..4, 1usize..200, any::<u8>(), any::<prop::sample::Index>()).prop_map(|(base, len, v, at)| {
                    let spec = [Spec::tcp4(), Spec::tcp6(), Spec::udp4(), Spec::udp6()][base].clone();
                    let mut p = spec.with_payload(pattern(len, 1)).build();
                    let i = at.index(p.len());
                    p[i] = v;
                    p
                }),
            ],
            0..12,
        ),
        capacity in prop::sample::select(vec![0usize, 300, 4000]),
        udp_gro in any::<bool>(),
    ) {
        let (mut bufs, mut lens) = batch(&packets, capacity);
        let mut coalescer = Coalescer::with_capacity(0);
        coalescer.set_udp_gro(udp_gro);
        let writes = coalescer.coalesce(&mut bufs, &mut lens, OFFSET).unwrap().to_vec();
        prop_assert!(writes.windows(2).all(|w| w[0] < w[1]));
        for &w in &writes {
            prop_assert!(OFFSET + lens[w] <= bufs[w].len());
        }
    }
}
