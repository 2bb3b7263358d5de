//! PKCS#12 / PFX files (RFC 7292) as `openssl pkcs12 -export` writes them in OpenSSL 3: the private key in a
//! `pkcs8ShroudedKeyBag` (PBES2: PBKDF2 and AES-256-CBC, which the `pkcs8` crate opens), the certificates
//! beside it (skipped: a host key is the key), and a MAC over the whole, HMAC keyed by the PKCS#12 KDF
//! (RFC 7292 appendix B), checked first: a wrong password fails it. `-legacy` files too: their key bag encrypted
//! with PKCS#12's own scheme (RFC 7292 appendix C: 3DES, or RC2 with `-keypbe`, keyed by the SHA-1 PKCS#12
//! KDF); the contents they encrypt whole (RC2-40) hold the certificates and are skipped.

use alloc::format;
use alloc::vec::Vec;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, InnerIvInit, KeyIvInit};
use digest::core_api::BlockSizeUser;
use digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};
use pkcs12::authenticated_safe::AuthenticatedSafe;
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::pfx::Pfx;
use pkcs12::pbe_params::Pkcs12PbeParams;
use pkcs12::safe_bag::SafeContents;
use pkcs8::der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use pkcs8::spki::AlgorithmIdentifierOwned;
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
    // OpenSSL puts the key in a plain content (`id-data`), the certificates in one encrypted whole or plain.
    for info in safe.iter().filter(|info| info.content_type == ID_DATA) {
        let bags = info.content.decode_as::<OctetString>().map_err(|_| DAMAGED)?;
        if let Some(key) = key_in(bags.as_bytes(), password)? {
            return Ok(key);
        }
    }
    Err(KeyError::Malformed("a PKCS#12 file without a private key in a plain content"))
}

/// The key of the first key bag in a DER `SafeContents`, if it has one.
fn key_in(bags: &[u8], password: &str) -> Result<Option<HostKey>, KeyError> {
    for bag in SafeContents::from_der(bags).map_err(|_| DAMAGED)? {
        // The value is the bag's `[0] EXPLICIT` element.
        let value = AnyRef::from_der(&bag.bag_value).map_err(|_| DAMAGED)?.value();
        if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
            // By its algorithm's OID first: the `pkcs8` crate parses PBES2's parameters only.
            let shrouded = pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(value).map_err(|_| DAMAGED)?;
            if shrouded.encryption_algorithm.oid != pkcs8::pkcs5::pbes2::PBES2_OID {
                let plain = legacy_decrypt(&shrouded.encryption_algorithm, shrouded.encrypted_data.as_bytes(), password)?;
                return super::files::pkcs8(&plain).map(Some);
            }
            // The MAC has shown the password right: a failure here is damage.
            let plain = EncryptedPrivateKeyInfo::from_der(value).map_err(|_| DAMAGED)?.decrypt(password).map_err(|_| DAMAGED)?;
            return super::files::pkcs8(plain.as_bytes()).map(Some);
        }
        if bag.bag_id == pkcs12::PKCS_12_KEY_BAG_OID {
            return super::files::pkcs8(value).map(Some);
        }
    }
    Ok(None)
}

/// PKCS#12's own password-based encryption (RFC 7292 appendix C): the cipher's key and IV from the SHA-1 PKCS#12
/// KDF (ids 1 and 2), CBC with PKCS#7 padding. 3DES (three or two keys) or RC2 (128 or 40 effective bits).
fn legacy_decrypt(algorithm: &AlgorithmIdentifierOwned, data: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let params = algorithm.parameters.as_ref().ok_or(DAMAGED)?.decode_as::<Pkcs12PbeParams>().map_err(|_| DAMAGED)?;
    let (salt, iterations) = (params.salt.as_bytes(), params.iterations);
    if !(1..=MAX_MAC_ITERATIONS).contains(&iterations) {
        return Err(KeyError::Refused(format!("PKCS#12 encryption of {iterations} iterations")));
    }
    let oid = algorithm.oid;
    let key_len = match oid {
        pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC => 24,
        pkcs12::PKCS_12_PBE_WITH_SHAAND2_KEY_TRIPLE_DES_CBC | pkcs12::PKCS_12_PBE_WITH_SHAAND128_BIT_RC2_CBC => 16,
        pkcs12::PKCS_12_PBEWITH_SHAAND40_BIT_RC2_CBC => 5,
        _ => return Err(KeyError::Unsupported(format!("PKCS#12 encryption {oid}"))),
    };
    let derive = |kind, len| derive_key_utf8::<sha1::Sha1>(password, salt, kind, iterations, len).map(Zeroizing::new).map_err(|_| DAMAGED);
    let (key, iv) = (derive(Pkcs12KeyType::EncryptionKey, key_len)?, derive(Pkcs12KeyType::Iv, 8)?);
    let bad = |_| DAMAGED;
    let mut plain = Zeroizing::new(data.to_vec());
    // The MAC has shown the password right: bad padding is damage.
    let len = match oid {
        pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC => {
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv).map_err(bad)?.decrypt_padded_mut::<Pkcs7>(&mut plain)
        }
        pkcs12::PKCS_12_PBE_WITH_SHAAND2_KEY_TRIPLE_DES_CBC => {
            cbc::Decryptor::<des::TdesEde2>::new_from_slices(&key, &iv).map_err(bad)?.decrypt_padded_mut::<Pkcs7>(&mut plain)
        }
        _ => {
            let rc2 = rc2::Rc2::new_with_eff_key_len(&key, key_len * 8);
            cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(rc2, &iv).map_err(bad)?.decrypt_padded_mut::<Pkcs7>(&mut plain)
        }
    }
    .map_err(|_| DAMAGED)?
    .len();
    // Zeroizing wipes the whole capacity, the padding cut off here too.
    plain.truncate(len);
    Ok(plain)
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
