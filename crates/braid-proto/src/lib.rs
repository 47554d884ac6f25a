//! braid-proto: the WireGuard protocol as a deterministic state machine.
//!
//! Nothing in this crate touches a socket, a clock or the OS random number generator: time
//! ([`Instant`]) and randomness ([`rand_core::CryptoRng`]) come in as arguments, so every
//! scenario — a rekey after 120 s, a lost initiation retried for 90 s, a handshake flood —
//! runs in a unit test in milliseconds. Drivers (TUN, UDP, AF_XDP, an in-process channel, the
//! simulator) feed a `Device` and drain what it wants sent.
#![forbid(unsafe_code)]

pub mod allowed_ips;
pub mod constants;
pub mod cookie;
pub mod crypto;
pub mod device;
pub mod noise;
pub mod replay;
pub mod time;
pub mod timers;

pub use allowed_ips::AllowedIps;
pub use device::{
    is_transport, ConfigError, Decrypted, Device, DeviceConfig, DeviceEvent, DeviceStats, DropReason, Endpoint,
    OpenJob, Opened, PeerConfig, PeerId, PeerStats, SealJob, Transmit,
};
pub use replay::ReplayWindow;
pub use time::Instant;
