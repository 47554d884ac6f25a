//! Fuzz target: the whole receive path of a `Device`.
//!
//! One device with an established session (built once, then kept across inputs, so replay
//! windows, timers and peer state evolve as the fuzzer goes) is fed each input three ways: as
//! a raw datagram, XORed onto a valid transport message (so mutations reach decryption, the
//! replay window and the inner-packet checks), and XORed onto a valid initiation (mac1 and
//! the handshake). It must never panic, and anything it wants to send must fit the buffer.
#![no_main]

use braid_proto::crypto::StaticSecret;
use braid_proto::{Device, DeviceConfig, Instant, PeerConfig};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

struct State {
    device: Device,
    peer: Device,
    transport: Vec<u8>,
    initiation: Vec<u8>,
    now: Instant,
}

fn device(seed: u8, peer_seed: u8, tunnel: Ipv4Addr, addr: SocketAddr) -> Device {
    let config = DeviceConfig { private_key: Some([seed; 32].into()), ..DeviceConfig::default() };
    let mut d = Device::new(config, Instant::ZERO, Duration::from_secs(1_700_000_000), Box::new(ChaCha20Rng::seed_from_u64(seed.into())));
    let mut p = PeerConfig::new(StaticSecret::from_bytes([peer_seed; 32]).public_key());
    p.endpoint = Some(addr.into());
    p.allowed_ips = vec![(tunnel.into(), 32)];
    d.add_peer(p).unwrap();
    d
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

const A: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 51820));
const B: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 51820));

static STATE: LazyLock<Mutex<State>> = LazyLock::new(|| {
    let (ta, tb) = (Ipv4Addr::new(198, 19, 0, 1), Ipv4Addr::new(198, 19, 0, 2));
    let mut a = device(1, 2, tb, B);
    let mut b = device(2, 1, ta, A);
    let now = Instant::from_secs(1);
    let mut buf = vec![0u8; 2048];
    a.handle_packet(now, &ipv4(ta, tb, 60), &mut buf).unwrap();
    let t = a.poll_transmit(now, &mut buf).unwrap();
    let initiation = buf[..t.len].to_vec();
    b.handle_datagram(now, A.into(), &mut buf[..t.len]).unwrap();
    let t = b.poll_transmit(now, &mut buf).unwrap();
    a.handle_datagram(now, B.into(), &mut buf[..t.len]).unwrap();
    let t = a.poll_transmit(now, &mut buf).unwrap();
    b.handle_datagram(now, A.into(), &mut buf[..t.len]).unwrap();
    let t = a.handle_packet(now, &ipv4(ta, tb, 100), &mut buf).unwrap().unwrap();
    let transport = buf[..t.len].to_vec();
    Mutex::new(State { device: b, peer: a, transport, initiation, now })
});

fn feed(state: &mut State, datagram: &mut [u8]) {
    let now = state.now;
    if let Ok(Some(r)) = state.device.handle_datagram(now, A.into(), datagram) {
        assert!(r.packet.end <= datagram.len());
    }
    let mut out = vec![0u8; 2048];
    let mut guard = 0;
    while let Some(t) = state.device.poll_transmit(now, &mut out) {
        assert!(t.len <= out.len());
        guard += 1;
        assert!(guard < 10_000, "runaway outbox");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut state = STATE.lock().unwrap();
    let state = &mut *state;
    // Time moves a little with every input so timers fire now and then.
    state.now += Duration::from_millis(u64::from(data.first().copied().unwrap_or(0)));
    state.device.poll_timers(state.now);
    let _ = &state.peer;
    let mut raw = data.to_vec();
    feed(state, &mut raw);
    for template in [state.transport.clone(), state.initiation.clone()] {
        let mut d = template;
        for (x, y) in d.iter_mut().zip(data.iter().skip(1)) {
            *x ^= y;
        }
        if data.len() > 1 + d.len() {
            d.extend_from_slice(&data[1 + d.len()..]);
        }
        feed(state, &mut d);
    }
    // And as a TUN packet on the other side of the device.
    let mut out = vec![0u8; 65536 + 64];
    let _ = state.device.handle_packet(state.now, data, &mut out);
});
