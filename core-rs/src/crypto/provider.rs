//! Where the packet layer's bulk primitives come from, in the spirit of rustls' `CryptoProvider`: AES-GCM,
//! AES-CTR, the ChaCha20 stream and HMAC-SHA-2, each keyed once when a direction is keyed and kept in a boxed
//! object that wipes its key (or releases the host's copy) when dropped. The protocol around them stays in
//! the core: framing, sequence numbers, nonces and their increments, the length field, MAC order, Poly1305
//! and every tag comparison but AES-GCM's, which the AEAD makes itself (`crypto::cipher`, `transport::packet`).
//!
//! The core's own provider is [`RUST_CRYPTO`](crate::crypto::rustcrypto::RUST_CRYPTO); an embedding may
//! offer another (the wasm shim's, over the host's `node:crypto`) with [`Config::offer_crypto`](crate::Config::offer_crypto).

use alloc::boxed::Box;
use core::fmt::Debug;

/// A tag did not authenticate the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTag;

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacHash {
    Sha256,
    Sha512,
    /// The legacy MACs' (`hmac-sha1`, `hmac-md5`), off unless configured.
    Sha1,
    Md5,
    /// `hmac-ripemd160`'s, off unless configured.
    Ripemd160,
}

impl HmacHash {
    pub fn output_len(self) -> usize {
        match self {
            HmacHash::Sha256 => 32,
            HmacHash::Sha512 => 64,
            HmacHash::Sha1 => 20,
            HmacHash::Md5 => 16,
            HmacHash::Ripemd160 => 20,
        }
    }
}

pub trait CryptoProvider: Debug {
    /// The value of the `CryptoProvider` setting that selects it.
    fn name(&self) -> &'static str;
    /// AES-128-GCM or AES-256-GCM by the key's length (16 or 32 bytes); `None` for another length.
    fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>>;
    /// AES-128, -192 or -256 by the key's length in counter mode from the 16-byte counter block `iv`
    /// (incremented as a 128-bit big-endian number, RFC 4344), its position kept across calls; `None` for
    /// a key or counter block of another length.
    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>>;
    /// `cipher` in CBC mode from `iv` (a block), encrypting, or decrypting if `decrypt`, whole blocks per
    /// call, chained on from the last; `None` for a key or IV of another length.
    fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>>;
    /// RC4 under `key` (16 or 32 bytes), its keystream from the start: the `arcfour` ciphers, off unless
    /// configured; `None` for another length.
    fn arcfour(&self, key: &[u8]) -> Option<Box<dyn SequentialCipher>>;
    /// The original ChaCha20 (64-bit block counter, 64-bit nonce) under `key`.
    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20>;
    /// HMAC (RFC 2104) under `key`, of any length; `None` for a legacy hash the provider cannot have.
    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>>;
    /// Whether the legacy primitives (3DES, Blowfish and CAST-128 in CBC mode, RC4, HMAC-MD5 and HMAC-RIPEMD-160)
    /// can be had, loading them if they live elsewhere (`crypto::legacy`): checked when a setting names an
    /// algorithm that needs one, so that a host without them refuses the setting rather than the connection.
    fn legacy_available(&self) -> bool;
}

pub trait AesGcm {
    /// Encrypts `data` in place under the 12-byte `nonce`, authenticating `aad` too; returns the tag.
    fn seal(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16];
    /// Checks `tag` over `aad` and the ciphertext `data`, then decrypts `data` in place. On a bad tag
    /// `data` holds no plaintext.
    fn open(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8; 16]) -> Result<(), BadTag>;
}

/// A cipher whose state runs on across calls: CTR's counter, CBC's chaining block.
pub trait SequentialCipher {
    /// Encrypts or decrypts `data` in place, as keyed: for CTR, XORs the next `data.len()` bytes of
    /// keystream; for CBC, `data` is whole blocks.
    fn apply(&mut self, data: &mut [u8]);
}

/// The block ciphers of the legacy CBC modes (`aes*-cbc`, `3des-cbc`), off unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCipher {
    /// AES-128, -192 or -256 by the key's length; 16-byte blocks.
    Aes,
    /// 3DES-EDE with three 8-byte keys; 8-byte blocks.
    TripleDes,
    /// Blowfish with a 16-byte key (`blowfish-cbc`); 8-byte blocks.
    Blowfish,
    /// CAST-128 with a 16-byte key (`cast128-cbc`, RFC 2144); 8-byte blocks.
    Cast128,
}

impl BlockCipher {
    pub fn block_len(self) -> usize {
        match self {
            BlockCipher::Aes => 16,
            BlockCipher::TripleDes | BlockCipher::Blowfish | BlockCipher::Cast128 => 8,
        }
    }
}

pub trait ChaCha20 {
    /// XORs the keystream for `nonce` from block `counter` into `data`. The counter's high word stays zero:
    /// `data` must end within block 2^32, as every SSH packet does (OpenSSH's construction starts at block 1).
    fn apply(&mut self, nonce: &[u8; 8], counter: u32, data: &mut [u8]);
}

pub trait Hmac {
    /// The MAC of `uint32 seq || data` (RFC 4253 §6.4) into `tag`, which holds the hash's output length.
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]);
}
