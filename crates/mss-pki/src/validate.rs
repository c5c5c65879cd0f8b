//! RFC 5280 §6 path validation and the path builder on top of it.
//!
//! [`Validator`] owns the decision "is this path good at this time, under these
//! policy settings, with these CRLs". The builder enumerates candidate paths from the
//! leaf to an anchor (name chaining and signatures, under a budget) and runs the full
//! validation on each; the most specific failure across candidates is reported.

use std::cell::Cell;
use std::time::SystemTime;

use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString};
use der::{Decode, Encode, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, CertificatePolicies, InhibitAnyPolicy, KeyUsage, KeyUsages, NameConstraints,
    PolicyConstraints, PolicyMappings, SubjectAltName,
};

use mss_algs::policy::{Policy, Usage, Verdict};
use mss_algs::signature::{public_key_bits_with_params, verify_digest_with_params};

use crate::names::{Constraints, SubjectNames, names_match};
use crate::oids;
use crate::policy_tree::PolicyTree;
use crate::revocation::{CertRevocation, RevocationChecker, RevocationSource, RevocationStatus};
use crate::{VerifiedPath, certificate_signature_algorithm};

/// How revocation is checked.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub enum Revocation<'a> {
    /// No revocation checking.
    #[default]
    Off,
    /// CRL v2 (RFC 5280 §6.3), delta CRLs included: every certificate of the path must
    /// be covered by a usable CRL of this set, else the path fails.
    Crl(&'a [CertificateList]),
    /// A revocation policy: CRLs (given, found, fetched) and/or OCSP, hard or soft
    /// fail (see [`crate::revocation`]).
    Checked(&'a RevocationChecker<'a>),
}

/// The inputs of RFC 5280 §6.1.1 besides the path itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ValidationOptions<'a> {
    /// The reference time.
    pub time: SystemTime,
    /// `user-initial-policy-set`; `None` means `{anyPolicy}`.
    pub initial_policy_set: Option<Vec<ObjectIdentifier>>,
    /// `initial-explicit-policy`.
    pub initial_explicit_policy: bool,
    /// `initial-policy-mapping-inhibit`.
    pub initial_policy_mapping_inhibit: bool,
    /// `initial-any-policy-inhibit`.
    pub initial_any_policy_inhibit: bool,
    /// Revocation checking.
    pub revocation: Revocation<'a>,
    /// Maximum number of signature checks (certificates and CRLs) per build.
    pub max_signature_checks: usize,
    /// Maximum number of certificates in a path (leaf included, anchor excluded).
    pub max_path_len: usize,
}

impl<'a> ValidationOptions<'a> {
    /// Defaults at `time`: any policy, no explicit policy, mappings and anyPolicy
    /// allowed, no revocation checking, the crate's budgets.
    pub fn at(time: SystemTime) -> Self {
        ValidationOptions {
            time,
            initial_policy_set: None,
            initial_explicit_policy: false,
            initial_policy_mapping_inhibit: false,
            initial_any_policy_inhibit: false,
            revocation: Revocation::Off,
            max_signature_checks: crate::MAX_SIGNATURE_CHECKS,
            max_path_len: crate::MAX_PATH_LEN,
        }
    }

    /// Set the user-initial-policy-set.
    pub fn with_policy_set(mut self, set: Vec<ObjectIdentifier>) -> Self {
        self.initial_policy_set = Some(set);
        self
    }

    /// Check revocation under a [`RevocationChecker`].
    pub fn with_checker(mut self, checker: &'a RevocationChecker<'a>) -> Self {
        self.revocation = Revocation::Checked(checker);
        self
    }

    /// Check revocation against these CRLs.
    pub fn with_crls(mut self, crls: &'a [CertificateList]) -> Self {
        self.revocation = Revocation::Crl(crls);
        self
    }
}

/// Why a path (or every candidate path) failed RFC 5280 validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A certificate is revoked.
    #[error("certificate {subject} is revoked ({reason}, by {by})")]
    Revoked {
        /// The revoked certificate.
        subject: String,
        /// The CRL reason code.
        reason: String,
        /// Who said so.
        by: RevocationSource,
    },
    /// A certificate is outside its validity period.
    #[error("certificate {subject} is outside its validity period")]
    Expired {
        /// The certificate.
        subject: String,
    },
    /// No usable CRL covered a certificate.
    #[error("revocation status of {subject} is unknown: {reason}")]
    RevocationUnknown {
        /// The certificate.
        subject: String,
        /// What was missing.
        reason: String,
    },
    /// Policy processing left no acceptable policy.
    #[error("certificate policies: {0}")]
    Policy(String),
    /// A name is outside the permitted subtrees or inside the excluded ones.
    #[error("certificate {subject} violates name constraints: {reason}")]
    NameConstraints {
        /// The certificate.
        subject: String,
        /// The rule.
        reason: String,
    },
    /// A critical extension the validator does not process.
    #[error("certificate {subject} has an unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate.
        subject: String,
        /// The extension.
        oid: ObjectIdentifier,
    },
    /// An issuing certificate is not a CA, exceeds a path length, or lacks keyCertSign.
    #[error("certificate {subject} may not issue certificates: {reason}")]
    NotACa {
        /// The certificate.
        subject: String,
        /// The rule.
        reason: String,
    },
    /// A signature does not verify (or its algorithm is refused).
    #[error("signature on {subject} does not verify: {reason}")]
    BadSignature {
        /// The certificate.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A certificate's issuer does not match the previous subject.
    #[error("certificate {subject}: issuer name does not chain")]
    NameChaining {
        /// The certificate.
        subject: String,
    },
    /// A certificate or extension could not be decoded.
    #[error("certificate {subject} is malformed: {reason}")]
    Malformed {
        /// The certificate.
        subject: String,
        /// What.
        reason: String,
    },
    /// No candidate issuer found.
    #[error("no trusted issuer found for {issuer}")]
    NoIssuer {
        /// The issuer name sought.
        issuer: String,
    },
    /// The search exceeded its budget.
    #[error("path building gave up (budget exhausted)")]
    Budget,
}

impl ValidationError {
    /// Higher is more specific (reported over less specific candidates' errors).
    fn rank(&self) -> u8 {
        match self {
            ValidationError::Budget => 12,
            ValidationError::Revoked { .. } => 11,
            ValidationError::Expired { .. } => 10,
            ValidationError::RevocationUnknown { .. } => 9,
            ValidationError::Policy(_) => 8,
            ValidationError::NameConstraints { .. } => 7,
            ValidationError::UnknownCriticalExtension { .. } => 6,
            ValidationError::NotACa { .. } => 5,
            ValidationError::Malformed { .. } => 4,
            ValidationError::BadSignature { .. } => 3,
            ValidationError::NameChaining { .. } => 2,
            ValidationError::NoIssuer { .. } => 1,
        }
    }
}

fn subject(c: &Certificate) -> String {
    c.tbs_certificate().subject().to_string()
}

fn malformed(c: &Certificate, reason: impl Into<String>) -> ValidationError {
    ValidationError::Malformed {
        subject: subject(c),
        reason: reason.into(),
    }
}

/// Find a single extension by OID (duplicates are an error).
pub(crate) fn find_ext(
    exts: Option<&[Extension]>,
    oid: ObjectIdentifier,
) -> Result<Option<&Extension>, String> {
    let mut it = exts.unwrap_or_default().iter().filter(|e| e.extn_id == oid);
    let first = it.next();
    if it.next().is_some() {
        return Err(format!("duplicate extension {oid}"));
    }
    Ok(first)
}

pub(crate) fn decode_ext<'a, T: Decode<'a>>(
    exts: Option<&'a [Extension]>,
    oid: ObjectIdentifier,
) -> Result<Option<T>, String> {
    match find_ext(exts, oid)? {
        None => Ok(None),
        Some(e) => T::from_der(e.extn_value.as_bytes())
            .map(Some)
            .map_err(|err| format!("extension {oid}: {err}")),
    }
}

/// The extensions of one certificate that validation uses.
pub(crate) struct Info {
    pub(crate) bc: Option<BasicConstraints>,
    ku: Option<KeyUsage>,
    policies: Option<Vec<ObjectIdentifier>>,
    mappings: Option<Vec<(ObjectIdentifier, ObjectIdentifier)>>,
    nc: Option<NameConstraints>,
    pc: Option<PolicyConstraints>,
    inhibit_any: Option<u32>,
    san: Option<Vec<GeneralName>>,
    pub(crate) crldp: Option<Vec<DistributionPoint>>,
    unknown_critical: Option<ObjectIdentifier>,
}

impl Info {
    pub(crate) fn parse(c: &Certificate) -> Result<Self, ValidationError> {
        let exts = c.tbs_certificate().extensions().map(|e| e.as_slice());
        let m = |e: String| malformed(c, e);
        let policies = decode_ext::<CertificatePolicies>(exts, oids::CERTIFICATE_POLICIES)
            .map_err(m)?
            .map(|p| {
                p.0.iter()
                    .map(|i| i.policy_identifier)
                    .collect::<Vec<ObjectIdentifier>>()
            });
        if let Some(p) = &policies {
            let mut s = p.clone();
            s.sort();
            s.dedup();
            if s.len() != p.len() {
                return Err(malformed(c, "duplicate certificate policy"));
            }
        }
        Ok(Info {
            bc: decode_ext(exts, oids::BASIC_CONSTRAINTS).map_err(m)?,
            ku: decode_ext(exts, oids::KEY_USAGE).map_err(m)?,
            policies,
            mappings: decode_ext::<PolicyMappings>(exts, oids::POLICY_MAPPINGS)
                .map_err(m)?
                .map(|p| {
                    p.0.iter()
                        .map(|x| (x.issuer_domain_policy, x.subject_domain_policy))
                        .collect()
                }),
            nc: decode_ext(exts, oids::NAME_CONSTRAINTS).map_err(m)?,
            pc: decode_ext(exts, oids::POLICY_CONSTRAINTS).map_err(m)?,
            inhibit_any: decode_ext::<InhibitAnyPolicy>(exts, oids::INHIBIT_ANY_POLICY)
                .map_err(m)?
                .map(|x| x.0),
            san: decode_ext::<SubjectAltName>(exts, oids::SUBJECT_ALT_NAME)
                .map_err(m)?
                .map(|s| s.0),
            crldp: decode_ext::<x509_cert::ext::pkix::CrlDistributionPoints>(
                exts,
                oids::CRL_DISTRIBUTION_POINTS,
            )
            .map_err(m)?
            .map(|d| d.0),
            unknown_critical: exts.unwrap_or_default().iter().find_map(|e| {
                (e.critical && !oids::KNOWN_CERT_EXTENSIONS.contains(&e.extn_id))
                    .then_some(e.extn_id)
            }),
        })
    }

    pub(crate) fn is_ca(&self) -> bool {
        self.bc.as_ref().is_some_and(|b| b.ca)
    }

    pub(crate) fn allows(&self, usage: KeyUsages) -> bool {
        self.ku.as_ref().is_none_or(|k| k.0.contains(usage))
    }
}

fn is_self_issued(c: &Certificate) -> bool {
    names_match(c.tbs_certificate().subject(), c.tbs_certificate().issuer())
}

/// The key that verifies the next signature: an SPKI and the DSA parameters it
/// inherits when its own are absent.
#[derive(Debug, Clone)]
pub(crate) struct WorkingKey {
    pub(crate) spki: SubjectPublicKeyInfoOwned,
    pub(crate) params: Option<Any>,
}

impl WorkingKey {
    pub(crate) fn of(c: &Certificate) -> Self {
        let spki = c.tbs_certificate().subject_public_key_info().clone();
        let params = spki.algorithm.parameters.clone();
        WorkingKey { spki, params }
    }

    /// The key of `c`, issued under `self` (RFC 5280 §6.1.4 (d)-(f)).
    pub(crate) fn next(&self, c: &Certificate) -> Self {
        let spki = c.tbs_certificate().subject_public_key_info().clone();
        let own = spki
            .algorithm
            .parameters
            .clone()
            .filter(|p| p.tag() != der::Tag::Null);
        let params = match own {
            Some(p) => Some(p),
            None if spki.algorithm.oid == self.spki.algorithm.oid => self.params.clone(),
            None => None,
        };
        WorkingKey { spki, params }
    }
}

/// Budget and recursion depth shared by one build (CRL signer paths included).
pub(crate) struct Run<'r> {
    checks: &'r Cell<usize>,
    pub(crate) depth: usize,
}

impl Run<'_> {
    /// A run for a CRL signer's path: same budget, one level deeper.
    pub(crate) fn nested<'s>(&'s self) -> Run<'s> {
        Run {
            checks: self.checks,
            depth: self.depth + 1,
        }
    }

    pub(crate) fn spend(&self, max: usize) -> Result<(), ValidationError> {
        let n = self.checks.get() + 1;
        self.checks.set(n);
        if n > max {
            Err(ValidationError::Budget)
        } else {
            Ok(())
        }
    }
}

/// An RFC 5280 validator: trust anchors, a pool of other certificates (intermediates,
/// CRL signers), the options, and the algorithm policy.
#[derive(Debug, Clone)]
pub struct Validator<'a> {
    pub(crate) anchors: &'a [Certificate],
    pub(crate) pool: &'a [Certificate],
    pub(crate) options: ValidationOptions<'a>,
    pub(crate) policy: &'a dyn Policy,
}

/// The result of a signature check that ran.
pub(crate) fn verify_signature(
    policy: &dyn Policy,
    tbs: &[u8],
    alg: &AlgorithmIdentifierOwned,
    signature: &BitString,
    key: &WorkingKey,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let Some(sa) = certificate_signature_algorithm(alg) else {
        return Err(format!("unsupported signature algorithm {}", alg.oid));
    };
    let bits =
        public_key_bits_with_params(&key.spki, key.params.as_ref()).map_err(|e| e.to_string())?;
    for v in [
        policy.digest(sa.digest, Usage::Accept),
        policy.signature(&sa, bits, Usage::Accept),
    ] {
        match v {
            Verdict::Allowed => {}
            Verdict::Weak(w) => {
                if !warnings.contains(&w) {
                    warnings.push(w)
                }
            }
            Verdict::Refused(r) => return Err(r),
        }
    }
    let Some(sig) = signature.as_bytes() else {
        return Err("signature is not a whole number of bytes".into());
    };
    verify_digest_with_params(
        &key.spki,
        key.params.as_ref(),
        &sa,
        &sa.digest.digest(tbs),
        sig,
    )
    .map_err(|e| e.to_string())
}

impl<'a> Validator<'a> {
    /// A validator over `anchors` (trusted), `pool` (untrusted certificates the builder
    /// and the CRL checks may use), `options` and the algorithm `policy`.
    pub fn new(
        anchors: &'a [Certificate],
        pool: &'a [Certificate],
        options: ValidationOptions<'a>,
        policy: &'a dyn Policy,
    ) -> Self {
        Validator {
            anchors,
            pool,
            options,
            policy,
        }
    }

    pub(crate) fn is_anchor(&self, c: &Certificate) -> bool {
        self.anchors.iter().any(|a| {
            a.tbs_certificate().subject() == c.tbs_certificate().subject()
                && a.tbs_certificate().subject_public_key_info()
                    == c.tbs_certificate().subject_public_key_info()
        })
    }

    /// Validate a given path: `chain` is leaf first and ends with a trust anchor (one
    /// of this validator's anchors).
    pub fn validate_chain(&self, chain: &[Certificate]) -> Result<VerifiedPath, ValidationError> {
        let refs: Vec<&Certificate> = chain.iter().collect();
        let Some(last) = refs.last() else {
            return Err(ValidationError::NoIssuer {
                issuer: String::new(),
            });
        };
        if !self.is_anchor(last) {
            return Err(ValidationError::NoIssuer {
                issuer: last.tbs_certificate().issuer().to_string(),
            });
        }
        let checks = Cell::new(0);
        let run = Run {
            checks: &checks,
            depth: 0,
        };
        self.check_chain(&run, &refs)
    }

    /// Build a path from `leaf` to an anchor through the pool and validate it; the
    /// first candidate that validates wins, else the most specific failure.
    pub fn build(&self, leaf: &Certificate) -> Result<VerifiedPath, ValidationError> {
        let checks = Cell::new(0);
        let run = Run {
            checks: &checks,
            depth: 0,
        };
        self.build_in(&run, leaf)
    }

    pub(crate) fn build_in(
        &self,
        run: &Run,
        leaf: &Certificate,
    ) -> Result<VerifiedPath, ValidationError> {
        let mut best: Option<ValidationError> = None;
        let mut path = vec![leaf];
        match self.extend(run, &mut path, &mut best)? {
            Some(p) => Ok(p),
            None => Err(best.unwrap_or_else(|| ValidationError::NoIssuer {
                issuer: leaf.tbs_certificate().issuer().to_string(),
            })),
        }
    }

    fn extend<'c>(
        &'c self,
        run: &Run,
        path: &mut Vec<&'c Certificate>,
        best: &mut Option<ValidationError>,
    ) -> Result<Option<VerifiedPath>, ValidationError> {
        let Some(&current) = path.last() else {
            return Ok(None);
        };
        let note = |best: &mut Option<ValidationError>, e: ValidationError| {
            if best.as_ref().is_none_or(|b| e.rank() > b.rank()) {
                *best = Some(e);
            }
        };
        if path.len() > 1 && self.is_anchor(current) {
            match self.check_chain(run, path) {
                Ok(p) => return Ok(Some(p)),
                Err(ValidationError::Budget) => return Err(ValidationError::Budget),
                Err(e) => {
                    note(best, e);
                    return Ok(None);
                }
            }
        }
        if path.len() > self.options.max_path_len {
            return Ok(None);
        }
        let issuer = current.tbs_certificate().issuer();
        let candidates: Vec<&'c Certificate> = self
            .anchors
            .iter()
            .chain(self.pool.iter())
            .filter(|c| names_match(c.tbs_certificate().subject(), issuer))
            .filter(|c| !path.contains(c))
            .collect();
        for cand in candidates {
            run.spend(self.options.max_signature_checks)?;
            let key = WorkingKey::of(cand);
            let inherits = key.params.is_none()
                && key.spki.algorithm.oid
                    == const_oid::ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
            if !inherits {
                let tbs = tbs_bytes(current)?;
                if let Err(reason) = verify_signature(
                    self.policy,
                    &tbs,
                    current.signature_algorithm(),
                    current.signature(),
                    &key,
                    &mut Vec::new(),
                ) {
                    note(
                        best,
                        ValidationError::BadSignature {
                            subject: subject(current),
                            reason,
                        },
                    );
                    continue;
                }
            }
            path.push(cand);
            let r = self.extend(run, path, best)?;
            path.pop();
            if r.is_some() {
                return Ok(r);
            }
        }
        Ok(None)
    }

    /// RFC 5280 §6.1 over `chain` (leaf first, anchor last).
    pub(crate) fn check_chain(
        &self,
        run: &Run,
        chain: &[&Certificate],
    ) -> Result<VerifiedPath, ValidationError> {
        let o = &self.options;
        let Some((&anchor, rest)) = chain.split_last() else {
            return Err(ValidationError::NoIssuer {
                issuer: String::new(),
            });
        };
        let certs: Vec<&Certificate> = rest.iter().rev().copied().collect(); // 1..n
        let n = certs.len();
        let mut warnings = Vec::new();
        let mut statuses: Vec<CertRevocation> = Vec::new();
        let mut tree = PolicyTree::new();
        let mut constraints = Constraints::default();
        let mut explicit_policy = if o.initial_explicit_policy { 0 } else { n + 1 };
        let mut inhibit_any = if o.initial_any_policy_inhibit {
            0
        } else {
            n + 1
        };
        let mut policy_mapping = if o.initial_policy_mapping_inhibit {
            0
        } else {
            n + 1
        };
        let mut key = WorkingKey::of(anchor);
        let mut issuer_name = anchor.tbs_certificate().subject().clone();
        let mut max_path = n;
        let mut nc_counter = 0usize;
        let mut policy_work = 0usize;
        // The certificates above the one being processed, with their keys, anchor first.
        let mut above: Vec<(&Certificate, WorkingKey)> = vec![(anchor, key.clone())];

        for (idx, &c) in certs.iter().enumerate() {
            let i = idx + 1;
            let last = i == n;
            let tbs = c.tbs_certificate();
            let info = Info::parse(c)?;
            let self_issued = is_self_issued(c);

            // (a)(1) signature
            let tbs_der = tbs_bytes(c)?;
            verify_signature(
                self.policy,
                &tbs_der,
                c.signature_algorithm(),
                c.signature(),
                &key,
                &mut warnings,
            )
            .map_err(|reason| ValidationError::BadSignature {
                subject: subject(c),
                reason,
            })?;
            if c.signature_algorithm() != tbs.signature() {
                return Err(malformed(
                    c,
                    "signature algorithm differs from tbsCertificate.signature",
                ));
            }
            // (a)(4) name chaining
            if !names_match(tbs.issuer(), &issuer_name) {
                return Err(ValidationError::NameChaining {
                    subject: subject(c),
                });
            }
            // (a)(2) validity
            if !crate::is_valid_at(c, o.time) {
                return Err(ValidationError::Expired {
                    subject: subject(c),
                });
            }
            // (a)(3) revocation
            match o.revocation {
                Revocation::Off => {}
                Revocation::Crl(crls) => {
                    let delta =
                        self.check_revocation(run, crls, c, &info, &above, &mut warnings)?;
                    statuses.push(CertRevocation {
                        subject: subject(c),
                        status: RevocationStatus::Good,
                        source: if delta {
                            RevocationSource::DeltaCrl
                        } else {
                            RevocationSource::Crl
                        },
                        detail: None,
                    });
                }
                Revocation::Checked(chk) => {
                    statuses.push(self.check_with_policy(
                        run,
                        chk,
                        c,
                        &info,
                        &above,
                        &mut warnings,
                    )?);
                }
            }
            // (b)(c) name constraints
            if !self_issued || last {
                let names = SubjectNames::new(tbs.subject(), info.san.as_deref());
                constraints
                    .check(&names, &mut nc_counter)
                    .map_err(|reason| ValidationError::NameConstraints {
                        subject: subject(c),
                        reason,
                    })?;
                if nc_counter > crate::MAX_NAME_CONSTRAINT_CHECKS {
                    return Err(ValidationError::Budget);
                }
            }
            // (d)(e) policies
            let mut budget = policy_work;
            match &info.policies {
                Some(p) => tree.process_certificate(
                    p,
                    inhibit_any > 0 || (!last && self_issued),
                    &mut budget,
                ),
                None => tree.set_null(),
            }
            policy_work = budget;
            if policy_work > crate::MAX_POLICY_WORK {
                return Err(ValidationError::Budget);
            }
            // (f)
            if explicit_policy == 0 && tree.is_null() {
                return Err(ValidationError::Policy(format!(
                    "no valid policy at certificate {}",
                    subject(c)
                )));
            }
            if last {
                // §6.1.5
                explicit_policy = explicit_policy.saturating_sub(1);
                if info.pc.as_ref().and_then(|p| p.require_explicit_policy) == Some(0) {
                    explicit_policy = 0;
                }
                if let Some(oid) = info.unknown_critical {
                    return Err(ValidationError::UnknownCriticalExtension {
                        subject: subject(c),
                        oid,
                    });
                }
                tree.intersect(o.initial_policy_set.as_deref());
                if explicit_policy == 0 && tree.is_null() {
                    return Err(ValidationError::Policy(
                        "the path's policies and the acceptable set do not intersect".into(),
                    ));
                }
                break;
            }
            // §6.1.4 preparation for certificate i+1
            if let Some(maps) = &info.mappings {
                if maps
                    .iter()
                    .any(|(a, b)| *a == oids::ANY_POLICY || *b == oids::ANY_POLICY)
                {
                    return Err(ValidationError::Policy(format!(
                        "certificate {} maps anyPolicy",
                        subject(c)
                    )));
                }
                tree.apply_mappings(maps, policy_mapping > 0);
            }
            issuer_name = tbs.subject().clone();
            key = key.next(c);
            if let Some(nc) = &info.nc {
                constraints.add(
                    nc.permitted_subtrees
                        .as_ref()
                        .map(|v| v.iter().map(|s| s.base.clone()).collect::<Vec<_>>())
                        .as_deref(),
                    nc.excluded_subtrees
                        .as_ref()
                        .map(|v| v.iter().map(|s| s.base.clone()).collect::<Vec<_>>())
                        .as_deref(),
                );
            }
            if !self_issued {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            if let Some(pc) = &info.pc {
                if let Some(r) = pc.require_explicit_policy {
                    explicit_policy = explicit_policy.min(r as usize);
                }
                if let Some(m) = pc.inhibit_policy_mapping {
                    policy_mapping = policy_mapping.min(m as usize);
                }
            }
            if let Some(s) = info.inhibit_any {
                inhibit_any = inhibit_any.min(s as usize);
            }
            if !info.is_ca() {
                return Err(ValidationError::NotACa {
                    subject: subject(c),
                    reason: "basicConstraints does not assert cA".into(),
                });
            }
            if !self_issued {
                if max_path == 0 {
                    return Err(ValidationError::NotACa {
                        subject: subject(c),
                        reason: "pathLenConstraint exceeded".into(),
                    });
                }
                max_path -= 1;
            }
            if let Some(l) = info.bc.as_ref().and_then(|b| b.path_len_constraint) {
                max_path = max_path.min(l as usize);
            }
            if !info.allows(KeyUsages::KeyCertSign) {
                return Err(ValidationError::NotACa {
                    subject: subject(c),
                    reason: "keyUsage lacks keyCertSign".into(),
                });
            }
            if let Some(oid) = info.unknown_critical {
                return Err(ValidationError::UnknownCriticalExtension {
                    subject: subject(c),
                    oid,
                });
            }
            above.push((c, key.clone()));
        }
        let policies = if tree.is_null() {
            Vec::new()
        } else {
            tree.leaf_policies()
        };
        statuses.reverse();
        Ok(VerifiedPath {
            chain: chain.iter().map(|c| (*c).clone()).collect(),
            warnings,
            revocation: statuses,
            policies,
            leaf_key: key_of_leaf(chain, &above),
        })
    }
}

fn key_of_leaf(chain: &[&Certificate], above: &[(&Certificate, WorkingKey)]) -> Option<WorkingKey> {
    let leaf = chain.first()?;
    let (_, issuer_key) = above.last()?;
    Some(issuer_key.next(leaf))
}

/// The DER of the TBSCertificate as signed. x509-cert's RFC 5280 profile re-encodes a
/// validity date before 2050 written as GeneralizedTime as UTCTime (PKITS 4.2.4):
/// put the times back as they were received. A view of a certificate with a pre-1970
/// UTCTime gives back the bytes received (see [`crate::cert`]).
pub(crate) fn tbs_bytes(c: &Certificate) -> Result<Vec<u8>, ValidationError> {
    let tbs = c.tbs_certificate();
    let m = |e: der::Error| malformed(c, e.to_string());
    let der = tbs.to_der().map_err(m)?;
    let v = tbs.validity();
    let adjusted = v.to_der().map_err(m)?;
    let mut times = v.not_before.to_der().map_err(m)?;
    times.extend(v.not_after.to_der().map_err(m)?);
    let raw = Any::new(der::Tag::Sequence, times)
        .and_then(|a| a.to_der())
        .map_err(m)?;
    if let Some(original) = crate::cert::signed_tbs(c, &der, &raw).map_err(|e| malformed(c, e))? {
        return Ok(original);
    }
    if raw == adjusted {
        return Ok(der);
    }
    let skip = tbs.serial_number().to_der().map_err(m)?.len()
        + tbs.signature().to_der().map_err(m)?.len()
        + tbs.issuer().to_der().map_err(m)?.len();
    let outer = Any::from_der(&der).map_err(m)?;
    let content = outer.value();
    let Some(pos) = content
        .windows(adjusted.len())
        .skip(skip)
        .position(|w| w == adjusted.as_slice())
        .map(|p| p + skip)
    else {
        return Err(malformed(c, "validity not found in tbsCertificate"));
    };
    let mut fixed = content[..pos].to_vec();
    fixed.extend_from_slice(&raw);
    fixed.extend_from_slice(&content[pos + adjusted.len()..]);
    Any::new(der::Tag::Sequence, fixed)
        .and_then(|a| a.to_der())
        .map_err(m)
}
