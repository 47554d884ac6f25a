//! Sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//!
//! A sequence number is only meaningful relative to another one less than 2^31 away, so [`Seq`]
//! deliberately has no total order: comparisons go through the signed wrapping difference, which is
//! what every acceptability test in the RFC means by "<" and "=<". Arithmetic never panics.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence or acknowledgment number with wrapping arithmetic and modular comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// The raw 32-bit value, as carried on the wire.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// Signed distance `self - other` modulo 2^32, interpreted in (-2^31, 2^31].
    pub const fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Bytes from `earlier` up to `self`, or 0 when `self` is not after `earlier`.
    ///
    /// This is the safe way to turn a pair of sequence numbers into a length.
    pub const fn since(self, earlier: Seq) -> u32 {
        let d = self.diff(earlier);
        if d > 0 {
            d as u32
        } else {
            0
        }
    }

    /// The later of the two (modulo 2^32).
    pub fn max(self, other: Seq) -> Seq {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }

    /// The earlier of the two (modulo 2^32).
    pub fn min(self, other: Seq) -> Seq {
        if self.diff(other) <= 0 {
            self
        } else {
            other
        }
    }

    /// `low <= self < high`, the half-open window test of RFC 9293 (empty when `high <= low`).
    pub fn in_window(self, low: Seq, high: Seq) -> bool {
        self >= low && self < high
    }
}

impl PartialOrd for Seq {
    /// Modular comparison: `a < b` iff `b - a` is in (0, 2^31). Two numbers exactly 2^31 apart
    /// each compare as less than the other; TCP never compares numbers that far apart.
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl Add<usize> for Seq {
    type Output = Seq;
    /// Adds a byte count; counts above 2^32 wrap like the sequence space itself.
    fn add(self, n: usize) -> Seq {
        Seq(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<u32> for Seq {
    fn add_assign(&mut self, n: u32) {
        *self = *self + n;
    }
}

impl AddAssign<usize> for Seq {
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl Sub<u32> for Seq {
    type Output = Seq;
    fn sub(self, n: u32) -> Seq {
        Seq(self.0.wrapping_sub(n))
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn comparisons_wrap_around_zero() {
        let a = Seq(u32::MAX - 10);
        let b = a + 20u32;
        assert_eq!(b.0, 9);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b.since(a), 20);
        assert_eq!(a.since(b), 0);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
        assert!(Seq(5).in_window(a, b));
        assert!(!b.in_window(a, b));
        assert!(!Seq(5).in_window(b, a));
    }

    proptest! {
        #[test]
        fn adding_moves_forward(a in any::<u32>(), n in 1u32..(1 << 31)) {
            let a = Seq(a);
            let b = a + n;
            prop_assert!(a < b);
            prop_assert!(b > a);
            prop_assert!(a <= b);
            prop_assert!(b >= a);
            prop_assert_eq!(b.since(a), n);
            prop_assert_eq!(b.diff(a), n as i32);
            prop_assert_eq!(b - n, a);
        }

        #[test]
        fn order_is_antisymmetric_and_max_min_agree(a in any::<u32>(), b in any::<u32>()) {
            let (a, b) = (Seq(a), Seq(b));
            if a.diff(b) != i32::MIN {
                prop_assert_eq!(a < b, b > a);
                prop_assert!(!(a < b && b < a));
                prop_assert_eq!(a.max(b), b.max(a));
                prop_assert_eq!(a.min(b), b.min(a));
            }
            prop_assert!(a.max(b) >= a.min(b));
        }

        #[test]
        fn window_test_matches_offsets(low in any::<u32>(), size in 0u32..(1 << 30), off in 0u32..(1 << 31)) {
            let low = Seq(low);
            let high = low + size;
            prop_assert_eq!((low + off).in_window(low, high), off < size);
        }
    }
}
