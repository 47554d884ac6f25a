//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! Samples come from the connection, which applies Karn's rule (no sample from a retransmitted
//! segment) or takes them from echoed timestamps (RFC 7323 §4), which are never ambiguous. Every
//! value is a plain [`Duration`] so the exact RTO after each sample or back-off can be asserted in
//! tests.

use core::time::Duration;

/// Limits of the RTO computation, from the connection's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtoBounds {
    /// RTO before the first sample (RFC 6298 (2.1): 1 s).
    pub initial: Duration,
    /// Lower clamp (RFC 6298 (2.4) says 1 s; Linux uses 200 ms).
    pub min: Duration,
    /// Upper clamp, also the ceiling of exponential back-off (RFC 6298 (2.5): at least 60 s).
    pub max: Duration,
    /// Clock granularity G of RFC 6298 (2.2)/(2.3).
    pub granularity: Duration,
}

/// Smoothed RTT, RTT variance and the backed-off retransmission timeout of one connection.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    bounds: RtoBounds,
    srtt: Option<Duration>,
    rttvar: Duration,
    /// RTO computed from the last sample (or the initial value), before back-off.
    base_rto: Duration,
    /// Number of consecutive doublings applied by timeouts (Karn's back-off).
    backoff: u32,
}

impl RttEstimator {
    /// An estimator with no sample yet: RTO is `bounds.initial`.
    pub fn new(bounds: RtoBounds) -> Self {
        RttEstimator { bounds, srtt: None, rttvar: Duration::ZERO, base_rto: bounds.initial, backoff: 0 }
    }

    /// Smoothed round-trip time, once a sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Round-trip time variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Consecutive back-offs since the last sample.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// The retransmission timeout to arm now: the computed RTO doubled once per back-off, never
    /// above the maximum.
    pub fn rto(&self) -> Duration {
        let max = self.bounds.max;
        let mut rto = self.base_rto.min(max);
        for _ in 0..self.backoff {
            rto = rto.saturating_mul(2);
            if rto >= max {
                return max;
            }
        }
        rto
    }

    /// Feeds one measurement (RFC 6298 (2.2)/(2.3)) and cancels any back-off: a valid sample
    /// means the path delivers again.
    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let rto = srtt + self.bounds.granularity.max(self.rttvar * 4);
        self.base_rto = rto.clamp(self.bounds.min, self.bounds.max);
        self.backoff = 0;
    }

    /// A retransmission timer expired: double the RTO (RFC 6298 (5.5)).
    pub fn back_off(&mut self) {
        if self.rto() < self.bounds.max {
            self.backoff += 1;
        }
    }

    /// RFC 6298 (5.7): the SYN (or SYN-ACK) timed out and no sample exists yet, so data transfer
    /// starts with a 3-second RTO instead of the (smaller) initial one.
    pub fn after_syn_timeout(&mut self) {
        self.backoff = 0;
        if self.srtt.is_none() && self.base_rto < Duration::from_secs(3) {
            self.base_rto = Duration::from_secs(3).min(self.bounds.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> RtoBounds {
        RtoBounds {
            initial: Duration::from_secs(1),
            min: Duration::from_millis(200),
            max: Duration::from_secs(60),
            granularity: Duration::from_millis(1),
        }
    }

    #[test]
    fn follows_rfc6298_formulas_exactly() {
        let mut e = RttEstimator::new(bounds());
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        // SRTT = 100, RTTVAR = 50, RTO = 100 + 4*50 = 300.
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(200));
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5; RTO = 112.5 + 250 = 362.5.
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn clamps_to_min_and_uses_granularity() {
        let mut e = RttEstimator::new(bounds());
        for _ in 0..50 {
            e.sample(Duration::from_millis(10));
        }
        assert_eq!(e.rto(), Duration::from_millis(200));
        let mut tight = RttEstimator::new(RtoBounds { min: Duration::ZERO, ..bounds() });
        for _ in 0..200 {
            tight.sample(Duration::from_millis(10));
        }
        // RTTVAR decays to (nearly) zero, so G dominates.
        assert_eq!(tight.rto(), Duration::from_millis(11));
    }

    #[test]
    fn backs_off_exponentially_up_to_the_maximum_and_resets_on_sample() {
        let mut e = RttEstimator::new(bounds());
        let mut seen = Vec::new();
        for _ in 0..8 {
            e.back_off();
            seen.push(e.rto().as_secs());
        }
        assert_eq!(seen, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn syn_timeout_starts_data_with_three_seconds() {
        let mut e = RttEstimator::new(bounds());
        e.back_off();
        e.after_syn_timeout();
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
