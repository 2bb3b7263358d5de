//! Key parsing: OpenSSH private key files (`openssh-key-v1`), public key blobs and signature blobs. The
//! first byte picks what the rest is: 0 a key file's text; 1 the binary inside one, armoured here so the
//! fuzzer works on the format rather than on base64; 2 a public key blob; 3 `[u16 length][data]` and a
//! signature blob checked against a fixed key.
//!
//! The core has no `authorized_keys` line parser (hosts match the `to_openssh_line` form themselves).

#![no_main]

use base64ct::{Base64, Encoding};
use libfuzzer_sys::fuzz_target;
use wasshd_core::auth::parse_offered_key;
use wasshd_core::keys::{HostKey, PublicKey, SigAlg};
use wasshd_core::Server;
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    match which % 4 {
        0 => private_key(&String::from_utf8_lossy(bytes)),
        1 => {
            let body = Base64::encode_string(bytes);
            let lines: Vec<&str> = body.as_bytes().chunks(70).map(|l| std::str::from_utf8(l).unwrap_or_default()).collect();
            private_key(&format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", lines.join("\n")));
        }
        2 => {
            let Ok(key) = PublicKey::from_blob(bytes) else { return };
            assert_eq!(key.blob(), bytes, "a public key blob has one encoding");
            assert!(key.to_openssh_line().starts_with(&format!("{} ", key.key_type().name())));
            for alg in SigAlg::ALL.iter().filter(|a| a.key_type() == key.key_type()) {
                assert_eq!(parse_offered_key(*alg, bytes).as_ref(), Some(&key));
            }
        }
        _ => {
            let mut input = Input::new(bytes);
            let signed = input.chunk();
            let signature = input.rest();
            let key = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
            if key.public().verify(SigAlg::Ed25519, signed, signature) {
                assert_eq!(
                    signature,
                    key.sign(SigAlg::Ed25519, signed, &mut wasshd_core::crypto::rng::EntropyPool::new(b"test")).unwrap(),
                    "a signature verified that the key did not make"
                );
            }
        }
    }
});

/// A key file that reads must install as a host key, and write back to one that reads as the same key.
fn private_key(text: &str) {
    let Ok(key) = HostKey::from_file(text, None) else { return };
    let written = key.to_openssh("comment", 0x1234_5678);
    assert_eq!(HostKey::from_file(&written, None).expect("our own key file reads").public(), key.public());
    let mut server = Server::new(b"fuzz");
    assert_eq!(server.add_host_key_openssh(text, None).as_ref(), Ok(&key.public().to_openssh_line()));
}
