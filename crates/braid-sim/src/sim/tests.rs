//! The simulator's own behaviour, checked with [`EchoDevice`] whose every reaction is known.

use core::time::Duration;

use braid_proto::Instant;
use braid_wire::wg::MessageType;

use super::test_device::EchoDevice;
use super::{Sim, SimConfig, SimError, TrafficPattern, TunSend};
use crate::link::LinkModel;
use crate::node::{IpFamily, NodeId};
use crate::wire_log::{ArrivalOutcome, WireFate};

/// Two echo devices that know each other's address, over clean 10 ms links.
fn pair(seed: u64) -> (Sim<EchoDevice>, NodeId, NodeId) {
    let mut sim = Sim::with_config(SimConfig::new(seed));
    let a = sim.add_node_with(EchoDevice::new);
    let b = sim.add_node_with(EchoDevice::new);
    let (addr_a, addr_b) = (sim.node_addr(a), sim.node_addr(b));
    sim.with_device(a, |d, _| d.peer = Some(addr_b));
    sim.with_device(b, |d, _| d.peer = Some(addr_a));
    (sim, a, b)
}

#[test]
fn clean_link_delivers_intact_packets_in_order_after_the_delay() {
    let (mut sim, a, b) = pair(1);
    for i in 0..50u64 {
        sim.run_until(Instant::from_millis(i));
        let (_, r) = sim.send_tagged(a, b, if i % 2 == 0 { IpFamily::V4 } else { IpFamily::V6 }, 100);
        assert_eq!(r, Ok(TunSend::Sent));
    }
    sim.run_for(Duration::from_secs(1));
    let tun = sim.tun_log(b);
    assert_eq!(tun.len(), 50);
    for (i, d) in tun.iter().enumerate() {
        assert_eq!(d.time, Instant::from_millis(i as u64 + 10), "delivery {i}");
        assert!(d.is_intact(), "delivery {i}: {d:?}");
    }
    let report = sim.delivery_report(a, b);
    assert!(report.is_perfect() && report.delivered == 50, "{report:?}");
    assert!(sim.wire().sent().iter().all(|r| r.fate == WireFate::Delivered { copies: 1 }));
}

#[test]
fn timer_fires_exactly_at_each_deadline_and_only_once() {
    let (mut sim, a, _) = pair(2);
    sim.with_device(a, |d, now| d.start_beat(now, Duration::from_millis(1500)));
    sim.run_until(Instant::from_secs(10));
    let expected: Vec<Instant> = (1..=6).map(|k| Instant::from_millis(1500 * k)).collect();
    assert_eq!(sim.device(a).ticks, expected);
    let beats: Vec<Instant> = sim.wire().times_of(a, MessageType::Transport);
    assert_eq!(beats, expected);
}

#[test]
fn rearming_to_an_earlier_deadline_supersedes_the_old_event() {
    let (mut sim, a, _) = pair(3);
    sim.with_device(a, |d, now| d.start_beat(now, Duration::from_secs(5)));
    sim.run_until(Instant::from_secs(1));
    // Pull the deadline in: the 5 s event must become stale, the 2 s one must fire.
    sim.with_device(a, |d, _| d.next_beat = Some(Instant::from_secs(2)));
    sim.run_until(Instant::from_secs(6));
    assert_eq!(sim.device(a).ticks, vec![Instant::from_secs(2)]);
    // And pushing it out leaves no stray tick at the old time.
    sim.with_device(a, |d, _| d.next_beat = Some(Instant::from_secs(30)));
    sim.run_until(Instant::from_secs(29));
    assert_eq!(sim.device(a).ticks, vec![Instant::from_secs(2)]);
}

#[test]
fn lossy_jittery_duplicating_link_loses_reorders_and_duplicates() {
    let (mut sim, a, b) = pair(4);
    let link = LinkModel::clean(Duration::from_millis(20))
        .with_jitter(Duration::from_millis(15))
        .with_loss(0.1)
        .with_duplicate(0.1);
    sim.set_link(a, b, link);
    sim.add_traffic(TrafficPattern {
        from: a,
        to: b,
        every: Duration::from_millis(1),
        start: Instant::ZERO,
        stop: Instant::from_secs(2),
        payload_len: 64,
        family: IpFamily::V4,
    });
    sim.run_until(Instant::from_secs(3));
    let sent = sim.wire().sent_by(a).count();
    assert_eq!(sent, 2000);
    let lost = sim.wire().sent_by(a).filter(|r| r.fate == WireFate::Lost).count();
    let copies: usize = sim
        .wire()
        .sent_by(a)
        .map(|r| match r.fate {
            WireFate::Delivered { copies } => usize::from(copies),
            _ => 0,
        })
        .sum();
    assert!((150..250).contains(&lost), "lost {lost} of 2000");
    assert_eq!(sim.tun_log(b).len(), copies, "every scheduled copy arrives");
    let report = sim.delivery_report(a, b);
    assert_eq!(report.missing.len(), lost);
    assert!(report.duplicates > 100, "{report:?}");
    let seqs: Vec<u64> = sim
        .tun_log(b)
        .iter()
        .filter_map(|d| match d.payload {
            crate::app_payload::PayloadCheck::Intact(t) => Some(t.seq),
            _ => None,
        })
        .collect();
    assert!(seqs.windows(2).any(|w| w[1] < w[0]), "jitter must reorder");
}

#[test]
fn down_link_and_unowned_addresses_deliver_nothing() {
    let (mut sim, a, b) = pair(5);
    sim.set_link(a, b, LinkModel::default().with_up(false));
    assert_eq!(sim.send_ip(a, b, b"x"), Ok(TunSend::Sent));
    sim.with_device(a, |d, _| d.peer = Some("203.0.113.9:1".parse().unwrap()));
    assert_eq!(sim.send_ip(a, b, b"y"), Ok(TunSend::Sent));
    sim.run_for(Duration::from_secs(1));
    let fates: Vec<WireFate> = sim.wire().sent().iter().map(|r| r.fate).collect();
    assert_eq!(fates, vec![WireFate::LinkDown, WireFate::NoRoute]);
    assert!(sim.tun_log(b).is_empty());
}

#[test]
fn roaming_changes_the_source_address_and_strands_datagrams_to_the_old_one() {
    let (mut sim, a, b) = pair(6);
    let old = sim.node_addr(a);
    let new = "198.18.7.7:4000".parse().unwrap();
    // b sends towards a's old address; a moves while it is in flight.
    assert_eq!(sim.send_ip(b, a, b"in flight"), Ok(TunSend::Sent));
    sim.set_node_addr(a, new);
    sim.run_for(Duration::from_secs(1));
    assert!(sim.tun_log(a).is_empty());
    assert_eq!(sim.wire().arrivals().last().map(|r| r.outcome.clone()), Some(ArrivalOutcome::NoNode));
    // a's next datagram leaves from the new address, and the echo device at b follows it.
    assert_eq!(sim.send_ip(a, b, b"hello from new"), Ok(TunSend::Sent));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.wire().sent().last().map(|r| r.from), Some(new));
    assert_eq!(sim.device(b).peer, Some(new));
    assert_eq!(sim.owner_of(new), Some(a));
    assert_eq!(sim.owner_of(old), None);
}

#[test]
fn injected_datagrams_arrive_from_the_forged_source_and_filters_remove_chosen_ones() {
    let (mut sim, a, b) = pair(7);
    let forged = "192.0.2.1:9".parse().unwrap();
    sim.inject_datagram(Instant::from_secs(2), forged, sim.node_addr(b), &[1, 0, 0, 0]);
    sim.set_wire_filter(Some(Box::new(|r, _| r.kind == Some(MessageType::Response))));
    sim.run_until(Instant::from_secs(3));
    let arrival = &sim.wire().arrivals()[0];
    assert_eq!((arrival.time, arrival.from, arrival.node), (Instant::from_secs(2), forged, Some(b)));
    let response = sim.wire().sent_by(b).next().expect("b answered the injected initiation");
    assert_eq!(response.fate, WireFate::Filtered);
    assert!(sim.wire().arrivals_at(a).next().is_none());
}

#[test]
fn a_deadline_stuck_in_the_past_fails_loudly() {
    let (mut sim, a, _) = pair(8);
    sim.with_device(a, |d, _| d.stuck_deadline = true);
    let err = sim.try_run_until(Instant::from_secs(1)).unwrap_err();
    assert!(matches!(err, SimError::TimerSpin { node, .. } if node == a), "{err}");
}

#[test]
fn endless_transmits_fail_loudly() {
    let (mut sim, a, b) = pair(9);
    sim.with_device(a, |d, now| {
        d.endless_transmit = true;
        d.start_beat(now, Duration::from_secs(1));
    });
    let err = sim.try_run_until(Instant::from_secs(2)).unwrap_err();
    assert!(matches!(err, SimError::TransmitFlood { node, .. } if node == a), "{err}");
    let _ = b;
}

#[test]
fn the_event_budget_stops_a_runaway_simulation() {
    let mut config = SimConfig::new(10);
    config.max_events_per_run = 100;
    let mut sim: Sim<EchoDevice> = Sim::with_config(config);
    let a = sim.add_node_with(EchoDevice::new);
    sim.with_device(a, |d, now| d.start_beat(now, Duration::from_millis(1)));
    let err = sim.try_run_until(Instant::from_secs(1)).unwrap_err();
    assert!(matches!(err, SimError::EventBudgetExhausted { limit: 100, .. }), "{err}");
}

#[test]
fn traffic_pattern_sends_on_its_beat_within_its_window() {
    let (mut sim, a, b) = pair(11);
    sim.add_traffic(TrafficPattern {
        from: a,
        to: b,
        every: Duration::from_millis(250),
        start: Instant::from_secs(1),
        stop: Instant::from_secs(2),
        payload_len: 40,
        family: IpFamily::V6,
    });
    sim.run_until(Instant::from_secs(5));
    let times: Vec<Instant> = sim.app_log().iter().map(|r| r.time).collect();
    let expected: Vec<Instant> = [1000, 1250, 1500, 1750].map(Instant::from_millis).to_vec();
    assert_eq!(times, expected);
    assert!(sim.app_log().iter().all(|r| r.family == IpFamily::V6 && r.len == 40 + 48));
    assert!(sim.delivery_report(a, b).is_perfect());
}

/// A run's complete observable trace: wire records and TUN deliveries.
type Trace = (Vec<String>, Vec<(Instant, Option<Vec<u8>>)>);

fn trace(seed: u64) -> Trace {
    let (mut sim, a, b) = pair(seed);
    let link = LinkModel::clean(Duration::from_millis(5)).with_jitter(Duration::from_millis(9)).with_loss(0.2);
    sim.set_link_both(a, b, link.with_duplicate(0.3));
    sim.with_device(a, |d, now| d.start_beat(now, Duration::from_millis(700)));
    sim.with_device(b, |d, now| d.start_beat(now, Duration::from_millis(300)));
    sim.add_traffic_both_ways(a, b, Duration::from_millis(3), Instant::ZERO, Instant::from_secs(5));
    sim.run_until(Instant::from_secs(6));
    let wire = sim.wire().sent().iter().map(|r| format!("{r:?}")).collect();
    let tun = sim.tun_log(b).iter().map(|d| (d.time, d.packet.clone())).collect();
    (wire, tun)
}

#[test]
fn same_seed_same_run_and_different_seed_different_run() {
    let first = trace(42);
    assert!(first.0.len() > 3000);
    assert_eq!(first, trace(42));
    assert_ne!(first, trace(43));
}
