//! The CMS examples built on the RFC 9216 ("S/MIME Example Keys and Certificates") keys:
//! `/work/shared/vectors/rfc9216-examples-cms` (draft-ireland-examples-cms; see its
//! `SOURCE.md`). A missing file fails the test.
//!
//! In scope: RSA PKCS#1 v1.5 and RSA-PSS signatures, Ed25519 (attached, detached),
//! two signers without certificates, RSA-OAEP + AES-CBC, X25519 key agreement (HKDF),
//! AuthEnvelopedData AES-GCM with X25519 + HKDF, KEK (aes256-wrap). ChaCha20-Poly1305 is
//! out of scope: a typed `Unsupported`.

use std::path::PathBuf;

use mss_algs::AlgError;
use mss_algs::keys::DecryptionKey;
use mss_algs::policy::StandardPolicy;
use mss_algs::signature::SignatureScheme;
use mss_cms::CmsError;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::enveloped::{self, KeyManagement};
use mss_cms::signed::{self, SignatureError};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;

const CONTENT: &[u8] = b"This is some sample content.";

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/rfc9216-examples-cms"
    ))
}

fn read(rel: &str) -> Vec<u8> {
    let path = dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("vector {} missing: {e}", path.display()))
}

fn text(rel: &str) -> String {
    String::from_utf8(read(rel)).expect("PEM is text")
}

fn example(name: &str) -> ContentInfo {
    ContentInfo::from_ber(&read(&format!("binary-files/{name}.p7m"))).expect("ContentInfo")
}

fn cert(name: &str) -> Certificate {
    use der::DecodePem;
    Certificate::from_pem(read(&format!("certs-and-keys/{name}"))).expect("certificate")
}

fn identity(key: &str, crt: &str) -> SoftwareIdentity {
    let pem = format!(
        "{}\n{}",
        text(&format!("certs-and-keys/{key}")),
        text(&format!("certs-and-keys/{crt}"))
    );
    SoftwareIdentity::from_pem(&pem, None).expect("identity")
}

fn bob() -> SoftwareIdentity {
    identity("lamps-bob.decrypt.p8.pem", "lamps-bob.encrypt.crt")
}

fn dana() -> SoftwareIdentity {
    identity("lamps-dana.decrypt.p8.pem", "lamps-dana.encrypt.crt")
}

fn verify_all(
    name: &str,
    detached: Option<&[u8]>,
    extra: &[Certificate],
) -> (signed::ParsedSignedData, Vec<signed::SignerResult>) {
    let ci = example(name);
    assert_eq!(ci.kind(), ContentType::SignedData, "{name}");
    let sd = signed::parse(&ci.content).expect("SignedData");
    let results = signed::verify(&sd, detached, extra, &StandardPolicy);
    (sd, results)
}

/// Every signer valid with `scheme`; the same signers fail on altered content.
fn assert_valid(name: &str, detached: bool, extra: &[Certificate], schemes: &[SignatureScheme]) {
    let (sd, results) = verify_all(name, detached.then_some(CONTENT), extra);
    if !detached {
        assert_eq!(sd.content.as_deref(), Some(CONTENT), "{name}");
    }
    assert_eq!(results.len(), schemes.len(), "{name}: {results:?}");
    for (r, scheme) in results.iter().zip(schemes) {
        assert_eq!(r.outcome, Ok(()), "{name}: {r:?}");
        assert_eq!(r.algorithm.map(|a| a.scheme), Some(*scheme), "{name}");
    }
    let altered = b"This is some sample content!";
    let again = if detached {
        signed::verify(&sd, Some(altered), extra, &StandardPolicy)
    } else {
        let mut sd = sd.clone();
        sd.content = Some(altered.to_vec());
        signed::verify(&sd, None, extra, &StandardPolicy)
    };
    // With signed attributes: a digest mismatch; without: a bad signature value.
    for r in &again {
        assert!(
            matches!(
                r.outcome,
                Err(SignatureError::DigestMismatch | SignatureError::BadSignature)
            ),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn signed_by_alice_rsa() {
    assert_valid(
        "signedByAliceRSA",
        false,
        &[],
        &[SignatureScheme::RsaPkcs1v15],
    );
}

#[test]
fn signed_by_alice_rsa_pss() {
    assert_valid(
        "signedByAliceRSAPSS",
        false,
        &[],
        &[SignatureScheme::RsaPss],
    );
}

#[test]
fn signed_by_carlos_ed25519_attached() {
    assert_valid(
        "signedByCarlosEd25519",
        false,
        &[],
        &[SignatureScheme::Ed25519],
    );
}

#[test]
fn signed_by_carlos_ed25519_detached() {
    assert_valid(
        "signedByCarlosDetached",
        true,
        &[],
        &[SignatureScheme::Ed25519],
    );
    // Without the content: a typed verdict.
    let (_, results) = verify_all("signedByCarlosDetached", None, &[]);
    assert_eq!(results[0].outcome, Err(SignatureError::MissingContent));
}

#[test]
fn signed_by_alice_and_carlos_without_certificates() {
    // The message carries no certificate: without them, no verdict but "not found".
    let (_, results) = verify_all("signedByAliceAndCarlosNoCerts", None, &[]);
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.outcome, Err(SignatureError::CertificateNotFound));
    }
    let extra = [cert("lamps-alice.crt"), cert("lamps-carlos.crt")];
    let (_, results) = verify_all("signedByAliceAndCarlosNoCerts", None, &extra);
    let mut schemes: Vec<SignatureScheme> = results
        .iter()
        .map(|r| r.algorithm.expect("known").scheme)
        .collect();
    schemes.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        schemes,
        [SignatureScheme::Ed25519, SignatureScheme::RsaPkcs1v15]
    );
    for r in &results {
        assert_eq!(r.outcome, Ok(()), "{r:?}");
    }
}

#[test]
fn encrypted_for_bob_rsa_oaep() {
    let bob = bob();
    let keys: [&dyn DecryptionKey; 1] = [&bob];
    let d = enveloped::decrypt(&example("encryptedForBobRSAOaep"), &keys, &StandardPolicy)
        .expect("decrypts");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert!(matches!(d.key_management, KeyManagement::KeyTransport(_)));
    assert!(
        d.key_management.name().contains("oaep"),
        "{}",
        d.key_management.name()
    );
}

#[test]
fn encrypted_for_bob_and_dana_each_decrypts() {
    let ci = example("encryptedForBobAndDana");
    let bob = bob();
    let keys: [&dyn DecryptionKey; 1] = [&bob];
    let d = enveloped::decrypt(&ci, &keys, &StandardPolicy).expect("Bob decrypts");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert_eq!(d.recipient_count, 2);
    let dana = dana();
    let keys: [&dyn DecryptionKey; 1] = [&dana];
    let d = enveloped::decrypt(&ci, &keys, &StandardPolicy).expect("Dana decrypts (X25519)");
    assert_eq!(d.content.as_slice(), CONTENT);
    let KeyManagement::KeyAgreement(ka) = d.key_management else {
        panic!("key agreement expected: {:?}", d.key_management);
    };
    assert!(ka.name().starts_with("ecdh-x963-sha256"), "{}", ka.name());
}

#[test]
fn auth_enveloped_for_dana_x25519_hkdf() {
    let dana = dana();
    let keys: [&dyn DecryptionKey; 1] = [&dana];
    let ci = example("authEnvelopedForDanaX25519HKDF");
    assert_eq!(ci.kind(), ContentType::AuthEnvelopedData);
    let d = enveloped::decrypt(&ci, &keys, &StandardPolicy).expect("decrypts");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert!(d.authenticated);
    assert!(matches!(d.key_management, KeyManagement::KeyAgreement(_)));
    // A flipped ciphertext byte breaks the GCM tag: a typed failure, never content.
    let mut raw = read("binary-files/authEnvelopedForDanaX25519HKDF.p7m");
    let n = raw.len();
    raw[n - 20] ^= 1;
    let ci = ContentInfo::from_ber(&raw).expect("still parses");
    assert!(enveloped::decrypt(&ci, &keys, &StandardPolicy).is_err());
}

#[test]
fn auth_enveloped_chacha20_poly1305_is_unsupported() {
    let bob = bob();
    let keys: [&dyn DecryptionKey; 1] = [&bob];
    let ci = example("authEnvelopedForBobChaCha20Poly1305");
    match enveloped::decrypt(&ci, &keys, &StandardPolicy) {
        Err(CmsError::Alg(AlgError::Unsupported(_))) | Err(CmsError::Unsupported(_)) => {}
        other => panic!("ChaCha20-Poly1305: {other:?}"),
    }
}

#[test]
fn encrypted_kekri_needs_its_kek() {
    // The example's KEK (id 'keyid', aes256-wrap) is not published with the vectors:
    // without a key the message is not for us; with a wrong one the unwrap integrity
    // check fails. Never content.
    let ci = example("encryptedKekri");
    assert!(matches!(
        enveloped::decrypt_with(&ci, &[], &[], &StandardPolicy),
        Err(CmsError::NotARecipient { recipients: 1 })
    ));
    let wrong = enveloped::KekKey {
        id: b"keyid".to_vec(),
        key: zeroize::Zeroizing::new(vec![7u8; 32]),
    };
    assert!(matches!(
        enveloped::decrypt_with(&ci, &[], std::slice::from_ref(&wrong), &StandardPolicy),
        Err(CmsError::Alg(AlgError::DecryptionFailed))
    ));
}
