//! The transport layer (RFC 4253): identification, binary packets, algorithm negotiation, key exchange.

pub mod ident;
pub mod kex;
pub mod negotiate;
pub mod packet;
