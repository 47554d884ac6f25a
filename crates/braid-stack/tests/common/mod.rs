//! Shared test tooling: a deterministic byte pattern to transfer and check, and a small PRNG.

#![allow(dead_code)] // each test binary uses its own subset

pub mod sim;

/// The byte at `offset` of the test stream `stream`: a keyed pattern, so a receiver can check
/// every byte it reads (a dropped, duplicated or misplaced segment shows up as a mismatch at the
/// exact offset) without holding a copy of what was sent.
pub fn pattern_byte(stream: u64, offset: u64) -> u8 {
    let word = splitmix64(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (offset / 8));
    (word >> ((offset % 8) * 8)) as u8
}

/// Fills `buf` with the pattern of `stream` starting at `offset`.
pub fn fill_pattern(stream: u64, offset: u64, buf: &mut [u8]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte = pattern_byte(stream, offset + i as u64);
    }
}

/// Checks `data` against the pattern of `stream` at `offset`; returns the first bad offset.
pub fn check_pattern(stream: u64, offset: u64, data: &[u8]) -> Result<(), u64> {
    match data.iter().enumerate().find(|&(i, &b)| b != pattern_byte(stream, offset + i as u64)) {
        Some((i, _)) => Err(offset + i as u64),
        None => Ok(()),
    }
}

/// SplitMix64: a tiny, well-mixed generator for deterministic tests.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A seeded pseudo-random source for simulated loss and jitter.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: f64) -> bool {
        (self.next_u64() as f64 / u64::MAX as f64) * 100.0 < percent
    }

    /// A uniform value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}
