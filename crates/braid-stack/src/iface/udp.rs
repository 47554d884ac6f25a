//! UDP ingress (checksum, socket lookup, port unreachable) and egress (the sockets' queues).

use core::net::SocketAddr;

use braid_wire::udp::{UdpError, UdpPacket, UdpRepr};

use super::ip::Upper;
use super::{icmp, Ctx};
use crate::link::IpLink;
use crate::socket::UdpMetadata;

/// Handles a UDP datagram: delivers it to the socket bound to its destination (an exact address
/// before a wildcard), or answers port unreachable.
pub(crate) fn receive<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    let Ok(packet) = UdpPacket::new_checked(upper.payload) else {
        ctx.out.counters.udp_malformed += 1;
        return;
    };
    let repr = match UdpRepr::parse(&packet, upper.src, upper.dst) {
        Ok(repr) => repr,
        Err(UdpError::BadChecksum | UdpError::MissingChecksum) => {
            ctx.out.counters.udp_bad_checksum += 1;
            return;
        }
        Err(_) => {
            ctx.out.counters.udp_malformed += 1;
            return;
        }
    };
    let local = SocketAddr::new(upper.dst, repr.dst_port);
    let meta = UdpMetadata { remote: SocketAddr::new(upper.src, repr.src_port), local: upper.dst };
    let mut wildcard = None;
    let mut exact = None;
    for (key, socket) in ctx.sockets.udp.iter() {
        if socket.accepts(local) {
            if socket.local_addr().ip().is_unspecified() {
                wildcard.get_or_insert(key);
            } else {
                exact = Some(key);
                break;
            }
        }
    }
    let Some(socket) = exact.or(wildcard).and_then(|key| ctx.sockets.udp.get_mut(key)) else {
        ctx.out.counters.udp_no_socket += 1;
        icmp::port_unreachable(ctx, upper);
        return;
    };
    if socket.deliver(meta, repr.payload) {
        ctx.out.counters.udp_received += 1;
    } else {
        ctx.out.counters.udp_socket_full += 1;
    }
}

/// Sends the datagrams the UDP sockets have queued, while the device takes packets.
pub(crate) fn transmit<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>) {
    let Ctx { now, config, out, device, sockets } = ctx;
    for (_, socket) in sockets.udp.iter_mut() {
        while let Some((meta, payload)) = socket.peek_tx() {
            if !device.can_transmit(*now) {
                return;
            }
            let bound = socket.local_addr();
            let src = if bound.ip().is_unspecified() { config.source_for(meta.remote.ip()) } else { Some(bound.ip()) };
            match src {
                Some(src) => {
                    let repr = UdpRepr { src_port: bound.port(), dst_port: meta.remote.port(), payload };
                    out.send_udp(*device, *now, src, meta.remote.ip(), &repr);
                }
                None => out.counters.no_source_address += 1,
            }
            socket.pop_tx();
        }
    }
}
