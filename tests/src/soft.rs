//! A small in-memory PKI made with `mss_token::ca` (no external tool): a CA, Alice and
//! Bob (RSA-2048, S/MIME profile, `NAME@example.test`), generated once per test binary.
//! For the tests that need real signatures but no peer (hostile input, properties).

use std::sync::OnceLock;

use mss_token::SoftwareIdentity;
use mss_token::ca::{CertificateAuthority, PersonProfile};

/// The CA and its two users.
pub struct SoftPki {
    /// The certificate authority (its certificate is the trust anchor).
    pub ca: CertificateAuthority,
    /// `alice@example.test`.
    pub alice: SoftwareIdentity,
    /// `bob@example.test`.
    pub bob: SoftwareIdentity,
}

/// The PKI of this test binary, made on first use.
pub fn soft_pki() -> &'static SoftPki {
    static PKI: OnceLock<SoftPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = CertificateAuthority::new("mss-tests soft CA", 2048).expect("CA");
        let alice = ca
            .issue(&PersonProfile::new("Alice", "alice@example.test"))
            .expect("alice");
        let bob = ca
            .issue(&PersonProfile::new("Bob", "bob@example.test"))
            .expect("bob");
        SoftPki { ca, alice, bob }
    })
}
