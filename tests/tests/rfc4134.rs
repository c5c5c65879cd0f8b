//! RFC 4134 ("Examples of S/MIME Messages") sample objects, read by mss.
//!
//! The vectors live in `shared/vectors/rfc4134` beside the repository (checked
//! byte for byte against the RFC's base64, see SOURCE.md there). A missing directory
//! fails these tests: nothing is skipped.
//!
//! The sample content (`ExContent.bin`, "This is some sample content.") is not a MIME
//! entity, and the facade's `mss::open` reads S/MIME (it answers "malformed MIME" for
//! these), so the vectors are read one level down, with the layers the facade is made
//! of: `mss_cms::content`, `mss_cms::signed` (parse + verify), `mss_pki::verify_path`
//! and `mss_cms::enveloped::decrypt`.
//!
//! - 3.1 / 3.2: ContentInfo id-data, BER and DER;
//! - 4.2: SignedData by Alice (RSA, SHA-1), content included, Alice's certificate only;
//! - 4.5: the same, BER indefinite lengths, with Carl's root certificate included;
//! - 5.1: EnvelopedData from Alice to Bob, 3DES + RSA key transport.
//!
//! Trust anchor: `CarlRSASelf.cer`. The verification time is set inside the
//! certificates' validity (notBefore 1999-09-19, notAfter 2039-12-31).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use mss::{
    Certificate, ContentCipher, DecryptionKey, DigestAlgorithm, KeyTransport, StandardPolicy,
};
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::enveloped;
use mss_cms::signed::{self, ParsedSignedData, SignerResult};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/rfc4134");
    assert!(
        d.join("ExContent.bin").is_file(),
        "RFC 4134 vectors not found at {} (the shared/ directory must sit beside the repository)",
        d.display()
    );
    d
}

fn read(name: &str) -> Vec<u8> {
    let p = dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn cert(name: &str) -> Certificate {
    Certificate::from_der(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// 2005-01-01T00:00:00Z: inside the validity of every RFC 4134 certificate.
fn in_validity() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_104_537_600)
}

fn example_content() -> Vec<u8> {
    let c = read("ExContent.bin");
    assert_eq!(
        c, b"This is some sample content.",
        "ExContent.bin is the RFC's sample"
    );
    c
}

/// Parse a SignedData vector and verify its signatures (content included).
fn verify_vector(der: &[u8]) -> (ParsedSignedData, Vec<SignerResult>) {
    let ci = ContentInfo::from_ber(der).expect("ContentInfo");
    assert_eq!(ci.kind(), ContentType::SignedData);
    let sd = signed::parse(&ci.content).expect("SignedData");
    let results = signed::verify(&sd, None, &[], &StandardPolicy);
    (sd, results)
}

fn check_signed(name: &str) {
    let (sd, results) = verify_vector(&read(name));
    assert_eq!(
        sd.content.as_deref(),
        Some(example_content().as_slice()),
        "{name}: content"
    );
    assert_eq!(results.len(), 1, "{name}");
    let r = &results[0];
    if let Err(e) = &r.outcome {
        panic!("{name}: signature does not verify: {e}");
    }
    assert_eq!(r.digest, Some(DigestAlgorithm::Sha1), "{name}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains("sha1")),
        "{name}: SHA-1 must be flagged: {:?}",
        r.warnings
    );
    let signer = r.certificate.as_ref().expect("signer certificate found");
    assert_eq!(
        signer,
        &cert("AliceRSASignByCarl.cer"),
        "{name}: the signer is Alice"
    );
    let anchors = [cert("CarlRSASelf.cer")];
    mss_pki::verify_path(
        signer,
        &sd.certificates,
        &anchors,
        in_validity(),
        &StandardPolicy,
    )
    .unwrap_or_else(|e| panic!("{name}: Alice does not chain to Carl: {e}"));
    // Carl is the only way up: without him as anchor, no path.
    assert!(
        mss_pki::verify_path(
            signer,
            &sd.certificates,
            &[],
            in_validity(),
            &StandardPolicy
        )
        .is_err()
    );
    // Outside the validity period (before notBefore, 1999-09-19), the path is refused.
    let before = SystemTime::UNIX_EPOCH + Duration::from_secs(915_148_800); // 1999-01-01
    assert!(
        mss_pki::verify_path(signer, &sd.certificates, &anchors, before, &StandardPolicy).is_err()
    );
}

#[test]
fn rfc4134_3_1_and_3_2_id_data_ber_and_der() {
    let content = example_content();
    for name in ["3.1.bin", "3.2.bin"] {
        let ci = ContentInfo::from_ber(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ci.kind(), ContentType::Data, "{name}");
        // The content TLV, normalised to DER: OCTET STRING (primitive) of ExContent.
        let mut want = vec![0x04, content.len() as u8];
        want.extend_from_slice(&content);
        assert_eq!(ci.content, want, "{name}");
    }
}

#[test]
fn rfc4134_4_2_rsa_signed_data_is_valid() {
    check_signed("4.2.bin");
}

#[test]
fn rfc4134_4_5_rsa_signed_data_ber_with_root_is_valid() {
    check_signed("4.5.bin");
}

#[test]
fn rfc4134_4_2_altered_content_is_not_valid() {
    let mut der = read("4.2.bin");
    let at = mss_tests::find(&der, b"sample").expect("content is in the eContent");
    der[at] ^= 0x20;
    let (_, results) = verify_vector(&der);
    assert_eq!(results.len(), 1);
    assert!(
        results[0].outcome.is_err(),
        "altered content must not verify"
    );
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn rfc4134_5_1_enveloped_3des_rsa_decrypts() {
    // Bob's PKCS#8 key (DER) and certificate, as a PEM identity.
    let identity_pem = format!(
        "{}{}",
        pem("PRIVATE KEY", &read("BobPrivRSAEncrypt.pri")),
        pem("CERTIFICATE", &read("BobRSASignByCarl.cer"))
    );
    let bob = SoftwareIdentity::from_pem(&identity_pem, None).expect("Bob's identity");
    let ci = ContentInfo::from_ber(&read("5.1.bin")).expect("ContentInfo");
    assert_eq!(ci.kind(), ContentType::EnvelopedData);
    let d = enveloped::decrypt(&ci, &[&bob as &dyn DecryptionKey], &StandardPolicy)
        .unwrap_or_else(|e| panic!("5.1: {e}"));
    assert_eq!(d.content.as_slice(), example_content().as_slice());
    assert_eq!(d.cipher, ContentCipher::DesEde3Cbc);
    assert_eq!(d.key_transport, KeyTransport::RsaPkcs1v15);
    assert!(!d.authenticated);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains("des-ede3-cbc")),
        "{:?}",
        d.warnings
    );

    // Alice's key is not a recipient.
    let alice_pem = format!(
        "{}{}",
        pem("PRIVATE KEY", &read("AlicePrivRSASign.pri")),
        pem("CERTIFICATE", &read("AliceRSASignByCarl.cer"))
    );
    let alice = SoftwareIdentity::from_pem(&alice_pem, None).expect("Alice's identity");
    let r = enveloped::decrypt(&ci, &[&alice as &dyn DecryptionKey], &StandardPolicy);
    assert!(r.is_err(), "Alice is not a recipient of 5.1");
}
