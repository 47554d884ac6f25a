//! What `wg setconf` and `braid up` cost the running tunnels: a UAPI `set` with
//! `replace_peers=true` over a device of N peers (one IPv4 /32 and one IPv6 /128 each), the
//! time the device is locked while the old peers go. Security review 2.3: it must stay
//! ≤ 100 ms at 100 000 peers and grow linearly.
//!
//! `cargo bench -p braid --bench replace_peers` (sizes: `BRAID_BENCH_PEERS=20000,100000`).

use braid::uapi::{Errno, SetRequest, UapiHost};
use braid_proto::crypto::StaticSecret;
use braid_proto::{Device, DeviceConfig, Instant, PeerConfig};
use rand_chacha::rand_core::SeedableRng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

struct Host;

impl UapiHost for Host {
    fn listen_port(&self) -> u16 {
        0
    }
    fn fwmark(&self) -> u32 {
        0
    }
    fn set_port_and_fwmark(&mut self, _: Option<u16>, _: Option<u32>) -> Result<(), Errno> {
        Ok(())
    }
}

fn device_with(peers: u32) -> Device {
    let config = DeviceConfig { private_key: Some([7; 32].into()), ..DeviceConfig::default() };
    let rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut device = Device::new(config, Instant::ZERO, Duration::from_secs(1_700_000_000), Box::new(rng));
    for i in 0..peers {
        let mut key = [0u8; 32];
        key[1..5].copy_from_slice(&i.to_le_bytes());
        key[31] = 0x40;
        let mut peer = PeerConfig::new(StaticSecret::from_bytes(key).public_key());
        peer.allowed_ips = vec![
            (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 32),
            (IpAddr::V6(Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i))), 128),
        ];
        device.add_peer(peer).expect("a peer");
    }
    device
}

fn main() {
    let sizes: Vec<u32> = std::env::var("BRAID_BENCH_PEERS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20_000, 100_000]);
    let request = SetRequest::parse("replace_peers=true\n\n").expect("a request");
    println!("replace_peers=true over N peers (2 prefixes each), best of 3:");
    for &n in &sizes {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let mut device = device_with(n);
            let started = std::time::Instant::now();
            request.apply(Instant::from_secs(1), &mut device, &mut Host).expect("applied");
            best = best.min(started.elapsed());
            assert_eq!(device.peer_count(), 0);
        }
        println!(
            "  {n:>7} peers: {:>8.2} ms ({:.0} ns per peer)",
            best.as_secs_f64() * 1e3,
            best.as_nanos() as f64 / f64::from(n)
        );
    }
}
