//! The host's crypto provider: the bulk primitives of the `wasshd_crypto` import module, which the host
//! implements with `node:crypto` on Node, Deno and Bun (`ts/core/node-crypto-provider.ts`) over views of
//! this instance's memory, one call per primitive and packet. Each keyed object is a handle into the host's
//! table; dropping it frees the entry, whose key copy the host zero-fills. A primitive the host lacks
//! (Bun has no raw ChaCha20) comes back as handle 0 and is served by the core's own provider. The legacy
//! primitives always are (`own`): OpenSSL 3 keeps Blowfish, CAST-128 and RC4 in a provider the runtimes do not
//! load, and one source for all of them is one set of known answers to check.

use core::num::NonZeroU32;
use wasshd_core::config::Config;
use wasshd_core::crypto::kat;
use wasshd_core::crypto::provider::{AesGcm, BadTag, BlockCipher, ChaCha20, CryptoProvider, Hmac, HmacHash, SequentialCipher};

/// The core's own provider in this module: with the legacy primitives from the legacy module where this
/// module was built without them (`legacy_import`), as the server's and the client's are.
#[cfg(not(feature = "legacy"))]
fn own() -> &'static dyn CryptoProvider {
    &crate::legacy_import::WITH_LEGACY
}

#[cfg(feature = "legacy")]
fn own() -> &'static dyn CryptoProvider {
    &wasshd_core::crypto::rustcrypto::RUST_CRYPTO
}

// Pointers and lengths address this instance's memory; the host reads and writes exactly those bytes
// (`len` of data, 12 of a nonce, 16 of a counter block or GCM tag, the hash's output of an HMAC tag) and
// keeps no view of them past the call.
#[link(wasm_import_module = "wasshd_crypto")]
extern "C" {
    /// 1 if the host implements these functions; 0 if it has no such primitives (workerd, browsers).
    fn available() -> u32;
    fn gcm_new(key: *const u8, key_len: usize) -> u32;
    fn gcm_seal(handle: u32, nonce: *const u8, aad: *const u8, aad_len: usize, data: *mut u8, len: usize, tag: *mut u8);
    /// 1 if the tag authenticated the data, which is then decrypted; 0 otherwise, the data left as it was.
    fn gcm_open(handle: u32, nonce: *const u8, aad: *const u8, aad_len: usize, data: *mut u8, len: usize, tag: *const u8) -> u32;
    fn ctr_new(key: *const u8, key_len: usize, iv: *const u8) -> u32;
    /// AES in CBC mode by the key's length; `iv` is one block; `decrypt`: 1 or 0.
    fn cbc_new(decrypt: u32, key: *const u8, key_len: usize, iv: *const u8) -> u32;
    /// Runs `data` through a CTR or CBC object, its state carried on.
    fn cipher_apply(handle: u32, data: *mut u8, len: usize);
    fn chacha20_new(key: *const u8) -> u32;
    /// `iv`: ChaCha20's state words 12 to 15, the block counter (little-endian) and then the nonce, as
    /// OpenSSL's `chacha20` takes them.
    fn chacha20_apply(handle: u32, iv: *const u8, data: *mut u8, len: usize);
    /// `hash`: 0 SHA-256, 1 SHA-512, 2 SHA-1.
    fn hmac_new(hash: u32, key: *const u8, key_len: usize) -> u32;
    fn hmac_sign(handle: u32, seq: u32, data: *const u8, len: usize, tag: *mut u8);
    fn free(handle: u32);
}

#[derive(Debug)]
pub struct HostCrypto;

pub static HOST_CRYPTO: HostCrypto = HostCrypto;

/// Completes the core's own provider in either role's `config` (`own`), then offers the host's if the host has
/// one and it computes what the known-answer tests say: a runtime whose primitives differ would otherwise
/// corrupt every packet.
pub fn offer(config: &mut Config) {
    config.complete_own_crypto(own());
    // SAFETY: no arguments; every host supplies this import.
    if unsafe { available() } == 0 {
        return;
    }
    match kat::check(&HOST_CRYPTO) {
        Ok(()) => config.offer_crypto(&HOST_CRYPTO),
        Err(vector) => config.host_crypto = Err(format!("the host's crypto provider failed the known-answer test {vector}")),
    }
}

/// An entry in a table the host keeps (this provider's, or the legacy module's: `legacy_import`), freed with
/// its owner through that table's `free`.
pub(crate) struct Handle {
    raw: NonZeroU32,
    free: unsafe extern "C" fn(u32),
}

impl Handle {
    /// `None` for 0, the host's answer when it has no such primitive or refused the key.
    pub(crate) fn new(raw: u32, free: unsafe extern "C" fn(u32)) -> Option<Self> {
        NonZeroU32::new(raw).map(|raw| Handle { raw, free })
    }

    pub(crate) fn get(&self) -> u32 {
        self.raw.get()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from the host's table that `free` belongs to, and is freed once.
        unsafe { (self.free)(self.get()) }
    }
}

impl CryptoProvider for HostCrypto {
    fn name(&self) -> &'static str {
        "host"
    }

    fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>> {
        if !matches!(key.len(), 16 | 32) {
            return None;
        }
        // SAFETY: the host reads `key`.
        match Handle::new(unsafe { gcm_new(key.as_ptr(), key.len()) }, free) {
            Some(handle) => Some(Box::new(HostGcm(handle))),
            None => own().aes_gcm(key),
        }
    }

    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        if !matches!(key.len(), 16 | 24 | 32) || iv.len() != 16 {
            return None;
        }
        // SAFETY: the host reads `key` and the 16 bytes of `iv`.
        match Handle::new(unsafe { ctr_new(key.as_ptr(), key.len(), iv.as_ptr()) }, free) {
            Some(handle) => Some(Box::new(HostSequential(handle))),
            None => own().aes_ctr(key, iv),
        }
    }

    /// AES from the host; the legacy block ciphers from the legacy module, like every legacy primitive (one
    /// source, checked against its known answers when it loads).
    fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
        if cipher != BlockCipher::Aes {
            return own().cbc(cipher, key, iv, decrypt);
        }
        if !matches!(key.len(), 16 | 24 | 32) || iv.len() != cipher.block_len() {
            return None;
        }
        // SAFETY: the host reads `key` and the block of `iv`.
        match Handle::new(unsafe { cbc_new(u32::from(decrypt), key.as_ptr(), key.len(), iv.as_ptr()) }, free) {
            Some(handle) => Some(Box::new(HostSequential(handle))),
            None => own().cbc(cipher, key, iv, decrypt),
        }
    }

    fn arcfour(&self, key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        own().arcfour(key)
    }

    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
        // SAFETY: the host reads the 32 bytes of `key`.
        match Handle::new(unsafe { chacha20_new(key.as_ptr()) }, free) {
            Some(handle) => Box::new(HostChaCha20(handle)),
            None => own().chacha20(key),
        }
    }

    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
        let id = match hash {
            HmacHash::Sha256 => 0,
            HmacHash::Sha512 => 1,
            HmacHash::Sha1 => 2,
            HmacHash::Md5 | HmacHash::Ripemd160 => return own().hmac(hash, key),
        };
        // SAFETY: the host reads `key`.
        match Handle::new(unsafe { hmac_new(id, key.as_ptr(), key.len()) }, free) {
            Some(handle) => Some(Box::new(HostHmac(handle))),
            None => own().hmac(hash, key),
        }
    }

    fn legacy_available(&self) -> bool {
        own().legacy_available()
    }
}

struct HostGcm(Handle);

impl AesGcm for HostGcm {
    fn seal(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        let mut tag = [0u8; 16];
        // SAFETY: the host reads `nonce` and `aad`, rewrites `data` and writes the 16 bytes of `tag`.
        unsafe { gcm_seal(self.0.get(), nonce.as_ptr(), aad.as_ptr(), aad.len(), data.as_mut_ptr(), data.len(), tag.as_mut_ptr()) };
        tag
    }

    fn open(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8; 16]) -> Result<(), BadTag> {
        // SAFETY: the host reads `nonce`, `aad` and `tag`, and rewrites `data` only once the tag is good.
        let ok = unsafe { gcm_open(self.0.get(), nonce.as_ptr(), aad.as_ptr(), aad.len(), data.as_mut_ptr(), data.len(), tag.as_ptr()) };
        if ok == 1 {
            Ok(())
        } else {
            Err(BadTag)
        }
    }
}

struct HostSequential(Handle);

impl SequentialCipher for HostSequential {
    fn apply(&mut self, data: &mut [u8]) {
        // SAFETY: the host rewrites `data`.
        unsafe { cipher_apply(self.0.get(), data.as_mut_ptr(), data.len()) }
    }
}

struct HostChaCha20(Handle);

impl ChaCha20 for HostChaCha20 {
    fn apply(&mut self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        let (count, rest) = iv.split_at_mut(4);
        count.copy_from_slice(&counter.to_le_bytes());
        // The counter's high word (bytes 4 to 7) stays zero.
        if let Some(n) = rest.get_mut(4..) {
            n.copy_from_slice(nonce);
        }
        // SAFETY: the host reads the 16 bytes of `iv` and rewrites `data`.
        unsafe { chacha20_apply(self.0.get(), iv.as_ptr(), data.as_mut_ptr(), data.len()) }
    }
}

struct HostHmac(Handle);

impl Hmac for HostHmac {
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        // The host writes the whole digest: into room for the longest, whatever `tag` holds.
        let mut digest = [0u8; 64];
        // SAFETY: the host reads `data` and writes at most 64 bytes of `digest`.
        unsafe { hmac_sign(self.0.get(), seq, data.as_ptr(), data.len(), digest.as_mut_ptr()) };
        for (t, d) in tag.iter_mut().zip(digest) {
            *t = d;
        }
    }
}
