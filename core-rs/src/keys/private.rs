//! A private key in the core's canonical form, the one the key-file reader (the `keys` wasm module) hands the
//! server and client modules: the key as OpenSSH's `sshkey_private_serialize` writes it inside a key file
//! (PROTOCOL.key), `string type` and then the type's fields, without the file's check words, comment or
//! padding. The server and client modules read only this, so the file formats and their crates stay out of them.

use alloc::vec::Vec;
use ed25519_dalek::SigningKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use zeroize::Zeroizing;

use super::{HostKey, KeyError, KeyType, RSA_MAX_BITS};
use crate::wire::{Reader, Writer};

impl HostKey {
    /// Reads a key in the canonical form; nothing may follow it.
    pub fn from_wire(wire: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(wire);
        let key = read(&mut r)?;
        r.finish()?;
        Ok(key)
    }

    /// The key in the canonical form, in a buffer wiped on drop.
    pub fn to_wire(&self) -> Zeroizing<Writer> {
        let mut w = Zeroizing::new(Writer::with_capacity(self.wire_len()));
        self.write(&mut w);
        w
    }

    /// An upper bound of the canonical form's length, so that the buffer never grows (and leaves no copy).
    fn wire_len(&self) -> usize {
        let (name, curve) = (self.key_type().name().len(), self.key_type().curve().len());
        match self {
            HostKey::Ed25519(_) => 4 + name + 36 + 68,
            // Curve name, SEC1 uncompressed point (1 + 2 * 66 bytes at most) and scalar.
            HostKey::EcdsaP256(_) | HostKey::EcdsaP384(_) | HostKey::EcdsaP521(..) => 4 + name + 4 + curve + 4 + 133 + 4 + 67,
            // n, e, d, iqmp, p, q: at most the modulus' length each, plus a sign byte and a length.
            HostKey::Rsa(k) => 4 + name + 6 * (k.size() + 5),
            // p, q, g, y, x: at most 128 bytes each, plus a sign byte and a length.
            HostKey::Dsa(_) => 4 + name + 5 * (128 + 5),
        }
    }

    /// Appends the key in the canonical form to `w`, as it sits inside an OpenSSH key file.
    pub(super) fn write(&self, w: &mut Writer) {
        w.string(self.key_type().name().as_bytes());
        let curve = self.key_type().curve().as_bytes();
        match self {
            HostKey::Ed25519(k) => {
                // The seed and the public key again, as OpenSSH keeps them.
                let mut secret = Zeroizing::new([0u8; 64]);
                secret.get_mut(..32).unwrap_or_default().copy_from_slice(k.as_bytes());
                secret.get_mut(32..).unwrap_or_default().copy_from_slice(k.verifying_key().as_bytes());
                w.string(k.verifying_key().as_bytes()).string(secret.as_ref());
            }
            HostKey::EcdsaP256(k) => {
                w.string(curve).string(k.verifying_key().to_encoded_point(false).as_bytes()).mpint(&k.to_bytes());
            }
            HostKey::EcdsaP384(k) => {
                w.string(curve).string(k.verifying_key().to_encoded_point(false).as_bytes()).mpint(&k.to_bytes());
            }
            HostKey::EcdsaP521(k, public) => {
                w.string(curve).string(public.to_encoded_point(false).as_bytes()).mpint(&k.to_bytes());
            }
            HostKey::Rsa(k) => {
                let secret = |n: &BigUint| Zeroizing::new(n.to_bytes_be());
                let iqmp = Zeroizing::new(k.crt_coefficient().map(|c| c.to_bytes_be()).unwrap_or_default());
                let (p, q) = match k.primes() {
                    [p, q, ..] => (secret(p), secret(q)),
                    _ => (Zeroizing::new(Vec::new()), Zeroizing::new(Vec::new())),
                };
                w.mpint(&k.n().to_bytes_be()).mpint(&k.e().to_bytes_be()).mpint(&secret(k.d())).mpint(&iqmp).mpint(&p).mpint(&q);
            }
            HostKey::Dsa(k) => super::dss::write_private(w, k),
        }
    }
}

/// A key in the canonical form from `r`: its type name, then the fields as `sshkey_private_serialize` writes them.
pub(super) fn read(r: &mut Reader) -> Result<HostKey, KeyError> {
    let name = r.utf8()?;
    let key_type = KeyType::from_name(name).ok_or_else(|| KeyError::Unsupported(alloc::format!("{name} keys")))?;
    let unusable = || KeyError::Malformed("unusable private key");
    Ok(match key_type {
        KeyType::Ed25519 => {
            let public = r.string()?;
            // The seed, then the public key again.
            let seed: [u8; 32] = r.string()?.get(..32).and_then(|s| s.try_into().ok()).ok_or(KeyError::Malformed("short ed25519 key"))?;
            let key = SigningKey::from_bytes(&seed);
            if key.verifying_key().as_bytes() != public {
                return Err(KeyError::Malformed("ed25519 public half does not match the private key"));
            }
            HostKey::Ed25519(key)
        }
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
            if r.string()? != key_type.curve().as_bytes() {
                return Err(KeyError::Malformed("ECDSA curve does not match the key type"));
            }
            let point = r.string()?;
            let d = r.mpint()?;
            let key = match key_type {
                KeyType::EcdsaP256 => HostKey::EcdsaP256(p256::ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
                KeyType::EcdsaP384 => HostKey::EcdsaP384(p384::ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
                _ => HostKey::p521(ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
            };
            let mut stated = Writer::new();
            stated.string(name.as_bytes()).string(key_type.curve().as_bytes()).string(point);
            if key.public().blob() != stated.as_slice() {
                return Err(KeyError::Malformed("ECDSA public point does not match the private key"));
            }
            key
        }
        KeyType::Rsa => {
            let n = r.mpint()?;
            // Bounded before the arithmetic of the checks below.
            if n.len() * 8 > RSA_MAX_BITS {
                return Err(KeyError::Refused(alloc::format!("RSA key over {RSA_MAX_BITS} bits")));
            }
            let (n, e, d) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(r.mpint()?), BigUint::from_bytes_be(r.mpint()?));
            r.mpint()?; // iqmp, which the rsa crate computes again
            let primes = alloc::vec![BigUint::from_bytes_be(r.mpint()?), BigUint::from_bytes_be(r.mpint()?)];
            // from_components checks that the primes make n and that d inverts e.
            HostKey::rsa(RsaPrivateKey::from_components(n, e, d, primes).map_err(|_| unusable())?)?
        }
        KeyType::Dsa => {
            let (p, q, g, y, x) = (r.mpint()?, r.mpint()?, r.mpint()?, r.mpint()?, r.mpint()?);
            super::dss::private_key(p, q, g, Some(y), x)?
        }
    })
}
