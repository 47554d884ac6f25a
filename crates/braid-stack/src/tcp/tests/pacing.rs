//! Pacing: a window spread over the round trip (2× the window per RTT in slow start), in
//! bursts of at most a millisecond's worth, and never an ACK held back behind paced data.

use core::time::Duration;

use super::harness::*;
use crate::tcp::TcpConfig;
use crate::time::Instant;

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

fn paced() -> TcpConfig {
    TcpConfig { pacing: true, initial_window_segments: Some(10), ..plain_config() }
}

#[test]
fn an_initial_window_leaves_spread_over_half_a_round_trip() {
    // SRTT 100 ms, cwnd 10 × 1000 B in slow start: 200 kB/s, one segment every 5 ms.
    let mut s = Script::established(&paced());
    s.write(&pattern(0, 10_000));
    let mut sent = Vec::new();
    while let Some((at, seg)) = s.next_emission(Duration::from_millis(100)) {
        assert_eq!(seg.payload_len, 1000);
        sent.push(at);
        if sent.len() == 10 {
            break;
        }
    }
    assert_eq!(sent.len(), 10, "the whole window went out");
    assert_eq!(sent[0], Instant::from_millis(100), "the first at once");
    for pair in sent.windows(2) {
        let gap = pair[1].saturating_duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(4) && gap <= Duration::from_millis(5), "{gap:?}");
    }
    let spread = sent[9].saturating_duration_since(sent[0]);
    assert!(spread >= Duration::from_millis(36) && spread <= Duration::from_millis(50), "{spread:?}");
}

#[test]
fn without_pacing_the_window_is_one_burst() {
    let mut s = Script::established(&TcpConfig { initial_window_segments: Some(10), ..plain_config() });
    s.write(&pattern(0, 10_000));
    for _ in 0..10 {
        s.expect_data();
    }
    s.expect_none();
}

#[test]
fn an_ack_is_never_held_back_behind_paced_data() {
    let mut s = Script::established(&paced());
    s.write(&pattern(0, 5_000));
    s.expect_data();
    // The next data segment waits for its time, the ACK for the peer's data does not.
    let _ = s.inject(&seg(".", P, D).data(b"hello"));
    let ack = s.expect();
    assert_eq!(ack.payload_len, 0);
    check(&ack, ".", D + 1000, P + 5, 0);
    s.expect_none();
    assert!(s.conn.poll_at().is_some_and(|t| t > s.now), "data is due later");
}
