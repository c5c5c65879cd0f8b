//! # mss-pki — trust for mss
//!
//! Decides whether a signer's certificate chains to an anchor the caller trusts:
//! a small path builder over the message's certificates, the caller's extra
//! certificates and the trust anchors, checking each link's signature, validity at the
//! reference time and CA constraints, with a budget so a hostile set of certificates
//! cannot burn the CPU.
//!
//! [`verify_path`] is the simple entry point (no revocation, any policy); it runs the
//! full RFC 5280 §6 validator, [`Validator`], whose [`ValidationOptions`] carry the
//! initial policy settings and the revocation source ([`Revocation::Crl`]: CRL v2 with
//! delta CRLs, distribution points, indirect CRLs; [`Revocation::Checked`]: a
//! [`RevocationChecker`] policy over CRLs given, found or fetched and OCSP, hard or
//! soft fail). [`verify_path_with`] takes those options.
//!
//! Around it: [`anchors`] loads trust anchors (PEM, DER, directories, PKCS#7
//! bundles), [`decode_certificate`] reads certificates x509-cert alone refuses (a
//! 1950 UTCTime), [`fetch`] gets CRLs and OCSP answers over `http://`, [`ocsp`] is
//! the RFC 6960 client, [`revocation`] the policy and the CRL cache.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod anchors;
mod cert;
mod crl;
pub mod fetch;
mod names;
pub mod ocsp;
mod oids;
mod policy_tree;
pub mod revocation;
mod validate;

pub use cert::{ORIGINAL_VALIDITY, decode_certificate};
pub use crl::decode_crl;
pub use names::names_match;
pub use revocation::{
    CertRevocation, CrlCache, RevocationChecker, RevocationMode, RevocationSource, RevocationStatus,
};
pub use validate::{Revocation, ValidationError, ValidationOptions, Validator};

use std::time::SystemTime;

use const_oid::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};

use mss_algs::digest::DigestAlgorithm;
use mss_algs::oid;
use mss_algs::policy::Policy;
use mss_algs::signature::SignatureAlgorithm;

/// Maximum number of certificates in a path (leaf included).
pub const MAX_PATH_LEN: usize = 8;
/// Maximum number of signature checks per path search (default of
/// [`ValidationOptions::max_signature_checks`]).
pub const MAX_SIGNATURE_CHECKS: usize = 64;
/// Maximum number of name-constraint comparisons per path.
pub const MAX_NAME_CONSTRAINT_CHECKS: usize = 4096;
/// Maximum policy-tree work (node visits) per path: policy mappings can make the
/// RFC 5280 tree grow exponentially.
pub const MAX_POLICY_WORK: usize = 16_384;

/// Why a certificate is not trusted. Ordered roughly from most to least specific.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A certificate of the only candidate path is outside its validity period.
    #[error("certificate {subject} is outside its validity period")]
    Expired {
        /// Subject of the expired certificate.
        subject: String,
    },
    /// The certificate is not valid for S/MIME (key usage / extended key usage).
    #[error("certificate {subject} is not valid for {purpose}")]
    WrongUsage {
        /// Subject of the certificate.
        subject: String,
        /// What was needed.
        purpose: String,
    },
    /// No chain to a trust anchor could be built.
    #[error("no chain to a trusted authority: {0}")]
    Untrusted(String),
    /// The path search exceeded its budget.
    #[error("path building gave up (budget exhausted)")]
    Budget,
    /// A certificate of the path is revoked.
    #[error("certificate {subject} is revoked ({reason}, by {by})")]
    Revoked {
        /// Subject of the revoked certificate.
        subject: String,
        /// The CRL reason code.
        reason: String,
        /// Who said so.
        by: RevocationSource,
    },
    /// No source could tell whether a certificate is revoked (hard fail).
    #[error("revocation status of {subject} is unknown: {reason}")]
    RevocationUnknown {
        /// The certificate.
        subject: String,
        /// Why each source could not tell.
        reason: String,
    },
}

impl From<ValidationError> for PathError {
    fn from(e: ValidationError) -> Self {
        match e {
            ValidationError::Expired { subject } => PathError::Expired { subject },
            ValidationError::Budget => PathError::Budget,
            ValidationError::Revoked {
                subject,
                reason,
                by,
            } => PathError::Revoked {
                subject,
                reason,
                by,
            },
            ValidationError::RevocationUnknown { subject, reason } => {
                PathError::RevocationUnknown { subject, reason }
            }
            other => PathError::Untrusted(other.to_string()),
        }
    }
}

/// A path that validated: leaf first, trust anchor last. Only [`verify_path`] and
/// [`Validator`] make one.
#[derive(Debug, Clone)]
pub struct VerifiedPath {
    chain: Vec<Certificate>,
    warnings: Vec<String>,
    revocation: Vec<CertRevocation>,
    policies: Vec<ObjectIdentifier>,
    leaf_key: Option<validate::WorkingKey>,
}

impl VerifiedPath {
    /// The certificates, leaf first, anchor last.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
    /// Policy warnings met on the way (weak algorithms in certificate signatures,
    /// revocation unknown under soft fail).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The revocation outcome of each certificate of the path but the anchor, leaf
    /// first; empty when revocation was not checked.
    pub fn revocation(&self) -> &[CertRevocation] {
        &self.revocation
    }
    /// The valid policies of the path (RFC 5280 §6.1.6 `valid_policy_tree` leaves,
    /// after intersection with the initial policy set; may contain anyPolicy). Empty
    /// when the tree is NULL (allowed when no explicit policy is required).
    pub fn policies(&self) -> &[ObjectIdentifier] {
        &self.policies
    }
}

/// The signature algorithm of a certificate or CRL (the OID names the digest; for
/// RSA-PSS the parameters do).
pub fn certificate_signature_algorithm(
    alg: &spki::AlgorithmIdentifierOwned,
) -> Option<SignatureAlgorithm> {
    let by_oid: &[(ObjectIdentifier, DigestAlgorithm)] = &[
        (oid::SHA256_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha256),
        (oid::SHA384_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha384),
        (oid::SHA512_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha512),
        (oid::SHA224_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha224),
        (oid::SHA1_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha1),
        (oid::MD5_WITH_RSA_ENCRYPTION, DigestAlgorithm::Md5),
    ];
    if let Some((_, d)) = by_oid.iter().find(|(o, _)| *o == alg.oid) {
        return SignatureAlgorithm::from_algorithm_identifier(alg, *d).ok();
    }
    // RSA-PSS: the parameters carry the hash; from_algorithm_identifier checks agreement.
    [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
        DigestAlgorithm::Sha224,
        DigestAlgorithm::Sha1,
    ]
    .into_iter()
    .find_map(|d| SignatureAlgorithm::from_algorithm_identifier(alg, d).ok())
}

fn subject_string(c: &Certificate) -> String {
    c.tbs_certificate().subject().to_string()
}

/// Is `time` within the certificate's validity?
pub fn is_valid_at(c: &Certificate, time: SystemTime) -> bool {
    let v = c.tbs_certificate().validity();
    v.not_before.to_system_time() <= time && time <= v.not_after.to_system_time()
}

/// Build and check a path from `leaf` to one of `anchors`, using `intermediates` (the
/// message's certificates and the caller's store), at `time`: full RFC 5280 §6
/// validation (signatures, validity, CA constraints, key usage, name constraints,
/// policies with any policy acceptable), no revocation checking. For CRLs and policy
/// settings use [`Validator`].
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    time: SystemTime,
    policy: &dyn Policy,
) -> Result<VerifiedPath, PathError> {
    verify_path_with(
        leaf,
        intermediates,
        anchors,
        ValidationOptions::at(time),
        policy,
    )
}

/// [`verify_path`] with full [`ValidationOptions`] (reference time, policy settings,
/// revocation: e.g. a [`RevocationChecker`] through
/// [`ValidationOptions::with_checker`]). A leaf that is itself an anchor is trusted
/// as such (no revocation check).
pub fn verify_path_with(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    options: ValidationOptions<'_>,
    policy: &dyn Policy,
) -> Result<VerifiedPath, PathError> {
    let time = options.time;
    if !is_valid_at(leaf, time) {
        return Err(PathError::Expired {
            subject: subject_string(leaf),
        });
    }
    let v = Validator::new(anchors, intermediates, options, policy);
    if v.is_anchor(leaf) {
        return Ok(VerifiedPath {
            chain: vec![leaf.clone()],
            warnings: Vec::new(),
            revocation: Vec::new(),
            policies: vec![oids::ANY_POLICY],
            leaf_key: Some(validate::WorkingKey::of(leaf)),
        });
    }
    v.build(leaf).map_err(PathError::from)
}

/// S/MIME signer checks (RFC 8550 §4.4): when present, keyUsage must allow
/// digitalSignature or nonRepudiation, and extendedKeyUsage must include
/// emailProtection (or anyExtendedKeyUsage).
pub fn check_smime_signer(c: &Certificate) -> Result<(), PathError> {
    if let Ok(Some((_, ku))) = c.tbs_certificate().get_extension::<KeyUsage>()
        && !(ku.0.contains(KeyUsages::DigitalSignature) || ku.0.contains(KeyUsages::NonRepudiation))
    {
        return Err(PathError::WrongUsage {
            subject: subject_string(c),
            purpose: "signing (keyUsage)".into(),
        });
    }
    check_email_eku(c)
}

/// S/MIME recipient checks: keyUsage (when present) must allow keyEncipherment, and
/// extendedKeyUsage (when present) must include emailProtection.
pub fn check_smime_recipient(c: &Certificate) -> Result<(), PathError> {
    if let Ok(Some((_, ku))) = c.tbs_certificate().get_extension::<KeyUsage>()
        && !ku.0.contains(KeyUsages::KeyEncipherment)
    {
        return Err(PathError::WrongUsage {
            subject: subject_string(c),
            purpose: "encryption (keyUsage)".into(),
        });
    }
    check_email_eku(c)
}

fn check_email_eku(c: &Certificate) -> Result<(), PathError> {
    if let Ok(Some((_, eku))) = c.tbs_certificate().get_extension::<ExtendedKeyUsage>()
        && !eku
            .0
            .iter()
            .any(|o| *o == oid::ID_KP_EMAIL_PROTECTION || *o == oid::ANY_EXTENDED_KEY_USAGE)
    {
        return Err(PathError::WrongUsage {
            subject: subject_string(c),
            purpose: "e-mail protection (extendedKeyUsage)".into(),
        });
    }
    Ok(())
}
