//! The legacy algorithms' primitives, off unless configured: 3DES, Blowfish and CAST-128 in CBC mode, RC4
//! (`arcfour*`), and the MD5 and RIPEMD-160 HMACs. They are the core's `legacy` feature: native builds and the
//! WIT component have it, while the server's and the client's wasm modules leave it out (22 KiB of their gzipped
//! size, mostly the block ciphers' tables) and reach the same code in a wasm module of their own, which the host
//! loads when a setting names one of these algorithms (`wasm/src/legacy.rs`).

use alloc::boxed::Box;
use chacha20::cipher::KeyInit;
use zeroize::Zeroize;

use crate::crypto::hmac::{BlockHash, Hmac as CoreHmac};
use crate::crypto::provider::{BlockCipher, Hmac, HmacHash, SequentialCipher};
use crate::crypto::rustcrypto::{cbc_keyed, Stream};

/// `cipher` in CBC mode for the legacy block ciphers; `None` for AES (the provider's own) or a key of another length.
pub fn cbc(cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
    match (cipher, key.len()) {
        (BlockCipher::TripleDes, 24) => cbc_keyed::<des::TdesEde3>(key, iv, decrypt),
        (BlockCipher::Blowfish, 16) => cbc_keyed::<blowfish::Blowfish>(key, iv, decrypt),
        (BlockCipher::Cast128, 16) => cbc_keyed::<cast5::Cast5>(key, iv, decrypt),
        _ => None,
    }
}

/// RC4 under a 16- or 32-byte key, its keystream from the start.
pub fn arcfour(key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
    use rc4::consts::{U16, U32};
    Some(match key.len() {
        16 => Box::new(Stream(rc4::Rc4::<U16>::new_from_slice(key).ok()?)),
        32 => Box::new(Stream(rc4::Rc4::<U32>::new_from_slice(key).ok()?)),
        _ => return None,
    })
}

/// HMAC-MD5 or HMAC-RIPEMD-160; `None` for the hashes the provider itself has.
pub fn hmac(hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
    Some(match hash {
        HmacHash::Md5 => Box::new(CoreHmac::<Md5State>::new(key)),
        HmacHash::Ripemd160 => Box::new(CoreHmac::<Ripemd160State>::new(key)),
        HmacHash::Sha256 | HmacHash::Sha512 | HmacHash::Sha1 => return None,
    })
}

/// MD5 (RFC 1321). Its compression function is written here: `md-5` exposes none, and the keyed inner and outer
/// states must be ours to wipe.
#[derive(Clone, Copy, Zeroize)]
pub struct Md5State([u32; 4]);

/// RIPEMD-160, written here for the same reasons: the `ripemd` crate exposes no compression function.
#[derive(Clone, Copy, Zeroize)]
pub struct Ripemd160State([u32; 5]);

/// MD5's sine-derived constants, floor(|sin(i + 1)| * 2^32) (RFC 1321 §3.4), and each round's rotations.
const MD5_K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];
const MD5_ROTATIONS: [[u32; 4]; 4] = [[7, 12, 17, 22], [5, 9, 14, 20], [4, 11, 16, 23], [6, 10, 15, 21]];

impl BlockHash for Md5State {
    const BLOCK: usize = 64;
    const LENGTH_FIELD: usize = 8;
    const LITTLE_ENDIAN: bool = true;
    const OUTPUT: usize = 16;
    fn initial() -> Self {
        Md5State([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476])
    }
    /// RFC 1321 §3.4: four rounds of sixteen steps, each round with its own function and word order.
    fn compress(&mut self, block: &[u8]) {
        let mut m = le_words(block);
        let [mut a, mut b, mut c, mut d] = self.0;
        for (i, k) in MD5_K.iter().enumerate() {
            let round = i / 16;
            let (f, g) = match round {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let word = m.get(g).copied().unwrap_or_default();
            let rotation = MD5_ROTATIONS.get(round).and_then(|r| r.get(i % 4)).copied().unwrap_or_default();
            let sum = a.wrapping_add(f).wrapping_add(*k).wrapping_add(word);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(sum.rotate_left(rotation));
        }
        for (s, v) in self.0.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
        m.zeroize();
    }
    fn write_output(&self, out: &mut [u8]) {
        write_le_u32(&self.0, out);
    }
}

/// RIPEMD-160's message word order and rotations (ISO/IEC 10118-3), for the left line (`RIPEMD_R`, `RIPEMD_S`)
/// and the right (`RIPEMD_RR`, `RIPEMD_SR`), five rounds of sixteen steps each.
const RIPEMD_R: [usize; 80] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8, 3, 10, 14, 4,
    9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2, 4, 0, 5, 9, 7, 12, 2, 10,
    14, 1, 3, 8, 11, 6, 15, 13,
];
const RIPEMD_RR: [usize; 80] = [
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2, 15, 5, 1, 3,
    7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14, 12, 15, 10, 4, 1, 5, 8, 7,
    6, 2, 13, 14, 0, 3, 9, 11,
];
const RIPEMD_S: [u32; 80] = [
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12, 11, 13, 6,
    7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12, 9, 15, 5, 11, 6, 8,
    13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
];
const RIPEMD_SR: [u32; 80] = [
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11, 9, 7, 15,
    11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8, 8, 5, 12, 9, 12, 5,
    14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
];
/// Each round's additive constant, left line then right.
const RIPEMD_K: [u32; 5] = [0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xa953fd4e];
const RIPEMD_KR: [u32; 5] = [0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x7a6d76e9, 0x00000000];

/// RIPEMD-160's boolean function of a round; the right line takes them in the opposite order.
fn ripemd_f(round: usize, x: u32, y: u32, z: u32) -> u32 {
    match round {
        0 => x ^ y ^ z,
        1 => (x & y) | (!x & z),
        2 => (x | !y) ^ z,
        3 => (x & z) | (y & !z),
        _ => x ^ (y | !z),
    }
}

impl BlockHash for Ripemd160State {
    const BLOCK: usize = 64;
    const LENGTH_FIELD: usize = 8;
    const LITTLE_ENDIAN: bool = true;
    const OUTPUT: usize = 20;
    fn initial() -> Self {
        Ripemd160State([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0])
    }
    /// Two lines of eighty steps over the same block, each with its own word order, rotations and constants,
    /// combined into the state at the end.
    fn compress(&mut self, block: &[u8]) {
        let mut m = le_words(block);
        let [h0, h1, h2, h3, h4] = self.0;
        let (mut a, mut b, mut c, mut d, mut e) = (h0, h1, h2, h3, h4);
        let (mut ar, mut br, mut cr, mut dr, mut er) = (h0, h1, h2, h3, h4);
        let word = |i: Option<&usize>| i.and_then(|&i| m.get(i)).copied().unwrap_or_default();
        for j in 0..80 {
            let round = j / 16;
            let k = RIPEMD_K.get(round).copied().unwrap_or_default();
            let kr = RIPEMD_KR.get(round).copied().unwrap_or_default();
            let s = RIPEMD_S.get(j).copied().unwrap_or_default();
            let sr = RIPEMD_SR.get(j).copied().unwrap_or_default();
            let t = a.wrapping_add(ripemd_f(round, b, c, d)).wrapping_add(word(RIPEMD_R.get(j))).wrapping_add(k).rotate_left(s).wrapping_add(e);
            (a, e, d, c, b) = (e, d, c.rotate_left(10), b, t);
            let t = ar.wrapping_add(ripemd_f(4 - round, br, cr, dr)).wrapping_add(word(RIPEMD_RR.get(j))).wrapping_add(kr).rotate_left(sr).wrapping_add(er);
            (ar, er, dr, cr, br) = (er, dr, cr.rotate_left(10), br, t);
        }
        self.0 = [
            h1.wrapping_add(c).wrapping_add(dr),
            h2.wrapping_add(d).wrapping_add(er),
            h3.wrapping_add(e).wrapping_add(ar),
            h4.wrapping_add(a).wrapping_add(br),
            h0.wrapping_add(b).wrapping_add(cr),
        ];
        m.zeroize();
    }
    fn write_output(&self, out: &mut [u8]) {
        write_le_u32(&self.0, out);
    }
}

/// A 64-byte block as sixteen little-endian words, as both MD5 and RIPEMD-160 read it.
fn le_words(block: &[u8]) -> [u32; 16] {
    let mut m = [0u32; 16];
    for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = <[u8; 4]>::try_from(b).map(u32::from_le_bytes).unwrap_or_default();
    }
    m
}

/// 32-bit state words into `out`, little-endian.
fn write_le_u32(words: &[u32], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
}
