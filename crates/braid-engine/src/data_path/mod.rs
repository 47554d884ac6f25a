//! Moving packets between the packet side and the underlay with as few system calls and
//! locks as both allow.
//!
//! Outbound: one read of the packet side is a batch (a TUN super-packet cut into MTU-sized
//! packets, or packets an application queued); the device routes and numbers the whole batch
//! under one lock, each packet is sealed into one contiguous send buffer, and runs of
//! equal-sized datagrams to one endpoint leave as one message each (UDP GSO), all in one
//! underlay send. Inbound: one receive is a batch of messages, each possibly a run of
//! datagrams (UDP GRO); each message's datagrams are looked up, opened in place and finished
//! under one lock, and the decrypted packets are handed to the packet side in batches (which a
//! TUN writer coalesces per flow). Without offloads every step degrades to one packet per
//! system call, through the same code.

mod crypto;
mod send;
mod stats;

pub use crypto::crypto_pool;
pub use stats::DataPathStats;

use crate::handshake_queue::MAX_HANDSHAKE_MESSAGE;
use crate::packet_side::{
    DeliveryBatch, PacketBatch, PacketReader, PacketWriter, MAX_PACKET, MAX_PACKETS_PER_READ, PACKET_ROOM,
};
use crate::shared::Shared;
use crate::underlay::Underlay;
use braid_proto::{is_transport, Instant, OpenJob, SealJob};
use crypto::{open_all, seal_all, OpenResult};
use send::{send_one, send_pending, Pending, SendScratch};
use std::io;
use std::sync::Arc;

/// Reads from one source in one turn of the loop. Small enough that the other direction
/// (ACKs, pings) waits at most a few super-packets' worth of work.
pub const READS_PER_TURN: usize = 16;
/// Sealed bytes that are worth a send of their own: a super-packet leaves at once, while
/// small packets from several reads gather into one send.
const SEND_EARLY_BYTES: usize = 32 * 1024;
/// Room a sealed packet may need beyond its plaintext: the transport header and tag, and
/// padding to 16 bytes.
const SEAL_ROOM: usize = 64;

/// What a drain left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// The source is empty: wait for its next readiness event.
    Empty,
    /// The turn's budget ran out first: come back without waiting.
    More,
    /// The packet side is gone.
    Gone,
}

/// One data-path thread's reusable buffers and state; nothing is allocated per packet.
pub struct DataPath<U: Underlay> {
    /// Counters since start.
    pub stats: DataPathStats,
    packets: PacketBatch,
    send_buf: Vec<u8>,
    pending: Vec<Pending>,
    jobs: Vec<(SealJob, usize)>,
    send_scratch: SendScratch<U::SendBuf>,
    open_jobs: Vec<Option<OpenJob>>,
    opened: Vec<OpenResult>,
    recv: U::RecvBuf,
    delivery: DeliveryBatch,
    tx: Vec<u8>,
    crypto_pool: Option<Arc<rayon::ThreadPool>>,
}

impl<U: Underlay> DataPath<U> {
    /// Buffers for one thread using `underlay`; the AEAD of large batches runs on
    /// `crypto_pool` when there is one.
    pub fn new(underlay: &U, crypto_pool: Option<Arc<rayon::ThreadPool>>) -> DataPath<U> {
        DataPath {
            stats: DataPathStats::default(),
            packets: PacketBatch::new(),
            // Two reads' worth of sealed datagrams: small packets of several reads share it.
            send_buf: vec![0; 2 * (MAX_PACKET + MAX_PACKETS_PER_READ * (PACKET_ROOM + SEAL_ROOM))],
            pending: Vec::with_capacity(2 * MAX_PACKETS_PER_READ),
            jobs: Vec::with_capacity(MAX_PACKETS_PER_READ),
            send_scratch: SendScratch::new(underlay.send_buf()),
            open_jobs: Vec::with_capacity(MAX_PACKETS_PER_READ),
            opened: Vec::with_capacity(MAX_PACKETS_PER_READ),
            recv: underlay.recv_buf(),
            delivery: DeliveryBatch::new(),
            tx: vec![0; MAX_PACKET + SEAL_ROOM],
            crypto_pool,
        }
    }

    /// Sends what the device queued (handshakes, keepalives, staged packets).
    pub fn flush_device(&mut self, now: Instant, shared: &Shared<U>, underlay: &U) {
        loop {
            let (t, ticket) = {
                let mut device = shared.device();
                let Some(t) = device.poll_transmit(now, &mut self.tx) else { return };
                (t, shared.send_order().map(|order| order.take(&device)))
            };
            if let Some(ticket) = &ticket {
                ticket.wait();
            }
            send_one(underlay, shared, &self.tx[..t.len], t);
        }
    }

    fn send(&mut self, shared: &Shared<U>, underlay: &U) {
        self.stats.underlay_sends +=
            send_pending(underlay, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
    }

    /// Reads one queue of the packet side for one turn: the device routes and numbers each
    /// read's packets under one lock (and is locked once more only if that queued a handshake
    /// or keepalive); the AEAD (on all cores for large batches) and the sends run unlocked.
    pub fn drain_packets<R: PacketReader>(
        &mut self,
        now: Instant,
        reader: &mut R,
        shared: &Shared<U>,
        underlay: &U,
    ) -> Drained {
        for _ in 0..READS_PER_TURN {
            let count = match reader.read(&mut self.packets) {
                Ok(0) => {
                    self.stats.unusable_reads += 1;
                    continue;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.send(shared, underlay);
                    return Drained::Empty;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::info!(error = %e, "packet side read failed: it is gone");
                    return Drained::Gone;
                }
            };
            self.stats.packet_reads += 1;
            self.stats.packets_read += count as u64;
            // Datagrams of several reads share one send buffer, so small packets to one peer
            // still leave in runs; send first if this read might not fit.
            let worst: usize = (0..count).map(|i| sealed_len_bound(self.packets.packet(i).len())).sum();
            let mut used = self.pending.last().map_or(0, |p| p.start + p.len);
            if used + worst > self.send_buf.len() || self.pending.len() + count > 2 * MAX_PACKETS_PER_READ {
                self.send(shared, underlay);
                used = 0;
            }
            // The device decides (route, session, counter) in order; the AEAD runs after.
            self.jobs.clear();
            let first = used;
            let (ticket, queued) = {
                let mut device = shared.device();
                // With lanes, this read's datagrams leave in their counters' turn (and at once:
                // nothing waits in `pending` across reads while the others hold their turn).
                let ticket = shared.send_order().map(|order| order.take(&device));
                for i in 0..count {
                    let packet = self.packets.packet(i);
                    if let Ok(Some(job)) = device.prepare_seal(now, packet) {
                        debug_assert!(job.len <= sealed_len_bound(packet.len()));
                        self.pending.push(Pending { to: job.to, peer: job.peer, start: used, len: job.len });
                        used += job.len;
                        self.jobs.push((job, i));
                    }
                }
                (ticket, device.has_transmit())
            };
            let packets = &self.packets;
            seal_all(self.crypto_pool.as_deref(), &self.jobs, |i| packets.packet(i), &mut self.send_buf[first..used]);
            if let Some(ticket) = ticket {
                ticket.wait();
                self.send(shared, underlay);
            } else if used - self.pending.first().map_or(0, |p| p.start) >= SEND_EARLY_BYTES {
                self.send(shared, underlay);
            }
            // Handshakes and staged packets the device queued go out with the batch.
            if queued {
                self.flush_device(now, shared, underlay);
            }
        }
        self.send(shared, underlay);
        Drained::More
    }

    /// Receives from one underlay source for one turn: opens every datagram and hands the
    /// packets to `writer` in batches.
    pub fn drain_datagrams<W: PacketWriter>(
        &mut self,
        now: Instant,
        source: usize,
        writer: &mut W,
        shared: &Shared<U>,
        underlay: &U,
    ) -> Drained {
        let mut result = Drained::More;
        for _ in 0..READS_PER_TURN {
            let count = match underlay.recv(source, &mut self.recv) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    result = Drained::Empty;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface as ECONNREFUSED etc. on the next receive: ignore them.
                Err(_) => continue,
            };
            let mut queued = false;
            for message in 0..count {
                let Some((arrival, bytes)) = U::message(&mut self.recv, message) else { break };
                self.stats.underlay_messages += 1;
                let from = arrival.endpoint();
                // A GRO run is datagrams of one size (the last may be shorter).
                let size = arrival.segment_size.unwrap_or(bytes.len()).max(1);
                // In order: find each datagram's session. Handshake messages (which never carry
                // an IP packet) go to the handshake worker's queue, so their cryptography never
                // holds up transport data nor the reading of the socket; anything else that is
                // not transport and too long to be a handshake, the device drops at once.
                self.open_jobs.clear();
                let mut device = shared.device();
                for datagram in bytes.chunks_mut(size) {
                    self.stats.underlay_datagrams += 1;
                    if is_transport(datagram) {
                        self.open_jobs.push(device.prepare_open(now, datagram).ok());
                    } else {
                        if datagram.len() > MAX_HANDSHAKE_MESSAGE {
                            let _ = device.handle_datagram(now, from, datagram);
                        } else {
                            // A full queue drops it (and counts it), as the kernel's does.
                            shared.handshakes().push(from, datagram);
                        }
                        self.open_jobs.push(None);
                    }
                }
                // The AEAD (on the pool for a large run, where there is one), with the device
                // released only if lanes need it meanwhile: alone, one lock per message.
                self.opened.clear();
                self.opened.resize(self.open_jobs.len(), None);
                if shared.send_order().is_some() {
                    drop(device);
                    open_all(self.crypto_pool.as_deref(), bytes, size, &self.open_jobs, &mut self.opened);
                    device = shared.device();
                } else {
                    open_all(self.crypto_pool.as_deref(), bytes, size, &self.open_jobs, &mut self.opened);
                }
                // In order again: replay windows, roaming, timers, then gather for delivery.
                for (k, datagram) in bytes.chunks_mut(size).enumerate() {
                    let (Some(job), Some(opened)) = (&self.open_jobs[k], self.opened[k]) else { continue };
                    let Ok(Some(decrypted)) = device.finish_open(now, from, job, datagram, opened) else { continue };
                    self.delivery.push(&datagram[decrypted.packet]);
                    if self.delivery.is_full() {
                        // Written with the device still locked: once per batch, cheaper than
                        // giving the lock up and taking it again.
                        self.stats.packet_writes += writer.write(&mut self.delivery);
                    }
                }
                queued |= device.has_transmit();
            }
            // Handshake answers, cookie replies, keepalives and staged packets the datagrams
            // released.
            if queued {
                self.flush_device(now, shared, underlay);
            }
        }
        self.stats.packet_writes += writer.write(&mut self.delivery);
        result
    }
}

/// A bound on the sealed size of an IP packet of `len` bytes: the transport header and tag
/// plus padding to 16 (the device pads less near the MTU), known without asking the device.
fn sealed_len_bound(len: usize) -> usize {
    braid_proto::device::TRANSPORT_OVERHEAD + len.next_multiple_of(16)
}
