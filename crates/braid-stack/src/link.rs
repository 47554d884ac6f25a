//! The bottom of the stack: a device that carries whole IP packets (TUN-like, no Ethernet, no ARP).
//!
//! The interface owns one receive and one transmit buffer, allocated once, and hands them to the
//! device: [`IpLink::receive`] copies a packet into the caller's buffer and [`IpLink::transmit`]
//! takes a finished packet from it. Nothing on this path allocates, and a device needs no
//! knowledge of the stack above it: a TUN file descriptor, a channel into a WireGuard tunnel or an
//! in-memory pair ([`loopback_pair`]) all fit the same three calls. A device whose packets live
//! in memory may also implement [`IpLink::receive_swap`] and [`IpLink::transmit_swap`], which
//! exchange whole buffers of equal length with the interface instead of copying packets (the
//! loopback pair does): the stack then copies each payload only into and out of its socket
//! buffers.

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
/// The interface calls [`IpLink::receive`] until it returns `None`, and consults
/// [`IpLink::can_transmit`] before it asks a socket to produce a packet, so that a busy device
/// leaves data queued in the socket rather than losing it. Implementations must not block.
pub trait IpLink {
    /// Largest IP packet, in bytes, the device carries in either direction (the link MTU). The
    /// interface sizes its buffers from this once, when it is created, and derives the TCP MSS.
    fn mtu(&self) -> usize;

    /// Copies the next received packet into `buf` and returns its length, or `None` when nothing is
    /// waiting. A packet longer than `buf` must be dropped by the device (never truncated).
    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;

    /// True when [`IpLink::transmit`] would accept a packet now.
    fn can_transmit(&mut self, now: Instant) -> bool;

    /// Sends one complete IP packet.
    fn transmit(&mut self, now: Instant, packet: &[u8]) -> Result<(), TransmitError>;

    /// Like [`IpLink::receive`], but a device that keeps packets in buffers of the same length as
    /// `buf` may hand the packet over by exchanging its buffer for `buf` instead of copying it.
    ///
    /// Exists so in-memory devices (queues, channels into a tunnel) deliver packets without a
    /// copy and without allocating: buffers circulate between the device and the interface. The
    /// exchanged buffer must have exactly `buf`'s length (the interface's buffer sizes never
    /// change). The default copies through [`IpLink::receive`].
    fn receive_swap(&mut self, now: Instant, buf: &mut Box<[u8]>) -> Option<usize> {
        self.receive(now, buf)
    }

    /// Like [`IpLink::transmit`] for the packet in the first `len` bytes of `buf`, but a device
    /// may take the buffer itself, leaving one of its own of exactly the same length in its place
    /// (contents unspecified) instead of copying the packet.
    ///
    /// The zero-copy counterpart of [`IpLink::receive_swap`]. The default copies through
    /// [`IpLink::transmit`]; `len` beyond `buf` is refused as [`TransmitError::TooLong`].
    fn transmit_swap(&mut self, now: Instant, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        match buf.get(..len) {
            Some(packet) => self.transmit(now, packet),
            None => Err(TransmitError::TooLong { len, mtu: buf.len() }),
        }
    }
}

impl<D: IpLink + ?Sized> IpLink for &mut D {
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

    fn receive_swap(&mut self, now: Instant, buf: &mut Box<[u8]>) -> Option<usize> {
        (**self).receive_swap(now, buf)
    }

    fn transmit_swap(&mut self, now: Instant, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        (**self).transmit_swap(now, buf, len)
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

    /// Appends the packet in the first `len` bytes of `buf` by exchanging `buf` with the free
    /// slot's storage when both have the same length (no copy; `buf` then holds the slot's old
    /// bytes), else by copying like [`PacketQueue::push`].
    pub fn push_swap(&mut self, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        let mtu = self.mtu();
        if len > mtu || len > buf.len() {
            return Err(TransmitError::TooLong { len, mtu });
        }
        if self.is_full() {
            return Err(TransmitError::Full);
        }
        let index = (self.head + self.len) % self.slots.len();
        let slot = &mut self.slots[index];
        if slot.len() == buf.len() {
            core::mem::swap(slot, buf);
        } else {
            slot[..len].copy_from_slice(&buf[..len]);
        }
        self.lens[index] = len;
        self.len += 1;
        Ok(())
    }

    /// Removes the oldest packet like [`PacketQueue::pop_into`], but by exchanging its slot's
    /// storage with `buf` when both have the same length (no copy), else by copying.
    pub fn pop_swap(&mut self, buf: &mut Box<[u8]>) -> Option<Option<usize>> {
        if self.len == 0 {
            return None;
        }
        let (index, len) = (self.head, self.lens[self.head]);
        if self.slots[index].len() != buf.len() {
            return self.pop_into(buf);
        }
        self.advance();
        core::mem::swap(&mut self.slots[index], buf);
        Some(Some(len))
    }

    /// The queued packets, oldest first, without removing them.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len).map(move |k| {
            let i = (self.head + k) % self.slots.len();
            &self.slots[i][..self.lens[i]]
        })
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

impl IpLink for LoopbackDevice {
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

    fn receive_swap(&mut self, _now: Instant, buf: &mut Box<[u8]>) -> Option<usize> {
        let mut inbox = self.inbox.borrow_mut();
        loop {
            match inbox.pop_swap(buf)? {
                Some(len) => return Some(len),
                None => continue, // too long for the caller's buffer: dropped, try the next
            }
        }
    }

    fn transmit_swap(&mut self, _now: Instant, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        self.outbox.borrow_mut().push_swap(buf, len)
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
    fn swapping_moves_packets_without_changing_buffer_sizes() {
        let (mut a, mut b) = loopback_pair(100, 2);
        let now = Instant::ZERO;
        let mut out: Box<[u8]> = vec![7u8; 100].into_boxed_slice();
        out[..3].copy_from_slice(b"abc");
        a.transmit_swap(now, &mut out, 3).unwrap();
        assert_eq!(out.len(), 100, "the device hands back a buffer of the same length");
        a.transmit(now, b"copied").unwrap();
        assert_eq!(a.transmit_swap(now, &mut out, 1), Err(TransmitError::Full));
        assert_eq!(a.transmit_swap(now, &mut out, 101), Err(TransmitError::TooLong { len: 101, mtu: 100 }));
        let mut inbuf: Box<[u8]> = vec![0u8; 100].into_boxed_slice();
        assert_eq!(b.receive_swap(now, &mut inbuf), Some(3));
        assert_eq!(&inbuf[..3], b"abc");
        assert_eq!(inbuf.len(), 100);
        assert_eq!(b.receive_swap(now, &mut inbuf), Some(6));
        assert_eq!(&inbuf[..6], b"copied");
        assert_eq!(b.receive_swap(now, &mut inbuf), None);
    }

    #[test]
    fn swapping_with_a_buffer_of_another_length_copies_instead() {
        let mut queue = PacketQueue::new(2, 8);
        let mut long: Box<[u8]> = vec![1u8; 16].into_boxed_slice();
        queue.push_swap(&mut long, 4).unwrap();
        assert_eq!(long.len(), 16, "a buffer of another length is never exchanged");
        assert_eq!(queue.push_swap(&mut long, 9), Err(TransmitError::TooLong { len: 9, mtu: 8 }));
        let mut short: Box<[u8]> = vec![0u8; 2].into_boxed_slice();
        assert_eq!(queue.pop_swap(&mut short), Some(None), "too long for the buffer: dropped");
        assert_eq!(short.len(), 2);
        queue.push(&[5; 3]).unwrap();
        let mut exact: Box<[u8]> = vec![0u8; 8].into_boxed_slice();
        assert_eq!(queue.pop_swap(&mut exact), Some(Some(3)));
        assert_eq!(&exact[..3], &[5; 3]);
        assert_eq!(queue.pop_swap(&mut exact), None);
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
