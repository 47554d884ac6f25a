//! WireGuard inside WireGuard, and a routing loop that must not take a daemon down.

#[macro_use]
mod netns;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netns::ping::wait_reachable;
use netns::prereq::notice;
use netns::tcp_transfer::transfer;
use netns::{Impl, Pair, PingOpts, WgDevice};

const REACH: Duration = Duration::from_secs(10);

/// A second WireGuard pair whose endpoints are the first tunnel's addresses (inner tunnel
/// 198.19.0.128/25 and fd00:1a::/64, MTU 1340): pings of several sizes and a checksummed TCP
/// transfer cross it, and the outer tunnel's counters show it carried the inner traffic.
fn tunnel_in_tunnel(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let inner_a = WgDevice::start(a, &pair.a.ns, &pair.scratch, 52001);
    let inner_b = WgDevice::start(b, &pair.b.ns, &pair.scratch, 52002);
    inner_a.add_peer(&inner_b.keys.public, "198.19.0.130/32,fd00:1a::2/128", Some("198.19.0.2:52002"));
    inner_b.add_peer(&inner_a.keys.public, "198.19.0.129/32,fd00:1a::1/128", Some("198.19.0.1:52001"));
    for (dev, v4, v6) in
        [(&inner_a, "198.19.0.129/25", "fd00:1a::1/64"), (&inner_b, "198.19.0.130/25", "fd00:1a::2/64")]
    {
        dev.addr_add(v4);
        dev.addr_add(v6);
        dev.set_mtu(1340);
        dev.up();
    }
    let outer_before = pair.a.wg.transfer(&pair.b.wg.keys.public);
    assert!(wait_reachable(&pair.a.ns, "198.19.0.130", REACH), "inner A->B\n{}", inner_a.log_tail());
    for (from, dst) in [
        (&pair.a.ns, "198.19.0.130"),
        (&pair.b.ns, "198.19.0.129"),
        (&pair.a.ns, "fd00:1a::2"),
        (&pair.b.ns, "fd00:1a::1"),
    ] {
        let df_max = if dst.contains(':') { 1340 - 48 } else { 1340 - 28 };
        for (size, df) in [(56, false), (df_max, true), (2000, false)] {
            let r = netns::ping(from, dst, PingOpts { count: 3, size, dont_fragment: df, interval: 0.02 });
            assert!(r.all_replied(), "inner ping {dst} size {size}: {}", r.output.describe());
        }
    }
    assert_eq!(
        inner_b.endpoint(&inner_a.keys.public).as_deref(),
        Some("198.19.0.1:52001"),
        "inner endpoint is A's tunnel address"
    );
    let to_b: SocketAddr = "[fd00:1a::2]:6003".parse().unwrap();
    let report = transfer(&pair.a.ns, &pair.b.ns, to_b, 4 * 1024 * 1024, 3, &pair.scratch);
    assert_eq!(report.received.first_mismatch, None, "{report:?}");
    assert_eq!((report.received.bytes, report.received.hash), (4 * 1024 * 1024, report.expected_hash), "{report:?}");
    let outer_after = pair.a.wg.transfer(&pair.b.wg.keys.public);
    assert!(outer_after.tx - outer_before.tx > 4 * 1024 * 1024, "the inner transfer rode the outer tunnel");
    drop((inner_a, inner_b));
    pair.assert_alive();
}
pairings!(tunnel_in_tunnel);

/// A's peer B gets an endpoint inside B's own allowed IPs (B's tunnel address), so A's encrypted
/// packets route back into A's own interface and multiply (each pass adds a header; past the MTU
/// they fragment). Pinging must not take the daemon down: it stays alive and `wg show` answers
/// within a deadline while the loop runs. The bytes the loop generated are reported.
fn routing_loop(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let pub_b = pair.b.wg.keys.public.clone();
    pair.a.wg.set(&["peer", &pub_b, "endpoint", &format!("{}:{}", pair.b.tunnel_v4, pair.b.wg.port)]);
    let before = pair.a.wg.transfer(&pub_b);
    let r = pair.a.ping(pair.b.tunnel_v4, PingOpts { count: 20, interval: 0.01, ..Default::default() });
    notice(&format!("routing loop {}: ping got {}/{} replies", a.short(), r.received, r.transmitted));
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let out = pair.a.wg.wg_timeout(&["show", pair.a.wg.ifname(), "transfer"], Duration::from_secs(5));
    assert!(out.success(), "daemon unresponsive during the loop: {}\n{}", out.describe(), pair.a.wg.log_tail());
    let after = pair.a.wg.transfer(&pub_b);
    notice(&format!(
        "routing loop {}: wg show answered in {:?}; tx grew by {} bytes",
        a.short(),
        started.elapsed(),
        after.tx - before.tx
    ));
    pair.assert_alive();
    // No recovery step: once the loop is broken the packets still in flight reach B nested, and
    // B (correctly) roams to the inner source address, starting the same loop on its side.
}
pairings!(exclusive routing_loop);
