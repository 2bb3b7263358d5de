//! Host keys, user public keys and signatures (RFC 4253 §6.6, RFC 8709), and the OpenSSH private key
//! file format (`openssh-key-v1`, OpenSSH PROTOCOL.key).
//!
//! A key's type and the signature algorithms it makes are apart: negotiation and publickey requests
//! name a signature algorithm, and the key that can make it is found by its type (an RSA key, type
//! `ssh-rsa`, makes `rsa-sha2-512`, `rsa-sha2-256` and `ssh-rsa` signatures).

use alloc::string::String;
use alloc::vec::Vec;
use base64ct::{Base64, Base64Unpadded, Encoding};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::RngCore;
use zeroize::Zeroizing;

use crate::wire::{Reader, WireError, Writer};

algorithms!(
    /// Key types, by the name a public key blob starts with.
    KeyType {
        Ed25519 => "ssh-ed25519",
    }
);

algorithms!(
    /// Signature algorithms: what KEXINIT's host key lists, `server-sig-algs` and publickey requests name.
    SigAlg {
        Ed25519 => "ssh-ed25519",
    }
);

impl SigAlg {
    /// The type of key that makes this signature. Each algorithm belongs to one type; read backwards,
    /// this maps a key type to the algorithms it can make.
    pub fn key_type(self) -> KeyType {
        match self {
            SigAlg::Ed25519 => KeyType::Ed25519,
        }
    }
}
const PEM_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const PEM_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const AUTH_MAGIC: &[u8] = b"openssh-key-v1\0";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not an OpenSSH private key file, or damaged.
    Malformed(&'static str),
    /// A key type or feature this build does not handle yet.
    Unsupported(String),
}

impl From<WireError> for KeyError {
    fn from(_: WireError) -> Self {
        KeyError::Malformed("truncated or malformed key data")
    }
}

/// A private key the server signs the exchange hash with.
pub enum HostKey {
    Ed25519(SigningKey),
}

impl HostKey {
    pub fn generate_ed25519(rng: &mut impl RngCore) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        HostKey::Ed25519(SigningKey::from_bytes(&seed))
    }

    pub fn key_type(&self) -> KeyType {
        match self {
            HostKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Whether this key can make signatures of `alg`.
    pub fn signs(&self, alg: SigAlg) -> bool {
        self.key_type() == alg.key_type()
    }

    pub fn public(&self) -> PublicKey {
        match self {
            HostKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// The signature blob over `data` made with `alg`, one of the algorithms this key [`signs`](Self::signs)
    /// (RFC 4253 §6.6: `string name, string signature`).
    pub fn sign(&self, alg: SigAlg, data: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        match (self, alg) {
            (HostKey::Ed25519(k), SigAlg::Ed25519) => {
                w.string(alg.name().as_bytes()).string(&k.sign(data).to_bytes());
            }
        }
        w.into_vec()
    }

    /// Reads an unencrypted `openssh-key-v1` private key file holding one key.
    pub fn from_openssh(text: &str) -> Result<Self, KeyError> {
        let armoured = text
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|t| t.strip_suffix(PEM_END))
            .ok_or(KeyError::Malformed("missing OpenSSH private key armour"))?;
        // The base64 text is the key too: sized up front, as growing it would leave copies behind.
        let mut body = Zeroizing::new(String::with_capacity(armoured.len()));
        armoured.split_whitespace().for_each(|part| body.push_str(part));
        let raw = Zeroizing::new(Base64::decode_vec(&body).map_err(|_| KeyError::Malformed("bad base64"))?);
        let mut r = Reader::new(&raw);
        if r.take(AUTH_MAGIC.len())? != AUTH_MAGIC {
            return Err(KeyError::Malformed("not an openssh-key-v1 key"));
        }
        let cipher = r.utf8()?;
        let kdf = r.utf8()?;
        r.string()?; // kdf options
        if cipher != "none" || kdf != "none" {
            return Err(KeyError::Unsupported(alloc::format!("encrypted private keys ({cipher}, {kdf})")));
        }
        if r.u32()? != 1 {
            return Err(KeyError::Unsupported("files holding more than one key".into()));
        }
        r.string()?; // public key, repeated in the private section
        let mut private = Reader::new(r.string()?);
        if private.u32()? != private.u32()? {
            return Err(KeyError::Malformed("check bytes differ"));
        }
        let key_type = private.utf8()?;
        match KeyType::from_name(key_type) {
            Some(KeyType::Ed25519) => {
                let public = private.string()?;
                let secret = private.string()?;
                let (seed, also_public) = secret.split_at_checked(32).ok_or(KeyError::Malformed("short ed25519 key"))?;
                let seed: [u8; 32] = seed.try_into().map_err(|_| KeyError::Malformed("short ed25519 key"))?;
                let key = SigningKey::from_bytes(&seed);
                if key.verifying_key().as_bytes() != public || also_public != public {
                    return Err(KeyError::Malformed("ed25519 public half does not match the private key"));
                }
                Ok(HostKey::Ed25519(key))
            }
            None => Err(KeyError::Unsupported(alloc::format!("key type {key_type}"))),
        }
    }

    /// Writes the key as an unencrypted `openssh-key-v1` file, as `ssh-keygen -N ''` does.
    /// Every buffer that holds the private key on the way is sized up front and zeroized; the returned text
    /// is the caller's to zeroize.
    pub fn to_openssh(&self, comment: &str, check: u32) -> String {
        let public = self.public().blob();
        // check bytes, key type, public key, secret key, comment and up to 7 bytes of padding.
        let key_type = self.key_type().name();
        let mut private = Zeroizing::new(Writer::with_capacity(8 + 4 + key_type.len() + 36 + 68 + 4 + comment.len() + 7));
        private.u32(check).u32(check);
        match self {
            HostKey::Ed25519(k) => {
                let mut secret = Zeroizing::new([0u8; 64]);
                secret.get_mut(..32).unwrap_or_default().copy_from_slice(k.as_bytes());
                secret.get_mut(32..).unwrap_or_default().copy_from_slice(k.verifying_key().as_bytes());
                private.string(key_type.as_bytes()).string(k.verifying_key().as_bytes()).string(secret.as_ref());
            }
        }
        private.string(comment.as_bytes());
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.u8(pad);
            pad += 1;
        }
        let mut w = Zeroizing::new(Writer::with_capacity(AUTH_MAGIC.len() + 4 * 6 + 8 + public.len() + private.len()));
        w.raw(AUTH_MAGIC).string(b"none").string(b"none").string(b"").u32(1).string(&public).string(private.as_slice());
        let encoded = Zeroizing::new(Base64::encode_string(w.as_slice()));
        let mut out = String::with_capacity(PEM_BEGIN.len() + PEM_END.len() + encoded.len() + encoded.len() / 70 + 3);
        out.push_str(PEM_BEGIN);
        out.push('\n');
        for line in encoded.as_bytes().chunks(70) {
            out.push_str(core::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(PEM_END);
        out.push('\n');
        out
    }
}

/// A public key as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Ed25519(VerifyingKey),
}

impl PublicKey {
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The public key blob (`string name, key data`).
    pub fn blob(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            PublicKey::Ed25519(k) => {
                w.string(KeyType::Ed25519.name().as_bytes()).string(k.as_bytes());
            }
        }
        w.into_vec()
    }

    /// The `authorized_keys` line for this key.
    pub fn to_openssh_line(&self) -> String {
        alloc::format!("{} {}", self.key_type().name(), Base64::encode_string(&self.blob()))
    }

    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(blob);
        let key_type = r.utf8()?;
        match KeyType::from_name(key_type) {
            Some(KeyType::Ed25519) => {
                let key: [u8; 32] = r.string()?.try_into().map_err(|_| KeyError::Malformed("ed25519 key is not 32 bytes"))?;
                r.finish()?;
                let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::Malformed("ed25519 key is not a curve point"))?;
                Ok(PublicKey::Ed25519(key))
            }
            None => Err(KeyError::Unsupported(alloc::format!("key type {key_type}"))),
        }
    }

    /// Checks a signature blob over `data` that must be made with `alg`, an algorithm of this key's type.
    pub fn verify(&self, alg: SigAlg, data: &[u8], signature_blob: &[u8]) -> bool {
        let mut r = Reader::new(signature_blob);
        let (Ok(sig_alg), Ok(sig)) = (r.utf8(), r.string()) else {
            return false;
        };
        if sig_alg != alg.name() || r.finish().is_err() {
            return false;
        }
        match (self, alg) {
            (PublicKey::Ed25519(k), SigAlg::Ed25519) => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|sig| k.verify_strict(data, &sig).is_ok())
            }
        }
    }
}

/// The SHA-256 fingerprint of a public key blob as OpenSSH prints it: `SHA256:` and the digest in base64
/// without padding.
pub fn fingerprint(blob: &[u8]) -> String {
    use sha2::Digest;
    alloc::format!("SHA256:{}", Base64Unpadded::encode_string(&sha2::Sha256::digest(blob)))
}

#[cfg(test)]
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
        let key = HostKey::from_openssh(OPENSSH_KEY).unwrap();
        assert_eq!(key.public().to_openssh_line(), OPENSSH_PUB);
        let text = key.to_openssh("test", 0x6da5_6111);
        assert_eq!(text, OPENSSH_KEY);
    }

    #[test]
    fn fingerprint_is_the_one_ssh_keygen_prints() {
        // `ssh-keygen -lf` of OPENSSH_PUB.
        let key = HostKey::from_openssh(OPENSSH_KEY).unwrap();
        assert_eq!(fingerprint(&key.public().blob()), "SHA256:qEnbRBkrQlDD1IlkTKFPCfY1MLCKBzKJ5LX25sEoTeY");
    }

    #[test]
    fn generated_key_round_trips_and_signs() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let key = HostKey::generate_ed25519(&mut rng);
        let again = HostKey::from_openssh(&key.to_openssh("x", 7)).unwrap();
        let sig = again.sign(SigAlg::Ed25519, b"data");
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
        assert!(HostKey::from_openssh("nonsense").is_err());
        let cut = &OPENSSH_KEY[..OPENSSH_KEY.len() / 2];
        assert!(HostKey::from_openssh(&alloc::format!("{cut}\n{PEM_END}")).is_err());
        let blob = PublicKey::from_blob(&HostKey::from_openssh(OPENSSH_KEY).unwrap().public().blob()).unwrap().blob();
        for n in 0..blob.len() {
            assert!(PublicKey::from_blob(&blob[..n]).is_err());
        }
    }
}
