//! The facade's error type: "could not do what was asked". A signature that does not
//! verify is not an error but a [`crate::Report`] verdict.

use mss_algs::AlgError;
use mss_cms::CmsError;
use mss_cms::mime::MimeError;

/// Why a send or open operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The algorithm policy refuses what was asked (e.g. producing 3DES).
    #[error("refused by policy {policy}: {what}")]
    PolicyViolation {
        /// Name of the policy.
        policy: String,
        /// What was refused.
        what: String,
    },
    /// None of the caller's keys is a recipient of the message.
    #[error(
        "cannot decrypt: this message is not addressed to any of your keys ({recipients} recipient(s))"
    )]
    NotARecipient {
        /// How many recipients the message names.
        recipients: usize,
    },
    /// Decryption failed (wrong key, corrupted or forged ciphertext).
    #[error("cannot decrypt: decryption failed (corrupted message or wrong key)")]
    DecryptionFailed,
    /// The message is not well-formed (MIME or CMS).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Something mss does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A private-key operation failed (card, PIN, …).
    #[error("key operation failed: {0}")]
    Key(String),
    /// The caller's request is inconsistent (e.g. no recipient).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Reading the input or writing the output of a streaming operation failed (a full
    /// disk, a closed pipe, an unreadable file): the operation stopped, and what was
    /// written must be discarded. Not a verdict on the message.
    #[error("cannot read or write the stream: {0}")]
    Io(std::io::Error),
    /// Some recipient addresses have no usable certificate, or could not be looked up
    /// (directory unreachable): every such address is named; nothing was produced.
    #[error("cannot encrypt: {0}")]
    UnresolvedRecipients(crate::recipients::UnresolvedRecipients),
}

impl From<AlgError> for Error {
    fn from(e: AlgError) -> Self {
        match e {
            AlgError::PolicyViolation { policy, what } => Error::PolicyViolation { policy, what },
            AlgError::DecryptionFailed => Error::DecryptionFailed,
            AlgError::KeyOperation(s) => Error::Key(s),
            AlgError::Unsupported(s) => Error::Unsupported(s),
            other => Error::Malformed(other.to_string()),
        }
    }
}

impl From<CmsError> for Error {
    fn from(e: CmsError) -> Self {
        match e {
            CmsError::Alg(a) => a.into(),
            CmsError::NotARecipient { recipients } => Error::NotARecipient { recipients },
            CmsError::Malformed(s) => Error::Malformed(s),
            CmsError::Unsupported(s) => Error::Unsupported(s),
            CmsError::Io(e) => Error::Io(e),
            other => Error::Malformed(other.to_string()),
        }
    }
}

impl From<MimeError> for Error {
    fn from(e: MimeError) -> Self {
        Error::Malformed(e.to_string())
    }
}
