//! UDP over both families: delivery, sending, checksums, closed ports and full sockets.

use core::net::{IpAddr, SocketAddr};

use braid_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Icmpv4Unreachable};
use braid_wire::udp::{UdpPacket, UdpRepr};

use super::*;
use crate::socket::{BindError, PacketBufferConfig, UdpConfig, UdpMetadata};

#[test]
fn datagrams_of_both_families_reach_a_wildcard_socket_with_their_addresses() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind("[::]:53".parse().unwrap(), UdpConfig::default()).unwrap();
    h.inject(&udp_packet(v4(PEER4, 3333), v4(OURS4, 53), b"over four"));
    h.inject(&udp_packet(v6(PEER6, 4444), v6(OURS6, 53), b"over six"));
    let socket = h.sockets.udp(handle).unwrap();
    let mut buf = [0u8; 64];
    let got = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..got.len], b"over four");
    assert_eq!(got.meta, UdpMetadata { remote: v4(PEER4, 3333), local: IpAddr::V4(OURS4) });
    let got = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..got.len], b"over six");
    assert_eq!(got.meta, UdpMetadata { remote: v6(PEER6, 4444), local: IpAddr::V6(OURS6) });
    assert!(h.sent().is_empty(), "nothing is answered");
    assert_eq!(h.iface.counters().udp_received, 2);
}

#[test]
fn an_exact_binding_wins_over_a_wildcard_and_overlaps_are_refused() {
    let mut h = Harness::new();
    let any = h.sockets.udp_bind("0.0.0.0:7000".parse().unwrap(), UdpConfig::default());
    assert!(any.is_ok());
    let exact_addr: SocketAddr = v4(OURS4, 7000);
    assert_eq!(
        h.sockets.udp_bind(exact_addr, UdpConfig::default()),
        Err(BindError::AddrInUse(exact_addr)),
        "a wildcard already covers it"
    );
    let mut h = Harness::new();
    let exact = h.sockets.udp_bind(exact_addr, UdpConfig::default()).unwrap();
    let other = h.sockets.udp_bind(v6(OURS6, 7000), UdpConfig::default()).unwrap();
    h.inject(&udp_packet(v4(PEER4, 1), exact_addr, b"exact"));
    assert_eq!(h.sockets.udp(exact).unwrap().recv_queue(), 1);
    assert_eq!(h.sockets.udp(other).unwrap().recv_queue(), 0);
}

#[test]
fn send_to_emits_a_checksummed_datagram_from_the_right_source() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind("[::]:5000".parse().unwrap(), UdpConfig::default()).unwrap();
    let socket = h.sockets.udp(handle).unwrap();
    socket.send_to(b"to four", v4(PEER4, 53)).unwrap();
    socket.send_to(b"to six", v6(PEER6, 53)).unwrap();
    assert_eq!(h.iface.poll_at(&h.sockets), Some(Instant::ZERO), "queued data asks for a poll now");
    assert!(h.poll());
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    for (packet, (src, dst, payload)) in sent.iter().zip([
        (IpAddr::V4(OURS4), IpAddr::V4(PEER4), &b"to four"[..]),
        (IpAddr::V6(OURS6), IpAddr::V6(PEER6), &b"to six"[..]),
    ]) {
        let parsed = parse_ip(packet);
        assert_eq!((parsed.src, parsed.dst), (src, dst));
        let udp = UdpPacket::new_checked(&parsed.payload[..]).unwrap();
        let repr = UdpRepr::parse(&udp, src, dst).expect("checksum verifies");
        assert_eq!((repr.src_port, repr.dst_port, repr.payload), (5000, 53, payload));
    }
    assert_eq!(h.iface.counters().udp_sent, 2);
    assert_eq!(h.iface.poll_at(&h.sockets), None);
}

#[test]
fn checksums_are_verified_per_family() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind("[::]:53".parse().unwrap(), UdpConfig::default()).unwrap();
    // A flipped payload bit.
    let mut bad = udp_packet(v4(PEER4, 1), v4(OURS4, 53), b"payload");
    let last = bad.len() - 1;
    bad[last] ^= 0x10;
    h.inject(&bad);
    // No checksum: allowed over IPv4, refused over IPv6 (RFC 8200 §8.1).
    let mut none4 = udp_packet(v4(PEER4, 1), v4(OURS4, 53), b"unchecked");
    none4[26..28].copy_from_slice(&[0, 0]);
    h.inject(&none4);
    let mut none6 = udp_packet(v6(PEER6, 1), v6(OURS6, 53), b"unchecked");
    none6[46..48].copy_from_slice(&[0, 0]);
    h.inject(&none6);
    assert_eq!(h.sockets.udp(handle).unwrap().recv_queue(), 1, "only the IPv4 datagram without checksum");
    let c = h.iface.counters();
    assert_eq!((c.udp_bad_checksum, c.udp_received), (2, 1));
    assert!(h.sent().is_empty(), "a corrupt datagram is not answered, even with port unreachable");
}

#[test]
fn a_closed_port_is_answered_with_port_unreachable_quoting_the_datagram() {
    let mut h = Harness::new();
    let packet = udp_packet(v4(PEER4, 5353), v4(OURS4, 9999), b"hello?");
    h.inject(&packet);
    let error = parse_ip(&h.sent_one());
    assert_eq!((error.src, error.dst), (IpAddr::V4(OURS4), IpAddr::V4(PEER4)));
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&error.payload[..]).unwrap()).unwrap();
    let Icmpv4Repr::DstUnreachable { reason, quote } = repr else { panic!("{repr:?}") };
    assert_eq!(reason, Icmpv4Unreachable::PortUnreachable);
    assert_eq!(quote.as_bytes(), &packet[..]);
    assert_eq!(quote.ports(), (5353, 9999));
    assert_eq!(h.iface.counters().udp_no_socket, 1);
}

#[test]
fn a_full_socket_drops_and_counts() {
    let mut h = Harness::new();
    let config = UdpConfig { rx: PacketBufferConfig { packets: 2, bytes: 1024 }, ..UdpConfig::default() };
    let handle = h.sockets.udp_bind(v4(OURS4, 53), config).unwrap();
    for i in 0..5u8 {
        h.inject(&udp_packet(v4(PEER4, 1), v4(OURS4, 53), &[i]));
    }
    let c = h.iface.counters();
    assert_eq!((c.udp_received, c.udp_socket_full), (2, 3));
    assert_eq!(h.sockets.udp(handle).unwrap().rx_dropped(), 3);
    assert!(h.sent().is_empty(), "a full socket is not a closed port");
}

#[test]
fn port_zero_binds_an_ephemeral_port_and_closing_makes_the_handle_stale() {
    let mut h = Harness::new();
    let a = h.sockets.udp_bind("0.0.0.0:0".parse().unwrap(), UdpConfig::default()).unwrap();
    let b = h.sockets.udp_bind("0.0.0.0:0".parse().unwrap(), UdpConfig::default()).unwrap();
    let (pa, pb) = (h.sockets.udp(a).unwrap().local_addr().port(), h.sockets.udp(b).unwrap().local_addr().port());
    assert!(pa >= 49152 && pb >= 49152 && pa != pb);
    assert!(h.sockets.udp_close(a));
    assert!(h.sockets.udp(a).is_none());
    assert!(!h.sockets.udp_close(a));
    let c = h.sockets.udp_bind("0.0.0.0:0".parse().unwrap(), UdpConfig::default()).unwrap();
    assert!(h.sockets.udp(a).is_none(), "the reused slot does not revive the old handle");
    assert!(h.sockets.udp(c).is_some());
}

#[test]
fn a_datagram_to_a_family_without_an_address_is_dropped_and_counted() {
    let (device, wire) = loopback_pair(1500, 16);
    let mut h = Harness {
        iface: Interface::new(InterfaceConfig::new([IpAddr::V4(OURS4)]), &device),
        sockets: SocketSet::new([1; 32]),
        device,
        wire,
        now: Instant::ZERO,
    };
    let handle = h.sockets.udp_bind("[::]:1".parse().unwrap(), UdpConfig::default()).unwrap();
    h.sockets.udp(handle).unwrap().send_to(b"x", v6(PEER6, 2)).unwrap();
    h.poll();
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().no_source_address, 1);
    assert_eq!(h.sockets.udp(handle).unwrap().send_queue(), 0, "not retried forever");
}
