//! Finite-field Diffie-Hellman (RFC 4253 §8) over the MODP groups of RFC 2409 and RFC 3526 (generator 2):
//! `diffie-hellman-group14-sha256`, `-group16-sha512` and `-group18-sha512` (RFC 8268), the SHA-1 ones
//! (off until configured), and the groups that group exchange serves. e and f travel as `mpint`s and must lie
//! in 1 < e < p-1 (RFC 4253 §8); K = f^x mod p, an `mpint`. Exponentiation is crypto-bigint's constant-time
//! Montgomery arithmetic, over a secret exponent of 512 bits: twice the strength of the strongest hash here
//! (RFC 8268 §4 asks for at least twice the security of the group).

use alloc::boxed::Box;
use alloc::vec::Vec;
use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Uint, Word, U1024, U2048, U4096, U8192};
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, Zeroizing};

use super::round_trip::{Agreement, Pending};
use super::HashAlg;
use crate::error::{Error, Result};
use crate::wire::Writer;

const EXPONENT_BITS: usize = 512;

/// A group: a prime p and a generator g.
pub trait Group: Sync {
    /// The bit length of p.
    fn bits(&self) -> usize;
    /// p, big-endian without leading zeros.
    fn prime(&self) -> Vec<u8>;
    /// g, big-endian without leading zeros.
    fn generator(&self) -> Vec<u8>;
    /// A fresh secret x and the body of the `mpint` g^x mod p.
    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>);
}

/// A prime p that fits in `L` words, and its generator g.
pub struct Modp<const L: usize> {
    p: Uint<L>,
    g: Uint<L>,
}

impl<const L: usize> Modp<L> {
    /// From a constant of exactly `H` words (checked when compiled), generator 2.
    const fn from_hex<const H: usize>(hex: &str) -> Self {
        Modp { p: Uint::<H>::from_be_hex(hex).resize(), g: Uint::from_u8(2) }
    }

    /// An odd p and a g in 1 < g < p-1 from big-endian bytes, if they fit: a group a server sent (RFC 4419).
    pub fn from_be(p: &[u8], g: &[u8]) -> Option<Self> {
        let (p, g) = (uint::<L>(p)?, uint::<L>(g)?);
        let odd = p.as_words().first().is_some_and(|w| w & 1 == 1);
        (odd && g > Uint::ONE && g < p.wrapping_sub(&Uint::ONE)).then_some(Modp { p, g })
    }
}

impl<const L: usize> Group for Modp<L> {
    fn bits(&self) -> usize {
        self.p.bits_vartime()
    }

    fn prime(&self) -> Vec<u8> {
        trimmed(&self.p)
    }

    fn generator(&self) -> Vec<u8> {
        trimmed(&self.g)
    }

    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>) {
        // Odd by construction: `new` panics only on an even modulus.
        let params = DynResidueParams::new(&self.p);
        let mut words = [0 as Word; L];
        for word in words.iter_mut().take(EXPONENT_BITS / Word::BITS as usize) {
            *word = rng.next_u64() as Word;
        }
        let secret = Exponent { x: Uint::from_words(words), params };
        words.zeroize();
        let e = DynResidue::new(&self.g, params).pow_bounded_exp(&secret.x, EXPONENT_BITS).retrieve();
        (mpint_body(&magnitude(&e)), Box::new(secret))
    }
}

/// x, zeroized when dropped.
struct Exponent<const L: usize> {
    x: Uint<L>,
    params: DynResidueParams<L>,
}

impl<const L: usize> Drop for Exponent<L> {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl<const L: usize> Pending for Exponent<L> {
    fn finish(self: Box<Self>, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let p = self.params.modulus();
        let f = public_value(peer, p)?;
        let mut k = DynResidue::new(&f, self.params).pow_bounded_exp(&self.x, EXPONENT_BITS).retrieve();
        let bytes = magnitude(&k);
        k.zeroize();
        // Sized for the longest mpint of p's size, so that it is never copied by a reallocation.
        let mut w = Writer::with_capacity(4 + 1 + bytes.len());
        w.mpint(&bytes);
        Ok(Zeroizing::new(w.into_vec()))
    }
}

/// A method over one fixed group.
pub struct Fixed {
    pub group: &'static dyn Group,
    pub hash: HashAlg,
}

impl Agreement for Fixed {
    fn hash(&self) -> HashAlg {
        self.hash
    }

    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>) {
        self.group.share(rng)
    }
}

pub static GROUP14_SHA256: Fixed = Fixed { group: &MODP2048, hash: HashAlg::Sha256 };
pub static GROUP16_SHA512: Fixed = Fixed { group: &MODP4096, hash: HashAlg::Sha512 };
pub static GROUP18_SHA512: Fixed = Fixed { group: &MODP8192, hash: HashAlg::Sha512 };
pub static GROUP14_SHA1: Fixed = Fixed { group: &MODP2048, hash: HashAlg::Sha1 };
pub static GROUP1_SHA1: Fixed = Fixed { group: &MODP1024, hash: HashAlg::Sha1 };

/// The peer's e or f: a positive `mpint` in its minimal form, in 1 < e < p-1.
fn public_value<const L: usize>(body: &[u8], p: &Uint<L>) -> Result<Uint<L>> {
    let digits = match body {
        [first, ..] if first & 0x80 != 0 => return Err(out_of_range()),
        [0, next, ..] if next & 0x80 != 0 => body.get(1..).unwrap_or_default(),
        [0, ..] => return Err(Error::kex("DH public value is not a minimal mpint")),
        _ => body,
    };
    let value = uint::<L>(digits).ok_or_else(out_of_range)?;
    if value > Uint::ONE && value < p.wrapping_sub(&Uint::ONE) {
        Ok(value)
    } else {
        Err(out_of_range())
    }
}

fn out_of_range() -> Error {
    Error::kex("DH public value is not in 1 < e < p-1")
}

/// A number of at most `L` words from big-endian bytes.
fn uint<const L: usize>(bytes: &[u8]) -> Option<Uint<L>> {
    let mut padded = Zeroizing::new(alloc::vec![0u8; Uint::<L>::BYTES]);
    let start = padded.len().checked_sub(bytes.len())?;
    padded.get_mut(start..)?.copy_from_slice(bytes);
    let mut words = [0 as Word; L];
    for (word, chunk) in words.iter_mut().rev().zip(padded.chunks_exact(core::mem::size_of::<Word>())) {
        let mut be = [0u8; core::mem::size_of::<Word>()];
        be.copy_from_slice(chunk);
        *word = Word::from_be_bytes(be);
    }
    let value = Uint::from_words(words);
    words.zeroize();
    Some(value)
}

/// Big-endian bytes of `n`, leading zeros included; zeroized when dropped (K passes through here).
fn magnitude<const L: usize>(n: &Uint<L>) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(Uint::<L>::BYTES));
    for word in n.as_words().iter().rev() {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

/// `n` big-endian without leading zeros.
fn trimmed<const L: usize>(n: &Uint<L>) -> Vec<u8> {
    let bytes = magnitude(n);
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default().to_vec()
}

/// The body of the `mpint` of a magnitude: no leading zeros, and a zero byte before a high bit.
pub(super) fn mpint_body(magnitude: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(4 + 1 + magnitude.len());
    w.mpint(magnitude);
    w.into_vec().split_off(4)
}

/// RFC 2409 §6.2, the Second Oakley Group (SSH's "group1"): 1024 bits, for `diffie-hellman-group1-sha1` only.
pub static MODP1024: Modp<{ U2048::LIMBS }> = Modp::from_hex::<{ U1024::LIMBS }>(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
));
/// RFC 3526 §3, group 14: 2048 bits.
pub static MODP2048: Modp<{ U2048::LIMBS }> = Modp::from_hex::<{ U2048::LIMBS }>(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
));
/// RFC 3526 §5, group 16: 4096 bits.
pub static MODP4096: Modp<{ U8192::LIMBS }> = Modp::from_hex::<{ U4096::LIMBS }>(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6",
    "287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
));
/// RFC 3526 §7, group 18: 8192 bits.
pub static MODP8192: Modp<{ U8192::LIMBS }> = Modp::from_hex::<{ U8192::LIMBS }>(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6",
    "287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C93402849236C3FAB4D27C7026C1D4DCB2602646DEC9751E763DBA37BD",
    "F8FF9406AD9E530EE5DB382F413001AEB06A53ED9027D831179727B0865A8918DA3EDBEBCF9B14ED44CE6CBACED4BB1B",
    "DB7F1447E6CC254B332051512BD7AF426FB8F401378CD2BF5983CA01C64B92ECF032EA15D1721D03F482D7CE6E74FEF6",
    "D55E702F46980C82B5A84031900B1C9E59E7C97FBEC7E8F323A97A7E36CC88BE0F1D45B7FF585AC54BD407B22B4154AA",
    "CC8F6D7EBF48E1D814CC5ED20F8037E0A79715EEF29BE32806A1D58BB7C5DA76F550AA3D8A1FBFF0EB19CCB1A313D55C",
    "DA56C9EC2EF29632387FE8D76E3C0468043E8F663F4860EE12BF2D5B0B7474D6E694F91E6DBE115974A3926F12FEE5E4",
    "38777CB6A932DF8CD8BEC4D073B931BA3BC832B68D9DD300741FA7BF8AFC47ED2576F6936BA424663AAB639C5AE4F568",
    "3423B4742BF1C978238F16CBE39D652DE3FDB8BEFC848AD922222E04A4037C0713EB57A81A23F0C73473FC646CEA306B",
    "4BCBC8862F8385DDFA9D4B7FA2C087E879683303ED5BDD3A062B3CF5B3A278A66D2A13F83F44F82DDF310EE074AB6A36",
    "4597E899A0255DC164F31CC50846851DF9AB48195DED7EA1B1D510BD7EE74D73FAF36BC31ECFA268359046F4EB879F92",
    "4009438B481C6CD7889A002ED5EE382BC9190DA6FC026E479558E4475677E9AA9E3050E2765694DFC81F56E880B96E71",
    "60C980DD98EDD3DFFFFFFFFFFFFFFFFF",
));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;

    /// Each constant is a prime by Fermat's test to base 3 (it is a safe prime: RFC 3526), of its size.
    #[test]
    fn the_groups_are_their_sizes_and_pass_a_fermat_test() {
        fn check<const L: usize>(group: &Modp<L>, bits: usize) {
            assert_eq!(group.bits(), bits);
            let params = DynResidueParams::new(&group.p);
            let p_minus_1 = group.p.wrapping_sub(&Uint::ONE);
            assert_eq!(DynResidue::new(&Uint::from_u8(3), params).pow(&p_minus_1).retrieve(), Uint::ONE);
        }
        check(&MODP1024, 1024);
        check(&MODP2048, 2048);
        check(&MODP4096, 4096);
        check(&MODP8192, 8192);
    }

    #[test]
    fn public_values_outside_1_to_p_minus_1_or_not_minimal_are_refused() {
        let p = MODP2048.p;
        let p_minus_1 = magnitude(&p.wrapping_sub(&Uint::ONE));
        let bad: [&[u8]; 7] = [&[], &[1], &[0, 1], &[0x80], &mpint_body(&p_minus_1), &mpint_body(&magnitude(&p)), &[0x7f; 300]];
        for value in bad {
            assert!(public_value(value, &p).is_err(), "{value:02x?}");
        }
        for good in [&[2u8][..], &[0, 0x80], &mpint_body(&magnitude(&p.wrapping_sub(&Uint::from_u8(2))))] {
            assert!(public_value(good, &p).is_ok(), "{good:02x?}");
        }
    }

    #[test]
    fn both_sides_agree_and_a_received_group_is_read_back() {
        let mut rng = EntropyPool::new(b"dh");
        let (e, x) = MODP2048.share(&mut rng);
        let (f, y) = MODP2048.share(&mut rng);
        assert_eq!(*x.finish(&f).unwrap(), *y.finish(&e).unwrap());
        let received = Modp::<{ U4096::LIMBS }>::from_be(&MODP2048.prime(), &[5]).unwrap();
        assert_eq!((received.bits(), received.prime(), received.generator()), (2048, MODP2048.prime(), alloc::vec![5]));
        let (e, x) = received.share(&mut rng);
        let (f, y) = received.share(&mut rng);
        assert_eq!(*x.finish(&f).unwrap(), *y.finish(&e).unwrap());
        assert!(Modp::<{ U2048::LIMBS }>::from_be(&MODP4096.prime(), &[2]).is_none(), "too wide");
        assert!(Modp::<{ U2048::LIMBS }>::from_be(&[4, 0], &[2]).is_none(), "even");
        let p_minus_1 = trimmed(&MODP2048.p.wrapping_sub(&Uint::ONE));
        for g in [&[][..], &[1], &p_minus_1] {
            assert!(Modp::<{ U2048::LIMBS }>::from_be(&MODP2048.prime(), g).is_none(), "g = {g:02x?}");
        }
    }
}
