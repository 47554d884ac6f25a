//! The stack's link over an in-process device: braid-stack's [`IpLink`] on a [`PacketPort`].
//!
//! The stack asks its link for one packet at a time; the port moves packets in batches under
//! one lock. Between them sit two small staging queues: received packets are taken from the
//! port a batch at a time into the receive queue, and transmitted ones gather in the send
//! queue until the poll ends (or the queue fills) and go to the port in one batch. Slots are
//! the MTU long, like the interface's own buffers, so the stack swaps buffers with them
//! instead of copying.

use braid_engine::in_process::PacketPort;
use braid_stack::link::{IpLink, PacketQueue, TransmitError};
use braid_stack::time::Instant;

/// Packets staged each way between the stack and the port.
const STAGING: usize = 256;

/// braid-stack's link to the tunnel.
pub struct PortLink {
    port: PacketPort,
    rx: PacketQueue,
    tx: PacketQueue,
}

impl PortLink {
    /// A link over `port`.
    pub fn new(port: PacketPort) -> PortLink {
        let mtu = port.mtu();
        PortLink { port, rx: PacketQueue::new(STAGING, mtu), tx: PacketQueue::new(STAGING, mtu) }
    }

    /// The port underneath.
    pub fn port(&self) -> &PacketPort {
        &self.port
    }

    /// Hands the staged packets to the tunnel (as many as it takes now; the rest stay staged
    /// and the port calls back when it has room).
    pub fn flush(&mut self) {
        if self.tx.is_empty() {
            return;
        }
        let mut sent = 0;
        // Staged packets are at most the port's MTU: nothing is too long.
        let _ = self.port.send_batch(self.tx.iter(), &mut sent);
        for _ in 0..sent {
            self.tx.pop_discard();
        }
    }

    /// Packets waiting to go to the tunnel.
    pub fn staged(&self) -> usize {
        self.tx.len()
    }

    fn refill(&mut self) {
        if self.rx.is_empty() {
            let room = STAGING;
            let rx = &mut self.rx;
            self.port.recv_batch(room, |packet| {
                // A packet the staging slot cannot hold was longer than the MTU: the port
                // refuses those before they get here.
                let _ = rx.push(packet);
            });
        }
    }
}

impl IpLink for PortLink {
    fn mtu(&self) -> usize {
        self.port.mtu()
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.refill();
        loop {
            match self.rx.pop_into(buf)? {
                Some(len) => return Some(len),
                None => continue,
            }
        }
    }

    fn receive_swap(&mut self, _now: Instant, buf: &mut Box<[u8]>) -> Option<usize> {
        self.refill();
        loop {
            match self.rx.pop_swap(buf)? {
                Some(len) => return Some(len),
                None => continue,
            }
        }
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        if self.tx.is_full() {
            self.flush();
        }
        !self.tx.is_full()
    }

    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        if self.tx.is_full() {
            self.flush();
        }
        self.tx.push(packet)
    }

    fn transmit_swap(&mut self, _now: Instant, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        if self.tx.is_full() {
            self.flush();
        }
        self.tx.push_swap(buf, len)
    }
}
