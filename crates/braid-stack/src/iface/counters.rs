//! What the interface did with every packet, so no drop is silent.

/// Counters of an [`Interface`](super::Interface), from its creation. Every packet that is
/// received ends up in exactly one "fate" counter of its layer (delivered, answered, or dropped
/// for a named reason); monitoring can tell a checksum storm from a port scan from a full socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// Packets read from the device.
    pub rx_packets: u64,
    /// Bytes read from the device.
    pub rx_bytes: u64,
    /// Packets handed to the device.
    pub tx_packets: u64,
    /// Bytes handed to the device.
    pub tx_bytes: u64,
    /// Packets the device refused (queue full or failed); TCP recovers them as losses.
    pub tx_device_errors: u64,
    /// Packets not sent because they would exceed the MTU (e.g. the echo reply to a reassembled
    /// ping larger than the MTU: the stack does not fragment).
    pub tx_too_long: u64,

    /// IP packets whose header is unusable: truncated, wrong version, inconsistent lengths, a bad
    /// IPv6 extension-header chain.
    pub ip_malformed: u64,
    /// IPv4 headers whose checksum does not verify.
    pub ipv4_bad_checksum: u64,
    /// Packets to an address that is not the interface's.
    pub ip_not_for_us: u64,
    /// Packets from a source no reply may go to (unspecified, multicast, broadcast).
    pub ip_bad_source: u64,
    /// Packets for a protocol the stack does not speak (answered with protocol unreachable).
    pub ip_unknown_protocol: u64,
    /// Fragments offered to reassembly (see `Interface::reassembly_counters` for their fates).
    pub ip_fragments: u64,
    /// Datagrams completed by reassembly.
    pub ip_reassembled: u64,
    /// Fragments reassembly refused (duplicate, overlap, malformed, too large, disabled...).
    pub ip_fragments_dropped: u64,

    /// ICMP messages too short or with an unknown code.
    pub icmp_malformed: u64,
    /// ICMP messages whose checksum does not verify.
    pub icmp_bad_checksum: u64,
    /// ICMP types the stack does not handle (router and neighbour discovery, timestamps...).
    pub icmp_unsupported: u64,
    /// Echo requests received.
    pub icmp_echo_requests: u64,
    /// Echo replies sent in answer.
    pub icmp_echo_replies_sent: u64,
    /// Echo replies delivered to an echo socket.
    pub icmp_echo_replies_received: u64,
    /// Echo replies no echo socket wanted (unknown identifier, or its queue was full).
    pub icmp_echo_replies_dropped: u64,
    /// ICMP errors received (unreachable, too big, time exceeded, parameter problem), whatever
    /// their quote. Each ends in exactly one of the five counters below.
    pub icmp_errors_received: u64,
    /// ICMP errors a TCP connection accepted: path-MTU updates and soft errors.
    pub icmp_errors_delivered: u64,
    /// ICMP errors quoting a TCP segment of no connection (closed since, or never ours).
    pub icmp_errors_no_connection: u64,
    /// ICMP errors whose quoted sequence number is not in the connection's `[SND.UNA, SND.MAX]`
    /// (RFC 5927 §4.3): stale, or forged by a blind attacker.
    pub icmp_errors_out_of_window: u64,
    /// ICMP errors whose quote is unusable: shorter than an IP header plus 8 bytes, a later
    /// fragment, or a packet we did not send (its source is not the error's destination).
    pub icmp_errors_bad_quote: u64,
    /// ICMP errors about UDP or other non-TCP packets; nothing consumes them (UDP sockets have no
    /// error queue).
    pub icmp_errors_unclaimed: u64,
    /// ICMP errors sent (port/protocol unreachable, reassembly time exceeded).
    pub icmp_errors_sent: u64,
    /// ICMP errors not sent because of the rate limit.
    pub icmp_errors_rate_limited: u64,

    /// UDP datagrams delivered to a socket.
    pub udp_received: u64,
    /// UDP datagrams sent.
    pub udp_sent: u64,
    /// UDP datagrams with a bad length or destination port 0.
    pub udp_malformed: u64,
    /// UDP datagrams whose checksum does not verify (or is missing over IPv6).
    pub udp_bad_checksum: u64,
    /// UDP datagrams to a port without a socket (answered with port unreachable).
    pub udp_no_socket: u64,
    /// UDP datagrams dropped because the socket's receive queue was full.
    pub udp_socket_full: u64,
    /// Queued UDP datagrams or echo requests dropped because the interface has no source address
    /// of their destination's family.
    pub no_source_address: u64,

    /// TCP segments that parsed and verified.
    pub tcp_segments_received: u64,
    /// TCP segments sent.
    pub tcp_segments_sent: u64,
    /// TCP segments too short, with a bad data offset, bad options or a zero port.
    pub tcp_malformed: u64,
    /// TCP segments whose checksum does not verify.
    pub tcp_bad_checksum: u64,
    /// Segments for no connection and no listener (answered with RST unless they were one).
    pub tcp_no_socket: u64,
    /// Segments a listener ignored (RST, or neither SYN nor ACK).
    pub tcp_listen_ignored: u64,
    /// RSTs sent for closed ports, listeners and aborts.
    pub tcp_resets_sent: u64,
    /// SYNs dropped because a listener's backlog was full of unaccepted connections.
    pub tcp_listen_overflows: u64,
    /// Half-open connections evicted from a full backlog by a newer SYN (a SYN flood shows here).
    pub tcp_syn_evictions: u64,
}
