//! CUBIC (RFC 9438): the window grows as a cubic function of the time since the last
//! congestion event, so it regains its old size in a few seconds whatever the round trip, where
//! NewReno adds one segment per round trip (minutes at 100 ms and hundreds of Mbit/s).
//!
//! The window is kept in bytes like every algorithm here; the cubic arithmetic runs in
//! segments (the RFC's unit) as `f64`, which cannot panic.

use super::{initial_window, AckEvent, CongestionControl};
use crate::time::Instant;

/// RFC 9438 §4.1: the cubic's scaling constant (segments / s³).
const C: f64 = 0.4;
/// RFC 9438 §4.6: the multiplicative decrease factor.
const BETA: f64 = 0.7;
/// RFC 9438 §4.3: the Reno-friendly additive increase per round trip, `3(1-β)/(1+β)`.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// RFC 9438 CUBIC, with fast convergence and the Reno-friendly region; slow start as RFC 5681.
#[derive(Clone, Debug)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    initial_segments: Option<u32>,
    /// The window (segments) before the last reduction.
    w_max: f64,
    /// `w_max` of the reduction before, for fast convergence.
    w_last_max: f64,
    /// Seconds the cubic takes to climb back to `w_max`.
    k: f64,
    /// When the current congestion-avoidance epoch started (`None`: at the next ACK).
    epoch_start: Option<Instant>,
    /// The Reno-friendly estimate (segments).
    w_est: f64,
    /// Growth not yet added to `cwnd` (bytes below one).
    pending: f64,
}

impl Cubic {
    /// A controller with an unbounded initial ssthresh; the window is set once the MSS is known.
    pub fn new(initial_segments: Option<u32>) -> Self {
        Cubic {
            cwnd: initial_window(536, initial_segments),
            ssthresh: u32::MAX,
            initial_segments,
            w_max: 0.0,
            w_last_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: 0.0,
            pending: 0.0,
        }
    }

    /// RFC 9438 §4.6-4.7: remember the window, reduce by β (with fast convergence).
    fn reduce(&mut self, smss: u32) {
        let segments = f64::from(self.cwnd) / f64::from(smss.max(1));
        if segments < self.w_last_max {
            self.w_last_max = segments;
            self.w_max = segments * (1.0 + BETA) / 2.0;
        } else {
            self.w_last_max = segments;
            self.w_max = segments;
        }
        self.ssthresh = ((f64::from(self.cwnd) * BETA) as u32).max(2 * smss);
        self.epoch_start = None;
        self.pending = 0.0;
    }

    fn grow(&mut self, bytes: f64) {
        self.pending += bytes.max(0.0);
        let whole = self.pending.floor();
        self.pending -= whole;
        self.cwnd = self.cwnd.saturating_add(whole.min(f64::from(u32::MAX)) as u32);
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn window(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_established(&mut self, smss: u32) {
        self.cwnd = initial_window(smss, self.initial_segments);
        self.epoch_start = None;
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(ack.acked.min(ack.smss));
            return;
        }
        let smss = f64::from(ack.smss.max(1));
        let cwnd = f64::from(self.cwnd) / smss;
        let start = match self.epoch_start {
            Some(start) => start,
            None => {
                // RFC 9438 §4.2: a new epoch; from a window above w_max (no reduction seen, or
                // it grew past), the cubic starts here with K = 0.
                if cwnd < self.w_max {
                    self.k = ((self.w_max - cwnd) / C).cbrt();
                } else {
                    self.k = 0.0;
                    self.w_max = cwnd;
                }
                self.w_est = cwnd;
                self.epoch_start = Some(ack.now);
                ack.now
            }
        };
        let rtt = ack.srtt.map_or(0.0, |d| d.as_secs_f64());
        let t = ack.now.saturating_duration_since(start).as_secs_f64();
        let cubic_at = |t: f64| C * (t - self.k).powi(3) + self.w_max;
        let acked = f64::from(ack.acked) / smss;
        // §4.3: the Reno-friendly window grows α segments per round trip.
        self.w_est += ALPHA * acked / cwnd;
        if cubic_at(t) < self.w_est {
            // Reno-friendly region: at least as fast as Reno would be.
            let target = self.w_est.min(1.5 * cwnd);
            self.grow((target - cwnd).max(0.0) * smss);
        } else {
            // §4.4/4.5: toward the cubic's value one round trip ahead, at most 1.5 × per RTT.
            let target = cubic_at(t + rtt).clamp(cwnd, 1.5 * cwnd);
            self.grow((target - cwnd) / cwnd * acked * smss);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight_size: u32, smss: u32) {
        self.reduce(smss);
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_exit(&mut self, _now: Instant, flight_size: u32, smss: u32) {
        // As NewReno (RFC 6582 §3.2 option 1): no burst when little is outstanding.
        self.cwnd = self.ssthresh.min(flight_size.max(smss).saturating_add(smss));
    }

    fn on_retransmission_timeout(&mut self, _now: Instant, _flight_size: u32, smss: u32) {
        self.reduce(smss);
        self.cwnd = smss;
    }

    fn on_idle_restart(&mut self, smss: u32) {
        self.cwnd = self.cwnd.min(initial_window(smss, self.initial_segments));
        self.epoch_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    const SMSS: u32 = 1000;

    fn ack(now: Instant, acked: u32, srtt_ms: u64) -> AckEvent {
        AckEvent { now, acked, flight_before: 0, smss: SMSS, srtt: Some(Duration::from_millis(srtt_ms)) }
    }

    /// Acknowledges one full window per round trip for `rtts` round trips of `rtt_ms`.
    fn run(c: &mut Cubic, from: Instant, rtts: u32, rtt_ms: u64) -> Instant {
        let mut now = from;
        for _ in 0..rtts {
            now += Duration::from_millis(rtt_ms);
            let segments = c.window() / SMSS;
            for _ in 0..segments {
                c.on_ack(&ack(now, SMSS, rtt_ms));
            }
        }
        now
    }

    #[test]
    fn a_reduction_is_by_beta_and_the_old_window_returns_in_about_k_seconds_whatever_the_rtt() {
        for rtt_ms in [100, 200] {
            let mut c = Cubic::new(Some(10));
            c.on_established(SMSS);
            c.cwnd = 1000 * SMSS;
            c.ssthresh = c.cwnd;
            c.on_congestion_event(Instant::ZERO, c.cwnd, SMSS);
            assert_eq!(c.window(), 700 * SMSS, "β = 0.7");
            // K = cbrt(1000 × 0.3 / 0.4) ≈ 9.1 s: back near 1000 segments by then.
            let rtts = (9_100 / rtt_ms) as u32;
            run(&mut c, Instant::ZERO, rtts, rtt_ms);
            let w = c.window() / SMSS;
            assert!((960..=1060).contains(&w), "rtt {rtt_ms} ms: {w} segments after K");
        }
        // At a short round trip the Reno-friendly region leads: α ≈ 0.53 segments per RTT.
        let mut c = Cubic::new(Some(10));
        c.on_established(SMSS);
        c.cwnd = 1000 * SMSS;
        c.on_congestion_event(Instant::ZERO, c.cwnd, SMSS);
        run(&mut c, Instant::ZERO, 910, 10);
        let w = c.window() / SMSS;
        assert!((700 + 450..=700 + 500).contains(&w), "rtt 10 ms: {w}");
    }

    #[test]
    fn growth_beats_newreno_at_a_long_round_trip() {
        let mut cubic = Cubic::new(Some(10));
        let mut reno = super::super::NewReno::new(Some(10));
        for c in [&mut cubic as &mut dyn CongestionControl, &mut reno] {
            c.on_established(SMSS);
            c.on_congestion_event(Instant::ZERO, 400 * SMSS, SMSS);
        }
        cubic.cwnd = 280 * SMSS;
        run(&mut cubic, Instant::ZERO, 30, 100);
        let mut now = Instant::ZERO;
        for _ in 0..30 {
            now += Duration::from_millis(100);
            for _ in 0..reno.window() / SMSS {
                reno.on_ack(&ack(now, SMSS, 100));
            }
        }
        assert!(cubic.window() > reno.window() + 50 * SMSS, "cubic {} reno {}", cubic.window(), reno.window());
    }

    #[test]
    fn fast_convergence_and_timeouts() {
        let mut c = Cubic::new(None);
        c.on_established(SMSS);
        c.cwnd = 100 * SMSS;
        c.on_congestion_event(Instant::ZERO, 0, SMSS);
        assert_eq!(c.w_max, 100.0);
        // A second loss below the last maximum: w_max shrinks further (fast convergence).
        c.on_congestion_event(Instant::ZERO, 0, SMSS);
        assert!((c.w_max - 70.0 * 0.85).abs() < 1e-9, "{}", c.w_max);
        c.on_retransmission_timeout(Instant::ZERO, 0, SMSS);
        assert_eq!(c.window(), SMSS);
        assert!(c.ssthresh() >= 2 * SMSS);
        // Slow start up to ssthresh, as NewReno.
        c.on_ack(&ack(Instant::from_secs(1), 5 * SMSS, 100));
        assert_eq!(c.window(), 2 * SMSS);
        c.on_idle_restart(SMSS);
        assert!(c.window() <= initial_window(SMSS, None));
    }
}
