//! What a driver or the UAPI hands the device: its own settings, each peer's settings, and
//! the address a peer is reached at.

use crate::constants::DEFAULT_REPLAY_WINDOW;
use crate::crypto::PublicKey;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use zeroize::Zeroizing;

/// Device-wide settings. The private key is wiped when the config is dropped and never shown
/// by `Debug`.
#[derive(Clone)]
pub struct DeviceConfig {
    /// The interface's static private key; a device without one answers no handshake
    /// (wireguard-go lets `wg` configure peers before the key).
    pub private_key: Option<Zeroizing<[u8; 32]>>,
    /// Tunnel MTU: plaintext is padded to a multiple of 16 but never beyond it.
    pub mtu: usize,
    /// Anti-replay window in packets (at least the kernel's 8128; bonding wants more).
    pub replay_window: usize,
    /// Handshake messages per second above which the device considers itself under load.
    pub handshake_load_threshold: u32,
    /// Handshake messages per second, from all sources together, that may reach the
    /// Diffie-Hellman steps ([`HandshakeBudget`](crate::cookie::HandshakeBudget)); beyond it
    /// they are dropped and the device goes under load.
    pub handshake_budget: u32,
}

impl core::fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("private_key", &self.private_key.as_ref().map(|_| "<redacted>"))
            .field("mtu", &self.mtu)
            .field("replay_window", &self.replay_window)
            .field("handshake_load_threshold", &self.handshake_load_threshold)
            .field("handshake_budget", &self.handshake_budget)
            .finish()
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            private_key: None,
            mtu: 1420,
            replay_window: DEFAULT_REPLAY_WINDOW,
            handshake_load_threshold: 1024,
            handshake_budget: crate::cookie::DEFAULT_HANDSHAKE_BUDGET,
        }
    }
}

/// Where a peer is reached: its UDP address and, when known, our local address that it
/// talked to (source-address stickiness: replies leave from the address the peer used).
/// Multipath will give one peer several of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The peer's address and port.
    pub addr: SocketAddr,
    /// Our address the peer's packets arrived on, if the driver knows it.
    pub local: Option<IpAddr>,
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint { addr, local: None }
    }
}

/// A peer's settings, as `wg set` or a config file gives them. The pre-shared key is wiped
/// when the config is dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct PeerConfig {
    /// The peer's static public key: its identity.
    pub public_key: PublicKey,
    /// Optional pre-shared key mixed into every handshake (post-quantum hedge).
    pub preshared_key: Option<Zeroizing<[u8; 32]>>,
    /// Where to send handshakes before the peer has talked to us.
    pub endpoint: Option<Endpoint>,
    /// Send a keepalive after this much idle time (keeps NAT mappings open).
    pub persistent_keepalive: Option<Duration>,
    /// Prefixes routed to this peer and accepted from it.
    pub allowed_ips: Vec<(IpAddr, u8)>,
}

impl core::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("public_key", &self.public_key)
            .field("preshared_key", &self.preshared_key.as_ref().map(|_| "<redacted>"))
            .field("endpoint", &self.endpoint)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

impl PeerConfig {
    /// A peer with only its key: no endpoint, no routes, no keepalive.
    pub fn new(public_key: PublicKey) -> Self {
        Self { public_key, preshared_key: None, endpoint: None, persistent_keepalive: None, allowed_ips: Vec::new() }
    }
}

/// Why a configuration change was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The peer's public key is the device's own (the UAPI ignores such a peer, as wireguard-go).
    #[error("the public key is this device's own")]
    OwnPublicKey,
    /// A peer with this public key exists already.
    #[error("a peer with this public key already exists")]
    DuplicatePeer,
    /// The peer handle is stale or unknown.
    #[error("no such peer")]
    NoSuchPeer,
    /// An allowed-IPs prefix is invalid.
    #[error("invalid allowed-ip prefix {0}/{1}")]
    BadPrefix(IpAddr, u8),
    /// The MTU is outside 576..=65535 (IPv4 minimum; IPv6 needs 1280 on the tunnel).
    #[error("invalid MTU {0}")]
    BadMtu(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Security review finding 9: `DeviceConfig`/`PeerConfig` derived `Debug` over the raw
    /// keys (and kept them in plain arrays). Shown in full on 1a8c593.
    #[test]
    fn debug_output_never_shows_a_key() {
        let config = DeviceConfig { private_key: Some([0xab; 32].into()), ..DeviceConfig::default() };
        let mut peer = PeerConfig::new(PublicKey([1; 32]));
        peer.preshared_key = Some([0xcd; 32].into());
        for text in [format!("{config:?}"), format!("{peer:?}")] {
            assert!(!text.contains("171") && !text.contains("205") && !text.contains("ab, ab"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
