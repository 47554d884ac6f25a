//! Fuzz target: a whole braid-stack interface (IPv4 and IPv6, a listener, two outgoing
//! connections) fed arbitrary packets, ICMP errors that quote what the stack really sent,
//! replies built from what it sent, user calls and the passage of time.
//!
//! Quoting the stack's own packets is what takes the fuzzer past the sequence-number checks
//! into path-MTU discovery, soft errors and the SYN-SENT rules; replies take connections into
//! the synchronized states. Nothing may panic, every poll must end, and `poll_at` may not name
//! a time that is already due once the interface ran.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::collections::VecDeque;

use braid_stack::link::{IpLink, TransmitError};
use braid_stack::iface::{Interface, InterfaceConfig};
use braid_stack::socket::SocketSet;
use braid_stack::tcp::TcpConfig;
use braid_stack::time::Instant;
use braid_wire::checksum::Checksum;
use braid_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use braid_wire::ipv6::{Ipv6Packet, Ipv6Repr};
use braid_wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use libfuzzer_sys::fuzz_target;

const OURS4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const ROUTER4: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);
const OURS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 9, 0, 0, 0, 1);
const MTU: usize = 1500;

/// Reads fuzzer bytes as numbers; zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A device whose received packets the fuzzer writes and whose sent packets it can quote.
struct Link {
    inbox: VecDeque<Vec<u8>>,
    sent: VecDeque<Vec<u8>>,
}

impl IpLink for Link {
    fn mtu(&self) -> usize {
        MTU
    }
    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let packet = self.inbox.pop_front()?;
        let n = packet.len().min(buf.len());
        buf[..n].copy_from_slice(&packet[..n]);
        Some(n)
    }
    fn can_transmit(&mut self, _now: Instant) -> bool {
        true
    }
    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        assert!(packet.len() <= MTU, "the interface sent more than the MTU");
        if self.sent.len() == 16 {
            self.sent.pop_front();
        }
        self.sent.push_back(packet.to_vec());
        Ok(())
    }
}

/// An IP packet from `src` to `dst` around `payload` (protocol `proto`).
fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
            let mut p = vec![0u8; 20 + payload.len()];
            let repr = Ipv4Repr {
                src_addr,
                dst_addr,
                protocol: proto,
                payload_len: payload.len(),
                hop_limit: 64,
                traffic_class: 0,
                ident: 1,
                dont_frag: false,
            };
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut p[..]));
            p[20..].copy_from_slice(payload);
            p
        }
        (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
            let mut p = vec![0u8; 40 + payload.len()];
            let repr = Ipv6Repr {
                src_addr,
                dst_addr,
                next_header: proto,
                payload_len: payload.len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut p[..]));
            p[40..].copy_from_slice(payload);
            p
        }
        _ => Vec::new(),
    }
}

/// An ICMP error from a router about `quoted` (one of our packets), cut to `quote_len` bytes.
fn icmp_error(input: &mut Input<'_>, quoted: &[u8]) -> Vec<u8> {
    let v6 = quoted.first().is_some_and(|b| b >> 4 == 6);
    let (msg_type, code) = (input.u8(), input.u8());
    let rest = input.u32().to_be_bytes();
    let quote_len = usize::from(input.u16()).min(quoted.len());
    let mut icmp = vec![msg_type % 5, code % 6, 0, 0];
    if !v6 {
        // ICMPv4 errors: 3 unreachable (4: fragmentation needed), 11 time exceeded, 12 parameter.
        icmp[0] = [3, 3, 11, 12, 3][usize::from(msg_type % 5)];
        icmp[1] = if icmp[0] == 3 { code % 16 } else { code % 2 };
    } else {
        // ICMPv6 errors: 1 unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem.
        icmp[0] = 1 + msg_type % 4;
    }
    icmp.extend_from_slice(&rest);
    icmp.extend_from_slice(&quoted[..quote_len]);
    let (src, dst, proto) =
        if v6 { (IpAddr::V6(ROUTER6), IpAddr::V6(OURS6), 58) } else { (IpAddr::V4(ROUTER4), IpAddr::V4(OURS4), 1) };
    let mut sum = if v6 { Checksum::pseudo_header(src, dst, proto, icmp.len() as u32) } else { Checksum::default() };
    sum.add_bytes(&icmp);
    icmp[2..4].copy_from_slice(&sum.finish().to_be_bytes());
    ip_packet(src, dst, proto, &icmp)
}

/// The peer's answer to one of our TCP segments: addresses and ports swapped, acknowledging it,
/// with flags, window, options and payload from the fuzzer.
fn tcp_reply(input: &mut Input<'_>, ours: &[u8]) -> Option<Vec<u8>> {
    let (src, dst, tcp) = match ours.first()? >> 4 {
        4 => (
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ours.get(12..16)?).ok()?)),
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ours.get(16..20)?).ok()?)),
            ours.get(usize::from(ours[0] & 0x0f) * 4..)?,
        ),
        6 => (
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ours.get(8..24)?).ok()?)),
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ours.get(24..40)?).ok()?)),
            ours.get(40..)?,
        ),
        _ => return None,
    };
    if tcp.len() < 20 {
        return None;
    }
    let their_seq = u32::from_be_bytes(tcp[4..8].try_into().ok()?);
    let their_ack = u32::from_be_bytes(tcp[8..12].try_into().ok()?);
    let their_len = tcp.len() - usize::from(tcp[12] >> 4) * 4;
    let syn_or_fin = u32::from(tcp[13] & 0x03 != 0);
    let bits = input.u8();
    let flags = TcpFlags {
        fin: bits & 1 != 0,
        syn: bits & 2 != 0,
        rst: bits & 4 != 0 && bits & 0x80 != 0,
        psh: bits & 8 != 0,
        ack: bits & 16 == 0,
        ..TcpFlags::default()
    };
    let payload_len = usize::from(input.u16() % 1400);
    let payload = input.bytes(payload_len);
    let repr = TcpRepr {
        src_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        dst_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        seq: their_ack.wrapping_add(u32::from(input.u8() % 4).wrapping_mul(1000)),
        ack: their_seq.wrapping_add(their_len as u32).wrapping_add(syn_or_fin),
        flags,
        window: input.u16(),
        urgent: 0,
        options: TcpOptions {
            mss: (bits & 32 != 0).then(|| input.u16()),
            window_scale: (bits & 64 != 0).then(|| input.u8() % 16),
            sack_permitted: flags.syn,
            ..TcpOptions::default()
        },
        payload: &payload,
    };
    let mut segment = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut segment[..]), dst, src);
    Some(ip_packet(dst, src, 6, &segment))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut link = Link { inbox: VecDeque::new(), sent: VecDeque::new() };
    let mut iface = Interface::new(InterfaceConfig::new([IpAddr::V4(OURS4), IpAddr::V6(OURS6)]), &link);
    let mut sockets = SocketSet::new([7; 32]);
    let cfg = TcpConfig { send_buffer_size: 16 * 1024, recv_buffer_size: 16 * 1024, ..TcpConfig::default() };
    let mut now = Instant::from_millis(1);
    let listeners = [
        sockets.tcp_listen(SocketAddr::new(IpAddr::V4(OURS4), 80), 4, cfg).unwrap(),
        sockets.tcp_listen(SocketAddr::new(IpAddr::V6(OURS6), 80), 4, cfg).unwrap(),
    ];
    let mut streams = vec![
        iface.tcp_connect(&mut sockets, now, SocketAddr::new(IpAddr::V4(PEER4), 5000), cfg).unwrap(),
        iface.tcp_connect(&mut sockets, now, SocketAddr::new(IpAddr::V6(PEER6), 5000), cfg).unwrap(),
    ];
    let mut sink = [0u8; 4096];
    for _ in 0..200 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 6 {
            0 => {
                let len = usize::from(input.u16()) % (MTU + 1);
                let packet = input.bytes(len);
                link.inbox.push_back(packet);
            }
            1 | 2 => {
                let k = usize::from(input.u8());
                if let Some(quoted) = link.sent.get(k % link.sent.len().max(1)).cloned() {
                    link.inbox.push_back(icmp_error(&mut input, &quoted));
                }
            }
            3 => {
                let k = usize::from(input.u8());
                let ours = link.sent.get(k % link.sent.len().max(1)).cloned();
                if let Some(reply) = ours.and_then(|p| tcp_reply(&mut input, &p)) {
                    link.inbox.push_back(reply);
                }
            }
            4 => now = now + Duration::from_millis(u64::from(input.u16())),
            _ => {
                for l in listeners {
                    while let Some(s) = sockets.tcp_accept(l) {
                        streams.push(s);
                    }
                }
                let which = usize::from(input.u8()) % streams.len();
                let amount = usize::from(input.u16()) % 8192;
                if let Some(stream) = sockets.tcp_stream(streams[which]) {
                    let _ = stream.send(&sink[..amount.min(sink.len())]);
                    let _ = stream.recv(&mut sink);
                    let _ = stream.soft_error();
                }
            }
        }
        let mut rounds = 0;
        while iface.poll(now, &mut link, &mut sockets) {
            rounds += 1;
            assert!(rounds < 1000, "poll never settles");
        }
        if let Some(at) = iface.poll_at(&sockets) {
            if at <= now {
                // Whatever was due must be done by one more poll.
                iface.poll(now, &mut link, &mut sockets);
                assert!(iface.poll_at(&sockets).is_none_or(|t| t > now), "a timer stays due");
            }
        }
    }
});
