//! The core's own provider: RustCrypto's AES (CTR and CBC), AES-GCM and ChaCha20, and the core's HMAC
//! (`crypto::hmac`), with the legacy primitives where the core has its `legacy` feature (`crypto::legacy`);
//! compiled into the wasm modules, so it serves every host (workerd, browsers, the WIT component). Key
//! schedules and keys are zeroized on drop (the crates' `zeroize` features, `crypto::hmac`).

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use alloc::boxed::Box;
use chacha20::cipher::generic_array::GenericArray;
use chacha20::cipher::{
    BlockCipher as BlockCipherMarker, BlockDecryptMut, BlockEncryptMut, KeyIvInit, StreamCipher,
};
use zeroize::Zeroize;

use crate::crypto::hmac::{BlockHash, Hmac as CoreHmac, Sha1State, Sha256State, Sha512State};
use crate::crypto::provider::{AesGcm, BadTag, BlockCipher, ChaCha20, CryptoProvider, Hmac, HmacHash, SequentialCipher};

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

    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        Some(match key.len() {
            16 => Box::new(Stream(Ctr::<Aes128>::new_from_slices(key, iv).ok()?)),
            24 => Box::new(Stream(Ctr::<Aes192>::new_from_slices(key, iv).ok()?)),
            32 => Box::new(Stream(Ctr::<Aes256>::new_from_slices(key, iv).ok()?)),
            _ => return None,
        })
    }

    fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
        match (cipher, key.len()) {
            (BlockCipher::Aes, 16) => cbc_keyed::<Aes128>(key, iv, decrypt),
            (BlockCipher::Aes, 24) => cbc_keyed::<Aes192>(key, iv, decrypt),
            (BlockCipher::Aes, 32) => cbc_keyed::<Aes256>(key, iv, decrypt),
            #[cfg(feature = "legacy")]
            _ => crate::crypto::legacy::cbc(cipher, key, iv, decrypt),
            #[cfg(not(feature = "legacy"))]
            _ => None,
        }
    }

    fn arcfour(&self, _key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        #[cfg(feature = "legacy")]
        return crate::crypto::legacy::arcfour(_key);
        #[cfg(not(feature = "legacy"))]
        None
    }

    fn legacy_available(&self) -> bool {
        cfg!(feature = "legacy")
    }

    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
        Box::new(ChaChaKey(*key))
    }

    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
        Some(match hash {
            HmacHash::Sha256 => Box::new(CoreHmac::<Sha256State>::new(key)),
            HmacHash::Sha512 => Box::new(CoreHmac::<Sha512State>::new(key)),
            HmacHash::Sha1 => Box::new(CoreHmac::<Sha1State>::new(key)),
            #[cfg(feature = "legacy")]
            HmacHash::Md5 | HmacHash::Ripemd160 => return crate::crypto::legacy::hmac(hash, key),
            #[cfg(not(feature = "legacy"))]
            HmacHash::Md5 | HmacHash::Ripemd160 => return None,
        })
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

pub(crate) struct Stream<S>(pub(crate) S);

impl<S: StreamCipher> SequentialCipher for Stream<S> {
    fn apply(&mut self, data: &mut [u8]) {
        self.0.apply_keystream(data);
    }
}

/// `C` in CBC mode from `iv`, encrypting or decrypting; `None` for a key or IV of another length.
pub(crate) fn cbc_keyed<C>(key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>>
where
    C: BlockEncryptMut + BlockDecryptMut + BlockCipherMarker + KeyInit + 'static,
{
    Some(if decrypt {
        Box::new(Cbc(cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?))
    } else {
        Box::new(Cbc(cbc::Encryptor::<C>::new_from_slices(key, iv).ok()?))
    })
}

/// A CBC encryptor or decryptor over whole blocks; the chaining block carries across calls.
struct Cbc<M>(M);

impl<M: CbcBlocks> SequentialCipher for Cbc<M> {
    fn apply(&mut self, data: &mut [u8]) {
        self.0.blocks(data);
    }
}

/// Either direction of `cbc`'s modes, a block at a time (a trailing partial block, which the packet layer
/// never passes, is left alone).
trait CbcBlocks {
    fn blocks(&mut self, data: &mut [u8]);
}

impl<C: BlockEncryptMut + BlockCipherMarker> CbcBlocks for cbc::Encryptor<C> {
    fn blocks(&mut self, data: &mut [u8]) {
        for block in data.chunks_exact_mut(C::block_size()) {
            self.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }
}

impl<C: BlockDecryptMut + BlockCipherMarker> CbcBlocks for cbc::Decryptor<C> {
    fn blocks(&mut self, data: &mut [u8]) {
        for block in data.chunks_exact_mut(C::block_size()) {
            self.decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }
}

struct ChaChaKey([u8; 32]);

impl ChaCha20 for ChaChaKey {
    fn apply(&mut self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) {
        // Past block 2^32 (no packet reaches it) there is no keystream: leave no plaintext either.
        if !self.keystream(nonce, counter, data) {
            data.zeroize();
        }
    }
}

impl ChaChaKey {
    /// In wasm four blocks at a time in simd128 lanes (`crypto::chacha4`); elsewhere the crate's own backends.
    #[cfg(target_arch = "wasm32")]
    fn keystream(&self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) -> bool {
        crate::crypto::chacha4::apply_simd128(&self.0, nonce, counter, data)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn keystream(&self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) -> bool {
        use chacha20::cipher::StreamCipherSeek;
        use chacha20::{ChaCha20Legacy, LegacyNonce};
        let mut stream = ChaCha20Legacy::new((&self.0).into(), LegacyNonce::from_slice(nonce));
        stream.try_seek(u64::from(counter) * 64).is_ok() && stream.try_apply_keystream(data).is_ok()
    }
}

impl Drop for ChaChaKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<H: BlockHash> Hmac for CoreHmac<H> {
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        self.mac(&[&seq.to_be_bytes(), data], tag);
    }
}
