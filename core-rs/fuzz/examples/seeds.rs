//! Writes the seeds the Rust side can make: for `handshake`, typical client sessions as payload
//! sequences; for `handshake_raw` and `conn_raw`, the raw byte streams of some of them (server and client
//! are deterministic, so such a stream replays to a fresh server exactly, past the key exchange, which
//! is checked here); and valid inputs for every other target. The seeds taken from real OpenSSH sessions
//! come from `scripts/fuzz-seeds.ts`; `scripts/fuzz-seeds.sh` runs both.
//!
//! Usage: `cargo run --example seeds -- DIR`.

use std::fs;
use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use wasshd_core::auth::signed_data;
use wasshd_core::config::StrictKex;
use wasshd_core::keys::{HostKey, SigAlg};
use wasshd_core::msg;
use wasshd_core::transport::compress::{Deflater, ZlibStream};
use wasshd_core::transport::negotiate::KexAlg;
use wasshd_core::transport::packet::Sealer;
use wasshd_core::wire::{Reader, Writer};
use wasshd_fuzz::host::{server, Host, Session, PARTIAL_PASSWORD, PASSWORD};
use wasshd_fuzz::{handshake_suites, suite, suites, Input, KeyMaterial};

/// One item of a `handshake` input.
enum Item {
    Send(Vec<u8>),
    /// A control item: the bytes after the zero length.
    Op(Vec<u8>),
}
use Item::{Op, Send};

/// Session flags whose server runs StrictKex::Enabled, as `handshake_raw` and `conn_raw` do.
const ENABLED: u8 = 0x10;
const CTR_HMAC: u8 = 5; // aes128-ctr with hmac-sha2-256: the length is decrypted before the MAC is checked
const USER: &str = "fuzz";
const USER_SEED: [u8; 32] = [0x11; 32];

struct Out {
    dir: PathBuf,
    bytes: usize,
}

impl Out {
    fn write(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.dir.join(target);
        fs::create_dir_all(&dir).expect("seed directory");
        fs::write(dir.join(name), data).expect("seed file");
        self.bytes += data.len();
    }
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    let mut out = Out { dir, bytes: 0 };
    sessions(&mut out);
    packets(&mut out);
    parsers(&mut out);
    keys(&mut out);
    dsa(&mut out);
    certificates(&mut out);
    kex(&mut out);
    channels(&mut out);
    macs(&mut out);
    zlib(&mut out);
    println!("wrote {} bytes of seeds under {}", out.bytes, out.dir.display());
}

// ---- client messages ------------------------------------------------------------------------------

fn message(msg_type: u8, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::message(msg_type);
    fields(&mut w);
    w.into_vec()
}

fn service() -> Vec<u8> {
    message(msg::SERVICE_REQUEST, |w| {
        w.string(b"ssh-userauth");
    })
}

fn auth(method: &str, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    message(msg::USERAUTH_REQUEST, |w| {
        w.string(USER.as_bytes()).string(b"ssh-connection").string(method.as_bytes());
        fields(w);
    })
}

fn password(pw: &str) -> Vec<u8> {
    auth("password", |w| {
        w.bool(false).string(pw.as_bytes());
    })
}

fn user_key() -> HostKey {
    HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&USER_SEED))
}

/// A publickey request, signed over `session_id` when there is one.
fn publickey(session_id: Option<&[u8]>) -> Vec<u8> {
    let blob = user_key().public().blob();
    auth("publickey", |w| {
        w.bool(session_id.is_some()).string(b"ssh-ed25519").string(&blob);
        if let Some(id) = session_id {
            w.string(
                &user_key()
                    .sign(
                        SigAlg::Ed25519,
                        &signed_data(id, USER, "ssh-connection", "ssh-ed25519", &blob),
                        &mut wasshd_core::crypto::rng::EntropyPool::new(b"test"),
                    )
                    .unwrap(),
            );
        }
    })
}

fn keyboard_interactive() -> Vec<u8> {
    auth("keyboard-interactive", |w| {
        w.string(b"").string(b"");
    })
}

fn info_response(answers: &[&str]) -> Vec<u8> {
    message(msg::USERAUTH_INFO_RESPONSE, |w| {
        w.u32(answers.len() as u32);
        for a in answers {
            w.string(a.as_bytes());
        }
    })
}

fn open(kind: &str, sender: u32, window: u32, extra: &[u8]) -> Vec<u8> {
    message(msg::CHANNEL_OPEN, |w| {
        w.string(kind.as_bytes()).u32(sender).u32(window).u32(32 * 1024).raw(extra);
    })
}

/// A channel request on the server's channel 0, the first one it opens.
fn request(name: &str, want_reply: bool, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    message(msg::CHANNEL_REQUEST, |w| {
        w.u32(0).string(name.as_bytes()).bool(want_reply);
        fields(w);
    })
}

fn exec(command: &str) -> Vec<u8> {
    request("exec", true, |w| {
        w.string(command.as_bytes());
    })
}

fn pty() -> Vec<u8> {
    request("pty-req", true, |w| {
        w.string(b"xterm-256color").u32(80).u32(24).u32(640).u32(480).string(&[1, 0, 0, 0, 3, 53, 0, 0, 0, 1, 0]);
    })
}

fn data(bytes: &[u8]) -> Vec<u8> {
    message(msg::CHANNEL_DATA, |w| {
        w.u32(0).string(bytes);
    })
}

fn channel_only(msg_type: u8) -> Vec<u8> {
    message(msg_type, |w| {
        w.u32(0);
    })
}

fn global(name: &str, want_reply: bool, fields: impl FnOnce(&mut Writer)) -> Vec<u8> {
    message(msg::GLOBAL_REQUEST, |w| {
        w.string(name.as_bytes()).bool(want_reply);
        fields(w);
    })
}

fn login() -> Vec<Item> {
    vec![Send(service()), Send(password(PASSWORD))]
}

/// Login, a session channel running `cat`, data through it, EOF and close.
fn exec_session() -> Vec<Item> {
    let mut items = login();
    items.extend([
        Send(open("session", 0, 1 << 20, &[])),
        Send(exec("cat")),
        Send(data(b"hello\n")),
        Send(channel_only(msg::CHANNEL_EOF)),
        Send(channel_only(msg::CHANNEL_CLOSE)),
    ]);
    items
}

// ---- sessions: handshake, handshake_raw, conn_raw ------------------------------------------------

fn encode(flags: u8, items: &[Item]) -> Vec<u8> {
    let mut v = vec![flags];
    for item in items {
        match item {
            Send(p) => {
                v.extend_from_slice(&(p.len() as u16).to_be_bytes());
                v.extend_from_slice(p);
            }
            Op(op) => {
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(op);
            }
        }
    }
    v
}

/// Runs the session live and returns the client's raw byte stream, after checking that it replays to a
/// fresh server with the same events.
fn raw_stream(input: &[u8]) -> Vec<u8> {
    let mut input = Input::new(input);
    let mut live = Session::recording(input.u8());
    live.run(&mut input);
    assert!(live.client.error.is_none(), "seed session failed: {:?}", live.client.error);
    let stream = live.record.take().unwrap_or_default();
    let mut replay = Host::new(server(StrictKex::Enabled));
    replay.transcript = Some(Vec::new());
    replay.echo = false;
    replay.input(&stream);
    let (replayed, lived) = (replay.transcript.unwrap_or_default(), live.host.transcript.take().unwrap_or_default());
    assert_eq!(received(&replayed), received(&lived), "the raw stream does not replay");
    stream
}

/// A transcript without the packets the server sent: what it read and made of the input, in order. The packets
/// it sends may differ: a replay gets the whole stream at once, so the server answers what the host decides per
/// channel later in the input than it did live, or answers what the live session ended before it answered.
fn received(transcript: &[String]) -> Vec<&String> {
    transcript.iter().filter(|e| !e.contains("packet out:")).collect()
}

fn session_seed(out: &mut Out, name: &str, flags: u8, items: &[Item], raw: bool) {
    let input = encode(flags, items);
    out.write("handshake", name, &input);
    if raw {
        let stream = raw_stream(&input);
        out.write("handshake_raw", name, &stream);
        let mut whole = vec![0];
        whole.extend_from_slice(&stream);
        out.write("conn_raw", name, &whole);
        // Reads cut inside the version line, a packet header and a packet body.
        let mut cut = vec![3, 0, 5, 0, 30, 0, 37];
        cut.extend_from_slice(&stream);
        out.write("conn_raw", &format!("{name}-cut"), &cut);
    }
}

fn sessions(out: &mut Out) {
    for (i, (cipher, mac)) in handshake_suites().enumerate() {
        let name = format!("exec-{}-{}", cipher.name(), mac.map_or("aead", |m| m.name()));
        session_seed(out, &name.replace('@', "-"), ENABLED | i as u8, &exec_session(), true);
    }

    // Suite number 15: compressed once the user has authenticated.
    let mut compressed = exec_session();
    compressed.insert(compressed.len() - 2, Send(data(&b"compress me ".repeat(2000))));
    session_seed(out, "exec-zlib-openssh", ENABLED | 15, &compressed, true);

    let session_id = Session::new(ENABLED).client.session_id.clone().expect("a session id");
    let publickey_shell = [
        Send(service()),
        Send(publickey(None)),
        Send(publickey(Some(&session_id))),
        Send(open("session", 0, 1 << 20, &[])),
        Send(pty()),
        Send(request("env", true, |w| {
            w.string(b"LANG").string(b"C.UTF-8");
        })),
        Send(request("shell", true, |_| {})),
        Send(request("window-change", false, |w| {
            w.u32(132).u32(43).u32(0).u32(0);
        })),
        Send(data(b"echo hi\r")),
        Send(message(msg::CHANNEL_EXTENDED_DATA, |w| {
            w.u32(0).u32(1).string(b"err");
        })),
        Send(request("signal", false, |w| {
            w.string(b"INT");
        })),
        Send(channel_only(msg::CHANNEL_EOF)),
        Send(channel_only(msg::CHANNEL_CLOSE)),
    ];
    session_seed(out, "publickey-pty-shell", ENABLED, &publickey_shell, true);

    let ctr_id = Session::new(ENABLED | CTR_HMAC).client.session_id.clone().expect("a session id");
    let keyboard = [
        Send(service()),
        Send(keyboard_interactive()),
        Send(info_response(&["wrong"])),
        Send(keyboard_interactive()),
        Send(info_response(&[PASSWORD])),
        Send(publickey(Some(&ctr_id))), // ignored after success
        Send(open("session", 0, 1 << 20, &[])),
        Send(request("subsystem", true, |w| {
            w.string(b"sftp");
        })),
        Send(data(&[0, 0, 0, 5, 1, 0, 0, 0, 3])),
        Send(message(msg::CHANNEL_WINDOW_ADJUST, |w| {
            w.u32(0).u32(4096);
        })),
        Send(channel_only(msg::CHANNEL_CLOSE)),
    ];
    session_seed(out, "keyboard-interactive-subsystem", ENABLED | CTR_HMAC, &keyboard, true);

    let mut mixed = vec![
        Send(message(msg::IGNORE, |w| {
            w.string(b"padding");
        })),
        Send(service()),
        Send(auth("none", |_| {})),
        Send(password("wrong")),
        Send(password(PARTIAL_PASSWORD)),
        Send(auth("hostbased", |w| {
            w.string(b"ssh-ed25519").string(b"").string(b"host").string(b"user").string(b"");
        })),
        Send(message(msg::DEBUG, |w| {
            w.bool(true).string(b"debug message").string(b"");
        })),
        Send(password(PASSWORD)),
        Send(global("tcpip-forward", true, |w| {
            w.string(b"127.0.0.1").u32(8080);
        })),
        Send(global("keepalive@openssh.com", true, |_| {})),
        Send(open("direct-tcpip", 0, 1 << 16, &{
            let mut w = Writer::new();
            w.string(b"example.org").u32(80).string(b"127.0.0.1").u32(4242);
            w.into_vec()
        })),
        Send(request("x11-req", true, |w| {
            w.bool(false).string(b"MIT-MAGIC-COOKIE-1").string(b"00").u32(0);
        })),
        Send(request("keepalive@openssh.com", true, |_| {})),
        Send(channel_only(msg::CHANNEL_SUCCESS)),
        Send(message(msg::UNIMPLEMENTED, |w| {
            w.u32(3);
        })),
        Send(vec![150, 1, 2, 3]),
        Send(global("no-more-sessions@openssh.com", false, |_| {})),
        Send(open("session", 1, 1 << 16, &[])),
        Send(channel_only(msg::CHANNEL_CLOSE)),
    ];
    session_seed(out, "auth-failures-and-global-requests", ENABLED, &mixed, true);
    mixed.push(Send(message(msg::DISCONNECT, |w| {
        w.u32(11).string(b"bye").string(b"");
    })));
    session_seed(out, "client-disconnect", ENABLED | CTR_HMAC, &mixed, true);

    let mut rekeys = exec_session();
    rekeys.truncate(5);
    rekeys.extend([Op(vec![0]), Send(data(&[b'a'; 1000])), Op(vec![0]), Send(data(&[b'b'; 1500])), Send(channel_only(msg::CHANNEL_EOF))]);
    // Not as raw bytes: the server's key for the re-exchange comes from its random stream, which its answers to
    // the host's decisions (their padding) advance at other points when the stream is replayed.
    session_seed(out, "client-rekeys-mid-channel", ENABLED | CTR_HMAC, &rekeys, false);
    for (name, flags) in [("no-strict-no-ext-info", 0xc0 | ENABLED | 1), ("strict-kex-disabled", 12), ("strict-kex-required", 0x30 | 7)] {
        session_seed(out, name, flags, &exec_session(), flags & 0x30 == ENABLED);
    }

    // Host-side calls and timing, which only the payload form can express.
    let mut host = login();
    host.extend([
        Send(open("session", 0, 1000, &[])),
        Send(exec("cat")),
        Op(vec![5, 0, 0, 0, 0x10, 0]), // host sends 4 KiB into a 1000-byte window
        Send(message(msg::CHANNEL_WINDOW_ADJUST, |w| {
            w.u32(0).u32(8192);
        })),
        Op(vec![5, 0, 0, 1, 0x08, 0]), // stderr
        Op(vec![2, 0, 110]),           // 11 s: a keepalive goes out
        Send(vec![msg::REQUEST_FAILURE]),
        Op(vec![4, 7]),            // reads of 7 bytes
        Send(data(&[b'x'; 6000])), // three of these pass the 16 KiB rekey threshold
        Send(data(&[b'y'; 6000])),
        Send(data(&[b'z'; 6000])),
        Op(vec![10]), // batch
        Send(data(b"one")),
        Send(data(b"two")),
        Op(vec![10]),
        Op(vec![6]), // defer decisions
        Send(request("env", true, |w| {
            w.string(b"A").string(b"b");
        })),
        Op(vec![2, 0, 10]),
        Op(vec![7]),
        Op(vec![6]),
        Op(vec![1]),                   // host rekey
        Op(vec![5, 0, 2, 0, 0, 0, 7]), // exit status
        Op(vec![5, 0, 3, 1]),          // exit signal
        Op(vec![5, 0, 4]),             // close
        Send(channel_only(msg::CHANNEL_CLOSE)),
        Op(vec![2, 0x04, 0xb0]), // two minutes idle
        Op(vec![8, 11]),
    ]);
    session_seed(out, "host-calls-and-timers", ENABLED, &host, false);

    let mut overrun = login();
    overrun.extend([Send(open("session", 0, 1 << 20, &[])), Send(exec("cat")), Op(vec![10])]);
    overrun.extend((0..3).map(|_| Send(data(&[b'z'; 6000]))));
    session_seed(out, "window-overrun", ENABLED, &overrun, false);

    let unauthenticated = [Send(open("session", 0, 1 << 20, &[])), Op(vec![2, 0x04, 0xc0])];
    session_seed(out, "before-authentication", ENABLED, &unauthenticated, false);
    session_seed(out, "raw-garbage-after-kex", ENABLED, &[Op(vec![3, 0, 8, 0, 0, 0, 4, 0, 1, 2, 3])], false);
    session_seed(out, "lost", ENABLED, &[Send(service()), Op(vec![9])], false);
}

// ---- packet ---------------------------------------------------------------------------------------

fn packets(out: &mut Out) {
    let payloads: Vec<Vec<u8>> = vec![vec![msg::IGNORE, 0, 0, 0, 0], service(), password(PASSWORD), data(&[7; 600]), vec![msg::NEWKEYS]];
    let items: Vec<u8> = payloads.iter().flat_map(|p| [&(p.len() as u16).to_be_bytes()[..], p].concat()).collect();
    let material: Vec<u8> = (0..KeyMaterial::LEN).map(|i| (i * 7 + 3) as u8).collect();
    for index in 0..=suites().count() as u8 {
        let protected = index > 0;
        let key_bytes = if protected { &material[..] } else { &[] };
        let name = if protected {
            let (cipher, mac) = suite(index - 1);
            format!("{}-{}", cipher.name(), mac.map_or("aead", |m| m.name())).replace('@', "-")
        } else {
            "clear".into()
        };
        out.write("packet", &format!("{name}-round-trip"), &[&[0x10 | index, 0][..], key_bytes, &items].concat());
        out.write("packet", &format!("{name}-byte-reads"), &[&[0x10 | index, 1][..], key_bytes, &items].concat());
        out.write("packet", &format!("{name}-tampered"), &[&[0x20 | index, 0][..], key_bytes, &[1, 0, 40, 0x80], &items].concat());
        // Sealed packets to open, so the raw mode starts from a valid stream under these keys.
        let mut sealer = Sealer::new();
        if protected {
            let (cipher, mac) = suite(index - 1);
            let keys = KeyMaterial::read(&mut Input::new(&material));
            sealer.rekey(&keys.keys(cipher, mac)).expect("keys");
        }
        let mut wire = Vec::new();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for p in &payloads {
            sealer.seal(p, &mut rng, &mut wire).expect("seal");
        }
        out.write("packet", &format!("{name}-sealed"), &[&[index, 0][..], key_bytes, &wire].concat());
    }
    out.write("packet", "odd-key-lengths", &[&[0x34, 0][..], &material, &[0, 15, 12, 32], &[0; 64]].concat());
}

// ---- parsers --------------------------------------------------------------------------------------

fn parsers(out: &mut Out) {
    let mut seed = |name: &str, selector: u8, body: &[u8]| out.write("parsers", name, &[&[selector][..], body].concat());
    let kexinit = message(msg::KEXINIT, |w| {
        w.raw(&[9; 16]);
        for list in [
            "curve25519-sha256,curve25519-sha256@libssh.org,ext-info-c,kex-strict-c-v00@openssh.com",
            "ssh-ed25519",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "aes256-gcm@openssh.com,aes128-ctr",
            "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
            "hmac-sha2-512",
            "none,zlib@openssh.com",
            "none",
            "",
            "",
        ] {
            w.string(list.as_bytes());
        }
        w.bool(true).u32(0);
    });
    seed("kexinit", 0, &kexinit);
    seed("ident", 1, b"a banner line\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    seed("ident-1.99", 1, b"SSH-1.99-old_client\n");
    seed("userauth-password", 2, &password(PASSWORD));
    seed(
        "userauth-password-change",
        2,
        &auth("password", |w| {
            w.bool(true).string(b"old").string(b"new");
        }),
    );
    seed("userauth-publickey", 2, &publickey(Some(&[1; 32])));
    seed("userauth-keyboard-interactive", 2, &keyboard_interactive());
    seed("info-response", 3, &[&[2][..], &info_response(&["a", "b"])].concat());
    seed("channel-pty-req", 4, &pty());
    seed(
        "channel-env",
        4,
        &request("env", false, |w| {
            w.string(b"LANG").string(b"C");
        }),
    );
    seed("channel-exec", 4, &exec("ls"));
    seed(
        "channel-window-change",
        4,
        &request("window-change", false, |w| {
            w.u32(1).u32(2).u32(3).u32(4);
        }),
    );
    seed(
        "channel-signal",
        4,
        &request("signal", false, |w| {
            w.string(b"HUP");
        }),
    );
    seed(
        "channel-subsystem",
        4,
        &request("subsystem", true, |w| {
            w.string(b"sftp");
        }),
    );
    seed("channel-other", 4, &request("auth-agent-req@openssh.com", false, |_| {}));
    seed("channel-open-session", 5, &open("session", 3, 1 << 21, &[]));
    seed("reader", 6, &[&[0, 1, 2, 4, 5, 6, 0x17, 8, 3, 9][..], &[1, 1, 0, 0, 0, 9, 0, 0, 0, 1, b'a'], &[0, 0, 0, 2, b'h', b'i']].concat());
    seed("mpint", 7, &[0, 0, 0x80, 1, 2]);
    let mut ecdh = Writer::message(msg::KEX_ECDH_INIT);
    ecdh.string(x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([5; 32])).as_bytes());
    seed("kex-ecdh-init", 8, ecdh.as_slice());
    for setting in [
        "SSHKeyExchangeAlgorithms=curve25519-sha256",
        "SSHPublicKeyAlgorithms=ssh-ed25519",
        "SSHEncryptionAlgorithms=aes256-ctr, aes128-gcm@openssh.com",
        "SSHMacAlgorithms=hmac-sha2-512",
        "SSHCompressionAlgorithms=none",
        "SSHPubKeyAuthSigAlgorithms=ssh-ed25519",
        "ServerSSHVersionString=SSH-2.0-fuzz",
        "UseStrictKeyExchange=2",
        "KeyRenegotiationThreshold=1048576",
        "MaxAuthAttempts=0",
        "DefaultAuthMethods=password, publickey",
        "UserAuthBanner=welcome",
        "LoginGraceTime=30",
        "DefaultTimeout=30",
        "DefaultIdleTimeout=600",
        "SSHKeepAliveInterval=15",
        "SSHKeepAliveCountMax=2",
        "ChannelWindowSize=1048576",
        "MaxChannels=4",
        "LogLevel=9",
        "MaskSensitiveData=no",
    ] {
        let name = setting.split('=').next().unwrap_or_default().to_ascii_lowercase();
        seed(&format!("setting-{name}"), 9, setting.as_bytes());
    }
}

// ---- keys and channels ----------------------------------------------------------------------------

fn keys(out: &mut Out) {
    let key = user_key();
    let text = key.to_openssh("seed key", 0x1234_5678);
    out.write("keys", "private-key-text", &[&[0][..], text.as_bytes()].concat());
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let binary = Base64::decode_vec(&body).expect("our own base64");
    out.write("keys", "private-key-binary", &[&[1][..], &binary as &[u8]].concat());
    out.write("keys", "public-blob", &[&[2][..], &key.public().blob()[..]].concat());
    let signer = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    let signed = b"exchange hash";
    let signature = signer.sign(SigAlg::Ed25519, signed, &mut wasshd_core::crypto::rng::EntropyPool::new(b"test")).unwrap();
    out.write("keys", "signature", &[&[3, 0, signed.len() as u8][..], signed, &signature].concat());
}

/// The DSA fixture key (test/fixtures/keys/dsa) in the `dsa` target's three forms: its public fields, a signature
/// it made, its private fields.
fn dsa(out: &mut Out) {
    let key = HostKey::from_file(include_str!("../../../test/fixtures/keys/dsa"), None).expect("the fixture reads");
    let fields = |wire: &[u8]| {
        let mut r = Reader::new(wire);
        r.string().expect("the key's name");
        r.rest().to_vec()
    };
    out.write("dsa", "public", &[&[0][..], &fields(&key.public().blob())].concat());
    let signed = b"exchange hash";
    let signature = key.sign(SigAlg::Dsa, signed, &mut wasshd_core::crypto::rng::EntropyPool::new(b"test")).expect("signs");
    let mut r = Reader::new(&signature);
    r.string().expect("the signature's name");
    out.write("dsa", "signature", &[&[1, 0, signed.len() as u8][..], signed, r.string().expect("r || s")].concat());
    out.write("dsa", "private", &[&[2][..], &fields(key.to_wire().as_slice())].concat());
}

/// A user certificate for the DSA fixture key and a host certificate for the user key, both signed by an ed25519
/// CA, laid out as `ssh-keygen -s` writes them.
fn certificates(out: &mut Out) {
    let ca = HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]));
    let dsa = HostKey::from_file(include_str!("../../../test/fixtures/keys/dsa"), None).expect("the fixture reads");
    for (name, key, cert_type, principal) in [("user-dsa", dsa.public(), 1u32, "alice"), ("host-ed25519", user_key().public(), 2, "host")] {
        let blob = key.blob();
        let mut r = Reader::new(&blob);
        let key_type = r.utf8().expect("the key's name");
        let mut w = Writer::new();
        w.string(format!("{key_type}-cert-v01@openssh.com").as_bytes()).string(&[7; 32]).raw(r.rest());
        let mut principals = Writer::new();
        principals.string(principal.as_bytes());
        let mut permit = Writer::new();
        permit.string(b"permit-pty").string(b"");
        w.u64(1).u32(cert_type).string(b"seed").string(principals.as_slice()).u64(0).u64(u64::MAX);
        w.string(b"").string(permit.as_slice()).string(b"").string(&ca.public().blob());
        let signature = ca.sign(SigAlg::Ed25519, w.as_slice(), &mut wasshd_core::crypto::rng::EntropyPool::new(b"test")).expect("signs");
        w.string(&signature);
        let which = if cert_type == 1 { 0 } else { 1 };
        out.write("cert", name, &[&[which][..], w.as_slice()].concat());
    }
}

/// For each method, the client's first key exchange message with a public value of the right shape: ECDH points
/// of real keys, an x25519 key after zeros for the post-quantum encapsulation keys, e = 2 for the DH groups, and
/// group exchange's request then init.
fn kex(out: &mut Out) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let x25519 = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([5; 32])).to_bytes();
    let ecdh = |bits: u32, rng: &mut ChaCha20Rng| {
        let blob = HostKey::generate(rng, "ecdsa", bits).expect("an ECDSA key").public().blob();
        let mut r = Reader::new(&blob);
        r.string().and_then(|_| r.string()).and_then(|_| r.string()).expect("the point").to_vec()
    };
    let chunk = |payload: Vec<u8>| [&(payload.len() as u16).to_be_bytes()[..], &payload].concat();
    let init = |value: &[u8]| chunk(message(msg::KEX_ECDH_INIT, |w| {
        w.string(value);
    }));
    let dh_init = |number: u8| chunk(message(number, |w| {
        w.mpint(&[2]);
    }));
    for (i, kex) in KexAlg::ALL.iter().enumerate() {
        let name = kex.name();
        let messages = match name {
            "mlkem768x25519-sha256" => init(&[&[0u8; 1184][..], &x25519].concat()),
            n if n.starts_with("sntrup761x25519") => init(&[&[0u8; 1158][..], &x25519].concat()),
            n if n.starts_with("curve25519") => init(&x25519),
            "ecdh-sha2-nistp256" => init(&ecdh(256, &mut rng)),
            "ecdh-sha2-nistp384" => init(&ecdh(384, &mut rng)),
            "ecdh-sha2-nistp521" => init(&ecdh(521, &mut rng)),
            n if n.contains("group-exchange") => {
                let request = chunk(message(msg::KEX_DH_GEX_REQUEST, |w| {
                    w.u32(2048).u32(3072).u32(8192);
                }));
                [request, dh_init(msg::KEX_DH_GEX_INIT)].concat()
            }
            _ => dh_init(msg::KEX_ECDH_INIT),
        };
        out.write("kex", name, &[&[i as u8][..], &messages].concat());
    }
}

fn channels(out: &mut Out) {
    let header = [&0x1000u32.to_be_bytes()[..], &300u32.to_be_bytes(), &0x8000u32.to_be_bytes(), &0x4000u32.to_be_bytes()].concat();
    let op = |op: u8, arg: u32| [&[op][..], &arg.to_be_bytes()].concat();
    let ops =
        [op(0, 0x4000), op(1, 0x4000), op(0, 0x3000), op(1, 0x1000), op(3, 5000), op(2, 0x2000), op(7, 100), op(2, u32::MAX)].concat();
    out.write("channel", "windows-both-ways", &[&header[..], &ops].concat());
}

/// Keys around the block sizes (64 and 128 bytes; longer keys are hashed first) and messages that put the
/// padding of the last block at its edge (the MAC covers a 4-byte sequence number first), for each MAC.
fn macs(out: &mut Out) {
    let cases = [(0u8, 0usize), (32, 51), (64, 52), (65, 60), (128, 107), (129, 108), (200, 124)];
    for (i, (key_len, message_len)) in cases.into_iter().enumerate() {
        let alg = (i % 4) as u8;
        let key: Vec<u8> = (0..key_len).collect();
        let message = vec![0x61; message_len];
        let seed = [&[alg, key_len][..], &key, &7u32.to_be_bytes(), &[0, 9], &message].concat();
        out.write("mac", &format!("key-{key_len}-message-{message_len}"), &seed);
    }
}

/// `zlib`: typical payloads as a round trip, the same deflated as one inflate stream, and a bomb.
fn zlib(out: &mut Out) {
    let payloads = [service(), password(PASSWORD), open("session", 0, 1 << 21, &[]), exec("cat"), vec![b'a'; 40_000]];
    let chunked = |items: &[Vec<u8>]| -> Vec<u8> { items.iter().flat_map(|p| [&(p.len() as u16).to_be_bytes()[..], p].concat()).collect() };
    out.write("zlib", "round-trip", &[&[1u8][..], &chunked(&payloads)].concat());
    let mut deflater = Deflater::fresh();
    let packed: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            deflater.compress(p, &mut v).expect("deflate");
            v
        })
        .collect();
    out.write("zlib", "stream", &[&[0u8, 0, 0][..], &chunked(&packed)].concat());
    let mut bomb = Vec::new();
    Deflater::fresh().compress(&vec![0u8; 4 << 20], &mut bomb).expect("deflate");
    out.write("zlib", "bomb", &[&[0u8, 0x40, 0][..], &chunked(&[bomb])].concat());
}
