//! # mss-pki — trust for mss
//!
//! Decides whether a signer's certificate chains to an anchor the caller trusts:
//! a small path builder over the message's certificates, the caller's extra
//! certificates and the trust anchors, checking each link's signature, validity at the
//! reference time and CA constraints, with a budget so a hostile set of certificates
//! cannot burn the CPU.
//!
//! This is the first stage of the trust layer: full RFC 5280 processing (policies, name
//! constraints), CRL v2 and OCSP arrive with the trust issue and plug in here, behind the
//! same [`verify_path`] entry point and [`PathError`] verdicts.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::SystemTime;

use const_oid::ObjectIdentifier;
use der::Encode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use mss_algs::digest::DigestAlgorithm;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage, Verdict};
use mss_algs::signature::{SignatureAlgorithm, public_key_bits, verify_digest};

/// Maximum number of certificates in a path (leaf included).
pub const MAX_PATH_LEN: usize = 8;
/// Maximum number of signature checks per path search.
pub const MAX_SIGNATURE_CHECKS: usize = 64;

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
}

/// A path that validated: leaf first, trust anchor last. Only [`verify_path`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedPath {
    chain: Vec<Certificate>,
    warnings: Vec<String>,
}

impl VerifiedPath {
    /// The certificates, leaf first, anchor last.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
    /// Policy warnings met on the way (weak algorithms in certificate signatures).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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

fn is_ca(c: &Certificate) -> bool {
    matches!(c.tbs_certificate().get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

/// Check that `issuer` signed `subject`; returns policy warnings.
fn check_signature(
    subject: &Certificate,
    issuer: &Certificate,
    policy: &dyn Policy,
    warnings: &mut Vec<String>,
) -> bool {
    let Some(alg) = certificate_signature_algorithm(subject.signature_algorithm()) else {
        return false;
    };
    let spki = issuer.tbs_certificate().subject_public_key_info();
    let Ok(bits) = public_key_bits(spki) else {
        return false;
    };
    for v in [
        policy.digest(alg.digest, Usage::Accept),
        policy.signature(&alg, bits, Usage::Accept),
    ] {
        match v {
            Verdict::Allowed => {}
            Verdict::Weak(w) => {
                if !warnings.contains(&w) {
                    warnings.push(w)
                }
            }
            Verdict::Refused(_) => return false,
        }
    }
    let Ok(tbs) = subject.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig) = subject.signature().as_bytes() else {
        return false;
    };
    verify_digest(spki, &alg, &alg.digest.digest(&tbs), sig).is_ok()
}

struct Search<'a> {
    pool: Vec<&'a Certificate>,
    anchors: &'a [Certificate],
    time: SystemTime,
    policy: &'a dyn Policy,
    checks: usize,
    expired: Option<String>,
    warnings: Vec<String>,
}

impl Search<'_> {
    fn is_anchor(&self, c: &Certificate) -> bool {
        self.anchors.iter().any(|a| {
            a.tbs_certificate().subject() == c.tbs_certificate().subject()
                && a.tbs_certificate().subject_public_key_info()
                    == c.tbs_certificate().subject_public_key_info()
        })
    }

    /// Extend `path` (last element = current) to an anchor.
    fn extend(&mut self, path: &mut Vec<Certificate>) -> Result<bool, PathError> {
        let Some(current) = path.last().cloned() else {
            return Ok(false);
        };
        if self.is_anchor(&current) {
            return Ok(true);
        }
        if path.len() >= MAX_PATH_LEN {
            return Ok(false);
        }
        let issuer_name = current.tbs_certificate().issuer().clone();
        let candidates: Vec<Certificate> = self
            .anchors
            .iter()
            .chain(self.pool.iter().copied())
            .filter(|c| c.tbs_certificate().subject() == &issuer_name && !path.contains(c))
            .cloned()
            .collect();
        for cand in candidates {
            self.checks += 1;
            if self.checks > MAX_SIGNATURE_CHECKS {
                return Err(PathError::Budget);
            }
            let anchor = self.is_anchor(&cand);
            if !anchor && !is_ca(&cand) {
                continue;
            }
            let mut w = Vec::new();
            if !check_signature(&current, &cand, self.policy, &mut w) {
                continue;
            }
            if !anchor && !is_valid_at(&cand, self.time) {
                self.expired.get_or_insert_with(|| subject_string(&cand));
                continue;
            }
            path.push(cand);
            if self.extend(path)? {
                for x in w {
                    if !self.warnings.contains(&x) {
                        self.warnings.push(x)
                    }
                }
                return Ok(true);
            }
            path.pop();
        }
        Ok(false)
    }
}

/// Build and check a path from `leaf` to one of `anchors`, using `intermediates` (the
/// message's certificates and the caller's store), at `time`.
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    time: SystemTime,
    policy: &dyn Policy,
) -> Result<VerifiedPath, PathError> {
    if !is_valid_at(leaf, time) {
        return Err(PathError::Expired {
            subject: subject_string(leaf),
        });
    }
    let mut s = Search {
        pool: intermediates.iter().collect(),
        anchors,
        time,
        policy,
        checks: 0,
        expired: None,
        warnings: Vec::new(),
    };
    let mut path = vec![leaf.clone()];
    if s.extend(&mut path)? {
        return Ok(VerifiedPath {
            chain: path,
            warnings: s.warnings,
        });
    }
    if let Some(subject) = s.expired {
        return Err(PathError::Expired { subject });
    }
    Err(PathError::Untrusted(format!(
        "no trusted issuer found for {}",
        leaf.tbs_certificate().issuer()
    )))
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
