//! Regression tests for what the fuzz targets (core-rs/fuzz, run by scripts/fuzz.sh) found, each replayed
//! through the shared test harness.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::{AuthReply, Event};

const REASON_BY_APPLICATION: u32 = 11;

/// `handshake` target: after the service request the host defers its decisions (control 6), the client
/// sends a password, the clock moves on two minutes (control 2, 1200 tenths of a second) so the login grace
/// time ends the connection, and the host then answers the request. `reply_auth` on the closed connection
/// marked the user authenticated and emitted `Authenticated` after `Disconnected`, which had told the host
/// the connection was over; a host that awaits its handlers (the TypeScript one does) meets this whenever
/// a timeout or a disconnect lands while it decides. Fixed in f6f1274 (replies to a closed connection are
/// dropped). The input, in hex (one line):
/// 100011050000000c7373682d7573657261757468000006002e320000000466757a7a0000000e7373682d636f6e6e65637469
/// 6f6e0000000870617373776f72640000000002707700000204b0
#[test]
fn an_answer_that_comes_after_the_connection_ended_reports_nothing() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    p.send(&userauth_password("alice", "correct horse"));
    assert!(matches!(p.expect_event(), Event::AuthRequest(_)));
    p.now += 120_000;
    p.server.handle_timeout(p.id, p.now).unwrap();
    let (description, _) = p.expect_disconnect(REASON_BY_APPLICATION);
    assert!(description.contains("login grace"), "{description}");

    let reply = p.server.reply_auth(p.id, AuthReply::Accept);
    let events = p.drain_events();
    assert!(events.is_empty(), "events after Disconnected: {events:?} (the reply returned {reply:?})");
    assert!(p.server.take_output(p.id).is_empty());
}
