//! Global requests reach the host, which answers them in order (RFC 4254 §4), the core's own refusals of
//! keepalives waiting behind its answers; a client that piles up requests makes the connection wait for
//! the host, not owe without bound. Channels the server opens (the reference's OpenChannel) are confirmed
//! or refused by the client, and carry data once confirmed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::keys::{HostKey, SigAlg};
use wasshd_core::msg;
use wasshd_core::server::{CommandError, MAX_PENDING_GLOBAL};
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::Event;

fn global(name: &str, want_reply: bool, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg::GLOBAL_REQUEST);
    w.string(name.as_bytes()).bool(want_reply);
    fields(&mut w);
    w.into_vec()
}

fn tcpip_forward(port: u32) -> Vec<u8> {
    global("tcpip-forward", true, |w| {
        w.string(b"127.0.0.1").u32(port);
    })
}

fn logged_in(seed: u64) -> Pair {
    let mut p = Pair::on(test_server(), ClientOptions::default(), seed);
    p.handshake();
    p.login();
    p
}

fn replies(p: &mut Pair) -> Vec<Vec<u8>> {
    p.pump();
    p.client.inbox.drain(..).filter(|m| matches!(m[0], msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE)).collect()
}

#[test]
fn a_global_request_reaches_the_host_and_its_answer_goes_out_with_data_and_in_order() {
    let mut p = logged_in(1);
    p.send(&tcpip_forward(0));
    match p.expect_event() {
        Event::GlobalRequest { name, data, want_reply } => {
            assert_eq!((name.as_str(), want_reply), ("tcpip-forward", true));
            let mut r = Reader::new(&data);
            assert_eq!((r.utf8().unwrap(), r.u32().unwrap()), ("127.0.0.1", 0));
        }
        other => panic!("expected GlobalRequest, got {other:?}"),
    }
    // A keepalive after it is answered by the core, but only after the host's answer.
    p.send(&global("keepalive@openssh.com", true, |_| {}));
    p.send(&global("cancel-tcpip-forward", true, |w| {
        w.string(b"127.0.0.1").u32(40_000);
    }));
    assert!(matches!(p.expect_event(), Event::GlobalRequest { ref name, .. } if name == "cancel-tcpip-forward"));
    assert_eq!(replies(&mut p), Vec::<Vec<u8>>::new(), "nothing goes out before the host's first answer");

    p.server.reply_global_request(p.id, true, &40_000u32.to_be_bytes()).unwrap();
    assert_eq!(replies(&mut p), [vec![msg::REQUEST_SUCCESS, 0, 0, 0x9c, 0x40], vec![msg::REQUEST_FAILURE]]);
    p.server.reply_global_request(p.id, false, &[]).unwrap();
    assert_eq!(replies(&mut p), [vec![msg::REQUEST_FAILURE]]);
    assert_eq!(p.server.reply_global_request(p.id, true, &[]), Err(CommandError::NothingPending));
}

#[test]
fn a_request_without_want_reply_gets_no_reply_whatever_the_host_answers() {
    let mut p = logged_in(2);
    p.send(&global("example@wasshd", false, |_| {}));
    assert!(matches!(p.expect_event(), Event::GlobalRequest { want_reply: false, .. }));
    p.server.reply_global_request(p.id, true, b"ignored").unwrap();
    assert_eq!(replies(&mut p), Vec::<Vec<u8>>::new());
}

#[test]
fn piled_up_global_requests_make_the_connection_wait_for_the_host() {
    let mut p = logged_in(3);
    for _ in 0..MAX_PENDING_GLOBAL + 4 {
        p.send(&tcpip_forward(0));
    }
    let asked = p.drain_events().iter().filter(|e| matches!(e, Event::GlobalRequest { .. })).count();
    assert_eq!(asked, MAX_PENDING_GLOBAL, "the host owes no more than the bound");
    assert!(p.server.decision_pending(p.id), "the rest waits in the input");
    p.server.reply_global_request(p.id, false, &[]).unwrap();
    let asked = p.drain_events().iter().filter(|e| matches!(e, Event::GlobalRequest { .. })).count();
    assert_eq!(asked, 1, "one answer lets one more in");
}

#[test]
fn global_requests_are_connection_messages_refused_before_authentication() {
    let mut p = Pair::on(test_server(), ClientOptions::default(), 4);
    p.handshake();
    p.request_service();
    p.send(&tcpip_forward(0));
    p.expect_disconnect(2);
}

#[test]
fn a_channel_the_server_opens_carries_data_once_the_client_confirms_it() {
    let mut p = logged_in(5);
    let mut data = Writer::new();
    data.string(b"127.0.0.1").u32(40_000).string(b"127.0.0.1").u32(50_000);
    let ch = p.server.open_channel(p.id, "forwarded-tcpip", data.as_slice()).unwrap();
    p.pump();
    let open = p.expect_msg(msg::CHANNEL_OPEN);
    let mut r = Reader::new(&open[1..]);
    assert_eq!(r.utf8().unwrap(), "forwarded-tcpip");
    assert_eq!(r.u32().unwrap(), ch);
    let (_window, _max) = (r.u32().unwrap(), r.u32().unwrap());
    assert_eq!((r.utf8().unwrap(), r.u32().unwrap()), ("127.0.0.1", 40_000));
    // Not confirmed yet: nothing may be sent on it.
    assert_eq!(p.server.send_data(p.id, ch, 0, b"early", p.now), Err(CommandError::NoSuchChannel));

    let mut confirm = Writer::message(msg::CHANNEL_OPEN_CONFIRMATION);
    confirm.u32(ch).u32(77).u32(1 << 20).u32(32 * 1024);
    p.send(confirm.as_slice());
    assert!(matches!(p.expect_event(), Event::ChannelOpenConfirmed { channel } if channel == ch));
    assert_eq!(p.server.send_data(p.id, ch, 0, b"hello", p.now), Ok(5));
    p.pump();
    let sent = p.expect_msg(msg::CHANNEL_DATA);
    assert_eq!(parse_channel_data(&sent), (77, b"hello".to_vec()));
    p.send(&channel_data(ch, b"back"));
    assert!(matches!(p.expect_event(), Event::ChannelData { channel, ref data, .. } if channel == ch && data == b"back"));
}

#[test]
fn a_channel_the_client_refuses_is_reported_and_its_id_is_free() {
    let mut p = logged_in(6);
    let ch = p.server.open_channel(p.id, "forwarded-tcpip", &[]).unwrap();
    p.pump();
    p.expect_msg(msg::CHANNEL_OPEN);
    let mut failure = Writer::message(msg::CHANNEL_OPEN_FAILURE);
    failure.u32(ch).u32(2).string(b"connect failed\x1b[2J").string(b"");
    p.send(failure.as_slice());
    match p.expect_event() {
        Event::ChannelOpenFailed { channel, reason, description } => {
            assert_eq!((channel, reason), (ch, 2));
            assert!(!description.contains('\x1b'), "escape sequences are quoted: {description:?}");
        }
        other => panic!("expected ChannelOpenFailed, got {other:?}"),
    }
    // A second answer for it, or one for a channel never opened, breaks the protocol.
    p.send(failure.as_slice());
    p.expect_disconnect(2);
}

#[test]
fn only_an_authenticated_connection_gets_server_opened_channels() {
    let mut p = Pair::on(test_server(), ClientOptions::default(), 7);
    p.handshake();
    assert_eq!(p.server.open_channel(p.id, "forwarded-tcpip", &[]), Err(CommandError::WrongState("not authenticated")));
}

#[test]
fn raw_messages_go_only_where_they_leave_the_protocol_state_as_it_was() {
    let mut p = logged_in(8);
    let ch = p.open_session(40, 1 << 20, 32 * 1024);
    let mut request = Writer::new();
    request.string(b"exit-status").bool(false).u32(7);
    p.server.send_raw(p.id, Some(ch.remote), msg::CHANNEL_REQUEST, request.as_slice()).unwrap();
    let sent = p.expect_msg(msg::CHANNEL_REQUEST);
    let mut r = Reader::new(&sent[1..]);
    assert_eq!(
        (r.u32().unwrap(), r.utf8().unwrap(), r.bool().unwrap(), r.u32().unwrap()),
        (40, "exit-status", false, 7),
        "the recipient is the client's id"
    );

    let mut asks = Writer::new();
    asks.string(b"exit-status").bool(true);
    let refused = [
        p.server.send_raw(p.id, Some(ch.remote), msg::CHANNEL_REQUEST, asks.as_slice()),
        p.server.send_raw(p.id, None, msg::CHANNEL_REQUEST, request.as_slice()),
        p.server.send_raw(p.id, Some(ch.remote), msg::CHANNEL_DATA, b"\0\0\0\x01x"),
        p.server.send_raw(p.id, None, msg::KEXINIT, &[0; 16]),
        p.server.send_raw(p.id, None, msg::GLOBAL_REQUEST, asks.as_slice()),
    ];
    assert!(refused.iter().all(|r| matches!(r, Err(CommandError::Invalid(_)))), "{refused:?}");
    p.server.send_raw(p.id, None, 200, b"local extension").unwrap();
    assert_eq!(p.expect_msg(200), b"\xc8local extension");

    let mut fresh = Pair::on(test_server(), ClientOptions::default(), 9);
    fresh.handshake();
    assert_eq!(fresh.server.send_raw(fresh.id, None, 200, &[]), Err(CommandError::WrongState("not authenticated")));
}

/// OpenSSH's host-key rotation: after the login the server names its host key and the next key it will move
/// to; proofs for both verify over the session identifier, in the order asked; a key it does not hold, or a
/// proof asked behind a request the host has not answered yet, gets its reply in turn.
#[test]
fn host_keys_are_announced_after_login_and_proven_on_request() {
    let next = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[42; 32]));
    let mut server = test_server();
    server.add_next_host_key(HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[42; 32])));
    let mut p = Pair::on(server, ClientOptions::default(), 9);
    p.handshake();
    assert!(p.client.host_key_announcements.is_empty(), "nothing is named before the login");
    p.login();
    p.pump();
    let [announcement] = &p.client.host_key_announcements[..] else { panic!("one announcement: {:?}", p.client.host_key_announcements) };
    let mut r = Reader::new(&announcement[1..]);
    assert_eq!((r.utf8().unwrap(), r.bool().unwrap()), ("hostkeys-00@openssh.com", false));
    let named: Vec<Vec<u8>> = core::iter::from_fn(|| (r.remaining() > 0).then(|| r.string().unwrap().to_vec())).collect();
    assert_eq!(named, [host_key().public().blob(), next.public().blob()]);

    // A request the host decides, then a proof: the proof's answer waits for the host's.
    p.send(&tcpip_forward(0));
    assert!(matches!(p.expect_event(), Event::GlobalRequest { .. }));
    p.send(&global("hostkeys-prove-00@openssh.com", true, |w| {
        w.string(&next.public().blob()).string(&host_key().public().blob());
    }));
    assert_eq!(replies(&mut p), Vec::<Vec<u8>>::new());
    p.server.reply_global_request(p.id, false, &[]).unwrap();
    let replies_now = replies(&mut p);
    assert_eq!(replies_now.len(), 2);
    assert_eq!(replies_now[0], [msg::REQUEST_FAILURE]);
    let mut proofs = Reader::new(&replies_now[1]);
    assert_eq!(proofs.u8().unwrap(), msg::REQUEST_SUCCESS);
    let session_id = p.client.session_id.clone().unwrap();
    for key in [&next, &host_key()] {
        let mut signed = Writer::new();
        signed.string(b"hostkeys-prove-00@openssh.com").string(&session_id).string(&key.public().blob());
        assert!(key.public().verify(SigAlg::Ed25519, signed.as_slice(), proofs.string().unwrap()));
    }
    assert_eq!(proofs.remaining(), 0);

    // A key the server does not hold is refused, and so is a malformed list; the connection goes on.
    let stranger = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[43; 32]));
    p.send(&global("hostkeys-prove-00@openssh.com", true, |w| {
        w.string(&stranger.public().blob());
    }));
    p.send(&global("hostkeys-prove-00@openssh.com", true, |w| {
        w.u32(1000);
    }));
    assert_eq!(replies(&mut p), [vec![msg::REQUEST_FAILURE], vec![msg::REQUEST_FAILURE]]);
    assert!(p.client.disconnect.is_none());
}
