//! OpenSSH user certificates (PROTOCOL.certkeys) in the core: a certificate is read and its CA signature
//! checked ([`Certificate::from_blob`]), and a publickey request with one reaches the host with the
//! certificate beside it, or is refused by the core (a host certificate, a bad or hostile one) without the
//! host being asked. Hostile certificates (every truncation, every flipped byte, too many principals,
//! options out of order or unknown) are clean refusals, never a panic. A host certificate (`HostCertificate`)
//! is offered beside its key, only while the server holds that key; a user certificate is no host's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use ed25519_dalek::{Signer, SigningKey};
use wasshd_core::keys::{CertType, Certificate, KeyError, PublicKey, MAX_PRINCIPALS};
use wasshd_core::msg;
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::{AuthMethod, AuthReply, Event};

const CERT: &str = "ssh-ed25519-cert-v01@openssh.com";

struct Fields<'a> {
    cert_type: u32,
    principals: &'a [&'a str],
    critical: &'a [(&'a str, &'a [u8])],
}

const USER_CERT: Fields = Fields { cert_type: 1, principals: &["alice"], critical: &[] };

fn string(bytes: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(bytes);
    w.into_vec()
}

fn blob(key: &SigningKey) -> Vec<u8> {
    PublicKey::Ed25519(key.verifying_key()).blob()
}

/// A certificate for `user` signed by `ca`, laid out as ssh-keygen writes one.
fn certificate(user: &SigningKey, ca: &SigningKey, f: &Fields) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(CERT.as_bytes()).string(&[7; 32]).string(user.verifying_key().as_bytes());
    let mut principals = Writer::new();
    for p in f.principals {
        principals.string(p.as_bytes());
    }
    let mut critical = Writer::new();
    for (name, data) in f.critical {
        critical.string(name.as_bytes()).string(data);
    }
    w.u64(42).u32(f.cert_type).string(b"key id").string(principals.as_slice()).u64(0).u64(u64::MAX);
    w.string(critical.as_slice()).string(&[&string(b"permit-pty")[..], &string(b"")].concat()).string(b"").string(&blob(ca));
    let signature = [string(b"ssh-ed25519"), string(&ca.sign(w.as_slice()).to_bytes())].concat();
    w.string(&signature);
    w.into_vec()
}

fn keys() -> (SigningKey, SigningKey) {
    (SigningKey::from_bytes(&USER_SEED), SigningKey::from_bytes(&[0x22; 32]))
}

#[test]
fn a_certificate_is_read_and_its_ca_signature_checked() {
    let (user, ca) = keys();
    let command = string(b"id");
    let f = Fields { cert_type: 1, principals: &["alice", "bob"], critical: &[("force-command", &command)] };
    let cert = Certificate::from_blob(&certificate(&user, &ca, &f)).unwrap();
    assert_eq!(cert.key, PublicKey::Ed25519(user.verifying_key()));
    assert_eq!((cert.serial, cert.cert_type, cert.key_id.as_str()), (42, CertType::User, "key id"));
    assert_eq!(cert.principals, ["alice", "bob"]);
    assert_eq!((cert.valid_after, cert.valid_before), (0, u64::MAX));
    assert_eq!(cert.critical_option("force-command"), Some("id"));
    assert_eq!(cert.extensions, [("permit-pty".to_string(), vec![])]);
    assert_eq!(cert.ca_key, blob(&ca));
}

#[test]
fn hostile_certificates_are_clean_refusals() {
    let (user, ca) = keys();
    let good = certificate(&user, &ca, &USER_CERT);
    for cut in 0..good.len() {
        assert!(Certificate::from_blob(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Every byte is covered by the CA's signature or read as structure.
    for flip in 0..good.len() {
        let mut bad = good.clone();
        bad[flip] ^= 0x01;
        assert!(Certificate::from_blob(&bad).is_err(), "flip at {flip}");
    }
    let many: Vec<String> = (0..=MAX_PRINCIPALS).map(|i| format!("p{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let huge = Certificate::from_blob(&certificate(&user, &ca, &Fields { cert_type: 1, principals: &many, critical: &[] }));
    assert_eq!(huge, Err(KeyError::Malformed("too many principals")));
    let unknown =
        Certificate::from_blob(&certificate(&user, &ca, &Fields { cert_type: 1, principals: &[], critical: &[("no-such-option", b"")] }));
    assert!(matches!(unknown, Err(KeyError::Unsupported(_))));
    let (a, b) = (string(b"10.0.0.1"), string(b"id"));
    let unordered = Fields { cert_type: 1, principals: &[], critical: &[("source-address", &a), ("force-command", &b)] };
    assert!(Certificate::from_blob(&certificate(&user, &ca, &unordered)).is_err());
    assert!(Certificate::from_blob(&certificate(&user, &ca, &Fields { cert_type: 3, principals: &[], critical: &[] })).is_err());
    // A certificate in the CA key's place: a certificate cannot sign another.
    let ca_cert = certificate(&ca, &SigningKey::from_bytes(&[0x33; 32]), &USER_CERT);
    let ca_blob = blob(&ca);
    let at = good.windows(ca_blob.len()).position(|w| w == ca_blob).unwrap();
    let mut nested = good.clone();
    nested.splice(at - 4..at + ca_blob.len(), string(&ca_cert));
    assert!(Certificate::from_blob(&nested).is_err());
}

/// A publickey request naming the certificate algorithm, signed by `user` when `sign`.
fn request(p: &Pair, user: &SigningKey, cert: &[u8], sign: bool) -> Vec<u8> {
    let mut w = Writer::message(msg::USERAUTH_REQUEST);
    w.string(b"alice").string(b"ssh-connection").string(b"publickey").bool(sign).string(CERT.as_bytes()).string(cert);
    if sign {
        let mut data = string(p.client.session_id.as_deref().unwrap());
        data.extend_from_slice(w.as_slice());
        w.string(&[string(b"ssh-ed25519"), string(&user.sign(&data).to_bytes())].concat());
    }
    w.into_vec()
}

fn refused_by_core(p: &mut Pair) {
    let failure = p.expect_msg(msg::USERAUTH_FAILURE);
    assert!(!Reader::new(&failure[1..]).name_list().unwrap().is_empty());
    assert!(!p.drain_events().iter().any(|e| matches!(e, Event::AuthRequest(_))), "the host was asked");
}

#[test]
fn a_signed_certificate_request_reaches_the_host_with_the_certificate() {
    let (user, ca) = keys();
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let cert = certificate(&user, &ca, &USER_CERT);
    p.send(&request(&p, &user, &cert, true));
    let Event::AuthRequest(req) = p.expect_event() else { panic!("expected the host to be asked") };
    match req.method {
        AuthMethod::PublicKey { algorithm, key, signed: true, certificate: Some(c) } => {
            assert_eq!((algorithm.as_str(), key, c.key_id.as_str(), c.ca_key), (CERT, cert, "key id", blob(&ca)));
        }
        other => panic!("expected a signed certificate request, got {other:?}"),
    }
    p.server.reply_auth(p.id, AuthReply::Accept).unwrap();
    p.expect_msg(msg::USERAUTH_SUCCESS);
}

#[test]
fn host_wrongly_signed_and_hostile_certificates_are_refused_by_the_core() {
    let (user, ca) = keys();
    let mut p = Pair::new(ClientOptions::default());
    p.handshake();
    p.request_service();
    let host = certificate(&user, &ca, &Fields { cert_type: 2, principals: &["alice"], critical: &[] });
    p.send(&request(&p, &user, &host, true));
    refused_by_core(&mut p);
    // Signed by another key than the certified one.
    let cert = certificate(&user, &ca, &USER_CERT);
    p.send(&request(&p, &ca, &cert, true));
    refused_by_core(&mut p);
    let mut truncated = cert.clone();
    truncated.truncate(cert.len() / 2);
    p.send(&request(&p, &user, &truncated, true));
    refused_by_core(&mut p);
    // Still served: a good certificate goes to the host.
    p.send(&request(&p, &user, &cert, false));
    assert!(matches!(p.expect_event(), Event::AuthRequest(_)));
}

// ---- host certificates ---------------------------------------------------------------------------

/// `type base64` of a certificate blob, as ssh-keygen writes its `-cert.pub` file.
fn line(blob: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    format!("{CERT} {} host", Base64::encode_string(blob))
}

/// The host key algorithms the server's first KEXINIT lists, as text.
fn offered(server: &mut wasshd_core::Server) -> String {
    let id = server.open(0).unwrap();
    server.input(id, b"SSH-2.0-test\r\n", 0).unwrap();
    String::from_utf8_lossy(&server.take_output(id)).into_owned()
}

#[test]
fn a_host_certificate_is_offered_beside_its_key_and_only_for_a_key_the_server_holds() {
    let host = SigningKey::from_bytes(&HOST_SEED);
    let ca = SigningKey::from_bytes(&[0x22; 32]);
    let cert = line(&certificate(&host, &ca, &Fields { cert_type: 2, principals: &["localhost"], critical: &[] }));
    let mut server = test_server();
    assert!(!offered(&mut server).contains(CERT));
    assert_eq!(server.config_mut().set("HostCertificate", &cert), Ok(true));
    assert_eq!(server.config().get("HostCertificate").as_deref(), Some(cert.trim_end_matches(" host")));
    let kexinit = offered(&mut server);
    assert!(kexinit.contains(&format!("{CERT},ssh-ed25519")), "{kexinit}");
    // A certificate of a key the server does not hold is not offered.
    let other = line(&certificate(&ca, &ca, &Fields { cert_type: 2, principals: &[], critical: &[] }));
    let mut server = test_server();
    server.config_mut().set("HostCertificate", &other).unwrap();
    assert!(!offered(&mut server).contains(CERT));
}

#[test]
fn user_certificates_and_damaged_lines_are_no_host_certificates() {
    let (user, ca) = keys();
    let mut server = test_server();
    let config = server.config_mut();
    let user_cert = line(&certificate(&user, &ca, &USER_CERT));
    assert_eq!(config.set("HostCertificate", &user_cert), Err("key refused: a user certificate is no host certificate".into()));
    let host = certificate(&user, &ca, &Fields { cert_type: 2, principals: &[], critical: &[] });
    assert!(config.set("HostCertificate", &line(&host[..host.len() - 1])).is_err());
    assert!(config.set("HostCertificate", "not a certificate").is_err());
    assert!(config.set("HostCertificate", &line(&host).replacen(CERT, "ssh-ed25519", 1)).is_err());
    assert!(config.host_certificates.is_empty());
}

/// `ssh-keygen -s` in a temporary folder over a copy of the DSA fixture: the certificate blob it writes.
fn ssh_keygen_certificate(ca_type: &str) -> (Vec<u8>, PublicKey) {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("wasshd-dss-cert-{}-{ca_type}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test/fixtures/keys");
    std::fs::copy(fixtures.join("dsa.pub"), dir.join("user.pub")).unwrap();
    let ca = dir.join("ca");
    if ca_type == "dsa" {
        std::fs::copy(fixtures.join("dsa"), &ca).unwrap();
        std::fs::set_permissions(&ca, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    } else {
        assert!(Command::new("ssh-keygen").args(["-q", "-t", ca_type, "-N", "", "-f"]).arg(&ca).status().unwrap().success());
    }
    let out = Command::new("ssh-keygen").arg("-s").arg(&ca).args(["-I", "dss", "-n", "alice"]).arg(dir.join("user.pub")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = std::fs::read_to_string(dir.join("user-cert.pub")).unwrap();
    let user = std::fs::read_to_string(dir.join("user.pub")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let decode = |line: &str| <base64ct::Base64 as base64ct::Encoding>::decode_vec(line.split_whitespace().nth(1).unwrap()).unwrap();
    assert!(line.starts_with("ssh-dss-cert-v01@openssh.com "));
    (decode(&line), PublicKey::from_blob(&decode(&user)).unwrap())
}

/// OpenSSH 9.2's `ssh-keygen -s` still certifies DSA keys: such a certificate is read with its DSA key; a CA
/// that signs with ssh-dss (SHA-1) is refused, as SHA-1 `ssh-rsa` CAs are.
#[test]
fn ssh_dss_user_certificates_from_ssh_keygen() {
    let (blob, user) = ssh_keygen_certificate("ed25519");
    let cert = Certificate::from_blob(&blob).unwrap();
    assert_eq!((cert.key, cert.cert_type, cert.principals), (user, CertType::User, vec!["alice".to_string()]));
    let (blob, _) = ssh_keygen_certificate("dsa");
    assert!(matches!(Certificate::from_blob(&blob), Err(KeyError::Malformed(_))));
}
