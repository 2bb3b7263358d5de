//! The server's connection layer (RFC 4254) over a transport session: channels opened by the client,
//! channel and global requests, data and flow-control windows both ways. Each channel decision waits for
//! the host's answer; for now one at a time, which pauses the connection's input.

use alloc::collections::BTreeMap;

use super::MAX_QUOTED_CHARS;
use crate::connection::channel::Channel;
use crate::connection::{self as conn_proto, ChannelRequest};
use crate::error::{Error, Result};
use crate::event::{quote, Event, LOG_VERBOSE};
use crate::msg;
use crate::server::CommandError;
use crate::transport::session::{Ctx, Session};
use crate::wire::Reader;

/// Channels whose peer takes smaller packets are refused: tiny packets would multiply the cost of every byte sent.
const MIN_PEER_MAX_PACKET: u32 = 256;

/// A channel decision the host owes.
enum Decision {
    Open { peer_id: u32, local_id: u32 },
    Request { channel: u32, want_reply: bool },
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
    channels: BTreeMap<u32, Channel>,
    /// Where the search for the next channel id starts: ids go round rather than reuse the lowest free one.
    next_channel_id: u32,
    no_more_sessions: bool,
    pending: Option<Decision>,
}

impl Connection {
    pub(super) fn new() -> Self {
        Connection { channels: BTreeMap::new(), next_channel_id: 0, no_more_sessions: false, pending: None }
    }

    pub(super) fn decision_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops the decision the host owes: the connection ended.
    pub(super) fn forget_decision(&mut self) {
        self.pending = None;
    }

    fn channel_mut(&mut self, local_id: u32) -> Result<&mut Channel> {
        self.channels.get_mut(&local_id).ok_or_else(|| Error::protocol(alloc::format!("no such channel {local_id}")))
    }

    /// A message numbered 80 to 127, from an authenticated client.
    pub(super) fn on_message(&mut self, payload: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<Traffic> {
        let mut r = Reader::new(payload);
        let msg_type = r.u8()?;
        match msg_type {
            msg::GLOBAL_REQUEST => {
                let name = r.utf8()?;
                let want_reply = r.bool()?;
                if name == "no-more-sessions@openssh.com" {
                    self.no_more_sessions = true;
                }
                ctx.log(LOG_VERBOSE, alloc::format!("global request {}", quote(name, MAX_QUOTED_CHARS)));
                if want_reply {
                    session.send(&[msg::REQUEST_FAILURE], ctx);
                }
            }
            // Answers to our keepalives; any packet already counted as a sign of life.
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => return Ok(Traffic::GlobalReply),
            msg::CHANNEL_OPEN => self.on_channel_open(payload, session, ctx)?,
            msg::CHANNEL_REQUEST => {
                let (local_id, request, want_reply) = conn_proto::decode_channel_request(payload)?;
                let channel = self.channel_mut(local_id)?;
                if !channel.open || channel.close_sent {
                    if want_reply && channel.open {
                        let reply = conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, channel.peer_id);
                        session.send(&reply, ctx);
                    }
                    return Ok(Traffic::Other);
                }
                if let ChannelRequest::Other { name, .. } = &request {
                    if name == "keepalive@openssh.com" || name == "eow@openssh.com" {
                        let peer = channel.peer_id;
                        if want_reply {
                            session.send(&conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, peer), ctx);
                        }
                        return Ok(Traffic::Other);
                    }
                }
                self.pending = Some(Decision::Request { channel: local_id, want_reply });
                ctx.emit(Event::ChannelRequest { channel: local_id, request, want_reply });
            }
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                let local_id = r.u32()?;
                let stream = if msg_type == msg::CHANNEL_EXTENDED_DATA { r.u32()? } else { 0 };
                let data = r.string()?;
                r.finish()?;
                self.channel_mut(local_id)?.receive(data.len())?;
                ctx.emit(Event::ChannelData { channel: local_id, stream, data: data.to_vec() });
                return Ok(Traffic::Data(data.len()));
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                let local_id = r.u32()?;
                let add = r.u32()?;
                if self.channel_mut(local_id)?.window_adjust(add)? {
                    ctx.emit(Event::ChannelReadyToSend { channel: local_id });
                }
            }
            msg::CHANNEL_EOF => {
                let local_id = r.u32()?;
                let channel = self.channel_mut(local_id)?;
                if !channel.eof_received {
                    channel.eof_received = true;
                    ctx.emit(Event::ChannelEof { channel: local_id });
                }
            }
            msg::CHANNEL_CLOSE => {
                let local_id = r.u32()?;
                let channel = self.channels.remove(&local_id).ok_or_else(|| Error::protocol("close of unknown channel"))?;
                if !channel.close_sent {
                    session.send(&conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, channel.peer_id), ctx);
                }
                ctx.emit(Event::ChannelClosed { channel: local_id });
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                self.channel_mut(r.u32()?)?; // replies to requests we never send with want_reply
            }
            msg::CHANNEL_OPEN_CONFIRMATION | msg::CHANNEL_OPEN_FAILURE => {
                return Err(Error::protocol("channel open reply for a channel the server never opened"));
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
        self.channels.insert(local_id, channel);
        self.pending = Some(Decision::Open { peer_id: open.sender, local_id });
        ctx.emit(Event::ChannelOpenRequest { channel: local_id, kind: open.kind.into(), data: open.data.to_vec() });
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

    pub(super) fn reply_channel_open(
        &mut self,
        accept: bool,
        reason: u32,
        description: &str,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<(), CommandError> {
        let Some(Decision::Open { peer_id, local_id }) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if accept {
            if let Some(channel) = self.channels.get_mut(&local_id) {
                channel.open = true;
                let confirmation = channel.confirmation(local_id);
                session.send(&confirmation, ctx);
            }
        } else {
            self.channels.remove(&local_id);
            let reason = if reason == 0 { conn_proto::OPEN_ADMINISTRATIVELY_PROHIBITED } else { reason };
            session.send(&conn_proto::encode_open_failure(peer_id, reason, description), ctx);
        }
        Ok(())
    }

    pub(super) fn reply_channel_request(&mut self, accept: bool, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        let Some(Decision::Request { channel, want_reply }) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if let (true, Some(ch)) = (want_reply, self.channels.get(&channel)) {
            let reply = conn_proto::encode_channel_only(if accept { msg::CHANNEL_SUCCESS } else { msg::CHANNEL_FAILURE }, ch.peer_id);
            session.send(&reply, ctx);
        }
        Ok(())
    }

    /// A key exchange ended: senders it held back may go on.
    pub(super) fn resume_senders(&mut self, ctx: &mut Ctx) {
        for (&id, channel) in self.channels.iter_mut() {
            if channel.may_resume() {
                ctx.emit(Event::ChannelReadyToSend { channel: id });
            }
        }
    }

    fn open_channel(&mut self, local_id: u32, session: &Session) -> Result<&mut Channel, CommandError> {
        if session.is_closed() {
            return Err(CommandError::WrongState("the connection is closed"));
        }
        match self.channels.get_mut(&local_id) {
            Some(ch) if ch.open => Ok(ch),
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
        if session.in_kex() {
            // Data would wait in the session until the exchange ends, however long the client makes that.
            channel.defer_send();
            return Ok(0);
        }
        let (packets, taken) = channel.send(stream, data);
        session.send_batch(&packets, ctx);
        Ok(taken)
    }

    pub(super) fn send_window(&self, local_id: u32) -> Option<u32> {
        self.channels.get(&local_id).filter(|c| c.open && !c.eof_sent && !c.close_sent).map(Channel::send_window)
    }

    pub(super) fn consume(&mut self, local_id: u32, n: u32, session: &mut Session, ctx: &mut Ctx) {
        // A channel closed meanwhile has nothing to reopen.
        if let Some(adjust) = self.channels.get_mut(&local_id).and_then(|channel| channel.consume(n)) {
            session.send(&adjust, ctx);
        }
    }

    pub(super) fn send_eof(&mut self, local_id: u32, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        let channel = self.open_channel(local_id, session)?;
        if channel.eof_sent || channel.close_sent {
            return Ok(());
        }
        channel.eof_sent = true;
        let eof = conn_proto::encode_channel_only(msg::CHANNEL_EOF, channel.peer_id);
        session.send(&eof, ctx);
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
        let channel = self.open_channel(local_id, session)?;
        if channel.close_sent {
            return Ok(());
        }
        channel.close_sent = true;
        let close = conn_proto::encode_channel_only(msg::CHANNEL_CLOSE, channel.peer_id);
        session.send(&close, ctx);
        Ok(())
    }
}
