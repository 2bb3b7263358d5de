//! What the client tells its host. Like the server's events these are owned records; the ones that need an
//! answer name the call that gives it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::event::KexSummary;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Progress and diagnostics, at the levels of the server's `Event::Log`.
    Log {
        level: u8,
        message: String,
    },
    /// The server's identification string.
    ServerVersion {
        version: String,
    },
    /// A key exchange finished.
    KeysExchanged(KexSummary),
    /// The server's host key, whose signature over the first key exchange has been checked. Answer with
    /// [`Client::accept_host_key`](super::Client::accept_host_key): nothing is authenticated before.
    /// `fingerprint` is what `ssh-keygen -l` prints (`SHA256:...`).
    HostKey {
        algorithm: String,
        key: Vec<u8>,
        fingerprint: String,
    },
    /// The server's banner (RFC 4252 §5.4), control characters other than line ends and tabs replaced.
    Banner {
        message: String,
    },
    /// An authentication attempt was refused, or passed as one step of several (`partial_success`):
    /// `methods` are those that can continue.
    AuthFailure {
        methods: Vec<String>,
        partial_success: bool,
    },
    /// Keyboard-interactive prompts (`(text, echo)`); answer with
    /// [`Client::answer_prompts`](super::Client::answer_prompts), an answer for each, none for none.
    AuthPrompt {
        name: String,
        instruction: String,
        prompts: Vec<(String, bool)>,
    },
    /// The server accepted the login; channels may be opened.
    Authenticated,
    /// The server confirmed the channel [`Client::open_session`](super::Client::open_session) returned.
    ChannelOpened {
        channel: u32,
    },
    /// The server refused to open the channel (RFC 4254 §5.1 reason code); its id is free again.
    ChannelOpenFailed {
        channel: u32,
        reason: u32,
        description: String,
    },
    /// The server's reply to a request sent with a reply wanted; replies come in the order of the requests.
    ChannelRequestReply {
        channel: u32,
        request: String,
        success: bool,
    },
    /// Channel data; `stream` 0 is the data stream, 1 is stderr. Report what has been processed with
    /// [`Client::consume_channel_data`](super::Client::consume_channel_data) to reopen the window.
    ChannelData {
        channel: u32,
        stream: u32,
        data: Vec<u8>,
    },
    ChannelEof {
        channel: u32,
    },
    /// Closed both ways; the id is no longer valid.
    ChannelClosed {
        channel: u32,
    },
    /// The server's window has room again after a send was cut short.
    ChannelReadyToSend {
        channel: u32,
    },
    /// How the command on the channel ended: `exit-status`.
    ExitStatus {
        channel: u32,
        status: u32,
    },
    /// `exit-signal`: the signal name without the `SIG` prefix.
    ExitSignal {
        channel: u32,
        signal: String,
        core_dumped: bool,
        message: String,
    },
    /// The connection is over: flush the output once more and close the transport.
    Disconnected {
        reason: u32,
        description: String,
        by_peer: bool,
    },
}
