//! The receive path: a datagram from the network, dispatched by message type.

use super::{peer_mut, Decrypted, Device, DropReason, Endpoint};
use crate::time::Instant;
use braid_wire::wg::{CookieReply, CookieReplyRepr, Message};

impl Device {
    /// Handles one datagram from `from`. A transport message is decrypted in place and, if it
    /// carries an IP packet the peer may send, returned as [`Decrypted`]; handshake messages
    /// update state and queue replies for [`Device::poll_transmit`]. Every refusal is counted
    /// in [`Device::stats`] and leaves the device unchanged.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: Endpoint,
        datagram: &mut [u8],
    ) -> Result<Option<Decrypted>, DropReason> {
        let result = self.receive(now, from, datagram);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    fn receive(&mut self, now: Instant, from: Endpoint, datagram: &mut [u8]) -> Result<Option<Decrypted>, DropReason> {
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
    ) -> Result<Option<Decrypted>, DropReason> {
        let job = self.prepare_open_inner(now, datagram)?;
        let opened = job.open(datagram)?;
        self.finish_open_inner(now, from, &job, datagram, opened)
    }

    fn receive_cookie_reply(&mut self, now: Instant, view: &CookieReply<&[u8]>) -> Result<(), DropReason> {
        let repr = CookieReplyRepr::parse(view);
        let id = self.indices.get(repr.receiver_index).ok_or(DropReason::UnknownIndex)?;
        let peer = peer_mut(&mut self.peers, id).ok_or(DropReason::UnknownIndex)?;
        // Never roam on a cookie reply: it is not authenticated by the peer's static key.
        peer.macs.consume_cookie_reply(now, &repr).map_err(|_| DropReason::InvalidCookie)
    }
}
