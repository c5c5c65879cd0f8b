//! The identity of a French health professional, as a CPS certificate names it.
//!
//! A professional's certificate carries the national identifier (RPPS/ADELI based,
//! e.g. `810001234567`) as the CN of a multi-valued RDN together with the surname
//! and given name — `CN=810001234567+SN=DUPONT+GN=JEAN` — and the profession in the
//! `title` attribute.

use const_oid::ObjectIdentifier;
use der::asn1::{Any, BmpString};
use der::{Tag, Tagged};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
const TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
const GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");

/// A health professional's identity read from a CPS certificate's subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CpsIdentity {
    /// The national identifier (the CN of the multi-valued RDN).
    pub national_id: String,
    /// Surname (`SN`).
    pub surname: Option<String>,
    /// Given name (`GN`).
    pub given_name: Option<String>,
    /// Profession (`title`), e.g. `Médecin`.
    pub profession: Option<String>,
}

/// Read the CPS identity of a certificate's subject.
///
/// Returns `Some` when the subject has a multi-valued RDN holding a CN together with
/// a surname or a given name (the CPS layout); an ordinary `CN=Alice` subject is
/// `None`. SN and GN are taken from that RDN first, then from anywhere in the
/// subject; `title` from anywhere. Values in UTF8String, PrintableString,
/// TeletexString (read as Latin-1), IA5String and BMPString are understood; a value
/// that does not decode is left out.
pub fn cps_identity(cert: &Certificate) -> Option<CpsIdentity> {
    let subject = cert.tbs_certificate().subject();
    let rdn = subject.iter_rdn().find(|rdn| {
        let has = |oid| rdn.iter().any(|atv| atv.oid == oid);
        rdn.len() > 1 && has(CN) && (has(SURNAME) || has(GIVEN_NAME))
    })?;
    let in_rdn = |oid| rdn.iter().find(|atv| atv.oid == oid).and_then(value);
    let anywhere = |oid| subject.iter().find(|atv| atv.oid == oid).and_then(value);
    let national_id = in_rdn(CN)?.trim().to_owned();
    if national_id.is_empty() {
        return None;
    }
    Some(CpsIdentity {
        national_id,
        surname: in_rdn(SURNAME).or_else(|| anywhere(SURNAME)),
        given_name: in_rdn(GIVEN_NAME).or_else(|| anywhere(GIVEN_NAME)),
        profession: anywhere(TITLE),
    })
}

/// The text of a directory-string attribute value.
fn value(atv: &AttributeTypeAndValue) -> Option<String> {
    let any: &Any = &atv.value;
    let bytes = any.value();
    match any.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => BmpString::from_ucs2(bytes.to_vec())
            .ok()
            .map(|s| s.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};
    use std::str::FromStr;
    use x509_cert::name::Name;

    /// A certificate from the test CA with its subject replaced (signature not checked):
    /// the TBS and the certificate are re-assembled as SEQUENCEs of their elements.
    fn cert_with_subject(subject: &str) -> Certificate {
        let ca = crate::CertificateAuthority::new("CPS Test CA", 1024).expect("ca");
        let cert_der = ca.certificate().to_der().expect("der");
        let mut outer = Vec::<Any>::from_der(&cert_der).expect("certificate elements");
        let mut tbs = Vec::<Any>::from_der(&outer[0].to_der().expect("tbs")).expect("tbs elements");
        let name = Name::from_str(subject)
            .expect("name")
            .to_der()
            .expect("name der");
        // [0] version, serial, signature, issuer, validity, subject, …
        tbs[5] = Any::from_der(&name).expect("name any");
        outer[0] = Any::from_der(&tbs.to_der().expect("tbs der")).expect("tbs any");
        Certificate::from_der(&outer.to_der().expect("cert der")).expect("cert")
    }

    #[test]
    fn reads_a_cps_subject() {
        let cert = cert_with_subject("CN=810001234567+SN=DUPONT+GN=JEAN,title=Médecin,O=ANS,C=FR");
        let id = cps_identity(&cert).expect("cps identity");
        assert_eq!(id.national_id, "810001234567");
        assert_eq!(id.surname.as_deref(), Some("DUPONT"));
        assert_eq!(id.given_name.as_deref(), Some("JEAN"));
        assert_eq!(id.profession.as_deref(), Some("Médecin"));
    }

    #[test]
    fn missing_parts_are_none() {
        let cert = cert_with_subject("CN=899700218896+GN=MARIE,C=FR");
        let id = cps_identity(&cert).expect("cps identity");
        assert_eq!(id.national_id, "899700218896");
        assert_eq!(id.surname, None);
        assert_eq!(id.given_name.as_deref(), Some("MARIE"));
        assert_eq!(id.profession, None);
    }

    #[test]
    fn ordinary_subjects_are_not_cps() {
        assert_eq!(cps_identity(&cert_with_subject("CN=Alice,O=Example")), None);
        assert_eq!(
            cps_identity(&cert_with_subject("CN=Alice+O=Example,title=Boss")),
            None
        );
        assert_eq!(cps_identity(&cert_with_subject("SN=DUPONT+GN=JEAN")), None);
    }
}
