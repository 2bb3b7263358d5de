//! The server starts a key re-exchange after `Config::rekey_packets` packets (2^30 by default), whatever
//! the byte count, counting both directions. 2^30 packets take far too long to send here, so these tests
//! lower the threshold; the byte threshold stays at its 1 GiB default, which the small packets never reach.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::config::Config;
use wasshd_core::msg;
use wasshd_core::{Event, Server};

const THRESHOLD: u32 = 100;
/// Packets counted since the last exchange before a test starts counting its own (EXT_INFO, the login,
/// the channel open and exec, and their answers): the first re-exchange comes this much early at most.
const COUNTED_BEFORE: u32 = 12;

fn server_with_threshold(packets: Option<u32>) -> Server {
    let mut server = test_server();
    if let Some(n) = packets {
        server.config_mut().rekey_packets = n;
    }
    assert_eq!(server.config().rekey_bytes, 1 << 30);
    server
}

fn logged_in_session(server: Server) -> (Pair, OpenChannel) {
    let mut p = Pair::on(server, ClientOptions::default(), 3);
    p.handshake();
    p.login();
    let ch = p.open_session(5, 1 << 24, 32 * 1024);
    p.exec(&ch, b"cat");
    (p, ch)
}

fn ignore() -> Vec<u8> {
    let mut w = wasshd_core::wire::Writer::message(msg::IGNORE);
    w.string(b"x");
    w.into_vec()
}

/// Sends IGNOREs one packet at a time, each delivered at once, until the server's KEXINIT arrives;
/// returns how many went before it, or `None` if `limit` went without one.
fn ignores_until_server_kexinit(p: &mut Pair, limit: u32) -> Option<u32> {
    let before = p.client.server_kexinits;
    for n in 1..=limit {
        p.send(&ignore());
        p.deliver_to_server();
        p.deliver_to_client();
        if p.client.server_kexinits > before {
            return Some(n);
        }
    }
    None
}

/// Lets the exchange the server started run to its end; the session must still carry data.
fn finish_rekey(p: &mut Pair, ch: &OpenChannel, kexes: u32) {
    p.pump();
    let events = p.take_events();
    let rekeyed = events.iter().filter(|e| matches!(e, Event::KeysExchanged(s) if !s.initial)).count();
    assert_eq!(rekeyed, 1, "{events:?}");
    assert_eq!(p.client.kexes_done, kexes);
    assert!(p.client.error.is_none(), "{:?}", p.client.error);
    p.send(&channel_data(ch.remote, b"after the exchange"));
    match p.expect_event() {
        Event::ChannelData { data, .. } => assert_eq!(data, b"after the exchange"),
        other => panic!("expected ChannelData, got {other:?}"),
    }
    p.server.consume_channel_data(p.id, ch.remote, 18).unwrap();
}

#[test]
fn the_default_is_two_to_the_thirty_packets() {
    assert_eq!(Config::default().rekey_packets, 1 << 30);
    assert_eq!(test_server().config().rekey_packets, 1 << 30);
    // Not a setting: the reference component has no such name.
    assert_eq!(Config::default().get("RekeyPackets"), None);
}

#[test]
fn packets_from_the_client_start_a_server_exchange_at_the_threshold_again_and_again() {
    let (mut p, ch) = logged_in_session(server_with_threshold(Some(THRESHOLD)));
    for round in 0..3u32 {
        let n = ignores_until_server_kexinit(&mut p, 2 * THRESHOLD)
            .unwrap_or_else(|| panic!("round {round}: no exchange after {} packets", 2 * THRESHOLD));
        if round == 0 {
            assert!(n > THRESHOLD - COUNTED_BEFORE && n <= THRESHOLD, "first exchange after {n} packets");
        } else {
            // The counter restarted at the last exchange; the channel data that proved it still works counts.
            assert!(n > THRESHOLD - 4 && n <= THRESHOLD, "round {round}: exchange after {n} packets");
        }
        finish_rekey(&mut p, &ch, round + 2);
    }
    assert_eq!(p.client.server_kexinits, 4, "every re-exchange was started by the server");
}

#[test]
fn packets_from_the_server_count_too() {
    let (mut p, ch) = logged_in_session(server_with_threshold(Some(THRESHOLD)));
    let before = p.client.server_kexinits;
    let mut sent = 0u32;
    while p.client.server_kexinits == before {
        assert!(sent < 2 * THRESHOLD, "no exchange after {sent} data packets from the server");
        assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"d", p.now).unwrap(), 1);
        sent += 1;
        p.deliver_to_client();
    }
    assert!(sent > THRESHOLD - COUNTED_BEFORE && sent <= THRESHOLD, "exchange after {sent} packets");
    let mut data = 0;
    while let Some(m) = p.client.inbox.pop_front() {
        assert_eq!(parse_channel_data(&m), (ch.local, b"d".to_vec()));
        data += 1;
    }
    assert_eq!(data, sent);
    finish_rekey(&mut p, &ch, 2);
}

#[test]
fn at_the_default_threshold_the_same_traffic_starts_no_exchange() {
    let (mut p, _ch) = logged_in_session(server_with_threshold(None));
    assert_eq!(ignores_until_server_kexinit(&mut p, 10 * THRESHOLD), None);
    assert_eq!(p.client.kexes_done, 1);
}
