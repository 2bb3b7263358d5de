//! Server settings the protocol core enforces, and the `Name=Value` setting names of the reference
//! component that map onto them. Settings that only the host can act on (sockets, logging sinks) live in
//! the host.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::auth::Method;
use crate::crypto::provider::CryptoProvider;
use crate::crypto::rustcrypto::RUST_CRYPTO;
use crate::keys::{HostCertificate, KeyAlg};
use crate::transport::negotiate::{parse_list, CipherAlg, CompressionAlg, KexAlg, MacAlg, Preferences};
use crate::transport::packet::MAX_PACKET_LEN;

/// How strict key exchange (the Terrapin countermeasure) is used: the reference's `UseStrictKeyExchange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictKex {
    /// Not offered.
    Disabled = 0,
    /// Offered; a client without it may still connect.
    Enabled = 1,
    /// Offered; a client without it may connect only with ciphers and MACs Terrapin cannot affect.
    RejectAffected = 2,
    /// Required.
    Required = 3,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub algorithms: Preferences,
    /// Host certificates (OpenSSH's `HostCertificate`), one per host key type: each is offered under its
    /// `*-cert-v01@openssh.com` algorithms beside the plain key, while the server holds the key it certifies.
    pub host_certificates: Vec<HostCertificate>,
    /// Signature algorithms a client may authenticate with (`SSHPubKeyAuthSigAlgorithms`).
    pub user_key_algorithms: Vec<KeyAlg>,
    /// Sent to the client, without CR LF (`ServerSSHVersionString`).
    pub server_version: String,
    pub strict_kex: StrictKex,
    /// Bytes in either direction after which the server starts a new key exchange (`KeyRenegotiationThreshold`).
    pub rekey_bytes: u64,
    /// Milliseconds after an exchange at which the server starts a new one, whatever went through
    /// (`KeyRenegotiationInterval`, seconds; OpenSSH's `RekeyLimit` time); 0: only by bytes and packets.
    pub rekey_interval_ms: u64,
    /// Packets in either direction after which the server starts a new key exchange, whatever the byte
    /// count: 2^30, far below the 2^32 at which sequence numbers (and AES-GCM nonces) would repeat. Not a
    /// setting (the reference has none); tests lower it to reach the threshold quickly.
    pub rekey_packets: u32,
    /// Failed authentication attempts before the connection is closed (`MaxAuthAttempts`).
    pub max_auth_attempts: u32,
    /// Methods offered and listed in USERAUTH_FAILURE (`DefaultAuthMethods`).
    pub auth_methods: Vec<Method>,
    /// OpenSSH's `AuthenticationMethods`: lists of methods that must all pass, in order, for a login to
    /// succeed; passing every method of any one list is enough. `None` is OpenSSH's `any`: one method that
    /// the host accepts.
    pub auth_chains: Option<Vec<Vec<Method>>>,
    /// Rounds of keyboard-interactive prompts one attempt may take (`MaxKeyboardInteractiveRounds`).
    pub max_kbd_rounds: u32,
    /// Sent once before authentication completes (`UserAuthBanner`).
    pub banner: Option<String>,
    /// Time allowed from connect to successful authentication, in ms; 0 for none (`LoginGraceTime`).
    pub login_grace_ms: u64,
    /// Time without channel traffic after which the connection is closed, in ms; 0 for none (`DefaultIdleTimeout`).
    pub idle_timeout_ms: u64,
    /// Quiet time after which a keepalive request is sent, in ms; 0 for none (`SSHKeepAliveInterval`).
    pub keepalive_interval_ms: u64,
    /// Unanswered keepalives before the connection is considered dead (`SSHKeepAliveCountMax`).
    pub keepalive_count_max: u32,
    /// Receive window each channel advertises, in bytes (`ChannelWindowSize`).
    pub channel_window: u32,
    /// Largest data payload we accept per channel packet (`ChannelMaxPacket`), at most the window.
    pub channel_max_packet: u32,
    /// Channels a connection may have open at once.
    pub max_channels: u32,
    /// Most detailed [`Event::Log`](crate::event::Event::Log) level produced (`LogLevel`, 0 to 3).
    pub log_level: u8,
    /// Leaves passwords, keyboard-interactive answers and channel data out of level 3 packet dumps
    /// (`MaskSensitiveData`).
    pub mask_sensitive: bool,
    /// Where the packet ciphers and MACs of connections keyed from now on come from (`CryptoProvider`):
    /// `wasm`, the core's own, or `host`, the embedding's.
    pub crypto: &'static dyn CryptoProvider,
    /// The embedding's provider ([`Config::offer_crypto`]), or why there is none.
    pub host_crypto: Result<&'static dyn CryptoProvider, String>,
    /// The core's own provider, which `CryptoProvider=wasm` selects: [`RUST_CRYPTO`], or, where the core is
    /// built without its `legacy` feature, the embedding's wrapper of it that brings the legacy primitives
    /// from elsewhere ([`Config::complete_own_crypto`]).
    pub own_crypto: &'static dyn CryptoProvider,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            algorithms: Preferences::default(),
            host_certificates: Vec::new(),
            user_key_algorithms: KeyAlg::DEFAULT.to_vec(),
            server_version: alloc::format!("SSH-2.0-wasshd_{}", env!("CARGO_PKG_VERSION")),
            strict_kex: StrictKex::Enabled,
            rekey_bytes: 1 << 30,
            rekey_interval_ms: 0,
            rekey_packets: 1 << 30,
            max_auth_attempts: 6,
            auth_methods: Method::OFFERABLE.to_vec(),
            auth_chains: None,
            max_kbd_rounds: 8,
            banner: None,
            login_grace_ms: 120_000,
            idle_timeout_ms: 0,
            keepalive_interval_ms: 0,
            keepalive_count_max: 5,
            channel_window: 2 * 1024 * 1024,
            channel_max_packet: 32 * 1024,
            max_channels: 64,
            log_level: 1,
            mask_sensitive: true,
            crypto: &RUST_CRYPTO,
            host_crypto: Err("this host offers no crypto provider".into()),
            own_crypto: &RUST_CRYPTO,
        }
    }
}

/// Bounds of `ChannelMaxPacket`: below, clients would send data in slivers that each cost a packet; above,
/// a data packet with its header would not fit the packet limit.
const MIN_CHANNEL_MAX_PACKET: u32 = 512;
const MAX_CHANNEL_MAX_PACKET: u32 = MAX_PACKET_LEN - 1024;

fn number<T: core::str::FromStr>(value: &str) -> Result<T, String> {
    value.trim().parse().map_err(|_| alloc::format!("not a number: {value}"))
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(alloc::format!("not a boolean: {value}")),
    }
}

fn seconds_to_ms(value: &str) -> Result<u64, String> {
    number::<u64>(value)?.checked_mul(1000).ok_or_else(|| "too large".to_string())
}

/// A comma-separated list of method names.
fn parse_methods(value: &str) -> Result<Vec<Method>, String> {
    value
        .split(',')
        .map(str::trim)
        .map(|name| match Method::from_name(name) {
            Some(m) => Ok(m),
            None if name.is_empty() => Err("empty method name in the list".into()),
            None => Err(alloc::format!("unknown authentication method: {name}")),
        })
        .collect()
}

/// `AuthenticationMethods`: `any`, or space-separated lists of comma-separated methods.
fn parse_chains(value: &str) -> Result<Option<Vec<Vec<Method>>>, String> {
    let value = value.trim();
    if value == "any" {
        return Ok(None);
    }
    let chains: Vec<Vec<Method>> = value.split_ascii_whitespace().map(parse_methods).collect::<Result<_, _>>()?;
    if chains.is_empty() {
        return Err("expected any, or lists such as publickey,password publickey,keyboard-interactive".into());
    }
    Ok(Some(chains))
}

/// Every method a chain needs must be offered: a chain through a method the server never offers would
/// lock out everyone who relies on it, silently.
fn check_chains_offered(chains: Option<&[Vec<Method>]>, offered: &[Method]) -> Result<(), String> {
    let needed = chains.unwrap_or_default().iter().flatten();
    match needed.into_iter().find(|m| **m != Method::None && !offered.contains(m)) {
        Some(m) => Err(alloc::format!("AuthenticationMethods needs {}, which DefaultAuthMethods does not offer", m.name())),
        None => Ok(()),
    }
}

impl Config {
    /// Makes the embedding's provider (one that passed [`crate::crypto::kat::check`]) the default, and
    /// `CryptoProvider=host` select it.
    pub fn offer_crypto(&mut self, provider: &'static dyn CryptoProvider) {
        self.host_crypto = Ok(provider);
        self.crypto = provider;
    }

    /// Replaces the core's own provider with `provider`, which serves what [`RUST_CRYPTO`] does and brings the
    /// legacy primitives the core was built without (the wasm modules': `wasm/src/legacy_import.rs`).
    pub fn complete_own_crypto(&mut self, provider: &'static dyn CryptoProvider) {
        if self.crypto.name() == self.own_crypto.name() {
            self.crypto = provider;
        }
        self.own_crypto = provider;
    }

    /// `list`, unless it names an algorithm that needs the legacy primitives and this build cannot have them
    /// (where they are loaded on demand, naming one loads them).
    fn legacy_checked<T: Copy>(&self, list: Vec<T>, is_legacy: fn(T) -> bool, name: fn(T) -> &'static str) -> Result<Vec<T>, String> {
        match list.iter().copied().find(|a| is_legacy(*a)) {
            Some(a) if !self.own_crypto.legacy_available() => Err(alloc::format!(
                "{} needs the legacy algorithms' wasm module (wasm/pkg-legacy), which this runtime was not given or could not load",
                name(a)
            )),
            _ => Ok(list),
        }
    }

    /// Applies one setting by the reference's name. Returns `Ok(false)` for a name the core does not own,
    /// so the host can try its own settings.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        match name {
            "SSHKeyExchangeAlgorithms" => self.algorithms.kex = parse_list(value, KexAlg::from_name)?,
            "SSHPublicKeyAlgorithms" => self.algorithms.host_key = parse_list(value, KeyAlg::from_name)?,
            "SSHEncryptionAlgorithms" => {
                self.algorithms.cipher = self.legacy_checked(parse_list(value, CipherAlg::from_name)?, CipherAlg::is_legacy, CipherAlg::name)?
            }
            "SSHMacAlgorithms" => self.algorithms.mac = self.legacy_checked(parse_list(value, MacAlg::from_name)?, MacAlg::is_legacy, MacAlg::name)?,
            "SSHCompressionAlgorithms" => self.algorithms.compression = parse_list(value, CompressionAlg::from_name)?,
            "SSHPubKeyAuthSigAlgorithms" => self.user_key_algorithms = parse_list(value, KeyAlg::from_name)?,
            // Adds a certificate, replacing one for a key of the same type; empty clears them all.
            "HostCertificate" if value.trim().is_empty() => self.host_certificates.clear(),
            "HostCertificate" => {
                let cert = HostCertificate::from_openssh(value).map_err(|e| e.to_string())?;
                self.host_certificates.retain(|c| c.key.key_type() != cert.key.key_type());
                self.host_certificates.push(cert);
            }
            "ServerSSHVersionString" => {
                let v = value.trim();
                if !v.starts_with("SSH-2.0-") || v.len() > 253 || v.bytes().any(|b| b.is_ascii_control()) {
                    return Err("must start with SSH-2.0- and fit on one 255-byte line".into());
                }
                self.server_version = v.into();
            }
            "UseStrictKeyExchange" => {
                self.strict_kex = match number::<u8>(value)? {
                    0 => StrictKex::Disabled,
                    1 => StrictKex::Enabled,
                    2 => StrictKex::RejectAffected,
                    3 => StrictKex::Required,
                    _ => return Err("must be 0, 1, 2 or 3".into()),
                }
            }
            "KeyRenegotiationThreshold" => {
                let bytes: u64 = number(value)?;
                if bytes < 16 * 1024 {
                    return Err("must be at least 16384 bytes".into());
                }
                self.rekey_bytes = bytes;
            }
            "KeyRenegotiationInterval" => {
                let seconds: u64 = number(value)?;
                if seconds != 0 && seconds < 10 {
                    return Err("must be 0 (off) or at least 10 seconds".into());
                }
                self.rekey_interval_ms = seconds.saturating_mul(1000);
            }
            "MaxAuthAttempts" => self.max_auth_attempts = number::<u32>(value)?.max(1),
            "DefaultAuthMethods" => {
                let methods = parse_methods(value)?;
                if methods.contains(&Method::None) {
                    return Err("none is not a method to offer: a host that wants it accepts the none request".into());
                }
                check_chains_offered(self.auth_chains.as_deref(), &methods)?;
                self.auth_methods = methods;
            }
            "AuthenticationMethods" => {
                let chains = parse_chains(value)?;
                check_chains_offered(chains.as_deref(), &self.auth_methods)?;
                self.auth_chains = chains;
            }
            "MaxKeyboardInteractiveRounds" => {
                let rounds: u32 = number(value)?;
                if !(1..=64).contains(&rounds) {
                    return Err("must be from 1 to 64".into());
                }
                self.max_kbd_rounds = rounds;
            }
            "UserAuthBanner" => self.banner = Some(value.into()).filter(|b: &String| !b.is_empty()),
            "LoginGraceTime" | "DefaultTimeout" => self.login_grace_ms = seconds_to_ms(value)?,
            "DefaultIdleTimeout" => self.idle_timeout_ms = seconds_to_ms(value)?,
            "SSHKeepAliveInterval" => self.keepalive_interval_ms = seconds_to_ms(value)?,
            "SSHKeepAliveCountMax" => self.keepalive_count_max = number::<u32>(value)?.max(1),
            "ChannelWindowSize" => {
                let w: u32 = number(value)?;
                if w < self.channel_max_packet {
                    return Err("must be at least the channel max packet size".into());
                }
                self.channel_window = w;
            }
            "ChannelMaxPacket" => {
                let p: u32 = number(value)?;
                if !(MIN_CHANNEL_MAX_PACKET..=MAX_CHANNEL_MAX_PACKET).contains(&p) {
                    return Err(alloc::format!("must be from {MIN_CHANNEL_MAX_PACKET} to {MAX_CHANNEL_MAX_PACKET}"));
                }
                if p > self.channel_window {
                    return Err("must be at most the channel window size".into());
                }
                self.channel_max_packet = p;
            }
            "MaxChannels" => self.max_channels = number::<u32>(value)?.max(1),
            "LogLevel" => self.log_level = number::<u8>(value)?.min(3),
            "MaskSensitiveData" => self.mask_sensitive = boolean(value)?,
            "CryptoProvider" => {
                self.crypto = match value.trim() {
                    "wasm" => self.own_crypto,
                    "host" => self.host_crypto.clone()?,
                    _ => return Err("must be wasm or host".into()),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The current value of a setting the core owns, in the form `set` accepts.
    pub fn get(&self, name: &str) -> Option<String> {
        fn names<T: Copy>(list: &[T], name: fn(T) -> &'static str) -> String {
            list.iter().map(|a| name(*a)).collect::<Vec<_>>().join(",")
        }
        Some(match name {
            "SSHKeyExchangeAlgorithms" => names(&self.algorithms.kex, KexAlg::name),
            "SSHPublicKeyAlgorithms" => names(&self.algorithms.host_key, KeyAlg::name),
            "SSHEncryptionAlgorithms" => names(&self.algorithms.cipher, CipherAlg::name),
            "SSHMacAlgorithms" => names(&self.algorithms.mac, MacAlg::name),
            "SSHCompressionAlgorithms" => names(&self.algorithms.compression, CompressionAlg::name),
            "SSHPubKeyAuthSigAlgorithms" => names(&self.user_key_algorithms, KeyAlg::name),
            "HostCertificate" => self.host_certificates.iter().map(|c| c.to_openssh_line()).collect::<Vec<_>>().join("\n"),
            "ServerSSHVersionString" => self.server_version.clone(),
            "UseStrictKeyExchange" => (self.strict_kex as u8).to_string(),
            "KeyRenegotiationThreshold" => self.rekey_bytes.to_string(),
            "KeyRenegotiationInterval" => (self.rekey_interval_ms / 1000).to_string(),
            "MaxAuthAttempts" => self.max_auth_attempts.to_string(),
            "DefaultAuthMethods" => names(&self.auth_methods, Method::name),
            "AuthenticationMethods" => match &self.auth_chains {
                None => "any".into(),
                Some(chains) => chains.iter().map(|c| names(c, Method::name)).collect::<Vec<_>>().join(" "),
            },
            "MaxKeyboardInteractiveRounds" => self.max_kbd_rounds.to_string(),
            "UserAuthBanner" => self.banner.clone().unwrap_or_default(),
            "LoginGraceTime" | "DefaultTimeout" => (self.login_grace_ms / 1000).to_string(),
            "DefaultIdleTimeout" => (self.idle_timeout_ms / 1000).to_string(),
            "SSHKeepAliveInterval" => (self.keepalive_interval_ms / 1000).to_string(),
            "SSHKeepAliveCountMax" => self.keepalive_count_max.to_string(),
            "ChannelWindowSize" => self.channel_window.to_string(),
            "ChannelMaxPacket" => self.channel_max_packet.to_string(),
            "MaxChannels" => self.max_channels.to_string(),
            "LogLevel" => self.log_level.to_string(),
            "MaskSensitiveData" => (if self.mask_sensitive { "True" } else { "False" }).into(),
            "CryptoProvider" => self.crypto.name().into(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_reject_nonsense() {
        let mut c = Config::default();
        assert_eq!(c.set("SSHEncryptionAlgorithms", "aes256-ctr, aes128-gcm@openssh.com"), Ok(true));
        assert_eq!(c.get("SSHEncryptionAlgorithms").unwrap(), "aes256-ctr,aes128-gcm@openssh.com");
        assert!(c.set("SSHEncryptionAlgorithms", "rot13").is_err());
        assert!(c.set("KeyRenegotiationThreshold", "12").is_err());
        assert_eq!(c.set("KeyRenegotiationThreshold", "1048576"), Ok(true));
        assert_eq!(c.rekey_bytes, 1 << 20);
        assert_eq!(c.set("NoSuchSetting", "1"), Ok(false));
        assert!(c.set("ServerSSHVersionString", "SSH-1.5-x").is_err());
        assert_eq!(c.get("MaskSensitiveData").unwrap(), "True");
        assert_eq!(c.set("MaskSensitiveData", "false"), Ok(true));
        assert!(!c.mask_sensitive);
        assert!(c.set("MaskSensitiveData", "maybe").is_err());
    }

    #[test]
    fn authentication_methods_parse_and_must_be_offered() {
        let mut c = Config::default();
        assert_eq!(c.get("AuthenticationMethods").unwrap(), "any");
        assert_eq!(c.set("AuthenticationMethods", " publickey,password  publickey,keyboard-interactive "), Ok(true));
        assert_eq!(c.get("AuthenticationMethods").unwrap(), "publickey,password publickey,keyboard-interactive");
        assert_eq!(
            c.auth_chains,
            Some(alloc::vec![
                alloc::vec![Method::PublicKey, Method::Password],
                alloc::vec![Method::PublicKey, Method::KeyboardInteractive]
            ])
        );
        for bad in ["", "publickey,,password", "publickey,hostbased", "any,password"] {
            assert!(c.set("AuthenticationMethods", bad).is_err(), "{bad:?}");
        }
        // A chain through a method that is not offered, either way round.
        assert!(c.set("DefaultAuthMethods", "publickey,password").is_err());
        assert_eq!(c.set("AuthenticationMethods", "any"), Ok(true));
        assert_eq!(c.set("DefaultAuthMethods", "publickey,password"), Ok(true));
        assert!(c.set("AuthenticationMethods", "publickey,keyboard-interactive").is_err());
        assert!(c.set("DefaultAuthMethods", "password,none").is_err());
        assert_eq!(c.set("AuthenticationMethods", "none"), Ok(true));
    }

    #[test]
    fn channel_window_and_max_packet_bound_each_other() {
        let mut c = Config::default();
        for bad in ["511", "261121", "-1", "lots"] {
            assert!(c.set("ChannelMaxPacket", bad).is_err(), "{bad}");
        }
        assert_eq!(c.set("ChannelMaxPacket", "8192"), Ok(true));
        assert_eq!(c.set("ChannelWindowSize", "16384"), Ok(true));
        assert!(c.set("ChannelWindowSize", "8191").is_err());
        assert!(c.set("ChannelMaxPacket", "16385").is_err());
        assert_eq!((c.get("ChannelMaxPacket").unwrap().as_str(), c.channel_window), ("8192", 16384));
    }

    use crate::crypto::provider::{AesGcm, BlockCipher, ChaCha20, Hmac, HmacHash, SequentialCipher};
    use alloc::boxed::Box;

    /// The core's own primitives under another name, with or without the legacy ones.
    #[derive(Debug)]
    struct Delegating(&'static str, bool);

    impl CryptoProvider for Delegating {
        fn name(&self) -> &'static str {
            self.0
        }
        fn aes_gcm(&self, key: &[u8]) -> Option<Box<dyn AesGcm>> {
            RUST_CRYPTO.aes_gcm(key)
        }
        fn aes_ctr(&self, key: &[u8], iv: &[u8]) -> Option<Box<dyn SequentialCipher>> {
            RUST_CRYPTO.aes_ctr(key, iv)
        }
        fn cbc(&self, cipher: BlockCipher, key: &[u8], iv: &[u8], decrypt: bool) -> Option<Box<dyn SequentialCipher>> {
            RUST_CRYPTO.cbc(cipher, key, iv, decrypt)
        }
        fn arcfour(&self, key: &[u8]) -> Option<Box<dyn SequentialCipher>> {
            RUST_CRYPTO.arcfour(key)
        }
        fn chacha20(&self, key: &[u8; 32]) -> Box<dyn ChaCha20> {
            RUST_CRYPTO.chacha20(key)
        }
        fn hmac(&self, hash: HmacHash, key: &[u8]) -> Option<Box<dyn Hmac>> {
            RUST_CRYPTO.hmac(hash, key)
        }
        fn legacy_available(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn a_build_without_the_legacy_primitives_refuses_the_settings_that_need_them() {
        static WITHOUT: Delegating = Delegating("wasm", false);
        static WITH: Delegating = Delegating("wasm", true);
        let mut c = Config::default();
        c.complete_own_crypto(&WITHOUT);
        assert_eq!(c.crypto.name(), "wasm");
        for (name, list, refused) in [
            ("SSHEncryptionAlgorithms", "aes128-ctr,3des-cbc", "3des-cbc"),
            ("SSHEncryptionAlgorithms", "arcfour256", "arcfour256"),
            ("SSHMacAlgorithms", "hmac-sha2-256,hmac-md5-etm@openssh.com", "hmac-md5-etm@openssh.com"),
            ("SSHMacAlgorithms", "hmac-ripemd160", "hmac-ripemd160"),
        ] {
            let error = c.set(name, list).unwrap_err();
            assert!(error.starts_with(&alloc::format!("{refused} needs the legacy algorithms' wasm module")), "{error}");
        }
        assert_eq!(c.get("SSHEncryptionAlgorithms").unwrap(), names(CipherAlg::DEFAULT), "a refused list changes nothing");
        // AES-CBC and HMAC-SHA-1 are the provider's own.
        assert_eq!(c.set("SSHEncryptionAlgorithms", "aes128-cbc"), Ok(true));
        assert_eq!(c.set("SSHMacAlgorithms", "hmac-sha1"), Ok(true));
        c.complete_own_crypto(&WITH);
        assert_eq!(c.set("SSHEncryptionAlgorithms", "3des-cbc,blowfish-cbc,cast128-cbc,arcfour"), Ok(true));
        assert_eq!(c.set("SSHMacAlgorithms", "hmac-md5,hmac-ripemd160"), Ok(true));
    }

    fn names(list: &[CipherAlg]) -> String {
        list.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn crypto_provider_is_the_cores_own_until_the_embedding_offers_one() {
        static HOST: Delegating = Delegating("host", true);

        let mut c = Config::default();
        assert_eq!(c.get("CryptoProvider").unwrap(), "wasm");
        assert_eq!(c.set("CryptoProvider", "host"), Err("this host offers no crypto provider".into()));
        assert!(c.set("CryptoProvider", "openssl").is_err());
        c.offer_crypto(&HOST);
        assert_eq!(c.get("CryptoProvider").unwrap(), "host", "an offered provider becomes the default");
        assert_eq!(c.set("CryptoProvider", " wasm "), Ok(true));
        assert_eq!(c.get("CryptoProvider").unwrap(), "wasm");
        assert_eq!(c.set("CryptoProvider", "host"), Ok(true));
        assert_eq!(c.crypto.name(), "host");
    }
}
