//! Errors of the algorithm layer.

/// What went wrong in an algorithm operation.
///
/// Messages never carry key material. Decryption failures are deliberately
/// uninformative (one variant, [`AlgError::DecryptionFailed`]) so that they cannot be
/// used as a padding or tag oracle.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlgError {
    /// The algorithm (by OID or name) is not implemented by mss.
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// The algorithm parameters are missing or malformed.
    #[error("invalid algorithm parameters for {alg}: {reason}")]
    InvalidParameters {
        /// The algorithm concerned.
        alg: String,
        /// Why the parameters were refused.
        reason: String,
    },
    /// A key has the wrong length or shape for the algorithm.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Decryption failed (bad padding, bad tag, wrong key). Deliberately says no more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The policy refuses this algorithm for this use.
    #[error("refused by policy {policy}: {what}")]
    PolicyViolation {
        /// Name of the policy that refused.
        policy: String,
        /// What was refused, and why.
        what: String,
    },
    /// A private-key operation failed in the key's backend (card removed, PIN, …).
    #[error("key operation failed: {0}")]
    KeyOperation(String),
    /// The system random number generator failed.
    #[error("random number generator failure")]
    Rng,
}
