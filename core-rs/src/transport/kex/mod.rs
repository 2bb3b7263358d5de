//! Key exchange (RFC 4253 §7-8). Each method is a state machine behind [`KexMethod`], in a file of its
//! own, for either role; the transport session feeds it the peer's messages (numbers 30 to 49) until it
//! yields the shared secret K and the exchange hash H. The common part of H (RFC 4253 §8) and the key
//! derivation (RFC 4253 §7.2) are here.

mod curve25519;
mod dh;
mod dh_gex;
mod ecdh_nistp;
mod hybrid;
mod mlkem768x25519;
mod round_trip;
mod sntrup761x25519;

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len};
use crate::crypto::hmac::{SecretSha1, SecretSha256, SecretSha384, SecretSha512};
use crate::error::Result;
use crate::keys::{HostKey, SigAlg};
use crate::transport::negotiate::{CipherAlg, KexAlg, MacAlg, Negotiated};
use crate::transport::Role;

/// What both sides hash into H besides the method's own values.
pub struct Transcript<'a> {
    pub client_version: &'a [u8],
    pub server_version: &'a [u8],
    pub client_kexinit: &'a [u8],
    pub server_kexinit: &'a [u8],
}

/// What a step of an exchange works with besides the peer's message.
pub struct KexContext<'a> {
    pub transcript: Transcript<'a>,
    /// The negotiated signature algorithm of the server's host key.
    pub sig_alg: SigAlg,
    /// A server's host certificate for the negotiated certificate algorithm: sent as K_S instead of the
    /// key's blob (OpenSSH PROTOCOL.certkeys), the signature still made by the key.
    pub host_certificate: Option<&'a [u8]>,
    /// The keys a server signs H with, one of which makes `sig_alg`; a client checks the server's
    /// signature instead and passes none.
    pub host_keys: &'a [HostKey],
    pub rng: &'a mut dyn CryptoRngCore,
}

/// What a finished exchange established.
pub struct KexOutcome {
    /// The shared secret K, already encoded as the method hashes it (an `mpint` for curve25519).
    pub shared_secret: Zeroizing<Vec<u8>>,
    pub exchange_hash: Vec<u8>,
    /// The server's host key blob K_S: the server's own, or the one a client has checked H against and
    /// must still decide to trust.
    pub host_key: Vec<u8>,
}

/// What one message of the peer led to: a message to send, and the outcome once the exchange is done.
/// A method of several round trips (group exchange) sends without being done until its last step.
pub struct Step {
    pub send: Option<Vec<u8>>,
    pub done: Option<KexOutcome>,
}

/// One side of one key exchange in progress.
pub trait KexMethod {
    /// The message that opens the method once both KEXINITs are known, for the side that speaks first
    /// (the client, in every method so far).
    fn start(&mut self, _cx: &mut KexContext) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Takes the peer's next message of this method. Messages out of turn are errors.
    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step>;
}

/// A fresh exchange of `alg` on `role`'s side.
pub fn exchange(alg: KexAlg, role: Role) -> Box<dyn KexMethod> {
    match (shape(alg), role) {
        (Shape::RoundTrip(agreement), Role::Server) => Box::new(round_trip::Server(agreement)),
        (Shape::RoundTrip(agreement), Role::Client) => Box::new(round_trip::Client::new(agreement)),
        (Shape::GroupExchange(hash), Role::Server) => Box::new(dh_gex::Server::new(hash)),
        (Shape::GroupExchange(hash), Role::Client) => Box::new(dh_gex::Client::new(hash)),
    }
}

/// How a method runs: one round trip of values an [`Agreement`](round_trip::Agreement) computes, or a
/// group exchange with its hash.
enum Shape {
    RoundTrip(&'static dyn round_trip::Agreement),
    GroupExchange(HashAlg),
}

fn shape(alg: KexAlg) -> Shape {
    Shape::RoundTrip(match alg {
        KexAlg::DiffieHellmanGroupExchangeSha256 => return Shape::GroupExchange(HashAlg::Sha256),
        KexAlg::DiffieHellmanGroupExchangeSha1 => return Shape::GroupExchange(HashAlg::Sha1),
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256Libssh => &curve25519::Curve25519,
        KexAlg::Mlkem768x25519Sha256 => &hybrid::Hybrid(mlkem768x25519::MlKem768),
        KexAlg::Sntrup761x25519Sha512 | KexAlg::Sntrup761x25519Sha512Openssh => &hybrid::Hybrid(sntrup761x25519::Sntrup761),
        KexAlg::EcdhSha2Nistp256 => &ecdh_nistp::Ecdh::<p256::NistP256>::NEW,
        KexAlg::EcdhSha2Nistp384 => &ecdh_nistp::Ecdh::<p384::NistP384>::NEW,
        KexAlg::EcdhSha2Nistp521 => &ecdh_nistp::Ecdh::<p521::NistP521>::NEW,
        KexAlg::DiffieHellmanGroup14Sha256 => &dh::GROUP14_SHA256,
        KexAlg::DiffieHellmanGroup16Sha512 => &dh::GROUP16_SHA512,
        KexAlg::DiffieHellmanGroup18Sha512 => &dh::GROUP18_SHA512,
        KexAlg::DiffieHellmanGroup14Sha1 => &dh::GROUP14_SHA1,
        KexAlg::DiffieHellmanGroup1Sha1 => &dh::GROUP1_SHA1,
    })
}

/// The HASH of a method (RFC 4253 §8): of H, of the key derivation and, in the hybrids, of K itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn of(kex: KexAlg) -> HashAlg {
        match shape(kex) {
            Shape::RoundTrip(agreement) => agreement.hash(),
            Shape::GroupExchange(hash) => hash,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// A running HASH over data that holds secrets: zeroized when dropped.
enum Hasher {
    Sha1(SecretSha1),
    Sha256(SecretSha256),
    Sha384(SecretSha384),
    Sha512(SecretSha512),
}

impl Hasher {
    fn new(alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha1 => Hasher::Sha1(SecretSha1::default()),
            HashAlg::Sha256 => Hasher::Sha256(SecretSha256::default()),
            HashAlg::Sha384 => Hasher::Sha384(SecretSha384::default()),
            HashAlg::Sha512 => Hasher::Sha512(SecretSha512::default()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest into `out`, which is as long as the hash's output.
    fn finish(self, out: &mut [u8]) {
        match self {
            Hasher::Sha1(h) => h.finish(out),
            Hasher::Sha256(h) => h.finish(out),
            Hasher::Sha384(h) => h.finish(out),
            Hasher::Sha512(h) => h.finish(out),
        }
    }
}

/// HASH of the concatenation of `parts`.
fn digest(alg: HashAlg, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut h = Hasher::new(alg);
    for part in parts {
        h.update(part);
    }
    let mut out = Zeroizing::new(alloc::vec![0; alg.output_len()]);
    h.finish(&mut out);
    out
}

/// H as RFC 4253 §8 builds it: the versions, both KEXINITs and the host key, then what the method adds,
/// then K.
struct ExchangeHash(Hasher, HashAlg);

impl ExchangeHash {
    fn new(alg: HashAlg, t: &Transcript, host_key: &[u8]) -> Self {
        let mut h = ExchangeHash(Hasher::new(alg), alg);
        for part in [t.client_version, t.server_version, t.client_kexinit, t.server_kexinit, host_key] {
            h.string(part);
        }
        h
    }

    fn u32(&mut self, value: u32) {
        self.0.update(&value.to_be_bytes());
    }

    /// Hashes `bytes` as an SSH `string`.
    fn string(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u32).to_be_bytes());
        self.0.update(bytes);
    }

    /// Hashes K, already encoded, and returns H.
    fn finish(mut self, shared_secret: &[u8]) -> Vec<u8> {
        self.0.update(shared_secret);
        let mut h = alloc::vec![0; self.1.output_len()];
        self.0.finish(&mut h);
        h
    }
}

/// Key material for one direction, zeroized on drop.
pub struct Keys {
    pub cipher: CipherAlg,
    pub mac: Option<MacAlg>,
    pub iv: Zeroizing<Vec<u8>>,
    pub key: Zeroizing<Vec<u8>>,
    pub mac_key: Zeroizing<Vec<u8>>,
}

/// RFC 4253 §7.2: `HASH(K || H || letter || session_id)`, extended with `HASH(K || H || K1 || ...)`.
fn derive(kex: KexAlg, k: &[u8], h: &[u8], letter: u8, session_id: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let alg = HashAlg::of(kex);
    // Sized for the whole output so that no reallocation leaves key material behind.
    let mut out = Zeroizing::new(Vec::with_capacity(len + alg.output_len()));
    out.extend_from_slice(&digest(alg, &[k, h, &[letter], session_id]));
    while out.len() < len {
        let next = digest(alg, &[k, h, out.as_slice()]);
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}

/// Derives the client-to-server and server-to-client keys of an exchange of `negotiated`.
pub fn derive_keys(negotiated: &Negotiated, k: &[u8], h: &[u8], session_id: &[u8]) -> (Keys, Keys) {
    let kex = negotiated.kex;
    let side = |cipher: CipherAlg, mac: Option<MacAlg>, letters: [u8; 3]| {
        let [iv, key, mac_letter] = letters;
        Keys {
            cipher,
            mac,
            iv: derive(kex, k, h, iv, session_id, cipher_iv_len(cipher)),
            key: derive(kex, k, h, key, session_id, cipher_key_len(cipher)),
            mac_key: derive(kex, k, h, mac_letter, session_id, mac.map(mac_key_len).unwrap_or(0)),
        }
    };
    (side(negotiated.cipher_c2s, negotiated.mac_c2s, *b"ACE"), side(negotiated.cipher_s2c, negotiated.mac_s2c, *b"BDF"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;
    use crate::transport::negotiate::CompressionAlg;
    use sha2::{Digest, Sha256};

    #[test]
    fn derivation_extends_with_previous_output() {
        let k = [1u8; 33];
        let h = [2u8; 32];
        let long = derive(KexAlg::Curve25519Sha256, &k, &h, b'C', &h, 64);
        let short = derive(KexAlg::Curve25519Sha256, &k, &h, b'C', &h, 32);
        assert_eq!(&long[..32], &short[..]);
        let mut d = Sha256::new();
        d.update(k);
        d.update(h);
        d.update(&short[..]);
        assert_eq!(&long[32..], &d.finalize()[..]);
    }

    /// Runs both sides of an exchange through the trait as the sessions would, messages crossing over.
    fn run(alg: KexAlg, host_keys: &[HostKey], sig_alg: SigAlg) -> Result<(KexOutcome, KexOutcome)> {
        let transcript =
            || Transcript { client_version: b"SSH-2.0-c", server_version: b"SSH-2.0-s", client_kexinit: b"ic", server_kexinit: b"is" };
        let mut client_rng = EntropyPool::new(b"client");
        let mut server_rng = EntropyPool::new(b"server");
        let mut client_cx = KexContext { transcript: transcript(), sig_alg, host_certificate: None, host_keys: &[], rng: &mut client_rng };
        let mut server_cx = KexContext { transcript: transcript(), sig_alg, host_certificate: None, host_keys, rng: &mut server_rng };
        let (mut client, mut server) = (exchange(alg, Role::Client), exchange(alg, Role::Server));
        assert!(server.start(&mut server_cx)?.is_none(), "the client speaks first");
        let mut to_server = client.start(&mut client_cx)?;
        loop {
            let Some(message) = to_server.take() else { panic!("the client fell silent before the end") };
            let step = server.step(&message, &mut server_cx)?;
            let to_client = step.send.expect("the server answers every message");
            let client_step = client.step(&to_client, &mut client_cx)?;
            match (step.done, client_step.done) {
                (Some(s), Some(c)) => return Ok((c, s)),
                (None, None) => to_server = client_step.send,
                _ => panic!("one side finished before the other"),
            }
        }
    }

    #[test]
    fn digests_match_the_sha2_crate() {
        use sha2::{Sha384, Sha512};
        let long = [7u8; 300];
        for parts in [&[][..], &[&b"abc"[..]][..], &[&long[..111], &long[111..]][..]] {
            let all = parts.concat();
            assert_eq!(*digest(HashAlg::Sha1, parts), sha1::Sha1::digest(&all)[..]);
            assert_eq!(*digest(HashAlg::Sha256, parts), Sha256::digest(&all)[..]);
            assert_eq!(*digest(HashAlg::Sha384, parts), Sha384::digest(&all)[..]);
            assert_eq!(*digest(HashAlg::Sha512, parts), Sha512::digest(&all)[..]);
        }
    }

    #[test]
    fn both_sides_of_every_method_reach_the_same_keys() {
        let host = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        for &alg in KexAlg::ALL {
            let (client, server) = run(alg, core::slice::from_ref(&host), SigAlg::Ed25519).unwrap();
            assert_eq!(*client.shared_secret, *server.shared_secret);
            assert_eq!(client.exchange_hash, server.exchange_hash);
            assert_eq!((client.host_key.as_slice(), server.host_key.as_slice()), (&host.public().blob()[..], &host.public().blob()[..]));
            let negotiated = Negotiated {
                kex: alg,
                host_key: crate::keys::KeyAlg::Plain(SigAlg::Ed25519),
                cipher_c2s: CipherAlg::Aes256Ctr,
                cipher_s2c: CipherAlg::Aes128Gcm,
                mac_c2s: Some(MacAlg::HmacSha512),
                mac_s2c: None,
                compression_c2s: CompressionAlg::None,
                compression_s2c: CompressionAlg::None,
            };
            let h = &client.exchange_hash;
            let (c_c2s, c_s2c) = derive_keys(&negotiated, &client.shared_secret, h, h);
            let (s_c2s, s_s2c) = derive_keys(&negotiated, &server.shared_secret, h, h);
            for (a, b) in [(&c_c2s, &s_c2s), (&c_s2c, &s_s2c)] {
                assert_eq!((&*a.key, &*a.iv, &*a.mac_key), (&*b.key, &*b.iv, &*b.mac_key));
            }
            assert_ne!(c_c2s.key[..16], c_s2c.key[..16], "each direction has keys of its own");
        }
    }

    /// A hybrid value of the wrong size, or whose X25519 half is a low-order point, fails either side with
    /// KEY_EXCHANGE_FAILED.
    #[test]
    fn hybrid_values_of_the_wrong_size_or_with_a_bad_point_are_refused() {
        let host_keys = [HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]))];
        let transcript =
            || Transcript { client_version: b"SSH-2.0-c", server_version: b"SSH-2.0-s", client_kexinit: b"ic", server_kexinit: b"is" };
        let mut rng = EntropyPool::new(b"hostile");
        let alg = KexAlg::Mlkem768x25519Sha256;
        let init = exchange(alg, Role::Client)
            .start(&mut KexContext {
                transcript: transcript(),
                sig_alg: SigAlg::Ed25519,
                host_certificate: None,
                host_keys: &[],
                rng: &mut rng,
            })
            .unwrap()
            .unwrap();
        let value = &init[5..];
        let mut low_order = value.to_vec();
        low_order[value.len() - 32..].fill(0);
        for bad in [&value[..value.len() - 1], &[value, &[0][..]].concat()[..], &low_order, &[]] {
            let mut message = crate::wire::Writer::message(crate::msg::KEX_ECDH_INIT);
            message.string(bad);
            let mut cx = KexContext {
                transcript: transcript(),
                sig_alg: SigAlg::Ed25519,
                host_certificate: None,
                host_keys: &host_keys,
                rng: &mut rng,
            };
            let err = exchange(alg, Role::Server).step(message.as_slice(), &mut cx).err().unwrap();
            assert_eq!(err.reason, crate::msg::DisconnectReason::KeyExchangeFailed, "{}", err.description);
        }
        // The client's side: a reply whose ciphertext is short.
        let mut client = exchange(alg, Role::Client);
        let mut cx =
            KexContext { transcript: transcript(), sig_alg: SigAlg::Ed25519, host_certificate: None, host_keys: &[], rng: &mut rng };
        client.start(&mut cx).unwrap();
        let mut reply = crate::wire::Writer::message(crate::msg::KEX_ECDH_REPLY);
        reply.string(&host_keys[0].public().blob()).string(&[1; 1088]).string(&[0; 64]);
        let err = client.step(reply.as_slice(), &mut cx).err().unwrap();
        assert_eq!(err.description, "the server's hybrid key exchange value is not 1120 bytes");
    }

    #[test]
    fn a_server_without_a_key_for_the_algorithm_fails_the_exchange() {
        let err = run(KexAlg::Curve25519Sha256, &[], SigAlg::Ed25519).err().unwrap();
        assert_eq!(err.reason, crate::msg::DisconnectReason::KeyExchangeFailed);
    }
}
