//! PEM bundles: PKCS#8, PKCS#1, encrypted PKCS#8, certificate order, mismatches.

mod common;

use common::*;
use der::Encode;
use mss_token::{FixedPin, NoPin, SoftwareIdentity, TokenError};

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    openssl(
        dir.path(),
        &[
            "pkey",
            "-in",
            "leaf.key",
            "-traditional",
            "-out",
            "leaf.rsa",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "leaf.key",
            "-passout",
            "pass:s3cret",
            "-out",
            "leaf.enc",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkcs8",
            "-topk8",
            "-v1",
            "PBE-SHA1-3DES",
            "-in",
            "leaf.key",
            "-passout",
            "pass:s3cret",
            "-out",
            "leaf.enc1",
        ],
    );
    dir
}

fn check(dir: &std::path::Path, id: &SoftwareIdentity, chain_len: usize) {
    assert_eq!(
        id.certificate().to_der().expect("der"),
        cert_der(dir, "leaf.pem")
    );
    assert_eq!(id.chain().len(), chain_len);
}

#[test]
fn pkcs8_pkcs1_and_any_order() {
    let dir = setup();
    let d = dir.path();
    let (key8, key1, leaf, ca) = (
        read_text(d, "leaf.key"),
        read_text(d, "leaf.rsa"),
        read_text(d, "leaf.pem"),
        read_text(d, "ca.pem"),
    );
    assert!(key8.contains("BEGIN PRIVATE KEY") && key1.contains("BEGIN RSA PRIVATE KEY"));
    for key in [&key8, &key1] {
        check(
            d,
            &SoftwareIdentity::from_pem(&format!("{key}{leaf}"), None).expect("key, cert"),
            0,
        );
        check(
            d,
            &SoftwareIdentity::from_pem(&format!("{leaf}{key}"), None).expect("cert, key"),
            0,
        );
        let id =
            SoftwareIdentity::from_pem(&format!("{ca}{key}{leaf}"), None).expect("ca, key, cert");
        check(d, &id, 1);
        assert_eq!(id.chain()[0].to_der().expect("der"), cert_der(d, "ca.pem"));
        check(
            d,
            &SoftwareIdentity::from_pem(
                &format!("Bag Attributes\n  x: y\n{leaf}\r\n{ca}{key}"),
                None,
            )
            .expect("text between"),
            1,
        );
    }
}

#[test]
fn encrypted_pkcs8() {
    let dir = setup();
    let d = dir.path();
    let leaf = read_text(d, "leaf.pem");
    for file in ["leaf.enc", "leaf.enc1"] {
        let enc = read_text(d, file);
        assert!(enc.contains("BEGIN ENCRYPTED PRIVATE KEY"));
        let bundle = format!("{enc}{leaf}");
        check(
            d,
            &SoftwareIdentity::from_pem(&bundle, Some("s3cret")).expect("decrypt"),
            0,
        );
        assert!(
            matches!(
                SoftwareIdentity::from_pem(&bundle, Some("wrong")),
                Err(TokenError::BadPassword)
            ),
            "{file}"
        );
        assert!(matches!(
            SoftwareIdentity::from_pem(&bundle, None),
            Err(TokenError::PasswordRequired)
        ));
        // load(): asks only because the key is encrypted.
        std::fs::write(d.join("bundle.pem"), &bundle).expect("write");
        check(
            d,
            &SoftwareIdentity::load(&d.join("bundle.pem"), &FixedPin::new("s3cret")).expect("load"),
            0,
        );
        assert!(matches!(
            SoftwareIdentity::load(&d.join("bundle.pem"), &NoPin),
            Err(TokenError::Cancelled)
        ));
    }
}

#[test]
fn unencrypted_pem_is_loaded_without_asking() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(
        d.join("plain.pem"),
        format!("{}{}", read_text(d, "leaf.key"), read_text(d, "leaf.pem")),
    )
    .expect("write");
    // NoPin cancels any request: success proves nothing was asked.
    check(
        d,
        &SoftwareIdentity::load(&d.join("plain.pem"), &NoPin).expect("load"),
        0,
    );
}

#[test]
fn mismatches_and_missing_parts() {
    let dir = setup();
    let d = dir.path();
    let (key, leaf, ca, ca_key) = (
        read_text(d, "leaf.key"),
        read_text(d, "leaf.pem"),
        read_text(d, "ca.pem"),
        read_text(d, "ca.key"),
    );
    assert!(matches!(
        SoftwareIdentity::from_pem(&format!("{ca_key}{leaf}"), None),
        Err(TokenError::KeyMismatch)
    ));
    assert!(matches!(
        SoftwareIdentity::from_pem(&leaf, None),
        Err(TokenError::NoKey)
    ));
    assert!(matches!(
        SoftwareIdentity::from_pem(&key, None),
        Err(TokenError::NoCertificate)
    ));
    assert!(matches!(
        SoftwareIdentity::from_pem("not pem at all", None),
        Err(TokenError::NoKey)
    ));
    // from_parts checks the pairing too.
    use pkcs8::DecodePrivateKey;
    let leaf_id = SoftwareIdentity::from_pem(&format!("{key}{leaf}"), None).expect("leaf identity");
    let ca_rsa = rsa::PrivateKey::from_pkcs8_pem(&ca_key).expect("CA key");
    let leaf_rsa = rsa::PrivateKey::from_pkcs8_pem(&key).expect("leaf key");
    let r = SoftwareIdentity::from_parts(leaf_id.certificate().clone(), vec![], ca_rsa);
    assert!(matches!(r, Err(TokenError::KeyMismatch)));
    let ok = SoftwareIdentity::from_parts(leaf_id.certificate().clone(), vec![], leaf_rsa)
        .expect("matching parts");
    assert_eq!(ok.certificate(), leaf_id.certificate());
    let _ = ca;
}

#[test]
fn to_pem_round_trips_with_chain() {
    let dir = setup();
    let d = dir.path();
    let id = SoftwareIdentity::from_pem(
        &format!(
            "{}{}{}",
            read_text(d, "ca.pem"),
            read_text(d, "leaf.key"),
            read_text(d, "leaf.pem")
        ),
        None,
    )
    .expect("load");
    let pem = id.to_pem().expect("to_pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = SoftwareIdentity::from_pem(&pem, None).expect("reload");
    assert_eq!(again.certificate(), id.certificate());
    assert_eq!(again.chain(), id.chain());
    // OpenSSL reads what we wrote.
    std::fs::write(d.join("out.pem"), pem.as_bytes()).expect("write");
    openssl(d, &["pkey", "-in", "out.pem", "-check", "-noout"]);
}

#[test]
fn legacy_encrypted_pkcs1_and_other_curves_are_unsupported() {
    let dir = setup();
    let d = dir.path();
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "leaf.key",
            "-traditional",
            "-aes128",
            "-passout",
            "pass:x",
            "-out",
            "legacy.pem",
        ],
    );
    let bundle = format!("{}{}", read_text(d, "legacy.pem"), read_text(d, "leaf.pem"));
    assert!(matches!(
        SoftwareIdentity::from_pem(&bundle, Some("x")),
        Err(TokenError::Unsupported(_))
    ));
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-nodes",
            "-keyout",
            "ec.key",
            "-out",
            "ec.pem",
            "-subj",
            "/CN=EC",
            "-days",
            "1",
        ],
    );
    match SoftwareIdentity::from_pem(
        &format!("{}{}", read_text(d, "ec.key"), read_text(d, "ec.pem")),
        None,
    ) {
        // P-256 and P-384 are read (tests/keys.rs); P-521 is named as unsupported.
        Err(TokenError::Unsupported(m)) => assert!(m.contains("1.3.132.0.35"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn rfc4134_keys_match_their_certificates() {
    use der::{Decode, EncodePem};
    use pkcs8::LineEnding;
    let dir = vectors().join("rfc4134");
    let key = std::fs::read(dir.join("BobPrivRSAEncrypt.pri")).expect("Bob's key");
    let cert = std::fs::read(dir.join("BobRSASignByCarl.cer")).expect("Bob's cert");
    let cert = x509_cert::Certificate::from_der(&cert).expect("cert");
    let key_pem = der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &key).expect("pem");
    let id = SoftwareIdentity::from_pem(
        &format!("{key_pem}{}", cert.to_pem(LineEnding::LF).expect("pem")),
        None,
    )
    .expect("Bob");
    assert_eq!(id.certificate(), &cert);
}
