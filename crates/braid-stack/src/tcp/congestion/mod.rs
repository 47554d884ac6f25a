//! Congestion control behind a trait, so CUBIC (or anything else) can replace NewReno.
//!
//! The split follows Linux's: an algorithm owns `cwnd` and `ssthresh` and decides how they grow on
//! ACKs and shrink on congestion events; *loss recovery* (detecting loss from duplicate ACKs or
//! SACK, choosing what to retransmit, NewReno's temporary window inflation, RFC 6675's pipe) lives
//! in the connection's `recovery` module and only calls these hooks. An algorithm never sees
//! segments, only byte counts and the current sender maximum segment size.

mod cubic;
mod new_reno;

pub use cubic::Cubic;
pub use new_reno::NewReno;

use crate::time::Instant;
use core::fmt::Debug;
use core::time::Duration;

/// An acknowledgment of new data outside loss recovery, as seen by the congestion controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckEvent {
    /// When the ACK arrived.
    pub now: Instant,
    /// Bytes of sequence space newly acknowledged.
    pub acked: u32,
    /// Bytes outstanding before this ACK (RFC 5681's FlightSize).
    pub flight_before: u32,
    /// Sender maximum segment size.
    pub smss: u32,
    /// The connection's smoothed RTT, when known (delay-based algorithms want it).
    pub srtt: Option<Duration>,
}

/// A congestion control algorithm: the sender's `cwnd` and `ssthresh` and how they move.
///
/// Implementations must never panic and never allocate in these hooks; all counts are bytes.
pub trait CongestionControl: Debug + Send {
    /// Short name for statistics and logs ("newreno", "cubic").
    fn name(&self) -> &'static str;

    /// The congestion window in bytes.
    fn window(&self) -> u32;

    /// The slow-start threshold in bytes.
    fn ssthresh(&self) -> u32;

    /// The handshake completed and the sender MSS is known: set the initial window.
    fn on_established(&mut self, smss: u32);

    /// New data was acknowledged while not in loss recovery: grow the window (slow start or
    /// congestion avoidance).
    fn on_ack(&mut self, ack: &AckEvent);

    /// Loss was detected by duplicate ACKs or SACK and recovery starts: reduce `ssthresh` and set
    /// `cwnd` to the post-reduction value (RFC 5681 (4): `ssthresh = max(FlightSize/2, 2·SMSS)`).
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32, smss: u32);

    /// Recovery ended with a full acknowledgment; `flight_size` is what is still outstanding.
    fn on_recovery_exit(&mut self, now: Instant, flight_size: u32, smss: u32);

    /// The retransmission timer expired (RFC 5681 (4) and the loss window of one segment).
    fn on_retransmission_timeout(&mut self, now: Instant, flight_size: u32, smss: u32);

    /// The sender was idle longer than one RTO (RFC 5681 §4.1): restart from at most the initial
    /// window.
    fn on_idle_restart(&mut self, smss: u32);
}

/// Which algorithm a new connection gets; a plain value so configurations stay `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CongestionAlgorithm {
    /// RFC 5681 slow start and congestion avoidance with RFC 6582 recovery.
    #[default]
    NewReno,
    /// RFC 9438 CUBIC: regains the window in seconds whatever the round trip (Linux's
    /// default), for long or lossy paths.
    Cubic,
}

impl CongestionAlgorithm {
    /// Builds the algorithm's state (once per connection).
    pub fn build(self, initial_window_segments: Option<u32>) -> Box<dyn CongestionControl> {
        match self {
            CongestionAlgorithm::NewReno => Box::new(NewReno::new(initial_window_segments)),
            CongestionAlgorithm::Cubic => Box::new(Cubic::new(initial_window_segments)),
        }
    }
}

/// RFC 5681 (3): the initial window for a sender MSS, `min(4·SMSS, max(2·SMSS, 4380))`, or a fixed
/// number of segments when the configuration overrides it (RFC 6928 allows 10).
pub fn initial_window(smss: u32, segments: Option<u32>) -> u32 {
    match segments {
        Some(n) => n.max(1).saturating_mul(smss),
        None => (4 * smss).min((2 * smss).max(4380)),
    }
}
