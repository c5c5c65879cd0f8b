//! The directory's error type.

/// Why a directory operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The server could not be reached (connection refused, timeout, TLS failure, I/O).
    /// Distinct from "no certificate": the answer is unknown.
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an LDAP error (bind refused, unwilling to perform…).
    #[error("directory refused the request ({code}): {message}")]
    Refused {
        /// LDAP result code (RFC 4511 appendix A).
        code: u32,
        /// The server's diagnostic text, or the code's name.
        message: String,
    },
    /// The entry named by a DN (CA entry, distribution point) does not exist.
    #[error("no such directory entry: {0}")]
    NoSuchEntry(String),
    /// An LDAP URL that cannot be used (syntax, scheme other than `ldap`/`ldaps`).
    #[error("invalid LDAP URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration is inconsistent (empty base, filter template without
    /// `{address}`…).
    #[error("invalid directory configuration: {0}")]
    Config(String),
    /// The local store failed (SQLite error, unreadable file).
    #[error("local certificate store: {0}")]
    Store(String),
    /// Bad input given to the store (not a certificate, not a CRL).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The server's answer is not what LDAP says it should be.
    #[error("malformed directory answer: {0}")]
    Malformed(String),
}

impl From<rusqlite::Error> for DirectoryError {
    fn from(e: rusqlite::Error) -> Self {
        DirectoryError::Store(e.to_string())
    }
}
