//! The receive-side anti-replay window (RFC 6479, as the Linux kernel's WireGuard applies it).
//!
//! Every transport message carries a 64-bit counter. An attacker can capture an authentic packet
//! and send it again; the AEAD tag still verifies, so only the counter can reveal the replay. The
//! window remembers which of the most recent counters were already accepted and refuses
//! everything older than that, while still letting packets that UDP (or multipath bonding)
//! reordered inside the window through.
//!
//! The check runs **after** the AEAD tag verified: updating the window with an unauthenticated
//! counter would let anyone push the window forward and make the real peer's packets look old.
//!
//! RFC 6479's layout: a ring of `u64` blocks whose count is a power of two, one block more than
//! the window needs. A counter's bit has a fixed position (`counter / 64` picks the block,
//! `counter % 64` the bit), so nothing is ever shifted; advancing the window only zeroes the
//! blocks it newly enters, and the spare block keeps the oldest blocks of the window intact while
//! the newest one is being filled. Unlike the RFC's reference code, counter 0 is an ordinary
//! counter here: WireGuard sessions start counting at 0.

use crate::constants::{DEFAULT_REPLAY_WINDOW, REJECT_AFTER_MESSAGES};

/// Bits per bitmap block.
const BLOCK_BITS: u64 = u64::BITS as u64;

/// Anti-replay state of one receiving session: which recent counters were already accepted.
///
/// Guarantees: a counter is accepted at most once; counters at or beyond
/// [`REJECT_AFTER_MESSAGES`] are never accepted; a counter more than [`window`](Self::window)
/// below the highest accepted one is refused; every other counter not yet accepted is accepted.
/// The bitmap is allocated once in [`new`](Self::new); checking a packet never allocates and
/// costs O(1) amortised (a jump ahead zeroes at most the whole ring once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Ring of bit blocks; its length is a power of two.
    bitmap: Box<[u64]>,
    /// How far behind the highest accepted counter a counter may be and still be accepted.
    window: u64,
    /// Highest accepted counter plus one; 0 while nothing was accepted. Keeping it shifted by one
    /// lets counter 0 be a normal first counter without a separate "empty" flag.
    top: u64,
}

impl ReplayWindow {
    /// The largest window [`new`](Self::new) honours (larger requests are clamped to it): 2^24
    /// packets, a 2 MiB bitmap per session. It exists so a configuration typo cannot make every
    /// session allocate gigabytes; it is far beyond any useful reordering depth.
    pub const MAX_WINDOW: usize = 1 << 24;

    /// A window accepting counters up to `window` packets behind the highest one accepted.
    ///
    /// The bitmap gets the smallest power-of-two number of `u64` blocks that covers `window`
    /// plus RFC 6479's spare block, so the kernel's default of 8128 uses exactly 8192 bits. A
    /// window of the form `64 * 2^k - 64` wastes no memory. `window` is clamped to
    /// [`MAX_WINDOW`](Self::MAX_WINDOW); 0 means only strictly increasing counters are accepted.
    pub fn new(window: usize) -> Self {
        let window = window.min(Self::MAX_WINDOW) as u64;
        let blocks = (window.div_ceil(BLOCK_BITS) + 1).next_power_of_two();
        ReplayWindow { bitmap: vec![0; blocks as usize].into_boxed_slice(), window, top: 0 }
    }

    /// How many packets behind the highest accepted counter a counter may be and still pass.
    pub fn window(&self) -> usize {
        self.window as usize
    }

    /// The highest counter accepted so far, `None` before the first packet. Sessions use it to
    /// report and to decide when the peer is about to run out of counters.
    pub fn max_seen(&self) -> Option<u64> {
        self.top.checked_sub(1)
    }

    /// Accepts `counter` if it was not accepted before and is neither too old nor too large,
    /// marking it as seen; returns `false` (and changes nothing) otherwise.
    ///
    /// Call this only after the packet's AEAD tag verified.
    pub fn check_and_update(&mut self, counter: u64) -> bool {
        if counter >= REJECT_AFTER_MESSAGES {
            return false;
        }
        // Cannot overflow: counter < REJECT_AFTER_MESSAGES < u64::MAX.
        let position = counter + 1;
        if position <= self.top && self.top - position > self.window {
            return false;
        }
        let mask = self.bitmap.len() as u64 - 1;
        let block = position / BLOCK_BITS;
        if position > self.top {
            // Zero the blocks the window newly enters; a jump longer than the ring zeroes it all.
            let current = self.top / BLOCK_BITS;
            let entered = (block - current).min(mask + 1);
            for step in 1..=entered {
                if let Some(slot) = self.bitmap.get_mut(((current + step) & mask) as usize) {
                    *slot = 0;
                }
            }
            self.top = position;
        }
        let bit = 1u64 << (position % BLOCK_BITS);
        match self.bitmap.get_mut((block & mask) as usize) {
            Some(slot) if *slot & bit == 0 => {
                *slot |= bit;
                true
            }
            _ => false,
        }
    }

    /// Forgets every counter, as for a fresh session (the bitmap is reused, not reallocated).
    pub fn reset(&mut self) {
        self.bitmap.fill(0);
        self.top = 0;
    }
}

impl Default for ReplayWindow {
    /// The kernel's window of [`DEFAULT_REPLAY_WINDOW`] (8128) packets.
    fn default() -> Self {
        ReplayWindow::new(DEFAULT_REPLAY_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Feeds `steps` of (counter, expected verdict) and names the first step that disagrees.
    fn run_steps(w: &mut ReplayWindow, label: &str, steps: &[(u64, bool)]) {
        for (i, &(counter, expected)) in steps.iter().enumerate() {
            assert_eq!(
                w.check_and_update(counter),
                expected,
                "{label}: step {} (counter {counter}) of window {}",
                i + 1,
                w.window()
            );
        }
    }

    /// The 34 single steps of the kernel's self-test (drivers/net/wireguard/selftest/counter.c),
    /// parameterised by the window so they also run on larger windows.
    fn kernel_steps(window: u64) -> Vec<(u64, bool)> {
        let lim = window + 1;
        let ram = REJECT_AFTER_MESSAGES;
        vec![
            (0, true),
            (1, true),
            (1, false),
            (9, true),
            (8, true),
            (7, true),
            (7, false),
            (lim, true),
            (lim - 1, true),
            (lim - 1, false),
            (lim - 2, true),
            (2, true),
            (2, false),
            (lim + 16, true),
            (3, false),
            (lim + 16, false),
            (lim * 4, true),
            (lim * 4 - (lim - 1), true),
            (10, false),
            (lim * 4 - lim, false),
            (lim * 4 - (lim + 1), false),
            (lim * 4 - (lim - 2), true),
            (lim * 4 + 1 - lim, false),
            (0, false),
            (ram, false),
            (ram - 1, true),
            (ram, false),
            (ram - 1, false),
            (ram - 2, true),
            (ram + 1, false),
            (ram + 2, false),
            (ram - 2, false),
            (ram - 3, true),
            (0, false),
        ]
    }

    /// The kernel's bulk sequences: fills in order and in reverse up to the window edge.
    fn kernel_bulk(window_size: usize) {
        let n = window_size as u64;
        let mut w = ReplayWindow::new(window_size);

        // In order 1..=n, then 0 is exactly `n` behind (accepted once).
        let mut steps: Vec<(u64, bool)> = (1..=n).map(|c| (c, true)).collect();
        steps.extend([(0, true), (0, false)]);
        run_steps(&mut w, "in-order fill", &steps);

        // In order 2..=n+1, then 1 is at the edge and 0 one past it.
        w.reset();
        let mut steps: Vec<(u64, bool)> = (2..=n + 1).map(|c| (c, true)).collect();
        steps.extend([(1, true), (0, false)]);
        run_steps(&mut w, "shifted in-order fill", &steps);

        // Reverse n..=0: every counter lies within the window of the first one.
        w.reset();
        let steps: Vec<(u64, bool)> = (0..=n).rev().map(|c| (c, true)).collect();
        run_steps(&mut w, "reverse fill", &steps);

        // Reverse n+1..=1, then 0 is one past the edge.
        w.reset();
        let mut steps: Vec<(u64, bool)> = (1..=n + 1).rev().map(|c| (c, true)).collect();
        steps.push((0, false));
        run_steps(&mut w, "shifted reverse fill", &steps);

        // Reverse n..=1, then n+1 advances the window and pushes 0 out.
        w.reset();
        let mut steps: Vec<(u64, bool)> = (1..=n).rev().map(|c| (c, true)).collect();
        steps.extend([(n + 1, true), (0, false)]);
        run_steps(&mut w, "reverse fill then advance", &steps);

        // Reverse n..=1, 0 while still inside, then n+1.
        w.reset();
        let mut steps: Vec<(u64, bool)> = (1..=n).rev().map(|c| (c, true)).collect();
        steps.extend([(0, true), (n + 1, true)]);
        run_steps(&mut w, "reverse fill, zero, advance", &steps);
    }

    #[test]
    fn kernel_selftest_default_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.window(), 8128);
        assert_eq!(w.bitmap.len(), 128, "the kernel's 8192-bit bitmap");
        run_steps(&mut w, "kernel steps", &kernel_steps(8128));
        kernel_bulk(8128);
    }

    #[test]
    fn kernel_selftest_large_window() {
        let mut w = ReplayWindow::new(65536);
        run_steps(&mut w, "kernel steps", &kernel_steps(65536));
        kernel_bulk(65536);
    }

    #[test]
    fn kernel_selftest_odd_window() {
        // Not a multiple of 64: the edge must be exact, not rounded to the bitmap.
        let mut w = ReplayWindow::new(1000);
        run_steps(&mut w, "kernel steps", &kernel_steps(1000));
        kernel_bulk(1000);
    }

    #[test]
    fn counter_zero_is_a_valid_first_counter() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.max_seen(), None);
        assert!(w.check_and_update(0));
        assert_eq!(w.max_seen(), Some(0));
        assert!(!w.check_and_update(0));
    }

    #[test]
    fn reset_forgets_everything() {
        let mut w = ReplayWindow::default();
        assert!(w.check_and_update(5));
        assert!(w.check_and_update(100_000));
        w.reset();
        assert_eq!(w.max_seen(), None);
        assert!(w.check_and_update(5));
        assert!(w.check_and_update(0));
        assert!(!w.check_and_update(5));
    }

    #[test]
    fn far_jump_clears_stale_bits() {
        // After a jump far beyond the ring, counters that share a bit position with old ones
        // must not look already seen.
        let mut w = ReplayWindow::new(128);
        for c in 0..200 {
            assert!(w.check_and_update(c));
        }
        let ring_bits = w.bitmap.len() as u64 * 64;
        let base = 10 * ring_bits;
        assert!(w.check_and_update(base + 150));
        for c in base + 30..base + 150 {
            assert!(w.check_and_update(c), "counter {c}");
        }
        assert!(!w.check_and_update(base + 21), "more than the window behind");
    }

    #[test]
    fn window_zero_accepts_only_increasing_counters() {
        let mut w = ReplayWindow::new(0);
        assert!(w.check_and_update(3));
        assert!(!w.check_and_update(2));
        assert!(!w.check_and_update(3));
        assert!(w.check_and_update(64));
        assert!(w.check_and_update(65));
        assert!(!w.check_and_update(64));
    }

    #[test]
    fn oversized_window_is_clamped() {
        let w = ReplayWindow::new(usize::MAX);
        assert_eq!(w.window(), ReplayWindow::MAX_WINDOW);
    }

    #[test]
    fn bitmap_is_the_smallest_power_of_two_with_a_spare_block() {
        for (window, blocks) in [(0, 1), (1, 2), (64, 2), (65, 4), (8128, 128), (8129, 256), (65472, 1024)] {
            assert_eq!(ReplayWindow::new(window).bitmap.len(), blocks, "window {window}");
        }
    }

    /// The obvious implementation: every accepted counter in a set.
    struct Model {
        seen: BTreeSet<u64>,
        max: Option<u64>,
        window: u64,
    }

    impl Model {
        fn check_and_update(&mut self, c: u64) -> bool {
            let too_old = self.max.is_some_and(|m| c < m && m - c > self.window);
            if c >= REJECT_AFTER_MESSAGES || too_old || self.seen.contains(&c) {
                return false;
            }
            self.seen.insert(c);
            self.max = Some(self.max.map_or(c, |m| m.max(c)));
            true
        }
    }

    /// A counter stream mixing small steps around a moving point, jumps and absolute values.
    fn counters(window: u64) -> impl Strategy<Value = Vec<u64>> {
        let step = prop_oneof![
            4 => (-4i64..=4).prop_map(|d| (false, d as u64)),
            4 => (-(window as i64) - 70..window as i64 + 70).prop_map(|d| (false, d as u64)),
            1 => (0..u64::MAX).prop_map(|c| (true, c)),
            1 => (0..10u64).prop_map(|c| (true, REJECT_AFTER_MESSAGES - 5 + c)),
            1 => (0u64..200).prop_map(|c| (true, c)),
        ];
        proptest::collection::vec(step, 1..400).prop_map(|steps| {
            let mut at = 0u64;
            steps
                .into_iter()
                .map(|(absolute, v)| {
                    at = if absolute { v } else { at.wrapping_add(v) };
                    at
                })
                .collect()
        })
    }

    fn check_against_model(window: usize, seq: &[u64]) -> Result<(), TestCaseError> {
        let mut w = ReplayWindow::new(window);
        let mut model = Model { seen: BTreeSet::new(), max: None, window: window as u64 };
        for (i, &c) in seq.iter().enumerate() {
            prop_assert_eq!(w.check_and_update(c), model.check_and_update(c), "step {} counter {}", i, c);
            prop_assert_eq!(w.max_seen(), model.max);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_model_window_0(seq in counters(0)) { check_against_model(0, &seq)?; }

        #[test]
        fn matches_model_window_63(seq in counters(63)) { check_against_model(63, &seq)?; }

        #[test]
        fn matches_model_window_200(seq in counters(200)) { check_against_model(200, &seq)?; }

        #[test]
        fn matches_model_window_8128(seq in counters(8128)) { check_against_model(8128, &seq)?; }

        #[test]
        fn matches_model_window_65536(seq in counters(65536)) { check_against_model(65536, &seq)?; }
    }
}
