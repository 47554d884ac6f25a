//! A record of every datagram put on the simulated wire and of what each receiver did with it.
//!
//! Scenario tests assert protocol timing and sizes from this log ("an initiation was retried
//! 5 s + jitter later", "a 32-byte keepalive left at 10 s", "nothing was sent"), so it records
//! each datagram when it is sent, before the link decides its fate, including those the link
//! then dropped.

use core::net::SocketAddr;
use core::time::Duration;

use braid_proto::Instant;
use braid_wire::wg::MessageType;

use crate::node::NodeId;

/// Length of a keepalive: a transport message with an empty plaintext.
pub const KEEPALIVE_LEN: usize = 32;

/// How much the wire log keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireLogMode {
    /// Nothing (long many-node runs where the log would dominate memory).
    Off,
    /// Time, addresses, type, length and fate of every datagram.
    Metadata,
    /// Metadata plus a copy of every datagram's bytes, for capture-and-replay tests.
    WithBytes,
}

/// What happened to a datagram on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFate {
    /// Scheduled for delivery; `copies` is 2 when the link duplicated it.
    Delivered {
        /// How many copies will arrive (1, or 2 when duplicated).
        copies: u8,
    },
    /// Random loss on the link.
    Lost,
    /// The link was down.
    LinkDown,
    /// No node owned the destination address at send time.
    NoRoute,
    /// A test's wire filter removed it.
    Filtered,
    /// Put on the wire by the test itself (a forged or replayed datagram), not by a device.
    Injected,
}

impl WireFate {
    /// True when at least one copy is on its way.
    pub fn delivered(self) -> bool {
        matches!(self, WireFate::Delivered { .. } | WireFate::Injected)
    }
}

/// One datagram as it left a node (or was injected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireRecord {
    /// Simulated send time.
    pub time: Instant,
    /// Source address on the wire (the sender's address at send time).
    pub from: SocketAddr,
    /// Destination address on the wire.
    pub to: SocketAddr,
    /// Sending node, `None` for injected datagrams.
    pub from_node: Option<NodeId>,
    /// Node owning the destination at send time, if any.
    pub to_node: Option<NodeId>,
    /// The WireGuard message type from the first byte, `None` if it is not 1–4.
    pub kind: Option<MessageType>,
    /// Datagram length in bytes.
    pub len: usize,
    /// What the link did with it.
    pub fate: WireFate,
    /// The datagram's bytes in [`WireLogMode::WithBytes`].
    pub bytes: Option<Vec<u8>>,
}

impl WireRecord {
    /// True for a transport message with an empty payload (exactly 32 bytes).
    pub fn is_keepalive(&self) -> bool {
        self.kind == Some(MessageType::Transport) && self.len == KEEPALIVE_LEN
    }

    /// True for a transport message carrying data (longer than a keepalive).
    pub fn is_data(&self) -> bool {
        self.kind == Some(MessageType::Transport) && self.len > KEEPALIVE_LEN
    }
}

/// The message type a datagram announces in its first byte (the three reserved bytes are
/// not checked: the log shows what was sent, malformed or not).
pub fn classify(datagram: &[u8]) -> Option<MessageType> {
    datagram.first().and_then(|b| MessageType::from_byte(*b))
}

/// What a receiving node made of an arriving datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrivalOutcome<R> {
    /// Decrypted; an IP packet of `len` bytes went to the TUN.
    ToTun {
        /// Length of the delivered IP packet.
        len: usize,
    },
    /// Accepted without TUN output (handshake message, keepalive, cookie reply).
    Consumed,
    /// Refused by the device, with its reason.
    Dropped(R),
    /// No node owned the destination address when the datagram arrived (it roamed away).
    NoNode,
}

/// One arrival at a node, linked to the wire record it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrivalRecord<R> {
    /// Simulated arrival time.
    pub time: Instant,
    /// Receiving node (`None` for [`ArrivalOutcome::NoNode`]).
    pub node: Option<NodeId>,
    /// Index into the wire log, when the log was on at send time.
    pub wire_index: Option<usize>,
    /// Message type of the arriving datagram.
    pub kind: Option<MessageType>,
    /// Source address on the wire.
    pub from: SocketAddr,
    /// What the device did.
    pub outcome: ArrivalOutcome<R>,
}

/// The sent-datagram log plus the arrival log, with queries scenario tests need.
#[derive(Clone, Debug)]
pub struct WireLog<R> {
    mode: WireLogMode,
    sent: Vec<WireRecord>,
    arrivals: Vec<ArrivalRecord<R>>,
}

impl<R> WireLog<R> {
    /// An empty log keeping as much as `mode` says.
    pub fn new(mode: WireLogMode) -> Self {
        Self { mode, sent: Vec::new(), arrivals: Vec::new() }
    }

    /// Current mode.
    pub fn mode(&self) -> WireLogMode {
        self.mode
    }

    /// Changes what is kept from now on (records already kept stay).
    pub fn set_mode(&mut self, mode: WireLogMode) {
        self.mode = mode;
    }

    /// Every datagram sent so far, in send order.
    pub fn sent(&self) -> &[WireRecord] {
        &self.sent
    }

    /// Every arrival so far, in arrival order.
    pub fn arrivals(&self) -> &[ArrivalRecord<R>] {
        &self.arrivals
    }

    /// Forgets everything recorded so far (indices restart at 0).
    pub fn clear(&mut self) {
        self.sent.clear();
        self.arrivals.clear();
    }

    /// Appends a send record unless the log is off; returns its index.
    pub(crate) fn record_send(&mut self, mut record: WireRecord, bytes: &[u8]) -> Option<usize> {
        match self.mode {
            WireLogMode::Off => return None,
            WireLogMode::Metadata => record.bytes = None,
            WireLogMode::WithBytes => record.bytes = Some(bytes.to_vec()),
        }
        self.sent.push(record);
        Some(self.sent.len() - 1)
    }

    /// Appends an arrival record unless the log is off.
    pub(crate) fn record_arrival(&mut self, record: ArrivalRecord<R>) {
        if self.mode != WireLogMode::Off {
            self.arrivals.push(record);
        }
    }

    /// Datagrams sent by `node`.
    pub fn sent_by(&self, node: NodeId) -> impl Iterator<Item = &WireRecord> + '_ {
        self.sent.iter().filter(move |r| r.from_node == Some(node))
    }

    /// Datagrams of message type `kind` sent by `node`.
    pub fn sent_of_kind(&self, node: NodeId, kind: MessageType) -> impl Iterator<Item = &WireRecord> + '_ {
        self.sent_by(node).filter(move |r| r.kind == Some(kind))
    }

    /// Send times of `node`'s messages of type `kind`.
    pub fn times_of(&self, node: NodeId, kind: MessageType) -> Vec<Instant> {
        self.sent_of_kind(node, kind).map(|r| r.time).collect()
    }

    /// Datagrams `node` sent within `[from, to]`.
    pub fn sent_between(&self, node: NodeId, from: Instant, to: Instant) -> impl Iterator<Item = &WireRecord> + '_ {
        self.sent_by(node).filter(move |r| r.time >= from && r.time <= to)
    }

    /// Arrivals at `node`.
    pub fn arrivals_at(&self, node: NodeId) -> impl Iterator<Item = &ArrivalRecord<R>> + '_ {
        self.arrivals.iter().filter(move |a| a.node == Some(node))
    }

    /// A compact multi-line listing (time, nodes, type, length, fate) for failure messages.
    pub fn describe(&self, range: core::ops::Range<usize>) -> String {
        let mut s = String::new();
        for r in self.sent.get(range).unwrap_or(&[]) {
            s.push_str(&format_record(r));
            s.push('\n');
        }
        s
    }
}

/// One wire record as a single human-readable line.
pub fn format_record(r: &WireRecord) -> String {
    let node = |n: Option<NodeId>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
    let kind = match r.kind {
        Some(MessageType::Initiation) => "initiation",
        Some(MessageType::Response) => "response",
        Some(MessageType::CookieReply) => "cookie-reply",
        Some(MessageType::Transport) if r.len == KEEPALIVE_LEN => "keepalive",
        Some(MessageType::Transport) => "data",
        None => "other",
    };
    format!(
        "{:>12} {} -> {} ({} -> {}) {} {}B {:?}",
        format_time(r.time),
        node(r.from_node),
        node(r.to_node),
        r.from,
        r.to,
        kind,
        r.len,
        r.fate
    )
}

/// Simulated time as seconds with millisecond precision, e.g. `125.004s`.
pub fn format_time(t: Instant) -> String {
    let d: Duration = t.since_origin();
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: u64, kind: u8, len: usize) -> WireRecord {
        WireRecord {
            time: Instant::from_secs(time),
            from: "198.18.0.1:51820".parse().unwrap(),
            to: "198.18.0.2:51820".parse().unwrap(),
            from_node: Some(NodeId(0)),
            to_node: Some(NodeId(1)),
            kind: MessageType::from_byte(kind),
            len,
            fate: WireFate::Delivered { copies: 1 },
            bytes: None,
        }
    }

    #[test]
    fn modes_control_what_is_kept() {
        let mut log: WireLog<()> = WireLog::new(WireLogMode::Off);
        assert_eq!(log.record_send(record(1, 1, 148), &[1; 148]), None);
        assert!(log.sent().is_empty());
        log.set_mode(WireLogMode::Metadata);
        assert_eq!(log.record_send(record(1, 1, 148), &[1; 148]), Some(0));
        assert_eq!(log.sent()[0].bytes, None);
        log.set_mode(WireLogMode::WithBytes);
        assert_eq!(log.record_send(record(2, 4, 32), &[4; 32]), Some(1));
        assert_eq!(log.sent()[1].bytes.as_deref(), Some(&[4u8; 32][..]));
    }

    #[test]
    fn queries_filter_by_node_kind_and_time() {
        let mut log: WireLog<()> = WireLog::new(WireLogMode::Metadata);
        log.record_send(record(1, 1, 148), &[]);
        log.record_send(record(2, 4, 32), &[]);
        log.record_send(record(3, 4, 96), &[]);
        assert_eq!(log.times_of(NodeId(0), MessageType::Initiation), vec![Instant::from_secs(1)]);
        assert!(log.sent()[1].is_keepalive() && !log.sent()[1].is_data());
        assert!(log.sent()[2].is_data());
        assert_eq!(log.sent_between(NodeId(0), Instant::from_secs(2), Instant::from_secs(3)).count(), 2);
        assert_eq!(log.sent_by(NodeId(1)).count(), 0);
        assert!(log.describe(0..3).contains("keepalive 32B"));
    }

    #[test]
    fn classify_reads_the_type_byte() {
        assert_eq!(classify(&[3, 0, 0, 0]), Some(MessageType::CookieReply));
        assert_eq!(classify(&[9]), None);
        assert_eq!(classify(&[]), None);
        assert_eq!(format_time(Instant::from_millis(125_004)), "125.004s");
    }
}
