//! A hostile server against the client role: a server-role transport session scripted by the test sends
//! messages out of turn, for channels that do not exist, past the windows, and requests a terminal client
//! does not take. The client ends the connection with PROTOCOL_ERROR where the protocol is broken, refuses
//! what it does not offer without ending it, and never panics, whatever the message number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::VecDeque;

use common::{host_key, USER_SEED};
use wasshd_core::config::Config;
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::HostKey;
use wasshd_core::msg;
use wasshd_core::transport::session::{Ctx, Incoming, Session};
use wasshd_core::transport::Role;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{Client, ClientEvent, Event};

const PROTOCOL_ERROR: u32 = 2;
/// The client's receive window and packet size in these tests, small enough to overrun.
const WINDOW: u32 = 4096;
const MAX_PACKET: u32 = 1024;
/// The id the fake server gives the channel the client opens.
const SERVER_CHANNEL: u32 = 5;

/// A server-role session that hands every message to the test and sends what the test writes.
struct FakeServer {
    session: Option<Session>,
    config: Config,
    host_keys: Vec<HostKey>,
    rng: EntropyPool,
    events: VecDeque<(u32, Event)>,
    inbox: VecDeque<Vec<u8>>,
}

impl FakeServer {
    fn new() -> Self {
        let mut s = FakeServer {
            session: None,
            config: Config::default(),
            host_keys: vec![host_key()],
            rng: EntropyPool::new(b"the hostile server's seed"),
            events: VecDeque::new(),
            inbox: VecDeque::new(),
        };
        s.session = Some(s.with(|_, ctx| Session::new(Role::Server, "SSH-2.0-hostile", 0, ctx)));
        s
    }

    fn with<R>(&mut self, f: impl FnOnce(Option<&mut Session>, &mut Ctx) -> R) -> R {
        let mut ctx = Ctx {
            id: 0,
            config: &self.config,
            host_keys: &self.host_keys,
            next_host_keys: &[],
            rng: &mut self.rng,
            events: &mut self.events,
        };
        f(self.session.as_mut(), &mut ctx)
    }

    fn send(&mut self, payload: &[u8]) {
        self.with(|s, ctx| s.unwrap().send(payload, ctx));
    }

    fn receive(&mut self, bytes: &[u8]) {
        self.session.as_mut().unwrap().receive(bytes);
        while let Ok(Some(incoming)) = self.with(|s, ctx| s.unwrap().poll(ctx)) {
            match incoming {
                Incoming::Message(m) => self.inbox.push_back(m.to_vec()),
                Incoming::Data => {
                    let data = self.session.as_ref().unwrap().lent().to_vec();
                    self.inbox.push_back(data);
                }
                _ => {}
            }
        }
    }

    fn expect(&mut self, msg_type: u8) -> Vec<u8> {
        let m = self.inbox.pop_front().unwrap_or_else(|| panic!("the client sent no message {msg_type}"));
        assert_eq!(m[0], msg_type, "{m:?}");
        m
    }
}

/// How far the test takes the connection before the hostile message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Keys exchanged; the host has not accepted the server's key.
    KeysExchanged,
    /// Host key accepted, service accepted, no attempt in flight.
    ServiceAccepted,
    /// A publickey query is out.
    KeyQueried,
    /// A keyboard-interactive attempt is out.
    Interactive,
    /// Logged in with channel 0 open (the server's id for it: `SERVER_CHANNEL`).
    ChannelOpen,
    /// As `ChannelOpen`, and a second channel's open is out.
    SecondOpening,
}

struct Duo {
    server: FakeServer,
    client: Client,
    events: Vec<ClientEvent>,
}

impl Duo {
    fn at(stage: Stage) -> Duo {
        let config = Config { channel_window: WINDOW, channel_max_packet: MAX_PACKET, ..Config::default() };
        let mut d =
            Duo { server: FakeServer::new(), client: Client::new(config, b"client seed for the hostile tests", 0), events: Vec::new() };
        d.pump();
        assert!(d.events.iter().any(|e| matches!(e, ClientEvent::HostKey { .. })), "{:?}", d.events);
        if stage == Stage::KeysExchanged {
            return d.settled();
        }
        d.client.accept_host_key(true).unwrap();
        d.pump();
        d.server.expect(msg::SERVICE_REQUEST);
        let mut accept = Writer::message(msg::SERVICE_ACCEPT);
        accept.string(b"ssh-userauth");
        d.server.send(accept.as_slice());
        d.pump();
        match stage {
            Stage::KeysExchanged | Stage::ServiceAccepted => return d.settled(),
            Stage::KeyQueried => {
                d.client.auth_publickey("alice", HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&USER_SEED))).unwrap();
                d.pump();
                d.server.expect(msg::USERAUTH_REQUEST);
                return d.settled();
            }
            Stage::Interactive => {
                d.client.auth_keyboard_interactive("alice").unwrap();
                d.pump();
                d.server.expect(msg::USERAUTH_REQUEST);
                return d.settled();
            }
            Stage::ChannelOpen | Stage::SecondOpening => {}
        }
        d.client.auth_password("alice", "pw").unwrap();
        d.pump();
        d.server.expect(msg::USERAUTH_REQUEST);
        d.server.send(&[msg::USERAUTH_SUCCESS]);
        d.pump();
        assert!(d.client.is_authenticated());
        let channel = d.client.open_session().unwrap();
        d.pump();
        d.server.expect(msg::CHANNEL_OPEN);
        d.server.send(&confirmation(channel, 1 << 20, 32 * 1024));
        d.pump();
        assert!(d.events.contains(&ClientEvent::ChannelOpened { channel: 0 }));
        if stage == Stage::SecondOpening {
            assert_eq!(d.client.open_session().unwrap(), 1);
            d.pump();
            d.server.expect(msg::CHANNEL_OPEN);
        }
        d.settled()
    }

    /// The state reached: no message or event left over.
    fn settled(mut self) -> Duo {
        assert!(!self.client.is_closed(), "{:?}", self.events);
        self.server.inbox.clear();
        self.events.clear();
        self
    }

    fn pump(&mut self) {
        loop {
            let up = self.client.take_output();
            self.server.receive(&up);
            let down = self.server.session.as_mut().unwrap().take_output();
            self.client.input(&down, 0);
            while let Some(e) = self.client.poll_event() {
                if !matches!(e, ClientEvent::Log { .. }) {
                    self.events.push(e);
                }
            }
            if up.is_empty() && down.is_empty() {
                return;
            }
        }
    }

    /// The reason the client ended the connection with, if it did.
    fn disconnect_reason(&self) -> Option<u32> {
        self.events.iter().find_map(|e| match e {
            ClientEvent::Disconnected { reason, by_peer: false, .. } => Some(*reason),
            _ => None,
        })
    }
}

fn confirmation(recipient: u32, window: u32, max_packet: u32) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_OPEN_CONFIRMATION);
    w.u32(recipient).u32(SERVER_CHANNEL).u32(window).u32(max_packet);
    w.into_vec()
}

fn channel_message(msg_type: u8, recipient: u32, rest: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg_type);
    w.u32(recipient);
    rest(&mut w);
    w.into_vec()
}

fn data(recipient: u32, len: usize) -> Vec<u8> {
    channel_message(msg::CHANNEL_DATA, recipient, |w| {
        w.string(&vec![b'x'; len]);
    })
}

#[test]
fn protocol_breaches_end_the_connection_with_protocol_error() {
    let mut info_request = Writer::message(msg::USERAUTH_INFO_REQUEST);
    info_request.string(b"").string(b"").string(b"").u32(17);
    for _ in 0..17 {
        info_request.string(b"?").bool(false);
    }
    let mut other_key = Writer::message(msg::USERAUTH_PK_OK);
    other_key.string(b"ssh-ed25519").string(&host_key().public().blob());
    let mut service_accept = Writer::message(msg::SERVICE_ACCEPT);
    service_accept.string(b"ssh-userauth");
    let cases: Vec<(&str, Stage, Vec<Vec<u8>>)> = vec![
        ("service accept before the host key is accepted", Stage::KeysExchanged, vec![service_accept.into_vec()]),
        ("success before any attempt", Stage::KeysExchanged, vec![vec![msg::USERAUTH_SUCCESS]]),
        ("channel data before authentication", Stage::ServiceAccepted, vec![data(0, 1)]),
        ("failure with no attempt out", Stage::ServiceAccepted, vec![channel_message(msg::USERAUTH_FAILURE, 0, |_| {})]),
        ("PK_OK with no attempt out", Stage::ServiceAccepted, vec![other_key.as_slice().to_vec()]),
        ("PK_OK for another key", Stage::KeyQueried, vec![other_key.into_vec()]),
        ("more prompts than the bound", Stage::Interactive, vec![info_request.into_vec()]),
        ("data for a channel that does not exist", Stage::ChannelOpen, vec![data(9, 1)]),
        ("data past the packet size", Stage::ChannelOpen, vec![data(0, MAX_PACKET as usize + 1)]),
        ("data past the window", Stage::ChannelOpen, (0..=WINDOW / MAX_PACKET).map(|_| data(0, MAX_PACKET as usize)).collect()),
        (
            "window past 2^32 - 1",
            Stage::ChannelOpen,
            vec![channel_message(msg::CHANNEL_WINDOW_ADJUST, 0, |w| {
                w.u32(u32::MAX);
            })],
        ),
        ("a reply to no request", Stage::ChannelOpen, vec![channel_message(msg::CHANNEL_SUCCESS, 0, |_| {})]),
        ("a second confirmation", Stage::ChannelOpen, vec![confirmation(0, 1000, 1000)]),
        ("a global reply to no request", Stage::ChannelOpen, vec![vec![msg::REQUEST_SUCCESS]]),
        ("a confirmation with tiny packets", Stage::SecondOpening, vec![confirmation(1, 1000, 16)]),
    ];
    let mut wrong = Vec::new();
    for (name, stage, messages) in cases {
        let mut d = Duo::at(stage);
        for m in &messages {
            d.server.send(m);
        }
        d.pump();
        if d.disconnect_reason() != Some(PROTOCOL_ERROR) || !d.client.is_closed() {
            wrong.push(format!("{name}: {:?}", d.events));
        }
    }
    assert!(wrong.is_empty(), "not ended with PROTOCOL_ERROR:\n{}", wrong.join("\n"));
}

#[test]
fn what_a_terminal_client_does_not_offer_is_refused_and_the_connection_goes_on() {
    let mut d = Duo::at(Stage::ChannelOpen);
    let mut open = Writer::message(msg::CHANNEL_OPEN);
    open.string(b"forwarded-tcpip").u32(77).u32(1000).u32(1000).string(b"127.0.0.1").u32(80).string(b"1.2.3.4").u32(9);
    d.server.send(open.as_slice());
    let mut global = Writer::message(msg::GLOBAL_REQUEST);
    global.string(b"keepalive@openssh.com").bool(true);
    d.server.send(global.as_slice());
    d.server.send(&channel_message(msg::CHANNEL_REQUEST, 0, |w| {
        w.string(b"keepalive@openssh.com").bool(true);
    }));
    d.server.send(&[200]);
    d.pump();
    let failure = d.server.expect(msg::CHANNEL_OPEN_FAILURE);
    assert_eq!(failure[1..5], 77u32.to_be_bytes());
    assert_eq!(d.server.expect(msg::REQUEST_FAILURE), [msg::REQUEST_FAILURE]);
    assert_eq!(d.server.expect(msg::CHANNEL_FAILURE), channel_message(msg::CHANNEL_FAILURE, SERVER_CHANNEL, |_| {}));
    // SSH_MSG_UNIMPLEMENTED is a transport message: the session consumed it. Nothing else came back.
    assert!(d.server.inbox.is_empty(), "{:?}", d.server.inbox);
    assert!(d.events.is_empty() && !d.client.is_closed(), "{:?}", d.events);
    // The channel still carries data both ways.
    d.server.send(&data(0, 3));
    d.pump();
    assert_eq!(d.events, [ClientEvent::ChannelData { channel: 0, stream: 0, data: b"xxx".to_vec() }]);
    assert_eq!(d.client.send_data(0, 0, b"up", 0).unwrap(), 2);
    d.pump();
    let up = d.server.expect(msg::CHANNEL_DATA);
    let mut r = Reader::new(&up[1..]);
    assert_eq!((r.u32().unwrap(), r.string().unwrap()), (SERVER_CHANNEL, &b"up"[..]));
}

#[test]
fn a_banner_cannot_drive_the_terminal() {
    let mut d = Duo::at(Stage::ServiceAccepted);
    let mut banner = Writer::message(msg::USERAUTH_BANNER);
    banner.string(b"Welcome\x1b]0;owned\x07\r\n").string(b"");
    d.server.send(banner.as_slice());
    d.pump();
    assert_eq!(d.events, [ClientEvent::Banner { message: "Welcome?]0;owned?\r\n".into() }]);
}

#[test]
fn no_message_number_makes_the_client_panic_in_any_stage() {
    for stage in [Stage::KeysExchanged, Stage::ServiceAccepted, Stage::KeyQueried, Stage::Interactive, Stage::ChannelOpen] {
        for msg_type in 0..=255u8 {
            for payload in [vec![msg_type], vec![msg_type, 0, 0, 0, 0, 0, 0, 0, 1, b'x']] {
                let mut d = Duo::at(stage);
                d.server.send(&payload);
                d.pump();
                if let Some(reason) = d.disconnect_reason() {
                    assert!((1..=15).contains(&reason), "{stage:?} {msg_type}: reason {reason}");
                }
            }
        }
    }
}
