//! The slice of a sans-IO device the simulator drives.
//!
//! The simulator is written against this trait rather than `braid_proto::Device` directly so
//! its event loop, routing and timer bookkeeping can be tested with a trivial device whose
//! behaviour is known exactly; a failing scenario then points at the device, not at the
//! harness. `braid_proto::Device` implements it in [`crate::wg`].

use core::net::{IpAddr, SocketAddr};
use core::ops::Range;

use braid_proto::Instant;

/// A datagram the device wants sent: `len` bytes of the caller's buffer, to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// Destination on the underlay.
    pub to: SocketAddr,
    /// How many bytes of the buffer to send.
    pub len: usize,
}

/// A sans-IO protocol endpoint: fed datagrams, TUN packets and timer ticks at explicit
/// times, drained of datagrams, asked when it next needs a tick.
pub trait SimDevice {
    /// Why the device refused an input; logged with `{:?}`.
    type DropReason: Clone + core::fmt::Debug;

    /// A datagram from `from` arrived on local address `local`; decrypt in place and return
    /// the range of `datagram` to hand to the TUN, if any.
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        local: IpAddr,
        datagram: &mut [u8],
    ) -> Result<Option<Range<usize>>, Self::DropReason>;

    /// An IP packet read from the TUN; returns a datagram written to `out`, if one is ready now.
    fn handle_packet(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Outbound>, Self::DropReason>;

    /// Next queued datagram (handshakes, keepalives, flushed packets), written to `buf`.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Outbound>;

    /// Runs every timer that has expired at `now`.
    fn poll_timers(&mut self, now: Instant);

    /// When `poll_timers` next has work; `None` when no timer is pending.
    fn next_deadline(&self) -> Option<Instant>;
}
