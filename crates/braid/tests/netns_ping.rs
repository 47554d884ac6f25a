//! Ping through the tunnel: sizes and fragmentation over both underlay families, exact byte
//! counters, and MTU changes. Every scenario runs for wgo↔wgo, braid↔braid and braid↔wgo in both
//! roles (see `docs/TESTING.md`).

#[macro_use]
mod netns;

use netns::{Impl, Pair, PingOpts, Side};

/// Pings `dst` from `from` with `count` requests of `size` bytes and asserts every reply came back.
#[track_caller]
fn assert_ping(from: &Side, dst: &str, size: u32, dont_fragment: bool) {
    let r = from.ping(dst, PingOpts { count: 3, size, dont_fragment, interval: 0.02 });
    assert!(
        r.all_replied(),
        "ping {dst} size {size} df {dont_fragment} from {}: {}/{} replies\n{}\n--- daemon log ---\n{}",
        from.ns.name(),
        r.received,
        r.transmitted,
        r.output.describe(),
        from.wg.log_tail()
    );
}

/// IPv4 and IPv6 pings of small, full-MTU and fragmenting sizes, both directions, first over
/// the IPv4 underlay and then over the IPv6 underlay.
fn ping_sizes(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    // wg MTU 1420: the largest unfragmented ICMP payload is 1392 (IPv4) and 1372 (IPv6).
    let v4_sizes = [(56, false), (1372, false), (1392, true), (1400, false), (3000, false), (8000, false)];
    let v6_sizes = [(56, false), (1352, false), (1372, true), (1400, false), (3000, false)];
    for underlay in ["v4", "v6"] {
        if underlay == "v6" {
            pair.use_v6_endpoints();
        }
        for (from, to) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
            for (size, df) in v4_sizes {
                assert_ping(from, to.tunnel_v4, size, df);
            }
            for (size, df) in v6_sizes {
                assert_ping(from, to.tunnel_v6, size, df);
            }
        }
        let endpoint = pair.b.wg.endpoint(&pair.a.wg.keys.public).unwrap_or_default();
        let want = if underlay == "v4" { pair.a.endpoint_v4() } else { pair.a.endpoint_v6() };
        assert_eq!(endpoint, want, "B's view of A's endpoint over the {underlay} underlay");
    }
    pair.assert_alive();
}
pairings!(ping_sizes);

/// Bytes on the wire for a transport message carrying an IP packet of `ip_len` bytes: the
/// plaintext is zero-padded to a multiple of 16 (not beyond the MTU) plus 32 bytes of header/tag.
fn transport_len(ip_len: u64, mtu: u64) -> u64 {
    32 + ip_len.next_multiple_of(16).min(mtu.max(ip_len))
}

/// After a fresh tunnel's first pings, `wg show transfer` counts exactly the UDP payload bytes:
/// handshake initiation (148) and response (92) plus one padded transport message per packet,
/// possibly plus one keepalive (32) from the initiator. Then further pings add exactly their size.
fn transfer_counters(a: Impl, b: Impl) {
    let pair = Pair::new(a, b);
    let (pub_a, pub_b) = (pair.a.wg.keys.public.clone(), pair.b.wg.keys.public.clone());
    assert_eq!(pair.a.wg.transfer(&pub_b), Default::default(), "no traffic before the first ping");
    assert_eq!(pair.b.wg.transfer(&pub_a), Default::default(), "no traffic before the first ping");
    assert_eq!(pair.a.wg.latest_handshake(&pub_b), 0);

    // B initiates: 10 echo requests of 56 bytes (84-byte IPv4 packets -> 128 bytes each on the wire).
    let r = pair.b.ping(pair.a.tunnel_v4, PingOpts { count: 10, size: 56, interval: 0.01, ..Default::default() });
    assert!(r.all_replied(), "{}", r.output.describe());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let msg = transport_len(84, 1420);
    assert_eq!(msg, 128);
    let at_b = pair.b.wg.transfer(&pub_a);
    let at_a = pair.a.wg.transfer(&pub_b);
    assert_eq!(at_b.rx, 10 * msg + 92, "B rx = 10 replies + handshake response (netns.sh: 1372); {at_b:?}");
    assert!(
        at_b.tx == 10 * msg + 148 || at_b.tx == 10 * msg + 148 + 32,
        "B tx = 10 requests + initiation (+ maybe a keepalive) (netns.sh: 1428 or 1460); {at_b:?}"
    );
    assert_eq!((at_a.rx, at_a.tx), (at_b.tx, at_b.rx), "A and B must agree");
    assert_ne!(pair.a.wg.latest_handshake(&pub_b), 0, "A records the handshake time");
    assert_ne!(pair.b.wg.latest_handshake(&pub_a), 0, "B records the handshake time");

    // On the established session: 5 IPv4 pings of 1000 bytes from A (1028 -> 1040 padded).
    let r = pair.a.ping(pair.b.tunnel_v4, PingOpts { count: 5, size: 1000, interval: 0.01, ..Default::default() });
    assert!(r.all_replied(), "{}", r.output.describe());
    // And 3 IPv6 pings of 56 bytes from B (104 -> 112 padded).
    let r = pair.b.ping(pair.a.tunnel_v6, PingOpts { count: 3, size: 56, interval: 0.01, ..Default::default() });
    assert!(r.all_replied(), "{}", r.output.describe());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let grown = 5 * transport_len(1028, 1420) + 3 * transport_len(104, 1420);
    assert_eq!(grown, 5 * 1072 + 3 * 144);
    let after_a = pair.a.wg.transfer(&pub_b);
    let after_b = pair.b.wg.transfer(&pub_a);
    assert_eq!(after_a.tx - at_a.tx, grown, "A tx growth; {at_a:?} -> {after_a:?}");
    assert_eq!(after_a.rx - at_a.rx, grown, "A rx growth; {at_a:?} -> {after_a:?}");
    assert_eq!((after_b.rx, after_b.tx), (after_a.tx, after_a.rx), "A and B must agree");
}
pairings!(transfer_counters);

/// Lowering and raising the interface MTU (`ip link set mtu`) takes effect: full-size DF pings
/// pass at the new size, one byte more is refused locally, and large MTUs carry jumbo packets.
fn mtu_change(a: Impl, b: Impl) {
    let pair = Pair::with_underlay_mtu(a, b, 9000);
    pair.wait_tunnel();
    for side in [&pair.a, &pair.b] {
        side.wg.set_mtu(1280);
    }
    assert_eq!(pair.a.ns.mtu(pair.a.wg.ifname()), 1280);
    for (from, to) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
        assert_ping(from, to.tunnel_v4, 1252, true);
        assert_ping(from, to.tunnel_v6, 1232, true);
        assert_ping(from, to.tunnel_v4, 1400, false);
        let too_big = from.ping(to.tunnel_v4, PingOpts { count: 1, size: 1253, dont_fragment: true, interval: 0.02 });
        assert_eq!(too_big.received, 0, "a DF packet over the new MTU must not pass: {}", too_big.output.describe());
    }
    for side in [&pair.a, &pair.b] {
        side.wg.set_mtu(8000);
    }
    for (from, to) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
        assert_ping(from, to.tunnel_v4, 7972, true);
        assert_ping(from, to.tunnel_v6, 7952, true);
        assert_ping(from, to.tunnel_v4, 1392, true);
    }
}
pairings!(mtu_change);
