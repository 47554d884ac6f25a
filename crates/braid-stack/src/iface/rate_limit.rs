//! A token bucket, for the ICMP error rate limit (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)).

use crate::time::Instant;

/// Allows `rate` events per second on average and bursts of `burst`.
///
/// Exists so a flood to closed ports cannot turn the stack into an ICMP amplifier or spend its
/// transmit capacity on errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenBucket {
    /// Nanoseconds of credit; one event costs `cost`.
    credit: u64,
    cost: u64,
    max_credit: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A `rate` of 0 allows nothing.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        let cost = if rate == 0 { u64::MAX } else { 1_000_000_000 / u64::from(rate) };
        let max_credit = cost.saturating_mul(u64::from(burst.max(1)));
        TokenBucket { credit: if rate == 0 { 0 } else { max_credit }, cost, max_credit, last: Instant::ZERO }
    }

    /// Takes a token if one is available at `now`.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        let elapsed = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.credit = self.credit.saturating_add(elapsed).min(self.max_credit);
        if self.cost != u64::MAX && self.credit >= self.cost {
            self.credit -= self.cost;
            true
        } else {
            false
        }
    }

    /// The interval between events at the sustained rate.
    #[cfg(test)]
    pub(crate) fn interval(&self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn allows_a_burst_then_the_sustained_rate() {
        let mut bucket = TokenBucket::new(10, 3);
        let t0 = Instant::from_secs(100);
        assert!((0..3).all(|_| bucket.allow(t0)));
        assert!(!bucket.allow(t0));
        assert_eq!(bucket.interval(), Duration::from_millis(100));
        assert!(!bucket.allow(t0 + Duration::from_millis(99)));
        assert!(bucket.allow(t0 + Duration::from_millis(100)));
        assert!(!bucket.allow(t0 + Duration::from_millis(150)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.allow(later)).count(), 3);
        let mut never = TokenBucket::new(0, 5);
        assert!(!never.allow(later));
    }
}
