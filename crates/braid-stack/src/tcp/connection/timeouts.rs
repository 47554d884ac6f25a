//! Expired timers: retransmission (RFC 6298 §5), delayed ACK, persist (zero-window probing),
//! keep-alive, and the TIME-WAIT / FIN-WAIT-2 close.

use super::Connection;
use crate::tcp::error::ConnectionError;
use crate::tcp::recovery::{AckInfo, Phase};
use crate::tcp::signals::Signals;
use crate::tcp::state::State;
use crate::tcp::timers::TimerKind;
use crate::time::Instant;
use core::time::Duration;

impl Connection {
    /// Runs every timer due at `now` (call it when [`poll_at`](Self::poll_at) has passed; calling
    /// it early is harmless). Afterwards call [`poll_transmit`](Self::poll_transmit) if
    /// `may_send` is set, and delete the connection if `delete` is.
    pub fn on_timeout(&mut self, now: Instant) -> Signals {
        let mut sig = Signals::default();
        while let Some(kind) = self.timers.take_expired(now) {
            match kind {
                TimerKind::Retransmit => self.on_retransmit_timeout(now, &mut sig),
                TimerKind::DelayedAck => self.ack_now = true,
                TimerKind::LossProbe => {
                    self.on_loss_timer(now);
                }
                TimerKind::Persist => self.on_persist_timeout(&mut sig),
                TimerKind::KeepAlive => self.on_keep_alive_timeout(now, &mut sig),
                TimerKind::Close => {
                    // TIME-WAIT's 2·MSL or the FIN-WAIT-2 limit: the connection is over.
                    sig.delete = true;
                    self.enter_closed();
                }
            }
            if self.state == State::Closed {
                sig.delete = true;
                return sig;
            }
        }
        self.update_persist(now);
        sig.may_send = self.plan().is_some();
        sig
    }

    fn on_retransmit_timeout(&mut self, now: Instant, sig: &mut Signals) {
        match self.state {
            State::SynSent | State::SynReceived => {
                self.retries += 1;
                if self.retries > self.cfg.max_syn_retransmissions {
                    self.fail(ConnectionError::TimedOut, sig);
                    return;
                }
                self.stats.timeouts += 1;
                self.send_syn = true;
                self.syn_retransmitted = true;
                self.rtt_timing = None;
                self.rtt.back_off();
            }
            State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck => {
                if self.snd_una == self.snd_max {
                    return;
                }
                self.retries += 1;
                if self.retries > self.cfg.max_retransmissions {
                    self.fail(ConnectionError::TimedOut, sig);
                    return;
                }
                self.stats.timeouts += 1;
                // RFC 5681 (4) with FlightSize = SND.MAX - SND.UNA, then go back to SND.UNA.
                let flight = self.snd_max.since(self.snd_una);
                self.cc.on_retransmission_timeout(now, flight, self.smss);
                self.recovery.on_rto(self.snd_una, self.snd_max);
                self.loss_probe_pending = false;
                self.pto_at = None;
                self.timers.cancel(TimerKind::LossProbe);
                self.snd_nxt = self.snd_una;
                self.rtt_timing = None;
                self.rtt.back_off();
            }
            State::Closed | State::FinWait2 | State::TimeWait => {}
        }
    }

    /// The shared `LossProbe` timer fired: first loss recovery's reordering deadline (time-based
    /// loss detection, which may start a recovery), then the tail loss probe if it is due and
    /// still needed.
    fn on_loss_timer(&mut self, now: Instant) {
        let srtt = self.rtt.srtt();
        if self.recovery.reorder_deadline(self.snd_una, srtt).is_some_and(|at| at <= now) {
            let info = AckInfo {
                now,
                prev_una: self.snd_una,
                ack: self.snd_una,
                snd_max: self.snd_max,
                snd_nxt: self.snd_nxt,
                smss: self.smss,
                plain_duplicate: false,
                newly_sacked: false,
                sack: self.sack_ok,
                dup_thresh: self.cfg.dup_ack_threshold,
                srtt,
                can_send_new: self.data_end() > self.snd_nxt && self.snd_una + self.snd_wnd > self.snd_nxt,
            };
            if self.recovery.on_reorder_timeout(self.cc.as_mut(), &info).entered_recovery {
                self.stats.fast_retransmits += 1;
                self.loss_probe_pending = false;
                self.arm_loss_probe(now);
            }
            self.stats.lost_retransmissions = self.recovery.lost_retransmissions();
        }
        if self.pto_at.is_some_and(|at| at <= now) {
            self.pto_at = None;
            let outstanding = self.snd_max > self.snd_una;
            self.loss_probe_pending =
                outstanding && self.recovery.phase() != Phase::FastRecovery && !self.recovery.probe_outstanding();
        }
        self.arm_loss_timer(now);
    }

    /// Arms the `LossProbe` timer at the earlier of the tail-loss-probe deadline and loss
    /// recovery's reordering deadline, or disarms it when neither is pending. Never at or before
    /// `now`, so an expiry that decided nothing cannot make `on_timeout` spin.
    pub(super) fn arm_loss_timer(&mut self, now: Instant) {
        let reorder = if self.state.is_synchronized() && self.snd_max > self.snd_una {
            self.recovery.reorder_deadline(self.snd_una, self.rtt.srtt())
        } else {
            None
        };
        let at = match (self.pto_at, reorder) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        match at {
            Some(at) => self.timers.set(TimerKind::LossProbe, at.max(now + Duration::from_micros(1))),
            None => self.timers.cancel(TimerKind::LossProbe),
        }
    }

    fn on_persist_timeout(&mut self, sig: &mut Signals) {
        // RFC 1122 §4.2.2.17: keep probing as long as the peer answers; give up after as many
        // unanswered probes as retransmissions.
        self.probes_unanswered += 1;
        if self.probes_unanswered > self.cfg.max_retransmissions {
            self.fail(ConnectionError::TimedOut, sig);
            return;
        }
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        let win_avail = (self.snd_una + self.snd_wnd).since(self.snd_nxt);
        if win_avail > 0 {
            // A small but non-zero window that sender SWS avoidance refused: send what fits
            // (RFC 1122 §4.2.3.4's override timeout).
            self.persist_force = true;
        } else {
            self.probe_pending = true;
            self.stats.window_probes += 1;
        }
        // Re-armed by `update_persist` while the window stays closed.
    }

    fn on_keep_alive_timeout(&mut self, now: Instant, sig: &mut Signals) {
        let Some(k) = self.cfg.keep_alive else { return };
        if !matches!(self.state, State::Established | State::CloseWait | State::FinWait1 | State::FinWait2) {
            return;
        }
        let idle = now.saturating_duration_since(self.last_received);
        if self.keep_alive_sent == 0 && idle < k.idle {
            // Traffic arrived since the timer was set.
            self.timers.set(TimerKind::KeepAlive, self.last_received + k.idle);
            return;
        }
        if self.snd_una != self.snd_max {
            // Data is outstanding: the retransmission timer watches the connection.
            self.timers.set(TimerKind::KeepAlive, now + k.idle);
            return;
        }
        if self.keep_alive_sent >= k.probes {
            self.fail(ConnectionError::TimedOut, sig);
            return;
        }
        self.keep_alive_sent += 1;
        self.probe_pending = true;
        self.stats.keep_alive_probes += 1;
        self.timers.set(TimerKind::KeepAlive, now + k.interval);
    }
}
