//! A certificate in a few lines, for `mss lookup` and `mss store list`.

use std::fmt;

use der::Encode;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};

use mss_algs::oid;

use crate::select::certificate_addresses;

/// SHA-256 of the certificate's DER, lower-case hex (64 characters). An encoding
/// failure (not possible for a decoded certificate) gives an empty string.
pub fn fingerprint(c: &Certificate) -> String {
    match c.to_der() {
        Ok(der) => hex::encode(Sha256::digest(&der)),
        Err(_) => String::new(),
    }
}

/// What a person needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Subject (RFC 4514 string).
    pub subject: String,
    /// Issuer (RFC 4514 string).
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// Start of validity (RFC 3339, UTC).
    pub not_before: String,
    /// End of validity (RFC 3339, UTC).
    pub not_after: String,
    /// Key usages (`digitalSignature`, `keyEncipherment`…); empty when unrestricted.
    pub key_usage: Vec<String>,
    /// Extended key usages (`emailProtection` or dotted OIDs).
    pub extended_key_usage: Vec<String>,
    /// E-mail addresses named by the certificate.
    pub addresses: Vec<String>,
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
}

impl CertificateSummary {
    /// Summarise `c`.
    pub fn of(c: &Certificate) -> Self {
        let tbs = c.tbs_certificate();
        let key_usage = match tbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) => [
                (KeyUsages::DigitalSignature, "digitalSignature"),
                (KeyUsages::NonRepudiation, "nonRepudiation"),
                (KeyUsages::KeyEncipherment, "keyEncipherment"),
                (KeyUsages::DataEncipherment, "dataEncipherment"),
                (KeyUsages::KeyAgreement, "keyAgreement"),
                (KeyUsages::KeyCertSign, "keyCertSign"),
                (KeyUsages::CRLSign, "cRLSign"),
                (KeyUsages::EncipherOnly, "encipherOnly"),
                (KeyUsages::DecipherOnly, "decipherOnly"),
            ]
            .into_iter()
            .filter(|(flag, _)| ku.0.contains(*flag))
            .map(|(_, name)| name.to_owned())
            .collect(),
            _ => Vec::new(),
        };
        let extended_key_usage = match tbs.get_extension::<ExtendedKeyUsage>() {
            Ok(Some((_, eku))) => eku
                .0
                .iter()
                .map(|o| {
                    if *o == oid::ID_KP_EMAIL_PROTECTION {
                        "emailProtection".to_owned()
                    } else if *o == oid::ANY_EXTENDED_KEY_USAGE {
                        "anyExtendedKeyUsage".to_owned()
                    } else {
                        o.to_string()
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        CertificateSummary {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            serial: tbs.serial_number().to_string(),
            not_before: tbs.validity().not_before.to_string(),
            not_after: tbs.validity().not_after.to_string(),
            key_usage,
            extended_key_usage,
            addresses: certificate_addresses(c),
            fingerprint: fingerprint(c),
        }
    }
}

impl fmt::Display for CertificateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "(unrestricted)".to_owned()
            } else {
                v.join(", ")
            }
        };
        writeln!(f, "  subject:     {}", self.subject)?;
        writeln!(f, "  issuer:      {}", self.issuer)?;
        writeln!(f, "  serial:      {}", self.serial)?;
        writeln!(
            f,
            "  valid:       {} .. {}",
            self.not_before, self.not_after
        )?;
        writeln!(f, "  key usage:   {}", or_none(&self.key_usage))?;
        writeln!(f, "  ext. usage:  {}", or_none(&self.extended_key_usage))?;
        writeln!(f, "  addresses:   {}", self.addresses.join(", "))?;
        write!(f, "  sha256:      {}", self.fingerprint)
    }
}
