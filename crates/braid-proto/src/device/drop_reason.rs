//! Every reason the device refuses a packet, and the counters that make those refusals
//! visible (`braid show`, metrics). A malformed or hostile packet is dropped and counted,
//! never a panic and never a state change.

/// Why a datagram or a TUN packet was not processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not a well-formed WireGuard message (length, type or reserved bytes).
    Malformed,
    /// mac1 did not verify: not addressed to us, or corrupted.
    InvalidMac,
    /// Under load, this source exceeded its handshake rate.
    RateLimited,
    /// The device has no private key yet.
    NoPrivateKey,
    /// The handshake failed to decrypt or used a low-order key.
    HandshakeFailed,
    /// The initiation's static key is not a configured peer.
    UnknownPeer,
    /// The peer's public key has low order: it can never complete a handshake.
    InertPeer,
    /// The initiation's timestamp is not newer than the last accepted one (replay).
    TimestampReplay,
    /// More than 50 initiations per second from one peer.
    InitiationFlood,
    /// The receiver index matches no session or pending handshake of ours.
    UnknownIndex,
    /// The cookie reply did not decrypt against the mac1 we last sent.
    InvalidCookie,
    /// The session is older than Reject-After-Time or its counter is exhausted.
    SessionExpired,
    /// The transport message's tag did not verify.
    DecryptFailed,
    /// The counter was seen before or is too old for the replay window.
    Replay,
    /// The decrypted packet is not a valid IPv4/IPv6 packet.
    InvalidInnerPacket,
    /// The decrypted packet's source is not in the sending peer's allowed IPs.
    SourceNotAllowed,
    /// A TUN packet that is not valid IPv4/IPv6.
    InvalidOutgoingPacket,
    /// No peer's allowed IPs cover the destination.
    NoRoute,
    /// The peer has no known endpoint.
    NoEndpoint,
    /// The caller's output buffer is too small for the sealed packet.
    BufferTooSmall,
    /// The device-wide handshake budget was spent: dropped before any Diffie-Hellman work.
    OverBudget,
}

impl DropReason {
    /// All reasons, in counter order.
    pub const ALL: [DropReason; 21] = [
        DropReason::Malformed,
        DropReason::InvalidMac,
        DropReason::RateLimited,
        DropReason::NoPrivateKey,
        DropReason::HandshakeFailed,
        DropReason::UnknownPeer,
        DropReason::InertPeer,
        DropReason::TimestampReplay,
        DropReason::InitiationFlood,
        DropReason::UnknownIndex,
        DropReason::InvalidCookie,
        DropReason::SessionExpired,
        DropReason::DecryptFailed,
        DropReason::Replay,
        DropReason::InvalidInnerPacket,
        DropReason::SourceNotAllowed,
        DropReason::InvalidOutgoingPacket,
        DropReason::NoRoute,
        DropReason::NoEndpoint,
        DropReason::BufferTooSmall,
        DropReason::OverBudget,
    ];

    fn slot(self) -> usize {
        self as usize
    }

    /// A short stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::InvalidMac => "invalid_mac",
            DropReason::RateLimited => "rate_limited",
            DropReason::NoPrivateKey => "no_private_key",
            DropReason::HandshakeFailed => "handshake_failed",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::InertPeer => "inert_peer",
            DropReason::TimestampReplay => "timestamp_replay",
            DropReason::InitiationFlood => "initiation_flood",
            DropReason::UnknownIndex => "unknown_index",
            DropReason::InvalidCookie => "invalid_cookie",
            DropReason::SessionExpired => "session_expired",
            DropReason::DecryptFailed => "decrypt_failed",
            DropReason::Replay => "replay",
            DropReason::InvalidInnerPacket => "invalid_inner_packet",
            DropReason::SourceNotAllowed => "source_not_allowed",
            DropReason::InvalidOutgoingPacket => "invalid_outgoing_packet",
            DropReason::NoRoute => "no_route",
            DropReason::NoEndpoint => "no_endpoint",
            DropReason::BufferTooSmall => "buffer_too_small",
            DropReason::OverBudget => "over_budget",
        }
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Device-wide counters.
#[derive(Clone, Debug, Default)]
pub struct DeviceStats {
    drops: [u64; DropReason::ALL.len()],
    /// Cookie replies sent because we were under load.
    pub cookie_replies_sent: u64,
    /// Handshake initiations sent (first attempts and retries).
    pub initiations_sent: u64,
    /// Handshake responses sent.
    pub responses_sent: u64,
    /// Sessions established (either role, counted when keys are derived).
    pub sessions_derived: u64,
    /// Transport messages accepted with a counter below the highest their session had accepted:
    /// they arrived out of order (the replay window took them). Shows how much the path, or a
    /// sender spreading one peer over several threads, reorders.
    pub transport_reordered: u64,
}

impl DeviceStats {
    /// How many packets were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.slot()]
    }

    /// All drops, whatever the reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.slot()] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter_slot() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.slot(), i, "{r} is out of order in ALL");
        }
        let mut s = DeviceStats::default();
        s.count_drop(DropReason::Replay);
        s.count_drop(DropReason::Replay);
        assert_eq!(s.drops(DropReason::Replay), 2);
        assert_eq!(s.total_drops(), 2);
    }
}
