//! Transcripts: every call a harness makes on its `Server`, in order, with what the server wrote and the
//! events it queued after each, so that another build of the same core (the wasm module, replayed by
//! `test/fuzz/transcripts.test.ts`) can be made to take the same calls and held to the same bytes. The
//! server draws its randomness from the seed it was made with and time only from the `now` it is given,
//! so the same calls must give the same output, byte for byte.
//!
//! `Recorder` stands between the harness and the `Server`. Off (`Recorder::off`, as in the fuzz targets)
//! it only forwards: one branch per call. On (`Recorder::on`), after each call it takes the connection's
//! output and the queued events itself, writes one line of the transcript, and hands both on when the
//! harness asks (`take_output`, `poll_event`). Taking them early changes nothing in the server:
//! `take_output` moves its buffer out and `poll_event` pops a queue. The recorder has no `DerefMut` to
//! the server, so a call cannot reach it unrecorded.
//!
//! The format is the wasm `Core`'s own calls (`wasm/src/lib.rs`), one JSON object per line, so that the
//! replay can dispatch by name:
//!
//! ```text
//! {"op":"new","args":[{"hex":"<seed>"}]}
//! {"op":"input","args":[1,{"hex":"<bytes>"},0],"ok":null,"take":1,"out":"<hex>","events":"<hex>"}
//! {"op":"send_data","args":[1,0,0,{"hex":"78"},0],"err":127,"take":1,"out":"","events":""}
//! ```
//!
//! `args` are the method's arguments in order (bytes as `{"hex": ...}`); `ok` is what it returned
//! (null for nothing, -1 for `next_deadline`'s "none") or `err` the `CommandError` code it failed with,
//! which the module puts in brackets at the start of its error message. `take` is the connection whose
//! output was taken after the call, `out` that output, and `events` the events queued meanwhile in the
//! module's record encoding (`Core::drain_events`, whose `encode_event` the transcripts call).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use wasshd_core::config::{Config, StrictKex};
use wasshd_core::keys::HostKey;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::wire::Writer;
use wasshd_core::{AuthReply, CommandError, Event, Server};
use wasshd_wasm::{encode_event, status};

use crate::host;

// The wasm `Core` takes no seed shorter than 32 bytes.
const _: () = assert!(host::SERVER_SEED.len() >= 32);

/// The harness's server (`host::server`) made only through what the wasm `Core` offers too: its seed,
/// `add_host_key` and `set_config`; checked to be the same server.
pub fn server(strict_kex: StrictKex) -> Recorder {
    let mut s = Recorder::on(host::SERVER_SEED);
    s.add_host_key(&host::host_key());
    for (name, value) in host::settings(strict_kex) {
        assert_eq!(s.set_config(name, &value), Ok(true), "setting {name}={value}");
    }
    let expected: Config = host::server(strict_kex).config().clone();
    assert_eq!(format!("{:?}", s.server.config()), format!("{expected:?}"), "the replayable server drifted from host::server");
    s
}

/// A call's argument, as the module's method takes it.
enum Arg<'a> {
    Num(u64),
    Bool(bool),
    Str(&'a str),
    Strs(&'a [&'a str]),
    Bytes(&'a [u8]),
}
use Arg::{Bool, Bytes, Num, Str, Strs};

/// What a call gave back.
enum Outcome {
    Unit,
    Num(i64),
    Bool(bool),
    Str(String),
    Err(u32),
}

fn outcome<T>(r: &Result<T, CommandError>, ok: impl FnOnce(&T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => ok(v),
        Err(e) => Outcome::Err(e.code()),
    }
}

fn unit(r: &Result<(), CommandError>) -> Outcome {
    outcome(r, |()| Outcome::Unit)
}

struct Tape {
    /// The transcript so far.
    text: String,
    calls: usize,
    /// Output taken after calls, by connection, until the harness takes it.
    out: BTreeMap<u32, Vec<u8>>,
    /// Events taken after calls, until the harness polls them.
    events: VecDeque<(u32, Event)>,
    out_bytes: usize,
    event_bytes: usize,
}

/// What one transcript holds, for the runner's totals.
pub struct Transcript {
    pub text: String,
    pub calls: usize,
    pub out_bytes: usize,
    pub event_bytes: usize,
}

/// A `Server`, and a transcript of the calls made on it when recording.
pub struct Recorder {
    server: Server,
    tape: Option<Box<Tape>>,
    /// Output set aside by `write_output` when not recording, until the harness takes it.
    written: BTreeMap<u32, Vec<u8>>,
}

impl Recorder {
    /// Forwards every call, recording nothing.
    pub fn off(server: Server) -> Self {
        Recorder { server, tape: None, written: BTreeMap::new() }
    }

    /// A new server with `seed` (`Core::new`), recording from its first call.
    pub fn on(seed: &[u8]) -> Self {
        let mut tape = Tape { text: String::new(), calls: 0, out: BTreeMap::new(), events: VecDeque::new(), out_bytes: 0, event_bytes: 0 };
        tape.text.push_str("{\"op\":\"new\",\"args\":[");
        write_arg(&mut tape.text, &Bytes(seed));
        tape.text.push_str("]}\n");
        Recorder { server: Server::new(seed), tape: Some(Box::new(tape)), written: BTreeMap::new() }
    }

    /// The transcript so far, ending the recording.
    pub fn take_transcript(&mut self) -> Option<Transcript> {
        self.tape.take().map(|t| Transcript { text: t.text, calls: t.calls, out_bytes: t.out_bytes, event_bytes: t.event_bytes })
    }

    pub fn config(&self) -> &Config {
        self.server.config()
    }

    /// After a call: takes `take`'s output and every queued event, and writes the transcript line.
    fn note(&mut self, op: &str, args: &[Arg], result: Outcome, take: Option<u32>) {
        let Some(tape) = self.tape.as_deref_mut() else { return };
        tape.calls += 1;
        let t = &mut tape.text;
        let _ = write!(t, "{{\"op\":\"{op}\",\"args\":[");
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                t.push(',');
            }
            write_arg(t, arg);
        }
        t.push(']');
        match result {
            Outcome::Unit => t.push_str(",\"ok\":null"),
            Outcome::Num(n) => {
                let _ = write!(t, ",\"ok\":{n}");
            }
            Outcome::Bool(b) => {
                let _ = write!(t, ",\"ok\":{b}");
            }
            Outcome::Str(s) => {
                t.push_str(",\"ok\":");
                write_str(t, &s);
            }
            Outcome::Err(code) => {
                let _ = write!(t, ",\"err\":{code}");
            }
        }
        if let Some(id) = take {
            let out = self.server.take_output(id);
            let _ = write!(t, ",\"take\":{id},\"out\":\"");
            write_hex(t, &out);
            t.push('"');
            tape.out_bytes += out.len();
            tape.out.entry(id).or_default().extend_from_slice(&out);
        }
        let mut w = Writer::new();
        while let Some((conn, event)) = self.server.poll_event() {
            encode_event(&mut w, conn, &event);
            tape.events.push_back((conn, event));
        }
        let records = w.into_vec();
        t.push_str(",\"events\":\"");
        write_hex(t, &records);
        t.push_str("\"}\n");
        tape.event_bytes += records.len();
    }

    // Setup.

    pub fn set_config(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let r = self.server.config_mut().set(name, value);
        let result = match &r {
            Ok(known) => Outcome::Bool(*known),
            Err(_) => Outcome::Err(129),
        };
        self.note("set_config", &[Str(name), Str(value)], result, None);
        r
    }

    /// Installs `key`, as the wasm `Core` takes it: in the canonical form the keys module makes of a file.
    pub fn add_host_key(&mut self, key: &HostKey) -> String {
        let wire = key.to_wire();
        let line = match HostKey::from_wire(wire.as_slice()) {
            Ok(key) => self.server.add_host_key(key),
            Err(e) => panic!("the host key reads back from its canonical form: {e}"),
        };
        self.note("add_host_key", &[Bytes(wire.as_slice())], Outcome::Str(line.clone()), None);
        line
    }

    // Connections.

    pub fn open(&mut self, now: u64) -> Result<u32, CommandError> {
        let r = self.server.open(now);
        self.note("open", &[Num(now)], outcome(&r, |id| Outcome::Num(i64::from(*id))), r.as_ref().ok().copied());
        r
    }

    pub fn input(&mut self, id: u32, bytes: &[u8], now: u64) -> Result<(), CommandError> {
        let r = self.server.input(id, bytes, now);
        self.note("input", &[Num(id.into()), Bytes(bytes), Num(now)], unit(&r), Some(id));
        r
    }

    /// Whether input waits that the output budget cut short: the bit of `Core::status` a host reads.
    pub fn input_pending(&mut self, id: u32) -> bool {
        let bits = status(&self.server, id);
        self.note("status", &[Num(id.into())], Outcome::Num(bits.into()), None);
        bits & status::INPUT_PENDING != 0
    }

    /// Takes the connection's output out of the server, as a host writes it before it continues input; the
    /// harness's next `take_output` still gets it. Recording already does so after every call.
    pub fn write_output(&mut self, id: u32) {
        if self.tape.is_none() {
            let out = self.server.take_output(id);
            self.written.entry(id).or_default().extend_from_slice(&out);
        }
    }

    /// The connection's output: what the recorder took after each call, when recording.
    pub fn take_output(&mut self, id: u32) -> Vec<u8> {
        match self.tape.as_deref_mut() {
            Some(tape) => tape.out.remove(&id).unwrap_or_default(),
            None => {
                let mut out = self.written.remove(&id).unwrap_or_default();
                out.extend_from_slice(&self.server.take_output(id));
                out
            }
        }
    }

    pub fn poll_event(&mut self) -> Option<(u32, Event)> {
        match self.tape.as_deref_mut() {
            Some(tape) => tape.events.pop_front(),
            None => self.server.poll_event(),
        }
    }

    pub fn next_deadline(&mut self, id: u32) -> Option<u64> {
        let r = self.server.next_deadline(id);
        // The module gives -1 for none; any real deadline fits an f64 exactly in a fuzz run.
        let result = Outcome::Num(r.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)));
        self.note("next_deadline", &[Num(id.into())], result, Some(id));
        r
    }

    pub fn handle_timeout(&mut self, id: u32, now: u64) -> Result<(), CommandError> {
        let r = self.server.handle_timeout(id, now);
        self.note("handle_timeout", &[Num(id.into()), Num(now)], unit(&r), Some(id));
        r
    }

    pub fn connection_lost(&mut self, id: u32) -> Result<(), CommandError> {
        let r = self.server.connection_lost(id);
        self.note("connection_lost", &[Num(id.into())], unit(&r), Some(id));
        r
    }

    pub fn disconnect(&mut self, id: u32, reason: DisconnectReason, description: &str) -> Result<(), CommandError> {
        let r = self.server.disconnect(id, reason, description);
        self.note("disconnect", &[Num(id.into()), Num(reason.code().into()), Str(description)], unit(&r), Some(id));
        r
    }

    pub fn rekey(&mut self, id: u32) -> Result<(), CommandError> {
        let r = self.server.rekey(id);
        self.note("rekey", &[Num(id.into())], unit(&r), Some(id));
        r
    }

    pub fn close(&mut self, id: u32) {
        self.server.close(id);
        self.note("close", &[Num(id.into())], Outcome::Unit, Some(id));
    }

    pub fn connection_count(&mut self) -> usize {
        let n = self.server.connection_count();
        self.note("connection_count", &[], Outcome::Num(n as i64), None);
        n
    }

    // Answers.

    pub fn reply_service(&mut self, id: u32, accept: bool) -> Result<(), CommandError> {
        let r = self.server.reply_service(id, accept);
        self.note("reply_service", &[Num(id.into()), Bool(accept)], unit(&r), Some(id));
        r
    }

    /// One of the module's three `reply_auth_*` calls, by the kind of answer.
    pub fn reply_auth(&mut self, id: u32, reply: AuthReply) -> Result<(), CommandError> {
        if self.tape.is_none() {
            return self.server.reply_auth(id, reply);
        }
        let r = self.server.reply_auth(id, reply.clone());
        match &reply {
            AuthReply::Accept => self.note("reply_auth_accept", &[Num(id.into())], unit(&r), Some(id)),
            AuthReply::Reject { methods } | AuthReply::PartialSuccess { methods } => {
                // The module reads "" as "the core's own list" and splits at commas.
                let list = methods.as_ref().map(|m| m.iter().map(|m| m.name()).collect::<Vec<_>>().join(",")).unwrap_or_default();
                assert!(methods.as_ref().is_none_or(|m| !m.is_empty()), "the wasm Core cannot express an empty method list");
                let partial = matches!(reply, AuthReply::PartialSuccess { .. });
                self.note("reply_auth_reject", &[Num(id.into()), Bool(partial), Str(&list)], unit(&r), Some(id));
            }
            AuthReply::Prompt { name, instruction, prompts, retry } => {
                let texts: Vec<&str> = prompts.iter().map(|(p, _)| p.as_str()).collect();
                let echo: Vec<u8> = prompts.iter().map(|(_, e)| u8::from(*e)).collect();
                let args = [Num(id.into()), Str(name), Str(instruction), Strs(&texts), Bytes(&echo), Bool(*retry)];
                self.note("reply_auth_prompt", &args, unit(&r), Some(id));
            }
        }
        r
    }

    pub fn reply_channel_open(&mut self, id: u32, channel: u32, accept: bool, reason: u32, description: &str) -> Result<(), CommandError> {
        let r = self.server.reply_channel_open(id, channel, accept, reason, description);
        let args = [Num(id.into()), Num(channel.into()), Bool(accept), Num(reason.into()), Str(description)];
        self.note("reply_channel_open", &args, unit(&r), Some(id));
        r
    }

    pub fn reply_channel_request(&mut self, id: u32, channel: u32, accept: bool) -> Result<(), CommandError> {
        let r = self.server.reply_channel_request(id, channel, accept);
        self.note("reply_channel_request", &[Num(id.into()), Num(channel.into()), Bool(accept)], unit(&r), Some(id));
        r
    }

    pub fn reply_global_request(&mut self, id: u32, accept: bool, data: &[u8]) -> Result<(), CommandError> {
        let r = self.server.reply_global_request(id, accept, data);
        self.note("reply_global_request", &[Num(id.into()), Bool(accept), Bytes(data)], unit(&r), Some(id));
        r
    }

    // Channels.

    pub fn send_data(&mut self, id: u32, channel: u32, stream: u32, data: &[u8], now: u64) -> Result<usize, CommandError> {
        let r = self.server.send_data(id, channel, stream, data, now);
        let result = outcome(&r, |n| Outcome::Num(*n as i64));
        self.note("send_data", &[Num(id.into()), Num(channel.into()), Num(stream.into()), Bytes(data), Num(now)], result, Some(id));
        r
    }

    pub fn consume_channel_data(&mut self, id: u32, channel: u32, n: u32) -> Result<(), CommandError> {
        let r = self.server.consume_channel_data(id, channel, n);
        self.note("consume_channel_data", &[Num(id.into()), Num(channel.into()), Num(n.into())], unit(&r), Some(id));
        r
    }

    pub fn send_eof(&mut self, id: u32, channel: u32) -> Result<(), CommandError> {
        let r = self.server.send_eof(id, channel);
        self.note("send_eof", &[Num(id.into()), Num(channel.into())], unit(&r), Some(id));
        r
    }

    pub fn send_exit_status(&mut self, id: u32, channel: u32, status: u32) -> Result<(), CommandError> {
        let r = self.server.send_exit_status(id, channel, status);
        self.note("send_exit_status", &[Num(id.into()), Num(channel.into()), Num(status.into())], unit(&r), Some(id));
        r
    }

    pub fn send_exit_signal(&mut self, id: u32, channel: u32, signal: &str, core_dumped: bool, message: &str) -> Result<(), CommandError> {
        let r = self.server.send_exit_signal(id, channel, signal, core_dumped, message);
        let args = [Num(id.into()), Num(channel.into()), Str(signal), Bool(core_dumped), Str(message)];
        self.note("send_exit_signal", &args, unit(&r), Some(id));
        r
    }

    pub fn close_channel(&mut self, id: u32, channel: u32) -> Result<(), CommandError> {
        let r = self.server.close_channel(id, channel);
        self.note("close_channel", &[Num(id.into()), Num(channel.into())], unit(&r), Some(id));
        r
    }
}

fn write_arg(t: &mut String, arg: &Arg) {
    match arg {
        Num(n) => {
            let _ = write!(t, "{n}");
        }
        Bool(b) => {
            let _ = write!(t, "{b}");
        }
        Str(s) => write_str(t, s),
        Strs(list) => {
            t.push('[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    t.push(',');
                }
                write_str(t, s);
            }
            t.push(']');
        }
        Bytes(b) => {
            t.push_str("{\"hex\":\"");
            write_hex(t, b);
            t.push_str("\"}");
        }
    }
}

fn write_str(t: &mut String, s: &str) {
    t.push('"');
    for c in s.chars() {
        match c {
            '"' => t.push_str("\\\""),
            '\\' => t.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(t, "\\u{:04x}", u32::from(c));
            }
            c => t.push(c),
        }
    }
    t.push('"');
}

fn write_hex(t: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(t, "{b:02x}");
    }
}
