//! A lane: one more thread reading one more queue of a multi-queue packet side.
//!
//! The kernel hashes each outgoing flow to one TUN queue, so a lane sees whole flows in
//! order, and the packets of different flows are read, segmented, sealed and sent on several
//! cores at once. The lane locks the shared device only to route and number each read's
//! packets; everything else (the AEAD, the sends) runs in parallel with the other lanes and
//! the loop, which keeps the first queue, the underlay, the timers and the control calls.
//!
//! Counters are assigned under the device lock in the order the lanes read, and each batch
//! takes a ticket there too (`SendOrder`): sealed batches leave in ticket order, so a peer's
//! datagrams reach it in counter order even when two lanes carry its flows.

use crate::data_path::{DataPath, Drained};
use crate::packet_side::PacketReader;
use crate::shared::Shared;
use crate::underlay::Underlay;
use mio::{Events, Poll, Token, Waker};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const QUEUE: Token = Token(0);
const STOP: Token = Token(1);
/// Longest a lane sleeps without checking whether the engine is stopping.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// A running lane; dropping it without [`Lane::stop`] leaves the thread to end with the process.
pub struct Lane {
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

impl Lane {
    /// Starts lane `index` (1-based: the loop is lane 0) reading with `reader`; with `pin`,
    /// on CPU `index` (modulo the CPUs the process may use).
    pub fn spawn<U: Underlay, R: PacketReader>(
        index: usize,
        mut reader: R,
        shared: Arc<Shared<U>>,
        data: DataPath<U>,
        pin: bool,
    ) -> io::Result<Lane> {
        let poll = Poll::new()?;
        reader.register(poll.registry(), QUEUE)?;
        let waker = Arc::new(Waker::new(poll.registry(), STOP)?);
        let thread = std::thread::Builder::new().name(format!("braid-lane-{index}")).spawn(move || {
            if pin {
                pin_thread(index);
            }
            run(index, poll, reader, &shared, data)
        })?;
        Ok(Lane { waker, thread })
    }

    /// Wakes the lane so it sees the stop request, and waits for it to return.
    pub fn stop(self) {
        let _ = self.waker.wake();
        if self.thread.join().is_err() {
            tracing::warn!("a lane thread panicked");
        }
    }
}

/// Pins the calling data-path thread (lane `index`; the loop is 0) to a CPU of its own.
pub fn pin_thread(index: usize) {
    match braid_io::process::pin_current_thread(index) {
        Ok(cpu) => tracing::info!(lane = index, cpu, "pinned"),
        Err(e) => tracing::warn!(lane = index, error = %e, "cannot pin"),
    }
}

fn run<U: Underlay, R: PacketReader>(
    index: usize,
    mut poll: Poll,
    mut reader: R,
    shared: &Shared<U>,
    mut data: DataPath<U>,
) {
    let mut events = Events::with_capacity(4);
    while !shared.stopping() {
        match poll.poll(&mut events, Some(IDLE_CHECK)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(lane = index, error = %e, "lane poll failed");
                return;
            }
        }
        // Edge-triggered: read until the queue is empty, a turn at a time.
        loop {
            let underlay = shared.underlay();
            let drained = data.drain_packets(shared.now(), &mut reader, shared, &underlay);
            shared.wake_loop_if_due(&shared.device());
            shared.publish_stats(index, data.stats);
            match drained {
                Drained::Empty => break,
                Drained::More if !shared.stopping() => continue,
                Drained::More => return,
                Drained::Gone => {
                    tracing::info!(lane = index, "packet-side queue gone");
                    return;
                }
            }
        }
    }
}
