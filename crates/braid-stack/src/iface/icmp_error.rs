//! ICMP errors received about TCP segments we sent: path-MTU discovery and soft errors.
//!
//! An error quotes the start of the packet it is about. For a TCP segment of ours that is our
//! address as the source, then the TCP header's ports and sequence number; the four-tuple finds
//! the connection, and the connection checks the sequence number (RFC 5927 §4.3) and acts
//! ([`Connection::on_packet_too_big`], [`Connection::on_soft_error`]). Every error lands in one
//! counter: delivered, no connection, out of window, bad quote, or unclaimed (not about TCP).
//!
//! The path MTU an error reports is turned into an MSS here, where the family is known: IPv4 never
//! goes below 576 bytes (RFC 1191; a router that reports no MTU gets RFC 1191's plateau table),
//! IPv6 never below 1280 (RFC 8201 §4). The MSS is never raised by an ICMP message, and it is not
//! raised again later either (no RFC 1191 §6.3 aging or RFC 8899 probing): a connection keeps the
//! smallest MSS its path reported.
//!
//! [`Connection::on_packet_too_big`]: crate::tcp::Connection::on_packet_too_big
//! [`Connection::on_soft_error`]: crate::tcp::Connection::on_soft_error

use core::net::{IpAddr, SocketAddr};

use braid_wire::icmpv4::{Icmpv4Repr, Icmpv4Unreachable};
use braid_wire::icmpv6::{Icmpv6ParamProblem, Icmpv6Repr, Icmpv6Unreachable};
use braid_wire::{ipv4, ipv6, tcp as tcp_wire};

use super::ip::Upper;
use super::Ctx;
use crate::link::IpLink;
use crate::socket::FourTuple;
use crate::tcp::{Seq, SoftError};

/// The smallest IPv4 path MTU a "fragmentation needed" can set (RFC 1191 §3 relies on every
/// host accepting 576-byte datagrams; Linux's floor is similar). Smaller reports are raised to it.
pub(crate) const MIN_PATH_MTU_V4: u32 = 576;
/// The smallest IPv6 path MTU: the minimum link MTU (RFC 8200 §5), below which RFC 8201 §4
/// forbids lowering the estimate. Smaller reports are raised to it.
pub(crate) const MIN_PATH_MTU_V6: u32 = 1280;

/// RFC 1191 §7's table of MTU plateaus, for a router that reports a next-hop MTU of 0.
const MTU_PLATEAUS: [u16; 11] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// What an error tells a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Report {
    /// The path carries packets of at most `path_mtu` bytes; with `fragment`, not even that
    /// without fragmentation (an IPv4 report below the 576-byte floor).
    TooBig { path_mtu: u32, fragment: bool },
    /// Unreachable, time exceeded, parameter problem.
    Soft(SoftError),
}

/// Counts an error whose quote braid-wire refused (shorter than an IP header plus 8 bytes).
pub(crate) fn truncated_quote<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>) {
    ctx.out.counters.icmp_errors_received += 1;
    ctx.out.counters.icmp_errors_bad_quote += 1;
}

/// Handles a parsed ICMPv4 error (echo messages are not passed here).
pub(crate) fn receive_v4<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>, repr: &Icmpv4Repr<'_>) {
    let (quote, report) = match *repr {
        Icmpv4Repr::FragNeeded { next_hop_mtu, quote } => {
            let (path_mtu, below_minimum) = path_mtu_v4(next_hop_mtu, quote.total_len());
            (quote, Report::TooBig { path_mtu, fragment: below_minimum })
        }
        Icmpv4Repr::DstUnreachable { reason, quote } => (quote, Report::Soft(soft_error_v4(reason))),
        Icmpv4Repr::TimeExceeded { quote, .. } => (quote, Report::Soft(SoftError::TimeExceeded)),
        Icmpv4Repr::ParamProblem { quote, .. } => (quote, Report::Soft(SoftError::ParameterProblem)),
        Icmpv4Repr::EchoRequest { .. } | Icmpv4Repr::EchoReply { .. } => return,
    };
    ctx.out.counters.icmp_errors_received += 1;
    if quote.protocol() != tcp_wire::PROTOCOL {
        ctx.out.counters.icmp_errors_unclaimed += 1;
        return;
    }
    let (local, remote) = (IpAddr::V4(quote.src_addr()), IpAddr::V4(quote.dst_addr()));
    if quote.fragment_offset() != 0 || local != upper.dst {
        ctx.out.counters.icmp_errors_bad_quote += 1;
        return;
    }
    deliver(ctx, local, remote, quote.payload(), report);
}

/// Handles a parsed ICMPv6 error (echo messages are not passed here).
pub(crate) fn receive_v6<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, upper: &Upper<'_>, repr: &Icmpv6Repr<'_>) {
    let (quote, report) = match *repr {
        // RFC 8201 §5: IPv6 never fragments in the network; a smaller report is just floored.
        Icmpv6Repr::PacketTooBig { mtu, quote } => {
            (quote, Report::TooBig { path_mtu: mtu.max(MIN_PATH_MTU_V6), fragment: false })
        }
        Icmpv6Repr::DstUnreachable { reason, quote } => (quote, Report::Soft(soft_error_v6(reason))),
        Icmpv6Repr::TimeExceeded { quote, .. } => (quote, Report::Soft(SoftError::TimeExceeded)),
        Icmpv6Repr::ParamProblem { reason: Icmpv6ParamProblem::UnrecognizedNextHeader, quote, .. } => {
            (quote, Report::Soft(SoftError::ProtocolUnreachable))
        }
        Icmpv6Repr::ParamProblem { quote, .. } => (quote, Report::Soft(SoftError::ParameterProblem)),
        Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. } => return,
    };
    ctx.out.counters.icmp_errors_received += 1;
    if quote.protocol() != tcp_wire::PROTOCOL {
        ctx.out.counters.icmp_errors_unclaimed += 1;
        return;
    }
    let (local, remote) = (IpAddr::V6(quote.src_addr()), IpAddr::V6(quote.dst_addr()));
    if local != upper.dst {
        ctx.out.counters.icmp_errors_bad_quote += 1;
        return;
    }
    deliver(ctx, local, remote, quote.payload(), report);
}

/// Finds the connection the quoted TCP header (`tcp`: at least its first 8 bytes) belongs to and
/// hands it the report.
fn deliver<D: IpLink + ?Sized>(ctx: &mut Ctx<'_, D>, local: IpAddr, remote: IpAddr, tcp: &[u8], report: Report) {
    let Some(&[sp0, sp1, dp0, dp1, s0, s1, s2, s3]) = tcp.first_chunk::<8>() else {
        ctx.out.counters.icmp_errors_bad_quote += 1;
        return;
    };
    let tuple = FourTuple {
        local: SocketAddr::new(local, u16::from_be_bytes([sp0, sp1])),
        remote: SocketAddr::new(remote, u16::from_be_bytes([dp0, dp1])),
    };
    let quoted_seq = Seq(u32::from_be_bytes([s0, s1, s2, s3]));
    let Some((key, stream)) =
        ctx.sockets.tcp.lookup(&tuple).and_then(|key| ctx.sockets.tcp.streams.get_mut(key).map(|s| (key, s)))
    else {
        ctx.out.counters.icmp_errors_no_connection += 1;
        return;
    };
    let outcome = match report {
        Report::TooBig { path_mtu, fragment } => {
            let outcome = stream.conn.on_packet_too_big(ctx.now, mss_for_path(path_mtu, local), quoted_seq);
            if fragment && outcome.is_some() {
                stream.conn.allow_fragmentation();
            }
            outcome
        }
        Report::Soft(error) => stream.conn.on_soft_error(error, quoted_seq),
    };
    match outcome {
        Some(signals) => {
            ctx.out.counters.icmp_errors_delivered += 1;
            // Segments to resend leave with every other connection's at the end of this poll.
            super::tcp::after_signals(ctx, key, tuple, &signals);
        }
        None => ctx.out.counters.icmp_errors_out_of_window += 1,
    }
}

/// The IPv4 path MTU a "fragmentation needed" reports: its next-hop MTU, or for a router that
/// predates RFC 1191 (field 0) the plateau below the size of the datagram that did not fit; at
/// least [`MIN_PATH_MTU_V4`]. The flag says the report was below that floor: segments of the
/// floor's size will not pass without fragmentation, so they must stop carrying DF (as Linux
/// does), or the connection would stall.
fn path_mtu_v4(next_hop_mtu: u16, datagram_len: u16) -> (u32, bool) {
    let mtu = if next_hop_mtu != 0 {
        next_hop_mtu
    } else {
        MTU_PLATEAUS.into_iter().find(|&plateau| plateau < datagram_len).unwrap_or(68)
    };
    let mtu = u32::from(mtu);
    (mtu.max(MIN_PATH_MTU_V4), mtu < MIN_PATH_MTU_V4)
}

/// The effective MSS (TCP options and payload) a path MTU leaves after the fixed IP and TCP
/// headers.
fn mss_for_path(path_mtu: u32, local: IpAddr) -> u32 {
    let ip_header = if local.is_ipv4() { ipv4::HEADER_LEN } else { ipv6::HEADER_LEN };
    path_mtu.saturating_sub((ip_header + tcp_wire::HEADER_LEN) as u32)
}

/// RFC 1122 §4.2.3.9's reading of an ICMPv4 destination-unreachable code (4 is "fragmentation
/// needed", handled as path-MTU discovery).
fn soft_error_v4(reason: Icmpv4Unreachable) -> SoftError {
    use Icmpv4Unreachable::*;
    match reason {
        NetUnreachable | DstNetUnknown | NetUnreachableForTos => SoftError::NetworkUnreachable,
        ProtocolUnreachable => SoftError::ProtocolUnreachable,
        PortUnreachable => SoftError::PortUnreachable,
        NetProhibited | HostProhibited | AdminProhibited => SoftError::Prohibited,
        HostUnreachable
        | SourceRouteFailed
        | DstHostUnknown
        | SourceHostIsolated
        | HostUnreachableForTos
        | HostPrecedenceViolation
        | PrecedenceCutoff
        | Other(_) => SoftError::HostUnreachable,
    }
}

/// The same for an ICMPv6 destination-unreachable code (RFC 4443 §3.1).
fn soft_error_v6(reason: Icmpv6Unreachable) -> SoftError {
    use Icmpv6Unreachable::*;
    match reason {
        NoRoute | BeyondScope => SoftError::NetworkUnreachable,
        AdminProhibited | FailedPolicy | RejectRoute => SoftError::Prohibited,
        PortUnreachable => SoftError::PortUnreachable,
        AddrUnreachable | Other(_) => SoftError::HostUnreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_next_hop_mtu_takes_the_plateau_below_the_datagram_and_every_mtu_is_floored() {
        assert_eq!(path_mtu_v4(1400, 1500), (1400, false));
        assert_eq!(path_mtu_v4(0, 1500), (1492, false));
        assert_eq!(path_mtu_v4(0, 1492), (1006, false));
        assert_eq!(path_mtu_v4(0, 1006), (MIN_PATH_MTU_V4, true), "508 is below the floor");
        assert_eq!(path_mtu_v4(0, 0), (MIN_PATH_MTU_V4, true));
        assert_eq!(path_mtu_v4(0, 65535), (32000, false));
        assert_eq!(path_mtu_v4(68, 1500), (MIN_PATH_MTU_V4, true));
        assert_eq!(path_mtu_v4(576, 1500), (MIN_PATH_MTU_V4, false));
    }

    #[test]
    fn the_mss_leaves_room_for_the_fixed_headers_of_the_family() {
        assert_eq!(mss_for_path(MIN_PATH_MTU_V4, IpAddr::V4([10, 0, 0, 1].into())), 536);
        assert_eq!(mss_for_path(MIN_PATH_MTU_V6, IpAddr::V6(core::net::Ipv6Addr::LOCALHOST)), 1220);
        assert_eq!(mss_for_path(10, IpAddr::V4([10, 0, 0, 1].into())), 0, "saturates");
    }
}
