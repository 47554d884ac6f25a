//! What the event loop and the TUN queue lanes share.
//!
//! The device stays a single-owner state machine: every thread takes one lock to ask it
//! something (route, session and counter for a batch of packets; replay window and timers for
//! a batch of datagrams) and does the expensive part, the AEAD and the system calls, with the
//! lock released. The event loop keeps the timers; a lane whose work moved the next timer
//! earlier than the loop's sleep wakes it.

use super::data_path::DataPathStats;
use braid_io::UdpSockets;
use braid_proto::{Device, Instant};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

/// The device, the sockets and the wake-ups every data-path thread needs.
pub struct Shared {
    device: Mutex<Device>,
    udp: RwLock<Arc<UdpSockets>>,
    /// Device time (ns) the event loop sleeps until, written under the device lock; `u64::MAX`
    /// while it has no timer to wait for.
    loop_deadline: AtomicU64,
    /// Wakes the event loop's poll.
    waker: mio::Waker,
    /// Set when the daemon shuts down: lanes finish their turn and return.
    stop: AtomicBool,
    /// Each lane's counters, copied after every turn for `braid show`.
    lane_stats: Mutex<Vec<DataPathStats>>,
    /// The instant device time counts from.
    origin: std::time::Instant,
    /// With lanes: datagrams leave in the order the device numbered them.
    order: Option<SendOrder>,
}

/// Keeps a peer's datagrams leaving in counter order when several threads send.
///
/// Counters are assigned under the device lock; each batch so numbered takes a ticket in the
/// same critical section, seals unlocked (in parallel with the other lanes), and sends when its
/// ticket comes up. Without this a lane that is descheduled between sealing and sending lets
/// the others run ahead, and a receiver whose replay window (8 128 counters, ≈ 20 ms at
/// 5 Gbit/s) has moved on drops its datagrams as too old.
pub struct SendOrder {
    next: AtomicU64,
    serving: AtomicU64,
}

/// A place in the send order; dropping it (after sending, or on any other way out) passes the
/// turn on, so a batch that ends up sending nothing never holds the others up.
#[must_use]
pub struct Ticket<'a> {
    order: &'a SendOrder,
    number: u64,
}

impl SendOrder {
    fn new() -> SendOrder {
        SendOrder { next: AtomicU64::new(0), serving: AtomicU64::new(0) }
    }

    /// The next place in line. `_numbered` is the device guard under which the batch's
    /// counters were (or will be) assigned: taking the ticket in the same critical section is
    /// what makes ticket order counter order.
    pub fn take(&self, _numbered: &Device) -> Ticket<'_> {
        Ticket { order: self, number: self.next.fetch_add(1, Ordering::Relaxed) }
    }
}

impl Ticket<'_> {
    /// Waits until every earlier ticket has been served (their batches have left).
    pub fn wait(&self) {
        let mut spins = 0u32;
        while self.order.serving.load(Ordering::Acquire) != self.number {
            if spins < 64 {
                std::hint::spin_loop();
                spins += 1;
            } else if spins < 1024 {
                std::thread::yield_now();
                spins += 1;
            } else {
                // An earlier holder was descheduled: don't burn its core.
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.wait();
        self.order.serving.store(self.number + 1, Ordering::Release);
    }
}

impl Shared {
    /// Shares `device`; `waker` must be registered with the event loop's poll. `ordered`
    /// (several threads send) puts sends in counter order (see [`SendOrder`]).
    pub fn new(
        device: Device,
        udp: Arc<UdpSockets>,
        waker: mio::Waker,
        origin: std::time::Instant,
        ordered: bool,
    ) -> Shared {
        Shared {
            device: Mutex::new(device),
            udp: RwLock::new(udp),
            loop_deadline: AtomicU64::new(u64::MAX),
            waker,
            stop: AtomicBool::new(false),
            lane_stats: Mutex::new(Vec::new()),
            origin,
            order: ordered.then(SendOrder::new),
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

    /// The UDP sockets in use now (a UAPI `set` may replace them).
    pub fn udp(&self) -> Arc<UdpSockets> {
        self.udp.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Installs new UDP sockets for every thread.
    pub fn set_udp(&self, udp: Arc<UdpSockets>) {
        *self.udp.write().unwrap_or_else(PoisonError::into_inner) = udp;
    }

    /// Device time now.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    /// Called by the event loop, holding `device`, just before it sleeps until `deadline`.
    pub fn loop_sleeps_until(&self, _device: &Device, deadline: Option<Instant>) {
        let ns = deadline.map_or(u64::MAX, |d| d.as_nanos());
        self.loop_deadline.store(ns, Ordering::Release);
    }

    /// Called by a lane, holding `device`, after it used the device: wakes the event loop if
    /// the device's next timer is now earlier than the loop's planned wake-up. Both sides
    /// read and write the deadline under the device lock, so no timer change is missed.
    pub fn wake_loop_if_due(&self, device: &Device) {
        let Some(next) = device.next_deadline() else { return };
        if next.as_nanos() < self.loop_deadline.load(Ordering::Acquire) {
            // The loop recomputes its deadline when it wakes; until then, don't wake it again.
            self.loop_deadline.store(0, Ordering::Release);
            if let Err(e) = self.waker.wake() {
                tracing::warn!(error = %e, "cannot wake the event loop");
            }
        }
    }

    /// Asks every lane to return after its current turn.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether [`Shared::request_stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Publishes lane `lane`'s counters.
    pub fn publish_lane_stats(&self, lane: usize, stats: DataPathStats) {
        let mut all = self.lane_stats.lock().unwrap_or_else(PoisonError::into_inner);
        if all.len() <= lane {
            all.resize(lane + 1, DataPathStats::default());
        }
        all[lane] = stats;
    }

    /// TUN reads per lane, by lane index (the event loop's own, index 0, is not here).
    pub fn lane_reads(&self) -> Vec<u64> {
        let all = self.lane_stats.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter().map(|s| s.tun_reads).collect()
    }

    /// Every lane's counters added up.
    pub fn lane_stats_total(&self) -> DataPathStats {
        let all = self.lane_stats.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter().fold(DataPathStats::default(), |sum, s| sum.plus(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use braid_proto::crypto::PublicKey;
    use braid_proto::{DeviceConfig, Endpoint, PeerConfig};
    use core::time::Duration;
    use mio::{Events, Poll, Token};

    const WAKE: Token = Token(7);

    fn setup() -> (Poll, Shared) {
        let poll = Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKE).unwrap();
        let rng = <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(7);
        let config = DeviceConfig { private_key: Some([3; 32]), ..DeviceConfig::default() };
        let mut device = Device::new(config, Instant::ZERO, Duration::ZERO, Box::new(rng));
        let mut peer = PeerConfig::new(PublicKey([9; 32]));
        peer.endpoint = Some(Endpoint::from(std::net::SocketAddr::from(([198, 18, 0, 2], 51820))));
        peer.allowed_ips = vec![("198.19.0.0".parse().unwrap(), 24)];
        device.add_peer(peer).unwrap();
        let udp = Arc::new(UdpSockets::bind(0, 0).unwrap());
        (poll, Shared::new(device, udp, waker, std::time::Instant::now(), true))
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
    fn lane_counters_add_up_and_report_per_lane() {
        let (_poll, shared) = setup();
        let stats = |reads| DataPathStats { tun_reads: reads, tun_packets: 2 * reads, ..DataPathStats::default() };
        shared.publish_lane_stats(2, stats(5));
        shared.publish_lane_stats(1, stats(3));
        shared.publish_lane_stats(2, stats(7));
        assert_eq!(shared.lane_reads(), vec![0, 3, 7]);
        assert_eq!(shared.lane_stats_total(), stats(10));
    }
}
