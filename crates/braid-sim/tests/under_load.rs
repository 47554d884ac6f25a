//! Handshakes under load: cookie replies instead of responses, the retry with mac2, and a
//! flood of replayed initiations that turns cookies on for everyone.

mod common;

use core::time::Duration;

use braid_proto::{DeviceConfig, DropReason, Instant};
use braid_sim::{ArrivalOutcome, Sim, TunSend};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn under_reported_load_an_initiation_gets_a_cookie_and_the_retry_with_mac2_completes() {
    let (mut sim, a, b) = pair(40);
    keep_under_load(&mut sim, b, Instant::ZERO);
    assert_eq!(sim.send_ip(a, b, b"knock knock"), Ok(TunSend::Queued));
    keep_under_load(&mut sim, b, Instant::from_secs(12));
    assert!(sim.device(b).is_under_load(sim.now()));

    let inits: Vec<_> = sim.wire().sent_of_kind(a, MessageType::Initiation).cloned().collect();
    let from_b: Vec<_> = sim.wire().sent_by(b).map(|r| (r.time, r.kind, r.len, r.to)).collect();
    assert_eq!(inits.len(), 2, "\n{}", wire_dump(&sim));
    assert_eq!(mac2(&inits[0]), [0; 16], "no cookie yet: mac2 is zero");
    assert_ne!(mac2(&inits[1]), [0; 16], "the retry carries mac2 from the cookie");
    let retry = inits[1].time;
    assert!(retry >= Instant::from_secs(5) && retry <= Instant::from_secs(5) + JITTER_MAX, "retry at {retry:?}");
    let addr_a = sim.node_addr(a);
    assert_eq!(
        from_b,
        vec![
            (Instant::from_millis(10), Some(MessageType::CookieReply), 64, addr_a),
            (retry + DELAY, Some(MessageType::Response), 92, addr_a),
        ],
        "\n{}",
        wire_dump(&sim)
    );
    assert_eq!(sim.device(b).stats().cookie_replies_sent, 1);
    assert_eq!(sim.tun_log(b).len(), 1, "the handshake completed and the staged packet arrived");
    assert_eq!(sim.tun_log(b)[0].time, retry + DELAY * 3);
}

#[test]
fn a_flood_of_replayed_initiations_turns_on_cookies_and_a_real_peer_still_gets_through() {
    let mut sim = Sim::new(41);
    let a = sim.add_wg_node();
    let b = sim.add_wg_node_with(DeviceConfig { handshake_load_threshold: 10, ..DeviceConfig::default() });
    let c = sim.add_wg_node();
    sim.connect(a, b);
    sim.connect(c, b);
    sim.send_ip(a, b, b"hi").unwrap();
    sim.run_until(Instant::from_secs(1));
    let captured = sim.wire().sent_of_kind(a, MessageType::Initiation).next().unwrap().bytes.clone().unwrap();

    // An attacker replays a's initiation 100 times a second from its own address.
    let attacker = "198.18.66.66:51820".parse().unwrap();
    let addr_b = sim.node_addr(b);
    for i in 0..2_000u64 {
        sim.inject_datagram(Instant::from_millis(2_000 + 10 * i), attacker, addr_b, &captured);
    }
    sim.run_until(Instant::from_secs(3));
    assert!(sim.device(b).is_under_load(sim.now()), "more than 10 handshakes per second is load");

    // c starts a handshake in the middle of the flood.
    sim.send_ip(c, b, b"let me in").unwrap();
    sim.run_until(Instant::from_secs(15));
    let addr_c = sim.node_addr(c);
    let to_c: Vec<_> = sim.wire().sent_by(b).filter(|r| r.to == addr_c).map(|r| (r.kind, r.len)).collect();
    assert_eq!(
        to_c[..2],
        [(Some(MessageType::CookieReply), 64), (Some(MessageType::Response), 92)],
        "\n{}",
        wire_dump(&sim)
    );
    let c_inits: Vec<_> = sim.wire().sent_of_kind(c, MessageType::Initiation).cloned().collect();
    assert_eq!(c_inits.len(), 2);
    assert_ne!(mac2(&c_inits[1]), [0; 16]);
    assert_eq!(sim.tun_log(b).iter().filter(|d| d.time > Instant::from_secs(3)).count(), 1, "c's packet arrived");

    // The replays never produced a response; under load they cost b only a cookie reply
    // each (to the attacker), before load a timestamp check.
    let to_attacker: Vec<_> = sim.wire().sent_by(b).filter(|r| r.to == attacker).collect();
    assert!(!to_attacker.is_empty());
    assert!(to_attacker.iter().all(|r| r.kind == Some(MessageType::CookieReply) && r.len == 64));
    let replay_outcomes: Vec<_> =
        sim.wire().arrivals_at(b).filter(|r| r.from == attacker).map(|r| r.outcome.clone()).collect();
    assert_eq!(replay_outcomes.len(), 1_301, "one every 10 ms from 2 s to 15 s inclusive");
    assert!(
        replay_outcomes.iter().all(|o| matches!(
            o,
            ArrivalOutcome::Consumed | ArrivalOutcome::Dropped(DropReason::TimestampReplay | DropReason::RateLimited)
        )),
        "{:?}",
        replay_outcomes.iter().find(|o| !matches!(o, ArrivalOutcome::Consumed))
    );
    assert_eq!(sim.peer_stats(b, a).endpoint.map(|e| e.addr), Some(sim.node_addr(a)), "replays never move a");
}

#[test]
fn under_load_mac2_is_bound_to_source_ip_and_port_and_each_source_is_rate_limited() {
    let (mut sim, a, b) = pair(42);
    keep_under_load(&mut sim, b, Instant::ZERO);
    sim.send_ip(a, b, b"knock knock").unwrap();
    keep_under_load(&mut sim, b, Instant::from_secs(7));
    let with_mac2 = sim.wire().sent_of_kind(a, MessageType::Initiation).nth(1).unwrap().clone();
    assert_ne!(mac2(&with_mac2), [0; 16]);
    assert_eq!(sim.tun_log(b).len(), 1);
    let bytes = with_mac2.bytes.clone().unwrap();
    let (addr_a, addr_b) = (sim.node_addr(a), sim.node_addr(b));
    let responses_before = times(&sim, b, MessageType::Response).len();
    let cookies_before = sim.device(b).stats().cookie_replies_sent;

    // 30 replays from a's own address in 100 ms: mac2 is valid there, so they reach the
    // per-source token bucket (20/s, burst 5); the few it lets through fail as replays.
    let start = sim.now();
    for i in 0..30u64 {
        sim.inject_datagram(start + Duration::from_micros(3_300 * i), addr_a, addr_b, &bytes);
    }
    // The same bytes from another port of the same host: the cookie covers the port, so
    // mac2 is invalid there and b answers with a cookie reply instead.
    let other_port = std::net::SocketAddr::new(addr_a.ip(), addr_a.port() + 1);
    sim.inject_datagram(start + Duration::from_millis(200), other_port, addr_b, &bytes);
    keep_under_load(&mut sim, b, start + Duration::from_secs(1));

    let outcomes: Vec<_> =
        sim.wire().arrivals_at(b).filter(|r| r.time >= start && r.from == addr_a).map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes.len(), 30);
    let replays = outcomes.iter().filter(|o| **o == ArrivalOutcome::Dropped(DropReason::TimestampReplay)).count();
    let limited = outcomes.iter().filter(|o| **o == ArrivalOutcome::Dropped(DropReason::RateLimited)).count();
    assert!((5..=8).contains(&replays), "burst 5 plus ~2 refilled tokens: {outcomes:?}");
    assert_eq!(replays + limited, 30, "{outcomes:?}");
    assert_eq!(times(&sim, b, MessageType::Response).len(), responses_before, "no replay was answered");

    let from_other_port: Vec<_> = sim.wire().arrivals_at(b).filter(|r| r.from == other_port).collect();
    assert_eq!(from_other_port.len(), 1);
    assert_eq!(from_other_port[0].outcome, ArrivalOutcome::Consumed);
    assert_eq!(sim.device(b).stats().cookie_replies_sent, cookies_before + 1);
    let reply = sim.wire().sent_by(b).find(|r| r.to == other_port).unwrap();
    assert_eq!((reply.kind, reply.len), (Some(MessageType::CookieReply), 64));
}
