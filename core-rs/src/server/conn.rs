//! One client connection: the state machine that ties the transport, authentication and connection
//! layers together. It takes bytes and the time, and leaves output bytes and events behind.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::config::{Config, StrictKex};
use crate::connection::channel::Channel;
use crate::connection::{self as conn_proto, ChannelRequest};
use crate::crypto::rng::EntropyPool;
use crate::error::{Error, Result};
use crate::event::{Event, LOG_DEBUG, LOG_INFO, LOG_VERBOSE};
use crate::keys::HostKey;
use crate::msg::{self, DisconnectReason};
use crate::server::CommandError;
use crate::transport::ident;
use crate::transport::packet::{Opener, RxBuf, Sealer};
use crate::wire::{Reader, Writer};

mod key_exchange;
mod userauth;

pub use key_exchange::KEX_TIMEOUT_MS;
use key_exchange::{ClientKexLimit, KexState};
use userauth::{Login, PendingAuth};

/// Input a connection may hold unprocessed, whatever its channel windows: a host stops reading while a
/// decision is pending (ts/server.ts), so a well-behaved client never has more than a socket read and a
/// partial packet waiting. Four largest packets leave room for transports that read in big pieces.
const MAX_BUFFERED_INPUT: usize = 1024 * 1024;
/// The same before authentication: one largest packet and change, so that unauthenticated clients cost little.
const MAX_BUFFERED_INPUT_UNAUTHENTICATED: usize = 320 * 1024;
/// One call stops processing buffered input once the connection has this much output waiting plus channel
/// data queued in events, so that no call makes the instance hold more than that at once (the host
/// continues with `input` and no bytes; see [`Conn::input_pending`]). `send_data` takes at most this much.
pub const CALL_OUTPUT_BUDGET: usize = 256 * 1024;
/// Channels whose peer takes smaller packets are refused: tiny packets would multiply the cost of every byte sent.
const MIN_PEER_MAX_PACKET: u32 = 256;
/// Replies held back while a key exchange is in progress, counted with `HELD_ENTRY_COST` each for the
/// bookkeeping of an entry, and at most `MAX_HELD_ENTRIES` of them.
const MAX_HELD_BYTES: usize = 256 * 1024;
const HELD_ENTRY_COST: usize = 64;
const MAX_HELD_ENTRIES: usize = 1024;
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
    /// Connection-layer messages held back while a key exchange is in progress, and what they cost.
    held: Vec<Vec<u8>>,
    held_cost: usize,
    session_id: Option<Vec<u8>>,
    strict_kex: bool,
    ext_info: bool,
    kexes_done: u32,
    client_kex_limit: ClientKexLimit,
    /// Bytes on the wire both ways since the last exchange.
    bytes_since_kex: u64,
    /// What the channel data received since the last exchange inflated to beyond its bytes on the wire. It
    /// earns the client's rekey allowance as if it had come uncompressed (OpenSSH -C with a small
    /// `RekeyLimit` rekeys after every 32 KiB of data, however well it compresses): the windows bound it,
    /// unlike other compressed messages, which earn only by their wire size.
    data_inflation_since_kex: u64,
    packets_since_kex: u32,
    pending: Option<Pending>,
    service_accepted: bool,
    /// The authenticated user, once authentication succeeded.
    user: Option<String>,
    login: Login,
    channels: BTreeMap<u32, Channel>,
    /// Where the search for the next channel id starts: ids go round rather than reuse the lowest free one.
    next_channel_id: u32,
    no_more_sessions: bool,
    /// Processing stopped at `CALL_OUTPUT_BUDGET` with input left in the buffer.
    input_pending: bool,
    /// Channel data queued in events by the processing in progress.
    data_queued: usize,
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
            held_cost: 0,
            session_id: None,
            strict_kex: false,
            ext_info: false,
            kexes_done: 0,
            client_kex_limit: ClientKexLimit::default(),
            bytes_since_kex: 0,
            data_inflation_since_kex: 0,
            packets_since_kex: 0,
            pending: None,
            service_accepted: false,
            user: None,
            login: Login::new(ctx.config),
            channels: BTreeMap::new(),
            next_channel_id: 0,
            no_more_sessions: false,
            input_pending: false,
            data_queued: 0,
            last_rx: now,
            last_activity: now,
            keepalives_unanswered: 0,
            keepalive_sent_at: None,
            closed: false,
        };
        c.out.extend_from_slice(ctx.config.server_version.as_bytes());
        c.out.extend_from_slice(b"\r\n");
        c.start_kex(ctx);
        c.stamp_kex_start();
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

    /// Bytes read from the transport at time `now`; `bytes` may be empty to continue processing that
    /// stopped at the output budget (see [`Conn::input_pending`]).
    pub fn input(&mut self, bytes: &[u8], now: u64, ctx: &mut Ctx) {
        if self.closed {
            return;
        }
        self.now = self.now.max(now);
        self.rx.extend(bytes);
        match self.process(ctx) {
            Err(e) => self.fail(ctx, e),
            // What the budget left is the host's to continue; anything else waits for the client or a decision.
            Ok(()) if !self.input_pending && self.rx.len() > self.input_allowance() => {
                self.fail(ctx, Error::protocol("client sent too much without waiting for replies"));
            }
            Ok(()) => {}
        }
        self.stamp_kex_start();
    }

    /// Whether processing stopped at the output budget with input left: the host calls `input` with no
    /// bytes once it has written the output and its transport takes more.
    pub fn input_pending(&self) -> bool {
        self.input_pending && self.pending.is_none() && !self.closed
    }

    /// Whether an event waits for the host's answer.
    pub fn decision_pending(&self) -> bool {
        self.pending.is_some() && !self.closed
    }

    /// How much unprocessed input a client may have sent ahead. Fixed, not grown by the channel windows:
    /// while a decision is pending the host stops reading, and the rest waits in the client's socket.
    fn input_allowance(&self) -> usize {
        if self.user.is_none() {
            MAX_BUFFERED_INPUT_UNAUTHENTICATED
        } else {
            MAX_BUFFERED_INPUT
        }
    }

    /// Handles every complete packet in the buffer until one needs the host's answer or the output budget
    /// is reached.
    fn process(&mut self, ctx: &mut Ctx) -> Result<()> {
        self.input_pending = false;
        self.data_queued = 0;
        if self.client_version.is_none() {
            if ident::is_not_ssh(self.rx.bytes()) {
                self.not_ssh(ctx);
                return Ok(());
            }
            let Some((version, used)) = ident::parse_client_version(self.rx.bytes())? else {
                return Ok(());
            };
            self.rx.consume(used);
            self.log(ctx, LOG_INFO, alloc::format!("client version: {version}"));
            self.emit(ctx, Event::ClientVersion { version: version.clone() });
            self.client_version = Some(version);
        }
        while self.pending.is_none() && !self.closed {
            if self.out.len() + self.data_queued >= CALL_OUTPUT_BUDGET {
                self.input_pending = !self.rx.is_empty();
                break;
            }
            let buffered = self.rx.len();
            let Some(payload) = self.opener.open(&mut self.rx)? else {
                break;
            };
            // Authentication requests carry passwords and answers: no copy outlives the packet.
            let payload = Zeroizing::new(payload);
            self.last_rx = self.now;
            self.keepalives_unanswered = 0;
            self.packets_since_kex = self.packets_since_kex.saturating_add(1);
            let wire = buffered - self.rx.len();
            self.bytes_since_kex = self.bytes_since_kex.saturating_add(wire as u64);
            if matches!(payload.first(), Some(&(msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA))) {
                self.data_inflation_since_kex += payload.len().saturating_sub(wire) as u64;
            }
            self.dump(ctx, "in", &payload);
            self.dispatch(&payload, ctx)?;
            self.maybe_rekey(ctx);
        }
        Ok(())
    }

    /// RFC 4253 §4.2 lets only the server send lines before its version: a client whose first line is
    /// something else (an HTTP request, a port scanner) is told so in the clear and closed, as OpenSSH does.
    fn not_ssh(&mut self, ctx: &mut Ctx) {
        self.out.extend_from_slice(ident::NOT_SSH_REPLY);
        self.closed = true;
        self.log(ctx, LOG_INFO, "disconnecting: invalid SSH identification string");
        let reason = DisconnectReason::ProtocolError.code();
        self.emit(ctx, Event::Disconnected { reason, description: "invalid SSH identification string".into(), by_peer: false });
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

    // ---- decisions -----------------------------------------------------------------------------------

    /// A reply that arrives after the connection ended has nothing left to answer: it is taken and dropped.
    fn reply_is_moot(&mut self) -> bool {
        if self.closed {
            self.pending = None;
        }
        self.closed
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
                self.data_queued += data.len();
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
        let local_id = self.new_channel_id();
        let channel = Channel::new(open.sender, open.window, open.max_packet, ctx.config.channel_window, ctx.config.channel_max_packet);
        self.channels.insert(local_id, channel);
        self.pending = Some(Pending::ChannelOpen { peer_id: open.sender, local_id });
        self.emit(ctx, Event::ChannelOpenRequest { channel: local_id, kind: open.kind.into(), data: open.data.to_vec() });
        Ok(())
    }

    /// The next id in a rotating counter, skipping ids still in use: a host's stale handle for a closed
    /// channel must not reach the channel opened after it. At most `MaxChannels` ids are in use.
    fn new_channel_id(&mut self) -> u32 {
        let mut id = self.next_channel_id;
        while self.channels.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_channel_id = id.wrapping_add(1);
        id
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

    /// Sends as much of `data` as the peer's window allows, at most `CALL_OUTPUT_BUDGET` bytes, at time
    /// `now`; returns how much was taken. Data sent counts as activity for the idle timeout.
    pub fn send_data(&mut self, local_id: u32, stream: u32, data: &[u8], now: u64, ctx: &mut Ctx) -> Result<usize, CommandError> {
        self.now = self.now.max(now);
        let data = data.get(..CALL_OUTPUT_BUDGET).unwrap_or(data);
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
        self.stamp_kex_start();
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
        self.log(ctx, LOG_DEBUG, line);
    }

    // ---- output, timers and the end ----------------------------------------------------------------

    /// Seals a payload now, whatever the key exchange state (for transport messages).
    fn seal_now(&mut self, payload: &[u8], ctx: &mut Ctx) {
        self.dump(ctx, "out", payload);
        let sealed = match self.sealer.seal(payload, ctx.rng, &mut self.out) {
            Ok(sealed) => sealed,
            Err(e) => {
                // Nothing more can be sealed on this stream, not even a DISCONNECT.
                self.closed = true;
                self.emit(ctx, Event::Disconnected { reason: e.reason.code(), description: e.description.into_owned(), by_peer: false });
                return;
            }
        };
        self.bytes_since_kex = self.bytes_since_kex.saturating_add(sealed as u64);
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
            let cost = payload.len() + HELD_ENTRY_COST;
            if self.held.len() >= MAX_HELD_ENTRIES || self.held_cost + cost > MAX_HELD_BYTES {
                return self.fail(ctx, Error::protocol("key exchange not completed while replies piled up"));
            }
            self.held_cost += cost;
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
        let mut deadlines = [None; 4];
        deadlines[3] = self.kex_deadline();
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
        self.now = self.now.max(now);
        let config = ctx.config;
        if self.user.is_none() && config.login_grace_ms > 0 && now >= self.started.saturating_add(config.login_grace_ms) {
            return self.fail(ctx, Error::new(DisconnectReason::ByApplication, "login grace time exceeded"));
        }
        if self.kex_timed_out() {
            return self.fail(ctx, Error::new(DisconnectReason::ByApplication, "key exchange not completed in time"));
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
                self.stamp_kex_start(); // the keepalive may have started one
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
