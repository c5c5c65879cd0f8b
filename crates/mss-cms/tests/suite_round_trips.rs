//! Round trips through sign → verify and encrypt → decrypt for the non-RSA algorithm
//! families, with keys drawn by `SoftwarePrivateKey::generate`: DSA, ECDSA P-256 /
//! P-384 and Ed25519 signers; ECDH P-256 / P-384, X25519 and ESDH key-agreement
//! recipients; KEK recipients.
//!
//! The certificates are RFC 9216 Alice's with the subject key and serial replaced (and
//! the extensions dropped): CMS only reads the key and the identifier from them, and
//! the trust decision (which would reject the stale issuer signature) is not under test.

use std::path::PathBuf;

use der::{Decode, DecodePem, Encode};
use mss_algs::AlgError;
use mss_algs::cipher::ContentCipher;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::key_agreement::{self, KeyAgreementAlgorithm};
use mss_algs::key_wrap::KeyWrapAlgorithm;
use mss_algs::keys::{DecryptionKey, KeyKind, SigningKey, SoftwarePrivateKey};
use mss_algs::policy::{LegacyPolicy, Policy, StandardPolicy};
use mss_algs::public_key::DhDomainParameters;
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::CmsError;
use mss_cms::ber;
use mss_cms::content::ContentInfo;
use mss_cms::enveloped::{self, KekKey, KekSpec, KeyAgreeSpec, KeyManagement, Recipient};
use mss_cms::signed::{self, SignParams, SignatureError, SignerSpec};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

const CONTENT: &[u8] = b"Content-Type: text/plain\r\n\r\nCompte rendu d'hospitalisation.\r\n";

fn vector(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors"
    ))
    .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("vector {} missing: {e}", path.display()))
}

/// A certificate for `spki`: RFC 9216 Alice's, with `serial` and `spki` swapped in.
fn certificate_for(spki: &SubjectPublicKeyInfoOwned, serial: u8) -> Certificate {
    let base = Certificate::from_pem(vector(
        "rfc9216-examples-cms/certs-and-keys/lamps-alice.crt",
    ))
    .expect("base certificate")
    .to_der()
    .expect("DER");
    let outer = ber::read_header(&base).expect("header");
    let parts = ber::split_tlvs(&base[outer.header_len..]).expect("parts");
    let (tbs_h, tbs) = &parts[0];
    let fields = ber::split_tlvs(&tbs[tbs_h.header_len..]).expect("tbs fields");
    let mut new_tbs = Vec::new();
    for (i, (_, f)) in fields.iter().enumerate() {
        match i {
            1 => new_tbs.extend(ber::encode_tlv(0, false, 2, &[serial])),
            6 => new_tbs.extend(spki.to_der().expect("spki")),
            7.. => {} // extensions dropped
            _ => new_tbs.extend_from_slice(f),
        }
    }
    let mut body = ber::encode_tlv(0, true, 16, &new_tbs);
    body.extend_from_slice(parts[1].1);
    body.extend_from_slice(parts[2].1);
    Certificate::from_der(&ber::encode_tlv(0, true, 16, &body)).expect("certificate")
}

/// A test identity: a software key and its certificate.
struct TestKey {
    key: SoftwarePrivateKey,
    cert: Certificate,
}

impl TestKey {
    fn new(key: SoftwarePrivateKey, serial: u8) -> Self {
        let cert = certificate_for(&key.public_key_info().expect("spki"), serial);
        TestKey { key, cert }
    }
    fn generate(kind: KeyKind, serial: u8) -> Self {
        Self::new(SoftwarePrivateKey::generate(kind).expect("key"), serial)
    }
}

impl SigningKey for TestKey {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }
    fn chain(&self) -> &[Certificate] {
        &[]
    }
    fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        self.key.supports(alg)
    }
    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.key.sign_digest(alg, digest)
    }
    fn sign_message(&self, alg: &SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.key.sign_message(alg, message)
    }
}

impl DecryptionKey for TestKey {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }
    fn decrypt_key(
        &self,
        _alg: &KeyTransport,
        _encrypted: &[u8],
        _expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        Err(AlgError::Unsupported("test key: no key transport".into()))
    }
    fn agree_kek(
        &self,
        alg: &KeyAgreementAlgorithm,
        originator: &SubjectPublicKeyInfoOwned,
        ukm: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        key_agreement::recipient_kek(&self.key, originator, alg, ukm)
    }
}

fn sign_verify(signer: &TestKey, alg: SignatureAlgorithm, policy: &dyn Policy) {
    let spec = SignerSpec {
        key: signer,
        algorithm: alg,
        identify_by_ski: false,
    };
    for detached in [true, false] {
        let params = SignParams {
            detached,
            signing_time: None,
        };
        let der = signed::sign(CONTENT, &[spec_clone(&spec)], &params, policy)
            .unwrap_or_else(|e| panic!("{}: {e}", alg.name()));
        let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
        let sd = signed::parse(&ci.content).expect("SignedData");
        let content = detached.then_some(CONTENT);
        let results = signed::verify(&sd, content, &[], policy);
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0].outcome,
            Ok(()),
            "{}: {:?}",
            alg.name(),
            results[0]
        );
        assert_eq!(results[0].algorithm.map(|a| a.scheme), Some(alg.scheme));
        // Altered content: the message digest no longer matches.
        let altered = b"Content-Type: text/plain\r\n\r\nCompte rendu modifie.\r\n";
        let bad = if detached {
            signed::verify(&sd, Some(altered), &[], policy)
        } else {
            let mut sd = sd.clone();
            sd.content = Some(altered.to_vec());
            signed::verify(&sd, None, &[], policy)
        };
        assert_eq!(bad[0].outcome, Err(SignatureError::DigestMismatch));
        // A flipped signature value does not verify.
        let mut sd2 = sd.clone();
        let info = sd2.signers[0].info.as_mut().expect("decoded");
        let mut sig = info.signature.as_bytes().to_vec();
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        info.signature = der::asn1::OctetString::new(sig).expect("octets");
        let wrong = signed::verify(&sd2, content, &[], policy);
        assert_eq!(
            wrong[0].outcome,
            Err(SignatureError::BadSignature),
            "{}",
            alg.name()
        );
        // The signer's certificate replaced by another key's (same issuer and serial):
        // the signingCertificateV2 attribute no longer names it.
        let other = SoftwarePrivateKey::generate(KeyKind::Ed25519).expect("key");
        let mut sd3 = sd.clone();
        sd3.certificates = vec![certificate_for(
            &other.public_key_info().expect("spki"),
            signer.cert.tbs_certificate().serial_number().as_bytes()[0],
        )];
        let wrong = signed::verify(&sd3, content, &[], policy);
        assert!(wrong[0].outcome.is_err(), "{}", alg.name());
    }
}

fn spec_clone<'a>(s: &SignerSpec<'a>) -> SignerSpec<'a> {
    SignerSpec {
        key: s.key,
        algorithm: s.algorithm,
        identify_by_ski: s.identify_by_ski,
    }
}

#[test]
fn ed25519_sign_verify_uses_sha512_digest_algorithm() {
    let k = TestKey::generate(KeyKind::Ed25519, 1);
    sign_verify(&k, SignatureAlgorithm::ed25519(), &StandardPolicy);
    let der = signed::sign(
        CONTENT,
        &[SignerSpec {
            key: &k,
            algorithm: SignatureAlgorithm::ed25519(),
            identify_by_ski: false,
        }],
        &SignParams::default(),
        &StandardPolicy,
    )
    .expect("signs");
    let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
    let sd = signed::parse(&ci.content).expect("SignedData");
    let info = sd.signers[0].info.as_ref().expect("decoded");
    assert_eq!(info.digest_alg.oid, DigestAlgorithm::Sha512.oid());
}

#[test]
fn ecdsa_p256_and_p384_sign_verify() {
    sign_verify(
        &TestKey::generate(KeyKind::EcP256, 2),
        SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256),
        &StandardPolicy,
    );
    sign_verify(
        &TestKey::generate(KeyKind::EcP384, 3),
        SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha384),
        &StandardPolicy,
    );
}

#[test]
fn dsa_sign_verify_under_legacy_policy_only() {
    // RFC 4134 Alice's DSA key and certificate (mss-algs does not generate DSA keys).
    let k = TestKey {
        key: SoftwarePrivateKey::from_pkcs8_der(&vector("rfc4134/AlicePrivDSSSign.pri"))
            .expect("Alice's DSA key"),
        cert: Certificate::from_der(&vector("rfc4134/AliceDSSSignByCarlNoInherit.cer"))
            .expect("Alice's DSA certificate"),
    };
    let alg = SignatureAlgorithm::dsa(DigestAlgorithm::Sha1);
    sign_verify(&k, alg, &LegacyPolicy);
    // The standard policy does not produce DSA.
    let r = signed::sign(
        CONTENT,
        &[SignerSpec {
            key: &k,
            algorithm: alg,
            identify_by_ski: false,
        }],
        &SignParams::default(),
        &StandardPolicy,
    );
    assert!(
        matches!(r, Err(CmsError::Alg(AlgError::PolicyViolation { .. }))),
        "{r:?}"
    );
}

fn decrypt_round_trip(
    recipient: &TestKey,
    spec: Recipient<'_>,
    cipher: ContentCipher,
    policy: &dyn Policy,
) -> KeyManagement {
    let der = enveloped::encrypt_to(CONTENT, &[spec], cipher, policy).expect("encrypts");
    let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
    let keys: [&dyn DecryptionKey; 1] = [recipient];
    let d = enveloped::decrypt(&ci, &keys, policy).expect("decrypts");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert_eq!(d.cipher, cipher);
    // Someone else of the same kind is not a recipient.
    let other = TestKey::new(
        SoftwarePrivateKey::generate(recipient.key.kind()).unwrap_or_else(|_| {
            SoftwarePrivateKey::generate_dh(recipient.key.dh_params().expect("DH")).expect("DH")
        }),
        77,
    );
    let keys: [&dyn DecryptionKey; 1] = [&other];
    assert!(matches!(
        enveloped::decrypt(&ci, &keys, policy),
        Err(CmsError::NotARecipient { .. })
    ));
    d.key_management
}

#[test]
fn ecdh_and_x25519_recipients_round_trip() {
    for (kind, serial) in [
        (KeyKind::EcP256, 10),
        (KeyKind::EcP384, 11),
        (KeyKind::X25519, 12),
    ] {
        let k = TestKey::generate(kind, serial);
        for cipher in [ContentCipher::Aes256Cbc, ContentCipher::Aes256Gcm] {
            let spec = Recipient::for_certificate(&k.cert, KeyTransport::RsaPkcs1v15, false)
                .expect("key agreement chosen");
            assert!(matches!(spec, Recipient::KeyAgreement(_)));
            let km = decrypt_round_trip(&k, spec, cipher, &StandardPolicy);
            assert!(matches!(km, KeyManagement::KeyAgreement(_)), "{km:?}");
        }
    }
}

#[test]
fn x25519_recipient_identified_by_key_id_fails_without_ski() {
    let k = TestKey::generate(KeyKind::X25519, 13);
    let r = enveloped::encrypt_to(
        CONTENT,
        &[Recipient::KeyAgreement(KeyAgreeSpec {
            certificate: &k.cert,
            algorithm: None,
            identify_by_ski: true,
        })],
        ContentCipher::Aes128Cbc,
        &StandardPolicy,
    );
    assert!(matches!(r, Err(CmsError::Unsupported(_))), "{r:?}");
}

/// Carl's DSA domain parameters (RFC 4134), reordered as X9.42 DH parameters.
fn dh_params() -> DhDomainParameters {
    let carl = Certificate::from_der(&vector("rfc4134/CarlDSSSelf.cer")).expect("Carl");
    let params = carl
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .parameters
        .clone()
        .expect("DSA parameters");
    let pqg = ber::split_tlvs(params.value()).expect("p q g");
    let u = |i: usize| der::asn1::Uint::from_der(pqg[i].1).expect("INTEGER");
    DhDomainParameters {
        p: u(0),
        g: u(2),
        q: u(1),
        j: None,
        validation_parms: None,
    }
}

#[test]
fn esdh_recipient_round_trip_under_legacy_policy() {
    let k = TestKey::new(
        SoftwarePrivateKey::generate_dh(&dh_params()).expect("DH key"),
        20,
    );
    let spec = Recipient::for_certificate(&k.cert, KeyTransport::RsaPkcs1v15, false)
        .expect("key agreement");
    let km = decrypt_round_trip(&k, spec, ContentCipher::DesEde3Cbc, &LegacyPolicy);
    assert_eq!(km.name(), "esdh/3des-wrap");
    // The standard policy still reads it, with a weak-algorithm warning for ESDH.
    let spec = Recipient::for_certificate(&k.cert, KeyTransport::RsaPkcs1v15, false)
        .expect("key agreement");
    let der = enveloped::encrypt_to(CONTENT, &[spec], ContentCipher::Aes128Cbc, &LegacyPolicy)
        .expect("encrypts");
    let keys: [&dyn DecryptionKey; 1] = [&k];
    let d = enveloped::decrypt(
        &ContentInfo::from_ber(&der).expect("CI"),
        &keys,
        &StandardPolicy,
    )
    .expect("standard policy reads ESDH");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert!(
        d.warnings.iter().any(|w| w.contains("weak-algorithm")),
        "{:?}",
        d.warnings
    );
    // The standard policy does not produce ESDH.
    let spec = Recipient::for_certificate(&k.cert, KeyTransport::RsaPkcs1v15, false)
        .expect("key agreement");
    let r = enveloped::encrypt_to(CONTENT, &[spec], ContentCipher::Aes128Cbc, &StandardPolicy);
    assert!(
        matches!(r, Err(CmsError::Alg(AlgError::PolicyViolation { .. }))),
        "{r:?}"
    );
}

#[test]
fn kek_recipient_round_trip_and_wrong_key() {
    let kek = KekKey {
        id: b"mss-test-kek".to_vec(),
        key: Zeroizing::new(vec![0x5a; 32]),
    };
    let der = enveloped::encrypt_to(
        CONTENT,
        &[Recipient::Kek(KekSpec {
            key: &kek,
            wrap: KeyWrapAlgorithm::Aes256,
        })],
        ContentCipher::Aes256Gcm,
        &StandardPolicy,
    )
    .expect("encrypts");
    let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
    let d = enveloped::decrypt_with(&ci, &[], std::slice::from_ref(&kek), &StandardPolicy)
        .expect("decrypts");
    assert_eq!(d.content.as_slice(), CONTENT);
    assert_eq!(
        d.key_management,
        KeyManagement::Kek(KeyWrapAlgorithm::Aes256)
    );
    assert_eq!(d.key_management.name(), "kek/aes256-wrap");
    let wrong = KekKey {
        id: kek.id.clone(),
        key: Zeroizing::new(vec![0x5b; 32]),
    };
    assert!(matches!(
        enveloped::decrypt_with(&ci, &[], std::slice::from_ref(&wrong), &StandardPolicy),
        Err(CmsError::Alg(AlgError::DecryptionFailed))
    ));
    let other_id = KekKey {
        id: b"another".to_vec(),
        key: kek.key.clone(),
    };
    assert!(matches!(
        enveloped::decrypt_with(&ci, &[], std::slice::from_ref(&other_id), &StandardPolicy),
        Err(CmsError::NotARecipient { recipients: 1 })
    ));
}

#[test]
fn md5_signatures_are_refused_unless_legacy() {
    // RFC 4134 Alice's RSA key and certificate.
    let rsa = TestKey {
        key: SoftwarePrivateKey::from_pkcs8_der(&vector("rfc4134/AlicePrivRSASign.pri"))
            .expect("Alice's RSA key"),
        cert: Certificate::from_der(&vector("rfc4134/AliceRSASignByCarl.cer"))
            .expect("Alice's RSA certificate"),
    };
    let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Md5);
    let spec = SignerSpec {
        key: &rsa,
        algorithm: alg,
        identify_by_ski: false,
    };
    assert!(matches!(
        signed::sign(
            CONTENT,
            &[spec_clone(&spec)],
            &SignParams::default(),
            &StandardPolicy
        ),
        Err(CmsError::Alg(AlgError::PolicyViolation { .. }))
    ));
    let der = signed::sign(CONTENT, &[spec], &SignParams::default(), &LegacyPolicy)
        .expect("legacy produces MD5");
    let ci = ContentInfo::from_ber(&der).expect("CI");
    let sd = signed::parse(&ci.content).expect("SignedData");
    let r = signed::verify(&sd, Some(CONTENT), &[], &StandardPolicy);
    assert!(
        matches!(r[0].outcome, Err(SignatureError::PolicyRefused(_))),
        "{:?}",
        r[0]
    );
    let r = signed::verify(&sd, Some(CONTENT), &[], &LegacyPolicy);
    assert_eq!(r[0].outcome, Ok(()), "{:?}", r[0]);
    assert!(
        r[0].warnings.iter().any(|w| w.contains("md5")),
        "{:?}",
        r[0].warnings
    );
}
