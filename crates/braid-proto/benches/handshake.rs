//! The cost of a WireGuard handshake and of sealing/opening transport packets.
//!
//! `cargo bench -p braid-proto --bench handshake`
//!
//! A handshake costs five X25519 operations plus a few dozen BLAKE2s calls per side (the
//! static-static DH is precomputed per peer); it bounds how many initiations per second a
//! responder can absorb before it must turn to cookies. Transport numbers are per packet,
//! with throughput in payload bytes.

use braid_proto::crypto::{StaticSecret, TransportCipher, TransportKey, TAG_LEN};
use braid_proto::noise::{
    begin_initiation, consume_response, create_initiation, create_response, LocalIdentity, PeerSecrets, Tai64N,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::hint::black_box;
use std::time::Duration;

struct Setup {
    a: LocalIdentity,
    b: LocalIdentity,
    a_peer: PeerSecrets,
    b_peer: PeerSecrets,
    rng: ChaCha20Rng,
}

fn setup() -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0062_7261_6964);
    let a = LocalIdentity::new(StaticSecret::random(&mut rng));
    let b = LocalIdentity::new(StaticSecret::random(&mut rng));
    let a_peer = PeerSecrets::new(&a, b.public, [0x42; 32]).unwrap();
    let b_peer = PeerSecrets::new(&b, a.public, [0x42; 32]).unwrap();
    Setup { a, b, a_peer, b_peer, rng }
}

fn stamp() -> Tai64N {
    Tai64N::from_unix_time(Duration::new(1_700_000_000, 0))
}

fn handshake(c: &mut Criterion) {
    let mut s = setup();
    let mut g = c.benchmark_group("handshake");

    g.bench_function("full", |bench| {
        bench.iter(|| {
            let (init, ist) = create_initiation(&s.a, &s.a_peer, 1, stamp(), &mut s.rng).unwrap();
            let opened = begin_initiation(&s.b, black_box(&init)).unwrap();
            let (_, rst) = opened.finish(&s.b_peer).unwrap();
            let (resp, b_keys) = create_response(rst, &s.b_peer, 2, &mut s.rng).unwrap();
            let a_keys = consume_response(&ist, &s.a, &s.a_peer, black_box(&resp)).unwrap();
            (a_keys, b_keys)
        })
    });

    g.bench_function("create_initiation", |bench| {
        bench.iter(|| create_initiation(&s.a, &s.a_peer, 1, stamp(), &mut s.rng).unwrap())
    });

    let (init, ist) = create_initiation(&s.a, &s.a_peer, 1, stamp(), &mut s.rng).unwrap();
    g.bench_function("begin_initiation", |bench| bench.iter(|| begin_initiation(&s.b, black_box(&init)).unwrap()));
    g.bench_function("begin_and_finish_initiation", |bench| {
        bench.iter(|| begin_initiation(&s.b, black_box(&init)).unwrap().finish(&s.b_peer).unwrap())
    });

    g.bench_function("create_response", |bench| {
        let (b, b_peer) = (&s.b, &s.b_peer);
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        bench.iter_batched(
            || begin_initiation(b, &init).unwrap().finish(b_peer).unwrap().1,
            |rst| create_response(rst, b_peer, 2, &mut rng).unwrap(),
            BatchSize::SmallInput,
        )
    });

    let (_, rst) = begin_initiation(&s.b, &init).unwrap().finish(&s.b_peer).unwrap();
    let (resp, _) = create_response(rst, &s.b_peer, 2, &mut s.rng).unwrap();
    g.bench_function("consume_response", |bench| {
        bench.iter(|| consume_response(&ist, &s.a, &s.a_peer, black_box(&resp)).unwrap())
    });

    g.bench_function("peer_secrets_new", |bench| {
        bench.iter(|| PeerSecrets::new(&s.a, black_box(s.b.public), [0; 32]).unwrap())
    });
    g.finish();
}

fn transport(c: &mut Criterion) {
    let key = TransportKey::new(&[0x17; 32]).unwrap();
    let mut g = c.benchmark_group("transport");
    for size in [64usize, 1420] {
        g.throughput(Throughput::Bytes(size as u64));

        let mut buf = vec![0xa5u8; size + TAG_LEN];
        let mut counter = 0u64;
        g.bench_with_input(BenchmarkId::new("seal", size), &size, |bench, &len| {
            bench.iter(|| {
                counter += 1;
                key.seal_in_place(counter, &[], black_box(&mut buf), len).unwrap()
            })
        });

        let mut sealed = vec![0xa5u8; size + TAG_LEN];
        key.seal_in_place(9, &[], &mut sealed, size).unwrap();
        g.bench_with_input(BenchmarkId::new("open", size), &sealed, |bench, sealed| {
            bench.iter_batched_ref(
                || sealed.clone(),
                |buf| key.open_in_place(9, &[], black_box(buf)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// The anchor for the AEAD choice, measured in the same run: the pure-Rust RustCrypto
/// ChaCha20-Poly1305 (what braid would use without aws-lc-rs).
fn transport_anchor(c: &mut Criterion) {
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    let cipher = chacha20poly1305::ChaCha20Poly1305::new(&[0x17u8; 32].into());
    let mut g = c.benchmark_group("transport_anchor_rustcrypto");
    for size in [64usize, 1420] {
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0xa5u8; size];
        let mut counter = 0u64;
        g.bench_with_input(BenchmarkId::new("seal", size), &size, |bench, _| {
            bench.iter(|| {
                counter += 1;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&counter.to_le_bytes());
                cipher.encrypt_in_place_detached(&nonce.into(), &[], black_box(&mut buf)).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, handshake, transport, transport_anchor);
criterion_main!(benches);
