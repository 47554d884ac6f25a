//! ICMP errors about the stack's own TCP segments: path-MTU discovery (the MSS drops and the
//! flight is resent at once in smaller segments), soft errors, the SYN-SENT rules, and every way a
//! quote can be forged, stale or broken (counted, never a panic).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use braid_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded, Icmpv4Unreachable, Ipv4Quote};
use braid_wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, Icmpv6Unreachable, Ipv6Quote};
use braid_wire::tcp::{TcpFlags, TcpOptions};
use proptest::prelude::*;

use super::*;
use crate::link::IpLink;
use crate::socket::{TcpStream, TcpStreamHandle};
use crate::tcp::{ConnectionError, SoftError, State, TcpConfig};

const ROUTER4: Ipv4Addr = Ipv4Addr::new(198, 19, 7, 1);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x19, 7, 0, 0, 0, 0, 1);

/// Shared access to a stream in tests (the public accessor hands out `&mut`).
trait StreamRef {
    fn tcp_stream_ref(&self, handle: TcpStreamHandle) -> &TcpStream;
}

impl StreamRef for SocketSet {
    fn tcp_stream_ref(&self, handle: TcpStreamHandle) -> &TcpStream {
        self.tcp.streams.get(handle.0).expect("live stream")
    }
}

fn ack_flag() -> TcpFlags {
    TcpFlags { ack: true, ..TcpFlags::default() }
}

/// A connection accepted from `peer` on `ours`, the peer offering `peer_mss` and nothing else
/// (no timestamps, so the whole MSS is payload). Returns the handle and our next sequence number.
fn established(h: &mut Harness, peer: SocketAddr, ours: SocketAddr, peer_mss: u16) -> (TcpStreamHandle, u32) {
    let listener = h.sockets.tcp_listen(ours, 4, TcpConfig::default()).unwrap();
    let mut syn_repr = tcp_repr(peer.port(), ours.port(), 7000, None, syn());
    syn_repr.options = TcpOptions { mss: Some(peer_mss), ..TcpOptions::default() };
    h.inject(&tcp_packet(peer, ours, &syn_repr));
    let (_, syn_ack) = parse_tcp(&h.sent_one());
    let our_next = syn_ack.seq.wrapping_add(1);
    h.inject(&tcp_packet(peer, ours, &tcp_repr(peer.port(), ours.port(), 7001, Some(our_next), ack_flag())));
    let stream = h.sockets.tcp_accept(listener).expect("established");
    (stream, our_next)
}

/// Queues `data` on `stream`, polls, and returns the IP packets sent.
fn send_data(h: &mut Harness, stream: TcpStreamHandle, data: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(h.sockets.tcp_stream(stream).unwrap().send(data).unwrap(), data.len());
    h.poll();
    h.sent()
}

/// An ICMPv4 error from a router about `packet` (quoted as routers do: at most 548 bytes).
fn frag_needed(packet: &[u8], next_hop_mtu: u16) -> Vec<u8> {
    let quote = Ipv4Quote::parse(&packet[..packet.len().min(548)]).unwrap();
    icmpv4_packet(ROUTER4, OURS4, &Icmpv4Repr::FragNeeded { next_hop_mtu, quote })
}

fn unreachable_v4(packet: &[u8], reason: Icmpv4Unreachable) -> Vec<u8> {
    let quote = Ipv4Quote::parse(&packet[..packet.len().min(548)]).unwrap();
    icmpv4_packet(ROUTER4, OURS4, &Icmpv4Repr::DstUnreachable { reason, quote })
}

fn packet_too_big(packet: &[u8], mtu: u32) -> Vec<u8> {
    let quote = Ipv6Quote::parse(&packet[..packet.len().min(1232)]).unwrap();
    icmpv6_packet(ROUTER6, OURS6, &Icmpv6Repr::PacketTooBig { mtu, quote })
}

/// `packet` with the TCP sequence number replaced (the IP header is 20 or 40 bytes).
fn with_seq(packet: &[u8], seq: u32) -> Vec<u8> {
    let mut packet = packet.to_vec();
    let at = if packet[0] >> 4 == 4 { 24 } else { 44 };
    packet[at..at + 4].copy_from_slice(&seq.to_be_bytes());
    packet
}

/// The payload of every TCP segment in `packets`, checked to be contiguous from `start`, and the
/// largest IP packet.
fn reassemble(packets: &[Vec<u8>], start: u32) -> (Vec<u8>, usize) {
    let mut bytes = Vec::new();
    for packet in packets {
        let (_, seg) = parse_tcp(packet);
        assert_eq!(seg.seq, start.wrapping_add(bytes.len() as u32), "segments are contiguous");
        bytes.extend_from_slice(seg.payload);
    }
    (bytes, packets.iter().map(Vec::len).max().unwrap_or(0))
}

#[test]
fn fragmentation_needed_lowers_the_mss_and_resends_the_flight_at_once_in_smaller_segments() {
    let mut h = Harness::new();
    let (peer, ours) = (v4(PEER4, 40000), v4(OURS4, 80));
    let (stream, start) = established(&mut h, peer, ours, 1460);
    let data: Vec<u8> = (0..3 * 1460u32).map(|i| (i * 7) as u8).collect();
    let first_flight = send_data(&mut h, stream, &data);
    assert_eq!(first_flight.len(), 3, "three full segments");
    assert!(first_flight.iter().all(|p| p[6] & 0x40 != 0), "TCP segments carry DF for path-MTU discovery");
    let conn = h.sockets.tcp_stream(stream).unwrap().connection();
    let cwnd_before = conn.congestion_window();

    // A router with a 1000-byte next hop drops the first segment and says so.
    h.inject(&frag_needed(&first_flight[0], 1000));
    let resent = h.sent();
    let (bytes, largest) = reassemble(&resent, start);
    assert_eq!(bytes, data, "the whole flight is resent from SND.UNA, without waiting for the RTO");
    assert!(largest <= 1000, "every segment fits the path: {largest}");
    assert_eq!(resent.len(), 5, "4 × 960 + 540");

    let conn = h.sockets.tcp_stream(stream).unwrap().connection();
    assert_eq!((conn.negotiated().mss, conn.smss()), (960, 960));
    assert_eq!(conn.congestion_window(), cwnd_before, "not a congestion signal");
    assert_eq!(conn.stats().timeouts, 0);
    assert_eq!(conn.state(), State::Established);
    let c = h.iface.counters();
    assert_eq!((c.icmp_errors_received, c.icmp_errors_delivered), (1, 1));

    // The peer acknowledges everything; new data goes out at the new size.
    let ack = tcp_repr(40000, 80, 7001, Some(start.wrapping_add(data.len() as u32)), ack_flag());
    h.inject(&tcp_packet(peer, ours, &ack));
    let more = send_data(&mut h, stream, &[1u8; 2000]);
    assert!(more.iter().all(|p| p.len() <= 1000) && !more.is_empty());
}

#[test]
fn the_mss_is_never_raised_and_never_falls_below_the_ipv4_floor() {
    let mut h = Harness::new();
    let (stream, _) = established(&mut h, v4(PEER4, 40001), v4(OURS4, 80), 1460);
    let flight = send_data(&mut h, stream, &[9u8; 1000]);
    let mss = |h: &Harness| h.sockets.tcp_stream_ref(stream).connection().negotiated().mss;

    h.inject(&frag_needed(&flight[0], 1400));
    assert_eq!(mss(&h), 1360);
    assert_eq!(h.sent().len(), 1, "the 1040-byte segment fit 1400 too, but the flight is resent once");
    h.inject(&frag_needed(&flight[0], 1500));
    assert_eq!(mss(&h), 1360, "a larger MTU changes nothing");
    assert!(h.sent().is_empty(), "and resends nothing");
    // An old router reports 0: the plateau below the 1040-byte datagram is 1006.
    h.inject(&frag_needed(&flight[0], 0));
    assert_eq!(mss(&h), 966);
    h.inject(&frag_needed(&flight[0], 68));
    assert_eq!(mss(&h), 536, "576-byte IPv4 floor");
    assert_eq!(h.iface.counters().icmp_errors_delivered, 4);
}

#[test]
fn ipv6_packet_too_big_lowers_the_mss_to_no_less_than_the_1280_byte_minimum() {
    let mut h = Harness::new();
    let (peer, ours) = (v6(PEER6, 40000), v6(OURS6, 80));
    let (stream, start) = established(&mut h, peer, ours, 1440);
    let data = vec![0x5a; 3 * 1440];
    let flight = send_data(&mut h, stream, &data);
    assert_eq!(flight.len(), 3);

    h.inject(&packet_too_big(&flight[1], 1400));
    let (bytes, largest) = reassemble(&h.sent(), start);
    assert_eq!((bytes, largest), (data.clone(), 1400));
    assert_eq!(h.sockets.tcp_stream_ref(stream).connection().negotiated().mss, 1340);

    h.inject(&packet_too_big(&flight[1], 600));
    let (bytes, largest) = reassemble(&h.sent(), start);
    assert_eq!((bytes, largest), (data, 1280));
    assert_eq!(h.sockets.tcp_stream_ref(stream).connection().negotiated().mss, 1220);
    assert_eq!(h.iface.counters().icmp_errors_delivered, 2);
}

#[test]
fn a_quote_outside_snd_una_to_snd_max_is_ignored_and_counted() {
    let mut h = Harness::new();
    let (peer, ours) = (v4(PEER4, 40002), v4(OURS4, 80));
    let (stream, start) = established(&mut h, peer, ours, 1460);
    let flight = send_data(&mut h, stream, &[1u8; 2 * 1460]);
    let snd_max = start.wrapping_add(2 * 1460);
    // Below SND.UNA (already acknowledged: the SYN), and beyond SND.MAX (never sent).
    for seq in [start.wrapping_sub(1), snd_max.wrapping_add(1), start.wrapping_add(1 << 31)] {
        h.inject(&frag_needed(&with_seq(&flight[0], seq), 600));
        h.inject(&unreachable_v4(&with_seq(&flight[0], seq), Icmpv4Unreachable::HostUnreachable));
    }
    assert!(h.sent().is_empty());
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.connection().negotiated().mss, s.soft_error()), (1460, None));
    let c = h.iface.counters();
    assert_eq!((c.icmp_errors_out_of_window, c.icmp_errors_delivered), (6, 0));

    // Both ends of the window are accepted: SND.MAX is what a pure ACK carries.
    h.inject(&unreachable_v4(&with_seq(&flight[0], snd_max), Icmpv4Unreachable::HostUnreachable));
    h.inject(&frag_needed(&with_seq(&flight[0], start), 1400));
    assert_eq!(h.iface.counters().icmp_errors_delivered, 2);
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.connection().negotiated().mss, s.soft_error()), (1360, Some(SoftError::HostUnreachable)));
}

/// An ICMPv4 error of `msg_type`/`code` whose data is `quote` as is, with a valid checksum.
fn raw_icmpv4(msg_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
    let mut message = vec![msg_type, code, 0, 0];
    message.extend_from_slice(&rest);
    message.extend_from_slice(quote);
    Icmpv4Packet::new_unchecked(&mut message[..]).fill_checksum();
    ip_packet(ROUTER4.into(), OURS4.into(), braid_wire::icmpv4::PROTOCOL, &message)
}

fn raw_icmpv6(msg_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
    let mut message = vec![msg_type, code, 0, 0];
    message.extend_from_slice(&rest);
    message.extend_from_slice(quote);
    Icmpv6Packet::new_unchecked(&mut message[..]).fill_checksum(ROUTER6, OURS6);
    ip_packet(ROUTER6.into(), OURS6.into(), braid_wire::icmpv6::PROTOCOL, &message)
}

#[test]
fn truncated_foreign_and_non_tcp_quotes_are_counted_without_effect() {
    let mut h = Harness::new();
    let (peer, ours) = (v4(PEER4, 40003), v4(OURS4, 80));
    let (stream, _) = established(&mut h, peer, ours, 1460);
    let flight = send_data(&mut h, stream, &[1u8; 100]);
    let (peer6, ours6) = (v6(PEER6, 40003), v6(OURS6, 80));
    let (stream6, _) = established(&mut h, peer6, ours6, 1440);
    let flight6 = send_data(&mut h, stream6, &[1u8; 100]);

    // Shorter than an IP header plus the 8 bytes holding ports and sequence number.
    for len in [0, 1, 19, 20, 27] {
        h.inject(&raw_icmpv4(3, 4, [0, 0, 0x02, 0x40], &flight[0][..len]));
        h.inject(&raw_icmpv6(2, 0, 1280u32.to_be_bytes(), &flight6[0][..len.min(47)]));
    }
    assert_eq!(h.iface.counters().icmp_errors_bad_quote, 10);
    // A later fragment: its payload is not a TCP header.
    let mut fragment = flight[0].clone();
    fragment[6..8].copy_from_slice(&[0x00, 0x10]);
    h.inject(&frag_needed(&fragment, 600));
    // A packet we did not send: the quoted source is the peer (ours received it).
    let inbound = tcp_packet(peer, ours, &tcp_repr(40003, 80, 7001, None, ack_flag()));
    h.inject(&frag_needed(&inbound, 600));
    assert_eq!(h.iface.counters().icmp_errors_bad_quote, 12);
    // About UDP: nobody to tell.
    h.inject(&unreachable_v4(&udp_packet(v4(OURS4, 5353), v4(PEER4, 53), b"q"), Icmpv4Unreachable::PortUnreachable));
    // About a TCP connection that does not exist (another port).
    let mut other_port = flight[0].clone();
    other_port[20..22].copy_from_slice(&81u16.to_be_bytes());
    h.inject(&frag_needed(&other_port, 600));
    let time_exceeded = Icmpv4Repr::TimeExceeded {
        reason: Icmpv4TimeExceeded::TtlExceeded,
        quote: Ipv4Quote::parse(&other_port[..48]).unwrap(),
    };
    h.inject(&icmpv4_packet(ROUTER4, OURS4, &time_exceeded));

    assert!(h.sent().is_empty());
    let c = h.iface.counters();
    assert_eq!((c.icmp_errors_unclaimed, c.icmp_errors_no_connection, c.icmp_errors_delivered), (1, 2, 0));
    assert_eq!(c.icmp_errors_received, 15);
    let conns = [h.sockets.tcp_stream_ref(stream), h.sockets.tcp_stream_ref(stream6)];
    assert!(conns.iter().all(|s| s.soft_error().is_none() && s.state() == State::Established));
    assert_eq!(conns.map(|s| s.connection().negotiated().mss), [1460, 1440]);
}

#[test]
fn unreachable_and_time_exceeded_are_soft_errors_for_an_established_connection() {
    let mut h = Harness::new();
    let (peer, ours) = (v4(PEER4, 40004), v4(OURS4, 80));
    let (stream, start) = established(&mut h, peer, ours, 1460);
    let flight = send_data(&mut h, stream, &[1u8; 100]);
    // Even RFC 1122's hard errors only inform a synchronized connection (RFC 5927 §5.2).
    h.inject(&unreachable_v4(&flight[0], Icmpv4Unreachable::PortUnreachable));
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.state(), s.error(), s.soft_error()), (State::Established, None, Some(SoftError::PortUnreachable)));
    let quote = Ipv4Quote::parse(&flight[0]).unwrap();
    let ttl = Icmpv4Repr::TimeExceeded { reason: Icmpv4TimeExceeded::TtlExceeded, quote };
    h.inject(&icmpv4_packet(ROUTER4, OURS4, &ttl));
    assert_eq!(h.sockets.tcp_stream_ref(stream).soft_error(), Some(SoftError::TimeExceeded), "the latest wins");
    assert!(h.sent().is_empty(), "nothing is resent for a soft error");

    // Progress proves the path works: the soft error is forgotten.
    h.inject(&tcp_packet(peer, ours, &tcp_repr(40004, 80, 7001, Some(start.wrapping_add(100)), ack_flag())));
    assert_eq!(h.sockets.tcp_stream_ref(stream).soft_error(), None);
    assert_eq!(h.iface.counters().icmp_errors_delivered, 2);
}

#[test]
fn a_connection_that_times_out_after_a_soft_error_reports_the_error() {
    let mut h = Harness::new();
    let listener_config = TcpConfig { max_retransmissions: 2, ..TcpConfig::default() };
    let ours = v6(OURS6, 80);
    let listener = h.sockets.tcp_listen(ours, 4, listener_config).unwrap();
    let peer = v6(PEER6, 40005);
    h.inject(&tcp_packet(peer, ours, &tcp_repr(40005, 80, 7000, None, syn())));
    let (_, syn_ack) = parse_tcp(&h.sent_one());
    h.inject(&tcp_packet(peer, ours, &tcp_repr(40005, 80, 7001, Some(syn_ack.seq.wrapping_add(1)), ack_flag())));
    let stream = h.sockets.tcp_accept(listener).unwrap();
    let flight = send_data(&mut h, stream, b"hello");
    let quote = Ipv6Quote::parse(&flight[0]).unwrap();
    let error = Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::AddrUnreachable, quote };
    h.inject(&icmpv6_packet(ROUTER6, OURS6, &error));
    assert_eq!(h.sockets.tcp_stream_ref(stream).soft_error(), Some(SoftError::HostUnreachable));

    for _ in 0..10 {
        let Some(at) = h.iface.poll_at(&h.sockets) else { break };
        h.now = at.max(h.now);
        h.poll();
    }
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.error(), Some(ConnectionError::Unreachable(SoftError::HostUnreachable)), "not just TimedOut");
}

/// An active open from the stack to the peer; returns the handle and the SYN as sent.
fn connecting(h: &mut Harness, remote: SocketAddr) -> (TcpStreamHandle, Vec<u8>) {
    let stream = h.iface.tcp_connect(&mut h.sockets, h.now, remote, TcpConfig::default()).unwrap();
    h.poll();
    let syn_packet = h.sent_one();
    assert!(parse_tcp(&syn_packet).1.flags.syn);
    (stream, syn_packet)
}

#[test]
fn in_syn_sent_a_hard_error_aborts_at_once() {
    let mut h = Harness::new();
    let (stream, syn_packet) = connecting(&mut h, v4(PEER4, 80));
    h.inject(&unreachable_v4(&syn_packet, Icmpv4Unreachable::PortUnreachable));
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.state(), s.error()), (State::Closed, Some(ConnectionError::Unreachable(SoftError::PortUnreachable))));
    assert!(h.sent().is_empty(), "no RST: the peer never answered");
    assert_eq!(h.iface.poll_at(&h.sockets), None, "no SYN retransmission pending");

    let (stream6, syn6) = connecting(&mut h, v6(PEER6, 80));
    let quote = Ipv6Quote::parse(&syn6).unwrap();
    let prohibited = Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::AdminProhibited, quote };
    h.inject(&icmpv6_packet(ROUTER6, OURS6, &prohibited));
    assert_eq!(h.sockets.tcp_stream_ref(stream6).error(), Some(ConnectionError::Unreachable(SoftError::Prohibited)));
}

#[test]
fn in_syn_sent_a_soft_error_ends_the_attempt_when_the_syn_timer_fires() {
    let mut h = Harness::new();
    let (stream, syn_packet) = connecting(&mut h, v4(PEER4, 80));
    let syn_seq = parse_tcp(&syn_packet).1.seq;
    // A forged error (wrong sequence number) is ignored.
    h.inject(&unreachable_v4(&with_seq(&syn_packet, syn_seq.wrapping_add(2)), Icmpv4Unreachable::NetUnreachable));
    assert_eq!(h.sockets.tcp_stream_ref(stream).soft_error(), None);
    assert_eq!(h.iface.counters().icmp_errors_out_of_window, 1);

    h.inject(&unreachable_v4(&syn_packet, Icmpv4Unreachable::HostUnreachable));
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.state(), s.soft_error()), (State::SynSent, Some(SoftError::HostUnreachable)));
    let rto = h.iface.poll_at(&h.sockets).expect("the SYN timer runs");
    h.now = Instant::from_nanos(rto.as_nanos() - 1_000_000);
    h.poll();
    assert_eq!(h.sockets.tcp_stream_ref(stream).state(), State::SynSent, "not before the timer");
    h.now = rto;
    h.poll();
    assert!(h.sent().is_empty(), "no further SYN");
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.state(), s.error()), (State::Closed, Some(ConnectionError::Unreachable(SoftError::HostUnreachable))));
}

#[test]
fn in_syn_sent_a_syn_ack_before_the_timer_wins_over_a_soft_error() {
    let mut h = Harness::new();
    let (stream, syn_packet) = connecting(&mut h, v4(PEER4, 80));
    let (_, our_syn) = parse_tcp(&syn_packet);
    h.inject(&unreachable_v4(&syn_packet, Icmpv4Unreachable::NetUnreachable));
    let port = our_syn.src_port;
    let syn_ack = tcp_repr(80, port, 9000, Some(our_syn.seq.wrapping_add(1)), syn());
    h.inject(&tcp_packet(v4(PEER4, 80), v4(OURS4, port), &syn_ack));
    let s = h.sockets.tcp_stream_ref(stream);
    assert_eq!((s.state(), s.soft_error()), (State::Established, None));
    h.now += Duration::from_secs(5);
    h.poll();
    assert_eq!(h.sockets.tcp_stream_ref(stream).error(), None);
}

#[test]
fn a_hard_error_about_a_syn_ack_drops_the_half_open_connection() {
    let mut h = Harness::new();
    let ours = v4(OURS4, 80);
    let listener = h.sockets.tcp_listen(ours, 4, TcpConfig::default()).unwrap();
    h.inject(&tcp_packet(v4(PEER4, 40006), ours, &tcp_repr(40006, 80, 7000, None, syn())));
    let syn_ack = h.sent_one();
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().queued(), 1);
    h.inject(&unreachable_v4(&syn_ack, Icmpv4Unreachable::HostUnreachable));
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().queued(), 1, "a soft error keeps it");
    h.inject(&unreachable_v4(&syn_ack, Icmpv4Unreachable::ProtocolUnreachable));
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().queued(), 0, "a hard error frees the slot");
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().icmp_errors_delivered, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a quote holds (a real segment's prefix with arbitrary bytes spliced in, cut
    /// anywhere), the interface neither panics nor loses count, and the connection never gets a
    /// larger MSS.
    #[test]
    fn garbage_quotes_never_panic_and_always_land_in_one_counter(
        cases in proptest::collection::vec(
            (0u8..4, 0usize..80, proptest::collection::vec(any::<u8>(), 0..16), 0usize..80, any::<u16>()),
            1..12,
        ),
    ) {
        let mut h = Harness::new();
        let (stream, _) = established(&mut h, v4(PEER4, 40007), v4(OURS4, 80), 1460);
        let flight = send_data(&mut h, stream, &[3u8; 1400]);
        let (stream6, _) = established(&mut h, v6(PEER6, 40007), v6(OURS6, 80), 1440);
        let flight6 = send_data(&mut h, stream6, &[3u8; 1400]);
        for (kind, at, splice, cut, mtu) in cases {
            let mut quote = if kind < 2 { flight[0].clone() } else { flight6[0].clone() };
            let at = at.min(quote.len());
            let end = (at + splice.len()).min(quote.len());
            quote[at..end].copy_from_slice(&splice[..end - at]);
            quote.truncate(cut.max(at));
            let rest = [0, 0, (mtu >> 8) as u8, mtu as u8];
            let packet = match kind {
                0 => raw_icmpv4(3, 4, rest, &quote),
                1 => raw_icmpv4(3, (mtu % 16) as u8, rest, &quote),
                2 => raw_icmpv6(2, 0, rest, &quote),
                _ => raw_icmpv6(1, (mtu % 8) as u8, rest, &quote),
            };
            h.inject(&packet);
        }
        let c = *h.iface.counters();
        let fates = c.icmp_errors_delivered + c.icmp_errors_no_connection + c.icmp_errors_out_of_window
            + c.icmp_errors_bad_quote + c.icmp_errors_unclaimed;
        prop_assert_eq!(c.icmp_errors_received, fates);
        prop_assert!(h.sockets.tcp_stream_ref(stream).connection().negotiated().mss <= 1460);
        prop_assert!(h.sockets.tcp_stream_ref(stream).connection().negotiated().mss >= 536);
        prop_assert!(h.sockets.tcp_stream_ref(stream6).connection().negotiated().mss >= 1220);
    }
}

/// Two stacks over a path whose middle link carries at most `bottleneck` bytes per packet; the
/// "router" answers oversized packets from the client with fragmentation needed / packet too big.
/// The client sends `len` bytes; returns what the server received and the client's final MSS and
/// RTO count.
fn transfer_over_narrow_path(
    client_addr: IpAddr,
    server_addr: IpAddr,
    bottleneck: usize,
    len: usize,
) -> (Vec<u8>, u32, u64, u64) {
    let router: IpAddr = if client_addr.is_ipv4() { ROUTER4.into() } else { ROUTER6.into() };
    let (mut client_dev, mut client_wire) = loopback_pair(1500, 1024);
    let (mut server_dev, mut server_wire) = loopback_pair(1500, 1024);
    let mut client = Interface::new(InterfaceConfig::new([client_addr]), &client_dev);
    let mut server = Interface::new(InterfaceConfig::new([server_addr]), &server_dev);
    let (mut client_sockets, mut server_sockets) = (SocketSet::new([4; 32]), SocketSet::new([5; 32]));
    let server_at = SocketAddr::new(server_addr, 443);
    let listener = server_sockets.tcp_listen(server_at, 4, TcpConfig::default()).unwrap();
    let mut now = Instant::from_secs(1);
    let handle = client.tcp_connect(&mut client_sockets, now, server_at, TcpConfig::default()).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let (mut written, mut received, mut accepted) = (0, Vec::new(), None);
    let mut buf = vec![0u8; 65535];
    for _ in 0..200_000 {
        client.poll(now, &mut client_dev, &mut client_sockets);
        server.poll(now, &mut server_dev, &mut server_sockets);
        let mut routed = false;
        while let Some(n) = client_wire.receive(now, &mut buf) {
            routed = true;
            let packet = &buf[..n];
            if n <= bottleneck {
                server_wire.transmit(now, packet).unwrap();
                continue;
            }
            let error = match (router, client_addr) {
                (IpAddr::V4(router), IpAddr::V4(client)) => {
                    assert!(packet[6] & 0x40 != 0, "DF set");
                    let quote = Ipv4Quote::parse(&packet[..548]).unwrap();
                    icmpv4_packet(router, client, &Icmpv4Repr::FragNeeded { next_hop_mtu: bottleneck as u16, quote })
                }
                (IpAddr::V6(router), IpAddr::V6(client)) => {
                    let quote = Ipv6Quote::parse(&packet[..1232]).unwrap();
                    icmpv6_packet(router, client, &Icmpv6Repr::PacketTooBig { mtu: bottleneck as u32, quote })
                }
                _ => unreachable!(),
            };
            client_wire.transmit(now, &error).unwrap();
        }
        while let Some(n) = server_wire.receive(now, &mut buf) {
            routed = true;
            client_wire.transmit(now, &buf[..n]).unwrap();
        }
        let stream = client_sockets.tcp_stream(handle).unwrap();
        if written < data.len() && stream.is_established() {
            written += stream.send(&data[written..]).unwrap();
        }
        accepted = accepted.or_else(|| server_sockets.tcp_accept(listener));
        if let Some(server_stream) = accepted {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = server_sockets.tcp_stream(server_stream).unwrap().recv(&mut chunk) {
                received.extend_from_slice(&chunk[..n]);
            }
        }
        if received.len() == len {
            break;
        }
        // Packets in flight arrive 10 µs later; otherwise sleep until the next timer.
        let next = [client.poll_at(&client_sockets), server.poll_at(&server_sockets)].into_iter().flatten().min();
        let step = now + Duration::from_micros(10);
        now = if routed { step } else { next.map_or(now + Duration::from_millis(1), |at| at.max(step)) };
    }
    let conn = client_sockets.tcp_stream_ref(handle).connection();
    (received, conn.negotiated().mss, conn.stats().timeouts, client.counters().icmp_errors_delivered)
}

#[test]
fn two_stacks_discover_a_narrow_ipv4_path_and_the_byte_stream_arrives_intact() {
    let len = 300_000;
    let (received, mss, timeouts, delivered) =
        transfer_over_narrow_path(IpAddr::V4(OURS4), IpAddr::V4(PEER4), 1000, len);
    assert_eq!(received.len(), len);
    assert!(received.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8), "stream intact");
    assert_eq!(mss, 960);
    assert_eq!(timeouts, 0, "the flight was resent at once, not after an RTO");
    assert!(delivered >= 1);
}

#[test]
fn two_stacks_discover_a_narrow_ipv6_path_and_the_byte_stream_arrives_intact() {
    let len = 300_000;
    let (received, mss, timeouts, delivered) =
        transfer_over_narrow_path(IpAddr::V6(OURS6), IpAddr::V6(PEER6), 1280, len);
    assert_eq!(received.len(), len);
    assert!(received.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8), "stream intact");
    assert_eq!(mss, 1220);
    assert_eq!(timeouts, 0);
    assert!(delivered >= 1);
}

/// Whether an IPv4 packet carries DF.
fn dont_fragment(packet: &[u8]) -> bool {
    packet[6] & 0x40 != 0
}

#[test]
fn an_ipv4_path_below_576_bytes_lets_segments_be_fragmented_and_a_wider_one_does_not() {
    let mut h = Harness::new();
    let (stream, _) = established(&mut h, v4(PEER4, 40002), v4(OURS4, 80), 1460);
    let flight = send_data(&mut h, stream, &[5u8; 1200]);
    assert!(flight.iter().all(|p| dont_fragment(p)), "TCP segments carry DF for path-MTU discovery");
    // A path of 1000 bytes: smaller segments, still with DF.
    h.inject(&frag_needed(&flight[0], 1000));
    let resent = h.sent();
    assert!(!resent.is_empty() && resent.iter().all(|p| dont_fragment(p) && p.len() <= 1000));
    // A path of 300 bytes: the MSS stops at the floor (576-byte packets), which such a path only
    // carries in fragments, so DF goes (else the connection would stall).
    h.inject(&frag_needed(&resent[0], 300));
    let resent = h.sent();
    assert!(!resent.is_empty());
    assert!(resent.iter().all(|p| !dont_fragment(p) && p.len() <= 576), "no DF once the path is below the floor");
    assert!(h.sockets.tcp_stream_ref(stream).connection().may_fragment());
    // A forged report (sequence number outside the flight) changes nothing.
    let mut h2 = Harness::new();
    let (stream2, _) = established(&mut h2, v4(PEER4, 40003), v4(OURS4, 80), 1460);
    let flight2 = send_data(&mut h2, stream2, &[5u8; 100]);
    h2.inject(&frag_needed(&with_seq(&flight2[0], 12345), 300));
    assert!(!h2.sockets.tcp_stream_ref(stream2).connection().may_fragment());
    let more = send_data(&mut h2, stream2, &[6u8; 100]);
    assert!(more.iter().all(|p| dont_fragment(p)));
}
