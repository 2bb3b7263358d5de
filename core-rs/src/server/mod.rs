//! The server: every connection of a process in one table, the host keys, the settings and the random
//! generator they share. This is the whole API a host (the wasm binding, a test, a WIT component) drives.
//! Each connection ([`conn`]) is a transport session with the server's user authentication
//! ([`userauth`]) and connection ([`connection`]) layers over it.

mod conn;
mod connection;
mod host_key_rotation;
mod userauth;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::Config;
use crate::crypto::rng::EntropyPool;
use crate::error::Error;
use crate::event::{AuthReply, Event};
#[cfg(feature = "files")]
use crate::keys::KeyError;
use crate::keys::{self, HostKey};
use crate::msg::DisconnectReason;
use crate::transport::session::Ctx;
pub use crate::transport::session::KEX_TIMEOUT_MS;
use conn::Conn;
pub use conn::CALL_OUTPUT_BUDGET;
pub use connection::{MAX_PENDING_GLOBAL, MAX_PENDING_OPENS, MAX_PENDING_REQUESTS};

/// Longest piece of client text (a service or request name) quoted in a log line or a disconnect description.
const MAX_QUOTED_CHARS: usize = 64;

/// A host call that could not be carried out. The connection is unaffected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// No connection with that id (reference error 126).
    NoSuchConnection,
    NoSuchChannel,
    /// A reply with no matching event waiting for it.
    NothingPending,
    WrongState(&'static str),
    Invalid(&'static str),
    /// The server has no host key (reference error 1301).
    NoHostKey,
}

impl CommandError {
    /// The reference's numeric code where it has one.
    pub fn code(&self) -> u32 {
        match self {
            CommandError::NoSuchConnection => 126,
            CommandError::NoHostKey => 1301,
            CommandError::NoSuchChannel => 127,
            CommandError::NothingPending | CommandError::WrongState(_) => 128,
            CommandError::Invalid(_) => 129,
        }
    }
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CommandError::NoSuchConnection => f.write_str("invalid connection id"),
            CommandError::NoSuchChannel => f.write_str("no open channel with that id"),
            CommandError::NothingPending => f.write_str("no request is waiting for that reply"),
            CommandError::WrongState(why) | CommandError::Invalid(why) => f.write_str(why),
            CommandError::NoHostKey => f.write_str("no host key: add one before accepting connections"),
        }
    }
}

pub struct Server {
    config: Config,
    host_keys: Vec<HostKey>,
    /// Keys the server will move to (OpenSSH's host-key rotation): announced after login, never used to sign.
    next_host_keys: Vec<HostKey>,
    rng: EntropyPool,
    conns: BTreeMap<u32, Conn>,
    next_id: u32,
    events: VecDeque<(u32, Event)>,
}

macro_rules! with_conn {
    ($self:ident, $id:expr, |$conn:ident, $ctx:ident| $body:expr) => {{
        let $conn = $self.conns.get_mut(&$id).ok_or(CommandError::NoSuchConnection)?;
        let mut $ctx = Ctx {
            id: $id,
            config: &$self.config,
            host_keys: &$self.host_keys,
            next_host_keys: &$self.next_host_keys,
            rng: &mut $self.rng,
            events: &mut $self.events,
        };
        $body
    }};
}

impl Server {
    /// A server whose randomness starts from `seed` (at least 32 bytes from the platform's CSPRNG).
    pub fn new(seed: &[u8]) -> Self {
        Server {
            config: Config::default(),
            host_keys: Vec::new(),
            next_host_keys: Vec::new(),
            rng: EntropyPool::new(seed),
            conns: BTreeMap::new(),
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// Mixes fresh platform entropy into the generator; hosts call this for every new connection.
    pub fn add_entropy(&mut self, entropy: &[u8]) {
        self.rng.mix(entropy);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Installs a host key, replacing one of the same type; returns its public line.
    pub fn add_host_key(&mut self, key: HostKey) -> String {
        let line = key.public().to_openssh_line();
        self.host_keys.retain(|k| k.key_type() != key.key_type());
        self.host_keys.push(key);
        line
    }

    /// Adds a host key from a private key file of any format [`HostKey::from_file`] reads, opening an
    /// encrypted one with `passphrase`; replaces a key of the same type.
    #[cfg(feature = "files")]
    pub fn add_host_key_openssh(&mut self, text: &str, passphrase: Option<&str>) -> Result<String, KeyError> {
        Ok(self.add_host_key(HostKey::from_file(text, passphrase)?))
    }

    /// Adds a key the server will move to; returns its public line. Clients learn it after login
    /// (`hostkeys-00@openssh.com`) and may ask for proof that the server holds it, so that OpenSSH's
    /// `UpdateHostKeys` adds it to `known_hosts` before the server signs with it. It is never used in a key
    /// exchange; any number of any type may wait.
    pub fn add_next_host_key(&mut self, key: HostKey) -> String {
        let line = key.public().to_openssh_line();
        let blob = key.public().blob();
        self.next_host_keys.retain(|k| k.public().blob() != blob);
        self.next_host_keys.push(key);
        line
    }

    /// Generates an ed25519 host key, installs it and returns it as an OpenSSH private key file.
    #[cfg(feature = "files")]
    pub fn generate_host_key(&mut self, comment: &str) -> String {
        let key = HostKey::generate_ed25519(&mut self.rng);
        let text = key.to_openssh(comment, rand_core::RngCore::next_u32(&mut self.rng));
        self.add_host_key(key);
        text
    }

    /// The fingerprints of the installed host keys, `SHA256:...` or with `md5` `MD5:...`, as
    /// `ssh-keygen -l [-E md5]` prints them.
    pub fn host_key_fingerprints(&self, md5: bool) -> Vec<String> {
        let print = if md5 { keys::fingerprint_md5 } else { keys::fingerprint };
        self.host_keys.iter().map(|k| print(&k.public().blob())).collect()
    }

    /// The `authorized_keys`-style public lines of the installed host keys.
    pub fn host_public_keys(&self) -> Vec<String> {
        self.host_keys.iter().map(|k| k.public().to_openssh_line()).collect()
    }

    /// Numbers new connections after `last`: a host that replaces a server keeps its ids unique.
    pub fn continue_ids_after(&mut self, last: u32) {
        self.next_id = last.checked_add(1).unwrap_or(1);
    }

    /// Starts a connection at time `now` (ms); its first output (our version and KEXINIT) is ready at once.
    pub fn open(&mut self, now: u64) -> Result<u32, CommandError> {
        if self.host_keys.is_empty() {
            return Err(CommandError::NoHostKey);
        }
        // Ids wrap after 2^32 connections; one still in use is skipped.
        let mut id = self.next_id;
        while self.conns.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(1);
        }
        self.next_id = id.checked_add(1).unwrap_or(1);
        let mut ctx = Ctx {
            id,
            config: &self.config,
            host_keys: &self.host_keys,
            next_host_keys: &self.next_host_keys,
            rng: &mut self.rng,
            events: &mut self.events,
        };
        let conn = Conn::new(now, &mut ctx);
        self.conns.insert(id, conn);
        Ok(id)
    }

    /// Bytes read from the connection's transport at time `now` (ms). One call processes what was buffered
    /// until a decision is pending or the connection's output and queued channel data pass
    /// [`CALL_OUTPUT_BUDGET`]; in the latter case [`Server::input_pending`] turns true and the host calls
    /// `input` again with no bytes once it has written the output and its transport takes more.
    pub fn input(&mut self, id: u32, bytes: &[u8], now: u64) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.input(bytes, now, &mut ctx));
        Ok(())
    }

    /// Whether input waits for the host's answer (`reply_*`): to the service request or an authentication
    /// step, or, once a client has piled up [`MAX_PENDING_OPENS`] channel opens, [`MAX_PENDING_REQUESTS`]
    /// replies on one channel or [`MAX_PENDING_GLOBAL`] global replies, to one of those. The connection processes no input meanwhile, so a host stops
    /// reading its transport until it has answered. Other channel decisions hold up nothing but their channel.
    pub fn decision_pending(&self, id: u32) -> bool {
        self.conns.get(&id).is_some_and(Conn::decision_pending)
    }

    /// Whether the last call stopped processing at the output budget with input left (see [`Server::input`]).
    /// Replies to decisions process buffered input too, within the same budget.
    pub fn input_pending(&self, id: u32) -> bool {
        self.conns.get(&id).is_some_and(Conn::input_pending)
    }

    /// Takes the bytes to write to the connection's transport.
    pub fn take_output(&mut self, id: u32) -> Vec<u8> {
        self.conns.get_mut(&id).map(Conn::take_output).unwrap_or_default()
    }

    /// The bytes to write to the connection's transport, for a host that copies them out and then calls
    /// [`Server::output_written`] (which, unlike [`Server::take_output`], keeps a busy connection's buffer).
    pub fn output(&self, id: u32) -> &[u8] {
        self.conns.get(&id).map(Conn::output).unwrap_or_default()
    }

    /// The host has copied [`Server::output`]: it is emptied.
    pub fn output_written(&mut self, id: u32) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.output_written();
        }
    }

    /// Whether any connection has an event to poll.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event of any connection.
    pub fn poll_event(&mut self) -> Option<(u32, Event)> {
        self.events.pop_front()
    }

    pub fn next_deadline(&self, id: u32) -> Option<u64> {
        self.conns.get(&id).and_then(|c| c.next_deadline(&self.config))
    }

    pub fn handle_timeout(&mut self, id: u32, now: u64) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.handle_timeout(now, &mut ctx));
        Ok(())
    }

    pub fn reply_service(&mut self, id: u32, accept: bool) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.reply_service(accept, &mut ctx))
    }

    pub fn reply_auth(&mut self, id: u32, reply: AuthReply) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.reply_auth(reply, &mut ctx))
    }

    /// Answers the open of `channel` (the id its `ChannelOpenRequest` reserved); `reason` and `description`
    /// go to the client with a refusal (RFC 4254 §5.1).
    pub fn reply_channel_open(&mut self, id: u32, channel: u32, accept: bool, reason: u32, description: &str) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.reply_channel_open(channel, accept, reason, description, &mut ctx))
    }

    /// Answers the oldest unanswered `ChannelRequest` of `channel`: replies go in the order of the requests
    /// (RFC 4254 §5.4). After the client closed the channel, the reply is taken and dropped.
    pub fn reply_channel_request(&mut self, id: u32, channel: u32, accept: bool) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.reply_channel_request(channel, accept, &mut ctx))
    }

    /// Answers the oldest unanswered `GlobalRequest`; `data` follows REQUEST_SUCCESS when the client asked for a
    /// reply (a `tcpip-forward` for port 0 gets the bound port).
    pub fn reply_global_request(&mut self, id: u32, accept: bool, data: &[u8]) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.reply_global_request(accept, data, &mut ctx))
    }

    /// Sends a message the host built (the reference's SendSSHPacket) to an authenticated client: a channel
    /// request on `channel` (its recipient written here) or a global request, either asking for no reply, or
    /// a local extension (192 to 255). Anything else would break the protocol state and is refused.
    pub fn send_raw(&mut self, id: u32, channel: Option<u32>, msg_type: u8, body: &[u8]) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_raw(channel, msg_type, body, &mut ctx))
    }

    /// Sends a banner to a client that has not authenticated (the reference's `UserAuthBanner[id]`).
    pub fn send_banner(&mut self, id: u32, text: &str) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_banner(text, &mut ctx))
    }

    /// Opens a channel of `kind` to an authenticated client (the reference's OpenChannel), with its
    /// type-specific `data`; returns its id. `ChannelOpenConfirmed` or `ChannelOpenFailed` follows.
    pub fn open_channel(&mut self, id: u32, kind: &str, data: &[u8]) -> Result<u32, CommandError> {
        with_conn!(self, id, |conn, ctx| conn.open_channel(kind, data, &mut ctx))
    }

    /// Sends what the peer's window allows of `data`, at most [`CALL_OUTPUT_BUDGET`] bytes, at time `now` (ms):
    /// returns how much was taken. While it takes something, call again with the rest; nothing taken means the
    /// window is full or a key exchange runs: wait for `ChannelReadyToSend`.
    pub fn send_data(&mut self, id: u32, channel: u32, stream: u32, data: &[u8], now: u64) -> Result<usize, CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_data(channel, stream, data, now, &mut ctx))
    }

    /// How many bytes `send_data` would take now.
    pub fn send_window(&self, id: u32, channel: u32) -> Option<u32> {
        self.conns.get(&id).and_then(|c| c.send_window(channel))
    }

    pub fn consume_channel_data(&mut self, id: u32, channel: u32, n: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.consume(channel, n, &mut ctx));
        Ok(())
    }

    pub fn send_eof(&mut self, id: u32, channel: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_eof(channel, &mut ctx))
    }

    pub fn send_exit_status(&mut self, id: u32, channel: u32, status: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_exit_status(channel, status, &mut ctx))
    }

    pub fn send_exit_signal(&mut self, id: u32, channel: u32, signal: &str, core_dumped: bool, message: &str) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.send_exit_signal(channel, signal, core_dumped, message, &mut ctx))
    }

    pub fn close_channel(&mut self, id: u32, channel: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.close_channel(channel, &mut ctx))
    }

    /// Starts a key re-exchange (the reference's `ExchangeKeys`).
    pub fn rekey(&mut self, id: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.rekey(&mut ctx))
    }

    pub fn strict_kex(&self, id: u32) -> Option<bool> {
        self.conns.get(&id).map(Conn::strict_kex)
    }

    /// Sends DISCONNECT with `reason` and closes the connection to further input.
    pub fn disconnect(&mut self, id: u32, reason: DisconnectReason, description: &str) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.fail(&mut ctx, Error::new(reason, String::from(description))));
        Ok(())
    }

    /// The transport closed: reports `Disconnected` if the protocol had not ended already.
    pub fn connection_lost(&mut self, id: u32) -> Result<(), CommandError> {
        with_conn!(self, id, |conn, ctx| conn.lost(&mut ctx));
        Ok(())
    }

    /// Forgets a connection whose transport is closed.
    pub fn close(&mut self, id: u32) {
        self.conns.remove(&id);
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
