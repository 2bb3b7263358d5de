//! The legacy primitives for the server's and the client's modules, which are built without them (the core's
//! `legacy` feature: 22 KiB of each module's gzipped size): the `legacy_*` functions of the `wasshd_crypto` import
//! module, which the host serves from an instance of the legacy module (`legacy.rs`, `ts/core/legacy.ts`),
//! loaded by the first setting that names a legacy algorithm. (The JavaScript client offers only the default
//! algorithms, so its hosts give it no legacy module: `legacy_load` answers 0 there.) Each call copies its bytes into that instance and
//! back; these algorithms are off unless configured, and kept for old peers, not for speed.
//!
//! [`WITH_LEGACY`] is the core's own provider with these added: `CryptoProvider=wasm`, and what the host's
//! provider falls back to.

use wasshd_core::crypto::kat;
use wasshd_core::crypto::provider::{AesGcm, BlockCipher, ChaCha20, CryptoProvider, Hmac, HmacHash, SequentialCipher};
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;

use crate::host_crypto::Handle;

// Pointers and lengths address this instance's memory; the host copies exactly those bytes.
#[link(wasm_import_module = "wasshd_crypto")]
extern "C" {
    /// 1 once the host has the legacy module's instance (loading it now if it can), 0 if it cannot have it.
    fn legacy_load() -> u32;
    /// `cipher`: 1 3DES-EDE, 2 Blowfish, 3 CAST-128; `decrypt`: 1 or 0. 0 for a key or IV the cipher refuses.
    fn legacy_cbc_new(cipher: u32, decrypt: u32, key: *const u8, key_len: usize, iv: *const u8, iv_len: usize) -> u32;
    fn legacy_arcfour_new(key: *const u8, key_len: usize) -> u32;
    /// Runs `data` through a CBC or RC4 object, its state carried on.
    fn legacy_apply(handle: u32, data: *mut u8, len: usize);
    /// `hash`: 3 MD5, 4 RIPEMD-160 (the numbers of `host_crypto`'s `hmac_new`).
    fn legacy_hmac_new(hash: u32, key: *const u8, key_len: usize) -> u32;
    /// Writes the hash's whole output at `tag`.
    fn legacy_hmac_sign(handle: u32, seq: u32, data: *const u8, len: usize, tag: *mut u8);
    fn legacy_free(handle: u32);
}

#[derive(Debug)]
pub struct WithLegacy;

pub static WITH_LEGACY: WithLegacy = WithLegacy;

/// An object `make` puts in the legacy module's table, loading the module first (a peer can only negotiate
/// what a setting named, which loaded it already).
fn keyed(make: impl FnOnce() -> u32) -> Option<Handle> {
    // SAFETY: no arguments.
    if unsafe { legacy_load() } == 0 {
        return None;
    }
    Handle::new(make(), legacy_free)
}

impl CryptoProvider for WithLegacy {
    fn name(&self) -> &'static str {
        RUST_CRYPTO.name()
    }

    fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>> {
        RUST_CRYPTO.aes_gcm(key)
    }

    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        RUST_CRYPTO.aes_ctr(key, iv)
    }

    fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
        let id = match cipher {
            BlockCipher::Aes => return RUST_CRYPTO.cbc(cipher, key, iv, decrypt),
            BlockCipher::TripleDes => 1,
            BlockCipher::Blowfish => 2,
            BlockCipher::Cast128 => 3,
        };
        // SAFETY: the host reads `key` and `iv`.
        let handle = keyed(|| unsafe { legacy_cbc_new(id, u32::from(decrypt), key.as_ptr(), key.len(), iv.as_ptr(), iv.len()) })?;
        Some(Box::new(Sequential(handle)))
    }

    fn arcfour(&self, key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        // SAFETY: the host reads `key`.
        let handle = keyed(|| unsafe { legacy_arcfour_new(key.as_ptr(), key.len()) })?;
        Some(Box::new(Sequential(handle)))
    }

    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
        RUST_CRYPTO.chacha20(key)
    }

    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
        let id = match hash {
            HmacHash::Sha256 | HmacHash::Sha512 | HmacHash::Sha1 => return RUST_CRYPTO.hmac(hash, key),
            HmacHash::Md5 => 3,
            HmacHash::Ripemd160 => 4,
        };
        // SAFETY: the host reads `key`.
        let handle = keyed(|| unsafe { legacy_hmac_new(id, key.as_ptr(), key.len()) })?;
        Some(Box::new(LegacyHmac(handle)))
    }

    /// Loaded, and computing what the known-answer vectors say through the host's copies in and out.
    fn legacy_available(&self) -> bool {
        // SAFETY: no arguments.
        (unsafe { legacy_load() } == 1) && kat::check_legacy(self).is_ok()
    }
}

struct Sequential(Handle);

impl SequentialCipher for Sequential {
    fn apply(&mut self, data: &mut [u8]) {
        // SAFETY: the host rewrites `data`.
        unsafe { legacy_apply(self.0.get(), data.as_mut_ptr(), data.len()) }
    }
}

struct LegacyHmac(Handle);

impl Hmac for LegacyHmac {
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        // Room for the longest of the legacy hashes' outputs (RIPEMD-160's 20 bytes).
        let mut digest = [0u8; 20];
        // SAFETY: the host reads `data` and writes at most 20 bytes of `digest`.
        unsafe { legacy_hmac_sign(self.0.get(), seq, data.as_ptr(), data.len(), digest.as_mut_ptr()) };
        for (t, d) in tag.iter_mut().zip(digest) {
            *t = d;
        }
    }
}
