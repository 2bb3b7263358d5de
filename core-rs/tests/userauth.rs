//! User authentication (RFC 4252, RFC 4256) against the in-memory client: each method, and the chain
//! of steps the core keeps whatever the host answers (OpenSSH's `AuthenticationMethods`, partial
//! success, publickey queries, keyboard-interactive rounds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use ed25519_dalek::{Signer, SigningKey};
use wasshd_core::auth::Method;
use wasshd_core::keys::PublicKey;
use wasshd_core::msg;
use wasshd_core::server::CommandError;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{AuthMethod, AuthReply, Event, Server};

const REASON_PROTOCOL_ERROR: u32 = 2;
const REASON_NO_MORE_AUTH_METHODS: u32 = 14;

fn parse_failure(payload: &[u8]) -> (String, bool) {
    assert_eq!(payload[0], msg::USERAUTH_FAILURE);
    let mut r = Reader::new(&payload[1..]);
    let methods = r.name_list().unwrap().to_string();
    let partial = r.bool().unwrap();
    r.finish().unwrap();
    (methods, partial)
}

fn expect_auth_request(p: &mut Pair) -> wasshd_core::AuthRequest {
    match p.expect_event() {
        Event::AuthRequest(req) => req,
        other => panic!("expected AuthRequest, got {other:?}"),
    }
}

/// The core answered on its own: USERAUTH_FAILURE with these methods, and the host was not asked.
fn expect_refused_by_core(p: &mut Pair, methods: &str) {
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), (methods.into(), false));
    let events = p.drain_events();
    assert!(!events.iter().any(|e| matches!(e, Event::AuthRequest(_))), "the host was asked: {events:?}");
}

/// A pair past the service request on a server with these settings.
fn pair_with(settings: &[(&str, &str)]) -> Pair {
    let mut server: Server = test_server();
    for (name, value) in settings {
        assert_eq!(server.config_mut().set(name, value), Ok(true), "{name}={value}");
    }
    let mut p = Pair::on(server, ClientOptions::default(), 30);
    p.handshake();
    p.request_service();
    p
}

fn kbd_request(user: &str) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user.as_bytes()).string(b"ssh-connection").string(b"keyboard-interactive").string(b"").string(b"");
    w.into_vec()
}

fn none_request(user: &str) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user.as_bytes()).string(b"ssh-connection").string(b"none");
    w.into_vec()
}

fn prompt(text: &str, retry: bool) -> AuthReply {
    AuthReply::Prompt { name: String::new(), instruction: String::new(), prompts: vec![(text.into(), false)], retry }
}

#[test]
fn rejected_password_gets_failure_with_method_list_then_retry_is_accepted() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    p.send(&userauth_password("alice", "wrong"));
    let req = expect_auth_request(&mut p);
    assert!(matches!(&req.method, AuthMethod::Password { password } if password.as_str() == "wrong"));
    assert!(!format!("{:?}", req.method).contains("wrong"), "Debug must not print the password");
    p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password,publickey,keyboard-interactive".into(), false));

    // The host may narrow the list and report partial success.
    p.send(&userauth_password("alice", "step one"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: Some(vec![Method::KeyboardInteractive]) }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("keyboard-interactive".into(), true));

    // A reply with nothing pending is refused and changes nothing.
    assert_eq!(p.server.reply_auth(p.id, AuthReply::Accept), Err(CommandError::NothingPending));

    p.send(&kbd_request("alice"));
    assert_eq!(expect_auth_request(&mut p).passed, [Method::Password]);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(p.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
    assert!(matches!(p.expect_event(), Event::Authenticated { user, method } if user == "alice" && method == "keyboard-interactive"));
}

#[test]
fn banner_is_sent_once_before_the_first_authentication_answer() {
    let mut server = test_server();
    assert_eq!(server.config_mut().set("UserAuthBanner", "Authorised use only\r\n"), Ok(true));
    let mut p = Pair::on(server, ClientOptions::default(), 20);
    p.handshake();
    p.request_service();
    for attempt in 0..2 {
        p.send(&userauth_password("alice", "wrong"));
        expect_auth_request(&mut p);
        p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
        if attempt == 0 {
            let banner = p.expect_msg(msg::USERAUTH_BANNER);
            let mut r = Reader::new(&banner[1..]);
            assert_eq!(r.utf8().unwrap(), "Authorised use only\r\n");
            assert_eq!(r.string().unwrap(), b"");
            r.finish().unwrap();
        }
        p.expect_msg(msg::USERAUTH_FAILURE);
    }
    assert!(p.recv().is_none());
}

#[test]
fn too_many_failed_passwords_disconnect_with_reason_14_and_server_keeps_serving() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let max = p.server.config().max_auth_attempts;
    assert_eq!(max, 6);
    for attempt in 1..=max {
        p.send(&userauth_password("mallory", &format!("guess {attempt}")));
        expect_auth_request(&mut p);
        p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
        if attempt < max {
            assert!(!parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)).1);
        }
    }
    p.expect_disconnect(REASON_NO_MORE_AUTH_METHODS);
    assert!(p.recv().is_none(), "no USERAUTH_FAILURE after the last attempt");
    complete_exec_session(p.into_server(), 100);
}

fn user_key() -> SigningKey {
    SigningKey::from_bytes(&USER_SEED)
}

fn publickey_request(user: &str, blob: &[u8], signature: Option<&[u8]>) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(user.as_bytes()).string(b"ssh-connection").string(b"publickey").bool(signature.is_some());
    w.string(b"ssh-ed25519").string(blob);
    if let Some(sig) = signature {
        w.string(sig);
    }
    w.into_vec()
}

/// RFC 4252 §7: what a publickey signature covers, written out by hand.
fn publickey_signed_data(session_id: &[u8], user: &str, blob: &[u8]) -> Vec<u8> {
    let mut v = ssh_string(session_id);
    v.push(msg::USERAUTH_REQUEST);
    for s in [user.as_bytes(), b"ssh-connection", b"publickey"] {
        v.extend(ssh_string(s));
    }
    v.push(1);
    v.extend(ssh_string(b"ssh-ed25519"));
    v.extend(ssh_string(blob));
    v
}

fn signature_blob(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let mut v = ssh_string(b"ssh-ed25519");
    v.extend(ssh_string(&key.sign(data).to_bytes()));
    v
}

#[test]
fn publickey_query_gets_pk_ok_then_signed_request_is_accepted() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let key = user_key();
    let blob = PublicKey::Ed25519(key.verifying_key()).blob();

    p.send(&publickey_request("bob", &blob, None));
    let req = expect_auth_request(&mut p);
    match req.method {
        AuthMethod::PublicKey { algorithm, key: offered, signed, certificate } => {
            assert_eq!((algorithm.as_str(), offered.as_slice(), signed, certificate), ("ssh-ed25519", blob.as_slice(), false, None));
        }
        other => panic!("expected publickey, got {other:?}"),
    }
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    let pk_ok = p.expect_msg(msg::USERAUTH_PK_OK);
    let mut r = Reader::new(&pk_ok[1..]);
    assert_eq!(r.string().unwrap(), b"ssh-ed25519");
    assert_eq!(r.string().unwrap(), blob.as_slice());
    r.finish().unwrap();
    assert!(p.event().is_none(), "a query answered with PK_OK authenticates nobody");

    let session_id = p.client.session_id.clone().unwrap();
    let sig = signature_blob(&key, &publickey_signed_data(&session_id, "bob", &blob));
    p.send(&publickey_request("bob", &blob, Some(&sig)));
    let req = expect_auth_request(&mut p);
    assert_eq!(req.user, "bob");
    assert!(matches!(req.method, AuthMethod::PublicKey { signed: true, .. }));
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(p.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
    assert!(matches!(p.expect_event(), Event::Authenticated { user, method } if user == "bob" && method == "publickey"));
}

#[test]
fn publickey_request_with_bad_signature_is_refused_without_reaching_the_host() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let key = user_key();
    let blob = PublicKey::Ed25519(key.verifying_key()).blob();
    let session_id = p.client.session_id.clone().unwrap();
    let good = publickey_signed_data(&session_id, "bob", &blob);

    let mut flipped = signature_blob(&key, &good);
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let bad_signatures = [
        // Over another session's identifier.
        signature_blob(&key, &publickey_signed_data(&[0u8; 32], "bob", &blob)),
        // For another user.
        signature_blob(&key, &publickey_signed_data(&session_id, "alice", &blob)),
        // By another key.
        signature_blob(&SigningKey::from_bytes(&[0x22; 32]), &good),
        flipped,
    ];
    for sig in &bad_signatures {
        p.send(&publickey_request("bob", &blob, Some(sig)));
        let failure = p.expect_msg(msg::USERAUTH_FAILURE);
        assert_eq!(parse_failure(&failure), ("password,publickey,keyboard-interactive".into(), false));
        let events = p.drain_events();
        assert!(!events.iter().any(|e| matches!(e, Event::AuthRequest(_) | Event::Authenticated { .. })), "{events:?}");
    }
    // The good signature still works afterwards.
    p.send(&publickey_request("bob", &blob, Some(&signature_blob(&key, &good))));
    assert!(matches!(expect_auth_request(&mut p).method, AuthMethod::PublicKey { signed: true, .. }));
}

fn parse_info_request(payload: &[u8]) -> (String, String, Vec<(String, bool)>) {
    assert_eq!(payload[0], msg::USERAUTH_INFO_REQUEST);
    let mut r = Reader::new(&payload[1..]);
    let name = r.utf8_owned().unwrap();
    let instruction = r.utf8_owned().unwrap();
    assert_eq!(r.string().unwrap(), b"", "language tag");
    let n = r.u32().unwrap();
    let prompts = (0..n).map(|_| (r.utf8_owned().unwrap(), r.bool().unwrap())).collect();
    r.finish().unwrap();
    (name, instruction, prompts)
}

fn info_response(answers: &[&str]) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_INFO_RESPONSE);
    w.u32(answers.len() as u32);
    for a in answers {
        w.string(a.as_bytes());
    }
    w.into_vec()
}

fn responses_of(req: wasshd_core::AuthRequest) -> Vec<String> {
    match req.method {
        AuthMethod::KeyboardInteractive { responses: Some(r), .. } => r.iter().map(|s| s.to_string()).collect(),
        other => panic!("expected keyboard-interactive responses, got {other:?}"),
    }
}

#[test]
fn keyboard_interactive_two_rounds_then_accept() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"carol").string(b"ssh-connection").string(b"keyboard-interactive").string(b"").string(b"pam");
    p.send(w.as_slice());
    let req = expect_auth_request(&mut p);
    assert_eq!(req.user, "carol");
    assert!(matches!(&req.method, AuthMethod::KeyboardInteractive { submethods, responses: None } if submethods == "pam"));

    let round1 = vec![("Password: ".to_string(), false), ("Favourite colour: ".to_string(), true)];
    p.server
        .reply_auth(
            p.id,
            AuthReply::Prompt { name: "round 1".into(), instruction: "two questions".into(), prompts: round1.clone(), retry: false },
        )
        .unwrap();
    assert_eq!(parse_info_request(&p.expect_msg(msg::USERAUTH_INFO_REQUEST)), ("round 1".into(), "two questions".into(), round1));
    p.send(&info_response(&["hunter2", "blue"]));
    let req = expect_auth_request(&mut p);
    assert_eq!(req.user, "carol");
    assert_eq!(responses_of(req), ["hunter2", "blue"]);

    let round2 = vec![("One-time code: ".to_string(), true)];
    p.server
        .reply_auth(p.id, AuthReply::Prompt { name: "round 2".into(), instruction: String::new(), prompts: round2.clone(), retry: false })
        .unwrap();
    assert_eq!(parse_info_request(&p.expect_msg(msg::USERAUTH_INFO_REQUEST)), ("round 2".into(), String::new(), round2));
    p.send(&info_response(&["424242"]));
    assert_eq!(responses_of(expect_auth_request(&mut p)), ["424242"]);

    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(p.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
    assert!(matches!(p.expect_event(), Event::Authenticated { user, method } if user == "carol" && method == "keyboard-interactive"));
}

#[test]
fn keyboard_interactive_response_with_wrong_count_is_protocol_error() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"carol").string(b"ssh-connection").string(b"keyboard-interactive").string(b"").string(b"");
    p.send(w.as_slice());
    expect_auth_request(&mut p);
    p.server
        .reply_auth(
            p.id,
            AuthReply::Prompt { name: String::new(), instruction: String::new(), prompts: vec![("a".into(), false)], retry: false },
        )
        .unwrap();
    p.expect_msg(msg::USERAUTH_INFO_REQUEST);
    p.send(&info_response(&["one", "two"]));
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
}

// ---- the chain the core keeps -----------------------------------------------------------------------

/// A publickey query (no signature) proves nothing: whatever the host answers, the client learns only
/// whether the key would do (PK_OK), and no step is recorded as passed.
#[test]
fn publickey_query_is_answered_with_pk_ok_or_a_refusal_whatever_the_host_says() {
    let blob = PublicKey::Ed25519(user_key().verifying_key()).blob();
    let replies = [
        AuthReply::Accept,
        AuthReply::PartialSuccess { methods: Some(vec![Method::Password]) },
        AuthReply::PartialSuccess { methods: None },
    ];
    for reply in replies {
        let mut p = pair_with(&[]);
        p.send(&publickey_request("bob", &blob, None));
        assert!(matches!(expect_auth_request(&mut p).method, AuthMethod::PublicKey { signed: false, .. }));
        p.server.reply_auth(p.id, reply.clone()).unwrap();
        assert_eq!(p.expect_msg(msg::USERAUTH_PK_OK)[0], msg::USERAUTH_PK_OK, "{reply:?}");
        // The second factor written the obvious way (accept the password once the key passed) sees no key.
        p.send(&userauth_password("bob", "second factor"));
        assert_eq!(expect_auth_request(&mut p).passed, [], "{reply:?}");
        p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
        assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password,publickey,keyboard-interactive".into(), false));
    }
    let mut p = pair_with(&[]);
    p.send(&publickey_request("bob", &blob, None));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
    assert!(!parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)).1);
    // A query takes no prompts.
    p.send(&publickey_request("bob", &blob, None));
    expect_auth_request(&mut p);
    assert!(matches!(p.server.reply_auth(p.id, prompt("?", false)), Err(CommandError::WrongState(_))));
}

#[test]
fn a_login_cannot_change_its_user_or_service() {
    let mut p = pair_with(&[]);
    p.send(&userauth_password("alice", "step one"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: None }).unwrap();
    p.expect_msg(msg::USERAUTH_FAILURE);
    // Finishing alice's partial success as mallory.
    p.send(&kbd_request("mallory"));
    let (description, _) = p.expect_disconnect(REASON_PROTOCOL_ERROR);
    assert!(description.contains("change of user or service"), "{description}");

    let mut p = pair_with(&[]);
    p.send(&none_request("alice"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Reject { methods: None }).unwrap();
    p.expect_msg(msg::USERAUTH_FAILURE);
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"alice").string(b"other-service").string(b"none");
    p.send(w.as_slice());
    p.expect_disconnect(REASON_PROTOCOL_ERROR);
}

#[test]
fn steps_passed_are_shown_and_a_method_the_partial_success_did_not_list_is_refused() {
    let mut p = pair_with(&[]);
    p.send(&userauth_password("alice", "step one"));
    assert_eq!(expect_auth_request(&mut p).passed, []);
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: Some(vec![Method::KeyboardInteractive]) }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("keyboard-interactive".into(), true));
    // Outside the list: refused by the core, counted as a failure.
    let blob = PublicKey::Ed25519(user_key().verifying_key()).blob();
    p.send(&publickey_request("alice", &blob, None));
    expect_refused_by_core(&mut p, "keyboard-interactive");
    p.send(&userauth_password("alice", "step one"));
    expect_refused_by_core(&mut p, "keyboard-interactive");
    p.send(&kbd_request("alice"));
    let req = expect_auth_request(&mut p);
    assert_eq!(req.passed, [Method::Password]);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    p.expect_msg(msg::USERAUTH_SUCCESS);
}

#[test]
fn refusals_by_the_core_count_toward_max_auth_attempts() {
    let mut p = pair_with(&[("MaxAuthAttempts", "3"), ("AuthenticationMethods", "publickey")]);
    p.send(&none_request("alice"));
    expect_refused_by_core(&mut p, "publickey"); // the probe is free
    p.send(&userauth_password("alice", "one"));
    expect_refused_by_core(&mut p, "publickey");
    p.send(&userauth_password("alice", "two"));
    expect_refused_by_core(&mut p, "publickey");
    p.send(&userauth_password("alice", "three"));
    p.expect_disconnect(REASON_NO_MORE_AUTH_METHODS);
}

/// OpenSSH's `AuthenticationMethods=publickey,password`: the key first, then the password, the host
/// deciding each step and the core deciding when the login is complete.
#[test]
fn authentication_methods_require_every_step_in_order() {
    let mut p = pair_with(&[("AuthenticationMethods", "publickey,password")]);
    // The probe and a password first are answered by the core alone.
    p.send(&none_request("bob"));
    expect_refused_by_core(&mut p, "publickey");
    p.send(&userauth_password("bob", "pw"));
    expect_refused_by_core(&mut p, "publickey");

    let key = user_key();
    let blob = PublicKey::Ed25519(key.verifying_key()).blob();
    let session_id = p.client.session_id.clone().unwrap();
    let sig = signature_blob(&key, &publickey_signed_data(&session_id, "bob", &blob));
    p.send(&publickey_request("bob", &blob, Some(&sig)));
    assert_eq!(expect_auth_request(&mut p).passed, []);
    // The host accepts the key: the chain is not complete, so the client hears partial success.
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password".into(), true));
    assert!(p.drain_events().iter().all(|e| !matches!(e, Event::Authenticated { .. })));
    // The key again does not help.
    p.send(&publickey_request("bob", &blob, Some(&sig)));
    expect_refused_by_core(&mut p, "password");

    p.send(&userauth_password("bob", "pw"));
    let req = expect_auth_request(&mut p);
    assert_eq!(req.passed, [Method::PublicKey]);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(p.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
    assert!(matches!(p.expect_event(), Event::Authenticated { user, method } if user == "bob" && method == "password"));
}

#[test]
fn authentication_methods_alternatives_advance_every_list_the_method_starts() {
    let mut p = pair_with(&[("AuthenticationMethods", "publickey,password publickey,keyboard-interactive password,publickey")]);
    p.send(&none_request("bob"));
    expect_refused_by_core(&mut p, "publickey,password");
    p.send(&userauth_password("bob", "pw"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("publickey".into(), true));

    let mut p = pair_with(&[("AuthenticationMethods", "publickey,password publickey,keyboard-interactive")]);
    let key = user_key();
    let blob = PublicKey::Ed25519(key.verifying_key()).blob();
    let sig = signature_blob(&key, &publickey_signed_data(&p.client.session_id.clone().unwrap(), "bob", &blob));
    p.send(&publickey_request("bob", &blob, Some(&sig)));
    expect_auth_request(&mut p);
    // The host asks for a password only: narrowed within what the chains allow.
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: None }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password,keyboard-interactive".into(), true));
    p.send(&kbd_request("bob"));
    assert_eq!(expect_auth_request(&mut p).passed, [Method::PublicKey]);
    p.server.reply_auth(p.id, prompt("Code: ", false)).unwrap();
    p.expect_msg(msg::USERAUTH_INFO_REQUEST);
    p.send(&info_response(&["123"]));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(p.expect_msg(msg::USERAUTH_SUCCESS), [msg::USERAUTH_SUCCESS]);
}

#[test]
fn a_host_asking_for_more_than_the_chains_is_obeyed() {
    // The chain "password" is satisfied, but the host wants a second factor as well.
    let mut p = pair_with(&[("AuthenticationMethods", "password")]);
    p.send(&userauth_password("bob", "pw"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: Some(vec![Method::KeyboardInteractive]) }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("keyboard-interactive".into(), true));
    p.send(&kbd_request("bob"));
    assert_eq!(expect_auth_request(&mut p).passed, [Method::Password]);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    p.expect_msg(msg::USERAUTH_SUCCESS);

    // Without naming the methods: any offered one may follow a satisfied chain.
    let mut p = pair_with(&[("AuthenticationMethods", "password")]);
    p.send(&userauth_password("bob", "pw"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::PartialSuccess { methods: None }).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password,publickey,keyboard-interactive".into(), true));
}

#[test]
fn publickey_twice_needs_two_different_keys() {
    let mut p = pair_with(&[("AuthenticationMethods", "publickey,publickey")]);
    let session_id = p.client.session_id.clone().unwrap();
    let signed = |key: &SigningKey| {
        let blob = PublicKey::Ed25519(key.verifying_key()).blob();
        let sig = signature_blob(key, &publickey_signed_data(&session_id, "bob", &blob));
        publickey_request("bob", &blob, Some(&sig))
    };
    let (first, second) = (user_key(), SigningKey::from_bytes(&[0x22; 32]));
    p.send(&signed(&first));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("publickey".into(), true));
    p.send(&signed(&first));
    expect_refused_by_core(&mut p, "publickey");
    p.send(&signed(&second));
    assert_eq!(expect_auth_request(&mut p).passed, [Method::PublicKey]);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    p.expect_msg(msg::USERAUTH_SUCCESS);
}

#[test]
fn keyboard_interactive_rounds_per_attempt_are_capped() {
    let mut p = pair_with(&[("MaxKeyboardInteractiveRounds", "3")]);
    p.send(&kbd_request("carol"));
    expect_auth_request(&mut p);
    for _ in 0..3 {
        p.server.reply_auth(p.id, prompt("Next: ", false)).unwrap();
        p.expect_msg(msg::USERAUTH_INFO_REQUEST);
        p.send(&info_response(&["x"]));
        expect_auth_request(&mut p);
    }
    // A fourth round is a refusal: a host cannot keep one attempt going for ever.
    p.server.reply_auth(p.id, prompt("Next: ", false)).unwrap();
    assert_eq!(parse_failure(&p.expect_msg(msg::USERAUTH_FAILURE)), ("password,publickey,keyboard-interactive".into(), false));
    // A new attempt starts a new count.
    p.send(&kbd_request("carol"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, prompt("Again: ", false)).unwrap();
    p.expect_msg(msg::USERAUTH_INFO_REQUEST);
}

#[test]
fn keyboard_interactive_retry_after_wrong_answers_counts_as_a_failure() {
    let mut p = pair_with(&[("MaxAuthAttempts", "3")]);
    p.send(&kbd_request("carol"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, prompt("Password: ", false)).unwrap();
    for _ in 0..2 {
        p.expect_msg(msg::USERAUTH_INFO_REQUEST);
        p.send(&info_response(&["wrong"]));
        expect_auth_request(&mut p);
        p.server.reply_auth(p.id, prompt("Password: ", true)).unwrap();
    }
    p.expect_msg(msg::USERAUTH_INFO_REQUEST);
    p.send(&info_response(&["wrong"]));
    expect_auth_request(&mut p);
    // The third wrong answer uses up MaxAuthAttempts=3.
    p.server.reply_auth(p.id, prompt("Password: ", true)).unwrap();
    p.expect_disconnect(REASON_NO_MORE_AUTH_METHODS);
}

/// A reply of the wrong kind is refused and leaves the decision that is pending in place: the host can
/// still give the right one, and the connection goes on.
#[test]
fn a_reply_of_the_wrong_kind_leaves_the_pending_decision_alone() {
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    let mut w = Writer::message(msg::SERVICE_REQUEST);
    w.string(b"ssh-userauth");
    p.send(w.as_slice());
    assert!(matches!(p.expect_event(), Event::ServiceRequest { .. }));
    assert_eq!(p.server.reply_auth(p.id, AuthReply::Accept), Err(CommandError::NothingPending));
    assert_eq!(p.server.reply_channel_open(p.id, 0, true, 0, ""), Err(CommandError::NoSuchChannel));
    assert!(p.server.decision_pending(p.id));
    p.server.reply_service(p.id, true).unwrap();
    p.expect_msg(msg::SERVICE_ACCEPT);

    p.send(&userauth_password("alice", "correct horse"));
    expect_auth_request(&mut p);
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    p.expect_msg(msg::USERAUTH_SUCCESS);
    p.send(&channel_open("session", 5, 1 << 20, 1 << 15));
    assert!(matches!(p.expect_event(), Event::Authenticated { .. }));
    let Event::ChannelOpenRequest { channel, .. } = p.expect_event() else { panic!("expected ChannelOpenRequest") };
    // This one used to take the channel's decision with it.
    assert_eq!(p.server.reply_auth(p.id, AuthReply::Accept), Err(CommandError::NothingPending));
    assert_eq!(p.server.reply_service(p.id, true), Err(CommandError::NothingPending));
    assert_eq!(p.server.reply_channel_request(p.id, channel, true), Err(CommandError::NothingPending));
    p.server.reply_channel_open(p.id, channel, true, 0, "").unwrap();
    p.expect_msg(msg::CHANNEL_OPEN_CONFIRMATION);
}
