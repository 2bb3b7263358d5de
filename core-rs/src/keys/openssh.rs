//! OpenSSH's private key file, `openssh-key-v1` (OpenSSH PROTOCOL.key): plain, or passphrase-protected as
//! `ssh-keygen` writes it (bcrypt-pbkdf, aes256-ctr). Written out by hand over the crate's [`Reader`] and
//! [`Writer`]: the `ssh-key` crate does the same but costs 26 KiB of gzipped wasm for ciphers and
//! encodings a server never uses.

use alloc::format;
use alloc::string::String;
use base64ct::{Base64, Encoding};
use ctr::cipher::{KeyIvInit, StreamCipher};
use ed25519_dalek::SigningKey;
use rsa::{BigUint, RsaPrivateKey};
use zeroize::Zeroizing;

use super::{HostKey, KeyError, KeyType, PublicKey, RSA_MAX_BITS};
use crate::wire::{Reader, Writer};

const PEM_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const PEM_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const AUTH_MAGIC: &[u8] = b"openssh-key-v1\0";
/// ssh-keygen's default is 16; a file asking for far more would stall the host at start for minutes.
const MAX_KDF_ROUNDS: u32 = 1024;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Reads the decoded body of a file holding one key; `passphrase` opens an encrypted one.
pub(super) fn read(raw: &[u8], passphrase: Option<&str>) -> Result<HostKey, KeyError> {
    let mut r = Reader::new(raw);
    if r.take(AUTH_MAGIC.len())? != AUTH_MAGIC {
        return Err(KeyError::Malformed("not an openssh-key-v1 key"));
    }
    let cipher = r.utf8()?;
    let kdf = r.utf8()?;
    let kdf_options = r.string()?;
    if r.u32()? != 1 {
        return Err(KeyError::Malformed("a file holding other than one key"));
    }
    let public = r.string()?;
    let sealed = r.string()?;
    r.finish()?;
    let encrypted = match (cipher, kdf) {
        ("none", "none") => false,
        ("aes256-ctr", "bcrypt") => true,
        _ => return Err(KeyError::Unsupported(format!("OpenSSH key files encrypted with {cipher} and {kdf}"))),
    };
    let mut private = Zeroizing::new(sealed.to_vec());
    if encrypted {
        let passphrase = passphrase.ok_or(KeyError::PassphraseNeeded)?;
        let mut options = Reader::new(kdf_options);
        let (salt, rounds) = (options.string()?, options.u32()?);
        options.finish()?;
        if rounds == 0 || rounds > MAX_KDF_ROUNDS || private.len() % 16 != 0 {
            return Err(KeyError::Malformed("bad bcrypt rounds or encrypted length"));
        }
        let mut key_iv = Zeroizing::new([0u8; 48]);
        bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, key_iv.as_mut()).map_err(|_| KeyError::Malformed("bad bcrypt salt"))?;
        let (key, iv) = key_iv.split_at(32);
        let mut cipher = Aes256Ctr::new_from_slices(key, iv).map_err(|_| KeyError::Malformed("aes256-ctr key"))?;
        cipher.apply_keystream(&mut private);
    }
    let mut p = Reader::new(&private);
    // The two check words match only when the passphrase was right (PROTOCOL.key).
    if p.u32()? != p.u32()? {
        return Err(if encrypted { KeyError::WrongPassphrase } else { KeyError::Malformed("check bytes differ") });
    }
    let name = p.utf8()?;
    let key_type = KeyType::from_name(name).ok_or_else(|| KeyError::Unsupported(format!("{name} keys")))?;
    let key = private_key(key_type, &mut p)?;
    p.string()?; // comment
                 // Padding 1, 2, 3, ... up to the cipher's block.
    if p.rest().iter().enumerate().any(|(i, &b)| usize::from(b) != i + 1) {
        return Err(KeyError::Malformed("bad padding"));
    }
    if key.public().blob() != public {
        return Err(KeyError::Malformed("the public half does not match the private key"));
    }
    Ok(key)
}

/// The key fields after the type name, each type as OpenSSH's `sshkey_private_serialize` writes it.
fn private_key(key_type: KeyType, p: &mut Reader) -> Result<HostKey, KeyError> {
    let unusable = || KeyError::Malformed("unusable private key");
    Ok(match key_type {
        KeyType::Ed25519 => {
            let public = p.string()?;
            // The seed, then the public key again.
            let seed: [u8; 32] = p.string()?.get(..32).and_then(|s| s.try_into().ok()).ok_or(KeyError::Malformed("short ed25519 key"))?;
            let key = SigningKey::from_bytes(&seed);
            if key.verifying_key().as_bytes() != public {
                return Err(KeyError::Malformed("ed25519 public half does not match the private key"));
            }
            HostKey::Ed25519(key)
        }
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
            if p.string()? != key_type.curve().as_bytes() {
                return Err(KeyError::Malformed("ECDSA curve does not match the key type"));
            }
            p.string()?; // the public point, checked against the outer public key by the caller
            let d = p.mpint()?;
            match key_type {
                KeyType::EcdsaP256 => HostKey::EcdsaP256(p256::ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
                KeyType::EcdsaP384 => HostKey::EcdsaP384(p384::ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
                _ => HostKey::p521(ecdsa::SigningKey::from_slice(d).map_err(|_| unusable())?),
            }
        }
        KeyType::Rsa => {
            let n = p.mpint()?;
            // Bounded before the arithmetic of the checks below.
            if n.len() * 8 > RSA_MAX_BITS {
                return Err(KeyError::Refused(format!("RSA key over {RSA_MAX_BITS} bits")));
            }
            let (n, e, d) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(p.mpint()?), BigUint::from_bytes_be(p.mpint()?));
            p.mpint()?; // iqmp, which the rsa crate computes again
            let primes = alloc::vec![BigUint::from_bytes_be(p.mpint()?), BigUint::from_bytes_be(p.mpint()?)];
            // from_components checks that the primes make n and that d inverts e.
            HostKey::rsa(RsaPrivateKey::from_components(n, e, d, primes).map_err(|_| unusable())?)?
        }
    })
}

/// An unencrypted file holding an ed25519 key, as `ssh-keygen -N ''` writes it. Every buffer that holds the
/// private key on the way is sized up front and zeroized; the returned text is the caller's to zeroize.
pub(super) fn write_ed25519(key: &SigningKey, comment: &str, check: u32) -> String {
    let public = PublicKey::Ed25519(key.verifying_key()).blob();
    let name = KeyType::Ed25519.name().as_bytes();
    // Check bytes, key type, public key, secret key, comment and up to 7 bytes of padding.
    let mut private = Zeroizing::new(Writer::with_capacity(8 + 4 + name.len() + 36 + 68 + 4 + comment.len() + 7));
    private.u32(check).u32(check);
    let mut secret = Zeroizing::new([0u8; 64]);
    secret.get_mut(..32).unwrap_or_default().copy_from_slice(key.as_bytes());
    secret.get_mut(32..).unwrap_or_default().copy_from_slice(key.verifying_key().as_bytes());
    private.string(name).string(key.verifying_key().as_bytes()).string(secret.as_ref());
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
