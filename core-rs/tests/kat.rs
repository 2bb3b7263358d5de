//! Known-answer tests: published vectors checked through the crate's public API (those every crypto
//! provider must pass live in `crypto::kat`, and a provider that gets any primitive wrong fails them), and
//! the one construction with no published vectors (OpenSSH's chacha20-poly1305) cross-checked against an
//! independent computation from the underlying primitives, themselves pinned to published keystream vectors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20Legacy;
use common::{exchange_hash, mpint, ssh_string};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use hex_literal::hex;
use poly1305::universal_hash::KeyInit as _;
use poly1305::Poly1305;
use rand_core::{CryptoRng, CryptoRngCore, RngCore};
use sha2::{Digest, Sha256};
use wasshd_core::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len, ChaChaPoly, Gcm, PacketMac};
use wasshd_core::crypto::kat;
use wasshd_core::crypto::provider::{AesGcm, BadTag, BlockCipher, ChaCha20, CryptoProvider, Hmac, HmacHash, SequentialCipher};
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;
use wasshd_core::keys::{HostKey, KeyAlg, PublicKey, SigAlg};
use wasshd_core::msg::{self, DisconnectReason};
use wasshd_core::transport::kex::{self, KexContext, Transcript};
use wasshd_core::transport::negotiate::{CipherAlg, CompressionAlg, KexAlg, MacAlg, Negotiated};
use wasshd_core::transport::Role;
use wasshd_core::wire::{Reader, Writer};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

// ---- the providers' known-answer vectors (crypto::kat) ------------------------------------------------

#[test]
fn the_core_provider_passes_every_known_answer_vector() {
    assert_eq!(kat::check(&RUST_CRYPTO), Ok(()));
    assert_eq!(kat::check_legacy(&RUST_CRYPTO), Ok(()));
}

/// What a host's primitive might get wrong, one at a time, over the core's own provider.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// ChaCha20 from the block after the one asked for.
    ChaChaCounter,
    /// ChaCha20 with the nonce's words swapped (a 96-bit-nonce layout read the other way).
    ChaChaNonce,
    /// GCM tags with a bit flipped.
    GcmTag,
    /// GCM open that decrypts whatever the tag says.
    GcmAcceptsAnyTag,
    /// AES-CTR that starts every call on a block boundary (a partial block's keystream dropped).
    CtrBlockAligned,
    /// HMAC with the sequence number taken as zero.
    HmacSeqIgnored,
    /// HMAC whose second tag under one key differs (a keyed state used up by the first).
    HmacOnce,
    /// CBC that starts each call from the IV again instead of chaining on.
    CbcUnchained,
}

#[derive(Debug)]
struct Faulty(Fault);

struct FaultyChaCha(Fault, Box<dyn ChaCha20>);
struct FaultyGcm(Fault, Box<dyn AesGcm>);
struct FaultyCtr(Fault, Box<dyn SequentialCipher>, usize);
/// A CBC object remade from the key and IV on every call when the fault is on.
struct FaultyCbc(Fault, BlockCipher, Vec<u8>, Vec<u8>, bool, Box<dyn SequentialCipher>);
struct FaultyHmac(Fault, Box<dyn Hmac>, bool);

impl CryptoProvider for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>> {
        Some(Box::new(FaultyGcm(self.0, RUST_CRYPTO.aes_gcm(key)?)))
    }
    fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        Some(Box::new(FaultyCtr(self.0, RUST_CRYPTO.aes_ctr(key, iv)?, 0)))
    }
    fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
        let keyed = RUST_CRYPTO.cbc(cipher, key, iv, decrypt)?;
        Some(Box::new(FaultyCbc(self.0, cipher, key.to_vec(), iv.to_vec(), decrypt, keyed)))
    }
    fn arcfour(&self, key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
        RUST_CRYPTO.arcfour(key)
    }
    fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
        Box::new(FaultyChaCha(self.0, RUST_CRYPTO.chacha20(key)))
    }
    fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
        Some(Box::new(FaultyHmac(self.0, RUST_CRYPTO.hmac(hash, key)?, false)))
    }
    fn legacy_available(&self) -> bool {
        RUST_CRYPTO.legacy_available()
    }
}

impl ChaCha20 for FaultyChaCha {
    fn apply(&mut self, nonce: &[u8; 8], counter: u32, data: &mut [u8]) {
        match self.0 {
            Fault::ChaChaCounter => self.1.apply(nonce, counter + 1, data),
            Fault::ChaChaNonce => {
                let swapped: [u8; 8] = [&nonce[4..], &nonce[..4]].concat().try_into().unwrap();
                self.1.apply(&swapped, counter, data)
            }
            _ => self.1.apply(nonce, counter, data),
        }
    }
}

impl AesGcm for FaultyGcm {
    fn seal(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        let mut tag = self.1.seal(nonce, aad, data);
        if self.0 == Fault::GcmTag {
            tag[15] ^= 0x80;
        }
        tag
    }
    fn open(&mut self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8; 16]) -> Result<(), BadTag> {
        if self.0 != Fault::GcmAcceptsAnyTag {
            return self.1.open(nonce, aad, data, tag);
        }
        // Decrypt by encrypting again: CTR mode is its own inverse.
        self.1.seal(nonce, aad, data);
        Ok(())
    }
}

impl SequentialCipher for FaultyCtr {
    fn apply(&mut self, data: &mut [u8]) {
        if self.0 == Fault::CtrBlockAligned && self.2 % 16 != 0 {
            let mut skipped = [0u8; 16];
            let skip = 16 - self.2 % 16;
            self.1.apply(&mut skipped[..skip]);
            self.2 += skip;
        }
        self.1.apply(data);
        self.2 += data.len();
    }
}

impl SequentialCipher for FaultyCbc {
    fn apply(&mut self, data: &mut [u8]) {
        if self.0 == Fault::CbcUnchained {
            self.5 = RUST_CRYPTO.cbc(self.1, &self.2, &self.3, self.4).unwrap();
        }
        self.5.apply(data);
    }
}

impl Hmac for FaultyHmac {
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        self.1.sign(if self.0 == Fault::HmacSeqIgnored { 0 } else { seq }, data, tag);
        if self.0 == Fault::HmacOnce && std::mem::replace(&mut self.2, true) {
            tag[0] ^= 1;
        }
    }
}

#[test]
fn a_provider_that_computes_anything_else_fails_the_check() {
    let cases = [
        (Fault::ChaChaCounter, "RFC 8439 A.1 #1"),
        (Fault::ChaChaNonce, "RFC 8439 2.4.2"),
        (Fault::GcmTag, "GCM test case 4 (AES-128)"),
        (Fault::GcmAcceptsAnyTag, "GCM test case 4 (AES-128)"),
        (Fault::CtrBlockAligned, "SP 800-38A F.5.1 (AES-128)"),
        (Fault::CbcUnchained, "SP 800-38A F.2.1 CBC-AES128"),
        (Fault::HmacSeqIgnored, "RFC 4231 test case 1"),
        (Fault::HmacOnce, "RFC 4231 test case 1"),
    ];
    for (fault, vector) in cases {
        assert_eq!(kat::check(&Faulty(fault)), Err(vector), "{fault:?}");
    }
}

/// The legacy ciphers no host provides: Blowfish and CAST-128 in CBC mode over the SP 800-38A plaintext as
/// OpenSSL 3's legacy provider computes them (`openssl enc`; decrypted back in two calls, so the chaining must
/// carry), and RC4's keystream for RFC 6229's 128- and 256-bit keys at 0 and at 1536, where `arcfour128` and
/// `arcfour256` start.
#[test]
fn blowfish_cast128_and_rc4_match_openssl() {
    let key = hex!("0123456789abcdeff0e1d2c3b4a59687");
    let iv = hex!("fedcba9876543210");
    for (cipher, expected) in [
        (BlockCipher::Blowfish, hex!("46a796dc84d2716dadb3c45896e0cdf3609a4d405d7b1d8c20be71eb0e2fb2bff4acc500a6ace802297873e4c375d11eeaa231bf47d883ac3f2036cec8f7054f")),
        (BlockCipher::Cast128, hex!("2c1a8825c84f5a8f94375d4152ca526824d2649d26a6c0ab3131e125f9eaef0e62c8377709e43a19dfdeebf456fa31372fff353b1290a0c20e72bceeb21ddab9")),
    ] {
        let mut data = kat::CTR_PLAINTEXT;
        RUST_CRYPTO.cbc(cipher, &key, &iv, false).unwrap().apply(&mut data);
        assert_eq!(data, expected, "{cipher:?}");
        let mut decrypt = RUST_CRYPTO.cbc(cipher, &key, &iv, true).unwrap();
        let (first, rest) = data.split_at_mut(8);
        decrypt.apply(first);
        decrypt.apply(rest);
        assert_eq!(data, kat::CTR_PLAINTEXT, "{cipher:?}");
        assert!(RUST_CRYPTO.cbc(cipher, &[0; 24], &iv, false).is_none(), "{cipher:?} takes 16-byte keys");
    }
    let rc4 = |key: &[u8]| {
        let mut stream = [0u8; 1568];
        RUST_CRYPTO.arcfour(key).unwrap().apply(&mut stream);
        stream
    };
    let short = rc4(&hex!("0102030405060708090a0b0c0d0e0f10"));
    assert_eq!(short[..32], hex!("9ac7cc9a609d1ef7b2932899cde41b975248c4959014126a6e8a84f11d1a9e1c"));
    assert_eq!(short[1536..], hex!("ffa0b514647ec04f6306b892ae6611810ee284558a70e8fb861fd23f9ce01a66"));
    let long = rc4(&hex!("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"));
    assert_eq!(long[..16], hex!("eaa6bd25880bf93d3f5d1e4ca2611d91"));
    assert_eq!(long[1536..], hex!("3e34135c79db010200767651cf2630735f81980cb7138e377c0bc405858042c3"));
    assert!(RUST_CRYPTO.arcfour(&[0; 24]).is_none());
}

// ---- HMAC-SHA-2 through PacketMac ---------------------------------------------------------------------

/// PacketMac authenticates `uint32 seq || data`: the first four bytes of each RFC 4231 message play the
/// sequence number and the rest is the packet.
#[test]
fn hmac_sha2_256_and_512_match_rfc4231_through_packet_mac() {
    for case in &kat::RFC4231 {
        let seq = u32::from_be_bytes(case.data[..4].try_into().unwrap());
        let rest = &case.data[4..];
        for (alg, expected, etm) in [
            (MacAlg::HmacSha256, &case.sha256[..], false),
            (MacAlg::HmacSha256Etm, &case.sha256[..], true),
            (MacAlg::HmacSha512, &case.sha512[..], false),
            (MacAlg::HmacSha512Etm, &case.sha512[..], true),
        ] {
            let mut mac = PacketMac::new(&RUST_CRYPTO, alg, case.key).unwrap();
            assert_eq!(mac.tag_len(), expected.len());
            assert_eq!(mac.etm(), etm);
            assert_eq!(mac.sign(seq, rest).as_ref(), expected, "{} {alg:?}", case.name);
            assert_eq!(mac.verify(seq, rest, expected), Ok(()));
            assert_eq!(mac.verify(seq.wrapping_add(1), rest, expected), Err(BadTag), "the sequence number is covered");
            let mut bad = expected.to_vec();
            bad[expected.len() / 2] ^= 0x10;
            assert_eq!(mac.verify(seq, rest, &bad), Err(BadTag));
            assert_eq!(mac.verify(seq, rest, &expected[..expected.len() - 1]), Err(BadTag), "a short tag never verifies");
        }
    }
}

#[test]
fn key_material_sizes_follow_the_algorithms() {
    let cases = [
        (CipherAlg::Chacha20Poly1305, 64, 0),
        (CipherAlg::Aes128Gcm, 16, 12),
        (CipherAlg::Aes256Gcm, 32, 12),
        (CipherAlg::Aes128Ctr, 16, 16),
        (CipherAlg::Aes192Ctr, 24, 16),
        (CipherAlg::Aes256Ctr, 32, 16),
    ];
    for (alg, key, iv) in cases {
        assert_eq!((cipher_key_len(alg), cipher_iv_len(alg)), (key, iv), "{alg:?}");
    }
    for (alg, key) in [(MacAlg::HmacSha256, 32), (MacAlg::HmacSha256Etm, 32), (MacAlg::HmacSha512, 64), (MacAlg::HmacSha512Etm, 64)] {
        assert_eq!(mac_key_len(alg), key);
    }
    for alg in [MacAlg::Umac64, MacAlg::Umac64Etm, MacAlg::Umac128, MacAlg::Umac128Etm] {
        assert_eq!(mac_key_len(alg), 16, "{alg:?}");
    }
}

/// The legacy HMACs through PacketMac (RFC 2202's vectors, the sequence number the first four bytes): the
/// full tag, and the first 12 bytes of it for the -96 forms (RFC 2404), in both MAC orders.
#[test]
fn legacy_hmacs_through_packet_mac_and_their_truncated_forms() {
    let forms = [
        (HmacHash::Sha1, &[(MacAlg::HmacSha1, 20), (MacAlg::HmacSha1Etm, 20), (MacAlg::HmacSha196, 12), (MacAlg::HmacSha196Etm, 12)][..]),
        (HmacHash::Md5, &[(MacAlg::HmacMd5, 16), (MacAlg::HmacMd5Etm, 16), (MacAlg::HmacMd596, 12), (MacAlg::HmacMd596Etm, 12)]),
        // Both names of the one MAC (OpenSSH used the @openssh.com one), and its -etm form.
        (HmacHash::Ripemd160, &[(MacAlg::HmacRipemd160, 20), (MacAlg::HmacRipemd160OpenSsh, 20), (MacAlg::HmacRipemd160Etm, 20)]),
    ];
    for (hash, name, key, data, expected) in kat::RFC2202.into_iter().chain(kat::RFC2286) {
        let seq = u32::from_be_bytes(data[..4].try_into().unwrap());
        let algs = forms.iter().find(|(h, _)| *h == hash).unwrap().1;
        for &(alg, len) in algs {
            let mut mac = PacketMac::new(&RUST_CRYPTO, alg, key).unwrap();
            assert_eq!((mac.tag_len(), mac.etm()), (len, alg.name().contains("-etm@")));
            assert_eq!(mac.sign(seq, &data[4..]).as_ref(), &expected[..len], "{name} {alg:?}");
            assert_eq!(mac.verify(seq, &data[4..], &expected[..len]), Ok(()));
            if len < expected.len() {
                assert_eq!(mac.verify(seq, &data[4..], expected), Err(BadTag), "{alg:?}: only the tag's own length verifies");
            }
        }
        assert_eq!(mac_key_len(algs[2].0), hash.output_len(), "the -96 forms keep the whole key");
    }
}

/// UMAC through PacketMac: the sequence number is the nonce (8 bytes, big-endian) and is not hashed, the
/// tags are 8 and 16 bytes, a changed bit or sequence number fails, and the key must be 16 bytes.
#[test]
fn umac_through_packet_mac_uses_the_sequence_number_as_its_nonce() {
    let key = *b"abcdefghijklmnop";
    for (alg, len, etm) in [(MacAlg::Umac64, 8, false), (MacAlg::Umac64Etm, 8, true), (MacAlg::Umac128, 16, false), (MacAlg::Umac128Etm, 16, true)] {
        let mut mac = PacketMac::new(&RUST_CRYPTO, alg, &key).unwrap();
        assert_eq!((mac.tag_len(), mac.etm()), (len, etm));
        let expected = wasshd_core::crypto::umac::Umac::new(&key, len).unwrap().tag(7u64.to_be_bytes(), b"packet");
        let tag = mac.sign(7, b"packet");
        assert_eq!(tag.as_ref(), &expected[..len], "{alg:?}");
        assert_eq!(mac.verify(7, b"packet", tag.as_ref()), Ok(()));
        assert_eq!(mac.verify(8, b"packet", tag.as_ref()), Err(BadTag));
        assert_eq!(mac.verify(7, b"packes", tag.as_ref()), Err(BadTag));
        assert!(PacketMac::new(&RUST_CRYPTO, alg, &[0; 32]).is_none());
    }
}

#[test]
fn ciphers_refuse_wrong_key_and_iv_sizes() {
    assert!(RUST_CRYPTO.aes_ctr(&[0; 20], &[0; 16]).is_none());
    assert!(RUST_CRYPTO.aes_ctr(&[0; 32], &[0; 12]).is_none());
    assert!(RUST_CRYPTO.aes_gcm(&[0; 24]).is_none());
    assert!(Gcm::new(&RUST_CRYPTO, &[0; 32], &[0; 16]).is_none());
    assert!(Gcm::new(&RUST_CRYPTO, &[0; 16], &[0; 12]).is_some());
    assert!(ChaChaPoly::new(&RUST_CRYPTO, &[0; 63]).is_none());
    assert!(ChaChaPoly::new(&RUST_CRYPTO, &[0; 64]).is_some());
}

// ---- AES-GCM as RFC 5647 uses it ----------------------------------------------------------------------

#[test]
fn gcm_seals_and_opens_the_nist_vectors_and_refuses_any_change() {
    for v in &kat::NIST_GCM {
        let mut body = kat::GCM_PLAINTEXT;
        let got = Gcm::new(&RUST_CRYPTO, v.key, &kat::GCM_IV).unwrap().seal(&kat::GCM_AAD, &mut body);
        assert_eq!((body, got), (v.ciphertext, v.tag), "{}", v.name);

        let open = |aad: &[u8], body: &mut [u8], tag: &[u8]| Gcm::new(&RUST_CRYPTO, v.key, &kat::GCM_IV).unwrap().open(aad, body, tag);
        let mut body = v.ciphertext;
        open(&kat::GCM_AAD, &mut body, &v.tag).unwrap();
        assert_eq!(body, kat::GCM_PLAINTEXT);

        let mut bad_aad = kat::GCM_AAD;
        bad_aad[19] ^= 1;
        assert_eq!(open(&bad_aad, &mut v.ciphertext.clone(), &v.tag), Err(BadTag));
        let mut body = v.ciphertext;
        body[59] ^= 1;
        assert_eq!(open(&kat::GCM_AAD, &mut body, &v.tag), Err(BadTag));
        assert_eq!(open(&kat::GCM_AAD, &mut v.ciphertext.clone(), &v.tag[..15]), Err(BadTag));
    }
}

fn gcm_reference(key: &[u8], nonce: &[u8; 12], aad: &[u8], body: &[u8]) -> (Vec<u8>, [u8; 16]) {
    use aes_gcm::aead::AeadInPlace;
    use aes_gcm::{Aes128Gcm, KeyInit, Nonce};
    let mut buf = body.to_vec();
    let tag = Aes128Gcm::new_from_slice(key).unwrap().encrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut buf).unwrap();
    (buf, tag.into())
}

/// RFC 5647 §7.1: the last 8 bytes of the nonce are a 64-bit invocation counter incremented per packet,
/// wrapping without carrying into the 4-byte fixed field.
#[test]
fn gcm_invocation_counter_advances_per_packet_and_wraps_within_64_bits() {
    let key = kat::NIST_GCM[0].key;
    let ivs: [([u8; 12], [[u8; 12]; 3]); 2] = [
        (kat::GCM_IV, [kat::GCM_IV, hex!("cafebabefacedbaddecaf889"), hex!("cafebabefacedbaddecaf88a")]),
        (
            hex!("01020304fffffffffffffffe"),
            [hex!("01020304fffffffffffffffe"), hex!("01020304ffffffffffffffff"), hex!("010203040000000000000000")],
        ),
    ];
    for (iv, nonces) in ivs {
        let mut sealer = Gcm::new(&RUST_CRYPTO, key, &iv).unwrap();
        let mut opener = Gcm::new(&RUST_CRYPTO, key, &iv).unwrap();
        for (n, nonce) in nonces.iter().enumerate() {
            let aad = (60u32 + n as u32).to_be_bytes();
            let mut body = kat::GCM_PLAINTEXT;
            let tag = sealer.seal(&aad, &mut body);
            let (want_body, want_tag) = gcm_reference(key, nonce, &aad, &kat::GCM_PLAINTEXT);
            assert_eq!((body.to_vec(), tag), (want_body, want_tag), "packet {n} of {iv:02x?}");
            opener.open(&aad, &mut body, &tag).unwrap();
            assert_eq!(body, kat::GCM_PLAINTEXT);
        }
    }
}

// ---- ChaCha20 (64-bit nonce) and OpenSSH chacha20-poly1305 --------------------------------------------

fn legacy_keystream(key: &[u8; 32], nonce: &[u8; 8], byte_offset: u64, len: usize) -> Vec<u8> {
    let mut c = ChaCha20Legacy::new(chacha20::Key::from_slice(key), chacha20::LegacyNonce::from_slice(nonce));
    c.seek(byte_offset);
    let mut out = vec![0u8; len];
    c.apply_keystream(&mut out);
    out
}

/// The vectors of draft-strombergson-chacha-test-vectors (ChaCha20 with an 8-byte nonce) through the core's
/// provider, besides RFC 8439's in `kat::check`.
#[test]
fn chacha20_matches_the_strombergson_vectors() {
    let mut key1 = [0u8; 32];
    key1[31] = 1;
    let seq_key: [u8; 32] = core::array::from_fn(|i| i as u8);
    // (key, nonce, keystream)
    let cases: [(&[u8; 32], [u8; 8], Vec<u8>); 4] = [
        (&key1, [0; 8], hex!("4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41bbe2a0b6ea7566d2a5d1e7e20d42af2c53d792b1c43fea817e9ad275ae546963").to_vec()),
        (&[0; 32], hex!("0000000000000001"), hex!("de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e31afab757").to_vec()),
        (&[0; 32], hex!("0100000000000000"), hex!("ef3fdfd6c61578fbf5cf35bd3dd33b8009631634d21e42ac33960bd138e50d32111e4caf237ee53ca8ad6426194a88545ddc497a0b466e7d6bbdb0041b2f586b").to_vec()),
        (
            &seq_key,
            hex!("0001020304050607"),
            hex!(
                "f798a189f195e66982105ffb640bb7757f579da31602fc93ec01ac56f85ac3c134a4547b733b46413042c9440049176905d3be59ea1c53f15916155c2be8241a
                 38008b9a26bc35941e2444177c8ade6689de95264986d95889fb60e84629c9bd9a5acb1cc118be563eb9b3a4a472f82e09a7e778492b562ef7130e88dfe031c7
                 9db9d4f7c7a899151b9a475032b63fc385245fe054e3dd5a97a5f576fe064025d3ce042c566ab2c507b138db853e3d6959660996546cc9c4a6eafdc777c040d7
                 0eaf46f76dad3979e5c5360c3317166a1c894c94a371876a94df7628fe4eaaf2ccb27d5aaae0ad7ad0f9d4b6ad3b54098746d4524d38407a6deb3ab78fab78c9"
            )
            .to_vec(),
        ),
    ];
    for (i, (key, nonce, expected)) in cases.iter().enumerate() {
        let mut buf = vec![0u8; expected.len()];
        RUST_CRYPTO.chacha20(key).apply(nonce, 0, &mut buf);
        assert_eq!(buf, *expected, "vector {i}");
        // Any starting block: the last 64 bytes alone.
        let mut tail = vec![0u8; 64];
        RUST_CRYPTO.chacha20(key).apply(nonce, (expected.len() / 64 - 1) as u32, &mut tail);
        assert_eq!(tail, expected[expected.len() - 64..], "vector {i} from its last block");
    }
}

/// OpenSSH PROTOCOL.chacha20poly1305, computed here from ChaCha20Legacy and Poly1305 directly: K_2 (the
/// first 32 key bytes) encrypts the payload from block 1 and gives the Poly1305 key from block 0; K_1
/// (the second 32) encrypts the length; the nonce is the sequence number as a big-endian u64.
fn openssh_chachapoly_reference(key: &[u8; 64], seq: u32, packet: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let k_main: [u8; 32] = key[..32].try_into().unwrap();
    let k_header: [u8; 32] = key[32..].try_into().unwrap();
    let nonce = u64::from(seq).to_be_bytes();
    let mut out = packet.to_vec();
    for (b, k) in out[..4].iter_mut().zip(legacy_keystream(&k_header, &nonce, 0, 4)) {
        *b ^= k;
    }
    for (b, k) in out[4..].iter_mut().zip(legacy_keystream(&k_main, &nonce, 64, packet.len() - 4)) {
        *b ^= k;
    }
    let poly_key = legacy_keystream(&k_main, &nonce, 0, 32);
    let tag = Poly1305::new(poly1305::Key::from_slice(&poly_key)).compute_unpadded(&out);
    (out, tag.into())
}

/// The self-test's OpenSSH packets (computed with pyca/cryptography) agree with the reference built here
/// from the RustCrypto primitives: two independent computations of the same construction.
#[test]
fn openssh_vectors_agree_with_the_reference_construction() {
    for v in &kat::OPENSSH_CHACHAPOLY {
        let (sealed, tag) = openssh_chachapoly_reference(&kat::OPENSSH_CHACHAPOLY_KEY, v.seq, v.plain);
        assert_eq!((sealed.as_slice(), tag), (v.sealed, v.tag), "seq {}", v.seq);
    }
}

#[test]
fn chachapoly_matches_openssh_construction_computed_independently() {
    let keys: [[u8; 64]; 3] = [[0; 64], core::array::from_fn(|i| i as u8), core::array::from_fn(|i| (i as u8).wrapping_mul(97) ^ 0x5c)];
    for key in &keys {
        let mut cipher = ChaChaPoly::new(&RUST_CRYPTO, key).unwrap();
        for seq in [0u32, 1, 2, 0x0102_0304, u32::MAX] {
            for body_len in [4usize, 12, 60, 63, 64, 65, 200, 1000] {
                let mut packet = ((body_len) as u32).to_be_bytes().to_vec();
                packet.extend((0..body_len).map(|i| (i as u8) ^ (seq as u8)));
                let (want, want_tag) = openssh_chachapoly_reference(key, seq, &packet);
                let mut sealed = packet.clone();
                let tag = cipher.seal(seq, &mut sealed);
                assert_eq!((&sealed, tag), (&want, want_tag), "seq {seq} len {body_len}");
                assert_eq!(cipher.packet_length(seq, sealed[..4].try_into().unwrap()), body_len as u32);

                let mut opened = sealed.clone();
                cipher.open(seq, &mut opened, &tag).unwrap();
                assert_eq!(&opened[4..], &packet[4..], "open decrypts the body and leaves the length to packet_length");
                assert_eq!(&opened[..4], &sealed[..4]);

                let mut damaged = sealed.clone();
                damaged[4 + body_len / 2] ^= 0x40;
                assert_eq!(cipher.open(seq, &mut damaged, &tag), Err(BadTag));
                let mut damaged = sealed.clone();
                damaged[1] ^= 0x01;
                assert_eq!(cipher.open(seq, &mut damaged, &tag), Err(BadTag), "the encrypted length is authenticated");
                let mut other_seq = sealed.clone();
                assert_eq!(cipher.open(seq.wrapping_add(1), &mut other_seq, &tag), Err(BadTag));
            }
        }
    }
}

/// With all-zero keys the OpenSSH construction is pinned to the RFC 8439 A.1 keystream: the length is
/// XORed with block 0 of (key 0, nonce 0), the body with block 1, and Poly1305 is keyed by block 0.
#[test]
fn chachapoly_with_zero_key_is_pinned_to_rfc8439_keystream() {
    let block0 = kat::RFC8439_CHACHA20[0].ciphertext;
    let block1 = kat::RFC8439_CHACHA20[1].ciphertext;
    let mut cipher = ChaChaPoly::new(&RUST_CRYPTO, &[0; 64]).unwrap();
    let mut packet = vec![0u8; 64];
    packet[3] = 60;
    let tag = cipher.seal(0, &mut packet);
    assert_eq!(packet[..4], [0x76, 0xb8, 0xe0, 0xad ^ 60]);
    assert_eq!(packet[4..], block1[..60]);
    let want_tag: [u8; 16] = Poly1305::new(poly1305::Key::from_slice(&block0[..32])).compute_unpadded(&packet).into();
    assert_eq!(tag, want_tag);

    // Sequence number 1 is nonce 0000000000000001 (draft-strombergson TC3), and the header key is
    // the second half of the key material (TC2's key 00..01).
    assert_eq!(cipher.packet_length(1, hex!("de9cba7b")), 0);
    let mut key = [0u8; 64];
    key[63] = 1;
    assert_eq!(ChaChaPoly::new(&RUST_CRYPTO, &key).unwrap().packet_length(0, hex!("4540f05a")), 0);
    assert_eq!(ChaChaPoly::new(&RUST_CRYPTO, &key).unwrap().packet_length(0, hex!("4540f05b")), 1);
}

// ---- Ed25519 (RFC 8032 §7.1) --------------------------------------------------------------------------

struct EdCase {
    secret: [u8; 32],
    public: [u8; 32],
    message: Vec<u8>,
    signature: [u8; 64],
}

fn rfc8032_cases() -> [EdCase; 3] {
    [
        EdCase {
            secret: hex!("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
            public: hex!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
            message: vec![],
            signature: hex!("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        },
        EdCase {
            secret: hex!("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"),
            public: hex!("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
            message: vec![0x72],
            signature: hex!("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        },
        EdCase {
            secret: hex!("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7"),
            public: hex!("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"),
            message: hex!("af82").to_vec(),
            signature: hex!("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
        },
    ]
}

#[test]
fn ed25519_matches_rfc8032_tests_1_to_3_in_ssh_blob_format() {
    for (i, case) in rfc8032_cases().iter().enumerate() {
        let key = HostKey::Ed25519(SigningKey::from_bytes(&case.secret));
        let mut want_key_blob = ssh_string(b"ssh-ed25519");
        want_key_blob.extend(ssh_string(&case.public));
        let public = key.public();
        assert_eq!(public.blob(), want_key_blob, "test {}", i + 1);
        assert_eq!(public.key_type().name(), "ssh-ed25519");

        let mut want_sig_blob = ssh_string(b"ssh-ed25519");
        want_sig_blob.extend(ssh_string(&case.signature));
        assert_eq!(
            key.sign(SigAlg::Ed25519, &case.message, &mut wasshd_core::crypto::rng::EntropyPool::new(b"test")).unwrap(),
            want_sig_blob,
            "test {}",
            i + 1
        );

        let parsed = PublicKey::from_blob(&want_key_blob).unwrap();
        assert_eq!(parsed, public);
        assert!(parsed.verify(SigAlg::Ed25519, &case.message, &want_sig_blob));
        let mut other = case.message.clone();
        other.push(0);
        assert!(!parsed.verify(SigAlg::Ed25519, &other, &want_sig_blob));
        let mut renamed = Writer::new();
        renamed.string(b"rsa-sha2-256").string(&case.signature);
        assert!(!parsed.verify(SigAlg::Ed25519, &case.message, renamed.as_slice()), "the blob must name ssh-ed25519");
        let mut trailing = want_sig_blob.clone();
        trailing.push(0);
        assert!(!parsed.verify(SigAlg::Ed25519, &case.message, &trailing));
        let mut bad = want_sig_blob.clone();
        let n = bad.len();
        bad[n - 40] ^= 0x04;
        assert!(!parsed.verify(SigAlg::Ed25519, &case.message, &bad));
        // Non-canonical S (S + L) must be refused.
        let mut s_plus_l = case.signature;
        add_group_order(&mut s_plus_l[32..]);
        let mut malleable = ssh_string(b"ssh-ed25519");
        malleable.extend(ssh_string(&s_plus_l));
        assert!(!parsed.verify(SigAlg::Ed25519, &case.message, &malleable));
    }
}

/// Adds the Ed25519 group order L to a little-endian scalar.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = hex!("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}

// ---- curve25519-sha256 (RFC 7748, RFC 8731) -------------------------------------------------------------

/// An RNG that hands out fixed bytes: the server's ephemeral key becomes a published scalar.
struct FixedRng(Vec<u8>);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "fixed RNG exhausted");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

fn ecdh_init(q_c: &[u8]) -> Vec<u8> {
    let mut v = vec![msg::KEX_ECDH_INIT];
    v.extend(ssh_string(q_c));
    v
}

const TRANSCRIPT: Transcript<'static> = Transcript {
    client_version: b"SSH-2.0-OpenSSH_9.6",
    server_version: b"SSH-2.0-wasshd_test",
    client_kexinit: b"\x14client kexinit stand-in",
    server_kexinit: b"\x14server kexinit stand-in",
};

/// The server's side of one exchange, run through the key exchange trait as the session runs it.
struct Exchanged {
    reply: Vec<u8>,
    exchange_hash: Vec<u8>,
    shared_secret: Zeroizing<Vec<u8>>,
}

fn server_exchange(alg: KexAlg, client_init: &[u8], host: &HostKey, rng: &mut dyn CryptoRngCore) -> Result<Exchanged, wasshd_core::Error> {
    let mut cx =
        KexContext { transcript: TRANSCRIPT, sig_alg: SigAlg::Ed25519, host_certificate: None, host_keys: std::slice::from_ref(host), rng };
    let step = kex::exchange(alg, Role::Server).step(client_init, &mut cx)?;
    let done = step.done.expect("one message finishes curve25519");
    Ok(Exchanged { reply: step.send.expect("the server replies"), exchange_hash: done.exchange_hash, shared_secret: done.shared_secret })
}

struct DecodedReply {
    k_s: Vec<u8>,
    q_s: [u8; 32],
    signature: Vec<u8>,
}

fn decode_reply(reply: &[u8]) -> DecodedReply {
    let mut r = Reader::new(reply);
    assert_eq!(r.u8().unwrap(), msg::KEX_ECDH_REPLY);
    let k_s = r.string().unwrap().to_vec();
    let q_s = r.string().unwrap().try_into().unwrap();
    let signature = r.string().unwrap().to_vec();
    r.finish().unwrap();
    DecodedReply { k_s, q_s, signature }
}

/// RFC 7748 §5.2 scalar multiplications and the §6.1 Diffie-Hellman, run through the server's exchange:
/// the RNG supplies the scalar, the client's share is the input u-coordinate, K is the output.
#[test]
fn x25519_matches_rfc7748_vectors_through_server_exchange() {
    let host = HostKey::Ed25519(SigningKey::from_bytes(&[9; 32]));
    let cases = [
        (
            hex!("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            hex!("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
            hex!("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        ),
        (
            hex!("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
            hex!("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
            hex!("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
        ),
        // §6.1: Bob's private key with Alice's public key, and the other way round.
        (
            hex!("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
            hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
            hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
        ),
        (
            hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
            hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
            hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
        ),
    ];
    for (scalar, u, out) in cases {
        let mut rng = FixedRng(scalar.to_vec());
        let result = server_exchange(KexAlg::Curve25519Sha256, &ecdh_init(&u), &host, &mut rng).unwrap();
        assert_eq!(*result.shared_secret, mpint(&out));
    }
    // §6.1 public keys: the reply carries the scalar's public key.
    for (secret, public) in [
        (
            hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
            hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
        ),
        (
            hex!("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
            hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
        ),
    ] {
        let mut rng = FixedRng(secret.to_vec());
        let result = server_exchange(KexAlg::Curve25519Sha256Libssh, &ecdh_init(&[9; 32]), &host, &mut rng).unwrap();
        assert_eq!(decode_reply(&result.reply).q_s, public);
    }
}

/// The whole KEX_ECDH_REPLY for fixed inputs, rebuilt from RFC 4253 §8 and RFC 8731 §3 with sha2 and
/// ed25519-dalek directly: host key RFC 8032 test 1, server ephemeral Bob's and client Alice's (RFC 7748).
#[test]
fn curve25519_sha256_reply_and_exchange_hash_match_independent_computation() {
    let host_secret = hex!("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let host = HostKey::Ed25519(SigningKey::from_bytes(&host_secret));
    let alice = StaticSecret::from(hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    let q_c = XPublic::from(&alice);
    let bob_secret = hex!("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let q_s = hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let k = mpint(&hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    // The shared secret's top bit is clear: no sign byte. (4a...)
    assert_eq!(k.len(), 4 + 32);

    let result = server_exchange(KexAlg::Curve25519Sha256, &ecdh_init(q_c.as_bytes()), &host, &mut FixedRng(bob_secret.to_vec())).unwrap();

    let mut k_s = ssh_string(b"ssh-ed25519");
    k_s.extend(ssh_string(&hex!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")));
    let mut d = Sha256::new();
    for s in [
        TRANSCRIPT.client_version,
        TRANSCRIPT.server_version,
        TRANSCRIPT.client_kexinit,
        TRANSCRIPT.server_kexinit,
        &k_s,
        q_c.as_bytes(),
        &q_s,
    ] {
        d.update((s.len() as u32).to_be_bytes());
        d.update(s);
    }
    d.update(&k);
    let h = d.finalize().to_vec();
    assert_eq!(result.exchange_hash, h);
    assert_eq!(*result.shared_secret, k);

    let signature = SigningKey::from_bytes(&host_secret).sign(&h);
    let mut sig_blob = ssh_string(b"ssh-ed25519");
    sig_blob.extend(ssh_string(&signature.to_bytes()));
    let mut want = vec![msg::KEX_ECDH_REPLY];
    want.extend(ssh_string(&k_s));
    want.extend(ssh_string(&q_s));
    want.extend(ssh_string(&sig_blob));
    assert_eq!(result.reply, want);

    // What a client does with the reply: same K from its own secret, same H, a signature that verifies.
    let reply = decode_reply(&result.reply);
    let client_k = mpint(alice.diffie_hellman(&XPublic::from(reply.q_s)).as_bytes());
    assert_eq!(client_k, k);
    let vk = VerifyingKey::from_bytes(&hex!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")).unwrap();
    let mut r = Reader::new(&reply.signature);
    assert_eq!(r.string().unwrap(), b"ssh-ed25519");
    let sig = ed25519_dalek::Signature::from_slice(r.string().unwrap()).unwrap();
    vk.verify(&h, &sig).unwrap();
}

/// With the server's own seeded generator the server's secret is unknown to the test; the client side
/// still derives the same K and H from the reply and verifies the host's signature.
#[test]
fn client_recomputes_shared_secret_and_exchange_hash_from_a_seeded_server_reply() {
    let host = HostKey::Ed25519(SigningKey::from_bytes(&[0x42; 32]));
    for seed in [&b"seed one"[..], b"seed two", &[0u8; 32]] {
        let client_secret = StaticSecret::from(<[u8; 32]>::from(Sha256::digest(seed)));
        let q_c = XPublic::from(&client_secret);
        let mut rng = EntropyPool::new(seed);
        let result = server_exchange(KexAlg::Curve25519Sha256, &ecdh_init(q_c.as_bytes()), &host, &mut rng).unwrap();
        let reply = decode_reply(&result.reply);
        assert_eq!(reply.k_s, host.public().blob());
        let k = mpint(client_secret.diffie_hellman(&XPublic::from(reply.q_s)).as_bytes());
        assert_eq!(*result.shared_secret, k);
        let h = exchange_hash(
            TRANSCRIPT.client_version,
            TRANSCRIPT.server_version,
            TRANSCRIPT.client_kexinit,
            TRANSCRIPT.server_kexinit,
            &reply.k_s,
            q_c.as_bytes(),
            &reply.q_s,
            &k,
        );
        assert_eq!(result.exchange_hash, h);
        assert!(PublicKey::from_blob(&reply.k_s).unwrap().verify(SigAlg::Ed25519, &h, &reply.signature));
        // The same seed gives the same exchange: the pool is deterministic.
        let again = server_exchange(KexAlg::Curve25519Sha256, &ecdh_init(q_c.as_bytes()), &host, &mut EntropyPool::new(seed)).unwrap();
        assert_eq!(again.reply, result.reply);
    }
}

#[test]
fn server_exchange_refuses_bad_client_shares() {
    let host = HostKey::Ed25519(SigningKey::from_bytes(&[9; 32]));
    let run = |init: &[u8]| server_exchange(KexAlg::Curve25519Sha256, init, &host, &mut EntropyPool::new(b"x")).err().map(|e| e.reason);
    assert_eq!(run(&ecdh_init(&[9; 31])), Some(DisconnectReason::KeyExchangeFailed));
    assert_eq!(run(&ecdh_init(&[9; 33])), Some(DisconnectReason::KeyExchangeFailed));
    let mut trailing = ecdh_init(&[9; 32]);
    trailing.push(0);
    assert_eq!(run(&trailing), Some(DisconnectReason::ProtocolError));
    assert_eq!(run(&[msg::KEX_ECDH_INIT, 0, 0]), Some(DisconnectReason::ProtocolError));
    // Low-order points give an all-zero shared secret (RFC 7748 §6.1, RFC 8731 §3).
    assert_eq!(run(&ecdh_init(&[0; 32])), Some(DisconnectReason::KeyExchangeFailed));
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(run(&ecdh_init(&one)), Some(DisconnectReason::KeyExchangeFailed));
    let mut other_message = ecdh_init(&[9; 32]);
    other_message[0] = msg::KEX_ECDH_REPLY;
    assert_eq!(run(&other_message), Some(DisconnectReason::ProtocolError));
}

// ---- key derivation (RFC 4253 §7.2) -----------------------------------------------------------------------

fn derive_reference(k: &[u8], h: &[u8], letter: u8, session_id: &[u8], len: usize) -> Vec<u8> {
    let mut out = Sha256::new().chain_update(k).chain_update(h).chain_update([letter]).chain_update(session_id).finalize().to_vec();
    while out.len() < len {
        let next = Sha256::new().chain_update(k).chain_update(h).chain_update(&out).finalize();
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}

#[test]
fn derive_keys_matches_rfc4253_section_7_2() {
    let k = mpint(&hex!("ff5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    let h = Sha256::digest(b"exchange hash").to_vec();
    // A re-exchange: the session id is the first exchange's hash, not this one's.
    let session_id = Sha256::digest(b"first exchange hash").to_vec();
    let suites = [
        (CipherAlg::Chacha20Poly1305, None),
        (CipherAlg::Aes128Gcm, None),
        (CipherAlg::Aes256Gcm, None),
        (CipherAlg::Aes192Ctr, Some(MacAlg::HmacSha256)),
        (CipherAlg::Aes256Ctr, Some(MacAlg::HmacSha512Etm)),
    ];
    for (c2s_cipher, c2s_mac) in suites {
        // Different algorithms in the two directions, so a swapped direction would show.
        let (s2c_cipher, s2c_mac) = (CipherAlg::Aes128Ctr, Some(MacAlg::HmacSha512));
        let negotiated = Negotiated {
            kex: KexAlg::Curve25519Sha256,
            host_key: KeyAlg::Plain(SigAlg::Ed25519),
            cipher_c2s: c2s_cipher,
            cipher_s2c: s2c_cipher,
            mac_c2s: c2s_mac,
            mac_s2c: s2c_mac,
            compression_c2s: CompressionAlg::None,
            compression_s2c: CompressionAlg::None,
        };
        let (c2s, s2c) = kex::derive_keys(&negotiated, &k, &h, &session_id);
        assert_eq!((c2s.cipher, c2s.mac, s2c.cipher, s2c.mac), (c2s_cipher, c2s_mac, s2c_cipher, s2c_mac));
        let mac_len = |m: Option<MacAlg>| m.map_or(0, mac_key_len);
        assert_eq!(*c2s.iv, derive_reference(&k, &h, b'A', &session_id, cipher_iv_len(c2s_cipher)), "{c2s_cipher:?}");
        assert_eq!(*s2c.iv, derive_reference(&k, &h, b'B', &session_id, cipher_iv_len(s2c_cipher)));
        assert_eq!(*c2s.key, derive_reference(&k, &h, b'C', &session_id, cipher_key_len(c2s_cipher)), "{c2s_cipher:?}");
        assert_eq!(*s2c.key, derive_reference(&k, &h, b'D', &session_id, cipher_key_len(s2c_cipher)));
        assert_eq!(*c2s.mac_key, derive_reference(&k, &h, b'E', &session_id, mac_len(c2s_mac)));
        assert_eq!(*s2c.mac_key, derive_reference(&k, &h, b'F', &session_id, mac_len(s2c_mac)));
    }
}
