//! The client's side of the connection protocol, rebuilt from what the client sent and what it received,
//! to hold the server to RFC 4252 and RFC 4254 whatever the client does: one USERAUTH_SUCCESS and nothing
//! of the connection layer before it; channel messages only for channels the client opened, and none but
//! request replies after the server's CLOSE; no data after its EOF; data within the window and packet size
//! the client gave; no more replies than requests that wanted one.
//!
//! The bookkeeping errs on the lenient side where the client's own messages are ambiguous (a channel
//! number used for two opens), so that a failure is always the server's.

use std::collections::HashMap;

use wasshd_core::msg;
use wasshd_core::wire::Reader;

struct ChannelView {
    /// The window and maximum packet the client opened the channel with.
    window: u64,
    max_packet: u32,
    /// Data the server sent on it so far.
    received: u64,
    server_id: Option<u32>,
    eof: bool,
    closed: bool,
    /// The client opened more than one channel with this number: the server's messages cannot be told apart.
    ambiguous: bool,
}

#[derive(Default)]
pub struct Peer {
    /// By the client's channel number.
    channels: HashMap<u32, ChannelView>,
    /// Window the client added, by the server's channel number, over the whole connection (more than the
    /// server has seen, if anything: it may not have processed all of it yet).
    adjusts: HashMap<u32, u64>,
    global_replies_owed: u64,
    channel_replies_owed: u64,
    authenticated: bool,
}

impl Peer {
    /// A payload the client sealed for the server.
    pub fn sent(&mut self, payload: &[u8]) {
        let Some((&msg_type, body)) = payload.split_first() else { return };
        let mut r = Reader::new(body);
        match msg_type {
            msg::CHANNEL_OPEN => {
                let (Ok(_), Ok(id), Ok(window), Ok(max_packet)) = (r.string(), r.u32(), r.u32(), r.u32()) else { return };
                let fresh = ChannelView {
                    window: u64::from(window),
                    max_packet,
                    received: 0,
                    server_id: None,
                    eof: false,
                    closed: false,
                    ambiguous: false,
                };
                self.channels.entry(id).and_modify(|c| c.ambiguous = true).or_insert(fresh);
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                if let (Ok(id), Ok(add)) = (r.u32(), r.u32()) {
                    *self.adjusts.entry(id).or_default() += u64::from(add);
                }
            }
            msg::GLOBAL_REQUEST => {
                if let (Ok(_), Ok(true)) = (r.string(), r.bool()) {
                    self.global_replies_owed += 1;
                }
            }
            msg::CHANNEL_REQUEST => {
                if let (Ok(_), Ok(_), Ok(true)) = (r.u32(), r.string(), r.bool()) {
                    self.channel_replies_owed += 1;
                }
            }
            _ => {}
        }
    }

    /// A message the client received from the server (anything but the transport layer's own).
    pub fn received(&mut self, payload: &[u8]) {
        let Some((&msg_type, body)) = payload.split_first() else { return };
        if msg_type == msg::USERAUTH_SUCCESS {
            assert!(!self.authenticated, "a second USERAUTH_SUCCESS");
            self.authenticated = true;
        }
        if (80..=127).contains(&msg_type) {
            assert!(self.authenticated, "connection message {msg_type} before USERAUTH_SUCCESS");
        }
        match msg_type {
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => {
                assert!(self.global_replies_owed > 0, "a global request reply nobody asked for");
                self.global_replies_owed -= 1;
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                assert!(self.channel_replies_owed > 0, "a channel request reply nobody asked for");
                self.channel_replies_owed -= 1;
            }
            _ => {}
        }
        if !(msg::CHANNEL_OPEN_CONFIRMATION..=msg::CHANNEL_FAILURE).contains(&msg_type) {
            return;
        }
        let mut r = Reader::new(body);
        let recipient = r.u32().expect("a channel message starts with the recipient");
        let Some(ch) = self.channels.get_mut(&recipient) else {
            panic!("message {msg_type} for channel {recipient}, which the client never opened");
        };
        if ch.ambiguous {
            return;
        }
        match msg_type {
            msg::CHANNEL_OPEN_CONFIRMATION => {
                assert!(ch.server_id.is_none() && !ch.closed, "a second answer to the open of channel {recipient}");
                ch.server_id = Some(r.u32().expect("the server's channel number"));
            }
            msg::CHANNEL_OPEN_FAILURE => {
                assert!(ch.server_id.is_none() && !ch.closed, "a second answer to the open of channel {recipient}");
                ch.closed = true;
            }
            _ => {
                let Some(server_id) = ch.server_id else { panic!("message {msg_type} on channel {recipient} before it was confirmed") };
                // A request that wanted a reply still gets one after CLOSE (RFC 4254 §5.4 asks for one).
                let reply = matches!(msg_type, msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE);
                assert!(!ch.closed || reply, "message {msg_type} on channel {recipient} after the server closed it");
                match msg_type {
                    msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                        assert!(!ch.eof, "data on channel {recipient} after the server's EOF");
                        if msg_type == msg::CHANNEL_EXTENDED_DATA {
                            r.u32().expect("the data type code");
                        }
                        let n = r.string().expect("the data").len();
                        assert!(n <= ch.max_packet as usize, "{n} bytes in one packet on channel {recipient}, maximum {}", ch.max_packet);
                        ch.received += n as u64;
                        let allowed = ch.window + self.adjusts.get(&server_id).copied().unwrap_or(0);
                        assert!(ch.received <= allowed, "channel {recipient}: {} bytes sent into a window of {allowed}", ch.received);
                    }
                    msg::CHANNEL_EOF => ch.eof = true,
                    msg::CHANNEL_CLOSE => ch.closed = true,
                    _ => {}
                }
            }
        }
    }
}
