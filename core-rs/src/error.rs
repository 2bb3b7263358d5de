//! The errors that end a connection. Each maps to the RFC 4253 disconnect reason a server sends for it.

use alloc::borrow::Cow;

use crate::msg::DisconnectReason;
use crate::wire::WireError;

/// A fatal error on one connection. Once raised it sticks: the connection sends one DISCONNECT and
/// accepts no more input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub reason: DisconnectReason,
    pub description: Cow<'static, str>,
}

impl Error {
    pub fn new(reason: DisconnectReason, description: impl Into<Cow<'static, str>>) -> Self {
        Error { reason, description: description.into() }
    }

    pub fn protocol(description: impl Into<Cow<'static, str>>) -> Self {
        Error::new(DisconnectReason::ProtocolError, description)
    }

    pub fn kex(description: impl Into<Cow<'static, str>>) -> Self {
        Error::new(DisconnectReason::KeyExchangeFailed, description)
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::protocol(match e {
            WireError::Truncated => "message truncated",
            WireError::TrailingBytes => "trailing bytes after message",
            WireError::NotUtf8 => "text field is not valid UTF-8",
            WireError::Invalid => "field out of range",
        })
    }
}

pub type Result<T, E = Error> = core::result::Result<T, E>;
