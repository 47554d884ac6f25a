//! The receive side: processing an arriving segment (RFC 9293 §3.10.7, "SEGMENT ARRIVES"), with
//! the RFC 5961 reset/SYN/ACK hardening and RFC 7323 PAWS.

use braid_wire::tcp::{TcpFlags, TcpRepr};
use core::time::Duration;

use super::Connection;
use crate::tcp::error::ConnectionError;
use crate::tcp::recovery::AckInfo;
use crate::tcp::segment::{reset_for_closed, Segment};
use crate::tcp::seq::Seq;
use crate::tcp::signals::Signals;
use crate::tcp::state::State;
use crate::tcp::timers::TimerKind;
use crate::time::Instant;

/// RFC 7323 §5.5: a TS.Recent older than this is no longer trusted for PAWS.
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

/// The part of an arriving segment that survives trimming to the receive window.
#[derive(Clone, Copy, Debug)]
struct Trimmed<'a> {
    /// Sequence number of `payload[0]` (or of the FIN when there is no payload).
    data_seq: Seq,
    payload: &'a [u8],
    fin: bool,
}

impl Connection {
    /// Feeds one segment addressed to this connection's four-tuple (the endpoint demultiplexed it
    /// and verified its checksum). Returns what the endpoint must do; afterwards call
    /// [`poll_transmit`](Self::poll_transmit) if `may_send` is set.
    pub fn on_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) -> Signals {
        let mut sig = Signals::default();
        self.stats.segments_received += 1;
        if seg.src_port != self.remote_port || seg.dst_port != self.local_port {
            self.stats.segments_dropped += 1;
            return sig;
        }
        match self.state {
            State::Closed => {
                sig.answer = reset_for_closed(seg);
                return sig;
            }
            State::SynSent => self.on_segment_syn_sent(now, seg, &mut sig),
            _ => self.on_segment_synchronized(now, seg, &mut sig),
        }
        self.update_persist(now);
        sig.may_send = self.plan().is_some();
        sig
    }

    /// The RST answering an unacceptable ACK: `<SEQ=SEG.ACK><CTL=RST>`.
    fn reset_answer(&self, seg: &TcpRepr<'_>) -> Segment {
        let flags = TcpFlags { rst: true, ..TcpFlags::default() };
        Segment::control(self.local_port, self.remote_port, Seq(seg.ack), Seq(0), flags, 0)
    }

    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>, sig: &mut Signals) {
        let f = seg.flags;
        let ack = Seq(seg.ack);
        let ack_ok = f.ack && ack > self.iss && ack <= self.snd_max;
        if f.ack && !ack_ok {
            if !f.rst {
                sig.answer = Some(self.reset_answer(seg));
            }
            self.stats.segments_dropped += 1;
            return;
        }
        if f.rst {
            // RFC 5961 §3.2: in SYN-SENT a RST is acceptable when it acknowledges our SYN.
            if ack_ok {
                sig.reset = true;
                self.fail(ConnectionError::Refused, sig);
            } else {
                self.stats.segments_dropped += 1;
            }
            return;
        }
        if !f.syn {
            self.stats.segments_dropped += 1;
            return;
        }
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs + 1u32;
        self.last_ack_sent = self.rcv_nxt;
        self.last_received = now;
        self.negotiate(now, &seg.options);
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        self.set_send_window(u32::from(seg.window), Seq(seg.seq), ack);
        if !ack_ok {
            // Simultaneous open: answer with SYN-ACK (our SYN again, now acknowledging theirs).
            self.state = State::SynReceived;
            self.passive = false;
            self.send_syn = true;
            return;
        }
        self.ack_advance(now, seg, ack, sig);
        self.timers.cancel(TimerKind::Retransmit);
        self.become_established(now, sig);
        self.ack_now = true;
        // Data or a FIN riding on the SYN-ACK is processed like any later segment.
        let trimmed = self.trim(Seq(seg.seq) + 1u32, seg.payload, f.fin);
        self.accept_text_and_fin(now, trimmed, sig);
    }

    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpRepr<'_>, sig: &mut Signals) {
        let mut f = seg.flags;
        let mut seq = Seq(seg.seq);
        // RFC 7323 §5.3 (PAWS), before anything else; RSTs are exempt.
        if self.ts_ok && !f.rst {
            match seg.options.timestamps {
                // §3.2: a non-RST segment without timestamps SHOULD be dropped once negotiated.
                None => {
                    self.stats.paws_rejected += 1;
                    return;
                }
                Some((tsval, _)) if self.paws_rejects(now, tsval) => {
                    self.stats.paws_rejected += 1;
                    self.ack_now = true;
                    return;
                }
                Some(_) => {}
            }
        }
        if self.state == State::SynReceived && f.syn && seq == self.irs && !f.rst {
            if !f.ack {
                // The peer retransmitted its SYN: our SYN-ACK was lost.
                self.send_syn = true;
                return;
            }
            // A SYN-ACK in a simultaneous open: its SYN is old, its ACK is what matters.
            f.syn = false;
            seq += 1u32;
        }
        let payload = seg.payload;
        let seg_len = payload.len() as u32 + u32::from(f.syn) + u32::from(f.fin);
        let wnd = self.recv_window();
        let mut text_allowed = true;
        if !self.acceptable(seq, seg_len, wnd) {
            if wnd == 0 && seq == self.rcv_nxt && !f.rst {
                // RFC 9293: with a zero window, still process ACKs (and a bare FIN), drop the text
                // and tell the peer the window is still closed.
                text_allowed = false;
                self.ack_now = true;
            } else {
                if !f.rst {
                    self.ack_now = true;
                }
                if self.state == State::TimeWait && f.fin {
                    self.timers.set(TimerKind::Close, now + self.cfg.time_wait);
                }
                self.stats.segments_dropped += 1;
                return;
            }
        }
        self.last_received = now;
        self.keep_alive_sent = 0;
        self.probes_unanswered = 0;
        if let Some((tsval, _)) = seg.options.timestamps {
            // RFC 7323 §4.3: remember the newest timestamp of a segment that covers Last.ACK.sent.
            if self.ts_ok && tsval.wrapping_sub(self.ts_recent) as i32 >= 0 && seq <= self.last_ack_sent {
                self.ts_recent = tsval;
                self.ts_recent_at = now;
            }
        }
        // Second: RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge ACK).
        if f.rst {
            if seq == self.rcv_nxt {
                self.on_reset(sig);
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fourth: SYN (RFC 5961 §4: challenge ACK; RFC 9293: a passive SYN-RECEIVED returns to
        // LISTEN).
        if f.syn {
            if self.state == State::SynReceived && self.passive {
                sig.reset = true;
                sig.delete = true;
                self.enter_closed();
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fifth: ACK.
        if !f.ack {
            self.stats.segments_dropped += 1;
            return;
        }
        let ack = Seq(seg.ack);
        if self.state == State::SynReceived {
            if !(ack > self.snd_una && ack <= self.snd_max) {
                sig.answer = Some(self.reset_answer(seg));
                self.stats.segments_dropped += 1;
                return;
            }
            self.set_send_window(u32::from(seg.window) << self.snd_shift, seq, ack);
            self.ack_advance(now, seg, ack, sig);
            if self.snd_una == self.snd_max {
                self.timers.cancel(TimerKind::Retransmit);
            }
            self.become_established(now, sig);
        } else if !self.process_ack(now, seg, seq, ack, sig) {
            return;
        }
        if self.state == State::Closed {
            return;
        }
        // Sixth (URG) is ignored: urgent data is delivered inline (RFC 6093).
        // Seventh and eighth: text and FIN.
        let (payload, fin) = if text_allowed { (payload, f.fin) } else { (&[][..], f.fin && payload.is_empty()) };
        let trimmed = self.trim(seq + u32::from(f.syn), payload, fin);
        if self.state == State::TimeWait {
            if trimmed.fin || f.fin {
                // A retransmitted FIN: acknowledge it again and restart 2·MSL.
                self.ack_now = true;
                self.timers.set(TimerKind::Close, now + self.cfg.time_wait);
            }
            return;
        }
        self.accept_text_and_fin(now, trimmed, sig);
    }

    /// RFC 9293 §3.10.7.4, first check, with one leniency: a zero-length segment exactly at the
    /// right window edge is accepted (as Linux does), so a pure ACK from a peer that filled our
    /// window is not lost.
    fn acceptable(&self, seq: Seq, seg_len: u32, wnd: u32) -> bool {
        let nxt = self.rcv_nxt;
        let edge = nxt + wnd;
        match (seg_len, wnd) {
            (0, 0) => seq == nxt,
            (0, _) => seq >= nxt && seq <= edge,
            (_, 0) => false,
            _ => seq.in_window(nxt, edge) || (seq + (seg_len - 1)).in_window(nxt, edge),
        }
    }

    /// RFC 7323 §5.3 R1: reject a timestamp older than TS.Recent (unless TS.Recent is stale).
    fn paws_rejects(&self, now: Instant, tsval: u32) -> bool {
        if now.saturating_duration_since(self.ts_recent_at) > PAWS_IDLE_LIMIT {
            return false;
        }
        (tsval.wrapping_sub(self.ts_recent) as i32) < 0
    }

    /// Sends a challenge ACK unless the per-second budget (RFC 5961 §7) is spent.
    fn challenge_ack(&mut self, now: Instant) {
        if now.saturating_duration_since(self.challenge_window) >= Duration::from_secs(1) {
            self.challenge_window = now;
            self.challenge_count = 0;
        }
        if self.challenge_count < self.cfg.challenge_ack_limit {
            self.challenge_count += 1;
            self.stats.challenge_acks += 1;
            self.ack_now = true;
        }
    }

    /// An acceptable RST with the exact expected sequence number.
    fn on_reset(&mut self, sig: &mut Signals) {
        sig.reset = true;
        match self.state {
            State::SynReceived if self.passive => {
                // Back to LISTEN: the listener simply forgets this embryonic connection.
                sig.delete = true;
                self.enter_closed();
            }
            State::SynReceived => self.fail(ConnectionError::Refused, sig),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.fail(ConnectionError::Reset, sig)
            }
            _ => {
                sig.delete = true;
                self.enter_closed();
            }
        }
    }

    /// The ACK field in a synchronized state. Returns false when the segment must be dropped.
    fn process_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, seq: Seq, ack: Seq, sig: &mut Signals) -> bool {
        if ack > self.snd_max {
            // Acknowledges something never sent: answer with an ACK and drop (RFC 9293, RFC 5961).
            self.ack_now = true;
            self.stats.segments_dropped += 1;
            return false;
        }
        if ack < self.snd_una - self.max_snd_wnd.max(1) {
            // RFC 5961 §5.2: too old to be a genuine duplicate.
            self.ack_now = true;
            self.stats.segments_dropped += 1;
            return false;
        }
        let prev_una = self.snd_una;
        let prev_wnd = self.snd_wnd;
        if ack >= prev_una {
            // The peer answers: whatever an ICMP error said about the path is over (as Linux
            // forgets its soft error on any ACK that is not old).
            self.soft_error = None;
        }
        if ack > prev_una {
            self.ack_advance(now, seg, ack, sig);
        }
        let mut newly_sacked = false;
        if self.sack_ok {
            for (left, right) in seg.options.sack_blocks.iter().flatten() {
                newly_sacked |= self.recovery.scoreboard.add_block(Seq(*left), Seq(*right), self.snd_una, self.snd_max);
            }
        }
        // Window update (RFC 9293: only from a segment newer than the last update).
        let wnd = u32::from(seg.window) << self.snd_shift;
        if self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack) {
            self.set_send_window(wnd, seq, ack);
        }
        let info = AckInfo {
            now,
            prev_una,
            ack,
            snd_max: self.snd_max,
            snd_nxt: self.snd_nxt,
            smss: self.smss,
            plain_duplicate: seg.payload.is_empty() && !seg.flags.syn && !seg.flags.fin && wnd == prev_wnd,
            newly_sacked,
            sack: self.sack_ok,
            dup_thresh: self.cfg.dup_ack_threshold,
            srtt: self.rtt.srtt(),
            can_send_new: self.data_end() > self.snd_nxt && self.snd_una + self.snd_wnd > self.snd_nxt,
        };
        let outcome = self.recovery.on_ack(self.cc.as_mut(), &info);
        if outcome.entered_recovery {
            self.stats.fast_retransmits += 1;
        }
        self.stats.lost_retransmissions = self.recovery.lost_retransmissions();
        if self.snd_una > prev_una {
            if self.snd_una == self.snd_max {
                self.timers.cancel(TimerKind::Retransmit);
            } else if !outcome.keep_rto {
                // RFC 6298 (5.3): restart the timer on an ACK of new data.
                self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
            }
            self.arm_loss_probe(now);
        }
        if outcome.entered_recovery {
            self.loss_probe_pending = false;
            self.arm_loss_probe(now);
        }
        // New SACK evidence may start (or move) the reordering deadline.
        self.arm_loss_timer(now);
        if self.fin_acked() {
            match self.state {
                State::FinWait1 => {
                    self.state = State::FinWait2;
                    if let Some(limit) = self.cfg.fin_wait_2_timeout {
                        self.timers.set(TimerKind::Close, now + limit);
                    }
                }
                State::Closing => self.enter_time_wait(now),
                State::LastAck => {
                    sig.delete = true;
                    self.enter_closed();
                }
                _ => {}
            }
        }
        true
    }

    /// `SND.UNA` advances to `ack`: free acknowledged bytes, take an RTT sample, reset back-off.
    fn ack_advance(&mut self, now: Instant, seg: &TcpRepr<'_>, ack: Seq, sig: &mut Signals) {
        let data_acked = (ack.since(self.send_buf_seq) as usize).min(self.send_buf.len());
        self.send_buf.consume(data_acked);
        self.send_buf_seq += data_acked;
        self.snd_una = ack;
        self.snd_nxt = self.snd_nxt.max(ack);
        self.recovery.scoreboard.advance(ack);
        sig.acked += data_acked;
        self.stats.bytes_acked += data_acked as u64;
        let ts_sample = if self.ts_ok {
            seg.options.timestamps.map(|(_, ecr)| self.ts_now(now).wrapping_sub(ecr)).filter(|&ms| ms < 1 << 31)
        } else {
            None
        };
        if let Some(ms) = ts_sample {
            self.rtt.sample(Duration::from_millis(u64::from(ms)));
            self.rtt_timing = None;
        } else if let Some((end, sent)) = self.rtt_timing {
            if ack >= end {
                self.rtt.sample(now.saturating_duration_since(sent));
                self.rtt_timing = None;
            }
        }
        self.retries = 0;
    }

    /// Trims a segment's text and FIN to what lies in `[RCV.NXT, RCV.NXT + window)`; `data_seq`
    /// is the sequence number of the first payload byte.
    fn trim<'a>(&self, data_seq: Seq, payload: &'a [u8], fin: bool) -> Trimmed<'a> {
        let mut data_seq = data_seq;
        let mut payload = payload;
        let mut fin = fin;
        let skip = self.rcv_nxt.since(data_seq) as usize;
        if skip > 0 {
            let cut = skip.min(payload.len());
            payload = &payload[cut..];
            data_seq += cut;
            if skip > cut {
                // The FIN itself lies before RCV.NXT: a duplicate.
                fin = false;
            }
        }
        // Nothing at or beyond a FIN we already know of is real data.
        if let Some(remote_fin) = self.remote_fin {
            let room = remote_fin.since(data_seq) as usize;
            if payload.len() > room {
                payload = &payload[..room];
            }
        }
        let window_room = (self.rcv_nxt + self.recv_window()).since(data_seq) as usize;
        if payload.len() > window_room {
            payload = &payload[..window_room];
            fin = false;
        }
        Trimmed { data_seq, payload, fin }
    }

    /// Seventh and eighth steps: store the text, decide how to acknowledge it, process the FIN.
    fn accept_text_and_fin(&mut self, now: Instant, t: Trimmed<'_>, sig: &mut Signals) {
        if !t.payload.is_empty() && self.state.accepts_data() && !self.fin_received {
            let rcv_nxt_before = self.rcv_nxt;
            let offset = self.recv_buf.contiguous_end() + u64::from(t.data_seq.since(self.rcv_nxt));
            let out = self.recv_buf.write_at(offset, t.payload);
            self.rcv_nxt += out.advanced;
            sig.delivered += out.advanced;
            self.stats.bytes_received += out.advanced as u64;
            if self.read_closed {
                let n = self.recv_buf.readable();
                self.recv_buf.discard(n);
            }
            if out.parked || t.data_seq > rcv_nxt_before {
                // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK
                // carrying SACK blocks).
                self.stats.out_of_order_segments += 1;
                self.ack_now = true;
            } else if out.filled_gap || out.advanced == 0 {
                // Filling a hole, or a pure duplicate: acknowledge at once.
                self.ack_now = true;
            } else {
                self.unacked_bytes += out.advanced;
                match self.cfg.delayed_ack {
                    Some(delay) if self.unacked_bytes < 2 * self.smss as usize => {
                        self.timers.set_if_idle(TimerKind::DelayedAck, now + delay);
                    }
                    _ => self.ack_now = true,
                }
            }
        }
        if t.fin && self.remote_fin.is_none() && !self.fin_received {
            self.remote_fin = Some(t.data_seq + t.payload.len());
        }
        self.process_fin_if_reached(now, sig);
    }

    /// The peer's FIN is consumed once every byte before it arrived (it may have come early).
    fn process_fin_if_reached(&mut self, now: Instant, sig: &mut Signals) {
        let Some(fin_seq) = self.remote_fin else { return };
        if self.fin_received || self.rcv_nxt != fin_seq {
            return;
        }
        self.rcv_nxt += 1u32;
        self.fin_received = true;
        sig.fin_received = true;
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now),
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }
}
