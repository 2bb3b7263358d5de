//! OpenSSH certificates (`*-cert-v01@openssh.com`, OpenSSH PROTOCOL.certkeys): a public key, who and when
//! it is for, signed by a certificate authority's key. Read over the crate's [`Reader`] and checked with
//! [`PublicKey::verify`], the checks this server already makes for keys and signatures; the `ssh-key`
//! crate's `Certificate` would bring a second set of key and signature types (26 KiB of gzipped wasm
//! measured for that crate, see `openssh.rs`) for what is a page of wire format here.
//!
//! [`Certificate::from_blob`] checks everything that does not depend on the time or on whom the host
//! trusts: the structure, the CA's signature, known critical options. The validity period, the CA's trust
//! and the principals are the host's to check against its clock and configuration.

use alloc::string::String;
use alloc::vec::Vec;

use super::{KeyError, KeyType, PublicKey, SigAlg};
use base64ct::{Base64, Encoding};

use crate::wire::{Reader, Writer};

algorithms!(
    /// Certificate signature algorithms, by the name a publickey request (or host key list) names: the
    /// certificate's key makes the signature of [`CertAlg::base`].
    CertAlg {
        Ed25519 => "ssh-ed25519-cert-v01@openssh.com",
        EcdsaP256 => "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        EcdsaP384 => "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        EcdsaP521 => "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        RsaSha512 => "rsa-sha2-512-cert-v01@openssh.com",
        RsaSha256 => "rsa-sha2-256-cert-v01@openssh.com",
        RsaSha1 => "ssh-rsa-cert-v01@openssh.com",
        Dsa => "ssh-dss-cert-v01@openssh.com",
    }
);

impl CertAlg {
    /// As [`SigAlg::DEFAULT`]: all but SHA-1 `ssh-rsa` and `ssh-dss`.
    pub const DEFAULT: &'static [CertAlg] =
        &[CertAlg::Ed25519, CertAlg::EcdsaP256, CertAlg::EcdsaP384, CertAlg::EcdsaP521, CertAlg::RsaSha512, CertAlg::RsaSha256];

    /// The signature algorithm the certified key signs with.
    pub fn base(self) -> SigAlg {
        match self {
            CertAlg::Ed25519 => SigAlg::Ed25519,
            CertAlg::EcdsaP256 => SigAlg::EcdsaP256,
            CertAlg::EcdsaP384 => SigAlg::EcdsaP384,
            CertAlg::EcdsaP521 => SigAlg::EcdsaP521,
            CertAlg::RsaSha512 => SigAlg::RsaSha512,
            CertAlg::RsaSha256 => SigAlg::RsaSha256,
            CertAlg::RsaSha1 => SigAlg::RsaSha1,
            CertAlg::Dsa => SigAlg::Dsa,
        }
    }
}

/// An algorithm a publickey request may name: a plain key's, or a certificate's
/// (`SSHPubKeyAuthSigAlgorithms`, `server-sig-algs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    Plain(SigAlg),
    Cert(CertAlg),
}

impl KeyAlg {
    /// Certificates first, then plain keys, as OpenSSH's PubkeyAcceptedAlgorithms; no SHA-1.
    pub const DEFAULT: &'static [KeyAlg] = &[
        KeyAlg::Cert(CertAlg::Ed25519),
        KeyAlg::Cert(CertAlg::EcdsaP256),
        KeyAlg::Cert(CertAlg::EcdsaP384),
        KeyAlg::Cert(CertAlg::EcdsaP521),
        KeyAlg::Cert(CertAlg::RsaSha512),
        KeyAlg::Cert(CertAlg::RsaSha256),
        KeyAlg::Plain(SigAlg::Ed25519),
        KeyAlg::Plain(SigAlg::EcdsaP256),
        KeyAlg::Plain(SigAlg::EcdsaP384),
        KeyAlg::Plain(SigAlg::EcdsaP521),
        KeyAlg::Plain(SigAlg::RsaSha512),
        KeyAlg::Plain(SigAlg::RsaSha256),
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Plain(a) => a.name(),
            KeyAlg::Cert(a) => a.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        SigAlg::from_name(name).map(KeyAlg::Plain).or_else(|| CertAlg::from_name(name).map(KeyAlg::Cert))
    }

    /// The signature algorithm the request's signature is made with.
    pub fn base(self) -> SigAlg {
        match self {
            KeyAlg::Plain(a) => a,
            KeyAlg::Cert(a) => a.base(),
        }
    }
}

/// A host certificate the server presents as its host key (K_S) under the certificate's algorithm, for
/// the host key it certifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCertificate {
    pub blob: Vec<u8>,
    pub key: PublicKey,
}

impl HostCertificate {
    /// An OpenSSH certificate line (`type base64 [comment]`, as `ssh-keygen -s -h` writes it), which must
    /// be a host certificate whose CA signature verifies.
    pub fn from_openssh(line: &str) -> Result<Self, KeyError> {
        let mut words = line.split_ascii_whitespace();
        let (Some(name), Some(base64)) = (words.next(), words.next()) else {
            return Err(KeyError::Malformed("expected a certificate line: type base64 [comment]"));
        };
        let blob = Base64::decode_vec(base64).map_err(|_| KeyError::Malformed("the certificate is not base64"))?;
        let cert = Certificate::from_blob(&blob)?;
        if Reader::new(&blob).utf8().ok() != Some(name) {
            return Err(KeyError::Malformed("the line's type is not the certificate's"));
        }
        if cert.cert_type != CertType::Host {
            return Err(KeyError::Refused("a user certificate is no host certificate".into()));
        }
        Ok(HostCertificate { blob, key: cert.key })
    }

    /// `type base64`, as `HostCertificate` takes it.
    pub fn to_openssh_line(&self) -> String {
        let name = Reader::new(&self.blob).utf8().unwrap_or_default();
        alloc::format!("{name} {}", Base64::encode_string(&self.blob))
    }

    /// The algorithms it is offered under: the certificate forms of what its key signs.
    pub fn signs(&self, alg: CertAlg) -> bool {
        self.key.key_type() == alg.base().key_type()
    }
}

/// The name a certificate blob of a key type starts with.
fn cert_type_name(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Ed25519 => "ssh-ed25519-cert-v01@openssh.com",
        KeyType::EcdsaP256 => "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        KeyType::EcdsaP384 => "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        KeyType::EcdsaP521 => "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        KeyType::Rsa => "ssh-rsa-cert-v01@openssh.com",
        KeyType::Dsa => "ssh-dss-cert-v01@openssh.com",
    }
}

/// OpenSSH's limit (`SSHKEY_CERT_MAX_PRINCIPALS`).
pub const MAX_PRINCIPALS: usize = 256;
/// Critical options and extensions each: OpenSSH knows a handful; more is a certificate built to cost.
pub const MAX_OPTIONS: usize = 64;

/// Whom a certificate is for (PROTOCOL.certkeys: `SSH_CERT_TYPE_USER` 1, `SSH_CERT_TYPE_HOST` 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    User,
    Host,
}

/// The critical options this server knows; any other refuses the certificate, as PROTOCOL.certkeys says.
const KNOWN_CRITICAL: [&str; 3] = ["force-command", "source-address", "verify-required"];

/// A certificate whose structure and CA signature have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certified key: it makes the signatures the certificate is used for.
    pub key: PublicKey,
    pub serial: u64,
    pub cert_type: CertType,
    pub key_id: String,
    /// Empty: valid for any principal (PROTOCOL.certkeys); hosts usually refuse that for users.
    pub principals: Vec<String>,
    /// Seconds since the epoch; `valid_before` u64::MAX is "forever".
    pub valid_after: u64,
    pub valid_before: u64,
    /// `force-command` and `source-address` with their text, `verify-required` with none, in the
    /// certificate's (lexical) order.
    pub critical_options: Vec<(String, String)>,
    /// Names and data (usually empty), in the certificate's order.
    pub extensions: Vec<(String, Vec<u8>)>,
    /// The CA's public key blob.
    pub ca_key: Vec<u8>,
}

impl Certificate {
    /// Reads a certificate blob and checks its CA's signature (an algorithm of [`SigAlg::DEFAULT`]: no
    /// SHA-1, as OpenSSH's CASignatureAlgorithms). The CA key must be a plain key: a certificate cannot
    /// sign another.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(blob);
        let name = r.utf8()?;
        let key_type = KeyType::ALL
            .iter()
            .copied()
            .find(|t| cert_type_name(*t) == name)
            .ok_or_else(|| KeyError::Unsupported(alloc::format!("certificate type {name}")))?;
        r.string()?; // nonce
        let key = PublicKey::from_blob(&plain_key_blob(key_type, &mut r)?)?;
        let serial = r.u64()?;
        let cert_type = match r.u32()? {
            1 => CertType::User,
            2 => CertType::Host,
            _ => return Err(KeyError::Malformed("certificate type is neither user nor host")),
        };
        let key_id = r.utf8_owned()?;
        let principals = strings(r.string()?, MAX_PRINCIPALS, "too many principals")?;
        let valid_after = r.u64()?;
        let valid_before = r.u64()?;
        let critical_options =
            options(r.string()?)?.into_iter().map(|(name, data)| critical_option(name, data)).collect::<Result<Vec<_>, _>>()?;
        let extensions = options(r.string()?)?.into_iter().map(|(n, d)| (String::from(n), d.to_vec())).collect();
        r.string()?; // reserved
        let ca_key = r.string()?;
        let signed = blob.get(..blob.len() - r.remaining()).ok_or(KeyError::Malformed("certificate length"))?;
        let signature = r.string()?;
        r.finish()?;
        let ca = PublicKey::from_blob(ca_key)?;
        let sig_alg = Reader::new(signature)
            .utf8()
            .ok()
            .and_then(SigAlg::from_name)
            .filter(|a| SigAlg::DEFAULT.contains(a))
            .ok_or(KeyError::Malformed("certificate signed with an algorithm this server does not accept"))?;
        if !ca.verify(sig_alg, signed, signature) {
            return Err(KeyError::Malformed("the CA's signature on the certificate does not verify"));
        }
        Ok(Certificate {
            key,
            serial,
            cert_type,
            key_id,
            principals,
            valid_after,
            valid_before,
            critical_options,
            extensions,
            ca_key: ca_key.to_vec(),
        })
    }

    /// The text of a critical option, if the certificate has it.
    pub fn critical_option(&self, name: &str) -> Option<&str> {
        self.critical_options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The certificate's key fields as a plain public key blob (`string type` and the same fields).
fn plain_key_blob(key_type: KeyType, r: &mut Reader) -> Result<Vec<u8>, KeyError> {
    let mut w = Writer::new();
    w.string(key_type.name().as_bytes());
    match key_type {
        KeyType::Ed25519 => w.string(r.string()?),
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => w.string(r.string()?).string(r.string()?),
        KeyType::Rsa => w.mpint(r.mpint()?).mpint(r.mpint()?),
        KeyType::Dsa => w.mpint(r.mpint()?).mpint(r.mpint()?).mpint(r.mpint()?).mpint(r.mpint()?),
    };
    Ok(w.into_vec())
}

/// A packed list of UTF-8 strings, at most `max`.
fn strings(packed: &[u8], max: usize, too_many: &'static str) -> Result<Vec<String>, KeyError> {
    let mut r = Reader::new(packed);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        if out.len() == max {
            return Err(KeyError::Malformed(too_many));
        }
        out.push(r.utf8_owned()?);
    }
    Ok(out)
}

/// Critical options or extensions: `string name, string data` pairs, names in strictly increasing
/// order (PROTOCOL.certkeys: lexical order, so also no name twice), at most [`MAX_OPTIONS`].
fn options(packed: &[u8]) -> Result<Vec<(&str, &[u8])>, KeyError> {
    let mut r = Reader::new(packed);
    let mut out: Vec<(&str, &[u8])> = Vec::new();
    while r.remaining() > 0 {
        if out.len() == MAX_OPTIONS {
            return Err(KeyError::Malformed("too many certificate options"));
        }
        let name = r.utf8()?;
        let data = r.string()?;
        if out.last().is_some_and(|(previous, _)| *previous >= name) {
            return Err(KeyError::Malformed("certificate options out of order or repeated"));
        }
        out.push((name, data));
    }
    Ok(out)
}

/// A known critical option and its text (`force-command`: a string; `source-address`: a string of
/// comma-separated addresses and CIDR ranges; `verify-required`: nothing).
fn critical_option(name: &str, data: &[u8]) -> Result<(String, String), KeyError> {
    if !KNOWN_CRITICAL.contains(&name) {
        return Err(KeyError::Unsupported(alloc::format!("certificate critical option {name}")));
    }
    let mut r = Reader::new(data);
    let text = if name == "verify-required" { String::new() } else { r.utf8_owned()? };
    r.finish()?;
    Ok((name.into(), text))
}
