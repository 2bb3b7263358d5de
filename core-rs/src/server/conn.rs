//! One client connection: the state machine that ties the transport, authentication and connection
//! layers together. It takes bytes and the time, and leaves output bytes and events behind.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::auth::{self, MethodRequest};
use crate::config::{Config, StrictKex};
use crate::connection::channel::Channel;
use crate::connection::{self as conn_proto, ChannelRequest};
use crate::crypto::rng::EntropyPool;
use crate::error::{Error, Result};
use crate::event::{AuthMethod, AuthReply, AuthRequest, Event, KexSummary, LOG_DEBUG, LOG_INFO, LOG_VERBOSE};
use crate::keys::HostKey;
use crate::msg::{self, DisconnectReason};
use crate::server::CommandError;
use crate::transport::ident;
use crate::transport::kex::{self, Keys, Transcript};
use crate::transport::negotiate::{self, CipherAlg, KexInit, MacAlg, Negotiated};
use crate::transport::packet::{DirectionKeys, Opener, RxBuf, Sealer};
use crate::wire::{Reader, Writer};

/// Bytes a client may send ahead while the host decides on a request, beyond its channel windows.
const MAX_BUFFERED_INPUT: usize = 4 * 1024 * 1024;
/// The same before authentication: one largest packet and change, so that unauthenticated clients cost little.
const MAX_BUFFERED_INPUT_UNAUTHENTICATED: usize = 320 * 1024;
/// A client may start a burst of this many key exchanges, each of which costs the server a key agreement and
/// a signature. The allowance refills by one every `CLIENT_KEX_INTERVAL_MS` and one for every
/// `CLIENT_KEX_BYTES` of traffic, so that a client rekeying often by volume is never cut off: OpenSSH with a
/// small `RekeyLimit` (256K or less) rekeys before every full 32 KiB packet it sends.
const CLIENT_KEX_BURST: u64 = 16;
const CLIENT_KEX_INTERVAL_MS: u64 = 1000;
const CLIENT_KEX_BYTES: u64 = 16 * 1024;
/// Channels whose peer takes smaller packets are refused: tiny packets would multiply the cost of every byte sent.
const MIN_PEER_MAX_PACKET: u32 = 256;
/// Replies held back while a key exchange the client does not finish is in progress.
const MAX_HELD_BYTES: usize = 256 * 1024;
/// Longest piece of client text (a service or request name) quoted in a log line or a disconnect description.
const MAX_QUOTED_CHARS: usize = 64;

/// Shared server state a connection needs while it runs.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub host_keys: &'a [HostKey],
    pub rng: &'a mut EntropyPool,
    pub events: &'a mut VecDeque<(u32, Event)>,
}

/// An event that waits for the host's answer. Input is not processed while one is outstanding.
enum Pending {
    Service,
    Auth(PendingAuth),
    ChannelOpen { peer_id: u32, local_id: u32 },
    ChannelRequest { channel: u32, want_reply: bool },
}

struct PendingAuth {
    user: String,
    method: &'static str,
    /// For a publickey query: what PK_OK must echo.
    pk_query: Option<(String, Vec<u8>)>,
}

enum KexStep {
    /// Our KEXINIT is out; waiting for the client's.
    KexInit,
    /// Waiting for the client's key exchange message; `skip_guess` drops a wrongly guessed one.
    ClientInit { skip_guess: bool },
    /// Our NEWKEYS is out; the client's switches its direction to `keys`.
    NewKeys { keys: Keys },
}

struct KexState {
    ours: Vec<u8>,
    theirs: Option<Vec<u8>>,
    negotiated: Option<Negotiated>,
    step: KexStep,
}

pub struct Conn {
    id: u32,
    now: u64,
    started: u64,
    client_version: Option<String>,
    rx: RxBuf,
    out: Vec<u8>,
    opener: Opener,
    sealer: Sealer,
    kex: Option<KexState>,
    /// Connection-layer messages held back while a key exchange is in progress.
    held: Vec<Vec<u8>>,
    session_id: Option<Vec<u8>>,
    strict_kex: bool,
    ext_info: bool,
    kexes_done: u32,
    /// Rate limit on client-started key exchanges: the time at which the client's burst allowance is back to
    /// full (a generic cell rate algorithm).
    client_kex_credit_at: u64,
    bytes_since_kex: u64,
    packets_since_kex: u32,
    pending: Option<Pending>,
    service_accepted: bool,
    /// The authenticated user, once authentication succeeded.
    user: Option<String>,
    /// The user named in the authentication attempt in progress.
    user_in_progress: String,
    auth_failures: u32,
    /// A "none" request was answered: clients send one to learn the methods, further ones count as failures.
    none_seen: bool,
    banner_sent: bool,
    /// Prompts sent in the keyboard-interactive round in progress.
    kbd_prompts: Option<usize>,
    channels: BTreeMap<u32, Channel>,
    no_more_sessions: bool,
    last_rx: u64,
    last_activity: u64,
    keepalives_unanswered: u32,
    keepalive_sent_at: Option<u64>,
    closed: bool,
}

impl Conn {
    /// A new connection; queues our identification string and KEXINIT.
    pub fn new(id: u32, now: u64, ctx: &mut Ctx) -> Self {
        let mut c = Conn {
            id,
            now,
            started: now,
            client_version: None,
            rx: RxBuf::default(),
            out: Vec::new(),
            opener: Opener::new(),
            sealer: Sealer::new(),
            kex: None,
            held: Vec::new(),
            session_id: None,
            strict_kex: false,
            ext_info: false,
            kexes_done: 0,
            client_kex_credit_at: 0,
            bytes_since_kex: 0,
            packets_since_kex: 0,
            pending: None,
            service_accepted: false,
            user: None,
            user_in_progress: String::new(),
            auth_failures: 0,
            none_seen: false,
            banner_sent: false,
            kbd_prompts: None,
            channels: BTreeMap::new(),
            no_more_sessions: false,
            last_rx: now,
            last_activity: now,
            keepalives_unanswered: 0,
            keepalive_sent_at: None,
            closed: false,
        };
        c.out.extend_from_slice(ctx.config.server_version.as_bytes());
        c.out.extend_from_slice(b"\r\n");
        c.start_kex(ctx);
        c
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    pub fn strict_kex(&self) -> bool {
        self.strict_kex
    }

    fn emit(&self, ctx: &mut Ctx, event: Event) {
        ctx.events.push_back((self.id, event));
    }

    fn log(&self, ctx: &mut Ctx, level: u8, message: impl Into<String>) {
        if level <= ctx.config.log_level {
            self.emit(ctx, Event::Log { level, message: message.into() });
        }
    }

    // ---- input -------------------------------------------------------------------------------------

    pub fn input(&mut self, bytes: &[u8], now: u64, ctx: &mut Ctx) {
        if self.closed {
            return;
        }
        self.now = now;
        self.rx.extend(bytes);
        // The smallest allowance first: the channel sum is only needed past it.
        if self.rx.len() > MAX_BUFFERED_INPUT_UNAUTHENTICATED && self.rx.len() > self.input_allowance() {
            return self.fail(ctx, Error::protocol("client sent too much without waiting for replies"));
        }
        if let Err(e) = self.process(ctx) {
            self.fail(ctx, e);
        }
    }

    /// How much unprocessed input a client may have sent ahead: beyond a fixed allowance, the channel data
    /// its windows still permit (which the server agreed to take in any case).
    fn input_allowance(&self) -> usize {
        if self.user.is_none() {
            return MAX_BUFFERED_INPUT_UNAUTHENTICATED;
        }
        let windows: usize = self.channels.values().filter(|c| c.open).map(|c| c.recv_window() as usize).sum();
        MAX_BUFFERED_INPUT.saturating_add(windows)
    }

    /// Handles every complete packet in the buffer until one needs the host's answer.
    fn process(&mut self, ctx: &mut Ctx) -> Result<()> {
        if self.client_version.is_none() {
            let Some((version, used)) = ident::parse_client_version(self.rx.bytes())? else {
                return Ok(());
            };
            self.rx.consume(used);
            self.log(ctx, LOG_INFO, alloc::format!("client version: {version}"));
            self.emit(ctx, Event::ClientVersion { version: version.clone() });
            self.client_version = Some(version);
        }
        while self.pending.is_none() && !self.closed {
            let Some(payload) = self.opener.open(&mut self.rx)? else {
                break;
            };
            self.last_rx = self.now;
            self.keepalives_unanswered = 0;
            self.packets_since_kex = self.packets_since_kex.saturating_add(1);
            self.bytes_since_kex = self.bytes_since_kex.saturating_add(payload.len() as u64);
            self.dump(ctx, "in", &payload);
            self.dispatch(&payload, ctx)?;
            self.maybe_rekey(ctx);
        }
        Ok(())
    }

    fn dispatch(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(&msg_type) = payload.first() else {
            return Err(Error::protocol("empty packet"));
        };
        // RFC 4253 §11.1: a DISCONNECT is honoured whatever the state.
        if msg_type == msg::DISCONNECT {
            return self.on_disconnect(payload, ctx);
        }
        // Strict kex rules hold until the client's first NEWKEYS, even after the session id is known.
        let initial_kex = self.kexes_done == 0;
        if initial_kex && self.kex.as_ref().is_some_and(|k| k.theirs.is_none()) && msg_type != msg::KEXINIT {
            // Only the generic transport messages may come first. Whether the client will ask for strict kex
            // (which requires KEXINIT first) is not known yet: on_kexinit refuses a strict client that did this.
            if ctx.config.strict_kex == StrictKex::Required || !matches!(msg_type, msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED) {
                return Err(Error::protocol(alloc::format!("message {msg_type} before KEXINIT")));
            }
        }
        let in_kex = self.kex.as_ref().is_some_and(|k| k.theirs.is_some());
        if in_kex {
            let strict_initial = initial_kex && self.strict_kex;
            if !msg::allowed_during_kex(msg_type) || strict_initial && !matches!(msg_type, msg::KEXINIT | msg::NEWKEYS | 30..=49) {
                return Err(Error::protocol(alloc::format!("message {msg_type} not allowed during key exchange")));
            }
        }
        match msg_type {
            msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED => {}
            msg::KEXINIT => self.on_kexinit(payload, ctx)?,
            msg::NEWKEYS => self.on_newkeys(payload, ctx)?,
            30..=49 => self.on_kex_message(payload, ctx)?,
            msg::SERVICE_REQUEST => self.on_service_request(payload, ctx)?,
            msg::USERAUTH_REQUEST => self.on_userauth_request(payload, ctx)?,
            msg::USERAUTH_INFO_RESPONSE => self.on_info_response(payload, ctx)?,
            51..=79 => return Err(Error::protocol(alloc::format!("unexpected authentication message {msg_type}"))),
            80..=127 => {
                if self.user.is_none() {
                    return Err(Error::protocol(alloc::format!("connection protocol message {msg_type} before authentication")));
                }
                self.on_connection_message(msg_type, payload, ctx)?;
            }
            _ => self.unimplemented(ctx),
        }
        Ok(())
    }

    fn on_disconnect(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let reason = r.u32()?;
        let description = quote(&String::from_utf8_lossy(r.string().unwrap_or_default()), 1024);
        self.log(ctx, LOG_INFO, alloc::format!("client disconnected: {description}"));
        self.closed = true;
        self.emit(ctx, Event::Disconnected { reason, description, by_peer: true });
        Ok(())
    }

    /// UNIMPLEMENTED for the packet just received. A transport message, so it goes out at once even during
    /// a key exchange: held back, a stream of unknown messages would pile up replies.
    fn unimplemented(&mut self, ctx: &mut Ctx) {
        let mut w = Writer::message(msg::UNIMPLEMENTED);
        w.u32(self.opener.seq().wrapping_sub(1));
        self.seal_now(w.as_slice(), ctx);
    }

    // ---- key exchange ------------------------------------------------------------------------------

    fn start_kex(&mut self, ctx: &mut Ctx) {
        let mut cookie = [0u8; 16];
        rand_core::RngCore::fill_bytes(ctx.rng, &mut cookie);
        let mut extra = Vec::new();
        if self.session_id.is_none() && ctx.config.strict_kex != StrictKex::Disabled {
            extra.push(negotiate::STRICT_KEX_S);
        }
        let host_algs: Vec<_> = ctx.host_keys.iter().map(HostKey::algorithm).collect();
        let ours = negotiate::encode_server_kexinit(&ctx.config.algorithms, &host_algs, cookie, &extra);
        self.seal_now(&ours, ctx);
        self.kex = Some(KexState { ours, theirs: None, negotiated: None, step: KexStep::KexInit });
    }

    fn maybe_rekey(&mut self, ctx: &mut Ctx) {
        if self.kex.is_none()
            && self.session_id.is_some()
            && !self.closed
            && (self.bytes_since_kex >= ctx.config.rekey_bytes || self.packets_since_kex >= ctx.config.rekey_packets)
        {
            self.log(ctx, LOG_VERBOSE, "starting key re-exchange");
            self.start_kex(ctx);
        }
    }

    /// Starts a key exchange at the host's request (the reference's `ExchangeKeys`).
    pub fn rekey(&mut self, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.session_id.is_none() || self.kex.is_some() {
            return Err(CommandError::WrongState("a key exchange is already in progress"));
        }
        self.start_kex(ctx);
        Ok(())
    }

    fn on_kexinit(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        if self.kex.is_none() {
            let earned = (self.bytes_since_kex / CLIENT_KEX_BYTES).saturating_mul(CLIENT_KEX_INTERVAL_MS);
            let credit_at = self.client_kex_credit_at.saturating_sub(earned).max(self.now) + CLIENT_KEX_INTERVAL_MS;
            if credit_at - self.now > CLIENT_KEX_BURST * CLIENT_KEX_INTERVAL_MS {
                return Err(Error::protocol("too many key exchanges"));
            }
            self.client_kex_credit_at = credit_at;
            self.start_kex(ctx);
        }
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("no key exchange"));
        };
        if state.theirs.is_some() {
            return Err(Error::protocol("KEXINIT during key exchange"));
        }
        let client = KexInit::decode(payload)?;
        let initial = self.session_id.is_none();
        if initial {
            let client_strict = client.offers(negotiate::STRICT_KEX_C);
            self.strict_kex = client_strict && ctx.config.strict_kex != StrictKex::Disabled;
            self.ext_info = client.offers(negotiate::EXT_INFO_C);
            if self.strict_kex && self.opener.seq() != 1 {
                return Err(Error::protocol("strict kex: KEXINIT was not the first packet"));
            }
            if !client_strict && ctx.config.strict_kex == StrictKex::Required {
                return Err(Error::kex("strict key exchange is required"));
            }
        }
        // Negotiate against the lists we advertised: the client computes its choice from those.
        let ours = KexInit::decode(&state.ours)?;
        let negotiated = negotiate::negotiate_lists(&client, &ours)?;
        if initial && !self.strict_kex && ctx.config.strict_kex == StrictKex::RejectAffected && terrapin_affected(&negotiated) {
            return Err(Error::kex("the negotiated algorithms are open to the Terrapin attack without strict key exchange"));
        }
        let skip_guess = client.first_kex_packet_follows && !client.guess_was_right(&negotiated);
        state.theirs = Some(payload.to_vec());
        state.negotiated = Some(negotiated);
        state.step = KexStep::ClientInit { skip_guess };
        self.log(
            ctx,
            LOG_VERBOSE,
            alloc::format!(
                "negotiated {} {} {} {} {}",
                negotiated.kex.name(),
                negotiated.host_key.name(),
                negotiated.cipher_c2s.name(),
                negotiated.mac_c2s.map_or("<implicit>", MacAlg::name),
                negotiated.compression_c2s.name()
            ),
        );
        Ok(())
    }

    fn on_kex_message(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("key exchange message outside key exchange"));
        };
        let (KexStep::ClientInit { skip_guess }, Some(negotiated), Some(theirs)) =
            (&mut state.step, state.negotiated, state.theirs.as_ref())
        else {
            return Err(Error::protocol("unexpected key exchange message"));
        };
        if core::mem::take(skip_guess) {
            return Ok(());
        }
        if payload.first() != Some(&kex::client_init_message(negotiated.kex)) {
            return Err(Error::protocol("unexpected key exchange message"));
        }
        let host_key = ctx
            .host_keys
            .iter()
            .find(|k| k.algorithm() == negotiated.host_key)
            .ok_or_else(|| Error::kex("no host key for the negotiated algorithm"))?;
        let transcript = Transcript {
            client_version: self.client_version.as_deref().unwrap_or_default().as_bytes(),
            server_version: ctx.config.server_version.as_bytes(),
            client_kexinit: theirs,
            server_kexinit: &state.ours,
        };
        let result = kex::server_exchange(negotiated.kex, &transcript, payload, host_key, ctx.rng)?;
        let session_id = self.session_id.get_or_insert_with(|| result.exchange_hash.clone()).clone();
        let (c2s, s2c) = kex::derive_keys(negotiated.kex, &negotiated, &result.shared_secret, &result.exchange_hash, &session_id);
        state.step = KexStep::NewKeys { keys: c2s };

        self.seal_now(&result.reply, ctx);
        self.seal_now(&[msg::NEWKEYS], ctx);
        self.sealer.rekey(&direction(&s2c))?;
        self.sealer.set_compression(negotiated.compression_s2c);
        if self.strict_kex {
            self.sealer.reset_seq();
        }
        if self.kexes_done == 0 && self.ext_info {
            let mut w = Writer::message(msg::EXT_INFO);
            let sig_algs: Vec<&str> = ctx.config.user_key_algorithms.iter().map(|a| a.name()).collect();
            w.u32(1).string(b"server-sig-algs").string(sig_algs.join(",").as_bytes());
            self.seal_now(w.as_slice(), ctx);
        }
        Ok(())
    }

    fn on_newkeys(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        if payload.len() != 1 {
            return Err(Error::protocol("malformed NEWKEYS"));
        }
        let Some(KexState { step: KexStep::NewKeys { keys }, negotiated: Some(negotiated), .. }) = self.kex.take() else {
            return Err(Error::protocol("unexpected NEWKEYS"));
        };
        self.opener.rekey(&direction(&keys))?;
        self.opener.set_compression(negotiated.compression_c2s);
        if self.strict_kex {
            self.opener.reset_seq();
        }
        let initial = self.kexes_done == 0;
        self.kexes_done += 1;
        self.bytes_since_kex = 0;
        self.packets_since_kex = 0;
        self.emit(
            ctx,
            Event::KeysExchanged(KexSummary {
                kex: negotiated.kex.name(),
                host_key: negotiated.host_key.name(),
                cipher_in: negotiated.cipher_c2s.name(),
                cipher_out: negotiated.cipher_s2c.name(),
                mac_in: negotiated.mac_c2s.map_or("", MacAlg::name),
                mac_out: negotiated.mac_s2c.map_or("", MacAlg::name),
                strict: self.strict_kex,
                initial,
            }),
        );
        self.log(ctx, LOG_INFO, if initial { "key exchange complete" } else { "key re-exchange complete" });
        for payload in core::mem::take(&mut self.held) {
            self.seal_now(&payload, ctx);
        }
        for (&id, channel) in self.channels.iter_mut() {
            if channel.may_resume() {
                ctx.events.push_back((self.id, Event::ChannelReadyToSend { channel: id }));
            }
        }
        Ok(())
    }

    // ---- authentication ----------------------------------------------------------------------------

    fn on_service_request(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let service = r.utf8()?;
        r.finish()?;
        if self.service_accepted || service != "ssh-userauth" {
            let service = quote(service, MAX_QUOTED_CHARS);
            return Err(Error::new(DisconnectReason::ServiceNotAvailable, alloc::format!("service not available: {service}")));
        }
        self.pending = Some(Pending::Service);
        self.emit(ctx, Event::ServiceRequest { service: service.into() });
        Ok(())
    }

    /// A reply that arrives after the connection ended has nothing left to answer: it is taken and dropped.
    fn reply_is_moot(&mut self) -> bool {
        if self.closed {
            self.pending = None;
        }
        self.closed
    }

    pub fn reply_service(&mut self, accept: bool, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        let Some(Pending::Service) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if accept {
            self.service_accepted = true;
            let mut w = Writer::message(msg::SERVICE_ACCEPT);
            w.string(b"ssh-userauth");
            self.send(w.as_slice(), ctx);
        } else {
            self.fail(ctx, Error::new(DisconnectReason::ServiceNotAvailable, "service refused"));
        }
        self.resume(ctx);
        Ok(())
    }

    fn on_userauth_request(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        if !self.service_accepted {
            return Err(Error::protocol("authentication request before the ssh-userauth service"));
        }
        if self.user.is_some() {
            return Ok(()); // RFC 4252 §5.1: requests after success are ignored
        }
        self.kbd_prompts = None;
        let request = auth::decode_request(payload)?;
        if !self.banner_sent {
            self.banner_sent = true;
            if let Some(banner) = &ctx.config.banner {
                self.send(&auth::encode_banner(banner), ctx);
            }
        }
        let user = request.user.to_string();
        self.user_in_progress = user.clone();
        let offered = |m: &str| ctx.config.auth_methods.iter().any(|x| x == m);
        if request.service != "ssh-connection" {
            return self.auth_failure(ctx, false, None, true);
        }
        let method = match request.method {
            MethodRequest::None => AuthMethod::None,
            MethodRequest::Password { password, change } if offered("password") && !change => AuthMethod::Password { password },
            MethodRequest::PublicKey { algorithm, blob, signature } if offered("publickey") => {
                let allowed = ctx.config.user_key_algorithms.iter().any(|a| a.name() == algorithm);
                let Some(key) = auth::parse_offered_key(algorithm, blob).filter(|_| allowed) else {
                    return self.auth_failure(ctx, false, None, true);
                };
                if let Some(signature) = signature {
                    let session_id = self.session_id.as_deref().unwrap_or_default();
                    let data = auth::signed_data(session_id, request.user, request.service, algorithm, blob);
                    if !key.verify(algorithm, &data, signature) {
                        self.log(ctx, LOG_INFO, alloc::format!("publickey signature for {user} did not verify"));
                        return self.auth_failure(ctx, false, None, true);
                    }
                }
                let pk_query = signature.is_none().then(|| (algorithm.to_string(), blob.to_vec()));
                self.pending = Some(Pending::Auth(PendingAuth { user: user.clone(), method: "publickey", pk_query }));
                let method = AuthMethod::PublicKey { algorithm: algorithm.into(), key: blob.to_vec(), signed: signature.is_some() };
                self.emit(ctx, Event::AuthRequest(AuthRequest { user, service: request.service.into(), method }));
                return Ok(());
            }
            MethodRequest::KeyboardInteractive { submethods } if offered("keyboard-interactive") => {
                AuthMethod::KeyboardInteractive { submethods: submethods.into(), responses: None }
            }
            _ => return self.auth_failure(ctx, false, None, true),
        };
        self.pending = Some(Pending::Auth(PendingAuth { user: user.clone(), method: method.name(), pk_query: None }));
        self.emit(ctx, Event::AuthRequest(AuthRequest { user, service: request.service.into(), method }));
        Ok(())
    }

    fn on_info_response(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(expected) = self.kbd_prompts.take() else {
            return Err(Error::protocol("keyboard-interactive response without a request"));
        };
        let responses = auth::decode_info_response(payload, expected)?;
        let user = self.user_in_progress.clone();
        self.pending = Some(Pending::Auth(PendingAuth { user: user.clone(), method: "keyboard-interactive", pk_query: None }));
        let method = AuthMethod::KeyboardInteractive { submethods: String::new(), responses: Some(responses) };
        self.emit(ctx, Event::AuthRequest(AuthRequest { user, service: "ssh-connection".into(), method }));
        Ok(())
    }

    pub fn reply_auth(&mut self, reply: AuthReply, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        let Some(Pending::Auth(pending)) = self.pending.take() else {
            return Err(CommandError::NothingPending);
        };
        self.user_in_progress = pending.user.clone();
        let result = match reply {
            AuthReply::Accept => {
                if let Some((alg, blob)) = &pending.pk_query {
                    self.send(&auth::encode_pk_ok(alg, blob), ctx);
                } else {
                    self.send(&[msg::USERAUTH_SUCCESS], ctx);
                    self.log(ctx, LOG_INFO, alloc::format!("user {} authenticated with {}", pending.user, pending.method));
                    self.emit(ctx, Event::Authenticated { user: pending.user.clone(), method: pending.method.into() });
                    self.user = Some(pending.user);
                    self.last_activity = self.now;
                }
                Ok(())
            }
            AuthReply::Reject { partial_success, methods } => {
                // Every refusal counts, publickey queries included (as in OpenSSH), except a first "none".
                let counts = pending.method != "none" || self.none_seen;
                self.none_seen |= pending.method == "none";
                self.auth_failure(ctx, partial_success, methods, counts)
            }
            AuthReply::Prompt { name, instruction, prompts } => {
                if pending.method != "keyboard-interactive" {
                    self.pending = Some(Pending::Auth(pending));
                    return Err(CommandError::WrongState("prompts answer only keyboard-interactive requests"));
                }
                if prompts.len() > auth::MAX_PROMPTS {
                    self.pending = Some(Pending::Auth(pending));
                    return Err(CommandError::Invalid("too many prompts"));
                }
                self.kbd_prompts = Some(prompts.len());
                self.send(&auth::encode_info_request(&name, &instruction, &prompts), ctx);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fail(ctx, e);
        }
        self.resume(ctx);
        Ok(())
    }

    /// Sends USERAUTH_FAILURE, or ends the connection once the client has used up its attempts.
    fn auth_failure(&mut self, ctx: &mut Ctx, partial_success: bool, methods: Option<Vec<String>>, counts: bool) -> Result<()> {
        if counts && !partial_success {
            self.auth_failures += 1;
            if self.auth_failures >= ctx.config.max_auth_attempts {
                return Err(Error::new(DisconnectReason::NoMoreAuthMethodsAvailable, "too many authentication failures"));
            }
        }
        let methods = methods.unwrap_or_else(|| ctx.config.auth_methods.clone());
        self.send(&auth::encode_failure(&methods, partial_success), ctx);
        Ok(())
    }

    // ---- connection layer --------------------------------------------------------------------------

    fn channel_mut(&mut self, local_id: u32) -> Result<&mut Channel> {
        self.channels.get_mut(&local_id).ok_or_else(|| Error::protocol(alloc::format!("no such channel {local_id}")))
    }

    fn on_connection_message(&mut self, msg_type: u8, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let mut r = Reader::new(payload);
        r.u8()?;
        match msg_type {
            msg::GLOBAL_REQUEST => {
                let name = r.utf8()?;
                let want_reply = r.bool()?;
                if name == "no-more-sessions@openssh.com" {
                    self.no_more_sessions = true;
                }
                self.log(ctx, LOG_VERBOSE, alloc::format!("global request {}", quote(name, MAX_QUOTED_CHARS)));
                if want_reply {
                    self.send(&[msg::REQUEST_FAILURE], ctx);
                }
            }
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => {
                // Answers to our keepalives; any packet already counted as a sign of life.
                self.keepalive_sent_at = None;
            }
            msg::CHANNEL_OPEN => self.on_channel_open(payload, ctx)?,
            msg::CHANNEL_REQUEST => {
                let (local_id, request, want_reply) = conn_proto::decode_channel_request(payload)?;
                let channel = self.channel_mut(local_id)?;
                if !channel.open || channel.close_sent {
                    if want_reply && channel.open {
                        let reply = conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, channel.peer_id);
                        self.send(&reply, ctx);
                    }
                    return Ok(());
                }
                if let ChannelRequest::Other { name, .. } = &request {
                    if name == "keepalive@openssh.com" || name == "eow@openssh.com" {
                        let peer = channel.peer_id;
                        if want_reply {
                            self.send(&conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, peer), ctx);
                        }
                        return Ok(());
                    }
                }
                self.pending = Some(Pending::ChannelRequest { channel: local_id, want_reply });
                self.emit(ctx, Event::ChannelRequest { channel: local_id, request, want_reply });
            }
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                let local_id = r.u32()?;
                let stream = if msg_type == msg::CHANNEL_EXTENDED_DATA { r.u32()? } else { 0 };
                let data = r.string()?;
                r.finish()?;
                self.channel_mut(local_id)?.receive(data.len())?;
                self.last_activity = self.now;
                self.emit(ctx, Event::ChannelData { channel: local_id, stream, data: data.to_vec() });
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                let local_id = r.u32()?;
                let add = r.u32()?;
                if self.channel_mut(local_id)?.window_adjust(add)? {
                    self.emit(ctx, Event::ChannelReadyToSend { channel: local_id });
                }
            }
            msg::CHANNEL_EOF => {
                let local_id = r.u32()?;
                let channel = self.channel_mut(local_id)?;
                if !channel.eof_received {
                    channel.eof_received = true;
                    self.emit(ctx, Event::ChannelEof { channel: local_id });
                }
            }
            msg::CHANNEL_CLOSE => {
                let local_id = r.u32()?;
                let channel = self.channels.remove(&local_id).ok_or_else(|| Error::protocol("close of unknown channel"))?;
                if !channel.close_sent {
                    self.send(&conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, channel.peer_id), ctx);
                }
                self.emit(ctx, Event::ChannelClosed { channel: local_id });
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                self.channel_mut(r.u32()?)?; // replies to requests we never send with want_reply
            }
            msg::CHANNEL_OPEN_CONFIRMATION | msg::CHANNEL_OPEN_FAILURE => {
                return Err(Error::protocol("channel open reply for a channel the server never opened"));
            }
            _ => self.unimplemented(ctx),
        }
        Ok(())
    }

    fn on_channel_open(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let open = conn_proto::decode_channel_open(payload)?;
        let refuse = if self.channels.len() >= ctx.config.max_channels as usize {
            Some((conn_proto::OPEN_RESOURCE_SHORTAGE, "too many channels"))
        } else if open.max_packet < MIN_PEER_MAX_PACKET {
            Some((conn_proto::OPEN_RESOURCE_SHORTAGE, "maximum packet size too small"))
        } else if open.kind == "session" && self.no_more_sessions {
            Some((conn_proto::OPEN_ADMINISTRATIVELY_PROHIBITED, "no more sessions"))
        } else {
            None
        };
        if let Some((reason, text)) = refuse {
            self.send(&conn_proto::encode_open_failure(open.sender, reason, text), ctx);
            return Ok(());
        }
        let local_id = (0..=u32::MAX).find(|id| !self.channels.contains_key(id)).unwrap_or(u32::MAX);
        let channel = Channel::new(open.sender, open.window, open.max_packet, ctx.config.channel_window, ctx.config.channel_max_packet);
        self.channels.insert(local_id, channel);
        self.pending = Some(Pending::ChannelOpen { peer_id: open.sender, local_id });
        self.emit(ctx, Event::ChannelOpenRequest { channel: local_id, kind: open.kind.into(), data: open.data.to_vec() });
        Ok(())
    }

    pub fn reply_channel_open(&mut self, accept: bool, reason: u32, description: &str, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        let Some(Pending::ChannelOpen { peer_id, local_id, .. }) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if accept {
            if let Some(channel) = self.channels.get_mut(&local_id) {
                channel.open = true;
                let confirmation = channel.confirmation(local_id);
                self.send(&confirmation, ctx);
            }
        } else {
            self.channels.remove(&local_id);
            let reason = if reason == 0 { conn_proto::OPEN_ADMINISTRATIVELY_PROHIBITED } else { reason };
            self.send(&conn_proto::encode_open_failure(peer_id, reason, description), ctx);
        }
        self.resume(ctx);
        Ok(())
    }

    pub fn reply_channel_request(&mut self, accept: bool, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        let Some(Pending::ChannelRequest { channel, want_reply }) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if let (true, Some(ch)) = (want_reply, self.channels.get(&channel)) {
            let reply = conn_proto::encode_channel_only(if accept { msg::CHANNEL_SUCCESS } else { msg::CHANNEL_FAILURE }, ch.peer_id);
            self.send(&reply, ctx);
        }
        self.resume(ctx);
        Ok(())
    }

    /// Processes input that waited for a decision.
    fn resume(&mut self, ctx: &mut Ctx) {
        if let Err(e) = self.process(ctx) {
            self.fail(ctx, e);
        }
    }

    fn open_channel(&mut self, local_id: u32) -> Result<&mut Channel, CommandError> {
        if self.closed {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        match self.channels.get_mut(&local_id) {
            Some(ch) if ch.open => Ok(ch),
            _ => Err(CommandError::NoSuchChannel),
        }
    }

    /// A channel the host may still send requests on: open, and not closed by us.
    fn sending_channel(&mut self, local_id: u32) -> Result<&mut Channel, CommandError> {
        let channel = self.open_channel(local_id)?;
        if channel.close_sent {
            return Err(CommandError::WrongState("CLOSE already sent on this channel"));
        }
        Ok(channel)
    }

    /// Sends as much of `data` as the peer's window allows; returns how much was taken.
    pub fn send_data(&mut self, local_id: u32, stream: u32, data: &[u8], ctx: &mut Ctx) -> Result<usize, CommandError> {
        let in_kex = self.kex.is_some();
        let channel = self.open_channel(local_id)?;
        if channel.eof_sent || channel.close_sent {
            return Err(CommandError::WrongState("EOF or close already sent on this channel"));
        }
        if in_kex {
            // Data would wait in `held` until the exchange ends, however long the client makes that.
            channel.defer_send();
            return Ok(0);
        }
        let (packets, taken) = channel.send(stream, data);
        // The whole batch goes out under the current keys: a rekey started halfway would strand the rest.
        for p in &packets {
            self.seal_now(p, ctx);
        }
        self.maybe_rekey(ctx);
        if taken > 0 {
            self.last_activity = self.now;
        }
        Ok(taken)
    }

    pub fn send_window(&self, local_id: u32) -> Option<u32> {
        self.channels.get(&local_id).filter(|c| c.open && !c.eof_sent && !c.close_sent).map(Channel::send_window)
    }

    pub fn consume(&mut self, local_id: u32, n: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        let Some(channel) = self.channels.get_mut(&local_id) else {
            return Ok(());
        }; // closed meanwhile
        if let Some(adjust) = channel.consume(n) {
            self.send(&adjust, ctx);
        }
        Ok(())
    }

    pub fn send_eof(&mut self, local_id: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        let channel = self.open_channel(local_id)?;
        if channel.eof_sent || channel.close_sent {
            return Ok(());
        }
        channel.eof_sent = true;
        let eof = conn_proto::encode_channel_only(msg::CHANNEL_EOF, channel.peer_id);
        self.send(&eof, ctx);
        Ok(())
    }

    pub fn send_exit_status(&mut self, local_id: u32, status: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        let peer = self.sending_channel(local_id)?.peer_id;
        self.send(&conn_proto::encode_exit_status(peer, status), ctx);
        Ok(())
    }

    pub fn send_exit_signal(
        &mut self,
        local_id: u32,
        signal: &str,
        core_dumped: bool,
        message: &str,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let peer = self.sending_channel(local_id)?.peer_id;
        self.send(&conn_proto::encode_exit_signal(peer, signal, core_dumped, message), ctx);
        Ok(())
    }

    pub fn close_channel(&mut self, local_id: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        let channel = self.open_channel(local_id)?;
        if channel.close_sent {
            return Ok(());
        }
        channel.close_sent = true;
        let close = conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, channel.peer_id);
        self.send(&close, ctx);
        Ok(())
    }

    /// `LogLevel` 3: every packet payload in hex, except those that may carry a secret while
    /// `MaskSensitiveData` is on.
    fn dump(&self, ctx: &mut Ctx, direction: &str, payload: &[u8]) {
        if ctx.config.log_level < LOG_DEBUG {
            return;
        }
        let msg_type = payload.first().copied().unwrap_or_default();
        let secret =
            matches!(msg_type, msg::USERAUTH_REQUEST | msg::USERAUTH_INFO_RESPONSE | msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA);
        let mut line = alloc::format!("packet {direction}: type={msg_type} len={} ", payload.len());
        if secret && ctx.config.mask_sensitive {
            line.push_str("(masked)");
        } else {
            for b in payload {
                let _ = core::fmt::Write::write_fmt(&mut line, format_args!("{b:02x}"));
            }
        }
        self.log(ctx, LOG_DEBUG, line);
    }

    // ---- output, timers and the end ----------------------------------------------------------------

    /// Seals a payload now, whatever the key exchange state (for transport messages).
    fn seal_now(&mut self, payload: &[u8], ctx: &mut Ctx) {
        self.dump(ctx, "out", payload);
        if let Err(e) = self.sealer.seal(payload, ctx.rng, &mut self.out) {
            // Nothing more can be sealed on this stream, not even a DISCONNECT.
            self.closed = true;
            self.emit(ctx, Event::Disconnected { reason: e.reason.code(), description: e.description.into_owned(), by_peer: false });
            return;
        }
        self.bytes_since_kex = self.bytes_since_kex.saturating_add(payload.len() as u64);
        self.packets_since_kex = self.packets_since_kex.saturating_add(1);
        if payload.first() == Some(&msg::USERAUTH_SUCCESS) {
            // zlib@openssh.com starts here in both directions: the client starts when it reads this packet.
            self.sealer.authenticated();
            self.opener.authenticated();
        }
    }

    /// Sends a service-layer payload, holding it back while a key exchange is in progress.
    fn send(&mut self, payload: &[u8], ctx: &mut Ctx) {
        if self.closed {
            return;
        }
        if self.kex.is_some() {
            let held: usize = self.held.iter().map(Vec::len).sum();
            if held + payload.len() > MAX_HELD_BYTES {
                return self.fail(ctx, Error::protocol("key exchange not completed while replies piled up"));
            }
            self.held.push(payload.to_vec());
        } else {
            self.seal_now(payload, ctx);
            self.maybe_rekey(ctx);
        }
    }

    /// Ends the connection with a DISCONNECT carrying the error's reason. Idempotent.
    pub fn fail(&mut self, ctx: &mut Ctx, error: Error) {
        if self.closed {
            return;
        }
        let mut w = Writer::message(msg::DISCONNECT);
        w.u32(error.reason.code()).string(error.description.as_bytes()).string(b"");
        self.seal_now(w.as_slice(), ctx);
        self.closed = true;
        self.log(ctx, LOG_INFO, alloc::format!("disconnecting: {}", error.description));
        self.emit(ctx, Event::Disconnected { reason: error.reason.code(), description: error.description.into_owned(), by_peer: false });
    }

    /// The transport closed under us.
    pub fn lost(&mut self, ctx: &mut Ctx) {
        if !self.closed {
            self.closed = true;
            self.emit(
                ctx,
                Event::Disconnected {
                    reason: DisconnectReason::ConnectionLost.code(),
                    description: "connection lost".into(),
                    by_peer: true,
                },
            );
        }
    }

    /// The earliest time at which [`Conn::handle_timeout`] has work to do.
    pub fn next_deadline(&self, config: &Config) -> Option<u64> {
        if self.closed {
            return None;
        }
        let mut deadlines = [None; 3];
        if self.user.is_none() && config.login_grace_ms > 0 {
            deadlines[0] = Some(self.started.saturating_add(config.login_grace_ms));
        }
        if self.user.is_some() && config.idle_timeout_ms > 0 {
            deadlines[1] = Some(self.last_activity.saturating_add(config.idle_timeout_ms));
        }
        if self.user.is_some() && config.keepalive_interval_ms > 0 {
            let since = self.keepalive_sent_at.unwrap_or(self.last_rx).max(self.last_rx);
            deadlines[2] = Some(since.saturating_add(config.keepalive_interval_ms));
        }
        deadlines.into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: u64, ctx: &mut Ctx) {
        if self.closed {
            return;
        }
        self.now = now;
        let config = ctx.config;
        if self.user.is_none() && config.login_grace_ms > 0 && now >= self.started.saturating_add(config.login_grace_ms) {
            return self.fail(ctx, Error::new(DisconnectReason::ByApplication, "login grace time exceeded"));
        }
        if self.user.is_some() && config.idle_timeout_ms > 0 && now >= self.last_activity.saturating_add(config.idle_timeout_ms) {
            return self.fail(ctx, Error::new(DisconnectReason::ByApplication, "idle timeout"));
        }
        if self.user.is_some() && config.keepalive_interval_ms > 0 {
            let since = self.keepalive_sent_at.unwrap_or(self.last_rx).max(self.last_rx);
            if now >= since.saturating_add(config.keepalive_interval_ms) {
                if self.keepalives_unanswered >= config.keepalive_count_max {
                    return self.fail(ctx, Error::new(DisconnectReason::ConnectionLost, "keepalive timeout: client not responding"));
                }
                self.keepalives_unanswered += 1;
                self.keepalive_sent_at = Some(now);
                self.send(&conn_proto::encode_global_request("keepalive@openssh.com", true), ctx);
            }
        }
    }
}

/// Client text made fit for a log line: control characters replaced, at most `max` characters.
fn quote(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// Terrapin can truncate the start of a sequence under chacha20-poly1305 and encrypt-then-MAC modes.
fn terrapin_affected(n: &Negotiated) -> bool {
    let etm = |m: Option<MacAlg>| matches!(m, Some(MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm));
    [n.cipher_c2s, n.cipher_s2c].contains(&CipherAlg::Chacha20Poly1305) || etm(n.mac_c2s) || etm(n.mac_s2c)
}

fn direction(keys: &Keys) -> DirectionKeys<'_> {
    DirectionKeys { cipher: keys.cipher, mac: keys.mac, key: &keys.key, iv: &keys.iv, mac_key: &keys.mac_key }
}
