//! The per-source token bucket that handshake messages with a valid mac2 pass under load.

use crate::constants::{RATELIMIT_BURST, RATELIMIT_PACKETS_PER_SECOND};
use crate::time::Instant;
use core::net::IpAddr;
use std::collections::HashMap;

/// How many sources the limiter tracks at most by default: the kernel's table size on any
/// host with more than 1 GiB (at about 40 bytes an entry, under 3 MiB).
pub const DEFAULT_RATELIMIT_MAX_SOURCES: usize = 65536;
/// The overflow bucket (shared by every source that finds the table full) refills this many
/// times faster, with a burst this many times larger, than one source's: it stands for many
/// sources at once, and still bounds the handshake work they can cause.
const OVERFLOW_FACTOR: u64 = 16;

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Tokens are nanoseconds of credit: one packet costs this many (50 ms at 20 packets/s).
const PACKET_COST_NS: u64 = NANOS_PER_SEC / RATELIMIT_PACKETS_PER_SECOND as u64;
/// A full bucket: the burst (5 packets × 50 ms).
const BUCKET_CAPACITY_NS: u64 = PACKET_COST_NS * RATELIMIT_BURST as u64;
/// A source idle for longer than this is forgotten. Its bucket refilled completely after
/// `BUCKET_CAPACITY_NS` (250 ms), so forgetting it loses nothing: a new entry starts full too.
const IDLE_EXPIRY_NS: u64 = NANOS_PER_SEC;
/// The table is swept for idle sources at most this often (amortised inside `allow`).
const SWEEP_INTERVAL_NS: u64 = NANOS_PER_SEC;

/// What a bucket is keyed by: an IPv4 address, or the /64 prefix of an IPv6 address (one
/// host usually owns a whole /64, so per-address buckets would let it rotate addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl SourceKey {
    fn of(ip: IpAddr) -> Self {
        // An IPv4-mapped IPv6 address is its IPv4 address: keying it by its /64 would put the
        // whole IPv4 internet (as seen through a dual-stack socket) into a single bucket.
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceKey::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let o = v6.octets();
                SourceKey::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        }
    }
}

/// One source's bucket (or the overflow's, `scale` times larger and faster).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Credit in nanoseconds, at most `BUCKET_CAPACITY_NS` × scale.
    tokens_ns: u64,
    /// The latest time this bucket was updated.
    last_ns: u64,
}

impl Bucket {
    /// Refills for the time since the last packet (`scale` nanoseconds of credit per
    /// nanosecond) and takes one packet's worth if there is enough.
    fn take(&mut self, now_ns: u64, scale: u64) -> bool {
        // A clock that steps backwards earns no credit and does not move `last_ns` back
        // (which would credit the same interval twice later).
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        self.tokens_ns = self.tokens_ns.saturating_add(elapsed.saturating_mul(scale)).min(BUCKET_CAPACITY_NS * scale);
        if self.tokens_ns < PACKET_COST_NS {
            return false;
        }
        self.tokens_ns -= PACKET_COST_NS;
        true
    }
}

/// A token bucket per source: each IPv4 address or IPv6 /64 may send a burst of
/// [`RATELIMIT_BURST`] (5) handshake messages, refilled at [`RATELIMIT_PACKETS_PER_SECOND`]
/// (20/s). Per source, not global, so one flooding address cannot starve the others.
///
/// Guarantees: in any window of length t a source is allowed at most `5 + ⌊t / 50 ms⌋`
/// packets — the arithmetic is exact integer nanoseconds, no rounding drift. Memory is
/// bounded: sources idle for over 1 s are swept out (at most once a second, inside
/// [`allow`](Self::allow)), and the table never holds more than its maximum number of sources.
/// When it is full, a *new* source is not refused (that let an attacker who keeps the table
/// warm lock out every peer that was not in it yet): it is served from one shared overflow
/// bucket, 16 times a source's rate and burst, until the sweep frees an entry for it. Known
/// sources keep their own buckets; the total work the overflow admits stays bounded.
/// (Under load only messages with a valid mac2 get here, so each flooding source must really
/// receive at its address.)
///
/// The table is a std `HashMap` with its randomly keyed SipHash: the keys are chosen by
/// remote senders, so a fixed hash would invite collision flooding. The limiter's decisions
/// never depend on the hash keys, so its behaviour stays deterministic.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: HashMap<SourceKey, Bucket>,
    max_sources: usize,
    last_sweep: Instant,
    /// Shared by the sources that found the table full.
    overflow: Bucket,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter tracking at most [`DEFAULT_RATELIMIT_MAX_SOURCES`] sources.
    pub fn new() -> Self {
        Self::with_max_sources(DEFAULT_RATELIMIT_MAX_SOURCES)
    }

    /// A limiter tracking at most `max_sources` sources at a time (a memory bound).
    pub fn with_max_sources(max_sources: usize) -> Self {
        let overflow = Bucket { tokens_ns: BUCKET_CAPACITY_NS * OVERFLOW_FACTOR, last_ns: 0 };
        RateLimiter { buckets: HashMap::new(), max_sources, last_sweep: Instant::ZERO, overflow }
    }

    /// Takes one token from `ip`'s bucket: true if the packet may be processed, false if the
    /// source exceeded its rate (or is new while the table is full).
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.last_sweep.has_elapsed(now, core::time::Duration::from_nanos(SWEEP_INTERVAL_NS)) {
            self.sweep(now);
        }
        let now_ns = now.as_nanos();
        let key = SourceKey::of(ip);
        if let Some(bucket) = self.buckets.get_mut(&key) {
            return bucket.take(now_ns, 1);
        }
        if self.buckets.len() >= self.max_sources {
            return self.overflow.take(now_ns, OVERFLOW_FACTOR);
        }
        self.buckets.insert(key, Bucket { tokens_ns: BUCKET_CAPACITY_NS - PACKET_COST_NS, last_ns: now_ns });
        true
    }

    /// Forgets every source idle for more than 1 s. [`allow`](Self::allow) calls this once a
    /// second; a driver may also call it from a timer to release memory after a flood ends.
    pub fn sweep(&mut self, now: Instant) {
        let now_ns = now.as_nanos();
        self.buckets.retain(|_, b| now_ns.saturating_sub(b.last_ns) <= IDLE_EXPIRY_NS);
        self.last_sweep = now;
    }

    /// How many sources are tracked right now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    const T0: u64 = 10 * NANOS_PER_SEC;

    #[test]
    fn burst_of_five_then_twenty_per_second_exactly() {
        let mut rl = RateLimiter::new();
        let ip = v4(0x0a00_0001);
        let t0 = Instant::from_nanos(T0);
        for i in 0..5 {
            assert!(rl.allow(t0, ip), "burst packet {i}");
        }
        assert!(!rl.allow(t0, ip), "sixth packet of the burst");
        // One token takes exactly 50 ms to come back.
        assert!(!rl.allow(Instant::from_nanos(T0 + PACKET_COST_NS - 1), ip));
        assert!(rl.allow(Instant::from_nanos(T0 + PACKET_COST_NS), ip));
        assert!(!rl.allow(Instant::from_nanos(T0 + PACKET_COST_NS), ip));
        // Over the next second at a steady 20/s: every packet passes, one more does not.
        let start = T0 + PACKET_COST_NS;
        for k in 1..=20 {
            assert!(rl.allow(Instant::from_nanos(start + k * PACKET_COST_NS), ip), "steady packet {k}");
        }
        assert!(!rl.allow(Instant::from_nanos(start + 20 * PACKET_COST_NS), ip));
        // A long pause refills only up to the burst.
        let later = start + 60 * NANOS_PER_SEC;
        // (idle > 1 s: the entry was swept, a fresh one starts full — same outcome)
        for i in 0..5 {
            assert!(rl.allow(Instant::from_nanos(later), ip), "refilled burst packet {i}");
        }
        assert!(!rl.allow(Instant::from_nanos(later), ip));
    }

    #[test]
    fn refill_is_capped_at_the_burst_without_a_sweep() {
        let mut rl = RateLimiter::new();
        let ip = v4(7);
        let t0 = Instant::from_nanos(T0);
        assert!(rl.allow(t0, ip));
        // 900 ms later (no sweep of this entry): 4 + 18 tokens would be 22, capped at 5.
        let t1 = Instant::from_nanos(T0 + 900_000_000);
        for _ in 0..5 {
            assert!(rl.allow(t1, ip));
        }
        assert!(!rl.allow(t1, ip));
    }

    #[test]
    fn ipv6_sources_share_a_bucket_per_64() {
        let mut rl = RateLimiter::new();
        let t = Instant::from_nanos(T0);
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..3 {
            assert!(rl.allow(t, IpAddr::V6(a)));
        }
        for _ in 0..2 {
            assert!(rl.allow(t, IpAddr::V6(b)));
        }
        assert!(!rl.allow(t, IpAddr::V6(a)), "the /64 has spent its burst");
        assert!(!rl.allow(t, IpAddr::V6(b)), "the /64 has spent its burst");
        assert!(rl.allow(t, IpAddr::V6(other)), "another /64 has its own bucket");
        assert_eq!(rl.len(), 2);
    }

    #[test]
    fn ipv4_addresses_are_separate_and_mapped_addresses_count_as_ipv4() {
        let mut rl = RateLimiter::new();
        let t = Instant::from_nanos(T0);
        for _ in 0..5 {
            assert!(rl.allow(t, v4(0xc000_0201)));
        }
        assert!(!rl.allow(t, "::ffff:192.0.2.1".parse().unwrap()), "mapped form shares the IPv4 bucket");
        assert!(rl.allow(t, "::ffff:192.0.2.2".parse().unwrap()), "a different IPv4 address is not limited");
    }

    #[test]
    fn idle_sources_are_garbage_collected() {
        let mut rl = RateLimiter::new();
        let t0 = Instant::from_nanos(T0);
        for n in 0..100 {
            assert!(rl.allow(t0, v4(n)));
        }
        assert_eq!(rl.len(), 100);
        // 0.5 s later one source is active again; nothing is idle long enough to go.
        assert!(rl.allow(Instant::from_nanos(T0 + 500_000_000), v4(0)));
        assert_eq!(rl.len(), 100);
        // 1.2 s after the start the sweep runs: only source 0 (idle 0.7 s) survives, plus the caller.
        assert!(rl.allow(Instant::from_nanos(T0 + 1_200_000_000), v4(1000)));
        assert_eq!(rl.len(), 2);
        rl.sweep(Instant::from_nanos(T0 + 5 * NANOS_PER_SEC));
        assert!(rl.is_empty());
    }

    #[test]
    fn table_size_is_capped_under_a_flood_of_distinct_sources() {
        let mut rl = RateLimiter::new();
        let t0 = Instant::from_nanos(T0);
        let known = v4(0xdead_beef);
        assert!(rl.allow(t0, known));
        for n in 0..100_000u32 {
            rl.allow(t0 + core::time::Duration::from_nanos(u64::from(n)), v4(n));
        }
        assert_eq!(rl.len(), DEFAULT_RATELIMIT_MAX_SOURCES, "memory stays bounded");
        // A known source keeps its own bucket.
        assert!(rl.allow(Instant::from_nanos(T0 + 200_000), known));
        // Once the flood is idle for over a second, the sweep makes room again.
        let after = Instant::from_nanos(T0 + 2 * NANOS_PER_SEC);
        assert!(rl.allow(after, v4(0x0102_0304)));
        assert_eq!(rl.len(), 1);
    }

    /// Security review finding 1 (docs/SECURITY.md): an attacker keeps a full table warm
    /// (every entry refreshed once a second); a peer that was not in it must still get its
    /// handshakes through. Refused whole on 1a8c593.
    #[test]
    fn a_full_table_kept_warm_does_not_lock_a_new_source_out() {
        let max = 4096;
        let mut rl = RateLimiter::with_max_sources(max);
        let newcomer = v4(0xc633_6401);
        let mut got_through = 0;
        let mut tried = 0;
        for second in 0..30u64 {
            let t = T0 + second * NANOS_PER_SEC;
            for n in 0..max as u32 {
                rl.allow(Instant::from_nanos(t + u64::from(n) * 1000), v4(0x0a00_0000 + n));
            }
            assert!(rl.len() <= max);
            // The real peer retries every 5 s, as WireGuard does.
            if second % 5 == 0 {
                tried += 1;
                if rl.allow(Instant::from_nanos(t + 500_000_000), newcomer) {
                    got_through += 1;
                }
            }
        }
        assert_eq!(got_through, tried, "every retry of the newcomer got through");
    }

    #[test]
    fn the_overflow_bucket_is_bounded_too() {
        let mut rl = RateLimiter::with_max_sources(1);
        let t = Instant::from_nanos(T0);
        assert!(rl.allow(t, v4(1)));
        // Sources beyond the table share 16 × the burst, then 16 × the rate.
        let burst = (0..1000u32).filter(|&n| rl.allow(t, v4(1000 + n))).count();
        assert_eq!(burst, 16 * RATELIMIT_BURST as usize);
        let next = Instant::from_nanos(T0 + NANOS_PER_SEC / 10);
        let tenth = (0..1000u32).filter(|&n| rl.allow(next, v4(5000 + n))).count();
        assert_eq!(tenth, 16 * RATELIMIT_PACKETS_PER_SECOND as usize / 10);
    }

    #[test]
    fn a_clock_stepping_backwards_earns_no_credit() {
        let mut rl = RateLimiter::new();
        let ip = v4(9);
        let t = Instant::from_nanos(T0);
        for _ in 0..5 {
            assert!(rl.allow(t, ip));
        }
        assert!(!rl.allow(Instant::from_nanos(T0 - 500_000_000), ip));
        // Forward again by 49 ms from the latest time seen: still no token.
        assert!(!rl.allow(Instant::from_nanos(T0 + PACKET_COST_NS - 1), ip));
        assert!(rl.allow(Instant::from_nanos(T0 + PACKET_COST_NS), ip));
    }

    proptest! {
        /// In any window [a, b] of the arrival sequence, allowed ≤ burst + ⌊(b − a)·rate⌋.
        #[test]
        fn never_more_than_burst_plus_rate_times_window(
            gaps in proptest::collection::vec(prop_oneof![4 => 0u64..120_000_000, 1 => 0u64..1_500_000_000], 1..300)
        ) {
            let mut rl = RateLimiter::new();
            let ip = v4(1);
            let mut now = T0;
            let mut allowed_at = Vec::new();
            for gap in gaps {
                now += gap;
                if rl.allow(Instant::from_nanos(now), ip) {
                    allowed_at.push(now);
                }
            }
            for (i, &a) in allowed_at.iter().enumerate() {
                for (j, &b) in allowed_at.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as u64;
                    let bound = u64::from(RATELIMIT_BURST) + (b - a) * u64::from(RATELIMIT_PACKETS_PER_SECOND) / NANOS_PER_SEC;
                    prop_assert!(count <= bound, "{count} packets allowed in {} ns (bound {bound})", b - a);
                }
            }
        }
    }
}
