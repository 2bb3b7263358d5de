//! A fresh connection fed the client's byte stream from its very first byte: version line, plaintext
//! packets and whatever follows, in one read; the host answers every decision.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::config::StrictKex;
use wasshd_fuzz::host::{server, Host};

fuzz_target!(|data: &[u8]| {
    let mut host = Host::new(server(StrictKex::Enabled));
    host.input(data);
    host.check_closed();
});
