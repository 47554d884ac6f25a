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
    /// An ICMP error about our segments ended the connection: a hard error (port or protocol
    /// unreachable, prohibited) answering the SYN, or any ICMP error seen before the handshake's
    /// or the connection's retransmissions ran out (reported instead of `TimedOut`, RFC 1122
    /// §4.2.3.9).
    #[error("{0}")]
    Unreachable(SoftError),
}

/// What an ICMP error said about a connection's segments (RFC 1122 §4.2.3.9).
///
/// For a synchronized connection it is only information, a "soft error" (RFC 5461, RFC 5927
/// §4.1): a router's word is no proof the path is gone, and a blind attacker could otherwise reset
/// connections with forged ICMP. The connection keeps it
/// ([`Connection::soft_error`](super::Connection::soft_error)) until the peer acknowledges new
/// data, and reports it if the connection then times out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SoftError {
    /// No route to the network (ICMPv4 unreachable codes 0, 6, 11; ICMPv6 code 0, 2).
    #[error("network unreachable")]
    NetworkUnreachable,
    /// The host did not answer on its link (ICMPv4 codes 1, 5, 7, 8, 12, 14, 15 and unknown
    /// codes; ICMPv6 code 3 and unknown codes).
    #[error("host unreachable")]
    HostUnreachable,
    /// The host does not speak TCP (ICMPv4 code 2; ICMPv6 parameter problem "unrecognized next
    /// header").
    #[error("protocol unreachable")]
    ProtocolUnreachable,
    /// No socket on the port (ICMPv4 code 3, ICMPv6 code 4).
    #[error("port unreachable")]
    PortUnreachable,
    /// A filter refused the packet (ICMPv4 codes 9, 10, 13; ICMPv6 codes 1, 5, 6).
    #[error("communication administratively prohibited")]
    Prohibited,
    /// The TTL / hop limit ran out in transit (a routing loop), or reassembly timed out.
    #[error("time exceeded in transit")]
    TimeExceeded,
    /// A router or the host found a bad header field.
    #[error("parameter problem")]
    ParameterProblem,
}

impl SoftError {
    /// RFC 1122's hard errors (protocol and port unreachable; prohibited, as Linux treats it):
    /// they end a connection that is not synchronized yet, where no data can be lost and the
    /// quoted sequence number is the ISS, which a blind attacker cannot know.
    pub fn aborts_handshake(self) -> bool {
        matches!(self, SoftError::ProtocolUnreachable | SoftError::PortUnreachable | SoftError::Prohibited)
    }
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
