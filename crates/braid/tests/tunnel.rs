//! braid as a library: tunnels embedded in this test process, over real UDP on loopback,
//! with braid's userspace TCP/IP stack on their in-process devices. No root needed.
//!
//! `BRAID_TUNNEL_TEST_MB` sets the size of each transfer (default 100 in release builds, as
//! CI runs it, and 16 in debug builds, where the stack is many times slower).

use braid::cli::demo::transfer::{receive, send};
use braid::config::{Peer, TunnelConfig};
use braid::keys::SecretKey;
use braid::{PeerEvent, Tunnel, TunnelOptions};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

const A_V4: &str = "198.19.0.1";
const B_V4: &str = "198.19.0.2";
const A_V6: &str = "fd00:19::1";
const B_V6: &str = "fd00:19::2";

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn transfer_bytes() -> u64 {
    let default = if cfg!(debug_assertions) { 16 } else { 100 };
    let mb = std::env::var("BRAID_TUNNEL_TEST_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    mb * 1_000_000
}

/// Two tunnels that know each other, both with an endpoint (loopback).
struct Two {
    a: Tunnel,
    b: Tunnel,
    key_a: SecretKey,
    key_b: SecretKey,
}

fn two() -> Two {
    let (key_a, key_b) = (SecretKey::generate(), SecretKey::generate());
    let options = TunnelOptions { loopback_only: true, ..TunnelOptions::default() };
    let config = |own: &SecretKey, peer: &SecretKey, v4, v6, pv4, pv6| {
        TunnelConfig::new(own.clone())
            .address(ip(v4), 24)
            .address(ip(v6), 64)
            .peer(Peer::new(peer.public_key()).allowed_ip(ip(pv4), 32).allowed_ip(ip(pv6), 128))
    };
    let b = Tunnel::start_with(&config(&key_b, &key_a, B_V4, B_V6, A_V4, A_V6), &options).expect("tunnel b");
    let b_at = SocketAddr::from(([127, 0, 0, 1], b.listen_port()));
    let mut a_config = config(&key_a, &key_b, A_V4, A_V6, B_V4, B_V6);
    a_config.peers[0] = a_config.peers[0].clone().endpoint(b_at);
    let a = Tunnel::start_with(&a_config, &options).expect("tunnel a");
    Two { a, b, key_a, key_b }
}

#[test]
fn two_tunnels_move_data_both_ways_over_inner_ipv4_and_ipv6_byte_exact() {
    let mut t = two();
    let (net_a, net_b) = (t.a.net().expect("stack a"), t.b.net().expect("stack b"));
    let size = transfer_bytes();
    for (family, a_addr, b_addr) in [("IPv4", A_V4, B_V4), ("IPv6", A_V6, B_V6)] {
        let started = Instant::now();
        // A → B and B → A at the same time, each checksummed at both ends.
        let to_b = net_b.tcp_listen(SocketAddr::new(ip(b_addr), 5001)).unwrap();
        let to_a = net_a.tcp_listen(SocketAddr::new(ip(a_addr), 5002)).unwrap();
        let b_receives = std::thread::spawn(move || {
            let (mut s, _) = to_b.accept().unwrap();
            receive(&mut s, &AtomicU64::new(0)).unwrap()
        });
        let a_receives = std::thread::spawn(move || {
            let (mut s, _) = to_a.accept().unwrap();
            receive(&mut s, &AtomicU64::new(0)).unwrap()
        });
        let mut a_to_b = net_a.tcp_connect(SocketAddr::new(ip(b_addr), 5001)).unwrap();
        let mut b_to_a = net_b.tcp_connect(SocketAddr::new(ip(a_addr), 5002)).unwrap();
        let a_sends = std::thread::spawn(move || send(&mut a_to_b, size, 1, &AtomicU64::new(0)).unwrap());
        let b_sent = send(&mut b_to_a, size, 2, &AtomicU64::new(0)).unwrap();
        let a_sent = a_sends.join().unwrap();
        let (b_got, a_got) = (b_receives.join().unwrap(), a_receives.join().unwrap());
        for (what, report) in
            [("A→B sender", a_sent), ("A→B receiver", b_got), ("B→A sender", b_sent), ("B→A receiver", a_got)]
        {
            assert!(report.verified(), "{family} {what}: {report:?}");
            assert_eq!(report.bytes, size, "{family} {what}");
        }
        assert_eq!(a_sent.checksum, b_got.checksum);
        assert_eq!(b_sent.checksum, a_got.checksum);
        assert_ne!(a_sent.checksum, b_sent.checksum, "two different streams");
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{family}: {} MB each way in {secs:.2} s ({:.2} Gbit/s each way)",
            size / 1_000_000,
            size as f64 * 8.0 / secs / 1e9
        );
    }
    // Every decrypted packet reached its stack; nothing was dropped for a bad reason.
    for (name, tunnel) in [("A", &t.a), ("B", &t.b)] {
        let stats = tunnel.stats();
        assert_eq!(stats.packets.dropped_too_long, 0, "{name}");
        for reason in [
            braid_proto::DropReason::DecryptFailed,
            braid_proto::DropReason::SourceNotAllowed,
            braid_proto::DropReason::InvalidInnerPacket,
        ] {
            assert_eq!(stats.device.drops(reason), 0, "{name}: {reason}");
        }
        assert_eq!(stats.engine.packet_side.kind, "in-process");
        assert!(
            stats.peers[0].rx_bytes > 2 * size && stats.peers[0].tx_bytes > 2 * size,
            "{name}: {:?}",
            stats.peers[0]
        );
    }
}

#[test]
fn events_and_statistics_are_typed() {
    let mut t = two();
    let (events_a, events_b) = (t.a.events(), t.b.events());
    let net_a = t.a.net().unwrap();
    let _net_b = t.b.net().unwrap();
    let rtt = net_a.ping(ip(B_V4), Duration::from_secs(10)).expect("a ping through the tunnel");
    assert!(rtt < Duration::from_secs(5));
    let first = events_a.recv_timeout(Duration::from_secs(5)).expect("an event at A");
    assert_eq!(first, PeerEvent::HandshakeCompleted { peer: t.key_b.public_key(), initiator: true });
    // B first hears A at A's loopback port, then completes when A's data confirms the session.
    let b_events: Vec<PeerEvent> = (0..2).filter_map(|_| events_b.recv_timeout(Duration::from_secs(5)).ok()).collect();
    assert_eq!(
        b_events,
        vec![
            PeerEvent::EndpointChanged {
                peer: t.key_a.public_key(),
                endpoint: SocketAddr::from(([127, 0, 0, 1], t.a.listen_port()))
            },
            PeerEvent::HandshakeCompleted { peer: t.key_a.public_key(), initiator: false },
        ]
    );
    let a = t.a.peer(&t.key_b.public_key()).expect("B is A's peer");
    assert!(a.last_handshake.is_some());
    assert_eq!(a.endpoint.map(|e| e.addr), Some(SocketAddr::from(([127, 0, 0, 1], t.b.listen_port()))));
    // An initiation (148), a keepalive-confirmed session, an echo request: bytes both ways.
    assert!(a.tx_bytes >= 148 + 32 && a.rx_bytes >= 92, "{a:?}");
    let stats = t.a.stats();
    assert_eq!(stats.device.initiations_sent, 1);
    assert_eq!(stats.device.sessions_derived, 1);
    assert!(stats.engine.data_path.packets_read >= 1 && stats.packets.sent >= 1 && stats.packets.delivered >= 1);
    assert!(t.a.show("a").contains("latest handshake"), "{}", t.a.show("a"));
}

/// A minimal IPv4/UDP packet from `src` to `dst` (UDP checksum 0: none).
fn udp_packet(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let len = 28 + payload.len();
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let mut sum = 0u32;
    for pair in p[..20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p[20..22].copy_from_slice(&4000u16.to_be_bytes());
    p[22..24].copy_from_slice(&5000u16.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

#[test]
fn raw_packets_go_in_and_out_in_order_and_a_stranger_is_refused() {
    let mut t = two();
    let (a, b) = (t.a.take_packets().unwrap(), t.b.take_packets().unwrap());
    assert!(t.a.take_packets().is_err(), "the port is taken once");
    let mut buf = vec![0u8; 2048];
    // The first packet waits for the handshake (the device stages at most 128 packets, as the
    // kernel does); once it arrived, a batch goes straight through.
    a.send(&udp_packet([198, 19, 0, 1], [198, 19, 0, 2], b"hello")).unwrap();
    let n = b.recv_timeout(&mut buf, Duration::from_secs(10)).unwrap().expect("the first packet");
    assert_eq!(&buf[28..n], b"hello");
    let packets: Vec<Vec<u8>> =
        (0..200u32).map(|i| udp_packet([198, 19, 0, 1], [198, 19, 0, 2], &i.to_be_bytes().repeat(50))).collect();
    let mut sent = 0;
    a.send_batch(packets.iter().map(Vec::as_slice), &mut sent).unwrap();
    assert_eq!(sent, 200);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 200 && Instant::now() < deadline {
        if let Some(n) = b.recv_timeout(&mut buf, Duration::from_millis(200)).unwrap() {
            got.push(buf[..n].to_vec());
        }
    }
    assert_eq!(got.len(), 200, "every packet arrived");
    assert!(got == packets, "byte-exact and in order");
    // A packet from an address A is not allowed to use is dropped by B, not delivered.
    a.send(&udp_packet([198, 19, 0, 9], [198, 19, 0, 2], b"spoofed")).unwrap();
    a.send(&udp_packet([198, 19, 0, 1], [198, 19, 0, 2], b"genuine")).unwrap();
    let n = b.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap().expect("the genuine packet");
    assert_eq!(&buf[28..n], b"genuine");
    assert_eq!(t.b.stats().device.drops(braid_proto::DropReason::SourceNotAllowed), 1);
    // Longer than the MTU: refused at the port.
    assert_eq!(a.send(&vec![0x45; 2000]), Err(braid::tunnel::PortError::TooLong));
}

#[test]
fn a_driven_tunnel_moves_packets_only_while_its_caller_turns_it() {
    let (key_a, key_b) = (SecretKey::generate(), SecretKey::generate());
    let options = TunnelOptions { loopback_only: true, ..TunnelOptions::default() };
    let mut b = Tunnel::start_with(
        &TunnelConfig::new(key_b.clone())
            .address(ip(B_V4), 24)
            .peer(Peer::new(key_a.public_key()).allowed_ip(ip(A_V4), 32)),
        &options,
    )
    .unwrap();
    let b_at = SocketAddr::from(([127, 0, 0, 1], b.listen_port()));
    let a_config = TunnelConfig::new(key_a)
        .address(ip(A_V4), 24)
        .peer(Peer::new(key_b.public_key()).allowed_ip(ip(B_V4), 32).endpoint(b_at));
    let (mut a, mut driver) = Tunnel::start_driven_with(&a_config, &options).unwrap();
    let (port_a, port_b) = (a.take_packets().unwrap(), b.take_packets().unwrap());
    port_a.send(&udp_packet([198, 19, 0, 1], [198, 19, 0, 2], b"turned")).unwrap();
    let mut buf = [0u8; 256];
    // Nothing leaves A until its driver turns.
    assert_eq!(port_b.recv_timeout(&mut buf, Duration::from_millis(300)).unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut delivered = None;
    while delivered.is_none() && Instant::now() < deadline {
        assert_eq!(driver.turn(Some(Duration::from_millis(10))).unwrap(), None);
        delivered = port_b.recv(&mut buf);
    }
    let n = delivered.expect("the packet arrived once A was turned");
    assert_eq!(&buf[28..n], b"turned");
    a.engine().stop();
    assert!(driver.turn(Some(Duration::ZERO)).unwrap().is_some(), "a stopped driver says so");
    drop(a);
}

#[test]
fn a_tunnel_refuses_a_stack_without_an_address_and_a_busy_port() {
    let key = SecretKey::generate();
    let mut tunnel = Tunnel::start(&TunnelConfig::new(key.clone())).unwrap();
    assert!(matches!(tunnel.net(), Err(braid::TunnelError::NoAddress)));
    let taken = tunnel.listen_port();
    match Tunnel::start(&TunnelConfig::new(key).listen_port(taken)) {
        Err(braid::TunnelError::Bind { port, .. }) => assert_eq!(port, taken),
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[test]
fn a_tcp_stream_reads_what_was_written_and_sees_the_end() {
    let mut t = two();
    let (net_a, net_b) = (t.a.net().unwrap(), t.b.net().unwrap());
    let listener = net_b.tcp_listen(SocketAddr::new(ip(B_V6), 80)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), ip(A_V6));
        let mut request = Vec::new();
        s.read_to_end(&mut request).unwrap();
        s.write_all(&request).unwrap();
        s.write_all(b" -- seen").unwrap();
    });
    let mut stream = net_a.tcp_connect(SocketAddr::new(ip(B_V6), 80)).unwrap();
    assert_eq!(stream.peer_addr(), SocketAddr::new(ip(B_V6), 80));
    stream.write_all(b"half-closed").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "half-closed -- seen");
    server.join().unwrap();
    // Nobody listens here: refused, not a hang.
    let refused = net_a.tcp_connect(SocketAddr::new(ip(B_V6), 81)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // Non-blocking reads say so.
    stream.set_nonblocking(true);
    let mut buf = [0u8; 8];
    assert_eq!((&stream).read(&mut buf).unwrap(), 0, "the peer closed: end of stream");
}

#[test]
fn udp_datagrams_cross_the_tunnel() {
    let mut t = two();
    let (net_a, net_b) = (t.a.net().unwrap(), t.b.net().unwrap());
    let b_sock = net_b.udp_bind(SocketAddr::new(ip(B_V4), 53)).unwrap();
    let a_sock = net_a.udp_bind(SocketAddr::new(ip(A_V4), 0)).unwrap();
    assert_ne!(a_sock.local_addr().port(), 0);
    for i in 0..20u8 {
        a_sock.send_to(&[i; 100], b_sock.local_addr()).unwrap();
        let mut buf = [0u8; 200];
        let (n, from) = b_sock.recv_from_timeout(&mut buf, Duration::from_secs(5)).unwrap();
        assert_eq!((n, from), (100, a_sock.local_addr()));
        assert_eq!(buf[..n], [i; 100]);
        b_sock.send_to(&buf[..n], from).unwrap();
        let (n, _) = a_sock.recv_from_timeout(&mut buf, Duration::from_secs(5)).unwrap();
        assert_eq!(buf[..n], [i; 100]);
    }
}

/// Sends a few bytes A → B over TCP through the tunnels and back: both engines still poll
/// their sockets.
fn round_trip(net_a: &braid::NetStack, net_b: &braid::NetStack, port: u16) {
    let listener = net_b.tcp_listen(SocketAddr::new(ip(B_V4), port)).unwrap();
    let echo = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut s = net_a.tcp_connect(SocketAddr::new(ip(B_V4), port)).unwrap();
    s.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    echo.join().unwrap();
}

/// Second review, finding 2: a `set` whose OS side fails halfway left things changed (the
/// port moved back only on a best effort, the mark set on one socket of two). Now port and
/// mark change in one step: new sockets are bound *with* the new mark and registered before
/// anything is swapped. Here the mark is refused (this thread gives up CAP_NET_ADMIN and
/// CAP_NET_RAW, as an unprivileged user has neither) and the port is busy: each request is
/// answered `errno≠0`, port and mark are exactly as before, and the tunnel still carries data.
#[test]
fn a_set_whose_mark_or_port_fails_changes_nothing() {
    use braid::uapi::{EngineHost, UapiSession};
    use caps::{CapSet, Capability};
    let mut t = two();
    let (net_a, net_b) = (t.a.net().unwrap(), t.b.net().unwrap());
    round_trip(&net_a, &net_b, 6001);
    for cap in [Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW] {
        caps::drop(None, CapSet::Effective, cap).expect("drop a capability from this thread");
    }
    let engine = t.a.engine().clone();
    let (port, mark) = (engine.listen_port(), engine.fwmark());
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let busy = t.b.listen_port();
    let uapi = |request: &str| -> String {
        let mut session = UapiSession::new();
        let reply = engine
            .with_device(|device, now| session.feed(request.as_bytes(), now, device, &mut EngineHost::new(&engine)));
        String::from_utf8(reply).unwrap()
    };
    for request in [
        format!("set=1\nlisten_port={free}\nfwmark=77\n\n"),
        "set=1\nfwmark=77\n\n".to_string(),
        format!("set=1\nlisten_port={busy}\n\n"),
        format!("set=1\nfwmark=0\nlisten_port={busy}\n\n"),
    ] {
        let reply = uapi(&request);
        assert!(reply.starts_with("errno=-") && reply.ends_with("\n\n"), "{request:?}: {reply:?}");
        assert_eq!((engine.listen_port(), engine.fwmark()), (port, mark), "{request:?} changed the underlay");
    }
    let get = uapi("get=1\n\n");
    assert!(get.contains(&format!("listen_port={port}\n")) && !get.contains("fwmark="), "{get}");
    round_trip(&net_a, &net_b, 6002);
    // A port change alone still works without privileges.
    assert_eq!(uapi(&format!("set=1\nlisten_port={free}\n\n")), "errno=0\n\n");
    assert_eq!(engine.listen_port(), free);
    round_trip(&net_a, &net_b, 6003);
}
