//! The client: one connection to an SSH server, sans-IO like the [`Server`](crate::server::Server). The host
//! passes in the bytes it reads and the time, writes out [`Client::take_output`], handles
//! [`Client::poll_event`] and keeps one timer ([`Client::next_deadline`]). A transport session in the
//! client role carries the client's user authentication ([`userauth`]) and connection ([`connection`])
//! layers; nothing is authenticated until the host has accepted the server's host key.

mod connection;
mod event;
mod userauth;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::config::Config;
use crate::connection::ChannelRequest;
use crate::crypto::rng::EntropyPool;
use crate::error::{Error, Result};
use crate::event::{Event, LOG_INFO};
use crate::keys::{self, HostKey};
use crate::msg::{self, DisconnectReason};
use crate::server::CommandError;
use crate::transport::session::{Ctx, Incoming, Session};
use crate::transport::Role;
use crate::wipe::SecretBytes;
use crate::wire::Reader;
use connection::Connection;
pub use event::ClientEvent;
use userauth::UserAuth;

/// Our identification string (RFC 4253 §4.2), without CR LF.
pub const CLIENT_VERSION: &str = concat!("SSH-2.0-wasshd_", env!("CARGO_PKG_VERSION"));

/// What the client's layers work with during one call: the session's context, and the host's events,
/// which the session's own (logs, key exchanges, the end) join in the order they happen.
struct Cx<'a> {
    ctx: Ctx<'a>,
    events: &'a mut VecDeque<ClientEvent>,
}

impl Cx<'_> {
    fn emit(&mut self, event: ClientEvent) {
        self.take_session_events();
        self.events.push_back(event);
    }

    fn take_session_events(&mut self) {
        while let Some((_, event)) = self.ctx.events.pop_front() {
            self.events.push_back(match event {
                Event::Log { level, message } => ClientEvent::Log { level, message },
                Event::KeysExchanged(summary) => ClientEvent::KeysExchanged(summary),
                Event::Disconnected { reason, description, by_peer } => ClientEvent::Disconnected { reason, description, by_peer },
                // A session reports nothing else; the rest are the server's layers' events.
                _ => continue,
            });
        }
    }
}

/// Where the host's check of the server's host key stands.
#[derive(PartialEq, Eq)]
enum HostKeyCheck {
    /// The first key exchange has not shown the key yet.
    Unseen,
    /// `HostKey` is out; the host has not answered.
    Pending,
    Accepted,
}

/// The connection's layers, apart from what a call lends them ([`Cx`]).
struct Layers {
    session: Session,
    host_key: HostKeyCheck,
    auth: UserAuth,
    connection: Connection,
}

pub struct Client {
    config: Config,
    rng: EntropyPool,
    session_events: VecDeque<(u32, Event)>,
    events: VecDeque<ClientEvent>,
    layers: Layers,
}

impl Client {
    /// A client whose randomness starts from `seed` (at least 32 bytes from the platform's CSPRNG), at time
    /// `now` (ms); its version line and KEXINIT are ready to send at once. `config` gives the algorithms
    /// offered, the rekey limits, the channel window and packet size, the log level and the crypto provider.
    pub fn new(config: Config, seed: &[u8], now: u64) -> Self {
        let mut rng = EntropyPool::new(seed);
        let mut session_events = VecDeque::new();
        let mut ctx = Ctx { id: 0, config: &config, host_keys: &[], next_host_keys: &[], rng: &mut rng, events: &mut session_events };
        let session = Session::new(Role::Client, CLIENT_VERSION, now, &mut ctx);
        let layers = Layers { session, host_key: HostKeyCheck::Unseen, auth: UserAuth::new(), connection: Connection::new() };
        let mut client = Client { config, rng, session_events, events: VecDeque::new(), layers };
        client.run(|_, _| ());
        client
    }

    /// Lends the layers what they work with for one call, then files the session's events.
    fn run<R>(&mut self, f: impl FnOnce(&mut Layers, &mut Cx) -> R) -> R {
        let ctx =
            Ctx { id: 0, config: &self.config, host_keys: &[], next_host_keys: &[], rng: &mut self.rng, events: &mut self.session_events };
        let mut cx = Cx { ctx, events: &mut self.events };
        let result = f(&mut self.layers, &mut cx);
        cx.take_session_events();
        result
    }

    /// Mixes fresh platform entropy into the generator.
    pub fn add_entropy(&mut self, entropy: &[u8]) {
        self.rng.mix(entropy);
    }

    /// Bytes read from the transport at time `now` (ms): every whole packet among them is processed.
    pub fn input(&mut self, bytes: &[u8], now: u64) {
        self.run(|l, cx| {
            if l.session.is_closed() {
                return;
            }
            l.session.advance(now);
            l.session.receive(bytes);
            if let Err(e) = l.process(cx) {
                l.session.fail(&mut cx.ctx, e);
            }
            l.session.stamp_kex_start();
        });
    }

    /// Takes the bytes to write to the transport.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.layers.session.take_output()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    pub fn is_closed(&self) -> bool {
        self.layers.session.is_closed()
    }

    pub fn is_authenticated(&self) -> bool {
        self.layers.auth.is_authenticated()
    }

    /// When [`Client::handle_timeout`] has work to do: a key exchange that must finish.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.layers.session.is_closed() {
            return None;
        }
        self.layers.session.kex_deadline()
    }

    pub fn handle_timeout(&mut self, now: u64) {
        self.run(|l, cx| {
            if l.session.is_closed() {
                return;
            }
            l.session.advance(now);
            if l.session.kex_timed_out() {
                l.session.fail(&mut cx.ctx, Error::new(DisconnectReason::ByApplication, "key exchange not completed in time"));
            }
        });
    }

    /// Answers `HostKey`. Accepting starts authentication; refusing ends the connection with
    /// HOST_KEY_NOT_VERIFIABLE.
    pub fn accept_host_key(&mut self, accept: bool) -> Result<(), CommandError> {
        self.run(|l, cx| {
            if l.session.is_closed() {
                return Ok(()); // nothing left to decide
            }
            if l.host_key != HostKeyCheck::Pending {
                return Err(CommandError::NothingPending);
            }
            if accept {
                l.host_key = HostKeyCheck::Accepted;
                l.auth.request_service(&mut l.session, cx);
            } else {
                l.session.fail(&mut cx.ctx, Error::new(DisconnectReason::HostKeyNotVerifiable, "host key not accepted"));
            }
            Ok(())
        })
    }

    /// Tries `none`: the server's `AuthFailure` lists the methods it takes.
    pub fn auth_none(&mut self, user: &str) -> Result<(), CommandError> {
        self.run(|l, cx| l.auth.none(user, &mut l.session, cx))
    }

    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), CommandError> {
        self.run(|l, cx| l.auth.password(user, password, &mut l.session, cx))
    }

    /// Starts keyboard-interactive: `AuthPrompt` events follow, each answered with [`Client::answer_prompts`].
    pub fn auth_keyboard_interactive(&mut self, user: &str) -> Result<(), CommandError> {
        self.run(|l, cx| l.auth.keyboard_interactive(user, &mut l.session, cx))
    }

    pub fn answer_prompts(&mut self, responses: &[&str]) -> Result<(), CommandError> {
        self.run(|l, cx| l.auth.answer_prompts(responses, &mut l.session, cx))
    }

    /// Offers `key`; once the server says it would take it, the client signs with it on its own.
    pub fn auth_publickey(&mut self, user: &str, key: HostKey) -> Result<(), CommandError> {
        self.run(|l, cx| l.auth.publickey(user, key, &mut l.session, cx))
    }

    /// Opens a session channel; its id is usable once `ChannelOpened` reports it.
    pub fn open_session(&mut self) -> Result<u32, CommandError> {
        self.run(|l, cx| {
            l.authenticated()?;
            l.connection.open_session(&mut l.session, cx)
        })
    }

    /// Sends `pty-req`, `env`, `shell`, `exec`, `subsystem` (each with a reply wanted: `ChannelRequestReply`),
    /// or `window-change` and `signal` (without).
    pub fn channel_request(&mut self, channel: u32, request: &ChannelRequest) -> Result<(), CommandError> {
        self.run(|l, cx| {
            l.authenticated()?;
            l.connection.request(channel, request, &mut l.session, cx)
        })
    }

    /// Sends what the server's window allows of `data` on `stream` (0 data, 1 stderr) at time `now` (ms);
    /// returns how much was taken. While it takes something, call again with the rest; nothing taken means
    /// the window is full or a key exchange runs: wait for `ChannelReadyToSend`.
    pub fn send_data(&mut self, channel: u32, stream: u32, data: &[u8], now: u64) -> Result<usize, CommandError> {
        self.run(|l, cx| {
            l.authenticated()?;
            l.session.advance(now);
            let in_kex = l.session.in_kex();
            let taken = l.connection.send_data(channel, stream, data, &mut l.session, cx);
            if !in_kex {
                l.session.stamp_kex_start(); // the data may have started one
            }
            taken
        })
    }

    /// How many bytes `send_data` would take now.
    pub fn send_window(&self, channel: u32) -> Option<u32> {
        self.layers.connection.send_window(channel)
    }

    /// The host processed `n` bytes of the channel's data: the server's window reopens.
    pub fn consume_channel_data(&mut self, channel: u32, n: u32) {
        self.run(|l, cx| l.connection.consume(channel, n, &mut l.session, cx));
    }

    pub fn send_eof(&mut self, channel: u32) -> Result<(), CommandError> {
        self.run(|l, cx| l.connection.send_eof(channel, &mut l.session, cx))
    }

    pub fn close_channel(&mut self, channel: u32) -> Result<(), CommandError> {
        self.run(|l, cx| l.connection.close(channel, &mut l.session, cx))
    }

    /// Starts a key re-exchange.
    pub fn rekey(&mut self) -> Result<(), CommandError> {
        self.run(|l, cx| {
            if l.session.rekey(&mut cx.ctx) {
                Ok(())
            } else {
                Err(CommandError::WrongState("a key exchange is in progress or the first has not finished"))
            }
        })
    }

    /// Sends DISCONNECT with `reason` and takes no more input.
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) {
        self.run(|l, cx| l.session.fail(&mut cx.ctx, Error::new(reason, alloc::string::String::from(description))));
    }

    /// The transport closed: reports `Disconnected` if the protocol had not ended already.
    pub fn connection_lost(&mut self) {
        self.run(|l, cx| l.session.lost(&mut cx.ctx));
    }
}

impl Layers {
    fn authenticated(&self) -> Result<(), CommandError> {
        if self.session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        if !self.auth.is_authenticated() {
            return Err(CommandError::WrongState("not authenticated"));
        }
        Ok(())
    }

    /// Handles every whole packet buffered.
    fn process(&mut self, cx: &mut Cx) -> Result<()> {
        while let Some(incoming) = self.session.poll(&mut cx.ctx)? {
            match incoming {
                Incoming::Version(version) => {
                    cx.ctx.log(LOG_INFO, alloc::format!("server version: {version}"));
                    cx.emit(ClientEvent::ServerVersion { version });
                }
                Incoming::Transport => {}
                Incoming::KeysExchanged => self.connection.resume_senders(cx),
                Incoming::Message(payload) => self.dispatch(&payload, cx)?,
                // The connection layer answers through the session, so it takes a copy of what it lent.
                Incoming::Data => self.dispatch(&SecretBytes::new(self.session.lent().to_vec()), cx)?,
            }
            self.announce_host_key(cx);
            self.session.maybe_rekey(&mut cx.ctx);
        }
        Ok(())
    }

    /// Shows the host the server's key as soon as the first exchange has checked its signature.
    fn announce_host_key(&mut self, cx: &mut Cx) {
        let Some(key) = self.session.peer_host_key().filter(|_| self.host_key == HostKeyCheck::Unseen) else {
            return;
        };
        self.host_key = HostKeyCheck::Pending;
        let algorithm = Reader::new(key).utf8().unwrap_or_default().into();
        cx.emit(ClientEvent::HostKey { algorithm, key: key.to_vec(), fingerprint: keys::fingerprint(key) });
    }

    /// A message for the layers above the transport.
    fn dispatch(&mut self, payload: &[u8], cx: &mut Cx) -> Result<()> {
        let msg_type = payload.first().copied().unwrap_or_default();
        match msg_type {
            // server-sig-algs (RFC 8308): we sign with ed25519 only, which a server that takes keys knows.
            msg::EXT_INFO => {}
            msg::SERVICE_ACCEPT | 50..=79 => self.auth.on_message(payload, &mut self.session, cx)?,
            80..=127 if self.auth.is_authenticated() => self.connection.on_message(payload, &mut self.session, cx)?,
            80..=127 => return Err(Error::protocol(alloc::format!("connection protocol message {msg_type} before authentication"))),
            _ => self.session.reply_unimplemented(&mut cx.ctx),
        }
        Ok(())
    }
}
