//! The bodies of the fuzz targets, shared by `cargo fuzz` (nightly, `fuzz/fuzz_targets/`)
//! and by the stable replay test `tests/tests/fuzz_replay.rs`, which includes this file
//! by path and runs every corpus and crash file through the same functions.
//!
//! Each body must return for any input (an `Err` is a fine outcome); a panic, a hang or
//! an unbounded allocation is a finding.

use std::sync::OnceLock;

use der::Decode;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::mime::{self, SmimeEntity};
use mss_cms::{ber, enveloped, signed};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;

/// A target body.
pub type Body = fn(&[u8]);

/// The targets, by the name of their `fuzz/fuzz_targets/<name>.rs` file and corpus folder.
pub const TARGETS: &[(&str, Body)] = &[
    ("cms", cms),
    ("mime", mime_parse),
    ("x509", x509),
    ("pkcs12", pkcs12),
    ("open", open),
];

/// BER normaliser, ContentInfo, SignedData parse + verify, EnvelopedData decrypt attempt.
pub fn cms(data: &[u8]) {
    let _ = ber::normalize(data);
    let Ok(ci) = ContentInfo::from_ber(data) else {
        return;
    };
    match ci.kind() {
        ContentType::SignedData => {
            if let Ok(sd) = signed::parse(&ci.content) {
                let _ = signed::verify(&sd, None, &[], &mss_algs::policy::LegacyPolicy);
                let _ = signed::verify(&sd, Some(b"x"), &[], &mss_algs::policy::StandardPolicy);
            }
        }
        ContentType::EnvelopedData | ContentType::AuthEnvelopedData => {
            let keys: [&dyn mss_algs::keys::DecryptionKey; 1] = [bob()];
            let _ = enveloped::decrypt_with(&ci, &keys, &[], &mss_algs::policy::LegacyPolicy);
        }
        _ => {
            let _ = ci.data_content();
        }
    }
}

/// Header parsing, S/MIME classification, multipart splitting (recursively, bounded by
/// the MIME layer's own caps), transfer decoding and canonicalisation.
pub fn mime_parse(data: &[u8]) {
    let _ = mime::classify(data);
    let _ = mime::split_draft(data);
    walk(data, 0);
}

fn walk(entity: &[u8], depth: usize) {
    if depth > mime::MAX_DEPTH {
        return;
    }
    let (h, body) = mime::split_header_body(entity);
    let Ok(headers) = mime::Headers::parse(h) else {
        return;
    };
    let _ = headers.get("Subject").map(|s| mime::decode_rfc2047(&s));
    let ct = headers.content_type();
    let cte = headers.get("Content-Transfer-Encoding");
    let _ = mime::decode_transfer_encoding(body, cte.as_deref());
    let _ = mime::canonicalize(body);
    if let Ok((_, SmimeEntity::MultipartSigned { signed_part, .. })) = mime::classify(entity) {
        let _ = mime::canonicalize(&signed_part);
    }
    if let Some(boundary) = ct.param("boundary")
        && let Ok(parts) = mime::split_multipart(body, boundary)
    {
        for p in parts {
            walk(&p, depth + 1);
        }
    }
}

/// X.509 certificate (and what the product reads from one) and CRL decoding.
pub fn x509(data: &[u8]) {
    if let Ok(cert) = Certificate::from_der(data) {
        let _ = mss::certificate_email(&cert);
        let _ = mss_token::cps_identity(&cert);
        let _ = mss_pki::check_smime_signer(&cert);
        let _ = mss_pki::verify_path(
            &cert,
            &[],
            &[carl()],
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            &mss_algs::policy::LegacyPolicy,
        );
    }
    let _ = mss_pki::decode_crl(data);
}

/// The password of the PKCS#12 seeds.
pub const PKCS12_PASSWORD: &str = "mss-test-pin";

/// PKCS#12 parsing and decryption with the seeds' password, then the identity loader
/// (which also reads PEM-wrapped PFX and PEM key + certificate files).
pub fn pkcs12(data: &[u8]) {
    let _ = mss_token::pkcs12::parse(data, PKCS12_PASSWORD);
    let pin = mss_token::FixedPin::new(PKCS12_PASSWORD);
    let _ = SoftwareIdentity::load_bytes(data, "fuzz", &pin);
}

/// `mss::open` end to end, with Bob's RFC 4134 key and Carl's certificate as anchor.
pub fn open(data: &[u8]) {
    let opts = mss::OpenOptions {
        keys: vec![bob()],
        trust_anchors: vec![carl()],
        policy: &mss::LegacyPolicy,
        time: Some(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        ),
        ..Default::default()
    };
    let _ = mss::open(data, &opts);
}

const BOB_KEY: &[u8] = include_bytes!("../../../shared/vectors/rfc4134/BobPrivRSAEncrypt.pri");
const BOB_CERT: &[u8] = include_bytes!("../../../shared/vectors/rfc4134/BobRSASignByCarl.cer");
const CARL: &[u8] = include_bytes!("../../../shared/vectors/rfc4134/CarlRSASelf.cer");

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn bob() -> &'static SoftwareIdentity {
    static BOB: OnceLock<SoftwareIdentity> = OnceLock::new();
    BOB.get_or_init(|| {
        let text = format!(
            "{}{}",
            pem("PRIVATE KEY", BOB_KEY),
            pem("CERTIFICATE", BOB_CERT)
        );
        SoftwareIdentity::from_pem(&text, None).expect("Bob's RFC 4134 identity")
    })
}

fn carl() -> Certificate {
    Certificate::from_der(CARL).expect("Carl's RFC 4134 certificate")
}
