//! The JavaScript boundary over `wasshd-core`. It is deliberately narrow and batched: one call per socket
//! read, one drain of a connection's output, one drain of every pending event as a compact binary record
//! stream (decoded by `ts/core/events.ts`), and one deadline per connection. Nothing here holds protocol
//! logic; it only converts types.
//!
//! Secrets do not stay behind in linear memory: the event records (which carry passwords and
//! keyboard-interactive answers) and host key files cross to JavaScript as copies made by JavaScript from
//! a view of the Rust buffer, which is then zeroized. Returning a `Vec` or `String` instead would have the
//! glue copy it and free it as it stands.
//!
//! Four classes, each built into a module of its own (`server`, `client`, `keys` and `legacy` features:
//! scripts/build-wasm.mjs builds `wasm/pkg`, `wasm/pkg-client`, `wasm/pkg-keys` and `wasm/pkg-legacy`), so that
//! a page that only connects does not download the server, nor a server the client, and neither carries the
//! key-file parsers, which run once per key, nor the legacy algorithms, off unless configured: `Core`
//! (`server.rs`), the server, one instance serving every connection; `ClientCore` (`client.rs`), one client
//! connection; `KeyFiles` (`keys.rs`), key files to and from the canonical form the other two take;
//! `LegacyCrypto` (`legacy.rs`), the legacy algorithms' primitives, which the other two import through the host
//! (`legacy_import.rs`).
//!
//! Besides wasm-bindgen's own imports, the module imports the host's crypto primitives (`host_crypto`), a
//! raw import module of its own that wasm-bindgen passes through to the instance's imports.

use wasm_bindgen::prelude::*;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "keys")]
mod keys;
#[cfg(feature = "server")]
mod server;
// Only the wasm build has the host's imports; natively (the fuzz transcripts) the core's own provider serves.
// The key files need none.
#[cfg(all(target_arch = "wasm32", any(feature = "server", feature = "client")))]
mod host_crypto;
// The server's and the client's modules are built without the legacy primitives and import them.
#[cfg(all(target_arch = "wasm32", any(feature = "server", feature = "client"), not(feature = "legacy")))]
mod legacy_import;
#[cfg(feature = "legacy")]
mod legacy;

#[cfg(feature = "client")]
pub use client::ClientCore;
#[cfg(feature = "keys")]
pub use keys::KeyFiles;
#[cfg(feature = "legacy")]
pub use legacy::LegacyCrypto;
#[cfg(feature = "server")]
pub use server::Core;

/// The event records and the status bits, re-exported for the fuzz transcripts (core-rs/fuzz), which record
/// native calls as the module's.
pub use wasshd_boundary::{encode_event, status};

#[wasm_bindgen]
extern "C" {
    pub type Uint8Array;
    /// `new Uint8Array(view)`: the bytes copied by JavaScript straight out of linear memory.
    #[wasm_bindgen(constructor)]
    pub(crate) fn new(bytes: &[u8]) -> Uint8Array;
}

/// The code in brackets at the start of the message: `ts/errors.ts` `fromCoreError` reads it back.
#[cfg(any(feature = "server", feature = "client", feature = "keys"))]
pub(crate) fn js(e: wasshd_boundary::Error) -> JsError {
    JsError::new(&format!("[{}] {}", e.code, e.message))
}

#[cfg(any(feature = "server", feature = "client"))]
pub(crate) fn command_error(e: wasshd_core::CommandError) -> JsError {
    js(e.into())
}
