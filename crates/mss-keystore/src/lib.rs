//! # mss-keystore — the confidentiality key on the workstation
//!
//! The confidentiality (decryption) private key — imported from a PKCS#12 such as an
//! IGC-Santé software certificate, or generated here with a certificate request for
//! the CA — is stored in one SQLite file, encrypted with AES-256-GCM under a random
//! key-encryption key (KEK). Like LUKS, the KEK is held by *slots*:
//!
//! - the **card slot**: the KEK RSA-encrypted to the holder's decryption-capable
//!   certificate (on a CPS card, the authentication certificate), unwrapped by the
//!   card with the PIN; RSA-OAEP/SHA-256 when the card does it, else PKCS#1 v1.5
//!   (tried on the card when the slot is made);
//! - the **recovery slot**: the KEK sealed under a key derived with Argon2id from a
//!   recovery secret shown once ([`RecoverySecret`]), for the degraded mode without
//!   the card (decryption only: signing needs the card);
//! - **delegate slots**, one per active delegation: the holder
//!   [grants](KeyStore::grant) (a statement signed with the holder's signature key, in
//!   a CMS SignedData), the delegate [accepts](KeyStore::accept) with their own card
//!   (their card unwraps the KEK wrapped to their certificate, their signature key
//!   signs the acceptance), which creates the slot. Only the holder grants and
//!   [revokes](KeyStore::revoke); a delegate cannot re-delegate; an expired or revoked
//!   delegation opens nothing and its slot is destroyed.
//!
//! Every slot and the header carry an HMAC under a key derived from the KEK, so a
//! changed slot, certificate or date is detected when the store is unlocked; grants
//! are re-verified against the holder's certificate on every delegate unlock.
//!
//! Every change is one SQLite transaction; every grant, acceptance, revocation,
//! expiry, rekey, recovery unlock and every use of the key (who, when, which slot,
//! which Message-ID) is an entry of a hash-chained [audit log](KeyStore::verify_audit).
//! An unlocked store is a [`KeySession`] whose keys implement
//! [`mss_algs::keys::DecryptionKey`] for the `mss` facade, and record each use before
//! handing the unwrapped content key back.
//!
//! What is written here rather than taken from a crate: the schema and slot logic
//! (no crate does LUKS-like slots over SQLite), the recovery-secret format (grouped
//! Crockford base-32 with a Luhn mod 32 check character), a small RFC 3339 parser (no
//! date crate in the workspace; `der::DateTime` does the calendar). Argon2id is the
//! RustCrypto `argon2` 0.6 (see [`recovery`]), AES-GCM `aes-gcm`, HKDF/HMAC `hkdf` and
//! `hmac`, grants are signed and verified by `mss-cms`.
//!
//! The threat model is in `docs/delegation.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod crypto;
mod error;
mod grant;
pub mod recovery;
mod session;
mod store;
mod time;

pub use audit::{AuditEntry, AuditEvent, AuditHead};
pub use error::KeystoreError;
pub use recovery::{KdfParams, RecoverySecret};
pub use session::KeySession;
pub use store::{Created, GrantInfo, GrantStatus, KeyStore, NewKey, SlotKind};
pub use time::{format_rfc3339, parse_rfc3339};
