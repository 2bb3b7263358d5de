//! OpenSSH's host-key update and rotation (PROTOCOL §2.5): after a login the server names every host key it
//! has, the keys it signs key exchanges with and the next keys it will move to, in a `hostkeys-00@openssh.com`
//! global request; a client that knows some of them but not others (OpenSSH's `UpdateHostKeys`) asks with
//! `hostkeys-prove-00@openssh.com` for proof that the server holds the private halves, then updates its
//! `known_hosts`.

use alloc::vec::Vec;

use crate::keys::{HostKey, KeyType, SigAlg};
use crate::msg;
use crate::wire::{Reader, Writer};

pub const ANNOUNCE: &str = "hostkeys-00@openssh.com";
pub const PROVE: &str = "hostkeys-prove-00@openssh.com";

/// Every installed key once, in the order given: the global request that names them (no reply wanted).
pub fn announcement<'a>(keys: impl Iterator<Item = &'a HostKey>) -> Vec<u8> {
    let mut w = Writer::message(msg::GLOBAL_REQUEST);
    w.string(ANNOUNCE.as_bytes()).bool(false);
    let mut named: Vec<Vec<u8>> = Vec::new();
    for key in keys {
        let blob = key.public().blob();
        if !named.contains(&blob) {
            w.string(&blob);
            named.push(blob);
        }
    }
    w.into_vec()
}

/// The REQUEST_SUCCESS payload answering a prove request (`data`: what follows its name and flag), or None to
/// refuse it: a key that is not ours, a malformed list, or more keys than the server has (each proof costs a
/// signature, so a client asks for each key at most once). RSA keys sign with the algorithm of the key
/// exchange when it used RSA, as OpenSSH's client then checks, and with `rsa-sha2-512` otherwise.
pub fn prove(
    data: &[u8],
    keys: &[&HostKey],
    session_id: &[u8],
    kex_alg: Option<SigAlg>,
    rng: &mut dyn rand_core::CryptoRngCore,
) -> Option<Vec<u8>> {
    let mut r = Reader::new(data);
    let mut asked = Vec::new();
    while r.remaining() > 0 {
        let blob = r.string().ok()?;
        if asked.len() == keys.len() {
            return None;
        }
        asked.push(*keys.iter().find(|k| k.public().blob() == blob)?);
    }
    let mut reply = Writer::message(msg::REQUEST_SUCCESS);
    for key in asked {
        let mut signed = Writer::new();
        signed.string(PROVE.as_bytes()).string(session_id).string(&key.public().blob());
        let alg = match (key.key_type(), kex_alg) {
            (KeyType::Rsa, Some(alg)) if alg.key_type() == KeyType::Rsa => alg,
            (KeyType::Rsa, _) => SigAlg::RsaSha512,
            (_, _) => *SigAlg::ALL.iter().find(|alg| key.signs(**alg))?,
        };
        reply.string(&key.sign(alg, signed.as_slice(), rng).ok()?);
    }
    Some(reply.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;

    fn ed25519(seed: u8) -> HostKey {
        HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn announcement_names_each_key_once() {
        let (a, b) = (ed25519(1), ed25519(2));
        let payload = announcement([&a, &b, &a].into_iter());
        let mut r = Reader::new(&payload);
        assert_eq!(r.u8().ok(), Some(msg::GLOBAL_REQUEST));
        assert_eq!(r.utf8().ok(), Some(ANNOUNCE));
        assert_eq!(r.bool().ok(), Some(false));
        assert_eq!(r.string().ok(), Some(&a.public().blob()[..]));
        assert_eq!(r.string().ok(), Some(&b.public().blob()[..]));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn proofs_verify_in_the_order_asked_and_strangers_are_refused() {
        let (a, b, stranger) = (ed25519(1), ed25519(2), ed25519(3));
        let mut rng = EntropyPool::new(&[7; 32]);
        let mut ask = Writer::new();
        ask.string(&b.public().blob()).string(&a.public().blob());
        let reply = prove(ask.as_slice(), &[&a, &b], b"session", None, &mut rng).expect("both keys are ours");
        let mut r = Reader::new(&reply);
        assert_eq!(r.u8().ok(), Some(msg::REQUEST_SUCCESS));
        for key in [&b, &a] {
            let mut signed = Writer::new();
            signed.string(PROVE.as_bytes()).string(b"session").string(&key.public().blob());
            let signature = r.string().expect("a signature per key");
            assert!(key.public().verify(SigAlg::Ed25519, signed.as_slice(), signature));
            // Bound to the session: the same proof does not verify for another one.
            let mut other = Writer::new();
            other.string(PROVE.as_bytes()).string(b"other").string(&key.public().blob());
            assert!(!key.public().verify(SigAlg::Ed25519, other.as_slice(), signature));
        }
        assert_eq!(r.remaining(), 0);

        let mut strange = Writer::new();
        strange.string(&stranger.public().blob());
        assert!(prove(strange.as_slice(), &[&a, &b], b"session", None, &mut rng).is_none());
        // Asking for more proofs than there are keys, or a list cut short, is refused too.
        let mut many = Writer::new();
        many.string(&a.public().blob()).string(&a.public().blob()).string(&a.public().blob());
        assert!(prove(many.as_slice(), &[&a, &b], b"session", None, &mut rng).is_none());
        assert!(prove(&[0, 0, 0, 9, 1], &[&a, &b], b"session", None, &mut rng).is_none());
    }
}
