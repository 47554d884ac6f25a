//! The four WireGuard messages (whitepaper §5.4): initiation, response, cookie reply, transport.

mod repr;

pub use repr::{CookieReplyRepr, InitiationRepr, ResponseRepr};
