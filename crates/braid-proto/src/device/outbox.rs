//! Datagrams the device decided to send but the driver has not collected yet.
//!
//! Handshake messages are small and built at once; transport messages are sealed only when
//! the driver asks, straight into its buffer, so a flush of staged packets costs no copy.

use super::config::Endpoint;
use super::PeerId;

/// The largest handshake message (an initiation).
pub(crate) const MAX_HANDSHAKE_LEN: usize = 148;

// Handshake messages are rare and small: keeping them inline avoids an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outgoing {
    /// A ready handshake message or cookie reply.
    Message { peer: Option<PeerId>, to: Endpoint, len: usize, bytes: [u8; MAX_HANDSHAKE_LEN] },
    /// Seal and send the peer's staged packets while it has a session.
    Staged(PeerId),
}
