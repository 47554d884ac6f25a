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
        }
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

    /// Moves to a new underlay on `port` (0: any free port), keeping the firewall mark. The
    /// new one is bound and registered before it replaces the old, so on error the old one
    /// stays in use, registered as before. A port already in use by us is kept as it is.
    pub fn rebind(&self, port: u16) -> io::Result<u16> {
        let _one_at_a_time = self.rebinding.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.underlay();
        if port != 0 && port == old.port() {
            return Ok(port);
        }
        let fresh = old.rebind(port)?;
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
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(event) = device.poll_event() {
            let Some(event) = PeerEvent::from_device(device, event) else { continue };
            tracing::debug!(?event, "peer event");
            subscribers.retain(|s| !matches!(s.try_send(event), Err(TrySendError::Disconnected(_))));
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
