//! The user-facing commands beside the daemon: `show`, `up`, `down`. They talk to a running
//! daemon only through its UAPI socket, as `wg` does, so they work the same against braid
//! and (for `show`) against wireguard-go.

pub mod demo;
pub mod rootless;
pub mod show;
pub mod uapi_client;
pub mod up_down;
