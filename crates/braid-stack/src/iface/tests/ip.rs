//! The IP layer: malformed packets, address filters, extension headers, fragments, and arbitrary
//! input.

use core::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::socket::UdpConfig;

fn counted_drops(h: &Harness) -> u64 {
    let c = h.iface.counters();
    c.ip_malformed + c.ipv4_bad_checksum + c.ip_not_for_us + c.ip_bad_source
}

#[test]
fn malformed_headers_are_dropped_and_counted() {
    let mut h = Harness::new();
    let good = udp_packet(v4(PEER4, 1), v4(OURS4, 2), b"data");
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x45],
        good[..19].to_vec(),                // shorter than the header
        vec![0x75; 40],                     // version 7
        good[..good.len() - 1].to_vec(),    // total length beyond the buffer
        vec![0x60, 0, 0, 0, 0, 50, 17, 64], // IPv6 header truncated
    ];
    let mut ihl_small = good.clone();
    ihl_small[0] = 0x44;
    cases.push(ihl_small);
    let mut v6_bad_len = udp_packet(v6(PEER6, 1), v6(OURS6, 2), b"data");
    v6_bad_len[5] += 1; // payload length one past the buffer
    cases.push(v6_bad_len);
    for case in &cases {
        h.inject(case);
    }
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().ip_malformed, cases.len() as u64);
    assert_eq!(h.iface.counters().rx_packets, cases.len() as u64);
}

#[test]
fn a_bad_ipv4_header_checksum_is_refused() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind(v4(OURS4, 2), UdpConfig::default()).unwrap();
    let mut packet = udp_packet(v4(PEER4, 1), v4(OURS4, 2), b"data");
    packet[10] ^= 1;
    h.inject(&packet);
    assert_eq!(h.iface.counters().ipv4_bad_checksum, 1);
    assert_eq!(h.sockets.udp(handle).unwrap().recv_queue(), 0);
}

#[test]
fn packets_for_other_hosts_or_from_non_unicast_sources_are_dropped() {
    let mut h = Harness::new();
    h.inject(&udp_packet(v4(PEER4, 1), v4("198.19.0.3".parse().unwrap(), 2), b"x"));
    h.inject(&udp_packet(v4("224.0.0.1".parse().unwrap(), 1), v4(OURS4, 2), b"x"));
    h.inject(&udp_packet(v6("ff02::1".parse().unwrap(), 1), v6(OURS6, 2), b"x"));
    h.inject(&udp_packet(v4(PEER4, 1), v4("255.255.255.255".parse().unwrap(), 2), b"x"));
    assert!(h.sent().is_empty(), "none of these gets an ICMP error");
    let c = h.iface.counters();
    assert_eq!((c.ip_not_for_us, c.ip_bad_source), (2, 2));
}

#[test]
fn any_destination_mode_accepts_every_unicast_address_and_replies_from_it() {
    let mut h = Harness::with_config(|c| c.accept_any_destination = true);
    let elsewhere = "203.0.113.9".parse().unwrap();
    let echo = braid_wire::icmpv4::Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"" };
    h.inject(&icmpv4_packet(PEER4, elsewhere, &echo));
    let reply = parse_ip(&h.sent_one());
    assert_eq!(reply.src, IpAddr::V4(elsewhere));
    h.inject(&udp_packet(v4(PEER4, 1), v4("255.255.255.255".parse().unwrap(), 2), b"x"));
    assert_eq!(h.iface.counters().ip_not_for_us, 1, "broadcast is still not unicast");
}

#[test]
fn ipv6_extension_headers_are_walked_to_the_upper_layer() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind(v6(OURS6, 53), UdpConfig::default()).unwrap();
    let plain = udp_packet(v6(PEER6, 9), v6(OURS6, 53), b"behind options");
    let udp = &plain[40..];
    // Hop-by-hop (PadN) then destination options (PadN), then UDP.
    let mut payload = vec![60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
    payload.extend_from_slice(udp);
    let packet = ip_packet(PEER6.into(), OURS6.into(), 0, &payload);
    h.inject(&packet);
    let mut buf = [0u8; 32];
    let got = h.sockets.udp(handle).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..got.len], b"behind options");
    // An unknown option whose action bits say "discard" drops the packet.
    let mut bad = payload.clone();
    bad[2] = 0x80;
    h.inject(&ip_packet(PEER6.into(), OURS6.into(), 0, &bad));
    assert_eq!(h.iface.counters().ip_malformed, 1);
}

/// Splits an IPv4 datagram into fragments of `chunk` payload bytes (a multiple of 8).
fn fragment_v4(datagram: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let payload = &datagram[20..];
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, piece)| {
            let mut fragment = datagram[..20].to_vec();
            fragment.extend_from_slice(piece);
            let more = (i + 1) * chunk < payload.len();
            let mut view = Ipv4Packet::new_unchecked(&mut fragment[..]);
            view.set_total_len((20 + piece.len()) as u16);
            view.set_frag_fields(false, more, i * chunk);
            view.fill_checksum();
            fragment
        })
        .collect()
}

/// Splits an IPv6 packet (no extension headers) into fragments with a fragment header.
fn fragment_v6(packet: &[u8], chunk: usize, ident: u32) -> Vec<Vec<u8>> {
    let next = packet[6];
    let payload = &packet[40..];
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, piece)| {
            let more = (i + 1) * chunk < payload.len();
            let word = ((i * chunk) as u16) | u16::from(more);
            let mut fragment = packet[..40].to_vec();
            fragment[6] = 44;
            fragment[4..6].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
            fragment.extend_from_slice(&[next, 0]);
            fragment.extend_from_slice(&word.to_be_bytes());
            fragment.extend_from_slice(&ident.to_be_bytes());
            fragment.extend_from_slice(piece);
            fragment
        })
        .collect()
}

#[test]
fn fragmented_datagrams_of_both_families_are_reassembled_in_any_order() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind("[::]:53".parse().unwrap(), UdpConfig::default()).unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let mut fragments = fragment_v4(&udp_packet(v4(PEER4, 1), v4(OURS4, 53), &data), 1200);
    fragments.reverse();
    fragments.extend(fragment_v6(&udp_packet(v6(PEER6, 1), v6(OURS6, 53), &data), 1000, 99));
    let count = fragments.len() as u64;
    for fragment in &fragments {
        h.inject(fragment);
    }
    let socket = h.sockets.udp(handle).unwrap();
    let mut buf = vec![0u8; 4000];
    for remote in [v4(PEER4, 1), v6(PEER6, 1)] {
        let got = socket.recv_from(&mut buf).unwrap();
        assert_eq!(got.meta.remote, remote);
        assert_eq!(&buf[..got.len], &data[..]);
    }
    let c = h.iface.counters();
    assert_eq!((c.ip_fragments, c.ip_reassembled, c.ip_fragments_dropped), (count, 2, 0));
}

#[test]
fn overlapping_fragments_are_discarded_and_counted() {
    let mut h = Harness::new();
    let handle = h.sockets.udp_bind(v4(OURS4, 53), UdpConfig::default()).unwrap();
    let fragments = fragment_v4(&udp_packet(v4(PEER4, 1), v4(OURS4, 53), &[1u8; 40]), 16);
    h.inject(&fragments[0]);
    let mut overlapping = fragments[1].clone();
    {
        let mut view = Ipv4Packet::new_unchecked(&mut overlapping[..]);
        view.set_frag_fields(false, true, 8);
        view.fill_checksum();
    }
    h.inject(&overlapping);
    for fragment in &fragments[1..] {
        h.inject(fragment);
    }
    assert_eq!(h.sockets.udp(handle).unwrap().recv_queue(), 0, "the datagram did not survive the overlap");
    assert!(h.iface.counters().ip_fragments_dropped >= 1);
    assert_eq!(h.iface.reassembly_counters().overlaps, 1);
}

#[test]
fn a_ping_larger_than_the_mtu_is_reassembled_but_its_reply_is_not_sent() {
    let mut h = Harness::new();
    let data = vec![0x5a; 2000];
    let echo = braid_wire::icmpv4::Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: &data };
    for fragment in fragment_v4(&icmpv4_packet(PEER4, OURS4, &echo), 1000) {
        h.inject(&fragment);
    }
    assert!(h.sent().is_empty());
    let c = h.iface.counters();
    assert_eq!((c.icmp_echo_requests, c.tx_too_long), (1, 1));
}

proptest! {
    /// Arbitrary bytes never panic the interface, and every packet that is not handed to a
    /// protocol is counted as an IP-level drop.
    #[test]
    fn arbitrary_packets_never_panic(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..40)) {
        let mut h = Harness::new();
        h.sockets.udp_bind("[::]:53".parse().unwrap(), UdpConfig::default()).unwrap();
        h.sockets.tcp_listen("[::]:80".parse().unwrap(), 4, crate::tcp::TcpConfig::default()).unwrap();
        for packet in &packets {
            h.inject(packet);
        }
        prop_assert_eq!(h.iface.counters().rx_packets, packets.len() as u64);
        prop_assert!(counted_drops(&h) <= packets.len() as u64);
    }

    /// Valid headers around arbitrary upper-layer bytes (the checksum usually fails, but the
    /// parsers are exercised past the IP layer) never panic either.
    #[test]
    fn arbitrary_upper_layers_never_panic(
        protocol in prop::sample::select(vec![1u8, 6, 17, 58, 0, 44, 99]),
        v6 in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut h = Harness::new();
        h.sockets.tcp_listen("[::]:80".parse().unwrap(), 4, crate::tcp::TcpConfig::default()).unwrap();
        let packet = if v6 {
            ip_packet(PEER6.into(), OURS6.into(), protocol, &payload)
        } else {
            ip_packet(PEER4.into(), OURS4.into(), protocol, &payload)
        };
        h.inject(&packet);
        prop_assert_eq!(h.iface.counters().rx_packets, 1);
    }
}
