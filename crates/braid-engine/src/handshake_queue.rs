//! Handshake messages wait here, apart from transport data, for the one thread that does their
//! cryptography.
//!
//! A handshake initiation costs one to five X25519 operations; transport data costs an AEAD.
//! If both were handled where the socket is read, a flood of initiations would hold up the
//! established tunnels' packets behind Diffie-Hellman work, and the socket's receive queue
//! (shared by both) would overflow and drop them. So the receive path only copies each
//! handshake message (at most 148 bytes) into this bounded queue and goes on reading; the
//! handshake worker takes them from here. A full queue drops what arrives, as the kernel's and
//! wireguard-go's do, and its depth is the device's load signal (1/8 full: cookies demanded).

use braid_proto::Endpoint;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The longest handshake message (an initiation); anything longer is not one.
pub const MAX_HANDSHAKE_MESSAGE: usize = 148;
/// Messages the queue holds, as the kernel's (`MAX_QUEUED_INCOMING_HANDSHAKES`).
pub const HANDSHAKE_QUEUE_CAPACITY: usize = 4096;

/// One queued message: where it came from and its bytes.
#[derive(Clone, Copy)]
pub struct QueuedHandshake {
    /// Its source (and the local address it arrived on).
    pub from: Endpoint,
    len: u8,
    bytes: [u8; MAX_HANDSHAKE_MESSAGE],
}

impl QueuedHandshake {
    /// The message, for the device to handle in place.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..usize::from(self.len)]
    }
}

/// What the queue has seen since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandshakeQueueStats {
    /// Messages queued.
    pub queued: u64,
    /// Messages dropped because the queue was full.
    pub dropped_full: u64,
    /// Messages waiting now.
    pub waiting: u64,
}

/// A bounded first-in first-out queue of handshake messages between the receive path (many
/// producers) and the handshake worker (one consumer). Its memory is allocated once.
pub struct HandshakeQueue {
    ring: Mutex<Ring>,
    ready: Condvar,
    capacity: usize,
    queued: AtomicU64,
    dropped_full: AtomicU64,
}

struct Ring {
    messages: VecDeque<QueuedHandshake>,
    closed: bool,
}

impl HandshakeQueue {
    /// A queue of `capacity` messages (at least one).
    pub fn new(capacity: usize) -> HandshakeQueue {
        let capacity = capacity.max(1);
        HandshakeQueue {
            ring: Mutex::new(Ring { messages: VecDeque::with_capacity(capacity), closed: false }),
            ready: Condvar::new(),
            capacity,
            queued: AtomicU64::new(0),
            dropped_full: AtomicU64::new(0),
        }
    }

    /// How many messages it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues a copy of `message` from `from`; false (and counted) when the queue is full or
    /// closed, or the message is longer than any handshake message.
    pub fn push(&self, from: Endpoint, message: &[u8]) -> bool {
        let Ok(len) = u8::try_from(message.len()) else { return false };
        if message.len() > MAX_HANDSHAKE_MESSAGE {
            return false;
        }
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.closed || ring.messages.len() >= self.capacity {
            drop(ring);
            self.dropped_full.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut queued = QueuedHandshake { from, len, bytes: [0; MAX_HANDSHAKE_MESSAGE] };
        queued.bytes[..message.len()].copy_from_slice(message);
        ring.messages.push_back(queued);
        let was_empty = ring.messages.len() == 1;
        drop(ring);
        self.queued.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// Moves up to `max` messages into `batch` (cleared first), waiting at most `wait` for the
    /// first. Returns how many are still queued after them, or `None` once the queue is closed.
    pub fn pop_batch(&self, batch: &mut Vec<QueuedHandshake>, max: usize, wait: Duration) -> Option<usize> {
        batch.clear();
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut ring, _) = self
            .ready
            .wait_timeout_while(ring, wait, |r| r.messages.is_empty() && !r.closed)
            .unwrap_or_else(PoisonError::into_inner);
        if ring.closed {
            return None;
        }
        let take = ring.messages.len().min(max);
        batch.extend(ring.messages.drain(..take));
        Some(ring.messages.len())
    }

    /// Ends the queue: the worker's next [`pop_batch`](Self::pop_batch) returns `None` and
    /// pushes are refused.
    pub fn close(&self) {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.ready.notify_all();
    }

    /// Counters since start, and the depth now.
    pub fn stats(&self) -> HandshakeQueueStats {
        let waiting = self.ring.lock().unwrap_or_else(PoisonError::into_inner).messages.len() as u64;
        HandshakeQueueStats {
            queued: self.queued.load(Ordering::Relaxed),
            dropped_full: self.dropped_full.load(Ordering::Relaxed),
            waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn from(port: u16) -> Endpoint {
        Endpoint::from(SocketAddr::from(([198, 18, 0, 1], port)))
    }

    #[test]
    fn messages_leave_in_order_and_a_full_queue_drops_and_counts() {
        let queue = HandshakeQueue::new(3);
        for port in 1..=4 {
            assert_eq!(queue.push(from(port), &[port as u8; 148]), port <= 3);
        }
        assert!(!queue.push(from(9), &[0; 149]), "longer than any handshake message");
        assert_eq!(queue.stats(), HandshakeQueueStats { queued: 3, dropped_full: 1, waiting: 3 });
        let mut batch = Vec::new();
        assert_eq!(queue.pop_batch(&mut batch, 2, Duration::ZERO), Some(1));
        assert_eq!(batch.iter().map(|m| m.from.addr.port()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(batch[1].bytes_mut(), &[2; 148][..]);
        assert_eq!(queue.pop_batch(&mut batch, 2, Duration::ZERO), Some(0));
        assert_eq!(batch.len(), 1);
        assert_eq!(queue.pop_batch(&mut batch, 2, Duration::from_millis(1)), Some(0), "empty: waits, then none");
        assert!(batch.is_empty());
    }

    #[test]
    fn a_waiting_worker_wakes_for_a_message_and_for_close() {
        let queue = std::sync::Arc::new(HandshakeQueue::new(8));
        let worker = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut batch = Vec::new();
                let mut got = 0;
                while queue.pop_batch(&mut batch, 8, Duration::from_secs(10)).is_some() {
                    got += batch.len();
                }
                got
            })
        };
        queue.push(from(1), &[1; 92]);
        std::thread::sleep(Duration::from_millis(20));
        queue.close();
        assert!(!queue.push(from(2), &[1; 92]), "closed");
        let started = std::time::Instant::now();
        assert_eq!(worker.join().unwrap(), 1);
        assert!(started.elapsed() < Duration::from_secs(5), "close woke the worker");
    }
}
