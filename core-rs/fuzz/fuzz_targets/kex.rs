//! The server's side of every key exchange method, each switched on alone (`SSHKeyExchangeAlgorithms`), fed
//! hostile key exchange messages: mlkem768x25519, sntrup761x25519, curve25519, ecdh-sha2-nistp*, the fixed DH
//! groups and group exchange (its request's min/n/max, then its init). The first byte picks the method; the
//! harness sends the version line and a KEXINIT naming it, then each `[u16 length][payload]` of the rest as a
//! plaintext packet, whatever its message number. Checked besides "no panic": what `Host` checks of every
//! connection (a valid disconnect reason, nothing after it, no deadline in the past).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::config::StrictKex;
use wasshd_core::msg;
use wasshd_core::transport::negotiate::KexAlg;
use wasshd_core::wire::Writer;
use wasshd_fuzz::host::{server, Host};
use wasshd_fuzz::Input;

/// A plaintext binary packet (RFC 4253 §6): at least 4 bytes of padding, the whole a multiple of 8.
fn packet(payload: &[u8]) -> Vec<u8> {
    let padding = 4 + (8 - (5 + payload.len() + 4) % 8) % 8;
    let mut w = Writer::new();
    w.u32((1 + payload.len() + padding) as u32).u8(padding as u8).raw(payload).raw(&vec![0; padding]);
    w.into_vec()
}

/// The client's KEXINIT naming `kex` and the default algorithms of the rest.
fn kexinit(kex: KexAlg) -> Vec<u8> {
    let mut w = Writer::message(msg::KEXINIT);
    w.raw(&[7; 16]).name_list(&[kex.name()]).name_list(&["ssh-ed25519"]);
    for list in [["aes128-ctr"], ["aes128-ctr"], ["hmac-sha2-256"], ["hmac-sha2-256"], ["none"], ["none"], [""], [""]] {
        w.name_list(&list);
    }
    w.bool(false).u32(0);
    w.into_vec()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kex = KexAlg::ALL[usize::from(input.u8()) % KexAlg::ALL.len()];
    let mut server = server(StrictKex::Enabled);
    assert_eq!(server.config_mut().set("SSHKeyExchangeAlgorithms", kex.name()), Ok(true));
    let mut bytes = b"SSH-2.0-fuzz\r\n".to_vec();
    bytes.extend(packet(&kexinit(kex)));
    while !input.is_empty() {
        bytes.extend(packet(input.chunk()));
    }
    let mut host = Host::new(server);
    host.input(&bytes);
    host.check_closed();
});
