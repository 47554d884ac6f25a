//! Data both ways: every packet arrives once and intact on a clean network; on a lossy,
//! reordering, duplicating one the handshake still completes and nothing arrives twice.

mod common;

use core::time::Duration;

use braid_proto::{DropReason, Instant};
use braid_sim::{ArrivalOutcome, IpFamily, LinkModel, TrafficPattern, WireFate};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn clean_network_delivers_every_packet_both_ways_intact_over_v4_and_v6() {
    let (mut sim, a, b) = pair(10);
    let stop = Instant::from_secs(30);
    for (from, to, family, len) in [(a, b, IpFamily::V4, 200), (b, a, IpFamily::V4, 1000), (a, b, IpFamily::V6, 1300)] {
        let every = Duration::from_millis(20);
        sim.add_traffic(TrafficPattern { from, to, every, start: Instant::ZERO, stop, payload_len: len, family });
    }
    sim.run_until(Instant::from_secs(31));

    let ab = sim.delivery_report(a, b);
    let ba = sim.delivery_report(b, a);
    assert_eq!((ab.sent, ab.refused), (3000, 0), "{ab:?}");
    assert_eq!((ba.sent, ba.refused), (1500, 0), "{ba:?}");
    assert!(ab.is_perfect(), "a->b: {ab:?}\n{}", wire_dump(&sim));
    assert!(ba.is_perfect(), "b->a: {ba:?}\n{}", wire_dump(&sim));
    assert_eq!(ab.delivered, 3000);
    assert_eq!(ba.delivered, 1500);
    assert!(sim.tun_log(b).iter().chain(sim.tun_log(a)).all(|d| d.is_intact()));
    for node in [a, b] {
        assert_eq!(sim.device(node).stats().total_drops(), 0, "{node} dropped something on a clean network");
    }
    // Transport sizes: 32 bytes of overhead plus the IP packet padded to 16.
    for r in sim.wire().sent().iter().filter(|r| r.is_data()) {
        assert_eq!((r.len - 32) % 16, 0, "unpadded transport message: {r:?}");
    }
}

#[test]
fn lossy_reordering_duplicating_network_never_delivers_a_packet_twice() {
    let (mut sim, a, b) = pair(11);
    let link = LinkModel::clean(Duration::from_millis(20))
        .with_loss(0.10)
        .with_jitter(Duration::from_millis(30))
        .with_duplicate(0.05);
    sim.set_link_both(a, b, link);
    sim.add_traffic_both_ways(a, b, Duration::from_millis(5), Instant::ZERO, Instant::from_secs(60));
    sim.run_until(Instant::from_secs(61));

    for (from, to) in [(a, b), (b, a)] {
        let report = sim.delivery_report(from, to);
        assert_eq!(report.duplicates, 0, "{from}->{to}: a packet reached the TUN twice: {report:?}");
        assert_eq!(report.corrupted, 0, "{from}->{to}: {report:?}");
        // 10 % loss, plus what was queued while handshake messages were being lost.
        assert!(report.delivered * 10 >= report.sent * 8, "{from}->{to}: too little got through: {report:?}");
        assert!(sim.peer_stats(from, to).sessions > 0, "no session {from}->{to}");

        // Every transport message the link delivered was decrypted exactly once: the first
        // copy is accepted (reordering within the window is fine), a duplicate is a replay.
        let mut second_copies = 0;
        let mut data_arrivals = 0;
        for r in sim.wire().sent_by(from).filter(|r| r.kind == Some(MessageType::Transport)) {
            if let WireFate::Delivered { copies } = r.fate {
                second_copies += usize::from(copies) - 1;
                data_arrivals += usize::from(r.is_data());
            }
        }
        let outcomes: Vec<_> =
            sim.wire().arrivals_at(to).filter(|r| r.kind == Some(MessageType::Transport)).map(|r| &r.outcome).collect();
        let replays = outcomes.iter().filter(|o| ***o == ArrivalOutcome::Dropped(DropReason::Replay)).count();
        let other_drops: Vec<_> =
            outcomes.iter().filter(|o| matches!(o, ArrivalOutcome::Dropped(r) if *r != DropReason::Replay)).collect();
        assert!(second_copies > 50, "the link should have duplicated plenty: {second_copies}");
        assert_eq!(replays, second_copies, "{from}->{to}: duplicates vs replay drops");
        assert!(other_drops.is_empty(), "{from}->{to}: transport messages refused: {other_drops:?}");
        assert_eq!(sim.tun_log(to).len(), report.delivered, "{from}->{to}");
        assert!(data_arrivals >= report.delivered);
    }
}

#[test]
fn a_captured_transport_message_replayed_later_is_dropped() {
    let (mut sim, a, b) = established_pair(12);
    let data = sim.wire().sent_by(a).find(|r| r.is_data()).unwrap().clone();
    let before = sim.tun_log(b).len();
    let (from, to) = (data.from, data.to);
    let bytes = data.bytes.unwrap();
    let now = sim.now();
    sim.inject_datagram(now, from, to, &bytes);
    sim.inject_datagram(now + Duration::from_secs(2), "198.18.44.44:1".parse().unwrap(), to, &bytes);
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.tun_log(b).len(), before, "a replayed transport message reached the TUN");
    let injected: Vec<_> = sim
        .wire()
        .arrivals_at(b)
        .filter(|r| r.wire_index.is_some_and(|i| sim.wire().sent()[i].fate == WireFate::Injected))
        .collect();
    assert_eq!(injected.len(), 2);
    assert!(injected.iter().all(|r| r.outcome == ArrivalOutcome::Dropped(DropReason::Replay)), "{injected:?}");
    assert_eq!(
        sim.peer_stats(b, a).endpoint.map(|e| e.addr),
        Some(sim.node_addr(a)),
        "a replayed packet is not authenticated traffic: it must not move the endpoint"
    );
}

#[test]
fn a_peer_cannot_send_with_another_peers_source_address() {
    let mut sim = braid_sim::Sim::new(13);
    let a = sim.add_wg_node();
    let b = sim.add_wg_node();
    let c = sim.add_wg_node();
    sim.connect(a, b);
    sim.connect(c, b);
    sim.send_ip(a, b, b"legit").unwrap();
    sim.run_until(Instant::from_secs(1));
    assert_eq!(sim.tun_log(b).len(), 1);

    // a writes a packet claiming c's tunnel address as its source; a routes it to b by its
    // destination and encrypts it, but b must refuse it: c's address belongs to c.
    let mut spoofed = Vec::new();
    let (src, dst) = (IpFamily::V4.tunnel_addr(c), IpFamily::V4.tunnel_addr(b));
    braid_sim::ip_packet::build_udp_packet(src, dst, b"i am c", &mut spoofed).unwrap();
    assert_eq!(sim.inject_tun_packet(a, &spoofed), Ok(braid_sim::TunSend::Sent));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.tun_log(b).len(), 1, "the spoofed packet reached b's TUN");
    let last = sim.wire().arrivals_at(b).last().unwrap();
    assert_eq!(last.outcome, ArrivalOutcome::Dropped(DropReason::SourceNotAllowed));
}
