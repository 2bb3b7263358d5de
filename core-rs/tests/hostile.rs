//! Hostile clients: a peer that breaks the protocol on purpose, in every state, must get the RFC 4253
//! answer (a DISCONNECT with the right reason, SSH_MSG_UNIMPLEMENTED, or nothing), must never reach the
//! connection layer before it has authenticated, and must be held to a limit for every resource it can
//! make the server spend. After every hostile connection the same `Server` serves a well-behaved one.
//!
//! Most rule families are tables: one test loops over its cases, collects every case whose outcome
//! differs from the one the RFCs call for, and fails naming them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::client::RawKeys;
use common::*;
use wasshd_core::crypto::cipher::{ChaChaPoly, Gcm, PacketMac};
use wasshd_core::crypto::provider::{SequentialCipher, CryptoProvider};
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;
use wasshd_core::msg;
use wasshd_core::server::{CommandError, CALL_OUTPUT_BUDGET, KEX_TIMEOUT_MS, MAX_PENDING_OPENS, MAX_PENDING_REQUESTS};
use wasshd_core::transport::compress::{Deflater, ZlibStream};
use wasshd_core::transport::negotiate::CipherAlg;
use wasshd_core::transport::packet::MAX_PACKET_LEN;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{AuthMethod, AuthReply, Event, Server};

// RFC 4253 §11.1 disconnect reason codes.
const PROTOCOL_ERROR: u32 = 2;
const KEX_FAILED: u32 = 3;
const MAC_ERROR: u32 = 5;
const SERVICE_NOT_AVAILABLE: u32 = 7;
const CONNECTION_LOST: u32 = 10;
const BY_APPLICATION: u32 = 11;
const NO_MORE_AUTH_METHODS: u32 = 14;
const ILLEGAL_USER_NAME: u32 = 15;

// ---- what the server did ----------------------------------------------------------------------------

fn event_name(e: &Event) -> &'static str {
    match e {
        Event::Log { .. } => "Log",
        Event::ClientVersion { .. } => "ClientVersion",
        Event::KeysExchanged(_) => "KeysExchanged",
        Event::ServiceRequest { .. } => "ServiceRequest",
        Event::AuthRequest(_) => "AuthRequest",
        Event::Authenticated { .. } => "Authenticated",
        Event::ChannelOpenRequest { .. } => "ChannelOpenRequest",
        Event::ChannelRequest { .. } => "ChannelRequest",
        Event::ChannelData { .. } => "ChannelData",
        Event::ChannelEof { .. } => "ChannelEof",
        Event::ChannelClosed { .. } => "ChannelClosed",
        Event::ChannelReadyToSend { .. } => "ChannelReadyToSend",
        Event::GlobalRequest { .. } => "GlobalRequest",
        Event::ChannelOpenConfirmed { .. } => "ChannelOpenConfirmed",
        Event::ChannelOpenFailed { .. } => "ChannelOpenFailed",
        Event::Disconnected { .. } => "Disconnected",
    }
}

/// The connection-layer events no unauthenticated client may cause.
const CONNECTION_LAYER_EVENTS: &[&str] = &[
    "ChannelOpenRequest",
    "ChannelRequest",
    "ChannelData",
    "ChannelEof",
    "ChannelClosed",
    "GlobalRequest",
    "ChannelOpenConfirmed",
    "ChannelOpenFailed",
];

/// How the server answered one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// It sent DISCONNECT with this reason, reported it, and takes no more input.
    Fatal(u32),
    /// It took the client's own DISCONNECT as the end, and answered nothing.
    PeerLeft,
    /// It answered SSH_MSG_UNIMPLEMENTED carrying the probe's sequence number, and nothing else.
    Unimplemented,
    /// No answer and no event.
    Ignored,
    /// One event for the host and no answer (yet).
    Event(&'static str),
    /// One message back and no event.
    Reply(u8),
    /// One event and one message back.
    EventAndReply(&'static str, u8),
    /// Anything else, described.
    Other(String),
}

use Outcome::*;

/// Pumps, then classifies everything the server did since the test last looked. `seq` is the sequence
/// number the probe went out with; events named in `setup` belong to the setup (a handshake) and are
/// left out.
fn observe(p: &mut Pair, seq: u32, setup: &[&str]) -> Outcome {
    observe_events(p, seq, setup).0
}

/// `observe`, also handing back the events it classified.
fn observe_events(p: &mut Pair, seq: u32, setup: &[&str]) -> (Outcome, Vec<Event>) {
    let events: Vec<Event> = p.drain_events().into_iter().filter(|e| !setup.contains(&event_name(e))).collect();
    let replies: Vec<Vec<u8>> = p.client.inbox.drain(..).collect();
    let ended = events.iter().find_map(|e| match e {
        Event::Disconnected { reason, by_peer, .. } => Some((*reason, *by_peer)),
        _ => None,
    });
    let others: Vec<&'static str> = events.iter().map(event_name).filter(|n| *n != "Disconnected").collect();
    let reply_types: Vec<u8> = replies.iter().map(|m| m[0]).collect();
    let outcome = match (ended, others.as_slice(), replies.as_slice()) {
        (Some((reason, false)), [], []) => match &p.client.disconnect {
            Some((told, _)) if *told == reason => Fatal(reason),
            _ if p.client.error.is_some() => Fatal(reason), // the client could not read it (a test that breaks the keys)
            told => Other(format!("reported reason {reason}, the client was told {told:?}")),
        },
        (Some((_, true)), [], []) if p.client.disconnect.is_none() => PeerLeft,
        (None, [], []) => Ignored,
        (None, [], [m]) if m[0] == msg::UNIMPLEMENTED => {
            let mut expected = vec![msg::UNIMPLEMENTED];
            expected.extend_from_slice(&seq.to_be_bytes());
            if *m == expected {
                Unimplemented
            } else {
                Other(format!("UNIMPLEMENTED {m:?} does not name sequence number {seq}"))
            }
        }
        (None, [], [m]) => Reply(m[0]),
        (None, [name], []) => Event(name),
        (None, [name], [m]) => EventAndReply(name, m[0]),
        _ => Other(format!("events {others:?}, ended {ended:?}, replies {reply_types:?}, server said {:?}", p.client.disconnect)),
    };
    if ended.is_some() {
        // An ended connection takes no more input, writes nothing more and wants no timer.
        p.server.input(p.id, b"SSH-2.0-more\r\n\0\0\0\x0c\x0a\x05", p.now).unwrap();
        if !p.server.take_output(p.id).is_empty() || p.server.next_deadline(p.id).is_some() || p.server.poll_event().is_some() {
            return (Other(format!("{outcome:?}, but the connection still acts after its end")), events);
        }
    }
    (outcome, events)
}

/// Fails naming every case whose outcome was not the expected one.
fn check(family: &str, results: &[(String, Outcome, Outcome)]) {
    let wrong: Vec<String> = results
        .iter()
        .filter(|(_, want, got)| want != got)
        .map(|(case, want, got)| format!("  {case}: expected {want:?}, got {got:?}"))
        .collect();
    assert!(wrong.is_empty(), "{family}: {} of {} cases wrong:\n{}", wrong.len(), results.len(), wrong.join("\n"));
}

// ---- messages a client can send ---------------------------------------------------------------------

fn client_kexinit() -> Vec<u8> {
    let mut w = Writer::message(msg::KEXINIT);
    w.raw(&[7; 16]);
    for list in ["curve25519-sha256", "ssh-ed25519", "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""] {
        w.string(list.as_bytes());
    }
    w.bool(false).u32(0);
    w.into_vec()
}

/// A well-formed message of type `n` (an unassigned number gets a string body), so that only the state
/// it arrives in can be wrong with it. Channel messages address `channel`.
fn probe(n: u8, channel: u32) -> Vec<u8> {
    let mut w = Writer::message(n);
    match n {
        msg::DISCONNECT => {
            w.u32(BY_APPLICATION).string(b"bye").string(b"");
        }
        msg::IGNORE => {
            w.string(b"hostile");
        }
        msg::UNIMPLEMENTED => {
            w.u32(0);
        }
        msg::DEBUG => {
            w.bool(false).string(b"hostile").string(b"");
        }
        msg::SERVICE_REQUEST | msg::SERVICE_ACCEPT => {
            w.string(b"ssh-userauth");
        }
        msg::EXT_INFO => {
            w.u32(1).string(b"server-sig-algs").string(b"ssh-ed25519");
        }
        msg::KEXINIT => return client_kexinit(),
        msg::NEWKEYS | msg::USERAUTH_SUCCESS | msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => {}
        msg::KEX_ECDH_INIT => {
            w.string(&[9; 32]);
        }
        msg::KEX_ECDH_REPLY => {
            w.string(&host_key().public().blob()).string(&[9; 32]).string(&[0; 83]);
        }
        msg::USERAUTH_REQUEST => return userauth_password("alice", "pw"),
        msg::USERAUTH_FAILURE => {
            w.name_list(&["password"]).bool(false);
        }
        msg::USERAUTH_BANNER => {
            w.string(b"hello").string(b"");
        }
        msg::USERAUTH_INFO_REQUEST => {
            w.string(b"").string(b"").string(b"").u32(0);
        }
        msg::USERAUTH_INFO_RESPONSE => {
            w.u32(1).string(b"answer");
        }
        msg::GLOBAL_REQUEST => {
            w.string(b"hostile@example.com").bool(true);
        }
        msg::CHANNEL_OPEN => return channel_open("session", 5, 1 << 20, 32 * 1024),
        msg::CHANNEL_OPEN_CONFIRMATION => {
            w.u32(channel).u32(9).u32(1 << 20).u32(32 * 1024);
        }
        msg::CHANNEL_OPEN_FAILURE => {
            w.u32(channel).u32(2).string(b"no").string(b"");
        }
        msg::CHANNEL_WINDOW_ADJUST => {
            w.u32(channel).u32(1000);
        }
        msg::CHANNEL_DATA => {
            w.u32(channel).string(b"data");
        }
        msg::CHANNEL_EXTENDED_DATA => {
            w.u32(channel).u32(1).string(b"err");
        }
        msg::CHANNEL_EOF | msg::CHANNEL_CLOSE | msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
            w.u32(channel);
        }
        msg::CHANNEL_REQUEST => {
            w.u32(channel).string(b"exec").bool(true).string(b"id");
        }
        _ => {
            w.string(b"no meaning");
        }
    }
    w.into_vec()
}

fn ignore_of(len: usize) -> Vec<u8> {
    let mut w = Writer::message(msg::IGNORE);
    w.string(&vec![0x49; len]);
    w.into_vec()
}

// ---- connections in a given state -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Keys exchanged, nothing asked for yet.
    Keyed,
    /// ssh-userauth accepted, nobody authenticated.
    ServiceAccepted,
    Authenticated,
}

fn staged(server: Server, stage: Stage, seed: u64) -> Pair {
    let mut p = Pair::on(server, ClientOptions::default(), seed);
    p.handshake();
    match stage {
        Stage::Keyed => {}
        Stage::ServiceAccepted => p.request_service(),
        Stage::Authenticated => p.login(),
    }
    assert!(p.drain_events().is_empty() && p.client.inbox.is_empty());
    p
}

/// Sends `payload` as the next packet and classifies the answer.
fn send_probe(p: &mut Pair, payload: &[u8]) -> Outcome {
    let seq = p.client.send_seq();
    p.send(payload);
    observe(p, seq, &[])
}

// ---- 1. state rules ---------------------------------------------------------------------------------

/// (a) Before the client's KEXINIT. Under strict kex KEXINIT must come first (OpenSSH PROTOCOL,
/// "kex-strict"); without it RFC 4253 §11.2-11.3 let IGNORE, DEBUG and UNIMPLEMENTED through. The client's
/// DISCONNECT (§11.1, "MUST be able to process") is the only other message with a meaning here; anything
/// else ends the connection, since a client that may still turn out strict cannot be answered.
fn expect_first_packet(n: u8, strict: bool) -> Outcome {
    match n {
        msg::DISCONNECT => PeerLeft,
        msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED if !strict => Ignored,
        _ => Fatal(PROTOCOL_ERROR),
    }
}

fn first_packet_outcome(server: Server, n: u8, strict: bool, seed: u64) -> (Outcome, Server) {
    let opts = ClientOptions { strict, ..Default::default() };
    let mut p = Pair::with_client(server, Client::with_prelude(opts, seed, &[&probe(n, 0)]), 0);
    let mut got = observe(&mut p, 0, &["ClientVersion", "KeysExchanged"]);
    if got == Ignored && p.client.kexes_done != 1 {
        got = Other(format!("the key exchange did not finish: {:?}", p.client.error));
    }
    (got, p.into_server())
}

#[test]
fn every_message_but_kexinit_as_the_first_packet_follows_the_pre_kex_rules() {
    let mut server = test_server();
    let mut results = Vec::new();
    for strict in [true, false] {
        for n in 0..=255u8 {
            // KEXINIT is the legitimate first packet; a first DISCONNECT has a test of its own below.
            if n == msg::KEXINIT || n == msg::DISCONNECT {
                continue;
            }
            let (got, s) = first_packet_outcome(server, n, strict, u64::from(n));
            server = s;
            results.push((format!("strict={strict} first message {n}"), expect_first_packet(n, strict), got));
        }
    }
    check("first packet", &results);
    assert_eq!(server.connection_count(), 0);
    complete_exec_session(server, 1);
}

/// The initial key exchange, after the client's KEXINIT (before its ECDH_INIT) or after its ECDH_INIT
/// (before its NEWKEYS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KexPoint {
    AfterKexinit,
    AfterEcdhInit,
}

/// (b) RFC 4253 §7.1: while a key exchange runs, only the transport's generic messages (1..=19 less
/// SERVICE_REQUEST and SERVICE_ACCEPT) and the key exchange messages (20..=49) may be sent; one the server
/// does not implement among them gets UNIMPLEMENTED (§11.4). Strict kex makes every unexpected message
/// fatal during the initial exchange, until the client's NEWKEYS.
fn expect_during_initial_kex(n: u8, strict: bool) -> Outcome {
    match n {
        msg::DISCONNECT => PeerLeft,
        _ if strict => Fatal(PROTOCOL_ERROR),
        msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED => Ignored,
        // EXT_INFO from a client is not implemented by the server in any state.
        7..=19 | 22..=29 => Unimplemented,
        _ => Fatal(PROTOCOL_ERROR),
    }
}

fn during_kex_outcome(server: Server, n: u8, strict: bool, at: KexPoint, seed: u64) -> (Outcome, Server) {
    let mut p = Pair::on(server, ClientOptions { strict, ..Default::default() }, seed);
    if at == KexPoint::AfterEcdhInit {
        p.deliver_to_server();
        p.deliver_to_client(); // the client answers the server's KEXINIT with its ECDH_INIT
    }
    let seq = p.client.send_seq();
    p.client.seal_now(&probe(n, 0));
    let mut got = observe(&mut p, seq, &["ClientVersion", "KeysExchanged"]);
    if matches!(got, Ignored | Unimplemented) && p.client.kexes_done != 1 {
        got = Other(format!("{got:?}, but the key exchange did not finish: {:?}", p.client.error));
    }
    (got, p.into_server())
}

#[test]
fn every_message_during_the_initial_key_exchange_follows_rfc_4253_7_1_and_strict_kex() {
    let mut server = test_server();
    let mut results = Vec::new();
    for strict in [true, false] {
        for at in [KexPoint::AfterKexinit, KexPoint::AfterEcdhInit] {
            for n in 0..=255u8 {
                // The message the exchange is waiting for is no probe.
                let expected_next = match at {
                    KexPoint::AfterKexinit => msg::KEX_ECDH_INIT,
                    KexPoint::AfterEcdhInit => msg::NEWKEYS,
                };
                if n == expected_next {
                    continue;
                }
                let (got, s) = during_kex_outcome(server, n, strict, at, 1000 + u64::from(n));
                server = s;
                results.push((format!("strict={strict} {at:?} message {n}"), expect_during_initial_kex(n, strict), got));
            }
        }
    }
    check("initial key exchange", &results);
    assert_eq!(server.connection_count(), 0);
    complete_exec_session(server, 2);
}

/// RFC 4253 §11.1: "All implementations MUST be able to process" SSH_MSG_DISCONNECT; it ends the
/// connection whatever the state, and the host should hear the client's reason rather than a protocol
/// error of the server's making (nor should the server answer a leaving client with a DISCONNECT).
#[test]
fn a_client_disconnect_is_honoured_before_kexinit_and_during_a_strict_initial_kex() {
    let mut server = test_server();
    let mut results = Vec::new();
    for strict in [true, false] {
        let (got, s) = first_packet_outcome(server, msg::DISCONNECT, strict, 3);
        server = s;
        results.push((format!("strict={strict} DISCONNECT as the first packet"), PeerLeft, got));
    }
    for at in [KexPoint::AfterKexinit, KexPoint::AfterEcdhInit] {
        let (got, s) = during_kex_outcome(server, msg::DISCONNECT, true, at, 4);
        server = s;
        results.push((format!("strict {at:?} DISCONNECT"), PeerLeft, got));
    }
    check("client DISCONNECT", &results);
    complete_exec_session(server, 3);
}

/// (c) and (d): after the key exchange. RFC 4253 §11.4: numbers the server does not implement get
/// UNIMPLEMENTED; RFC 4252 §5.1 and the core's rule: nothing of the connection protocol (80..=127) and no
/// authentication message other than the client's own (50, 61 when prompted) before authentication,
/// which is a protocol error (reason 2). Messages only a server sends are protocol errors too, except
/// SERVICE_ACCEPT and EXT_INFO, which the server simply does not implement. A second SERVICE_REQUEST
/// is refused with reason 7.
fn expect_after_kex(n: u8, stage: Stage) -> Option<Outcome> {
    use Stage::*;
    Some(match n {
        msg::KEXINIT => return None, // a re-exchange: the rekey tests cover it
        msg::DISCONNECT => PeerLeft,
        msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED => Ignored,
        msg::SERVICE_REQUEST if stage == Keyed => Event("ServiceRequest"),
        msg::SERVICE_REQUEST => Fatal(SERVICE_NOT_AVAILABLE),
        msg::SERVICE_ACCEPT | msg::EXT_INFO => Unimplemented,
        0 | 8..=19 | 22..=29 | 128..=255 => Unimplemented,
        msg::NEWKEYS | 30..=49 => Fatal(PROTOCOL_ERROR),
        msg::USERAUTH_REQUEST => match stage {
            Keyed => Fatal(PROTOCOL_ERROR),
            ServiceAccepted => Event("AuthRequest"),
            Authenticated => Ignored, // RFC 4252 §5.1: requests after success are ignored
        },
        51..=79 => Fatal(PROTOCOL_ERROR),
        80..=127 if stage != Authenticated => Fatal(PROTOCOL_ERROR),
        msg::GLOBAL_REQUEST => Event("GlobalRequest"),
        msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => Ignored,
        83..=89 | 101..=127 => Unimplemented,
        msg::CHANNEL_OPEN => Event("ChannelOpenRequest"),
        // Replies to opens the server never made, and anything on a channel that was never opened.
        msg::CHANNEL_OPEN_CONFIRMATION..=msg::CHANNEL_FAILURE => Fatal(PROTOCOL_ERROR),
    })
}

#[test]
fn every_message_before_authentication_follows_the_rules_and_reaches_no_connection_layer() {
    let mut server = test_server();
    let mut results = Vec::new();
    for stage in [Stage::Keyed, Stage::ServiceAccepted] {
        for n in 0..=255u8 {
            let Some(want) = expect_after_kex(n, stage) else { continue };
            let mut p = staged(server, stage, 3000 + u64::from(n));
            // `observe` turns any extra event or reply into `Other`; name the connection-layer ones.
            let got = match send_probe(&mut p, &probe(n, 0)) {
                Event(name) | EventAndReply(name, _) if CONNECTION_LAYER_EVENTS.contains(&name) => {
                    Other(format!("connection-layer event {name} before authentication"))
                }
                Reply(t) | EventAndReply(_, t) if (80..=127).contains(&t) => {
                    Other(format!("connection-layer reply {t} before authentication"))
                }
                got => got,
            };
            results.push((format!("{stage:?} message {n}"), want, got));
            server = p.into_server();
        }
    }
    check("before authentication", &results);
    assert_eq!(server.connection_count(), 0);
    complete_exec_session(server, 5);
}

#[test]
fn every_message_after_authentication_follows_the_rules_including_server_only_ones() {
    let mut server = test_server();
    let mut results = Vec::new();
    for n in 0..=255u8 {
        let Some(want) = expect_after_kex(n, Stage::Authenticated) else { continue };
        let mut p = staged(server, Stage::Authenticated, 4000 + u64::from(n));
        // Channel messages name channel 7, which was never opened.
        let got = send_probe(&mut p, &probe(n, 7));
        results.push((format!("message {n}"), want, got));
        server = p.into_server();
    }
    check("after authentication", &results);
    complete_exec_session(server, 6);
}

/// (e) Where the channel a message names stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelState {
    Open,
    /// An id next to an open channel's, never used.
    NeverOpened,
    /// The host refused the open.
    Refused,
    /// The server closed it and the client confirmed: it is gone.
    ClosedBothWays,
    /// The client closed it and the server confirmed: it is gone.
    ClosedByClient,
    /// The server sent CLOSE; the client has not answered yet, so its messages may still be in flight
    /// (RFC 4254 §5.3).
    ClosingByServer,
    /// The client sent EOF.
    ClientEof,
    /// The host has not answered the open: the client cannot know the id yet (RFC 4254 §5.1).
    Opening,
    /// The host has not answered an exec request on it.
    RequestPending,
}

/// A logged-in connection with a channel in `state`; returns the server's id for it.
fn channel_in(server: Server, state: ChannelState, seed: u64) -> (Pair, u32) {
    use ChannelState::*;
    let mut p = staged(server, Stage::Authenticated, seed);
    if state == Refused {
        p.send(&channel_open("session", 2, 1 << 20, 32 * 1024));
        let Event::ChannelOpenRequest { channel, .. } = p.expect_event() else { panic!("no open request") };
        p.server.reply_channel_open(p.id, channel, false, 0, "no").unwrap();
        p.expect_msg(msg::CHANNEL_OPEN_FAILURE);
        return (p, channel);
    }
    if state == Opening {
        p.send(&channel_open("session", 2, 1 << 20, 32 * 1024));
        let Event::ChannelOpenRequest { channel, .. } = p.expect_event() else { panic!("no open request") };
        return (p, channel);
    }
    let ch = p.open_session(2, 1 << 20, 32 * 1024);
    match state {
        Open | Refused | Opening => {}
        NeverOpened => return (p, ch.remote + 1),
        ClosedBothWays | ClosingByServer => {
            p.server.close_channel(p.id, ch.remote).unwrap();
            p.expect_msg(msg::CHANNEL_CLOSE);
            if state == ClosedBothWays {
                p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
                assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }));
            }
        }
        ClosedByClient => {
            p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
            assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }));
            p.expect_msg(msg::CHANNEL_CLOSE);
        }
        ClientEof => {
            p.send(&channel_only(msg::CHANNEL_EOF, ch.remote));
            assert!(matches!(p.expect_event(), Event::ChannelEof { .. }));
        }
        RequestPending => {
            let mut w = Writer::message(msg::CHANNEL_REQUEST);
            w.u32(ch.remote).string(b"exec").bool(true).string(b"sleep 9");
            p.send(w.as_slice());
            assert!(matches!(p.expect_event(), Event::ChannelRequest { .. }));
        }
    }
    assert!(p.drain_events().is_empty() && p.client.inbox.is_empty());
    (p, ch.remote)
}

/// RFC 4254: a message for a channel that does not exist (never opened, refused, closed both ways) is a
/// protocol error; so are open replies for opens the server never made, and data after EOF. A channel
/// the server is closing still takes what the client sent before seeing the CLOSE. A message naming a
/// channel whose open the host has not answered waits for the answer; a channel with a request pending
/// takes everything, its CLOSE answered only after the reply the client is owed (RFC 4254 §5.4).
fn expect_on_channel(n: u8, state: ChannelState) -> Outcome {
    use ChannelState::*;
    let gone = matches!(state, NeverOpened | Refused | ClosedBothWays | ClosedByClient);
    match n {
        _ if gone => Fatal(PROTOCOL_ERROR),
        msg::CHANNEL_OPEN_CONFIRMATION | msg::CHANNEL_OPEN_FAILURE => Fatal(PROTOCOL_ERROR),
        _ if state == Opening => Ignored,
        msg::CHANNEL_CLOSE if state == RequestPending => Event("ChannelClosed"),
        msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA if state == ClientEof => Fatal(PROTOCOL_ERROR),
        msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => Event("ChannelData"),
        msg::CHANNEL_EOF if state == ClientEof => Ignored,
        msg::CHANNEL_EOF => Event("ChannelEof"),
        msg::CHANNEL_CLOSE if state == ClosingByServer => Event("ChannelClosed"),
        msg::CHANNEL_CLOSE => EventAndReply("ChannelClosed", msg::CHANNEL_CLOSE),
        msg::CHANNEL_REQUEST if state == ClosingByServer => Reply(msg::CHANNEL_FAILURE),
        msg::CHANNEL_REQUEST => Event("ChannelRequest"),
        _ => Ignored, // WINDOW_ADJUST with nothing blocked, CHANNEL_SUCCESS and CHANNEL_FAILURE
    }
}

#[test]
fn channel_messages_follow_the_state_of_the_channel_they_name() {
    use ChannelState::*;
    let mut server = test_server();
    let mut results = Vec::new();
    for state in [Open, NeverOpened, Refused, ClosedBothWays, ClosedByClient, ClosingByServer, ClientEof, Opening, RequestPending] {
        for n in msg::CHANNEL_OPEN_CONFIRMATION..=msg::CHANNEL_FAILURE {
            let (mut p, channel) = channel_in(server, state, 5000 + u64::from(n));
            let got = send_probe(&mut p, &probe(n, channel));
            results.push((format!("{state:?} message {n}"), expect_on_channel(n, state), got));
            server = p.into_server();
        }
    }
    check("channel messages", &results);
    complete_exec_session(server, 7);
}

/// (f) After the client's DISCONNECT nothing it sends is answered or reported, whether it arrives in the
/// same read or later, and the host can no longer act on the connection.
#[test]
fn nothing_the_client_sends_after_its_disconnect_gets_an_answer() {
    let mut server = test_server();
    let everything: Vec<Vec<u8>> = (0..=255u8).map(|n| probe(n, 0)).collect();
    for (i, stage) in [None, Some(Stage::Keyed), Some(Stage::ServiceAccepted), Some(Stage::Authenticated)].into_iter().enumerate() {
        let mut p = match stage {
            Some(stage) => staged(server, stage, 6000 + i as u64),
            None => {
                // Non-strict, during the initial exchange.
                let mut p = Pair::on(server, ClientOptions { strict: false, ..Default::default() }, 6000);
                p.deliver_to_server();
                p.server.take_output(p.id); // the server's version and KEXINIT: this client never reads them
                assert!(matches!(p.take_events()[..], [Event::ClientVersion { .. }]));
                p
            }
        };
        let channel = (stage == Some(Stage::Authenticated)).then(|| p.open_session(1, 1 << 20, 32 * 1024).remote);
        let case = format!("{stage:?}");
        p.client.seal_now(&probe(msg::DISCONNECT, 0));
        for m in &everything {
            p.client.seal_now(m);
        }
        p.deliver_to_server();
        for m in &everything {
            p.client.seal_now(m);
        }
        p.deliver_to_server();
        assert!(p.server.take_output(p.id).is_empty(), "{case}: the server wrote after the client's DISCONNECT");
        let events = p.drain_events();
        assert!(
            matches!(&events[..], [Event::Disconnected { reason: BY_APPLICATION, by_peer: true, description }] if description == "bye"),
            "{case}: {events:?}"
        );
        assert!(p.client.inbox.is_empty() && p.client.disconnect.is_none(), "{case}: {:?}", p.client.inbox);
        assert_eq!(p.server.next_deadline(p.id), None, "{case}");
        if let Some(channel) = channel {
            assert!(matches!(p.server.send_data(p.id, channel, 0, b"late", p.now), Err(CommandError::WrongState(_))), "{case}");
        }
        server = p.into_server();
    }
    complete_exec_session(server, 8);
}

// ---- 2. strict key exchange -------------------------------------------------------------------------

fn all_suites() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("chacha20-poly1305@openssh.com", ""), ("aes128-gcm@openssh.com", ""), ("aes256-gcm@openssh.com", "")];
    for cipher in ["aes128-ctr", "aes192-ctr", "aes256-ctr"] {
        for mac in ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"] {
            v.push((cipher, mac));
        }
    }
    v
}

fn suite(cipher: &str, mac: &str) -> ClientOptions {
    ClientOptions::suite(cipher, if mac.is_empty() { "hmac-sha2-256" } else { mac })
}

/// A packet in the clear, framed by hand (RFC 4253 §6: at least 4 bytes of padding, a multiple of 8).
fn plain_packet(payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let mut v = ((1 + payload.len() + padding) as u32).to_be_bytes().to_vec();
    v.push(padding as u8);
    v.extend_from_slice(payload);
    v.extend(std::iter::repeat(0).take(padding));
    v
}

#[test]
fn a_strict_client_s_ignore_or_debug_during_the_initial_exchange_is_fatal() {
    // Right after KEXINIT; just before NEWKEYS is in the initial key exchange table above.
    let mut server = test_server();
    for n in [msg::IGNORE, msg::DEBUG] {
        let (got, s) = during_kex_outcome(server, n, true, KexPoint::AfterKexinit, 7000 + u64::from(n));
        assert_eq!(got, Fatal(PROTOCOL_ERROR), "message {n}");
        server = s;
    }
    complete_exec_session(server, 10);
}

/// The sequence number of the client's next packet as the server counts it: UNIMPLEMENTED echoes it.
fn server_seq_of_next_packet(p: &mut Pair) -> u32 {
    p.send(&[222]);
    let m = p.expect_msg(msg::UNIMPLEMENTED);
    u32::from_be_bytes(m[1..5].try_into().unwrap())
}

#[test]
fn strict_kex_resets_sequence_numbers_at_every_newkeys_in_both_directions() {
    // Strict: the first packet after each NEWKEYS is number 0 in the server's count, and the server's own
    // packets start at 0 too (the client, which resets, reads EXT_INFO and everything after).
    let mut p = Pair::new(ClientOptions::default());
    assert!(p.handshake().strict);
    assert!(p.client.ext_info.is_some(), "EXT_INFO, the server's first packet under the new keys, read at sequence number 0");
    assert_eq!(server_seq_of_next_packet(&mut p), 0);
    assert_eq!(server_seq_of_next_packet(&mut p), 1);
    for _ in 0..3 {
        p.client.rekey();
        p.pump();
        assert_eq!(server_seq_of_next_packet(&mut p), 0, "after a re-exchange");
    }
    assert!(p.client.error.is_none(), "{:?}", p.client.error);
    assert_eq!(p.client.kexes_done, 4);

    // Without strict kex the count goes on: KEXINIT 0, ECDH_INIT 1, NEWKEYS 2, then 3.
    let mut p = Pair::on(p.into_server(), ClientOptions { strict: false, ..Default::default() }, 11);
    assert!(!p.handshake().strict);
    assert_eq!(server_seq_of_next_packet(&mut p), 3);
    complete_exec_session(p.into_server(), 11);
}

#[test]
fn a_strict_client_that_does_not_reset_its_sequence_numbers_is_cut_off() {
    let mut server = test_server();
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let case = format!("{cipher} {mac}");
        let mut p = Pair::on(server, suite(cipher, mac), 7100 + i as u64);
        p.deliver_to_server();
        p.deliver_to_client();
        assert!(p.client.strict, "{case}");
        p.client.strict = false; // from here on this client counts as if strict kex had not been agreed
        p.pump();
        let mut w = Writer::message(msg::SERVICE_REQUEST);
        w.string(b"ssh-userauth");
        let seq = p.client.send_seq();
        assert_eq!(seq, 3, "{case}");
        p.send(w.as_slice());
        let got = observe(&mut p, seq, &["ClientVersion", "KeysExchanged"]);
        if cipher.contains("gcm") {
            // RFC 5647: AES-GCM's nonce is its own packet counter; sequence numbers play no part in it.
            assert_eq!(got, Event("ServiceRequest"), "{case}");
        } else if cipher.starts_with("chacha") {
            // The sequence number keys the length's decryption: a wrong one gives a garbage length, refused
            // before the tag is checked (reason 2), or, rarely, a plausible one whose tag fails (5).
            assert!(matches!(got, Fatal(PROTOCOL_ERROR | MAC_ERROR)), "{case}: {got:?}");
            assert!(p.client.error.is_some(), "{case}: the server's EXT_INFO, sealed at 0, is unreadable at 3");
        } else {
            assert_eq!(got, Fatal(MAC_ERROR), "{case}");
            assert!(p.client.error.is_some(), "{case}: the server's EXT_INFO, sealed at 0, is unreadable at 3");
        }
        server = p.into_server();
    }
    complete_exec_session(server, 12);
}

/// Terrapin (CVE-2023-48795): an attacker on the path adds an IGNORE to the client's stream before NEWKEYS,
/// shifting the server's receive sequence number by one, then deletes the client's first packet under the
/// new keys. `inject_at` says where the IGNORE goes. Returns what the server made of the packet after the
/// deleted one.
fn terrapin(server: Server, opts: ClientOptions, inject_at: KexPoint, seed: u64) -> (Outcome, Server) {
    let mut p = Pair::on(server, opts, seed);
    if inject_at == KexPoint::AfterEcdhInit {
        p.deliver_to_server();
        p.deliver_to_client();
    }
    p.send_raw(&plain_packet(&probe(msg::IGNORE, 0)));
    p.pump();
    if p.client.kexes_done != 1 {
        let got = observe(&mut p, 0, &["ClientVersion", "KeysExchanged"]);
        return (got, p.into_server());
    }
    let _deleted = p.client.seal_detached(&probe(msg::IGNORE, 0));
    let mut w = Writer::message(msg::SERVICE_REQUEST);
    w.string(b"ssh-userauth");
    let seq = p.client.send_seq();
    p.send(w.as_slice());
    let got = observe(&mut p, seq, &["ClientVersion", "KeysExchanged"]);
    (got, p.into_server())
}

#[test]
fn a_terrapin_prefix_injection_is_caught_by_strict_kex_and_refused_by_reject_affected_mode() {
    let mut server = test_server();
    // Strict: the injected IGNORE right after KEXINIT is fatal at once.
    let (got, s) = terrapin(server, ClientOptions::default(), KexPoint::AfterKexinit, 7200);
    assert_eq!(got, Fatal(PROTOCOL_ERROR), "strict, injected after KEXINIT");
    // Injected later, just before NEWKEYS, the sequence number reset at NEWKEYS undoes the shift, so the
    // deletion shows: the packet after it never reaches the host.
    let (got, s) = terrapin(s, ClientOptions::default(), KexPoint::AfterEcdhInit, 7201);
    assert!(matches!(got, Fatal(PROTOCOL_ERROR | MAC_ERROR)), "strict, injected before NEWKEYS: {got:?}");
    server = s;

    // Without strict kex, chacha20-poly1305 takes its nonce from the sequence number alone: the deletion
    // goes unnoticed (this is the attack). AES-GCM (own counter) and AES-CTR with a MAC over the
    // plaintext (continuous keystream) notice.
    for (i, (cipher, mac, noticed)) in
        [("chacha20-poly1305@openssh.com", "", false), ("aes128-gcm@openssh.com", "", true), ("aes128-ctr", "hmac-sha2-256", true)]
            .into_iter()
            .enumerate()
    {
        let opts = ClientOptions { strict: false, ..suite(cipher, mac) };
        let (got, s) = terrapin(server, opts, KexPoint::AfterKexinit, 7210 + i as u64);
        if noticed {
            assert!(matches!(got, Fatal(PROTOCOL_ERROR | MAC_ERROR)), "non-strict {cipher}: {got:?}");
        } else {
            assert_eq!(got, Event("ServiceRequest"), "non-strict {cipher}: the deleted packet is not missed");
        }
        server = s;
    }

    // Which is why UseStrictKeyExchange=2 refuses those algorithms to a client without strict kex ...
    assert_eq!(server.config_mut().set("UseStrictKeyExchange", "2"), Ok(true));
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let affected = cipher.starts_with("chacha") || mac.contains("etm");
        let mut p = Pair::on(server, ClientOptions { strict: false, ..suite(cipher, mac) }, 7300 + i as u64);
        let got = observe(&mut p, 0, &["ClientVersion"]);
        if affected {
            assert_eq!(got, Fatal(KEX_FAILED), "{cipher} {mac} without strict kex");
        } else {
            assert_eq!(got, Event("KeysExchanged"), "{cipher} {mac} is not affected");
        }
        server = p.into_server();
        // ... but not to one with it.
        let mut p = Pair::on(server, suite(cipher, mac), 7400 + i as u64);
        assert!(p.handshake().strict, "{cipher} {mac} with strict kex");
        server = p.into_server();
    }
    let (got, s) = terrapin(server, ClientOptions { strict: false, ..Default::default() }, KexPoint::AfterKexinit, 7500);
    assert_eq!(got, Fatal(KEX_FAILED), "the attack has nothing to work on");
    complete_exec_session(s, 13);
}

// ---- 3. framing -------------------------------------------------------------------------------------

/// Seals packets framed by hand (any packet_length, padding_length and padding) exactly as the client's
/// next packets would be: its keys, its sequence number, its cipher state. Taking over from a client
/// after the key exchange, the client itself must seal nothing more.
struct RawSealer {
    protection: Raw,
    seq: u32,
}

enum Raw {
    Plain,
    ChaCha(ChaChaPoly),
    Gcm(Gcm),
    Ctr(Box<dyn SequentialCipher>, PacketMac),
}

impl RawSealer {
    fn plain() -> Self {
        RawSealer { protection: Raw::Plain, seq: 0 }
    }

    fn after_kex(p: &Pair) -> Self {
        let RawKeys { cipher, mac, key, iv, mac_key } = p.client.c2s_keys.clone().unwrap();
        let protection = match cipher {
            CipherAlg::Chacha20Poly1305 => Raw::ChaCha(ChaChaPoly::new(&RUST_CRYPTO, &key).unwrap()),
            CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => Raw::Gcm(Gcm::new(&RUST_CRYPTO, &key, &iv).unwrap()),
            _ => Raw::Ctr(RUST_CRYPTO.aes_ctr(&key, &iv).unwrap(), PacketMac::new(&RUST_CRYPTO, mac.unwrap(), &mac_key).unwrap()),
        };
        RawSealer { protection, seq: p.client.send_seq() }
    }

    fn block(&self) -> usize {
        match self.protection {
            Raw::Plain | Raw::ChaCha(_) => 8,
            Raw::Gcm(_) | Raw::Ctr(..) => 16,
        }
    }

    /// Whether packet_length is outside the encrypted, block-aligned part (AEAD and encrypt-then-MAC).
    fn length_outside(&self) -> bool {
        match &self.protection {
            Raw::Plain => false,
            Raw::ChaCha(_) | Raw::Gcm(_) => true,
            Raw::Ctr(_, mac) => mac.etm(),
        }
    }

    /// The largest packet_length the server must accept (256 KiB, block-aligned).
    fn max_len(&self) -> u32 {
        if self.length_outside() {
            MAX_PACKET_LEN
        } else {
            MAX_PACKET_LEN - 4
        }
    }

    /// RFC 4253 §6: the padding that makes the packet a multiple of the block size, at least 4 bytes.
    fn padding_for(&self, payload_len: usize) -> usize {
        let covered = 1 + payload_len + if self.length_outside() { 0 } else { 4 };
        let mut padding = self.block() - covered % self.block();
        if padding < 4 {
            padding += self.block();
        }
        padding
    }

    /// `packet_length`, `padding_length`, then `body` (payload and padding, as the test wants them).
    fn frame(packet_length: u32, padding_length: u8, body: &[u8]) -> Vec<u8> {
        let mut v = packet_length.to_be_bytes().to_vec();
        v.push(padding_length);
        v.extend_from_slice(body);
        v
    }

    /// A well-formed packet carrying `payload`.
    fn packet(&mut self, payload: &[u8]) -> Vec<u8> {
        let padding = self.padding_for(payload.len());
        let mut body = payload.to_vec();
        body.extend(std::iter::repeat(0x50).take(padding));
        self.seal(RawSealer::frame((1 + payload.len() + padding) as u32, padding as u8, &body))
    }

    /// Protects a framed packet as the client would, whatever its fields say.
    fn seal(&mut self, mut packet: Vec<u8>) -> Vec<u8> {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        match &mut self.protection {
            Raw::Plain => {}
            Raw::ChaCha(c) => {
                let tag = c.seal(seq, &mut packet);
                packet.extend_from_slice(&tag);
            }
            Raw::Gcm(g) => {
                let (len, body) = packet.split_at_mut(4);
                let tag = g.seal(len, body);
                packet.extend_from_slice(&tag);
            }
            Raw::Ctr(ctr, mac) => {
                if mac.etm() {
                    ctr.apply(&mut packet[4..]);
                    let tag = mac.sign(seq, &packet);
                    packet.extend_from_slice(tag.as_ref());
                } else {
                    let tag = mac.sign(seq, &packet);
                    ctr.apply(&mut packet);
                    packet.extend_from_slice(tag.as_ref());
                }
            }
        }
        packet
    }

    /// The first block of a packet claiming `packet_length`, as it would be on the wire: all the server
    /// needs to judge the length. Nothing else of the packet is sent.
    fn head(&mut self, packet_length: u32) -> Vec<u8> {
        let mut head = RawSealer::frame(packet_length, 4, &vec![0; self.block() - 5]);
        match &mut self.protection {
            Raw::ChaCha(c) => {
                c.seal(self.seq, &mut head);
            }
            Raw::Ctr(ctr, mac) if !mac.etm() => ctr.apply(&mut head),
            _ => {} // the length travels in the clear
        }
        head
    }
}

/// Every protection: in the clear (before the key exchange) and each cipher suite after it.
fn protections() -> Vec<Option<(&'static str, &'static str)>> {
    std::iter::once(None).chain(all_suites().into_iter().map(Some)).collect()
}

/// A connection ready for hand-made packets under `protection`, and its sealer. In the clear the client is
/// silent past its version line (a non-strict client may send IGNORE before KEXINIT, so the server is
/// still listening); otherwise it has completed a key exchange.
fn raw_connection(server: Server, protection: Option<(&str, &str)>, seed: u64) -> (Pair, RawSealer) {
    match protection {
        None => {
            let mut p = Pair::with_client(server, Client::silent(ClientOptions::default(), seed), 0);
            p.send_raw(b"SSH-2.0-raw\r\n");
            p.pump();
            p.client.inbox.clear(); // the server's KEXINIT
            p.take_events();
            (p, RawSealer::plain())
        }
        Some((cipher, mac)) => {
            let mut p = Pair::on(server, suite(cipher, mac), seed);
            p.handshake();
            let sealer = RawSealer::after_kex(&p);
            (p, sealer)
        }
    }
}

/// The check that the hand-made packets are right: a well-formed one passes, and the connection then
/// answers (a KEXINIT in the clear is taken quietly; after the key exchange an unknown number gets
/// UNIMPLEMENTED).
fn raw_control(p: &mut Pair, sealer: &mut RawSealer, case: &str) {
    let ignore = sealer.packet(&probe(msg::IGNORE, 0));
    p.send_raw(&ignore);
    assert_eq!(observe(p, 0, &[]), Ignored, "{case}: control IGNORE");
    if matches!(sealer.protection, Raw::Plain) {
        let kexinit = sealer.packet(&client_kexinit());
        p.send_raw(&kexinit);
        assert_eq!(observe(p, 0, &[]), Ignored, "{case}: control KEXINIT");
    } else {
        let seq = sealer.seq;
        let unknown = sealer.packet(&[222]);
        p.send_raw(&unknown);
        assert_eq!(observe(p, seq, &[]), Unimplemented, "{case}: control probe");
    }
}

#[test]
fn hand_sealed_packets_are_accepted_under_every_protection() {
    // The premise of the framing tests below: without the fault they add, the server takes the packets.
    let mut server = test_server();
    for (i, protection) in protections().into_iter().enumerate() {
        let (mut p, mut sealer) = raw_connection(server, protection, 7600 + i as u64);
        raw_control(&mut p, &mut sealer, &format!("{protection:?}"));
        server = p.into_server();
    }
    complete_exec_session(server, 14);
}

#[test]
fn packet_lengths_below_five_unaligned_or_over_256_kib_are_refused_from_the_first_block() {
    let mut server = test_server();
    let mut results = Vec::new();
    for (i, protection) in protections().into_iter().enumerate() {
        let probe_sealer = match protection {
            None => RawSealer::plain(),
            Some(_) => {
                let (p, s) = raw_connection(server, protection, 7700 + i as u64);
                server = p.into_server();
                s
            }
        };
        let (block, max) = (probe_sealer.block() as u32, probe_sealer.max_len());
        let aligned = |l: u32| if probe_sealer.length_outside() { l } else { l + 4 } % block == 0;
        let mut lengths = vec![0u32, 1, 4, 5, 6, 2 * block + 1, max + block, max + 1, 1 << 31, u32::MAX];
        lengths.push((5..64).find(|l| aligned(*l)).unwrap() + 1); // the smallest valid length, plus one
        for len in lengths {
            let (mut p, mut sealer) = raw_connection(server, protection, 7800 + i as u64);
            p.send_raw(&sealer.head(len));
            results.push((format!("{protection:?} packet_length {len}"), Fatal(PROTOCOL_ERROR), observe(&mut p, 0, &[])));
            server = p.into_server();
        }
        // The largest valid length waits for its body, and the smallest is taken.
        let (mut p, mut sealer) = raw_connection(server, protection, 7900 + i as u64);
        p.send_raw(&sealer.head(max));
        results.push((format!("{protection:?} packet_length {max} (the maximum)"), Ignored, observe(&mut p, 0, &[])));
        server = p.into_server();
    }
    check("packet lengths", &results);
    complete_exec_session(server, 15);
}

/// One suite of each kind of protection, for the tests that move 256 KiB packets.
fn protection_kinds() -> Vec<Option<(&'static str, &'static str)>> {
    vec![
        None,
        Some(("chacha20-poly1305@openssh.com", "")),
        Some(("aes128-gcm@openssh.com", "")),
        Some(("aes256-ctr", "hmac-sha2-512")),
        Some(("aes192-ctr", "hmac-sha2-256-etm@openssh.com")),
    ]
}

#[test]
fn a_packet_of_exactly_256_kib_is_taken_and_one_block_more_is_refused() {
    let mut server = test_server();
    for (i, protection) in protection_kinds().into_iter().enumerate() {
        let case = format!("{protection:?}");
        // The Sealer picks one whole block of padding when the payload leaves the packet aligned.
        let sealer = match protection {
            None => RawSealer::plain(),
            Some(_) => {
                let (p, s) = raw_connection(server, protection, 8000 + i as u64);
                server = p.into_server();
                s
            }
        };
        let block = sealer.block();
        let largest = sealer.max_len() as usize - 1 - block; // payload bytes
        assert_eq!(1 + largest + sealer.padding_for(largest), sealer.max_len() as usize, "{case}");
        for (payload, fits) in [(largest, true), (largest + block, false)] {
            let ignore = ignore_of(payload - 5);
            let mut p = match protection {
                None => {
                    // A non-strict client may put it before its KEXINIT.
                    let opts = ClientOptions { strict: false, ..Default::default() };
                    Pair::with_client(server, Client::with_prelude(opts, 8100 + i as u64, &[&ignore]), 0)
                }
                Some((cipher, mac)) => {
                    let mut p = Pair::on(server, suite(cipher, mac), 8100 + i as u64);
                    p.handshake();
                    p.send(&ignore);
                    p
                }
            };
            let got = observe(&mut p, 0, &["ClientVersion", "KeysExchanged"]);
            if fits {
                assert_eq!(got, Ignored, "{case}: {payload}-byte payload");
                server_seq_of_next_packet(&mut p); // still answering
            } else {
                assert_eq!(got, Fatal(PROTOCOL_ERROR), "{case}: {payload}-byte payload");
            }
            server = p.into_server();
        }
    }
    complete_exec_session(server, 16);
}

#[test]
fn padding_shorter_than_4_or_as_long_as_the_packet_is_refused_under_every_protection() {
    let mut server = test_server();
    let mut results = Vec::new();
    for (i, protection) in protections().into_iter().enumerate() {
        // Packets of `len` bytes (block-aligned) whose padding_length byte says `padding`.
        let cases: Vec<(String, u32, u8)> = {
            let s = match protection {
                None => RawSealer::plain(),
                Some(_) => {
                    let (p, s) = raw_connection(server, protection, 8200 + i as u64);
                    server = p.into_server();
                    s
                }
            };
            let len = if s.length_outside() { 32 } else { 28 };
            let mut v: Vec<(String, u32, u8)> = (0..4).map(|pad| (format!("padding {pad}"), len, pad)).collect();
            v.push(("padding = packet_length - 1 (empty payload)".into(), len, (len - 1) as u8));
            v.push(("padding = packet_length".into(), len, len as u8));
            v.push(("padding 255 in a short packet".into(), len, 255));
            v
        };
        for (what, len, pad) in cases {
            let (mut p, mut sealer) = raw_connection(server, protection, 8300 + i as u64);
            // A real IGNORE for a payload, then filler up to the claimed length.
            let mut body = probe(msg::IGNORE, 0);
            body.resize(len as usize - 1, 0x50);
            let packet = sealer.seal(RawSealer::frame(len, pad, &body));
            p.send_raw(&packet);
            results.push((format!("{protection:?} {what}"), Fatal(PROTOCOL_ERROR), observe(&mut p, 0, &[])));
            server = p.into_server();
        }
    }
    check("padding", &results);
    complete_exec_session(server, 17);
}

#[test]
fn damage_anywhere_in_a_packet_is_a_mac_error_for_every_suite() {
    let mut server = test_server();
    let mut results = Vec::new();
    let service_request = probe(msg::SERVICE_REQUEST, 0);
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        type Damage = fn(&mut Vec<u8>);
        let damages: [(&str, Damage); 4] = [
            ("last tag bit", |p| *p.last_mut().unwrap() ^= 1),
            ("a body bit", |p| {
                let mid = p.len() / 2;
                p[mid] ^= 0x20;
            }),
            // ±16 keeps the length plausible (aligned, in range) whether it travels in the clear or not.
            ("packet_length ± 16", |p| {
                p[3] ^= 0x10;
                p.extend_from_slice(&[0x33; 80]);
            }),
            ("tag cut short, next packet behind it", |p| {
                // The next packet's first byte (its length's high byte, zero) completes the tag: a popped
                // zero would make the tag whole again (1 in 256 keys), so the byte before it is damaged too.
                if p.pop() == Some(0) {
                    *p.last_mut().unwrap() ^= 1;
                }
            }),
        ];
        for (what, damage) in damages {
            let mut p = Pair::on(server, suite(cipher, mac), 8500 + i as u64);
            p.handshake();
            let mut packet = p.client.seal_detached(&service_request);
            damage(&mut packet);
            p.send_raw(&packet);
            p.send(&probe(msg::IGNORE, 0));
            results.push((format!("{cipher} {mac}: {what}"), Fatal(MAC_ERROR), observe(&mut p, 0, &[])));
            server = p.into_server();
        }
    }
    check("damaged packets", &results);
    complete_exec_session(server, 18);
}

#[test]
fn a_replayed_packet_is_refused_for_every_suite() {
    let mut server = test_server();
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let mut p = Pair::on(server, suite(cipher, mac), 8600 + i as u64);
        p.handshake();
        let packet = p.client.seal_detached(&probe(msg::IGNORE, 0));
        p.send_raw(&packet);
        p.send_raw(&packet);
        let got = observe(&mut p, 0, &[]);
        if cipher.contains("gcm") || mac.contains("etm") {
            // The length is in the clear and plausible: the tag, over another sequence number or nonce, fails.
            assert_eq!(got, Fatal(MAC_ERROR), "{cipher} {mac}");
        } else {
            // The length decrypts under the next packet's keystream to garbage, refused before the tag.
            assert!(matches!(got, Fatal(PROTOCOL_ERROR | MAC_ERROR)), "{cipher} {mac}: {got:?}");
        }
        server = p.into_server();
    }
    complete_exec_session(server, 19);
}

#[test]
fn a_whole_session_fed_one_byte_per_read_works_under_every_suite() {
    let mut server = test_server();
    for (i, (cipher, mac)) in all_suites().into_iter().enumerate() {
        let case = format!("{cipher} {mac}");
        let mut p = Pair::on(server, suite(cipher, mac), 8700 + i as u64);
        p.read_size = 1;
        p.handshake();
        p.login();
        let ch = p.open_session(1, 1 << 20, 32 * 1024);
        p.exec(&ch, b"cat");
        let up = pattern(3000, i as u8);
        p.send(&channel_data(ch.remote, &up));
        match p.expect_event() {
            Event::ChannelData { data, .. } => assert_eq!(data, up, "{case}"),
            other => panic!("{case}: {other:?}"),
        }
        p.client.rekey();
        p.pump();
        assert_eq!(p.client.kexes_done, 2, "{case}: a re-exchange, byte by byte too");
        assert!(matches!(p.drain_events()[..], [Event::KeysExchanged(_)]), "{case}");
        p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
        assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }), "{case}");
        assert!(p.client.error.is_none() && p.client.disconnect.is_none(), "{case}");
        server = p.into_server();
    }
    complete_exec_session(server, 20);
}

/// Replays `stream` (recorded against `test_server()` opened at time 0) to a fresh identical server in
/// one read, with a host that accepts every request, then reports the transport lost. Returns the
/// server's output and its events, logs left out.
fn replay_then_lose(stream: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut server = test_server();
    let id = server.open(0).unwrap();
    let mut out = server.take_output(id);
    let mut events = Vec::new();
    server.input(id, stream, 0).unwrap();
    let mut lost = false;
    loop {
        let Some((_, e)) = server.poll_event() else {
            out.extend(server.take_output(id));
            if lost {
                break;
            }
            server.connection_lost(id).unwrap();
            lost = true;
            continue;
        };
        if matches!(e, Event::Log { .. }) {
            continue;
        }
        accept_decision(&mut server, id, &e);
        events.push(format!("{e:?}"));
    }
    assert_eq!(server.next_deadline(id), None);
    (out, events)
}

#[test]
fn a_stream_cut_at_any_byte_then_lost_reports_only_the_packets_that_were_complete() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.login();
    let ch = p.open_session(1, 1 << 20, 32 * 1024);
    p.exec(&ch, b"cat");
    p.send(&channel_data(ch.remote, b"the last words"));
    p.send(&channel_only(msg::CHANNEL_EOF, ch.remote));
    p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
    p.pump();
    let stream = p.client_stream.clone();
    let (full_out, full_events) = replay_then_lose(&stream);
    let lost = format!("{:?}", Event::Disconnected { reason: CONNECTION_LOST, description: "connection lost".into(), by_peer: true });
    assert_eq!(full_events.last(), Some(&lost));
    assert!(full_events.iter().any(|e| e.starts_with("ChannelClosed")), "{full_events:?}");
    for cut in 0..stream.len() {
        let (out, events) = replay_then_lose(&stream[..cut]);
        let (last, before) = events.split_last().unwrap();
        assert_eq!(last, &lost, "cut at {cut}: the end is the transport's loss");
        assert!(full_events.starts_with(before), "cut at {cut}: {before:#?} is not how the whole stream began");
        assert!(full_out.starts_with(&out), "cut at {cut}: the server wrote what it would not have written");
    }
}

// ---- identification strings --------------------------------------------------------------------------

/// A connection whose client has sent nothing; the server's version and KEXINIT are read and put aside.
fn silent_pair(server: Server, seed: u64) -> Pair {
    let mut p = Pair::with_client(server, Client::silent(ClientOptions::default(), seed), 0);
    p.pump();
    p.client.inbox.clear();
    p
}

#[test]
fn a_version_line_trickled_without_end_is_cut_at_255_bytes() {
    let mut p = silent_pair(test_server(), 8800);
    let trickle = format!("SSH-2.0-{}", "x".repeat(247));
    for (i, b) in trickle.bytes().enumerate() {
        p.now = i as u64 * 100;
        p.server.input(p.id, &[b], p.now).unwrap();
    }
    assert_eq!(observe(&mut p, 0, &[]), Ignored, "255 bytes may still become a line");
    p.server.input(p.id, b"x", p.now).unwrap();
    assert_eq!(observe(&mut p, 0, &[]), Fatal(PROTOCOL_ERROR), "the 256th byte without a line end");
    let mut server = p.into_server();

    // The limit counts CR LF: a 255-byte line is a version, a 256-byte one is not.
    for (extra, want) in [(0usize, Event("ClientVersion")), (1, Fatal(PROTOCOL_ERROR))] {
        let mut p = silent_pair(server, 8801);
        let line = format!("SSH-2.0-{}\r\n", "x".repeat(245 + extra));
        assert_eq!(line.len(), 255 + extra);
        p.send_raw(line.as_bytes());
        assert_eq!(observe(&mut p, 0, &[]), want, "{}-byte line", line.len());
        server = p.into_server();
    }
    complete_exec_session(server, 21);
}

#[test]
fn a_slow_version_line_is_ended_by_the_login_grace_time() {
    let mut p = silent_pair(test_server(), 8802);
    let grace = p.server.config().login_grace_ms;
    assert_eq!(p.server.next_deadline(p.id), Some(grace));
    for i in 0..200u64 {
        p.now = i * 500;
        p.server.input(p.id, b"SSH-2.0-"[i as usize % 8..][..1].as_ref(), p.now).unwrap();
        assert_eq!(p.server.next_deadline(p.id), Some(grace), "trickling does not move the deadline");
    }
    p.now = grace - 1;
    p.server.handle_timeout(p.id, p.now).unwrap();
    assert_eq!(observe(&mut p, 0, &[]), Ignored);
    p.now = grace;
    p.server.handle_timeout(p.id, p.now).unwrap();
    assert_eq!(observe(&mut p, 0, &[]), Fatal(BY_APPLICATION));
    complete_exec_session(p.into_server(), 22);
}

/// RFC 4253 §4.2 lets servers, not clients, send lines before the version (OpenSSH's sshd takes none
/// either): a client that does is answered `Invalid SSH identification string.` in the clear and closed
/// with reason 2 at its first byte, however its bytes are cut into reads, and whatever follows.
#[test]
fn a_line_before_the_version_is_refused_at_once_however_it_arrives() {
    let mut server = test_server();
    let line = format!("{}\r\n", "b".repeat(253));
    for (lines, read_size) in [(1, usize::MAX), (1, 1), (1, 255), (5000, 4096)] {
        let case = format!("{lines} lines in reads of {read_size}");
        let mut p = silent_pair(server, 8803);
        let mut bytes = line.repeat(lines).into_bytes();
        bytes.extend(Client::new(ClientOptions::default(), 8803).take_out());
        let mut first_reply = None;
        for piece in bytes.chunks(read_size) {
            p.server.input(p.id, piece, 0).unwrap();
            let out = p.server.take_output(p.id);
            first_reply.get_or_insert(out.clone());
            assert!(out.is_empty() || first_reply.as_ref() == Some(&out), "{case}: output after the refusal");
        }
        assert_eq!(first_reply.as_deref(), Some(&b"Invalid SSH identification string.\r\n"[..]), "{case}: the first read is answered");
        let ended: Vec<(u32, bool)> = std::iter::from_fn(|| p.server.poll_event())
            .filter_map(|(_, e)| match e {
                Event::Disconnected { reason, by_peer, .. } => Some((reason, by_peer)),
                _ => None,
            })
            .collect();
        assert_eq!(ended, [(PROTOCOL_ERROR, false)], "{case}");
        server = p.into_server();
    }
    complete_exec_session(server, 23);
}

#[test]
fn a_version_line_with_control_characters_or_invalid_utf8_is_refused() {
    let mut server = test_server();
    let mut results = Vec::new();
    let lines: [(&str, &[u8]); 7] = [
        ("NUL", b"SSH-2.0-a\0b\r\n"),
        ("ESC", b"SSH-2.0-a\x1b[2Jb\r\n"),
        ("DEL", b"SSH-2.0-a\x7fb\r\n"),
        ("a lone CR inside", b"SSH-2.0-a\rb\r\n"),
        ("TAB", b"SSH-2.0-a\tb\r\n"),
        ("invalid UTF-8", b"SSH-2.0-a\xffb\r\n"),
        ("a bare continuation byte", b"SSH-2.0-a\x80b\r\n"),
    ];
    for (i, (what, line)) in lines.into_iter().enumerate() {
        let mut p = silent_pair(server, 8810 + i as u64);
        p.send_raw(line);
        results.push((what.to_string(), Fatal(PROTOCOL_ERROR), observe(&mut p, 0, &[])));
        server = p.into_server();
    }
    check("version line characters", &results);
    complete_exec_session(server, 24);
}

/// The version string reaches the host (`ClientVersion`) and the level 1 log: C1 controls (U+0080..=U+009F,
/// e.g. U+009B, a one-character CSI to terminals that honour C1) are refused like ASCII ones.
#[test]
fn a_version_line_with_c1_control_characters_is_refused() {
    let mut p = silent_pair(test_server(), 8820);
    p.send_raw("SSH-2.0-evil\u{9b}2J\u{85}fake log line\r\n".as_bytes());
    assert_eq!(observe(&mut p, 0, &[]), Fatal(PROTOCOL_ERROR));
    complete_exec_session(p.into_server(), 25);
}

/// RFC 4253 §4.2: protoversion and softwareversion "MUST consist of printable US-ASCII characters".
/// (OpenSSH itself is lenient here; the comments after a space may be any text without control characters.)
#[test]
fn a_software_version_outside_printable_ascii_is_refused() {
    let mut p = silent_pair(test_server(), 8821);
    p.send_raw("SSH-2.0-Ünïcödé\r\n".as_bytes());
    assert_eq!(observe(&mut p, 0, &[]), Fatal(PROTOCOL_ERROR));
    // Comments may be anything printable.
    let mut p = silent_pair(p.into_server(), 8822);
    p.send_raw("SSH-2.0-ascii comment: Ünïcödé\r\n".as_bytes());
    assert_eq!(observe(&mut p, 0, &[]), Event("ClientVersion"));
    complete_exec_session(p.into_server(), 26);
}

// ---- 4. resource abuse ----------------------------------------------------------------------------------

/// A server whose channels advertise a 64 KiB window, so that filling one is quick.
fn small_window_server() -> Server {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("ChannelWindowSize", "65536"), Ok(true));
    server
}

fn extended_data(recipient: u32, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_EXTENDED_DATA);
    w.u32(recipient).u32(1).string(data);
    w.into_vec()
}

#[test]
fn a_client_overrunning_the_window_or_the_packet_size_is_cut_off() {
    let mut server = small_window_server();
    type Flood = fn(&OpenChannel) -> Vec<Vec<u8>>;
    let cases: [(&str, usize, Flood); 6] = [
        ("DATA, one byte past the window", 2, |ch| {
            let mut v = vec![channel_data(ch.remote, &vec![1; ch.max_packet as usize]); (ch.window / ch.max_packet) as usize];
            v.push(channel_data(ch.remote, b"!"));
            v
        }),
        ("EXTENDED_DATA, one byte past the window", 2, |ch| {
            let mut v = vec![extended_data(ch.remote, &vec![1; ch.max_packet as usize]); (ch.window / ch.max_packet) as usize];
            v.push(extended_data(ch.remote, b"!"));
            v
        }),
        ("DATA and EXTENDED_DATA together past the window", 2, |ch| {
            vec![
                channel_data(ch.remote, &vec![1; ch.max_packet as usize]),
                extended_data(ch.remote, &vec![2; ch.max_packet as usize]),
                channel_data(ch.remote, b"!"),
            ]
        }),
        ("DATA one byte over the maximum packet", 0, |ch| vec![channel_data(ch.remote, &vec![1; ch.max_packet as usize + 1])]),
        ("EXTENDED_DATA one byte over the maximum packet", 0, |ch| vec![extended_data(ch.remote, &vec![1; ch.max_packet as usize + 1])]),
        ("WINDOW_ADJUST past 2^32 - 1", 0, |ch| vec![window_adjust(ch.remote, u32::MAX - (1 << 20) + 1)]),
    ];
    for (i, (what, accepted, flood)) in cases.into_iter().enumerate() {
        let mut p = staged(server, Stage::Authenticated, 9000 + i as u64);
        let ch = p.open_session(1, 1 << 20, 32 * 1024);
        assert_eq!(ch.window, 65536);
        for m in flood(&ch) {
            p.send(&m);
        }
        let (_, events) = p.expect_disconnect(PROTOCOL_ERROR);
        assert_eq!(events.len(), accepted, "{what}: the data within the limits is delivered, nothing after");
        assert!(events.iter().all(|e| matches!(e, Event::ChannelData { .. })), "{what}");
        server = p.into_server();
    }
    complete_exec_session(server, 27);
}

#[test]
fn channels_whose_maximum_packet_is_below_256_bytes_are_refused_and_the_rest_cost_one_packet_per_247_bytes() {
    let mut server = test_server();
    let mut results = Vec::new();
    for (i, max_packet) in [0u32, 1, 9, 13, 100, 255, 256, 257].into_iter().enumerate() {
        let mut p = staged(server, Stage::Authenticated, 9100 + i as u64);
        let got = send_probe(&mut p, &channel_open("session", 3, u32::MAX, max_packet));
        let want = if max_packet < 256 { Reply(msg::CHANNEL_OPEN_FAILURE) } else { Event("ChannelOpenRequest") };
        results.push((format!("maximum packet {max_packet}"), want, got));
        server = p.into_server();
    }
    check("tiny maximum packets", &results);

    // At the smallest accepted size, 64 KiB of data and of stderr cost at most one packet per 247 and 243
    // bytes (256 less the DATA and EXTENDED_DATA headers), none of them over 256 bytes.
    let mut p = staged(server, Stage::Authenticated, 9110);
    let ch = p.open_session(3, u32::MAX, 256);
    let data = pattern(65536, 1);
    for (stream, header) in [(0u32, 9usize), (1, 13)] {
        assert_eq!(p.server.send_data(p.id, ch.remote, stream, &data, p.now).unwrap(), data.len());
        let mut packets = 0;
        let mut got = 0;
        while let Some(m) = p.recv() {
            assert!(m.len() <= 256, "{} bytes", m.len());
            packets += 1;
            got += m.len() - header;
        }
        assert_eq!(got, data.len());
        assert_eq!(packets, data.len().div_ceil(256 - header), "stream {stream}");
    }
    complete_exec_session(p.into_server(), 28);
}

#[test]
fn a_client_opening_its_window_one_byte_at_a_time_gets_at_most_one_packet_per_adjust() {
    let mut p = staged(test_server(), Stage::Authenticated, 9120);
    let ch = p.open_session(3, 0, 32 * 1024);
    let data = pattern(10_000, 2);
    let mut sent = p.server.send_data(p.id, ch.remote, 0, &data, p.now).unwrap();
    assert_eq!(sent, 0);
    for i in 0..500 {
        p.send(&window_adjust(ch.remote, 1));
        assert!(matches!(p.expect_event(), Event::ChannelReadyToSend { .. }), "adjust {i}");
        sent += p.server.send_data(p.id, ch.remote, 0, &data[sent..], p.now).unwrap();
        let (_, piece) = parse_channel_data(&p.expect_msg(msg::CHANNEL_DATA));
        assert_eq!(piece.len(), 1);
        assert!(p.recv().is_none(), "one packet per adjust");
    }
    assert_eq!(sent, 500);
    complete_exec_session(p.into_server(), 36);
}

#[test]
fn thousands_of_channel_opens_get_max_channels_and_the_rest_resource_shortage() {
    let mut p = staged(test_server(), Stage::Authenticated, 9130);
    let max = p.server.config().max_channels;
    assert_eq!(max, 64);
    for i in 0..2000 {
        p.send(&channel_open("session", i, 1 << 20, 32 * 1024));
    }
    let mut asked = 0;
    while let Some(e) = p.event() {
        let Event::ChannelOpenRequest { channel, .. } = e else { panic!("{e:?}") };
        p.server.reply_channel_open(p.id, channel, true, 0, "").unwrap();
        asked += 1;
    }
    assert_eq!(asked, max, "only that many reach the host");
    let (mut confirmed, mut refused) = (Vec::new(), 0);
    while let Some(m) = p.recv() {
        let mut r = Reader::new(&m[1..]);
        let recipient = r.u32().unwrap();
        match m[0] {
            msg::CHANNEL_OPEN_CONFIRMATION => confirmed.push((recipient, r.u32().unwrap())),
            msg::CHANNEL_OPEN_FAILURE => {
                assert_eq!(r.u32().unwrap(), 4, "SSH_OPEN_RESOURCE_SHORTAGE");
                refused += 1;
            }
            other => panic!("message {other}"),
        }
    }
    assert_eq!((confirmed.len(), refused), (64, 1936));
    // A slot freed by a close is usable again.
    let (client_id, server_id) = confirmed[10];
    p.server.close_channel(p.id, server_id).unwrap();
    p.expect_msg(msg::CHANNEL_CLOSE);
    p.send(&channel_only(msg::CHANNEL_CLOSE, server_id));
    assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }));
    assert_eq!(send_probe(&mut p, &channel_open("session", client_id, 1 << 20, 32 * 1024)), Event("ChannelOpenRequest"));
    complete_exec_session(p.into_server(), 29);
}

/// The core answers some messages on its own (REQUEST_FAILURE, UNIMPLEMENTED, CHANNEL_FAILURE for
/// keepalives, OPEN_FAILURE) and keeps no bound on the output it has not handed over: a client that sends
/// them and never reads makes the output grow with its input. What holds is the ratio: at most one small
/// reply per request, so the host bounds the total by reading no more input while its socket refuses
/// output (ts/core/binding.ts `flush` pauses the transport).
#[test]
fn requests_the_core_answers_itself_cost_at_most_one_reply_per_request_and_twice_their_size() {
    let mut server = test_server();
    type Request = fn(u32) -> Vec<u8>;
    let kinds: [(&str, Request, u8); 5] = [
        ("keepalive GLOBAL_REQUEST with want_reply", |_| keepalive_global_request(), msg::REQUEST_FAILURE),
        ("unassigned message number", |_| vec![222], msg::UNIMPLEMENTED),
        (
            "keepalive CHANNEL_REQUEST with want_reply",
            |ch| {
                let mut w = Writer::message(msg::CHANNEL_REQUEST);
                w.u32(ch).string(b"keepalive@openssh.com").bool(true);
                w.into_vec()
            },
            msg::CHANNEL_FAILURE,
        ),
        ("CHANNEL_OPEN with a tiny maximum packet", |_| channel_open("session", 1, 1 << 20, 1), msg::CHANNEL_OPEN_FAILURE),
        ("CHANNEL_OPEN of an unknown type", |_| channel_open("x", 1, 1 << 20, 1), msg::CHANNEL_OPEN_FAILURE),
    ];
    for (i, (what, request, reply)) in kinds.into_iter().enumerate() {
        let mut p = staged(server, Stage::Authenticated, 9140 + i as u64);
        let ch = p.open_session(1, 1 << 20, 32 * 1024);
        const N: usize = 1_000;
        for _ in 0..N {
            p.send(&request(ch.remote));
        }
        let input = p.client.take_out();
        p.server.input(p.id, &input, p.now).unwrap();
        let output = p.server.take_output(p.id);
        assert!(output.len() <= 2 * input.len(), "{what}: {} bytes out for {} in", output.len(), input.len());
        p.client.receive(&output);
        assert_eq!(p.client.inbox.len(), N, "{what}");
        assert!(p.client.inbox.iter().all(|m| m[0] == reply), "{what}");
        p.client.inbox.clear();
        assert!(p.drain_events().is_empty(), "{what}: nothing for the host");
        server = p.into_server();
    }
    complete_exec_session(server, 30);
}

/// OpenSSH's keepalive, which the core answers itself (REQUEST_FAILURE), whatever the host.
fn keepalive_global_request() -> Vec<u8> {
    let mut w = Writer::message(msg::GLOBAL_REQUEST);
    w.string(b"keepalive@openssh.com").bool(true);
    w.into_vec()
}

fn info_response(count: u32, answers: &[&[u8]]) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
    w.u32(count);
    for a in answers {
        w.string(a);
    }
    w.into_vec()
}

/// Service accepted, keyboard-interactive started, and the host's two prompts sent.
fn prompted(server: Server, seed: u64) -> Pair {
    let mut p = staged(server, Stage::ServiceAccepted, seed);
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"carol").string(b"ssh-connection").string(b"keyboard-interactive").string(b"").string(b"");
    assert_eq!(send_probe(&mut p, w.as_slice()), Event("AuthRequest"));
    let prompts = vec![("Password: ".to_string(), false), ("Code: ".to_string(), true)];
    p.server.reply_auth(p.id, AuthReply::Prompt { name: String::new(), instruction: String::new(), prompts, retry: false }).unwrap();
    p.expect_msg(msg::USERAUTH_INFO_REQUEST);
    p
}

#[test]
fn keyboard_interactive_responses_must_answer_exactly_the_prompts_within_limits() {
    let mut server = test_server();
    let mut results = Vec::new();
    let long = vec![b'a'; 1024];
    let too_long = vec![b'a'; 1025];
    let mut trailing = info_response(2, &[b"a", b"b"]);
    trailing.push(0);
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        ("two answers", info_response(2, &[b"a", b"b"]), Event("AuthRequest")),
        ("1024-byte answers", info_response(2, &[&long, &long]), Event("AuthRequest")),
        ("one answer for two prompts", info_response(1, &[b"a"]), Fatal(PROTOCOL_ERROR)),
        ("three answers for two prompts", info_response(3, &[b"a", b"b", b"c"]), Fatal(PROTOCOL_ERROR)),
        ("a count of 2^32 - 1 and nothing behind it", info_response(u32::MAX, &[]), Fatal(PROTOCOL_ERROR)),
        ("a count of 2 and one answer", info_response(2, &[b"a"]), Fatal(PROTOCOL_ERROR)),
        ("trailing bytes", trailing, Fatal(PROTOCOL_ERROR)),
        ("a 1025-byte answer", info_response(2, &[b"a", &too_long]), Fatal(PROTOCOL_ERROR)),
        ("an answer that is not UTF-8", info_response(2, &[b"a", b"\xff\xfe"]), Fatal(PROTOCOL_ERROR)),
    ];
    for (i, (what, response, want)) in cases.into_iter().enumerate() {
        let mut p = prompted(server, 9200 + i as u64);
        let got = send_probe(&mut p, &response);
        results.push((what.to_string(), want, got));
        server = p.into_server();
    }
    // A second response to one round, after the host's decision.
    let mut p = prompted(server, 9210);
    assert_eq!(send_probe(&mut p, &info_response(2, &[b"a", b"b"])), Event("AuthRequest"));
    p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
    p.expect_msg(msg::USERAUTH_FAILURE);
    results.push(("a second response to one round".into(), Fatal(PROTOCOL_ERROR), send_probe(&mut p, &info_response(2, &[b"a", b"b"]))));
    // The host may not ask more than 16 questions at once.
    let mut p = prompted(p.into_server(), 9211);
    assert_eq!(send_probe(&mut p, &info_response(2, &[b"a", b"b"])), Event("AuthRequest"));
    let prompts = vec![("?".to_string(), false); 17];
    let too_many = AuthReply::Prompt { name: String::new(), instruction: String::new(), prompts, retry: false };
    assert!(matches!(p.server.reply_auth(p.id, too_many), Err(CommandError::Invalid(_))));
    check("keyboard-interactive responses", &results);
    complete_exec_session(p.into_server(), 31);
}

fn userauth(user: &[u8], service: &[u8], method: &[u8], rest: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user).string(service).string(method);
    rest(&mut w);
    w.into_vec()
}

#[test]
fn huge_authentication_fields_are_refused_or_delivered_whole_within_one_packet() {
    const HUGE: usize = 250 * 1024;
    let huge = vec![b'h'; HUGE];
    let blob = wasshd_core::keys::PublicKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&USER_SEED).verifying_key()).blob();
    let password = |pw: &[u8]| {
        userauth(b"alice", b"ssh-connection", b"password", |w| {
            w.bool(false).string(pw);
        })
    };
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        ("a 256-byte user name", userauth(&[b'u'; 256], b"ssh-connection", b"none", |_| {}), Event("AuthRequest")),
        ("a 257-byte user name", userauth(&[b'u'; 257], b"ssh-connection", b"none", |_| {}), Fatal(ILLEGAL_USER_NAME)),
        ("a 250 KiB user name", userauth(&huge, b"ssh-connection", b"none", |_| {}), Fatal(ILLEGAL_USER_NAME)),
        ("a 1024-byte password", password(&[b'p'; 1024]), Event("AuthRequest")),
        ("a 1025-byte password", password(&[b'p'; 1025]), Fatal(PROTOCOL_ERROR)),
        ("a 250 KiB password", password(&huge), Fatal(PROTOCOL_ERROR)),
        (
            "a 250 KiB new password",
            userauth(b"alice", b"ssh-connection", b"password", |w| {
                w.bool(true).string(b"old").string(&huge);
            }),
            Reply(msg::USERAUTH_FAILURE),
        ),
        (
            "a 250 KiB public key",
            userauth(b"alice", b"ssh-connection", b"publickey", |w| {
                w.bool(false).string(b"ssh-ed25519").string(&huge);
            }),
            Reply(msg::USERAUTH_FAILURE),
        ),
        (
            "a 250 KiB signature",
            userauth(b"alice", b"ssh-connection", b"publickey", |w| {
                w.bool(true).string(b"ssh-ed25519").string(&blob).string(&huge);
            }),
            Reply(msg::USERAUTH_FAILURE),
        ),
        (
            "a 250 KiB algorithm name",
            userauth(b"alice", b"ssh-connection", b"publickey", |w| {
                w.bool(false).string(&huge).string(&blob);
            }),
            Reply(msg::USERAUTH_FAILURE),
        ),
        ("a 250 KiB service name", userauth(b"alice", &huge, b"none", |_| {}), Reply(msg::USERAUTH_FAILURE)),
        ("a 250 KiB method name", userauth(b"alice", b"ssh-connection", &huge, |_| {}), Reply(msg::USERAUTH_FAILURE)),
        (
            "250 KiB of keyboard-interactive submethods",
            userauth(b"alice", b"ssh-connection", b"keyboard-interactive", |w| {
                w.string(b"").string(&huge);
            }),
            Fatal(PROTOCOL_ERROR),
        ),
    ];
    let mut server = test_server();
    let mut results = Vec::new();
    for (i, (what, request, want)) in cases.into_iter().enumerate() {
        let mut p = staged(server, Stage::ServiceAccepted, 9300 + i as u64);
        p.send(&request);
        let (got, events) = observe_events(&mut p, 0, &[]);
        // The host gets what was sent, whole, or nothing.
        if let Some(Event::AuthRequest(req)) = events.first() {
            let carried = match &req.method {
                AuthMethod::None => req.user.len(),
                AuthMethod::Password { password } => password.len(),
                AuthMethod::KeyboardInteractive { submethods, .. } => submethods.len(),
                AuthMethod::PublicKey { key, .. } => key.len(),
            };
            assert!([256, 1024, HUGE].contains(&carried), "{what}: {carried} bytes reached the host");
        }
        results.push((what.to_string(), want, got));
        server = p.into_server();
    }
    check("huge authentication fields", &results);
    complete_exec_session(server, 32);
}

/// What a client-started re-exchange led to: exchanges performed and, if the server ended the
/// connection, at which attempt and why.
fn rekey_storm(p: &mut Pair, attempts: usize, step_ms: u64) -> (usize, Option<(usize, u32)>) {
    let mut performed = 0;
    for attempt in 0..attempts {
        p.now += step_ms;
        p.client.rekey();
        p.pump();
        for e in p.drain_events() {
            match e {
                Event::KeysExchanged(s) => {
                    assert!(!s.initial);
                    performed += 1;
                }
                Event::Disconnected { reason, by_peer: false, .. } => return (performed, Some((attempt, reason))),
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
    }
    (performed, None)
}

/// Each exchange costs the server a key agreement and a signature. The core allows a burst of 16
/// client-started exchanges, then one a second; a client that goes faster is cut off with reason 2.
#[test]
fn a_rekey_storm_gets_a_burst_of_16_exchanges_then_one_a_second() {
    let mut p = staged(test_server(), Stage::Authenticated, 9400);
    assert_eq!(rekey_storm(&mut p, 1000, 0), (16, Some((16, PROTOCOL_ERROR))), "1000 back to back");
    let mut p = staged(p.into_server(), Stage::Authenticated, 9401);
    // Four a second: the k-th attempt (at 250·k ms) would owe 250 + 750·k ms of credit, over the 16 s
    // allowance from k = 22 on.
    assert_eq!(rekey_storm(&mut p, 1000, 250), (21, Some((21, PROTOCOL_ERROR))), "four a second");
    let mut p = staged(p.into_server(), Stage::Authenticated, 9402);
    assert_eq!(rekey_storm(&mut p, 60, 1000), (60, None), "one a second may go on");
    assert_eq!(p.client.kexes_done, 61);
    complete_exec_session(p.into_server(), 33);
}

/// RFC 4253 §7.1 lets UNIMPLEMENTED (a generic transport message) go out during a key exchange, and the
/// server sends it at once, as OpenSSH does: a client that starts a re-exchange, never finishes it and
/// sends unassigned numbers 22..=29 (allowed during a kex) gets its answers and piles nothing up.
#[test]
fn replies_to_a_client_that_never_finishes_a_re_exchange_are_not_held_without_bound() {
    let mut p = staged(test_server(), Stage::Authenticated, 9410);
    p.client.passive = true; // hands the server's KEXINIT to the test and never answers it
    p.client.seal_now(&client_kexinit());
    const N: usize = 1000;
    for _ in 0..N {
        p.client.seal_now(&[22]);
    }
    p.pump();
    let events = p.drain_events();
    let ended = events.iter().any(|e| matches!(e, Event::Disconnected { .. }));
    let answered = p.client.inbox.iter().filter(|m| m[0] == msg::UNIMPLEMENTED).count();
    assert!(ended || answered == N, "{answered} of {N} answered, the rest held by the server; events {events:?}");
    complete_exec_session(p.into_server(), 37);
}

/// Input read ahead of a pending decision is bounded by a fixed amount: 320 KiB before authentication and
/// 1 MiB after, however much the channel windows allow. A host stops reading while it decides
/// (ts/core/binding.ts), so a well-behaved client's further bytes wait in its socket and it never gets near.
/// RFC 4253 §7.1: KEXINIT ends with the reserved uint32; a byte after it makes the message malformed.
#[test]
fn a_kexinit_with_bytes_after_its_reserved_field_is_refused() {
    let mut p = staged(test_server(), Stage::Authenticated, 9411);
    p.client.passive = true; // shows any KEXINIT of the server's to the test
    let mut kexinit = client_kexinit();
    assert_eq!(send_probe(&mut p, &kexinit), Reply(msg::KEXINIT), "the well-formed one is answered");
    let mut p = staged(p.into_server(), Stage::Authenticated, 9411);
    p.client.passive = true;
    kexinit.push(0);
    assert_eq!(send_probe(&mut p, &kexinit), Fatal(PROTOCOL_ERROR));
    complete_exec_session(p.into_server(), 39);
}

/// A compressed session: the client compresses what it sends once it is logged in.
fn zlib_session(seed: u64) -> Pair {
    let mut p = Pair::on(test_server(), ClientOptions { compression: "zlib@openssh.com".into(), ..Default::default() }, seed);
    p.handshake();
    p.login();
    p
}

/// An IGNORE of `len` zero bytes: a few hundred bytes on the wire once compressed.
fn compressible(len: usize) -> Vec<u8> {
    let mut w = Writer::message(msg::IGNORE);
    w.string(&vec![0; len]);
    w.into_vec()
}

/// The rekey allowance a client earns by traffic counts bytes on the wire: a compressed packet that
/// inflates to 200 KB earns what its few hundred bytes earn, not a dozen exchanges. Channel data is the
/// exception, counted by what it inflates to: the windows bound it, and OpenSSH -C with a small
/// `RekeyLimit` rekeys before every 32 KiB data packet however well it compresses.
#[test]
fn the_rekey_allowance_counts_bytes_on_the_wire_not_inflated_ones() {
    let mut p = zlib_session(9412);
    assert_eq!(rekey_storm(&mut p, 16, 0), (16, None), "the burst");
    p.send(&compressible(200_000));
    let wire = p.client.out.len();
    assert!(wire < 2_000, "{wire} bytes on the wire");
    assert_eq!(rekey_storm(&mut p, 1, 0), (0, Some((0, PROTOCOL_ERROR))), "{wire} bytes earn no exchange");

    let mut p = zlib_session(9412);
    let ch = p.open_session(0, 1 << 20, 32 * 1024);
    assert_eq!(rekey_storm(&mut p, 16, 0), (16, None), "the burst");
    for _ in 0..3 {
        p.send(&channel_data(ch.remote, &[0; 32 * 1024]));
        let wire = p.client.out.len();
        assert!(wire < 2_000, "{wire} bytes on the wire");
        p.pump();
        assert!(matches!(p.take_events().as_slice(), [Event::ChannelData { .. }]));
        assert_eq!(rekey_storm(&mut p, 1, 0), (1, None), "32 KiB of data, {wire} bytes on the wire");
    }

    // Incompressible data earns by its size: 16 KiB on the wire, one exchange.
    let mut p = zlib_session(9413);
    assert_eq!(rekey_storm(&mut p, 16, 0), (16, None), "the burst");
    let noise = p.client.random_bytes(17 * 1024);
    let mut w = Writer::message(msg::IGNORE);
    w.string(&noise);
    p.send(w.as_slice());
    assert_eq!(rekey_storm(&mut p, 1, 0), (1, None));
}

/// `KeyRenegotiationThreshold` counts bytes on the wire too: compressed traffic that inflates past it does
/// not make the server rekey, the same volume of incompressible traffic does.
#[test]
fn the_rekey_threshold_counts_bytes_on_the_wire_not_inflated_ones() {
    for (incompressible, rekeys) in [(false, 0), (true, 1)] {
        let mut server = test_server();
        server.config_mut().set("KeyRenegotiationThreshold", "65536").unwrap();
        let mut p = Pair::on(server, ClientOptions { compression: "zlib@openssh.com".into(), ..Default::default() }, 9414);
        p.handshake();
        p.login();
        let before = p.client.server_kexinits;
        for _ in 0..4 {
            let payload = if incompressible {
                let noise = p.client.random_bytes(30_000);
                let mut w = Writer::message(msg::IGNORE);
                w.string(&noise);
                w.into_vec()
            } else {
                compressible(200_000)
            };
            p.send(&payload);
            p.pump();
        }
        assert_eq!(p.client.server_kexinits - before, rekeys, "incompressible: {incompressible}");
    }
}

/// Replies held while a key exchange runs cost their size plus 64 bytes each, and at most 1024 wait: a
/// client that never answers the server's KEXINIT and streams tiny requests is cut off at the 1025th,
/// long before their bytes (1 each) would reach 256 KiB.
#[test]
fn replies_held_during_a_key_exchange_are_capped_by_count_as_well_as_bytes() {
    let mut server = test_server();
    for (requests, cut) in [(1024, false), (1025, true)] {
        let mut p = staged(server, Stage::Authenticated, 9415);
        p.client.passive = true; // takes the server's KEXINIT and never answers it
        p.server.rekey(p.id).unwrap();
        p.pump();
        assert_eq!(p.client.inbox.pop_front().map(|m| m[0]), Some(msg::KEXINIT));
        for _ in 0..requests {
            p.client.seal_now(&keepalive_global_request());
        }
        let got = observe(&mut p, 0, &[]);
        assert_eq!(got, if cut { Fatal(PROTOCOL_ERROR) } else { Ignored }, "{requests} requests");
        server = p.into_server();
    }
    complete_exec_session(server, 40);
}

/// A key exchange must be finished two minutes after it started, whoever started it: a client that never
/// answers the server's KEXINIT (during which the host's data and the keepalives wait), or one that sent
/// its KEXINIT and stops, is disconnected (reason 11). An exchange started by a host call, which carries no
/// time, asks for a timeout call at once to date it.
#[test]
fn a_key_exchange_not_finished_in_two_minutes_ends_the_connection() {
    assert_eq!(KEX_TIMEOUT_MS, 120_000);
    let mut server = test_server();
    for server_started in [true, false] {
        let mut p = staged(server, Stage::Authenticated, 9416);
        p.client.passive = true;
        let started = 50_000;
        p.now = started;
        if server_started {
            p.server.rekey(p.id).unwrap();
            let due = p.server.next_deadline(p.id).unwrap();
            assert!(due <= started, "dated at once: {due}");
            p.server.handle_timeout(p.id, started).unwrap();
        } else {
            p.client.seal_now(&client_kexinit());
        }
        p.pump();
        p.client.inbox.clear();
        assert_eq!(p.server.next_deadline(p.id), Some(started + KEX_TIMEOUT_MS), "server started: {server_started}");
        p.now = started + KEX_TIMEOUT_MS - 1;
        p.server.handle_timeout(p.id, p.now).unwrap();
        assert_eq!(observe(&mut p, 0, &[]), Ignored, "server started: {server_started}");
        p.now = started + KEX_TIMEOUT_MS;
        p.server.handle_timeout(p.id, p.now).unwrap();
        assert_eq!(observe(&mut p, 0, &[]), Fatal(BY_APPLICATION), "server started: {server_started}");
        server = p.into_server();
    }
    complete_exec_session(server, 41);
}

/// One call's output is bounded: processing buffered input stops once the connection has
/// `CALL_OUTPUT_BUDGET` (256 KiB) of output and queued channel data, and says so (`input_pending`); the
/// host continues with no bytes. This holds for a read that brings much data, for the input held back by
/// requests piled up to the bound (processed when the host answers one), and for the host's own `send_data`.
#[test]
fn one_call_processes_input_and_takes_data_only_up_to_the_output_budget() {
    let per_call = CALL_OUTPUT_BUDGET / (32 * 1024);
    let data = vec![0x5a; 32 * 1024];
    let mut p = staged(test_server(), Stage::Authenticated, 9417);
    let ch = p.open_session(0, u32::MAX, 32 * 1024);

    // 40 packets (1.25 MiB) in one read.
    for _ in 0..40 {
        p.client.send(&channel_data(ch.remote, &data));
    }
    let read = p.client.take_out();
    p.server.input(p.id, &read, p.now).unwrap();
    let mut calls = vec![p.take_events().len()];
    while p.server.input_pending(p.id) {
        p.server.input(p.id, &[], p.now).unwrap();
        calls.push(p.take_events().len());
    }
    assert!(calls.iter().all(|&n| n <= per_call), "events per call: {calls:?}");
    assert_eq!(calls.iter().sum::<usize>(), 40, "{calls:?}");

    // The same behind requests piled up to the bound: answering one processes one budget's worth.
    let mut w = Writer::message(msg::CHANNEL_REQUEST);
    w.u32(ch.remote).string(b"env").bool(false).string(b"A").string(b"b");
    for _ in 0..MAX_PENDING_REQUESTS {
        p.client.send(w.as_slice());
    }
    for _ in 0..20 {
        p.client.send(&channel_data(ch.remote, &data));
    }
    let read = p.client.take_out();
    p.server.input(p.id, &read, p.now).unwrap();
    let requests = p.take_events();
    assert!(requests.len() == MAX_PENDING_REQUESTS && requests.iter().all(|e| matches!(e, Event::ChannelRequest { .. })), "{requests:?}");
    assert!(p.server.decision_pending(p.id) && !p.server.input_pending(p.id), "the host is to answer, not to continue");
    p.server.reply_channel_request(p.id, ch.remote, true).unwrap();
    assert!(!p.server.decision_pending(p.id));
    assert_eq!(p.take_events().len(), per_call);
    assert!(p.server.input_pending(p.id));
    p.continue_input();
    assert_eq!(p.take_events().len(), 20 - per_call);

    // The host's data: at most the budget per call, whatever the peer's window.
    let big = vec![0x33; 4 << 20];
    let taken = p.server.send_data(p.id, ch.remote, 0, &big, p.now).unwrap();
    assert_eq!(taken, CALL_OUTPUT_BUDGET);
    let out = p.server.take_output(p.id);
    assert!(out.len() < CALL_OUTPUT_BUDGET + 4096, "{} bytes of output", out.len());
}

/// The idle timeout counts the server's own data as activity at the time it is sent (the host passes the
/// time with `send_data`), not at the time of the client's last packet.
#[test]
fn data_the_server_sends_counts_as_activity_when_it_is_sent() {
    let mut server = test_server();
    server.config_mut().set("DefaultIdleTimeout", "10").unwrap();
    let mut p = staged(server, Stage::Authenticated, 9418);
    let ch = p.open_session(0, 1 << 20, 32 * 1024);
    p.exec(&ch, b"source");
    assert_eq!(p.server.next_deadline(p.id), Some(10_000));
    p.now = 8_000;
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"output", p.now).unwrap(), 6);
    assert_eq!(p.server.next_deadline(p.id), Some(18_000));
    assert_eq!(p.expect_msg(msg::CHANNEL_DATA), channel_data(ch.local, b"output"));
    p.server.handle_timeout(p.id, 10_000).unwrap();
    assert_eq!(observe(&mut p, 0, &[]), Ignored, "still up at 10 s");
    p.now = 18_000;
    p.server.handle_timeout(p.id, p.now).unwrap();
    assert_eq!(observe(&mut p, 0, &[]), Fatal(BY_APPLICATION));
}

/// A channel's id is not given to the next channel opened after it closed: ids go round, so that a host's
/// stale handle for the closed channel cannot reach the new one.
#[test]
fn a_closed_channels_id_is_not_reused_by_the_next_channel() {
    let mut p = staged(test_server(), Stage::Authenticated, 9419);
    let mut ids = Vec::new();
    for local in 0..3 {
        let ch = p.open_session(local, 1 << 20, 32 * 1024);
        ids.push(ch.remote);
        p.server.close_channel(p.id, ch.remote).unwrap();
        assert_eq!(p.expect_msg(msg::CHANNEL_CLOSE), channel_only(msg::CHANNEL_CLOSE, ch.local));
        p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
        assert!(matches!(p.expect_event(), Event::ChannelClosed { .. }));
    }
    assert_eq!(ids, [0, 1, 2]);
}

#[test]
fn input_behind_a_pending_decision_is_bounded_by_320_kib_before_authentication_and_1_mib_after_whatever_the_windows() {
    let chunk = ignore_of(60_000);
    // Before authentication: five 60 KB packets (300 KB) wait for the host's decision, six do not.
    let mut server = test_server();
    for (packets, fits) in [(5, true), (6, false)] {
        let mut p = staged(server, Stage::ServiceAccepted, 9420 + packets);
        assert_eq!(send_probe(&mut p, &userauth_password("alice", "pending")), Event("AuthRequest"));
        for _ in 0..packets {
            p.send(&chunk);
        }
        if fits {
            assert_eq!(observe(&mut p, 0, &[]), Ignored, "{packets} packets");
            p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
            assert_eq!(observe(&mut p, 0, &[]), EventAndReply("Authenticated", msg::USERAUTH_SUCCESS));
        } else {
            assert_eq!(observe(&mut p, 0, &[]), Fatal(PROTOCOL_ERROR), "{packets} packets");
        }
        server = p.into_server();
    }
    // After: three open channels whose windows (2 MiB each) would take 6 MiB; behind as many channel opens
    // as the host may leave unanswered, 30 packets of 32 KiB of data spread over them (984 KB on the wire)
    // wait, 33 (1.08 MB) do not, though each channel stays well within its window.
    let data = vec![0x64; 32 * 1024];
    for (packets, fits) in [(30u32, true), (33, false)] {
        let mut p = staged(server, Stage::Authenticated, 9430 + u64::from(packets));
        let channels: Vec<OpenChannel> = (0..3).map(|i| p.open_session(i, 1 << 20, 32 * 1024)).collect();
        assert!(channels.iter().all(|c| c.window == 2 << 20), "{channels:?}");
        for i in 0..MAX_PENDING_OPENS as u32 {
            p.send(&channel_open("session", 9 + i, 1 << 20, 32 * 1024));
        }
        let opens = p.drain_events();
        assert!(opens.len() == MAX_PENDING_OPENS && opens.iter().all(|e| matches!(e, Event::ChannelOpenRequest { .. })), "{opens:?}");
        assert!(p.server.decision_pending(p.id));
        for i in 0..packets {
            p.send(&channel_data(channels[i as usize % 3].remote, &data));
        }
        if fits {
            assert_eq!(observe(&mut p, 0, &[]), Ignored, "{packets} packets");
            let Event::ChannelOpenRequest { channel, .. } = opens[0] else { panic!("{opens:?}") };
            p.server.reply_channel_open(p.id, channel, true, 0, "").unwrap();
            let events = p.drain_events();
            let delivered = events.iter().filter(|e| matches!(e, Event::ChannelData { .. })).count();
            assert_eq!(delivered, packets as usize, "every packet once the host has decided: {:?}", p.client.disconnect);
        } else {
            assert_eq!(observe(&mut p, 0, &[]), Fatal(PROTOCOL_ERROR), "{packets} packets");
        }
        server = p.into_server();
    }
    complete_exec_session(server, 34);
}

// ---- 5. timers ----------------------------------------------------------------------------------------

#[test]
fn login_grace_ends_an_unauthenticated_connection_that_keeps_sending_ignore() {
    let mut server = test_server();
    for stage in [None, Some(Stage::Keyed), Some(Stage::ServiceAccepted)] {
        let mut p = match stage {
            Some(stage) => staged(server, stage, 9500),
            None => {
                // A non-strict client stalled in the key exchange: KEXINIT, then only IGNORE.
                let mut p = silent_pair(server, 9501);
                p.send_raw(b"SSH-2.0-stalled\r\n");
                p.send_raw(&plain_packet(&client_kexinit()));
                p
            }
        };
        let grace = p.server.config().login_grace_ms;
        for second in 1..grace / 1000 {
            p.now = second * 1000;
            match stage {
                Some(_) => p.send(&probe(msg::IGNORE, 0)),
                None => p.send_raw(&plain_packet(&probe(msg::IGNORE, 0))),
            }
            p.pump();
            p.server.handle_timeout(p.id, p.now).unwrap(); // a host may call early
            assert_eq!(p.server.next_deadline(p.id), Some(grace), "{stage:?} at {second} s");
        }
        assert_eq!(observe(&mut p, 0, &["ClientVersion"]), Ignored, "{stage:?}: still up just before the deadline");
        p.now = grace;
        p.server.handle_timeout(p.id, p.now).unwrap();
        assert_eq!(observe(&mut p, 0, &[]), Fatal(BY_APPLICATION), "{stage:?}");
        server = p.into_server();
    }
    complete_exec_session(server, 35);
}

// ---- logs and authentication attempts ---------------------------------------------------------------

fn printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Text a client controls ends up in the host's logs (`Event::Log`) and in `Disconnected` descriptions:
/// a SERVICE_REQUEST's service name ("service not available: ...") and a GLOBAL_REQUEST's name are quoted
/// without control characters, like the client's DISCONNECT text.
#[test]
fn client_text_reaches_logs_and_descriptions_without_control_characters() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("LogLevel", "2"), Ok(true));
    let forged = "x\r\n[auth] user root logged in\x1b[2K";

    let mut p = staged(server, Stage::Keyed, 9600);
    let mut w = Writer::message(msg::SERVICE_REQUEST);
    w.string(forged.as_bytes());
    p.send(w.as_slice());
    let (got, events) = observe_events(&mut p, 0, &[]);
    assert_eq!(got, Fatal(SERVICE_NOT_AVAILABLE));
    for e in &events {
        if let Event::Disconnected { description, .. } = e {
            assert!(printable(description), "disconnect description {description:?}");
        }
    }
    assert!(p.log.iter().all(|l| printable(l)), "log {:#?}", p.log);

    let mut p = staged(p.into_server(), Stage::Authenticated, 9601);
    let mut w = Writer::message(msg::GLOBAL_REQUEST);
    w.string(forged.as_bytes()).bool(false);
    assert_eq!(send_probe(&mut p, w.as_slice()), Event("GlobalRequest"));
    assert!(p.log.iter().all(|l| printable(l)), "log {:#?}", p.log);
    complete_exec_session(p.into_server(), 39);
}

fn publickey_query(user: &str, seed: u8) -> Vec<u8> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let blob = wasshd_core::keys::PublicKey::Ed25519(key.verifying_key()).blob();
    userauth(user.as_bytes(), b"ssh-connection", b"publickey", |w| {
        w.bool(false).string(b"ssh-ed25519").string(&blob);
    })
}

/// Sends `request` up to `max + 1` times, the host refusing each; returns the attempt at which the server
/// ended the connection and with what reason.
fn refused_attempts(p: &mut Pair, max: u32, request: impl Fn(u32) -> Vec<u8>) -> Option<(u32, u32)> {
    for attempt in 1..=max + 1 {
        assert_eq!(send_probe(p, &request(attempt)), Event("AuthRequest"), "attempt {attempt}");
        p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
        match observe(p, 0, &[]) {
            Reply(msg::USERAUTH_FAILURE) => {}
            Fatal(reason) => return Some((attempt, reason)),
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    None
}

/// Every refused publickey offer counts toward MaxAuthAttempts, as in OpenSSH (hence "Too many
/// authentication failures" with a full agent): otherwise a client could test any number of public keys
/// against a user, an oracle for which keys a user holds and a host round-trip per key.
#[test]
fn refused_publickey_queries_count_toward_max_auth_attempts() {
    let mut p = staged(test_server(), Stage::ServiceAccepted, 9610);
    let max = p.server.config().max_auth_attempts;
    let ended = refused_attempts(&mut p, max, |i| publickey_query("bob", 0x30 + i as u8));
    assert_eq!(ended, Some((max, NO_MORE_AUTH_METHODS)));
    complete_exec_session(p.into_server(), 40);
}

/// The first "none" request goes through uncounted (clients send it to learn the methods) and the rest
/// count, as in OpenSSH: no client may ask the host for decisions without end.
#[test]
fn repeated_none_requests_count_toward_max_auth_attempts() {
    let mut p = staged(test_server(), Stage::ServiceAccepted, 9620);
    let max = p.server.config().max_auth_attempts;
    let ended = refused_attempts(&mut p, max, |_| userauth(b"mallory", b"ssh-connection", b"none", |_| {}));
    assert_eq!(ended, Some((max + 1, NO_MORE_AUTH_METHODS)), "the first is free, the next {max} count");
    complete_exec_session(p.into_server(), 41);
}

// ---- compression ------------------------------------------------------------------------------------

const COMPRESSION_ERROR: u32 = 6;

/// Logged in over zlib@openssh.com, so the client's next packet is inflated; with the sealer for
/// hand-made packets.
fn compressed_session(seed: u64) -> (Pair, RawSealer) {
    let mut p = Pair::on(test_server(), ClientOptions { compression: "zlib@openssh.com".into(), ..Default::default() }, seed);
    p.handshake();
    p.login();
    let sealer = RawSealer::after_kex(&p);
    (p, sealer)
}

fn zlib_bomb(inflated_len: usize) -> Vec<u8> {
    let mut bomb = Vec::new();
    Deflater::fresh().compress(&vec![msg::IGNORE; inflated_len], &mut bomb).unwrap();
    bomb
}

#[test]
fn compressed_payloads_that_are_not_deflate_or_stop_mid_stream_are_reason_6() {
    let garbage: [&[u8]; 3] = [&[0xff; 64], &[0x78, 0x9c, 0xff, 0xff, 0xff], &[0x08, 0x1d]];
    for (i, payload) in garbage.into_iter().enumerate() {
        let (mut p, mut sealer) = compressed_session(9700 + i as u64);
        let seq = sealer.seq;
        p.send_raw(&sealer.packet(payload));
        assert_eq!(observe(&mut p, seq, &[]), Fatal(COMPRESSION_ERROR), "{payload:02x?}");
        complete_exec_session(p.into_server(), 42);
    }
}

/// A zlib bomb: a packet well under the length limit that inflates to 16 times the payload limit. The
/// server stops inflating at the limit and ends the connection.
#[test]
fn a_zlib_bomb_is_reason_6_and_inflation_stops_at_the_packet_limit() {
    let (mut p, mut sealer) = compressed_session(9710);
    let bomb = zlib_bomb(16 * MAX_PACKET_LEN as usize);
    assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
    let seq = sealer.seq;
    p.send_raw(&sealer.packet(&bomb));
    assert_eq!(observe(&mut p, seq, &[]), Fatal(COMPRESSION_ERROR));
    complete_exec_session(p.into_server(), 43);
}

/// zlib@openssh.com: before the user is authenticated nothing is inflated, so the same bomb sent in place
/// of the service request is read as it stands (a message numbered 0x78, zlib's first byte).
#[test]
fn before_authentication_delayed_compression_inflates_nothing() {
    let mut p = Pair::on(test_server(), ClientOptions { compression: "zlib@openssh.com".into(), ..Default::default() }, 9720);
    p.handshake();
    let mut sealer = RawSealer::after_kex(&p);
    let bomb = zlib_bomb(16 * MAX_PACKET_LEN as usize);
    assert_eq!(bomb[0], 0x78);
    let seq = sealer.seq;
    p.send_raw(&sealer.packet(&bomb));
    let outcome = observe(&mut p, seq, &[]);
    assert!(matches!(outcome, Unimplemented | Fatal(PROTOCOL_ERROR)), "{outcome:?}");
}
