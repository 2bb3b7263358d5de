//! `KeyRenegotiationInterval`: the server starts a key exchange that long after the last one, whatever went
//! through, through the connection's one deadline; off (0) by default, as OpenSSH's `RekeyLimit` time is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use wasshd_core::msg;
use wasshd_core::Event;

#[test]
fn an_exchange_starts_when_the_interval_has_passed_and_the_next_is_due_an_interval_later() {
    let mut server = test_server();
    server.config_mut().set("KeyRenegotiationInterval", "60").unwrap();
    let mut p = Pair::on(server, ClientOptions::default(), 1);
    p.now = 1_000;
    p.handshake();
    p.login();
    p.drain_events();
    assert_eq!(p.server.next_deadline(p.id), Some(61_000), "an interval after the first exchange");

    p.now = 60_999;
    p.server.handle_timeout(p.id, p.now).unwrap();
    assert!(!p.client.inbox.iter().any(|m| m[0] == msg::KEXINIT) && p.server.take_output(p.id).is_empty(), "not before it is due");

    p.now = 61_000;
    p.server.handle_timeout(p.id, p.now).unwrap();
    p.pump();
    assert!(p.drain_events().iter().any(|e| matches!(e, Event::KeysExchanged(k) if !k.initial)), "a re-exchange ran");
    assert_eq!(p.server.next_deadline(p.id), Some(121_000));
}

#[test]
fn off_by_default_and_bounded_below() {
    let mut server = test_server();
    assert_eq!(server.config().get("KeyRenegotiationInterval").as_deref(), Some("0"));
    assert!(server.config_mut().set("KeyRenegotiationInterval", "5").is_err());
    let mut p = Pair::on(server, ClientOptions::default(), 2);
    p.handshake();
    p.login();
    assert_eq!(p.server.next_deadline(p.id), None, "no timer without the interval, idle timeout or keepalives");
}
