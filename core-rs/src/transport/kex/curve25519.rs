//! `curve25519-sha256` and its older name `curve25519-sha256@libssh.org` (RFC 8731): one round trip,
//! KEX_ECDH_INIT with the client's ephemeral public key Q_C, KEX_ECDH_REPLY with the server's host key
//! K_S, its ephemeral Q_S and its signature over H. Ephemeral secrets and K are zeroized when dropped.

use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::{ExchangeHash, KexContext, KexMethod, KexOutcome, Step, Transcript};
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::msg;
use crate::wire::{Reader, Writer};

/// The server's side: answers the client's share.
pub struct Server;

impl KexMethod for Server {
    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        if message.first() != Some(&msg::KEX_ECDH_INIT) {
            return Err(unexpected());
        }
        let host_key =
            cx.host_keys.iter().find(|k| k.signs(cx.sig_alg)).ok_or_else(|| Error::kex("no host key for the negotiated algorithm"))?;
        let mut r = Reader::new(message);
        r.u8()?;
        let q_c = point(r.string()?)?;
        r.finish()?;

        let secret = ephemeral(cx.rng);
        let q_s = XPublic::from(&secret);
        let shared_secret = shared_secret(&secret, q_c)?;
        let host_blob = host_key.public().blob();
        let exchange_hash = exchange_hash(&cx.transcript, &host_blob, &q_c, q_s.as_bytes(), &shared_secret);

        let mut reply = Writer::message(msg::KEX_ECDH_REPLY);
        let signature = host_key.sign(cx.sig_alg, &exchange_hash, cx.rng).map_err(|_| Error::kex("the host key could not sign"))?;
        reply.string(&host_blob).string(q_s.as_bytes()).string(&signature);
        Ok(Step { send: Some(reply.into_vec()), done: Some(KexOutcome { shared_secret, exchange_hash, host_key: host_blob }) })
    }
}

/// The client's side: sends its share, then checks the server's signature over H.
#[derive(Default)]
pub struct Client {
    secret: Option<StaticSecret>,
}

impl KexMethod for Client {
    fn start(&mut self, cx: &mut KexContext) -> Result<Option<Vec<u8>>> {
        let secret = ephemeral(cx.rng);
        let mut init = Writer::message(msg::KEX_ECDH_INIT);
        init.string(XPublic::from(&secret).as_bytes());
        self.secret = Some(secret);
        Ok(Some(init.into_vec()))
    }

    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        let mut r = Reader::new(message);
        let secret = match (r.u8()?, self.secret.take()) {
            (msg::KEX_ECDH_REPLY, Some(secret)) => secret,
            _ => return Err(unexpected()),
        };
        let host_blob = r.string()?;
        let q_s = point(r.string()?)?;
        let signature = r.string()?;
        r.finish()?;

        let q_c = XPublic::from(&secret);
        let shared_secret = shared_secret(&secret, q_s)?;
        let exchange_hash = exchange_hash(&cx.transcript, host_blob, q_c.as_bytes(), &q_s, &shared_secret);
        let host_key = PublicKey::from_blob(host_blob).map_err(|_| Error::kex("unreadable host key"))?;
        if !host_key.verify(cx.sig_alg, &exchange_hash, signature) {
            return Err(Error::kex("host key signature does not verify"));
        }
        Ok(Step { send: None, done: Some(KexOutcome { shared_secret, exchange_hash, host_key: host_blob.to_vec() }) })
    }
}

fn unexpected() -> Error {
    Error::protocol("unexpected key exchange message")
}

fn point(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| Error::kex("curve25519 public key is not 32 bytes"))
}

fn ephemeral(rng: &mut dyn CryptoRngCore) -> StaticSecret {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut());
    StaticSecret::from(*bytes)
}

/// K, encoded as the `mpint` it is hashed as.
fn shared_secret(ours: &StaticSecret, theirs: [u8; 32]) -> Result<Zeroizing<Vec<u8>>> {
    let shared = ours.diffie_hellman(&XPublic::from(theirs));
    // RFC 8731 §3: an all-zero result (a low-order point from the peer) must abort.
    if !shared.was_contributory() {
        return Err(Error::kex("curve25519 shared secret is zero"));
    }
    // Sized for the longest mpint of 32 bytes, so that it is never copied by a reallocation.
    let mut k = Writer::with_capacity(4 + 1 + 32);
    k.mpint(shared.as_bytes());
    Ok(Zeroizing::new(k.into_vec()))
}

fn exchange_hash(t: &Transcript, host_key: &[u8], q_c: &[u8], q_s: &[u8], shared_secret: &[u8]) -> Vec<u8> {
    let mut h = ExchangeHash::new(t, host_key);
    h.string(q_c);
    h.string(q_s);
    h.finish(shared_secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::EntropyPool;
    use crate::keys::{HostKey, SigAlg};
    use hex_literal::hex;

    #[test]
    fn x25519_matches_rfc7748_vector() {
        // RFC 7748 §6.1.
        let alice = StaticSecret::from(hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        let bob_public = XPublic::from(hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
        assert_eq!(alice.diffie_hellman(&bob_public).as_bytes(), &hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
        assert_eq!(XPublic::from(&alice).as_bytes(), &hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    }

    fn transcript() -> Transcript<'static> {
        Transcript { client_version: b"SSH-2.0-a", server_version: b"SSH-2.0-b", client_kexinit: b"x", server_kexinit: b"y" }
    }

    #[test]
    fn low_order_client_point_is_refused() {
        let key = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let mut init = Writer::message(msg::KEX_ECDH_INIT);
        init.string(&[0u8; 32]);
        let mut rng = EntropyPool::new(b"t");
        let host_keys = [key];
        let mut cx = KexContext { transcript: transcript(), sig_alg: SigAlg::Ed25519, host_keys: &host_keys, rng: &mut rng };
        let err = Server.step(init.as_slice(), &mut cx).err().unwrap();
        assert_eq!(err.reason, msg::DisconnectReason::KeyExchangeFailed);
    }

    /// A reply whose signature is not over the H the client computes, or that comes out of turn, fails
    /// the client's side.
    #[test]
    fn client_refuses_a_bad_signature_and_a_reply_out_of_turn() {
        let host_keys = [HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32]))];
        let (mut client_rng, mut server_rng) = (EntropyPool::new(b"c"), EntropyPool::new(b"s"));
        let mut client_cx = KexContext { transcript: transcript(), sig_alg: SigAlg::Ed25519, host_keys: &[], rng: &mut client_rng };
        let mut client = Client::default();
        let init = client.start(&mut client_cx).unwrap().unwrap();
        // The server hashes other KEXINITs than the client does: its signature cannot verify.
        let other = Transcript { server_kexinit: b"z", ..transcript() };
        let mut server_cx = KexContext { transcript: other, sig_alg: SigAlg::Ed25519, host_keys: &host_keys, rng: &mut server_rng };
        let reply = Server.step(&init, &mut server_cx).unwrap().send.unwrap();
        let err = client.step(&reply, &mut client_cx).err().unwrap();
        assert_eq!(err.description, "host key signature does not verify");
        let again = client.step(&reply, &mut client_cx).err().unwrap();
        assert_eq!((again.reason, again.description.as_ref()), (msg::DisconnectReason::ProtocolError, "unexpected key exchange message"));
    }
}
