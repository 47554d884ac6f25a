//! XChaCha20-Poly1305 for cookie replies (24-byte random nonces), the one place WireGuard
//! uses it. Messages are 16 bytes, so the pure-Rust implementation is plenty fast.

use super::{CryptoError, KEY_LEN, TAG_LEN, XNONCE_LEN};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};

/// Encrypts `buf[..len]` in place and appends the tag; returns `len + 16`.
pub fn xseal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    len: usize,
) -> Result<usize, CryptoError> {
    let sealed = len.checked_add(TAG_LEN).ok_or(CryptoError::BufferTooSmall)?;
    if buf.len() < sealed {
        return Err(CryptoError::BufferTooSmall);
    }
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let (plain, rest) = buf.split_at_mut(len);
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, plain)
        .map_err(|_| CryptoError::BufferTooSmall)?;
    rest[..TAG_LEN].copy_from_slice(&tag);
    Ok(sealed)
}

/// Verifies and decrypts `buf` (ciphertext then tag) in place; returns the plaintext length.
pub fn xopen(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize, CryptoError> {
    let len = buf.len().checked_sub(TAG_LEN).ok_or(CryptoError::Authentication)?;
    let (cipher_text, tag) = buf.split_at_mut(len);
    let tag = Tag::clone_from_slice(tag);
    XChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt_in_place_detached(XNonce::from_slice(nonce), aad, cipher_text, &tag)
        .map_err(|_| CryptoError::Authentication)?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let mut buf = [0u8; 32];
        buf[..16].copy_from_slice(&[5; 16]);
        assert_eq!(xseal(&[3; 32], &[4; 24], b"mac1", &mut buf, 16).unwrap(), 32);
        let mut c = buf;
        assert_eq!(xopen(&[3; 32], &[4; 24], b"mac1", &mut c).unwrap(), 16);
        assert_eq!(&c[..16], &[5; 16]);
        let mut c = buf;
        assert!(xopen(&[3; 32], &[4; 24], b"other", &mut c).is_err());
        assert!(xopen(&[3; 32], &[4; 24], b"", &mut [0u8; 8]).is_err());
    }
}
