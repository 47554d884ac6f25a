//! Sockets: UDP, ICMP echo, TCP listeners and TCP streams, held in a [`SocketSet`] and named by
//! typed, generation-checked handles.
//!
//! The set is plain storage plus the TCP endpoint's bookkeeping; packets move only when the
//! [`Interface`](crate::iface::Interface) is polled with it. A typical embedder:
//!
//! ```
//! use braid_stack::link::loopback_pair;
//! use braid_stack::iface::{Interface, InterfaceConfig};
//! use braid_stack::socket::{SocketSet, UdpConfig};
//! use braid_stack::time::Instant;
//!
//! let (mut device, _peer) = loopback_pair(1500, 64);
//! let mut iface = Interface::new(InterfaceConfig::new(["10.0.0.1".parse().unwrap()]), &device);
//! let mut sockets = SocketSet::new([7; 32]); // the secret comes from the embedder's CSPRNG
//! let udp = sockets.udp_bind("10.0.0.1:5353".parse().unwrap(), UdpConfig::default()).unwrap();
//! sockets.udp(udp).unwrap().send_to(b"hello", "10.0.0.2:53".parse().unwrap()).unwrap();
//! iface.poll(Instant::ZERO, &mut device, &mut sockets); // the datagram is on the wire now
//! ```

mod icmp;
mod keyed_hash;
mod packet_ring;
mod ports;
mod slab;
mod tcp_endpoint;
mod tcp_listener;
mod tcp_stream;
mod udp;

use core::net::SocketAddr;
use core::ops::RangeInclusive;

pub use icmp::{EchoReply, IcmpConfig, IcmpSendError, IcmpSocket};
pub use packet_ring::PacketBufferConfig;
pub use ports::DEFAULT_EPHEMERAL_PORTS;
pub use slab::SlotKey;
pub use tcp_listener::{ListenerStats, TcpListener};
pub use tcp_stream::{FourTuple, TcpStream};
pub use udp::{UdpConfig, UdpMetadata, UdpReceived, UdpSendError, UdpSocket};

pub(crate) use tcp_endpoint::{SynOutcome, TcpEndpoint};

use keyed_hash::KeyedState;
use ports::EphemeralPorts;
use slab::Slab;

use crate::tcp::TcpConfig;
use crate::time::Instant;

/// Names a [`UdpSocket`] in a [`SocketSet`]; stale once the socket is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpHandle(SlotKey);

/// Names an [`IcmpSocket`] in a [`SocketSet`]; stale once the socket is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpHandle(SlotKey);

/// Names a [`TcpListener`] in a [`SocketSet`]; stale once the listener is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpListenerHandle(SlotKey);

/// Names a [`TcpStream`] in a [`SocketSet`]; stale once the stream is released or aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpStreamHandle(pub(crate) SlotKey);

/// Why a socket could not be bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Another socket of the same kind already holds an overlapping address and port.
    #[error("address {0} already in use")]
    AddrInUse(SocketAddr),
    /// Port 0 where a fixed port is required (a listener), or no ephemeral port is free.
    #[error("no usable port")]
    InvalidPort,
    /// The ICMP identifier is taken by another echo socket.
    #[error("ICMP identifier {0} already in use")]
    IdentInUse(u16),
}

/// Why a TCP connection could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The destination (or source) is unspecified, multicast or broadcast, has port 0, the
    /// families differ, or the interface has no address of the destination's family.
    #[error("cannot connect to {0}")]
    Unaddressable(SocketAddr),
    /// The explicit local address and port already have a connection to that peer.
    #[error("local address {0} already connected to that peer")]
    AddrInUse(SocketAddr),
    /// Every ephemeral port towards that peer is in use.
    #[error("no free ephemeral port")]
    NoEphemeralPort,
}

/// Knobs of a [`SocketSet`].
#[derive(Clone, Debug)]
pub struct SocketSetConfig {
    /// The secret behind ISNs (RFC 6528), ephemeral ports (RFC 6056) and the connection map's
    /// hash. Take it from a CSPRNG once per stack; the stack never reads an RNG itself.
    pub secret: [u8; 32],
    /// Ports for connections without an explicit local port and for UDP sockets bound to port 0.
    pub ephemeral_ports: RangeInclusive<u16>,
}

/// Every socket of one stack instance.
///
/// Sockets are created here, reached through their handles, and moved by
/// [`Interface::poll`](crate::iface::Interface::poll). A handle whose socket is gone (closed, or a
/// stream released and reaped) returns `None` everywhere, even after its slot is reused.
#[derive(Debug)]
pub struct SocketSet {
    pub(crate) udp: Slab<UdpSocket>,
    pub(crate) icmp: Slab<IcmpSocket>,
    pub(crate) tcp: TcpEndpoint,
    udp_ports: EphemeralPorts,
}

/// Derives a 16-byte subkey of `secret` for one use, so no two uses share a key.
fn subkey(secret: &[u8; 32], label: &[u8]) -> [u8; 16] {
    let mut low = [0u8; 16];
    let mut high = [0u8; 16];
    low.copy_from_slice(&secret[..16]);
    high.copy_from_slice(&secret[16..]);
    let (a, b) = (KeyedState::new(low), KeyedState::new(high));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.hash_bytes(label).to_le_bytes());
    out[8..].copy_from_slice(&b.hash_bytes(label).to_le_bytes());
    out
}

impl SocketSet {
    /// An empty set keyed by `secret` (32 bytes from the embedder's CSPRNG).
    pub fn new(secret: [u8; 32]) -> Self {
        Self::with_config(SocketSetConfig { secret, ephemeral_ports: DEFAULT_EPHEMERAL_PORTS })
    }

    /// An empty set with explicit [`SocketSetConfig`].
    pub fn with_config(config: SocketSetConfig) -> Self {
        let secret = &config.secret;
        SocketSet {
            udp: Slab::new(),
            icmp: Slab::new(),
            tcp: TcpEndpoint::new(
                subkey(secret, b"braid-stack tcp isn"),
                subkey(secret, b"braid-stack tcp map"),
                subkey(secret, b"braid-stack tcp ports"),
                config.ephemeral_ports.clone(),
            ),
            udp_ports: EphemeralPorts::new(subkey(secret, b"braid-stack udp ports"), config.ephemeral_ports),
        }
    }

    // ----- UDP ---------------------------------------------------------------------------------

    /// Opens a UDP socket on `local`. An unspecified IP receives on every interface address; port 0
    /// picks a free ephemeral port (see [`UdpSocket::local_addr`]).
    pub fn udp_bind(&mut self, local: SocketAddr, config: UdpConfig) -> Result<UdpHandle, BindError> {
        let overlaps = |udp: &Slab<UdpSocket>, port: u16| {
            udp.iter().any(|(_, s)| {
                let bound = s.local_addr();
                bound.port() == port
                    && (bound.ip() == local.ip() || bound.ip().is_unspecified() || local.ip().is_unspecified())
            })
        };
        let port = if local.port() == 0 {
            let remote = SocketAddr::new(local.ip(), 0);
            let udp = &self.udp;
            self.udp_ports.pick(local.ip(), remote, |port| !overlaps(udp, port)).ok_or(BindError::InvalidPort)?
        } else if overlaps(&self.udp, local.port()) {
            return Err(BindError::AddrInUse(local));
        } else {
            local.port()
        };
        let socket = UdpSocket::new(SocketAddr::new(local.ip(), port), config);
        Ok(UdpHandle(self.udp.insert(socket)))
    }

    /// The UDP socket `handle` names, if it is still open.
    pub fn udp(&mut self, handle: UdpHandle) -> Option<&mut UdpSocket> {
        self.udp.get_mut(handle.0)
    }

    /// Closes a UDP socket; queued datagrams are discarded. False if the handle was stale.
    pub fn udp_close(&mut self, handle: UdpHandle) -> bool {
        self.udp.remove(handle.0).is_some()
    }

    // ----- ICMP --------------------------------------------------------------------------------

    /// Opens an echo socket with identifier `ident` (for both IPv4 and IPv6 pings).
    pub fn icmp_bind(&mut self, ident: u16, config: IcmpConfig) -> Result<IcmpHandle, BindError> {
        if self.icmp.iter().any(|(_, s)| s.ident() == ident) {
            return Err(BindError::IdentInUse(ident));
        }
        Ok(IcmpHandle(self.icmp.insert(IcmpSocket::new(ident, config))))
    }

    /// The echo socket `handle` names, if it is still open.
    pub fn icmp(&mut self, handle: IcmpHandle) -> Option<&mut IcmpSocket> {
        self.icmp.get_mut(handle.0)
    }

    /// Closes an echo socket. False if the handle was stale.
    pub fn icmp_close(&mut self, handle: IcmpHandle) -> bool {
        self.icmp.remove(handle.0).is_some()
    }

    // ----- TCP ---------------------------------------------------------------------------------

    /// Listens on `local` (port must be nonzero; an unspecified IP listens on every address).
    /// At most `backlog` connections (at least 1) wait between their SYN and
    /// [`SocketSet::tcp_accept`]; accepted connections use `config`, with the MSS derived from
    /// the interface MTU (capped by `config.mss` if it differs from the default).
    pub fn tcp_listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        config: TcpConfig,
    ) -> Result<TcpListenerHandle, BindError> {
        self.tcp.listen(local, backlog, config).map(TcpListenerHandle)
    }

    /// The listener `handle` names, for its address, backlog use and counters.
    pub fn tcp_listener(&self, handle: TcpListenerHandle) -> Option<&TcpListener> {
        self.tcp.listeners.get(handle.0)
    }

    /// Takes the oldest established connection off the listener's accept queue.
    pub fn tcp_accept(&mut self, handle: TcpListenerHandle) -> Option<TcpStreamHandle> {
        self.tcp.accept(handle.0).map(TcpStreamHandle)
    }

    /// Stops listening. Connections not yet accepted are reset on the next `poll`; accepted ones
    /// are unaffected. False if the handle was stale.
    pub fn tcp_unlisten(&mut self, handle: TcpListenerHandle) -> bool {
        self.tcp.unlisten(handle.0)
    }

    /// Opens a connection from `local` to `remote` (port 0 in `local`: an ephemeral port). The
    /// SYN leaves on the next `poll`. `local`'s IP must be one of the interface's addresses;
    /// [`Interface::tcp_connect`](crate::iface::Interface::tcp_connect) picks it for you and
    /// derives the MSS from the device MTU, which this call cannot know (it announces
    /// `config.mss`).
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        config: TcpConfig,
    ) -> Result<TcpStreamHandle, ConnectError> {
        self.tcp.connect(now, local, remote, &config, u16::MAX).map(TcpStreamHandle)
    }

    /// The connection `handle` names, if the user still holds it.
    pub fn tcp_stream(&mut self, handle: TcpStreamHandle) -> Option<&mut TcpStream> {
        self.tcp.streams.get_mut(handle.0).filter(|s| !s.orphaned)
    }

    /// Lets go of a connection: a FIN follows the queued data and the stack finishes the close
    /// (retransmissions, TIME-WAIT) in the background, then frees the slot. The handle is stale
    /// from now on. False if it already was.
    pub fn tcp_release(&mut self, handle: TcpStreamHandle) -> bool {
        self.tcp_stream(handle).is_some() && self.tcp.release(handle.0)
    }

    /// Resets a connection (RFC 9293 ABORT): queued data is discarded and a RST goes out on the
    /// next `poll`. The handle is stale from now on. False if it already was.
    pub fn tcp_abort(&mut self, handle: TcpStreamHandle) -> bool {
        self.tcp_stream(handle).is_some() && self.tcp.abort(handle.0)
    }

    /// Live TCP connections (including those closing in the background and in TIME-WAIT).
    pub fn tcp_connection_count(&self) -> usize {
        self.tcp.connection_count()
    }

    /// Streams occupying a slot (connections plus closed streams the user still holds).
    pub fn tcp_stream_count(&self) -> usize {
        self.tcp.streams.len()
    }
}
