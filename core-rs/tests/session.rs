//! The transport session is the same code for both ends of a connection: here one runs as the client,
//! against the server, through bytes only. It completes the handshake (strict kex, ext-info), carries
//! the layers' messages, starts delayed compression on USERAUTH_SUCCESS as a client must, goes through
//! re-exchanges started by either side, and holds the server to its host key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::VecDeque;

use common::{host_key, test_server};
use wasshd_core::config::Config;
use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::event::KexSummary;
use wasshd_core::keys::HostKey;
use wasshd_core::msg;
use wasshd_core::transport::negotiate::CompressionAlg;
use wasshd_core::transport::session::{Ctx, Incoming, Session};
use wasshd_core::transport::Role;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{AuthReply, Event, Server};

const CLIENT_VERSION: &str = "SSH-2.0-wasshd_session_test";

/// A client-role session and what it needs around it.
struct ClientEnd {
    session: Option<Session>,
    config: Config,
    rng: EntropyPool,
    events: VecDeque<(u32, Event)>,
    /// The messages the session handed up, in order.
    messages: VecDeque<Vec<u8>>,
    versions: Vec<String>,
    exchanges: u32,
}

impl ClientEnd {
    fn new(config: Config) -> Self {
        let mut end = ClientEnd {
            session: None,
            config,
            rng: EntropyPool::new(b"the client's seed"),
            events: VecDeque::new(),
            messages: VecDeque::new(),
            versions: Vec::new(),
            exchanges: 0,
        };
        let session = end.with(|_, ctx| Session::new(Role::Client, CLIENT_VERSION, 0, ctx));
        end.session = Some(session);
        end
    }

    fn with<R>(&mut self, f: impl FnOnce(Option<&mut Session>, &mut Ctx) -> R) -> R {
        let mut ctx =
            Ctx { id: 0, config: &self.config, host_keys: &[], next_host_keys: &[], rng: &mut self.rng, events: &mut self.events };
        f(self.session.as_mut(), &mut ctx)
    }

    fn session(&mut self) -> &mut Session {
        self.session.as_mut().unwrap()
    }

    fn send(&mut self, payload: &[u8]) {
        self.with(|s, ctx| s.unwrap().send(payload, ctx));
    }

    /// Takes what the session takes off its input; a USERAUTH_SUCCESS starts delayed compression.
    fn receive(&mut self, bytes: &[u8]) {
        self.session().receive(bytes);
        loop {
            let polled = self.with(|s, ctx| {
                let s = s.unwrap();
                let polled = s.poll(ctx);
                if let Err(e) = &polled {
                    s.fail(ctx, e.clone());
                }
                polled
            });
            match polled {
                Ok(Some(Incoming::Version(v))) => self.versions.push(v),
                Ok(Some(Incoming::Transport)) => {}
                Ok(Some(Incoming::KeysExchanged)) => self.exchanges += 1,
                Ok(Some(Incoming::Message(m))) => {
                    if m[0] == msg::USERAUTH_SUCCESS {
                        self.session().start_delayed_compression();
                    }
                    self.messages.push_back(m.to_vec());
                }
                Ok(Some(Incoming::Data)) => {
                    let data = self.session().lent().to_vec();
                    self.messages.push_back(data);
                }
                Ok(None) | Err(_) => return,
            }
        }
    }

    fn expect_message(&mut self, msg_type: u8) -> Vec<u8> {
        let m = self.messages.pop_front().unwrap_or_else(|| panic!("no message {msg_type}; events {:?}", self.events));
        assert_eq!(m[0], msg_type, "{m:?}");
        m
    }

    fn kex_summaries(&mut self) -> Vec<KexSummary> {
        self.events.drain(..).filter_map(|(_, e)| if let Event::KeysExchanged(k) = e { Some(k) } else { None }).collect()
    }
}

/// Moves bytes both ways until neither side has more to say; returns the server's events.
fn pump(server: &mut Server, id: u32, client: &mut ClientEnd) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let to_server = client.session().take_output();
        if !to_server.is_empty() {
            server.input(id, &to_server, 1).unwrap();
        }
        let to_client = server.take_output(id);
        client.receive(&to_client);
        while let Some((_, e)) = server.poll_event() {
            events.push(e);
        }
        if to_server.is_empty() && to_client.is_empty() {
            return events;
        }
    }
}

fn summaries(events: &[Event]) -> Vec<&KexSummary> {
    events.iter().filter_map(|e| if let Event::KeysExchanged(k) = e { Some(k) } else { None }).collect()
}

#[test]
fn a_client_session_logs_in_compresses_and_rekeys_both_ways() {
    let mut server = test_server();
    server.config_mut().set("DefaultAuthMethods", "password").unwrap();
    let id = server.open(0).unwrap();
    let mut config = Config::default();
    config.algorithms.compression = vec![CompressionAlg::ZlibOpenssh];
    let mut client = ClientEnd::new(config);

    let events = pump(&mut server, id, &mut client);
    assert!(events.iter().any(|e| matches!(e, Event::ClientVersion { version } if version == CLIENT_VERSION)));
    assert_eq!(client.versions, [server.config().server_version.clone()]);
    assert_eq!(client.exchanges, 1);
    let (ours, theirs) = (client.kex_summaries(), summaries(&events));
    assert_eq!(ours.len(), 1);
    // What one side sends the other receives, and both are strict.
    let (c, s) = (&ours[0], theirs[0]);
    assert_eq!((c.cipher_out, c.cipher_in, c.mac_out, c.mac_in), (s.cipher_in, s.cipher_out, s.mac_in, s.mac_out));
    assert!(c.strict && s.strict && client.session().strict_kex());
    assert_eq!(client.session().peer_host_key(), Some(&host_key().public().blob()[..]));
    // The server answered the client's ext-info-c.
    let ext_info = client.expect_message(msg::EXT_INFO);
    let mut r = Reader::new(&ext_info[1..]);
    let sig_algs = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";
    assert_eq!((r.u32().unwrap(), r.utf8().unwrap(), r.utf8().unwrap()), (1, "server-sig-algs", sig_algs));

    let mut request = Writer::message(msg::SERVICE_REQUEST);
    request.string(b"ssh-userauth");
    client.send(request.as_slice());
    let events = pump(&mut server, id, &mut client);
    assert!(matches!(&events[..], [Event::ServiceRequest { service }] if service == "ssh-userauth"), "{events:?}");
    server.reply_service(id, true).unwrap();
    pump(&mut server, id, &mut client);
    client.expect_message(msg::SERVICE_ACCEPT);

    let mut login = Writer::message(msg::USERAUTH_REQUEST);
    login.string(b"alice").string(b"ssh-connection").string(b"password").bool(false).string(b"secret");
    client.send(login.as_slice());
    let events = pump(&mut server, id, &mut client);
    assert!(events.iter().any(|e| matches!(e, Event::AuthRequest(_))), "{events:?}");
    server.reply_auth(id, AuthReply::Accept).unwrap();
    pump(&mut server, id, &mut client);
    client.expect_message(msg::USERAUTH_SUCCESS);
    // The server names its host keys (hostkeys-00@openssh.com), already compressed.
    assert!(client.expect_message(msg::GLOBAL_REQUEST)[5..].starts_with(b"hostkeys-00@openssh.com"));

    // From here on both directions are compressed (zlib@openssh.com): a channel opens both ways.
    let open_channel = |client: &mut ClientEnd, server: &mut Server, sender: u32| {
        let mut open = Writer::message(msg::CHANNEL_OPEN);
        open.string(b"session").u32(sender).u32(1 << 20).u32(1 << 15);
        client.send(open.as_slice());
        let events = pump(server, id, client);
        let channel = events.iter().find_map(|e| match e {
            Event::ChannelOpenRequest { channel, .. } => Some(*channel),
            _ => None,
        });
        server.reply_channel_open(id, channel.expect("an open request"), true, 0, "").unwrap();
        pump(server, id, client);
        let confirmation = client.expect_message(msg::CHANNEL_OPEN_CONFIRMATION);
        assert_eq!(confirmation[1..5], sender.to_be_bytes());
    };
    open_channel(&mut client, &mut server, 7);

    // A re-exchange the server starts, then one the client starts: both sides see each, not initial.
    server.rekey(id).unwrap();
    let events = pump(&mut server, id, &mut client);
    client.with(|s, ctx| assert!(s.unwrap().rekey(ctx)));
    let more = pump(&mut server, id, &mut client);
    assert_eq!(client.exchanges, 3);
    assert!(summaries(&events).iter().chain(summaries(&more).iter()).all(|k| !k.initial));
    assert_eq!(summaries(&events).len() + summaries(&more).len(), 2);
    open_channel(&mut client, &mut server, 8);
    assert!(!client.session().is_closed());
}

#[test]
fn a_client_session_refuses_a_host_key_that_changes_in_a_re_exchange() {
    let mut server = test_server();
    let id = server.open(0).unwrap();
    let mut client = ClientEnd::new(Config::default());
    pump(&mut server, id, &mut client);
    assert_eq!(client.exchanges, 1);
    // The server's ed25519 key is replaced by another; its next exchange signs with that.
    let other = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x24; 32]));
    server.add_host_key_openssh(&other.to_openssh("other", 0x1234_5678), None).unwrap();
    server.rekey(id).unwrap();
    let events = pump(&mut server, id, &mut client);
    assert!(client.session().is_closed());
    let disconnect =
        client
            .events
            .iter()
            .find_map(|(_, e)| if let Event::Disconnected { description, .. } = e { Some(description.clone()) } else { None });
    assert_eq!(disconnect.as_deref(), Some("host key changed in a re-exchange"));
    assert!(events.iter().any(|e| matches!(e, Event::Disconnected { by_peer: true, .. })), "{events:?}");
}
