//! The certificate authority: what it issues must satisfy OpenSSL's S/MIME checks.

mod common;

use common::*;
use der::EncodePem;
use mss_token::{
    CertificateAuthority, KeyUsageProfile, PersonProfile, SoftwareIdentity, TokenError,
};
use pkcs8::LineEnding;

fn write_cert(dir: &std::path::Path, name: &str, cert: &x509_cert::Certificate) {
    std::fs::write(dir.join(name), cert.to_pem(LineEnding::LF).expect("pem")).expect("write");
}

fn verify(dir: &std::path::Path, purpose: &str, leaf: &str) -> (bool, String) {
    openssl_status(
        dir,
        &["verify", "-CAfile", "ca.pem", "-purpose", purpose, leaf],
    )
}

#[test]
fn issued_certificates_pass_openssl_smime_purposes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ca = CertificateAuthority::new("MSS Demo CA, Test", 2048).expect("ca");
    write_cert(d, "ca.pem", ca.certificate());

    let both = ca
        .issue(&PersonProfile::new("Dr Alice Martin", "alice@example.org"))
        .expect("issue");
    write_cert(d, "both.pem", both.certificate());
    for purpose in ["smimesign", "smimeencrypt"] {
        let (ok, out) = verify(d, purpose, "both.pem");
        assert!(ok, "{purpose}: {out}");
    }
    assert_eq!(both.chain(), std::slice::from_ref(ca.certificate()));

    let sign_only = ca
        .issue(&PersonProfile {
            usage: KeyUsageProfile::SignOnly,
            ..PersonProfile::new("Bob", "bob@example.org")
        })
        .expect("issue");
    write_cert(d, "sign.pem", sign_only.certificate());
    assert!(verify(d, "smimesign", "sign.pem").0);
    assert!(
        !verify(d, "smimeencrypt", "sign.pem").0,
        "sign-only certificate accepted for encryption"
    );

    let enc_only = ca
        .issue(&PersonProfile {
            usage: KeyUsageProfile::EncryptOnly,
            ..PersonProfile::new("Carol", "carol@example.org")
        })
        .expect("issue");
    write_cert(d, "enc.pem", enc_only.certificate());
    assert!(verify(d, "smimeencrypt", "enc.pem").0);
    assert!(
        !verify(d, "smimesign", "enc.pem").0,
        "encrypt-only certificate accepted for signing"
    );

    // Another CA's certificate does not verify against this one (the checks can fail).
    let other = CertificateAuthority::new("Other CA", 1024).expect("other ca");
    let stranger = other
        .issue(&PersonProfile {
            bits: 1024,
            ..PersonProfile::new("Eve", "eve@example.org")
        })
        .expect("issue");
    write_cert(d, "stranger.pem", stranger.certificate());
    assert!(!verify(d, "smimesign", "stranger.pem").0);
}

#[test]
fn certificate_contents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ca = CertificateAuthority::new("MSS Demo CA", 2048).expect("ca");
    let id = ca
        .issue(&PersonProfile {
            valid_days: 30,
            ..PersonProfile::new("Dr Alice Martin", "alice@example.org")
        })
        .expect("issue");
    write_cert(d, "ca.pem", ca.certificate());
    write_cert(d, "leaf.pem", id.certificate());
    let text = openssl(d, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    for needle in [
        "email:alice@example.org",
        "Subject: CN = Dr Alice Martin",
        "Issuer: CN = MSS Demo CA",
        "X509v3 Key Usage: critical",
        "Digital Signature, Non Repudiation, Key Encipherment",
        "E-mail Protection",
        "CA:FALSE",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "sha256WithRSAEncryption",
        "Public-Key: (2048 bit)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("CRL Distribution Points"), "{text}");
    // A distribution point when the profile names one.
    let with_dp = ca
        .issue(&PersonProfile {
            crl_distribution_point: Some("ldap://127.0.0.1/cn=CA?certificateRevocationList".into()),
            ..PersonProfile::new("Dr Alice Martin", "alice@example.org")
        })
        .expect("issue");
    write_cert(d, "dp.pem", with_dp.certificate());
    let dp_text = openssl(d, &["x509", "-in", "dp.pem", "-noout", "-text"]);
    assert!(
        dp_text.contains("X509v3 CRL Distribution Points")
            && dp_text.contains("URI:ldap://127.0.0.1/cn=CA?certificateRevocationList"),
        "{dp_text}"
    );
    let not_ascii = PersonProfile {
        crl_distribution_point: Some("ldap://é".into()),
        ..PersonProfile::new("Dr Alice Martin", "alice@example.org")
    };
    assert!(matches!(
        ca.issue(&not_ascii),
        Err(mss_token::TokenError::Issuance(_))
    ));
    let ca_text = openssl(d, &["x509", "-in", "ca.pem", "-noout", "-text"]);
    for needle in [
        "X509v3 Basic Constraints: critical",
        "CA:TRUE",
        "X509v3 Key Usage: critical",
        "Certificate Sign, CRL Sign",
        "X509v3 Subject Key Identifier",
    ] {
        assert!(ca_text.contains(needle), "missing {needle:?} in\n{ca_text}");
    }
    // Serial: 16 bytes, positive.
    let serial = id
        .certificate()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    assert_eq!(serial.len(), 16);
    assert!(serial[0] & 0x80 == 0 && serial[0] != 0);
    // Validity: from about an hour ago to 30 days ahead.
    let v = id.certificate().tbs_certificate().validity();
    let now = std::time::SystemTime::now();
    let nb = v.not_before.to_system_time();
    let na = v.not_after.to_system_time();
    let back = now
        .duration_since(nb)
        .expect("notBefore in the past")
        .as_secs();
    assert!((3500..=3700).contains(&back), "notBefore {back}s ago");
    let ahead = na
        .duration_since(now)
        .expect("notAfter in the future")
        .as_secs();
    assert!(
        (30 * 86_400 - 100..=30 * 86_400 + 100).contains(&ahead),
        "notAfter in {ahead}s"
    );
}

#[test]
fn ca_persists_as_pem_and_keeps_issuing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ca = CertificateAuthority::new("Persisted CA", 2048).expect("ca");
    let pem = ca.identity_pem().expect("pem");
    let reloaded = CertificateAuthority::from_identity(
        SoftwareIdentity::from_pem(&pem, None).expect("reload"),
    );
    assert_eq!(reloaded.certificate(), ca.certificate());
    let id = reloaded
        .issue(&PersonProfile::new("Dan", "dan@example.org"))
        .expect("issue");
    write_cert(d, "ca.pem", ca.certificate());
    write_cert(d, "leaf.pem", id.certificate());
    assert!(verify(d, "smimesign", "leaf.pem").0);
}

#[test]
fn bad_profiles_are_refused() {
    let ca = CertificateAuthority::new("CA", 1024).expect("ca");
    assert!(matches!(
        CertificateAuthority::new("CA", 512),
        Err(TokenError::Unsupported(_))
    ));
    assert!(matches!(
        ca.issue(&PersonProfile::new("X", "not-an-address")),
        Err(TokenError::Issuance(_))
    ));
    assert!(matches!(
        ca.issue(&PersonProfile::new("X", "é@example.org")),
        Err(TokenError::Issuance(_))
    ));
    assert!(matches!(
        ca.issue(&PersonProfile::new("", "x@example.org")),
        Err(TokenError::Issuance(_))
    ));
}
