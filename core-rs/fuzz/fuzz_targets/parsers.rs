//! Every public decoder of the core on arbitrary bytes; the first byte picks the decoder. Where the core
//! also has the way back (an encoder, a setting's getter), what decodes must encode to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::auth::{self, MethodRequest};
use wasshd_core::config::Config;
use wasshd_core::connection::{decode_channel_open, decode_channel_request, encode_channel_request};
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::{HostKey, KeyAlg, SigAlg};
use wasshd_core::msg;
use wasshd_core::transport::ident::{parse_client_version, parse_server_version, MAX_LINE};
use wasshd_core::transport::kex::{exchange, KexContext, Transcript};
use wasshd_core::transport::negotiate::{encode_kexinit, negotiate, KexAlg, KexInit, Preferences, STRICT_KEX_S};
use wasshd_core::transport::Role;
use wasshd_core::wire::{list_contains, Reader, Writer};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    match which % 10 {
        0 => kexinit(bytes),
        1 => ident(bytes),
        2 => userauth_request(bytes),
        3 => {
            let Some((&expected, rest)) = bytes.split_first() else { return };
            if let Ok(responses) = auth::decode_info_response(rest, usize::from(expected)) {
                assert_eq!(responses.len(), usize::from(expected));
                assert!(responses.iter().all(|r| r.len() <= auth::MAX_SECRET_LEN));
            }
        }
        4 => channel_request(bytes),
        5 => channel_open(bytes),
        6 => reader(bytes),
        7 => mpint(bytes),
        8 => kex_ecdh_init(bytes),
        _ => setting(bytes),
    }
});

fn kexinit(bytes: &[u8]) {
    let Ok(peer) = KexInit::decode(bytes) else { return };
    peer.offers(STRICT_KEX_S);
    let ours = encode_kexinit(&Preferences::default(), &SigAlg::ALL.iter().map(|&a| KeyAlg::Plain(a)).collect::<Vec<_>>(), [0; 16], &[STRICT_KEX_S]);
    let ours = KexInit::decode(&ours).expect("our own KEXINIT decodes");
    // The fuzzed KEXINIT as the client's, and as the server's: each choice is on both sides' lists.
    for (client, server) in [(&peer, &ours), (&ours, &peer)] {
        let Ok(n) = negotiate(client, server) else { continue };
        client.guess_was_right(&n);
        for (lists, name) in [
            ([&client.kex, &server.kex], n.kex.name()),
            ([&client.host_key, &server.host_key], n.host_key.name()),
            ([&client.cipher_c2s, &server.cipher_c2s], n.cipher_c2s.name()),
            ([&client.cipher_s2c, &server.cipher_s2c], n.cipher_s2c.name()),
            ([&client.compression_c2s, &server.compression_c2s], n.compression_c2s.name()),
            ([&client.compression_s2c, &server.compression_s2c], n.compression_s2c.name()),
        ] {
            for list in lists {
                assert!(list_contains(list, name), "chose {name}, which is not in {list:?}");
            }
        }
        assert_eq!(n.mac_c2s.is_none(), n.cipher_c2s.is_aead());
        assert_eq!(n.mac_s2c.is_none(), n.cipher_s2c.is_aead());
    }
}

fn ident(bytes: &[u8]) {
    let server_read = parse_server_version(bytes);
    let Ok(Some((version, used))) = parse_client_version(bytes) else { return };
    // A version first is read alike by both ends.
    assert_eq!(server_read.ok().flatten(), Some((version.clone(), used)));
    assert!(used <= bytes.len() && bytes[..used].ends_with(b"\n"));
    assert!(version.starts_with("SSH-2.0-") || version.starts_with("SSH-1.99-"));
    assert!(version.len() < MAX_LINE && !version.bytes().any(|b| b.is_ascii_control()));
    // Arriving a byte at a time must not change the answer: no prefix may be an error.
    for cut in [used - 1, used / 2] {
        assert!(matches!(parse_client_version(&bytes[..cut]), Ok(None)), "prefix of {cut} bytes is not just incomplete");
    }
}

fn userauth_request(bytes: &[u8]) {
    let Ok(request) = auth::decode_request(bytes) else { return };
    assert!(request.user.len() <= auth::MAX_USER_LEN && !request.user.chars().any(char::is_control));
    match request.method {
        MethodRequest::Password { password, .. } => assert!(password.len() <= auth::MAX_SECRET_LEN),
        MethodRequest::PublicKey { algorithm, blob, .. } => {
            if let Some(key) = SigAlg::from_name(algorithm).and_then(|alg| auth::parse_offered_key(alg, blob)) {
                assert_eq!(key.blob(), blob);
            }
            auth::signed_data(b"session", request.user, request.service, algorithm, blob);
        }
        MethodRequest::None | MethodRequest::KeyboardInteractive { .. } | MethodRequest::Other(_) => {}
    }
}

fn channel_request(bytes: &[u8]) {
    let Ok((channel, request, want_reply)) = decode_channel_request(bytes) else { return };
    let again = encode_channel_request(channel, request.name(), want_reply, &{
        let mut fields = Writer::new();
        request.encode_fields(&mut fields);
        fields.into_vec()
    });
    // The boolean is the one field with several encodings of one value.
    let bool_at = 1 + 4 + 4 + request.name().len();
    if bytes.get(bool_at).is_some_and(|&b| b <= 1) {
        assert_eq!(again[1..], bytes[1..], "{request:?} does not encode back to what it was decoded from");
    }
}

fn channel_open(bytes: &[u8]) {
    let Ok(open) = decode_channel_open(bytes) else { return };
    let mut w = Writer::message(msg::CHANNEL_OPEN);
    w.string(open.kind.as_bytes()).u32(open.sender).u32(open.window).u32(open.max_packet).raw(open.data);
    assert_eq!(w.as_slice()[1..], bytes[1..]);
}

/// The first bytes are reader calls, the rest what they read: every value read must write back as the
/// bytes it was read from.
fn reader(bytes: &[u8]) {
    let (ops, body) = bytes.split_at(bytes.len().min(16));
    let mut r = Reader::new(body);
    for &op in ops {
        let before = r.clone().rest();
        let mut w = Writer::new();
        let read = match op % 10 {
            0 => r.u8().map(|v| {
                w.u8(v);
            }),
            // Any non-zero byte is TRUE: write back the byte that was there.
            1 => r.bool().map(|v| {
                w.u8(if v { before[0] } else { 0 });
            }),
            2 => r.u32().map(|v| {
                w.u32(v);
            }),
            3 => r.u64().map(|v| {
                w.u64(v);
            }),
            4 => r.string().map(|v| {
                w.string(v);
            }),
            5 => r.utf8().map(|v| {
                w.string(v.as_bytes());
            }),
            6 => r.name_list().map(|v| {
                w.name_list(&v.split(',').collect::<Vec<_>>());
            }),
            7 => r.take(usize::from(op >> 4)).map(|v| {
                w.raw(v);
            }),
            8 => r.array::<3>().map(|v| {
                w.raw(&v);
            }),
            _ => r.finish().map(|()| assert!(before.is_empty())),
        };
        if read.is_ok() {
            let used = before.len() - r.remaining();
            assert_eq!(w.as_slice(), &before[..used], "reader call {} does not write back as read", op % 10);
        }
    }
}

/// An mpint is a positive, minimal encoding of the magnitude it was given.
fn mpint(magnitude: &[u8]) {
    let mut w = Writer::new();
    w.mpint(magnitude);
    let mut r = Reader::new(w.as_slice());
    let digits = r.string().expect("an mpint is a string");
    assert!(r.finish().is_ok());
    match digits {
        [] => assert!(magnitude.iter().all(|&b| b == 0)),
        [0] => panic!("zero written as a zero byte"),
        [0, second, ..] => assert!(second & 0x80 != 0, "needless leading zero"),
        [first, ..] => assert!(first & 0x80 == 0, "negative"),
    }
    let significant = |v: &[u8]| v.iter().copied().skip_while(|&b| b == 0).collect::<Vec<_>>();
    assert_eq!(significant(digits), significant(magnitude));
}

fn kex_ecdh_init(bytes: &[u8]) {
    let host = [HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32]))];
    let transcript =
        Transcript { client_version: b"SSH-2.0-c", server_version: b"SSH-2.0-s", client_kexinit: b"ic", server_kexinit: b"is" };
    let mut rng = EntropyPool::new(b"fuzz");
    let mut cx = KexContext { transcript, sig_alg: SigAlg::Ed25519, host_certificate: None, host_keys: &host, rng: &mut rng };
    let Ok(step) = exchange(KexAlg::Curve25519Sha256, Role::Server).step(bytes, &mut cx) else { return };
    let (Some(reply), Some(done)) = (step.send, step.done) else { panic!("curve25519 ends with the server's reply") };
    let host = &host[0];
    let mut r = Reader::new(&reply);
    assert_eq!(r.u8(), Ok(msg::KEX_ECDH_REPLY));
    assert_eq!(r.string().ok(), Some(&host.public().blob()[..]));
    assert_eq!(r.string().map(<[u8]>::len), Ok(32));
    let signature = r.string().expect("a signature");
    assert!(r.finish().is_ok() && host.public().verify(SigAlg::Ed25519, &done.exchange_hash, signature));
}

/// `NAME=VALUE`: a setting the core takes must read back in a form it takes again, unchanged.
fn setting(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let (name, value) = text.split_once('=').unwrap_or((&text, ""));
    let mut config = Config::default();
    if config.set(name, value) != Ok(true) {
        return;
    }
    let read = config.get(name).expect("a setting the core took has a value");
    assert_eq!(config.set(name, &read), Ok(true), "{name}: its own value {read:?} is refused");
    assert_eq!(config.get(name).as_deref(), Some(read.as_str()), "{name}: value changed on the second set");
}
