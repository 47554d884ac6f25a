//! Allowed-IPs table benchmarks: per-packet lookup on routing-table-sized tables, bulk insert,
//! and removing a peer's prefixes from a large table.
//!
//! Prefix lengths follow the shape of a global routing table (mostly /24, a spread of /16–/23,
//! a few short and host routes), so the trie has realistic depth and branching.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use braid_proto::allowed_ips::AllowedIps;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PREFIXES: usize = 100_000;
const QUERIES: usize = 4096;
const PEERS: u32 = 1000;

/// (prefix length, weight) roughly like an IPv4 BGP table.
const V4_LENGTHS: &[(u8, u32)] = &[
    (8, 1),
    (10, 1),
    (12, 2),
    (14, 4),
    (16, 15),
    (17, 6),
    (18, 10),
    (19, 20),
    (20, 30),
    (21, 35),
    (22, 80),
    (23, 70),
    (24, 600),
    (25, 5),
    (26, 5),
    (27, 4),
    (28, 4),
    (29, 4),
    (30, 3),
    (32, 5),
];

/// (prefix length, weight) roughly like an IPv6 BGP table.
const V6_LENGTHS: &[(u8, u32)] = &[
    (16, 1),
    (19, 2),
    (20, 5),
    (24, 5),
    (28, 20),
    (29, 60),
    (32, 120),
    (36, 30),
    (40, 60),
    (44, 90),
    (48, 500),
    (56, 10),
    (64, 20),
    (128, 10),
];

fn weighted_len(rng: &mut ChaCha8Rng, table: &[(u8, u32)]) -> u8 {
    let total: u32 = table.iter().map(|&(_, w)| w).sum();
    let mut pick = rng.next_u32() % total;
    for &(len, weight) in table {
        if pick < weight {
            return len;
        }
        pick -= weight;
    }
    table[table.len() - 1].0
}

fn random_v6(rng: &mut ChaCha8Rng) -> u128 {
    // Global unicast 2000::/3, like real IPv6 routes.
    let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    (bits >> 3) | (1u128 << 125)
}

fn v4_prefixes(seed: u64) -> Vec<(IpAddr, u8, u32)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..PREFIXES)
        .map(|i| (IpAddr::V4(Ipv4Addr::from(rng.next_u32())), weighted_len(&mut rng, V4_LENGTHS), i as u32 % PEERS))
        .collect()
}

fn v6_prefixes(seed: u64) -> Vec<(IpAddr, u8, u32)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..PREFIXES)
        .map(|i| {
            (IpAddr::V6(Ipv6Addr::from(random_v6(&mut rng))), weighted_len(&mut rng, V6_LENGTHS), i as u32 % PEERS)
        })
        .collect()
}

fn table_of(prefixes: &[(IpAddr, u8, u32)]) -> AllowedIps<u32> {
    let mut table = AllowedIps::new();
    for &(addr, cidr, peer) in prefixes {
        table.insert(addr, cidr, peer).expect("valid prefix");
    }
    table
}

/// Query addresses inside stored prefixes (random host bits), so lookups walk to real depth.
fn queries_inside(prefixes: &[(IpAddr, u8, u32)], seed: u64) -> Vec<IpAddr> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..QUERIES)
        .map(|_| {
            let (addr, cidr, _) = prefixes[rng.next_u32() as usize % prefixes.len()];
            match addr {
                IpAddr::V4(a) => {
                    let host = rng.next_u32().checked_shr(u32::from(cidr)).unwrap_or(0);
                    IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
                }
                IpAddr::V6(a) => {
                    let noise = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                    IpAddr::V6(Ipv6Addr::from(u128::from(a) | noise.checked_shr(u32::from(cidr)).unwrap_or(0)))
                }
            }
        })
        .collect()
}

fn lookup_all(table: &AllowedIps<u32>, queries: &[IpAddr]) -> u32 {
    let mut hits = 0;
    for &q in queries {
        if let Some(peer) = table.lookup(black_box(q)) {
            hits += peer & 1;
        }
    }
    hits
}

fn bench_lookup(c: &mut Criterion) {
    let v4 = v4_prefixes(1);
    let v6 = v6_prefixes(2);
    let v4_table = table_of(&v4);
    let v6_table = table_of(&v6);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let v4_uniform: Vec<IpAddr> = (0..QUERIES).map(|_| IpAddr::V4(Ipv4Addr::from(rng.next_u32()))).collect();
    let v4_inside = queries_inside(&v4, 4);
    let v6_inside = queries_inside(&v6, 5);
    let v6_uniform: Vec<IpAddr> = (0..QUERIES).map(|_| IpAddr::V6(Ipv6Addr::from(random_v6(&mut rng)))).collect();

    let mut group = c.benchmark_group("allowed_ips_lookup_100k");
    group.throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function("v4_uniform_addr", |b| b.iter(|| lookup_all(&v4_table, &v4_uniform)));
    group.bench_function("v4_inside_prefix", |b| b.iter(|| lookup_all(&v4_table, &v4_inside)));
    group.bench_function("v6_uniform_addr", |b| b.iter(|| lookup_all(&v6_table, &v6_uniform)));
    group.bench_function("v6_inside_prefix", |b| b.iter(|| lookup_all(&v6_table, &v6_inside)));
    group.finish();
}

fn bench_insert(c: &mut Criterion) {
    let v4 = v4_prefixes(6);
    let v6 = v6_prefixes(7);
    let mut group = c.benchmark_group("allowed_ips_insert_100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PREFIXES as u64));
    group.bench_function("v4", |b| b.iter(|| table_of(black_box(&v4))));
    group.bench_function("v6", |b| b.iter(|| table_of(black_box(&v6))));
    group.finish();
}

fn bench_remove_value(c: &mut Criterion) {
    // 130k prefixes (100k IPv4 + 30k IPv6) over 1000 peers: removing one peer (130 prefixes,
    // removed one by one after a scan) and removing half the table (one pruning pass).
    let mut all = v4_prefixes(8);
    all.extend(v6_prefixes(9).into_iter().take(30_000));
    let table = table_of(&all);
    let mut group = c.benchmark_group("allowed_ips_remove_value_130k");
    group.sample_size(10);
    group.bench_function("one_peer_of_1000", |b| {
        b.iter_batched_ref(|| table.clone(), |t| t.remove_value(black_box(17)), BatchSize::LargeInput)
    });
    let two_peers = {
        let mut t = AllowedIps::new();
        for (i, &(addr, cidr, _)) in all.iter().enumerate() {
            t.insert(addr, cidr, i as u32 % 2).expect("valid prefix");
        }
        t
    };
    group.bench_function("half_the_table", |b| {
        b.iter_batched_ref(|| two_peers.clone(), |t| t.remove_value(black_box(0)), BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(benches, bench_lookup, bench_insert, bench_remove_value);
criterion_main!(benches);
