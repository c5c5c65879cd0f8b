//! Path building and validation verdicts.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::Decode;
use mss_algs::policy::StandardPolicy;
use mss_pki::{PathError, check_smime_recipient, check_smime_signer, verify_path};
use mss_token::ca::{CertificateAuthority, KeyUsageProfile, PersonProfile};
use x509_cert::Certificate;

struct Fixture {
    ca: CertificateAuthority,
    other: CertificateAuthority,
    leaf: Certificate,
    sign_only: Certificate,
    encrypt_only: Certificate,
}

fn fx() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ca = CertificateAuthority::new("Paths CA", 2048).unwrap();
        let other = CertificateAuthority::new("Paths CA", 2048).unwrap(); // same name, other key
        let leaf = ca
            .issue(&PersonProfile::new("Leaf", "leaf@example.test"))
            .unwrap()
            .certificate()
            .clone();
        let mut p = PersonProfile::new("Signer", "s@example.test");
        p.usage = KeyUsageProfile::SignOnly;
        let sign_only = ca.issue(&p).unwrap().certificate().clone();
        p.usage = KeyUsageProfile::EncryptOnly;
        let encrypt_only = ca.issue(&p).unwrap().certificate().clone();
        Fixture {
            ca,
            other,
            leaf,
            sign_only,
            encrypt_only,
        }
    })
}

#[test]
fn chains_to_its_anchor() {
    let f = fx();
    let path = verify_path(
        &f.leaf,
        &[],
        &[f.ca.certificate().clone()],
        SystemTime::now(),
        &StandardPolicy,
    )
    .unwrap();
    assert_eq!(path.chain().len(), 2);
    assert_eq!(path.chain()[1], *f.ca.certificate());
}

#[test]
fn same_name_other_key_is_untrusted_and_the_right_one_is_found_among_both() {
    let f = fx();
    let err = verify_path(
        &f.leaf,
        &[],
        &[f.other.certificate().clone()],
        SystemTime::now(),
        &StandardPolicy,
    )
    .unwrap_err();
    assert!(matches!(err, PathError::Untrusted(_)), "{err}");
    // Both anchors share the subject name: the builder must try both.
    let anchors = [f.other.certificate().clone(), f.ca.certificate().clone()];
    assert!(verify_path(&f.leaf, &[], &anchors, SystemTime::now(), &StandardPolicy).is_ok());
}

#[test]
fn outside_validity_is_expired() {
    let f = fx();
    let anchors = [f.ca.certificate().clone()];
    let later = SystemTime::now() + Duration::from_secs(400 * 24 * 3600);
    assert!(matches!(
        verify_path(&f.leaf, &[], &anchors, later, &StandardPolicy),
        Err(PathError::Expired { .. })
    ));
    let before = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    assert!(matches!(
        verify_path(&f.leaf, &[], &anchors, before, &StandardPolicy),
        Err(PathError::Expired { .. })
    ));
}

#[test]
fn an_end_entity_is_never_an_issuer() {
    let f = fx();
    // The leaf cannot vouch for anything: a chain through it fails.
    let err = verify_path(
        &f.sign_only,
        std::slice::from_ref(&f.leaf),
        &[],
        SystemTime::now(),
        &StandardPolicy,
    )
    .unwrap_err();
    assert!(matches!(err, PathError::Untrusted(_)));
}

#[test]
fn smime_usage_checks() {
    let f = fx();
    assert!(check_smime_signer(&f.leaf).is_ok());
    assert!(check_smime_recipient(&f.leaf).is_ok());
    assert!(check_smime_signer(&f.sign_only).is_ok());
    assert!(matches!(
        check_smime_recipient(&f.sign_only),
        Err(PathError::WrongUsage { .. })
    ));
    assert!(matches!(
        check_smime_signer(&f.encrypt_only),
        Err(PathError::WrongUsage { .. })
    ));
    assert!(check_smime_recipient(&f.encrypt_only).is_ok());
}

#[test]
fn many_same_named_candidates_hit_the_budget_not_the_cpu() {
    let f = fx();
    // 80 distinct certificates all named like the issuer, none of which signed the leaf.
    let decoys: Vec<Certificate> = (0..80)
        .map(|_| CertificateAuthority::new("Paths CA", 1024).map(|c| c.certificate().clone()))
        .collect::<Result<_, _>>()
        .unwrap();
    let err = verify_path(&f.leaf, &decoys, &[], SystemTime::now(), &StandardPolicy).unwrap_err();
    assert_eq!(err, PathError::Budget);
}

fn rfc4134(name: &str) -> Certificate {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/rfc4134/"
    );
    let data = std::fs::read(format!("{dir}{name}")).unwrap_or_else(|e| {
        panic!("shared vector {name} missing ({e}): the tests need ../shared/vectors")
    });
    Certificate::from_der(&data).unwrap()
}

#[test]
fn rfc4134_alice_chains_to_carl_with_a_weak_algorithm_warning() {
    let carl = rfc4134("CarlRSASelf.cer");
    let alice = rfc4134("AliceRSASignByCarl.cer");
    let v = alice.tbs_certificate().validity();
    let during = v.not_before.to_system_time() + Duration::from_secs(3600);
    let path = verify_path(&alice, &[], &[carl], during, &StandardPolicy).unwrap();
    assert!(
        path.warnings().iter().any(|w| w.contains("sha1")),
        "{:?}",
        path.warnings()
    );
}
