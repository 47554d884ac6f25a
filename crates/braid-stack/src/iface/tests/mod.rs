//! Interface tests: packets are injected on the far end of a loopback pair and what the interface
//! transmits is read back and parsed with braid-wire, so every check is about bytes on the wire.

mod icmp;
mod icmp_error;
mod ip;
mod tcp;
mod udp;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use braid_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use braid_wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use braid_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use braid_wire::ipv6::{Ipv6Packet, Ipv6Repr};
use braid_wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use braid_wire::udp::{UdpPacket, UdpRepr};
use braid_wire::{icmpv4, icmpv6, tcp as tcp_wire, udp as udp_wire};

use super::{Interface, InterfaceConfig};
use crate::link::{loopback_pair, LoopbackDevice};
use crate::socket::SocketSet;
use crate::time::Instant;

pub(super) const OURS4: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
pub(super) const PEER4: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
pub(super) const OURS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, 0, 2);
pub(super) const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, 0, 1);

/// One interface over one end of a loopback pair; the test plays the peer on the other end.
pub(super) struct Harness {
    pub(super) iface: Interface,
    pub(super) sockets: SocketSet,
    pub(super) device: LoopbackDevice,
    pub(super) wire: LoopbackDevice,
    pub(super) now: Instant,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub(super) fn with_config(tweak: impl FnOnce(&mut InterfaceConfig)) -> Self {
        let (device, wire) = loopback_pair(1500, 1024);
        let mut config = InterfaceConfig::new([IpAddr::V4(OURS4), IpAddr::V6(OURS6)]);
        tweak(&mut config);
        Harness {
            iface: Interface::new(config, &device),
            sockets: SocketSet::new([3; 32]),
            device,
            wire,
            now: Instant::from_secs(1),
        }
    }

    /// Puts `packet` on the wire towards the interface and polls it.
    pub(super) fn inject(&mut self, packet: &[u8]) {
        self.device.inject(packet).unwrap();
        self.poll();
    }

    pub(super) fn poll(&mut self) -> bool {
        self.iface.poll(self.now, &mut self.device, &mut self.sockets)
    }

    /// Everything the interface transmitted since the last call.
    pub(super) fn sent(&mut self) -> Vec<Vec<u8>> {
        use crate::link::IpLink;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65535];
        while let Some(len) = self.wire.receive(self.now, &mut buf) {
            out.push(buf[..len].to_vec());
        }
        out
    }

    /// The one packet the interface transmitted since the last call.
    pub(super) fn sent_one(&mut self) -> Vec<u8> {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "expected exactly one packet, got {sent:?}");
        sent.pop().unwrap()
    }
}

/// An IPv4 or IPv6 packet around `payload`.
pub(super) fn ip_packet(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
            let repr = Ipv4Repr {
                src_addr,
                dst_addr,
                protocol,
                payload_len: payload.len(),
                hop_limit: 64,
                traffic_class: 0,
                ident: 77,
                dont_frag: false,
            };
            let mut buf = vec![0u8; repr.total_len()];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
            buf[20..].copy_from_slice(payload);
            buf
        }
        (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
            let repr = Ipv6Repr {
                src_addr,
                dst_addr,
                next_header: protocol,
                payload_len: payload.len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut buf = vec![0u8; repr.total_len()];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
            buf[40..].copy_from_slice(payload);
            buf
        }
        _ => panic!("mixed families"),
    }
}

pub(super) fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let repr = UdpRepr { src_port: src.port(), dst_port: dst.port(), payload };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), src.ip(), dst.ip());
    ip_packet(src.ip(), dst.ip(), udp_wire::PROTOCOL, &buf)
}

pub(super) fn tcp_packet(src: SocketAddr, dst: SocketAddr, repr: &TcpRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src.ip(), dst.ip());
    ip_packet(src.ip(), dst.ip(), tcp_wire::PROTOCOL, &buf)
}

pub(super) fn tcp_repr(src_port: u16, dst_port: u16, seq: u32, ack: Option<u32>, flags: TcpFlags) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        seq,
        ack: ack.unwrap_or(0),
        flags: TcpFlags { ack: ack.is_some(), ..flags },
        window: 65535,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    }
}

pub(super) fn syn() -> TcpFlags {
    TcpFlags { syn: true, ..TcpFlags::default() }
}

pub(super) fn icmpv4_packet(src: Ipv4Addr, dst: Ipv4Addr, repr: &Icmpv4Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    ip_packet(src.into(), dst.into(), icmpv4::PROTOCOL, &buf)
}

pub(super) fn icmpv6_packet(src: Ipv6Addr, dst: Ipv6Addr, repr: &Icmpv6Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst);
    ip_packet(src.into(), dst.into(), icmpv6::PROTOCOL, &buf)
}

/// A transmitted packet, parsed and checked (IP header checksum included): addresses, protocol and
/// the upper-layer bytes.
pub(super) struct Parsed {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) protocol: u8,
    pub(super) payload: Vec<u8>,
}

pub(super) fn parse_ip(packet: &[u8]) -> Parsed {
    match packet[0] >> 4 {
        4 => {
            let view = Ipv4Packet::new_checked(packet).unwrap();
            let repr = Ipv4Repr::parse(&view).expect("valid IPv4 header with a correct checksum");
            assert_eq!(repr.total_len(), packet.len());
            Parsed {
                src: repr.src_addr.into(),
                dst: repr.dst_addr.into(),
                protocol: repr.protocol,
                payload: view.payload().to_vec(),
            }
        }
        6 => {
            let view = Ipv6Packet::new_checked(packet).unwrap();
            let repr = Ipv6Repr::parse(&view).unwrap();
            assert_eq!(repr.total_len(), packet.len());
            Parsed {
                src: repr.src_addr.into(),
                dst: repr.dst_addr.into(),
                protocol: repr.next_header,
                payload: view.payload().to_vec(),
            }
        }
        v => panic!("IP version {v}"),
    }
}

/// A transmitted TCP segment, checksum verified, with its addresses.
pub(super) fn parse_tcp(packet: &[u8]) -> (Parsed, TcpRepr<'static>) {
    let parsed = parse_ip(packet);
    assert_eq!(parsed.protocol, tcp_wire::PROTOCOL);
    let bytes: &'static [u8] = parsed.payload.clone().leak();
    let repr = TcpRepr::parse(&TcpPacket::new_checked(bytes).unwrap(), parsed.src, parsed.dst).unwrap();
    (parsed, repr)
}

pub(super) fn v4(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(addr.into(), port)
}

pub(super) fn v6(addr: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::new(addr.into(), port)
}
