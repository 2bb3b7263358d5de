//! Runs `handshake` fuzz inputs the way the target does, on the server the wasm `Core` can be set up as
//! too (`wasshd_fuzz::transcript::server`), and writes for each the transcript of every call made on
//! the server with what it answered: `test/fuzz/transcripts.test.ts` replays them through the built
//! module and compares byte for byte. After the input, the connection is closed (`close`) and the
//! connections counted, so the replay checks that the module lets go of it too.
//!
//! Usage: `cargo run --release --example transcripts -- OUT_DIR PATH...`, each PATH a `handshake` input
//! or a directory of them (`seeds/handshake`, `corpus/handshake`). The transcript of `.../G/P/F` is
//! `OUT_DIR/G/P/F.jsonl`. An input on which the harness panics gets none: the run goes on, names it and
//! exits with status 1.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasshd_fuzz::host::Session;
use wasshd_fuzz::transcript::Transcript;
use wasshd_fuzz::Input;

/// The `handshake` target's run, then the end of the connection.
fn transcribe(data: &[u8]) -> Option<Transcript> {
    let mut input = Input::new(data);
    let mut session = Session::transcribed(input.u8());
    session.run(&mut input);
    let server = &mut session.host.server;
    server.close(session.host.id);
    server.connection_count();
    server.take_transcript()
}

fn inputs(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// `G/P/F` of `.../G/P/F`.
fn short_name(file: &Path) -> PathBuf {
    let parts: Vec<_> = file.components().collect();
    parts[parts.len().saturating_sub(3)..].iter().collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: transcripts OUT_DIR PATH...");
        return ExitCode::from(2);
    };
    let (mut files, mut calls, mut out_bytes, mut event_bytes) = (0, 0, 0, 0);
    let mut panicked = Vec::new();
    for file in args.flat_map(|p| inputs(Path::new(&p))) {
        let data = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = short_name(&file);
        let Ok(Some(t)) = catch_unwind(AssertUnwindSafe(|| transcribe(&data))) else {
            panicked.push(name);
            continue;
        };
        let mut dest = out_dir.join(&name).into_os_string();
        dest.push(".jsonl");
        let dest = PathBuf::from(dest);
        fs::create_dir_all(dest.parent().expect("a parent directory")).expect("the output directory");
        fs::write(&dest, &t.text).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
        files += 1;
        calls += t.calls;
        out_bytes += t.out_bytes;
        event_bytes += t.event_bytes;
    }
    println!("{files} transcripts, {calls} calls, {out_bytes} bytes of output, {event_bytes} bytes of events, under {}", out_dir.display());
    if panicked.is_empty() {
        return ExitCode::SUCCESS;
    }
    for name in &panicked {
        eprintln!("transcripts: the harness panicked on {}", name.display());
    }
    ExitCode::FAILURE
}
