//! The receive path: a datagram from the network, dispatched by message type.

use super::session::{Slot, TRANSPORT_HEADER_LEN};
use super::{peer_mut, Device, DropReason, Endpoint, Outgoing, Received};
use crate::constants::REKEY_AFTER_TIME_RECV;
use crate::time::Instant;
use braid_wire::ip_header::IpHeader;
use braid_wire::wg::{CookieReply, CookieReplyRepr, Message, Transport};

impl Device {
    /// Handles one datagram from `from`. A transport message is decrypted in place and, if it
    /// carries an IP packet the peer may send, returned as [`Received`]; handshake messages
    /// update state and queue replies for [`Device::poll_transmit`]. Every refusal is counted
    /// in [`Device::stats`] and leaves the device unchanged.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: Endpoint,
        datagram: &mut [u8],
    ) -> Result<Option<Received>, DropReason> {
        let result = self.receive(now, from, datagram);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    fn receive(&mut self, now: Instant, from: Endpoint, datagram: &mut [u8]) -> Result<Option<Received>, DropReason> {
        match Message::parse(datagram).map_err(|_| DropReason::Malformed)? {
            Message::Transport(_) => self.receive_transport(now, from, datagram),
            Message::Initiation(view) => {
                let repr = braid_wire::wg::InitiationRepr::parse(&view);
                self.receive_initiation(now, from, view.as_bytes(), &repr).map(|()| None)
            }
            Message::Response(view) => {
                let repr = braid_wire::wg::ResponseRepr::parse(&view);
                self.receive_response(now, from, view.as_bytes(), &repr).map(|()| None)
            }
            Message::CookieReply(view) => self.receive_cookie_reply(now, &view).map(|()| None),
        }
    }

    fn receive_transport(
        &mut self,
        now: Instant,
        from: Endpoint,
        datagram: &mut [u8],
    ) -> Result<Option<Received>, DropReason> {
        let view = Transport::new_checked(&*datagram).map_err(|_| DropReason::Malformed)?;
        let (index, counter) = (view.receiver_index(), view.counter());
        let id = self.indices.get(index).ok_or(DropReason::UnknownIndex)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        let (session, slot) = peer.sessions.find_mut(index).ok_or(DropReason::UnknownIndex)?;
        if !session.can_receive(now) {
            return Err(DropReason::SessionExpired);
        }
        let padded = session.open(counter, datagram)?;

        // Authenticated from here on: roam, count, and run the timer rules, even if the
        // packet inside turns out to be unacceptable.
        peer.endpoint = Some(from);
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

        let plain = &datagram[TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + padded];
        let ip = IpHeader::new_checked(plain).map_err(|_| DropReason::InvalidInnerPacket)?;
        let (src, len) = (ip.src(), ip.total_len());
        if len > padded {
            return Err(DropReason::InvalidInnerPacket);
        }
        if self.allowed_ips.lookup(src) != Some(id) {
            return Err(DropReason::SourceNotAllowed);
        }
        Ok(Some(Received { peer: id, packet: TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + len }))
    }

    fn receive_cookie_reply(&mut self, now: Instant, view: &CookieReply<&[u8]>) -> Result<(), DropReason> {
        let repr = CookieReplyRepr::parse(view);
        let id = self.indices.get(repr.receiver_index).ok_or(DropReason::UnknownIndex)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        // Never roam on a cookie reply: it is not authenticated by the peer's static key.
        peer.macs.consume_cookie_reply(now, &repr).map_err(|_| DropReason::InvalidCookie)
    }
}
