//! The underlay: where encrypted datagrams go and come from.
//!
//! An underlay has one or more receive *sources* (the IPv4 and IPv6 socket of a UDP pair; a
//! socket per local address for multipath; an AF_XDP queue each), each registered with the
//! engine's poll and drained on its own, in batches (`recvmmsg`, GRO runs). Sending takes a
//! whole batch of *runs*: datagrams of one size to one endpoint, adjacent in one buffer, which
//! a UDP socket sends as one GSO message and all runs of a batch in one `sendmmsg`.
//!
//! An underlay is shared by every data-path thread (`&self`); the buffers one thread receives
//! into or describes a send with are its own ([`Underlay::RecvBuf`], [`Underlay::SendBuf`]).

use braid_proto::Endpoint;
use core::net::{IpAddr, SocketAddr};
use core::ops::Range;
use mio::{Registry, Token};
use std::io;

/// How a received message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// The sender.
    pub from: SocketAddr,
    /// Our address it was sent to, when known (replies leave from it).
    pub local: Option<IpAddr>,
    /// With GRO, the size of each of the datagrams glued into this message (the last may be
    /// shorter); `None` for a single datagram.
    pub segment_size: Option<usize>,
}

impl Arrival {
    /// The peer's endpoint as the device records it.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { addr: self.from, local: self.local }
    }
}

/// How a datagram given to [`Underlay::send_one`] left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Sent as asked.
    Sent,
    /// The source address asked for is no longer ours; the datagram left with the OS's choice
    /// of source, and the device should forget that source.
    SourceRejected,
}

/// A send batch being described: runs of datagrams, each a range of one buffer.
pub trait SendRuns: Send + 'static {
    /// Adds a run: `range` of the buffer later given to [`Underlay::send`], to `to`, cut into
    /// `segment`-byte datagrams (the last may be shorter) when given.
    fn push(&mut self, range: Range<usize>, to: Endpoint, segment: Option<u16>);
    /// Runs described.
    fn len(&self) -> usize;
    /// True when no run is described.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Forgets the runs, keeping the memory.
    fn clear(&mut self);
}

/// What an underlay says about itself, for statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnderlayInfo {
    /// What it is: `udp`.
    pub kind: &'static str,
    /// The local port datagrams are received on.
    pub port: u16,
    /// Runs leave as one message each (UDP GSO).
    pub gso: bool,
    /// Receives may glue several datagrams (UDP GRO).
    pub gro: bool,
    /// The firewall mark on outgoing datagrams (0: none).
    pub fwmark: u32,
}

/// A carrier of encrypted datagrams.
pub trait Underlay: Send + Sync + Sized + 'static {
    /// What one thread receives into (allocated once per thread).
    type RecvBuf: Send + 'static;
    /// What one thread describes its sends with (allocated once per thread).
    type SendBuf: SendRuns;

    /// A receive buffer for one thread.
    fn recv_buf(&self) -> Self::RecvBuf;
    /// A send description for one thread.
    fn send_buf(&self) -> Self::SendBuf;

    /// Receive sources, each registered and drained on its own (at least 1).
    fn sources(&self) -> usize;
    /// Makes `registry` report `token` readable when `source` has datagrams (edge-triggered:
    /// the engine receives until `WouldBlock`).
    fn register(&self, registry: &Registry, source: usize, token: Token) -> io::Result<()>;
    /// Undoes [`Underlay::register`].
    fn deregister(&self, registry: &Registry, source: usize);

    /// Receives a batch of messages from `source` into `buf`; returns how many (read them with
    /// [`Underlay::message`]); `WouldBlock` when none is waiting. Other errors (an ICMP error
    /// reported on the socket) are transient: the engine tries again.
    fn recv(&self, source: usize, buf: &mut Self::RecvBuf) -> io::Result<usize>;
    /// Message `i` of the last receive into `buf`.
    fn message(buf: &mut Self::RecvBuf, i: usize) -> Option<(Arrival, &mut [u8])>;

    /// Sends every run of `runs` (ranges of `data`). Failures drop datagrams, as a full socket
    /// buffer would; the indices of runs whose source address was refused (and which left
    /// with the OS's choice instead) are appended to `rejected`.
    fn send(&self, data: &[u8], runs: &mut Self::SendBuf, rejected: &mut Vec<usize>);
    /// Sends one datagram (a handshake message, a keepalive).
    fn send_one(&self, bytes: &[u8], to: Endpoint) -> io::Result<SendOutcome>;

    /// The local port.
    fn port(&self) -> u16;
    /// A new underlay of the same kind on `port` (0: any) with firewall mark `fwmark`. The
    /// engine swaps it in only once it is fully set up, so on error nothing changed.
    fn rebind(&self, port: u16, fwmark: u32) -> io::Result<Self>;
    /// The firewall mark on outgoing datagrams (0: none).
    fn fwmark(&self) -> u32;
    /// Sets the firewall mark (0 clears it): on every socket or on none.
    fn set_fwmark(&self, mark: u32) -> io::Result<()>;

    /// Facts for statistics.
    fn info(&self) -> UnderlayInfo;
}
