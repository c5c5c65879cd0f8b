//! Resolving a recipient address to encryption certificates: local store, then
//! directory, cache on failure.
//!
//! For one address, in order:
//!
//! 1. the certificates the professional imported into the local store;
//! 2. a cached directory answer still within its lifetime (no network);
//! 3. the directory: a usable answer is cached (lifetime [`Resolver::cache_ttl`]);
//!    an answer without usable certificate means "no certificate";
//! 4. when the directory cannot be reached, the cached answer, even past its
//!    lifetime, with [`Origin::Cache`]`{ directory_unreachable: Some(..) }` so the
//!    caller can say so; without one, [`ResolveError::DirectoryUnreachable`] — never
//!    "no certificate", since nobody knows.
//!
//! At every step only the certificates [`crate::select::encryption_certificates`]
//! keeps count: an expired cached certificate does not resolve an address.

use std::time::{Duration, SystemTime};

use x509_cert::Certificate;

use crate::select::encryption_certificates;
use crate::{Directory, DirectoryError, LocalStore};

/// Default lifetime of a cached directory answer: one day.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Where a resolution's certificates came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Imported into the local store.
    LocalStore,
    /// Answered by the directory just now.
    Directory {
        /// Which directory.
        source: String,
        /// The server capped its answer (more entries matched than it returned).
        truncated: bool,
    },
    /// A cached directory answer.
    Cache {
        /// Which directory answered it.
        source: String,
        /// When it was fetched.
        fetched_at: SystemTime,
        /// It is past its lifetime (served only because the directory is unreachable).
        expired: bool,
        /// Why the directory was not used: `Some(reason)` when it could not be
        /// reached, `None` when the cached answer was fresh.
        directory_unreachable: Option<String>,
    },
}

/// The certificates found for one address.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The address, as asked.
    pub address: String,
    /// The usable encryption certificates, best first (never empty).
    pub certificates: Vec<Certificate>,
    /// Where they came from.
    pub origin: Origin,
}

impl Resolution {
    /// The best certificate (the resolver never builds a resolution without one).
    pub fn best(&self) -> Option<&Certificate> {
        self.certificates.first()
    }

    /// A sentence for reports when the answer deserves a warning (cache served
    /// because the directory is unreachable, truncated directory answer).
    pub fn warning(&self) -> Option<String> {
        match &self.origin {
            Origin::Cache {
                source,
                directory_unreachable: Some(why),
                expired,
                ..
            } => Some(format!(
                "directory-unreachable: {} resolved from the cache of {source}{} ({why})",
                self.address,
                if *expired { ", past its lifetime" } else { "" }
            )),
            Origin::Directory {
                source,
                truncated: true,
            } => Some(format!(
                "directory-truncated: {source} capped its answer for {}",
                self.address
            )),
            _ => None,
        }
    }
}

/// Why an address did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Nobody holds a usable encryption certificate for the address.
    #[error("no certificate for {address}")]
    NoCertificate {
        /// The address.
        address: String,
    },
    /// The directory could not be reached and nothing is cached for the address.
    #[error("directory unreachable for {address}: {reason}")]
    DirectoryUnreachable {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The directory or the store failed otherwise.
    #[error("directory error for {address}: {error}")]
    Directory {
        /// The address.
        address: String,
        /// The error.
        error: DirectoryError,
    },
}

impl ResolveError {
    /// The address that did not resolve.
    pub fn address(&self) -> &str {
        match self {
            ResolveError::NoCertificate { address }
            | ResolveError::DirectoryUnreachable { address, .. }
            | ResolveError::Directory { address, .. } => address,
        }
    }
}

/// The resolution chain. Every part is optional: no store and no directory resolves
/// nothing.
pub struct Resolver<'a> {
    /// The local store (imported certificates and the cache).
    pub store: Option<&'a LocalStore>,
    /// The directory asked when the store has nothing.
    pub directory: Option<&'a dyn Directory>,
    /// Lifetime of the directory answers cached in the store.
    pub cache_ttl: Duration,
    /// Reference time (certificate validity, cache lifetime).
    pub time: SystemTime,
}

impl<'a> Resolver<'a> {
    /// A resolver over `store` and `directory`, caching for one day, at the current time.
    pub fn new(store: Option<&'a LocalStore>, directory: Option<&'a dyn Directory>) -> Self {
        Resolver {
            store,
            directory,
            cache_ttl: DEFAULT_CACHE_TTL,
            time: SystemTime::now(),
        }
    }

    /// Resolve one address (see the module documentation for the order).
    pub fn resolve(&self, address: &str) -> Result<Resolution, ResolveError> {
        let store_err = |error: DirectoryError| ResolveError::Directory {
            address: address.to_owned(),
            error,
        };
        let done = |certificates: Vec<Certificate>, origin: Origin| Resolution {
            address: address.to_owned(),
            certificates,
            origin,
        };
        let mut cached = None;
        if let Some(store) = self.store {
            let local = encryption_certificates(
                &store.local_certificates_for(address).map_err(store_err)?,
                address,
                self.time,
            );
            if !local.is_empty() {
                return Ok(done(local, Origin::LocalStore));
            }
            if let Some(c) = store.cached_lookup(address).map_err(store_err)? {
                let usable = encryption_certificates(&c.certificates, address, self.time);
                let fresh = self.time < c.expires_at;
                if fresh && !usable.is_empty() {
                    return Ok(done(
                        usable,
                        Origin::Cache {
                            source: c.source,
                            fetched_at: c.fetched_at,
                            expired: false,
                            directory_unreachable: None,
                        },
                    ));
                }
                if !usable.is_empty() {
                    cached = Some((usable, c.source, c.fetched_at, !fresh));
                }
            }
        }
        let Some(directory) = self.directory else {
            return Err(ResolveError::NoCertificate {
                address: address.to_owned(),
            });
        };
        match directory.certificates_for(address) {
            Ok(lookup) => {
                let usable = encryption_certificates(&lookup.certificates, address, self.time);
                if usable.is_empty() {
                    // The directory says there is none: an older cached answer must not
                    // come back later when the directory is down.
                    if let Some(store) = self.store {
                        store.forget_lookup(address).map_err(store_err)?;
                    }
                    return Err(ResolveError::NoCertificate {
                        address: address.to_owned(),
                    });
                }
                let source = directory.describe();
                if let Some(store) = self.store {
                    store
                        .cache_lookup(address, &usable, &source, self.time, self.cache_ttl)
                        .map_err(store_err)?;
                }
                Ok(done(
                    usable,
                    Origin::Directory {
                        source,
                        truncated: lookup.truncated,
                    },
                ))
            }
            Err(DirectoryError::Unreachable(reason)) => match cached {
                Some((usable, source, fetched_at, expired)) => Ok(done(
                    usable,
                    Origin::Cache {
                        source,
                        fetched_at,
                        expired,
                        directory_unreachable: Some(reason),
                    },
                )),
                None => Err(ResolveError::DirectoryUnreachable {
                    address: address.to_owned(),
                    reason,
                }),
            },
            Err(error) => Err(ResolveError::Directory {
                address: address.to_owned(),
                error,
            }),
        }
    }
}
