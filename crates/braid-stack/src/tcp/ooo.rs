//! A bounded set of disjoint byte ranges that merges on insert.
//!
//! The receive side uses it to remember which out-of-order bytes sit in the receive ring beyond the
//! first hole (and to build SACK blocks from them, most recently changed first, RFC 2018 §4); the
//! send side reuses it as the SACK scoreboard. Offsets are 64-bit stream offsets, so nothing here
//! ever wraps. The capacity is a compile-time constant: a flood of tiny disjoint segments cannot
//! grow memory, it only makes [`RangeSet::insert`] refuse new islands.

/// One half-open range `[start, end)` of stream offsets plus when it last grew.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Entry {
    start: u64,
    end: u64,
    /// Value of the insert counter when this range was created or last extended.
    stamp: u64,
}

/// The set could not take a new disjoint range because it already holds `N` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSetFull;

/// At most `N` disjoint, non-adjacent half-open ranges, kept sorted by start.
#[derive(Clone, Debug)]
pub struct RangeSet<const N: usize> {
    entries: [Entry; N],
    len: usize,
    counter: u64,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        RangeSet { entries: [Entry::default(); N], len: 0, counter: 0 }
    }
}

impl<const N: usize> RangeSet<N> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of disjoint ranges held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no range is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every range.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The ranges in increasing order, as `(start, end)` pairs.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.entries[..self.len].iter().map(|e| (e.start, e.end))
    }

    /// The lowest range, if any.
    pub fn first(&self) -> Option<(u64, u64)> {
        self.iter().next()
    }

    /// The highest range, if any.
    pub fn last(&self) -> Option<(u64, u64)> {
        self.iter().next_back()
    }

    /// Adds `[start, end)`, merging it with every range it overlaps or touches. Returns
    /// `Err(RangeSetFull)` (and changes nothing) only when the range is disjoint from all others and
    /// the set is full. Empty ranges are ignored.
    pub fn insert(&mut self, start: u64, end: u64) -> Result<(), RangeSetFull> {
        if start >= end {
            return Ok(());
        }
        // First entry that ends at or after `start` (it may touch or overlap).
        let first = self.entries[..self.len].iter().position(|e| e.end >= start).unwrap_or(self.len);
        // One past the last entry that starts at or before `end`.
        let last = self.entries[..self.len].iter().rposition(|e| e.start <= end).map_or(0, |i| i + 1);
        self.counter += 1;
        if first >= last {
            // Disjoint: insert a new entry at `first`.
            if self.len == N {
                return Err(RangeSetFull);
            }
            self.entries.copy_within(first..self.len, first + 1);
            self.entries[first] = Entry { start, end, stamp: self.counter };
            self.len += 1;
            return Ok(());
        }
        let merged = Entry {
            start: start.min(self.entries[first].start),
            end: end.max(self.entries[last - 1].end),
            stamp: self.counter,
        };
        self.entries[first] = merged;
        let removed = last - first - 1;
        if removed > 0 {
            self.entries.copy_within(last..self.len, first + 1);
            self.len -= removed;
        }
        Ok(())
    }

    /// Removes everything below `offset` (ranges are cut at it).
    pub fn remove_below(&mut self, offset: u64) {
        let keep_from = self.entries[..self.len].iter().position(|e| e.end > offset).unwrap_or(self.len);
        self.entries.copy_within(keep_from..self.len, 0);
        self.len -= keep_from;
        if let Some(e) = self.entries[..self.len].first_mut() {
            e.start = e.start.max(offset);
        }
    }

    /// If the lowest range starts at or before `offset`, removes it and returns its end: the caller's
    /// contiguous data now extends to there.
    pub fn pop_reaching(&mut self, offset: u64) -> Option<u64> {
        let first = self.first()?;
        if first.0 > offset {
            return None;
        }
        self.entries.copy_within(1..self.len, 0);
        self.len -= 1;
        Some(first.1)
    }

    /// True when `offset` lies inside a held range.
    pub fn contains(&self, offset: u64) -> bool {
        self.iter().any(|(s, e)| s <= offset && offset < e)
    }

    /// Total bytes covered.
    pub fn covered(&self) -> u64 {
        self.iter().map(|(s, e)| e - s).sum()
    }

    /// Up to `out.len()` ranges, the most recently created or extended first (RFC 2018 §4 wants
    /// the block holding the newest segment first). Returns how many were written.
    pub fn most_recent(&self, out: &mut [(u64, u64)]) -> usize {
        let mut written = 0;
        let mut below = u64::MAX;
        while written < out.len() {
            // Next-newest entry strictly older than the previous pick (stamps are unique).
            let best = self.entries[..self.len].iter().filter(|e| e.stamp < below).max_by_key(|e| e.stamp);
            let Some(best) = best else { break };
            out[written] = (best.start, best.end);
            below = best.stamp;
            written += 1;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        let mut s = RangeSet::<4>::new();
        s.insert(10, 20).unwrap();
        s.insert(30, 40).unwrap();
        s.insert(20, 25).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(10, 25), (30, 40)]);
        s.insert(5, 35).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(5, 40)]);
        s.insert(50, 60).unwrap();
        s.insert(70, 80).unwrap();
        s.insert(90, 95).unwrap();
        assert_eq!(s.insert(100, 101), Err(RangeSetFull));
        assert_eq!(s.len(), 4);
        s.insert(60, 70).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(5, 40), (50, 80), (90, 95)]);
        assert_eq!(s.pop_reaching(4), None);
        assert_eq!(s.pop_reaching(5), Some(40));
        s.remove_below(60);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(60, 80), (90, 95)]);
        assert_eq!(s.covered(), 25);
        assert!(s.contains(90) && !s.contains(95));
    }

    #[test]
    fn most_recent_orders_by_last_change() {
        let mut s = RangeSet::<8>::new();
        s.insert(10, 20).unwrap();
        s.insert(30, 40).unwrap();
        s.insert(50, 60).unwrap();
        s.insert(20, 22).unwrap(); // extends the first range: now the newest
        let mut out = [(0, 0); 2];
        assert_eq!(s.most_recent(&mut out), 2);
        assert_eq!(out, [(10, 22), (50, 60)]);
        let mut all = [(0, 0); 5];
        assert_eq!(s.most_recent(&mut all), 3);
    }

    proptest! {
        /// Against a bitmap model: the set covers exactly the inserted bytes (when nothing was
        /// refused), stays sorted, disjoint and non-adjacent.
        #[test]
        fn matches_a_bitmap(ranges in proptest::collection::vec((0u64..200, 0u64..20), 0..40)) {
            let mut s = RangeSet::<64>::new();
            let mut model = [false; 220];
            for (start, len) in ranges {
                s.insert(start, start + len).unwrap();
                for b in &mut model[start as usize..(start + len) as usize] {
                    *b = true;
                }
            }
            let mut covered = [false; 220];
            let mut prev_end = None;
            for (a, b) in s.iter() {
                prop_assert!(a < b);
                if let Some(p) = prev_end {
                    prop_assert!(a > p, "ranges must be disjoint and non-adjacent");
                }
                prev_end = Some(b);
                for c in &mut covered[a as usize..b as usize] {
                    *c = true;
                }
            }
            prop_assert_eq!(&covered[..], &model[..]);
        }
    }
}
