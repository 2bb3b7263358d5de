//! The one round trip most methods share (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3, the hybrid drafts): the
//! client sends an ephemeral value, the server answers with its host key K_S, a value of its own and its
//! signature over H = HASH(V_C || V_S || I_C || I_S || K_S || client value || server value || K). What the
//! values are (a curve point, a KEM key and ciphertext with a point, a DH `mpint`) is the [`Agreement`]'s
//! business; both travel, and are hashed, as SSH strings (an `mpint` is a string of its own body).

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::{ExchangeHash, HashAlg, KexContext, KexMethod, KexOutcome, Step, Transcript};
use crate::error::{Error, Result};
use crate::keys::{HostKey, PublicKey};
use crate::msg;
use crate::wire::{Reader, Writer};

/// What one method computes from the two values.
pub trait Agreement: Sync {
    fn hash(&self) -> HashAlg;
    /// The client's value and what turns the server's value into K.
    fn share(&self, rng: &mut dyn CryptoRngCore) -> (Vec<u8>, Box<dyn Pending>);
    /// The server's value in answer to the client's, and K encoded as it is hashed: in a Diffie-Hellman
    /// method, a share of the server's own, whichever side sent first (a KEM answers otherwise).
    fn server_answer(&self, client: &[u8], rng: &mut dyn CryptoRngCore) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let (value, secret) = self.share(rng);
        Ok((value, secret.finish(client)?))
    }
}

/// A client's ephemeral secret, waiting for the server's value; zeroized when dropped.
pub trait Pending {
    /// K, encoded as it is hashed.
    fn finish(self: Box<Self>, server: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
}

/// The server's side: answers the client's value.
pub struct Server(pub &'static dyn Agreement);

impl KexMethod for Server {
    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        if message.first() != Some(&msg::KEX_ECDH_INIT) {
            return Err(unexpected());
        }
        let host_key = host_key(cx)?;
        let mut r = Reader::new(message);
        r.u8()?;
        let client = r.string()?;
        r.finish()?;

        let (server, shared_secret) = self.0.server_answer(client, cx.rng)?;
        let host_blob = host_blob(host_key, cx);
        let exchange_hash = exchange_hash(self.0.hash(), &cx.transcript, &host_blob, client, &server, &shared_secret);
        reply(msg::KEX_ECDH_REPLY, host_key, &server, KexOutcome { shared_secret, exchange_hash, host_key: host_blob }, cx)
    }
}

/// The client's side: sends its value, then checks the server's signature over H.
pub struct Client {
    agreement: &'static dyn Agreement,
    sent: Option<(Vec<u8>, Box<dyn Pending>)>,
}

impl Client {
    pub fn new(agreement: &'static dyn Agreement) -> Self {
        Client { agreement, sent: None }
    }
}

impl KexMethod for Client {
    fn start(&mut self, cx: &mut KexContext) -> Result<Option<Vec<u8>>> {
        let (value, pending) = self.agreement.share(cx.rng);
        let mut init = Writer::message(msg::KEX_ECDH_INIT);
        init.string(&value);
        self.sent = Some((value, pending));
        Ok(Some(init.into_vec()))
    }

    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        let mut r = Reader::new(message);
        let (client, pending) = match (r.u8()?, self.sent.take()) {
            (msg::KEX_ECDH_REPLY, Some(sent)) => sent,
            _ => return Err(unexpected()),
        };
        let host_blob = r.string()?;
        let server = r.string()?;
        let signature = r.string()?;
        r.finish()?;

        let shared_secret = pending.finish(server)?;
        let exchange_hash = exchange_hash(self.agreement.hash(), &cx.transcript, host_blob, &client, server, &shared_secret);
        verified(KexOutcome { shared_secret, exchange_hash, host_key: host_blob.to_vec() }, signature, cx)
    }
}

pub(super) fn unexpected() -> Error {
    Error::protocol("unexpected key exchange message")
}

/// The server's key that makes the negotiated signature algorithm.
pub(super) fn host_key<'a>(cx: &KexContext<'a>) -> Result<&'a HostKey> {
    cx.host_keys.iter().find(|k| k.signs(cx.sig_alg)).ok_or_else(|| Error::kex("no host key for the negotiated algorithm"))
}

/// K_S: the host certificate when one was negotiated, else the key's blob.
pub(super) fn host_blob(host_key: &HostKey, cx: &KexContext) -> Vec<u8> {
    cx.host_certificate.map_or_else(|| host_key.public().blob(), <[u8]>::to_vec)
}

/// The server's last message: its host key, its `value` and its signature over H; the exchange is done.
pub(super) fn reply(msg_type: u8, host_key: &HostKey, value: &[u8], outcome: KexOutcome, cx: &mut KexContext) -> Result<Step> {
    let signature = host_key.sign(cx.sig_alg, &outcome.exchange_hash, cx.rng).map_err(|_| Error::kex("the host key could not sign"))?;
    let mut reply = Writer::message(msg_type);
    reply.string(&outcome.host_key).string(value).string(&signature);
    Ok(Step { send: Some(reply.into_vec()), done: Some(outcome) })
}

/// The client's end of an exchange: done once the server's signature over H verifies.
pub(super) fn verified(outcome: KexOutcome, signature: &[u8], cx: &KexContext) -> Result<Step> {
    let host_key = PublicKey::from_blob(&outcome.host_key).map_err(|_| Error::kex("unreadable host key"))?;
    if !host_key.verify(cx.sig_alg, &outcome.exchange_hash, signature) {
        return Err(Error::kex("host key signature does not verify"));
    }
    Ok(Step { send: None, done: Some(outcome) })
}

fn exchange_hash(alg: HashAlg, t: &Transcript, host_key: &[u8], client: &[u8], server: &[u8], shared_secret: &[u8]) -> Vec<u8> {
    let mut h = ExchangeHash::new(alg, t, host_key);
    h.string(client);
    h.string(server);
    h.finish(shared_secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;
    use crate::keys::SigAlg;
    use crate::transport::kex::curve25519::Curve25519;

    fn transcript() -> Transcript<'static> {
        Transcript { client_version: b"SSH-2.0-a", server_version: b"SSH-2.0-b", client_kexinit: b"x", server_kexinit: b"y" }
    }

    /// A reply whose signature is not over the H the client computes, or that comes out of turn, fails
    /// the client's side.
    #[test]
    fn client_refuses_a_bad_signature_and_a_reply_out_of_turn() {
        let host_keys = [HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]))];
        let (mut client_rng, mut server_rng) = (EntropyPool::new(b"c"), EntropyPool::new(b"s"));
        let mut client_cx =
            KexContext { transcript: transcript(), sig_alg: SigAlg::Ed25519, host_certificate: None, host_keys: &[], rng: &mut client_rng };
        let mut client = Client::new(&Curve25519);
        let init = client.start(&mut client_cx).unwrap().unwrap();
        // The server hashes other KEXINITs than the client does: its signature cannot verify.
        let other = Transcript { server_kexinit: b"z", ..transcript() };
        let mut server_cx =
            KexContext { transcript: other, sig_alg: SigAlg::Ed25519, host_certificate: None, host_keys: &host_keys, rng: &mut server_rng };
        let reply = Server(&Curve25519).step(&init, &mut server_cx).unwrap().send.unwrap();
        let err = client.step(&reply, &mut client_cx).err().unwrap();
        assert_eq!(err.description, "host key signature does not verify");
        let again = client.step(&reply, &mut client_cx).err().unwrap();
        assert_eq!((again.reason, again.description.as_ref()), (msg::DisconnectReason::ProtocolError, "unexpected key exchange message"));
    }
}
