//! OCSP (RFC 6960) client: request with a nonce, `BasicOCSPResponse` checks.
//!
//! [`query`] asks the responder named in a certificate's Authority Information Access
//! (or a given URI) about one certificate and checks the answer:
//! - the response is `successful` and of type `id-pkix-ocsp-basic`;
//! - its signature verifies with the key of an *authorized* responder: the issuing CA
//!   itself, or a delegated responder certificate carried in the response, issued
//!   (signature checked) by that CA, with `id-kp-OCSPSigning` in its extendedKeyUsage
//!   and valid now (RFC 6960 §4.2.2.2); the responderID must name that key or name;
//! - the nonce we sent (RFC 8954, 16 random bytes) is echoed when the response has one
//!   (pre-produced responses carry none; a different one is a replay and refused);
//! - a `SingleResponse` for our CertID exists, `thisUpdate` is not in the future and,
//!   with a `nextUpdate`, that has not passed; without one the response must be
//!   younger than [`MAX_AGE_WITHOUT_NEXT_UPDATE`] (freshness is judged against the
//!   clock, not the validation time: the answer is about now).
//!
//! The delegated responder's own revocation is not checked (RFC 6960 §4.2.2.2.1 leaves
//! it to `id-pkix-ocsp-nocheck` and short lifetimes). The ASN.1 is read by hand on
//! DER element boundaries: the `x509-ocsp` crate exists only for the previous
//! RustCrypto generation (der 0.7 / x509-cert 0.2), and the signed `tbsResponseData`
//! must be kept byte for byte anyway.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode, Sequence, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, ExtendedKeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use mss_algs::digest::DigestAlgorithm;
use mss_algs::policy::Policy;

use crate::crl::split_tlv;
use crate::fetch::{FetchError, OcspTransport};
use crate::names::names_match;
use crate::validate::{Info, WorkingKey, tbs_bytes, verify_signature};

const fn o(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}
const ID_AD_OCSP: ObjectIdentifier = o("1.3.6.1.5.5.7.48.1");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = o("1.3.6.1.5.5.7.48.1.1");
const ID_PKIX_OCSP_NONCE: ObjectIdentifier = o("1.3.6.1.5.5.7.48.1.2");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = o("1.3.6.1.5.5.7.3.9");
const ID_SHA1: ObjectIdentifier = o("1.3.14.3.2.26");
const AIA: ObjectIdentifier = o("1.3.6.1.5.5.7.1.1");

/// Clock skew tolerated on `thisUpdate` / `nextUpdate`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Largest age of a response that has no `nextUpdate`.
pub const MAX_AGE_WITHOUT_NEXT_UPDATE: Duration = Duration::from_secs(3600);

/// What the responder said about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When (revocationTime).
        time: SystemTime,
        /// The CRL reason, when given (`KeyCompromise`…).
        reason: Option<String>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// Why no usable OCSP answer was had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The certificate names no OCSP responder (AIA) and none was given.
    #[error("no OCSP responder in the certificate")]
    NoResponder,
    /// The request could not be sent or the answer received.
    #[error("OCSP transport: {0}")]
    Fetch(#[from] FetchError),
    /// The responder answered with an error status (`tryLater`, `unauthorized`…).
    #[error("OCSP responder status: {0}")]
    ResponderStatus(String),
    /// The response could not be decoded.
    #[error("malformed OCSP response: {0}")]
    Malformed(String),
    /// The response signature does not verify.
    #[error("OCSP response signature: {0}")]
    BadSignature(String),
    /// The response is signed by a key that may not answer for this CA.
    #[error("OCSP responder not authorized: {0}")]
    Unauthorized(String),
    /// The nonce in the response is not ours (replay).
    #[error("OCSP nonce mismatch (replayed response?)")]
    NonceMismatch,
    /// The response is outside its thisUpdate / nextUpdate window.
    #[error("OCSP response not current: {0}")]
    NotCurrent(String),
    /// The response has no answer for our certificate.
    #[error("OCSP response does not answer for the certificate")]
    NoMatchingResponse,
    /// The request could not be built.
    #[error("OCSP request: {0}")]
    Request(String),
}

/// `CertID` (RFC 6960 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct CertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: SerialNumber,
}

#[derive(Sequence)]
struct Request {
    req_cert: CertId,
}

#[derive(Sequence)]
struct TbsRequest {
    request_list: Vec<Request>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Vec<Extension>>,
}

#[derive(Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
}

/// The OCSP responder URIs (`http://…`) of a certificate's AIA extension.
pub fn responder_uris(c: &Certificate) -> Vec<String> {
    let exts = c.tbs_certificate().extensions().map(|e| e.as_slice());
    let Ok(Some(aia)) = crate::validate::decode_ext::<AuthorityInfoAccessSyntax>(exts, AIA) else {
        return Vec::new();
    };
    aia.0
        .iter()
        .filter(|a| a.access_method == ID_AD_OCSP)
        .filter_map(|a| match &a.access_location {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

fn key_bits(c: &Certificate) -> &[u8] {
    c.tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
}

fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId, OcspError> {
    let req = |e: der::Error| OcspError::Request(e.to_string());
    let name = issuer.tbs_certificate().subject().to_der().map_err(req)?;
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(DigestAlgorithm::Sha1.digest(&name)).map_err(req)?,
        issuer_key_hash: OctetString::new(DigestAlgorithm::Sha1.digest(key_bits(issuer)))
            .map_err(req)?,
        serial_number: cert.tbs_certificate().serial_number().clone(),
    })
}

/// A request on its way: the DER to send and what the answer must match.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    der: Vec<u8>,
    id: CertId,
    nonce: Vec<u8>,
}

impl PendingRequest {
    /// Build the request for `cert`, issued by `issuer`, with a fresh random nonce.
    pub fn new(cert: &Certificate, issuer: &Certificate) -> Result<Self, OcspError> {
        let mut n = [0u8; 16];
        getrandom::fill(&mut n).map_err(|e| OcspError::Request(e.to_string()))?;
        let req = |e: der::Error| OcspError::Request(e.to_string());
        let nonce = OctetString::new(n.to_vec())
            .and_then(|o| o.to_der())
            .map_err(req)?;
        let id = cert_id(cert, issuer)?;
        let der = OcspRequest {
            tbs_request: TbsRequest {
                request_list: vec![Request {
                    req_cert: id.clone(),
                }],
                request_extensions: Some(vec![Extension {
                    extn_id: ID_PKIX_OCSP_NONCE,
                    critical: false,
                    extn_value: OctetString::new(nonce.clone()).map_err(req)?,
                }]),
            },
        }
        .to_der()
        .map_err(req)?;
        Ok(PendingRequest { der, id, nonce })
    }

    /// The DER `OCSPRequest`.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// A DER element: its tag, its value, and the whole TLV.
type Element<'a> = (u8, &'a [u8], &'a [u8]);

fn elements(mut body: &[u8]) -> Result<Vec<Element<'_>>, OcspError> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (tag, value, len) =
            split_tlv(body).ok_or_else(|| OcspError::Malformed("truncated element".into()))?;
        out.push((tag, value, &body[..len]));
        body = &body[len..];
    }
    Ok(out)
}

fn body_of<'a>(tlv: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], OcspError> {
    match split_tlv(tlv) {
        Some((t, v, l)) if t == tag && l == tlv.len() => Ok(v),
        _ => Err(OcspError::Malformed(format!("{what}: unexpected element"))),
    }
}

fn time(tlv: &[u8], what: &str) -> Result<SystemTime, OcspError> {
    GeneralizedTime::from_der(tlv)
        .map(|t| t.to_system_time())
        .map_err(|e| OcspError::Malformed(format!("{what}: {e}")))
}

/// One decoded `SingleResponse`.
struct Single {
    id: CertId,
    status: OcspStatus,
    this_update: SystemTime,
    next_update: Option<SystemTime>,
}

/// The parts of a `BasicOCSPResponse` the checks need.
struct Basic {
    tbs: Vec<u8>,
    algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    certs: Vec<Certificate>,
    responder: Responder,
    produced_at: SystemTime,
    responses: Vec<Single>,
    nonce: Option<Vec<u8>>,
}

enum Responder {
    Name(Name),
    KeyHash(Vec<u8>),
}

fn reason_name(code: u8) -> String {
    match code {
        0 => "Unspecified",
        1 => "KeyCompromise",
        2 => "CaCompromise",
        3 => "AffiliationChanged",
        4 => "Superseded",
        5 => "CessationOfOperation",
        6 => "CertificateHold",
        8 => "RemoveFromCRL",
        9 => "PrivilegeWithdrawn",
        10 => "AaCompromise",
        _ => return format!("reason {code}"),
    }
    .to_string()
}

fn parse(der: &[u8]) -> Result<Basic, OcspError> {
    let m = |s: &str| OcspError::Malformed(s.to_string());
    let outer = elements(body_of(der, 0x30, "OCSPResponse")?)?;
    let (tag, status, _) = *outer.first().ok_or_else(|| m("empty OCSPResponse"))?;
    if tag != 0x0A || status.len() != 1 {
        return Err(m("responseStatus is not an ENUMERATED"));
    }
    if status[0] != 0 {
        return Err(OcspError::ResponderStatus(
            match status[0] {
                1 => "malformedRequest",
                2 => "internalError",
                3 => "tryLater",
                5 => "sigRequired",
                6 => "unauthorized",
                _ => "unknown status",
            }
            .into(),
        ));
    }
    let (_, rb, rb_tlv) = *outer.get(1).ok_or_else(|| m("no responseBytes"))?;
    body_of(rb_tlv, 0xA0, "responseBytes")?;
    let rb = elements(body_of(rb, 0x30, "ResponseBytes")?)?;
    let [(_, _, oid_tlv), (0x04, basic_der, _)] = rb.as_slice() else {
        return Err(m("ResponseBytes"));
    };
    let oid = ObjectIdentifier::from_der(oid_tlv).map_err(|e| m(&e.to_string()))?;
    if oid != ID_PKIX_OCSP_BASIC {
        return Err(m("response type is not id-pkix-ocsp-basic"));
    }
    let basic = elements(body_of(basic_der, 0x30, "BasicOCSPResponse")?)?;
    if basic.len() < 3 || basic.len() > 4 {
        return Err(m("BasicOCSPResponse"));
    }
    let tbs = basic[0].2.to_vec();
    let algorithm =
        AlgorithmIdentifierOwned::from_der(basic[1].2).map_err(|e| m(&e.to_string()))?;
    let signature = BitString::from_der(basic[2].2).map_err(|e| m(&e.to_string()))?;
    let mut certs = Vec::new();
    if let Some((tag, value, _)) = basic.get(3) {
        if *tag != 0xA0 {
            return Err(m("certs is not [0]"));
        }
        for (_, _, c) in elements(body_of(value, 0x30, "certs")?)? {
            certs.push(crate::decode_certificate(c).map_err(|e| m(&e.to_string()))?);
        }
    }
    let rd = elements(body_of(&tbs, 0x30, "ResponseData")?)?;
    let mut it = rd.into_iter().peekable();
    if let Some((0xA0, v, _)) = it.peek().copied() {
        if v != [0x02, 0x01, 0x00] {
            return Err(m("ResponseData version is not v1"));
        }
        it.next();
    }
    let responder = match it.next() {
        Some((0xA1, v, _)) => Responder::Name(Name::from_der(v).map_err(|e| m(&e.to_string()))?),
        Some((0xA2, v, _)) => Responder::KeyHash(
            OctetString::from_der(v)
                .map_err(|e| m(&e.to_string()))?
                .as_bytes()
                .to_vec(),
        ),
        _ => return Err(m("responderID")),
    };
    let (_, _, produced) = it.next().ok_or_else(|| m("no producedAt"))?;
    let produced_at = time(produced, "producedAt")?;
    let (rtag, rlist, _) = it.next().ok_or_else(|| m("no responses"))?;
    if rtag != 0x30 {
        return Err(m("responses is not a SEQUENCE"));
    }
    let mut nonce = None;
    if let Some((tag, v, _)) = it.next() {
        if tag != 0xA1 {
            return Err(m("unexpected field after responses"));
        }
        let exts = Vec::<Extension>::from_der(v).map_err(|e| m(&e.to_string()))?;
        for e in exts {
            if e.extn_id == ID_PKIX_OCSP_NONCE {
                nonce = Some(e.extn_value.as_bytes().to_vec());
            } else if e.critical {
                return Err(m(&format!("unknown critical extension {}", e.extn_id)));
            }
        }
    }
    if it.next().is_some() {
        return Err(m("trailing fields in ResponseData"));
    }
    let mut responses = Vec::new();
    for (stag, sv, _) in elements(rlist)? {
        if stag != 0x30 {
            return Err(m("SingleResponse is not a SEQUENCE"));
        }
        let f = elements(sv)?;
        if f.len() < 3 {
            return Err(m("SingleResponse too short"));
        }
        let id = CertId::from_der(f[0].2).map_err(|e| m(&e.to_string()))?;
        let status = match f[1] {
            (0x80, [], _) => OcspStatus::Good,
            (0x82, [], _) => OcspStatus::Unknown,
            (0xA1, v, _) => {
                let r = elements(v)?;
                let (_, _, t) = *r.first().ok_or_else(|| m("RevokedInfo"))?;
                let reason = match r.get(1) {
                    Some((0xA0, rv, _)) => match split_tlv(rv) {
                        Some((0x0A, [code], _)) => Some(reason_name(*code)),
                        _ => return Err(m("revocationReason")),
                    },
                    None => None,
                    _ => return Err(m("RevokedInfo")),
                };
                OcspStatus::Revoked {
                    time: time(t, "revocationTime")?,
                    reason,
                }
            }
            _ => return Err(m("certStatus")),
        };
        let this_update = time(f[2].2, "thisUpdate")?;
        let mut next_update = None;
        for (tag, v, _) in &f[3..] {
            match tag {
                0xA0 => next_update = Some(time(v, "nextUpdate")?),
                0xA1 => {
                    let exts = Vec::<Extension>::from_der(v).map_err(|e| m(&e.to_string()))?;
                    if let Some(e) = exts.iter().find(|e| e.critical) {
                        return Err(m(&format!("unknown critical extension {}", e.extn_id)));
                    }
                }
                _ => return Err(m("SingleResponse field")),
            }
        }
        responses.push(Single {
            id,
            status,
            this_update,
            next_update,
        });
    }
    Ok(Basic {
        tbs,
        algorithm,
        signature,
        certs,
        responder,
        produced_at,
        responses,
        nonce,
    })
}

/// Same CertID: hash algorithm (absent and NULL parameters alike), hashes, serial.
fn same_cert(a: &CertId, b: &CertId) -> bool {
    let params = |x: &CertId| {
        x.hash_algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag() != der::Tag::Null)
            .cloned()
    };
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && params(a) == params(b)
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number == b.serial_number
}

fn responder_is(r: &Responder, c: &Certificate) -> bool {
    match r {
        Responder::Name(n) => names_match(n, c.tbs_certificate().subject()),
        Responder::KeyHash(h) => DigestAlgorithm::Sha1.digest(key_bits(c)) == *h,
    }
}

/// Check a DER `OCSPResponse` answering `pending` about a certificate issued by
/// `issuer` (whose verified key is `issuer_key`), at clock time `now`.
pub(crate) fn check_response(
    der: &[u8],
    pending: &PendingRequest,
    issuer: &Certificate,
    issuer_key: &WorkingKey,
    policy: &dyn Policy,
    now: SystemTime,
    warnings: &mut Vec<String>,
) -> Result<OcspStatus, OcspError> {
    let b = parse(der)?;
    // Who signed: the CA itself, or a delegated responder it certified.
    let key = if responder_is(&b.responder, issuer) {
        issuer_key.clone()
    } else {
        let Some(delegate) = b.certs.iter().find(|c| responder_is(&b.responder, c)) else {
            return Err(OcspError::Unauthorized(
                "the responder is neither the CA nor a certificate in the response".into(),
            ));
        };
        let who = delegate.tbs_certificate().subject().to_string();
        let unauthorized = |why: &str| OcspError::Unauthorized(format!("{who}: {why}"));
        if !names_match(
            delegate.tbs_certificate().issuer(),
            issuer.tbs_certificate().subject(),
        ) {
            return Err(unauthorized("not issued by the certificate's CA"));
        }
        let tbs = tbs_bytes(delegate).map_err(|e| unauthorized(&e.to_string()))?;
        verify_signature(
            policy,
            &tbs,
            delegate.signature_algorithm(),
            delegate.signature(),
            issuer_key,
            warnings,
        )
        .map_err(|e| unauthorized(&format!("not signed by the CA ({e})")))?;
        let eku = delegate
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .ok()
            .flatten()
            .map(|(_, e)| e.0);
        if !eku.is_some_and(|e| e.contains(&ID_KP_OCSP_SIGNING)) {
            return Err(unauthorized("no id-kp-OCSPSigning"));
        }
        if !crate::is_valid_at(delegate, now) {
            return Err(unauthorized("outside its validity period"));
        }
        let info = Info::parse(delegate).map_err(|e| unauthorized(&e.to_string()))?;
        if !(info.allows(KeyUsages::DigitalSignature) || info.allows(KeyUsages::NonRepudiation)) {
            return Err(unauthorized("keyUsage forbids signing"));
        }
        issuer_key.next(delegate)
    };
    verify_signature(policy, &b.tbs, &b.algorithm, &b.signature, &key, warnings)
        .map_err(OcspError::BadSignature)?;
    if let Some(n) = &b.nonce
        && *n != pending.nonce
    {
        return Err(OcspError::NonceMismatch);
    }
    let single = b
        .responses
        .into_iter()
        .find(|s| same_cert(&s.id, &pending.id))
        .ok_or(OcspError::NoMatchingResponse)?;
    if single.this_update > now + CLOCK_SKEW || b.produced_at > now + CLOCK_SKEW {
        return Err(OcspError::NotCurrent("thisUpdate is in the future".into()));
    }
    match single.next_update {
        Some(next) if next + CLOCK_SKEW < now => {
            return Err(OcspError::NotCurrent("nextUpdate has passed".into()));
        }
        None if single.this_update + MAX_AGE_WITHOUT_NEXT_UPDATE + CLOCK_SKEW < now => {
            return Err(OcspError::NotCurrent(
                "no nextUpdate and thisUpdate is too old".into(),
            ));
        }
        _ => {}
    }
    Ok(single.status)
}

/// Ask about `cert` (issued by `issuer`): build the request, send it to `uri` (or the
/// first responder of the certificate's AIA) through `transport`, check the answer
/// (see the module doc) against the clock time `now`.
pub fn query(
    transport: &dyn OcspTransport,
    uri: Option<&str>,
    cert: &Certificate,
    issuer: &Certificate,
    policy: &dyn Policy,
    now: SystemTime,
) -> Result<OcspStatus, OcspError> {
    query_with_key(
        transport,
        uri,
        cert,
        issuer,
        &WorkingKey::of(issuer),
        policy,
        now,
        &mut Vec::new(),
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn query_with_key(
    transport: &dyn OcspTransport,
    uri: Option<&str>,
    cert: &Certificate,
    issuer: &Certificate,
    issuer_key: &WorkingKey,
    policy: &dyn Policy,
    now: SystemTime,
    warnings: &mut Vec<String>,
) -> Result<OcspStatus, OcspError> {
    let uri = match uri {
        Some(u) => u.to_string(),
        None => responder_uris(cert)
            .into_iter()
            .next()
            .ok_or(OcspError::NoResponder)?,
    };
    let pending = PendingRequest::new(cert, issuer)?;
    let answer = transport.post_ocsp(&uri, pending.der())?;
    check_response(&answer, &pending, issuer, issuer_key, policy, now, warnings)
}
