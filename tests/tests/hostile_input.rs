//! Hostile input (issue #10 §2): every item of the list gets a typed error (or a report
//! that is not "valid"), never a panic, a hang or an unbounded allocation. The caps are
//! named constants of the layer that enforces them (`mss_cms::ber::MAX_DEPTH`,
//! `mss_cms::mime::{MAX_FIELD_LEN, MAX_FIELDS, MAX_PARTS, MAX_DEPTH}`,
//! `mss::coverage::{MAX_PART_DEPTH, MAX_TOTAL_PARTS}`, `mss::open::MAX_LAYERS`).

use mss::{Certificate, OpenOptions, Opened, SignOptions, SignatureStatus};
use mss_cms::content::ContentInfo;
use mss_cms::mime::{self, Headers};
use mss_cms::{ber, signed};
use mss_tests::der::{self as tree, Node, Value};
use mss_tests::soft::{SoftPki, soft_pki};

fn pki() -> &'static SoftPki {
    soft_pki()
}

fn anchors() -> Vec<Certificate> {
    vec![pki().ca.certificate().clone()]
}

fn open(msg: &[u8]) -> Result<Opened, mss::Error> {
    mss::open(
        msg,
        &OpenOptions {
            keys: vec![&pki().bob],
            trust_anchors: anchors(),
            ..Default::default()
        },
    )
}

const DRAFT: &[u8] =
    b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: s\r\n\r\nHello Bob.\r\n";

/// DRAFT signed by Alice as an opaque SignedData: the DER ContentInfo.
fn alice_opaque_der() -> Vec<u8> {
    let opaque = mss::sign(
        DRAFT,
        &pki().alice,
        &SignOptions {
            opaque: true,
            ..Default::default()
        },
    )
    .expect("sign");
    mss_tests::mime::parse(&opaque).base64_body()
}

fn is_typed_malformed(e: &mss::Error) -> bool {
    matches!(e, mss::Error::Malformed(_) | mss::Error::Unsupported(_))
}

#[test]
fn declared_ber_lengths_beyond_the_input() {
    let cases: [&[u8]; 6] = [
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06, 0x00],
        &[
            0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ],
        &[0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x00],
        &[0x30, 0x82, 0x10, 0x00, 0x06, 0x09],
        // The outer length is right, the inner one claims more than the outer holds.
        &[0x30, 0x06, 0x06, 0x7f, 0x2a, 0x86, 0x48, 0x86],
        // A constructed OCTET STRING whose chunk overruns.
        &[
            0x30, 0x80, 0x24, 0x80, 0x04, 0x84, 0x7f, 0, 0, 0, 0, 0, 0, 0,
        ],
    ];
    for c in cases {
        assert!(ber::normalize(c).is_err(), "{c:02x?}");
        assert!(ContentInfo::from_ber(c).is_err(), "{c:02x?}");
        let e = open(c).expect_err("bare CMS with a bad length");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
}

#[test]
fn deep_indefinite_length_nesting() {
    for tag in [0x30u8, 0x24, 0xA0] {
        let n = 100_000;
        let mut v = Vec::with_capacity(n * 4);
        for _ in 0..n {
            v.extend_from_slice(&[tag, 0x80]);
        }
        v.extend(std::iter::repeat_n(0u8, 2 * n));
        assert!(ber::normalize(&v).is_err(), "tag {tag:02x}");
        let e = open(&v).expect_err("deep nesting");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
    // Just within the cap, a definite-length tree the same depth still parses as BER.
    let mut v = vec![0x05, 0x00];
    for _ in 0..ber::MAX_DEPTH - 2 {
        let mut outer = vec![0x30, 0x80];
        outer.extend_from_slice(&v);
        outer.extend_from_slice(&[0, 0]);
        v = outer;
    }
    assert!(ber::normalize(&v).is_ok());
}

fn nested_multiparts(depth: usize) -> Vec<u8> {
    let mut m = b"Content-Type: text/plain\r\n\r\nleaf\r\n".to_vec();
    for i in 0..depth {
        let mut outer =
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .into_bytes();
        outer.extend_from_slice(&m);
        outer.extend_from_slice(format!("\r\n--b{i}--\r\n").as_bytes());
        m = outer;
    }
    let mut msg = b"From: a@example.test\r\n".to_vec();
    msg.extend_from_slice(&m);
    msg
}

fn nested_forwards(depth: usize) -> Vec<u8> {
    let mut m = b"From: x@example.test\r\n\r\nleaf\r\n".to_vec();
    for _ in 0..depth {
        let mut outer = b"From: a@example.test\r\nContent-Type: message/rfc822\r\n\r\n".to_vec();
        outer.extend_from_slice(&m);
        m = outer;
    }
    m
}

#[test]
fn mime_nesting_depth_is_capped() {
    let ok = open(&nested_multiparts(mss::coverage::MAX_PART_DEPTH - 1)).expect("within the cap");
    assert_eq!(ok.report.parts.len(), 1);
    for msg in [nested_multiparts(2_000), nested_forwards(2_000)] {
        let e = open(&msg).expect_err("beyond the cap");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
}

fn many_parts(n: usize) -> Vec<u8> {
    let mut m =
        b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n".to_vec();
    for i in 0..n {
        m.extend_from_slice(format!("--p\r\nContent-Type: text/plain\r\n\r\n{i}\r\n").as_bytes());
    }
    m.extend_from_slice(b"--p--\r\n");
    m
}

#[test]
fn thousands_of_parts() {
    let ok = open(&many_parts(mime::MAX_PARTS)).expect("at the cap");
    assert_eq!(ok.report.parts.len(), mime::MAX_PARTS);
    assert_eq!(ok.report.parts[999].path, "1000");
    for n in [mime::MAX_PARTS + 1, 20_000] {
        let e = open(&many_parts(n)).expect_err("beyond the cap");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
}

#[test]
fn header_lines_of_megabytes() {
    let long = |n: usize| {
        let mut m = b"From: a@example.test\r\nSubject: ".to_vec();
        m.extend(std::iter::repeat_n(b'a', n));
        m.extend_from_slice(b"\r\n\r\nbody\r\n");
        m
    };
    assert!(open(&long(mime::MAX_FIELD_LEN / 2)).is_ok());
    for n in [mime::MAX_FIELD_LEN + 1, 8 * 1024 * 1024] {
        let e = open(&long(n)).expect_err("field too long");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
    // A folded field of megabytes counts as one field.
    let mut folded = b"From: a@example.test\r\nSubject: x".to_vec();
    for _ in 0..(2 * mime::MAX_FIELD_LEN / 64) {
        folded.extend_from_slice(b"\r\n ");
        folded.extend(std::iter::repeat_n(b'b', 61));
    }
    folded.extend_from_slice(b"\r\n\r\nbody\r\n");
    assert!(open(&folded).is_err());
    // Too many fields.
    let mut many = Vec::new();
    for i in 0..=mime::MAX_FIELDS {
        many.extend_from_slice(format!("X-F{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\nbody\r\n");
    assert!(open(&many).is_err());
}

#[test]
fn broken_base64_and_quoted_printable() {
    for body in [
        &b"!!!!####"[..],
        b"MIIB=AAA",
        b"A",
        b"\xff\xfe\xfd",
        b"====",
    ] {
        let mut m = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\
                      Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        m.extend_from_slice(body);
        let e = open(&m).expect_err("broken base64");
        assert!(is_typed_malformed(&e), "{e:?}");
        assert!(mime::decode_transfer_encoding(body, Some("base64")).is_err() || body == b"====");
    }
    for body in [
        &b"=ZZ"[..],
        b"=",
        b"=\r",
        b"abc=4",
        b"=\xff\xff",
        b"=0D=0A=\r\n=",
    ] {
        // Lenient or strict, never a panic; and what comes back is bounded by the input.
        if let Ok(v) = mime::decode_transfer_encoding(body, Some("quoted-printable")) {
            assert!(v.len() <= body.len());
        }
        let mut m = b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\
                      Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            .to_vec();
        m.extend_from_slice(body);
        assert!(open(&m).is_err());
    }
    // A multipart/signed whose signature part is broken base64.
    let signed = mss::sign(DRAFT, &pki().alice, &SignOptions::default()).expect("sign");
    let text = String::from_utf8(signed).expect("ASCII");
    let at = text.find("smime.p7s\r\n\r\n").expect("signature part") + 13;
    let mut broken = text.into_bytes();
    broken[at + 10] = b'!';
    broken[at + 11] = b'*';
    let e = open(&broken).expect_err("broken signature base64");
    assert!(is_typed_malformed(&e), "{e:?}");
}

/// Truncating a real message at every byte never panics, and never yields a "valid"
/// report for content other than what was signed.
#[test]
fn truncation_at_every_byte() {
    let p = pki();
    let signed = mss::sign(DRAFT, &p.alice, &SignOptions::default()).expect("sign");
    let sealed = mss::sign_and_encrypt(
        DRAFT,
        &p.alice,
        &[p.bob.certificate().clone()],
        None,
        &mss::EncryptOptions::default(),
    )
    .expect("seal");
    assert!(
        signed.len() < 16_384 && sealed.len() < 16_384,
        "bounded work"
    );
    for msg in [&signed, &sealed] {
        for i in 0..msg.len() {
            if let Ok(o) = open(&msg[..i])
                && o.report.fully_signed()
            {
                let text = String::from_utf8_lossy(&o.message);
                assert!(text.contains("Hello Bob."), "cut at {i}: {text}");
            }
        }
    }
    // A strict prefix of a DER ContentInfo is always an error.
    let der = alice_opaque_der();
    for i in 0..der.len() {
        assert!(ContentInfo::from_ber(&der[..i]).is_err(), "cut at {i}");
    }
}

#[test]
fn non_utf8_headers() {
    let p = pki();
    let raw: [&[u8]; 4] = [
        b"From: \xff\xfe <alice@example.test>\r\nSubject: caf\xe9\r\n\r\nbody\r\n",
        b"Fr\xf6m: alice@example.test\r\n\r\nbody\r\n",
        b"From: alice@example.test\r\nContent-Type: text/plain; charset=\xff\r\n\r\nbody\r\n",
        b"From: alice@example.test\r\nContent-Type: multipart/mixed; boundary=\"\xc3\x28\"\r\n\r\n--\xc3\x28\r\n\r\nx\r\n--\xc3\x28--\r\n",
    ];
    for m in raw {
        if let Err(e) = open(m) {
            assert!(is_typed_malformed(&e), "{e:?}");
        }
    }
    // Signed, then the From is replaced by bytes that are not UTF-8: the signature still
    // verifies (headers are outside), but the signer no longer matches the From.
    let signed = mss::sign(DRAFT, &p.alice, &SignOptions::default()).expect("sign");
    let mut hostile = b"From: \xe9\xff@example.test\r\n".to_vec();
    let cut = signed
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("first line");
    hostile.extend_from_slice(&signed[cut + 2..]);
    let r = open(&hostile).expect("opens").report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert!(
        r.warnings.iter().any(|w| w == "signer-mismatch"),
        "{:?}",
        r.warnings
    );
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    Node {
        tag,
        value: Value::Bytes(value.to_vec()),
    }
    .to_der()
}

#[test]
fn absurd_oids_and_integers() {
    // An OID whose last arc never ends, one of 100 000 arcs, one arc of 1 000 bytes.
    let never_ending = vec![0x81u8; 100_000];
    let many_arcs: Vec<u8> = std::iter::once(0x2a)
        .chain(std::iter::repeat_n(0x01, 100_000))
        .collect();
    let mut huge_arc = vec![0x2a];
    huge_arc.extend(std::iter::repeat_n(0xffu8, 1_000));
    huge_arc.push(0x7f);
    for oid in [never_ending, many_arcs, huge_arc] {
        let ci = Node {
            tag: 0x30,
            value: Value::Children(vec![
                Node::parse(&tlv(0x06, &oid)),
                Node::parse(&[0xA0, 0x02, 0x05, 0x00]),
            ]),
        }
        .to_der();
        match ContentInfo::from_ber(&ci) {
            Err(_) => {}
            Ok(c) => assert!(
                !matches!(c.kind(), mss_cms::content::ContentType::SignedData),
                "an absurd OID is no known content type"
            ),
        }
        let e = open(&ci).expect_err("absurd OID");
        assert!(is_typed_malformed(&e), "{e:?}");
    }
    // A SignedData whose version INTEGER is a megabyte, and whose signer serial is 100 kB.
    let der = alice_opaque_der();
    let mut ci = Node::parse(&der);
    *tree::signed_data::body(&mut ci).children_mut()[0].bytes_mut() = vec![0x7f; 1 << 20];
    let e = open(&ci.to_der()).expect_err("huge version");
    assert!(is_typed_malformed(&e), "{e:?}");
    let mut ci = Node::parse(&der);
    let sid = tree::signed_data::sid(&mut ci);
    *sid.children_mut()[1].bytes_mut() = vec![0x01; 100_000];
    match open(&ci.to_der()) {
        Err(e) => assert!(is_typed_malformed(&e), "{e:?}"),
        Ok(o) => assert!(!o.report.all_signatures_valid()),
    }
    let sd = ContentInfo::from_ber(&ci.to_der())
        .ok()
        .and_then(|c| signed::parse(&c.content).ok());
    if let Some(sd) = sd {
        for r in signed::verify(&sd, None, &[], &mss::StandardPolicy) {
            assert!(r.outcome.is_err());
        }
    }
}

/// Alice's certificate re-encoded with `n` extra (private, non-critical) extensions.
fn with_extensions(cert_der: &[u8], n: usize) -> Node {
    let mut cert = Node::parse(cert_der);
    let tbs = &mut cert.children_mut()[0];
    let exts = tbs
        .children_mut()
        .iter_mut()
        .find(|c| c.tag == 0xA3)
        .expect("v3 extensions");
    let list = exts.children_mut()[0].children_mut();
    for i in 0..n {
        // 1.3.6.1.4.1.99999.i
        let mut oid = vec![0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f];
        let mut arc = Vec::new();
        let mut v = i as u32;
        arc.push((v & 0x7f) as u8);
        v >>= 7;
        while v > 0 {
            arc.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        arc.reverse();
        oid.extend_from_slice(&arc);
        list.push(Node {
            tag: 0x30,
            value: Value::Children(vec![
                Node::parse(&tlv(0x06, &oid)),
                Node::parse(&tlv(0x04, &[0x05, 0x00])),
            ]),
        });
    }
    cert
}

#[test]
fn a_certificate_with_ten_thousand_extensions() {
    use der::{Decode, Encode};
    let p = pki();
    let alice_der = p.alice.certificate().to_der().expect("DER");
    let big = with_extensions(&alice_der, 10_000).to_der();
    // It decodes (it is well-formed DER), and every check on it returns.
    if let Ok(c) = Certificate::from_der(&big) {
        assert!(
            mss_pki::verify_path(
                &c,
                &[],
                &anchors(),
                std::time::SystemTime::now(),
                &mss::StandardPolicy
            )
            .is_err()
        );
        let _ = mss_pki::check_smime_signer(&c);
        let _ = mss::certificate_email(&c);
    }
    // Swapped into a signed message: the signature still verifies with the key, but the
    // certificate's own signature no longer does, so the signer is never valid.
    let der = alice_opaque_der();
    let mut ci = Node::parse(&der);
    let certs = tree::signed_data::certificates(&mut ci).expect("certificates");
    let alice_node = Node::parse(&alice_der);
    let slot = certs
        .iter_mut()
        .find(|c| **c == alice_node)
        .expect("Alice's certificate");
    *slot = Node::parse(&big);
    let msg = mime::build_pkcs7_mime(&Headers::default(), "signed-data", &ci.to_der());
    match open(&msg) {
        Ok(o) => {
            assert_eq!(o.report.signatures.len(), 1);
            assert_ne!(o.report.signatures[0].status, SignatureStatus::Valid);
        }
        Err(e) => assert!(is_typed_malformed(&e), "{e:?}"),
    }
}
