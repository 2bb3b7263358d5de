//! What the fuzz targets share: a reader over the fuzz input, the cipher suites, and a host that drives
//! a `Server` the way a real one does (answering every decision) next to the test client of
//! `core-rs/tests/common/client.rs`, so that input reaches authentication and the connection layer; and
//! a recorder of the calls that host makes, for replaying them through the wasm module (`transcript`).

#[path = "../../tests/common/client.rs"]
pub mod client;
pub mod host;
pub mod peer;
pub mod transcript;

use wasshd_core::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len};
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;
use wasshd_core::transport::negotiate::{CipherAlg, MacAlg};
use wasshd_core::transport::packet::DirectionKeys;

/// Takes fields off the front of the fuzz input. Past the end every read gives zeros or an empty slice,
/// so a target never needs to check that enough input is left.
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = tail;
        head
    }

    /// A `[u16 BE length][bytes]` field.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.u16();
        self.take(usize::from(n))
    }

    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }
}

/// Every packet protection the core implements: the AEAD ciphers alone, AES-CTR with each MAC.
pub fn suites() -> impl Iterator<Item = (CipherAlg, Option<MacAlg>)> {
    CipherAlg::ALL.iter().flat_map(|&cipher| {
        let macs: &[MacAlg] = if cipher.is_aead() { &[] } else { MacAlg::ALL };
        let aead = cipher.is_aead().then_some((cipher, None));
        aead.into_iter().chain(macs.iter().map(move |&mac| (cipher, Some(mac))))
    })
}

pub fn suite(index: u8) -> (CipherAlg, Option<MacAlg>) {
    let n = suites().count();
    suites().nth(usize::from(index) % n).unwrap_or((CipherAlg::Chacha20Poly1305, None))
}

/// The fifteen suites a session of the handshake target starts with, by the low four bits of its flags
/// (the sixteenth value asks for compression), which the checked-in seeds name: the AEAD ciphers, and
/// AES-CTR with each HMAC-SHA-2. MACs added since are fuzzed by the packet and mac targets.
pub fn handshake_suites() -> impl Iterator<Item = (CipherAlg, Option<MacAlg>)> {
    const HMACS: [MacAlg; 4] = [MacAlg::HmacSha256Etm, MacAlg::HmacSha512Etm, MacAlg::HmacSha256, MacAlg::HmacSha512];
    suites().filter(|(cipher, mac)| CipherAlg::DEFAULT.contains(cipher) && mac.map_or(true, |m| HMACS.contains(&m)))
}

pub fn handshake_suite(index: u8) -> (CipherAlg, Option<MacAlg>) {
    let n = handshake_suites().count();
    handshake_suites().nth(usize::from(index) % n).unwrap_or((CipherAlg::Chacha20Poly1305, None))
}

/// Key, IV and MAC key bytes, long enough for any suite.
pub struct KeyMaterial {
    pub key: [u8; 64],
    pub iv: [u8; 16],
    pub mac_key: [u8; 64],
}

impl KeyMaterial {
    pub const LEN: usize = 64 + 16 + 64;

    pub fn read(input: &mut Input) -> Self {
        let mut m = KeyMaterial { key: [0; 64], iv: [0; 16], mac_key: [0; 64] };
        for (dst, src) in m.key.iter_mut().chain(m.iv.iter_mut()).chain(m.mac_key.iter_mut()).zip(input.take(Self::LEN)) {
            *dst = *src;
        }
        m
    }

    /// The keys for one direction of `(cipher, mac)`, each the length the suite needs.
    pub fn keys(&self, cipher: CipherAlg, mac: Option<MacAlg>) -> DirectionKeys<'_> {
        DirectionKeys {
            cipher,
            mac,
            key: &self.key[..cipher_key_len(cipher)],
            iv: &self.iv[..cipher_iv_len(cipher)],
            mac_key: &self.mac_key[..mac.map_or(0, mac_key_len)],
            provider: &RUST_CRYPTO,
        }
    }
}
