//! `curve25519-sha256` and its older name `curve25519-sha256@libssh.org` (RFC 8731): the values are X25519
//! public keys Q_C and Q_S, K the X25519 result as an `mpint`. The X25519 half of the hybrids is here too.
//! Ephemeral secrets and K are zeroized when dropped.

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::round_trip::{Agreement, Pending};
use super::HashAlg;
use crate::error::{Error, Result};
use crate::wire::Writer;

pub struct Curve25519;

impl Agreement for Curve25519 {
    fn hash(&self) -> HashAlg {
        HashAlg::Sha256
    }

    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>) {
        let secret = ephemeral(rng);
        (XPublic::from(&secret).as_bytes().to_vec(), Box::new(Secret(secret)))
    }
}

struct Secret(StaticSecret);

impl Pending for Secret {
    fn finish(self: Box<Self>, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = x25519(&self.0, peer)?;
        Ok(mpint(&k))
    }
}

pub(super) fn ephemeral(rng: &mut dyn CryptoRngCore) -> StaticSecret {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut());
    StaticSecret::from(*bytes)
}

/// The X25519 result of our secret and the peer's 32-byte public key.
pub(super) fn x25519(ours: &StaticSecret, theirs: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let theirs: [u8; 32] = theirs.try_into().map_err(|_| Error::kex("curve25519 public key is not 32 bytes"))?;
    let shared = ours.diffie_hellman(&XPublic::from(theirs));
    // RFC 8731 §3: an all-zero result (a low-order point from the peer) must abort.
    if !shared.was_contributory() {
        return Err(Error::kex("curve25519 shared secret is zero"));
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// K as the `mpint` RFC 8731 hashes.
fn mpint(k: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    // Sized for the longest mpint of 32 bytes, so that it is never copied by a reallocation.
    let mut w = Writer::with_capacity(4 + 1 + 32);
    w.mpint(k);
    Zeroizing::new(w.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;
    use crate::msg;
    use hex_literal::hex;

    #[test]
    fn x25519_matches_rfc7748_vector() {
        // RFC 7748 §6.1.
        let alice = StaticSecret::from(hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        let bob_public = hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        assert_eq!(*x25519(&alice, &bob_public).unwrap(), hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
        assert_eq!(XPublic::from(&alice).as_bytes(), &hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    }

    #[test]
    fn low_order_and_wrong_size_points_are_refused() {
        let mut rng = EntropyPool::new(b"t");
        for bad in [&[0u8; 32][..], &[9u8; 31][..], &[9u8; 33][..]] {
            let err = Curve25519.server_answer(bad, &mut rng).err().unwrap();
            assert_eq!(err.reason, msg::DisconnectReason::KeyExchangeFailed);
        }
    }
}
