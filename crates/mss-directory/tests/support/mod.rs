//! Test support: a throwaway slapd and a test PKI.
pub mod pki;
pub mod slapd;
