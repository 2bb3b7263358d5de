//! Algorithm names and KEXINIT negotiation (RFC 4253 §7.1): the first algorithm on the client's list
//! that the server also offers wins, whichever side we are. Host key lists name signature algorithms
//! ([`SigAlg`]); the key that makes the chosen one is found by its type.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::keys::KeyAlg;
use crate::msg;
use crate::wire::{list_contains, Reader, Writer};

algorithms!(
    /// Key exchange methods.
    KexAlg {
        Mlkem768x25519Sha256 => "mlkem768x25519-sha256",
        Sntrup761x25519Sha512 => "sntrup761x25519-sha512",
        Sntrup761x25519Sha512Openssh => "sntrup761x25519-sha512@openssh.com",
        Curve25519Sha256 => "curve25519-sha256",
        Curve25519Sha256Libssh => "curve25519-sha256@libssh.org",
        EcdhSha2Nistp256 => "ecdh-sha2-nistp256",
        EcdhSha2Nistp384 => "ecdh-sha2-nistp384",
        EcdhSha2Nistp521 => "ecdh-sha2-nistp521",
        DiffieHellmanGroupExchangeSha256 => "diffie-hellman-group-exchange-sha256",
        DiffieHellmanGroup16Sha512 => "diffie-hellman-group16-sha512",
        DiffieHellmanGroup18Sha512 => "diffie-hellman-group18-sha512",
        DiffieHellmanGroup14Sha256 => "diffie-hellman-group14-sha256",
        DiffieHellmanGroup14Sha1 => "diffie-hellman-group14-sha1",
        DiffieHellmanGroupExchangeSha1 => "diffie-hellman-group-exchange-sha1",
        DiffieHellmanGroup1Sha1 => "diffie-hellman-group1-sha1",
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
        Aes128Cbc => "aes128-cbc",
        Aes192Cbc => "aes192-cbc",
        Aes256Cbc => "aes256-cbc",
        TripleDesCbc => "3des-cbc",
        BlowfishCbc => "blowfish-cbc",
        Cast128Cbc => "cast128-cbc",
        Arcfour => "arcfour",
        Arcfour128 => "arcfour128",
        Arcfour256 => "arcfour256",
    }
);

algorithms!(
    /// MAC algorithms; the `-etm` forms authenticate the ciphertext instead of the plaintext.
    MacAlg {
        HmacSha256Etm => "hmac-sha2-256-etm@openssh.com",
        HmacSha512Etm => "hmac-sha2-512-etm@openssh.com",
        Umac128Etm => "umac-128-etm@openssh.com",
        HmacSha256 => "hmac-sha2-256",
        HmacSha512 => "hmac-sha2-512",
        Umac128 => "umac-128@openssh.com",
        Umac64Etm => "umac-64-etm@openssh.com",
        Umac64 => "umac-64@openssh.com",
        HmacSha1Etm => "hmac-sha1-etm@openssh.com",
        HmacSha1 => "hmac-sha1",
        HmacSha196Etm => "hmac-sha1-96-etm@openssh.com",
        HmacSha196 => "hmac-sha1-96",
        HmacMd5Etm => "hmac-md5-etm@openssh.com",
        HmacMd5 => "hmac-md5",
        HmacMd596Etm => "hmac-md5-96-etm@openssh.com",
        HmacMd596 => "hmac-md5-96",
        HmacRipemd160Etm => "hmac-ripemd160-etm@openssh.com",
        HmacRipemd160 => "hmac-ripemd160",
        HmacRipemd160OpenSsh => "hmac-ripemd160@openssh.com",
    }
);

impl MacAlg {
    /// Offered unless configured otherwise. Not the 64-bit UMAC tags, which `ssh-audit` warns are short, nor
    /// UMAC as encrypt-and-MAC: every client with UMAC has its `-etm` form too, where the HMACs' plain forms
    /// stay for clients of RFC 6668 alone. Nor the SHA-1 and MD5 HMACs, which `ssh-audit` fails.
    pub const DEFAULT: &'static [MacAlg] =
        &[MacAlg::HmacSha256Etm, MacAlg::HmacSha512Etm, MacAlg::Umac128Etm, MacAlg::HmacSha256, MacAlg::HmacSha512];

    /// Whether the MAC covers the ciphertext (encrypt-then-MAC) rather than the plaintext.
    pub fn is_etm(self) -> bool {
        matches!(
            self,
            MacAlg::HmacSha256Etm
                | MacAlg::HmacSha512Etm
                | MacAlg::Umac128Etm
                | MacAlg::Umac64Etm
                | MacAlg::HmacSha1Etm
                | MacAlg::HmacSha196Etm
                | MacAlg::HmacMd5Etm
                | MacAlg::HmacMd596Etm
                | MacAlg::HmacRipemd160Etm
        )
    }

    /// Whether the MAC needs the legacy primitives (HMAC-MD5, HMAC-RIPEMD-160: `crypto::legacy`).
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            MacAlg::HmacMd5
                | MacAlg::HmacMd5Etm
                | MacAlg::HmacMd596
                | MacAlg::HmacMd596Etm
                | MacAlg::HmacRipemd160
                | MacAlg::HmacRipemd160OpenSsh
                | MacAlg::HmacRipemd160Etm
        )
    }
}

algorithms!(
    /// Compression algorithms. `zlib@openssh.com` starts only after authentication; plain `zlib` inflates
    /// what unauthenticated clients send, so it is off unless configured.
    CompressionAlg {
        None => "none",
        ZlibOpenssh => "zlib@openssh.com",
        Zlib => "zlib",
    }
);

impl KexAlg {
    /// The post-quantum hybrids, then curve25519, then the finite-field groups of 2048 bits and more:
    /// nothing ssh-audit marks as a failure (it fails the NIST curves, SHA-1 and 1024-bit groups); the rest
    /// exists for clients that need it, once configured.
    pub const DEFAULT: &'static [KexAlg] = &[
        KexAlg::Mlkem768x25519Sha256,
        KexAlg::Sntrup761x25519Sha512,
        KexAlg::Sntrup761x25519Sha512Openssh,
        KexAlg::Curve25519Sha256,
        KexAlg::Curve25519Sha256Libssh,
        KexAlg::DiffieHellmanGroupExchangeSha256,
        KexAlg::DiffieHellmanGroup16Sha512,
        KexAlg::DiffieHellmanGroup18Sha512,
        KexAlg::DiffieHellmanGroup14Sha256,
    ];
}

impl CompressionAlg {
    pub const DEFAULT: &'static [CompressionAlg] = &[CompressionAlg::None, CompressionAlg::ZlibOpenssh];
}

impl CipherAlg {
    /// Offered unless configured otherwise: not the CBC modes, whose encrypt-and-MAC packets leak length
    /// bits to an attacker who can inject (Albrecht, Paterson, Watson 2009), nor the 64-bit block ciphers
    /// (3DES, Blowfish, CAST-128), nor RC4, whose keystream is biased.
    pub const DEFAULT: &'static [CipherAlg] = &[
        CipherAlg::Chacha20Poly1305,
        CipherAlg::Aes128Gcm,
        CipherAlg::Aes256Gcm,
        CipherAlg::Aes128Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes256Ctr,
    ];

    pub fn is_aead(self) -> bool {
        matches!(self, CipherAlg::Chacha20Poly1305 | CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm)
    }

    /// Whether the cipher needs the legacy primitives (the 64-bit block ciphers and RC4: `crypto::legacy`).
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            CipherAlg::TripleDesCbc
                | CipherAlg::BlowfishCbc
                | CipherAlg::Cast128Cbc
                | CipherAlg::Arcfour
                | CipherAlg::Arcfour128
                | CipherAlg::Arcfour256
        )
    }
}

/// The pseudo-algorithms of extensions negotiated through the kex list.
pub const EXT_INFO_C: &str = "ext-info-c";
pub const EXT_INFO_S: &str = "ext-info-s";
pub const STRICT_KEX_C: &str = "kex-strict-c-v00@openssh.com";
pub const STRICT_KEX_S: &str = "kex-strict-s-v00@openssh.com";

/// One side's algorithm lists, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub kex: Vec<KexAlg>,
    /// Host key algorithms, certificates among them (a server offers those it holds keys and certificates for).
    pub host_key: Vec<KeyAlg>,
    pub cipher: Vec<CipherAlg>,
    pub mac: Vec<MacAlg>,
    pub compression: Vec<CompressionAlg>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            kex: KexAlg::DEFAULT.to_vec(),
            host_key: KeyAlg::DEFAULT.to_vec(),
            cipher: CipherAlg::DEFAULT.to_vec(),
            mac: MacAlg::DEFAULT.to_vec(),
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

/// Encodes a KEXINIT offering `host_key` (a server lists only what its keys make) and the rest of
/// `prefs` both ways. `extra_kex` carries the extension pseudo-algorithms (strict kex, ext-info).
pub fn encode_kexinit(prefs: &Preferences, host_key: &[KeyAlg], cookie: [u8; 16], extra_kex: &[&str]) -> Vec<u8> {
    let mut w = Writer::message(msg::KEXINIT);
    w.raw(&cookie);
    let mut kex: Vec<&str> = prefs.kex.iter().map(|k| k.name()).collect();
    kex.extend_from_slice(extra_kex);
    w.name_list(&kex);
    let host_key: Vec<&str> = host_key.iter().map(|a| a.name()).collect();
    w.name_list(&host_key);
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
    /// The server's host key algorithm: a key's signature algorithm, or a certificate's.
    pub host_key: KeyAlg,
    pub cipher_c2s: CipherAlg,
    pub cipher_s2c: CipherAlg,
    /// `None` when the cipher is an AEAD.
    pub mac_c2s: Option<MacAlg>,
    pub mac_s2c: Option<MacAlg>,
    pub compression_c2s: CompressionAlg,
    pub compression_s2c: CompressionAlg,
}

/// The first algorithm on the client's list that is on the server's list too.
fn choose<T: Copy>(client: &str, server: &str, from_name: fn(&str) -> Option<T>, what: &'static str) -> Result<T> {
    client
        .split(',')
        .filter(|name| list_contains(server, name))
        .find_map(from_name)
        .ok_or_else(|| Error::kex(alloc::format!("no matching {what} algorithm")))
}

/// Negotiates between the client's KEXINIT and the server's, whichever of them is ours (RFC 4253 §7.1):
/// each direction's cipher, MAC and compression come from that direction's lists.
pub fn negotiate(client: &KexInit, server: &KexInit) -> Result<Negotiated> {
    let cipher_c2s = choose(&client.cipher_c2s, &server.cipher_c2s, CipherAlg::from_name, "cipher")?;
    let cipher_s2c = choose(&client.cipher_s2c, &server.cipher_s2c, CipherAlg::from_name, "cipher")?;
    let mac = |cipher: CipherAlg, client: &str, server: &str| -> Result<Option<MacAlg>> {
        if cipher.is_aead() {
            Ok(None)
        } else {
            choose(client, server, MacAlg::from_name, "MAC").map(Some)
        }
    };
    let compression = |client: &str, server: &str| choose(client, server, CompressionAlg::from_name, "compression");
    Ok(Negotiated {
        kex: choose(&client.kex, &server.kex, KexAlg::from_name, "key exchange")?,
        host_key: choose(&client.host_key, &server.host_key, KeyAlg::from_name, "host key")?,
        cipher_c2s,
        cipher_s2c,
        mac_c2s: mac(cipher_c2s, &client.mac_c2s, &server.mac_c2s)?,
        mac_s2c: mac(cipher_s2c, &client.mac_s2c, &server.mac_s2c)?,
        compression_c2s: compression(&client.compression_c2s, &server.compression_c2s)?,
        compression_s2c: compression(&client.compression_s2c, &server.compression_s2c)?,
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

    /// The KEXINIT a server with the default preferences and a key of every type sends: no `ssh-rsa`
    /// (SHA-1) unless configured, so the client's first choice below is not offered.
    fn default_server() -> KexInit {
        let prefs = Preferences::default();
        KexInit::decode(&encode_kexinit(&prefs, &prefs.host_key, [0; 16], &[])).unwrap()
    }

    #[test]
    fn client_preference_wins() {
        let n = negotiate(
            &client(
                "foo,curve25519-sha256@libssh.org,curve25519-sha256",
                "aes256-ctr,chacha20-poly1305@openssh.com",
                "hmac-sha2-512,hmac-sha2-256",
            ),
            &default_server(),
        )
        .unwrap();
        assert_eq!(n.kex, KexAlg::Curve25519Sha256Libssh);
        assert_eq!(n.host_key, KeyAlg::Plain(crate::keys::SigAlg::Ed25519));
        assert_eq!(n.cipher_c2s, CipherAlg::Aes256Ctr);
        assert_eq!(n.mac_c2s, Some(MacAlg::HmacSha512));
    }

    /// Each direction is chosen from its own two lists, the client's order first. Lists that differ
    /// between directions, on either side, tell a choice from the wrong lists apart (the server used to
    /// read its server-to-client lists for both directions).
    #[test]
    fn each_direction_is_chosen_from_its_own_lists() {
        let client = KexInit {
            kex: "curve25519-sha256".into(),
            host_key: "ssh-ed25519".into(),
            cipher_c2s: "aes256-ctr,aes128-ctr".into(),
            cipher_s2c: "aes128-ctr,aes256-ctr".into(),
            mac_c2s: "hmac-sha2-512,hmac-sha2-256".into(),
            mac_s2c: "hmac-sha2-512,hmac-sha2-256".into(),
            compression_c2s: "none,zlib@openssh.com".into(),
            compression_s2c: "none,zlib@openssh.com".into(),
            first_kex_packet_follows: false,
        };
        let server = KexInit {
            cipher_c2s: "aes128-ctr".into(),
            cipher_s2c: "aes256-ctr".into(),
            mac_c2s: "hmac-sha2-256".into(),
            mac_s2c: "hmac-sha2-512".into(),
            compression_c2s: "zlib@openssh.com".into(),
            compression_s2c: "none".into(),
            ..client.clone()
        };
        let n = negotiate(&client, &server).unwrap();
        assert_eq!((n.cipher_c2s, n.cipher_s2c), (CipherAlg::Aes128Ctr, CipherAlg::Aes256Ctr));
        assert_eq!((n.mac_c2s, n.mac_s2c), (Some(MacAlg::HmacSha256), Some(MacAlg::HmacSha512)));
        assert_eq!((n.compression_c2s, n.compression_s2c), (CompressionAlg::ZlibOpenssh, CompressionAlg::None));
        // The client's order decides where both sides offer several.
        let both = KexInit { cipher_c2s: "aes128-ctr,aes256-ctr".into(), cipher_s2c: "aes256-ctr,aes128-ctr".into(), ..server };
        let n = negotiate(&client, &both).unwrap();
        assert_eq!((n.cipher_c2s, n.cipher_s2c), (CipherAlg::Aes256Ctr, CipherAlg::Aes128Ctr));
        // A direction with nothing in common fails, even if the other direction's list would match.
        let one_way = KexInit { cipher_s2c: "aes192-ctr".into(), ..both };
        assert!(negotiate(&client, &one_way).is_err());
    }

    #[test]
    fn aead_needs_no_mac_and_missing_common_alg_is_kex_failure() {
        let server = default_server();
        let n = negotiate(&client("curve25519-sha256", "aes128-gcm@openssh.com", "hmac-md5"), &server).unwrap();
        assert_eq!(n.mac_c2s, None);
        let err = negotiate(&client("diffie-hellman-group1-sha1", "aes128-ctr", "hmac-sha2-256"), &server).unwrap_err();
        assert_eq!(err.reason, crate::msg::DisconnectReason::KeyExchangeFailed);
    }

    #[test]
    fn kexinit_round_trips_through_decoder() {
        let bytes = encode_kexinit(&Preferences::default(), &[KeyAlg::Plain(crate::keys::SigAlg::Ed25519)], [7; 16], &[STRICT_KEX_S]);
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
