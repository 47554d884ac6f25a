//! The cross-platform userspace configuration protocol (UAPI) that `wg` and `wg-quick`
//! speak to a userspace WireGuard daemon over `/var/run/wireguard/<iface>.sock`
//! (<https://www.wireguard.com/xplatform/>), byte-compatible with wireguard-go.
//!
//! This module is the pure logic; the daemon owns the socket. Per connection it keeps a
//! [`UapiSession`], feeds it what it reads and writes back what it returns:
//!
//! ```text
//! let reply = session.feed(&buf[..n], now, &mut device, &mut host);
//! socket.write_all(&reply)?;
//! if session.is_closed() { close the connection }
//! on EOF: socket.write_all(&session.finish()), then close
//! ```
//!
//! A `set` is atomic: the whole request is parsed and validated into a [`SetRequest`] first;
//! an error in any line gets `errno=-N` and applies nothing. The listen port and fwmark,
//! which live in the daemon's sockets, go through [`UapiHost`], before any device change, so a
//! failed rebind also leaves everything as it was. Keys never appear in errors or logs.

mod apply;
mod engine_host;
mod errno;
mod get;
mod host;
mod session;
mod set_request;
mod values;

#[cfg(test)]
pub(crate) mod tests;

pub use engine_host::{EngineHost, HostExtras};
pub use errno::Errno;
pub use get::{write_braid_extras, write_get_body};
pub use host::UapiHost;
pub use session::{UapiLimits, UapiSession};
pub use set_request::{DeviceOp, PeerOp, PeerSection, SetRequest, SetRequestParser};

pub(crate) use values::parse_decimal;
