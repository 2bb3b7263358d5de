//! Host keys, user public keys and signatures: ed25519 (RFC 8709), ECDSA over NIST P-256/384/521
//! (RFC 5656 §3), RSA (RFC 8332, and RFC 4253's SHA-1 `ssh-rsa`) and DSA (RFC 4253's `ssh-dss`, in [`dss`]).
//! Key files are read in [`files`].
//!
//! A key's type and the signature algorithms it makes are apart: negotiation and publickey requests
//! name a signature algorithm, and the key that can make it is found by its type (an RSA key, type
//! `ssh-rsa`, makes `rsa-sha2-512`, `rsa-sha2-256` and `ssh-rsa` signatures).

mod cert;
mod dss;
#[cfg(feature = "files")]
mod files;
#[cfg(feature = "files")]
mod jwk;
#[cfg(feature = "files")]
mod openssh;
#[cfg(feature = "files")]
mod pkcs12;
#[cfg(feature = "files")]
mod ppk;
mod private;

pub use cert::{CertAlg, CertType, Certificate, HostCertificate, KeyAlg, MAX_OPTIONS, MAX_PRINCIPALS};

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use base64ct::{Base64, Base64Unpadded, Encoding};
use ecdsa::elliptic_curve::{generic_array::ArrayLength, CurveArithmetic, FieldBytes, PrimeCurve};
use ecdsa::hazmat::VerifyPrimitive;
use ecdsa::signature::hazmat::PrehashVerifier;
use ecdsa::signature::RandomizedSigner;
use ecdsa::{SignatureSize, VerifyingKey};
use ed25519_dalek::{Signer, SigningKey};
use rand_core::CryptoRngCore;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::Digest;

use crate::wire::{Reader, WireError, Writer};

algorithms!(
    /// Key types, by the name a public key blob starts with.
    KeyType {
        Ed25519 => "ssh-ed25519",
        EcdsaP256 => "ecdsa-sha2-nistp256",
        EcdsaP384 => "ecdsa-sha2-nistp384",
        EcdsaP521 => "ecdsa-sha2-nistp521",
        Rsa => "ssh-rsa",
        Dsa => "ssh-dss",
    }
);

algorithms!(
    /// Signature algorithms: what KEXINIT's host key lists, `server-sig-algs` and publickey requests name,
    /// in the order a server offers them.
    SigAlg {
        Ed25519 => "ssh-ed25519",
        EcdsaP256 => "ecdsa-sha2-nistp256",
        EcdsaP384 => "ecdsa-sha2-nistp384",
        EcdsaP521 => "ecdsa-sha2-nistp521",
        RsaSha512 => "rsa-sha2-512",
        RsaSha256 => "rsa-sha2-256",
        RsaSha1 => "ssh-rsa",
        Dsa => "ssh-dss",
    }
);

impl SigAlg {
    /// Offered and accepted unless configured: all but SHA-1 `ssh-rsa`, which OpenSSH 8.8 turned off too
    /// (SHA-1 chosen-prefix collisions are practical), and `ssh-dss` (1024-bit DSA and SHA-1, off since OpenSSH 7.0).
    pub const DEFAULT: &'static [SigAlg] =
        &[SigAlg::Ed25519, SigAlg::EcdsaP256, SigAlg::EcdsaP384, SigAlg::EcdsaP521, SigAlg::RsaSha512, SigAlg::RsaSha256];

    /// The type of key that makes this signature. Each algorithm belongs to one type; read backwards,
    /// this maps a key type to the algorithms it can make.
    pub fn key_type(self) -> KeyType {
        match self {
            SigAlg::Ed25519 => KeyType::Ed25519,
            SigAlg::EcdsaP256 => KeyType::EcdsaP256,
            SigAlg::EcdsaP384 => KeyType::EcdsaP384,
            SigAlg::EcdsaP521 => KeyType::EcdsaP521,
            SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1 => KeyType::Rsa,
            SigAlg::Dsa => KeyType::Dsa,
        }
    }

    /// The hash an ECDSA, RSA or DSA signature of this algorithm covers (RFC 5656 §6.2.1, RFC 8332 §3, RFC 4253 §6.6).
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            SigAlg::Ed25519 => data.to_vec(),
            SigAlg::EcdsaP256 | SigAlg::RsaSha256 => sha2::Sha256::digest(data).to_vec(),
            SigAlg::EcdsaP384 => sha2::Sha384::digest(data).to_vec(),
            SigAlg::EcdsaP521 | SigAlg::RsaSha512 => sha2::Sha512::digest(data).to_vec(),
            SigAlg::RsaSha1 | SigAlg::Dsa => sha1::Sha1::digest(data).to_vec(),
        }
    }

    /// The PKCS#1 v1.5 padding of an RSA algorithm.
    fn pkcs1v15(self) -> Option<Pkcs1v15Sign> {
        match self {
            SigAlg::RsaSha512 => Some(Pkcs1v15Sign::new::<sha2::Sha512>()),
            SigAlg::RsaSha256 => Some(Pkcs1v15Sign::new::<sha2::Sha256>()),
            SigAlg::RsaSha1 => Some(Pkcs1v15Sign::new::<sha1::Sha1>()),
            _ => None,
        }
    }
}

impl KeyType {
    /// The curve identifier an ECDSA blob repeats after its type (RFC 5656 §3.1).
    fn curve(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "nistp256",
            KeyType::EcdsaP384 => "nistp384",
            KeyType::EcdsaP521 => "nistp521",
            KeyType::Ed25519 | KeyType::Rsa | KeyType::Dsa => "",
        }
    }
}

/// RSA keys shorter than this are refused, as host keys and as user keys. OpenSSH's floor is 1024 bits;
/// we take 2048, NIST's minimum since 2014 (SP 800-131A) and the smallest size `ssh-keygen` has
/// suggested for years: a 1024-bit modulus is within reach of a well-funded factoring effort.
pub const RSA_MIN_BITS: usize = 2048;
/// OpenSSH's ceiling (`SSH_RSA_MAXIMUM_MODULUS_SIZE`): larger moduli only cost verification time.
pub const RSA_MAX_BITS: usize = 16384;

/// Why a key could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a key file or key blob of a known shape, or damaged.
    Malformed(&'static str),
    /// A key type, format or feature this build does not handle.
    Unsupported(String),
    /// A key this server refuses to use (an RSA key under [`RSA_MIN_BITS`]).
    Refused(String),
    /// The file is passphrase-protected and no passphrase was given.
    PassphraseNeeded,
    /// The passphrase does not open the file.
    WrongPassphrase,
    /// Signing failed (the RSA implementation reports an error for keys it cannot use).
    Signing,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyError::Malformed(why) => write!(f, "malformed key: {why}"),
            KeyError::Unsupported(what) => write!(f, "unsupported: {what}"),
            KeyError::Refused(why) => write!(f, "key refused: {why}"),
            KeyError::PassphraseNeeded => f.write_str("the key file is passphrase-protected: give its passphrase"),
            KeyError::WrongPassphrase => f.write_str("wrong passphrase for the key file"),
            KeyError::Signing => f.write_str("the key could not sign"),
        }
    }
}

impl From<WireError> for KeyError {
    fn from(_: WireError) -> Self {
        KeyError::Malformed("truncated or malformed key data")
    }
}

/// A private key the server signs the exchange hash with. Every variant wipes its secret on drop.
pub enum HostKey {
    Ed25519(SigningKey),
    EcdsaP256(p256::ecdsa::SigningKey),
    EcdsaP384(p384::ecdsa::SigningKey),
    /// p521's signer, which hashes with SHA-512, and its public key, which it does not keep.
    EcdsaP521(p521::ecdsa::SigningKey, VerifyingKey<p521::NistP521>),
    Rsa(Box<RsaPrivateKey>),
    /// The crate keeps `x` in a `Zeroizing`.
    Dsa(Box<dsa::SigningKey>),
}

impl HostKey {
    fn p521(key: ecdsa::SigningKey<p521::NistP521>) -> Self {
        let public = *key.verifying_key();
        HostKey::EcdsaP521(key.into(), public)
    }

    /// An RSA key, refused outside [`RSA_MIN_BITS`]..=[`RSA_MAX_BITS`].
    fn rsa(key: RsaPrivateKey) -> Result<Self, KeyError> {
        rsa_size(&key)?;
        Ok(HostKey::Rsa(Box::new(key)))
    }

    pub fn key_type(&self) -> KeyType {
        match self {
            HostKey::Ed25519(_) => KeyType::Ed25519,
            HostKey::EcdsaP256(_) => KeyType::EcdsaP256,
            HostKey::EcdsaP384(_) => KeyType::EcdsaP384,
            HostKey::EcdsaP521(..) => KeyType::EcdsaP521,
            HostKey::Rsa(_) => KeyType::Rsa,
            HostKey::Dsa(_) => KeyType::Dsa,
        }
    }

    /// Whether this key can make signatures of `alg`.
    pub fn signs(&self, alg: SigAlg) -> bool {
        self.key_type() == alg.key_type()
    }

    pub fn public(&self) -> PublicKey {
        match self {
            HostKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            HostKey::EcdsaP256(k) => PublicKey::EcdsaP256(*k.verifying_key()),
            HostKey::EcdsaP384(k) => PublicKey::EcdsaP384(*k.verifying_key()),
            HostKey::EcdsaP521(_, public) => PublicKey::EcdsaP521(*public),
            HostKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            HostKey::Dsa(k) => PublicKey::Dsa(dss::DsaKey(k.verifying_key().clone())),
        }
    }

    /// The signature blob over `data` made with `alg`, one of the algorithms this key [`signs`](Self::signs)
    /// (RFC 4253 §6.6: `string name, string signature`). P-256 and P-384 derive their nonces as RFC 6979
    /// says; `p521` 0.13 has no RFC 6979 and draws its nonce from `rng`, as DSA does; RSA blinds each signature
    /// with `rng`.
    pub fn sign(&self, alg: SigAlg, data: &[u8], rng: &mut dyn CryptoRngCore) -> Result<Vec<u8>, KeyError> {
        if !self.signs(alg) {
            return Err(KeyError::Signing);
        }
        let mut w = Writer::new();
        w.string(alg.name().as_bytes());
        match self {
            HostKey::Ed25519(k) => w.string(&k.sign(data).to_bytes()),
            HostKey::EcdsaP256(k) => ecdsa_blob(&mut w, &k.sign(data)),
            HostKey::EcdsaP384(k) => ecdsa_blob(&mut w, &k.sign(data)),
            HostKey::EcdsaP521(k, _) => ecdsa_blob(&mut w, &k.try_sign_with_rng(&mut &mut *rng, data).map_err(|_| KeyError::Signing)?),
            HostKey::Rsa(k) => {
                let padding = alg.pkcs1v15().ok_or(KeyError::Signing)?;
                let signature = k.sign_with_rng(&mut &mut *rng, padding, &alg.digest(data)).map_err(|_| KeyError::Signing)?;
                w.string(&signature)
            }
            HostKey::Dsa(k) => w.string(&dss::sign(k, &alg.digest(data), rng)?),
        };
        Ok(w.into_vec())
    }
}

/// `string(mpint r, mpint s)`, RFC 5656 §3.1.2.
fn ecdsa_blob<'w, C: PrimeCurve>(w: &'w mut Writer, signature: &ecdsa::Signature<C>) -> &'w mut Writer
where
    SignatureSize<C>: ArrayLength<u8>,
{
    let (r, s) = signature.split_bytes();
    let mut inner = Writer::with_capacity(2 * (4 + 1 + r.len()));
    inner.mpint(&r).mpint(&s);
    w.string(inner.as_slice())
}

fn rsa_size(key: &impl PublicKeyParts) -> Result<(), KeyError> {
    let bits = key.n().bits();
    if bits < RSA_MIN_BITS {
        return Err(KeyError::Refused(alloc::format!("RSA key of {bits} bits; at least {RSA_MIN_BITS} are required")));
    }
    if bits > RSA_MAX_BITS {
        return Err(KeyError::Refused(alloc::format!("RSA key of {bits} bits; at most {RSA_MAX_BITS} are accepted")));
    }
    Ok(())
}

/// A public key as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(VerifyingKey<p256::NistP256>),
    EcdsaP384(VerifyingKey<p384::NistP384>),
    EcdsaP521(VerifyingKey<p521::NistP521>),
    Rsa(RsaPublicKey),
    Dsa(dss::DsaKey),
}

impl PublicKey {
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Ed25519(_) => KeyType::Ed25519,
            PublicKey::EcdsaP256(_) => KeyType::EcdsaP256,
            PublicKey::EcdsaP384(_) => KeyType::EcdsaP384,
            PublicKey::EcdsaP521(_) => KeyType::EcdsaP521,
            PublicKey::Rsa(_) => KeyType::Rsa,
            PublicKey::Dsa(_) => KeyType::Dsa,
        }
    }

    /// The public key blob: `string name` and the type's fields (RFC 8709 §4, RFC 5656 §3.1,
    /// RFC 4253 §6.6 for RSA and DSA).
    pub fn blob(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.string(self.key_type().name().as_bytes());
        let curve = self.key_type().curve().as_bytes();
        match self {
            PublicKey::Ed25519(k) => w.string(k.as_bytes()),
            PublicKey::EcdsaP256(k) => w.string(curve).string(k.to_encoded_point(false).as_bytes()),
            PublicKey::EcdsaP384(k) => w.string(curve).string(k.to_encoded_point(false).as_bytes()),
            PublicKey::EcdsaP521(k) => w.string(curve).string(k.to_encoded_point(false).as_bytes()),
            PublicKey::Rsa(k) => w.mpint(&k.e().to_bytes_be()).mpint(&k.n().to_bytes_be()),
            PublicKey::Dsa(k) => dss::write_public(&mut w, &k.0),
        };
        w.into_vec()
    }

    /// The `authorized_keys` line for this key.
    pub fn to_openssh_line(&self) -> String {
        alloc::format!("{} {}", self.key_type().name(), Base64::encode_string(&self.blob()))
    }

    /// Reads a public key blob. Every check is made here, so a key that parses can be used: ECDSA
    /// points on their curve, RSA moduli of an accepted size with an odd exponent, DSA keys of 1024/160 bits.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(blob);
        let name = r.utf8()?;
        let key_type = KeyType::from_name(name).ok_or_else(|| KeyError::Unsupported(alloc::format!("key type {name}")))?;
        let key = match key_type {
            KeyType::Ed25519 => {
                let key: [u8; 32] = r.string()?.try_into().map_err(|_| KeyError::Malformed("ed25519 key is not 32 bytes"))?;
                let key =
                    ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| KeyError::Malformed("ed25519 key is not a curve point"))?;
                PublicKey::Ed25519(key)
            }
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
                if r.string()? != key_type.curve().as_bytes() {
                    return Err(KeyError::Malformed("ECDSA curve does not match the key type"));
                }
                let point = r.string()?;
                let bad = |_| KeyError::Malformed("ECDSA key is not a point of its curve");
                match key_type {
                    KeyType::EcdsaP256 => PublicKey::EcdsaP256(VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
                    KeyType::EcdsaP384 => PublicKey::EcdsaP384(VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
                    _ => PublicKey::EcdsaP521(VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
                }
            }
            KeyType::Rsa => {
                let e = r.mpint()?;
                let n = r.mpint()?;
                // Bounded before any arithmetic: a modulus past the ceiling is refused unread.
                if n.len() * 8 > RSA_MAX_BITS {
                    return Err(KeyError::Refused(alloc::format!("RSA key over {RSA_MAX_BITS} bits")));
                }
                let key = RsaPublicKey::new_with_max_size(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e), RSA_MAX_BITS)
                    .map_err(|_| KeyError::Malformed("RSA key with an unusable modulus or exponent"))?;
                rsa_size(&key)?;
                PublicKey::Rsa(key)
            }
            KeyType::Dsa => PublicKey::Dsa(dss::read_public(&mut r)?),
        };
        r.finish()?;
        Ok(key)
    }

    /// Checks a signature blob over `data` that must be made with `alg`, an algorithm of this key's type:
    /// the blob must name `alg` (RFC 8332 §3: an `rsa-sha2-256` request with an `rsa-sha2-512` signature
    /// is refused).
    pub fn verify(&self, alg: SigAlg, data: &[u8], signature_blob: &[u8]) -> bool {
        let mut r = Reader::new(signature_blob);
        let (Ok(sig_alg), Ok(sig)) = (r.utf8(), r.string()) else {
            return false;
        };
        if sig_alg != alg.name() || r.finish().is_err() || alg.key_type() != self.key_type() {
            return false;
        }
        match self {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig).is_ok_and(|sig| k.verify_strict(data, &sig).is_ok()),
            PublicKey::EcdsaP256(k) => ecdsa_verify(k, &alg.digest(data), sig),
            PublicKey::EcdsaP384(k) => ecdsa_verify(k, &alg.digest(data), sig),
            PublicKey::EcdsaP521(k) => ecdsa_verify(k, &alg.digest(data), sig),
            PublicKey::Rsa(k) => {
                // OpenSSH accepts a signature shorter than the modulus (leading zeros dropped) and pads it.
                let size = k.size();
                let (Some(padding), Some(pad)) = (alg.pkcs1v15(), size.checked_sub(sig.len())) else {
                    return false;
                };
                let mut full = alloc::vec![0u8; pad];
                full.extend_from_slice(sig);
                k.verify(padding, &alg.digest(data), &full).is_ok()
            }
            PublicKey::Dsa(k) => dss::verify(k, &alg.digest(data), sig),
        }
    }
}

/// The SHA-256 fingerprint of a public key blob as OpenSSH prints it: `SHA256:` and the digest in base64
/// without padding.
pub fn fingerprint(blob: &[u8]) -> String {
    alloc::format!("SHA256:{}", Base64Unpadded::encode_string(&sha2::Sha256::digest(blob)))
}

/// The MD5 fingerprint of a public key blob as `ssh-keygen -l -E md5` prints it: `MD5:` and the digest in
/// colon-separated hex.
pub fn fingerprint_md5(blob: &[u8]) -> String {
    let hex: Vec<String> = md5::Md5::digest(blob).iter().map(|b| alloc::format!("{b:02x}")).collect();
    alloc::format!("MD5:{}", hex.join(":"))
}

/// Checks `string(mpint r, mpint s)` against a prehashed message.
fn ecdsa_verify<C>(key: &VerifyingKey<C>, prehash: &[u8], sig: &[u8]) -> bool
where
    C: PrimeCurve + CurveArithmetic,
    ecdsa::elliptic_curve::AffinePoint<C>: VerifyPrimitive<C>,
    SignatureSize<C>: ArrayLength<u8>,
{
    let mut r = Reader::new(sig);
    let (Ok(r_), Ok(s_)) = (r.mpint(), r.mpint()) else {
        return false;
    };
    let (Some(r_), Some(s_)) = (field_bytes::<C>(r_), field_bytes::<C>(s_)) else {
        return false;
    };
    r.finish().is_ok() && ecdsa::Signature::<C>::from_scalars(r_, s_).is_ok_and(|signature| key.verify_prehash(prehash, &signature).is_ok())
}

/// An mpint magnitude as the curve's field bytes, left-padded; None if it is longer.
fn field_bytes<C: PrimeCurve>(magnitude: &[u8]) -> Option<FieldBytes<C>> {
    let mut out = FieldBytes::<C>::default();
    let start = out.len().checked_sub(magnitude.len())?;
    out.get_mut(start..)?.copy_from_slice(magnitude);
    Some(out)
}

#[cfg(all(test, feature = "files"))]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    // Generated with `ssh-keygen -t ed25519 -N '' -C test`.
    const OPENSSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACC+XoeOf5YLbZba2v2opnPmnA58NXsiF+qeUm+/s1y5/gAAAIhtpWERbaVh
EQAAAAtzc2gtZWQyNTUxOQAAACC+XoeOf5YLbZba2v2opnPmnA58NXsiF+qeUm+/s1y5/g
AAAEDW6ae6aHpZAY3nOu9EP7es7DMct466YhIgzKLxIQyXFL5eh45/lgttltra/aimc+ac
Dnw1eyIX6p5Sb7+zXLn+AAAABHRlc3QB
-----END OPENSSH PRIVATE KEY-----
";
    const OPENSSH_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL5eh45/lgttltra/aimc+acDnw1eyIX6p5Sb7+zXLn+";

    #[test]
    fn reads_ssh_keygen_output_and_writes_it_back() {
        let key = HostKey::from_file(OPENSSH_KEY, None).unwrap();
        assert_eq!(key.public().to_openssh_line(), OPENSSH_PUB);
        assert_eq!(key.to_openssh("test", 0x6da5_6111), OPENSSH_KEY);
    }

    #[test]
    fn fingerprint_is_the_one_ssh_keygen_prints() {
        // `ssh-keygen -lf` and `ssh-keygen -l -E md5 -f` of OPENSSH_PUB.
        let key = HostKey::from_file(OPENSSH_KEY, None).unwrap();
        assert_eq!(fingerprint(&key.public().blob()), "SHA256:qEnbRBkrQlDD1IlkTKFPCfY1MLCKBzKJ5LX25sEoTeY");
        assert_eq!(fingerprint_md5(&key.public().blob()), "MD5:04:eb:33:67:41:e9:91:5a:c8:77:08:f7:60:62:8c:ce");
    }

    #[test]
    fn generated_key_round_trips_and_signs() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let key = HostKey::generate_ed25519(&mut rng);
        let text = key.to_openssh("x", 1);
        let again = HostKey::from_file(&text, None).unwrap();
        let sig = again.sign(SigAlg::Ed25519, b"data", &mut rng).unwrap();
        assert!(key.public().verify(SigAlg::Ed25519, b"data", &sig));
        assert!(!key.public().verify(SigAlg::Ed25519, b"datA", &sig));
        // The blob must name the algorithm it is checked for.
        let mut r = Reader::new(&sig);
        r.string().unwrap();
        let mut renamed = Writer::new();
        renamed.string(b"rsa-sha2-256").string(r.string().unwrap());
        assert!(!key.public().verify(SigAlg::Ed25519, b"data", renamed.as_slice()));
    }

    #[test]
    fn damaged_files_are_errors() {
        assert!(HostKey::from_file("nonsense", None).is_err());
        let cut = &OPENSSH_KEY[..OPENSSH_KEY.len() / 2];
        assert!(HostKey::from_file(&alloc::format!("{cut}\n-----END OPENSSH PRIVATE KEY-----"), None).is_err());
        let blob = PublicKey::from_blob(&HostKey::from_file(OPENSSH_KEY, None).unwrap().public().blob()).unwrap().blob();
        for n in 0..blob.len() {
            assert!(PublicKey::from_blob(&blob[..n]).is_err());
        }
    }
}
