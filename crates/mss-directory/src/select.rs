//! Which certificates can encrypt to an address, best first.
//!
//! A directory entry usually holds several certificates for one person (CPS cards carry
//! a signature certificate and a confidentiality certificate; renewals overlap). For
//! encryption mss wants one that is valid now, whose key may encipher keys
//! (keyEncipherment for RSA key transport, keyAgreement for ECDH/DH), allowed for
//! e-mail protection, and that names the address (subjectAltName rfc822Name, or the
//! PKCS#9 emailAddress of the subject).

use std::collections::HashSet;
use std::time::SystemTime;

use der::asn1::Ia5String;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

use mss_algs::oid;

use crate::summary::fingerprint;

/// The e-mail addresses a certificate names: every subjectAltName rfc822Name, then
/// every PKCS#9 emailAddress of the subject, lower-cased, without duplicates.
pub fn certificate_addresses(c: &Certificate) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        let s = s.trim().to_ascii_lowercase();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    if let Ok(Some((_, san))) = c.tbs_certificate().get_extension::<SubjectAltName>() {
        for n in san.0.iter() {
            if let GeneralName::Rfc822Name(m) = n {
                push(m.to_string());
            }
        }
    }
    for atv in c.tbs_certificate().subject().iter() {
        if atv.oid == oid::EMAIL_ADDRESS
            && let Ok(s) = atv.value.decode_as::<Ia5String>()
        {
            push(s.to_string());
        }
    }
    out
}

/// Does the certificate name `address` (case-insensitive)?
pub fn names_address(c: &Certificate, address: &str) -> bool {
    let wanted = address.trim().to_ascii_lowercase();
    certificate_addresses(c).contains(&wanted)
}

fn key_usage(c: &Certificate) -> Option<KeyUsage> {
    c.tbs_certificate()
        .get_extension::<KeyUsage>()
        .ok()
        .flatten()
        .map(|(_, ku)| ku)
}

/// May the certificate's key be used to encrypt to it: keyUsage (when present) has
/// keyEncipherment or keyAgreement, extendedKeyUsage (when present, and decodable)
/// has emailProtection or anyExtendedKeyUsage.
pub fn can_encrypt(c: &Certificate) -> bool {
    if let Some(ku) = key_usage(c)
        && !(ku.0.contains(KeyUsages::KeyEncipherment) || ku.0.contains(KeyUsages::KeyAgreement))
    {
        return false;
    }
    match c.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(None) => true,
        Ok(Some((_, eku))) => eku
            .0
            .iter()
            .any(|o| *o == oid::ID_KP_EMAIL_PROTECTION || *o == oid::ANY_EXTENDED_KEY_USAGE),
        Err(_) => false,
    }
}

/// Is the certificate dedicated to encryption (its keyUsage allows no signature)?
fn encryption_only(c: &Certificate) -> bool {
    key_usage(c).is_some_and(|ku| {
        !(ku.0.contains(KeyUsages::DigitalSignature) || ku.0.contains(KeyUsages::NonRepudiation))
    })
}

/// The certificates of `certs` usable to encrypt to `address` at `now`, best first:
/// valid at `now`, [`can_encrypt`], naming the address. Among those, certificates
/// dedicated to encryption come before dual-use ones, then the most recently issued
/// (latest notBefore), then the one valid longest. Duplicates (same DER) are dropped.
pub fn encryption_certificates(
    certs: &[Certificate],
    address: &str,
    now: SystemTime,
) -> Vec<Certificate> {
    let mut seen = HashSet::new();
    let mut usable: Vec<&Certificate> = certs
        .iter()
        .filter(|c| mss_pki::is_valid_at(c, now))
        .filter(|c| can_encrypt(c))
        .filter(|c| names_address(c, address))
        .filter(|c| seen.insert(fingerprint(c)))
        .collect();
    usable.sort_by_key(|c| {
        let v = c.tbs_certificate().validity();
        (
            !encryption_only(c),
            std::cmp::Reverse(v.not_before.to_system_time()),
            std::cmp::Reverse(v.not_after.to_system_time()),
        )
    });
    usable.into_iter().cloned().collect()
}
