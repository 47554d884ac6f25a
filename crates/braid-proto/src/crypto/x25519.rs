//! X25519 keys with the checks WireGuard requires: private keys are clamped on creation
//! (what `wg` shows back), and a Diffie-Hellman result of all zeros — a low-order public key
//! — is an error, so such a peer can never make us send anything.

use super::{CryptoError, KEY_LEN};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

impl ZeroizeOnDrop for StaticSecret {}

/// A Curve25519 public key as sent on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PublicKey(pub [u8; KEY_LEN]);

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A clamped X25519 private key (static or ephemeral), zeroed on drop.
///
/// The backend's key object is built once (it derives the public key on construction, which costs about a DH)
/// and reused for every Diffie-Hellman, which a handshake does up to four times per key.
pub struct StaticSecret {
    bytes: [u8; KEY_LEN],
    backend: Option<PrivateKey>,
}

impl Clone for StaticSecret {
    fn clone(&self) -> Self {
        StaticSecret::from_bytes(self.bytes)
    }
}

impl Drop for StaticSecret {
    fn drop(&mut self) {
        // aws-lc cleanses its own copy when the key object is freed.
        self.bytes.zeroize();
    }
}

impl core::fmt::Debug for StaticSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StaticSecret(<secret>)")
    }
}

/// The output of X25519, zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret(pub [u8; KEY_LEN]);

impl StaticSecret {
    /// Takes 32 bytes and clamps them as RFC 7748 specifies.
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        let backend = PrivateKey::from_private_key(&X25519, &bytes).ok();
        let s = StaticSecret { bytes, backend };
        bytes.zeroize();
        s
    }

    /// A fresh key from the caller's random source (ephemeral keys, `genkey`).
    pub fn random(rng: &mut dyn rand_core::CryptoRng) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The clamped private key bytes (for the UAPI `get`).
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.bytes
    }

    fn backend(&self) -> Result<&PrivateKey, CryptoError> {
        self.backend.as_ref().ok_or(CryptoError::BadKey)
    }

    /// The public key for this private key.
    pub fn public_key(&self) -> PublicKey {
        let mut out = [0u8; KEY_LEN];
        // A clamped 32-byte scalar is always accepted by the backend.
        if let Ok(pk) = self.backend().and_then(|k| k.compute_public_key().map_err(|_| CryptoError::BadKey)) {
            out.copy_from_slice(pk.as_ref());
        }
        PublicKey(out)
    }

    /// X25519(self, public); refuses the all-zero result of a low-order point.
    pub fn diffie_hellman(&self, public: &PublicKey) -> Result<SharedSecret, CryptoError> {
        let key = self.backend()?;
        let peer = UnparsedPublicKey::new(&X25519, &public.0);
        let shared = agreement::agree(key, peer, CryptoError::LowOrderPoint, |s| {
            let mut out = [0u8; KEY_LEN];
            out.copy_from_slice(s);
            Ok(SharedSecret(out))
        })?;
        if bool::from(shared.0.ct_eq(&[0u8; KEY_LEN])) {
            return Err(CryptoError::LowOrderPoint);
        }
        Ok(shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn rfc7748_diffie_hellman() {
        // RFC 7748 §6.1.
        let a = StaticSecret::from_bytes(hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        let b = StaticSecret::from_bytes(hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        assert_eq!(a.public_key().0, hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
        assert_eq!(b.public_key().0, hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
        let k = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(a.diffie_hellman(&b.public_key()).unwrap().0, k);
        assert_eq!(b.diffie_hellman(&a.public_key()).unwrap().0, k);
    }

    #[test]
    fn clamping_is_applied() {
        let s = StaticSecret::from_bytes([0xff; 32]);
        let b = s.to_bytes();
        assert_eq!(b[0] & 7, 0);
        assert_eq!(b[31] & 0x80, 0);
        assert_eq!(b[31] & 0x40, 0x40);
    }

    #[test]
    fn low_order_points_are_refused() {
        let s = StaticSecret::from_bytes([9; 32]);
        let zero = PublicKey([0; 32]);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(s.diffie_hellman(&zero).is_err());
        assert!(s.diffie_hellman(&PublicKey(one)).is_err());
    }
}
