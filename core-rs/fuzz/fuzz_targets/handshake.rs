//! The whole server after a real handshake: the test client completes the key exchange, then seals
//! what the input says, and the host answers every decision so that authentication, channels and
//! global requests are reached.
//!
//! Input: `[flags]` (suite, strict kex and EXT_INFO; see `Session::new`), then `[u16 BE length][payload]`
//! items. A zero length is a control item `[0, 0][op]`: 0 client rekey, 1 server rekey, 2 `[u16]` advance
//! the clock by that many tenths of a second, 3 `[u16 length][bytes]` raw bytes into the stream,
//! 4 `[size]` deliver in reads of that size (0: whole), 5 a host call on a channel (see
//! `Host::channel_call`), 6 toggle deferred decisions, 7 answer the oldest deferred one, 8 `[reason]` host
//! disconnect, 9 transport lost, 10 toggle batching payloads into one read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_fuzz::host::Session;
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut session = Session::new(input.u8());
    session.run(&mut input);
});
