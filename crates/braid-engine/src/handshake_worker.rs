//! The thread that answers handshakes: it takes messages from the
//! [`HandshakeQueue`](crate::handshake_queue::HandshakeQueue), hands each to the device with
//! the queue's depth (the load signal), and sends what the device answers.

use crate::data_path::{DataPath, DataPathStats};
use crate::handshake_queue::QueuedHandshake;
use crate::shared::Shared;
use crate::underlay::Underlay;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Messages taken from the queue at once.
const BATCH: usize = 64;
/// How long the worker waits for a message before it looks whether the engine is stopping.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// The running handshake worker.
pub struct HandshakeWorker {
    thread: JoinHandle<()>,
}

impl HandshakeWorker {
    /// Starts the worker for `shared`'s queue; its counters are published as data-path thread
    /// `thread`.
    pub fn spawn<U: Underlay>(shared: Arc<Shared<U>>, thread: usize) -> io::Result<HandshakeWorker> {
        let thread = std::thread::Builder::new().name("braid-handshake".into()).spawn(move || run(&shared, thread))?;
        Ok(HandshakeWorker { thread })
    }

    /// Waits for the worker to return (after the queue was closed).
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the handshake worker panicked");
        }
    }
}

fn run<U: Underlay>(shared: &Shared<U>, thread: usize) {
    let queue = shared.handshakes();
    let capacity = queue.capacity();
    let mut batch: Vec<QueuedHandshake> = Vec::with_capacity(BATCH);
    let mut data = DataPath::new(&*shared.underlay(), None);
    let mut published = DataPathStats::default();
    while let Some(left) = queue.pop_batch(&mut batch, BATCH, IDLE_CHECK) {
        if shared.stopping() {
            break;
        }
        if batch.is_empty() {
            continue;
        }
        let count = batch.len();
        let mut answers = false;
        for (i, message) in batch.iter_mut().enumerate() {
            let now = shared.now();
            let mut device = shared.device();
            // This message and those behind it are the backlog it was taken from.
            device.set_handshake_backlog(now, left + count - i, capacity);
            let _ = device.handle_datagram(now, message.from, message.bytes_mut());
            shared.publish_events(&mut device);
            shared.wake_loop_if_due(&device);
            answers |= device.has_transmit();
        }
        data.stats.handshakes_handled += count as u64;
        if answers {
            let now = shared.now();
            data.flush_device(now, shared, &shared.underlay());
        }
        if data.stats != published {
            published = data.stats;
            shared.publish_stats(thread, published);
        }
    }
}
