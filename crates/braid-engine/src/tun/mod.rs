//! A TUN interface as the packet side: one queue per descriptor of a multi-queue interface,
//! read with the virtio-net header so one read may be a 64 KiB TCP or UDP super-packet
//! (segmented here), and written coalesced (GRO) on the queue each flow hashes to.

mod flow_queue;

use crate::packet_side::{
    DeliveryBatch, LinkMtu, PacketBatch, PacketReader, PacketSide, PacketSideInfo, PacketWriter, DELIVERY_BATCH,
    DELIVERY_HEADROOM,
};
use braid_io::offload::{segment_from, Coalescer, VirtioNetHdr, VIRTIO_NET_HDR_LEN};
use braid_io::tun::TunOffloads;
use braid_io::Tun;
use flow_queue::flow_queue;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Largest read from a TUN with offloads: the virtio-net header and an IPv6 super-packet
/// (40-byte header plus a 65 535-byte payload).
const TUN_READ_ROOM: usize = VIRTIO_NET_HDR_LEN + 40 + 65535;

/// Every queue of one TUN interface.
#[derive(Debug)]
pub struct TunSide {
    queues: Vec<Arc<Tun>>,
    offloads: TunOffloads,
}

impl TunSide {
    /// Serves `queues` (all of one interface, opened with the same offloads; at least one).
    pub fn new(queues: Vec<Tun>) -> io::Result<TunSide> {
        let Some(first) = queues.first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no TUN queue"));
        };
        let offloads = first.offloads();
        Ok(TunSide { queues: queues.into_iter().map(Arc::new).collect(), offloads })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        self.queues[0].name()
    }

    /// The offloads the queues were opened with.
    pub fn offloads(&self) -> TunOffloads {
        self.offloads
    }

    /// The first queue (for MTU changes and the like).
    pub fn first(&self) -> &Tun {
        &self.queues[0]
    }
}

impl PacketSide for TunSide {
    type Reader = TunReader;
    type Writer = TunWriter;

    fn queues(&self) -> usize {
        self.queues.len()
    }

    fn reader(&self, queue: usize) -> io::Result<TunReader> {
        let tun = self.queues.get(queue).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?.clone();
        let rx = if self.offloads.vnet_hdr { vec![0; TUN_READ_ROOM] } else { Vec::new() };
        Ok(TunReader { tun, vnet_hdr: self.offloads.vnet_hdr, rx, rest: None })
    }

    fn writer(&self) -> TunWriter {
        let mut coalescer = Coalescer::with_capacity(DELIVERY_BATCH);
        // UDP coalescing only where the TUN accepted USO (it must then take UDP GSO writes).
        coalescer.set_udp_gro(self.offloads.uso);
        TunWriter { queues: self.queues.clone(), vnet_hdr: self.offloads.vnet_hdr, coalescer }
    }

    fn link_mtu(&self) -> LinkMtu {
        match self.queues[0].mtu() {
            Ok(mtu) => LinkMtu::Is(mtu),
            Err(e) if e.raw_os_error() == Some(ENODEV) => LinkMtu::Gone,
            Err(_) => LinkMtu::Fixed,
        }
    }

    fn info(&self) -> PacketSideInfo {
        PacketSideInfo {
            kind: "tun",
            queues: self.queues.len(),
            vnet_hdr: self.offloads.vnet_hdr,
            tso: self.offloads.tso,
            uso: self.offloads.uso,
        }
    }
}

/// Linux's ENODEV: what asking a deleted interface for its MTU fails with.
const ENODEV: i32 = 19;

/// Reads one TUN queue.
pub struct TunReader {
    tun: Arc<Tun>,
    vnet_hdr: bool,
    /// With offloads: the virtio-net header and the (super-)packet, before segmentation.
    rx: Vec<u8>,
    /// A super-packet in `rx` with more segments than one batch holds: its length, header and
    /// the next segment to write. The next read continues it before reading the TUN again.
    rest: Option<(usize, VirtioNetHdr, usize)>,
}

impl TunReader {
    /// Segments `rx[..n]` from segment `first` into `batch`.
    fn segment(&mut self, n: usize, hdr: VirtioNetHdr, first: usize, batch: &mut PacketBatch) -> io::Result<usize> {
        let (bufs, lens) = batch.buffers_mut();
        let packet = &self.rx[VIRTIO_NET_HDR_LEN..n.max(VIRTIO_NET_HDR_LEN)];
        match segment_from(&hdr, packet, first, bufs, 0, lens) {
            Ok((written, total)) => {
                self.rest = (first + written < total).then_some((n, hdr, first + written));
                batch.set_len(written);
                Ok(written)
            }
            Err(e) => {
                tracing::debug!(error = %e, "unsegmentable TUN packet dropped");
                Ok(0)
            }
        }
    }
}

impl PacketReader for TunReader {
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut SourceFd(&self.tun.as_raw_fd()), token, Interest::READABLE)
    }

    fn read(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        batch.clear();
        if !self.vnet_hdr {
            let (bufs, lens) = batch.buffers_mut();
            // Without offloads a read is one packet: straight into the batch, no copy.
            let n = self.tun.recv(&mut bufs[0])?;
            lens[0] = n;
            batch.set_len(1);
            return Ok(1);
        }
        if let Some((n, hdr, next)) = self.rest.take() {
            return self.segment(n, hdr, next, batch);
        }
        let n = self.tun.recv(&mut self.rx)?;
        let Some(hdr) = self.rx.get(..VIRTIO_NET_HDR_LEN).and_then(|b| VirtioNetHdr::parse(b).ok()) else {
            return Ok(0);
        };
        self.segment(n, hdr, 0, batch)
    }
}

/// Writes decrypted packets to a TUN interface, coalesced, each on its flow's queue.
pub struct TunWriter {
    queues: Vec<Arc<Tun>>,
    vnet_hdr: bool,
    coalescer: Coalescer,
}

impl PacketWriter for TunWriter {
    fn write(&mut self, batch: &mut DeliveryBatch) -> u64 {
        let count = batch.len();
        if count == 0 {
            return 0;
        }
        let (bufs, lens) = batch.parts_mut();
        let writes = if !self.vnet_hdr {
            for (buf, &len) in bufs.iter().zip(lens.iter()) {
                let packet = &buf[DELIVERY_HEADROOM..DELIVERY_HEADROOM + len];
                write_on_flow_queue(&self.queues, packet, packet);
            }
            count as u64
        } else {
            match self.coalescer.coalesce(bufs, lens, DELIVERY_HEADROOM) {
                Ok(writes) => {
                    for &i in writes {
                        let start = DELIVERY_HEADROOM - VIRTIO_NET_HDR_LEN;
                        let end = DELIVERY_HEADROOM + lens[i];
                        write_on_flow_queue(&self.queues, &bufs[i][start..end], &bufs[i][DELIVERY_HEADROOM..end]);
                    }
                    writes.len() as u64
                }
                Err(e) => {
                    tracing::debug!(error = %e, "coalescing refused a batch");
                    0
                }
            }
        };
        batch.clear();
        writes
    }
}

/// Writes `bytes` (the IP packet `packet`, maybe behind a virtio-net header) on the queue its
/// flow hashes to: the kernel then hands that flow's outgoing packets to the same queue's
/// reader, so both directions of a flow meet on one lane (see `flow_queue`).
fn write_on_flow_queue(queues: &[Arc<Tun>], bytes: &[u8], packet: &[u8]) {
    let Some(tun) = queues.get(flow_queue(packet, queues.len())) else { return };
    if let Err(e) = tun.send(bytes) {
        tracing::debug!(error = %e, "TUN write failed");
    }
}
