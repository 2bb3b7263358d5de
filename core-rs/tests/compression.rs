//! Payload compression between the server and the test client: when each algorithm starts, that data
//! survives it byte for byte across re-exchanges, and what the wire saves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::msg;
use wasshd_core::{Event, Server};

/// Text-like data that deflate shrinks several times over.
fn compressible(len: usize, salt: u8) -> Vec<u8> {
    let words: [&[u8]; 6] = [b"channel ", b"window ", b"adjust ", b"packet ", b"stream ", b"\n"];
    let mut out = Vec::with_capacity(len + 8);
    let mut i = usize::from(salt);
    while out.len() < len {
        out.extend_from_slice(words[(i * 7 + i / 5) % words.len()]);
        i += 1;
    }
    out.truncate(len);
    out
}

fn compressing(compression: &str) -> ClientOptions {
    ClientOptions { compression: compression.into(), ..Default::default() }
}

/// Sends `up` from the client and `down` from the server through `ch`, in pieces, with the client
/// starting a re-exchange every `rekey_every` pieces. Returns the bytes the client and the server put on
/// the wire meanwhile.
fn move_data(p: &mut Pair, ch: &OpenChannel, up: &[u8], down: &[u8], rekey_every: usize) -> (usize, usize) {
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let (mut client_wire, mut server_wire) = (0, 0);
    let (mut u, mut d) = (0, 0);
    let mut piece = 0;
    while u < up.len() || d < down.len() || got_up.len() < up.len() || got_down.len() < down.len() {
        piece += 1;
        if piece % rekey_every == 0 && !p.client.in_kex() {
            p.client.rekey();
        }
        if u < up.len() {
            let end = (u + 20_000).min(up.len());
            p.client.send(&channel_data(ch.remote, &up[u..end]));
            u = end;
        }
        if d < down.len() {
            let end = (d + 20_000).min(down.len());
            d += p.server.send_data(p.id, ch.remote, 0, &down[d..end], p.now).unwrap();
        }
        // Move the bytes by hand to count them.
        for _ in 0..4 {
            let to_server = p.client.take_out();
            client_wire += to_server.len();
            p.server.input(p.id, &to_server, p.now).unwrap();
            let to_client = p.server.take_output(p.id);
            server_wire += to_client.len();
            p.client.receive(&to_client);
        }
        assert!(p.client.error.is_none(), "{:?}", p.client.error);
        p.collect_data(ch.remote, &mut got_up, &mut got_down);
        assert!(piece < 10_000, "no progress: up {}/{} down {}/{}", got_up.len(), up.len(), got_down.len(), down.len());
    }
    assert!(got_up == up, "client to server data differs");
    assert!(got_down == down, "server to client data differs");
    (client_wire, server_wire)
}

fn logged_in_session(server: Server, opts: ClientOptions) -> (Pair, OpenChannel) {
    let mut p = Pair::on(server, opts, 3);
    p.handshake();
    p.login();
    let ch = p.open_session(5, 1 << 30, 32 * 1024);
    p.exec(&ch, b"cat");
    (p, ch)
}

#[test]
fn zlib_openssh_is_on_by_default_and_shrinks_both_directions_across_rekeys() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("LogLevel", "2"), Ok(true));
    let (mut p, ch) = logged_in_session(server, compressing("zlib@openssh.com,none"));
    assert!(
        p.log.iter().any(|l| l.contains("negotiated") && l.contains("zlib@openssh.com")),
        "the server's log names the algorithm: {:#?}",
        p.log
    );
    let up = compressible(2_000_000, 1);
    let down = compressible(2_000_000, 2);
    let (client_wire, server_wire) = move_data(&mut p, &ch, &up, &down, 13);
    assert!(p.client.kexes_done > 5, "only {} exchanges", p.client.kexes_done);
    // Text this repetitive deflates more than tenfold, packet framing included.
    assert!(client_wire * 10 < up.len(), "client sent {client_wire} bytes for {}", up.len());
    assert!(server_wire * 10 < down.len(), "server sent {server_wire} bytes for {}", down.len());
}

#[test]
fn without_compression_the_same_data_costs_its_size() {
    let (mut p, ch) = logged_in_session(test_server(), compressing("none"));
    let up = compressible(300_000, 1);
    let down = compressible(300_000, 2);
    let (client_wire, server_wire) = move_data(&mut p, &ch, &up, &down, 1_000);
    assert!(client_wire > up.len() && server_wire > down.len(), "{client_wire} {server_wire}");
}

#[test]
fn plain_zlib_is_off_until_configured_then_compresses_from_the_first_new_keys() {
    // Default: a client that only speaks zlib finds no common algorithm.
    let mut p = Pair::new(compressing("zlib"));
    p.pump();
    let refused = p.drain_events().into_iter().find_map(|e| match e {
        Event::Disconnected { reason, description, .. } => Some((reason, description)),
        _ => None,
    });
    let (reason, description) = refused.expect("the server refused the key exchange");
    assert_eq!(reason, msg::DisconnectReason::KeyExchangeFailed.code());
    assert!(description.contains("compression"), "{description}");

    let mut server = test_server();
    assert_eq!(server.config_mut().set("SSHCompressionAlgorithms", "zlib,none"), Ok(true));
    let (mut p, ch) = logged_in_session(server, compressing("zlib"));
    let up = compressible(500_000, 3);
    let down = compressible(500_000, 4);
    let (client_wire, server_wire) = move_data(&mut p, &ch, &up, &down, 7);
    assert!(client_wire * 10 < up.len() && server_wire * 10 < down.len(), "{client_wire} {server_wire}");
}

#[test]
fn a_session_that_inflates_past_the_packet_limit_is_cut_with_reason_6() {
    let (mut p, ch) = logged_in_session(test_server(), compressing("zlib@openssh.com"));
    // 4 MiB of zeros deflate to a few KiB: a legal packet length carrying a payload 16 times the limit.
    p.send(&channel_data(ch.remote, &vec![0; 4 << 20]));
    let (description, _) = p.expect_disconnect(msg::DisconnectReason::CompressionError.code());
    assert!(description.contains("inflates past"), "{description}");
    // The server goes on serving others.
    complete_exec_session(p.into_server(), 9);
}
