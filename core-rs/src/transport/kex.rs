//! Key exchange: the server side of `curve25519-sha256` (RFC 8731), the exchange hash (RFC 4253 §8) and
//! key derivation (RFC 4253 §7.2). Further methods add a variant to [`KexAlg`] and a function here.

use alloc::vec::Vec;
use rand_core::{CryptoRng, RngCore};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len};
use crate::crypto::hmac::SecretSha256;
use crate::error::{Error, Result};
use crate::keys::HostKey;
use crate::msg;
use crate::transport::negotiate::{CipherAlg, KexAlg, MacAlg, Negotiated};
use crate::wire::{Reader, Writer};

/// What both sides hash into H besides the method's own values.
pub struct Transcript<'a> {
    pub client_version: &'a [u8],
    pub server_version: &'a [u8],
    pub client_kexinit: &'a [u8],
    pub server_kexinit: &'a [u8],
}

/// The result of a finished exchange on the server side.
pub struct KexResult {
    /// The KEX reply message to send.
    pub reply: Vec<u8>,
    pub exchange_hash: Vec<u8>,
    /// The shared secret K, already encoded as the method hashes it (an `mpint` here).
    pub shared_secret: Zeroizing<Vec<u8>>,
}

/// The message number that carries the client's share for `kex`.
pub fn client_init_message(kex: KexAlg) -> u8 {
    match kex {
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256Libssh => msg::KEX_ECDH_INIT,
    }
}

/// Runs the server side of `kex` on the client's init message.
pub fn server_exchange(
    kex: KexAlg,
    transcript: &Transcript,
    client_init: &[u8],
    host_key: &HostKey,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<KexResult> {
    match kex {
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256Libssh => curve25519(transcript, client_init, host_key, rng),
    }
}

fn curve25519(transcript: &Transcript, client_init: &[u8], host_key: &HostKey, rng: &mut (impl RngCore + CryptoRng)) -> Result<KexResult> {
    let mut r = Reader::new(client_init);
    r.u8()?;
    let q_c: [u8; 32] = r.string()?.try_into().map_err(|_| Error::kex("curve25519 public key is not 32 bytes"))?;
    r.finish()?;

    let mut secret_bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(secret_bytes.as_mut());
    let secret = StaticSecret::from(*secret_bytes);
    let q_s = XPublic::from(&secret);
    let shared = secret.diffie_hellman(&XPublic::from(q_c));
    // RFC 8731 §3: an all-zero result (a low-order point from the client) must abort.
    if !shared.was_contributory() {
        return Err(Error::kex("curve25519 shared secret is zero"));
    }
    // Sized for the longest mpint of 32 bytes, so that it is never copied by a reallocation.
    let mut k = Writer::with_capacity(4 + 1 + 32);
    k.mpint(shared.as_bytes());
    let shared_secret = Zeroizing::new(k.into_vec());

    let host_blob = host_key.public().blob();
    let mut h = SecretSha256::default();
    hash_transcript(&mut h, transcript, &host_blob);
    h.update(&string(&q_c));
    h.update(&string(q_s.as_bytes()));
    h.update(shared_secret.as_slice());
    let mut exchange_hash = alloc::vec![0; 32];
    h.finish(&mut exchange_hash);

    let mut reply = Writer::message(msg::KEX_ECDH_REPLY);
    reply.string(&host_blob).string(q_s.as_bytes()).string(&host_key.sign(&exchange_hash));
    Ok(KexResult { reply: reply.into_vec(), exchange_hash, shared_secret })
}

fn string(bytes: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(bytes);
    w.into_vec()
}

fn hash_transcript(h: &mut SecretSha256, t: &Transcript, host_key_blob: &[u8]) {
    for part in [t.client_version, t.server_version, t.client_kexinit, t.server_kexinit, host_key_blob] {
        h.update(&string(part));
    }
}

/// Key material for one direction, zeroized on drop.
pub struct Keys {
    pub cipher: CipherAlg,
    pub mac: Option<MacAlg>,
    pub iv: Zeroizing<Vec<u8>>,
    pub key: Zeroizing<Vec<u8>>,
    pub mac_key: Zeroizing<Vec<u8>>,
}

/// RFC 4253 §7.2: `HASH(K || H || letter || session_id)`, extended with `HASH(K || H || K1 || ...)`.
fn derive(kex: KexAlg, k: &[u8], h: &[u8], letter: u8, session_id: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    match kex {
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256Libssh => {
            let mut block = Zeroizing::new([0u8; 32]);
            let mut d = SecretSha256::default();
            d.update(k);
            d.update(h);
            d.update(&[letter]);
            d.update(session_id);
            d.finish(block.as_mut());
            out.extend_from_slice(block.as_ref());
            while out.len() < len {
                let mut d = SecretSha256::default();
                d.update(k);
                d.update(h);
                d.update(out.as_slice());
                d.finish(block.as_mut());
                out.extend_from_slice(block.as_ref());
            }
        }
    }
    out.truncate(len);
    out
}

/// Derives the client-to-server and server-to-client keys.
pub fn derive_keys(kex: KexAlg, negotiated: &Negotiated, k: &[u8], h: &[u8], session_id: &[u8]) -> (Keys, Keys) {
    let side = |cipher: CipherAlg, mac: Option<MacAlg>, letters: [u8; 3]| {
        let [iv, key, mac_letter] = letters;
        Keys {
            cipher,
            mac,
            iv: derive(kex, k, h, iv, session_id, cipher_iv_len(cipher)),
            key: derive(kex, k, h, key, session_id, cipher_key_len(cipher)),
            mac_key: derive(kex, k, h, mac_letter, session_id, mac.map(mac_key_len).unwrap_or(0)),
        }
    };
    (side(negotiated.cipher_c2s, negotiated.mac_c2s, *b"ACE"), side(negotiated.cipher_s2c, negotiated.mac_s2c, *b"BDF"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use sha2::{Digest, Sha256};

    #[test]
    fn x25519_matches_rfc7748_vector() {
        // RFC 7748 §6.1.
        let alice = StaticSecret::from(hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        let bob_public = XPublic::from(hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
        assert_eq!(alice.diffie_hellman(&bob_public).as_bytes(), &hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
        assert_eq!(XPublic::from(&alice).as_bytes(), &hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    }

    #[test]
    fn derivation_extends_with_previous_output() {
        let k = [1u8; 33];
        let h = [2u8; 32];
        let long = derive(KexAlg::Curve25519Sha256, &k, &h, b'C', &h, 64);
        let short = derive(KexAlg::Curve25519Sha256, &k, &h, b'C', &h, 32);
        assert_eq!(&long[..32], &short[..]);
        let mut d = Sha256::new();
        d.update(k);
        d.update(h);
        d.update(&short[..]);
        assert_eq!(&long[32..], &d.finalize()[..]);
    }

    #[test]
    fn low_order_client_point_is_refused() {
        let key = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let t = Transcript { client_version: b"SSH-2.0-a", server_version: b"SSH-2.0-b", client_kexinit: b"x", server_kexinit: b"y" };
        let mut init = Writer::message(msg::KEX_ECDH_INIT);
        init.string(&[0u8; 32]);
        let mut rng = crate::crypto::rng::EntropyPool::new(b"t");
        let err = server_exchange(KexAlg::Curve25519Sha256, &t, init.as_slice(), &key, &mut rng).err().unwrap();
        assert_eq!(err.reason, crate::msg::DisconnectReason::KeyExchangeFailed);
    }
}
