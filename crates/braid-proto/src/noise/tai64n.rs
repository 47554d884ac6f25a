//! TAI64N timestamps as the handshake initiation carries them (whitepaper §5.4.2).
//!
//! Twelve bytes: a big-endian 64-bit TAI64 label (Unix seconds + 2⁶² + 10) followed by a
//! big-endian 32-bit nanosecond count. Like the Linux kernel, the nanoseconds are rounded down
//! to a multiple of 2²⁴ ns (≈16.8 ms, the largest power of two below 1 s / 50 initiations), so
//! the timestamp does not leak fine-grained clock readings; the responder only needs it to be
//! strictly increasing to reject replayed initiations.

use core::time::Duration;

/// Length of an encoded TAI64N timestamp.
pub const TAI64N_LEN: usize = 12;

/// Offset between Unix seconds and the TAI64 label: 2⁶² (the TAI64 epoch bit) + 10 s (the
/// TAI−UTC difference in 1970, as the kernel and wireguard-go use it).
pub const TAI64_BASE: u64 = (1 << 62) + 10;

/// Nanoseconds are rounded down to a multiple of this (2²⁴ ns).
pub const TAI64N_WHITENING: u32 = 1 << 24;

/// A TAI64N timestamp. Orders like the bytes on the wire (big-endian seconds, then
/// nanoseconds), which is how a responder compares it with the last accepted one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tai64N([u8; TAI64N_LEN]);

impl Tai64N {
    /// All zeros: older than any real timestamp (the "nothing accepted yet" value).
    pub const ZERO: Tai64N = Tai64N([0; TAI64N_LEN]);

    /// The timestamp for `since_unix_epoch` (the caller reads the wall clock), with the
    /// nanoseconds rounded down to a multiple of 2²⁴.
    pub fn from_unix_time(since_unix_epoch: Duration) -> Self {
        let secs = TAI64_BASE.saturating_add(since_unix_epoch.as_secs());
        let nanos = since_unix_epoch.subsec_nanos() & !(TAI64N_WHITENING - 1);
        let mut out = [0u8; TAI64N_LEN];
        out[..8].copy_from_slice(&secs.to_be_bytes());
        out[8..].copy_from_slice(&nanos.to_be_bytes());
        Tai64N(out)
    }

    /// A timestamp as received (decrypted from an initiation).
    pub const fn from_bytes(bytes: [u8; TAI64N_LEN]) -> Self {
        Tai64N(bytes)
    }

    /// The 12 bytes sent on the wire.
    pub const fn as_bytes(&self) -> &[u8; TAI64N_LEN] {
        &self.0
    }

    /// The TAI64 label (Unix seconds + 2⁶² + 10 for a timestamp made here).
    pub fn tai64_seconds(&self) -> u64 {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(s)
    }

    /// The nanosecond field (not checked to be below 10⁹ for received timestamps).
    pub fn nanos(&self) -> u32 {
        let mut n = [0u8; 4];
        n.copy_from_slice(&self.0[8..]);
        u32::from_be_bytes(n)
    }

    /// Strictly newer than `other`: an initiation whose timestamp is not after the last
    /// accepted one is a replay.
    pub fn is_after(&self, other: &Tai64N) -> bool {
        self.0 > other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_the_tai64_base() {
        let t = Tai64N::from_unix_time(Duration::ZERO);
        // 2^62 + 10 = 0x4000_0000_0000_000a, the constant of wireguard-go's tai64n package.
        assert_eq!(t.as_bytes(), &[0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0]);
        assert_eq!(t.tai64_seconds(), 4_611_686_018_427_387_914);
        assert_eq!(t.nanos(), 0);
    }

    #[test]
    fn seconds_are_big_endian_after_the_base() {
        let t = Tai64N::from_unix_time(Duration::from_secs(1_700_000_000));
        assert_eq!(t.tai64_seconds(), (1u64 << 62) + 10 + 1_700_000_000);
        assert_eq!(&t.as_bytes()[..8], &((1u64 << 62) + 10 + 1_700_000_000).to_be_bytes());
    }

    #[test]
    fn nanoseconds_are_rounded_down_to_2_pow_24() {
        let n = |ns: u32| Tai64N::from_unix_time(Duration::new(5, ns)).nanos();
        assert_eq!(n(0), 0);
        assert_eq!(n(16_777_215), 0);
        assert_eq!(n(16_777_216), 16_777_216);
        assert_eq!(n(16_777_217), 16_777_216);
        assert_eq!(n(999_999_999), 59 * 16_777_216); // 989_855_744
        assert_eq!(&Tai64N::from_unix_time(Duration::new(5, 33_554_433)).as_bytes()[8..], &[0x02, 0, 0, 0]);
        for ns in [1u32, 12_345_678, 500_000_000, 987_654_321] {
            assert_eq!(n(ns) % TAI64N_WHITENING, 0);
            assert!(n(ns) <= ns && ns - n(ns) < TAI64N_WHITENING);
        }
    }

    #[test]
    fn ordering_is_strict_and_follows_time() {
        let a = Tai64N::from_unix_time(Duration::new(100, 0));
        let b = Tai64N::from_unix_time(Duration::new(100, 20_000_000)); // next 2^24 ns bucket
        let c = Tai64N::from_unix_time(Duration::new(101, 0));
        assert!(b.is_after(&a) && c.is_after(&b) && c.is_after(&a));
        assert!(!a.is_after(&a), "equal is a replay, not newer");
        assert!(!a.is_after(&b) && !b.is_after(&c));
        // Two readings within one 2^24 ns bucket are equal, so the second is not newer.
        let d = Tai64N::from_unix_time(Duration::new(100, 10_000_000));
        assert_eq!(a, d);
        assert!(!d.is_after(&a));
        // Seconds dominate nanoseconds.
        let late_nanos = Tai64N::from_unix_time(Duration::new(100, 999_999_999));
        assert!(c.is_after(&late_nanos));
        assert!(a.is_after(&Tai64N::ZERO));
        assert_eq!(Tai64N::default(), Tai64N::ZERO);
    }

    #[test]
    fn bytes_round_trip() {
        let t = Tai64N::from_unix_time(Duration::new(1_234_567_890, 700_000_000));
        assert_eq!(Tai64N::from_bytes(*t.as_bytes()), t);
    }
}
