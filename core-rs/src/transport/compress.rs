//! Payload compression (RFC 4253 §6.2). Each direction is one zlib stream, flushed at the end of every packet
//! so the peer can decode each packet as it arrives. A stream starts afresh whenever new keys take effect, as
//! OpenSSH does. `zlib@openssh.com` is the same stream, started only once the user has authenticated, so
//! nothing an unauthenticated client sends is ever inflated.
//!
//! Inflation is where a client can make the server do far more work than it sent bytes for (a deflate
//! stream expands up to about 1032 times), so every packet's output is capped at the packet limit and
//! the stream is dropped the moment it passes it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush};

use crate::error::{Error, Result};
use crate::msg::DisconnectReason;
use crate::transport::negotiate::CompressionAlg;
use crate::transport::packet::MAX_PACKET_LEN;

/// The largest payload a compressed packet may inflate to: what an uncompressed packet may carry.
pub const MAX_INFLATED_LEN: usize = MAX_PACKET_LEN as usize;

/// zlib's default level, as OpenSSH uses; levels change speed, not the memory a stream holds.
const LEVEL: i32 = 6;
const WINDOW_BITS: i32 = 15;

fn compression_error(description: &'static str) -> Error {
    Error::new(DisconnectReason::CompressionError, description)
}

/// One direction's zlib stream.
pub trait ZlibStream: Sized {
    fn fresh() -> Self;
}

/// The compressing side: about 300 KiB of tables, allocated only while compression is on.
pub struct Deflater(Box<CompressorOxide>);

impl ZlibStream for Deflater {
    fn fresh() -> Self {
        Deflater(Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL, WINDOW_BITS, 0))))
    }
}

impl Deflater {
    /// Appends `payload` compressed, with a sync flush so it stands on its own, to `out`.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut input = payload;
        loop {
            // Deflate output is at most a little larger than its input; one round is the rule.
            let room = input.len() + input.len() / 8 + 64;
            let start = out.len();
            out.resize(start + room, 0);
            let result = miniz_oxide::deflate::stream::deflate(&mut self.0, input, out.get_mut(start..).unwrap_or_default(), MZFlush::Sync);
            out.truncate(start + result.bytes_written);
            input = input.get(result.bytes_consumed..).unwrap_or_default();
            match result.status {
                Ok(_) | Err(MZError::Buf) => {}
                Err(_) => return Err(compression_error("compression failed")),
            }
            if input.is_empty() && result.bytes_written < room {
                return Ok(());
            }
        }
    }
}

/// The inflating side: a 32 KiB window and decoding tables.
pub struct Inflater(Box<InflateState>);

impl ZlibStream for Inflater {
    fn fresh() -> Self {
        Inflater(InflateState::new_boxed(DataFormat::Zlib))
    }
}

impl Inflater {
    /// Inflates one packet's worth of the stream. More than `limit` bytes of output is an error, found as
    /// soon as the output passes the limit rather than after inflating everything.
    pub fn decompress(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>> {
        // Room for a typical ratio at first, doubled while it fills; one byte past the limit at most, which
        // is enough to see it passed.
        let mut room = data.len().saturating_mul(4).clamp(256, 64 * 1024);
        let mut out = Vec::new();
        let mut input = data;
        loop {
            let start = out.len();
            let chunk = room.min(limit.saturating_add(1).saturating_sub(start));
            out.resize(start + chunk, 0);
            let result = miniz_oxide::inflate::stream::inflate(&mut self.0, input, out.get_mut(start..).unwrap_or_default(), MZFlush::None);
            out.truncate(start + result.bytes_written);
            input = input.get(result.bytes_consumed..).unwrap_or_default();
            if out.len() > limit {
                return Err(compression_error("packet inflates past the packet size limit"));
            }
            let full = result.bytes_written == chunk;
            room = room.saturating_mul(2);
            let progressed = result.bytes_consumed > 0 || result.bytes_written > 0;
            match result.status {
                // Buf means nothing more can be done with what arrived: the normal end of a packet.
                Ok(_) | Err(MZError::Buf) if input.is_empty() && !full => return Ok(out),
                Ok(_) | Err(MZError::Buf) if progressed => {}
                Ok(_) | Err(MZError::Buf) => return Err(compression_error("data after the end of the compressed stream")),
                Err(_) => return Err(compression_error("corrupt compressed data")),
            }
        }
    }
}

/// Whether and how one direction compresses: the negotiated algorithm and, once started, its stream.
pub struct Compression<S: ZlibStream> {
    alg: CompressionAlg,
    authenticated: bool,
    stream: Option<S>,
}

impl<S: ZlibStream> Default for Compression<S> {
    fn default() -> Self {
        Compression { alg: CompressionAlg::None, authenticated: false, stream: None }
    }
}

impl<S: ZlibStream> Compression<S> {
    /// New keys took effect with `alg`: any stream in progress ends, and a fresh one starts if `alg` is
    /// active now.
    pub fn rekeyed(&mut self, alg: CompressionAlg) {
        self.alg = alg;
        self.stream = None;
        self.start_if_due();
    }

    /// The user has authenticated: the delayed algorithm starts with the next packet.
    pub fn authenticated(&mut self) {
        self.authenticated = true;
        if self.stream.is_none() {
            self.start_if_due();
        }
    }

    fn start_if_due(&mut self) {
        let due = match self.alg {
            CompressionAlg::None => false,
            CompressionAlg::Zlib => true,
            CompressionAlg::ZlibOpenssh => self.authenticated,
        };
        if due {
            self.stream = Some(S::fresh());
        }
    }

    pub fn stream(&mut self) -> Option<&mut S> {
        self.stream.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate_all(d: &mut Deflater, packets: &[&[u8]]) -> Vec<Vec<u8>> {
        packets
            .iter()
            .map(|p| {
                let mut out = Vec::new();
                d.compress(p, &mut out).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn a_stream_of_packets_round_trips_one_packet_at_a_time() {
        let packets: Vec<Vec<u8>> = (0..50u32).map(|i| (0..i * 997).map(|b| (b % 251) as u8 ^ (i as u8)).collect()).collect();
        let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
        let mut d = Deflater::fresh();
        let mut i = Inflater::fresh();
        for (plain, packed) in packets.iter().zip(deflate_all(&mut d, &refs)) {
            assert_eq!(&i.decompress(&packed, MAX_INFLATED_LEN).unwrap(), plain);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = alloc::vec![0u8; 4 * 1024 * 1024];
        let mut packed = Vec::new();
        Deflater::fresh().compress(&zeros, &mut packed).unwrap();
        assert!(packed.len() < 8 * 1024, "4 MiB of zeros packs into {} bytes", packed.len());
        let err = Inflater::fresh().decompress(&packed, MAX_INFLATED_LEN).unwrap_err();
        assert_eq!(err.reason, DisconnectReason::CompressionError);
        // Exactly at the limit is allowed.
        let mut packed = Vec::new();
        Deflater::fresh().compress(&zeros[..MAX_INFLATED_LEN], &mut packed).unwrap();
        assert_eq!(Inflater::fresh().decompress(&packed, MAX_INFLATED_LEN).unwrap().len(), MAX_INFLATED_LEN);
    }

    #[test]
    fn garbage_and_truncation_are_compression_errors() {
        let mut packed = Vec::new();
        Deflater::fresh().compress(b"hello hello hello hello", &mut packed).unwrap();
        let err = Inflater::fresh().decompress(&[0xff; 40], MAX_INFLATED_LEN).unwrap_err();
        assert_eq!(err.reason, DisconnectReason::CompressionError);
        for cut in 1..packed.len() {
            // A cut packet either yields a prefix (the rest would come in the next packet) or an error;
            // never more than was sent.
            if let Ok(out) = Inflater::fresh().decompress(&packed[..cut], MAX_INFLATED_LEN) {
                assert!(b"hello hello hello hello".starts_with(&out), "cut {cut}");
            }
        }
    }

    #[test]
    fn delayed_compression_waits_for_authentication_and_restarts_on_rekey() {
        let mut c: Compression<Inflater> = Compression::default();
        c.rekeyed(CompressionAlg::ZlibOpenssh);
        assert!(c.stream().is_none());
        c.authenticated();
        assert!(c.stream().is_some());
        c.rekeyed(CompressionAlg::None);
        assert!(c.stream().is_none());
        c.rekeyed(CompressionAlg::ZlibOpenssh);
        assert!(c.stream().is_some(), "after authentication a rekey starts the delayed stream at once");
        let mut z: Compression<Deflater> = Compression::default();
        z.rekeyed(CompressionAlg::Zlib);
        assert!(z.stream().is_some());
    }
}
