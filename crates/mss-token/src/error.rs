//! The error type of the token layer.

/// What went wrong while loading or using an identity.
///
/// Messages never carry key material or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Reading a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The password is wrong (or the file's integrity check failed, which cannot be
    /// told apart from a wrong password).
    #[error("wrong password or corrupted file")]
    BadPassword,
    /// The input is not well-formed (ASN.1, PEM, PKCS#12 structure).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// Something well-formed that mss does not implement (an algorithm, a key type).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The input holds no private key.
    #[error("no private key found")]
    NoKey,
    /// The input holds no certificate.
    #[error("no certificate found")]
    NoCertificate,
    /// No certificate matches the private key.
    #[error("no certificate matches the private key")]
    KeyMismatch,
    /// The private key is encrypted and no password was given.
    #[error("a password is required")]
    PasswordRequired,
    /// The PIN or password request was cancelled.
    #[error("PIN or password entry cancelled")]
    Cancelled,
    /// Building or signing a certificate failed.
    #[error("certificate issuance failed: {0}")]
    Issuance(String),
    /// Key generation or the system random number generator failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
}

impl From<der::Error> for TokenError {
    fn from(e: der::Error) -> Self {
        TokenError::Malformed(e.to_string())
    }
}
