//! `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex): ML-KEM-768 (FIPS 203, RustCrypto's
//! `ml-kem`) beside X25519, hashed with SHA-256.

use alloc::vec::Vec;
use ml_kem::kem::{Decapsulate, DecapsulationKey, Encapsulate, EncapsulationKey};
use ml_kem::{Ciphertext, Encoded, EncodedSizeUser, KemCore, MlKem768Params};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::hybrid::Kem;
use super::HashAlg;
use crate::error::{Error, Result};

pub struct MlKem768;

type Ek = EncapsulationKey<MlKem768Params>;

impl Kem for MlKem768 {
    const PUBLIC_KEY: usize = 1184;
    const CIPHERTEXT: usize = 1088;
    const HASH: HashAlg = HashAlg::Sha256;
    type Secret = DecapsulationKey<MlKem768Params>;

    fn generate(mut rng: &mut dyn CryptoRngCore) -> (Self::Secret, Vec<u8>) {
        let (dk, ek) = ml_kem::MlKem768::generate(&mut rng);
        (dk, ek.as_bytes().to_vec())
    }

    fn encapsulate(public: &[u8], mut rng: &mut dyn CryptoRngCore) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
        let encoded = Encoded::<Ek>::try_from(public).map_err(|_| invalid())?;
        let ek = Ek::from_bytes(&encoded);
        // FIPS 203 §7.2 modulus check: decoding reduces each coefficient mod q, so a key that does not
        // encode back to itself had one out of range.
        if ek.as_bytes() != encoded {
            return Err(invalid());
        }
        let (ciphertext, secret) = ek.encapsulate(&mut rng).map_err(|()| invalid())?;
        Ok((ciphertext.to_vec(), Zeroizing::new(secret.into())))
    }

    fn decapsulate(secret: &Self::Secret, ciphertext: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let ciphertext = Ciphertext::<ml_kem::MlKem768>::try_from(ciphertext).map_err(|_| invalid())?;
        // Implicit rejection (FIPS 203 §6.3): a forged ciphertext yields an unrelated secret, never an error.
        let shared = secret.decapsulate(&ciphertext).map_err(|()| invalid())?;
        Ok(Zeroizing::new(shared.into()))
    }
}

fn invalid() -> Error {
    Error::kex("invalid ML-KEM-768 value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;

    #[test]
    fn a_public_key_with_a_coefficient_out_of_range_is_refused() {
        let mut rng = EntropyPool::new(b"k");
        let (_, mut public) = MlKem768::generate(&mut rng);
        assert!(MlKem768::encapsulate(&public, &mut rng).is_ok());
        // The first 12-bit coefficient set to 4095, above q = 3329.
        public[0] = 0xff;
        public[1] |= 0x0f;
        assert_eq!(MlKem768::encapsulate(&public, &mut rng).err().unwrap().description, "invalid ML-KEM-768 value");
    }
}
