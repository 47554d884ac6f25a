//! One TCP connection as a Mealy machine (RFC 9293 §3.10), with its buffers, timers, RTT estimator,
//! congestion controller and loss recovery.
//!
//! Inputs are segments ([`Connection::on_segment`]), the passage of time
//! ([`Connection::on_timeout`]) and user calls (`send`, `recv`, `close`, `shutdown`, `abort`).
//! Outputs are [`Signals`] and the segments [`Connection::poll_transmit`] hands out one at a time.
//! The connection never touches a clock, an RNG or the network, and never allocates after it is
//! created: both rings are allocated once, every other structure is fixed-size.
//!
//! The submodules hold the three directions of the machine: `input` (arriving segments), `output`
//! (what to send next) and `timeouts` (expired timers); `icmp` takes the ICMP errors the interface
//! matched to the connection.

mod icmp;
mod input;
mod output;
mod timeouts;

pub use icmp::MIN_PATH_MSS;

use braid_wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use core::time::Duration;

use super::config::TcpConfig;
use super::congestion::CongestionControl;
use super::error::{AcceptError, ConnectionError, RecvError, SendError, SoftError};
use super::isn::InitialNumbers;
use super::recovery::{Phase, Recovery};
use super::recv_buffer::RecvBuffer;
use super::rtt::{RtoBounds, RttEstimator};
use super::segment::Segment;
use super::send_buffer::SendBuffer;
use super::seq::Seq;
use super::signals::Signals;
use super::state::State;
use super::timers::{TimerKind, Timers};
use crate::time::Instant;

/// Bytes the timestamps option takes in every segment once negotiated (NOP NOP + 10).
const TIMESTAMPS_LEN: u32 = 12;

/// Floor of the tail-loss-probe timeout, so a sub-millisecond SRTT (and the millisecond
/// resolution of timestamp samples) cannot turn probes into a stream of spurious retransmissions.
pub const MIN_PROBE_TIMEOUT: Duration = Duration::from_millis(10);

/// Counters a connection keeps about itself, for tests, metrics and `show`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Segments fed to [`Connection::on_segment`].
    pub segments_received: u64,
    /// Segments returned by [`Connection::poll_transmit`].
    pub segments_sent: u64,
    /// Segments dropped: unacceptable sequence or ACK numbers, wrong ports, missing ACK.
    pub segments_dropped: u64,
    /// Segments rejected by PAWS (RFC 7323 §5) or for lacking a negotiated timestamp.
    pub paws_rejected: u64,
    /// Data segments that arrived beyond a hole.
    pub out_of_order_segments: u64,
    /// Bytes delivered in order into the receive buffer.
    pub bytes_received: u64,
    /// Send-buffer bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Segments carrying already-sent sequence space.
    pub retransmitted_segments: u64,
    /// Loss-recovery episodes started by duplicate ACKs or SACK (fast retransmits).
    pub fast_retransmits: u64,
    /// Retransmissions found lost from SACK information (and resent) without an RTO.
    pub lost_retransmissions: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// Retransmission timer expirations.
    pub timeouts: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keep-alive probes sent.
    pub keep_alive_probes: u64,
}

/// Which direction(s) [`Connection::shutdown`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// Stop reading: buffered and future data is discarded (still acknowledged).
    Read,
    /// Stop writing: send a FIN after the queued data (the RFC's CLOSE).
    Write,
    /// Both.
    Both,
}

/// A TCP connection (everything but LISTEN, which belongs to the endpoint).
///
/// # Driving it
/// ```text
/// // a segment arrived for this four-tuple:
/// let sig = conn.on_segment(now, &repr);   // act on sig.answer / sig.delete / sig.delivered ...
/// // time passed:
/// if conn.poll_at().is_some_and(|t| t <= now) { let sig = conn.on_timeout(now); }
/// // after any input or user call:
/// while let Some(seg) = conn.poll_transmit(now) {
///     let repr = conn.repr(&seg);            // borrows the payload from the send buffer
///     /* emit repr inside an IP packet */
/// }
/// // sleep until conn.poll_at() (an instant <= now means "poll again right away")
/// ```
/// Call `poll_transmit` only when the device can take a packet: the connection commits to a
/// segment when it returns it (a segment lost afterwards is recovered like any network loss).
#[derive(Debug)]
pub struct Connection {
    cfg: TcpConfig,
    state: State,
    /// Opened by `accept_syn` (a listener), as opposed to `connect`.
    passive: bool,
    local_port: u16,
    remote_port: u16,
    error: Option<ConnectionError>,
    /// The last ICMP error about our segments and `SND.UNA` when it came (see `icmp`).
    soft_error: Option<(SoftError, Seq)>,
    /// An IPv4 path below 576 bytes was reported: segments leave without DF (see `icmp.rs`).
    may_fragment: bool,

    // Send sequence space (RFC 9293 §3.3.1), plus SND.MAX, the highest sequence number sent.
    iss: Seq,
    snd_una: Seq,
    snd_nxt: Seq,
    snd_max: Seq,
    /// Send window in bytes (already scaled).
    snd_wnd: u32,
    snd_wl1: Seq,
    snd_wl2: Seq,
    /// Largest window the peer ever offered (RFC 5961 §5.2, RFC 1122 SWS avoidance).
    max_snd_wnd: u32,
    snd_shift: u8,
    send_buf: SendBuffer,
    /// Sequence number of the first byte in `send_buf`.
    send_buf_seq: Seq,
    /// The user closed the send direction; the FIN follows the last byte in `send_buf`.
    fin_queued: bool,

    // Receive sequence space.
    irs: Seq,
    rcv_nxt: Seq,
    rcv_shift: u8,
    recv_buf: RecvBuffer,
    /// Sequence number of the peer's FIN once seen (possibly beyond a hole).
    remote_fin: Option<Seq>,
    /// The peer's FIN was reached in order.
    fin_received: bool,
    read_closed: bool,
    last_ack_sent: Seq,
    /// Window (bytes) announced in the last segment we sent.
    last_window_sent: u32,
    /// In-order bytes received since we last sent an acknowledgment.
    unacked_bytes: usize,
    /// An acknowledgment must go out at once.
    ack_now: bool,

    // Negotiated options.
    offered_shift: u8,
    /// Window scaling is on (both SYNs carried the option).
    ws_ok: bool,
    /// min(our MSS, the peer's MSS): the largest segment (payload + TCP options) we send.
    eff_mss: u32,
    /// Sender MSS used for congestion control: `eff_mss` minus the fixed timestamp option.
    smss: u32,
    sack_ok: bool,
    ts_ok: bool,
    ts_offset: u32,
    ts_recent: u32,
    ts_recent_at: Instant,

    // Timing.
    timers: Timers,
    rtt: RttEstimator,
    /// Karn: the one segment being timed (end sequence number, send time).
    rtt_timing: Option<(Seq, Instant)>,
    syn_retransmitted: bool,
    /// Consecutive retransmission timeouts (reset by any forward progress).
    retries: u32,
    persist_backoff: u32,
    /// Zero-window probes sent since the peer last sent an acceptable segment.
    probes_unanswered: u32,
    keep_alive_sent: u32,
    last_received: Instant,
    last_data_sent: Instant,
    /// With pacing: when the next segment carrying data may leave (see `output::pace`).
    pace_next: Instant,

    // Pending control transmissions.
    send_syn: bool,
    probe_pending: bool,
    /// The loss-probe timer fired: the next data segment is a tail loss probe.
    loss_probe_pending: bool,
    /// When the tail loss probe is due; the `LossProbe` timer also serves loss recovery's
    /// reordering deadline and runs at the earlier of the two (see `timeouts`).
    pto_at: Option<Instant>,
    persist_force: bool,
    challenge_window: Instant,
    challenge_count: u32,
    nagle: bool,

    cc: Box<dyn CongestionControl>,
    recovery: Recovery,
    stats: Stats,
}

impl Connection {
    fn new(now: Instant, config: &TcpConfig, local_port: u16, remote_port: u16, initial: InitialNumbers) -> Self {
        let cfg = config.clamped();
        let iss = initial.iss;
        let bounds = RtoBounds {
            initial: cfg.initial_rto,
            min: cfg.min_rto,
            max: cfg.max_rto,
            granularity: cfg.clock_granularity,
        };
        let offered_shift = if cfg.window_scaling { cfg.window_shift() } else { 0 };
        Connection {
            state: State::Closed,
            passive: false,
            local_port,
            remote_port,
            error: None,
            soft_error: None,
            may_fragment: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_shift: 0,
            send_buf: SendBuffer::new(cfg.send_buffer_size),
            send_buf_seq: iss + 1u32,
            fin_queued: false,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_shift: 0,
            recv_buf: RecvBuffer::new(cfg.recv_buffer_size),
            remote_fin: None,
            fin_received: false,
            read_closed: false,
            last_ack_sent: Seq(0),
            last_window_sent: 0,
            unacked_bytes: 0,
            ack_now: false,
            offered_shift,
            ws_ok: false,
            eff_mss: u32::from(cfg.mss.min(cfg.default_remote_mss)),
            smss: u32::from(cfg.mss.min(cfg.default_remote_mss)),
            sack_ok: false,
            ts_ok: false,
            ts_offset: initial.ts_offset,
            ts_recent: 0,
            ts_recent_at: now,
            timers: Timers::default(),
            rtt: RttEstimator::new(bounds),
            rtt_timing: None,
            syn_retransmitted: false,
            retries: 0,
            persist_backoff: 0,
            probes_unanswered: 0,
            keep_alive_sent: 0,
            last_received: now,
            last_data_sent: now,
            pace_next: now,
            send_syn: false,
            probe_pending: false,
            loss_probe_pending: false,
            pto_at: None,
            persist_force: false,
            challenge_window: now,
            challenge_count: 0,
            nagle: cfg.nagle,
            cc: cfg.congestion.build(cfg.initial_window_segments),
            recovery: Recovery::new(iss),
            stats: Stats::default(),
            cfg,
        }
    }

    /// Active open (RFC 9293 OPEN call): a connection in SYN-SENT whose first
    /// [`poll_transmit`](Self::poll_transmit) returns the SYN. `initial` comes from the endpoint's
    /// [`IsnGenerator`](super::IsnGenerator); the endpoint picks the ephemeral local port.
    pub fn connect(
        now: Instant,
        config: &TcpConfig,
        local_port: u16,
        remote_port: u16,
        initial: InitialNumbers,
    ) -> Connection {
        let mut c = Connection::new(now, config, local_port, remote_port, initial);
        c.state = State::SynSent;
        c.send_syn = true;
        c
    }

    /// Passive open: the listener got `syn` (check it with
    /// [`listen_action`](super::listen_action) first) and has room in its backlog. The connection
    /// starts in SYN-RECEIVED and its first [`poll_transmit`](Self::poll_transmit) returns the
    /// SYN-ACK. Data carried by the SYN is not accepted (the peer sends it again after the
    /// handshake), which RFC 9293 permits.
    pub fn accept_syn(
        now: Instant,
        config: &TcpConfig,
        syn: &TcpRepr<'_>,
        initial: InitialNumbers,
    ) -> Result<Connection, AcceptError> {
        if !syn.flags.syn || syn.flags.ack || syn.flags.rst {
            return Err(AcceptError::NotASyn);
        }
        let mut c = Connection::new(now, config, syn.dst_port, syn.src_port, initial);
        c.state = State::SynReceived;
        c.passive = true;
        c.irs = Seq(syn.seq);
        c.rcv_nxt = c.irs + 1u32;
        c.last_ack_sent = c.rcv_nxt;
        c.negotiate(now, &syn.options);
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        c.set_send_window(u32::from(syn.window), Seq(syn.seq), c.iss);
        c.send_syn = true;
        Ok(c)
    }

    /// Applies the options of the peer's SYN (or SYN-ACK). An option is on only when both sides
    /// send it: an active opener offered every option its configuration enables, and a passive
    /// opener answers only what the peer offered.
    fn negotiate(&mut self, now: Instant, options: &TcpOptions) {
        let peer_mss = options.mss.unwrap_or(self.cfg.default_remote_mss).max(64);
        self.eff_mss = u32::from(peer_mss.min(self.cfg.mss));
        match options.window_scale {
            Some(shift) if self.cfg.window_scaling => {
                self.ws_ok = true;
                self.snd_shift = shift.min(14);
                self.rcv_shift = self.offered_shift;
            }
            _ => {
                self.ws_ok = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        self.sack_ok = self.cfg.sack && options.sack_permitted;
        match options.timestamps {
            Some((tsval, _)) if self.cfg.timestamps => {
                self.ts_ok = true;
                self.ts_recent = tsval;
                self.ts_recent_at = now;
            }
            _ => self.ts_ok = false,
        }
        self.smss = self.eff_mss.saturating_sub(if self.ts_ok { TIMESTAMPS_LEN } else { 0 }).max(1);
    }

    fn set_send_window(&mut self, window: u32, seq: Seq, ack: Seq) {
        self.snd_wnd = window;
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        self.max_snd_wnd = self.max_snd_wnd.max(window);
    }

    // ----- user calls -------------------------------------------------------------------------

    /// Queues as much of `data` as the send buffer has room for; returns how many bytes were
    /// taken (0 when the buffer is full: retry after [`Signals::acked`]). Data written before
    /// the handshake completes is sent once it does.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Connection(e));
        }
        if self.fin_queued || !self.state.can_send() {
            return Err(SendError::Closed);
        }
        Ok(self.send_buf.write(data))
    }

    /// Copies received in-order bytes into `buf`. `Ok(0)` means nothing is available yet;
    /// `Err(RecvError::Finished)` means the peer closed and everything was read.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        if let Some(e) = self.error {
            return Err(RecvError::Connection(e));
        }
        let n = self.recv_buf.read(buf);
        if n > 0 {
            self.after_read();
            return Ok(n);
        }
        if self.fin_received {
            return Err(RecvError::Finished);
        }
        if self.state == State::Closed || self.read_closed {
            return Err(RecvError::Closed);
        }
        Ok(0)
    }

    /// The readable bytes, in up to two slices, without consuming them (see
    /// [`Connection::consume`]).
    pub fn peek(&self) -> (&[u8], &[u8]) {
        self.recv_buf.peek()
    }

    /// Drops up to `n` readable bytes after a [`Connection::peek`]; returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = self.recv_buf.discard(n);
        if n > 0 {
            self.after_read();
        }
        n
    }

    /// After the user freed receive space: announce the larger window at once only when the
    /// peer is running short of it. As Linux does (`__tcp_cleanup_rbuf`), an update is due when the
    /// window the peer still sees is at most half the buffer and the new one is at least twice
    /// that; otherwise the next ACK carries it. The increase must also be worth it (at least
    /// min(half the buffer, one MSS), RFC 1122 §4.2.3.3), so a peer stalled on a small or zero
    /// window resumes without silly-window updates. A receiver that reads as fast as data
    /// arrives thus sends one ACK per batch, not an ACK and a window update.
    ///
    /// A delayed ACK still pending when the user reads goes now: the reader has what it
    /// waited for, and a sender whose whole send buffer is in flight would otherwise sit out
    /// the delayed-ACK timer.
    fn after_read(&mut self) {
        if !self.state.accepts_data() || self.fin_received {
            return;
        }
        if self.timers.is_armed(TimerKind::DelayedAck) {
            self.ack_now = true;
            return;
        }
        let capacity = self.recv_buf.capacity() as u32;
        let threshold = (capacity / 2).min(self.eff_mss).max(1);
        let peer_view = (self.last_ack_sent + self.last_window_sent).since(self.rcv_nxt);
        let window = self.advertised_window();
        if peer_view <= capacity / 2 && window >= peer_view.saturating_mul(2) && window - peer_view >= threshold {
            self.ack_now = true;
        }
    }

    /// RFC 9293 CLOSE: no more data will be sent; a FIN follows the queued data. The receive
    /// direction stays open (half-close). In SYN-SENT the attempt is simply abandoned.
    pub fn close(&mut self) {
        match self.state {
            State::SynSent => self.enter_closed(),
            State::SynReceived => self.fin_queued = true,
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => {}
        }
    }

    /// Closes one or both directions (see [`Shutdown`]).
    pub fn shutdown(&mut self, how: Shutdown) {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_closed = true;
            let n = self.recv_buf.readable();
            self.recv_buf.discard(n);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.close();
        }
    }

    /// RFC 9293 ABORT: drop everything and return the RST to send (in SYN-RECEIVED, ESTABLISHED,
    /// FIN-WAIT-1/2 and CLOSE-WAIT), after which the connection is CLOSED and may be deleted.
    pub fn abort(&mut self) -> Option<Segment> {
        let rst = match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                let flags = TcpFlags { rst: true, ..TcpFlags::default() };
                Some(Segment::control(self.local_port, self.remote_port, self.snd_max, Seq(0), flags, 0))
            }
            _ => None,
        };
        let n = self.recv_buf.readable();
        self.recv_buf.discard(n);
        self.enter_closed();
        rst
    }

    /// Switches Nagle's algorithm on or off for this connection.
    pub fn set_nagle(&mut self, enabled: bool) {
        self.nagle = enabled;
    }

    // ----- driver calls -----------------------------------------------------------------------

    /// When the connection next needs [`on_timeout`](Self::on_timeout) or
    /// [`poll_transmit`](Self::poll_transmit): `Instant::ZERO` (the past) if a segment is ready
    /// now, the earliest timer otherwise, `None` when CLOSED.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        if let Some(plan) = self.plan() {
            let paced = plan.len > 0 && self.control_plan().is_none();
            let at = if paced { self.pace_release() } else { Instant::ZERO };
            return Some(self.timers.next().map_or(at, |t| t.min(at)));
        }
        self.timers.next()
    }

    /// The payload bytes of `seg` (a segment this connection just returned).
    pub fn payload(&self, seg: &Segment) -> &[u8] {
        if seg.payload_len == 0 {
            return &[];
        }
        self.send_buf.contiguous(seg.payload_offset, seg.payload_len)
    }

    /// The wire representation of `seg`, with its payload borrowed from the send buffer.
    pub fn repr(&self, seg: &Segment) -> TcpRepr<'_> {
        seg.repr(self.payload(seg))
    }

    // ----- accessors --------------------------------------------------------------------------

    /// The RFC 9293 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// True when the connection is CLOSED and its slot can be freed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Our port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// The peer's port.
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// True when the connection was created by [`Connection::accept_syn`].
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// Bytes waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.recv_buf.readable()
    }

    /// Free room in the send buffer (0 when the send direction is closed).
    pub fn send_capacity(&self) -> usize {
        if self.fin_queued || !self.state.can_send() || self.error.is_some() {
            0
        } else {
            self.send_buf.free()
        }
    }

    /// Bytes queued for sending and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.send_buf.len()
    }

    /// True when `recv` would return data or end of stream.
    pub fn can_recv(&self) -> bool {
        self.recv_buf.readable() > 0 || self.fin_received
    }

    /// The sender MSS (payload bytes of a full segment, timestamp option excluded).
    pub fn smss(&self) -> u32 {
        self.smss
    }

    /// The congestion window the sender currently works with (NewReno inflation included).
    pub fn congestion_window(&self) -> u32 {
        self.recovery.send_window(self.cc.as_ref(), self.smss)
    }

    /// The slow-start threshold.
    pub fn ssthresh(&self) -> u32 {
        self.cc.ssthresh()
    }

    /// The congestion control algorithm in use.
    pub fn congestion_control(&self) -> &dyn CongestionControl {
        self.cc.as_ref()
    }

    /// Replaces the congestion controller (e.g. with CUBIC) before data flows.
    pub fn set_congestion_control(&mut self, mut cc: Box<dyn CongestionControl>) {
        cc.on_established(self.smss);
        self.cc = cc;
    }

    /// The RTT estimator (SRTT, RTTVAR, current RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The peer's send window in bytes.
    pub fn send_window(&self) -> u32 {
        self.snd_wnd
    }

    /// True when loss recovery (fast recovery or SACK recovery) is running.
    pub fn in_recovery(&self) -> bool {
        self.recovery.phase() != Phase::Open
    }

    /// Whether SACK, timestamps and window scaling were negotiated, and the two shifts.
    pub fn negotiated(&self) -> Negotiated {
        Negotiated {
            sack: self.sack_ok,
            timestamps: self.ts_ok,
            send_window_shift: self.snd_shift,
            recv_window_shift: self.rcv_shift,
            mss: self.eff_mss,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The deadline of one timer (for tests and diagnostics).
    pub fn timer(&self, kind: TimerKind) -> Option<Instant> {
        self.timers.get(kind)
    }

    // ----- shared helpers ---------------------------------------------------------------------

    /// One past the last byte the user queued.
    fn data_end(&self) -> Seq {
        self.send_buf_seq + self.send_buf.len()
    }

    /// Sequence number of our FIN, once the user closed the send direction.
    fn fin_seq(&self) -> Option<Seq> {
        self.fin_queued.then(|| self.data_end())
    }

    /// True when our FIN has been sent and acknowledged.
    fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd_una > f)
    }

    /// The receive window we can honour: free room in the receive ring, limited to what the
    /// window field can express.
    fn recv_window(&self) -> u32 {
        let max = 65535u32 << self.rcv_shift;
        (self.recv_buf.window() as u64).min(u64::from(max)) as u32
    }

    /// The window the next segment will announce, in bytes (after scaling round-down).
    fn advertised_window(&self) -> u32 {
        (self.recv_window() >> self.rcv_shift) << self.rcv_shift
    }

    /// The RFC 7323 timestamp clock (milliseconds plus the per-connection offset).
    fn ts_now(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    fn enter_closed(&mut self) {
        self.state = State::Closed;
        self.timers.clear();
        self.send_syn = false;
        self.ack_now = false;
        self.probe_pending = false;
    }

    /// Ends the connection with an error (RFC 9293: "connection reset"/"timed out").
    /// A timeout after an ICMP error reports that error (RFC 1122 §4.2.3.9).
    fn fail(&mut self, error: ConnectionError, sig: &mut Signals) {
        self.error = match (error, self.soft_error()) {
            (ConnectionError::TimedOut, Some(soft)) => Some(ConnectionError::Unreachable(soft)),
            _ => Some(error),
        };
        let n = self.recv_buf.readable();
        self.recv_buf.discard(n);
        self.enter_closed();
        sig.delete = true;
    }

    /// The handshake completed (from SYN-SENT or SYN-RECEIVED).
    fn become_established(&mut self, now: Instant, sig: &mut Signals) {
        self.state = if self.fin_queued { State::FinWait1 } else { State::Established };
        sig.established = true;
        self.cc.on_established(self.smss);
        if self.syn_retransmitted {
            self.rtt.after_syn_timeout();
        }
        self.retries = 0;
        self.arm_keep_alive(now);
    }

    fn arm_keep_alive(&mut self, now: Instant) {
        if let Some(k) = self.cfg.keep_alive {
            self.timers.set(TimerKind::KeepAlive, now + k.idle);
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.timers.clear();
        self.timers.set(TimerKind::Close, now + self.cfg.time_wait);
    }

    /// (Re)arms the tail-loss-probe timer (RFC 8985 §7.2) after data was sent or newly
    /// acknowledged, when SACK is on (RFC 8985 requires it: the probe's SACK is what reveals the
    /// loss below it). Also during SACK recovery: there the probe is the later-sent segment whose
    /// SACK exposes a lost retransmission when the window let nothing else out after it (see
    /// [`RetransmitLog`](crate::tcp::lost_retransmit::RetransmitLog)). PTO = 2·SRTT, at least [`MIN_PROBE_TIMEOUT`], and only when it fires before the
    /// retransmission timer. With a single segment outstanding no probe is armed (RFC 8985 would
    /// add the peer's worst-case delayed-ACK time, which reaches the RTO here anyway); nor while a
    /// probe is outstanding or before an RTT sample exists.
    fn arm_loss_probe(&mut self, now: Instant) {
        let flight = self.snd_max.since(self.snd_una);
        let eligible = self.sack_ok
            && self.recovery.phase() != Phase::FastRecovery
            && !self.recovery.probe_outstanding()
            && flight > self.smss
            && matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
            );
        let at = self.rtt.srtt().map(|srtt| now + (srtt * 2).max(MIN_PROBE_TIMEOUT));
        self.pto_at = at.filter(|&at| eligible && self.timers.get(TimerKind::Retransmit).is_some_and(|rto| at < rto));
        self.arm_loss_timer(now);
    }

    fn persist_interval(&self) -> Duration {
        let mut d = self.rtt.rto().max(self.cfg.min_rto);
        for _ in 0..self.persist_backoff {
            d = d.saturating_mul(2);
            if d >= self.cfg.max_rto {
                return self.cfg.max_rto;
            }
        }
        d.min(self.cfg.max_rto)
    }
}

/// What the handshake agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// SACK-permitted was exchanged both ways (RFC 2018).
    pub sack: bool,
    /// Both sides send timestamps (RFC 7323).
    pub timestamps: bool,
    /// Shift applied to windows the peer announces.
    pub send_window_shift: u8,
    /// Shift applied to windows we announce.
    pub recv_window_shift: u8,
    /// Effective MSS: min(ours, the peer's).
    pub mss: u32,
}
