//! Endpoints follow authenticated packets (roaming, NAT rebinding) and nothing else: never
//! a cookie reply, forged or redirected.

mod common;

use core::net::SocketAddr;
use core::time::Duration;

use braid_proto::{DropReason, Instant};
use braid_sim::{ArrivalOutcome, WireFate};
use braid_wire::wg::MessageType;
use common::*;

#[test]
fn the_endpoint_follows_a_roaming_peer_after_its_first_authenticated_packet() {
    let (mut sim, a, b) = established_pair(50);
    let old = sim.node_addr(a);
    let new: SocketAddr = "198.18.100.1:40000".parse().unwrap();
    sim.add_traffic_both_ways(a, b, Duration::from_millis(100), Instant::from_secs(1), Instant::from_secs(20));
    sim.run_until(Instant::from_millis(5_050));
    sim.set_node_addr(a, new); // between two of a's packets (5.0 s and 5.1 s)
    sim.run_until(Instant::from_secs(21));

    assert_eq!(sim.peer_stats(b, a).endpoint.map(|e| e.addr), Some(new));
    let first_from_new = sim.wire().sent_by(a).find(|r| r.from == new).unwrap().time;
    assert_eq!(first_from_new, Instant::from_millis(5_100));
    let switch = first_from_new + DELAY; // b authenticates it here
    for r in sim.wire().sent_by(b) {
        let expected = if r.time < switch { old } else { new };
        assert_eq!(r.to, expected, "b sent to the wrong address: {r:?}");
    }
    // a's packets all arrive; b's packets sent to the old address in the gap are lost, and
    // every one sent after the switch arrives.
    assert!(sim.delivery_report(a, b).is_perfect(), "{:?}", sim.delivery_report(a, b));
    let stranded =
        sim.wire().sent_by(b).filter(|r| r.is_data() && r.to == old && r.time >= Instant::from_millis(5_050)).count();
    assert_eq!(stranded, 1, "b's packet at 5.1 s left before b learned the new address");
    assert_eq!(sim.delivery_report(b, a).missing.len(), stranded);
    let after_switch = sim.wire().sent_by(b).filter(|r| r.time >= switch && r.is_data()).count();
    assert!(after_switch > 100);
}

#[test]
fn a_roaming_initiator_is_followed_through_its_handshake() {
    let (mut sim, a, b) = established_pair(51);
    // Long idle: the session expires, then a moves and speaks first with an initiation.
    sim.run_until(Instant::from_secs(200));
    let new: SocketAddr = "198.18.200.7:1234".parse().unwrap();
    sim.set_node_addr(a, new);
    sim.send_ip(a, b, b"new place").unwrap();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.peer_stats(b, a).endpoint.map(|e| e.addr), Some(new));
    let response = sim.wire().sent_of_kind(b, MessageType::Response).last().unwrap().clone();
    assert_eq!(response.to, new, "the response goes where the initiation came from");
    assert_eq!(sim.tun_log(b).len(), 2);
}

#[test]
fn a_redirected_cookie_reply_is_used_but_never_moves_the_endpoint() {
    let (mut sim, a, b) = pair(52);
    let addr_b = sim.node_addr(b);
    // Hold back b's genuine cookie reply; the test re-sends it from elsewhere.
    let held = std::rc::Rc::new(std::cell::RefCell::new(None));
    let sink = held.clone();
    sim.set_wire_filter(Some(Box::new(move |r, bytes| {
        let hold = r.kind == Some(MessageType::CookieReply);
        if hold {
            *sink.borrow_mut() = Some(bytes.to_vec());
        }
        hold
    })));
    keep_under_load(&mut sim, b, Instant::ZERO);
    sim.send_ip(a, b, b"hello").unwrap();
    keep_under_load(&mut sim, b, Instant::from_millis(100));
    sim.set_wire_filter(None);
    let cookie_reply = held.borrow().clone().expect("b answered with a cookie reply");
    assert_eq!(cookie_reply.len(), 64);

    let forger: SocketAddr = "203.0.113.5:51820".parse().unwrap();
    let addr_a = sim.node_addr(a);
    let mut garbage = cookie_reply.clone();
    garbage[40] ^= 0xff;
    sim.inject_datagram(sim.now(), forger, addr_a, &garbage);
    sim.inject_datagram(sim.now() + Duration::from_millis(1), forger, addr_a, &cookie_reply);
    keep_under_load(&mut sim, b, Instant::from_secs(12));

    let outcomes: Vec<_> = sim.wire().arrivals_at(a).filter(|r| r.from == forger).map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes, vec![ArrivalOutcome::Dropped(DropReason::InvalidCookie), ArrivalOutcome::Consumed]);
    assert_eq!(sim.peer_stats(a, b).endpoint.map(|e| e.addr), Some(addr_b), "a cookie reply moved the endpoint");
    let inits: Vec<_> = sim.wire().sent_of_kind(a, MessageType::Initiation).cloned().collect();
    assert_eq!(inits.len(), 2, "\n{}", wire_dump(&sim));
    assert_eq!(inits[1].to, addr_b, "the retry goes to b, not to the cookie's sender");
    assert_ne!(mac2(&inits[1]), [0; 16], "the redirected cookie was still accepted and used");
    assert!(inits[1].fate == WireFate::Delivered { copies: 1 });
    assert_eq!(sim.tun_log(b).len(), 1, "the handshake completed under load");
    assert!(sim.wire().sent().iter().all(|r| r.to != forger), "nothing was ever sent to the forger");
}
