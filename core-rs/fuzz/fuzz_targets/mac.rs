//! The core's own HMAC-SHA-2 (`crypto::hmac`, used by `PacketMac`) against the RustCrypto `hmac` crate:
//! any key (shorter or longer than a block), any sequence number and message, the message fed in two
//! parts cut anywhere, must give the same tag; verification takes that tag and no other.
//!
//! Input: `[MAC][key length][key][u32 sequence number][u16 cut][message]`.

#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::{Sha256, Sha512};
use wasshd_core::crypto::cipher::PacketMac;
use wasshd_core::crypto::hmac::{Hmac as CoreHmac, Sha256State, Sha512State};
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;
use wasshd_core::transport::negotiate::MacAlg;
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let alg = HMAC_SHA2[usize::from(input.u8()) % HMAC_SHA2.len()];
    let key_len = usize::from(input.u8());
    let key = input.take(key_len);
    let seq = input.u32();
    let cut = usize::from(input.u16());
    let message = input.rest();

    let sha512 = matches!(alg, MacAlg::HmacSha512 | MacAlg::HmacSha512Etm);
    let expected = if sha512 { reference::<Hmac<Sha512>>(key, seq, message) } else { reference::<Hmac<Sha256>>(key, seq, message) };
    let mut mac = PacketMac::new(&RUST_CRYPTO, alg, key).expect("an HMAC takes a key of any length");
    assert_eq!(mac.sign(seq, message).as_ref(), &expected[..], "{alg:?} with a {}-byte key", key.len());
    assert!(mac.verify(seq, message, &expected).is_ok());
    let mut wrong = expected.clone();
    wrong[cut % expected.len()] ^= 1 << (cut % 8);
    assert!(mac.verify(seq, message, &wrong).is_err(), "a changed tag verified");
    assert!(mac.verify(seq, message, &expected[..expected.len() - 1]).is_err(), "a short tag verified");

    let (head, tail) = message.split_at(cut.min(message.len()));
    let parts: [&[u8]; 3] = [&seq.to_be_bytes(), head, tail];
    let mut out = [0u8; 64];
    if sha512 {
        CoreHmac::<Sha512State>::new(key).mac(&parts, &mut out);
    } else {
        CoreHmac::<Sha256State>::new(key).mac(&parts, &mut out[..32]);
    }
    assert_eq!(&out[..expected.len()], &expected[..], "{alg:?} over parts cut at {cut}");
});

/// The MACs this target checks: the HMAC-SHA-2 ones, whose reference is the `hmac` crate.
const HMAC_SHA2: [MacAlg; 4] = [MacAlg::HmacSha256, MacAlg::HmacSha256Etm, MacAlg::HmacSha512, MacAlg::HmacSha512Etm];

fn reference<M: Mac + hmac::digest::KeyInit>(key: &[u8], seq: u32, message: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(&seq.to_be_bytes());
    m.update(message);
    m.finalize().into_bytes().to_vec()
}
