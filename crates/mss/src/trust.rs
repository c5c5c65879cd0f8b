//! Trust settings of [`crate::open`]: revocation policy and sources, validation time,
//! and what the report says about them.
//!
//! Revocation is off by default. With [`RevocationOptions::mode`] set, every
//! certificate of each signer's path is checked: CRLs given by the caller, CRLs the
//! message carries (SignedData `crls`), CRLs fetched from distribution points through
//! [`RevocationOptions::fetcher`], OCSP through [`RevocationOptions::ocsp`]; hard fail
//! unless [`RevocationOptions::soft_fail`]. The report says, per signer, the chain,
//! which source answered for each certificate, and at what time the path was
//! validated (now, a given time, or the signer's signingTime — never silently).

use std::time::SystemTime;

use serde::Serialize;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

pub use mss_pki::anchors::{AnchorError, load_path as load_anchors, parse_certificates};
pub use mss_pki::decode_crl;
pub use mss_pki::fetch::{CrlFetcher, FetchError, Fetchers, HttpFetcher, OcspTransport};
pub use mss_pki::{CrlCache, RevocationMode, RevocationSource};
use mss_pki::{PathError, RevocationChecker, RevocationStatus, ValidationOptions, VerifiedPath};

use crate::Policy;

/// Revocation settings of an open (default: off).
#[derive(Default)]
pub struct RevocationOptions<'a> {
    /// Sources and order; `None` turns revocation checking off.
    pub mode: Option<RevocationMode>,
    /// Accept a certificate whose status no source can tell (reported as unknown, with
    /// a `revocation-unknown` warning); default hard fail.
    pub soft_fail: bool,
    /// CRLs given by the caller (decode them with [`mss_pki::decode_crl`]).
    pub crls: Vec<CertificateList>,
    /// Fetches CRLs from distribution points (e.g. [`HttpFetcher`]); `None`: no fetch.
    pub fetcher: Option<&'a (dyn CrlFetcher + Sync)>,
    /// Sends OCSP requests (e.g. [`HttpFetcher`]); `None`: OCSP cannot answer.
    pub ocsp: Option<&'a (dyn OcspTransport + Sync)>,
    /// Keeps fetched CRLs across opens; `None`: fetched again on each open.
    pub cache: Option<&'a CrlCache>,
}

/// Where the validation time of a signer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// The clock, at the open.
    Now,
    /// The time the caller gave ([`crate::OpenOptions::time`], `--at`).
    Given,
    /// The signer's signingTime attribute (claimed by the signer, not proven).
    SigningTime,
}

/// What a revocation check said about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationState {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// No source could tell (soft fail, or the reason the path failed).
    Unknown,
}

/// The revocation outcome of one certificate of a signer's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationReport {
    /// The certificate's subject.
    pub subject: String,
    /// Good, revoked or unknown.
    pub status: RevocationState,
    /// Who answered: `crl`, `delta-crl`, `ocsp`, or `none`.
    pub source: String,
}

/// The trust verdict on one signer's certificate.
pub(crate) struct Judgement {
    pub(crate) path: Result<VerifiedPath, PathError>,
    pub(crate) time: SystemTime,
    pub(crate) source: TimeSource,
    pub(crate) revocation: Vec<RevocationReport>,
    pub(crate) warnings: Vec<String>,
}

/// Validate `cert`'s path under the open's trust settings.
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge_path(
    cert: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    policy: &dyn Policy,
    revocation: &RevocationOptions,
    message_crls: &[CertificateList],
    (open_time, given): (SystemTime, bool),
    at_signing_time: bool,
    signing_time: Option<SystemTime>,
) -> Judgement {
    let mut warnings = Vec::new();
    let open_source = if given {
        TimeSource::Given
    } else {
        TimeSource::Now
    };
    let (time, source) = match (at_signing_time, signing_time) {
        (true, Some(t)) => (t, TimeSource::SigningTime),
        (true, None) => {
            warnings.push(
                "no-signing-time: validated at the open time instead of the signing time"
                    .to_string(),
            );
            (open_time, open_source)
        }
        (false, _) => (open_time, open_source),
    };
    let checker = revocation.mode.map(|mode| {
        let mut c = RevocationChecker::new(mode);
        c.soft_fail = revocation.soft_fail;
        c.crls = revocation.crls.clone();
        c.crls.extend(message_crls.iter().cloned());
        c.fetcher = revocation.fetcher;
        c.ocsp = revocation.ocsp;
        c.cache = revocation.cache;
        c
    });
    let mut options = ValidationOptions::at(time);
    if let Some(c) = &checker {
        options = options.with_checker(c);
    }
    let path = mss_pki::verify_path_with(cert, pool, anchors, options, policy);
    let revocation = match &path {
        Ok(p) => p
            .revocation()
            .iter()
            .map(|r| RevocationReport {
                subject: r.subject.clone(),
                status: match r.status {
                    RevocationStatus::Good => RevocationState::Good,
                    _ => RevocationState::Unknown,
                },
                source: r.source.name().to_string(),
            })
            .collect(),
        Err(PathError::Revoked { subject, by, .. }) => vec![RevocationReport {
            subject: subject.clone(),
            status: RevocationState::Revoked,
            source: by.name().to_string(),
        }],
        Err(PathError::RevocationUnknown { subject, .. }) => vec![RevocationReport {
            subject: subject.clone(),
            status: RevocationState::Unknown,
            source: RevocationSource::None.name().to_string(),
        }],
        Err(_) => Vec::new(),
    };
    Judgement {
        path,
        time,
        source,
        revocation,
        warnings,
    }
}
