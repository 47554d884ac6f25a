//! The sender's SACK scoreboard and the RFC 6675 queries built on it (IsLost, pipe, NextSeg).
//!
//! The scoreboard remembers which bytes above `SND.UNA` the receiver reported in SACK blocks
//! (RFC 2018). It stores unwrapped 64-bit offsets (anchored at `SND.UNA`) in a bounded
//! [`RangeSet`], so a hostile receiver cannot grow it; information that does not fit is dropped,
//! which only makes recovery more conservative. SACK information is advisory: the sender never
//! frees send-buffer bytes because they were SACKed (RFC 2018 §8).
//!
//! Everything here uses half-open ranges, so "HighRxt" is one past the last retransmitted byte.

use super::ooo::RangeSet;
use super::seq::Seq;
use crate::time::Instant;
use core::time::Duration;

/// How many disjoint SACKed ranges the scoreboard tracks.
pub const MAX_SCOREBOARD_RANGES: usize = 32;

/// Offset given to the anchor so sequence numbers slightly below it never underflow.
const ANCHOR_BASE: u64 = 1 << 32;

/// SACKed ranges above `SND.UNA`.
#[derive(Clone, Debug)]
pub struct Scoreboard {
    /// The sequence number whose offset is `anchor_off` (kept equal to `SND.UNA`).
    anchor: Seq,
    anchor_off: u64,
    ranges: RangeSet<MAX_SCOREBOARD_RANGES>,
}

impl Scoreboard {
    /// An empty scoreboard anchored at `una`.
    pub fn new(una: Seq) -> Self {
        Scoreboard { anchor: una, anchor_off: ANCHOR_BASE, ranges: RangeSet::new() }
    }

    /// Forgets every SACKed range (after a retransmission timeout the receiver may have reneged).
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// True when nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    fn off(&self, s: Seq) -> u64 {
        self.anchor_off.saturating_add_signed(i64::from(s.diff(self.anchor)))
    }

    fn seq(&self, off: u64) -> Seq {
        self.anchor + (off.wrapping_sub(self.anchor_off) as u32)
    }

    /// `SND.UNA` moved to `una`: forget everything below it.
    pub fn advance(&mut self, una: Seq) {
        let delta = una.since(self.anchor);
        self.anchor = una;
        self.anchor_off += u64::from(delta);
        self.ranges.remove_below(self.anchor_off);
    }

    /// Records one SACK block `[left, right)`; the part outside `[una, snd_max)` is ignored (stale
    /// or bogus). Returns true when bytes not SACKed before are now SACKed.
    pub fn add_block(&mut self, left: Seq, right: Seq, una: Seq, snd_max: Seq) -> bool {
        if right <= left || right <= una || right > snd_max || left.diff(una) < -(1 << 30) {
            return false;
        }
        let (l, r) = (self.off(left.max(una)), self.off(right));
        let before = self.ranges.covered();
        // A full scoreboard drops the block: recovery just knows less.
        let _ = self.ranges.insert(l, r);
        self.ranges.covered() > before
    }

    /// True when the byte at `s` was SACKed.
    pub fn is_sacked(&self, s: Seq) -> bool {
        self.ranges.contains(self.off(s))
    }

    /// One past the highest SACKed byte.
    pub fn highest_sacked(&self) -> Option<Seq> {
        self.ranges.last().map(|(_, e)| self.seq(e))
    }

    /// Total SACKed bytes.
    pub fn sacked_bytes(&self) -> u64 {
        self.ranges.covered()
    }

    /// Number of disjoint SACKed ranges.
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }

    /// RFC 6675 IsLost as a boundary: every unSACKed byte below the returned sequence number is
    /// lost, every one above is not. A hole is lost when at least `dup_thresh` SACKed ranges, or
    /// more than `(dup_thresh - 1) · smss` SACKed bytes, lie above it; since that set is the same
    /// for every byte of a hole, losses always form a prefix of the holes.
    pub fn lost_boundary(&self, smss: u32, dup_thresh: u32) -> Option<Seq> {
        let mut count = 0u32;
        let mut bytes = 0u64;
        let byte_limit = u64::from(dup_thresh.saturating_sub(1)) * u64::from(smss);
        for (start, end) in self.ranges.iter().rev() {
            count += 1;
            bytes += end - start;
            if count >= dup_thresh || bytes > byte_limit {
                return Some(self.seq(start));
            }
        }
        None
    }

    /// RFC 6675 IsLost(seq).
    pub fn is_lost(&self, s: Seq, smss: u32, dup_thresh: u32) -> bool {
        !self.is_sacked(s) && self.lost_boundary(smss, dup_thresh).is_some_and(|b| s < b)
    }

    /// Bytes of `[from, to)` not SACKed.
    pub fn unsacked_between(&self, from: Seq, to: Seq) -> u32 {
        let (a, b) = (self.off(from), self.off(to));
        if b <= a {
            return 0;
        }
        let sacked: u64 = self.ranges.iter().map(|(s, e)| e.min(b).saturating_sub(s.max(a))).sum();
        (b - a - sacked) as u32
    }

    /// RFC 6675 SetPipe: the sender's estimate of bytes in the network. An unSACKed byte in
    /// `[una, snd_max)` counts once if it is not lost and once more if it was retransmitted (is
    /// below `high_rxt`).
    pub fn pipe(&self, una: Seq, snd_max: Seq, high_rxt: Seq, smss: u32, dup_thresh: u32) -> u32 {
        self.pipe_with_boundary(una, snd_max, high_rxt, self.lost_boundary(smss, dup_thresh))
    }

    /// SetPipe with an explicit loss boundary (unSACKed bytes below `lost_below` are lost), for
    /// callers that combine IsLost with other evidence (see [`OvertakeLog`]).
    pub fn pipe_with_boundary(&self, una: Seq, snd_max: Seq, high_rxt: Seq, lost_below: Option<Seq>) -> u32 {
        let not_lost_from = lost_below.map_or(una, |b| b.max(una));
        let not_lost = self.unsacked_between(not_lost_from, snd_max);
        let retransmitted = self.unsacked_between(una, high_rxt.min(snd_max));
        not_lost.saturating_add(retransmitted)
    }

    /// The first unSACKed byte at or after `from`, with the end of its hole (the next SACKed range
    /// or `limit`). `None` when everything in `[from, limit)` is SACKed.
    pub fn next_hole(&self, from: Seq, limit: Seq) -> Option<(Seq, Seq)> {
        let mut at = self.off(from);
        let lim = self.off(limit);
        for (s, e) in self.ranges.iter() {
            if e <= at {
                continue;
            }
            if s <= at {
                at = e;
                continue;
            }
            // s > at: the hole is [at, s).
            return (at < lim).then(|| (self.seq(at), self.seq(s.min(lim))));
        }
        (at < lim).then(|| (self.seq(at), limit))
    }

    /// The highest unSACKed byte below `snd_max` and at or after `una` (for RFC 6675's rescue
    /// retransmission), as the hole `[start, end)` that ends just past it.
    pub fn last_hole(&self, una: Seq, snd_max: Seq) -> Option<(Seq, Seq)> {
        let (lo, mut hi) = (self.off(una), self.off(snd_max));
        for (s, e) in self.ranges.iter().rev() {
            if s >= hi {
                continue;
            }
            if e >= hi {
                hi = s;
                continue;
            }
            // Hole [e, hi).
            return (e.max(lo) < hi).then(|| (self.seq(e.max(lo)), self.seq(hi)));
        }
        (lo < hi).then(|| (self.seq(lo), self.seq(hi)))
    }
}

/// How many not yet expired "overtaken" points an [`OvertakeLog`] holds.
pub const OVERTAKE_POINTS: usize = 8;

/// Time-based loss evidence from SACKs, after RACK (RFC 8985 §6.2) without per-segment send
/// times.
///
/// Data is first sent in sequence order, so a SACK for bytes up to `high` proves that every
/// original transmission below `high` left earlier and has been overtaken by data sent after
/// it. RACK declares such a segment lost once it had a round trip plus a reordering window to
/// arrive; the moment the receiver reported `high` is at least one round trip after those earlier
/// segments left, so waiting `reo_wnd` after that moment is (slightly more patient than) RACK's
/// rule. This is what catches losses that DupThresh cannot: a hole with only one or two
/// segments SACKed above it (small windows, tail loss probes), or evidence that arrives in an ACK
/// that is not a duplicate (a cumulative ACK, a D-SACK, the end of a recovery).
///
/// The log keeps up to [`OVERTAKE_POINTS`] pending `(high, first seen)` points in increasing
/// order and the highest expired one as the boundary: every unSACKed byte below it that was not
/// retransmitted since is lost. A point that does not fit is dropped (a later ACK reports it
/// again), so the log never allocates.
#[derive(Clone, Debug, Default)]
pub struct OvertakeLog {
    points: [(Seq, Instant); OVERTAKE_POINTS],
    len: usize,
    expired: Option<Seq>,
}

impl OvertakeLog {
    /// Forgets everything (the scoreboard was cleared by a retransmission timeout).
    pub fn clear(&mut self) {
        self.len = 0;
        self.expired = None;
    }

    /// The receiver has SACKed bytes up to `high` (exclusive), as seen at `now`.
    pub fn observe(&mut self, high: Seq, now: Instant) {
        let last = self.points[..self.len].last().map(|&(h, _)| h).or(self.expired);
        if last.is_some_and(|l| high <= l) || self.len == OVERTAKE_POINTS {
            return;
        }
        self.points[self.len] = (high, now);
        self.len += 1;
    }

    /// `SND.UNA` moved to `una`: points at or below it prove nothing any more.
    pub fn advance(&mut self, una: Seq) {
        if self.expired.is_some_and(|e| e <= una) {
            self.expired = None;
        }
        let gone = self.points[..self.len].iter().take_while(|&&(h, _)| h <= una).count();
        self.points.copy_within(gone..self.len, 0);
        self.len -= gone;
    }

    /// Moves every point first seen at least `reo_wnd` before `now` into the boundary.
    pub fn expire(&mut self, now: Instant, reo_wnd: Duration) {
        let due = self.points[..self.len].iter().take_while(|&&(_, at)| at + reo_wnd <= now).count();
        if due > 0 {
            self.expired = Some(self.points[due - 1].0);
            self.points.copy_within(due..self.len, 0);
            self.len -= due;
        }
    }

    /// Every unSACKed original transmission below this sequence number is lost.
    pub fn boundary(&self) -> Option<Seq> {
        self.expired
    }

    /// When the oldest pending point expires.
    pub fn next_deadline(&self, reo_wnd: Duration) -> Option<Instant> {
        self.points[..self.len].first().map(|&(_, at)| at + reo_wnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMSS: u32 = 100;

    /// Segments of 100 bytes starting at 1000; `sacked` lists the SACKed segment indices.
    fn board(sacked: &[u32]) -> Scoreboard {
        let mut b = Scoreboard::new(Seq(1000));
        for &i in sacked {
            b.add_block(Seq(1000 + i * 100), Seq(1100 + i * 100), Seq(1000), Seq(2000));
        }
        b
    }

    #[test]
    fn blocks_outside_the_window_are_ignored() {
        let mut b = Scoreboard::new(Seq(1000));
        assert!(!b.add_block(Seq(900), Seq(1000), Seq(1000), Seq(2000)), "below SND.UNA (D-SACK)");
        assert!(!b.add_block(Seq(1500), Seq(2100), Seq(1000), Seq(2000)), "beyond SND.MAX");
        assert!(!b.add_block(Seq(1500), Seq(1500), Seq(1000), Seq(2000)), "empty");
        assert!(b.add_block(Seq(1500), Seq(1600), Seq(1000), Seq(2000)));
        assert!(!b.add_block(Seq(1500), Seq(1600), Seq(1000), Seq(2000)), "nothing new");
        assert!(b.is_sacked(Seq(1599)) && !b.is_sacked(Seq(1600)));
        b.advance(Seq(1550));
        assert_eq!(b.sacked_bytes(), 50);
        b.advance(Seq(1700));
        assert!(b.is_empty());
    }

    #[test]
    fn is_lost_needs_three_ranges_or_more_than_two_segments_above() {
        // Segment 0 missing, 1 and 3 SACKed (two ranges, 200 bytes): not lost yet.
        let b = board(&[1, 3]);
        assert!(!b.is_lost(Seq(1000), SMSS, 3));
        // Three discontiguous ranges above segment 0.
        let b = board(&[1, 3, 5]);
        assert!(b.is_lost(Seq(1000), SMSS, 3));
        assert!(!b.is_lost(Seq(1200), SMSS, 3), "only two ranges and 200 bytes above");
        // More than 2·SMSS bytes in one range.
        let b = board(&[2, 3, 4]);
        assert!(b.is_lost(Seq(1000), SMSS, 3));
        assert!(b.is_lost(Seq(1199), SMSS, 3));
        assert!(!b.is_lost(Seq(1200), SMSS, 3), "SACKed bytes are never lost");
        assert_eq!(b.lost_boundary(SMSS, 3), Some(Seq(1200)));
    }

    #[test]
    fn pipe_counts_not_lost_and_retransmitted_bytes() {
        // Ten segments outstanding, 0 and 1 lost (holes under three SACKed segments 2..4), 5..9 in flight.
        let b = board(&[2, 3, 4]);
        assert_eq!(b.pipe(Seq(1000), Seq(2000), Seq(1000), SMSS, 3), 500);
        // After retransmitting segment 0 it counts again.
        assert_eq!(b.pipe(Seq(1000), Seq(2000), Seq(1100), SMSS, 3), 600);
        // Without SACK information nothing is lost: everything is in the pipe.
        let empty = board(&[]);
        assert_eq!(empty.pipe(Seq(1000), Seq(2000), Seq(1000), SMSS, 3), 1000);
    }

    #[test]
    fn overtaken_holes_become_lost_after_the_reordering_window() {
        let ms = |n: u64| Instant::from_millis(n);
        let reo = Duration::from_millis(2);
        let mut log = OvertakeLog::default();
        log.observe(Seq(1200), ms(10));
        log.observe(Seq(1100), ms(11)); // not higher: ignored
        log.observe(Seq(1500), ms(11));
        assert_eq!(log.next_deadline(reo), Some(ms(12)));
        log.expire(ms(11), reo);
        assert_eq!(log.boundary(), None, "still within the reordering window");
        log.expire(ms(12), reo);
        assert_eq!(log.boundary(), Some(Seq(1200)));
        assert_eq!(log.next_deadline(reo), Some(ms(13)));
        log.expire(ms(20), reo);
        assert_eq!(log.boundary(), Some(Seq(1500)));
        assert_eq!(log.next_deadline(reo), None);
        log.advance(Seq(1400));
        assert_eq!(log.boundary(), Some(Seq(1500)));
        log.advance(Seq(1500));
        assert_eq!(log.boundary(), None, "everything below it was acknowledged");
        for i in 0..(OVERTAKE_POINTS as u32 + 3) {
            log.observe(Seq(2000 + i), ms(30));
        }
        log.expire(ms(40), reo);
        assert_eq!(log.boundary(), Some(Seq(2000 + OVERTAKE_POINTS as u32 - 1)), "extra points were dropped");
        log.clear();
        assert_eq!((log.boundary(), log.next_deadline(reo)), (None, None));
    }

    #[test]
    fn holes_are_found_in_order() {
        let b = board(&[1, 3]);
        assert_eq!(b.next_hole(Seq(1000), Seq(2000)), Some((Seq(1000), Seq(1100))));
        assert_eq!(b.next_hole(Seq(1100), Seq(2000)), Some((Seq(1200), Seq(1300))));
        assert_eq!(b.next_hole(Seq(1350), Seq(2000)), Some((Seq(1400), Seq(2000))));
        assert_eq!(b.next_hole(Seq(1400), Seq(1400)), None);
        assert_eq!(b.highest_sacked(), Some(Seq(1400)));
        assert_eq!(b.last_hole(Seq(1000), Seq(2000)), Some((Seq(1400), Seq(2000))));
        assert_eq!(b.last_hole(Seq(1000), Seq(1400)), Some((Seq(1200), Seq(1300))));
        let all = board(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(all.next_hole(Seq(1000), Seq(2000)), None);
        assert_eq!(all.last_hole(Seq(1000), Seq(2000)), None);
    }
}
