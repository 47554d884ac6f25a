//! Keep-alive probing (RFC 1122 §4.2.3.6) and the idle restart of the congestion window.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{ConnectionError, KeepAlive, TcpConfig};

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

fn ka_config() -> TcpConfig {
    TcpConfig {
        keep_alive: Some(KeepAlive { idle: Duration::from_secs(10), interval: Duration::from_secs(1), probes: 3 }),
        ..plain_config()
    }
}

#[test]
fn idle_connection_is_probed_and_dropped_when_silent() {
    let mut s = Script::established(&ka_config());
    let mut at = Vec::new();
    while let Some((t, probe)) = s.next_emission(Duration::from_secs(60)) {
        check(&probe, ".", D - 1, P, 0);
        at.push(t.as_millis());
    }
    assert_eq!(at, vec![10_100, 11_100, 12_100]);
    assert_eq!(s.now.as_millis(), 13_100);
    assert_eq!(s.conn.error(), Some(ConnectionError::TimedOut));
    assert_eq!(s.conn.stats().keep_alive_probes, 3);
}

#[test]
fn answered_probes_keep_the_connection_and_traffic_postpones_them() {
    let mut s = Script::established(&ka_config());
    s.at(5_000);
    let _ = s.inject(&seg(".", P, D).data(b"traffic"));
    s.expect();
    let (t, _) = s.next_emission(Duration::from_secs(60)).unwrap();
    assert_eq!(t.as_millis(), 15_000, "idle counts from the last segment received");
    let _ = s.inject(&seg(".", P + 7, D));
    let (t, _) = s.next_emission(Duration::from_secs(60)).unwrap();
    assert_eq!(t.as_millis(), 25_000, "an answer restarts the idle period");
    assert!(s.conn.error().is_none());
}

#[test]
fn idle_sender_restarts_from_the_initial_window() {
    let cfg = TcpConfig { initial_window_segments: Some(2), ..plain_config() };
    let mut s = Script::established(&cfg);
    s.write(&pattern(0, 4000));
    check(&s.expect(), ".", D, P, 1000);
    check(&s.expect(), ".", D + 1000, P, 1000);
    let _ = s.inject(&seg(".", P, D + 2000));
    assert_eq!(s.conn.congestion_window(), 3000);
    check(&s.expect(), ".", D + 2000, P, 1000);
    check(&s.expect(), ".", D + 3000, P, 1000);
    let _ = s.inject(&seg(".", P, D + 4000));
    assert_eq!(s.conn.congestion_window(), 4000);
    // Idle for longer than an RTO: back to two segments.
    let _ = s.advance(Duration::from_secs(5));
    s.write(&pattern(4000, 4000));
    check(&s.expect(), ".", D + 4000, P, 1000);
    check(&s.expect(), ".", D + 5000, P, 1000);
    s.expect_none();
}

#[test]
fn an_answered_probe_clears_an_icmp_soft_error_and_a_later_timeout_is_a_timeout() {
    use crate::tcp::seq::Seq;
    use crate::tcp::SoftError;
    let mut s = Script::established(&ka_config());
    // A router says the peer is unreachable while the connection is idle.
    assert!(s.conn.on_soft_error(SoftError::HostUnreachable, Seq(D)).is_some());
    assert_eq!(s.conn.soft_error(), Some(SoftError::HostUnreachable));
    // The first keep-alive probe is answered (an ACK acknowledging nothing new): the path works.
    let (_, probe) = s.next_emission(Duration::from_secs(60)).unwrap();
    check(&probe, ".", D - 1, P, 0);
    let _ = s.inject(&seg(".", P, D));
    assert_eq!(s.conn.soft_error(), None, "any ACK that is not old proves the path");
    // Later the peer goes silent for good: the connection times out as such, not as the old
    // unreachable.
    while s.next_emission(Duration::from_secs(60)).is_some() {}
    assert_eq!(s.conn.error(), Some(ConnectionError::TimedOut));
}
