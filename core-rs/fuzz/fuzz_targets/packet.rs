//! The binary packet layer alone: `Opener` and `RxBuf` fed arbitrary bytes, in the clear or under any
//! suite with fuzz-chosen keys. Sealed payloads must come back exactly, whatever the read sizes, and a
//! damaged packet under a MAC must never open as anything other than what was sealed.
//!
//! Input: `[mode][read size][144 bytes of key material unless in the clear][body]`. Mode bits 0-3: 0 is
//! in the clear, n > 0 is suite n - 1 (see `wasshd_fuzz::suites`). Bits 4-5 say what the body is:
//! 0 raw bytes to open; 1 `[u16 length][payload]` items to seal and open; 2 the same after `[count]`
//! `[u16 position][u8 xor]` edits of the sealed bytes; 3 `[MAC off][key length][IV length][MAC key
//! length]` (any lengths, the wrong ones included), then raw bytes to open.
//! Read size 0 delivers everything at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use wasshd_core::transport::packet::{DirectionKeys, Opener, Payload, RxBuf, Sealer, MAX_PACKET_LEN};
use wasshd_fuzz::{suite, Input, KeyMaterial};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let read_size = usize::from(input.u8());
    let (mut sealer, mut opener) = (Sealer::new(), Opener::new());
    let protected = mode & 0x0f != 0;
    let material = KeyMaterial::read(&mut Input::new(if protected { input.take(KeyMaterial::LEN) } else { &[] }));
    let (cipher, mac) = suite((mode & 0x0f).wrapping_sub(1));
    match (mode >> 4) & 3 {
        0..=2 if protected => {
            sealer.rekey(&material.keys(cipher, mac)).expect("keys of the right length are taken");
            opener.rekey(&material.keys(cipher, mac)).expect("keys of the right length are taken");
        }
        3 => {
            let keys = DirectionKeys {
                cipher,
                mac: mac.filter(|_| input.u8() & 1 == 0),
                key: &material.key[..usize::from(input.u8() % 65)],
                iv: &material.iv[..usize::from(input.u8() % 17)],
                mac_key: &material.mac_key[..usize::from(input.u8() % 65)],
                provider: &wasshd_core::crypto::rustcrypto::RUST_CRYPTO,
            };
            if opener.rekey(&keys).is_err() {
                return;
            }
        }
        _ => {}
    }
    match (mode >> 4) & 3 {
        1 => {
            let payloads = payloads(&mut input);
            let wire = seal(&mut sealer, &payloads);
            let (opened, error) = open_all(&mut opener, &wire, read_size);
            assert!(error.is_none(), "a sealed packet did not open: {error:?}");
            assert_eq!(opened, payloads, "round trip changed the payloads");
        }
        2 => {
            let edits: Vec<(u16, u8)> = (0..input.u8() % 8).map(|_| (input.u16(), input.u8())).collect();
            let payloads = payloads(&mut input);
            let mut wire = seal(&mut sealer, &payloads);
            if wire.is_empty() {
                return;
            }
            let len = wire.len();
            for (at, xor) in edits {
                wire[usize::from(at) % len] ^= xor;
            }
            let (opened, _) = open_all(&mut opener, &wire, read_size);
            if protected {
                assert!(opened.len() <= payloads.len(), "more packets opened than were sealed");
                assert_eq!(opened[..], payloads[..opened.len()], "a damaged packet opened as something else");
            }
        }
        _ => {
            open_all(&mut opener, input.rest(), read_size);
        }
    }
});

/// `[u16 length][payload]` items up to the end of the input; empty payloads are not valid packets.
fn payloads(input: &mut Input) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let p = input.chunk();
        if !p.is_empty() {
            out.push(p.to_vec());
        }
    }
    out
}

fn seal(sealer: &mut Sealer, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let mut wire = Vec::new();
    for p in payloads {
        let n = sealer.seal(p, &mut rng, &mut wire).expect("sealing without compression cannot fail");
        assert!(n <= 4 + MAX_PACKET_LEN as usize + 64, "sealed packet of {n} bytes");
    }
    wire
}

/// Feeds `bytes` in reads of `read_size` and opens every packet; stops at the first error.
fn open_all(opener: &mut Opener, bytes: &[u8], read_size: usize) -> (Vec<Vec<u8>>, Option<wasshd_core::Error>) {
    let mut rx = RxBuf::default();
    let mut opened = Vec::new();
    let step = if read_size == 0 { bytes.len() } else { read_size };
    for piece in bytes.chunks(step.max(1)) {
        rx.extend(piece);
        loop {
            match opener.open(&mut rx) {
                Ok(Some(packet)) => {
                    let payload = match packet.payload {
                        Payload::InPlace => opener.lent(&rx).to_vec(),
                        Payload::Inflated(inflated) => inflated.to_vec(),
                    };
                    assert!(!payload.is_empty() && payload.len() <= MAX_PACKET_LEN as usize);
                    opened.push(payload);
                }
                Ok(None) => break,
                Err(e) => return (opened, Some(e)),
            }
        }
    }
    (opened, None)
}
