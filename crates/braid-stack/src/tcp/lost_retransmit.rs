//! Detecting a lost retransmission from SACK information, without waiting for the RTO.
//!
//! RFC 6675 retransmits each hole once (HighRxt only moves forward), so a retransmission that is
//! itself lost used to be repaired only by the retransmission timer. This log remembers, for each
//! retransmission sent during SACK recovery, `SND.MAX` at the moment it left and when it left.
//! The rule is a simple RACK-style one (RFC 8985 §6.2, reduced to what the scoreboard shows):
//!
//! > A retransmitted range that is still neither acknowledged nor SACKed is **lost** when the
//! > receiver SACKed a byte at or beyond the `SND.MAX` recorded with it (so data first sent
//! > *after* the retransmission overtook it) and at least `SRTT + SRTT/4` (one round trip plus
//! > RACK's reordering window) has passed since it was sent.
//!
//! Besides each ACK, [`RetransmitLog::next_deadline`] gives the connection a time at which to
//! check again, so the rule applies even when no further ACK arrives.
//!
//! A lost entry is handed out again by [`RetransmitLog::next_lost`] and re-recorded when
//! resent. The log has a fixed capacity; a retransmission that does not fit is simply not
//! watched (the RTO still covers it), so a hostile or pathological pattern costs no memory.

use super::sack::Scoreboard;
use super::seq::Seq;
use crate::time::Instant;
use core::time::Duration;

/// How many retransmissions in flight the log watches.
pub const RETRANSMIT_LOG_CAPACITY: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    start: Seq,
    end: Seq,
    /// `SND.MAX` when the retransmission was sent: SACKed bytes at or above it were sent later.
    snd_max: Seq,
    sent: Instant,
    /// Declared lost and not yet resent.
    lost: bool,
}

/// The retransmissions sent during the current SACK recovery, oldest first.
#[derive(Clone, Debug)]
pub struct RetransmitLog {
    entries: [Entry; RETRANSMIT_LOG_CAPACITY],
    len: usize,
}

impl Default for RetransmitLog {
    fn default() -> Self {
        let empty = Entry { start: Seq(0), end: Seq(0), snd_max: Seq(0), sent: Instant::ZERO, lost: false };
        RetransmitLog { entries: [empty; RETRANSMIT_LOG_CAPACITY], len: 0 }
    }
}

impl RetransmitLog {
    /// Forgets everything (recovery ended or the RTO fired).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of watched retransmissions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The range `[start, end)` was (re)transmitted at `now` with `snd_max` the highest sequence
    /// number sent. A resend of a range declared lost replaces its entry (moved to the end, as the
    /// newest); otherwise a new entry is appended if there is room.
    pub fn record(&mut self, start: Seq, end: Seq, snd_max: Seq, now: Instant) {
        if end <= start {
            return;
        }
        if let Some(i) = self.entries[..self.len].iter().position(|e| e.lost && e.start <= start && start < e.end) {
            self.entries.copy_within(i + 1..self.len, i);
            self.len -= 1;
        }
        if self.len < RETRANSMIT_LOG_CAPACITY {
            self.entries[self.len] = Entry { start, end, snd_max, sent: now, lost: false };
            self.len += 1;
        }
    }

    /// Drops entries that were delivered (below `una` or fully SACKed), then marks lost every
    /// entry the rule in the module documentation condemns. Returns how many were newly marked.
    pub fn detect(&mut self, una: Seq, board: &Scoreboard, now: Instant, srtt: Option<Duration>) -> usize {
        let mut kept = 0;
        for i in 0..self.len {
            let e = self.entries[i];
            let delivered = e.end <= una || board.unsacked_between(e.start.max(una), e.end) == 0;
            if !delivered {
                self.entries[kept] = e;
                kept += 1;
            }
        }
        self.len = kept;
        let Some(high) = board.highest_sacked() else { return 0 };
        let wait = srtt.map_or(Duration::ZERO, |r| r + r / 4);
        let mut marked = 0;
        for e in self.entries[..self.len].iter_mut() {
            if !e.lost && high > e.snd_max && now.saturating_duration_since(e.sent) >= wait {
                e.lost = true;
                marked += 1;
            }
        }
        marked
    }

    /// When the next watched retransmission that later-sent data already overtook will have had
    /// its round trip plus reordering window (the rule in the module documentation), so a timer
    /// can declare it lost when no further ACK arrives.
    pub fn next_deadline(&self, una: Seq, board: &Scoreboard, srtt: Option<Duration>) -> Option<Instant> {
        let high = board.highest_sacked()?;
        let wait = srtt.map_or(Duration::ZERO, |r| r + r / 4);
        self.entries[..self.len]
            .iter()
            .filter(|e| !e.lost && e.end > una && high > e.snd_max)
            .map(|e| e.sent + wait)
            .min()
    }

    /// The first unSACKed piece (at most `smss` bytes) of the oldest range declared lost.
    pub fn next_lost(&self, una: Seq, board: &Scoreboard, smss: u32) -> Option<(Seq, Seq)> {
        self.entries[..self.len].iter().filter(|e| e.lost && e.end > una).find_map(|e| {
            let (start, end) = board.next_hole(e.start.max(una), e.end)?;
            Some((start, end.min(start + smss)))
        })
    }

    /// Bytes of ranges declared lost and not yet resent, not SACKed: RFC 6675's pipe counted
    /// them as retransmitted (below HighRxt), but they have left the network.
    pub fn lost_bytes(&self, una: Seq, board: &Scoreboard) -> u32 {
        self.entries[..self.len]
            .iter()
            .filter(|e| e.lost && e.end > una)
            .map(|e| board.unsacked_between(e.start.max(una), e.end))
            .fold(0u32, u32::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::ZERO + MS * ms as u32
    }

    #[test]
    fn a_retransmission_overtaken_by_later_data_is_lost_after_an_rtt_and_a_quarter() {
        let una = Seq(1000);
        let mut board = Scoreboard::new(una);
        let mut log = RetransmitLog::default();
        // [1000, 1100) retransmitted at 0 ms when SND.MAX was 3000; new data [3000, 3100) follows.
        log.record(Seq(1000), Seq(1100), Seq(3000), at(0));
        let srtt = Some(MS * 40);
        // Only data sent before the retransmission is SACKed: no evidence.
        board.add_block(Seq(2000), Seq(3000), una, Seq(3100));
        assert_eq!(log.detect(una, &board, at(100), srtt), 0);
        // Data sent after it is SACKed, but too early (reordering window).
        board.add_block(Seq(3000), Seq(3100), una, Seq(3100));
        assert_eq!(log.detect(una, &board, at(45), srtt), 0);
        assert_eq!(log.next_deadline(una, &board, srtt), Some(at(50)), "a timer can decide without another ACK");
        assert_eq!(log.next_lost(una, &board, 100), None);
        assert_eq!(log.detect(una, &board, at(50), srtt), 1);
        assert_eq!(log.next_deadline(una, &board, srtt), None, "nothing left to decide");
        assert_eq!(log.next_lost(una, &board, 100), Some((Seq(1000), Seq(1100))));
        assert_eq!(log.lost_bytes(una, &board), 100);
        // Resent: watched again, no longer lost.
        log.record(Seq(1000), Seq(1100), Seq(3100), at(50));
        assert_eq!(log.len(), 1);
        assert_eq!(log.next_lost(una, &board, 100), None);
        assert_eq!(log.lost_bytes(una, &board), 0);
        // Delivered: forgotten.
        log.detect(Seq(1100), &board, at(60), srtt);
        assert!(log.is_empty());
    }

    #[test]
    fn sacked_entries_are_dropped_and_capacity_is_bounded() {
        let una = Seq(0);
        let mut board = Scoreboard::new(una);
        let mut log = RetransmitLog::default();
        for i in 0..(RETRANSMIT_LOG_CAPACITY as u32 + 5) {
            log.record(Seq(i * 10), Seq(i * 10 + 10), Seq(10_000), at(0));
        }
        assert_eq!(log.len(), RETRANSMIT_LOG_CAPACITY);
        board.add_block(Seq(0), Seq(10), una, Seq(10_000));
        assert_eq!(log.detect(una, &board, at(0), None), 0, "nothing SACKed beyond SND.MAX");
        assert_eq!(log.len(), RETRANSMIT_LOG_CAPACITY - 1);
        log.record(Seq(5), Seq(5), Seq(10_000), at(0));
        assert_eq!(log.len(), RETRANSMIT_LOG_CAPACITY - 1, "empty ranges are ignored");
    }
}
