//! Which of our addresses a UDP datagram arrived on, and which one a datagram leaves from:
//! the `IP_PKTINFO` / `IPV6_PKTINFO` ancillary data of `recvmsg` and `sendmsg`.
//!
//! This is the operating-system half of source-address stickiness (the kernel WireGuard's
//! cached source in `send4`/`send6`, wireguard-go's sticky endpoints): a host with several
//! addresses answers a peer from the address the peer talked to, so the peer, its firewall and
//! any NAT on the way see a single flow.
//!
//! The control messages are built and read here in safe code, by the kernel's layout: a
//! `struct cmsghdr` (`size_t` length, `int` level, `int` type) and then the payload, each
//! padded to `sizeof(long)`. socket2 makes the `sendmsg`/`recvmsg` calls. The unsafe code is
//! two small blocks: switching the option on (`setsockopt`) and lending a `&mut [u8]` to
//! `recvmsg`, which wants `&mut [MaybeUninit<u8>]`.

#![allow(unsafe_code)]

use socket2::{MaybeUninitSlice, MsgHdr, MsgHdrMut, SockAddr, SockRef};
use std::io::{self, IoSlice};
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};

/// Control-message alignment: the kernel's `CMSG_ALIGN` rounds to `sizeof(long)`, which is the
/// pointer size on every Linux target.
const ALIGN: usize = size_of::<usize>();

/// `CMSG_ALIGN`: `len` rounded up to the control-message alignment.
const fn cmsg_align(len: usize) -> usize {
    (len + ALIGN - 1) & !(ALIGN - 1)
}

/// Bytes before a control message's payload (`CMSG_LEN(0)`).
const HEADER_LEN: usize = cmsg_align(size_of::<libc::cmsghdr>());
/// Offsets of the header fields: `cmsg_len` (a `size_t`), then `cmsg_level` and `cmsg_type`.
const LEVEL_AT: usize = size_of::<usize>();
const TYPE_AT: usize = LEVEL_AT + 4;

/// `struct in_pktinfo`: `int ipi_ifindex`, `in_addr ipi_spec_dst`, `in_addr ipi_addr`.
const IN_PKTINFO_LEN: usize = size_of::<libc::in_pktinfo>();
/// `struct in6_pktinfo`: `in6_addr ipi6_addr`, `unsigned ipi6_ifindex`.
const IN6_PKTINFO_LEN: usize = size_of::<libc::in6_pktinfo>();

/// Room for the one control message a send carries (`CMSG_SPACE(sizeof(in6_pktinfo))`, the
/// larger of the two families).
const SEND_CONTROL_LEN: usize = HEADER_LEN + cmsg_align(IN6_PKTINFO_LEN);
/// Room for what a receive may carry: the packet-info message with slack, so an option another
/// part of the program turns on later does not truncate it (`MSG_CTRUNC`) at once.
pub(crate) const RECV_CONTROL_LEN: usize = 4 * SEND_CONTROL_LEN;

/// What the control messages of a received datagram said about where it arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// Our unicast address the datagram was sent to; `None` when the kernel did not say, or the
    /// destination was a multicast or broadcast address (never a source for a reply).
    pub local: Option<IpAddr>,
    /// Index of the interface it arrived on; `None` when unknown.
    pub ifindex: Option<u32>,
    /// With UDP GRO: the size of each of the datagrams glued into this receive.
    pub segment_size: Option<usize>,
}

/// Asks the kernel to report each datagram's destination address and interface:
/// `IP_PKTINFO` on an IPv4 socket, `IPV6_RECVPKTINFO` on an IPv6 one. (Sending with a chosen
/// source needs no option: the control message alone does it.)
pub(crate) fn enable(socket: &impl AsFd, ipv6: bool) -> io::Result<()> {
    let (level, name) =
        if ipv6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) } else { (libc::IPPROTO_IP, libc::IP_PKTINFO) };
    let one: libc::c_int = 1;
    let fd = socket.as_fd();
    // SAFETY: `fd` is borrowed, so it stays open for the call. The option value points to a
    // live `c_int` whose exact size is passed as `optlen`; the kernel reads at most that many
    // bytes and keeps no pointer after returning.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Views an initialised byte buffer as the possibly-uninitialised buffer `recvmsg` fills.
fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the size, alignment and ABI of `u8`, so the slice layout is
    // unchanged. The only way to break the `[u8]` afterwards would be to write an uninitialised
    // byte through the returned reference; it is handed only to `recvmsg`, which writes bytes
    // the kernel copied out (initialised) and nothing else.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// Receives one datagram into `buf`: its length (truncated to `buf` if longer), the sender,
/// and where it arrived. Non-blocking sockets give `WouldBlock` as usual.
pub(crate) fn recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Arrival)> {
    // Large enough for either family: the kernel writes a `sockaddr_in` or `sockaddr_in6` and
    // its family field, which is what `as_socket` reads back.
    let mut from = SockAddr::from(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
    let mut control = [0u8; RECV_CONTROL_LEN];
    let (len, control_len) = {
        let mut bufs = [MaybeUninitSlice::new(as_uninit(buf))];
        let mut msg =
            MsgHdrMut::new().with_addr(&mut from).with_buffers(&mut bufs).with_control(as_uninit(&mut control));
        let len = SockRef::from(socket).recvmsg(&mut msg, 0)?;
        (len, msg.control_len())
    };
    let from =
        from.as_socket().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address"))?;
    let arrival = decode(control.get(..control_len).unwrap_or(&control));
    Ok((len.min(buf.len()), from, arrival))
}

/// Room for a `UDP_SEGMENT` control message (a `u16` payload).
const SEGMENT_CONTROL_LEN: usize = HEADER_LEN + cmsg_align(size_of::<u16>());

/// Room for everything a send may carry: a source address and a GSO segment size.
pub(crate) const SEND_CONTROL_MAX: usize = SEND_CONTROL_LEN + SEGMENT_CONTROL_LEN;

/// Writes the control messages of a send of `len` bytes into `control`; returns the bytes used.
pub(crate) fn encode_send_control(
    len: usize,
    source: Option<IpAddr>,
    segment: Option<u16>,
    control: &mut [u8; SEND_CONTROL_MAX],
) -> usize {
    control.fill(0);
    let mut used = 0;
    if let Some(source) = source {
        let mut one = [0u8; SEND_CONTROL_LEN];
        let n = encode_source(source, &mut one);
        control[..n].copy_from_slice(&one[..n]);
        used = n;
    }
    if let Some(size) = segment.filter(|&size| usize::from(size) < len) {
        put_header(&mut control[used..], libc::SOL_UDP, libc::UDP_SEGMENT, size_of::<u16>());
        control[used + HEADER_LEN..used + HEADER_LEN + 2].copy_from_slice(&size.to_ne_bytes());
        used += SEGMENT_CONTROL_LEN;
    }
    used
}

/// Sends `bytes` to `to`, optionally with `source` as the IP source address (a packet-info
/// control message; `to` and `source` must be of the socket's family — the kernel refuses a
/// source that is not one of our addresses with `EINVAL`, or `ENETUNREACH` for IPv4), and
/// optionally as a GSO
/// batch: with `segment`, the kernel cuts `bytes` into datagrams of that size (the last may be
/// shorter), one syscall for up to 64 of them.
pub(crate) fn send(
    socket: &UdpSocket,
    bytes: &[u8],
    to: SocketAddr,
    source: Option<IpAddr>,
    segment: Option<u16>,
) -> io::Result<usize> {
    let mut control = [0u8; SEND_CONTROL_MAX];
    let used = encode_send_control(bytes.len(), source, segment, &mut control);
    let addr = SockAddr::from(to);
    let iov = [IoSlice::new(bytes)];
    let msg = MsgHdr::new().with_addr(&addr).with_buffers(&iov).with_control(&control[..used]);
    SockRef::from(socket).sendmsg(&msg, 0)
}

/// UDP segmentation offloads a socket has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpOffloads {
    /// `UDP_SEGMENT` sends work (GSO).
    pub gso: bool,
    /// `UDP_GRO` is on: a receive may return several datagrams glued together.
    pub gro: bool,
}

/// Probes GSO and turns GRO on.
pub(crate) fn enable_offloads(socket: &impl AsFd) -> UdpOffloads {
    let fd = socket.as_fd();
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is borrowed and open for the call; the kernel writes at most `len` bytes
    // into `value`, which has exactly that size.
    let gso = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    } == 0;
    let one: libc::c_int = 1;
    // SAFETY: as in `enable`: a pointer to a live c_int and its exact size.
    let gro = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_GRO,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    UdpOffloads { gso, gro }
}

/// Writes a control-message header (`cmsg_len` = header + `payload_len`) at the start of `out`.
fn put_header(out: &mut [u8], level: libc::c_int, kind: libc::c_int, payload_len: usize) {
    out[..LEVEL_AT].copy_from_slice(&(HEADER_LEN + payload_len).to_ne_bytes());
    out[LEVEL_AT..TYPE_AT].copy_from_slice(&level.to_ne_bytes());
    out[TYPE_AT..TYPE_AT + 4].copy_from_slice(&kind.to_ne_bytes());
}

/// Encodes the control message that makes `source` a datagram's source address; returns the
/// bytes used (`CMSG_SPACE` of the payload). The interface index is left 0 so the route
/// lookup, not us, picks the interface.
fn encode_source(source: IpAddr, out: &mut [u8; SEND_CONTROL_LEN]) -> usize {
    out.fill(0);
    match source {
        IpAddr::V4(v4) => {
            put_header(out, libc::IPPROTO_IP, libc::IP_PKTINFO, IN_PKTINFO_LEN);
            // ipi_ifindex = 0, ipi_spec_dst = source (the sending source), ipi_addr unused.
            out[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&v4.octets());
            HEADER_LEN + cmsg_align(IN_PKTINFO_LEN)
        }
        IpAddr::V6(v6) => {
            put_header(out, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, IN6_PKTINFO_LEN);
            // ipi6_addr = source, ipi6_ifindex = 0.
            out[HEADER_LEN..HEADER_LEN + 16].copy_from_slice(&v6.octets());
            HEADER_LEN + cmsg_align(IN6_PKTINFO_LEN)
        }
    }
}

/// A native-endian integer of `N` bytes at `at`, if `bytes` holds it.
fn ne_bytes<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Reads the packet-info messages out of a received control buffer. Any length is accepted:
/// a malformed or truncated message ends the walk, it never panics.
pub(crate) fn decode(control: &[u8]) -> Arrival {
    let mut arrival = Arrival::default();
    let mut at = 0usize;
    while let (Some(len), Some(level), Some(kind)) =
        (ne_bytes(control, at), ne_bytes(control, at + LEVEL_AT), ne_bytes(control, at + TYPE_AT))
    {
        let len = usize::from_ne_bytes(len);
        let end = match at.checked_add(len) {
            Some(end) if len >= HEADER_LEN && end <= control.len() => end,
            _ => break,
        };
        let payload = &control[at + HEADER_LEN..end];
        match (libc::c_int::from_ne_bytes(level), libc::c_int::from_ne_bytes(kind)) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let (Some(ifindex), Some(dst)) = (ne_bytes(payload, 0), ne_bytes::<4>(payload, 8)) {
                    // ipi_addr is the header's destination. (ipi_spec_dst is the address the
                    // kernel would pick to answer the sender, not necessarily the one it used.)
                    arrival.local = usable_local(IpAddr::from(dst));
                    arrival.ifindex = u32::try_from(i32::from_ne_bytes(ifindex)).ok().filter(|&i| i != 0);
                }
            }
            (libc::SOL_UDP, libc::UDP_GRO) => {
                if let Some(size) = ne_bytes(payload, 0) {
                    arrival.segment_size = usize::try_from(libc::c_int::from_ne_bytes(size)).ok().filter(|&s| s > 0);
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let (Some(dst), Some(ifindex)) = (ne_bytes::<16>(payload, 0), ne_bytes(payload, 16)) {
                    arrival.local = usable_local(IpAddr::from(dst));
                    arrival.ifindex = Some(u32::from_ne_bytes(ifindex)).filter(|&i| i != 0);
                }
            }
            _ => {}
        }
        at = match at.checked_add(cmsg_align(len)) {
            Some(next) => next,
            None => break,
        };
    }
    arrival
}

/// `dst` as a source for replies: unicast only (a datagram to a multicast or broadcast address
/// must not make us send from it), IPv4-mapped IPv6 as plain IPv4.
fn usable_local(dst: IpAddr) -> Option<IpAddr> {
    match dst {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() => None,
        IpAddr::V4(v4) => Some(IpAddr::V4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => usable_local(IpAddr::V4(v4)),
            None if v6.is_unspecified() || v6.is_multicast() => None,
            None => Some(IpAddr::V6(v6)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_the_c_macros() {
        // SAFETY: CMSG_LEN and CMSG_SPACE are arithmetic on their argument; no memory is read.
        let (len0, space4, space6) = unsafe {
            (libc::CMSG_LEN(0), libc::CMSG_SPACE(IN_PKTINFO_LEN as u32), libc::CMSG_SPACE(IN6_PKTINFO_LEN as u32))
        };
        assert_eq!(HEADER_LEN, len0 as usize);
        assert_eq!(HEADER_LEN + cmsg_align(IN_PKTINFO_LEN), space4 as usize);
        assert_eq!(SEND_CONTROL_LEN, space6 as usize);
        assert_eq!((IN_PKTINFO_LEN, IN6_PKTINFO_LEN), (12, 20));
    }

    /// A control message as the kernel would deliver it on receive.
    fn received(level: libc::c_int, kind: libc::c_int, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN + cmsg_align(payload.len())];
        put_header(&mut out, level, kind, payload.len());
        out[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        out
    }

    fn in_pktinfo(ifindex: i32, spec_dst: [u8; 4], addr: [u8; 4]) -> Vec<u8> {
        [&ifindex.to_ne_bytes()[..], &spec_dst, &addr].concat()
    }

    fn in6_pktinfo(addr: Ipv6Addr, ifindex: u32) -> Vec<u8> {
        [&addr.octets()[..], &ifindex.to_ne_bytes()].concat()
    }

    #[test]
    fn ipv4_destination_is_the_header_address_not_spec_dst() {
        let control = received(libc::IPPROTO_IP, libc::IP_PKTINFO, &in_pktinfo(3, [10, 0, 0, 1], [10, 0, 0, 2]));
        let got = decode(&control);
        assert_eq!(got, Arrival { local: Some(IpAddr::from([10, 0, 0, 2])), ifindex: Some(3), segment_size: None });
    }

    #[test]
    fn ipv6_destination_and_interface() {
        let dst: Ipv6Addr = "fd00:18::2".parse().unwrap();
        let control = received(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &in6_pktinfo(dst, 7));
        assert_eq!(decode(&control), Arrival { local: Some(IpAddr::V6(dst)), ifindex: Some(7), segment_size: None });
    }

    #[test]
    fn multicast_and_broadcast_destinations_are_no_source() {
        for dst in [[255, 255, 255, 255], [224, 0, 0, 1], [0, 0, 0, 0]] {
            let control = received(libc::IPPROTO_IP, libc::IP_PKTINFO, &in_pktinfo(2, [10, 0, 0, 1], dst));
            assert_eq!(decode(&control).local, None, "{dst:?}");
            assert_eq!(decode(&control).ifindex, Some(2));
        }
        let control = received(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &in6_pktinfo("ff02::1".parse().unwrap(), 2));
        assert_eq!(decode(&control).local, None);
    }

    #[test]
    fn other_messages_are_skipped_and_a_bad_length_stops_the_walk() {
        let mut control = received(libc::SOL_SOCKET, libc::SO_TIMESTAMP, &[0xee; 16]);
        control.extend(received(libc::IPPROTO_IP, libc::IP_PKTINFO, &in_pktinfo(1, [0; 4], [127, 0, 0, 2])));
        assert_eq!(decode(&control).local, Some(IpAddr::from([127, 0, 0, 2])));
        // A length running past the buffer, and one shorter than a header.
        for bad_len in [control.len() + 1, HEADER_LEN - 1, usize::MAX] {
            let mut broken = control.clone();
            broken[..LEVEL_AT].copy_from_slice(&bad_len.to_ne_bytes());
            assert_eq!(decode(&broken), Arrival::default(), "cmsg_len {bad_len}");
        }
        // A payload too short for the structure it claims to be.
        assert_eq!(decode(&received(libc::IPPROTO_IP, libc::IP_PKTINFO, &[1; 8])), Arrival::default());
    }

    #[test]
    fn encoded_sources_have_the_kernel_layout() {
        let mut out = [0xffu8; SEND_CONTROL_LEN];
        let len = encode_source(IpAddr::from([127, 0, 0, 2]), &mut out);
        assert_eq!(len, HEADER_LEN + cmsg_align(12));
        assert_eq!(usize::from_ne_bytes(out[..LEVEL_AT].try_into().unwrap()), HEADER_LEN + 12);
        assert_eq!(out[HEADER_LEN..HEADER_LEN + 12], [0, 0, 0, 0, 127, 0, 0, 2, 0, 0, 0, 0]);

        let v6: Ipv6Addr = "fd00::2".parse().unwrap();
        let len = encode_source(IpAddr::V6(v6), &mut out);
        assert_eq!(len, SEND_CONTROL_LEN);
        // An IPv6 send message reads back as what a receive would report.
        assert_eq!(decode(&out[..len]), Arrival { local: Some(IpAddr::V6(v6)), ifindex: None, segment_size: None });
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_finds_pktinfo_behind_other_messages(
            junk in proptest::collection::vec((any::<i32>(), any::<i32>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..4),
            dst in any::<[u8; 16]>(),
            ifindex in 1u32..,
        ) {
            let mut control = Vec::new();
            for (level, kind, payload) in &junk {
                if (*level, *kind) != (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) && (*level, *kind) != (libc::IPPROTO_IP, libc::IP_PKTINFO) {
                    control.extend(received(*level, *kind, payload));
                }
            }
            let dst = Ipv6Addr::from(dst);
            control.extend(received(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &in6_pktinfo(dst, ifindex)));
            let got = decode(&control);
            prop_assert_eq!(got.ifindex, Some(ifindex));
            prop_assert_eq!(got.local, usable_local(IpAddr::V6(dst)));
        }
    }
}
