//! The interface: IP over a [`IpLink`], and the driver contract `poll(now, device, sockets)` /
//! `poll_at(sockets)`.
//!
//! An [`Interface`] owns the IP layer: its addresses, one receive and one transmit buffer sized to
//! the device MTU, fragment reassembly, ICMP (echo replies, errors) and the drop counters. It holds
//! no sockets: those live in a [`SocketSet`], passed to every call, so one embedder may keep its
//! sockets wherever it likes.
//!
//! # Embedding the stack
//!
//! 1. Implement [`IpLink`] for whatever carries your IP packets (a TUN file descriptor, a channel
//!    into a WireGuard tunnel); [`crate::link::loopback_pair`] is an in-memory one.
//! 2. Build an [`Interface`] over it with the stack's addresses ([`InterfaceConfig`]).
//! 3. Make a [`SocketSet`] with a 32-byte secret from your CSPRNG and open sockets in it: TCP
//!    listeners and connections, UDP, ICMP echo. Sockets never block.
//! 4. Loop: [`Interface::poll`] at the current time, use your sockets, then sleep until
//!    [`Interface::poll_at`] or until the device has a packet, whichever comes first.
//!
//! Two stacks talking TCP over an in-memory link, in simulated time:
//!
//! ```
//! use braid_stack::link::loopback_pair;
//! use braid_stack::iface::{Interface, InterfaceConfig};
//! use braid_stack::socket::SocketSet;
//! use braid_stack::tcp::TcpConfig;
//! use braid_stack::time::Instant;
//! use core::time::Duration;
//!
//! let (mut link_a, mut link_b) = loopback_pair(1500, 64);
//! let mut a = Interface::new(InterfaceConfig::new(["10.0.0.1".parse().unwrap()]), &link_a);
//! let mut b = Interface::new(InterfaceConfig::new(["10.0.0.2".parse().unwrap()]), &link_b);
//! let (mut sockets_a, mut sockets_b) = (SocketSet::new([1; 32]), SocketSet::new([2; 32]));
//!
//! let server_addr = "10.0.0.2:7".parse().unwrap();
//! let listener = sockets_b.tcp_listen(server_addr, 8, TcpConfig::default()).unwrap();
//! let mut now = Instant::ZERO;
//! let client = a.tcp_connect(&mut sockets_a, now, server_addr, TcpConfig::default()).unwrap();
//! sockets_a.tcp_stream(client).unwrap().send(b"ping").unwrap(); // sent once connected
//!
//! let (mut server, mut answer) = (None, Vec::new());
//! while answer.len() < 4 {
//!     a.poll(now, &mut link_a, &mut sockets_a);
//!     b.poll(now, &mut link_b, &mut sockets_b);
//!     server = server.or_else(|| sockets_b.tcp_accept(listener));
//!     if let Some(server) = server {
//!         let stream = sockets_b.tcp_stream(server).unwrap();
//!         let mut buf = [0u8; 16];
//!         if let Ok(n @ 1..) = stream.recv(&mut buf) {
//!             assert_eq!(&buf[..n], b"ping");
//!             stream.send(b"pong").unwrap();
//!         }
//!     }
//!     let mut buf = [0u8; 16];
//!     if let Ok(n) = sockets_a.tcp_stream(client).unwrap().recv(&mut buf) {
//!         answer.extend_from_slice(&buf[..n]);
//!     }
//!     // A real driver sleeps until the earliest of these, or until its device is readable.
//!     let next = [a.poll_at(&sockets_a), b.poll_at(&sockets_b)].into_iter().flatten().min();
//!     now = next.map_or(now + Duration::from_millis(1), |at| at.max(now + Duration::from_micros(10)));
//! }
//! assert_eq!(answer, b"pong");
//! assert_eq!(a.counters().tcp_resets_sent + b.counters().tcp_resets_sent, 0);
//! ```
//!
//! [`Interface::poll`] reads every waiting packet (up to a batch limit), answers what the IP and
//! ICMP layers answer themselves, feeds TCP segments to their connections, expires timers, and
//! transmits what sockets have queued while the device accepts packets. [`Interface::poll_at`] is
//! the next instant that work is due without new input: `None` means "only when a packet
//! arrives", an instant at or before `now` means "poll again right away".

mod counters;
mod icmp;
mod icmp_error;
mod ip;
mod output;
mod rate_limit;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use core::net::{IpAddr, SocketAddr};

pub use counters::InterfaceCounters;

use crate::link::IpLink;
use crate::reassembly::{Reassembler, ReassemblyConfig, ReassemblyCounters};
use crate::socket::{ConnectError, SocketSet, TcpStreamHandle};
use crate::tcp::TcpConfig;
use crate::time::Instant;
use output::Output;
use rate_limit::TokenBucket;

/// Smallest MTU the interface works with (IPv4's minimum reassembly size); a device reporting less
/// is treated as having this much.
pub const MIN_MTU: usize = 576;
/// Largest MTU the interface works with (the IPv4 total-length limit).
pub const MAX_MTU: usize = 65535;

/// The interface's addresses and policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// The addresses packets must be sent to to be accepted; the first of each family is the
    /// source of connections and datagrams that do not name one.
    pub addresses: Vec<IpAddr>,
    /// Accept packets to any unicast destination (a transparent proxy terminating connections for
    /// whole networks, as the rootless mode does); replies come from the address that was asked.
    pub accept_any_destination: bool,
    /// TTL / hop limit of packets the stack sends (default 64).
    pub hop_limit: u8,
    /// Answer echo requests (default true).
    pub echo_reply: bool,
    /// Sustained rate of ICMP errors the stack sends, per second (default 100; 0 sends none).
    pub icmp_error_rate: u32,
    /// Burst of ICMP errors allowed above the rate (default 10).
    pub icmp_error_burst: u32,
    /// Fragment reassembly limits (their memory is allocated when the interface is created).
    pub reassembly: ReassemblyConfig,
    /// Most packets one `poll` reads before it transmits (default 64); more wait for the next
    /// poll, which `poll_at` then asks for at once.
    pub rx_batch: usize,
}

impl InterfaceConfig {
    /// A configuration with `addresses` and the defaults above.
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        InterfaceConfig {
            addresses: addresses.into_iter().collect(),
            accept_any_destination: false,
            hop_limit: 64,
            echo_reply: true,
            icmp_error_rate: 100,
            icmp_error_burst: 10,
            reassembly: ReassemblyConfig::default(),
            rx_batch: 64,
        }
    }

    /// True when a packet to `dst` is for this host.
    pub(crate) fn is_local(&self, dst: IpAddr) -> bool {
        if self.accept_any_destination {
            return is_unicast(dst);
        }
        self.addresses.contains(&dst)
    }

    /// The source address for a packet to `dst`: the first address of its family.
    pub fn source_for(&self, dst: IpAddr) -> Option<IpAddr> {
        self.addresses.iter().copied().find(|a| a.is_ipv4() == dst.is_ipv4())
    }
}

/// True for an address a host may talk to: not unspecified, multicast or the IPv4 broadcast.
pub(crate) fn is_unicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// The MSS for a connection to `remote` over a link of `mtu` bytes: the MTU minus the fixed IP and
/// TCP headers (40 bytes for IPv4, 60 for IPv6).
pub(crate) fn mss_for(mtu: usize, remote: IpAddr) -> u16 {
    let headers = if remote.is_ipv4() { 40 } else { 60 };
    u16::try_from(mtu.saturating_sub(headers)).unwrap_or(u16::MAX)
}

/// The IP layer of one stack instance over one device.
pub struct Interface {
    config: InterfaceConfig,
    rx_buf: Box<[u8]>,
    reassembler: Reassembler,
    out: Output,
    /// The last poll stopped reading at `rx_batch` packets; more may be waiting.
    rx_backlog: bool,
}

impl core::fmt::Debug for Interface {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Interface")
            .field("config", &self.config)
            .field("mtu", &self.mtu())
            .field("counters", &self.out.counters)
            .field("reassembly", &self.reassembler.counters())
            .finish_non_exhaustive()
    }
}

/// The device parts of one poll, bundled so handlers take one argument.
pub(crate) struct Ctx<'a, D: ?Sized> {
    pub(crate) now: Instant,
    pub(crate) config: &'a InterfaceConfig,
    pub(crate) out: &'a mut Output,
    pub(crate) device: &'a mut D,
    pub(crate) sockets: &'a mut SocketSet,
}

impl Interface {
    /// An interface over `device` (only its MTU is read here). Allocates the packet buffers and
    /// the reassembly slots now; nothing on the packet path allocates later.
    pub fn new<D: IpLink + ?Sized>(config: InterfaceConfig, device: &D) -> Self {
        let mtu = device.mtu().clamp(MIN_MTU, MAX_MTU);
        let icmp_limit = TokenBucket::new(config.icmp_error_rate, config.icmp_error_burst);
        Interface {
            rx_buf: vec![0; mtu].into_boxed_slice(),
            reassembler: Reassembler::new(config.reassembly),
            out: Output::new(mtu, config.hop_limit, icmp_limit),
            config,
            rx_backlog: false,
        }
    }

    /// The configuration (addresses and policies).
    pub fn config(&self) -> &InterfaceConfig {
        &self.config
    }

    /// Adds an address (packets to it are accepted from now on).
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.config.addresses.contains(&addr) {
            self.config.addresses.push(addr);
        }
    }

    /// Removes an address; false if it was not there. Existing connections on it keep their
    /// four-tuple but their packets are no longer accepted.
    pub fn remove_address(&mut self, addr: IpAddr) -> bool {
        let before = self.config.addresses.len();
        self.config.addresses.retain(|&a| a != addr);
        self.config.addresses.len() != before
    }

    /// The MTU the interface works with (the device's, clamped to [`MIN_MTU`]..=[`MAX_MTU`]).
    pub fn mtu(&self) -> usize {
        self.out.mtu()
    }

    /// The MSS a TCP connection over `family` can announce: the MTU minus the fixed IP and TCP
    /// headers.
    pub fn mss_for(&self, remote: IpAddr) -> u16 {
        mss_for(self.mtu(), remote)
    }

    /// Counters of every packet's fate.
    pub fn counters(&self) -> &InterfaceCounters {
        &self.out.counters
    }

    /// Counters of the fragment reassembler.
    pub fn reassembly_counters(&self) -> ReassemblyCounters {
        self.reassembler.counters()
    }

    /// Opens a TCP connection to `remote` from the interface's first address of its family and an
    /// ephemeral port. The MSS is derived from the MTU ([`Interface::mss_for`]), capped by
    /// `config.mss` if that differs from its default. The SYN leaves on the next `poll`.
    pub fn tcp_connect(
        &self,
        sockets: &mut SocketSet,
        now: Instant,
        remote: SocketAddr,
        config: TcpConfig,
    ) -> Result<TcpStreamHandle, ConnectError> {
        let local = self.config.source_for(remote.ip()).ok_or(ConnectError::Unaddressable(remote))?;
        self.tcp_connect_from(sockets, now, SocketAddr::new(local, 0), remote, config)
    }

    /// Like [`Interface::tcp_connect`] from an explicit local address (port 0: ephemeral).
    pub fn tcp_connect_from(
        &self,
        sockets: &mut SocketSet,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        config: TcpConfig,
    ) -> Result<TcpStreamHandle, ConnectError> {
        let mss = self.mss_for(remote.ip());
        sockets.tcp.connect(now, local, remote, &config, mss).map(TcpStreamHandle)
    }

    /// Does all the work due at `now`: reads and processes up to `rx_batch` packets, expires
    /// reassembly and TCP timers, and transmits what the sockets have queued while the device
    /// takes packets. Returns true when any packet was received or sent.
    pub fn poll<D: IpLink + ?Sized>(&mut self, now: Instant, device: &mut D, sockets: &mut SocketSet) -> bool {
        let (rx_before, tx_before) = (self.out.counters.rx_packets, self.out.counters.tx_packets);
        let Interface { config, rx_buf, reassembler, out, rx_backlog } = self;
        let mut ctx = Ctx { now, config, out, device, sockets };

        *rx_backlog = false;
        let mut received = 0;
        while let Some(len) = ctx.device.receive_swap(now, rx_buf) {
            let packet = rx_buf.get(..len).unwrap_or(&[]);
            ip::receive(&mut ctx, reassembler, packet);
            received += 1;
            if received >= config.rx_batch.max(1) {
                *rx_backlog = true;
                break;
            }
        }

        ip::expire_fragments(&mut ctx, reassembler);
        udp::transmit(&mut ctx);
        icmp::transmit_echo(&mut ctx);
        tcp::transmit(&mut ctx);

        self.out.counters.rx_packets != rx_before || self.out.counters.tx_packets != tx_before
    }

    /// When [`Interface::poll`] should next run without new input: the earliest TCP or reassembly
    /// timer, an instant in the past when something is ready to send now (or the last poll left
    /// packets unread), `None` when nothing is pending.
    pub fn poll_at(&self, sockets: &SocketSet) -> Option<Instant> {
        if self.rx_backlog
            || sockets.udp.iter().any(|(_, s)| s.send_queue() > 0)
            || sockets.icmp.iter().any(|(_, s)| s.send_queue() > 0)
            || !sockets.tcp.pending_resets.is_empty()
        {
            return Some(Instant::ZERO);
        }
        let tcp = sockets.tcp.streams.iter().filter_map(|(_, s)| s.conn.poll_at()).min();
        [tcp, self.reassembler.poll_at()].into_iter().flatten().min()
    }

    /// [`Interface::poll_at`] as a delay from `now` (zero when overdue); `None` when idle.
    pub fn poll_delay(&self, now: Instant, sockets: &SocketSet) -> Option<core::time::Duration> {
        self.poll_at(sockets).map(|at| at.saturating_duration_since(now))
    }
}
