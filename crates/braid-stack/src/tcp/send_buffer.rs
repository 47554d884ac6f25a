//! The send buffer: bytes the user has written that the peer has not yet acknowledged.
//!
//! A ring allocated once when the connection is created. The front of the ring is the first
//! unacknowledged data byte (`SND.UNA`, or `ISS + 1` before the SYN is acknowledged); segments are
//! described by an offset from that front, and an acknowledgment drops bytes from the front.
//! Nothing here allocates after construction.

/// Fixed-capacity byte ring holding unacknowledged and unsent data.
#[derive(Debug)]
pub struct SendBuffer {
    storage: Box<[u8]>,
    /// Ring index of the first (oldest, unacknowledged) byte.
    head: usize,
    /// Bytes held.
    len: usize,
}

impl SendBuffer {
    /// A buffer holding at most `capacity` bytes (allocated now, never again).
    pub fn new(capacity: usize) -> Self {
        SendBuffer { storage: vec![0; capacity].into_boxed_slice(), head: 0, len: 0 }
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Bytes held (unacknowledged, sent or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left for the user to write.
    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Appends as much of `data` as fits; returns how many bytes were taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let cap = self.capacity();
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        let tail = (self.head + self.len) % cap;
        let first = n.min(cap - tail);
        self.storage[tail..tail + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// Drops `n` bytes from the front (they were acknowledged); clamps to what is held.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n == 0 {
            return 0;
        }
        self.head = (self.head + n) % self.capacity();
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
        }
        n
    }

    /// The longest contiguous run of held bytes starting `offset` bytes after the front, at most
    /// `max` bytes long. It may be shorter than asked where the ring wraps; empty past the end.
    pub fn contiguous(&self, offset: usize, max: usize) -> &[u8] {
        if offset >= self.len {
            return &[];
        }
        let cap = self.capacity();
        let start = (self.head + offset) % cap;
        let n = max.min(self.len - offset).min(cap - start);
        &self.storage[start..start + n]
    }

    /// Copies held bytes starting at `offset` into `out`; returns how many were copied.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> usize {
        let mut done = 0;
        while done < out.len() {
            let chunk = self.contiguous(offset + done, out.len() - done);
            if chunk.is_empty() {
                break;
            }
            out[done..done + chunk.len()].copy_from_slice(chunk);
            done += chunk.len();
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_and_reports_contiguous_runs() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.write(b"abcdef"), 6);
        assert_eq!(b.consume(4), 4);
        assert_eq!(b.write(b"ghijklmn"), 6, "only the free room is taken");
        assert_eq!(b.len(), 8);
        assert_eq!(b.contiguous(0, 100), b"efgh");
        assert_eq!(b.contiguous(4, 100), b"ijkl");
        assert_eq!(b.contiguous(1, 2), b"fg");
        assert_eq!(b.contiguous(8, 1), b"");
        let mut out = [0u8; 8];
        assert_eq!(b.copy_out(0, &mut out), 8);
        assert_eq!(&out, b"efghijkl");
        assert_eq!(b.consume(100), 8);
        assert!(b.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(Vec<u8>),
        Consume(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Write),
            (0usize..50).prop_map(Op::Consume),
        ]
    }

    proptest! {
        /// The ring behaves exactly like a bounded FIFO queue of bytes.
        #[test]
        fn matches_a_bounded_queue(cap in 1usize..64, ops in proptest::collection::vec(op(), 0..60)) {
            let mut b = SendBuffer::new(cap);
            let mut model: std::collections::VecDeque<u8> = Default::default();
            for op in ops {
                match op {
                    Op::Write(data) => {
                        let n = b.write(&data);
                        prop_assert_eq!(n, data.len().min(cap - model.len()));
                        model.extend(&data[..n]);
                    }
                    Op::Consume(n) => {
                        let took = b.consume(n);
                        prop_assert_eq!(took, n.min(model.len()));
                        model.drain(..took);
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                let mut out = vec![0u8; model.len()];
                prop_assert_eq!(b.copy_out(0, &mut out), model.len());
                prop_assert_eq!(&out[..], &model.iter().copied().collect::<Vec<_>>()[..]);
            }
        }
    }
}
