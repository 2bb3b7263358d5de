//! The transport layer (RFC 4253): identification, binary packets, compression, algorithm negotiation, key exchange.

pub mod compress;
pub mod ident;
pub mod kex;
pub mod negotiate;
pub mod packet;
