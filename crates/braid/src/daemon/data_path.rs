//! Moving packets between TUN and UDP with as few system calls as the kernel allows.
//!
//! Outbound: one TUN read may be a 64 KiB TCP (or UDP) super-packet (TSO/USO through the
//! virtio-net header); it is cut into MTU-sized packets, each is sealed by the device into one
//! contiguous send buffer, and runs of equal-sized datagrams to one endpoint leave in one
//! `sendmsg` (UDP GSO). Inbound: one `recvmsg` may return a run of datagrams (UDP GRO); each
//! is opened in place, and the decrypted packets of a batch are merged per TCP flow (GRO for
//! TUN) into as few TUN writes as possible. Without the offloads every step degrades to one
//! packet per syscall, through the same code.

use braid_io::offload::{segment, Coalescer, VirtioNetHdr, VIRTIO_NET_HDR_LEN};
use braid_io::udp::{Family, RecvBatch, SendBatch};
use braid_io::{Tun, UdpSockets};
use braid_proto::{is_transport, Endpoint, Instant, OpenJob, PeerId, SealJob, Transmit};
use rayon::prelude::*;
use std::io;
use std::sync::Arc;

use super::flow_queue::flow_queue;
use super::shared::Shared;

/// Segments one TUN read can produce: a 64 KiB super-packet cut at IPv4's minimum MSS (536).
const MAX_SEGMENTS: usize = 128;
/// Room for one segment of a super-packet (TSO only on MTUs up to this; a larger MTU still
/// works, one packet per read).
const SEGMENT_ROOM: usize = 16384;
/// Largest IP packet.
const MAX_PACKET: usize = 65535;
/// Messages (each possibly a GRO run) per `recvmmsg`: `BRAID_RECV_BATCH` if set (1 is one
/// `recvmsg`'s worth), else 8.
fn recv_messages() -> usize {
    std::env::var("BRAID_RECV_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(8).clamp(1, 64)
}
/// Decrypted packets gathered before one coalesce-and-write.
const TUN_BATCH: usize = 64;
/// Headroom before each packet in the TUN write buffers, for the virtio-net header.
const TUN_HEADROOM: usize = 16;
/// Reads from one source in one turn of the event loop. Small enough that the other direction
/// (ACKs, pings) waits at most a few super-packets' worth of work.
pub const READS_PER_TURN: usize = 16;
/// Sealed bytes that are worth a send of their own: a TSO read leaves at once, while small
/// packets (no TSO) from several reads gather into one GSO send.
const SEND_EARLY_BYTES: usize = 32 * 1024;

/// What a drain left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// The source is empty: wait for its next readiness event.
    Empty,
    /// The turn's budget ran out first: come back without waiting.
    More,
    /// The TUN interface is gone.
    Gone,
}

/// One datagram sealed into the send buffer, waiting to leave in a batch.
#[derive(Clone, Copy)]
struct Pending {
    to: Endpoint,
    peer: PeerId,
    start: usize,
    len: usize,
}

/// How well batching works: syscalls against packets, for `braid show`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataPathStats {
    /// TUN reads that returned a packet.
    pub tun_reads: u64,
    /// IP packets those reads held after segmentation.
    pub tun_packets: u64,
    /// UDP sends (each may carry a GSO batch).
    pub udp_sends: u64,
    /// UDP receives (each may hold a GRO run).
    pub udp_recvs: u64,
    /// Datagrams those receives held.
    pub udp_datagrams: u64,
    /// TUN writes (each may be a coalesced super-packet).
    pub tun_writes: u64,
}

impl DataPathStats {
    /// The two sets of counters added up (for several lanes).
    pub fn plus(&self, other: &DataPathStats) -> DataPathStats {
        DataPathStats {
            tun_reads: self.tun_reads + other.tun_reads,
            tun_packets: self.tun_packets + other.tun_packets,
            udp_sends: self.udp_sends + other.udp_sends,
            udp_recvs: self.udp_recvs + other.udp_recvs,
            udp_datagrams: self.udp_datagrams + other.udp_datagrams,
            tun_writes: self.tun_writes + other.tun_writes,
        }
    }
}

/// The data path's reusable buffers and state; nothing is allocated per packet.
pub struct DataPath {
    /// Counters since start.
    pub stats: DataPathStats,
    vnet_hdr: bool,
    tun_rx: Vec<u8>,
    segments: Vec<Vec<u8>>,
    segment_sizes: Vec<usize>,
    send_buf: Vec<u8>,
    pending: Vec<Pending>,
    jobs: Vec<(SealJob, usize)>,
    send_scratch: SendScratch,
    open_jobs: Vec<Option<OpenJob>>,
    opened: Vec<Opened>,
    udp_rx: RecvBatch,
    tun_bufs: Vec<Vec<u8>>,
    tun_lens: Vec<usize>,
    coalescer: Coalescer,
    tx: Vec<u8>,
    crypto_pool: Option<Arc<rayon::ThreadPool>>,
}

/// Threads for the AEAD: `BRAID_CRYPTO_THREADS` if set (1 = on the event-loop thread only),
/// else all cores on machines with at least 4 and none below. Measured on the 2-core project
/// machine, where the kernel, the other daemon and iperf3 need the second core, sharing the
/// AEAD cost 28 % of single-stream throughput (3.6 against 5.0 Gbit/s): it only pays where
/// cores are spare.
pub fn crypto_pool() -> Option<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match std::env::var("BRAID_CRYPTO_THREADS").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => n,
        None if cores >= 4 => cores,
        None => 1,
    };
    if threads < 2 {
        return None;
    }
    rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("braid-crypto-{i}")).build().ok()
}

impl DataPath {
    /// Buffers for a TUN device opened with (`vnet_hdr`) or without offloads; `udp_gro`
    /// enables UDP coalescing on TUN writes (only when the TUN accepted USO). The AEAD of
    /// large batches runs on `crypto_pool` when there is one (see [`crypto_pool`]).
    pub fn new(vnet_hdr: bool, udp_gro: bool, crypto_pool: Option<Arc<rayon::ThreadPool>>) -> DataPath {
        let mut coalescer = Coalescer::with_capacity(TUN_BATCH);
        coalescer.set_udp_gro(udp_gro);
        DataPath {
            stats: DataPathStats::default(),
            vnet_hdr,
            tun_rx: vec![0; VIRTIO_NET_HDR_LEN + MAX_PACKET],
            // The first also takes whole packets read without offloads, so it holds any size.
            segments: (0..MAX_SEGMENTS).map(|i| vec![0; if i == 0 { MAX_PACKET } else { SEGMENT_ROOM }]).collect(),
            segment_sizes: vec![0; MAX_SEGMENTS],
            send_buf: vec![0; 2 * (MAX_PACKET + MAX_SEGMENTS * (SEGMENT_ROOM + 64))],
            pending: Vec::with_capacity(MAX_SEGMENTS),
            jobs: Vec::with_capacity(MAX_SEGMENTS),
            send_scratch: SendScratch::default(),
            open_jobs: Vec::with_capacity(MAX_SEGMENTS),
            opened: Vec::with_capacity(MAX_SEGMENTS),
            udp_rx: RecvBatch::new(recv_messages(), MAX_PACKET + 1),
            tun_bufs: (0..TUN_BATCH).map(|_| vec![0; TUN_HEADROOM + MAX_PACKET]).collect(),
            tun_lens: vec![0; TUN_BATCH],
            coalescer,
            tx: vec![0; MAX_PACKET + 64],
            crypto_pool,
        }
    }

    /// Sends what the device queued (handshakes, keepalives, staged packets).
    pub fn flush_device(&mut self, now: Instant, shared: &Shared, udp: &UdpSockets) {
        loop {
            let (t, ticket) = {
                let mut device = shared.device();
                let Some(t) = device.poll_transmit(now, &mut self.tx) else { return };
                (t, shared.send_order().map(|order| order.take(&device)))
            };
            if let Some(ticket) = &ticket {
                ticket.wait();
            }
            send_one(udp, shared, &self.tx[..t.len], t);
        }
    }

    /// Reads TUN (one queue of it) for one turn: segments, seals (on all cores for large
    /// batches) and sends in GSO batches. The device is locked once per read, to route and
    /// number that read's packets (and once more only if that queued a handshake or keepalive);
    /// the AEAD and the sends run unlocked.
    pub fn drain_tun(&mut self, now: Instant, tun: &Tun, shared: &Shared, udp: &UdpSockets) -> Drained {
        for _ in 0..READS_PER_TURN {
            let read = if self.vnet_hdr { tun.recv(&mut self.tun_rx) } else { tun.recv(&mut self.segments[0]) };
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.udp_sends +=
                        send_pending(udp, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
                    return Drained::Empty;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::info!(error = %e, "TUN read failed: interface gone");
                    return Drained::Gone;
                }
            };
            self.stats.tun_reads += 1;
            let count = if self.vnet_hdr {
                let Some(hdr) = self.tun_rx.get(..VIRTIO_NET_HDR_LEN).and_then(|b| VirtioNetHdr::parse(b).ok()) else {
                    continue;
                };
                let packet = &self.tun_rx[VIRTIO_NET_HDR_LEN..n.max(VIRTIO_NET_HDR_LEN)];
                match segment(&hdr, packet, &mut self.segments, 0, &mut self.segment_sizes) {
                    Ok(count) => count,
                    Err(e) => {
                        tracing::debug!(error = %e, "unsegmentable TUN packet dropped");
                        continue;
                    }
                }
            } else {
                self.segment_sizes[0] = n;
                1
            };
            self.stats.tun_packets += count as u64;
            // Datagrams of several reads share one send buffer, so small packets (no TSO) to
            // one peer still leave in GSO runs; send first if this read might not fit.
            let worst: usize = self.segment_sizes[..count].iter().map(|&n| sealed_len_bound(n)).sum();
            let mut used = self.pending.last().map_or(0, |p| p.start + p.len);
            if used + worst > self.send_buf.len() || self.pending.len() + count > 2 * MAX_SEGMENTS {
                self.stats.udp_sends +=
                    send_pending(udp, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
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
                    let packet = &self.segments[i][..self.segment_sizes[i]];
                    if let Ok(Some(job)) = device.prepare_seal(now, packet) {
                        debug_assert!(job.len <= sealed_len_bound(packet.len()));
                        self.pending.push(Pending { to: job.to, peer: job.peer, start: used, len: job.len });
                        used += job.len;
                        self.jobs.push((job, i));
                    }
                }
                (ticket, device.has_transmit())
            };
            seal_all(
                self.crypto_pool.as_deref(),
                &self.jobs,
                &self.segments,
                &self.segment_sizes,
                &mut self.send_buf[first..used],
            );
            if let Some(ticket) = ticket {
                ticket.wait();
                self.stats.udp_sends +=
                    send_pending(udp, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
            } else if used - self.pending.first().map_or(0, |p| p.start) >= SEND_EARLY_BYTES {
                self.stats.udp_sends +=
                    send_pending(udp, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
            }
            // Handshakes and staged packets the device queued go out with the batch.
            if queued {
                self.flush_device(now, shared, udp);
            }
        }
        self.stats.udp_sends += send_pending(udp, shared, &self.send_buf, &mut self.pending, &mut self.send_scratch);
        Drained::More
    }

    /// Reads one UDP socket for one turn: opens every datagram and writes the packets to TUN,
    /// coalesced.
    pub fn drain_udp(
        &mut self,
        now: Instant,
        family: Family,
        queues: &[Arc<Tun>],
        shared: &Shared,
        udp: &UdpSockets,
    ) -> Drained {
        let mut gathered = 0;
        let mut result = Drained::More;
        for _ in 0..READS_PER_TURN {
            let count = match udp.recv_many(family, &mut self.udp_rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    result = Drained::Empty;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface as ECONNREFUSED etc. on the next read: ignore them.
                Err(_) => continue,
            };
            let mut queued = false;
            for message in 0..count {
                let Some((r, bytes)) = self.udp_rx.get(message) else { break };
                self.stats.udp_recvs += 1;
                let from = Endpoint { addr: r.from, local: r.local };
                // A GRO run is datagrams of one size (the last may be shorter).
                let size = r.segment_size.unwrap_or(bytes.len()).max(1);
                // In order: find each datagram's session; handshake messages (which never carry
                // an IP packet) are handled right here.
                self.open_jobs.clear();
                let mut device = shared.device();
                for datagram in bytes.chunks_mut(size) {
                    self.stats.udp_datagrams += 1;
                    if is_transport(datagram) {
                        self.open_jobs.push(device.prepare_open(now, datagram).ok());
                    } else {
                        let _ = device.handle_datagram(now, from, datagram);
                        self.open_jobs.push(None);
                    }
                }
                // The AEAD (on the crypto pool for a large run, where there is one), with the
                // device released only if lanes need it meanwhile: alone, one lock per message.
                self.opened.clear();
                self.opened.resize(self.open_jobs.len(), None);
                if shared.send_order().is_some() {
                    drop(device);
                    open_all(self.crypto_pool.as_deref(), bytes, size, &self.open_jobs, &mut self.opened);
                    device = shared.device();
                } else {
                    open_all(self.crypto_pool.as_deref(), bytes, size, &self.open_jobs, &mut self.opened);
                }
                // In order again: replay windows, roaming, timers, then gather for TUN.
                for (k, datagram) in bytes.chunks_mut(size).enumerate() {
                    let (Some(job), Some(opened)) = (&self.open_jobs[k], self.opened[k]) else { continue };
                    let Ok(Some(received)) = device.finish_open(now, from, job, datagram, opened) else { continue };
                    let packet = received.packet;
                    let bytes = &datagram[packet];
                    let buf = &mut self.tun_bufs[gathered];
                    buf[TUN_HEADROOM..TUN_HEADROOM + bytes.len()].copy_from_slice(bytes);
                    self.tun_lens[gathered] = bytes.len();
                    gathered += 1;
                    if gathered == TUN_BATCH {
                        // Written with the device still locked: once per 64 packets, cheaper
                        // than giving the lock up and taking it again.
                        self.stats.tun_writes += write_batch(
                            queues,
                            self.vnet_hdr,
                            &mut self.coalescer,
                            &mut self.tun_bufs,
                            &mut self.tun_lens,
                            gathered,
                        );
                        gathered = 0;
                    }
                }
                queued |= device.has_transmit();
            }
            // Handshake answers, cookie replies, keepalives and staged packets the datagrams
            // released.
            if queued {
                self.flush_device(now, shared, udp);
            }
        }
        self.stats.tun_writes +=
            write_batch(queues, self.vnet_hdr, &mut self.coalescer, &mut self.tun_bufs, &mut self.tun_lens, gathered);
        result
    }
}

/// Writes the first `count` gathered packets to TUN, coalesced when TUN takes a vnet header,
/// each on its flow's queue (see [`flow_queue`]); returns the number of writes.
fn write_batch(
    queues: &[Arc<Tun>],
    vnet_hdr: bool,
    coalescer: &mut Coalescer,
    bufs: &mut [Vec<u8>],
    lens: &mut [usize],
    count: usize,
) -> u64 {
    if count == 0 {
        return 0;
    }
    if !vnet_hdr {
        for i in 0..count {
            let packet = &bufs[i][TUN_HEADROOM..TUN_HEADROOM + lens[i]];
            write_tun(queues, packet, packet);
        }
        return count as u64;
    }
    let writes = match coalescer.coalesce(&mut bufs[..count], &mut lens[..count], TUN_HEADROOM) {
        Ok(writes) => writes,
        Err(e) => {
            tracing::debug!(error = %e, "coalescing refused a batch");
            return 0;
        }
    };
    for &i in writes {
        let start = TUN_HEADROOM - VIRTIO_NET_HDR_LEN;
        write_tun(queues, &bufs[i][start..TUN_HEADROOM + lens[i]], &bufs[i][TUN_HEADROOM..TUN_HEADROOM + lens[i]]);
    }
    writes.len() as u64
}

/// Writes `bytes` (the IP packet `packet`, maybe behind a virtio-net header) on its queue.
fn write_tun(queues: &[Arc<Tun>], bytes: &[u8], packet: &[u8]) {
    let Some(tun) = queues.get(flow_queue(packet, queues.len())) else { return };
    if let Err(e) = tun.send(bytes) {
        tracing::debug!(error = %e, "TUN write failed");
    }
}

/// Batches smaller than this are sealed or opened on the calling thread: spreading them over
/// cores costs more in wake-ups than the AEAD work it shares.
const PARALLEL_MIN: usize = 8;

/// Seals every job into its slot of `out` (consecutive, in job order), on the crypto pool
/// when there is one and the batch is large. Each job's packet is `segments[i][..sizes[i]]`.
fn seal_all(
    pool: Option<&rayon::ThreadPool>,
    jobs: &[(SealJob, usize)],
    segments: &[Vec<u8>],
    sizes: &[usize],
    out: &mut [u8],
) {
    let Some(pool) = pool.filter(|_| jobs.len() >= PARALLEL_MIN) else {
        let mut rest = out;
        for (job, i) in jobs {
            let (slot, tail) = std::mem::take(&mut rest).split_at_mut(job.len);
            rest = tail;
            // Slots are sized by the job itself, so sealing cannot fail.
            let sealed = job.seal(&segments[*i][..sizes[*i]], slot);
            debug_assert!(sealed.is_ok());
        }
        return;
    };
    // The parallel path needs the slots as a list (one small allocation per batch of >= 8).
    let mut work: Vec<(&SealJob, &[u8], &mut [u8])> = Vec::with_capacity(jobs.len());
    let mut rest = out;
    for (job, i) in jobs {
        let (slot, tail) = std::mem::take(&mut rest).split_at_mut(job.len);
        rest = tail;
        work.push((job, &segments[*i][..sizes[*i]], slot));
    }
    pool.install(|| {
        work.par_iter_mut().for_each(|(job, packet, slot)| {
            let sealed = job.seal(packet, slot);
            debug_assert!(sealed.is_ok());
        })
    });
}

/// What opening one datagram gave: `None` when it had no job (a handshake, or no session).
type Opened = Option<Result<usize, braid_proto::DropReason>>;

/// Opens every transport datagram (the `size`-byte chunks of `run`) that has a job, on the
/// crypto pool when there is one and the run is large.
fn open_all(
    pool: Option<&rayon::ThreadPool>,
    run: &mut [u8],
    size: usize,
    jobs: &[Option<OpenJob>],
    results: &mut [Opened],
) {
    fn open(((datagram, job), result): ((&mut [u8], &Option<OpenJob>), &mut Opened)) {
        *result = job.as_ref().map(|job| job.open(datagram));
    }
    match pool {
        Some(pool) if jobs.iter().filter(|j| j.is_some()).count() >= PARALLEL_MIN => {
            pool.install(|| run.par_chunks_mut(size).zip(jobs.par_iter()).zip(results.par_iter_mut()).for_each(open))
        }
        _ => run.chunks_mut(size).zip(jobs.iter()).zip(results.iter_mut()).for_each(open),
    }
}

/// Sends the sealed datagrams: each run to one endpoint with one size (the last may be
/// shorter) goes as one GSO batch. Returns the number of sends.
fn send_pending(
    udp: &UdpSockets,
    shared: &Shared,
    send_buf: &[u8],
    pending: &mut Vec<Pending>,
    scratch: &mut SendScratch,
) -> u64 {
    let SendScratch { batch, peers, rejected } = scratch;
    batch.clear();
    peers.clear();
    rejected.clear();
    let mut i = 0;
    while i < pending.len() {
        let first = pending[i];
        let (j, bytes) = gso_run(pending, i);
        batch.push(first.start..first.start + bytes, first.to.addr, first.to.local, u16::try_from(first.len).ok());
        peers.push(first.peer);
        i = j;
    }
    // All runs of this batch in one sendmmsg (each run one GSO send).
    udp.send_many(send_buf, batch, rejected);
    if !rejected.is_empty() {
        let mut device = shared.device();
        for &k in rejected.iter() {
            tracing::debug!("source address gone: kernel's choice used");
            device.clear_endpoint_source(peers[k]);
        }
    }
    pending.clear();
    batch.len() as u64
}

/// Reusable space for [`send_pending`]: nothing is allocated per send once warmed up.
#[derive(Default)]
struct SendScratch {
    batch: SendBatch,
    peers: Vec<PeerId>,
    rejected: Vec<usize>,
}

/// Largest UDP payload one GSO send carries here (under the 65507-byte limit).
const MAX_GSO_BYTES: usize = 65000;

/// The run of datagrams starting at `i` that can leave in one GSO send: same endpoint,
/// adjacent in the buffer, all the size of the first except a shorter last one, at most 64
/// and [`MAX_GSO_BYTES`]. Returns the index after the run and its byte length.
fn gso_run(pending: &[Pending], i: usize) -> (usize, usize) {
    let first = pending[i];
    let mut j = i + 1;
    let mut bytes = first.len;
    while j < pending.len()
        && j - i < braid_io::udp::MAX_GSO_SEGMENTS
        && pending[j].to == first.to
        && pending[j].start == pending[j - 1].start + pending[j - 1].len
        && pending[j].len <= first.len
        && pending[j - 1].len == first.len
        && bytes + pending[j].len <= MAX_GSO_BYTES
    {
        bytes += pending[j].len;
        j += 1;
    }
    (j, bytes)
}

/// A bound on the sealed size of an IP packet of `len` bytes: the transport header and tag
/// plus padding to 16 (the device pads less near the MTU), known without asking the device.
fn sealed_len_bound(len: usize) -> usize {
    braid_proto::device::TRANSPORT_OVERHEAD + len.next_multiple_of(16)
}

/// Sends one datagram the device queued, forgetting a source address the OS refused.
pub fn send_one(udp: &UdpSockets, shared: &Shared, bytes: &[u8], t: Transmit) {
    match udp.send_from(bytes, t.to.addr, t.to.local) {
        Ok(sent) if sent.source_rejected => {
            tracing::debug!(source = ?t.to.local, to = %t.to.addr, "source address gone: kernel's choice used");
            if let Some(peer) = t.peer {
                shared.device().clear_endpoint_source(peer);
            }
        }
        Ok(_) => {}
        // A full socket buffer or an unreachable network drops the packet, as the kernel does.
        Err(e) => tracing::trace!(error = %e, to = %t.to.addr, "send failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use braid_proto::{Device, DeviceConfig, PeerConfig};

    fn peer() -> PeerId {
        let mut d = Device::new(
            DeviceConfig::default(),
            Instant::ZERO,
            core::time::Duration::ZERO,
            Box::new(<rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1)),
        );
        d.add_peer(PeerConfig::new(braid_proto::crypto::PublicKey([9; 32]))).unwrap()
    }

    fn run(lens: &[(usize, u8)]) -> Vec<(usize, usize)> {
        let id = peer();
        let mut pending = Vec::new();
        let mut start = 0;
        for &(len, host) in lens {
            let to = Endpoint::from(std::net::SocketAddr::from(([198, 18, 0, host], 51820)));
            pending.push(Pending { to, peer: id, start, len });
            start += len;
        }
        let mut runs = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            let (j, bytes) = gso_run(&pending, i);
            assert!(j > i);
            runs.push((j - i, bytes));
            i = j;
        }
        runs
    }

    #[test]
    fn runs_break_on_destination_size_and_limits() {
        // Equal sizes with a shorter tail: one send.
        assert_eq!(run(&[(1452, 2), (1452, 2), (700, 2)]), vec![(3, 3604)]);
        // A shorter datagram mid-run ends it (only the last may be shorter).
        assert_eq!(run(&[(1452, 2), (700, 2), (1452, 2)]), vec![(2, 2152), (1, 1452)]);
        // Another destination starts a new run.
        assert_eq!(run(&[(1452, 2), (1452, 3), (1452, 3)]), vec![(1, 1452), (2, 2904)]);
        // A larger datagram after the first starts a new run.
        assert_eq!(run(&[(100, 2), (200, 2)]), vec![(1, 100), (1, 200)]);
        // At most 64 datagrams and 65000 bytes per send.
        assert_eq!(run(&[(100, 2); 130]), vec![(64, 6400), (64, 6400), (2, 200)]);
        assert_eq!(run(&[(1452, 2); 46]), vec![(44, 63888), (2, 2904)]);
    }
}
