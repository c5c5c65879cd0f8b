//! SignedData (RFC 5652 §5): signing with any number of signers, and verifying every
//! signer of a received message.
//!
//! Signing always uses signed attributes (contentType, signingTime, messageDigest,
//! sMIMECapabilities, ESS signingCertificateV2) and ships the signer's certificate chain.
//! Verification returns one [`SignerResult`] per signer — a verdict is data, not an
//! error — and never trusts anything: the chain is the caller's (`mss-pki`) business.
//!
//! The structure is walked at the TLV level so that the exact bytes of each signer's
//! signed attributes are the ones verified, signer order is kept, and one undecodable
//! certificate does not hide the others.

use std::time::SystemTime;

use cms::cert::IssuerAndSerialNumber;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage, Verdict};
use mss_algs::signature::{
    SignatureAlgorithm, SignatureScheme, public_key_bits, public_key_bits_with_params,
    verify_digest_with_params, verify_message,
};

use crate::attributes::{self, SigningCertificate, SigningCertificateV2};
use crate::content::ContentInfo;
use crate::{CmsError, ber};

/// One signer to sign with.
pub struct SignerSpec<'a> {
    /// The key (and its certificate).
    pub key: &'a dyn SigningKey,
    /// Scheme and digest.
    pub algorithm: SignatureAlgorithm,
    /// Identify the signer by subjectKeyIdentifier instead of issuerAndSerialNumber.
    pub identify_by_ski: bool,
}

/// How to build the SignedData.
#[derive(Debug, Clone)]
pub struct SignParams {
    /// Detached (content not included: multipart/signed) or opaque.
    pub detached: bool,
    /// The signingTime attribute; `None` means now.
    pub signing_time: Option<SystemTime>,
}

impl Default for SignParams {
    fn default() -> Self {
        SignParams {
            detached: true,
            signing_time: None,
        }
    }
}

fn enc<T: Encode>(v: &T) -> Result<Vec<u8>, CmsError> {
    v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))
}

pub(crate) fn check_verdict(v: Verdict) -> Result<Option<String>, CmsError> {
    match v {
        Verdict::Allowed => Ok(None),
        Verdict::Weak(w) => Ok(Some(w)),
        Verdict::Refused(why) => Err(CmsError::Alg(AlgError::PolicyViolation {
            policy: String::new(),
            what: why,
        })),
    }
}

/// The certificate's subjectKeyIdentifier, if it has one.
pub fn subject_key_identifier(cert: &Certificate) -> Option<Vec<u8>> {
    match cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
    {
        Ok(Some((_, ski))) => Some(ski.0.as_bytes().to_vec()),
        _ => None,
    }
}

/// The digest algorithm identifier as written (parameters absent, RFC 5754).
fn digest_alg_id(d: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: d.oid(),
        parameters: None,
    }
}

/// Sign `content` (an id-data payload: the canonical MIME entity) and return the DER
/// `ContentInfo` holding the SignedData.
pub fn sign(
    content: &[u8],
    signers: &[SignerSpec<'_>],
    params: &SignParams,
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    sign_source(
        Signed::Content(content),
        oid::ID_DATA,
        signers,
        params,
        &[],
        policy,
    )
}

/// Like [`sign`], for content of type `content_type` (e.g. `id-ct-receipt`), with
/// `extra_attrs` (e.g. an ESS `receiptRequest` or `msgSigDigest`) added to every
/// signer's signed attributes after the usual ones. An extra attribute of a type mss
/// already writes is refused (a signer's attribute types must be unique).
pub fn sign_with_attributes(
    content: &[u8],
    content_type: ObjectIdentifier,
    signers: &[SignerSpec<'_>],
    params: &SignParams,
    extra_attrs: &[Attribute],
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    sign_source(
        Signed::Content(content),
        content_type,
        signers,
        params,
        extra_attrs,
        policy,
    )
}

/// Sign content that was hashed beforehand (streaming): `digests` holds the content's
/// digest for every digest algorithm of `signers`. The result is a detached SignedData
/// (`params.detached` is ignored: the content is not here).
pub fn sign_digests(
    digests: &[(DigestAlgorithm, Vec<u8>)],
    signers: &[SignerSpec<'_>],
    params: &SignParams,
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    sign_digests_with_attributes(digests, signers, params, &[], policy)
}

/// [`sign_digests`] with extra signed attributes (a `receiptRequest`…) for every
/// signer, as [`sign_with_attributes`] adds them.
pub fn sign_digests_with_attributes(
    digests: &[(DigestAlgorithm, Vec<u8>)],
    signers: &[SignerSpec<'_>],
    params: &SignParams,
    extra_attrs: &[Attribute],
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    sign_source(
        Signed::Digests(digests),
        oid::ID_DATA,
        signers,
        params,
        extra_attrs,
        policy,
    )
}

/// What is signed: the content itself or its digests.
#[derive(Clone, Copy)]
enum Signed<'a> {
    Content(&'a [u8]),
    Digests(&'a [(DigestAlgorithm, Vec<u8>)]),
}

fn sign_source(
    source: Signed<'_>,
    content_type: ObjectIdentifier,
    signers: &[SignerSpec<'_>],
    params: &SignParams,
    extra_attrs: &[Attribute],
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    if signers.is_empty() {
        return Err(CmsError::Unsupported("no signer given".into()));
    }
    let now = params.signing_time.unwrap_or_else(SystemTime::now);
    let mut digest_algs: Vec<AlgorithmIdentifierOwned> = Vec::new();
    let mut certs: Vec<Certificate> = Vec::new();
    let mut infos: Vec<SignerInfo> = Vec::new();
    let mut any_ski = false;
    for s in signers {
        let alg = s.algorithm;
        let cert = s.key.certificate();
        let spki = cert.tbs_certificate().subject_public_key_info();
        let bits = if spki.algorithm.oid == oid::ID_DSA && !has_params(spki) {
            // A DSA key inheriting its parameters (RFC 3279): from the shipped chain.
            let inherited = inherited_dsa_parameters(cert, s.key.chain().iter());
            public_key_bits_with_params(spki, inherited.as_ref())?
        } else {
            public_key_bits(spki)?
        };
        check_verdict(policy.digest(alg.digest, Usage::Produce))
            .map_err(|e| name_policy(e, policy))?;
        check_verdict(policy.signature(&alg, bits, Usage::Produce))
            .map_err(|e| name_policy(e, policy))?;
        if !s.key.supports(&alg) {
            return Err(CmsError::Unsupported(format!(
                "the signing key cannot produce {}",
                alg.name()
            )));
        }
        let cert_der = enc(cert)?;
        let content_digest = match source {
            Signed::Content(content) => alg.digest.digest(content),
            Signed::Digests(d) => d
                .iter()
                .find(|(a, _)| *a == alg.digest)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    CmsError::Unsupported(format!("no {} digest of the content", alg.digest.name()))
                })?,
        };
        let mut attrs: Vec<Attribute> = vec![
            attributes::content_type(content_type)?,
            attributes::signing_time(now)?,
            attributes::message_digest(&content_digest)?,
            attributes::smime_capabilities()?,
            attributes::signing_certificate_v2(&cert_der)?,
        ];
        attrs.extend(extra_attrs.iter().cloned());
        if let Some(dup) = attributes::duplicate_type(&attrs) {
            return Err(CmsError::Unsupported(format!(
                "signed attribute {dup} given twice"
            )));
        }
        let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(std::mem::take(&mut attrs))
            .map_err(|e| CmsError::Encoding(e.to_string()))?;
        let to_sign = enc(&signed_attrs)?;
        let signature = if alg.is_prehash() {
            s.key.sign_digest(&alg, &alg.digest.digest(&to_sign))?
        } else {
            // Pure EdDSA (RFC 8419 §3.2): the signature is over the DER of the signed
            // attributes themselves.
            s.key.sign_message(&alg, &to_sign)?
        };
        let sid = if s.identify_by_ski {
            let ski = subject_key_identifier(cert).ok_or_else(|| {
                CmsError::Unsupported("the signer's certificate has no subjectKeyIdentifier".into())
            })?;
            any_ski = true;
            SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(OctetString::new(ski)?))
        } else {
            SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            })
        };
        infos.push(SignerInfo {
            version: if s.identify_by_ski {
                cms::content_info::CmsVersion::V3
            } else {
                cms::content_info::CmsVersion::V1
            },
            sid,
            digest_alg: digest_alg_id(alg.digest),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: alg.to_algorithm_identifier()?,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        });
        let d = digest_alg_id(alg.digest);
        if !digest_algs.contains(&d) {
            digest_algs.push(d);
        }
        for c in std::iter::once(cert).chain(s.key.chain().iter()) {
            if !certs.contains(c) {
                certs.push(c.clone());
            }
        }
    }
    let econtent = match source {
        Signed::Content(content) if !params.detached => {
            Some(Any::from_der(&enc(&OctetString::new(content.to_vec())?)?)?)
        }
        _ => None,
    };
    let cert_choices: Vec<cms::cert::CertificateChoices> = certs
        .into_iter()
        .map(cms::cert::CertificateChoices::Certificate)
        .collect();
    let sd = SignedData {
        version: if any_ski {
            cms::content_info::CmsVersion::V3
        } else {
            cms::content_info::CmsVersion::V1
        },
        digest_algorithms: SetOfVec::try_from(digest_algs)
            .map_err(|e| CmsError::Encoding(e.to_string()))?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent,
        },
        certificates: Some(
            cms::signed_data::CertificateSet::try_from(cert_choices)
                .map_err(|e| CmsError::Encoding(e.to_string()))?,
        ),
        crls: None,
        signer_infos: cms::signed_data::SignerInfos::try_from(infos)
            .map_err(|e| CmsError::Encoding(e.to_string()))?,
    };
    ContentInfo::encode(oid::ID_SIGNED_DATA, &enc(&sd)?)
}

pub(crate) fn name_policy(e: CmsError, policy: &dyn Policy) -> CmsError {
    match e {
        CmsError::Alg(AlgError::PolicyViolation { what, .. }) => {
            CmsError::Alg(AlgError::PolicyViolation {
                policy: policy.name().to_string(),
                what,
            })
        }
        other => other,
    }
}

/// One signer as it stands in the message.
#[derive(Debug, Clone)]
pub struct ParsedSigner {
    /// The decoded SignerInfo, or why it could not be decoded.
    pub info: Result<SignerInfo, String>,
    /// The signed attributes exactly as received, re-tagged as `SET OF` (what was signed).
    pub signed_attrs_der: Option<Vec<u8>>,
}

/// A SignedData as received.
#[derive(Debug, Clone)]
pub struct ParsedSignedData {
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// The encapsulated content (opaque signing), or `None` (detached).
    pub content: Option<Vec<u8>>,
    /// The certificates the message carries (undecodable ones are counted, not kept).
    pub certificates: Vec<Certificate>,
    /// Certificates that could not be decoded.
    pub undecodable_certificates: usize,
    /// The CRLs the message carries (`crls [1]`, the `CertificateList` choice), each as
    /// its DER TLV; other revocation formats are skipped. Decoded by the trust layer.
    pub crls: Vec<Vec<u8>>,
    /// The signers, in message order.
    pub signers: Vec<ParsedSigner>,
}

fn is_universal(h: &ber::Header, number: u32) -> bool {
    h.class == 0 && h.number == number
}

/// Parse one (normalised, definite-length) `SignerInfo` TLV, keeping the bytes of its
/// signed attributes as received.
pub fn parse_signer(stlv: &[u8]) -> Result<ParsedSigner, CmsError> {
    let sh = ber::read_header(stlv)?;
    if !is_universal(&sh, 16) {
        return Err(CmsError::Malformed("SignerInfo is not a SEQUENCE".into()));
    }
    let body = stlv
        .get(sh.header_len..)
        .ok_or_else(|| CmsError::Malformed("SignerInfo: truncated".into()))?;
    // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm,
    //   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL, ... }: the signed
    // attributes, when present, are the fourth field (sid may itself be a
    // primitive [0], the subjectKeyIdentifier).
    let mut signed_attrs_der = None;
    let fields = ber::split_tlvs(body)?;
    if let Some((ah, atlv)) = fields.get(3)
        && ah.class == 2
        && ah.number == 0
        && ah.constructed
    {
        let mut v = atlv.to_vec();
        v[0] = 0x31; // [0] IMPLICIT SET OF → SET OF (RFC 5652 §5.4)
        signed_attrs_der = Some(v);
    }
    Ok(ParsedSigner {
        info: SignerInfo::from_der(stlv).map_err(|e| e.to_string()),
        signed_attrs_der,
    })
}

/// Parse the (normalised) `SignedData` TLV found in a `ContentInfo`.
pub fn parse(signed_data_tlv: &[u8]) -> Result<ParsedSignedData, CmsError> {
    let h = ber::read_header(signed_data_tlv)?;
    if !is_universal(&h, 16) {
        return Err(CmsError::Malformed("SignedData is not a SEQUENCE".into()));
    }
    let fields = ber::split_tlvs(&signed_data_tlv[h.header_len..])?;
    let mut it = fields.into_iter().peekable();
    let (vh, vtlv) = it
        .next()
        .ok_or_else(|| CmsError::Malformed("SignedData: missing version".into()))?;
    if !is_universal(&vh, 2) {
        return Err(CmsError::Malformed(
            "SignedData: version is not an INTEGER".into(),
        ));
    }
    // CMSVersion: v1, v3, v4 or v5 for a SignedData (RFC 5652 §5.1); an INTEGER of any
    // other size or value is refused (found by the hostile-input tests: a 1 MiB version
    // used to be ignored).
    if !matches!(&vtlv[vh.header_len..], [1 | 3 | 4 | 5]) {
        return Err(CmsError::Malformed(
            "SignedData: version is not 1, 3, 4 or 5".into(),
        ));
    }
    let (dh, _) = it
        .next()
        .ok_or_else(|| CmsError::Malformed("SignedData: missing digestAlgorithms".into()))?;
    if !is_universal(&dh, 17) {
        return Err(CmsError::Malformed(
            "SignedData: digestAlgorithms is not a SET".into(),
        ));
    }
    let (_, eci) = it
        .next()
        .ok_or_else(|| CmsError::Malformed("SignedData: missing encapContentInfo".into()))?;
    let eci = EncapsulatedContentInfo::from_der(eci)?;
    let content = match &eci.econtent {
        None => None,
        Some(any) => {
            if any.tag() != der::Tag::OctetString {
                return Err(CmsError::Malformed(
                    "eContent is not an OCTET STRING".into(),
                ));
            }
            Some(any.value().to_vec())
        }
    };
    let mut certificates = Vec::new();
    let mut undecodable_certificates = 0;
    let mut crls = Vec::new();
    let mut signer_set = None;
    // certificates [0], crls [1], signerInfos SET: each at most once, in this order,
    // signerInfos last (RFC 5652 §5.1).
    let mut next_allowed = 0u8;
    for (fh, tlv) in it {
        let rank = match (fh.class, fh.number, fh.constructed) {
            (2, 0, true) => 0,
            (2, 1, true) => 1,
            (0, 17, true) => 2,
            _ => return Err(CmsError::Malformed("SignedData: unexpected field".into())),
        };
        if signer_set.is_some() || rank < next_allowed {
            return Err(CmsError::Malformed(
                "SignedData: fields out of order or repeated".into(),
            ));
        }
        next_allowed = rank + 1;
        match rank {
            0 => {
                for (ch, ctlv) in ber::split_tlvs(&tlv[fh.header_len..])? {
                    if is_universal(&ch, 16) {
                        match Certificate::from_der(ctlv) {
                            Ok(c) => certificates.push(c),
                            Err(_) => undecodable_certificates += 1,
                        }
                    }
                }
            }
            1 => {
                for (ch, ctlv) in ber::split_tlvs(&tlv[fh.header_len..])? {
                    if is_universal(&ch, 16) {
                        crls.push(ctlv.to_vec());
                    }
                }
            }
            _ => signer_set = Some(&tlv[fh.header_len..]),
        }
    }
    let signer_set =
        signer_set.ok_or_else(|| CmsError::Malformed("SignedData: missing signerInfos".into()))?;
    let mut signers = Vec::new();
    for (sh, stlv) in ber::split_tlvs(signer_set)? {
        if !is_universal(&sh, 16) {
            return Err(CmsError::Malformed("SignerInfo is not a SEQUENCE".into()));
        }
        signers.push(parse_signer(stlv)?);
    }
    Ok(ParsedSignedData {
        content_type: eci.econtent_type,
        content,
        certificates,
        undecodable_certificates,
        crls,
        signers,
    })
}

/// Why a signer did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The SignerInfo could not be decoded.
    #[error("malformed signer info: {0}")]
    Malformed(String),
    /// No certificate in the message (or given by the caller) matches the signer id.
    #[error("the signer's certificate is not available")]
    CertificateNotFound,
    /// An algorithm mss does not implement.
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// The policy refuses an algorithm of this signature.
    #[error("{0}")]
    PolicyRefused(String),
    /// Detached signature without the content.
    #[error("the signed content is missing")]
    MissingContent,
    /// A required signed attribute is missing.
    #[error("signed attribute {0} is missing")]
    MissingAttribute(&'static str),
    /// The contentType attribute differs from eContentType.
    #[error("the contentType attribute does not match the content")]
    ContentTypeMismatch,
    /// The content's digest differs from the messageDigest attribute: the content changed.
    #[error("the content does not match its signature (message digest mismatch)")]
    DigestMismatch,
    /// The signature value does not verify with the signer's public key.
    #[error("the signature value does not verify")]
    BadSignature,
    /// The ESS signingCertificate(V2) attribute names another certificate.
    #[error("the signing-certificate attribute names another certificate")]
    SigningCertificateMismatch,
}

/// The verdict on one signer (before any trust decision).
#[derive(Debug, Clone)]
pub struct SignerResult {
    /// The signer's certificate, when found.
    pub certificate: Option<Certificate>,
    /// How the signer identified itself (for reports when no certificate is found).
    pub signer_id: String,
    /// The digest algorithm, when known.
    pub digest: Option<DigestAlgorithm>,
    /// The signature algorithm, when known.
    pub algorithm: Option<SignatureAlgorithm>,
    /// The signingTime attribute, when present.
    pub signing_time: Option<SystemTime>,
    /// `Ok` when the signature is cryptographically valid for this content.
    pub outcome: Result<(), SignatureError>,
    /// Policy warnings (e.g. `weak-algorithm: sha1`).
    pub warnings: Vec<String>,
    /// True for a countersignature (RFC 5652 §11.4, unsigned attribute
    /// id-countersignature): it signs the signature value of the signer reported just
    /// before it (or of the countersignature it is nested in), not the content.
    pub countersignature: bool,
}

fn describe_sid(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            format!("issuer {} serial {}", ias.issuer, ias.serial_number)
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subjectKeyIdentifier {}", hex_string(ski.0.as_bytes()))
        }
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Does `cert` match the signer/recipient identifier?
pub fn matches_sid(cert: &Certificate, sid: &SignerIdentifier) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            cert.tbs_certificate().issuer() == &ias.issuer
                && cert.tbs_certificate().serial_number() == &ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_identifier(cert).as_deref() == Some(ski.0.as_bytes())
        }
    }
}

/// id-countersignature (RFC 5652 §11.4): an unsigned attribute whose values are
/// SignerInfos over the signature value of the signer carrying it.
pub const ID_COUNTERSIGNATURE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.6");

/// Countersignatures nest at most this deep (a countersignature of a countersignature…).
const MAX_COUNTERSIGNATURE_DEPTH: usize = 4;

/// Verify every signer of `sd`. `detached` is the content for a detached signature;
/// `extra_certs` are certificates the caller knows (local store) besides the message's.
///
/// Each signer's countersignatures (RFC 5652 §11.4) follow it in the result, marked
/// [`SignerResult::countersignature`].
pub fn verify(
    sd: &ParsedSignedData,
    detached: Option<&[u8]>,
    extra_certs: &[Certificate],
    policy: &dyn Policy,
) -> Vec<SignerResult> {
    let mut out = Vec::new();
    for s in &sd.signers {
        let target = Target::Content {
            content_type: sd.content_type,
            content: sd.content.as_deref().or(detached),
        };
        verify_tree(sd, s, target, extra_certs, policy, 0, &mut out);
    }
    out
}

/// Verify every signer of `sd` against the digests of its content computed while it
/// streamed (`digests`: one per digest algorithm hashed). A signer without signed
/// attributes (its signature is over the content itself) is verified from the content's
/// digest, as RSA, DSA and ECDSA allow. A signer whose digest algorithm was not
/// computed, or a pure Ed25519 signer without signed attributes (it signs the content,
/// which is gone), gets [`SignatureError::Unsupported`].
pub fn verify_digests(
    sd: &ParsedSignedData,
    digests: &[(DigestAlgorithm, Vec<u8>)],
    extra_certs: &[Certificate],
    policy: &dyn Policy,
) -> Vec<SignerResult> {
    let mut out = Vec::new();
    for s in &sd.signers {
        let target = Target::Digests {
            content_type: sd.content_type,
            digests,
        };
        verify_tree(sd, s, target, extra_certs, policy, 0, &mut out);
    }
    out
}

/// What a signer signed.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The content of the SignedData, known by its digests only (streaming).
    Digests {
        content_type: ObjectIdentifier,
        digests: &'a [(DigestAlgorithm, Vec<u8>)],
    },
    /// The (encapsulated or detached) content of the SignedData.
    Content {
        content_type: ObjectIdentifier,
        content: Option<&'a [u8]>,
    },
    /// The signature value of another signer (countersignature).
    Signature(&'a [u8]),
}

fn verify_tree(
    sd: &ParsedSignedData,
    s: &ParsedSigner,
    target: Target<'_>,
    extra_certs: &[Certificate],
    policy: &dyn Policy,
    depth: usize,
    out: &mut Vec<SignerResult>,
) {
    out.push(verify_one(sd, s, target, extra_certs, policy));
    let Ok(info) = &s.info else { return };
    let Some(unsigned) = &info.unsigned_attrs else {
        return;
    };
    for attr in unsigned.iter().filter(|a| a.oid == ID_COUNTERSIGNATURE) {
        for value in attr.values.iter() {
            let counter = if depth >= MAX_COUNTERSIGNATURE_DEPTH {
                Err(CmsError::Malformed(
                    "countersignatures nested too deep".into(),
                ))
            } else {
                value
                    .to_der()
                    .map_err(CmsError::from)
                    .and_then(|der| parse_signer(&der))
            };
            match counter {
                Ok(cs) => verify_tree(
                    sd,
                    &cs,
                    Target::Signature(info.signature.as_bytes()),
                    extra_certs,
                    policy,
                    depth + 1,
                    out,
                ),
                Err(e) => out.push(SignerResult {
                    certificate: None,
                    signer_id: String::new(),
                    digest: None,
                    algorithm: None,
                    signing_time: None,
                    outcome: Err(SignatureError::Malformed(e.to_string())),
                    warnings: Vec::new(),
                    countersignature: true,
                }),
            }
        }
    }
}

fn verify_one(
    sd: &ParsedSignedData,
    s: &ParsedSigner,
    target: Target<'_>,
    extra_certs: &[Certificate],
    policy: &dyn Policy,
) -> SignerResult {
    let mut r = SignerResult {
        certificate: None,
        signer_id: String::new(),
        digest: None,
        algorithm: None,
        signing_time: None,
        outcome: Ok(()),
        warnings: Vec::new(),
        countersignature: matches!(target, Target::Signature(_)),
    };
    let info = match &s.info {
        Ok(i) => i,
        Err(e) => {
            r.outcome = Err(SignatureError::Malformed(e.clone()));
            return r;
        }
    };
    r.signer_id = describe_sid(&info.sid);
    r.outcome = verify_inner(sd, s, info, target, extra_certs, policy, &mut r);
    r
}

/// The signature algorithm of a certificate (its digest read from the OID).
fn certificate_signature_algorithm(cert: &Certificate) -> Option<SignatureAlgorithm> {
    let id = cert.signature_algorithm();
    if id.oid == oid::ID_ED25519 {
        return Some(SignatureAlgorithm::ed25519());
    }
    if id.oid == oid::ID_DSA {
        return None;
    }
    DigestAlgorithm::ALL
        .iter()
        .find_map(|d| SignatureAlgorithm::from_algorithm_identifier(id, *d).ok())
}

/// Does `issuer`'s key (with `issuer_params` when its own SPKI omits them) verify the
/// signature on `cert`?
fn issued_by(cert: &Certificate, issuer: &Certificate, issuer_params: Option<&Any>) -> bool {
    let Some(alg) = certificate_signature_algorithm(cert) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    verify_message(
        issuer.tbs_certificate().subject_public_key_info(),
        issuer_params,
        &alg,
        &tbs,
        sig,
    )
    .is_ok()
}

fn has_params(spki: &spki::SubjectPublicKeyInfoOwned) -> bool {
    spki.algorithm
        .parameters
        .as_ref()
        .is_some_and(|p| p.tag() != der::Tag::Null)
}

/// The DSA domain parameters `cert`'s key inherits from its issuer (RFC 3279 §2.3.2),
/// when its SubjectPublicKeyInfo omits them: the issuer is looked up in `pool` by name
/// and must have signed `cert`. Issuers that inherit in turn are followed a few levels.
pub fn inherited_dsa_parameters<'a>(
    cert: &Certificate,
    pool: impl Iterator<Item = &'a Certificate> + Clone,
) -> Option<Any> {
    let mut current = cert.clone();
    for _ in 0..4 {
        let spki = current.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid != oid::ID_DSA {
            return None;
        }
        let issuer_name = current.tbs_certificate().issuer();
        let candidates = pool.clone().filter(|c| {
            c.tbs_certificate().subject() == issuer_name
                && c.tbs_certificate().subject_public_key_info().algorithm.oid == oid::ID_DSA
        });
        let mut next = None;
        for c in candidates {
            let ispki = c.tbs_certificate().subject_public_key_info();
            if has_params(ispki) {
                if issued_by(&current, c, None) {
                    return ispki.algorithm.parameters.clone();
                }
            } else if *c != current && next.is_none() {
                next = Some(c.clone());
            }
        }
        current = next?;
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn verify_inner(
    sd: &ParsedSignedData,
    s: &ParsedSigner,
    info: &SignerInfo,
    target: Target<'_>,
    extra_certs: &[Certificate],
    policy: &dyn Policy,
    r: &mut SignerResult,
) -> Result<(), SignatureError> {
    let pool = sd.certificates.iter().chain(extra_certs.iter());
    let cert = pool
        .clone()
        .find(|c| matches_sid(c, &info.sid))
        .cloned()
        .ok_or(SignatureError::CertificateNotFound)?;
    r.certificate = Some(cert.clone());
    let digest = DigestAlgorithm::from_oid(&info.digest_alg.oid)
        .map_err(|e| SignatureError::Unsupported(e.to_string()))?;
    r.digest = Some(digest);
    let alg = SignatureAlgorithm::from_algorithm_identifier(&info.signature_algorithm, digest)
        .map_err(|e| SignatureError::Unsupported(e.to_string()))?;
    r.algorithm = Some(alg);
    let spki: spki::SubjectPublicKeyInfoOwned =
        cert.tbs_certificate().subject_public_key_info().clone();
    let inherited = if alg.scheme == SignatureScheme::Dsa && !has_params(&spki) {
        Some(
            inherited_dsa_parameters(&cert, pool.clone()).ok_or_else(|| {
                SignatureError::Unsupported(
                    "the signer's DSA key inherits its parameters from an issuer certificate \
                 that is not available"
                        .into(),
                )
            })?,
        )
    } else {
        None
    };
    let bits = public_key_bits_with_params(&spki, inherited.as_ref())
        .map_err(|e| SignatureError::Unsupported(e.to_string()))?;
    for v in [
        policy.digest(digest, Usage::Accept),
        policy.signature(&alg, bits, Usage::Accept),
    ] {
        match v {
            Verdict::Allowed => {}
            Verdict::Weak(w) => {
                if !r.warnings.contains(&w) {
                    r.warnings.push(w)
                }
            }
            Verdict::Refused(why) => return Err(SignatureError::PolicyRefused(why)),
        }
    }
    let (signed_bytes, content_type, content_digest) = match target {
        Target::Content {
            content_type,
            content,
        } => {
            let c = content.ok_or(SignatureError::MissingContent)?;
            (Some(c), Some(content_type), digest.digest(c))
        }
        Target::Signature(sig) => (Some(sig), None, digest.digest(sig)),
        Target::Digests {
            content_type,
            digests,
        } => {
            let d = digests
                .iter()
                .find(|(a, _)| *a == digest)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    SignatureError::Unsupported(format!(
                        "the streamed content was not hashed with {}",
                        digest.name()
                    ))
                })?;
            (None, Some(content_type), d)
        }
    };
    // What the signature covers: the DER of the signed attributes, the content itself,
    // or (streamed content without signed attributes) the content known by its digest.
    let message: Option<&[u8]> = match (&info.signed_attrs, &s.signed_attrs_der) {
        (Some(attrs), Some(raw)) => {
            let attrs: Vec<Attribute> = attrs.iter().cloned().collect();
            if let Some(dup) = attributes::duplicate_type(&attrs) {
                return Err(SignatureError::Malformed(format!(
                    "signed attribute {dup} occurs more than once"
                )));
            }
            let md = attributes::single_value(&attrs, oid::ID_MESSAGE_DIGEST)
                .map_err(|e| SignatureError::Malformed(e.to_string()))?
                .ok_or(SignatureError::MissingAttribute("messageDigest"))?;
            let md = md
                .decode_as::<OctetString>()
                .map_err(|e| SignatureError::Malformed(e.to_string()))?;
            let ct = attributes::single_value(&attrs, oid::ID_CONTENT_TYPE)
                .map_err(|e| SignatureError::Malformed(e.to_string()))?;
            match (content_type, ct) {
                (Some(expected), Some(ct)) => {
                    let ct = ct
                        .decode_as::<ObjectIdentifier>()
                        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
                    if ct != expected {
                        return Err(SignatureError::ContentTypeMismatch);
                    }
                }
                (Some(_), None) => return Err(SignatureError::MissingAttribute("contentType")),
                // RFC 5652 §11.1: a countersignature has no contentType attribute.
                (None, Some(_)) => {
                    return Err(SignatureError::Malformed(
                        "a countersignature carries a contentType attribute".into(),
                    ));
                }
                (None, None) => {}
            }
            if let Ok(Some(t)) = attributes::single_value(&attrs, oid::ID_SIGNING_TIME)
                && let Ok(t) = t.decode_as::<Time>()
            {
                r.signing_time = Some(t.to_system_time());
            }
            if let Some(scv2) = attributes::single_value(&attrs, oid::ID_AA_SIGNING_CERTIFICATE_V2)
                .map_err(|e| SignatureError::Malformed(e.to_string()))?
            {
                check_signing_certificate_v2(scv2, &cert)?;
            }
            if let Some(scv1) = attributes::single_value(&attrs, oid::ID_AA_SIGNING_CERTIFICATE)
                .map_err(|e| SignatureError::Malformed(e.to_string()))?
            {
                check_signing_certificate_v1(scv1, &cert)?;
            }
            if md.as_bytes() != content_digest.as_slice() {
                return Err(SignatureError::DigestMismatch);
            }
            Some(raw)
        }
        (None, None) => {
            if content_type.is_some_and(|ct| ct != oid::ID_DATA) {
                return Err(SignatureError::MissingAttribute("contentType"));
            }
            signed_bytes
        }
        _ => {
            return Err(SignatureError::Malformed(
                "signed attributes could not be read".into(),
            ));
        }
    };
    let verified = match message {
        Some(m) => verify_message(
            &spki,
            inherited.as_ref(),
            &alg,
            m,
            info.signature.as_bytes(),
        ),
        // A hash-then-sign scheme verifies from the digest; pure EdDSA cannot (it says so).
        None => verify_digest_with_params(
            &spki,
            inherited.as_ref(),
            &alg,
            &content_digest,
            info.signature.as_bytes(),
        ),
    };
    verified.map_err(|e| match e {
        AlgError::BadSignature => SignatureError::BadSignature,
        other => SignatureError::Unsupported(other.to_string()),
    })
}

/// ESS signingCertificate (RFC 2634 §5.4): the first ESSCertID is the SHA-1 hash of the
/// signer's certificate.
fn check_signing_certificate_v1(value: &Any, cert: &Certificate) -> Result<(), SignatureError> {
    let v = value
        .decode_as::<SigningCertificate>()
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let first = v
        .certs
        .first()
        .ok_or(SignatureError::Malformed("empty signingCertificate".into()))?;
    let cert_der = cert
        .to_der()
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    if DigestAlgorithm::Sha1.digest(&cert_der) != first.cert_hash.as_bytes() {
        return Err(SignatureError::SigningCertificateMismatch);
    }
    Ok(())
}

/// ESS signingCertificateV2 (RFC 5035 §3): the first ESSCertIDv2 is the hash of the
/// signer's certificate (SHA-256 when the algorithm is absent).
fn check_signing_certificate_v2(value: &Any, cert: &Certificate) -> Result<(), SignatureError> {
    let v = value
        .decode_as::<SigningCertificateV2>()
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let first = v.certs.first().ok_or(SignatureError::Malformed(
        "empty signingCertificateV2".into(),
    ))?;
    let hash_alg = match &first.hash_algorithm {
        None => DigestAlgorithm::Sha256,
        Some(a) => DigestAlgorithm::from_oid(&a.oid)
            .map_err(|e| SignatureError::Unsupported(e.to_string()))?,
    };
    let cert_der = cert
        .to_der()
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    if hash_alg.digest(&cert_der) != first.cert_hash.as_bytes() {
        return Err(SignatureError::SigningCertificateMismatch);
    }
    Ok(())
}
