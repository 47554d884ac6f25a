//! braid's WireGuard [`Device`] in the simulator: the [`SimDevice`] adapter and helpers that
//! create keyed nodes and peer them the way `wg set` would.

use core::net::{IpAddr, SocketAddr};
use core::ops::Range;
use core::time::Duration;

use braid_proto::crypto::PublicKey;
use braid_proto::{Device, DeviceConfig, DropReason, Endpoint, Instant, PeerConfig, PeerId, PeerStats};
use rand_core::RngCore;

use crate::node::{tunnel_v4, tunnel_v6, NodeId};
use crate::sim::{Sim, SimConfig};
use crate::sim_device::{Outbound, SimDevice};

impl SimDevice for Device {
    type DropReason = DropReason;

    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        local: IpAddr,
        datagram: &mut [u8],
    ) -> Result<Option<Range<usize>>, DropReason> {
        let from = Endpoint { addr: from, local: Some(local) };
        Device::handle_datagram(self, now, from, datagram).map(|r| r.map(|r| r.packet))
    }

    fn handle_packet(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Result<Option<Outbound>, DropReason> {
        Device::handle_packet(self, now, packet, out).map(|t| t.map(|t| Outbound { to: t.to.addr, len: t.len }))
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Outbound> {
        Device::poll_transmit(self, now, buf).map(|t| Outbound { to: t.to.addr, len: t.len })
    }

    fn poll_timers(&mut self, now: Instant) {
        Device::poll_timers(self, now);
    }

    fn next_deadline(&self) -> Option<Instant> {
        Device::next_deadline(self)
    }
}

/// How two nodes are peered by [`Sim::connect_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeeringOptions {
    /// `a` is configured with `b`'s endpoint (otherwise `a` can only answer).
    pub a_knows_b: bool,
    /// `b` is configured with `a`'s endpoint.
    pub b_knows_a: bool,
    /// Pre-shared key on both sides.
    pub preshared_key: Option<[u8; 32]>,
    /// `a`'s persistent keepalive towards `b`.
    pub a_keepalive: Option<Duration>,
    /// `b`'s persistent keepalive towards `a`.
    pub b_keepalive: Option<Duration>,
}

impl Default for PeeringOptions {
    /// Both endpoints known, no PSK, no persistent keepalive.
    fn default() -> Self {
        Self { a_knows_b: true, b_knows_a: true, preshared_key: None, a_keepalive: None, b_keepalive: None }
    }
}

impl Sim<Device> {
    /// A WireGuard network with default settings for `seed` (see [`SimConfig::new`]).
    pub fn new(seed: u64) -> Self {
        Self::with_config(SimConfig::new(seed))
    }

    /// Adds a device with default settings and a private key drawn from the node's seeded RNG.
    pub fn add_wg_node(&mut self) -> NodeId {
        self.add_wg_node_with(DeviceConfig::default())
    }

    /// Adds a device with `config`; a missing private key is drawn from the node's seeded RNG.
    pub fn add_wg_node_with(&mut self, config: DeviceConfig) -> NodeId {
        self.add_node_with(|mut setup| {
            let mut config = config;
            if config.private_key.is_none() {
                let mut key = [0u8; 32];
                setup.rng.fill_bytes(&mut key);
                config.private_key = Some(key.into());
            }
            Device::new(config, setup.now, setup.unix_now, Box::new(setup.rng))
        })
    }

    /// Peers `a` and `b` with each other: endpoints known, each routing the other's tunnel
    /// addresses (`/32` and `/128`). Returns (`b` as seen by `a`, `a` as seen by `b`).
    pub fn connect(&mut self, a: NodeId, b: NodeId) -> (PeerId, PeerId) {
        self.connect_with(a, b, PeeringOptions::default())
    }

    /// Peers `a` and `b` as `options` say.
    ///
    /// # Panics
    /// If either device lacks a key or refuses the peer (already peered).
    pub fn connect_with(&mut self, a: NodeId, b: NodeId, options: PeeringOptions) -> (PeerId, PeerId) {
        let key_a = self.public_key(a);
        let key_b = self.public_key(b);
        let (addr_a, addr_b) = (self.node_addr(a), self.node_addr(b));
        let config = |key, node, addr: SocketAddr, knows: bool, keepalive| PeerConfig {
            public_key: key,
            preshared_key: options.preshared_key.map(Into::into),
            endpoint: knows.then_some(Endpoint::from(addr)),
            persistent_keepalive: keepalive,
            allowed_ips: vec![(IpAddr::V4(tunnel_v4(node)), 32), (IpAddr::V6(tunnel_v6(node)), 128)],
        };
        let cfg_b = config(key_b, b, addr_b, options.a_knows_b, options.a_keepalive);
        let cfg_a = config(key_a, a, addr_a, options.b_knows_a, options.b_keepalive);
        let b_at_a = self.with_device(a, |d, _| d.add_peer(cfg_b)).unwrap_or_else(|e| panic!("{a} add {b}: {e}"));
        let a_at_b = self.with_device(b, |d, _| d.add_peer(cfg_a)).unwrap_or_else(|e| panic!("{b} add {a}: {e}"));
        (b_at_a, a_at_b)
    }

    /// Peers every pair of nodes (a full mesh).
    pub fn connect_full_mesh(&mut self) {
        let n = self.node_count();
        for i in 0..n {
            for j in i + 1..n {
                self.connect(NodeId(i), NodeId(j));
            }
        }
    }

    /// A node's public key.
    ///
    /// # Panics
    /// If the node's device has no private key.
    pub fn public_key(&self, node: NodeId) -> PublicKey {
        self.device(node).public_key().unwrap_or_else(|| panic!("{node} has no private key"))
    }

    /// The handle under which `at` knows `of`, if they are peered.
    pub fn peer_id(&self, at: NodeId, of: NodeId) -> Option<PeerId> {
        self.device(at).peer_by_key(&self.public_key(of))
    }

    /// `at`'s view of its peer `of`.
    ///
    /// # Panics
    /// If they are not peered.
    pub fn peer_stats(&self, at: NodeId, of: NodeId) -> PeerStats {
        self.peer_id(at, of)
            .and_then(|id| self.device(at).peer_stats(id))
            .unwrap_or_else(|| panic!("{at} has no peer {of}"))
    }
}
