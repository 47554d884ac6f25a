//! Errors a connection reports to its user.

/// Why a connection ended abnormally; kept by the connection and returned by every later call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The peer reset an established connection.
    #[error("connection reset by peer")]
    Reset,
    /// The peer answered our SYN with a reset.
    #[error("connection refused")]
    Refused,
    /// Retransmissions, SYN retries, zero-window or keep-alive probes went unanswered too long.
    #[error("connection timed out")]
    TimedOut,
}

/// Why [`Connection::send`](super::Connection::send) took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The send direction was closed (by `close`/`shutdown`/`abort`) or never opened.
    #[error("the send direction is closed")]
    Closed,
    /// The connection failed.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

/// Why [`Connection::recv`](super::Connection::recv) returned no data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The peer's FIN arrived and every byte before it was read: end of stream.
    #[error("end of stream")]
    Finished,
    /// The connection is closed locally (aborted or never connected).
    #[error("connection is closed")]
    Closed,
    /// The connection failed; buffered data was discarded (RFC 9293: a reset flushes queues).
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

/// Why [`Connection::accept_syn`](super::Connection::accept_syn) refused a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The segment is not a plain SYN (it lacks SYN or carries ACK or RST).
    #[error("segment is not a connection request (SYN without ACK/RST)")]
    NotASyn,
}
