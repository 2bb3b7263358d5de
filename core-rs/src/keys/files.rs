//! Private key files in the formats operators have: OpenSSH's (in [`super::openssh`]), PuTTY's (in
//! [`super::ppk`]), JWKs (in [`super::jwk`]), PKCS#12 (in [`super::pkcs12`], from bytes), and the PEM forms OpenSSL
//! and `ssh-keygen -m` write: PKCS#1 RSA, SEC1 EC, OpenSSL's own DSA and PKCS#8, plain or encrypted (PBES2).
//! Every decoded secret is held in a type that wipes it on drop.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64ct::{Base64, Encoding};
use ecdsa::elliptic_curve::pkcs8::AssociatedOid;
use ed25519_dalek::SigningKey;
use pkcs8::der::asn1::UintRef;
use pkcs8::der::Decode;
use pkcs8::{DecodePrivateKey, EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rand_core::CryptoRngCore;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::RsaPrivateKey;
use zeroize::Zeroizing;

use super::{HostKey, KeyError};

/// `ssh-keygen -t rsa`'s default size.
pub const RSA_DEFAULT_BITS: u32 = 3072;

const PEM: &str = "damaged PEM key file";
const PKCS8: &str = "damaged PKCS#8 key";

/// A `map_err` argument for any error type: the crates' errors say less than the file's format does.
fn bad<E>(why: &'static str) -> impl Fn(E) -> KeyError {
    move |_| KeyError::Malformed(why)
}

impl HostKey {
    /// Reads a private key file given as bytes: a PKCS#12 file (binary DER), or any text format
    /// [`HostKey::from_file`] reads (in UTF-8).
    pub fn from_bytes(bytes: &[u8], passphrase: Option<&str>) -> Result<Self, KeyError> {
        if super::pkcs12::is_pkcs12(bytes) {
            return super::pkcs12::read(bytes, passphrase);
        }
        let text = core::str::from_utf8(bytes).map_err(|_| KeyError::Unsupported("binary key files other than PKCS#12".into()))?;
        Self::from_file(text, passphrase)
    }

    /// Reads a private key file of any supported format; `passphrase` opens an encrypted one and is
    /// ignored for a plain one, as `ssh-keygen` does.
    pub fn from_file(text: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let text = text.trim();
        if super::ppk::is_ppk(text) {
            return super::ppk::read(text, passphrase);
        }
        if super::jwk::is_jwk(text) {
            return super::jwk::read(text);
        }
        // A PKCS#12 file in base64 (`base64 -w0 FILE`), so that it travels as text.
        if text.starts_with("MI") && !text.contains(char::is_whitespace) {
            let der = Zeroizing::new(Base64::decode_vec(text).map_err(|_| KeyError::Malformed("bad base64 in a PKCS#12 file"))?);
            return super::pkcs12::read(&der, passphrase);
        }
        let label = text
            .strip_prefix("-----BEGIN ")
            .and_then(|t| t.split_once("-----"))
            .map(|(label, _)| label)
            .ok_or_else(|| KeyError::Unsupported("a key file without PEM armour (-----BEGIN ...)".into()))?;
        // RFC 1421 headers: OpenSSL's legacy encryption, which no maintained crate reads.
        if text.contains("Proc-Type:") {
            return Err(KeyError::Unsupported(
                "legacy OpenSSL-encrypted PEM; convert it with `ssh-keygen -p -f FILE` or `openssl pkcs8 -topk8`".into(),
            ));
        }
        let der = unarmour(text, label)?;
        match label {
            "OPENSSH PRIVATE KEY" => super::openssh::read(&der, passphrase),
            "RSA PRIVATE KEY" => HostKey::rsa(RsaPrivateKey::from_pkcs1_der(&der).map_err(bad(PEM))?),
            // The curve's OID in the key decides which of these reads it.
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
                    Ok(HostKey::EcdsaP256(k.into()))
                } else if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    Ok(HostKey::EcdsaP384(k.into()))
                } else {
                    Ok(HostKey::p521(p521::SecretKey::from_sec1_der(&der).map_err(bad(PEM))?.into()))
                }
            }
            "DSA PRIVATE KEY" => dsa_openssl(&der),
            "PRIVATE KEY" => pkcs8(&der),
            "ENCRYPTED PRIVATE KEY" => {
                let info = EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(bad(PEM))?;
                let passphrase = passphrase.ok_or(KeyError::PassphraseNeeded)?;
                // A wrong passphrase leaves bad padding, or (rarely) padding-shaped noise that does not parse.
                let plain = info.decrypt(passphrase).map_err(|_| KeyError::WrongPassphrase)?;
                pkcs8(plain.as_bytes()).map_err(|e| if matches!(e, KeyError::Malformed(_)) { KeyError::WrongPassphrase } else { e })
            }
            other => Err(KeyError::Unsupported(format!("{other} files"))),
        }
    }

    /// A new ed25519 key.
    pub fn generate_ed25519(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        HostKey::Ed25519(SigningKey::from_bytes(&seed))
    }

    /// A new key as `ssh-keygen -t kind -b bits` makes it (`bits` 0: its default): `ed25519`; `ecdsa` of 256
    /// (the default), 384 or 521 bits; `rsa` of 2048 to 8192 bits, 3072 by default, exponent 65537. The
    /// generator must be a CSPRNG.
    pub fn generate(rng: &mut impl CryptoRngCore, kind: &str, bits: u32) -> Result<Self, KeyError> {
        let refuse = |why: &str| Err(KeyError::Refused(format!("{kind} keys of {bits} bits: {why}")));
        match (kind, bits) {
            ("ed25519", 0 | 256) => Ok(Self::generate_ed25519(rng)),
            ("ed25519", _) => refuse("ed25519 keys have 256"),
            ("ecdsa", 0 | 256) => Ok(HostKey::EcdsaP256(p256::ecdsa::SigningKey::random(rng))),
            ("ecdsa", 384) => Ok(HostKey::EcdsaP384(p384::ecdsa::SigningKey::random(rng))),
            ("ecdsa", 521) => Ok(HostKey::p521(ecdsa::SigningKey::random(rng))),
            ("ecdsa", _) => refuse("256, 384 or 521"),
            ("rsa", 0) => Self::generate(rng, kind, RSA_DEFAULT_BITS),
            // Past 8192 bits generation takes minutes in wasm, and `RSA_MAX_BITS` is for reading keys.
            ("rsa", 2048..=8192) => HostKey::rsa(
                RsaPrivateKey::new(rng, bits as usize).map_err(|_| KeyError::Refused(format!("no {bits}-bit RSA key could be made")))?,
            ),
            ("rsa", _) => refuse("from 2048 to 8192"),
            _ => Err(KeyError::Unsupported(format!("generating {kind} keys (ed25519, ecdsa or rsa)"))),
        }
    }

    /// Writes the key as an unencrypted `openssh-key-v1` file, as `ssh-keygen -N ''` does (`check`: the
    /// file's check word); the text is the caller's to zeroize.
    pub fn to_openssh(&self, comment: &str, check: u32) -> String {
        super::openssh::write(self, comment, check)
    }
}

/// The bytes between `-----BEGIN label-----` and `-----END label-----`. The base64 text is the key too:
/// it is gathered into a buffer sized up front (growing it would leave copies behind) and decoded into
/// another, both wiped on drop. (The crates' own PEM decoders left lines of the text in the wasm memory.)
fn unarmour(text: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let body = text
        .strip_prefix(&*format!("-----BEGIN {label}-----"))
        .and_then(|t| t.strip_suffix(&*format!("-----END {label}-----")))
        .ok_or(KeyError::Malformed("the PEM armour does not close with the label it opens with"))?;
    let mut base64 = Zeroizing::new(String::with_capacity(body.len()));
    body.split_whitespace().for_each(|part| base64.push_str(part));
    Ok(Zeroizing::new(Base64::decode_vec(&base64).map_err(|_| KeyError::Malformed("bad base64 in a PEM key file"))?))
}

/// OpenSSL's own DSA key (`DSA PRIVATE KEY`, `openssl dsa` and `gendsa` without `-traditional` off):
/// `SEQUENCE { version 0, p, q, g, y, x }`.
fn dsa_openssl(der: &[u8]) -> Result<HostKey, KeyError> {
    let fields = Vec::<UintRef>::from_der(der).map_err(bad(PEM))?;
    let [version, p, q, g, y, x] = fields.as_slice() else {
        return Err(KeyError::Malformed(PEM));
    };
    if version.as_bytes().iter().any(|&b| b != 0) {
        return Err(KeyError::Unsupported("OpenSSL DSA key files of a version other than 0".into()));
    }
    super::dss::private_key(p.as_bytes(), q.as_bytes(), g.as_bytes(), Some(y.as_bytes()), x.as_bytes())
}

/// A PKCS#8 `PrivateKeyInfo`, by its algorithm's OID.
pub(super) fn pkcs8(der: &[u8]) -> Result<HostKey, KeyError> {
    let info = PrivateKeyInfo::from_der(der).map_err(bad(PKCS8))?;
    let oid = info.algorithm.oid;
    if oid == ed25519_dalek::pkcs8::ALGORITHM_OID {
        return Ok(HostKey::Ed25519(SigningKey::from_pkcs8_der(der).map_err(bad(PKCS8))?));
    }
    if oid == rsa::pkcs1::ALGORITHM_OID {
        return HostKey::rsa(RsaPrivateKey::from_pkcs8_der(der).map_err(bad(PKCS8))?);
    }
    if oid == dsa::OID {
        // Parameters `SEQUENCE { p, q, g }` (RFC 3279 §2.3.2), the key `INTEGER x`; OpenSSL writes no public value.
        let parameters = info.algorithm.parameters_any().map_err(bad(PKCS8))?.decode_as::<Vec<UintRef>>().map_err(bad(PKCS8))?;
        let x = UintRef::from_der(info.private_key).map_err(bad(PKCS8))?;
        let [p, q, g] = parameters.as_slice() else {
            return Err(KeyError::Malformed(PKCS8));
        };
        return super::dss::private_key(p.as_bytes(), q.as_bytes(), g.as_bytes(), None, x.as_bytes());
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
