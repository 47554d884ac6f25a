//! A hashed timing wheel (Varghese & Lauck, scheme 6) for keys that each have at most one
//! pending deadline.
//!
//! Time is cut into ticks of a fixed length; tick `t` hashes to slot `t mod slots`. The exact
//! deadline of every key lives in a map; the slots only say where to look when a tick passes.
//! Two choices keep the common operation — pushing a key's deadline later, once per packet —
//! free of any slot work:
//!
//! * **Lazy moves.** Each pending key has one slot item, in a slot whose tick is never later than
//!   its deadline's tick. Moving a deadline later only rewrites the map entry; when the old slot's
//!   tick passes, the item is found not yet due and moved to the slot of its real deadline. Only
//!   moving a deadline *earlier* than its item's slot pushes a new item (the old one goes stale).
//! * **Lazy deletion.** Cancelling removes the map entry; the item, now stale (its id no longer
//!   matches), is dropped when its slot is next visited. When stale items outnumber the live keys
//!   plus the slots, all slots are swept once, so memory stays O(keys + slots) and the sweep
//!   costs O(1) amortised per operation.
//!
//! Deadlines further away than one rotation simply stay in their slot when its tick passes and
//! are looked at again a rotation later. The earliest deadline is cached; when its key is moved,
//! cancelled or fired, it is recomputed on the next [`TimerWheel::next_deadline`] call by walking
//! the slots from the current tick until no unvisited key can be earlier (at most one rotation,
//! then a scan of the map).

use core::cell::Cell;
use core::fmt;
use core::hash::Hash;
use core::time::Duration;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::time::Instant;

/// A hasher with fixed keys: the core must not draw OS randomness, and timer keys are local
/// (peer ids and timer kinds), never chosen by the network, so hash flooding is not a concern.
type FixedState = BuildHasherDefault<DefaultHasher>;

/// The most slots [`TimerWheel::new`] allocates; larger requests are clamped.
const MAX_SLOTS: usize = 1 << 20;

/// Converts instants to tick numbers relative to the wheel's origin.
#[derive(Clone, Copy, Debug)]
struct Ticks {
    /// Nanosecond count of tick 0's start.
    origin: u64,
    /// Length of one tick in nanoseconds, at least 1.
    length: u64,
}

impl Ticks {
    /// The tick containing `t` (instants before the origin count as tick 0).
    fn of(self, t: Instant) -> u64 {
        t.as_nanos().saturating_sub(self.origin) / self.length
    }

    /// The first instant of `tick`, saturating at the far future.
    fn start(self, tick: u64) -> Instant {
        Instant::from_nanos(self.origin.saturating_add(tick.saturating_mul(self.length)))
    }
}

/// What the wheel knows about one scheduled key.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// When the key fires.
    deadline: Instant,
    /// Sequence number of the `schedule` call that set `deadline`; orders equal deadlines.
    seq: u64,
    /// Id of the key's live slot item; items with another id are stale.
    item: u64,
    /// Tick of the slot holding the live item: never later than the deadline's tick, and never
    /// earlier than the wheel's current tick.
    slot_tick: u64,
}

/// The cached answer of [`TimerWheel::next_deadline`].
#[derive(Clone, Copy, Debug)]
enum Earliest<K> {
    /// Must be recomputed (the earliest key was moved later, cancelled or fired).
    Unknown,
    /// Nothing is scheduled.
    Nothing,
    /// `K` is due at the earliest pending deadline.
    At(K, Instant),
}

/// Pending deadlines for a mostly fixed set of keys, at most one per key.
///
/// Made for per-peer protocol timers: the key is something like `(PeerId, TimerKind)`, and
/// scheduling a key again replaces its deadline. Guarantees: `schedule`, `cancel`, `deadline`
/// and `is_scheduled` are O(1) and, once the wheel has seen its working set, allocation-free;
/// [`expire`](Self::expire) reports every key whose exact deadline is at or before `now`, in
/// deadline order (equal deadlines in the order they were scheduled), deterministically;
/// [`next_deadline`](Self::next_deadline) is exactly the earliest pending deadline, so a driver
/// or simulator can sleep until it and never wake early or late. Ticks only bound the work per
/// `expire`, never the precision.
pub struct TimerWheel<K> {
    ticks: Ticks,
    /// `slots.len() - 1`; the slot count is a power of two.
    mask: u64,
    /// The tick of the latest `expire` (or of construction); all earlier ticks are done.
    current: u64,
    /// Slot `i` holds `(key, item id)` for ticks `≡ i (mod slots)`.
    slots: Vec<Vec<(K, u64)>>,
    pending: HashMap<K, Pending, FixedState>,
    /// Slot items whose key was cancelled, fired elsewhere or moved to a new item.
    stale: usize,
    /// Source of `Pending::seq` and item ids.
    next_seq: u64,
    earliest: Cell<Earliest<K>>,
    /// Scratch space for sorting fired keys, kept to avoid allocating per `expire`.
    fired: Vec<(Instant, u64, K)>,
}

impl<K: Copy + Eq + Hash> TimerWheel<K> {
    /// An empty wheel whose tick 0 starts at `now`, with ticks of `tick` and `slots` slots.
    ///
    /// `slots * tick` should cover the common timeouts (e.g. 512 × 100 ms ≈ 51 s for
    /// WireGuard's 5–15 s timers); longer deadlines work but are revisited once per rotation.
    /// A zero `tick` is taken as 1 ns; `slots` is rounded up to a power of two (at least 1,
    /// at most 2^20).
    pub fn new(now: Instant, tick: Duration, slots: usize) -> Self {
        let length = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        let slots = slots.clamp(1, MAX_SLOTS).next_power_of_two();
        TimerWheel {
            ticks: Ticks { origin: now.as_nanos(), length },
            mask: slots as u64 - 1,
            current: 0,
            slots: (0..slots).map(|_| Vec::new()).collect(),
            pending: HashMap::default(),
            stale: 0,
            next_seq: 0,
            earliest: Cell::new(Earliest::Nothing),
            fired: Vec::new(),
        }
    }

    /// Sets `key` to fire at `deadline`, replacing any deadline it had. A deadline at or before
    /// the last `expire` time fires at the next `expire`.
    pub fn schedule(&mut self, key: K, deadline: Instant) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let place = self.ticks.of(deadline).max(self.current);
        let mut new_item = true;
        match self.pending.entry(key) {
            Entry::Occupied(mut entry) => {
                let pending = entry.get_mut();
                if place < pending.slot_tick {
                    // The item sits in a later slot than the new deadline: leave it stale.
                    self.stale += 1;
                    *pending = Pending { deadline, seq, item: seq, slot_tick: place };
                } else {
                    // Later (or same slot): the existing item is early enough; move it lazily.
                    pending.deadline = deadline;
                    pending.seq = seq;
                    new_item = false;
                }
            }
            Entry::Vacant(entry) => {
                entry.insert(Pending { deadline, seq, item: seq, slot_tick: place });
            }
        }
        if new_item {
            let index = self.slot_index(place);
            self.slots[index].push((key, seq));
        }
        let earliest = match self.earliest.get() {
            Earliest::Nothing => Earliest::At(key, deadline),
            Earliest::At(k, d) if deadline < d || (k == key && deadline == d) => Earliest::At(key, deadline),
            Earliest::At(k, _) if k == key => Earliest::Unknown,
            other => other,
        };
        self.earliest.set(earliest);
        self.compact_if_stale();
    }

    /// Removes `key`'s pending deadline; returns whether it had one.
    pub fn cancel(&mut self, key: K) -> bool {
        if self.pending.remove(&key).is_none() {
            return false;
        }
        self.stale += 1;
        if self.pending.is_empty() {
            self.earliest.set(Earliest::Nothing);
        } else if matches!(self.earliest.get(), Earliest::At(k, _) if k == key) {
            self.earliest.set(Earliest::Unknown);
        }
        self.compact_if_stale();
        true
    }

    /// When `key` fires, if it is scheduled.
    pub fn deadline(&self, key: K) -> Option<Instant> {
        self.pending.get(&key).map(|p| p.deadline)
    }

    /// Whether `key` has a pending deadline.
    pub fn is_scheduled(&self, key: K) -> bool {
        self.pending.contains_key(&key)
    }

    /// Number of keys with a pending deadline.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no key is scheduled.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Appends to `out` every key whose deadline is at or before `now`, earliest first (equal
    /// deadlines in scheduling order), and unschedules them.
    ///
    /// Visits the slots of the ticks since the previous call (at most one rotation), so calling
    /// it at [`next_deadline`](Self::next_deadline) keeps the work proportional to what fires.
    /// A `now` earlier than a previous call's is harmless: only deadlines `<= now` fire.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        let target = self.ticks.of(now).max(self.current);
        let visits = (target - self.current).min(self.mask) + 1;
        let (ticks, mask) = (self.ticks, self.mask);
        self.fired.clear();
        for step in 0..visits {
            let index = self.slot_index(self.current + step);
            let mut items = core::mem::take(&mut self.slots[index]);
            let (pending_map, slots, fired, stale) =
                (&mut self.pending, &mut self.slots, &mut self.fired, &mut self.stale);
            items.retain(|&(key, item)| {
                let Some(pending) = pending_map.get_mut(&key).filter(|p| p.item == item) else {
                    *stale -= 1;
                    return false;
                };
                if pending.deadline <= now {
                    fired.push((pending.deadline, pending.seq, key));
                    pending_map.remove(&key);
                    return false;
                }
                // Not due yet (moved later, or a later rotation): file it under its own tick.
                let place = ticks.of(pending.deadline).max(target);
                pending.slot_tick = place;
                let destination = (place & mask) as usize;
                if destination == index {
                    return true;
                }
                slots[destination].push((key, item));
                false
            });
            self.slots[index] = items;
        }
        self.current = target;
        if self.fired.is_empty() {
            return;
        }
        self.fired.sort_unstable_by_key(|&(deadline, seq, _)| (deadline, seq));
        out.extend(self.fired.iter().map(|&(_, _, key)| key));
        self.earliest.set(if self.pending.is_empty() { Earliest::Nothing } else { Earliest::Unknown });
    }

    /// The earliest pending deadline, exactly; `None` when nothing is scheduled.
    ///
    /// O(1) while the cached earliest key is untouched; otherwise recomputed here by walking
    /// the slots from the current tick (bounded by one rotation, then a scan of the keys).
    pub fn next_deadline(&self) -> Option<Instant> {
        let earliest = match self.earliest.get() {
            Earliest::Unknown => {
                let found = self.find_earliest();
                self.earliest.set(found);
                found
            }
            known => known,
        };
        match earliest {
            Earliest::At(_, deadline) => Some(deadline),
            Earliest::Nothing | Earliest::Unknown => None,
        }
    }

    /// Slot of `tick`.
    fn slot_index(&self, tick: u64) -> usize {
        (tick & self.mask) as usize
    }

    /// Computes the earliest pending key without the cache.
    fn find_earliest(&self) -> Earliest<K> {
        // A live item in the slot of tick `s > current` belongs to a deadline in tick `s` or
        // later, so once the best deadline seen is no later than the start of the next tick to
        // visit, no unvisited key can beat it.
        let mut best: Option<(K, Pending)> = None;
        for step in 0..=self.mask {
            let Some(tick) = self.current.checked_add(step) else { break };
            for &(key, item) in &self.slots[self.slot_index(tick)] {
                if let Some(p) = self.pending.get(&key).filter(|p| p.item == item) {
                    if best.is_none_or(|(_, b)| (p.deadline, p.seq) < (b.deadline, b.seq)) {
                        best = Some((key, *p));
                    }
                }
            }
            if let Some((key, p)) = best {
                if p.deadline <= self.ticks.start(tick.saturating_add(1)) {
                    return Earliest::At(key, p.deadline);
                }
            }
        }
        // Every key is more than a rotation away: look at all of them.
        self.pending
            .iter()
            .min_by_key(|(_, p)| (p.deadline, p.seq))
            .map_or(Earliest::Nothing, |(&key, p)| Earliest::At(key, p.deadline))
    }

    /// Drops all stale items once they outnumber live keys plus slots (amortised O(1)).
    fn compact_if_stale(&mut self) {
        if self.stale <= self.pending.len() + self.slots.len() {
            return;
        }
        let pending = &self.pending;
        for slot in &mut self.slots {
            slot.retain(|(key, item)| pending.get(key).is_some_and(|p| p.item == *item));
        }
        self.stale = 0;
    }
}

impl<K: Copy + Eq + Hash + fmt::Debug> fmt::Debug for TimerWheel<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("tick", &Duration::from_nanos(self.ticks.length))
            .field("slots", &self.slots.len())
            .field("current_tick", &self.current)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const MS: u64 = 1_000_000;

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * MS)
    }

    fn wheel(slots: usize) -> TimerWheel<u32> {
        TimerWheel::new(Instant::ZERO, Duration::from_millis(10), slots)
    }

    fn expire(w: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        w.expire(now, &mut out);
        out
    }

    impl<K: Copy + Eq + Hash> TimerWheel<K> {
        /// Checks the bookkeeping: every live key has exactly one live item, in the slot of its
        /// `slot_tick`, which is not later than its deadline's tick nor earlier than `current`;
        /// the stale count matches.
        fn assert_consistent(&self) {
            let mut live = 0;
            let mut stale = 0;
            for (index, slot) in self.slots.iter().enumerate() {
                for (key, item) in slot {
                    match self.pending.get(key).filter(|p| p.item == *item) {
                        Some(p) => {
                            live += 1;
                            assert_eq!(self.slot_index(p.slot_tick), index);
                            assert!(p.slot_tick >= self.current);
                            assert!(p.slot_tick <= self.ticks.of(p.deadline).max(self.current));
                        }
                        None => stale += 1,
                    }
                }
            }
            assert_eq!(live, self.pending.len());
            assert_eq!(stale, self.stale);
        }
    }

    #[test]
    fn fires_in_deadline_order() {
        let mut w = wheel(16);
        w.schedule(1, ms(35));
        w.schedule(2, ms(12));
        w.schedule(3, ms(12)); // equal deadline, scheduled later: fires after 2
        w.schedule(4, ms(500));
        assert_eq!(w.next_deadline(), Some(ms(12)));
        assert_eq!(expire(&mut w, ms(11)), Vec::<u32>::new());
        assert_eq!(expire(&mut w, ms(40)), vec![2, 3, 1]);
        assert_eq!(w.len(), 1);
        assert_eq!(w.next_deadline(), Some(ms(500)));
        assert_eq!(expire(&mut w, ms(500)), vec![4]);
        assert_eq!(w.next_deadline(), None);
        assert!(w.is_empty());
        w.assert_consistent();
    }

    #[test]
    fn sub_tick_precision_is_kept() {
        let mut w = wheel(16);
        w.schedule(1, Instant::from_nanos(12 * MS + 7));
        assert_eq!(w.next_deadline(), Some(Instant::from_nanos(12 * MS + 7)));
        assert!(expire(&mut w, Instant::from_nanos(12 * MS + 6)).is_empty());
        assert_eq!(expire(&mut w, Instant::from_nanos(12 * MS + 7)), vec![1]);
    }

    #[test]
    fn rescheduling_replaces_the_deadline() {
        let mut w = wheel(16);
        w.schedule(1, ms(20));
        w.schedule(2, ms(30));
        w.schedule(1, ms(100)); // later: the old 20 ms must not fire
        assert_eq!(w.deadline(1), Some(ms(100)));
        assert_eq!(w.next_deadline(), Some(ms(30)));
        assert_eq!(expire(&mut w, ms(50)), vec![2]);
        w.schedule(1, ms(60)); // earlier again
        assert_eq!(w.next_deadline(), Some(ms(60)));
        assert!(expire(&mut w, ms(59)).is_empty());
        assert_eq!(expire(&mut w, ms(100)), vec![1]);
        assert!(expire(&mut w, ms(1000)).is_empty(), "a replaced deadline never fires");
        assert_eq!(w.len(), 0);
        w.assert_consistent();
    }

    #[test]
    fn pushing_forward_adds_no_slot_items() {
        let mut w = wheel(64);
        w.schedule(7, ms(100));
        for i in 1..10_000u64 {
            w.schedule(7, ms(100 + i));
        }
        let items: usize = w.slots.iter().map(Vec::len).sum();
        assert_eq!(items, 1);
        assert_eq!(w.next_deadline(), Some(ms(10_099)));
        assert_eq!(expire(&mut w, ms(10_099)), vec![7]);
    }

    #[test]
    fn cancel_unschedules() {
        let mut w = wheel(16);
        w.schedule(1, ms(20));
        w.schedule(2, ms(30));
        assert!(w.cancel(1));
        assert!(!w.cancel(1));
        assert!(!w.is_scheduled(1));
        assert_eq!(w.deadline(1), None);
        assert_eq!(w.next_deadline(), Some(ms(30)));
        assert_eq!(expire(&mut w, ms(100)), vec![2]);
        assert!(!w.cancel(3) && w.is_empty());
        w.schedule(1, ms(120));
        assert_eq!(expire(&mut w, ms(200)), vec![1]);
    }

    #[test]
    fn cancel_churn_keeps_memory_bounded() {
        let mut w = wheel(8);
        for i in 0..100_000u64 {
            w.schedule(1, ms(1000 - i % 900));
            w.cancel(1);
        }
        let items: usize = w.slots.iter().map(Vec::len).sum();
        assert!(items <= 2 * (w.len() + w.slots.len()) + 1, "{items} items");
        w.assert_consistent();
    }

    #[test]
    fn deadline_at_or_before_now_fires_at_next_expire() {
        let mut w = wheel(16);
        assert!(expire(&mut w, ms(100)).is_empty());
        w.schedule(1, ms(100)); // equal to now
        w.schedule(2, ms(40)); // already past
        assert_eq!(w.next_deadline(), Some(ms(40)));
        assert_eq!(expire(&mut w, ms(100)), vec![2, 1]);
        w.schedule(3, Instant::ZERO);
        assert_eq!(expire(&mut w, ms(100)), vec![3]);
    }

    #[test]
    fn far_deadlines_survive_many_rotations() {
        // 8 slots of 10 ms: an hour is 45 000 rotations away.
        let mut w = wheel(8);
        let hour = Instant::from_secs(3600);
        w.schedule(1, hour);
        w.schedule(2, hour + Duration::from_nanos(1));
        w.schedule(3, Instant::from_secs(2 * 3600));
        assert_eq!(w.next_deadline(), Some(hour));
        let mut now = Instant::ZERO;
        while now < hour {
            assert!(expire(&mut w, now).is_empty(), "nothing fires before the hour ({now:?})");
            now += Duration::from_millis(7_919);
        }
        assert_eq!(w.next_deadline(), Some(hour));
        assert_eq!(expire(&mut w, hour), vec![1]);
        assert_eq!(w.next_deadline(), Some(hour + Duration::from_nanos(1)));
        // One big jump over many rotations.
        assert_eq!(expire(&mut w, Instant::from_secs(3 * 3600)), vec![2, 3]);
        w.assert_consistent();
    }

    #[test]
    fn next_deadline_falls_back_when_everything_is_far() {
        let mut w = wheel(4);
        for k in 0..10 {
            w.schedule(k, Instant::from_secs(1000 + u64::from(k)));
        }
        w.schedule(100, ms(1));
        assert_eq!(w.next_deadline(), Some(ms(1)));
        assert_eq!(expire(&mut w, ms(1)), vec![100]);
        assert_eq!(w.next_deadline(), Some(Instant::from_secs(1000)));
        w.cancel(0);
        assert_eq!(w.next_deadline(), Some(Instant::from_secs(1001)));
    }

    #[test]
    fn many_keys() {
        let mut w: TimerWheel<u32> = TimerWheel::new(Instant::ZERO, Duration::from_millis(100), 512);
        let deadline = |k: u32| Instant::from_millis(u64::from(k).wrapping_mul(7919) % 600_000);
        for k in 0..20_000 {
            w.schedule(k, deadline(k));
        }
        assert_eq!(w.len(), 20_000);
        let mut out = Vec::new();
        let mut now = Instant::ZERO;
        while !w.is_empty() {
            let next = w.next_deadline().expect("keys are pending");
            assert!(next >= now);
            now = next;
            let before = out.len();
            w.expire(now, &mut out);
            assert!(out.len() > before, "next_deadline woke us for something");
        }
        assert_eq!(out.len(), 20_000);
        assert!(out.windows(2).all(|p| (deadline(p[0]), p[0]) < (deadline(p[1]), p[1])));
        w.assert_consistent();
    }

    #[test]
    fn silly_construction_parameters_are_clamped() {
        let mut w: TimerWheel<u8> = TimerWheel::new(ms(5), Duration::ZERO, 0);
        w.schedule(1, ms(7));
        w.schedule(2, ms(3)); // before the origin
        let mut out = Vec::new();
        w.expire(ms(7), &mut out);
        assert_eq!(out, vec![2, 1]);
        let mut w: TimerWheel<u8> = TimerWheel::new(Instant::ZERO, Duration::MAX, 3);
        w.schedule(1, Instant::from_nanos(u64::MAX));
        assert_eq!(w.next_deadline(), Some(Instant::from_nanos(u64::MAX)));
        out.clear();
        w.expire(Instant::from_nanos(u64::MAX), &mut out);
        assert_eq!(out, vec![1]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u8, i64),
        Cancel(u8),
        Expire(i64),
        Peek,
    }

    fn ops(tick_ms: i64, rotation_ms: i64) -> impl Strategy<Value = Vec<Op>> {
        let span = 3 * rotation_ms;
        let op = prop_oneof![
            // Deadlines on a coarse grid (ties, deadlines equal to `now`) or anywhere, from a
            // little in the past to several rotations ahead, sometimes hours ahead.
            4 => (0u8..12, -2 * tick_ms..span).prop_map(move |(k, d)| Op::Schedule(k, d - d % (tick_ms / 2).max(1))),
            2 => (0u8..12, -tick_ms..span).prop_map(|(k, d)| Op::Schedule(k, d)),
            1 => (0u8..12, 3_600_000i64..7_200_000).prop_map(|(k, d)| Op::Schedule(k, d)),
            2 => (0u8..12).prop_map(Op::Cancel),
            // Mostly forward, sometimes a jump over many rotations, rarely backwards.
            3 => (0i64..2 * rotation_ms).prop_map(Op::Expire),
            1 => (-tick_ms..tick_ms).prop_map(Op::Expire),
            1 => Just(Op::Expire(8_000_000)),
            1 => Just(Op::Peek),
        ];
        proptest::collection::vec(op, 1..200)
    }

    /// Offsets in milliseconds from `now`, clamped at the origin.
    fn at(now: u64, offset_ms: i64) -> Instant {
        Instant::from_nanos(now.saturating_add_signed(offset_ms * MS as i64))
    }

    /// Replays `ops` on a wheel and on a `BTreeMap` model. With `peek_always`, `next_deadline`
    /// is compared after every operation (so the cached minimum is updated incrementally);
    /// otherwise only on `Peek` (so it is often recomputed after several changes).
    fn check_against_model(tick_ms: u64, slots: usize, peek_always: bool, ops: &[Op]) -> Result<(), TestCaseError> {
        let origin = 1_000 * MS;
        let mut w: TimerWheel<u8> = TimerWheel::new(Instant::from_nanos(origin), Duration::from_millis(tick_ms), slots);
        let mut model: BTreeMap<u8, (Instant, u64)> = BTreeMap::new();
        let mut seq = 0u64;
        let mut now = origin;
        let mut out = Vec::new();
        for op in ops {
            match *op {
                Op::Schedule(k, offset) => {
                    let d = at(now, offset);
                    w.schedule(k, d);
                    model.insert(k, (d, seq));
                    seq += 1;
                }
                Op::Cancel(k) => prop_assert_eq!(w.cancel(k), model.remove(&k).is_some()),
                Op::Expire(advance) => {
                    now = at(now, advance).as_nanos();
                    let mut due: Vec<(Instant, u64, u8)> =
                        model.iter().filter(|(_, (d, _))| d.as_nanos() <= now).map(|(&k, &(d, s))| (d, s, k)).collect();
                    due.sort();
                    for &(_, _, k) in &due {
                        model.remove(&k);
                    }
                    out.clear();
                    w.expire(Instant::from_nanos(now), &mut out);
                    prop_assert_eq!(&out, &due.iter().map(|&(_, _, k)| k).collect::<Vec<_>>());
                }
                Op::Peek => {}
            }
            if peek_always || matches!(op, Op::Peek) {
                prop_assert_eq!(w.next_deadline(), model.values().map(|&(d, _)| d).min(), "after {:?}", op);
            }
            prop_assert_eq!(w.len(), model.len());
            for k in 0u8..12 {
                prop_assert_eq!(w.deadline(k), model.get(&k).map(|&(d, _)| d));
                prop_assert_eq!(w.is_scheduled(k), model.contains_key(&k));
            }
            w.assert_consistent();
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_model_small_wheel(ops in ops(10, 40)) {
            check_against_model(10, 4, true, &ops)?;
        }

        #[test]
        fn matches_model_small_wheel_rare_peeks(ops in ops(10, 40)) {
            check_against_model(10, 4, false, &ops)?;
        }

        #[test]
        fn matches_model_medium_wheel(ops in ops(10, 640)) {
            check_against_model(10, 64, true, &ops)?;
        }

        #[test]
        fn matches_model_single_slot(ops in ops(5, 5)) {
            check_against_model(5, 1, true, &ops)?;
        }
    }
}
