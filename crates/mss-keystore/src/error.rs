//! The error type of the key store.

/// What went wrong with the key store.
///
/// Messages never carry key material, recovery secrets or PINs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The SQLite file could not be read or written.
    #[error("key store database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Reading or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a key store of a version this code reads.
    #[error("not an mss key store: {0}")]
    NotAKeyStore(String),
    /// A key store already exists at this path.
    #[error("a key store already exists at {0}")]
    AlreadyExists(String),
    /// Stored data failed its integrity check (a slot, the key store header, an
    /// encrypted key): the file was altered outside mss.
    #[error("the key store was altered: {0}")]
    Tampered(String),
    /// The audit log does not verify: the entry `seq` (or the chain head) was altered.
    #[error("audit log broken at entry {seq}: {why}")]
    AuditBroken {
        /// The first entry that does not verify.
        seq: i64,
        /// What is wrong with it.
        why: String,
    },
    /// The recovery secret is mistyped (bad length, character or check character).
    #[error("the recovery secret is mistyped: {0}")]
    RecoverySecretMistyped(String),
    /// The recovery secret is well formed but does not open the recovery slot.
    #[error("wrong recovery secret")]
    WrongRecoverySecret,
    /// The identity holds no slot of this key store (neither the holder nor an active
    /// delegate).
    #[error("{0} has no access to this key store (neither its holder nor an active delegate)")]
    NoAccess(String),
    /// The operation is reserved to the holder (grant, revoke, rekey).
    #[error("only the key store's holder can {0}")]
    NotHolder(&'static str),
    /// A delegate tried to delegate further.
    #[error("a delegate cannot delegate: only the holder can grant access")]
    NoRedelegation,
    /// No pending grant is addressed to this identity.
    #[error("no pending grant is addressed to {0}")]
    NoPendingGrant(String),
    /// The grant's signature, content or addressee does not check out.
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    /// The delegation has ended (its slot is destroyed).
    #[error("the delegation ended at {0}: its slot is destroyed")]
    DelegationExpired(String),
    /// The delegation has not started yet.
    #[error("the delegation starts at {0}")]
    DelegationNotYetValid(String),
    /// The delegation was revoked by the holder.
    #[error("the delegation was revoked")]
    DelegationRevoked,
    /// A request that cannot be satisfied as asked (dates, certificate kinds, options).
    #[error("{0}")]
    Invalid(String),
    /// The confidentiality key is generated but its certificate is not installed yet.
    #[error("the confidentiality key has no certificate yet: install the one the CA issued")]
    CertificateMissing,
    /// A key operation (card, software key) failed.
    #[error("key operation: {0}")]
    Key(#[from] mss_algs::AlgError),
    /// The card (or identity) cannot do what is asked.
    #[error("identity: {0}")]
    Card(#[from] mss_token::CardError),
    /// Loading or encoding a key failed.
    #[error("identity: {0}")]
    Token(#[from] mss_token::TokenError),
    /// Building or verifying a signed grant failed.
    #[error("CMS: {0}")]
    Cms(#[from] mss_cms::CmsError),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl From<der::Error> for KeystoreError {
    fn from(e: der::Error) -> Self {
        KeystoreError::Tampered(format!("DER: {e}"))
    }
}
