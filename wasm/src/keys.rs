//! `KeyFiles`: private key files to the canonical form the server and client modules take
//! (`wasshd_core::keys::private`), and new keys as OpenSSH files. A module of its own, loaded by the first
//! call that reads or makes a key file, so that the parsers and their crates (PKCS#8, PBES2, bcrypt-pbkdf)
//! cost the server and client modules nothing.
//!
//! Key texts and passphrases arrive as owned strings and are zeroized here; a canonical key crosses to
//! JavaScript as a copy JavaScript makes from a view of a buffer that is then zeroized.

use wasm_bindgen::prelude::*;
use wasshd_boundary as boundary;
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::HostKey;
use zeroize::Zeroizing;

use crate::{js, Uint8Array};

#[wasm_bindgen]
pub struct KeyFiles {
    /// For new keys only.
    rng: EntropyPool,
}

/// The key's canonical form, copied by JavaScript out of a buffer wiped on drop.
fn canonical(key: &HostKey) -> Uint8Array {
    Uint8Array::new(key.to_wire().as_slice())
}

#[wasm_bindgen]
impl KeyFiles {
    /// `seed`: at least 32 bytes from `crypto.getRandomValues`.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: &[u8]) -> Result<KeyFiles, JsError> {
        boundary::check_seed(seed).map_err(js)?;
        Ok(KeyFiles { rng: EntropyPool::new(seed) })
    }

    /// A host key file of any supported format (its bytes: text in UTF-8, or a PKCS#12 file), opened with
    /// `passphrase` if it is encrypted (empty: none), in the canonical form `Core.add_host_key` takes.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn host_key(&self, file: Vec<u8>, passphrase: String) -> Result<Uint8Array, JsError> {
        let (file, passphrase) = (Zeroizing::new(file), Zeroizing::new(passphrase));
        Ok(canonical(&boundary::host_key_file(&file, &passphrase).map_err(js)?))
    }

    /// A user's private key file, as `host_key`, for `ClientCore.auth_publickey` (errors carry the client's codes).
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn login_key(&self, file: Vec<u8>, passphrase: String) -> Result<Uint8Array, JsError> {
        let (file, passphrase) = (Zeroizing::new(file), Zeroizing::new(passphrase));
        Ok(canonical(&boundary::client::login_key(&file, &passphrase).map_err(js)?))
    }

    /// A new key as `ssh-keygen -t kind -b bits -N ''` makes it (`kind` `ed25519`, `ecdsa` or `rsa`; `bits` 0:
    /// the type's default), as an unencrypted OpenSSH private key file.
    #[wasm_bindgen(unchecked_return_type = "string")]
    pub fn generate(&mut self, kind: &str, bits: u32, comment: &str) -> Result<JsValue, JsError> {
        let text = boundary::generate_key_file(&mut self.rng, kind, bits, comment).map_err(js)?;
        Ok(JsValue::from_str(&text))
    }
}
