//! JSON Web Keys (RFC 7517) holding a private key: `OKP` Ed25519 (RFC 8037), `EC` P-256/384/521 and `RSA`
//! (RFC 7518 §6), as `crypto.generateKeyPairSync(...).privateKey.export({ format: 'jwk' })` writes them. The
//! members are read as borrowed slices of the text (base64url has nothing to unescape), so that no copy of
//! a secret is left behind but the decoded bytes, which are wiped on drop.

use alloc::format;
use alloc::vec::Vec;
use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_dalek::SigningKey;
use rsa::{BigUint, RsaPrivateKey};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{HostKey, KeyError, RSA_MAX_BITS};

const DAMAGED: KeyError = KeyError::Malformed("damaged JWK");

/// The members a private key needs; others (`kid`, `use`, `alg`, CRT values) are ignored.
#[derive(Deserialize)]
struct Jwk<'a> {
    kty: &'a str,
    crv: Option<&'a str>,
    x: Option<&'a str>,
    y: Option<&'a str>,
    d: Option<&'a str>,
    n: Option<&'a str>,
    e: Option<&'a str>,
    p: Option<&'a str>,
    q: Option<&'a str>,
}

/// Whether `text` looks like a JSON object (a JWK).
pub(super) fn is_jwk(text: &str) -> bool {
    text.starts_with('{')
}

fn decode(member: Option<&str>) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    Ok(Zeroizing::new(Base64UrlUnpadded::decode_vec(member.ok_or(DAMAGED)?).map_err(|_| DAMAGED)?))
}

pub(super) fn read(text: &str) -> Result<HostKey, KeyError> {
    let jwk: Jwk = serde_json::from_str(text).map_err(|_| DAMAGED)?;
    if jwk.d.is_none() {
        return Err(KeyError::Unsupported("a JWK without its private part (`d`)".into()));
    }
    let d = decode(jwk.d)?;
    let unusable = || KeyError::Malformed("unusable private key");
    let key = match (jwk.kty, jwk.crv) {
        ("OKP", Some("Ed25519")) => HostKey::Ed25519(SigningKey::from_bytes(d.as_slice().try_into().map_err(|_| DAMAGED)?)),
        ("EC", Some("P-256")) => HostKey::EcdsaP256(p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| unusable())?),
        ("EC", Some("P-384")) => HostKey::EcdsaP384(p384::ecdsa::SigningKey::from_slice(&d).map_err(|_| unusable())?),
        ("EC", Some("P-521")) => HostKey::p521(ecdsa::SigningKey::from_slice(&d).map_err(|_| unusable())?),
        ("RSA", _) => {
            let n = decode(jwk.n)?;
            if n.len() * 8 > RSA_MAX_BITS {
                return Err(KeyError::Refused(format!("RSA key over {RSA_MAX_BITS} bits")));
            }
            let primes = alloc::vec![BigUint::from_bytes_be(&decode(jwk.p)?), BigUint::from_bytes_be(&decode(jwk.q)?)];
            let (n, e, d) = (BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&decode(jwk.e)?), BigUint::from_bytes_be(&d));
            // from_components checks that the primes make n and that d inverts e.
            return HostKey::rsa(RsaPrivateKey::from_components(n, e, d, primes).map_err(|_| unusable())?);
        }
        (kty, crv) => {
            return Err(KeyError::Unsupported(format!("JWKs of type {kty}{}", crv.map(|c| format!(" on {c}")).unwrap_or_default())))
        }
    };
    // The public members must be the private key's.
    let public = key.public().blob();
    let mut point = decode(jwk.x)?.to_vec();
    if let Some(y) = jwk.y {
        point.insert(0, 4);
        point.extend_from_slice(&decode(Some(y))?);
    }
    if !public.ends_with(&point) || point.len() < 32 {
        return Err(KeyError::Malformed("the JWK's public members do not match its private key"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Node's `crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' })`;
    // the public line is `ssh-keygen -y` of the same key exported as PKCS#8.
    const EC: &str = r#"{"kty":"EC","x":"BMZ50hcpbAyIA94gTIztOg9UCxfgEehGETOsrT-rCaCsSqugX-Pw3Hj2x-K6NLWD","y":"GL67V1a3A4n-_WTEbIhqSEpw4qmc7azQeP-uffaY03fP9RrLpIWq8x7o2CEjxa5f","crv":"P-384","d":"z0SGxcYLqiGL8ZJyZrr_CqSF2OMdjH035aCD-Kf-9CFs4ZbRkbnro13W5oMAuqXX"}"#;
    const EC_PUBLIC: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBATGedIXKWwMiAPeIEyM7ToPVAsX4BHoRhEzrK0/qwmgrEqroF/j8Nx49sfiujS1gxi+u1dWtwOJ/v1kxGyIakhKcOKpnO2s0Hj/rn32mNN3z/Uay6SFqvMe6NghI8WuXw==";

    #[test]
    fn reads_nodes_jwk_and_checks_its_public_members() {
        assert_eq!(read(EC).unwrap().public().to_openssh_line(), EC_PUBLIC);
        // Another key's public point, a missing private part, another curve, damage.
        assert!(matches!(read(&EC.replace("\"x\":\"BM", "\"x\":\"BN")), Err(KeyError::Malformed(_))));
        assert!(matches!(read(&EC.replace("\"d\":", "\"e\":")), Err(KeyError::Unsupported(_))));
        assert!(matches!(read(&EC.replace("P-384", "secp256k1")), Err(KeyError::Unsupported(_))));
        for cut in 0..EC.len() {
            assert!(read(&EC[..cut]).is_err(), "cut at {cut}");
        }
    }
}
