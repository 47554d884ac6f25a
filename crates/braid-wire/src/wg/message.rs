//! Dispatch of a received datagram to the view of the message type it announces.

use super::cookie_reply::CookieReply;
use super::error::WireError;
use super::initiation::Initiation;
use super::message_type::{check_common_header, MessageType};
use super::response::Response;
use super::transport::Transport;

/// A checked WireGuard message of any of the four types.
///
/// Every variant has passed its view's `new_checked`, so its accessors cannot panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<T> {
    /// Handshake initiation (type 1).
    Initiation(Initiation<T>),
    /// Handshake response (type 2).
    Response(Response<T>),
    /// Cookie reply (type 3).
    CookieReply(CookieReply<T>),
    /// Transport data (type 4).
    Transport(Transport<T>),
}

impl<'a> Message<&'a [u8]> {
    /// Parses a received datagram, borrowing it.
    ///
    /// Checks the header (known type, reserved bytes zero) and then the length that type demands.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::new_checked(buf)
    }
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Checks any buffer (e.g. `&mut [u8]`, so a transport payload can then be opened in place)
    /// and wraps it in the view matching its type byte.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        Ok(match check_common_header(buf.as_ref())? {
            MessageType::Initiation => Self::Initiation(Initiation::new_checked(buf)?),
            MessageType::Response => Self::Response(Response::new_checked(buf)?),
            MessageType::CookieReply => Self::CookieReply(CookieReply::new_checked(buf)?),
            MessageType::Transport => Self::Transport(Transport::new_checked(buf)?),
        })
    }

    /// The type byte this message was dispatched on.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Initiation(_) => MessageType::Initiation,
            Self::Response(_) => MessageType::Response,
            Self::CookieReply(_) => MessageType::CookieReply,
            Self::Transport(_) => MessageType::Transport,
        }
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Initiation(view) => view.as_bytes(),
            Self::Response(view) => view.as_bytes(),
            Self::CookieReply(view) => view.as_bytes(),
            Self::Transport(view) => view.as_bytes(),
        }
    }
}
