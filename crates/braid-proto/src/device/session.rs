//! A transport session (the whitepaper's "keypair") and the three slots a peer keeps them in.
//!
//! Slots follow the kernel: `current` sends; `previous` still receives what was in flight
//! when a rekey happened; `next` is a responder's new session, which must not send until the
//! initiator's first data message confirms it (otherwise a replayed initiation could make us
//! send on keys the initiator never derived).

use super::drop_reason::DropReason;
use super::index_table::IndexTable;
use crate::constants::{REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME};
use crate::crypto::{CryptoError, TransportCipher, TransportKey, TAG_LEN};
use crate::noise::SessionKeys;
use crate::replay::ReplayWindow;
use crate::time::Instant;
use std::sync::Arc;

/// Size of the transport header: type, receiver index, counter.
pub const TRANSPORT_HEADER_LEN: usize = 16;
/// Bytes a transport message adds to its plaintext (header + tag), before padding.
pub const TRANSPORT_OVERHEAD: usize = TRANSPORT_HEADER_LEN + TAG_LEN;

/// Padded plaintext length for a packet of `len` bytes: a multiple of 16, but never beyond
/// the MTU (the kernel's rule: padding must not push a full-size packet over the MTU).
pub fn padded_len(len: usize, mtu: usize) -> usize {
    let aligned = len.div_ceil(16) * 16;
    if mtu == 0 {
        return aligned;
    }
    let last_unit = if len > mtu { len % mtu } else { len };
    let padded_last = (last_unit.div_ceil(16) * 16).min(mtu);
    len - last_unit + padded_last
}

/// One direction-pair of transport keys with its counters.
pub(crate) struct Session {
    pub local_index: u32,
    pub remote_index: u32,
    pub created: Instant,
    pub is_initiator: bool,
    send_key: Arc<TransportKey>,
    recv_key: Arc<TransportKey>,
    /// The next counter to send with.
    send_counter: u64,
    /// Cleared when the device's private key changes: the session may still receive.
    send_valid: bool,
    replay: ReplayWindow,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("local_index", &self.local_index)
            .field("created", &self.created)
            .field("is_initiator", &self.is_initiator)
            .field("send_counter", &self.send_counter)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn new(keys: &SessionKeys, now: Instant, replay_window: usize) -> Result<Self, CryptoError> {
        Ok(Session {
            local_index: keys.local_index,
            remote_index: keys.remote_index,
            created: now,
            is_initiator: keys.is_initiator,
            send_key: Arc::new(TransportKey::new(&keys.send)?),
            recv_key: Arc::new(TransportKey::new(&keys.recv)?),
            send_counter: 0,
            send_valid: true,
            replay: ReplayWindow::new(replay_window),
        })
    }

    /// May this session send now?
    pub fn can_send(&self, now: Instant) -> bool {
        self.send_valid
            && !self.created.has_elapsed(now, REJECT_AFTER_TIME)
            && self.send_counter < REJECT_AFTER_MESSAGES
    }

    /// May this session still receive now?
    pub fn can_receive(&self, now: Instant) -> bool {
        !self.created.has_elapsed(now, REJECT_AFTER_TIME)
    }

    /// Messages sent so far (the next counter).
    pub fn send_counter(&self) -> u64 {
        self.send_counter
    }

    pub fn invalidate_sending(&mut self) {
        self.send_valid = false;
    }

    /// Takes the next send counter: everything a [`SealJob`](super::SealJob) needs besides the
    /// packet. Refuses once the counter reached Reject-After-Messages.
    pub fn reserve(&mut self) -> Result<(Arc<TransportKey>, u32, u64), DropReason> {
        let counter = self.send_counter;
        if counter >= REJECT_AFTER_MESSAGES {
            return Err(DropReason::SessionExpired);
        }
        self.send_counter += 1;
        Ok((Arc::clone(&self.send_key), self.remote_index, counter))
    }

    /// The key that opens this session's messages (for an [`OpenJob`](super::OpenJob)).
    pub fn recv_key(&self) -> Arc<TransportKey> {
        Arc::clone(&self.recv_key)
    }

    /// Whether `key` is the key this session opens with (the same key object, not equal bytes).
    pub fn opens_with(&self, key: &Arc<TransportKey>) -> bool {
        Arc::ptr_eq(&self.recv_key, key)
    }

    /// Whether `counter` is below the highest counter this session accepted (it came late).
    pub fn is_late(&self, counter: u64) -> bool {
        self.replay.max_seen().is_some_and(|max| counter < max)
    }

    /// Marks `counter` as received once its tag verified; false for a replay or a counter too
    /// old for the window (the kernel's order: tag first, then the window).
    pub fn accept(&mut self, counter: u64) -> bool {
        self.replay.check_and_update(counter)
    }

    #[cfg(test)]
    pub fn set_send_counter(&mut self, counter: u64) {
        self.send_counter = counter;
    }
}

/// Writes a transport message carrying `packet` (zero-padded) into `out`; returns its
/// length. The plaintext is copied once into place and sealed there.
pub(crate) fn seal_transport(
    key: &TransportKey,
    remote_index: u32,
    counter: u64,
    packet: &[u8],
    mtu: usize,
    out: &mut [u8],
) -> Result<usize, DropReason> {
    let padded = padded_len(packet.len(), mtu);
    let total = TRANSPORT_OVERHEAD + padded;
    if out.len() < total {
        return Err(DropReason::BufferTooSmall);
    }
    out[0..4].copy_from_slice(&[4, 0, 0, 0]);
    out[4..8].copy_from_slice(&remote_index.to_le_bytes());
    out[8..16].copy_from_slice(&counter.to_le_bytes());
    let body = &mut out[TRANSPORT_HEADER_LEN..total];
    body[..packet.len()].copy_from_slice(packet);
    body[packet.len()..padded].fill(0);
    key.seal_in_place(counter, &[], body, padded).map_err(|_| DropReason::BufferTooSmall)?;
    Ok(total)
}

/// Verifies and decrypts the transport message in `datagram` in place; returns the padded
/// plaintext length, which sits at `datagram[16..16 + len]`.
pub(crate) fn open_transport(key: &TransportKey, counter: u64, datagram: &mut [u8]) -> Result<usize, DropReason> {
    if counter >= REJECT_AFTER_MESSAGES {
        return Err(DropReason::Replay);
    }
    let body = datagram.get_mut(TRANSPORT_HEADER_LEN..).ok_or(DropReason::Malformed)?;
    key.open_in_place(counter, &[], body).map_err(|_| DropReason::DecryptFailed)
}

/// Which slot a session was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Previous,
    Current,
    Next,
}

/// A peer's previous/current/next sessions.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    pub previous: Option<Session>,
    pub current: Option<Session>,
    pub next: Option<Session>,
}

fn release(slot: &mut Option<Session>, indices: &mut IndexTable) {
    if let Some(s) = slot.take() {
        indices.free(s.local_index);
    }
}

impl Sessions {
    /// The initiator's new session becomes current at once (it has seen the response).
    pub fn install_initiator(&mut self, session: Session, indices: &mut IndexTable) {
        if self.next.is_some() {
            // An unconfirmed responder session is newer than current: keep it for receiving.
            release(&mut self.previous, indices);
            self.previous = self.next.take();
            release(&mut self.current, indices);
        } else {
            release(&mut self.previous, indices);
            self.previous = self.current.take();
        }
        self.current = Some(session);
    }

    /// The responder's new session waits in `next` until the initiator confirms it.
    pub fn install_responder(&mut self, session: Session, indices: &mut IndexTable) {
        release(&mut self.next, indices);
        release(&mut self.previous, indices);
        self.next = Some(session);
    }

    /// First data arrived on `next`: it becomes current.
    pub fn confirm_next(&mut self, indices: &mut IndexTable) {
        if let Some(next) = self.next.take() {
            release(&mut self.previous, indices);
            self.previous = self.current.take();
            self.current = Some(next);
        }
    }

    /// The session with our index `local_index`, and its slot.
    pub fn find_mut(&mut self, local_index: u32) -> Option<(&mut Session, Slot)> {
        let Sessions { previous, current, next } = self;
        [(current, Slot::Current), (next, Slot::Next), (previous, Slot::Previous)]
            .into_iter()
            .find_map(|(s, slot)| s.as_mut().filter(|s| s.local_index == local_index).map(|s| (s, slot)))
    }

    /// The session to send on, if it may send now.
    pub fn sendable(&mut self, now: Instant) -> Option<&mut Session> {
        self.current.as_mut().filter(|s| s.can_send(now))
    }

    /// Drops every session (key zeroing, peer removal).
    pub fn clear(&mut self, indices: &mut IndexTable) {
        release(&mut self.previous, indices);
        release(&mut self.current, indices);
        release(&mut self.next, indices);
    }

    /// Live sessions.
    pub fn count(&self) -> usize {
        [&self.previous, &self.current, &self.next].iter().filter(|s| s.is_some()).count()
    }

    /// Stops current and next from sending (the private key changed): the next packet
    /// triggers a handshake with the new identity.
    pub fn invalidate_sending(&mut self) {
        for s in [&mut self.current, &mut self.next].into_iter().flatten() {
            s.invalidate_sending();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_to_16_and_capped_by_the_mtu() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(1, 1420), 16);
        assert_eq!(padded_len(16, 1420), 16);
        assert_eq!(padded_len(17, 1420), 32);
        // 1419 would pad to 1424, over the MTU: cap at 1420.
        assert_eq!(padded_len(1419, 1420), 1420);
        assert_eq!(padded_len(1420, 1420), 1420);
        // Bigger than the MTU (GSO-size or misconfigured): only the last unit is padded.
        assert_eq!(padded_len(1430, 1420), 1420 + 16);
        assert_eq!(padded_len(1412, 0), 1424);
    }
}
