//! PKITS 4.2.3's 1950 UTCTime: the decoded view validates, and its signature is checked
//! over the received bytes (a view altered on either side of the rewrite fails).

use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use mss_algs::policy::StandardPolicy;
use mss_pki::{ValidationError, ValidationOptions, Validator, decode_certificate};
use x509_cert::Certificate;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/pkits/certs/"
);

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}.crt")).expect("PKITS vectors in ../shared/vectors")
}

fn check(ee: &Certificate) -> Result<(), ValidationError> {
    let anchor = Certificate::from_der(&read("TrustAnchorRootCertificate")).unwrap();
    let ca = Certificate::from_der(&read("GoodCACert")).unwrap();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_325_376_000);
    let anchors = [anchor];
    let pool = [ca];
    Validator::new(
        &anchors,
        &pool,
        ValidationOptions::at(time),
        &StandardPolicy,
    )
    .build(ee)
    .map(|_| ())
}

fn replace_nth(hay: &[u8], needle: &[u8], with: &[u8], nth: usize) -> Vec<u8> {
    let pos = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .nth(nth)
        .expect("needle present");
    let mut out = hay.to_vec();
    out[pos..pos + with.len()].copy_from_slice(with);
    out
}

#[test]
fn a_1950_not_before_decodes_and_validates() {
    let der = read("Validpre2000UTCnotBeforeDateTest3EE");
    assert!(
        Certificate::from_der(&der).is_err(),
        "x509-cert alone refuses 1950"
    );
    let ee = decode_certificate(&der).unwrap();
    let v = ee.tbs_certificate().validity();
    assert_eq!(v.not_before.to_system_time(), SystemTime::UNIX_EPOCH);
    check(&ee).unwrap();
    // Ordinary certificates decode as they are (no marker extension).
    let ca = decode_certificate(&read("GoodCACert")).unwrap();
    assert_eq!(ca.to_der().unwrap(), read("GoodCACert"));
}

#[test]
fn an_altered_view_is_refused() {
    let ee = decode_certificate(&read("Validpre2000UTCnotBeforeDateTest3EE")).unwrap();
    let view = ee.to_der().unwrap();
    // notAfter appears twice: in the view's validity, then in the kept original.
    for nth in [0, 1] {
        let forged = replace_nth(&view, b"301231083000Z", b"491231083000Z", nth);
        let forged = Certificate::from_der(&forged).unwrap();
        let e = check(&forged).unwrap_err();
        assert!(
            matches!(
                e,
                ValidationError::Malformed { .. } | ValidationError::BadSignature { .. }
            ),
            "{e}"
        );
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let der = read("Validpre2000UTCnotBeforeDateTest3EE");
    for cut in [0, 1, 10, 200, der.len() - 1] {
        assert!(decode_certificate(&der[..cut]).is_err());
    }
}
