//! PKCS#12 loading against files made by `openssl pkcs12 -export` at test time.

mod common;

use common::*;
use der::Encode;
use mss_token::{FixedPin, NoPin, SoftwareIdentity, TokenError};

/// Export leaf.key + leaf.pem (+ ca.pem as chain) with `extra` options, then load it.
fn export_and_load(
    dir: &std::path::Path,
    out: &str,
    password: &str,
    extra: &[&str],
) -> Result<SoftwareIdentity, TokenError> {
    let pass = format!("pass:{password}");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        "leaf.key",
        "-in",
        "leaf.pem",
        "-certfile",
        "ca.pem",
        "-passout",
        &pass,
        "-out",
        out,
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
    SoftwareIdentity::from_pkcs12(&read(dir, out), password)
}

fn assert_is_leaf(dir: &std::path::Path, id: &SoftwareIdentity) {
    let leaf = cert_der(dir, "leaf.pem");
    let ca = cert_der(dir, "ca.pem");
    assert_eq!(
        id.certificate().to_der().expect("der"),
        leaf,
        "the key's certificate is the leaf"
    );
    assert_eq!(id.chain().len(), 1, "chain holds the CA only");
    assert_eq!(id.chain()[0].to_der().expect("der"), ca);
}

#[test]
fn openssl3_default_pbes2_aes256_sha256_mac() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let id = export_and_load(dir.path(), "a.p12", "correct horse", &[]).expect("load default p12");
    assert_is_leaf(dir.path(), &id);
    // Make sure this really was the OpenSSL 3 default format.
    let (_, all) = openssl_status(
        dir.path(),
        &[
            "pkcs12",
            "-in",
            "a.p12",
            "-info",
            "-noout",
            "-passin",
            "pass:correct horse",
        ],
    );
    assert!(all.contains("MAC: sha256"), "{all}");
    assert!(all.contains("PBES2"), "{all}");
}

#[test]
fn legacy_3des_key_rc2_40_certs_sha1_mac() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let id =
        export_and_load(dir.path(), "l.p12", "legacy-pw", &["-legacy"]).expect("load legacy p12");
    assert_is_leaf(dir.path(), &id);
    let (_, info) = openssl_status(
        dir.path(),
        &[
            "pkcs12",
            "-legacy",
            "-in",
            "l.p12",
            "-info",
            "-noout",
            "-passin",
            "pass:legacy-pw",
        ],
    );
    assert!(info.contains("pbeWithSHA1And40BitRC2-CBC"), "{info}");
    assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
    assert!(info.contains("MAC: sha1"), "{info}");
}

#[test]
fn descert_3des_certs() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let id = export_and_load(dir.path(), "d.p12", "pw", &["-descert"]).expect("load -descert p12");
    assert_is_leaf(dir.path(), &id);
}

#[test]
fn other_schemes_and_macs() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let cases: &[&[&str]] = &[
        &[
            "-legacy",
            "-keypbe",
            "PBE-SHA1-2DES",
            "-certpbe",
            "PBE-SHA1-RC2-128",
        ],
        &[
            "-keypbe",
            "AES-128-CBC",
            "-certpbe",
            "AES-192-CBC",
            "-macalg",
            "sha1",
        ],
        &[
            "-keypbe",
            "DES-EDE3-CBC",
            "-certpbe",
            "NONE",
            "-macalg",
            "sha512",
        ],
        &["-keypbe", "NONE", "-certpbe", "NONE", "-macalg", "sha384"],
        &["-macalg", "sha224", "-iter", "1", "-maciter"],
        &["-nomac"],
    ];
    for (i, extra) in cases.iter().enumerate() {
        let out = format!("case{i}.p12");
        let id = export_and_load(dir.path(), &out, "pw", extra)
            .unwrap_or_else(|e| panic!("case {extra:?}: {e}"));
        assert_is_leaf(dir.path(), &id);
    }
}

#[test]
fn empty_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let id = export_and_load(dir.path(), "e.p12", "", &[]).expect("empty password, default");
    assert_is_leaf(dir.path(), &id);
    let id =
        export_and_load(dir.path(), "e2.p12", "", &["-legacy"]).expect("empty password, legacy");
    assert_is_leaf(dir.path(), &id);
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&read(dir.path(), "e.p12"), "x"),
        Err(TokenError::BadPassword)
    ));
}

#[test]
fn non_ascii_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    let id = export_and_load(dir.path(), "u.p12", "mot-de-passe-é", &["-legacy"])
        .expect("legacy, UTF-8 password");
    assert_is_leaf(dir.path(), &id);
    let id = export_and_load(dir.path(), "u2.p12", "mot-de-passe-é", &[])
        .expect("default, UTF-8 password");
    assert_is_leaf(dir.path(), &id);
}

#[test]
fn wrong_password_is_bad_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.pem",
            "-passout",
            "pass:right",
            "-out",
            "w.p12",
        ],
    );
    let der = read(dir.path(), "w.p12");
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&der, "wrong"),
        Err(TokenError::BadPassword)
    ));
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&der, ""),
        Err(TokenError::BadPassword)
    ));
    // Without MAC the wrong password is found by the decryption.
    openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-nomac",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.pem",
            "-passout",
            "pass:right",
            "-out",
            "n.p12",
        ],
    );
    let der = read(dir.path(), "n.p12");
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&der, "wrong"),
        Err(TokenError::BadPassword)
    ));
}

#[test]
fn corrupted_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    for (name, extra) in [
        ("c1.p12", &["-iter", "1", "-maciter"][..]),
        ("c2.p12", &["-nomac", "-iter", "1"][..]),
    ] {
        let mut args = vec![
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:pw",
            "-out", name,
        ];
        args.extend_from_slice(extra);
        openssl(dir.path(), &args);
        let good = read(dir.path(), name);
        assert!(SoftwareIdentity::from_pkcs12(&good, "pw").is_ok());
        let mut failures = 0;
        for pos in (0..good.len()).step_by(3) {
            let mut bad = good.clone();
            bad[pos] ^= 0x5a;
            if SoftwareIdentity::from_pkcs12(&bad, "pw").is_err() {
                failures += 1;
            }
        }
        assert!(
            failures > good.len() / 6,
            "{name}: most flips must be detected ({failures})"
        );
        for len in (0..good.len()).step_by(17) {
            assert!(
                SoftwareIdentity::from_pkcs12(&good[..len], "pw").is_err(),
                "{name}: truncated at {len}"
            );
        }
    }
    // With a MAC, any flip inside the authenticated content is a bad password.
    let good = read(dir.path(), "c1.p12");
    let mut bad = good.clone();
    let mid = good.len() / 2;
    bad[mid] ^= 1;
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&bad, "pw"),
        Err(TokenError::BadPassword | TokenError::Malformed(_))
    ));
}

#[test]
fn key_without_certificate_and_certificate_without_key() {
    // (OpenSSL refuses to export a key with a non-matching certificate; KeyMismatch
    // is covered by the PEM tests.)
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    openssl(
        dir.path(),
        &[
            "pkcs12", "-export", "-nocerts", "-inkey", "leaf.key", "-passout", "pass:pw", "-out",
            "k.p12",
        ],
    );
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&read(dir.path(), "k.p12"), "pw"),
        Err(TokenError::NoCertificate)
    ));
    openssl(
        dir.path(),
        &[
            "pkcs12", "-export", "-nokeys", "-in", "leaf.pem", "-passout", "pass:pw", "-out",
            "c.p12",
        ],
    );
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&read(dir.path(), "c.p12"), "pw"),
        Err(TokenError::NoKey)
    ));
}

#[test]
fn an_unknown_curve_is_unsupported_with_its_oid() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl(
        dir.path(),
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
    openssl(
        dir.path(),
        &[
            "pkcs12", "-export", "-inkey", "ec.key", "-in", "ec.pem", "-passout", "pass:pw",
            "-out", "ec.p12",
        ],
    );
    match SoftwareIdentity::from_pkcs12(&read(dir.path(), "ec.p12"), "pw") {
        Err(TokenError::Unsupported(m)) => assert!(m.contains("1.3.132.0.35"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn load_der_file_asks_for_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    openssl(
        dir.path(),
        &[
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:pw",
            "-out", "f.p12",
        ],
    );
    let path = dir.path().join("f.p12");
    let asked = std::sync::Mutex::new(Vec::new());
    let pins = |r: &mss_token::PinRequest| -> Result<zeroize::Zeroizing<String>, TokenError> {
        asked.lock().expect("lock").push(r.what.clone());
        Ok(zeroize::Zeroizing::new("pw".to_owned()))
    };
    let id = SoftwareIdentity::load(&path, &pins).expect("load");
    assert_eq!(
        id.certificate().to_der().expect("der"),
        cert_der(dir.path(), "leaf.pem")
    );
    assert_eq!(
        asked.lock().expect("lock").as_slice(),
        &["password for f.p12".to_owned()]
    );
    assert!(matches!(
        SoftwareIdentity::load(&path, &NoPin),
        Err(TokenError::Cancelled)
    ));
    assert!(matches!(
        SoftwareIdentity::load(&path, &FixedPin::new("nope")),
        Err(TokenError::BadPassword)
    ));
    assert!(matches!(
        SoftwareIdentity::load(&dir.path().join("missing.p12"), &NoPin),
        Err(TokenError::Io(_))
    ));
}

#[test]
fn bob_p12_from_protected_headers_vectors() {
    // bob.p12 is a PEM-wrapped (-----BEGIN PKCS12-----) PFX with a SHA-512 MAC and
    // 3DES-encrypted bags; its password is "bob".
    let path = vectors().join("protected-headers/bob.p12");
    let id = SoftwareIdentity::load(&path, &FixedPin::new("bob")).expect("load bob.p12");
    assert_eq!(
        id.certificate().tbs_certificate().subject().to_string(),
        "CN=Bob Babbage"
    );
    assert_eq!(id.chain().len(), 1);
    assert_eq!(
        id.chain()[0].tbs_certificate().subject().to_string(),
        "CN=Sample LAMPS Certificate Authority"
    );
    assert!(matches!(
        SoftwareIdentity::load(&path, &FixedPin::new("alice")),
        Err(TokenError::BadPassword)
    ));
}

#[test]
fn tampered_mac_is_bad_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_ca_and_leaf(dir.path());
    openssl(
        dir.path(),
        &[
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:pw",
            "-out", "t.p12",
        ],
    );
    let good = read(dir.path(), "t.p12");
    // macData ends with: digest (32 bytes), salt (04 08 + 8 bytes), iterations (02 02 08 00).
    let n = good.len();
    assert_eq!(
        &good[n - 4..],
        &[0x02, 0x02, 0x08, 0x00],
        "layout of OpenSSL's macData changed"
    );
    let mut bad = good.clone();
    bad[n - 4 - 10 - 1] ^= 0x01; // last byte of the MAC value
    assert!(matches!(
        SoftwareIdentity::from_pkcs12(&bad, "pw"),
        Err(TokenError::BadPassword)
    ));
    assert!(SoftwareIdentity::from_pkcs12(&good, "pw").is_ok());
}

#[test]
fn kdf_matches_openssl() {
    use mss_token::pkcs12::{KdfPurpose, bmp_password, derive_key};
    let dir = tempfile::tempdir().expect("tempdir");
    let salt = [0x01u8, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32];
    for (password, purpose, id, iter, len) in [
        ("queeg", KdfPurpose::Key, "1", 1000u32, 24usize),
        ("", KdfPurpose::Iv, "2", 3, 8),
        (
            "a longer password than one block of sixty-four bytes, surely",
            KdfPurpose::Mac,
            "3",
            2,
            100,
        ),
    ] {
        let bmp = bmp_password(password);
        let hexpass: String = bmp.iter().map(|b| format!("{b:02x}")).collect();
        let hexsalt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        for (digest, ours) in [
            (
                "SHA1",
                derive_key::<sha1::Sha1>(&bmp, &salt, purpose, iter, len),
            ),
            (
                "SHA256",
                derive_key::<sha2::Sha256>(&bmp, &salt, purpose, iter, len),
            ),
            (
                "SHA512",
                derive_key::<sha2::Sha512>(&bmp, &salt, purpose, iter, len),
            ),
        ] {
            let out = openssl(
                dir.path(),
                &[
                    "kdf",
                    "-keylen",
                    &len.to_string(),
                    "-kdfopt",
                    &format!("digest:{digest}"),
                    "-kdfopt",
                    &format!("hexpass:{hexpass}"),
                    "-kdfopt",
                    &format!("hexsalt:{hexsalt}"),
                    "-kdfopt",
                    &format!("iter:{iter}"),
                    "-kdfopt",
                    &format!("id:{id}"),
                    "PKCS12KDF",
                ],
            );
            let expected = out.trim().replace(':', "").to_lowercase();
            assert_eq!(
                hex::encode(&ours[..]),
                expected,
                "{digest} {password:?} id {id}"
            );
        }
    }
}
