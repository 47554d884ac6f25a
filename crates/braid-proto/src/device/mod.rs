//! The WireGuard device as a state machine: peers by public key, sessions by index, the
//! allowed-IPs table, per-peer timers, and the queue of datagrams it wants sent.
//!
//! The driver's loop, whatever the IO (TUN + UDP, AF_XDP, an in-process channel, the
//! simulator):
//!
//! ```text
//! datagram from the network → handle_datagram(now, from, buf)  → maybe an IP packet for TUN
//! IP packet from TUN        → handle_packet(now, pkt, out) → maybe a datagram to send
//! the deadline passed       → poll_timers(now)
//! after each of these       → while let Some(t) = poll_transmit(now, buf) { send buf[..t.len] to t.to }
//! then sleep until          → next_deadline()
//! ```
//!
//! The hot paths (`handle_datagram` on a transport message, `handle_packet` with a live
//! session) work in the caller's buffers and allocate nothing.

mod config;
mod drop_reason;
mod events;
mod handshake_flow;
mod index_table;
mod outbox;
mod peer;
mod pipeline;
mod receive;
mod send;
mod session;
mod timers;
mod wall_clock;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, DeviceConfig, Endpoint, PeerConfig};
pub use drop_reason::{DeviceStats, DropReason};
pub use events::{DeviceEvent, EVENT_QUEUE_LIMIT};
pub use peer::PeerStats;
pub use pipeline::{is_transport, OpenJob, Opened, SealJob};
pub use session::{padded_len, TRANSPORT_HEADER_LEN, TRANSPORT_OVERHEAD};
pub use timers::TimerKind;

use crate::allowed_ips::AllowedIps;
use crate::cookie::{CookieChecker, HandshakeBudget, LoadDetector, RateLimiter};
use crate::crypto::{PublicKey, StaticSecret};
use crate::noise::{LocalIdentity, PeerSecrets};
use crate::time::Instant;
use crate::timers::TimerWheel;
use core::net::IpAddr;
use core::ops::Range;
use core::time::Duration;
use events::EventQueue;
use index_table::IndexTable;
use outbox::Outgoing;
use peer::Peer;
use std::collections::{HashMap, VecDeque};
use wall_clock::WallClock;
use zeroize::Zeroizing;

/// A handle to a peer of one device. Handles of removed peers never match a later peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    slot: u32,
    generation: u32,
}

/// A datagram the device wants sent: the bytes are `buf[..len]` of the buffer given to
/// [`Device::poll_transmit`] or [`Device::handle_packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The peer it is for; `None` for a cookie reply to an unauthenticated source.
    pub peer: Option<PeerId>,
    /// Where to send it (and from which local address, when known).
    pub to: Endpoint,
    /// Its length.
    pub len: usize,
}

/// An authenticated IP packet for the TUN side, decrypted in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    /// The peer it came from.
    pub peer: PeerId,
    /// Where the IP packet (padding removed) sits in the datagram buffer.
    pub packet: Range<usize>,
}

struct PeerSlot {
    generation: u32,
    peer: Option<Peer>,
}

/// A WireGuard interface without its IO. See the module documentation for the driver loop.
pub struct Device {
    identity: Option<LocalIdentity>,
    cookie_checker: Option<CookieChecker>,
    rate_limiter: RateLimiter,
    budget: HandshakeBudget,
    /// Cookie replies per second, all sources together (10 × the handshake budget).
    cookie_budget: HandshakeBudget,
    load: LoadDetector,
    peers: Vec<PeerSlot>,
    free_slots: Vec<u32>,
    by_key: HashMap<PublicKey, PeerId>,
    indices: IndexTable,
    allowed_ips: AllowedIps<PeerId>,
    timers: TimerWheel<(PeerId, TimerKind)>,
    expired: Vec<(PeerId, TimerKind)>,
    outbox: VecDeque<Outgoing>,
    rng: Box<dyn rand_core::CryptoRng + Send>,
    wall: WallClock,
    mtu: usize,
    replay_window: usize,
    stats: DeviceStats,
    events: EventQueue,
}

impl core::fmt::Debug for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("public_key", &self.public_key())
            .field("peers", &self.by_key.len())
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

fn peer_mut(peers: &mut [PeerSlot], id: PeerId) -> Option<&mut Peer> {
    peers.get_mut(id.slot as usize).filter(|s| s.generation == id.generation).and_then(|s| s.peer.as_mut())
}

fn peer_ref(peers: &[PeerSlot], id: PeerId) -> Option<&Peer> {
    peers.get(id.slot as usize).filter(|s| s.generation == id.generation).and_then(|s| s.peer.as_ref())
}

/// Timer wheel geometry: 10 ms slots, 1024 of them (one rotation ≈ 10 s, the keepalive
/// period, so most timers land within one turn).
const WHEEL_TICK: Duration = Duration::from_millis(10);
/// Cookie replies allowed per second, as a multiple of the handshake budget: a cookie costs
/// no Diffie-Hellman but an AEAD and a datagram, and a flood of forged initiations must not
/// turn into a core's worth of them (10 × 2 000/s covers every legitimate retry).
const COOKIE_BUDGET_FACTOR: u32 = 10;
const WHEEL_SLOTS: usize = 1024;

impl Device {
    /// A device at monotonic time `now`, when the wall clock reads `unix_now` (used only for
    /// TAI64N handshake timestamps and `last_handshake`). `rng` supplies every random value
    /// the protocol needs: ephemeral keys, indices, jitter, cookie secrets.
    pub fn new(
        config: DeviceConfig,
        now: Instant,
        unix_now: Duration,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Device {
        let mut device = Device {
            identity: None,
            cookie_checker: None,
            rate_limiter: RateLimiter::new(),
            budget: HandshakeBudget::new(config.handshake_budget),
            cookie_budget: HandshakeBudget::new(config.handshake_budget.saturating_mul(COOKIE_BUDGET_FACTOR)),
            load: LoadDetector::new(config.handshake_load_threshold),
            peers: Vec::new(),
            free_slots: Vec::new(),
            by_key: HashMap::new(),
            indices: IndexTable::default(),
            allowed_ips: AllowedIps::new(),
            timers: TimerWheel::new(now, WHEEL_TICK, WHEEL_SLOTS),
            expired: Vec::new(),
            outbox: VecDeque::new(),
            rng,
            wall: WallClock::new(now, unix_now),
            mtu: config.mtu,
            replay_window: config.replay_window,
            stats: DeviceStats::default(),
            events: EventQueue::default(),
        };
        device.set_private_key(config.private_key.as_deref().copied());
        device
    }

    /// Re-anchors the wall clock (the driver may call this if the system clock stepped).
    pub fn set_wall_clock(&mut self, now: Instant, unix_now: Duration) {
        self.wall = WallClock::new(now, unix_now);
    }

    /// The device's public key, if it has a private key.
    pub fn public_key(&self) -> Option<PublicKey> {
        self.identity.as_ref().map(|i| i.public)
    }

    /// The (clamped) private key, for the UAPI `get`.
    pub fn private_key(&self) -> Option<Zeroizing<[u8; 32]>> {
        self.identity.as_ref().map(|i| Zeroizing::new(i.secret.to_bytes()))
    }

    /// Sets or clears the private key. As the kernel does: a peer whose public key equals the
    /// new one is removed, every peer's precomputed secrets are redone, and sessions stop
    /// sending so the next packet handshakes with the new identity.
    pub fn set_private_key(&mut self, key: Option<[u8; 32]>) {
        let identity = key.map(|k| LocalIdentity::new(StaticSecret::from_bytes(k)));
        if let (Some(new), Some(old)) = (&identity, &self.identity) {
            if new.public == old.public {
                return;
            }
        }
        if let Some(own) = identity.as_ref().and_then(|i| self.by_key.get(&i.public).copied()) {
            self.remove_peer(own);
        }
        match &identity {
            Some(i) => match &mut self.cookie_checker {
                Some(c) => c.set_local_public(&i.public),
                None => self.cookie_checker = Some(CookieChecker::new(&i.public)),
            },
            None => self.cookie_checker = None,
        }
        self.identity = identity;
        for slot in &mut self.peers {
            if let Some(peer) = slot.peer.as_mut() {
                peer.secrets =
                    self.identity.as_ref().and_then(|i| PeerSecrets::new(i, peer.public_key, *peer.preshared_key).ok());
                peer.sessions.invalidate_sending();
                if let Some(p) = peer.pending.take() {
                    self.indices.free(p.local_index);
                }
            }
        }
    }

    /// The tunnel MTU (plaintext padding never exceeds it).
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Changes the tunnel MTU.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), ConfigError> {
        if !(576..=65535).contains(&mtu) {
            return Err(ConfigError::BadMtu(mtu));
        }
        self.mtu = mtu;
        Ok(())
    }

    /// Adds a peer. Its own key is refused ([`ConfigError::OwnPublicKey`]; the UAPI ignores
    /// that peer as wireguard-go does). A peer whose key has low order is accepted but inert:
    /// nothing is ever sent to it.
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<PeerId, ConfigError> {
        if self.public_key() == Some(config.public_key) {
            return Err(ConfigError::OwnPublicKey);
        }
        if self.by_key.contains_key(&config.public_key) {
            return Err(ConfigError::DuplicatePeer);
        }
        for &(addr, cidr) in &config.allowed_ips {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if cidr > max {
                return Err(ConfigError::BadPrefix(addr, cidr));
            }
        }
        let id = match self.free_slots.pop() {
            Some(slot) => {
                let s = &mut self.peers[slot as usize];
                s.generation = s.generation.wrapping_add(1);
                PeerId { slot, generation: s.generation }
            }
            None => {
                self.peers.push(PeerSlot { generation: 0, peer: None });
                PeerId { slot: (self.peers.len() - 1) as u32, generation: 0 }
            }
        };
        let mut peer = Peer::new(id, config.public_key);
        *peer.preshared_key = config.preshared_key.as_deref().copied().unwrap_or([0; 32]);
        peer.secrets =
            self.identity.as_ref().and_then(|i| PeerSecrets::new(i, config.public_key, *peer.preshared_key).ok());
        peer.endpoint = config.endpoint;
        peer.persistent_keepalive = config.persistent_keepalive.filter(|d| !d.is_zero());
        self.peers[id.slot as usize].peer = Some(peer);
        self.by_key.insert(config.public_key, id);
        for (addr, cidr) in config.allowed_ips {
            // Validated above, so this cannot fail.
            let _ = self.allowed_ips.insert(addr, cidr, id);
        }
        Ok(id)
    }

    /// Removes a peer: its sessions, indices, routes, timers and queued packets go with it.
    pub fn remove_peer(&mut self, id: PeerId) {
        if self.detach_peer(id) {
            self.allowed_ips.remove_value(id);
        }
    }

    /// Removes every peer (`replace_peers`, `wg setconf`): as [`remove_peer`](Self::remove_peer)
    /// for each, but the routing table is cleared once instead of searched per peer, so the
    /// device is held for time linear in the peers (milliseconds at 100 000), not peers ×
    /// prefixes.
    pub fn remove_all_peers(&mut self) {
        let all: Vec<PeerId> = self.peers().collect();
        for id in all {
            self.detach_peer(id);
        }
        self.allowed_ips.clear();
    }

    /// Everything of a peer but its routes; false if there was no such peer.
    fn detach_peer(&mut self, id: PeerId) -> bool {
        let Some(slot) = self.peers.get_mut(id.slot as usize).filter(|s| s.generation == id.generation) else {
            return false;
        };
        let Some(mut peer) = slot.peer.take() else { return false };
        peer.sessions.clear(&mut self.indices);
        if let Some(p) = peer.pending.take() {
            self.indices.free(p.local_index);
        }
        self.by_key.remove(&peer.public_key);
        for kind in TimerKind::ALL {
            self.timers.cancel((id, kind));
        }
        self.free_slots.push(id.slot);
        true
    }

    /// The peer with this public key.
    pub fn peer_by_key(&self, key: &PublicKey) -> Option<PeerId> {
        self.by_key.get(key).copied()
    }

    /// All peers, in no particular order.
    pub fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.iter().filter_map(|s| s.peer.as_ref().map(|p| p.id))
    }

    /// A snapshot of a peer's state and counters.
    pub fn peer_stats(&self, id: PeerId) -> Option<PeerStats> {
        peer_ref(&self.peers, id).map(Peer::stats)
    }

    /// Sets where a peer is reached (a configured endpoint; roaming may change it later).
    pub fn set_peer_endpoint(&mut self, id: PeerId, endpoint: Endpoint) -> Result<(), ConfigError> {
        let peer = peer_mut(&mut self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        peer.endpoint = Some(endpoint);
        Ok(())
    }

    /// Forgets which of our addresses the peer talked to (`endpoint.local`), keeping its
    /// address. A driver calls this when the OS refused to send from that address (it was
    /// removed from the host), so later datagrams leave with the OS's choice of source until
    /// the peer's next authenticated packet teaches a new one, like the kernel clearing its
    /// cached source. Unknown peers and peers without an endpoint are left alone.
    pub fn clear_endpoint_source(&mut self, id: PeerId) {
        if let Some(endpoint) = peer_mut(&mut self.peers, id).and_then(|p| p.endpoint.as_mut()) {
            endpoint.local = None;
        }
    }

    /// Sets or clears the pre-shared key; the next handshake uses it (an existing session
    /// keeps its keys until then, as in the kernel).
    pub fn set_peer_preshared_key(&mut self, id: PeerId, psk: Option<[u8; 32]>) -> Result<(), ConfigError> {
        let peer = peer_mut(&mut self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        *peer.preshared_key = psk.unwrap_or([0; 32]);
        if let Some(secrets) = peer.secrets.as_mut() {
            secrets.set_preshared_key(*peer.preshared_key);
        }
        Ok(())
    }

    /// Sets the persistent keepalive interval (`None` or zero turns it off). Turning it on
    /// sends a keepalive at once, as wireguard-go and the kernel do, so a NAT mapping opens.
    pub fn set_peer_persistent_keepalive(
        &mut self,
        now: Instant,
        id: PeerId,
        interval: Option<Duration>,
    ) -> Result<(), ConfigError> {
        let peer = peer_mut(&mut self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        let interval = interval.filter(|d| !d.is_zero());
        let was_off = peer.persistent_keepalive.is_none();
        peer.persistent_keepalive = interval;
        match interval {
            None => {
                self.timers.cancel((id, TimerKind::PersistentKeepalive));
            }
            Some(_) if was_off && peer.endpoint.is_some() => self.send_keepalive(now, id),
            Some(_) => {}
        }
        Ok(())
    }

    /// Adds a prefix to a peer's allowed IPs (moving it from another peer if held).
    pub fn add_allowed_ip(&mut self, id: PeerId, addr: IpAddr, cidr: u8) -> Result<(), ConfigError> {
        peer_ref(&self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        self.allowed_ips.insert(addr, cidr, id).map_err(|_| ConfigError::BadPrefix(addr, cidr))?;
        Ok(())
    }

    /// Removes one prefix from a peer's allowed IPs (no-op when another peer holds it).
    pub fn remove_allowed_ip(&mut self, id: PeerId, addr: IpAddr, cidr: u8) -> Result<(), ConfigError> {
        peer_ref(&self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        if let Some(owner) = self.allowed_ips.remove(addr, cidr) {
            if owner != id {
                // Held by another peer: `-prefix` on this peer must not take it away.
                let _ = self.allowed_ips.insert(addr, cidr, owner);
            }
        }
        Ok(())
    }

    /// Removes all of a peer's allowed IPs.
    pub fn clear_allowed_ips(&mut self, id: PeerId) -> Result<(), ConfigError> {
        peer_ref(&self.peers, id).ok_or(ConfigError::NoSuchPeer)?;
        self.allowed_ips.remove_value(id);
        Ok(())
    }

    /// A peer's allowed IPs.
    pub fn allowed_ips_of(&self, id: PeerId) -> Vec<(IpAddr, u8)> {
        self.allowed_ips.prefixes_of(id).collect()
    }

    /// Every allowed-IPs prefix with its peer in one pass over the table (IPv4 then IPv6, in
    /// address order), so the UAPI `get` can group them without a table walk per peer.
    pub fn allowed_ips(&self) -> impl Iterator<Item = (IpAddr, u8, PeerId)> + '_ {
        self.allowed_ips.iter()
    }

    /// A peer's pre-shared key, `None` when it has none (all zeros), for the UAPI `get`.
    pub fn peer_preshared_key(&self, id: PeerId) -> Option<Zeroizing<[u8; 32]>> {
        peer_ref(&self.peers, id).map(|p| p.preshared_key.clone()).filter(|k| k.iter().any(|&b| b != 0))
    }

    /// The peer that packets to `addr` are routed to.
    pub fn route(&self, addr: IpAddr) -> Option<PeerId> {
        self.allowed_ips.lookup(addr)
    }

    /// Tells the device how many handshake messages its driver has queued (a threaded
    /// driver's backlog); at 1/8 of `capacity` the device goes under load and asks for cookies.
    /// From the first report on, the queue alone is the load signal (the rate count is off).
    pub fn set_handshake_backlog(&mut self, now: Instant, queued: usize, capacity: usize) {
        self.load.report_backlog(now, queued, capacity);
    }

    /// Whether the device currently demands cookies (mac2) on handshakes.
    pub fn is_under_load(&self, now: Instant) -> bool {
        self.load.is_under_load(now)
    }

    /// Device-wide counters.
    pub fn stats(&self) -> &DeviceStats {
        &self.stats
    }

    /// Number of peers.
    pub fn peer_count(&self) -> usize {
        self.by_key.len()
    }

    fn jitter(&mut self) -> Duration {
        let max = crate::constants::REKEY_TIMEOUT_JITTER_MAX.as_nanos() as u64;
        Duration::from_nanos(self.rng.next_u64() % (max + 1))
    }
}
