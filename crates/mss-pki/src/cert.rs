//! Certificate decoding that accepts a pre-1970 UTCTime validity date.
//!
//! RFC 5280 §4.1.2.5.1 reads a UTCTime year `YY` of 50–99 as 19YY, so a certificate may
//! say `notBefore 1950` (NIST PKITS 4.2.3 does). `der` 0.8 models every date as a
//! `DateTime` counted from the Unix epoch and refuses any year before 1970, so
//! x509-cert 0.3 cannot decode such a certificate at all. No crate of this generation
//! does better, hence this module.
//!
//! The approach, [`decode_certificate`]:
//! 1. the received DER is decoded as usual when it can be;
//! 2. otherwise, when the validity holds a UTCTime of 1950–1969, a *decoded view* is
//!    made: that date is clamped to `700101000000Z` (1970-01-01T00:00:00Z, a
//!    same-length rewrite), and the validity exactly as received is kept in a private,
//!    non-critical extension ([`ORIGINAL_VALIDITY`]) appended to the view's extensions;
//! 3. when a signature over the certificate is checked ([`signed_tbs`]), the bytes
//!    the issuer signed are rebuilt from the view: the received validity is put back
//!    and the private extension taken out. The signature is thus always checked over
//!    the ORIGINAL tbsCertificate bytes, never over the view.
//!
//! Clamping only moves `notBefore` later, within 1970 — before any time mss validates
//! at — so the view accepts at exactly the times the original does. The rebuild is
//! sound against a forged view: the kept validity, clamped again, must equal the
//! view's validity, else the certificate is malformed; so a signature that verifies
//! proves the issuer signed this very certificate. The view is for validation only:
//! re-encoding it does not give the received certificate back.

use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use crate::crl::{encode_tlv, split_tlv};

/// Marker OID of the extension that carries the validity as received in a certificate
/// decoded with a pre-1970 date. It sits under IANA enterprise number 0 (reserved, so
/// no issuer uses it) and is never written out: views only live in memory.
pub const ORIGINAL_VALIDITY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.0.5280.1950");

/// The clamped UTCTime (1970-01-01T00:00:00Z).
const EPOCH_UTC: &[u8; 13] = b"700101000000Z";

/// Decode a DER certificate; one whose validity holds a UTCTime year 1950–1969 is
/// decoded too, as a view whose pre-1970 date is 1970-01-01 (see the module doc: the
/// signature is still checked over the received bytes).
pub fn decode_certificate(der: &[u8]) -> Result<Certificate, der::Error> {
    match Certificate::from_der(der) {
        Ok(c) => Ok(c),
        Err(first) => pre_1970_view(der)
            .ok_or(first)
            .and_then(|d| Certificate::from_der(&d)),
    }
}

/// The elements (whole TLVs) of a constructed value.
fn elements(mut body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (_, _, len) = split_tlv(body)?;
        out.push(&body[..len]);
        body = &body[len..];
    }
    Some(out)
}

/// A validity SEQUENCE with every UTCTime of 1950–1969 clamped, and whether any was.
fn clamp_validity(validity: &[u8]) -> Option<(Vec<u8>, bool)> {
    let (tag, body, len) = split_tlv(validity)?;
    if tag != 0x30 || len != validity.len() {
        return None;
    }
    let times = elements(body)?;
    if times.len() != 2 {
        return None;
    }
    let mut changed = false;
    let mut value = Vec::new();
    for t in times {
        let (tag, v, _) = split_tlv(t)?;
        let old = tag == 0x17
            && v.len() == 13
            && v[12] == b'Z'
            && v[..12].iter().all(u8::is_ascii_digit)
            && (b"50".as_slice()..=b"69".as_slice()).contains(&&v[..2]);
        if old {
            value.extend_from_slice(&encode_tlv(0x17, EPOCH_UTC));
            changed = true;
        } else {
            value.extend_from_slice(t);
        }
    }
    Some((encode_tlv(0x30, &value), changed))
}

/// The index of the validity among the tbsCertificate elements.
fn validity_index(elems: &[&[u8]]) -> usize {
    if elems.first().and_then(|e| e.first()) == Some(&0xA0) {
        4
    } else {
        3
    }
}

/// The DER of the view of a certificate with a pre-1970 UTCTime, or `None`.
fn pre_1970_view(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, cert_body, len) = split_tlv(der)?;
    if tag != 0x30 || len != der.len() {
        return None;
    }
    let (tbs_tag, tbs_body, tbs_len) = split_tlv(cert_body)?;
    if tbs_tag != 0x30 {
        return None;
    }
    let mut elems: Vec<Vec<u8>> = elements(tbs_body)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let refs: Vec<&[u8]> = elems.iter().map(Vec::as_slice).collect();
    let vi = validity_index(&refs);
    let original = elems.get(vi)?.clone();
    let (clamped, changed) = clamp_validity(&original)?;
    if !changed {
        return None;
    }
    elems[vi] = clamped;
    let ext = Extension {
        extn_id: ORIGINAL_VALIDITY,
        critical: false,
        extn_value: OctetString::new(original).ok()?,
    }
    .to_der()
    .ok()?;
    match elems.last() {
        Some(last) if last.first() == Some(&0xA3) => {
            let (_, inner, _) = split_tlv(last)?;
            let (seq_tag, exts, _) = split_tlv(inner)?;
            if seq_tag != 0x30 {
                return None;
            }
            let mut list = exts.to_vec();
            list.extend_from_slice(&ext);
            let new = encode_tlv(0xA3, &encode_tlv(0x30, &list));
            *elems.last_mut()? = new;
        }
        _ => elems.push(encode_tlv(0xA3, &encode_tlv(0x30, &ext))),
    }
    let mut tbs = encode_tlv(0x30, &elems.concat());
    tbs.extend_from_slice(&cert_body[tbs_len..]);
    Some(encode_tlv(0x30, &tbs))
}

/// The bytes the issuer signed, for a view made by [`decode_certificate`]: `Ok(None)`
/// when `c` is not such a view, `Err` when it pretends to be one but its kept validity
/// does not match it. `view_tbs` is the view's tbsCertificate DER and `view_validity`
/// its validity as decoded.
pub(crate) fn signed_tbs(
    c: &Certificate,
    view_tbs: &[u8],
    view_validity: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let exts = c.tbs_certificate().extensions().map(|e| e.as_slice());
    let Some(ext) = crate::validate::find_ext(exts, ORIGINAL_VALIDITY)? else {
        return Ok(None);
    };
    let original = ext.extn_value.as_bytes();
    let bad = || "inconsistent pre-1970 validity".to_string();
    let (clamped, changed) = clamp_validity(original).ok_or_else(bad)?;
    if !changed || clamped != view_validity {
        return Err(bad());
    }
    let (_, body, _) = split_tlv(view_tbs).ok_or_else(bad)?;
    let mut elems: Vec<Vec<u8>> = elements(body)
        .ok_or_else(bad)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let refs: Vec<&[u8]> = elems.iter().map(Vec::as_slice).collect();
    let vi = validity_index(&refs);
    *elems.get_mut(vi).ok_or_else(bad)? = original.to_vec();
    let last = elems.pop().ok_or_else(bad)?;
    if last.first() != Some(&0xA3) {
        return Err(bad());
    }
    let (_, inner, _) = split_tlv(&last).ok_or_else(bad)?;
    let (_, list, _) = split_tlv(inner).ok_or_else(bad)?;
    let kept: Vec<&[u8]> = elements(list)
        .ok_or_else(bad)?
        .into_iter()
        .filter(|e| Extension::from_der(e).map_or(true, |x| x.extn_id != ORIGINAL_VALIDITY))
        .collect();
    if !kept.is_empty() {
        elems.push(encode_tlv(0xA3, &encode_tlv(0x30, &kept.concat())));
    }
    Ok(Some(encode_tlv(0x30, &elems.concat())))
}
