//! The data path split in three, so a driver can run the AEAD — the expensive part — off the
//! device, on other cores, while the device (routing, counters, replay windows, timers) stays
//! single-owner:
//!
//! ```text
//! send:    prepare_seal(now, packet) -> SealJob      (device, cheap)
//!          job.seal(packet, out)                     (anywhere, the AEAD)
//! receive: prepare_open(now, datagram) -> OpenJob    (device, cheap)
//!          job.open(datagram)                        (anywhere, the AEAD)
//!          finish_open(now, from, &job, datagram, result)  (device: replay window, roaming,
//!                                                    timers, allowed-IPs check)
//! ```
//!
//! `handle_packet` and `handle_datagram` are these steps run back to back. Packets of one
//! peer keep their order as long as the driver finishes jobs in the order it prepared them.

use super::session::{open_transport, padded_len, seal_transport, Slot, TRANSPORT_HEADER_LEN, TRANSPORT_OVERHEAD};
use super::{peer_mut, Decrypted, Device, DeviceEvent, DropReason, Endpoint, Outgoing, PeerId};
use crate::constants::REKEY_AFTER_TIME_RECV;
use crate::crypto::TransportKey;
use crate::time::Instant;
use braid_wire::ip_header::IpHeader;
use braid_wire::wg::Transport;
use std::sync::Arc;

/// One IP packet's transport message, ready to be sealed anywhere: the session key, counter
/// and receiver index were reserved by the device.
#[derive(Clone)]
pub struct SealJob {
    /// The peer it goes to.
    pub peer: PeerId,
    /// Where to send the sealed datagram.
    pub to: Endpoint,
    /// Length of the sealed datagram (header, padded plaintext, tag).
    pub len: usize,
    key: Arc<TransportKey>,
    remote_index: u32,
    counter: u64,
    mtu: usize,
}

impl core::fmt::Debug for SealJob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealJob").field("peer", &self.peer).field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl SealJob {
    /// Seals `packet` (the same packet given to `prepare_seal`) into `out[..self.len]`.
    pub fn seal(&self, packet: &[u8], out: &mut [u8]) -> Result<usize, DropReason> {
        seal_transport(&self.key, self.remote_index, self.counter, packet, self.mtu, out)
    }
}

/// One transport message to open anywhere; hand the result back to
/// [`Device::finish_open`].
#[derive(Clone)]
pub struct OpenJob {
    /// The peer whose session it names.
    pub peer: PeerId,
    local_index: u32,
    counter: u64,
    key: Arc<TransportKey>,
}

impl core::fmt::Debug for OpenJob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenJob").field("peer", &self.peer).field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl OpenJob {
    /// Verifies and decrypts the datagram in place. Success is an [`Opened`], which only this
    /// function makes: [`Device::finish_open`] accepts no caller's word that a tag verified.
    pub fn open(&self, datagram: &mut [u8]) -> Result<Opened, DropReason> {
        let padded = open_transport(&self.key, self.counter, datagram)?;
        Ok(Opened {
            padded,
            local_index: self.local_index,
            counter: self.counter,
            key: Arc::as_ptr(&self.key) as usize,
        })
    }
}

/// Proof that [`OpenJob::open`] verified a datagram's tag and decrypted it: what was opened,
/// with which session's key. It cannot be built outside this crate, and
/// [`Device::finish_open`] checks that it belongs to the job and that the job's key is still
/// the session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    padded: usize,
    local_index: u32,
    counter: u64,
    /// The key object's address: its identity while the job keeps it alive.
    key: usize,
}

impl Opened {
    /// The padded plaintext length.
    pub fn padded_len(&self) -> usize {
        self.padded
    }
}

/// Whether a datagram is a transport message (type 4) the split receive path handles; any
/// other datagram goes to [`Device::handle_datagram`].
pub fn is_transport(datagram: &[u8]) -> bool {
    datagram.len() >= TRANSPORT_OVERHEAD && datagram[..4] == [4, 0, 0, 0]
}

impl Device {
    /// Routes an IP packet from TUN and reserves its session counter. `Ok(None)`: no session
    /// yet, the packet was staged and a handshake started. Errors are counted.
    pub fn prepare_seal(&mut self, now: Instant, packet: &[u8]) -> Result<Option<SealJob>, DropReason> {
        let result = self.prepare_seal_inner(now, packet);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    /// The datagram length `packet` will seal to.
    pub fn sealed_len(&self, packet_len: usize) -> usize {
        TRANSPORT_OVERHEAD + padded_len(packet_len, self.mtu)
    }

    pub(super) fn prepare_seal_inner(&mut self, now: Instant, packet: &[u8]) -> Result<Option<SealJob>, DropReason> {
        let ip = IpHeader::new_checked(packet).map_err(|_| DropReason::InvalidOutgoingPacket)?;
        let id = self.allowed_ips.lookup(ip.dst()).ok_or(DropReason::NoRoute)?;
        let mtu = self.mtu;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::NoRoute)?;
        let to = peer.endpoint.ok_or(DropReason::NoEndpoint)?;
        if peer.staged.is_empty() {
            if let Some(session) = peer.sessions.sendable(now) {
                let (key, remote_index, counter) = session.reserve()?;
                let len = TRANSPORT_OVERHEAD + padded_len(packet.len(), mtu);
                peer.tx_bytes += len as u64;
                self.after_transport_sent(now, id, !packet.is_empty());
                return Ok(Some(SealJob { peer: id, to, len, key, remote_index, counter, mtu }));
            }
        }
        // No usable session (or older packets still waiting): queue behind them.
        peer.stage(packet);
        self.send_staged(now, id);
        Ok(None)
    }

    /// Finds the session a transport message names. Errors are counted.
    pub fn prepare_open(&mut self, now: Instant, datagram: &[u8]) -> Result<OpenJob, DropReason> {
        let result = self.prepare_open_inner(now, datagram);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    pub(super) fn prepare_open_inner(&mut self, now: Instant, datagram: &[u8]) -> Result<OpenJob, DropReason> {
        let view = Transport::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        let (index, counter) = (view.receiver_index(), view.counter());
        let id = self.indices.get(index).ok_or(DropReason::UnknownIndex)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        let (session, _) = peer.sessions.find_mut(index).ok_or(DropReason::UnknownIndex)?;
        if !session.can_receive(now) {
            return Err(DropReason::SessionExpired);
        }
        Ok(OpenJob { peer: id, local_index: index, counter, key: session.recv_key() })
    }

    /// Completes a receive: `opened` is what [`OpenJob::open`] returned for `datagram`. Runs
    /// the replay window, roaming, timers and the allowed-IPs source check; returns where the
    /// IP packet sits in `datagram`. Errors (the AEAD's included) are counted; an `Opened` of
    /// another job is refused as a failed decryption.
    pub fn finish_open(
        &mut self,
        now: Instant,
        from: Endpoint,
        job: &OpenJob,
        datagram: &mut [u8],
        opened: Result<Opened, DropReason>,
    ) -> Result<Option<Decrypted>, DropReason> {
        let result = opened.and_then(|opened| self.finish_open_inner(now, from, job, datagram, opened));
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    pub(super) fn finish_open_inner(
        &mut self,
        now: Instant,
        from: Endpoint,
        job: &OpenJob,
        datagram: &[u8],
        opened: Opened,
    ) -> Result<Option<Decrypted>, DropReason> {
        let belongs = opened.local_index == job.local_index
            && opened.counter == job.counter
            && opened.key == Arc::as_ptr(&job.key) as usize;
        if !belongs {
            return Err(DropReason::DecryptFailed);
        }
        let padded = opened.padded;
        let id = job.peer;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        // The session may have been rotated out while the job was away, and its index given
        // to a new session: the key must still be the one the datagram was opened with.
        let (session, slot) = peer.sessions.find_mut(job.local_index).ok_or(DropReason::SessionExpired)?;
        if !session.opens_with(&job.key) {
            return Err(DropReason::SessionExpired);
        }
        let late = session.is_late(job.counter);
        if !session.accept(job.counter) {
            return Err(DropReason::Replay);
        }
        if late {
            self.stats.transport_reordered += 1;
        }

        // Authenticated from here on: roam, count, and run the timer rules, even if the
        // packet inside turns out to be unacceptable.
        self.events.set_endpoint(id, &mut peer.endpoint, from);
        peer.rx_bytes += datagram.len() as u64;
        let mut confirmed = false;
        if slot == Slot::Next {
            peer.sessions.confirm_next(&mut self.indices);
            confirmed = true;
        }
        let staged = !peer.staged.is_empty();
        // The initiator rekeys when it receives on a current session nearing Reject-After-Time
        // (165 s), once, in case its own sending stopped and so never triggered the rekey.
        let rekey = !peer.sent_lastminute_handshake
            && peer.sessions.current.as_ref().is_some_and(|s| {
                s.is_initiator && s.can_send(now) && s.created.has_elapsed(now, REKEY_AFTER_TIME_RECV)
            });
        if rekey {
            peer.sent_lastminute_handshake = true;
        }
        self.timer_any_authenticated_packet_received(id);
        self.timer_any_authenticated_packet_traversal(now, id);
        if confirmed {
            self.timer_handshake_complete(now, id);
            self.events.push(DeviceEvent::HandshakeCompleted { peer: id, initiator: false });
            if staged {
                self.outbox.push_back(Outgoing::Staged(id));
            }
        }
        if rekey {
            self.send_handshake_initiation(now, id, false);
        }
        if padded == 0 {
            return Ok(None); // keepalive
        }
        self.timer_data_received(now, id);

        let plain = datagram.get(TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + padded).ok_or(DropReason::Malformed)?;
        let ip = IpHeader::new_checked(plain).map_err(|_| DropReason::InvalidInnerPacket)?;
        let (src, len) = (ip.src(), ip.total_len());
        if len > padded {
            return Err(DropReason::InvalidInnerPacket);
        }
        if self.allowed_ips.lookup(src) != Some(id) {
            return Err(DropReason::SourceNotAllowed);
        }
        Ok(Some(Decrypted { peer: id, packet: TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + len }))
    }
}
