//! The packet side: where a tunnel's plaintext IP packets come from and where the decrypted
//! ones go.
//!
//! A packet side has one or more queues. Each queue is read by one thread (the engine's loop
//! reads the first, a lane thread each further one) through its own [`PacketReader`], which
//! owns whatever buffers the read needs; decrypted packets leave through a [`PacketWriter`],
//! one per thread that receives from the underlay. Both work on whole batches so that a TUN
//! super-packet, or a run of packets an application queued, costs one device lock and one
//! pass through the engine.

use mio::{Registry, Token};
use std::io;

/// Largest IP packet (the IPv4 total-length limit; also what one TUN read returns at most
/// besides its virtio-net header, except IPv6 jumbo-sized USO reads, see the TUN reader).
pub const MAX_PACKET: usize = 65535;
/// Most packets one read may yield: a 64 KiB super-packet cut at IPv4's minimum MSS (536).
pub const MAX_PACKETS_PER_READ: usize = 128;
/// Room for each packet of a [`PacketBatch`] after the first (the first holds any size):
/// segments of a super-packet are at most an MTU, and TSO is only used on MTUs up to this.
pub(crate) const PACKET_ROOM: usize = 16384;
/// Decrypted packets gathered before one [`PacketWriter::write`].
pub const DELIVERY_BATCH: usize = 64;
/// Free bytes in front of every packet of a [`DeliveryBatch`]: a TUN writer puts its
/// virtio-net header there without moving the packet.
pub const DELIVERY_HEADROOM: usize = 16;

/// Packets read from the packet side in one go, in buffers allocated once.
#[derive(Debug)]
pub struct PacketBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    count: usize,
}

impl Default for PacketBatch {
    fn default() -> Self {
        PacketBatch::new()
    }
}

impl PacketBatch {
    /// Room for [`MAX_PACKETS_PER_READ`] packets: the first of any size, the rest up to 16 KiB.
    pub fn new() -> PacketBatch {
        PacketBatch {
            bufs: (0..MAX_PACKETS_PER_READ).map(|i| vec![0; if i == 0 { MAX_PACKET } else { PACKET_ROOM }]).collect(),
            lens: vec![0; MAX_PACKETS_PER_READ],
            count: 0,
        }
    }

    /// Packets in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Packet `i` (empty past the end).
    pub fn packet(&self, i: usize) -> &[u8] {
        if i >= self.count {
            return &[];
        }
        &self.bufs[i][..self.lens[i]]
    }

    /// Empties the batch.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Appends a copy of `packet`; false (nothing appended) when the batch is full or the
    /// packet does not fit its slot.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        let Some(buf) = self.bufs.get_mut(self.count) else { return false };
        let Some(slot) = buf.get_mut(..packet.len()) else { return false };
        slot.copy_from_slice(packet);
        self.lens[self.count] = packet.len();
        self.count += 1;
        true
    }

    /// The raw buffers and their lengths, for a reader that writes packets in place (a TUN
    /// read straight into the first buffer, segmentation into all of them); declare how many
    /// it filled with [`PacketBatch::set_len`].
    pub fn buffers_mut(&mut self) -> (&mut [Vec<u8>], &mut [usize]) {
        (&mut self.bufs, &mut self.lens)
    }

    /// Declares the first `count` buffers filled (their lengths set through
    /// [`PacketBatch::buffers_mut`]).
    pub fn set_len(&mut self, count: usize) {
        self.count = count.min(self.bufs.len());
    }
}

/// Decrypted packets on their way to the packet side, each behind [`DELIVERY_HEADROOM`]
/// free bytes, in buffers allocated once.
#[derive(Debug)]
pub struct DeliveryBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    count: usize,
}

impl Default for DeliveryBatch {
    fn default() -> Self {
        DeliveryBatch::new()
    }
}

impl DeliveryBatch {
    /// Room for [`DELIVERY_BATCH`] packets of any size.
    pub fn new() -> DeliveryBatch {
        DeliveryBatch {
            bufs: (0..DELIVERY_BATCH).map(|_| vec![0; DELIVERY_HEADROOM + MAX_PACKET]).collect(),
            lens: vec![0; DELIVERY_BATCH],
            count: 0,
        }
    }

    /// Packets in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when one more packet would not fit.
    pub fn is_full(&self) -> bool {
        self.count == self.bufs.len()
    }

    /// Appends a copy of `packet` (at most [`MAX_PACKET`] bytes); false when full or too long.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        let Some(buf) = self.bufs.get_mut(self.count) else { return false };
        let Some(slot) = buf.get_mut(DELIVERY_HEADROOM..DELIVERY_HEADROOM + packet.len()) else { return false };
        slot.copy_from_slice(packet);
        self.lens[self.count] = packet.len();
        self.count += 1;
        true
    }

    /// Packet `i` (empty past the end).
    pub fn packet(&self, i: usize) -> &[u8] {
        if i >= self.count {
            return &[];
        }
        &self.bufs[i][DELIVERY_HEADROOM..DELIVERY_HEADROOM + self.lens[i]]
    }

    /// The filled buffers and their packet lengths (packet `i` is
    /// `bufs[i][DELIVERY_HEADROOM..DELIVERY_HEADROOM + lens[i]]`), for a writer that rewrites
    /// them in place (coalescing).
    pub fn parts_mut(&mut self) -> (&mut [Vec<u8>], &mut [usize]) {
        (&mut self.bufs[..self.count], &mut self.lens[..self.count])
    }

    /// Empties the batch.
    pub fn clear(&mut self) {
        self.count = 0;
    }
}

/// What a packet side says about itself, for `braid show` and the statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketSideInfo {
    /// What it is: `tun`, `in-process`.
    pub kind: &'static str,
    /// Its queues (threads reading it).
    pub queues: usize,
    /// Reads and writes carry a virtio-net header (TUN offloads).
    pub vnet_hdr: bool,
    /// Reads may be TCP super-packets (TSO).
    pub tso: bool,
    /// Reads may be UDP super-packets, and writes may be coalesced UDP (USO).
    pub uso: bool,
}

/// The packet side's MTU as the engine's housekeeping sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMtu {
    /// The MTU does not change behind the engine's back.
    Fixed,
    /// The MTU is now this (a TUN link's `ip link set mtu` is followed).
    Is(usize),
    /// The packet side is gone (the TUN interface was deleted): the engine stops.
    Gone,
}

/// A source and sink of plaintext IP packets with one or more queues.
pub trait PacketSide: Send + Sync + 'static {
    /// Reads one queue; owned by the thread that serves that queue.
    type Reader: PacketReader;
    /// Delivers decrypted packets; one per thread that receives from the underlay.
    type Writer: PacketWriter;

    /// Queues, each read by its own thread (at least 1).
    fn queues(&self) -> usize;

    /// The reader of queue `queue` (asked once per queue).
    fn reader(&self, queue: usize) -> io::Result<Self::Reader>;

    /// A writer for one receiving thread.
    fn writer(&self) -> Self::Writer;

    /// The MTU now, checked about once a second.
    fn link_mtu(&self) -> LinkMtu {
        LinkMtu::Fixed
    }

    /// Facts for statistics.
    fn info(&self) -> PacketSideInfo;
}

/// Reads one queue of a packet side.
pub trait PacketReader: Send + 'static {
    /// Makes `registry` report `token` readable whenever this queue has packets. The engine
    /// polls edge-triggered: it reads until [`PacketReader::read`] says `WouldBlock`.
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()>;

    /// Reads the next packets into `batch` (cleared first): one TUN read, segmented, or
    /// several queued packets. `Ok(0)` is a read that yielded nothing usable (a malformed
    /// super-packet, counted by the reader); `WouldBlock` means the queue is empty; any other
    /// error means the packet side is gone.
    fn read(&mut self, batch: &mut PacketBatch) -> io::Result<usize>;
}

/// Delivers decrypted packets to a packet side.
pub trait PacketWriter: Send + 'static {
    /// Writes every packet of `batch` (which it may rewrite in place, and empties); returns
    /// the writes it took (coalesced packets count once). A packet the side cannot take now
    /// is dropped, as a full TUN queue drops it.
    fn write(&mut self, batch: &mut DeliveryBatch) -> u64;
}
