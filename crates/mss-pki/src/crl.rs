//! CRL v2 revocation checking (RFC 5280 §6.3), delta CRLs included.
//!
//! Internal to the validator: for one certificate of a path, find the complete CRLs in
//! scope (issuer, indirect CRLs, distribution points, issuing distribution point,
//! reasons), check who signed each (the issuer, or another certificate with cRLSign
//! whose own path validates to the same anchor), apply a matching delta CRL, and decide
//! revoked / not revoked / unknown.

use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, GeneralNames};
use x509_cert::name::Name;

use crate::names::{NormName, norm, norm_rdn};
use crate::oids;
use crate::validate::{
    Info, Run, ValidationError, Validator, WorkingKey, decode_ext, verify_signature,
};

/// Decode a CRL, v1 ones included.
///
/// RFC 5280 §5.1 makes `version` OPTIONAL (absent means v1), but x509-cert 0.3 declares
/// it mandatory and refuses v1 CRLs such as RFC 4134's. A v1 CRL is decoded by giving
/// its TBSCertList an explicit `v1` version, which is taken out again when the
/// signature is checked, so the signed bytes are the ones received.
pub fn decode_crl(der: &[u8]) -> Result<CertificateList, der::Error> {
    match CertificateList::from_der(der) {
        Ok(crl) => Ok(crl),
        Err(first) => with_v1_version(der)
            .ok_or(first)
            .and_then(|d| CertificateList::from_der(&d)),
    }
}

/// The CRL with `version INTEGER 0` inserted at the head of a TBSCertList that has none.
fn with_v1_version(der: &[u8]) -> Option<Vec<u8>> {
    let (outer_tag, outer_body, _) = split_tlv(der)?;
    let (tbs_tag, tbs_body, tbs_len) = split_tlv(outer_body)?;
    if outer_tag != 0x30 || tbs_tag != 0x30 || tbs_body.first() != Some(&0x30) {
        return None;
    }
    let mut tbs_value = vec![0x02, 0x01, 0x00];
    tbs_value.extend_from_slice(tbs_body);
    let mut outer_value = encode_tlv(0x30, &tbs_value);
    outer_value.extend_from_slice(outer_body.get(tbs_len..)?);
    Some(encode_tlv(0x30, &outer_value))
}

/// The DER the CRL issuer signed: a v1 TBSCertList carries no version field.
pub(crate) fn tbs_der(crl: &CertificateList) -> Result<Vec<u8>, der::Error> {
    let der = crl.tbs_cert_list.to_der()?;
    if crl.tbs_cert_list.version != x509_cert::Version::V1 {
        return Ok(der);
    }
    let bad = || der::Error::from(der::ErrorKind::Failed);
    let (_, body, _) = split_tlv(&der).ok_or_else(bad)?;
    // The first field is the version INTEGER 0 (three bytes): drop it.
    let rest = body.strip_prefix(&[0x02, 0x01, 0x00]).ok_or_else(bad)?;
    Ok(encode_tlv(0x30, rest))
}

/// `(tag, value, total length)` of the DER element at the start of `data` (single-byte
/// tags only).
pub(crate) fn split_tlv(data: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *data.first()?;
    let (len, hdr) = match *data.get(1)? {
        l if l < 0x80 => (usize::from(l), 2),
        l => {
            let n = usize::from(l & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for b in data.get(2..2 + n)? {
                len = (len << 8) | usize::from(*b);
            }
            (len, 2 + n)
        }
    };
    let end = hdr.checked_add(len)?;
    Some((tag, data.get(hdr..end)?, end))
}

pub(crate) fn encode_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// All reason bits (unused, bit 0, excluded).
const ALL_REASONS: u16 = 0x1FE;

fn crl_exts(crl: &CertificateList) -> Option<&[Extension]> {
    crl.tbs_cert_list.crl_extensions.as_deref()
}

/// A CRL's extensions that matter, or `None` when the CRL cannot be used (malformed, or
/// an unknown critical extension in it or in one of its entries).
struct CrlInfo {
    number: Option<Vec<u8>>,
    base: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
}

fn uint_bytes(u: &der::asn1::Uint) -> Vec<u8> {
    let b = u.as_bytes();
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[i..].to_vec()
}

fn cmp_uint(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn crl_info(crl: &CertificateList) -> Option<CrlInfo> {
    let exts = crl_exts(crl);
    for e in exts.unwrap_or_default() {
        if e.critical && !oids::KNOWN_CRL_EXTENSIONS.contains(&e.extn_id) {
            return None;
        }
    }
    for entry in crl
        .tbs_cert_list
        .revoked_certificates
        .as_deref()
        .unwrap_or_default()
    {
        for e in entry.crl_entry_extensions.as_deref().unwrap_or_default() {
            if e.critical && !oids::KNOWN_ENTRY_EXTENSIONS.contains(&e.extn_id) {
                return None;
            }
        }
    }
    let number = decode_ext::<x509_cert::ext::pkix::crl::CrlNumber>(exts, oids::CRL_NUMBER)
        .ok()?
        .map(|n| uint_bytes(&n.0));
    let base =
        decode_ext::<x509_cert::ext::pkix::crl::BaseCrlNumber>(exts, oids::DELTA_CRL_INDICATOR)
            .ok()?
            .map(|n| uint_bytes(&n.0));
    let idp_ext = crate::validate::find_ext(exts, oids::ISSUING_DISTRIBUTION_POINT).ok()?;
    let (idp, idp_der) = match idp_ext {
        None => (None, None),
        Some(e) => (
            Some(IssuingDistributionPoint::from_der(e.extn_value.as_bytes()).ok()?),
            Some(e.extn_value.as_bytes().to_vec()),
        ),
    };
    if base.is_some() && number.is_none() {
        return None;
    }
    Some(CrlInfo {
        number,
        base,
        idp,
        idp_der,
    })
}

fn current(crl: &CertificateList, time: SystemTime) -> bool {
    let t = &crl.tbs_cert_list;
    t.this_update.to_system_time() <= time
        && t.next_update.is_none_or(|n| time <= n.to_system_time())
}

/// A general name, normalised for distribution point matching.
#[derive(PartialEq, Eq)]
enum DpName {
    Dn(NormName),
    Other(Vec<u8>),
}

fn dp_names(gns: &GeneralNames) -> Vec<DpName> {
    gns.iter()
        .map(|g| match g {
            GeneralName::DirectoryName(n) => DpName::Dn(norm(n)),
            other => DpName::Other(other.to_der().unwrap_or_default()),
        })
        .collect()
}

fn dpn_names(dpn: &DistributionPointName, relative_to: &Name) -> Vec<DpName> {
    match dpn {
        DistributionPointName::FullName(g) => dp_names(g),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            let mut n = norm(relative_to);
            n.push(norm_rdn(rdn));
            vec![DpName::Dn(n)]
        }
    }
}

fn reason_bits(r: Option<x509_cert::ext::pkix::crl::dp::ReasonFlags>) -> u16 {
    r.map_or(ALL_REASONS, |f| f.bits() & ALL_REASONS)
}

/// What a CRL says about the certificate.
enum Entry {
    Absent,
    Revoked(CrlReason),
}

fn lookup(crl: &CertificateList, cert: &Certificate) -> Result<Entry, ()> {
    let tbs = cert.tbs_certificate();
    let cert_issuer = norm(tbs.issuer());
    let mut entry_issuer = norm(&crl.tbs_cert_list.issuer);
    for e in crl
        .tbs_cert_list
        .revoked_certificates
        .as_deref()
        .unwrap_or_default()
    {
        let exts = e.crl_entry_extensions.as_deref();
        if let Some(ci) =
            decode_ext::<GeneralNames>(exts, oids::CERTIFICATE_ISSUER).map_err(|_| ())?
        {
            entry_issuer = ci
                .iter()
                .find_map(|g| match g {
                    GeneralName::DirectoryName(n) => Some(norm(n)),
                    _ => None,
                })
                .ok_or(())?;
        }
        if e.serial_number.as_bytes() == tbs.serial_number().as_bytes()
            && entry_issuer == cert_issuer
        {
            let reason = decode_ext::<CrlReason>(exts, oids::CRL_REASON)
                .map_err(|_| ())?
                .unwrap_or(CrlReason::Unspecified);
            return Ok(Entry::Revoked(reason));
        }
    }
    Ok(Entry::Absent)
}

impl Validator<'_> {
    /// Is `crl` usable for `cert` at the validation time? Current at that time (RFC
    /// 5280 §6.3.3); or, under a [`crate::RevocationChecker`] validating at a past time
    /// (a signing time), a later CRL: issued at or after the validation time, current
    /// at the clock, and issued while `cert` was still within its validity, so that a
    /// revocation before the validation time is necessarily listed (entries leave CRLs
    /// only after the certificate expires). A listed certificate counts as revoked
    /// whatever its revocation date (conservative).
    fn crl_usable(&self, crl: &CertificateList, cert: &Certificate) -> bool {
        let time = self.options.time;
        if current(crl, time) {
            return true;
        }
        let crate::Revocation::Checked(chk) = self.options.revocation else {
            return false;
        };
        let this_update = crl.tbs_cert_list.this_update.to_system_time();
        let not_after = cert.tbs_certificate().validity().not_after.to_system_time();
        time <= this_update && this_update <= not_after && current(crl, chk.now)
    }

    /// Find a key that signed `crl`: a certificate named like the CRL issuer, allowed
    /// to sign CRLs, whose path validates to `above[0]` (the path's anchor). Returns the
    /// key.
    fn crl_signer(
        &self,
        run: &Run,
        crl: &CertificateList,
        above: &[(&Certificate, WorkingKey)],
        cert: &Certificate,
        warnings: &mut Vec<String>,
    ) -> Result<Option<WorkingKey>, ValidationError> {
        let issuer = norm(&crl.tbs_cert_list.issuer);
        let Ok(tbs) = tbs_der(crl) else {
            return Ok(None);
        };
        if crl.signature_algorithm != crl.tbs_cert_list.signature {
            return Ok(None);
        }
        let try_key = |key: &WorkingKey, warnings: &mut Vec<String>| {
            verify_signature(
                self.policy,
                &tbs,
                &crl.signature_algorithm,
                &crl.signature,
                key,
                warnings,
            )
            .is_ok()
        };
        // Certificates already on the path (anchor included), nearest first.
        for (c, key) in above.iter().rev() {
            if norm(c.tbs_certificate().subject()) != issuer {
                continue;
            }
            let info = Info::parse(c)?;
            if !info.allows(KeyUsages::CRLSign) {
                continue;
            }
            run.spend(self.options.max_signature_checks)?;
            if try_key(key, warnings) {
                return Ok(Some(key.clone()));
            }
        }
        // The certificate itself (a CRL issuer's certificate covered by its own CRL,
        // PKITS 4.14.30): its signature was just checked by its issuer.
        if norm(cert.tbs_certificate().subject()) == issuer
            && Info::parse(cert)?.allows(KeyUsages::CRLSign)
            && let Some((_, issuer_key)) = above.last()
        {
            let key = issuer_key.next(cert);
            run.spend(self.options.max_signature_checks)?;
            if try_key(&key, warnings) {
                return Ok(Some(key));
            }
        }
        if run.depth >= 3 {
            return Ok(None);
        }
        // Other certificates: their own path must validate (revocation included).
        let Some((anchor, _)) = above.first() else {
            return Ok(None);
        };
        let anchors = std::slice::from_ref(*anchor);
        for c in self.pool.iter() {
            if norm(c.tbs_certificate().subject()) != issuer || above.iter().any(|(a, _)| *a == c) {
                continue;
            }
            let info = Info::parse(c)?;
            if !info.allows(KeyUsages::CRLSign) {
                continue;
            }
            let sub = Validator {
                anchors,
                pool: self.pool,
                options: crate::validate::ValidationOptions {
                    initial_policy_set: None,
                    initial_explicit_policy: false,
                    initial_policy_mapping_inhibit: false,
                    initial_any_policy_inhibit: false,
                    ..self.options.clone()
                },
                policy: self.policy,
            };
            let nested = run.nested();
            let path = match sub.build_in(&nested, c) {
                Ok(p) => p,
                Err(ValidationError::Budget) => return Err(ValidationError::Budget),
                Err(_) => continue,
            };
            let Some(key) = path.leaf_key.clone() else {
                continue;
            };
            run.spend(self.options.max_signature_checks)?;
            if try_key(&key, warnings) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// RFC 5280 §6.3 for `cert`, whose issuer is the last of `above`.
    pub(crate) fn check_revocation(
        &self,
        run: &Run,
        crls: &[CertificateList],
        cert: &Certificate,
        info: &Info,
        above: &[(&Certificate, WorkingKey)],
        warnings: &mut Vec<String>,
    ) -> Result<bool, ValidationError> {
        let mut used_delta = false;
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject().to_string();
        let cert_issuer = norm(tbs.issuer());
        let mut dps: Vec<DistributionPoint> = info.crldp.clone().unwrap_or_default();
        dps.push(DistributionPoint {
            distribution_point: None,
            reasons: None,
            crl_issuer: None,
        });
        let mut mask: u16 = 0;
        let mut why = String::from("no CRL in scope");
        for dp in &dps {
            for crl in crls {
                if mask == ALL_REASONS {
                    return Ok(used_delta);
                }
                let Some(ci) = crl_info(crl) else {
                    continue;
                };
                if ci.base.is_some() {
                    continue; // delta CRLs are applied with their complete CRL
                }
                let crl_issuer = norm(&crl.tbs_cert_list.issuer);
                // (b)(1) issuer
                let indirect = ci.idp.as_ref().is_some_and(|i| i.indirect_crl);
                match &dp.crl_issuer {
                    Some(names) => {
                        if !indirect || !dp_names(names).contains(&DpName::Dn(crl_issuer.clone())) {
                            continue;
                        }
                    }
                    None => {
                        if crl_issuer != cert_issuer {
                            continue;
                        }
                    }
                }
                // (b)(2) issuing distribution point
                if let Some(idp) = &ci.idp {
                    if let Some(idp_name) = &idp.distribution_point {
                        let idp_names = dpn_names(idp_name, &crl.tbs_cert_list.issuer);
                        let dp_side = match (&dp.distribution_point, &dp.crl_issuer) {
                            (Some(n), issuers) => {
                                // A relative name is relative to the cRLIssuer when
                                // present (RFC 5280 §4.2.1.13), else to the issuer.
                                let base = issuers
                                    .as_ref()
                                    .and_then(|g| {
                                        g.iter().find_map(|x| match x {
                                            GeneralName::DirectoryName(n) => Some(n),
                                            _ => None,
                                        })
                                    })
                                    .unwrap_or(tbs.issuer());
                                dpn_names(n, base)
                            }
                            (None, Some(issuers)) => dp_names(issuers),
                            (None, None) => Vec::new(),
                        };
                        if !idp_names.iter().any(|n| dp_side.contains(n)) {
                            continue;
                        }
                    }
                    if (idp.only_contains_user_certs && info.is_ca())
                        || (idp.only_contains_ca_certs && !info.is_ca())
                        || idp.only_contains_attribute_certs
                    {
                        continue;
                    }
                }
                // (d) reasons
                let interim = reason_bits(ci.idp.as_ref().and_then(|i| i.only_some_reasons))
                    & reason_bits(dp.reasons);
                if interim & !mask == 0 {
                    continue;
                }
                if !self.crl_usable(crl, cert) {
                    why = format!("CRL of {} is not current", crl.tbs_cert_list.issuer);
                    continue;
                }
                // (f)(g) signer
                let Some(key) = self.crl_signer(run, crl, above, cert, warnings)? else {
                    why = format!(
                        "no valid signer for the CRL of {}",
                        crl.tbs_cert_list.issuer
                    );
                    continue;
                };
                // (c) delta CRL: the current one with the highest number wins.
                let mut delta_entry: Option<(Vec<u8>, Entry)> = None;
                let mut stale_delta = false;
                if let Some(number) = &ci.number {
                    for d in crls {
                        let Some(di) = crl_info(d) else { continue };
                        let (Some(base), Some(dn)) = (&di.base, &di.number) else {
                            continue;
                        };
                        if norm(&d.tbs_cert_list.issuer) != crl_issuer
                            || di.idp_der != ci.idp_der
                            || cmp_uint(base, number).is_gt()
                            || cmp_uint(dn, number).is_le()
                        {
                            continue;
                        }
                        run.spend(self.options.max_signature_checks)?;
                        let Ok(dtbs) = d.tbs_cert_list.to_der() else {
                            continue;
                        };
                        if verify_signature(
                            self.policy,
                            &dtbs,
                            &d.signature_algorithm,
                            &d.signature,
                            &key,
                            warnings,
                        )
                        .is_err()
                        {
                            continue;
                        }
                        if !self.crl_usable(d, cert) {
                            stale_delta = true;
                            continue;
                        }
                        if delta_entry
                            .as_ref()
                            .is_some_and(|(best, _)| cmp_uint(dn, best).is_le())
                        {
                            continue;
                        }
                        match lookup(d, cert) {
                            Ok(e) => delta_entry = Some((dn.clone(), e)),
                            Err(()) => continue,
                        }
                    }
                }
                if stale_delta && delta_entry.is_none() {
                    why = "the delta CRL is not current".into();
                    continue;
                }
                let from_delta = delta_entry.is_some();
                let status = match delta_entry.map(|(_, e)| e) {
                    Some(Entry::Revoked(r)) => Entry::Revoked(r),
                    _ => match lookup(crl, cert) {
                        Ok(e) => e,
                        Err(()) => continue,
                    },
                };
                match status {
                    Entry::Revoked(CrlReason::RemoveFromCRL) | Entry::Absent => {}
                    Entry::Revoked(r) => {
                        return Err(ValidationError::Revoked {
                            subject,
                            reason: format!("{r:?}"),
                            by: if from_delta {
                                crate::revocation::RevocationSource::DeltaCrl
                            } else {
                                crate::revocation::RevocationSource::Crl
                            },
                        });
                    }
                }
                used_delta |= from_delta;
                mask |= interim;
            }
        }
        if mask == ALL_REASONS {
            Ok(used_delta)
        } else {
            Err(ValidationError::RevocationUnknown {
                subject,
                reason: why,
            })
        }
    }
}
