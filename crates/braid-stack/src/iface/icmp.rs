//! ICMPv4 and ICMPv6: echo replies, echo sockets, and the errors the stack sends and receives.
//!
//! Errors are sent only about a single received packet addressed to one of our unicast addresses
//! from a unicast source, never about an ICMP error (RFC 1122 §3.2.2, RFC 4443 §2.4(e)), and
//! through a token bucket. Received errors about TCP segments go to their connection (see
//! `icmp_error`); UDP sockets here have no error queue, so errors about datagrams are only counted.

use core::net::IpAddr;

use braid_wire::icmpv4::{
    self, Icmpv4Error, Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded, Icmpv4Unreachable, Ipv4Quote,
};
use braid_wire::icmpv6::{
    self, Icmpv6Error, Icmpv6Packet, Icmpv6ParamProblem, Icmpv6Repr, Icmpv6TimeExceeded, Icmpv6Unreachable, Ipv6Quote,
};
use braid_wire::{ipv4, ipv6};

use super::icmp_error;
use super::ip::Upper;
use super::Ctx;
use crate::link::IpLink;
use crate::reassembly::ExpiredDatagram;

/// Handles an ICMPv4 message.
pub(crate) fn receive_v4<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    let counters = &mut ctx.out.counters;
    let Ok(packet) = Icmpv4Packet::new_checked(upper.payload) else {
        counters.icmp_malformed += 1;
        return;
    };
    match Icmpv4Repr::parse(&packet) {
        Err(Icmpv4Error::BadChecksum) => counters.icmp_bad_checksum += 1,
        Err(Icmpv4Error::UnsupportedType(_)) => counters.icmp_unsupported += 1,
        Err(Icmpv4Error::BadQuote { .. }) => icmp_error::truncated_quote(ctx),
        Err(_) => counters.icmp_malformed += 1,
        Ok(Icmpv4Repr::EchoRequest { ident, seq_no, data }) => {
            counters.icmp_echo_requests += 1;
            if ctx.config.echo_reply {
                let reply = Icmpv4Repr::EchoReply { ident, seq_no, data };
                if ctx.out.send_icmpv4(ctx.device, ctx.now, upper.dst, upper.src, &reply) {
                    ctx.out.counters.icmp_echo_replies_sent += 1;
                }
            }
        }
        Ok(Icmpv4Repr::EchoReply { ident, seq_no, data }) => deliver_reply(ctx, upper.src, ident, seq_no, data),
        Ok(error) => icmp_error::receive_v4(ctx, upper, &error),
    }
}

/// Handles an ICMPv6 message.
pub(crate) fn receive_v6<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (upper.src, upper.dst) else { return };
    let counters = &mut ctx.out.counters;
    let Ok(packet) = Icmpv6Packet::new_checked(upper.payload) else {
        counters.icmp_malformed += 1;
        return;
    };
    match Icmpv6Repr::parse(&packet, src, dst) {
        Err(Icmpv6Error::BadChecksum) => counters.icmp_bad_checksum += 1,
        Err(Icmpv6Error::UnsupportedType(_)) => counters.icmp_unsupported += 1,
        Err(Icmpv6Error::BadQuote { .. }) => icmp_error::truncated_quote(ctx),
        Err(_) => counters.icmp_malformed += 1,
        Ok(Icmpv6Repr::EchoRequest { ident, seq_no, data }) => {
            counters.icmp_echo_requests += 1;
            if ctx.config.echo_reply {
                let reply = Icmpv6Repr::EchoReply { ident, seq_no, data };
                if ctx.out.send_icmpv6(ctx.device, ctx.now, upper.dst, upper.src, &reply) {
                    ctx.out.counters.icmp_echo_replies_sent += 1;
                }
            }
        }
        Ok(Icmpv6Repr::EchoReply { ident, seq_no, data }) => deliver_reply(ctx, upper.src, ident, seq_no, data),
        Ok(error) => icmp_error::receive_v6(ctx, upper, &error),
    }
}

/// Queues an echo reply on the echo socket with its identifier.
fn deliver_reply<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, from: IpAddr, ident: u16, seq_no: u16, data: &[u8]) {
    let delivered = ctx
        .sockets
        .icmp
        .iter_mut()
        .find(|(_, s)| s.ident() == ident)
        .is_some_and(|(_, s)| s.deliver(from, seq_no, data));
    if delivered {
        ctx.out.counters.icmp_echo_replies_received += 1;
    } else {
        ctx.out.counters.icmp_echo_replies_dropped += 1;
    }
}

/// True when the packet is itself an ICMP error, which must never be answered with one.
fn is_icmp_error(upper: &Upper<'_>) -> bool {
    let Some(&msg_type) = upper.payload.first() else { return false };
    match upper.protocol {
        icmpv4::PROTOCOL if upper.src.is_ipv4() => matches!(msg_type, 3 | 4 | 5 | 11 | 12),
        icmpv6::PROTOCOL if upper.src.is_ipv6() => msg_type < 128,
        _ => false,
    }
}

/// The checks every error we send passes: a single packet to quote, not an ICMP error, and a token
/// from the rate limit. Returns the quotable bytes.
fn error_quote<'a, D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'a>) -> Option<&'a [u8]> {
    let original = upper.original?;
    if is_icmp_error(upper) {
        return None;
    }
    if !ctx.out.icmp_limit.allow(ctx.now) {
        ctx.out.counters.icmp_errors_rate_limited += 1;
        return None;
    }
    // The whole error must fit the MTU (and RFC 1812's 576 bytes / RFC 4443's 1280 bytes).
    let limit = if upper.src.is_ipv4() {
        icmpv4::MAX_QUOTE_LEN.min(ctx.out.mtu() - ipv4::HEADER_LEN - icmpv4::HEADER_LEN)
    } else {
        icmpv6::MAX_QUOTE_LEN.min(ctx.out.mtu().saturating_sub(ipv6::HEADER_LEN + icmpv6::HEADER_LEN))
    };
    Some(&original[..original.len().min(limit)])
}

/// Sends `repr4` or `repr6` (built from the quote) back to the packet's source.
fn send_error<D: IpLink + ?Sized>(
    ctx: &mut Ctx<'_, D>,
    upper: &Upper<'_>,
    v4: impl FnOnce(Ipv4Quote<'_>) -> Icmpv4Repr<'_>,
    v6: impl FnOnce(Ipv6Quote<'_>) -> Icmpv6Repr<'_>,
) {
    let Some(quote) = error_quote(ctx, upper) else { return };
    let sent = if upper.src.is_ipv4() {
        match Ipv4Quote::parse(quote) {
            Ok(quote) => ctx.out.send_icmpv4(ctx.device, ctx.now, upper.dst, upper.src, &v4(quote)),
            Err(_) => false,
        }
    } else {
        match Ipv6Quote::parse(quote) {
            Ok(quote) => ctx.out.send_icmpv6(ctx.device, ctx.now, upper.dst, upper.src, &v6(quote)),
            Err(_) => false,
        }
    };
    if sent {
        ctx.out.counters.icmp_errors_sent += 1;
    }
}

/// Answers a UDP datagram to a closed port (RFC 1122 §4.1.3.1, RFC 4443 §3.1 code 4).
pub(crate) fn port_unreachable<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    send_error(
        ctx,
        upper,
        |quote| Icmpv4Repr::DstUnreachable { reason: Icmpv4Unreachable::PortUnreachable, quote },
        |quote| Icmpv6Repr::DstUnreachable { reason: Icmpv6Unreachable::PortUnreachable, quote },
    );
}

/// Answers a packet for a protocol the stack does not implement: ICMPv4 protocol unreachable, or
/// ICMPv6 parameter problem "unrecognised next header" pointing at the field (RFC 4443 §3.4; sent
/// only when no extension header precedes it, so the pointer is certain).
pub(crate) fn protocol_unreachable<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    if upper.src.is_ipv6() && upper.protocol_pointer.is_none() {
        return;
    }
    let pointer = upper.protocol_pointer.unwrap_or(0);
    send_error(
        ctx,
        upper,
        |quote| Icmpv4Repr::DstUnreachable { reason: Icmpv4Unreachable::ProtocolUnreachable, quote },
        |quote| Icmpv6Repr::ParamProblem { reason: Icmpv6ParamProblem::UnrecognizedNextHeader, pointer, quote },
    );
}

/// Reports a datagram whose fragments did not all arrive in time.
pub(crate) fn reassembly_timed_out<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, expired: ExpiredDatagram<'_>) {
    let Some(first) = expired.first_fragment else { return };
    let (src, dst) = (expired.src, expired.dst);
    if !super::is_unicast(src) || !ctx.config.is_local(dst) {
        return;
    }
    let upper = Upper { src, dst, protocol: 0, payload: &[], original: Some(first), protocol_pointer: None };
    send_error(
        ctx,
        &upper,
        |quote| Icmpv4Repr::TimeExceeded { reason: Icmpv4TimeExceeded::ReassemblyTimeExceeded, quote },
        |quote| Icmpv6Repr::TimeExceeded { reason: Icmpv6TimeExceeded::ReassemblyTimeExceeded, quote },
    );
}

/// Sends the echo requests the echo sockets have queued, while the device takes packets.
pub(crate) fn transmit_echo<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>) {
    let Ctx { now, config, out, device, sockets } = ctx;
    for (_, socket) in sockets.icmp.iter_mut() {
        while let Some((meta, data)) = socket.peek_tx() {
            if !device.can_transmit(*now) {
                return;
            }
            let ident = socket.ident();
            match config.source_for(meta.addr) {
                Some(src) if meta.addr.is_ipv4() => {
                    let repr = Icmpv4Repr::EchoRequest { ident, seq_no: meta.seq_no, data };
                    out.send_icmpv4(*device, *now, src, meta.addr, &repr);
                }
                Some(src) => {
                    let repr = Icmpv6Repr::EchoRequest { ident, seq_no: meta.seq_no, data };
                    out.send_icmpv6(*device, *now, src, meta.addr, &repr);
                }
                None => out.counters.no_source_address += 1,
            }
            socket.pop_tx();
        }
    }
}
