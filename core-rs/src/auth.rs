//! The user authentication protocol (RFC 4252, RFC 4256): message decoding and encoding. The
//! decisions and the attempt counting live in the server's authentication layer (`server/userauth.rs`).

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
