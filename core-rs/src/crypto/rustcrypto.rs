//! The core's own provider: RustCrypto's AES, AES-GCM and ChaCha20, and the core's HMAC (`crypto::hmac`),
//! compiled into the wasm module, so it serves every host (workerd, browsers, the WIT component). Key
//! schedules and keys are zeroized on drop (the crates' `zeroize` features, `crypto::hmac`).

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use alloc::boxed::Box;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::{ChaCha20Legacy, LegacyNonce};
use zeroize::Zeroize;

use crate::crypto::hmac::{Hmac as CoreHmac, Sha2, Sha256State, Sha512State};
use crate::crypto::provider::{AesCtr, AesGcm, BadTag, ChaCha20, CryptoProvider, Hmac, HmacHash};

type Ctr<C> = ctr::Ctr128BE<C>;

#[derive(Debug)]
pub struct RustCrypto;

pub static RUST_CRYPTO: RustCrypto = RustCrypto;

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>> {
        Some(match key.len() {
            16 => Box::new(Aead(Aes128Gcm::new_from_slice(key).ok()?)),
            32 => Box::new(Aead(Aes256Gcm::new_from_slice(key).ok()?)),
            _ => return None,
        })
    }

    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn AesCtr>> {
        Some(match key.len() {
            16 => Box::new(Stream(Ctr::<Aes128>::new_from_slices(key, iv).ok()?)),
            24 => Box::new(Stream(Ctr::<Aes192>::new_from_slices(key, iv).ok()?)),
            32 => Box::new(Stream(Ctr::<Aes256>::new_from_slices(key, iv).ok()?)),
            _ => return None,
        })
    }

    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
        Box::new(ChaChaKey(*key))
    }

    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Box<dyn Hmac> {
        match hash {
            HmacHash::Sha256 => Box::new(CoreHmac::<Sha256State>::new(key)),
            HmacHash::Sha512 => Box::new(CoreHmac::<Sha512State>::new(key)),
        }
    }
}

struct Aead<A>(A);

impl<A: AeadInPlace<NonceSize = U12, TagSize = U16>> AesGcm for Aead<A> {
    fn seal(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        // Encryption fails only for inputs over 64 GiB, far beyond any packet.
        self.0.encrypt_in_place_detached(Nonce::from_slice(nonce), aad, data).map(Into::into).unwrap_or([0; 16])
    }

    fn open(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8; 16]) -> Result<(), BadTag> {
        // aes-gcm checks the tag before it decrypts.
        self.0.decrypt_in_place_detached(Nonce::from_slice(nonce), aad, data, Tag::from_slice(tag)).map_err(|_| BadTag)
    }
}

struct Stream<S>(S);

impl<S: StreamCipher> AesCtr for Stream<S> {
    fn apply(&mut self, data: &mut [u8]) {
        self.0.apply_keystream(data);
    }
}

struct ChaChaKey([u8; 32]);

impl ChaCha20 for ChaChaKey {
    fn apply(&mut self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) {
        let mut stream = ChaCha20Legacy::new((&self.0).into(), LegacyNonce::from_slice(nonce));
        // Past block 2^32 (no packet reaches it) there is no keystream: leave no plaintext either.
        if stream.try_seek(u64::from(counter) * 64).is_err() || stream.try_apply_keystream(data).is_err() {
            data.zeroize();
        }
    }
}

impl Drop for ChaChaKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<H: Sha2> Hmac for CoreHmac<H> {
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        self.mac(&[&seq.to_be_bytes(), data], tag);
    }
}
