//! `ClientCore`: one SSH client connection (`wasshd_core::Client`) for JavaScript (`ts/client/`). Like
//! `Core` it converts types only: bytes in, output and one record stream of events out
//! (`wasshd_boundary::client`), one deadline. Each client lives in a wasm instance of its own, so a trap ends
//! that connection alone.
//!
//! Passwords, keyboard-interactive answers and private key files arrive as owned strings, zeroized here
//! once the core has them.

use wasm_bindgen::prelude::*;
use wasshd_boundary::client as boundary;
use wasshd_boundary::{clear_records, millis};
use wasshd_core::config::Config;
use wasshd_core::connection::ChannelRequest;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::server::CALL_OUTPUT_BUDGET;
use wasshd_core::wipe::SecretBytes;
use wasshd_core::Client;
use zeroize::Zeroizing;

use crate::{command_error, js, Uint8Array};

#[wasm_bindgen]
pub struct ClientCore {
    client: Client,
    /// The event records of the last drain, kept so that every drain writes into the same allocation.
    records: SecretBytes,
}

#[wasm_bindgen]
impl ClientCore {
    /// `seed`: at least 32 bytes from `crypto.getRandomValues`; `now`: the host's clock (ms). The host's
    /// crypto provider serves the packets where it has one that passes the known-answer tests, as for `Core`.
    /// The version line and KEXINIT are ready to send at once.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: &[u8], now: f64) -> Result<ClientCore, JsError> {
        #[cfg_attr(not(target_arch = "wasm32"), allow(unused_mut))]
        let mut config = Config::default();
        #[cfg(target_arch = "wasm32")]
        crate::host_crypto::offer(&mut config);
        let client = boundary::client(config, seed, millis(now)).map_err(js)?;
        Ok(ClientCore { client, records: SecretBytes::default() })
    }

    /// What one `send_data` call takes at most: the host hands the core no larger pieces.
    pub fn call_output_budget(&self) -> u32 {
        CALL_OUTPUT_BUDGET as u32
    }

    pub fn add_entropy(&mut self, entropy: &[u8]) {
        self.client.add_entropy(entropy);
    }

    /// Bytes read from the transport at `now` (ms): every whole packet among them is processed.
    pub fn input(&mut self, bytes: &[u8], now: f64) {
        self.client.input(bytes, millis(now));
    }

    /// The bytes to write to the transport, copied by JavaScript.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn take_output(&mut self) -> Uint8Array {
        Uint8Array::new(&self.client.take_output())
    }

    /// Every pending event as one record stream (`wasshd_boundary::client`), copied by JavaScript; the core
    /// then wipes its buffer.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn drain_events(&mut self) -> Uint8Array {
        boundary::drain_events_into(&mut self.client, &mut self.records);
        let records = Uint8Array::new(&self.records);
        clear_records(&mut self.records);
        records
    }

    /// Milliseconds timestamp of the next timer, or -1 for none.
    pub fn next_deadline(&self) -> f64 {
        self.client.next_deadline().map_or(-1.0, |t| t as f64)
    }

    pub fn handle_timeout(&mut self, now: f64) {
        self.client.handle_timeout(millis(now));
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Answers the host-key record: accepting starts authentication, refusing ends the connection.
    pub fn accept_host_key(&mut self, accept: bool) -> Result<(), JsError> {
        self.client.accept_host_key(accept).map_err(command_error)
    }

    pub fn auth_none(&mut self, user: &str) -> Result<(), JsError> {
        self.client.auth_none(user).map_err(command_error)
    }

    pub fn auth_password(&mut self, user: &str, password: String) -> Result<(), JsError> {
        let password = Zeroizing::new(password);
        self.client.auth_password(user, &password).map_err(command_error)
    }

    pub fn auth_keyboard_interactive(&mut self, user: &str) -> Result<(), JsError> {
        self.client.auth_keyboard_interactive(user).map_err(command_error)
    }

    /// The answers to the last prompt record, one for each prompt.
    pub fn answer_prompts(&mut self, responses: Vec<String>) -> Result<(), JsError> {
        let responses: Vec<Zeroizing<String>> = responses.into_iter().map(Zeroizing::new).collect();
        let answers: Vec<&str> = responses.iter().map(|r| r.as_str()).collect();
        self.client.answer_prompts(&answers).map_err(command_error)
    }

    /// Logs in with a private key in the canonical form (`KeyFiles.login_key` makes it from a key file).
    pub fn auth_publickey(&mut self, user: &str, key: &[u8]) -> Result<(), JsError> {
        let key = boundary::login_key_wire(key).map_err(js)?;
        self.client.auth_publickey(user, key).map_err(command_error)
    }

    /// Opens a session channel; its id is usable once the channel-opened record names it.
    pub fn open_session(&mut self) -> Result<u32, JsError> {
        self.client.open_session().map_err(command_error)
    }

    fn request(&mut self, channel: u32, request: &ChannelRequest) -> Result<(), JsError> {
        self.client.channel_request(channel, request).map_err(command_error)
    }

    /// A terminal of `cols` by `rows` characters (no pixel sizes); `modes`: encoded terminal modes (RFC 4254
    /// §8), empty for the server's defaults.
    pub fn request_pty(&mut self, channel: u32, term: &str, cols: u32, rows: u32, modes: &[u8]) -> Result<(), JsError> {
        self.request(channel, &boundary::pty(term, cols, rows, modes))
    }

    pub fn request_env(&mut self, channel: u32, name: &str, value: &str) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::Env { name: name.into(), value: value.into() })
    }

    pub fn request_shell(&mut self, channel: u32) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::Shell)
    }

    pub fn request_exec(&mut self, channel: u32, command: &[u8]) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::Exec { command: command.into() })
    }

    pub fn request_subsystem(&mut self, channel: u32, name: &str) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::Subsystem { name: name.into() })
    }

    pub fn window_change(&mut self, channel: u32, cols: u32, rows: u32) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::WindowChange { cols, rows, width_px: 0, height_px: 0 })
    }

    /// `name` without the `SIG` prefix.
    pub fn signal(&mut self, channel: u32, name: &str) -> Result<(), JsError> {
        self.request(channel, &ChannelRequest::Signal { name: name.into() })
    }

    /// Sends what the server's window allows of `data` (at most 256 KiB) on `stream` at `now` (ms); returns
    /// how much was taken. Nothing taken: the window is full or a key exchange runs, and a ready-to-send
    /// record follows.
    pub fn send_data(&mut self, channel: u32, stream: u32, data: &[u8], now: f64) -> Result<u32, JsError> {
        self.client.send_data(channel, stream, data, millis(now)).map(|n| n as u32).map_err(command_error)
    }

    /// The host processed `n` bytes of the channel's data: the server's window reopens.
    pub fn consume_channel_data(&mut self, channel: u32, n: u32) {
        self.client.consume_channel_data(channel, n);
    }

    pub fn send_eof(&mut self, channel: u32) -> Result<(), JsError> {
        self.client.send_eof(channel).map_err(command_error)
    }

    pub fn close_channel(&mut self, channel: u32) -> Result<(), JsError> {
        self.client.close_channel(channel).map_err(command_error)
    }

    pub fn rekey(&mut self) -> Result<(), JsError> {
        self.client.rekey().map_err(command_error)
    }

    pub fn disconnect(&mut self, reason: u32, description: &str) {
        self.client.disconnect(DisconnectReason::from_code(reason), description);
    }

    /// The transport closed.
    pub fn connection_lost(&mut self) {
        self.client.connection_lost();
    }
}
