//! Opening: both sides of the three-way handshake, simultaneous open, SYN retransmission and the
//! answers to bogus segments in SYN-SENT and SYN-RECEIVED.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{Connection, ConnectionError, InitialNumbers, RecvError, Seq, State, TcpConfig, TimerKind};
use crate::time::Instant;

#[test]
fn active_open_offers_options_and_completes_on_syn_ack() {
    let cfg = TcpConfig { recv_buffer_size: 256 * 1024, ..TcpConfig::default() };
    let mut s = Script::connect(&cfg);
    assert_eq!(s.conn.state(), State::SynSent);
    assert_eq!(s.conn.poll_at(), Some(Instant::ZERO), "the SYN is ready at once");
    let syn = s.expect();
    check(&syn, "S", ISS, 0, 0);
    assert_eq!(syn.options.mss, Some(1460));
    assert_eq!(syn.options.window_scale, Some(3), "262144 >> 2 is still above 65535");
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamps, Some((0, 0)));
    assert_eq!(syn.window, 65535, "a SYN's window is never scaled");
    s.expect_none();
    assert_eq!(s.conn.timer(TimerKind::Retransmit), Some(Instant::from_secs(1)));

    s.at(50);
    let sig = s.inject(&seg("S.", PEER_ISS, ISS + 1).win(1000).mss(1200).ws(3).sack_ok().ts(777, 0));
    assert!(sig.established && sig.may_send && !sig.delete);
    assert_eq!(s.conn.state(), State::Established);
    let n = s.conn.negotiated();
    assert!(n.sack && n.timestamps);
    assert_eq!((n.send_window_shift, n.recv_window_shift, n.mss), (3, 3, 1200));
    assert_eq!(s.conn.send_window(), 1000, "the SYN-ACK's window is not scaled");
    assert_eq!(s.conn.smss(), 1200 - 12);
    assert_eq!(s.conn.rtt().srtt(), Some(Duration::from_millis(50)));
    let ack = s.expect();
    check(&ack, ".", ISS + 1, PEER_ISS + 1, 0);
    assert_eq!(ack.options.timestamps, Some((50, 777)), "TSval is our ms clock, TSecr echoes the peer");
    assert_eq!(ack.window, 32768, "262144 bytes scaled down by our shift of 3");
    assert_eq!(s.conn.timer(TimerKind::Retransmit), None);
    s.expect_none();
}

#[test]
fn passive_open_answers_with_syn_ack_and_establishes_on_ack() {
    let cfg = TcpConfig::default();
    let syn = seg("S", PEER_ISS, 0).mss(1400).ws(7).sack_ok().ts(100, 0).data(b"ignored");
    let mut s = Script::accept(&cfg, &syn);
    assert_eq!(s.conn.state(), State::SynReceived);
    assert!(s.conn.is_passive());
    let synack = s.expect();
    check(&synack, "S.", ISS, PEER_ISS + 1, 0);
    assert_eq!(synack.options.mss, Some(1460));
    assert_eq!(synack.options.window_scale, Some(1), "65536 does not fit the 16-bit field");
    assert!(synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, Some((0, 100)));
    s.expect_none();
    s.at(20);
    let sig = s.inject(&seg(".", PEER_ISS + 1, ISS + 1).win(10).ts(101, 0).data(b"hello"));
    assert!(sig.established);
    assert_eq!(sig.delivered, 5);
    assert_eq!(s.conn.state(), State::Established);
    assert_eq!(s.conn.send_window(), 10 << 7);
    assert_eq!(s.read_all(), b"hello");
}

#[test]
fn passive_open_without_options_uses_defaults() {
    let cfg = TcpConfig::default();
    let mut s = Script::accept(&cfg, &seg("S", PEER_ISS, 0));
    let synack = s.expect();
    assert_eq!(synack.options.window_scale, None, "no window scale unless the peer offered one");
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, None);
    assert_eq!(s.conn.negotiated().mss, 536, "RFC 9293 default MSS");
    assert!(!s.conn.negotiated().timestamps);
}

#[test]
fn syn_is_retransmitted_with_exponential_backoff_then_times_out() {
    let cfg = TcpConfig { max_syn_retransmissions: 3, ..plain_config() };
    let mut s = Script::connect(&cfg);
    check(&s.expect(), "S", ISS, 0, 0);
    let mut times = Vec::new();
    while let Some((at, syn)) = s.next_emission(Duration::from_secs(100)) {
        check(&syn, "S", ISS, 0, 0);
        times.push(at.as_millis());
    }
    assert_eq!(times, vec![1000, 3000, 7000], "RTO 1 s doubled per timeout");
    // The fourth timeout gives up.
    assert_eq!(s.conn.state(), State::Closed);
    assert_eq!(s.conn.error(), Some(ConnectionError::TimedOut));
    assert_eq!(s.now, Instant::from_millis(15_000));
    assert_eq!(s.conn.stats().timeouts, 3);
}

#[test]
fn rto_is_three_seconds_after_a_syn_timeout_without_a_sample() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    s.at(1000);
    check(&s.expect(), "S", ISS, 0, 0);
    s.at(1500);
    let sig = s.inject(&seg("S.", PEER_ISS, ISS + 1));
    assert!(sig.established);
    assert_eq!(s.conn.rtt().srtt(), None, "Karn: the retransmitted SYN gives no sample");
    assert_eq!(s.conn.rtt().rto(), Duration::from_secs(3), "RFC 6298 (5.7)");
}

#[test]
fn syn_ack_is_retransmitted_and_resent_on_duplicate_syn() {
    let syn = seg("S", PEER_ISS, 0);
    let mut s = Script::accept(&plain_config(), &syn);
    check(&s.expect(), "S.", ISS, PEER_ISS + 1, 0);
    // The peer did not get it and retransmits its SYN: answer with the SYN-ACK again.
    s.at(300);
    let sig = s.inject(&syn);
    assert!(sig.may_send);
    check(&s.expect(), "S.", ISS, PEER_ISS + 1, 0);
    // Our own timer also retransmits it.
    let (at, again) = s.next_emission(Duration::from_secs(5)).unwrap();
    check(&again, "S.", ISS, PEER_ISS + 1, 0);
    assert_eq!(at, Instant::from_secs(1));
    assert_eq!(s.conn.state(), State::SynReceived);
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut s = Script::connect(&plain_config());
    check(&s.expect(), "S", ISS, 0, 0);
    // The peer's SYN crosses ours.
    let sig = s.inject(&seg("S", PEER_ISS, 0));
    assert!(!sig.established);
    assert_eq!(s.conn.state(), State::SynReceived);
    assert!(!s.conn.is_passive());
    check(&s.expect(), "S.", ISS, PEER_ISS + 1, 0);
    // The peer's SYN-ACK (its SYN again, acknowledging ours) completes the handshake.
    let sig = s.inject(&seg("S.", PEER_ISS, ISS + 1));
    assert!(sig.established);
    assert_eq!(s.conn.state(), State::Established);
    s.expect_none();
}

#[test]
fn simultaneous_open_also_completes_on_a_plain_ack() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    let _ = s.inject(&seg("S", PEER_ISS, 0));
    s.expect();
    assert!(s.inject(&seg(".", PEER_ISS + 1, ISS + 1)).established);
}

#[test]
fn syn_sent_resets_a_bad_ack_and_obeys_only_acceptable_rsts() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    // ACK of something we never sent: <SEQ=SEG.ACK><CTL=RST>.
    let sig = s.inject(&seg("S.", PEER_ISS, ISS + 77));
    let rst = sig.answer.expect("a reset");
    check(&rst, "R", ISS + 77, 0, 0);
    assert_eq!(s.conn.state(), State::SynSent);
    // A RST with a bad ACK is ignored and not answered.
    let sig = s.inject(&seg("R.", 0, ISS + 77));
    assert_eq!(sig.answer, None);
    assert_eq!(s.conn.state(), State::SynSent);
    // A RST without ACK is ignored too.
    let _ = s.inject(&seg("R", 0, 0));
    assert_eq!(s.conn.state(), State::SynSent);
    // A plain segment without SYN is dropped.
    let _ = s.inject(&seg("", 0, 0));
    assert_eq!(s.conn.state(), State::SynSent);
    // A RST acknowledging our SYN refuses the connection.
    let sig = s.inject(&seg("R.", 0, ISS + 1));
    assert!(sig.reset && sig.delete);
    assert_eq!(s.conn.error(), Some(ConnectionError::Refused));
    let mut buf = [0u8; 4];
    assert_eq!(s.conn.recv(&mut buf), Err(RecvError::Connection(ConnectionError::Refused)));
}

#[test]
fn syn_received_resets_an_unacceptable_ack() {
    let mut s = Script::accept(&plain_config(), &seg("S", PEER_ISS, 0));
    s.expect();
    let sig = s.inject(&seg(".", PEER_ISS + 1, ISS + 500));
    check(&sig.answer.expect("reset"), "R", ISS + 500, 0, 0);
    assert_eq!(s.conn.state(), State::SynReceived);
    // The right ACK still works afterwards.
    assert!(s.inject(&seg(".", PEER_ISS + 1, ISS + 1)).established);
}

#[test]
fn syn_ack_data_and_fin_are_delivered() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    let sig = s.inject(&seg("S.F", PEER_ISS, ISS + 1).data(b"early"));
    assert!(sig.established && sig.fin_received);
    assert_eq!(sig.delivered, 5);
    assert_eq!(s.conn.state(), State::CloseWait);
    check(&s.expect(), ".", ISS + 1, PEER_ISS + 1 + 5 + 1, 0);
}

#[test]
fn data_written_before_the_handshake_goes_out_after_it() {
    let mut s = Script::connect(&plain_config());
    s.write(b"queued");
    check(&s.expect(), "S", ISS, 0, 0);
    s.expect_none();
    let _ = s.inject(&seg("S.", PEER_ISS, ISS + 1));
    let (d, bytes) = s.expect_data();
    check(&d, ".", ISS + 1, PEER_ISS + 1, 6);
    assert!(d.flags.psh);
    assert_eq!(bytes, b"queued");
}

#[test]
fn accept_syn_refuses_anything_but_a_syn() {
    let initial = InitialNumbers { iss: Seq(1), ts_offset: 0 };
    for spec in ["S.", "SR", ".", ""] {
        let s = seg(spec, 1, 1);
        assert!(Connection::accept_syn(Instant::ZERO, &TcpConfig::default(), &s.repr(), initial).is_err(), "{spec}");
    }
}
