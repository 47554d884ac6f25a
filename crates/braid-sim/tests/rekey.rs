//! Session lifetime: the initiator rekeys at 120 s without losing a packet, nothing is
//! sent or accepted on a session older than 180 s, and keys are erased after 540 s.

mod common;

use core::time::Duration;

use braid_proto::{DropReason, Instant};
use braid_sim::{ArrivalOutcome, IpFamily, TrafficPattern, TunSend, WireFate};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn initiator_rekeys_every_120s_under_continuous_traffic_without_losing_a_packet() {
    let (mut sim, a, b) = pair(20);
    let every = Duration::from_millis(100);
    let stop = Instant::from_secs(400);
    let payload_len = 100;
    let family = IpFamily::V4;
    // a starts (and so is the initiator); b joins a second later.
    sim.add_traffic(TrafficPattern { from: a, to: b, every, start: Instant::ZERO, stop, payload_len, family });
    sim.add_traffic(TrafficPattern { from: b, to: a, every, start: Instant::from_secs(1), stop, payload_len, family });
    sim.run_until(Instant::from_secs(401));

    // a's first session starts when the response arrives (20 ms); the first packet a sends
    // on a session at least 120 s old triggers the rekey: the tick at 120.1 s. The next
    // session is born 20 ms later, so the next rekey is at the tick at 240.2 s, then 360.3 s.
    let inits = times(&sim, a, MessageType::Initiation);
    let expected: Vec<Instant> = [0, 120_100, 240_200, 360_300].map(Instant::from_millis).to_vec();
    assert_eq!(inits, expected, "\n{}", wire_dump(&sim));
    assert!(times(&sim, b, MessageType::Initiation).is_empty(), "the responder never rekeys on time");
    assert_eq!(times(&sim, b, MessageType::Response).len(), 4);

    for (from, to) in [(a, b), (b, a)] {
        let report = sim.delivery_report(from, to);
        assert!(report.is_perfect(), "{from}->{to}: {report:?}");
        assert_eq!(report.refused, 0);
        assert_eq!(report.delivered, report.sent);
    }
    assert_eq!(sim.device(a).stats().total_drops(), 0);
    assert_eq!(sim.device(b).stats().total_drops(), 0);
}

/// a handshakes and sends one packet at t = 0; its second packet (sent at 1 s) is held back
/// by the test and injected at b at `inject_at`. Nothing else happens in between: b's
/// passive keepalive at 10 s is the last packet. Returns what b did with the late packet.
fn deliver_held_packet_at(inject_at: Instant) -> ArrivalOutcome<DropReason> {
    let (mut sim, a, b) = pair(21);
    sim.send_ip(a, b, b"first").unwrap();
    sim.run_until(Instant::from_secs(1));
    let held = std::rc::Rc::new(std::cell::RefCell::new(None));
    let sink = held.clone();
    sim.set_wire_filter(Some(Box::new(move |r, bytes| {
        *sink.borrow_mut() = Some(bytes.to_vec());
        r.is_data()
    })));
    assert_eq!(sim.send_ip(a, b, b"held back"), Ok(TunSend::Sent));
    sim.set_wire_filter(None);
    let bytes = held.borrow().clone().expect("the packet was captured");

    sim.run_until(inject_at);
    let quiet_since = Instant::from_secs(11);
    assert_eq!(sim.wire().sent().iter().filter(|r| r.time > quiet_since).count(), 0, "\n{}", wire_dump(&sim));
    let (addr_a, addr_b) = (sim.node_addr(a), sim.node_addr(b));
    sim.inject_datagram(inject_at, addr_a, addr_b, &bytes);
    sim.run_for(Duration::from_millis(1));
    sim.wire().arrivals_at(b).last().unwrap().outcome.clone()
}

#[test]
fn a_session_older_than_180s_is_refused_for_receiving() {
    // b derived the session at 10 ms: the same never-seen message decrypts at 179.5 s...
    assert_eq!(deliver_held_packet_at(Instant::from_millis(179_500)), ArrivalOutcome::ToTun { len: 37 });
    // ...and is refused at 180.5 s.
    assert_eq!(
        deliver_held_packet_at(Instant::from_millis(180_500)),
        ArrivalOutcome::Dropped(DropReason::SessionExpired)
    );
}

#[test]
fn initiator_does_not_send_on_a_session_older_than_180s_but_handshakes_again() {
    let (mut sim, a, b) = established_pair(22);
    sim.run_until(Instant::from_secs(200));
    let sent_before = sim.wire().sent().len();
    assert_eq!(sim.send_ip(a, b, b"after a long silence"), Ok(TunSend::Queued));
    sim.run_for(Duration::from_secs(1));
    let after: Vec<_> = sim.wire().sent()[sent_before..].iter().map(|r| (r.from_node, r.kind)).collect();
    assert_eq!(after[0], (Some(a), Some(MessageType::Initiation)), "\n{}", wire_dump(&sim));
    assert_eq!(after[1], (Some(b), Some(MessageType::Response)));
    assert_eq!(after[2], (Some(a), Some(MessageType::Transport)));
    assert_eq!(sim.tun_log(b).len(), 2);
}

#[test]
fn keys_are_erased_540s_after_the_last_session_was_derived() {
    let (mut sim, a, b) = established_pair(23);
    sim.run_until(Instant::from_secs(530));
    // Nothing but a's passive keepalive 10 s after b's answer (b answered a's data itself).
    let kinds: Vec<_> = sim.wire().sent().iter().filter(|r| r.time > Instant::from_secs(1)).collect();
    assert!(kinds.iter().all(|r| r.is_keepalive()), "\n{}", wire_dump(&sim));
    assert_eq!(kinds.len(), 1, "\n{}", wire_dump(&sim));

    sim.run_until(Instant::from_millis(540_500));
    for (at, of) in [(a, b), (b, a)] {
        let stats = sim.peer_stats(at, of);
        assert_eq!(stats.sessions, 0, "{at} still holds keys for {of}: {stats:?}");
        assert!(!stats.handshake_in_progress, "{stats:?}");
        assert_eq!(stats.staged_packets, 0);
    }
    assert!(sim.wire().sent().iter().all(|r| r.time < Instant::from_secs(20)), "erasing keys sends nothing");

    // The peers still work: new data simply handshakes again.
    sim.send_ip(b, a, b"hello again").unwrap();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.tun_log(a).len(), 2);
    assert!(sim.wire().sent().iter().rev().take(3).all(|r| r.fate == WireFate::Delivered { copies: 1 }));
}
