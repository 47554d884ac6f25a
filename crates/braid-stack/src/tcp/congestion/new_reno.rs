//! NewReno's window arithmetic (RFC 5681 slow start and congestion avoidance; the reductions used
//! by RFC 6582 and RFC 6675 recovery).

use super::{initial_window, AckEvent, CongestionControl};
use crate::time::Instant;

/// RFC 5681 congestion control.
///
/// Slow start grows `cwnd` by `min(N, SMSS)` per ACK (appropriate byte counting with L = 1 SMSS,
/// RFC 3465); congestion avoidance adds one SMSS per window of acknowledged bytes, counted exactly
/// in `bytes_acked` so the growth does not depend on how the receiver batches its ACKs.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    bytes_acked: u32,
    initial_segments: Option<u32>,
}

impl NewReno {
    /// A controller with an "arbitrarily high" initial ssthresh (RFC 5681 (3)); the window is set
    /// when the MSS is known ([`CongestionControl::on_established`]).
    pub fn new(initial_segments: Option<u32>) -> Self {
        NewReno { cwnd: initial_window(536, initial_segments), ssthresh: u32::MAX, bytes_acked: 0, initial_segments }
    }
}

/// RFC 5681 equation (4).
fn reduced_ssthresh(flight_size: u32, smss: u32) -> u32 {
    (flight_size / 2).max(2 * smss)
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn window(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_established(&mut self, smss: u32) {
        self.cwnd = initial_window(smss, self.initial_segments);
        self.bytes_acked = 0;
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(ack.acked.min(ack.smss));
            return;
        }
        self.bytes_acked = self.bytes_acked.saturating_add(ack.acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(ack.smss);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, smss: u32) {
        self.ssthresh = reduced_ssthresh(flight_size, smss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_recovery_exit(&mut self, _now: Instant, flight_size: u32, smss: u32) {
        // RFC 6582 §3.2 step 3, option (1): avoid a burst when little is outstanding.
        self.cwnd = self.ssthresh.min(flight_size.max(smss).saturating_add(smss));
        self.bytes_acked = 0;
    }

    fn on_retransmission_timeout(&mut self, _now: Instant, flight_size: u32, smss: u32) {
        self.ssthresh = reduced_ssthresh(flight_size, smss);
        self.cwnd = smss;
        self.bytes_acked = 0;
    }

    fn on_idle_restart(&mut self, smss: u32) {
        self.cwnd = self.cwnd.min(initial_window(smss, self.initial_segments));
        self.bytes_acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(acked: u32) -> AckEvent {
        AckEvent { now: Instant::ZERO, acked, flight_before: 0, smss: 1000, srtt: None }
    }

    #[test]
    fn initial_window_follows_rfc5681() {
        let mut c = NewReno::new(None);
        c.on_established(1460);
        assert_eq!(c.window(), 4380);
        c.on_established(1000);
        assert_eq!(c.window(), 4000);
        c.on_established(3000);
        assert_eq!(c.window(), 6000);
        let mut ten = NewReno::new(Some(10));
        ten.on_established(1000);
        assert_eq!(ten.window(), 10_000);
    }

    #[test]
    fn slow_start_then_congestion_avoidance() {
        let mut c = NewReno::new(None);
        c.on_established(1000);
        c.on_ack(&ack(1000));
        c.on_ack(&ack(3000)); // grows by at most one SMSS per ACK
        assert_eq!(c.window(), 6000);
        c.on_congestion_event(Instant::ZERO, 10_000, 1000);
        assert_eq!((c.ssthresh(), c.window()), (5000, 5000));
        // Congestion avoidance: one SMSS per cwnd of acknowledged bytes.
        for _ in 0..4 {
            c.on_ack(&ack(1000));
        }
        assert_eq!(c.window(), 5000);
        c.on_ack(&ack(1000));
        assert_eq!(c.window(), 6000);
    }

    #[test]
    fn timeout_and_recovery_exit() {
        let mut c = NewReno::new(None);
        c.on_established(1000);
        c.on_retransmission_timeout(Instant::ZERO, 3000, 1000);
        assert_eq!((c.ssthresh(), c.window()), (2000, 1000));
        c.on_congestion_event(Instant::ZERO, 20_000, 1000);
        c.on_recovery_exit(Instant::ZERO, 2000, 1000);
        assert_eq!(c.window(), 3000, "min(ssthresh, max(FlightSize, SMSS) + SMSS)");
        c.on_recovery_exit(Instant::ZERO, 50_000, 1000);
        assert_eq!(c.window(), 10_000);
        c.on_idle_restart(1000);
        assert_eq!(c.window(), 4000);
    }
}
