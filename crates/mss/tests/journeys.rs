//! The facade's journeys end to end with software identities: send, open, nesting,
//! reply levels, and the verdicts that must never read "valid" when they are not.

mod common;

use std::time::{Duration, SystemTime};

use mss::{
    ContentCipher, EncryptOptions, LayerKind, OpenOptions, Report, SecurityLevel, SignOptions,
    SignatureStatus, reply_level,
};

use mss_token::SoftwareIdentity;

use common::{anchors, carol, open_as, other_ca, pki};

const DRAFT: &[u8] = b"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: test\r\n\r\nHello Bob.\r\n";

fn body_of(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg).to_string()
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Report>();
    check::<mss::Opened>();
    check::<mss::Error>();
    check::<SoftwareIdentity>();
}

#[test]
fn signed_message_opens_valid_and_keeps_headers_outside() {
    let p = pki();
    let signed = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let text = body_of(&signed);
    assert!(
        text.starts_with("From: Alice"),
        "RFC 5322 headers stay outside: {text}"
    );
    assert!(text.contains("multipart/signed"));
    let opened = open_as(&signed, None);
    assert_eq!(opened.report.signatures.len(), 1);
    assert_eq!(opened.report.signatures[0].status, SignatureStatus::Valid);
    assert_eq!(
        opened.report.signatures[0].signer.email.as_deref(),
        Some("alice@example.test")
    );
    assert!(!opened.report.encrypted);
    assert!(body_of(&opened.message).contains("Hello Bob."));
    assert!(body_of(&opened.message).contains("Subject: test"));
    assert_eq!(reply_level(&opened.report), SecurityLevel::Signed);
}

#[test]
fn encryption_always_includes_the_sender() {
    let p = pki();
    let sealed = mss::encrypt(
        DRAFT,
        &[p.bob.certificate().clone()],
        p.alice.certificate(),
        &EncryptOptions::default(),
    )
    .unwrap();
    for reader in [&p.bob, &p.alice] {
        let opened = open_as(&sealed, Some(reader));
        assert!(opened.report.encrypted);
        assert!(body_of(&opened.message).contains("Hello Bob."));
    }
    let err = mss::open(
        &sealed,
        &OpenOptions {
            keys: vec![carol()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, mss::Error::NotARecipient { recipients: 2 }),
        "{err}"
    );
}

#[test]
fn cbc_without_signature_is_flagged_gcm_is_not() {
    let p = pki();
    let cbc = mss::encrypt(
        DRAFT,
        &[p.bob.certificate().clone()],
        p.alice.certificate(),
        &EncryptOptions::default(),
    )
    .unwrap();
    let r = open_as(&cbc, Some(&p.bob)).report;
    assert!(
        r.warnings.iter().any(|w| w == "unauthenticated-encryption"),
        "{:?}",
        r.warnings
    );
    assert_eq!(reply_level(&r), SecurityLevel::Encrypted);
    let gcm_opts = EncryptOptions {
        cipher: ContentCipher::Aes128Gcm,
        ..Default::default()
    };
    let gcm = mss::encrypt(
        DRAFT,
        &[p.bob.certificate().clone()],
        p.alice.certificate(),
        &gcm_opts,
    )
    .unwrap();
    let r = open_as(&gcm, Some(&p.bob)).report;
    assert!(r.authenticated_encryption);
    assert_eq!(r.layers[0].kind, LayerKind::AuthEnveloped);
    assert!(!r.warnings.iter().any(|w| w == "unauthenticated-encryption"));
}

#[test]
fn sign_and_encrypt_reports_both_layers() {
    let p = pki();
    let sealed = mss::sign_and_encrypt(
        DRAFT,
        &p.alice,
        &[p.bob.certificate().clone()],
        None,
        &EncryptOptions::default(),
    )
    .unwrap();
    let opened = open_as(&sealed, Some(&p.bob));
    let kinds: Vec<LayerKind> = opened.report.layers.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, vec![LayerKind::Enveloped, LayerKind::SignedDetached]);
    assert!(opened.report.all_signatures_valid());
    assert_eq!(reply_level(&opened.report), SecurityLevel::SignedEncrypted);
    assert!(body_of(&opened.message).contains("Hello Bob."));
    assert!(!body_of(&opened.message).contains("multipart/signed"));
}

#[test]
fn triple_wrap_is_reported_layer_by_layer() {
    let p = pki();
    let inner = mss::sign_and_encrypt(
        DRAFT,
        &p.alice,
        &[p.bob.certificate().clone()],
        None,
        &EncryptOptions::default(),
    )
    .unwrap();
    let outer = mss::sign(
        &inner,
        carol(),
        &SignOptions {
            opaque: true,
            ..Default::default()
        },
    )
    .unwrap();
    let opened = open_as(&outer, Some(&p.bob));
    let kinds: Vec<LayerKind> = opened.report.layers.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        vec![
            LayerKind::SignedOpaque,
            LayerKind::Enveloped,
            LayerKind::SignedDetached
        ]
    );
    let emails: Vec<_> = opened
        .report
        .signatures
        .iter()
        .map(|s| s.signer.email.clone().unwrap_or_default())
        .collect();
    assert_eq!(emails, vec!["carol@example.test", "alice@example.test"]);
    assert!(opened.report.all_signatures_valid());
    assert!(body_of(&opened.message).contains("Hello Bob."));
}

#[test]
fn every_open_verifies_again() {
    let p = pki();
    let signed = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let now = open_as(&signed, None);
    assert!(now.report.all_signatures_valid());
    // The same bytes, opened later than the certificate's validity: a fresh verdict.
    let later = SystemTime::now() + Duration::from_secs(3 * 365 * 24 * 3600);
    let r = mss::open(
        &signed,
        &OpenOptions {
            trust_anchors: anchors(),
            time: Some(later),
            ..Default::default()
        },
    )
    .unwrap()
    .report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Expired);
    // And again now: still valid (nothing was cached either way).
    assert!(open_as(&signed, None).report.all_signatures_valid());
}

#[test]
fn untrusted_signer_and_tampering_are_never_valid() {
    let p = pki();
    let signed = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let r = mss::open(
        &signed,
        &OpenOptions {
            trust_anchors: vec![other_ca().certificate().clone()],
            ..Default::default()
        },
    )
    .unwrap()
    .report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Untrusted);
    assert!(!r.all_signatures_valid());
    let tampered = body_of(&signed).replace("Hello Bob.", "Hello Bob!");
    let r = open_as(tampered.as_bytes(), None).report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Invalid);
    // Opaque signed data: the encapsulated content changed inside the DER.
    let opaque = mss::sign(
        DRAFT,
        &p.alice,
        &SignOptions {
            opaque: true,
            ..Default::default()
        },
    )
    .unwrap();
    let opened = open_as(&opaque, None);
    assert!(opened.report.all_signatures_valid());
    let text = body_of(&opaque);
    let (head, b64) = text.split_once("\r\n\r\n").unwrap();
    let mut der = mss_cms::mime::decode_transfer_encoding(b64.as_bytes(), Some("base64")).unwrap();
    let at = der
        .windows(9)
        .position(|w| w == b"Hello Bob")
        .expect("content inside");
    der[at] = b'J';
    let forged = [
        head.as_bytes(),
        b"\r\n\r\n",
        &mss_cms::mime::encode_base64_lines(&der),
    ]
    .concat();
    let r = open_as(&forged, None).report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Invalid);
}

#[test]
fn signer_other_than_sender_is_flagged() {
    let signed = mss::sign(DRAFT, carol(), &SignOptions::default()).unwrap();
    let r = open_as(&signed, None).report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert!(
        r.warnings.iter().any(|w| w == "signer-mismatch"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn replies_keep_the_original_level() {
    let p = pki();
    let reply = b"From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Re: test\r\n\r\nThanks.\r\n";
    for (level, encrypted, signed) in [
        (SecurityLevel::None, false, false),
        (SecurityLevel::Signed, false, true),
        (SecurityLevel::Encrypted, true, true),
        (SecurityLevel::SignedEncrypted, true, true),
    ] {
        let out = mss::secure_reply(
            reply,
            level,
            &p.bob,
            &[p.alice.certificate().clone()],
            None,
            &EncryptOptions::default(),
        )
        .unwrap();
        let r = open_as(&out, Some(&p.alice)).report;
        assert_eq!(r.encrypted, encrypted, "{level:?}");
        assert_eq!(r.is_signed(), signed, "{level:?}");
        if signed {
            assert!(r.all_signatures_valid());
        }
    }
}

#[test]
fn legacy_production_needs_the_legacy_policy() {
    let p = pki();
    let opts = EncryptOptions {
        cipher: ContentCipher::DesEde3Cbc,
        ..Default::default()
    };
    let err = mss::encrypt(
        DRAFT,
        &[p.bob.certificate().clone()],
        p.alice.certificate(),
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err, mss::Error::PolicyViolation { ref policy, .. } if policy == "standard"),
        "{err}"
    );
    let legacy = mss::LegacyPolicy;
    let opts = EncryptOptions {
        cipher: ContentCipher::DesEde3Cbc,
        policy: &legacy,
        ..Default::default()
    };
    let sealed = mss::encrypt(
        DRAFT,
        &[p.bob.certificate().clone()],
        p.alice.certificate(),
        &opts,
    )
    .unwrap();
    let r = open_as(&sealed, Some(&p.bob)).report;
    assert!(
        r.warnings.iter().any(|w| w.starts_with("weak-algorithm")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn report_json_has_the_documented_shape() {
    let p = pki();
    let sealed = mss::sign_and_encrypt(
        DRAFT,
        &p.alice,
        &[p.bob.certificate().clone()],
        None,
        &EncryptOptions::default(),
    )
    .unwrap();
    let j = open_as(&sealed, Some(&p.bob)).report.to_json();
    assert_eq!(j["encrypted"], true);
    assert_eq!(j["content_cipher"], "aes-256-cbc");
    assert_eq!(j["signatures"][0]["status"], "valid");
    assert_eq!(j["signatures"][0]["signer"]["email"], "alice@example.test");
    assert!(
        j["signatures"][0]["signer"]["subject"]
            .as_str()
            .unwrap()
            .contains("Alice")
    );
    assert_eq!(j["signatures"][0]["digest"], "sha256");
    assert_eq!(
        j["signatures"][0]["signature_algorithm"],
        "rsa-pkcs1v15-sha256"
    );
    assert!(j["warnings"].is_array());
    assert_eq!(j["reply_level"], "signed-encrypted");
}

#[test]
fn bare_cms_with_non_mime_content_is_handed_back_as_is() {
    use mss_algs::signature::SignatureAlgorithm;
    use mss_cms::signed::{SignParams, SignerSpec};
    let p = pki();
    let spec = SignerSpec {
        key: &p.alice,
        algorithm: SignatureAlgorithm::rsa_pkcs1v15(mss::DigestAlgorithm::Sha256),
        identify_by_ski: true,
    };
    let der = mss_cms::signed::sign(
        b"This is some sample content.",
        &[spec],
        &SignParams {
            detached: false,
            signing_time: None,
        },
        &mss::StandardPolicy,
    )
    .unwrap();
    let opened = open_as(&der, None);
    assert_eq!(opened.message, b"This is some sample content.");
    assert!(opened.report.all_signatures_valid());
    assert!(
        opened
            .report
            .warnings
            .iter()
            .any(|w| w == "inner-content-not-mime")
    );
}

#[test]
fn a_look_alike_sender_address_is_a_mismatch() {
    let p = pki();
    // "malice@…" contains "alice@…": only an exact address match is a match.
    let draft =
        b"From: Mallory <malice@example.test>\r\nTo: bob@example.test\r\nSubject: x\r\n\r\nHi\r\n";
    let signed = mss::sign(draft, &p.alice, &SignOptions::default()).unwrap();
    let r = open_as(&signed, None).report;
    assert!(
        r.warnings.iter().any(|w| w == "signer-mismatch"),
        "{:?}",
        r.warnings
    );
    let draft = b"From: ALICE@example.test\r\nSubject: x\r\n\r\nHi\r\n";
    let signed = mss::sign(draft, &p.alice, &SignOptions::default()).unwrap();
    let r = open_as(&signed, None).report;
    assert!(
        !r.warnings.iter().any(|w| w == "signer-mismatch"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_cps_signer_is_reported_with_national_id_name_and_profession() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let cert = dir.path().join("c.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-multivalue-rdn",
            "-utf8",
        ])
        .args([
            "-subj",
            "/CN=810001234567+SN=DUPONT+GN=JEAN/title=Médecin/O=Test",
        ])
        .args([
            "-addext",
            "keyUsage=critical,digitalSignature,nonRepudiation",
        ])
        .args(["-addext", "subjectAltName=email:jean.dupont@example.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is required for this test (apt-get install openssl)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let pem = [
        std::fs::read_to_string(&key).unwrap(),
        std::fs::read_to_string(&cert).unwrap(),
    ]
    .concat();
    let id = SoftwareIdentity::from_pem(&pem, None).unwrap();
    let draft = b"From: jean.dupont@example.test\r\nSubject: cr\r\n\r\nCompte rendu.\r\n";
    let signed = mss::sign(draft, &id, &SignOptions::default()).unwrap();
    let r = mss::open(
        &signed,
        &OpenOptions {
            trust_anchors: vec![id.certificate().clone()],
            ..Default::default()
        },
    )
    .unwrap()
    .report;
    let cps = r.signatures[0]
        .signer
        .cps
        .clone()
        .expect("CPS identity in the report");
    assert_eq!(cps.national_id, "810001234567");
    assert_eq!(cps.surname.as_deref(), Some("DUPONT"));
    assert_eq!(cps.given_name.as_deref(), Some("JEAN"));
    assert_eq!(cps.profession.as_deref(), Some("Médecin"));
    assert_eq!(
        r.to_json()["signatures"][0]["signer"]["cps"]["national_id"],
        "810001234567"
    );
    // An ordinary certificate has none.
    let signed = mss::sign(DRAFT, &pki().alice, &SignOptions::default()).unwrap();
    assert!(
        open_as(&signed, None).report.signatures[0]
            .signer
            .cps
            .is_none()
    );
}
