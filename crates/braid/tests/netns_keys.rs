//! Keys and allowed IPs: private-key changes and peer swaps on a live tunnel, longest-prefix
//! routing with the source check, 130k allowed IPs over UAPI, configuration read-back semantics,
//! and the seven low-order public keys that must never produce a packet.

#[macro_use]
mod netns;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use netns::nft::UdpOutCounter;
use netns::ping::wait_reachable;
use netns::prereq::notice;
use netns::topology::UNDERLAY_DEV;
use netns::wg::{genpsk, key_from_base64, key_to_base64, public_key_of};
use netns::{veth, Impl, Keys, Netns, Pair, PingOpts, Scratch, WgDevice};

const REACH: Duration = Duration::from_secs(10);

/// A new private key on A (B swaps its peer entry to A's new public key) and a peer-set swap on
/// B (`wg setconf` replacing every peer, away and back) each leave a working tunnel.
fn key_change_and_peer_swap(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let old_a = pair.a.wg.keys.public.clone();
    let tunnel_a = format!("{}/32,{}/128", pair.a.tunnel_v4, pair.a.tunnel_v6);

    let new_keys = Keys::generate();
    pair.a.wg.set_private_key(&new_keys);
    assert_eq!(pair.a.wg.show("public-key").trim(), new_keys.public, "A reports its new public key");
    pair.b.wg.set(&["peer", &new_keys.public, "allowed-ips", &tunnel_a, "peer", &old_a, "remove"]);
    assert_eq!(pair.b.wg.peers(), vec![new_keys.public.clone()]);
    assert!(wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH), "A->B after A's key change\n{}", pair.b.wg.log_tail());
    assert!(wait_reachable(&pair.b.ns, pair.a.tunnel_v6, REACH), "B->A after A's key change");

    // Swap B's peers for a decoy holding A's addresses: A's traffic must stop being accepted.
    let decoy = Keys::generate();
    let conf = |peer: &str| {
        format!(
            "[Interface]\nPrivateKey = {}\nListenPort = {}\n\n[Peer]\nPublicKey = {peer}\nAllowedIPs = {}\nEndpoint = {}\n",
            pair.b.wg.keys.private,
            pair.b.wg.port,
            tunnel_a.replace(',', ", "),
            pair.a.endpoint_v4()
        )
    };
    let file = pair.scratch.write("b-decoy.conf", &conf(&decoy.public));
    pair.b.wg.setconf(&file, Duration::from_secs(10));
    assert_eq!(pair.b.wg.peers(), vec![decoy.public.clone()], "setconf replaces the peer set");
    let r = pair.b.ping(pair.a.tunnel_v4, PingOpts { count: 2, interval: 0.2, ..Default::default() });
    assert_eq!(r.received, 0, "B must not reach A through a decoy peer: {}", r.output.describe());

    // Swap back: B initiates to A with the restored peer and the tunnel works both ways.
    let file = pair.scratch.write("b-restore.conf", &conf(&new_keys.public));
    pair.b.wg.setconf(&file, Duration::from_secs(10));
    assert_eq!(pair.b.wg.peers(), vec![new_keys.public.clone()]);
    assert!(wait_reachable(&pair.b.ns, pair.a.tunnel_v4, REACH), "B->A after the swap back\n{}", pair.b.wg.log_tail());
    assert!(wait_reachable(&pair.a.ns, pair.b.tunnel_v6, REACH), "A->B after the swap back");
    pair.assert_alive();
}
pairings!(key_change_and_peer_swap);

/// Overlapping allowed IPs route to the most specific prefix, and the same table filters sources:
/// a decoy peer owning B's /32 inside B's /24 takes B's outbound traffic and makes A drop B's
/// packets; an address only in the /24 still goes to B; removing the decoy restores the tunnel.
fn allowed_ips_longest_match(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let pub_b = pair.b.wg.keys.public.clone();
    let decoy = Keys::generate();
    pair.a.wg.add_peer(&pub_b, &format!("198.19.0.0/24,{}/128", pair.b.tunnel_v6), None);
    pair.a.wg.add_peer(&decoy.public, &format!("{}/32", pair.b.tunnel_v4), Some("198.18.0.2:9"));

    let before_b = pair.a.wg.transfer(&pub_b);
    let r = pair.a.ping(pair.b.tunnel_v4, PingOpts { count: 2, interval: 0.2, ..Default::default() });
    assert_eq!(r.received, 0, "198.19.0.2 now belongs to the decoy: {}", r.output.describe());
    assert!(pair.a.wg.transfer(&decoy.public).tx >= 148, "A must have sent a handshake initiation to the decoy");
    assert_eq!(pair.a.wg.transfer(&pub_b).tx, before_b.tx, "nothing for 198.19.0.2 may go to B");

    // Inbound: B's packets (source 198.19.0.2) arrive authenticated from B but the source belongs
    // to the decoy, so A drops them.
    let r = pair.b.ping(pair.a.tunnel_v4, PingOpts { count: 2, interval: 0.2, ..Default::default() });
    assert_eq!(r.received, 0, "A must drop B's packets whose source is the decoy's: {}", r.output.describe());
    assert!(pair.a.wg.transfer(&pub_b).rx > before_b.rx, "B's packets did reach A's daemon");

    // An address only covered by B's /24 still goes to B.
    let before = pair.a.wg.transfer(&pub_b);
    let _ = pair.a.ping("198.19.0.77", PingOpts { count: 1, ..Default::default() });
    assert!(pair.a.wg.transfer(&pub_b).tx >= before.tx + 128, "198.19.0.77 must route to B's /24");

    pair.a.wg.remove_peer(&decoy.public);
    assert!(wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH), "A->B after removing the decoy");
    assert!(wait_reachable(&pair.b.ns, pair.a.tunnel_v4, REACH), "B->A after removing the decoy");
    pair.assert_alive();
}
pairings!(allowed_ips_longest_match);

/// 131,072 allowed-IP prefixes (65,536 IPv4 /24 and 65,536 IPv6 /64) set with `wg setconf`
/// (far too long for argv) all read back, and the tunnel still works.
fn many_allowed_ips(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    let pub_b = pair.b.wg.keys.public.clone();
    let mut expected: HashSet<String> = HashSet::new();
    expected.insert(format!("{}/32", pair.b.tunnel_v4));
    expected.insert(format!("{}/128", pair.b.tunnel_v6));
    let mut conf = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = {}\n\n[Peer]\nPublicKey = {pub_b}\nEndpoint = {}\n",
        pair.a.wg.keys.private,
        pair.a.wg.port,
        pair.b.endpoint_v4()
    );
    let mut line: Vec<String> = expected.iter().cloned().collect();
    for x in 0..=255u16 {
        for y in 0..=255u16 {
            line.push(format!("10.{x}.{y}.0/24"));
            line.push(format!("{}/64", Ipv6Addr::new(0xfd00, 0xab, x, y, 0, 0, 0, 0)));
            if line.len() >= 512 {
                writeln!(conf, "AllowedIPs = {}", line.join(", ")).unwrap();
                expected.extend(line.drain(..));
            }
        }
    }
    writeln!(conf, "AllowedIPs = {}", line.join(", ")).unwrap();
    expected.extend(line.drain(..));
    assert_eq!(expected.len(), 131_072 + 2);
    let file = pair.scratch.write("many.conf", &conf);

    let started = Instant::now();
    pair.a.wg.setconf(&file, Duration::from_secs(120));
    let set_time = started.elapsed();
    let started = Instant::now();
    let listed = pair.a.wg.allowed_ips();
    let show_time = started.elapsed();
    notice(&format!("{}: setconf of {} prefixes took {set_time:?}, show {show_time:?}", a.short(), expected.len()));
    assert_eq!(listed.len(), 1, "one peer");
    assert_eq!(listed[0].0, pub_b);
    let got: HashSet<String> = listed[0].1.iter().cloned().collect();
    assert_eq!(listed[0].1.len(), expected.len(), "every prefix listed once");
    let missing: Vec<&String> = expected.difference(&got).take(5).collect();
    assert!(missing.is_empty(), "prefixes missing from wg show, e.g. {missing:?}");

    assert!(
        wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH),
        "A->B with 131k allowed IPs\n{}",
        pair.a.wg.log_tail()
    );
    assert!(wait_reachable(&pair.b.ns, pair.a.tunnel_v6, REACH), "B->A with 131k allowed IPs");
    pair.assert_alive();
}
pairings!(many_allowed_ips);

/// What `wg show` reads back: clamped private keys, the device's own public key never a peer, a
/// peer removed when its key becomes the device's, preshared keys set and cleared, allowed IPs
/// replaced by `wg set`, peer removal.
fn config_semantics(imp: Impl) {
    let scratch = Scratch::new();
    let ns = Netns::new();
    let mut dev = WgDevice::start(imp, &ns, &scratch, 51001);

    // An all-ones key comes back clamped (RFC 7748: low 3 bits and top bit cleared, bit 254 set).
    let raw = [0xffu8; 32];
    let mut clamped = raw;
    clamped[0] &= 248;
    clamped[31] = (clamped[31] & 127) | 64;
    let file = dev.write_key_file("unclamped", &key_to_base64(&raw));
    dev.set(&["private-key", &file.to_string_lossy()]);
    let read_back = dev.show("private-key").trim().to_string();
    assert_eq!(key_from_base64(&read_back), Some(clamped), "{read_back} must be the clamped key");
    assert_eq!(dev.show("public-key").trim(), public_key_of(&key_to_base64(&raw)), "public key of the clamped key");

    // The device's own public key is never a peer.
    let own = Keys::generate();
    dev.set_private_key(&own);
    dev.set(&["peer", &own.public]);
    assert!(dev.peers().is_empty(), "own public key must be ignored as a peer: {:?}", dev.peers());

    // Taking a private key whose public key is an existing peer removes that peer.
    let other = Keys::generate();
    dev.set(&["peer", &other.public]);
    assert_eq!(dev.peers(), vec![other.public.clone()]);
    dev.set_private_key(&other);
    assert!(dev.peers().is_empty(), "the peer with the device's new public key must go: {:?}", dev.peers());
    dev.set_private_key(&own);

    // Preshared key set and cleared.
    let psk = genpsk();
    let psk_file = dev.write_key_file("psk", &psk);
    dev.set(&["peer", &other.public, "preshared-key", &psk_file.to_string_lossy()]);
    assert_eq!(dev.show("preshared-keys").trim(), format!("{}\t{psk}", other.public));
    dev.set(&["peer", &other.public, "preshared-key", "/dev/null"]);
    assert_eq!(dev.show("preshared-keys").trim(), format!("{}\t(none)", other.public));

    // `wg set … allowed-ips` replaces the list; prefixes read back exactly.
    dev.add_peer(&other.public, "10.1.0.0/16,fd00:1::/64", None);
    dev.add_peer(&other.public, "10.2.0.0/16,198.19.0.2/32", None);
    let mut listed = dev.allowed_ips().remove(0).1;
    listed.sort();
    assert_eq!(listed, vec!["10.2.0.0/16".to_string(), "198.19.0.2/32".to_string()]);
    dev.add_peer(&other.public, "0.0.0.0/0,::/0", None);
    let mut listed = dev.allowed_ips().remove(0).1;
    listed.sort();
    assert_eq!(listed, vec!["0.0.0.0/0".to_string(), "::/0".to_string()]);

    dev.set(&["listen-port", "51077", "fwmark", "0x1234"]);
    assert_eq!(dev.show("listen-port").trim(), "51077");
    assert_eq!(dev.show("fwmark").trim(), "0x1234");
    dev.remove_peer(&other.public);
    assert!(dev.peers().is_empty());
    assert!(dev.is_running(), "daemon alive after the configuration round trip");
}
each_impl!(config_semantics);

/// The seven low-order Curve25519 points (0, 1, the two points of order 8, p-1, p, p+1).
const LOW_ORDER_POINTS: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn hex32(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

/// Peers whose public key is a low-order point are accepted as configuration, but pinging their
/// allowed IPs (with persistent keepalive on) sends nothing: no UDP leaves the namespace. A
/// normal peer at the same endpoint then does produce packets, proving the counter counts.
fn low_order_keys_send_nothing(imp: Impl) {
    let scratch = Scratch::new();
    let ns = Netns::new();
    let far = Netns::new();
    veth(&ns, UNDERLAY_DEV, &far, UNDERLAY_DEV, 1500);
    ns.addr_add(UNDERLAY_DEV, "198.18.0.1/24");
    far.addr_add(UNDERLAY_DEV, "198.18.0.2/24");
    let dev = WgDevice::start(imp, &ns, &scratch, 51001);
    let keys: Vec<String> = LOW_ORDER_POINTS.iter().map(|h| key_to_base64(&hex32(h))).collect();
    for (i, key) in keys.iter().enumerate() {
        let allowed = format!("198.19.0.{}/32", 10 + i);
        dev.set(&["peer", key, "allowed-ips", &allowed, "endpoint", "198.18.0.2:1111", "persistent-keepalive", "1"]);
    }
    let mut peers = dev.peers();
    peers.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(peers, want, "low-order keys are accepted as peers");
    dev.addr_add("198.19.0.1/24");
    let counter = UdpOutCounter::install(&ns, &scratch);
    dev.up();
    std::thread::scope(|s| {
        for i in 0..keys.len() {
            let (ns, dst) = (&ns, format!("198.19.0.{}", 10 + i));
            s.spawn(move || netns::ping(ns, &dst, PingOpts { count: 3, interval: 0.3, ..Default::default() }));
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(counter.packets(), 0, "no UDP may leave for low-order peers\n{}", dev.log_tail());
    for key in &keys {
        assert_eq!(dev.transfer(key).tx, 0, "tx to a low-order peer");
    }

    let normal = Keys::generate();
    dev.set(&["peer", &normal.public, "allowed-ips", "198.19.0.50/32", "endpoint", "198.18.0.2:1111"]);
    let _ = netns::ping(&ns, "198.19.0.50", PingOpts { count: 1, ..Default::default() });
    assert!(counter.packets() > 0, "a normal peer's handshake initiation must be counted");
}
each_impl!(low_order_keys_send_nothing, "nft");
