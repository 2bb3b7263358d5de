//! `sntrup761x25519-sha512` and its first name `sntrup761x25519-sha512@openssh.com` (OpenSSH 8.5+, the
//! default of OpenSSH 9.0 to 9.8): Streamlined NTRU Prime 761 (the `sntrup761` crate) beside X25519, hashed
//! with SHA-512.

use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use sntrup761::{Ciphertext, DecapsulationKey, EncapsulationKey};
use zeroize::Zeroizing;

use super::hybrid::Kem;
use super::HashAlg;
use crate::error::{Error, Result};

pub struct Sntrup761;

impl Kem for Sntrup761 {
    const PUBLIC_KEY: usize = sntrup761::PUBLIC_KEY_SIZE;
    const CIPHERTEXT: usize = sntrup761::CIPHERTEXT_SIZE;
    const HASH: HashAlg = HashAlg::Sha512;
    type Secret = DecapsulationKey;

    fn generate(rng: &mut dyn CryptoRngCore) -> (Self::Secret, Vec<u8>) {
        let (public, secret) = sntrup761::generate_key_from_seed(*seed(rng));
        (secret, public.as_ref().to_vec())
    }

    fn encapsulate(public: &[u8], rng: &mut dyn CryptoRngCore) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
        let public = EncapsulationKey::try_from(public).map_err(|_| invalid())?;
        let (ciphertext, shared) = public.encapsulate_deterministic(*seed(rng));
        Ok((ciphertext.as_ref().to_vec(), secret(shared.as_ref())?))
    }

    fn decapsulate(secret_key: &Self::Secret, ciphertext: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let ciphertext = Ciphertext::try_from(ciphertext).map_err(|_| invalid())?;
        // Implicit rejection: a forged ciphertext yields an unrelated secret, never an error.
        secret(secret_key.decapsulate(&ciphertext).as_ref())
    }
}

/// A seed for the crate's own generator (it takes no `rand_core` 0.6 generator), from ours.
fn seed(rng: &mut dyn CryptoRngCore) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    seed
}

fn secret(shared: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    shared.try_into().map(Zeroizing::new).map_err(|_| invalid())
}

fn invalid() -> Error {
    Error::kex("invalid sntrup761 value")
}
