//! `diffie-hellman-group-exchange-sha256` and, off until configured, `-sha1` (RFC 4419): the client asks
//! for a group of min <= size <= max bits, preferring n; the server answers with p and g, and then the
//! exchange runs as a fixed group's, over four messages, with min, n, max, p and g hashed into H. The
//! server's groups are RFC 3526's of 2048, 4096 and 8192 bits; a client takes any odd p of the size it
//! asked for (OpenSSH's servers draw theirs from /etc/ssh/moduli) with 1 < g < p-1.

use alloc::boxed::Box;
use alloc::vec::Vec;
use crypto_bigint::{U2048, U8192};

use super::dh::{mpint_body, Group, Modp, MODP2048, MODP4096, MODP8192};
use super::round_trip::{host_blob, host_key, reply, unexpected, verified, Pending};
use super::{ExchangeHash, HashAlg, KexContext, KexMethod, KexOutcome, Step};
use crate::error::{Error, Result};
use crate::msg;
use crate::wire::{Reader, Writer};

/// The sizes a client asks for: OpenSSH's smallest (DH_GRP_MIN), a preference of 4096 bits, and the largest
/// (DH_GRP_MAX).
const CLIENT_REQUEST: Request = Request { min: 2048, n: 4096, max: 8192 };

/// The server's groups, smallest first.
const SERVER_GROUPS: [&dyn Group; 3] = [&MODP2048, &MODP4096, &MODP8192];

#[derive(Clone, Copy)]
struct Request {
    min: u32,
    n: u32,
    max: u32,
}

impl Request {
    fn read(r: &mut Reader) -> Result<Request> {
        let request = Request { min: r.u32()?, n: r.u32()?, max: r.u32()? };
        if request.min > request.n || request.n > request.max {
            return Err(Error::kex("group exchange request is not min <= n <= max"));
        }
        Ok(request)
    }

    fn fits(&self, bits: usize) -> bool {
        (self.min as usize..=self.max as usize).contains(&bits)
    }
}

/// H for a group exchange (RFC 4419 §3).
#[allow(clippy::too_many_arguments)]
fn exchange_hash(
    cx: &KexContext,
    hash: HashAlg,
    host_key: &[u8],
    request: Request,
    p: &[u8],
    g: &[u8],
    e: &[u8],
    f: &[u8],
    k: &[u8],
) -> Vec<u8> {
    let mut h = ExchangeHash::new(hash, &cx.transcript, host_key);
    for value in [request.min, request.n, request.max] {
        h.u32(value);
    }
    for value in [&mpint_body(p)[..], &mpint_body(g), e, f] {
        h.string(value);
    }
    h.finish(k)
}

/// The server's side.
pub struct Server {
    hash: HashAlg,
    /// The request and the group sent, once the request has come.
    group: Option<(Request, &'static dyn Group)>,
}

impl Server {
    pub fn new(hash: HashAlg) -> Self {
        Server { hash, group: None }
    }
}

impl KexMethod for Server {
    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        let mut r = Reader::new(message);
        match (r.u8()?, self.group) {
            (msg::KEX_DH_GEX_REQUEST, None) => {
                let request = Request::read(&mut r)?;
                r.finish()?;
                // The smallest group of at least n bits, or else the largest that fits.
                let mut fitting = SERVER_GROUPS.iter().copied().filter(|g| request.fits(g.bits()));
                let group = fitting
                    .clone()
                    .find(|g| g.bits() >= request.n as usize)
                    .or_else(|| fitting.next_back())
                    .ok_or_else(|| Error::kex("no group of the requested size"))?;
                self.group = Some((request, group));
                let mut w = Writer::message(msg::KEX_DH_GEX_GROUP);
                w.mpint(&group.prime()).mpint(&group.generator());
                Ok(Step { send: Some(w.into_vec()), done: None })
            }
            (msg::KEX_DH_GEX_INIT, Some((request, group))) => {
                let host_key = host_key(cx)?;
                let e = r.string()?;
                r.finish()?;
                self.group = None;
                let (f, secret) = group.share(cx.rng);
                let shared_secret = secret.finish(e)?;
                let host_blob = host_blob(host_key, cx);
                let (p, g) = (group.prime(), group.generator());
                let exchange_hash = exchange_hash(cx, self.hash, &host_blob, request, &p, &g, e, &f, &shared_secret);
                reply(msg::KEX_DH_GEX_REPLY, host_key, &f, KexOutcome { shared_secret, exchange_hash, host_key: host_blob }, cx)
            }
            _ => Err(unexpected()),
        }
    }
}

/// Where a client's exchange stands.
enum ClientState {
    Requested,
    /// Its e is out; the group, e and x wait for the server's reply.
    Sent {
        p: Vec<u8>,
        g: Vec<u8>,
        e: Vec<u8>,
        secret: Box<dyn Pending>,
    },
    Done,
}

/// The client's side.
pub struct Client {
    hash: HashAlg,
    state: ClientState,
}

impl Client {
    pub fn new(hash: HashAlg) -> Self {
        Client { hash, state: ClientState::Done }
    }
}

impl KexMethod for Client {
    fn start(&mut self, _cx: &mut KexContext) -> Result<Option<Vec<u8>>> {
        self.state = ClientState::Requested;
        let mut w = Writer::message(msg::KEX_DH_GEX_REQUEST);
        w.u32(CLIENT_REQUEST.min).u32(CLIENT_REQUEST.n).u32(CLIENT_REQUEST.max);
        Ok(Some(w.into_vec()))
    }

    fn step(&mut self, message: &[u8], cx: &mut KexContext) -> Result<Step> {
        let mut r = Reader::new(message);
        match (r.u8()?, core::mem::replace(&mut self.state, ClientState::Done)) {
            (msg::KEX_DH_GEX_GROUP, ClientState::Requested) => {
                let (p, g) = (r.mpint()?, r.mpint()?);
                r.finish()?;
                let group = received_group(p, g)?;
                let (e, secret) = group.share(cx.rng);
                let mut w = Writer::message(msg::KEX_DH_GEX_INIT);
                w.string(&e);
                self.state = ClientState::Sent { p: p.to_vec(), g: g.to_vec(), e, secret };
                Ok(Step { send: Some(w.into_vec()), done: None })
            }
            (msg::KEX_DH_GEX_REPLY, ClientState::Sent { p, g, e, secret }) => {
                let host_blob = r.string()?;
                let f = r.string()?;
                let signature = r.string()?;
                r.finish()?;
                let shared_secret = secret.finish(f)?;
                let exchange_hash = exchange_hash(cx, self.hash, host_blob, CLIENT_REQUEST, &p, &g, &e, f, &shared_secret);
                verified(KexOutcome { shared_secret, exchange_hash, host_key: host_blob.to_vec() }, signature, cx)
            }
            _ => Err(unexpected()),
        }
    }
}

/// The server's group, if it is an odd p of the size asked for and 1 < g < p-1.
fn received_group(p: &[u8], g: &[u8]) -> Result<Box<dyn Group>> {
    let bits = p.len() * 8 - p.first().map_or(8, |b| b.leading_zeros() as usize);
    if !CLIENT_REQUEST.fits(bits) {
        return Err(Error::kex("the server's group is not of the size asked for"));
    }
    // The two widths the fixed groups use: each width is another copy of the arithmetic in the module.
    let group: Option<Box<dyn Group>> = match p.len() {
        ..=256 => Modp::<{ U2048::LIMBS }>::from_be(p, g).map(|m| Box::new(m) as Box<dyn Group>),
        _ => Modp::<{ U8192::LIMBS }>::from_be(p, g).map(|m| Box::new(m) as Box<dyn Group>),
    };
    group.ok_or_else(|| Error::kex("the server's group is not an odd prime with 1 < g < p-1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::kex::dh::MODP1024;

    #[test]
    fn a_client_takes_only_an_odd_group_of_the_size_it_asked_for() {
        assert_eq!(received_group(&MODP4096.prime(), &[2]).unwrap().bits(), 4096);
        let refused = |p: &[u8], g: &[u8]| received_group(p, g).err().unwrap().description;
        assert_eq!(refused(&MODP1024.prime(), &[2]), "the server's group is not of the size asked for");
        let mut even = MODP2048.prime();
        if let Some(last) = even.last_mut() {
            *last ^= 1;
        }
        assert_eq!(refused(&even, &[2]), "the server's group is not an odd prime with 1 < g < p-1");
        assert_eq!(refused(&MODP2048.prime(), &[1]), "the server's group is not an odd prime with 1 < g < p-1");
    }
}
