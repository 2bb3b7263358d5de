//! The post-quantum hybrids (draft-ietf-sshm-mlkem-hybrid-kex; OpenSSH's `sntrup761x25519-sha512`): the
//! client's value is a KEM public key followed by an X25519 public key, the server's a KEM ciphertext
//! followed by its X25519 public key, and K is HASH(KEM secret || X25519 result) as an SSH `string`. Either
//! half alone keeps K secret.

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::curve25519::{ephemeral, x25519};
use super::round_trip::{Agreement, Pending};
use super::{digest, HashAlg};
use crate::error::{Error, Result};
use crate::wire::Writer;

/// The post-quantum half.
pub trait Kem: Sync + 'static {
    const PUBLIC_KEY: usize;
    const CIPHERTEXT: usize;
    const HASH: HashAlg;
    /// A decapsulation key, zeroized when dropped.
    type Secret: 'static;
    /// A fresh key pair: the secret and the public key's `PUBLIC_KEY` bytes.
    fn generate(rng: &mut dyn CryptoRngCore) -> (Self::Secret, Vec<u8>);
    /// A ciphertext of `CIPHERTEXT` bytes to `public` (exactly `PUBLIC_KEY` bytes) and the secret in it.
    fn encapsulate(public: &[u8], rng: &mut dyn CryptoRngCore) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)>;
    /// The secret in `ciphertext` (exactly `CIPHERTEXT` bytes).
    fn decapsulate(secret: &Self::Secret, ciphertext: &[u8]) -> Result<Zeroizing<[u8; 32]>>;
}

pub struct Hybrid<K>(pub K);

impl<K: Kem> Agreement for Hybrid<K> {
    fn hash(&self) -> HashAlg {
        K::HASH
    }

    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>) {
        let (kem, mut value) = K::generate(rng);
        let x = ephemeral(rng);
        value.extend_from_slice(XPublic::from(&x).as_bytes());
        (value, Box::new(ClientSecret::<K> { kem, x }))
    }

    fn server_answer(&self, client: &[u8], rng: &mut dyn CryptoRngCore) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let (kem_public, q_c) = split(client, K::PUBLIC_KEY, "client")?;
        let (mut value, kem_secret) = K::encapsulate(kem_public, rng)?;
        let x = ephemeral(rng);
        let x_secret = x25519(&x, q_c)?;
        value.extend_from_slice(XPublic::from(&x).as_bytes());
        Ok((value, combine(K::HASH, &kem_secret, &x_secret)))
    }
}

struct ClientSecret<K: Kem> {
    kem: K::Secret,
    x: StaticSecret,
}

impl<K: Kem> Pending for ClientSecret<K> {
    fn finish(self: Box<Self>, server: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (ciphertext, q_s) = split(server, K::CIPHERTEXT, "server")?;
        let kem_secret = K::decapsulate(&self.kem, ciphertext)?;
        let x_secret = x25519(&self.x, q_s)?;
        Ok(combine(K::HASH, &kem_secret, &x_secret))
    }
}

/// A value of exactly `kem_len + 32` bytes, split into its KEM part and its X25519 key.
fn split<'a>(value: &'a [u8], kem_len: usize, whose: &str) -> Result<(&'a [u8], &'a [u8])> {
    if value.len() != kem_len + 32 {
        return Err(Error::kex(alloc::format!("the {whose}'s hybrid key exchange value is not {} bytes", kem_len + 32)));
    }
    Ok(value.split_at(kem_len))
}

/// K: the string of HASH(KEM secret || X25519 result).
fn combine(alg: HashAlg, kem: &[u8; 32], x: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let hash = digest(alg, &[kem, x]);
    let mut w = Writer::with_capacity(4 + hash.len());
    w.string(&hash);
    Zeroizing::new(w.into_vec())
}
