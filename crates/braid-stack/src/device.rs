//! The bottom of the stack: a device that carries whole IP packets (TUN-like, no Ethernet, no ARP).
//!
//! The interface owns one receive and one transmit buffer, allocated once, and hands them to the
//! device: [`Device::receive`] copies a packet into the caller's buffer and [`Device::transmit`]
//! takes a finished packet from it. Nothing on this path allocates, and a device needs no
//! knowledge of the stack above it: a TUN file descriptor, a channel into a WireGuard tunnel or an
//! in-memory pair ([`loopback_pair`]) all fit the same three calls.

use core::cell::RefCell;
use std::rc::Rc;

use crate::time::Instant;

/// Why a device did not take a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransmitError {
    /// The device's queue is full; the packet was not sent (the stack counts it and TCP retransmits).
    #[error("device transmit queue is full")]
    Full,
    /// The packet is longer than the device carries.
    #[error("packet of {len} bytes exceeds the device MTU of {mtu}")]
    TooLong {
        /// Length of the refused packet.
        len: usize,
        /// The device MTU.
        mtu: usize,
    },
    /// The device failed (closed, I/O error); the packet was not sent.
    #[error("device failed")]
    Failed,
}

/// A layer-3 device: it receives and transmits complete IPv4 or IPv6 packets.
///
/// The interface calls [`Device::receive`] until it returns `None`, and consults
/// [`Device::can_transmit`] before it asks a socket to produce a packet, so that a busy device
/// leaves data queued in the socket rather than losing it. Implementations must not block.
pub trait Device {
    /// Largest IP packet, in bytes, the device carries in either direction (the link MTU). The
    /// interface sizes its buffers from this once, when it is created, and derives the TCP MSS.
    fn mtu(&self) -> usize;

    /// Copies the next received packet into `buf` and returns its length, or `None` when nothing is
    /// waiting. A packet longer than `buf` must be dropped by the device (never truncated).
    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;

    /// True when [`Device::transmit`] would accept a packet now.
    fn can_transmit(&mut self, now: Instant) -> bool;

    /// Sends one complete IP packet.
    fn transmit(&mut self, now: Instant, packet: &[u8]) -> Result<(), TransmitError>;
}

impl<D: Device + ?Sized> Device for &mut D {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }

    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        (**self).receive(now, buf)
    }

    fn can_transmit(&mut self, now: Instant) -> bool {
        (**self).can_transmit(now)
    }

    fn transmit(&mut self, now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        (**self).transmit(now, packet)
    }
}

/// A bounded FIFO of packets whose storage is allocated once: `capacity` slots of `mtu` bytes.
///
/// Exists so in-memory devices (the loopback pair, simulations) move packets without allocating
/// per packet and apply back-pressure like a real queue does.
#[derive(Debug)]
pub struct PacketQueue {
    slots: Vec<Box<[u8]>>,
    lens: Vec<usize>,
    head: usize,
    len: usize,
}

impl PacketQueue {
    /// A queue of `capacity` packets (at least 1) of at most `mtu` bytes each.
    pub fn new(capacity: usize, mtu: usize) -> Self {
        let capacity = capacity.max(1);
        PacketQueue {
            slots: (0..capacity).map(|_| vec![0u8; mtu].into_boxed_slice()).collect(),
            lens: vec![0; capacity],
            head: 0,
            len: 0,
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no packet is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when another packet would be refused.
    pub fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// The largest packet a slot holds.
    pub fn mtu(&self) -> usize {
        self.slots.first().map_or(0, |slot| slot.len())
    }

    /// Appends a copy of `packet`.
    pub fn push(&mut self, packet: &[u8]) -> Result<(), TransmitError> {
        let mtu = self.mtu();
        if packet.len() > mtu {
            return Err(TransmitError::TooLong { len: packet.len(), mtu });
        }
        if self.is_full() {
            return Err(TransmitError::Full);
        }
        let index = (self.head + self.len) % self.slots.len();
        self.slots[index][..packet.len()].copy_from_slice(packet);
        self.lens[index] = packet.len();
        self.len += 1;
        Ok(())
    }

    /// The oldest packet, without removing it.
    pub fn front(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.slots[self.head][..self.lens[self.head]])
    }

    /// Removes the oldest packet, copying it into `buf`; returns its length. A packet longer than
    /// `buf` is removed and dropped (`Some(None)` tells the caller one was lost).
    pub fn pop_into(&mut self, buf: &mut [u8]) -> Option<Option<usize>> {
        if self.len == 0 {
            return None;
        }
        let (index, len) = (self.head, self.lens[self.head]);
        self.advance();
        let Some(out) = buf.get_mut(..len) else { return Some(None) };
        out.copy_from_slice(&self.slots[index][..len]);
        Some(Some(len))
    }

    /// Removes the oldest packet without reading it.
    pub fn pop_discard(&mut self) -> bool {
        if self.len == 0 {
            return false;
        }
        self.advance();
        true
    }

    /// Drops the front slot. An emptied queue restarts at slot 0, so a queue that rarely holds
    /// more than a few packets keeps reusing the same (cache-warm) slots.
    fn advance(&mut self) {
        self.len -= 1;
        self.head = if self.len == 0 { 0 } else { (self.head + 1) % self.slots.len() };
    }
}

/// One end of an in-memory point-to-point link, made by [`loopback_pair`].
///
/// What one end transmits, the other receives, in order, without loss unless a queue is full. Two
/// interfaces over a pair make a complete network in one thread, which is how the stack's tests and
/// benchmarks run two TCP endpoints against each other.
#[derive(Debug)]
pub struct LoopbackDevice {
    mtu: usize,
    inbox: Rc<RefCell<PacketQueue>>,
    outbox: Rc<RefCell<PacketQueue>>,
}

/// Two connected [`LoopbackDevice`]s with queues of `capacity` packets of up to `mtu` bytes each way.
pub fn loopback_pair(mtu: usize, capacity: usize) -> (LoopbackDevice, LoopbackDevice) {
    let a_to_b = Rc::new(RefCell::new(PacketQueue::new(capacity, mtu)));
    let b_to_a = Rc::new(RefCell::new(PacketQueue::new(capacity, mtu)));
    (
        LoopbackDevice { mtu, inbox: b_to_a.clone(), outbox: a_to_b.clone() },
        LoopbackDevice { mtu, inbox: a_to_b, outbox: b_to_a },
    )
}

impl LoopbackDevice {
    /// Packets sent by the other end and not yet received here.
    pub fn pending(&self) -> usize {
        self.inbox.borrow().len()
    }

    /// A copy of the next packet this end will receive, for tests that inspect the wire.
    pub fn peek(&self) -> Option<Vec<u8>> {
        self.inbox.borrow().front().map(<[u8]>::to_vec)
    }

    /// Drops the next packet this end would receive (a test's lost packet); false if none.
    pub fn drop_next(&self) -> bool {
        self.inbox.borrow_mut().pop_discard()
    }

    /// Puts a packet on the wire towards this end as if the other end had sent it (tests inject
    /// hand-crafted or malformed packets this way).
    pub fn inject(&self, packet: &[u8]) -> Result<(), TransmitError> {
        self.inbox.borrow_mut().push(packet)
    }
}

impl Device for LoopbackDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let mut inbox = self.inbox.borrow_mut();
        loop {
            match inbox.pop_into(buf)? {
                Some(len) => return Some(len),
                None => continue, // too long for the caller's buffer: dropped, try the next
            }
        }
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        !self.outbox.borrow().is_full()
    }

    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        self.outbox.borrow_mut().push(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_carries_packets_in_order_and_applies_back_pressure() {
        let (mut a, mut b) = loopback_pair(100, 2);
        let now = Instant::ZERO;
        assert!(a.can_transmit(now));
        a.transmit(now, b"one").unwrap();
        a.transmit(now, b"two").unwrap();
        assert!(!a.can_transmit(now));
        assert_eq!(a.transmit(now, b"three"), Err(TransmitError::Full));
        assert_eq!(a.transmit(now, &[0; 101]), Err(TransmitError::TooLong { len: 101, mtu: 100 }));
        assert_eq!(b.pending(), 2);
        let mut buf = [0u8; 100];
        assert_eq!(b.receive(now, &mut buf), Some(3));
        assert_eq!(&buf[..3], b"one");
        assert_eq!(b.receive(now, &mut buf), Some(3));
        assert_eq!(&buf[..3], b"two");
        assert_eq!(b.receive(now, &mut buf), None);
        assert_eq!(a.receive(now, &mut buf), None, "nothing flows back by itself");
    }

    #[test]
    fn a_packet_too_long_for_the_receive_buffer_is_dropped_not_truncated() {
        let (mut a, mut b) = loopback_pair(100, 4);
        let now = Instant::ZERO;
        a.transmit(now, &[1; 50]).unwrap();
        a.transmit(now, &[2; 5]).unwrap();
        let mut small = [0u8; 10];
        assert_eq!(b.receive(now, &mut small), Some(5));
        assert_eq!(&small[..5], &[2; 5]);
        assert_eq!(b.receive(now, &mut small), None);
    }

    #[test]
    fn the_queue_wraps_around_its_slots() {
        let mut queue = PacketQueue::new(3, 8);
        let mut buf = [0u8; 8];
        for round in 0u8..10 {
            queue.push(&[round; 4]).unwrap();
            queue.push(&[round + 100; 2]).unwrap();
            assert_eq!(queue.pop_into(&mut buf), Some(Some(4)));
            assert_eq!(buf[..4], [round; 4]);
            assert_eq!(queue.front(), Some(&[round + 100; 2][..]));
            assert!(queue.pop_discard());
            assert!(queue.is_empty());
        }
    }
}
