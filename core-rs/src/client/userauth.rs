//! The client's user authentication layer (RFC 4252, RFC 4256) over a transport session: the service
//! request once the host trusts the server's key, then one attempt at a time as the host asks. A publickey
//! attempt queries the key first and signs only once the server said it would take it (RFC 4252 §7).

use alloc::boxed::Box;
use alloc::string::String;

use super::{ClientEvent, Cx};
use crate::auth::{self, ClientMethod};
use crate::error::{Error, Result};
use crate::keys::{HostKey, SigAlg};
use crate::msg;
use crate::server::CommandError;
use crate::transport::session::Session;
use crate::wire::{Reader, Writer};

const USERAUTH_SERVICE: &str = "ssh-userauth";
/// The service a login is for (RFC 4254).
const CONNECTION_SERVICE: &str = "ssh-connection";

#[derive(PartialEq, Eq)]
enum Service {
    NotRequested,
    Requested,
    Accepted,
}

/// The attempt the server has not answered yet.
enum Attempt {
    /// `none` or password: answered by SUCCESS or FAILURE.
    Plain,
    /// `prompts`: how many answers the host owes to the server's last INFO_REQUEST.
    KeyboardInteractive {
        prompts: Option<usize>,
    },
    /// The query of a key, which is signed with once the server answers PK_OK.
    KeyQuery {
        user: String,
        key: Box<HostKey>,
        algorithm: SigAlg,
    },
    KeySigned,
}

pub(super) struct UserAuth {
    service: Service,
    attempt: Option<Attempt>,
    authenticated: bool,
}

impl UserAuth {
    pub(super) fn new() -> Self {
        UserAuth { service: Service::NotRequested, attempt: None, authenticated: false }
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Asks for the authentication service: the host has accepted the server's key.
    pub(super) fn request_service(&mut self, session: &mut Session, cx: &mut Cx) {
        let mut w = Writer::message(msg::SERVICE_REQUEST);
        w.string(USERAUTH_SERVICE.as_bytes());
        session.send(w.as_slice(), &mut cx.ctx);
        self.service = Service::Requested;
    }

    /// Sends an attempt. It may follow the service request without waiting for its acceptance: the server
    /// reads them in order.
    fn attempt(
        &mut self,
        user: &str,
        method: &ClientMethod,
        attempt: Attempt,
        session: &mut Session,
        cx: &mut Cx,
    ) -> Result<(), CommandError> {
        if self.service == Service::NotRequested {
            return Err(CommandError::WrongState("the server's host key has not been accepted"));
        }
        if self.authenticated {
            return Err(CommandError::WrongState("already authenticated"));
        }
        if self.attempt.is_some() {
            return Err(CommandError::WrongState("an authentication attempt is in progress"));
        }
        session.send(&auth::encode_request(user, CONNECTION_SERVICE, method), &mut cx.ctx);
        self.attempt = Some(attempt);
        Ok(())
    }

    pub(super) fn none(&mut self, user: &str, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        self.attempt(user, &ClientMethod::None, Attempt::Plain, session, cx)
    }

    pub(super) fn password(&mut self, user: &str, password: &str, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        self.attempt(user, &ClientMethod::Password(password), Attempt::Plain, session, cx)
    }

    pub(super) fn keyboard_interactive(&mut self, user: &str, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        let method = ClientMethod::KeyboardInteractive { submethods: "" };
        self.attempt(user, &method, Attempt::KeyboardInteractive { prompts: None }, session, cx)
    }

    pub(super) fn publickey(&mut self, user: &str, key: HostKey, session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        let Some(&algorithm) = SigAlg::ALL.iter().find(|&&a| key.signs(a)) else {
            return Err(CommandError::Invalid("no signature algorithm for this key"));
        };
        let blob = key.public().blob();
        let query = ClientMethod::PublicKey { algorithm: algorithm.name(), blob: &blob, signature: None };
        self.attempt(user, &query, Attempt::KeyQuery { user: user.into(), key: Box::new(key), algorithm }, session, cx)
    }

    /// The host's answers to the last prompts, one for each.
    pub(super) fn answer_prompts(&mut self, responses: &[&str], session: &mut Session, cx: &mut Cx) -> Result<(), CommandError> {
        let Some(Attempt::KeyboardInteractive { prompts }) = self.attempt.as_mut() else {
            return Err(CommandError::NothingPending);
        };
        match *prompts {
            None => Err(CommandError::NothingPending),
            Some(n) if n != responses.len() => Err(CommandError::Invalid("one answer for each prompt")),
            Some(_) => {
                *prompts = None;
                session.send(&auth::encode_info_response(responses), &mut cx.ctx);
                Ok(())
            }
        }
    }

    /// SERVICE_ACCEPT and messages 50 to 79.
    pub(super) fn on_message(&mut self, payload: &[u8], session: &mut Session, cx: &mut Cx) -> Result<()> {
        let msg_type = payload.first().copied().unwrap_or_default();
        match msg_type {
            msg::SERVICE_ACCEPT => {
                let mut r = Reader::new(payload);
                r.u8()?;
                let service = r.utf8()?;
                r.finish()?;
                if self.service != Service::Requested || service != USERAUTH_SERVICE {
                    return Err(Error::protocol("service accept for a service we did not request"));
                }
                self.service = Service::Accepted;
            }
            // RFC 4252 §5.4: a banner may come at any time before the login succeeds.
            msg::USERAUTH_BANNER if !self.authenticated => {
                let message = auth::decode_banner(payload)?;
                cx.emit(ClientEvent::Banner { message: displayable(&message) });
            }
            msg::USERAUTH_FAILURE if self.attempt.is_some() => {
                self.attempt = None;
                let (methods, partial_success) = auth::decode_failure(payload)?;
                cx.emit(ClientEvent::AuthFailure { methods, partial_success });
            }
            msg::USERAUTH_SUCCESS if self.attempt.is_some() && payload.len() == 1 => {
                self.attempt = None;
                self.authenticated = true;
                session.start_delayed_compression();
                cx.emit(ClientEvent::Authenticated);
            }
            msg::USERAUTH_PK_OK => self.on_60(payload, session, cx)?,
            _ => return Err(Error::protocol(alloc::format!("unexpected authentication message {msg_type}"))),
        }
        Ok(())
    }

    /// Message 60: PK_OK to a key query, INFO_REQUEST to keyboard-interactive.
    fn on_60(&mut self, payload: &[u8], session: &mut Session, cx: &mut Cx) -> Result<()> {
        match self.attempt.take() {
            Some(Attempt::KeyQuery { user, key, algorithm }) => {
                let blob = key.public().blob();
                if auth::decode_pk_ok(payload)? != (algorithm.name(), &blob[..]) {
                    return Err(Error::protocol("PK_OK for another key"));
                }
                // The signature covers the session id and the request (RFC 4252 §7).
                let session_id = session.session_id().unwrap_or_default();
                let data = auth::signed_data(session_id, &user, CONNECTION_SERVICE, algorithm.name(), &blob);
                let signature = key
                    .sign(algorithm, &data, cx.ctx.rng)
                    .map_err(|_| Error::new(msg::DisconnectReason::ByApplication, "the user key could not sign"))?;
                let signed = ClientMethod::PublicKey { algorithm: algorithm.name(), blob: &blob, signature: Some(&signature) };
                session.send(&auth::encode_request(&user, CONNECTION_SERVICE, &signed), &mut cx.ctx);
                self.attempt = Some(Attempt::KeySigned);
            }
            Some(Attempt::KeyboardInteractive { prompts: None }) => {
                let request = auth::decode_info_request(payload)?;
                self.attempt = Some(Attempt::KeyboardInteractive { prompts: Some(request.prompts.len()) });
                let prompts = request.prompts.into_iter().map(|(text, echo)| (displayable(&text), echo)).collect();
                let (name, instruction) = (displayable(&request.name), displayable(&request.instruction));
                cx.emit(ClientEvent::AuthPrompt { name, instruction, prompts });
            }
            _ => return Err(Error::protocol("unexpected authentication message 60")),
        }
        Ok(())
    }
}

/// Server text for a terminal: control characters other than line ends and tabs would let a server drive
/// the user's terminal (OpenSSH filters them too).
fn displayable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && !matches!(c, '\n' | '\r' | '\t') { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::displayable;

    #[test]
    fn escape_sequences_are_defused_and_lines_kept() {
        assert_eq!(displayable("a\x1b[2Jb\r\n\tc\x07"), "a?[2Jb\r\n\tc?");
    }
}
