//! The per-connection timers, as plain deadlines.
//!
//! A connection has at most one deadline of each kind; [`Timers::next`] is what `poll_at` reports
//! and [`Timers::take_expired`] hands the connection each kind that is due, earliest first. There is
//! no timer wheel here: a handful of `Option<Instant>` per connection is cheaper than any shared
//! structure, and the endpoint orders connections by their `poll_at`.

use crate::time::Instant;

/// The kinds of timer a connection runs (RFC 9293 §3.8, RFC 6298, RFC 1122).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Retransmission of unacknowledged SYN, data or FIN (RFC 6298).
    Retransmit,
    /// A withheld acknowledgment is due (RFC 1122 §4.2.3.2).
    DelayedAck,
    /// Probe a zero window (RFC 9293 §3.8.6.1).
    Persist,
    /// Probe an idle connection (RFC 1122 §4.2.3.6).
    KeepAlive,
    /// TIME-WAIT (2·MSL) or the FIN-WAIT-2 limit ran out: the connection closes.
    Close,
    /// Tail loss probe (RFC 8985 §7): no ACK for about two round trips, send one probe segment.
    LossProbe,
}

const KINDS: [TimerKind; 6] = [
    TimerKind::Retransmit,
    TimerKind::DelayedAck,
    TimerKind::Persist,
    TimerKind::KeepAlive,
    TimerKind::Close,
    TimerKind::LossProbe,
];

/// One optional deadline per [`TimerKind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    deadlines: [Option<Instant>; 6],
}

fn index(kind: TimerKind) -> usize {
    match kind {
        TimerKind::Retransmit => 0,
        TimerKind::DelayedAck => 1,
        TimerKind::Persist => 2,
        TimerKind::KeepAlive => 3,
        TimerKind::Close => 4,
        TimerKind::LossProbe => 5,
    }
}

impl Timers {
    /// Arms `kind` to fire at `at`, replacing any earlier deadline.
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.deadlines[index(kind)] = Some(at);
    }

    /// Arms `kind` at `at` unless it is already armed.
    pub fn set_if_idle(&mut self, kind: TimerKind, at: Instant) {
        let slot = &mut self.deadlines[index(kind)];
        if slot.is_none() {
            *slot = Some(at);
        }
    }

    /// Disarms `kind`.
    pub fn cancel(&mut self, kind: TimerKind) {
        self.deadlines[index(kind)] = None;
    }

    /// The deadline of `kind`, if armed.
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.deadlines[index(kind)]
    }

    /// True when `kind` is armed.
    pub fn is_armed(&self, kind: TimerKind) -> bool {
        self.get(kind).is_some()
    }

    /// Disarms everything (the connection closed).
    pub fn clear(&mut self) {
        self.deadlines = [None; 6];
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer due at `now`, if any.
    pub fn take_expired(&mut self, now: Instant) -> Option<TimerKind> {
        let (kind, _) = KINDS
            .iter()
            .filter_map(|&k| self.get(k).filter(|&at| at <= now).map(|at| (k, at)))
            .min_by_key(|&(_, at)| at)?;
        self.cancel(kind);
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_deadline_order() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(TimerKind::Persist, Instant::from_millis(30));
        t.set(TimerKind::Retransmit, Instant::from_millis(20));
        t.set_if_idle(TimerKind::Retransmit, Instant::from_millis(5));
        t.set(TimerKind::Close, Instant::from_millis(100));
        assert_eq!(t.next(), Some(Instant::from_millis(20)));
        assert_eq!(t.take_expired(Instant::from_millis(10)), None);
        assert_eq!(t.take_expired(Instant::from_millis(50)), Some(TimerKind::Retransmit));
        assert_eq!(t.take_expired(Instant::from_millis(50)), Some(TimerKind::Persist));
        assert_eq!(t.take_expired(Instant::from_millis(50)), None);
        assert!(t.is_armed(TimerKind::Close));
        t.clear();
        assert_eq!(t.next(), None);
    }
}
