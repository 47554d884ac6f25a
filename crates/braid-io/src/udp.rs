//! The UDP sockets of one WireGuard interface: IPv4 and IPv6 on the same port, as
//! wireguard-go binds them, with the optional firewall mark applied to both.
//!
//! Both sockets report which of our addresses each datagram arrived on, and can send from a
//! chosen one ([`UdpSockets::recv_from_local`], [`UdpSockets::send_from`]): a multi-homed host
//! answers a peer from the address the peer talked to, like the kernel's WireGuard.

use crate::pktinfo;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The interface's sockets. IPv6 is optional: a host without it still runs on IPv4.
#[derive(Debug)]
pub struct UdpSockets {
    /// The IPv4 socket (0.0.0.0:port).
    pub v4: UdpSocket,
    /// The IPv6 socket ([::]:port, v6-only), when the host has IPv6.
    pub v6: Option<UdpSocket>,
    port: u16,
    offloads: UdpOffloads,
}

pub use crate::mmsg::{RecvBatch, SendBatch};
pub use crate::pktinfo::UdpOffloads;

/// One receive: `len` bytes from `from`, sent to our address `local`; with GRO, datagrams of
/// `segment_size` bytes each glued together (the last may be shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// The sender.
    pub from: SocketAddr,
    /// Our address it was sent to, when known.
    pub local: Option<IpAddr>,
    /// Size of each glued datagram, when GRO glued several.
    pub segment_size: Option<usize>,
}

impl RecvBatch {
    /// Message `i` of the last [`UdpSockets::recv_many`]: what arrived and its bytes.
    pub fn get(&mut self, i: usize) -> Option<(Received, &mut [u8])> {
        let m = *self.messages.get(i)?;
        let segment_size = m.arrival.segment_size.filter(|&s| s < m.len);
        let received = Received { len: m.len, from: unmap(m.from), local: m.arrival.local, segment_size };
        Some((received, &mut self.buffer_mut(i)[..m.len]))
    }
}

impl Received {
    /// The datagrams of this receive, in order.
    pub fn datagrams<'a>(&self, buf: &'a mut [u8]) -> impl Iterator<Item = &'a mut [u8]> {
        let len = self.len.min(buf.len());
        let size = self.segment_size.unwrap_or(len).max(1);
        buf[..len].chunks_mut(size)
    }
}

/// Most datagrams one GSO send may carry (the kernel's UDP_MAX_SEGMENTS before Linux 6.11).
pub const MAX_GSO_SEGMENTS: usize = 64;

/// Which of the two sockets (the event loop polls them separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// The IPv4 socket.
    V4,
    /// The IPv6 socket.
    V6,
}

/// How a datagram given to [`UdpSockets::send_from`] left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Bytes sent.
    pub len: usize,
    /// The requested source address was refused (it is no longer ours, or of the wrong family)
    /// and the datagram left with the kernel's choice of source instead: the caller should
    /// forget that source so later datagrams do not pay for the refusal again.
    pub source_rejected: bool,
}

/// Errors with which the kernel refuses a source address that is not (or no longer) ours:
/// `EINVAL` (IPv6, and IPv4 on older kernels), `ENETUNREACH` (IPv4 route lookup with a foreign
/// source), `EADDRNOTAVAIL`. The same errors can have other causes, so a send that fails with
/// one is retried without the source and the source is blamed only if the retry succeeds.
fn source_refused(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EINVAL | libc::ENETUNREACH | libc::EADDRNOTAVAIL))
}

/// IPv4-mapped IPv6 addresses as plain IPv4, so they use the IPv4 socket.
fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => addr,
        },
        v4 => v4,
    }
}

/// [`unmap`] for a bare address.
fn unmap_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Socket buffer size: `BRAID_UDP_BUFFER` bytes if set, else 1 MiB (16 full GRO runs): enough
/// to absorb a burst between two turns of the event loop, while every byte of it is queueing
/// delay once the receiver falls behind: larger buffers lengthened the ping under load without
/// adding throughput (docs/BENCHMARKS.md has the figures).
fn socket_buffer_size() -> usize {
    std::env::var("BRAID_UDP_BUFFER").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 20)
}

fn bind(domain: Domain, addr: SocketAddr, fwmark: u32) -> io::Result<UdpSocket> {
    let socket = Socket::new(domain, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    if domain == Domain::IPV6 {
        socket.set_only_v6(true)?;
    }
    if fwmark != 0 {
        socket.set_mark(fwmark)?;
    }
    socket.set_nonblocking(true)?;
    pktinfo::enable(&socket, domain == Domain::IPV6)?;
    // Large buffers absorb bursts between two polls of the event loop.
    let size = socket_buffer_size();
    let _ = socket.set_recv_buffer_size(size);
    let _ = socket.set_send_buffer_size(size);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl UdpSockets {
    /// Binds both families on `port` (0: the kernel picks one, and IPv6 takes the same).
    /// When `port` is 0 and the chosen port is taken for IPv6, a few other picks are tried.
    pub fn bind(port: u16, fwmark: u32) -> io::Result<UdpSockets> {
        Self::bind_on(Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED, port, fwmark)
    }

    /// Binds to the loopback addresses only (127.0.0.1 and ::1) on a free port: for tunnels
    /// whose peers run on the same host, which then take no datagram from anywhere else.
    pub fn bind_loopback() -> io::Result<UdpSockets> {
        Self::bind_on(Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 0, 0)
    }

    /// Binds `v4` and `v6` on `port`, as [`UdpSockets::bind`] does the wildcard addresses.
    pub fn bind_on(v4: Ipv4Addr, v6: Ipv6Addr, port: u16, fwmark: u32) -> io::Result<UdpSockets> {
        let attempts = if port == 0 { 16 } else { 1 };
        let mut last_err = None;
        for _ in 0..attempts {
            let s4 = bind(Domain::IPV4, SocketAddr::from((v4, port)), fwmark)?;
            let chosen = s4.local_addr()?.port();
            match bind(Domain::IPV6, SocketAddr::from((v6, chosen)), fwmark) {
                Ok(s6) => {
                    let (o4, o6) = (pktinfo::enable_offloads(&s4), pktinfo::enable_offloads(&s6));
                    let offloads = UdpOffloads { gso: o4.gso && o6.gso, gro: o4.gro && o6.gro };
                    return Ok(UdpSockets { v4: s4, v6: Some(s6), port: chosen, offloads });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
                // No IPv6 on this host (EAFNOSUPPORT, EADDRNOTAVAIL): run on IPv4 alone.
                Err(_) => {
                    let offloads = pktinfo::enable_offloads(&s4);
                    return Ok(UdpSockets { v4: s4, v6: None, port: chosen, offloads });
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Applies a firewall mark to both sockets (0 clears it): to both or, on error, to
    /// neither (the IPv4 socket gets its old mark back when the IPv6 one refuses).
    pub fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        let v4 = socket2::SockRef::from(&self.v4);
        let old = v4.mark()?;
        v4.set_mark(mark)?;
        if let Some(v6) = &self.v6 {
            if let Err(e) = socket2::SockRef::from(v6).set_mark(mark) {
                // Restoring what was set a moment ago on the same socket cannot fail for want
                // of privilege; if it fails anyway, report the original error.
                let _ = v4.set_mark(old);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The socket of `family`, or `Unsupported` when the host has no IPv6 socket.
    fn socket(&self, family: Family) -> io::Result<&UdpSocket> {
        match (family, &self.v6) {
            (Family::V4, _) => Ok(&self.v4),
            (Family::V6, Some(v6)) => Ok(v6),
            (Family::V6, None) => Err(io::Error::new(io::ErrorKind::Unsupported, "no IPv6 socket")),
        }
    }

    /// Sends `bytes` to `to` on the socket of its family (IPv4-mapped addresses on the IPv4
    /// socket), with the kernel's choice of source address.
    pub fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = unmap(to);
        self.socket(if to.is_ipv4() { Family::V4 } else { Family::V6 })?.send_to(bytes, to)
    }

    /// Receives one datagram from the socket of `family` into `buf`: its length, the sender,
    /// our address it was sent to (`None` when unknown or not unicast) and the index of the
    /// interface it arrived on. Non-blocking: `WouldBlock` when the queue is empty.
    pub fn recv_from_local(
        &self,
        family: Family,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<IpAddr>, Option<u32>)> {
        let (len, from, arrival) = pktinfo::recv(self.socket(family)?, buf)?;
        Ok((len, from, arrival.local, arrival.ifindex))
    }

    /// Receives one run of datagrams (several when GRO glued them) into `buf` (64 KiB
    /// recommended). Non-blocking: `WouldBlock` when the queue is empty.
    pub fn recv(&self, family: Family, buf: &mut [u8]) -> io::Result<Received> {
        let (len, from, arrival) = pktinfo::recv(self.socket(family)?, buf)?;
        let segment_size = arrival.segment_size.filter(|&s| s < len);
        Ok(Received { len, from: unmap(from), local: arrival.local, segment_size })
    }

    /// Receives up to `batch`'s capacity of runs (see [`UdpSockets::recv`]) in one system call
    /// (`recvmmsg`); read them with [`RecvBatch::get`]. `WouldBlock` when none is waiting.
    pub fn recv_many(&self, family: Family, batch: &mut RecvBatch) -> io::Result<usize> {
        crate::mmsg::recv_many(self.socket(family)?, batch)
    }

    /// Sends the batch's messages (ranges of `buf`) — each one datagram or, with a segment
    /// size, a GSO batch — in as few system calls as possible (`sendmmsg`). A message the kernel refuses is retried alone
    /// through [`UdpSockets::send_segments`], which falls back from a refused source address;
    /// the indices of messages whose source was refused are appended to `rejected`. Messages
    /// must all be of one address family for the batched path; mixed batches go one by one.
    pub fn send_many(&self, buf: &[u8], batch: &mut SendBatch, rejected: &mut Vec<usize>) {
        let Some(first) = batch.items.first() else { return };
        let to4 = unmap(first.to).is_ipv4();
        let uniform = batch.items.iter().all(|m| unmap(m.to).is_ipv4() == to4 && m.to == unmap(m.to));
        let gso_ok =
            self.offloads.gso || batch.items.iter().all(|m| m.segment.is_none_or(|s| usize::from(s) >= m.range.len()));
        let socket = if uniform && gso_ok { self.socket(if to4 { Family::V4 } else { Family::V6 }).ok() } else { None };
        let mut i = 0;
        while i < batch.items.len() {
            if let Some(socket) = socket {
                if let Ok(k) = crate::mmsg::send_many(socket, buf, batch, i) {
                    if k > 0 {
                        i += k;
                        continue;
                    }
                }
            }
            let m = &batch.items[i];
            let Some(bytes) = buf.get(m.range.clone()) else {
                i += 1;
                continue;
            };
            let segment = m.segment.map_or(bytes.len().max(1), usize::from);
            match self.send_segments(bytes, segment, m.to, m.source) {
                Ok(sent) if sent.source_rejected => rejected.push(i),
                Ok(_) => {}
                // Dropped, as the kernel drops on a full buffer or an unreachable network.
                Err(_) => {}
            }
            i += 1;
        }
    }

    /// The offloads the sockets have (GSO is used only if both families have it).
    pub fn offloads(&self) -> UdpOffloads {
        self.offloads
    }

    /// Sends `bytes` as datagrams of `segment_size` bytes (the last may be shorter) to `to`,
    /// from `local` if given — one syscall with GSO, one per datagram without. At most
    /// [`MAX_GSO_SEGMENTS`] datagrams and 64 KiB. Source refusal falls back as in
    /// [`UdpSockets::send_from`].
    pub fn send_segments(
        &self,
        bytes: &[u8],
        segment_size: usize,
        to: SocketAddr,
        local: Option<IpAddr>,
    ) -> io::Result<Sent> {
        if segment_size == 0 || bytes.len().div_ceil(segment_size) > MAX_GSO_SEGMENTS || bytes.len() > 65507 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad GSO batch"));
        }
        if bytes.len() <= segment_size || !self.offloads.gso {
            let mut sent = Sent { len: 0, source_rejected: false };
            for chunk in bytes.chunks(segment_size) {
                let s = self.send_from(chunk, to, if sent.source_rejected { None } else { local })?;
                sent.len += s.len;
                sent.source_rejected |= s.source_rejected;
            }
            return Ok(sent);
        }
        let to = unmap(to);
        let segment = u16::try_from(segment_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let socket = self.socket(if to.is_ipv4() { Family::V4 } else { Family::V6 })?;
        let local = local.map(unmap_ip).filter(|l| l.is_ipv4() == to.is_ipv4());
        match pktinfo::send(socket, bytes, to, local, Some(segment)) {
            Ok(len) => Ok(Sent { len, source_rejected: false }),
            Err(e) if local.is_some() && source_refused(&e) => {
                pktinfo::send(socket, bytes, to, None, Some(segment)).map(|len| Sent { len, source_rejected: true })
            }
            Err(e) => Err(e),
        }
    }

    /// Sends `bytes` to `to` from our address `local` (`None`: the kernel chooses, as
    /// [`UdpSockets::send_to`]). When the kernel refuses `local` because it is no longer one
    /// of our addresses, the datagram goes without it and [`Sent::source_rejected`] says so;
    /// a `local` of the other family than `to` is treated the same way.
    pub fn send_from(&self, bytes: &[u8], to: SocketAddr, local: Option<IpAddr>) -> io::Result<Sent> {
        let to = unmap(to);
        let Some(local) = local.map(unmap_ip) else {
            return self.send_to(bytes, to).map(|len| Sent { len, source_rejected: false });
        };
        if local.is_ipv4() != to.is_ipv4() {
            return self.send_to(bytes, to).map(|len| Sent { len, source_rejected: true });
        }
        let socket = self.socket(if to.is_ipv4() { Family::V4 } else { Family::V6 })?;
        match pktinfo::send(socket, bytes, to, Some(local), None) {
            Ok(len) => Ok(Sent { len, source_rejected: false }),
            Err(e) if source_refused(&e) => socket.send_to(bytes, to).map(|len| Sent { len, source_rejected: true }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv_all(s: &UdpSockets, want: usize) -> (Vec<u8>, Vec<usize>, bool) {
        let mut buf = vec![0u8; 65536];
        let (mut got, mut sizes, mut glued) = (Vec::new(), Vec::new(), false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while got.len() < want && std::time::Instant::now() < deadline {
            match s.recv(Family::V4, &mut buf) {
                Ok(r) => {
                    glued |= r.segment_size.is_some();
                    for d in r.datagrams(&mut buf) {
                        sizes.push(d.len());
                        got.extend_from_slice(d);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(2))
                }
                Err(e) => panic!("{e}"),
            }
        }
        (got, sizes, glued)
    }

    #[test]
    fn many_messages_go_and_come_in_one_call_each() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let c = UdpSockets::bind(0, 0).unwrap();
        let to_b = SocketAddr::from((Ipv4Addr::LOCALHOST, b.port()));
        let to_c = SocketAddr::from((Ipv4Addr::LOCALHOST, c.port()));
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let mut buf = payload.clone();
        buf.extend_from_slice(b"to c");
        buf.extend_from_slice(b"fallback");
        let mut batch = SendBatch::new();
        batch.push(0..3000, to_b, None, Some(1000));
        batch.push(3000..3004, to_c, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), None);
        // A source that is not ours: retried alone, without it, and reported.
        batch.push(3004..3012, to_c, Some(IpAddr::from([192, 0, 2, 1])), None);
        let mut rejected = Vec::new();
        a.send_many(&buf, &mut batch, &mut rejected);
        assert_eq!(rejected, vec![2]);
        let batch = payload;
        let (got_b, sizes_b, _) = recv_all(&b, 3000);
        assert_eq!(got_b, batch);
        assert!(sizes_b.iter().all(|&s| s == 1000));
        let mut rb = RecvBatch::new(8, 65536);
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while got.len() < 2 && std::time::Instant::now() < deadline {
            match c.recv_many(Family::V4, &mut rb) {
                Ok(n) => {
                    for i in 0..n {
                        let (r, bytes) = rb.get(i).unwrap();
                        assert_eq!(r.from.port(), a.port());
                        got.push(bytes.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(2))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, vec![b"to c".to_vec(), b"fallback".to_vec()]);
        assert!(rb.get(5).is_none());
    }

    #[test]
    fn segments_arrive_as_the_datagrams_they_were_cut_into() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7 + 1) as u8).collect();
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, b.port()));
        let sent = a.send_segments(&payload, 1000, to, Some(IpAddr::V4(Ipv4Addr::LOCALHOST))).unwrap();
        assert_eq!(sent, Sent { len: 4000, source_rejected: false });
        let (got, sizes, glued) = recv_all(&b, payload.len());
        assert_eq!(got, payload, "bytes and order survive GSO and GRO");
        assert!(sizes.iter().all(|&s| s == 1000), "{sizes:?}");
        if !b.offloads().gro {
            assert!(!glued);
        }
        // A short tail and a refused batch size.
        let sent = a.send_segments(&payload[..2500], 1000, to, None).unwrap();
        assert_eq!(sent.len, 2500);
        let (_, sizes, _) = recv_all(&b, 2500);
        assert_eq!(sizes, vec![1000, 1000, 500]);
        assert!(a.send_segments(&payload, 0, to, None).is_err());
        assert!(a.send_segments(&vec![0; 65 * 10], 10, to, None).is_err());
    }

    #[test]
    fn port_zero_picks_one_port_for_both_families() {
        let s = UdpSockets::bind(0, 0).unwrap();
        assert_ne!(s.port(), 0);
        assert_eq!(s.v4.local_addr().unwrap().port(), s.port());
        if let Some(v6) = &s.v6 {
            assert_eq!(v6.local_addr().unwrap().port(), s.port());
        }
        // The same port again is refused while held.
        assert!(UdpSockets::bind(s.port(), 0).is_err());
    }

    #[test]
    fn datagrams_flow_over_loopback() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, b.port()));
        a.send_to(b"hello", to).unwrap();
        let mut buf = [0u8; 16];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match b.v4.recv_from(&mut buf) {
                Ok((n, from)) => {
                    assert_eq!(&buf[..n], b"hello");
                    assert_eq!(from.port(), a.port());
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The next datagram on `family`'s socket, waiting at most two seconds.
    fn recv_within(s: &UdpSockets, family: Family, buf: &mut [u8]) -> (usize, SocketAddr, Option<IpAddr>, Option<u32>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match s.recv_from_local(family, buf) {
                Ok(r) => return r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The loopback interface's index, as the kernel reports it.
    fn loopback_index() -> u32 {
        std::fs::read_to_string("/sys/class/net/lo/ifindex").unwrap().trim().parse().unwrap()
    }

    #[test]
    fn receive_reports_which_local_address_the_datagram_was_sent_to() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let mut buf = [0u8; 64];
        // 127.0.0.1 and 127.0.0.2 are both ours (all of 127/8 is local).
        for dst in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)] {
            a.send_to(&dst.octets(), SocketAddr::from((dst, b.port()))).unwrap();
            let (n, from, local, ifindex) = recv_within(&b, Family::V4, &mut buf);
            assert_eq!(&buf[..n], &dst.octets());
            assert_eq!(from.port(), a.port());
            assert_eq!(local, Some(IpAddr::V4(dst)));
            assert_eq!(ifindex, Some(loopback_index()));
        }
    }

    #[test]
    fn send_from_a_second_local_address_arrives_from_it() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, b.port()));
        let mut buf = [0u8; 64];
        for source in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 3)] {
            let sent = a.send_from(b"sticky", to, Some(IpAddr::V4(source))).unwrap();
            assert_eq!(sent, Sent { len: 6, source_rejected: false });
            let (n, from, local, _) = recv_within(&b, Family::V4, &mut buf);
            assert_eq!(&buf[..n], b"sticky");
            assert_eq!(from, SocketAddr::from((source, a.port())), "the datagram left from the chosen address");
            assert_eq!(local, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
    }

    #[test]
    fn a_source_that_is_not_ours_falls_back_to_the_kernels_choice() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, b.port()));
        let mut buf = [0u8; 64];
        // 192.0.2.1 (TEST-NET-1) is not an address of this host; an IPv6 source cannot send IPv4.
        for foreign in [IpAddr::from([192, 0, 2, 1]), IpAddr::V6(Ipv6Addr::LOCALHOST)] {
            let sent = a.send_from(b"fallback", to, Some(foreign)).unwrap();
            assert_eq!(sent, Sent { len: 8, source_rejected: true }, "source {foreign}");
            let (n, from, _, _) = recv_within(&b, Family::V4, &mut buf);
            assert_eq!(&buf[..n], b"fallback");
            assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, a.port())));
        }
        // Without a source, nothing to reject; an IPv4-mapped source is plain IPv4.
        assert_eq!(a.send_from(b"x", to, None).unwrap(), Sent { len: 1, source_rejected: false });
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped());
        assert_eq!(a.send_from(b"y", to, Some(mapped)).unwrap(), Sent { len: 1, source_rejected: false });
        assert_eq!(recv_within(&b, Family::V4, &mut buf).1.ip(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(recv_within(&b, Family::V4, &mut buf).1.ip(), IpAddr::from([127, 0, 0, 2]));
    }

    #[test]
    fn ipv6_reports_the_destination_and_falls_back_from_a_foreign_source() {
        let a = UdpSockets::bind(0, 0).unwrap();
        let b = UdpSockets::bind(0, 0).unwrap();
        let to = SocketAddr::from((Ipv6Addr::LOCALHOST, b.port()));
        if b.v6.is_none() || a.send_to(b"probe", to).is_err() {
            eprintln!("SKIP: no IPv6 loopback on this host");
            return;
        }
        let mut buf = [0u8; 64];
        let (_, _, local, ifindex) = recv_within(&b, Family::V6, &mut buf);
        assert_eq!((local, ifindex), (Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), Some(loopback_index())));

        let ours = a.send_from(b"ours", to, Some(IpAddr::V6(Ipv6Addr::LOCALHOST))).unwrap();
        assert_eq!(ours, Sent { len: 4, source_rejected: false });
        assert_eq!(recv_within(&b, Family::V6, &mut buf).1, SocketAddr::from((Ipv6Addr::LOCALHOST, a.port())));

        let foreign: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let sent = a.send_from(b"theirs", to, Some(IpAddr::V6(foreign))).unwrap();
        assert_eq!(sent, Sent { len: 6, source_rejected: true });
        let (n, from, _, _) = recv_within(&b, Family::V6, &mut buf);
        assert_eq!((&buf[..n], from), (&b"theirs"[..], SocketAddr::from((Ipv6Addr::LOCALHOST, a.port()))));
    }
}
