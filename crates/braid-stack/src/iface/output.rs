//! Building outgoing IP packets in the interface's one transmit buffer and handing them to the
//! device.

use core::net::IpAddr;

use braid_wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr};
use braid_wire::icmpv6::{self, Icmpv6Packet, Icmpv6Repr};
use braid_wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use braid_wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use braid_wire::tcp::{self, TcpPacket, TcpRepr};
use braid_wire::udp::{self, UdpPacket, UdpRepr};

use super::counters::InterfaceCounters;
use super::rate_limit::TokenBucket;
use crate::link::IpLink;
use crate::time::Instant;

/// The transmit half of the interface: buffer, IPv4 identification counter, counters and the ICMP
/// error rate limit. Split from the receive half so a handler can read a received packet while it
/// writes the answer.
#[derive(Debug)]
pub(crate) struct Output {
    /// Where packets are built; a zero-copy device may exchange it for one of its own buffers of
    /// the same length on every transmit (see `IpLink::transmit_swap`).
    buf: Box<[u8]>,
    /// The largest packet sent (the device MTU), kept apart from `buf` so a device that broke the
    /// same-length rule could only cause refused packets, never a panic.
    mtu: usize,
    hop_limit: u8,
    next_ident: u16,
    pub(crate) counters: InterfaceCounters,
    pub(crate) icmp_limit: TokenBucket,
}

impl Output {
    pub(crate) fn new(mtu: usize, hop_limit: u8, icmp_limit: TokenBucket) -> Self {
        Output {
            buf: vec![0; mtu].into_boxed_slice(),
            mtu,
            hop_limit,
            next_ident: 0,
            counters: InterfaceCounters::default(),
            icmp_limit,
        }
    }

    /// The largest packet the buffer (the device MTU) holds.
    pub(crate) fn mtu(&self) -> usize {
        self.mtu
    }

    /// Builds one IP packet from `src` to `dst` whose `len`-byte upper-layer part `fill` writes
    /// (with checksums: it knows the addresses), and transmits it; an IPv4 header carries DF when
    /// `dont_frag`. False if it was not sent.
    pub(crate) fn send<D: IpLink + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        (src, dst): (IpAddr, IpAddr),
        (protocol, dont_frag): (u8, bool),
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        let header_len = match dst {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        };
        let total = header_len + len;
        let Some(packet) = self.buf.get_mut(..total).filter(|_| total <= self.mtu) else {
            self.counters.tx_too_long += 1;
            return false;
        };
        match (src, dst) {
            (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
                let repr = Ipv4Repr {
                    src_addr,
                    dst_addr,
                    protocol,
                    payload_len: len,
                    hop_limit: self.hop_limit,
                    traffic_class: 0,
                    ident: self.next_ident,
                    dont_frag,
                };
                self.next_ident = self.next_ident.wrapping_add(1);
                repr.emit(&mut Ipv4Packet::new_unchecked(&mut *packet));
            }
            (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
                let repr = Ipv6Repr {
                    src_addr,
                    dst_addr,
                    next_header: protocol,
                    payload_len: len,
                    hop_limit: self.hop_limit,
                    traffic_class: 0,
                    flow_label: 0,
                };
                repr.emit(&mut Ipv6Packet::new_unchecked(&mut *packet));
            }
            _ => return false, // mixed families: a caller bug, never sent
        }
        fill(&mut packet[header_len..]);
        match device.transmit_swap(now, &mut self.buf, total) {
            Ok(()) => {
                self.counters.tx_packets += 1;
                self.counters.tx_bytes += total as u64;
                true
            }
            Err(_) => {
                self.counters.tx_device_errors += 1;
                false
            }
        }
    }

    /// Sends a TCP segment. Over IPv4 it carries DF unless `may_fragment`: RFC 1191 path-MTU
    /// discovery has a router that cannot forward one answer "fragmentation needed", and TCP
    /// resegments (see `icmp_error`); only a path below IPv4's 576-byte minimum, where that
    /// cannot work, lets routers fragment. (Other datagrams never carry DF.)
    pub(crate) fn send_tcp<D: IpLink + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        (src, dst): (IpAddr, IpAddr),
        repr: &TcpRepr<'_>,
        may_fragment: bool,
    ) -> bool {
        let sent = self.send(device, now, (src, dst), (tcp::PROTOCOL, !may_fragment), repr.buffer_len(), |buf| {
            repr.emit(&mut TcpPacket::new_unchecked(buf), src, dst);
        });
        if sent {
            self.counters.tcp_segments_sent += 1;
            if repr.flags.rst {
                self.counters.tcp_resets_sent += 1;
            }
        }
        sent
    }

    /// Sends a UDP datagram.
    pub(crate) fn send_udp<D: IpLink + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        repr: &UdpRepr<'_>,
    ) -> bool {
        let sent = self.send(device, now, (src, dst), (udp::PROTOCOL, false), repr.buffer_len(), |buf| {
            repr.emit(&mut UdpPacket::new_unchecked(buf), src, dst);
        });
        if sent {
            self.counters.udp_sent += 1;
        }
        sent
    }

    /// Sends an ICMPv4 message.
    pub(crate) fn send_icmpv4<D: IpLink + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        repr: &Icmpv4Repr<'_>,
    ) -> bool {
        self.send(device, now, (src, dst), (icmpv4::PROTOCOL, false), repr.buffer_len(), |buf| {
            repr.emit(&mut Icmpv4Packet::new_unchecked(buf));
        })
    }

    /// Sends an ICMPv6 message (its checksum covers the pseudo-header).
    pub(crate) fn send_icmpv6<D: IpLink + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        repr: &Icmpv6Repr<'_>,
    ) -> bool {
        let (IpAddr::V6(src6), IpAddr::V6(dst6)) = (src, dst) else { return false };
        self.send(device, now, (src, dst), (icmpv6::PROTOCOL, false), repr.buffer_len(), |buf| {
            repr.emit(&mut Icmpv6Packet::new_unchecked(buf), src6, dst6);
        })
    }
}
