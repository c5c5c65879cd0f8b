//! Revocation policy: which sources to ask (CRL, OCSP, both in either order), what to
//! do when none answers (hard or soft fail), and where CRLs come from.
//!
//! A [`RevocationChecker`] is plugged into [`crate::ValidationOptions`] with
//! [`crate::Revocation::Checked`]. For every certificate of a path (leaf and CAs) it
//! tries its sources in order; the first that *answers* decides:
//! - **CRL**: the CRLs given (by the caller, found in the message) plus those of the
//!   certificate's CRL distribution points and freshest-CRL (delta) points, fetched
//!   through a [`CrlFetcher`] (`http://` by [`crate::fetch::HttpFetcher`]; `ldap://`
//!   by whatever client is plugged in) and kept in a [`CrlCache`]; checked by the full
//!   RFC 5280 §6.3 procedure (delta CRLs, indirect CRLs, IDP);
//! - **OCSP**: the certificate's AIA responder through an [`OcspTransport`] (see
//!   [`crate::ocsp`]).
//!
//! "Revoked" from any source fails the path at once. When no source can tell, a hard
//! fail makes the path fail ([`crate::ValidationError::RevocationUnknown`]); a soft
//! fail accepts it, and [`crate::VerifiedPath::revocation`] says so (source `None`,
//! status `Unknown`) with the reasons — never silently.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::FreshestCrl;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use crate::fetch::{CrlFetcher, OcspTransport};
use crate::names::{NormName, norm};
use crate::ocsp::OcspStatus;
use crate::oids;
use crate::validate::{Info, Run, ValidationError, Validator, WorkingKey, decode_ext};

/// Which sources, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationMode {
    /// CRLs only.
    #[default]
    Crl,
    /// OCSP only.
    Ocsp,
    /// CRLs, then OCSP when the CRLs cannot tell.
    CrlThenOcsp,
    /// OCSP, then CRLs when OCSP cannot tell.
    OcspThenCrl,
}

/// Which source answered for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationSource {
    /// A complete CRL.
    Crl,
    /// A complete CRL with a delta CRL applied.
    DeltaCrl,
    /// An OCSP responder.
    Ocsp,
    /// No source answered (soft fail), or revocation was not checked.
    None,
}

impl RevocationSource {
    /// `crl`, `delta-crl`, `ocsp`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            RevocationSource::Crl => "crl",
            RevocationSource::DeltaCrl => "delta-crl",
            RevocationSource::Ocsp => "ocsp",
            RevocationSource::None => "none",
        }
    }
}

impl std::fmt::Display for RevocationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The revocation status of a certificate of a path that validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationStatus {
    /// A source said "not revoked".
    Good,
    /// No source could tell, and the policy is soft fail.
    Unknown,
}

/// One certificate's revocation outcome (see [`crate::VerifiedPath::revocation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRevocation {
    /// The certificate's subject.
    pub subject: String,
    /// Good, or unknown under soft fail.
    pub status: RevocationStatus,
    /// Who answered.
    pub source: RevocationSource,
    /// Why the sources could not tell (soft fail), in words.
    pub detail: Option<String>,
}

/// CRLs fetched from distribution points, kept in memory by issuer name (and the URI
/// they came from) until their `nextUpdate` passes; a CRL without `nextUpdate` is not
/// kept. Shared by reference between validations (it is `Sync`); nothing is written
/// to disk.
#[derive(Debug, Default)]
pub struct CrlCache {
    by_issuer: Mutex<BTreeMap<NormName, Vec<(String, CertificateList)>>>,
}

fn next_update(crl: &CertificateList) -> Option<SystemTime> {
    crl.tbs_cert_list.next_update.map(|t| t.to_system_time())
}

impl CrlCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<NormName, Vec<(String, CertificateList)>>> {
        self.by_issuer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `crls`, fetched from `uri`, replacing what that URI gave before.
    pub fn insert(&self, uri: &str, crls: Vec<CertificateList>, now: SystemTime) {
        let mut map = self.lock();
        for list in map.values_mut() {
            list.retain(|(u, c)| u != uri && next_update(c).is_some_and(|n| n > now));
        }
        for crl in crls {
            if next_update(&crl).is_some_and(|n| n > now) {
                map.entry(norm(&crl.tbs_cert_list.issuer))
                    .or_default()
                    .push((uri.to_string(), crl));
            }
        }
        map.retain(|_, v| !v.is_empty());
    }

    /// Does the cache hold a CRL from `uri` still before its `nextUpdate`?
    pub fn is_fresh(&self, uri: &str, now: SystemTime) -> bool {
        self.lock()
            .values()
            .flatten()
            .any(|(u, c)| u == uri && next_update(c).is_some_and(|n| n > now))
    }

    /// The cached CRLs of every issuer still before their `nextUpdate`.
    pub fn current(&self, now: SystemTime) -> Vec<CertificateList> {
        self.lock()
            .values()
            .flatten()
            .filter(|(_, c)| next_update(c).is_some_and(|n| n > now))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The cached CRLs issued by `issuer`.
    pub fn for_issuer(
        &self,
        issuer: &x509_cert::name::Name,
        now: SystemTime,
    ) -> Vec<CertificateList> {
        self.lock()
            .get(&norm(issuer))
            .into_iter()
            .flatten()
            .filter(|(_, c)| next_update(c).is_some_and(|n| n > now))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Number of CRLs held.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The revocation policy and its sources (see the module doc).
pub struct RevocationChecker<'a> {
    /// Sources and order.
    pub mode: RevocationMode,
    /// Accept a certificate whose status no source could tell (reported as unknown).
    pub soft_fail: bool,
    /// CRLs known up front (given by the caller, carried by the message).
    pub crls: Vec<CertificateList>,
    /// Fetches CRLs from distribution points (`None`: no fetching).
    pub fetcher: Option<&'a (dyn CrlFetcher + Sync)>,
    /// Sends OCSP requests (`None`: OCSP cannot answer).
    pub ocsp: Option<&'a (dyn OcspTransport + Sync)>,
    /// Where fetched CRLs are kept (`None`: fetched again for each validation).
    pub cache: Option<&'a CrlCache>,
    /// The clock, for the freshness of fetched CRLs and OCSP answers (which are about
    /// now, whatever the validation time).
    pub now: SystemTime,
}

impl std::fmt::Debug for RevocationChecker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationChecker")
            .field("mode", &self.mode)
            .field("soft_fail", &self.soft_fail)
            .field("crls", &self.crls.len())
            .field("fetcher", &self.fetcher.is_some())
            .field("ocsp", &self.ocsp.is_some())
            .field("cache", &self.cache)
            .field("now", &self.now)
            .finish()
    }
}

impl<'a> RevocationChecker<'a> {
    /// A checker in `mode`, hard fail, no CRLs, no fetcher, no OCSP transport, clock now.
    pub fn new(mode: RevocationMode) -> Self {
        RevocationChecker {
            mode,
            soft_fail: false,
            crls: Vec::new(),
            fetcher: None,
            ocsp: None,
            cache: None,
            now: SystemTime::now(),
        }
    }
}

/// The URIs of distribution points (full names only).
fn dp_uris(dps: &[DistributionPoint]) -> Vec<String> {
    dps.iter()
        .filter_map(|d| match &d.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

enum Answer {
    Good(RevocationSource),
    CannotTell(String),
}

impl Validator<'_> {
    /// Revocation of `cert` (issuer last of `above`) under a [`RevocationChecker`].
    pub(crate) fn check_with_policy(
        &self,
        run: &Run,
        chk: &RevocationChecker,
        cert: &Certificate,
        info: &Info,
        above: &[(&Certificate, WorkingKey)],
        warnings: &mut Vec<String>,
    ) -> Result<CertRevocation, ValidationError> {
        let subject = cert.tbs_certificate().subject().to_string();
        let order: &[bool] = match chk.mode {
            // true = CRL, false = OCSP
            RevocationMode::Crl => &[true],
            RevocationMode::Ocsp => &[false],
            RevocationMode::CrlThenOcsp => &[true, false],
            RevocationMode::OcspThenCrl => &[false, true],
        };
        let mut reasons = Vec::new();
        for &crl in order {
            let answer = if crl {
                self.crl_answer(run, chk, cert, info, above, warnings)?
            } else {
                self.ocsp_answer(chk, cert, above, warnings)?
            };
            match answer {
                Answer::Good(source) => {
                    return Ok(CertRevocation {
                        subject,
                        status: RevocationStatus::Good,
                        source,
                        detail: None,
                    });
                }
                Answer::CannotTell(why) => reasons.push(why),
            }
        }
        let why = reasons.join("; ");
        if chk.soft_fail {
            let w = format!("revocation-unknown: {subject}: {why} (soft fail)");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
            Ok(CertRevocation {
                subject,
                status: RevocationStatus::Unknown,
                source: RevocationSource::None,
                detail: Some(why),
            })
        } else {
            Err(ValidationError::RevocationUnknown {
                subject,
                reason: why,
            })
        }
    }

    fn crl_answer(
        &self,
        run: &Run,
        chk: &RevocationChecker,
        cert: &Certificate,
        info: &Info,
        above: &[(&Certificate, WorkingKey)],
        warnings: &mut Vec<String>,
    ) -> Result<Answer, ValidationError> {
        let good = |delta: bool| {
            Answer::Good(if delta {
                RevocationSource::DeltaCrl
            } else {
                RevocationSource::Crl
            })
        };
        // First the CRLs at hand (given, carried by the message, cached): no network
        // when they answer.
        let mut crls = chk.crls.clone();
        if let Some(cache) = chk.cache {
            crls.extend(cache.current(chk.now));
        }
        let reason = match self.check_revocation(run, &crls, cert, info, above, warnings) {
            Ok(delta) => return Ok(good(delta)),
            Err(ValidationError::RevocationUnknown { reason, .. }) => reason,
            Err(e) => return Err(e),
        };
        let Some(fetcher) = chk.fetcher else {
            return Ok(Answer::CannotTell(format!("CRL: {reason}")));
        };
        // Then the distribution points (complete and freshest CRL) not fresh in cache.
        let local = CrlCache::new();
        let cache = chk.cache.unwrap_or(&local);
        let exts = cert.tbs_certificate().extensions().map(|e| e.as_slice());
        let mut uris = dp_uris(info.crldp.as_deref().unwrap_or_default());
        if let Ok(Some(f)) = decode_ext::<FreshestCrl>(exts, oids::FRESHEST_CRL) {
            uris.extend(dp_uris(&f.0));
        }
        let mut fetch_errors = Vec::new();
        let mut uncacheable = Vec::new();
        let mut fetched = false;
        for uri in uris {
            if cache.is_fresh(&uri, chk.now) {
                continue;
            }
            match fetcher.fetch_crls(&uri) {
                Ok(ders) => {
                    let mut got = Vec::new();
                    for d in ders {
                        match crate::decode_crl(&d) {
                            Ok(c) => got.push(c),
                            Err(e) => fetch_errors.push(format!("{uri}: bad CRL: {e}")),
                        }
                    }
                    fetched |= !got.is_empty();
                    // Not cacheable (no or past nextUpdate): used for this check only.
                    uncacheable.extend(
                        got.iter()
                            .filter(|c| next_update(c).is_none_or(|n| n <= chk.now))
                            .cloned(),
                    );
                    cache.insert(&uri, got, chk.now);
                }
                Err(e) => fetch_errors.push(e.to_string()),
            }
        }
        let with_errors = |why: String| {
            if fetch_errors.is_empty() {
                why
            } else {
                format!("{why} (fetch: {})", fetch_errors.join(", "))
            }
        };
        if !fetched {
            return Ok(Answer::CannotTell(with_errors(format!("CRL: {reason}"))));
        }
        let mut all = chk.crls.clone();
        all.extend(uncacheable);
        all.extend(cache.current(chk.now));
        match self.check_revocation(run, &all, cert, info, above, warnings) {
            Ok(delta) => Ok(good(delta)),
            Err(ValidationError::RevocationUnknown { reason, .. }) => {
                Ok(Answer::CannotTell(with_errors(format!("CRL: {reason}"))))
            }
            Err(e) => Err(e),
        }
    }

    fn ocsp_answer(
        &self,
        chk: &RevocationChecker,
        cert: &Certificate,
        above: &[(&Certificate, WorkingKey)],
        warnings: &mut Vec<String>,
    ) -> Result<Answer, ValidationError> {
        let Some(transport) = chk.ocsp else {
            return Ok(Answer::CannotTell("OCSP: no transport".into()));
        };
        let Some((issuer, issuer_key)) = above.last() else {
            return Ok(Answer::CannotTell("OCSP: no issuer".into()));
        };
        match crate::ocsp::query_with_key(
            transport,
            None,
            cert,
            issuer,
            issuer_key,
            self.policy,
            chk.now,
            warnings,
        ) {
            Ok(OcspStatus::Good) => Ok(Answer::Good(RevocationSource::Ocsp)),
            Ok(OcspStatus::Revoked { reason, .. }) => Err(ValidationError::Revoked {
                subject: cert.tbs_certificate().subject().to_string(),
                reason: reason.unwrap_or_else(|| "Unspecified".into()),
                by: RevocationSource::Ocsp,
            }),
            Ok(OcspStatus::Unknown) => Ok(Answer::CannotTell(
                "OCSP: the responder does not know the certificate".into(),
            )),
            Err(e) => Ok(Answer::CannotTell(format!("OCSP: {e}"))),
        }
    }
}
