//! Everything the device knows about one peer: its keys, where it is, its handshake and
//! sessions, packets waiting for a session, and its counters.

use super::config::Endpoint;
use super::session::Sessions;
use super::PeerId;
use crate::constants::MAX_STAGED_PACKETS;
use crate::cookie::MacSealer;
use crate::crypto::PublicKey;
use crate::noise::{InitiatorState, PeerSecrets, Tai64N};
use crate::time::Instant;
use core::time::Duration;
use std::collections::VecDeque;
use zeroize::Zeroizing;

/// An initiation we sent and whose response we are waiting for.
pub(crate) struct PendingInitiation {
    pub local_index: u32,
    pub state: InitiatorState,
}

pub(crate) struct Peer {
    pub id: PeerId,
    pub public_key: PublicKey,
    pub preshared_key: Zeroizing<[u8; 32]>,
    /// Precomputed handshake secrets; `None` while the device has no private key or when the
    /// peer's key has low order (such a peer can never be sent anything).
    pub secrets: Option<PeerSecrets>,
    pub macs: MacSealer,
    pub endpoint: Option<Endpoint>,
    pub persistent_keepalive: Option<Duration>,
    pub pending: Option<PendingInitiation>,
    /// When we last sent a handshake message (initiation or response): initiations are
    /// rate-limited to one per Rekey-Timeout after either, as in the kernel.
    pub last_handshake_sent: Option<Instant>,
    pub handshake_attempts: u32,
    /// Set when the receive-side rekey already asked for a handshake on this session.
    pub sent_lastminute_handshake: bool,
    pub latest_timestamp: Option<Tai64N>,
    pub last_initiation_consumed: Option<Instant>,
    pub sessions: Sessions,
    /// Packets waiting for a session, oldest first; an empty one is a keepalive.
    pub staged: VecDeque<Vec<u8>>,
    pub need_another_keepalive: bool,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Unix time of the last completed handshake.
    pub last_handshake: Option<Duration>,
}

impl Peer {
    pub fn new(id: PeerId, public_key: PublicKey) -> Self {
        Peer {
            id,
            public_key,
            preshared_key: Zeroizing::new([0; 32]),
            secrets: None,
            macs: MacSealer::new(&public_key),
            endpoint: None,
            persistent_keepalive: None,
            pending: None,
            last_handshake_sent: None,
            handshake_attempts: 0,
            sent_lastminute_handshake: false,
            latest_timestamp: None,
            last_initiation_consumed: None,
            sessions: Sessions::default(),
            staged: VecDeque::new(),
            need_another_keepalive: false,
            rx_bytes: 0,
            tx_bytes: 0,
            last_handshake: None,
        }
    }

    /// Queues a packet until a session exists; the oldest goes when the queue is full.
    pub fn stage(&mut self, packet: &[u8]) {
        if self.staged.len() >= MAX_STAGED_PACKETS {
            // Reuse the dropped packet's allocation.
            if let Some(mut old) = self.staged.pop_front() {
                old.clear();
                old.extend_from_slice(packet);
                self.staged.push_back(old);
                return;
            }
        }
        self.staged.push_back(packet.to_vec());
    }

    /// Public counters and state, for `wg show` and tests.
    pub fn stats(&self) -> PeerStats {
        PeerStats {
            public_key: self.public_key,
            endpoint: self.endpoint,
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
            last_handshake: self.last_handshake,
            persistent_keepalive: self.persistent_keepalive,
            sessions: self.sessions.count(),
            handshake_in_progress: self.pending.is_some(),
            staged_packets: self.staged.len(),
        }
    }
}

/// A snapshot of one peer, as `wg show` and `braid show` report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStats {
    /// The peer's identity.
    pub public_key: PublicKey,
    /// Where packets for the peer go now (follows roaming).
    pub endpoint: Option<Endpoint>,
    /// UDP payload bytes received from the peer, handshakes included.
    pub rx_bytes: u64,
    /// UDP payload bytes sent to the peer, handshakes included.
    pub tx_bytes: u64,
    /// Unix time of the last completed handshake (not an age).
    pub last_handshake: Option<Duration>,
    /// The configured persistent keepalive interval.
    pub persistent_keepalive: Option<Duration>,
    /// Live sessions (previous, current, next).
    pub sessions: usize,
    /// An initiation is waiting for its response.
    pub handshake_in_progress: bool,
    /// Packets waiting for a session.
    pub staged_packets: usize,
}
