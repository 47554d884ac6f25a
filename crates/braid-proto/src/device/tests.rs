//! Unit tests of the device: two devices wired back to back, time advanced by hand. The
//! long-running scenarios (rekeys, retries, loss) live in the `braid-sim` crate.

use super::*;
use crate::crypto::StaticSecret;
use core::net::{Ipv4Addr, SocketAddr};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const UNIX_NOW: Duration = Duration::from_secs(1_700_000_000);

struct Node {
    dev: Device,
    addr: SocketAddr,
    tunnel: Ipv4Addr,
}

fn key(seed: u8) -> [u8; 32] {
    [seed; 32]
}

fn node(seed: u8) -> Node {
    let config = DeviceConfig { private_key: Some(key(seed).into()), ..DeviceConfig::default() };
    Node {
        dev: Device::new(config, Instant::ZERO, UNIX_NOW, Box::new(ChaCha20Rng::seed_from_u64(seed as u64))),
        addr: SocketAddr::from(([198, 18, 0, seed], 51820)),
        tunnel: Ipv4Addr::new(198, 19, 0, seed),
    }
}

fn public(seed: u8) -> PublicKey {
    StaticSecret::from_bytes(key(seed)).public_key()
}

/// Two nodes that know each other (1 ↔ 2), routes /32 each way.
fn pair() -> (Node, Node, PeerId, PeerId) {
    let mut a = node(1);
    let mut b = node(2);
    let mut pa = PeerConfig::new(public(2));
    pa.endpoint = Some(b.addr.into());
    pa.allowed_ips = vec![(b.tunnel.into(), 32)];
    let mut pb = PeerConfig::new(public(1));
    pb.endpoint = Some(a.addr.into());
    pb.allowed_ips = vec![(a.tunnel.into(), 32)];
    let b_on_a = a.dev.add_peer(pa).unwrap();
    let a_on_b = b.dev.add_peer(pb).unwrap();
    (a, b, b_on_a, a_on_b)
}

/// A minimal IPv4 packet (checksum not needed by the device) of `len` bytes.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, len: usize, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; len.max(20)];
    p[0] = 0x45;
    p[1] = 0;
    p[2..4].copy_from_slice(&(len.max(20) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

/// Everything `from` wants sent, as (destination, bytes).
fn drain(from: &mut Node, now: Instant) -> Vec<(Endpoint, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2048];
    while let Some(t) = from.dev.poll_transmit(now, &mut buf) {
        out.push((t.to, buf[..t.len].to_vec()));
        assert!(out.len() < 1000, "runaway transmit queue");
    }
    out
}

/// Delivers datagrams back and forth until both sides are quiet; returns IP packets
/// delivered to (a, b).
fn pump(a: &mut Node, b: &mut Node, now: Instant) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let from_a = drain(a, now);
        let from_b = drain(b, now);
        if from_a.is_empty() && from_b.is_empty() {
            return (to_a, to_b);
        }
        for (dst, mut bytes) in from_a {
            assert_eq!(dst.addr, b.addr);
            if let Ok(Some(r)) = b.dev.handle_datagram(now, a.addr.into(), &mut bytes) {
                to_b.push(bytes[r.packet].to_vec());
            }
        }
        for (dst, mut bytes) in from_b {
            assert_eq!(dst.addr, a.addr);
            if let Ok(Some(r)) = a.dev.handle_datagram(now, b.addr.into(), &mut bytes) {
                to_a.push(bytes[r.packet].to_vec());
            }
        }
    }
    panic!("no quiescence after 20 rounds");
}

#[test]
fn first_packet_triggers_a_handshake_then_flows_both_ways() {
    let (mut a, mut b, b_on_a, a_on_b) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    let p1 = ipv4(a.tunnel, b.tunnel, 100, 0xaa);
    assert_eq!(a.dev.handle_packet(now, &p1, &mut out), Ok(None), "no session yet: staged");
    let sent = drain(&mut a, now);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].1[0], sent[0].1.len()), (1, 148), "an initiation");
    let mut init = sent[0].1.clone();
    assert_eq!(b.dev.handle_datagram(now, a.addr.into(), &mut init), Ok(None));
    let resp = drain(&mut b, now);
    assert_eq!((resp[0].1[0], resp[0].1.len()), (2, 92), "a response");
    let mut resp = resp[0].1.clone();
    assert_eq!(a.dev.handle_datagram(now, b.addr.into(), &mut resp), Ok(None));
    // The staged packet goes out as the first transport message, confirming the session.
    let data = drain(&mut a, now);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].1[0], 4);
    assert_eq!(data[0].1.len(), 16 + 112 + 16, "100 bytes padded to 112");
    let mut d = data[0].1.clone();
    let r = b.dev.handle_datagram(now, a.addr.into(), &mut d).unwrap().unwrap();
    assert_eq!(r.peer, a_on_b);
    assert_eq!(&d[r.packet], &p1[..]);
    // Now B (responder, confirmed) can send straight away.
    let p2 = ipv4(b.tunnel, a.tunnel, 1400, 0xbb);
    let t = b.dev.handle_packet(now, &p2, &mut out).unwrap().unwrap();
    assert_eq!(t.to.addr, a.addr);
    let mut d = out[..t.len].to_vec();
    let r = a.dev.handle_datagram(now, b.addr.into(), &mut d).unwrap().unwrap();
    assert_eq!((r.peer, &d[r.packet.clone()]), (b_on_a, &p2[..]));
    let sa = a.dev.peer_stats(b_on_a).unwrap();
    assert_eq!(sa.last_handshake, Some(UNIX_NOW + Duration::from_secs(1)), "Unix time, not an age");
    assert_eq!(sa.tx_bytes, 148 + 144, "initiation + data message");
    assert_eq!(sa.rx_bytes, 92 + (16 + 1408 + 16), "response + data message");
    assert_eq!(a.dev.stats().total_drops() + b.dev.stats().total_drops(), 0);
}

#[test]
fn padding_counts_match_the_kernels_1372_and_1428_checks() {
    // netns.sh pings with 1372 and 1428 bytes of IP packet... and counts 32 + padded bytes.
    let (mut a, mut b, b_on_a, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let before = a.dev.peer_stats(b_on_a).unwrap().tx_bytes;
    let t = a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 1372, 1), &mut out).unwrap().unwrap();
    assert_eq!(t.len, 32 + 1376);
    let t2 = a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 1419, 1), &mut out).unwrap().unwrap();
    assert_eq!(t2.len, 32 + 1420, "padding stops at the MTU");
    assert_eq!(a.dev.peer_stats(b_on_a).unwrap().tx_bytes - before, (32 + 1376 + 32 + 1420) as u64);
}

#[test]
fn low_order_public_keys_never_make_us_send() {
    const LOW_ORDER: [&str; 7] = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    let mut a = node(1);
    for (i, hex) in LOW_ORDER.iter().enumerate() {
        let mut k = [0u8; 32];
        for (j, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * j..2 * j + 2], 16).unwrap();
        }
        let mut cfg = PeerConfig::new(PublicKey(k));
        cfg.endpoint = Some(SocketAddr::from(([198, 18, 0, 9], 51820 + i as u16)).into());
        cfg.allowed_ips = vec![(IpAddr::from([198, 19, 1, i as u8]), 32)];
        a.dev.add_peer(cfg).expect("accepted, as wireguard-go does, but inert");
    }
    let mut out = [0u8; 2048];
    let mut now = Instant::from_secs(1);
    for i in 0..7u8 {
        let p = ipv4(a.tunnel, Ipv4Addr::new(198, 19, 1, i), 60, 0);
        assert_eq!(a.dev.handle_packet(now, &p, &mut out), Ok(None));
    }
    for _ in 0..200 {
        a.dev.poll_timers(now);
        assert!(drain(&mut a, now).is_empty(), "sent something to a low-order key");
        now += Duration::from_secs(1);
    }
}

#[test]
fn own_key_as_peer_is_refused_and_duplicate_peers_too() {
    let mut a = node(1);
    assert_eq!(a.dev.add_peer(PeerConfig::new(public(1))), Err(ConfigError::OwnPublicKey));
    a.dev.add_peer(PeerConfig::new(public(2))).unwrap();
    assert_eq!(a.dev.add_peer(PeerConfig::new(public(2))), Err(ConfigError::DuplicatePeer));
    assert_eq!(a.dev.peer_count(), 1);
}

#[test]
fn setting_our_private_key_to_a_peers_key_removes_that_peer() {
    let mut a = node(1);
    a.dev.add_peer(PeerConfig::new(public(2))).unwrap();
    a.dev.set_private_key(Some(key(2)));
    assert_eq!(a.dev.peer_count(), 0);
    assert_eq!(a.dev.public_key(), Some(public(2)));
}

#[test]
fn a_peer_cannot_send_from_another_peers_prefix() {
    let (mut a, mut b, _, _) = pair();
    // A also routes 198.19.0.0/16 to B, but 198.19.7.0/24 to a third peer C.
    let b_on_a = a.dev.peer_by_key(&public(2)).unwrap();
    a.dev.add_allowed_ip(b_on_a, IpAddr::from([198, 19, 0, 0]), 16).unwrap();
    let mut c = PeerConfig::new(public(3));
    c.allowed_ips = vec![(IpAddr::from([198, 19, 7, 0]), 24)];
    a.dev.add_peer(c).unwrap();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    b.dev.handle_packet(now, &ipv4(b.tunnel, a.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    // B's packets: from its own /16 accepted, from C's more specific /24 refused.
    b.dev.add_allowed_ip(b.dev.peer_by_key(&public(1)).unwrap(), IpAddr::from([0, 0, 0, 0]), 0).unwrap();
    for (src, ok) in [([198, 19, 9, 9], true), ([198, 19, 7, 9], false), ([10, 0, 0, 1], false)] {
        let t = b.dev.handle_packet(now, &ipv4(src.into(), a.tunnel, 60, 0), &mut out).unwrap().unwrap();
        let mut d = out[..t.len].to_vec();
        let got = a.dev.handle_datagram(now, b.addr.into(), &mut d);
        if ok {
            assert!(matches!(got, Ok(Some(_))), "{src:?}: {got:?}");
        } else {
            assert_eq!(got, Err(DropReason::SourceNotAllowed), "{src:?}");
        }
    }
    assert_eq!(a.dev.stats().drops(DropReason::SourceNotAllowed), 2);
}

#[test]
fn replayed_initiation_and_replayed_data_are_refused() {
    let (mut a, mut b, _, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    let init = drain(&mut a, now).remove(0).1;
    let mut first = init.clone();
    b.dev.handle_datagram(now, a.addr.into(), &mut first).unwrap();
    drain(&mut b, now);
    let later = now + Duration::from_secs(3);
    let mut again = init.clone();
    assert_eq!(b.dev.handle_datagram(later, a.addr.into(), &mut again), Err(DropReason::TimestampReplay));
    assert!(drain(&mut b, later).is_empty(), "no response to a replay");

    let (mut a, mut b, _, _) = pair();
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let t = a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 80, 0), &mut out).unwrap().unwrap();
    let data = out[..t.len].to_vec();
    assert!(b.dev.handle_datagram(now, a.addr.into(), &mut data.clone()).unwrap().is_some());
    assert_eq!(b.dev.handle_datagram(now, a.addr.into(), &mut data.clone()), Err(DropReason::Replay));
}

#[test]
fn transport_messages_arriving_out_of_order_are_accepted_and_counted() {
    let (mut a, mut b, _, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    assert!(!a.dev.has_transmit());
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    assert!(a.dev.has_transmit(), "a handshake initiation waits");
    pump(&mut a, &mut b, now);
    assert!(!a.dev.has_transmit() && !b.dev.has_transmit(), "all drained");
    let before = b.dev.stats().transport_reordered;
    let mut sealed = Vec::new();
    for fill in 1..=3u8 {
        let t = a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 60, fill), &mut out).unwrap().unwrap();
        sealed.push(out[..t.len].to_vec());
    }
    // Counters n, n+2 in order, then n+1 late: accepted, and counted as reordered once.
    for i in [0, 2, 1] {
        assert!(b.dev.handle_datagram(now, a.addr.into(), &mut sealed[i].clone()).unwrap().is_some());
    }
    assert_eq!(b.dev.stats().transport_reordered, before + 1);
    // A replay of the late one is refused and not counted again.
    assert_eq!(b.dev.handle_datagram(now, a.addr.into(), &mut sealed[1].clone()), Err(DropReason::Replay));
    assert_eq!(b.dev.stats().transport_reordered, before + 1);
}

#[test]
fn garbage_is_dropped_counted_and_changes_nothing() {
    let (mut a, mut b, b_on_a, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let before = a.dev.peer_stats(b_on_a).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    use rand_core::RngCore;
    for len in 0..300usize {
        for ty in [0u8, 1, 2, 3, 4, 5, 255] {
            let mut d = vec![0u8; len];
            rng.fill_bytes(&mut d);
            if let Some(first) = d.first_mut() {
                *first = ty;
            }
            if len >= 4 && rng.next_u32() % 2 == 0 {
                d[1..4].fill(0);
            }
            let from = SocketAddr::from(([198, 18, 0, 66], 1234));
            assert!(a.dev.handle_datagram(now, from.into(), &mut d).is_err());
        }
    }
    assert!(drain(&mut a, now).is_empty());
    let after = a.dev.peer_stats(b_on_a).unwrap();
    assert_eq!(before, after, "garbage changed a peer");
    assert_eq!(a.dev.stats().total_drops(), 300 * 7);
    // Garbage from TUN too.
    for len in 0..64 {
        assert!(a.dev.handle_packet(now, &vec![0x45; len], &mut out).is_err());
    }
}

#[test]
fn private_key_change_stops_old_sessions_from_sending() {
    let (mut a, mut b, _, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    a.dev.set_private_key(Some(key(7)));
    let later = now + Duration::from_secs(6);
    assert_eq!(a.dev.handle_packet(later, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out), Ok(None));
    let sent = drain(&mut a, later);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1[0], 1, "a new initiation with the new identity");
}

#[test]
fn removing_a_peer_frees_its_indices_routes_and_timers() {
    let (mut a, mut b, b_on_a, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    assert!(a.dev.indices.len() > 0);
    assert!(a.dev.next_deadline().is_some());
    a.dev.remove_peer(b_on_a);
    assert_eq!(a.dev.indices.len(), 0);
    assert_eq!(a.dev.next_deadline(), None);
    assert_eq!(a.dev.route(b.tunnel.into()), None);
    assert!(a.dev.peer_stats(b_on_a).is_none());
    // A new peer in the same slot is not reachable through the old handle.
    let c = a.dev.add_peer(PeerConfig::new(public(3))).unwrap();
    assert_ne!(c, b_on_a);
    assert!(a.dev.peer_stats(b_on_a).is_none());
}

#[test]
fn removing_all_peers_frees_everything_and_the_device_starts_over_cleanly() {
    let (mut a, mut b, b_on_a, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let mut third = PeerConfig::new(public(3));
    third.allowed_ips = vec![(Ipv4Addr::new(198, 19, 3, 0).into(), 24)];
    a.dev.add_peer(third).unwrap();
    a.dev.remove_all_peers();
    assert_eq!(a.dev.peer_count(), 0);
    assert_eq!(a.dev.indices.len(), 0);
    assert_eq!(a.dev.next_deadline(), None);
    assert_eq!(a.dev.allowed_ips().count(), 0);
    assert_eq!(a.dev.route(b.tunnel.into()), None);
    assert!(a.dev.peer_stats(b_on_a).is_none());
    assert!(a.dev.peer_by_key(&public(2)).is_none());
    // The same peer added again gets its routes and a new handshake.
    let mut again = PeerConfig::new(public(2));
    again.endpoint = Some(b.addr.into());
    again.allowed_ips = vec![(b.tunnel.into(), 32)];
    let id = a.dev.add_peer(again).unwrap();
    assert_eq!(a.dev.route(b.tunnel.into()), Some(id));
    let later = Instant::from_secs(2);
    a.dev.handle_packet(later, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    let (_, to_b) = pump(&mut a, &mut b, later);
    assert_eq!(to_b.len(), 1, "the staged packet went through a new session");
}

#[test]
fn preshared_key_mismatch_fails_and_a_fix_applies_at_once() {
    let (mut a, mut b, b_on_a, a_on_b) = pair();
    a.dev.set_peer_preshared_key(b_on_a, Some([5; 32])).unwrap();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    let (_, to_b) = pump(&mut a, &mut b, now);
    assert!(to_b.is_empty());
    assert!(a.dev.stats().drops(DropReason::HandshakeFailed) == 1, "response refused: PSKs differ");
    b.dev.set_peer_preshared_key(a_on_b, Some([5; 32])).unwrap();
    let later = now + Duration::from_secs(6);
    a.dev.poll_timers(later);
    let (_, to_b) = pump(&mut a, &mut b, later);
    assert_eq!(to_b.len(), 1, "the retry with matching PSKs delivers the staged packet");
}

#[test]
fn message_limits_rekey_at_2_60_and_stop_before_reject_after_messages() {
    use crate::constants::{REJECT_AFTER_MESSAGES, REKEY_AFTER_MESSAGES};
    let (mut a, mut b, b_on_a, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let later = now + Duration::from_secs(6);
    set_counter(&mut a, b_on_a, REKEY_AFTER_MESSAGES + 1);
    let pkt = ipv4(a.tunnel, b.tunnel, 40, 0);
    assert!(a.dev.handle_packet(later, &pkt, &mut out).unwrap().is_some());
    let sent = drain(&mut a, later);
    assert_eq!(sent.len(), 1, "past Rekey-After-Messages a handshake starts");
    assert_eq!(sent[0].1[0], 1);

    // The last usable counter is REJECT_AFTER_MESSAGES - 1; after it the packet is staged.
    let (mut a, mut b, b_on_a, _) = pair();
    a.dev.handle_packet(now, &pkt, &mut out).unwrap();
    pump(&mut a, &mut b, now);
    set_counter(&mut a, b_on_a, REJECT_AFTER_MESSAGES - 1);
    let t = a.dev.handle_packet(later, &pkt, &mut out).unwrap().unwrap();
    assert_eq!(u64::from_le_bytes(out[8..16].try_into().unwrap()), REJECT_AFTER_MESSAGES - 1);
    assert!(t.len > 0);
    assert_eq!(a.dev.handle_packet(later, &pkt, &mut out), Ok(None), "exhausted: staged, not sent");
    assert_eq!(a.dev.peer_stats(b_on_a).unwrap().staged_packets, 1);
}

fn set_counter(a: &mut Node, id: PeerId, counter: u64) {
    peer_mut(&mut a.dev.peers, id).unwrap().sessions.current.as_mut().unwrap().set_send_counter(counter);
}

#[test]
fn clearing_the_endpoint_source_keeps_the_address_until_the_peer_teaches_a_new_one() {
    let (mut a, mut b, _, a_on_b) = pair();
    let now = Instant::from_secs(1);
    let local = core::net::IpAddr::from([198, 18, 0, 22]);
    let from_a = Endpoint { addr: a.addr, local: Some(local) };
    let mut out = [0u8; 2048];
    assert_eq!(a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 60, 1), &mut out), Ok(None));
    let mut init = drain(&mut a, now).remove(0).1;
    assert_eq!(b.dev.handle_datagram(now, from_a, &mut init), Ok(None));
    let response = drain(&mut b, now);
    assert_eq!(response[0].0, from_a, "the response leaves from our address the initiation came to");

    b.dev.clear_endpoint_source(a_on_b);
    assert_eq!(b.dev.peer_stats(a_on_b).unwrap().endpoint, Some(Endpoint::from(a.addr)), "address kept");

    // The next authenticated packet to that address pins it again.
    let mut response = response[0].1.clone();
    assert_eq!(a.dev.handle_datagram(now, b.addr.into(), &mut response), Ok(None));
    let mut data = drain(&mut a, now).remove(0).1;
    assert!(b.dev.handle_datagram(now, from_a, &mut data).unwrap().is_some());
    assert_eq!(b.dev.peer_stats(a_on_b).unwrap().endpoint, Some(from_a));

    // Removed peers and peers without an endpoint are left alone.
    let lone = b.dev.add_peer(PeerConfig::new(public(7))).unwrap();
    b.dev.clear_endpoint_source(lone);
    assert_eq!(b.dev.peer_stats(lone).unwrap().endpoint, None);
    b.dev.remove_peer(lone);
    b.dev.clear_endpoint_source(lone);
    assert_eq!(b.dev.peer_stats(a_on_b).unwrap().endpoint, Some(from_a));
}

#[test]
fn split_phase_jobs_match_the_one_call_paths_and_survive_rotation_checks() {
    let (mut a, mut b, b_on_a, a_on_b) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    a.dev.handle_packet(now, &ipv4(a.tunnel, b.tunnel, 40, 0), &mut out).unwrap();
    pump(&mut a, &mut b, now);

    // Prepare three packets, seal them "elsewhere", open them in order on the other side.
    let packets: Vec<Vec<u8>> = (0..3).map(|i| ipv4(a.tunnel, b.tunnel, 100 + i, i as u8)).collect();
    let jobs: Vec<SealJob> = packets.iter().map(|p| a.dev.prepare_seal(now, p).unwrap().unwrap()).collect();
    let mut datagrams = Vec::new();
    for (job, p) in jobs.iter().zip(&packets) {
        assert_eq!((job.peer, job.len), (b_on_a, a.dev.sealed_len(p.len())));
        let n = job.seal(p, &mut out).unwrap();
        assert_eq!(n, job.len);
        datagrams.push(out[..n].to_vec());
    }
    for (d, p) in datagrams.iter_mut().zip(&packets) {
        assert!(is_transport(d));
        let job = b.dev.prepare_open(now, d).unwrap();
        assert_eq!(job.peer, a_on_b);
        let opened = job.open(d);
        let r = b.dev.finish_open(now, a.addr.into(), &job, d, opened).unwrap().unwrap();
        assert_eq!(&d[r.packet], &p[..]);
    }
    // A tampered datagram fails in the AEAD; the device counts it when told.
    let mut bad = datagrams[0].clone();
    bad[20] ^= 1;
    let before = b.dev.stats().drops(DropReason::DecryptFailed);
    let job = b.dev.prepare_open(now, &bad).unwrap();
    let opened = job.open(&mut bad);
    assert_eq!(b.dev.finish_open(now, a.addr.into(), &job, &mut bad, opened), Err(DropReason::DecryptFailed));
    assert_eq!(b.dev.stats().drops(DropReason::DecryptFailed), before + 1);
    // Security review finding 9 (docs/SECURITY.md): success is an `Opened` only `open` makes,
    // and one opened for another datagram does not pass for this one (on 1a8c593 the caller's
    // `Ok(len)` was taken on its word, tag or no tag).
    let (p1, p2) = (ipv4(a.tunnel, b.tunnel, 70, 1), ipv4(a.tunnel, b.tunnel, 70, 2));
    let n1 = a.dev.handle_packet(now, &p1, &mut out).unwrap().unwrap().len;
    let mut d1 = out[..n1].to_vec();
    let n2 = a.dev.handle_packet(now, &p2, &mut out).unwrap().unwrap().len;
    let mut d2 = out[..n2].to_vec();
    let (job1, job2) = (b.dev.prepare_open(now, &d1).unwrap(), b.dev.prepare_open(now, &d2).unwrap());
    let opened1 = job1.open(&mut d1);
    assert!(opened1.is_ok());
    assert_eq!(b.dev.finish_open(now, a.addr.into(), &job2, &mut d2, opened1), Err(DropReason::DecryptFailed));
    let opened2 = job2.open(&mut d2);
    let r = b.dev.finish_open(now, a.addr.into(), &job2, &mut d2, opened2).unwrap().unwrap();
    assert_eq!(&d2[r.packet], &p2[..]);
    // A job whose session disappeared meanwhile (keys zeroed) is refused, not applied.
    let p = ipv4(a.tunnel, b.tunnel, 60, 9);
    let n = a.dev.handle_packet(now, &p, &mut out).unwrap().unwrap().len;
    let mut d = out[..n].to_vec();
    let job = b.dev.prepare_open(now, &d).unwrap();
    let opened = job.open(&mut d);
    b.dev.remove_peer(a_on_b);
    assert!(b.dev.finish_open(now, a.addr.into(), &job, &mut d, opened).is_err());
    assert!(!is_transport(&[1, 0, 0, 0]));
}

fn events(node: &mut Node) -> Vec<DeviceEvent> {
    std::iter::from_fn(|| node.dev.poll_event()).collect()
}

#[test]
fn events_tell_handshakes_roams_silence_and_giving_up_in_order() {
    let (mut a, mut b, b_on_a, a_on_b) = pair();
    let mut now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    let p = ipv4(a.tunnel, b.tunnel, 100, 1);
    assert_eq!(a.dev.handle_packet(now, &p, &mut out), Ok(None));
    pump(&mut a, &mut b, now);
    // The initiator completes on the response; the responder once the first data confirms it.
    // Both were configured with the address the other answers from: no endpoint change.
    assert_eq!(events(&mut a), vec![DeviceEvent::HandshakeCompleted { peer: b_on_a, initiator: true }]);
    assert_eq!(events(&mut b), vec![DeviceEvent::HandshakeCompleted { peer: a_on_b, initiator: false }]);
    // The same address again is no event; a new one is a roam.
    let q = ipv4(b.tunnel, a.tunnel, 60, 2);
    let sealed = b.dev.handle_packet(now, &q, &mut out).unwrap().unwrap();
    let mut bytes = out[..sealed.len].to_vec();
    a.dev.handle_datagram(now, b.addr.into(), &mut bytes).unwrap();
    assert_eq!(events(&mut a), vec![]);
    let roamed = SocketAddr::from(([198, 18, 0, 77], 40000));
    let sealed = b.dev.handle_packet(now, &q, &mut out).unwrap().unwrap();
    let mut bytes = out[..sealed.len].to_vec();
    a.dev.handle_datagram(now, roamed.into(), &mut bytes).unwrap();
    assert_eq!(events(&mut a), vec![DeviceEvent::EndpointChanged { peer: b_on_a, endpoint: roamed.into() }]);
    // a sends data and b never answers again: after 15 s (plus jitter) a calls b silent, and
    // after 90 s and more of unanswered initiations (19 tries, 5 s plus jitter apart) it gives up.
    assert!(a.dev.handle_packet(now, &p, &mut out).unwrap().is_some());
    let mut silent_at = None;
    for _ in 0..12_000 {
        now += Duration::from_millis(10);
        a.dev.poll_timers(now);
        drain(&mut a, now);
        for event in events(&mut a) {
            match event {
                DeviceEvent::PeerSilent { peer } => {
                    assert_eq!(peer, b_on_a);
                    silent_at = Some(now);
                }
                DeviceEvent::HandshakeGaveUp { peer } => {
                    assert_eq!(peer, b_on_a);
                    let silent = silent_at.expect("silent before giving up");
                    let waited = now.saturating_duration_since(silent);
                    assert!(waited >= Duration::from_secs(90) && waited < Duration::from_secs(110), "{waited:?}");
                    return;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    panic!("never gave up");
}

#[test]
fn an_undrained_event_queue_stays_bounded_and_counts_what_it_lost() {
    let (mut a, mut b, _, _) = pair();
    let now = Instant::from_secs(1);
    let mut out = [0u8; 2048];
    let p = ipv4(a.tunnel, b.tunnel, 100, 1);
    a.dev.handle_packet(now, &p, &mut out).unwrap();
    pump(&mut a, &mut b, now);
    let q = ipv4(b.tunnel, a.tunnel, 60, 2);
    for i in 0..(EVENT_QUEUE_LIMIT as u32 + 10) {
        let sealed = b.dev.handle_packet(now, &q, &mut out).unwrap().unwrap();
        let mut bytes = out[..sealed.len].to_vec();
        let from = SocketAddr::from((Ipv4Addr::from(0xc612_0000 + i), 40000));
        a.dev.handle_datagram(now, from.into(), &mut bytes).unwrap();
    }
    assert_eq!(events(&mut a).len(), EVENT_QUEUE_LIMIT);
    // The handshake and 1 034 roams: the 11 oldest gave way.
    assert_eq!(a.dev.events_dropped(), 11);
}

/// A handshake initiation an attacker who knows `to`'s public key can forge: random body,
/// valid mac1, no mac2.
fn forged_initiation(to: &PublicKey, now: Instant, rng: &mut ChaCha20Rng) -> Vec<u8> {
    use rand_core::RngCore;
    let mut msg = vec![0u8; 148];
    rng.fill_bytes(&mut msg[4..116]);
    msg[0] = 1;
    crate::cookie::MacSealer::new(to).seal(now, &mut msg).unwrap();
    msg
}

/// Sends `count` forged initiations spread evenly over the second after `start`, each from
/// its own source address; returns the cookie replies the device sent.
fn flood(node: &mut Node, start: Instant, count: u64, report_empty_queue: bool, rng: &mut ChaCha20Rng) -> usize {
    let to = node.dev.public_key().unwrap();
    let mut cookies = 0;
    for k in 0..count {
        let now = start + Duration::from_nanos(k * 1_000_000_000 / count);
        if report_empty_queue {
            node.dev.set_handshake_backlog(now, 0, 4096);
        }
        let from = SocketAddr::from(([198, 18, 1 + (k / 250) as u8, (k % 250) as u8], 40000));
        let mut msg = forged_initiation(&to, now, rng);
        let _ = node.dev.handle_datagram(now, from.into(), &mut msg);
        cookies += drain(node, now).len();
    }
    cookies
}

#[test]
fn a_handshake_rate_the_device_keeps_up_with_demands_no_cookie_when_its_queue_is_empty() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    // A driver with a queue that stays empty: 1 100 a second is no load.
    let mut queued = node(1);
    assert_eq!(flood(&mut queued, Instant::from_secs(1), 1100, true, &mut rng), 0);
    assert_eq!(queued.dev.stats().cookie_replies_sent, 0);
    assert_eq!(queued.dev.stats().drops(DropReason::HandshakeFailed), 1100, "each reached the DH step");
    // The same queue 1/8 full demands cookies at once.
    let now = Instant::from_secs(3);
    queued.dev.set_handshake_backlog(now, 512, 4096);
    let to = queued.dev.public_key().unwrap();
    let mut msg = forged_initiation(&to, now, &mut rng);
    assert_eq!(queued.dev.handle_datagram(now, SocketAddr::from(([198, 18, 9, 9], 1)).into(), &mut msg), Ok(None));
    assert_eq!(drain(&mut queued, now).len(), 1, "a cookie reply");
    // A driver without a queue still has the rate: past 1 024 a second it asks for cookies.
    let mut inline = node(2);
    assert!(flood(&mut inline, Instant::from_secs(1), 1100, false, &mut rng) > 0);
}

#[test]
fn the_device_wide_budget_bounds_handshake_work_whatever_the_sources() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let mut b = node(1);
    // 5 000 distinct sources in one second, each well within its own rate, none under load
    // by the queue: the budget (2 000/s, burst 200) lets at most 2 200 reach the DH step.
    let config = DeviceConfig::default();
    flood(&mut b, Instant::from_secs(1), 5000, true, &mut rng);
    let stats = b.dev.stats();
    let worked = stats.drops(DropReason::HandshakeFailed);
    assert!(worked <= u64::from(config.handshake_budget) * 11 / 10 + 1, "{worked} reached the DH step");
    assert!(worked >= 200, "{worked}: the burst passes");
    assert!(stats.drops(DropReason::OverBudget) > 0);
    assert!(stats.cookie_replies_sent > 0, "a spent budget puts the device under load");
    // A second later the budget has refilled: handshakes reach the DH step again.
    let before = b.dev.stats().drops(DropReason::HandshakeFailed);
    flood(&mut b, Instant::from_secs(3), 100, true, &mut rng);
    assert_eq!(b.dev.stats().drops(DropReason::HandshakeFailed), before + 100);
}

#[test]
fn two_thousand_cookie_holding_sources_get_no_more_than_the_budget() {
    use braid_wire::wg::{CookieReply, CookieReplyRepr};
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut b = node(1);
    let to = b.dev.public_key().unwrap();
    let source = |k: u64| SocketAddr::from(([198, 18, 1 + (k / 250) as u8, (k % 250) as u8], 40000));
    // The queue is past 1/8 the whole time: the device demands mac2. Each source fetches its
    // cookie, as an attacker that receives its replies can.
    let t0 = Instant::from_secs(1);
    let mut sealers = Vec::new();
    for k in 0..2000 {
        b.dev.set_handshake_backlog(t0, 600, 4096);
        let mut sealer = crate::cookie::MacSealer::new(&to);
        let mut msg = forged_initiation(&to, t0, &mut rng);
        sealer.seal(t0, &mut msg).unwrap();
        b.dev.handle_datagram(t0, source(k).into(), &mut msg).unwrap();
        let replies = drain(&mut b, t0);
        assert_eq!(replies.len(), 1);
        let reply = CookieReplyRepr::parse(&CookieReply::new_checked(&replies[0].1[..]).unwrap());
        sealer.consume_cookie_reply(t0, &reply).unwrap();
        sealers.push(sealer);
    }
    // Then every source sends 20 initiations with a valid mac2 within one second: each stays
    // inside its own 20/s (burst 5 + refill), together 40 000/s.
    let before = b.dev.stats().drops(DropReason::HandshakeFailed);
    let start = t0 + Duration::from_millis(10);
    for round in 0..20u64 {
        for (k, sealer) in sealers.iter_mut().enumerate() {
            let now = start + Duration::from_micros(round * 50_000 + k as u64 * 20);
            b.dev.set_handshake_backlog(now, 600, 4096);
            let mut msg = vec![0u8; 148];
            use rand_core::RngCore;
            rng.fill_bytes(&mut msg[4..116]);
            msg[0] = 1;
            sealer.seal(now, &mut msg).unwrap();
            let _ = b.dev.handle_datagram(now, source(k as u64).into(), &mut msg);
        }
    }
    let stats = b.dev.stats();
    let worked = stats.drops(DropReason::HandshakeFailed) - before;
    assert!((2000..=2200).contains(&worked), "{worked} of 40 000 reached the DH step");
    assert!(stats.drops(DropReason::OverBudget) >= 30_000, "{}", stats.drops(DropReason::OverBudget));
}

#[test]
fn cookie_replies_have_a_device_wide_budget_too() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut b = node(1);
    // Under load (the queue past 1/8) for a whole second, 100 000 forged initiations from
    // distinct sources: at most 10 × the handshake budget (+ its burst) get a cookie reply.
    let to = b.dev.public_key().unwrap();
    let start = Instant::from_secs(1);
    let mut cookies = 0;
    for k in 0..100_000u64 {
        let now = start + Duration::from_nanos(k * 10_000);
        b.dev.set_handshake_backlog(now, 600, 4096);
        let from = SocketAddr::from(([198, 18, (k / 60_000) as u8 + 1, (k % 250) as u8], 1024 + (k % 60_000) as u16));
        let mut msg = forged_initiation(&to, now, &mut rng);
        let _ = b.dev.handle_datagram(now, from.into(), &mut msg);
        cookies += drain(&mut b, now).len();
    }
    let budget = u64::from(DeviceConfig::default().handshake_budget) * 10;
    assert!((budget as usize..=(budget * 11 / 10) as usize).contains(&cookies), "{cookies} cookie replies");
    assert_eq!(b.dev.stats().cookie_replies_sent as usize, cookies);
    assert!(b.dev.stats().drops(DropReason::OverBudget) >= 75_000);
}
