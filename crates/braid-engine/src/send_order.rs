//! Keeps a peer's datagrams leaving in counter order when several threads send.
//!
//! Counters are assigned under the device lock; each batch so numbered takes a ticket in the
//! same critical section, seals unlocked (in parallel with the other lanes), and sends when
//! its ticket comes up, as the kernel's per-peer queue does. Without this a lane descheduled
//! between sealing and sending lets the others run ahead, and a receiver whose replay window
//! has moved on drops its datagrams as too old.

use braid_proto::Device;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The line batches wait in.
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
    pub fn new() -> SendOrder {
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
