//! Closing: active, passive and simultaneous close, FIN in every state, FIN retransmission,
//! TIME-WAIT and the FIN-WAIT-2 limit.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{RecvError, SendError, State, TcpConfig, TimerKind};

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

#[test]
fn active_close_walks_fin_wait_1_fin_wait_2_time_wait_closed() {
    let mut s = Script::established(&plain_config());
    s.conn.close();
    assert_eq!(s.conn.state(), State::FinWait1);
    assert_eq!(s.conn.send(b"late"), Err(SendError::Closed));
    check(&s.expect(), "F.", D, P, 0);
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 1));
    assert_eq!(s.conn.state(), State::FinWait2);
    assert_eq!(s.conn.timer(TimerKind::Retransmit), None);
    // Half-closed: data still arrives in FIN-WAIT-2.
    let sig = s.inject(&seg(".", P, D + 1).data(b"more"));
    assert_eq!(sig.delivered, 4);
    check(&s.expect(), ".", D + 1, P + 4, 0);
    s.at(10_000);
    let sig = s.inject(&seg("F.", P + 4, D + 1));
    assert!(sig.fin_received && !sig.delete);
    assert_eq!(s.conn.state(), State::TimeWait);
    check(&s.expect(), ".", D + 1, P + 5, 0);
    assert_eq!(s.conn.timer(TimerKind::Close), Some(s.now + Duration::from_secs(60)));
    s.at(69_999);
    assert_eq!(s.conn.state(), State::TimeWait);
    let sig = s.tick(70_000);
    assert!(sig.delete);
    assert!(s.conn.is_closed());
    assert_eq!(s.conn.poll_at(), None);
}

#[test]
fn passive_close_walks_close_wait_last_ack_closed() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg("F.", P, D));
    assert!(sig.fin_received);
    assert_eq!(s.conn.state(), State::CloseWait);
    check(&s.expect(), ".", D, P + 1, 0);
    let mut buf = [0u8; 4];
    assert_eq!(s.conn.recv(&mut buf), Err(RecvError::Finished));
    // We may still send in CLOSE-WAIT.
    s.write(b"bye");
    check(&s.expect(), ".", D, P + 1, 3);
    s.conn.close();
    assert_eq!(s.conn.state(), State::LastAck);
    check(&s.expect(), "F.", D + 3, P + 1, 0);
    let _ = s.inject(&seg(".", P + 1, D + 3));
    assert_eq!(s.conn.state(), State::LastAck, "the FIN is not acknowledged yet");
    let sig = s.inject(&seg(".", P + 1, D + 4));
    assert!(sig.delete);
    assert_eq!(s.conn.state(), State::Closed);
    assert_eq!(s.conn.error(), None);
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut s = Script::established(&plain_config());
    s.conn.close();
    check(&s.expect(), "F.", D, P, 0);
    let sig = s.inject(&seg("F.", P, D));
    assert!(sig.fin_received);
    assert_eq!(s.conn.state(), State::Closing);
    check(&s.expect(), ".", D + 1, P + 1, 0);
    let _ = s.inject(&seg(".", P + 1, D + 1));
    assert_eq!(s.conn.state(), State::TimeWait);
}

#[test]
fn fin_acking_our_fin_in_fin_wait_1_goes_straight_to_time_wait() {
    let mut s = Script::established(&plain_config());
    s.conn.close();
    s.expect();
    let _ = s.inject(&seg("F.", P, D + 1));
    assert_eq!(s.conn.state(), State::TimeWait);
    check(&s.expect(), ".", D + 1, P + 1, 0);
}

#[test]
fn fin_rides_on_the_last_data_segment() {
    let mut s = Script::established(&plain_config());
    s.write(b"last words");
    s.conn.close();
    let (f, bytes) = s.expect_data();
    check(&f, "F.", D, P, 10);
    assert_eq!(bytes, b"last words");
    s.expect_none();
}

#[test]
fn fin_waits_behind_queued_data() {
    let mut s = Script::established(&plain_config());
    s.write(&pattern(0, 5500));
    s.conn.close();
    let mut seen = 0;
    while let Some(seg_out) = s.conn.poll_transmit(s.now) {
        assert!(!seg_out.flags.fin, "cwnd allows only 4 segments; the FIN comes later");
        seen += seg_out.payload_len;
    }
    assert_eq!(seen, 4000);
    let _ = s.inject(&seg(".", P, D + 4000));
    let (next, _) = s.expect_data();
    check(&next, ".", D + 4000, P, 1000);
    let f = s.expect();
    check(&f, "F.", D + 5000, P, 500);
}

#[test]
fn fin_is_retransmitted_on_timeout_in_fin_wait_1_and_last_ack() {
    // FIN-WAIT-1. The handshake measured 100 ms, so RTO = 100 + 4·50 = 300 ms.
    let mut s = Script::established(&plain_config());
    s.conn.close();
    let t0 = s.now;
    s.expect();
    let (at, again) = s.next_emission(Duration::from_secs(10)).unwrap();
    check(&again, "F.", D, P, 0);
    assert_eq!(at - t0, Duration::from_millis(300));
    // LAST-ACK.
    let mut s = Script::established(&plain_config());
    let _ = s.inject(&seg("F.", P, D));
    s.expect();
    s.conn.close();
    let t0 = s.now;
    check(&s.expect(), "F.", D, P + 1, 0);
    let (at, again) = s.next_emission(Duration::from_secs(10)).unwrap();
    check(&again, "F.", D, P + 1, 0);
    assert_eq!(at - t0, Duration::from_millis(300));
}

#[test]
fn fin_in_every_state_that_can_receive_one() {
    // SYN-RECEIVED: the ACK completes the handshake, the FIN moves on to CLOSE-WAIT.
    let mut s = Script::accept(&plain_config(), &seg("S", PEER_ISS, 0));
    s.expect();
    let sig = s.inject(&seg("F.", P, D));
    assert!(sig.established && sig.fin_received);
    assert_eq!(s.conn.state(), State::CloseWait);
    // CLOSE-WAIT: a retransmitted FIN is acknowledged again, nothing changes.
    s.expect();
    let _ = s.inject(&seg("F.", P, D));
    check(&s.expect(), ".", D, P + 1, 0);
    assert_eq!(s.conn.state(), State::CloseWait);
    // LAST-ACK: same.
    s.conn.close();
    s.expect();
    let _ = s.inject(&seg("F.", P, D));
    check(&s.expect(), ".", D + 1, P + 1, 0);
    assert_eq!(s.conn.state(), State::LastAck);

    // CLOSING: a retransmitted FIN is acknowledged again.
    let mut s = Script::established(&plain_config());
    s.conn.close();
    s.expect();
    let _ = s.inject(&seg("F.", P, D));
    s.expect();
    let _ = s.inject(&seg("F.", P, D));
    check(&s.expect(), ".", D + 1, P + 1, 0);
    assert_eq!(s.conn.state(), State::Closing);

    // TIME-WAIT: a retransmitted FIN is acknowledged and restarts 2·MSL.
    let _ = s.inject(&seg(".", P + 1, D + 1));
    assert_eq!(s.conn.state(), State::TimeWait);
    s.at(30_000);
    let _ = s.inject(&seg("F.", P, D + 1));
    check(&s.expect(), ".", D + 1, P + 1, 0);
    assert_eq!(s.conn.timer(TimerKind::Close), Some(s.now + Duration::from_secs(60)));
}

#[test]
fn early_fin_waits_for_the_missing_data() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg("F.", P + 100, D).len(50));
    assert!(!sig.fin_received);
    assert_eq!(s.conn.state(), State::Established);
    check(&s.expect(), ".", D, P, 0);
    let sig = s.inject(&seg(".", P, D).len(100));
    assert!(sig.fin_received);
    assert_eq!(sig.delivered, 150);
    assert_eq!(s.conn.state(), State::CloseWait);
    check(&s.expect(), ".", D, P + 151, 0);
}

#[test]
fn close_in_syn_sent_abandons_and_in_syn_received_sends_fin_after_handshake() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    s.conn.close();
    assert!(s.conn.is_closed());
    s.expect_none();

    let mut s = Script::accept(&plain_config(), &seg("S", PEER_ISS, 0));
    s.expect();
    s.conn.close();
    assert_eq!(s.conn.state(), State::SynReceived);
    let sig = s.inject(&seg(".", P, D));
    assert!(sig.established);
    assert_eq!(s.conn.state(), State::FinWait1);
    check(&s.expect(), "F.", D, P, 0);
}

#[test]
fn fin_wait_2_limit_closes_the_connection() {
    let cfg = TcpConfig { fin_wait_2_timeout: Some(Duration::from_secs(5)), ..plain_config() };
    let mut s = Script::established(&cfg);
    s.conn.close();
    s.expect();
    let _ = s.inject(&seg(".", P, D + 1));
    assert_eq!(s.conn.state(), State::FinWait2);
    let t = s.now;
    let sig = s.advance(Duration::from_secs(5));
    assert!(sig.delete);
    assert!(s.conn.is_closed());
    assert_eq!(s.now - t, Duration::from_secs(5));
}
