//! The two handshake messages (whitepaper §5.4.2, §5.4.3) and the key derivation that ends
//! the handshake (§5.4.5).

use super::keys::{LocalIdentity, PeerSecrets, SessionKeys};
use super::symmetric::Transcript;
use super::tai64n::{Tai64N, TAI64N_LEN};
use super::HandshakeError;
use crate::crypto::{CryptoError, PublicKey, StaticSecret, KEY_LEN};
use braid_wire::wg::{InitiationRepr, ResponseRepr};
use rand_core::CryptoRng;

/// What the initiator keeps between sending an initiation and receiving the response:
/// H and C after the initiation, the ephemeral private key and our sender index. Zeroed on
/// drop. [`consume_response`] borrows it, so a forged response does not end the handshake.
pub struct InitiatorState {
    transcript: Transcript,
    ephemeral: StaticSecret,
    sender_index: u32,
    remote_static: PublicKey,
}

impl InitiatorState {
    /// The sender index the initiation carried (the response's receiver index).
    pub fn sender_index(&self) -> u32 {
        self.sender_index
    }

    /// The responder's static public key.
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }
}

impl core::fmt::Debug for InitiatorState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiatorState")
            .field("sender_index", &self.sender_index)
            .field("remote_static", &self.remote_static)
            .finish_non_exhaustive()
    }
}

/// Builds a handshake initiation to `peer` (§5.4.2). mac1 and mac2 are left zero.
///
/// ```text
/// C := HASH(CONSTRUCTION); H := HASH(C || IDENTIFIER); H := HASH(H || S_pub_r)
/// (E_priv_i, E_pub_i) := DH-GENERATE(); C := KDF₁(C, E_pub_i); H := HASH(H || E_pub_i)
/// (C, κ) := KDF₂(C, DH(E_priv_i, S_pub_r)); static := AEAD(κ, 0, S_pub_i, H); H := HASH(H || static)
/// (C, κ) := KDF₂(C, DH(S_priv_i, S_pub_r)); timestamp := AEAD(κ, 0, TAI64N, H); H := HASH(H || timestamp)
/// ```
pub fn create_initiation(
    local: &LocalIdentity,
    peer: &PeerSecrets,
    sender_index: u32,
    timestamp: Tai64N,
    rng: &mut dyn CryptoRng,
) -> Result<(InitiationRepr, InitiatorState), HandshakeError> {
    peer.check(peer.remote_static(), &local.public)?;
    let remote_static = *peer.remote_static();
    let mut t = Transcript::initial();
    t.mix_hash(&remote_static.0);

    let ephemeral = StaticSecret::random(rng);
    let ephemeral_public = ephemeral.public_key();
    t.mix_key(&ephemeral_public.0);
    t.mix_hash(&ephemeral_public.0);

    let key = t.mix_dh_and_derive(&ephemeral, &remote_static)?;
    let encrypted_static = t.encrypt_and_hash::<{ KEY_LEN + 16 }>(&key, &local.public.0)?;

    let key = t.mix_key_and_derive(peer.static_static());
    let encrypted_timestamp = t.encrypt_and_hash::<{ TAI64N_LEN + 16 }>(&key, timestamp.as_bytes())?;

    let msg = InitiationRepr {
        sender_index,
        ephemeral: ephemeral_public.0,
        encrypted_static,
        encrypted_timestamp,
        mac1: [0; 16],
        mac2: [0; 16],
    };
    Ok((msg, InitiatorState { transcript: t, ephemeral, sender_index, remote_static }))
}

/// An initiation whose static key decrypted: the device looks the peer up by
/// [`remote_static`](Self::remote_static), then calls [`finish`](Self::finish) with its
/// secrets. Zeroed on drop.
pub struct InitiationOpened {
    transcript: Transcript,
    local_public: PublicKey,
    remote_static: PublicKey,
    remote_ephemeral: PublicKey,
    remote_index: u32,
    encrypted_timestamp: [u8; TAI64N_LEN + 16],
}

impl InitiationOpened {
    /// The initiator's static public key, as it claims it (proven only by [`finish`](Self::finish)).
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }

    /// The initiator's sender index (our receiver index in the response).
    pub fn remote_index(&self) -> u32 {
        self.remote_index
    }

    /// Decrypts the timestamp with the precomputed DH(S_priv_r, S_pub_i), which proves the
    /// initiator holds the static key it claimed (§5.4.2):
    ///
    /// ```text
    /// (C, κ) := KDF₂(C, DH(S_priv_r, S_pub_i)); TAI64N := AEAD-open(κ, 0, timestamp, H); H := HASH(H || timestamp)
    /// ```
    ///
    /// Returns the timestamp for the device's replay check (it must be
    /// [`is_after`](Tai64N::is_after) the last accepted one) and the state for
    /// [`create_response`].
    pub fn finish(self, peer: &PeerSecrets) -> Result<(Tai64N, ResponderState), HandshakeError> {
        peer.check(&self.remote_static, &self.local_public)?;
        let InitiationOpened {
            mut transcript,
            local_public,
            remote_static,
            remote_ephemeral,
            remote_index,
            encrypted_timestamp,
        } = self;
        let key = transcript.mix_key_and_derive(peer.static_static());
        let mut timestamp = [0u8; TAI64N_LEN];
        transcript.decrypt_and_hash(&key, &encrypted_timestamp, &mut timestamp).map_err(|e| match e {
            CryptoError::Authentication => HandshakeError::TimestampDecryption,
            other => other.into(),
        })?;
        let state = ResponderState { transcript, local_public, remote_static, remote_ephemeral, remote_index };
        Ok((Tai64N::from_bytes(timestamp), state))
    }
}

impl core::fmt::Debug for InitiationOpened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiationOpened")
            .field("remote_static", &self.remote_static)
            .field("remote_index", &self.remote_index)
            .finish_non_exhaustive()
    }
}

/// First half of consuming an initiation (§5.4.2, responder side): decrypts the initiator's
/// static key with DH(S_priv_r, E_pub_i). A low-order ephemeral key fails here.
///
/// ```text
/// C := C₀; H := HASH(H₀ || S_pub_r); C := KDF₁(C, E_pub_i); H := HASH(H || E_pub_i)
/// (C, κ) := KDF₂(C, DH(S_priv_r, E_pub_i)); S_pub_i := AEAD-open(κ, 0, static, H); H := HASH(H || static)
/// ```
pub fn begin_initiation(local: &LocalIdentity, msg: &InitiationRepr) -> Result<InitiationOpened, HandshakeError> {
    let mut t = Transcript::initial();
    t.mix_hash(&local.public.0);
    let remote_ephemeral = PublicKey(msg.ephemeral);
    t.mix_key(&remote_ephemeral.0);
    t.mix_hash(&remote_ephemeral.0);

    let key = t.mix_dh_and_derive(&local.secret, &remote_ephemeral)?;
    let mut remote_static = [0u8; KEY_LEN];
    t.decrypt_and_hash(&key, &msg.encrypted_static, &mut remote_static).map_err(|e| match e {
        CryptoError::Authentication => HandshakeError::StaticDecryption,
        other => other.into(),
    })?;

    Ok(InitiationOpened {
        transcript: t,
        local_public: local.public,
        remote_static: PublicKey(remote_static),
        remote_ephemeral,
        remote_index: msg.sender_index,
        encrypted_timestamp: msg.encrypted_timestamp,
    })
}

/// A consumed initiation, ready for [`create_response`]. Zeroed on drop.
pub struct ResponderState {
    transcript: Transcript,
    local_public: PublicKey,
    remote_static: PublicKey,
    remote_ephemeral: PublicKey,
    remote_index: u32,
}

impl ResponderState {
    /// The initiator's (now authenticated) static public key.
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }

    /// The initiator's sender index.
    pub fn remote_index(&self) -> u32 {
        self.remote_index
    }
}

impl core::fmt::Debug for ResponderState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponderState")
            .field("remote_static", &self.remote_static)
            .field("remote_index", &self.remote_index)
            .finish_non_exhaustive()
    }
}

/// Builds the handshake response (§5.4.3) and derives the session keys (§5.4.5). mac1 and
/// mac2 are left zero.
///
/// ```text
/// (E_priv_r, E_pub_r) := DH-GENERATE(); C := KDF₁(C, E_pub_r); H := HASH(H || E_pub_r)
/// C := KDF₁(C, DH(E_priv_r, E_pub_i)); C := KDF₁(C, DH(E_priv_r, S_pub_i))
/// (C, τ, κ) := KDF₃(C, Q); H := HASH(H || τ); empty := AEAD(κ, 0, ε, H); H := HASH(H || empty)
/// (T_recv, T_send) := KDF₂(C, ε)
/// ```
pub fn create_response(
    state: ResponderState,
    peer: &PeerSecrets,
    sender_index: u32,
    rng: &mut dyn CryptoRng,
) -> Result<(ResponseRepr, SessionKeys), HandshakeError> {
    peer.check(&state.remote_static, &state.local_public)?;
    let ResponderState { transcript: mut t, remote_static, remote_ephemeral, remote_index, .. } = state;

    let ephemeral = StaticSecret::random(rng);
    let ephemeral_public = ephemeral.public_key();
    t.mix_key(&ephemeral_public.0);
    t.mix_hash(&ephemeral_public.0);
    t.mix_dh(&ephemeral, &remote_ephemeral)?;
    t.mix_dh(&ephemeral, &remote_static)?;
    drop(ephemeral);

    let key = t.mix_psk(peer.preshared_key());
    let encrypted_nothing = t.encrypt_and_hash::<16>(&key, &[])?;
    let (recv, send) = t.split();

    let msg = ResponseRepr {
        sender_index,
        receiver_index: remote_index,
        ephemeral: ephemeral_public.0,
        encrypted_nothing,
        mac1: [0; 16],
        mac2: [0; 16],
    };
    let keys = SessionKeys { send: *send, recv: *recv, local_index: sender_index, remote_index, is_initiator: false };
    Ok((msg, keys))
}

/// Consumes the handshake response (§5.4.3, initiator side) and derives the session keys
/// (§5.4.5). `state` is only read: on error the initiator keeps waiting for a genuine response.
///
/// ```text
/// C := KDF₁(C, E_pub_r); H := HASH(H || E_pub_r)
/// C := KDF₁(C, DH(E_priv_i, E_pub_r)); C := KDF₁(C, DH(S_priv_i, E_pub_r))
/// (C, τ, κ) := KDF₃(C, Q); H := HASH(H || τ); ε := AEAD-open(κ, 0, empty, H); H := HASH(H || empty)
/// (T_send, T_recv) := KDF₂(C, ε)
/// ```
pub fn consume_response(
    state: &InitiatorState,
    local: &LocalIdentity,
    peer: &PeerSecrets,
    msg: &ResponseRepr,
) -> Result<SessionKeys, HandshakeError> {
    if msg.receiver_index != state.sender_index {
        return Err(HandshakeError::ReceiverIndexMismatch);
    }
    peer.check(&state.remote_static, &local.public)?;

    let mut t = state.transcript.clone();
    let remote_ephemeral = PublicKey(msg.ephemeral);
    t.mix_key(&remote_ephemeral.0);
    t.mix_hash(&remote_ephemeral.0);
    t.mix_dh(&state.ephemeral, &remote_ephemeral)?;
    t.mix_dh(&local.secret, &remote_ephemeral)?;

    let key = t.mix_psk(peer.preshared_key());
    t.decrypt_and_hash(&key, &msg.encrypted_nothing, &mut []).map_err(|e| match e {
        CryptoError::Authentication => HandshakeError::ResponseAuthentication,
        other => other.into(),
    })?;
    let (send, recv) = t.split();

    Ok(SessionKeys {
        send: *send,
        recv: *recv,
        local_index: state.sender_index,
        remote_index: msg.sender_index,
        is_initiator: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use std::time::Duration;

    struct Pair {
        a: LocalIdentity,
        b: LocalIdentity,
        /// A's view of B.
        a_peer: PeerSecrets,
        /// B's view of A.
        b_peer: PeerSecrets,
        rng: ChaCha20Rng,
    }

    fn pair_with(seed: u64, psk_a: [u8; 32], psk_b: [u8; 32]) -> Pair {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let a = LocalIdentity::new(StaticSecret::random(&mut rng));
        let b = LocalIdentity::new(StaticSecret::random(&mut rng));
        let a_peer = PeerSecrets::new(&a, b.public, psk_a).unwrap();
        let b_peer = PeerSecrets::new(&b, a.public, psk_b).unwrap();
        Pair { a, b, a_peer, b_peer, rng }
    }

    fn pair(seed: u64, psk: [u8; 32]) -> Pair {
        pair_with(seed, psk, psk)
    }

    fn ts(secs: u64) -> Tai64N {
        Tai64N::from_unix_time(Duration::from_secs(secs))
    }

    /// Runs the whole handshake A → B; returns (A's keys, B's keys).
    fn run(p: &mut Pair) -> Result<(SessionKeys, SessionKeys), HandshakeError> {
        let (init, ist) = create_initiation(&p.a, &p.a_peer, 0x1111, ts(1_700_000_000), &mut p.rng)?;
        let opened = begin_initiation(&p.b, &init)?;
        assert_eq!(opened.remote_static(), &p.a.public);
        let (stamp, rst) = opened.finish(&p.b_peer)?;
        assert_eq!(stamp, ts(1_700_000_000));
        let (resp, b_keys) = create_response(rst, &p.b_peer, 0x2222, &mut p.rng)?;
        let a_keys = consume_response(&ist, &p.a, &p.a_peer, &resp)?;
        Ok((a_keys, b_keys))
    }

    fn assert_matching(a: &SessionKeys, b: &SessionKeys) {
        assert_eq!(a.send, b.recv);
        assert_eq!(a.recv, b.send);
        assert_ne!(a.send, a.recv);
        assert_ne!(a.send, [0; 32]);
        assert!(a.is_initiator && !b.is_initiator);
        assert_eq!((a.local_index, a.remote_index), (0x1111, 0x2222));
        assert_eq!((b.local_index, b.remote_index), (0x2222, 0x1111));
    }

    #[test]
    fn full_handshake_without_psk_gives_matching_keys() {
        let mut p = pair(1, [0; 32]);
        assert!(!p.a_peer.has_preshared_key());
        let (a, b) = run(&mut p).unwrap();
        assert_matching(&a, &b);
    }

    #[test]
    fn full_handshake_with_psk_gives_matching_keys_that_depend_on_it() {
        let mut with = pair(2, [0x5a; 32]);
        assert!(with.a_peer.has_preshared_key());
        let (a, b) = run(&mut with).unwrap();
        assert_matching(&a, &b);
        // Same identities and ephemerals, no PSK: different keys.
        let mut without = pair(2, [0; 32]);
        let (a2, _) = run(&mut without).unwrap();
        assert_ne!(a.send, a2.send);
    }

    #[test]
    fn keys_work_with_the_transport_cipher() {
        use crate::crypto::{TransportCipher, TransportKey};
        let (a, b) = run(&mut pair(3, [0; 32])).unwrap();
        let mut buf = [0u8; 48];
        buf[..32].copy_from_slice(&[0x42; 32]);
        let n = TransportKey::new(&a.send).unwrap().seal_in_place(0, &[], &mut buf, 32).unwrap();
        assert_eq!(TransportKey::new(&b.recv).unwrap().open_in_place(0, &[], &mut buf[..n]).unwrap(), 32);
        assert_eq!(&buf[..32], &[0x42; 32]);
    }

    #[test]
    fn every_handshake_has_fresh_keys() {
        let mut p = pair(4, [0; 32]);
        let (a1, _) = run(&mut p).unwrap();
        let (a2, _) = run(&mut p).unwrap();
        assert_ne!(a1.send, a2.send);
        assert_ne!(a1.recv, a2.recv);
    }

    #[test]
    fn mismatched_psk_fails_at_the_response() {
        let mut p = pair_with(5, [1; 32], [2; 32]);
        let (init, ist) = create_initiation(&p.a, &p.a_peer, 7, ts(10), &mut p.rng).unwrap();
        // The PSK is mixed in only by the response: the initiation is accepted...
        let (_, rst) = begin_initiation(&p.b, &init).unwrap().finish(&p.b_peer).unwrap();
        let (resp, _) = create_response(rst, &p.b_peer, 8, &mut p.rng).unwrap();
        // ...and the initiator refuses the response.
        assert_eq!(consume_response(&ist, &p.a, &p.a_peer, &resp).unwrap_err(), HandshakeError::ResponseAuthentication);
        // One side with a PSK, the other without: same.
        let mut p = pair_with(5, [0; 32], [2; 32]);
        assert_eq!(run(&mut p).unwrap_err(), HandshakeError::ResponseAuthentication);
    }

    /// Applies `f` to a copy of every byte the Noise transcript covers, one bit at a time.
    fn flip_each_bit<T: Copy>(msg: &T, fields: impl Fn(&mut T) -> Vec<&mut [u8]>, mut check: impl FnMut(&T)) {
        let n_bytes: usize = fields(&mut msg.clone()).iter().map(|f| f.len()).sum();
        for i in 0..n_bytes {
            for bit in 0..8 {
                let mut m = *msg;
                let mut idx = i;
                for f in fields(&mut m) {
                    if idx < f.len() {
                        f[idx] ^= 1 << bit;
                        break;
                    }
                    idx -= f.len();
                }
                check(&m);
            }
        }
    }

    #[test]
    fn tampering_with_any_bit_of_the_initiation_fails() {
        let mut p = pair(6, [3; 32]);
        let (init, _) = create_initiation(&p.a, &p.a_peer, 9, ts(20), &mut p.rng).unwrap();
        assert!(begin_initiation(&p.b, &init).unwrap().finish(&p.b_peer).is_ok());
        let mut count = 0;
        flip_each_bit(
            &init,
            |m: &mut InitiationRepr| {
                vec![&mut m.ephemeral[..], &mut m.encrypted_static[..], &mut m.encrypted_timestamp[..]]
            },
            |m| {
                count += 1;
                let res = begin_initiation(&p.b, m).and_then(|o| o.finish(&p.b_peer));
                let err = res.expect_err("tampered initiation accepted");
                assert!(
                    matches!(
                        err,
                        HandshakeError::StaticDecryption
                            | HandshakeError::TimestampDecryption
                            | HandshakeError::LowOrderKey
                    ),
                    "{err:?}"
                );
            },
        );
        assert_eq!(count, (32 + 48 + 28) * 8);
        // The timestamp specifically fails at finish.
        let mut m = init;
        m.encrypted_timestamp[0] ^= 1;
        assert_eq!(
            begin_initiation(&p.b, &m).unwrap().finish(&p.b_peer).unwrap_err(),
            HandshakeError::TimestampDecryption
        );
        let mut m = init;
        m.encrypted_static[47] ^= 0x80;
        assert_eq!(begin_initiation(&p.b, &m).unwrap_err(), HandshakeError::StaticDecryption);
    }

    #[test]
    fn tampering_with_any_bit_of_the_response_fails() {
        let mut p = pair(7, [0; 32]);
        let (init, ist) = create_initiation(&p.a, &p.a_peer, 10, ts(30), &mut p.rng).unwrap();
        let (_, rst) = begin_initiation(&p.b, &init).unwrap().finish(&p.b_peer).unwrap();
        let (resp, _) = create_response(rst, &p.b_peer, 11, &mut p.rng).unwrap();
        let mut count = 0;
        flip_each_bit(
            &resp,
            |m: &mut ResponseRepr| vec![&mut m.ephemeral[..], &mut m.encrypted_nothing[..]],
            |m| {
                count += 1;
                let err = consume_response(&ist, &p.a, &p.a_peer, m).expect_err("tampered response accepted");
                assert!(matches!(err, HandshakeError::ResponseAuthentication | HandshakeError::LowOrderKey), "{err:?}");
            },
        );
        assert_eq!(count, (32 + 16) * 8);
        // A wrong receiver index is refused before any crypto.
        let mut m = resp;
        m.receiver_index ^= 1;
        assert_eq!(consume_response(&ist, &p.a, &p.a_peer, &m).unwrap_err(), HandshakeError::ReceiverIndexMismatch);
        // The state survived all of that: the genuine response still completes.
        assert!(consume_response(&ist, &p.a, &p.a_peer, &resp).is_ok());
    }

    /// The u-coordinates of the points of order 1, 2, 4 and 8 on Curve25519, the non-canonical
    /// encodings p and p + 1 (≡ 0 and 1), and each of these with the top bit set (X25519
    /// ignores bit 255). Adding p to the order-8 points does not fit in 255 bits, so those have
    /// no other encodings.
    fn low_order_points() -> Vec<[u8; 32]> {
        fn hex(s: &str) -> [u8; 32] {
            let mut out = [0u8; 32];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
            }
            out
        }
        let canonical = [
            "0000000000000000000000000000000000000000000000000000000000000000", // 0 (order 4)
            "0100000000000000000000000000000000000000000000000000000000000000", // 1 (order 1)
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1 (order 2)
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p ≡ 0
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1 ≡ 1
        ];
        let mut out = Vec::new();
        for s in canonical {
            let p = hex(s);
            out.push(p);
            let mut high = p;
            high[31] |= 0x80;
            out.push(high);
        }
        out
    }

    #[test]
    fn low_order_ephemeral_in_initiation_is_an_error() {
        let mut p = pair(8, [0; 32]);
        let (init, _) = create_initiation(&p.a, &p.a_peer, 12, ts(40), &mut p.rng).unwrap();
        for point in low_order_points() {
            let mut m = init;
            m.ephemeral = point;
            assert_eq!(begin_initiation(&p.b, &m).unwrap_err(), HandshakeError::LowOrderKey, "{point:02x?}");
        }
    }

    #[test]
    fn low_order_ephemeral_in_response_is_an_error() {
        let mut p = pair(9, [0; 32]);
        let (init, ist) = create_initiation(&p.a, &p.a_peer, 13, ts(50), &mut p.rng).unwrap();
        let (_, rst) = begin_initiation(&p.b, &init).unwrap().finish(&p.b_peer).unwrap();
        let (resp, _) = create_response(rst, &p.b_peer, 14, &mut p.rng).unwrap();
        for point in low_order_points() {
            let mut m = resp;
            m.ephemeral = point;
            assert_eq!(consume_response(&ist, &p.a, &p.a_peer, &m).unwrap_err(), HandshakeError::LowOrderKey);
        }
    }

    #[test]
    fn low_order_static_key_cannot_be_configured() {
        let p = pair(10, [0; 32]);
        for point in low_order_points() {
            assert_eq!(PeerSecrets::new(&p.a, PublicKey(point), [0; 32]).unwrap_err(), HandshakeError::LowOrderKey);
        }
    }

    #[test]
    fn secrets_for_another_peer_or_identity_are_refused() {
        let mut p = pair(11, [0; 32]);
        let c = LocalIdentity::new(StaticSecret::random(&mut p.rng));
        let (init, _) = create_initiation(&p.a, &p.a_peer, 15, ts(60), &mut p.rng).unwrap();
        // B has C configured, but the initiation is from A.
        let b_view_of_c = PeerSecrets::new(&p.b, c.public, [0; 32]).unwrap();
        let opened = begin_initiation(&p.b, &init).unwrap();
        assert_eq!(opened.finish(&b_view_of_c).unwrap_err(), HandshakeError::PeerMismatch);
        // A's secrets for B, but used with C's identity.
        assert_eq!(
            create_initiation(&c, &p.a_peer, 16, ts(61), &mut p.rng).unwrap_err(),
            HandshakeError::IdentityMismatch
        );
        // After A changes its private key, rebinding makes the handshake work again.
        let a2 = LocalIdentity::new(StaticSecret::random(&mut p.rng));
        let mut a2_peer = p.a_peer.clone();
        assert_eq!(
            create_initiation(&a2, &a2_peer, 17, ts(62), &mut p.rng).unwrap_err(),
            HandshakeError::IdentityMismatch
        );
        a2_peer.rebind(&a2).unwrap();
        let b_peer2 = PeerSecrets::new(&p.b, a2.public, [0; 32]).unwrap();
        let (init, ist) = create_initiation(&a2, &a2_peer, 17, ts(62), &mut p.rng).unwrap();
        let (_, rst) = begin_initiation(&p.b, &init).unwrap().finish(&b_peer2).unwrap();
        let (resp, bk) = create_response(rst, &b_peer2, 18, &mut p.rng).unwrap();
        let ak = consume_response(&ist, &a2, &a2_peer, &resp).unwrap();
        assert_eq!(ak.send, bk.recv);
    }

    #[test]
    fn initiation_to_someone_else_does_not_open() {
        let mut p = pair(12, [0; 32]);
        let c = LocalIdentity::new(StaticSecret::random(&mut p.rng));
        let (init, _) = create_initiation(&p.a, &p.a_peer, 19, ts(70), &mut p.rng).unwrap();
        assert_eq!(begin_initiation(&c, &init).unwrap_err(), HandshakeError::StaticDecryption);
    }

    #[test]
    fn initiation_carries_index_and_zero_macs() {
        let mut p = pair(13, [0; 32]);
        let (init, ist) = create_initiation(&p.a, &p.a_peer, 0xdead_beef, ts(80), &mut p.rng).unwrap();
        assert_eq!(init.sender_index, 0xdead_beef);
        assert_eq!(ist.sender_index(), 0xdead_beef);
        assert_eq!(ist.remote_static(), &p.b.public);
        assert_eq!((init.mac1, init.mac2), ([0; 16], [0; 16]));
        let opened = begin_initiation(&p.b, &init).unwrap();
        assert_eq!(opened.remote_index(), 0xdead_beef);
        let (_, rst) = opened.finish(&p.b_peer).unwrap();
        assert_eq!((rst.remote_index(), rst.remote_static()), (0xdead_beef, &p.a.public));
        let (resp, _) = create_response(rst, &p.b_peer, 0x0bad_cafe, &mut p.rng).unwrap();
        assert_eq!((resp.sender_index, resp.receiver_index), (0x0bad_cafe, 0xdead_beef));
        assert_eq!((resp.mac1, resp.mac2), ([0; 16], [0; 16]));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut p = pair(14, [0x77; 32]);
        let (_, ist) = create_initiation(&p.a, &p.a_peer, 1, ts(90), &mut p.rng).unwrap();
        let (a, _) = run(&mut p).unwrap();
        let text = format!("{:?} {:?} {:?} {:?}", p.a, p.a_peer, ist, a);
        assert!(!text.contains("119, 119"), "{text}"); // the PSK bytes
        assert!(!text.contains(&format!("{:?}", a.send)));
    }
}
