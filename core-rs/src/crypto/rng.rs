//! The core's only source of randomness: a ChaCha20 generator seeded by the host and re-seeded with
//! fresh host entropy, so the core itself never asks the platform for randomness.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroizing;

use crate::crypto::hmac::SecretSha256;

pub struct EntropyPool {
    rng: ChaCha20Rng,
}

impl EntropyPool {
    pub fn new(seed: &[u8]) -> Self {
        let mut pool = EntropyPool { rng: ChaCha20Rng::from_seed([0; 32]) };
        pool.mix(seed);
        pool
    }

    /// Folds host entropy into the state: the new key is SHA-256 over output of the old state and the
    /// new bytes, so neither a weak old state nor weak new bytes alone decide it.
    pub fn mix(&mut self, entropy: &[u8]) {
        let mut current = Zeroizing::new([0u8; 32]);
        self.rng.fill_bytes(current.as_mut());
        let mut h = SecretSha256::default();
        h.update(current.as_ref());
        h.update(entropy);
        let mut seed = Zeroizing::new([0u8; 32]);
        h.finish(seed.as_mut());
        self.rng = ChaCha20Rng::from_seed(*seed);
    }
}

impl RngCore for EntropyPool {
    fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.rng.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.rng.try_fill_bytes(dest)
    }
}

impl CryptoRng for EntropyPool {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_changes_the_stream_and_seeds_differ() {
        let mut a = EntropyPool::new(b"seed one");
        let mut b = EntropyPool::new(b"seed two");
        assert_ne!(a.next_u64(), b.next_u64());
        let mut c = EntropyPool::new(b"seed one");
        c.next_u64();
        let mut d = EntropyPool::new(b"seed one");
        d.next_u64();
        d.mix(b"fresh");
        assert_ne!(c.next_u64(), d.next_u64());
    }
}
