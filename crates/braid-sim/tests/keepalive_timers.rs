//! The idle-time timers: a new handshake 15 s after unanswered data, the passive keepalive
//! 10 s after received data, and the persistent keepalive while idle.

mod common;

use core::time::Duration;

use braid_proto::Instant;
use braid_sim::{ArrivalOutcome, IpFamily, LinkModel, PeeringOptions, Sim, TrafficPattern, TunSend};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn unanswered_data_starts_a_new_handshake_after_15s_plus_jitter() {
    let (mut sim, a, b) = established_pair(30);
    sim.run_until(Instant::from_secs(20)); // the keepalives of the first exchange are over
    sim.set_link(b, a, LinkModel::default().with_up(false)); // b goes silent
    assert_eq!(sim.send_ip(a, b, b"are you there?"), Ok(TunSend::Sent));
    sim.run_until(Instant::from_secs(25));
    // More data does not push the timer out: it is armed by the first unanswered packet.
    assert_eq!(sim.send_ip(a, b, b"hello??"), Ok(TunSend::Sent));
    sim.run_until(Instant::from_secs(40));

    let inits: Vec<Instant> = times(&sim, a, MessageType::Initiation).into_iter().skip(1).collect();
    assert_eq!(inits.len(), 1, "\n{}", wire_dump(&sim));
    let at = inits[0];
    assert!(
        at >= Instant::from_secs(35) && at <= Instant::from_secs(35) + JITTER_MAX,
        "new handshake at {at:?}, expected 15 s + jitter after the data sent at 20 s"
    );
    // b did receive both packets and tried to answer with a keepalive; the link ate it.
    assert_eq!(sim.tun_log(b).len(), 3);
}

#[test]
fn a_reply_in_time_prevents_the_new_handshake() {
    let (mut sim, a, b) = established_pair(31);
    sim.run_until(Instant::from_secs(20));
    sim.send_ip(a, b, b"ping").unwrap();
    sim.run_until(Instant::from_secs(60));
    // b's passive keepalive (at 30.01 s) counts as an answer.
    assert_eq!(times(&sim, a, MessageType::Initiation).len(), 1, "\n{}", wire_dump(&sim));
}

#[test]
fn receiving_data_and_sending_nothing_sends_one_32_byte_keepalive_after_10s() {
    let (mut sim, a, b) = established_pair(32);
    sim.run_until(Instant::from_secs(20));
    sim.send_ip(a, b, b"one-way").unwrap(); // reaches b at 20.010 s
    sim.run_until(Instant::from_secs(40));
    let from_b = sent_between(&sim, b, Instant::from_secs(20), Instant::from_secs(40));
    assert_eq!(from_b.len(), 1, "\n{}", wire_dump(&sim));
    assert!(from_b[0].is_keepalive() && from_b[0].len == 32);
    assert_eq!(from_b[0].time, Instant::from_millis(30_010), "keepalive 10 s after the data arrived");

    // When b answers with data of its own within 10 s, no keepalive is needed.
    sim.send_ip(a, b, b"ping").unwrap(); // arrives 40.010 s
    sim.run_until(Instant::from_secs(45));
    sim.send_ip(b, a, b"pong").unwrap();
    sim.run_until(Instant::from_secs(70));
    let from_b = sent_between(&sim, b, Instant::from_secs(40), Instant::from_secs(70));
    assert_eq!(from_b.len(), 1, "\n{}", wire_dump(&sim));
    assert!(from_b[0].is_data());
    // ...and a, having received data, acknowledges it 10 s later.
    let from_a = sent_between(&sim, a, Instant::from_secs(41), Instant::from_secs(70));
    assert_eq!(from_a.iter().map(|r| (r.time, r.len)).collect::<Vec<_>>(), vec![(Instant::from_millis(55_010), 32)]);
}

/// Times at which `node` sent or successfully received an authenticated message (handshake
/// or transport): each one restarts the persistent keepalive timer.
fn authenticated_traversals(sim: &Sim<braid_proto::Device>, node: braid_sim::NodeId) -> Vec<Instant> {
    let authenticated = |k: Option<MessageType>| k.is_some() && k != Some(MessageType::CookieReply);
    let mut t: Vec<Instant> = sim.wire().sent_by(node).filter(|r| authenticated(r.kind)).map(|r| r.time).collect();
    t.extend(
        sim.wire()
            .arrivals_at(node)
            .filter(|r| authenticated(r.kind) && !matches!(r.outcome, ArrivalOutcome::Dropped(_)))
            .map(|r| r.time),
    );
    t.sort();
    t
}

#[test]
fn persistent_keepalive_goes_out_every_interval_while_idle_and_not_during_traffic() {
    let mut sim = Sim::new(33);
    let a = sim.add_wg_node();
    let b = sim.add_wg_node();
    let interval = Duration::from_secs(25);
    sim.connect_with(a, b, PeeringOptions { a_keepalive: Some(interval), ..PeeringOptions::default() });
    sim.send_ip(a, b, b"open the tunnel").unwrap();
    sim.run_until(Instant::from_secs(100));

    let keepalives = |sim: &Sim<braid_proto::Device>| -> Vec<Instant> {
        sim.wire().sent_by(a).filter(|r| r.is_keepalive()).map(|r| r.time).collect()
    };
    // The last authenticated packet a saw was b's passive keepalive (b received data at
    // 30 ms, answered at 10.03 s, a received it at 10.04 s): then one every 25 s.
    let expected: Vec<Instant> = [35_040, 60_040, 85_040].map(Instant::from_millis).to_vec();
    assert_eq!(keepalives(&sim), expected, "\n{}", wire_dump(&sim));
    assert!(sent_between(&sim, b, Instant::from_secs(11), Instant::from_secs(100)).is_empty(), "b stays quiet");

    // a sends data every second for 100 s, then idles again.
    sim.add_traffic(TrafficPattern {
        from: a,
        to: b,
        every: Duration::from_secs(1),
        start: Instant::from_secs(100),
        stop: Instant::from_secs(200),
        payload_len: 50,
        family: IpFamily::V4,
    });
    sim.run_until(Instant::from_secs(400));

    // Every keepalive a sends is either the confirmation of a handshake it initiated (sent
    // the instant the response arrives) or a persistent keepalive exactly one interval after
    // the last authenticated packet in either direction; idle stretches never exceed it.
    let traversals = authenticated_traversals(&sim, a);
    let responses: Vec<Instant> =
        sim.wire().arrivals_at(a).filter(|r| r.kind == Some(MessageType::Response)).map(|r| r.time).collect();
    let mut persistent = 0;
    for k in keepalives(&sim) {
        if responses.contains(&k) {
            continue;
        }
        persistent += 1;
        let previous = traversals.iter().rev().find(|t| **t < k).copied().unwrap();
        assert_eq!(k - previous, interval, "keepalive at {k:?}, last traversal at {previous:?}");
        assert!(
            k < Instant::from_secs(100) || k > Instant::from_secs(200),
            "persistent keepalive during traffic: {k:?}"
        );
    }
    assert!(persistent >= 9, "{persistent} persistent keepalives in 400 s with 200 s idle");
    for w in traversals.windows(2) {
        assert!(w[1] - w[0] <= interval, "silence from {:?} to {:?}", w[0], w[1]);
    }
}
