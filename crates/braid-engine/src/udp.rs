//! The usual underlay: a WireGuard interface's two UDP sockets (IPv4 and IPv6 on one port),
//! with GSO/GRO, packet info for sticky source addresses, and `sendmmsg`/`recvmmsg`.

use crate::underlay::{Arrival, SendOutcome, SendRuns, Underlay, UnderlayInfo};
use braid_io::udp::{Family, RecvBatch, SendBatch};
use braid_io::UdpSockets;
use braid_proto::Endpoint;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::Range;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// Messages (each possibly a GRO run) per `recvmmsg`: `BRAID_RECV_BATCH` if set (1 is one
/// `recvmsg`'s worth), else 8.
fn recv_messages() -> usize {
    std::env::var("BRAID_RECV_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(8).clamp(1, 64)
}

/// Room for one received message: the largest GRO run (64 KiB) and one byte more, so that a
/// datagram too large for the buffer shows as longer than any WireGuard message may be.
const RECV_ROOM: usize = 65535 + 1;

/// A UDP socket pair as an [`Underlay`]: source 0 is the IPv4 socket, source 1 the IPv6 one
/// (when the host has IPv6).
#[derive(Debug)]
pub struct UdpUnderlay {
    sockets: UdpSockets,
    fwmark: AtomicU32,
    /// The addresses bound, kept by a rebind.
    v4: Ipv4Addr,
    v6: Ipv6Addr,
}

impl UdpUnderlay {
    /// Binds both families on `port` (0: any free port) with firewall mark `fwmark` (0: none).
    pub fn bind(port: u16, fwmark: u32) -> io::Result<UdpUnderlay> {
        Self::bind_on(Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED, port, fwmark)
    }

    /// Binds to the loopback addresses only (127.0.0.1, ::1) on any free port: for tunnels
    /// whose peers run on the same host (in the same process, as in `braid demo`), which then
    /// accept no datagram from anywhere else.
    pub fn bind_loopback() -> io::Result<UdpUnderlay> {
        Self::bind_on(Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 0, 0)
    }

    /// Binds `v4` and `v6` on `port` (a rebind keeps the addresses).
    pub fn bind_on(v4: Ipv4Addr, v6: Ipv6Addr, port: u16, fwmark: u32) -> io::Result<UdpUnderlay> {
        let sockets = UdpSockets::bind_on(v4, v6, port, fwmark)?;
        Ok(UdpUnderlay { sockets, fwmark: AtomicU32::new(fwmark), v4, v6 })
    }

    /// The sockets themselves.
    pub fn sockets(&self) -> &UdpSockets {
        &self.sockets
    }

    fn family(source: usize) -> Family {
        if source == 0 {
            Family::V4
        } else {
            Family::V6
        }
    }
}

impl SendRuns for SendBatch {
    fn push(&mut self, range: Range<usize>, to: Endpoint, segment: Option<u16>) {
        SendBatch::push(self, range, to.addr, to.local, segment);
    }

    fn len(&self) -> usize {
        SendBatch::len(self)
    }

    fn clear(&mut self) {
        SendBatch::clear(self);
    }
}

impl Underlay for UdpUnderlay {
    type RecvBuf = RecvBatch;
    type SendBuf = SendBatch;

    fn recv_buf(&self) -> RecvBatch {
        RecvBatch::new(recv_messages(), RECV_ROOM)
    }

    fn send_buf(&self) -> SendBatch {
        SendBatch::new()
    }

    fn sources(&self) -> usize {
        if self.sockets.v6.is_some() {
            2
        } else {
            1
        }
    }

    fn register(&self, registry: &Registry, source: usize, token: Token) -> io::Result<()> {
        let fd = match source {
            0 => self.sockets.v4.as_raw_fd(),
            _ => self.sockets.v6.as_ref().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?.as_raw_fd(),
        };
        registry.register(&mut SourceFd(&fd), token, Interest::READABLE)
    }

    fn deregister(&self, registry: &Registry, source: usize) {
        let fd = match (source, &self.sockets.v6) {
            (0, _) => self.sockets.v4.as_raw_fd(),
            (_, Some(v6)) => v6.as_raw_fd(),
            (_, None) => return,
        };
        let _ = registry.deregister(&mut SourceFd(&fd));
    }

    fn recv(&self, source: usize, buf: &mut RecvBatch) -> io::Result<usize> {
        self.sockets.recv_many(Self::family(source), buf)
    }

    fn message(buf: &mut RecvBatch, i: usize) -> Option<(Arrival, &mut [u8])> {
        let (r, bytes) = buf.get(i)?;
        Some((Arrival { from: r.from, local: r.local, segment_size: r.segment_size }, bytes))
    }

    fn send(&self, data: &[u8], runs: &mut SendBatch, rejected: &mut Vec<usize>) {
        self.sockets.send_many(data, runs, rejected);
    }

    fn send_one(&self, bytes: &[u8], to: Endpoint) -> io::Result<SendOutcome> {
        let sent = self.sockets.send_from(bytes, to.addr, to.local)?;
        Ok(if sent.source_rejected { SendOutcome::SourceRejected } else { SendOutcome::Sent })
    }

    fn port(&self) -> u16 {
        self.sockets.port()
    }

    fn rebind(&self, port: u16, fwmark: u32) -> io::Result<UdpUnderlay> {
        UdpUnderlay::bind_on(self.v4, self.v6, port, fwmark)
    }

    fn fwmark(&self) -> u32 {
        self.fwmark.load(Ordering::Acquire)
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.sockets.set_fwmark(mark)?;
        self.fwmark.store(mark, Ordering::Release);
        Ok(())
    }

    fn info(&self) -> UnderlayInfo {
        let offloads = self.sockets.offloads();
        UnderlayInfo { kind: "udp", port: self.port(), gso: offloads.gso, gro: offloads.gro, fwmark: self.fwmark() }
    }
}
