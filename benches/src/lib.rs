//! Fixtures of the mss benchmarks (`benches/throughput.rs`, run with
//! `cargo bench -p mss-benches`): keys from the test CA of `mss-token` and drafts of a
//! given size. The side-by-side with OpenSSL is `benches/compare-openssl.sh`.
#![forbid(unsafe_code)]

use mss_cms::mime::Headers;
use mss_token::SoftwareIdentity;
use mss_token::ca::{CertificateAuthority, PersonProfile};

/// The bench keys: a CA and two people issued by it (RSA-2048).
pub struct Keys {
    /// The CA, trust anchor of the opens.
    pub ca: CertificateAuthority,
    /// The signer.
    pub alice: SoftwareIdentity,
    /// The recipient.
    pub bob: SoftwareIdentity,
}

/// A fresh CA with Alice and Bob. Panics if the test CA fails (a broken build).
pub fn keys() -> Keys {
    let ca = CertificateAuthority::new("Bench CA", 2048).expect("CA");
    let alice = ca
        .issue(&PersonProfile::new("Alice", "alice@example.test"))
        .expect("alice");
    let bob = ca
        .issue(&PersonProfile::new("Bob", "bob@example.test"))
        .expect("bob");
    Keys { ca, alice, bob }
}

/// A draft with a base64 body of `len` pseudo-random bytes (already 7-bit: the
/// in-memory and streaming paths protect the same entity).
pub fn draft(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let body: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut d = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: bench\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    d.extend_from_slice(&mss_cms::mime::encode_base64_lines(&body));
    d
}

/// The inner entity of `draft` (Content-* fields and body) and its outer fields.
pub fn split(d: &[u8]) -> (Headers, Vec<u8>) {
    let mut input = d;
    let (outer, mut entity) = mss::stream::draft_stream(&mut input).expect("draft");
    let mut v = Vec::new();
    std::io::copy(&mut entity, &mut v).expect("entity");
    (outer, v)
}
