//! # mss-directory — where recipients' certificates and CRLs come from
//!
//! Before encrypting, mss must find every recipient's encryption certificate; before
//! trusting a signer, the CRLs of its authorities. French health directories (the
//! historical GIP-CPS directory, today IGC-Santé's) publish both over LDAP v3:
//!
//! - people are `inetOrgPerson` entries with `mail`, `cn` and several
//!   `userCertificate;binary` values (signature and encryption certificates), sometimes
//!   `userSMIMECertificate` (a PKCS#7 certificate bag);
//! - authorities are `pkiCA` / `certificationAuthority` entries with
//!   `cACertificate;binary`, `certificateRevocationList;binary`,
//!   `authorityRevocationList;binary` and `deltaRevocationList;binary`;
//! - certificates name their CRL distribution points as LDAP URLs
//!   (`ldap://host/cn=…,o=…,c=FR?certificateRevocationList;binary?base?objectClass=pkiCA`).
//!
//! This crate offers:
//!
//! - the [`Directory`] trait, with the LDAP backend [`LdapDirectory`] (sync `ldap3`,
//!   `ldap://` and `ldaps://`, anonymous or simple bind, configurable base, filter
//!   template, timeout and size limit; servers' size limits are handled, a truncated
//!   answer is flagged) and the local store [`LocalStore`] (SQLite, bundled), which is
//!   the embedded default directory and also caches LDAP answers with a lifetime;
//! - [`select::encryption_certificates`]: which certificates of a lookup can encrypt to
//!   an address, best first;
//! - [`Resolver`]: the chain "local store, then directory, cache on failure" that the
//!   facade runs for every recipient;
//! - CRL fetching by distribution-point URL ([`LdapDirectory::fetch_crls_by_url`]) and
//!   by CA entry ([`LdapDirectory::ca_crls`]) for the trust layer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod ldap;
mod resolver;
pub mod select;
mod store;
mod summary;

pub use error::DirectoryError;
pub use ldap::{LdapConfig, LdapDirectory, SimpleBind, crl_distribution_point_urls};
pub use resolver::{DEFAULT_CACHE_TTL, Origin, Resolution, ResolveError, Resolver};
pub use store::{
    CachedLookup, CrlOrigin, LocalStore, StoredCertificate, StoredCrl, default_store_path,
};
pub use summary::{CertificateSummary, fingerprint};

use x509_cert::Certificate;

/// What a directory answered for an address: every certificate found, unfiltered, in
/// the directory's order.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The certificates of every matching entry (`userCertificate;binary` values, then
    /// the certificates of `userSMIMECertificate` bags), duplicates removed.
    pub certificates: Vec<Certificate>,
    /// The server capped the answer (LDAP sizeLimitExceeded): more entries matched
    /// than were returned.
    pub truncated: bool,
    /// Attribute values that were not decodable certificates (skipped).
    pub skipped: usize,
}

/// A CA entry's certificates and revocation lists, as published (DER).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaEntry {
    /// `cACertificate;binary` values.
    pub ca_certificates: Vec<Vec<u8>>,
    /// `certificateRevocationList;binary` values (complete CRLs).
    pub crls: Vec<Vec<u8>>,
    /// `authorityRevocationList;binary` values (ARLs: revoked CA certificates).
    pub authority_crls: Vec<Vec<u8>>,
    /// `deltaRevocationList;binary` values (delta CRLs).
    pub delta_crls: Vec<Vec<u8>>,
}

impl CaEntry {
    /// Every revocation list of the entry: CRLs, ARLs, then delta CRLs.
    pub fn all_crls(&self) -> Vec<Vec<u8>> {
        self.crls
            .iter()
            .chain(&self.authority_crls)
            .chain(&self.delta_crls)
            .cloned()
            .collect()
    }
}

/// A source of recipients' certificates and authorities' CRLs.
pub trait Directory {
    /// Every certificate published for `address` (compared case-insensitively). An
    /// address nobody has gives an empty [`Lookup`], not an error; a server that
    /// cannot be reached gives [`DirectoryError::Unreachable`].
    fn certificates_for(&self, address: &str) -> Result<Lookup, DirectoryError>;

    /// The certificates and revocation lists of the CA entry named `ca_dn` (an LDAP DN
    /// for the LDAP backend; the issuer name as an RFC 4514 string for the store).
    fn ca_entry(&self, ca_dn: &str) -> Result<CaEntry, DirectoryError>;

    /// A short description for messages and reports (`ldap://host:389 (o=gip-cps,c=fr)`).
    fn describe(&self) -> String;
}
