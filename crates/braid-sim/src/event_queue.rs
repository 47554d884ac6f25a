//! The simulator's agenda: events ordered by time, ties broken by insertion order.
//!
//! Ordering by `(time, insertion sequence)` is what makes a run reproducible: two events
//! scheduled for the same nanosecond always pop in the order they were pushed, whatever the
//! heap's internal layout. A zero-jitter link therefore never reorders datagrams.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use braid_proto::Instant;

/// One scheduled entry; ordered by `(at, seq)` only, so the payload needs no ordering.
struct Scheduled<E> {
    at: Instant,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Scheduled<E> {}

impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Scheduled<E> {
    /// Reversed so the max-heap `BinaryHeap` pops the earliest `(at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A min-priority queue of events keyed by time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self { heap: BinaryHeap::new(), next_seq: 0 }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at`; it pops after every event already scheduled at or before `at`.
    pub fn push(&mut self, at: Instant, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled { at, seq, event });
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|s| s.at)
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        self.heap.pop().map(|s| (s.at, s.event))
    }

    /// Number of scheduled events, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::default();
        let t = Instant::from_secs(3);
        for i in 0..100 {
            q.push(t, i);
        }
        q.push(Instant::from_secs(1), -1);
        assert_eq!(q.pop(), Some((Instant::from_secs(1), -1)));
        for i in 0..100 {
            assert_eq!(q.pop(), Some((t, i)));
        }
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    proptest! {
        #[test]
        fn pops_sorted_by_time_then_insertion(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::default();
            for (i, t) in times.iter().enumerate() {
                q.push(Instant::from_nanos(*t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let mut got = Vec::new();
            while let Some((at, i)) = q.pop() {
                got.push((at.as_nanos(), i));
            }
            prop_assert_eq!(got, expected);
        }
    }
}
