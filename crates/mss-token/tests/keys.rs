//! Identities with every kind of key: DSA, EC P-256 / P-384, Ed25519, X25519 and
//! X9.42 DH, made by OpenSSL at test time, read from PEM (PKCS#8, encrypted PKCS#8,
//! traditional `EC` / `DSA PRIVATE KEY`) and PKCS#12; then the RFC 4134 keys.

mod common;

use std::path::Path;

use common::*;
use der::Decode;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::key_agreement::{KeyAgreementAlgorithm, originate};
use mss_algs::keys::{DecryptionKey, KeyKind, SigningKey, SoftwarePrivateKey};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{SignatureAlgorithm, verify_message};
use mss_token::{FixedPin, SoftwareIdentity, TokenError};
use x509_cert::Certificate;

/// Make `NAME.key` (PKCS#8 PEM) with `genpkey_args`, and `NAME.pem`: self-signed for
/// keys that sign, issued by the RSA test CA with `-force_pubkey` for agreement keys.
fn make(dir: &Path, name: &str, genpkey_args: &[&str], signs: bool) {
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey_args);
    args.extend_from_slice(&["-out", &key]);
    openssl(dir, &args);
    let subj = format!("/CN={name} test/emailAddress={name}@example.org");
    if signs {
        openssl(
            dir,
            &[
                "req", "-x509", "-new", "-key", &key, "-subj", &subj, "-days", "2", "-out", &cert,
            ],
        );
    } else {
        let public = format!("{name}.pub");
        let csr = format!("{name}.csr");
        openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &public]);
        openssl(
            dir,
            &[
                "req", "-new", "-key", "ca.key", "-subj", &subj, "-out", &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-force_pubkey",
                &public,
                "-days",
                "2",
                "-out",
                &cert,
            ],
        );
    }
    let p12 = format!("{name}.p12");
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &cert,
            "-certfile",
            "ca.pem",
            "-passout",
            "pass:pw",
            "-out",
            &p12,
        ],
    );
}

fn pem_identity(dir: &Path, name: &str) -> SoftwareIdentity {
    let text = format!(
        "{}{}",
        read_text(dir, &format!("{name}.pem")),
        read_text(dir, &format!("{name}.key"))
    );
    SoftwareIdentity::from_pem(&text, None).unwrap_or_else(|e| panic!("{name} PEM: {e}"))
}

fn p12_identity(dir: &Path, name: &str) -> SoftwareIdentity {
    let der = read(dir, &format!("{name}.p12"));
    let id = SoftwareIdentity::from_pkcs12(&der, "pw").unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(id.chain().len(), 1, "{name}: the CA is the chain");
    id
}

/// Sign with the identity, verify with its certificate; a changed message fails.
fn sign_and_verify(id: &SoftwareIdentity, alg: SignatureAlgorithm) {
    assert!(SigningKey::supports(id, &alg), "{}", alg.name());
    let message = b"signed attributes stand-in";
    let sig = id.sign_message(&alg, message).expect("sign");
    let spki = id.certificate().tbs_certificate().subject_public_key_info();
    verify_message(spki, None, &alg, message, &sig).expect("verify");
    assert!(verify_message(spki, None, &alg, b"another message", &sig).is_err());
    if alg.is_prehash() {
        let digest = alg.digest.digest(message);
        let sig2 = id.sign_digest(&alg, &digest).expect("sign digest");
        verify_message(spki, None, &alg, message, &sig2).expect("verify digest signature");
    }
}

/// Originate to the identity's certificate, then derive the same KEK on its side.
fn agree(id: &SoftwareIdentity) {
    let spki = id.certificate().tbs_certificate().subject_public_key_info();
    let alg = KeyAgreementAlgorithm::default_for(spki).expect("default algorithm");
    let ukm = [7u8; 16];
    let sent = originate(spki, None, &alg, Some(&ukm)).expect("originate");
    let kek = id
        .agree_kek(&alg, &sent.originator_key, Some(&ukm))
        .expect("agree");
    assert_eq!(&kek[..], &sent.kek[..]);
    let other = id
        .agree_kek(&alg, &sent.originator_key, Some(&[8u8; 16]))
        .expect("agree");
    assert_ne!(&other[..], &sent.kek[..], "the UKM enters the KDF");
    // No key transport with an agreement key.
    assert!(
        id.decrypt_key(&KeyTransport::RsaPkcs1v15, &[0u8; 256], Some(32))
            .is_err()
    );
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    openssl_ca_and_leaf(d);
    openssl(
        d,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:2048",
            "-out",
            "dsa-params.pem",
        ],
    );
    make(d, "dsa", &["-paramfile", "dsa-params.pem"], true);
    make(
        d,
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        true,
    );
    make(
        d,
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        true,
    );
    make(d, "ed25519", &["-algorithm", "ED25519"], true);
    make(d, "x25519", &["-algorithm", "X25519"], false);
    openssl(
        d,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DHX",
            "-pkeyopt",
            "dh_rfc5114:2",
            "-out",
            "dh-params.pem",
        ],
    );
    make(d, "dh", &["-paramfile", "dh-params.pem"], false);
    make(
        d,
        "p256agree",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        false,
    );
    dir
}

#[test]
fn every_key_kind_loads_from_pem_and_pkcs12_and_works() {
    let dir = setup();
    let d = dir.path();
    let cases: &[(&str, KeyKind, Option<SignatureAlgorithm>, bool)] = &[
        (
            "dsa",
            KeyKind::Dsa,
            Some(SignatureAlgorithm::dsa(DigestAlgorithm::Sha256)),
            false,
        ),
        (
            "p256",
            KeyKind::EcP256,
            Some(SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256)),
            true,
        ),
        (
            "p384",
            KeyKind::EcP384,
            Some(SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha384)),
            true,
        ),
        (
            "ed25519",
            KeyKind::Ed25519,
            Some(SignatureAlgorithm::ed25519()),
            false,
        ),
        ("x25519", KeyKind::X25519, None, true),
        ("dh", KeyKind::Dh, None, true),
    ];
    for (name, kind, sig, agrees) in cases {
        for id in [pem_identity(d, name), p12_identity(d, name)] {
            assert_eq!(id.key_kind(), *kind, "{name}");
            assert_eq!(id.private_key().kind(), *kind);
            let shown = format!("{id:?}");
            assert!(shown.contains(&format!("{kind:?}")), "{shown}");
            assert!(!shown.contains("PRIVATE"), "{shown}");
            match sig {
                Some(alg) => sign_and_verify(&id, *alg),
                None => {
                    // An agreement key signs nothing.
                    let alg = SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256);
                    assert!(!SigningKey::supports(&id, &alg));
                    assert!(id.sign_message(&alg, b"x").is_err());
                }
            }
            if *agrees {
                agree(&id);
            }
            // The identity writes back as PEM and reads again.
            let again = SoftwareIdentity::from_pem(&id.to_pem().expect("to_pem"), None)
                .expect("PEM round trip");
            assert_eq!(again.key_kind(), *kind);
            assert_eq!(again.certificate(), id.certificate());
        }
    }
}

#[test]
fn traditional_and_encrypted_pem_keys() {
    let dir = setup();
    let d = dir.path();
    openssl(d, &["ec", "-in", "p256.key", "-out", "p256.trad"]);
    openssl(d, &["dsa", "-in", "dsa.key", "-out", "dsa.trad"]);
    for (name, label, kind) in [
        ("p256", "EC PRIVATE KEY", KeyKind::EcP256),
        ("dsa", "DSA PRIVATE KEY", KeyKind::Dsa),
    ] {
        let key = read_text(d, &format!("{name}.trad"));
        assert!(key.contains(&format!("BEGIN {label}")), "{key}");
        let text = format!("{key}{}", read_text(d, &format!("{name}.pem")));
        let id = SoftwareIdentity::from_pem(&text, None).expect(label);
        assert_eq!(id.key_kind(), kind);
        let alg = if kind == KeyKind::Dsa {
            SignatureAlgorithm::dsa(DigestAlgorithm::Sha256)
        } else {
            SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256)
        };
        sign_and_verify(&id, alg);
        // The traditional key written back as PKCS#8 reads again.
        let again = SoftwareIdentity::from_pem(&id.to_pem().expect("to_pem"), None).expect("again");
        assert_eq!(again.key_kind(), kind);
    }
    // Encrypted PKCS#8 of an Ed25519 key and an X25519 key.
    for (name, kind) in [("ed25519", KeyKind::Ed25519), ("x25519", KeyKind::X25519)] {
        let enc = format!("{name}.enc");
        openssl(
            d,
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                &format!("{name}.key"),
                "-passout",
                "pass:s3cret",
                "-out",
                &enc,
            ],
        );
        let text = format!(
            "{}{}",
            read_text(d, &enc),
            read_text(d, &format!("{name}.pem"))
        );
        assert!(matches!(
            SoftwareIdentity::from_pem(&text, None),
            Err(TokenError::PasswordRequired)
        ));
        let path = d.join(format!("{name}-bundle.pem"));
        std::fs::write(&path, &text).expect("write");
        let id = SoftwareIdentity::load(&path, &FixedPin::new("s3cret")).expect("load");
        assert_eq!(id.key_kind(), kind);
    }
}

#[test]
fn mismatched_kinds_and_curves_are_refused() {
    let dir = setup();
    let d = dir.path();
    // A P-256 key with the P-384 certificate, an X25519 key with the Ed25519 one.
    for (key, cert) in [("p256", "p384"), ("x25519", "ed25519"), ("dh", "dsa")] {
        let text = format!(
            "{}{}",
            read_text(d, &format!("{key}.key")),
            read_text(d, &format!("{cert}.pem"))
        );
        assert!(
            matches!(
                SoftwareIdentity::from_pem(&text, None),
                Err(TokenError::KeyMismatch)
            ),
            "{key} with {cert}"
        );
    }
    // from_parts_any checks the key against the certificate too.
    let cert = Certificate::from_der(&cert_der(d, "p256.pem")).expect("cert");
    let other = SoftwarePrivateKey::generate(KeyKind::EcP256).expect("key");
    assert!(matches!(
        SoftwareIdentity::from_parts_any(cert.clone(), Vec::new(), other),
        Err(TokenError::KeyMismatch)
    ));
    let own = SoftwarePrivateKey::from_pkcs8_pem(&read_text(d, "p256.key")).expect("key");
    let id = SoftwareIdentity::from_parts_any(cert, Vec::new(), own).expect("own key");
    sign_and_verify(&id, SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256));
    // A key built from parts (no PKCS#8 kept) and not RSA cannot be written back.
    assert!(matches!(id.to_pem(), Err(TokenError::Unsupported(_))));
    // ECDSA with MD5 is not something this key does.
    assert!(!SigningKey::supports(
        &id,
        &SignatureAlgorithm::ecdsa(DigestAlgorithm::Md5)
    ));
}

#[test]
fn rfc4134_keys_with_their_certificates() {
    let v = vectors().join("rfc4134");
    let cert = |n: &str| {
        Certificate::from_der(&std::fs::read(v.join(n)).expect("read cert")).expect("cert")
    };
    let key = |n: &str| {
        SoftwarePrivateKey::from_pkcs8_der(&std::fs::read(v.join(n)).expect("read key"))
            .expect("key")
    };
    let carl_dss = cert("CarlDSSSelf.cer");
    let carl_params = carl_dss
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .parameters
        .clone();
    for (k, c, kind) in [
        (
            "AlicePrivDSSSign.pri",
            "AliceDSSSignByCarlNoInherit.cer",
            KeyKind::Dsa,
        ),
        (
            "DianePrivDSSSign.pri",
            "DianeDSSSignByCarlInherit.cer",
            KeyKind::Dsa,
        ),
        ("CarlPrivDSSSign.pri", "CarlDSSSelf.cer", KeyKind::Dsa),
        (
            "AlicePrivRSASign.pri",
            "AliceRSASignByCarl.cer",
            KeyKind::Rsa,
        ),
        (
            "BobPrivRSAEncrypt.pri",
            "BobRSASignByCarl.cer",
            KeyKind::Rsa,
        ),
        (
            "DianePrivRSASignEncrypt.pri",
            "DianeRSASignByCarl.cer",
            KeyKind::Rsa,
        ),
    ] {
        let id = SoftwareIdentity::from_parts_any(cert(c), Vec::new(), key(k))
            .unwrap_or_else(|e| panic!("{k} with {c}: {e}"));
        assert_eq!(id.key_kind(), kind);
        let alg = if kind == KeyKind::Dsa {
            SignatureAlgorithm::dsa(DigestAlgorithm::Sha1)
        } else {
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256)
        };
        let sig = id.sign_message(&alg, b"RFC 4134").expect("sign");
        let spki = id.certificate().tbs_certificate().subject_public_key_info();
        verify_message(spki, carl_params.as_ref(), &alg, b"RFC 4134", &sig).expect("verify");
    }
    // The keys do not match each other's certificates.
    assert!(matches!(
        SoftwareIdentity::from_parts_any(
            cert("AliceDSSSignByCarlNoInherit.cer"),
            Vec::new(),
            key("DianePrivDSSSign.pri")
        ),
        Err(TokenError::KeyMismatch)
    ));
}
