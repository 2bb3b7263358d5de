//! Streaming reassembly: the same client byte stream delivered in one read and in reads cut at
//! fuzz-chosen places must produce the same output and the same events. The host answers the decisions
//! that pause input (so their timing is fixed) at once, channel opens and requests (which pause nothing)
//! once the whole stream is in, and makes no other calls.
//!
//! Input: `[count]`, `count % 16` u16 read sizes, then the stream (the last read takes what is left).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::config::StrictKex;
use wasshd_fuzz::host::{server, Host};
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let sizes: Vec<usize> = (0..input.u8() % 16).map(|_| usize::from(input.u16())).collect();
    let stream = input.rest();
    let mut pieces = Vec::new();
    let mut rest = stream;
    for size in sizes {
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    assert_eq!(run(&[stream]), run(&pieces), "cutting the stream into reads changed what the server did");
});

/// The server's output and events for `pieces` delivered one read each.
fn run(pieces: &[&[u8]]) -> (Vec<u8>, Vec<String>) {
    let mut host = Host::new(server(StrictKex::Enabled));
    host.transcript = Some(Vec::new());
    host.echo = false;
    host.defer_channels = true;
    let mut output = Vec::new();
    for piece in pieces {
        host.input(piece);
        output.extend(host.server.take_output(host.id));
    }
    host.answer_deferred();
    output.extend(host.server.take_output(host.id));
    (output, host.transcript.take().unwrap_or_default())
}
