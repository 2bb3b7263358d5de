//! Known-answer tests of a crypto provider: published vectors for each primitive, and OpenSSH's
//! chacha20-poly1305 over it. The wasm shim runs them over the host's provider before the core uses it (a
//! runtime whose `node:crypto` computed something else would otherwise corrupt every packet, or worse);
//! the core's tests run them over its own.

use hex_literal::hex;
use subtle::ConstantTimeEq;

use crate::crypto::cipher::ChaChaPoly;
use crate::crypto::provider::{BadTag, BlockCipher, CryptoProvider, HmacHash};

pub struct ChaChaVector {
    pub name: &'static str,
    pub key: [u8; 32],
    /// Bytes 4 to 11 of RFC 8439's 96-bit nonce, whose first word (the block counter's high half in the
    /// original ChaCha20) is zero in these vectors.
    pub nonce: [u8; 8],
    pub counter: u32,
    pub plaintext: &'static [u8],
    pub ciphertext: &'static [u8],
}

const SUNSCREEN: &[u8] =
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
const JABBERWOCKY: &[u8] =
    b"'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";

pub const RFC8439_CHACHA20: [ChaChaVector; 4] = [
    ChaChaVector {
        name: "RFC 8439 A.1 #1",
        key: [0; 32],
        nonce: [0; 8],
        counter: 0,
        plaintext: &[0; 64],
        ciphertext: &hex!("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"),
    },
    ChaChaVector {
        name: "RFC 8439 A.1 #2",
        key: [0; 32],
        nonce: [0; 8],
        counter: 1,
        plaintext: &[0; 64],
        ciphertext: &hex!("9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"),
    },
    ChaChaVector {
        name: "RFC 8439 2.4.2",
        key: hex!("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        nonce: hex!("0000004a00000000"),
        counter: 1,
        plaintext: SUNSCREEN,
        ciphertext: &hex!(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d"
        ),
    },
    ChaChaVector {
        name: "RFC 8439 A.2 #3",
        key: hex!("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
        nonce: hex!("0000000000000002"),
        counter: 42,
        plaintext: JABBERWOCKY,
        ciphertext: &hex!(
            "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb
             f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f7704c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1"
        ),
    },
];

/// A packet sealed by OpenSSH's chacha20-poly1305 (PROTOCOL.chacha20poly1305): the length under the second
/// half of the key from block 0, the rest under the first half from block 1, Poly1305 keyed by block 0 of
/// the first half, the sequence number as the nonce. Computed independently with pyca/cryptography 48
/// (ChaCha20 with a 16-byte counter-and-nonce, Poly1305), under the key 01 08 0f ... (7i + 1).
pub struct OpenSshVector {
    pub seq: u32,
    pub plain: &'static [u8],
    pub sealed: &'static [u8],
    pub tag: [u8; 16],
}

pub const OPENSSH_CHACHAPOLY_KEY: [u8; 64] = hex!(
    "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3ba"
);

pub const OPENSSH_CHACHAPOLY: [OpenSshVector; 2] = [
    OpenSshVector {
        seq: 0,
        plain: &hex!("0000001806050000000c7373682d7573657261757468a0a1a2a3a4a5"),
        sealed: &hex!("845ade175596b0abffc8fc301c1d3ed03ceb8082d5c0a5b4a60af62c"),
        tag: hex!("c0d0fea9df85a39da4e47bbfc9e0341c"),
    },
    OpenSshVector {
        seq: 0x0102_0304,
        plain: &hex!(
            "00000050095e0000000000000041000d1a2734414e5b6875828f9ca9b6c3d0ddeaf704111e2b3845525f6c798693a0adbac7d4e1eefb0815222f3c
             495663707d8a97a4b1becbd8e5f2ff0cb0b1b2b3b4b5b6b7b8"
        ),
        sealed: &hex!(
            "ca853fd19dc2a3d53b6c20277c4c16a0e95ba1e0cdf5f4f1e133d057db8dd79f7ee51ffc5fa46fb0c1b1976941c567602b020e76a0293948c55b9f
             59e3935007078d94b4b929808cc1933fc35cfc871ccf6fffe1"
        ),
        tag: hex!("8cab38239b3ef1ad695df3fecc60bbf1"),
    },
];

/// McGrew and Viega, "The Galois/Counter Mode of Operation" (the NIST GCM submission), test cases 4 and 16.
pub struct GcmVector {
    pub name: &'static str,
    pub key: &'static [u8],
    pub ciphertext: [u8; 60],
    pub tag: [u8; 16],
}

pub const GCM_PLAINTEXT: [u8; 60] = hex!(
    "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
     1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39"
);
pub const GCM_AAD: [u8; 20] = hex!("feedfacedeadbeeffeedfacedeadbeef abaddad2");
pub const GCM_IV: [u8; 12] = hex!("cafebabefacedbaddecaf888");

pub const NIST_GCM: [GcmVector; 2] = [
    GcmVector {
        name: "GCM test case 4 (AES-128)",
        key: &hex!("feffe9928665731c6d6a8f9467308308"),
        ciphertext: hex!(
            "42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e 21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091"
        ),
        tag: hex!("5bc94fbc3221a5db94fae95ae7121a47"),
    },
    GcmVector {
        name: "GCM test case 16 (AES-256)",
        key: &hex!("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308"),
        ciphertext: hex!(
            "522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa 8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662"
        ),
        tag: hex!("76fc6ece0f4e1768cddf8853bb2d551b"),
    },
];

/// NIST SP 800-38A F.5.1, F.5.3 and F.5.5: AES-128, -192 and -256 in counter mode.
pub struct CtrVector {
    pub name: &'static str,
    pub key: &'static [u8],
    pub ciphertext: [u8; 64],
}

pub const CTR_PLAINTEXT: [u8; 64] = hex!(
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
);
pub const CTR_COUNTER: [u8; 16] = hex!("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

pub const SP800_38A_CTR: [CtrVector; 3] = [
    CtrVector {
        name: "SP 800-38A F.5.1 (AES-128)",
        key: &hex!("2b7e151628aed2a6abf7158809cf4f3c"),
        ciphertext: hex!("874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee"),
    },
    CtrVector {
        name: "SP 800-38A F.5.3 (AES-192)",
        key: &hex!("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"),
        ciphertext: hex!("1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94 1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050"),
    },
    CtrVector {
        name: "SP 800-38A F.5.5 (AES-256)",
        key: &hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
        ciphertext: hex!("601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6"),
    },
];

/// Sizes of the pieces a CTR vector is fed in: the keystream must run on across calls of any size.
pub const CTR_PIECES: [usize; 5] = [1, 15, 16, 5, 27];

/// A CBC vector: its name, cipher, key, IV and the ciphertext of `CTR_PLAINTEXT`.
pub type CbcVector = (&'static str, BlockCipher, &'static [u8], &'static [u8], [u8; 64]);

/// CBC vectors over the same plaintext as the CTR ones: SP 800-38A F.2.1 and F.2.5 (AES-128 and AES-256,
/// IV 00 01 .. 0f), and 3DES-EDE as OpenSSL computes it (`des-ede3-cbc`; no standard vector with SSH's
/// three independent keys is at hand).
pub const CBC: [CbcVector; 3] = [
    (
        "SP 800-38A F.2.1 CBC-AES128",
        BlockCipher::Aes,
        &hex!("2b7e151628aed2a6abf7158809cf4f3c"),
        &hex!("000102030405060708090a0b0c0d0e0f"),
        hex!("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"),
    ),
    (
        "SP 800-38A F.2.5 CBC-AES256",
        BlockCipher::Aes,
        &hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
        &hex!("000102030405060708090a0b0c0d0e0f"),
        hex!("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"),
    ),
    (
        "3DES-EDE CBC (OpenSSL)",
        BlockCipher::TripleDes,
        &hex!("0123456789abcdef23456789abcdef01456789abcdef0123"),
        &hex!("f69f2445df4f9b17"),
        hex!("2079c3d53aa763e193b79e2569ab5262516570481f25b50f73c0bda85c8e0da79bd86425fae429fdbd65a7a21b6e5d20925d8b0ef919a428154b96ed90f2bc1e"),
    ),
];

/// RFC 4231's HMAC-SHA-256 and HMAC-SHA-512 test cases (all but 5, which truncates). Every message is at
/// least 4 bytes: SSH's MAC covers `uint32 seq || packet`, so the first four play the sequence number.
pub struct HmacVector {
    pub name: &'static str,
    pub key: &'static [u8],
    pub data: &'static [u8],
    pub sha256: [u8; 32],
    pub sha512: [u8; 64],
}

pub const RFC4231: [HmacVector; 6] = [
    HmacVector {
        name: "RFC 4231 test case 1",
        key: &[0x0b; 20],
        data: b"Hi There",
        sha256: hex!("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        sha512: hex!("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
    },
    // A key shorter than the output.
    HmacVector {
        name: "RFC 4231 test case 2",
        key: b"Jefe",
        data: b"what do ya want for nothing?",
        sha256: hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        sha512: hex!("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
    },
    HmacVector {
        name: "RFC 4231 test case 3",
        key: &[0xaa; 20],
        data: &[0xdd; 50],
        sha256: hex!("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        sha512: hex!("fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
    },
    HmacVector {
        name: "RFC 4231 test case 4",
        key: &hex!("0102030405060708090a0b0c0d0e0f10111213141516171819"),
        data: &[0xcd; 50],
        sha256: hex!("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        sha512: hex!("b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
    },
    // A key longer than the block, hashed first.
    HmacVector {
        name: "RFC 4231 test case 6",
        key: &[0xaa; 131],
        data: b"Test Using Larger Than Block-Size Key - Hash Key First",
        sha256: hex!("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        sha512: hex!("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
    },
    // A long key and long data.
    HmacVector {
        name: "RFC 4231 test case 7",
        key: &[0xaa; 131],
        data: b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
        sha256: hex!("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        sha512: hex!("e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"),
    },
];

/// An HMAC test case: the hash, its name, key, message (its first four bytes the sequence number, as above)
/// and tag.
pub type HmacCase = (HmacHash, &'static str, &'static [u8], &'static [u8], &'static [u8]);

/// RFC 2202's HMAC-SHA-1 and HMAC-MD5 test cases 1, 2, 3 and 6 (a key longer than the block), for the
/// legacy MACs.
pub const RFC2202: [HmacCase; 8] = [
    (HmacHash::Sha1, "RFC 2202 HMAC-SHA-1 case 1", &[0x0b; 20], b"Hi There", &hex!("b617318655057264e28bc0b6fb378c8ef146be00")),
    (HmacHash::Sha1, "RFC 2202 HMAC-SHA-1 case 2", b"Jefe", b"what do ya want for nothing?", &hex!("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")),
    (HmacHash::Sha1, "RFC 2202 HMAC-SHA-1 case 3", &[0xaa; 20], &[0xdd; 50], &hex!("125d7342b9ac11cd91a39af48aa17b4f63f175d3")),
    (HmacHash::Sha1, "RFC 2202 HMAC-SHA-1 case 6", &[0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First", &hex!("aa4ae5e15272d00e95705637ce8a3b55ed402112")),
    (HmacHash::Md5, "RFC 2202 HMAC-MD5 case 1", &[0x0b; 16], b"Hi There", &hex!("9294727a3638bb1c13f48ef8158bfc9d")),
    (HmacHash::Md5, "RFC 2202 HMAC-MD5 case 2", b"Jefe", b"what do ya want for nothing?", &hex!("750c783e6ab0b503eaa86e310a5db738")),
    (HmacHash::Md5, "RFC 2202 HMAC-MD5 case 3", &[0xaa; 16], &[0xdd; 50], &hex!("56be34521d144c88dbb8c733f0e8b3f6")),
    (HmacHash::Md5, "RFC 2202 HMAC-MD5 case 6", &[0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First", &hex!("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")),
];

/// RFC 2286's HMAC-RIPEMD-160 test cases 1, 2, 3 and 6, for `hmac-ripemd160`.
pub const RFC2286: [HmacCase; 4] = [
    (HmacHash::Ripemd160, "RFC 2286 HMAC-RIPEMD-160 case 1", &[0x0b; 20], b"Hi There", &hex!("24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668")),
    (HmacHash::Ripemd160, "RFC 2286 HMAC-RIPEMD-160 case 2", b"Jefe", b"what do ya want for nothing?", &hex!("dda6c0213a485a9e24f4742064a7f033b43c4069")),
    (HmacHash::Ripemd160, "RFC 2286 HMAC-RIPEMD-160 case 3", &[0xaa; 20], &[0xdd; 50], &hex!("b0b105360de759960ab4f35298e116e295d8e7c1")),
    (HmacHash::Ripemd160, "RFC 2286 HMAC-RIPEMD-160 case 6", &[0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First", &hex!("6466ca07ac5eac29e1bd523e5ada7605b791fd8b")),
];

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Runs every vector of the primitives the default algorithms use, and AES-CBC's and HMAC-SHA-1's, over
/// `provider`; the error names the first that failed.
pub fn check(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    check_chacha20(provider)?;
    check_openssh(provider)?;
    check_gcm(provider)?;
    check_ctr(provider)?;
    check_cbc(provider, BlockCipher::Aes)?;
    let sha2 = RFC4231.iter().flat_map(|v| -> [HmacCase; 2] { [(HmacHash::Sha256, v.name, v.key, v.data, &v.sha256), (HmacHash::Sha512, v.name, v.key, v.data, &v.sha512)] });
    check_hmac(provider, sha2.chain(RFC2202.into_iter().filter(|c| c.0 == HmacHash::Sha1)))
}

/// Runs the vectors of the legacy primitives a provider may have (3DES-CBC, HMAC-MD5, HMAC-RIPEMD-160) over
/// `provider`, apart from [`check`]: where they live in a module of their own, checking them loads it.
pub fn check_legacy(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    check_cbc(provider, BlockCipher::TripleDes)?;
    check_hmac(provider, RFC2202.into_iter().filter(|c| c.0 == HmacHash::Md5).chain(RFC2286))
}

fn check_chacha20(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    let mut buf = [0u8; 128];
    for v in &RFC8439_CHACHA20 {
        let data = buf.get_mut(..v.plaintext.len()).ok_or(v.name)?;
        data.copy_from_slice(v.plaintext);
        provider.chacha20(&v.key).apply(&v.nonce, v.counter, data);
        if !same(data, v.ciphertext) {
            return Err(v.name);
        }
    }
    Ok(())
}

fn check_openssh(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    const NAME: &str = "OpenSSH chacha20-poly1305";
    let mut cipher = ChaChaPoly::new(provider, &OPENSSH_CHACHAPOLY_KEY).ok_or(NAME)?;
    let mut buf = [0u8; 96];
    for v in &OPENSSH_CHACHAPOLY {
        let packet = buf.get_mut(..v.plain.len()).ok_or(NAME)?;
        packet.copy_from_slice(v.plain);
        let tag = cipher.seal(v.seq, packet);
        if !same(packet, v.sealed) || !same(&tag, &v.tag) {
            return Err(NAME);
        }
        let length: [u8; 4] = v.sealed.get(..4).and_then(|l| l.try_into().ok()).ok_or(NAME)?;
        let plain_length = v.plain.get(..4).and_then(|l| l.try_into().ok()).map(u32::from_be_bytes);
        if Some(cipher.packet_length(v.seq, length)) != plain_length || cipher.open(v.seq, packet, &v.tag).is_err() {
            return Err(NAME);
        }
        if packet.get(4..) != v.plain.get(4..) {
            return Err(NAME);
        }
    }
    Ok(())
}

fn check_gcm(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    for v in &NIST_GCM {
        let mut key = provider.aes_gcm(v.key).ok_or(v.name)?;
        let mut data = GCM_PLAINTEXT;
        let tag = key.seal(&GCM_IV, &GCM_AAD, &mut data);
        if !same(&data, &v.ciphertext) || !same(&tag, &v.tag) {
            return Err(v.name);
        }
        if key.open(&GCM_IV, &GCM_AAD, &mut data, &v.tag).is_err() || !same(&data, &GCM_PLAINTEXT) {
            return Err(v.name);
        }
        let mut forged = v.tag;
        if let Some(b) = forged.first_mut() {
            *b ^= 1;
        }
        let mut data = v.ciphertext;
        if key.open(&GCM_IV, &GCM_AAD, &mut data, &forged) != Err(BadTag) || same(&data, &GCM_PLAINTEXT) {
            return Err(v.name);
        }
    }
    Ok(())
}

fn check_ctr(provider: &dyn CryptoProvider) -> Result<(), &'static str> {
    for v in &SP800_38A_CTR {
        let mut stream = provider.aes_ctr(v.key, &CTR_COUNTER).ok_or(v.name)?;
        let mut data = CTR_PLAINTEXT;
        let mut rest = data.as_mut_slice();
        for n in CTR_PIECES {
            let (piece, tail) = rest.split_at_mut(n.min(rest.len()));
            stream.apply(piece);
            rest = tail;
        }
        if !rest.is_empty() || !same(&data, &v.ciphertext) {
            return Err(v.name);
        }
    }
    Ok(())
}

/// Encrypts and decrypts each vector of `only` in two calls (a block, then the rest), so the chaining must carry.
fn check_cbc(provider: &dyn CryptoProvider, only: BlockCipher) -> Result<(), &'static str> {
    for (name, cipher, key, iv, ciphertext) in CBC.iter().filter(|v| v.1 == only) {
        for decrypt in [false, true] {
            let mut keyed = provider.cbc(*cipher, key, iv, decrypt).ok_or(*name)?;
            let mut data = if decrypt { *ciphertext } else { CTR_PLAINTEXT };
            let (first, rest) = data.split_at_mut(cipher.block_len());
            keyed.apply(first);
            keyed.apply(rest);
            if !same(&data, if decrypt { &CTR_PLAINTEXT } else { ciphertext }) {
                return Err(name);
            }
        }
    }
    Ok(())
}

fn check_hmac(provider: &dyn CryptoProvider, cases: impl Iterator<Item = HmacCase>) -> Result<(), &'static str> {
    for (hash, name, key, data, expected) in cases {
        let (seq, packet) = data.split_first_chunk::<4>().ok_or(name)?;
        let seq = u32::from_be_bytes(*seq);
        let mut mac = provider.hmac(hash, key).ok_or(name)?;
        let mut tag = [0u8; 64];
        let tag = tag.get_mut(..hash.output_len()).ok_or(name)?;
        // Twice: a keyed MAC serves every packet of a direction.
        for _ in 0..2 {
            tag.fill(0);
            mac.sign(seq, packet, tag);
            if !same(tag, expected) {
                return Err(name);
            }
        }
    }
    Ok(())
}
