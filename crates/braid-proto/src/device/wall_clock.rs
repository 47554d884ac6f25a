//! The wall clock derived from the monotonic one: handshake timestamps (TAI64N) and
//! `last_handshake` need Unix time, but the core is only ever given `Instant`s.

use crate::time::Instant;
use core::time::Duration;

/// Unix time at one monotonic instant; Unix time at any other follows by offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallClock {
    at: Instant,
    unix: Duration,
}

impl WallClock {
    pub fn new(at: Instant, unix: Duration) -> Self {
        WallClock { at, unix }
    }

    /// Unix time at `now`.
    pub fn unix_at(&self, now: Instant) -> Duration {
        if now >= self.at {
            self.unix.saturating_add(now - self.at)
        } else {
            self.unix.saturating_sub(self.at - now)
        }
    }
}
