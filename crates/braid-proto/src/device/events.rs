//! What happened to a peer, for the people and programs watching the tunnel.
//!
//! A driver that embeds braid wants to react to a tunnel coming up, a peer roaming or going
//! quiet without parsing logs or polling `wg show`. The device records these moments as they
//! happen, in order, and the driver drains them with [`Device::poll_event`]. The queue is
//! bounded: a driver that never drains it costs a fixed amount of memory, and the number of
//! events it missed is counted.

use super::{Device, Endpoint, PeerId};
use std::collections::VecDeque;

/// Events kept for a driver that has not drained them yet; older ones give way.
pub const EVENT_QUEUE_LIMIT: usize = 1024;

/// One moment in a peer's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A handshake completed and a new session can carry data: for the initiator when the
    /// response arrived, for the responder when the initiator's first message confirmed it.
    HandshakeCompleted {
        /// The peer.
        peer: PeerId,
        /// Whether this device initiated the handshake.
        initiator: bool,
    },
    /// An authenticated packet arrived from an address the peer was not known at (the first
    /// one the peer is heard from, or a roam).
    EndpointChanged {
        /// The peer.
        peer: PeerId,
        /// Where the peer is reached now.
        endpoint: Endpoint,
    },
    /// Data went to the peer and nothing authenticated came back for Keepalive-Timeout +
    /// Rekey-Timeout (15 s): the peer or the path is down, and a new handshake starts.
    PeerSilent {
        /// The peer.
        peer: PeerId,
    },
    /// Handshakes were retried for Rekey-Attempt-Time (90 s) without an answer: the device
    /// gave up and dropped the packets that waited for them.
    HandshakeGaveUp {
        /// The peer.
        peer: PeerId,
    },
}

/// The bounded queue of events the driver has not taken yet.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    queue: VecDeque<DeviceEvent>,
    dropped: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, event: DeviceEvent) {
        if self.queue.len() >= EVENT_QUEUE_LIMIT {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(event);
    }

    /// Records `endpoint` as where `peer` is reached, with an event when the address changed.
    /// A change of only our local address (source stickiness) is not a roam.
    pub(crate) fn set_endpoint(&mut self, id: PeerId, slot: &mut Option<Endpoint>, endpoint: Endpoint) {
        if slot.map(|e| e.addr) != Some(endpoint.addr) {
            self.push(DeviceEvent::EndpointChanged { peer: id, endpoint });
        }
        *slot = Some(endpoint);
    }
}

impl Device {
    /// The oldest event not taken yet.
    pub fn poll_event(&mut self) -> Option<DeviceEvent> {
        self.events.queue.pop_front()
    }

    /// Events that were discarded because the queue was full ([`EVENT_QUEUE_LIMIT`]).
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped
    }
}
