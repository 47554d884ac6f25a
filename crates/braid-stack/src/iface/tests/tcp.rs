//! TCP through the interface: closed ports, listeners and their backlog, connect, and the socket
//! handles' life cycle. The connection state machine itself is tested in `crate::tcp`.

use core::net::{IpAddr, SocketAddr};

use braid_wire::tcp::TcpFlags;

use super::*;
use crate::tcp::{State, TcpConfig};

fn ack_flag() -> TcpFlags {
    TcpFlags { ack: true, ..TcpFlags::default() }
}

#[test]
fn a_syn_to_a_closed_port_is_refused_with_rst_ack_in_both_families() {
    let mut h = Harness::new();
    for (peer, ours) in [(v4(PEER4, 40000), v4(OURS4, 81)), (v6(PEER6, 40000), v6(OURS6, 81))] {
        h.inject(&tcp_packet(peer, ours, &tcp_repr(40000, 81, 1000, None, syn())));
        let (ip, rst) = parse_tcp(&h.sent_one());
        assert_eq!((ip.src, ip.dst), (ours.ip(), peer.ip()));
        assert!(rst.flags.rst && rst.flags.ack && !rst.flags.syn);
        assert_eq!((rst.src_port, rst.dst_port, rst.seq, rst.ack), (81, 40000, 0, 1001));
    }
    // A stray ACK gets a RST from its acknowledgment number; a RST gets nothing.
    h.inject(&tcp_packet(v4(PEER4, 40000), v4(OURS4, 81), &tcp_repr(40000, 81, 5, Some(777), ack_flag())));
    let (_, rst) = parse_tcp(&h.sent_one());
    assert!(rst.flags.rst && !rst.flags.ack);
    assert_eq!(rst.seq, 777);
    let rst_flags = TcpFlags { rst: true, ..TcpFlags::default() };
    h.inject(&tcp_packet(v4(PEER4, 40000), v4(OURS4, 81), &tcp_repr(40000, 81, 5, None, rst_flags)));
    assert!(h.sent().is_empty(), "never answer a RST with a RST");
    let c = h.iface.counters();
    assert_eq!((c.tcp_no_socket, c.tcp_resets_sent), (4, 3));
}

#[test]
fn a_segment_with_a_bad_checksum_is_dropped_without_a_reset() {
    let mut h = Harness::new();
    let mut packet = tcp_packet(v4(PEER4, 40000), v4(OURS4, 81), &tcp_repr(40000, 81, 1000, None, syn()));
    packet[24] ^= 0x01; // sequence number
    h.inject(&packet);
    assert!(h.sent().is_empty());
    assert_eq!(h.iface.counters().tcp_bad_checksum, 1);
    assert_eq!(h.iface.counters().tcp_segments_received, 0);
}

/// Runs the peer's half of a handshake against a listener on `ours`; returns the stack's ISS.
fn handshake(h: &mut Harness, peer: SocketAddr, ours: SocketAddr, iss: u32) -> u32 {
    h.inject(&tcp_packet(peer, ours, &tcp_repr(peer.port(), ours.port(), iss, None, syn())));
    let (_, syn_ack) = parse_tcp(&h.sent_one());
    assert!(syn_ack.flags.syn && syn_ack.flags.ack);
    assert_eq!(syn_ack.ack, iss.wrapping_add(1));
    let ack = tcp_repr(peer.port(), ours.port(), iss.wrapping_add(1), Some(syn_ack.seq.wrapping_add(1)), ack_flag());
    h.inject(&tcp_packet(peer, ours, &ack));
    syn_ack.seq
}

#[test]
fn a_listener_completes_handshakes_and_hands_out_streams_that_move_data() {
    let mut h = Harness::new();
    let listener = h.sockets.tcp_listen("[::]:80".parse().unwrap(), 4, TcpConfig::default()).unwrap();
    let peer = v6(PEER6, 50000);
    let ours = v6(OURS6, 80);
    h.inject(&tcp_packet(peer, ours, &tcp_repr(50000, 80, 5000, None, syn())));
    let (ip, syn_ack) = parse_tcp(&h.sent_one());
    assert_eq!((ip.src, ip.dst), (IpAddr::V6(OURS6), IpAddr::V6(PEER6)));
    assert_eq!(syn_ack.options.mss, Some(1440), "MTU 1500 minus 60 bytes of IPv6 and TCP headers");
    assert_eq!(h.sockets.tcp_accept(listener), None, "not established yet");
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().queued(), 1);

    let ack = tcp_repr(50000, 80, 5001, Some(syn_ack.seq.wrapping_add(1)), ack_flag());
    h.inject(&tcp_packet(peer, ours, &ack));
    let stream = h.sockets.tcp_accept(listener).expect("established connection in the accept queue");
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().queued(), 0, "accepted connections leave the backlog");
    let s = h.sockets.tcp_stream(stream).unwrap();
    assert_eq!((s.local_addr(), s.remote_addr(), s.state()), (ours, peer, State::Established));

    // Data in: readable by the user and acknowledged.
    let mut data = tcp_repr(50000, 80, 5001, Some(syn_ack.seq.wrapping_add(1)), ack_flag());
    data.flags.psh = true;
    data.payload = b"GET / HTTP/1.0\r\n\r\n";
    h.inject(&tcp_packet(peer, ours, &data));
    let mut buf = [0u8; 64];
    let n = h.sockets.tcp_stream(stream).unwrap().recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"GET / HTTP/1.0\r\n\r\n");

    // Data out: on the wire with the right addresses, after the delayed ACK if it is separate.
    h.sockets.tcp_stream(stream).unwrap().send(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
    h.poll();
    let out: Vec<_> = h.sent().iter().map(|p| parse_tcp(p).1).collect();
    let reply = out.iter().find(|s| !s.payload.is_empty()).expect("a data segment");
    assert_eq!(reply.payload, b"HTTP/1.0 200 OK\r\n\r\n");
    assert_eq!(reply.ack, 5001 + 18, "it acknowledges the request");
}

#[test]
fn a_syn_flood_never_holds_more_than_the_backlog_and_a_real_client_still_gets_in() {
    let mut h = Harness::new();
    let backlog = 8;
    let listener = h.sockets.tcp_listen(v4(OURS4, 80), backlog, TcpConfig::default()).unwrap();
    for i in 0..1000u32 {
        let port = 1024 + i as u16;
        let spoofed = v4(core::net::Ipv4Addr::new(198, 19, 0, 100 + (i % 100) as u8), port);
        h.inject(&tcp_packet(spoofed, v4(OURS4, 80), &tcp_repr(port, 80, i * 7919, None, syn())));
        assert!(h.sockets.tcp_stream_count() <= backlog);
        assert_eq!(h.sent().len(), 1, "each SYN gets its SYN-ACK");
    }
    let c = *h.iface.counters();
    assert_eq!(c.tcp_syn_evictions, 1000 - backlog as u64);
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().stats().half_open_evicted, 1000 - backlog as u64);

    handshake(&mut h, v4(PEER4, 33333), v4(OURS4, 80), 42);
    let stream = h.sockets.tcp_accept(listener).expect("the real client is accepted despite the flood");
    assert_eq!(h.sockets.tcp_stream(stream).unwrap().remote_addr(), v4(PEER4, 33333));
}

#[test]
fn a_backlog_full_of_unaccepted_connections_drops_new_syns() {
    let mut h = Harness::new();
    let listener = h.sockets.tcp_listen(v4(OURS4, 80), 2, TcpConfig::default()).unwrap();
    handshake(&mut h, v4(PEER4, 1001), v4(OURS4, 80), 1);
    handshake(&mut h, v4(PEER4, 1002), v4(OURS4, 80), 1);
    h.inject(&tcp_packet(v4(PEER4, 1003), v4(OURS4, 80), &tcp_repr(1003, 80, 1, None, syn())));
    assert!(h.sent().is_empty(), "dropped: the client will retry");
    assert_eq!(h.iface.counters().tcp_listen_overflows, 1);
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().ready(), 2);
    // Accepting one makes room.
    assert!(h.sockets.tcp_accept(listener).is_some());
    handshake(&mut h, v4(PEER4, 1003), v4(OURS4, 80), 1);
    assert_eq!(h.sockets.tcp_listener(listener).unwrap().ready(), 2);
}

#[test]
fn closing_a_listener_resets_its_unaccepted_connections() {
    let mut h = Harness::new();
    let listener = h.sockets.tcp_listen(v4(OURS4, 80), 4, TcpConfig::default()).unwrap();
    handshake(&mut h, v4(PEER4, 1001), v4(OURS4, 80), 1);
    assert!(h.sockets.tcp_unlisten(listener));
    assert!(h.sockets.tcp_listener(listener).is_none());
    h.poll();
    let (_, rst) = parse_tcp(&h.sent_one());
    assert!(rst.flags.rst);
    assert_eq!(rst.dst_port, 1001);
    assert_eq!(h.sockets.tcp_stream_count(), 0);
}

#[test]
fn connect_sends_a_syn_from_an_ephemeral_port_and_completes_on_syn_ack() {
    let mut h = Harness::new();
    let remote = v4(PEER4, 443);
    let stream = h.iface.tcp_connect(&mut h.sockets, h.now, remote, TcpConfig::default()).unwrap();
    assert_eq!(h.iface.poll_at(&h.sockets), Some(Instant::ZERO), "the SYN is ready");
    h.poll();
    let (ip, syn_seg) = parse_tcp(&h.sent_one());
    assert_eq!((ip.src, ip.dst), (IpAddr::V4(OURS4), IpAddr::V4(PEER4)));
    assert!(syn_seg.flags.syn && !syn_seg.flags.ack);
    assert!(syn_seg.src_port >= 49152);
    assert_eq!(syn_seg.options.mss, Some(1460));
    let local = h.sockets.tcp_stream(stream).unwrap().local_addr();
    assert_eq!(local, v4(OURS4, syn_seg.src_port));
    assert_eq!(h.sockets.tcp_stream(stream).unwrap().state(), State::SynSent);

    let mut syn_ack = tcp_repr(443, syn_seg.src_port, 9000, Some(syn_seg.seq.wrapping_add(1)), syn());
    syn_ack.options.mss = Some(1400);
    h.inject(&tcp_packet(remote, local, &syn_ack));
    let (_, ack) = parse_tcp(&h.sent_one());
    assert!(ack.flags.ack && !ack.flags.syn);
    assert_eq!(ack.ack, 9001);
    assert_eq!(h.sockets.tcp_stream(stream).unwrap().state(), State::Established);

    // A second connection to the same peer gets the next port.
    let second = h.iface.tcp_connect(&mut h.sockets, h.now, remote, TcpConfig::default()).unwrap();
    let second_port = h.sockets.tcp_stream(second).unwrap().local_addr().port();
    assert_ne!(second_port, syn_seg.src_port);
    assert_eq!(h.sockets.tcp_connection_count(), 2);
}

#[test]
fn connect_refuses_what_it_cannot_reach() {
    let mut h = Harness::new();
    let config = TcpConfig::default();
    for bad in ["0.0.0.0:80", "224.0.0.1:80", "198.19.0.1:0", "255.255.255.255:1"] {
        let remote: SocketAddr = bad.parse().unwrap();
        assert!(h.iface.tcp_connect(&mut h.sockets, h.now, remote, config).is_err(), "{bad}");
    }
    let only_v4 = Interface::new(InterfaceConfig::new([IpAddr::V4(OURS4)]), &h.device);
    assert!(only_v4.tcp_connect(&mut h.sockets, h.now, v6(PEER6, 80), config).is_err());
}

#[test]
fn release_closes_in_the_background_and_abort_resets_both_leaving_stale_handles() {
    let mut h = Harness::new();
    let listener = h.sockets.tcp_listen(v4(OURS4, 80), 4, TcpConfig::default()).unwrap();
    let iss = handshake(&mut h, v4(PEER4, 2000), v4(OURS4, 80), 100);
    let graceful = h.sockets.tcp_accept(listener).unwrap();
    handshake(&mut h, v4(PEER4, 2001), v4(OURS4, 80), 100);
    let abrupt = h.sockets.tcp_accept(listener).unwrap();

    assert!(h.sockets.tcp_release(graceful));
    assert!(h.sockets.tcp_stream(graceful).is_none(), "released: the handle is stale at once");
    assert!(!h.sockets.tcp_release(graceful));
    h.poll();
    let (_, fin) = parse_tcp(&h.sent_one());
    assert!(fin.flags.fin && fin.dst_port == 2000);
    assert_eq!(h.sockets.tcp_connection_count(), 2, "still closing in the background");
    // The peer acknowledges our FIN and sends its own; we enter TIME-WAIT and linger.
    let mut fin_ack = tcp_repr(2000, 80, 101, Some(iss.wrapping_add(2)), ack_flag());
    fin_ack.flags.fin = true;
    h.inject(&tcp_packet(v4(PEER4, 2000), v4(OURS4, 80), &fin_ack));
    let (_, last_ack) = parse_tcp(&h.sent_one());
    assert_eq!(last_ack.ack, 102);
    h.now += core::time::Duration::from_secs(61);
    h.poll();
    assert_eq!(h.sockets.tcp_connection_count(), 1, "TIME-WAIT over: the background connection is gone");

    assert!(h.sockets.tcp_abort(abrupt));
    assert!(h.sockets.tcp_stream(abrupt).is_none());
    h.poll();
    let (_, rst) = parse_tcp(&h.sent_one());
    assert!(rst.flags.rst && rst.dst_port == 2001);
    assert_eq!((h.sockets.tcp_connection_count(), h.sockets.tcp_stream_count()), (0, 0));
}
