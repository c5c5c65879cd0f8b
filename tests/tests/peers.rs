//! Self-tests of the interop harness, peer against peer (no mss code involved).
//!
//! If these fail, the fixtures or the helpers are wrong, and the mss interop tests
//! cannot be trusted: they check that the PKI is what the other tests assume, that
//! OpenSSL and NSS accept each other's messages through our helpers, and that each
//! tampering helper produces something a reference implementation rejects.

use mss_tests::der::{self, Node, signed_data};
use mss_tests::{Workdir, lf, mime};

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fixture_certificates_chain_to_their_root() {
    let w = Workdir::new();
    for user in ["alice", "bob", "carol"] {
        for purpose in ["smimesign", "smimeencrypt"] {
            let out = w.openssl(&[
                "verify",
                "-CAfile",
                "ca.pem",
                "-purpose",
                purpose,
                &format!("{user}.pem"),
            ]);
            assert!(text(&out).contains(": OK"), "{user}: {}", text(&out));
        }
    }
    let bad = w.try_openssl(&["verify", "-CAfile", "ca.pem", "mallory.pem"]);
    assert!(
        !bad.status.success(),
        "mallory must not chain to the trusted root"
    );
    w.openssl(&["verify", "-CAfile", "other-ca.pem", "mallory.pem"]);
}

#[test]
fn fixture_certificates_carry_the_smime_profile() {
    let w = Workdir::new();
    for u in w.pki.users() {
        let t = text(&w.openssl(&["x509", "-noout", "-text", "-in", &format!("{}.pem", u.name)]));
        assert!(t.contains(&format!("email:{}", u.email)), "{t}");
        assert!(t.contains("Digital Signature, Key Encipherment"), "{t}");
        assert!(t.contains("E-mail Protection"), "{t}");
        assert!(t.contains("Public-Key: (2048 bit)"), "{t}");
        assert!(t.contains("X509v3 Subject Key Identifier"), "{t}");
        // PEM and DER are the same certificate.
        let from_pem = w
            .openssl(&["x509", "-in", &format!("{}.pem", u.name), "-outform", "DER"])
            .stdout;
        assert_eq!(from_pem, u.cert_der);
    }
}

#[test]
fn fixture_pkcs12_needs_its_password() {
    let w = Workdir::new();
    let ok = w.openssl(&[
        "pkcs12",
        "-in",
        "alice.p12",
        "-nodes",
        "-passin",
        &format!("pass:{}", mss_tests::PASSWORD),
    ]);
    let t = text(&ok);
    assert!(t.contains("BEGIN PRIVATE KEY"), "{t}");
    assert!(t.contains("friendlyName: alice"), "{t}");
    assert_eq!(t.matches("BEGIN CERTIFICATE").count(), 2, "leaf + CA: {t}");
    let bad = w.try_openssl(&[
        "pkcs12",
        "-in",
        "alice.p12",
        "-nodes",
        "-passin",
        "pass:wrong",
    ]);
    assert!(!bad.status.success());
}

#[test]
fn fixture_nss_database_holds_ca_bob_and_alice() {
    let w = Workdir::new();
    let db = w.nss();
    let list = text(&mss_tests::run(mss_tests::tool("certutil").args([
        "-L",
        "-d",
        &db.arg(),
    ])));
    let trust_of = |nick: &str| {
        list.lines()
            .find(|l| l.starts_with(nick))
            .map(|l| l[nick.len()..].trim().to_string())
            .unwrap_or_else(|| panic!("{nick} missing from NSS db: {list}"))
    };
    assert_eq!(trust_of("mss-test-ca"), "CT,C,C");
    assert_eq!(trust_of("bob"), "u,u,u");
    assert_eq!(trust_of("alice"), ",,");
    let keys = text(&mss_tests::run(mss_tests::tool("certutil").args([
        "-K",
        "-d",
        &db.arg(),
    ])));
    assert!(keys.contains("bob"), "{keys}");
    assert!(!keys.contains("alice"), "{keys}");
}

#[test]
fn openssl_signs_nss_verifies_and_rejects_tampering() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("peer-sign");
    let msg = w.openssl_sign("alice", &content, true, &[]);
    let cms = mime::cms_of(&msg);
    assert_eq!(
        db.decode(&cms, None).expect("NSS verifies OpenSSL"),
        content
    );

    let mut tree = Node::parse(&cms);
    *signed_data::signature(&mut tree).last_mut().unwrap() ^= 1;
    assert!(
        db.decode(&tree.to_der(), None).is_err(),
        "NSS must reject a bad signature"
    );
}

#[test]
fn openssl_detached_signature_verifies_in_nss() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("peer-detached");
    let msg = w.openssl_sign(
        "alice",
        &content,
        false,
        &["-keyopt", "rsa_padding_mode:pss"],
    );
    let part = mime::signed_part(&msg);
    assert_eq!(
        part, content,
        "the signed part is the content, byte for byte"
    );
    let cms = mime::cms_of(&msg);
    db.decode(&cms, Some(&part))
        .expect("NSS verifies the detached signature");
    assert!(db.has_good_signature(&cms, Some(&part)));
    let mut wrong = part.clone();
    wrong.extend_from_slice(b"x");
    assert!(db.decode(&cms, Some(&wrong)).is_err());
}

#[test]
fn nss_signs_openssl_verifies() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-sign");
    let opaque = db.sign("bob", &content, false);
    assert_eq!(opaque[1], 0x80, "NSS writes BER indefinite lengths");
    let verified = w
        .openssl_verify(&mime::pkcs7_mime(&opaque, "signed-data"))
        .expect("OpenSSL verifies NSS (opaque)");
    assert_eq!(verified, content);

    let detached = db.sign("bob", &content, true);
    let msg = mime::multipart_signed(&content, &detached, "sha-256");
    assert_eq!(
        lf(&w
            .openssl_verify(&msg)
            .expect("OpenSSL verifies NSS (detached)")),
        lf(&content)
    );
    let tampered = mime::with_signed_part(&msg, &mss_tests::sample_content("other"));
    assert!(w.openssl_verify(&tampered).is_err());
}

#[test]
fn openssl_encrypts_nss_decrypts() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("peer-encrypt");
    for (cipher, keyid) in [("-aes256", false), ("-aes128", true), ("-des3", false)] {
        let mut opts = vec![cipher];
        if keyid {
            opts.push("-keyid");
        }
        let msg = w.openssl_encrypt(&content, &["bob"], &opts, &[]);
        let got = db
            .decode(&mime::cms_of(&msg), None)
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert_eq!(got, content, "{cipher}");
    }
}

#[test]
fn nss_encrypts_openssl_decrypts() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-encrypt");
    let cms = db.encrypt("alice@example.test", &content);
    let msg = mime::pkcs7_mime(&cms, "enveloped-data");
    assert_eq!(
        w.openssl_decrypt(&msg, "alice").expect("alice decrypts"),
        content
    );
    assert!(
        w.openssl_decrypt(&msg, "carol").is_err(),
        "carol is not a recipient"
    );
}

#[test]
fn mime_helpers_round_trip_through_openssl() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("mime");
    let detached = w.openssl_sign("alice", &content, false, &[]);
    // Unwrap and rewrap: OpenSSL still verifies, and gives the same content.
    let rebuilt = mime::multipart_signed(
        &mime::signed_part(&detached),
        &mime::cms_of(&detached),
        "sha-256",
    );
    assert_eq!(
        lf(&w.openssl_verify(&rebuilt).expect("rebuilt detached")),
        lf(&content)
    );
    let opaque = w.openssl_sign("alice", &content, true, &[]);
    let rewrapped = mime::pkcs7_mime(&mime::cms_of(&opaque), "signed-data");
    assert_eq!(
        w.openssl_verify(&rewrapped).expect("rewrapped opaque"),
        content
    );
    // The DER helper re-encodes OpenSSL's DER identically.
    let der = mime::cms_of(&opaque);
    assert_eq!(Node::parse(&der).to_der(), der);
}

/// Each way the interop tests tamper with a signature is detected by OpenSSL.
#[test]
fn tampering_helpers_break_openssl_verification() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("tamper");
    let opaque = w.openssl_sign("alice", &content, true, &[]);
    let der_in = mime::cms_of(&opaque);
    let rewrap = |t: &Node| mime::pkcs7_mime(&t.to_der(), "signed-data");
    assert!(
        w.openssl_verify(&rewrap(&Node::parse(&der_in))).is_ok(),
        "untampered"
    );

    let mut cases: Vec<(&str, Node)> = Vec::new();
    let mut t = Node::parse(&der_in);
    signed_data::econtent(&mut t).expect("opaque")[40] ^= 0x20;
    cases.push(("content", t));
    let mut t = Node::parse(&der_in);
    signed_data::signature(&mut t)[7] ^= 0x01;
    cases.push(("signature", t));
    let mut t = Node::parse(&der_in);
    signed_data::signed_attribute(&mut t, der::OID_MESSAGE_DIGEST).bytes_mut()[0] ^= 0x01;
    cases.push(("messageDigest", t));
    let mut t = Node::parse(&der_in);
    let time = signed_data::signed_attribute(&mut t, der::OID_SIGNING_TIME).bytes_mut();
    time[1] = if time[1] == b'0' { b'1' } else { b'0' };
    cases.push(("signingTime", t));
    let mut t = Node::parse(&der_in);
    let certs = signed_data::certificates(&mut t).expect("certificates");
    let alice = Node::parse(&w.pki.alice.cert_der);
    let idx = certs
        .iter()
        .position(|c| *c == alice)
        .expect("alice's certificate is included");
    certs[idx] = Node::parse(&w.pki.carol.cert_der);
    *signed_data::sid(&mut t) = der::issuer_and_serial(&w.pki.carol.cert_der);
    cases.push(("certificate swapped for carol's", t));

    for (what, tree) in cases {
        let r = w.openssl_verify(&rewrap(&tree));
        assert!(
            r.is_err(),
            "OpenSSL accepted a message with a tampered {what}"
        );
    }
}
