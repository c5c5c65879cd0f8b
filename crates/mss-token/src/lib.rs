//! # mss-token — identities for mss
//!
//! An *identity* is a certificate, the chain that goes with it, and a private key
//! that can sign digests and unwrap content-encryption keys. This crate owns:
//!
//! - [`SoftwareIdentity`]: a key held in memory, loaded from a PKCS#12 (RFC 7292)
//!   file or a PEM bundle, implementing [`mss_algs::keys::SigningKey`] and
//!   [`mss_algs::keys::DecryptionKey`];
//! - [`PinSource`]: how an identity asks for a password or PIN (fixed value,
//!   callback, or none);
//! - [`ca::CertificateAuthority`]: a small certificate authority issuing S/MIME
//!   certificates, used by `mss demo` and by tests;
//! - [`pkcs11`]: smart cards (the CPS card) through a PKCS#11 module: [`CpsCard`],
//!   [`open_identity`] for a file or a `pkcs11:` URI, [`cps_identity`];
//! - [`pkcs12`]: the PKCS#12 reader (ASN.1 types, key derivation, MAC and
//!   password-based decryption).
//!
//! Keys of every kind (RSA, DSA, EC, Ed25519, X25519, DH) are
//! [`mss_algs::keys::SoftwarePrivateKey`]s; the arithmetic lives in `mss-algs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ca;
mod error;
mod pem;
pub mod pin;
pub mod pkcs11;
pub mod pkcs12;
mod software;

pub use ca::{CertificateAuthority, KeyUsageProfile, PersonProfile};
pub use error::TokenError;
pub use pin::{FixedPin, NoPin, PinRequest, PinSource};
pub use pkcs11::{
    CardError, CardIdentity, CpsCard, CpsIdentity, Identity, Pkcs11Module, Pkcs11Uri, cps_identity,
    open_identity,
};
pub use software::SoftwareIdentity;
