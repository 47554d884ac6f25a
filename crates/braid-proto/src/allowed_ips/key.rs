//! Addresses as fixed-width bit strings, so one trie implementation serves both families.
//!
//! IPv4 keys are `u32` and IPv6 keys are `u128`, both holding the address in network order
//! (the first address bit is the integer's most significant bit). Keeping IPv4 in its own
//! 32-bit key keeps IPv4 trie nodes small, which is what keeps the per-packet lookup in cache.

/// A fixed-width address used as a trie key; prefix bit 0 is the most significant bit.
pub(super) trait TrieKey: Copy + Ord + core::fmt::Debug {
    /// Address width in bits: 32 for IPv4, 128 for IPv6; also the longest valid prefix.
    const WIDTH: u8;

    /// The key with only its first `len` bits kept (the host bits cleared); `len <= WIDTH`.
    fn masked(self, len: u8) -> Self;

    /// Bit `index` counted from the most significant end, as a child slot (0 or 1);
    /// `index < WIDTH`.
    fn bit(self, index: u8) -> usize;

    /// How many leading bits `self` and `other` share (`WIDTH` when they are equal).
    fn common_prefix_len(self, other: Self) -> u8;

    /// The first `bits` bits as an integer; `1 <= bits <= 16` (a shortcut table index).
    fn top_bits(self, bits: u8) -> usize;

    /// The key whose first `bits` bits are `top` and the rest zero; `1 <= bits <= 16`,
    /// `top < 1 << bits`.
    fn from_top_bits(top: usize, bits: u8) -> Self;

    /// The key with bit `index` (from the most significant end) set to `bit` (0 or 1); the bit
    /// must be clear before. `index < WIDTH`.
    fn with_bit(self, index: u8, bit: usize) -> Self;
}

macro_rules! impl_trie_key {
    ($int:ty) => {
        impl TrieKey for $int {
            const WIDTH: u8 = <$int>::BITS as u8;

            #[inline]
            fn masked(self, len: u8) -> Self {
                // A shift by the full width (len == 0) is out of range: nothing is kept.
                self & (!0 as $int).checked_shl(u32::from(Self::WIDTH - len)).unwrap_or(0)
            }

            #[inline]
            fn bit(self, index: u8) -> usize {
                ((self >> (Self::WIDTH - 1 - index)) & 1) as usize
            }

            #[inline]
            fn common_prefix_len(self, other: Self) -> u8 {
                (self ^ other).leading_zeros() as u8
            }

            #[inline]
            fn top_bits(self, bits: u8) -> usize {
                (self >> (Self::WIDTH - bits)) as usize
            }

            fn from_top_bits(top: usize, bits: u8) -> Self {
                (top as $int) << (Self::WIDTH - bits)
            }

            fn with_bit(self, index: u8, bit: usize) -> Self {
                self | ((bit as $int) << (Self::WIDTH - 1 - index))
            }
        }
    };
}

impl_trie_key!(u32);
impl_trie_key!(u128);

#[cfg(test)]
mod tests {
    use super::TrieKey;

    #[test]
    fn masking_keeps_exactly_the_prefix_bits() {
        assert_eq!(0xc0a8_04ffu32.masked(24), 0xc0a8_0400);
        assert_eq!(0xffff_ffffu32.masked(0), 0);
        assert_eq!(0xffff_ffffu32.masked(1), 0x8000_0000);
        assert_eq!(0xdead_beefu32.masked(32), 0xdead_beef);
        assert_eq!(u128::MAX.masked(0), 0);
        assert_eq!(u128::MAX.masked(128), u128::MAX);
        assert_eq!(u128::MAX.masked(64), u128::MAX << 64);
    }

    #[test]
    fn bits_are_numbered_from_the_most_significant_end() {
        assert_eq!(0x8000_0000u32.bit(0), 1);
        assert_eq!(0x8000_0000u32.bit(1), 0);
        assert_eq!(1u32.bit(31), 1);
        assert_eq!(1u128.bit(127), 1);
        assert_eq!((1u128 << 127).bit(0), 1);
    }

    #[test]
    fn top_bits_round_trip_and_single_bits_set() {
        assert_eq!(0xc0a8_0401u32.top_bits(16), 0xc0a8);
        assert_eq!(0xc0a8_0401u32.top_bits(1), 1);
        assert_eq!(u32::from_top_bits(0xc0a8, 16), 0xc0a8_0000);
        assert_eq!((0x2001u128 << 112 | 5).top_bits(16), 0x2001);
        assert_eq!(u128::from_top_bits(0x2001, 16), 0x2001u128 << 112);
        assert_eq!(0u32.with_bit(0, 1), 0x8000_0000);
        assert_eq!(0x8000_0000u32.with_bit(31, 1), 0x8000_0001);
        assert_eq!(0x8000_0000u32.with_bit(1, 0), 0x8000_0000);
        assert_eq!(0u128.with_bit(127, 1), 1);
    }

    #[test]
    fn common_prefix_counts_shared_leading_bits() {
        assert_eq!(0xc0a8_0000u32.common_prefix_len(0xc0a8_0000), 32);
        assert_eq!(0x8000_0000u32.common_prefix_len(0), 0);
        assert_eq!(0xc0a8_0400u32.common_prefix_len(0xc0a8_0500), 23);
        assert_eq!(0u128.common_prefix_len(1), 127);
    }
}
