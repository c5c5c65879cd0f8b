//! The object identifiers the validator recognises.

use const_oid::ObjectIdentifier;

const fn o(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

pub(crate) const ANY_POLICY: ObjectIdentifier = o("2.5.29.32.0");
pub(crate) const EMAIL_ADDRESS: ObjectIdentifier = o("1.2.840.113549.1.9.1");
pub(crate) const SUBJECT_KEY_ID: ObjectIdentifier = o("2.5.29.14");
pub(crate) const KEY_USAGE: ObjectIdentifier = o("2.5.29.15");
pub(crate) const PRIVATE_KEY_USAGE_PERIOD: ObjectIdentifier = o("2.5.29.16");
pub(crate) const SUBJECT_ALT_NAME: ObjectIdentifier = o("2.5.29.17");
pub(crate) const ISSUER_ALT_NAME: ObjectIdentifier = o("2.5.29.18");
pub(crate) const BASIC_CONSTRAINTS: ObjectIdentifier = o("2.5.29.19");
pub(crate) const CRL_NUMBER: ObjectIdentifier = o("2.5.29.20");
pub(crate) const CRL_REASON: ObjectIdentifier = o("2.5.29.21");
pub(crate) const INVALIDITY_DATE: ObjectIdentifier = o("2.5.29.24");
pub(crate) const DELTA_CRL_INDICATOR: ObjectIdentifier = o("2.5.29.27");
pub(crate) const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = o("2.5.29.28");
pub(crate) const CERTIFICATE_ISSUER: ObjectIdentifier = o("2.5.29.29");
pub(crate) const NAME_CONSTRAINTS: ObjectIdentifier = o("2.5.29.30");
pub(crate) const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = o("2.5.29.31");
pub(crate) const CERTIFICATE_POLICIES: ObjectIdentifier = o("2.5.29.32");
pub(crate) const POLICY_MAPPINGS: ObjectIdentifier = o("2.5.29.33");
pub(crate) const AUTHORITY_KEY_ID: ObjectIdentifier = o("2.5.29.35");
pub(crate) const POLICY_CONSTRAINTS: ObjectIdentifier = o("2.5.29.36");
pub(crate) const EXT_KEY_USAGE: ObjectIdentifier = o("2.5.29.37");
pub(crate) const FRESHEST_CRL: ObjectIdentifier = o("2.5.29.46");
pub(crate) const INHIBIT_ANY_POLICY: ObjectIdentifier = o("2.5.29.54");
pub(crate) const AUTHORITY_INFO_ACCESS: ObjectIdentifier = o("1.3.6.1.5.5.7.1.1");
pub(crate) const SUBJECT_INFO_ACCESS: ObjectIdentifier = o("1.3.6.1.5.5.7.1.11");

/// Certificate extensions the validator processes (or may safely ignore).
pub(crate) const KNOWN_CERT_EXTENSIONS: &[ObjectIdentifier] = &[
    SUBJECT_KEY_ID,
    KEY_USAGE,
    PRIVATE_KEY_USAGE_PERIOD,
    SUBJECT_ALT_NAME,
    ISSUER_ALT_NAME,
    BASIC_CONSTRAINTS,
    NAME_CONSTRAINTS,
    CRL_DISTRIBUTION_POINTS,
    CERTIFICATE_POLICIES,
    POLICY_MAPPINGS,
    AUTHORITY_KEY_ID,
    POLICY_CONSTRAINTS,
    EXT_KEY_USAGE,
    FRESHEST_CRL,
    INHIBIT_ANY_POLICY,
    AUTHORITY_INFO_ACCESS,
    SUBJECT_INFO_ACCESS,
];

/// CRL extensions the validator processes.
pub(crate) const KNOWN_CRL_EXTENSIONS: &[ObjectIdentifier] = &[
    AUTHORITY_KEY_ID,
    ISSUER_ALT_NAME,
    CRL_NUMBER,
    DELTA_CRL_INDICATOR,
    ISSUING_DISTRIBUTION_POINT,
    FRESHEST_CRL,
    AUTHORITY_INFO_ACCESS,
];

/// CRL entry extensions the validator processes.
pub(crate) const KNOWN_ENTRY_EXTENSIONS: &[ObjectIdentifier] =
    &[CRL_REASON, INVALIDITY_DATE, CERTIFICATE_ISSUER];
