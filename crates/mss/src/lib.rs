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
//! - [`sign_message`] / [`encrypt_message`] / [`sign_and_encrypt_message`]: the same with
//!   [`MessageOptions`]: header protection (RFC 9788, on by default when encrypting) and
//!   a request for a signed receipt (RFC 2634);
//! - [`create_receipt`] / [`verify_receipt`]: ESS signed receipts;
//! - [`create_mdn`] / [`verify_mdn`]: disposition notifications (RFC 8098, MSSanté).
//! - [`encrypt_to_addresses`] / [`sign_and_encrypt_to_addresses`]: resolve every
//!   recipient address (local store, then directory) first; any missing certificate
//!   stops the send with [`Error::UnresolvedRecipients`] naming every missing address.
//! - [`coverage`]: which displayed parts the signatures cover (`partial-signature`,
//!   nested signed layers, signer vs From/Sender);
//! - [`capabilities`]: AES-GCM when every recipient announced it ([`preferred_cipher`],
//!   [`reply_cipher`]).
//!
//! What each warning means and the threat model: `docs/security.md`.
//! - [`stream`]: the same for messages larger than memory (`io::Read` in, `io::Write` out).
//!
//! Keys reach the facade as [`mss_algs::keys::SigningKey`] / [`mss_algs::keys::DecryptionKey`]
//! trait objects (software identities from `mss-token`, later smart cards); the algorithm
//! [`Policy`] is passed down to every layer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capabilities;
mod compose;
pub mod coverage;
mod error;
mod mdn;
mod open;
mod protected;
mod receipt;
mod recipients;
mod report;
mod send;
pub mod stream;
mod stream_parts;
mod stream_send;
pub mod trust;

pub use capabilities::{preferred_cipher, reply_cipher};
pub use compose::{
    MessageOptions, ProtectHeaders, ReceiptsFromSpec, RequestReceipt, encrypt_message,
    sign_and_encrypt_message, sign_message,
};
pub use error::Error;
pub use mdn::{
    DispositionFields, DispositionType, Mdn, MdnOptions, MdnStatus, MdnVerification, OriginalPart,
    build_mdn_draft, create_mdn, verify_mdn,
};
pub use open::{OpenOptions, Opened, certificate_email, open};
pub use protected::{HeaderDifference, HeaderValue, ProtectedHeaders};
pub use receipt::{
    ReceiptRequestReport, ReceiptStatus, ReceiptVerification, SignedReceipt, create_receipt,
    verify_receipt,
};
pub use recipients::{
    DEFAULT_GUIDANCE, RecipientSources, ResolvedRecipient, SentToAddresses, UnresolvedAddress,
    UnresolvedReason, UnresolvedRecipients, encrypt_to_addresses, resolve_recipients,
    sign_and_encrypt_to_addresses,
};
pub use report::{
    CpsSigner, Layer, LayerKind, PartCoverage, Report, SecurityLevel, SignatureReport,
    SignatureStatus, SignerInfo, reply_level,
};
pub use send::{EncryptOptions, SignOptions, encrypt, secure_reply, sign, sign_and_encrypt};
pub use trust::{RevocationOptions, RevocationReport, RevocationState, TimeSource};

/// The directory layer (LDAP client, local store, resolver) the send-to-addresses
/// functions take their sources from.
pub use mss_directory as directory;

pub use mss_algs::cipher::ContentCipher;
pub use mss_algs::digest::DigestAlgorithm;
pub use mss_algs::keys::{DecryptionKey, SigningKey};
pub use mss_algs::policy::{LegacyPolicy, Policy, StandardPolicy};
pub use mss_algs::rsa::KeyTransport;
pub use mss_algs::signature::SignatureScheme;
pub use mss_cms::enveloped::KekKey;
pub use mss_pki::{CrlCache, RevocationMode, RevocationSource};
pub use x509_cert::Certificate;
