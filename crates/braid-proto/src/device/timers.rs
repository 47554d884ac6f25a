//! The per-peer timer rules of WireGuard (whitepaper §6, as the Linux kernel implements
//! them), on one hashed timing wheel for the whole device.
//!
//! | timer | armed when | fires |
//! |---|---|---|
//! | `RetransmitHandshake` | an initiation is sent (5 s + jitter) | resend, or give up after 90 s |
//! | `SendKeepalive` | data arrives and none pending (10 s) | send a keepalive |
//! | `NewHandshake` | data is sent and none pending (15 s + jitter) | the peer went quiet: handshake |
//! | `ZeroKeyMaterial` | a session is derived (540 s) | erase all keys of the peer |
//! | `PersistentKeepalive` | any authenticated packet in or out | send a keepalive |
//!
//! Sending anything authenticated cancels `SendKeepalive`; receiving anything authenticated
//! cancels `NewHandshake`; a completed handshake cancels `RetransmitHandshake`.

use super::{peer_mut, Device, DeviceEvent, PeerId};
use crate::constants::{KEEPALIVE_TIMEOUT, NEW_HANDSHAKE_TIMEOUT, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, ZERO_KEYS_AFTER};
use crate::time::Instant;

/// The five timers every peer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Resend an unanswered initiation.
    RetransmitHandshake,
    /// Acknowledge received data with a keepalive if we have nothing to send.
    SendKeepalive,
    /// Data went out but nothing came back for 15 s: start a new handshake.
    NewHandshake,
    /// No new session for 3 × Reject-After-Time: zero every key.
    ZeroKeyMaterial,
    /// The configured persistent keepalive.
    PersistentKeepalive,
}

impl TimerKind {
    /// Every kind, for cancelling all of a peer's timers.
    pub const ALL: [TimerKind; 5] = [
        TimerKind::RetransmitHandshake,
        TimerKind::SendKeepalive,
        TimerKind::NewHandshake,
        TimerKind::ZeroKeyMaterial,
        TimerKind::PersistentKeepalive,
    ];
}

/// Retries after the first initiation before giving up (90 s / 5 s, the kernel's count).
const MAX_HANDSHAKE_ATTEMPTS: u32 = (REKEY_ATTEMPT_TIME.as_secs() / REKEY_TIMEOUT.as_secs()) as u32;

impl Device {
    /// The earliest time [`Device::poll_timers`] has work, exactly.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Runs every timer due at `now`. Whatever they send is queued for `poll_transmit`.
    pub fn poll_timers(&mut self, now: Instant) {
        let mut expired = core::mem::take(&mut self.expired);
        self.timers.expire(now, &mut expired);
        for &(id, kind) in &expired {
            self.fire(now, id, kind);
        }
        expired.clear();
        self.expired = expired;
    }

    fn fire(&mut self, now: Instant, id: PeerId, kind: TimerKind) {
        let Some(peer) = peer_mut(&mut self.peers, id) else { return };
        match kind {
            TimerKind::RetransmitHandshake => {
                if peer.handshake_attempts > MAX_HANDSHAKE_ATTEMPTS {
                    // Give up: drop what waited for this handshake, and erase keys later.
                    self.events.push(DeviceEvent::HandshakeGaveUp { peer: id });
                    peer.staged.clear();
                    if let Some(p) = peer.pending.take() {
                        self.indices.free(p.local_index);
                    }
                    self.timers.cancel((id, TimerKind::SendKeepalive));
                    if !self.timers.is_scheduled((id, TimerKind::ZeroKeyMaterial)) {
                        self.timers.schedule((id, TimerKind::ZeroKeyMaterial), now + ZERO_KEYS_AFTER);
                    }
                } else {
                    peer.handshake_attempts += 1;
                    // The local address may be the reason: let the OS choose again.
                    if let Some(e) = peer.endpoint.as_mut() {
                        e.local = None;
                    }
                    self.send_handshake_initiation(now, id, true);
                }
            }
            TimerKind::SendKeepalive => {
                let again = core::mem::take(&mut peer.need_another_keepalive);
                self.send_keepalive(now, id);
                if again {
                    self.timers.schedule((id, TimerKind::SendKeepalive), now + KEEPALIVE_TIMEOUT);
                }
            }
            TimerKind::NewHandshake => {
                self.events.push(DeviceEvent::PeerSilent { peer: id });
                if let Some(e) = peer.endpoint.as_mut() {
                    e.local = None;
                }
                self.send_handshake_initiation(now, id, false);
            }
            TimerKind::ZeroKeyMaterial => {
                peer.sessions.clear(&mut self.indices);
                if let Some(p) = peer.pending.take() {
                    self.indices.free(p.local_index);
                }
                peer.staged.clear();
            }
            TimerKind::PersistentKeepalive => {
                if peer.persistent_keepalive.is_some() {
                    self.send_keepalive(now, id);
                }
            }
        }
    }

    /// Data (not a keepalive) was sent: expect an answer within 15 s.
    pub(crate) fn timer_data_sent(&mut self, now: Instant, id: PeerId) {
        if !self.timers.is_scheduled((id, TimerKind::NewHandshake)) {
            let at = now + NEW_HANDSHAKE_TIMEOUT + self.jitter();
            self.timers.schedule((id, TimerKind::NewHandshake), at);
        }
    }

    /// Data (not a keepalive) was received: answer within 10 s, with a keepalive if need be.
    pub(crate) fn timer_data_received(&mut self, now: Instant, id: PeerId) {
        if !self.timers.is_scheduled((id, TimerKind::SendKeepalive)) {
            self.timers.schedule((id, TimerKind::SendKeepalive), now + KEEPALIVE_TIMEOUT);
        } else if let Some(peer) = peer_mut(&mut self.peers, id) {
            peer.need_another_keepalive = true;
        }
    }

    /// Anything authenticated left: it serves as the keepalive.
    pub(crate) fn timer_any_authenticated_packet_sent(&mut self, id: PeerId) {
        self.timers.cancel((id, TimerKind::SendKeepalive));
    }

    /// Anything authenticated arrived: the peer is alive.
    pub(crate) fn timer_any_authenticated_packet_received(&mut self, id: PeerId) {
        self.timers.cancel((id, TimerKind::NewHandshake));
    }

    /// Anything authenticated went either way: push the persistent keepalive back.
    pub(crate) fn timer_any_authenticated_packet_traversal(&mut self, now: Instant, id: PeerId) {
        if let Some(interval) = peer_mut(&mut self.peers, id).and_then(|p| p.persistent_keepalive) {
            self.timers.schedule((id, TimerKind::PersistentKeepalive), now + interval);
        }
    }

    /// An initiation left: retry in 5 s plus up to 333 ms of jitter.
    pub(crate) fn timer_handshake_initiated(&mut self, now: Instant, id: PeerId) {
        let at = now + REKEY_TIMEOUT + self.jitter();
        self.timers.schedule((id, TimerKind::RetransmitHandshake), at);
    }

    /// A handshake completed (initiator: response consumed; responder: first data).
    pub(crate) fn timer_handshake_complete(&mut self, now: Instant, id: PeerId) {
        self.timers.cancel((id, TimerKind::RetransmitHandshake));
        let unix = self.wall.unix_at(now);
        if let Some(peer) = peer_mut(&mut self.peers, id) {
            peer.handshake_attempts = 0;
            peer.sent_lastminute_handshake = false;
            peer.last_handshake = Some(unix);
        }
    }

    /// New keys exist: erase everything if no newer ones come within 540 s.
    pub(crate) fn timer_session_derived(&mut self, now: Instant, id: PeerId) {
        self.timers.schedule((id, TimerKind::ZeroKeyMaterial), now + ZERO_KEYS_AFTER);
    }
}
