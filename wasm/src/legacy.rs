//! `LegacyCrypto`: the legacy algorithms' primitives (`wasshd_core::crypto::legacy`) as a module of their own,
//! whose objects the server's and the client's modules use through the host (`legacy_import.rs`,
//! `ts/core/legacy.ts`). One instance per core instance: its table holds that core's keyed objects, each named
//! by a handle (its index + 1), and goes with the core if it traps. Keys and IVs arrive as owned copies, wiped
//! once keyed.

use wasm_bindgen::prelude::*;
use wasshd_core::crypto::legacy;
use wasshd_core::crypto::provider::{BlockCipher, Hmac, HmacHash, SequentialCipher};
use zeroize::Zeroizing;

enum Keyed {
    Cipher(Box<dyn SequentialCipher>),
    Mac(Box<dyn Hmac>, usize),
}

#[wasm_bindgen]
#[derive(Default)]
pub struct LegacyCrypto {
    slots: Vec<Option<Keyed>>,
    vacant: Vec<usize>,
}

#[wasm_bindgen]
impl LegacyCrypto {
    #[wasm_bindgen(constructor)]
    pub fn new() -> LegacyCrypto {
        LegacyCrypto::default()
    }

    /// `cipher` in CBC mode (1 3DES-EDE, 2 Blowfish, 3 CAST-128): a handle, or 0 for a key or IV it refuses.
    pub fn cbc(&mut self, cipher: u32, decrypt: bool, key: Vec<u8>, iv: Vec<u8>) -> u32 {
        let (key, iv) = (Zeroizing::new(key), Zeroizing::new(iv));
        let cipher = match cipher {
            1 => BlockCipher::TripleDes,
            2 => BlockCipher::Blowfish,
            3 => BlockCipher::Cast128,
            _ => return 0,
        };
        self.keep(legacy::cbc(cipher, &key, &iv, decrypt).map(Keyed::Cipher))
    }

    /// RC4 under a 16- or 32-byte key: a handle, or 0.
    pub fn arcfour(&mut self, key: Vec<u8>) -> u32 {
        let key = Zeroizing::new(key);
        self.keep(legacy::arcfour(&key).map(Keyed::Cipher))
    }

    /// HMAC (3 MD5, 4 RIPEMD-160) under `key`: a handle, or 0.
    pub fn hmac(&mut self, hash: u32, key: Vec<u8>) -> u32 {
        let key = Zeroizing::new(key);
        let hash = match hash {
            3 => HmacHash::Md5,
            4 => HmacHash::Ripemd160,
            _ => return 0,
        };
        self.keep(legacy::hmac(hash, &key).map(|mac| Keyed::Mac(mac, hash.output_len())))
    }

    /// Runs `data` through a cipher, its state carried on; another handle leaves it as it was.
    pub fn apply(&mut self, handle: u32, data: &mut [u8]) {
        if let Some(Keyed::Cipher(cipher)) = self.slot(handle) {
            cipher.apply(data);
        }
    }

    /// The MAC of `uint32 seq || data` into `tag`, which holds the hash's output.
    pub fn sign(&mut self, handle: u32, seq: u32, data: &[u8], tag: &mut [u8]) {
        if let Some(Keyed::Mac(mac, len)) = self.slot(handle) {
            if let Some(tag) = tag.get_mut(..*len) {
                mac.sign(seq, data, tag);
            }
        }
    }

    /// Drops the object (its key schedule wiped as it goes).
    pub fn free(&mut self, handle: u32) {
        let index = (handle as usize).wrapping_sub(1);
        if let Some(slot) = self.slots.get_mut(index) {
            if slot.take().is_some() {
                self.vacant.push(index);
            }
        }
    }
}

impl LegacyCrypto {
    fn keep(&mut self, keyed: Option<Keyed>) -> u32 {
        let Some(keyed) = keyed else { return 0 };
        let index = match self.vacant.pop() {
            Some(index) => index,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(keyed);
        }
        u32::try_from(index + 1).unwrap_or(0)
    }

    fn slot(&mut self, handle: u32) -> Option<&mut Keyed> {
        self.slots.get_mut((handle as usize).wrapping_sub(1))?.as_mut()
    }
}
