//! The simulation: a clock, an event agenda, nodes each running a device, and the links
//! between them.
//!
//! Everything random on the network side comes from one seeded ChaCha20 stream and every
//! device gets its own seeded stream, so one seed fixes the whole run: the same seed gives
//! the same wire log byte for byte.

mod app;
mod error;
mod event_loop;
#[cfg(test)]
mod test_device;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use core::net::SocketAddr;
use core::time::Duration;

use braid_proto::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use app::{AppSendRecord, DeliveryReport, TrafficPattern, TunSend};
pub use error::SimError;

use crate::event_queue::EventQueue;
use crate::link::LinkModel;
use crate::node::{default_underlay_addr, NodeId, TunDelivery};
use crate::sim_device::SimDevice;
use crate::wire_log::{WireLog, WireLogMode, WireRecord};

/// Size of every packet buffer the simulator hands a device (the largest UDP datagram).
pub const BUFFER_LEN: usize = 65_536;

/// Decides, per datagram about to enter a link, whether a test wants it removed (`true` =
/// drop). It sees the record being logged and the datagram's bytes.
pub type WireFilter = Box<dyn FnMut(&WireRecord, &[u8]) -> bool>;

/// Knobs of a simulation; [`SimConfig::new`] gives sensible defaults for a seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds the network RNG (stream 0) and every device's RNG (stream `1 + node index`).
    pub seed: u64,
    /// Simulated time at creation.
    pub start: Instant,
    /// Unix time at `start`, handed to devices for TAI64N timestamps and handshake times.
    pub unix_time_at_start: Duration,
    /// Link used for node pairs without an explicit [`LinkModel`].
    pub default_link: LinkModel,
    /// How much of the wire is recorded.
    pub wire_log: WireLogMode,
    /// Keep a copy of every packet delivered to a TUN (off for very long runs).
    pub keep_tun_packets: bool,
    /// A single `run_until` call fails after processing this many events.
    pub max_events_per_run: u64,
    /// A node's timer may fire at most this many times at one instant before the run fails.
    pub max_timer_ticks_per_instant: u64,
    /// One drain of `poll_transmit` may yield at most this many datagrams.
    pub max_transmits_per_drain: usize,
}

impl SimConfig {
    /// Defaults: time starts at 0, Unix time 2023-11-14 (1 700 000 000 s), clean 10 ms links,
    /// every datagram logged with its bytes, TUN packets kept, generous loop guards.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            start: Instant::ZERO,
            unix_time_at_start: Duration::from_secs(1_700_000_000),
            default_link: LinkModel::default(),
            wire_log: WireLogMode::WithBytes,
            keep_tun_packets: true,
            max_events_per_run: 200_000_000,
            max_timer_ticks_per_instant: 1_000,
            max_transmits_per_drain: 100_000,
        }
    }
}

/// What a device constructor gets for a new node: its identity, the current times and its
/// own deterministic RNG.
pub struct NodeSetup {
    /// The node being created.
    pub id: NodeId,
    /// Simulated time now.
    pub now: Instant,
    /// Unix time now.
    pub unix_now: Duration,
    /// The node's own RNG (ChaCha20, the simulation seed, stream `1 + index`).
    pub rng: ChaCha20Rng,
}

/// Per-node state the simulator keeps beside the device.
struct Node<D> {
    device: D,
    addr: SocketAddr,
    tun: Vec<TunDelivery>,
    /// The deadline the one valid pending timer event is scheduled for.
    timer_at: Option<Instant>,
    /// Identifies the valid timer event; older ones in the queue are stale and skipped.
    timer_token: u64,
    spin_at: Instant,
    spin_ticks: u64,
}

/// Something that happens at a simulated instant.
enum Event {
    /// A datagram reaches the wire address `to`.
    Arrival { wire_index: Option<usize>, from: SocketAddr, to: SocketAddr, datagram: Vec<u8> },
    /// A node's timer deadline; valid only while `token` is the node's current token.
    Timer { node: NodeId, token: u64 },
    /// The periodic traffic generator `index` sends its next packet.
    Traffic { index: usize },
}

/// A deterministic network of devices under simulated time.
pub struct Sim<D: SimDevice> {
    config: SimConfig,
    now: Instant,
    queue: EventQueue<Event>,
    nodes: Vec<Node<D>>,
    owners: BTreeMap<SocketAddr, NodeId>,
    links: BTreeMap<(NodeId, NodeId), LinkModel>,
    net_rng: ChaCha20Rng,
    wire: WireLog<D::DropReason>,
    filter: Option<WireFilter>,
    app_log: Vec<AppSendRecord<D::DropReason>>,
    traffic: Vec<TrafficPattern>,
    next_app_seq: u64,
    events_processed: u64,
    /// Reused buffers: device output, TUN output, packet building, and a pool for datagrams in flight.
    transmit_buf: Vec<u8>,
    tun_out_buf: Vec<u8>,
    packet_buf: Vec<u8>,
    payload_buf: Vec<u8>,
    pool: Vec<Vec<u8>>,
}

impl<D: SimDevice> Sim<D> {
    /// An empty network with the given configuration.
    pub fn with_config(config: SimConfig) -> Self {
        let mut net_rng = ChaCha20Rng::seed_from_u64(config.seed);
        net_rng.set_stream(0);
        Self {
            now: config.start,
            queue: EventQueue::default(),
            nodes: Vec::new(),
            owners: BTreeMap::new(),
            links: BTreeMap::new(),
            net_rng,
            wire: WireLog::new(config.wire_log),
            filter: None,
            app_log: Vec::new(),
            traffic: Vec::new(),
            next_app_seq: 0,
            events_processed: 0,
            transmit_buf: vec![0; BUFFER_LEN],
            tun_out_buf: vec![0; BUFFER_LEN],
            packet_buf: Vec::with_capacity(BUFFER_LEN),
            payload_buf: Vec::with_capacity(BUFFER_LEN),
            pool: Vec::new(),
            config,
        }
    }

    /// Adds a node with the default addresses for its index; `make` builds its device from
    /// the node's seeded RNG and the current times. Returns the new node's id.
    pub fn add_node_with(&mut self, make: impl FnOnce(NodeSetup) -> D) -> NodeId {
        let id = NodeId(self.nodes.len());
        let mut rng = ChaCha20Rng::seed_from_u64(self.config.seed);
        rng.set_stream(1 + id.0 as u64);
        let setup = NodeSetup { id, now: self.now, unix_now: self.unix_now(), rng };
        let device = make(setup);
        let addr = default_underlay_addr(id);
        assert!(!self.owners.contains_key(&addr), "{addr} is already taken by another node");
        self.owners.insert(addr, id);
        self.nodes.push(Node {
            device,
            addr,
            tun: Vec::new(),
            timer_at: None,
            timer_token: 0,
            spin_at: self.now,
            spin_ticks: 0,
        });
        self.rearm(id);
        id
    }

    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Unix time now (the configured Unix time at start plus elapsed simulated time).
    pub fn unix_now(&self) -> Duration {
        self.config.unix_time_at_start + (self.now - self.config.start)
    }

    /// The configuration this simulation runs with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// How many nodes exist.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// All node ids, in creation order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len()).map(NodeId)
    }

    /// Events processed since the simulation began (stale timer events included).
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Read access to a node's device (statistics, peer state).
    pub fn device(&self, node: NodeId) -> &D {
        &self.node(node).device
    }

    /// Runs `f` on a node's device at the current time, then drains its transmissions and
    /// re-arms its timer, exactly as after any other input. Use it for configuration changes
    /// and driver reports (`remove_peer`, `set_handshake_backlog`, …).
    pub fn with_device<T>(&mut self, node: NodeId, f: impl FnOnce(&mut D, Instant) -> T) -> T {
        let now = self.now;
        let out = f(&mut self.node_mut(node).device, now);
        self.settle(node).unwrap_or_else(|e| panic!("{e}"));
        out
    }

    /// The node's current underlay address.
    pub fn node_addr(&self, node: NodeId) -> SocketAddr {
        self.node(node).addr
    }

    /// The node owning an underlay address right now.
    pub fn owner_of(&self, addr: SocketAddr) -> Option<NodeId> {
        self.owners.get(&addr).copied()
    }

    /// Moves a node to a new underlay address (roaming, NAT rebinding): datagrams to the old
    /// address reach nobody from now on, and the node's datagrams carry the new source.
    ///
    /// # Panics
    /// If another node owns `addr`.
    pub fn set_node_addr(&mut self, node: NodeId, addr: SocketAddr) {
        if let Some(other) = self.owner_of(addr) {
            assert_eq!(other, node, "{addr} belongs to {other}");
            return;
        }
        let old = self.node(node).addr;
        self.owners.remove(&old);
        self.owners.insert(addr, node);
        self.node_mut(node).addr = addr;
    }

    /// IP packets delivered to the node's TUN so far.
    pub fn tun_log(&self, node: NodeId) -> &[TunDelivery] {
        &self.node(node).tun
    }

    /// The link model from `from` to `to` (the default link unless one was set).
    pub fn link(&self, from: NodeId, to: NodeId) -> LinkModel {
        self.links.get(&(from, to)).copied().unwrap_or(self.config.default_link)
    }

    /// Sets the link model of one direction; datagrams already in flight keep their fate.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, model: LinkModel) {
        self.links.insert((from, to), model);
    }

    /// Sets the same link model for both directions between `a` and `b`.
    pub fn set_link_both(&mut self, a: NodeId, b: NodeId, model: LinkModel) {
        self.set_link(a, b, model);
        self.set_link(b, a, model);
    }

    /// Sets the link used by every pair without its own model.
    pub fn set_default_link(&mut self, model: LinkModel) {
        self.config.default_link = model;
    }

    /// The wire and arrival logs.
    pub fn wire(&self) -> &WireLog<D::DropReason> {
        &self.wire
    }

    /// Mutable access to the logs (change the mode, clear them between phases).
    pub fn wire_mut(&mut self) -> &mut WireLog<D::DropReason> {
        &mut self.wire
    }

    /// Installs (or removes) a filter that can remove chosen datagrams before their link.
    pub fn set_wire_filter(&mut self, filter: Option<WireFilter>) {
        self.filter = filter;
    }

    fn node(&self, node: NodeId) -> &Node<D> {
        self.nodes.get(node.0).unwrap_or_else(|| panic!("{node} does not exist"))
    }

    fn node_mut(&mut self, node: NodeId) -> &mut Node<D> {
        self.nodes.get_mut(node.0).unwrap_or_else(|| panic!("{node} does not exist"))
    }
}
