//! The handshake on the wire: the first exchange, the responder's wait for confirmation,
//! replayed initiations, and retries of an initiation that gets no answer.

mod common;

use core::time::Duration;

use braid_proto::{DropReason, Instant};
use braid_sim::{ArrivalOutcome, LinkModel, TunSend};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn first_handshake_is_one_initiation_one_response_then_data() {
    let (mut sim, a, b) = pair(1);
    assert_eq!(sim.send_ip(a, b, b"hello"), Ok(TunSend::Queued), "no session yet: the packet waits");
    sim.run_until(Instant::from_secs(1));

    let wire: Vec<_> = sim.wire().sent().iter().map(|r| (r.time, r.from_node, r.kind, r.len)).collect();
    let ms = Instant::from_millis;
    // "hello" in UDP in IPv4 is 33 bytes, padded to 48, plus the 32-byte transport overhead.
    let expected = vec![
        (ms(0), Some(a), Some(MessageType::Initiation), 148),
        (ms(10), Some(b), Some(MessageType::Response), 92),
        (ms(20), Some(a), Some(MessageType::Transport), 80),
    ];
    assert_eq!(wire, expected, "\n{}", wire_dump(&sim));

    let tun = sim.tun_log(b);
    assert_eq!(tun.len(), 1);
    assert_eq!(tun[0].time, ms(30));
    assert!(tun[0].is_intact());
    let expected_packet = sim.tun_log(b)[0].packet.clone().unwrap();
    assert_eq!(&expected_packet[28..], b"hello");

    let unix = sim.config().unix_time_at_start;
    let at_a = sim.peer_stats(a, b);
    let at_b = sim.peer_stats(b, a);
    assert_eq!(at_a.last_handshake, Some(unix + Duration::from_millis(20)), "initiator: when the response arrived");
    assert_eq!(at_b.last_handshake, Some(unix + Duration::from_millis(30)), "responder: when data confirmed it");
    assert_eq!((at_a.tx_bytes, at_a.rx_bytes), (148 + 80, 92), "UDP payload bytes, handshakes included");
    assert_eq!((at_b.tx_bytes, at_b.rx_bytes), (92, 148 + 80));
    assert!(!at_a.handshake_in_progress);
    assert_eq!(at_a.sessions, 1);
    assert_eq!(at_b.sessions, 1);
}

#[test]
fn responder_holds_its_data_until_the_initiator_confirms_the_session() {
    let (mut sim, a, b) = pair(2);
    sim.send_ip(a, b, b"hello").unwrap();
    sim.run_until(Instant::from_millis(10)); // b has just answered
    assert_eq!(times(&sim, b, MessageType::Response), vec![Instant::from_millis(10)]);
    assert_eq!(
        sim.send_ip(b, a, b"too early"),
        Ok(TunSend::Queued),
        "the responder must not send on an unconfirmed session"
    );
    sim.run_until(Instant::from_secs(1));

    // The queued packet must not trigger an initiation of b's own either: the kernel and
    // wireguard-go count the response just sent as b's last handshake (last_sent_handshake)
    // and send no initiation within Rekey-Timeout of it.
    let from_b: Vec<_> = sim.wire().sent_by(b).map(|r| (r.time, r.kind)).collect();
    assert_eq!(
        from_b,
        vec![
            (Instant::from_millis(10), Some(MessageType::Response)),
            (Instant::from_millis(30), Some(MessageType::Transport)), // right after a's data confirmed it
        ],
        "\n{}",
        wire_dump(&sim)
    );
    assert_eq!(sim.tun_log(a).len(), 1);
    assert_eq!(sim.tun_log(a)[0].time, Instant::from_millis(40));
    assert!(sim.delivery_report(b, a).is_perfect());
}

#[test]
fn a_replayed_initiation_is_rejected_and_answered_with_nothing() {
    let (mut sim, a, b) = established_pair(3);
    let initiation = sim.wire().sent_of_kind(a, MessageType::Initiation).next().unwrap().bytes.clone().unwrap();
    let responses_before = times(&sim, b, MessageType::Response).len();
    let addr_a = sim.node_addr(a);
    let addr_b = sim.node_addr(b);
    let elsewhere = "198.18.9.9:51820".parse().unwrap();
    let now = sim.now();
    sim.inject_datagram(now, addr_a, addr_b, &initiation);
    sim.inject_datagram(now + Duration::from_secs(3), elsewhere, addr_b, &initiation);
    sim.run_for(Duration::from_secs(5));

    let injected: Vec<_> =
        sim.wire().arrivals_at(b).filter(|r| r.kind == Some(MessageType::Initiation)).skip(1).collect();
    assert_eq!(injected.len(), 2);
    for arrival in injected {
        assert_eq!(arrival.outcome, ArrivalOutcome::Dropped(DropReason::TimestampReplay), "{arrival:?}");
    }
    assert_eq!(times(&sim, b, MessageType::Response).len(), responses_before, "no response to a replay");
    assert_eq!(sim.device(b).stats().drops(DropReason::TimestampReplay), 2);
    assert_eq!(sim.peer_stats(b, a).endpoint.map(|e| e.addr), Some(addr_a), "a replay must not move the endpoint");

    // The real session is untouched.
    sim.send_ip(a, b, b"still here").unwrap();
    sim.send_ip(b, a, b"me too").unwrap();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.tun_log(b).len(), 2);
    assert_eq!(sim.tun_log(a).len(), 2);
}

#[test]
fn an_unanswered_initiation_is_retried_every_5s_plus_jitter_then_abandoned() {
    let (mut sim, a, b) = pair(4);
    sim.set_link(a, b, LinkModel::default().with_up(false));
    assert_eq!(sim.send_ip(a, b, b"anyone?"), Ok(TunSend::Queued));
    sim.run_until(Instant::from_secs(300));

    let inits = times(&sim, a, MessageType::Initiation);
    // As the kernel and wireguard-go: the first initiation, then a retry on each of 19
    // expiries of the 5 s timer (attempts 0..=MAX_TIMER_HANDSHAKES = 90 s / 5 s = 18);
    // the 20th expiry gives up.
    assert_eq!(inits.len(), 20, "\n{}", wire_dump(&sim));
    assert_eq!(inits[0], Instant::ZERO);
    let gaps: Vec<Duration> = inits.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        assert!(
            *gap >= Duration::from_secs(5) && *gap <= Duration::from_secs(5) + JITTER_MAX,
            "retry {} came {gap:?} after the previous one",
            i + 1
        );
    }
    let mut distinct = gaps.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 15, "jitter must vary between retries: {gaps:?}");
    let spread = *distinct.last().unwrap() - distinct[0];
    assert!(spread >= Duration::from_millis(100), "jitter barely varies: {gaps:?}");
    let last = *inits.last().unwrap();
    assert!(last < Instant::from_secs(90) + (Duration::from_secs(5) + JITTER_MAX) * 2, "kept retrying: {last:?}");

    let stats = sim.peer_stats(a, b);
    assert!(!stats.handshake_in_progress, "{stats:?}");
    assert_eq!(stats.staged_packets, 0, "packets waiting for the abandoned handshake are dropped");
    assert!(sim.wire().sent_by(a).all(|r| r.kind == Some(MessageType::Initiation)));

    // New data after giving up starts a fresh handshake at once.
    sim.set_link(a, b, LinkModel::default());
    assert_eq!(sim.send_ip(a, b, b"again"), Ok(TunSend::Queued));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(times(&sim, a, MessageType::Initiation).last(), Some(&Instant::from_secs(300)));
    assert_eq!(sim.tun_log(b).len(), 1, "the new handshake completes and the new packet arrives");
}
