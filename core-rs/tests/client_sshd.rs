//! The client role against Debian's OpenSSH `sshd`, over TCP: each test starts its own sshd on a free
//! loopback port with a config file, a host key from `ssh-keygen` and an authorized key of its own, all in a
//! temporary directory (never the system service). If sshd cannot be started the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::client_host::ClientHost;
use sha2::{Digest, Sha256};
use wasshd_core::config::Config;
use wasshd_core::connection::{ChannelRequest, PtyRequest};
use wasshd_core::keys::HostKey;
use wasshd_core::transport::negotiate::KexAlg;
use wasshd_core::{Client, ClientEvent};

const SSHD: &str = "/usr/sbin/sshd";
const MIB16: usize = 16 * 1024 * 1024;
/// However slow the machine, no wait takes this long unless something is broken.
const WAIT: Duration = Duration::from_secs(120);

fn user_key() -> HostKey {
    HostKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]))
}

/// An sshd of the test's own, stopped and its directory removed on drop.
struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Sshd {
    /// `extra`: further sshd_config lines.
    fn start(extra: &[&str]) -> Sshd {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wasshd-client-sshd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let host_key = dir.join("host_ed25519");
        let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "test host", "-f"]).arg(&host_key).status();
        assert!(keygen.expect("ssh-keygen runs").success(), "ssh-keygen failed");
        let authorized = dir.join("authorized_keys");
        std::fs::write(&authorized, format!("{} test user\n", user_key().public().to_openssh_line())).unwrap();
        // As root sshd separates privileges and wants the directory Debian's service unit would make.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let mut config = vec![
            format!("Port {port}"),
            "ListenAddress 127.0.0.1".into(),
            format!("HostKey {}", host_key.display()),
            "PidFile none".into(),
            "UsePAM no".into(),
            "StrictModes no".into(),
            format!("AuthorizedKeysFile {}", authorized.display()),
            format!("AllowUsers {}", user.trim()),
            "PermitRootLogin prohibit-password".into(),
            "AuthenticationMethods publickey".into(),
            "PrintMotd no".into(),
            "PrintLastLog no".into(),
            "UseDNS no".into(),
            "LogLevel ERROR".into(),
        ];
        config.extend(extra.iter().map(|l| l.to_string()));
        let config_file = dir.join("sshd_config");
        std::fs::write(&config_file, config.join("\n") + "\n").unwrap();
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config_file)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
                panic!("sshd exited ({status}) before listening:\n{stderr}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "sshd did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd { child, dir, port }
    }

    /// `ssh-keygen -lf` of the host key: its `SHA256:` fingerprint.
    fn host_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.dir.join("host_ed25519.pub")).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_string()
    }

    fn connect(&self) -> Wire {
        self.connect_with(Config::default())
    }

    fn connect_with(&self, config: Config) -> Wire {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        stream.set_nodelay(true).unwrap();
        let start = Instant::now();
        Wire { stream, client: Client::new(config, b"seed of the client in the sshd tests", 0), start, events: VecDeque::new(), kex: None }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client on a TCP connection, as a host would drive it.
struct Wire {
    stream: TcpStream,
    client: Client,
    start: Instant,
    events: VecDeque<ClientEvent>,
    /// The method of the last key exchange.
    kex: Option<String>,
}

impl Wire {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Writes the output, reads what has arrived (waiting a little), and handles the timer.
    fn turn(&mut self) {
        let out = self.client.take_output();
        if !out.is_empty() {
            self.stream.write_all(&out).unwrap();
        }
        let mut buf = vec![0; 256 * 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => self.client.connection_lost(),
            Ok(n) => self.client.input(&buf[..n], self.now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
        if self.client.next_deadline().is_some_and(|d| d <= self.now()) {
            self.client.handle_timeout(self.now());
        }
        while let Some(event) = self.client.poll_event() {
            if let ClientEvent::KeysExchanged(summary) = &event {
                self.kex = Some(summary.kex.to_string());
            }
            if !matches!(event, ClientEvent::Log { .. }) {
                self.events.push_back(event);
            }
        }
    }

    /// Handshake, host key accepted, ed25519 login; returns the fingerprint the client showed.
    fn login(&mut self) -> String {
        assert!(matches!(self.event(), ClientEvent::ServerVersion { version } if version.starts_with("SSH-2.0-OpenSSH")));
        let ClientEvent::HostKey { algorithm, fingerprint, .. } = self.event() else { panic!("expected HostKey") };
        assert_eq!(algorithm, "ssh-ed25519");
        self.client.accept_host_key(true).unwrap();
        self.client.auth_publickey(&whoami(), user_key()).unwrap();
        assert_eq!(self.significant(), ClientEvent::Authenticated);
        fingerprint
    }

    fn exec(&mut self, command: &str) -> u32 {
        let channel = self.open_session();
        self.request(channel, ChannelRequest::Exec { command: command.as_bytes().to_vec() });
        channel
    }

    /// Sends `up` (then EOF) while taking in the channel's data, until the server closes the channel. Returns
    /// the data, the exit status and how many re-exchanges happened; the client starts one a third of the way.
    fn run(&mut self, channel: u32, up: &[u8], expected_down: usize) -> (Vec<u8>, Option<u32>, u32) {
        let (mut sent, mut down, mut status, mut rekeys) = (0, Vec::new(), None, 0);
        let mut rekey_started = up.len() + expected_down < 3;
        let deadline = Instant::now() + WAIT;
        if up.is_empty() {
            self.client.send_eof(channel).unwrap();
        }
        loop {
            assert!(Instant::now() < deadline, "transfer stalled: {sent} bytes up, {} down", down.len());
            if !rekey_started && (sent + down.len()) * 3 > up.len() + expected_down {
                self.client.rekey().unwrap();
                rekey_started = true;
            }
            if sent < up.len() {
                sent += self.client.send_data(channel, 0, &up[sent..], self.now()).unwrap();
                if sent == up.len() {
                    self.client.send_eof(channel).unwrap();
                }
            }
            self.turn();
            while let Some(event) = self.events.pop_front() {
                match event {
                    ClientEvent::ChannelData { stream: 0, data, .. } => {
                        self.client.consume_channel_data(channel, data.len() as u32);
                        down.extend_from_slice(&data);
                    }
                    ClientEvent::ChannelData { stream: 1, data, .. } => panic!("stderr: {}", String::from_utf8_lossy(&data)),
                    ClientEvent::ExitStatus { status: s, .. } => status = Some(s),
                    ClientEvent::KeysExchanged(_) => rekeys += 1,
                    ClientEvent::ChannelClosed { .. } => return (down, status, rekeys),
                    ClientEvent::ChannelEof { .. } | ClientEvent::ChannelReadyToSend { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
        }
    }
}

impl ClientHost for Wire {
    fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn event(&mut self) -> ClientEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event from the client");
            self.turn();
        }
    }
}

fn whoami() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(n as u64);
    let mut v = vec![0; n];
    rand_core::RngCore::fill_bytes(&mut rng, &mut v);
    v
}

#[test]
fn the_host_key_fingerprint_is_ssh_keygens_and_an_ed25519_login_runs_echo() {
    let sshd = Sshd::start(&[]);
    let mut wire = sshd.connect();
    let fingerprint = wire.login();
    assert_eq!(fingerprint, sshd.host_fingerprint());
    let channel = wire.exec("echo hello");
    let (down, status, _) = wire.run(channel, &[], 6);
    assert_eq!((down.as_slice(), status), (&b"hello\n"[..], Some(0)));
}

/// Each method of ours that Debian's OpenSSH has (all but mlkem768x25519-sha256, which came in 9.9), one
/// connection each, with an echo over the keys.
#[test]
fn every_key_exchange_method_sshd_has_runs_echo() {
    let listed = Command::new("ssh").args(["-Q", "kex"]).output().unwrap().stdout;
    let listed = String::from_utf8(listed).unwrap();
    let methods: Vec<&str> = KexAlg::ALL.iter().map(|a| a.name()).filter(|name| listed.lines().any(|l| l == *name)).collect();
    assert_eq!(methods.len(), KexAlg::ALL.len() - 1, "sshd has {methods:?}");
    let sshd = Sshd::start(&[&format!("KexAlgorithms {}", methods.join(","))]);
    for name in methods {
        let mut config = Config::default();
        config.set("SSHKeyExchangeAlgorithms", name).unwrap();
        let mut wire = sshd.connect_with(config);
        wire.login();
        assert_eq!(wire.kex.as_deref(), Some(name));
        let channel = wire.exec("echo hello");
        let (down, status, _) = wire.run(channel, &[], 6);
        assert_eq!((down.as_slice(), status), (&b"hello\n"[..], Some(0)), "{name}");
    }
}

#[test]
fn sixteen_mib_up_and_down_byte_exact_through_rekeys_by_both_sides() {
    // sshd re-exchanges after every 4 MiB; our client, at its default of 1 GiB, only when asked.
    let sshd = Sshd::start(&["RekeyLimit 4M"]);
    let mut wire = sshd.connect();
    wire.login();
    let file = sshd.dir.join("upload");
    let up = random_bytes(MIB16);
    let channel = wire.exec(&format!("cat > {}", file.display()));
    let (_, status, rekeys) = wire.run(channel, &up, 0);
    assert_eq!(status, Some(0));
    let written = std::fs::read(&file).unwrap();
    assert!(written.len() == MIB16 && Sha256::digest(&written) == Sha256::digest(&up), "upload: {} bytes arrived", written.len());
    assert!(rekeys >= 3, "ours and sshd's re-exchanges: {rekeys}");

    let source = sshd.dir.join("download");
    let expected = random_bytes(MIB16 + 1);
    std::fs::write(&source, &expected).unwrap();
    let channel = wire.exec(&format!("cat {}", source.display()));
    let (down, status, rekeys) = wire.run(channel, &[], expected.len());
    assert_eq!(status, Some(0));
    assert!(down.len() == expected.len() && Sha256::digest(&down) == Sha256::digest(&expected), "download: {} bytes", down.len());
    assert!(rekeys >= 3, "ours and sshd's re-exchanges: {rekeys}");
}

#[test]
fn a_pty_shell_shows_its_size_and_a_window_change_changes_it() {
    let sshd = Sshd::start(&[]);
    let mut wire = sshd.connect();
    wire.login();
    let channel = wire.open_session();
    let pty = PtyRequest { term: "xterm".into(), cols: 100, rows: 40, width_px: 0, height_px: 0, modes: vec![0] };
    wire.request(channel, ChannelRequest::Pty(pty));
    wire.request(channel, ChannelRequest::Shell);
    let mut screen = Vec::new();
    let mut read_until = |wire: &mut Wire, needle: &str| {
        let deadline = Instant::now() + WAIT;
        while !String::from_utf8_lossy(&screen).contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} on the terminal: {}", String::from_utf8_lossy(&screen));
            if let ClientEvent::ChannelData { data, .. } = wire.significant() {
                wire.client.consume_channel_data(channel, data.len() as u32);
                screen.extend_from_slice(&data);
            }
        }
        screen.clear();
    };
    // The terminal echoes the typed line (`stty size`), then the answer.
    wire.client.send_data(channel, 0, b"stty size\r", wire.now()).unwrap();
    read_until(&mut wire, "40 100\r\n");
    let change = ChannelRequest::WindowChange { cols: 120, rows: 50, width_px: 0, height_px: 0 };
    wire.client.channel_request(channel, &change).unwrap();
    wire.client.send_data(channel, 0, b"stty size\r", wire.now()).unwrap();
    read_until(&mut wire, "50 120\r\n");
    wire.client.send_data(channel, 0, b"exit 0\r", wire.now()).unwrap();
    let (_, status, _) = wire.run(channel, &[], 0);
    assert_eq!(status, Some(0));
}
