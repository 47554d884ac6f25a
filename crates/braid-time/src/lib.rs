//! braid-time: time as a value. The protocol cores (WireGuard, TCP/IP) never read a clock.
#![forbid(unsafe_code)]
//!
//! [`Instant`] is a monotonic nanosecond count from an origin the driver chooses (process start
//! for a daemon, zero for the simulator). Keeping it a plain integer makes simulated time exact
//! and lets hours of protocol time pass in a unit test without sleeping. The WireGuard core and
//! the TCP/IP stack share this one type, so a driver that runs both keeps one clock.

use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point on the driver's monotonic clock, in nanoseconds since the driver's origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The driver's origin; simulations start here.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `d` after the origin, saturating at the far future.
    pub fn from_duration(d: Duration) -> Self {
        Instant(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// An instant `secs` seconds after the origin (handy in tests).
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000_000))
    }

    /// An instant `millis` milliseconds after the origin (handy in tests).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the origin (TCP timestamps count in these).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Time since the origin.
    pub const fn since_origin(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later (never panics).
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Instant {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(d))
    }

    /// True when at least `d` has passed from `self` to `now`.
    pub fn has_elapsed(self, now: Instant, d: Duration) -> bool {
        now.saturating_duration_since(self) >= d
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Instant::from_secs(5);
        assert_eq!(t - Instant::from_secs(7), Duration::ZERO);
        assert_eq!((t + Duration::from_millis(1500)).as_nanos(), 6_500_000_000);
        assert_eq!(Instant::from_nanos(u64::MAX) + Duration::from_secs(1), Instant::from_nanos(u64::MAX));
        assert!(t.has_elapsed(Instant::from_secs(15), Duration::from_secs(10)));
        assert!(!t.has_elapsed(Instant::from_secs(14), Duration::from_secs(10)));
    }
}
