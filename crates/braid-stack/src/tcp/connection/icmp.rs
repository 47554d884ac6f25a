//! ICMP errors about this connection's segments: path-MTU discovery (RFC 1191, RFC 8201) and soft
//! errors (RFC 1122 §4.2.3.9, RFC 5461), validated as RFC 5927 §4.3 advises.
//!
//! The interface finds the connection from the four-tuple quoted in the error and passes the
//! quoted sequence number; the connection accepts the error only when that number lies in
//! `[SND.UNA, SND.MAX]`, i.e. when it names a segment that may still be in flight. A blind
//! attacker must then guess a window's worth of the 2^32 sequence space as well as the ports.
//!
//! * **Packet too big / fragmentation needed** lowers the effective MSS (never raises it; the
//!   caller derives the new value from the reported MTU and the family's floor) and, when data is
//!   in flight, sends it again at once at the new size from `SND.UNA`: the segments that did not
//!   fit were dropped by the router, and waiting for the RTO would cost a second or more. It is not
//!   a congestion signal (RFC 1191 §6.5, RFC 8201 §5.4): the congestion window is kept, no backoff.
//! * **Unreachable, time exceeded, parameter problem**: in a synchronized state only recorded
//!   (RFC 5927 §5.2 treats even "hard" errors as soft there). Before the handshake completes:
//!   a hard error ([`SoftError::aborts_handshake`]) ends the connection at once, as RFC 1122 asks
//!   and Linux does; a soft error in SYN-SENT lets the SYN retransmission timer that is already
//!   running decide: if the SYN-ACK has not come when it fires, the connection fails with the ICMP
//!   error instead of trying more SYNs (RFC 5461 §4.1's choice, also the BSDs' — a transient
//!   routing problem gets one RTO of grace, a dead route fails in about a second instead of a
//!   minute). A soft error in SYN-RECEIVED is only recorded.

use super::Connection;
use crate::tcp::error::{ConnectionError, SoftError};
use crate::tcp::seq::Seq;
use crate::tcp::signals::Signals;
use crate::tcp::state::State;
use crate::tcp::timers::TimerKind;
use crate::time::Instant;

use super::TIMESTAMPS_LEN;

/// The smallest effective MSS a "packet too big" can bring a connection to: IPv4's 576-byte
/// minimum MTU minus 40 bytes of IP and TCP headers (RFC 879, RFC 1191). IPv6's larger floor
/// (1280-byte MTU, RFC 8201) is applied by the interface, which knows the family.
pub const MIN_PATH_MSS: u32 = 536;

impl Connection {
    /// The path to the peer carries at most `mss` bytes of TCP options and payload per segment
    /// (the reported MTU minus the IP header and the 20-byte TCP header), says an ICMPv6 Packet
    /// Too Big or ICMPv4 Fragmentation Needed quoting our segment with sequence number
    /// `quoted_seq`.
    ///
    /// Returns `None`, changing nothing, when `quoted_seq` is outside `[SND.UNA, SND.MAX]` (a
    /// stale or forged message: count it and drop it). Otherwise lowers the effective MSS to `mss`
    /// (at least [`MIN_PATH_MSS`]; a value not below the current one changes nothing) and, if data
    /// is in flight, rewinds `SND.NXT` to `SND.UNA` so [`poll_transmit`](Self::poll_transmit)
    /// resends it at the new size right away; `may_send` says so. Ignored in SYN-SENT: the MSS is
    /// only known once the SYN-ACK arrives, and a SYN is far smaller than any legal MTU.
    pub fn on_packet_too_big(&mut self, now: Instant, mss: u32, quoted_seq: Seq) -> Option<Signals> {
        if !self.quotes_own_segment(quoted_seq) {
            return None;
        }
        let mss = mss.max(MIN_PATH_MSS);
        if self.state != State::SynSent && mss < self.eff_mss {
            self.eff_mss = mss;
            self.smss = mss.saturating_sub(if self.ts_ok { TIMESTAMPS_LEN } else { 0 }).max(1);
            let sending = matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
            );
            if sending && self.snd_max > self.snd_una {
                self.resend_in_flight(now);
            }
        }
        Some(Signals { may_send: self.plan().is_some(), ..Signals::default() })
    }

    /// An ICMP destination unreachable, time exceeded or parameter problem (`error`) quoting our
    /// segment with sequence number `quoted_seq` arrived.
    ///
    /// Returns `None`, changing nothing, when `quoted_seq` is outside `[SND.UNA, SND.MAX]`.
    /// Otherwise records `error` as the connection's soft error and, before the handshake
    /// completes, may end the connection (see the module documentation): `delete` is then set and
    /// [`error`](Self::error) is [`ConnectionError::Unreachable`].
    pub fn on_soft_error(&mut self, error: SoftError, quoted_seq: Seq) -> Option<Signals> {
        if !self.quotes_own_segment(quoted_seq) {
            return None;
        }
        let mut sig = Signals::default();
        self.soft_error = Some((error, self.snd_una));
        match self.state {
            State::SynSent | State::SynReceived if error.aborts_handshake() => {
                self.fail(ConnectionError::Unreachable(error), &mut sig);
            }
            State::SynSent => {
                // The next SYN timeout is the last: `on_timeout` then fails the connection, and
                // `fail` reports this error rather than `TimedOut`.
                self.retries = self.retries.max(self.cfg.max_syn_retransmissions);
            }
            _ => {}
        }
        Some(sig)
    }

    /// The last ICMP soft error about this connection's segments (RFC 1122 §4.2.3.9 asks that the
    /// application can learn it), until an ACK from the peer (not an old one) proves the path
    /// works again.
    pub fn soft_error(&self) -> Option<SoftError> {
        self.soft_error.filter(|&(_, una)| una == self.snd_una).map(|(error, _)| error)
    }

    /// The path is narrower than IPv4's 576-byte minimum (a "fragmentation needed" reported
    /// less): from now on this connection's segments leave without DF, so routers fragment what
    /// the MSS floor cannot make small enough. Never undone for the connection's lifetime.
    pub fn allow_fragmentation(&mut self) {
        self.may_fragment = true;
    }

    /// Whether this connection's IPv4 segments may be fragmented on the way (see
    /// [`allow_fragmentation`](Self::allow_fragmentation)); otherwise they carry DF.
    pub fn may_fragment(&self) -> bool {
        self.may_fragment
    }

    /// RFC 5927 §4.3: an ICMP error is about one of our segments only if the sequence number it
    /// quotes may still be unacknowledged. `SND.MAX` itself is included: pure ACKs carry it.
    fn quotes_own_segment(&self, seq: Seq) -> bool {
        self.state != State::Closed && self.snd_una <= seq && seq <= self.snd_max
    }

    /// Go-back-N from `SND.UNA`, as a retransmission timeout does but without its congestion
    /// response (no window reduction, no RTO backoff, no retry counted): leave loss recovery and
    /// forget SACK information (everything in flight is resent), remember `SND.MAX` so duplicate
    /// ACKs for the old flight cannot start a fast retransmit (RFC 6582 §3.2 step 4), take no RTT
    /// sample from the resent data (Karn), and restart the retransmission timer from now.
    fn resend_in_flight(&mut self, now: Instant) {
        self.recovery.on_rto(self.snd_una, self.snd_max);
        self.loss_probe_pending = false;
        self.timers.cancel(TimerKind::LossProbe);
        self.pto_at = None;
        self.snd_nxt = self.snd_una;
        self.rtt_timing = None;
        self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
    }
}
