//! The connection protocol (RFC 4254): channel requests decoded into typed values, and encoders for what
//! the server sends. Channel bookkeeping (ids, windows, close handshakes) is in [`channel`].

pub mod channel;

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Result;
use crate::msg;
use crate::wire::{Reader, Writer};

/// A decoded SSH_MSG_CHANNEL_REQUEST (RFC 4254 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRequest {
    Pty(PtyRequest),
    Env {
        name: String,
        value: String,
    },
    Shell,
    Exec {
        command: Vec<u8>,
    },
    Subsystem {
        name: String,
    },
    WindowChange {
        cols: u32,
        rows: u32,
        width_px: u32,
        height_px: u32,
    },
    Signal {
        name: String,
    },
    /// Any other request, with its type-specific data undecoded.
    Other {
        name: String,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtyRequest {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
    pub width_px: u32,
    pub height_px: u32,
    /// Encoded terminal modes (RFC 4254 §8).
    pub modes: Vec<u8>,
}

impl ChannelRequest {
    pub fn name(&self) -> &str {
        match self {
            ChannelRequest::Pty(_) => "pty-req",
            ChannelRequest::Env { .. } => "env",
            ChannelRequest::Shell => "shell",
            ChannelRequest::Exec { .. } => "exec",
            ChannelRequest::Subsystem { .. } => "subsystem",
            ChannelRequest::WindowChange { .. } => "window-change",
            ChannelRequest::Signal { .. } => "signal",
            ChannelRequest::Other { name, .. } => name,
        }
    }

    /// The request-specific fields in their wire form (RFC 4254 §6), as they follow `want reply`.
    pub fn encode_fields(&self, w: &mut Writer) {
        match self {
            ChannelRequest::Pty(p) => {
                w.string(p.term.as_bytes()).u32(p.cols).u32(p.rows).u32(p.width_px).u32(p.height_px).string(&p.modes);
            }
            ChannelRequest::Env { name, value } => {
                w.string(name.as_bytes()).string(value.as_bytes());
            }
            ChannelRequest::Shell => {}
            ChannelRequest::Exec { command } => {
                w.string(command);
            }
            ChannelRequest::Subsystem { name } | ChannelRequest::Signal { name } => {
                w.string(name.as_bytes());
            }
            ChannelRequest::WindowChange { cols, rows, width_px, height_px } => {
                w.u32(*cols).u32(*rows).u32(*width_px).u32(*height_px);
            }
            ChannelRequest::Other { data, .. } => {
                w.raw(data);
            }
        }
    }
}

/// Decodes the request after its header; returns (recipient channel, request, want_reply).
pub fn decode_channel_request(payload: &[u8]) -> Result<(u32, ChannelRequest, bool)> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let channel = r.u32()?;
    let name = r.utf8()?;
    let want_reply = r.bool()?;
    let request = match name {
        "pty-req" => ChannelRequest::Pty(PtyRequest {
            term: r.utf8_owned()?,
            cols: r.u32()?,
            rows: r.u32()?,
            width_px: r.u32()?,
            height_px: r.u32()?,
            modes: r.string()?.to_vec(),
        }),
        "env" => ChannelRequest::Env { name: r.utf8_owned()?, value: r.utf8_owned()? },
        "shell" => ChannelRequest::Shell,
        "exec" => ChannelRequest::Exec { command: r.string()?.to_vec() },
        "subsystem" => ChannelRequest::Subsystem { name: r.utf8_owned()? },
        "window-change" => ChannelRequest::WindowChange { cols: r.u32()?, rows: r.u32()?, width_px: r.u32()?, height_px: r.u32()? },
        "signal" => ChannelRequest::Signal { name: r.utf8_owned()? },
        other => return Ok((channel, ChannelRequest::Other { name: other.into(), data: r.rest().to_vec() }, want_reply)),
    };
    r.finish()?;
    Ok((channel, request, want_reply))
}

/// A decoded SSH_MSG_CHANNEL_OPEN.
pub struct ChannelOpen<'a> {
    pub kind: &'a str,
    pub sender: u32,
    pub window: u32,
    pub max_packet: u32,
    pub data: &'a [u8],
}

pub fn decode_channel_open(payload: &[u8]) -> Result<ChannelOpen<'_>> {
    let mut r = Reader::new(payload);
    r.u8()?;
    Ok(ChannelOpen { kind: r.utf8()?, sender: r.u32()?, window: r.u32()?, max_packet: r.u32()?, data: r.rest() })
}

/// Channel open failure reason codes (RFC 4254 §5.1).
pub const OPEN_ADMINISTRATIVELY_PROHIBITED: u32 = 1;
pub const OPEN_UNKNOWN_CHANNEL_TYPE: u32 = 3;
pub const OPEN_RESOURCE_SHORTAGE: u32 = 4;

pub fn encode_open_failure(recipient: u32, reason: u32, description: &str) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_OPEN_FAILURE);
    w.u32(recipient).u32(reason).string(description.as_bytes()).string(b"");
    w.into_vec()
}

/// A request the server sends on a channel, such as `exit-status`.
pub fn encode_channel_request(recipient: u32, name: &str, want_reply: bool, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_REQUEST);
    w.u32(recipient).string(name.as_bytes()).bool(want_reply).raw(data);
    w.into_vec()
}

pub fn encode_exit_status(recipient: u32, status: u32) -> Vec<u8> {
    encode_channel_request(recipient, "exit-status", false, &status.to_be_bytes())
}

pub fn encode_exit_signal(recipient: u32, signal: &str, core_dumped: bool, message: &str) -> Vec<u8> {
    let mut data = Writer::new();
    data.string(signal.as_bytes()).bool(core_dumped).string(message.as_bytes()).string(b"");
    encode_channel_request(recipient, "exit-signal", false, data.as_slice())
}

/// Messages that carry only a recipient channel.
pub fn encode_channel_only(msg: u8, recipient: u32) -> Vec<u8> {
    let mut w = Writer::message(msg);
    w.u32(recipient);
    w.into_vec()
}

pub fn encode_global_request(name: &str, want_reply: bool) -> Vec<u8> {
    let mut w = Writer::message(msg::GLOBAL_REQUEST);
    w.string(name.as_bytes()).bool(want_reply);
    w.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pty_and_rejects_truncation_and_trailing_bytes() {
        let mut w = Writer::message(msg::CHANNEL_REQUEST);
        w.u32(3).string(b"pty-req").bool(true).string(b"xterm").u32(80).u32(24).u32(0).u32(0).string(&[0]);
        let bytes = w.into_vec();
        let (ch, req, want) = decode_channel_request(&bytes).unwrap();
        assert_eq!(ch, 3);
        assert!(want);
        assert!(matches!(req, ChannelRequest::Pty(PtyRequest { cols: 80, rows: 24, .. })));
        for cut in 1..bytes.len() {
            assert!(decode_channel_request(&bytes[..cut]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_channel_request(&extra).is_err());
    }

    #[test]
    fn unknown_requests_keep_their_data() {
        let mut w = Writer::message(msg::CHANNEL_REQUEST);
        w.u32(0).string(b"x11-req").bool(false).raw(&[1, 2, 3]);
        let (_, req, _) = decode_channel_request(w.as_slice()).unwrap();
        assert_eq!(req, ChannelRequest::Other { name: "x11-req".into(), data: alloc::vec![1, 2, 3] });
    }
}
