//! A queue of datagrams in fixed memory: a ring of metadata entries and a ring of payload bytes.
//!
//! UDP and ICMP sockets queue whole datagrams in each direction. Each payload is stored in one
//! contiguous run of the byte ring (skipping the ring's tail end when it does not fit there), so a
//! reader or the interface gets a plain slice back. Both rings are allocated when the socket is
//! created; queueing and dequeueing never allocate.

/// Sizes of one direction of a datagram socket's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketBufferConfig {
    /// Datagrams that may wait at once.
    pub packets: usize,
    /// Payload bytes that may wait at once (a datagram longer than this is refused).
    pub bytes: usize,
}

impl Default for PacketBufferConfig {
    /// 64 datagrams and 64 KiB.
    fn default() -> Self {
        PacketBufferConfig { packets: 64, bytes: 64 * 1024 }
    }
}

/// Why a datagram could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// No room right now; try again once the queue drains.
    #[error("buffer full")]
    Full,
    /// Longer than the whole byte ring: it can never be queued.
    #[error("datagram of {len} bytes exceeds the {capacity}-byte buffer")]
    TooLong {
        /// The datagram's length.
        len: usize,
        /// The ring's byte capacity.
        capacity: usize,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry<M> {
    meta: M,
    /// Bytes skipped at the ring's end before this payload (it wrapped to the start).
    padding: usize,
    offset: usize,
    len: usize,
}

/// A bounded FIFO of `(metadata, payload)` datagrams.
#[derive(Debug)]
pub struct PacketRing<M> {
    entries: Box<[Option<Entry<M>>]>,
    entry_head: usize,
    entry_len: usize,
    bytes: Box<[u8]>,
    /// Ring index of the first byte in use (the front datagram's padding).
    byte_head: usize,
    /// Bytes in use, paddings included.
    byte_len: usize,
}

impl<M: Copy> PacketRing<M> {
    /// A ring sized by `config` (at least one datagram).
    pub fn new(config: PacketBufferConfig) -> Self {
        PacketRing {
            entries: vec![None; config.packets.max(1)].into_boxed_slice(),
            entry_head: 0,
            entry_len: 0,
            bytes: vec![0; config.bytes].into_boxed_slice(),
            byte_head: 0,
            byte_len: 0,
        }
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.entry_len
    }

    /// Where a payload of `len` bytes would go: `(padding, offset)`, or `None` if it does not fit.
    fn place(&self, len: usize) -> Option<(usize, usize)> {
        if self.entry_len == self.entries.len() {
            return None;
        }
        let capacity = self.bytes.len();
        let free = capacity - self.byte_len;
        let tail = (self.byte_head + self.byte_len) % capacity.max(1);
        // A used region that does not wrap leaves [tail, capacity) then [0, head) free; a wrapped one
        // leaves only [tail, head).
        let wrapped = self.byte_len > 0 && tail <= self.byte_head;
        if wrapped || self.byte_len == 0 {
            return (len <= free).then_some((0, if self.byte_len == 0 { 0 } else { tail }));
        }
        if len <= capacity - tail {
            return Some((0, tail));
        }
        let padding = capacity - tail;
        (padding + len <= free).then_some((padding, 0))
    }

    /// Queues a datagram of `len` bytes written by `fill` into its slot.
    pub fn push_with(&mut self, meta: M, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<(), RingError> {
        if len > self.bytes.len() {
            return Err(RingError::TooLong { len, capacity: self.bytes.len() });
        }
        if self.byte_len == 0 {
            self.byte_head = 0;
        }
        let (padding, offset) = self.place(len).ok_or(RingError::Full)?;
        fill(&mut self.bytes[offset..offset + len]);
        let index = (self.entry_head + self.entry_len) % self.entries.len();
        self.entries[index] = Some(Entry { meta, padding, offset, len });
        self.entry_len += 1;
        self.byte_len += padding + len;
        Ok(())
    }

    /// Queues a copy of `payload`.
    pub fn push(&mut self, meta: M, payload: &[u8]) -> Result<(), RingError> {
        self.push_with(meta, payload.len(), |slot| slot.copy_from_slice(payload))
    }

    /// The front datagram, without removing it.
    pub fn front(&self) -> Option<(M, &[u8])> {
        if self.entry_len == 0 {
            return None;
        }
        let entry = self.entries[self.entry_head].as_ref()?;
        Some((entry.meta, &self.bytes[entry.offset..entry.offset + entry.len]))
    }

    /// Removes the front datagram.
    pub fn pop_front(&mut self) -> Option<M> {
        if self.entry_len == 0 {
            return None;
        }
        let entry = self.entries[self.entry_head].take()?;
        self.entry_head = (self.entry_head + 1) % self.entries.len();
        self.entry_len -= 1;
        let used = entry.padding + entry.len;
        self.byte_len -= used;
        self.byte_head = if self.byte_len == 0 { 0 } else { (self.byte_head + used) % self.bytes.len() };
        Some(entry.meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn ring(packets: usize, bytes: usize) -> PacketRing<u32> {
        PacketRing::new(PacketBufferConfig { packets, bytes })
    }

    #[test]
    fn refuses_when_either_ring_is_full() {
        let mut r = ring(2, 10);
        r.push(1, b"abcd").unwrap();
        r.push(2, b"ef").unwrap();
        assert_eq!(r.push(3, b""), Err(RingError::Full), "metadata ring full");
        assert_eq!(r.pop_front(), Some(1));
        assert_eq!(r.push(3, b"0123456789"), Err(RingError::Full), "bytes in use");
        assert_eq!(r.push(3, b"01234567890"), Err(RingError::TooLong { len: 11, capacity: 10 }));
        assert_eq!(r.front(), Some((2, &b"ef"[..])));
    }

    #[test]
    fn a_payload_that_does_not_fit_at_the_end_wraps_to_the_start() {
        let mut r = ring(4, 10);
        r.push(1, b"123456").unwrap();
        r.push(2, b"78").unwrap();
        assert_eq!(r.pop_front(), Some(1));
        // Bytes 6..8 are in use; 8..10 are too short for 5 bytes, so it goes to 0..5.
        r.push(3, b"abcde").unwrap();
        assert_eq!(r.pop_front(), Some(2));
        assert_eq!(r.front(), Some((3, &b"abcde"[..])));
        assert_eq!(r.pop_front(), Some(3));
        assert_eq!(r.len(), 0);
        r.push(4, b"0123456789").unwrap();
        assert_eq!(r.front(), Some((4, &b"0123456789"[..])));
    }

    proptest! {
        /// Against a FIFO model: whatever is accepted comes back unchanged and in order, and a
        /// datagram is refused only when the bytes (counting the skipped tail) really are short.
        #[test]
        fn matches_a_fifo(ops in proptest::collection::vec((any::<bool>(), 0usize..40), 0..300)) {
            let mut r = ring(8, 64);
            let mut model: VecDeque<(u32, Vec<u8>)> = VecDeque::new();
            let mut next = 0u32;
            for (push, len) in ops {
                if push {
                    let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_add(next as u8)).collect();
                    let held: usize = model.iter().map(|(_, p)| p.len()).sum();
                    match r.push(next, &payload) {
                        Ok(()) => model.push_back((next, payload)),
                        // At most one skipped tail is live (shorter than its datagram, so < 40 bytes), and
                        // placing this one may skip fewer than `len` more.
                        Err(RingError::Full) => prop_assert!(model.len() == 8 || held + 39 + 2 * len > 64),
                        Err(e) => prop_assert!(false, "unexpected {:?}", e),
                    }
                    next += 1;
                } else {
                    let expected = model.pop_front();
                    let got = r.front().map(|(m, p)| (m, p.to_vec()));
                    prop_assert_eq!(got, expected.clone());
                    prop_assert_eq!(r.pop_front(), expected.map(|(m, _)| m));
                }
                prop_assert_eq!(r.len(), model.len());
                if model.is_empty() {
                    // An empty ring takes anything up to its capacity.
                    prop_assert!(r.byte_len == 0);
                }
            }
        }
    }
}
