//! The send path: IP packets from TUN, staged packets, keepalives, and handing queued
//! datagrams to the driver.

use super::session::{padded_len, seal_transport, TRANSPORT_OVERHEAD};
use super::{peer_mut, Device, DropReason, Outgoing, PeerId, Transmit};
use crate::constants::{REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME};
use crate::time::Instant;

impl Device {
    /// Handles an IP packet read from TUN. With a live session the packet is sealed into
    /// `out` and returned as a [`Transmit`] (no allocation, one copy). Without one it is
    /// staged, a handshake starts, and `Ok(None)` says there is nothing to send yet. `out`
    /// needs `packet.len() + 32` bytes plus up to 15 of padding.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Transmit>, DropReason> {
        let result = self.send_packet(now, packet, out);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    fn send_packet(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Result<Option<Transmit>, DropReason> {
        if out.len() < self.sealed_len(packet.len()) {
            return Err(DropReason::BufferTooSmall);
        }
        let Some(job) = self.prepare_seal_inner(now, packet)? else { return Ok(None) };
        let len = job.seal(packet, out)?;
        Ok(Some(Transmit { peer: Some(job.peer), to: job.to, len }))
    }

    /// Sends the peer's staged packets if it has a session, else starts a handshake for them
    /// (the kernel's `wg_packet_send_staged_packets`).
    pub(crate) fn send_staged(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = peer_mut(&mut self.peers, id) else { return };
        if peer.sessions.sendable(now).is_some() {
            self.outbox.push_back(Outgoing::Staged(id));
        } else {
            self.send_handshake_initiation(now, id, false);
        }
    }

    /// Queues a keepalive (an empty transport message) unless data is already waiting, which
    /// serves the same purpose.
    pub(crate) fn send_keepalive(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = peer_mut(&mut self.peers, id) else { return };
        if peer.staged.is_empty() {
            peer.staged.push_back(Vec::new());
        }
        self.send_staged(now, id);
    }

    /// Timer rules and key freshness after a transport message left.
    pub(super) fn after_transport_sent(&mut self, now: Instant, id: PeerId, is_data: bool) {
        self.timer_any_authenticated_packet_traversal(now, id);
        self.timer_any_authenticated_packet_sent(id);
        if is_data {
            self.timer_data_sent(now, id);
        }
        // Rekey-After-Messages for either role; Rekey-After-Time for the initiator only, so
        // both sides don't start handshakes at the same moment.
        let Some(peer) = peer_mut(&mut self.peers, id) else { return };
        let stale = peer.sessions.current.as_ref().is_some_and(|s| {
            s.send_counter() > REKEY_AFTER_MESSAGES || (s.is_initiator && s.created.has_elapsed(now, REKEY_AFTER_TIME))
        });
        if stale {
            self.send_handshake_initiation(now, id, false);
        }
    }

    /// Whether [`Device::poll_transmit`] has something to give: lets a caller that shares the
    /// device skip taking it again just to hear "nothing".
    pub fn has_transmit(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The next datagram the device wants sent, written into `buf`. Call after every
    /// `handle_*` and `poll_timers` until it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let mtu = self.mtu;
        while let Some(item) = self.outbox.front() {
            match item {
                Outgoing::Message { peer, to, len, bytes } => {
                    let (peer, to, len) = (*peer, *to, *len);
                    if buf.len() < len {
                        self.stats.count_drop(DropReason::BufferTooSmall);
                    } else {
                        buf[..len].copy_from_slice(&bytes[..len]);
                    }
                    self.outbox.pop_front();
                    if buf.len() >= len {
                        // A handshake to a peer that has since roamed goes to its new address.
                        let to =
                            peer.and_then(|id| peer_mut(&mut self.peers, id)).and_then(|p| p.endpoint).unwrap_or(to);
                        return Some(Transmit { peer, to, len });
                    }
                }
                &Outgoing::Staged(id) => {
                    let Some(peer) = peer_mut(&mut self.peers, id) else {
                        self.outbox.pop_front();
                        continue;
                    };
                    let Some(to) = peer.endpoint else {
                        peer.staged.clear();
                        self.outbox.pop_front();
                        continue;
                    };
                    if peer.sessions.sendable(now).is_none() {
                        // Lost the session meanwhile: the packets stay staged for the next one.
                        self.outbox.pop_front();
                        self.send_handshake_initiation(now, id, false);
                        continue;
                    }
                    let Some(packet) = peer.staged.pop_front() else {
                        self.outbox.pop_front();
                        continue;
                    };
                    let Some(session) = peer.sessions.sendable(now) else { continue };
                    if buf.len() < TRANSPORT_OVERHEAD + padded_len(packet.len(), mtu) {
                        self.stats.count_drop(DropReason::BufferTooSmall);
                        continue;
                    }
                    let sealed = session
                        .reserve()
                        .and_then(|(key, index, counter)| seal_transport(&key, index, counter, &packet, mtu, buf));
                    match sealed {
                        Ok(len) => {
                            peer.tx_bytes += len as u64;
                            self.after_transport_sent(now, id, !packet.is_empty());
                            return Some(Transmit { peer: Some(id), to, len });
                        }
                        Err(reason) => self.stats.count_drop(reason),
                    }
                }
            }
        }
        None
    }
}
