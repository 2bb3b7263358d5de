//! Known-answer tests: published vectors checked through the crate's public API, and the one construction
//! with no published vectors (OpenSSH's chacha20-poly1305) cross-checked against an independent
//! computation from the underlying primitives, themselves pinned to published keystream vectors.

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
use wasshd_core::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len, AesCtr, BadTag, ChaChaPoly, Gcm, PacketMac};
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::{HostKey, PublicKey, SigAlg};
use wasshd_core::msg::{self, DisconnectReason};
use wasshd_core::transport::kex::{self, KexContext, Transcript};
use wasshd_core::transport::negotiate::{CipherAlg, CompressionAlg, KexAlg, MacAlg, Negotiated};
use wasshd_core::transport::Role;
use wasshd_core::wire::{Reader, Writer};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

// ---- HMAC-SHA-2 (RFC 4231) ----------------------------------------------------------------------------

struct HmacCase {
    key: Vec<u8>,
    data: Vec<u8>,
    sha256: [u8; 32],
    sha512: [u8; 64],
}

fn rfc4231_cases() -> Vec<HmacCase> {
    vec![
        // Test case 1.
        HmacCase {
            key: vec![0x0b; 20],
            data: b"Hi There".to_vec(),
            sha256: hex!("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            sha512: hex!("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        },
        // Test case 2: a key shorter than the output.
        HmacCase {
            key: b"Jefe".to_vec(),
            data: b"what do ya want for nothing?".to_vec(),
            sha256: hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            sha512: hex!("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        },
        // Test case 3.
        HmacCase {
            key: vec![0xaa; 20],
            data: vec![0xdd; 50],
            sha256: hex!("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            sha512: hex!("fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
        },
        // Test case 4.
        HmacCase {
            key: (1..=25).collect(),
            data: vec![0xcd; 50],
            sha256: hex!("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            sha512: hex!("b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
        },
        // Test case 6: a key longer than the block, hashed first.
        HmacCase {
            key: vec![0xaa; 131],
            data: b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            sha256: hex!("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            sha512: hex!("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        },
        // Test case 7: long key and long data.
        HmacCase {
            key: vec![0xaa; 131],
            data: b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            sha256: hex!("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
            sha512: hex!("e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"),
        },
    ]
}

/// PacketMac authenticates `uint32 seq || data`: the first four bytes of each RFC 4231 message play the
/// sequence number and the rest is the packet.
#[test]
fn hmac_sha2_256_and_512_match_rfc4231_through_packet_mac() {
    for (i, case) in rfc4231_cases().iter().enumerate() {
        let seq = u32::from_be_bytes(case.data[..4].try_into().unwrap());
        let rest = &case.data[4..];
        for (alg, expected, etm) in [
            (MacAlg::HmacSha256, &case.sha256[..], false),
            (MacAlg::HmacSha256Etm, &case.sha256[..], true),
            (MacAlg::HmacSha512, &case.sha512[..], false),
            (MacAlg::HmacSha512Etm, &case.sha512[..], true),
        ] {
            let mac = PacketMac::new(alg, &case.key);
            assert_eq!(mac.tag_len(), expected.len());
            assert_eq!(mac.etm(), etm);
            assert_eq!(mac.sign(seq, rest).as_ref(), expected, "case {i} {alg:?}");
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
}

// ---- AES-CTR (NIST SP 800-38A F.5) --------------------------------------------------------------------

const SP800_38A_PLAINTEXT: [u8; 64] = hex!(
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
);
const SP800_38A_COUNTER: [u8; 16] = hex!("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

#[test]
fn aes_ctr_matches_sp800_38a_f5_for_128_192_and_256_bit_keys() {
    let cases: [(CipherAlg, &[u8], [u8; 64]); 3] = [
        (
            CipherAlg::Aes128Ctr,
            &hex!("2b7e151628aed2a6abf7158809cf4f3c"),
            hex!("874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee"),
        ),
        (
            CipherAlg::Aes192Ctr,
            &hex!("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"),
            hex!("1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94 1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050"),
        ),
        (
            CipherAlg::Aes256Ctr,
            &hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
            hex!("601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6"),
        ),
    ];
    for (alg, key, ciphertext) in cases {
        // Encryption (F.5.1, F.5.3, F.5.5) in one call.
        let mut buf = SP800_38A_PLAINTEXT;
        AesCtr::new(alg, key, &SP800_38A_COUNTER).unwrap().apply(&mut buf);
        assert_eq!(buf, ciphertext, "{alg:?}");
        // The keystream runs on across calls of any size, as SSH packets need.
        let mut ctr = AesCtr::new(alg, key, &SP800_38A_COUNTER).unwrap();
        let mut buf = SP800_38A_PLAINTEXT;
        let mut at = 0;
        for n in [1usize, 15, 16, 5, 27] {
            ctr.apply(&mut buf[at..at + n]);
            at += n;
        }
        assert_eq!(at, 64);
        assert_eq!(buf, ciphertext, "{alg:?} in pieces");
        // Decryption (F.5.2, F.5.4, F.5.6) is the same operation.
        let mut back = ciphertext;
        AesCtr::new(alg, key, &SP800_38A_COUNTER).unwrap().apply(&mut back);
        assert_eq!(back, SP800_38A_PLAINTEXT);
    }
}

#[test]
fn ciphers_refuse_wrong_key_sizes_and_wrong_algorithms() {
    assert!(AesCtr::new(CipherAlg::Aes128Ctr, &[0; 24], &[0; 16]).is_none());
    assert!(AesCtr::new(CipherAlg::Aes256Ctr, &[0; 32], &[0; 12]).is_none());
    assert!(AesCtr::new(CipherAlg::Aes128Gcm, &[0; 16], &[0; 16]).is_none());
    assert!(Gcm::new(CipherAlg::Aes128Gcm, &[0; 32], &[0; 12]).is_none());
    assert!(Gcm::new(CipherAlg::Aes256Gcm, &[0; 32], &[0; 16]).is_none());
    assert!(Gcm::new(CipherAlg::Aes128Ctr, &[0; 16], &[0; 12]).is_none());
    assert!(ChaChaPoly::new(&[0; 63]).is_none());
    assert!(ChaChaPoly::new(&[0; 64]).is_some());
}

// ---- AES-GCM (McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 and 16) -----------

const GCM_P: [u8; 60] = hex!(
    "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
     1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39"
);
const GCM_A: [u8; 20] = hex!("feedfacedeadbeeffeedfacedeadbeef abaddad2");
const GCM_IV: [u8; 12] = hex!("cafebabefacedbaddecaf888");

/// (algorithm, key, ciphertext, tag)
type GcmCase = (CipherAlg, Vec<u8>, [u8; 60], [u8; 16]);

fn gcm_cases() -> [GcmCase; 2] {
    [
        (
            CipherAlg::Aes128Gcm,
            hex!("feffe9928665731c6d6a8f9467308308").to_vec(),
            hex!("42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e 21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091"),
            hex!("5bc94fbc3221a5db94fae95ae7121a47"),
        ),
        (
            CipherAlg::Aes256Gcm,
            hex!("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308").to_vec(),
            hex!("522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa 8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662"),
            hex!("76fc6ece0f4e1768cddf8853bb2d551b"),
        ),
    ]
}

#[test]
fn aes_gcm_seal_and_open_match_mcgrew_viega_test_cases_4_and_16() {
    for (alg, key, ciphertext, tag) in gcm_cases() {
        let mut body = GCM_P;
        let got = Gcm::new(alg, &key, &GCM_IV).unwrap().seal(&GCM_A, &mut body);
        assert_eq!(body, ciphertext, "{alg:?}");
        assert_eq!(got, tag, "{alg:?}");

        let mut body = ciphertext;
        Gcm::new(alg, &key, &GCM_IV).unwrap().open(&GCM_A, &mut body, &tag).unwrap();
        assert_eq!(body, GCM_P);

        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        let mut body = ciphertext;
        assert_eq!(Gcm::new(alg, &key, &GCM_IV).unwrap().open(&GCM_A, &mut body, &bad_tag), Err(BadTag));
        let mut bad_aad = GCM_A;
        bad_aad[19] ^= 1;
        let mut body = ciphertext;
        assert_eq!(Gcm::new(alg, &key, &GCM_IV).unwrap().open(&bad_aad, &mut body, &tag), Err(BadTag));
        let mut body = ciphertext;
        body[59] ^= 1;
        assert_eq!(Gcm::new(alg, &key, &GCM_IV).unwrap().open(&GCM_A, &mut body, &tag), Err(BadTag));
        let mut body = ciphertext;
        assert_eq!(Gcm::new(alg, &key, &GCM_IV).unwrap().open(&GCM_A, &mut body, &tag[..15]), Err(BadTag));
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
    let key = hex!("feffe9928665731c6d6a8f9467308308");
    let ivs: [([u8; 12], [[u8; 12]; 3]); 2] = [
        (GCM_IV, [GCM_IV, hex!("cafebabefacedbaddecaf889"), hex!("cafebabefacedbaddecaf88a")]),
        (
            hex!("01020304fffffffffffffffe"),
            [hex!("01020304fffffffffffffffe"), hex!("01020304ffffffffffffffff"), hex!("010203040000000000000000")],
        ),
    ];
    for (iv, nonces) in ivs {
        let mut sealer = Gcm::new(CipherAlg::Aes128Gcm, &key, &iv).unwrap();
        let mut opener = Gcm::new(CipherAlg::Aes128Gcm, &key, &iv).unwrap();
        for (n, nonce) in nonces.iter().enumerate() {
            let aad = (60u32 + n as u32).to_be_bytes();
            let mut body = GCM_P;
            let tag = sealer.seal(&aad, &mut body);
            let (want_body, want_tag) = gcm_reference(&key, nonce, &aad, &GCM_P);
            assert_eq!((body.to_vec(), tag), (want_body, want_tag), "packet {n} of {iv:02x?}");
            opener.open(&aad, &mut body, &tag).unwrap();
            assert_eq!(body, GCM_P);
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

/// The vectors of draft-strombergson-chacha-test-vectors (ChaCha20, 8-byte nonce) and RFC 7539 A.1 #2
/// and §2.4.2, whose 96-bit nonces start with a zero word and so map onto the 64-bit-nonce layout:
/// nonce word 0 is the high half of the 64-bit block counter, and the other two words are the nonce.
#[test]
fn chacha20_legacy_keystream_matches_published_vectors() {
    let zero = [0u8; 32];
    let mut key1 = [0u8; 32];
    key1[31] = 1;
    let seq_key: [u8; 32] = core::array::from_fn(|i| i as u8);
    // (key, nonce, keystream offset in bytes, keystream)
    type Case<'a> = (&'a [u8; 32], [u8; 8], u64, Vec<u8>);
    let cases: [Case; 6] = [
        (&zero, [0; 8], 0, hex!("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586").to_vec()),
        (&zero, [0; 8], 64, hex!("9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f").to_vec()),
        (&key1, [0; 8], 0, hex!("4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41bbe2a0b6ea7566d2a5d1e7e20d42af2c53d792b1c43fea817e9ad275ae546963").to_vec()),
        (&zero, hex!("0000000000000001"), 0, hex!("de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e31afab757").to_vec()),
        (&zero, hex!("0100000000000000"), 0, hex!("ef3fdfd6c61578fbf5cf35bd3dd33b8009631634d21e42ac33960bd138e50d32111e4caf237ee53ca8ad6426194a88545ddc497a0b466e7d6bbdb0041b2f586b").to_vec()),
        (
            &seq_key,
            hex!("0001020304050607"),
            0,
            hex!(
                "f798a189f195e66982105ffb640bb7757f579da31602fc93ec01ac56f85ac3c134a4547b733b46413042c9440049176905d3be59ea1c53f15916155c2be8241a
                 38008b9a26bc35941e2444177c8ade6689de95264986d95889fb60e84629c9bd9a5acb1cc118be563eb9b3a4a472f82e09a7e778492b562ef7130e88dfe031c7
                 9db9d4f7c7a899151b9a475032b63fc385245fe054e3dd5a97a5f576fe064025d3ce042c566ab2c507b138db853e3d6959660996546cc9c4a6eafdc777c040d7
                 0eaf46f76dad3979e5c5360c3317166a1c894c94a371876a94df7628fe4eaaf2ccb27d5aaae0ad7ad0f9d4b6ad3b54098746d4524d38407a6deb3ab78fab78c9"
            )
            .to_vec(),
        ),
    ];
    for (i, (key, nonce, offset, expected)) in cases.iter().enumerate() {
        assert_eq!(legacy_keystream(key, nonce, *offset, expected.len()), *expected, "vector {i}");
    }

    // RFC 7539 §2.4.2: key 00..1f, nonce 000000000000004a00000000, initial counter 1.
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let mut c = ChaCha20Legacy::new(chacha20::Key::from_slice(&seq_key), chacha20::LegacyNonce::from_slice(&hex!("0000004a00000000")));
    c.seek(64u64);
    let mut buf = plaintext.to_vec();
    c.apply_keystream(&mut buf);
    assert_eq!(
        buf,
        hex!(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d"
        )
    );
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

#[test]
fn chachapoly_matches_openssh_construction_computed_independently() {
    let keys: [[u8; 64]; 3] = [[0; 64], core::array::from_fn(|i| i as u8), core::array::from_fn(|i| (i as u8).wrapping_mul(97) ^ 0x5c)];
    for key in &keys {
        let cipher = ChaChaPoly::new(key).unwrap();
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

/// With all-zero keys the OpenSSH construction is pinned to the RFC 7539 A.1 keystream: the length is
/// XORed with block 0 of (key 0, nonce 0), the body with block 1, and Poly1305 is keyed by block 0.
#[test]
fn chachapoly_with_zero_key_is_pinned_to_rfc7539_keystream() {
    let block0 = hex!(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    );
    let block1 = hex!(
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"
    );
    let cipher = ChaChaPoly::new(&[0; 64]).unwrap();
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
    assert_eq!(ChaChaPoly::new(&key).unwrap().packet_length(0, hex!("4540f05a")), 0);
    assert_eq!(ChaChaPoly::new(&key).unwrap().packet_length(0, hex!("4540f05b")), 1);
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
        assert_eq!(key.sign(SigAlg::Ed25519, &case.message), want_sig_blob, "test {}", i + 1);

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
    let mut cx = KexContext { transcript: TRANSCRIPT, sig_alg: SigAlg::Ed25519, host_keys: std::slice::from_ref(host), rng };
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
            host_key: SigAlg::Ed25519,
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
