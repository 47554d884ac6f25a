//! WireGuard keys in the three forms braid meets them: 32 raw bytes inside the protocol,
//! base64 in config files and on the command line (`wg genkey` output), lowercase hex on the
//! UAPI socket. Plus the `genkey`/`genpsk`/`pubkey` helpers.
//!
//! Parsing is as strict as `wg`'s: base64 must be exactly 44 characters ending in one `=`
//! with the unused low bits of the last character zero (so every key has exactly one text
//! form), hex exactly 64 digits (either case accepted, lowercase written). Errors never
//! contain the text that failed to parse: it may be a private key.

pub use braid_proto::crypto::PublicKey;
use braid_proto::crypto::StaticSecret;
use core::fmt;
use zeroize::Zeroizing;

/// Length of a raw key.
pub const KEY_LEN: usize = 32;
/// Length of a key in base64 (with its one `=` of padding).
pub const BASE64_KEY_LEN: usize = 44;
/// Length of a key in hex.
pub const HEX_KEY_LEN: usize = 64;

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Why a key did not parse. Deliberately carries no part of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 44 characters of standard base64 ending in `=`, or not the canonical encoding.
    #[error("invalid base64 key")]
    Base64,
    /// Not 64 hexadecimal digits.
    #[error("invalid hex key")]
    Hex,
}

/// A private or pre-shared key: zeroed on drop and never shown by `Debug`, so a config or a
/// UAPI request can be logged with `{:?}` without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(Zeroizing::new(bytes))
    }

    /// The raw bytes, for handing to the protocol core.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// True for the all-zero key, which the UAPI uses to mean "no key".
    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }

    /// A new private key from the operating system's random number generator (`wg genkey`).
    pub fn generate() -> SecretKey {
        use rand_chacha::rand_core::SeedableRng;
        genkey(&mut rand_chacha::ChaCha20Rng::from_os_rng())
    }

    /// The public key of this private key (`wg pubkey`).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(pubkey(self))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes a key written as `wg genkey`/`wg pubkey` write it.
pub fn key_from_base64(text: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let bytes = text.as_bytes();
    if bytes.len() != BASE64_KEY_LEN || bytes[BASE64_KEY_LEN - 1] != b'=' {
        return Err(KeyError::Base64);
    }
    let mut key = [0u8; KEY_LEN];
    // Ten groups of four characters carry 30 bytes; the last three characters carry two bytes
    // and two zero bits.
    for (group, out) in bytes[..40].chunks_exact(4).zip(key[..30].chunks_exact_mut(3)) {
        let mut acc = 0u32;
        for &c in group {
            acc = (acc << 6) | u32::from(base64_value(c).ok_or(KeyError::Base64)?);
        }
        out.copy_from_slice(&acc.to_be_bytes()[1..]);
    }
    let mut acc = 0u32;
    for &c in &bytes[40..43] {
        acc = (acc << 6) | u32::from(base64_value(c).ok_or(KeyError::Base64)?);
    }
    if acc & 0b11 != 0 {
        return Err(KeyError::Base64);
    }
    let tail = (acc >> 2).to_be_bytes();
    key[30] = tail[2];
    key[31] = tail[3];
    Ok(key)
}

/// Encodes a key as `wg` prints it: 43 base64 characters and one `=`.
pub fn key_to_base64(key: &[u8; KEY_LEN]) -> String {
    let mut out = String::with_capacity(BASE64_KEY_LEN);
    let mut push = |sextet: u32| out.push(char::from(BASE64_ALPHABET[(sextet & 63) as usize]));
    for chunk in key[..30].chunks_exact(3) {
        let acc = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            push(acc >> shift);
        }
    }
    let acc = (u32::from(key[30]) << 8 | u32::from(key[31])) << 2;
    for shift in [12, 6, 0] {
        push(acc >> shift);
    }
    out.push('=');
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a key from the UAPI's 64 hex digits (either case, as wireguard-go accepts).
pub fn key_from_hex(text: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let bytes = text.as_bytes();
    if bytes.len() != HEX_KEY_LEN {
        return Err(KeyError::Hex);
    }
    let mut key = [0u8; KEY_LEN];
    for (pair, out) in bytes.chunks_exact(2).zip(key.iter_mut()) {
        let hi = hex_value(pair[0]).ok_or(KeyError::Hex)?;
        let lo = hex_value(pair[1]).ok_or(KeyError::Hex)?;
        *out = hi << 4 | lo;
    }
    Ok(key)
}

/// Appends a key as 64 lowercase hex digits (the UAPI form) without a temporary string.
pub fn push_hex(out: &mut String, key: &[u8; KEY_LEN]) {
    out.reserve(HEX_KEY_LEN);
    for &b in key {
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 15)]));
    }
}

/// A key as 64 lowercase hex digits.
pub fn key_to_hex(key: &[u8; KEY_LEN]) -> String {
    let mut out = String::with_capacity(HEX_KEY_LEN);
    push_hex(&mut out, key);
    out
}

/// A new private key from `rng`, clamped as `wg genkey` clamps it.
pub fn genkey(rng: &mut dyn rand_core::CryptoRng) -> SecretKey {
    SecretKey::new(StaticSecret::random(rng).to_bytes())
}

/// A new pre-shared key from `rng` (`wg genpsk`): 32 uniformly random bytes.
pub fn genpsk(rng: &mut dyn rand_core::CryptoRng) -> SecretKey {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    rng.fill_bytes(bytes.as_mut());
    SecretKey::new(*bytes)
}

/// The public key of a private key (`wg pubkey`); the private key is clamped first, so an
/// unclamped key gives the same answer as its clamped form, as with `wg`.
pub fn pubkey(private: &SecretKey) -> [u8; KEY_LEN] {
    StaticSecret::from_bytes(*private.expose()).public_key().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;

    // RFC 7748 §6.1 Alice, in the form `wg` prints.
    const ALICE_PRIVATE_HEX: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const ALICE_PUBLIC_HEX: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

    #[test]
    fn base64_known_answers() {
        assert_eq!(key_to_base64(&[0; 32]), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(key_to_base64(&[0xff; 32]), "//////////////////////////////////////////8=");
        let mut counting = [0u8; 32];
        for (i, b) in counting.iter_mut().enumerate() {
            *b = i as u8;
        }
        // Cross-checked with `printf ... | base64`.
        assert_eq!(key_to_base64(&counting), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(), counting);
    }

    #[test]
    fn base64_rejects_malformed_text() {
        let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert!(key_from_base64(good).is_ok());
        assert_eq!(key_from_base64(&good[..43]), Err(KeyError::Base64), "no padding");
        assert_eq!(key_from_base64(&format!("{good}=")), Err(KeyError::Base64), "too long");
        assert_eq!(key_from_base64(""), Err(KeyError::Base64));
        // Non-canonical: the last character's two spare bits are set ('h' instead of 'f').
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="), Err(KeyError::Base64));
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhh="), Err(KeyError::Base64));
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8="), Err(KeyError::Base64));
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A"), Err(KeyError::Base64));
        assert_eq!(key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHé="), Err(KeyError::Base64));
    }

    #[test]
    fn hex_round_trip_and_case() {
        let key = key_from_hex(ALICE_PRIVATE_HEX).unwrap();
        assert_eq!(key_to_hex(&key), ALICE_PRIVATE_HEX);
        assert_eq!(key_from_hex(&ALICE_PRIVATE_HEX.to_uppercase()).unwrap(), key);
        assert_eq!(key_from_hex(&ALICE_PRIVATE_HEX[..62]), Err(KeyError::Hex));
        assert_eq!(key_from_hex(&format!("{ALICE_PRIVATE_HEX}00")), Err(KeyError::Hex));
        assert_eq!(key_from_hex(&ALICE_PRIVATE_HEX.replace('7', "g")), Err(KeyError::Hex));
        assert_eq!(key_from_hex(&ALICE_PRIVATE_HEX.replacen("77", "+7", 1)), Err(KeyError::Hex));
    }

    #[test]
    fn pubkey_matches_rfc7748() {
        let private = SecretKey::new(key_from_hex(ALICE_PRIVATE_HEX).unwrap());
        assert_eq!(key_to_hex(&pubkey(&private)), ALICE_PUBLIC_HEX);
    }

    #[test]
    fn genkey_is_clamped_and_deterministic_for_a_seed() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let a = genkey(&mut rng);
        let b = genkey(&mut rng);
        assert_ne!(a, b);
        for k in [&a, &b] {
            assert_eq!(k.expose()[0] & 7, 0);
            assert_eq!(k.expose()[31] & 0xc0, 0x40);
        }
        let mut again = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        assert_eq!(genkey(&mut again), a);
        assert_ne!(genpsk(&mut again), b, "a psk is not clamped");
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey::new([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
        assert!(SecretKey::new([0; 32]).is_zero());
        assert!(!key.is_zero());
    }

    proptest! {
        #[test]
        fn base64_round_trips(key in any::<[u8; 32]>()) {
            let text = key_to_base64(&key);
            prop_assert_eq!(text.len(), BASE64_KEY_LEN);
            prop_assert_eq!(key_from_base64(&text).unwrap(), key);
        }

        #[test]
        fn hex_round_trips(key in any::<[u8; 32]>()) {
            let text = key_to_hex(&key);
            prop_assert!(text.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
            prop_assert_eq!(key_from_hex(&text).unwrap(), key);
        }

        #[test]
        fn parsers_never_panic(text in ".{0,80}") {
            let _ = key_from_base64(&text);
            let _ = key_from_hex(&text);
        }
    }
}
