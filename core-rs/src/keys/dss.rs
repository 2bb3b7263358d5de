//! `ssh-dss` (RFC 4253 §6.6): DSA over a 1024-bit prime `p` with a 160-bit subgroup order `q`, SHA-1 and a
//! signature of `r || s`, 20 bytes each. Off unless configured: 1024-bit DSA is below every current
//! recommendation (OpenSSH 7.0 turned it off, 10.0 removed it). Sizes are the ones OpenSSH's `ssh-keygen -t dsa`
//! makes and are checked before any arithmetic: a blob with a 100,000-bit `p` is refused at its length.

use alloc::boxed::Box;
use dsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use dsa::{BigUint, Components, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::{HostKey, KeyError};
use crate::wire::{Reader, Writer};

/// Bytes of `p` and of `q`, and of `r` and `s` each in a signature.
const P_BYTES: usize = 128;
const Q_BYTES: usize = 20;

/// A DSA public key; `dsa::VerifyingKey` compares its fields but does not claim `Eq`.
#[derive(Debug, Clone, PartialEq)]
pub struct DsaKey(pub(super) VerifyingKey);

impl Eq for DsaKey {}

/// Whether an mpint magnitude has exactly `bytes` bytes with the top bit set: `8 * bytes` bits.
fn exact_bits(magnitude: &[u8], bytes: usize) -> bool {
    magnitude.len() == bytes && magnitude.first().is_some_and(|&b| b & 0x80 != 0)
}

/// `p`, `q` and `g` from their magnitudes, sizes checked first; `g` must lie in 2..p.
fn components(p: &[u8], q: &[u8], g: &[u8]) -> Result<Components, KeyError> {
    if !exact_bits(p, P_BYTES) || !exact_bits(q, Q_BYTES) || g.len() > P_BYTES {
        return Err(KeyError::Refused("DSA keys other than a 1024-bit p and a 160-bit q".into()));
    }
    let (p, q, g) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(q), BigUint::from_bytes_be(g));
    if g < BigUint::from(2u8) || g >= p {
        return Err(KeyError::Malformed("DSA generator outside 2..p"));
    }
    Components::from_components(p, q, g).map_err(|_| KeyError::Malformed("unusable DSA parameters"))
}

/// The public key from `p, q, g, y` (the blob's fields after its name). `y` must lie in the subgroup of order q.
pub(super) fn read_public(r: &mut Reader) -> Result<DsaKey, KeyError> {
    let (p, q, g, y) = (r.mpint()?, r.mpint()?, r.mpint()?, r.mpint()?);
    let components = components(p, q, g)?;
    if y.len() > P_BYTES {
        return Err(KeyError::Malformed("DSA public value longer than p"));
    }
    let y = BigUint::from_bytes_be(y);
    if &y >= components.p() {
        return Err(KeyError::Malformed("DSA public value outside 2..p"));
    }
    // from_components checks 2 <= y and y^q = 1 (mod p).
    VerifyingKey::from_components(components, y).map(DsaKey).map_err(|_| KeyError::Malformed("DSA public value outside the subgroup"))
}

/// The private key from `p, q, g` and `x`, with `y` if the file states it: `y` must be `g^x mod p`.
pub(super) fn private_key(p: &[u8], q: &[u8], g: &[u8], y: Option<&[u8]>, x: &[u8]) -> Result<HostKey, KeyError> {
    let components = components(p, q, g)?;
    if x.len() > Q_BYTES {
        return Err(KeyError::Malformed("DSA private value longer than q"));
    }
    let x = Zeroizing::new(BigUint::from_bytes_be(x));
    let computed = components.g().modpow(&x, components.p());
    if y.is_some_and(|y| BigUint::from_bytes_be(y) != computed) {
        return Err(KeyError::Malformed("DSA public value does not match the private key"));
    }
    let public = VerifyingKey::from_components(components, computed).map_err(|_| KeyError::Malformed("unusable DSA key"))?;
    // from_components checks 0 < x <= q; the crate keeps x in a Zeroizing.
    let key = SigningKey::from_components(public, (*x).clone()).map_err(|_| KeyError::Malformed("DSA private value outside 1..q"))?;
    Ok(HostKey::Dsa(Box::new(key)))
}

/// Appends `p, q, g, y`.
pub(super) fn write_public<'w>(w: &'w mut Writer, key: &VerifyingKey) -> &'w mut Writer {
    let c = key.components();
    w.mpint(&c.p().to_bytes_be()).mpint(&c.q().to_bytes_be()).mpint(&c.g().to_bytes_be()).mpint(&key.y().to_bytes_be())
}

/// Appends `p, q, g, y, x`, the canonical form's fields.
pub(super) fn write_private(w: &mut Writer, key: &SigningKey) {
    write_public(w, key.verifying_key()).mpint(&Zeroizing::new(key.x().to_bytes_be()));
}

/// `r || s` over `prehash` (SHA-1 of the data), with a nonce from `rng` (the crate gives up after 4096 draws,
/// never loops).
pub(super) fn sign(key: &SigningKey, prehash: &[u8], rng: &mut dyn CryptoRngCore) -> Result<[u8; 2 * Q_BYTES], KeyError> {
    let signature = key.sign_prehash_with_rng(&mut &mut *rng, prehash).map_err(|_| KeyError::Signing)?;
    let mut out = [0u8; 2 * Q_BYTES];
    let (r, s) = out.split_at_mut(Q_BYTES);
    for (half, value) in [(r, signature.r()), (s, signature.s())] {
        let bytes = value.to_bytes_be();
        // r and s are below q, so at most 20 bytes: right-aligned.
        let start = Q_BYTES.checked_sub(bytes.len()).ok_or(KeyError::Signing)?;
        half.get_mut(start..).ok_or(KeyError::Signing)?.copy_from_slice(&bytes);
    }
    Ok(out)
}

/// Checks `r || s` (exactly 40 bytes, as OpenSSH requires) over `prehash` (SHA-1 of the data).
pub(super) fn verify(key: &DsaKey, prehash: &[u8], sig: &[u8]) -> bool {
    if sig.len() != 2 * Q_BYTES {
        return false;
    }
    let (r, s) = sig.split_at(Q_BYTES);
    dsa::Signature::from_components(BigUint::from_bytes_be(r), BigUint::from_bytes_be(s))
        .is_ok_and(|signature| key.0.verify_prehash(prehash, &signature).is_ok())
}
