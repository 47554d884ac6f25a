//! braid as a library: WireGuard tunnels inside an application ([`Tunnel`]), sockets over them
//! through braid's userspace TCP/IP stack ([`net`]), no root and no TUN; and everything the
//! `braid` command is made of: wg-quick style config files ([`config`]), the UAPI protocol `wg`
//! speaks to the daemon ([`uapi`]), the daemon's socket and daemonising ([`daemon`]), key
//! encodings ([`keys`]) and the commands ([`cli`]). The data path itself is `braid-engine`.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::Write;
//! let file = braid::config::load_config_file("wg0.conf".as_ref())?;
//! let mut tunnel = braid::Tunnel::start(&file.config)?;
//! let net = tunnel.net()?;
//! let mut stream = net.tcp_connect("198.19.0.2:7".parse()?)?;
//! stream.write_all(b"hello")?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod keys;
pub mod net;
pub mod rootless;
pub mod tunnel;
pub mod uapi;

pub use braid_engine::in_process::PacketPort;
pub use braid_engine::PeerEvent;
pub use config::TunnelConfig;
pub use net::NetStack;
pub use tunnel::{Tunnel, TunnelError, TunnelOptions, TunnelStats};
