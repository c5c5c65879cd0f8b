//! Signed attributes of S/MIME signatures (RFC 5652 §11, RFC 8551 §2.5, RFC 5035).
//!
//! The `cms` crate has no types for the ESS and S/MIME attributes, so they are written
//! here in the RustCrypto style (types mirror the ASN.1).

use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use crate::CmsError;
use mss_algs::oid;

/// ```text
/// SMIMECapability ::= SEQUENCE {
///    capabilityID OBJECT IDENTIFIER,
///    parameters ANY DEFINED BY capabilityID OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SmimeCapability {
    /// The capability (an algorithm OID).
    pub capability_id: ObjectIdentifier,
    /// Optional parameters.
    pub parameters: Option<Any>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash Hash,
///     issuerSerial IssuerSerial OPTIONAL }
/// ```
/// (RFC 5035 §3). `issuerSerial` is read but never written.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// Absent means SHA-256.
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the whole certificate DER.
    pub cert_hash: OctetString,
    /// IssuerSerial (kept opaque).
    pub issuer_serial: Option<Any>,
}

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs SEQUENCE OF ESSCertIDv2,
///     policies SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
    /// Policies (kept opaque).
    pub policies: Option<Any>,
}

/// ```text
/// ESSCertID ::= SEQUENCE {
///     certHash Hash,  -- SHA-1 of the whole certificate
///     issuerSerial IssuerSerial OPTIONAL }
/// ```
/// (RFC 2634 §5.4.1). Read only: mss writes `signingCertificateV2`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    /// SHA-1 hash of the whole certificate DER.
    pub cert_hash: OctetString,
    /// IssuerSerial (kept opaque).
    pub issuer_serial: Option<Any>,
}

/// ```text
/// SigningCertificate ::= SEQUENCE {
///     certs SEQUENCE OF ESSCertID,
///     policies SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
/// (RFC 2634 §5.4). Read only.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    /// The signer's certificate first.
    pub certs: Vec<EssCertId>,
    /// Policies (kept opaque).
    pub policies: Option<Any>,
}

fn attr(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    let mut values = SetOfVec::new();
    values
        .insert(value)
        .map_err(|e| CmsError::Encoding(e.to_string()))?;
    Ok(Attribute { oid, values })
}

fn any_of<T: Encode>(v: &T) -> Result<Any, CmsError> {
    let der = v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))?;
    Any::from_der(&der).map_err(|e| CmsError::Encoding(e.to_string()))
}

/// `contentType` attribute.
pub fn content_type(ct: ObjectIdentifier) -> Result<Attribute, CmsError> {
    attr(oid::ID_CONTENT_TYPE, any_of(&ct)?)
}

/// `messageDigest` attribute.
pub fn message_digest(digest: &[u8]) -> Result<Attribute, CmsError> {
    let os = OctetString::new(digest.to_vec()).map_err(|e| CmsError::Encoding(e.to_string()))?;
    attr(oid::ID_MESSAGE_DIGEST, any_of(&os)?)
}

/// `signingTime` attribute (UTCTime until 2049, GeneralizedTime after, as RFC 5652 asks).
pub fn signing_time(t: std::time::SystemTime) -> Result<Attribute, CmsError> {
    let time = Time::try_from(t).map_err(|e| CmsError::Encoding(e.to_string()))?;
    attr(oid::ID_SIGNING_TIME, any_of(&time)?)
}

/// `sMIMECapabilities` attribute announcing what mss can decrypt, preferred first.
pub fn smime_capabilities() -> Result<Attribute, CmsError> {
    let caps: Vec<SmimeCapability> = [
        oid::ID_AES256_GCM,
        oid::ID_AES128_GCM,
        oid::ID_AES256_CBC,
        oid::ID_AES192_CBC,
        oid::ID_AES128_CBC,
        oid::ID_RSAES_OAEP,
    ]
    .into_iter()
    .map(|capability_id| SmimeCapability {
        capability_id,
        parameters: None,
    })
    .collect();
    attr(oid::SMIME_CAPABILITIES, any_of(&caps)?)
}

/// `id-aa-signingCertificateV2` attribute binding the signer's certificate (SHA-256).
pub fn signing_certificate_v2(cert_der: &[u8]) -> Result<Attribute, CmsError> {
    let hash = mss_algs::digest::DigestAlgorithm::Sha256.digest(cert_der);
    let id = EssCertIdV2 {
        hash_algorithm: None,
        cert_hash: OctetString::new(hash).map_err(|e| CmsError::Encoding(e.to_string()))?,
        issuer_serial: None,
    };
    let v = SigningCertificateV2 {
        certs: vec![id],
        policies: None,
    };
    attr(oid::ID_AA_SIGNING_CERTIFICATE_V2, any_of(&v)?)
}

/// The single value of attribute `oid` in `attrs`. Several attributes of that type, or
/// several values, are malformed (RFC 5652 §11 requires exactly one).
pub fn single_value(attrs: &[Attribute], oid: ObjectIdentifier) -> Result<Option<&Any>, CmsError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(a) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || a.values.len() != 1 {
        return Err(CmsError::Malformed(format!(
            "attribute {oid} must occur once with one value"
        )));
    }
    Ok(a.values.iter().next())
}

/// The first attribute type occurring more than once in `attrs`, if any.
///
/// A signer's attribute set with two attributes of one type is ambiguous (which one
/// did the signer mean?); RFC 5652 §11 and RFC 5035 §3 forbid it for the types they
/// define, and mss refuses it for every type in signed attributes.
pub fn duplicate_type(attrs: &[Attribute]) -> Option<ObjectIdentifier> {
    let mut seen = std::collections::BTreeSet::new();
    attrs.iter().map(|a| a.oid).find(|oid| !seen.insert(*oid))
}
