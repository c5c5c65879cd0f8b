//! Interoperability with Mozilla NSS (`cmsutil`), both directions.
//!
//! `cmsutil` reads and writes bare CMS (NSS writes BER with indefinite lengths), not
//! S/MIME: mss's messages are unwrapped with [`mime::cms_of`] before NSS sees them,
//! and NSS's output is given to mss both wrapped as `application/pkcs7-mime` (or
//! `multipart/signed`) and bare (the facade accepts bare DER/BER).
//!
//! The NSS database ([`Workdir::nss`]) holds the trusted root, Bob's key and
//! certificate, and Alice's certificate; mss plays Alice. NSS 3.87 (Debian 12) has no
//! AuthEnvelopedData nor RSA-OAEP in CMS, so those are covered by the OpenSSL tests.

use mss::{
    Certificate, ContentCipher, DecryptionKey, EncryptOptions, KeyTransport, LegacyPolicy,
    OpenOptions, Opened, Report, SecurityLevel, SignOptions, SignatureStatus,
};
use mss_tests::{PASSWORD, User, Workdir, assert_carries, inner_of, mime};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD)
        .unwrap_or_else(|e| panic!("load {}'s PKCS#12: {e}", u.name))
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

fn open(w: &Workdir, msg: &[u8], key: Option<&SoftwareIdentity>) -> Result<Opened, mss::Error> {
    let keys: Vec<&dyn DecryptionKey> = key.map(|k| k as &dyn DecryptionKey).into_iter().collect();
    let ca = Certificate::from_der(&w.pki.ca_der).expect("CA DER");
    mss::open(
        msg,
        &OpenOptions {
            keys,
            trust_anchors: vec![ca],
            ..OpenOptions::default()
        },
    )
}

fn assert_valid_by(report: &Report, who: &User) {
    assert_eq!(report.signatures.len(), 1, "{:#}", report.to_json());
    let s = &report.signatures[0];
    assert_eq!(s.status, SignatureStatus::Valid, "{:#}", report.to_json());
    assert_eq!(s.signer.email.as_deref(), Some(who.email.as_str()));
    assert!(report.all_signatures_valid());
}

/// The content cipher of a bare EnvelopedData, as OpenSSL names it (e.g. `aes-128-cbc`).
fn cipher_named_by_openssl(w: &Workdir, der: &[u8]) -> String {
    let f = w.write("nss-enveloped.der", der);
    let out = w.openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        f.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text
        .find("contentEncryptionAlgorithm:")
        .expect("EnvelopedData printed");
    // contentEncryptionAlgorithm:
    //   algorithm: aes-128-cbc (2.16.840.1.101.3.4.1.2)
    let line = text[at..].lines().nth(1).unwrap_or_default();
    let name = line.trim().strip_prefix("algorithm:").unwrap_or_default();
    name.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- mss signs, NSS verifies

#[test]
fn mss_opaque_signature_verifies_in_nss() {
    let w = Workdir::new();
    let db = w.nss();
    let draft = mss_tests::sample_draft("nss-opaque", &w.pki.alice.email, &w.pki.bob.email);
    let opts = SignOptions {
        opaque: true,
        ..SignOptions::default()
    };
    let msg = mss::sign(&draft, &identity(&w.pki.alice), &opts).expect("mss signs");
    let cms = mime::cms_of(&msg);
    let content = db
        .decode(&cms, None)
        .unwrap_or_else(|e| panic!("NSS rejects mss's signature: {e}"));
    assert_carries(&content, &inner_of(&draft));
    assert!(db.has_good_signature(&cms, None));
}

#[test]
fn mss_detached_signature_verifies_in_nss() {
    let w = Workdir::new();
    let db = w.nss();
    let draft = mss_tests::sample_draft("nss-detached", &w.pki.alice.email, &w.pki.bob.email);
    let msg =
        mss::sign(&draft, &identity(&w.pki.alice), &SignOptions::default()).expect("mss signs");
    let part = mime::signed_part(&msg);
    let cms = mime::cms_of(&msg);
    db.decode(&cms, Some(&part))
        .unwrap_or_else(|e| panic!("NSS rejects mss's detached signature: {e}"));
    assert!(db.has_good_signature(&cms, Some(&part)));
    let mut altered = part.clone();
    let i = altered.len() - 3;
    altered[i] ^= 0x01;
    assert!(
        db.decode(&cms, Some(&altered)).is_err(),
        "NSS must reject an altered signed part"
    );
}

// ---------------------------------------------------------------- NSS signs, mss verifies

#[test]
fn nss_opaque_ber_signature_is_valid_in_mss() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-sign-opaque");
    let ber = db.sign("bob", &content, false);
    assert_eq!(
        &ber[..2],
        &[0x30, 0x80],
        "NSS writes BER indefinite lengths"
    );
    for (how, msg) in [
        ("wrapped", mime::pkcs7_mime(&ber, "signed-data")),
        ("bare", ber.clone()),
    ] {
        let opened = open(&w, &msg, None)
            .unwrap_or_else(|e| panic!("mss cannot open NSS's {how} SignedData: {e}"));
        assert_valid_by(&opened.report, &w.pki.bob);
        assert!(
            opened.report.signatures[0].signing_time.is_some(),
            "cmsutil -G adds a signing time"
        );
        assert_eq!(mss::reply_level(&opened.report), SecurityLevel::Signed);
        assert_carries(&opened.message, &content);
    }
}

#[test]
fn nss_detached_signature_is_valid_in_mss() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-sign-detached");
    let ber = db.sign("bob", &content, true);
    let msg = mime::multipart_signed(&content, &ber, "sha-256");
    let opened = open(&w, &msg, None).expect("mss opens");
    assert_valid_by(&opened.report, &w.pki.bob);
    assert_carries(&opened.message, &content);
    // The same signature over other content is not valid.
    let other = mime::with_signed_part(&msg, &mss_tests::sample_content("other"));
    if let Ok(o) = open(&w, &other, None) {
        assert!(
            !o.report.all_signatures_valid() && o.report.is_signed(),
            "{:#}",
            o.report.to_json()
        );
    }
}

// ---------------------------------------------------------------- mss encrypts, NSS decrypts

fn check_nss_decrypts_mss(cipher: ContentCipher, legacy: bool) {
    let w = Workdir::new();
    let db = w.nss();
    let draft = mss_tests::sample_draft("nss-decrypt", &w.pki.alice.email, &w.pki.bob.email);
    let mut opts = EncryptOptions {
        cipher,
        key_transport: KeyTransport::RsaPkcs1v15,
        ..EncryptOptions::default()
    };
    if legacy {
        opts.policy = &LegacyPolicy;
    }
    let msg = mss::encrypt(&draft, &[cert(&w.pki.bob)], &cert(&w.pki.alice), &opts)
        .expect("mss encrypts");
    let cms = mime::cms_of(&msg);
    assert_eq!(cipher_named_by_openssl(&w, &cms), cipher.name());
    let got = db
        .decode(&cms, None)
        .unwrap_or_else(|e| panic!("NSS (bob) cannot decrypt {cipher:?}: {e}"));
    assert_carries(&got, &inner_of(&draft));
}

#[test]
fn mss_aes128_cbc_decrypts_in_nss() {
    check_nss_decrypts_mss(ContentCipher::Aes128Cbc, false);
}

#[test]
fn mss_aes256_cbc_decrypts_in_nss() {
    check_nss_decrypts_mss(ContentCipher::Aes256Cbc, false);
}

#[test]
fn mss_des_ede3_cbc_decrypts_in_nss() {
    check_nss_decrypts_mss(ContentCipher::DesEde3Cbc, true);
}

// ---------------------------------------------------------------- NSS encrypts, mss decrypts

#[test]
fn nss_enveloped_ber_decrypts_in_mss() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-encrypt");
    let ber = db.encrypt("alice@example.test", &content);
    assert_eq!(
        &ber[..2],
        &[0x30, 0x80],
        "NSS writes BER indefinite lengths"
    );
    let nss_cipher = cipher_named_by_openssl(&w, &ber);
    let alice = identity(&w.pki.alice);
    for (how, msg) in [
        ("wrapped", mime::pkcs7_mime(&ber, "enveloped-data")),
        ("bare", ber.clone()),
    ] {
        let opened = open(&w, &msg, Some(&alice))
            .unwrap_or_else(|e| panic!("mss cannot decrypt NSS's {how} EnvelopedData: {e}"));
        assert!(opened.report.encrypted);
        assert_eq!(
            opened.report.content_cipher.as_deref(),
            Some(nss_cipher.as_str())
        );
        assert_eq!(opened.report.key_transport.as_deref(), Some("rsa-pkcs1v15"));
        assert_carries(&opened.message, &content);
    }
    assert!(
        open(&w, &ber, Some(&identity(&w.pki.carol))).is_err(),
        "carol is not a recipient"
    );
}

#[test]
fn nss_signed_then_encrypted_opens_in_mss() {
    let w = Workdir::new();
    let db = w.nss();
    let content = mss_tests::sample_content("nss-sign-encrypt");
    let signed = mime::pkcs7_mime(&db.sign("bob", &content, false), "signed-data");
    let ber = db.encrypt("alice@example.test", &signed);
    let opened = open(
        &w,
        &mime::pkcs7_mime(&ber, "enveloped-data"),
        Some(&identity(&w.pki.alice)),
    )
    .expect("mss opens");
    assert!(opened.report.encrypted);
    assert_valid_by(&opened.report, &w.pki.bob);
    assert_eq!(
        mss::reply_level(&opened.report),
        SecurityLevel::SignedEncrypted
    );
    assert_carries(&opened.message, &content);
}

#[test]
fn mss_sign_and_encrypt_opens_in_nss() {
    let w = Workdir::new();
    let db = w.nss();
    let draft =
        mss_tests::sample_draft("mss-sign-encrypt-nss", &w.pki.alice.email, &w.pki.bob.email);
    let opts = EncryptOptions {
        sign: SignOptions {
            opaque: true,
            ..SignOptions::default()
        },
        ..EncryptOptions::default()
    };
    let msg = mss::sign_and_encrypt(
        &draft,
        &identity(&w.pki.alice),
        &[cert(&w.pki.bob)],
        None,
        &opts,
    )
    .expect("mss signs and encrypts");
    let signed_entity = db
        .decode(&mime::cms_of(&msg), None)
        .unwrap_or_else(|e| panic!("NSS cannot decrypt: {e}"));
    let inner_cms = mime::cms_of(&signed_entity);
    let content = db
        .decode(&inner_cms, None)
        .unwrap_or_else(|e| panic!("NSS rejects the inner signature: {e}"));
    assert!(db.has_good_signature(&inner_cms, None));
    assert_carries(&content, &inner_of(&draft));
}
