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
}

impl Shared {
    /// Shares `device`; `waker` must be registered with the event loop's poll.
    pub fn new(device: Device, udp: Arc<UdpSockets>, waker: mio::Waker, origin: std::time::Instant) -> Shared {
        Shared {
            device: Mutex::new(device),
            udp: RwLock::new(udp),
            loop_deadline: AtomicU64::new(u64::MAX),
            waker,
            stop: AtomicBool::new(false),
            lane_stats: Mutex::new(Vec::new()),
            origin,
        }
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
