//! Payload compression. Mode 0: attacker packets into one inflate stream, under a limit taken from the
//! input: every packet yields at most the limit or a compression error, and an error ends the stream.
//! Mode 1: any packets deflated and inflated again come back unchanged, each on arrival.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::msg::DisconnectReason;
use wasshd_core::transport::compress::{Deflater, Inflater, ZlibStream, MAX_INFLATED_LEN};
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut inflater = Inflater::fresh();
    if input.u8() & 1 == 0 {
        let limit = match input.u16() {
            0 => MAX_INFLATED_LEN,
            n => usize::from(n),
        };
        while !input.is_empty() {
            match inflater.decompress(input.chunk(), limit) {
                Ok(out) => assert!(out.len() <= limit),
                Err(e) => {
                    assert_eq!(e.reason, DisconnectReason::CompressionError);
                    return;
                }
            }
        }
    } else {
        let mut deflater = Deflater::fresh();
        while !input.is_empty() {
            let payload = input.chunk();
            let mut packed = Vec::new();
            deflater.compress(payload, &mut packed).expect("deflate");
            assert_eq!(inflater.decompress(&packed, MAX_INFLATED_LEN).expect("inflate our own output"), payload);
        }
    }
});
