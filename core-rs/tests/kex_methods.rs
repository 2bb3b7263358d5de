//! Every key exchange method between our client role and our server role, through bytes only (the initial
//! exchange and a re-exchange, both sides reporting the method), and hostile values from a peer: each a
//! clean disconnect with KEY_EXCHANGE_FAILED, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::client::{ssh_string, ClientOptions};
use common::{accept_decision, test_server, Pair};
use wasshd_core::config::Config;
use wasshd_core::msg;
use wasshd_core::transport::negotiate::KexAlg;
use wasshd_core::wire::Writer;
use wasshd_core::{Client, ClientEvent, Event, Server};

const KEY_EXCHANGE_FAILED: u32 = 3;

/// Our client and our server, each allowed only `alg`.
struct Both {
    server: Server,
    id: u32,
    client: Client,
    server_kex: Vec<String>,
    client_kex: Vec<String>,
    /// The MAC of what each side receives, per exchange.
    server_macs: Vec<String>,
    client_macs: Vec<String>,
}

impl Both {
    fn new(alg: KexAlg) -> Both {
        Both::configured(&[("SSHKeyExchangeAlgorithms", alg.name())])
    }

    /// Both sides with the same `settings`, by the reference's names.
    fn configured(settings: &[(&str, &str)]) -> Both {
        let mut server = test_server();
        let mut config = Config::default();
        for (name, value) in settings {
            server.config_mut().set(name, value).unwrap();
            config.set(name, value).unwrap();
        }
        let id = server.open(0).unwrap();
        let client = Client::new(config, b"kex methods client seed", 0);
        Both { server, id, client, server_kex: Vec::new(), client_kex: Vec::new(), server_macs: Vec::new(), client_macs: Vec::new() }
    }

    fn pump(&mut self) {
        for _ in 0..1000 {
            let up = self.client.take_output();
            self.server.input(self.id, &up, 0).unwrap();
            while self.server.input_pending(self.id) {
                self.server.input(self.id, &[], 0).unwrap();
            }
            let down = self.server.take_output(self.id);
            self.client.input(&down, 0);
            while let Some((_, event)) = self.server.poll_event() {
                match event {
                    Event::KeysExchanged(s) => {
                        self.server_kex.push(s.kex.into());
                        self.server_macs.push(s.mac_in.into());
                    }
                    Event::Disconnected { description, .. } => panic!("server disconnected: {description}"),
                    other => accept_decision(&mut self.server, self.id, &other),
                }
            }
            while let Some(event) = self.client.poll_event() {
                match event {
                    ClientEvent::KeysExchanged(s) => {
                        self.client_kex.push(s.kex.into());
                        self.client_macs.push(s.mac_in.into());
                    }
                    ClientEvent::HostKey { .. } => self.client.accept_host_key(true).unwrap(),
                    ClientEvent::Disconnected { description, .. } => panic!("client disconnected: {description}"),
                    _ => {}
                }
            }
            if up.is_empty() && down.is_empty() {
                return;
            }
        }
        panic!("no end to the traffic");
    }
}

#[test]
fn every_method_between_our_client_and_our_server_exchanges_and_re_exchanges() {
    for &alg in KexAlg::ALL {
        let mut both = Both::new(alg);
        both.pump();
        // A password login (the test server's host accepts any), then a re-exchange by the client.
        both.client.auth_password("alice", "pw").unwrap();
        both.pump();
        assert!(both.client.is_authenticated());
        both.client.rekey().unwrap();
        both.pump();
        let name = alg.name().to_string();
        assert_eq!((both.server_kex.clone(), both.client_kex.clone()), (vec![name.clone(); 2], vec![name; 2]));
        assert!(!both.client.is_closed());
    }
}

/// `hmac-ripemd160` under each of its names, which no client available here speaks (OpenSSH dropped it in
/// 7.6): our client role and our server, each configured for it, log in and re-exchange through bytes only,
/// every packet under the MAC both ways, its known answers checked in tests/kat.rs.
#[test]
fn hmac_ripemd160_under_each_name_between_our_client_and_our_server() {
    for name in ["hmac-ripemd160-etm@openssh.com", "hmac-ripemd160", "hmac-ripemd160@openssh.com"] {
        let mut both = Both::configured(&[("SSHEncryptionAlgorithms", "aes128-ctr"), ("SSHMacAlgorithms", name)]);
        both.pump();
        both.client.auth_password("alice", "pw").unwrap();
        both.pump();
        assert!(both.client.is_authenticated(), "{name}");
        both.client.rekey().unwrap();
        both.pump();
        assert_eq!((both.server_macs.clone(), both.client_macs.clone()), (vec![name.to_string(); 2], vec![name.to_string(); 2]));
    }
}

/// A test client that offers only `alg` (which the server allows) and shows the server's KEXINIT to the
/// test instead of answering.
fn hostile(alg: KexAlg) -> Pair {
    let mut server = test_server();
    server.config_mut().algorithms.kex = vec![alg];
    let mut p = Pair::on(server, ClientOptions { kex: alg.name().into(), ..Default::default() }, 1);
    p.client.passive = true;
    p.pump();
    p.expect_msg(msg::KEXINIT);
    p
}

/// KEX_ECDH_INIT (the hybrids' KEX_HYBRID_INIT, finite-field DH's KEXDH_INIT) carrying `value`.
fn init(value: &[u8]) -> Vec<u8> {
    let mut w = Writer::message(msg::KEX_ECDH_INIT);
    w.raw(&ssh_string(value));
    w.into_vec()
}

#[test]
fn hostile_values_end_the_exchange_with_key_exchange_failed() {
    let mlkem_len = 1184 + 32;
    let sntrup_len = 1158 + 32;
    let cases: Vec<(KexAlg, Vec<u8>, &str)> = vec![
        (KexAlg::Curve25519Sha256, vec![9; 31], "curve25519 public key is not 32 bytes"),
        (KexAlg::Curve25519Sha256, vec![0; 32], "curve25519 shared secret is zero"),
        (KexAlg::Mlkem768x25519Sha256, vec![0; mlkem_len - 1], "the client's hybrid key exchange value is not 1216 bytes"),
        (KexAlg::Mlkem768x25519Sha256, vec![0; mlkem_len + 1], "the client's hybrid key exchange value is not 1216 bytes"),
        // Every 12-bit coefficient 4095: above q.
        (KexAlg::Mlkem768x25519Sha256, vec![0xff; mlkem_len], "invalid ML-KEM-768 value"),
        // A valid (all-zero) ML-KEM key beside a low-order X25519 point.
        (KexAlg::Mlkem768x25519Sha256, vec![0; mlkem_len], "curve25519 shared secret is zero"),
        (KexAlg::Sntrup761x25519Sha512, vec![0; sntrup_len - 1], "the client's hybrid key exchange value is not 1190 bytes"),
        (KexAlg::Sntrup761x25519Sha512Openssh, vec![0; sntrup_len + 32], "the client's hybrid key exchange value is not 1190 bytes"),
        (KexAlg::Sntrup761x25519Sha512, vec![0; sntrup_len], "curve25519 shared secret is zero"),
        (KexAlg::EcdhSha2Nistp256, vec![4; 64], "ECDH public key is not an uncompressed point of the curve's size"),
        // A compressed point, which RFC 5656 §3.1 leaves out of the key exchange.
        (KexAlg::EcdhSha2Nistp256, [&[2][..], &[1; 64]].concat(), "ECDH public key is not an uncompressed point of the curve's size"),
        (KexAlg::EcdhSha2Nistp384, [&[4][..], &[1; 96]].concat(), "ECDH public key is not on the curve"),
        (KexAlg::EcdhSha2Nistp521, [&[4][..], &[0; 132]].concat(), "ECDH public key is not on the curve"),
        (KexAlg::DiffieHellmanGroup14Sha256, vec![], "DH public value is not in 1 < e < p-1"),
        (KexAlg::DiffieHellmanGroup14Sha256, vec![1], "DH public value is not in 1 < e < p-1"),
        // Negative, and longer than p.
        (KexAlg::DiffieHellmanGroup16Sha512, vec![0xff; 512], "DH public value is not in 1 < e < p-1"),
        (KexAlg::DiffieHellmanGroup18Sha512, vec![0x7f; 1025], "DH public value is not in 1 < e < p-1"),
        // p itself (RFC 3526's 1024-bit group starts and ends with 64 one bits), as a minimal mpint.
        (KexAlg::DiffieHellmanGroup1Sha1, [&[0][..], &[0xff; 128]].concat(), "DH public value is not in 1 < e < p-1"),
        (KexAlg::DiffieHellmanGroup14Sha1, vec![0, 2], "DH public value is not a minimal mpint"),
    ];
    for (alg, value, why) in cases {
        let mut p = hostile(alg);
        p.client.seal_now(&init(&value));
        p.pump();
        let (description, _) = p.expect_disconnect(KEY_EXCHANGE_FAILED);
        assert_eq!(description, why, "{}", alg.name());
    }
}

/// What ssh-audit fails (the NIST curves; SHA-1 and 1024-bit groups) is off until configured: a client that
/// offers only such a method meets a default server with no method in common.
#[test]
fn methods_off_by_default_find_no_match_with_a_default_server() {
    let off: Vec<KexAlg> = KexAlg::ALL.iter().copied().filter(|a| !KexAlg::DEFAULT.contains(a)).collect();
    assert!(off.contains(&KexAlg::EcdhSha2Nistp256));
    for alg in off {
        let mut p = Pair::new(ClientOptions { kex: alg.name().into(), ..Default::default() });
        p.client.passive = true; // keeps the server's KEXINIT, which the test client would fail on too
        p.pump();
        let (description, _) = p.expect_disconnect(KEY_EXCHANGE_FAILED);
        assert_eq!(description, "no matching key exchange algorithm", "{}", alg.name());
    }
}

/// Group exchange (RFC 4419) from a hostile client: a request out of order, sizes that are not
/// min <= n <= max, sizes no group has, and an e out of range after a proper request.
#[test]
fn hostile_group_exchange_requests_end_the_exchange() {
    let request = |min: u32, n: u32, max: u32| {
        let mut w = Writer::message(msg::KEX_DH_GEX_REQUEST);
        w.u32(min).u32(n).u32(max);
        w.into_vec()
    };
    let gex = KexAlg::DiffieHellmanGroupExchangeSha256;
    let cases: Vec<(Vec<Vec<u8>>, u32, &str)> = vec![
        (vec![init(&[2])], 2, "unexpected key exchange message"),
        (vec![request(4096, 2048, 8192)], KEY_EXCHANGE_FAILED, "group exchange request is not min <= n <= max"),
        (vec![request(1024, 1024, 1536)], KEY_EXCHANGE_FAILED, "no group of the requested size"),
        (vec![request(2048, 2048, 8192), request(2048, 2048, 8192)], 2, "unexpected key exchange message"),
        (
            vec![request(2048, 4096, 8192), [&[msg::KEX_DH_GEX_INIT][..], &ssh_string(&[1])].concat()],
            KEY_EXCHANGE_FAILED,
            "DH public value is not in 1 < e < p-1",
        ),
    ];
    for (messages, reason, why) in cases {
        let mut p = hostile(gex);
        for m in &messages {
            p.client.seal_now(m);
        }
        p.pump();
        let (description, _) = p.expect_disconnect(reason);
        assert_eq!(description, why);
    }
}

/// The server's groups by the sizes asked for: the smallest of at least n bits, else the largest that fits.
#[test]
fn group_exchange_serves_the_smallest_group_of_at_least_n_bits() {
    for ((min, n, max), bits) in
        [((2048, 2048, 8192), 2048), ((2048, 3072, 8192), 4096), ((2048, 8192, 8192), 8192), ((2048, 3000, 3500), 2048)]
    {
        let mut p = hostile(KexAlg::DiffieHellmanGroupExchangeSha256);
        let mut w = Writer::message(msg::KEX_DH_GEX_REQUEST);
        w.u32(min).u32(n).u32(max);
        p.client.seal_now(w.as_slice());
        let group = p.expect_msg(msg::KEX_DH_GEX_GROUP);
        let mut r = wasshd_core::wire::Reader::new(&group[1..]);
        let prime = r.mpint().unwrap();
        assert_eq!((prime.len() * 8, r.mpint().unwrap()), (bits, &[2][..]), "request {min} {n} {max}");
    }
}
