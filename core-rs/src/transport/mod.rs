//! The transport layer (RFC 4253): identification, binary packets, compression, algorithm negotiation, key
//! exchange, and the session that runs them for either end of a connection.

pub mod compress;
pub mod ident;
pub mod kex;
pub mod negotiate;
pub mod packet;
pub mod session;

/// Which end of a connection we are. The transport is the same for both; what differs is which
/// identification line and KEXINIT are the client's, which direction is ours to send, and which side of a
/// key exchange method we run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

impl Role {
    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }

    /// `(the client's, the server's)` from `(ours, the peer's)`.
    pub fn client_first<T>(self, ours: T, theirs: T) -> (T, T) {
        match self {
            Role::Server => (theirs, ours),
            Role::Client => (ours, theirs),
        }
    }

    /// `(ours, the peer's)` from `(the client's, the server's)`: what we send travels client-to-server on a
    /// client.
    pub fn ours_first<T>(self, client: T, server: T) -> (T, T) {
        match self {
            Role::Server => (server, client),
            Role::Client => (client, server),
        }
    }

    /// How log lines name this end.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}
