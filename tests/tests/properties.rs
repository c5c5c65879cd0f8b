//! Property tests across the crates (issue #10 §4), bounded to a few dozen cases each:
//!
//! - MIME canonicalisation is idempotent and content-preserving end to end: a draft
//!   signed and reopened gives back its canonical body, whatever its line endings;
//! - any single-byte change in the signed content, the signed attributes or the
//!   signature value makes verification fail (opaque and detached);
//! - decrypt(encrypt(x)) = x for arbitrary binary content at and around every block
//!   boundary, for every content cipher mss produces.
//!
//! The MIME layer's own properties (canonicalize, QP/base64 round trips, no panic on
//! arbitrary input) live next to it in `mss-cms/src/mime`; the CMS engine's random
//! round trips in `mss-cms/tests/engine.rs`.

use proptest::prelude::*;

use mss::{Certificate, ContentCipher, KeyTransport, LegacyPolicy, SignOptions, StandardPolicy};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::content::ContentInfo;
use mss_cms::enveloped::{self, Recipient};
use mss_cms::mime;
use mss_cms::signed::{self, SignParams, SignerSpec};
use mss_tests::soft::{SoftPki, soft_pki};

fn pki() -> &'static SoftPki {
    soft_pki()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The verdict on a (possibly mutated) SignedData: `true` only when it parses and every
/// signer verifies.
fn verifies(der: &[u8], detached: Option<&[u8]>) -> bool {
    let Ok(ci) = ContentInfo::from_ber(der) else {
        return false;
    };
    let Ok(sd) = signed::parse(&ci.content) else {
        return false;
    };
    let results = signed::verify(&sd, detached, &[], &StandardPolicy);
    !results.is_empty() && results.iter().all(|r| r.outcome.is_ok())
}

/// Where a byte is changed.
#[derive(Debug, Clone, Copy)]
enum Region {
    Content,
    SignedAttributes,
    Signature,
}

fn region() -> impl Strategy<Value = Region> {
    prop_oneof![
        Just(Region::Content),
        Just(Region::SignedAttributes),
        Just(Region::Signature)
    ]
}

/// A text body: lines of printable ASCII and UTF-8, ended by CRLF, LF or nothing.
fn text_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            "[ -~é]{0,40}",
            prop_oneof![Just("\r\n"), Just("\n"), Just("")],
        ),
        1..12,
    )
    .prop_map(|lines| {
        let mut v = Vec::new();
        for (l, end) in lines {
            v.extend_from_slice(l.trim_start_matches(['-', ' ']).as_bytes());
            v.extend_from_slice(if end.is_empty() {
                b"\r\n"
            } else {
                end.as_bytes()
            });
        }
        v
    })
}

/// Sizes at and around multiples of 8 and 16 bytes (every block size in use), and a few
/// arbitrary ones.
fn boundary_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        (0usize..64, 0usize..3).prop_map(|(k, d)| (k * 16 + d).saturating_sub(1)),
        (0usize..64, 0usize..3).prop_map(|(k, d)| (k * 8 + d).saturating_sub(1)),
        0usize..3000,
    ]
}

const CIPHERS: &[ContentCipher] = &[
    ContentCipher::Aes128Cbc,
    ContentCipher::Aes192Cbc,
    ContentCipher::Aes256Cbc,
    ContentCipher::Aes128Gcm,
    ContentCipher::Aes256Gcm,
    ContentCipher::DesEde3Cbc,
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn canonical_body_survives_sign_and_open(body in text_body(), opaque in any::<bool>()) {
        let p = pki();
        let mut draft = b"From: alice@example.test\r\nSubject: p\r\n\r\n".to_vec();
        draft.extend_from_slice(&body);
        let msg = mss::sign(&draft, &p.alice, &SignOptions { opaque, ..Default::default() })
            .expect("sign");
        let opened = mss::open(&msg, &mss::OpenOptions {
            trust_anchors: vec![p.ca.certificate().clone()],
            ..Default::default()
        }).expect("open");
        prop_assert!(opened.report.fully_signed(), "{:?}", opened.report);
        // The content comes back as signed: 8-bit text was given a transfer encoding
        // (7-bit safe signing); decoded, it is the canonical body.
        let (h, got) = mime::split_header_body(&opened.message);
        let cte = mime::Headers::parse(h).expect("headers").get("Content-Transfer-Encoding");
        let got = mime::decode_transfer_encoding(got, cte.as_deref()).expect("decode");
        let canonical = mime::canonicalize(&body);
        prop_assert_eq!(got, canonical.clone());
        // Canonicalising again changes nothing.
        prop_assert_eq!(mime::canonicalize(&canonical), canonical.clone());
    }

    #[test]
    fn any_single_byte_change_breaks_the_signature(
        content in proptest::collection::vec(any::<u8>(), 24..400),
        detached in any::<bool>(),
        at in region(),
        pick in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let p = pki();
        let spec = SignerSpec {
            key: &p.alice,
            algorithm: SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
            identify_by_ski: false,
        };
        let params = SignParams { detached, signing_time: None };
        let mut der = signed::sign(&content, &[spec], &params, &StandardPolicy).expect("sign");
        let mut content = content;
        let (sd, signer) = {
            let ci = ContentInfo::from_ber(&der).expect("ci");
            let sd = signed::parse(&ci.content).expect("sd");
            let s = sd.signers[0].clone();
            (sd, s)
        };
        prop_assert!(verifies(&der, detached.then_some(content.as_slice())));
        let _ = sd;
        let info = signer.info.as_ref().expect("SignerInfo");
        match at {
            Region::Content => {
                if detached {
                    let i = pick.index(content.len());
                    content[i] ^= mask;
                } else {
                    let start = find(&der, &content).expect("eContent in the DER");
                    der[start + pick.index(content.len())] ^= mask;
                }
            }
            Region::SignedAttributes => {
                let attrs = signer.signed_attrs_der.as_ref().expect("signed attributes");
                // Received as [0] IMPLICIT: same length and contents, other tag.
                let start = find(&der, &attrs[1..]).expect("signedAttrs in the DER") - 1;
                der[start + pick.index(attrs.len())] ^= mask;
            }
            Region::Signature => {
                let sig = info.signature.as_bytes();
                let start = find(&der, sig).expect("signature in the DER");
                der[start + pick.index(sig.len())] ^= mask;
            }
        }
        prop_assert!(!verifies(&der, detached.then_some(content.as_slice())), "{:?} still verifies", at);
    }

    #[test]
    fn decrypt_of_encrypt_is_identity_at_block_boundaries(
        size in boundary_size(),
        seed in any::<u64>(),
        cipher_index in 0..CIPHERS.len(),
        oaep in any::<bool>(),
    ) {
        let p = pki();
        let mut x = seed | 1;
        let content: Vec<u8> = (0..size).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        }).collect();
        let cipher = CIPHERS[cipher_index];
        let kt = if oaep { KeyTransport::RsaOaep { hash: DigestAlgorithm::Sha256 } } else { KeyTransport::RsaPkcs1v15 };
        let bob: &Certificate = p.bob.certificate();
        let r = Recipient::for_certificate(bob, kt, false).expect("recipient");
        let der = enveloped::encrypt_to(&content, &[r], cipher, &LegacyPolicy).expect("encrypt");
        let ci = ContentInfo::from_ber(&der).expect("ci");
        let d = enveloped::decrypt_with(&ci, &[&p.bob], &[], &LegacyPolicy).expect("decrypt");
        prop_assert_eq!(d.content.as_slice(), content.as_slice());
        prop_assert_eq!(d.authenticated, cipher.is_aead());
    }
}
