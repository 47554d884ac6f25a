//! UDP segmentation offload: GSO on send (one `sendmsg` carries up to 64 equal-sized
//! datagrams, segmented by the kernel or the NIC) and GRO on receive (one `recvmsg` returns a
//! run of same-flow datagrams glued together, with their segment size in a control message).
//! Both are probed at runtime; callers fall back to one datagram per syscall without them.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Most segments one GSO send may carry (the kernel's UDP_MAX_SEGMENTS on older kernels).
pub const MAX_GSO_SEGMENTS: usize = 64;

/// Which offloads a socket has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpOffloads {
    /// `UDP_SEGMENT` sends work.
    pub gso: bool,
    /// `UDP_GRO` is enabled: receives may return several datagrams at once.
    pub gro: bool,
}

fn setsockopt_int(sock: &UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size; the socket is open.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn getsockopt_int(sock: &UdpSocket, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value`, which has that size.
    let rc = unsafe {
        libc::getsockopt(sock.as_raw_fd(), level, name, &mut value as *mut libc::c_int as *mut libc::c_void, &mut len)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Probes GSO and enables GRO on `sock`.
pub fn enable(sock: &UdpSocket) -> UdpOffloads {
    UdpOffloads {
        gso: getsockopt_int(sock, libc::SOL_UDP, libc::UDP_SEGMENT).is_ok(),
        gro: setsockopt_int(sock, libc::SOL_UDP, libc::UDP_GRO, 1).is_ok(),
    }
}

/// A socket address in the C layout, for `msg_name`.
struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn empty() -> RawAddr {
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
        RawAddr { storage: unsafe { zeroed() }, len: size_of::<libc::sockaddr_storage>() as libc::socklen_t }
    }

    fn from(addr: SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
                let sin = unsafe { &mut *(&mut raw.storage as *mut _ as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
                let sin6 = unsafe { &mut *(&mut raw.storage as *mut _ as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_flowinfo = a.flowinfo();
                sin6.sin6_scope_id = a.scope_id();
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    fn to_socket_addr(&self) -> Option<SocketAddr> {
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Room for one control message carrying a u16 or an int (8-byte aligned).
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// Sends `buf` to `to` as datagrams of `segment_size` bytes (the last may be shorter) in one
/// syscall. `buf.len()` must be at most 64 segments and under 64 KiB.
pub fn send_segments(sock: &UdpSocket, to: SocketAddr, buf: &[u8], segment_size: u16) -> io::Result<usize> {
    if segment_size == 0 || buf.len().div_ceil(usize::from(segment_size)) > MAX_GSO_SEGMENTS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad GSO batch"));
    }
    let mut addr = RawAddr::from(to);
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut cmsg = CmsgBuf([0; 64]);
    // SAFETY: msghdr is plain data; zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = &mut addr.storage as *mut _ as *mut libc::c_void;
    msg.msg_namelen = addr.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    let single = buf.len() <= usize::from(segment_size);
    if !single {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let space = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
        msg.msg_control = cmsg.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space;
        // SAFETY: msg_control points at `cmsg`, 64 aligned bytes, more than `space`; the
        // first header and its data lie within it.
        unsafe {
            let hdr = libc::CMSG_FIRSTHDR(&msg);
            (*hdr).cmsg_level = libc::SOL_UDP;
            (*hdr).cmsg_type = libc::UDP_SEGMENT;
            (*hdr).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(hdr) as *mut u16, segment_size);
        }
    }
    // SAFETY: every pointer in `msg` refers to live locals/`buf` for the duration of the call.
    let rc = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as usize)
}

/// One receive: `len` bytes in the buffer from `from`; with GRO, datagrams of
/// `segment_size` bytes each (the last may be shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Total bytes.
    pub len: usize,
    /// The sender.
    pub from: SocketAddr,
    /// Size of each glued datagram, when GRO glued several.
    pub segment_size: Option<usize>,
}

/// Receives one (possibly GRO-coalesced) run of datagrams into `buf` (64 KiB recommended).
pub fn recv(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let mut addr = RawAddr::empty();
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut cmsg = CmsgBuf([0; 64]);
    // SAFETY: msghdr is plain data; zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = &mut addr.storage as *mut _ as *mut libc::c_void;
    msg.msg_namelen = addr.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = cmsg.0.len();
    // SAFETY: every pointer in `msg` refers to live locals/`buf`; the kernel writes within
    // the lengths given.
    let rc = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    addr.len = msg.msg_namelen;
    let from = addr.to_socket_addr().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no source address"))?;
    let mut segment_size = None;
    // SAFETY: walking the control messages the kernel wrote into `cmsg`, bounded by
    // msg_controllen, with the libc macros that check each header's extent.
    unsafe {
        let mut hdr = libc::CMSG_FIRSTHDR(&msg);
        while !hdr.is_null() {
            if (*hdr).cmsg_level == libc::SOL_UDP && (*hdr).cmsg_type == libc::UDP_GRO {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(hdr) as *const libc::c_int);
                if size > 0 && (size as usize) < rc as usize {
                    segment_size = Some(size as usize);
                }
            }
            hdr = libc::CMSG_NXTHDR(&msg, hdr);
        }
    }
    Ok(Received { len: rc as usize, from, segment_size })
}

/// Splits a receive into its datagrams.
pub fn datagrams(buf: &mut [u8], received: Received) -> impl Iterator<Item = &mut [u8]> {
    let size = received.segment_size.unwrap_or(received.len.max(1));
    buf[..received.len].chunks_mut(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        (a, b)
    }

    #[test]
    fn gso_send_arrives_as_separate_datagrams_without_gro() {
        let (a, b) = pair();
        let offloads = UdpOffloads { gso: getsockopt_int(&a, libc::SOL_UDP, libc::UDP_SEGMENT).is_ok(), gro: false };
        if !offloads.gso {
            eprintln!("kernel without UDP_SEGMENT: skipping");
            return;
        }
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert_eq!(send_segments(&a, b.local_addr().unwrap(), &payload, 300).unwrap(), 1000);
        let mut sizes = Vec::new();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..4 {
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!(from, a.local_addr().unwrap());
            sizes.push(n);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(sizes, vec![300, 300, 300, 100]);
        assert_eq!(got, payload);
    }

    #[test]
    fn gro_receive_reports_the_segment_size_and_splits_back() {
        let (a, b) = pair();
        let offloads = enable(&b);
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
        for chunk in payload.chunks(1000) {
            a.send_to(chunk, b.local_addr().unwrap()).unwrap();
        }
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut glued = false;
        while got.len() < payload.len() && Instant::now() < deadline {
            let r = recv(&b, &mut buf).unwrap();
            glued |= r.segment_size.is_some();
            for d in datagrams(&mut buf, r) {
                assert!(d.len() <= 1000);
                got.extend_from_slice(d);
            }
        }
        assert_eq!(got, payload);
        if !offloads.gro {
            assert!(!glued);
        }
    }

    #[test]
    fn oversized_batches_are_refused_before_the_syscall() {
        let (a, b) = pair();
        let buf = vec![0u8; 65 * 10];
        assert!(send_segments(&a, b.local_addr().unwrap(), &buf, 10).is_err());
        assert!(send_segments(&a, b.local_addr().unwrap(), &buf, 0).is_err());
    }
}
