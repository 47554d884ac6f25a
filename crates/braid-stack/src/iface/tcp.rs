//! TCP ingress (checksum, connection lookup, listeners, RST for closed ports) and egress (timers
//! and each connection's segments).

use core::net::SocketAddr;

use braid_wire::tcp::{TcpError, TcpPacket, TcpRepr};

use super::ip::Upper;
use super::{mss_for, Ctx};
use crate::link::IpLink;
use crate::socket::{FourTuple, SlotKey, SynOutcome};
use crate::tcp::{listen_action, reset_for_closed, ListenAction, Segment, Signals};

/// Handles a TCP segment: to its connection if the four-tuple has one, else to a listener on the
/// destination, else answered with a RST (RFC 9293 §3.10.7.1; never a RST to a RST).
pub(crate) fn receive<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>) {
    let Ok(packet) = TcpPacket::new_checked(upper.payload) else {
        ctx.out.counters.tcp_malformed += 1;
        return;
    };
    let repr = match TcpRepr::parse(&packet, upper.src, upper.dst) {
        Ok(repr) => repr,
        Err(TcpError::BadChecksum) => {
            ctx.out.counters.tcp_bad_checksum += 1;
            return;
        }
        Err(_) => {
            ctx.out.counters.tcp_malformed += 1;
            return;
        }
    };
    ctx.out.counters.tcp_segments_received += 1;
    let tuple = FourTuple {
        local: SocketAddr::new(upper.dst, repr.dst_port),
        remote: SocketAddr::new(upper.src, repr.src_port),
    };

    if let Some(key) = ctx.sockets.tcp.lookup(&tuple) {
        if let Some(stream) = ctx.sockets.tcp.streams.get_mut(key) {
            let signals = stream.conn.on_segment(ctx.now, &repr);
            after_signals(ctx, key, tuple, &signals);
        }
        return;
    }

    if let Some(listener) = ctx.sockets.tcp.listener_for(tuple.local) {
        match listen_action(&repr) {
            ListenAction::Ignore => ctx.out.counters.tcp_listen_ignored += 1,
            ListenAction::Reset(rst) => send_control(ctx, tuple, &rst),
            ListenAction::Accept => {
                let mss = mss_for(ctx.out.mtu(), tuple.remote.ip());
                match ctx.sockets.tcp.accept_syn(ctx.now, listener, tuple, &repr, mss) {
                    SynOutcome::Created { key, evicted } => {
                        if evicted {
                            ctx.out.counters.tcp_syn_evictions += 1;
                        }
                        transmit_stream(ctx, key);
                    }
                    SynOutcome::BacklogFull => ctx.out.counters.tcp_listen_overflows += 1,
                    SynOutcome::Duplicate | SynOutcome::NotASyn => ctx.out.counters.tcp_listen_ignored += 1,
                }
            }
        }
        return;
    }

    ctx.out.counters.tcp_no_socket += 1;
    if let Some(rst) = reset_for_closed(&repr) {
        send_control(ctx, tuple, &rst);
    }
}

/// Acts on a connection's signals: the answer segment and the endpoint's bookkeeping.
///
/// What the connection itself has to send (`may_send`) is left for the end of the poll, when
/// [`transmit`] visits every connection: by then the whole receive batch has been processed, so
/// one ACK covers every segment of the batch (as GRO does for the kernel) and data freed by
/// several ACKs leaves in one burst. Over a TUN device each packet is a system call, so this
/// halves the packets a bulk receiver writes.
pub(crate) fn after_signals<D: IpLink + ?Sized>(
    ctx: &mut Ctx<'_, D>,
    key: SlotKey,
    tuple: FourTuple,
    signals: &Signals,
) {
    if let Some(answer) = &signals.answer {
        send_control(ctx, tuple, answer);
    }
    ctx.sockets.tcp.after_signals(key, signals);
    ctx.sockets.tcp.reap(key);
}

/// Sends a segment without payload (a RST or an answer) on `tuple`.
fn send_control<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, tuple: FourTuple, segment: &Segment) {
    ctx.out.send_tcp(ctx.device, ctx.now, (tuple.local.ip(), tuple.remote.ip()), &segment.repr(&[]), false);
}

/// Sends every segment connection `key` has ready, while the device takes packets.
fn transmit_stream<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, key: SlotKey) {
    let Ctx { now, out, device, sockets, .. } = ctx;
    while device.can_transmit(*now) {
        let Some(stream) = sockets.tcp.streams.get_mut(key) else { return };
        let Some(segment) = stream.conn.poll_transmit(*now) else { return };
        let (src, dst) = (stream.tuple.local.ip(), stream.tuple.remote.ip());
        out.send_tcp(*device, *now, (src, dst), &stream.conn.repr(&segment), stream.conn.may_fragment());
    }
}

/// The TCP part of a poll: RSTs owed by aborted connections, then, connection by connection, the
/// timers that are due and the segments that are ready.
pub(crate) fn transmit<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>) {
    while let Some((tuple, rst)) = ctx.sockets.tcp.pending_resets.pop() {
        if !ctx.device.can_transmit(ctx.now) {
            ctx.sockets.tcp.pending_resets.push((tuple, rst));
            return;
        }
        send_control(ctx, tuple, &rst);
    }
    for index in 0..ctx.sockets.tcp.streams.slot_count() {
        let Some(key) = ctx.sockets.tcp.streams.key_at(index) else { continue };
        let Some(stream) = ctx.sockets.tcp.streams.get_mut(key) else { continue };
        if stream.conn.poll_at().is_some_and(|at| at <= ctx.now) {
            let tuple = stream.tuple;
            let signals = stream.conn.on_timeout(ctx.now);
            after_signals(ctx, key, tuple, &signals);
        }
        transmit_stream(ctx, key);
        ctx.sockets.tcp.reap(key);
    }
}
