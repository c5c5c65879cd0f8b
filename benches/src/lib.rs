//! Fixtures of the mss benchmarks (`benches/throughput.rs`, run with
//! `cargo bench -p mss-benches`): drafts of a given size. The keys are those of the
//! cross-crate tests (`mss_tests::soft::soft_pki`: a test CA, Alice and Bob,
//! RSA-2048). The side-by-side with OpenSSL is `benches/compare-openssl.sh`.
#![forbid(unsafe_code)]

use mss_cms::mime::Headers;

/// A draft with a base64 body of `len` pseudo-random bytes (already 7-bit: the
/// in-memory and streaming paths protect the same entity).
pub fn draft(len: usize) -> Vec<u8> {
    let body = mss_tests::pseudo_random(len);
    let mut d = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: bench\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    d.extend_from_slice(&mss_cms::mime::encode_base64_lines(&body));
    d
}

/// The inner entity of `draft` (Content-* fields and body) and its outer fields.
/// Panics if `d` is not a draft (a broken fixture).
pub fn split(d: &[u8]) -> (Headers, Vec<u8>) {
    let mut input = d;
    let (outer, mut entity) = mss::stream::draft_stream(&mut input).expect("draft");
    let mut v = Vec::new();
    std::io::copy(&mut entity, &mut v).expect("entity");
    (outer, v)
}
