//! The send side: deciding the next segment ([`Connection::poll_transmit`]).
//!
//! Deciding is split from committing: `plan` is a pure function of the state (so `poll_at` and
//! `Signals::may_send` can ask "is anything ready?" without side effects) and `commit` builds the
//! segment and updates sequence numbers, timers, RTT sampling and ACK state.
//!
//! Priority: SYN/SYN-ACK; the retransmission loss recovery asks for first; RFC 6675 NextSeg while
//! SACK recovery runs; sequential data (new data, or go-back-N after a timeout) within the
//! receive and congestion windows, subject to Nagle and sender silly-window avoidance; a pure ACK;
//! a zero-window or keep-alive probe.

use braid_wire::tcp::{TcpFlags, TcpOptions};

use super::{Connection, TIMESTAMPS_LEN};
use crate::tcp::recovery::{NextSeg, Phase};
use crate::tcp::segment::Segment;
use crate::tcp::seq::Seq;
use crate::tcp::state::State;
use crate::tcp::timers::TimerKind;
use crate::time::Instant;
use core::time::Duration;

/// Data of up to this much pacing time leaves together (one wake-up of the driver per
/// millisecond at most, not one per segment).
pub(super) const PACING_QUANTUM: Duration = Duration::from_millis(1);

/// Why a planned segment is sent (decides the bookkeeping in `commit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED).
    Syn,
    /// The fast retransmission / partial-ACK retransmission of the first hole.
    First,
    /// An RFC 6675 NextSeg retransmission.
    SackRetransmit { rescue: bool },
    /// Data from `SND.NXT` onwards (new, or go-back-N after a timeout).
    Sequential,
    /// A pure acknowledgment.
    Ack,
    /// A zero-window or keep-alive probe: `SEG.SEQ = SND.UNA - 1`, no data.
    Probe,
    /// A tail loss probe (RFC 8985 §7.3): one new segment if the peer's window allows, otherwise
    /// the last segment sent again; outside the congestion window.
    LossProbe,
}

/// A decided but not yet committed segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) seq: Seq,
    pub(super) len: usize,
    pub(super) fin: bool,
    pub(super) kind: Kind,
}

impl Plan {
    fn control(seq: Seq, kind: Kind) -> Plan {
        Plan { seq, len: 0, fin: false, kind }
    }
}

impl Connection {
    /// The next segment to send, or `None` when nothing may be sent now. Call repeatedly until
    /// `None`; emit each segment (with [`Connection::repr`]) before the next call.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Segment> {
        self.restart_after_idle(now);
        let plan = match self.plan() {
            // Data waits for its pacing time; an ACK that is due goes out meanwhile.
            Some(plan) if plan.len > 0 && self.pace_release() > now => self.control_plan(),
            plan => plan,
        };
        let Some(plan) = plan else {
            // Data may have been queued that cannot go out: make sure the persist timer runs.
            self.update_persist(now);
            return None;
        };
        let seg = self.commit(now, plan);
        self.update_persist(now);
        Some(seg)
    }

    /// With pacing on, when the next data segment may leave: [`PACING_QUANTUM`] before its
    /// paced time, so segments leave in small bursts of about a millisecond's worth rather
    /// than one at a time. `Instant::ZERO` (now) without pacing.
    pub(super) fn pace_release(&self) -> Instant {
        if !self.cfg.pacing {
            return Instant::ZERO;
        }
        Instant::from_nanos(self.pace_next.as_nanos().saturating_sub(PACING_QUANTUM.as_nanos() as u64))
    }

    /// Advances the pacing clock by `len` bytes' time at the pacing rate: twice the window
    /// per round trip in slow start, 1.2 times in congestion avoidance (Linux's gains), so a
    /// window spreads over the round trip instead of leaving as one burst that a queue on the
    /// path (a router, a UDP socket) overflows.
    fn pace(&mut self, now: Instant, len: usize) {
        if !self.cfg.pacing || len == 0 {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else { return };
        let cwnd = self.cc.window().max(self.smss);
        let gain = if cwnd < self.cc.ssthresh() { 2.0 } else { 1.2 };
        let rate = gain * f64::from(cwnd) / srtt.as_secs_f64().max(1e-6);
        let spacing = Duration::from_secs_f64((len as f64 / rate).min(1.0));
        self.pace_next = self.pace_next.max(now) + spacing;
    }

    /// RFC 5681 §4.1: after an idle period longer than one RTO, restart from the initial window.
    fn restart_after_idle(&mut self, now: Instant) {
        if self.state.is_synchronized()
            && self.snd_una == self.snd_max
            && now.saturating_duration_since(self.last_data_sent) > self.rtt.rto()
        {
            self.cc.on_idle_restart(self.smss);
            // Only once per idle period.
            self.last_data_sent = now;
        }
    }

    /// Decides the next segment without changing anything.
    pub(super) fn plan(&self) -> Option<Plan> {
        match self.state {
            State::Closed => None,
            State::SynSent => self.send_syn.then(|| Plan::control(self.iss, Kind::Syn)),
            State::SynReceived => {
                if self.send_syn {
                    Some(Plan::control(self.iss, Kind::Syn))
                } else {
                    self.ack_now.then(|| Plan::control(self.snd_max, Kind::Ack))
                }
            }
            State::FinWait2 | State::TimeWait => self.control_plan(),
            State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck => {
                self.plan_data().or_else(|| self.control_plan())
            }
        }
    }

    /// A pure ACK carries `SND.MAX`, not `SND.NXT`: after a timeout rewound `SND.NXT`, the peer's
    /// `RCV.NXT` may already be beyond it, and an ACK with an older sequence number would be
    /// unacceptable there and its acknowledgment lost. `SND.MAX` is never below the peer's
    /// `RCV.NXT` and never beyond its window's right edge.
    pub(super) fn control_plan(&self) -> Option<Plan> {
        if self.ack_now {
            return Some(Plan::control(self.snd_max, Kind::Ack));
        }
        if self.probe_pending {
            return Some(Plan::control(self.snd_una - 1, Kind::Probe));
        }
        None
    }

    /// Payload room in the next non-SYN segment: the effective MSS minus the options it carries.
    fn max_payload(&self) -> usize {
        let mut options = if self.ts_ok { TIMESTAMPS_LEN } else { 0 };
        if self.sack_ok && self.recv_buf.has_gap() {
            let blocks = self.recv_buf.out_of_order().len().min(if self.ts_ok { 3 } else { 4 });
            options += 4 + 8 * blocks as u32;
        }
        self.eff_mss.saturating_sub(options).max(1) as usize
    }

    fn plan_data(&self) -> Option<Plan> {
        let max_payload = self.max_payload();
        let outstanding = self.snd_max > self.snd_una;
        if self.recovery.retransmit_first_pending() && outstanding {
            let limit = match self.recovery.phase() {
                Phase::SackRecovery => self.recovery.scoreboard.next_hole(self.snd_una, self.snd_max),
                _ => Some((self.snd_una, self.snd_max)),
            };
            if let Some((start, end)) = limit {
                let len = (end.since(start) as usize).min(max_payload);
                if let Some(plan) = self.range_plan(start, len, Kind::First) {
                    return Some(plan);
                }
            }
        }
        if self.loss_probe_pending && outstanding && self.recovery.phase() != Phase::FastRecovery {
            if let Some(plan) = self.loss_probe_plan(max_payload) {
                return Some(plan);
            }
        }
        if self.recovery.phase() == Phase::SackRecovery {
            // After a timeout rewound SND.NXT, everything beyond it (and beyond HighRxt) that was
            // not SACKed is presumed lost, as the RTO did: it is not in the pipe.
            let pipe_end = self.snd_nxt.max(self.recovery.high_rxt()).min(self.snd_max);
            let pipe = self.recovery.pipe(self.snd_una, pipe_end, self.smss, self.cfg.dup_ack_threshold);
            if self.cc.window().saturating_sub(pipe) < self.smss {
                return None;
            }
            let new_data = self.sequential_plan(max_payload, true);
            let next = self.recovery.next_seg(
                self.snd_una,
                self.snd_max,
                self.smss,
                self.cfg.dup_ack_threshold,
                new_data.is_some(),
            );
            return match next {
                NextSeg::Retransmit { start, end, rescue } => {
                    let len = (end.since(start) as usize).min(max_payload);
                    self.range_plan(start, len, Kind::SackRetransmit { rescue })
                }
                NextSeg::NewData => new_data,
                NextSeg::Nothing => None,
            };
        }
        self.sequential_plan(max_payload, false)
    }

    /// RFC 8985 §7.3: new data when available and the receive window allows (not after a timeout
    /// rewound `SND.NXT`), else the last segment sent.
    fn loss_probe_plan(&self, max_payload: usize) -> Option<Plan> {
        if self.snd_nxt == self.snd_max {
            if let Some(plan) = self.sequential_plan(max_payload, true).filter(|p| p.len > 0) {
                return Some(Plan { kind: Kind::LossProbe, ..plan });
            }
        }
        let end = self.data_end().min(self.snd_max);
        let len = (end.since(self.snd_una) as usize).min(max_payload);
        self.range_plan(end - len as u32, len, Kind::LossProbe)
    }

    /// Where sequential sending resumes: `SND.NXT`, except while go-back-N resends after a
    /// timeout or a path-MTU change (`SND.NXT < SND.MAX`) with SACK on. Then bytes the receiver
    /// SACKed since are skipped (it holds them; resending them would also escape the pipe, which
    /// does not count SACKed bytes), and in SACK recovery so is what NextSeg already resent (below
    /// HighRxt). Only runs its scoreboard walk during go-back-N, never for new data.
    fn go_back_n_start(&self) -> Seq {
        let nxt = self.snd_nxt;
        if !self.sack_ok || nxt >= self.snd_max {
            return nxt;
        }
        let from = match self.recovery.phase() {
            Phase::SackRecovery => nxt.max(self.recovery.high_rxt()),
            _ => nxt,
        };
        if from >= self.snd_max {
            return self.snd_max;
        }
        self.recovery.scoreboard.next_hole(from, self.snd_max).map_or(self.snd_max, |(start, _)| start)
    }

    /// A retransmission of already-sent sequence space starting at `start`, with at most `len`
    /// payload bytes; carries the FIN if it reaches it and the FIN was sent before.
    fn range_plan(&self, start: Seq, len: usize, kind: Kind) -> Option<Plan> {
        let data_end = self.data_end();
        let offset = start.since(self.send_buf_seq) as usize;
        let avail = data_end.since(start) as usize;
        let len = len.min(avail);
        let chunk = self.send_buf.contiguous(offset, len).len();
        let fin = self.fin_seq().is_some_and(|f| self.snd_max > f && start + chunk == f);
        if chunk == 0 && !fin {
            return None;
        }
        Some(Plan { seq: start, len: chunk, fin, kind })
    }

    /// Data (and/or FIN) from `SND.NXT`, within the receive window and, unless `ignore_cwnd`
    /// (SACK recovery checks the pipe instead), the congestion window.
    fn sequential_plan(&self, max_payload: usize, ignore_cwnd: bool) -> Option<Plan> {
        let nxt = self.go_back_n_start();
        let data_end = self.data_end();
        let unsent = data_end.since(nxt) as usize;
        let fin_due = self.fin_seq().is_some_and(|f| nxt <= f);
        let win_avail = (self.snd_una + self.snd_wnd).since(nxt) as usize;
        let cwnd_avail = if ignore_cwnd {
            usize::MAX
        } else {
            self.recovery.send_window(self.cc.as_ref(), self.smss).saturating_sub(nxt.since(self.snd_una)) as usize
        };
        let len = unsent.min(max_payload).min(win_avail).min(cwnd_avail);
        let offset = nxt.since(self.send_buf_seq) as usize;
        let chunk = self.send_buf.contiguous(offset, len).len();
        let retransmission = nxt < self.snd_max;
        let send = chunk > 0
            && (retransmission
                || chunk >= max_payload
                || chunk < len // cut short where the ring wraps: the rest follows at once
                || (chunk == unsent && (!self.nagle || nxt == self.snd_una || fin_due))
                || (self.max_snd_wnd > 0 && chunk >= (self.max_snd_wnd / 2) as usize)
                || self.persist_force);
        let reaches_fin = fin_due && chunk == unsent;
        if send {
            return Some(Plan { seq: nxt, len: chunk, fin: reaches_fin, kind: Kind::Sequential });
        }
        if unsent == 0 && fin_due {
            // A bare FIN needs no window room.
            return Some(Plan { seq: nxt, len: 0, fin: true, kind: Kind::Sequential });
        }
        None
    }

    /// Builds the segment for `plan` and updates the state as if it were sent.
    pub(super) fn commit(&mut self, now: Instant, plan: Plan) -> Segment {
        let syn = plan.kind == Kind::Syn;
        let with_ack = !(syn && self.state == State::SynSent);
        let ts_now = self.ts_now(now);
        let mut options = TcpOptions::default();
        if syn {
            options.mss = Some(self.cfg.mss);
            let active = self.state == State::SynSent;
            if (active && self.cfg.window_scaling) || (!active && self.ws_ok) {
                options.window_scale = Some(self.offered_shift);
            }
            options.sack_permitted = if active { self.cfg.sack } else { self.sack_ok };
            if active && self.cfg.timestamps {
                options.timestamps = Some((ts_now, 0));
            } else if !active && self.ts_ok {
                options.timestamps = Some((ts_now, self.ts_recent));
            }
        } else {
            if self.ts_ok {
                options.timestamps = Some((ts_now, self.ts_recent));
            }
            if self.sack_ok && self.recv_buf.has_gap() {
                self.fill_sack_blocks(&mut options);
            }
        }
        let window_bytes = if syn { self.recv_window().min(65535) } else { self.advertised_window() };
        let window = if syn { window_bytes as u16 } else { (window_bytes >> self.rcv_shift).min(65535) as u16 };
        let data_end = self.data_end();
        let flags = TcpFlags {
            syn,
            ack: with_ack,
            fin: plan.fin,
            psh: plan.len > 0 && plan.seq + plan.len == data_end,
            ..TcpFlags::default()
        };
        let seg = Segment {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq: plan.seq,
            ack: if with_ack { self.rcv_nxt } else { Seq(0) },
            flags,
            window,
            options,
            payload_offset: if plan.len > 0 { plan.seq.since(self.send_buf_seq) as usize } else { 0 },
            payload_len: plan.len,
        };
        self.stats.segments_sent += 1;
        if with_ack {
            self.ack_now = false;
            self.unacked_bytes = 0;
            self.timers.cancel(TimerKind::DelayedAck);
            self.last_ack_sent = self.rcv_nxt;
            self.last_window_sent = window_bytes;
        }
        let end = plan.seq + (plan.len + usize::from(syn) + usize::from(plan.fin));
        self.pace(now, plan.len);
        match plan.kind {
            Kind::Ack => {}
            Kind::Probe => {
                self.probe_pending = false;
            }
            Kind::Syn => {
                self.send_syn = false;
                self.snd_nxt = self.snd_nxt.max(end);
                self.snd_max = self.snd_max.max(end);
                if self.syn_retransmitted {
                    self.stats.retransmitted_segments += 1;
                } else if self.rtt_timing.is_none() {
                    self.rtt_timing = Some((end, now));
                }
                self.timers.set_if_idle(TimerKind::Retransmit, now + self.rtt.rto());
            }
            Kind::First | Kind::SackRetransmit { .. } | Kind::Sequential | Kind::LossProbe => {
                let old_max = self.snd_max;
                if plan.seq < old_max {
                    self.stats.retransmitted_segments += 1;
                    // Karn: a timed segment that is retransmitted gives no sample.
                    if self.rtt_timing.is_some_and(|(timed_end, _)| timed_end > plan.seq) {
                        self.rtt_timing = None;
                    }
                }
                if end > self.snd_max {
                    if self.rtt_timing.is_none() && !self.ts_ok {
                        self.rtt_timing = Some((end, now));
                    }
                    self.snd_max = end;
                }
                match plan.kind {
                    Kind::First => self.recovery.first_retransmitted(plan.seq, end, self.snd_max, now),
                    Kind::SackRetransmit { rescue } => {
                        self.recovery.sent_retransmission(plan.seq, end, rescue, self.snd_max, now)
                    }
                    Kind::LossProbe => {
                        self.loss_probe_pending = false;
                        self.stats.loss_probes += 1;
                        self.recovery.probe_sent(end);
                        self.snd_nxt = self.snd_nxt.max(end);
                    }
                    _ => {
                        if plan.seq < old_max && self.recovery.phase() == Phase::SackRecovery {
                            // Go-back-N inside SACK recovery resends holes too: HighRxt covers
                            // them, so NextSeg does not send them again, and they are watched.
                            let resent_end = end.min(old_max);
                            self.recovery.sent_retransmission(plan.seq, resent_end, false, self.snd_max, now);
                        }
                        self.snd_nxt = self.snd_nxt.max(end);
                        self.persist_force = false;
                    }
                }
                self.last_data_sent = now;
                if plan.kind == Kind::LossProbe {
                    // RFC 8985 §7.3: the RTO restarts from the probe; no second probe until an ACK.
                    self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
                    self.pto_at = None;
                    self.arm_loss_timer(now);
                } else {
                    self.timers.set_if_idle(TimerKind::Retransmit, now + self.rtt.rto());
                    self.arm_loss_probe(now);
                }
                self.timers.cancel(TimerKind::Persist);
            }
        }
        seg
    }

    /// Up to 3 (with timestamps) or 4 SACK blocks, most recently changed first (RFC 2018 §4).
    fn fill_sack_blocks(&self, options: &mut TcpOptions) {
        let mut ranges = [(0u64, 0u64); 4];
        let max = if self.ts_ok { 3 } else { 4 };
        let n = self.recv_buf.out_of_order().most_recent(&mut ranges[..max]);
        let base = self.recv_buf.contiguous_end();
        for (slot, &(start, end)) in options.sack_blocks.iter_mut().zip(&ranges[..n]) {
            let left = self.rcv_nxt + (start.saturating_sub(base) as u32);
            let right = self.rcv_nxt + (end.saturating_sub(base) as u32);
            *slot = Some((left.0, right.0));
        }
    }

    /// Arms the persist timer when data waits but nothing is in flight and nothing may be sent
    /// (zero or too small a window); disarms it otherwise (RFC 9293 §3.8.6.1).
    pub(super) fn update_persist(&mut self, now: Instant) {
        let data_state = matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
        );
        let unsent = self.data_end().since(self.snd_nxt) > 0;
        let stuck = data_state
            && unsent
            && !self.timers.is_armed(TimerKind::Retransmit)
            && self.snd_nxt == self.snd_una
            && self.plan_data().is_none();
        if stuck {
            let at = now + self.persist_interval();
            self.timers.set_if_idle(TimerKind::Persist, at);
        } else {
            self.timers.cancel(TimerKind::Persist);
            if self.snd_wnd > 0 {
                self.persist_backoff = 0;
            }
        }
    }
}
