//! braid as a library: the pieces of the daemon that are pure logic, so they are testable
//! without sockets: the UAPI protocol `wg` speaks to the daemon ([`uapi`]), wg-quick style
//! config files ([`config`]) and key encodings ([`keys`]).
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod keys;
pub mod net;
pub mod tunnel;
pub mod uapi;

pub use braid_engine::in_process::PacketPort;
pub use braid_engine::PeerEvent;
pub use config::TunnelConfig;
pub use net::NetStack;
pub use tunnel::{Tunnel, TunnelError, TunnelOptions, TunnelStats};
