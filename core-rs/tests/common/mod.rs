//! Shared test harness: a server with a fixed host key, the test client, and a `Pair` that moves bytes
//! between them on a simulated clock and sorts the server's events by connection.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod client;
pub mod client_host;

use std::collections::VecDeque;

#[allow(unused_imports)]
pub use client::{exchange_hash, mpint, ssh_string, Client, ClientOptions};
use wasshd_core::connection::ChannelRequest;
use wasshd_core::event::KexSummary;
use wasshd_core::keys::HostKey;
use wasshd_core::msg;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{AuthMethod, AuthReply, Event, Server};

/// The server's ed25519 host key seed.
pub const HOST_SEED: [u8; 32] = [0x42; 32];
/// A user key the publickey tests sign with.
pub const USER_SEED: [u8; 32] = [0x11; 32];

pub fn host_key() -> HostKey {
    HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&HOST_SEED))
}

pub fn test_server() -> Server {
    let mut s = Server::new(b"wasshd integration tests: fixed server seed");
    s.add_host_key_openssh(&host_key().to_openssh("host", 0x1234_5678), None).unwrap();
    s
}

/// Every RFC 4250 §4.2.2 disconnect reason code.
pub fn valid_reason(code: u32) -> bool {
    (1..=15).contains(&code) && code != 4
}

/// The client's view of an open channel.
#[derive(Debug, Clone, Copy)]
pub struct OpenChannel {
    /// Our id (what the server sends to).
    pub local: u32,
    /// The server's id (what we send to).
    pub remote: u32,
    /// The server's initial receive window and maximum packet.
    pub window: u32,
    pub max_packet: u32,
}

pub struct Pair {
    pub server: Server,
    pub id: u32,
    pub client: Client,
    pub now: u64,
    events: VecDeque<Event>,
    pub log: Vec<String>,
    /// Every byte the client has delivered to the server, in order.
    pub client_stream: Vec<u8>,
    /// The most bytes handed to `Server::input` in one call, as a socket read would (unlimited by default).
    pub read_size: usize,
}

impl Pair {
    pub fn new(opts: ClientOptions) -> Pair {
        Pair::on(test_server(), opts, 1)
    }

    /// A new connection on an existing server.
    pub fn on(server: Server, opts: ClientOptions, seed: u64) -> Pair {
        Pair::with_client(server, Client::new(opts, seed), 0)
    }

    pub fn with_client(mut server: Server, client: Client, now: u64) -> Pair {
        let id = server.open(now).unwrap();
        Pair { server, id, client, now, events: VecDeque::new(), log: Vec::new(), client_stream: Vec::new(), read_size: usize::MAX }
    }

    /// Forgets this connection and hands the server back.
    pub fn into_server(mut self) -> Server {
        self.server.close(self.id);
        self.server
    }

    fn collect(&mut self) {
        while let Some((id, ev)) = self.server.poll_event() {
            if id != self.id {
                continue;
            }
            match ev {
                Event::Log { message, .. } => self.log.push(message),
                other => self.events.push_back(other),
            }
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let continued = self.server.input_pending(self.id);
            self.continue_input();
            let s = self.server.take_output(self.id);
            if !s.is_empty() {
                self.client.receive(&s);
            }
            let c = self.client.take_out();
            self.feed(&c);
            self.collect();
            if s.is_empty() && c.is_empty() && !continued {
                return;
            }
        }
        panic!("pump did not settle");
    }

    /// One step: only the client's pending bytes go to the server.
    pub fn deliver_to_server(&mut self) {
        let c = self.client.take_out();
        self.feed(&c);
        self.collect();
    }

    /// Hands the client's bytes to the server in reads of at most `read_size` bytes.
    fn feed(&mut self, c: &[u8]) {
        self.client_stream.extend_from_slice(c);
        for piece in c.chunks(self.read_size.max(1)) {
            self.server.input(self.id, piece, self.now).unwrap();
            self.continue_input();
        }
    }

    /// As a host does when a call stopped at the output budget: the output goes out, then input goes on.
    pub fn continue_input(&mut self) {
        while self.server.input_pending(self.id) {
            let s = self.server.take_output(self.id);
            self.client.receive(&s);
            self.server.input(self.id, &[], self.now).unwrap();
        }
    }

    /// One step: only the server's pending bytes go to the client.
    pub fn deliver_to_client(&mut self) {
        let s = self.server.take_output(self.id);
        self.client.receive(&s);
    }

    /// The next event for this connection other than a log line.
    pub fn event(&mut self) -> Option<Event> {
        self.pump();
        self.events.pop_front()
    }

    pub fn expect_event(&mut self) -> Event {
        match self.event() {
            Some(e) => e,
            None => panic!(
                "expected an event; client error {:?}, disconnect {:?}, log {:#?}",
                self.client.error, self.client.disconnect, self.log
            ),
        }
    }

    /// The events so far, without moving any bytes.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.collect();
        self.events.drain(..).collect()
    }

    pub fn drain_events(&mut self) -> Vec<Event> {
        self.pump();
        self.events.drain(..).collect()
    }

    /// The next message the client received that the test has not looked at.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        self.pump();
        self.client.inbox.pop_front()
    }

    pub fn expect_msg(&mut self, msg_type: u8) -> Vec<u8> {
        let m = self.recv().unwrap_or_else(|| {
            panic!(
                "expected message {msg_type}; client error {:?}, disconnect {:?}, log {:#?}",
                self.client.error, self.client.disconnect, self.log
            )
        });
        assert_eq!(m[0], msg_type, "expected message {msg_type}, got {m:?}");
        m
    }

    pub fn send(&mut self, payload: &[u8]) {
        self.client.send(payload);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.client.out.extend_from_slice(bytes);
    }

    /// Runs the initial key exchange; returns what the server reports about it.
    pub fn handshake(&mut self) -> KexSummary {
        match self.expect_event() {
            Event::ClientVersion { version } => assert_eq!(version, self.client.opts.version),
            other => panic!("expected ClientVersion, got {other:?}"),
        }
        let summary = match self.expect_event() {
            Event::KeysExchanged(s) => s,
            other => panic!("expected KeysExchanged, got {other:?}"),
        };
        assert!(summary.initial);
        assert_eq!(self.client.kexes_done, 1, "client error: {:?}", self.client.error);
        assert!(self.client.error.is_none(), "{:?}", self.client.error);
        summary
    }

    pub fn request_service(&mut self) {
        let mut w = Writer::message(msg::SERVICE_REQUEST);
        w.string(b"ssh-userauth");
        self.send(w.as_slice());
        match self.expect_event() {
            Event::ServiceRequest { service } => assert_eq!(service, "ssh-userauth"),
            other => panic!("expected ServiceRequest, got {other:?}"),
        }
        self.server.reply_service(self.id, true).unwrap();
        let accept = self.expect_msg(msg::SERVICE_ACCEPT);
        let mut r = Reader::new(&accept[1..]);
        assert_eq!(r.string().unwrap(), b"ssh-userauth");
        r.finish().unwrap();
    }

    /// Service request and a password login the host accepts.
    pub fn login(&mut self) {
        self.request_service();
        self.send(&userauth_password("alice", "correct horse"));
        match self.expect_event() {
            Event::AuthRequest(req) => {
                assert_eq!((req.user.as_str(), req.service.as_str()), ("alice", "ssh-connection"));
                match req.method {
                    AuthMethod::Password { password } => assert_eq!(password.as_str(), "correct horse"),
                    other => panic!("expected a password, got {other:?}"),
                }
            }
            other => panic!("expected AuthRequest, got {other:?}"),
        }
        self.server.reply_auth(self.id, AuthReply::Accept).unwrap();
        assert_eq!(self.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
        match self.expect_event() {
            Event::Authenticated { user, method } => assert_eq!((user.as_str(), method.as_str()), ("alice", "password")),
            other => panic!("expected Authenticated, got {other:?}"),
        }
    }

    /// Opens a session channel the host accepts.
    pub fn open_session(&mut self, local: u32, window: u32, max_packet: u32) -> OpenChannel {
        self.send(&channel_open("session", local, window, max_packet));
        let channel = match self.expect_event() {
            Event::ChannelOpenRequest { channel, kind, data } => {
                assert_eq!(kind, "session");
                assert!(data.is_empty());
                channel
            }
            other => panic!("expected ChannelOpenRequest, got {other:?}"),
        };
        self.server.reply_channel_open(self.id, channel, true, 0, "").unwrap();
        let conf = self.expect_msg(msg::CHANNEL_OPEN_CONFIRMATION);
        let mut r = Reader::new(&conf[1..]);
        assert_eq!(r.u32().unwrap(), local);
        let remote = r.u32().unwrap();
        assert_eq!(remote, channel);
        let (window, max_packet) = (r.u32().unwrap(), r.u32().unwrap());
        r.finish().unwrap();
        OpenChannel { local, remote, window, max_packet }
    }

    pub fn exec(&mut self, ch: &OpenChannel, command: &[u8]) {
        let mut w = Writer::message(msg::CHANNEL_REQUEST);
        w.u32(ch.remote).string(b"exec").bool(true).string(command);
        self.send(w.as_slice());
        match self.expect_event() {
            Event::ChannelRequest { channel, request: ChannelRequest::Exec { command: c }, want_reply: true } => {
                assert_eq!(channel, ch.remote);
                assert_eq!(c, command);
            }
            other => panic!("expected an exec request, got {other:?}"),
        }
        self.server.reply_channel_request(self.id, ch.remote, true).unwrap();
        let ok = self.expect_msg(msg::CHANNEL_SUCCESS);
        assert_eq!(ok[1..], ch.local.to_be_bytes());
    }

    /// Takes in what both sides sent on a `cat` session: channel data events (consumed, so the window
    /// reopens) into `up` and CHANNEL_DATA messages into `down`. Re-exchanges and ready-to-send notices may
    /// come along; anything else fails the test. Returns the number of re-exchanges.
    pub fn collect_data(&mut self, channel: u32, up: &mut Vec<u8>, down: &mut Vec<u8>) -> u32 {
        let mut rekeys = 0;
        for e in self.drain_events() {
            match e {
                Event::ChannelData { data, .. } => {
                    self.server.consume_channel_data(self.id, channel, data.len() as u32).unwrap();
                    up.extend_from_slice(&data);
                }
                Event::KeysExchanged(s) => {
                    assert!(!s.initial);
                    rekeys += 1;
                }
                Event::ChannelReadyToSend { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        while let Some(m) = self.recv() {
            match m[0] {
                msg::CHANNEL_DATA => down.extend_from_slice(&parse_channel_data(&m).1),
                msg::CHANNEL_WINDOW_ADJUST => {}
                other => panic!("unexpected message {other}"),
            }
        }
        rekeys
    }

    /// The server ended the connection with `reason`: it reported `Disconnected` (not by the peer) and the
    /// client received a DISCONNECT with the same code. Returns the description and the other events that
    /// came with it.
    pub fn expect_disconnect(&mut self, reason: u32) -> (String, Vec<Event>) {
        let events = self.drain_events();
        let found = events.iter().find_map(|e| match e {
            Event::Disconnected { reason, description, by_peer } => Some((*reason, description.clone(), *by_peer)),
            _ => None,
        });
        let others: Vec<Event> = events.into_iter().filter(|e| !matches!(e, Event::Disconnected { .. })).collect();
        let Some((got, description, by_peer)) = found else {
            panic!("expected Disconnected({reason}); events {others:?}, client {:?}, log {:#?}", self.client.disconnect, self.log)
        };
        assert_eq!(got, reason, "disconnect reason ({description})");
        assert!(!by_peer);
        let (client_reason, client_description) = self.client.disconnect.clone().expect("client saw no DISCONNECT");
        assert_eq!(client_reason, reason);
        assert_eq!(client_description, description);
        // The connection takes no more input and writes nothing more.
        self.server.input(self.id, b"more bytes", self.now).unwrap();
        assert!(self.server.take_output(self.id).is_empty());
        assert!(self.server.next_deadline(self.id).is_none());
        (description, others)
    }
}

// ---- message builders (client side) ---------------------------------------------------------------

pub fn userauth_password(user: &str, password: &str) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user.as_bytes()).string(b"ssh-connection").string(b"password").bool(false).string(password.as_bytes());
    w.into_vec()
}

pub fn channel_open(kind: &str, sender: u32, window: u32, max_packet: u32) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_OPEN);
    w.string(kind.as_bytes()).u32(sender).u32(window).u32(max_packet);
    w.into_vec()
}

pub fn channel_data(recipient: u32, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_DATA);
    w.u32(recipient).string(data);
    w.into_vec()
}

pub fn channel_only(msg_type: u8, recipient: u32) -> Vec<u8> {
    let mut w = Writer::message(msg_type);
    w.u32(recipient);
    w.into_vec()
}

pub fn window_adjust(recipient: u32, add: u32) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_WINDOW_ADJUST);
    w.u32(recipient).u32(add);
    w.into_vec()
}

/// Splits a CHANNEL_DATA payload into (recipient, data).
pub fn parse_channel_data(payload: &[u8]) -> (u32, Vec<u8>) {
    assert_eq!(payload[0], msg::CHANNEL_DATA);
    let mut r = Reader::new(&payload[1..]);
    let recipient = r.u32().unwrap();
    let data = r.string().unwrap().to_vec();
    r.finish().unwrap();
    (recipient, data)
}

/// Deterministic test data.
pub fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) ^ (i >> 8) as u8).collect()
}

/// A full connection on `server`: handshake, password login, session, exec, data both ways, exit status,
/// EOF and close. Proves the server still serves after whatever happened before.
pub fn complete_exec_session(server: Server, seed: u64) -> Server {
    let mut p = Pair::on(server, ClientOptions::default(), seed);
    p.handshake();
    p.login();
    let ch = p.open_session(7, 64 * 1024, 32 * 1024);
    p.exec(&ch, b"cat");
    p.send(&channel_data(ch.remote, b"hello server"));
    match p.expect_event() {
        Event::ChannelData { channel, stream: 0, data } => assert_eq!((channel, data.as_slice()), (ch.remote, &b"hello server"[..])),
        other => panic!("expected ChannelData, got {other:?}"),
    }
    assert_eq!(p.server.send_data(p.id, ch.remote, 0, b"hello client", p.now).unwrap(), 12);
    assert_eq!(parse_channel_data(&p.expect_msg(msg::CHANNEL_DATA)), (ch.local, b"hello client".to_vec()));
    p.server.send_exit_status(p.id, ch.remote, 0).unwrap();
    p.server.send_eof(p.id, ch.remote).unwrap();
    p.server.close_channel(p.id, ch.remote).unwrap();
    let status = p.expect_msg(msg::CHANNEL_REQUEST);
    let mut r = Reader::new(&status[1..]);
    assert_eq!(r.u32().unwrap(), ch.local);
    assert_eq!(r.utf8().unwrap(), "exit-status");
    assert!(!r.bool().unwrap());
    assert_eq!(r.u32().unwrap(), 0);
    r.finish().unwrap();
    assert_eq!(p.expect_msg(msg::CHANNEL_EOF), channel_only(msg::CHANNEL_EOF, ch.local));
    assert_eq!(p.expect_msg(msg::CHANNEL_CLOSE), channel_only(msg::CHANNEL_CLOSE, ch.local));
    p.send(&channel_only(msg::CHANNEL_CLOSE, ch.remote));
    match p.expect_event() {
        Event::ChannelClosed { channel } => assert_eq!(channel, ch.remote),
        other => panic!("expected ChannelClosed, got {other:?}"),
    }
    assert!(p.client.error.is_none() && p.client.disconnect.is_none());
    p.into_server()
}

/// Answers a decision event as a host that accepts everything would; other events need no answer.
pub fn accept_decision(server: &mut Server, id: u32, event: &Event) {
    match event {
        Event::ServiceRequest { .. } => server.reply_service(id, true).unwrap(),
        Event::AuthRequest(_) => server.reply_auth(id, AuthReply::Accept).unwrap(),
        Event::ChannelOpenRequest { channel, .. } => server.reply_channel_open(id, *channel, true, 0, "").unwrap(),
        Event::ChannelRequest { channel, .. } => server.reply_channel_request(id, *channel, true).unwrap(),
        _ => {}
    }
}
