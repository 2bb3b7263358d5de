//! OpenSSH's private key file, `openssh-key-v1` (OpenSSH PROTOCOL.key): plain, or passphrase-protected as
//! `ssh-keygen` writes it (bcrypt-pbkdf, aes256-ctr). Written out by hand over the crate's [`Reader`] and
//! [`Writer`]: the `ssh-key` crate does the same but costs 26 KiB of gzipped wasm for ciphers and
//! encodings a server never uses. The key inside is the canonical form ([`super::private`]).

use alloc::format;
use alloc::string::String;
use base64ct::{Base64, Encoding};
use ctr::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use super::{HostKey, KeyError};
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
    let key = super::private::read(&mut p)?;
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

/// An unencrypted file holding `key`, as `ssh-keygen -N ''` writes it. Every buffer that holds the private
/// key on the way is sized up front and zeroized; the returned text is the caller's to zeroize.
pub(super) fn write(key: &HostKey, comment: &str, check: u32) -> String {
    let public = key.public().blob();
    let wire = key.to_wire();
    // Check bytes, the key, comment and up to 7 bytes of padding.
    let mut private = Zeroizing::new(Writer::with_capacity(8 + wire.len() + 4 + comment.len() + 7));
    private.u32(check).u32(check).raw(wire.as_slice()).string(comment.as_bytes());
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
