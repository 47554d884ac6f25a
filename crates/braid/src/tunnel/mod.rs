//! braid inside an application: a WireGuard tunnel in the same process, no root, no TUN.
//!
//! A [`Tunnel`] is built from the configuration `braid up` reads — a file
//! ([`crate::config::load_config_file`]), a string ([`crate::config::parse_config`]) or the
//! builder ([`TunnelConfig::new`]) — and runs braid's one engine with an in-process device as
//! its packet side and real UDP sockets as its underlay. The application gets IP packets in
//! and out ([`Tunnel::take_packets`]) or, more often, sockets over the tunnel through the
//! userspace TCP/IP stack ([`Tunnel::net`]); typed events ([`Tunnel::events`]) and
//! statistics ([`Tunnel::stats`]) instead of UAPI text. Any number of tunnels may run in one
//! process.
//!
//! The engine runs on threads of its own ([`Tunnel::start`]), or in the caller's loop
//! ([`Tunnel::start_driven`] and [`TunnelDriver::turn`]).

mod show;

use crate::config::{to_uapi_set, ResolveError, TunnelConfig};
use crate::net::{NetConfig, NetStack};
use crate::uapi::{DeviceOp, EngineHost, Errno, SetRequest};
use braid_engine::in_process::{self, InProcessSide, PortStatsHandle};
pub use braid_engine::in_process::{PacketPort, PortError, PortStats};
use braid_engine::{Engine, EngineHandle, EngineOptions, EngineStats, Exit, PeerEvent, RunningEngine, UdpUnderlay};
use braid_proto::crypto::PublicKey;
use braid_proto::{DeviceConfig, DeviceStats, PeerStats};
use core::net::{IpAddr, SocketAddr};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The tunnel MTU when the config names none (wireguard-go's default).
pub const DEFAULT_MTU: usize = 1420;

/// Why a tunnel could not start or be changed.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// A peer's endpoint name did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The configuration was refused (a bad key or prefix, detected when it was applied).
    #[error("the configuration was refused: {0}")]
    Config(Errno),
    /// The UDP port could not be bound.
    #[error("cannot listen on UDP port {port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The stack needs an address: the config has no `Address`.
    #[error("the configuration has no Address for the tunnel's own end")]
    NoAddress,
    /// The application's end of the device was taken already.
    #[error("the tunnel's packets are already taken")]
    PacketsTaken,
    /// An OS error while starting threads or polls.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How a tunnel is started, beyond its configuration.
#[derive(Clone, Debug, Default)]
pub struct TunnelOptions {
    /// Listen on the loopback addresses only (127.0.0.1, ::1), on any free port: for peers
    /// on the same host (the demo, tests), whatever the config's `ListenPort`.
    pub loopback_only: bool,
    /// Packets the in-process device holds each way (0: the default, 1024).
    pub queue_packets: usize,
    /// How the engine runs its threads.
    pub engine: EngineOptions,
}

/// A running WireGuard tunnel inside this process.
pub struct Tunnel {
    engine: Option<RunningEngine<UdpUnderlay>>,
    handle: EngineHandle<UdpUnderlay>,
    port: Option<PacketPort>,
    port_stats: PortStatsHandle,
    addresses: Vec<IpAddr>,
    public_key: PublicKey,
}

impl core::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tunnel")
            .field("public_key", &crate::keys::key_to_base64(&self.public_key.0))
            .field("listen_port", &self.listen_port())
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// The engine of a tunnel started with [`Tunnel::start_driven`], for the caller's own loop.
pub struct TunnelDriver {
    engine: Engine<InProcessSide, UdpUnderlay>,
}

impl TunnelDriver {
    /// Waits at most `max_wait` (`None`: until there is work) and does what is due; `Some`
    /// once the tunnel has stopped.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Option<Exit>> {
        self.engine.turn(max_wait)
    }

    /// How long the caller may sleep before the next [`TunnelDriver::turn`] if the
    /// descriptor ([`AsRawFd`]) stays quiet.
    pub fn next_timeout(&self) -> Duration {
        self.engine.next_timeout()
    }

    /// Runs the loop here until the tunnel stops.
    pub fn run(self) -> io::Result<Exit> {
        self.engine.run()
    }
}

impl AsRawFd for TunnelDriver {
    /// Readable when the tunnel has work: poll it beside the caller's own descriptors.
    fn as_raw_fd(&self) -> RawFd {
        self.engine.as_raw_fd()
    }
}

/// A tunnel's counters and state.
#[derive(Clone, Debug)]
pub struct TunnelStats {
    /// Every peer: endpoint, bytes each way, last handshake, sessions.
    pub peers: Vec<PeerStats>,
    /// Device-wide counters: drops by reason, handshakes, cookie replies.
    pub device: DeviceStats,
    /// The data path: reads, sends, receives, writes, and both sides' descriptions.
    pub engine: EngineStats,
    /// The in-process device: packets each way and what it dropped.
    pub packets: PortStats,
}

impl Tunnel {
    /// Starts `config` on threads of its own.
    pub fn start(config: &TunnelConfig) -> Result<Tunnel, TunnelError> {
        Self::start_with(config, &TunnelOptions::default())
    }

    /// [`Tunnel::start`] with options.
    pub fn start_with(config: &TunnelConfig, options: &TunnelOptions) -> Result<Tunnel, TunnelError> {
        let (mut tunnel, driver) = Self::start_driven_with(config, options)?;
        tunnel.engine = Some(driver.engine.spawn()?);
        Ok(tunnel)
    }

    /// Sets `config` up for the caller's own loop: the tunnel moves packets only while the
    /// returned driver is turned.
    pub fn start_driven(config: &TunnelConfig) -> Result<(Tunnel, TunnelDriver), TunnelError> {
        Self::start_driven_with(config, &TunnelOptions::default())
    }

    /// [`Tunnel::start_driven`] with options.
    pub fn start_driven_with(
        config: &TunnelConfig,
        options: &TunnelOptions,
    ) -> Result<(Tunnel, TunnelDriver), TunnelError> {
        // The same request `braid up` sends its daemon, applied in-process; the port and mark
        // are the underlay's, bound here.
        let request = to_uapi_set(config)?;
        let body = request.strip_prefix("set=1\n").unwrap_or(&request);
        let mut set = SetRequest::parse(body).map_err(TunnelError::Config)?;
        set.device.retain(|op| !matches!(op, DeviceOp::ListenPort(_) | DeviceOp::Fwmark(_)));
        let port = config.listen_port.unwrap_or(0);
        let underlay = if options.loopback_only {
            UdpUnderlay::bind_loopback()
        } else {
            UdpUnderlay::bind(port, config.fwmark.unwrap_or(0))
        }
        .map_err(|source| TunnelError::Bind { port, source })?;
        let mtu = config.mtu.map_or(DEFAULT_MTU, usize::from);
        let capacity = if options.queue_packets == 0 { in_process::DEFAULT_CAPACITY } else { options.queue_packets };
        let (side, packets) = in_process::pair(mtu, capacity)?;
        let device = DeviceConfig { mtu, ..DeviceConfig::default() };
        let engine = Engine::new(device, side, underlay, &options.engine)?;
        let handle = engine.handle();
        handle
            .with_device(|device, now| set.apply(now, device, &mut EngineHost::new(&handle)))
            .map_err(TunnelError::Config)?;
        let tunnel = Tunnel {
            engine: None,
            handle,
            port_stats: packets.stats_handle(),
            port: Some(packets),
            addresses: config.addresses.iter().map(|&(addr, _)| addr).collect(),
            public_key: config.public_key(),
        };
        Ok((tunnel, TunnelDriver { engine }))
    }

    /// This end's public key (what peers put in their `PublicKey`).
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The UDP port the tunnel listens on.
    pub fn listen_port(&self) -> u16 {
        self.handle.listen_port()
    }

    /// The tunnel's own addresses (the config's `Address`).
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addresses
    }

    /// Takes the application's end of the tunnel's device: IP packets in and out. Once only
    /// (the stack of [`Tunnel::net`] takes it too).
    pub fn take_packets(&mut self) -> Result<PacketPort, TunnelError> {
        self.port.take().ok_or(TunnelError::PacketsTaken)
    }

    /// Starts the userspace TCP/IP stack on the tunnel, with the config's addresses.
    pub fn net(&mut self) -> Result<NetStack, TunnelError> {
        if self.addresses.is_empty() {
            return Err(TunnelError::NoAddress);
        }
        self.net_with(NetConfig::new(self.addresses.clone()))
    }

    /// [`Tunnel::net`] with a stack configuration of the caller's.
    pub fn net_with(&mut self, config: NetConfig) -> Result<NetStack, TunnelError> {
        let port = self.take_packets()?;
        Ok(NetStack::start(port, config)?)
    }

    /// Peer events from now on (handshakes, roams, silence). Each receiver gets every event;
    /// one that falls 1 024 behind misses the newest.
    pub fn events(&self) -> Receiver<PeerEvent> {
        self.handle.subscribe()
    }

    /// The tunnel's counters and state now.
    pub fn stats(&self) -> TunnelStats {
        let (peers, device) = self.handle.with_device(|device, _| {
            let peers = device.peers().filter_map(|id| device.peer_stats(id)).collect();
            (peers, device.stats().clone())
        });
        TunnelStats { peers, device, engine: self.handle.stats(), packets: self.port_stats.stats() }
    }

    /// One peer's state now.
    pub fn peer(&self, key: &PublicKey) -> Option<PeerStats> {
        self.handle.with_device(|device, _| device.peer_by_key(key).and_then(|id| device.peer_stats(id)))
    }

    /// Sets where a peer is reached (as `wg set … endpoint`); false if there is no such peer.
    pub fn set_peer_endpoint(&self, key: &PublicKey, endpoint: SocketAddr) -> bool {
        self.handle.with_device(|device, _| {
            device.peer_by_key(key).is_some_and(|id| device.set_peer_endpoint(id, endpoint.into()).is_ok())
        })
    }

    /// The tunnel as `braid show` prints an interface, under the name `name`.
    pub fn show(&self, name: &str) -> String {
        show::render(&self.handle, name)
    }

    /// The engine's handle, for what this type does not wrap.
    pub fn engine(&self) -> &EngineHandle<UdpUnderlay> {
        &self.handle
    }

    /// Stops the tunnel and waits for its threads (a driven tunnel stops at its next turn).
    pub fn stop(mut self) {
        self.stop_engine();
    }

    fn stop_engine(&mut self) {
        self.handle.stop();
        if let Some(engine) = self.engine.take() {
            if let Err(e) = engine.join() {
                tracing::warn!(error = %e, "the tunnel's engine failed");
            }
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop_engine();
    }
}
