//! The client role's side of the boundary: its constructor's checks, its login key, the channel requests a
//! host sends by name, and its event records (`ts/client/events.ts` decodes them). A client record is a tag
//! byte and then the fields in SSH wire types, like the server's but without a connection id: a client is
//! one connection.

use wasshd_core::config::Config;
use wasshd_core::connection::{ChannelRequest, PtyRequest};
use wasshd_core::keys::HostKey;
use wasshd_core::wipe::SecretBytes;
use wasshd_core::wire::Writer;
use wasshd_core::{Client, ClientEvent};
use zeroize::Zeroizing;

use crate::{append_record, check_seed, code, encode_kex_summary, key_error, Error};

/// Record tags of the client's event stream; `ts/client/events.ts` mirrors them.
pub mod tag {
    pub const LOG: u8 = 1;
    pub const SERVER_VERSION: u8 = 2;
    pub const KEYS_EXCHANGED: u8 = 3;
    pub const HOST_KEY: u8 = 4;
    pub const BANNER: u8 = 5;
    pub const AUTH_FAILURE: u8 = 6;
    pub const AUTH_PROMPT: u8 = 7;
    pub const AUTHENTICATED: u8 = 8;
    pub const CHANNEL_OPENED: u8 = 9;
    pub const CHANNEL_OPEN_FAILED: u8 = 10;
    pub const CHANNEL_REQUEST_REPLY: u8 = 11;
    pub const CHANNEL_DATA: u8 = 12;
    pub const CHANNEL_EOF: u8 = 13;
    pub const CHANNEL_CLOSED: u8 = 14;
    pub const CHANNEL_READY_TO_SEND: u8 = 15;
    pub const EXIT_STATUS: u8 = 16;
    pub const EXIT_SIGNAL: u8 = 17;
    pub const DISCONNECTED: u8 = 18;
}

/// A client seeded with `seed` (at least 32 bytes from the host's CSPRNG) at `now` (ms), with `config`.
pub fn client(config: Config, seed: &[u8], now: u64) -> Result<Client, Error> {
    check_seed(seed)?;
    Ok(Client::new(config, seed, now))
}

/// The user's key for `publickey` in the canonical form (`wasshd_core::keys::private`).
pub fn login_key_wire(wire: &[u8]) -> Result<HostKey, Error> {
    HostKey::from_wire(wire).map_err(|e| key_error(e, "private key", code::INVALID_ARGUMENT))
}

/// The user's key for `publickey`: a private key file of any format `HostKey::from_bytes` reads, opened with
/// `passphrase` if it is encrypted (empty: none).
#[cfg(feature = "files")]
pub fn login_key(file: &[u8], passphrase: &str) -> Result<HostKey, Error> {
    HostKey::from_bytes(file, Some(passphrase).filter(|p| !p.is_empty())).map_err(|e| key_error(e, "private key", code::INVALID_ARGUMENT))
}

/// A `pty-req` (RFC 4254 §6.2) sized in characters only; `modes` are encoded terminal modes (§8), empty for
/// the server's defaults.
pub fn pty(term: &str, cols: u32, rows: u32, modes: &[u8]) -> ChannelRequest {
    ChannelRequest::Pty(PtyRequest { term: term.into(), cols, rows, width_px: 0, height_px: 0, modes: modes.into() })
}

/// Every pending event of the client appended to `records` as one record stream; a host that keeps
/// `records` between drains passes it to [`crate::clear_records`] once it has its copy.
pub fn drain_events_into(client: &mut Client, records: &mut SecretBytes) {
    let mut scratch = Zeroizing::new(Writer::new());
    while let Some(event) = client.poll_event() {
        let known_len = match &event {
            ClientEvent::ChannelData { data, .. } => Some(CHANNEL_DATA_HEADER_LEN + data.len()),
            _ => None,
        };
        append_record(records, &mut scratch, known_len, |w| encode_event(w, &event));
    }
}

/// A channel data record before its data: tag, channel, stream, length.
const CHANNEL_DATA_HEADER_LEN: usize = 1 + 3 * 4;

/// One client event as the record the hosts decode.
pub fn encode_event(w: &mut Writer, event: &ClientEvent) {
    match event {
        ClientEvent::Log { level, message } => {
            w.u8(tag::LOG).u8(*level).string(message.as_bytes());
        }
        ClientEvent::ServerVersion { version } => {
            w.u8(tag::SERVER_VERSION).string(version.as_bytes());
        }
        ClientEvent::KeysExchanged(k) => {
            w.u8(tag::KEYS_EXCHANGED);
            encode_kex_summary(w, k);
        }
        ClientEvent::HostKey { algorithm, key, fingerprint } => {
            w.u8(tag::HOST_KEY).string(algorithm.as_bytes()).string(key).string(fingerprint.as_bytes());
        }
        ClientEvent::Banner { message } => {
            w.u8(tag::BANNER).string(message.as_bytes());
        }
        ClientEvent::AuthFailure { methods, partial_success } => {
            w.u8(tag::AUTH_FAILURE).name_list(methods).bool(*partial_success);
        }
        ClientEvent::AuthPrompt { name, instruction, prompts } => {
            w.u8(tag::AUTH_PROMPT).string(name.as_bytes()).string(instruction.as_bytes()).u32(prompts.len() as u32);
            for (text, echo) in prompts {
                w.string(text.as_bytes()).bool(*echo);
            }
        }
        ClientEvent::Authenticated => {
            w.u8(tag::AUTHENTICATED);
        }
        ClientEvent::ChannelOpened { channel } => {
            w.u8(tag::CHANNEL_OPENED).u32(*channel);
        }
        ClientEvent::ChannelOpenFailed { channel, reason, description } => {
            w.u8(tag::CHANNEL_OPEN_FAILED).u32(*channel).u32(*reason).string(description.as_bytes());
        }
        ClientEvent::ChannelRequestReply { channel, request, success } => {
            w.u8(tag::CHANNEL_REQUEST_REPLY).u32(*channel).string(request.as_bytes()).bool(*success);
        }
        ClientEvent::ChannelData { channel, stream, data } => {
            w.u8(tag::CHANNEL_DATA).u32(*channel).u32(*stream).string(data);
        }
        ClientEvent::ChannelEof { channel } => {
            w.u8(tag::CHANNEL_EOF).u32(*channel);
        }
        ClientEvent::ChannelClosed { channel } => {
            w.u8(tag::CHANNEL_CLOSED).u32(*channel);
        }
        ClientEvent::ChannelReadyToSend { channel } => {
            w.u8(tag::CHANNEL_READY_TO_SEND).u32(*channel);
        }
        ClientEvent::ExitStatus { channel, status } => {
            w.u8(tag::EXIT_STATUS).u32(*channel).u32(*status);
        }
        ClientEvent::ExitSignal { channel, signal, core_dumped, message } => {
            w.u8(tag::EXIT_SIGNAL).u32(*channel).string(signal.as_bytes()).bool(*core_dumped).string(message.as_bytes());
        }
        ClientEvent::Disconnected { reason, description, by_peer } => {
            w.u8(tag::DISCONNECTED).u32(*reason).string(description.as_bytes()).bool(*by_peer);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn record(event: ClientEvent) -> Vec<u8> {
        let mut w = Writer::new();
        encode_event(&mut w, &event);
        w.into_vec()
    }

    // ts/client/events.ts decodes these layouts: a change here must change it too.
    #[test]
    fn channel_data_record_layout() {
        let bytes = record(ClientEvent::ChannelData { channel: 2, stream: 1, data: b"hi".to_vec() });
        assert_eq!(bytes, [tag::CHANNEL_DATA, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(bytes.len(), CHANNEL_DATA_HEADER_LEN + 2);
    }

    #[test]
    fn auth_prompt_record_layout() {
        let prompts = vec![("Password: ".into(), false)];
        let bytes = record(ClientEvent::AuthPrompt { name: "n".into(), instruction: String::new(), prompts });
        let mut want = vec![tag::AUTH_PROMPT, 0, 0, 0, 1, b'n', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 10];
        want.extend_from_slice(b"Password: ");
        want.push(0);
        assert_eq!(bytes, want);
    }

    #[test]
    fn a_drain_holds_every_event_in_order() {
        let mut client = client(Config::default(), &[7; 32], 0).unwrap();
        client.input(b"SSH-2.0-peer\r\n", 0);
        let mut records = SecretBytes::default();
        drain_events_into(&mut client, &mut records);
        // The version's log line, then its record, which ends the stream.
        let version = [&[tag::SERVER_VERSION, 0, 0, 0, 12][..], b"SSH-2.0-peer"].concat();
        assert_eq!(records[0], tag::LOG);
        assert!(records.ends_with(&version));
        assert!(client.poll_event().is_none());
    }

    #[test]
    fn bad_arguments_keep_the_reference_codes() {
        assert_eq!(client(Config::default(), &[0; 31], 0).err().map(|e| e.code), Some(129));
        assert_eq!(login_key_wire(b"\0\0\0\x0bssh-ed25519\0").err().map(|e| e.code), Some(129));
        assert_eq!(login_key_wire(b"\0\0\0\x14ssh-xmss@openssh.com").err().map(|e| e.code), Some(1303));
    }
}
