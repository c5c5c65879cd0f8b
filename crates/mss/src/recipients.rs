//! Sending to e-mail addresses: find every recipient's certificate first.
//!
//! Before encrypting, every recipient address is resolved through
//! [`mss_directory::Resolver`]: the local store (certificates the professional
//! imported), a fresh cached directory answer, then the directory (LDAP), whose
//! answer is cached; when the directory cannot be reached a cached answer serves and
//! the result says so. If any address does not resolve, nothing is produced: the
//! error, [`Error::UnresolvedRecipients`], names *every* missing address, tells "no
//! certificate" apart from "directory unreachable", and carries the guidance text
//! ([`RecipientSources::guidance`]) telling the professional how to obtain the
//! missing certificates; the caller keeps the draft (it is only borrowed).
//!
//! Once resolved, the message is made by the ordinary [`crate::encrypt`] /
//! [`crate::sign_and_encrypt`].

use std::fmt;
use std::time::{Duration, SystemTime};

use x509_cert::Certificate;

use mss_algs::keys::SigningKey;
use mss_directory::{DEFAULT_CACHE_TTL, Directory, LocalStore, Origin, ResolveError, Resolver};

use crate::Error;
use crate::send::{EncryptOptions, encrypt, sign_and_encrypt};

/// The default guidance shown with missing certificates.
pub const DEFAULT_GUIDANCE: &str = "Ask the recipient for their encryption certificate \
(a signed message from them carries it) or look them up in the health directory \
(IGC-Santé, annuaire-igc.esante.gouv.fr), then import it with `mss store import`; \
keep the draft and send it once every certificate is available.";

/// Where recipients' certificates are looked for.
pub struct RecipientSources<'a> {
    /// The local store (imported certificates, and the cache of directory answers).
    pub store: Option<&'a LocalStore>,
    /// The directory asked for addresses the store cannot resolve.
    pub directory: Option<&'a dyn Directory>,
    /// Lifetime of the directory answers cached in the store (default one day).
    pub cache_ttl: Duration,
    /// What to tell the professional about missing certificates.
    pub guidance: String,
    /// Reference time (certificate validity, cache lifetime); default now.
    pub time: Option<SystemTime>,
}

impl Default for RecipientSources<'_> {
    fn default() -> Self {
        RecipientSources {
            store: None,
            directory: None,
            cache_ttl: DEFAULT_CACHE_TTL,
            guidance: DEFAULT_GUIDANCE.to_owned(),
            time: None,
        }
    }
}

/// Why an address did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnresolvedReason {
    /// Nobody holds a usable encryption certificate for it (store and directory
    /// answered).
    NoCertificate,
    /// The directory could not be reached and nothing was cached: unknown, not absent.
    DirectoryUnreachable(String),
    /// The directory or the store failed otherwise (refused bind, bad answer…).
    DirectoryError(String),
}

/// One address that did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedAddress {
    /// The address.
    pub address: String,
    /// Why.
    pub reason: UnresolvedReason,
}

/// Every address that did not resolve, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedRecipients {
    /// The addresses, in the order given.
    pub unresolved: Vec<UnresolvedAddress>,
    /// How to obtain the missing certificates.
    pub guidance: String,
}

impl UnresolvedRecipients {
    /// The addresses without any certificate.
    pub fn missing(&self) -> Vec<&str> {
        self.with(|r| matches!(r, UnresolvedReason::NoCertificate))
    }

    /// The addresses left unknown because the directory is unreachable.
    pub fn unreachable(&self) -> Vec<&str> {
        self.with(|r| matches!(r, UnresolvedReason::DirectoryUnreachable(_)))
    }

    fn with(&self, f: impl Fn(&UnresolvedReason) -> bool) -> Vec<&str> {
        self.unresolved
            .iter()
            .filter(|u| f(&u.reason))
            .map(|u| u.address.as_str())
            .collect()
    }
}

impl fmt::Display for UnresolvedRecipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let missing = self.missing();
        if !missing.is_empty() {
            parts.push(format!("no certificate for {}", missing.join(", ")));
        }
        let unreachable: Vec<String> = self
            .unresolved
            .iter()
            .filter_map(|u| match &u.reason {
                UnresolvedReason::DirectoryUnreachable(why) => {
                    Some(format!("{} ({why})", u.address))
                }
                _ => None,
            })
            .collect();
        if !unreachable.is_empty() {
            parts.push(format!(
                "directory unreachable, nothing cached for {}",
                unreachable.join(", ")
            ));
        }
        for u in &self.unresolved {
            if let UnresolvedReason::DirectoryError(e) = &u.reason {
                parts.push(format!("directory error for {}: {e}", u.address));
            }
        }
        write!(f, "{}", parts.join("; "))?;
        if !self.guidance.is_empty() {
            write!(f, ". {}", self.guidance)?;
        }
        Ok(())
    }
}

/// A recipient address and the certificate chosen for it.
#[derive(Debug, Clone)]
pub struct ResolvedRecipient {
    /// The address, as given.
    pub address: String,
    /// The best usable encryption certificate.
    pub certificate: Certificate,
    /// Where it came from.
    pub origin: Origin,
}

/// A message sent to addresses: the bytes and how each address was resolved.
#[derive(Debug, Clone)]
pub struct SentToAddresses {
    /// The S/MIME message.
    pub message: Vec<u8>,
    /// Every address, in the order given (duplicates once).
    pub recipients: Vec<ResolvedRecipient>,
    /// `directory-unreachable: …` when a cache served because the directory could not
    /// be reached, `directory-truncated: …` when a directory capped its answer.
    pub warnings: Vec<String>,
}

/// Resolve every address (duplicates, compared case-insensitively, once), and return
/// the recipients with the warnings to show (see [`SentToAddresses::warnings`]). All
/// or nothing: any address that does not resolve makes the call fail with
/// [`Error::UnresolvedRecipients`] naming every such address.
pub fn resolve_recipients(
    addresses: &[&str],
    sources: &RecipientSources,
) -> Result<(Vec<ResolvedRecipient>, Vec<String>), Error> {
    let resolver = Resolver {
        store: sources.store,
        directory: sources.directory,
        cache_ttl: sources.cache_ttl,
        time: sources.time.unwrap_or_else(SystemTime::now),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut resolved = Vec::new();
    let mut warnings = Vec::new();
    let mut unresolved = Vec::new();
    for address in addresses {
        let key = address.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(Error::InvalidRequest("empty recipient address".into()));
        }
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        match resolver.resolve(address.trim()) {
            Ok(r) => match r.best() {
                Some(best) => {
                    warnings.extend(r.warning());
                    resolved.push(ResolvedRecipient {
                        address: r.address.clone(),
                        certificate: best.clone(),
                        origin: r.origin.clone(),
                    });
                }
                None => unresolved.push(UnresolvedAddress {
                    address: r.address.clone(),
                    reason: UnresolvedReason::NoCertificate,
                }),
            },
            Err(e) => unresolved.push(UnresolvedAddress {
                address: e.address().to_owned(),
                reason: match e {
                    ResolveError::NoCertificate { .. } => UnresolvedReason::NoCertificate,
                    ResolveError::DirectoryUnreachable { reason, .. } => {
                        UnresolvedReason::DirectoryUnreachable(reason)
                    }
                    ResolveError::Directory { error, .. } => {
                        UnresolvedReason::DirectoryError(error.to_string())
                    }
                    other => UnresolvedReason::DirectoryError(other.to_string()),
                },
            }),
        }
    }
    if !unresolved.is_empty() {
        return Err(Error::UnresolvedRecipients(UnresolvedRecipients {
            unresolved,
            guidance: sources.guidance.clone(),
        }));
    }
    Ok((resolved, warnings))
}

fn all_certificates(resolved: &[ResolvedRecipient], extra: &[Certificate]) -> Vec<Certificate> {
    let mut out: Vec<Certificate> = extra.to_vec();
    for r in resolved {
        if !out.contains(&r.certificate) {
            out.push(r.certificate.clone());
        }
    }
    out
}

/// [`crate::encrypt`] to `addresses` (resolved first, see the module documentation)
/// and to the certificates `extra_recipients` given directly.
pub fn encrypt_to_addresses(
    draft: &[u8],
    addresses: &[&str],
    extra_recipients: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
    sources: &RecipientSources,
) -> Result<SentToAddresses, Error> {
    let (recipients, warnings) = resolve_recipients(addresses, sources)?;
    let message = encrypt(
        draft,
        &all_certificates(&recipients, extra_recipients),
        sender,
        opts,
    )?;
    Ok(SentToAddresses {
        message,
        recipients,
        warnings,
    })
}

/// [`crate::sign_and_encrypt`] to `addresses` (resolved first) and to
/// `extra_recipients`.
pub fn sign_and_encrypt_to_addresses(
    draft: &[u8],
    signer: &dyn SigningKey,
    addresses: &[&str],
    extra_recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    sources: &RecipientSources,
) -> Result<SentToAddresses, Error> {
    let (recipients, warnings) = resolve_recipients(addresses, sources)?;
    let message = sign_and_encrypt(
        draft,
        signer,
        &all_certificates(&recipients, extra_recipients),
        sender_encryption_cert,
        opts,
    )?;
    Ok(SentToAddresses {
        message,
        recipients,
        warnings,
    })
}
