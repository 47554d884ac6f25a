//! IPv4/IPv6 ingress: header checks, address filters, fragment reassembly, and dispatch to the
//! upper layers.

use core::net::IpAddr;

use braid_wire::ipv4::Ipv4Packet;
use braid_wire::ipv6::{self, next_header, Ipv6Packet};
use braid_wire::{icmpv4, icmpv6, tcp as tcp_wire, udp as udp_wire};

use super::{icmp, is_unicast, tcp, udp, Ctx};
use crate::link::IpLink;
use crate::reassembly::{Reassembled, Reassembler, Reassembly};

/// An upper-layer payload with the IP facts its handler needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Upper<'a> {
    /// Sender (a unicast address).
    pub(crate) src: IpAddr,
    /// Our address the packet was sent to.
    pub(crate) dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub(crate) protocol: u8,
    /// The upper-layer bytes (TCP/UDP/ICMP header and data).
    pub(crate) payload: &'a [u8],
    /// The whole packet as received, for an ICMP error's quote; `None` for a reassembled datagram
    /// (no single packet to quote).
    pub(crate) original: Option<&'a [u8]>,
    /// Offset of the next-header byte naming `protocol` in `original` (IPv6 parameter problem).
    pub(crate) protocol_pointer: Option<u32>,
}

/// Processes one packet read from the device.
pub(crate) fn receive<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, reassembler: &mut Reassembler, packet: &[u8]) {
    ctx.out.counters.rx_packets += 1;
    ctx.out.counters.rx_bytes += packet.len() as u64;
    match packet.first().map(|byte| byte >> 4) {
        Some(4) => receive_v4(ctx, reassembler, packet),
        Some(6) => receive_v6(ctx, reassembler, packet),
        _ => ctx.out.counters.ip_malformed += 1,
    }
}

/// The address checks both families share; false (and counted) when the packet must go.
fn addresses_acceptable<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, src: IpAddr, dst: IpAddr) -> bool {
    if !ctx.config.is_local(dst) {
        ctx.out.counters.ip_not_for_us += 1;
        return false;
    }
    if !is_unicast(src) {
        ctx.out.counters.ip_bad_source += 1;
        return false;
    }
    true
}

fn receive_v4<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, reassembler: &mut Reassembler, packet: &[u8]) {
    let Ok(view) = Ipv4Packet::new_checked(packet) else {
        ctx.out.counters.ip_malformed += 1;
        return;
    };
    if !view.verify_checksum() {
        ctx.out.counters.ipv4_bad_checksum += 1;
        return;
    }
    let (src, dst) = (IpAddr::V4(view.src_addr()), IpAddr::V4(view.dst_addr()));
    if !addresses_acceptable(ctx, src, dst) {
        return;
    }
    let datagram = &packet[..view.total_len()];
    if view.is_fragment() {
        ctx.out.counters.ip_fragments += 1;
        let outcome = reassembler.push_ipv4(datagram, ctx.now);
        reassembled(ctx, outcome);
        return;
    }
    let upper = Upper {
        src,
        dst,
        protocol: view.protocol(),
        payload: view.payload_slice(),
        original: Some(datagram),
        protocol_pointer: None,
    };
    dispatch(ctx, &upper);
}

fn receive_v6<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, reassembler: &mut Reassembler, packet: &[u8]) {
    let Ok(view) = Ipv6Packet::new_checked(packet) else {
        ctx.out.counters.ip_malformed += 1;
        return;
    };
    let (src, dst) = (IpAddr::V6(view.src_addr()), IpAddr::V6(view.dst_addr()));
    if !addresses_acceptable(ctx, src, dst) {
        return;
    }
    let datagram = &packet[..ipv6::HEADER_LEN + view.payload_len()];
    let Ok(headers) = view.extension_headers() else {
        ctx.out.counters.ip_malformed += 1;
        return;
    };
    if headers.fragment.is_some_and(|fragment| !fragment.is_atomic()) {
        ctx.out.counters.ip_fragments += 1;
        let outcome = reassembler.push_ipv6(datagram, ctx.now);
        reassembled(ctx, outcome);
        return;
    }
    let upper = Upper {
        src,
        dst,
        protocol: headers.protocol,
        payload: datagram.get(ipv6::HEADER_LEN + headers.len..).unwrap_or(&[]),
        original: Some(datagram),
        // The next-header field is byte 6 of the fixed header when no extension header follows.
        protocol_pointer: (headers.len == 0).then_some(6),
    };
    dispatch(ctx, &upper);
}

/// Dispatches a datagram reassembly completed, and counts what it refused.
fn reassembled<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, outcome: Reassembly<'_>) {
    match outcome {
        Reassembly::Pending => {}
        Reassembly::Dropped(_) => ctx.out.counters.ip_fragments_dropped += 1,
        Reassembly::Complete(Reassembled { src, dst, protocol, payload }) => {
            ctx.out.counters.ip_reassembled += 1;
            let upper = Upper { src, dst, protocol, payload, original: None, protocol_pointer: None };
            dispatch(ctx, &upper);
        }
    }
}

/// Hands an upper-layer payload to its protocol.
fn dispatch<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    match (upper.protocol, upper.src) {
        (icmpv4::PROTOCOL, IpAddr::V4(_)) => icmp::receive_v4(ctx, upper),
        (icmpv6::PROTOCOL, IpAddr::V6(_)) => icmp::receive_v6(ctx, upper),
        (udp_wire::PROTOCOL, _) => udp::receive(ctx, upper),
        (tcp_wire::PROTOCOL, _) => tcp::receive(ctx, upper),
        (next_header::NO_NEXT_HEADER, IpAddr::V6(_)) => ctx.out.counters.ip_unknown_protocol += 1,
        _ => {
            ctx.out.counters.ip_unknown_protocol += 1;
            icmp::protocol_unreachable(ctx, upper);
        }
    }
}

/// Abandons timed-out partial datagrams, answering each whose first fragment arrived with an ICMP
/// "fragment reassembly time exceeded" (RFC 792, RFC 8200 §4.5).
pub(crate) fn expire_fragments<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, reassembler: &mut Reassembler) {
    if reassembler.poll_at().is_none_or(|at| at > ctx.now) {
        return;
    }
    let now = ctx.now;
    reassembler.expire(now, |expired| icmp::reassembly_timed_out(ctx, expired));
}
