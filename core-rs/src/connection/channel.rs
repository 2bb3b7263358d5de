//! Channel bookkeeping for either end: flow-control windows in both directions, and the EOF/CLOSE
//! handshake (RFC 4254 §5). Methods return the payloads to send, except [`Channel::send_data`], which
//! hands them to the session.

use alloc::vec::Vec;

use crate::connection::encode_channel_only;
use crate::error::{Error, Result};
use crate::msg;
use crate::transport::packet::MAX_PACKET_LEN;
use crate::transport::session::{Ctx, Session};
use crate::wire::Writer;

/// Channels whose peer takes smaller packets are refused: tiny packets would multiply the cost of every byte sent.
pub const MIN_PEER_MAX_PACKET: u32 = 256;

pub struct Channel {
    /// The id the peer knows this channel by (its "sender channel").
    pub peer_id: u32,
    /// What the peer may still send before we adjust the window.
    recv_window: u32,
    /// Bytes the host has processed and that have not yet been handed back to the peer as window.
    consumed: u32,
    recv_window_size: u32,
    recv_max_packet: u32,
    /// What we may still send.
    send_window: u32,
    send_max_packet: u32,
    /// A send was cut short by the window: tell the host when it opens again.
    send_blocked: bool,
    pub eof_received: bool,
    pub eof_sent: bool,
    pub close_sent: bool,
}

impl Channel {
    pub fn new(peer_id: u32, peer_window: u32, peer_max_packet: u32, window: u32, max_packet: u32) -> Self {
        Channel {
            peer_id,
            recv_window: window,
            consumed: 0,
            recv_window_size: window,
            recv_max_packet: max_packet,
            send_window: peer_window,
            // Whatever the peer advertises, a packet must stay within what the transport accepts.
            send_max_packet: peer_max_packet.clamp(1, MAX_PACKET_LEN - 1024),
            send_blocked: false,
            eof_received: false,
            eof_sent: false,
            close_sent: false,
        }
    }

    pub fn confirmation(&self, local_id: u32) -> Vec<u8> {
        let mut w = Writer::message(msg::CHANNEL_OPEN_CONFIRMATION);
        w.u32(self.peer_id).u32(local_id).u32(self.recv_window_size).u32(self.recv_max_packet);
        w.into_vec()
    }

    /// Accounts for `len` bytes of incoming data; a peer that overruns the window or the packet size it
    /// was given is in violation of the protocol.
    pub fn receive(&mut self, len: usize) -> Result<()> {
        if self.eof_received {
            return Err(Error::protocol("channel data after EOF"));
        }
        let len = u32::try_from(len).map_err(|_| Error::protocol("channel data too large"))?;
        if len > self.recv_max_packet {
            return Err(Error::protocol("channel data larger than the maximum packet size"));
        }
        self.recv_window = self.recv_window.checked_sub(len).ok_or_else(|| Error::protocol("channel window exceeded"))?;
        Ok(())
    }

    /// The host processed `n` bytes; returns a WINDOW_ADJUST once half the window waits to be reopened.
    pub fn consume(&mut self, n: u32) -> Option<Vec<u8>> {
        let outstanding = self.recv_window_size - self.recv_window - self.consumed;
        self.consumed += n.min(outstanding);
        if self.close_sent || self.consumed < self.recv_window_size / 2 {
            return None;
        }
        let add = core::mem::take(&mut self.consumed);
        self.recv_window += add;
        let mut w = Writer::message(msg::CHANNEL_WINDOW_ADJUST);
        w.u32(self.peer_id).u32(add);
        Some(w.into_vec())
    }

    /// Grows the send window; returns true when a blocked sender may go on.
    pub fn window_adjust(&mut self, add: u32) -> Result<bool> {
        // RFC 4254 §5.2: the window may not exceed 2^32 - 1.
        self.send_window = self.send_window.checked_add(add).ok_or_else(|| Error::protocol("channel window overflow"))?;
        Ok(self.may_resume())
    }

    /// The host's send was refused for a reason other than the window (a key exchange in progress).
    pub fn defer_send(&mut self) {
        self.send_blocked = true;
    }

    /// Whether a sender that was held back may go on now; it is told once.
    pub fn may_resume(&mut self) -> bool {
        let ready = self.send_blocked && self.send_window > 0;
        if ready {
            self.send_blocked = false;
        }
        ready
    }

    pub fn send_window(&self) -> u32 {
        self.send_window
    }

    /// Splits up to a window's worth of `data` into DATA or EXTENDED_DATA payloads; returns them and how
    /// much of `data` they carry. A short count means the window is full: the host should wait for
    /// `ChannelReadyToSend`.
    pub fn send<'a>(&mut self, stream: u32, data: &'a [u8]) -> (DataMessages<'a>, usize) {
        let none = DataMessages { peer_id: self.peer_id, stream, pieces: [].chunks(1) };
        if self.eof_sent || self.close_sent {
            return (none, 0);
        }
        let allowed = data.len().min(self.send_window as usize);
        if allowed < data.len() {
            self.send_blocked = true;
        }
        let chunk = (self.send_max_packet as usize).saturating_sub(DataHeader::len(stream)).max(1);
        self.send_window -= allowed as u32;
        let pieces = data.get(..allowed).unwrap_or_default().chunks(chunk);
        (DataMessages { pieces, ..none }, allowed)
    }
}

/// The data messages a send makes, each a header and a packet's worth of the data (sealed from where the
/// data lies, with no copy of the message put together first).
pub struct DataMessages<'a> {
    peer_id: u32,
    stream: u32,
    pieces: core::slice::Chunks<'a, u8>,
}

impl<'a> Iterator for DataMessages<'a> {
    type Item = (DataHeader, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let piece = self.pieces.next()?;
        Some((DataHeader::new(self.peer_id, self.stream, piece.len()), piece))
    }
}

/// CHANNEL_DATA (stream 0) or CHANNEL_EXTENDED_DATA up to the data: type, channel, data type if extended,
/// and the data's length.
pub struct DataHeader {
    bytes: [u8; 13],
    len: usize,
}

impl DataHeader {
    fn new(peer_id: u32, stream: u32, data_len: usize) -> Self {
        let mut bytes = [0u8; 13];
        bytes[0] = if stream == 0 { msg::CHANNEL_DATA } else { msg::CHANNEL_EXTENDED_DATA };
        let fields: &[u32] = if stream == 0 { &[peer_id, data_len as u32] } else { &[peer_id, stream, data_len as u32] };
        for (slot, field) in bytes[1..].chunks_exact_mut(4).zip(fields) {
            slot.copy_from_slice(&field.to_be_bytes());
        }
        DataHeader { bytes, len: Self::len(stream) }
    }

    fn len(stream: u32) -> usize {
        if stream == 0 {
            9
        } else {
            13
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Channel {
    /// Sends what the peer's window allows of `data`; returns how much was taken. Nothing is taken during
    /// a key exchange: data would wait in the session however long the peer made the exchange last.
    pub fn send_data(&mut self, stream: u32, data: &[u8], session: &mut Session, ctx: &mut Ctx) -> usize {
        if session.in_kex() {
            self.defer_send();
            return 0;
        }
        let (messages, taken) = self.send(stream, data);
        for (header, data) in messages {
            session.send_parts(&[header.bytes(), data], ctx);
        }
        // After all of them: a re-exchange started between them would strand the rest.
        session.maybe_rekey(ctx);
        taken
    }

    /// Our EOF, unless EOF or CLOSE went out already.
    pub fn eof(&mut self) -> Option<Vec<u8>> {
        if self.eof_sent || self.close_sent {
            return None;
        }
        self.eof_sent = true;
        Some(encode_channel_only(msg::CHANNEL_EOF, self.peer_id))
    }

    /// Our CLOSE, unless it went out already.
    pub fn close(&mut self) -> Option<Vec<u8>> {
        if self.close_sent {
            return None;
        }
        self.close_sent = true;
        Some(encode_channel_only(msg::CHANNEL_CLOSE, self.peer_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_overrun_is_an_error() {
        let mut c = Channel::new(7, 100, 50, 1000, 500);
        c.receive(500).unwrap();
        c.receive(500).unwrap();
        assert!(c.receive(1).is_err());
        assert!(Channel::new(7, 100, 50, 1000, 500).receive(501).is_err());
    }

    #[test]
    fn consumption_reopens_window_at_half() {
        let mut c = Channel::new(7, 100, 50, 1000, 500);
        c.receive(400).unwrap();
        assert!(c.consume(400).is_none());
        c.receive(200).unwrap();
        let adjust = c.consume(200).unwrap();
        assert_eq!(&adjust[5..9], &600u32.to_be_bytes());
        c.receive(500).unwrap();
        c.receive(500).unwrap();
        assert!(c.receive(1).is_err());
    }

    #[test]
    fn sends_respect_window_and_packet_size() {
        let mut c = Channel::new(7, 100, 50, 1000, 500);
        let (messages, n) = c.send(0, &[1u8; 150]);
        assert_eq!(n, 100);
        let packets: Vec<Vec<u8>> = messages.map(|(h, d)| [h.bytes(), d].concat()).collect();
        assert_eq!(packets.len(), 3); // 41 + 41 + 18 bytes of data
        assert!(packets.iter().all(|p| p.len() <= 50));
        assert_eq!(&packets[2][..9], &[msg::CHANNEL_DATA, 0, 0, 0, 7, 0, 0, 0, 18]);
        assert!(c.window_adjust(10).unwrap());
        assert!(!c.window_adjust(10).unwrap());
        assert!(c.window_adjust(u32::MAX).is_err());
    }

    #[test]
    fn extended_data_headers_carry_the_data_type() {
        let mut c = Channel::new(7, 100, 50, 1000, 500);
        let (messages, _) = c.send(1, &[2u8; 10]);
        let headers: Vec<Vec<u8>> = messages.map(|(h, _)| h.bytes().to_vec()).collect();
        assert_eq!(headers, [[msg::CHANNEL_EXTENDED_DATA, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 10]]);
    }
}
