//! The server's user authentication layer (RFC 4252, RFC 4256) over a transport session: the service
//! request, and a login's chain of steps. The core keeps the chain, so a host that decides each step cannot get it wrong: the
//! user and service are fixed by the first request, a publickey query is answered only with PK_OK or a
//! refusal, a method outside what the last partial success allowed is refused, and a step that passes
//! ends the login only once OpenSSH's `AuthenticationMethods` is satisfied.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::MAX_QUOTED_CHARS;
use crate::auth::{self, Method, MethodRequest};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::{quote, AuthMethod, AuthReply, AuthRequest, Event, LOG_INFO};
use crate::keys::{CertType, Certificate, KeyAlg, PublicKey};
use crate::msg::{self, DisconnectReason};
use crate::server::CommandError;
use crate::transport::session::{Ctx, Session};
use crate::wire::{Reader, Writer};

/// The one service a login may be for (RFC 4254).
const CONNECTION_SERVICE: &str = "ssh-connection";

/// A decision of this layer the host owes; the connection processes no input meanwhile.
enum Decision {
    Service,
    Auth(PendingAuth),
}

/// An authentication request waiting for the host's answer.
struct PendingAuth {
    method: Method,
    /// For a publickey query: what PK_OK must echo.
    pk_query: Option<(String, Vec<u8>)>,
    /// For a verified publickey request: the key, which may pass one step of the login only.
    signed_key: Option<Vec<u8>>,
}

/// What a login has established so far, kept between USERAUTH_REQUESTs.
struct Login {
    /// User and service, fixed by the first request: OpenSSH disconnects a client that changes either,
    /// since a step passed as one user must not count for another.
    identity: Option<(String, String)>,
    /// Methods that passed, oldest first.
    passed: Vec<Method>,
    /// What is left of each `AuthenticationMethods` list (`None` for `any`); a list left empty is satisfied.
    chains: Option<Vec<Vec<Method>>>,
    /// The methods the last partial success allowed next.
    next: Option<Vec<Method>>,
    /// Keys that passed a step: `publickey,publickey` needs two different keys.
    used_keys: Vec<Vec<u8>>,
    failures: u32,
    /// A `none` request was answered: clients send one to learn the methods, further ones count as failures.
    none_seen: bool,
    banner_sent: bool,
    /// The keyboard-interactive exchange in progress: rounds of prompts sent, and how many answers the
    /// outstanding round expects.
    kbd_rounds: u32,
    kbd_expected: Option<usize>,
}

impl Login {
    fn new(config: &Config) -> Self {
        Login {
            identity: None,
            passed: Vec::new(),
            chains: config.auth_chains.clone(),
            next: None,
            used_keys: Vec::new(),
            failures: 0,
            none_seen: false,
            banner_sent: false,
            kbd_rounds: 0,
            kbd_expected: None,
        }
    }

    /// The methods a client may use now, in the order to list them: what the last partial success allowed,
    /// else the first method of each unsatisfied chain, else every offered method.
    fn allowed(&self, offered: &[Method]) -> Vec<Method> {
        let candidates = match (&self.next, &self.chains) {
            (Some(next), _) => next.clone(),
            (None, Some(chains)) => heads(chains),
            (None, None) => offered.to_vec(),
        };
        candidates.into_iter().filter(|m| *m == Method::None || offered.contains(m)).collect()
    }

    /// Whether a request for `method` goes to the host. `none` does while nothing constrains the login,
    /// so that a host can let users without credentials in.
    fn permits(&self, method: Method, offered: &[Method]) -> bool {
        let unconstrained = self.next.is_none() && self.chains.is_none();
        (method == Method::None && unconstrained) || self.allowed(offered).contains(&method)
    }

    /// Records a step that passed; true once the login is complete: no chains are configured, or one of
    /// them has now passed in full (OpenSSH drops the method from the head of every list it starts).
    fn step_passed(&mut self, method: Method) -> bool {
        self.passed.push(method);
        let Some(chains) = self.chains.as_mut() else {
            return true;
        };
        for chain in chains.iter_mut() {
            if chain.first() == Some(&method) {
                chain.remove(0);
            }
        }
        chains.iter().any(Vec::is_empty)
    }

    fn chains_satisfied(&self) -> bool {
        self.chains.as_ref().map_or(true, |c| c.iter().any(Vec::is_empty))
    }
}

/// The key a publickey request offers under `alg`: a plain key of the type that makes its signatures, or
/// a user certificate for such a key whose CA signature verifies (the certificate, boxed, beside it). A
/// certificate refused is logged with the reason: a host certificate offered as a user's, an unknown
/// critical option, a bad CA signature. Whether its CA is trusted, its validity and principals are the
/// host's to check.
fn offered_key(alg: KeyAlg, blob: &[u8], user: &str, ctx: &mut Ctx) -> Option<(PublicKey, Option<alloc::boxed::Box<Certificate>>)> {
    let KeyAlg::Cert(cert_alg) = alg else {
        return auth::parse_offered_key(alg.base(), blob).map(|key| (key, None));
    };
    let refused = match Certificate::from_blob(blob) {
        Ok(cert) if cert.cert_type != CertType::User => "a host certificate is no user's".into(),
        Ok(cert) if cert.key.key_type() != cert_alg.base().key_type() => "its key is not of the request's type".into(),
        Ok(cert) => return Some((cert.key.clone(), Some(alloc::boxed::Box::new(cert)))),
        Err(e) => e.to_string(),
    };
    ctx.log(LOG_INFO, alloc::format!("certificate offered for {} refused: {refused}", quote(user, MAX_QUOTED_CHARS)));
    None
}

/// The first method of each unsatisfied chain, each once.
fn heads(chains: &[Vec<Method>]) -> Vec<Method> {
    let mut out = Vec::new();
    for m in chains.iter().filter_map(|c| c.first()) {
        if !out.contains(m) {
            out.push(*m);
        }
    }
    out
}

/// The layer's state: the service, the login in progress, the decision the host owes, and the user once
/// authenticated.
pub(super) struct UserAuth {
    service_accepted: bool,
    login: Login,
    pending: Option<Decision>,
    /// The authenticated user, once authentication succeeded.
    user: Option<String>,
}

impl UserAuth {
    pub(super) fn new(config: &Config) -> Self {
        UserAuth { service_accepted: false, login: Login::new(config), pending: None, user: None }
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }

    pub(super) fn decision_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops the decision the host owes: the connection ended.
    pub(super) fn forget_decision(&mut self) {
        self.pending = None;
    }

    /// SERVICE_REQUEST, USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE.
    pub(super) fn on_message(&mut self, payload: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<()> {
        match payload.first().copied() {
            Some(msg::SERVICE_REQUEST) => self.on_service_request(payload, ctx),
            Some(msg::USERAUTH_REQUEST) => self.on_userauth_request(payload, session, ctx),
            _ => self.on_info_response(payload, ctx),
        }
    }

    fn on_service_request(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let service = r.utf8()?;
        r.finish()?;
        if self.service_accepted || service != "ssh-userauth" {
            let service = quote(service, MAX_QUOTED_CHARS);
            return Err(Error::new(DisconnectReason::ServiceNotAvailable, alloc::format!("service not available: {service}")));
        }
        self.pending = Some(Decision::Service);
        ctx.emit(Event::ServiceRequest { service: service.into() });
        Ok(())
    }

    pub(super) fn reply_service(&mut self, accept: bool, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        let Some(Decision::Service) = self.pending else {
            return Err(CommandError::NothingPending);
        };
        self.pending = None;
        if accept {
            self.service_accepted = true;
            let mut w = Writer::message(msg::SERVICE_ACCEPT);
            w.string(b"ssh-userauth");
            session.send(w.as_slice(), ctx);
        } else {
            session.fail(ctx, Error::new(DisconnectReason::ServiceNotAvailable, "service refused"));
        }
        Ok(())
    }

    fn on_userauth_request(&mut self, payload: &[u8], session: &mut Session, ctx: &mut Ctx) -> Result<()> {
        if !self.service_accepted {
            return Err(Error::protocol("authentication request before the ssh-userauth service"));
        }
        if self.user.is_some() {
            return Ok(()); // RFC 4252 §5.1: requests after success are ignored
        }
        let request = auth::decode_request(payload)?;
        match &self.login.identity {
            None => self.login.identity = Some((request.user.into(), request.service.into())),
            Some((user, service)) if user != request.user || service != request.service => {
                return Err(Error::protocol("change of user or service during authentication"));
            }
            Some(_) => {}
        }
        // A new request abandons a keyboard-interactive exchange in progress (RFC 4256 §3.4).
        self.login.kbd_rounds = 0;
        self.login.kbd_expected = None;
        if !self.login.banner_sent {
            self.login.banner_sent = true;
            if let Some(banner) = &ctx.config.banner {
                session.send(&auth::encode_banner(banner), ctx);
            }
        }
        let requested = request.method.method();
        let permitted = requested.is_some_and(|m| self.login.permits(m, &ctx.config.auth_methods));
        let (Some(method), true, CONNECTION_SERVICE) = (requested, permitted, request.service) else {
            return self.refuse(session, ctx, requested, None);
        };
        let mut pending = PendingAuth { method, pk_query: None, signed_key: None };
        let method = match request.method {
            MethodRequest::None => AuthMethod::None,
            MethodRequest::Password { change: true, .. } => return self.refuse(session, ctx, Some(method), None),
            MethodRequest::Password { password, .. } => AuthMethod::Password { password },
            MethodRequest::PublicKey { algorithm, blob, signature } => {
                // The request names a signature algorithm; the key must be of the type that makes it.
                let alg = KeyAlg::from_name(algorithm).filter(|a| ctx.config.user_key_algorithms.contains(a));
                let offered = alg.and_then(|a| offered_key(a, blob, request.user, ctx).map(|(key, cert)| (a.base(), key, cert)));
                let Some((sig_alg, key, certificate)) = offered.filter(|_| !self.login.used_keys.iter().any(|k| k == blob)) else {
                    return self.refuse(session, ctx, Some(method), None);
                };
                if let Some(signature) = signature {
                    let session_id = session.session_id().unwrap_or_default();
                    // The signature covers the blob as sent: the certificate, for a certificate.
                    let data = auth::signed_data(session_id, request.user, request.service, algorithm, blob);
                    if !key.verify(sig_alg, &data, signature) {
                        ctx.log(LOG_INFO, alloc::format!("publickey signature for {} did not verify", request.user));
                        return self.refuse(session, ctx, Some(method), None);
                    }
                    pending.signed_key = Some(blob.to_vec());
                } else {
                    pending.pk_query = Some((algorithm.to_string(), blob.to_vec()));
                }
                AuthMethod::PublicKey { algorithm: algorithm.into(), key: blob.to_vec(), signed: signature.is_some(), certificate }
            }
            MethodRequest::KeyboardInteractive { submethods } => {
                AuthMethod::KeyboardInteractive { submethods: submethods.into(), responses: None }
            }
            MethodRequest::Other(_) => return self.refuse(session, ctx, Some(method), None),
        };
        self.ask_host(pending, method, ctx);
        Ok(())
    }

    fn on_info_response(&mut self, payload: &[u8], ctx: &mut Ctx) -> Result<()> {
        let Some(expected) = self.login.kbd_expected.take() else {
            return Err(Error::protocol("keyboard-interactive response without a request"));
        };
        let responses = auth::decode_info_response(payload, expected)?;
        let pending = PendingAuth { method: Method::KeyboardInteractive, pk_query: None, signed_key: None };
        self.ask_host(pending, AuthMethod::KeyboardInteractive { submethods: String::new(), responses: Some(responses) }, ctx);
        Ok(())
    }

    fn ask_host(&mut self, pending: PendingAuth, method: AuthMethod, ctx: &mut Ctx) {
        let (user, service) = self.login.identity.clone().unwrap_or_default();
        self.pending = Some(Decision::Auth(pending));
        let passed = self.login.passed.clone();
        ctx.emit(Event::AuthRequest(AuthRequest { user, service, method, passed }));
    }

    pub(super) fn reply_auth(&mut self, reply: AuthReply, session: &mut Session, ctx: &mut Ctx) -> Result<(), CommandError> {
        let pending = match self.pending.take() {
            Some(Decision::Auth(pending)) => pending,
            other => {
                self.pending = other;
                return Err(CommandError::NothingPending);
            }
        };
        if let AuthReply::Prompt { prompts, .. } = &reply {
            let error = if pending.method != Method::KeyboardInteractive {
                Some(CommandError::WrongState("prompts answer only keyboard-interactive requests"))
            } else if prompts.len() > auth::MAX_PROMPTS {
                Some(CommandError::Invalid("too many prompts"))
            } else {
                None
            };
            if let Some(error) = error {
                self.pending = Some(Decision::Auth(pending));
                return Err(error);
            }
        }
        let result = match (reply, &pending.pk_query) {
            // A query only asks whether a key would do: whatever the host meant, the answer is PK_OK, and
            // the step is decided when the signed request comes.
            (AuthReply::Accept | AuthReply::PartialSuccess { .. }, Some((algorithm, blob))) => {
                session.send(&auth::encode_pk_ok(algorithm, blob), ctx);
                Ok(())
            }
            (AuthReply::Accept, None) => self.step_passed(session, ctx, pending, None),
            (AuthReply::PartialSuccess { methods }, None) => self.step_passed(session, ctx, pending, Some(methods)),
            (AuthReply::Reject { methods }, _) => self.refuse(session, ctx, Some(pending.method), methods),
            (AuthReply::Prompt { name, instruction, prompts, retry }, _) => self.prompt(session, ctx, &name, &instruction, &prompts, retry),
        };
        if let Err(e) = result {
            session.fail(ctx, e);
        }
        Ok(())
    }

    /// The host passed a step. `more`: the host asked for a further step (with the methods it names, or
    /// what the chains allow), even if the configured chains are satisfied.
    fn step_passed(&mut self, session: &mut Session, ctx: &mut Ctx, pending: PendingAuth, more: Option<Option<Vec<Method>>>) -> Result<()> {
        self.login.kbd_rounds = 0;
        self.login.used_keys.extend(pending.signed_key);
        let complete = self.login.step_passed(pending.method);
        if complete && more.is_none() {
            let (user, _) = self.login.identity.clone().unwrap_or_default();
            let methods: Vec<&str> = self.login.passed.iter().map(|m| m.name()).collect();
            let methods = methods.join(",");
            session.send(&[msg::USERAUTH_SUCCESS], ctx);
            session.start_delayed_compression();
            ctx.log(LOG_INFO, alloc::format!("user {user} authenticated with {methods}"));
            ctx.emit(Event::Authenticated { user: user.clone(), method: pending.method.name().into() });
            self.user = Some(user);
            return Ok(());
        }
        // What may follow: the host's choice, within the chains while they are unsatisfied; once they are
        // (or with none configured), any offered method.
        self.login.next = None;
        let allowed =
            if self.login.chains_satisfied() { ctx.config.auth_methods.clone() } else { self.login.allowed(&ctx.config.auth_methods) };
        let next = match more.flatten() {
            Some(host) => host.into_iter().filter(|m| allowed.contains(m)).collect(),
            None => allowed,
        };
        session.send(&auth::encode_failure(&next, true), ctx);
        self.login.next = Some(next);
        Ok(())
    }

    /// Refuses an attempt at `method` (`None` for one the server does not know) with USERAUTH_FAILURE,
    /// listing what may still be tried (narrowed by `methods`), or ends the connection once the client has
    /// used up its attempts.
    fn refuse(&mut self, session: &mut Session, ctx: &mut Ctx, method: Option<Method>, methods: Option<Vec<Method>>) -> Result<()> {
        self.login.kbd_rounds = 0;
        // Every refusal counts, publickey queries included (as in OpenSSH), except a first "none".
        let none = method == Some(Method::None);
        let first_none = none && !self.login.none_seen;
        self.login.none_seen |= none;
        if !first_none {
            self.count_failure(ctx)?;
        }
        let mut list = self.login.allowed(&ctx.config.auth_methods);
        if let Some(narrower) = methods {
            list.retain(|m| narrower.contains(m));
        }
        session.send(&auth::encode_failure(&list, false), ctx);
        Ok(())
    }

    fn count_failure(&mut self, ctx: &Ctx) -> Result<()> {
        self.login.failures += 1;
        if self.login.failures >= ctx.config.max_auth_attempts {
            return Err(Error::new(DisconnectReason::NoMoreAuthMethodsAvailable, "too many authentication failures"));
        }
        Ok(())
    }

    /// Sends a round of keyboard-interactive prompts, within `MaxKeyboardInteractiveRounds` per attempt.
    fn prompt(
        &mut self,
        session: &mut Session,
        ctx: &mut Ctx,
        name: &str,
        instruction: &str,
        prompts: &[(String, bool)],
        retry: bool,
    ) -> Result<()> {
        if self.login.kbd_rounds >= ctx.config.max_kbd_rounds {
            ctx.log(LOG_INFO, alloc::format!("keyboard-interactive: more than {} rounds, refused", ctx.config.max_kbd_rounds));
            return self.refuse(session, ctx, Some(Method::KeyboardInteractive), None);
        }
        if retry {
            self.count_failure(ctx)?;
        }
        self.login.kbd_rounds += 1;
        self.login.kbd_expected = Some(prompts.len());
        session.send(&auth::encode_info_request(name, instruction, prompts), ctx);
        Ok(())
    }
}
