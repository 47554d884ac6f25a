//! The four WireGuard messages (whitepaper §5.4): initiation, response, cookie reply, transport.
//!
//! All fields are little-endian; every message opens with a type byte and three zero bytes.
//! Each message has a zero-copy view (`Initiation<T>` …) over any `T: AsRef<[u8]>`, and the three
//! handshake messages have a plain-data repr with `parse` and `emit`. [`Message::parse`] checks a
//! received datagram and dispatches on its type.

mod bytes;
mod cookie_reply;
mod error;
mod initiation;
mod message;
mod message_type;
mod repr;
mod response;
mod transport;

#[cfg(test)]
mod tests;

pub use cookie_reply::CookieReply;
pub use error::WireError;
pub use initiation::Initiation;
pub use message::Message;
pub use message_type::{MessageType, COMMON_HEADER_LEN};
pub use repr::{CookieReplyRepr, InitiationRepr, ResponseRepr};
pub use response::Response;
pub use transport::Transport;
