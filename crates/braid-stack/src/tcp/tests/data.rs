//! Data transfer in ESTABLISHED: segmentation, Nagle, delayed ACKs, out-of-order delivery, buffer
//! limits and window updates.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{RecvError, State, TcpConfig, TimerKind};
use crate::time::Instant;

const D: u32 = ISS + 1; // our first data sequence number
const P: u32 = PEER_ISS + 1; // the peer's first data sequence number

#[test]
fn writes_are_cut_into_mss_segments_and_nagle_holds_the_tail() {
    let mut s = Script::established(&plain_config());
    let data = pattern(0, 2500);
    s.write(&data);
    let (a, bytes_a) = s.expect_data();
    check(&a, ".", D, P, 1000);
    assert!(!a.flags.psh);
    assert_eq!(bytes_a, &data[..1000]);
    let (b, bytes_b) = s.expect_data();
    check(&b, ".", D + 1000, P, 1000);
    assert_eq!(bytes_b, &data[1000..2000]);
    // 500 bytes left, less than a segment, with data in flight: Nagle waits.
    s.expect_none();
    let sig = s.inject(&seg(".", P, D + 1000));
    assert_eq!(sig.acked, 1000);
    // Still one segment in flight: Nagle keeps waiting.
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 2000));
    let (c, bytes_c) = s.expect_data();
    check(&c, ".", D + 2000, P, 500);
    assert!(c.flags.psh, "the segment that empties the buffer is pushed");
    assert_eq!(bytes_c, &data[2000..]);
    let _ = s.inject(&seg(".", P, D + 2500));
    assert_eq!(s.conn.send_queue(), 0);
    assert_eq!(s.conn.timer(TimerKind::Retransmit), None, "nothing outstanding");
}

#[test]
fn nagle_coalesces_small_writes_and_can_be_disabled() {
    let mut s = Script::established(&plain_config());
    s.write(b"a");
    check(&s.expect(), ".", D, P, 1);
    s.write(b"b");
    s.write(b"c");
    s.expect_none();
    let _ = s.inject(&seg(".", P, D + 1));
    let (seg2, bytes) = s.expect_data();
    check(&seg2, ".", D + 1, P, 2);
    assert_eq!(bytes, b"bc");

    s.conn.set_nagle(false);
    s.write(b"d");
    check(&s.expect(), ".", D + 3, P, 1);
    s.write(b"e");
    check(&s.expect(), ".", D + 4, P, 1);
}

#[test]
fn received_data_is_acknowledged_at_once_without_delayed_acks() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg(".P", P, D).data(b"hello"));
    assert_eq!(sig.delivered, 5);
    assert!(sig.may_send);
    check(&s.expect(), ".", D, P + 5, 0);
    assert_eq!(s.read_all(), b"hello");
    let mut buf = [0u8; 8];
    assert_eq!(s.conn.recv(&mut buf), Ok(0), "nothing more yet");
}

#[test]
fn delayed_ack_waits_but_acks_every_second_full_segment() {
    let cfg = TcpConfig { delayed_ack: Some(Duration::from_millis(40)), ..plain_config() };
    let mut s = Script::established(&cfg);
    s.at(1000);
    let sig = s.inject(&seg(".", P, D).data(&pattern(0, 100)));
    assert!(!sig.may_send, "a single small segment is not acknowledged at once");
    s.expect_none();
    assert_eq!(s.conn.poll_at(), Some(Instant::from_millis(1040)));
    s.at(1039);
    s.expect_none();
    s.at(1040);
    check(&s.expect(), ".", D, P + 100, 0);
    // Two full-sized segments: the second is acknowledged immediately.
    let _ = s.inject(&seg(".", P + 100, D).len(1000));
    s.expect_none();
    let sig = s.inject(&seg(".", P + 1100, D).len(1000));
    assert!(sig.may_send);
    check(&s.expect(), ".", D, P + 2100, 0);
    assert_eq!(s.conn.timer(TimerKind::DelayedAck), None, "sending the ACK cancels the timer");
}

#[test]
fn delayed_ack_timeout_is_capped_at_500ms() {
    let cfg = TcpConfig { delayed_ack: Some(Duration::from_secs(3)), ..plain_config() };
    let mut s = Script::established(&cfg);
    let _ = s.inject(&seg(".", P, D).len(10));
    assert_eq!(s.conn.timer(TimerKind::DelayedAck), Some(s.now + Duration::from_millis(500)));
}

#[test]
fn data_piggybacks_the_pending_ack() {
    let cfg = TcpConfig { delayed_ack: Some(Duration::from_millis(40)), ..plain_config() };
    let mut s = Script::established(&cfg);
    let _ = s.inject(&seg(".", P, D).data(b"ping"));
    s.write(b"pong");
    check(&s.expect(), ".", D, P + 4, 4);
    s.expect_none();
    assert_eq!(s.conn.timer(TimerKind::DelayedAck), None);
}

#[test]
fn out_of_order_data_is_acked_at_once_and_delivered_in_order() {
    let cfg = TcpConfig { delayed_ack: Some(Duration::from_millis(40)), ..plain_config() };
    let mut s = Script::established(&cfg);
    let stream = pattern(0, 3000);
    // Segments 2 and 3 arrive before 1.
    let sig = s.inject(&seg(".", P + 1000, D).data(&stream[1000..2000]));
    assert_eq!(sig.delivered, 0);
    check(&s.expect(), ".", D, P, 0); // duplicate ACK
    let _ = s.inject(&seg(".", P + 2000, D).data(&stream[2000..3000]));
    check(&s.expect(), ".", D, P, 0);
    assert_eq!(s.conn.stats().out_of_order_segments, 2);
    let sig = s.inject(&seg(".", P, D).data(&stream[..1000]));
    assert_eq!(sig.delivered, 3000);
    check(&s.expect(), ".", D, P + 3000, 0); // the gap fill is acknowledged immediately
    assert_eq!(s.read_all(), stream);
}

#[test]
fn overlapping_and_duplicate_segments_are_trimmed() {
    let mut s = Script::established(&plain_config());
    let stream = pattern(0, 300);
    let _ = s.inject(&seg(".", P, D).data(&stream[..200]));
    s.expect();
    // Retransmission overlapping old and new data: only the new part is taken.
    let sig = s.inject(&seg(".", P + 100, D).data(&stream[100..300]));
    assert_eq!(sig.delivered, 100);
    s.expect();
    // A pure duplicate is acknowledged (duplicate ACK) and ignored.
    let sig = s.inject(&seg(".", P, D).data(&stream[..200]));
    assert_eq!(sig.delivered, 0);
    check(&s.expect(), ".", D, P + 300, 0);
    assert_eq!(s.read_all(), stream);
}

#[test]
fn send_buffer_limits_writes_and_acks_free_room() {
    let cfg = TcpConfig { send_buffer_size: 3000, ..plain_config() };
    let mut s = Script::established(&cfg);
    assert_eq!(s.conn.send(&pattern(0, 5000)), Ok(3000));
    assert_eq!(s.conn.send(b"x"), Ok(0));
    assert_eq!(s.conn.send_capacity(), 0);
    for i in 0..3 {
        check(&s.expect(), ".", D + i * 1000, P, 1000);
    }
    let sig = s.inject(&seg(".", P, D + 1000));
    assert_eq!(sig.acked, 1000);
    assert_eq!(s.conn.send_capacity(), 1000);
    assert_eq!(s.conn.stats().bytes_acked, 1000);
}

#[test]
fn full_receive_buffer_closes_the_window_and_reading_reopens_it() {
    let cfg = TcpConfig { recv_buffer_size: 2000, ..plain_config() };
    let mut s = Script::established(&cfg);
    let _ = s.inject(&seg(".", P, D).len(1000));
    let a = s.expect();
    assert_eq!(a.window, 1000);
    let _ = s.inject(&seg(".", P + 1000, D).len(1000));
    let a = s.expect();
    check(&a, ".", D, P + 2000, 0);
    assert_eq!(a.window, 0);
    // More data against a zero window is dropped and answered with an ACK.
    let sig = s.inject(&seg(".", P + 2000, D).len(10));
    assert_eq!(sig.delivered, 0);
    let a = s.expect();
    check(&a, ".", D, P + 2000, 0);
    assert_eq!(a.window, 0);
    // Reading a little is not worth a window update (less than min(buffer/2, MSS)).
    let mut buf = [0u8; 500];
    assert_eq!(s.conn.recv(&mut buf), Ok(500));
    s.expect_none();
    // Reading enough announces the window at once.
    assert_eq!(s.conn.recv(&mut buf), Ok(500));
    let a = s.expect();
    assert_eq!(a.window, 1000);
}

#[test]
fn ack_for_unsent_data_is_answered_and_dropped() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg(".", P, D + 10).data(b"xyz"));
    assert_eq!(sig.delivered, 0, "the segment is dropped entirely");
    check(&s.expect(), ".", D, P, 0);
    assert_eq!(s.conn.stats().segments_dropped, 1);
}

#[test]
fn segments_for_other_ports_are_ignored() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg(".", P, D).data(b"abc").ports(REMOTE_PORT + 1, LOCAL_PORT));
    assert_eq!(sig, Default::default());
    s.expect_none();
}

#[test]
fn out_of_window_segment_gets_an_ack_and_old_acks_are_harmless() {
    let mut s = Script::established(&plain_config());
    let _ = s.inject(&seg(".", P + 1_000_000, D).data(b"far away"));
    check(&s.expect(), ".", D, P, 0);
    s.write(b"abc");
    s.expect();
    // An ACK below SND.UNA but within the window is simply old.
    let _ = s.inject(&seg(".", P, D - 1));
    s.expect_none();
    assert_eq!(s.conn.state(), State::Established);
}

#[test]
fn shutdown_read_discards_incoming_data_but_acknowledges_it() {
    let mut s = Script::established(&plain_config());
    s.conn.shutdown(crate::tcp::Shutdown::Read);
    let sig = s.inject(&seg(".", P, D).data(b"ignored"));
    assert_eq!(sig.delivered, 7);
    check(&s.expect(), ".", D, P + 7, 0);
    assert_eq!(s.conn.recv_queue(), 0);
    let mut buf = [0u8; 4];
    assert_eq!(s.conn.recv(&mut buf), Err(RecvError::Closed));
}

#[test]
fn peek_and_consume_read_without_copying() {
    let mut s = Script::established(&plain_config());
    let _ = s.inject(&seg(".", P, D).data(b"abcdef"));
    let (a, b) = s.conn.peek();
    assert_eq!([a, b].concat(), b"abcdef");
    assert_eq!(s.conn.consume(4), 4);
    assert_eq!(s.read_all(), b"ef");
}
