//! The UDP sockets of one WireGuard interface: IPv4 and IPv6 on the same port, as
//! wireguard-go binds them, with the optional firewall mark applied to both.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The interface's sockets. IPv6 is optional: a host without it still runs on IPv4.
#[derive(Debug)]
pub struct UdpSockets {
    /// The IPv4 socket (0.0.0.0:port).
    pub v4: UdpSocket,
    /// The IPv6 socket ([::]:port, v6-only), when the host has IPv6.
    pub v6: Option<UdpSocket>,
    port: u16,
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
    // Large buffers absorb bursts between two polls of the event loop.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl UdpSockets {
    /// Binds both families on `port` (0: the kernel picks one, and IPv6 takes the same).
    /// When `port` is 0 and the chosen port is taken for IPv6, a few other picks are tried.
    pub fn bind(port: u16, fwmark: u32) -> io::Result<UdpSockets> {
        let attempts = if port == 0 { 16 } else { 1 };
        let mut last_err = None;
        for _ in 0..attempts {
            let v4 = bind(Domain::IPV4, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), fwmark)?;
            let chosen = v4.local_addr()?.port();
            match bind(Domain::IPV6, SocketAddr::from((Ipv6Addr::UNSPECIFIED, chosen)), fwmark) {
                Ok(v6) => return Ok(UdpSockets { v4, v6: Some(v6), port: chosen }),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
                // No IPv6 on this host (EAFNOSUPPORT, EADDRNOTAVAIL): run on IPv4 alone.
                Err(_) => return Ok(UdpSockets { v4, v6: None, port: chosen }),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Applies a firewall mark to both sockets (0 clears it).
    pub fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        socket2::SockRef::from(&self.v4).set_mark(mark)?;
        if let Some(v6) = &self.v6 {
            socket2::SockRef::from(v6).set_mark(mark)?;
        }
        Ok(())
    }

    /// Sends `bytes` to `to` on the socket of its family.
    pub fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        match (to, &self.v6) {
            (SocketAddr::V4(_), _) => self.v4.send_to(bytes, to),
            (SocketAddr::V6(v6), _) if v6.ip().to_ipv4_mapped().is_some() => {
                let v4 = SocketAddr::from((v6.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED), v6.port()));
                self.v4.send_to(bytes, v4)
            }
            (SocketAddr::V6(_), Some(v6)) => v6.send_to(bytes, to),
            (SocketAddr::V6(_), None) => Err(io::Error::new(io::ErrorKind::Unsupported, "no IPv6 socket")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
