//! `wasshd-core` as a WebAssembly component: the WIT world in `wasm/wit/wasshd.wit`, the same operations as
//! the wasm-bindgen `Core` (`wasm/src/lib.rs`). Both convert types only; argument checks, error codes and the
//! event records come from `wasshd-boundary`, so the two boundaries cannot drift apart.
//!
//! Built with `cargo build --target wasm32-unknown-unknown --release` and wrapped by `jco new`
//! (`scripts/build-component.mjs`). It imports nothing: no WASI, no host calls, so every host can embed it
//! as it is.

use std::cell::RefCell;

use wasshd_boundary as boundary;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::{CommandError, Server};
use zeroize::Zeroizing;

mod wipe;

#[global_allocator]
static ALLOCATOR: wipe::Wiping = wipe::Wiping;

wit_bindgen::generate!({ world: "wasshd", path: "../wit" });

use exports::wasshd::ssh::server::{Core as CoreHandle, Error, Guest, GuestCore, Prompt};

struct Component;

impl Guest for Component {
    type Core = Core;
}

fn wit(e: boundary::Error) -> Error {
    Error { code: e.code, message: e.message }
}

fn command_error(e: CommandError) -> Error {
    wit(e.into())
}

/// WIT resources take `&self` (a component may be re-entered through its imports); this one has none, so
/// the `RefCell` is never borrowed twice.
struct Core {
    server: RefCell<Server>,
}

impl Core {
    fn with<T>(&self, f: impl FnOnce(&mut Server) -> T) -> T {
        f(&mut self.server.borrow_mut())
    }

    fn command<T>(&self, f: impl FnOnce(&mut Server) -> Result<T, CommandError>) -> Result<T, Error> {
        self.with(f).map_err(command_error)
    }
}

impl GuestCore for Core {
    fn create(seed: Vec<u8>) -> Result<CoreHandle, Error> {
        let server = boundary::server(&seed).map_err(wit)?;
        Ok(CoreHandle::new(Core { server: RefCell::new(server) }))
    }

    fn add_entropy(&self, entropy: Vec<u8>) {
        self.with(|s| s.add_entropy(&entropy));
    }

    fn set_config(&self, name: String, value: String) -> Result<bool, Error> {
        self.with(|s| boundary::set_config(s, &name, &value)).map_err(wit)
    }

    fn get_config(&self, name: String) -> Option<String> {
        self.with(|s| s.config().get(&name))
    }

    fn add_host_key(&self, private_key: String, passphrase: String) -> Result<String, Error> {
        let (text, passphrase) = (Zeroizing::new(private_key), Zeroizing::new(passphrase));
        self.with(|s| boundary::add_host_key(s, &text, &passphrase)).map_err(wit)
    }

    fn install_host_key(&self, key: Vec<u8>) -> Result<String, Error> {
        let key = Zeroizing::new(key);
        self.with(|s| boundary::install_host_key(s, &key)).map_err(wit)
    }

    fn install_next_host_key(&self, key: Vec<u8>) -> Result<String, Error> {
        let key = Zeroizing::new(key);
        self.with(|s| boundary::install_next_host_key(s, &key)).map_err(wit)
    }

    fn host_key_fingerprints(&self, hash: String) -> Result<Vec<String>, Error> {
        self.with(|s| boundary::host_key_fingerprints(s, &hash)).map_err(wit)
    }

    fn generate_host_key(&self, comment: String) -> String {
        self.with(|s| s.generate_host_key(&comment))
    }

    fn host_public_keys(&self) -> Vec<String> {
        self.with(|s| s.host_public_keys())
    }

    fn continue_ids_after(&self, last: u32) {
        self.with(|s| s.continue_ids_after(last));
    }

    fn call_output_budget(&self) -> u32 {
        wasshd_core::server::CALL_OUTPUT_BUDGET as u32
    }

    fn open(&self, now: f64) -> Result<u32, Error> {
        self.with(|s| s.open(boundary::millis(now))).map_err(command_error)
    }

    fn input(&self, conn: u32, bytes: Vec<u8>, now: f64) -> Result<(), Error> {
        self.command(|s| s.input(conn, &bytes, boundary::millis(now)))
    }

    fn status(&self, conn: u32) -> u32 {
        self.with(|s| boundary::status(s, conn))
    }

    fn take_output(&self, conn: u32) -> Vec<u8> {
        self.with(|s| s.take_output(conn))
    }

    fn drain_events(&self) -> Vec<u8> {
        // Moved out of its wiping wrapper: the allocator wipes it once the host has its copy.
        self.with(|s| std::mem::take(&mut *boundary::drain_events(s)))
    }

    fn next_deadline(&self, conn: u32) -> Option<f64> {
        self.with(|s| s.next_deadline(conn)).map(|t| t as f64)
    }

    fn handle_timeout(&self, conn: u32, now: f64) -> Result<(), Error> {
        self.command(|s| s.handle_timeout(conn, boundary::millis(now)))
    }

    fn reply_service(&self, conn: u32, accept: bool) -> Result<(), Error> {
        self.command(|s| s.reply_service(conn, accept))
    }

    fn reply_auth_accept(&self, conn: u32) -> Result<(), Error> {
        self.command(|s| s.reply_auth(conn, wasshd_core::AuthReply::Accept))
    }

    fn reply_auth_reject(&self, conn: u32, partial_success: bool, methods: String) -> Result<(), Error> {
        let reply = boundary::auth_reject(partial_success, &methods).map_err(wit)?;
        self.command(|s| s.reply_auth(conn, reply))
    }

    fn reply_auth_prompt(&self, conn: u32, name: String, instruction: String, prompts: Vec<Prompt>, retry: bool) -> Result<(), Error> {
        let prompts = prompts.into_iter().map(|p| (p.text, p.echo)).collect();
        let reply = boundary::auth_prompt(&name, &instruction, prompts, retry);
        self.command(|s| s.reply_auth(conn, reply))
    }

    fn reply_channel_open(&self, conn: u32, channel: u32, accept: bool, reason: u32, description: String) -> Result<(), Error> {
        self.command(|s| s.reply_channel_open(conn, channel, accept, reason, &description))
    }

    fn reply_channel_request(&self, conn: u32, channel: u32, accept: bool) -> Result<(), Error> {
        self.command(|s| s.reply_channel_request(conn, channel, accept))
    }

    fn reply_global_request(&self, conn: u32, accept: bool, data: Vec<u8>) -> Result<(), Error> {
        self.command(|s| s.reply_global_request(conn, accept, &data))
    }

    fn send_packet(&self, conn: u32, channel: Option<u32>, msg_type: u8, body: Vec<u8>) -> Result<(), Error> {
        self.command(|s| s.send_raw(conn, channel, msg_type, &body))
    }

    fn send_banner(&self, conn: u32, text: String) -> Result<(), Error> {
        self.command(|s| s.send_banner(conn, &text))
    }

    fn open_channel(&self, conn: u32, kind: String, data: Vec<u8>) -> Result<u32, Error> {
        self.command(|s| s.open_channel(conn, &kind, &data))
    }

    fn send_data(&self, conn: u32, channel: u32, stream: u32, data: Vec<u8>, now: f64) -> Result<u32, Error> {
        self.with(|s| s.send_data(conn, channel, stream, &data, boundary::millis(now))).map(|n| n as u32).map_err(command_error)
    }

    fn consume_channel_data(&self, conn: u32, channel: u32, n: u32) -> Result<(), Error> {
        self.command(|s| s.consume_channel_data(conn, channel, n))
    }

    fn send_eof(&self, conn: u32, channel: u32) -> Result<(), Error> {
        self.command(|s| s.send_eof(conn, channel))
    }

    fn send_exit_status(&self, conn: u32, channel: u32, status: u32) -> Result<(), Error> {
        self.command(|s| s.send_exit_status(conn, channel, status))
    }

    fn send_exit_signal(&self, conn: u32, channel: u32, signal: String, core_dumped: bool, message: String) -> Result<(), Error> {
        self.command(|s| s.send_exit_signal(conn, channel, &signal, core_dumped, &message))
    }

    fn close_channel(&self, conn: u32, channel: u32) -> Result<(), Error> {
        self.command(|s| s.close_channel(conn, channel))
    }

    fn rekey(&self, conn: u32) -> Result<(), Error> {
        self.command(|s| s.rekey(conn))
    }

    fn disconnect(&self, conn: u32, reason: u32, description: String) -> Result<(), Error> {
        self.command(|s| s.disconnect(conn, DisconnectReason::from_code(reason), &description))
    }

    fn connection_lost(&self, conn: u32) -> Result<(), Error> {
        self.command(|s| s.connection_lost(conn))
    }

    fn close(&self, conn: u32) {
        self.with(|s| s.close(conn));
    }

    fn connection_count(&self) -> u32 {
        self.with(|s| s.connection_count() as u32)
    }
}

export!(Component);
