//! An in-process device: the packet side for an application that lives in the same process
//! as its tunnel, where a TUN device would need root and a trip through the kernel.
//!
//! [`pair`] makes two ends of one device: the engine's ([`InProcessSide`], a
//! [`PacketSide`]) and the application's ([`PacketPort`]). Each direction is a bounded ring
//! of packet slots allocated once; both ends move whole batches under one lock, and each
//! wakes the other only when it may be waiting (the engine when it found its ring empty,
//! the application when it asked to be told), so a busy tunnel exchanges no wake-ups at all.
//! A full ring towards the application drops packets, as a full TUN queue does; a full ring
//! towards the tunnel refuses them, so that a sender (the userspace TCP/IP stack) keeps its
//! data and retries.

use crate::packet_side::{
    DeliveryBatch, PacketBatch, PacketReader, PacketSide, PacketSideInfo, PacketWriter, MAX_PACKETS_PER_READ,
};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Packets each direction holds by default.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A bounded FIFO of packets in slots allocated once.
struct Ring {
    slots: Vec<Box<[u8]>>,
    lens: Vec<usize>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(capacity: usize, slot: usize) -> Ring {
        let capacity = capacity.max(1);
        Ring {
            slots: (0..capacity).map(|_| vec![0; slot].into_boxed_slice()).collect(),
            lens: vec![0; capacity],
            head: 0,
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// Appends a copy of `packet`; the caller checked it fits a slot and the ring has room.
    fn push(&mut self, packet: &[u8]) {
        let i = (self.head + self.len) % self.slots.len();
        self.slots[i][..packet.len()].copy_from_slice(packet);
        self.lens[i] = packet.len();
        self.len += 1;
    }

    /// The oldest packet.
    fn front(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.slots[self.head][..self.lens[self.head]])
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % self.slots.len();
            self.len -= 1;
        }
    }
}

/// One direction: its ring and who may be waiting on it.
struct Direction {
    state: Mutex<DirectionState>,
    /// Signalled when the ring gets packets (for a blocked application reader) or room (for a
    /// blocked application writer).
    changed: Condvar,
}

struct DirectionState {
    ring: Ring,
    /// The consumer found the ring empty and waits to be woken by the next push.
    consumer_waiting: bool,
    /// The producer found the ring full and waits to be woken by the next pop.
    producer_waiting: bool,
}

impl Direction {
    fn new(capacity: usize, slot: usize) -> Direction {
        Direction {
            state: Mutex::new(DirectionState {
                ring: Ring::new(capacity, slot),
                consumer_waiting: true,
                producer_waiting: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DirectionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What both ends share.
struct Inner {
    mtu: usize,
    /// Application → tunnel.
    outbound: Direction,
    /// Tunnel → application.
    inbound: Direction,
    /// Rings the engine's poll: a byte written here makes the reader's end readable.
    doorbell: UnixStream,
    /// Called when the application may have something to do: packets arrived, room freed, or
    /// the other end closed.
    notify: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    app_closed: std::sync::atomic::AtomicBool,
    engine_closed: std::sync::atomic::AtomicBool,
    counters: PortCounters,
}

/// What the device refused or lost, by reason.
#[derive(Debug, Default)]
struct PortCounters {
    delivered: AtomicU64,
    sent: AtomicU64,
    dropped_full: AtomicU64,
    dropped_too_long: AtomicU64,
}

/// The device's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets the application handed to the tunnel.
    pub sent: u64,
    /// Packets the tunnel delivered into the application's ring.
    pub delivered: u64,
    /// Decrypted packets dropped because the application's ring was full.
    pub dropped_full: u64,
    /// Decrypted packets dropped because they were longer than the device's MTU.
    pub dropped_too_long: u64,
}

impl Inner {
    fn wake_engine(&self) {
        // A full doorbell already has a ring pending: nothing is lost.
        match (&self.doorbell).write(&[1]) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => tracing::warn!(error = %e, "cannot wake the engine"),
        }
    }

    fn notify_app(&self, direction: &Direction) {
        direction.changed.notify_all();
        let notify = self.notify.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(notify) = notify {
            notify();
        }
    }
}

/// Makes an in-process device carrying IP packets of up to `mtu` bytes, `capacity` packets
/// each way: the engine's end and the application's. Fails only if the OS refuses the
/// socket pair the engine is woken through.
pub fn pair(mtu: usize, capacity: usize) -> io::Result<(InProcessSide, PacketPort)> {
    // A socket pair as the doorbell: a descriptor the engine's poll can watch beside its
    // others, which any thread rings with one write.
    let (doorbell, bell) = UnixStream::pair()?;
    doorbell.set_nonblocking(true)?;
    bell.set_nonblocking(true)?;
    let inner = Arc::new(Inner {
        mtu,
        outbound: Direction::new(capacity, mtu),
        inbound: Direction::new(capacity, mtu),
        doorbell,
        notify: Mutex::new(None),
        app_closed: Default::default(),
        engine_closed: Default::default(),
        counters: PortCounters::default(),
    });
    let bell = Arc::new(bell);
    Ok((InProcessSide { inner: inner.clone(), bell }, PacketPort { inner }))
}

/// The engine's end of an in-process device. Dropping it (the engine stopped) closes the
/// device for the application.
pub struct InProcessSide {
    inner: Arc<Inner>,
    /// The doorbell's receiving end, watched by the engine's poll.
    bell: Arc<UnixStream>,
}

impl Drop for InProcessSide {
    fn drop(&mut self) {
        self.inner.engine_closed.store(true, Ordering::Release);
        self.inner.notify_app(&self.inner.inbound);
        self.inner.notify_app(&self.inner.outbound);
    }
}

impl PacketSide for InProcessSide {
    type Reader = InProcessReader;
    type Writer = InProcessWriter;

    fn queues(&self) -> usize {
        1
    }

    fn reader(&self, queue: usize) -> io::Result<InProcessReader> {
        if queue != 0 {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(InProcessReader { inner: self.inner.clone(), bell: self.bell.clone(), waited: true })
    }

    fn writer(&self) -> InProcessWriter {
        InProcessWriter { inner: self.inner.clone() }
    }

    fn info(&self) -> PacketSideInfo {
        PacketSideInfo { kind: "in-process", queues: 1, vnet_hdr: false, tso: false, uso: false }
    }
}

/// The engine's reader of the application's packets.
pub struct InProcessReader {
    inner: Arc<Inner>,
    bell: Arc<UnixStream>,
    /// The last read found the ring empty: the doorbell may hold rings to clear.
    waited: bool,
}

impl PacketReader for InProcessReader {
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut SourceFd(&self.bell.as_raw_fd()), token, Interest::READABLE)?;
        // Whatever the application queued before the engine listened.
        self.inner.wake_engine();
        Ok(())
    }

    fn read(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        batch.clear();
        if core::mem::take(&mut self.waited) {
            // Clear the rings that woke us, before looking: a ring after this is a new one.
            let mut rings = [0u8; 64];
            while matches!((&*self.bell).read(&mut rings), Ok(n) if n > 0) {}
        }
        let direction = &self.inner.outbound;
        let woke_producer = {
            let mut state = direction.lock();
            while batch.len() < MAX_PACKETS_PER_READ {
                let Some(packet) = state.ring.front() else { break };
                // Slots hold at most the MTU, which a batch slot always holds.
                let _ = batch.push(packet);
                state.ring.pop();
            }
            if batch.is_empty() {
                if self.inner.app_closed.load(Ordering::Acquire) {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the application closed the device"));
                }
                state.consumer_waiting = true;
                self.waited = true;
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
            core::mem::take(&mut state.producer_waiting)
        };
        if woke_producer {
            self.inner.notify_app(direction);
        }
        Ok(batch.len())
    }
}

/// The engine's writer of decrypted packets into the application's ring.
pub struct InProcessWriter {
    inner: Arc<Inner>,
}

impl PacketWriter for InProcessWriter {
    fn write(&mut self, batch: &mut DeliveryBatch) -> u64 {
        if batch.is_empty() {
            return 0;
        }
        let direction = &self.inner.inbound;
        let counters = &self.inner.counters;
        let (delivered, wake) = {
            let mut state = direction.lock();
            let mut delivered = 0;
            for i in 0..batch.len() {
                let packet = batch.packet(i);
                if packet.len() > self.inner.mtu {
                    counters.dropped_too_long.fetch_add(1, Ordering::Relaxed);
                } else if state.ring.is_full() {
                    counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                } else {
                    state.ring.push(packet);
                    delivered += 1;
                }
            }
            (delivered, delivered > 0 && core::mem::take(&mut state.consumer_waiting))
        };
        batch.clear();
        counters.delivered.fetch_add(delivered, Ordering::Relaxed);
        if wake {
            self.inner.notify_app(direction);
        }
        delivered
    }
}

/// Why the device did not take a packet from the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortError {
    /// The ring towards the tunnel is full: try again when told (see [`PacketPort::set_notify`]).
    Full,
    /// The packet is longer than the device's MTU.
    TooLong,
    /// The engine has stopped.
    Closed,
}

impl core::fmt::Display for PortError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PortError::Full => "the tunnel's queue is full",
            PortError::TooLong => "the packet is longer than the tunnel's MTU",
            PortError::Closed => "the tunnel has stopped",
        })
    }
}

impl std::error::Error for PortError {}

/// The application's end of an in-process device: IP packets into and out of the tunnel.
/// Dropping it stops the engine (its packet side is gone).
pub struct PacketPort {
    inner: Arc<Inner>,
}

impl Drop for PacketPort {
    fn drop(&mut self) {
        self.inner.app_closed.store(true, Ordering::Release);
        self.inner.wake_engine();
    }
}

impl core::fmt::Debug for PacketPort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketPort").field("mtu", &self.inner.mtu).field("stats", &self.stats()).finish()
    }
}

impl PacketPort {
    /// The largest packet the device carries.
    pub fn mtu(&self) -> usize {
        self.inner.mtu
    }

    /// Whether the engine has stopped (nothing will arrive any more, nothing leaves).
    pub fn is_closed(&self) -> bool {
        self.inner.engine_closed.load(Ordering::Acquire)
    }

    /// Asks to be called (from the engine's thread; keep it short: unpark a thread, write an
    /// eventfd) when the application may have work: packets arrived, room freed after a
    /// [`PortError::Full`], or the engine stopped. Replaces an earlier callback.
    pub fn set_notify(&self, notify: impl Fn() + Send + Sync + 'static) {
        *self.inner.notify.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(notify));
    }

    /// Hands one IP packet to the tunnel.
    pub fn send(&self, packet: &[u8]) -> Result<(), PortError> {
        let mut sent = 0;
        match self.send_batch(core::iter::once(packet), &mut sent) {
            Ok(()) if sent == 1 => Ok(()),
            Ok(()) => Err(PortError::Full),
            Err(e) => Err(e),
        }
    }

    /// Hands packets to the tunnel in order under one lock, until the ring is full; `sent`
    /// counts the packets taken. A packet longer than the MTU stops the batch with
    /// [`PortError::TooLong`] (the ones before it were taken).
    pub fn send_batch<'a>(
        &self,
        packets: impl IntoIterator<Item = &'a [u8]>,
        sent: &mut usize,
    ) -> Result<(), PortError> {
        if self.is_closed() {
            return Err(PortError::Closed);
        }
        let direction = &self.inner.outbound;
        let mut result = Ok(());
        let wake = {
            let mut state = direction.lock();
            for packet in packets {
                if packet.len() > self.inner.mtu {
                    result = Err(PortError::TooLong);
                    break;
                }
                if state.ring.is_full() {
                    state.producer_waiting = true;
                    break;
                }
                state.ring.push(packet);
                *sent += 1;
            }
            *sent > 0 && core::mem::take(&mut state.consumer_waiting)
        };
        self.inner.counters.sent.fetch_add(*sent as u64, Ordering::Relaxed);
        if wake {
            self.inner.wake_engine();
        }
        result
    }

    /// Whether the ring towards the tunnel has room for another packet now.
    pub fn can_send(&self) -> bool {
        let mut state = self.inner.outbound.lock();
        if state.ring.is_full() {
            state.producer_waiting = true;
            return false;
        }
        true
    }

    /// Takes one decrypted packet into `buf`, if one is waiting; its length (a packet longer
    /// than `buf` is dropped and `Some(0)` returned, never truncated).
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        let mut len = None;
        self.recv_batch(1, |packet| {
            len = Some(buf.get_mut(..packet.len()).map_or(0, |slot| {
                slot.copy_from_slice(packet);
                packet.len()
            }));
        });
        len
    }

    /// Like [`PacketPort::recv`], waiting up to `timeout` for a packet. `Err` when the engine
    /// stopped.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, PortError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = self.recv(buf) {
                return Ok(Some(n));
            }
            if self.is_closed() {
                return Err(PortError::Closed);
            }
            let direction = &self.inner.inbound;
            let state = direction.lock();
            if state.ring.front().is_some() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // `consumer_waiting` was set by the empty recv above, under this lock's
            // predecessor; a push since then finds it set and signals `changed`.
            let _ = direction.changed.wait_timeout(state, left.min(Duration::from_millis(100)));
        }
    }

    /// Takes up to `max` decrypted packets under one lock, handing each to `each` (which must
    /// not block: the engine waits for the lock meanwhile). Returns how many were taken; when
    /// none was waiting, the next arrival calls the notify callback.
    pub fn recv_batch(&self, max: usize, mut each: impl FnMut(&[u8])) -> usize {
        let direction = &self.inner.inbound;
        let mut state = direction.lock();
        let mut taken = 0;
        while taken < max {
            let Some(packet) = state.ring.front() else { break };
            each(packet);
            state.ring.pop();
            taken += 1;
        }
        if state.ring.front().is_none() {
            state.consumer_waiting = true;
        }
        taken
    }

    /// The device's counters.
    pub fn stats(&self) -> PortStats {
        self.stats_handle().stats()
    }

    /// A handle that reads the device's counters, for whoever keeps statistics after the
    /// port went to its user.
    pub fn stats_handle(&self) -> PortStatsHandle {
        PortStatsHandle { inner: self.inner.clone() }
    }
}

/// Reads an in-process device's counters ([`PacketPort::stats_handle`]).
#[derive(Clone)]
pub struct PortStatsHandle {
    inner: Arc<Inner>,
}

impl PortStatsHandle {
    /// The device's counters now.
    pub fn stats(&self) -> PortStats {
        let c = &self.inner.counters;
        PortStats {
            sent: c.sent.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            dropped_full: c.dropped_full.load(Ordering::Relaxed),
            dropped_too_long: c.dropped_too_long.load(Ordering::Relaxed),
        }
    }
}
