//! What every thread of one engine shares: the device behind one lock, the underlay in use,
//! the wake-ups, the counters and the event subscribers.
//!
//! The device stays a single-owner state machine: every thread takes one lock to ask it
//! something (route, session and counter for a batch of packets; replay window and timers for
//! a batch of datagrams) and does the expensive part, the AEAD and the system calls, with the
//! lock released. The engine's loop keeps the timers; a lane or a control call that moved the
//! next timer earlier than the loop's sleep wakes it.

use crate::data_path::DataPathStats;
use crate::engine::PeerEvent;
use crate::handshake_queue::{HandshakeQueue, HANDSHAKE_QUEUE_CAPACITY};
use crate::packet_side::PacketSideInfo;
use crate::send_order::SendOrder;
use crate::underlay::Underlay;
use braid_proto::{Device, DeviceEvent, Instant};
use mio::{Registry, Token};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

/// The poll token of underlay source `source` (sources come after the engine's own tokens).
pub fn underlay_token(source: usize) -> Token {
    Token(UNDERLAY_TOKENS + source)
}

/// The first underlay token; below it: the first packet-side queue and the waker.
pub const UNDERLAY_TOKENS: usize = 8;

/// The device, the underlay and the wake-ups every data-path thread needs.
pub struct Shared<U> {
    device: Mutex<Device>,
    underlay: RwLock<Arc<U>>,
    /// Serialises rebinds (two control clients changing the port at once).
    rebinding: Mutex<()>,
    /// Where the loop polls, so any thread can (re)register underlay sources.
    registry: Registry,
    /// Device time (ns) the loop sleeps until, written under the device lock; `u64::MAX`
    /// while it has no timer to wait for.
    loop_deadline: AtomicU64,
    /// Wakes the loop's poll.
    waker: mio::Waker,
    /// Set when the engine shuts down: every thread finishes its turn and returns.
    stop: AtomicBool,
    /// Counters of every data-path thread (0: the loop, i: lane i), copied after every turn.
    stats: Mutex<Vec<DataPathStats>>,
    /// The instant device time counts from.
    origin: std::time::Instant,
    /// With lanes: datagrams leave in the order the device numbered them.
    order: Option<SendOrder>,
    /// Who wants to hear about peer events.
    subscribers: Mutex<Vec<SyncSender<PeerEvent>>>,
    /// The packet side, as it described itself.
    packet_side: PacketSideInfo,
    /// Handshake messages waiting for the handshake worker.
    handshakes: HandshakeQueue,
}

impl<U: Underlay> Shared<U> {
    /// Shares `device`; `waker` and `registry` belong to the loop's poll. `ordered` (several
    /// threads send) puts sends in counter order.
    pub fn new(
        device: Device,
        underlay: U,
        registry: Registry,
        waker: mio::Waker,
        origin: std::time::Instant,
        ordered: bool,
        packet_side: PacketSideInfo,
    ) -> Shared<U> {
        Shared {
            device: Mutex::new(device),
            underlay: RwLock::new(Arc::new(underlay)),
            rebinding: Mutex::new(()),
            registry,
            loop_deadline: AtomicU64::new(u64::MAX),
            waker,
            stop: AtomicBool::new(false),
            stats: Mutex::new(Vec::new()),
            origin,
            order: ordered.then(SendOrder::new),
            subscribers: Mutex::new(Vec::new()),
            packet_side,
            handshakes: HandshakeQueue::new(HANDSHAKE_QUEUE_CAPACITY),
        }
    }

    /// The queue of handshake messages between the receive path and the handshake worker.
    pub fn handshakes(&self) -> &HandshakeQueue {
        &self.handshakes
    }

    /// The send order, when several threads send.
    pub fn send_order(&self) -> Option<&SendOrder> {
        self.order.as_ref()
    }

    /// The device, locked. A thread that panicked while holding it cannot have left it
    /// half-updated in a way the next caller can't live with (every device call validates its
    /// own state), so a poisoned lock is taken over rather than propagated.
    pub fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The underlay in use now (a rebind may replace it).
    pub fn underlay(&self) -> Arc<U> {
        self.underlay.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Registers every source of the current underlay (at start).
    pub fn register_underlay(&self) -> io::Result<()> {
        let underlay = self.underlay();
        register_all(&*underlay, &self.registry)
    }

    /// Moves to a new underlay on `port` (0: any free port) with firewall mark `fwmark`
    /// (`None`: the current one). The new one is bound, marked and registered before it
    /// replaces the old, so on error the old one stays in use, with its mark and registered as
    /// before: both change or neither does. A port already in use by us is kept as it is (and
    /// only its mark set, on every socket or none).
    pub fn rebind(&self, port: u16, fwmark: Option<u32>) -> io::Result<u16> {
        let _one_at_a_time = self.rebinding.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.underlay();
        if port != 0 && port == old.port() {
            if let Some(mark) = fwmark.filter(|&m| m != old.fwmark()) {
                old.set_fwmark(mark)?;
            }
            return Ok(port);
        }
        let fresh = old.rebind(port, fwmark.unwrap_or_else(|| old.fwmark()))?;
        register_all(&fresh, &self.registry)?;
        let bound = fresh.port();
        *self.underlay.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        for source in 0..old.sources() {
            old.deregister(&self.registry, source);
        }
        // Wake the loop: sources may have changed in number.
        self.wake();
        Ok(bound)
    }

    /// Device time now.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    /// Wakes the loop (something changed that it must look at: timers, a stop, an outbox).
    pub fn wake(&self) {
        self.loop_deadline.store(0, Ordering::Release);
        if let Err(e) = self.waker.wake() {
            tracing::warn!(error = %e, "cannot wake the engine loop");
        }
    }

    /// Called by the loop, holding `device`, just before it sleeps until `deadline`.
    pub fn loop_sleeps_until(&self, _device: &Device, deadline: Option<Instant>) {
        let ns = deadline.map_or(u64::MAX, |d| d.as_nanos());
        self.loop_deadline.store(ns, Ordering::Release);
    }

    /// Called by a lane or a control call, holding `device`, after it used the device: wakes
    /// the loop if the device wants to send or its next timer is now earlier than the loop's
    /// planned wake-up. Both sides read and write the deadline under the device lock, so no
    /// timer change is missed.
    pub fn wake_loop_if_due(&self, device: &Device) {
        let Some(next) = device.next_deadline() else { return };
        if next.as_nanos() < self.loop_deadline.load(Ordering::Acquire) {
            // The loop recomputes its deadline when it wakes; until then, don't wake it again.
            self.wake();
        }
    }

    /// Asks every thread to return after its current turn.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.handshakes.close();
        self.wake();
    }

    /// Whether [`Shared::request_stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Publishes the counters of data-path thread `thread` (0: the loop).
    pub fn publish_stats(&self, thread: usize, stats: DataPathStats) {
        let mut all = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        if all.len() <= thread {
            all.resize(thread + 1, DataPathStats::default());
        }
        all[thread] = stats;
    }

    /// Every thread's counters, by thread (0: the loop).
    pub fn thread_stats(&self) -> Vec<DataPathStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The packet side's description.
    pub fn packet_side(&self) -> &PacketSideInfo {
        &self.packet_side
    }

    /// Adds a subscriber to peer events.
    pub fn subscribe(&self, sender: SyncSender<PeerEvent>) {
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
    }

    /// Takes the device's pending events (the caller holds `device`) and hands them to every
    /// subscriber. A subscriber that does not keep up misses events rather than slowing the
    /// data path; one that hung up is forgotten.
    pub fn publish_events(&self, device: &mut Device) {
        let Some(first) = device.poll_event() else { return };
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut pending = Some(first);
        while let Some(event) = pending {
            if let Some(event) = PeerEvent::from_device(device, event) {
                tracing::debug!(?event, "peer event");
                subscribers.retain(|s| !matches!(s.try_send(event), Err(TrySendError::Disconnected(_))));
            }
            pending = device.poll_event();
        }
    }
}

/// Registers every source of `underlay`; on error, undoes what it did.
fn register_all<U: Underlay>(underlay: &U, registry: &Registry) -> io::Result<()> {
    for source in 0..underlay.sources() {
        if let Err(e) = underlay.register(registry, source, underlay_token(source)) {
            for done in 0..source {
                underlay.deregister(registry, done);
            }
            return Err(e);
        }
    }
    Ok(())
}

impl PeerEvent {
    fn from_device(device: &Device, event: DeviceEvent) -> Option<PeerEvent> {
        let key = |peer| device.peer_stats(peer).map(|s| s.public_key);
        Some(match event {
            DeviceEvent::HandshakeCompleted { peer, initiator } => {
                PeerEvent::HandshakeCompleted { peer: key(peer)?, initiator }
            }
            DeviceEvent::EndpointChanged { peer, endpoint } => {
                PeerEvent::EndpointChanged { peer: key(peer)?, endpoint: endpoint.addr }
            }
            DeviceEvent::PeerSilent { peer } => PeerEvent::PeerSilent { peer: key(peer)? },
            DeviceEvent::HandshakeGaveUp { peer } => PeerEvent::HandshakeGaveUp { peer: key(peer)? },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::UdpUnderlay;
    use braid_proto::crypto::PublicKey;
    use braid_proto::{DeviceConfig, Endpoint, PeerConfig};
    use core::time::Duration;
    use mio::{Events, Poll, Token};
    use std::sync::atomic::AtomicU64;

    const WAKE: Token = Token(7);

    fn setup() -> (Poll, Shared<UdpUnderlay>) {
        let poll = Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKE).unwrap();
        let rng = <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(7);
        let config = DeviceConfig { private_key: Some([3; 32].into()), ..DeviceConfig::default() };
        let mut device = Device::new(config, Instant::ZERO, Duration::ZERO, Box::new(rng));
        let mut peer = PeerConfig::new(PublicKey([9; 32]));
        peer.endpoint = Some(Endpoint::from(std::net::SocketAddr::from(([198, 18, 0, 2], 51820))));
        peer.allowed_ips = vec![("198.19.0.0".parse().unwrap(), 24)];
        device.add_peer(peer).unwrap();
        let udp = UdpUnderlay::bind_loopback().unwrap();
        let registry = poll.registry().try_clone().unwrap();
        let info = PacketSideInfo::default();
        (poll, Shared::new(device, udp, registry, waker, std::time::Instant::now(), true, info))
    }

    /// A minimal IPv4 packet to 198.19.0.2 (enough for the device to route it).
    fn packet() -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[198, 19, 0, 1]);
        p[16..20].copy_from_slice(&[198, 19, 0, 2]);
        p
    }

    fn woken(poll: &mut Poll) -> bool {
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        events.iter().any(|e| e.token() == WAKE)
    }

    #[test]
    fn a_lane_that_schedules_an_earlier_timer_wakes_the_loop_once() {
        let (mut poll, shared) = setup();
        // The loop goes to sleep with no timer pending.
        {
            let device = shared.device();
            assert_eq!(device.next_deadline(), None);
            shared.loop_sleeps_until(&device, None);
        }
        // A lane routes a packet to a peer without a session: the device starts a handshake
        // and arms its retry timer.
        {
            let mut device = shared.device();
            assert!(device.prepare_seal(shared.now(), &packet()).unwrap().is_none(), "staged, not sealed");
            assert!(device.next_deadline().is_some());
            shared.wake_loop_if_due(&device);
        }
        assert!(woken(&mut poll));
        // Until the loop sleeps again, further lanes don't wake it a second time.
        shared.wake_loop_if_due(&shared.device());
        assert!(!woken(&mut poll));
    }

    #[test]
    fn a_timer_later_than_the_loop_planned_does_not_wake_it() {
        let (mut poll, shared) = setup();
        {
            let mut device = shared.device();
            let _ = device.prepare_seal(shared.now(), &packet());
            let deadline = device.next_deadline().expect("handshake retry armed");
            // The loop already plans to wake before the device's next timer.
            shared.loop_sleeps_until(&device, Some(Instant::from_nanos(deadline.as_nanos() - 1)));
            shared.wake_loop_if_due(&device);
        }
        assert!(!woken(&mut poll));
    }

    #[test]
    fn batches_numbered_under_the_lock_leave_in_number_order_whatever_the_threads_do() {
        let (_poll, shared) = setup();
        let numbered = AtomicU64::new(0);
        let sent = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let (shared, numbered, sent) = (&shared, &numbered, &sent);
                scope.spawn(move || {
                    for round in 0..200u64 {
                        // Number a batch and take its ticket in one critical section ...
                        let (number, ticket) = {
                            let device = shared.device();
                            let order = shared.send_order().expect("ordered");
                            (numbered.fetch_add(1, Ordering::Relaxed), order.take(&device))
                        };
                        // ... "seal" for a while, unlocked, some threads slower than others ...
                        if (thread + round) % 7 == 0 {
                            std::thread::sleep(Duration::from_micros(50));
                        }
                        // ... and send in turn. Some batches send nothing: dropping the ticket
                        // still passes the turn on.
                        if round % 5 != 0 {
                            ticket.wait();
                            sent.lock().unwrap().push(number);
                        }
                    }
                });
            }
        });
        let sent = sent.into_inner().unwrap();
        assert_eq!(sent.len(), 4 * 160);
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "sent out of order: {sent:?}");
    }

    #[test]
    fn thread_counters_add_up_and_report_per_thread() {
        let (_poll, shared) = setup();
        let stats = |reads| DataPathStats { packet_reads: reads, packets_read: 2 * reads, ..DataPathStats::default() };
        shared.publish_stats(2, stats(5));
        shared.publish_stats(1, stats(3));
        shared.publish_stats(2, stats(7));
        let per_thread: Vec<u64> = shared.thread_stats().iter().map(|s| s.packet_reads).collect();
        assert_eq!(per_thread, vec![0, 3, 7]);
        let total = shared.thread_stats().iter().fold(DataPathStats::default(), |sum, s| sum.plus(s));
        assert_eq!(total, stats(10));
    }
}
