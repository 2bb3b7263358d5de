//! The packet ciphers and MACs, built from RustCrypto primitives. Each type keeps its keys for one
//! direction and zeroizes them on drop (the RustCrypto `zeroize` features).

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use alloc::boxed::Box;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20Legacy;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;

use crate::crypto::hmac::{Hmac, Sha256State, Sha512State};
use crate::transport::negotiate::{CipherAlg, MacAlg};

type Ctr<C> = ctr::Ctr128BE<C>;

/// Sizes of key material a cipher needs from the key derivation (RFC 4253 §7.2).
pub fn cipher_key_len(alg: CipherAlg) -> usize {
    match alg {
        CipherAlg::Chacha20Poly1305 => 64,
        CipherAlg::Aes128Gcm | CipherAlg::Aes128Ctr => 16,
        CipherAlg::Aes192Ctr => 24,
        CipherAlg::Aes256Gcm | CipherAlg::Aes256Ctr => 32,
    }
}

pub fn cipher_iv_len(alg: CipherAlg) -> usize {
    match alg {
        CipherAlg::Chacha20Poly1305 => 0,
        CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => 12,
        CipherAlg::Aes128Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes256Ctr => 16,
    }
}

pub fn mac_key_len(alg: MacAlg) -> usize {
    match alg {
        MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => 32,
        MacAlg::HmacSha512 | MacAlg::HmacSha512Etm => 64,
    }
}

/// The cipher failed to authenticate a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTag;

/// `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305): two ChaCha20 instances keyed
/// from 64 bytes of key material, the packet sequence number as the 64-bit nonce, and Poly1305 over the
/// whole ciphertext with a key taken from block 0 of the main instance.
pub struct ChaChaPoly {
    main_key: [u8; 32],
    header_key: [u8; 32],
}

impl Drop for ChaChaPoly {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.main_key.zeroize();
        self.header_key.zeroize();
    }
}

impl ChaChaPoly {
    pub const TAG_LEN: usize = 16;

    pub fn new(key: &[u8]) -> Option<Self> {
        let (main, header) = key.split_at_checked(32)?;
        Some(ChaChaPoly { main_key: main.try_into().ok()?, header_key: header.get(..32)?.try_into().ok()? })
    }

    fn stream(key: &[u8; 32], seq: u32) -> ChaCha20Legacy {
        ChaCha20Legacy::new(key.into(), &u64::from(seq).to_be_bytes().into())
    }

    /// Decrypts the 4-byte length field without touching the buffer it came from.
    pub fn packet_length(&self, seq: u32, encrypted: [u8; 4]) -> u32 {
        let mut len = encrypted;
        Self::stream(&self.header_key, seq).apply_keystream(&mut len);
        u32::from_be_bytes(len)
    }

    fn poly_key(&self, seq: u32) -> (poly1305::Key, ChaCha20Legacy) {
        let mut main = Self::stream(&self.main_key, seq);
        let mut block0 = [0u8; 64];
        main.apply_keystream(&mut block0);
        let key = *poly1305::Key::from_slice(block0.get(..32).unwrap_or(&[0; 32]));
        zeroize::Zeroize::zeroize(&mut block0);
        main.seek(64u64);
        (key, main)
    }

    /// Encrypts `packet` (length field first) in place and returns the tag.
    pub fn seal(&self, seq: u32, packet: &mut [u8]) -> [u8; 16] {
        let (len, body) = packet.split_at_mut(4.min(packet.len()));
        Self::stream(&self.header_key, seq).apply_keystream(len);
        let (poly_key, mut main) = self.poly_key(seq);
        main.apply_keystream(body);
        Poly1305::new(&poly_key).compute_unpadded(packet).into()
    }

    /// Checks the tag over the ciphertext, then decrypts the body (everything after the length) in place.
    pub fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), BadTag> {
        let (poly_key, mut main) = self.poly_key(seq);
        let expected = Poly1305::new(&poly_key).compute_unpadded(packet);
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(BadTag);
        }
        if let Some(body) = packet.get_mut(4..) {
            main.apply_keystream(body);
        }
        Ok(())
    }
}

/// AES-GCM as RFC 5647 uses it: the 4-byte length is associated data, and the last 8 bytes of the
/// 12-byte nonce count packets.
pub struct Gcm {
    aead: GcmKey,
    nonce: [u8; 12],
}

// Boxed: the expanded AES key schedules are large and differ in size.
enum GcmKey {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl Gcm {
    pub const TAG_LEN: usize = 16;

    pub fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Option<Self> {
        let aead = match alg {
            CipherAlg::Aes128Gcm => GcmKey::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            CipherAlg::Aes256Gcm => GcmKey::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            _ => return None,
        };
        Some(Gcm { aead, nonce: iv.try_into().ok()? })
    }

    fn advance(&mut self) {
        let mut counter = [0u8; 8];
        counter.copy_from_slice(self.nonce.get(4..).unwrap_or(&[0; 8]));
        let next = u64::from_be_bytes(counter).wrapping_add(1).to_be_bytes();
        if let Some(tail) = self.nonce.get_mut(4..) {
            tail.copy_from_slice(&next);
        }
    }

    /// Encrypts `body` in place with `aad` (the length field) authenticated; returns the tag.
    pub fn seal(&mut self, aad: &[u8], body: &mut [u8]) -> [u8; 16] {
        let nonce = Nonce::from_slice(&self.nonce);
        let tag = match &self.aead {
            GcmKey::Aes128(k) => k.encrypt_in_place_detached(nonce, aad, body),
            GcmKey::Aes256(k) => k.encrypt_in_place_detached(nonce, aad, body),
        };
        self.advance();
        // Encryption fails only for inputs over 64 GiB, far beyond any packet.
        tag.map(Into::into).unwrap_or([0; 16])
    }

    pub fn open(&mut self, aad: &[u8], body: &mut [u8], tag: &[u8]) -> Result<(), BadTag> {
        let tag = Tag::from_exact_iter(tag.iter().copied()).ok_or(BadTag)?;
        let nonce = Nonce::from_slice(&self.nonce);
        let result = match &self.aead {
            GcmKey::Aes128(k) => k.decrypt_in_place_detached(nonce, aad, body, &tag),
            GcmKey::Aes256(k) => k.decrypt_in_place_detached(nonce, aad, body, &tag),
        };
        self.advance();
        result.map_err(|_| BadTag)
    }
}

/// AES in counter mode (RFC 4344), continuous across packets.
pub enum AesCtr {
    Aes128(Ctr<Aes128>),
    Aes192(Ctr<Aes192>),
    Aes256(Ctr<Aes256>),
}

impl AesCtr {
    pub fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Option<Self> {
        Some(match alg {
            CipherAlg::Aes128Ctr => AesCtr::Aes128(Ctr::new_from_slices(key, iv).ok()?),
            CipherAlg::Aes192Ctr => AesCtr::Aes192(Ctr::new_from_slices(key, iv).ok()?),
            CipherAlg::Aes256Ctr => AesCtr::Aes256(Ctr::new_from_slices(key, iv).ok()?),
            _ => return None,
        })
    }

    pub fn apply(&mut self, data: &mut [u8]) {
        match self {
            AesCtr::Aes128(c) => c.apply_keystream(data),
            AesCtr::Aes192(c) => c.apply_keystream(data),
            AesCtr::Aes256(c) => c.apply_keystream(data),
        }
    }
}

/// A MAC tag of up to 64 bytes.
pub struct MacTag {
    bytes: [u8; 64],
    len: usize,
}

impl AsRef<[u8]> for MacTag {
    fn as_ref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// HMAC over `uint32 seq || data` (RFC 4253 §6.4), keyed once.
pub struct PacketMac {
    alg: MacAlg,
    keyed: MacKey,
}

enum MacKey {
    Sha256(Hmac<Sha256State>),
    Sha512(Hmac<Sha512State>),
}

impl PacketMac {
    pub fn new(alg: MacAlg, key: &[u8]) -> Self {
        let keyed = match alg {
            MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => MacKey::Sha256(Hmac::new(key)),
            MacAlg::HmacSha512 | MacAlg::HmacSha512Etm => MacKey::Sha512(Hmac::new(key)),
        };
        PacketMac { alg, keyed }
    }

    /// Whether the MAC covers the ciphertext (encrypt-then-MAC) rather than the plaintext.
    pub fn etm(&self) -> bool {
        matches!(self.alg, MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm)
    }

    pub fn tag_len(&self) -> usize {
        match self.keyed {
            MacKey::Sha256(_) => 32,
            MacKey::Sha512(_) => 64,
        }
    }

    /// The tag of `seq || data`, on the stack: this runs once per packet.
    pub fn sign(&self, seq: u32, data: &[u8]) -> MacTag {
        let mut tag = MacTag { bytes: [0; 64], len: self.tag_len() };
        let parts: [&[u8]; 2] = [&seq.to_be_bytes(), data];
        match &self.keyed {
            MacKey::Sha256(m) => m.mac(&parts, tag.bytes.get_mut(..32).unwrap_or_default()),
            MacKey::Sha512(m) => m.mac(&parts, &mut tag.bytes),
        }
        tag
    }

    /// Constant-time check of `tag` against `seq || data`.
    pub fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> Result<(), BadTag> {
        if bool::from(self.sign(seq, data).as_ref().ct_eq(tag)) {
            Ok(())
        } else {
            Err(BadTag)
        }
    }
}
