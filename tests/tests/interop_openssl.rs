//! Interoperability with OpenSSL (`openssl cms`), both directions.
//!
//! mss is driven through its facade (`mss::sign`, `mss::encrypt`,
//! `mss::sign_and_encrypt`, `mss::open`) with identities loaded from the PKCS#12 files
//! of the OpenSSL-made test PKI; OpenSSL runs as a separate process on the same files.

use mss::{
    Certificate, ContentCipher, DecryptionKey, DigestAlgorithm, EncryptOptions, KeyTransport,
    LegacyPolicy, OpenOptions, Opened, Report, SecurityLevel, SignOptions, SignatureScheme,
    SignatureStatus, StandardPolicy,
};
use mss_tests::der::{self as tder, Node, signed_data};
use mss_tests::{PASSWORD, User, Workdir, assert_carries, mime};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD)
        .unwrap_or_else(|e| panic!("load {}'s PKCS#12: {e}", u.name))
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

fn ca(w: &Workdir) -> Certificate {
    Certificate::from_der(&w.pki.ca_der).expect("CA DER")
}

/// `mss::open` with the trusted root, and `key` (if any) to decrypt.
fn open(w: &Workdir, msg: &[u8], key: Option<&SoftwareIdentity>) -> Result<Opened, mss::Error> {
    let keys: Vec<&dyn DecryptionKey> = key.map(|k| k as &dyn DecryptionKey).into_iter().collect();
    let opts = OpenOptions {
        keys,
        trust_anchors: vec![ca(w)],
        ..OpenOptions::default()
    };
    mss::open(msg, &opts)
}

/// Exactly one signature, Valid, by `who`.
fn assert_valid_by(report: &Report, who: &User) {
    assert_eq!(report.signatures.len(), 1, "{:#}", report.to_json());
    let s = &report.signatures[0];
    assert_eq!(s.status, SignatureStatus::Valid, "{:#}", report.to_json());
    assert_eq!(s.signer.email.as_deref(), Some(who.email.as_str()));
    assert!(report.all_signatures_valid());
}

fn openssl_print(w: &Workdir, msg: &[u8]) -> String {
    let p = w.write("print-in.eml", msg);
    let out = w.openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "SMIME",
        "-in",
        p.to_str().unwrap(),
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- mss signs

fn mss_sign(
    w: &Workdir,
    opaque: bool,
    scheme: SignatureScheme,
    digest: DigestAlgorithm,
) -> (Vec<u8>, Vec<u8>) {
    let alice = identity(&w.pki.alice);
    let draft = mss_tests::sample_draft("mss-sign", &w.pki.alice.email, &w.pki.bob.email);
    let opts = SignOptions {
        opaque,
        scheme,
        digest,
        ..SignOptions::default()
    };
    let msg = mss::sign(&draft, &alice, &opts).expect("mss signs");
    (draft, msg)
}

fn check_openssl_verifies_mss(opaque: bool, scheme: SignatureScheme, digest: DigestAlgorithm) {
    let w = Workdir::new();
    let (draft, msg) = mss_sign(&w, opaque, scheme, digest);
    let top = mime::parse(&msg);
    let expected_type = if opaque {
        "application/pkcs7-mime"
    } else {
        "multipart/signed"
    };
    assert_eq!(top.mime_type(), expected_type);
    assert_eq!(
        top.header("Subject"),
        mime::parse(&draft).header("Subject"),
        "outer headers are kept"
    );
    let content = w
        .openssl_verify(&msg)
        .unwrap_or_else(|e| panic!("OpenSSL rejects mss's signature: {e}"));
    assert_carries(&content, &mss_tests::inner_of(&draft));
    let printed = openssl_print(&w, &msg);
    let alg = match scheme {
        SignatureScheme::RsaPss => "rsassaPss",
        _ => "rsaEncryption",
    };
    assert!(
        printed.contains(alg),
        "signature algorithm {alg} expected:\n{printed}"
    );
    // Bare DER as well (what a non-MIME consumer would get).
    let der = mime::cms_of(&msg);
    let derfile = w.write("mss-signed.der", &der);
    let mut args = vec![
        "cms",
        "-verify",
        "-CAfile",
        "ca.pem",
        "-inform",
        "DER",
        "-in",
        derfile.to_str().unwrap(),
    ];
    let part;
    if !opaque {
        part = w.write("mss-signed-part", &mime::signed_part(&msg));
        args.extend(["-content", part.to_str().unwrap(), "-binary"]);
    }
    w.openssl(&args);
}

#[test]
fn mss_detached_pkcs1v15_sha256_verifies_in_openssl() {
    check_openssl_verifies_mss(false, SignatureScheme::RsaPkcs1v15, DigestAlgorithm::Sha256);
}

#[test]
fn mss_opaque_pkcs1v15_sha256_verifies_in_openssl() {
    check_openssl_verifies_mss(true, SignatureScheme::RsaPkcs1v15, DigestAlgorithm::Sha256);
}

#[test]
fn mss_detached_pss_verifies_in_openssl() {
    check_openssl_verifies_mss(false, SignatureScheme::RsaPss, DigestAlgorithm::Sha256);
}

#[test]
fn mss_opaque_pss_verifies_in_openssl() {
    check_openssl_verifies_mss(true, SignatureScheme::RsaPss, DigestAlgorithm::Sha256);
}

#[test]
fn mss_sha384_and_sha512_signatures_verify_in_openssl() {
    for d in [DigestAlgorithm::Sha384, DigestAlgorithm::Sha512] {
        check_openssl_verifies_mss(false, SignatureScheme::RsaPkcs1v15, d);
        check_openssl_verifies_mss(true, SignatureScheme::RsaPss, d);
    }
}

// ---------------------------------------------------------------- OpenSSL signs

fn check_mss_verifies_openssl(opaque: bool, extra: &[&str], expected_alg: &str) -> Report {
    let w = Workdir::new();
    let content = mss_tests::sample_content("openssl-sign");
    let msg = w.openssl_sign("alice", &content, opaque, extra);
    let opened =
        open(&w, &msg, None).unwrap_or_else(|e| panic!("mss cannot open OpenSSL's message: {e}"));
    assert_valid_by(&opened.report, &w.pki.alice);
    assert_eq!(
        opened.report.signatures[0].signature_algorithm,
        expected_alg
    );
    assert!(!opened.report.encrypted);
    assert_eq!(mss::reply_level(&opened.report), SecurityLevel::Signed);
    assert_carries(&opened.message, &content);
    if opaque {
        // The bare DER too.
        let bare = open(&w, &mime::cms_of(&msg), None).expect("mss opens bare DER");
        assert_valid_by(&bare.report, &w.pki.alice);
        assert_carries(&bare.message, &content);
    }
    opened.report
}

#[test]
fn openssl_detached_signature_is_valid_in_mss() {
    check_mss_verifies_openssl(false, &[], "rsa-pkcs1v15-sha256");
}

#[test]
fn openssl_opaque_signature_is_valid_in_mss() {
    check_mss_verifies_openssl(true, &[], "rsa-pkcs1v15-sha256");
}

#[test]
fn openssl_detached_pss_signature_is_valid_in_mss() {
    check_mss_verifies_openssl(
        false,
        &["-keyopt", "rsa_padding_mode:pss"],
        "rsa-pss-sha256",
    );
}

#[test]
fn openssl_opaque_pss_signature_is_valid_in_mss() {
    check_mss_verifies_openssl(true, &["-keyopt", "rsa_padding_mode:pss"], "rsa-pss-sha256");
}

#[test]
fn openssl_signature_by_subject_key_identifier_is_valid_in_mss() {
    check_mss_verifies_openssl(true, &["-keyid"], "rsa-pkcs1v15-sha256");
}

#[test]
fn openssl_sha512_signature_is_valid_in_mss() {
    check_mss_verifies_openssl(false, &["-md", "sha512"], "rsa-pkcs1v15-sha512");
}

#[test]
fn openssl_sha1_signature_is_valid_with_a_weak_algorithm_warning() {
    let report = check_mss_verifies_openssl(true, &["-md", "sha1"], "rsa-pkcs1v15-sha1");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains("sha1")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn openssl_signature_by_untrusted_signer_is_not_valid() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("untrusted");
    let msg = w.openssl_sign("mallory", &content, true, &[]);
    let opened = open(&w, &msg, None).expect("well-formed message opens");
    assert_eq!(opened.report.signatures.len(), 1);
    assert_eq!(
        opened.report.signatures[0].status,
        SignatureStatus::Untrusted,
        "{:#}",
        opened.report.to_json()
    );
    assert!(!opened.report.all_signatures_valid());
}

#[test]
fn openssl_signature_without_certificates_needs_extra_certs() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("nocerts");
    let msg = w.openssl_sign("alice", &content, false, &["-nocerts"]);
    let opened = open(&w, &msg, None).expect("well-formed message opens");
    assert_eq!(opened.report.signatures.len(), 1);
    assert_ne!(opened.report.signatures[0].status, SignatureStatus::Valid);
    let opts = OpenOptions {
        trust_anchors: vec![ca(&w)],
        extra_certs: vec![cert(&w.pki.alice)],
        ..OpenOptions::default()
    };
    let opened = mss::open(&msg, &opts).expect("opens");
    assert_valid_by(&opened.report, &w.pki.alice);
}

// ---------------------------------------------------------------- mss encrypts

fn mss_encrypt_to_bob(
    w: &Workdir,
    cipher: ContentCipher,
    kt: KeyTransport,
    legacy: bool,
) -> (Vec<u8>, Vec<u8>) {
    let draft = mss_tests::sample_draft("mss-encrypt", &w.pki.alice.email, &w.pki.bob.email);
    let mut opts = EncryptOptions {
        cipher,
        key_transport: kt,
        ..EncryptOptions::default()
    };
    if legacy {
        opts.policy = &LegacyPolicy;
    }
    let msg = mss::encrypt(&draft, &[cert(&w.pki.bob)], &cert(&w.pki.alice), &opts)
        .unwrap_or_else(|e| panic!("mss encrypts with {cipher:?}/{kt:?}: {e}"));
    (draft, msg)
}

fn check_openssl_decrypts_mss(
    cipher: ContentCipher,
    kt: KeyTransport,
    legacy: bool,
    printed_cipher: &str,
    printed_kt: &str,
) {
    let w = Workdir::new();
    let (draft, msg) = mss_encrypt_to_bob(&w, cipher, kt, legacy);
    let top = mime::parse(&msg);
    assert_eq!(top.mime_type(), "application/pkcs7-mime");
    let smime_type = if cipher.is_aead() {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    // MIME parameter values compare case-insensitively here (mss writes lowercase).
    let got_type = top.param("smime-type").unwrap_or_default();
    assert!(
        got_type.eq_ignore_ascii_case(smime_type),
        "smime-type={got_type}, expected {smime_type}"
    );
    let printed = openssl_print(&w, &msg);
    assert!(
        printed.contains(printed_cipher),
        "expected {printed_cipher}:\n{printed}"
    );
    assert!(
        printed.contains(printed_kt),
        "expected {printed_kt}:\n{printed}"
    );
    let inner = mss_tests::inner_of(&draft);
    let got = w
        .openssl_decrypt(&msg, "bob")
        .unwrap_or_else(|e| panic!("OpenSSL (bob) cannot decrypt: {e}"));
    assert_carries(&got, &inner);
    // The sender is always a recipient.
    let got = w
        .openssl_decrypt(&msg, "alice")
        .unwrap_or_else(|e| panic!("OpenSSL (alice, sender) cannot decrypt: {e}"));
    assert_carries(&got, &inner);
    assert!(
        w.openssl_decrypt(&msg, "carol").is_err(),
        "carol is not a recipient"
    );
}

#[test]
fn mss_aes128_cbc_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes128Cbc,
        KeyTransport::RsaPkcs1v15,
        false,
        "aes-128-cbc",
        "rsaEncryption",
    );
}

#[test]
fn mss_aes192_cbc_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes192Cbc,
        KeyTransport::RsaPkcs1v15,
        false,
        "aes-192-cbc",
        "rsaEncryption",
    );
}

#[test]
fn mss_aes256_cbc_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes256Cbc,
        KeyTransport::RsaPkcs1v15,
        false,
        "aes-256-cbc",
        "rsaEncryption",
    );
}

#[test]
fn mss_des_ede3_cbc_under_legacy_policy_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::DesEde3Cbc,
        KeyTransport::RsaPkcs1v15,
        true,
        "des-ede3-cbc",
        "rsaEncryption",
    );
}

#[test]
fn standard_policy_refuses_to_produce_des_ede3() {
    let w = Workdir::new();
    let draft = mss_tests::sample_draft("3des", &w.pki.alice.email, &w.pki.bob.email);
    let opts = EncryptOptions {
        cipher: ContentCipher::DesEde3Cbc,
        policy: &StandardPolicy,
        ..EncryptOptions::default()
    };
    let r = mss::encrypt(&draft, &[cert(&w.pki.bob)], &cert(&w.pki.alice), &opts);
    assert!(
        matches!(r, Err(mss::Error::PolicyViolation { .. })),
        "{r:?}"
    );
}

#[test]
fn mss_aes128_gcm_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes128Gcm,
        KeyTransport::RsaPkcs1v15,
        false,
        "aes-128-gcm",
        "rsaEncryption",
    );
}

#[test]
fn mss_aes256_gcm_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes256Gcm,
        KeyTransport::RsaPkcs1v15,
        false,
        "aes-256-gcm",
        "rsaEncryption",
    );
}

#[test]
fn mss_rsa_oaep_sha256_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes256Cbc,
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        },
        false,
        "aes-256-cbc",
        "rsaesOaep",
    );
}

#[test]
fn mss_rsa_oaep_sha1_decrypts_in_openssl() {
    check_openssl_decrypts_mss(
        ContentCipher::Aes128Gcm,
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1,
        },
        false,
        "aes-128-gcm",
        "rsaesOaep",
    );
}

// ---------------------------------------------------------------- OpenSSL encrypts

fn check_mss_decrypts_openssl(opts: &[&str], keyopts: &[&str], cipher: &str, kt: &str) -> Report {
    let w = Workdir::new();
    let content = mss_tests::sample_content("openssl-encrypt");
    let msg = w.openssl_encrypt(&content, &["bob"], opts, keyopts);
    let bob = identity(&w.pki.bob);
    let opened = open(&w, &msg, Some(&bob))
        .unwrap_or_else(|e| panic!("mss cannot decrypt OpenSSL's {opts:?}: {e}"));
    let r = &opened.report;
    assert!(r.encrypted);
    assert!(!r.is_signed());
    assert_eq!(r.content_cipher.as_deref(), Some(cipher));
    assert_eq!(r.key_transport.as_deref(), Some(kt));
    assert_eq!(r.authenticated_encryption, cipher.ends_with("gcm"));
    assert_eq!(mss::reply_level(r), SecurityLevel::Encrypted);
    assert_carries(&opened.message, &content);
    // A key that is not a recipient's cannot open it.
    let carol = identity(&w.pki.carol);
    assert!(
        open(&w, &msg, Some(&carol)).is_err(),
        "carol is not a recipient"
    );
    opened.report
}

#[test]
fn openssl_aes256_cbc_decrypts_in_mss() {
    check_mss_decrypts_openssl(&["-aes256"], &[], "aes-256-cbc", "rsa-pkcs1v15");
}

#[test]
fn openssl_aes128_cbc_decrypts_in_mss() {
    check_mss_decrypts_openssl(&["-aes128"], &[], "aes-128-cbc", "rsa-pkcs1v15");
}

#[test]
fn openssl_aes128_gcm_decrypts_in_mss() {
    check_mss_decrypts_openssl(&["-aes-128-gcm"], &[], "aes-128-gcm", "rsa-pkcs1v15");
}

#[test]
fn openssl_aes256_gcm_decrypts_in_mss() {
    check_mss_decrypts_openssl(&["-aes-256-gcm"], &[], "aes-256-gcm", "rsa-pkcs1v15");
}

#[test]
fn openssl_des_ede3_cbc_decrypts_in_mss_with_a_warning() {
    let r = check_mss_decrypts_openssl(&["-des3"], &[], "des-ede3-cbc", "rsa-pkcs1v15");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains("des-ede3-cbc")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn openssl_rsa_oaep_sha256_decrypts_in_mss() {
    check_mss_decrypts_openssl(
        &["-aes256"],
        &[
            "-keyopt",
            "rsa_padding_mode:oaep",
            "-keyopt",
            "rsa_oaep_md:sha256",
        ],
        "aes-256-cbc",
        "rsa-oaep-sha256",
    );
}

#[test]
fn openssl_rsa_oaep_sha1_decrypts_in_mss() {
    check_mss_decrypts_openssl(
        &["-aes256"],
        &["-keyopt", "rsa_padding_mode:oaep"],
        "aes-256-cbc",
        "rsa-oaep-sha1",
    );
}

#[test]
fn openssl_recipient_by_subject_key_identifier_decrypts_in_mss() {
    check_mss_decrypts_openssl(&["-aes256", "-keyid"], &[], "aes-256-cbc", "rsa-pkcs1v15");
}

#[test]
fn openssl_message_to_several_recipients_decrypts_for_each() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("multi");
    let msg = w.openssl_encrypt(&content, &["carol", "bob", "alice"], &["-aes256"], &[]);
    for u in [&w.pki.alice, &w.pki.bob, &w.pki.carol] {
        let opened =
            open(&w, &msg, Some(&identity(u))).unwrap_or_else(|e| panic!("{}: {e}", u.name));
        assert_carries(&opened.message, &content);
    }
    assert!(open(&w, &msg, Some(&identity(&w.pki.mallory))).is_err());
}

// ---------------------------------------------------------------- signed, then encrypted

#[test]
fn openssl_signed_then_encrypted_opens_in_mss() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("sign-encrypt");
    let signed = w.openssl_sign("alice", &content, false, &[]);
    // `openssl cms -encrypt` of the whole signed message: the entity inside is multipart/signed.
    let msg = w.openssl_encrypt(&signed, &["bob"], &["-aes256"], &[]);
    let opened = open(&w, &msg, Some(&identity(&w.pki.bob))).expect("mss opens");
    assert!(opened.report.encrypted);
    assert_valid_by(&opened.report, &w.pki.alice);
    assert_eq!(
        mss::reply_level(&opened.report),
        SecurityLevel::SignedEncrypted
    );
    assert_carries(&opened.message, &content);
}

#[test]
fn mss_sign_and_encrypt_opens_in_openssl() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let draft = mss_tests::sample_draft("mss-sign-encrypt", &w.pki.alice.email, &w.pki.bob.email);
    for opaque in [false, true] {
        let opts = EncryptOptions {
            sign: SignOptions {
                opaque,
                ..SignOptions::default()
            },
            ..EncryptOptions::default()
        };
        let msg = mss::sign_and_encrypt(&draft, &alice, &[cert(&w.pki.bob)], None, &opts)
            .expect("mss signs and encrypts");
        for reader in ["bob", "alice"] {
            let signed = w
                .openssl_decrypt(&msg, reader)
                .unwrap_or_else(|e| panic!("{reader} cannot decrypt: {e}"));
            let inner_type = mime::parse(&signed).mime_type();
            let want = if opaque {
                "application/pkcs7-mime"
            } else {
                "multipart/signed"
            };
            assert_eq!(inner_type, want);
            let content = w
                .openssl_verify(&signed)
                .unwrap_or_else(|e| panic!("OpenSSL rejects the inner signature: {e}"));
            assert_carries(&content, &mss_tests::inner_of(&draft));
        }
        // And mss reads its own.
        let opened = open(&w, &msg, Some(&identity(&w.pki.bob))).expect("mss opens its own");
        assert_valid_by(&opened.report, &w.pki.alice);
        assert!(opened.report.encrypted);
    }
}

// ---------------------------------------------------------------- tampering

/// Variants of a signed CMS object, each altered in one place.
fn tampered_variants(der: &[u8], w: &Workdir) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let original = Node::parse(der);
    {
        let mut t = original.clone();
        if let Some(c) = signed_data::econtent(&mut t) {
            let i = c.len() / 2;
            c[i] ^= 0x01;
            out.push(("encapsulated content".to_string(), t.to_der()));
        }
    }
    {
        let mut t = original.clone();
        let s = signed_data::signature(&mut t);
        s[0] ^= 0x01;
        out.push(("signature, first byte".into(), t.to_der()));
        let mut t = original.clone();
        let s = signed_data::signature(&mut t);
        let last = s.len() - 1;
        s[last] ^= 0x80;
        out.push(("signature, last byte".into(), t.to_der()));
    }
    {
        let mut t = original.clone();
        signed_data::signed_attribute(&mut t, tder::OID_MESSAGE_DIGEST).bytes_mut()[5] ^= 0x10;
        out.push(("messageDigest attribute".into(), t.to_der()));
    }
    if der
        .windows(tder::OID_SIGNING_TIME.len())
        .any(|x| x == tder::OID_SIGNING_TIME)
    {
        let mut t = original.clone();
        let time = signed_data::signed_attribute(&mut t, tder::OID_SIGNING_TIME).bytes_mut();
        // YYMMDDhhmmssZ: change the tens of minutes, keeping a valid time.
        let i = 8;
        time[i] = if time[i] == b'0' { b'1' } else { b'0' };
        out.push(("signingTime attribute".into(), t.to_der()));
    }
    {
        let mut t = original.clone();
        signed_data::signed_attribute(&mut t, tder::OID_CONTENT_TYPE).bytes_mut()[8] ^= 0x03;
        out.push(("contentType attribute".into(), t.to_der()));
    }
    for swap_sid in [false, true] {
        let mut t = original.clone();
        let certs =
            signed_data::certificates(&mut t).expect("the signer's certificate is included");
        let alice = Node::parse(&w.pki.alice.cert_der);
        let i = certs
            .iter()
            .position(|c| *c == alice)
            .expect("alice's certificate is included");
        certs[i] = Node::parse(&w.pki.carol.cert_der);
        if swap_sid {
            *signed_data::sid(&mut t) = tder::issuer_and_serial(&w.pki.carol.cert_der);
        }
        out.push((
            format!("certificate swapped for carol's (signer id swapped: {swap_sid})"),
            t.to_der(),
        ));
    }
    out
}

fn assert_never_valid(w: &Workdir, what: &str, msg: &[u8]) {
    // Refusing to open (an error) is fine; opening must not report Valid.
    if let Ok(o) = open(w, msg, None) {
        assert!(
            !o.report.all_signatures_valid(),
            "mss reports a message with a tampered {what} as valid"
        );
        assert!(
            o.report
                .signatures
                .iter()
                .all(|s| s.status != SignatureStatus::Valid),
            "tampered {what}: {:#}",
            o.report.to_json()
        );
        assert!(
            o.report.is_signed(),
            "tampered {what}: the signature vanished from the report"
        );
    }
}

#[test]
fn tampered_openssl_opaque_signatures_are_never_valid() {
    let w = Workdir::new();
    let content = mss_tests::sample_content("tamper-openssl");
    let msg = w.openssl_sign("alice", &content, true, &[]);
    let der = mime::cms_of(&msg);
    // The untouched re-encoding is valid: the harness alters nothing by itself.
    let opened = open(
        &w,
        &mime::pkcs7_mime(&Node::parse(&der).to_der(), "signed-data"),
        None,
    )
    .expect("opens");
    assert_valid_by(&opened.report, &w.pki.alice);
    let variants = tampered_variants(&der, &w);
    assert!(variants.len() >= 7, "{}", variants.len());
    for (what, t) in variants {
        assert_never_valid(&w, &what, &mime::pkcs7_mime(&t, "signed-data"));
    }
}

#[test]
fn tampered_mss_detached_signatures_are_never_valid() {
    let w = Workdir::new();
    let (_, msg) = mss_sign(
        &w,
        false,
        SignatureScheme::RsaPkcs1v15,
        DigestAlgorithm::Sha256,
    );
    let opened = open(&w, &msg, None).expect("opens");
    assert_valid_by(&opened.report, &w.pki.alice);
    let der = mime::cms_of(&msg);
    for (what, t) in tampered_variants(&der, &w) {
        let m = mime::with_signature(&msg, &t);
        assert_never_valid(&w, &what, &m);
        assert!(
            w.openssl_verify(&m).is_err(),
            "OpenSSL accepts tampered {what} too"
        );
    }
    // The signed part changed, signature kept.
    let mut part = mime::signed_part(&msg);
    let i = part.len() - 5;
    part[i] ^= 0x01;
    assert_never_valid(&w, "signed part", &mime::with_signed_part(&msg, &part));
}

#[test]
fn tampered_mss_opaque_pss_signatures_are_never_valid() {
    let w = Workdir::new();
    let (_, msg) = mss_sign(&w, true, SignatureScheme::RsaPss, DigestAlgorithm::Sha256);
    let der = mime::cms_of(&msg);
    for (what, t) in tampered_variants(&der, &w) {
        assert_never_valid(&w, &what, &mime::pkcs7_mime(&t, "signed-data"));
    }
}

#[test]
fn tampered_gcm_ciphertext_does_not_decrypt() {
    let w = Workdir::new();
    let (_, msg) = mss_encrypt_to_bob(
        &w,
        ContentCipher::Aes256Gcm,
        KeyTransport::RsaPkcs1v15,
        false,
    );
    let der = mime::cms_of(&msg);
    let bob = identity(&w.pki.bob);
    assert!(open(&w, &msg, Some(&bob)).is_ok());
    // Flip a byte in the middle of the encrypted content (far from the recipient infos).
    let mut t = der.clone();
    let i = der.len() - 40;
    t[i] ^= 0x01;
    let r = open(&w, &mime::pkcs7_mime(&t, "authEnveloped-data"), Some(&bob));
    assert!(
        r.is_err(),
        "AES-GCM must detect the altered ciphertext or tag"
    );
}
