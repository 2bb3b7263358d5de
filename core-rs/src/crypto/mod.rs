//! Cryptographic building blocks over RustCrypto primitives: packet ciphers and MACs, and the seeded RNG.

pub mod cipher;
pub mod hmac;
pub mod rng;
