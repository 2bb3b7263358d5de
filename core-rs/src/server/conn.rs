//! One client connection: a transport session with the server's user authentication and connection
//! layers over it, and the connection's timers. It takes bytes and the time, and leaves output bytes and
//! events behind. While the host decides the service or an authentication step, input waits; channel
//! decisions wait per channel, and input waits for them only once a client has piled up as many as the
//! connection layer's bounds allow.

use alloc::vec::Vec;

use super::connection::{Connection, Traffic};
use super::userauth::UserAuth;
use crate::config::Config;
use crate::connection as conn_proto;
use crate::error::{Error, Result};
use crate::event::{AuthReply, Event, LOG_INFO};
use crate::msg::{self, DisconnectReason};
use crate::server::CommandError;
use crate::transport::session::{Ctx, Incoming, Session};
use crate::transport::Role;
use crate::wipe::SecretBytes;

/// Input a connection may hold unprocessed, whatever its channel windows: a host stops reading while input
/// waits for a decision (ts/core/binding.ts), so a well-behaved client never has more than a socket read and a
/// partial packet waiting. Four largest packets leave room for transports that read in big pieces.
const MAX_BUFFERED_INPUT: usize = 1024 * 1024;
/// The same before authentication: one largest packet and change, so that unauthenticated clients cost little.
const MAX_BUFFERED_INPUT_UNAUTHENTICATED: usize = 320 * 1024;
/// One call stops processing buffered input once the connection has this much output waiting plus channel
/// data queued in events, so that no call makes the instance hold more than that at once (the host
/// continues with `input` and no bytes; see [`Conn::input_pending`]). `send_data` takes at most this much.
pub const CALL_OUTPUT_BUDGET: usize = 256 * 1024;

/// What the connection's deadlines count from (ms).
struct Timers {
    started: u64,
    last_rx: u64,
    /// Channel traffic either way, for the idle timeout.
    last_activity: u64,
    keepalives_unanswered: u32,
    keepalive_sent_at: Option<u64>,
}

pub struct Conn {
    session: Session,
    auth: UserAuth,
    connection: Connection,
    timers: Timers,
    /// Processing stopped at `CALL_OUTPUT_BUDGET` with input left in the buffer.
    input_pending: bool,
    /// Channel data queued in events by the processing in progress.
    data_queued: usize,
    /// A message naming a channel whose open the host has not answered, held until it has.
    held: Option<SecretBytes>,
}

impl Conn {
    /// A new connection; queues our identification string and KEXINIT.
    pub fn new(now: u64, ctx: &mut Ctx) -> Self {
        Conn {
            session: Session::new(Role::Server, &ctx.config.server_version, now, ctx),
            auth: UserAuth::new(ctx.config),
            connection: Connection::new(),
            timers: Timers { started: now, last_rx: now, last_activity: now, keepalives_unanswered: 0, keepalive_sent_at: None },
            input_pending: false,
            data_queued: 0,
            held: None,
        }
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        self.session.take_output()
    }

    pub fn output(&self) -> &[u8] {
        self.session.output()
    }

    pub fn output_written(&mut self) {
        self.session.output_written();
    }

    pub fn strict_kex(&self) -> bool {
        self.session.strict_kex()
    }

    // ---- input -------------------------------------------------------------------------------------

    /// Bytes read from the transport at time `now`; `bytes` may be empty to continue processing that
    /// stopped at the output budget (see [`Conn::input_pending`]).
    pub fn input(&mut self, bytes: &[u8], now: u64, ctx: &mut Ctx) {
        if self.session.is_closed() {
            return;
        }
        self.session.advance(now);
        self.session.receive(bytes);
        match self.process(ctx) {
            Err(e) => self.session.fail(ctx, e),
            // What the budget left is the host's to continue; anything else waits for the client or a decision.
            Ok(()) if !self.input_pending && self.session.buffered_input() > self.input_allowance() => {
                self.session.fail(ctx, Error::protocol("client sent too much without waiting for replies"));
            }
            Ok(()) => {}
        }
        self.session.stamp_kex_start();
    }

    /// Whether processing stopped at the output budget with input left: the host calls `input` with no
    /// bytes once it has written the output and its transport takes more.
    pub fn input_pending(&self) -> bool {
        self.input_pending && !self.waiting_for_host() && !self.session.is_closed()
    }

    /// Whether input waits for the host's answer: to the service request or an authentication step, to
    /// one of the channel decisions a client has piled up to the bound, or to the open of a channel the
    /// client named before it was told the channel's id (a replayed or hostile stream).
    pub fn decision_pending(&self) -> bool {
        self.waiting_for_host() && !self.session.is_closed()
    }

    fn waiting_for_host(&self) -> bool {
        self.auth.decision_pending()
            || self.connection.at_bound()
            || self.held.as_ref().is_some_and(|m| self.connection.names_opening_channel(m))
    }

    /// How much unprocessed input a client may have sent ahead. Fixed, not grown by the channel windows:
    /// while input waits for a decision the host stops reading, and the rest waits in the client's socket.
    fn input_allowance(&self) -> usize {
        if self.auth.is_authenticated() {
            MAX_BUFFERED_INPUT
        } else {
            MAX_BUFFERED_INPUT_UNAUTHENTICATED
        }
    }

    /// Handles what the session takes off the input until a decision is pending or the output budget is
    /// reached.
    fn process(&mut self, ctx: &mut Ctx) -> Result<()> {
        self.input_pending = false;
        self.data_queued = 0;
        while !self.waiting_for_host() && !self.session.is_closed() {
            if self.session.output_len() + self.data_queued >= CALL_OUTPUT_BUDGET {
                self.input_pending = self.session.buffered_input() > 0 || self.held.is_some();
                break;
            }
            let incoming = match self.held.take() {
                Some(message) => Incoming::Message(message),
                None => match self.session.poll(ctx)? {
                    Some(incoming) => incoming,
                    None => break,
                },
            };
            match incoming {
                Incoming::Version(version) => {
                    ctx.log(LOG_INFO, alloc::format!("client version: {version}"));
                    ctx.emit(Event::ClientVersion { version });
                    continue;
                }
                Incoming::Transport => {}
                Incoming::KeysExchanged => self.connection.resume_senders(ctx),
                // Channel messages keep their order behind the channel's open.
                Incoming::Message(payload) if self.connection.names_opening_channel(&payload) => self.held = Some(payload),
                Incoming::Message(payload) => self.dispatch(&payload, ctx)?,
                Incoming::Data => self.on_data(ctx)?,
            }
            self.timers.last_rx = self.session.now();
            self.timers.keepalives_unanswered = 0;
            self.session.maybe_rekey(ctx);
        }
        Ok(())
    }

    /// A channel data message, read where the session decrypted it: the host's copy is the only one made.
    fn on_data(&mut self, ctx: &mut Ctx) -> Result<()> {
        let payload = self.session.lent();
        if !self.auth.is_authenticated() {
            let msg_type = payload.first().copied().unwrap_or_default();
            return Err(Error::protocol(alloc::format!("connection protocol message {msg_type} before authentication")));
        }
        if self.connection.names_opening_channel(payload) {
            self.held = Some(SecretBytes::new(payload.to_vec()));
            return Ok(());
        }
        let traffic = self.connection.on_data(payload, ctx)?;
        self.count(traffic);
        Ok(())
    }

    /// Channel traffic counts as activity, and what it queued against the output budget.
    fn count(&mut self, traffic: Traffic) {
        match traffic {
            Traffic::Data(len) => {
                self.timers.last_activity = self.session.now();
                self.data_queued += len;
            }
            Traffic::GlobalReply => self.timers.keepalive_sent_at = None,
            Traffic::Other => {}
        }
    }

    /// A message for the layers above the transport.
    fn dispatch(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let msg_type = payload.first().copied().unwrap_or_default();
        match msg_type {
            msg::SERVICE_REQUEST | msg::USERAUTH_REQUEST | msg::USERAUTH_INFO_RESPONSE => {
                self.auth.on_message(payload, &mut self.session, ctx)?;
            }
            51..=79 => return Err(Error::protocol(alloc::format!("unexpected authentication message {msg_type}"))),
            80..=127 => {
                if !self.auth.is_authenticated() {
                    return Err(Error::protocol(alloc::format!("connection protocol message {msg_type} before authentication")));
                }
                let traffic = self.connection.on_message(payload, &mut self.session, ctx)?;
                self.count(traffic);
            }
            _ => self.session.reply_unimplemented(ctx),
        }
        Ok(())
    }

    // ---- decisions -----------------------------------------------------------------------------------

    /// A reply that arrives after the connection ended has nothing left to answer: it is taken and dropped.
    fn reply_is_moot(&mut self) -> bool {
        let closed = self.session.is_closed();
        if closed {
            self.auth.forget_decision();
            self.connection.forget_decisions();
        }
        closed
    }

    /// Processes input that waited for a decision, or that the output budget left.
    fn resume(&mut self, ctx: &mut Ctx) {
        if let Err(e) = self.process(ctx) {
            self.session.fail(ctx, e);
        }
    }

    pub fn reply_service(&mut self, accept: bool, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        self.auth.reply_service(accept, &mut self.session, ctx)?;
        self.resume(ctx);
        Ok(())
    }

    pub fn reply_auth(&mut self, reply: AuthReply, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        let was_authenticated = self.auth.is_authenticated();
        self.auth.reply_auth(reply, &mut self.session, ctx)?;
        if self.auth.is_authenticated() && !was_authenticated {
            self.timers.last_activity = self.session.now();
            Connection::announce_host_keys(&mut self.session, ctx);
        }
        self.resume(ctx);
        Ok(())
    }

    pub fn reply_channel_open(
        &mut self,
        local_id: u32,
        accept: bool,
        reason: u32,
        description: &str,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        self.connection.reply_channel_open(local_id, accept, reason, description, &mut self.session, ctx)?;
        self.resume(ctx);
        Ok(())
    }

    pub fn reply_channel_request(&mut self, local_id: u32, accept: bool, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        self.connection.reply_channel_request(local_id, accept, &mut self.session, ctx)?;
        self.resume(ctx);
        Ok(())
    }

    pub fn reply_global_request(&mut self, accept: bool, data: &[u8], ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.reply_is_moot() {
            return Ok(());
        }
        self.connection.reply_global_request(accept, data, &mut self.session, ctx)?;
        self.resume(ctx);
        Ok(())
    }

    // ---- host commands -------------------------------------------------------------------------------

    /// A banner for this client alone (the reference's `UserAuthBanner[id]`): before authentication only,
    /// as RFC 4252 §5.4 allows it; the host sends it while it decides a step, so that it precedes the reply.
    pub fn send_banner(&mut self, text: &str, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        if self.auth.is_authenticated() {
            return Err(CommandError::WrongState("a banner goes before authentication succeeds"));
        }
        self.session.send(&crate::auth::encode_banner(text), ctx);
        Ok(())
    }

    pub fn send_raw(&mut self, channel: Option<u32>, msg_type: u8, body: &[u8], ctx: &mut Ctx) -> Result<(), CommandError> {
        if !self.auth.is_authenticated() {
            return Err(CommandError::WrongState("not authenticated"));
        }
        self.connection.send_raw(channel, msg_type, body, &mut self.session, ctx)
    }

    pub fn open_channel(&mut self, kind: &str, data: &[u8], ctx: &mut Ctx) -> Result<u32, CommandError> {
        if !self.auth.is_authenticated() {
            return Err(CommandError::WrongState("not authenticated"));
        }
        self.connection.open_to_client(kind, data, &mut self.session, ctx)
    }

    /// Sends as much of `data` as the peer's window allows, at most `CALL_OUTPUT_BUDGET` bytes, at time
    /// `now`; returns how much was taken. Data sent counts as activity for the idle timeout.
    pub fn send_data(&mut self, local_id: u32, stream: u32, data: &[u8], now: u64, ctx: &mut Ctx) -> Result<usize, CommandError> {
        self.session.advance(now);
        let data = data.get(..CALL_OUTPUT_BUDGET).unwrap_or(data);
        let in_kex = self.session.in_kex();
        let taken = self.connection.send_data(local_id, stream, data, &mut self.session, ctx)?;
        if !in_kex {
            self.session.stamp_kex_start();
        }
        if taken > 0 {
            self.timers.last_activity = self.session.now();
        }
        Ok(taken)
    }

    pub fn send_window(&self, local_id: u32) -> Option<u32> {
        self.connection.send_window(local_id)
    }

    pub fn consume(&mut self, local_id: u32, n: u32, ctx: &mut Ctx) {
        self.connection.consume(local_id, n, &mut self.session, ctx);
    }

    pub fn send_eof(&mut self, local_id: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        self.connection.send_eof(local_id, &mut self.session, ctx)
    }

    pub fn send_exit_status(&mut self, local_id: u32, status: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        self.connection.send_exit_status(local_id, status, &mut self.session, ctx)
    }

    pub fn send_exit_signal(
        &mut self,
        local_id: u32,
        signal: &str,
        core_dumped: bool,
        message: &str,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        self.connection.send_exit_signal(local_id, signal, core_dumped, message, &mut self.session, ctx)
    }

    pub fn close_channel(&mut self, local_id: u32, ctx: &mut Ctx) -> Result<(), CommandError> {
        self.connection.close_channel(local_id, &mut self.session, ctx)
    }

    /// Starts a key exchange at the host's request (the reference's `ExchangeKeys`).
    pub fn rekey(&mut self, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.session.rekey(ctx) {
            Ok(())
        } else {
            Err(CommandError::WrongState("a key exchange is already in progress"))
        }
    }

    /// Ends the connection with a DISCONNECT carrying the error's reason. Idempotent.
    pub fn fail(&mut self, ctx: &mut Ctx, error: Error) {
        self.session.fail(ctx, error);
    }

    /// The transport closed under us.
    pub fn lost(&mut self, ctx: &mut Ctx) {
        self.session.lost(ctx);
    }

    // ---- timers --------------------------------------------------------------------------------------

    /// The earliest time at which [`Conn::handle_timeout`] has work to do.
    pub fn next_deadline(&self, config: &Config) -> Option<u64> {
        if self.session.is_closed() {
            return None;
        }
        let t = &self.timers;
        let authenticated = self.auth.is_authenticated();
        let mut deadlines = [None; 5];
        deadlines[3] = self.session.kex_deadline();
        deadlines[4] = self.session.rekey_due(config);
        if !authenticated && config.login_grace_ms > 0 {
            deadlines[0] = Some(t.started.saturating_add(config.login_grace_ms));
        }
        if authenticated && config.idle_timeout_ms > 0 {
            deadlines[1] = Some(t.last_activity.saturating_add(config.idle_timeout_ms));
        }
        if authenticated && config.keepalive_interval_ms > 0 {
            let since = t.keepalive_sent_at.unwrap_or(t.last_rx).max(t.last_rx);
            deadlines[2] = Some(since.saturating_add(config.keepalive_interval_ms));
        }
        deadlines.into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: u64, ctx: &mut Ctx) {
        if self.session.is_closed() {
            return;
        }
        self.session.advance(now);
        let config = ctx.config;
        let authenticated = self.auth.is_authenticated();
        let t = &mut self.timers;
        if !authenticated && config.login_grace_ms > 0 && now >= t.started.saturating_add(config.login_grace_ms) {
            return self.session.fail(ctx, Error::new(DisconnectReason::ByApplication, "login grace time exceeded"));
        }
        if self.session.kex_timed_out() {
            return self.session.fail(ctx, Error::new(DisconnectReason::ByApplication, "key exchange not completed in time"));
        }
        if authenticated && config.idle_timeout_ms > 0 && now >= t.last_activity.saturating_add(config.idle_timeout_ms) {
            return self.session.fail(ctx, Error::new(DisconnectReason::ByApplication, "idle timeout"));
        }
        if authenticated && config.keepalive_interval_ms > 0 {
            let since = t.keepalive_sent_at.unwrap_or(t.last_rx).max(t.last_rx);
            if now >= since.saturating_add(config.keepalive_interval_ms) {
                if t.keepalives_unanswered >= config.keepalive_count_max {
                    return self
                        .session
                        .fail(ctx, Error::new(DisconnectReason::ConnectionLost, "keepalive timeout: client not responding"));
                }
                t.keepalives_unanswered += 1;
                t.keepalive_sent_at = Some(now);
                self.session.send(&conn_proto::encode_global_request("keepalive@openssh.com", true), ctx);
                self.session.stamp_kex_start(); // the keepalive may have started one
            }
        }
        // KeyRenegotiationInterval.
        self.session.maybe_rekey(ctx);
        self.session.stamp_kex_start();
    }
}
