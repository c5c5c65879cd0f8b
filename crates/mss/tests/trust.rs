//! Trust in `mss::open`: revocation through a real OCSP responder (`openssl ocsp`), a
//! CRL given by the caller or carried by the message, soft and hard fail, validation
//! at a given time or at the signing time; what the report (and its JSON) says.

#[path = "../../mss-pki/tests/support/pki.rs"]
mod pki;

use std::time::{Duration, SystemTime};

use mss::trust::HttpFetcher;
use mss::{OpenOptions, RevocationMode, RevocationState, SignOptions, SignatureStatus, TimeSource};
use mss_cms::mime::{self, SmimeEntity};
use mss_token::SoftwareIdentity;
use pki::Pki;

const DRAFT: &[u8] = b"From: good <good@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: trust\r\n\r\nHello.\r\n";

fn identity(pki: &Pki, name: &str) -> SoftwareIdentity {
    let key = std::fs::read_to_string(pki.path(&format!("{name}.key"))).unwrap();
    let cert = std::fs::read_to_string(pki.path(&format!("{name}.crt"))).unwrap();
    SoftwareIdentity::from_pem(&format!("{key}{cert}"), None).unwrap()
}

/// A bare (DER) opaque signed message by `name`.
fn signed_der(pki: &Pki, name: &str) -> Vec<u8> {
    let id = identity(pki, name);
    let msg = mss::sign(
        DRAFT,
        &id,
        &SignOptions {
            opaque: true,
            ..Default::default()
        },
    )
    .unwrap();
    match mime::classify(&msg).unwrap().1 {
        SmimeEntity::Pkcs7Mime { der, .. } => der,
        _ => panic!("not opaque"),
    }
}

/// `(header length, content length)` of a definite-length DER element.
fn header(d: &[u8]) -> (usize, usize) {
    match d[1] {
        l if l < 0x80 => (2, l as usize),
        l => {
            let n = (l & 0x7f) as usize;
            (
                2 + n,
                d[2..2 + n].iter().fold(0, |a, b| (a << 8) | *b as usize),
            )
        }
    }
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let b = len.to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// The message with `crl` added to the SignedData `crls [1]` (before signerInfos;
/// the signature does not cover that field).
fn with_crl(ci: &[u8], crl: &[u8]) -> Vec<u8> {
    let (h, _) = header(ci);
    let body = &ci[h..];
    let (oh, ol) = header(body);
    let oid = &body[..oh + ol];
    let explicit = &body[oh + ol..];
    let (eh, _) = header(explicit);
    let sd = &explicit[eh..];
    let (sh, _) = header(sd);
    let mut fields = Vec::new();
    let mut rest = &sd[sh..];
    while !rest.is_empty() {
        let (fh, fl) = header(rest);
        fields.push(&rest[..fh + fl]);
        rest = &rest[fh + fl..];
    }
    let signer_infos = fields.pop().unwrap();
    let mut new_sd = fields.concat();
    new_sd.extend(tlv(0xA1, crl));
    new_sd.extend_from_slice(signer_infos);
    let mut ci_body = oid.to_vec();
    ci_body.extend(tlv(0xA0, &tlv(0x30, &new_sd)));
    tlv(0x30, &ci_body)
}

fn open<'a>(msg: &[u8], pki: &Pki, tune: impl FnOnce(&mut OpenOptions<'a>)) -> mss::Report {
    let mut opts = OpenOptions {
        trust_anchors: vec![pki.cert("ca")],
        ..Default::default()
    };
    tune(&mut opts);
    mss::open(msg, &opts).unwrap().report
}

#[test]
fn ocsp_answers_for_the_signer_and_the_report_says_so() {
    let pki = Pki::new();
    let http = HttpFetcher::default();
    let _responder = pki.responder("responder", pki.ocsp_port);

    let r = open(&signed_der(&pki, "good"), &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Ocsp);
        o.revocation.ocsp = Some(&http);
    });
    let s = &r.signatures[0];
    assert_eq!(s.status, SignatureStatus::Valid, "{:?}", s.detail);
    assert_eq!(s.chain.len(), 2);
    assert!(s.chain[0].contains("CN=good") && s.chain[1].contains("CN=mss test CA"));
    assert_eq!(s.revocation.len(), 1);
    assert_eq!(s.revocation[0].status, RevocationState::Good);
    assert_eq!(s.revocation[0].source, "ocsp");
    assert_eq!(s.validation_time_source, Some(TimeSource::Now));
    let json = r.to_json();
    let js = &json["signatures"][0];
    assert_eq!(js["revocation"][0]["source"], "ocsp");
    assert_eq!(js["revocation"][0]["status"], "good");
    assert_eq!(js["validation_time_source"], "now");
    assert_eq!(js["chain"].as_array().unwrap().len(), 2);

    let r = open(&signed_der(&pki, "revoked"), &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Ocsp);
        o.revocation.ocsp = Some(&http);
    });
    let s = &r.signatures[0];
    assert_eq!(s.status, SignatureStatus::Revoked);
    assert!(s.detail.as_deref().unwrap().contains("KeyCompromise"));
    assert_eq!(s.revocation[0].status, RevocationState::Revoked);
    assert_eq!(s.revocation[0].source, "ocsp");
    assert!(s.chain.is_empty());

    // Unknown to the responder: hard fail (untrusted), soft fail (valid, reported).
    let unknown = signed_der(&pki, "unknown");
    let r = open(&unknown, &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Ocsp);
        o.revocation.ocsp = Some(&http);
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Untrusted);
    assert_eq!(
        r.signatures[0].revocation[0].status,
        RevocationState::Unknown
    );
    let r = open(&unknown, &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Ocsp);
        o.revocation.ocsp = Some(&http);
        o.revocation.soft_fail = true;
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert_eq!(
        r.signatures[0].revocation[0].status,
        RevocationState::Unknown
    );
    assert_eq!(r.signatures[0].revocation[0].source, "none");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("revocation-unknown"))
    );
}

#[test]
fn crls_from_the_caller_or_the_message() {
    let pki = Pki::new();
    let crl_der = std::fs::read(pki.path("ca.crl")).unwrap();
    let revoked = signed_der(&pki, "revoked");
    // Off by default: the revoked signer passes (nothing checked, nothing claimed).
    let r = open(&revoked, &pki, |_| {});
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert!(r.signatures[0].revocation.is_empty());
    // The caller's CRL.
    let r = open(&revoked, &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Crl);
        o.revocation.crls = vec![pki.crl()];
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Revoked);
    assert_eq!(r.signatures[0].revocation[0].source, "crl");
    // The same CRL carried by the message.
    let r = open(&with_crl(&revoked, &crl_der), &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Crl);
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Revoked);
    let good = with_crl(&signed_der(&pki, "good"), &crl_der);
    let r = open(&good, &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Crl)
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert_eq!(r.signatures[0].revocation[0].source, "crl");
    // Without it, and no fetcher: the status cannot be had (hard fail).
    let r = open(&signed_der(&pki, "good"), &pki, |o| {
        o.revocation.mode = Some(RevocationMode::Crl)
    });
    assert_eq!(r.signatures[0].status, SignatureStatus::Untrusted);
    assert!(
        r.signatures[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("unknown")
    );
}

#[test]
fn validation_at_a_given_time_or_the_signing_time() {
    let pki = Pki::new();
    let msg = signed_der(&pki, "good");
    // Two years on, the certificate (one year) has expired...
    let later = SystemTime::now() + Duration::from_secs(2 * 365 * 86_400);
    let r = open(&msg, &pki, |o| o.time = Some(later));
    assert_eq!(r.signatures[0].status, SignatureStatus::Expired);
    assert_eq!(
        r.signatures[0].validation_time_source,
        Some(TimeSource::Given)
    );
    // ...but it was valid when the message was signed: said so in the report.
    let r = open(&msg, &pki, |o| {
        o.time = Some(later);
        o.at_signing_time = true;
    });
    let s = &r.signatures[0];
    assert_eq!(s.status, SignatureStatus::Valid, "{:?}", s.detail);
    assert_eq!(s.validation_time_source, Some(TimeSource::SigningTime));
    assert_eq!(s.validation_time, s.signing_time);
    assert_eq!(
        r.to_json()["signatures"][0]["validation_time_source"],
        "signing-time"
    );
}
