//! Resets: RST in every state with RFC 5961's exact-match rule, challenge ACKs for in-window RSTs
//! and SYNs (rate limited), never answering a RST, ABORT, and segments reaching a closed
//! connection.

use core::time::Duration;

use super::harness::*;
use crate::tcp::{ConnectionError, RecvError, SendError, State, TcpConfig};

const D: u32 = ISS + 1;
const P: u32 = PEER_ISS + 1;

/// Drives a fresh connection into `state`.
fn in_state(state: State) -> Script {
    let cfg = plain_config();
    let mut s = match state {
        State::SynReceived => {
            let mut s = Script::accept(&cfg, &seg("S", PEER_ISS, 0));
            s.expect();
            return s;
        }
        _ => Script::established(&cfg),
    };
    match state {
        State::Established => {}
        State::FinWait1 => {
            s.conn.close();
            s.expect();
        }
        State::FinWait2 => {
            s.conn.close();
            s.expect();
            let _ = s.inject(&seg(".", P, D + 1));
        }
        State::CloseWait => {
            let _ = s.inject(&seg("F.", P, D));
            s.expect();
        }
        State::Closing => {
            s.conn.close();
            s.expect();
            let _ = s.inject(&seg("F.", P, D));
            s.expect();
        }
        State::LastAck => {
            let _ = s.inject(&seg("F.", P, D));
            s.expect();
            s.conn.close();
            s.expect();
        }
        State::TimeWait => {
            s.conn.close();
            s.expect();
            let _ = s.inject(&seg("F.", P, D + 1));
            s.expect();
        }
        other => panic!("no recipe for {other}"),
    }
    assert_eq!(s.conn.state(), state);
    s
}

/// The peer's RCV.NXT-side sequence number we expect in `state` (after its FIN, one more).
fn peer_next(state: State) -> u32 {
    match state {
        State::CloseWait | State::Closing | State::LastAck | State::TimeWait => P + 1,
        _ => P,
    }
}

const SYNCHRONIZED: [State; 8] = [
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
    State::SynReceived,
];

#[test]
fn exact_rst_resets_in_every_state() {
    for state in SYNCHRONIZED {
        let mut s = in_state(state);
        let sig = s.inject(&seg("R", peer_next(state), 0));
        assert!(sig.delete, "{state}: an exact RST deletes the connection");
        assert!(sig.reset, "{state}");
        assert_eq!(sig.answer, None, "{state}: a RST is never answered");
        assert!(s.conn.is_closed(), "{state}");
        s.expect_none();
        let expected = match state {
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => Some(ConnectionError::Reset),
            // SYN-RECEIVED from a listener returns to LISTEN; CLOSING, LAST-ACK and TIME-WAIT
            // just close.
            _ => None,
        };
        assert_eq!(s.conn.error(), expected, "{state}");
    }
}

#[test]
fn in_window_rst_gets_a_challenge_ack_in_every_state() {
    for state in SYNCHRONIZED {
        let mut s = in_state(state);
        let sig = s.inject(&seg("R", peer_next(state) + 10, 0));
        assert!(!sig.delete && !sig.reset, "{state}");
        assert_eq!(s.conn.state(), state);
        let ack = s.expect();
        assert!(ack.flags.ack && !ack.flags.rst, "{state}: challenge ACK");
        assert_eq!(ack.ack.0, peer_next(state), "{state}");
        assert_eq!(s.conn.stats().challenge_acks, 1);
    }
}

#[test]
fn out_of_window_rst_is_dropped_silently() {
    for state in SYNCHRONIZED {
        let mut s = in_state(state);
        let sig = s.inject(&seg("R", peer_next(state) + 1_000_000, 0));
        assert!(!sig.delete && !sig.may_send, "{state}");
        s.expect_none();
        // And one just below RCV.NXT.
        let _ = s.inject(&seg("R.", peer_next(state) - 1, D));
        s.expect_none();
        assert_eq!(s.conn.state(), state);
    }
}

#[test]
fn reset_flushes_queues_and_reports_the_error() {
    let mut s = Script::established(&plain_config());
    let _ = s.inject(&seg(".", P, D).data(b"unread"));
    s.expect();
    s.write(b"unsent");
    let _ = s.inject(&seg("R", P + 6, 0));
    let mut buf = [0u8; 16];
    assert_eq!(s.conn.recv(&mut buf), Err(RecvError::Connection(ConnectionError::Reset)));
    assert_eq!(s.conn.send(b"x"), Err(SendError::Connection(ConnectionError::Reset)));
    s.expect_none();
}

#[test]
fn rst_in_syn_received_of_a_simultaneous_open_refuses() {
    let mut s = Script::connect(&plain_config());
    s.expect();
    let _ = s.inject(&seg("S", PEER_ISS, 0));
    s.expect();
    assert_eq!(s.conn.state(), State::SynReceived);
    let sig = s.inject(&seg("R", P, 0));
    assert!(sig.delete && sig.reset);
    assert_eq!(s.conn.error(), Some(ConnectionError::Refused));
}

#[test]
fn syn_in_a_synchronized_state_gets_a_challenge_ack() {
    for state in [State::Established, State::FinWait2, State::CloseWait, State::TimeWait] {
        let mut s = in_state(state);
        // In window or not, a SYN never resets the connection (RFC 5961 §4).
        for seq in [peer_next(state), PEER_ISS + 100_000] {
            let sig = s.inject(&seg("S", seq, 0));
            assert!(!sig.delete, "{state}");
            let ack = s.expect();
            check(&ack, ".", ack.seq.0, peer_next(state), 0);
            assert_eq!(s.conn.state(), state);
        }
    }
}

#[test]
fn new_syn_in_passive_syn_received_returns_to_listen() {
    let mut s = in_state(State::SynReceived);
    let sig = s.inject(&seg("S", P + 3, 0));
    assert!(sig.delete);
    assert!(s.conn.is_closed());
    assert_eq!(s.conn.error(), None);
}

#[test]
fn challenge_acks_are_rate_limited_per_second() {
    let cfg = TcpConfig { challenge_ack_limit: 3, ..plain_config() };
    let mut s = Script::established(&cfg);
    let mut sent = 0;
    for i in 0..10 {
        let _ = s.inject(&seg("R", P + 1 + i, 0));
        if s.conn.poll_transmit(s.now).is_some() {
            sent += 1;
        }
    }
    assert_eq!(sent, 3);
    let _ = s.advance(Duration::from_secs(1));
    let _ = s.inject(&seg("R", P + 1, 0));
    assert!(s.conn.poll_transmit(s.now).is_some(), "a new second, a new budget");
    assert_eq!(s.conn.stats().challenge_acks, 4);
}

#[test]
fn abort_sends_rst_where_the_rfc_says_so() {
    for state in [State::SynReceived, State::Established, State::FinWait1, State::FinWait2, State::CloseWait] {
        let mut s = in_state(state);
        let rst = s.conn.abort().unwrap_or_else(|| panic!("{state}: ABORT sends a RST"));
        assert!(rst.flags.rst && !rst.flags.ack);
        assert!(s.conn.is_closed());
        s.expect_none();
    }
    for state in [State::Closing, State::LastAck, State::TimeWait] {
        let mut s = in_state(state);
        assert_eq!(s.conn.abort(), None, "{state}");
        assert!(s.conn.is_closed());
    }
    let mut s = Script::connect(&plain_config());
    s.expect();
    assert_eq!(s.conn.abort(), None, "SYN-SENT");
}

#[test]
fn closed_connection_answers_with_reset_but_never_to_a_reset() {
    let mut s = Script::established(&plain_config());
    let _ = s.conn.abort();
    let sig = s.inject(&seg(".", P, D + 5).data(b"x"));
    check(&sig.answer.expect("RST"), "R", D + 5, 0, 0);
    let sig = s.inject(&seg("R", P, 0));
    assert_eq!(sig.answer, None);
    let mut buf = [0u8; 1];
    assert_eq!(s.conn.recv(&mut buf), Err(RecvError::Closed));
}

#[test]
fn segment_without_ack_is_dropped_in_synchronized_states() {
    let mut s = Script::established(&plain_config());
    let sig = s.inject(&seg("P", P, 0).data(b"no ack"));
    assert_eq!(sig.delivered, 0);
    s.expect_none();
}
