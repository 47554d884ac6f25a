//! The device's hot paths end to end: an IP packet from TUN sealed into a datagram, and a
//! datagram opened, replay-checked and source-checked — what every tunnelled packet costs in
//! the core, beside the raw AEAD numbers of `benches/handshake.rs`.

use braid_proto::crypto::StaticSecret;
use braid_proto::{Device, DeviceConfig, Instant, PeerConfig};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

fn device(seed: u8, peer_seed: u8, peer_tunnel: Ipv4Addr, peer_addr: SocketAddr) -> Device {
    let config = DeviceConfig { private_key: Some([seed; 32].into()), ..DeviceConfig::default() };
    let mut d = Device::new(
        config,
        Instant::ZERO,
        Duration::from_secs(1_700_000_000),
        Box::new(ChaCha20Rng::seed_from_u64(seed.into())),
    );
    let mut peer = PeerConfig::new(StaticSecret::from_bytes([peer_seed; 32]).public_key());
    peer.endpoint = Some(peer_addr.into());
    peer.allowed_ips = vec![(peer_tunnel.into(), 32)];
    d.add_peer(peer).unwrap();
    d
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = vec![0x5a; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

/// Two devices with an established session.
fn connected() -> (Device, Device, Ipv4Addr, Ipv4Addr, SocketAddr, SocketAddr) {
    let (ta, tb) = (Ipv4Addr::new(198, 19, 0, 1), Ipv4Addr::new(198, 19, 0, 2));
    let (ua, ub) = (SocketAddr::from(([198, 18, 0, 1], 51820)), SocketAddr::from(([198, 18, 0, 2], 51820)));
    let mut a = device(1, 2, tb, ub);
    let mut b = device(2, 1, ta, ua);
    let now = Instant::from_secs(1);
    let mut buf = vec![0u8; 2048];
    a.handle_packet(now, &ipv4(ta, tb, 64), &mut buf).unwrap();
    for _ in 0..4 {
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            let _ = b.handle_datagram(now, ua.into(), &mut buf[..t.len]);
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            let _ = a.handle_datagram(now, ub.into(), &mut buf[..t.len]);
        }
    }
    (a, b, ta, tb, ua, ub)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("device");
    for len in [64usize, 1420] {
        let (mut a, mut b, ta, tb, ua, _) = connected();
        let packet = ipv4(ta, tb, len);
        let mut out = vec![0u8; 2048];
        let now = Instant::from_secs(2);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("tun_to_datagram", len), &len, |bench, _| {
            bench.iter(|| a.handle_packet(now, &packet, &mut out).unwrap().unwrap().len)
        });
        // Pre-seal a batch on a fresh pair (counters must be fresh for the receiver).
        let (mut a, mut b2, ta, tb, ua2, _) = connected();
        let packet = ipv4(ta, tb, len);
        let batch: Vec<Vec<u8>> = (0..200_000)
            .map(|_| {
                let t = a.handle_packet(now, &packet, &mut out).unwrap().unwrap();
                out[..t.len].to_vec()
            })
            .collect();
        let mut i = 0;
        let mut scratch = vec![0u8; 2048];
        group.bench_with_input(BenchmarkId::new("datagram_to_tun", len), &len, |bench, _| {
            bench.iter(|| {
                let d = &batch[i % batch.len()];
                i += 1;
                scratch[..d.len()].copy_from_slice(d);
                // After the batch wraps, replays are refused: that path is measured too, but the
                // batch is sized so a normal run stays within fresh counters.
                b2.handle_datagram(now, ua2.into(), &mut scratch[..d.len()]).ok()
            })
        });
        let _ = (&mut b, ua);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
