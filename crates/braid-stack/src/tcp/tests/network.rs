//! Two connections talking through a simulated network that loses, delays, reorders and duplicates
//! segments, with simulated time. Every segment goes through the real wire format (emit, parse,
//! checksum), and the bytes received on each side must be exactly the bytes sent by the other.

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use braid_wire::tcp::{TcpPacket, TcpRepr};

use crate::tcp::{listen_action, Connection, InitialNumbers, ListenAction, RecvError, Segment, Seq, State, TcpConfig};
use crate::time::Instant;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// A small deterministic PRNG (xorshift64*), so every run of a seed is identical.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How hostile the network is.
#[derive(Clone, Copy, Debug)]
struct Impairments {
    loss_per_mille: u64,
    duplicate_per_mille: u64,
    base_delay: Duration,
    /// Uniform extra delay per packet; anything above the packet spacing reorders.
    jitter: Duration,
}

struct InFlight {
    at: Instant,
    /// Send order, so packets due at the same instant arrive in the order they were sent.
    order: u64,
    to_server: bool,
    bytes: Vec<u8>,
}

struct Network {
    rng: Rng,
    imp: Impairments,
    queue: Vec<InFlight>,
    sent: u64,
    lost: u64,
}

impl Network {
    fn send(&mut self, now: Instant, to_server: bool, bytes: Vec<u8>) {
        self.sent += 1;
        if self.rng.chance(self.imp.loss_per_mille) {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.imp.duplicate_per_mille) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = Duration::from_nanos(self.rng.below(self.imp.jitter.as_nanos() as u64 + 1));
            let at = now + self.imp.base_delay + jitter;
            self.queue.push(InFlight { at, order: self.sent, to_server, bytes: bytes.clone() });
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.queue.iter().map(|p| p.at).min()
    }

    /// Removes and returns the earliest packet due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        let (i, _) = self.queue.iter().enumerate().filter(|(_, p)| p.at <= now).min_by_key(|(_, p)| (p.at, p.order))?;
        Some(self.queue.swap_remove(i))
    }
}

/// Emits `seg` from `conn` into wire bytes.
fn emit(conn: &Connection, seg: &Segment, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let repr = conn.repr(seg);
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
    buf
}

fn emit_control(seg: &Segment, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let repr = seg.repr(&[]);
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
    buf
}

/// One side of the transfer: its connection (once it exists), what it must send and what it got.
struct Side {
    conn: Option<Connection>,
    to_send: Vec<u8>,
    written: usize,
    received: Vec<u8>,
    eof: bool,
    closed_write: bool,
}

impl Side {
    fn new(to_send: Vec<u8>) -> Self {
        Side { conn: None, to_send, written: 0, received: Vec::new(), eof: false, closed_write: false }
    }

    /// User activity: write what fits, read what arrived, close when everything is written.
    fn user(&mut self) {
        let Some(conn) = self.conn.as_mut() else { return };
        if self.written < self.to_send.len() {
            if let Ok(n) = conn.send(&self.to_send[self.written..]) {
                self.written += n;
            }
        }
        if self.written == self.to_send.len() && !self.closed_write && conn.state() != State::SynSent {
            conn.close();
            self.closed_write = true;
        }
        let mut buf = [0u8; 4096];
        loop {
            match conn.recv(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(RecvError::Finished) => {
                    self.eof = true;
                    break;
                }
                Err(e) => panic!("connection failed: {e}; {:?} {:?}", conn.stats(), conn.rtt()),
            }
        }
    }

    fn transmit(&mut self, now: Instant, net: &mut Network, to_server: bool) {
        let Some(conn) = self.conn.as_mut() else { return };
        let (src, dst) = if to_server { (CLIENT, SERVER) } else { (SERVER, CLIENT) };
        while let Some(seg) = conn.poll_transmit(now) {
            net.send(now, to_server, emit(conn, &seg, src, dst));
        }
    }
}

/// Runs a bidirectional transfer; returns the simulated duration.
fn transfer(cfg: &TcpConfig, imp: Impairments, seed: u64, up: usize, down: usize) -> Duration {
    let mut net =
        Network { rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1), imp, queue: Vec::new(), sent: 0, lost: 0 };
    let payload = |n: usize, salt: u64| -> Vec<u8> {
        let mut r = Rng(seed ^ salt);
        (0..n).map(|_| r.next() as u8).collect()
    };
    let mut client = Side::new(payload(up, 0xc1));
    let mut server = Side::new(payload(down, 0x5e));
    let mut now = Instant::ZERO;
    let initial = InitialNumbers { iss: Seq(0xffff_f000), ts_offset: 7 };
    client.conn = Some(Connection::connect(now, cfg, 40_000, 443, initial));
    let server_initial = InitialNumbers { iss: Seq(0x7fff_ff00), ts_offset: 99 };

    let done = |c: &Side, s: &Side| {
        c.eof && s.eof && c.received.len() == down && s.received.len() == up && {
            let cs = c.conn.as_ref().map(|c| c.state());
            let ss = s.conn.as_ref().map(|c| c.state());
            matches!(cs, Some(State::TimeWait | State::Closed)) && matches!(ss, Some(State::TimeWait | State::Closed))
        }
    };
    let mut steps = 0u64;
    while !done(&client, &server) {
        steps += 1;
        assert!(steps < 5_000_000, "transfer did not finish (seed {seed})");
        assert!(now < Instant::from_secs(3600), "transfer took over an hour of simulated time (seed {seed})");
        client.user();
        server.user();
        client.transmit(now, &mut net, true);
        server.transmit(now, &mut net, false);
        // Deliver everything due now.
        while let Some(p) = net.pop_due(now) {
            let (src, dst) = if p.to_server { (CLIENT, SERVER) } else { (SERVER, CLIENT) };
            let packet = TcpPacket::new_unchecked(&p.bytes[..]);
            let repr = TcpRepr::parse(&packet, src, dst).expect("the simulated network does not corrupt");
            let side = if p.to_server { &mut server } else { &mut client };
            match side.conn.as_mut() {
                Some(conn) if !conn.is_closed() => {
                    let sig = conn.on_segment(now, &repr);
                    if let Some(answer) = sig.answer {
                        net.send(now, !p.to_server, emit_control(&answer, dst, src));
                    }
                }
                Some(_) => {}
                None => match listen_action(&repr) {
                    ListenAction::Accept => {
                        side.conn = Some(Connection::accept_syn(now, cfg, &repr, server_initial).expect("a SYN"));
                    }
                    ListenAction::Reset(rst) => net.send(now, !p.to_server, emit_control(&rst, dst, src)),
                    ListenAction::Ignore => {}
                },
            }
        }
        client.user();
        server.user();
        client.transmit(now, &mut net, true);
        server.transmit(now, &mut net, false);
        // Sleep until the next event.
        let mut next = net.next_arrival();
        for side in [&client, &server] {
            if let Some(t) = side.conn.as_ref().and_then(|c| c.poll_at()) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        let Some(next) = next else { break };
        if done(&client, &server) {
            break;
        }
        if std::env::var("NETDEBUG").is_ok() && next > now + Duration::from_millis(150) {
            eprintln!("eof {} {} at {now:?} -> {next:?}", client.eof, server.eof);
        }
        now = now.max(next);
        for side in [&mut client, &mut server] {
            if let Some(conn) = side.conn.as_mut() {
                if conn.poll_at().is_some_and(|t| t <= now) {
                    let _ = conn.on_timeout(now);
                }
            }
        }
    }
    assert!(client.received == server.to_send, "server → client stream corrupted (seed {seed})");
    assert!(server.received == client.to_send, "client → server stream corrupted (seed {seed})");
    if imp.loss_per_mille > 0 {
        assert!(net.lost > 0);
        let retransmitted = client.conn.as_ref().map_or(0, |c| c.stats().retransmitted_segments)
            + server.conn.as_ref().map_or(0, |c| c.stats().retransmitted_segments);
        assert!(retransmitted > 0, "losses must have been repaired by retransmissions");
    }
    if std::env::var("NETDEBUG").is_ok() {
        for (name, side) in [("client", &client), ("server", &server)] {
            if let Some(c) = side.conn.as_ref() {
                eprintln!("seed {seed} {name} at {now:?}: {:?}", c.stats());
            }
        }
    }
    now - Instant::ZERO
}

const LOSSY: Impairments = Impairments {
    loss_per_mille: 20,
    duplicate_per_mille: 10,
    base_delay: Duration::from_millis(10),
    jitter: Duration::from_millis(4),
};

#[test]
fn clean_network_transfers_both_ways() {
    let clean = Impairments { loss_per_mille: 0, duplicate_per_mille: 0, jitter: Duration::ZERO, ..LOSSY };
    let t = transfer(&TcpConfig::default(), clean, 1, 1 << 20, 300_000);
    assert!(t < Duration::from_secs(60), "took {t:?}");
}

#[test]
fn lossy_reordering_network_with_sack_and_timestamps() {
    for seed in [2, 3, 4] {
        transfer(&TcpConfig::default(), LOSSY, seed, 3 << 20, 200_000);
    }
}

#[test]
fn lossy_reordering_network_with_newreno_and_no_options() {
    let cfg = TcpConfig { sack: false, timestamps: false, window_scaling: false, ..TcpConfig::default() };
    for seed in [5, 6] {
        transfer(&cfg, LOSSY, seed, 1 << 20, 100_000);
    }
}

#[test]
fn heavy_loss_small_buffers_and_no_delayed_ack() {
    let cfg = TcpConfig {
        send_buffer_size: 7000,
        recv_buffer_size: 5000,
        delayed_ack: None,
        nagle: false,
        ..TcpConfig::default()
    };
    let imp = Impairments { loss_per_mille: 100, duplicate_per_mille: 50, jitter: Duration::from_millis(30), ..LOSSY };
    transfer(&cfg, imp, 7, 200_000, 200_000);
}
