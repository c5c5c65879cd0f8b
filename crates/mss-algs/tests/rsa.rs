//! RSA signature and key-transport tests, cross-checked against OpenSSL.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use der::{Decode, Encode};
use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::rsa::{
    KeyTransport, RsaPrivateKey, decrypt_key, encrypt_key, generate_private_key, private_key_bits,
    sign_digest,
};
use mss_algs::signature::{SignatureAlgorithm, SignatureScheme, public_key_bits, verify_digest};
use pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

struct Fixture {
    key_pem: Vec<u8>,
    pub_pem: Vec<u8>,
    key: RsaPrivateKey,
    spki: SubjectPublicKeyInfoOwned,
}

/// A 2048-bit key made by OpenSSL once per test binary.
fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        common::openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "key.pem",
            ],
        );
        common::openssl(d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
        let spki_der =
            common::openssl(d, &["pkey", "-in", "key.pem", "-pubout", "-outform", "DER"]);
        let key_pem = common::read(d, "key.pem");
        let key = RsaPrivateKey::from_pkcs8_pem(std::str::from_utf8(&key_pem).expect("utf8"))
            .expect("parse key");
        Fixture {
            key_pem,
            pub_pem: common::read(d, "pub.pem"),
            key,
            spki: SubjectPublicKeyInfoOwned::from_der(&spki_der).expect("parse spki"),
        }
    })
}

/// A fresh directory holding `key.pem` and `pub.pem` of the fixture.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write(dir.path(), "key.pem", &fx().key_pem);
    common::write(dir.path(), "pub.pem", &fx().pub_pem);
    dir
}

fn spki_of(key: &RsaPrivateKey) -> SubjectPublicKeyInfoOwned {
    let der = key.to_public_key().to_public_key_der().expect("spki der");
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).expect("spki")
}

const SIGNING_DIGESTS: [DigestAlgorithm; 5] = [
    DigestAlgorithm::Sha1,
    DigestAlgorithm::Sha224,
    DigestAlgorithm::Sha256,
    DigestAlgorithm::Sha384,
    DigestAlgorithm::Sha512,
];

#[test]
fn sign_verify_round_trips_with_generated_key() {
    let key = generate_private_key(2048).expect("keygen");
    let spki = spki_of(&key);
    assert_eq!(public_key_bits(&spki), Ok(2048));
    assert_eq!(private_key_bits(&key), 2048);
    for d in SIGNING_DIGESTS.into_iter().chain([DigestAlgorithm::Md5]) {
        let digest = d.digest(b"message");
        for alg in [
            SignatureAlgorithm::rsa_pkcs1v15(d),
            SignatureAlgorithm::rsa_pss(d),
        ] {
            let sig = sign_digest(&key, &alg, &digest).expect("sign");
            assert_eq!(sig.len(), 256);
            assert_eq!(
                verify_digest(&spki, &alg, &digest, &sig),
                Ok(()),
                "{}",
                alg.name()
            );
            let other = d.digest(b"other message");
            assert_eq!(
                verify_digest(&spki, &alg, &other, &sig),
                Err(AlgError::BadSignature)
            );
            let mut bad = sig.clone();
            bad[100] ^= 0x40;
            assert_eq!(
                verify_digest(&spki, &alg, &digest, &bad),
                Err(AlgError::BadSignature)
            );
            assert_eq!(
                verify_digest(&spki, &alg, &digest, &sig[1..]),
                Err(AlgError::BadSignature)
            );
        }
        // A v1.5 signature is not a PSS signature and vice versa.
        let v15 = sign_digest(&key, &SignatureAlgorithm::rsa_pkcs1v15(d), &digest).expect("sign");
        assert_eq!(
            verify_digest(&spki, &SignatureAlgorithm::rsa_pss(d), &digest, &v15),
            Err(AlgError::BadSignature)
        );
    }
    // PSS verifies with the salt length the parameters announce.
    let d = DigestAlgorithm::Sha256;
    let digest = d.digest(b"salt");
    let alg = SignatureAlgorithm {
        salt_len: 20,
        ..SignatureAlgorithm::rsa_pss(d)
    };
    let sig = sign_digest(&key, &alg, &digest).expect("sign");
    assert_eq!(verify_digest(&spki, &alg, &digest, &sig), Ok(()));
    assert_eq!(
        verify_digest(&spki, &SignatureAlgorithm::rsa_pss(d), &digest, &sig),
        Err(AlgError::BadSignature)
    );
    // Digest of the wrong length is a caller error, not a panic.
    assert!(matches!(
        sign_digest(&key, &SignatureAlgorithm::rsa_pss(d), &digest[1..]),
        Err(AlgError::InvalidParameters { .. })
    ));
    assert!(matches!(
        verify_digest(&spki, &SignatureAlgorithm::rsa_pss(d), &digest[1..], &sig),
        Err(AlgError::InvalidParameters { .. })
    ));
}

fn pkeyutl_sign(dir: &Path, digest: &[u8], opts: &[&str]) -> Vec<u8> {
    common::write(dir, "dgst.bin", digest);
    let mut args = vec!["pkeyutl", "-sign", "-inkey", "key.pem", "-in", "dgst.bin"];
    for o in opts {
        args.extend(["-pkeyopt", o]);
    }
    common::openssl(dir, &args)
}

#[test]
fn openssl_signatures_verify() {
    let dir = workdir();
    let d = dir.path();
    let f = fx();
    let cases: [(SignatureAlgorithm, &[&str]); 5] = [
        (
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
            &["digest:sha256"],
        ),
        (
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha512),
            &["digest:sha512"],
        ),
        (
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha1),
            &["digest:sha1"],
        ),
        (
            SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256),
            &[
                "digest:sha256",
                "rsa_padding_mode:pss",
                "rsa_pss_saltlen:32",
            ],
        ),
        (
            // Maximum salt: 256 - 48 - 2 = 206 bytes.
            SignatureAlgorithm {
                salt_len: 206,
                ..SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha384)
            },
            &[
                "digest:sha384",
                "rsa_padding_mode:pss",
                "rsa_pss_saltlen:max",
            ],
        ),
    ];
    for (alg, opts) in cases {
        let digest = alg.digest.digest(b"signed by openssl");
        let sig = pkeyutl_sign(d, &digest, opts);
        assert_eq!(
            verify_digest(&f.spki, &alg, &digest, &sig),
            Ok(()),
            "{}",
            alg.name()
        );
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert_eq!(
            verify_digest(&f.spki, &alg, &digest, &bad),
            Err(AlgError::BadSignature)
        );
    }
}

#[test]
fn openssl_verifies_our_signatures() {
    let dir = workdir();
    let d = dir.path();
    let f = fx();
    let cases: [(SignatureAlgorithm, &[&str]); 3] = [
        (
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
            &["digest:sha256"],
        ),
        (
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha384),
            &["digest:sha384"],
        ),
        (
            SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256),
            &[
                "digest:sha256",
                "rsa_padding_mode:pss",
                "rsa_pss_saltlen:32",
            ],
        ),
    ];
    for (alg, opts) in cases {
        let digest = alg.digest.digest(b"signed by mss");
        let sig = sign_digest(&f.key, &alg, &digest).expect("sign");
        common::write(d, "dgst.bin", &digest);
        common::write(d, "sig.bin", &sig);
        let mut args = vec![
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "dgst.bin", "-sigfile",
            "sig.bin",
        ];
        for o in opts {
            args.extend(["-pkeyopt", o]);
        }
        let out = common::openssl(d, &args);
        assert!(
            String::from_utf8_lossy(&out).contains("Signature Verified Successfully"),
            "{}",
            alg.name()
        );
    }
}

/// A self-signed certificate signed by OpenSSL with RSASSA-PSS: its
/// `signatureAlgorithm` is read and its signature verified over the TBS digest.
#[test]
fn openssl_pss_certificate_parameters_and_signature() {
    let dir = workdir();
    let d = dir.path();
    for (md, saltopt, salt) in [
        ("sha256", "32", 32usize),
        ("sha512", "max", 256 - 64 - 2),
        ("sha256", "20", 20),
    ] {
        common::openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "key.pem",
                "-subj",
                "/CN=pss",
                "-days",
                "1",
                &format!("-{md}"),
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                &format!("rsa_pss_saltlen:{saltopt}"),
                "-outform",
                "DER",
                "-out",
                "cert.der",
            ],
        );
        let cert = x509_cert::Certificate::from_der(&common::read(d, "cert.der")).expect("cert");
        let digest_alg = DigestAlgorithm::from_name(md).expect("digest");
        let alg =
            SignatureAlgorithm::from_algorithm_identifier(cert.signature_algorithm(), digest_alg)
                .expect("pss params");
        assert_eq!(alg.scheme, SignatureScheme::RsaPss);
        assert_eq!(alg.digest, digest_alg);
        assert_eq!(alg.salt_len, salt);
        // Our encoding of the same algorithm is byte-identical to OpenSSL's.
        assert_eq!(
            alg.to_algorithm_identifier()
                .expect("encode")
                .to_der()
                .expect("der"),
            cert.signature_algorithm().to_der().expect("der"),
            "{md} salt {salt}"
        );
        let tbs = cert.tbs_certificate().to_der().expect("tbs");
        let sig = cert.signature().as_bytes().expect("sig bits");
        assert_eq!(
            verify_digest(&fx().spki, &alg, &digest_alg.digest(&tbs), sig),
            Ok(())
        );
        // The same parameters with a mismatching digestAlgorithm are refused.
        assert!(
            SignatureAlgorithm::from_algorithm_identifier(
                cert.signature_algorithm(),
                DigestAlgorithm::Sha384
            )
            .is_err()
        );
    }
}

#[test]
fn signature_algorithm_identifiers() {
    for d in SIGNING_DIGESTS.into_iter().chain([DigestAlgorithm::Md5]) {
        for alg in [
            SignatureAlgorithm::rsa_pkcs1v15(d),
            SignatureAlgorithm::rsa_pss(d),
            SignatureAlgorithm {
                salt_len: 0,
                ..SignatureAlgorithm::rsa_pss(d)
            },
            SignatureAlgorithm {
                salt_len: 300,
                ..SignatureAlgorithm::rsa_pss(d)
            },
        ] {
            let ai = alg.to_algorithm_identifier().expect("encode");
            // Through DER and back.
            let ai =
                AlgorithmIdentifierOwned::from_der(&ai.to_der().expect("der")).expect("decode");
            let back = SignatureAlgorithm::from_algorithm_identifier(&ai, d).expect("decode alg");
            if alg.scheme == SignatureScheme::RsaPkcs1v15 {
                assert_eq!(back.scheme, alg.scheme);
                assert_eq!(back.digest, d);
            } else {
                assert_eq!(back, alg);
            }
            assert_eq!(
                SignatureAlgorithm::from_name(&alg.name()).map(|a| (a.scheme, a.digest)),
                Ok((alg.scheme, d))
            );
        }
    }
    assert_eq!(
        SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256).name(),
        "rsa-pss-sha256"
    );
    assert_eq!(
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256).name(),
        "rsa-pkcs1v15-sha256"
    );
    // sha256WithRSAEncryption with NULL parameters, exactly.
    let ai = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256)
        .to_algorithm_identifier()
        .expect("encode");
    assert_eq!(
        hex::encode(ai.to_der().expect("der")),
        "300d06092a864886f70d01010b0500"
    );
    // rsaEncryption as signatureAlgorithm (common on input) means v1.5 with the given digest.
    let rsa_enc = AlgorithmIdentifierOwned::from_der(
        &hex::decode("300d06092a864886f70d0101010500").expect("hex"),
    )
    .expect("ai");
    let alg = SignatureAlgorithm::from_algorithm_identifier(&rsa_enc, DigestAlgorithm::Sha384)
        .expect("alg");
    assert_eq!(
        alg,
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha384)
    );
    // Absent parameters are accepted too; digest mismatch is refused.
    let absent = AlgorithmIdentifierOwned::from_der(
        &hex::decode("300b06092a864886f70d01010b").expect("hex"),
    )
    .expect("ai");
    assert!(
        SignatureAlgorithm::from_algorithm_identifier(&absent, DigestAlgorithm::Sha256).is_ok()
    );
    assert!(matches!(
        SignatureAlgorithm::from_algorithm_identifier(&absent, DigestAlgorithm::Sha1),
        Err(AlgError::InvalidParameters { .. })
    ));
    // PSS with all-default parameters (empty SEQUENCE) means SHA-1, MGF1-SHA-1, salt 20.
    let pss_default = AlgorithmIdentifierOwned::from_der(
        &hex::decode("300d06092a864886f70d01010a3000").expect("hex"),
    )
    .expect("ai");
    let alg = SignatureAlgorithm::from_algorithm_identifier(&pss_default, DigestAlgorithm::Sha1)
        .expect("alg");
    assert_eq!(
        alg,
        SignatureAlgorithm {
            salt_len: 20,
            ..SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha1)
        }
    );
    assert_eq!(alg.to_algorithm_identifier().expect("encode"), pss_default);
    // PSS hash with *absent* parameters (RFC 5754 style) is accepted like NULL.
    // SEQUENCE { [0] { sha256 }, [1] { mgf1 { sha256 } }, [2] 32 }
    let pss_absent = hex::decode(
        "303d06092a864886f70d01010a3030a00d300b0609608648016503040201\
         a11a301806092a864886f70d010108300b0609608648016503040201a203020120",
    )
    .expect("hex");
    let ai = AlgorithmIdentifierOwned::from_der(&pss_absent).expect("ai");
    let alg =
        SignatureAlgorithm::from_algorithm_identifier(&ai, DigestAlgorithm::Sha256).expect("alg");
    assert_eq!(alg, SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256));
    // ecdsa-with-SHA256 is now known (see tests/asymmetric.rs)…
    let ecdsa = AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
        parameters: None,
    };
    assert_eq!(
        SignatureAlgorithm::from_algorithm_identifier(&ecdsa, DigestAlgorithm::Sha256),
        Ok(SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256))
    );
    // …unknown OIDs (here ML-DSA-44) are not.
    let unknown = AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17"),
        parameters: None,
    };
    assert!(matches!(
        SignatureAlgorithm::from_algorithm_identifier(&unknown, DigestAlgorithm::Sha256),
        Err(AlgError::Unsupported(_))
    ));
}

#[test]
fn key_transport_round_trips() {
    let f = fx();
    let cek = [0x33u8; 32];
    for kt in [
        KeyTransport::RsaPkcs1v15,
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1,
        },
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        },
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha512,
        },
    ] {
        let ct = encrypt_key(&f.spki, &kt, &cek).expect("encrypt");
        assert_eq!(ct.len(), 256);
        assert_eq!(
            &decrypt_key(&f.key, &kt, &ct, Some(32)).expect("decrypt")[..],
            &cek
        );
        assert_eq!(
            &decrypt_key(&f.key, &kt, &ct, None).expect("decrypt")[..],
            &cek
        );
        // Randomised encryption.
        assert_ne!(encrypt_key(&f.spki, &kt, &cek).expect("encrypt"), ct);
    }
    // OAEP failures are plain errors.
    let kt = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha256,
    };
    let ct = encrypt_key(&f.spki, &kt, &cek).expect("encrypt");
    let sha1 = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha1,
    };
    assert_eq!(
        decrypt_key(&f.key, &sha1, &ct, None),
        Err(AlgError::DecryptionFailed)
    );
    assert_eq!(
        decrypt_key(&f.key, &kt, &ct, Some(16)),
        Err(AlgError::DecryptionFailed)
    );
    assert_eq!(
        decrypt_key(&f.key, &kt, &ct[1..], None),
        Err(AlgError::DecryptionFailed)
    );
}

#[test]
fn openssl_encrypted_keys_decrypt() {
    let dir = workdir();
    let d = dir.path();
    let f = fx();
    let cek: Vec<u8> = (0u8..32).collect();
    common::write(d, "cek.bin", &cek);
    let cases: [(KeyTransport, &[&str]); 3] = [
        (KeyTransport::RsaPkcs1v15, &[]),
        (
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha1,
            },
            &["rsa_padding_mode:oaep"],
        ),
        (
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            },
            &[
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                "rsa_mgf1_md:sha256",
            ],
        ),
    ];
    for (kt, opts) in cases {
        let mut args = vec![
            "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "cek.bin",
        ];
        for o in opts {
            args.extend(["-pkeyopt", *o]);
        }
        let ct = common::openssl(d, &args);
        assert_eq!(
            &decrypt_key(&f.key, &kt, &ct, Some(32)).expect("decrypt")[..],
            &cek[..],
            "{}",
            kt.name()
        );
        // And OpenSSL decrypts what we encrypt.
        common::write(
            d,
            "ours.bin",
            &encrypt_key(&f.spki, &kt, &cek).expect("encrypt"),
        );
        let mut args = vec![
            "pkeyutl", "-decrypt", "-inkey", "key.pem", "-in", "ours.bin",
        ];
        for o in opts {
            args.extend(["-pkeyopt", *o]);
        }
        // OpenSSL 3.2+ would do its own implicit rejection; 3.0 just decrypts.
        assert_eq!(common::openssl(d, &args), cek, "{}", kt.name());
    }
}

/// Raw RSA public operation on a chosen encoded message `em` (k bytes).
fn raw_encrypt(key: &RsaPrivateKey, em: &[u8]) -> Vec<u8> {
    let pk = key.to_public_key();
    let m = rsa::BoxedUint::from_be_slice(em, pk.n_bits_precision()).expect("m");
    let c = rsa::hazmat::rsa_encrypt(&pk, &m).expect("rsa");
    let bytes = c.to_be_bytes();
    bytes[bytes.len() - pk.size()..].to_vec()
}

/// `00 02 PS 00 M` with the given PS length and message.
fn em_type2(k: usize, ps_len: usize, msg: &[u8]) -> Vec<u8> {
    let mut em = vec![0x00, 0x02];
    em.extend(std::iter::repeat_n(0x5au8, ps_len));
    em.push(0);
    em.extend_from_slice(msg);
    assert_eq!(em.len(), k);
    em
}

#[test]
fn pkcs1v15_implicit_rejection() {
    let f = fx();
    let key = &f.key;
    let k = 256;
    let kt = KeyTransport::RsaPkcs1v15;
    let cek = [0xc3u8; 32];

    // Hand-made valid encoding decrypts to the key.
    let good = raw_encrypt(key, &em_type2(k, k - 3 - 32, &cek));
    assert_eq!(
        &decrypt_key(key, &kt, &good, Some(32)).expect("ok")[..],
        &cek
    );
    assert_eq!(&decrypt_key(key, &kt, &good, None).expect("ok")[..], &cek);

    let mut bad_cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut em = em_type2(k, k - 3 - 32, &cek);
    em[1] = 0x01;
    bad_cases.push(("block type 1", raw_encrypt(key, &em)));
    let mut em = em_type2(k, k - 3 - 32, &cek);
    em[0] = 0x01;
    bad_cases.push(("leading byte", raw_encrypt(key, &em)));
    let mut em = em_type2(k, k - 3 - 32, &cek);
    em[2 + 5] = 0; // PS only 5 bytes long
    bad_cases.push(("short PS", raw_encrypt(key, &em)));
    let mut em = vec![0x5au8; k];
    em[0] = 0;
    em[1] = 2;
    bad_cases.push(("no separator", raw_encrypt(key, &em)));
    bad_cases.push((
        "wrong length (16 bytes)",
        raw_encrypt(key, &em_type2(k, k - 3 - 16, &[0xc3; 16])),
    ));
    bad_cases.push(("not k bytes", good[1..].to_vec()));
    bad_cases.push(("c >= n", vec![0xff; k]));

    let mut seen = Vec::new();
    for (what, ct) in &bad_cases {
        let a = decrypt_key(key, &kt, ct, Some(32)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(a.len(), 32, "{what}");
        assert_ne!(&a[..], &cek, "{what}");
        // Deterministic for the same ciphertext…
        let b = decrypt_key(key, &kt, ct, Some(32)).expect("again");
        assert_eq!(a, b, "{what}");
        // …and different between ciphertexts.
        assert!(!seen.iter().any(|s: &Vec<u8>| s[..] == a[..]), "{what}");
        seen.push(a.to_vec());
        // Without an expected length the failure is reported.
        if *what != "wrong length (16 bytes)" {
            assert_eq!(
                decrypt_key(key, &kt, ct, None),
                Err(AlgError::DecryptionFailed),
                "{what}"
            );
        }
    }
    // Another expected length gives a key of that length.
    assert_eq!(
        decrypt_key(key, &kt, &bad_cases[0].1, Some(24))
            .expect("ok")
            .len(),
        24
    );
    // The right key asked with the wrong expected length is rejected implicitly too.
    let wrong_len = decrypt_key(key, &kt, &good, Some(16)).expect("ok");
    assert_eq!(wrong_len.len(), 16);
    assert_ne!(&wrong_len[..], &cek[..16]);
    // A random ciphertext (almost surely bad padding) behaves the same way.
    let mut random = vec![0u8; k];
    getrandom::fill(&mut random[1..]).expect("rng");
    assert_eq!(
        decrypt_key(key, &kt, &random, Some(32)).expect("ok").len(),
        32
    );
}

#[test]
fn key_transport_algorithm_identifiers() {
    let all = [
        KeyTransport::RsaPkcs1v15,
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1,
        },
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        },
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha384,
        },
    ];
    for kt in all {
        let der = kt
            .to_algorithm_identifier()
            .expect("encode")
            .to_der()
            .expect("der");
        let ai = AlgorithmIdentifierOwned::from_der(&der).expect("decode");
        assert_eq!(KeyTransport::from_algorithm_identifier(&ai), Ok(kt));
        assert_eq!(KeyTransport::from_name(&kt.name()), Ok(kt));
    }
    assert_eq!(
        KeyTransport::from_name("rsa-oaep"),
        Ok(KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256
        })
    );
    assert_eq!(
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1
        }
        .name(),
        "rsa-oaep-sha1"
    );
    assert!(KeyTransport::from_name("rsa-oaep-md5").is_err());
    // rsaEncryption NULL.
    let ai = KeyTransport::RsaPkcs1v15
        .to_algorithm_identifier()
        .expect("encode");
    assert_eq!(
        hex::encode(ai.to_der().expect("der")),
        "300d06092a864886f70d0101010500"
    );
    // OAEP SHA-1: all defaults, an empty SEQUENCE (RFC 4055 rSAES-OAEP-Default-Identifier).
    let ai = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha1,
    }
    .to_algorithm_identifier()
    .expect("encode");
    assert_eq!(
        hex::encode(ai.to_der().expect("der")),
        "300d06092a864886f70d0101073000"
    );
    // Absent parameters mean SHA-1 too.
    let absent = AlgorithmIdentifierOwned::from_der(
        &hex::decode("300b06092a864886f70d010107").expect("hex"),
    )
    .expect("ai");
    assert_eq!(
        KeyTransport::from_algorithm_identifier(&absent),
        Ok(KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1
        })
    );
    // OAEP SHA-256 as `openssl cms -encrypt -keyopt rsa_oaep_md:sha256 -keyopt
    // rsa_mgf1_md:sha256` writes it (absent hash parameters), byte for byte.
    let openssl_oaep256 = hex::decode(
        "303806092a864886f70d010107302ba00d300b0609608648016503040201\
         a11a301806092a864886f70d010108300b0609608648016503040201",
    )
    .expect("hex");
    let ai = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha256,
    }
    .to_algorithm_identifier()
    .expect("encode");
    assert_eq!(ai.to_der().expect("der"), openssl_oaep256);
    // The RFC 4055 NULL-parameter spelling is read the same way.
    let null_style = hex::decode(
        "303c06092a864886f70d010107302fa00f300d06096086480165030402010500\
         a11c301a06092a864886f70d010108300d06096086480165030402010500",
    )
    .expect("hex");
    let ai = AlgorithmIdentifierOwned::from_der(&null_style).expect("ai");
    assert_eq!(
        KeyTransport::from_algorithm_identifier(&ai),
        Ok(KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256
        })
    );
    // An explicit empty pSpecified label is fine; a non-empty label is not supported.
    // SEQUENCE { [2] { pSpecified, OCTET STRING "" } }
    let empty_label =
        hex::decode("301e06092a864886f70d0101073011a20f300d06092a864886f70d0101090400")
            .expect("hex");
    let ai = AlgorithmIdentifierOwned::from_der(&empty_label).expect("ai");
    assert_eq!(
        KeyTransport::from_algorithm_identifier(&ai),
        Ok(KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1
        })
    );
    let label = hex::decode("301f06092a864886f70d0101073012a210300e06092a864886f70d010109040178")
        .expect("hex");
    let ai = AlgorithmIdentifierOwned::from_der(&label).expect("ai");
    assert!(matches!(
        KeyTransport::from_algorithm_identifier(&ai),
        Err(AlgError::Unsupported(_))
    ));
    // Mismatched MGF1 hash: SEQUENCE { [0] sha256 NULL } (MGF1 defaults to SHA-1).
    let mismatch = hex::decode("301e06092a864886f70d0101073011a00f300d06096086480165030402010500")
        .expect("hex");
    let ai = AlgorithmIdentifierOwned::from_der(&mismatch).expect("ai");
    assert!(matches!(
        KeyTransport::from_algorithm_identifier(&ai),
        Err(AlgError::Unsupported(_))
    ));
}

#[test]
fn public_key_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    common::openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "k1024.pem",
        ],
    );
    let der = common::openssl(
        d,
        &["pkey", "-in", "k1024.pem", "-pubout", "-outform", "DER"],
    );
    let spki = SubjectPublicKeyInfoOwned::from_der(&der).expect("spki");
    assert_eq!(public_key_bits(&spki), Ok(1024));
    assert_eq!(public_key_bits(&fx().spki), Ok(2048));
    // A P-256 key is 256 bits; an RSA algorithm with it fails with a typed error.
    common::openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
    );
    let der = common::openssl(d, &["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"]);
    let ec = SubjectPublicKeyInfoOwned::from_der(&der).expect("spki");
    assert_eq!(public_key_bits(&ec), Ok(256));
    let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
    assert!(verify_digest(&ec, &alg, &[0; 32], &[0; 64]).is_err());
}
