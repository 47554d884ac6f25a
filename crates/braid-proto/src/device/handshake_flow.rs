//! Handshake messages in and out: sending initiations (rate-limited, with retries driven by
//! the timers), answering initiations, consuming responses, and the cookie gate in front of
//! all of it when the device is under load.

use super::outbox::MAX_HANDSHAKE_LEN;
use super::peer::PendingInitiation;
use super::session::Session;
use super::{peer_mut, Device, DeviceEvent, DropReason, Endpoint, Outgoing, PeerId};
use crate::constants::{INITIATION_MIN_INTERVAL, REKEY_TIMEOUT};
use crate::noise::{begin_initiation, consume_response, create_initiation, create_response, Tai64N};
use crate::time::Instant;
use braid_wire::wg::{CookieReply, Initiation, InitiationRepr, Response, ResponseRepr};

/// What the cookie gate decided for a handshake message.
enum Gate {
    Pass,
    CookieSent,
}

impl Device {
    /// Sends an initiation to `id` unless one left less than Rekey-Timeout ago. `is_retry`
    /// comes from the retransmit timer; anything else restarts the attempt count.
    pub(crate) fn send_handshake_initiation(&mut self, now: Instant, id: PeerId, is_retry: bool) {
        let unix = self.wall.unix_at(now);
        let Some(identity) = self.identity.as_ref() else { return };
        let Some(peer) = peer_mut(&mut self.peers, id) else { return };
        if !is_retry {
            peer.handshake_attempts = 0;
        }
        if peer.last_handshake_sent.is_some_and(|t| !t.has_elapsed(now, REKEY_TIMEOUT)) {
            return;
        }
        let (Some(secrets), Some(to)) = (peer.secrets.as_ref(), peer.endpoint) else { return };
        let index = self.indices.allocate(id, &mut *self.rng);
        let Ok((repr, state)) =
            create_initiation(identity, secrets, index, Tai64N::from_unix_time(unix), &mut *self.rng)
        else {
            self.indices.free(index);
            return;
        };
        if let Some(old) = peer.pending.replace(PendingInitiation { local_index: index, state }) {
            self.indices.free(old.local_index);
        }
        peer.last_handshake_sent = Some(now);
        let mut bytes = [0u8; MAX_HANDSHAKE_LEN];
        let len = repr.buffer_len();
        repr.emit(&mut Initiation::new_unchecked(&mut bytes[..len]));
        if peer.macs.seal(now, &mut bytes[..len]).is_err() {
            return;
        }
        peer.tx_bytes += len as u64;
        self.outbox.push_back(Outgoing::Message { peer: Some(id), to, len, bytes });
        self.stats.initiations_sent += 1;
        self.timer_any_authenticated_packet_traversal(now, id);
        self.timer_any_authenticated_packet_sent(id);
        self.timer_handshake_initiated(now, id);
    }

    /// mac1 must verify; under load, mac2 must too (else a cookie reply goes back) and the
    /// source must be within its handshake rate; and whatever passes must fit the device-wide
    /// budget, the last check before any Diffie-Hellman work. Cookie replies have a device-wide
    /// budget of their own (10 × the handshake budget).
    fn cookie_gate(&mut self, now: Instant, from: Endpoint, msg: &[u8], sender_index: u32) -> Result<Gate, DropReason> {
        let checker = self.cookie_checker.as_mut().ok_or(DropReason::NoPrivateKey)?;
        if !checker.verify_mac1(msg) {
            return Err(DropReason::InvalidMac);
        }
        self.load.on_handshake_message(now);
        if !self.load.is_under_load(now) {
            return self.spend_budget(now);
        }
        if !checker.verify_mac2(now, from.addr, msg) {
            if !self.cookie_budget.allow(now) {
                return Err(DropReason::OverBudget);
            }
            let reply = checker
                .create_reply(now, &mut *self.rng, from.addr, msg, sender_index)
                .map_err(|_| DropReason::Malformed)?;
            let mut bytes = [0u8; MAX_HANDSHAKE_LEN];
            let len = reply.buffer_len();
            reply.emit(&mut CookieReply::new_unchecked(&mut bytes[..len]));
            self.outbox.push_back(Outgoing::Message { peer: None, to: from, len, bytes });
            self.stats.cookie_replies_sent += 1;
            return Ok(Gate::CookieSent);
        }
        if !self.rate_limiter.allow(now, from.addr.ip()) {
            return Err(DropReason::RateLimited);
        }
        self.spend_budget(now)
    }

    fn spend_budget(&mut self, now: Instant) -> Result<Gate, DropReason> {
        if self.budget.allow(now) {
            Ok(Gate::Pass)
        } else {
            self.load.on_budget_exhausted(now);
            Err(DropReason::OverBudget)
        }
    }

    pub(super) fn receive_initiation(
        &mut self,
        now: Instant,
        from: Endpoint,
        msg: &[u8],
        repr: &InitiationRepr,
    ) -> Result<(), DropReason> {
        if let Gate::CookieSent = self.cookie_gate(now, from, msg, repr.sender_index)? {
            return Ok(());
        }
        let identity = self.identity.as_ref().ok_or(DropReason::NoPrivateKey)?;
        let opened = begin_initiation(identity, repr).map_err(|_| DropReason::HandshakeFailed)?;
        let id = *self.by_key.get(opened.remote_static()).ok_or(DropReason::UnknownPeer)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownPeer)?;
        let secrets = peer.secrets.as_ref().ok_or(DropReason::InertPeer)?;
        let (timestamp, state) = opened.finish(secrets).map_err(|_| DropReason::HandshakeFailed)?;
        if peer.latest_timestamp.is_some_and(|latest| !timestamp.is_after(&latest)) {
            return Err(DropReason::TimestampReplay);
        }
        if peer.last_initiation_consumed.is_some_and(|t| !t.has_elapsed(now, INITIATION_MIN_INTERVAL)) {
            return Err(DropReason::InitiationFlood);
        }
        let index = self.indices.allocate(id, &mut *self.rng);
        let (response, keys) = match create_response(state, secrets, index, &mut *self.rng) {
            Ok(r) => r,
            Err(_) => {
                self.indices.free(index);
                return Err(DropReason::HandshakeFailed);
            }
        };
        let session = match Session::new(&keys, now, self.replay_window) {
            Ok(s) => s,
            Err(_) => {
                self.indices.free(index);
                return Err(DropReason::HandshakeFailed);
            }
        };
        // Accepted: only now does anything about the peer change.
        peer.latest_timestamp = Some(timestamp);
        peer.last_initiation_consumed = Some(now);
        peer.last_handshake_sent = Some(now);
        self.events.set_endpoint(id, &mut peer.endpoint, from);
        peer.rx_bytes += msg.len() as u64;
        peer.sessions.install_responder(session, &mut self.indices);
        let mut bytes = [0u8; MAX_HANDSHAKE_LEN];
        let len = response.buffer_len();
        response.emit(&mut Response::new_unchecked(&mut bytes[..len]));
        let _ = peer.macs.seal(now, &mut bytes[..len]);
        peer.tx_bytes += len as u64;
        self.outbox.push_back(Outgoing::Message { peer: Some(id), to: from, len, bytes });
        self.stats.responses_sent += 1;
        self.stats.sessions_derived += 1;
        self.timer_any_authenticated_packet_received(id);
        self.timer_any_authenticated_packet_traversal(now, id);
        self.timer_any_authenticated_packet_sent(id);
        self.timer_session_derived(now, id);
        Ok(())
    }

    pub(super) fn receive_response(
        &mut self,
        now: Instant,
        from: Endpoint,
        msg: &[u8],
        repr: &ResponseRepr,
    ) -> Result<(), DropReason> {
        if let Gate::CookieSent = self.cookie_gate(now, from, msg, repr.sender_index)? {
            return Ok(());
        }
        let identity = self.identity.as_ref().ok_or(DropReason::NoPrivateKey)?;
        let id = self.indices.get(repr.receiver_index).ok_or(DropReason::UnknownIndex)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        let pending = peer.pending.as_ref().filter(|p| p.local_index == repr.receiver_index);
        let pending = pending.ok_or(DropReason::UnknownIndex)?;
        let secrets = peer.secrets.as_ref().ok_or(DropReason::InertPeer)?;
        let keys =
            consume_response(&pending.state, identity, secrets, repr).map_err(|_| DropReason::HandshakeFailed)?;
        let session = Session::new(&keys, now, self.replay_window).map_err(|_| DropReason::HandshakeFailed)?;
        // The pending index lives on as the session's index.
        peer.pending = None;
        self.events.set_endpoint(id, &mut peer.endpoint, from);
        peer.rx_bytes += msg.len() as u64;
        peer.sessions.install_initiator(session, &mut self.indices);
        self.stats.sessions_derived += 1;
        self.timer_any_authenticated_packet_received(id);
        self.timer_any_authenticated_packet_traversal(now, id);
        self.timer_session_derived(now, id);
        self.timer_handshake_complete(now, id);
        self.events.push(DeviceEvent::HandshakeCompleted { peer: id, initiator: true });
        // Staged packets confirm the session; with none, a keepalive does.
        self.send_keepalive(now, id);
        Ok(())
    }
}
