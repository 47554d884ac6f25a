//! Known-answer tests: wireguard-go's KDF vectors, the initial chaining key and hash, and one
//! complete handshake transcript computed by an independent implementation.

use super::symmetric::Transcript;
use super::*;
use crate::constants::{CONSTRUCTION, IDENTIFIER};
use crate::crypto::{hash, hash2, kdf1, kdf2, kdf3, PublicKey, StaticSecret};
use core::time::Duration;

fn hex<const N: usize>(s: &str) -> [u8; N] {
    assert_eq!(s.len(), 2 * N, "{s}");
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn hex_vec(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

/// wireguard-go `device/kdf_test.go` (`TestKDF`): (key, input, τ₁, τ₂, τ₃).
///
/// The keys there are 8, 9 and 0 bytes long while `crypto::kdf*` take the 32-byte chaining
/// key WireGuard always uses; HMAC pads its key with zeros to the 64-byte block, so a short
/// key and the same key zero-padded to 32 bytes are the same HMAC key and give the same output.
const KDF_VECTORS: [(&str, &str, &str, &str, &str); 3] = [
    (
        "746573742d6b6579",     // "test-key"
        "746573742d696e707574", // "test-input"
        "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
        "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
        "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24",
    ),
    (
        "776972656775617264", // "wireguard"
        "776972656775617264",
        "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
        "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
        "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160",
    ),
    (
        "",
        "",
        "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
        "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
        "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e",
    ),
];

fn padded_key(s: &str) -> [u8; 32] {
    let k = hex_vec(s);
    let mut out = [0u8; 32];
    out[..k.len()].copy_from_slice(&k);
    out
}

#[test]
fn wireguard_go_kdf3_vectors() {
    for (key, input, t1, t2, t3) in KDF_VECTORS {
        let (a, b, c) = kdf3(&padded_key(key), &hex_vec(input));
        assert_eq!((a, b, c), (hex(t1), hex(t2), hex(t3)), "key {key}");
    }
}

#[test]
fn wireguard_go_kdf2_vectors() {
    for (key, input, t1, t2, _) in KDF_VECTORS {
        assert_eq!(kdf2(&padded_key(key), &hex_vec(input)), (hex(t1), hex(t2)), "key {key}");
    }
}

#[test]
fn wireguard_go_kdf1_vectors() {
    for (key, input, t1, _, _) in KDF_VECTORS {
        assert_eq!(kdf1(&padded_key(key), &hex_vec(input)), hex(t1), "key {key}");
    }
}

#[test]
fn initial_chaining_key_and_hash() {
    assert_eq!(hash(CONSTRUCTION), INITIAL_CHAINING_KEY);
    assert_eq!(hash2(&INITIAL_CHAINING_KEY, IDENTIFIER), INITIAL_HASH);
    // The same values appear, independently computed, in other WireGuard implementations.
    assert_eq!(INITIAL_CHAINING_KEY, hex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"));
    assert_eq!(INITIAL_HASH, hex("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"));
    let t = Transcript::initial();
    assert_eq!((t.hash(), t.chaining_key()), (&INITIAL_HASH, &INITIAL_CHAINING_KEY));
}

/// Hands out fixed 32-byte blocks (the ephemeral private keys of the transcript below).
struct FixedRng(Vec<u8>);

impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        assert!(self.0.len() >= dst.len(), "FixedRng exhausted");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
    }
}

impl rand_core::CryptoRng for FixedRng {}

/// One handshake with fixed keys, checked byte for byte against a separate implementation
/// written directly from whitepaper §5.4 (Python: hashlib BLAKE2s, `hmac`, and the
/// `cryptography` package's X25519 and ChaCha20-Poly1305). The private keys are BLAKE2s of
/// short labels.
#[test]
fn handshake_transcript_matches_independent_implementation() {
    let si = StaticSecret::from_bytes(hash(b"braid test: initiator static"));
    let sr = StaticSecret::from_bytes(hash(b"braid test: responder static"));
    let ei = hash(b"braid test: initiator ephemeral");
    let er = hash(b"braid test: responder ephemeral");
    let psk = hash(b"braid test: preshared key");
    assert_eq!(psk, hex("6a2707f671579d536dd4fbb73296bc739b1f66d74b4386bd9d0ebe7892eda187"));
    let stamp = Tai64N::from_unix_time(Duration::new(1_700_000_000, 123_456_789));
    assert_eq!(stamp.as_bytes(), &hex::<12>("400000006553f10a07000000"));

    let a = LocalIdentity::new(si);
    let b = LocalIdentity::new(sr);
    let a_peer = PeerSecrets::new(&a, b.public, psk).unwrap();
    let b_peer = PeerSecrets::new(&b, a.public, psk).unwrap();

    let (init, ist) = create_initiation(&a, &a_peer, 0x0403_0201, stamp, &mut FixedRng(ei.to_vec())).unwrap();
    assert_eq!(init.ephemeral, hex("9972f363c4c71a1f9cc0d5f00fea2e33e3f20945283de9c8001f4fdd2a868401"));
    assert_eq!(
        init.encrypted_static,
        hex("effb62b72db2bc6013cdbcbf28b03c436a9cb663fd78b56e123b74528638661cb141a2c7e548eca75f6a453f9bc4ac8d")
    );
    assert_eq!(init.encrypted_timestamp, hex("a59f344c3594375e421ad6ea5e45b24351d88208f17ce42bb8ccc50a"));

    let opened = begin_initiation(&b, &init).unwrap();
    assert_eq!(opened.remote_static(), &PublicKey(a.public.0));
    let (got_stamp, rst) = opened.finish(&b_peer).unwrap();
    assert_eq!(got_stamp, stamp);

    let (resp, b_keys) = create_response(rst, &b_peer, 0x0807_0605, &mut FixedRng(er.to_vec())).unwrap();
    assert_eq!(resp.ephemeral, hex("a84ea16c2805065dc21e3adc8a34258bb834e34c1453d3e36f0e8ffc3016453f"));
    assert_eq!(resp.encrypted_nothing, hex("798cc3d7fbbbf2849a025eab992993e5"));

    let a_keys = consume_response(&ist, &a, &a_peer, &resp).unwrap();
    let t_send_i = hex("5024dba7e34746bc7114fa93ac46b85901c57fd98931470eaeb23e61b2890692");
    let t_recv_i = hex("c0bba4704706604b9530bcc7b9eb9ba91e40d0aaf4b04bec8e846a224c420b25");
    assert_eq!((a_keys.send, a_keys.recv), (t_send_i, t_recv_i));
    assert_eq!((b_keys.send, b_keys.recv), (t_recv_i, t_send_i));
}
