//! A host driving one connection of a `Server`, and a session that pairs it with the test client and
//! checks what the client receives against the protocol (see `peer`).
//!
//! The host answers every decision as a permissive real host would (service: accept; password "pw":
//! accept, "partial": partial success, else reject; publickey: accept; keyboard-interactive: one prompt,
//! then accept "pw"; channel opens and requests: accept), echoes channel data and closes a channel
//! after the client's EOF. Along the way it checks what must hold whatever the input: a server-side
//! disconnect carries a valid reason, nothing but log lines follows it, a closed connection writes
//! nothing more, and a timeout never leaves a deadline in the past.

use wasshd_core::auth::Method;
use wasshd_core::config::StrictKex;
use wasshd_core::keys::HostKey;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::server::{MAX_PENDING_GLOBAL, MAX_PENDING_OPENS, MAX_PENDING_REQUESTS};
use wasshd_core::transport::negotiate::MacAlg;
use wasshd_core::{AuthMethod, AuthReply, Event, Server};

use crate::client::{Client, ClientOptions};
use crate::peer::Peer;
use crate::transcript::{self, Recorder};
use crate::{handshake_suite, handshake_suites, Input};

/// The one password the host accepts.
pub const PASSWORD: &str = "pw";
/// A password the host answers with partial success, so the method list override is reached.
pub const PARTIAL_PASSWORD: &str = "partial";
const HOST_SEED: [u8; 32] = [0x42; 32];

/// The seed of the fuzz targets' server.
/// At least 32 bytes, as the wasm `Core` requires, so that the transcripts replay with the same seed.
pub const SERVER_SEED: &[u8] = b"wasshd fuzz: the fixed server seed";

/// The host key.
pub fn host_key() -> HostKey {
    HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&HOST_SEED))
}

/// The settings of `server` (`Config::set`, the wasm `Core`'s `set_config`): every packet dumped at
/// LogLevel 3 with nothing masked, a banner, keepalives, a rekey threshold and channel windows and
/// packets small enough to hit, and authentication chains that still let each method in alone but give
/// the chain logic work (publickey also opens a two-step list, and partial successes meet the lists).
pub fn settings(strict_kex: StrictKex) -> Vec<(&'static str, String)> {
    [
        ("UseStrictKeyExchange", (strict_kex as u8).to_string()),
        ("LogLevel", "3".into()),
        ("MaskSensitiveData", "false".into()),
        ("UserAuthBanner", "fuzz banner".into()),
        ("SSHKeepAliveInterval", "10".into()),
        ("SSHKeepAliveCountMax", "3".into()),
        ("KeyRenegotiationThreshold", (16 * 1024).to_string()),
        ("ChannelMaxPacket", (8 * 1024).to_string()),
        ("ChannelWindowSize", (16 * 1024).to_string()),
        ("AuthenticationMethods", "password keyboard-interactive publickey,password publickey".into()),
        ("MaxKeyboardInteractiveRounds", "2".into()),
    ]
    .into()
}

/// A server set up to reach as much code as possible: `settings`.
pub fn server(strict_kex: StrictKex) -> Server {
    let mut server = Server::new(SERVER_SEED);
    server.add_host_key(host_key());
    let config = server.config_mut();
    for (name, value) in settings(strict_kex) {
        assert_eq!(config.set(name, &value), Ok(true), "setting {name}={value}");
    }
    server
}

/// A request the server is waiting on the host for.
enum Decision {
    Service,
    Auth(AuthMethod),
    ChannelOpen(u32),
    ChannelRequest(u32),
    Global,
}

pub struct Host {
    /// The server, behind a recorder that is off unless a transcript is wanted (`crate::transcript`).
    pub server: Recorder,
    pub id: u32,
    pub now: u64,
    /// How the connection ended: reason, description, by the peer.
    pub ended: Option<(u32, String, bool)>,
    /// While set, decisions wait for `answer_deferred`, as with a host that answers asynchronously.
    pub defer: bool,
    /// While set, channel opens and requests wait for `answer_deferred`: they pause no input, so when a host
    /// answers them changes where their replies fall among what the server does with the rest of a read.
    pub defer_channels: bool,
    /// Decisions waiting, oldest first.
    deferred: Vec<Decision>,
    /// Every event, in `Debug` form, when a target compares runs.
    pub transcript: Option<Vec<String>>,
    /// Echo channel data and end a channel after the client's EOF. These calls happen between reads, so
    /// what they do depends on how the input was split into reads: off where runs are compared.
    pub echo: bool,
}

impl Host {
    pub fn new(server: Server) -> Self {
        Host::with(Recorder::off(server))
    }

    pub fn with(mut server: Recorder) -> Self {
        let id = server.open(0).expect("the server has a host key");
        Host { server, id, now: 0, ended: None, defer: false, defer_channels: false, deferred: Vec::new(), transcript: None, echo: true }
    }

    pub fn input(&mut self, bytes: &[u8]) {
        self.server.input(self.id, bytes, self.now).expect("the connection exists");
        self.answer_events();
        self.continue_input();
    }

    /// As a host does: once the output is written, goes on with the input the output budget cut short.
    fn continue_input(&mut self) {
        while self.server.input_pending(self.id) {
            self.server.write_output(self.id);
            self.server.input(self.id, &[], self.now).expect("the connection exists");
            self.answer_events();
        }
    }

    /// Handles every queued event; returns whether there was any.
    pub fn answer_events(&mut self) -> bool {
        let mut any = false;
        while let Some((id, event)) = self.server.poll_event() {
            assert_eq!(id, self.id, "event for a connection that was never opened");
            any = true;
            self.handle(event);
        }
        any
    }

    fn handle(&mut self, event: Event) {
        if let Some(t) = self.transcript.as_mut() {
            t.push(format!("{event:?}"));
        }
        assert!(self.ended.is_none() || matches!(event, Event::Log { .. }), "event after the connection ended: {event:?}");
        match event {
            Event::ServiceRequest { .. } => self.decide(Decision::Service),
            Event::AuthRequest(request) => self.decide(Decision::Auth(request.method)),
            Event::ChannelOpenRequest { channel, .. } => self.decide(Decision::ChannelOpen(channel)),
            Event::ChannelRequest { channel, .. } => self.decide(Decision::ChannelRequest(channel)),
            Event::GlobalRequest { .. } => self.decide(Decision::Global),
            Event::ChannelData { channel, stream, data } if self.echo => {
                // The channel may be gone by now (its CLOSE came in the same read): errors are expected.
                let _ = self.server.consume_channel_data(self.id, channel, data.len() as u32);
                let _ = self.server.send_data(self.id, channel, stream, &data, self.now);
            }
            Event::ChannelEof { channel } if self.echo => {
                let _ = self.server.send_exit_status(self.id, channel, 0);
                let _ = self.server.send_eof(self.id, channel);
                let _ = self.server.close_channel(self.id, channel);
            }
            Event::Disconnected { reason, description, by_peer } => {
                if !by_peer {
                    assert!((1..=15).contains(&reason) && reason != 4, "disconnect reason {reason} is not in RFC 4250: {description}");
                }
                self.ended = Some((reason, description, by_peer));
            }
            Event::Log { .. }
            | Event::ChannelData { .. }
            | Event::ChannelEof { .. }
            | Event::ClientVersion { .. }
            | Event::KeysExchanged(_)
            | Event::Authenticated { .. }
            | Event::ChannelClosed { .. }
            | Event::ChannelReadyToSend { .. }
            | Event::ChannelOpenConfirmed { .. }
            | Event::ChannelOpenFailed { .. } => {}
        }
    }

    /// Defers or answers a decision. Service and authentication decisions pause the connection's input,
    /// so nothing else is outstanding when one comes; channel decisions stay within their bounds.
    fn decide(&mut self, decision: Decision) {
        let channel = matches!(decision, Decision::ChannelOpen(_) | Decision::ChannelRequest(_) | Decision::Global);
        if !self.defer && !(self.defer_channels && channel) {
            return self.answer(decision);
        }
        let d = &self.deferred;
        match decision {
            Decision::Service | Decision::Auth(_) => assert!(d.is_empty(), "a login decision while another is outstanding"),
            Decision::ChannelOpen(_) => {
                let opens = d.iter().filter(|o| matches!(o, Decision::ChannelOpen(_))).count();
                assert!(opens < MAX_PENDING_OPENS, "more channel opens outstanding than the bound");
            }
            Decision::ChannelRequest(channel) => {
                let requests = d.iter().filter(|o| matches!(o, Decision::ChannelRequest(c) if *c == channel)).count();
                assert!(requests < MAX_PENDING_REQUESTS, "more requests outstanding on channel {channel} than the bound");
            }
            Decision::Global => {
                let globals = d.iter().filter(|o| matches!(o, Decision::Global)).count();
                assert!(globals < MAX_PENDING_GLOBAL, "more global requests outstanding than the bound");
            }
        }
        self.deferred.push(decision);
    }

    /// Answers every decision waiting, oldest first, and those that come meanwhile.
    pub fn answer_deferred(&mut self) {
        while !self.deferred.is_empty() {
            for decision in core::mem::take(&mut self.deferred) {
                self.answer(decision);
            }
        }
    }

    /// Answers the decision that has waited longest, if any.
    pub fn answer_oldest(&mut self) {
        if !self.deferred.is_empty() {
            let decision = self.deferred.remove(0);
            self.answer(decision);
        }
    }

    fn answer(&mut self, decision: Decision) {
        let (s, id) = (&mut self.server, self.id);
        let result = match decision {
            Decision::Service => s.reply_service(id, true),
            Decision::Auth(method) => s.reply_auth(id, auth_reply(method)),
            Decision::ChannelOpen(channel) => s.reply_channel_open(id, channel, true, 0, ""),
            Decision::ChannelRequest(channel) => s.reply_channel_request(id, channel, true),
            // What the host would do with a forwarding it offers no listener for: refuse.
            Decision::Global => s.reply_global_request(id, false, &[]),
        };
        if self.ended.is_none() {
            result.expect("the server takes the answer to its own question");
        }
        self.answer_events();
        self.continue_input();
    }

    /// One host-side channel call, chosen by the input; refusals are expected, panics are not.
    pub fn channel_call(&mut self, input: &mut Input) {
        let (s, id) = (&mut self.server, self.id);
        let channel = u32::from(input.u8());
        let _ = match input.u8() % 6 {
            0 => s.send_data(id, channel, u32::from(input.u8() % 3), &vec![b'x'; usize::from(input.u16())], self.now).map(drop),
            1 => s.send_eof(id, channel),
            2 => s.send_exit_status(id, channel, input.u32()),
            3 => s.send_exit_signal(id, channel, "TERM", input.u8() & 1 == 1, "terminated"),
            4 => s.close_channel(id, channel),
            _ => s.consume_channel_data(id, channel, input.u32()),
        };
        self.answer_events();
    }

    /// Moves the clock on and runs the timers that are due.
    pub fn tick(&mut self, ms: u64) {
        self.now += ms;
        if self.server.next_deadline(self.id).is_some_and(|d| d <= self.now) {
            self.server.handle_timeout(self.id, self.now).expect("the connection exists");
            let next = self.server.next_deadline(self.id);
            assert!(next.is_none_or(|d| d > self.now), "handle_timeout left a deadline in the past: {next:?} at {}", self.now);
        }
        self.answer_events();
    }

    /// Once the server ended the connection, it takes no more input and writes nothing more.
    pub fn check_closed(&mut self) {
        if self.ended.as_ref().is_none_or(|e| e.2) {
            return;
        }
        self.server.take_output(self.id);
        self.input(b"SSH-2.0-more bytes\r\n\0\0\0\x0c");
        assert!(self.server.take_output(self.id).is_empty(), "output after the connection ended");
        assert_eq!(self.server.next_deadline(self.id), None, "a deadline after the connection ended");
    }
}

fn auth_reply(method: AuthMethod) -> AuthReply {
    match method {
        AuthMethod::Password { password } if password.as_str() == PASSWORD => AuthReply::Accept,
        AuthMethod::Password { password } if password.as_str() == PARTIAL_PASSWORD => {
            AuthReply::PartialSuccess { methods: Some(vec![Method::PublicKey]) }
        }
        AuthMethod::PublicKey { .. } => AuthReply::Accept,
        AuthMethod::KeyboardInteractive { responses: None, .. } => AuthReply::Prompt {
            name: "fuzz".into(),
            instruction: "answer".into(),
            prompts: vec![("Password: ".into(), false)],
            retry: false,
        },
        AuthMethod::KeyboardInteractive { responses: Some(r), .. } if r.len() == 1 && r[0].as_str() == PASSWORD => AuthReply::Accept,
        _ => AuthReply::Reject { methods: None },
    }
}

/// A server and the test client after a completed handshake; the client then seals whatever the fuzz
/// input says.
pub struct Session {
    pub host: Host,
    pub client: Client,
    /// Bytes per `Server::input` call when delivering the client's bytes; 0 for all at once.
    pub chunk: usize,
    /// Client payloads wait for the next pump instead of going out one per `input` call.
    pub batch: bool,
    /// Nothing has been sent that could legitimately put the two sides out of step (key exchange
    /// messages, raw bytes): the client must then never fail and the server never see a bad MAC.
    pub clean: bool,
    /// Every byte delivered to the server, when a seed generator wants the raw stream.
    pub record: Option<Vec<u8>>,
    /// The client's view of authentication and channels, which checks every server message.
    pub peer: Peer,
    /// The host ended the connection (with any reason it liked).
    host_disconnected: bool,
}

impl Session {
    /// `flags`: bits 0-3 pick the cipher suite (15, one past the last, is the first suite with
    /// zlib@openssh.com compression), bits 4-5 the server's strict kex mode, bit 6 turns strict kex off in
    /// the client and bit 7 its EXT_INFO. Modes a non-strict client cannot pass are Enabled.
    pub fn new(flags: u8) -> Session {
        Session::start(flags, false, |mode| Recorder::off(server(mode)))
    }

    /// A session that records the client's byte stream and the server's events from the first byte. Its
    /// host does not echo: the server's random padding would then depend on when data arrived, and a
    /// replay of the stream in other reads would derive other keys at the next key exchange.
    pub fn recording(flags: u8) -> Session {
        Session::start(flags, true, |mode| Recorder::off(server(mode)))
    }

    /// A session as `new` makes, on the server the wasm `Core` can be set up as too
    /// (`transcript::server`), whose every call is recorded for a replay there.
    pub fn transcribed(flags: u8) -> Session {
        Session::start(flags, false, transcript::server)
    }

    fn start(flags: u8, record: bool, make_server: fn(StrictKex) -> Recorder) -> Session {
        let (cipher, mac) = handshake_suite(flags & 0x0f);
        let strict = flags & 0x40 == 0;
        let mode = match (flags >> 4) & 3 {
            0 => StrictKex::Disabled,
            2 if strict => StrictKex::RejectAffected,
            3 if strict => StrictKex::Required,
            _ => StrictKex::Enabled,
        };
        let compress = usize::from(flags & 0x0f) == handshake_suites().count();
        let opts = ClientOptions {
            strict,
            ext_info: flags & 0x80 == 0,
            compression: if compress { "zlib@openssh.com" } else { "none" }.into(),
            ..ClientOptions::suite(cipher.name(), mac.map_or("hmac-sha2-256", MacAlg::name))
        };
        let mut host = Host::with(make_server(mode));
        host.transcript = record.then(Vec::new);
        host.echo = !record;
        let record = record.then(Vec::new);
        let mut s = Session {
            host,
            client: Client::new(opts, 1),
            chunk: 0,
            batch: false,
            clean: true,
            record,
            peer: Peer::default(),
            host_disconnected: false,
        };
        s.pump();
        assert!(
            s.client.kexes_done == 1 && s.host.ended.is_none(),
            "handshake with {cipher:?} {mac:?} {mode:?}: client {:?}, server {:?}",
            s.client.error,
            s.host.ended
        );
        s
    }

    /// Runs the fuzz input: `[u16 BE length][payload]` items the client seals and sends; a zero length
    /// is followed by a control byte (see `control`).
    pub fn run(&mut self, input: &mut Input) {
        while !input.is_empty() && self.host.ended.is_none() {
            match input.u16() {
                0 => self.control(input),
                n => {
                    let payload = input.take(usize::from(n));
                    if payload.is_empty() {
                        break;
                    }
                    if (20..=49).contains(&payload[0]) {
                        self.clean = false;
                    }
                    self.peer.sent(payload);
                    self.client.send(payload);
                }
            }
            if !self.batch {
                self.pump();
            }
        }
        // A real host answers eventually, even after the connection ended meanwhile.
        self.host.answer_deferred();
        self.pump();
        self.check_end();
    }

    fn control(&mut self, input: &mut Input) {
        let id = self.host.id;
        match input.u8() {
            0 if !self.client.in_kex() => self.client.rekey(),
            1 => drop(self.host.server.rekey(id)),
            2 => self.host.tick(u64::from(input.u16()) * 100),
            3 => {
                self.clean = false;
                let raw = input.chunk();
                self.client.out.extend_from_slice(raw);
            }
            4 => self.chunk = usize::from(input.u8()),
            5 => self.host.channel_call(input),
            6 => {
                self.host.defer = !self.host.defer;
                if !self.host.defer {
                    self.host.answer_deferred();
                }
            }
            7 => self.host.answer_oldest(),
            8 => {
                let reason = DisconnectReason::from_code(u32::from(input.u8()));
                self.host.server.disconnect(id, reason, "host ends it").expect("the connection exists");
                self.host_disconnected = true;
                self.host.answer_events();
            }
            9 => {
                self.host.server.connection_lost(id).expect("the connection exists");
                self.host.answer_events();
            }
            10 => self.batch = !self.batch,
            _ => {}
        }
    }

    /// Moves bytes both ways, answering the server's events, until neither side has anything to say.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let out = self.host.server.take_output(self.host.id);
            if !out.is_empty() {
                self.client.receive(&out);
                while let Some(message) = self.client.inbox.pop_front() {
                    self.peer.received(&message);
                }
            }
            let sent = self.client.take_out();
            if let Some(r) = self.record.as_mut() {
                r.extend_from_slice(&sent);
            }
            let step = if self.chunk == 0 { sent.len() } else { self.chunk };
            for piece in sent.chunks(step.max(1)) {
                self.host.input(piece);
            }
            let answered = self.host.answer_events();
            if out.is_empty() && sent.is_empty() && !answered {
                return;
            }
        }
        panic!("client and server never went quiet");
    }

    fn check_end(&mut self) {
        if self.clean {
            assert!(self.client.error.is_none(), "the client failed in a session that kept to the protocol: {:?}", self.client.error);
            if let Some((reason, description, false)) = &self.host.ended {
                let mac_error = *reason == DisconnectReason::MacError.code() && !self.host_disconnected;
                assert!(!mac_error, "bad MAC in a session that kept to the protocol: {description}");
                let seen = self.client.disconnect.as_ref().map(|d| d.0);
                assert_eq!(seen, Some(*reason), "the client did not get the server's DISCONNECT ({description})");
            }
        }
        self.host.check_closed();
    }
}
