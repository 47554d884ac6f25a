//! What feeding a segment or a timeout to a connection asks of its owner.

use super::segment::Segment;

/// The outputs of the Mealy machine for one input (a segment or expired timers).
///
/// The endpoint acts on every field; none of them requires an answer from the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "signals tell the endpoint to free the slot, wake the user or transmit"]
pub struct Signals {
    /// The connection reached CLOSED and will never send again: remove its four-tuple from the
    /// endpoint (the object may be kept until the user has seen the error or drained the data).
    pub delete: bool,
    /// The peer reset or refused the connection (the user's next call sees the error); for a
    /// connection still in SYN-RECEIVED from a listener it just means "forget it".
    pub reset: bool,
    /// The connection became ESTABLISHED: `connect` completed, or an accepted connection is
    /// ready for the listener's accept queue.
    pub established: bool,
    /// In-order bytes that became readable.
    pub delivered: usize,
    /// The peer's FIN arrived in order: after the buffered bytes, reads report end of stream.
    pub fin_received: bool,
    /// Send-buffer bytes freed by acknowledgments (writers may continue).
    pub acked: usize,
    /// The connection has something to send now: call
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit) until it returns `None`.
    pub may_send: bool,
    /// A segment to send that is not part of the connection's own stream, e.g. the RST RFC 9293
    /// requires in answer to an unacceptable ACK in SYN-SENT or SYN-RECEIVED. Emit it as is.
    pub answer: Option<Segment>,
}
