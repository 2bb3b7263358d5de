//! What the core tells the host, and how the host answers. Events are owned records keyed by connection
//! (and channel) id, so they cross a wasm boundary without borrowing the core. An event that needs an
//! answer waits for the host to call the matching reply method on [`Server`](crate::server::Server): a
//! service or authentication decision pauses its connection's input meanwhile, a channel decision only
//! its channel (see [`Server::decision_pending`](crate::server::Server::decision_pending)).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::auth::Method;
use crate::connection::ChannelRequest;
use crate::keys::Certificate;

/// Detail levels of [`Event::Log`], as the reference's `LogLevel`.
pub const LOG_INFO: u8 = 1;
pub const LOG_VERBOSE: u8 = 2;
pub const LOG_DEBUG: u8 = 3;

/// Peer text made fit for a log line or an event: control characters replaced, at most `max` characters.
pub fn quote(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[derive(Debug)]
pub enum Event {
    /// Progress and diagnostics; level 1 is the reference's `SSHStatus` detail.
    Log {
        level: u8,
        message: String,
    },
    /// The client's identification string (`ClientSSHVersionString`).
    ClientVersion {
        version: String,
    },
    /// A key exchange finished.
    KeysExchanged(KexSummary),
    /// The client asked for a service. Answer with `reply_service`.
    ServiceRequest {
        service: String,
    },
    /// The client tried to authenticate. Answer with `reply_auth`.
    AuthRequest(AuthRequest),
    /// Authentication finished; connection-layer messages are accepted from now on.
    Authenticated {
        user: String,
        method: String,
    },
    /// The client asked to open a channel, reserving id `channel`. Answer with `reply_channel_open`.
    ChannelOpenRequest {
        channel: u32,
        kind: String,
        data: Vec<u8>,
    },
    /// A request on an open channel. Answer with `reply_channel_request`, in order per channel.
    ChannelRequest {
        channel: u32,
        request: ChannelRequest,
        want_reply: bool,
    },
    /// Channel data; `stream` 0 is the data stream, 1 is stderr (extended data type 1).
    /// Report what has been processed with `consume_channel_data` to reopen the window.
    ChannelData {
        channel: u32,
        stream: u32,
        data: Vec<u8>,
    },
    ChannelEof {
        channel: u32,
    },
    ChannelClosed {
        channel: u32,
    },
    /// The peer's window has room again after a send was cut short.
    ChannelReadyToSend {
        channel: u32,
    },
    /// A global request the core does not answer itself (it does keepalives and `no-more-sessions`), such as
    /// `tcpip-forward`: `data` is what follows the name and flag. Answer with `reply_global_request`, in order.
    GlobalRequest {
        name: String,
        data: Vec<u8>,
        want_reply: bool,
    },
    /// The client took a channel the server opened (`open_channel`): it is open.
    ChannelOpenConfirmed {
        channel: u32,
    },
    /// The client refused a channel the server opened: its id is free again.
    ChannelOpenFailed {
        channel: u32,
        reason: u32,
        description: String,
    },
    /// The connection is over: flush the output once more, close the socket and call `close`.
    Disconnected {
        reason: u32,
        description: String,
        by_peer: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexSummary {
    pub kex: &'static str,
    pub host_key: &'static str,
    pub cipher_in: &'static str,
    pub cipher_out: &'static str,
    pub mac_in: &'static str,
    pub mac_out: &'static str,
    pub strict: bool,
    pub initial: bool,
}

#[derive(Debug)]
pub struct AuthRequest {
    pub user: String,
    pub service: String,
    pub method: AuthMethod,
    /// Methods this login has already passed (partial successes), oldest first.
    pub passed: Vec<Method>,
}

/// A method and what the client offered with it.
pub enum AuthMethod {
    None,
    Password {
        password: Zeroizing<String>,
    },
    /// `signed` is false for a query ("would this key do?"), true once the signature over the session
    /// has been verified; a bad signature never reaches the host.
    /// `certificate`: the key is a user certificate whose CA signature verified (its CA's trust, validity
    /// and principals are the host's to check).
    PublicKey {
        algorithm: String,
        key: Vec<u8>,
        signed: bool,
        certificate: Option<Box<Certificate>>,
    },
    /// `responses` is `None` when the method starts and holds the answers to the previous prompts after.
    KeyboardInteractive {
        submethods: String,
        responses: Option<Vec<Zeroizing<String>>>,
    },
}

impl AuthMethod {
    pub fn method(&self) -> Method {
        match self {
            AuthMethod::None => Method::None,
            AuthMethod::Password { .. } => Method::Password,
            AuthMethod::PublicKey { .. } => Method::PublicKey,
            AuthMethod::KeyboardInteractive { .. } => Method::KeyboardInteractive,
        }
    }

    pub fn name(&self) -> &'static str {
        self.method().name()
    }
}

// Secrets never reach a log through `Debug`.
impl core::fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuthMethod::PublicKey { algorithm, signed, .. } => write!(f, "PublicKey({algorithm}, signed: {signed})"),
            AuthMethod::KeyboardInteractive { responses, .. } => {
                write!(f, "KeyboardInteractive({} responses)", responses.as_ref().map_or(0, Vec::len))
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The host's answer to an [`Event::AuthRequest`]. The core keeps the login's chain: whatever the host
/// answers, a publickey query is answered only with PK_OK or a refusal, and a step that passes ends the
/// login only once `AuthenticationMethods` is satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply {
    /// This step passed. For a publickey query: the key is acceptable (PK_OK); the signed request that
    /// follows is the one that counts.
    Accept,
    /// This step passed, but one of `methods` (default: what the configured chains allow) must follow.
    /// For a publickey query it means the same as `Accept`.
    PartialSuccess { methods: Option<Vec<Method>> },
    /// Refuse; `methods` narrows the list of methods the client is told can continue.
    Reject { methods: Option<Vec<Method>> },
    /// Ask (further) keyboard-interactive questions: `prompts` are `(text, echo)` pairs. `retry` says the
    /// previous answers were wrong: the round counts as a failed attempt, as a refusal would.
    Prompt { name: String, instruction: String, prompts: Vec<(String, bool)>, retry: bool },
}
