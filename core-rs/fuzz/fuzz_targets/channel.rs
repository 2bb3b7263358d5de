//! Channel bookkeeping alone: windows and packet sizes in both directions under any sequence of
//! receives, consumption, window adjustments and sends, with the accounting checked after each step.
//!
//! Input: `[u32 peer window][u32 peer max packet][u32 our window][u32 our max packet]`, then operations
//! `[op][u32 argument]`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasshd_core::connection::channel::Channel;
use wasshd_core::msg;
use wasshd_core::transport::packet::MAX_PACKET_LEN;
use wasshd_core::wire::Reader;
use wasshd_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (peer_window, peer_max_packet, window, max_packet) = (input.u32(), input.u32(), input.u32(), input.u32());
    let mut channel = Channel::new(5, peer_window, peer_max_packet, window, max_packet);
    // What the peer may still send, as the peer sees it.
    let mut peer_may_send = u64::from(window);
    while !input.is_empty() {
        let op = input.u8();
        let arg = input.u32();
        match op % 4 {
            0 => {
                let len = (arg % (1 << 20)) as usize;
                let ok = channel.receive(len).is_ok();
                let fits = len as u64 <= peer_may_send && len as u64 <= u64::from(max_packet);
                assert_eq!(ok, fits, "receive({len}) with {peer_may_send} left");
                if ok {
                    peer_may_send -= len as u64;
                }
            }
            1 => {
                if let Some(adjust) = channel.consume(arg) {
                    let mut r = Reader::new(&adjust);
                    assert_eq!((r.u8(), r.u32()), (Ok(msg::CHANNEL_WINDOW_ADJUST), Ok(5)));
                    peer_may_send += u64::from(r.u32().expect("an increment"));
                    assert!(peer_may_send <= u64::from(window), "the peer was given more than the window");
                }
            }
            2 => {
                let before = channel.send_window();
                let expected = before.checked_add(arg);
                assert_eq!(channel.window_adjust(arg).is_ok(), expected.is_some());
                assert_eq!(channel.send_window(), expected.unwrap_or(before));
            }
            _ => {
                let before = channel.send_window();
                let data = vec![0u8; (arg % 4097) as usize];
                let stream = u32::from(op >> 2 & 1);
                let (packets, taken) = channel.send(stream, &data);
                assert!(taken <= before as usize && taken <= data.len());
                assert_eq!(channel.send_window() as usize, before as usize - taken);
                // The peer's maximum packet counts the message header; the transport's limit caps it.
                let header = if stream == 0 { 9 } else { 13 };
                let limit = (peer_max_packet.clamp(1, MAX_PACKET_LEN - 1024) as usize).saturating_sub(header).max(1);
                let mut carried = 0;
                for (header, data) in packets {
                    let p = [header.bytes(), data].concat();
                    let mut r = Reader::new(&p);
                    r.u8().and_then(|_| r.u32()).expect("a recipient");
                    if stream != 0 {
                        assert_eq!(r.u32(), Ok(stream));
                    }
                    let piece = r.string().expect("the data").len();
                    assert!(piece <= limit, "{piece} bytes in one packet for a peer maximum of {peer_max_packet}");
                    carried += piece;
                }
                assert_eq!(carried, taken);
            }
        }
    }
});
