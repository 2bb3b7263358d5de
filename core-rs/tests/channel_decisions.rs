//! Channel decisions wait per channel: a channel open or request the host has not answered holds up
//! neither the other channels nor the transport (data, window adjusts, EOF and CLOSE, keepalives, key
//! exchanges). A hostile client cannot make the host owe decisions without bound: past a few opens, or a
//! few replies on one channel, the connection takes no more input until the host answers one. Replies
//! address their channel and go out in the order of its requests (RFC 4254 §5.4).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::msg;
use wasshd_core::server::{CommandError, MAX_PENDING_OPENS, MAX_PENDING_REQUESTS};
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{Event, Server};

fn request(recipient: u32, name: &str, want_reply: bool, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_REQUEST);
    w.u32(recipient).string(name.as_bytes()).bool(want_reply);
    fields(&mut w);
    w.into_vec()
}

fn exec(recipient: u32, command: &str) -> Vec<u8> {
    request(recipient, "exec", true, |w| {
        w.string(command.as_bytes());
    })
}

fn env(recipient: u32, want_reply: bool) -> Vec<u8> {
    request(recipient, "env", want_reply, |w| {
        w.string(b"LANG").string(b"C");
    })
}

fn keepalive(recipient: u32) -> Vec<u8> {
    request(recipient, "keepalive@openssh.com", true, |_| {})
}

fn logged_in(server: Server, seed: u64) -> Pair {
    let mut p = Pair::on(server, ClientOptions::default(), seed);
    p.handshake();
    p.login();
    p
}

/// The channel an event is about, for the decision and channel events.
fn channel_of(e: &Event) -> Option<u32> {
    match e {
        Event::ChannelOpenRequest { channel, .. }
        | Event::ChannelRequest { channel, .. }
        | Event::ChannelData { channel, .. }
        | Event::ChannelEof { channel }
        | Event::ChannelClosed { channel }
        | Event::ChannelReadyToSend { channel } => Some(*channel),
        _ => None,
    }
}

/// Every message the client received, as (type, recipient channel) for channel messages.
fn received(p: &mut Pair) -> Vec<(u8, Option<u32>)> {
    p.pump();
    p.client
        .inbox
        .drain(..)
        .map(|m| {
            let recipient =
                (msg::CHANNEL_OPEN_CONFIRMATION..=msg::CHANNEL_FAILURE).contains(&m[0]).then(|| Reader::new(&m[1..]).u32().unwrap());
            (m[0], recipient)
        })
        .collect()
}

#[test]
fn a_pending_request_holds_up_neither_other_channels_nor_the_transport() {
    let mut server = test_server();
    server.config_mut().set("SSHKeepAliveInterval", "10").unwrap();
    let mut p = logged_in(server, 1);
    let a = p.open_session(10, 1 << 20, 32 * 1024);
    let b = p.open_session(11, u32::MAX, 32 * 1024);

    p.send(&exec(a.remote, "slow to decide"));
    assert!(matches!(p.expect_event(), Event::ChannelRequest { channel, .. } if channel == a.remote));
    assert!(!p.server.decision_pending(p.id), "a channel request pauses nothing");

    // Typed ahead on A: delivered after its request, before the host has answered.
    p.send(&channel_data(a.remote, b"stdin typed ahead"));
    assert!(
        matches!(p.expect_event(), Event::ChannelData { channel, ref data, .. } if channel == a.remote && data == b"stdin typed ahead")
    );

    // B moves 2 MiB each way, its windows reopening as the host consumes.
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let sent = pattern(2 << 20, 3);
    for piece in sent.chunks(32 * 1024) {
        p.send(&channel_data(b.remote, piece));
        let mut at = 0;
        while at < piece.len() {
            at += p.server.send_data(p.id, b.remote, 0, &piece[at..], p.now).unwrap();
            p.collect_data(b.remote, &mut up, &mut down);
        }
        p.collect_data(b.remote, &mut up, &mut down);
    }
    assert!(up == sent && down == sent, "B's data arrives whole both ways: {} up, {} down", up.len(), down.len());

    // A key exchange each way and a keepalive complete meanwhile.
    p.client.rekey();
    assert!(matches!(p.expect_event(), Event::KeysExchanged(s) if !s.initial));
    p.server.rekey(p.id).unwrap();
    assert!(matches!(p.expect_event(), Event::KeysExchanged(s) if !s.initial));
    assert_eq!(p.client.kexes_done, 3);
    p.now = p.server.next_deadline(p.id).unwrap();
    p.server.handle_timeout(p.id, p.now).unwrap();
    p.expect_msg(msg::GLOBAL_REQUEST);
    p.send(&[msg::REQUEST_FAILURE]);
    p.pump();
    assert_eq!(p.server.next_deadline(p.id), Some(p.now + 10_000), "the keepalive was answered");

    // A's decision, at last: its reply goes to A.
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    assert_eq!(received(&mut p), [(msg::CHANNEL_SUCCESS, Some(a.local))]);
    assert!(p.client.error.is_none() && p.client.disconnect.is_none());
}

/// RFC 4254 §5.4: replies go in the order of the requests on each channel. The core's own refusals (of
/// OpenSSH's keepalives here) wait behind the host's decisions before them; channels do not wait for each
/// other.
#[test]
fn replies_go_in_the_order_of_their_channels_requests() {
    let mut p = logged_in(test_server(), 2);
    let a = p.open_session(20, 1 << 20, 32 * 1024);
    let b = p.open_session(21, 1 << 20, 32 * 1024);
    p.send(&exec(a.remote, "first"));
    p.send(&keepalive(a.remote));
    p.send(&keepalive(a.remote));
    p.send(&env(a.remote, true));
    p.send(&exec(b.remote, "other"));
    let asked: Vec<u32> = p.drain_events().iter().filter_map(channel_of).collect();
    assert_eq!(asked, [a.remote, a.remote, b.remote]);
    assert_eq!(received(&mut p), [], "the keepalives' refusals wait for A's first reply");

    p.server.reply_channel_request(p.id, b.remote, false).unwrap();
    assert_eq!(received(&mut p), [(msg::CHANNEL_FAILURE, Some(b.local))]);
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    let failure = (msg::CHANNEL_FAILURE, Some(a.local));
    assert_eq!(received(&mut p), [(msg::CHANNEL_SUCCESS, Some(a.local)), failure, failure]);
    p.server.reply_channel_request(p.id, a.remote, false).unwrap();
    assert_eq!(received(&mut p), [failure]);
    // Nothing is owed any more: the core's refusals go out at once.
    p.send(&keepalive(a.remote));
    assert_eq!(received(&mut p), [failure]);
}

#[test]
fn replies_to_unknown_channels_or_with_nothing_owed_are_refused_and_change_nothing() {
    let mut p = logged_in(test_server(), 3);
    let a = p.open_session(30, 1 << 20, 32 * 1024);
    let b = p.open_session(31, 1 << 20, 32 * 1024);
    p.send(&channel_open("session", 32, 1 << 20, 32 * 1024));
    let Event::ChannelOpenRequest { channel: opening, .. } = p.expect_event() else { panic!("expected an open request") };
    p.send(&exec(a.remote, "pending"));
    assert!(matches!(p.expect_event(), Event::ChannelRequest { .. }));

    assert_eq!(p.server.reply_channel_request(p.id, 999, true), Err(CommandError::NoSuchChannel));
    assert_eq!(p.server.reply_channel_open(p.id, 999, true, 0, ""), Err(CommandError::NoSuchChannel));
    assert_eq!(p.server.reply_channel_request(p.id, b.remote, true), Err(CommandError::NothingPending), "B owes nothing");
    assert_eq!(p.server.reply_channel_request(p.id, opening, true), Err(CommandError::NothingPending), "an open is not a request");
    assert_eq!(p.server.reply_channel_open(p.id, a.remote, true, 0, ""), Err(CommandError::NothingPending), "A is open already");
    assert_eq!(received(&mut p), []);

    // The decisions that are owed are still there.
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    p.server.reply_channel_open(p.id, opening, false, 0, "no").unwrap();
    assert_eq!(received(&mut p), [(msg::CHANNEL_SUCCESS, Some(a.local)), (msg::CHANNEL_OPEN_FAILURE, Some(32))]);
    assert_eq!(p.server.reply_channel_request(p.id, a.remote, true), Err(CommandError::NothingPending), "answered once");
    assert!(p.client.disconnect.is_none());
    complete_exec_session(p.into_server(), 33);
}

/// A client that floods one channel with requests gets `MAX_PENDING_REQUESTS` of them to the host; then
/// the connection reads nothing more until the host answers, and each answer lets one more in. No request
/// is lost and none is refused for the flood: the client only waits.
#[test]
fn a_request_flood_pauses_input_at_the_bound_and_each_reply_lets_one_more_in() {
    let mut p = logged_in(test_server(), 4);
    let a = p.open_session(40, 1 << 20, 32 * 1024);
    let b = p.open_session(41, 1 << 20, 32 * 1024);
    const FLOOD: usize = 200;
    for _ in 0..FLOOD {
        p.send(&env(a.remote, true));
    }
    p.send(&channel_data(b.remote, b"behind the flood"));
    let mut owed = p.drain_events().len();
    assert_eq!(owed, MAX_PENDING_REQUESTS);
    assert!(p.server.decision_pending(p.id), "input waits for the host");
    let (mut answered, mut data) = (0, 0);
    while owed > 0 {
        p.server.reply_channel_request(p.id, a.remote, answered % 2 == 0).unwrap();
        answered += 1;
        for e in p.drain_events() {
            match e {
                Event::ChannelRequest { channel, .. } if channel == a.remote => owed += 1,
                Event::ChannelData { channel, .. } if channel == b.remote => data += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        owed -= 1;
        assert!(owed <= MAX_PENDING_REQUESTS, "{owed} owed");
        assert_eq!(p.server.decision_pending(p.id), owed == MAX_PENDING_REQUESTS);
    }
    assert_eq!((answered, data), (FLOOD, 1));
    let replies = received(&mut p);
    assert_eq!(replies.len(), FLOOD);
    for (i, reply) in replies.into_iter().enumerate() {
        let expected = if i % 2 == 0 { msg::CHANNEL_SUCCESS } else { msg::CHANNEL_FAILURE };
        assert_eq!(reply, (expected, Some(a.local)), "reply {i}");
    }
    assert!(p.client.disconnect.is_none());
}

/// The core's own refusals count toward the bound too: keepalives piling up behind one pending request
/// cannot grow the queue of replies.
#[test]
fn refusals_waiting_behind_a_pending_request_count_toward_the_bound() {
    let mut p = logged_in(test_server(), 5);
    let a = p.open_session(50, 1 << 20, 32 * 1024);
    p.send(&exec(a.remote, "pending"));
    for _ in 0..1000 {
        p.send(&keepalive(a.remote));
    }
    assert_eq!(p.drain_events().len(), 1);
    assert!(p.server.decision_pending(p.id));
    assert_eq!(received(&mut p), []);
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    // The reply, then every refusal: the ones that waited and, nothing being owed any more, the rest at once.
    let replies = received(&mut p);
    assert_eq!(replies.len(), 1001);
    assert_eq!(replies[0], (msg::CHANNEL_SUCCESS, Some(a.local)));
    assert!(replies[1..].iter().all(|r| *r == (msg::CHANNEL_FAILURE, Some(a.local))));
    assert!(!p.server.decision_pending(p.id));
}

#[test]
fn an_open_flood_pauses_input_at_the_bound_and_each_answer_lets_one_more_in() {
    let mut p = logged_in(test_server(), 6);
    const FLOOD: u32 = 40;
    for sender in 0..FLOOD {
        p.send(&channel_open("session", 1000 + sender, 1 << 20, 32 * 1024));
    }
    let mut asked: Vec<u32> = p.drain_events().iter().filter_map(channel_of).collect();
    assert_eq!(asked.len(), MAX_PENDING_OPENS);
    assert!(p.server.decision_pending(p.id));
    let mut answered = 0;
    while let Some(channel) = (!asked.is_empty()).then(|| asked.remove(0)) {
        p.server.reply_channel_open(p.id, channel, answered % 3 != 0, 1, "no").unwrap();
        answered += 1;
        asked.extend(p.drain_events().iter().filter_map(channel_of));
        assert!(asked.len() <= MAX_PENDING_OPENS);
    }
    assert_eq!(answered, FLOOD);
    let replies = received(&mut p);
    let expected: Vec<(u8, Option<u32>)> =
        (0..FLOOD).map(|i| (if i % 3 != 0 { msg::CHANNEL_OPEN_CONFIRMATION } else { msg::CHANNEL_OPEN_FAILURE }, Some(1000 + i))).collect();
    assert_eq!(replies, expected);
    assert!(p.client.disconnect.is_none());
}

/// RFC 4254 §5.3 asks a party to answer CLOSE with CLOSE, not at once: a channel the client closes while
/// replies are owed gets them first, then the CLOSE. Its id is not handed out meanwhile, and once closed a
/// reply is refused as for any unknown channel. A channel closed both ways (we closed first) takes the
/// host's replies and drops them.
#[test]
fn a_channel_closed_while_replies_are_owed_gets_them_before_its_close() {
    let mut p = logged_in(test_server(), 7);
    let a = p.open_session(70, 1 << 20, 32 * 1024);
    p.send(&exec(a.remote, "pending"));
    p.send(&channel_data(a.remote, b"typed ahead"));
    p.send(&channel_only(msg::CHANNEL_EOF, a.remote));
    p.send(&channel_only(msg::CHANNEL_CLOSE, a.remote));
    let events = p.drain_events();
    let order: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::ChannelRequest { .. } => "request",
            Event::ChannelData { .. } => "data",
            Event::ChannelEof { .. } => "eof",
            Event::ChannelClosed { .. } => "closed",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(order, ["request", "data", "eof", "closed"]);
    assert_eq!(received(&mut p), [], "our CLOSE waits for the reply");
    assert_eq!(p.server.send_data(p.id, a.remote, 0, b"late", p.now), Err(CommandError::NoSuchChannel));
    let next = p.open_session(71, 1 << 20, 32 * 1024);
    assert_ne!(next.remote, a.remote, "the id is still taken");

    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    assert_eq!(received(&mut p), [(msg::CHANNEL_SUCCESS, Some(a.local)), (msg::CHANNEL_CLOSE, Some(a.local))]);
    assert_eq!(p.server.reply_channel_request(p.id, a.remote, true), Err(CommandError::NoSuchChannel));

    // Closed by us first, then by the client, with a reply owed: the reply has no channel to go to.
    p.send(&exec(next.remote, "pending"));
    assert!(matches!(p.expect_event(), Event::ChannelRequest { .. }));
    p.server.close_channel(p.id, next.remote).unwrap();
    assert_eq!(received(&mut p), [(msg::CHANNEL_CLOSE, Some(next.local))]);
    p.send(&channel_only(msg::CHANNEL_CLOSE, next.remote));
    assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }));
    p.server.reply_channel_request(p.id, next.remote, true).unwrap();
    assert_eq!(received(&mut p), []);
    assert!(p.client.disconnect.is_none());
    complete_exec_session(p.into_server(), 72);
}

/// A client learns a channel's id from our confirmation (RFC 4254 §5.1), so only a replayed or hostile
/// stream names it before the host has answered the open. Such a message waits for the answer, holding up
/// the input behind it: after an accept it is taken as the client would have sent it, after a refusal it
/// names no channel.
#[test]
fn a_message_naming_a_channel_before_its_open_is_answered_waits_for_the_answer() {
    let mut server = test_server();
    for accept in [true, false] {
        let mut p = logged_in(server, 8);
        // The first channel of a connection gets id 0.
        p.send(&channel_open("session", 80, 1 << 20, 32 * 1024));
        p.send(&exec(0, "sent blind"));
        p.send(&channel_data(0, b"also blind"));
        let events = p.drain_events();
        assert!(matches!(events.as_slice(), [Event::ChannelOpenRequest { channel: 0, .. }]), "{events:?}");
        assert!(p.server.decision_pending(p.id), "input waits for the open");
        p.server.reply_channel_open(p.id, 0, accept, 0, "no").unwrap();
        if accept {
            let events = p.drain_events();
            assert!(
                matches!(events.as_slice(), [Event::ChannelRequest { channel: 0, .. }, Event::ChannelData { channel: 0, .. }]),
                "{events:?}"
            );
            assert!(!p.server.decision_pending(p.id));
        } else {
            let (description, _) = p.expect_disconnect(2);
            assert_eq!(description, "no such channel 0");
        }
        server = p.into_server();
    }
    complete_exec_session(server, 81);
}

/// A reply given while a key exchange runs waits for its end with the other held messages; a client at
/// the bound cannot rekey until the host answers (its KEXINIT waits with the rest of its input), and then
/// does.
#[test]
fn pending_decisions_interleave_with_key_exchanges() {
    let mut p = logged_in(test_server(), 9);
    let a = p.open_session(90, 1 << 20, 32 * 1024);
    p.send(&exec(a.remote, "pending"));
    assert!(matches!(p.expect_event(), Event::ChannelRequest { .. }));

    // The client's KEXINIT reaches the server, which answers with its own: the exchange runs.
    p.client.rekey();
    p.deliver_to_server();
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    assert!(matches!(p.expect_event(), Event::KeysExchanged(s) if !s.initial));
    assert_eq!(received(&mut p), [(msg::CHANNEL_SUCCESS, Some(a.local))]);

    // At the bound, a re-exchange waits for an answer.
    for _ in 0..MAX_PENDING_REQUESTS {
        p.send(&env(a.remote, false));
    }
    assert_eq!(p.drain_events().len(), MAX_PENDING_REQUESTS);
    p.client.rekey();
    p.pump();
    assert!(p.client.in_kex() && p.server.decision_pending(p.id));
    p.server.reply_channel_request(p.id, a.remote, true).unwrap();
    assert!(matches!(p.expect_event(), Event::KeysExchanged(s) if !s.initial));
    assert_eq!(p.client.kexes_done, 3);
    assert!(p.client.error.is_none() && p.client.disconnect.is_none());
}
