//! Errors of the CMS layer.

use mss_algs::AlgError;

/// Why a CMS structure could not be built or read.
///
/// Verification outcomes are *not* errors: they are per-signer results
/// ([`crate::signed::SignerResult`]). Errors are for "could not do what was asked".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The input is not well-formed BER/DER or not the expected CMS structure.
    #[error("malformed CMS: {0}")]
    Malformed(String),
    /// A structure or algorithm mss does not handle (yet).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An algorithm-level failure (includes policy refusals and decryption failures).
    #[error(transparent)]
    Alg(#[from] AlgError),
    /// None of the available keys is a recipient of this message.
    #[error("no key for any recipient of this message ({recipients} recipient(s))")]
    NotARecipient {
        /// How many recipient infos the message carries.
        recipients: usize,
    },
    /// Encoding failure (should not happen for well-formed inputs).
    #[error("encoding error: {0}")]
    Encoding(String),
    /// The output of a streaming writer could not be written (a full disk, a closed
    /// pipe…): what was written must be discarded.
    #[error("cannot write the output: {0}")]
    Io(std::io::Error),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Malformed(e.to_string())
    }
}
