//! Per-peer timers.
//!
//! WireGuard keeps a handful of timers per peer (handshake retry, keepalive, new handshake after
//! silence, zeroing keys, persistent keepalive) and pushes most of them forward on every packet.
//! [`TimerWheel`] holds them all with O(1), allocation-free scheduling and tells the driver the
//! exact instant it next has to wake up.

mod wheel;

pub use wheel::TimerWheel;
