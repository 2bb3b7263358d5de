//! The connection protocol (RFC 4254): channel requests decoded into typed values, and the messages either
//! end sends and reads. Channel bookkeeping (ids, windows, close handshakes) is in [`channel`].

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

    /// SSH_MSG_CHANNEL_REQUEST carrying this request to `recipient`.
    pub fn encode(&self, recipient: u32, want_reply: bool) -> Vec<u8> {
        let mut fields = Writer::new();
        self.encode_fields(&mut fields);
        encode_channel_request(recipient, self.name(), want_reply, fields.as_slice())
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

pub fn encode_channel_open(kind: &str, sender: u32, window: u32, max_packet: u32) -> Vec<u8> {
    let mut w = Writer::message(msg::CHANNEL_OPEN);
    w.string(kind.as_bytes()).u32(sender).u32(window).u32(max_packet);
    w.into_vec()
}

/// A decoded SSH_MSG_CHANNEL_OPEN_CONFIRMATION of a session channel (no type-specific data).
pub struct OpenConfirmation {
    pub recipient: u32,
    pub sender: u32,
    pub window: u32,
    pub max_packet: u32,
}

pub fn decode_open_confirmation(payload: &[u8]) -> Result<OpenConfirmation> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let confirmation = OpenConfirmation { recipient: r.u32()?, sender: r.u32()?, window: r.u32()?, max_packet: r.u32()? };
    r.finish()?;
    Ok(confirmation)
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE: (recipient, reason code, description).
pub fn decode_open_failure(payload: &[u8]) -> Result<(u32, u32, String)> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let (recipient, reason) = (r.u32()?, r.u32()?);
    let description = String::from_utf8_lossy(r.string()?).into_owned();
    r.string()?;
    r.finish()?;
    Ok((recipient, reason, description))
}

/// How a command on the other end ended (RFC 4254 §6.10), from the data of an `exit-status` or
/// `exit-signal` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReport {
    Status(u32),
    Signal { signal: String, core_dumped: bool, message: String },
}

impl ExitReport {
    /// The report a request carries, if it is one; `None` for other requests.
    pub fn decode(name: &str, data: &[u8]) -> Option<Result<ExitReport>> {
        let mut r = Reader::new(data);
        let report = match name {
            "exit-status" => r.u32().map(ExitReport::Status),
            "exit-signal" => (|| {
                let signal = r.utf8_owned()?;
                let core_dumped = r.bool()?;
                let message = String::from_utf8_lossy(r.string()?).into_owned();
                r.string()?;
                Ok(ExitReport::Signal { signal, core_dumped, message })
            })(),
            _ => return None,
        };
        Some(report.and_then(|report| r.finish().map(|()| report)).map_err(Into::into))
    }
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
    fn exit_reports_decode_from_what_the_server_encodes() {
        for (payload, want) in [
            (encode_exit_status(1, 7), ExitReport::Status(7)),
            (
                encode_exit_signal(1, "TERM", true, "bye"),
                ExitReport::Signal { signal: "TERM".into(), core_dumped: true, message: "bye".into() },
            ),
        ] {
            let (_, request, _) = decode_channel_request(&payload).unwrap();
            let ChannelRequest::Other { name, data } = request else { panic!("{request:?}") };
            assert_eq!(ExitReport::decode(&name, &data).unwrap().unwrap(), want);
            assert!(ExitReport::decode(&name, &data[..data.len() - 1]).unwrap().is_err());
        }
        assert!(ExitReport::decode("keepalive@openssh.com", &[]).is_none());
    }

    #[test]
    fn typed_requests_encode_what_they_decode_from() {
        let pty =
            ChannelRequest::Pty(PtyRequest { term: "xterm".into(), cols: 80, rows: 24, width_px: 0, height_px: 0, modes: alloc::vec![0] });
        assert_eq!(decode_channel_request(&pty.encode(5, true)).unwrap(), (5, pty, true));
    }

    #[test]
    fn unknown_requests_keep_their_data() {
        let mut w = Writer::message(msg::CHANNEL_REQUEST);
        w.u32(0).string(b"x11-req").bool(false).raw(&[1, 2, 3]);
        let (_, req, _) = decode_channel_request(w.as_slice()).unwrap();
        assert_eq!(req, ChannelRequest::Other { name: "x11-req".into(), data: alloc::vec![1, 2, 3] });
    }
}
