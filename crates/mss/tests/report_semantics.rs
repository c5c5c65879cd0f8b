//! Report semantics that cannot be misread (issue #10, "Johnny, You Are Fired"): partial
//! signing, signer ≠ From/Sender, several signers, wrapping reported layer by layer,
//! unauthenticated encryption, and the AES-GCM preference from announced capabilities.

mod common;

use mss::{ContentCipher, EncryptOptions, LayerKind, Report, SignOptions, SignatureStatus};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::policy::StandardPolicy;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::mime::{self, Headers};
use mss_cms::signed::{self, SignParams, SignerSpec};
use mss_token::SoftwareIdentity;

use common::pki;

fn open(msg: &[u8], key: Option<&SoftwareIdentity>) -> Report {
    common::open_as(msg, key).report
}

/// A `multipart/signed` entity (no RFC 5322 headers) signed by `who`.
fn signed_part(who: &SoftwareIdentity, text: &str) -> Vec<u8> {
    let draft = format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n");
    mss::sign(draft.as_bytes(), who, &SignOptions::default()).expect("sign")
}

/// A multipart/mixed message with `header` fields around `parts`.
fn mixed(header: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut m = format!(
        "{header}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    )
    .into_bytes();
    for p in parts {
        m.extend_from_slice(b"--XX\r\n");
        m.extend_from_slice(p);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--XX--\r\n");
    m
}

fn warned(r: &Report, w: &str) -> bool {
    r.warnings.iter().any(|x| x == w)
}

const FROM_ALICE: &str = "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n";

#[test]
fn a_signed_part_beside_unsigned_text_is_a_partial_signature() {
    let p = pki();
    let msg = mixed(
        FROM_ALICE,
        &[
            b"Content-Type: text/plain\r\n\r\nYou are fired.\r\n",
            &signed_part(&p.alice, "Kind regards"),
        ],
    );
    let r = open(&msg, None);
    assert!(warned(&r, "partial-signature"), "{:?}", r.warnings);
    assert_eq!(r.signatures.len(), 1);
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert!(r.all_signatures_valid());
    assert!(!r.fully_signed(), "only part 2 is signed");
    let covered: Vec<(&str, bool)> = r
        .parts
        .iter()
        .map(|p| (p.path.as_str(), !p.signed_by.is_empty()))
        .collect();
    assert_eq!(covered, [("1", false), ("2", true)]);
    assert_eq!(r.layers.len(), 1);
    assert_eq!(r.layers[0].kind, LayerKind::SignedDetached);
    assert_eq!(r.layers[0].part.as_deref(), Some("2"));
}

#[test]
fn a_lone_signed_part_inside_an_unsigned_multipart_is_still_partial() {
    let p = pki();
    let msg = mixed(FROM_ALICE, &[&signed_part(&p.alice, "All of it")]);
    let r = open(&msg, None);
    assert!(warned(&r, "partial-signature"), "{:?}", r.warnings);
    assert_eq!(r.parts.len(), 1);
    assert_eq!(r.parts[0].signed_by, [0]);
}

#[test]
fn an_opaque_signed_part_inside_an_unsigned_multipart_is_partial() {
    let p = pki();
    let draft = b"Content-Type: text/plain\r\n\r\nopaque\r\n";
    let opaque = mss::sign(
        draft,
        &p.alice,
        &SignOptions {
            opaque: true,
            ..Default::default()
        },
    )
    .expect("sign");
    let msg = mixed(
        FROM_ALICE,
        &[b"Content-Type: text/html\r\n\r\n<p>x</p>\r\n", &opaque],
    );
    let r = open(&msg, None);
    assert!(warned(&r, "partial-signature"));
    assert_eq!(r.layers[0].kind, LayerKind::SignedOpaque);
    assert_eq!(r.layers[0].part.as_deref(), Some("2"));
    assert_eq!(r.parts[1].content_type, "text/plain");
    assert_eq!(r.parts[1].signed_by, [0]);
}

/// A message from Bob, signed by Bob, as a forwarded `message/rfc822` part.
fn forwarded_from_bob() -> Vec<u8> {
    let bob_msg = mss::sign(
        b"From: Bob <bob@example.test>\r\nSubject: original\r\n\r\nBob's words\r\n",
        &pki().bob,
        &SignOptions::default(),
    )
    .expect("sign");
    let mut part = b"Content-Type: message/rfc822\r\n\r\n".to_vec();
    part.extend_from_slice(&bob_msg);
    part
}

#[test]
fn a_signed_forward_inside_a_signed_message_is_a_layer_of_its_own() {
    let p = pki();
    let draft = mixed(
        FROM_ALICE,
        &[
            b"Content-Type: text/plain\r\n\r\nSee below.\r\n",
            &forwarded_from_bob(),
        ],
    );
    let msg = mss::sign(&draft, &p.alice, &SignOptions::default()).expect("sign");
    let r = open(&msg, None);
    assert!(!warned(&r, "partial-signature"), "{:?}", r.warnings);
    assert_eq!(r.parts.len(), 2, "{:?}", r.parts);
    assert!(
        !warned(&r, "signer-mismatch"),
        "Bob signs Bob's From: {:?}",
        r.warnings
    );
    assert_eq!(r.signatures.len(), 2);
    assert_eq!(r.layers.len(), 2, "never flattened: {:?}", r.layers);
    assert_eq!(r.layers[0].part, None);
    assert_eq!(r.layers[1].part.as_deref(), Some("2"));
    assert_eq!(
        r.signatures[1].signer.email.as_deref(),
        Some("bob@example.test")
    );
    assert_eq!(r.parts[0].signed_by, [0]);
    assert_eq!(r.parts[1].signed_by, [0, 1]);
    assert!(r.fully_signed());
}

#[test]
fn a_signed_forward_inside_an_unsigned_message_is_partial() {
    let msg = mixed(
        FROM_ALICE,
        &[
            b"Content-Type: text/plain\r\n\r\nFYI\r\n",
            &forwarded_from_bob(),
        ],
    );
    let r = open(&msg, None);
    assert!(warned(&r, "partial-signature"));
    assert_eq!(r.layers[0].part.as_deref(), Some("2"));
    assert!(!r.fully_signed());
}

#[test]
fn the_signer_must_match_from_and_sender() {
    let p = pki();
    let cases: [(&str, bool); 5] = [
        ("From: alice@example.test\r\n", false),
        ("From: Bob <bob@example.test>\r\n", true),
        (
            "From: alice@example.test\r\nSender: alice@example.test\r\n",
            false,
        ),
        // Signed by Alice, Sender Alice, displayed as From Bob: a spoof of Bob.
        (
            "From: bob@example.test\r\nSender: alice@example.test\r\n",
            true,
        ),
        (
            "From: alice@example.test\r\nSender: bob@example.test\r\n",
            true,
        ),
    ];
    for (headers, mismatch) in cases {
        let draft = format!("{headers}Subject: s\r\n\r\nbody\r\n");
        let msg = mss::sign(draft.as_bytes(), &p.alice, &SignOptions::default()).expect("sign");
        let r = open(&msg, None);
        assert_eq!(warned(&r, "signer-mismatch"), mismatch, "{headers}");
        assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    }
}

#[test]
fn every_signer_is_reported_and_one_bad_signature_spoils_the_message() {
    let p = pki();
    let inner = mime::canonicalize(b"Content-Type: text/plain\r\n\r\ntwo signers\r\n");
    let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
    let specs = [
        SignerSpec {
            key: &p.alice,
            algorithm: alg,
            identify_by_ski: false,
        },
        SignerSpec {
            key: &p.bob,
            algorithm: alg,
            identify_by_ski: false,
        },
    ];
    let params = SignParams {
        detached: true,
        signing_time: None,
    };
    let mut cms = signed::sign(&inner, &specs, &params, &StandardPolicy).expect("sign");
    let mut h = Headers::default();
    h.set("From", "alice@example.test");
    let good = mime::build_multipart_signed(&h, &inner, &cms, "sha-256");
    let r = open(&good, None);
    assert_eq!(r.signatures.len(), 2);
    assert!(r.all_signatures_valid());
    // The last bytes of the DER are Bob's signature value (no unsigned attributes).
    *cms.last_mut().expect("non-empty") ^= 0x01;
    let bad = mime::build_multipart_signed(&h, &inner, &cms, "sha-256");
    let r = open(&bad, None);
    assert_eq!(r.signatures.len(), 2);
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert_eq!(r.signatures[1].status, SignatureStatus::Invalid);
    assert!(!r.all_signatures_valid());
    assert!(!r.fully_signed());
}

#[test]
fn capabilities_are_reported_and_the_reply_prefers_aes_gcm() {
    let p = pki();
    let msg = mss::sign(
        b"From: alice@example.test\r\n\r\nhi\r\n",
        &p.alice,
        &SignOptions::default(),
    )
    .expect("sign");
    let r = open(&msg, None);
    assert_eq!(
        r.signatures[0].capabilities.first().map(String::as_str),
        Some("aes-256-gcm"),
        "{:?}",
        r.signatures[0].capabilities
    );
    let cipher = mss::reply_cipher(&r, ContentCipher::Aes256Cbc);
    assert_eq!(cipher, ContentCipher::Aes256Gcm);
    // The reply, encrypted with it, is authenticated encryption.
    let sealed = mss::sign_and_encrypt(
        b"From: bob@example.test\r\nTo: alice@example.test\r\n\r\nreply\r\n",
        &p.bob,
        &[p.alice.certificate().clone()],
        None,
        &EncryptOptions {
            cipher,
            ..Default::default()
        },
    )
    .expect("seal");
    let r = open(&sealed, Some(&p.alice));
    assert!(r.authenticated_encryption);
    assert_eq!(r.layers[0].kind, LayerKind::AuthEnveloped);
    // Unsigned message: nothing announced, the fallback stays.
    let plain = open(b"From: a@b.test\r\n\r\nx\r\n", None);
    assert_eq!(
        mss::reply_cipher(&plain, ContentCipher::Aes256Cbc),
        ContentCipher::Aes256Cbc
    );
}

#[test]
fn an_unsigned_plain_message_has_one_uncovered_part_and_no_warning() {
    let r = open(b"From: a@b.test\r\nSubject: x\r\n\r\nhello\r\n", None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.parts.len(), 1);
    assert_eq!(r.parts[0].path, "");
    assert!(r.parts[0].signed_by.is_empty());
    assert!(!r.is_signed());
}

#[test]
fn a_broken_nested_part_is_an_opaque_uncovered_leaf() {
    let p = pki();
    let signed = signed_part(&p.alice, "real");
    let text = String::from_utf8(signed).expect("ASCII");
    // Break the nested signature's base64: the part cannot be verified, so it covers
    // nothing, and the message still opens.
    let at = text.find("smime.p7s\r\n\r\n").expect("signature part") + 13;
    let mut broken = text.into_bytes();
    broken[at + 10] = b'!';
    let msg = mixed(
        FROM_ALICE,
        &[
            b"Content-Type: text/plain\r\n\r\nhi\r\n",
            &broken,
            b"Content-Type: multipart/alternative\r\n\r\nno boundary\r\n",
        ],
    );
    let r = open(&msg, None);
    assert!(warned(&r, "malformed-part"), "{:?}", r.warnings);
    assert!(!warned(&r, "partial-signature"));
    assert!(r.signatures.is_empty());
    assert_eq!(r.parts.len(), 3);
    assert_eq!(r.parts[1].content_type, "multipart/signed");
    assert_eq!(r.parts[2].content_type, "multipart/alternative");
    assert!(r.parts.iter().all(|p| p.signed_by.is_empty()));
}
