//! PKCS#12 / PFX files (RFC 7292) as `openssl pkcs12 -export` writes them in OpenSSL 3: the private key in a
//! `pkcs8ShroudedKeyBag` (PBES2: PBKDF2 and AES-256-CBC, which the `pkcs8` crate opens), the certificates
//! beside it (skipped: a host key is the key), and a MAC over the whole, HMAC keyed by the PKCS#12 KDF
//! (RFC 7292 appendix B), checked first: a wrong password fails it. `-legacy` files (RC2 and 3DES with the
//! PKCS#12 KDF) are refused with what to do instead: no maintained crate reads those ciphers that way.

use alloc::format;
use digest::core_api::BlockSizeUser;
use digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};
use pkcs12::authenticated_safe::AuthenticatedSafe;
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;
use pkcs8::der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use pkcs8::der::Decode;
use pkcs8::{AssociatedOid, EncryptedPrivateKeyInfo};
use zeroize::Zeroizing;

use super::{HostKey, KeyError};

const DAMAGED: KeyError = KeyError::Malformed("damaged PKCS#12 file");
/// `id-data` (RFC 5652 §4): content stored as it is, where OpenSSL puts the shrouded key bag.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// OpenSSL's default is 2048; a file asking for far more would stall the host at start.
const MAX_MAC_ITERATIONS: i32 = 1 << 20;

/// Whether `bytes` may be a PFX: a DER SEQUENCE.
pub(super) fn is_pkcs12(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30)
}

pub(super) fn read(der: &[u8], password: Option<&str>) -> Result<HostKey, KeyError> {
    let pfx = Pfx::from_der(der).map_err(|_| DAMAGED)?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(KeyError::Unsupported("PKCS#12 files signed with a public key (only password integrity is read)".into()));
    }
    let content = pfx.auth_safe.content.decode_as::<OctetString>().map_err(|_| DAMAGED)?;
    let content = content.as_bytes();
    // OpenSSL writes an empty password's file with one, so an absent passphrase is the empty one.
    let password = password.unwrap_or("");
    let mac = pfx.mac_data.ok_or_else(|| KeyError::Unsupported("PKCS#12 files without a MAC".into()))?;
    let (salt, iterations, expected) = (mac.mac_salt.as_bytes(), mac.iterations, mac.mac.digest.as_bytes());
    if !(1..=MAX_MAC_ITERATIONS).contains(&iterations) {
        return Err(KeyError::Refused(format!("a PKCS#12 MAC of {iterations} iterations")));
    }
    let oid = mac.mac.algorithm.oid;
    let ok = if oid == sha2::Sha256::OID {
        mac_matches::<sha2::Sha256>(password, salt, iterations, content, expected)
    } else if oid == sha2::Sha384::OID {
        mac_matches::<sha2::Sha384>(password, salt, iterations, content, expected)
    } else if oid == sha2::Sha512::OID {
        mac_matches::<sha2::Sha512>(password, salt, iterations, content, expected)
    } else if oid == sha1::Sha1::OID {
        mac_matches::<sha1::Sha1>(password, salt, iterations, content, expected)
    } else {
        return Err(KeyError::Unsupported(format!("PKCS#12 MACs with digest {oid}")));
    }?;
    if !ok {
        return Err(KeyError::WrongPassphrase);
    }
    let safe = AuthenticatedSafe::from_der(content).map_err(|_| DAMAGED)?;
    for info in safe.iter().filter(|info| info.content_type == ID_DATA) {
        let bags = info.content.decode_as::<OctetString>().map_err(|_| DAMAGED)?;
        for bag in SafeContents::from_der(bags.as_bytes()).map_err(|_| DAMAGED)? {
            // The value is the bag's `[0] EXPLICIT` element.
            let value = AnyRef::from_der(&bag.bag_value).map_err(|_| DAMAGED)?.value();
            if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
                // By its algorithm's OID first: the `pkcs8` crate parses PBES2's parameters only.
                let scheme = pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(value).map_err(|_| DAMAGED)?.encryption_algorithm.oid;
                if scheme != pkcs8::pkcs5::pbes2::PBES2_OID {
                    return Err(legacy());
                }
                let shrouded = EncryptedPrivateKeyInfo::from_der(value).map_err(|_| DAMAGED)?;
                // The MAC has shown the password right: a failure here is damage.
                let plain = shrouded.decrypt(password).map_err(|_| DAMAGED)?;
                return super::files::pkcs8(plain.as_bytes());
            }
            if bag.bag_id == pkcs12::PKCS_12_KEY_BAG_OID {
                return super::files::pkcs8(value);
            }
        }
    }
    // `-legacy` puts the key in an encrypted content too; anything else has no key.
    if safe.iter().any(|info| info.content_type != ID_DATA) {
        return Err(legacy());
    }
    Err(KeyError::Malformed("a PKCS#12 file without a private key"))
}

fn legacy() -> KeyError {
    KeyError::Unsupported(
        "PKCS#12 files encrypted with legacy ciphers (openssl -legacy); export it again with OpenSSL 3's defaults (PBES2, AES-256-CBC)"
            .into(),
    )
}

/// HMAC-`D` over `content`, keyed by the PKCS#12 KDF (id 3, MAC), compared in constant time with `expected`.
fn mac_matches<D>(password: &str, salt: &[u8], iterations: i32, content: &[u8], expected: &[u8]) -> Result<bool, KeyError>
where
    D: Digest + FixedOutputReset + BlockSizeUser + Clone,
{
    let key = Zeroizing::new(
        derive_key_utf8::<D>(password, salt, Pkcs12KeyType::Mac, iterations, <D as Digest>::output_size()).map_err(|_| DAMAGED)?,
    );
    let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(&key).map_err(|_| DAMAGED)?;
    mac.update(content);
    Ok(mac.verify_slice(expected).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn the_mac_key_is_the_pkcs12_kdf_openssl_computes() {
        // `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexpass:006b006100740000 (`kat` as the
        //  NUL-terminated BMPString the KDF takes) -kdfopt hexsalt:0102030405060708 -kdfopt iter:2048
        //  -kdfopt id:3 PKCS12KDF` (OpenSSL 3.0).
        let key = derive_key_utf8::<sha2::Sha256>("kat", &hex!("0102030405060708"), Pkcs12KeyType::Mac, 2048, 32).unwrap();
        assert_eq!(key, hex!("52A9C3A1674051A70B546B5F8F6E4CA45E1A8ED81AD1E830BB7E4DBD3B39F4A2"));
    }

    #[test]
    fn damage_is_an_error() {
        assert!(read(&[0x30, 0x03, 0x02, 0x01, 0x03], None).is_err());
        assert!(!is_pkcs12(b"-----BEGIN"));
    }
}
