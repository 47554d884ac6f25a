//! TUN offload hot paths: splitting one 64 KiB TSO super-packet into MSS-sized segments, and
//! coalescing a batch of 44 consecutive segments of one TCP flow back into one write.

use braid_io::offload::{
    segment, Coalescer, VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
};
use braid_wire::checksum::Checksum;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

/// Headroom for the WireGuard transport header.
const OFFSET: usize = 16;
/// Linux's MSS over a 1500-byte path with timestamps.
const MSS: usize = 1448;

/// A TCP super-packet as the kernel hands it to TUN: IPv4 or IPv6, timestamps, `payload_len`
/// bytes, the checksum field holding the pseudo-header sum.
fn super_packet(v6: bool, payload_len: usize) -> (VirtioNetHdr, Vec<u8>) {
    let tcp_len = 32 + payload_len;
    let mut packet = Vec::new();
    if v6 {
        packet.extend_from_slice(&[0x60, 0, 0, 0]);
        packet.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        packet.extend_from_slice(&[6, 64]);
        packet.extend_from_slice(&[0xfd; 16]);
        packet.extend_from_slice(&[0xfe; 16]);
    } else {
        packet.extend_from_slice(&[0x45, 0]);
        packet.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        packet.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    }
    let l4 = packet.len();
    packet.extend_from_slice(&[0x9c, 0x40, 0x01, 0xbb]); // ports
    packet.extend_from_slice(&1_000_000u32.to_be_bytes());
    packet.extend_from_slice(&77u32.to_be_bytes());
    packet.extend_from_slice(&[0x80, 0x18, 0x01, 0xf5, 0, 0, 0, 0]); // doff 8, ACK|PSH, window
    packet.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // timestamps
    packet.extend((0..payload_len).map(|i| i as u8));
    let mut pseudo = Checksum::new();
    pseudo.add_bytes(if v6 { &packet[8..40] } else { &packet[12..20] });
    pseudo.add_u32(tcp_len as u32);
    pseudo.add_u16(6);
    packet[l4 + 16..l4 + 18].copy_from_slice(&pseudo.sum().to_be_bytes());
    let hdr = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: if v6 { VIRTIO_NET_HDR_GSO_TCPV6 } else { VIRTIO_NET_HDR_GSO_TCPV4 },
        hdr_len: (l4 + 32) as u16,
        gso_size: MSS as u16,
        csum_start: l4 as u16,
        csum_offset: 16,
    };
    (hdr, packet)
}

fn bench_segment(c: &mut Criterion) {
    let mut group = c.benchmark_group("offload/segment");
    for (name, v6) in [("tcp4_64k", false), ("tcp6_64k", true)] {
        let header_len = if v6 { 72 } else { 52 };
        let (hdr, packet) = super_packet(v6, 65535 - header_len);
        let mut out = vec![vec![0u8; OFFSET + 1600]; 64];
        let mut sizes = [0usize; 64];
        group.throughput(Throughput::Bytes(packet.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| segment(black_box(&hdr), black_box(&packet), &mut out, OFFSET, &mut sizes).unwrap())
        });
    }
    group.finish();
}

fn bench_coalesce(c: &mut Criterion) {
    let mut group = c.benchmark_group("offload/coalesce");
    for (name, v6) in [("tcp4_44_segments", false), ("tcp6_44_segments", true)] {
        let header_len = if v6 { 72 } else { 52 };
        let (hdr, packet) = super_packet(v6, 44 * MSS);
        // The batch as the decrypting side would hold it: one buffer per segment, the first
        // one large enough to take the whole run.
        let mut pristine = vec![vec![0u8; OFFSET + 2048]; 44];
        pristine[0].resize(OFFSET + 65536, 0);
        let mut lens = vec![0usize; 44];
        assert_eq!(segment(&hdr, &packet, &mut pristine, OFFSET, &mut lens), Ok(44));
        let mut coalescer = Coalescer::with_capacity(64);
        group.throughput(Throughput::Bytes((44 * (header_len + MSS)) as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || (pristine.clone(), lens.clone()),
                |(bufs, lens)| {
                    let writes = coalescer.coalesce(bufs, lens, OFFSET).unwrap();
                    assert_eq!(writes.len(), 1);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_segment, bench_coalesce);
criterion_main!(benches);
