//! DigestedData (RFC 5652 §7): content with a digest (integrity against accidents, not
//! an attacker: there is no key).
//!
//! ```text
//! DigestedData ::= SEQUENCE {
//!   version CMSVersion,
//!   digestAlgorithm DigestAlgorithmIdentifier,
//!   encapContentInfo EncapsulatedContentInfo,
//!   digest Digest }
//! ```

use const_oid::ObjectIdentifier;
use der::{Decode, Tagged};

use mss_algs::digest::DigestAlgorithm;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage, Verdict};

use crate::CmsError;
use crate::content::ContentInfo;

/// A DigestedData as received, with the verdict on its digest.
#[derive(Debug, Clone)]
pub struct Digested {
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// The encapsulated content.
    pub content: Vec<u8>,
    /// The digest algorithm.
    pub digest: DigestAlgorithm,
    /// True when the digest of the content equals the `digest` field.
    pub matches: bool,
    /// Policy warnings (e.g. `weak-algorithm: md5`).
    pub warnings: Vec<String>,
}

/// Parse a DigestedData `ContentInfo` and check its digest. A mismatch is reported in
/// [`Digested::matches`], not as an error; an algorithm the policy refuses is an error.
pub fn verify(ci: &ContentInfo, policy: &dyn Policy) -> Result<Digested, CmsError> {
    if ci.content_type != oid::ID_DIGESTED_DATA {
        return Err(CmsError::Unsupported(format!(
            "not a DigestedData: {}",
            ci.content_type
        )));
    }
    let dd = cms::digested_data::DigestedData::from_der(&ci.content)?;
    let digest = DigestAlgorithm::from_oid(&dd.digest_alg.oid)?;
    let mut warnings = Vec::new();
    match policy.digest(digest, Usage::Accept) {
        Verdict::Allowed => {}
        Verdict::Weak(w) => warnings.push(w),
        Verdict::Refused(what) => {
            return Err(CmsError::Alg(mss_algs::AlgError::PolicyViolation {
                policy: policy.name().to_string(),
                what,
            }));
        }
    }
    let content = match &dd.encap_content_info.econtent {
        None => {
            return Err(CmsError::Unsupported(
                "DigestedData without its content".into(),
            ));
        }
        Some(any) => {
            if any.tag() != der::Tag::OctetString {
                return Err(CmsError::Malformed(
                    "eContent is not an OCTET STRING".into(),
                ));
            }
            any.value().to_vec()
        }
    };
    let matches = digest.digest(&content) == dd.digest.as_bytes();
    Ok(Digested {
        content_type: dd.encap_content_info.econtent_type,
        content,
        digest,
        matches,
        warnings,
    })
}
