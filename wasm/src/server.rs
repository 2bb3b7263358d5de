//! `Core`: the server, one instance serving every connection.

use wasm_bindgen::prelude::*;
use wasshd_boundary as boundary;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::server::CALL_OUTPUT_BUDGET;
use wasshd_core::wipe::SecretBytes;
use wasshd_core::{AuthReply, Server};

use crate::{command_error, js, Uint8Array};

#[wasm_bindgen]
pub struct Core {
    server: Server,
    /// The event records of the last drain, kept so that every drain writes into the same allocation.
    records: SecretBytes,
}

#[wasm_bindgen]
impl Core {
    /// `seed`: at least 32 bytes from `crypto.getRandomValues`. The host's crypto provider, if it has one
    /// that passes the known-answer tests, is the default (`CryptoProvider`).
    #[wasm_bindgen(constructor)]
    pub fn new(seed: &[u8]) -> Result<Core, JsError> {
        #[cfg_attr(not(target_arch = "wasm32"), allow(unused_mut))]
        let mut server = boundary::server(seed).map_err(js)?;
        #[cfg(target_arch = "wasm32")]
        crate::host_crypto::offer(server.config_mut());
        Ok(Core { server, records: SecretBytes::default() })
    }

    /// What one `send_data` call takes at most, and the output past which one `input` call stops
    /// processing: the host hands the core no larger pieces.
    pub fn call_output_budget(&self) -> u32 {
        CALL_OUTPUT_BUDGET as u32
    }

    pub fn add_entropy(&mut self, entropy: &[u8]) {
        self.server.add_entropy(entropy);
    }

    /// Applies a setting the core owns; returns false for a name it does not know.
    pub fn set_config(&mut self, name: &str, value: &str) -> Result<bool, JsError> {
        boundary::set_config(&mut self.server, name, value).map_err(js)
    }

    pub fn get_config(&self, name: &str) -> Option<String> {
        self.server.config().get(name)
    }

    /// Installs a private key in the canonical form (`KeyFiles.host_key` makes it from a key file); returns its
    /// public line.
    pub fn add_host_key(&mut self, key: &[u8]) -> Result<String, JsError> {
        boundary::install_host_key(&mut self.server, key).map_err(js)
    }

    /// Installs a key the server will move to (OpenSSH's host-key rotation), in the canonical form as
    /// `add_host_key` takes it: announced to clients after login and proven on request, never used in a key
    /// exchange.
    pub fn add_next_host_key(&mut self, key: &[u8]) -> Result<String, JsError> {
        boundary::install_next_host_key(&mut self.server, key).map_err(js)
    }

    /// The installed host keys' fingerprints (`hash`: `sha256` or `md5`), as `ssh-keygen -l` prints them.
    pub fn host_key_fingerprints(&self, hash: &str) -> Result<Vec<String>, JsError> {
        boundary::host_key_fingerprints(&self.server, hash).map_err(js)
    }

    pub fn host_public_keys(&self) -> Vec<String> {
        self.server.host_public_keys()
    }

    /// Numbers new connections after `last` (a replacement core keeps the host's ids unique).
    pub fn continue_ids_after(&mut self, last: u32) {
        self.server.continue_ids_after(last);
    }

    pub fn open(&mut self, now: f64) -> Result<u32, JsError> {
        self.server.open(boundary::millis(now)).map_err(command_error)
    }

    /// Bytes read from the connection's transport at `now` (ms). One call processes buffered input only
    /// until the connection's output and queued channel data pass a budget (`call_output_budget`); `status`
    /// then says so, and the host calls `input` again with no bytes once it has written the output and its
    /// transport takes more. Replies to decisions continue processing within the same budget.
    pub fn input(&mut self, conn: u32, bytes: &[u8], now: f64) -> Result<(), JsError> {
        self.server.input(conn, bytes, boundary::millis(now)).map_err(command_error)
    }

    /// What the host fetches after a call for `conn` (`wasshd_boundary::status`): bit 1, output to write
    /// (`take_output`); 2, events of any connection (`drain_events`); 4, input waits for the host's answer
    /// (a `reply_*` call) to the service request or an authentication step, or to channel decisions a client
    /// piled up to their bound (a channel decision otherwise holds up only its channel): the connection
    /// processes no input meanwhile, and the host stops reading its transport until it has answered; 8, the
    /// last call stopped at the output budget with input left to process (see `input`).
    pub fn status(&self, conn: u32) -> u32 {
        boundary::status(&self.server, conn)
    }

    /// The connection's output, copied by JavaScript; the core then empties its buffer.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn take_output(&mut self, conn: u32) -> Uint8Array {
        let out = Uint8Array::new(self.server.output(conn));
        self.server.output_written(conn);
        out
    }

    /// Every pending event of every connection, as one record stream (`wasshd_boundary::drain_events_into`),
    /// copied by JavaScript; the core then wipes its buffer.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn drain_events(&mut self) -> Uint8Array {
        boundary::drain_events_into(&mut self.server, &mut self.records);
        let records = Uint8Array::new(&self.records);
        boundary::clear_records(&mut self.records);
        records
    }

    /// Milliseconds timestamp of the connection's next timer, or -1 for none.
    pub fn next_deadline(&self, conn: u32) -> f64 {
        self.server.next_deadline(conn).map_or(-1.0, |t| t as f64)
    }

    pub fn handle_timeout(&mut self, conn: u32, now: f64) -> Result<(), JsError> {
        self.server.handle_timeout(conn, boundary::millis(now)).map_err(command_error)
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
        let reply = boundary::auth_reject(partial_success, methods).map_err(js)?;
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
        let reply = boundary::auth_prompt(name, instruction, prompts, retry);
        self.server.reply_auth(conn, reply).map_err(command_error)
    }

    /// Answers the open of `channel` (the id of its channel-open-request record).
    pub fn reply_channel_open(&mut self, conn: u32, channel: u32, accept: bool, reason: u32, description: &str) -> Result<(), JsError> {
        self.server.reply_channel_open(conn, channel, accept, reason, description).map_err(command_error)
    }

    /// Answers the oldest unanswered request on `channel`: replies go in the order of the requests.
    pub fn reply_channel_request(&mut self, conn: u32, channel: u32, accept: bool) -> Result<(), JsError> {
        self.server.reply_channel_request(conn, channel, accept).map_err(command_error)
    }

    /// Answers the oldest unanswered global request (in order); `data` follows REQUEST_SUCCESS when a reply
    /// was asked for (a `tcpip-forward` for port 0: the bound port).
    pub fn reply_global_request(&mut self, conn: u32, accept: bool, data: &[u8]) -> Result<(), JsError> {
        self.server.reply_global_request(conn, accept, data).map_err(command_error)
    }

    /// Sends a message the host built (`Server::send_raw`): `channel` for a channel request, -1 for none.
    pub fn send_packet(&mut self, conn: u32, channel: f64, msg_type: u8, body: &[u8]) -> Result<(), JsError> {
        // A channel id is a u32; a number outside it (-1) names none.
        let channel = (0.0..=f64::from(u32::MAX)).contains(&channel).then_some(channel as u32);
        self.server.send_raw(conn, channel, msg_type, body).map_err(command_error)
    }

    /// Sends a banner to a client that has not authenticated.
    pub fn send_banner(&mut self, conn: u32, text: &str) -> Result<(), JsError> {
        self.server.send_banner(conn, text).map_err(command_error)
    }

    /// Opens a channel of `kind` to an authenticated client with its type-specific `data`; returns its id.
    pub fn open_channel(&mut self, conn: u32, kind: &str, data: &[u8]) -> Result<u32, JsError> {
        self.server.open_channel(conn, kind, data).map_err(command_error)
    }

    /// Sends what the channel window allows of `data`, at most 256 KiB, at `now` (ms: sent data counts as
    /// activity for the idle timeout); returns the number of bytes taken. While it takes something, call
    /// again with the rest; nothing taken means the window is full or a key exchange runs, and
    /// `ChannelReadyToSend` follows.
    pub fn send_data(&mut self, conn: u32, channel: u32, stream: u32, data: &[u8], now: f64) -> Result<u32, JsError> {
        self.server.send_data(conn, channel, stream, data, boundary::millis(now)).map(|n| n as u32).map_err(command_error)
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
