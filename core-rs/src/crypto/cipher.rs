//! The packet protections over a provider's primitives ([`crate::crypto::provider`]), with the parts that
//! are protocol and not primitive: OpenSSH's length encryption and Poly1305, the AES-GCM invocation counter,
//! the sequence number under the MAC, and constant-time tag comparison.

use alloc::boxed::Box;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::{ChaCha20Legacy, LegacyNonce};
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::crypto::provider::{AesGcm, BadTag, ChaCha20, CryptoProvider, Hmac, HmacHash};
use crate::crypto::umac::Umac;
use crate::transport::negotiate::{CipherAlg, MacAlg};

/// Sizes of key material a cipher needs from the key derivation (RFC 4253 §7.2).
pub fn cipher_key_len(alg: CipherAlg) -> usize {
    match alg {
        CipherAlg::Chacha20Poly1305 => 64,
        CipherAlg::Aes128Gcm | CipherAlg::Aes128Ctr | CipherAlg::Aes128Cbc => 16,
        CipherAlg::BlowfishCbc | CipherAlg::Cast128Cbc | CipherAlg::Arcfour | CipherAlg::Arcfour128 => 16,
        CipherAlg::Aes192Ctr | CipherAlg::Aes192Cbc | CipherAlg::TripleDesCbc => 24,
        CipherAlg::Arcfour256 => 32,
        CipherAlg::Aes256Gcm | CipherAlg::Aes256Ctr | CipherAlg::Aes256Cbc => 32,
    }
}

pub fn cipher_iv_len(alg: CipherAlg) -> usize {
    match alg {
        CipherAlg::Chacha20Poly1305 => 0,
        CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => 12,
        CipherAlg::Aes128Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes256Ctr => 16,
        CipherAlg::Aes128Cbc | CipherAlg::Aes192Cbc | CipherAlg::Aes256Cbc => 16,
        CipherAlg::TripleDesCbc | CipherAlg::BlowfishCbc | CipherAlg::Cast128Cbc => 8,
        CipherAlg::Arcfour | CipherAlg::Arcfour128 | CipherAlg::Arcfour256 => 0,
    }
}

/// The hash under an HMAC; `None` for UMAC.
fn mac_hash(alg: MacAlg) -> Option<HmacHash> {
    match alg {
        MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => Some(HmacHash::Sha256),
        MacAlg::HmacSha512 | MacAlg::HmacSha512Etm => Some(HmacHash::Sha512),
        MacAlg::HmacSha1 | MacAlg::HmacSha1Etm | MacAlg::HmacSha196 | MacAlg::HmacSha196Etm => Some(HmacHash::Sha1),
        MacAlg::HmacMd5 | MacAlg::HmacMd5Etm | MacAlg::HmacMd596 | MacAlg::HmacMd596Etm => Some(HmacHash::Md5),
        MacAlg::HmacRipemd160 | MacAlg::HmacRipemd160OpenSsh | MacAlg::HmacRipemd160Etm => Some(HmacHash::Ripemd160),
        MacAlg::Umac64 | MacAlg::Umac64Etm | MacAlg::Umac128 | MacAlg::Umac128Etm => None,
    }
}

/// An HMAC key is as long as the hash's output (RFC 4253 §7.2, RFC 6668); UMAC's is an AES-128 key.
pub fn mac_key_len(alg: MacAlg) -> usize {
    mac_hash(alg).map_or(16, HmacHash::output_len)
}

fn mac_tag_len(alg: MacAlg) -> usize {
    match alg {
        MacAlg::Umac64 | MacAlg::Umac64Etm => 8,
        MacAlg::Umac128 | MacAlg::Umac128Etm => 16,
        // The -96 forms send the first 12 bytes of the HMAC (RFC 2404).
        MacAlg::HmacSha196 | MacAlg::HmacSha196Etm | MacAlg::HmacMd596 | MacAlg::HmacMd596Etm => 12,
        _ => mac_key_len(alg),
    }
}

/// `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305): two ChaCha20 keys from 64 bytes of
/// key material, the packet sequence number as the 64-bit nonce, and Poly1305 over the whole ciphertext
/// with a key taken from block 0 of the main key. The provider encrypts the body; the 4-byte length and the
/// Poly1305 key, one block each, are computed here, where a block costs less than a call out of wasm.
pub struct ChaChaPoly {
    main_key: [u8; 32],
    header_key: [u8; 32],
    body: Box<dyn ChaCha20>,
}

impl Drop for ChaChaPoly {
    fn drop(&mut self) {
        self.main_key.zeroize();
        self.header_key.zeroize();
    }
}

impl ChaChaPoly {
    pub const TAG_LEN: usize = 16;

    pub fn new(provider: &dyn CryptoProvider, key: &[u8]) -> Option<Self> {
        let (main, header) = key.split_at_checked(32)?;
        let main_key: [u8; 32] = main.try_into().ok()?;
        let header_key = header.get(..32)?.try_into().ok()?;
        Some(ChaChaPoly { body: provider.chacha20(&main_key), main_key, header_key })
    }

    fn stream(key: &[u8; 32], nonce: &[u8; 8]) -> ChaCha20Legacy {
        ChaCha20Legacy::new(key.into(), LegacyNonce::from_slice(nonce))
    }

    /// Decrypts the 4-byte length field without touching the buffer it came from.
    pub fn packet_length(&self, seq: u32, encrypted: [u8; 4]) -> u32 {
        let mut len = encrypted;
        Self::stream(&self.header_key, &u64::from(seq).to_be_bytes()).apply_keystream(&mut len);
        u32::from_be_bytes(len)
    }

    fn poly1305(&self, nonce: &[u8; 8], ciphertext: &[u8]) -> poly1305::Tag {
        let mut block0 = [0u8; 32];
        Self::stream(&self.main_key, nonce).apply_keystream(&mut block0);
        let tag = Poly1305::new(poly1305::Key::from_slice(&block0)).compute_unpadded(ciphertext);
        block0.zeroize();
        tag
    }

    /// Encrypts `packet` (length field first) in place and returns the tag.
    pub fn seal(&mut self, seq: u32, packet: &mut [u8]) -> [u8; 16] {
        let nonce = u64::from(seq).to_be_bytes();
        let (len, body) = packet.split_at_mut(4.min(packet.len()));
        Self::stream(&self.header_key, &nonce).apply_keystream(len);
        self.body.apply(&nonce, 1, body);
        self.poly1305(&nonce, packet).into()
    }

    /// Checks the tag over the ciphertext, then decrypts the body (everything after the length) in place.
    pub fn open(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), BadTag> {
        let nonce = u64::from(seq).to_be_bytes();
        if !bool::from(self.poly1305(&nonce, packet).as_slice().ct_eq(tag)) {
            return Err(BadTag);
        }
        if let Some(body) = packet.get_mut(4..) {
            self.body.apply(&nonce, 1, body);
        }
        Ok(())
    }
}

/// AES-GCM as RFC 5647 uses it: the 4-byte length is associated data, and the last 8 bytes of the
/// 12-byte nonce count packets.
pub struct Gcm {
    aead: Box<dyn AesGcm>,
    nonce: [u8; 12],
}

impl Gcm {
    pub const TAG_LEN: usize = 16;

    /// AES-128-GCM or AES-256-GCM by the key's length.
    pub fn new(provider: &dyn CryptoProvider, key: &[u8], iv: &[u8]) -> Option<Self> {
        let nonce = iv.try_into().ok()?;
        Some(Gcm { aead: provider.aes_gcm(key)?, nonce })
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
        let tag = self.aead.seal(&self.nonce, aad, body);
        self.advance();
        tag
    }

    pub fn open(&mut self, aad: &[u8], body: &mut [u8], tag: &[u8]) -> Result<(), BadTag> {
        let tag = tag.try_into().map_err(|_| BadTag)?;
        let result = self.aead.open(&self.nonce, aad, body, tag);
        self.advance();
        result
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

/// A packet's MAC, keyed once: an HMAC over `uint32 seq || data` (RFC 4253 §6.4), from the provider, or
/// UMAC over `data` with the sequence number as its nonce (OpenSSH's `umac-*@openssh.com`), in the core.
pub struct PacketMac {
    alg: MacAlg,
    keyed: Keyed,
}

enum Keyed {
    Hmac(Box<dyn Hmac>),
    Umac(Box<Umac>),
}

impl PacketMac {
    /// `None` for a UMAC key of another length than 16 bytes, or a hash the provider lacks.
    pub fn new(provider: &dyn CryptoProvider, alg: MacAlg, key: &[u8]) -> Option<Self> {
        let keyed = match mac_hash(alg) {
            Some(hash) => Keyed::Hmac(provider.hmac(hash, key)?),
            None => Keyed::Umac(Box::new(Umac::new(key, mac_tag_len(alg))?)),
        };
        Some(PacketMac { alg, keyed })
    }

    /// Whether the MAC covers the ciphertext (encrypt-then-MAC) rather than the plaintext.
    pub fn etm(&self) -> bool {
        self.alg.is_etm()
    }

    pub fn tag_len(&self) -> usize {
        mac_tag_len(self.alg)
    }

    /// The tag of `seq || data`, on the stack: this runs once per packet.
    pub fn sign(&mut self, seq: u32, data: &[u8]) -> MacTag {
        let mut tag = MacTag { bytes: [0; 64], len: self.tag_len() };
        match &mut self.keyed {
            // The whole HMAC; a -96 form's tag is its first 12 bytes.
            Keyed::Hmac(hmac) => hmac.sign(seq, data, tag.bytes.get_mut(..mac_key_len(self.alg)).unwrap_or_default()),
            Keyed::Umac(umac) => {
                for (t, u) in tag.bytes.iter_mut().zip(umac.tag(u64::from(seq).to_be_bytes(), data)) {
                    *t = u;
                }
            }
        }
        tag
    }

    /// Constant-time check of `tag` against `seq || data`.
    pub fn verify(&mut self, seq: u32, data: &[u8], tag: &[u8]) -> Result<(), BadTag> {
        if bool::from(self.sign(seq, data).as_ref().ct_eq(tag)) {
            Ok(())
        } else {
            Err(BadTag)
        }
    }
}
