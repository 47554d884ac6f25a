//! Tunables of a TCP connection, with the RFC value or the Linux practice as documented defaults.

use core::time::Duration;

use super::congestion::CongestionAlgorithm;

/// Keep-alive probing (RFC 1122 §4.2.3.6): off unless configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe (RFC 1122: no less than two hours by default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes after which the connection is dropped with `TimedOut`.
    pub probes: u32,
}

impl Default for KeepAlive {
    /// Linux's defaults: 7200 s idle, 75 s interval, 9 probes.
    fn default() -> Self {
        KeepAlive { idle: Duration::from_secs(7200), interval: Duration::from_secs(75), probes: 9 }
    }
}

/// Everything a connection lets its owner choose. Values out of range are clamped when a connection
/// is created, never rejected, so a configuration can never make the stack panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// Send ring size in bytes, allocated once per connection (default 64 KiB, at least 1).
    pub send_buffer_size: usize,
    /// Receive ring size in bytes, allocated once per connection (default 64 KiB, at least 1;
    /// above 64 KiB it is only usable with window scaling; capped at 1 GiB, RFC 7323's limit).
    pub recv_buffer_size: usize,
    /// The MSS we announce: the device MTU minus the IP and TCP fixed headers (default 1460, the
    /// IPv4 value for a 1500-byte MTU; clamped to 64..=65495).
    pub mss: u16,
    /// The peer's MSS when its SYN carries none (RFC 9293 §3.7.1: 536 for IPv4; the endpoint should
    /// use 1220 for IPv6).
    pub default_remote_mss: u16,
    /// Offer window scaling (RFC 7323 §2); default on.
    pub window_scaling: bool,
    /// Offer selective acknowledgments (RFC 2018) and recover with RFC 6675; default on.
    pub sack: bool,
    /// Offer timestamps (RFC 7323 §3: RTTM and PAWS); default on.
    pub timestamps: bool,
    /// Nagle's algorithm (RFC 9293 §3.7.4); default on. Turn off for latency-bound request/response.
    pub nagle: bool,
    /// Delayed-ACK timeout (RFC 1122 §4.2.3.2 and RFC 9293: at most 500 ms). Default 40 ms, Linux's
    /// minimum; `None` acknowledges every segment at once. Larger values are clamped to 500 ms.
    pub delayed_ack: Option<Duration>,
    /// RTO before any RTT sample (RFC 6298 (2.1): 1 s).
    pub initial_rto: Duration,
    /// Lower RTO bound. RFC 6298 (2.4) says 1 s ("SHOULD"); the default is 200 ms like Linux,
    /// which RFC 8961 accepts, because 1 s makes every tail loss on a LAN cost a second.
    pub min_rto: Duration,
    /// Upper RTO bound and back-off ceiling (RFC 6298 (2.5): at least 60 s; default 60 s).
    pub max_rto: Duration,
    /// Clock granularity G of RFC 6298 (default 1 ms, the resolution of the timestamp clock).
    pub clock_granularity: Duration,
    /// TIME-WAIT duration, 2·MSL (default 60 s: MSL of 30 s, as Linux).
    pub time_wait: Duration,
    /// How long FIN-WAIT-2 may wait for the peer's FIN before the connection is dropped (`None`
    /// waits forever, which RFC 9293 allows; Linux uses 60 s for orphaned sockets). Default `None`.
    pub fin_wait_2_timeout: Option<Duration>,
    /// Keep-alive probing; default off (RFC 1122).
    pub keep_alive: Option<KeepAlive>,
    /// Consecutive retransmission timeouts of data after which the connection is dropped with
    /// `TimedOut` (RFC 9293's R2; Linux's `tcp_retries2` is 15).
    pub max_retransmissions: u32,
    /// Consecutive SYN or SYN-ACK timeouts after which the attempt fails (Linux's `tcp_syn_retries`
    /// is 6).
    pub max_syn_retransmissions: u32,
    /// Initial congestion window in segments; `None` uses RFC 5681's
    /// `min(4·SMSS, max(2·SMSS, 4380))`, `Some(10)` is RFC 6928.
    pub initial_window_segments: Option<u32>,
    /// Duplicate ACKs that trigger fast retransmit (RFC 5681 and RFC 6675 DupThresh: 3).
    pub dup_ack_threshold: u32,
    /// Challenge ACKs a connection may send per second (RFC 5961 §7 rate limit; default 10).
    pub challenge_ack_limit: u32,
    /// The congestion control algorithm.
    pub congestion: CongestionAlgorithm,
    /// Spread each window over the round trip (2× the window per RTT in slow start, 1.2× after)
    /// instead of sending it as one burst: a burst that a queue on the path cannot hold is
    /// lost, and on a long path the window takes long to recover. Default off (a stack on a
    /// LAN or in one process gains nothing from it).
    pub pacing: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer_size: 64 * 1024,
            recv_buffer_size: 64 * 1024,
            mss: 1460,
            default_remote_mss: 536,
            window_scaling: true,
            sack: true,
            timestamps: true,
            nagle: true,
            delayed_ack: Some(Duration::from_millis(40)),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            clock_granularity: Duration::from_millis(1),
            time_wait: Duration::from_secs(60),
            fin_wait_2_timeout: None,
            keep_alive: None,
            max_retransmissions: 15,
            max_syn_retransmissions: 6,
            initial_window_segments: None,
            dup_ack_threshold: 3,
            challenge_ack_limit: 10,
            congestion: CongestionAlgorithm::NewReno,
            pacing: false,
        }
    }
}

/// Largest receive buffer window scaling can describe (65535 << 14, RFC 7323 §2.3).
pub const MAX_RECV_BUFFER: usize = 1 << 30;

/// Largest delayed-ACK timeout RFC 9293 §3.8.6.3 allows.
pub const MAX_DELAYED_ACK: Duration = Duration::from_millis(500);

impl TcpConfig {
    /// A copy with every value forced into its legal range (what a connection actually uses).
    pub fn clamped(&self) -> TcpConfig {
        let mut c = *self;
        c.send_buffer_size = c.send_buffer_size.clamp(1, MAX_RECV_BUFFER);
        c.recv_buffer_size = c.recv_buffer_size.clamp(1, MAX_RECV_BUFFER);
        c.mss = c.mss.clamp(64, 65495);
        c.default_remote_mss = c.default_remote_mss.clamp(64, 65495);
        c.delayed_ack = c.delayed_ack.map(|d| d.min(MAX_DELAYED_ACK));
        c.min_rto = c.min_rto.max(Duration::from_millis(1));
        c.max_rto = c.max_rto.max(c.min_rto);
        c.initial_rto = c.initial_rto.clamp(c.min_rto, c.max_rto);
        c.dup_ack_threshold = c.dup_ack_threshold.max(1);
        if let Some(k) = &mut c.keep_alive {
            k.idle = k.idle.max(Duration::from_millis(1));
            k.interval = k.interval.max(Duration::from_millis(1));
        }
        c
    }

    /// The window shift we offer: the smallest that lets the 16-bit field describe the whole
    /// receive buffer (RFC 7323 §2.3), at most 14.
    pub fn window_shift(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.recv_buffer_size >> shift) > 65535 {
            shift += 1;
        }
        shift
    }
}
