//! `ecdh-sha2-nistp256`, `-nistp384` and `-nistp521` (RFC 5656 §4): the values are uncompressed SEC1
//! points on the curve, K the x-coordinate of the shared point as an `mpint`, hashed with SHA-256, SHA-384
//! and SHA-512 by curve size (RFC 5656 §6.2.1). The secrets zeroize on drop (RustCrypto's `ecdh`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;
use p256::elliptic_curve::ecdh::EphemeralSecret;
use p256::elliptic_curve::generic_array::typenum::Unsigned;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{CurveArithmetic, FieldBytesSize, PublicKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::round_trip::{Agreement, Pending};
use super::HashAlg;
use crate::error::{Error, Result};
use crate::wire::Writer;

/// A NIST curve and the hash its method names.
pub trait Curve: CurveArithmetic<AffinePoint: FromEncodedPoint<Self> + ToEncodedPoint<Self>, FieldBytesSize: ModulusSize> + Sync {
    const HASH: HashAlg;
}

impl Curve for p256::NistP256 {
    const HASH: HashAlg = HashAlg::Sha256;
}

impl Curve for p384::NistP384 {
    const HASH: HashAlg = HashAlg::Sha384;
}

impl Curve for p521::NistP521 {
    const HASH: HashAlg = HashAlg::Sha512;
}

pub struct Ecdh<C>(PhantomData<C>);

impl<C> Ecdh<C> {
    pub const NEW: Ecdh<C> = Ecdh(PhantomData);
}

impl<C: Curve> Agreement for Ecdh<C> {
    fn hash(&self) -> HashAlg {
        C::HASH
    }

    fn share(&self, mut rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>) {
        let secret = EphemeralSecret::<C>::random(&mut rng);
        (point(&secret), Box::new(Secret(secret)))
    }
}

struct Secret<C: Curve>(EphemeralSecret<C>);

impl<C: Curve> Pending for Secret<C> {
    fn finish(self: Box<Self>, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        shared_secret(&self.0, peer)
    }
}

/// Our public key as an uncompressed SEC1 point.
fn point<C: Curve>(secret: &EphemeralSecret<C>) -> Vec<u8> {
    secret.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// K from our secret and the peer's point, which must be an uncompressed point on the curve (RFC 5656 §3.1,
/// and §4's check that it is valid): anything else fails the exchange.
fn shared_secret<C: Curve>(ours: &EphemeralSecret<C>, theirs: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let field = FieldBytesSize::<C>::USIZE;
    if theirs.len() != 1 + 2 * field || theirs.first() != Some(&4) {
        return Err(Error::kex("ECDH public key is not an uncompressed point of the curve's size"));
    }
    let theirs = PublicKey::<C>::from_sec1_bytes(theirs).map_err(|_| Error::kex("ECDH public key is not on the curve"))?;
    let shared = ours.diffie_hellman(&theirs);
    // Sized for the longest mpint of the field's size, so that it is never copied by a reallocation.
    let mut k = Writer::with_capacity(4 + 1 + field);
    k.mpint(shared.raw_secret_bytes());
    Ok(Zeroizing::new(k.into_vec()))
}
