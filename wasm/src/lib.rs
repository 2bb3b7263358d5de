//! The JavaScript boundary over `wasshd-core`. It is deliberately narrow and batched: one call per socket
//! read, one drain of a connection's output, one drain of every pending event as a compact binary record
//! stream (decoded by `ts/core/events.ts`), and one deadline per connection. Nothing here holds protocol
//! logic; it only converts types.
//!
//! Secrets do not stay behind in linear memory: the event records (which carry passwords and
//! keyboard-interactive answers) and host key files cross to JavaScript as copies made by JavaScript from
//! a view of the Rust buffer, which is then zeroized. Returning a `Vec` or `String` instead would have the
//! glue copy it and free it as it stands.

use wasm_bindgen::prelude::*;
use wasshd_core::auth::Method;
use wasshd_core::connection::ChannelRequest;
use wasshd_core::event::AuthRequest;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::wire::Writer;
use wasshd_core::{AuthMethod, AuthReply, CommandError, Event, Server};
use zeroize::{Zeroize, Zeroizing};

#[wasm_bindgen]
extern "C" {
    pub type Uint8Array;
    /// `new Uint8Array(view)`: the bytes copied by JavaScript straight out of linear memory.
    #[wasm_bindgen(constructor)]
    fn new(bytes: &[u8]) -> Uint8Array;
}

/// Record tags of the event stream; `ts/core/events.ts` mirrors them.
mod tag {
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
}

fn command_error(e: CommandError) -> JsError {
    JsError::new(&format!("[{}] {e}", e.code()))
}

#[wasm_bindgen]
pub struct Core {
    server: Server,
}

#[wasm_bindgen]
impl Core {
    /// `seed`: at least 32 bytes from `crypto.getRandomValues`.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: &[u8]) -> Result<Core, JsError> {
        if seed.len() < 32 {
            return Err(JsError::new("[129] the seed must be at least 32 random bytes"));
        }
        Ok(Core { server: Server::new(seed) })
    }

    pub fn add_entropy(&mut self, entropy: &[u8]) {
        self.server.add_entropy(entropy);
    }

    /// Applies a setting the core owns; returns false for a name it does not know.
    pub fn set_config(&mut self, name: &str, value: &str) -> Result<bool, JsError> {
        self.server.config_mut().set(name, value).map_err(|why| JsError::new(&format!("[129] {name}: {why}")))
    }

    pub fn get_config(&self, name: &str) -> Option<String> {
        self.server.config().get(name)
    }

    /// Installs an OpenSSH private key; returns its public line. The key text is zeroized here.
    pub fn add_host_key(&mut self, openssh_private_key: String) -> Result<String, JsError> {
        let text = Zeroizing::new(openssh_private_key);
        self.server.add_host_key_openssh(&text).map_err(|e| JsError::new(&format!("[1301] host key: {e:?}")))
    }

    /// Generates and installs an ed25519 host key; returns the OpenSSH private key file to keep.
    #[wasm_bindgen(unchecked_return_type = "string")]
    pub fn generate_host_key(&mut self, comment: &str) -> JsValue {
        let text = Zeroizing::new(self.server.generate_host_key(comment));
        JsValue::from_str(&text)
    }

    pub fn host_public_keys(&self) -> Vec<String> {
        self.server.host_public_keys()
    }

    /// Numbers new connections after `last` (a replacement core keeps the host's ids unique).
    pub fn continue_ids_after(&mut self, last: u32) {
        self.server.continue_ids_after(last);
    }

    pub fn open(&mut self, now: f64) -> Result<u32, JsError> {
        self.server.open(now as u64).map_err(command_error)
    }

    /// Bytes read from the connection's transport at `now` (ms). One call processes buffered input only
    /// until the connection's output and queued channel data pass a budget (256 KiB); `input_pending` then
    /// says so, and the host calls `input` again with no bytes once it has written the output and its
    /// transport takes more. Replies to decisions continue processing within the same budget.
    pub fn input(&mut self, conn: u32, bytes: &[u8], now: f64) -> Result<(), JsError> {
        self.server.input(conn, bytes, now as u64).map_err(command_error)
    }

    /// Whether an event waits for the host's answer (a `reply_*` call): the connection processes no input
    /// meanwhile, and the host stops reading its transport until it has answered.
    pub fn decision_pending(&self, conn: u32) -> bool {
        self.server.decision_pending(conn)
    }

    /// Whether the last call stopped at the output budget with input left to process (see `input`).
    pub fn input_pending(&self, conn: u32) -> bool {
        self.server.input_pending(conn)
    }

    pub fn take_output(&mut self, conn: u32) -> Vec<u8> {
        self.server.take_output(conn)
    }

    /// Every pending event of every connection, as one record stream. Each record is written apart and
    /// appended to a buffer that grows by hand, so that no reallocation leaves a password behind.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn drain_events(&mut self) -> Uint8Array {
        let mut records = Zeroizing::new(Vec::new());
        let mut record = Zeroizing::new(Writer::new());
        while let Some((conn, event)) = self.server.poll_event() {
            encode_event(&mut record, conn, &event);
            append_wiping(&mut records, record.as_slice());
            record.zeroize();
        }
        Uint8Array::new(&records)
    }

    /// Milliseconds timestamp of the connection's next timer, or -1 for none.
    pub fn next_deadline(&self, conn: u32) -> f64 {
        self.server.next_deadline(conn).map_or(-1.0, |t| t as f64)
    }

    pub fn handle_timeout(&mut self, conn: u32, now: f64) -> Result<(), JsError> {
        self.server.handle_timeout(conn, now as u64).map_err(command_error)
    }

    pub fn reply_service(&mut self, conn: u32, accept: bool) -> Result<(), JsError> {
        self.server.reply_service(conn, accept).map_err(command_error)
    }

    pub fn reply_auth_accept(&mut self, conn: u32) -> Result<(), JsError> {
        self.server.reply_auth(conn, AuthReply::Accept).map_err(command_error)
    }

    /// Refuses, or with `partial_success` passes the step but asks for more. `methods`: comma-separated
    /// methods that may follow (narrowing what the core allows), or empty for the core's own list.
    pub fn reply_auth_reject(&mut self, conn: u32, partial_success: bool, methods: &str) -> Result<(), JsError> {
        let methods = if methods.is_empty() {
            None
        } else {
            let parsed: Option<Vec<Method>> = methods.split(',').map(Method::from_name).collect();
            Some(parsed.ok_or_else(|| JsError::new(&format!("[129] unknown authentication method in {methods}")))?)
        };
        let reply = if partial_success { AuthReply::PartialSuccess { methods } } else { AuthReply::Reject { methods } };
        self.server.reply_auth(conn, reply).map_err(command_error)
    }

    /// `prompts` and `echo` are parallel arrays; `retry`: the previous answers were wrong.
    pub fn reply_auth_prompt(
        &mut self,
        conn: u32,
        name: &str,
        instruction: &str,
        prompts: Vec<String>,
        echo: &[u8],
        retry: bool,
    ) -> Result<(), JsError> {
        let prompts = prompts.into_iter().zip(echo.iter().map(|e| *e != 0).chain(core::iter::repeat(false))).collect();
        let reply = AuthReply::Prompt { name: name.into(), instruction: instruction.into(), prompts, retry };
        self.server.reply_auth(conn, reply).map_err(command_error)
    }

    pub fn reply_channel_open(&mut self, conn: u32, accept: bool, reason: u32, description: &str) -> Result<(), JsError> {
        self.server.reply_channel_open(conn, accept, reason, description).map_err(command_error)
    }

    pub fn reply_channel_request(&mut self, conn: u32, accept: bool) -> Result<(), JsError> {
        self.server.reply_channel_request(conn, accept).map_err(command_error)
    }

    /// Sends what the channel window allows of `data`, at most 256 KiB, at `now` (ms: sent data counts as
    /// activity for the idle timeout); returns the number of bytes taken. While it takes something, call
    /// again with the rest; nothing taken means the window is full or a key exchange runs, and
    /// `ChannelReadyToSend` follows.
    pub fn send_data(&mut self, conn: u32, channel: u32, stream: u32, data: &[u8], now: f64) -> Result<u32, JsError> {
        self.server.send_data(conn, channel, stream, data, now as u64).map(|n| n as u32).map_err(command_error)
    }

    pub fn consume_channel_data(&mut self, conn: u32, channel: u32, n: u32) -> Result<(), JsError> {
        self.server.consume_channel_data(conn, channel, n).map_err(command_error)
    }

    pub fn send_eof(&mut self, conn: u32, channel: u32) -> Result<(), JsError> {
        self.server.send_eof(conn, channel).map_err(command_error)
    }

    pub fn send_exit_status(&mut self, conn: u32, channel: u32, status: u32) -> Result<(), JsError> {
        self.server.send_exit_status(conn, channel, status).map_err(command_error)
    }

    pub fn send_exit_signal(&mut self, conn: u32, channel: u32, signal: &str, core_dumped: bool, message: &str) -> Result<(), JsError> {
        self.server.send_exit_signal(conn, channel, signal, core_dumped, message).map_err(command_error)
    }

    pub fn close_channel(&mut self, conn: u32, channel: u32) -> Result<(), JsError> {
        self.server.close_channel(conn, channel).map_err(command_error)
    }

    pub fn rekey(&mut self, conn: u32) -> Result<(), JsError> {
        self.server.rekey(conn).map_err(command_error)
    }

    pub fn disconnect(&mut self, conn: u32, reason: u32, description: &str) -> Result<(), JsError> {
        self.server.disconnect(conn, DisconnectReason::from_code(reason), description).map_err(command_error)
    }

    pub fn connection_lost(&mut self, conn: u32) -> Result<(), JsError> {
        self.server.connection_lost(conn).map_err(command_error)
    }

    pub fn close(&mut self, conn: u32) {
        self.server.close(conn);
    }

    /// Connections the core still holds (for leak checks).
    pub fn connection_count(&self) -> u32 {
        self.server.connection_count() as u32
    }
}

/// Appends `bytes`, growing `buf` by hand: the old allocation is zeroized before it is freed.
fn append_wiping(buf: &mut Vec<u8>, bytes: &[u8]) {
    if buf.capacity() - buf.len() < bytes.len() {
        let mut grown = Vec::with_capacity((buf.len() + bytes.len()).max(buf.capacity() * 2));
        grown.extend_from_slice(buf);
        buf.zeroize();
        *buf = grown;
    }
    buf.extend_from_slice(bytes);
}

/// Room for an authentication request's record, so that writing its secret never reallocates.
fn auth_record_len(req: &AuthRequest) -> usize {
    let fields = match &req.method {
        AuthMethod::None => 0,
        AuthMethod::Password { password } => 4 + password.len(),
        AuthMethod::PublicKey { algorithm, key, .. } => 4 + algorithm.len() + 4 + key.len() + 1,
        AuthMethod::KeyboardInteractive { submethods, responses } => {
            4 + submethods.len() + 4 + responses.iter().flatten().map(|r| 4 + r.len()).sum::<usize>()
        }
    };
    1 + 4 + 4 + req.user.len() + 4 + req.service.len() + 4 + req.method.name().len() + fields
}

/// One event as the record `drain_events` returns and `ts/core/events.ts` decodes. Public so that the fuzz
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
            for s in [k.kex, k.host_key, k.cipher_in, k.cipher_out, k.mac_in, k.mac_out] {
                w.string(s.as_bytes());
            }
            w.bool(k.strict).bool(k.initial);
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
                AuthMethod::PublicKey { algorithm, key, signed } => {
                    w.string(algorithm.as_bytes()).string(key).bool(*signed);
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

    fn record(conn: u32, event: Event) -> Vec<u8> {
        let mut w = Writer::new();
        encode_event(&mut w, conn, &event);
        w.into_vec()
    }

    // `ts/core/events.ts` decodes these layouts: a change here must change it too.
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
}
