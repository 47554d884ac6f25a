//! A simulated point-to-point network between two stack instances: a rate-limited bottleneck with
//! a drop-tail queue, propagation delay, random loss, jitter (which reorders) and duplication,
//! all in simulated time and driven by a seeded PRNG, so every run is reproducible.

use std::cell::RefCell;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::time::Duration;

use braid_stack::iface::{Interface, InterfaceConfig};
use braid_stack::link::{IpLink, TransmitError};
use braid_stack::socket::SocketSet;
use braid_stack::time::Instant;

use super::Rng;

/// How the simulated link treats packets (the same both ways).
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// Bottleneck rate in bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra random delay, uniform in `0..jitter`; more than a packet's serialisation time
    /// reorders packets.
    pub jitter: Duration,
    /// Random loss, percent of packets.
    pub loss_percent: f64,
    /// Random duplication, percent of packets.
    pub duplicate_percent: f64,
    /// Most queueing delay the bottleneck holds before it drops (drop-tail).
    pub max_queue_delay: Duration,
    /// The MTU of both devices.
    pub mtu: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            rate_bps: 100_000_000,
            delay: Duration::from_millis(5),
            jitter: Duration::ZERO,
            loss_percent: 0.0,
            duplicate_percent: 0.0,
            max_queue_delay: Duration::from_millis(20),
            mtu: 1500,
        }
    }
}

/// What the link did, per direction summed.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub duplicated: u64,
}

#[derive(Debug, PartialEq, Eq)]
struct InFlight {
    at: Instant,
    order: u64,
    packet: Vec<u8>,
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // A min-heap on (delivery time, send order).
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
struct Direction {
    in_flight: BinaryHeap<InFlight>,
    link_free_at: Instant,
}

#[derive(Debug)]
struct Wire {
    config: LinkConfig,
    rng: Rng,
    directions: [Direction; 2],
    order: u64,
    stats: LinkStats,
}

impl Wire {
    fn send(&mut self, from: usize, now: Instant, packet: &[u8]) {
        self.stats.sent += 1;
        if self.rng.chance(self.config.loss_percent) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.config.duplicate_percent) { 2 } else { 1 };
        let dir = &mut self.directions[from];
        let start = dir.link_free_at.max(now);
        if start.saturating_duration_since(now) > self.config.max_queue_delay {
            self.stats.queue_drops += 1;
            return;
        }
        let serialise = Duration::from_nanos(packet.len() as u64 * 8 * 1_000_000_000 / self.config.rate_bps);
        dir.link_free_at = start + serialise;
        for _ in 0..copies {
            let jitter = Duration::from_nanos(self.rng.below(self.config.jitter.as_nanos() as u64));
            let at = dir.link_free_at + self.config.delay + jitter;
            self.order += 1;
            dir.in_flight.push(InFlight { at, order: self.order, packet: packet.to_vec() });
        }
        self.stats.duplicated += copies - 1;
    }

    fn receive(&mut self, to: usize, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let dir = &mut self.directions[1 - to];
        if dir.in_flight.peek().is_none_or(|p| p.at > now) {
            return None;
        }
        let packet = dir.in_flight.pop()?.packet;
        self.stats.delivered += 1;
        let len = packet.len().min(buf.len());
        buf[..len].copy_from_slice(&packet[..len]);
        Some(len)
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.directions.iter().filter_map(|d| d.in_flight.peek().map(|p| p.at)).min()
    }
}

/// One end of the simulated link.
#[derive(Debug)]
pub struct SimDevice {
    wire: Rc<RefCell<Wire>>,
    side: usize,
}

impl IpLink for SimDevice {
    fn mtu(&self) -> usize {
        self.wire.borrow().config.mtu
    }

    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.wire.borrow_mut().receive(self.side, now, buf)
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        true
    }

    fn transmit(&mut self, now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        self.wire.borrow_mut().send(self.side, now, packet);
        Ok(())
    }
}

/// A stack instance: interface, sockets and its end of the link.
pub struct Node {
    pub iface: Interface,
    pub sockets: SocketSet,
    pub device: SimDevice,
}

/// Two nodes and the link between them, in simulated time.
pub struct Network {
    pub nodes: [Node; 2],
    pub now: Instant,
    wire: Rc<RefCell<Wire>>,
}

impl Network {
    /// Node 0 and node 1 with the given addresses (one per family each is typical).
    pub fn new(config: LinkConfig, seed: u64, addresses: [Vec<std::net::IpAddr>; 2]) -> Self {
        let wire = Rc::new(RefCell::new(Wire {
            config,
            rng: Rng::new(seed),
            directions: [
                Direction { in_flight: BinaryHeap::new(), link_free_at: Instant::ZERO },
                Direction { in_flight: BinaryHeap::new(), link_free_at: Instant::ZERO },
            ],
            order: 0,
            stats: LinkStats::default(),
        }));
        let [a, b] = addresses;
        let node = |side: usize, addresses: Vec<std::net::IpAddr>| {
            let device = SimDevice { wire: wire.clone(), side };
            Node {
                iface: Interface::new(InterfaceConfig::new(addresses), &device),
                sockets: SocketSet::new([side as u8 + 1; 32]),
                device,
            }
        };
        Network { nodes: [node(0, a), node(1, b)], now: Instant::ZERO, wire }
    }

    /// Polls both nodes at the current time.
    pub fn poll(&mut self) {
        let now = self.now;
        for node in &mut self.nodes {
            node.iface.poll(now, &mut node.device, &mut node.sockets);
        }
    }

    /// Advances simulated time to the next event (a node's `poll_at` or a packet arrival), at
    /// most `max_step` ahead, and polls both nodes there.
    pub fn step(&mut self, max_step: Duration) {
        self.poll();
        let mut next = self.now + max_step;
        for node in &self.nodes {
            if let Some(at) = node.iface.poll_at(&node.sockets) {
                next = next.min(at.max(self.now));
            }
        }
        if let Some(at) = self.wire.borrow().next_delivery() {
            next = next.min(at.max(self.now));
        }
        // Always move forward a little so a busy loop still advances the clock.
        self.now = next.max(self.now + Duration::from_micros(1));
        self.poll();
    }

    /// What the link did.
    pub fn link_stats(&self) -> LinkStats {
        self.wire.borrow().stats
    }
}
