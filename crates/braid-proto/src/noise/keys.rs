//! Long-lived key material the handshake reads: our identity, what we know of a peer, and the
//! session keys a finished handshake hands out.

use super::HandshakeError;
use crate::crypto::{PublicKey, StaticSecret, KEY_LEN};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Our static key pair.
#[derive(Clone)]
pub struct LocalIdentity {
    /// The (clamped) static private key.
    pub secret: StaticSecret,
    /// Its public key, as peers configure it.
    pub public: PublicKey,
}

impl LocalIdentity {
    /// The identity for `secret` (computes the public key).
    pub fn new(secret: StaticSecret) -> Self {
        let public = secret.public_key();
        LocalIdentity { secret, public }
    }
}

impl From<StaticSecret> for LocalIdentity {
    fn from(secret: StaticSecret) -> Self {
        LocalIdentity::new(secret)
    }
}

impl core::fmt::Debug for LocalIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalIdentity").field("public", &self.public).finish_non_exhaustive()
    }
}

/// What the handshake needs to know about one configured peer: its static public key, the
/// preshared key (all zeros when none is configured) and DH(S_priv_local, S_pub_remote),
/// computed once when the peer is configured. Zeroed on drop.
///
/// Constructing it fails for a low-order remote key, so a peer configured with one can never
/// make us send a handshake message.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PeerSecrets {
    #[zeroize(skip)]
    remote_static: PublicKey,
    #[zeroize(skip)]
    local_public: PublicKey,
    preshared_key: [u8; KEY_LEN],
    static_static: [u8; KEY_LEN],
}

impl PeerSecrets {
    /// Precomputes the static-static DH between `local` and `remote_static`. `preshared_key`
    /// is all zeros when the peer has none (the value WireGuard then mixes in).
    pub fn new(
        local: &LocalIdentity,
        remote_static: PublicKey,
        preshared_key: [u8; KEY_LEN],
    ) -> Result<Self, HandshakeError> {
        let shared = local.secret.diffie_hellman(&remote_static)?;
        Ok(PeerSecrets { remote_static, local_public: local.public, preshared_key, static_static: shared.0 })
    }

    /// Recomputes the static-static DH for a new local private key (UAPI `private_key=`).
    /// On error `self` is unchanged.
    pub fn rebind(&mut self, local: &LocalIdentity) -> Result<(), HandshakeError> {
        let shared = local.secret.diffie_hellman(&self.remote_static)?;
        self.static_static = shared.0;
        self.local_public = local.public;
        Ok(())
    }

    /// The peer's static public key.
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }

    /// The preshared key (all zeros when none).
    pub fn preshared_key(&self) -> &[u8; KEY_LEN] {
        &self.preshared_key
    }

    /// Whether a non-zero preshared key is configured.
    pub fn has_preshared_key(&self) -> bool {
        !bool::from(self.preshared_key.ct_eq(&[0u8; KEY_LEN]))
    }

    /// Replaces the preshared key (all zeros removes it).
    pub fn set_preshared_key(&mut self, preshared_key: [u8; KEY_LEN]) {
        self.preshared_key = preshared_key;
    }

    /// The local public key the static-static DH was computed with.
    pub fn local_public(&self) -> &PublicKey {
        &self.local_public
    }

    pub(super) fn static_static(&self) -> &[u8; KEY_LEN] {
        &self.static_static
    }

    /// Refuses secrets made for another remote key or another local identity.
    pub(super) fn check(&self, remote_static: &PublicKey, local_public: &PublicKey) -> Result<(), HandshakeError> {
        if &self.remote_static != remote_static {
            return Err(HandshakeError::PeerMismatch);
        }
        if &self.local_public != local_public {
            return Err(HandshakeError::IdentityMismatch);
        }
        Ok(())
    }
}

impl core::fmt::Debug for PeerSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerSecrets")
            .field("remote_static", &self.remote_static)
            .field("has_preshared_key", &self.has_preshared_key())
            .finish_non_exhaustive()
    }
}

/// The transport keys of a new session, zeroed on drop.
///
/// The initiator sends with T₁ (the first KDF₂ output) and receives with T₂; the responder
/// the other way round, so `a.send == b.recv` and `a.recv == b.send`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// Key for packets we send.
    pub send: [u8; KEY_LEN],
    /// Key for packets we receive.
    pub recv: [u8; KEY_LEN],
    /// Our index: the receiver index of transport packets sent to us.
    pub local_index: u32,
    /// The peer's index: the receiver index we put on transport packets.
    pub remote_index: u32,
    /// Whether we initiated the handshake (the initiator may send at once; the responder
    /// waits for the first packet confirming the session).
    pub is_initiator: bool,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("local_index", &self.local_index)
            .field("remote_index", &self.remote_index)
            .field("is_initiator", &self.is_initiator)
            .finish_non_exhaustive()
    }
}
