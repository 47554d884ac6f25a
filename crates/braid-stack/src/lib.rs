//! braid-stack: a sans-IO userspace TCP/IP stack over an IP-layer device (no Ethernet, no ARP).
//!
//! Time and randomness come in as arguments; nothing here reads a clock or the OS RNG, and the
//! per-packet paths never allocate. See docs/ARCHITECTURE.md §4 for the layering.
#![forbid(unsafe_code)]

pub mod reassembly;
pub mod tcp;
pub mod time;

pub mod iface;
pub mod link;
pub mod socket;
