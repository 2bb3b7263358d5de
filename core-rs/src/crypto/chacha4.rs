//! The original ChaCha20 (64-bit block counter, 64-bit nonce) four blocks at a time, one block in each 32-bit
//! lane of a vector: the wasm modules' keystream for `chacha20-poly1305@openssh.com`. Hand-written because the
//! `chacha20` crate has no wasm SIMD backend: over 32 KiB packets in Node 20 here, the crate makes about 520 MB/s
//! of keystream in wasm and this, on simd128, about 1,340 MB/s. The rounds are written once over [`Lanes`]: the
//! wasm modules run them on `v128`, the tests on plain arrays against the crate, over lengths and counters that
//! cross groups of four blocks.

use zeroize::Zeroize;

/// A 32-bit word of each of four consecutive blocks.
pub(crate) trait Lanes: Copy {
    fn splat(word: u32) -> Self;
    /// `first`, `first + 1`, `first + 2` and `first + 3`, wrapping: no caller uses a block past 2^32.
    fn counting_from(first: u32) -> Self;
    fn add(self, other: Self) -> Self;
    fn xor(self, other: Self) -> Self;
    fn rotate_left<const BITS: u32>(self) -> Self;
    fn words(self) -> [u32; 4];
}

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

#[inline(always)]
fn quarter_round<L: Lanes>(x: &mut [L; 16], a: usize, b: usize, c: usize, d: usize) {
    // The indices are constants of `double_round`'s unrolled calls; `get` keeps the deny lints without a branch
    // the optimiser cannot remove.
    let (Some(&xa), Some(&xb), Some(&xc), Some(&xd)) = (x.get(a), x.get(b), x.get(c), x.get(d)) else { return };
    let xa = xa.add(xb);
    let xd = xd.xor(xa).rotate_left::<16>();
    let xc = xc.add(xd);
    let xb = xb.xor(xc).rotate_left::<12>();
    let xa = xa.add(xb);
    let xd = xd.xor(xa).rotate_left::<8>();
    let xc = xc.add(xd);
    let xb = xb.xor(xc).rotate_left::<7>();
    for (i, v) in [(a, xa), (b, xb), (c, xc), (d, xd)] {
        if let Some(slot) = x.get_mut(i) {
            *slot = v;
        }
    }
}

#[inline(always)]
fn double_round<L: Lanes>(x: &mut [L; 16]) {
    quarter_round(x, 0, 4, 8, 12);
    quarter_round(x, 1, 5, 9, 13);
    quarter_round(x, 2, 6, 10, 14);
    quarter_round(x, 3, 7, 11, 15);
    quarter_round(x, 0, 5, 10, 15);
    quarter_round(x, 1, 6, 11, 12);
    quarter_round(x, 2, 7, 8, 13);
    quarter_round(x, 3, 4, 9, 14);
}

fn le_word(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes.get(..4).unwrap_or(&[0; 4]));
    u32::from_le_bytes(word)
}

/// XORs the keystream for `nonce` from block `counter` into `data`. False, with `data` untouched, if the
/// keystream would run past block 2^32, where the counter's high word would have to start counting.
#[inline(always)]
pub(crate) fn apply<L: Lanes>(key: &[u8; 32], nonce: &[u8; 8], counter: u32, data: &mut [u8]) -> bool {
    let blocks = u64::try_from(data.len().div_ceil(64)).unwrap_or(u64::MAX);
    if u64::from(counter).saturating_add(blocks) > 1 << 32 {
        return false;
    }
    let mut fixed = [0u32; 16];
    for (slot, word) in fixed.iter_mut().zip(SIGMA.iter().copied().chain(key.chunks_exact(4).map(le_word))) {
        *slot = word;
    }
    // Word 12 is the counter's low word (per lane), 13 its high word (zero), 14 and 15 the nonce.
    let (n0, n1) = nonce.split_at(4);
    if let Some(tail) = fixed.get_mut(14..) {
        tail.copy_from_slice(&[le_word(n0), le_word(n1)]);
    }
    // The four blocks' words, then their bytes in block order: wiped once, after the last chunk.
    let mut words = [[0u32; 4]; 16];
    let mut keystream = [0u8; 256];
    let mut first = counter;
    for chunk in data.chunks_mut(256) {
        let start: [L; 16] = core::array::from_fn(|i| if i == 12 { L::counting_from(first) } else { L::splat(fixed.get(i).copied().unwrap_or(0)) });
        let mut x = start;
        for _ in 0..10 {
            double_round(&mut x);
        }
        for (out, (&v, &s)) in words.iter_mut().zip(x.iter().zip(&start)) {
            *out = v.add(s).words();
        }
        for (lane, block) in keystream.chunks_exact_mut(64).enumerate() {
            for (out, word) in block.chunks_exact_mut(4).zip(&words) {
                out.copy_from_slice(&word.get(lane).copied().unwrap_or(0).to_le_bytes());
            }
        }
        for (byte, k) in chunk.iter_mut().zip(&keystream) {
            *byte ^= k;
        }
        first = first.wrapping_add(4);
    }
    fixed.zeroize();
    words.zeroize();
    keystream.zeroize();
    true
}

#[cfg(target_arch = "wasm32")]
mod simd128 {
    use core::arch::wasm32::{
        i8x16_shuffle, u32x4, u32x4_add, u32x4_extract_lane, u32x4_shl, u32x4_shr, u32x4_splat, v128, v128_or, v128_xor,
    };

    use super::Lanes;

    #[derive(Clone, Copy)]
    struct V(v128);

    impl Lanes for V {
        #[inline(always)]
        fn splat(word: u32) -> Self {
            V(u32x4_splat(word))
        }

        #[inline(always)]
        fn counting_from(first: u32) -> Self {
            V(u32x4(first, first.wrapping_add(1), first.wrapping_add(2), first.wrapping_add(3)))
        }

        #[inline(always)]
        fn add(self, other: Self) -> Self {
            V(u32x4_add(self.0, other.0))
        }

        #[inline(always)]
        fn xor(self, other: Self) -> Self {
            V(v128_xor(self.0, other.0))
        }

        /// By 16 and 8 bits a byte shuffle (one instruction), otherwise two shifts and an or.
        #[inline(always)]
        fn rotate_left<const BITS: u32>(self) -> Self {
            let v = self.0;
            V(match BITS {
                16 => i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(v, v),
                8 => i8x16_shuffle::<3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14>(v, v),
                _ => v128_or(u32x4_shl(v, BITS), u32x4_shr(v, 32 - BITS)),
            })
        }

        #[inline(always)]
        fn words(self) -> [u32; 4] {
            let v = self.0;
            [u32x4_extract_lane::<0>(v), u32x4_extract_lane::<1>(v), u32x4_extract_lane::<2>(v), u32x4_extract_lane::<3>(v)]
        }
    }

    /// [`super::apply`] on simd128 vectors: the one function compiled with the feature, into which the rounds
    /// are inlined.
    #[target_feature(enable = "simd128")]
    pub(crate) fn apply(key: &[u8; 32], nonce: &[u8; 8], counter: u32, data: &mut [u8]) -> bool {
        super::apply::<V>(key, nonce, counter, data)
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use simd128::apply as apply_simd128;

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    use chacha20::{ChaCha20Legacy, LegacyNonce};

    use super::Lanes;

    /// The same rounds on plain arrays: what the tests can run natively.
    #[derive(Clone, Copy)]
    struct Plain([u32; 4]);

    impl Lanes for Plain {
        fn splat(word: u32) -> Self {
            Plain([word; 4])
        }
        fn counting_from(first: u32) -> Self {
            Plain(core::array::from_fn(|i| first.wrapping_add(i as u32)))
        }
        fn add(self, other: Self) -> Self {
            Plain(core::array::from_fn(|i| self.0[i].wrapping_add(other.0[i])))
        }
        fn xor(self, other: Self) -> Self {
            Plain(core::array::from_fn(|i| self.0[i] ^ other.0[i]))
        }
        fn rotate_left<const BITS: u32>(self) -> Self {
            Plain(self.0.map(|w| w.rotate_left(BITS)))
        }
        fn words(self) -> [u32; 4] {
            self.0
        }
    }

    #[test]
    fn matches_the_crate_across_groups_of_four_blocks() {
        let key: [u8; 32] = core::array::from_fn(|i| (i * 7 + 1) as u8);
        let nonce = 0x0102_0304_0506_0708u64.to_be_bytes();
        let plain: Vec<u8> = (0..1100u32).map(|i| (i * 31 % 251) as u8).collect();
        for counter in [0u32, 1, 3, 0xffff_ffe0] {
            for len in [0, 1, 63, 64, 65, 255, 256, 257, 300, 511, 512, 513, 1100] {
                let mut ours = plain[..len].to_vec();
                assert!(super::apply::<Plain>(&key, &nonce, counter, &mut ours));
                let mut theirs = plain[..len].to_vec();
                let mut stream = ChaCha20Legacy::new((&key).into(), LegacyNonce::from_slice(&nonce));
                stream.seek(u64::from(counter) * 64);
                stream.apply_keystream(&mut theirs);
                assert_eq!(ours, theirs, "counter {counter}, {len} bytes");
            }
        }
    }

    #[test]
    fn refuses_to_run_past_block_two_to_the_32() {
        let mut data = vec![7u8; 129];
        assert!(!super::apply::<Plain>(&[1; 32], &[2; 8], u32::MAX - 1, &mut data));
        assert_eq!(data, vec![7u8; 129], "untouched");
        let mut last = vec![7u8; 128];
        assert!(super::apply::<Plain>(&[1; 32], &[2; 8], u32::MAX - 1, &mut last));
    }
}
