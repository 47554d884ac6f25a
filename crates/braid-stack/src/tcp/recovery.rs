//! Loss recovery: duplicate-ACK counting, fast retransmit, NewReno fast recovery (RFC 5681 §3.2 and
//! RFC 6582) and SACK-based recovery (RFC 6675).
//!
//! This module decides *when* a loss is declared and *which* bytes to retransmit; the congestion
//! controller ([`CongestionControl`]) decides how the window shrinks and grows. NewReno's temporary
//! window inflation (one SMSS per duplicate ACK, deflation on partial ACKs) is kept here as a signed
//! `inflation` on top of the controller's `cwnd`, so a controller never needs to know which
//! recovery algorithm runs. With SACK the sender instead limits itself by RFC 6675's `pipe`.
//!
//! Beyond the base algorithms:
//! * **Limited transmit** (RFC 3042): the first two duplicate ACKs each let one new segment out
//!   beyond `cwnd`, so a small window still produces the duplicate ACKs loss detection needs.
//! * **Early retransmit** (RFC 5827): with fewer than four segments outstanding and no new data
//!   to send, the duplicate-ACK threshold drops to the outstanding segments minus one.
//! * **Lost retransmissions** are detected from SACK information (see
//!   [`RetransmitLog`]) and resent within recovery.
//! * **Tail loss probes** (RFC 8985 §7, the connection sends them): when an ACK SACKs the probe
//!   while `SND.UNA` is still missing, the data below the probe, sent at least a probe timeout
//!   earlier, is lost (RACK's rule applied to the one segment whose send time is known), and
//!   recovery starts without waiting for DupThresh.
//! * **Time-based loss detection** (RACK, RFC 8985 §6.2, reduced to what the scoreboard knows;
//!   see [`OvertakeLog`]): a hole that SACKed data sent after it overtook is lost once a
//!   reordering window (SRTT / 4) has passed since the SACK arrived. It is checked on every ACK,
//!   not only duplicates, and by a timer (the connection runs it on the loss-probe timer), so a
//!   hole left when a recovery ends, or revealed only by a D-SACK or a single SACKed probe, is
//!   repaired without waiting for the RTO. Watched retransmissions get the same timer.
//! * **SACK after a timeout**: duplicate ACKs for data sent before an RTO may not start a new
//!   recovery (RFC 6582 §3.2 step 4, RFC 6675 §5.1), but when the scoreboard proves a hole lost,
//!   SACK recovery repairs it *without a further window reduction*, instead of waiting for another,
//!   backed-off RTO while go-back-N crawls through the window.

use super::congestion::{AckEvent, CongestionControl};
use super::lost_retransmit::RetransmitLog;
use super::sack::{OvertakeLog, Scoreboard};
use super::seq::Seq;
use crate::time::Instant;
use core::time::Duration;

/// RACK's reordering window (RFC 8985 §6.2 uses min_RTT / 4): how long after SACK evidence a
/// hole below it may still be a reordered, not a lost, segment.
fn reordering_window(srtt: Option<Duration>) -> Duration {
    srtt.map_or(Duration::ZERO, |r| r / 4)
}

/// Which recovery, if any, is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No loss being repaired.
    Open,
    /// RFC 6582 NewReno fast recovery (the peer does not SACK).
    FastRecovery,
    /// RFC 6675 SACK-based loss recovery.
    SackRecovery,
}

/// An acknowledgment as loss recovery sees it; built by the connection for every acceptable ACK.
#[derive(Clone, Copy, Debug)]
pub struct AckInfo {
    /// Arrival time.
    pub now: Instant,
    /// `SND.UNA` before this ACK.
    pub prev_una: Seq,
    /// The acknowledgment number (the new `SND.UNA` when it advanced).
    pub ack: Seq,
    /// Highest sequence number sent plus one.
    pub snd_max: Seq,
    /// `SND.NXT` (below `snd_max` while go-back-N resends after a timeout).
    pub snd_nxt: Seq,
    /// Sender MSS.
    pub smss: u32,
    /// RFC 5681's duplicate-ACK conditions other than the ACK number (no data, no SYN/FIN, same
    /// window); only used when SACK is off.
    pub plain_duplicate: bool,
    /// The ACK's SACK blocks reported bytes not SACKed before (RFC 6675's duplicate ACK).
    pub newly_sacked: bool,
    /// SACK was negotiated.
    pub sack: bool,
    /// DupThresh.
    pub dup_thresh: u32,
    /// Smoothed RTT, forwarded to the congestion controller and used to time lost
    /// retransmissions.
    pub srtt: Option<Duration>,
    /// New data could be sent if the congestion window allowed it (unsent data and room in the
    /// peer's window); RFC 5827 early retransmit applies only when it cannot.
    pub can_send_new: bool,
}

/// What an ACK did to recovery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Loss was declared: a fast retransmit is due.
    pub entered_recovery: bool,
    /// Recovery ended with a full acknowledgment.
    pub exited_recovery: bool,
    /// RFC 6582's "impatient" variant: only the first partial ACK re-arms the retransmission
    /// timer; later ones leave it running so a long recovery falls back to an RTO.
    pub keep_rto: bool,
}

/// A retransmission chosen by RFC 6675 NextSeg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextSeg {
    /// Retransmit `[start, end)`; `rescue` marks rule (4), which must not move HighRxt.
    Retransmit {
        /// First sequence number.
        start: Seq,
        /// One past the last.
        end: Seq,
        /// True for the rescue retransmission of rule (4).
        rescue: bool,
    },
    /// Rule (2): send new data if the windows allow.
    NewData,
    /// Nothing may be sent.
    Nothing,
}

/// Loss-recovery state of one connection.
#[derive(Clone, Debug)]
pub struct Recovery {
    phase: Phase,
    dup_acks: u32,
    /// RFC 6582 `recover` / RFC 6675 `RecoveryPoint`, stored exclusive (`SND.MAX` when set), so
    /// "the ACK covers more than recover" reads `ack >= recover`.
    recover: Seq,
    /// NewReno window inflation on top of the controller's cwnd (may be negative after deflation).
    inflation: i64,
    /// RFC 6675 HighRxt (exclusive end of the highest retransmitted range).
    high_rxt: Seq,
    /// RFC 6675 RescueRxt.
    rescue_rxt: Option<Seq>,
    /// The first segment at `SND.UNA` must be retransmitted now, regardless of cwnd.
    retransmit_first: bool,
    partial_acks: u32,
    /// The SACK scoreboard (empty when SACK is off).
    pub scoreboard: Scoreboard,
    /// Retransmissions sent in SACK recovery, watched for loss.
    lost_rxt: RetransmitLog,
    /// Lost retransmissions detected (for statistics).
    lost_retransmissions: u64,
    /// End of the outstanding tail loss probe, until an ACK covers or SACKs it or recovery
    /// starts.
    probe_end: Option<Seq>,
    /// Time-based (RACK-style) loss evidence from SACKs.
    overtaken: OvertakeLog,
}

impl Recovery {
    /// No recovery; `recover` starts at the ISS (RFC 6582 §3.2 step 1).
    pub fn new(iss: Seq) -> Self {
        Recovery {
            phase: Phase::Open,
            dup_acks: 0,
            recover: iss,
            inflation: 0,
            high_rxt: iss,
            rescue_rxt: None,
            retransmit_first: false,
            partial_acks: 0,
            scoreboard: Scoreboard::new(iss),
            lost_rxt: RetransmitLog::default(),
            lost_retransmissions: 0,
            probe_end: None,
            overtaken: OvertakeLog::default(),
        }
    }

    /// The running phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Duplicate ACKs counted since the last cumulative ACK.
    pub fn dup_acks(&self) -> u32 {
        self.dup_acks
    }

    /// RFC 6675 HighRxt.
    pub fn high_rxt(&self) -> Seq {
        self.high_rxt
    }

    /// Retransmissions found lost (SACKed data sent after them) since the connection opened.
    pub fn lost_retransmissions(&self) -> u64 {
        self.lost_retransmissions
    }

    /// True while a tail loss probe is outstanding (at most one until an ACK covers it).
    pub fn probe_outstanding(&self) -> bool {
        self.probe_end.is_some()
    }

    /// A tail loss probe ending at `end` was sent.
    pub fn probe_sent(&mut self, end: Seq) {
        self.probe_end = Some(end);
    }

    /// True when the segment at `SND.UNA` must be retransmitted at once.
    pub fn retransmit_first_pending(&self) -> bool {
        self.retransmit_first
    }

    /// The congestion window the sender may fill: the controller's, plus NewReno's inflation, or
    /// outside recovery plus one SMSS for each of the first two duplicate ACKs (RFC 3042 limited
    /// transmit: `FlightSize <= cwnd + 2·SMSS`; `cwnd` itself is not changed).
    pub fn send_window(&self, cc: &dyn CongestionControl, smss: u32) -> u32 {
        let cwnd = i64::from(cc.window());
        match self.phase {
            Phase::FastRecovery => (cwnd + self.inflation).clamp(i64::from(smss), i64::from(u32::MAX)) as u32,
            Phase::Open => cc.window().saturating_add(self.dup_acks.min(2).saturating_mul(smss)),
            Phase::SackRecovery => cwnd as u32,
        }
    }

    /// Processes an acceptable ACK (`ack <= snd_max`) after the scoreboard was updated with its
    /// SACK blocks.
    ///
    /// An old ACK (below `prev_una`, still accepted for its window, RFC 5961 §5.2) is seen at
    /// `prev_una` and is never a duplicate: every rule below compares against `SND.UNA`, and one
    /// taken at an older value would, e.g., start a repair whose recovery point is already
    /// acknowledged (whose rescue retransmission then never stops).
    pub fn on_ack(&mut self, cc: &mut dyn CongestionControl, a: &AckInfo) -> AckOutcome {
        let old = a.ack < a.prev_una;
        let a = &AckInfo {
            ack: a.ack.max(a.prev_una),
            plain_duplicate: a.plain_duplicate && !old,
            newly_sacked: a.newly_sacked && !old,
            ..*a
        };
        self.update_overtaken(a);
        let out = self.on_ack_inner(cc, a);
        // A SACKed probe has done its job (its evidence was used above): a later tail may need
        // another one, e.g. when a retransmission in recovery is lost and nothing follows it.
        if self.probe_sacked() {
            self.probe_end = None;
        }
        out
    }

    /// The connection's reordering timer ([`Recovery::reorder_deadline`]) expired: applies the
    /// time-based evidence that became due, exactly as an ACK would. `a` describes the current
    /// state (`prev_una == ack`, no new SACK information).
    pub fn on_reorder_timeout(&mut self, cc: &mut dyn CongestionControl, a: &AckInfo) -> AckOutcome {
        self.update_overtaken(a);
        let mut out = AckOutcome::default();
        match self.phase {
            Phase::Open => {
                if a.sack && a.snd_max > a.ack && self.overtaken_lost(a.ack) {
                    out.entered_recovery = self.check_open_loss(cc, a, a.snd_max.since(a.ack));
                }
            }
            Phase::SackRecovery => self.detect_lost_retransmissions(a),
            Phase::FastRecovery => {}
        }
        out
    }

    /// When time-based loss detection next has something to decide: the oldest SACK evidence
    /// leaves its reordering window, or a watched retransmission overtaken by later data has had
    /// its round trip. `None` when nothing is pending.
    pub fn reorder_deadline(&self, una: Seq, srtt: Option<Duration>) -> Option<Instant> {
        let evidence = self.overtaken.next_deadline(reordering_window(srtt));
        let retransmission = match self.phase {
            Phase::SackRecovery => self.lost_rxt.next_deadline(una, &self.scoreboard, srtt),
            _ => None,
        };
        match (evidence, retransmission) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Records the highest SACKed byte as evidence and expires what is due.
    fn update_overtaken(&mut self, a: &AckInfo) {
        self.overtaken.advance(a.ack);
        if let Some(high) = self.scoreboard.highest_sacked() {
            self.overtaken.observe(high, a.now);
        }
        self.overtaken.expire(a.now, reordering_window(a.srtt));
    }

    /// The byte at `s` (not SACKed) is lost by the time-based rule.
    fn overtaken_lost(&self, s: Seq) -> bool {
        !self.scoreboard.is_sacked(s) && self.overtaken.boundary().is_some_and(|b| s < b)
    }

    /// Unacknowledged bytes below the returned sequence number are lost: RFC 6675 IsLost
    /// combined with the time-based evidence.
    fn lost_boundary(&self, smss: u32, dup_thresh: u32) -> Option<Seq> {
        match (self.scoreboard.lost_boundary(smss, dup_thresh), self.overtaken.boundary()) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        }
    }

    fn on_ack_inner(&mut self, cc: &mut dyn CongestionControl, a: &AckInfo) -> AckOutcome {
        let mut out = AckOutcome::default();
        let flight_before = a.snd_max.since(a.prev_una);
        if a.ack > a.prev_una {
            let acked = a.ack.since(a.prev_una);
            self.dup_acks = 0;
            if self.probe_end.is_some_and(|end| a.ack >= end) {
                self.probe_end = None;
            }
            match self.phase {
                Phase::Open => {
                    cc.on_ack(&AckEvent { now: a.now, acked, flight_before, smss: a.smss, srtt: a.srtt });
                    // A cumulative ACK that SACKs the tail loss probe while data below it is still
                    // missing proves that data lost (RFC 6675 §5 counts such an ACK as the first
                    // duplicate). Only the probe's evidence is used here: applying IsLost to every
                    // cumulative ACK measurably started more recoveries in the simulated network.
                    // The time-based rule applies to every ACK: it has its own reordering window.
                    let probe = a.newly_sacked && self.probe_sacked();
                    if a.sack && a.snd_max > a.ack && (probe || self.overtaken_lost(a.ack)) {
                        self.dup_acks = 1;
                        out.entered_recovery = self.check_open_loss(cc, a, a.snd_max.since(a.ack));
                    }
                }
                Phase::FastRecovery | Phase::SackRecovery if a.ack >= self.recover => {
                    self.phase = Phase::Open;
                    self.inflation = 0;
                    self.retransmit_first = false;
                    self.lost_rxt.clear();
                    cc.on_recovery_exit(a.now, a.snd_max.since(a.ack), a.smss);
                    out.exited_recovery = true;
                    // A hole left above the recovery point (data sent during recovery) that SACKs
                    // already prove lost starts the next recovery now: no further ACK may come.
                    if a.sack && a.snd_max > a.ack && self.overtaken_lost(a.ack) {
                        out.entered_recovery = self.check_open_loss(cc, a, a.snd_max.since(a.ack));
                    }
                }
                Phase::FastRecovery => {
                    // RFC 6582 §3.2 step 5: retransmit the next hole, deflate by what was acked,
                    // add back one SMSS if at least that much was acked.
                    self.inflation -= i64::from(acked);
                    if acked >= a.smss {
                        self.inflation += i64::from(a.smss);
                    }
                    self.retransmit_first = true;
                    self.partial_acks += 1;
                    out.keep_rto = self.partial_acks > 1;
                }
                Phase::SackRecovery => self.detect_lost_retransmissions(a),
            }
            return out;
        }
        let outstanding = a.snd_max > a.ack;
        let duplicate = a.ack == a.prev_una && outstanding && if a.sack { a.newly_sacked } else { a.plain_duplicate };
        if !duplicate {
            // E.g. a D-SACK for a probe that duplicated delivered data: no new SACK, but the
            // time-based evidence may have become due.
            if self.phase == Phase::Open && a.sack && outstanding && self.overtaken_lost(a.ack) {
                out.entered_recovery = self.check_open_loss(cc, a, flight_before);
            }
            return out;
        }
        match self.phase {
            Phase::Open => {
                self.dup_acks += 1;
                out.entered_recovery = self.check_open_loss(cc, a, flight_before);
            }
            Phase::FastRecovery => self.inflation += i64::from(a.smss),
            Phase::SackRecovery => self.detect_lost_retransmissions(a),
        }
        out
    }

    /// Outside recovery, after `dup_acks` was updated: starts recovery when DupThresh duplicate
    /// ACKs arrived, IsLost(HighACK + 1) holds, or the tail loss probe was SACKed while
    /// `SND.UNA` is still missing. Returns true when recovery started.
    fn check_open_loss(&mut self, cc: &mut dyn CongestionControl, a: &AckInfo, flight: u32) -> bool {
        let thresh = self.effective_dup_thresh(a, flight);
        let lost = a.sack
            && (self.probe_sacked() || self.scoreboard.is_lost(a.ack, a.smss, thresh) || self.overtaken_lost(a.ack));
        if (self.dup_acks >= thresh || lost) && a.ack >= self.recover {
            self.enter(cc, a, flight);
            true
        } else if lost {
            // Data sent before an RTO: repair it with SACK, without reducing again.
            self.enter_after_timeout(a);
            true
        } else {
            false
        }
    }

    /// The outstanding tail loss probe was SACKed.
    fn probe_sacked(&self) -> bool {
        self.probe_end.is_some_and(|end| self.scoreboard.is_sacked(end - 1u32))
    }

    /// DupThresh, lowered by RFC 5827 early retransmit when fewer than four segments are
    /// outstanding and no new data can be sent: `ER_thresh = oflight - 1` (at least one).
    fn effective_dup_thresh(&self, a: &AckInfo, flight: u32) -> u32 {
        let oflight = flight.div_ceil(a.smss.max(1));
        if !a.can_send_new && (2..4).contains(&oflight) {
            a.dup_thresh.min(oflight - 1).max(1)
        } else {
            a.dup_thresh
        }
    }

    fn detect_lost_retransmissions(&mut self, a: &AckInfo) {
        let found = self.lost_rxt.detect(a.ack, &self.scoreboard, a.now, a.srtt);
        self.lost_retransmissions += found as u64;
    }

    /// SACK shows a hole lost in data sent before the last RTO: repair it by RFC 6675's rules
    /// under the window the timeout already reduced. `recover` (the RTO's `SND.MAX`) is kept.
    /// Go-back-N already resent everything below `SND.NXT`, so that counts as retransmitted.
    fn enter_after_timeout(&mut self, a: &AckInfo) {
        self.phase = Phase::SackRecovery;
        self.inflation = 0;
        self.retransmit_first = a.ack >= a.snd_nxt;
        self.partial_acks = 0;
        self.high_rxt = a.ack.max(a.snd_nxt);
        self.rescue_rxt = None;
        self.lost_rxt.clear();
        self.probe_end = None;
    }

    fn enter(&mut self, cc: &mut dyn CongestionControl, a: &AckInfo, flight_size: u32) {
        self.recover = a.snd_max;
        cc.on_congestion_event(a.now, flight_size, a.smss);
        self.retransmit_first = true;
        self.partial_acks = 0;
        self.high_rxt = a.ack;
        self.rescue_rxt = None;
        self.lost_rxt.clear();
        self.probe_end = None;
        if a.sack {
            self.phase = Phase::SackRecovery;
            self.inflation = 0;
        } else {
            self.phase = Phase::FastRecovery;
            // RFC 6582 step 2/RFC 5681 step 3: cwnd = ssthresh + 3·SMSS.
            self.inflation = i64::from(a.dup_thresh) * i64::from(a.smss);
        }
    }

    /// The retransmission timer expired: leave recovery, remember `snd_max` so duplicate ACKs for
    /// data sent before the timeout cannot trigger another fast retransmit (RFC 6582 §3.2 step 4),
    /// and forget SACK information (the receiver may have reneged, RFC 2018 §8).
    pub fn on_rto(&mut self, una: Seq, snd_max: Seq) {
        self.phase = Phase::Open;
        self.recover = snd_max;
        self.inflation = 0;
        self.dup_acks = 0;
        self.retransmit_first = false;
        self.high_rxt = una;
        self.rescue_rxt = None;
        self.scoreboard.clear();
        self.lost_rxt.clear();
        self.probe_end = None;
        self.overtaken.clear();
    }

    /// The first-segment retransmission `[start, end)` was sent at `now` (`snd_max` is the
    /// highest sequence number sent). In SACK recovery it also counts for HighRxt and is watched
    /// for loss.
    pub fn first_retransmitted(&mut self, start: Seq, end: Seq, snd_max: Seq, now: Instant) {
        self.retransmit_first = false;
        if self.phase == Phase::SackRecovery {
            self.high_rxt = self.high_rxt.max(end);
            self.lost_rxt.record(start, end, snd_max, now);
        }
    }

    /// The segment `[start, end)` returned by [`Recovery::next_seg`] was sent at `now` (RFC 6675
    /// (C.2)); it is watched for loss.
    pub fn sent_retransmission(&mut self, start: Seq, end: Seq, rescue: bool, snd_max: Seq, now: Instant) {
        if rescue {
            self.rescue_rxt = Some(self.recover);
        } else {
            self.high_rxt = self.high_rxt.max(end);
        }
        self.lost_rxt.record(start, end, snd_max, now);
    }

    /// RFC 6675 SetPipe, minus retransmissions known lost (they left the network).
    pub fn pipe(&self, una: Seq, snd_max: Seq, smss: u32, dup_thresh: u32) -> u32 {
        let boundary = self.lost_boundary(smss, dup_thresh);
        let pipe = self.scoreboard.pipe_with_boundary(una, snd_max, self.high_rxt.max(una), boundary);
        pipe.saturating_sub(self.lost_rxt.lost_bytes(una, &self.scoreboard))
    }

    /// RFC 6675 NextSeg: what to send next during SACK recovery. `new_data` says whether rule (2)
    /// could send unsent data (there is some and the receive window has room).
    pub fn next_seg(&self, una: Seq, snd_max: Seq, smss: u32, dup_thresh: u32, new_data: bool) -> NextSeg {
        let from = self.high_rxt.max(una);
        let board = &self.scoreboard;
        let segment =
            |(start, end): (Seq, Seq)| NextSeg::Retransmit { start, end: end.min(start + smss), rescue: false };
        // (0) a retransmission found lost: it is the oldest hole of all.
        if let Some(hole) = self.lost_rxt.next_lost(una, board, smss) {
            return segment(hole);
        }
        // (1) the first lost, not yet retransmitted hole below the highest SACK.
        if let Some(boundary) = self.lost_boundary(smss, dup_thresh) {
            if let Some(hole) = board.next_hole(from, boundary.min(snd_max)) {
                return segment(hole);
            }
        }
        // (2) new data.
        if new_data {
            return NextSeg::NewData;
        }
        // (3) any not yet retransmitted hole below the highest SACK.
        if let Some(high) = board.highest_sacked() {
            if let Some(hole) = board.next_hole(from, high.min(snd_max)) {
                return segment(hole);
            }
        }
        // (4) one rescue retransmission per recovery, ending at the highest unSACKed byte.
        if self.rescue_rxt.is_none_or(|r| una > r) {
            if let Some((start, end)) = board.last_hole(una, snd_max) {
                let start = if end.since(start) > smss { end - smss } else { start };
                return NextSeg::Retransmit { start, end, rescue: true };
            }
        }
        NextSeg::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::NewReno;

    const SMSS: u32 = 1000;

    fn info(prev_una: u32, ack: u32, snd_max: u32) -> AckInfo {
        AckInfo {
            now: Instant::ZERO,
            prev_una: Seq(prev_una),
            ack: Seq(ack),
            snd_max: Seq(snd_max),
            snd_nxt: Seq(snd_max),
            smss: SMSS,
            plain_duplicate: true,
            newly_sacked: false,
            sack: false,
            dup_thresh: 3,
            srtt: None,
            can_send_new: true,
        }
    }

    fn cc() -> NewReno {
        let mut cc = NewReno::new(Some(10));
        cc.on_established(SMSS);
        cc
    }

    #[test]
    fn newreno_enters_on_third_dup_ack_inflates_and_deflates() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        // 10 segments outstanding from 1; segment 1 lost.
        for n in 1..=2 {
            let o = r.on_ack(&mut cc, &info(1, 1, 10_001));
            assert!(!o.entered_recovery);
            assert_eq!(r.dup_acks(), n);
        }
        let o = r.on_ack(&mut cc, &info(1, 1, 10_001));
        assert!(o.entered_recovery);
        assert_eq!(r.phase(), Phase::FastRecovery);
        assert!(r.retransmit_first_pending());
        assert_eq!(cc.ssthresh(), 5000);
        assert_eq!(r.send_window(&cc, SMSS), 8000, "ssthresh + 3·SMSS");
        r.on_ack(&mut cc, &info(1, 1, 10_001));
        assert_eq!(r.send_window(&cc, SMSS), 9000, "one SMSS per further duplicate");
        r.first_retransmitted(Seq(1), Seq(1001), Seq(10_001), Instant::ZERO);
        // Partial ACK of 3 segments: deflate by 3000, add back 1000.
        let o = r.on_ack(&mut cc, &info(1, 3001, 10_001));
        assert!(!o.exited_recovery && !o.keep_rto);
        assert_eq!(r.send_window(&cc, SMSS), 7000);
        assert!(r.retransmit_first_pending());
        let o = r.on_ack(&mut cc, &info(3001, 4001, 10_001));
        assert!(o.keep_rto, "only the first partial ACK re-arms the timer");
        // Full ACK.
        let o = r.on_ack(&mut cc, &info(4001, 10_001, 10_001));
        assert!(o.exited_recovery);
        assert_eq!(r.phase(), Phase::Open);
        assert_eq!(cc.window(), 2000, "min(ssthresh, max(FlightSize, SMSS) + SMSS) with nothing left");
    }

    #[test]
    fn no_second_fast_retransmit_for_data_sent_before_a_timeout() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        r.on_rto(Seq(1), Seq(10_001));
        for _ in 0..5 {
            assert!(!r.on_ack(&mut cc, &info(1, 1, 10_001)).entered_recovery);
        }
        // Once the cumulative ACK passed `recover`, dup ACKs count again.
        r.on_ack(&mut cc, &info(1, 10_001, 20_001));
        for _ in 0..2 {
            r.on_ack(&mut cc, &info(10_001, 10_001, 20_001));
        }
        assert!(r.on_ack(&mut cc, &info(10_001, 10_001, 20_001)).entered_recovery);
    }

    #[test]
    fn non_duplicates_do_not_count() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        let mut a = info(1, 1, 10_001);
        a.plain_duplicate = false; // e.g. a window update
        for _ in 0..5 {
            r.on_ack(&mut cc, &a);
        }
        assert_eq!(r.dup_acks(), 0);
        let nothing_outstanding = info(1, 1, 1);
        r.on_ack(&mut cc, &nothing_outstanding);
        assert_eq!(r.dup_acks(), 0);
    }

    #[test]
    fn sack_recovery_chooses_segments_by_rfc6675_rules() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        let (una, max) = (Seq(1), Seq(10_001));
        // Segments 0 and 2 lost; 1, 3, 4, 5 SACKed.
        for (l, rt) in [(1001, 2001), (3001, 6001)] {
            r.scoreboard.add_block(Seq(l), Seq(rt), una, max);
        }
        let mut a = info(1, 1, 10_001);
        a.sack = true;
        a.newly_sacked = true;
        let o = r.on_ack(&mut cc, &a);
        assert!(o.entered_recovery, "IsLost(HighACK+1) with more than 2·SMSS SACKed above");
        assert_eq!(r.phase(), Phase::SackRecovery);
        assert_eq!(cc.window(), 5000, "RFC 6675: cwnd = ssthresh, no inflation");
        r.first_retransmitted(Seq(1), Seq(1001), Seq(10_001), Instant::ZERO);
        // Pipe: 6..9 in flight (4000) + the retransmitted segment 0 (1000); 2 is lost.
        assert_eq!(r.pipe(una, max, SMSS, 3), 5000);
        // Rule 1: segment 2.
        assert_eq!(
            r.next_seg(una, max, SMSS, 3, true),
            NextSeg::Retransmit { start: Seq(2001), end: Seq(3001), rescue: false }
        );
        r.sent_retransmission(Seq(2001), Seq(3001), false, Seq(10_001), Instant::ZERO);
        // Rule 2: new data.
        assert_eq!(r.next_seg(una, max, SMSS, 3, true), NextSeg::NewData);
        // Rule 3 finds nothing below the highest SACK; rule 4 rescues the last segment.
        assert_eq!(
            r.next_seg(una, max, SMSS, 3, false),
            NextSeg::Retransmit { start: Seq(9001), end: Seq(10_001), rescue: true }
        );
        r.sent_retransmission(Seq(9001), Seq(10_001), true, Seq(10_001), Instant::ZERO);
        assert_eq!(r.next_seg(una, max, SMSS, 3, false), NextSeg::Nothing, "one rescue per recovery");
    }

    fn sack_info(prev_una: u32, ack: u32, snd_max: u32) -> AckInfo {
        AckInfo { sack: true, newly_sacked: true, ..info(prev_una, ack, snd_max) }
    }

    #[test]
    fn limited_transmit_opens_one_segment_per_early_duplicate_without_touching_cwnd() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        assert_eq!(r.send_window(&cc, SMSS), 10_000);
        r.on_ack(&mut cc, &info(1, 1, 10_001));
        assert_eq!(r.send_window(&cc, SMSS), 11_000);
        r.on_ack(&mut cc, &info(1, 1, 11_001));
        assert_eq!(r.send_window(&cc, SMSS), 12_000);
        assert_eq!(cc.window(), 10_000, "cwnd itself is unchanged");
        // A cumulative ACK ends it.
        r.on_ack(&mut cc, &info(1, 2001, 12_001));
        assert_eq!(r.send_window(&cc, SMSS), cc.window());
    }

    #[test]
    fn early_retransmit_lowers_the_threshold_for_small_flights_with_nothing_new_to_send() {
        // Three segments outstanding, nothing more to send: ER_thresh = 2.
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        let mut a = info(1, 1, 3001);
        a.can_send_new = false;
        assert!(!r.on_ack(&mut cc, &a).entered_recovery);
        assert!(r.on_ack(&mut cc, &a).entered_recovery, "second duplicate triggers with 3 segments out");
        // With new data available, limited transmit is used instead and the threshold stays 3.
        let mut cc = self::cc();
        let mut r = Recovery::new(Seq(0));
        let b = info(1, 1, 3001);
        assert!(!r.on_ack(&mut cc, &b).entered_recovery);
        assert!(!r.on_ack(&mut cc, &b).entered_recovery);
        assert!(r.on_ack(&mut cc, &b).entered_recovery);
        // Four or more segments outstanding: no early retransmit.
        let mut cc = self::cc();
        let mut r = Recovery::new(Seq(0));
        let mut c = info(1, 1, 4001);
        c.can_send_new = false;
        assert!(!r.on_ack(&mut cc, &c).entered_recovery);
        assert!(!r.on_ack(&mut cc, &c).entered_recovery);
    }

    #[test]
    fn sack_repairs_data_sent_before_a_timeout_without_a_second_reduction() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        cc.on_retransmission_timeout(Instant::ZERO, 10_000, SMSS);
        r.on_rto(Seq(1), Seq(10_001));
        let (ssthresh, cwnd) = (cc.ssthresh(), cc.window());
        // Go-back-N resent segment 0 and it was acknowledged; segment 1 is lost again and 2..5
        // (sent before the RTO) are SACKed.
        r.on_ack(&mut cc, &info(1, 1001, 10_001));
        let cwnd_after_ack = cc.window();
        assert!(cwnd_after_ack > cwnd, "slow start");
        r.scoreboard.add_block(Seq(2001), Seq(5001), Seq(1001), Seq(10_001));
        // Go-back-N has not resent segment 1 yet (SND.NXT is at it).
        let o = r.on_ack(&mut cc, &AckInfo { snd_nxt: Seq(1001), ..sack_info(1001, 1001, 10_001) });
        assert!(o.entered_recovery);
        assert_eq!(r.phase(), Phase::SackRecovery);
        assert!(r.retransmit_first_pending());
        assert_eq!((cc.ssthresh(), cc.window()), (ssthresh, cwnd_after_ack), "no further reduction");
        // Recovery ends at the RTO's recovery point.
        let o = r.on_ack(&mut cc, &info(1001, 10_001, 10_001));
        assert!(o.exited_recovery);
    }

    #[test]
    fn a_lost_retransmission_is_resent_once_later_data_is_sacked_after_an_rtt() {
        let mut cc = cc();
        let mut r = Recovery::new(Seq(0));
        let srtt = Duration::from_millis(40);
        // Segment 0 lost, 1..3 SACKed: recovery, and segment 0 is retransmitted at 0 ms.
        r.scoreboard.add_block(Seq(1001), Seq(4001), Seq(1), Seq(10_001));
        let mut a = sack_info(1, 1, 10_001);
        a.srtt = Some(srtt);
        assert!(r.on_ack(&mut cc, &a).entered_recovery);
        r.first_retransmitted(Seq(1), Seq(1001), Seq(10_001), Instant::ZERO);
        // New data 10_001..12_001 is sent after it; its SACK arrives 50 ms later (> 1.25 SRTT)
        // while segment 0 is still missing: the retransmission was lost.
        let mut a = sack_info(1, 1, 12_001);
        a.srtt = Some(srtt);
        a.now = Instant::ZERO + Duration::from_millis(50);
        r.scoreboard.add_block(Seq(10_001), Seq(11_001), Seq(1), Seq(12_001));
        let before = r.pipe(Seq(1), Seq(12_001), SMSS, 3);
        r.on_ack(&mut cc, &a);
        assert_eq!(r.lost_retransmissions(), 1);
        assert_eq!(r.pipe(Seq(1), Seq(12_001), SMSS, 3), before - 1000, "it left the pipe");
        assert_eq!(
            r.next_seg(Seq(1), Seq(12_001), SMSS, 3, true),
            NextSeg::Retransmit { start: Seq(1), end: Seq(1001), rescue: false },
            "resent before anything else"
        );
        r.sent_retransmission(Seq(1), Seq(1001), false, Seq(12_001), a.now);
        assert_ne!(
            r.next_seg(Seq(1), Seq(12_001), SMSS, 3, true),
            NextSeg::Retransmit { start: Seq(1), end: Seq(1001), rescue: false }
        );
    }
}
