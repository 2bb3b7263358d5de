//! The binary packet protocol (RFC 4253 §6): framing, padding, sequence numbers, payload compression, and
//! the four ways a packet can be protected (none, OpenSSH chacha20-poly1305, AES-GCM, AES-CTR with an HMAC
//! in either order). The length field is checked before any buffer is sized by it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::RngCore;

use crate::crypto::cipher::{cipher_key_len, ChaChaPoly, Gcm, PacketMac};
use crate::crypto::provider::{BlockCipher, CryptoProvider, SequentialCipher};
use crate::error::{Error, Result};
use crate::msg::DisconnectReason;
use crate::transport::compress::{Compression, Deflater, Inflater, MAX_INFLATED_LEN};
use crate::transport::negotiate::{CipherAlg, CompressionAlg, MacAlg};
use crate::wipe::{wipe, wipe_vec, SecretBytes};
use core::ops::Range;

/// Largest `packet_length` accepted: OpenSSH's limit, well above the 35000 bytes RFC 4253 §6.1 requires.
pub const MAX_PACKET_LEN: u32 = 256 * 1024;
// A MAC covers at most a packet and its length field: within what UMAC's 64-bit POLY serves.
const _: () = assert!(MAX_PACKET_LEN as usize + 4 <= crate::crypto::umac::MAX_MESSAGE);
const MIN_PADDING: usize = 4;

/// Keys for one direction, as derived after a key exchange, and the provider of the primitives they key.
pub struct DirectionKeys<'a> {
    pub cipher: CipherAlg,
    pub mac: Option<MacAlg>,
    pub key: &'a [u8],
    pub iv: &'a [u8],
    pub mac_key: &'a [u8],
    pub provider: &'a dyn CryptoProvider,
}

// The provider's keyed objects are boxed (key schedules and keyed MAC states are large); ChaChaPoly holds
// two keys besides.
#[derive(Default)]
enum Protection {
    #[default]
    Plain,
    ChaCha(Box<ChaChaPoly>),
    Gcm(Gcm),
    /// AES-CTR (16-byte blocks) or a CBC mode, with a MAC: the cipher, its block size, the MAC.
    Sequential(Box<dyn SequentialCipher>, usize, PacketMac),
}

impl Protection {
    /// `opening`: for the packets received (a CBC mode decrypts), or sent.
    fn new(keys: &DirectionKeys, opening: bool) -> Result<Self> {
        let bad = || Error::kex("could not key cipher");
        if keys.key.len() != cipher_key_len(keys.cipher) {
            return Err(bad());
        }
        let provider = keys.provider;
        let mac = || keys.mac.and_then(|m| PacketMac::new(provider, m, keys.mac_key)).ok_or_else(bad);
        let cbc = |cipher: BlockCipher| -> Result<Self> {
            let keyed = provider.cbc(cipher, keys.key, keys.iv, opening).ok_or_else(bad)?;
            Ok(Protection::Sequential(keyed, cipher.block_len(), mac()?))
        };
        Ok(match keys.cipher {
            CipherAlg::Chacha20Poly1305 => Protection::ChaCha(Box::new(ChaChaPoly::new(provider, keys.key).ok_or_else(bad)?)),
            CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => Protection::Gcm(Gcm::new(provider, keys.key, keys.iv).ok_or_else(bad)?),
            CipherAlg::Aes128Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes256Ctr => {
                Protection::Sequential(provider.aes_ctr(keys.key, keys.iv).ok_or_else(bad)?, 16, mac()?)
            }
            CipherAlg::Aes128Cbc | CipherAlg::Aes192Cbc | CipherAlg::Aes256Cbc => cbc(BlockCipher::Aes)?,
            CipherAlg::TripleDesCbc => cbc(BlockCipher::TripleDes)?,
            CipherAlg::BlowfishCbc => cbc(BlockCipher::Blowfish)?,
            CipherAlg::Cast128Cbc => cbc(BlockCipher::Cast128)?,
            CipherAlg::Arcfour | CipherAlg::Arcfour128 | CipherAlg::Arcfour256 => {
                let mut rc4 = provider.arcfour(keys.key).ok_or_else(bad)?;
                // RFC 4345: the improved forms throw away the first 1536 bytes of keystream.
                if keys.cipher != CipherAlg::Arcfour {
                    rc4.apply(&mut [0u8; 1536]);
                }
                // RC4 has no blocks; packets are padded to 8 bytes (RFC 4253 §6).
                Protection::Sequential(rc4, 8, mac()?)
            }
        })
    }

    fn block_size(&self) -> usize {
        match self {
            Protection::Plain | Protection::ChaCha(_) => 8,
            Protection::Gcm(_) => 16,
            Protection::Sequential(_, block, _) => *block,
        }
    }

    /// Whether the length field is outside the padded, encrypted region (AEAD and encrypt-then-MAC).
    fn length_outside(&self) -> bool {
        match self {
            Protection::Plain => false,
            Protection::ChaCha(_) | Protection::Gcm(_) => true,
            Protection::Sequential(_, _, mac) => mac.etm(),
        }
    }

    fn tag_len(&self) -> usize {
        match self {
            Protection::Plain => 0,
            Protection::ChaCha(_) => ChaChaPoly::TAG_LEN,
            Protection::Gcm(_) => Gcm::TAG_LEN,
            Protection::Sequential(_, _, mac) => mac.tag_len(),
        }
    }
}

/// Seals outgoing payloads into packets.
#[derive(Default)]
pub struct Sealer {
    protection: Protection,
    compression: Compression<Deflater>,
    /// The compressed payload being sealed, kept to reuse its allocation.
    compressed: Vec<u8>,
    seq: u32,
}

impl Sealer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn rekey(&mut self, keys: &DirectionKeys) -> Result<()> {
        self.protection = Protection::new(keys, false)?;
        Ok(())
    }

    /// The compression that comes with the keys just set by [`Sealer::rekey`].
    pub fn set_compression(&mut self, alg: CompressionAlg) {
        self.compression.rekeyed(alg);
    }

    /// Called once USERAUTH_SUCCESS is sealed: delayed compression starts with the next packet.
    pub fn authenticated(&mut self) {
        self.compression.authenticated();
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    /// Appends the packet carrying `payload` to `out`; returns the number of bytes appended.
    pub fn seal(&mut self, payload: &[u8], rng: &mut impl RngCore, out: &mut Vec<u8>) -> Result<usize> {
        self.seal_parts(&[payload], rng, out)
    }

    /// Appends the packet whose payload is `parts` one after another (a channel data header and the data,
    /// framed straight from where the host put them rather than copied together first).
    pub fn seal_parts(&mut self, parts: &[&[u8]], rng: &mut impl RngCore, out: &mut Vec<u8>) -> Result<usize> {
        let mut compressed = core::mem::take(&mut self.compressed);
        let sealed = match self.compression.stream() {
            Some(deflater) => {
                compressed.clear();
                let payload = parts.concat();
                deflater.compress(&payload, &mut compressed).map(|()| self.seal_framed(&[&compressed], rng, out))
            }
            None => Ok(self.seal_framed(parts, rng, out)),
        };
        self.compressed = compressed;
        sealed
    }

    fn seal_framed(&mut self, parts: &[&[u8]], rng: &mut impl RngCore, out: &mut Vec<u8>) -> usize {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let block = self.protection.block_size();
        let outside = self.protection.length_outside();
        let covered = 1 + payload_len + if outside { 0 } else { 4 };
        let mut padding = block - covered % block;
        if padding < MIN_PADDING {
            padding += block;
        }
        let packet_len = 1 + payload_len + padding;
        let start = out.len();
        out.reserve(4 + packet_len + self.protection.tag_len());
        out.extend_from_slice(&(packet_len as u32).to_be_bytes());
        out.push(padding as u8);
        for part in parts {
            out.extend_from_slice(part);
        }
        let mut pad = [0u8; 32];
        let pad = pad.get_mut(..padding).unwrap_or_default();
        if !matches!(self.protection, Protection::Plain) {
            rng.fill_bytes(pad);
        }
        out.extend_from_slice(pad);

        let seq = self.seq;
        let packet = out.get_mut(start..).unwrap_or_default();
        match &mut self.protection {
            Protection::Plain => {}
            Protection::ChaCha(c) => {
                let tag = c.seal(seq, packet);
                out.extend_from_slice(&tag);
            }
            Protection::Gcm(g) => {
                let (len, body) = packet.split_at_mut(4);
                let tag = g.seal(len, body);
                out.extend_from_slice(&tag);
            }
            Protection::Sequential(ctr, _, mac) => {
                if mac.etm() {
                    if let Some(body) = packet.get_mut(4..) {
                        ctr.apply(body);
                    }
                    let tag = mac.sign(seq, packet);
                    out.extend_from_slice(tag.as_ref());
                } else {
                    let tag = mac.sign(seq, packet);
                    ctr.apply(packet);
                    out.extend_from_slice(tag.as_ref());
                }
            }
        }
        self.seq = seq.wrapping_add(1);
        out.len() - start
    }
}

/// Buffered inbound bytes, consumed from the front. Packets are decrypted in place here, so the buffer is
/// moved and grown by hand, wiping what it leaves behind: no copy of a decrypted packet outlives it.
#[derive(Default)]
pub struct RxBuf {
    buf: Vec<u8>,
    start: usize,
}

/// An empty buffer keeps at most this much capacity: what a burst needed goes back to the allocator.
const RX_KEPT_CAPACITY: usize = 512 * 1024;
/// An emptied buffer that held less than this gives its room back: a connection that reads little (a
/// handshake step, an idle session's keepalive) holds none, while one reading bulk data keeps its buffer.
const RX_KEPT_MIN: usize = 16 * 1024;

impl RxBuf {
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            let live = self.buf.len() - self.start;
            self.buf.copy_within(self.start.., 0);
            wipe(self.buf.get_mut(live..).unwrap_or_default());
            self.buf.truncate(live);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < bytes.len() {
            let mut grown = Vec::with_capacity((self.buf.len() + bytes.len()).max(self.buf.capacity() * 2));
            grown.extend_from_slice(&self.buf);
            wipe_vec(&mut self.buf);
            self.buf = grown;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.start..).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.start = 0;
            if self.buf.capacity() > RX_KEPT_CAPACITY || self.buf.len() < RX_KEPT_MIN {
                wipe_vec(&mut self.buf);
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }
}

impl Drop for RxBuf {
    fn drop(&mut self) {
        wipe_vec(&mut self.buf);
    }
}

/// Opens inbound packets.
#[derive(Default)]
pub struct Opener {
    protection: Protection,
    compression: Compression<Inflater>,
    seq: u32,
    /// `packet_length` of the packet in progress, once read; for AES-CTR without encrypt-then-MAC the
    /// first block has then already been decrypted in place.
    pending_len: Option<u32>,
    /// A packet opened in place and not yet released.
    in_place: Option<InPlace>,
}

impl Opener {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn rekey(&mut self, keys: &DirectionKeys) -> Result<()> {
        self.protection = Protection::new(keys, true)?;
        Ok(())
    }

    /// The compression that comes with the keys just set by [`Opener::rekey`].
    pub fn set_compression(&mut self, alg: CompressionAlg) {
        self.compression.rekeyed(alg);
    }

    /// Called once USERAUTH_SUCCESS is sent: the client compresses from its next packet.
    pub fn authenticated(&mut self) {
        self.compression.authenticated();
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    fn check_length(&self, len: u32) -> Result<()> {
        let block = self.protection.block_size() as u32;
        if !(5..=MAX_PACKET_LEN).contains(&len) {
            return Err(Error::protocol(alloc::format!("bad packet length {len}")));
        }
        let aligned = if self.protection.length_outside() { len } else { len + 4 };
        if aligned % block != 0 {
            return Err(Error::protocol(alloc::format!("bad packet length {len}")));
        }
        Ok(())
    }

    /// Opens the whole packet at the front of `rx`, or returns `None` if more bytes are needed. Errors are
    /// fatal to the connection. A payload opened in place stays in `rx` until [`Opener::release`], which the
    /// next call makes first.
    pub fn open(&mut self, rx: &mut RxBuf) -> Result<Option<Opened>> {
        self.release(rx);
        let block = self.protection.block_size();
        let len = match self.pending_len {
            Some(len) => len,
            None => {
                let first = if self.protection.length_outside() { 4 } else { block };
                let Some(head) = rx.bytes_mut().get_mut(..first) else {
                    return Ok(None);
                };
                let len = match &mut self.protection {
                    Protection::ChaCha(c) => {
                        let mut enc = [0u8; 4];
                        enc.copy_from_slice(head.get(..4).unwrap_or(&[0; 4]));
                        c.packet_length(self.seq, enc)
                    }
                    Protection::Sequential(ctr, _, mac) if !mac.etm() => {
                        ctr.apply(head);
                        read_u32(head)
                    }
                    _ => read_u32(head),
                };
                self.check_length(len)?;
                self.pending_len = Some(len);
                len
            }
        };
        let packet_end = 4 + len as usize;
        let tag_len = self.protection.tag_len();
        if rx.len() < packet_end + tag_len {
            return Ok(None);
        }
        let seq = self.seq;
        let bytes = rx.bytes_mut();
        let (packet, rest) = bytes.split_at_mut(packet_end);
        let tag = rest.get(..tag_len).unwrap_or_default();
        let mac_error = |_| Error::new(DisconnectReason::MacError, "message authentication code incorrect");
        match &mut self.protection {
            Protection::Plain => {}
            Protection::ChaCha(c) => c.open(seq, packet, tag).map_err(mac_error)?,
            Protection::Gcm(g) => {
                let (aad, body) = packet.split_at_mut(4);
                g.open(aad, body, tag).map_err(mac_error)?;
            }
            Protection::Sequential(ctr, _, mac) => {
                if mac.etm() {
                    mac.verify(seq, packet, tag).map_err(mac_error)?;
                    if let Some(body) = packet.get_mut(4..) {
                        ctr.apply(body);
                    }
                } else {
                    if let Some(body) = packet.get_mut(block..) {
                        ctr.apply(body);
                    }
                    mac.verify(seq, packet, tag).map_err(mac_error)?;
                }
            }
        }
        let padding = usize::from(packet.get(4).copied().unwrap_or(0));
        let payload_end = packet_end.saturating_sub(padding);
        if padding < MIN_PADDING || payload_end <= 5 {
            wipe(packet);
            return Err(Error::protocol("bad padding length"));
        }
        self.pending_len = None;
        self.seq = seq.wrapping_add(1);
        let wire = packet_end + tag_len;
        let payload = match self.compression.stream() {
            Some(inflater) => {
                let inflated = packet.get(5..payload_end).map(|p| inflater.decompress(p, MAX_INFLATED_LEN));
                // The caller has its copy; the decrypted packet does not stay in the buffer.
                wipe(packet);
                rx.consume(wire);
                let inflated = inflated.unwrap_or_else(|| Err(Error::protocol("bad padding length")))?;
                if inflated.is_empty() {
                    return Err(Error::new(DisconnectReason::CompressionError, "compressed packet carries no message"));
                }
                Payload::Inflated(SecretBytes::new(inflated))
            }
            None => {
                self.in_place = Some(InPlace { payload: 5..payload_end, decrypted: packet_end, wire });
                Payload::InPlace
            }
        };
        Ok(Some(Opened { payload, wire }))
    }

    /// The payload of the packet [`Opener::open`] left in place, if it did.
    pub fn lent<'a>(&self, rx: &'a RxBuf) -> &'a [u8] {
        self.in_place.as_ref().and_then(|p| rx.bytes().get(p.payload.clone())).unwrap_or_default()
    }

    /// Wipes the packet opened in place and takes it off the buffer: no decrypted copy outlives its use.
    pub fn release(&mut self, rx: &mut RxBuf) {
        if let Some(p) = self.in_place.take() {
            wipe(rx.bytes_mut().get_mut(..p.decrypted).unwrap_or_default());
            rx.consume(p.wire);
        }
    }
}

/// A packet [`Opener::open`] opened: its payload, and the bytes it took on the wire.
pub struct Opened {
    pub payload: Payload,
    pub wire: usize,
}

/// A packet opened in place: where its payload lies in the receive buffer, and how far its decrypted bytes
/// and its bytes on the wire reach.
struct InPlace {
    payload: Range<usize>,
    decrypted: usize,
    wire: usize,
}

pub enum Payload {
    /// The payload lies in the receive buffer, decrypted in place ([`Opener::lent`]), until [`Opener::release`].
    InPlace,
    /// A compressed packet's payload, inflated.
    Inflated(SecretBytes),
}

fn read_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn pair(cipher: CipherAlg, mac: Option<MacAlg>) -> (Sealer, Opener) {
        let key = [0x42u8; 64];
        let iv = [0x24u8; 16];
        let keys = DirectionKeys {
            cipher,
            mac,
            key: &key[..crate::crypto::cipher::cipher_key_len(cipher)],
            iv: &iv[..crate::crypto::cipher::cipher_iv_len(cipher)],
            mac_key: &key[..mac.map(crate::crypto::cipher::mac_key_len).unwrap_or(0)],
            provider: &crate::crypto::rustcrypto::RUST_CRYPTO,
        };
        let (mut s, mut o) = (Sealer::new(), Opener::new());
        s.rekey(&keys).unwrap();
        o.rekey(&keys).unwrap();
        (s, o)
    }

    /// The next payload `o` opens, copied out.
    fn next(o: &mut Opener, rx: &mut RxBuf) -> Result<Option<Vec<u8>>> {
        let Some(opened) = o.open(rx)? else {
            return Ok(None);
        };
        Ok(Some(match opened.payload {
            Payload::InPlace => o.lent(rx).to_vec(),
            Payload::Inflated(inflated) => inflated.to_vec(),
        }))
    }

    fn all_suites() -> Vec<(CipherAlg, Option<MacAlg>)> {
        let mut v = alloc::vec![(CipherAlg::Chacha20Poly1305, None), (CipherAlg::Aes128Gcm, None), (CipherAlg::Aes256Gcm, None)];
        for c in [CipherAlg::Aes128Ctr, CipherAlg::Aes192Ctr, CipherAlg::Aes256Ctr] {
            for m in MacAlg::ALL {
                v.push((c, Some(*m)));
            }
        }
        v
    }

    #[test]
    fn every_suite_round_trips_byte_by_byte() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for (cipher, mac) in all_suites() {
            let (mut s, mut o) = pair(cipher, mac);
            let mut wire = Vec::new();
            let payloads: Vec<Vec<u8>> = (0..20).map(|i| (0..i * 37 + 1).map(|b| b as u8).collect()).collect();
            for p in &payloads {
                s.seal(p, &mut rng, &mut wire).unwrap();
            }
            let mut rx = RxBuf::default();
            let mut got = Vec::new();
            for b in wire {
                rx.extend(&[b]);
                while let Some(p) = next(&mut o, &mut rx).unwrap() {
                    got.push(p);
                }
            }
            assert_eq!(got, payloads, "{cipher:?} {mac:?}");
            assert!(rx.is_empty());
        }
    }

    #[test]
    fn any_flipped_bit_is_a_mac_error() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for (cipher, mac) in all_suites() {
            let (mut s, _) = pair(cipher, mac);
            let mut wire = Vec::new();
            s.seal(b"\x05hello world", &mut rng, &mut wire).unwrap();
            // Flip one bit in the body (past the length field) and one in the tag.
            for pos in [wire.len() - 20, wire.len() - 1] {
                let (_, mut o) = pair(cipher, mac);
                let mut bad = wire.clone();
                bad[pos] ^= 1;
                let mut rx = RxBuf::default();
                rx.extend(&bad);
                let err = next(&mut o, &mut rx).unwrap_err();
                assert_eq!(err.reason, DisconnectReason::MacError, "{cipher:?} {mac:?} at {pos}");
            }
        }
    }

    #[test]
    fn absurd_lengths_are_rejected_before_buffering() {
        for len in [0u32, 1, 4, 0xffff_ffff, MAX_PACKET_LEN + 8, 13] {
            let mut o = Opener::new();
            let mut rx = RxBuf::default();
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[4, 0, 0, 0]);
            rx.extend(&bytes);
            let err = next(&mut o, &mut rx).unwrap_err();
            assert_eq!(err.reason, DisconnectReason::ProtocolError, "length {len}");
        }
    }

    #[test]
    fn padding_longer_than_packet_is_an_error() {
        let mut o = Opener::new();
        let mut rx = RxBuf::default();
        rx.extend(&[0, 0, 0, 12, 200, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(next(&mut o, &mut rx).unwrap_err().reason, DisconnectReason::ProtocolError);
    }
}
