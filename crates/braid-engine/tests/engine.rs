//! Two engines in one process, each with an in-process device and a UDP underlay on loopback:
//! the engine's own behaviour without any stack on top (raw IP packets).

use braid_engine::in_process::{self, PacketPort, PortError};
use braid_engine::{Engine, EngineHandle, EngineOptions, Exit, RunningEngine, UdpUnderlay};
use braid_proto::crypto::StaticSecret;
use braid_proto::{DeviceConfig, Endpoint, PeerConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Node {
    engine: RunningEngine<UdpUnderlay>,
    port: PacketPort,
}

impl Node {
    fn handle(&self) -> &EngineHandle<UdpUnderlay> {
        self.engine.handle()
    }
}

/// A minimal IPv4/UDP packet `src` → `dst` with `payload` (checksums are not checked here).
fn packet(src: u8, dst: u8, payload: &[u8]) -> Vec<u8> {
    let len = 28 + payload.len();
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[198, 19, 0, src]);
    p[16..20].copy_from_slice(&[198, 19, 0, dst]);
    p[28..].copy_from_slice(payload);
    p
}

fn node(seed: u8, capacity: usize) -> Node {
    let (side, port) = in_process::pair(1420, capacity).unwrap();
    let config = DeviceConfig { private_key: Some([seed; 32].into()), ..DeviceConfig::default() };
    let engine = Engine::new(config, side, UdpUnderlay::bind_loopback().unwrap(), &EngineOptions::default()).unwrap();
    Node { engine: engine.spawn().unwrap(), port }
}

/// Nodes 1 and 2, each the other's peer with a /32, 1 knowing 2's endpoint.
fn pair(capacity: usize) -> (Node, Node) {
    let (a, b) = (node(1, capacity), node(2, capacity));
    let b_port = b.handle().listen_port();
    a.handle().with_device(|d, _| {
        let mut peer = PeerConfig::new(StaticSecret::from_bytes([2; 32]).public_key());
        peer.allowed_ips = vec![("198.19.0.2".parse().unwrap(), 32)];
        peer.endpoint = Some(Endpoint::from(SocketAddr::from(([127, 0, 0, 1], b_port))));
        d.add_peer(peer).unwrap();
    });
    b.handle().with_device(|d, _| {
        let mut peer = PeerConfig::new(StaticSecret::from_bytes([1; 32]).public_key());
        peer.allowed_ips = vec![("198.19.0.1".parse().unwrap(), 32)];
        d.add_peer(peer).unwrap();
    });
    (a, b)
}

/// Sends from `from` until one packet reaches `to` (the first waits for the handshake).
fn exchange(from: &Node, to: &Node, src: u8, dst: u8, payload: &[u8]) {
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        from.port.send(&packet(src, dst, payload)).unwrap();
        if let Ok(Some(n)) = to.port.recv_timeout(&mut buf, Duration::from_millis(300)) {
            assert_eq!(&buf[28..n], payload);
            return;
        }
    }
    panic!("no packet from {src} reached {dst}");
}

#[test]
fn a_rebind_to_a_busy_port_changes_nothing_and_a_free_one_keeps_the_tunnel() {
    let (a, b) = pair(64);
    exchange(&a, &b, 1, 2, b"before");
    let old = a.handle().listen_port();
    // B's port is taken (by B): A's rebind fails and A keeps serving on its old port.
    let busy = b.handle().listen_port();
    assert!(a.handle().rebind(busy).is_err());
    assert_eq!(a.handle().listen_port(), old);
    exchange(&a, &b, 1, 2, b"still");
    exchange(&b, &a, 2, 1, b"and back");
    // The same port again is no change; a free one moves A, and B follows A's next packet.
    assert_eq!(a.handle().rebind(old).unwrap(), old);
    let moved = a.handle().rebind(0).unwrap();
    assert_ne!(moved, old);
    exchange(&a, &b, 1, 2, b"moved");
    exchange(&b, &a, 2, 1, b"answered at the new port");
    let seen = b.handle().with_device(|d, _| d.peers().next().and_then(|id| d.peer_stats(id)).and_then(|s| s.endpoint));
    assert_eq!(seen.map(|e| e.addr.port()), Some(moved));
}

#[test]
fn a_full_ring_refuses_then_takes_again_once_the_engine_drained_it() {
    let (a, b) = pair(8);
    exchange(&a, &b, 1, 2, b"up");
    // Stop the engine from draining by filling faster than it reads: the ring holds 8.
    let notified = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = notified.clone();
    a.port.set_notify(move || flag.store(true, std::sync::atomic::Ordering::Release));
    let many: Vec<Vec<u8>> = (0..10_000u32).map(|i| packet(1, 2, &i.to_be_bytes())).collect();
    let mut taken = 0;
    let result = a.port.send_batch(many.iter().map(Vec::as_slice), &mut taken);
    assert_eq!(result, Ok(()));
    assert!(taken <= 8, "one batch takes at most the ring: {taken}");
    // The engine drains it and says so; more fits afterwards.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !notified.load(std::sync::atomic::Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(notified.load(std::sync::atomic::Ordering::Acquire), "the application is told when room frees up");
    assert!(a.port.can_send());
    assert_eq!(a.port.send(&vec![0x45; 1421]), Err(PortError::TooLong));
}

#[test]
fn dropping_the_application_end_stops_the_engine_and_stopping_the_engine_closes_the_port() {
    let (a, b) = pair(16);
    let Node { engine, port } = a;
    drop(port);
    assert_eq!(engine.join().unwrap(), Exit::PacketSideGone);
    let Node { engine, port } = b;
    assert!(!port.is_closed());
    assert_eq!(engine.stop().unwrap(), Exit::Stopped);
    assert!(port.is_closed());
    let mut buf = [0u8; 64];
    assert_eq!(port.recv_timeout(&mut buf, Duration::from_secs(1)), Err(PortError::Closed));
    assert_eq!(port.send(&packet(2, 1, b"late")), Err(PortError::Closed));
}

#[test]
fn statistics_describe_both_sides_and_count_the_data_path() {
    let (a, b) = pair(64);
    exchange(&a, &b, 1, 2, b"count me");
    // The handshake worker publishes its counters just after it sent what unblocked the data.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while a.handle().stats().per_thread.len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = a.handle().stats();
    assert_eq!(stats.packet_side.kind, "in-process");
    assert_eq!(stats.underlay.kind, "udp");
    assert_eq!(stats.underlay.port, a.handle().listen_port());
    assert!(stats.data_path.packets_read >= 1);
    assert_eq!(stats.per_thread.len(), 2, "one queue, no lanes, and the handshake worker");
    assert!(stats.per_thread[0].handshakes_handled == 0, "the loop hands handshakes on");
    assert_eq!(stats.per_thread[1].handshakes_handled, 1, "the worker took the response");
    let b_stats = b.handle().stats();
    assert!(b_stats.data_path.underlay_datagrams >= 2, "an initiation and data: {b_stats:?}");
    assert!(b_stats.data_path.packet_writes >= 1);
    assert_eq!(b_stats.handshake_queue.queued, 1, "the initiation went through the queue");
    assert_eq!(b_stats.handshake_queue.dropped_full, 0);
    assert_eq!(b_stats.data_path.handshakes_handled, 1);
}
