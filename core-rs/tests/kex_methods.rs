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
}

impl Both {
    fn new(alg: KexAlg) -> Both {
        let mut server = test_server();
        server.config_mut().algorithms.kex = vec![alg];
        let id = server.open(0).unwrap();
        let mut config = Config::default();
        config.set("SSHKeyExchangeAlgorithms", alg.name()).unwrap();
        let client = Client::new(config, b"kex methods client seed", 0);
        Both { server, id, client, server_kex: Vec::new(), client_kex: Vec::new() }
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
                    Event::KeysExchanged(s) => self.server_kex.push(s.kex.into()),
                    Event::Disconnected { description, .. } => panic!("server disconnected: {description}"),
                    other => accept_decision(&mut self.server, self.id, &other),
                }
            }
            while let Some(event) = self.client.poll_event() {
                match event {
                    ClientEvent::KeysExchanged(s) => self.client_kex.push(s.kex.into()),
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

/// KEX_ECDH_INIT (the hybrids' KEX_HYBRID_INIT) carrying `value`.
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
