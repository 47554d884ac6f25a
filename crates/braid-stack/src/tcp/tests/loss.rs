//! Loss: retransmission timeouts with exact back-off, Karn's rule, NewReno fast retransmit and
//! recovery with partial ACKs, SACK-based recovery (RFC 6675).

use core::time::Duration;

use super::harness::*;
use crate::tcp::{ConnectionError, Seq, State, TcpConfig, TimerKind};
use crate::time::Instant;

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

fn ten_segment_config() -> TcpConfig {
    TcpConfig { initial_window_segments: Some(10), ..plain_config() }
}

/// Sends `n` full segments starting at `D + first * 1000` and checks them.
fn expect_segments(s: &mut Script, first: u32, n: u32) {
    for i in first..first + n {
        check(&s.expect(), ".", D + i * 1000, P, 1000);
    }
}

#[test]
fn rto_backs_off_exactly_and_gives_up() {
    let cfg = TcpConfig { max_retransmissions: 3, ..plain_config() };
    let mut s = Script::established(&cfg);
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(300));
    s.write(b"lost");
    check(&s.expect(), ".", D, P, 4);
    let mut times = Vec::new();
    while let Some((at, again)) = s.next_emission(Duration::from_secs(60)) {
        check(&again, ".", D, P, 4);
        times.push(at.as_millis());
    }
    // Sent at 100 ms; RTO 300, 600, 1200, then the fourth expiry (2400 later) gives up.
    assert_eq!(times, vec![400, 1000, 2200]);
    assert_eq!(s.now.as_millis(), 4600);
    assert_eq!(s.conn.state(), State::Closed);
    assert_eq!(s.conn.error(), Some(ConnectionError::TimedOut));
    assert_eq!(s.conn.stats().timeouts, 3);
}

#[test]
fn timeout_collapses_cwnd_and_karn_keeps_the_backed_off_rto() {
    let mut s = Script::established(&ten_segment_config());
    s.write(&pattern(0, 4000));
    expect_segments(&mut s, 0, 4);
    let (at, again) = s.next_emission(Duration::from_secs(5)).unwrap();
    check(&again, ".", D, P, 1000);
    assert_eq!(at.as_millis(), 400);
    assert_eq!(s.conn.congestion_window(), 1000, "loss window: one segment");
    assert_eq!(s.conn.ssthresh(), 2000, "max(FlightSize / 2, 2·SMSS)");
    s.expect_none();
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(600));
    // The ACK of the retransmission gives no RTT sample (Karn): the RTO stays backed off.
    s.at(450);
    let _ = s.inject(&seg(".", P, D + 1000));
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(600));
    assert_eq!(s.conn.rtt().srtt(), Some(Duration::from_millis(100)));
    // Slow start from one segment, going back to resend what followed (go-back-N).
    assert_eq!(s.conn.congestion_window(), 2000);
    expect_segments(&mut s, 1, 2);
    s.expect_none();
    s.at(500);
    let _ = s.inject(&seg(".", P, D + 4000));
    assert_eq!(s.conn.timer(TimerKind::Retransmit), None);
    // New data is timed again and its ACK restores a computed RTO.
    s.write(&pattern(4000, 1000));
    check(&s.expect(), ".", D + 4000, P, 1000);
    s.at(540);
    let _ = s.inject(&seg(".", P, D + 5000));
    // SRTT = 7/8·100 + 1/8·40 = 92.5; RTTVAR = 3/4·50 + 1/4·60 = 52.5; RTO = 92.5 + 210 = 302.5 ms.
    assert_eq!(s.conn.rtt().rto(), Duration::from_micros(302_500));
}

#[test]
fn newreno_fast_retransmit_and_recovery_with_partial_acks() {
    let mut s = Script::established(&ten_segment_config());
    s.write(&pattern(0, 20_000));
    expect_segments(&mut s, 0, 10);
    s.expect_none();
    // Segments 0 and 4 are lost. The first two duplicate ACKs each let one new segment out
    // (RFC 3042 limited transmit) without changing cwnd...
    for i in 0..2 {
        let _ = s.inject(&seg(".", P, D));
        check(&s.expect(), ".", D + 10_000 + i * 1000, P, 1000);
        s.expect_none();
    }
    assert!(!s.conn.in_recovery());
    // ...the third triggers the fast retransmit.
    let _ = s.inject(&seg(".", P, D));
    let (r, bytes) = s.expect_data();
    check(&r, ".", D, P, 1000);
    assert_eq!(bytes, pattern(0, 1000));
    assert!(s.conn.in_recovery());
    assert_eq!(s.conn.stats().fast_retransmits, 1);
    assert_eq!(s.conn.ssthresh(), 6000, "FlightSize (12 segments) / 2");
    assert_eq!(s.conn.congestion_window(), 9000, "ssthresh + 3·SMSS");
    s.expect_none();
    // Each further duplicate inflates by one SMSS; at 13000 one new segment fits.
    for _ in 0..3 {
        let _ = s.inject(&seg(".", P, D));
        s.expect_none();
    }
    let _ = s.inject(&seg(".", P, D));
    assert_eq!(s.conn.congestion_window(), 13_000);
    check(&s.expect(), ".", D + 12_000, P, 1000);
    s.expect_none();
    // Partial ACK up to the second hole: retransmit it at once, deflate by 4000 and add one SMSS.
    let _ = s.inject(&seg(".", P, D + 4000));
    assert_eq!(s.conn.congestion_window(), 10_000);
    check(&s.expect(), ".", D + 4000, P, 1000);
    check(&s.expect(), ".", D + 13_000, P, 1000);
    s.expect_none();
    assert!(s.conn.in_recovery());
    // Full ACK (covers everything sent when recovery began): leave recovery with
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(6000, 2000 + 1000).
    let _ = s.inject(&seg(".", P, D + 12_000));
    assert!(!s.conn.in_recovery());
    assert_eq!(s.conn.congestion_window(), 3000);
    assert_eq!(s.conn.stats().retransmitted_segments, 2);
    check(&s.expect(), ".", D + 14_000, P, 1000);
    s.expect_none();
}

#[test]
fn duplicate_acks_with_data_or_window_change_are_not_duplicates() {
    let mut s = Script::established(&ten_segment_config());
    s.write(&pattern(0, 10_000));
    expect_segments(&mut s, 0, 10);
    for i in 0..3u16 {
        let _ = s.inject(&seg(".", P, D).win(60_000 - i));
    }
    assert!(!s.conn.in_recovery(), "window updates are not duplicate ACKs");
    for i in 0..3 {
        let _ = s.inject(&seg(".", P + i, D).len(1));
        let _ = s.conn.poll_transmit(s.now);
    }
    assert!(!s.conn.in_recovery(), "data segments are not duplicate ACKs");
}

#[test]
fn sack_recovery_retransmits_holes_by_rfc6675() {
    let cfg = TcpConfig { sack: true, ..ten_segment_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    assert!(s.conn.negotiated().sack);
    s.write(&pattern(0, 20_000));
    expect_segments(&mut s, 0, 10);
    // Segments 0 and 2 are lost; SACKs arrive for 1, then 3 (each letting one new segment out by
    // limited transmit), then 4.
    let k = |i: u32| D + i * 1000;
    let _ = s.inject(&seg(".", P, D).sack(&[(k(1), k(2))]));
    check(&s.expect(), ".", k(10), P, 1000);
    s.expect_none();
    let _ = s.inject(&seg(".", P, D).sack(&[(k(3), k(4)), (k(1), k(2))]));
    check(&s.expect(), ".", k(11), P, 1000);
    s.expect_none();
    let _ = s.inject(&seg(".", P, D).sack(&[(k(3), k(5)), (k(1), k(2))]));
    assert!(s.conn.in_recovery());
    assert_eq!(s.conn.congestion_window(), 6000, "RFC 6675: cwnd = ssthresh = 12 segments / 2, no inflation");
    // The first hole is retransmitted at once; segment 2 is not yet deemed lost.
    check(&s.expect(), ".", k(0), P, 1000);
    s.expect_none();
    // 5, 6 and 7 arrive: more than 2·SMSS SACKed above segment 2 makes it lost, and the pipe
    // (unSACKed 8..11 = 4000 plus the retransmission = 5000) leaves room for one segment.
    let _ = s.inject(&seg(".", P, D).sack(&[(k(3), k(6)), (k(1), k(2))]));
    s.expect_none();
    let _ = s.inject(&seg(".", P, D).sack(&[(k(3), k(7)), (k(1), k(2))]));
    s.expect_none();
    let _ = s.inject(&seg(".", P, D).sack(&[(k(3), k(8)), (k(1), k(2))]));
    check(&s.expect(), ".", k(2), P, 1000);
    s.expect_none();
    // The retransmitted segment 0 arrives: partial ACK up to segment 2; 8 arrives too. Now the
    // pipe is 9..11 (3000) + retransmitted 2 (1000): rule 2 sends new data.
    let _ = s.inject(&seg(".", P, k(2)).sack(&[(k(3), k(9))]));
    check(&s.expect(), ".", k(12), P, 1000);
    check(&s.expect(), ".", k(13), P, 1000);
    s.expect_none();
    // Everything up to the recovery point is acknowledged: recovery ends.
    let _ = s.inject(&seg(".", P, k(12)));
    assert!(!s.conn.in_recovery());
    assert_eq!(s.conn.stats().fast_retransmits, 1);
    assert_eq!(s.conn.stats().retransmitted_segments, 2);
}

#[test]
fn sack_blocks_outside_the_window_do_not_count() {
    let cfg = TcpConfig { sack: true, ..ten_segment_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    s.write(&pattern(0, 10_000));
    expect_segments(&mut s, 0, 10);
    for i in 0..5 {
        // Blocks beyond SND.MAX or below SND.UNA: no new SACK information, no duplicate ACK.
        let _ = s.inject(&seg(".", P, D).sack(&[(D + 20_000 + i, D + 30_000), (D - 500, D)]));
    }
    assert!(!s.conn.in_recovery());
    s.expect_none();
}

fn sack_config() -> TcpConfig {
    TcpConfig { sack: true, ..ten_segment_config() }
}

#[test]
fn a_tail_loss_probe_after_two_rtts_turns_a_silent_tail_into_fast_recovery() {
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    s.write(&pattern(0, 4000));
    expect_segments(&mut s, 0, 4);
    // SRTT is 100 ms: the probe goes out 2·SRTT after the last send, before the 300 ms RTO. With
    // nothing new to send it repeats the last segment.
    let (at, probe) = s.next_emission(Duration::from_secs(1)).unwrap();
    assert_eq!(at.as_millis(), 300);
    check(&probe, ".", D + 3000, P, 1000);
    assert_eq!(s.conn.stats().loss_probes, 1);
    assert_eq!(s.conn.timer(TimerKind::Retransmit).map(|t| t.as_millis()), Some(600), "RTO restarts");
    assert_eq!(s.conn.timer(TimerKind::LossProbe), None, "one probe until an ACK");
    // The probe arrives, segments 0..2 did not: the probe's SACK proves them lost.
    s.at(350);
    let _ = s.inject(&seg(".", P, D).sack(&[(D + 3000, D + 4000)]));
    assert!(s.conn.in_recovery());
    check(&s.expect(), ".", D, P, 1000);
    assert_eq!(s.conn.stats().fast_retransmits, 1);
    assert_eq!(s.conn.stats().timeouts, 0);
}

#[test]
fn a_tail_loss_probe_whose_acks_were_lost_costs_no_window() {
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    s.write(&pattern(0, 4000));
    expect_segments(&mut s, 0, 4);
    let cwnd = s.conn.congestion_window();
    let (_, probe) = s.next_emission(Duration::from_secs(1)).unwrap();
    check(&probe, ".", D + 3000, P, 1000);
    // Everything had arrived; only the ACKs were lost. The probe's ACK covers it all.
    s.at(350);
    let _ = s.inject(&seg(".", P, D + 4000));
    assert!(!s.conn.in_recovery());
    assert!(s.conn.congestion_window() >= cwnd);
    assert_eq!(s.conn.timer(TimerKind::Retransmit), None);
    assert_eq!(s.conn.timer(TimerKind::LossProbe), None);
    // Without SACK no probe is armed (RFC 8985 depends on it): the RTO fires at 400 ms.
    let mut plain = Script::established(&ten_segment_config());
    plain.write(&pattern(0, 4000));
    expect_segments(&mut plain, 0, 4);
    let (at, again) = plain.next_emission(Duration::from_secs(1)).unwrap();
    assert_eq!(at.as_millis(), 400);
    check(&again, ".", D, P, 1000);
    assert_eq!(plain.conn.stats().loss_probes, 0);
}

#[test]
fn with_timestamps_the_ack_of_a_retransmission_resets_the_backed_off_rto() {
    // RFC 7323 §4: an echoed timestamp names the transmission it answers, so unlike Karn's rule
    // without timestamps, the first ACK after a timeout gives a sample and ends the back-off.
    let cfg = TcpConfig { timestamps: true, sack: true, ..ten_segment_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok().ts(1000, 0));
    let base = s.conn.rtt().rto();
    s.write(&pattern(0, 500));
    let first = s.expect();
    assert_eq!(first.seq, Seq(D));
    let (at, again) = s.next_emission(Duration::from_secs(5)).unwrap();
    assert_eq!(again.seq, Seq(D));
    assert_eq!(at, s.now);
    assert_eq!(s.conn.rtt().backoff(), 1);
    assert_eq!(s.conn.rtt().rto(), base * 2);
    let (tsval, _) = again.options.timestamps.expect("timestamps negotiated");
    s.at(at.as_millis() + 40);
    let _ = s.inject(&seg(".", P, D + 500).ts(1001, tsval));
    assert_eq!(s.conn.rtt().backoff(), 0, "the sample ended the back-off");
    // SRTT = 7/8·100 + 1/8·40 = 92.5 ms; RTTVAR = 3/4·50 + 1/4·60 = 52.5 ms: 302.5 ms, not 600.
    assert_eq!(s.conn.rtt().rto(), Duration::from_micros(302_500));
}

/// Every segment the connection wants to send now.
fn drain(s: &mut Script) -> Vec<u32> {
    let mut seqs = Vec::new();
    while let Some(seg) = s.conn.poll_transmit(s.now) {
        seqs.push(seg.seq.0);
    }
    seqs
}

#[test]
fn in_sack_recovery_a_loss_probe_exposes_a_lost_retransmission_before_the_rto() {
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 40_000));
    expect_segments(&mut s, 0, 10);
    // Segment 0 is lost; 1..9 arrive and are SACKed one by one.
    for i in 1..10 {
        let _ = s.inject(&seg(".", P, D).sack(&[(k(1), k(i + 1))]));
        let _ = drain(&mut s);
    }
    assert!(s.conn.in_recovery());
    assert_eq!(s.conn.stats().retransmitted_segments, 1, "segment 0 was retransmitted once");
    // The retransmission and everything sent after it are lost: silence. The probe goes out at
    // 2·SRTT (200 ms after the last send), before the 300 ms RTO, with new data.
    let (at, probe) = s.next_emission(Duration::from_secs(1)).unwrap();
    assert_eq!(at.as_millis(), 300);
    assert!(probe.seq > Seq(k(10)), "new data");
    assert_eq!(s.conn.stats().loss_probes, 1);
    // The probe is SACKed while segment 0 is still missing: its retransmission was lost.
    s.at(350);
    let end = probe.seq + probe.payload_len;
    let _ = s.inject(&seg(".", P, D).sack(&[(probe.seq.0, end.0), (k(1), k(10))]));
    assert_eq!(s.conn.stats().lost_retransmissions, 1);
    let sent = drain(&mut s);
    assert_eq!(sent.first(), Some(&D), "segment 0 again, without waiting for the RTO: {sent:?}");
    assert_eq!(s.conn.stats().timeouts, 0);
}

#[test]
fn a_cumulative_ack_that_sacks_the_probe_starts_recovery_for_the_hole_below_it() {
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 4000));
    expect_segments(&mut s, 0, 4);
    let (_, probe) = s.next_emission(Duration::from_secs(1)).unwrap();
    check(&probe, ".", k(3), P, 1000);
    // Segment 0 had arrived (its ACK was lost), 1 and 2 were lost, the probe arrived.
    s.at(350);
    let _ = s.inject(&seg(".", P, k(1)).sack(&[(k(3), k(4))]));
    assert!(s.conn.in_recovery());
    check(&s.expect(), ".", k(1), P, 1000);
    assert_eq!(s.conn.stats().timeouts, 0);
}

#[test]
fn a_hole_left_behind_when_recovery_ends_is_repaired_after_the_reordering_window() {
    // The pattern behind most timeouts at 5 % loss: the ACK that ends a recovery leaves a hole in
    // data sent during it, with a single segment SACKed above and nothing else in flight to
    // produce duplicate ACKs. The SACK proves the hole overtaken; after RACK's reordering window
    // (SRTT / 4) it is lost and a new recovery repairs it, instead of a probe and then the RTO.
    let cfg = TcpConfig { initial_window_segments: Some(6), ..sack_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 8000));
    expect_segments(&mut s, 0, 6);
    // Segment 0 is lost; 1..3 are SACKed: recovery, and segment 0 is retransmitted.
    s.at(150);
    for i in 2..5 {
        let _ = s.inject(&seg(".", P, D).sack(&[(k(1), k(i))]));
    }
    assert!(s.conn.in_recovery());
    assert_eq!(drain(&mut s), vec![D]);
    // SACKs for 4 and 5 let the last two segments (6 and 7) out during the recovery.
    let _ = s.inject(&seg(".", P, D).sack(&[(k(1), k(5))]));
    assert_eq!(drain(&mut s), vec![k(6)]);
    let _ = s.inject(&seg(".", P, D).sack(&[(k(1), k(6))]));
    assert_eq!(drain(&mut s), vec![k(7)]);
    // Segment 6 is lost; the retransmission of 0 and segment 7 arrive: the ACK passes the
    // recovery point and SACKs 7.
    s.at(200);
    let _ = s.inject(&seg(".", P, k(6)).sack(&[(k(7), k(8))]));
    assert!(!s.conn.in_recovery());
    let (at, again) = s.next_emission(Duration::from_secs(1)).unwrap();
    assert_eq!(at.as_millis(), 225, "SRTT (100 ms) / 4 after the SACK, long before a probe or the RTO");
    check(&again, ".", k(6), P, 1000);
    assert!(s.conn.in_recovery());
    assert_eq!(s.conn.stats().fast_retransmits, 2);
    assert_eq!(s.conn.stats().loss_probes, 0);
    assert_eq!(s.conn.stats().timeouts, 0);
}

#[test]
fn a_sack_within_the_reordering_window_is_reordering_not_loss() {
    // The same evidence that arrives together with the missing segment costs nothing.
    let cfg = TcpConfig { initial_window_segments: Some(3), ..sack_config() };
    let mut s = Script::established_with(&cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 3000));
    expect_segments(&mut s, 0, 3);
    // Segment 1 is overtaken by 2 ...
    s.at(200);
    let _ = s.inject(&seg(".", P, k(1)).sack(&[(k(2), k(3))]));
    assert!(!s.conn.in_recovery());
    assert_eq!(s.conn.timer(TimerKind::LossProbe).map(|t| t.as_millis()), Some(225));
    // ... and arrives 10 ms later, inside the window: no retransmission, no recovery.
    s.at(210);
    let _ = s.inject(&seg(".", P, k(3)));
    s.expect_none();
    assert!(!s.conn.in_recovery());
    assert_eq!(s.conn.timer(TimerKind::LossProbe), None);
    assert_eq!(s.conn.stats().retransmitted_segments, 0);
}

#[test]
fn an_old_ack_below_snd_una_is_seen_at_snd_una_and_starts_no_endless_repair() {
    // An ACK below SND.UNA (reordered, or forged within RFC 5961's window) is still accepted for
    // its window. Loss recovery used to take its number as the ACK point: with SACK evidence due,
    // it started a repair "after a timeout" whose recovery point was already acknowledged, and
    // the rescue retransmission (RFC 6675 NextSeg rule 4) then went out again on every call.
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 3000));
    s.conn.close();
    expect_segments(&mut s, 0, 2);
    check(&s.expect(), "F.", k(2), P, 1000);
    // Segment 1 is missing, 2 (with the FIN) arrived.
    s.now = Instant::from_millis(150);
    let _ = s.inject(&seg(".", P, k(1)).sack(&[(k(2), k(3))]));
    assert!(!s.conn.in_recovery());
    // After the reordering window (SRTT / 4) an ACK from before the ISS arrives first.
    s.now = Instant::from_millis(180);
    let _ = s.inject(&seg(".", P, ISS - 100));
    assert!(s.conn.in_recovery(), "the time-based evidence holds at SND.UNA");
    let mut sent = Vec::new();
    while let Some(seg) = s.conn.poll_transmit(s.now) {
        sent.push(seg.seq.0);
        assert!(sent.len() < 10, "the connection never stops sending: {sent:?}");
    }
    assert_eq!(sent, vec![k(1)], "segment 1 once");
}

#[test]
fn sack_repair_after_a_timeout_skips_sacked_data_and_resends_nothing_twice() {
    // After an RTO, go-back-N resends from SND.UNA while new SACKs show what the receiver holds.
    // Once those SACKs prove a hole lost, SACK recovery repairs it; go-back-N must then neither
    // resend SACKed segments (the pipe does not count them, so they would also leave beyond the
    // congestion window) nor what NextSeg just retransmitted.
    let mut s = Script::established_with(&sack_config(), seg("S.", PEER_ISS, ISS + 1).mss(1000).sack_ok());
    let k = |i: u32| D + i * 1000;
    s.write(&pattern(0, 20_000));
    expect_segments(&mut s, 0, 10);
    // Every ACK is lost: the RTO (due with the loss probe's timer) resends segment 0.
    s.at(400);
    assert_eq!(drain(&mut s), vec![D]);
    assert_eq!(s.conn.stats().timeouts, 1);
    // The receiver holds 0, 1 and 5..9: go-back-N goes on with 2 and 3 (cwnd 2 segments) ...
    s.at(500);
    let _ = s.inject(&seg(".", P, k(2)).sack(&[(k(5), k(10))]));
    assert_eq!(drain(&mut s), vec![k(2), k(3)]);
    // ... and after the reordering window the SACK proves 4 lost: repair without resending.
    s.at(530);
    assert!(s.conn.in_recovery());
    assert_eq!(drain(&mut s), Vec::<u32>::new(), "2 and 3 are in flight");
    s.at(600);
    let _ = s.inject(&seg(".", P, k(4)).sack(&[(k(5), k(10))]));
    assert_eq!(drain(&mut s), vec![k(4), k(10)], "4 once, nothing SACKed, then new data");
    s.at(700);
    let _ = s.inject(&seg(".", P, k(10)));
    assert!(!s.conn.in_recovery());
    assert_eq!(s.conn.stats().retransmitted_segments, 4, "0, 2, 3 and 4");
}
