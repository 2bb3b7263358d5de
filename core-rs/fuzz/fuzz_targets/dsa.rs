//! DSA (`ssh-dss`): public key blobs, signatures and private keys in the canonical form, each after the
//! `ssh-dss` name so that the fuzzer works on the fields. The first byte picks what the rest is: 0 a public
//! key blob's fields (`p, q, g, y`); 1 `[u16 length][data]` and the 40 bytes `r || s` checked against the
//! fixture key `test/fixtures/keys/dsa`; 2 a private key's fields (`p, q, g, y, x`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::{HostKey, PublicKey, SigAlg};
use wasshd_core::wire::Writer;
use wasshd_fuzz::Input;

const FIXTURE: &str = include_str!("../../../test/fixtures/keys/dsa");

/// `string "ssh-dss"` and the fields.
fn named(fields: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(b"ssh-dss").raw(fields);
    w.into_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            let blob = named(bytes);
            let Ok(key) = PublicKey::from_blob(&blob) else { return };
            assert_eq!(key.blob(), blob, "a public key blob has one encoding");
        }
        1 => {
            let mut input = Input::new(bytes);
            let signed = input.chunk();
            let mut signature = Writer::new();
            signature.string(b"ssh-dss").string(input.rest());
            let key = HostKey::from_file(FIXTURE, None).expect("the fixture reads");
            if key.public().verify(SigAlg::Dsa, signed, signature.as_slice()) {
                // A forgery of a key whose secret the fuzzer does not have: only replayed fixture signatures get here.
                let mut other = signed.to_vec();
                other.push(0);
                assert!(!key.public().verify(SigAlg::Dsa, &other, signature.as_slice()), "one signature verified two messages");
            }
        }
        _ => {
            let Ok(key) = HostKey::from_wire(&named(bytes)) else { return };
            let mut rng = EntropyPool::new(b"fuzz dsa");
            let signature = key.sign(SigAlg::Dsa, b"data", &mut rng).expect("a key that reads signs");
            assert!(key.public().verify(SigAlg::Dsa, b"data", &signature), "a key verifies its own signature");
            assert_eq!(HostKey::from_wire(key.to_wire().as_slice()).expect("written back, it reads").public(), key.public());
        }
    }
});
