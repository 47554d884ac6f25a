//! braid-io: the operating-system side of braid.
//!
//! The protocol core never touches the OS; everything that does lives here, behind small
//! types: a TUN device, the pair of UDP sockets a WireGuard interface listens on, and the
//! process plumbing a daemon needs (daemonising). `unsafe` is allowed only in the modules that
//! make system calls, and every block says why it is sound.
#![deny(unsafe_code)]

mod mmsg;
pub mod offload;
mod pktinfo;
pub mod process;
pub mod sandbox;
pub mod tun;
pub mod udp;

pub use tun::Tun;
pub use udp::UdpSockets;
