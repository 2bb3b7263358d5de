//! Algorithm names and KEXINIT negotiation (RFC 4253 §7.1): the first algorithm on the client's list
//! that the server also offers wins.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::msg;
use crate::wire::{list_contains, Reader, Writer};

/// Declares an algorithm enum whose variants map one-to-one to wire names.
macro_rules! algorithms {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

algorithms!(
    /// Key exchange methods.
    KexAlg {
        Curve25519Sha256 => "curve25519-sha256",
        Curve25519Sha256Libssh => "curve25519-sha256@libssh.org",
    }
);

algorithms!(
    /// Host key (signature) algorithms.
    HostKeyAlg {
        Ed25519 => "ssh-ed25519",
    }
);

algorithms!(
    /// Encryption algorithms; the AEAD ones carry their own integrity and ignore the MAC choice.
    CipherAlg {
        Chacha20Poly1305 => "chacha20-poly1305@openssh.com",
        Aes128Gcm => "aes128-gcm@openssh.com",
        Aes256Gcm => "aes256-gcm@openssh.com",
        Aes128Ctr => "aes128-ctr",
        Aes192Ctr => "aes192-ctr",
        Aes256Ctr => "aes256-ctr",
    }
);

algorithms!(
    /// MAC algorithms; the `-etm` forms authenticate the ciphertext instead of the plaintext.
    MacAlg {
        HmacSha256Etm => "hmac-sha2-256-etm@openssh.com",
        HmacSha512Etm => "hmac-sha2-512-etm@openssh.com",
        HmacSha256 => "hmac-sha2-256",
        HmacSha512 => "hmac-sha2-512",
    }
);

algorithms!(
    /// Compression algorithms. `zlib@openssh.com` starts only after authentication; plain `zlib` inflates
    /// what unauthenticated clients send, so it is off unless configured.
    CompressionAlg {
        None => "none",
        ZlibOpenssh => "zlib@openssh.com",
        Zlib => "zlib",
    }
);

impl CompressionAlg {
    pub const DEFAULT: &'static [CompressionAlg] = &[CompressionAlg::None, CompressionAlg::ZlibOpenssh];
}

impl CipherAlg {
    pub fn is_aead(self) -> bool {
        matches!(self, CipherAlg::Chacha20Poly1305 | CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm)
    }
}

/// The pseudo-algorithms of extensions negotiated through the kex list.
pub const EXT_INFO_C: &str = "ext-info-c";
pub const EXT_INFO_S: &str = "ext-info-s";
pub const STRICT_KEX_C: &str = "kex-strict-c-v00@openssh.com";
pub const STRICT_KEX_S: &str = "kex-strict-s-v00@openssh.com";

/// The server's algorithm lists, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub kex: Vec<KexAlg>,
    pub host_key: Vec<HostKeyAlg>,
    pub cipher: Vec<CipherAlg>,
    pub mac: Vec<MacAlg>,
    pub compression: Vec<CompressionAlg>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            kex: KexAlg::ALL.to_vec(),
            host_key: HostKeyAlg::ALL.to_vec(),
            cipher: CipherAlg::ALL.to_vec(),
            mac: MacAlg::ALL.to_vec(),
            compression: CompressionAlg::DEFAULT.to_vec(),
        }
    }
}

/// Parses a comma-separated list of algorithm names for a setting, rejecting unknown names so a typo in
/// configuration is an error rather than a silently weaker list.
pub fn parse_list<T: Copy>(value: &str, from_name: fn(&str) -> Option<T>) -> core::result::Result<Vec<T>, String> {
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match from_name(name) {
            Some(alg) => out.push(alg),
            None => return Err(alloc::format!("unknown algorithm: {name}")),
        }
    }
    if out.is_empty() {
        return Err("the list is empty".into());
    }
    Ok(out)
}

/// A received SSH_MSG_KEXINIT. The name-lists are kept as the peer sent them.
#[derive(Debug, Clone)]
pub struct KexInit {
    pub kex: String,
    pub host_key: String,
    pub cipher_c2s: String,
    pub cipher_s2c: String,
    pub mac_c2s: String,
    pub mac_s2c: String,
    pub compression_c2s: String,
    pub compression_s2c: String,
    pub first_kex_packet_follows: bool,
}

impl KexInit {
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        if r.u8()? != msg::KEXINIT {
            return Err(Error::protocol("expected KEXINIT"));
        }
        r.take(16)?; // cookie
        let mut list = || r.name_list().map(String::from);
        let init = KexInit {
            kex: list()?,
            host_key: list()?,
            cipher_c2s: list()?,
            cipher_s2c: list()?,
            mac_c2s: list()?,
            mac_s2c: list()?,
            compression_c2s: list()?,
            compression_s2c: list()?,
            first_kex_packet_follows: {
                r.name_list()?; // languages client to server
                r.name_list()?; // languages server to client
                r.bool()?
            },
        };
        r.u32()?; // reserved, the last field (RFC 4253 §7.1)
        r.finish()?;
        Ok(init)
    }
}

/// Encodes the server's KEXINIT. `extra_kex` carries the extension pseudo-algorithms (strict kex, ext-info).
pub fn encode_server_kexinit(prefs: &Preferences, host_keys: &[HostKeyAlg], cookie: [u8; 16], extra_kex: &[&str]) -> Vec<u8> {
    let mut w = Writer::message(msg::KEXINIT);
    w.raw(&cookie);
    let mut kex: Vec<&str> = prefs.kex.iter().map(|k| k.name()).collect();
    kex.extend_from_slice(extra_kex);
    w.name_list(&kex);
    let offered: Vec<&str> = prefs.host_key.iter().filter(|a| host_keys.contains(a)).map(|a| a.name()).collect();
    w.name_list(&offered);
    let ciphers: Vec<&str> = prefs.cipher.iter().map(|c| c.name()).collect();
    let macs: Vec<&str> = prefs.mac.iter().map(|m| m.name()).collect();
    let comp: Vec<&str> = prefs.compression.iter().map(|c| c.name()).collect();
    w.name_list(&ciphers).name_list(&ciphers);
    w.name_list(&macs).name_list(&macs);
    w.name_list(&comp).name_list(&comp);
    w.name_list::<&str>(&[]).name_list::<&str>(&[]);
    w.bool(false).u32(0);
    w.into_vec()
}

/// The algorithms both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub kex: KexAlg,
    pub host_key: HostKeyAlg,
    pub cipher_c2s: CipherAlg,
    pub cipher_s2c: CipherAlg,
    /// `None` when the cipher is an AEAD.
    pub mac_c2s: Option<MacAlg>,
    pub mac_s2c: Option<MacAlg>,
    pub compression_c2s: CompressionAlg,
    pub compression_s2c: CompressionAlg,
}

fn choose<T: Copy + PartialEq>(client_list: &str, ours: &[T], from_name: fn(&str) -> Option<T>, what: &'static str) -> Result<T> {
    client_list
        .split(',')
        .filter_map(from_name)
        .find(|alg| ours.contains(alg))
        .ok_or_else(|| Error::kex(alloc::format!("no matching {what} algorithm")))
}

/// Negotiates between the client's KEXINIT and the server's own, as sent.
pub fn negotiate_lists(client: &KexInit, server: &KexInit) -> Result<Negotiated> {
    fn parse<T>(list: &str, from_name: fn(&str) -> Option<T>) -> Vec<T> {
        list.split(',').filter_map(from_name).collect()
    }
    let prefs = Preferences {
        kex: parse(&server.kex, KexAlg::from_name),
        host_key: parse(&server.host_key, HostKeyAlg::from_name),
        cipher: parse(&server.cipher_s2c, CipherAlg::from_name),
        mac: parse(&server.mac_s2c, MacAlg::from_name),
        compression: parse(&server.compression_s2c, CompressionAlg::from_name),
    };
    let host_keys = prefs.host_key.clone();
    negotiate(client, &prefs, &host_keys)
}

pub fn negotiate(client: &KexInit, prefs: &Preferences, host_keys: &[HostKeyAlg]) -> Result<Negotiated> {
    let offered: Vec<HostKeyAlg> = prefs.host_key.iter().copied().filter(|a| host_keys.contains(a)).collect();
    let cipher_c2s = choose(&client.cipher_c2s, &prefs.cipher, CipherAlg::from_name, "cipher")?;
    let cipher_s2c = choose(&client.cipher_s2c, &prefs.cipher, CipherAlg::from_name, "cipher")?;
    let mac = |cipher: CipherAlg, list: &str| -> Result<Option<MacAlg>> {
        if cipher.is_aead() {
            Ok(None)
        } else {
            choose(list, &prefs.mac, MacAlg::from_name, "MAC").map(Some)
        }
    };
    Ok(Negotiated {
        kex: choose(&client.kex, &prefs.kex, KexAlg::from_name, "key exchange")?,
        host_key: choose(&client.host_key, &offered, HostKeyAlg::from_name, "host key")?,
        cipher_c2s,
        cipher_s2c,
        mac_c2s: mac(cipher_c2s, &client.mac_c2s)?,
        mac_s2c: mac(cipher_s2c, &client.mac_s2c)?,
        compression_c2s: choose(&client.compression_c2s, &prefs.compression, CompressionAlg::from_name, "compression")?,
        compression_s2c: choose(&client.compression_s2c, &prefs.compression, CompressionAlg::from_name, "compression")?,
    })
}

impl KexInit {
    /// RFC 4253 §7: a guessed packet is right only if the client's first kex and host key choices both won.
    pub fn guess_was_right(&self, negotiated: &Negotiated) -> bool {
        let first = |list: &str| list.split(',').next().map(String::from).unwrap_or_default();
        first(&self.kex) == negotiated.kex.name() && first(&self.host_key) == negotiated.host_key.name()
    }

    pub fn offers(&self, pseudo_alg: &str) -> bool {
        list_contains(&self.kex, pseudo_alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(kex: &str, ciphers: &str, macs: &str) -> KexInit {
        KexInit {
            kex: kex.into(),
            host_key: "ssh-rsa,ssh-ed25519".into(),
            cipher_c2s: ciphers.into(),
            cipher_s2c: ciphers.into(),
            mac_c2s: macs.into(),
            mac_s2c: macs.into(),
            compression_c2s: "none,zlib@openssh.com".into(),
            compression_s2c: "none".into(),
            first_kex_packet_follows: false,
        }
    }

    #[test]
    fn client_preference_wins() {
        let prefs = Preferences::default();
        let n = negotiate(
            &client(
                "foo,curve25519-sha256@libssh.org,curve25519-sha256",
                "aes256-ctr,chacha20-poly1305@openssh.com",
                "hmac-sha2-512,hmac-sha2-256",
            ),
            &prefs,
            &[HostKeyAlg::Ed25519],
        )
        .unwrap();
        assert_eq!(n.kex, KexAlg::Curve25519Sha256Libssh);
        assert_eq!(n.host_key, HostKeyAlg::Ed25519);
        assert_eq!(n.cipher_c2s, CipherAlg::Aes256Ctr);
        assert_eq!(n.mac_c2s, Some(MacAlg::HmacSha512));
    }

    #[test]
    fn aead_needs_no_mac_and_missing_common_alg_is_kex_failure() {
        let prefs = Preferences::default();
        let n = negotiate(&client("curve25519-sha256", "aes128-gcm@openssh.com", "hmac-md5"), &prefs, &[HostKeyAlg::Ed25519]).unwrap();
        assert_eq!(n.mac_c2s, None);
        let err =
            negotiate(&client("diffie-hellman-group1-sha1", "aes128-ctr", "hmac-sha2-256"), &prefs, &[HostKeyAlg::Ed25519]).unwrap_err();
        assert_eq!(err.reason, crate::msg::DisconnectReason::KeyExchangeFailed);
    }

    #[test]
    fn kexinit_round_trips_through_decoder() {
        let bytes = encode_server_kexinit(&Preferences::default(), &[HostKeyAlg::Ed25519], [7; 16], &[STRICT_KEX_S]);
        let init = KexInit::decode(&bytes).unwrap();
        assert!(init.offers(STRICT_KEX_S));
        assert_eq!(init.host_key, "ssh-ed25519");
        for cut in 0..bytes.len() {
            assert!(KexInit::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(KexInit::decode(&longer).is_err(), "a byte after the reserved field");
    }
}
