//! One `sendmmsg` across destinations against one `sendmsg` per destination (what a
//! single-destination GSO API such as quinn-udp's `send` does): a batch of runs, each a GSO
//! message of 8 datagrams of 1452 bytes, to 8 peers on loopback. Only the sends are timed;
//! the receivers are drained between iterations, off the clock, so no buffer fills.

use braid_io::udp::{Family, RecvBatch, SendBatch};
use braid_io::UdpSockets;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const PEERS: usize = 8;
const DATAGRAMS: usize = 8;
const SIZE: usize = 1452;

fn drain(peers: &[UdpSockets], batch: &mut RecvBatch) {
    for p in peers {
        while p.recv_many(Family::V4, batch).is_ok() {}
    }
}

fn bench(c: &mut Criterion) {
    let sender = UdpSockets::bind(0, 0).unwrap();
    let peers: Vec<UdpSockets> = (0..PEERS).map(|_| UdpSockets::bind(0, 0).unwrap()).collect();
    let to: Vec<SocketAddr> = peers.iter().map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p.port()))).collect();
    let run = DATAGRAMS * SIZE;
    let buf = vec![0x5a; PEERS * run];
    let mut rx = RecvBatch::new(64, 65536);
    let mut group = c.benchmark_group("udp send, 8 peers x 8 datagrams");
    group.throughput(Throughput::Elements((PEERS * DATAGRAMS) as u64));
    // Only the sends are timed; the receivers are drained outside the clock.
    group.bench_function("one sendmmsg", |b| {
        let mut batch = SendBatch::new();
        let mut rejected = Vec::new();
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                batch.clear();
                for (i, addr) in to.iter().enumerate() {
                    batch.push(i * run..(i + 1) * run, *addr, None, Some(SIZE as u16));
                }
                sender.send_many(&buf, &mut batch, &mut rejected);
                spent += t.elapsed();
                drain(&peers, &mut rx);
            }
            spent
        })
    });
    group.bench_function("a sendmsg per peer", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for (i, addr) in to.iter().enumerate() {
                    let _ = sender.send_segments(&buf[i * run..(i + 1) * run], SIZE, *addr, None);
                }
                spent += t.elapsed();
                drain(&peers, &mut rx);
            }
            spent
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
