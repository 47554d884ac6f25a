//! Time as a value: the core never reads a clock (see the `braid-time` crate).

pub use braid_time::Instant;
