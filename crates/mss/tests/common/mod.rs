//! Fixtures shared by the facade's integration tests (`mod common;`): one test CA with
//! software identities for Alice and Bob (Carol and an unrelated CA on demand, each
//! generated once per test binary), and the usual ways to open with them.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::OnceLock;

use mss::{Certificate, DecryptionKey, OpenOptions, Opened};

#[path = "../../../../tests/src/stream_alike.rs"]
mod stream_alike;
use mss_token::SoftwareIdentity;
use mss_token::ca::{CertificateAuthority, PersonProfile};
pub use stream_alike::assert_streams_alike;

/// The test CA and the identities it issued.
pub struct Pki {
    /// The trusted CA.
    pub ca: CertificateAuthority,
    /// alice@example.test.
    pub alice: SoftwareIdentity,
    /// bob@example.test.
    pub bob: SoftwareIdentity,
}

/// The shared test PKI (created on first use).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = CertificateAuthority::new("Facade Test CA", 2048).expect("CA");
        let alice = ca
            .issue(&PersonProfile::new("Alice", "alice@example.test"))
            .expect("alice");
        let bob = ca
            .issue(&PersonProfile::new("Bob", "bob@example.test"))
            .expect("bob");
        Pki { ca, alice, bob }
    })
}

/// carol@example.test, issued by the same CA as Alice and Bob.
pub fn carol() -> &'static SoftwareIdentity {
    static CAROL: OnceLock<SoftwareIdentity> = OnceLock::new();
    CAROL.get_or_init(|| {
        pki()
            .ca
            .issue(&PersonProfile::new("Carol", "carol@example.test"))
            .expect("carol")
    })
}

/// A CA that issued none of the identities (not a trust anchor for them).
pub fn other_ca() -> &'static CertificateAuthority {
    static OTHER: OnceLock<CertificateAuthority> = OnceLock::new();
    OTHER.get_or_init(|| CertificateAuthority::new("Elsewhere CA", 2048).expect("CA"))
}

/// The test CA's certificate as the only trust anchor.
pub fn anchors() -> Vec<Certificate> {
    vec![pki().ca.certificate().clone()]
}

/// An identity's certificate.
pub fn cert(id: &SoftwareIdentity) -> Certificate {
    mss::SigningKey::certificate(id).clone()
}

/// The decryption keys: this identity's, or none.
pub fn keys(key: Option<&SoftwareIdentity>) -> Vec<&dyn DecryptionKey> {
    key.into_iter().map(|k| k as &dyn DecryptionKey).collect()
}

/// Open options with `key` (if any) and the test CA as trust anchor.
pub fn open_options(key: Option<&SoftwareIdentity>) -> OpenOptions<'_> {
    OpenOptions {
        keys: keys(key),
        trust_anchors: anchors(),
        ..Default::default()
    }
}

/// Open `msg` with `key` (if any) and these trust anchors; panics when opening fails.
/// Every message opened so is also opened while streaming
/// ([`assert_streams_alike`]).
pub fn open_with(msg: &[u8], key: Option<&SoftwareIdentity>, anchors: Vec<Certificate>) -> Opened {
    let opts = OpenOptions {
        keys: keys(key),
        trust_anchors: anchors,
        ..Default::default()
    };
    let opened = mss::open(msg, &opts).expect("open");
    assert_streams_alike(msg, opts);
    opened
}

/// Open `msg` with `key` (if any), trusting the test CA; panics when opening fails.
pub fn open_as(msg: &[u8], key: Option<&SoftwareIdentity>) -> Opened {
    open_with(msg, key, anchors())
}

/// `draft` signed by Alice and encrypted to Bob, with the default options.
pub fn alice_to_bob(draft: &[u8]) -> Vec<u8> {
    let p = pki();
    mss::sign_and_encrypt(
        draft,
        &p.alice,
        &[cert(&p.bob)],
        None,
        &mss::EncryptOptions::default(),
    )
    .expect("sign and encrypt")
}
