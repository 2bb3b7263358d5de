//! An in-memory client/server pair on a simulated clock: the test client in `common/client.rs` talks to
//! `wasshd_core::Server` through bytes only, and the host side answers the server's events the way a
//! real host would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::msg;
use wasshd_core::server::CommandError;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::Event;

const REASON_PROTOCOL_ERROR: u32 = 2;
const REASON_MAC_ERROR: u32 = 5;
const REASON_VERSION_NOT_SUPPORTED: u32 = 8;
const REASON_BY_APPLICATION: u32 = 11;

fn all_suites() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("chacha20-poly1305@openssh.com", ""), ("aes128-gcm@openssh.com", ""), ("aes256-gcm@openssh.com", "")];
    for cipher in ["aes128-ctr", "aes192-ctr", "aes256-ctr"] {
        for mac in ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"] {
            v.push((cipher, mac));
        }
    }
    v
}

fn expect_auth_request(p: &mut Pair) -> wasshd_core::AuthRequest {
    match p.expect_event() {
        Event::AuthRequest(req) => req,
        other => panic!("expected AuthRequest, got {other:?}"),
    }
}

fn expect_channel_data(p: &mut Pair) -> (u32, u32, Vec<u8>) {
    match p.expect_event() {
        Event::ChannelData { channel, stream, data } => (channel, stream, data),
        other => panic!("expected ChannelData, got {other:?}"),
    }
}

/// Logged in, with an exec'd session whose client side advertises `window` and `max_packet`.
fn session(opts: ClientOptions, window: u32, max_packet: u32) -> (Pair, OpenChannel) {
    let mut p = Pair::new(opts);
    p.handshake();
    p.login();
    let ch = p.open_session(3, window, max_packet);
    p.exec(&ch, b"cat");
    (p, ch)
}

// ---- handshake --------------------------------------------------------------------------------------

#[test]
fn generated_host_key_is_the_one_the_client_verifies() {
    let mut server = wasshd_core::Server::new(b"another seed for a generated key");
    assert_eq!(server.open(0), Err(CommandError::NoHostKey));
    let text = server.generate_host_key("generated");
    let key = wasshd_core::keys::HostKey::from_file(&text, None).unwrap();
    assert_eq!(server.host_public_keys(), vec![key.public().to_openssh_line()]);
    let mut p = Pair::on(server, ClientOptions::default(), 15);
    p.handshake();
    assert_eq!(p.client.host_key, Some(key.public()));
}

#[test]
fn handshake_negotiates_strict_kex_and_sends_ext_info_with_server_sig_algs() {
    let mut p = Pair::new(ClientOptions::default());
    let summary = p.handshake();
    assert_eq!(summary.kex, "curve25519-sha256");
    assert_eq!(summary.host_key, "ssh-ed25519");
    assert_eq!((summary.cipher_in, summary.cipher_out), ("chacha20-poly1305@openssh.com", "chacha20-poly1305@openssh.com"));
    assert_eq!((summary.mac_in, summary.mac_out), ("", ""));
    assert!(summary.strict);
    assert_eq!(p.server.strict_kex(p.id), Some(true));
    assert!(p.client.strict, "server KEXINIT did not offer kex-strict-s-v00@openssh.com");
    let sig_algs = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";
    assert_eq!(p.client.ext_info, Some(vec![("server-sig-algs".to_string(), sig_algs.as_bytes().to_vec())]));
    assert_eq!(p.client.host_key, Some(host_key().public()));
    assert_eq!(p.client.server_version.as_deref(), Some(p.server.config().server_version.as_str()));
    // Nothing else reached the client: EXT_INFO was consumed by the transport.
    assert!(p.recv().is_none());
}

#[test]
fn client_without_strict_kex_or_ext_info_gets_neither_and_still_logs_in() {
    let opts = ClientOptions { strict: false, ext_info: false, ..Default::default() };
    let mut p = Pair::new(opts);
    let summary = p.handshake();
    assert!(!summary.strict);
    assert_eq!(p.server.strict_kex(p.id), Some(false));
    assert!(p.client.ext_info.is_none());
    p.login();
}

#[test]
fn a_wrongly_guessed_kex_packet_is_ignored() {
    // The client guesses a method the server does not offer (the NIST curves are off by default); its guessed
    // packet (a low-order point that would fail the exchange if used) must be dropped and the real one that
    // follows used instead.
    let mut bogus = Writer::message(msg::KEX_ECDH_INIT);
    bogus.string(&[0u8; 32]);
    let opts = ClientOptions {
        kex: "ecdh-sha2-nistp256,curve25519-sha256".into(),
        strict: false,
        guessed_packet: Some(bogus.into_vec()),
        ..Default::default()
    };
    let mut p = Pair::new(opts);
    let summary = p.handshake();
    assert_eq!(summary.kex, "curve25519-sha256");
    p.login();
}

#[test]
fn every_cipher_and_mac_suite_carries_a_session_both_ways() {
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let mut p = Pair::on(test_server(), ClientOptions::suite(cipher, if mac.is_empty() { "hmac-sha2-256" } else { mac }), i as u64);
        let summary = p.handshake();
        assert_eq!((summary.cipher_in, summary.cipher_out), (cipher, cipher));
        assert_eq!((summary.mac_in, summary.mac_out), (mac, mac), "{cipher}");
        p.login();
        let ch = p.open_session(1, 1 << 20, 32 * 1024);
        p.exec(&ch, b"cat");
        let up = pattern(70_001, i as u8);
        for piece in up.chunks(9_000) {
            p.send(&channel_data(ch.remote, piece));
        }
        let mut got = Vec::new();
        while got.len() < up.len() {
            let (channel, stream, data) = expect_channel_data(&mut p);
            assert_eq!((channel, stream), (ch.remote, 0));
            got.extend_from_slice(&data);
        }
        assert_eq!(got, up, "{cipher} {mac}: client to server");
        let down = pattern(100_003, 0x80 ^ i as u8);
        assert_eq!(p.server.send_data(p.id, ch.remote, 0, &down, p.now).unwrap(), down.len());
        let mut got = Vec::new();
        while got.len() < down.len() {
            let (to, data) = parse_channel_data(&p.expect_msg(msg::CHANNEL_DATA));
            assert_eq!(to, ch.local);
            got.extend_from_slice(&data);
        }
        assert_eq!(got, down, "{cipher} {mac}: server to client");
        assert!(p.client.error.is_none(), "{cipher} {mac}: {:?}", p.client.error);
    }
}

#[test]
fn strict_kex_required_refuses_a_client_without_it_with_reason_3() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("UseStrictKeyExchange", "3"), Ok(true));
    let mut p = Pair::on(server, ClientOptions { strict: false, ..Default::default() }, 16);
    p.expect_disconnect(3);
    // A strict client is fine.
    let mut p = Pair::on(p.into_server(), ClientOptions::default(), 17);
    assert!(p.handshake().strict);
}

#[test]
fn reject_affected_mode_lets_a_client_without_strict_kex_use_unaffected_algorithms() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("UseStrictKeyExchange", "2"), Ok(true));
    let opts = ClientOptions { strict: false, cipher: "aes256-ctr".into(), mac: "hmac-sha2-256".into(), ..Default::default() };
    let mut p = Pair::on(server, opts, 18);
    let summary = p.handshake();
    assert!(!summary.strict);
    assert_eq!((summary.cipher_in, summary.mac_in), ("aes256-ctr", "hmac-sha2-256"));
    p.login();
}

/// Both sides compute the algorithms from the two KEXINITs (RFC 4253 §7.1), so the server must negotiate
/// from the lists it advertised. In "reject affected" mode, a non-strict client that prefers
/// chacha20-poly1305 (advertised by the server) must either get it refused, with reason 3, or get it:
/// never a server that silently switches to another cipher than the one the client computed.
#[test]

fn reject_affected_mode_never_negotiates_something_the_client_did_not_compute() {
    for (cipher, mac) in
        [("chacha20-poly1305@openssh.com,aes128-ctr", "hmac-sha2-256"), ("aes128-ctr", "hmac-sha2-256-etm@openssh.com,hmac-sha2-256")]
    {
        let mut server = test_server();
        assert_eq!(server.config_mut().set("UseStrictKeyExchange", "2"), Ok(true));
        let opts = ClientOptions { strict: false, cipher: cipher.into(), mac: mac.into(), ..Default::default() };
        let mut p = Pair::on(server, opts, 19);
        let events = p.drain_events();
        let kex = events.iter().find_map(|e| match e {
            Event::KeysExchanged(s) => Some(s.clone()),
            _ => None,
        });
        match kex {
            Some(summary) => {
                let client = p.client.negotiated.unwrap();
                assert_eq!(summary.cipher_in, client.cipher_c2s.name(), "{cipher}");
                assert_eq!(summary.mac_in, client.mac_c2s.map_or("", |m| m.name()), "{mac}");
                assert!(p.client.error.is_none(), "{:?}", p.client.error);
            }
            None => {
                let ended = events.iter().find_map(|e| match e {
                    Event::Disconnected { reason, .. } => Some(*reason),
                    _ => None,
                });
                assert_eq!(ended, Some(3), "{cipher} {mac}: events {events:?}, client {:?}", p.client.error);
            }
        }
    }
}

// ---- channels ---------------------------------------------------------------------------------------

#[test]
fn session_exec_moves_data_both_ways_with_window_accounting_then_exit_status_eof_close() {
    let (mut p, ch) = session(ClientOptions::default(), 10_000, 4_000);
    let window = p.server.config().channel_window;
    assert_eq!((ch.window, ch.max_packet), (window, p.server.config().channel_max_packet));

    // Server to client: the client's 10 000-byte window and 4 000-byte packets are respected.
    let down = pattern(30_000, 9);
    assert_eq!(p.server.send_window(p.id, ch.remote), Some(10_000));
    let mut sent = p.server.send_data(p.id, ch.remote, 0, &down, p.now).unwrap();
    assert_eq!(sent, 10_000);
    assert_eq!(p.server.send_window(p.id, ch.remote), Some(0));
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, &down[sent..], p.now).unwrap(), 0);
    let mut got = Vec::new();
    let collect = |p: &mut Pair, got: &mut Vec<u8>| {
        while let Some(m) = p.recv() {
            let (to, data) = parse_channel_data(&m);
            assert_eq!(to, ch.local);
            assert!(!data.is_empty() && data.len() <= 4_000, "{} bytes in one packet", data.len());
            got.extend_from_slice(&data);
        }
    };
    collect(&mut p, &mut got);
    assert_eq!(got.len(), 10_000);
    for add in [15_000u32, 100_000] {
        p.send(&window_adjust(ch.remote, add));
        assert!(matches!(p.expect_event(), Event::ChannelReadyToSend { channel } if channel == ch.remote));
        assert_eq!(p.server.send_window(p.id, ch.remote), Some(add));
        sent += p.server.send_data(p.id, ch.remote, 0, &down[sent..], p.now).unwrap();
        collect(&mut p, &mut got);
    }
    assert_eq!(sent, down.len());
    assert_eq!(got, down);
    // Extended data (stderr) travels as CHANNEL_EXTENDED_DATA type 1.
    assert_eq!(p.server.send_data(p.id, ch.remote, 1, b"oops", p.now).unwrap(), 4);
    let ext = p.expect_msg(msg::CHANNEL_EXTENDED_DATA);
    let mut r = Reader::new(&ext[1..]);
    assert_eq!((r.u32().unwrap(), r.u32().unwrap(), r.string().unwrap()), (ch.local, 1, &b"oops"[..]));

    // Client to server: nothing comes back until the host has consumed half the window, then exactly
    // what it consumed is handed back.
    let packet = ch.max_packet as usize;
    let up = pattern(window as usize + window as usize / 4, 3);
    let mut received = Vec::new();
    let mut consumed = 0u32;
    let mut adjusts = Vec::new();
    for piece in up.chunks(packet) {
        p.send(&channel_data(ch.remote, piece));
        let (channel, stream, data) = expect_channel_data(&mut p);
        assert_eq!((channel, stream), (ch.remote, 0));
        received.extend_from_slice(&data);
        p.server.consume_channel_data(p.id, ch.remote, data.len() as u32).unwrap();
        consumed += data.len() as u32;
        while let Some(m) = p.recv() {
            assert_eq!(m[0], msg::CHANNEL_WINDOW_ADJUST, "{m:?}");
            let mut r = Reader::new(&m[1..]);
            assert_eq!(r.u32().unwrap(), ch.local);
            adjusts.push((consumed, r.u32().unwrap()));
        }
    }
    assert_eq!(received, up);
    // An adjust each time half the window has been consumed, returning exactly that much; without the
    // first, the last quarter above (past the initial window) would have been a window overrun.
    assert_eq!(adjusts, vec![(window / 2, window / 2), (window, window / 2)]);

    p.send(&channel_only(msg::CHANNEL_EOF, ch.remote));
    assert!(matches!(p.expect_event(), Event::ChannelEof { channel } if channel == ch.remote));

    p.server.send_exit_status(p.id, ch.remote, 3).unwrap();
    p.server.send_eof(p.id, ch.remote).unwrap();
    assert!(matches!(p.server.send_data(p.id, ch.remote, 0, b"late", p.now), Err(CommandError::WrongState(_))));
    p.server.close_channel(p.id, ch.remote).unwrap();
    let status = p.expect_msg(msg::CHANNEL_REQUEST);
    let mut expected = Writer::message(msg::CHANNEL_REQUEST);
    expected.u32(ch.local).string(b"exit-status").bool(false).u32(3);
    assert_eq!(status, expected.into_vec());
    assert_eq!(p.expect_msg(msg::CHANNEL_EOF), channel_only(msg::CHANNEL_EOF, ch.local));
    assert_eq!(p.expect_msg(msg::CHANNEL_CLOSE), channel_only(msg::CHANNEL_CLOSE, ch.local));
    p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
    assert!(matches!(p.expect_event(), Event::ChannelClosed { channel } if channel == ch.remote));
    assert!(p.recv().is_none(), "the server already sent its CLOSE");
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"x", p.now), Err(CommandError::NoSuchChannel));
    assert!(p.client.error.is_none() && p.client.disconnect.is_none());
}

#[test]
fn client_overrunning_the_channel_window_is_disconnected_with_reason_2() {
    let (mut p, ch) = session(ClientOptions::default(), 1 << 20, 32 * 1024);
    let packet = vec![0x5a; ch.max_packet as usize];
    let packets = ch.window / ch.max_packet;
    for _ in 0..packets {
        p.send(&channel_data(ch.remote, &packet));
    }
    let events = p.drain_events();
    assert_eq!(events.len(), packets as usize, "the whole window is accepted");
    assert!(events.iter().all(|e| matches!(e, Event::ChannelData { .. })));
    p.send(&channel_data(ch.remote, b"!"));
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
    complete_exec_session(p.into_server(), 101);
}

/// A WINDOW_ADJUST that adds nothing must not use up the "blocked" state: the host is still owed a
/// `ChannelReadyToSend` when the window really opens.
#[test]

fn zero_window_adjust_does_not_swallow_the_ready_to_send_notice() {
    let (mut p, ch) = session(ClientOptions::default(), 1_000, 32 * 1024);
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, &[7u8; 3_000], p.now).unwrap(), 1_000);
    assert_eq!(parse_channel_data(&p.expect_msg(msg::CHANNEL_DATA)).1.len(), 1_000);
    p.send(&window_adjust(ch.remote, 0));
    assert!(p.drain_events().is_empty(), "no room yet");
    p.send(&window_adjust(ch.remote, 500));
    assert!(matches!(p.expect_event(), Event::ChannelReadyToSend { channel } if channel == ch.remote));
}

/// The peer's maximum packet size bounds channel data, but a packet must also fit the transport's own
/// limit (256 KiB here and in OpenSSH): a client that advertises a huge maximum packet must still get
/// packets it (and the crate's own `Opener`) can read.
#[test]

fn server_data_packets_fit_the_transport_limit_whatever_max_packet_the_client_advertises() {
    for max_packet in [wasshd_core::transport::packet::MAX_PACKET_LEN, u32::MAX] {
        let (mut p, ch) = session(ClientOptions::default(), u32::MAX, max_packet);
        let data = pattern(600_000, 3);
        let mut sent = 0;
        while sent < data.len() {
            sent += p.server.send_data(p.id, ch.remote, 0, &data[sent..], p.now).unwrap();
        }
        let mut got = Vec::new();
        while let Some(m) = p.recv() {
            got.extend_from_slice(&parse_channel_data(&m).1);
        }
        assert!(p.client.error.is_none(), "max packet {max_packet}: {:?}", p.client.error);
        assert_eq!(got, data);
    }
}

#[test]
fn channel_data_larger_than_the_advertised_max_packet_is_protocol_error() {
    let (mut p, ch) = session(ClientOptions::default(), 1 << 20, 32 * 1024);
    p.send(&channel_data(ch.remote, &vec![1u8; ch.max_packet as usize + 1]));
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
}

// ---- key re-exchange --------------------------------------------------------------------------------

fn expect_rekeyed(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| match e {
            Event::KeysExchanged(s) => {
                assert!(!s.initial);
                true
            }
            _ => false,
        })
        .count()
}

#[test]
fn client_started_rekey_in_the_middle_of_channel_data_keeps_data_byte_exact() {
    for (cipher, mac) in
        [("chacha20-poly1305@openssh.com", "hmac-sha2-256"), ("aes256-ctr", "hmac-sha2-512"), ("aes128-gcm@openssh.com", "hmac-sha2-256")]
    {
        let (mut p, ch) = session(ClientOptions::suite(cipher, mac), 1 << 24, 32 * 1024);
        let session_id = p.client.session_id.clone();
        let up = pattern(60_000, 1);
        let down = pattern(60_000, 2);
        let (up1, up2) = up.split_at(25_000);
        let (down1, down2) = down.split_at(33_000);

        for piece in up1.chunks(5_000) {
            p.send(&channel_data(ch.remote, piece));
        }
        assert_eq!(p.server.send_data(p.id, ch.remote, 0, down1, p.now).unwrap(), down1.len());
        p.client.rekey();
        // Sent after our KEXINIT: the client holds these until its NEWKEYS.
        for piece in up2.chunks(7_000) {
            p.send(&channel_data(ch.remote, piece));
        }
        // The server sees the first half of the data and our KEXINIT, and answers with its own.
        p.deliver_to_server();
        // The host is told to wait while the exchange runs, and when it may go on.
        assert_eq!(p.server.send_data(p.id, ch.remote, 0, down2, p.now).unwrap(), 0);
        p.pump();
        let mut events = p.drain_events();
        assert!(events.iter().any(|e| matches!(e, Event::ChannelReadyToSend { channel } if *channel == ch.remote)), "{cipher}");
        assert_eq!(p.server.send_data(p.id, ch.remote, 0, down2, p.now).unwrap(), down2.len());
        p.pump();

        assert_eq!(expect_rekeyed(&events), 1, "{cipher}");
        assert_eq!(p.client.kexes_done, 2);
        assert_eq!(p.client.session_id, session_id, "the session id survives a re-exchange");
        let mut got_up = Vec::new();
        for e in events.drain(..) {
            if let Event::ChannelData { data, .. } = e {
                got_up.extend_from_slice(&data);
            }
        }
        assert_eq!(got_up, up, "{cipher}: client to server across the rekey");
        let mut got_down = Vec::new();
        while let Some(m) = p.recv() {
            got_down.extend_from_slice(&parse_channel_data(&m).1);
        }
        assert_eq!(got_down, down, "{cipher}: server to client across the rekey");
        assert!(p.client.error.is_none(), "{:?}", p.client.error);

        // And the connection goes on under the new keys.
        p.send(&channel_data(ch.remote, b"after"));
        assert_eq!(expect_channel_data(&mut p).2, b"after");
    }
}

#[test]
fn server_started_rekey_by_byte_threshold_keeps_data_byte_exact() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("KeyRenegotiationThreshold", "16384"), Ok(true));
    let mut p = Pair::on(server, ClientOptions::suite("aes128-ctr", "hmac-sha2-256-etm@openssh.com"), 7);
    p.handshake();
    p.login();
    let ch = p.open_session(9, 1 << 24, 32 * 1024);
    p.exec(&ch, b"cat");

    let up = pattern(300_000, 5);
    let down = pattern(300_000, 6);
    let mut got_up = Vec::new();
    let mut got_down = Vec::new();
    let mut rekeys = 0;
    let (mut u, mut d) = (0usize, 0usize);
    let mut step = 0usize;
    while u < up.len() || d < down.len() {
        step += 1;
        let n = 1_000 + (step * 7919) % 6_000;
        if u < up.len() {
            let end = (u + n).min(up.len());
            p.send(&channel_data(ch.remote, &up[u..end]));
            u = end;
        }
        if d < down.len() {
            let end = (d + n / 2).min(down.len());
            d += p.server.send_data(p.id, ch.remote, 0, &down[d..end], p.now).unwrap();
        }
        rekeys += p.collect_data(ch.remote, &mut got_up, &mut got_down);
    }
    assert_eq!(got_up, up);
    assert_eq!(got_down, down);
    // 600 000 bytes of payload at one exchange per 16 KiB.
    assert!(rekeys >= 20, "only {rekeys} re-exchanges");
    assert_eq!(p.client.kexes_done, rekeys + 1);
    assert_eq!(p.client.server_kexinits, rekeys + 1, "every re-exchange was started by the server");
    assert!(p.client.error.is_none(), "{:?}", p.client.error);
}

/// Both sides start a re-exchange at the same moment: each KEXINIT answers the other's, and one exchange
/// runs.
#[test]
fn simultaneous_rekey_from_both_sides_runs_one_exchange() {
    let (mut p, ch) = session(ClientOptions::default(), 1 << 20, 32 * 1024);
    p.server.rekey(p.id).unwrap();
    p.client.rekey();
    p.send(&channel_data(ch.remote, b"held by the client"));
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"held by the server", p.now).unwrap(), 0, "wait for the exchange");
    p.pump();
    let events = p.drain_events();
    assert!(events.iter().any(|e| matches!(e, Event::ChannelReadyToSend { channel } if *channel == ch.remote)));
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"held by the server", p.now).unwrap(), 18);
    assert_eq!(expect_rekeyed(&events), 1);
    assert!(events.iter().any(|e| matches!(e, Event::ChannelData { data, .. } if data == b"held by the client")));
    assert_eq!(p.client.kexes_done, 2);
    assert_eq!(parse_channel_data(&p.expect_msg(msg::CHANNEL_DATA)).1, b"held by the server");
    assert!(p.client.error.is_none(), "{:?}", p.client.error);
}

#[test]
fn host_started_rekey_runs_and_refuses_to_overlap() {
    let (mut p, ch) = session(ClientOptions::default(), 1 << 20, 32 * 1024);
    p.server.rekey(p.id).unwrap();
    assert!(matches!(p.server.rekey(p.id), Err(CommandError::WrongState(_))));
    p.pump();
    assert_eq!(expect_rekeyed(&p.drain_events()), 1);
    assert_eq!(p.client.kexes_done, 2);
    p.send(&channel_data(ch.remote, b"still here"));
    assert_eq!(expect_channel_data(&mut p).2, b"still here");
}

// ---- timers -----------------------------------------------------------------------------------------

#[test]
fn login_grace_timeout_on_the_simulated_clock_ends_with_disconnect() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("LoginGraceTime", "30"), Ok(true));
    let mut p = Pair::with_client(server, Client::new(ClientOptions::default(), 3), 1_000);
    p.handshake();
    p.request_service();
    assert_eq!(p.server.next_deadline(p.id), Some(31_000));
    p.now = 30_999;
    p.server.handle_timeout(p.id, p.now).unwrap();
    assert!(p.drain_events().is_empty(), "nothing happens before the deadline");
    assert!(p.client.disconnect.is_none());
    assert_eq!(p.server.next_deadline(p.id), Some(31_000));
    p.now = p.server.next_deadline(p.id).unwrap();
    p.server.handle_timeout(p.id, p.now).unwrap();
    p.expect_disconnect(REASON_BY_APPLICATION);
    complete_exec_session(p.into_server(), 102);
}

#[test]
fn unanswered_keepalives_end_the_connection_with_reason_10() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("SSHKeepAliveInterval", "10"), Ok(true));
    assert_eq!(server.config_mut().set("SSHKeepAliveCountMax", "2"), Ok(true));
    let mut p = Pair::on(server, ClientOptions::default(), 12);
    p.handshake();
    p.login();
    for at in [10_000u64, 20_000] {
        assert_eq!(p.server.next_deadline(p.id), Some(at));
        p.now = at;
        p.server.handle_timeout(p.id, at).unwrap();
        let ka = p.expect_msg(msg::GLOBAL_REQUEST);
        let mut r = Reader::new(&ka[1..]);
        assert_eq!((r.utf8().unwrap(), r.bool().unwrap()), ("keepalive@openssh.com", true));
    }
    p.now = 30_000;
    p.server.handle_timeout(p.id, p.now).unwrap();
    p.expect_disconnect(10);
}

#[test]
fn answered_keepalives_keep_the_connection_up() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("SSHKeepAliveInterval", "10"), Ok(true));
    assert_eq!(server.config_mut().set("SSHKeepAliveCountMax", "1"), Ok(true));
    let mut p = Pair::on(server, ClientOptions::default(), 13);
    p.handshake();
    p.login();
    for _ in 0..10 {
        p.now = p.server.next_deadline(p.id).unwrap();
        p.server.handle_timeout(p.id, p.now).unwrap();
        p.expect_msg(msg::GLOBAL_REQUEST);
        p.now += 700;
        p.send(&[msg::REQUEST_FAILURE]);
        p.pump();
        assert_eq!(p.server.next_deadline(p.id), Some(p.now + 10_000), "the interval restarts at the answer");
    }
    assert!(p.client.disconnect.is_none() && p.drain_events().is_empty());
}

#[test]
fn idle_timeout_counts_from_the_last_channel_activity() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("DefaultIdleTimeout", "60"), Ok(true));
    let mut p = Pair::on(server, ClientOptions::default(), 14);
    p.handshake();
    p.login();
    let ch = p.open_session(1, 1 << 20, 32 * 1024);
    assert_eq!(p.server.next_deadline(p.id), Some(60_000));
    p.now = 50_000;
    p.send(&channel_data(ch.remote, b"typing"));
    expect_channel_data(&mut p);
    assert_eq!(p.server.next_deadline(p.id), Some(110_000));
    p.server.handle_timeout(p.id, 109_999).unwrap();
    assert!(p.drain_events().is_empty());
    p.now = 110_000;
    p.server.handle_timeout(p.id, p.now).unwrap();
    p.expect_disconnect(REASON_BY_APPLICATION);
}

#[test]
fn authenticated_connection_has_no_login_deadline() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    assert_eq!(p.server.next_deadline(p.id), Some(120_000));
    p.login();
    assert_eq!(p.server.next_deadline(p.id), None);
    p.server.handle_timeout(p.id, 10_000_000).unwrap();
    assert!(p.client.disconnect.is_none() && p.drain_events().is_empty());
}

// ---- hostile clients --------------------------------------------------------------------------------

#[test]
fn channel_open_before_authentication_is_protocol_error() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    p.send(&channel_open("session", 0, 1 << 20, 32 * 1024));
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
    complete_exec_session(p.into_server(), 103);
}

#[test]
fn corrupted_mac_is_disconnect_reason_5_for_every_suite() {
    let mut server = test_server();
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let mut p = Pair::on(server, ClientOptions::suite(cipher, if mac.is_empty() { "hmac-sha2-256" } else { mac }), 200 + i as u64);
        p.handshake();
        let mut w = Writer::message(msg::SERVICE_REQUEST);
        w.string(b"ssh-userauth");
        let mut packet = p.client.seal_detached(w.as_slice());
        let last = packet.len() - 1;
        packet[last] ^= 0x80;
        p.send_raw(&packet);
        let (_, others) = p.expect_disconnect(REASON_MAC_ERROR);
        assert!(others.is_empty(), "{cipher}: the damaged request reached the host: {others:?}");
        server = p.into_server();
    }
    complete_exec_session(server, 104);
}

#[test]
fn packet_length_all_ones_is_protocol_error_before_and_after_kex() {
    // In the clear, right after the version line.
    let mut p = Pair::with_client(test_server(), Client::silent(ClientOptions::default(), 4), 0);
    p.send_raw(b"SSH-2.0-raw\r\n\xff\xff\xff\xff\x00\x00\x00\x00");
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
    let server = p.into_server();

    // Under encrypt-then-MAC, where the length travels in the clear.
    let mut p = Pair::on(server, ClientOptions::suite("aes128-ctr", "hmac-sha2-256-etm@openssh.com"), 5);
    p.handshake();
    let mut raw = vec![0xff; 4];
    raw.extend(p.client.random_bytes(64));
    p.send_raw(&raw);
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
    complete_exec_session(p.into_server(), 105);
}

#[test]
fn ssh_1_5_version_line_is_disconnect_reason_8() {
    let mut p = Pair::with_client(test_server(), Client::silent(ClientOptions::default(), 6), 0);
    p.send_raw(b"SSH-1.5-x\r\n");
    let (description, _) = p.expect_disconnect(REASON_VERSION_NOT_SUPPORTED);
    assert!(!description.is_empty());
    // The server's own KEXINIT went out before it saw the bad line.
    assert_eq!(p.client.inbox.front().map(|m| m[0]), Some(msg::KEXINIT));
    complete_exec_session(p.into_server(), 106);
}

/// Under strict kex KEXINIT must be the client's first packet (OpenSSH PROTOCOL, "kex-strict").
#[test]
fn strict_client_sending_ignore_before_kexinit_is_protocol_error() {
    let c = Client::with_prelude(ClientOptions::default(), 8, &[&[msg::IGNORE, 0, 0, 0, 0]]);
    let mut p = Pair::with_client(test_server(), c, 0);
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
    complete_exec_session(p.into_server(), 107);
}

/// RFC 4253 §11.2: SSH_MSG_IGNORE is allowed at any time. A client that does not ask for strict kex may
/// send one before its KEXINIT; the default configuration (strict kex offered, not required) lets such
/// clients connect, so this one must too.
#[test]

fn non_strict_client_may_send_ignore_before_kexinit() {
    let opts = ClientOptions { strict: false, ..Default::default() };
    let c = Client::with_prelude(opts, 11, &[&[msg::IGNORE, 0, 0, 0, 0]]);
    let mut p = Pair::with_client(test_server(), c, 0);
    let summary = p.handshake();
    assert!(!summary.strict);
    p.login();
}

/// RFC 4253 §4.2 lets only the server send lines before its version. A client whose first line is anything
/// else (an HTTP request, a banner) is answered `Invalid SSH identification string.` in the clear and
/// closed at once with reason 2, as OpenSSH's sshd does; that is known from the first byte that cannot
/// begin `SSH-`, so a probe without a line end is not held until the login grace time.
#[test]
fn a_first_line_that_is_not_an_ssh_version_is_answered_and_closed_at_once() {
    let mut server = test_server();
    for (first, case) in [
        (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], "an HTTP request"),
        (b"banner line\r\nSSH-2.0-x\r\n", "a line before the version"),
        (b"\x16\x03\x01", "a TLS hello, no line end"),
        (b"SSH_", "close, but not SSH-"),
    ] {
        let mut p = Pair::with_client(server, Client::silent(ClientOptions::default(), 9), 0);
        p.pump();
        let greeting = p.server.take_output(p.id);
        assert!(greeting.is_empty(), "{case}: the version and KEXINIT went to the client already");
        p.server.input(p.id, first, 0).unwrap();
        let out = p.server.take_output(p.id);
        assert_eq!(out, b"Invalid SSH identification string.\r\n", "{case}");
        let events: Vec<Event> = std::iter::from_fn(|| p.server.poll_event()).map(|(_, e)| e).collect();
        assert!(
            matches!(events.as_slice(), [Event::Log { .. }, Event::Disconnected { reason: 2, by_peer: false, .. }]),
            "{case}: {events:?}"
        );
        assert_eq!(p.server.next_deadline(p.id), None, "{case}: nothing more to wait for");
        p.server.input(p.id, b"SSH-2.0-late\r\n", 1).unwrap();
        assert!(p.server.take_output(p.id).is_empty(), "{case}");
        server = p.into_server();
    }
    complete_exec_session(server, 9);
}

#[test]
fn client_disconnect_text_reaches_the_host_without_control_characters() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    let mut w = Writer::message(msg::DISCONNECT);
    w.u32(11).string(b"bye\x1b[2J\r\nfake log line").string(b"");
    p.send(w.as_slice());
    let events = p.drain_events();
    let description = events.iter().find_map(|e| match e {
        Event::Disconnected { reason: 11, description, by_peer: true } => Some(description.clone()),
        _ => None,
    });
    assert_eq!(description.as_deref(), Some("bye?[2J??fake log line"));
}

// ---- limits and logs ----------------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A logged-in session on a server at LogLevel 3, with a password and channel data through it.
fn debug_logged_session(mask: &str) -> Pair {
    let mut server = test_server();
    server.config_mut().set("LogLevel", "3").unwrap();
    server.config_mut().set("MaskSensitiveData", mask).unwrap();
    let (mut p, ch) = {
        let mut p = Pair::on(server, ClientOptions::default(), 7);
        p.handshake();
        p.login();
        let ch = p.open_session(3, 1 << 20, 32 * 1024);
        (p, ch)
    };
    let mut env = Writer::message(msg::CHANNEL_REQUEST);
    env.u32(ch.remote).string(b"env").bool(false).string(b"API_TOKEN").string(b"env-value-5c1e");
    p.send(env.as_slice());
    assert!(matches!(p.expect_event(), Event::ChannelRequest { .. }));
    p.server.reply_channel_request(p.id, ch.remote, true).unwrap();
    p.exec(&ch, b"cat # exec-secret-77a1");
    p.send(&channel_data(ch.remote, b"typed secret"));
    expect_channel_data(&mut p);
    p
}

#[test]
fn level_3_dumps_every_packet_and_masks_passwords_channel_data_and_channel_requests() {
    let p = debug_logged_session("true");
    let all = p.log.join("\n");
    assert!(all.contains("packet in: type=20 "), "KEXINIT dumped in hex");
    assert!(all.contains("packet out: type=31 "), "kex reply dumped");
    assert!(all.contains("packet in: type=50 len=") && all.contains("(masked)"));
    assert!(all.lines().any(|l| l.starts_with("packet in: type=98 ") && l.ends_with(" (masked)")), "channel requests are dumped, masked");
    let secrets = [&b"correct horse"[..], b"typed secret", b"env-value-5c1e", b"exec-secret-77a1"];
    for secret in secrets {
        assert!(!all.contains(&hex(secret)), "secret {secret:?} in hex in the log");
        assert!(!all.contains(std::str::from_utf8(secret).unwrap()), "secret {secret:?} in the log");
    }

    let unmasked = debug_logged_session("false").log.join("\n");
    for secret in secrets {
        assert!(unmasked.contains(&hex(secret)), "with masking off the dump is complete: {secret:?}");
    }
}

#[test]
fn a_client_rekeying_with_neither_time_nor_traffic_in_between_is_cut_off_after_its_burst() {
    let (mut p, ch) = session(ClientOptions::default(), 1 << 20, 32 * 1024);
    for _ in 0..16 {
        p.client.rekey();
        p.pump();
    }
    assert_eq!(p.client.kexes_done, 17, "a burst of 16 is allowed: {:?}", p.client.error);
    // Time refills the allowance: two seconds, two more.
    p.now += 2000;
    for _ in 0..2 {
        p.client.rekey();
        p.pump();
    }
    assert_eq!(p.client.kexes_done, 19);
    assert_eq!(expect_rekeyed(&p.drain_events()), 18);
    // So does traffic: a client that rekeys by volume is never cut off, even OpenSSH with a small
    // RekeyLimit, which rekeys before every full packet.
    for _ in 0..40 {
        p.send(&channel_data(ch.remote, &[7u8; 32 * 1024]));
        let (channel, _, data) = expect_channel_data(&mut p);
        p.server.consume_channel_data(p.id, channel, data.len() as u32).unwrap();
        p.client.rekey();
        p.pump();
        assert_eq!(expect_rekeyed(&p.drain_events()), 1, "{:?}", p.client.error);
    }
    assert_eq!(p.client.kexes_done, 59);
    p.send(&channel_data(ch.remote, b"still fine"));
    assert_eq!(expect_channel_data(&mut p).2, b"still fine");
    // Traffic refilled the allowance, but never past a full burst (less the exchange just made).
    for _ in 0..15 {
        p.client.rekey();
        p.pump();
    }
    assert_eq!(p.client.kexes_done, 74, "{:?}", p.client.error);
    assert_eq!(expect_rekeyed(&p.drain_events()), 15);
    p.client.rekey();
    let (description, _) = p.expect_disconnect(REASON_PROTOCOL_ERROR);
    assert!(description.contains("too many key exchanges"), "{description}");
}

#[test]
fn a_channel_with_a_tiny_maximum_packet_is_refused_with_resource_shortage() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.login();
    p.send(&channel_open("session", 5, 1 << 30, 1));
    let failure = p.expect_msg(msg::CHANNEL_OPEN_FAILURE);
    let mut r = Reader::new(&failure[1..]);
    assert_eq!((r.u32().unwrap(), r.u32().unwrap()), (5, 4));
    assert!(p.drain_events().iter().all(|e| !matches!(e, Event::ChannelOpenRequest { .. })), "the host never sees it");
    let ch = p.open_session(6, 1 << 20, 256);
    p.exec(&ch, b"cat");
}

#[test]
fn user_names_with_control_characters_are_illegal_reason_15() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    p.send(&userauth_password("root\n[fake log line]", "x"));
    let (_, events) = p.expect_disconnect(15);
    assert!(events.iter().all(|e| !matches!(e, Event::AuthRequest(_))));
}

#[test]
fn before_authentication_a_client_may_buffer_only_one_packet_ahead_of_a_pending_decision() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    p.send(&userauth_password("alice", "pending"));
    expect_auth_request(&mut p);
    // The host has not answered; the client pushes on with large IGNOREs.
    let mut ignore = vec![msg::IGNORE];
    ignore.extend(ssh_string(&vec![0u8; 60_000]));
    for _ in 0..6 {
        p.send(&ignore);
    }
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
}

#[test]
fn a_rekey_threshold_crossed_inside_one_large_send_strands_nothing() {
    let mut server = test_server();
    server.config_mut().set("KeyRenegotiationThreshold", "1048576").unwrap();
    let mut p = Pair::on(server, ClientOptions::default(), 21);
    p.handshake();
    p.login();
    let ch = p.open_session(4, 1 << 24, 32 * 1024);
    p.exec(&ch, b"source");
    let data = pattern(3 * 1024 * 1024 + 12_345, 9);
    // Each call crosses the 1 MiB threshold somewhere inside its batch of packets.
    let mut sent = 0;
    while sent < data.len() {
        let end = (sent + 1_000_003).min(data.len());
        let taken = p.server.send_data(p.id, ch.remote, 0, &data[sent..end], p.now).unwrap();
        sent += taken;
        p.pump();
        if taken == 0 {
            assert!(p.drain_events().iter().any(|e| matches!(e, Event::ChannelReadyToSend { .. })), "told to wait, then to go on");
        }
    }
    let mut got = Vec::new();
    while let Some(m) = p.recv() {
        if m[0] == msg::CHANNEL_DATA {
            got.extend_from_slice(&parse_channel_data(&m).1);
        }
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "byte-exact");
    assert!(p.client.kexes_done >= 3, "rekeyed {} times", p.client.kexes_done);
    assert!(p.client.error.is_none() && p.client.disconnect.is_none(), "{:?} {:?}", p.client.error, p.client.disconnect);
}
