//! HMAC (RFC 2104) over the compression functions of SHA-256, SHA-512 and, for the legacy MACs, SHA-1 and MD5.
//! Built here rather than taken from the `hmac` crate so that the keyed inner and outer states are plain
//! arrays that are zeroized when a key is dropped, and so that a packet's MAC copies 64 bytes of state instead
//! of two hasher objects. MD5's compression function is written here too: `md-5` exposes none.
//! The same running hash serves the key exchange ([`SecretSha256`]): `sha2` 0.10 and `digest` 0.10 have no
//! `zeroize` feature, so their hashers would leave the shared secret's blocks behind.

use sha2::digest::consts::{U128, U64};
use sha2::digest::generic_array::GenericArray;
use zeroize::Zeroize;

/// One Merkle-Damgard hash (SHA-2, SHA-1, MD5): its state, block size and how a block is compressed.
pub trait BlockHash: Copy + Zeroize {
    const BLOCK: usize;
    /// Bytes of the message length field at the end of the last block.
    const LENGTH_FIELD: usize;
    /// MD5 writes the length little-endian; the SHAs big-endian.
    const LITTLE_ENDIAN: bool = false;
    const OUTPUT: usize;
    fn initial() -> Self;
    /// Compresses one block of exactly `BLOCK` bytes.
    fn compress(&mut self, block: &[u8]);
    fn write_output(&self, out: &mut [u8]);
}

#[derive(Clone, Copy, Zeroize)]
pub struct Sha256State([u32; 8]);

#[derive(Clone, Copy, Zeroize)]
pub struct Sha512State([u64; 8]);

/// SHA-1: the legacy MACs and the key exchanges that name it (off unless configured).
#[derive(Clone, Copy, Zeroize)]
pub struct Sha1State([u32; 5]);

/// SHA-384: SHA-512's compression from other initial values, its output cut to six words.
#[derive(Clone, Copy, Zeroize)]
pub struct Sha384State(Sha512State);

/// MD5, for the legacy MACs (off unless configured).
#[derive(Clone, Copy, Zeroize)]
pub struct Md5State([u32; 4]);

/// RIPEMD-160, for `hmac-ripemd160` (off unless configured). Written here, as MD5 is: the `ripemd` crate
/// exposes no compression function, and the keyed inner and outer states must be ours to wipe.
#[derive(Clone, Copy, Zeroize)]
pub struct Ripemd160State([u32; 5]);

impl BlockHash for Sha256State {
    const BLOCK: usize = 64;
    const LENGTH_FIELD: usize = 8;
    const OUTPUT: usize = 32;
    fn initial() -> Self {
        Sha256State([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
    }
    fn compress(&mut self, block: &[u8]) {
        sha2::compress256(&mut self.0, core::slice::from_ref(GenericArray::<u8, U64>::from_slice(block)));
    }
    fn write_output(&self, out: &mut [u8]) {
        write_be_u32(&self.0, out);
    }
}

impl BlockHash for Sha512State {
    const BLOCK: usize = 128;
    const LENGTH_FIELD: usize = 16;
    const OUTPUT: usize = 64;
    fn initial() -> Self {
        Sha512State([
            0x6a09e667f3bcc908,
            0xbb67ae8584caa73b,
            0x3c6ef372fe94f82b,
            0xa54ff53a5f1d36f1,
            0x510e527fade682d1,
            0x9b05688c2b3e6c1f,
            0x1f83d9abfb41bd6b,
            0x5be0cd19137e2179,
        ])
    }
    fn compress(&mut self, block: &[u8]) {
        sha2::compress512(&mut self.0, core::slice::from_ref(GenericArray::<u8, U128>::from_slice(block)));
    }
    fn write_output(&self, out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }
}

impl BlockHash for Sha1State {
    const BLOCK: usize = 64;
    const LENGTH_FIELD: usize = 8;
    const OUTPUT: usize = 20;
    fn initial() -> Self {
        Sha1State([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0])
    }
    fn compress(&mut self, block: &[u8]) {
        sha1::compress(&mut self.0, core::slice::from_ref(GenericArray::<u8, U64>::from_slice(block)));
    }
    fn write_output(&self, out: &mut [u8]) {
        write_be_u32(&self.0, out);
    }
}

impl BlockHash for Sha384State {
    const BLOCK: usize = 128;
    const LENGTH_FIELD: usize = 16;
    const OUTPUT: usize = 48;
    fn initial() -> Self {
        Sha384State(Sha512State([
            0xcbbb9d5dc1059ed8,
            0x629a292a367cd507,
            0x9159015a3070dd17,
            0x152fecd8f70e5939,
            0x67332667ffc00b31,
            0x8eb44a8768581511,
            0xdb0c2e0d64f98fa7,
            0x47b5481dbefa4fa4,
        ]))
    }
    fn compress(&mut self, block: &[u8]) {
        self.0.compress(block);
    }
    fn write_output(&self, out: &mut [u8]) {
        self.0.write_output(out);
    }
}

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
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = <[u8; 4]>::try_from(b).map(u32::from_le_bytes).unwrap_or_default();
        }
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
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
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
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = <[u8; 4]>::try_from(b).map(u32::from_le_bytes).unwrap_or_default();
        }
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
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
    }
}

/// 32-bit state words into `out`, big-endian.
fn write_be_u32(words: &[u32], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// A hash in progress: whole blocks are compressed straight from the input, the rest waits in `pending`.
/// State and pending bytes are zeroized when it is dropped.
pub struct Running<H: BlockHash> {
    state: H,
    pending: [u8; 128],
    filled: usize,
    total: u64,
}

/// SHA-256 for data that holds a secret (the key exchange's shared secret).
pub type SecretSha256 = Running<Sha256State>;
pub type SecretSha1 = Running<Sha1State>;
pub type SecretSha384 = Running<Sha384State>;
pub type SecretSha512 = Running<Sha512State>;

impl<H: BlockHash> Default for Running<H> {
    fn default() -> Self {
        Self::resume(H::initial(), 0)
    }
}

impl<H: BlockHash> Running<H> {
    /// Continues from `state`, which has already absorbed `done` bytes (a whole number of blocks).
    fn resume(state: H, done: u64) -> Self {
        Running { state, pending: [0; 128], filled: 0, total: done }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.filled > 0 {
            let take = (H::BLOCK - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.pending.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled < H::BLOCK {
                return;
            }
            self.state.compress(self.pending.get(..H::BLOCK).unwrap_or_default());
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(H::BLOCK);
        for block in &mut blocks {
            self.state.compress(block);
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.pending.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.filled = rest.len();
    }

    /// FIPS 180-4 §5.1 padding, then the digest into `out` (`H::OUTPUT` bytes).
    pub fn finish(mut self, out: &mut [u8]) {
        let bits = self.total.wrapping_mul(8);
        let mut tail = [0u8; 256];
        let room = if self.filled + 1 + H::LENGTH_FIELD <= H::BLOCK { H::BLOCK } else { 2 * H::BLOCK };
        if let Some(dst) = tail.get_mut(..self.filled) {
            dst.copy_from_slice(self.pending.get(..self.filled).unwrap_or_default());
        }
        if let Some(b) = tail.get_mut(self.filled) {
            *b = 0x80;
        }
        if let Some(dst) = tail.get_mut(room - 8..room) {
            dst.copy_from_slice(&if H::LITTLE_ENDIAN { bits.to_le_bytes() } else { bits.to_be_bytes() });
        }
        for block in tail.get(..room).unwrap_or_default().chunks_exact(H::BLOCK) {
            self.state.compress(block);
        }
        tail.zeroize();
        self.state.write_output(out);
    }
}

impl<H: BlockHash> Drop for Running<H> {
    fn drop(&mut self) {
        self.state.zeroize();
        self.pending.zeroize();
    }
}

/// A keyed HMAC: the states after absorbing the inner and outer padded keys.
pub struct Hmac<H: BlockHash> {
    inner: H,
    outer: H,
}

impl<H: BlockHash> Hmac<H> {
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 128];
        if key.len() > H::BLOCK {
            let mut h = Running::resume(H::initial(), 0);
            h.update(key);
            h.finish(block.get_mut(..H::OUTPUT).unwrap_or_default());
        } else if let Some(dst) = block.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let keyed = |pad: u8| {
            let mut padded = block;
            padded.iter_mut().for_each(|b| *b ^= pad);
            let mut state = H::initial();
            state.compress(padded.get(..H::BLOCK).unwrap_or_default());
            padded.zeroize();
            state
        };
        let (inner, outer) = (keyed(0x36), keyed(0x5c));
        block.zeroize();
        Hmac { inner, outer }
    }

    /// The MAC of the concatenation of `parts`, into `out` (`H::OUTPUT` bytes).
    pub fn mac(&self, parts: &[&[u8]], out: &mut [u8]) {
        let mut inner = Running::resume(self.inner, H::BLOCK as u64);
        for part in parts {
            inner.update(part);
        }
        let mut digest = [0u8; 64];
        inner.finish(digest.get_mut(..H::OUTPUT).unwrap_or_default());
        let mut outer = Running::resume(self.outer, H::BLOCK as u64);
        outer.update(digest.get(..H::OUTPUT).unwrap_or_default());
        outer.finish(out);
        digest.zeroize();
    }
}

impl<H: BlockHash> Drop for Hmac<H> {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256, Sha512};

    /// `H`'s running hash of `a` then `b`.
    fn running<H: BlockHash>(a: &[u8], b: &[u8]) -> alloc::vec::Vec<u8> {
        let mut r = Running::resume(H::initial(), 0);
        r.update(a);
        r.update(b);
        let mut out = alloc::vec![0u8; H::OUTPUT];
        r.finish(&mut out);
        out
    }

    /// Every message length around the block and padding boundaries, in every split, against the `sha2`,
    /// `sha1`, `md-5` and `ripemd` digests.
    #[test]
    fn running_hash_matches_the_crates_at_every_boundary() {
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let message = &data[..len];
            for split in [0, 1, len / 2, len] {
                let (a, b) = message.split_at(split.min(len));
                assert_eq!(running::<Sha256State>(a, b), Sha256::digest(message).as_slice(), "sha256 len {len} split {split}");
                assert_eq!(running::<Sha512State>(a, b), Sha512::digest(message).as_slice(), "sha512 len {len} split {split}");
                assert_eq!(running::<Sha1State>(a, b), sha1::Sha1::digest(message).as_slice(), "sha1 len {len} split {split}");
                assert_eq!(running::<Md5State>(a, b), md5::Md5::digest(message).as_slice(), "md5 len {len} split {split}");
                assert_eq!(running::<Ripemd160State>(a, b), ripemd::Ripemd160::digest(message).as_slice(), "ripemd160 len {len} split {split}");
            }
        }
    }
}
