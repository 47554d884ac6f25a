//! The device-wide cap on handshake work: how many handshake messages per second may reach
//! the Diffie-Hellman steps, whatever their sources.

use crate::time::Instant;

/// Default: handshake messages per second that may reach the Diffie-Hellman steps. An
/// initiation from an unknown static key costs one X25519 (about 50 µs here), an accepted one
/// about five, so 2 000/s is at most a tenth to a half of one core; 100 000 peers rekeying
/// every two minutes need 833/s.
pub const DEFAULT_HANDSHAKE_BUDGET: u32 = 2000;

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// A full bucket holds a tenth of a second's worth: a burst of rekeys passes at once.
const BURST_DIVISOR: u64 = 10;

/// A token bucket shared by every source (the per-source one is
/// [`RateLimiter`](super::RateLimiter)). 2 000 sources that each stay within their own 20/s
/// still ask for 40 000 X25519/s; this bounds what they get in total, so the cryptography of
/// handshakes can never starve the transport data of established peers.
#[derive(Debug)]
pub struct HandshakeBudget {
    /// Nanoseconds of credit each message costs (`u64::MAX`: a budget of 0, nothing passes).
    cost_ns: u64,
    capacity_ns: u64,
    tokens_ns: u64,
    last: Option<Instant>,
}

impl Default for HandshakeBudget {
    fn default() -> Self {
        Self::new(DEFAULT_HANDSHAKE_BUDGET)
    }
}

impl HandshakeBudget {
    /// A budget of `per_second` messages per second, with a burst of a tenth of that (at
    /// least one). `0` lets nothing through.
    pub fn new(per_second: u32) -> Self {
        if per_second == 0 {
            return HandshakeBudget { cost_ns: u64::MAX, capacity_ns: 0, tokens_ns: 0, last: None };
        }
        let cost_ns = NANOS_PER_SEC / u64::from(per_second);
        let burst = (u64::from(per_second) / BURST_DIVISOR).max(1);
        let capacity_ns = cost_ns * burst;
        HandshakeBudget { cost_ns, capacity_ns, tokens_ns: capacity_ns, last: None }
    }

    /// Takes one message's worth at `now`; false when the budget is spent (the message must
    /// be dropped before any Diffie-Hellman work).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = self.last.map_or(0, |last| now.saturating_duration_since(last).as_nanos() as u64);
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
        self.tokens_ns = self.tokens_ns.saturating_add(elapsed).min(self.capacity_ns);
        if self.tokens_ns >= self.cost_ns {
            self.tokens_ns -= self.cost_ns;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(budget: &mut HandshakeBudget, from_ns: u64, to_ns: u64, every_ns: u64) -> u64 {
        (from_ns..to_ns).step_by(every_ns as usize).filter(|&t| budget.allow(Instant::from_nanos(t))).count() as u64
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds_whatever_is_asked() {
        let mut budget = HandshakeBudget::new(2000);
        // 200 at once (a tenth of a second's worth), then nothing more at the same instant.
        assert_eq!(passed(&mut budget, 1_000_000_000, 1_000_000_000 + 400, 1), 200);
        // 40 000 asked per second for 10 s: 2 000 a second get through (± the refill edge).
        let got = passed(&mut budget, 1_000_000_400, 11_000_000_400, NANOS_PER_SEC / 40_000);
        assert!((19_990..=20_010).contains(&got), "{got}");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let mut budget = HandshakeBudget::new(100);
        assert_eq!(passed(&mut budget, 0, 100, 1), 10);
        // An hour idle is still only a burst of 10.
        let hour = 3600 * NANOS_PER_SEC;
        assert_eq!(passed(&mut budget, hour, hour + 100, 1), 10);
    }

    #[test]
    fn zero_lets_nothing_through_and_time_going_backwards_grants_nothing() {
        let mut none = HandshakeBudget::new(0);
        assert!(!none.allow(Instant::from_secs(5)));
        let mut budget = HandshakeBudget::new(10);
        assert_eq!(passed(&mut budget, 5 * NANOS_PER_SEC, 5 * NANOS_PER_SEC + 10, 1), 1);
        assert!(!budget.allow(Instant::from_secs(1)), "an earlier instant adds no credit");
    }
}
