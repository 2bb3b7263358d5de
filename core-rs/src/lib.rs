//! wasshd-core: a sans-IO SSH-2 server. It performs no I/O, reads no clock and asks the platform for no
//! randomness: the host passes in bytes, the time in milliseconds and entropy, and takes out bytes,
//! events and the next deadline. It never panics on input; every malformed or hostile message ends its
//! own connection with the RFC 4253 disconnect reason a server should send.
//!
//! Layout follows the RFCs: [`wire`] (RFC 4251 data types), [`transport`] (RFC 4253: a role-neutral
//! session over packets, negotiation and one file per key exchange method), [`auth`] (RFC 4252/4256
//! messages), [`connection`] (RFC 4254 messages and channels), [`keys`] (key types and signature
//! algorithms), [`crypto`], [`server`]: the server's authentication and connection layers over a
//! transport session, and [`client`]: the client's, over the same session in the client role.

#![no_std]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

extern crate alloc;

/// Declares an algorithm enum whose variants map one-to-one to wire names (RFC 4251 §6).
macro_rules! algorithms {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

pub mod auth;
pub mod client;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod error;
pub mod event;
pub mod keys;
pub mod msg;
pub mod server;
pub mod transport;
pub mod wipe;
pub mod wire;

pub use client::{Client, ClientEvent};
pub use config::Config;
pub use error::Error;
pub use event::{AuthMethod, AuthReply, AuthRequest, Event};
pub use server::{CommandError, Server};
