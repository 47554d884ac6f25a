//! The engine: the loop that drives one WireGuard device between a packet side and an
//! underlay, and the handle that configures and observes it from other threads.
//!
//! One `mio::Poll` wakes the loop for the first packet-side queue, every underlay source, the
//! device's next timer and the [`EngineHandle`]'s calls; each further packet-side queue has a
//! lane thread of its own, and handshake messages are answered on a thread of their own,
//! fed by a bounded queue (so no flood of them slows transport data). The engine is the device's driver, so it owns the two things a
//! sans-IO core never touches: the clock (device time counts from the engine's start) and
//! the random number generator (seeded from the OS).

use crate::data_path::{crypto_pool, DataPath, DataPathStats, Drained};
use crate::handshake_queue::HandshakeQueueStats;
use crate::handshake_worker::HandshakeWorker;
use crate::lane::{pin_thread, Lane};
use crate::packet_side::{LinkMtu, PacketReader, PacketSide, PacketSideInfo};
use crate::shared::{Shared, UNDERLAY_TOKENS};
use crate::underlay::{Underlay, UnderlayInfo};
use braid_proto::crypto::PublicKey;
use braid_proto::{Device, DeviceConfig, Instant};
use core::net::SocketAddr;
use mio::{Events, Poll, Token, Waker};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const PACKETS: Token = Token(0);
const WAKE: Token = Token(1);
/// How often the loop checks what nobody signals: the packet side's MTU.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Events one subscriber may have waiting before it misses new ones.
const SUBSCRIBER_BACKLOG: usize = 1024;

/// How an engine runs its threads.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Threads for the AEAD: `None` chooses (all cores from 4 cores, else none beyond the
    /// data-path threads themselves); `Some(1)` keeps it on the data-path threads.
    pub crypto_threads: Option<usize>,
    /// Pin the loop and each lane to a CPU of its own.
    pub pin_cpus: bool,
}

impl EngineOptions {
    /// The options the environment asks for: `BRAID_CRYPTO_THREADS=N`, `BRAID_PIN_CPUS=1`.
    pub fn from_env() -> EngineOptions {
        EngineOptions {
            crypto_threads: std::env::var("BRAID_CRYPTO_THREADS").ok().and_then(|v| v.parse().ok()),
            pin_cpus: std::env::var("BRAID_PIN_CPUS").is_ok_and(|v| v == "1"),
        }
    }
}

/// Why an engine stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// [`EngineHandle::stop`] was called.
    Stopped,
    /// The packet side went away (the TUN interface was deleted, the application's end of an
    /// in-process device was dropped).
    PacketSideGone,
}

/// Something that happened to a peer, for applications and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// A handshake completed: a new session carries data.
    HandshakeCompleted {
        /// The peer.
        peer: PublicKey,
        /// Whether this side initiated it.
        initiator: bool,
    },
    /// An authenticated packet came from a new address of the peer (first contact or roam).
    EndpointChanged {
        /// The peer.
        peer: PublicKey,
        /// Its address now.
        endpoint: SocketAddr,
    },
    /// Data went out and nothing came back for 15 s: a new handshake starts.
    PeerSilent {
        /// The peer.
        peer: PublicKey,
    },
    /// 90 s of handshake attempts went unanswered; packets waiting for them were dropped.
    HandshakeGaveUp {
        /// The peer.
        peer: PublicKey,
    },
}

/// The data path's counters and what both sides say about themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Every data-path thread's counters added up.
    pub data_path: DataPathStats,
    /// Each data-path thread's counters (0: the loop, which reads queue 0; i: lane i; last:
    /// the handshake worker).
    pub per_thread: Vec<DataPathStats>,
    /// The queue of handshake messages in front of the handshake worker.
    pub handshake_queue: HandshakeQueueStats,
    /// The packet side.
    pub packet_side: PacketSideInfo,
    /// The underlay in use.
    pub underlay: UnderlayInfo,
}

/// One WireGuard device between a packet side and an underlay.
pub struct Engine<P: PacketSide, U: Underlay> {
    shared: Arc<Shared<U>>,
    packet_side: Arc<P>,
    reader: P::Reader,
    writer: P::Writer,
    poll: Poll,
    events: Events,
    data: DataPath<U>,
    lanes: Vec<Lane>,
    handshake_worker: Option<HandshakeWorker>,
    /// Sources whose last drain stopped at the turn's budget: the first queue, then each
    /// underlay source.
    more_packets: bool,
    more_datagrams: Vec<bool>,
    /// This turn's ready underlay sources (reused: no allocation per turn).
    ready: Vec<bool>,
    next_housekeeping: std::time::Instant,
    pin: bool,
}

impl<P: PacketSide, U: Underlay> Engine<P, U> {
    /// A device configured with `config`, between `packet_side` and `underlay`. Lanes for the
    /// packet side's further queues start now; the loop runs once [`Engine::run`],
    /// [`Engine::spawn`] or [`Engine::turn`] is called. Peers are added through
    /// [`Engine::handle`].
    pub fn new(config: DeviceConfig, packet_side: P, underlay: U, options: &EngineOptions) -> io::Result<Self> {
        use rand_chacha::rand_core::SeedableRng;
        let origin = std::time::Instant::now();
        let rng = rand_chacha::ChaCha20Rng::from_os_rng();
        let mut device = Device::new(config, Instant::ZERO, unix_now(), Box::new(rng));
        // The handshake queue is the load signal from the start (not the message rate).
        device.set_handshake_backlog(Instant::ZERO, 0, crate::handshake_queue::HANDSHAKE_QUEUE_CAPACITY);
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        let pool = crypto_pool(options.crypto_threads).map(Arc::new);
        let mut reader = packet_side.reader(0)?;
        reader.register(poll.registry(), PACKETS)?;
        let writer = packet_side.writer();
        let data = DataPath::new(&underlay, pool.clone());
        let queues = packet_side.queues();
        let info = packet_side.info();
        let shared = Arc::new(Shared::new(device, underlay, registry, waker, origin, queues > 1, info));
        shared.register_underlay()?;
        let mut lanes = Vec::with_capacity(queues.saturating_sub(1));
        for queue in 1..queues {
            let lane_data = DataPath::new(&*shared.underlay(), pool.clone());
            let lane_reader = packet_side.reader(queue)?;
            lanes.push(Lane::spawn(queue, lane_reader, shared.clone(), lane_data, options.pin_cpus)?);
        }
        let handshake_worker = Some(HandshakeWorker::spawn(shared.clone(), queues.max(1))?);
        Ok(Engine {
            shared,
            packet_side: Arc::new(packet_side),
            reader,
            writer,
            poll,
            events: Events::with_capacity(64),
            data,
            lanes,
            handshake_worker,
            more_packets: false,
            more_datagrams: Vec::new(),
            ready: Vec::new(),
            next_housekeeping: std::time::Instant::now(),
            pin: options.pin_cpus,
        })
    }

    /// A handle for configuring and observing the engine from any thread.
    pub fn handle(&self) -> EngineHandle<U> {
        EngineHandle { shared: self.shared.clone() }
    }

    /// The packet side.
    pub fn packet_side(&self) -> &P {
        &self.packet_side
    }

    /// Runs until [`EngineHandle::stop`] or until the packet side goes away.
    pub fn run(mut self) -> io::Result<Exit> {
        if self.pin {
            // Last: threads inherit the CPU mask of their creator, and the lanes exist now.
            pin_thread(0);
        }
        let result = loop {
            match self.turn(None) {
                Ok(Some(exit)) => break Ok(exit),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        self.stop_lanes();
        result
    }

    /// Runs the engine on a thread of its own.
    pub fn spawn(self) -> io::Result<RunningEngine<U>> {
        let handle = self.handle();
        let thread = std::thread::Builder::new().name("braid-engine".into()).spawn(move || self.run())?;
        Ok(RunningEngine { handle, thread })
    }

    /// One turn of the loop, for a caller that runs its own: waits at most `max_wait` (`None`:
    /// until there is work) for readiness or a timer, then does everything that is due.
    /// Returns `Some` once the engine has stopped. Between turns, [`AsRawFd::as_raw_fd`] is a
    /// descriptor that becomes readable when there is work, and [`Engine::next_timeout`] says
    /// how long the engine may wait without it.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Option<Exit>> {
        if self.shared.stopping() {
            return Ok(Some(Exit::Stopped));
        }
        let mut timeout = self.next_timeout();
        if let Some(max) = max_wait {
            timeout = timeout.min(max);
        }
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        }
        let underlay = self.shared.underlay();
        let sources = underlay.sources();
        self.more_datagrams.resize(sources, false);
        let mut packets = self.more_packets;
        self.ready.clear();
        self.ready.extend_from_slice(&self.more_datagrams);
        for event in self.events.iter() {
            match event.token() {
                PACKETS => packets = true,
                Token(t) if t >= UNDERLAY_TOKENS && t - UNDERLAY_TOKENS < sources => {
                    self.ready[t - UNDERLAY_TOKENS] = true
                }
                _ => {}
            }
        }
        if packets {
            let now = self.shared.now();
            match self.data.drain_packets(now, &mut self.reader, &self.shared, &underlay) {
                Drained::Gone => return Ok(Some(Exit::PacketSideGone)),
                drained => self.more_packets = drained == Drained::More,
            }
        }
        for source in 0..sources {
            if self.ready[source] {
                let now = self.shared.now();
                let drained = self.data.drain_datagrams(now, source, &mut self.writer, &self.shared, &underlay);
                self.more_datagrams[source] = drained == Drained::More;
            }
        }
        let now = self.shared.now();
        let flush = {
            let mut device = self.shared.device();
            if device.next_deadline().is_some_and(|d| d <= now) {
                device.poll_timers(now);
            }
            self.shared.publish_events(&mut device);
            device.has_transmit()
        };
        if flush {
            self.data.flush_device(now, &self.shared, &underlay);
        }
        self.shared.publish_stats(0, self.data.stats);
        if std::time::Instant::now() >= self.next_housekeeping {
            self.next_housekeeping = std::time::Instant::now() + HOUSEKEEPING;
            match self.packet_side.link_mtu() {
                LinkMtu::Fixed => {}
                LinkMtu::Gone => return Ok(Some(Exit::PacketSideGone)),
                LinkMtu::Is(mtu) => {
                    let mut device = self.shared.device();
                    if mtu != device.mtu() && device.set_mtu(mtu).is_ok() {
                        tracing::info!(mtu, "packet side MTU changed");
                    }
                }
            }
        }
        Ok(None)
    }

    /// How long the loop may sleep: until the device's next timer or the next housekeeping,
    /// zero when a source has more waiting. Publishes the deadline for lanes (see `Shared`).
    pub fn next_timeout(&self) -> Duration {
        let mut timeout = self.next_housekeeping.saturating_duration_since(std::time::Instant::now());
        let device = self.shared.device();
        let deadline = device.next_deadline();
        if let Some(deadline) = deadline {
            timeout = timeout.min(deadline.saturating_duration_since(self.shared.now()));
        }
        if self.more_packets || self.more_datagrams.iter().any(|&m| m) || device.has_transmit() {
            timeout = Duration::ZERO;
        }
        self.shared.loop_sleeps_until(&device, deadline);
        timeout
    }

    fn stop_lanes(&mut self) {
        self.shared.request_stop();
        for lane in self.lanes.drain(..) {
            lane.stop();
        }
        if let Some(worker) = self.handshake_worker.take() {
            worker.join();
        }
    }
}

impl<P: PacketSide, U: Underlay> AsRawFd for Engine<P, U> {
    /// The poll's descriptor: readable when a source is ready or a handle call woke the engine.
    fn as_raw_fd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }
}

impl<P: PacketSide, U: Underlay> Drop for Engine<P, U> {
    fn drop(&mut self) {
        self.stop_lanes();
    }
}

/// An engine running on its own thread.
pub struct RunningEngine<U: Underlay> {
    handle: EngineHandle<U>,
    thread: JoinHandle<io::Result<Exit>>,
}

impl<U: Underlay> RunningEngine<U> {
    /// The engine's handle.
    pub fn handle(&self) -> &EngineHandle<U> {
        &self.handle
    }

    /// Whether the engine's thread has returned (the packet side went away, or it failed).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Stops the engine and waits for its threads.
    pub fn stop(self) -> io::Result<Exit> {
        self.handle.stop();
        self.join()
    }

    /// Waits for the engine's thread to return.
    pub fn join(self) -> io::Result<Exit> {
        self.thread.join().unwrap_or_else(|_| Err(io::Error::other("the engine thread panicked")))
    }
}

/// Configures and observes an engine from any thread. Cheap to clone.
pub struct EngineHandle<U> {
    shared: Arc<Shared<U>>,
}

impl<U> Clone for EngineHandle<U> {
    fn clone(&self) -> Self {
        EngineHandle { shared: self.shared.clone() }
    }
}

impl<U: Underlay> EngineHandle<U> {
    /// Runs `f` on the device (locked meanwhile), then wakes the loop so that whatever `f`
    /// queued leaves and any timer it set is waited for. `f` gets the device's time now.
    pub fn with_device<R>(&self, f: impl FnOnce(&mut Device, Instant) -> R) -> R {
        let result = {
            let mut device = self.shared.device();
            f(&mut device, self.shared.now())
        };
        self.shared.wake();
        result
    }

    /// Device time now (what [`EngineHandle::with_device`] passes).
    pub fn now(&self) -> Instant {
        self.shared.now()
    }

    /// Moves the underlay to `port` (0: any free port) and returns the port bound. On error
    /// the old underlay stays, untouched; the same port again changes nothing.
    pub fn rebind(&self, port: u16) -> io::Result<u16> {
        self.shared.rebind(port, None)
    }

    /// Changes the listen port and the firewall mark together, as one `wg set` asks: both
    /// change or neither does (a new port is bound with the new mark before anything is
    /// swapped). `None` leaves that one as it is. Returns the port bound.
    pub fn set_port_and_fwmark(&self, port: Option<u16>, fwmark: Option<u32>) -> io::Result<u16> {
        match (port, fwmark) {
            (Some(port), mark) => self.shared.rebind(port, mark),
            (None, Some(mark)) => self.set_fwmark(mark).map(|()| self.listen_port()),
            (None, None) => Ok(self.listen_port()),
        }
    }

    /// The underlay's local port.
    pub fn listen_port(&self) -> u16 {
        self.shared.underlay().port()
    }

    /// The underlay's firewall mark (0: none).
    pub fn fwmark(&self) -> u32 {
        self.shared.underlay().fwmark()
    }

    /// Sets the underlay's firewall mark (0 clears it); on error nothing changed.
    pub fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.shared.underlay().set_fwmark(mark)
    }

    /// The data path's counters and both sides' descriptions.
    pub fn stats(&self) -> EngineStats {
        let per_thread = self.shared.thread_stats();
        let data_path = per_thread.iter().fold(DataPathStats::default(), |sum, s| sum.plus(s));
        EngineStats {
            data_path,
            per_thread,
            handshake_queue: self.shared.handshakes().stats(),
            packet_side: self.shared.packet_side().clone(),
            underlay: self.shared.underlay().info(),
        }
    }

    /// Peer events from now on. A receiver that falls more than 1 024 events behind misses
    /// the newest until it catches up; dropping it unsubscribes.
    pub fn subscribe(&self) -> Receiver<PeerEvent> {
        let (sender, receiver) = sync_channel(SUBSCRIBER_BACKLOG);
        self.shared.subscribe(sender);
        receiver
    }

    /// Asks the engine (its loop and lanes) to stop after the current turn.
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Whether [`EngineHandle::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping()
    }
}

/// Wall-clock time, for handshake timestamps.
pub fn unix_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}
