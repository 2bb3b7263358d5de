//! A session's key exchanges (RFC 4253 §7-9): the KEXINITs both ways, the method's messages, NEWKEYS,
//! strict kex, re-exchanges by volume, at the request of the layer above or of the peer (within limits),
//! and the time an exchange may take.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{Ctx, Session};
use crate::config::{Config, StrictKex};
use crate::error::{Error, Result};
use crate::event::{Event, KexSummary, LOG_INFO, LOG_VERBOSE};
use crate::keys::KeyAlg;
use crate::msg;
use crate::transport::kex::{self, KexContext, KexMethod, KexOutcome, Keys, Transcript};
use crate::transport::negotiate::{self, CipherAlg, KexInit, MacAlg, Negotiated};
use crate::transport::packet::DirectionKeys;
use crate::transport::Role;
use crate::wire::Writer;

/// A peer may start a burst of this many key exchanges, each of which costs us a key agreement (and a
/// server a signature). The allowance refills by one every `PEER_KEX_INTERVAL_MS` and one for every
/// `PEER_KEX_BYTES` of traffic, counted on the wire (compressed channel data by what it inflated to), so
/// that a peer rekeying often by volume is never cut off: OpenSSH with a `RekeyLimit` under 256K rekeys
/// before every full 32 KiB data packet it sends, compressed or not.
const PEER_KEX_BURST: u64 = 16;
const PEER_KEX_INTERVAL_MS: u64 = 1000;
const PEER_KEX_BYTES: u64 = 16 * 1024;
/// Whatever the traffic, no more peer-started exchanges than this in a minute of a connection (its
/// minutes counted from its start). OpenSSH with `RekeyLimit=64K` over loopback reached about 13,000 a
/// minute, held back by its own cost of an exchange (README, limits); a peer that pays for its
/// exchanges with traffic it makes up gets no more than this.
const PEER_KEXES_PER_MINUTE: u32 = 30_000;
/// A key exchange must be finished this long after it started. A rekey takes one round trip behind what
/// both sides had already queued; two minutes (the default `LoginGraceTime`, in which a whole login fits
/// over slow links) is ample, and ends a peer that never answers our KEXINIT, while which our own data
/// and keepalives wait.
pub const KEX_TIMEOUT_MS: u64 = 120_000;

enum KexStep {
    /// Our KEXINIT is out; waiting for the peer's.
    KexInit,
    /// Both KEXINITs are known and the method runs; `skip_guess` drops a wrongly guessed packet.
    Method { theirs: Vec<u8>, negotiated: Negotiated, method: Box<dyn KexMethod>, skip_guess: bool },
    /// Our NEWKEYS is out; the peer's switches its direction to `keys`.
    NewKeys { negotiated: Negotiated, keys: Keys },
}

pub(super) struct KexState {
    /// Our KEXINIT.
    ours: Vec<u8>,
    step: KexStep,
    /// When our KEXINIT went out; `None` while unknown (started by a host command, which carries no time):
    /// the next call that brings the time sets it.
    started_at: Option<u64>,
}

/// The limits on peer-started key exchanges: a burst allowance refilled by time and traffic (a generic
/// cell rate algorithm), and a cap per minute.
#[derive(Default)]
pub(super) struct PeerKexLimit {
    /// When the burst allowance is back to full.
    credit_at: u64,
    /// The minute of the connection `in_minute` counts for.
    minute: u64,
    in_minute: u32,
}

impl PeerKexLimit {
    /// Takes one exchange started `elapsed` ms into the connection, `traffic` bytes on the wire after the last.
    fn admit(&mut self, elapsed: u64, traffic: u64) -> Result<()> {
        let minute = elapsed / 60_000;
        if minute != self.minute {
            self.minute = minute;
            self.in_minute = 0;
        }
        if self.in_minute >= PEER_KEXES_PER_MINUTE {
            return Err(Error::protocol("too many key exchanges in a minute"));
        }
        let earned = (traffic / PEER_KEX_BYTES).saturating_mul(PEER_KEX_INTERVAL_MS);
        let credit_at = self.credit_at.saturating_sub(earned).max(elapsed) + PEER_KEX_INTERVAL_MS;
        if credit_at - elapsed > PEER_KEX_BURST * PEER_KEX_INTERVAL_MS {
            return Err(Error::protocol("too many key exchanges"));
        }
        self.credit_at = credit_at;
        self.in_minute += 1;
        Ok(())
    }
}

impl Session {
    pub(super) fn start_kex(&mut self, ctx: &mut Ctx) {
        let mut cookie = [0u8; 16];
        rand_core::RngCore::fill_bytes(ctx.rng, &mut cookie);
        let mut extra = Vec::new();
        if self.session_id.is_none() {
            // RFC 8308 §2.1: a client asks for the server's extensions; a server, which takes none, does not.
            if self.role == Role::Client {
                extra.push(negotiate::EXT_INFO_C);
            }
            if ctx.config.strict_kex != StrictKex::Disabled {
                extra.push(strict_kex_name(self.role));
            }
        }
        let prefs = &ctx.config.algorithms;
        // A server offers only what its keys (and their certificates) can sign; a client, what it can check:
        // plain keys.
        let host_key: Vec<KeyAlg> = match self.role {
            Role::Server => prefs.host_key.iter().copied().filter(|&alg| host_certificate(alg, ctx).is_some()).collect(),
            Role::Client => prefs.host_key.iter().copied().filter(|alg| matches!(alg, KeyAlg::Plain(_))).collect(),
        };
        let ours = negotiate::encode_kexinit(prefs, &host_key, cookie, &extra);
        self.send_now(&ours, ctx);
        self.kex = Some(KexState { ours, step: KexStep::KexInit, started_at: None });
    }

    /// Dates an exchange started during this call: called at the end of every call that brings the time.
    pub fn stamp_kex_start(&mut self) {
        if let Some(kex) = self.kex.as_mut() {
            kex.started_at.get_or_insert(self.now);
        }
    }

    /// Starts a re-exchange if the traffic since the last one passed a threshold.
    pub fn maybe_rekey(&mut self, ctx: &mut Ctx) {
        if self.kex.is_none()
            && self.session_id.is_some()
            && !self.closed
            && (self.bytes_since_kex >= ctx.config.rekey_bytes
                || self.packets_since_kex >= ctx.config.rekey_packets
                || self.rekey_due(ctx.config).is_some_and(|due| self.now >= due))
        {
            ctx.log(LOG_VERBOSE, "starting key re-exchange");
            self.start_kex(ctx);
        }
    }

    /// Starts a re-exchange on request; false before the first exchange has finished or while one runs.
    pub fn rekey(&mut self, ctx: &mut Ctx) -> bool {
        if self.session_id.is_none() || self.kex.is_some() {
            return false;
        }
        self.start_kex(ctx);
        true
    }

    pub(super) fn awaiting_peer_kexinit(&self) -> bool {
        self.kex.as_ref().is_some_and(|k| matches!(k.step, KexStep::KexInit))
    }

    pub(super) fn peer_kexinit_received(&self) -> bool {
        self.kex.as_ref().is_some_and(|k| !matches!(k.step, KexStep::KexInit))
    }

    pub(super) fn on_kexinit(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        // A malformed KEXINIT gets no KEXINIT of ours in answer.
        let theirs = KexInit::decode(payload)?;
        if self.kex.is_none() {
            let traffic = self.bytes_since_kex.saturating_add(self.data_inflation_since_kex);
            self.peer_kex_limit.admit(self.now.saturating_sub(self.started), traffic)?;
            self.start_kex(ctx);
        }
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("no key exchange"));
        };
        if !matches!(state.step, KexStep::KexInit) {
            return Err(Error::protocol("KEXINIT during key exchange"));
        }
        let initial = self.session_id.is_none();
        if initial {
            let peer_strict = theirs.offers(strict_kex_name(self.role.peer()));
            self.strict_kex = peer_strict && ctx.config.strict_kex != StrictKex::Disabled;
            self.ext_info = self.role == Role::Server && theirs.offers(negotiate::EXT_INFO_C);
            if self.strict_kex && self.opener.seq() != 1 {
                return Err(Error::protocol("strict kex: KEXINIT was not the first packet"));
            }
            if !peer_strict && ctx.config.strict_kex == StrictKex::Required {
                return Err(Error::kex("strict key exchange is required"));
            }
        }
        // Negotiate against the lists we sent: the peer computes its choice from those.
        let ours = KexInit::decode(&state.ours)?;
        let (client, server) = self.role.client_first(&ours, &theirs);
        let negotiated = negotiate::negotiate(client, server)?;
        if initial && !self.strict_kex && ctx.config.strict_kex == StrictKex::RejectAffected && terrapin_affected(&negotiated) {
            return Err(Error::kex("the negotiated algorithms are open to the Terrapin attack without strict key exchange"));
        }
        let skip_guess = theirs.first_kex_packet_follows && !theirs.guess_was_right(&negotiated);
        let mut method = kex::exchange(negotiated.kex, self.role);
        let transcript = transcript(self.role, &self.version, self.peer_version.as_deref(), &state.ours, payload);
        let first = method.start(&mut kex_context(transcript, negotiated.host_key, ctx))?;
        state.step = KexStep::Method { theirs: payload.to_vec(), negotiated, method, skip_guess };
        ctx.log(
            LOG_VERBOSE,
            alloc::format!(
                "negotiated {} {} {} {} {}",
                negotiated.kex.name(),
                negotiated.host_key.name(),
                negotiated.cipher_c2s.name(),
                negotiated.mac_c2s.map_or("<implicit>", MacAlg::name),
                negotiated.compression_c2s.name()
            ),
        );
        if let Some(first) = first {
            self.send_now(&first, ctx);
        }
        Ok(())
    }

    pub(super) fn on_kex_message(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("key exchange message outside key exchange"));
        };
        let KexStep::Method { theirs, negotiated, method, skip_guess } = &mut state.step else {
            return Err(Error::protocol("unexpected key exchange message"));
        };
        if core::mem::take(skip_guess) {
            return Ok(());
        }
        let negotiated = *negotiated;
        let transcript = transcript(self.role, &self.version, self.peer_version.as_deref(), &state.ours, theirs);
        let step = method.step(payload, &mut kex_context(transcript, negotiated.host_key, ctx))?;
        if let Some(message) = step.send {
            self.send_now(&message, ctx);
        }
        match step.done {
            Some(outcome) => self.keys_agreed(negotiated, outcome, ctx),
            None => Ok(()),
        }
    }

    /// The method is done: our NEWKEYS goes out and our direction switches to the new keys.
    fn keys_agreed(&mut self, negotiated: Negotiated, outcome: KexOutcome, ctx: &mut Ctx) -> Result<()> {
        if self.role == Role::Client {
            match &self.peer_host_key {
                Some(known) if *known != outcome.host_key => return Err(Error::kex("host key changed in a re-exchange")),
                Some(_) => {}
                None => self.peer_host_key = Some(outcome.host_key),
            }
        }
        let session_id = self.session_id.get_or_insert_with(|| outcome.exchange_hash.clone()).clone();
        let (c2s, s2c) = kex::derive_keys(&negotiated, &outcome.shared_secret, &outcome.exchange_hash, &session_id);
        let (out, keys_in) = self.role.ours_first(c2s, s2c);
        let (compression_out, _) = self.role.ours_first(negotiated.compression_c2s, negotiated.compression_s2c);
        if let Some(state) = self.kex.as_mut() {
            state.step = KexStep::NewKeys { negotiated, keys: keys_in };
        }
        self.send_now(&[msg::NEWKEYS], ctx);
        self.sealer.rekey(&direction(&out, ctx.config))?;
        self.sealer.set_compression(compression_out);
        if self.strict_kex {
            self.sealer.reset_seq();
        }
        if self.kexes_done == 0 && self.ext_info {
            // RFC 8308 §3.1, the one extension a server sends: which signature algorithms publickey
            // authentication takes.
            let mut w = Writer::message(msg::EXT_INFO);
            let sig_algs: Vec<&str> = ctx.config.user_key_algorithms.iter().map(|a| a.name()).collect();
            w.u32(1).string(b"server-sig-algs").string(sig_algs.join(",").as_bytes());
            self.send_now(w.as_slice(), ctx);
        }
        Ok(())
    }

    pub(super) fn on_newkeys(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        if payload.len() != 1 {
            return Err(Error::protocol("malformed NEWKEYS"));
        }
        let Some(KexState { step: KexStep::NewKeys { negotiated, keys }, .. }) = self.kex.take() else {
            return Err(Error::protocol("unexpected NEWKEYS"));
        };
        let (_, compression_in) = self.role.ours_first(negotiated.compression_c2s, negotiated.compression_s2c);
        self.opener.rekey(&direction(&keys, ctx.config))?;
        self.opener.set_compression(compression_in);
        if self.strict_kex {
            self.opener.reset_seq();
        }
        let initial = self.kexes_done == 0;
        self.kexes_done += 1;
        self.host_key_alg = Some(negotiated.host_key.base());
        self.kex_done_at = self.now;
        self.bytes_since_kex = 0;
        self.data_inflation_since_kex = 0;
        self.packets_since_kex = 0;
        let (cipher_out, cipher_in) = self.role.ours_first(negotiated.cipher_c2s, negotiated.cipher_s2c);
        let (mac_out, mac_in) = self.role.ours_first(negotiated.mac_c2s, negotiated.mac_s2c);
        ctx.emit(Event::KeysExchanged(KexSummary {
            kex: negotiated.kex.name(),
            host_key: negotiated.host_key.name(),
            cipher_in: cipher_in.name(),
            cipher_out: cipher_out.name(),
            mac_in: mac_in.map_or("", MacAlg::name),
            mac_out: mac_out.map_or("", MacAlg::name),
            strict: self.strict_kex,
            initial,
        }));
        ctx.log(LOG_INFO, if initial { "key exchange complete" } else { "key re-exchange complete" });
        self.release_held(ctx);
        Ok(())
    }

    /// When the exchange in progress times out; one started at an unknown time asks for a call to
    /// `handle_timeout` at once, which dates it.
    /// When `KeyRenegotiationInterval` asks for the next exchange, if it is on and none runs.
    pub fn rekey_due(&self, config: &Config) -> Option<u64> {
        let idle = self.kex.is_none() && self.session_id.is_some() && !self.closed;
        (idle && config.rekey_interval_ms > 0).then(|| self.kex_done_at.saturating_add(config.rekey_interval_ms))
    }

    pub fn kex_deadline(&self) -> Option<u64> {
        self.kex.as_ref().map(|k| k.started_at.map_or(self.now, |t| t.saturating_add(KEX_TIMEOUT_MS)))
    }

    /// Whether the exchange in progress has run out of time.
    pub fn kex_timed_out(&mut self) -> bool {
        self.stamp_kex_start();
        self.kex.as_ref().and_then(|k| k.started_at).is_some_and(|t| self.now >= t.saturating_add(KEX_TIMEOUT_MS))
    }
}

/// What H covers besides the method's own values: of each pair, the client's first.
fn transcript<'a>(role: Role, version: &'a str, peer_version: Option<&'a str>, ours: &'a [u8], theirs: &'a [u8]) -> Transcript<'a> {
    let (client_version, server_version) = role.client_first(version.as_bytes(), peer_version.unwrap_or_default().as_bytes());
    let (client_kexinit, server_kexinit) = role.client_first(ours, theirs);
    Transcript { client_version, server_version, client_kexinit, server_kexinit }
}

/// The strict kex pseudo-algorithm `role` sends (OpenSSH PROTOCOL, "strict key exchange").
fn strict_kex_name(role: Role) -> &'static str {
    match role {
        Role::Server => negotiate::STRICT_KEX_S,
        Role::Client => negotiate::STRICT_KEX_C,
    }
}

/// Terrapin can truncate the start of a sequence under chacha20-poly1305 and encrypt-then-MAC modes.
fn terrapin_affected(n: &Negotiated) -> bool {
    let etm = |m: Option<MacAlg>| m.is_some_and(MacAlg::is_etm);
    [n.cipher_c2s, n.cipher_s2c].contains(&CipherAlg::Chacha20Poly1305) || etm(n.mac_c2s) || etm(n.mac_s2c)
}

fn direction<'a>(keys: &'a Keys, config: &Config) -> DirectionKeys<'a> {
    DirectionKeys { cipher: keys.cipher, mac: keys.mac, key: &keys.key, iv: &keys.iv, mac_key: &keys.mac_key, provider: config.crypto }
}

/// Whether the server can serve `alg`, and with what K_S: `Some(None)` for a plain algorithm one of its
/// keys signs, `Some(Some(certificate))` for a certificate algorithm whose certificate certifies one of
/// its keys.
fn host_certificate<'a>(alg: KeyAlg, ctx: &Ctx<'a>) -> Option<Option<&'a [u8]>> {
    let held = |key: &crate::keys::PublicKey| ctx.host_keys.iter().any(|k| &k.public() == key);
    match alg {
        KeyAlg::Plain(sig) => ctx.host_keys.iter().any(|k| k.signs(sig)).then_some(None),
        KeyAlg::Cert(cert) => ctx.config.host_certificates.iter().find(|c| c.signs(cert) && held(&c.key)).map(|c| Some(c.blob.as_slice())),
    }
}

/// What the exchange method works with: the signature algorithm of the negotiated host key algorithm and,
/// for a certificate algorithm, the certificate a server sends as its host key.
fn kex_context<'c, 'a: 'c>(transcript: Transcript<'c>, alg: KeyAlg, ctx: &'c mut Ctx<'a>) -> KexContext<'c> {
    let host_certificate = host_certificate(alg, ctx).flatten();
    KexContext { transcript, sig_alg: alg.base(), host_certificate, host_keys: ctx.host_keys, rng: &mut *ctx.rng }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that pays for every exchange with traffic gets the minute's cap and no more; the next
    /// minute starts a new count. (A test through whole exchanges would need 30,000 of them.)
    #[test]
    fn peer_exchanges_paid_for_by_traffic_stop_at_the_cap_per_minute() {
        let mut limit = PeerKexLimit::default();
        let paid = PEER_KEX_BYTES;
        for i in 0..PEER_KEXES_PER_MINUTE {
            limit.admit(u64::from(i) * 59_999 / u64::from(PEER_KEXES_PER_MINUTE), paid).unwrap();
        }
        let refused = limit.admit(59_999, paid).unwrap_err();
        assert_eq!(refused.reason, crate::msg::DisconnectReason::ProtocolError);
        limit.admit(60_000, paid).unwrap();
    }

    /// Without traffic: a burst of 16, then one a second.
    #[test]
    fn peer_exchanges_without_traffic_get_a_burst_then_one_a_second() {
        let mut limit = PeerKexLimit::default();
        for _ in 0..PEER_KEX_BURST {
            limit.admit(5_000, 0).unwrap();
        }
        assert!(limit.admit(5_000, 0).is_err());
        let mut limit = PeerKexLimit::default();
        for _ in 0..PEER_KEX_BURST {
            limit.admit(5_000, 0).unwrap();
        }
        limit.admit(6_000, 0).unwrap();
        assert!(limit.admit(6_000, 0).is_err());
    }
}
