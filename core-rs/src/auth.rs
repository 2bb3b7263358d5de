//! The user authentication protocol (RFC 4252, RFC 4256): message decoding and encoding for both ends.
//! The server's decisions and attempt counting live in `server/userauth.rs`, the client's steps in
//! `client/userauth.rs`.

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{PublicKey, SigAlg};
use crate::msg;
use crate::wire::{Reader, Writer};

/// Limits on what a client may send before it is authenticated.
pub const MAX_USER_LEN: usize = 256;
pub const MAX_SECRET_LEN: usize = 1024;
pub const MAX_PROMPTS: usize = 16;

/// The authentication methods the server knows (RFC 4252 §5, RFC 4256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    None,
    Password,
    PublicKey,
    KeyboardInteractive,
}

impl Method {
    /// Every method the server can offer, in the order it offers them by default (`none` is never offered).
    pub const OFFERABLE: [Method; 3] = [Method::Password, Method::PublicKey, Method::KeyboardInteractive];

    pub fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Password => "password",
            Method::PublicKey => "publickey",
            Method::KeyboardInteractive => "keyboard-interactive",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        [Method::None, Method::Password, Method::PublicKey, Method::KeyboardInteractive].into_iter().find(|m| m.name() == name)
    }
}

/// A decoded SSH_MSG_USERAUTH_REQUEST.
pub struct Request<'a> {
    pub user: &'a str,
    pub service: &'a str,
    pub method: MethodRequest<'a>,
}

pub enum MethodRequest<'a> {
    None,
    Password { password: Zeroizing<String>, change: bool },
    PublicKey { algorithm: &'a str, blob: &'a [u8], signature: Option<&'a [u8]> },
    KeyboardInteractive { submethods: &'a str },
    Other(&'a str),
}

impl MethodRequest<'_> {
    /// The method asked for, if the server knows it.
    pub fn method(&self) -> Option<Method> {
        match self {
            MethodRequest::None => Some(Method::None),
            MethodRequest::Password { .. } => Some(Method::Password),
            MethodRequest::PublicKey { .. } => Some(Method::PublicKey),
            MethodRequest::KeyboardInteractive { .. } => Some(Method::KeyboardInteractive),
            MethodRequest::Other(_) => None,
        }
    }
}

pub fn decode_request(payload: &[u8]) -> Result<Request<'_>> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let user = r.utf8()?;
    let service = r.utf8()?;
    let method = r.utf8()?;
    if user.len() > MAX_USER_LEN {
        return Err(Error::new(msg::DisconnectReason::IllegalUserName, "user name too long"));
    }
    // Names end up in logs and in the host's lookups: control characters have no business there.
    if user.chars().any(char::is_control) {
        return Err(Error::new(msg::DisconnectReason::IllegalUserName, "user name contains control characters"));
    }
    let method = match method {
        "none" => MethodRequest::None,
        "password" => {
            let change = r.bool()?;
            let password = Zeroizing::new(r.utf8_owned()?);
            if change {
                r.utf8()?; // the new password: changes are refused below, so it is not kept
            }
            if password.len() > MAX_SECRET_LEN {
                return Err(Error::protocol("password too long"));
            }
            MethodRequest::Password { password, change }
        }
        "publickey" => {
            let signed = r.bool()?;
            let algorithm = r.utf8()?;
            let blob = r.string()?;
            let signature = if signed { Some(r.string()?) } else { None };
            MethodRequest::PublicKey { algorithm, blob, signature }
        }
        "keyboard-interactive" => {
            r.utf8()?; // language tag, deprecated (RFC 4256 §3.1)
            let submethods = r.utf8()?;
            if submethods.len() > MAX_SECRET_LEN {
                return Err(Error::protocol("keyboard-interactive submethods too long"));
            }
            MethodRequest::KeyboardInteractive { submethods }
        }
        other => MethodRequest::Other(other),
    };
    Ok(Request { user, service, method })
}

/// The data a publickey signature covers (RFC 4252 §7).
pub fn signed_data(session_id: &[u8], user: &str, service: &str, algorithm: &str, blob: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(session_id).u8(msg::USERAUTH_REQUEST).string(user.as_bytes()).string(service.as_bytes());
    w.string(b"publickey").bool(true).string(algorithm.as_bytes()).string(blob);
    w.into_vec()
}

/// Parses the key in `blob` if it is of the type that makes signatures of `algorithm`.
pub fn parse_offered_key(algorithm: SigAlg, blob: &[u8]) -> Option<PublicKey> {
    PublicKey::from_blob(blob).ok().filter(|key| key.key_type() == algorithm.key_type())
}

/// Decodes SSH_MSG_USERAUTH_INFO_RESPONSE, which must answer exactly `expected` prompts.
pub fn decode_info_response(payload: &[u8], expected: usize) -> Result<Vec<Zeroizing<String>>> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let n = r.u32()? as usize;
    if n != expected {
        return Err(Error::protocol("keyboard-interactive response count does not match the prompts"));
    }
    let mut responses = Vec::with_capacity(n.min(MAX_PROMPTS));
    for _ in 0..n {
        let response = Zeroizing::new(r.utf8_owned()?);
        if response.len() > MAX_SECRET_LEN {
            return Err(Error::protocol("keyboard-interactive response too long"));
        }
        responses.push(response);
    }
    r.finish()?;
    Ok(responses)
}

/// USERAUTH_FAILURE listing `methods` that can continue; `none` is never listed (RFC 4252 §5.2).
pub fn encode_failure(methods: &[Method], partial_success: bool) -> Vec<u8> {
    let names: Vec<&str> = methods.iter().filter(|m| **m != Method::None).map(|m| m.name()).collect();
    let mut w = Writer::message(msg::USERAUTH_FAILURE);
    w.name_list(&names).bool(partial_success);
    w.into_vec()
}

pub fn encode_pk_ok(algorithm: &str, blob: &[u8]) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_PK_OK);
    w.string(algorithm.as_bytes()).string(blob);
    w.into_vec()
}

pub fn encode_info_request(name: &str, instruction: &str, prompts: &[(String, bool)]) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_INFO_REQUEST);
    w.string(name.as_bytes()).string(instruction.as_bytes()).string(b"").u32(prompts.len() as u32);
    for (prompt, echo) in prompts {
        w.string(prompt.as_bytes()).bool(*echo);
    }
    w.into_vec()
}

pub fn encode_banner(text: &str) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_BANNER);
    w.string(text.as_bytes()).string(b"");
    w.into_vec()
}

// ---- what a client sends and reads ---------------------------------------------------------------

/// What a client asks to authenticate with; the publickey signature is made over [`signed_data`].
pub enum ClientMethod<'a> {
    None,
    Password(&'a str),
    KeyboardInteractive { submethods: &'a str },
    PublicKey { algorithm: &'a str, blob: &'a [u8], signature: Option<&'a [u8]> },
}

/// SSH_MSG_USERAUTH_REQUEST as a client sends it (RFC 4252 §5, §7, §8; RFC 4256 §3.1). It may carry a
/// password: the caller wipes it.
pub fn encode_request(user: &str, service: &str, method: &ClientMethod) -> Zeroizing<Vec<u8>> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user.as_bytes()).string(service.as_bytes());
    match method {
        ClientMethod::None => w.string(b"none"),
        ClientMethod::Password(password) => w.string(b"password").bool(false).string(password.as_bytes()),
        ClientMethod::KeyboardInteractive { submethods } => w.string(b"keyboard-interactive").string(b"").string(submethods.as_bytes()),
        ClientMethod::PublicKey { algorithm, blob, signature } => {
            w.string(b"publickey").bool(signature.is_some()).string(algorithm.as_bytes()).string(blob);
            if let Some(signature) = signature {
                w.string(signature);
            }
            &mut w
        }
    };
    Zeroizing::new(w.into_vec())
}

/// SSH_MSG_USERAUTH_FAILURE: the methods that can continue, and whether the last step passed.
pub fn decode_failure(payload: &[u8]) -> Result<(Vec<String>, bool)> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let methods = r.name_list()?.split(',').filter(|m| !m.is_empty()).map(String::from).collect();
    let partial_success = r.bool()?;
    r.finish()?;
    Ok((methods, partial_success))
}

/// SSH_MSG_USERAUTH_BANNER's text; the language tag is ignored.
pub fn decode_banner(payload: &[u8]) -> Result<String> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let text = r.utf8_owned()?;
    r.string()?;
    r.finish()?;
    Ok(text)
}

/// SSH_MSG_USERAUTH_PK_OK: the algorithm and key blob it accepts.
pub fn decode_pk_ok(payload: &[u8]) -> Result<(&str, &[u8])> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let algorithm = r.utf8()?;
    let blob = r.string()?;
    r.finish()?;
    Ok((algorithm, blob))
}

/// A decoded SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2).
pub struct InfoRequest {
    pub name: String,
    pub instruction: String,
    /// `(prompt, echo)` pairs.
    pub prompts: Vec<(String, bool)>,
}

pub fn decode_info_request(payload: &[u8]) -> Result<InfoRequest> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let name = r.utf8_owned()?;
    let instruction = r.utf8_owned()?;
    r.string()?; // language tag, deprecated
    let n = r.u32()? as usize;
    if n > MAX_PROMPTS {
        return Err(Error::protocol("too many keyboard-interactive prompts"));
    }
    let mut prompts = Vec::with_capacity(n);
    for _ in 0..n {
        prompts.push((r.utf8_owned()?, r.bool()?));
    }
    r.finish()?;
    Ok(InfoRequest { name, instruction, prompts })
}

pub fn encode_info_response<S: AsRef<str>>(responses: &[S]) -> Zeroizing<Vec<u8>> {
    let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
    w.u32(responses.len() as u32);
    for response in responses {
        w.string(response.as_ref().as_bytes());
    }
    Zeroizing::new(w.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, rest: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::message(msg::USERAUTH_REQUEST);
        w.string(b"alice").string(b"ssh-connection").string(method.as_bytes());
        rest(&mut w);
        w.into_vec()
    }

    #[test]
    fn decodes_each_method_and_rejects_every_truncation() {
        let pw = request("password", |w| {
            w.bool(false).string(b"secret");
        });
        match decode_request(&pw).unwrap().method {
            MethodRequest::Password { password, change } => {
                assert_eq!((password.as_str(), change), ("secret", false))
            }
            _ => panic!("wrong method"),
        }
        let pk = request("publickey", |w| {
            w.bool(true).string(b"ssh-ed25519").string(b"blob").string(b"sig");
        });
        assert!(matches!(decode_request(&pk).unwrap().method, MethodRequest::PublicKey { signature: Some(b"sig"), .. }));
        for msg in [&pw, &pk] {
            for cut in 1..msg.len() {
                assert!(decode_request(&msg[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn what_a_client_encodes_the_server_decoder_reads() {
        let pw = encode_request("alice", "ssh-connection", &ClientMethod::Password("secret"));
        assert!(
            matches!(decode_request(&pw).unwrap().method, MethodRequest::Password { password, change: false } if password.as_str() == "secret")
        );
        let kbd = encode_request("alice", "ssh-connection", &ClientMethod::KeyboardInteractive { submethods: "pam" });
        assert!(matches!(decode_request(&kbd).unwrap().method, MethodRequest::KeyboardInteractive { submethods: "pam" }));
        let pk = ClientMethod::PublicKey { algorithm: "ssh-ed25519", blob: b"blob", signature: Some(b"sig") };
        let pk = encode_request("alice", "ssh-connection", &pk);
        assert!(matches!(decode_request(&pk).unwrap().method, MethodRequest::PublicKey { blob: b"blob", signature: Some(b"sig"), .. }));
        let responses = [Zeroizing::new(String::from("a")), Zeroizing::new(String::from("b"))];
        assert_eq!(decode_info_response(&encode_info_response(&responses), 2).unwrap().len(), 2);
        let prompts = [(String::from("Password: "), false)];
        let request = decode_info_request(&encode_info_request("n", "i", &prompts)).unwrap();
        assert_eq!((request.name.as_str(), request.instruction.as_str(), request.prompts.as_slice()), ("n", "i", &prompts[..]));
        assert_eq!(
            decode_failure(&encode_failure(&[Method::Password, Method::PublicKey], true)).unwrap(),
            (alloc::vec!["password".into(), "publickey".into()], true)
        );
        assert_eq!(decode_banner(&encode_banner("hi")).unwrap(), "hi");
        assert_eq!(decode_pk_ok(&encode_pk_ok("ssh-ed25519", b"blob")).unwrap(), ("ssh-ed25519", &b"blob"[..]));
    }

    #[test]
    fn an_info_request_with_more_prompts_than_the_bound_is_refused() {
        let prompts: Vec<(String, bool)> = (0..=MAX_PROMPTS).map(|i| (alloc::format!("{i}"), true)).collect();
        assert!(decode_info_request(&encode_info_request("", "", &prompts)).is_err());
        assert!(decode_info_request(&encode_info_request("", "", &prompts[1..])).is_ok());
    }

    #[test]
    fn info_response_count_must_match() {
        let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
        w.u32(2).string(b"a").string(b"b");
        assert_eq!(decode_info_response(w.as_slice(), 2).unwrap().len(), 2);
        assert!(decode_info_response(w.as_slice(), 1).is_err());
        let mut huge = Writer::message(msg::USERAUTH_INFO_RESPONSE);
        huge.u32(u32::MAX);
        assert!(decode_info_response(huge.as_slice(), u32::MAX as usize).is_err());
    }
}
