//! The ways a simulation refuses to continue instead of spinning or hiding a device bug.

use core::fmt;

use braid_proto::Instant;

use crate::node::NodeId;
use crate::wire_log::format_time;

/// A guard tripped: the run stops loudly rather than loop forever or continue on a broken
/// contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// More events than the configured budget were processed in one `run_until` call.
    EventBudgetExhausted {
        /// The configured budget.
        limit: u64,
        /// Simulated time when it ran out.
        at: Instant,
    },
    /// A node's timer fired again and again at one instant: `next_deadline()` stays at or
    /// before `now` after `poll_timers(now)`.
    TimerSpin {
        /// The node whose device keeps asking for a tick.
        node: NodeId,
        /// The instant it is stuck at.
        at: Instant,
        /// How many ticks it got at that instant.
        ticks: u64,
    },
    /// `poll_transmit` kept returning datagrams past the per-drain limit.
    TransmitFlood {
        /// The node that would not stop transmitting.
        node: NodeId,
        /// When.
        at: Instant,
        /// How many datagrams one drain produced before giving up.
        count: usize,
    },
    /// The device returned a length or range outside the buffer it was given.
    BadDeviceOutput {
        /// The offending node.
        node: NodeId,
        /// When.
        at: Instant,
        /// What was wrong.
        detail: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::EventBudgetExhausted { limit, at } => {
                write!(f, "simulation exceeded its budget of {limit} events per run at {}", format_time(*at))
            }
            SimError::TimerSpin { node, at, ticks } => write!(
                f,
                "{node}: timer fired {ticks} times at {} (next_deadline() never moves past now: busy loop)",
                format_time(*at)
            ),
            SimError::TransmitFlood { node, at, count } => {
                write!(f, "{node}: poll_transmit returned {count} datagrams in one drain at {}", format_time(*at))
            }
            SimError::BadDeviceOutput { node, at, detail } => {
                write!(f, "{node}: device output out of bounds at {}: {detail}", format_time(*at))
            }
        }
    }
}

impl std::error::Error for SimError {}
