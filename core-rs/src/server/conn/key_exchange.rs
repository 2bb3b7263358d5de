//! Key exchanges on a connection (RFC 4253 §7-9): the server's KEXINIT, the client's, the method's
//! messages and NEWKEYS, rekeying by volume, at the host's request or the client's (within limits), and
//! the time an exchange may take.

use alloc::vec::Vec;

use super::{Conn, Ctx};
use crate::config::StrictKex;
use crate::error::{Error, Result};
use crate::event::{Event, KexSummary, LOG_INFO, LOG_VERBOSE};
use crate::keys::HostKey;
use crate::msg;
use crate::server::CommandError;
use crate::transport::kex::{self, Keys, Transcript};
use crate::transport::negotiate::{self, CipherAlg, KexInit, MacAlg, Negotiated};
use crate::transport::packet::DirectionKeys;
use crate::wire::Writer;

/// A client may start a burst of this many key exchanges, each of which costs the server a key agreement and
/// a signature. The allowance refills by one every `CLIENT_KEX_INTERVAL_MS` and one for every
/// `CLIENT_KEX_BYTES` of traffic, counted on the wire (compressed channel data by what it inflated to), so
/// that a client rekeying often by volume is never cut off: OpenSSH with a `RekeyLimit` under 256K rekeys
/// before every full 32 KiB data packet it sends, compressed or not.
const CLIENT_KEX_BURST: u64 = 16;
const CLIENT_KEX_INTERVAL_MS: u64 = 1000;
const CLIENT_KEX_BYTES: u64 = 16 * 1024;
/// Whatever the traffic, no more client-started exchanges than this in a minute of a connection (its
/// minutes counted from its start). OpenSSH with `RekeyLimit=64K` over loopback reached about 13,000 a
/// minute, held back by its own cost of an exchange (README, limits); a client that pays for its
/// exchanges with traffic it makes up gets no more than this.
const CLIENT_KEXES_PER_MINUTE: u32 = 30_000;
/// A key exchange must be finished this long after it started. A rekey takes one round trip behind what
/// both sides had already queued; two minutes (the default `LoginGraceTime`, in which a whole login fits
/// over slow links) is ample, and ends a client that never answers the server's KEXINIT, while which the
/// server's own data and keepalives wait.
pub const KEX_TIMEOUT_MS: u64 = 120_000;

pub(super) enum KexStep {
    /// Our KEXINIT is out; waiting for the client's.
    KexInit,
    /// Waiting for the client's key exchange message; `skip_guess` drops a wrongly guessed one.
    ClientInit { skip_guess: bool },
    /// Our NEWKEYS is out; the client's switches its direction to `keys`.
    NewKeys { keys: Keys },
}

pub(super) struct KexState {
    ours: Vec<u8>,
    /// The client's KEXINIT, once it came.
    pub(super) theirs: Option<Vec<u8>>,
    negotiated: Option<Negotiated>,
    step: KexStep,
    /// When our KEXINIT went out; `None` while unknown (started by a host command, which carries no time):
    /// the next call that brings the time sets it.
    started_at: Option<u64>,
}

/// The limits on client-started key exchanges: a burst allowance refilled by time and traffic (a generic
/// cell rate algorithm), and a cap per minute.
#[derive(Default)]
pub struct ClientKexLimit {
    /// When the burst allowance is back to full.
    credit_at: u64,
    /// The minute of the connection `in_minute` counts for.
    minute: u64,
    in_minute: u32,
}

impl ClientKexLimit {
    /// Takes one exchange started `elapsed` ms into the connection, `traffic` bytes on the wire after the last.
    pub fn admit(&mut self, elapsed: u64, traffic: u64) -> Result<()> {
        let minute = elapsed / 60_000;
        if minute != self.minute {
            self.minute = minute;
            self.in_minute = 0;
        }
        if self.in_minute >= CLIENT_KEXES_PER_MINUTE {
            return Err(Error::protocol("too many key exchanges in a minute"));
        }
        let earned = (traffic / CLIENT_KEX_BYTES).saturating_mul(CLIENT_KEX_INTERVAL_MS);
        let credit_at = self.credit_at.saturating_sub(earned).max(elapsed) + CLIENT_KEX_INTERVAL_MS;
        if credit_at - elapsed > CLIENT_KEX_BURST * CLIENT_KEX_INTERVAL_MS {
            return Err(Error::protocol("too many key exchanges"));
        }
        self.credit_at = credit_at;
        self.in_minute += 1;
        Ok(())
    }
}

impl Conn {
    pub(super) fn start_kex(&mut self, ctx: &mut Ctx) {
        let mut cookie = [0u8; 16];
        rand_core::RngCore::fill_bytes(ctx.rng, &mut cookie);
        let mut extra = Vec::new();
        if self.session_id.is_none() && ctx.config.strict_kex != StrictKex::Disabled {
            extra.push(negotiate::STRICT_KEX_S);
        }
        let host_algs: Vec<_> = ctx.host_keys.iter().map(HostKey::algorithm).collect();
        let ours = negotiate::encode_server_kexinit(&ctx.config.algorithms, &host_algs, cookie, &extra);
        self.seal_now(&ours, ctx);
        self.kex = Some(KexState { ours, theirs: None, negotiated: None, step: KexStep::KexInit, started_at: None });
    }

    /// Dates an exchange started during this call: called at the end of every call that brings the time.
    pub(super) fn stamp_kex_start(&mut self) {
        if let Some(kex) = self.kex.as_mut() {
            kex.started_at.get_or_insert(self.now);
        }
    }

    pub(super) fn maybe_rekey(&mut self, ctx: &mut Ctx) {
        if self.kex.is_none()
            && self.session_id.is_some()
            && !self.closed
            && (self.bytes_since_kex >= ctx.config.rekey_bytes || self.packets_since_kex >= ctx.config.rekey_packets)
        {
            self.log(ctx, LOG_VERBOSE, "starting key re-exchange");
            self.start_kex(ctx);
        }
    }

    /// Starts a key exchange at the host's request (the reference's `ExchangeKeys`).
    pub fn rekey(&mut self, ctx: &mut Ctx) -> Result<(), CommandError> {
        if self.session_id.is_none() || self.kex.is_some() {
            return Err(CommandError::WrongState("a key exchange is already in progress"));
        }
        self.start_kex(ctx);
        Ok(())
    }

    pub(super) fn on_kexinit(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        // A malformed KEXINIT gets no KEXINIT of ours in answer.
        let client = KexInit::decode(payload)?;
        if self.kex.is_none() {
            let traffic = self.bytes_since_kex.saturating_add(self.data_inflation_since_kex);
            self.client_kex_limit.admit(self.now.saturating_sub(self.started), traffic)?;
            self.start_kex(ctx);
        }
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("no key exchange"));
        };
        if state.theirs.is_some() {
            return Err(Error::protocol("KEXINIT during key exchange"));
        }
        let initial = self.session_id.is_none();
        if initial {
            let client_strict = client.offers(negotiate::STRICT_KEX_C);
            self.strict_kex = client_strict && ctx.config.strict_kex != StrictKex::Disabled;
            self.ext_info = client.offers(negotiate::EXT_INFO_C);
            if self.strict_kex && self.opener.seq() != 1 {
                return Err(Error::protocol("strict kex: KEXINIT was not the first packet"));
            }
            if !client_strict && ctx.config.strict_kex == StrictKex::Required {
                return Err(Error::kex("strict key exchange is required"));
            }
        }
        // Negotiate against the lists we advertised: the client computes its choice from those.
        let ours = KexInit::decode(&state.ours)?;
        let negotiated = negotiate::negotiate_lists(&client, &ours)?;
        if initial && !self.strict_kex && ctx.config.strict_kex == StrictKex::RejectAffected && terrapin_affected(&negotiated) {
            return Err(Error::kex("the negotiated algorithms are open to the Terrapin attack without strict key exchange"));
        }
        let skip_guess = client.first_kex_packet_follows && !client.guess_was_right(&negotiated);
        state.theirs = Some(payload.to_vec());
        state.negotiated = Some(negotiated);
        state.step = KexStep::ClientInit { skip_guess };
        self.log(
            ctx,
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
        Ok(())
    }

    pub(super) fn on_kex_message(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(state) = self.kex.as_mut() else {
            return Err(Error::protocol("key exchange message outside key exchange"));
        };
        let (KexStep::ClientInit { skip_guess }, Some(negotiated), Some(theirs)) =
            (&mut state.step, state.negotiated, state.theirs.as_ref())
        else {
            return Err(Error::protocol("unexpected key exchange message"));
        };
        if core::mem::take(skip_guess) {
            return Ok(());
        }
        if payload.first() != Some(&kex::client_init_message(negotiated.kex)) {
            return Err(Error::protocol("unexpected key exchange message"));
        }
        let host_key = ctx
            .host_keys
            .iter()
            .find(|k| k.algorithm() == negotiated.host_key)
            .ok_or_else(|| Error::kex("no host key for the negotiated algorithm"))?;
        let transcript = Transcript {
            client_version: self.client_version.as_deref().unwrap_or_default().as_bytes(),
            server_version: ctx.config.server_version.as_bytes(),
            client_kexinit: theirs,
            server_kexinit: &state.ours,
        };
        let result = kex::server_exchange(negotiated.kex, &transcript, payload, host_key, ctx.rng)?;
        let session_id = self.session_id.get_or_insert_with(|| result.exchange_hash.clone()).clone();
        let (c2s, s2c) = kex::derive_keys(negotiated.kex, &negotiated, &result.shared_secret, &result.exchange_hash, &session_id);
        state.step = KexStep::NewKeys { keys: c2s };

        self.seal_now(&result.reply, ctx);
        self.seal_now(&[msg::NEWKEYS], ctx);
        self.sealer.rekey(&direction(&s2c))?;
        self.sealer.set_compression(negotiated.compression_s2c);
        if self.strict_kex {
            self.sealer.reset_seq();
        }
        if self.kexes_done == 0 && self.ext_info {
            let mut w = Writer::message(msg::EXT_INFO);
            let sig_algs: Vec<&str> = ctx.config.user_key_algorithms.iter().map(|a| a.name()).collect();
            w.u32(1).string(b"server-sig-algs").string(sig_algs.join(",").as_bytes());
            self.seal_now(w.as_slice(), ctx);
        }
        Ok(())
    }

    pub(super) fn on_newkeys(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        if payload.len() != 1 {
            return Err(Error::protocol("malformed NEWKEYS"));
        }
        let Some(KexState { step: KexStep::NewKeys { keys }, negotiated: Some(negotiated), .. }) = self.kex.take() else {
            return Err(Error::protocol("unexpected NEWKEYS"));
        };
        self.opener.rekey(&direction(&keys))?;
        self.opener.set_compression(negotiated.compression_c2s);
        if self.strict_kex {
            self.opener.reset_seq();
        }
        let initial = self.kexes_done == 0;
        self.kexes_done += 1;
        self.bytes_since_kex = 0;
        self.data_inflation_since_kex = 0;
        self.packets_since_kex = 0;
        self.emit(
            ctx,
            Event::KeysExchanged(KexSummary {
                kex: negotiated.kex.name(),
                host_key: negotiated.host_key.name(),
                cipher_in: negotiated.cipher_c2s.name(),
                cipher_out: negotiated.cipher_s2c.name(),
                mac_in: negotiated.mac_c2s.map_or("", MacAlg::name),
                mac_out: negotiated.mac_s2c.map_or("", MacAlg::name),
                strict: self.strict_kex,
                initial,
            }),
        );
        self.log(ctx, LOG_INFO, if initial { "key exchange complete" } else { "key re-exchange complete" });
        self.held_cost = 0;
        for payload in core::mem::take(&mut self.held) {
            self.seal_now(&payload, ctx);
        }
        for (&id, channel) in self.channels.iter_mut() {
            if channel.may_resume() {
                ctx.events.push_back((self.id, Event::ChannelReadyToSend { channel: id }));
            }
        }
        Ok(())
    }

    /// When the exchange in progress times out; one started at an unknown time asks for a call to
    /// `handle_timeout` at once, which dates it.
    pub(super) fn kex_deadline(&self) -> Option<u64> {
        self.kex.as_ref().map(|k| k.started_at.map_or(self.now, |t| t.saturating_add(KEX_TIMEOUT_MS)))
    }

    /// Whether the exchange in progress has run out of time at `self.now`.
    pub(super) fn kex_timed_out(&mut self) -> bool {
        self.stamp_kex_start();
        self.kex.as_ref().and_then(|k| k.started_at).is_some_and(|t| self.now >= t.saturating_add(KEX_TIMEOUT_MS))
    }
}

/// Terrapin can truncate the start of a sequence under chacha20-poly1305 and encrypt-then-MAC modes.
fn terrapin_affected(n: &Negotiated) -> bool {
    let etm = |m: Option<MacAlg>| matches!(m, Some(MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm));
    [n.cipher_c2s, n.cipher_s2c].contains(&CipherAlg::Chacha20Poly1305) || etm(n.mac_c2s) || etm(n.mac_s2c)
}

fn direction(keys: &Keys) -> DirectionKeys<'_> {
    DirectionKeys { cipher: keys.cipher, mac: keys.mac, key: &keys.key, iv: &keys.iv, mac_key: &keys.mac_key }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that pays for every exchange with traffic gets the minute's cap and no more; the next
    /// minute starts a new count. (A test through whole exchanges would need 30,000 of them.)
    #[test]
    fn client_exchanges_paid_for_by_traffic_stop_at_the_cap_per_minute() {
        let mut limit = ClientKexLimit::default();
        let paid = CLIENT_KEX_BYTES;
        for i in 0..CLIENT_KEXES_PER_MINUTE {
            limit.admit(u64::from(i) * 59_999 / u64::from(CLIENT_KEXES_PER_MINUTE), paid).unwrap();
        }
        let refused = limit.admit(59_999, paid).unwrap_err();
        assert_eq!(refused.reason, crate::msg::DisconnectReason::ProtocolError);
        limit.admit(60_000, paid).unwrap();
    }

    /// Without traffic: a burst of 16, then one a second.
    #[test]
    fn client_exchanges_without_traffic_get_a_burst_then_one_a_second() {
        let mut limit = ClientKexLimit::default();
        for _ in 0..CLIENT_KEX_BURST {
            limit.admit(5_000, 0).unwrap();
        }
        assert!(limit.admit(5_000, 0).is_err());
        let mut limit = ClientKexLimit::default();
        for _ in 0..CLIENT_KEX_BURST {
            limit.admit(5_000, 0).unwrap();
        }
        limit.admit(6_000, 0).unwrap();
        assert!(limit.admit(6_000, 0).is_err());
    }
}
