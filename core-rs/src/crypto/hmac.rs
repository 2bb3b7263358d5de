//! HMAC (RFC 2104) over the compression functions of SHA-256, SHA-512 and, for the legacy MACs, SHA-1 (MD5's
//! and RIPEMD-160's are in `crypto::legacy`).
//! Built here rather than taken from the `hmac` crate so that the keyed inner and outer states are plain
//! arrays that are zeroized when a key is dropped, and so that a packet's MAC copies 64 bytes of state instead
//! of two hasher objects.
//! The same running hash serves the key exchange ([`SecretSha256`]): `sha2` 0.10 and `digest` 0.10 have no
//! `zeroize` feature, so their hashers would leave the shared secret's blocks behind.

use sha2::digest::consts::{U128, U64};
use sha2::digest::generic_array::GenericArray;
use zeroize::Zeroize;

/// One Merkle-Damgard hash (SHA-2, SHA-1, MD5, RIPEMD-160): its state, block size and how a block is compressed.
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
                #[cfg(feature = "legacy")]
                {
                    use crate::crypto::legacy::{Md5State, Ripemd160State};
                    assert_eq!(running::<Md5State>(a, b), md5::Md5::digest(message).as_slice(), "md5 len {len} split {split}");
                    assert_eq!(running::<Ripemd160State>(a, b), ripemd::Ripemd160::digest(message).as_slice(), "ripemd160 len {len} split {split}");
                }
            }
        }
    }
}
