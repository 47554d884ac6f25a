//! ChaCha20-Poly1305 with WireGuard's nonce layout (32 zero bits, then a little-endian 64-bit
//! counter), sealing and opening in place in caller buffers.

use super::{CryptoError, KEY_LEN, TAG_LEN};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

/// The data-path AEAD: a key whose schedule is prepared once per session, then used for
/// every packet of that session. A trait so a second backend can be benchmarked or dropped in
/// without touching the session code.
pub trait TransportCipher: Send + Sync + Sized {
    /// Prepares the key schedule (done once per session, not per packet).
    fn new(key: &[u8; KEY_LEN]) -> Result<Self, CryptoError>;

    /// Encrypts `buf[..len]` in place and writes the tag to `buf[len..len + 16]`; returns the
    /// sealed length `len + 16`.
    fn seal_in_place(&self, counter: u64, aad: &[u8], buf: &mut [u8], len: usize) -> Result<usize, CryptoError>;

    /// Verifies and decrypts `buf` (ciphertext followed by its tag) in place; returns the
    /// plaintext length. On error the buffer contents are unspecified.
    fn open_in_place(&self, counter: u64, aad: &[u8], buf: &mut [u8]) -> Result<usize, CryptoError>;
}

/// The backend braid uses on the data path.
pub type TransportKey = AwsLcChaCha20Poly1305;

/// ChaCha20-Poly1305 from aws-lc-rs (the fastest measured on this machine).
pub struct AwsLcChaCha20Poly1305 {
    key: LessSafeKey,
}

impl core::fmt::Debug for AwsLcChaCha20Poly1305 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AwsLcChaCha20Poly1305(<secret>)")
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

impl TransportCipher for AwsLcChaCha20Poly1305 {
    fn new(key: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    fn seal_in_place(&self, counter: u64, aad: &[u8], buf: &mut [u8], len: usize) -> Result<usize, CryptoError> {
        let sealed = len.checked_add(TAG_LEN).ok_or(CryptoError::BufferTooSmall)?;
        if buf.len() < sealed {
            return Err(CryptoError::BufferTooSmall);
        }
        let (plain, rest) = buf.split_at_mut(len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(counter), Aad::from(aad), plain)
            .map_err(|_| CryptoError::BufferTooSmall)?;
        rest[..TAG_LEN].copy_from_slice(tag.as_ref());
        Ok(sealed)
    }

    fn open_in_place(&self, counter: u64, aad: &[u8], buf: &mut [u8]) -> Result<usize, CryptoError> {
        if buf.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let plain =
            self.key.open_in_place(nonce(counter), Aad::from(aad), buf).map_err(|_| CryptoError::Authentication)?;
        Ok(plain.len())
    }
}

/// Seals with a key used once (handshake fields): `buf[..len]` in place, tag appended.
pub fn seal_once(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
    len: usize,
) -> Result<usize, CryptoError> {
    AwsLcChaCha20Poly1305::new(key)?.seal_in_place(counter, aad, buf, len)
}

/// Opens with a key used once (handshake fields); returns the plaintext length.
pub fn open_once(key: &[u8; KEY_LEN], counter: u64, aad: &[u8], buf: &mut [u8]) -> Result<usize, CryptoError> {
    AwsLcChaCha20Poly1305::new(key)?.open_in_place(counter, aad, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = TransportKey::new(&[7u8; 32]).unwrap();
        let mut buf = [0u8; 64 + TAG_LEN];
        buf[..64].copy_from_slice(&[0xab; 64]);
        let n = key.seal_in_place(42, b"", &mut buf, 64).unwrap();
        assert_eq!(n, 80);
        assert_ne!(&buf[..64], &[0xab; 64][..]);
        let mut copy = buf;
        assert_eq!(key.open_in_place(42, b"", &mut copy).unwrap(), 64);
        assert_eq!(&copy[..64], &[0xab; 64][..]);
        // Wrong counter, flipped bit, short buffer: all refused.
        let mut copy = buf;
        assert_eq!(key.open_in_place(43, b"", &mut copy), Err(CryptoError::Authentication));
        let mut copy = buf;
        copy[3] ^= 1;
        assert_eq!(key.open_in_place(42, b"", &mut copy), Err(CryptoError::Authentication));
        assert_eq!(key.open_in_place(42, b"", &mut [0u8; 15]), Err(CryptoError::Authentication));
        assert_eq!(key.seal_in_place(1, b"", &mut [0u8; 20], 10), Err(CryptoError::BufferTooSmall));
    }

    #[test]
    fn empty_plaintext_is_just_a_tag() {
        let mut buf = [0u8; TAG_LEN];
        assert_eq!(seal_once(&[1; 32], 0, b"aad", &mut buf, 0).unwrap(), TAG_LEN);
        assert_eq!(open_once(&[1; 32], 0, b"aad", &mut buf).unwrap(), 0);
    }
}
