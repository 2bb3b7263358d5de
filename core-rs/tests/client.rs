//! The client role against our own server, in memory and through bytes only: host-key check, every login
//! method, session channels with pty and exec, 16 MiB byte-exact each way with re-exchanges started by
//! each side mid-transfer, and a refused host key. The server's host answers as `ServerHost` says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::{HashMap, VecDeque};

use common::client_host::ClientHost;
use common::{host_key, pattern, test_server, USER_SEED};
use wasshd_core::config::Config;
use wasshd_core::connection::{ChannelRequest, PtyRequest};
use wasshd_core::keys::{self, HostKey};
use wasshd_core::{AuthMethod, AuthReply, Client, ClientEvent, Event, Server};

const PASSWORD: &str = "correct horse";
const MIB16: usize = 16 * 1024 * 1024;

fn user_key() -> HostKey {
    HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&USER_SEED))
}

/// What a server-side channel does with the command it was given.
enum Job {
    Waiting,
    /// Keeps what arrives; on EOF reports exit status 0 and closes.
    Sink(Vec<u8>),
    /// Sends these bytes from `sent` on, then EOF and close.
    Source {
        data: Vec<u8>,
        sent: usize,
    },
}

/// The server's host: accepts the password, a keyboard-interactive answer and the user key; accepts every
/// channel and request, and runs `exit N`, `sink` and `source N` commands.
#[derive(Default)]
struct ServerHost {
    jobs: HashMap<u32, Job>,
    requests: Vec<ChannelRequest>,
    /// Whether a publickey request was signed when the host accepted it.
    signed_keys: Vec<bool>,
    disconnects: Vec<(u32, bool)>,
    rekeys: u32,
}

impl ServerHost {
    fn on_event(&mut self, server: &mut Server, id: u32, event: Event, now: u64) {
        match event {
            Event::ServiceRequest { .. } => server.reply_service(id, true).unwrap(),
            Event::AuthRequest(req) => {
                let ok = AuthReply::Accept;
                let no = AuthReply::Reject { methods: None };
                let reply = match req.method {
                    AuthMethod::Password { password } if password.as_str() == PASSWORD => ok,
                    AuthMethod::KeyboardInteractive { responses: None, .. } => AuthReply::Prompt {
                        name: "login".into(),
                        instruction: "".into(),
                        prompts: vec![("Password: ".into(), false)],
                        retry: false,
                    },
                    AuthMethod::KeyboardInteractive { responses: Some(r), .. } if r.len() == 1 && r[0].as_str() == PASSWORD => ok,
                    AuthMethod::PublicKey { key, signed, .. } if key == user_key().public().blob() => {
                        self.signed_keys.push(signed);
                        ok
                    }
                    _ => no,
                };
                server.reply_auth(id, reply).unwrap();
            }
            Event::ChannelOpenRequest { channel, .. } => {
                self.jobs.insert(channel, Job::Waiting);
                server.reply_channel_open(id, channel, true, 0, "").unwrap();
            }
            Event::ChannelRequest { channel, request, .. } => {
                server.reply_channel_request(id, channel, true).unwrap();
                if let ChannelRequest::Exec { command } = &request {
                    let command = String::from_utf8(command.clone()).unwrap();
                    let job = match command.split_once(' ') {
                        Some(("exit", n)) => {
                            server.send_exit_status(id, channel, n.parse().unwrap()).unwrap();
                            server.send_eof(id, channel).unwrap();
                            server.close_channel(id, channel).unwrap();
                            Job::Waiting
                        }
                        Some(("source", n)) => Job::Source { data: pattern(n.parse().unwrap(), 7), sent: 0 },
                        _ => Job::Sink(Vec::new()),
                    };
                    self.jobs.insert(channel, job);
                }
                self.requests.push(request);
            }
            Event::ChannelData { channel, data, .. } => {
                server.consume_channel_data(id, channel, data.len() as u32).unwrap();
                if let Some(Job::Sink(kept)) = self.jobs.get_mut(&channel) {
                    kept.extend_from_slice(&data);
                }
            }
            Event::ChannelEof { channel } => {
                if let Some(Job::Sink(_)) = self.jobs.get(&channel) {
                    server.send_exit_status(id, channel, 0).unwrap();
                    server.close_channel(id, channel).unwrap();
                }
            }
            Event::KeysExchanged(s) if !s.initial => self.rekeys += 1,
            Event::Disconnected { reason, by_peer, .. } => self.disconnects.push((reason, by_peer)),
            _ => {}
        }
        self.feed_sources(server, id, now);
    }

    /// Sends what the windows allow of every source.
    fn feed_sources(&mut self, server: &mut Server, id: u32, now: u64) {
        for (&channel, job) in self.jobs.iter_mut() {
            let Job::Source { data, sent } = job else { continue };
            while *sent < data.len() {
                let Ok(n) = server.send_data(id, channel, 0, &data[*sent..], now) else { return };
                if n == 0 {
                    break;
                }
                *sent += n;
            }
            if *sent == data.len() {
                server.send_eof(id, channel).unwrap();
                server.close_channel(id, channel).unwrap();
                *job = Job::Waiting;
            }
        }
    }
}

/// Our client and server joined by bytes.
struct Duo {
    server: Server,
    id: u32,
    host: ServerHost,
    client: Client,
    events: VecDeque<ClientEvent>,
    now: u64,
}

impl Duo {
    fn new() -> Duo {
        let mut server = test_server();
        let id = server.open(0).unwrap();
        let client = Client::new(Config::default(), b"the client's seed for these tests", 0);
        Duo { server, id, host: ServerHost::default(), client, events: VecDeque::new(), now: 0 }
    }

    /// Moves bytes both ways until neither side has more to say.
    fn pump(&mut self) {
        loop {
            let up = self.client.take_output();
            if !up.is_empty() {
                self.server.input(self.id, &up, self.now).unwrap();
            }
            while self.server.input_pending(self.id) {
                let down = self.server.take_output(self.id);
                self.client.input(&down, self.now);
                self.server.input(self.id, &[], self.now).unwrap();
            }
            while let Some((_, event)) = self.server.poll_event() {
                self.host.on_event(&mut self.server, self.id, event, self.now);
            }
            self.host.feed_sources(&mut self.server, self.id, self.now);
            let down = self.server.take_output(self.id);
            if !down.is_empty() {
                self.client.input(&down, self.now);
            }
            while let Some(event) = self.client.poll_event() {
                if !matches!(event, ClientEvent::Log { .. }) {
                    self.events.push_back(event);
                }
            }
            if up.is_empty() && down.is_empty() {
                return;
            }
        }
    }

    /// Handshake and host-key check; returns the `HostKey` event's fingerprint.
    fn connect(&mut self, accept: bool) -> String {
        assert_eq!(self.event(), ClientEvent::ServerVersion { version: self.server.config().server_version.clone() });
        let ClientEvent::HostKey { algorithm, key, fingerprint } = self.event() else { panic!("expected HostKey") };
        assert_eq!((algorithm.as_str(), key), ("ssh-ed25519", host_key().public().blob()));
        assert!(matches!(self.event(), ClientEvent::KeysExchanged(s) if s.initial && s.strict));
        self.client.accept_host_key(accept).unwrap();
        fingerprint
    }

    fn login_password(&mut self) {
        self.connect(true);
        self.client.auth_password("alice", PASSWORD).unwrap();
        assert_eq!(self.significant(), ClientEvent::Authenticated);
    }
}

impl ClientHost for Duo {
    fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn event(&mut self) -> ClientEvent {
        if self.events.is_empty() {
            self.pump();
        }
        self.events.pop_front().unwrap_or_else(|| panic!("no client event; server host saw disconnects {:?}", self.host.disconnects))
    }
}

#[test]
fn the_host_sees_the_servers_key_and_fingerprint_before_anything_is_authenticated() {
    let mut d = Duo::new();
    assert_eq!(d.client.auth_password("alice", PASSWORD).unwrap_err().code(), 128, "no login before the key is accepted");
    let fingerprint = d.connect(true);
    assert_eq!(fingerprint, keys::fingerprint(&host_key().public().blob()));
    d.client.auth_none("alice").unwrap();
    match d.significant() {
        ClientEvent::AuthFailure { methods, partial_success: false } => {
            assert_eq!(methods, ["password", "publickey", "keyboard-interactive"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn password_login() {
    let mut d = Duo::new();
    d.login_password();
    assert!(d.client.is_authenticated());
}

#[test]
fn a_refused_password_lists_the_methods_and_a_second_attempt_may_follow() {
    let mut d = Duo::new();
    d.connect(true);
    d.client.auth_password("alice", "wrong").unwrap();
    match d.significant() {
        ClientEvent::AuthFailure { methods, partial_success: false } => assert!(methods.contains(&"password".to_string())),
        other => panic!("{other:?}"),
    }
    assert!(!d.client.is_authenticated());
    d.client.auth_password("alice", PASSWORD).unwrap();
    assert_eq!(d.significant(), ClientEvent::Authenticated);
}

#[test]
fn keyboard_interactive_login() {
    let mut d = Duo::new();
    d.connect(true);
    d.client.auth_keyboard_interactive("alice").unwrap();
    match d.significant() {
        ClientEvent::AuthPrompt { name, prompts, .. } => {
            assert_eq!((name.as_str(), prompts), ("login", vec![("Password: ".into(), false)]))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.client.answer_prompts(&[]).unwrap_err().code(), 129, "one answer for each prompt");
    d.client.answer_prompts(&[PASSWORD]).unwrap();
    assert_eq!(d.significant(), ClientEvent::Authenticated);
}

#[test]
fn ed25519_key_login_queries_then_signs() {
    let mut d = Duo::new();
    d.connect(true);
    d.client.auth_publickey("alice", user_key()).unwrap();
    assert_eq!(d.significant(), ClientEvent::Authenticated);
    assert_eq!(d.host.signed_keys, [false, true], "a query, then the signed request the server verified");
}

#[test]
fn an_unknown_key_is_refused() {
    let mut d = Duo::new();
    d.connect(true);
    d.client.auth_publickey("alice", HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[9; 32]))).unwrap();
    assert!(matches!(d.significant(), ClientEvent::AuthFailure { partial_success: false, .. }));
}

#[test]
fn a_refused_host_key_disconnects_with_host_key_not_verifiable() {
    let mut d = Duo::new();
    d.connect(false);
    match d.significant() {
        ClientEvent::Disconnected { reason: 9, by_peer: false, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(d.host.disconnects, [(9, true)]);
    assert!(d.client.is_closed());
    assert!(d.client.take_output().is_empty());
}

#[test]
fn exec_reports_the_exit_status_then_eof_and_close() {
    let mut d = Duo::new();
    d.login_password();
    let channel = d.open_session();
    d.request(channel, ChannelRequest::Env { name: "LANG".into(), value: "C.UTF-8".into() });
    d.request(channel, ChannelRequest::Exec { command: b"exit 3".to_vec() });
    assert_eq!(d.significant(), ClientEvent::ExitStatus { channel, status: 3 });
    assert_eq!(d.significant(), ClientEvent::ChannelEof { channel });
    assert_eq!(d.significant(), ClientEvent::ChannelClosed { channel });
    assert!(d.client.send_data(channel, 0, b"late", d.now).is_err(), "the channel is gone");
}

#[test]
fn pty_shell_and_window_change_reach_the_server() {
    let mut d = Duo::new();
    d.login_password();
    let channel = d.open_session();
    let pty = PtyRequest { term: "xterm-256color".into(), cols: 132, rows: 43, width_px: 0, height_px: 0, modes: vec![0] };
    d.request(channel, ChannelRequest::Pty(pty.clone()));
    d.request(channel, ChannelRequest::Shell);
    let change = ChannelRequest::WindowChange { cols: 100, rows: 30, width_px: 0, height_px: 0 };
    d.client.channel_request(channel, &change).unwrap();
    d.pump();
    assert!(d.events.is_empty(), "window-change wants no reply: {:?}", d.events);
    assert_eq!(d.host.requests, [ChannelRequest::Pty(pty), ChannelRequest::Shell, change]);
}

/// 16 MiB one way through a channel, with a re-exchange started by the client at a third and by the server
/// at two thirds.
fn transfer(upload: bool) {
    let mut d = Duo::new();
    d.login_password();
    let channel = d.open_session();
    let command = if upload { "sink".to_string() } else { format!("source {MIB16}") };
    d.request(channel, ChannelRequest::Exec { command: command.into_bytes() });
    let up = pattern(MIB16, 3);
    let (mut sent, mut received) = (0, Vec::new());
    let (mut client_rekeys, mut rekeys_seen) = (false, 0);
    let mut server_rekeyed = false;
    loop {
        let progress = if upload { sent } else { received.len() };
        if !client_rekeys && progress > MIB16 / 3 {
            client_rekeys = true;
            d.client.rekey().unwrap();
        }
        if !server_rekeyed && progress > 2 * MIB16 / 3 {
            server_rekeyed = true;
            d.server.rekey(d.id).unwrap();
        }
        if upload && sent < up.len() {
            sent += d.client.send_data(channel, 0, &up[sent..], d.now).unwrap();
            if sent == up.len() {
                d.client.send_eof(channel).unwrap();
            }
        }
        d.pump();
        let mut closed = false;
        while let Some(event) = d.events.pop_front() {
            match event {
                ClientEvent::ChannelData { channel: c, stream: 0, data } if c == channel => {
                    d.client.consume_channel_data(channel, data.len() as u32);
                    received.extend_from_slice(&data);
                }
                ClientEvent::KeysExchanged(s) => {
                    assert!(!s.initial);
                    rekeys_seen += 1;
                }
                ClientEvent::ChannelClosed { .. } => closed = true,
                ClientEvent::ChannelReadyToSend { .. } | ClientEvent::ChannelEof { .. } | ClientEvent::ExitStatus { status: 0, .. } => {}
                other => panic!("{other:?}"),
            }
        }
        if closed {
            break;
        }
    }
    assert!(server_rekeyed && client_rekeys);
    assert_eq!((rekeys_seen, d.host.rekeys), (2, 2), "one re-exchange started by each side, seen by both");
    if upload {
        let Some(Job::Sink(kept)) = d.host.jobs.get(&channel) else { panic!("no sink") };
        assert!(kept.len() == up.len() && *kept == up, "client to server: {} bytes of {}", kept.len(), up.len());
    } else {
        assert!(received.len() == MIB16 && received == pattern(MIB16, 7), "server to client: {} bytes", received.len());
    }
}

#[test]
fn sixteen_mib_up_byte_exact_through_a_rekey_by_each_side() {
    transfer(true);
}

#[test]
fn sixteen_mib_down_byte_exact_through_a_rekey_by_each_side() {
    transfer(false);
}

#[test]
fn a_server_that_never_finishes_the_key_exchange_times_out() {
    let mut client = Client::new(Config::default(), b"a client left waiting by its server", 1_000);
    client.take_output();
    let deadline = 1_000 + wasshd_core::server::KEX_TIMEOUT_MS;
    assert_eq!(client.next_deadline(), Some(deadline));
    client.handle_timeout(deadline - 1);
    assert!(!client.is_closed());
    client.handle_timeout(deadline);
    let events: Vec<ClientEvent> = std::iter::from_fn(|| client.poll_event()).filter(|e| !matches!(e, ClientEvent::Log { .. })).collect();
    assert!(matches!(&events[..], [ClientEvent::Disconnected { reason: 11, by_peer: false, .. }]), "{events:?}");
    assert!(!client.take_output().is_empty(), "a DISCONNECT goes out");
    assert_eq!(client.next_deadline(), None);
}
