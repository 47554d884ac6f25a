//! Handshake floods against braid, as an attacker who knows braid's public key sends them,
//! while a Debian wireguard-go peer keeps using its established tunnel (security review 1.2,
//! hardening issue). The attacker runs in the peer's namespace from thousands of addresses of
//! its own; it is this test binary re-run inside the namespace (`flood_worker`), so it can
//! compute mac1 and, for the second flood, answer braid's cookie replies with a valid mac2.
//!
//! What must hold during each flood: at least 95 % of the tunnel's pings (every 50 ms) answered,
//! and at least 90 % of the TCP throughput it had without the flood at the same offered rate.
//! The offered rate is fixed (not the machine's maximum) because on this 2-core machine the
//! attacker itself takes a core: a maximum-rate figure would measure the attacker's CPU, not
//! braid's defence. The maximum figures are printed for the record.

mod netns;

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use braid_proto::cookie::MacSealer;
use braid_proto::crypto::PublicKey;
use braid_wire::wg::{CookieReply, CookieReplyRepr};
use netns::uapi::{braid_get, device_counter as counter};
use netns::{Impl, Pair, PingOpts};
use rand_core::{RngCore, SeedableRng};

/// The attacker's addresses: 198.18.8.0/21 (2 046 usable), in the peer's namespace.
const ATTACKER_NET: &str = "198.18.8.0/21";
/// Offered TCP rate through the tunnel, with and without the flood.
const OFFERED: &str = "200M";
const TCP_SECS: u32 = 4;
const FLOOD_SECS: u64 = 8;
const PINGS: u32 = 140;

fn attacker_address(k: usize) -> String {
    let host = k + 1; // 198.18.8.1 ...
    format!("198.18.{}.{}", 8 + host / 256, host % 256)
}

/// Mbit/s the iperf3 receiver saw.
fn mbits(receiver_line: &str) -> f64 {
    let words: Vec<&str> = receiver_line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "Mbits/sec").expect("Mbits/sec in the summary");
    words[at - 1].parse().expect("a rate")
}

fn tcp(pair: &Pair, rate: Option<&str>, port: u16) -> f64 {
    // The peer (B, wireguard-go) sends to braid (A): through braid's flooded socket.
    let report = match rate {
        Some(rate) => {
            netns::iperf::run_rate(&pair.a.ns, &pair.b.ns, pair.a.tunnel_v4, port, TCP_SECS, rate, &pair.scratch)
        }
        None => netns::iperf::run(&pair.a.ns, &pair.b.ns, pair.a.tunnel_v4, port, TCP_SECS, false, &pair.scratch),
    };
    mbits(&report.receiver_line)
}

struct Flood {
    mode: &'static str,
    sources: usize,
}

/// Pings and TCP through the tunnel while `flood` runs; returns (pings answered, Mbit/s).
fn under_flood(pair: &Pair, flood: &Flood, braid_public: &str, port: u16) -> (u32, f64, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let exe = exe.to_str().expect("a UTF-8 path");
    let target = pair.a.endpoint_v4();
    let sources = flood.sources.to_string();
    let secs = FLOOD_SECS.to_string();
    let log = pair.scratch.path().join(format!("flood-{}.log", flood.mode));
    let mut attacker = pair.b.ns.spawn(
        "flood",
        &[exe, "flood_worker", "--exact", "--ignored", "--nocapture", "--test-threads=1"],
        &[
            ("BRAID_FLOOD_MODE", flood.mode),
            ("BRAID_FLOOD_TARGET", &target),
            ("BRAID_FLOOD_KEY", braid_public),
            ("BRAID_FLOOD_SOURCES", &sources),
            ("BRAID_FLOOD_SECS", &secs),
        ],
        log,
    );
    // Let the flood reach its pace (sockets bound, cookies fetched) before measuring.
    thread::sleep(Duration::from_millis(1500));
    let (pinged, rate) = thread::scope(|s| {
        let pings =
            s.spawn(|| pair.b.ping(pair.a.tunnel_v4, PingOpts { count: PINGS, interval: 0.05, ..Default::default() }));
        let rate = tcp(pair, Some(OFFERED), port);
        (pings.join().expect("ping thread"), rate)
    });
    let status = attacker.wait_timeout(Duration::from_secs(FLOOD_SECS + 20));
    let log = attacker.log();
    assert!(status.is_some_and(|s| s.success()), "the flooder failed:\n{log}");
    (pinged.received, rate, log)
}

/// Both floods of the review against braid with a wireguard-go peer.
#[test]
fn an_established_tunnel_keeps_serving_under_handshake_floods() {
    let test = "an_established_tunnel_keeps_serving_under_handshake_floods";
    if cfg!(debug_assertions) {
        // An unoptimised daemon beside a flooder on two cores measures the build, not the
        // defence; CI runs this suite in release (.ci/run).
        netns::prereq::notice(&format!(
            "SKIP {test}: runs in release builds (`cargo test --release -p braid --test netns_flood`)"
        ));
        return;
    }
    if !netns::ready(test, &["ip", "ping", "iperf3"], &[Impl::Braid, Impl::WireguardGo]) {
        return;
    }
    let mut pair = Pair::new(Impl::Braid, Impl::WireguardGo);
    pair.wait_tunnel();
    // The attacker's addresses on the peer's host; braid's host routes them through it.
    let batch: String = (0..2000).map(|k| format!("addr add {}/32 dev ul0\n", attacker_address(k))).collect();
    let batch_file = pair.scratch.write("attacker-addresses", &batch);
    netns::command::run(
        "ip",
        &["-n", pair.b.ns.name(), "-batch", batch_file.to_str().unwrap()],
        Duration::from_secs(30),
    )
    .expect_success();
    pair.a.ns.ip(&["route", "add", ATTACKER_NET, "via", pair.b.underlay_v4]);

    let quiet = tcp(&pair, Some(OFFERED), 5201);
    let quiet_max = tcp(&pair, None, 5202);
    println!("flood-free: {quiet:.0} Mbit/s offered {OFFERED}, {quiet_max:.0} Mbit/s at most");
    let mut before = braid_get(pair.a.wg.ifname());
    let braid_public = pair.a.wg.keys.public.clone();

    let floods = [Flood { mode: "mac1", sources: 200 }, Flood { mode: "cookies", sources: 2000 }];
    for (i, flood) in floods.iter().enumerate() {
        let (answered, rate, log) = under_flood(&pair, flood, &braid_public, 5210 + i as u16);
        let after = braid_get(pair.a.wg.ifname());
        println!(
            "{} flood ({} sources): {answered}/{PINGS} pings, {rate:.0} Mbit/s; {}",
            flood.mode,
            flood.sources,
            log.trim()
        );
        for key in [
            "handshakes_queued",
            "handshake_queue_full_drops",
            "cookie_replies_sent",
            "drops_over_budget",
            "drops_rate_limited",
        ] {
            println!("  {key}: {}", counter(&after, key) - counter(&before, key));
        }
        pair.assert_alive();
        assert!(answered * 100 >= PINGS * 95, "{} flood: {answered}/{PINGS} pings answered", flood.mode);
        assert!(rate >= quiet * 0.9, "{} flood: {rate:.0} Mbit/s against {quiet:.0} without", flood.mode);
        assert!(
            counter(&after, "cookie_replies_sent") > counter(&before, "cookie_replies_sent"),
            "braid went under load"
        );
        if flood.mode == "cookies" {
            let sent = log
                .lines()
                .find_map(|l| l.strip_prefix("cookies consumed: "))
                .and_then(|v| v.trim().parse::<u64>().ok());
            assert!(sent.is_some_and(|n| n >= 1000), "the attacker held valid cookies:\n{log}");
            assert!(
                counter(&after, "drops_over_budget") > counter(&before, "drops_over_budget"),
                "the device-wide budget bounded the cookie-holding sources"
            );
        }
        before = after;
    }
}

/// The attacker (run by the test above inside the peer's namespace; ignored otherwise).
#[test]
#[ignore]
fn flood_worker() {
    let Ok(mode) = std::env::var("BRAID_FLOOD_MODE") else { return };
    let target: SocketAddr = std::env::var("BRAID_FLOOD_TARGET").unwrap().parse().unwrap();
    let key = netns::wg::key_from_base64(&std::env::var("BRAID_FLOOD_KEY").unwrap()).expect("a key");
    let sources: usize = std::env::var("BRAID_FLOOD_SOURCES").unwrap().parse().unwrap();
    let secs: u64 = std::env::var("BRAID_FLOOD_SECS").unwrap().parse().unwrap();
    let public = PublicKey(key);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut sockets = Vec::with_capacity(sources);
    for k in 0..sources {
        let socket = UdpSocket::bind((attacker_address(k).as_str(), 0)).expect("bind an attacker address");
        socket.set_nonblocking(true).unwrap();
        sockets.push((socket, MacSealer::new(&public)));
    }
    let cookies = mode == "cookies";
    let start = Instant::now();
    let origin = braid_proto::Instant::ZERO;
    let now = || origin + start.elapsed();
    let (mut sent, mut refused, mut consumed) = (0u64, 0u64, 0u64);
    let mut msg = [0u8; 148];
    let mut reply = [0u8; 256];
    // "mac1": every source as fast as the kernel takes it. "cookies": every source 20 a
    // second (a round every 50 ms), answering each cookie reply.
    let mut round = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        if cookies {
            let due = Duration::from_millis(50 * round);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                thread::sleep(wait);
            }
            round += 1;
        }
        for (socket, sealer) in &mut sockets {
            if cookies {
                while let Ok(n) = socket.recv(&mut reply) {
                    if let Ok(view) = CookieReply::new_checked(&reply[..n]) {
                        if sealer.consume_cookie_reply(now(), &CookieReplyRepr::parse(&view)).is_ok() {
                            consumed += 1;
                        }
                    }
                }
            }
            msg[..4].copy_from_slice(&[1, 0, 0, 0]);
            rng.fill_bytes(&mut msg[4..116]);
            sealer.seal(now(), &mut msg).expect("seal");
            match socket.send_to(&msg, target) {
                Ok(_) => sent += 1,
                Err(_) => refused += 1,
            }
        }
    }
    println!("sent: {sent} ({} a second), refused by the kernel: {refused}", sent / secs.max(1));
    println!("cookies consumed: {consumed}");
}
