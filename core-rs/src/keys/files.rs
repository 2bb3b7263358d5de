//! Private key files in the formats operators have: OpenSSH's (in [`super::openssh`]), and the PEM forms
//! OpenSSL and `ssh-keygen -m` write: PKCS#1 RSA, SEC1 EC and PKCS#8, plain or encrypted (PBES2).
//! Every decoded secret is held in a type that wipes it on drop.

use alloc::format;
use ecdsa::elliptic_curve::pkcs8::AssociatedOid;
use ed25519_dalek::SigningKey;
use pkcs8::der::{Decode, Document, SecretDocument};
use pkcs8::{DecodePrivateKey, EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::RsaPrivateKey;

use super::{HostKey, KeyError};

const PEM: &str = "damaged PEM key file";
const PKCS8: &str = "damaged PKCS#8 key";

/// A `map_err` argument for any error type: the crates' errors say less than the file's format does.
fn bad<E>(why: &'static str) -> impl Fn(E) -> KeyError {
    move |_| KeyError::Malformed(why)
}

impl HostKey {
    /// Reads a private key file of any supported format; `passphrase` opens an encrypted one and is
    /// ignored for a plain one, as `ssh-keygen` does.
    pub fn from_file(text: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let text = text.trim();
        let label = text
            .strip_prefix("-----BEGIN ")
            .and_then(|t| t.split_once("-----"))
            .map(|(label, _)| label)
            .ok_or_else(|| KeyError::Unsupported("a key file without PEM armour (-----BEGIN ...)".into()))?;
        match label {
            "OPENSSH PRIVATE KEY" => super::openssh::read(text, passphrase),
            // RFC 1421 headers: OpenSSL's legacy encryption, which no maintained crate reads.
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" if text.contains("Proc-Type:") => Err(KeyError::Unsupported(
                "legacy OpenSSL-encrypted PEM; convert it with `ssh-keygen -p -f FILE` or `openssl pkcs8 -topk8`".into(),
            )),
            "RSA PRIVATE KEY" => HostKey::rsa(RsaPrivateKey::from_pkcs1_pem(text).map_err(bad(PEM))?),
            "EC PRIVATE KEY" => {
                // The curve's OID in the file decides which of these reads it.
                if let Ok(k) = p256::SecretKey::from_sec1_pem(text) {
                    Ok(HostKey::EcdsaP256(k.into()))
                } else if let Ok(k) = p384::SecretKey::from_sec1_pem(text) {
                    Ok(HostKey::EcdsaP384(k.into()))
                } else {
                    Ok(HostKey::p521(p521::SecretKey::from_sec1_pem(text).map_err(bad(PEM))?.into()))
                }
            }
            "PRIVATE KEY" => pkcs8(SecretDocument::from_pem(text).map_err(bad(PEM))?.1.as_bytes()),
            "ENCRYPTED PRIVATE KEY" => {
                let (_, doc) = Document::from_pem(text).map_err(bad(PEM))?;
                let info = EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(bad(PEM))?;
                let passphrase = passphrase.ok_or(KeyError::PassphraseNeeded)?;
                // A wrong passphrase leaves bad padding, or (rarely) padding-shaped noise that does not parse.
                let plain = info.decrypt(passphrase).map_err(|_| KeyError::WrongPassphrase)?;
                pkcs8(plain.as_bytes()).map_err(|e| if matches!(e, KeyError::Malformed(_)) { KeyError::WrongPassphrase } else { e })
            }
            other => Err(KeyError::Unsupported(format!("{other} files"))),
        }
    }
}

/// A PKCS#8 `PrivateKeyInfo`, by its algorithm's OID.
fn pkcs8(der: &[u8]) -> Result<HostKey, KeyError> {
    let info = PrivateKeyInfo::from_der(der).map_err(bad(PKCS8))?;
    let oid = info.algorithm.oid;
    if oid == ed25519_dalek::pkcs8::ALGORITHM_OID {
        return Ok(HostKey::Ed25519(SigningKey::from_pkcs8_der(der).map_err(bad(PKCS8))?));
    }
    if oid == rsa::pkcs1::ALGORITHM_OID {
        return HostKey::rsa(RsaPrivateKey::from_pkcs8_der(der).map_err(bad(PKCS8))?);
    }
    if oid == ecdsa::elliptic_curve::ALGORITHM_OID {
        let curve = info.algorithm.parameters_oid().map_err(bad(PKCS8))?;
        if curve == p256::NistP256::OID {
            return Ok(HostKey::EcdsaP256(p256::SecretKey::from_pkcs8_der(der).map_err(bad(PKCS8))?.into()));
        }
        if curve == p384::NistP384::OID {
            return Ok(HostKey::EcdsaP384(p384::SecretKey::from_pkcs8_der(der).map_err(bad(PKCS8))?.into()));
        }
        if curve == p521::NistP521::OID {
            return Ok(HostKey::p521(p521::SecretKey::from_pkcs8_der(der).map_err(bad(PKCS8))?.into()));
        }
        return Err(KeyError::Unsupported(format!("EC keys on curve {curve}")));
    }
    Err(KeyError::Unsupported(format!("PKCS#8 keys of algorithm {oid}")))
}
