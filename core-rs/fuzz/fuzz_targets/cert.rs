//! OpenSSH certificates (`keys::cert`): the first byte picks what the rest is: 0 a certificate blob for
//! `Certificate::from_blob`; 1 a certificate line for `HostCertificate::from_openssh`, the blob armoured
//! here in base64 so that the fuzzer works on the format rather than on the encoding.

#![no_main]

use base64ct::{Base64, Encoding};
use libfuzzer_sys::fuzz_target;
use wasshd_core::keys::{CertType, Certificate, HostCertificate, PublicKey, MAX_OPTIONS, MAX_PRINCIPALS};
use wasshd_core::wire::Reader;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    if which % 2 == 0 {
        let Ok(cert) = Certificate::from_blob(bytes) else { return };
        assert!(
            cert.principals.len() <= MAX_PRINCIPALS && cert.critical_options.len() <= MAX_OPTIONS && cert.extensions.len() <= MAX_OPTIONS
        );
        assert_eq!(PublicKey::from_blob(&cert.key.blob()).as_ref(), Ok(&cert.key), "the certified key reads back");
        assert!(PublicKey::from_blob(&cert.ca_key).is_ok(), "the CA key read when the signature was checked");
    } else {
        let name = Reader::new(bytes).utf8().unwrap_or("x");
        let line = format!("{name} {} comment", Base64::encode_string(bytes));
        let Ok(host) = HostCertificate::from_openssh(&line) else { return };
        let cert = Certificate::from_blob(&host.blob).expect("a host certificate reads as a certificate");
        assert_eq!((cert.cert_type, &cert.key), (CertType::Host, &host.key));
        assert_eq!(host.to_openssh_line(), line.rsplit_once(' ').map(|(l, _)| l).unwrap_or_default());
    }
});
