//! The CMS engine end to end with CA-issued 2048-bit identities: SignedData and
//! EnvelopedData / AuthEnvelopedData round trips over every algorithm mss produces,
//! the verification rules of RFC 5652 §5.4 / §11 and RFC 5035 (with hand-built
//! SignerInfos), tampering, BER re-encoding, truncation, and property tests.

mod common;

use cms::authenveloped_data::AuthEnvelopedData;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use proptest::prelude::*;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use zeroize::Zeroizing;

use mss_algs::AlgError;
use mss_algs::cipher::{CipherParams, ContentCipher};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::oid;
use mss_algs::policy::{LegacyPolicy, StandardPolicy};
use mss_algs::rsa::{KeyTransport, encrypt_key};
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::CmsError;
use mss_cms::attributes;
use mss_cms::ber;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::enveloped;
use mss_cms::signed::{self, SignParams, SignatureError, SignerSpec};
use mss_token::SoftwareIdentity;

use common::*;

const TEXT: &[u8] =
    b"Content-Type: text/plain\r\n\r\nOrdonnance: amoxicilline 1 g, 3 fois par jour.\r\n";

// ---------------------------------------------------------------------------------
// SignedData round trips
// ---------------------------------------------------------------------------------

#[test]
fn sign_verify_every_algorithm_detached_and_opaque() {
    let p = people();
    for alg in signature_algorithms() {
        for detached in [true, false] {
            for ski in [false, true] {
                let der = sign_one(TEXT, &p.alice, alg, ski, detached);
                let sd = parse_signed(&der).expect("parse");
                assert_eq!(sd.content.is_none(), detached);
                let results = signed::verify(&sd, detached.then_some(TEXT), &[], &StandardPolicy);
                assert_eq!(results.len(), 1);
                let r = &results[0];
                assert_eq!(
                    r.outcome,
                    Ok(()),
                    "{} detached={detached} ski={ski}",
                    alg.name()
                );
                assert!(r.warnings.is_empty(), "{:?}", r.warnings);
                assert_eq!(r.algorithm, Some(alg));
                assert_eq!(r.digest, Some(alg.digest));
                assert_eq!(r.certificate.as_ref(), Some(p.alice.certificate()));
                assert!(r.signing_time.is_some());
                assert_eq!(
                    r.signer_id.contains("subjectKeyIdentifier"),
                    ski,
                    "{}",
                    r.signer_id
                );
                // The other content does not verify.
                let other = b"Ordonnance: amoxicilline 2 g";
                let bad = if detached {
                    signed::verify(&sd, Some(other), &[], &StandardPolicy)
                } else {
                    let mut sd2 = sd.clone();
                    sd2.content = Some(other.to_vec());
                    signed::verify(&sd2, None, &[], &StandardPolicy)
                };
                assert_eq!(bad[0].outcome, Err(SignatureError::DigestMismatch));
            }
        }
    }
}

#[test]
fn detached_without_content_is_missing_content() {
    let p = people();
    let der = sign_one(
        TEXT,
        &p.alice,
        SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256),
        false,
        true,
    );
    let r = verify(&der, None).expect("parse");
    assert_eq!(r[0].outcome, Err(SignatureError::MissingContent));
}

#[test]
fn signed_data_versions() {
    let p = people();
    let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
    for (ski, sd_version, si_version) in [
        (false, CmsVersion::V1, CmsVersion::V1),
        (true, CmsVersion::V3, CmsVersion::V3),
    ] {
        let der = sign_one(TEXT, &p.alice, alg, ski, false);
        let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
        let sd = SignedData::from_der(&ci.content).expect("SignedData");
        assert_eq!(sd.version, sd_version);
        assert_eq!(
            sd.signer_infos.0.iter().next().expect("signer").version,
            si_version
        );
    }
}

#[test]
fn two_signers_each_reported() {
    let p = people();
    let specs = [
        SignerSpec {
            key: &p.alice,
            algorithm: SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
            identify_by_ski: false,
        },
        SignerSpec {
            key: &p.bob,
            algorithm: SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha512),
            identify_by_ski: true,
        },
    ];
    let der = signed::sign(
        TEXT,
        &specs,
        &SignParams {
            detached: false,
            signing_time: None,
        },
        &StandardPolicy,
    )
    .expect("sign");
    let sd = parse_signed(&der).expect("parse");
    assert_eq!(sd.signers.len(), 2);
    let results = signed::verify(&sd, None, &[], &StandardPolicy);
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.outcome.is_ok()), "{results:?}");
    assert_eq!(results[0].certificate.as_ref(), Some(p.alice.certificate()));
    assert_eq!(results[1].certificate.as_ref(), Some(p.bob.certificate()));

    // Break Bob's signature only: Alice stays valid, Bob is reported invalid.
    let bob_sig = match &sd.signers[1].info {
        Ok(i) => i.signature.as_bytes().to_vec(),
        Err(e) => panic!("{e}"),
    };
    let pos = find(&der, &bob_sig).expect("signature bytes in the DER");
    let mut t = der.clone();
    t[pos + 100] ^= 0x01;
    let results = verify(&t, None).expect("parse");
    assert_eq!(results[0].outcome, Ok(()));
    assert_eq!(results[1].outcome, Err(SignatureError::BadSignature));
}

#[test]
fn producing_weak_algorithms_is_refused() {
    let p = people();
    let spec = SignerSpec {
        key: &p.alice,
        algorithm: SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha1),
        identify_by_ski: false,
    };
    let r = signed::sign(TEXT, &[spec], &SignParams::default(), &StandardPolicy);
    assert!(
        matches!(r, Err(CmsError::Alg(AlgError::PolicyViolation { .. }))),
        "{r:?}"
    );
    let r = enveloped::encrypt(
        TEXT,
        &[enveloped::RecipientSpec {
            certificate: p.bob.certificate(),
            key_transport: KeyTransport::RsaPkcs1v15,
            identify_by_ski: false,
        }],
        ContentCipher::DesEde3Cbc,
        &StandardPolicy,
    );
    assert!(
        matches!(r, Err(CmsError::Alg(AlgError::PolicyViolation { .. }))),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------
// Verification rules, with hand-built SignerInfos
// ---------------------------------------------------------------------------------

/// A SignerInfo built by hand (so that the rules can be broken on purpose).
struct Custom {
    econtent_type: ObjectIdentifier,
    attrs: Option<Vec<Attribute>>,
    digest_oid: ObjectIdentifier,
    signature_alg: Option<AlgorithmIdentifierOwned>,
}

impl Custom {
    fn new(attrs: Option<Vec<Attribute>>) -> Self {
        Custom {
            econtent_type: oid::ID_DATA,
            attrs,
            digest_oid: oid::ID_SHA256,
            signature_alg: None,
        }
    }

    /// Sign `content` with `key` (RSA PKCS#1 v1.5, SHA-256) and return the ContentInfo.
    fn sign(&self, content: &[u8], key: &SoftwareIdentity) -> Vec<u8> {
        let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
        let signed_attrs = self
            .attrs
            .clone()
            .map(|a| SetOfVec::try_from(a).expect("attribute set"));
        let to_sign = match &signed_attrs {
            Some(a) => DigestAlgorithm::Sha256.digest(&a.to_der().expect("attrs DER")),
            None => DigestAlgorithm::Sha256.digest(content),
        };
        let signature = key.sign_digest(&alg, &to_sign).expect("sign");
        let cert = key.certificate();
        let si = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            }),
            digest_alg: AlgorithmIdentifierOwned {
                oid: self.digest_oid,
                parameters: None,
            },
            signed_attrs,
            signature_algorithm: self
                .signature_alg
                .clone()
                .unwrap_or_else(|| alg.to_algorithm_identifier().expect("alg id")),
            signature: OctetString::new(signature).expect("octets"),
            unsigned_attrs: None,
        };
        let econtent = Any::from_der(
            &OctetString::new(content.to_vec())
                .expect("octets")
                .to_der()
                .expect("DER"),
        )
        .expect("any");
        let sd = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![AlgorithmIdentifierOwned {
                oid: oid::ID_SHA256,
                parameters: None,
            }])
            .expect("set"),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: self.econtent_type,
                econtent: Some(econtent),
            },
            certificates: Some(
                CertificateSet::try_from(vec![cms::cert::CertificateChoices::Certificate(
                    cert.clone(),
                )])
                .expect("certs"),
            ),
            crls: None,
            signer_infos: SignerInfos::try_from(vec![si]).expect("signers"),
        };
        ContentInfo::encode(oid::ID_SIGNED_DATA, &sd.to_der().expect("SignedData DER"))
            .expect("ContentInfo")
    }

    fn outcome(&self, content: &[u8], key: &SoftwareIdentity) -> Result<(), SignatureError> {
        let der = self.sign(content, key);
        let results = verify(&der, None).expect("parses");
        assert_eq!(results.len(), 1);
        results[0].outcome.clone()
    }
}

fn any_of<T: Encode>(v: &T) -> Any {
    Any::from_der(&v.to_der().expect("DER")).expect("Any")
}

fn multi_valued(oid: ObjectIdentifier, values: Vec<Any>) -> Attribute {
    let mut set = SetOfVec::new();
    for v in values {
        set.insert(v).expect("insert");
    }
    Attribute { oid, values: set }
}

fn md(content: &[u8]) -> Attribute {
    attributes::message_digest(&DigestAlgorithm::Sha256.digest(content)).expect("md")
}

fn ct(t: ObjectIdentifier) -> Attribute {
    attributes::content_type(t).expect("ct")
}

#[test]
fn hand_built_baseline_is_valid() {
    // The baseline the broken variants below are derived from must verify, or those
    // tests would prove nothing.
    let p = people();
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)])).outcome(TEXT, &p.alice),
        Ok(())
    );
    let with_ess = vec![
        ct(oid::ID_DATA),
        md(TEXT),
        attributes::signing_certificate_v2(&p.alice.certificate().to_der().expect("DER"))
            .expect("ess"),
    ];
    assert_eq!(Custom::new(Some(with_ess)).outcome(TEXT, &p.alice), Ok(()));
}

#[test]
fn missing_message_digest_or_content_type() {
    let p = people();
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA)])).outcome(TEXT, &p.alice),
        Err(SignatureError::MissingAttribute("messageDigest"))
    );
    assert_eq!(
        Custom::new(Some(vec![md(TEXT)])).outcome(TEXT, &p.alice),
        Err(SignatureError::MissingAttribute("contentType"))
    );
    assert_eq!(
        Custom::new(Some(vec![])).outcome(TEXT, &p.alice),
        Err(SignatureError::MissingAttribute("messageDigest"))
    );
}

#[test]
fn wrong_message_digest_is_digest_mismatch() {
    let p = people();
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(b"other content")])).outcome(TEXT, &p.alice),
        Err(SignatureError::DigestMismatch)
    );
}

#[test]
fn content_type_attribute_must_match() {
    let p = people();
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_SIGNED_DATA), md(TEXT)])).outcome(TEXT, &p.alice),
        Err(SignatureError::ContentTypeMismatch)
    );
    // Another eContentType with a matching attribute is fine...
    let other = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
    let mut c = Custom::new(Some(vec![ct(other), md(TEXT)]));
    c.econtent_type = other;
    assert_eq!(c.outcome(TEXT, &p.alice), Ok(()));
    // ... but an id-data attribute on it is a mismatch.
    let mut c = Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)]));
    c.econtent_type = other;
    assert_eq!(
        c.outcome(TEXT, &p.alice),
        Err(SignatureError::ContentTypeMismatch)
    );
}

#[test]
fn no_signed_attributes_only_over_id_data() {
    let p = people();
    assert_eq!(Custom::new(None).outcome(TEXT, &p.alice), Ok(()));
    let mut c = Custom::new(None);
    c.econtent_type = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
    assert_eq!(
        c.outcome(TEXT, &p.alice),
        Err(SignatureError::MissingAttribute("contentType"))
    );
    // Without attributes the signature is over the content: changing it breaks it.
    let der = Custom::new(None).sign(TEXT, &p.alice);
    let mut sd = parse_signed(&der).expect("parse");
    sd.content = Some(b"x".to_vec());
    let r = signed::verify(&sd, None, &[], &StandardPolicy);
    assert_eq!(r[0].outcome, Err(SignatureError::BadSignature));
}

#[test]
fn no_signed_attributes_verify_while_streaming() {
    // Streamed, the content is only hashed: the signature is checked against its
    // digest, with the in-memory outcome, and a changed content still breaks it.
    use std::io::Read;
    let p = people();
    let der = Custom::new(None).sign(TEXT, &p.alice);
    let streamed = |der: &[u8]| {
        let mut r = mss_cms::stream::VerifyReader::new(der, &[], &StandardPolicy).expect("reader");
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        (
            out,
            r.results().expect("verified").results[0].outcome.clone(),
        )
    };
    let (out, outcome) = streamed(&der);
    assert_eq!(out, TEXT);
    assert_eq!(outcome, Ok(()));
    let at = der
        .windows(TEXT.len())
        .position(|w| w == TEXT)
        .expect("content inside");
    let mut bad = der.clone();
    bad[at] ^= 0x01;
    assert_eq!(streamed(&bad).1, Err(SignatureError::BadSignature));
}

#[test]
fn duplicate_or_multi_valued_attributes_are_malformed() {
    let p = people();
    let two_md = vec![ct(oid::ID_DATA), md(TEXT), md(b"decoy")];
    assert!(matches!(
        Custom::new(Some(two_md)).outcome(TEXT, &p.alice),
        Err(SignatureError::Malformed(_))
    ));
    let digest = OctetString::new(DigestAlgorithm::Sha256.digest(TEXT)).expect("octets");
    let decoy = OctetString::new(DigestAlgorithm::Sha256.digest(b"decoy")).expect("octets");
    let md_two_values = multi_valued(
        oid::ID_MESSAGE_DIGEST,
        vec![any_of(&digest), any_of(&decoy)],
    );
    assert!(matches!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md_two_values])).outcome(TEXT, &p.alice),
        Err(SignatureError::Malformed(_))
    ));
    let two_ct = vec![ct(oid::ID_DATA), ct(oid::ID_SIGNED_DATA), md(TEXT)];
    assert!(matches!(
        Custom::new(Some(two_ct)).outcome(TEXT, &p.alice),
        Err(SignatureError::Malformed(_))
    ));
    // Any attribute type twice, even one mss does not interpret.
    let t1 = attributes::signing_time(std::time::SystemTime::now()).expect("time");
    let t2 = attributes::signing_time(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
    )
    .expect("time");
    assert!(matches!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT), t1, t2])).outcome(TEXT, &p.alice),
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn ess_signing_certificate_must_name_the_signer() {
    let p = people();
    let bob_der = p.bob.certificate().to_der().expect("DER");
    let alice_der = p.alice.certificate().to_der().expect("DER");
    let wrong_v2 = attributes::signing_certificate_v2(&bob_der).expect("ess");
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT), wrong_v2])).outcome(TEXT, &p.alice),
        Err(SignatureError::SigningCertificateMismatch)
    );
    // ESS v1 (SHA-1, RFC 2634): checked as well.
    let v1 = |cert_der: &[u8]| {
        let value = attributes::SigningCertificate {
            certs: vec![attributes::EssCertId {
                cert_hash: OctetString::new(DigestAlgorithm::Sha1.digest(cert_der))
                    .expect("octets"),
                issuer_serial: None,
            }],
            policies: None,
        };
        multi_valued(oid::ID_AA_SIGNING_CERTIFICATE, vec![any_of(&value)])
    };
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT), v1(&alice_der)])).outcome(TEXT, &p.alice),
        Ok(())
    );
    assert_eq!(
        Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT), v1(&bob_der)])).outcome(TEXT, &p.alice),
        Err(SignatureError::SigningCertificateMismatch)
    );
}

#[test]
fn unknown_algorithms_are_unsupported_results() {
    let p = people();
    let mut c = Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)]));
    c.digest_oid = ObjectIdentifier::new_unwrap("1.2.3.4.5");
    assert!(matches!(
        c.outcome(TEXT, &p.alice),
        Err(SignatureError::Unsupported(_))
    ));

    let mut c = Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)]));
    c.signature_alg = Some(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.3.4.6"),
        parameters: None,
    });
    assert!(matches!(
        c.outcome(TEXT, &p.alice),
        Err(SignatureError::Unsupported(_))
    ));

    // sha256WithRSAEncryption announced with a SHA-512 digestAlgorithm: refused.
    let mut c = Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)]));
    c.digest_oid = oid::ID_SHA512;
    assert!(c.outcome(TEXT, &p.alice).is_err());
}

// ---------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------

fn never_valid(input: &[u8], what: &str) {
    if let Ok(results) = verify(input, None) {
        for r in &results {
            assert!(
                r.outcome.is_err(),
                "{what}: a tampered message verified: {r:?}"
            );
        }
    }
}

#[test]
fn flipping_any_byte_of_content_attributes_or_signature_breaks_it() {
    let p = people();
    let content = b"Content-Type: text/plain\r\n\r\nResultat: HbA1c 6,1 %\r\n";
    let der = sign_one(
        content,
        &p.alice,
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
        false,
        false,
    );
    let sd = parse_signed(&der).expect("parse");
    assert_eq!(
        signed::verify(&sd, None, &[], &StandardPolicy)[0].outcome,
        Ok(())
    );

    let content_pos = find(&der, content).expect("content in the DER");
    let attrs = sd.signers[0]
        .signed_attrs_der
        .clone()
        .expect("signed attributes");
    // The attributes are sent [0] IMPLICIT: compare past the tag byte.
    let attrs_pos = find(&der, &attrs[1..]).expect("attributes in the DER") - 1;
    let sig = match &sd.signers[0].info {
        Ok(i) => i.signature.as_bytes().to_vec(),
        Err(e) => panic!("{e}"),
    };
    let sig_pos = find(&der, &sig).expect("signature in the DER");

    let regions = [
        ("content", content_pos, content.len()),
        ("signed attributes", attrs_pos, attrs.len()),
        ("signature", sig_pos, sig.len()),
    ];
    let mut tried = 0;
    for (what, start, len) in regions {
        for i in start..start + len {
            for mask in [0x01u8, 0x80] {
                let mut t = der.clone();
                t[i] ^= mask;
                never_valid(&t, &format!("{what} byte {i} ^ {mask:#x}"));
                tried += 1;
            }
        }
    }
    assert!(tried > 2 * (content.len() + 256), "{tried}");
}

/// A key that signs with one identity while claiming another one's certificate.
struct Impostor<'a> {
    claimed: &'a SoftwareIdentity,
    real: &'a SoftwareIdentity,
}

impl SigningKey for Impostor<'_> {
    fn certificate(&self) -> &x509_cert::Certificate {
        self.claimed.certificate()
    }
    fn chain(&self) -> &[x509_cert::Certificate] {
        self.claimed.chain()
    }
    fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        SigningKey::supports(self.real, alg)
    }
    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.real.sign_digest(alg, digest)
    }
}

#[test]
fn signature_by_another_key_under_a_certificate_is_bad() {
    let p = people();
    let impostor = Impostor {
        claimed: &p.alice,
        real: &p.bob,
    };
    for alg in [
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
        SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256),
    ] {
        let der = sign_one(TEXT, &impostor, alg, false, false);
        let r = verify(&der, None).expect("parse");
        assert_eq!(r[0].certificate.as_ref(), Some(p.alice.certificate()));
        assert_eq!(r[0].outcome, Err(SignatureError::BadSignature));
        // Handing Bob's certificate to the verifier does not help: the sid names Alice.
        let sd = parse_signed(&der).expect("parse");
        let r = signed::verify(&sd, None, &[p.bob.certificate().clone()], &StandardPolicy);
        assert_eq!(r[0].outcome, Err(SignatureError::BadSignature));
    }
}

#[test]
fn missing_certificate_is_reported() {
    let p = people();
    let der = Custom::new(Some(vec![ct(oid::ID_DATA), md(TEXT)])).sign(TEXT, &p.alice);
    let mut sd = parse_signed(&der).expect("parse");
    sd.certificates.clear();
    let r = signed::verify(&sd, None, &[], &StandardPolicy);
    assert_eq!(r[0].outcome, Err(SignatureError::CertificateNotFound));
    let r = signed::verify(&sd, None, &[p.alice.certificate().clone()], &StandardPolicy);
    assert_eq!(r[0].outcome, Ok(()));
}

// ---------------------------------------------------------------------------------
// EnvelopedData / AuthEnvelopedData
// ---------------------------------------------------------------------------------

#[test]
fn encrypt_decrypt_every_cipher_transport_and_identifier() {
    let p = people();
    for cipher in CIPHERS {
        for kt in key_transports() {
            for ski in [false, true] {
                let label = format!("{} {} ski={ski}", cipher.name(), kt.name());
                // One recipient.
                let der = encrypt(TEXT, &[(&p.bob, kt, ski)], cipher);
                let d =
                    decrypt_with(&der, &p.bob, cipher).unwrap_or_else(|e| panic!("{label}: {e}"));
                assert_eq!(d.content.as_slice(), TEXT, "{label}");
                assert_eq!(d.cipher, cipher);
                assert_eq!(d.key_transport, kt);
                assert_eq!(d.authenticated, cipher.is_aead());
                assert_eq!(d.content_type, oid::ID_DATA);
                assert_eq!(d.recipient_count, 1);
                assert_eq!(
                    d.warnings.is_empty(),
                    cipher != ContentCipher::DesEde3Cbc,
                    "{label}: {:?}",
                    d.warnings
                );
                assert!(
                    matches!(
                        decrypt_with(&der, &p.alice, cipher),
                        Err(CmsError::NotARecipient { recipients: 1 })
                    ),
                    "{label}"
                );
                let ci = ContentInfo::from_ber(&der).expect("ContentInfo");
                assert_eq!(
                    ci.kind(),
                    if cipher.is_aead() {
                        ContentType::AuthEnvelopedData
                    } else {
                        ContentType::EnvelopedData
                    }
                );

                // Three recipients, each decrypts.
                let der = encrypt(
                    TEXT,
                    &[(&p.alice, kt, ski), (&p.bob, kt, !ski), (&p.carol, kt, ski)],
                    cipher,
                );
                for id in [&p.alice, &p.bob, &p.carol] {
                    let d =
                        decrypt_with(&der, id, cipher).unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert_eq!(d.content.as_slice(), TEXT, "{label}");
                    assert_eq!(d.recipient_count, 3);
                }
            }
        }
    }
}

#[test]
fn non_recipient_with_three_recipients() {
    let p = people();
    let der = encrypt(
        TEXT,
        &[
            (&p.alice, KeyTransport::RsaPkcs1v15, false),
            (&p.carol, KeyTransport::RsaPkcs1v15, true),
        ],
        ContentCipher::Aes256Cbc,
    );
    assert!(matches!(
        decrypt_with(&der, &p.bob, ContentCipher::Aes256Cbc),
        Err(CmsError::NotARecipient { recipients: 2 })
    ));
    // The CA key (never a recipient) neither.
    assert!(matches!(
        decrypt_with(&der, p.ca.identity(), ContentCipher::Aes256Cbc),
        Err(CmsError::NotARecipient { recipients: 2 })
    ));
}

#[test]
fn enveloped_versions() {
    let p = people();
    let kt = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha256,
    };
    for (ski, version, ktri_version) in [
        (false, CmsVersion::V0, CmsVersion::V0),
        (true, CmsVersion::V2, CmsVersion::V2),
    ] {
        let der = encrypt(TEXT, &[(&p.bob, kt, ski)], ContentCipher::Aes128Cbc);
        let ed =
            EnvelopedData::from_der(&ContentInfo::from_ber(&der).expect("ci").content).expect("ed");
        assert_eq!(ed.version, version);
        let RecipientInfo::Ktri(k) = &ed.recip_infos.0.as_slice()[0] else {
            panic!("ktri")
        };
        assert_eq!(k.version, ktri_version);

        let der = encrypt(TEXT, &[(&p.bob, kt, ski)], ContentCipher::Aes128Gcm);
        let aed = AuthEnvelopedData::from_der(&ContentInfo::from_ber(&der).expect("ci").content)
            .expect("aed");
        assert_eq!(aed.version, CmsVersion::V0, "RFC 5083: always 0");
    }
}

/// Rebuild an AuthEnvelopedData ContentInfo with `f` applied to the decoded structure.
fn rebuild_aed(der: &[u8], f: impl FnOnce(&mut AuthEnvelopedData)) -> Vec<u8> {
    let ci = ContentInfo::from_ber(der).expect("ci");
    let mut aed = AuthEnvelopedData::from_der(&ci.content).expect("aed");
    f(&mut aed);
    ContentInfo::encode(oid::ID_CT_AUTH_ENVELOPED_DATA, &aed.to_der().expect("DER"))
        .expect("encode")
}

#[test]
fn auth_enveloped_version_other_than_zero_is_refused() {
    let p = people();
    let der = encrypt(
        TEXT,
        &[(&p.bob, KeyTransport::RsaPkcs1v15, false)],
        ContentCipher::Aes128Gcm,
    );
    let bad = rebuild_aed(&der, |a| a.version = CmsVersion::V2);
    assert!(matches!(
        decrypt_with(&bad, &p.bob, ContentCipher::Aes128Gcm),
        Err(CmsError::Malformed(_))
    ));
}

#[test]
fn auth_enveloped_any_ciphertext_or_tag_flip_fails() {
    let p = people();
    for kt in key_transports() {
        let der = encrypt(TEXT, &[(&p.bob, kt, false)], ContentCipher::Aes256Gcm);
        let aed = AuthEnvelopedData::from_der(&ContentInfo::from_ber(&der).expect("ci").content)
            .expect("aed");
        let ct = aed
            .auth_encrypted_content_info
            .encrypted_content
            .as_ref()
            .expect("ct")
            .as_bytes()
            .to_vec();
        let tag = aed.mac.as_bytes().to_vec();
        let ct_pos = find(&der, &ct).expect("ciphertext in the DER");
        let tag_pos = find(&der, &tag).expect("tag in the DER");
        for i in (ct_pos..ct_pos + ct.len()).chain(tag_pos..tag_pos + tag.len()) {
            let mut t = der.clone();
            t[i] ^= 0x01;
            let r = decrypt_with(&t, &p.bob, ContentCipher::Aes256Gcm);
            assert!(
                matches!(r, Err(CmsError::Alg(AlgError::DecryptionFailed))),
                "{} byte {i}: {r:?}",
                kt.name()
            );
        }
    }
}

#[test]
fn auth_enveloped_with_auth_attributes() {
    // mss does not write authAttrs; others do (RFC 5083 §2.1). Build one by hand:
    // the AAD is the DER of the attribute SET (tag 0x31, not the [1] of the field).
    let p = people();
    let build = |aad_attrs: &SetOfVec<Attribute>, sent_attrs: &SetOfVec<Attribute>| {
        let params = CipherParams::generate(ContentCipher::Aes128Gcm).expect("params");
        let key = ContentCipher::Aes128Gcm.generate_key().expect("key");
        let aad = aad_attrs.to_der().expect("aad");
        assert_eq!(aad[0], 0x31);
        let (ct, tag) = params.encrypt_aead(&key, &aad, TEXT).expect("encrypt");
        let spki = p
            .bob
            .certificate()
            .tbs_certificate()
            .subject_public_key_info();
        let kt = KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        };
        let enc_key = encrypt_key(spki, &kt, &key).expect("wrap");
        let cert = p.bob.certificate();
        let ktri = RecipientInfo::Ktri(KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            }),
            key_enc_alg: kt.to_algorithm_identifier().expect("alg"),
            enc_key: OctetString::new(enc_key).expect("octets"),
        });
        let aed = AuthEnvelopedData {
            version: CmsVersion::V0,
            originator_info: None,
            recip_infos: RecipientInfos::try_from(vec![ktri]).expect("ri"),
            auth_encrypted_content_info: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                content_enc_alg: params.to_algorithm_identifier().expect("alg"),
                encrypted_content: Some(OctetString::new(ct).expect("octets")),
            },
            auth_attrs: Some(sent_attrs.clone()),
            mac: OctetString::new(tag).expect("octets"),
            unauth_attrs: None,
        };
        ContentInfo::encode(oid::ID_CT_AUTH_ENVELOPED_DATA, &aed.to_der().expect("DER"))
            .expect("ci")
    };
    let attrs = SetOfVec::try_from(vec![
        ct(oid::ID_DATA),
        attributes::signing_time(std::time::SystemTime::now()).expect("time"),
    ])
    .expect("set");
    let der = build(&attrs, &attrs);
    let d = decrypt_with(&der, &p.bob, ContentCipher::Aes128Gcm).expect("decrypts");
    assert_eq!(d.content.as_slice(), TEXT);
    assert!(d.authenticated);
    // The same BER-encoded (indefinite lengths, segmented strings) still decrypts.
    let d = decrypt_with(&to_ber(&der), &p.bob, ContentCipher::Aes128Gcm).expect("BER decrypts");
    assert_eq!(d.content.as_slice(), TEXT);

    // Attributes changed in transit: the tag no longer matches.
    let other = SetOfVec::try_from(vec![ct(oid::ID_DATA)]).expect("set");
    let der = build(&attrs, &other);
    assert!(matches!(
        decrypt_with(&der, &p.bob, ContentCipher::Aes128Gcm),
        Err(CmsError::Alg(AlgError::DecryptionFailed))
    ));
}

#[test]
fn corrupted_v15_key_is_a_uniform_decryption_failure() {
    let p = people();
    for cipher in [ContentCipher::Aes128Cbc, ContentCipher::Aes256Gcm] {
        let der = encrypt(TEXT, &[(&p.bob, KeyTransport::RsaPkcs1v15, false)], cipher);
        let ed_content = ContentInfo::from_ber(&der).expect("ci").content;
        let enc_key = if cipher.is_aead() {
            let aed = AuthEnvelopedData::from_der(&ed_content).expect("aed");
            let RecipientInfo::Ktri(k) = &aed.recip_infos.0.as_slice()[0] else {
                panic!("ktri")
            };
            k.enc_key.as_bytes().to_vec()
        } else {
            let ed = EnvelopedData::from_der(&ed_content).expect("ed");
            let RecipientInfo::Ktri(k) = &ed.recip_infos.0.as_slice()[0] else {
                panic!("ktri")
            };
            k.enc_key.as_bytes().to_vec()
        };
        let pos = find(&der, &enc_key).expect("encrypted key in the DER");
        let mut failures = 0;
        for i in (0..enc_key.len()).step_by(16) {
            let mut t = der.clone();
            t[pos + i] ^= 0x01;
            match decrypt_with(&t, &p.bob, cipher) {
                Err(CmsError::Alg(AlgError::DecryptionFailed)) => failures += 1,
                // CBC has no integrity: the implicit-rejection key may, rarely, give a
                // well-padded garbage plaintext. Never the original, never another error.
                Ok(d) if !cipher.is_aead() => assert_ne!(d.content.as_slice(), TEXT),
                other => panic!("{} byte {i}: {other:?}", cipher.name()),
            }
        }
        let tries = enc_key.len().div_ceil(16);
        if cipher.is_aead() {
            assert_eq!(failures, tries);
        } else {
            assert!(failures >= tries - 3, "{failures}/{tries}");
        }
    }
}

/// A decryption key whose backend fails (a card pulled out, say).
struct FailingKey<'a>(&'a SoftwareIdentity);

impl DecryptionKey for FailingKey<'_> {
    fn certificate(&self) -> &x509_cert::Certificate {
        self.0.certificate()
    }
    fn decrypt_key(
        &self,
        _: &KeyTransport,
        _: &[u8],
        _: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        Err(AlgError::KeyOperation("card removed".into()))
    }
}

/// A decryption key returning a key of the wrong length (a broken card driver).
struct ShortKey<'a>(&'a SoftwareIdentity);

impl DecryptionKey for ShortKey<'_> {
    fn certificate(&self) -> &x509_cert::Certificate {
        self.0.certificate()
    }
    fn decrypt_key(
        &self,
        _: &KeyTransport,
        _: &[u8],
        _: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        Ok(Zeroizing::new(vec![0u8; 5]))
    }
}

#[test]
fn v15_backend_failures_are_implicitly_rejected() {
    let p = people();
    let cipher = ContentCipher::Aes128Gcm;
    let der = encrypt(TEXT, &[(&p.bob, KeyTransport::RsaPkcs1v15, false)], cipher);
    for key in [&FailingKey(&p.bob) as &dyn DecryptionKey, &ShortKey(&p.bob)] {
        assert!(matches!(
            decrypt_with(&der, key, cipher),
            Err(CmsError::Alg(AlgError::DecryptionFailed))
        ));
    }
    // OAEP has no padding oracle to hide: a backend failure is reported as such.
    let der = encrypt(
        TEXT,
        &[(
            &p.bob,
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            },
            false,
        )],
        cipher,
    );
    assert!(matches!(
        decrypt_with(&der, &FailingKey(&p.bob), cipher),
        Err(CmsError::Alg(AlgError::KeyOperation(_)))
    ));
    assert!(matches!(
        decrypt_with(&der, &ShortKey(&p.bob), cipher),
        Err(CmsError::Alg(AlgError::DecryptionFailed))
    ));
}

#[test]
fn legacy_policy_reads_modern_messages_too() {
    let p = people();
    let der = encrypt(
        TEXT,
        &[(&p.bob, KeyTransport::RsaPkcs1v15, false)],
        ContentCipher::Aes128Cbc,
    );
    let ci = ContentInfo::from_ber(&der).expect("ci");
    let d =
        enveloped::decrypt(&ci, &[&p.bob as &dyn DecryptionKey], &LegacyPolicy).expect("decrypts");
    assert_eq!(d.content.as_slice(), TEXT);
}

// ---------------------------------------------------------------------------------
// BER and truncation
// ---------------------------------------------------------------------------------

#[test]
fn ber_reencoded_messages_verify_and_decrypt() {
    let p = people();
    let alg = SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha384);
    for detached in [false, true] {
        let der = sign_one(TEXT, &p.alice, alg, true, detached);
        let ber_form = to_ber(&der);
        assert_ne!(ber_form, der);
        assert_eq!(
            ber::normalize(&ber_form).expect("normalise"),
            der,
            "the helper is faithful"
        );
        let r = verify(&ber_form, detached.then_some(TEXT)).expect("parse BER");
        assert_eq!(r[0].outcome, Ok(()));
    }
    for cipher in CIPHERS {
        let der = encrypt(
            TEXT,
            &[
                (&p.alice, KeyTransport::RsaPkcs1v15, false),
                (
                    &p.bob,
                    KeyTransport::RsaOaep {
                        hash: DigestAlgorithm::Sha256,
                    },
                    true,
                ),
            ],
            cipher,
        );
        let ber_form = to_ber(&der);
        assert_eq!(ber::normalize(&ber_form).expect("normalise"), der);
        for id in [&p.alice, &p.bob] {
            let d = decrypt_with(&ber_form, id, cipher).expect("decrypt BER");
            assert_eq!(d.content.as_slice(), TEXT);
        }
    }
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    let p = people();
    let content = b"ok";
    let signed_der = sign_one(
        content,
        &p.alice,
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
        false,
        false,
    );
    let enveloped_der = encrypt(
        content,
        &[(&p.bob, KeyTransport::RsaPkcs1v15, false)],
        ContentCipher::Aes128Cbc,
    );
    let auth_der = encrypt(
        content,
        &[(&p.bob, KeyTransport::RsaPkcs1v15, false)],
        ContentCipher::Aes128Gcm,
    );
    for (what, der) in [
        ("signed", &signed_der),
        ("enveloped", &enveloped_der),
        ("auth-enveloped", &auth_der),
    ] {
        for input in [der.clone(), to_ber(der)] {
            for i in 0..input.len() {
                let prefix = &input[..i];
                assert!(
                    ContentInfo::from_ber(prefix).is_err(),
                    "{what}: prefix {i} parsed"
                );
            }
        }
    }
    // And a well-formed message with the bodies cut: SignedData/EnvelopedData parsers
    // must fail cleanly on every prefix of the inner structure.
    let inner = ContentInfo::from_ber(&signed_der).expect("ci").content;
    for i in 0..inner.len() {
        assert!(signed::parse(&inner[..i]).is_err(), "SignedData prefix {i}");
    }
    for der in [&enveloped_der, &auth_der] {
        let ci = ContentInfo::from_ber(der).expect("ci");
        for i in 0..ci.content.len() {
            let cut = ContentInfo {
                content_type: ci.content_type,
                content: ci.content[..i].to_vec(),
            };
            assert!(
                enveloped::decrypt(&cut, &[&p.bob as &dyn DecryptionKey], &StandardPolicy).is_err(),
                "prefix {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

#[test]
fn block_size_boundaries_round_trip() {
    let p = people();
    for len in [
        0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025,
    ] {
        let content: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        for cipher in CIPHERS {
            let der = encrypt(
                &content,
                &[(
                    &p.bob,
                    KeyTransport::RsaOaep {
                        hash: DigestAlgorithm::Sha1,
                    },
                    false,
                )],
                cipher,
            );
            let d = decrypt_with(&der, &p.bob, cipher).expect("decrypt");
            assert_eq!(
                d.content.as_slice(),
                content.as_slice(),
                "{} len {len}",
                cipher.name()
            );
        }
        let der = sign_one(
            &content,
            &p.alice,
            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
            false,
            false,
        );
        assert_eq!(verify(&der, None).expect("parse")[0].outcome, Ok(()));
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_sign_verify(
        content in proptest::collection::vec(any::<u8>(), 0..2000),
        detached in any::<bool>(),
        alg_index in 0usize..6,
        ski in any::<bool>(),
    ) {
        let p = people();
        let alg = signature_algorithms()[alg_index];
        let der = sign_one(&content, &p.bob, alg, ski, detached);
        let r = verify(&der, detached.then_some(content.as_slice())).expect("parse");
        prop_assert_eq!(r.len(), 1);
        prop_assert_eq!(&r[0].outcome, &Ok(()));
        let mut other = content.clone();
        other.push(0);
        let sd = parse_signed(&der).expect("parse");
        let r = if detached {
            signed::verify(&sd, Some(&other), &[], &StandardPolicy)
        } else {
            let mut sd = sd.clone();
            sd.content = Some(other);
            signed::verify(&sd, None, &[], &StandardPolicy)
        };
        prop_assert_eq!(&r[0].outcome, &Err(SignatureError::DigestMismatch));
    }

    #[test]
    fn prop_encrypt_decrypt(
        content in proptest::collection::vec(any::<u8>(), 0..2000),
        cipher_index in 0usize..6,
        kt_index in 0usize..3,
        ski in any::<bool>(),
    ) {
        let p = people();
        let cipher = CIPHERS[cipher_index];
        let kt = key_transports()[kt_index];
        let der = encrypt(&content, &[(&p.carol, kt, ski), (&p.alice, kt, !ski)], cipher);
        for id in [&p.carol, &p.alice] {
            let d = decrypt_with(&der, id, cipher).expect("decrypt");
            prop_assert_eq!(d.content.as_slice(), content.as_slice());
        }
        prop_assert!(
            matches!(decrypt_with(&der, &p.bob, cipher), Err(CmsError::NotARecipient { recipients: 2 })),
            "bob is not a recipient"
        );
    }
}
