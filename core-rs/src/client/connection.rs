//! The client's connection layer (RFC 4254) over a transport session: session channels it opens, the
//! requests it sends on them and the replies in order, data and windows both ways, EOF and close, and how
//! the command ended. What the server opens or asks for that a terminal client does not offer (forwarded
//! ports, agent, X11, global requests) is refused.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;

use super::{ClientEvent, Cx};
use crate::connection::channel::{Channel, MIN_PEER_MAX_PACKET};
use crate::connection::{self as conn_proto, ChannelRequest, ExitReport};
use crate::error::{Error, Result};
use crate::msg;
use crate::server::{CommandError, CALL_OUTPUT_BUDGET};
use crate::transport::session::Session;
use crate::wire::Reader;

enum Stage {
    /// Our CHANNEL_OPEN is out.
    Opening,
    Open(Channel),
}

struct Slot {
    stage: Stage,
    /// The names of the requests sent with a reply wanted, oldest first: replies come in their order.
    replies: VecDeque<String>,
}

pub(super) struct Connection {
    channels: BTreeMap<u32, Slot>,
    /// Where the search for the next channel id starts: ids go round rather than reuse the lowest free one,
    /// so that a late message for a closed channel does not reach its successor.
    next_id: u32,
}

impl Connection {
    pub(super) fn new() -> Self {
        Connection { channels: BTreeMap::new(), next_id: 0 }
    }

    /// Opens a session channel; its id is good once `ChannelOpened` reports it.
    pub(super) fn open_session(&mut self, session: &mut Session, cx: &mut Cx) -> Result<u32, CommandError> {
        let config = cx.ctx.config;
        if self.channels.len() >= config.max_channels as usize {
            return Err(CommandError::WrongState("too many channels"));
        }
        let mut id = self.next_id;
        while self.channels.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.channels.insert(id, Slot { stage: Stage::Opening, replies: VecDeque::new() });
        let open = conn_proto::encode_channel_open("session", id, config.channel_window, config.channel_max_packet);
        session.send(&open, &mut cx.ctx);
        Ok(id)
    }

    /// An open channel, and the replies it waits for.
    fn open(&mut self, id: u32) -> Option<(&mut Channel, &mut VecDeque<String>)> {
        match self.channels.get_mut(&id) {
            Some(Slot { stage: Stage::Open(channel), replies }) => Some((channel, replies)),
            _ => None,
        }
    }

    /// An open channel on which we have not sent CLOSE.
    fn sending(&mut self, id: u32) -> Result<(&mut Channel, &mut VecDeque<String>), CommandError> {
        self.open(id).filter(|(c, _)| !c.close_sent).ok_or(CommandError::NoSuchChannel)
    }

    /// The open channel a server message names.
    fn named(&mut self, id: u32) -> Result<(&mut Channel, &mut VecDeque<String>)> {
        self.open(id).ok_or_else(|| Error::protocol(alloc::format!("no such channel {id}")))
    }

    /// Sends a request; a reply is asked for unless RFC 4254 says none is sent (`window-change`, `signal`).
    pub(super) fn request(&mut self, id: u32, request: &ChannelRequest, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        let (channel, replies) = self.sending(id)?;
        let want_reply = !matches!(request, ChannelRequest::WindowChange { .. } | ChannelRequest::Signal { .. });
        if want_reply {
            replies.push_back(request.name().into());
        }
        session.send(&request.encode(channel.peer_id, want_reply), &mut cx.ctx);
        Ok(())
    }

    /// Sends what the server's window allows of `data`, at most [`CALL_OUTPUT_BUDGET`] bytes; returns how much
    /// was taken (nothing during a key exchange: wait for `ChannelReadyToSend`).
    pub(super) fn send_data(
        &mut self,
        id: u32,
        stream: u32,
        data: &[u8],
        session: &mut Session,
        cx: &mut Cx,
    ) -> Result<usize, CommandError> {
        let (channel, _) = self.sending(id)?;
        if channel.eof_sent {
            return Err(CommandError::WrongState("EOF already sent on this channel"));
        }
        let data = data.get(..CALL_OUTPUT_BUDGET).unwrap_or(data);
        Ok(channel.send_data(stream, data, session, &mut cx.ctx))
    }

    pub(super) fn send_window(&self, id: u32) -> Option<u32> {
        match self.channels.get(&id) {
            Some(Slot { stage: Stage::Open(c), .. }) if !c.eof_sent && !c.close_sent => Some(c.send_window()),
            _ => None,
        }
    }

    pub(super) fn consume(&mut self, id: u32, n: u32, session: &mut Session, cx: &mut Cx) {
        if let Some(adjust) = self.open(id).and_then(|(c, _)| c.consume(n)) {
            session.send(&adjust, &mut cx.ctx);
        }
    }

    pub(super) fn send_eof(&mut self, id: u32, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        if let Some(eof) = self.sending(id)?.0.eof() {
            session.send(&eof, &mut cx.ctx);
        }
        Ok(())
    }

    /// Sends our CLOSE; the channel is gone once the server's CLOSE reports `ChannelClosed`.
    pub(super) fn close(&mut self, id: u32, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        let (channel, _) = self.open(id).ok_or(CommandError::NoSuchChannel)?;
        if let Some(close) = channel.close() {
            session.send(&close, &mut cx.ctx);
        }
        Ok(())
    }

    /// A key exchange ended: senders it held back may go on.
    pub(super) fn resume_senders(&mut self, cx: &mut Cx) {
        for (&channel, slot) in self.channels.iter_mut() {
            let resumes = match &mut slot.stage {
                Stage::Open(c) => c.may_resume(),
                Stage::Opening => false,
            };
            if resumes {
                cx.emit(ClientEvent::ChannelReadyToSend { channel });
            }
        }
    }

    /// A message numbered 80 to 127, once authenticated.
    pub(super) fn on_message(&mut self, payload: &[u8], session: &mut Session, cx: &mut Cx) -> Result<()> {
        let mut r = Reader::new(payload);
        let msg_type = r.u8()?;
        match msg_type {
            msg::GLOBAL_REQUEST => {
                // OpenSSH's host key notices and keepalives: we take none of them up.
                r.utf8()?;
                if r.bool()? {
                    session.send(&[msg::REQUEST_FAILURE], &mut cx.ctx);
                }
            }
            msg::CHANNEL_OPEN => {
                // Forwarded ports, agent and X11 channels: we asked for none.
                let open = conn_proto::decode_channel_open(payload)?;
                let refusal = conn_proto::encode_open_failure(open.sender, conn_proto::OPEN_ADMINISTRATIVELY_PROHIBITED, "not offered");
                session.send(&refusal, &mut cx.ctx);
            }
            msg::CHANNEL_OPEN_CONFIRMATION => {
                let c = conn_proto::decode_open_confirmation(payload)?;
                if c.max_packet < MIN_PEER_MAX_PACKET {
                    return Err(Error::protocol("maximum packet size too small"));
                }
                let config = cx.ctx.config;
                match self.channels.get_mut(&c.recipient) {
                    Some(slot @ Slot { stage: Stage::Opening, .. }) => {
                        let channel = Channel::new(c.sender, c.window, c.max_packet, config.channel_window, config.channel_max_packet);
                        slot.stage = Stage::Open(channel);
                    }
                    _ => return Err(Error::protocol("open confirmation for a channel we are not opening")),
                }
                cx.emit(ClientEvent::ChannelOpened { channel: c.recipient });
            }
            msg::CHANNEL_OPEN_FAILURE => {
                let (channel, reason, description) = conn_proto::decode_open_failure(payload)?;
                if !matches!(self.channels.get(&channel), Some(Slot { stage: Stage::Opening, .. })) {
                    return Err(Error::protocol("open failure for a channel we are not opening"));
                }
                self.channels.remove(&channel);
                cx.emit(ClientEvent::ChannelOpenFailed { channel, reason, description });
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                let channel = r.u32()?;
                r.finish()?;
                let Some(request) = self.named(channel)?.1.pop_front() else {
                    return Err(Error::protocol("channel reply to no request"));
                };
                cx.emit(ClientEvent::ChannelRequestReply { channel, request, success: msg_type == msg::CHANNEL_SUCCESS });
            }
            msg::CHANNEL_REQUEST => self.on_request(payload, session, cx)?,
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                let channel = r.u32()?;
                let stream = if msg_type == msg::CHANNEL_EXTENDED_DATA { r.u32()? } else { 0 };
                let data = r.string()?;
                r.finish()?;
                self.named(channel)?.0.receive(data.len())?;
                cx.emit(ClientEvent::ChannelData { channel, stream, data: data.into() });
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                let channel = r.u32()?;
                let add = r.u32()?;
                r.finish()?;
                if self.named(channel)?.0.window_adjust(add)? {
                    cx.emit(ClientEvent::ChannelReadyToSend { channel });
                }
            }
            msg::CHANNEL_EOF => {
                let channel = r.u32()?;
                r.finish()?;
                let (c, _) = self.named(channel)?;
                if !c.eof_received {
                    c.eof_received = true;
                    cx.emit(ClientEvent::ChannelEof { channel });
                }
            }
            msg::CHANNEL_CLOSE => {
                let channel = r.u32()?;
                r.finish()?;
                if let Some(close) = self.named(channel)?.0.close() {
                    session.send(&close, &mut cx.ctx);
                }
                self.channels.remove(&channel);
                cx.emit(ClientEvent::ChannelClosed { channel });
            }
            // Answers to global requests we never send.
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => return Err(Error::protocol("global request reply to no request")),
            _ => session.reply_unimplemented(&mut cx.ctx),
        }
        Ok(())
    }

    /// A request from the server: how the command ended; anything else (keepalives) is refused.
    fn on_request(&mut self, payload: &[u8], session: &mut Session, cx: &mut Cx) -> Result<()> {
        let (channel, request, want_reply) = conn_proto::decode_channel_request(payload)?;
        let peer = self.named(channel)?.0.peer_id;
        let report = match &request {
            ChannelRequest::Other { name, data } => ExitReport::decode(name, data).transpose()?,
            _ => None,
        };
        match report {
            Some(ExitReport::Status(status)) => cx.emit(ClientEvent::ExitStatus { channel, status }),
            Some(ExitReport::Signal { signal, core_dumped, message }) => {
                cx.emit(ClientEvent::ExitSignal { channel, signal, core_dumped, message })
            }
            None if want_reply => {
                session.send(&conn_proto::encode_channel_only(msg::CHANNEL_FAILURE, peer), &mut cx.ctx);
            }
            None => {}
        }
        Ok(())
    }
}
