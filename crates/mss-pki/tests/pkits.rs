//! NIST PKITS (v1.0.1 data): every record of `expected.json` through the RFC 5280
//! validator, with the record's CRLs and initial policy settings.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::Decode;
use mss_algs::policy::StandardPolicy;
use mss_pki::{ValidationOptions, Validator};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/pkits/"
);

fn read(kind: &str, name: &str, ext: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{kind}/{name}.{ext}")).unwrap_or_else(|e| {
        panic!("PKITS vector {name} missing ({e}): the tests need ../shared/vectors")
    })
}

fn policy_set(s: &str) -> Vec<ObjectIdentifier> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p {
            "anyPolicy" => ObjectIdentifier::new_unwrap("2.5.29.32.0"),
            p => {
                let n = p
                    .strip_prefix("NIST-test-policy-")
                    .unwrap_or_else(|| panic!("unknown policy name {p}"));
                ObjectIdentifier::new(&format!("2.16.840.1.101.3.2.1.48.{n}")).unwrap()
            }
        })
        .collect()
}

/// The failure reasons that fit each PKITS section (a failing record must fail for a
/// reason of its section, not by accident).
fn reason_fits(section: &str, kind: &str) -> bool {
    let fits: &[&str] = match section {
        "1" => &["BadSignature"],
        "2" => &["Expired"],
        "3" => &["NoIssuer", "NameChaining"],
        "4" | "5" | "14" | "15" => &["Revoked", "RevocationUnknown", "NotACa"],
        "6" | "7" => &["NotACa", "RevocationUnknown"],
        "8" | "9" | "10" | "11" | "12" => &["Policy"],
        "13" => &["NameConstraints"],
        "16" => &["UnknownCriticalExtension"],
        _ => &[],
    };
    fits.contains(&kind)
}

#[test]
fn pkits() {
    let json = std::fs::read_to_string(format!("{DIR}expected.json")).unwrap();
    let records: serde_json::Value = serde_json::from_str(&json).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 249);
    // 2012-01-01: inside every "good" validity period of the 2011 re-issue.
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_325_376_000);
    let mut failing = Vec::new();
    for r in records {
        let name = r["name"].as_str().unwrap();
        let should = r["should_validate"].as_bool().unwrap();
        // `decode_certificate` reads the 1950 UTCTime of 4.2.3 (x509-cert alone cannot).
        let certs: Result<Vec<Certificate>, der::Error> = r["certs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| mss_pki::decode_certificate(&read("certs", c.as_str().unwrap(), "crt")))
            .collect();
        let certs = match certs {
            Ok(c) => c,
            Err(e) => {
                if should {
                    println!("MISMATCH {name}: a certificate does not decode: {e}");
                    failing.push(name.to_owned());
                }
                continue;
            }
        };
        let crls: Vec<CertificateList> = r["crls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let n = c.as_str().unwrap();
                CertificateList::from_der(&read("crls", n, "crl"))
                    .unwrap_or_else(|e| panic!("CRL {n} does not decode: {e}"))
            })
            .collect();
        // The default budget (64 signature checks, CRLs included) is enough for PKITS.
        let mut opts = ValidationOptions::at(time).with_crls(&crls);
        if let Some(s) = r.get("SetInitialPolicySet").and_then(|v| v.as_str()) {
            opts.initial_policy_set = Some(policy_set(s));
        }
        opts.initial_explicit_policy = r
            .get("SetInitialExplicitPolicy")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        opts.initial_policy_mapping_inhibit = r
            .get("SetInitialPolicyMappingInhibit")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        opts.initial_any_policy_inhibit = r
            .get("SetInitialInhibitAnyPolicy")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let (anchor, rest) = certs.split_first().unwrap();
        let (leaf, pool) = rest.split_last().unwrap();
        let anchors = std::slice::from_ref(anchor);
        let v = Validator::new(anchors, pool, opts, &StandardPolicy);
        let got = v.build(leaf);
        let ok = got.is_ok() == should;
        if let Err(e) = &got {
            let section = r["test_number"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap();
            let kind = format!("{e:?}");
            let kind = kind.split([' ', '(', '{']).next().unwrap().to_owned();
            assert!(
                reason_fits(section, &kind),
                "{name}: failed for an unexpected reason: {e}"
            );
        }
        if !ok {
            println!(
                "MISMATCH {name} ({}): expected {should}, got {:?}",
                r["test_number"],
                got.as_ref().map(|p| p.policies().to_vec())
            );
            failing.push(name.to_owned());
        }
    }
    let passed = records.len() - failing.len();
    println!("PKITS: {passed}/{} records match", records.len());
    assert_eq!(failing, Vec::<String>::new(), "PKITS mismatches");
    assert_eq!(passed, 249);
}

#[test]
fn revocation_off_ignores_crls_and_the_chain_can_be_given() {
    let load = |n: &str| Certificate::from_der(&read("certs", n, "crt")).unwrap();
    let anchor = load("TrustAnchorRootCertificate");
    let ca = load("GoodCACert");
    let ee = load("InvalidRevokedEETest3EE");
    let crls: Vec<CertificateList> = ["TrustAnchorRootCRL", "GoodCACRL"]
        .iter()
        .map(|n| CertificateList::from_der(&read("crls", n, "crl")).unwrap())
        .collect();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_325_376_000);
    let anchors = [anchor.clone()];
    let chain = [ee.clone(), ca.clone(), anchor];
    let off = Validator::new(&anchors, &[], ValidationOptions::at(time), &StandardPolicy);
    let path = off.validate_chain(&chain).unwrap();
    assert_eq!(path.chain().len(), 3);
    let on = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(time).with_crls(&crls),
        &StandardPolicy,
    );
    assert!(matches!(
        on.validate_chain(&chain),
        Err(mss_pki::ValidationError::Revoked { .. })
    ));
    // Without the CA's CRL the status is unknown, which fails too.
    let on = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(time).with_crls(&crls[..1]),
        &StandardPolicy,
    );
    assert!(matches!(
        on.validate_chain(&chain),
        Err(mss_pki::ValidationError::RevocationUnknown { .. })
    ));
    // A chain that does not end at an anchor is refused.
    assert!(off.validate_chain(&chain[..2]).is_err());
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Validator<'static>>();
    send_sync::<mss_pki::VerifiedPath>();
}

/// The path reports which CRL answered: the complete CRL for the CA, the delta CRL
/// for the end entity of 4.15.2; 4.15.4's end entity is revoked by the delta CRL.
#[test]
fn delta_crls_are_reported_as_the_source() {
    use mss_pki::RevocationSource;
    let load = |n: &str| Certificate::from_der(&read("certs", n, "crt")).unwrap();
    let crls: Vec<CertificateList> = [
        "TrustAnchorRootCRL",
        "deltaCRLCA1CRL",
        "deltaCRLCA1deltaCRL",
    ]
    .iter()
    .map(|n| CertificateList::from_der(&read("crls", n, "crl")).unwrap())
    .collect();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_325_376_000);
    let anchors = [load("TrustAnchorRootCertificate")];
    let pool = [load("deltaCRLCA1Cert")];
    let v = Validator::new(
        &anchors,
        &pool,
        ValidationOptions::at(time).with_crls(&crls),
        &StandardPolicy,
    );
    let path = v.build(&load("ValiddeltaCRLTest2EE")).unwrap();
    let sources: Vec<RevocationSource> = path.revocation().iter().map(|r| r.source).collect();
    assert_eq!(sources, [RevocationSource::DeltaCrl, RevocationSource::Crl]);
    match v.build(&load("InvaliddeltaCRLTest4EE")) {
        Err(mss_pki::ValidationError::Revoked { by, .. }) => {
            assert_eq!(by, RevocationSource::DeltaCrl)
        }
        other => panic!("4.15.4: {other:?}"),
    }
}
