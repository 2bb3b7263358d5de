//! Cryptographic building blocks: the provider of bulk primitives and the core's own over RustCrypto, the
//! packet protections built on a provider, their known-answer tests, HMAC, UMAC and the seeded RNG.

#[cfg(any(target_arch = "wasm32", test))]
mod chacha4;
pub mod cipher;
pub mod hmac;
pub mod kat;
#[cfg(feature = "legacy")]
pub mod legacy;
pub mod provider;
pub mod rng;
pub mod rustcrypto;
pub mod umac;
