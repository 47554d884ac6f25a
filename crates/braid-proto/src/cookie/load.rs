//! Deciding when the device is "under load" and must demand cookies.

use crate::constants::UNDER_LOAD_STICKY;
use crate::time::Instant;
use core::time::Duration;

/// Default handshake rate above which the device counts as under load: more than this many
/// handshake messages within one second.
pub const DEFAULT_HANDSHAKE_LOAD_THRESHOLD: u32 = 1024;

/// The largest accepted threshold. The detector keeps one timestamp per unit of threshold, and
/// no single core processes anywhere near this many handshakes per second anyway.
const MAX_HANDSHAKE_LOAD_THRESHOLD: u32 = 1 << 16;

const ONE_SECOND: Duration = Duration::from_secs(1);

/// Decides whether handshake messages must carry a valid mac2 (whitepaper §5.4.7).
///
/// The signal is the driver's handshake queue when it has one, as in the kernel and
/// wireguard-go: a rate says nothing about whether the device keeps up, a queue does.
/// - the driver's handshake backlog ([`report_backlog`](Self::report_backlog)): under load
///   when a non-empty queue is at least 1/8 of its capacity (the kernel's and wireguard-go's
///   rule). Once a driver has reported its queue, the queue owns the signal and the rate
///   below no longer counts: 1 100 initiations a second that the device handles as they come
///   demand no cookie.
/// - without a queue (a driver that handles datagrams inline, the simulator), the core's own
///   count of handshake messages ([`on_handshake_message`](Self::on_handshake_message)):
///   under load when more than the threshold arrived within one second (the span from the
///   first to the last is under 1 s). The count is exact, not an estimate: the detector keeps
///   the arrival times of the last `threshold` messages in a ring allocated once at
///   construction (8 bytes per unit).
/// - either way, a spent device-wide budget
///   ([`on_budget_exhausted`](Self::on_budget_exhausted)): more handshakes than the device
///   will process is load by definition.
///
/// Once either condition held at time t, [`is_under_load`](Self::is_under_load) is true for
/// `now < t + UNDER_LOAD_STICKY` (1 s), so the mode does not flap with every packet.
#[derive(Debug)]
pub struct LoadDetector {
    /// Arrival times of the most recent handshake messages, oldest at `next` once full.
    recent: Box<[Instant]>,
    next: usize,
    filled: bool,
    /// A driver has reported its queue: the rate count is off.
    queue_driven: bool,
    last_loaded: Option<Instant>,
}

impl Default for LoadDetector {
    fn default() -> Self {
        Self::new(DEFAULT_HANDSHAKE_LOAD_THRESHOLD)
    }
}

impl LoadDetector {
    /// A detector that declares load when more than `handshakes_per_second` handshake
    /// messages arrive within one second. The threshold is clamped to at most 65 536; a
    /// threshold of 0 makes every handshake message count as load.
    pub fn new(handshakes_per_second: u32) -> Self {
        let len = handshakes_per_second.min(MAX_HANDSHAKE_LOAD_THRESHOLD) as usize;
        LoadDetector {
            recent: vec![Instant::ZERO; len].into_boxed_slice(),
            next: 0,
            filled: false,
            queue_driven: false,
            last_loaded: None,
        }
    }

    /// Counts one handshake message (initiation or response) received at `now`.
    pub fn on_handshake_message(&mut self, now: Instant) {
        if self.queue_driven {
            return;
        }
        let Some(slot) = self.recent.get_mut(self.next) else {
            // Threshold 0: any handshake message is more than allowed.
            self.mark_loaded(now);
            return;
        };
        // Once the ring is full, `slot` holds the arrival `threshold` messages ago: if that is
        // less than a second back, threshold + 1 messages arrived within one second.
        let overloaded = self.filled && now.saturating_duration_since(*slot) < ONE_SECOND;
        *slot = now;
        self.next += 1;
        if self.next == self.recent.len() {
            self.next = 0;
            self.filled = true;
        }
        if overloaded {
            self.mark_loaded(now);
        }
    }

    /// The driver's report of its handshake queue: `queued` messages waiting out of
    /// `capacity`. Load when the queue is non-empty and at least 1/8 full.
    pub fn report_backlog(&mut self, now: Instant, queued: usize, capacity: usize) {
        self.queue_driven = true;
        if queued > 0 && queued >= capacity / 8 {
            self.mark_loaded(now);
        }
    }

    /// The device-wide handshake budget refused a message at `now`.
    pub fn on_budget_exhausted(&mut self, now: Instant) {
        self.mark_loaded(now);
    }

    /// True while the device should demand cookies: a load condition held less than
    /// [`UNDER_LOAD_STICKY`] before `now`.
    pub fn is_under_load(&self, now: Instant) -> bool {
        self.last_loaded.is_some_and(|t| now.saturating_duration_since(t) < UNDER_LOAD_STICKY)
    }

    fn mark_loaded(&mut self, now: Instant) {
        self.last_loaded = Some(self.last_loaded.map_or(now, |t| t.max(now)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: u64 = 1_000_000_000;

    #[test]
    fn not_under_load_initially() {
        let d = LoadDetector::default();
        assert!(!d.is_under_load(Instant::ZERO));
        assert!(!d.is_under_load(Instant::from_secs(1000)));
    }

    #[test]
    fn default_threshold_is_more_than_1024_in_a_second() {
        let mut d = LoadDetector::default();
        let t = Instant::from_secs(5);
        for _ in 0..1024 {
            d.on_handshake_message(t);
        }
        assert!(!d.is_under_load(t), "exactly 1024 is not more than the threshold");
        d.on_handshake_message(t);
        assert!(d.is_under_load(t));
    }

    #[test]
    fn count_window_boundary_is_one_second() {
        // Threshold 4: the 5th message within less than a second of the 1st means load.
        let mut d = LoadDetector::new(4);
        for k in 0..4 {
            d.on_handshake_message(Instant::from_nanos(10 * NS + k * 100_000_000));
        }
        d.on_handshake_message(Instant::from_nanos(11 * NS));
        assert!(!d.is_under_load(Instant::from_nanos(11 * NS)), "5 messages spanning exactly 1 s");
        // Messages at 10.1, 10.2, 10.3, 11.0 and now 11.1 - 1 ns: span just under a second.
        d.on_handshake_message(Instant::from_nanos(11 * NS + 100_000_000 - 1));
        assert!(d.is_under_load(Instant::from_nanos(11 * NS + 100_000_000 - 1)));
    }

    #[test]
    fn a_steady_rate_at_the_threshold_is_not_load() {
        let mut d = LoadDetector::new(10);
        for k in 0..100 {
            let now = Instant::from_nanos(k * 100_000_000);
            d.on_handshake_message(now);
            assert!(!d.is_under_load(now), "message {k}");
        }
        d.on_handshake_message(Instant::from_nanos(99 * 100_000_000 + 1));
        assert!(d.is_under_load(Instant::from_nanos(99 * 100_000_000 + 1)));
    }

    #[test]
    fn backlog_of_one_eighth_is_load_and_sticks_for_one_second() {
        let mut d = LoadDetector::default();
        let t = Instant::from_secs(3);
        d.report_backlog(t, 127, 1024);
        assert!(!d.is_under_load(t));
        d.report_backlog(t, 0, 4);
        assert!(!d.is_under_load(t), "an empty queue is never load");
        d.report_backlog(t, 128, 1024);
        assert!(d.is_under_load(t));
        // A later report below the mark does not end the mode early.
        d.report_backlog(t + Duration::from_millis(500), 0, 1024);
        assert!(d.is_under_load(Instant::from_nanos((t + UNDER_LOAD_STICKY).as_nanos() - 1)));
        assert!(!d.is_under_load(t + UNDER_LOAD_STICKY));
    }

    #[test]
    fn stickiness_extends_from_the_last_time_load_was_seen() {
        let mut d = LoadDetector::default();
        d.report_backlog(Instant::from_secs(1), 200, 1024);
        d.report_backlog(Instant::from_millis(1800), 200, 1024);
        // An out-of-order older report does not shorten it.
        d.report_backlog(Instant::from_millis(1200), 200, 1024);
        assert!(d.is_under_load(Instant::from_nanos(2_800_000_000 - 1)));
        assert!(!d.is_under_load(Instant::from_millis(2800)));
    }

    #[test]
    fn a_reported_queue_owns_the_signal() {
        let mut d = LoadDetector::new(4);
        let t = Instant::from_secs(2);
        d.report_backlog(t, 0, 4096);
        for _ in 0..100 {
            d.on_handshake_message(t);
        }
        assert!(!d.is_under_load(t), "a rate above the threshold with an empty queue is not load");
        d.report_backlog(t, 512, 4096);
        assert!(d.is_under_load(t));
    }

    #[test]
    fn a_spent_budget_is_load() {
        let mut d = LoadDetector::default();
        d.on_budget_exhausted(Instant::from_secs(9));
        assert!(d.is_under_load(Instant::from_secs(9)));
    }

    #[test]
    fn zero_threshold_makes_every_handshake_load() {
        let mut d = LoadDetector::new(0);
        d.on_handshake_message(Instant::from_secs(7));
        assert!(d.is_under_load(Instant::from_secs(7)));
        assert!(!d.is_under_load(Instant::from_secs(8)));
    }
}
