//! Hostile input: every decoder fed every prefix of valid messages, mutated messages (length fields set
//! to 0xFFFFFFFF and friends, flipped bytes, appended junk) and seeded random bytes must answer with `Ok`
//! or `Err`, never a panic; and a live server fed thousands of correctly sealed hostile payloads after a
//! real handshake either carries on or ends the connection with a valid RFC 4253 reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use base64ct::{Base64, Encoding};
use common::*;
use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use wasshd_core::auth::{decode_info_response, decode_request, MethodRequest};
use wasshd_core::connection::{decode_channel_open, decode_channel_request};
use wasshd_core::crypto::cipher::{cipher_iv_len, cipher_key_len, mac_key_len};
use wasshd_core::keys::{HostKey, KeyError, PublicKey};
use wasshd_core::keys::{KeyAlg, SigAlg};
use wasshd_core::msg::{self, DisconnectReason};
use wasshd_core::transport::ident::parse_client_version;
use wasshd_core::transport::negotiate::{encode_kexinit, CipherAlg, KexInit, MacAlg, Preferences};
use wasshd_core::transport::packet::{DirectionKeys, Opener, RxBuf, Sealer, MAX_PACKET_LEN};
use wasshd_core::wire::{Reader, WireError, Writer};
use wasshd_core::{AuthMethod, AuthReply, Event, Server};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn random_bytes(rng: &mut ChaCha20Rng, max: usize) -> Vec<u8> {
    let n = (rng.next_u32() as usize) % (max + 1);
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// Damaged copies of `sample`: each 4-byte window overwritten with hostile lengths, cut short, bytes
/// flipped, junk appended, and random bytes behind the right message number.
fn mutations(sample: &[u8], rng: &mut ChaCha20Rng, random: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for at in 0..sample.len().saturating_sub(3) {
        for value in [0xffff_ffffu32, 0x8000_0000, 0x7fff_ffff, 0, sample.len() as u32, (sample.len() - at) as u32] {
            let mut m = sample.to_vec();
            m[at..at + 4].copy_from_slice(&value.to_be_bytes());
            out.push(m);
        }
    }
    for _ in 0..random {
        let mut m = sample.to_vec();
        match rng.next_u32() % 4 {
            0 => {
                for _ in 0..1 + rng.next_u32() % 4 {
                    let i = rng.next_u32() as usize % m.len();
                    m[i] ^= 1 << (rng.next_u32() % 8);
                }
            }
            1 => {
                let i = rng.next_u32() as usize % m.len();
                m[i] = rng.next_u32() as u8;
                m.truncate(1 + rng.next_u32() as usize % m.len());
            }
            2 => m.extend(random_bytes(rng, 40)),
            _ => {
                m.truncate(1);
                m.extend(random_bytes(rng, 300));
            }
        }
        out.push(m);
    }
    out
}

/// Runs `decode` on every strict prefix, expecting `Err`, and on mutations and garbage, expecting no panic.
/// `decode` answers whether the input decoded.
fn hammer(name: &str, samples: &[Vec<u8>], seed: u64, decode: impl Fn(&[u8]) -> bool) -> (usize, usize) {
    let mut rng = rng(seed);
    for (s, sample) in samples.iter().enumerate() {
        assert!(decode(sample), "{name}: sample {s} must decode");
        for cut in 0..sample.len() {
            assert!(!decode(&sample[..cut]), "{name}: sample {s} cut at {cut} decoded");
        }
    }
    let (mut ok, mut err) = (0, 0);
    let mut inputs: Vec<Vec<u8>> = samples.iter().flat_map(|s| mutations(s, &mut rng, 400)).collect();
    inputs.extend((0..2000).map(|_| random_bytes(&mut rng, 200)));
    for input in &inputs {
        match catch_unwind(AssertUnwindSafe(|| decode(input))) {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("{name} panicked on {input:02x?}"),
        }
    }
    assert!(err > 0);
    (ok, err)
}

// ---- wire -------------------------------------------------------------------------------------------

#[test]
fn wire_reader_fails_cleanly_and_never_reads_past_its_input() {
    let mut rng = rng(1);
    for round in 0..5000 {
        let mut buf = random_bytes(&mut rng, 64);
        if round % 3 == 0 && buf.len() >= 4 {
            buf[..4].copy_from_slice(&[0xff; 4]);
        }
        let mut r = Reader::new(&buf);
        for _ in 0..12 {
            let before = r.remaining();
            let op = rng.next_u32() % 9;
            let consumed = match op {
                0 => r.u8().map(|_| 1),
                1 => r.bool().map(|_| 1),
                2 => r.u32().map(|_| 4),
                3 => r.u64().map(|_| 8),
                4 => r.string().map(|s| 4 + s.len()),
                5 => r.utf8().map(|s| 4 + s.len()),
                6 => r.name_list().map(|s| 4 + s.len()),
                7 => {
                    let n = rng.next_u32() as usize % 80;
                    r.take(n).map(|s| s.len())
                }
                _ => r.array::<16>().map(|_| 16),
            };
            match consumed {
                Ok(n) => assert_eq!(before - r.remaining(), n, "op {op}"),
                Err(e) => {
                    // Fixed-size reads and takes leave the cursor alone; strings may have read their length.
                    if matches!(op, 0 | 1 | 2 | 3 | 7 | 8) {
                        assert_eq!((e, r.remaining()), (WireError::Truncated, before), "op {op}");
                    }
                    assert!(before - r.remaining() <= 4);
                }
            }
        }
        assert_eq!(r.finish().is_ok(), r.remaining() == 0);
    }
    // A string length of 0xFFFFFFFF is a truncation, not an allocation.
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, b'a']);
    assert_eq!(r.string(), Err(WireError::Truncated));
    // Name-lists are US-ASCII; other strings may be UTF-8 text but not invalid sequences.
    let mut w = Writer::new();
    w.string("é".as_bytes()).string(&[0xc3]).string("é".as_bytes());
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes);
    assert_eq!(r.name_list(), Err(WireError::NotUtf8));
    assert_eq!(r.utf8(), Err(WireError::NotUtf8));
    assert_eq!(r.utf8(), Ok("é"));
}

// ---- transport --------------------------------------------------------------------------------------

fn client_kexinit(kex: &str, follows: bool) -> Vec<u8> {
    let mut w = Writer::message(msg::KEXINIT);
    w.raw(&[7; 16]);
    for list in [kex, "ssh-ed25519", "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""] {
        w.string(list.as_bytes());
    }
    w.bool(follows).u32(0);
    w.into_vec()
}

#[test]
fn kexinit_decoder_rejects_every_truncation_and_survives_garbage() {
    let samples = vec![
        encode_kexinit(&Preferences::default(), &[KeyAlg::Plain(SigAlg::Ed25519)], [1; 16], &["kex-strict-s-v00@openssh.com"]),
        client_kexinit("curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com", false),
        client_kexinit("sntrup761x25519-sha512@openssh.com", true),
    ];
    let decoded = KexInit::decode(&samples[2]).unwrap();
    assert!(decoded.first_kex_packet_follows);
    assert_eq!(decoded.cipher_s2c, "aes128-ctr");
    let (ok, _) = hammer("KexInit::decode", &samples, 2, |b| KexInit::decode(b).is_ok());
    assert!(ok > 0, "some mutations (e.g. flipped cookie bytes) are still valid KEXINITs");
    // A name-list with a non-ASCII byte is refused.
    let mut bad = samples[1].clone();
    bad[17 + 4] = 0xc3;
    assert!(KexInit::decode(&bad).is_err());
}

#[test]
fn client_version_parser_survives_garbage_and_waits_on_every_prefix() {
    let stream = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n\x00\x00\x01\x0c";
    let version_end = stream.len() - 4;
    for cut in 0..version_end {
        assert_eq!(parse_client_version(&stream[..cut]).unwrap(), None, "cut at {cut}");
    }
    let (version, used) = parse_client_version(stream).unwrap().unwrap();
    assert_eq!((version.as_str(), used), ("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3", version_end));

    let mut rng = rng(3);
    for i in 0..20_000 {
        let mut buf = random_bytes(&mut rng, 400);
        if i % 4 == 0 {
            buf.splice(0..0, b"SSH-2.0-".iter().copied());
        }
        let result = catch_unwind(AssertUnwindSafe(|| parse_client_version(&buf)));
        match result {
            Err(_) => panic!("parse_client_version panicked on {buf:02x?}"),
            Ok(Ok(Some((v, used)))) => {
                assert!(used <= buf.len() && v.starts_with("SSH-") && !v.bytes().any(|b| b.is_ascii_control()));
            }
            Ok(Ok(None)) => assert!(buf.len() <= 255, "a long stream never waits forever"),
            Ok(Err(e)) => assert!(matches!(e.reason, DisconnectReason::ProtocolError | DisconnectReason::ProtocolVersionNotSupported)),
        }
    }
    // Limits: one line of 255 bytes with CR LF is the most the RFC allows; no line may come before the version.
    let mut long = b"SSH-2.0-".to_vec();
    long.resize(253, b'a');
    long.extend_from_slice(b"\r\n");
    assert!(parse_client_version(&long).unwrap().is_some());
    long.insert(8, b'a');
    assert!(parse_client_version(&long).is_err());
    assert!(parse_client_version(&[b'S'; 256]).is_err());
    assert!(parse_client_version(b"x\r\nSSH-2.0-x\r\n").is_err());
    assert_eq!(parse_client_version(b"SSH-2.0-a\x01b\r\n").unwrap_err().reason, DisconnectReason::ProtocolError);
    assert_eq!(parse_client_version(b"SSH-2.0-\xff\r\n").unwrap_err().reason, DisconnectReason::ProtocolError);
}

// ---- user authentication ------------------------------------------------------------------------------

fn userauth(method: &str, rest: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"alice").string(b"ssh-connection").string(method.as_bytes());
    rest(&mut w);
    w.into_vec()
}

fn user_blob() -> Vec<u8> {
    PublicKey::Ed25519(SigningKey::from_bytes(&USER_SEED).verifying_key()).blob()
}

#[test]
fn userauth_request_decoder_rejects_every_truncation_and_survives_garbage() {
    let blob = user_blob();
    let samples = vec![
        userauth("none", |_| {}),
        userauth("password", |w| {
            w.bool(false).string(b"secret");
        }),
        userauth("password", |w| {
            w.bool(true).string(b"old").string(b"new");
        }),
        userauth("publickey", |w| {
            w.bool(false).string(b"ssh-ed25519").string(&blob);
        }),
        userauth("publickey", |w| {
            w.bool(true).string(b"ssh-ed25519").string(&blob).string(&[0x55; 83]);
        }),
        userauth("keyboard-interactive", |w| {
            w.string(b"").string(b"pam,skey");
        }),
        userauth("hostbased", |_| {}),
    ];
    assert!(matches!(decode_request(&samples[4]).unwrap().method, MethodRequest::PublicKey { signature: Some(s), .. } if s.len() == 83));
    assert!(matches!(decode_request(&samples[6]).unwrap().method, MethodRequest::Other("hostbased")));
    hammer("auth::decode_request", &samples, 4, |b| decode_request(b).is_ok());

    let long_user = {
        let mut w = Writer::message(msg::USERAUTH_REQUEST);
        w.string(&[b'u'; 257]).string(b"ssh-connection").string(b"none");
        w.into_vec()
    };
    assert_eq!(decode_request(&long_user).err().unwrap().reason, DisconnectReason::IllegalUserName);
    let long_password = userauth("password", |w| {
        w.bool(false).string(&[b'p'; 1025]);
    });
    assert_eq!(decode_request(&long_password).err().unwrap().reason, DisconnectReason::ProtocolError);
}

#[test]
fn info_response_decoder_rejects_truncation_wrong_counts_and_garbage() {
    let mut samples = Vec::new();
    for n in 0..4u32 {
        let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
        w.u32(n);
        for i in 0..n {
            w.string(format!("answer {i}").as_bytes());
        }
        samples.push(w.into_vec());
    }
    for (n, sample) in samples.iter().enumerate() {
        assert_eq!(decode_info_response(sample, n).unwrap().len(), n);
        assert!(decode_info_response(sample, n + 1).is_err());
        let mut extra = sample.clone();
        extra.push(0);
        assert!(decode_info_response(&extra, n).is_err(), "trailing bytes");
    }
    for expected in [0usize, 1, 3, 16, u32::MAX as usize] {
        let per_count: Vec<Vec<u8>> =
            samples.iter().filter(|s| u32::from_be_bytes(s[1..5].try_into().unwrap()) as usize == expected).cloned().collect();
        hammer("auth::decode_info_response", &per_count, 5 + expected as u64, |b| decode_info_response(b, expected).is_ok());
    }
    let mut huge = Writer::message(msg::USERAUTH_INFO_RESPONSE);
    huge.u32(u32::MAX).string(b"a");
    assert!(decode_info_response(huge.as_slice(), u32::MAX as usize).is_err());
}

// ---- connection layer ---------------------------------------------------------------------------------

fn channel_request(name: &str, rest: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_REQUEST);
    w.u32(2).string(name.as_bytes()).bool(true);
    rest(&mut w);
    w.into_vec()
}

#[test]
fn channel_request_decoder_rejects_every_truncation_and_survives_garbage() {
    let typed = vec![
        channel_request("pty-req", |w| {
            w.string(b"xterm-256color").u32(80).u32(24).u32(640).u32(480).string(&[1, 0, 0, 0, 3, 0]);
        }),
        channel_request("env", |w| {
            w.string(b"LANG").string(b"C.UTF-8");
        }),
        channel_request("shell", |_| {}),
        channel_request("exec", |w| {
            w.string(b"ls -l");
        }),
        channel_request("subsystem", |w| {
            w.string(b"sftp");
        }),
        channel_request("window-change", |w| {
            w.u32(100).u32(40).u32(0).u32(0);
        }),
        channel_request("signal", |w| {
            w.string(b"INT");
        }),
    ];
    for sample in &typed {
        let mut extra = sample.clone();
        extra.push(1);
        assert!(decode_channel_request(&extra).is_err(), "typed requests reject trailing bytes");
    }
    hammer("connection::decode_channel_request", &typed, 6, |b| decode_channel_request(b).is_ok());

    // Unknown requests keep their data undecoded, so only cuts inside the header are errors.
    let other = channel_request("x11-req", |w| {
        w.bool(false).string(b"MIT-MAGIC-COOKIE-1").string(b"00ff").u32(0);
    });
    let header = 1 + 4 + 4 + "x11-req".len() + 1;
    for cut in 0..other.len() {
        assert_eq!(decode_channel_request(&other[..cut]).is_ok(), cut >= header, "cut at {cut}");
    }
    let mut rng = rng(7);
    for m in mutations(&other, &mut rng, 2000) {
        if catch_unwind(|| decode_channel_request(&m).is_ok()).is_err() {
            panic!("decode_channel_request panicked on {m:02x?}");
        }
    }
}

#[test]
fn channel_open_decoder_rejects_every_truncation_and_survives_garbage() {
    let samples = vec![channel_open("session", 1, 2 << 20, 32768)];
    let open = decode_channel_open(&samples[0]).unwrap();
    assert_eq!((open.kind, open.sender, open.window, open.max_packet, open.data), ("session", 1, 2 << 20, 32768, &[][..]));
    hammer("connection::decode_channel_open", &samples, 8, |b| decode_channel_open(b).is_ok());
    let mut w = Writer::message(msg::CHANNEL_OPEN);
    w.string(b"direct-tcpip").u32(4).u32(0).u32(0).string(b"localhost").u32(22).string(b"10.0.0.1").u32(5555);
    let bytes = w.into_vec();
    let mut rng = rng(9);
    for m in mutations(&bytes, &mut rng, 2000) {
        if catch_unwind(|| decode_channel_open(&m).is_ok()).is_err() {
            panic!("decode_channel_open panicked on {m:02x?}");
        }
    }
}

// ---- keys -------------------------------------------------------------------------------------------

#[test]
fn public_key_blob_decoder_rejects_every_truncation_and_survives_garbage() {
    let samples = vec![user_blob(), host_key().public().blob()];
    hammer("PublicKey::from_blob", &samples, 10, |b| PublicKey::from_blob(b).is_ok());
    // Random 32-byte strings in a well-formed frame: points or not, never a panic.
    let mut rng = rng(11);
    let (mut points, mut not_points) = (0, 0);
    for _ in 0..3000 {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let mut blob = ssh_string(b"ssh-ed25519");
        blob.extend(ssh_string(&key));
        match PublicKey::from_blob(&blob) {
            Ok(_) => points += 1,
            Err(KeyError::Malformed(_)) => not_points += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(points > 0 && not_points > 0, "{points} {not_points}");
    // A 1024-bit modulus parses and is refused; the same frame cut short is damage.
    let mut rsa = ssh_string(b"ssh-rsa");
    rsa.extend(ssh_string(&[1, 0, 1]));
    let mut modulus = vec![0u8; 129];
    modulus[1] = 0xc1;
    modulus[128] = 0x0b;
    assert!(matches!(PublicKey::from_blob(&rsa), Err(KeyError::Malformed(_))));
    rsa.extend(ssh_string(&modulus));
    assert!(matches!(PublicKey::from_blob(&rsa), Err(KeyError::Refused(_))));
    // OpenSSH's experimental XMSS keys: a type this server does not have.
    let mut unknown = ssh_string(b"ssh-xmss@openssh.com");
    unknown.extend(ssh_string(&[1]));
    assert!(matches!(PublicKey::from_blob(&unknown), Err(KeyError::Unsupported(_))));
}

fn armour(raw: &[u8]) -> String {
    let body = Base64::encode_string(raw);
    let lines: Vec<&str> = body.as_bytes().chunks(70).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", lines.join("\n"))
}

fn unarmour(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&body).unwrap()
}

#[test]
fn openssh_private_key_reader_rejects_damage_and_survives_garbage() {
    let text = host_key().to_openssh("comment", 0x1234_5678);
    assert!(HostKey::from_file(&text, None).is_ok());
    let significant = text.trim_end().len();
    for cut in 0..text.len() {
        let result = HostKey::from_file(&text[..cut], None);
        assert_eq!(result.is_ok(), cut >= significant, "cut at {cut}");
    }

    let raw = unarmour(&text);
    assert_eq!(HostKey::from_file(&armour(&raw), None).unwrap().public(), host_key().public());
    let mut rng = rng(12);
    let mut errors = 0;
    for m in mutations(&raw, &mut rng, 3000) {
        match catch_unwind(|| HostKey::from_file(&armour(&m), None).is_ok()) {
            Err(_) => panic!("HostKey::from_openssh panicked on {m:02x?}"),
            Ok(false) => errors += 1,
            Ok(true) => {}
        }
    }
    assert!(errors > 0);
    for _ in 0..2000 {
        let junk = random_bytes(&mut rng, 300);
        assert!(HostKey::from_file(&armour(&junk), None).is_err());
        let text = String::from_utf8_lossy(&junk).into_owned();
        assert!(HostKey::from_file(&text, None).is_err());
    }

    // Specific refusals, built by hand from the file format (OpenSSH PROTOCOL.key).
    let build = |cipher: &[u8], nkeys: u32, check: (u32, u32), public_in_private: &[u8]| {
        let key = SigningKey::from_bytes(&HOST_SEED);
        let public = host_key().public().blob();
        let mut private = Writer::new();
        private.u32(check.0).u32(check.1).string(b"ssh-ed25519").string(public_in_private);
        let mut secret = key.to_bytes().to_vec();
        secret.extend_from_slice(key.verifying_key().as_bytes());
        private.string(&secret).string(b"c");
        for pad in 1..=(8 - private.len() % 8) % 8 {
            private.u8(pad as u8);
        }
        let mut w = Writer::new();
        w.raw(b"openssh-key-v1\0").string(cipher).string(if cipher == b"none" { b"none" } else { b"bcrypt" }).string(b"").u32(nkeys);
        w.string(&public).string(private.as_slice());
        armour(w.as_slice())
    };
    let vk = *SigningKey::from_bytes(&HOST_SEED).verifying_key().as_bytes();
    assert!(HostKey::from_file(&build(b"none", 1, (5, 5), &vk), None).is_ok());
    assert!(HostKey::from_file(&build(b"aes256-ctr", 1, (5, 5), &vk), None).is_err());
    assert!(matches!(HostKey::from_file(&build(b"none", 2, (5, 5), &vk), None), Err(KeyError::Malformed(_))));
    assert!(matches!(HostKey::from_file(&build(b"none", 1, (5, 6), &vk), None), Err(KeyError::Malformed(_))));
    assert!(matches!(HostKey::from_file(&build(b"none", 1, (5, 5), &[7; 32]), None), Err(KeyError::Malformed(_))));
}

// ---- packets ------------------------------------------------------------------------------------------

fn suites() -> Vec<(CipherAlg, Option<MacAlg>)> {
    let mut v = vec![(CipherAlg::Chacha20Poly1305, None), (CipherAlg::Aes128Gcm, None), (CipherAlg::Aes256Gcm, None)];
    for c in [CipherAlg::Aes128Ctr, CipherAlg::Aes192Ctr, CipherAlg::Aes256Ctr] {
        for m in MacAlg::ALL {
            v.push((c, Some(*m)));
        }
    }
    v
}

/// A keyed opener and sealer for one direction, or plain ones for `None`.
fn keyed(suite: Option<(CipherAlg, Option<MacAlg>)>) -> (Sealer, Opener) {
    let (mut s, mut o) = (Sealer::new(), Opener::new());
    if let Some((cipher, mac)) = suite {
        let material: Vec<u8> = (0..64u8).collect();
        let keys = DirectionKeys {
            cipher,
            mac,
            key: &material[..cipher_key_len(cipher)],
            iv: &material[..cipher_iv_len(cipher)],
            mac_key: &material[..mac.map_or(0, mac_key_len)],
            provider: &wasshd_core::crypto::rustcrypto::RUST_CRYPTO,
        };
        s.rekey(&keys).unwrap();
        o.rekey(&keys).unwrap();
    }
    (s, o)
}

fn all_protections() -> Vec<Option<(CipherAlg, Option<MacAlg>)>> {
    std::iter::once(None).chain(suites().into_iter().map(Some)).collect()
}

#[test]
fn opener_waits_on_every_prefix_of_a_valid_packet() {
    let mut rng = rng(13);
    for suite in all_protections() {
        for payload_len in [1usize, 5, 31, 200] {
            let payloads: Vec<Vec<u8>> = (0..2).map(|k| (0..payload_len).map(|i| (i + k) as u8).collect()).collect();
            let (mut sealer, _) = keyed(suite);
            let mut first = Vec::new();
            sealer.seal(&payloads[0], &mut rng, &mut first).unwrap();
            let mut second = Vec::new();
            sealer.seal(&payloads[1], &mut rng, &mut second).unwrap();
            for cut in 0..second.len() {
                // The first packet whole, then a prefix of the second: the opener waits.
                let (_, mut opener) = keyed(suite);
                let mut rx = RxBuf::default();
                rx.extend(&first);
                assert_eq!(client::open_next(&mut opener, &mut rx).unwrap().as_ref(), Some(&payloads[0]));
                rx.extend(&second[..cut]);
                assert!(client::open_next(&mut opener, &mut rx).unwrap().is_none(), "{suite:?} cut {cut}");
                // The rest arrives: the packet opens.
                rx.extend(&second[cut..]);
                assert_eq!(client::open_next(&mut opener, &mut rx).unwrap().as_ref(), Some(&payloads[1]), "{suite:?} cut {cut}");
                assert!(rx.is_empty());
            }
        }
    }
}

#[test]
fn opener_survives_random_bytes_under_every_protection() {
    let mut rng = rng(14);
    for suite in all_protections() {
        let mut results = [0usize; 3];
        for round in 0..600 {
            let (_, mut opener) = keyed(suite);
            let mut rx = RxBuf::default();
            let mut stream = random_bytes(&mut rng, 600);
            if round % 5 == 0 && stream.len() >= 4 {
                let len = [0xffff_ffffu32, MAX_PACKET_LEN + 1, 0, 1, 4, 8, 12, 16][round / 5 % 8];
                stream[..4].copy_from_slice(&len.to_be_bytes());
            }
            let mut at = 0;
            loop {
                let n = (1 + rng.next_u32() as usize % 64).min(stream.len() - at);
                rx.extend(&stream[at..at + n]);
                at += n;
                let outcome = catch_unwind(AssertUnwindSafe(|| client::open_next(&mut opener, &mut rx)));
                match outcome {
                    Err(_) => panic!("Opener::open panicked under {suite:?} on {stream:02x?}"),
                    Ok(Err(e)) => {
                        assert!(matches!(e.reason, DisconnectReason::ProtocolError | DisconnectReason::MacError), "{e:?}");
                        if suite.is_some() {
                            // Under keys, random bytes fail the length check or the MAC, never anything else.
                            assert!(e.reason == DisconnectReason::MacError || e.description.contains("length"), "{e:?}");
                        }
                        results[0] += 1;
                        break;
                    }
                    Ok(Ok(Some(_))) => {
                        assert!(suite.is_none(), "random bytes authenticated under {suite:?}");
                        results[1] += 1;
                    }
                    Ok(Ok(None)) => results[2] += 1,
                }
                if at == stream.len() {
                    break;
                }
            }
        }
        assert!(results[0] > 0, "{suite:?}: {results:?}");
    }
}

#[test]
fn opener_rejects_hostile_lengths_before_buffering_them() {
    for suite in all_protections() {
        for len in [0xffff_ffffu32, 0x8000_0000, MAX_PACKET_LEN + 16, 0, 3] {
            let (_, mut opener) = keyed(suite);
            let mut rx = RxBuf::default();
            let length_in_clear = matches!(
                suite,
                Some((_, Some(MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm))) | Some((CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm, _))
            );
            if suite.is_some() && !length_in_clear {
                continue; // the length is encrypted: covered by the random test
            }
            let mut head = len.to_be_bytes().to_vec();
            head.extend_from_slice(&[0; 12]);
            rx.extend(&head);
            let err = client::open_next(&mut opener, &mut rx).unwrap_err();
            assert_eq!(err.reason, DisconnectReason::ProtocolError, "{suite:?} length {len:#x}");
        }
    }
}

// ---- a live server ------------------------------------------------------------------------------------

/// Valid payloads of every kind a client may send after the key exchange, for mutation.
fn templates(channel: u32) -> Vec<Vec<u8>> {
    let blob = user_blob();
    let mut t = vec![
        {
            let mut w = Writer::message(msg::SERVICE_REQUEST);
            w.string(b"ssh-userauth");
            w.into_vec()
        },
        userauth("none", |_| {}),
        userauth_password("alice", "pw"),
        userauth("publickey", |w| {
            w.bool(false).string(b"ssh-ed25519").string(&blob);
        }),
        userauth("publickey", |w| {
            w.bool(true).string(b"ssh-ed25519").string(&blob).string(&[0x33; 83]);
        }),
        userauth("keyboard-interactive", |w| {
            w.string(b"").string(b"");
        }),
        {
            let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
            w.u32(1).string(b"answer");
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::GLOBAL_REQUEST);
            w.string(b"tcpip-forward").bool(true).string(b"0.0.0.0").u32(8080);
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::GLOBAL_REQUEST);
            w.string(b"no-more-sessions@openssh.com").bool(false);
            w.into_vec()
        },
        channel_open("session", 5, 1 << 20, 32768),
        {
            let mut w = Writer::message(msg::CHANNEL_OPEN);
            w.string(b"direct-tcpip").u32(6).u32(1000).u32(100).string(b"localhost").u32(22).string(b"::1").u32(1);
            w.into_vec()
        },
        channel_data(channel, b"some data"),
        {
            let mut w = Writer::message(msg::CHANNEL_EXTENDED_DATA);
            w.u32(channel).u32(1).string(b"err");
            w.into_vec()
        },
        window_adjust(channel, 4096),
        channel_only(msg::CHANNEL_EOF, channel),
        channel_only(msg::CHANNEL_CLOSE, channel),
        channel_only(msg::CHANNEL_SUCCESS, channel),
        channel_only(msg::CHANNEL_FAILURE, channel),
        {
            let mut w = Writer::message(msg::CHANNEL_OPEN_CONFIRMATION);
            w.u32(channel).u32(9).u32(100).u32(100);
            w.into_vec()
        },
        client_kexinit("curve25519-sha256", false),
        vec![msg::NEWKEYS],
        {
            let mut w = Writer::message(msg::KEX_ECDH_INIT);
            w.string(&[9; 32]);
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::DISCONNECT);
            w.u32(11).string(b"bye").string(b"");
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::IGNORE);
            w.string(b"padding");
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::DEBUG);
            w.bool(true).string(b"msg").string(b"");
            w.into_vec()
        },
        {
            let mut w = Writer::message(msg::UNIMPLEMENTED);
            w.u32(3);
            w.into_vec()
        },
        vec![msg::REQUEST_SUCCESS],
        vec![200, 1, 2, 3],
    ];
    type Fields<'a> = &'a dyn Fn(&mut Writer);
    let requests: [(&str, Fields); 9] = [
        ("pty-req", &|w| {
            w.string(b"xterm").u32(80).u32(24).u32(0).u32(0).string(&[0]);
        }),
        ("env", &|w| {
            w.string(b"A").string(b"B");
        }),
        ("shell", &|_| {}),
        ("exec", &|w| {
            w.string(b"id");
        }),
        ("subsystem", &|w| {
            w.string(b"sftp");
        }),
        ("window-change", &|w| {
            w.u32(1).u32(2).u32(3).u32(4);
        }),
        ("signal", &|w| {
            w.string(b"TERM");
        }),
        ("keepalive@openssh.com", &|_| {}),
        ("x11-req", &|w| {
            w.bool(false).string(b"proto").string(b"cookie").u32(0);
        }),
    ];
    for (name, rest) in requests {
        let mut w = Writer::message(msg::CHANNEL_REQUEST);
        w.u32(channel).string(name.as_bytes()).bool(true);
        rest(&mut w);
        t.push(w.into_vec());
    }
    t
}

fn hostile_payload(rng: &mut ChaCha20Rng, templates: &[Vec<u8>]) -> Vec<u8> {
    if rng.next_u32() % 4 == 0 {
        let types = [
            1u8, 2, 3, 4, 5, 6, 7, 20, 21, 30, 31, 49, 50, 51, 52, 60, 61, 79, 80, 81, 82, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100,
            127, 128, 255,
        ];
        let mut p = vec![types[rng.next_u32() as usize % types.len()]];
        p.extend(random_bytes(rng, 48));
        return p;
    }
    let sample = &templates[rng.next_u32() as usize % templates.len()];
    let mut p = sample.clone();
    for _ in 0..rng.next_u32() % 3 {
        let kind = rng.next_u32() % 5;
        if p.len() < 2 {
            p.push(rng.next_u32() as u8);
            continue;
        }
        let i = 1 + rng.next_u32() as usize % (p.len() - 1);
        match kind {
            0 => p[i] ^= 1 << (rng.next_u32() % 8),
            1 => p.truncate(i),
            2 if i + 4 <= p.len() => {
                let v = [0xffff_ffffu32, 0x7fff_ffff, 0x8000_0000, 0, 1][rng.next_u32() as usize % 5];
                p[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 => p.extend(random_bytes(rng, 16)),
            _ => p[i] = rng.next_u32() as u8,
        }
    }
    p
}

/// Answers whatever the server asks the host, at random, until it asks nothing more. Returns the
/// disconnect reason and whether the client sent it, if the connection ended.
fn settle(p: &mut Pair, rng: &mut ChaCha20Rng) -> Option<(u32, bool)> {
    let mut reason = None;
    for _ in 0..50 {
        let events = p.drain_events();
        if events.is_empty() {
            break;
        }
        for e in events {
            let yes = rng.next_u32() % 2 == 0;
            match e {
                Event::ServiceRequest { .. } => p.server.reply_service(p.id, yes).unwrap(),
                Event::AuthRequest(req) => {
                    let reply = match (req.method, rng.next_u32() % 3) {
                        (AuthMethod::KeyboardInteractive { .. }, 0) => AuthReply::Prompt {
                            name: "n".into(),
                            instruction: "i".into(),
                            prompts: vec![("p".into(), false)],
                            retry: false,
                        },
                        (_, 1) => AuthReply::Accept,
                        _ if yes => AuthReply::PartialSuccess { methods: None },
                        _ => AuthReply::Reject { methods: None },
                    };
                    p.server.reply_auth(p.id, reply).unwrap();
                }
                Event::ChannelOpenRequest { channel, .. } => p.server.reply_channel_open(p.id, channel, yes, 0, "no").unwrap(),
                Event::ChannelRequest { channel, .. } => p.server.reply_channel_request(p.id, channel, yes).unwrap(),
                Event::Disconnected { reason: r, by_peer, .. } => {
                    assert!(reason.is_none(), "two Disconnected events");
                    // A client's DISCONNECT is reported with whatever code it carried.
                    assert!(valid_reason(r) || by_peer, "reason {r}");
                    reason = Some((r, by_peer));
                }
                Event::ChannelData { channel, data, .. } => {
                    let _ = p.server.consume_channel_data(p.id, channel, data.len() as u32);
                }
                _ => {}
            }
        }
    }
    reason
}

/// After a real handshake (and, in later stages, a login and an open session), each connection gets a few
/// correctly sealed hostile payloads. The server must not panic, and each connection must either still
/// answer (an unknown message type gets SSH_MSG_UNIMPLEMENTED) or have ended with a valid reason.
#[test]
fn server_survives_thousands_of_sealed_hostile_payloads_after_a_real_handshake() {
    let mut rng = rng(15);
    let mut server = test_server();
    let (mut alive, mut ended) = (0, 0);
    let mut reasons = std::collections::BTreeMap::new();
    let mut by_client = 0;
    for i in 0..3000u64 {
        let stage = i % 3;
        let suite = match i % 4 {
            0 => ClientOptions::default(),
            1 => ClientOptions::suite("aes128-gcm@openssh.com", "hmac-sha2-256"),
            2 => ClientOptions::suite("aes256-ctr", "hmac-sha2-512"),
            _ => ClientOptions::suite("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
        };
        let mut p = Pair::on(server, suite, 1000 + i);
        p.handshake();
        let mut channel = 0;
        if stage == 1 {
            p.request_service();
        }
        if stage == 2 {
            p.login();
            channel = p.open_session(4, 1 << 20, 32 * 1024).remote;
        }
        let templates = templates(channel);
        let count = 1 + rng.next_u32() % 3;
        let mut sent = Vec::new();
        for _ in 0..count {
            let payload = hostile_payload(&mut rng, &templates);
            p.client.seal_now(&payload);
            sent.push(payload);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut reason = settle(&mut p, &mut rng);
            if reason.is_none() && p.client.disconnect.is_none() {
                // Liveness probe: an unknown message number must be answered.
                let before = p.client.inbox.len();
                p.send(&[222]);
                reason = settle(&mut p, &mut rng);
                if reason.is_none() {
                    let answered = p.client.inbox.iter().skip(before).any(|m| m[0] == msg::UNIMPLEMENTED);
                    assert!(answered, "connection neither answered nor ended; log {:#?}", p.log);
                }
            }
            if let Some((r, false)) = reason {
                if let Some((client_reason, _)) = &p.client.disconnect {
                    assert_eq!(*client_reason, r, "the DISCONNECT on the wire carries the reported reason");
                }
            }
            (reason, p)
        }));
        match outcome {
            Ok((reason, done)) => {
                match reason {
                    Some((_, true)) => by_client += 1,
                    Some((r, false)) => {
                        ended += 1;
                        *reasons.entry(r).or_insert(0) += 1;
                    }
                    None => alive += 1,
                }
                server = done.into_server();
            }
            Err(_) => panic!("iteration {i} (stage {stage}) panicked on payloads {sent:02x?}"),
        }
    }
    eprintln!("hostile payloads: {alive} connections stayed up, {ended} ended by the server (reasons {reasons:?}), {by_client} by a client DISCONNECT");
    assert_eq!(server.connection_count(), 0);
    assert!(alive > 300 && ended > 300, "alive {alive}, ended {ended}");
    assert!(reasons.len() >= 3, "only reasons {reasons:?}");
    // The server still serves a normal session afterwards.
    complete_exec_session(server, 9999);
}

/// Random bytes right after the version line (before and during the key exchange) never panic the server.
#[test]
fn server_survives_random_bytes_before_the_key_exchange() {
    let mut rng = rng(16);
    let mut server = test_server();
    for i in 0..2000u64 {
        let mut bytes = b"SSH-2.0-fuzz\r\n".to_vec();
        if i % 2 == 0 {
            // A valid client KEXINIT first, then junk.
            let mut s = Sealer::new();
            s.seal(&client_kexinit("curve25519-sha256,kex-strict-c-v00@openssh.com", i % 4 == 0), &mut rng, &mut bytes).unwrap();
        }
        bytes.extend(random_bytes(&mut rng, 400));
        let mut p = Pair::with_client(server, Client::silent(ClientOptions::default(), i), 0);
        let id = p.id;
        let result = catch_unwind(AssertUnwindSafe(|| {
            for piece in bytes.chunks(1 + i as usize % 50) {
                p.server.input(id, piece, 0).unwrap();
            }
            settle(&mut p, &mut rng)
        }));
        match result {
            Ok(reason) => {
                if let Some((r, by_peer)) = reason {
                    assert!(valid_reason(r) || by_peer, "reason {r}");
                }
            }
            Err(_) => panic!("iteration {i} panicked on {bytes:02x?}"),
        }
        server = p.into_server();
    }
    complete_exec_session(server, 9998);
}

/// A real session's client byte stream, replayed to identically seeded servers in pieces of every size,
/// gives byte-identical server output and identical events: framing does not depend on how reads split.
#[test]
fn server_output_and_events_do_not_depend_on_how_input_is_split() {
    let mut p = Pair::new(ClientOptions::suite("aes128-ctr", "hmac-sha2-256"));
    p.handshake();
    p.login();
    let ch = p.open_session(1, 1 << 20, 32 * 1024);
    p.exec(&ch, b"cat");
    for piece in pattern(50_000, 1).chunks(7_000) {
        p.send(&channel_data(ch.remote, piece));
    }
    p.send(&channel_only(msg::CHANNEL_EOF, ch.remote));
    p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
    p.pump();
    let stream = p.client_stream.clone();

    let replay = |chunk: &dyn Fn(usize) -> usize| -> (Vec<u8>, Vec<String>) {
        let mut server = test_server();
        let id = server.open(0).unwrap();
        let mut out = server.take_output(id);
        let mut events = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = chunk(at).clamp(1, stream.len() - at);
            server.input(id, &stream[at..at + n], 0).unwrap();
            at += n;
            loop {
                let mut answered = false;
                while let Some((_, e)) = server.poll_event() {
                    if matches!(e, Event::Log { .. }) {
                        continue;
                    }
                    accept_decision(&mut server, id, &e);
                    answered = true;
                    events.push(format!("{e:?}"));
                }
                if !answered {
                    break;
                }
            }
            out.extend(server.take_output(id));
        }
        (out, events)
    };
    let whole = replay(&|_| usize::MAX);
    assert!(whole.1.iter().any(|e| e.starts_with("ChannelClosed")), "the replay ran to the end: {:?}", whole.1);
    assert!(!whole.1.iter().any(|e| e.starts_with("Disconnected")));
    let bytewise = replay(&|_| 1);
    assert_eq!(bytewise.1, whole.1);
    assert_eq!(bytewise.0, whole.0);
    let odd = replay(&|at| 1 + (at * 7919) % 1500);
    assert_eq!(odd.1, whole.1);
    assert_eq!(odd.0, whole.0);
}

#[test]
fn a_second_server_with_the_same_seed_behaves_identically() {
    // The premise of the replay test above: the server's randomness is the seed and nothing else.
    let mut a = Server::new(b"same");
    let mut b = Server::new(b"same");
    assert_eq!(a.generate_host_key("x"), b.generate_host_key("x"));
    let (ia, ib) = (a.open(0).unwrap(), b.open(0).unwrap());
    let first = a.take_output(ia);
    assert!(!first.is_empty());
    assert_eq!(first, b.take_output(ib));
    let mut c = Server::new(b"different");
    c.generate_host_key("x");
    let ic = c.open(0).unwrap();
    assert_ne!(c.take_output(ic), first, "the KEXINIT cookie comes from the seed");
}
