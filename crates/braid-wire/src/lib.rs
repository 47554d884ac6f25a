//! braid-wire: zero-copy views and parsed representations of the packets braid handles.
//!
//! Following smoltcp, each format has a `Packet<T: AsRef<[u8]>>`-style view that checks its
//! length once and then reads fields in place, and a plain-data `Repr` that protocol code
//! builds and consumes. Parsing never panics and never allocates.
#![forbid(unsafe_code)]

pub mod checksum;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip_header;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;
pub mod wg;
