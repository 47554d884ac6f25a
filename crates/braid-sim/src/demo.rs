//! A short, readable story of two WireGuard peers on a lossy link: the first handshake,
//! data both ways, a rekey at 120 s and a roam, with timestamps and counts.
//!
//! It exists so that one command shows the protocol core working end to end before there
//! is a daemon; it is deterministic (fixed seed), so its output is the same on every run.

use core::fmt::{self, Write};
use core::net::SocketAddr;
use core::time::Duration;

use braid_proto::{Device, DropReason, Instant};
use braid_wire::wg::MessageType;

use crate::link::LinkModel;
use crate::node::{tunnel_v4, NodeId};
use crate::sim::Sim;
use crate::wire_log::{format_time, ArrivalOutcome, WireFate, WireRecord};

/// The seed the story runs with.
pub const DEMO_SEED: u64 = 2024;

/// Tells the story into `out`. Writing into a `String` cannot fail; a failing writer just
/// ends the story early.
pub fn run(out: &mut dyn Write) {
    let _ = story(out);
}

fn story(out: &mut dyn Write) -> fmt::Result {
    let mut sim = Sim::new(DEMO_SEED);
    let alice = sim.add_wg_node();
    let bob = sim.add_wg_node();
    sim.connect(alice, bob);
    let link = LinkModel::clean(Duration::from_millis(20)).with_jitter(Duration::from_millis(10)).with_loss(0.05);
    sim.set_link_both(alice, bob, link);
    let name = |n: Option<NodeId>| match n {
        Some(n) if n == alice => "alice",
        Some(n) if n == bob => "bob",
        _ => "someone",
    };

    writeln!(out, "braid simulator demo (seed {DEMO_SEED}): two WireGuard peers, simulated time")?;
    for n in [alice, bob] {
        writeln!(out, "  {:<5} underlay {}  tunnel {}", name(Some(n)), sim.node_addr(n), tunnel_v4(n))?;
    }
    writeln!(out, "  link: 20 ms + up to 10 ms jitter, 5% loss, each way\n")?;

    writeln!(out, "== first handshake: alice has a packet for bob and no session ==")?;
    sim.send_ip(alice, bob, b"hello bob").ok();
    sim.run_until(Instant::from_secs(1));
    while sim.tun_log(bob).is_empty() && sim.now() < Instant::from_secs(60) {
        sim.run_for(Duration::from_secs(1)); // lost handshake messages are retried after 5 s
    }
    print_handshakes(out, sim.wire().sent(), &name, Instant::ZERO, sim.now())?;
    if let Some(first) = sim.tun_log(bob).first() {
        writeln!(
            out,
            "  [{:>9}] bob's TUN receives alice's first packet ({} bytes)",
            format_time(first.time),
            first.len
        )?;
    }

    writeln!(out, "\n== data both ways, one packet every 100 ms each way until 150 s ==")?;
    let start = sim.now();
    let stop = Instant::from_secs(150);
    sim.add_traffic_both_ways(alice, bob, Duration::from_millis(100), start, stop);
    sim.run_until(Instant::from_secs(100));
    print_traffic_counts(out, &sim, alice, bob, &name)?;

    writeln!(out, "\n== rekey: alice initiated the session, so she renews it once it is 120 s old ==")?;
    sim.run_until(Instant::from_secs(140));
    print_handshakes(out, sim.wire().sent(), &name, Instant::from_secs(100), sim.now())?;

    writeln!(out, "\n== roam: at 140 s alice's NAT rebinds her to a new address ==")?;
    let new_addr: SocketAddr = "198.18.7.7:40000".parse().map_err(|_| fmt::Error)?;
    sim.set_node_addr(alice, new_addr);
    sim.run_until(Instant::from_secs(160));
    let roam = Instant::from_secs(140);
    if let Some(first) = sim.wire().sent_by(alice).find(|r| r.from == new_addr) {
        writeln!(out, "  [{:>9}] alice's next packet leaves from {}", format_time(first.time), first.from)?;
    }
    if let Some(r) = sim.wire().sent_by(bob).find(|r| r.to == new_addr) {
        writeln!(out, "  [{:>9}] bob authenticated it and now sends to {}", format_time(r.time), r.to)?;
    }
    // In flight when she moved (arrived to nobody) or sent before bob learned the new address.
    let in_flight = sim.wire().arrivals().iter().filter(|a| a.time >= roam && a.outcome == ArrivalOutcome::NoNode);
    let too_early = sim.wire().sent_by(bob).filter(|r| r.time >= roam && r.fate == WireFate::NoRoute);
    let stranded = in_flight.count() + too_early.count();
    writeln!(out, "  {stranded} of bob's packets went to her old address after she left (lost, as behind a real NAT)")?;

    writeln!(out, "\n== totals at {} ==", format_time(sim.now()))?;
    print_traffic_counts(out, &sim, alice, bob, &name)?;
    for n in [alice, bob] {
        let stats = sim.device(n).stats();
        let peer = if n == alice { bob } else { alice };
        let p = sim.peer_stats(n, peer);
        writeln!(
            out,
            "  {:<5} sessions derived {}, initiations sent {}, rx {} B, tx {} B, replays dropped {}",
            name(Some(n)),
            stats.sessions_derived,
            stats.initiations_sent,
            p.rx_bytes,
            p.tx_bytes,
            stats.drops(DropReason::Replay)
        )?;
    }
    writeln!(out, "  {} events simulated", sim.events_processed())
}

fn print_handshakes(
    out: &mut dyn Write,
    wire: &[WireRecord],
    name: &dyn Fn(Option<NodeId>) -> &'static str,
    from: Instant,
    to: Instant,
) -> fmt::Result {
    for r in wire.iter().filter(|r| r.time >= from && r.time <= to) {
        let what = match r.kind {
            Some(MessageType::Initiation) => "handshake initiation",
            Some(MessageType::Response) => "handshake response",
            Some(MessageType::CookieReply) => "cookie reply",
            _ => continue,
        };
        let fate = match r.fate {
            WireFate::Delivered { .. } => "",
            WireFate::Lost => "  -- lost on the link",
            _ => "  -- not delivered",
        };
        let (src, dst) = (name(r.from_node), name(r.to_node));
        writeln!(out, "  [{:>9}] {src:>5} -> {dst:<5} {what} ({} B){fate}", format_time(r.time), r.len)?;
    }
    Ok(())
}

fn print_traffic_counts(
    out: &mut dyn Write,
    sim: &Sim<Device>,
    alice: NodeId,
    bob: NodeId,
    name: &dyn Fn(Option<NodeId>) -> &'static str,
) -> fmt::Result {
    for (from, to) in [(alice, bob), (bob, alice)] {
        let r = sim.delivery_report(from, to);
        let lost = sim.wire().sent_by(from).filter(|w| w.is_data() && w.fate == WireFate::Lost).count();
        writeln!(
            out,
            "  {:>5} -> {:<5} sent {:>5}, delivered {:>5}, lost on the link {:>3}, duplicates {}, corrupted {}",
            name(Some(from)),
            name(Some(to)),
            r.sent,
            r.delivered,
            lost,
            r.duplicates,
            r.corrupted
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_story_covers_handshake_data_rekey_and_roam_and_is_reproducible() {
        let mut first = String::new();
        super::run(&mut first);
        for needle in [
            "alice -> bob   handshake initiation (148 B)",
            "bob -> alice handshake response (92 B)",
            "bob's TUN receives alice's first packet",
            "== rekey",
            "bob authenticated it and now sends to 198.18.7.7:40000",
            "duplicates 0, corrupted 0",
        ] {
            assert!(first.contains(needle), "missing {needle:?} in:\n{first}");
        }
        let rekey = first.split("== rekey").nth(1).unwrap().split("== roam").next().unwrap();
        assert!(rekey.contains("handshake initiation"), "no rekey shown:\n{first}");
        let mut second = String::new();
        super::run(&mut second);
        assert_eq!(first, second);
    }
}
