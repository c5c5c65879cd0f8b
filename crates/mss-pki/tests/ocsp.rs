//! OCSP against a real responder (`openssl ocsp` on 127.0.0.1) and CRLs fetched over
//! HTTP, through the revocation policy.

mod support;

use std::time::SystemTime;

use mss_algs::policy::StandardPolicy;
use mss_pki::fetch::{FetchError, HttpFetcher, OcspTransport};
use mss_pki::ocsp::{OcspError, OcspStatus, query};
use mss_pki::{
    CrlCache, RevocationChecker, RevocationMode, RevocationSource, RevocationStatus,
    ValidationError, ValidationOptions, Validator,
};
use support::pki::{Pki, free_port};

fn now() -> SystemTime {
    SystemTime::now()
}

/// Passes requests to the real responder, then tampers with the answer.
struct Tamper<F: Fn(Vec<u8>) -> Vec<u8> + Sync>(F);

impl<F: Fn(Vec<u8>) -> Vec<u8> + Sync> OcspTransport for Tamper<F> {
    fn post_ocsp(&self, uri: &str, request: &[u8]) -> Result<Vec<u8>, FetchError> {
        HttpFetcher::default().post_ocsp(uri, request).map(&self.0)
    }
}

#[test]
fn good_revoked_unknown_from_the_ca_and_a_delegated_responder() {
    let pki = Pki::new();
    let ca = pki.cert("ca");
    let http = HttpFetcher::default();
    for signer in ["ca", "responder"] {
        let port = free_port();
        let _server = pki.responder(signer, port);
        let uri = format!("http://127.0.0.1:{port}/");
        let ask = |name: &str| {
            query(
                &http,
                Some(&uri),
                &pki.cert(name),
                &ca,
                &StandardPolicy,
                now(),
            )
        };
        assert_eq!(ask("good").unwrap(), OcspStatus::Good, "{signer}");
        match ask("revoked").unwrap() {
            OcspStatus::Revoked { reason, .. } => {
                assert_eq!(reason.as_deref(), Some("KeyCompromise"), "{signer}")
            }
            other => panic!("{signer}: revoked answered {other:?}"),
        }
        assert_eq!(ask("unknown").unwrap(), OcspStatus::Unknown, "{signer}");
    }
    println!("OCSP: good, revoked, unknown from the CA and from a delegated responder");
}

#[test]
fn unauthorized_and_bad_signatures_and_replays_are_refused() {
    let pki = Pki::new();
    let ca = pki.cert("ca");
    let good = pki.cert("good");
    let port = free_port();
    // A responder certificate issued by the CA but without id-kp-OCSPSigning.
    let rogue = pki.responder("rogue", port);
    let uri = format!("http://127.0.0.1:{port}/");
    let http = HttpFetcher::default();
    let e = query(&http, Some(&uri), &good, &ca, &StandardPolicy, now()).unwrap_err();
    assert!(matches!(e, OcspError::Unauthorized(_)), "{e}");
    drop(rogue);

    let port = free_port();
    let _server = pki.responder("ca", port);
    let uri = format!("http://127.0.0.1:{port}/");
    // The signature's last byte flipped.
    let flip = Tamper(|mut r: Vec<u8>| {
        if let Some(b) = r.last_mut() {
            *b ^= 1;
        }
        r
    });
    let e = query(&flip, Some(&uri), &good, &ca, &StandardPolicy, now()).unwrap_err();
    assert!(matches!(e, OcspError::BadSignature(_)), "{e}");
    // A replayed answer (to an earlier request, another nonce).
    let earlier = {
        let p = mss_pki::ocsp::PendingRequest::new(&good, &ca).unwrap();
        http.post_ocsp(&uri, p.der()).unwrap()
    };
    let replay = Tamper(move |_| earlier.clone());
    let e = query(&replay, Some(&uri), &good, &ca, &StandardPolicy, now()).unwrap_err();
    assert_eq!(e, OcspError::NonceMismatch);
    // Garbage and a truncated answer are errors, not panics.
    for cut in [0usize, 1, 10, 100] {
        let t = Tamper(move |r: Vec<u8>| r[..cut.min(r.len())].to_vec());
        let e = query(&t, Some(&uri), &good, &ca, &StandardPolicy, now()).unwrap_err();
        assert!(matches!(e, OcspError::Malformed(_)), "{e}");
    }
    // The answer judged a day after its nextUpdate.
    let later = now() + std::time::Duration::from_secs(3 * 86_400);
    let e = query(&http, Some(&uri), &good, &ca, &StandardPolicy, later).unwrap_err();
    assert!(matches!(e, OcspError::NotCurrent(_)), "{e}");
    // No responder at all.
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let e = query(&http, Some(&dead), &good, &ca, &StandardPolicy, now()).unwrap_err();
    assert!(matches!(e, OcspError::Fetch(_)), "{e}");
}

fn validate(
    pki: &Pki,
    leaf: &str,
    chk: &RevocationChecker,
) -> Result<mss_pki::VerifiedPath, ValidationError> {
    let anchors = [pki.cert("ca")];
    Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(now()).with_checker(chk),
        &StandardPolicy,
    )
    .build(&pki.cert(leaf))
}

#[test]
fn revocation_policy_sources_order_and_soft_fail() {
    let pki = Pki::new();
    let http = HttpFetcher::default();

    // OCSP through the AIA of the certificate.
    let ocsp_server = pki.responder("responder", pki.ocsp_port);
    let mut chk = RevocationChecker::new(RevocationMode::Ocsp);
    chk.ocsp = Some(&http);
    let p = validate(&pki, "good", &chk).unwrap();
    assert_eq!(p.revocation().len(), 1);
    assert_eq!(p.revocation()[0].source, RevocationSource::Ocsp);
    assert_eq!(p.revocation()[0].status, RevocationStatus::Good);
    let e = validate(&pki, "revoked", &chk).unwrap_err();
    assert!(
        matches!(&e, ValidationError::Revoked { by: RevocationSource::Ocsp, reason, .. } if reason == "KeyCompromise"),
        "{e}"
    );
    // unknown: hard fail, then soft fail (reported, not silent).
    let e = validate(&pki, "unknown", &chk).unwrap_err();
    assert!(
        matches!(e, ValidationError::RevocationUnknown { .. }),
        "{e}"
    );
    chk.soft_fail = true;
    let p = validate(&pki, "unknown", &chk).unwrap();
    assert_eq!(p.revocation()[0].status, RevocationStatus::Unknown);
    assert_eq!(p.revocation()[0].source, RevocationSource::None);
    assert!(
        p.warnings()
            .iter()
            .any(|w| w.starts_with("revocation-unknown"))
    );

    // CRLs fetched from the distribution point over HTTP, cached until nextUpdate.
    let crl_server = pki.http(pki.crl_port);
    let cache = CrlCache::new();
    let mut chk = RevocationChecker::new(RevocationMode::Crl);
    chk.fetcher = Some(&http);
    chk.cache = Some(&cache);
    let p = validate(&pki, "good", &chk).unwrap();
    assert_eq!(p.revocation()[0].source, RevocationSource::Crl);
    let e = validate(&pki, "revoked", &chk).unwrap_err();
    assert!(
        matches!(
            e,
            ValidationError::Revoked {
                by: RevocationSource::Crl,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(cache.len(), 1);
    assert_eq!(crl_server.hits(), 1, "the second validation used the cache");
    // After nextUpdate (7 days) the cache refreshes: the same CRL, now stale, does
    // not answer — and a stale CRL never says "good".
    let mut late = RevocationChecker::new(RevocationMode::Crl);
    late.fetcher = Some(&http);
    late.cache = Some(&cache);
    late.now = now() + std::time::Duration::from_secs(8 * 86_400);
    let anchors = [pki.cert("ca")];
    let e = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(late.now).with_checker(&late),
        &StandardPolicy,
    )
    .build(&pki.cert("good"))
    .unwrap_err();
    assert!(
        matches!(e, ValidationError::RevocationUnknown { .. }),
        "{e}"
    );
    assert_eq!(crl_server.hits(), 2, "refetched after nextUpdate");

    // A CRL given by the caller answers without any fetch.
    let mut given = RevocationChecker::new(RevocationMode::Crl);
    given.crls = vec![pki.crl()];
    given.fetcher = Some(&http);
    assert_eq!(
        validate(&pki, "good", &given).unwrap().revocation()[0].source,
        RevocationSource::Crl
    );
    assert_eq!(crl_server.hits(), 2, "no fetch when the given CRLs answer");

    // Order: CRL first answers for "good" even with OCSP available; OCSP first too.
    // With the responder gone, OCSP-first falls back to the CRL.
    let mut both = RevocationChecker::new(RevocationMode::CrlThenOcsp);
    both.crls = vec![pki.crl()];
    both.ocsp = Some(&http);
    assert_eq!(
        validate(&pki, "good", &both).unwrap().revocation()[0].source,
        RevocationSource::Crl
    );
    both.mode = RevocationMode::OcspThenCrl;
    assert_eq!(
        validate(&pki, "good", &both).unwrap().revocation()[0].source,
        RevocationSource::Ocsp
    );
    drop(ocsp_server);
    assert_eq!(
        validate(&pki, "good", &both).unwrap().revocation()[0].source,
        RevocationSource::Crl
    );
    // "unknown" is in no CRL: the CRL says not revoked (it covers the CA's scope).
    both.mode = RevocationMode::CrlThenOcsp;
    assert!(validate(&pki, "revoked", &both).is_err());
    // Nothing answers at all: hard fail.
    let none = RevocationChecker::new(RevocationMode::CrlThenOcsp);
    let e = validate(&pki, "good", &none).unwrap_err();
    assert!(
        matches!(e, ValidationError::RevocationUnknown { .. }),
        "{e}"
    );
}

/// Validation at a past time (a signing time) with a CRL issued later: accepted under
/// a revocation policy when the CRL is current at the clock and was issued while the
/// certificate was valid; never by the strict RFC 5280 CRL mode.
#[test]
fn a_later_crl_answers_for_a_past_validation_time() {
    let pki = Pki::new();
    let t0 = pki
        .cert("good")
        .tbs_certificate()
        .validity()
        .not_before
        .to_system_time();
    let min = std::time::Duration::from_secs(60);
    let crl = pki.crl_between(t0 + 60 * min, t0 + 7 * 24 * 60 * min);
    let past = t0 + min;
    let anchors = [pki.cert("ca")];
    let crls = [crl.clone()];
    let mut chk = RevocationChecker::new(RevocationMode::Crl);
    chk.crls = vec![crl];
    chk.now = t0 + 120 * min;
    let at_past = |chk: &RevocationChecker, leaf: &str| {
        Validator::new(
            &anchors,
            &[],
            ValidationOptions::at(past).with_checker(chk),
            &StandardPolicy,
        )
        .build(&pki.cert(leaf))
    };
    let p = at_past(&chk, "good").unwrap();
    assert_eq!(p.revocation()[0].source, RevocationSource::Crl);
    let e = at_past(&chk, "revoked").unwrap_err();
    assert!(matches!(e, ValidationError::Revoked { .. }), "{e}");
    // The strict mode wants a CRL current at the validation time.
    let strict = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(past).with_crls(&crls),
        &StandardPolicy,
    )
    .build(&pki.cert("good"))
    .unwrap_err();
    assert!(
        matches!(strict, ValidationError::RevocationUnknown { .. }),
        "{strict}"
    );
    // A later CRL that is itself stale at the clock does not answer.
    chk.now = t0 + 8 * 24 * 60 * min;
    let e = at_past(&chk, "good").unwrap_err();
    assert!(
        matches!(e, ValidationError::RevocationUnknown { .. }),
        "{e}"
    );
}
