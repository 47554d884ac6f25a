//! A packetdrill-like scripting harness: one connection under test, segments injected by hand,
//! every emitted segment asserted, and simulated time advanced explicitly.

use braid_wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use core::time::Duration;

use crate::tcp::{Connection, InitialNumbers, Segment, Seq, Signals, State, TcpConfig};
use crate::time::Instant;

/// Our port in every script.
pub const LOCAL_PORT: u16 = 80;
/// The scripted peer's port.
pub const REMOTE_PORT: u16 = 40_000;
/// Our ISS.
pub const ISS: u32 = 1000;
/// The scripted peer's ISS.
pub const PEER_ISS: u32 = 5000;

/// A configuration without options, delayed ACKs or Nagle surprises unless a test wants them.
pub fn plain_config() -> TcpConfig {
    TcpConfig {
        window_scaling: false,
        sack: false,
        timestamps: false,
        delayed_ack: None,
        mss: 1000,
        send_buffer_size: 64 * 1024,
        recv_buffer_size: 32 * 1024,
        ..TcpConfig::default()
    }
}

/// An arriving segment, built packetdrill-style.
#[derive(Clone, Debug)]
pub struct Seg {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
    pub src_port: u16,
    pub dst_port: u16,
}

/// Parses packetdrill's flag letters: `S` SYN, `.` ACK, `F` FIN, `R` RST, `P` PSH.
pub fn flags(spec: &str) -> TcpFlags {
    let mut f = TcpFlags::default();
    for c in spec.chars() {
        match c {
            'S' => f.syn = true,
            '.' => f.ack = true,
            'F' => f.fin = true,
            'R' => f.rst = true,
            'P' => f.psh = true,
            other => panic!("unknown flag {other}"),
        }
    }
    f
}

/// A segment from the peer with flags `spec`, sequence `seq` and acknowledgment `ack`.
pub fn seg(spec: &str, seq: u32, ack: u32) -> Seg {
    Seg {
        seq,
        ack,
        flags: flags(spec),
        window: 65535,
        options: TcpOptions::default(),
        payload: Vec::new(),
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
    }
}

impl Seg {
    pub fn win(mut self, w: u16) -> Self {
        self.window = w;
        self
    }
    pub fn data(mut self, bytes: &[u8]) -> Self {
        self.payload = bytes.to_vec();
        self
    }
    pub fn len(mut self, n: usize) -> Self {
        self.payload = (0..n).map(|i| (i % 251) as u8).collect();
        self
    }
    pub fn mss(mut self, m: u16) -> Self {
        self.options.mss = Some(m);
        self
    }
    pub fn ws(mut self, s: u8) -> Self {
        self.options.window_scale = Some(s);
        self
    }
    pub fn sack_ok(mut self) -> Self {
        self.options.sack_permitted = true;
        self
    }
    pub fn ts(mut self, val: u32, ecr: u32) -> Self {
        self.options.timestamps = Some((val, ecr));
        self
    }
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Self {
        for (slot, b) in self.options.sack_blocks.iter_mut().zip(blocks) {
            *slot = Some(*b);
        }
        self
    }
    pub fn ports(mut self, src: u16, dst: u16) -> Self {
        self.src_port = src;
        self.dst_port = dst;
        self
    }
    pub fn repr(&self) -> TcpRepr<'_> {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
            payload: &self.payload,
        }
    }
}

/// The connection under test plus the simulated clock.
pub struct Script {
    pub conn: Connection,
    pub now: Instant,
}

/// Asserts a segment's flags (packetdrill letters), sequence and acknowledgment numbers.
#[track_caller]
pub fn check(s: &Segment, spec: &str, seq: u32, ack: u32, len: usize) {
    let f = flags(spec);
    assert_eq!(s.flags.syn, f.syn, "SYN in {s:?}");
    assert_eq!(s.flags.ack, f.ack, "ACK in {s:?}");
    assert_eq!(s.flags.fin, f.fin, "FIN in {s:?}");
    assert_eq!(s.flags.rst, f.rst, "RST in {s:?}");
    assert_eq!(s.seq, Seq(seq), "seq of {s:?}");
    if f.ack {
        assert_eq!(s.ack, Seq(ack), "ack of {s:?}");
    }
    assert_eq!(s.payload_len, len, "payload length of {s:?}");
}

impl Script {
    /// A connection that just called connect (SYN-SENT, SYN not yet polled).
    pub fn connect(cfg: &TcpConfig) -> Script {
        let initial = InitialNumbers { iss: Seq(ISS), ts_offset: 0 };
        let conn = Connection::connect(Instant::ZERO, cfg, LOCAL_PORT, REMOTE_PORT, initial);
        Script { conn, now: Instant::ZERO }
    }

    /// A connection accepted from `syn` (SYN-RECEIVED, SYN-ACK not yet polled).
    pub fn accept(cfg: &TcpConfig, syn: &Seg) -> Script {
        let initial = InitialNumbers { iss: Seq(ISS), ts_offset: 0 };
        let conn = Connection::accept_syn(Instant::ZERO, cfg, &syn.repr(), initial).expect("a SYN");
        Script { conn, now: Instant::ZERO }
    }

    /// Active open completed with a plain SYN-ACK (peer window 65535, MSS 1000) after 100 ms, so
    /// SRTT = 100 ms, RTTVAR = 50 ms and RTO = 300 ms.
    pub fn established(cfg: &TcpConfig) -> Script {
        Script::established_with(cfg, seg("S.", PEER_ISS, ISS + 1).mss(1000))
    }

    /// Active open completed with the given SYN-ACK after 100 ms.
    pub fn established_with(cfg: &TcpConfig, synack: Seg) -> Script {
        let mut s = Script::connect(cfg);
        let syn = s.expect();
        check(&syn, "S", ISS, 0, 0);
        s.at(100);
        let sig = s.inject(&synack);
        assert!(sig.established);
        let ack = s.expect();
        check(&ack, ".", ISS + 1, PEER_ISS + 1, 0);
        s.expect_none();
        assert_eq!(s.conn.state(), State::Established);
        s
    }

    /// Feeds a segment.
    pub fn inject(&mut self, seg: &Seg) -> Signals {
        self.conn.on_segment(self.now, &seg.repr())
    }

    /// The next segment, which must exist.
    #[track_caller]
    pub fn expect(&mut self) -> Segment {
        match self.conn.poll_transmit(self.now) {
            Some(s) => s,
            None => panic!("expected a segment at {:?} in {}", self.now, self.conn.state()),
        }
    }

    /// The next segment with its payload bytes.
    #[track_caller]
    pub fn expect_data(&mut self) -> (Segment, Vec<u8>) {
        let s = self.expect();
        let data = self.conn.payload(&s).to_vec();
        assert_eq!(data.len(), s.payload_len);
        (s, data)
    }

    /// Asserts nothing is ready to send.
    #[track_caller]
    pub fn expect_none(&mut self) {
        if let Some(s) = self.conn.poll_transmit(self.now) {
            panic!("expected silence at {:?} in {}, got {s:?}", self.now, self.conn.state());
        }
    }

    /// Moves the clock to `ms` milliseconds after the origin and runs due timers.
    pub fn at(&mut self, ms: u64) {
        let _ = self.tick(ms);
    }

    /// Like [`Script::at`], returning what the timers signalled.
    pub fn tick(&mut self, ms: u64) -> Signals {
        self.now = Instant::from_millis(ms);
        self.run_timers()
    }

    /// Moves the clock forward by `d` and runs due timers.
    pub fn advance(&mut self, d: Duration) -> Signals {
        self.now += d;
        self.run_timers()
    }

    fn run_timers(&mut self) -> Signals {
        match self.conn.poll_at() {
            Some(t) if t <= self.now => self.conn.on_timeout(self.now),
            _ => Signals::default(),
        }
    }

    /// Advances to each timer deadline in turn (up to `limit`), returning the first segment emitted
    /// and when. Used to measure retransmission timeouts exactly.
    pub fn next_emission(&mut self, limit: Duration) -> Option<(Instant, Segment)> {
        let end = self.now + limit;
        loop {
            if let Some(s) = self.conn.poll_transmit(self.now) {
                return Some((self.now, s));
            }
            let at = self.conn.poll_at()?;
            if at > end {
                return None;
            }
            self.now = self.now.max(at);
            let _ = self.conn.on_timeout(self.now);
            if self.conn.is_closed() {
                return None;
            }
        }
    }

    /// Writes `data` and asserts all of it was taken.
    #[track_caller]
    pub fn write(&mut self, data: &[u8]) {
        assert_eq!(self.conn.send(data), Ok(data.len()));
    }

    /// Reads everything readable.
    pub fn read_all(&mut self) -> Vec<u8> {
        let mut out = vec![0u8; 1 << 20];
        let n = self.conn.recv(&mut out).unwrap_or(0);
        out.truncate(n);
        out
    }
}

/// `n` bytes of a recognisable pattern starting at stream offset `from`.
pub fn pattern(from: usize, n: usize) -> Vec<u8> {
    (from..from + n).map(|i| (i % 251) as u8).collect()
}
