//! Flow control: window scaling both ways, zero-window probing with back-off, window updates,
//! sender silly-window avoidance.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{ConnectionError, State, TcpConfig, TimerKind};
use crate::time::Instant;

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

#[test]
fn peer_window_is_scaled_by_its_shift() {
    let cfg = TcpConfig { window_scaling: true, nagle: false, ..plain_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).ws(4).win(100));
    assert_eq!(s.conn.send_window(), 100, "unscaled in the SYN-ACK");
    let _ = s.inject(&seg(".", P, D).win(100));
    assert_eq!(s.conn.send_window(), 1600);
    s.write(&pattern(0, 5000));
    check(&s.expect(), ".", D, P, 1000);
    // 600 more bytes fit, but that is less than half the largest window: sender SWS avoidance waits.
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 1000).win(100));
    check(&s.expect(), ".", D + 1000, P, 1000);
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 2000).win(50));
    assert_eq!(s.conn.send_window(), 800);
    check(&s.expect(), ".", D + 2000, P, 800);
}

#[test]
fn our_window_is_announced_scaled_down() {
    let cfg = TcpConfig { window_scaling: true, recv_buffer_size: 1 << 20, ..plain_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).ws(0));
    assert_eq!(s.conn.negotiated().recv_window_shift, 5);
    let _ = s.inject(&seg(".", P, D).len(1000));
    let a = s.expect();
    assert_eq!(a.window as u32, ((1 << 20) - 1000) >> 5);
}

#[test]
fn no_window_scaling_unless_both_offer_it() {
    let cfg = TcpConfig { window_scaling: true, recv_buffer_size: 1 << 20, ..plain_config() };
    let mut s = Script::established(&cfg);
    assert_eq!(s.conn.negotiated().recv_window_shift, 0);
    let _ = s.inject(&seg(".", P, D).len(10));
    assert_eq!(s.expect().window, 65535, "capped at the unscaled maximum");
}

#[test]
fn zero_window_is_probed_with_backoff_until_it_opens() {
    let mut s = Script::established(&plain_config());
    s.write(&pattern(0, 3000));
    for i in 0..3 {
        check(&s.expect(), ".", D + i * 1000, P, 1000);
    }
    // Acknowledged 100 ms later with a closed window: SRTT 100, RTTVAR 37.5, RTO 250 ms.
    s.at(200);
    let _ = s.inject(&seg(".", P, D + 3000).win(0));
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(250));
    s.write(&pattern(3000, 1000));
    s.expect_none();
    assert_eq!(s.conn.timer(TimerKind::Persist), Some(Instant::from_millis(450)));
    let mut probes = Vec::new();
    for _ in 0..3 {
        let (at, probe) = s.next_emission(Duration::from_secs(10)).unwrap();
        // SEG.SEQ = SND.UNA - 1 and no data: the receiver must answer with an ACK.
        check(&probe, ".", D + 3000 - 1, P, 0);
        probes.push(at.as_millis());
        let _ = s.inject(&seg(".", P, D + 3000).win(0));
    }
    assert_eq!(probes, vec![450, 950, 1950], "250 ms doubled per probe");
    assert_eq!(s.conn.stats().window_probes, 3);
    assert_eq!(s.conn.state(), State::Established, "answered probes never time out");
    // The window opens: data flows at once and the persist timer stops.
    let _ = s.inject(&seg(".", P, D + 3000).win(2000));
    check(&s.expect(), ".", D + 3000, P, 1000);
    assert_eq!(s.conn.timer(TimerKind::Persist), None);
}

#[test]
fn unanswered_window_probes_eventually_time_out() {
    let cfg = TcpConfig { max_retransmissions: 2, ..plain_config() };
    let mut s = Script::established(&cfg);
    let _ = s.inject(&seg(".", P, D).win(0));
    s.write(b"blocked");
    s.expect_none();
    let mut n = 0;
    while s.next_emission(Duration::from_secs(100)).is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
    assert_eq!(s.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn small_window_is_used_when_it_is_half_the_largest_seen() {
    let cfg = TcpConfig { nagle: false, ..plain_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).win(300));
    s.write(&pattern(0, 1000));
    check(&s.expect(), ".", D, P, 300);
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 300).win(100));
    // 100 bytes is less than half of the largest window (300): wait (sender SWS avoidance).
    s.expect_none();
    assert!(s.conn.timer(TimerKind::Persist).is_some());
    // The persist timer overrides the wait and sends what fits.
    let (_, forced) = s.next_emission(Duration::from_secs(5)).unwrap();
    check(&forced, ".", D + 300, P, 100);
}

#[test]
fn a_reader_that_keeps_up_sends_no_separate_window_updates() {
    // 20 segments of room; the peer's view of the window never falls to half of it.
    let cfg = TcpConfig { recv_buffer_size: 20_000, ..plain_config() };
    let mut s = Script::established(&cfg);
    for k in 0..5u32 {
        let _ = s.inject(&seg(".", P + 2000 * k, D).len(1000));
        let _ = s.inject(&seg(".", P + 2000 * k + 1000, D).len(1000));
        // Every second full segment is acknowledged at once ...
        let a = s.expect();
        check(&a, ".", D, P + 2000 * (k + 1), 0);
        assert_eq!(a.window, 18_000);
        // ... and reading it frees room the peer does not need to hear about yet.
        assert_eq!(s.read_all().len(), 2000);
        s.expect_none();
    }
    // The next ACK carries the whole window again.
    let _ = s.inject(&seg(".", P + 10_000, D).len(1000));
    let _ = s.inject(&seg(".", P + 11_000, D).len(1000));
    assert_eq!(s.expect().window, 18_000);
}

#[test]
fn a_window_the_peer_sees_closing_is_reopened_at_once() {
    let cfg = TcpConfig { recv_buffer_size: 20_000, ..plain_config() };
    let mut s = Script::established(&cfg);
    // Twelve segments unread: the peer sees 8000 bytes of room, less than half the buffer.
    for k in 0..12u32 {
        let _ = s.inject(&seg(".", P + 1000 * k, D).len(1000));
        if k % 2 == 1 {
            let _ = s.expect();
        }
    }
    s.expect_none();
    // Reading them doubles the window (8000 → 20000): announce it now.
    assert_eq!(s.read_all().len(), 12_000);
    let a = s.expect();
    check(&a, ".", D, P + 12_000, 0);
    assert_eq!(a.window, 20_000);
}

#[test]
fn reading_sends_a_pending_delayed_ack_at_once() {
    let cfg = TcpConfig { delayed_ack: Some(Duration::from_millis(40)), ..plain_config() };
    let mut s = Script::established(&cfg);
    let _ = s.inject(&seg(".", P, D).len(1000));
    // One segment: the ACK waits for a second one or the timer.
    s.expect_none();
    assert!(s.conn.timer(TimerKind::DelayedAck).is_some());
    assert_eq!(s.read_all().len(), 1000);
    check(&s.expect(), ".", D, P + 1000, 0);
    assert_eq!(s.conn.timer(TimerKind::DelayedAck), None);
}
