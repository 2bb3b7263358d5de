//! Host and user keys of every type: files made by `ssh-keygen` and `openssl` (test/fixtures/keys, see its
//! README) read in every format, fingerprints as `ssh-keygen -l` prints them, and signatures that verify
//! only with the key, the data and the algorithm they were made with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use wasshd_core::crypto::rng::EntropyPool;
use wasshd_core::keys::{self, HostKey, KeyError, KeyType, PublicKey, SigAlg};
use wasshd_core::wire::{Reader, Writer};
use wasshd_core::Server;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test/fixtures/keys").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// Every readable fixture: file, passphrase, public key file, type.
const FILES: &[(&str, Option<&str>, &str, KeyType)] = &[
    ("ecdsa256", None, "ecdsa256.pub", KeyType::EcdsaP256),
    ("ecdsa384", None, "ecdsa384.pub", KeyType::EcdsaP384),
    ("ecdsa521", None, "ecdsa521.pub", KeyType::EcdsaP521),
    ("ecdsa256-enc", Some("passphrase"), "ecdsa256-enc.pub", KeyType::EcdsaP256),
    ("ecdsa384-enc", Some("passphrase"), "ecdsa384-enc.pub", KeyType::EcdsaP384),
    ("ecdsa521-enc", Some("passphrase"), "ecdsa521-enc.pub", KeyType::EcdsaP521),
    ("rsa3072", None, "rsa3072.pub", KeyType::Rsa),
    ("rsa3072-enc", Some("passphrase"), "rsa3072-enc.pub", KeyType::Rsa),
    ("ed25519-enc", Some("passphrase"), "ed25519-enc.pub", KeyType::Ed25519),
    ("ecdsa256.pem", None, "ecdsa256.pub", KeyType::EcdsaP256),
    ("ecdsa256.pkcs8", None, "ecdsa256.pub", KeyType::EcdsaP256),
    ("rsa3072.pem", None, "rsa3072.pub", KeyType::Rsa),
    ("rsa3072.pkcs8", None, "rsa3072.pub", KeyType::Rsa),
    ("openssl-ed25519.pkcs8", None, "openssl-ed25519.pkcs8.pub", KeyType::Ed25519),
    ("openssl-p384.pkcs8", None, "openssl-p384.pkcs8.pub", KeyType::EcdsaP384),
    ("openssl-p384.enc.pkcs8", Some("passphrase"), "openssl-p384.pkcs8.pub", KeyType::EcdsaP384),
    ("openssl-p521.sec1", None, "openssl-p521.sec1.pub", KeyType::EcdsaP521),
    ("openssl-rsa2048.pkcs8", None, "openssl-rsa2048.pkcs8.pub", KeyType::Rsa),
    ("openssl-rsa2048.enc.pkcs8", Some("passphrase"), "openssl-rsa2048.pkcs8.pub", KeyType::Rsa),
    ("openssl-rsa2048.pkcs1", None, "openssl-rsa2048.pkcs1.pub", KeyType::Rsa),
    ("dsa", None, "dsa.pub", KeyType::Dsa),
    ("dsa-enc", Some("passphrase"), "dsa-enc.pub", KeyType::Dsa),
    ("dsa.v2.ppk", None, "dsa.pub", KeyType::Dsa),
    ("dsa-enc.v3.ppk", Some("passphrase"), "dsa.pub", KeyType::Dsa),
    ("openssl-dsa.pem", None, "openssl-dsa.pub", KeyType::Dsa),
    ("openssl-dsa.pkcs8", None, "openssl-dsa.pub", KeyType::Dsa),
    ("openssl-dsa.enc.pkcs8", Some("passphrase"), "openssl-dsa.pub", KeyType::Dsa),
];

/// The second field of `ssh-keygen -l [-E md5] -f FILE`.
fn ssh_keygen_fingerprint(public_file: &str, md5: bool) -> String {
    let mut cmd = Command::new("ssh-keygen");
    if md5 {
        cmd.args(["-E", "md5"]);
    }
    let out = cmd.arg("-lf").arg(fixture(public_file)).output().unwrap();
    assert!(out.status.success(), "ssh-keygen -lf {public_file}");
    String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn every_format_reads_to_the_key_the_tools_made() {
    for &(file, passphrase, public, key_type) in FILES {
        let key = HostKey::from_file(&read(file), passphrase).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.key_type(), key_type, "{file}");
        let line = read(public);
        let want: Vec<&str> = line.split_whitespace().take(2).collect();
        assert_eq!(key.public().to_openssh_line(), want.join(" "), "{file}");
        assert_eq!(keys::fingerprint(&key.public().blob()), ssh_keygen_fingerprint(public, false), "{file}");
        assert_eq!(keys::fingerprint_md5(&key.public().blob()), ssh_keygen_fingerprint(public, true), "{file}");
    }
}

/// `ssh-keygen -y -f` of a private key file written to a temporary path: its public line.
fn ssh_keygen_public(text: &str, name: &str) -> String {
    let path = std::env::temp_dir().join(format!("wasshd-keys-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new("ssh-keygen").arg("-y").arg("-f").arg(&path).output().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "ssh-keygen -y {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn the_canonical_form_and_written_openssh_files_hold_the_same_key() {
    for &(file, passphrase, _, _) in FILES {
        let key = HostKey::from_file(&read(file), passphrase).unwrap();
        let again = HostKey::from_wire(key.to_wire().as_slice()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(again.public(), key.public(), "{file}");
        let written = key.to_openssh("written", 7);
        assert_eq!(HostKey::from_file(&written, None).unwrap().public(), key.public(), "{file}");
        assert_eq!(ssh_keygen_public(&written, file), key.public().to_openssh_line(), "{file}");
    }
    // Every field is read: a cut anywhere is an error, and nothing may follow.
    let wire = HostKey::from_file(&read("ecdsa256"), None).unwrap().to_wire();
    for n in 0..wire.len() {
        assert!(HostKey::from_wire(&wire.as_slice()[..n]).is_err(), "cut at {n}");
    }
    assert!(HostKey::from_wire(&[wire.as_slice(), &[0]].concat()).is_err());
}

/// `openssl` with `args` in a temporary folder; returns the file it wrote as `out`.
fn openssl(dir: &std::path::Path, args: &[&str], out: &str) -> Vec<u8> {
    let status = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(status.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    std::fs::read(dir.join(out)).unwrap()
}

#[test]
fn pkcs12_files_openssl_exports_read_to_their_key() {
    let dir = std::env::temp_dir().join(format!("wasshd-p12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, algorithm) in
        [("p256", "EC -pkeyopt ec_paramgen_curve:P-256"), ("ed25519", "ED25519"), ("rsa", "RSA -pkeyopt rsa_keygen_bits:2048")]
    {
        let mut args = vec!["genpkey", "-out", "key.pem", "-algorithm"];
        args.extend(algorithm.split(' '));
        openssl(&dir, &args, "key.pem");
        openssl(&dir, &["req", "-new", "-x509", "-key", "key.pem", "-subj", "/CN=wasshd", "-days", "1", "-out", "cert.pem"], "cert.pem");
        let want = HostKey::from_file(&String::from_utf8(std::fs::read(dir.join("key.pem")).unwrap()).unwrap(), None).unwrap().public();
        // OpenSSL 3's defaults: PBES2 with AES-256-CBC, a SHA-256 MAC.
        let pfx = openssl(
            &dir,
            &["pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-passout", "pass:secret", "-out", "k.p12"],
            "k.p12",
        );
        assert_eq!(HostKey::from_bytes(&pfx, Some("secret")).unwrap().public(), want, "{name}");
        assert_eq!(HostKey::from_bytes(&pfx, Some("wrong")).err(), Some(KeyError::WrongPassphrase), "{name}");
        assert_eq!(HostKey::from_bytes(&pfx, None).err(), Some(KeyError::WrongPassphrase), "{name}");
        for cut in [1, pfx.len() / 3, pfx.len() - 1] {
            assert!(HostKey::from_bytes(&pfx[..cut], Some("secret")).is_err(), "{name} cut at {cut}");
        }
        // Without a password, as `-passout pass:` writes it.
        let open = openssl(
            &dir,
            &["pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-passout", "pass:", "-out", "open.p12"],
            "open.p12",
        );
        assert_eq!(HostKey::from_bytes(&open, None).unwrap().public(), want, "{name}");
        // -legacy: the key bag under 3DES (or RC2 by -keypbe) with the SHA-1 PKCS#12 KDF, the certificates under RC2-40.
        for keypbe in ["PBE-SHA1-3DES", "PBE-SHA1-2DES", "PBE-SHA1-RC2-128", "PBE-SHA1-RC2-40"] {
            let legacy = openssl(
                &dir,
                &["pkcs12", "-export", "-legacy", "-keypbe", keypbe, "-inkey", "key.pem", "-in", "cert.pem", "-passout", "pass:secret", "-out", "l.p12"],
                "l.p12",
            );
            assert_eq!(HostKey::from_bytes(&legacy, Some("secret")).unwrap().public(), want, "{name} {keypbe}");
            assert_eq!(HostKey::from_bytes(&legacy, Some("wrong")).err(), Some(KeyError::WrongPassphrase), "{name} {keypbe}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn passphrases_are_asked_for_and_checked() {
    for file in [
        "ecdsa256-enc",
        "rsa3072-enc",
        "ed25519-enc",
        "openssl-p384.enc.pkcs8",
        "openssl-rsa2048.enc.pkcs8",
        "dsa-enc",
        "dsa-enc.v3.ppk",
        "openssl-dsa.enc.pkcs8",
    ] {
        assert_eq!(HostKey::from_file(&read(file), None).err(), Some(KeyError::PassphraseNeeded), "{file}");
        assert_eq!(HostKey::from_file(&read(file), Some("wrong")).err(), Some(KeyError::WrongPassphrase), "{file}");
    }
    // A passphrase given for a plain file is ignored, as ssh-keygen does.
    assert!(HostKey::from_file(&read("ecdsa384"), Some("anything")).is_ok());
}

#[test]
fn unsupported_formats_and_small_rsa_keys_are_refused_with_their_reason() {
    assert!(matches!(HostKey::from_file(&read("openssl-p521.legacy-enc.sec1"), Some("passphrase")), Err(KeyError::Unsupported(_))));
    assert!(matches!(HostKey::from_file(&read("ecdsa256.pub"), None), Err(KeyError::Unsupported(_))));
    assert!(matches!(
        HostKey::from_file("-----BEGIN DSA PRIVATE KEY-----\n-----END DSA PRIVATE KEY-----", None),
        Err(KeyError::Malformed(_))
    ));
    // OpenSSL 3's default DSA key of 1024 bits has a 224-bit q: its signatures do not fit ssh-dss' 2 x 20 bytes.
    assert!(matches!(HostKey::from_file(&read("openssl-dsa-q224.pem"), None), Err(KeyError::Refused(_))));
    assert!(matches!(HostKey::from_file(&read("rsa1024"), None), Err(KeyError::Refused(_))));
    let blob = <base64ct::Base64 as base64ct::Encoding>::decode_vec(read("rsa1024.pub").split_whitespace().nth(1).unwrap()).unwrap();
    assert!(matches!(PublicKey::from_blob(&blob), Err(KeyError::Refused(_))));
    // The server reports them and installs nothing.
    let mut server = Server::new(&[1; 32]);
    assert_eq!(server.add_host_key_openssh(&read("rsa3072-enc"), Some("wrong")), Err(KeyError::WrongPassphrase));
    assert!(server.host_public_keys().is_empty());
}

fn keys() -> Vec<HostKey> {
    ["ecdsa256", "ecdsa384", "ecdsa521", "rsa3072", "openssl-ed25519.pkcs8", "dsa"]
        .iter()
        .map(|f| HostKey::from_file(&read(f), None).unwrap())
        .collect()
}

#[test]
fn every_algorithm_signs_and_verifies_only_its_own_data() {
    let mut rng = EntropyPool::new(b"keys test");
    for key in keys() {
        let public = PublicKey::from_blob(&key.public().blob()).unwrap();
        assert_eq!(public, key.public());
        for &alg in SigAlg::ALL.iter().filter(|a| key.signs(**a)) {
            let sig = key.sign(alg, b"exchange hash", &mut rng).unwrap();
            assert!(public.verify(alg, b"exchange hash", &sig), "{}", alg.name());
            assert!(!public.verify(alg, b"exchange hasH", &sig), "{}", alg.name());
            let mut flipped = sig.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert!(!public.verify(alg, b"exchange hash", &flipped), "{}", alg.name());
        }
        for &alg in SigAlg::ALL.iter().filter(|a| !key.signs(**a)) {
            assert_eq!(key.sign(alg, b"x", &mut rng), Err(KeyError::Signing));
        }
    }
    // Another key of the same type does not verify it.
    let other = HostKey::from_file(&read("ecdsa256.pkcs8"), None).unwrap();
    let (a, b) = (HostKey::from_file(&read("ecdsa256-enc"), Some("passphrase")).unwrap(), other);
    assert!(!b.public().verify(SigAlg::EcdsaP256, b"m", &a.sign(SigAlg::EcdsaP256, b"m", &mut rng).unwrap()));
}

/// RFC 8332 §3: the algorithm a request names must be the one its signature blob names and was made with.
#[test]
fn an_rsa_signature_made_with_one_hash_is_refused_under_the_other() {
    let mut rng = EntropyPool::new(b"rsa");
    let key = HostKey::from_file(&read("rsa3072"), None).unwrap();
    let public = key.public();
    let sha256 = key.sign(SigAlg::RsaSha256, b"data", &mut rng).unwrap();
    let sha512 = key.sign(SigAlg::RsaSha512, b"data", &mut rng).unwrap();
    assert!(public.verify(SigAlg::RsaSha256, b"data", &sha256) && public.verify(SigAlg::RsaSha512, b"data", &sha512));
    assert!(!public.verify(SigAlg::RsaSha512, b"data", &sha256));
    assert!(!public.verify(SigAlg::RsaSha256, b"data", &sha512));
    assert!(!public.verify(SigAlg::RsaSha1, b"data", &sha256));
    // Relabelled: the blob names the requested algorithm but holds the other hash's signature.
    let relabel = |blob: &[u8], name: &str| {
        let mut r = Reader::new(blob);
        r.string().unwrap();
        let mut w = Writer::new();
        w.string(name.as_bytes()).string(r.string().unwrap());
        w.into_vec()
    };
    assert!(!public.verify(SigAlg::RsaSha512, b"data", &relabel(&sha256, "rsa-sha2-512")));
    assert!(!public.verify(SigAlg::RsaSha256, b"data", &relabel(&sha512, "rsa-sha2-256")));
    // A signature longer than the modulus is refused, even with a leading zero.
    let mut long = Reader::new(&sha256);
    long.string().unwrap();
    let mut w = Writer::new();
    w.string(b"rsa-sha2-256").string(&[&[0u8][..], long.string().unwrap()].concat());
    assert!(!public.verify(SigAlg::RsaSha256, b"data", w.as_slice()));
}

#[test]
fn the_server_offers_a_signature_algorithm_for_each_installed_key_and_ssh_rsa_and_ssh_dss_only_when_configured() {
    let mut server = Server::new(&[2; 32]);
    for file in ["rsa3072", "ecdsa384"] {
        server.add_host_key_openssh(&read(file), None).unwrap();
    }
    server.generate_host_key("x");
    assert_eq!(server.host_public_keys().len(), 3);
    let fingerprints = server.host_key_fingerprints(false);
    assert_eq!(fingerprints[0], ssh_keygen_fingerprint("rsa3072.pub", false));
    assert_eq!(server.host_key_fingerprints(true)[1], ssh_keygen_fingerprint("ecdsa384.pub", true));
    let offered = |server: &mut Server| {
        let id = server.open(0).unwrap();
        let out = server.take_output(id);
        let kexinit = &out[out.iter().position(|&b| b == b'\n').unwrap() + 1..];
        // packet_length, padding_length, message number, cookie, kex list, then the host key list.
        let mut r = Reader::new(&kexinit[4 + 1 + 1 + 16..]);
        r.name_list().unwrap();
        r.name_list().unwrap().to_string()
    };
    assert_eq!(offered(&mut server), "ssh-ed25519,ecdsa-sha2-nistp384,rsa-sha2-512,rsa-sha2-256");
    server.config_mut().set("SSHPublicKeyAlgorithms", "rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256").unwrap();
    assert_eq!(offered(&mut server), "rsa-sha2-256,ssh-rsa");
    // A DSA key is offered only when ssh-dss is named.
    server.add_host_key_openssh(&read("dsa"), None).unwrap();
    assert_eq!(offered(&mut server), "rsa-sha2-256,ssh-rsa");
    server.config_mut().set("SSHPublicKeyAlgorithms", "ssh-dss,ssh-ed25519").unwrap();
    assert_eq!(offered(&mut server), "ssh-dss,ssh-ed25519");
    server
        .config_mut()
        .set("SSHPublicKeyAlgorithms", &keys::KeyAlg::DEFAULT.iter().map(|a| a.name()).collect::<Vec<_>>().join(","))
        .unwrap();
    assert!(!offered(&mut server).contains("ssh-dss"));
}

/// A known answer: `ssh-keygen -Y sign -f dsa -n wasshd` of `hello` (OpenSSH PROTOCOL.sshsig), whose inner
/// `ssh-dss` signature is over the SSHSIG preamble and SHA-512 of the message.
#[test]
fn an_ssh_dss_signature_made_by_ssh_keygen_verifies() {
    use sha2::Digest;
    let armoured = read("dsa.hello.sig");
    let body: String = armoured.lines().filter(|l| !l.starts_with("-----")).collect();
    let sig = <base64ct::Base64 as base64ct::Encoding>::decode_vec(&body).unwrap();
    let mut r = Reader::new(&sig[6..]);
    assert_eq!(&sig[..6], b"SSHSIG");
    assert_eq!(r.u32().unwrap(), 1);
    let (public, namespace, reserved, hash) = (r.string().unwrap(), r.string().unwrap(), r.string().unwrap(), r.string().unwrap());
    let signature = r.string().unwrap();
    assert_eq!(hash, b"sha512");
    let mut signed = Writer::new();
    signed.raw(b"SSHSIG").string(namespace).string(reserved).string(hash).string(&sha2::Sha512::digest(b"hello"));
    let key = PublicKey::from_blob(public).unwrap();
    assert_eq!(key, HostKey::from_file(&read("dsa"), None).unwrap().public());
    assert!(key.verify(SigAlg::Dsa, signed.as_slice(), signature));
    let mut other = Writer::new();
    other.raw(b"SSHSIG").string(namespace).string(reserved).string(hash).string(&sha2::Sha512::digest(b"hellO"));
    assert!(!key.verify(SigAlg::Dsa, other.as_slice(), signature));
}

/// The sizes of a DSA public key are checked before any arithmetic: a p of 100,000 bits is refused at once,
/// and so are a q other than 160 bits, a g or y out of range, and signatures other than 2 x 20 bytes.
#[test]
fn hostile_dsa_blobs_and_signatures_are_refused() {
    let key = HostKey::from_file(&read("dsa"), None).unwrap();
    let blob = key.public().blob();
    let mut r = Reader::new(&blob);
    r.string().unwrap();
    let (p, q, g, y) = (r.mpint().unwrap(), r.mpint().unwrap(), r.mpint().unwrap(), r.mpint().unwrap());
    let build = |p: &[u8], q: &[u8], g: &[u8], y: &[u8]| {
        let mut w = Writer::new();
        w.string(b"ssh-dss").mpint(p).mpint(q).mpint(g).mpint(y);
        w.into_vec()
    };
    assert_eq!(PublicKey::from_blob(&build(p, q, g, y)).unwrap(), key.public());
    let huge = vec![0xffu8; 100_000 / 8];
    let started = std::time::Instant::now();
    assert!(matches!(PublicKey::from_blob(&build(&huge, q, g, y)), Err(KeyError::Refused(_))));
    assert!(started.elapsed() < std::time::Duration::from_millis(50));
    assert!(matches!(PublicKey::from_blob(&build(p, &p[..32], g, y)), Err(KeyError::Refused(_))));
    assert!(matches!(PublicKey::from_blob(&build(&p[1..], q, g, y)), Err(KeyError::Refused(_))));
    for (g, y) in [(&[1u8][..], y), (p, y), (g, &[1u8][..]), (g, p), (g, &huge[..])] {
        assert!(PublicKey::from_blob(&build(p, q, g, y)).is_err());
    }
    // y outside the subgroup of order q: g itself is in it, g + 1 is not.
    let mut outside = y.to_vec();
    *outside.last_mut().unwrap() ^= 1;
    assert!(PublicKey::from_blob(&build(p, q, g, &outside)).is_err());
    let mut rng = EntropyPool::new(b"dsa");
    let sig = key.sign(SigAlg::Dsa, b"m", &mut rng).unwrap();
    let mut sr = Reader::new(&sig);
    assert_eq!(sr.utf8().unwrap(), "ssh-dss");
    let rs = sr.string().unwrap();
    assert_eq!(rs.len(), 40);
    let reblob = |rs: &[u8]| {
        let mut w = Writer::new();
        w.string(b"ssh-dss").string(rs);
        w.into_vec()
    };
    let public = key.public();
    assert!(public.verify(SigAlg::Dsa, b"m", &reblob(rs)));
    for bad in [&rs[..39], &[rs, &[0]].concat()[..], &[0u8; 40][..], &[0xff; 40][..], &[&rs[..20], &[0u8; 20][..]].concat()[..]] {
        assert!(!public.verify(SigAlg::Dsa, b"m", &reblob(bad)));
    }
}
