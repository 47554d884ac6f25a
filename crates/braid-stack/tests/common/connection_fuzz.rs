//! The `tcp_connection` fuzz driver: one TCP connection fed an arbitrary sequence of segments,
//! timer expiries and user calls.
//!
//! Segments are built relative to what the connection last sent (so the fuzzer reaches the
//! synchronized states instead of bouncing off the acceptability test), with arbitrary flags,
//! windows, options and payloads. The connection must never panic, `poll_transmit` must always
//! run dry, every returned segment must match its payload and serialize, a RST must never be
//! answered, and no timer may stay due once it ran. ICMP errors quoting sequence numbers near
//! what was sent are mixed in: they may lower the MSS or end the connection, never raise the MSS.
//!
//! Shared, so one copy drives both: the fuzz target (fuzz/fuzz_targets/tcp_connection.rs
//! includes this file) and the regression test that replays the inputs it once found crashing
//! (tests/fuzz_regressions.rs), which needs neither cargo-fuzz nor nightly.

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use braid_stack::tcp::{Connection, InitialNumbers, KeepAlive, Seq, SoftError, TcpConfig, MIN_PATH_MSS};
use braid_stack::time::Instant;
use braid_wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// Reads fuzzer bytes as numbers; zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the scripted peer believes: the next sequence number it sends and what it acknowledges.
struct Peer {
    seq: Seq,
    ack: Seq,
}

fn drain(conn: &mut Connection, now: Instant, peer: &mut Peer) {
    for _ in 0..100_000 {
        let Some(seg) = conn.poll_transmit(now) else { return };
        let payload = conn.payload(&seg);
        assert_eq!(payload.len(), seg.payload_len, "payload range must be contiguous and whole");
        let repr = conn.repr(&seg);
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), LOCAL, REMOTE);
        let parsed = TcpRepr::parse(&TcpPacket::new_unchecked(&buf[..]), LOCAL, REMOTE).expect("own segment parses");
        assert_eq!(parsed.payload, payload);
        assert!(!seg.flags.rst, "poll_transmit never emits resets");
        if seg.flags.ack {
            peer.seq = seg.ack;
        }
        let end = seg.seq + seg.segment_len();
        if end > peer.ack {
            peer.ack = end;
        }
    }
    panic!("poll_transmit did not run dry");
}

/// Runs one fuzz input through the driver; panics where the fuzz target would.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.u8();
    let cfg = TcpConfig {
        sack: mode & 1 != 0,
        timestamps: mode & 2 != 0,
        window_scaling: mode & 4 != 0,
        nagle: mode & 8 != 0,
        delayed_ack: (mode & 16 != 0).then(|| Duration::from_millis(40)),
        keep_alive: (mode & 64 != 0).then(|| KeepAlive {
            idle: Duration::from_secs(5),
            interval: Duration::from_secs(1),
            probes: 2,
        }),
        send_buffer_size: 1 + usize::from(input.u16()) % 9000,
        recv_buffer_size: 1 + usize::from(input.u16()) % 9000,
        mss: 64 + input.u16() % 1500,
        max_retransmissions: 4,
        max_syn_retransmissions: 2,
        ..TcpConfig::default()
    };
    let mut now = Instant::ZERO;
    let initial = InitialNumbers { iss: Seq(input.u32()), ts_offset: input.u32() };
    let peer_iss = Seq(input.u32());
    let mut peer = Peer { seq: peer_iss, ack: initial.iss };
    let mut conn = if mode & 32 != 0 {
        let syn = TcpRepr {
            src_port: 2000,
            dst_port: 80,
            seq: peer_iss.0,
            ack: 0,
            flags: TcpFlags { syn: true, ..TcpFlags::default() },
            window: input.u16(),
            urgent: 0,
            options: TcpOptions {
                mss: Some(input.u16()),
                window_scale: Some(input.u8() % 16),
                sack_permitted: true,
                timestamps: Some((input.u32(), 0)),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        peer.seq = peer_iss + 1u32;
        Connection::accept_syn(now, &cfg, &syn, initial).expect("a SYN")
    } else {
        Connection::connect(now, &cfg, 80, 2000, initial)
    };
    drain(&mut conn, now, &mut peer);

    let mut scratch = [0u8; 4096];
    while !input.is_empty() {
        match input.u8() % 12 {
            0..=5 => {
                let flags = TcpFlags::from_byte(input.u8());
                let control = input.u8();
                let seq = if control & 1 != 0 { Seq(input.u32()) } else { peer.seq + (input.u8() as i8 as i32 as u32) };
                let ack = if control & 2 != 0 { Seq(input.u32()) } else { peer.ack + (input.u8() as i8 as i32 as u32) };
                let mut options = TcpOptions::default();
                if control & 4 != 0 {
                    options.timestamps = Some((input.u32(), input.u32()));
                }
                if control & 8 != 0 {
                    for slot in options.sack_blocks.iter_mut().take(usize::from(input.u8() % 5)) {
                        let left = peer.ack + (input.u16() as i16 as i32 as u32);
                        *slot = Some((left.0, (left + u32::from(input.u16())).0));
                    }
                }
                if control & 16 != 0 {
                    options.mss = Some(input.u16());
                    options.window_scale = Some(input.u8());
                    options.sack_permitted = true;
                }
                let (src_port, dst_port) = if control & 32 != 0 { (input.u16(), input.u16()) } else { (2000, 80) };
                let window = input.u16();
                let len = usize::from(input.u8());
                let payload = input.bytes(len);
                let repr =
                    TcpRepr { src_port, dst_port, seq: seq.0, ack: ack.0, flags, window, urgent: 0, options, payload };
                let sig = conn.on_segment(now, &repr);
                if let Some(answer) = sig.answer {
                    assert!(!flags.rst, "a RST is never answered");
                    assert!(answer.flags.rst);
                }
                if flags.rst {
                    // Nothing may be sent *because of* a RST except a challenge ACK.
                    if let Some(seg) = conn.poll_transmit(now) {
                        assert!(seg.flags.ack && !seg.flags.rst && !seg.flags.syn);
                        assert_eq!(seg.payload_len, 0);
                    }
                }
            }
            6 | 7 => {
                now += Duration::from_millis(u64::from(input.u16()));
                if conn.poll_at().is_some_and(|t| t <= now) {
                    let _ = conn.on_timeout(now);
                }
            }
            8 => {
                let n = usize::from(input.u16() % 3000);
                let data = vec![0xa5u8; n];
                let _ = conn.send(&data);
            }
            9 => {
                let n = usize::from(input.u16()) % scratch.len();
                let _ = conn.recv(&mut scratch[..n]);
            }
            10 => conn.close(),
            _ => match input.u8() % 6 {
                0 => {
                    let _ = conn.abort();
                }
                1 => conn.shutdown(braid_stack::tcp::Shutdown::Read),
                2 => conn.set_nagle(input.u8() & 1 == 0),
                3 => {
                    let n = usize::from(input.u16());
                    let _ = conn.consume(n);
                }
                4 => {
                    // An ICMP "packet too big" quoting a segment near what was last sent.
                    let quoted = peer.ack + (input.u16() as i16 as i32 as u32);
                    let mss = u32::from(input.u16());
                    let before = conn.negotiated().mss;
                    if conn.on_packet_too_big(now, mss, quoted).is_some() {
                        let after = conn.negotiated().mss;
                        assert!(after <= before, "ICMP never raises the MSS");
                        assert!(after >= before.min(MIN_PATH_MSS), "nor lowers it below the floor");
                    } else {
                        assert_eq!(conn.negotiated().mss, before, "a rejected quote changes nothing");
                    }
                }
                _ => {
                    // An ICMP unreachable / time exceeded / parameter problem.
                    const ERRORS: [SoftError; 7] = [
                        SoftError::NetworkUnreachable,
                        SoftError::HostUnreachable,
                        SoftError::ProtocolUnreachable,
                        SoftError::PortUnreachable,
                        SoftError::Prohibited,
                        SoftError::TimeExceeded,
                        SoftError::ParameterProblem,
                    ];
                    let error = ERRORS[usize::from(input.u8()) % ERRORS.len()];
                    let quoted = peer.ack + (input.u16() as i16 as i32 as u32);
                    let _ = conn.on_soft_error(error, quoted);
                }
            },
        }
        drain(&mut conn, now, &mut peer);
        // Nothing due may remain unprocessed: a few rounds of timers and sending leave poll_at in
        // the future (a timer re-armed at or before now would make a driver spin).
        for _ in 0..4 {
            match conn.poll_at() {
                Some(at) if at <= now && at != Instant::ZERO => {
                    let _ = conn.on_timeout(now);
                    drain(&mut conn, now, &mut peer);
                }
                _ => break,
            }
        }
        if let Some(at) = conn.poll_at() {
            assert!(at > now || at == Instant::ZERO, "a timer stays due at {at:?} after running at {now:?}");
        }
    }
}
