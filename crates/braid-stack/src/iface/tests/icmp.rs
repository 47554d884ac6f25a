//! Echo replies, echo sockets and the ICMP errors the interface sends.

use core::net::IpAddr;
use core::time::Duration;

use braid_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded, Icmpv4Unreachable};
use braid_wire::icmpv6::{Icmpv6Packet, Icmpv6ParamProblem, Icmpv6Repr, Icmpv6Unreachable};
use braid_wire::{icmpv4, icmpv6};

use super::*;
use crate::socket::IcmpConfig;

#[test]
fn answers_an_ipv4_ping_with_the_same_identifier_sequence_and_data() {
    let mut h = Harness::new();
    let request = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 7, data: b"are you there" };
    h.inject(&icmpv4_packet(PEER4, OURS4, &request));
    let reply = parse_ip(&h.sent_one());
    assert_eq!((reply.src, reply.dst, reply.protocol), (IpAddr::V4(OURS4), IpAddr::V4(PEER4), icmpv4::PROTOCOL));
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&reply.payload[..]).unwrap()).unwrap();
    assert_eq!(repr, Icmpv4Repr::EchoReply { ident: 0x1234, seq_no: 7, data: b"are you there" });
    let c = h.iface.counters();
    assert_eq!((c.icmp_echo_requests, c.icmp_echo_replies_sent, c.rx_packets, c.tx_packets), (1, 1, 1, 1));
}

#[test]
fn answers_an_ipv6_ping() {
    let mut h = Harness::new();
    let request = Icmpv6Repr::EchoRequest { ident: 9, seq_no: 65535, data: &[0xab; 1000] };
    h.inject(&icmpv6_packet(PEER6, OURS6, &request));
    let reply = parse_ip(&h.sent_one());
    assert_eq!((reply.src, reply.dst), (IpAddr::V6(OURS6), IpAddr::V6(PEER6)));
    let packet = Icmpv6Packet::new_checked(&reply.payload[..]).unwrap();
    let repr = Icmpv6Repr::parse(&packet, OURS6, PEER6).expect("checksum over the pseudo-header verifies");
    assert_eq!(repr, Icmpv6Repr::EchoReply { ident: 9, seq_no: 65535, data: &[0xab; 1000] });
}

#[test]
fn pings_with_bad_checksums_or_to_other_hosts_go_unanswered_and_are_counted() {
    let mut h = Harness::new();
    let request = Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"x" };
    let mut corrupt = icmpv4_packet(PEER4, OURS4, &request);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    h.inject(&corrupt);
    let mut corrupt6 = icmpv6_packet(PEER6, OURS6, &Icmpv6Repr::EchoRequest { ident: 1, seq_no: 1, data: b"x" });
    let last = corrupt6.len() - 1;
    corrupt6[last] ^= 0x01;
    h.inject(&corrupt6);
    h.inject(&icmpv4_packet(PEER4, "198.19.0.99".parse().unwrap(), &request));
    assert!(h.sent().is_empty());
    let c = h.iface.counters();
    assert_eq!((c.icmp_bad_checksum, c.ip_not_for_us, c.icmp_echo_replies_sent), (2, 1, 0));
}

#[test]
fn echo_replies_can_be_switched_off() {
    let mut h = Harness::with_config(|c| c.echo_reply = false);
    h.inject(&icmpv4_packet(PEER4, OURS4, &Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"" }));
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().icmp_echo_requests, 1);
}

#[test]
fn an_echo_socket_pings_both_families_and_receives_only_its_replies() {
    let mut h = Harness::new();
    let handle = h.sockets.icmp_bind(0x4242, IcmpConfig::default()).unwrap();
    assert!(h.sockets.icmp_bind(0x4242, IcmpConfig::default()).is_err(), "identifier taken");
    let socket = h.sockets.icmp(handle).unwrap();
    socket.send_echo(PEER4.into(), 1, b"four").unwrap();
    socket.send_echo(PEER6.into(), 2, b"six").unwrap();
    h.poll();
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    let request4 = parse_ip(&sent[0]);
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&request4.payload[..]).unwrap()).unwrap();
    assert_eq!(repr, Icmpv4Repr::EchoRequest { ident: 0x4242, seq_no: 1, data: b"four" });
    assert_eq!(request4.src, IpAddr::V4(OURS4));
    let request6 = parse_ip(&sent[1]);
    let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&request6.payload[..]).unwrap(), OURS6, PEER6).unwrap();
    assert_eq!(repr, Icmpv6Repr::EchoRequest { ident: 0x4242, seq_no: 2, data: b"six" });

    h.inject(&icmpv4_packet(PEER4, OURS4, &Icmpv4Repr::EchoReply { ident: 0x4242, seq_no: 1, data: b"four" }));
    h.inject(&icmpv6_packet(PEER6, OURS6, &Icmpv6Repr::EchoReply { ident: 0x4242, seq_no: 2, data: b"six" }));
    h.inject(&icmpv4_packet(PEER4, OURS4, &Icmpv4Repr::EchoReply { ident: 0x9999, seq_no: 1, data: b"?" }));
    let socket = h.sockets.icmp(handle).unwrap();
    let mut buf = [0u8; 16];
    let first = socket.recv_reply(&mut buf).unwrap();
    assert_eq!((first.from, first.seq_no, &buf[..first.len]), (IpAddr::V4(PEER4), 1, &b"four"[..]));
    let second = socket.recv_reply(&mut buf).unwrap();
    assert_eq!((second.from, second.seq_no, &buf[..second.len]), (IpAddr::V6(PEER6), 2, &b"six"[..]));
    assert!(socket.recv_reply(&mut buf).is_none());
    let c = h.iface.counters();
    assert_eq!((c.icmp_echo_replies_received, c.icmp_echo_replies_dropped), (2, 1));
    assert!(h.sockets.icmp_close(handle));
    assert!(h.sockets.icmp(handle).is_none(), "a closed socket's handle is stale");
}

#[test]
fn an_unknown_protocol_gets_protocol_unreachable_or_parameter_problem() {
    let mut h = Harness::new();
    let packet4 = ip_packet(PEER4.into(), OURS4.into(), 253, b"experimental payload");
    h.inject(&packet4);
    let error = parse_ip(&h.sent_one());
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&error.payload[..]).unwrap()).unwrap();
    let Icmpv4Repr::DstUnreachable { reason, quote } = repr else { panic!("{repr:?}") };
    assert_eq!(reason, Icmpv4Unreachable::ProtocolUnreachable);
    assert_eq!(quote.as_bytes(), &packet4[..], "the whole short datagram is quoted");

    let packet6 = ip_packet(PEER6.into(), OURS6.into(), 253, b"experimental payload");
    h.inject(&packet6);
    let error = parse_ip(&h.sent_one());
    let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&error.payload[..]).unwrap(), OURS6, PEER6).unwrap();
    let Icmpv6Repr::ParamProblem { reason, pointer, quote } = repr else { panic!("{repr:?}") };
    assert_eq!((reason, pointer), (Icmpv6ParamProblem::UnrecognizedNextHeader, 6));
    assert_eq!(quote.as_bytes(), &packet6[..]);
    assert_eq!(h.iface.counters().ip_unknown_protocol, 2);
    assert_eq!(h.iface.counters().icmp_errors_sent, 2);
}

#[test]
fn icmp_errors_are_never_sent_about_icmp_errors() {
    let mut h = Harness::new();
    // An ICMP error from the peer whose quote names a closed UDP port: counted, not answered.
    let inner = udp_packet(v4(OURS4, 5000), v4(PEER4, 53), b"query");
    let quote = braid_wire::icmpv4::Ipv4Quote::parse(&inner).unwrap();
    let error = Icmpv4Repr::DstUnreachable { reason: Icmpv4Unreachable::PortUnreachable, quote };
    h.inject(&icmpv4_packet(PEER4, OURS4, &error));
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().icmp_errors_received, 1);
    // An unsupported ICMPv6 type (router solicitation) is counted, not answered.
    let mut rs = ip_packet(PEER6.into(), OURS6.into(), icmpv6::PROTOCOL, &[133, 0, 0, 0, 0, 0, 0, 0]);
    let mut packet = Icmpv6Packet::new_unchecked(&mut rs[40..]);
    packet.fill_checksum(PEER6, OURS6);
    h.inject(&rs);
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().icmp_unsupported, 1);
}

#[test]
fn the_error_rate_limit_caps_a_flood_at_the_burst_then_the_rate() {
    let mut h = Harness::with_config(|c| {
        c.icmp_error_rate = 10;
        c.icmp_error_burst = 5;
    });
    for port in 0..100u16 {
        h.inject(&udp_packet(v4(PEER4, 1000 + port), v4(OURS4, 9), b"scan"));
    }
    assert_eq!(h.sent().len(), 5);
    h.now += Duration::from_millis(500);
    for port in 0..100u16 {
        h.inject(&udp_packet(v4(PEER4, 1000 + port), v4(OURS4, 9), b"scan"));
    }
    assert_eq!(h.sent().len(), 5, "half a second at 10/s refills 5 tokens");
    let c = h.iface.counters();
    assert_eq!((c.udp_no_socket, c.icmp_errors_sent, c.icmp_errors_rate_limited), (200, 10, 190));
}

#[test]
fn an_incomplete_datagram_times_out_with_time_exceeded_quoting_its_first_fragment() {
    let mut h = Harness::new();
    let whole = udp_packet(v4(PEER4, 7), v4(OURS4, 9), &[5u8; 64]);
    let mut first = whole[..20 + 16].to_vec();
    {
        let mut view = Ipv4Packet::new_unchecked(&mut first[..]);
        view.set_total_len(36);
        view.set_frag_fields(false, true, 0);
        view.fill_checksum();
    }
    h.inject(&first);
    assert!(h.sent().is_empty());
    assert!(h.iface.poll_at(&h.sockets).is_some_and(|at| at <= h.now + Duration::from_secs(30)));
    h.now += Duration::from_secs(31);
    h.poll();
    let error = parse_ip(&h.sent_one());
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&error.payload[..]).unwrap()).unwrap();
    let Icmpv4Repr::TimeExceeded { reason, quote } = repr else { panic!("{repr:?}") };
    assert_eq!(reason, Icmpv4TimeExceeded::ReassemblyTimeExceeded);
    assert_eq!(&quote.as_bytes()[20..28], &first[20..28], "the first 8 bytes of the fragment are quoted");
    assert_eq!(h.iface.reassembly_counters().timed_out, 1);
    assert_eq!(h.iface.poll_at(&h.sockets), None, "nothing is pending any more");
}

#[test]
fn udp_to_a_closed_ipv6_port_gets_port_unreachable() {
    let mut h = Harness::new();
    let packet = udp_packet(v6(PEER6, 4000), v6(OURS6, 4001), b"anyone?");
    h.inject(&packet);
    let error = parse_ip(&h.sent_one());
    assert_eq!((error.src, error.dst), (IpAddr::V6(OURS6), IpAddr::V6(PEER6)));
    let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&error.payload[..]).unwrap(), OURS6, PEER6).unwrap();
    let Icmpv6Repr::DstUnreachable { reason, quote } = repr else { panic!("{repr:?}") };
    assert_eq!(reason, Icmpv6Unreachable::PortUnreachable);
    assert_eq!(quote.ports(), (4000, 4001));
    assert_eq!(quote.as_bytes(), &packet[..]);
}
