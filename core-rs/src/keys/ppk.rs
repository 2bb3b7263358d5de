//! PuTTY's private key files, `PuTTY-User-Key-File-2` and `-3` (PuTTY's manual, appendix C "PPK file format"):
//! plain or encrypted with aes256-cbc, the key derived from the passphrase with SHA-1 (v2) or Argon2 (v3), and
//! a MAC over the whole key (HMAC-SHA-1 in v2, HMAC-SHA-256 in v3) that is checked before the key is used: a
//! wrong passphrase fails it. The key inside is the public blob and PuTTY's own private fields, put together
//! here into the canonical form.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64ct::{Base64, Encoding};
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{HostKey, KeyError, KeyType};
use crate::wire::{Reader, Writer};

/// What an Argon2 header may ask for at most: PuTTY's defaults are 8 MiB and a dozen passes; a file asking for
/// far more would stall the host at start or exhaust its memory.
const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ARGON2_PASSES: u32 = 1000;
const MAX_ARGON2_PARALLELISM: u32 = 16;
/// Lines a key's public or private part may take: a 16384-bit RSA key needs about 60.
const MAX_LINES: usize = 128;

const DAMAGED: KeyError = KeyError::Malformed("damaged PuTTY key file");

/// Whether `text` is a PuTTY key file (of any version: an unknown one is refused by [`read`]).
pub(super) fn is_ppk(text: &str) -> bool {
    text.starts_with("PuTTY-User-Key-File-")
}

/// The file's `Name: value` lines, in order, with the base64 lines of `Public-Lines` and `Private-Lines` taken
/// as those headers' values.
struct Fields<'a> {
    lines: core::str::Lines<'a>,
}

impl<'a> Fields<'a> {
    /// The value of the next line, which must be the header `name`.
    fn value(&mut self, name: &str) -> Result<&'a str, KeyError> {
        let line = self.lines.next().ok_or(DAMAGED)?;
        line.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")).map(str::trim_end).ok_or(DAMAGED)
    }

    /// A `*-Lines: N` header and the N base64 lines after it, decoded.
    fn base64(&mut self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let count: usize = self.value(name)?.parse().map_err(|_| DAMAGED)?;
        if count > MAX_LINES {
            return Err(DAMAGED);
        }
        let mut text = Zeroizing::new(String::with_capacity(count * 64));
        for _ in 0..count {
            text.push_str(self.lines.next().ok_or(DAMAGED)?.trim_end());
        }
        Ok(Zeroizing::new(Base64::decode_vec(&text).map_err(|_| DAMAGED)?))
    }
}

/// Reads a PuTTY key file; `passphrase` opens an encrypted one.
pub(super) fn read(text: &str, passphrase: Option<&str>) -> Result<HostKey, KeyError> {
    let mut fields = Fields { lines: text.lines() };
    let first = fields.lines.next().ok_or(DAMAGED)?;
    let (version, algorithm) = first.strip_prefix("PuTTY-User-Key-File-").and_then(|rest| rest.split_once(": ")).ok_or(DAMAGED)?;
    let version = match version {
        "2" => 2,
        "3" => 3,
        _ => return Err(KeyError::Unsupported(format!("PuTTY key files of version {version} (2 and 3 are read)"))),
    };
    let algorithm = algorithm.trim_end();
    let key_type = KeyType::from_name(algorithm).ok_or_else(|| KeyError::Unsupported(format!("{algorithm} keys")))?;
    let encryption = fields.value("Encryption")?;
    let encrypted = match encryption {
        "none" => false,
        "aes256-cbc" => true,
        other => return Err(KeyError::Unsupported(format!("PuTTY key files encrypted with {other}"))),
    };
    let comment = fields.value("Comment")?;
    let public = fields.base64("Public-Lines")?;
    let passphrase = match (encrypted, passphrase) {
        (false, _) => "",
        (true, Some(p)) => p,
        (true, None) => return Err(KeyError::PassphraseNeeded),
    };
    // Cipher key (32), IV (16) and MAC key: v3 derives all three with Argon2, v2 with SHA-1.
    let keys = if version == 3 && encrypted { argon2_keys(&mut fields, passphrase)? } else { Zeroizing::new(Vec::new()) };
    let mut private = fields.base64("Private-Lines")?;
    let mac = hex(fields.value("Private-MAC")?)?;
    if encrypted {
        let (key, iv) = if version == 3 { (keys.get(..32), keys.get(32..48)) } else { (None, None) };
        let v2_key = v2_cipher_key(passphrase);
        let (key, iv) = match (key, iv) {
            (Some(key), Some(iv)) => (key, iv),
            _ => (v2_key.as_slice(), &[0u8; 16][..]),
        };
        if private.len() % 16 != 0 {
            return Err(DAMAGED);
        }
        let cipher = cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).map_err(|_| DAMAGED)?;
        cipher.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut private).map_err(|_| DAMAGED)?;
    }
    // The MAC covers the algorithm, the encryption, the comment, and both parts as stored in plain.
    let mut data =
        Zeroizing::new(Writer::with_capacity(4 * 5 + algorithm.len() + encryption.len() + comment.len() + public.len() + private.len()));
    data.string(algorithm.as_bytes()).string(encryption.as_bytes()).string(comment.as_bytes()).string(&public).string(&private);
    let mac_ok = if version == 3 {
        let mut h = Hmac::<Sha256>::new_from_slice(keys.get(48..).unwrap_or_default()).map_err(|_| DAMAGED)?;
        h.update(data.as_slice());
        h.verify_slice(&mac).is_ok()
    } else {
        let mut h = Hmac::<Sha1>::new_from_slice(v2_mac_key(passphrase).as_slice()).map_err(|_| DAMAGED)?;
        h.update(data.as_slice());
        h.verify_slice(&mac).is_ok()
    };
    if !mac_ok {
        return Err(if encrypted { KeyError::WrongPassphrase } else { KeyError::Malformed("the PuTTY key file's MAC does not match") });
    }
    let key = HostKey::from_wire(canonical(key_type, &public, &private, encrypted)?.as_slice())?;
    if key.public().blob() != public.as_slice() {
        return Err(KeyError::Malformed("the public half does not match the private key"));
    }
    Ok(key)
}

/// The v3 KDF header lines and the 80 bytes Argon2 derives from the passphrase with them.
fn argon2_keys(fields: &mut Fields, passphrase: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let algorithm = match fields.value("Key-Derivation")? {
        "Argon2id" => argon2::Algorithm::Argon2id,
        "Argon2i" => argon2::Algorithm::Argon2i,
        "Argon2d" => argon2::Algorithm::Argon2d,
        other => return Err(KeyError::Unsupported(format!("PuTTY key derivation {other}"))),
    };
    let number = |v: &str| v.parse::<u32>().map_err(|_| DAMAGED);
    let memory = number(fields.value("Argon2-Memory")?)?;
    let passes = number(fields.value("Argon2-Passes")?)?;
    let parallelism = number(fields.value("Argon2-Parallelism")?)?;
    let salt = hex(fields.value("Argon2-Salt")?)?;
    if memory > MAX_ARGON2_MEMORY_KIB || passes > MAX_ARGON2_PASSES || parallelism > MAX_ARGON2_PARALLELISM {
        return Err(KeyError::Refused(format!("Argon2 of {memory} KiB, {passes} passes, {parallelism} lanes: over this reader's bounds")));
    }
    let params = argon2::Params::new(memory, passes, parallelism, Some(80)).map_err(|_| DAMAGED)?;
    let mut out = Zeroizing::new(alloc::vec![0u8; 80]);
    argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, &mut out)
        .map_err(|_| DAMAGED)?;
    Ok(out)
}

/// v2's cipher key: SHA-1 of a counter and the passphrase, twice, cut to 32 bytes.
fn v2_cipher_key(passphrase: &str) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(40));
    for counter in [0u32, 1] {
        key.extend_from_slice(&Sha1::new().chain_update(counter.to_be_bytes()).chain_update(passphrase).finalize());
    }
    key.truncate(32);
    key
}

/// v2's MAC key: SHA-1 of a fixed string and the passphrase (empty for a plain file).
fn v2_mac_key(passphrase: &str) -> Zeroizing<[u8; 20]> {
    Zeroizing::new(Sha1::new().chain_update("putty-private-key-file-mac-key").chain_update(passphrase).finalize().into())
}

fn hex(text: &str) -> Result<Vec<u8>, KeyError> {
    if text.len() % 2 != 0 {
        return Err(DAMAGED);
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(DAMAGED)).collect()
}

/// The canonical form from the public blob and PuTTY's private fields (`*_private_blob` in PuTTY's sources):
/// ed25519 the seed as a little-endian integer, ECDSA the scalar, RSA `d, p, q, iqmp`, DSA `x`.
fn canonical(key_type: KeyType, public: &[u8], private: &[u8], padded: bool) -> Result<Zeroizing<Writer>, KeyError> {
    let mut pr = Reader::new(public);
    pr.utf8()?;
    let mut sr = Reader::new(private);
    let mut w = Zeroizing::new(Writer::with_capacity(public.len() + private.len() + 64));
    w.string(key_type.name().as_bytes());
    match key_type {
        KeyType::Ed25519 => {
            let point = pr.string()?;
            // A string of up to 32 bytes, its top zero bytes dropped.
            let mut seed = Zeroizing::new([0u8; 64]);
            let bytes = sr.string()?;
            seed.get_mut(..bytes.len()).ok_or(DAMAGED)?.copy_from_slice(bytes);
            if bytes.len() > 32 {
                return Err(DAMAGED);
            }
            seed.get_mut(32..).unwrap_or_default().copy_from_slice(point.get(..32).ok_or(DAMAGED)?);
            w.string(point).string(seed.as_ref());
        }
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
            let (curve, point) = (pr.string()?, pr.string()?);
            w.string(curve).string(point).mpint(sr.mpint()?);
        }
        KeyType::Rsa => {
            let (e, n) = (pr.mpint()?, pr.mpint()?);
            let (d, p, q, iqmp) = (sr.mpint()?, sr.mpint()?, sr.mpint()?, sr.mpint()?);
            w.mpint(n).mpint(e).mpint(d).mpint(iqmp).mpint(p).mpint(q);
        }
        KeyType::Dsa => {
            let (p, q, g, y) = (pr.mpint()?, pr.mpint()?, pr.mpint()?, pr.mpint()?);
            w.mpint(p).mpint(q).mpint(g).mpint(y).mpint(sr.mpint()?);
        }
    }
    pr.finish()?;
    // An encrypted file pads the fields to the cipher's block.
    if sr.remaining() >= if padded { 16 } else { 1 } {
        return Err(DAMAGED);
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers made by puttygen 0.78: one ed25519 key as a plain v2 file and a v2 file encrypted with the
    // passphrase `kat`; another as a plain v3 file and a v3 file encrypted with `kat` (Argon2id, 64 KiB, 2 passes).
    const V2: &str = "PuTTY-User-Key-File-2: ssh-ed25519\nEncryption: none\nComment: kat\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAILW9mXbs7Kpaci8jSagraINyOE1iA9hRaPD9Z8PN\nwADA\nPrivate-Lines: 1\nAAAAIK0Qm/rZl/cL3xt+wWT/vEnktINvZZypKAz8cyjwHUlW\nPrivate-MAC: 545517da3c115a85a849a445a030ff5df791d43b\n";
    const V2_ENC: &str = "PuTTY-User-Key-File-2: ssh-ed25519\nEncryption: aes256-cbc\nComment: kat\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAILW9mXbs7Kpaci8jSagraINyOE1iA9hRaPD9Z8PN\nwADA\nPrivate-Lines: 1\n2MHDhKDNOSTlSON7+VfvqeeisTcdauUzH+OmOMNPfgTmAak/YOpKFRD68YMdBW1D\nPrivate-MAC: 2c1d4026ec626f3fe75d3352245c6a0731836046\n";
    const V2_PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILW9mXbs7Kpaci8jSagraINyOE1iA9hRaPD9Z8PNwADA";
    const V3: &str = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: kat3\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAILIHFDmpbyjr3yQYzVG0josbSC8WfR6/bkp6feuG\nrzAz\nPrivate-Lines: 1\nAAAAIFMOZhfDryN+B+jcIItTRHXGpIubNEWe05nE8uqTucNJ\nPrivate-MAC: 9cdd063c17115defcd840a3c1d929f99630fee667304f2809e744d0959b25348\n";
    const V3_ENC: &str = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\nComment: kat3e\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAILIHFDmpbyjr3yQYzVG0josbSC8WfR6/bkp6feuG\nrzAz\nKey-Derivation: Argon2id\nArgon2-Memory: 64\nArgon2-Passes: 2\nArgon2-Parallelism: 1\nArgon2-Salt: 907d0f56dfc4e9e90699baa594f93f49\nPrivate-Lines: 1\n+jl4iODNU+BpLvcHwb1IQ++ieLirj+OnuW1RoEESVH0jb95vlzhKWHqLbjTMa/w2\nPrivate-MAC: 9feb1df3d7ea7335f194177f31f2040500045433f12898becbb50b45f3a3b019\n";
    const V3_PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIHFDmpbyjr3yQYzVG0josbSC8WfR6/bkp6feuGrzAz";

    #[test]
    fn v2_key_derivation_matches_sha1_computed_apart() {
        // Python's hashlib: sha1(b'putty-private-key-file-mac-key' + b'kat'), and the two counter hashes.
        assert_eq!(v2_mac_key("kat").as_slice(), &hex("2b26d762cfd1cdb07d003b0144e2c3034db25363").unwrap()[..]);
        assert_eq!(v2_cipher_key("kat").as_slice(), &hex("1f96ac040478025d945ba9c44bf4b8db3ba9bba167ba9ee69d03d521418ddb80").unwrap()[..]);
    }

    #[test]
    fn puttygen_files_pass_their_mac_and_hold_the_key() {
        for (text, passphrase, public) in
            [(V2, None, V2_PUBLIC), (V2_ENC, Some("kat"), V2_PUBLIC), (V3, None, V3_PUBLIC), (V3_ENC, Some("kat"), V3_PUBLIC)]
        {
            let key = read(text, passphrase).unwrap();
            assert_eq!(key.public().to_openssh_line(), public);
        }
    }

    #[test]
    fn a_wrong_passphrase_or_a_changed_byte_fails_the_mac() {
        for text in [V2_ENC, V3_ENC] {
            assert_eq!(read(text, None).err(), Some(KeyError::PassphraseNeeded));
            assert_eq!(read(text, Some("wrong")).err(), Some(KeyError::WrongPassphrase));
        }
        // The comment is covered too.
        assert!(matches!(read(&V3.replace("kat3", "kat4"), None), Err(KeyError::Malformed(_))));
        for cut in 0..V3.len() - 1 {
            assert!(read(&V3[..cut], None).is_err(), "cut at {cut}");
        }
        assert!(matches!(read(&V3.replace("File-3", "File-4"), None), Err(KeyError::Unsupported(_))));
        let greedy = V3_ENC.replace("Argon2-Memory: 64", "Argon2-Memory: 4194304");
        assert!(matches!(read(&greedy, Some("kat")), Err(KeyError::Refused(_))));
    }
}
