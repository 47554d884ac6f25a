//! Time as a value: the stack never reads a clock. The type is shared with the WireGuard core
//! through the small `braid-time` crate (the stack does not depend on braid-proto), so a driver
//! running both keeps one clock.

pub use braid_time::Instant;
