//! RFC 4134's CRLs: X.509 v1 CRLs (no version field) issued by Carl, RSA and DSA.
//! They decode, their signatures verify over the bytes Carl signed, and they revoke
//! what they say.

use std::time::Duration;

use der::Decode;
use mss_algs::policy::{LegacyPolicy, Policy, StandardPolicy};
use mss_pki::{ValidationError, ValidationOptions, Validator, decode_crl};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

fn read(name: &str) -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/rfc4134/"
    );
    std::fs::read(format!("{dir}{name}")).unwrap_or_else(|e| {
        panic!("shared vector {name} missing ({e}): the tests need ../shared/vectors")
    })
}

fn cert(name: &str) -> Certificate {
    Certificate::from_der(&read(name)).unwrap()
}

fn crl(name: &str) -> CertificateList {
    decode_crl(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn carl_crls_decode_as_v1() {
    for name in [
        "CarlDSSCRLEmpty.crl",
        "CarlDSSCRLForAll.crl",
        "CarlDSSCRLForCarl.crl",
        "CarlRSACRLEmpty.crl",
        "CarlRSACRLForAll.crl",
        "CarlRSACRLForCarl.crl",
    ] {
        let c = crl(name);
        assert_eq!(c.tbs_cert_list.version, x509_cert::Version::V1, "{name}");
        assert!(
            c.tbs_cert_list.issuer.to_string().contains("Carl"),
            "{name}"
        );
        let revoked = c
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map_or(0, Vec::len);
        match name {
            n if n.contains("Empty") => assert_eq!(revoked, 0, "{name}"),
            _ => assert!(revoked > 0, "{name}"),
        }
    }
}

fn check(
    leaf: &str,
    anchor: &str,
    crl_name: &str,
    policy: &dyn Policy,
) -> Result<(), ValidationError> {
    let leaf = cert(leaf);
    let anchors = [cert(anchor)];
    let crls = [crl(crl_name)];
    let v = leaf.tbs_certificate().validity();
    // After the CRLs' thisUpdate (20 August 1999).
    let during = v.not_before.to_system_time() + Duration::from_secs(30 * 24 * 3600);
    let opts = ValidationOptions::at(during).with_crls(&crls);
    Validator::new(&anchors, &[], opts, policy)
        .build(&leaf)
        .map(|_| ())
}

/// Carl's RSA CRLs are signed with md5WithRSAEncryption: only the legacy policy accepts
/// them; the standard one cannot tell the revocation status.
#[test]
fn carl_rsa_crls_revoke_what_they_list() {
    let r = check(
        "AliceRSASignByCarl.cer",
        "CarlRSASelf.cer",
        "CarlRSACRLEmpty.crl",
        &LegacyPolicy,
    );
    assert!(r.is_ok(), "{r:?}");
    let r = check(
        "AliceRSASignByCarl.cer",
        "CarlRSASelf.cer",
        "CarlRSACRLForAll.crl",
        &LegacyPolicy,
    );
    assert!(matches!(r, Err(ValidationError::Revoked { .. })), "{r:?}");
    let r = check(
        "AliceRSASignByCarl.cer",
        "CarlRSASelf.cer",
        "CarlRSACRLEmpty.crl",
        &StandardPolicy,
    );
    assert!(
        matches!(r, Err(ValidationError::RevocationUnknown { .. })),
        "{r:?}"
    );
}

/// Carl's DSA CRLs (dsa-with-sha1), for Alice's DSA certificate.
#[test]
fn carl_dss_crls_revoke_what_they_list() {
    let r = check(
        "AliceDSSSignByCarlNoInherit.cer",
        "CarlDSSSelf.cer",
        "CarlDSSCRLEmpty.crl",
        &StandardPolicy,
    );
    assert!(r.is_ok(), "{r:?}");
    let r = check(
        "AliceDSSSignByCarlNoInherit.cer",
        "CarlDSSSelf.cer",
        "CarlDSSCRLForAll.crl",
        &StandardPolicy,
    );
    assert!(matches!(r, Err(ValidationError::Revoked { .. })), "{r:?}");
}

#[test]
fn a_crl_with_a_broken_signature_is_not_used() {
    let mut der = read("CarlRSACRLEmpty.crl");
    let last = der.len() - 1;
    der[last] ^= 1;
    let broken = decode_crl(&der).unwrap();
    let leaf = cert("AliceRSASignByCarl.cer");
    let anchors = [cert("CarlRSASelf.cer")];
    let crls = [broken];
    let during = leaf
        .tbs_certificate()
        .validity()
        .not_before
        .to_system_time()
        + Duration::from_secs(3600);
    let opts = ValidationOptions::at(during).with_crls(&crls);
    let r = Validator::new(&anchors, &[], opts, &LegacyPolicy).build(&leaf);
    assert!(
        matches!(r, Err(ValidationError::RevocationUnknown { .. })),
        "{r:?}"
    );
}
