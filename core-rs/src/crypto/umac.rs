//! UMAC (RFC 4418) over AES-128, as OpenSSH's `umac-64@openssh.com` and `umac-128@openssh.com` use it: the
//! 16-byte MAC key keys the KDF and the pad, the packet's sequence number (as 8 bytes, big-endian) is the
//! nonce, and the tag covers the packet alone. No maintained crate implements UMAC, so it is written here
//! from the RFC and checked against its vectors.
//!
//! The hash runs all its iterations (2 for a 64-bit tag, 4 for 128) in one pass over the message: NH reads
//! each message word once for every iteration's key window. Reductions modulo the primes fold the high part
//! with the prime's small offset instead of dividing, so that their time does not depend on the key.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use zeroize::Zeroize;

/// Iterations for the longest tag (16 bytes).
const MAX_ITERS: usize = 4;
/// NH's key: 1024 bytes for the first iteration, and 16 more for each further one (a sliding window).
const L1_KEY_WORDS: usize = (1024 + (MAX_ITERS - 1) * 16) / 4;
/// Bytes of message per L1 chunk.
const CHUNK: usize = 1024;
/// Messages up to this length take POLY over the 64-bit prime alone. The packet layer never MACs more
/// (its packets are at most 256 KiB, asserted where it keys a MAC); longer ones would need RFC 4418's
/// switch to the 128-bit prime.
pub const MAX_MESSAGE: usize = 1 << 24;

const P64: u64 = 0xffff_ffff_ffff_ffc5; // 2^64 - 59
const P36: u64 = 0x0000_000f_ffff_fffb; // 2^36 - 5

/// A keyed UMAC producing `4 * iters`-byte tags.
pub struct Umac {
    iters: usize,
    /// NH's key words, big-endian from the KDF.
    l1: [u32; L1_KEY_WORDS],
    /// POLY's key per iteration, masked as RFC 4418 §5.3.1 says.
    l2: [u64; MAX_ITERS],
    /// The inner product's keys per iteration, each reduced modulo 2^36 - 5.
    l3: [[u64; 8]; MAX_ITERS],
    /// The final XOR per iteration.
    l3_mask: [u32; MAX_ITERS],
    /// The pad's cipher, keyed with KDF(K, 0, 16).
    pad: Aes128,
}

impl Umac {
    /// `key`: 16 bytes; `tag_len`: 8 or 16 (OpenSSH's two). `None` for anything else.
    pub fn new(key: &[u8], tag_len: usize) -> Option<Self> {
        if !matches!(tag_len, 8 | 16) {
            return None;
        }
        let kdf = Aes128::new_from_slice(key).ok()?;
        let mut l1 = [0u8; L1_KEY_WORDS * 4];
        let mut l2 = [0u8; MAX_ITERS * 24];
        let mut l3 = [0u8; MAX_ITERS * 64];
        let mut l3_mask = [0u8; MAX_ITERS * 4];
        let mut pad_key = [0u8; 16];
        for (index, out) in [(0, &mut pad_key[..]), (1, &mut l1[..]), (2, &mut l2[..]), (3, &mut l3[..]), (4, &mut l3_mask[..])] {
            derive(&kdf, index, out);
        }
        let mut umac = Umac {
            iters: tag_len / 4,
            l1: [0; L1_KEY_WORDS],
            l2: [0; MAX_ITERS],
            l3: [[0; 8]; MAX_ITERS],
            l3_mask: [0; MAX_ITERS],
            pad: Aes128::new(&pad_key.into()),
        };
        for (word, b) in umac.l1.iter_mut().zip(l1.chunks_exact(4)) {
            *word = u32::from_be_bytes(array(b));
        }
        // Only the first 8 of each iteration's 24 bytes serve: the rest key the 128-bit POLY, which
        // messages of at most MAX_MESSAGE bytes never reach.
        for (k, b) in umac.l2.iter_mut().zip(l2.chunks_exact(24)) {
            *k = u64::from_be_bytes(array(b)) & 0x01ff_ffff_01ff_ffff;
        }
        for (keys, b) in umac.l3.iter_mut().zip(l3.chunks_exact(64)) {
            for (k, w) in keys.iter_mut().zip(b.chunks_exact(8)) {
                *k = reduce36(u64::from_be_bytes(array(w)));
            }
        }
        for (m, b) in umac.l3_mask.iter_mut().zip(l3_mask.chunks_exact(4)) {
            *m = u32::from_be_bytes(array(b));
        }
        l1.zeroize();
        l2.zeroize();
        l3.zeroize();
        l3_mask.zeroize();
        pad_key.zeroize();
        Some(umac)
    }

    pub fn tag_len(&self) -> usize {
        self.iters * 4
    }

    /// The tag of `message` under the 8-byte `nonce`, in the first `tag_len()` bytes of the result.
    pub fn tag(&self, nonce: [u8; 8], message: &[u8]) -> [u8; 16] {
        let mut tag = [0u8; 16];
        for (out, h) in tag.chunks_exact_mut(4).zip(self.uhash(message)) {
            out.copy_from_slice(&h.to_be_bytes());
        }
        for (t, p) in tag.iter_mut().zip(self.pad(nonce)).take(self.tag_len()) {
            *t ^= p;
        }
        tag
    }

    /// PDF (RFC 4418 §3.3): a 64-bit tag takes one half of the block enciphered from the nonce with its
    /// low bit cleared, chosen by that bit; a 128-bit tag the whole block.
    fn pad(&self, nonce: [u8; 8]) -> [u8; 16] {
        let half = if self.iters == 2 { nonce[7] & 1 } else { 0 };
        let mut block = [0u8; 16];
        for (b, n) in block.iter_mut().zip(nonce) {
            *b = n;
        }
        block[7] ^= half;
        let mut enciphered = block.into();
        self.pad.encrypt_block(&mut enciphered);
        let mut pad = [0u8; 16];
        for (p, e) in pad.iter_mut().zip(enciphered.iter().skip(usize::from(half) * 8)) {
            *p = *e;
        }
        pad
    }

    /// UHASH (RFC 4418 §5.1): L1, then L2 for messages longer than one chunk, then L3, per iteration.
    fn uhash(&self, message: &[u8]) -> [u32; MAX_ITERS] {
        // One chunk: its L1 hash goes straight to L3. More: POLY over their L1 hashes (L2) first.
        let single = message.len() <= CHUNK;
        let mut l1 = [0u64; MAX_ITERS];
        let mut l2 = [1u64; MAX_ITERS];
        // An empty message is one empty chunk.
        let empty: &[u8] = &[];
        for chunk in message.chunks(CHUNK).chain(message.is_empty().then_some(empty)) {
            let bits = chunk.len() as u64 * 8;
            for (((nh, l1), l2), key) in self.nh(chunk).into_iter().zip(&mut l1).zip(&mut l2).zip(self.l2) {
                *l1 = nh.wrapping_add(bits);
                if !single {
                    *l2 = poly_step(*l2, key, *l1);
                }
            }
        }
        let mut out = [0u32; MAX_ITERS];
        let hashed = if single { l1 } else { l2 };
        for (((o, x), keys), mask) in out.iter_mut().zip(hashed).zip(&self.l3).zip(self.l3_mask).take(self.iters) {
            *o = l3_hash(keys, mask, x);
        }
        out
    }

    /// NH (RFC 4418 §5.2.2) of one chunk for every iteration, the chunk zero-padded to a multiple of 32
    /// bytes: message words little-endian, key words big-endian, sums of products modulo 2^64.
    fn nh(&self, chunk: &[u8]) -> [u64; MAX_ITERS] {
        let mut sums = [0u64; MAX_ITERS];
        // zeropad(M, 32) of an empty message is 32 zero bytes.
        let zeros: &[u8] = &[0; 32];
        let blocks = chunk.chunks(32).chain(chunk.is_empty().then_some(zeros));
        for (block_index, block) in blocks.enumerate() {
            let mut padded = [0u8; 32];
            for (p, b) in padded.iter_mut().zip(block) {
                *p = *b;
            }
            let mut words = [0u32; 8];
            for (w, b) in words.iter_mut().zip(padded.chunks_exact(4)) {
                *w = u32::from_le_bytes(array(b));
            }
            let (low, high) = words.split_at(4);
            for (it, sum) in sums.iter_mut().enumerate().take(self.iters) {
                // Iteration `it` keys with the window 4 `it` words further on (a chunk has at most 32
                // blocks, so the window ends within the key).
                let start = block_index * 8 + it * 4;
                let key = self.l1.get(start..start + 8).unwrap_or_default();
                let (key_low, key_high) = key.split_at(key.len().min(4));
                for (((m1, k1), m2), k2) in low.iter().zip(key_low).zip(high).zip(key_high) {
                    *sum = sum.wrapping_add(u64::from(m1.wrapping_add(*k1)) * u64::from(m2.wrapping_add(*k2)));
                }
            }
        }
        sums
    }
}

impl Drop for Umac {
    fn drop(&mut self) {
        self.l1.zeroize();
        self.l2.zeroize();
        self.l3.zeroize();
        self.l3_mask.zeroize();
    }
}

/// KDF (RFC 4418 §3.2): `out.len()` bytes of AES(K, index || counter), the counter from 1.
fn derive(kdf: &Aes128, index: u64, out: &mut [u8]) {
    for (counter, chunk) in (1u64..).zip(out.chunks_mut(16)) {
        let mut block = [0u8; 16];
        let (i, c) = block.split_at_mut(8);
        i.copy_from_slice(&index.to_be_bytes());
        c.copy_from_slice(&counter.to_be_bytes());
        let mut b = block.into();
        kdf.encrypt_block(&mut b);
        for (o, e) in chunk.iter_mut().zip(b.iter()) {
            *o = *e;
        }
        b.zeroize();
    }
}

/// The first N bytes of `b` (a chunk of exactly N, from `chunks_exact`).
fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    b.get(..N).and_then(|s| s.try_into().ok()).unwrap_or([0; N])
}

/// L3-HASH (RFC 4418 §5.4): the 16-byte L2 result `x` (its top 8 bytes zero here) as eight 16-bit words,
/// their inner product with `keys` modulo 2^36 - 5, its low 32 bits masked.
fn l3_hash(keys: &[u64; 8], mask: u32, x: u64) -> u32 {
    let mut sum = 0u64;
    for (shift, k) in [48u32, 32, 16, 0].into_iter().zip(keys.iter().skip(4)) {
        sum += ((x >> shift) & 0xffff) * k;
    }
    (reduce36(sum) as u32) ^ mask
}

/// One word of POLY over the 64-bit prime (RFC 4418 §5.3.2), keyed with `k`: words at or above
/// 2^64 - 2^32 go in as a marker and then the word less the prime's offset.
fn poly_step(y: u64, k: u64, m: u64) -> u64 {
    let step = |y: u64, m: u64| reduce64(u128::from(y) * u128::from(k) + u128::from(m));
    if m >= 0xffff_ffff_0000_0000 {
        step(step(y, P64 - 1), m - 59)
    } else {
        step(y, m)
    }
}

/// `x` modulo 2^64 - 59, for `x` below 2^122: 2^64 is 59 modulo the prime.
fn reduce64(x: u128) -> u64 {
    let low = u128::from(u64::MAX);
    let x = (x >> 64) * 59 + (x & low);
    let x = (x >> 64) * 59 + (x & low);
    // Now below 2^64 + 59^2: one conditional subtraction, by mask.
    let over = u128::from(x >= u128::from(P64));
    (x - over * u128::from(P64)) as u64
}

/// `x` modulo 2^36 - 5: 2^36 is 5 modulo the prime.
fn reduce36(x: u64) -> u64 {
    let low = (1u64 << 36) - 1;
    let x = (x >> 36) * 5 + (x & low);
    let x = (x >> 36) * 5 + (x & low);
    let over = u64::from(x >= P36);
    x - over * P36
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    /// RFC 4418 appendix: K = "abcdefghijklmnop", nonce "bcdefghi"; 64-bit tags, and the 96-bit ones as the
    /// first 12 bytes of the 128-bit tag (same iterations, same pad block), whose last 4 bytes are those of
    /// OpenSSH's and Nettle's UMAC-128.
    #[test]
    fn rfc4418_vectors() {
        let a = |n: usize| alloc::vec![b'a'; n];
        let cases: [(alloc::vec::Vec<u8>, [u8; 8], &[u8]); 7] = [
            (a(0), hex!("6E155FAD26900BE1"), &hex!("32FEDB100C79AD58F07FF764")),
            (a(3), hex!("44B5CB542F220104"), &hex!("185E4FE905CBA7BD85E4C2DC")),
            (a(1 << 10), hex!("26BF2F5D60118BD9"), &hex!("7A54ABE04AF82D60FB298C3C")),
            (a(1 << 15), hex!("27F8EF643B0D118D"), &hex!("7B136BD911E4B734286EF2BE")),
            (a(1 << 20), hex!("A4477E87E9F55853"), &hex!("F8ACFA3AC31CFEEA047F7B11")),
            (b"abc".to_vec(), hex!("D4D7B9F6BD4FBFCF"), &hex!("883C3D4B97A61976FFCF2323")),
            (b"abc".repeat(500), hex!("D4CF26DDEFD5C01A"), &hex!("8824A260C53C66A36C9260A6")),
        ];
        let (u64, u128) = (Umac::new(b"abcdefghijklmnop", 8).unwrap(), Umac::new(b"abcdefghijklmnop", 16).unwrap());
        for (message, tag64, tag96) in cases {
            assert_eq!(&u64.tag(*b"bcdefghi", &message)[..8], &tag64, "UMAC-64 of {} bytes", message.len());
            assert_eq!(&u128.tag(*b"bcdefghi", &message)[..12], tag96, "UMAC-96 of {} bytes", message.len());
        }
        assert_eq!(u128.tag(*b"bcdefghi", b""), hex!("32fedb100c79ad58f07ff7643cc60465"));
        assert_eq!(u128.tag(*b"bcdefghi", &a(3)), hex!("185e4fe905cba7bd85e4c2dc3d117d8d"));
        assert_eq!(u128.tag(*b"bcdefghi", &a(1 << 10)), hex!("7a54abe04af82d60fb298c3cbd195bcb"));
        assert_eq!(u128.tag(*b"bcdefghi", &a(1 << 15)), hex!("7b136bd911e4b734286ef2be501f2c3c"));
    }

    /// The pad's two halves: nonces that differ only in the low bit share a block and take each half.
    #[test]
    fn an_odd_nonce_takes_the_other_half_of_the_pad() {
        let u = Umac::new(&[7; 16], 8).unwrap();
        assert_ne!(u.tag(*b"\0\0\0\0\0\0\0\x02", b"m"), u.tag(*b"\0\0\0\0\0\0\0\x03", b"m"));
    }

    #[test]
    fn refuses_other_tag_lengths_and_key_sizes() {
        assert!(Umac::new(&[0; 16], 4).is_none());
        assert!(Umac::new(&[0; 16], 12).is_none());
        assert!(Umac::new(&[0; 32], 8).is_none());
    }

    #[test]
    fn reductions_agree_with_division() {
        for x in [0u128, 1, u128::from(P64) - 1, u128::from(P64), u128::from(u64::MAX), (1u128 << 121) + 12345, (1u128 << 122) - 1] {
            assert_eq!(u128::from(reduce64(x)), x % u128::from(P64), "{x}");
        }
        for x in [0u64, P36 - 1, P36, P36 + 1, 1 << 55, u64::MAX] {
            assert_eq!(reduce36(x), x % P36, "{x}");
        }
    }
}
