//! SipHash-2-4 under the stack's secret, for the endpoint's hash maps and ephemeral ports.
//!
//! The TCP endpoint map is keyed by four-tuples an attacker chooses; with a public hash function a
//! flood of colliding tuples would turn every lookup into a list walk (hash flooding). std's
//! `RandomState` avoids that by reading the OS RNG, which a sans-IO stack may not do, so the maps
//! here hash with SipHash keyed from the secret the driver passes in. The same function, keyed
//! differently, spreads ephemeral ports per RFC 6056.

use core::hash::{BuildHasher, Hasher};

/// Builds [`SipHasher24`]s that share one 128-bit key.
#[derive(Clone, Copy)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for KeyedState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyedState { key: <secret> }")
    }
}

impl KeyedState {
    /// A state keyed by `key` (which should come from a cryptographically secure RNG).
    pub fn new(key: [u8; 16]) -> Self {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&key[..8]);
        k1.copy_from_slice(&key[8..]);
        KeyedState { k0: u64::from_le_bytes(k0), k1: u64::from_le_bytes(k1) }
    }

    /// The keyed hash of `bytes` in one call.
    pub fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut hasher = self.build_hasher();
        hasher.write(bytes);
        hasher.finish()
    }
}

impl BuildHasher for KeyedState {
    type Hasher = SipHasher24;

    fn build_hasher(&self) -> SipHasher24 {
        SipHasher24 {
            v: [
                self.k0 ^ 0x736f_6d65_7073_6575,
                self.k1 ^ 0x646f_7261_6e64_6f6d,
                self.k0 ^ 0x6c79_6765_6e65_7261,
                self.k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            tail_len: 0,
            total: 0,
        }
    }
}

/// SipHash-2-4 (Aumasson and Bernstein): two compression and four finalisation rounds, streaming.
#[derive(Clone, Debug)]
pub struct SipHasher24 {
    v: [u64; 4],
    /// Bytes not yet compressed, little-endian in the low `tail_len` bytes.
    tail: u64,
    tail_len: usize,
    total: usize,
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

impl SipHasher24 {
    /// Appends one byte to the partial word, compressing it when full.
    fn push_byte(&mut self, byte: u8) {
        self.tail |= u64::from(byte) << (8 * self.tail_len);
        self.tail_len += 1;
        if self.tail_len == 8 {
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.tail_len = 0;
        }
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        round(&mut self.v);
        round(&mut self.v);
        self.v[0] ^= m;
    }
}

impl Hasher for SipHasher24 {
    fn write(&mut self, bytes: &[u8]) {
        self.total = self.total.wrapping_add(bytes.len());
        let mut rest = bytes;
        // Top up a partial word first, then compress whole words straight from the input.
        while self.tail_len > 0 {
            let Some((&byte, after)) = rest.split_first() else { return };
            self.push_byte(byte);
            rest = after;
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.compress(u64::from_le_bytes(le));
        }
        for &byte in words.remainder() {
            self.push_byte(byte);
        }
    }

    fn finish(&self) -> u64 {
        let mut state = self.clone();
        let m = state.tail | ((self.total as u64 & 0xff) << 56);
        state.compress(m);
        state.v[2] ^= 0xff;
        for _ in 0..4 {
            round(&mut state.v);
        }
        state.v[0] ^ state.v[1] ^ state.v[2] ^ state.v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_siphash24_vectors() {
        // The reference implementation's vectors: key 00 01 .. 0f, message 00 01 .. (n - 1).
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let state = KeyedState::new(key);
        let message: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(state.hash_bytes(&message[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(state.hash_bytes(&message[..7]), 0xab02_00f5_8b01_d137);
        assert_eq!(state.hash_bytes(&message[..8]), 0x93f5_f579_9a93_2462);
        assert_eq!(state.hash_bytes(&message[..15]), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn split_writes_hash_like_one_write() {
        let state = KeyedState::new([9; 16]);
        let data: [u8; 37] = core::array::from_fn(|i| (i * 7) as u8);
        let mut split = state.build_hasher();
        split.write(&data[..5]);
        split.write(&data[5..21]);
        split.write(&data[21..]);
        assert_eq!(split.finish(), state.hash_bytes(&data));
        assert_ne!(KeyedState::new([8; 16]).hash_bytes(&data), state.hash_bytes(&data));
    }
}
