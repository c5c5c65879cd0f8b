//! RFC 4134 ("Examples of S/MIME Messages") sample objects, at the CMS level.
//!
//! The vectors live in `/work/shared/vectors/rfc4134` (see its `SOURCE.md`); a missing
//! file fails the test (it is never skipped). What each sample exercises:
//!
//! - 3.1 / 3.2: id-data, BER (segmented, indefinite) and DER;
//! - 4.1: DSA signer; 4.2: RSA, SHA-1, opaque, signed attributes absent; 4.3: DSA,
//!   detached, BER; 4.4: DSA with signed attributes and a countersignature;
//!   4.5: 4.2 in BER with Carl's root certificate; 4.6: two DSA signers (Alice, and
//!   Diane whose key inherits Carl's DSA parameters); 4.7: DSA identified by SKI;
//!   4.10: DSA with unusual signed attributes; 4.11: certificates only, no signer.
//!   Every signature verifies with Carl's certificates given as extra certificates, and
//!   fails on altered content;
//! - 5.1: EnvelopedData, 3DES + RSA PKCS#1 v1.5 to Bob;
//! - 5.2: EnvelopedData, RC2 content cipher with an RSA and a KEK recipient (the KEK
//!   itself is not published in RFC 4134: a wrong one must fail);
//! - 6.0: DigestedData; 7.1 / 7.2: EncryptedData with the 3DES key of RFC 4134 §7.1;
//! - Carl's CRLs: X.509 v1 CRLs, which x509-cert refuses (pinned).

use std::path::PathBuf;

use base64::Engine;
use der::Decode;
use mss_algs::AlgError;
use mss_algs::keys::DecryptionKey;
use mss_algs::policy::{LegacyPolicy, StandardPolicy};
use mss_cms::CmsError;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::enveloped;
use mss_cms::signed::{self, ParsedSignedData, SignatureError, SignerResult};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/rfc4134"
    ))
}

/// Read a vector; a missing vector is a test failure, not a skip.
fn read(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("RFC 4134 vector {} missing: {e}", path.display()))
}

fn ex_content() -> Vec<u8> {
    read("ExContent.bin")
}

fn cert(name: &str) -> Certificate {
    Certificate::from_der(&read(name)).expect("certificate")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn bob() -> SoftwareIdentity {
    let text = format!(
        "{}{}",
        pem("PRIVATE KEY", &read("BobPrivRSAEncrypt.pri")),
        pem("CERTIFICATE", &read("BobRSASignByCarl.cer"))
    );
    SoftwareIdentity::from_pem(&text, None).expect("Bob's identity")
}

fn parse_signed(name: &str) -> ParsedSignedData {
    let ci = ContentInfo::from_ber(&read(name)).expect("ContentInfo");
    assert_eq!(ci.kind(), ContentType::SignedData, "{name}");
    signed::parse(&ci.content).expect("SignedData")
}

fn verify(name: &str, detached: Option<&[u8]>) -> (ParsedSignedData, Vec<SignerResult>) {
    let sd = parse_signed(name);
    let results = signed::verify(&sd, detached, &carl(), &StandardPolicy);
    assert!(results.len() >= sd.signers.len());
    (sd, results)
}

fn assert_weak_sha1_ok(r: &SignerResult) {
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("weak-algorithm") && w.contains("sha1")),
        "SHA-1 must carry a weak-algorithm warning: {:?}",
        r.warnings
    );
    let cert = r.certificate.as_ref().expect("signer certificate found");
    assert!(
        cert.tbs_certificate()
            .subject()
            .to_string()
            .contains("Alice"),
        "signed by Alice: {}",
        cert.tbs_certificate().subject()
    );
}

/// Carl's self-signed certificates: the anchors, and the source of the DSA domain
/// parameters that Diane's key inherits (RFC 3279 §2.3.2).
fn carl() -> Vec<Certificate> {
    vec![cert("CarlDSSSelf.cer"), cert("CarlRSASelf.cer")]
}

/// A DSA signer must verify, and fail on altered content (a verifier answering `Ok` to
/// everything cannot pass).
fn assert_dsa_signer(
    sd: &ParsedSignedData,
    index: usize,
    r: &SignerResult,
    detached: Option<&[u8]>,
) {
    assert_eq!(r.outcome, Ok(()), "DSA signer {index}: {r:?}");
    assert_eq!(
        r.algorithm.map(|a| a.scheme),
        Some(mss_algs::signature::SignatureScheme::Dsa)
    );
    let altered = b"This is some sample content!".to_vec();
    let again = match detached {
        Some(_) => signed::verify(sd, Some(&altered), &carl(), &StandardPolicy),
        None => {
            let mut sd = sd.clone();
            sd.content = Some(altered);
            signed::verify(&sd, None, &carl(), &StandardPolicy)
        }
    };
    assert!(
        again[index].outcome.is_err(),
        "altered content verified: {:?}",
        again[index]
    );
}

fn assert_dsa_signers(sd: &ParsedSignedData, results: &[SignerResult], detached: Option<&[u8]>) {
    for (i, r) in results.iter().enumerate() {
        if !r.countersignature {
            assert_dsa_signer(sd, i, r, detached);
        }
    }
}

#[test]
fn rfc4134_3_1_ber_data_content() {
    let ci = ContentInfo::from_ber(&read("3.1.bin")).expect("3.1 parses");
    assert_eq!(ci.kind(), ContentType::Data);
    assert_eq!(ci.data_content().expect("id-data"), ex_content());
}

#[test]
fn rfc4134_3_2_der_data_content() {
    let ci = ContentInfo::from_ber(&read("3.2.bin")).expect("3.2 parses");
    assert_eq!(ci.kind(), ContentType::Data);
    assert_eq!(ci.data_content().expect("id-data"), ex_content());
}

#[test]
fn data_content_refuses_other_types() {
    let ci = ContentInfo::from_ber(&read("4.2.bin")).expect("4.2 parses");
    assert!(matches!(ci.data_content(), Err(CmsError::Malformed(_))));
}

#[test]
fn rfc4134_4_1_dsa_verifies() {
    let (sd, results) = verify("4.1.bin", None);
    assert_eq!(results.len(), 1);
    assert_dsa_signers(&sd, &results, None);
}

#[test]
fn rfc4134_4_2_rsa_opaque_verifies_with_weak_warning() {
    let (sd, results) = verify("4.2.bin", None);
    assert_eq!(sd.content.as_deref(), Some(ex_content().as_slice()));
    assert_eq!(results.len(), 1);
    assert_weak_sha1_ok(&results[0]);
}

#[test]
fn rfc4134_4_2_altered_content_fails() {
    let mut sd = parse_signed("4.2.bin");
    let content = sd.content.as_mut().expect("opaque");
    content[0] ^= 0x20;
    let results = signed::verify(&sd, None, &[], &StandardPolicy);
    assert!(results[0].outcome.is_err(), "{:?}", results[0]);
}

#[test]
fn rfc4134_4_3_dsa_detached_ber() {
    let (sd, results) = verify("4.3.bin", Some(&ex_content()));
    assert!(sd.content.is_none(), "4.3 is detached");
    assert_eq!(results.len(), 1);
    assert_dsa_signers(&sd, &results, Some(&ex_content()));
    // Without the content a detached signature cannot verify.
    let results = signed::verify(&sd, None, &[], &StandardPolicy);
    assert!(results[0].outcome.is_err());
}

#[test]
fn rfc4134_4_4_dsa_with_attributes_and_countersignature() {
    let (sd, results) = verify("4.4.bin", None);
    assert_eq!(sd.signers.len(), 1);
    assert_dsa_signers(&sd, &results, None);
    let counter: Vec<&SignerResult> = results.iter().filter(|r| r.countersignature).collect();
    assert_eq!(counter.len(), 1, "{results:?}");
    assert_eq!(counter[0].outcome, Ok(()), "{:?}", counter[0]);
    assert!(!results[0].countersignature);
    // The countersignature signs the signer's signature value: alter it and the
    // countersignature fails (the signer's own signature fails too).
    let mut sd2 = sd.clone();
    let info = sd2.signers[0].info.as_mut().expect("decoded");
    let mut sig = info.signature.as_bytes().to_vec();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    info.signature = der::asn1::OctetString::new(sig).expect("octets");
    let again = signed::verify(&sd2, None, &carl(), &StandardPolicy);
    let counter = again.iter().find(|r| r.countersignature).expect("reported");
    assert_eq!(counter.outcome, Err(SignatureError::DigestMismatch));
}

#[test]
fn rfc4134_4_5_rsa_ber_with_root_verifies_with_weak_warning() {
    // 4.5 is 4.2 in BER (indefinite lengths, segmented eContent) with Carl's root.
    let (sd, results) = verify("4.5.bin", None);
    assert_eq!(sd.content.as_deref(), Some(ex_content().as_slice()));
    assert_eq!(sd.certificates.len(), 2);
    assert!(sd.certificates.contains(&cert("CarlRSASelf.cer")));
    assert_eq!(results.len(), 1);
    assert!(results[0].signer_id.starts_with("issuer"));
    assert_weak_sha1_ok(&results[0]);
}

#[test]
fn rfc4134_4_6_two_dsa_signers_each_reported() {
    let (sd, results) = verify("4.6.bin", None);
    // Diane's key inherits Carl's parameters: without Carl's certificate it cannot be
    // verified (a typed verdict, never a false valid).
    let sd_no_carl = {
        let mut sd = sd.clone();
        sd.certificates.retain(|c| c != &cert("CarlDSSSelf.cer"));
        sd
    };
    let alone = signed::verify(&sd_no_carl, None, &[], &StandardPolicy);
    assert!(
        matches!(alone[1].outcome, Err(SignatureError::Unsupported(_))),
        "{:?}",
        alone[1]
    );
    assert_eq!(results.len(), 2, "{results:?}");
    assert_dsa_signers(&sd, &results, None);
    // Each signer found its own certificate (Alice, Diane).
    let subjects: Vec<String> = results
        .iter()
        .map(|r| {
            r.certificate
                .as_ref()
                .expect("certificate found")
                .tbs_certificate()
                .subject()
                .to_string()
        })
        .collect();
    assert!(
        subjects[0].contains("Alice") && subjects[1].contains("Diane"),
        "{subjects:?}"
    );
}

#[test]
fn rfc4134_4_7_dsa_identified_by_ski() {
    let (sd, results) = verify("4.7.bin", None);
    assert_eq!(sd.content.as_deref(), Some(ex_content().as_slice()));
    assert_eq!(results.len(), 1);
    assert!(results[0].signer_id.contains("subjectKeyIdentifier"));
    assert!(
        results[0].certificate.is_some(),
        "the SKI names Alice's DSS certificate"
    );
    assert_dsa_signers(&sd, &results, None);
}

#[test]
fn rfc4134_4_10_dsa_with_unusual_attributes() {
    let (sd, results) = verify("4.10.bin", None);
    assert_eq!(results.len(), 1);
    assert_dsa_signers(&sd, &results, None);
}

#[test]
fn rfc4134_4_11_certificates_only() {
    let (sd, results) = verify("4.11.bin", None);
    assert!(sd.signers.is_empty() && results.is_empty());
    assert_eq!(sd.certificates.len(), 2);
    assert!(
        sd.certificates
            .contains(&cert("AliceDSSSignByCarlNoInherit.cer"))
    );
    assert!(sd.certificates.contains(&cert("CarlDSSSelf.cer")));
}

#[test]
fn rfc4134_5_1_decrypts_3des_rsa() {
    let bob = bob();
    let ci = ContentInfo::from_ber(&read("5.1.bin")).expect("5.1 parses");
    assert_eq!(ci.kind(), ContentType::EnvelopedData);
    let keys: [&dyn DecryptionKey; 1] = [&bob];
    let d = enveloped::decrypt(&ci, &keys, &StandardPolicy).expect("5.1 decrypts");
    assert_eq!(d.content.as_slice(), ex_content().as_slice());
    assert!(!d.authenticated);
    assert!(
        d.warnings.iter().any(|w| w.contains("weak-algorithm")),
        "3DES is accepted with a warning: {:?}",
        d.warnings
    );
    // The legacy policy reads it as well.
    let d = enveloped::decrypt(&ci, &keys, &LegacyPolicy).expect("5.1 decrypts (legacy)");
    assert_eq!(d.content.as_slice(), ex_content().as_slice());
}

#[test]
fn rfc4134_5_1_other_key_is_not_a_recipient() {
    let alice_pem = format!(
        "{}{}",
        pem("PRIVATE KEY", &read("AlicePrivRSASign.pri")),
        pem("CERTIFICATE", &read("AliceRSASignByCarl.cer"))
    );
    let alice = SoftwareIdentity::from_pem(&alice_pem, None).expect("Alice's identity");
    let ci = ContentInfo::from_ber(&read("5.1.bin")).expect("5.1 parses");
    let keys: [&dyn DecryptionKey; 1] = [&alice];
    assert!(matches!(
        enveloped::decrypt(&ci, &keys, &StandardPolicy),
        Err(CmsError::NotARecipient { recipients: 1 })
    ));
}

#[test]
fn rfc4134_5_2_rc2_with_rsa_and_kek_recipients() {
    let bob = bob();
    let ci = ContentInfo::from_ber(&read("5.2.bin")).expect("5.2 parses");
    assert_eq!(ci.kind(), ContentType::EnvelopedData);
    let keys: [&dyn DecryptionKey; 1] = [&bob];
    // 5.2's content cipher is RC2-CBC/128: Bob's RSA recipient decrypts it.
    let d = enveloped::decrypt(&ci, &keys, &StandardPolicy).expect("5.2 decrypts");
    assert_eq!(d.content.as_slice(), ex_content().as_slice());
    assert!(
        matches!(d.cipher, mss_algs::cipher::ContentCipher::Rc2Cbc { .. }),
        "{:?}",
        d.cipher
    );
    assert!(d.warnings.iter().any(|w| w.contains("weak-algorithm")));
    // The KEK recipient ("MailListRC2", id-alg-CMSRC2wrap): RFC 4134 does not publish
    // its KEK. A wrong KEK under that identifier is a typed error, never content.
    let wrong = enveloped::KekKey {
        id: b"MailListRC2".to_vec(),
        key: zeroize::Zeroizing::new(vec![0x42; 16]),
    };
    match enveloped::decrypt_with(&ci, &[], std::slice::from_ref(&wrong), &LegacyPolicy) {
        Err(CmsError::Alg(AlgError::DecryptionFailed | AlgError::Unsupported(_))) => {}
        other => panic!("5.2 with a wrong KEK: {other:?}"),
    }
}

#[test]
fn signer_certificates_are_the_carried_ones() {
    let alice = cert("AliceRSASignByCarl.cer");
    let sd = parse_signed("4.2.bin");
    assert!(sd.certificates.contains(&alice));
}

fn tdes_key_7() -> Vec<u8> {
    hex::decode("737c791f25ead0e04629254352f7dc6291e5cb26917ada32").expect("hex")
}

#[test]
fn rfc4134_6_0_digested_data() {
    let ci = ContentInfo::from_ber(&read("6.0.bin")).expect("6.0 parses");
    let d = mss_cms::digested::verify(&ci, &StandardPolicy).expect("DigestedData");
    assert!(d.matches, "{d:?}");
    assert_eq!(d.content, ex_content());
    // A changed content no longer matches its digest.
    let mut bad = read("6.0.bin");
    let pos = bad
        .windows(4)
        .position(|w| w == b"This")
        .expect("content inside");
    bad[pos] ^= 0x20;
    let ci = ContentInfo::from_ber(&bad).expect("parses");
    assert!(
        !mss_cms::digested::verify(&ci, &StandardPolicy)
            .expect("parses")
            .matches
    );
}

#[test]
fn rfc4134_7_1_and_7_2_encrypted_data() {
    for name in ["7.1.bin", "7.2.bin"] {
        let ci = ContentInfo::from_ber(&read(name)).expect("EncryptedData parses");
        let d = enveloped::decrypt_encrypted_data(&ci, &tdes_key_7(), &StandardPolicy)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.content.as_slice(), ex_content().as_slice(), "{name}");
        assert_eq!(d.key_management, enveloped::KeyManagement::Direct);
        // A wrong key fails (padding) or yields other bytes, never ExContent.
        let mut wrong = tdes_key_7();
        wrong[0] ^= 0x02;
        if let Ok(d) = enveloped::decrypt_encrypted_data(&ci, &wrong, &StandardPolicy) {
            assert_ne!(d.content.as_slice(), ex_content().as_slice());
        }
    }
}

/// Carl's CRLs are X.509 v1 CRLs (no `version` field). x509-cert's `CertificateList`
/// declares `version` as a mandatory INTEGER and refuses them; this test pins that
/// finding (the trust layer reads them with `mss_pki::decode_crl`, tested in mss-pki's
/// `rfc4134_crls.rs`) and checks that the files are indeed v1 CRLs issued by Carl, so
/// that it fails if either side changes.
#[test]
fn rfc4134_carl_crls_are_v1_and_x509_cert_refuses_them() {
    use x509_cert::crl::CertificateList;
    for name in [
        "CarlDSSCRLEmpty.crl",
        "CarlDSSCRLForAll.crl",
        "CarlDSSCRLForCarl.crl",
        "CarlRSACRLEmpty.crl",
        "CarlRSACRLForAll.crl",
        "CarlRSACRLForCarl.crl",
    ] {
        let der = read(name);
        // CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { [version INTEGER]
        // signature AlgorithmIdentifier, issuer Name, ... } ... }
        let outer = mss_cms::ber::read_header(&der).expect("SEQUENCE");
        let tbs = &der[outer.header_len..];
        let tbs_h = mss_cms::ber::read_header(tbs).expect("tbsCertList");
        let fields = mss_cms::ber::split_tlvs(
            &tbs[tbs_h.header_len..tbs_h.header_len + tbs_h.length.expect("definite")],
        )
        .expect("fields");
        let (first, _) = &fields[0];
        assert_eq!(
            (first.class, first.number),
            (0, 16),
            "{name}: a v1 CRL starts with the signature AlgorithmIdentifier"
        );
        let (_, issuer) = &fields[1];
        let issuer = x509_cert::name::Name::from_der(issuer).expect("issuer Name");
        assert!(issuer.to_string().contains("Carl"), "{name}: {issuer}");
        let parsed: Result<CertificateList, _> = CertificateList::from_der(&der);
        assert!(parsed.is_err(), "{name}: x509-cert now reads v1 CRLs");
    }
}
