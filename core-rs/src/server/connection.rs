//! The server's connection layer (RFC 4254) over a transport session: channels opened by the client,
//! channel and global requests, data and flow-control windows both ways. The host decides each channel
//! open and channel request; the decisions it owes are kept per channel, so one it takes its time over
//! holds up neither the other channels nor the transport. Only a client that piles up more of them than
//! the bounds below makes the connection wait for the host.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::host_key_rotation;
use super::MAX_QUOTED_CHARS;
use crate::connection::channel::{Channel, MIN_PEER_MAX_PACKET};
use crate::connection::{self as conn_proto, ChannelRequest};
use crate::error::{Error, Result};
use crate::event::{quote, Event, LOG_VERBOSE};
use crate::msg;
use crate::server::CommandError;
use crate::transport::session::{Ctx, Session};
use crate::wire::Reader;

/// Channel opens the host may leave unanswered at once. At this many the connection takes no more input
/// until the host answers one, so a client cannot make the host hold opens without bound.
pub const MAX_PENDING_OPENS: usize = 4;
/// Replies one channel may owe at once: requests the host has not answered, and refusals of the core's own
/// that wait behind them (RFC 4254 §5.4: replies go in the order of the requests). At this many the
/// connection takes no more input until the host answers one.
pub const MAX_PENDING_REQUESTS: usize = 8;
/// Global replies a connection may owe at once (requests the host has not answered, and the core's own
/// answers that wait behind them, RFC 4254 §4); at this many the connection takes no more input until the
/// host answers one.
pub const MAX_PENDING_GLOBAL: usize = 8;

/// Where a channel the client opened stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The host has not answered the open: the client has not been told the channel's id yet.
    Opening,
    Open,
    /// The client sent CLOSE while replies were owed: they go out as the host gives them, and our CLOSE after
    /// the last (RFC 4254 §5.3 asks for our CLOSE, but not at once), so that the client gets every reply it
    /// asked for.
    Closing,
    /// Closed both ways (we had sent CLOSE first) while replies were owed: the host's are taken and dropped.
    /// It stays until the last, so that its id is not handed out again meanwhile.
    Closed,
    /// Opened by the server: the client has not answered yet.
    Requested,
}

/// A reply owed on a channel.
#[derive(Clone, Copy)]
enum Owed {
    /// The host decides; `want_reply`: the client asked for an answer.
    Host { want_reply: bool },
    /// A refusal the core decided itself, waiting for the replies owed before it.
    Failure,
}

/// A reply owed to a global request.
enum OwedGlobal {
    /// The host decides; `want_reply`: the client asked for an answer.
    Host { want_reply: bool },
    /// The core's own answer, waiting for the replies owed before it.
    Ready(Vec<u8>),
}

/// A channel and the replies owed on it, oldest first.
struct Slot {
    channel: Channel,
    stage: Stage,
    owed: VecDeque<Owed>,
}

/// What a message of this layer means for the connection's timers and output budget.
pub(super) enum Traffic {
    /// Channel data of this many bytes, now queued in an event for the host.
    Data(usize),
    /// A reply to a global request of ours (a keepalive).
    GlobalReply,
    Other,
}

pub(super) struct Connection {
    channels: BTreeMap<u32, Slot>,
    /// Where the search for the next channel id starts: ids go round rather than reuse the lowest free one.
    next_channel_id: u32,
    no_more_sessions: bool,
    /// Channels in `Stage::Opening`.
    opening: usize,
    /// Channels owing `MAX_PENDING_REQUESTS` replies.
    full: usize,
    /// Replies owed to global requests, oldest first.
    owed_global: VecDeque<OwedGlobal>,
}

impl Connection {
    pub(super) fn new() -> Self {
        Connection {
            channels: BTreeMap::new(),
            next_channel_id: 0,
            no_more_sessions: false,
            opening: 0,
            full: 0,
            owed_global: VecDeque::new(),
        }
    }

    /// Whether the client has piled up as many decisions as the host may owe: input waits for an answer.
    pub(super) fn at_bound(&self) -> bool {
        self.opening >= MAX_PENDING_OPENS || self.full > 0 || self.owed_global.len() >= MAX_PENDING_GLOBAL
    }

    /// Drops every decision the host owes, with the channels: the connection ended.
    pub(super) fn forget_decisions(&mut self) {
        self.channels.clear();
        self.opening = 0;
        self.full = 0;
        self.owed_global.clear();
    }

    /// Whether `payload` is a channel message naming a channel whose open the host has not answered. A client
    /// learns the id from our confirmation (RFC 4254 §5.1), so only a replayed or hostile stream does this; the
    /// message waits for the answer, as the client would have.
    pub(super) fn names_opening_channel(&self, payload: &[u8]) -> bool {
        let mut r = Reader::new(payload);
        let (Ok(msg_type), Ok(local_id)) = (r.u8(), r.u32()) else {
            return false;
        };
        (msg::CHANNEL_WINDOW_ADJUST..=msg::CHANNEL_FAILURE).contains(&msg_type)
            && self.channels.get(&local_id).is_some_and(|slot| slot.stage == Stage::Opening)
    }

    /// The channel a client message names: one that is open and that the client has not closed.
    fn peer_channel(channels: &mut BTreeMap<u32, Slot>, local_id: u32) -> Result<&mut Slot> {
        match channels.get_mut(&local_id) {
            Some(slot) if slot.stage == Stage::Open => Ok(slot),
            _ => Err(Error::protocol(alloc::format!("no such channel {local_id}"))),
        }
    }

    /// Records a reply owed on a channel. A refusal of the core's own goes out at once unless replies to
    /// earlier requests are still owed.
    fn owe(&mut self, local_id: u32, owed: Owed, session: &mut Session, ctx: &mut Ctx) {
        let Some(slot) = self.channels.get_mut(&local_id) else {
            return;
        };
        if matches!(owed, Owed::Failure) && slot.owed.is_empty() {
            session.send(&conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, slot.channel.peer_id), ctx);
            return;
        }
        slot.owed.push_back(owed);
        if slot.owed.len() == MAX_PENDING_REQUESTS {
            self.full += 1;
        }
    }

    /// CHANNEL_DATA or CHANNEL_EXTENDED_DATA, from an authenticated client.
    pub(super) fn on_data(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<Traffic> {
        let mut r = Reader::new(payload);
        let msg_type = r.u8()?;
        let local_id = r.u32()?;
        let stream = if msg_type == msg::CHANNEL_EXTENDED_DATA { r.u32()? } else { 0 };
        let data = r.string()?;
        r.finish()?;
        Self::peer_channel(&mut self.channels, local_id)?.channel.receive(data.len())?;
        ctx.emit(Event::ChannelData { channel: local_id, stream, data: data.to_vec() });
        Ok(Traffic::Data(data.len()))
    }

    /// A message numbered 80 to 127, from an authenticated client.
    pub(super) fn on_message(&mut self, payload: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<Traffic> {
        let mut r = Reader::new(payload);
        let msg_type = r.u8()?;
        match msg_type {
            msg::GLOBAL_REQUEST => {
                let name = r.utf8()?;
                let want_reply = r.bool()?;
                let data = r.rest();
                ctx.log(LOG_VERBOSE, alloc::format!("global request {}", quote(name, MAX_QUOTED_CHARS)));
                match name {
                    "no-more-sessions@openssh.com" | "keepalive@openssh.com" => {
                        self.no_more_sessions |= name == "no-more-sessions@openssh.com";
                        if want_reply {
                            self.owe_global(OwedGlobal::Ready(alloc::vec![msg::REQUEST_FAILURE]), session, ctx);
                        }
                    }
                    host_key_rotation::PROVE if want_reply => {
                        let reply = Self::prove_host_keys(data, session, ctx).unwrap_or_else(|| alloc::vec![msg::REQUEST_FAILURE]);
                        self.owe_global(OwedGlobal::Ready(reply), session, ctx);
                    }
                    _ => {
                        self.owe_global(OwedGlobal::Host { want_reply }, session, ctx);
                        ctx.emit(Event::GlobalRequest { name: name.into(), data: data.to_vec(), want_reply });
                    }
                }
            }
            // Answers to our keepalives; any packet already counted as a sign of life.
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => return Ok(Traffic::GlobalReply),
            msg::CHANNEL_OPEN => self.on_channel_open(payload, session, ctx)?,
            msg::CHANNEL_REQUEST => {
                let (local_id, request, want_reply) = conn_proto::decode_channel_request(payload)?;
                let slot = Self::peer_channel(&mut self.channels, local_id)?;
                // Refused by the core: requests on a channel we are closing, and OpenSSH's keepalives and
                // end-of-write notices, which no host needs to see.
                let refused = slot.channel.close_sent
                    || matches!(&request, ChannelRequest::Other { name, .. } if name == "keepalive@openssh.com" || name == "eow@openssh.com");
                if refused {
                    if want_reply {
                        self.owe(local_id, Owed::Failure, session, ctx);
                    }
                    return Ok(Traffic::Other);
                }
                self.owe(local_id, Owed::Host { want_reply }, session, ctx);
                ctx.emit(Event::ChannelRequest { channel: local_id, request, want_reply });
            }
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => return self.on_data(payload, ctx),
            msg::CHANNEL_WINDOW_ADJUST => {
                let local_id = r.u32()?;
                let add = r.u32()?;
                if Self::peer_channel(&mut self.channels, local_id)?.channel.window_adjust(add)? {
                    ctx.emit(Event::ChannelReadyToSend { channel: local_id });
                }
            }
            msg::CHANNEL_EOF => {
                let local_id = r.u32()?;
                let channel = &mut Self::peer_channel(&mut self.channels, local_id)?.channel;
                if !channel.eof_received {
                    channel.eof_received = true;
                    ctx.emit(Event::ChannelEof { channel: local_id });
                }
            }
            msg::CHANNEL_CLOSE => {
                let local_id = r.u32()?;
                let slot = Self::peer_channel(&mut self.channels, local_id)?;
                if slot.owed.is_empty() {
                    if !slot.channel.close_sent {
                        session.send(&conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, slot.channel.peer_id), ctx);
                    }
                    self.channels.remove(&local_id);
                } else {
                    slot.stage = if slot.channel.close_sent { Stage::Closed } else { Stage::Closing };
                }
                ctx.emit(Event::ChannelClosed { channel: local_id });
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                Self::peer_channel(&mut self.channels, r.u32()?)?; // replies to requests we never send with want_reply
            }
            msg::CHANNEL_OPEN_CONFIRMATION => {
                let c = conn_proto::decode_open_confirmation(payload)?;
                if c.max_packet < MIN_PEER_MAX_PACKET {
                    return Err(Error::protocol("channel confirmed with a maximum packet size too small"));
                }
                let slot = self.requested_channel(c.recipient)?;
                slot.channel = Channel::new(c.sender, c.window, c.max_packet, ctx.config.channel_window, ctx.config.channel_max_packet);
                slot.stage = Stage::Open;
                ctx.emit(Event::ChannelOpenConfirmed { channel: c.recipient });
            }
            msg::CHANNEL_OPEN_FAILURE => {
                let (local_id, reason, description) = conn_proto::decode_open_failure(payload)?;
                self.requested_channel(local_id)?;
                self.channels.remove(&local_id);
                ctx.emit(Event::ChannelOpenFailed { channel: local_id, reason, description: quote(&description, MAX_QUOTED_CHARS) });
            }
            _ => session.reply_unimplemented(ctx),
        }
        Ok(Traffic::Other)
    }

    fn on_channel_open(&mut self, payload: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<()> {
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
            session.send(&conn_proto::encode_open_failure(open.sender, reason, text), ctx);
            return Ok(());
        }
        let local_id = self.new_channel_id();
        let channel = Channel::new(open.sender, open.window, open.max_packet, ctx.config.channel_window, ctx.config.channel_max_packet);
        self.channels.insert(local_id, Slot { channel, stage: Stage::Opening, owed: VecDeque::new() });
        self.opening += 1;
        ctx.emit(Event::ChannelOpenRequest { channel: local_id, kind: open.kind.into(), data: open.data.to_vec() });
        Ok(())
    }

    /// A channel the server opened and the client has not answered: what an open reply must name.
    fn requested_channel(&mut self, local_id: u32) -> Result<&mut Slot> {
        match self.channels.get_mut(&local_id) {
            Some(slot) if slot.stage == Stage::Requested => Ok(slot),
            _ => Err(Error::protocol(alloc::format!("channel open reply for channel {local_id}, which the server is not opening"))),
        }
    }

    /// Opens a channel of `kind` to the client, with its type-specific `data`; returns its id. The client's
    /// answer comes as `ChannelOpenConfirmed` or `ChannelOpenFailed`.
    pub(super) fn open_to_client(&mut self, kind: &str, data: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<u32, CommandError> {
        if session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        if self.channels.len() >= ctx.config.max_channels as usize {
            return Err(CommandError::WrongState("MaxChannels channels are open"));
        }
        let local_id = self.new_channel_id();
        let (window, max_packet) = (ctx.config.channel_window, ctx.config.channel_max_packet);
        // Until the client answers, nothing may be sent on it: no window.
        self.channels
            .insert(local_id, Slot { channel: Channel::new(0, 0, 1, window, max_packet), stage: Stage::Requested, owed: VecDeque::new() });
        let mut open = conn_proto::encode_channel_open(kind, local_id, window, max_packet);
        open.extend_from_slice(data);
        session.send(&open, ctx);
        Ok(local_id)
    }

    /// Records a reply owed to a global request. The core's own answer goes out at once unless replies to
    /// earlier requests are still owed.
    fn owe_global(&mut self, owed: OwedGlobal, session: &mut Session, ctx: &mut Ctx) {
        match owed {
            OwedGlobal::Ready(reply) if self.owed_global.is_empty() => session.send(&reply, ctx),
            owed => self.owed_global.push_back(owed),
        }
    }

    /// Names every host key to a client that has just logged in (OpenSSH's host-key rotation).
    pub(super) fn announce_host_keys(session: &mut Session, ctx: &mut Ctx) {
        let keys = ctx.host_keys.iter().chain(ctx.next_host_keys);
        session.send(&host_key_rotation::announcement(keys), ctx);
    }

    /// The answer to `hostkeys-prove-00@openssh.com`, or None to refuse it.
    fn prove_host_keys(data: &[u8], session: &Session, ctx: &mut Ctx) -> Option<Vec<u8>> {
        let keys: Vec<_> = ctx.host_keys.iter().chain(ctx.next_host_keys).collect();
        let session_id = session.session_id()?;
        host_key_rotation::prove(data, &keys, session_id, session.host_key_alg(), ctx.rng)
    }

    /// Answers the oldest global request the host has not answered (`data` follows REQUEST_SUCCESS: the
    /// bound port of a `tcpip-forward` for port 0), then the core's own refusals that waited behind it.
    pub(super) fn reply_global_request(
        &mut self,
        accept: bool,
        data: &[u8],
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let Some(&OwedGlobal::Host { want_reply }) = self.owed_global.front() else {
            return Err(CommandError::NothingPending);
        };
        self.owed_global.pop_front();
        if want_reply {
            if accept {
                let mut reply = alloc::vec![msg::REQUEST_SUCCESS];
                reply.extend_from_slice(data);
                session.send(&reply, ctx);
            } else {
                session.send(&[msg::REQUEST_FAILURE], ctx);
            }
        }
        while let Some(OwedGlobal::Ready(reply)) = self.owed_global.front() {
            session.send(reply, ctx);
            self.owed_global.pop_front();
        }
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

    /// Answers the open of channel `local_id`.
    pub(super) fn reply_channel_open(
        &mut self,
        local_id: u32,
        accept: bool,
        reason: u32,
        description: &str,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let slot = self.channels.get_mut(&local_id).ok_or(CommandError::NoSuchChannel)?;
        if slot.stage != Stage::Opening {
            return Err(CommandError::NothingPending);
        }
        self.opening = self.opening.saturating_sub(1);
        if accept {
            slot.stage = Stage::Open;
            session.send(&slot.channel.confirmation(local_id), ctx);
        } else {
            let peer_id = slot.channel.peer_id;
            self.channels.remove(&local_id);
            let reason = if reason == 0 { conn_proto::OPEN_ADMINISTRATIVELY_PROHIBITED } else { reason };
            session.send(&conn_proto::encode_open_failure(peer_id, reason, description), ctx);
        }
        Ok(())
    }

    /// Answers the oldest request on channel `local_id` the host has not answered, then sends the core's own
    /// refusals that waited behind it, and our CLOSE after the last reply the client closed the channel
    /// before. On a channel closed both ways the replies are dropped.
    pub(super) fn reply_channel_request(
        &mut self,
        local_id: u32,
        accept: bool,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let slot = self.channels.get_mut(&local_id).ok_or(CommandError::NoSuchChannel)?;
        let Some(&Owed::Host { want_reply }) = slot.owed.front() else {
            return Err(CommandError::NothingPending);
        };
        if slot.owed.len() == MAX_PENDING_REQUESTS {
            self.full = self.full.saturating_sub(1);
        }
        slot.owed.pop_front();
        let live = slot.stage != Stage::Closed;
        let peer = slot.channel.peer_id;
        if want_reply && live {
            session.send(&conn_proto::encode_channel_only(if accept { msg::CHANNEL_SUCCESS } else { msg::CHANNEL_FAILURE }, peer), ctx);
        }
        while let Some(Owed::Failure) = slot.owed.front() {
            slot.owed.pop_front();
            if live {
                session.send(&conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, peer), ctx);
            }
        }
        if slot.owed.is_empty() && slot.stage != Stage::Open {
            if slot.stage == Stage::Closing {
                session.send(&conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, peer), ctx);
            }
            self.channels.remove(&local_id);
        }
        Ok(())
    }

    /// A key exchange ended: senders it held back may go on.
    pub(super) fn resume_senders(&mut self, ctx: &mut Ctx) {
        for (&id, slot) in self.channels.iter_mut() {
            if slot.stage == Stage::Open && slot.channel.may_resume() {
                ctx.emit(Event::ChannelReadyToSend { channel: id });
            }
        }
    }

    fn open_channel(&mut self, local_id: u32, session: &Session) -> Result<&mut Channel, CommandError> {
        if session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        match self.channels.get_mut(&local_id) {
            Some(slot) if slot.stage == Stage::Open => Ok(&mut slot.channel),
            _ => Err(CommandError::NoSuchChannel),
        }
    }

    /// A channel the host may still send requests on: open, and not closed by us.
    fn sending_channel(&mut self, local_id: u32, session: &Session) -> Result<&mut Channel, CommandError> {
        let channel = self.open_channel(local_id, session)?;
        if channel.close_sent {
            return Err(CommandError::WrongState("CLOSE already sent on this channel"));
        }
        Ok(channel)
    }

    /// Sends as much of `data` as the peer's window allows; returns how much was taken. Nothing is taken
    /// during a key exchange.
    pub(super) fn send_data(
        &mut self,
        local_id: u32,
        stream: u32,
        data: &[u8],
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<usize, CommandError> {
        let channel = self.open_channel(local_id, session)?;
        if channel.eof_sent || channel.close_sent {
            return Err(CommandError::WrongState("EOF or close already sent on this channel"));
        }
        Ok(channel.send_data(stream, data, session, ctx))
    }

    pub(super) fn send_window(&self, local_id: u32) -> Option<u32> {
        let sending = |s: &&Slot| s.stage == Stage::Open && !s.channel.eof_sent && !s.channel.close_sent;
        self.channels.get(&local_id).filter(sending).map(|s| s.channel.send_window())
    }

    pub(super) fn consume(&mut self, local_id: u32, n: u32, session: &mut Session, ctx: &mut Ctx) {
        // A channel closed meanwhile has nothing to reopen.
        let open = self.channels.get_mut(&local_id).filter(|s| s.stage == Stage::Open);
        if let Some(adjust) = open.and_then(|slot| slot.channel.consume(n)) {
            session.send(&adjust, ctx);
        }
    }

    pub(super) fn send_eof(&mut self, local_id: u32, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        if let Some(eof) = self.open_channel(local_id, session)?.eof() {
            session.send(&eof, ctx);
        }
        Ok(())
    }

    /// A message the host built (the reference's SendSSHPacket): `msg_type` and what follows the recipient
    /// channel, for a channel message. Only messages that leave the protocol's state as it was go: a
    /// channel request (on a channel we may still send on) or a global request that asks for no reply, and
    /// the local extension numbers 192 to 255. A reply the core does not expect, a transport or
    /// authentication message, or channel data past the window would each break it.
    pub(super) fn send_raw(
        &mut self,
        channel: Option<u32>,
        msg_type: u8,
        body: &[u8],
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let asks_no_reply = || {
            let mut r = Reader::new(body);
            matches!((r.string(), r.bool()), (Ok(_), Ok(false)))
        };
        let mut message = alloc::vec![msg_type];
        match msg_type {
            msg::CHANNEL_REQUEST => {
                let local_id = channel.ok_or(CommandError::Invalid("a channel request needs its channel"))?;
                if !asks_no_reply() {
                    return Err(CommandError::Invalid("a channel request sent this way must ask for no reply"));
                }
                message.extend_from_slice(&self.sending_channel(local_id, session)?.peer_id.to_be_bytes());
            }
            msg::GLOBAL_REQUEST if asks_no_reply() => {}
            msg::GLOBAL_REQUEST => return Err(CommandError::Invalid("a global request sent this way must ask for no reply")),
            192..=255 => {}
            _ => return Err(CommandError::Invalid("this message type would break the protocol state")),
        }
        if session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        message.extend_from_slice(body);
        session.send(&message, ctx);
        Ok(())
    }

    pub(super) fn send_exit_status(
        &mut self,
        local_id: u32,
        status: u32,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let peer = self.sending_channel(local_id, session)?.peer_id;
        session.send(&conn_proto::encode_exit_status(peer, status), ctx);
        Ok(())
    }

    pub(super) fn send_exit_signal(
        &mut self,
        local_id: u32,
        signal: &str,
        core_dumped: bool,
        message: &str,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let peer = self.sending_channel(local_id, session)?.peer_id;
        session.send(&conn_proto::encode_exit_signal(peer, signal, core_dumped, message), ctx);
        Ok(())
    }

    pub(super) fn close_channel(&mut self, local_id: u32, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        if let Some(close) = self.open_channel(local_id, session)?.close() {
            session.send(&close, ctx);
        }
        Ok(())
    }
}
