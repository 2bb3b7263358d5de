//! A transport session (RFC 4253) for either end of a connection: identification lines, packet
//! protection and compression, key exchanges and re-exchanges, and the generic transport messages. It
//! hands every other message to the layer above ([`Session::poll`]) and sends that layer's messages,
//! holding them back while a key exchange is in progress ([`Session::send`]).

mod key_exchange;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::{Config, StrictKex};
use crate::crypto::rng::EntropyPool;
use crate::error::{Error, Result};
use crate::event::{quote, Event, LOG_DEBUG, LOG_INFO};
use crate::keys::{HostKey, SigAlg};
use crate::msg::{self, DisconnectReason};
use crate::transport::ident;
use crate::transport::packet::{Opener, Payload, RxBuf, Sealer};
use crate::transport::Role;
use crate::wipe::SecretBytes;
use crate::wire::{Reader, Writer};

pub use key_exchange::KEX_TIMEOUT_MS;
use key_exchange::{KexState, PeerKexLimit};

/// Messages held back while a key exchange is in progress, counted with `HELD_ENTRY_COST` each for the
/// bookkeeping of an entry, and at most `MAX_HELD_ENTRIES` of them.
const MAX_HELD_BYTES: usize = 256 * 1024;
const HELD_ENTRY_COST: usize = 64;
const MAX_HELD_ENTRIES: usize = 1024;

/// What a connection's layers share with the rest of the process during one call.
pub struct Ctx<'a> {
    /// The connection's id, which its events carry.
    pub id: u32,
    pub config: &'a Config,
    /// The keys a server signs its key exchanges with; a client has none.
    pub host_keys: &'a [HostKey],
    /// A server's keys it will move to: named to clients after login, never used in a key exchange.
    pub next_host_keys: &'a [HostKey],
    pub rng: &'a mut EntropyPool,
    pub events: &'a mut VecDeque<(u32, Event)>,
}

impl Ctx<'_> {
    pub fn emit(&mut self, event: Event) {
        self.events.push_back((self.id, event));
    }

    pub fn log(&mut self, level: u8, message: impl Into<String>) {
        if level <= self.config.log_level {
            self.emit(Event::Log { level, message: message.into() });
        }
    }
}

/// Output at least this large (two full channel packets) marks a connection moving bulk data.
const KEPT_OUTPUT_MIN: usize = 64 * 1024;

/// What [`Session::poll`] took from the input.
pub enum Incoming {
    /// The peer's identification line (without CR LF).
    Version(String),
    /// A packet the session handled itself: a generic transport or key exchange message.
    Transport,
    /// The peer's NEWKEYS: a key exchange is complete and the messages held back during it went out.
    KeysExchanged,
    /// A message for the layers above.
    Message(SecretBytes),
    /// A channel data message for the layers above, left where it was decrypted: read it with
    /// [`Session::lent`] before the next call that takes input, which wipes it.
    Data,
}

pub struct Session {
    role: Role,
    /// Our identification line as sent: the exchange hash covers it.
    version: String,
    peer_version: Option<String>,
    rx: RxBuf,
    out: Vec<u8>,
    opener: Opener,
    sealer: Sealer,
    kex: Option<KexState>,
    /// Messages of the layers above held back while a key exchange is in progress, and what they cost.
    held: Vec<Vec<u8>>,
    held_cost: usize,
    /// How many of `held` go out before delayed compression starts: authentication succeeded with the
    /// last of them.
    compression_after_held: Option<usize>,
    session_id: Option<Vec<u8>>,
    /// The host key signature algorithm of the latest key exchange.
    host_key_alg: Option<SigAlg>,
    /// A client's: the server's host key from the first exchange, which every re-exchange must show.
    peer_host_key: Option<Vec<u8>>,
    strict_kex: bool,
    /// We send our EXT_INFO (RFC 8308) after the first NEWKEYS: a server does, when the client asks.
    ext_info: bool,
    kexes_done: u32,
    peer_kex_limit: PeerKexLimit,
    /// Bytes on the wire both ways since the last exchange.
    bytes_since_kex: u64,
    /// When the last exchange finished (ms), for `KeyRenegotiationInterval`.
    kex_done_at: u64,
    /// What the channel data received since the last exchange inflated to beyond its bytes on the wire. It
    /// earns the peer's rekey allowance as if it had come uncompressed (OpenSSH -C with a small
    /// `RekeyLimit` rekeys after every 32 KiB of data, however well it compresses): the windows bound it,
    /// unlike other compressed messages, which earn only by their wire size.
    data_inflation_since_kex: u64,
    packets_since_kex: u32,
    /// The latest time a call brought, and the time the session started (ms).
    now: u64,
    started: u64,
    closed: bool,
}

impl Session {
    /// A session that sends `version` (without CR LF) and its first KEXINIT at once.
    pub fn new(role: Role, version: &str, now: u64, ctx: &mut Ctx) -> Self {
        let mut s = Session {
            role,
            version: version.into(),
            peer_version: None,
            rx: RxBuf::default(),
            out: Vec::new(),
            opener: Opener::new(),
            sealer: Sealer::new(),
            kex: None,
            held: Vec::new(),
            held_cost: 0,
            compression_after_held: None,
            session_id: None,
            host_key_alg: None,
            peer_host_key: None,
            strict_kex: false,
            ext_info: false,
            kexes_done: 0,
            peer_kex_limit: PeerKexLimit::default(),
            bytes_since_kex: 0,
            kex_done_at: 0,
            data_inflation_since_kex: 0,
            packets_since_kex: 0,
            now,
            started: now,
            closed: false,
        };
        s.out.extend_from_slice(version.as_bytes());
        s.out.extend_from_slice(b"\r\n");
        s.start_kex(ctx);
        s.stamp_kex_start();
        s
    }

    /// Moves the session's clock to `now` (ms); it never goes back.
    pub fn advance(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn strict_kex(&self) -> bool {
        self.strict_kex
    }

    /// H of the first key exchange, once it is known.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The host key signature algorithm of the latest key exchange, once there was one.
    pub fn host_key_alg(&self) -> Option<SigAlg> {
        self.host_key_alg
    }

    /// On a client, the server's host key once the first exchange has checked its signature: the layer
    /// above decides whether to trust it.
    pub fn peer_host_key(&self) -> Option<&[u8]> {
        self.peer_host_key.as_deref()
    }

    /// Whether a key exchange is in progress: messages sent now are held back until it ends.
    pub fn in_kex(&self) -> bool {
        self.kex.is_some()
    }

    /// Bytes received and not yet processed.
    pub fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    /// Bytes waiting to be written to the transport.
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// The bytes to write, for a host that copies them out and then calls [`Session::output_written`].
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Empties the output a host has copied. A connection moving bulk data keeps the buffer, so that
    /// sealing never regrows it; one that wrote little (a handshake step, an idle connection's keepalive)
    /// gives it back, so that idle connections hold none.
    pub fn output_written(&mut self) {
        if self.out.len() >= KEPT_OUTPUT_MIN {
            self.out.clear();
        } else {
            self.out = Vec::new();
        }
    }

    /// Bytes read from the transport; [`Session::poll`] takes them apart.
    pub fn receive(&mut self, bytes: &[u8]) {
        // Growing the buffer may move what it holds: a lent packet is done with first.
        self.opener.release(&mut self.rx);
        self.rx.extend(bytes);
    }

    // ---- input -------------------------------------------------------------------------------------

    /// Takes the next item off the input: the peer's version line, then one packet a call. `None` when
    /// more bytes are needed or the session is closed.
    pub fn poll(&mut self, ctx: &mut Ctx) -> Result<Option<Incoming>> {
        if self.closed {
            return Ok(None);
        }
        if self.peer_version.is_none() {
            return self.read_version(ctx);
        }
        let Some(opened) = self.opener.open(&mut self.rx)? else {
            return Ok(None);
        };
        self.packets_since_kex = self.packets_since_kex.saturating_add(1);
        self.bytes_since_kex = self.bytes_since_kex.saturating_add(opened.wire as u64);
        let payload = match &opened.payload {
            Payload::InPlace => self.opener.lent(&self.rx),
            Payload::Inflated(inflated) => inflated,
        };
        let msg_type = payload.first().copied();
        if matches!(msg_type, Some(msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA)) {
            self.data_inflation_since_kex += payload.len().saturating_sub(opened.wire) as u64;
        }
        self.dump(ctx, "in", payload);
        // Channel data, the bulk of the input, is read where it was decrypted; authentication requests
        // carry passwords and answers, so the copy every other message gets is wiped when dropped.
        if let (Payload::InPlace, Some(data_type @ (msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA))) = (&opened.payload, msg_type) {
            self.check_order(data_type, ctx.config)?;
            return Ok(Some(Incoming::Data));
        }
        let payload = match opened.payload {
            Payload::InPlace => SecretBytes::new(self.opener.lent(&self.rx).to_vec()),
            Payload::Inflated(inflated) => inflated,
        };
        self.opener.release(&mut self.rx);
        self.dispatch(payload, ctx).map(Some)
    }

    /// The channel data message the last [`Session::poll`] returned as [`Incoming::Data`].
    pub fn lent(&self) -> &[u8] {
        self.opener.lent(&self.rx)
    }

    fn read_version(&mut self, ctx: &mut Ctx) -> Result<Option<Incoming>> {
        let found = match self.role {
            Role::Server if ident::is_not_ssh(self.rx.bytes()) => {
                self.not_ssh(ctx);
                return Ok(None);
            }
            Role::Server => ident::parse_client_version(self.rx.bytes())?,
            Role::Client => ident::parse_server_version(self.rx.bytes())?,
        };
        let Some((version, used)) = found else {
            return Ok(None);
        };
        self.rx.consume(used);
        self.peer_version = Some(version.clone());
        Ok(Some(Incoming::Version(version)))
    }

    /// RFC 4253 §4.2 lets only the server send lines before its version: a client whose first line is
    /// something else (an HTTP request, a port scanner) is told so in the clear and closed, as OpenSSH does.
    fn not_ssh(&mut self, ctx: &mut Ctx) {
        self.out.extend_from_slice(ident::NOT_SSH_REPLY);
        self.closed = true;
        ctx.log(LOG_INFO, "disconnecting: invalid SSH identification string");
        let reason = DisconnectReason::ProtocolError.code();
        ctx.emit(Event::Disconnected { reason, description: "invalid SSH identification string".into(), by_peer: false });
    }

    fn dispatch(&mut self, payload: SecretBytes, ctx: &mut Ctx) -> Result<Incoming> {
        let Some(&msg_type) = payload.first() else {
            return Err(Error::protocol("empty packet"));
        };
        // RFC 4253 §11.1: a DISCONNECT is honoured whatever the state.
        if msg_type == msg::DISCONNECT {
            self.on_disconnect(&payload, ctx)?;
            return Ok(Incoming::Transport);
        }
        self.check_order(msg_type, ctx.config)?;
        match msg_type {
            msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED => {}
            msg::KEXINIT => self.on_kexinit(&payload, ctx)?,
            msg::NEWKEYS => {
                self.on_newkeys(&payload, ctx)?;
                return Ok(Incoming::KeysExchanged);
            }
            30..=49 => self.on_kex_message(&payload, ctx)?,
            _ => return Ok(Incoming::Message(payload)),
        }
        Ok(Incoming::Transport)
    }

    /// Whether a message of `msg_type` may come now: strict kex rules hold until the peer's first NEWKEYS,
    /// even after the session id is known.
    fn check_order(&self, msg_type: u8, config: &Config) -> Result<()> {
        let initial_kex = self.kexes_done == 0;
        if initial_kex && self.awaiting_peer_kexinit() && msg_type != msg::KEXINIT {
            // Only the generic transport messages may come first. Whether the peer will ask for strict kex
            // (which requires KEXINIT first) is not known yet: on_kexinit refuses a strict peer that did this.
            if config.strict_kex == StrictKex::Required || !matches!(msg_type, msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED) {
                return Err(Error::protocol(alloc::format!("message {msg_type} before KEXINIT")));
            }
        }
        if self.peer_kexinit_received() {
            let strict_initial = initial_kex && self.strict_kex;
            if !msg::allowed_during_kex(msg_type) || strict_initial && !matches!(msg_type, msg::KEXINIT | msg::NEWKEYS | 30..=49) {
                return Err(Error::protocol(alloc::format!("message {msg_type} not allowed during key exchange")));
            }
        }
        Ok(())
    }

    fn on_disconnect(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let reason = r.u32()?;
        let description = quote(&String::from_utf8_lossy(r.string().unwrap_or_default()), 1024);
        ctx.log(LOG_INFO, alloc::format!("{} disconnected: {description}", self.role.peer().name()));
        self.closed = true;
        ctx.emit(Event::Disconnected { reason, description, by_peer: true });
        Ok(())
    }

    /// Answers the packet just received with UNIMPLEMENTED. A transport message, so it goes out at once
    /// even during a key exchange: held back, a stream of unknown messages would pile up replies.
    pub fn reply_unimplemented(&mut self, ctx: &mut Ctx) {
        let mut w = Writer::message(msg::UNIMPLEMENTED);
        w.u32(self.opener.seq().wrapping_sub(1));
        self.send_now(w.as_slice(), ctx);
    }

    // ---- output ------------------------------------------------------------------------------------

    /// Seals a payload now, whatever the key exchange state (for transport messages).
    fn send_now(&mut self, payload: &[u8], ctx: &mut Ctx) {
        self.seal_parts(&[payload], ctx);
    }

    /// Seals the payload made of `parts` now.
    fn seal_parts(&mut self, parts: &[&[u8]], ctx: &mut Ctx) {
        if let [payload] = parts {
            self.dump(ctx, "out", payload);
        } else if ctx.config.log_level >= LOG_DEBUG {
            self.dump(ctx, "out", &parts.concat());
        }
        let sealed = match self.sealer.seal_parts(parts, ctx.rng, &mut self.out) {
            Ok(sealed) => sealed,
            Err(e) => {
                // Nothing more can be sealed on this stream, not even a DISCONNECT.
                self.closed = true;
                ctx.emit(Event::Disconnected { reason: e.reason.code(), description: e.description.into_owned(), by_peer: false });
                return;
            }
        };
        self.bytes_since_kex = self.bytes_since_kex.saturating_add(sealed as u64);
        self.packets_since_kex = self.packets_since_kex.saturating_add(1);
    }

    /// Sends a message of the layers above, holding it back while a key exchange is in progress.
    pub fn send(&mut self, payload: &[u8], ctx: &mut Ctx) {
        if self.closed {
            return;
        }
        if self.kex.is_some() {
            let cost = payload.len() + HELD_ENTRY_COST;
            if self.held.len() >= MAX_HELD_ENTRIES || self.held_cost + cost > MAX_HELD_BYTES {
                return self.fail(ctx, Error::protocol("key exchange not completed while replies piled up"));
            }
            self.held_cost += cost;
            self.held.push(payload.to_vec());
        } else {
            self.send_now(payload, ctx);
            self.maybe_rekey(ctx);
        }
    }

    /// Sends a message of the layers above given in parts (channel data: its header, then the data as the
    /// host handed it over), when no key exchange is in progress; the caller starts a due re-exchange with
    /// [`Session::maybe_rekey`] once it has sent what goes together.
    pub fn send_parts(&mut self, parts: &[&[u8]], ctx: &mut Ctx) {
        if !self.closed && self.kex.is_none() {
            self.seal_parts(parts, ctx);
        }
    }

    /// Authentication succeeded with the message just sent (a server's USERAUTH_SUCCESS) or received (a
    /// client's): delayed compression (`zlib@openssh.com`) starts after it, both ways. If a key exchange
    /// holds that message back, compression starts when it goes out.
    pub fn start_delayed_compression(&mut self) {
        if self.held.is_empty() {
            self.compression_starts();
        } else {
            self.compression_after_held = Some(self.held.len());
        }
    }

    fn compression_starts(&mut self) {
        self.sealer.authenticated();
        self.opener.authenticated();
    }

    /// Sends what a key exchange held back.
    fn release_held(&mut self, ctx: &mut Ctx) {
        self.held_cost = 0;
        let compression_after = self.compression_after_held.take();
        for (n, payload) in core::mem::take(&mut self.held).into_iter().enumerate() {
            self.send_now(&payload, ctx);
            if compression_after == Some(n + 1) {
                self.compression_starts();
            }
        }
    }

    /// `LogLevel` 3: every packet payload in hex, except those that may carry a secret while
    /// `MaskSensitiveData` is on.
    fn dump(&self, ctx: &mut Ctx, direction: &str, payload: &[u8]) {
        if ctx.config.log_level < LOG_DEBUG {
            return;
        }
        let msg_type = payload.first().copied().unwrap_or_default();
        // Channel requests carry environment values and commands, which may hold secrets too.
        let secret = matches!(
            msg_type,
            msg::USERAUTH_REQUEST | msg::USERAUTH_INFO_RESPONSE | msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA | msg::CHANNEL_REQUEST
        );
        let mut line = alloc::format!("packet {direction}: type={msg_type} len={} ", payload.len());
        if secret && ctx.config.mask_sensitive {
            line.push_str("(masked)");
        } else {
            for b in payload {
                let _ = core::fmt::Write::write_fmt(&mut line, format_args!("{b:02x}"));
            }
        }
        ctx.log(LOG_DEBUG, line);
    }

    // ---- the end -----------------------------------------------------------------------------------

    /// Ends the session with a DISCONNECT carrying the error's reason. Idempotent.
    pub fn fail(&mut self, ctx: &mut Ctx, error: Error) {
        if self.closed {
            return;
        }
        let mut w = Writer::message(msg::DISCONNECT);
        w.u32(error.reason.code()).string(error.description.as_bytes()).string(b"");
        self.send_now(w.as_slice(), ctx);
        self.closed = true;
        ctx.log(LOG_INFO, alloc::format!("disconnecting: {}", error.description));
        ctx.emit(Event::Disconnected { reason: error.reason.code(), description: error.description.into_owned(), by_peer: false });
    }

    /// The transport closed under us.
    pub fn lost(&mut self, ctx: &mut Ctx) {
        if !self.closed {
            self.closed = true;
            let reason = DisconnectReason::ConnectionLost.code();
            ctx.emit(Event::Disconnected { reason, description: "connection lost".into(), by_peer: true });
        }
    }
}
