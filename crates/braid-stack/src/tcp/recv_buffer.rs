//! The receive buffer: in-order bytes waiting for the user, plus out-of-order bytes parked beyond
//! the first hole.
//!
//! One ring allocated when the connection is created. Positions are 64-bit stream offsets (byte 0
//! is the first data byte after the peer's SYN), so the connection converts a sequence number once
//! and nothing here wraps. The ring covers `[read_offset, read_offset + capacity)`: the unread
//! in-order bytes, then the receive window, in which out-of-order segments are copied straight to
//! their final place and remembered in a bounded [`RangeSet`]. When a hole is filled the contiguous
//! end jumps over every parked range it reaches.

use super::ooo::RangeSet;

/// How many disjoint out-of-order islands are remembered; further islands are dropped (the peer
/// retransmits them) so a reordering attacker cannot grow memory.
pub const MAX_OOO_RANGES: usize = 32;

/// What a [`RecvBuffer::write_at`] did with the offered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WriteOutcome {
    /// Bytes by which the in-order data grew (the new bytes plus any parked ranges they reached).
    pub advanced: usize,
    /// True when some bytes were parked out of order (beyond a hole).
    pub parked: bool,
    /// True when the write filled (part of) a hole in front of parked data.
    pub filled_gap: bool,
    /// Bytes that fell outside `[contiguous end, read_offset + capacity)` and were ignored, or were
    /// refused because too many islands are parked.
    pub dropped: usize,
}

/// Fixed-capacity reassembling receive ring.
#[derive(Debug)]
pub struct RecvBuffer {
    storage: Box<[u8]>,
    /// Ring index of the first unread byte.
    read_pos: usize,
    /// Stream offset of the first unread byte.
    read_offset: u64,
    /// In-order bytes ready for the user.
    readable: usize,
    /// Parked out-of-order ranges, all beyond the contiguous end.
    ooo: RangeSet<MAX_OOO_RANGES>,
}

impl RecvBuffer {
    /// A buffer of `capacity` bytes (allocated now, never again).
    pub fn new(capacity: usize) -> Self {
        RecvBuffer {
            storage: vec![0; capacity].into_boxed_slice(),
            read_pos: 0,
            read_offset: 0,
            readable: 0,
            ooo: RangeSet::new(),
        }
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// In-order bytes waiting to be read.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Room beyond the in-order data: the receive window the connection may advertise.
    pub fn window(&self) -> usize {
        self.capacity() - self.readable
    }

    /// Stream offset one past the last in-order byte (it corresponds to `RCV.NXT`).
    pub fn contiguous_end(&self) -> u64 {
        self.read_offset + self.readable as u64
    }

    /// The parked out-of-order ranges (stream offsets).
    pub fn out_of_order(&self) -> &RangeSet<MAX_OOO_RANGES> {
        &self.ooo
    }

    /// True when out-of-order data is parked (a hole exists).
    pub fn has_gap(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Stores `data`, whose first byte has stream offset `offset`. Bytes before the contiguous end
    /// (duplicates) or beyond the window are ignored.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        let cap = self.capacity();
        let lo = self.contiguous_end();
        let hi = self.read_offset + cap as u64;
        let end = offset.saturating_add(data.len() as u64);
        let start = offset.max(lo);
        let stop = end.min(hi);
        if start >= stop {
            outcome.dropped = data.len();
            return outcome;
        }
        // Both bounds are within `data` because lo <= start < stop <= end.
        let skip = (start - offset) as usize;
        let take = (stop - start) as usize;
        outcome.dropped = data.len() - take;
        let chunk = &data[skip..skip + take];
        if start > lo {
            if self.ooo.insert(start, stop).is_err() {
                outcome.dropped = data.len();
                return outcome;
            }
            self.copy_in(start, chunk);
            outcome.parked = true;
            return outcome;
        }
        self.copy_in(start, chunk);
        let had_gap = self.has_gap();
        let mut new_end = stop;
        self.ooo.remove_below(new_end);
        while let Some(end) = self.ooo.pop_reaching(new_end) {
            new_end = new_end.max(end);
        }
        outcome.filled_gap = had_gap;
        outcome.advanced = (new_end - lo) as usize;
        self.readable += outcome.advanced;
        outcome
    }

    /// Copies up to `out.len()` in-order bytes to the user; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let cap = self.capacity();
        let n = out.len().min(self.readable);
        if n == 0 {
            return 0;
        }
        let first = n.min(cap - self.read_pos);
        out[..first].copy_from_slice(&self.storage[self.read_pos..self.read_pos + first]);
        out[first..n].copy_from_slice(&self.storage[..n - first]);
        self.advance_read(n);
        n
    }

    /// Discards up to `n` in-order bytes without copying them (used after a read shutdown).
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.readable);
        self.advance_read(n);
        n
    }

    /// The in-order bytes as at most two slices (ring order), without consuming them.
    pub fn peek(&self) -> (&[u8], &[u8]) {
        let cap = self.capacity();
        let first = self.readable.min(cap - self.read_pos);
        (&self.storage[self.read_pos..self.read_pos + first], &self.storage[..self.readable - first])
    }

    fn advance_read(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.read_pos = (self.read_pos + n) % self.capacity();
        self.read_offset += n as u64;
        self.readable -= n;
    }

    /// Copies `chunk` to the ring position of stream offset `offset` (which is within the window).
    fn copy_in(&mut self, offset: u64, chunk: &[u8]) {
        let cap = self.capacity();
        let at = (self.read_pos + (offset - self.read_offset) as usize) % cap;
        let first = chunk.len().min(cap - at);
        self.storage[at..at + first].copy_from_slice(&chunk[..first]);
        self.storage[..chunk.len() - first].copy_from_slice(&chunk[first..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reassembles_out_of_order_segments() {
        let mut b = RecvBuffer::new(16);
        let o = b.write_at(4, b"efgh");
        assert!(o.parked && o.advanced == 0);
        assert_eq!(b.readable(), 0);
        assert_eq!(b.window(), 16, "parked data does not shrink the advertised window");
        let o = b.write_at(0, b"abcd");
        assert_eq!(o.advanced, 8);
        assert!(o.filled_gap);
        assert!(!b.has_gap());
        let mut out = [0u8; 5];
        assert_eq!(b.read(&mut out), 5);
        assert_eq!(&out, b"abcde");
        // Duplicate and beyond-window bytes are ignored.
        let o = b.write_at(2, b"cdefghijklmnopqrstuvwxyz");
        assert_eq!(o.advanced, 16 + 5 - 8);
        assert_eq!(o.dropped, 24 - 13);
        assert_eq!(b.window(), 0);
        assert_eq!(b.write_at(21, b"!").dropped, 1);
    }

    proptest! {
        /// Any arrival order (with duplicates and overlaps) of the pieces of a stream, interleaved
        /// with reads, delivers exactly that stream.
        #[test]
        fn any_arrival_order_delivers_the_stream(
            cap in 8usize..64,
            cuts in proptest::collection::vec(1usize..20, 1..30),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..200),
            read_sizes in proptest::collection::vec(1usize..30, 1..50),
        ) {
            let stream: Vec<u8> = (0..cuts.iter().sum::<usize>()).map(|i| (i * 7 + 3) as u8).collect();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in &cuts {
                pieces.push((at, at + c));
                at += c;
            }
            let mut b = RecvBuffer::new(cap);
            let mut got = Vec::new();
            let mut reads = read_sizes.iter().cycle();
            let mut step = 0;
            // Keep offering pieces (random order, then in order as a retransmission would) until done.
            while got.len() < stream.len() && step < 10_000 {
                let (s, e) = if step < order.len() {
                    pieces[order[step].index(pieces.len())]
                } else {
                    let next = b.contiguous_end() as usize;
                    (next, (next + 7).min(stream.len()))
                };
                let before = b.contiguous_end();
                let o = b.write_at(s as u64, &stream[s..e]);
                prop_assert_eq!(b.contiguous_end(), before + o.advanced as u64);
                let mut buf = vec![0u8; *reads.next().unwrap()];
                let n = b.read(&mut buf);
                got.extend_from_slice(&buf[..n]);
                step += 1;
            }
            let mut rest = vec![0u8; cap];
            let n = b.read(&mut rest);
            got.extend_from_slice(&rest[..n]);
            prop_assert_eq!(got, stream);
        }
    }
}
