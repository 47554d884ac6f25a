//! BLAKE2s as WireGuard uses it: HASH, keyed MAC (BLAKE2s-128), HMAC-BLAKE2s and the
//! HKDF-style KDF₁/₂/₃ of the Noise specification.

use super::{HASH_LEN, MAC_LEN};
use blake2s_simd::{Params, State};
use zeroize::Zeroize;

const BLOCK_LEN: usize = 64;

/// HASH(input): unkeyed BLAKE2s-256.
pub fn hash(input: &[u8]) -> [u8; HASH_LEN] {
    *blake2s_simd::blake2s(input).as_array()
}

/// HASH(a || b) without concatenating into a temporary buffer.
pub fn hash2(a: &[u8], b: &[u8]) -> [u8; HASH_LEN] {
    let mut st = State::new();
    st.update(a);
    st.update(b);
    *st.finalize().as_array()
}

/// MAC(key, input): keyed BLAKE2s with a 16-byte output (mac1, mac2, cookies).
pub fn mac(key: &[u8], input: &[u8]) -> [u8; MAC_LEN] {
    let h = Params::new().hash_length(MAC_LEN).key(key).hash(input);
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(h.as_bytes());
    out
}

/// HMAC(key, input) over BLAKE2s (RFC 2104 with a 64-byte block). Keys are at most 32 bytes
/// here, so the key is never pre-hashed.
pub fn hmac(key: &[u8; HASH_LEN], input: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut block = [0u8; BLOCK_LEN];
    block[..HASH_LEN].copy_from_slice(key);
    for b in block.iter_mut() {
        *b ^= 0x36;
    }
    let mut inner = State::new();
    inner.update(&block);
    for part in input {
        inner.update(part);
    }
    let mut inner_hash = *inner.finalize().as_array();
    for b in block.iter_mut() {
        *b ^= 0x36 ^ 0x5c;
    }
    let mut outer = State::new();
    outer.update(&block);
    outer.update(&inner_hash);
    let out = *outer.finalize().as_array();
    block.zeroize();
    inner_hash.zeroize();
    out
}

/// KDF₁(key, input) = τ₁ where τ₀ = HMAC(key, input), τ₁ = HMAC(τ₀, 0x1).
pub fn kdf1(key: &[u8; HASH_LEN], input: &[u8]) -> [u8; HASH_LEN] {
    let mut t0 = hmac(key, &[input]);
    let t1 = hmac(&t0, &[&[1]]);
    t0.zeroize();
    t1
}

/// KDF₂(key, input) = (τ₁, τ₂) with τ₂ = HMAC(τ₀, τ₁ || 0x2).
pub fn kdf2(key: &[u8; HASH_LEN], input: &[u8]) -> ([u8; HASH_LEN], [u8; HASH_LEN]) {
    let mut t0 = hmac(key, &[input]);
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    t0.zeroize();
    (t1, t2)
}

/// KDF₃(key, input) = (τ₁, τ₂, τ₃) with τ₃ = HMAC(τ₀, τ₂ || 0x3).
pub fn kdf3(key: &[u8; HASH_LEN], input: &[u8]) -> ([u8; HASH_LEN], [u8; HASH_LEN], [u8; HASH_LEN]) {
    let mut t0 = hmac(key, &[input]);
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    let t3 = hmac(&t0, &[&t2, &[3]]);
    t0.zeroize();
    (t1, t2, t3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash2_equals_hash_of_concatenation() {
        assert_eq!(hash2(b"abc", b"def"), hash(b"abcdef"));
    }

    #[test]
    fn blake2s_known_answer() {
        // RFC 7693 appendix B: BLAKE2s-256("abc").
        let expected = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
        let got: String = hash(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, expected);
    }
}
