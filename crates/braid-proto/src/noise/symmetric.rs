//! The Noise symmetric state (chaining key C and hash H) with the handful of operations the
//! WireGuard handshake is written in.

use super::{HandshakeError, INITIAL_CHAINING_KEY, INITIAL_HASH};
use crate::crypto::{
    hash2, kdf1, kdf2, kdf3, open_once, seal_once, CryptoError, PublicKey, StaticSecret, HASH_LEN, KEY_LEN, TAG_LEN,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A symmetric key derived from the chaining key, zeroed when dropped.
pub(super) type Key = Zeroizing<[u8; KEY_LEN]>;

/// (H, C) of one handshake in progress; zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(super) struct Transcript {
    hash: [u8; HASH_LEN],
    chaining_key: [u8; HASH_LEN],
}

impl Transcript {
    /// H₀, C₀: the same for every handshake.
    pub(super) fn initial() -> Self {
        Transcript { hash: INITIAL_HASH, chaining_key: INITIAL_CHAINING_KEY }
    }

    /// H := HASH(H || data)
    pub(super) fn mix_hash(&mut self, data: &[u8]) {
        self.hash = hash2(&self.hash, data);
    }

    /// C := KDF₁(C, data)
    pub(super) fn mix_key(&mut self, data: &[u8]) {
        self.chaining_key = kdf1(&self.chaining_key, data);
    }

    /// C := KDF₁(C, DH(secret, public)); fails on a low-order `public`.
    pub(super) fn mix_dh(&mut self, secret: &StaticSecret, public: &PublicKey) -> Result<(), HandshakeError> {
        let shared = secret.diffie_hellman(public)?;
        self.mix_key(&shared.0);
        Ok(())
    }

    /// (C, κ) := KDF₂(C, input); returns κ.
    pub(super) fn mix_key_and_derive(&mut self, input: &[u8]) -> Key {
        let (ck, key) = kdf2(&self.chaining_key, input);
        self.chaining_key = ck;
        Zeroizing::new(key)
    }

    /// (C, κ) := KDF₂(C, DH(secret, public)); fails on a low-order `public`.
    pub(super) fn mix_dh_and_derive(
        &mut self,
        secret: &StaticSecret,
        public: &PublicKey,
    ) -> Result<Key, HandshakeError> {
        let shared = secret.diffie_hellman(public)?;
        Ok(self.mix_key_and_derive(&shared.0))
    }

    /// (C, τ, κ) := KDF₃(C, Q); H := HASH(H || τ); returns κ.
    pub(super) fn mix_psk(&mut self, psk: &[u8; KEY_LEN]) -> Key {
        let (ck, mut tau, key) = kdf3(&self.chaining_key, psk);
        self.chaining_key = ck;
        self.mix_hash(&tau);
        tau.zeroize();
        Zeroizing::new(key)
    }

    /// out := AEAD(κ, 0, plaintext, H); H := HASH(H || out). `C` = plaintext length + 16.
    pub(super) fn encrypt_and_hash<const C: usize>(
        &mut self,
        key: &Key,
        plaintext: &[u8],
    ) -> Result<[u8; C], HandshakeError> {
        let mut out = [0u8; C];
        let len = C.checked_sub(TAG_LEN).filter(|&l| l == plaintext.len()).ok_or(CryptoError::BufferTooSmall)?;
        out[..len].copy_from_slice(plaintext);
        seal_once(key, 0, &self.hash, &mut out, len)?;
        self.mix_hash(&out);
        Ok(out)
    }

    /// plaintext := AEAD-open(κ, 0, ciphertext, H); H := HASH(H || ciphertext). H is left
    /// unchanged when the tag does not verify (`Err(CryptoError::Authentication)`).
    pub(super) fn decrypt_and_hash<const C: usize>(
        &mut self,
        key: &Key,
        ciphertext: &[u8; C],
        plaintext: &mut [u8],
    ) -> Result<(), CryptoError> {
        let mut buf = Zeroizing::new(*ciphertext);
        let len = open_once(key, 0, &self.hash, &mut buf[..])?;
        if len != plaintext.len() {
            return Err(CryptoError::BufferTooSmall);
        }
        plaintext.copy_from_slice(&buf[..len]);
        self.mix_hash(ciphertext);
        Ok(())
    }

    /// (T₁, T₂) := KDF₂(C, ε), consuming the transcript. The initiator sends with T₁ and
    /// receives with T₂; the responder the other way round.
    pub(super) fn split(self) -> (Key, Key) {
        let (t1, t2) = kdf2(&self.chaining_key, &[]);
        (Zeroizing::new(t1), Zeroizing::new(t2))
    }

    #[cfg(test)]
    pub(super) fn hash(&self) -> &[u8; HASH_LEN] {
        &self.hash
    }

    #[cfg(test)]
    pub(super) fn chaining_key(&self) -> &[u8; HASH_LEN] {
        &self.chaining_key
    }
}
