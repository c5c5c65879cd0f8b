//! # mss — Messagerie Sécurisée de Santé
//!
//! The facade: the product's use cases as a handful of calls.
//!
//! - [`sign`]: sign a draft (detached `multipart/signed` or opaque `application/pkcs7-mime`);
//! - [`encrypt`] / [`sign_and_encrypt`]: envelope a draft to its recipients — and always to
//!   the sender, so that the sent copy stays readable by its author;
//! - [`open`]: peel every layer of a received message (any nesting), verify every
//!   signature and its chain *on every call* (nothing is cached), decrypt, and return the
//!   clear MIME message with a [`Report`];
//! - [`reply_level`]: the security level a reply or forward must keep;
//! - [`stream`]: the same for messages larger than memory (`io::Read` in, `io::Write` out).
//!
//! Keys reach the facade as [`mss_algs::keys::SigningKey`] / [`mss_algs::keys::DecryptionKey`]
//! trait objects (software identities from `mss-token`, later smart cards); the algorithm
//! [`Policy`] is passed down to every layer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod open;
mod report;
mod send;
pub mod stream;
pub mod trust;

pub use error::Error;
pub use open::{OpenOptions, Opened, open};
pub use report::{
    CpsSigner, Layer, LayerKind, Report, SecurityLevel, SignatureReport, SignatureStatus,
    SignerInfo, reply_level,
};
pub use send::{EncryptOptions, SignOptions, encrypt, secure_reply, sign, sign_and_encrypt};
pub use trust::{RevocationOptions, RevocationReport, RevocationState, TimeSource};

pub use mss_algs::cipher::ContentCipher;
pub use mss_algs::digest::DigestAlgorithm;
pub use mss_algs::keys::{DecryptionKey, SigningKey};
pub use mss_algs::policy::{LegacyPolicy, Policy, StandardPolicy};
pub use mss_algs::rsa::KeyTransport;
pub use mss_algs::signature::SignatureScheme;
pub use mss_cms::enveloped::KekKey;
pub use mss_pki::{CrlCache, RevocationMode, RevocationSource};
pub use x509_cert::Certificate;
