//! What every boundary over `wasshd-core` shares, so that the wasm-bindgen module (`wasm/src/lib.rs`) and the
//! WIT component (`wasm/component/`) take the same arguments, fail with the same codes and messages, and
//! hand over the same event records. Each boundary only converts its own types; nothing here knows one.
//!
//! Errors carry the reference component's numeric code and a message (`Error`); the wasm-bindgen module
//! puts the code in brackets at the start of its message, the component returns both in a WIT record.
//!
//! The event records (`drain_events`, `encode_event`) are the one format every host decodes
//! (`ts/core/events.ts`, `python/wasshd_wasmtime.py`): a tag byte, the connection id (u32), then the fields in
//! SSH wire types (RFC 4251 §5: `uint32` big-endian, `string` with a u32 length, `boolean` one byte).

#![no_std]
extern crate alloc;

pub mod client;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use wasshd_core::auth::Method;
use wasshd_core::connection::ChannelRequest;
use wasshd_core::event::{AuthRequest, KexSummary};
use wasshd_core::keys::{CertType, Certificate, HostKey, KeyError};
use wasshd_core::wipe::{wipe, wipe_vec, SecretBytes};
use wasshd_core::wire::Writer;
use wasshd_core::{AuthMethod, AuthReply, CommandError, Event, Server};
use zeroize::{Zeroize, Zeroizing};

/// Record tags of the event stream; `ts/core/events.ts` and `python/wasshd_wasmtime.py` mirror them.
pub mod tag {
    pub const LOG: u8 = 1;
    pub const CLIENT_VERSION: u8 = 2;
    pub const KEYS_EXCHANGED: u8 = 3;
    pub const SERVICE_REQUEST: u8 = 4;
    pub const AUTH_REQUEST: u8 = 5;
    pub const AUTHENTICATED: u8 = 6;
    pub const CHANNEL_OPEN_REQUEST: u8 = 7;
    pub const CHANNEL_REQUEST: u8 = 8;
    pub const CHANNEL_DATA: u8 = 9;
    pub const CHANNEL_EOF: u8 = 10;
    pub const CHANNEL_CLOSED: u8 = 11;
    pub const CHANNEL_READY_TO_SEND: u8 = 12;
    pub const DISCONNECTED: u8 = 13;
    pub const GLOBAL_REQUEST: u8 = 14;
    pub const CHANNEL_OPEN_CONFIRMED: u8 = 15;
    pub const CHANNEL_OPEN_FAILED: u8 = 16;
}

/// The reference's error codes this boundary uses itself (the core's own come from `CommandError::code`).
pub mod code {
    pub const INVALID_ARGUMENT: u32 = 129;
    pub const NO_HOST_KEY: u32 = 1301;
    /// A passphrase-protected key file without its passphrase, or with a wrong one.
    pub const KEY_PASSPHRASE: u32 = 1302;
    /// A key file of a format or key type this build does not read.
    pub const KEY_FORMAT: u32 = 1303;
}

/// A command that failed: the reference's code and a message a person can act on.
#[derive(Debug, PartialEq, Eq)]
pub struct Error {
    pub code: u32,
    pub message: String,
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error { code: e.code(), message: format!("{e}") }
    }
}

fn invalid(message: String) -> Error {
    Error { code: code::INVALID_ARGUMENT, message }
}

/// A server seeded with `seed`: at least 32 bytes from the host's CSPRNG.
pub fn server(seed: &[u8]) -> Result<Server, Error> {
    check_seed(seed)?;
    Ok(Server::new(seed))
}

pub fn check_seed(seed: &[u8]) -> Result<(), Error> {
    if seed.len() < 32 {
        return Err(invalid("the seed must be at least 32 random bytes".into()));
    }
    Ok(())
}

/// The host's clock in milliseconds (a float in every host language) as the core's.
pub fn millis(now: f64) -> u64 {
    now as u64
}

/// Applies a setting the core owns; false for a name it does not know.
pub fn set_config(server: &mut Server, name: &str, value: &str) -> Result<bool, Error> {
    server.config_mut().set(name, value).map_err(|why| invalid(format!("{name}: {why}")))
}

/// A key file that could not be used: `what` names it in the message, `other` is the code of a damaged or
/// refused one.
pub(crate) fn key_error(e: KeyError, what: &str, other: u32) -> Error {
    let code = match e {
        KeyError::PassphraseNeeded | KeyError::WrongPassphrase => code::KEY_PASSPHRASE,
        KeyError::Unsupported(_) => code::KEY_FORMAT,
        _ => other,
    };
    Error { code, message: format!("{what}: {e}") }
}

/// A host key from a private key file of any format `HostKey::from_bytes` reads, opened with `passphrase` if
/// it is encrypted (empty: none).
#[cfg(feature = "files")]
pub fn host_key_file(file: &[u8], passphrase: &str) -> Result<HostKey, Error> {
    HostKey::from_bytes(file, Some(passphrase).filter(|p| !p.is_empty())).map_err(|e| key_error(e, "host key", code::NO_HOST_KEY))
}

/// A new key as `ssh-keygen -t kind -b bits -N '' -C comment` makes it (`HostKey::generate`; `bits` 0: the
/// type's default), as an unencrypted OpenSSH private key file.
#[cfg(feature = "files")]
pub fn generate_key_file(
    rng: &mut impl rand_core::CryptoRngCore,
    kind: &str,
    bits: u32,
    comment: &str,
) -> Result<Zeroizing<String>, Error> {
    let key = HostKey::generate(rng, kind, bits).map_err(|e| key_error(e, "new key", code::INVALID_ARGUMENT))?;
    Ok(Zeroizing::new(key.to_openssh(comment, rng.next_u32())))
}

/// Installs a private key file (see [`host_key_file`]); returns its public line.
#[cfg(feature = "files")]
pub fn add_host_key(server: &mut Server, text: &str, passphrase: &str) -> Result<String, Error> {
    Ok(server.add_host_key(host_key_file(text.as_bytes(), passphrase)?))
}

/// Installs a host key in the canonical form (`wasshd_core::keys::private`); returns its public line.
pub fn install_host_key(server: &mut Server, wire: &[u8]) -> Result<String, Error> {
    Ok(server.add_host_key(HostKey::from_wire(wire).map_err(|e| key_error(e, "host key", code::NO_HOST_KEY))?))
}

/// Installs a key the server will move to, in the canonical form: named to clients after login, never used in
/// a key exchange; returns its public line.
pub fn install_next_host_key(server: &mut Server, wire: &[u8]) -> Result<String, Error> {
    Ok(server.add_next_host_key(HostKey::from_wire(wire).map_err(|e| key_error(e, "host key", code::NO_HOST_KEY))?))
}

/// The installed host keys' fingerprints, `hash` `sha256` or `md5`, as `ssh-keygen -l` prints them.
pub fn host_key_fingerprints(server: &Server, hash: &str) -> Result<Vec<String>, Error> {
    match hash {
        "sha256" => Ok(server.host_key_fingerprints(false)),
        "md5" => Ok(server.host_key_fingerprints(true)),
        _ => Err(invalid(format!("unknown fingerprint hash {hash}: sha256 or md5"))),
    }
}

/// A refusal, or with `partial_success` a passed step that asks for more. `methods`: comma-separated
/// methods that may follow (narrowing what the core allows), or empty for the core's own list.
pub fn auth_reject(partial_success: bool, methods: &str) -> Result<AuthReply, Error> {
    let methods = if methods.is_empty() {
        None
    } else {
        let parsed: Option<Vec<Method>> = methods.split(',').map(Method::from_name).collect();
        Some(parsed.ok_or_else(|| invalid(format!("unknown authentication method in {methods}")))?)
    };
    Ok(if partial_success { AuthReply::PartialSuccess { methods } } else { AuthReply::Reject { methods } })
}

/// Keyboard-interactive prompts, each with whether the client echoes the answer; `retry`: the previous
/// answers were wrong.
pub fn auth_prompt(name: &str, instruction: &str, prompts: Vec<(String, bool)>, retry: bool) -> AuthReply {
    AuthReply::Prompt { name: name.into(), instruction: instruction.into(), prompts, retry }
}

/// Every pending event of every connection, as one record stream (see [`drain_events_into`]).
pub fn drain_events(server: &mut Server) -> SecretBytes {
    let mut records = SecretBytes::default();
    drain_events_into(server, &mut records);
    records
}

/// Appends every pending event of every connection to `records`, which grows by hand so that no
/// reallocation leaves a password behind. Channel data, the bulk of the stream, is written straight in;
/// other records are written apart first (their length is not known ahead). A host that keeps `records`
/// between drains passes it to [`clear_records`] once it has its copy.
pub fn drain_events_into(server: &mut Server, records: &mut SecretBytes) {
    let mut scratch = Zeroizing::new(Writer::new());
    while let Some((conn, event)) = server.poll_event() {
        let known_len = match &event {
            Event::ChannelData { data, .. } => Some(CHANNEL_DATA_HEADER_LEN + data.len()),
            _ => None,
        };
        append_record(records, &mut scratch, known_len, |w| encode_event(w, conn, &event));
    }
}

/// Appends one record to `records`, which grows by hand so that no reallocation leaves earlier records
/// behind. A record of `known_len` (channel data, the bulk of a stream) is written straight in; others are
/// written into `scratch` first, which is wiped after.
pub(crate) fn append_record(records: &mut SecretBytes, scratch: &mut Writer, known_len: Option<usize>, write: impl FnOnce(&mut Writer)) {
    if let Some(len) = known_len {
        reserve_wiping(records, len);
        let mut w = Writer::from(core::mem::take(&mut **records));
        write(&mut w);
        **records = w.into_vec();
        return;
    }
    write(scratch);
    reserve_wiping(records, scratch.len());
    records.extend_from_slice(scratch.as_slice());
    scratch.zeroize();
}

/// A channel data record before its data: tag, connection, channel, stream, length.
pub(crate) const CHANNEL_DATA_HEADER_LEN: usize = 1 + 4 * 4;
/// What a kept record buffer may hold on to between drains: a burst's worth goes back to the allocator.
const RECORDS_KEPT_CAPACITY: usize = 1024 * 1024;

/// Wipes the records the host has copied and empties the buffer for the next drain, keeping its allocation
/// (its spare capacity is then all zeros) unless a burst made it large.
pub fn clear_records(records: &mut SecretBytes) {
    if records.capacity() > RECORDS_KEPT_CAPACITY {
        wipe_vec(records);
        **records = Vec::new();
    } else {
        wipe(records);
        records.clear();
    }
}

/// Makes room for `additional` bytes, growing `buf` by hand: the old allocation is zeroized before it is freed.
fn reserve_wiping(buf: &mut Vec<u8>, additional: usize) {
    if buf.capacity() - buf.len() < additional {
        let mut grown = Vec::with_capacity((buf.len() + additional).max(buf.capacity() * 2));
        grown.extend_from_slice(buf);
        wipe_vec(buf);
        *buf = grown;
    }
}

/// Bits of [`status`]: what a host fetches after a call, so that it makes no call that would return nothing.
pub mod status {
    /// The connection has output to write (`take_output`).
    pub const OUTPUT: u32 = 1;
    /// Some connection has events (`drain_events`).
    pub const EVENTS: u32 = 2;
    /// Input waits for the host's answer to a decision (`Server::decision_pending`).
    pub const DECISION_PENDING: u32 = 4;
    /// Processing stopped at the output budget with input left (`Server::input_pending`).
    pub const INPUT_PENDING: u32 = 8;
}

/// The connection's [`status`] bits after a call.
pub fn status(server: &Server, conn: u32) -> u32 {
    let bit = |on: bool, bit: u32| if on { bit } else { 0 };
    bit(!server.output(conn).is_empty(), status::OUTPUT)
        | bit(server.has_events(), status::EVENTS)
        | bit(server.decision_pending(conn), status::DECISION_PENDING)
        | bit(server.input_pending(conn), status::INPUT_PENDING)
}

/// Room for an authentication request's record, so that writing its secret never reallocates.
fn auth_record_len(req: &AuthRequest) -> usize {
    let fields = match &req.method {
        AuthMethod::None => 0,
        AuthMethod::Password { password } => 4 + password.len(),
        AuthMethod::PublicKey { algorithm, key, certificate, .. } => {
            4 + algorithm.len() + 4 + key.len() + 1 + 1 + certificate.as_deref().map_or(0, cert_record_len)
        }
        AuthMethod::KeyboardInteractive { submethods, responses } => {
            4 + submethods.len() + 4 + responses.iter().flatten().map(|r| 4 + r.len()).sum::<usize>()
        }
    };
    1 + 4 + 4 + req.user.len() + 4 + req.service.len() + 4 + req.method.name().len() + fields
}

fn cert_record_len(c: &Certificate) -> usize {
    let pairs = |list: &mut dyn Iterator<Item = usize>| 4 + list.map(|n| 8 + n).sum::<usize>();
    let key = c.key.blob().len();
    8 + 4
        + 4
        + c.key_id.len()
        + 4
        + c.principals.iter().map(|p| 4 + p.len()).sum::<usize>()
        + 16
        + pairs(&mut c.critical_options.iter().map(|(n, v)| n.len() + v.len()))
        + pairs(&mut c.extensions.iter().map(|(n, v)| n.len() + v.len()))
        + 4
        + c.ca_key.len()
        + 4
        + key
}

/// A user certificate the core checked: serial, type (1 user, 2 host), key id, principals (count, then
/// each), validity (u64 seconds), critical options and extensions (count, then name and data each), the
/// CA's key blob and the certified key's blob.
fn encode_certificate(w: &mut Writer, c: &Certificate) {
    let cert_type = match c.cert_type {
        CertType::User => 1,
        CertType::Host => 2,
    };
    w.u64(c.serial).u32(cert_type).string(c.key_id.as_bytes()).u32(c.principals.len() as u32);
    for p in &c.principals {
        w.string(p.as_bytes());
    }
    w.u64(c.valid_after).u64(c.valid_before).u32(c.critical_options.len() as u32);
    for (name, value) in &c.critical_options {
        w.string(name.as_bytes()).string(value.as_bytes());
    }
    w.u32(c.extensions.len() as u32);
    for (name, data) in &c.extensions {
        w.string(name.as_bytes()).string(data);
    }
    w.string(&c.ca_key).string(&c.key.blob());
}

/// A finished key exchange's algorithms, as both roles' records carry them.
fn encode_kex_summary(w: &mut Writer, k: &KexSummary) {
    for s in [k.kex, k.host_key, k.cipher_in, k.cipher_out, k.mac_in, k.mac_out] {
        w.string(s.as_bytes());
    }
    w.bool(k.strict).bool(k.initial);
}

/// One event as the record `drain_events` returns and the hosts decode. Public so that the fuzz
/// transcripts (core-rs/fuzz) record native events in exactly this form.
pub fn encode_event(w: &mut Writer, conn: u32, event: &Event) {
    let head = |w: &mut Writer, tag: u8| {
        w.u8(tag).u32(conn);
    };
    match event {
        Event::Log { level, message } => {
            head(w, tag::LOG);
            w.u8(*level).string(message.as_bytes());
        }
        Event::ClientVersion { version } => {
            head(w, tag::CLIENT_VERSION);
            w.string(version.as_bytes());
        }
        Event::KeysExchanged(k) => {
            head(w, tag::KEYS_EXCHANGED);
            encode_kex_summary(w, k);
        }
        Event::ServiceRequest { service } => {
            head(w, tag::SERVICE_REQUEST);
            w.string(service.as_bytes());
        }
        Event::AuthRequest(req) => {
            w.reserve(auth_record_len(req));
            head(w, tag::AUTH_REQUEST);
            w.string(req.user.as_bytes()).string(req.service.as_bytes()).string(req.method.name().as_bytes());
            w.name_list(&req.passed.iter().map(|m| m.name()).collect::<Vec<_>>());
            match &req.method {
                AuthMethod::None => {}
                AuthMethod::Password { password } => {
                    w.string(password.as_bytes());
                }
                AuthMethod::PublicKey { algorithm, key, signed, certificate } => {
                    w.string(algorithm.as_bytes()).string(key).bool(*signed).bool(certificate.is_some());
                    if let Some(cert) = certificate {
                        encode_certificate(w, cert);
                    }
                }
                AuthMethod::KeyboardInteractive { submethods, responses } => {
                    w.string(submethods.as_bytes());
                    match responses {
                        None => {
                            w.u32(u32::MAX);
                        }
                        Some(list) => {
                            w.u32(list.len() as u32);
                            for r in list {
                                w.string(r.as_bytes());
                            }
                        }
                    }
                }
            }
        }
        Event::Authenticated { user, method } => {
            head(w, tag::AUTHENTICATED);
            w.string(user.as_bytes()).string(method.as_bytes());
        }
        Event::ChannelOpenRequest { channel, kind, data } => {
            head(w, tag::CHANNEL_OPEN_REQUEST);
            w.u32(*channel).string(kind.as_bytes()).string(data);
        }
        Event::ChannelRequest { channel, request, want_reply } => {
            head(w, tag::CHANNEL_REQUEST);
            w.u32(*channel).bool(*want_reply).string(request.name().as_bytes());
            // Undecoded data gets a length here, so that the record can be read without knowing the request.
            match request {
                ChannelRequest::Other { data, .. } => {
                    w.string(data);
                }
                decoded => decoded.encode_fields(w),
            }
        }
        Event::ChannelData { channel, stream, data } => {
            head(w, tag::CHANNEL_DATA);
            w.u32(*channel).u32(*stream).string(data);
        }
        Event::ChannelEof { channel } => {
            head(w, tag::CHANNEL_EOF);
            w.u32(*channel);
        }
        Event::ChannelClosed { channel } => {
            head(w, tag::CHANNEL_CLOSED);
            w.u32(*channel);
        }
        Event::ChannelReadyToSend { channel } => {
            head(w, tag::CHANNEL_READY_TO_SEND);
            w.u32(*channel);
        }
        Event::GlobalRequest { name, data, want_reply } => {
            head(w, tag::GLOBAL_REQUEST);
            w.string(name.as_bytes()).bool(*want_reply).string(data);
        }
        Event::ChannelOpenConfirmed { channel } => {
            head(w, tag::CHANNEL_OPEN_CONFIRMED);
            w.u32(*channel);
        }
        Event::ChannelOpenFailed { channel, reason, description } => {
            head(w, tag::CHANNEL_OPEN_FAILED);
            w.u32(*channel).u32(*reason).string(description.as_bytes());
        }
        Event::Disconnected { reason, description, by_peer } => {
            head(w, tag::DISCONNECTED);
            w.u32(*reason).string(description.as_bytes()).bool(*by_peer);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use alloc::vec;

    fn record(conn: u32, event: Event) -> Vec<u8> {
        let mut w = Writer::new();
        encode_event(&mut w, conn, &event);
        w.into_vec()
    }

    // The hosts decode these layouts: a change here must change them too.
    #[test]
    fn channel_data_record_layout() {
        let bytes = record(7, Event::ChannelData { channel: 2, stream: 1, data: b"hi".to_vec() });
        assert_eq!(bytes, [tag::CHANNEL_DATA, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn disconnected_record_layout() {
        let bytes = record(1, Event::Disconnected { reason: 5, description: "mac".into(), by_peer: false });
        assert_eq!(bytes, [tag::DISCONNECTED, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 3, b'm', b'a', b'c', 0]);
    }

    #[test]
    fn keyboard_interactive_start_marks_responses_absent() {
        let method = AuthMethod::KeyboardInteractive { submethods: String::new(), responses: None };
        let passed = vec![Method::PublicKey];
        let bytes = record(3, Event::AuthRequest(AuthRequest { user: "u".into(), service: "s".into(), method, passed }));
        // tag, conn, "u", "s", "keyboard-interactive", "publickey" (methods passed), "" (submethods), then
        // u32::MAX for "no responses yet".
        assert_eq!(bytes[0], tag::AUTH_REQUEST);
        assert_eq!(&bytes[39..52], b"\0\0\0\x09publickey");
        assert_eq!(&bytes[bytes.len() - 8..], &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn errors_keep_the_reference_codes() {
        assert_eq!(server(&[0; 31]).err().map(|e| e.code), Some(129));
        assert_eq!(Error::from(CommandError::NoSuchConnection), Error { code: 126, message: "invalid connection id".into() });
        let unknown = auth_reject(false, "password,telepathy").err();
        assert_eq!(unknown, Some(Error { code: 129, message: "unknown authentication method in password,telepathy".into() }));
        assert!(matches!(auth_reject(true, "publickey"), Ok(AuthReply::PartialSuccess { methods: Some(m) }) if m == [Method::PublicKey]));
    }
}
