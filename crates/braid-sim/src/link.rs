//! One direction of the simulated underlay between two nodes: delay, jitter, loss,
//! duplication, and whether the path is up at all.
//!
//! Every random decision draws from the network RNG the caller passes in, in a fixed order
//! (loss, delay, duplicate, duplicate's delay), so a seed fixes every datagram's fate.

use core::time::Duration;

use rand_core::RngCore;

/// The behaviour of one directed link (node A → node B).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Fixed one-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram; datagrams sent closer
    /// together than the jitter can overtake each other (reordering).
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
    /// Probability in `0.0..=1.0` that a delivered datagram arrives twice (the copy gets its own jitter).
    pub duplicate: f64,
    /// `false` makes the path dead: everything sent on it is dropped.
    pub up: bool,
}

impl LinkModel {
    /// A perfect link: fixed `delay`, no jitter, no loss, no duplicates.
    pub const fn clean(delay: Duration) -> Self {
        Self { delay, jitter: Duration::ZERO, loss: 0.0, duplicate: 0.0, up: true }
    }

    /// This link with the given loss probability.
    pub fn with_loss(self, loss: f64) -> Self {
        Self { loss, ..self }
    }

    /// This link with the given jitter (which reorders datagrams sent closer together than it).
    pub fn with_jitter(self, jitter: Duration) -> Self {
        Self { jitter, ..self }
    }

    /// This link with the given duplication probability.
    pub fn with_duplicate(self, duplicate: f64) -> Self {
        Self { duplicate, ..self }
    }

    /// This link taken down (`up == false`) or brought back.
    pub fn with_up(self, up: bool) -> Self {
        Self { up, ..self }
    }

    /// Decides what happens to one datagram: dropped, or the delays of its one or two copies.
    pub fn decide(&self, rng: &mut dyn RngCore) -> LinkDecision {
        if !self.up {
            return LinkDecision::LinkDown;
        }
        if chance(rng, self.loss) {
            return LinkDecision::Lost;
        }
        let first = self.delay + uniform_duration(rng, self.jitter);
        let second =
            if chance(rng, self.duplicate) { Some(self.delay + uniform_duration(rng, self.jitter)) } else { None };
        LinkDecision::Deliver { first, second }
    }
}

impl Default for LinkModel {
    /// A clean 10 ms link: a plausible WAN hop without any impairment.
    fn default() -> Self {
        Self::clean(Duration::from_millis(10))
    }
}

/// What the link does with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDecision {
    /// The link is down; the datagram vanishes.
    LinkDown,
    /// Random loss took it.
    Lost,
    /// Delivered after `first`; a duplicate arrives after `second` when present.
    Deliver {
        /// Delay of the original copy.
        first: Duration,
        /// Delay of the duplicate, if the link duplicated the datagram.
        second: Option<Duration>,
    },
}

/// True with probability `p` (clamped to `0.0..=1.0`); draws nothing when `p` is 0 or 1, so a
/// clean link consumes no randomness and adding one lossy link does not perturb the others.
pub fn chance(rng: &mut dyn RngCore, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    unit_f64(rng) < p
}

/// A uniform value in `[0, 1)` with 53 bits of precision.
pub fn unit_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A duration drawn uniformly from `0..=max` (nanosecond resolution); draws nothing for zero.
pub fn uniform_duration(rng: &mut dyn RngCore, max: Duration) -> Duration {
    let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if max_ns == 0 {
        return Duration::ZERO;
    }
    let span = u128::from(max_ns) + 1;
    // Multiply-shift maps a 64-bit draw onto 0..span without a modulo's bias worth caring about.
    let pick = (u128::from(rng.next_u64()) * span) >> 64;
    Duration::from_nanos(u64::try_from(pick).unwrap_or(max_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn down_link_drops_everything_and_clean_link_delivers_after_delay() {
        let mut r = rng();
        let d = Duration::from_millis(25);
        assert_eq!(LinkModel::clean(d).with_up(false).decide(&mut r), LinkDecision::LinkDown);
        for _ in 0..100 {
            assert_eq!(LinkModel::clean(d).decide(&mut r), LinkDecision::Deliver { first: d, second: None });
        }
    }

    #[test]
    fn loss_and_duplication_rates_match_their_probabilities() {
        let mut r = rng();
        let link = LinkModel::clean(Duration::from_millis(1)).with_loss(0.1).with_duplicate(0.2);
        let (mut lost, mut dup) = (0, 0);
        let n = 20_000;
        for _ in 0..n {
            match link.decide(&mut r) {
                LinkDecision::Lost => lost += 1,
                LinkDecision::Deliver { second: Some(_), .. } => dup += 1,
                LinkDecision::Deliver { second: None, .. } => {}
                LinkDecision::LinkDown => panic!("link is up"),
            }
        }
        let lost_rate = lost as f64 / n as f64;
        let dup_rate = dup as f64 / (n - lost) as f64;
        assert!((0.09..0.11).contains(&lost_rate), "loss rate {lost_rate}");
        assert!((0.18..0.22).contains(&dup_rate), "duplicate rate {dup_rate}");
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let mut r = rng();
        let link = LinkModel::clean(Duration::from_millis(10)).with_jitter(Duration::from_millis(5));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let LinkDecision::Deliver { first, .. } = link.decide(&mut r) else { panic!("clean link dropped") };
            assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(15), "{first:?}");
            seen.insert(first);
        }
        assert!(seen.len() > 900, "jitter barely varies: {} distinct delays", seen.len());
    }

    #[test]
    fn uniform_duration_reaches_both_ends_of_a_tiny_range() {
        let mut r = rng();
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let d = uniform_duration(&mut r, Duration::from_nanos(2));
            seen[d.as_nanos() as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn certain_and_impossible_events_draw_no_randomness() {
        let mut a = rng();
        let mut b = rng();
        assert!(!chance(&mut a, 0.0));
        assert!(chance(&mut a, 1.0));
        assert!(!chance(&mut a, f64::NAN));
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
