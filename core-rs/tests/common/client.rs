//! A minimal SSH client for driving the server in tests. It speaks the transport layer itself (version
//! line, KEXINIT, curve25519-sha256, NEWKEYS, strict kex, EXT_INFO) and hands every other message to
//! the test through `inbox`. The exchange hash is rebuilt here from RFC 4253 §8 with `sha2` directly,
//! so a server that hashed the wrong thing would fail signature verification on this side.

use std::collections::VecDeque;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use wasshd_core::crypto::rustcrypto::RUST_CRYPTO;
use wasshd_core::keys::{KeyAlg, PublicKey, SigAlg};
use wasshd_core::msg;
use wasshd_core::transport::kex::{derive_keys, Keys};
use wasshd_core::transport::negotiate::{CipherAlg, CompressionAlg, KexAlg, KexInit, MacAlg, Negotiated};
use wasshd_core::transport::packet::{DirectionKeys, Opener, Payload, RxBuf, Sealer};
use wasshd_core::wire::{Reader, Writer};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};

/// What the client offers. Lists are comma-separated, most preferred first.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub version: String,
    pub kex: String,
    pub cipher: String,
    pub mac: String,
    pub strict: bool,
    pub ext_info: bool,
    /// Compression algorithms offered, both directions.
    pub compression: String,
    /// A packet sent right after the first KEXINIT, which then sets `first_kex_packet_follows`.
    pub guessed_packet: Option<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            version: "SSH-2.0-TestClient_1.0".into(),
            kex: "curve25519-sha256".into(),
            cipher: "chacha20-poly1305@openssh.com".into(),
            mac: "hmac-sha2-256-etm@openssh.com".into(),
            strict: true,
            ext_info: true,
            compression: "none".into(),
            guessed_packet: None,
        }
    }
}

impl ClientOptions {
    pub fn suite(cipher: &str, mac: &str) -> Self {
        ClientOptions { cipher: cipher.into(), mac: mac.into(), ..Default::default() }
    }
}

struct KexProgress {
    ours: Vec<u8>,
    theirs: Option<Vec<u8>>,
    negotiated: Option<Negotiated>,
    secret: Option<StaticSecret>,
    /// Our NEWKEYS is out: service messages may flow again.
    newkeys_sent: bool,
    /// Keys for the server-to-client direction, waiting for the server's NEWKEYS.
    s2c: Option<Keys>,
}

pub struct Client {
    pub opts: ClientOptions,
    rng: ChaCha20Rng,
    /// Bytes for the server.
    pub out: Vec<u8>,
    rx: RxBuf,
    opener: Opener,
    sealer: Sealer,
    pub server_version: Option<String>,
    kex: Option<KexProgress>,
    held: Vec<Vec<u8>>,
    pub session_id: Option<Vec<u8>>,
    pub host_key: Option<PublicKey>,
    pub strict: bool,
    /// Key exchanges completed in both directions.
    pub kexes_done: u32,
    /// The last negotiated algorithms.
    pub negotiated: Option<Negotiated>,
    /// Messages for the test, in arrival order.
    pub inbox: VecDeque<Vec<u8>>,
    /// Extensions from SSH_MSG_EXT_INFO.
    pub ext_info: Option<Vec<(String, Vec<u8>)>>,
    /// The server's `hostkeys-00@openssh.com` announcements, kept apart as a client that does not update its
    /// known hosts would pass them over.
    pub host_key_announcements: Vec<Vec<u8>>,
    /// The server's DISCONNECT: reason code and description.
    pub disconnect: Option<(u32, String)>,
    /// A failure on our side (bad MAC, bad signature, ...): the test decides whether it is expected.
    pub error: Option<String>,
    /// Server KEXINITs seen, the initial one included.
    pub server_kexinits: u32,
    /// Hands every message to the test, KEXINIT included, and never answers on its own.
    pub passive: bool,
    /// Our client-to-server keys from the last exchange, for tests that build packets by hand.
    pub c2s_keys: Option<RawKeys>,
}

/// One direction's key material as plain bytes (a test copy: nothing here is secret).
#[derive(Clone, Debug)]
pub struct RawKeys {
    pub cipher: CipherAlg,
    pub mac: Option<MacAlg>,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub mac_key: Vec<u8>,
}

impl Client {
    pub fn new(opts: ClientOptions, seed: u64) -> Self {
        let mut c = Client::silent(opts, seed);
        c.passive = false;
        let line = format!("{}\r\n", c.opts.version);
        c.out.extend_from_slice(line.as_bytes());
        c.start_kex();
        c
    }

    /// A client that sends `prelude` (sealed in the clear, counted in its sequence numbers) after its
    /// version line and before its KEXINIT.
    pub fn with_prelude(opts: ClientOptions, seed: u64, prelude: &[&[u8]]) -> Self {
        let mut c = Client::silent(opts, seed);
        c.passive = false;
        let line = format!("{}\r\n", c.opts.version);
        c.out.extend_from_slice(line.as_bytes());
        for payload in prelude {
            c.seal_now(payload);
        }
        c.start_kex();
        c
    }

    /// A client that sends nothing on its own, not even its version line: the test writes every byte.
    pub fn silent(opts: ClientOptions, seed: u64) -> Self {
        Client {
            opts,
            rng: ChaCha20Rng::seed_from_u64(seed),
            out: Vec::new(),
            rx: RxBuf::default(),
            opener: Opener::new(),
            sealer: Sealer::new(),
            server_version: None,
            kex: None,
            held: Vec::new(),
            session_id: None,
            host_key: None,
            strict: false,
            kexes_done: 0,
            negotiated: None,
            inbox: VecDeque::new(),
            host_key_announcements: Vec::new(),
            ext_info: None,
            disconnect: None,
            error: None,
            server_kexinits: 0,
            passive: true,
            c2s_keys: None,
        }
    }

    pub fn in_kex(&self) -> bool {
        self.kex.is_some()
    }

    pub fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The client's side of the sequence counter for the next packet it seals.
    pub fn send_seq(&self) -> u32 {
        self.sealer.seq()
    }

    /// Sends a service payload, holding it back while a key exchange is in progress.
    pub fn send(&mut self, payload: &[u8]) {
        if self.kex.as_ref().is_some_and(|k| !k.newkeys_sent) {
            self.held.push(payload.to_vec());
        } else {
            self.seal_now(payload);
        }
    }

    /// Seals a payload at once, whatever the key exchange state.
    pub fn seal_now(&mut self, payload: &[u8]) {
        let mut out = std::mem::take(&mut self.out);
        self.sealer.seal(payload, &mut self.rng, &mut out).expect("client seal");
        self.out = out;
    }

    /// Seals a payload into a separate buffer (to damage it before sending); the sequence number advances.
    pub fn seal_detached(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        self.sealer.seal(payload, &mut self.rng, &mut v).expect("client seal");
        v
    }

    pub fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    /// Starts a key (re-)exchange from our side.
    pub fn rekey(&mut self) {
        assert!(self.kex.is_none(), "client already in a key exchange");
        self.start_kex();
    }

    fn kexinit_payload(&mut self, initial: bool) -> Vec<u8> {
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let mut kex = self.opts.kex.clone();
        if initial && self.opts.ext_info {
            kex.push_str(",ext-info-c");
        }
        if initial && self.opts.strict {
            kex.push_str(",kex-strict-c-v00@openssh.com");
        }
        let mut w = Writer::message(msg::KEXINIT);
        w.raw(&cookie);
        for list in [
            kex.as_str(),
            "ssh-ed25519",
            &self.opts.cipher,
            &self.opts.cipher,
            &self.opts.mac,
            &self.opts.mac,
            &self.opts.compression,
            &self.opts.compression,
            "",
            "",
        ] {
            w.string(list.as_bytes());
        }
        w.bool(initial && self.opts.guessed_packet.is_some()).u32(0);
        w.into_vec()
    }

    fn start_kex(&mut self) {
        let initial = self.session_id.is_none();
        let ours = self.kexinit_payload(initial);
        self.seal_now(&ours);
        if let Some(guess) = self.opts.guessed_packet.clone().filter(|_| initial) {
            self.seal_now(&guess);
        }
        self.kex = Some(KexProgress { ours, theirs: None, negotiated: None, secret: None, newkeys_sent: false, s2c: None });
    }

    /// Bytes from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.disconnect.is_some() || self.error.is_some() {
            return;
        }
        self.rx.extend(bytes);
        if self.server_version.is_none() {
            let Some(nl) = self.rx.bytes().iter().position(|&b| b == b'\n') else { return };
            let line = String::from_utf8_lossy(&self.rx.bytes()[..nl]).trim_end_matches('\r').to_string();
            self.rx.consume(nl + 1);
            assert!(line.starts_with("SSH-2.0-"), "server version line {line:?}");
            self.server_version = Some(line);
        }
        loop {
            match open_next(&mut self.opener, &mut self.rx) {
                Ok(Some(payload)) => {
                    if let Err(e) = self.handle(&payload) {
                        self.error = Some(e);
                        return;
                    }
                    if self.disconnect.is_some() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.error = Some(format!("client could not open a packet: {e:?}"));
                    return;
                }
            }
        }
    }

    fn handle(&mut self, payload: &[u8]) -> Result<(), String> {
        if payload[0] == msg::USERAUTH_SUCCESS {
            // Delayed compression starts after this packet, as the server started it after sending it.
            self.sealer.authenticated();
            self.opener.authenticated();
        }
        if self.passive && payload[0] != msg::DISCONNECT {
            self.inbox.push_back(payload.to_vec());
            return Ok(());
        }
        match payload[0] {
            msg::KEXINIT => self.on_kexinit(payload),
            msg::KEX_ECDH_REPLY => self.on_reply(payload),
            msg::NEWKEYS => self.on_newkeys(),
            msg::EXT_INFO => {
                let mut r = Reader::new(payload);
                r.u8().unwrap();
                let n = r.u32().map_err(|e| format!("{e:?}"))?;
                let mut exts = Vec::new();
                for _ in 0..n {
                    let name = r.utf8_owned().map_err(|e| format!("{e:?}"))?;
                    let value = r.string().map_err(|e| format!("{e:?}"))?.to_vec();
                    exts.push((name, value));
                }
                r.finish().map_err(|e| format!("EXT_INFO: {e:?}"))?;
                self.ext_info = Some(exts);
                Ok(())
            }
            msg::DISCONNECT => {
                let mut r = Reader::new(payload);
                r.u8().unwrap();
                let reason = r.u32().map_err(|e| format!("{e:?}"))?;
                let description = r.utf8_owned().map_err(|e| format!("{e:?}"))?;
                r.string().map_err(|e| format!("{e:?}"))?; // language
                r.finish().map_err(|e| format!("DISCONNECT: {e:?}"))?;
                self.disconnect = Some((reason, description));
                Ok(())
            }
            msg::GLOBAL_REQUEST if payload[1..].starts_with(b"\x00\x00\x00\x17hostkeys-00@openssh.com") => {
                self.host_key_announcements.push(payload.to_vec());
                Ok(())
            }
            _ => {
                if self.kex.as_ref().is_some_and(|k| k.theirs.is_some() && k.s2c.is_some()) {
                    return Err(format!("server sent message {} between KEX reply and NEWKEYS", payload[0]));
                }
                self.inbox.push_back(payload.to_vec());
                Ok(())
            }
        }
    }

    fn on_kexinit(&mut self, payload: &[u8]) -> Result<(), String> {
        self.server_kexinits += 1;
        if self.kex.is_none() {
            self.start_kex();
        }
        let server = KexInit::decode(payload).map_err(|e| format!("server KEXINIT: {e:?}"))?;
        let initial = self.session_id.is_none();
        let kex = self.kex.as_mut().unwrap();
        if kex.theirs.is_some() {
            return Err("second server KEXINIT in one exchange".into());
        }
        if initial {
            self.strict = self.opts.strict && server.kex.split(',').any(|n| n == "kex-strict-s-v00@openssh.com");
        }
        let pick =
            |ours: &str, theirs: &str| -> Option<String> { ours.split(',').find(|a| theirs.split(',').any(|b| b == *a)).map(String::from) };
        let cipher_c2s = CipherAlg::from_name(&pick(&self.opts.cipher, &server.cipher_c2s).ok_or("no cipher")?).ok_or("cipher")?;
        let cipher_s2c = CipherAlg::from_name(&pick(&self.opts.cipher, &server.cipher_s2c).ok_or("no cipher")?).ok_or("cipher")?;
        let mac = |cipher: CipherAlg, list: &str| -> Result<Option<MacAlg>, String> {
            if cipher.is_aead() {
                return Ok(None);
            }
            let name = pick(&self.opts.mac, list).ok_or("no MAC")?;
            Ok(Some(MacAlg::from_name(&name).ok_or("MAC")?))
        };
        let compression = |list: &str| -> Result<CompressionAlg, String> {
            CompressionAlg::from_name(&pick(&self.opts.compression, list).ok_or("no compression")?).ok_or_else(|| "compression".into())
        };
        let negotiated = Negotiated {
            kex: KexAlg::from_name(&pick(&self.opts.kex, &server.kex).ok_or("no kex")?).ok_or("kex")?,
            host_key: KeyAlg::from_name(&pick("ssh-ed25519", &server.host_key).ok_or("no host key")?).ok_or("hk")?,
            cipher_c2s,
            cipher_s2c,
            mac_c2s: mac(cipher_c2s, &server.mac_c2s)?,
            mac_s2c: mac(cipher_s2c, &server.mac_s2c)?,
            compression_c2s: compression(&server.compression_c2s)?,
            compression_s2c: compression(&server.compression_s2c)?,
        };
        kex.theirs = Some(payload.to_vec());
        kex.negotiated = Some(negotiated);
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let secret = StaticSecret::from(seed);
        let q_c = XPublic::from(&secret);
        kex.secret = Some(secret);
        let mut w = Writer::message(msg::KEX_ECDH_INIT);
        w.string(q_c.as_bytes());
        self.seal_now(w.as_slice());
        Ok(())
    }

    fn on_reply(&mut self, payload: &[u8]) -> Result<(), String> {
        let Some(kex) = self.kex.as_mut() else { return Err("KEX_ECDH_REPLY outside a key exchange".into()) };
        let (Some(theirs), Some(negotiated), Some(secret)) = (kex.theirs.as_ref(), kex.negotiated, kex.secret.take()) else {
            return Err("KEX_ECDH_REPLY before KEXINIT".into());
        };
        let mut r = Reader::new(payload);
        r.u8().unwrap();
        let wire = |e| format!("KEX_ECDH_REPLY: {e:?}");
        let k_s = r.string().map_err(wire)?;
        let q_s: [u8; 32] = r.string().map_err(wire)?.try_into().map_err(|_| "Q_S is not 32 bytes")?;
        let sig = r.string().map_err(wire)?;
        r.finish().map_err(wire)?;
        let q_c = XPublic::from(&secret);
        let shared = secret.diffie_hellman(&XPublic::from(q_s));
        let k = mpint(shared.as_bytes());
        let h = exchange_hash(
            self.opts.version.as_bytes(),
            self.server_version.as_deref().unwrap_or_default().as_bytes(),
            &kex.ours,
            theirs,
            k_s,
            q_c.as_bytes(),
            &q_s,
            &k,
        );
        let host = PublicKey::from_blob(k_s).map_err(|e| format!("host key: {e:?}"))?;
        if !host.verify(SigAlg::Ed25519, &h, sig) {
            return Err("host signature over the exchange hash does not verify".into());
        }
        if let Some(known) = &self.host_key {
            if *known != host {
                return Err("host key changed during re-exchange".into());
            }
        }
        self.host_key = Some(host);
        let session_id = self.session_id.get_or_insert_with(|| h.clone()).clone();
        let (c2s, s2c) = derive_keys(&negotiated, &k, &h, &session_id);
        kex.s2c = Some(s2c);
        kex.newkeys_sent = true;
        self.negotiated = Some(negotiated);
        self.seal_now(&[msg::NEWKEYS]);
        self.c2s_keys =
            Some(RawKeys { cipher: c2s.cipher, mac: c2s.mac, key: c2s.key.to_vec(), iv: c2s.iv.to_vec(), mac_key: c2s.mac_key.to_vec() });
        self.sealer.rekey(&direction(&c2s)).map_err(|e| format!("{e:?}"))?;
        self.sealer.set_compression(negotiated.compression_c2s);
        if self.strict {
            self.sealer.reset_seq();
        }
        for p in std::mem::take(&mut self.held) {
            self.seal_now(&p);
        }
        Ok(())
    }

    fn on_newkeys(&mut self) -> Result<(), String> {
        let Some(kex) = self.kex.take() else { return Err("NEWKEYS outside a key exchange".into()) };
        let Some(s2c) = kex.s2c else { return Err("NEWKEYS before KEX_ECDH_REPLY".into()) };
        self.opener.rekey(&direction(&s2c)).map_err(|e| format!("{e:?}"))?;
        self.opener.set_compression(kex.negotiated.map_or(CompressionAlg::None, |n| n.compression_s2c));
        if self.strict {
            self.opener.reset_seq();
        }
        self.kexes_done += 1;
        Ok(())
    }
}

fn direction(keys: &Keys) -> DirectionKeys<'_> {
    DirectionKeys { cipher: keys.cipher, mac: keys.mac, key: &keys.key, iv: &keys.iv, mac_key: &keys.mac_key, provider: &RUST_CRYPTO }
}

/// An SSH `string`.
pub fn ssh_string(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(bytes);
    v
}

/// An SSH `mpint` from an unsigned big-endian magnitude (RFC 4251 §5), written out independently.
pub fn mpint(magnitude: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut body = Vec::new();
    if digits.first().is_some_and(|&b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(&digits);
    ssh_string(&body)
}

/// RFC 4253 §8 / RFC 8731 §3 exchange hash for curve25519-sha256.
#[allow(clippy::too_many_arguments)]
pub fn exchange_hash(v_c: &[u8], v_s: &[u8], i_c: &[u8], i_s: &[u8], k_s: &[u8], q_c: &[u8], q_s: &[u8], k_mpint: &[u8]) -> Vec<u8> {
    let mut d = Sha256::new();
    for s in [v_c, v_s, i_c, i_s, k_s, q_c, q_s] {
        d.update(ssh_string(s));
    }
    d.update(k_mpint);
    d.finalize().to_vec()
}

/// The payload of the next packet `opener` opens off `rx`, copied out (and the packet released).
pub fn open_next(opener: &mut Opener, rx: &mut RxBuf) -> wasshd_core::error::Result<Option<Vec<u8>>> {
    let Some(opened) = opener.open(rx)? else {
        return Ok(None);
    };
    let payload = match opened.payload {
        Payload::InPlace => opener.lent(rx).to_vec(),
        Payload::Inflated(inflated) => inflated.to_vec(),
    };
    opener.release(rx);
    Ok(Some(payload))
}
