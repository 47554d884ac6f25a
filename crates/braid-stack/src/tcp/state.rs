//! The connection states of RFC 9293 §3.3.2.

/// Where a connection is in its life (RFC 9293 Figure 5).
///
/// LISTEN is not a state of a [`Connection`](super::Connection): a listener is the endpoint's
/// business, which answers a SYN with [`Connection::accept_syn`](super::Connection::accept_syn) and
/// starts the connection in SYN-RECEIVED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection: it never opened, or it finished and may be deleted.
    Closed,
    /// Our SYN is out; waiting for the peer's SYN.
    SynSent,
    /// The peer's SYN arrived and our SYN-ACK is out; waiting for its acknowledgment.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We closed; our FIN is out (or queued behind data) and not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; we may still send until the user closes.
    CloseWait,
    /// Both closed at once (simultaneous close); waiting for the ACK of our FIN.
    Closing,
    /// The peer closed first, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs are acknowledged; lingering 2·MSL so stray segments die and our last ACK can be
    /// repeated.
    TimeWait,
}

impl State {
    /// True in the states where both sides have exchanged SYNs (RFC 9293's "synchronized" states).
    pub fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::SynSent | State::SynReceived)
    }

    /// True while the user may still queue data to send.
    pub fn can_send(self) -> bool {
        matches!(self, State::SynSent | State::SynReceived | State::Established | State::CloseWait)
    }

    /// True in the states in which arriving data is accepted into the receive buffer.
    pub fn accepts_data(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }

    /// True once our FIN is queued or sent (the user closed the send direction).
    pub fn send_closed(self) -> bool {
        matches!(self, State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait)
    }

    /// The RFC's name of the state, for logs.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
