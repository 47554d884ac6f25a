//! TCP: the connection state machine and everything it needs (RFC 9293 with RFC 5961, 6298, 5681,
//! 6582, 6675, 7323, 2018, 6528, 1122; loss recovery also uses RFC 3042 limited transmit, RFC 5827
//! early retransmit and RFC 8985 tail loss probes).
//!
//! # Loss recovery without timeouts
//!
//! A retransmission timeout costs at least 200 ms, hundreds of round trips on a LAN, so the sender
//! works to find every loss from ACKs: limited transmit and early retransmit keep duplicate ACKs
//! coming when the window is small; RFC 6675's IsLost counts SACKed bytes, not just duplicate
//! ACKs; a retransmission overtaken by later-sent, SACKed data is resent
//! ([`lost_retransmit`]); a tail loss probe after about two round trips of silence elicits the
//! SACK that reveals a lost tail or a lost retransmission; and after a timeout, SACK information
//! repairs the remaining holes instead of waiting for the next, backed-off timeout.
//!
//! # For the endpoint / socket layer
//!
//! * **Opening.** Active: [`Connection::connect`] with [`InitialNumbers`] from an
//!   [`IsnGenerator`] (one per stack, keyed from the driver's RNG) and an ephemeral local port.
//!   Passive: classify a segment arriving at a listener with [`listen_action`]; on
//!   [`ListenAction::Accept`] call [`Connection::accept_syn`] if the backlog has room (otherwise
//!   drop the SYN: the peer retries, so a SYN flood costs no memory). A segment for no connection
//!   and no listener is answered with [`reset_for_closed`].
//! * **Feeding a segment.** [`Connection::on_segment`] with the parsed, checksum-verified
//!   [`TcpRepr`](braid_wire::tcp::TcpRepr) returns [`Signals`]: emit `answer` if present, free the
//!   slot on `delete`, wake readers on `delivered`/`fin_received`, writers on `acked`, the accept
//!   queue or connector on `established`, and poll for output on `may_send`.
//! * **Sending.** Loop on [`Connection::poll_transmit`]; each [`Segment`] names its header and
//!   the range of the send buffer that is its payload; [`Connection::repr`] turns it into a
//!   `TcpRepr` borrowing those bytes for `emit`.
//! * **Time.** [`Connection::poll_at`] is the next instant the connection needs attention (an
//!   instant in the past means now); [`Connection::on_timeout`] runs the expired timers.
//! * **The user.** [`Connection::send`] / [`Connection::recv`] copy into and out of the rings
//!   without blocking; [`Connection::close`], [`Connection::shutdown`], [`Connection::abort`].
//!
//! Nothing here allocates after a connection is created, reads a clock or draws randomness.

mod config;
pub mod congestion;
mod connection;
mod error;
mod isn;
pub mod lost_retransmit;
pub mod ooo;
pub mod recovery;
pub mod recv_buffer;
pub mod rtt;
pub mod sack;
mod segment;
pub mod send_buffer;
pub mod seq;
mod signals;
mod siphash;
mod state;
mod timers;

#[cfg(test)]
mod tests;

pub use config::{KeepAlive, TcpConfig, MAX_DELAYED_ACK, MAX_RECV_BUFFER};
pub use congestion::{CongestionAlgorithm, CongestionControl, Cubic, NewReno};
pub use connection::{Connection, Negotiated, Shutdown, Stats, MIN_PATH_MSS, MIN_PROBE_TIMEOUT};
pub use error::{AcceptError, ConnectionError, RecvError, SendError, SoftError};
pub use isn::{InitialNumbers, IsnGenerator};
pub use segment::{listen_action, reset_for_closed, ListenAction, Segment};
pub use seq::Seq;
pub use signals::Signals;
pub use state::State;
pub use timers::{TimerKind, Timers};
