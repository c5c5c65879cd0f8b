//! The local certificate store: SQLite (bundled), one file.
//!
//! It is the embedded default directory (certificates the professional imported, by
//! e-mail address and by subject/issuer; CRLs by issuer) and the cache of LDAP answers:
//! a lookup answered by a directory is kept with the time it was fetched and a
//! lifetime. Imported ("local") and cached entries live side by side and are told
//! apart by their origin; removing a certificate removes both.
//!
//! Schema (version 1):
//!
//! - `certificates(fingerprint PK, der, subject, issuer, subject_der, issuer_der,
//!   not_after)` — every certificate, once;
//! - `addresses(address, fingerprint, origin)` — `origin` is `local` (imported: the
//!   certificate's own addresses) or `cache` (the address a directory answered for);
//! - `lookups(address PK, source, fetched_at, expires_at)` — one row per cached answer;
//! - `crls(fingerprint PK, der, issuer, issuer_der, delta, origin, source, fetched_at,
//!   expires_at)`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::{Decode, Encode};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::select::certificate_addresses;
use crate::summary::fingerprint;
use crate::{CaEntry, Directory, DirectoryError, Lookup};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS certificates (
    fingerprint TEXT PRIMARY KEY,
    der BLOB NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject_der BLOB NOT NULL,
    issuer_der BLOB NOT NULL,
    not_after INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_subject ON certificates(subject_der);
CREATE INDEX IF NOT EXISTS certificates_issuer ON certificates(issuer_der);
CREATE TABLE IF NOT EXISTS addresses (
    address TEXT NOT NULL,
    fingerprint TEXT NOT NULL REFERENCES certificates(fingerprint) ON DELETE CASCADE,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'cache')),
    PRIMARY KEY (address, fingerprint, origin)
);
CREATE INDEX IF NOT EXISTS addresses_fingerprint ON addresses(fingerprint);
CREATE TABLE IF NOT EXISTS lookups (
    address TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS crls (
    fingerprint TEXT PRIMARY KEY,
    der BLOB NOT NULL,
    issuer TEXT NOT NULL,
    issuer_der BLOB NOT NULL,
    delta INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'cache')),
    source TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS crls_issuer ON crls(issuer_der);
PRAGMA user_version = 1;
";

/// The delta CRL indicator extension (RFC 5280 §5.2.4).
const ID_CE_DELTA_CRL_INDICATOR: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("2.5.29.27");

/// The default store file: `$XDG_DATA_HOME/mss/store.sqlite`, else
/// `$HOME/.local/share/mss/store.sqlite`; `None` when neither variable is set.
pub fn default_store_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("mss").join("store.sqlite"))
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn from_unix(s: i64) -> SystemTime {
    if s >= 0 {
        UNIX_EPOCH + Duration::from_secs(s.unsigned_abs())
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(s.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// A certificate as listed by [`LocalStore::list`].
#[derive(Debug, Clone)]
pub struct StoredCertificate {
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// The certificate.
    pub certificate: Certificate,
    /// Addresses it is filed under, with their origin (`local` or `cache`).
    pub addresses: Vec<(String, String)>,
}

impl StoredCertificate {
    /// Was it imported (rather than only cached from a directory)?
    pub fn is_local(&self) -> bool {
        self.addresses.iter().any(|(_, o)| o == "local") || self.addresses.is_empty()
    }
}

/// A CRL as listed by [`LocalStore::list_crls`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrl {
    /// SHA-256 of the DER (hex).
    pub fingerprint: String,
    /// Issuer (RFC 4514 string).
    pub issuer: String,
    /// Is it a delta CRL?
    pub delta: bool,
    /// `local` (imported) or `cache` (fetched from a directory).
    pub origin: String,
    /// Where it came from (file name, URL).
    pub source: String,
}

/// A cached directory answer.
#[derive(Debug, Clone)]
pub struct CachedLookup {
    /// The certificates the directory answered.
    pub certificates: Vec<Certificate>,
    /// Which directory.
    pub source: String,
    /// When it was fetched.
    pub fetched_at: SystemTime,
    /// When it stops being fresh.
    pub expires_at: SystemTime,
}

/// The local certificate store.
#[derive(Debug)]
pub struct LocalStore {
    conn: Connection,
    path: Option<PathBuf>,
}

fn decode_cert(der: &[u8]) -> Result<Certificate, DirectoryError> {
    Certificate::from_der(der)
        .map_err(|e| DirectoryError::Store(format!("stored certificate does not decode: {e}")))
}

fn normalize_address(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

impl LocalStore {
    /// Open (creating it and its directory if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                DirectoryError::Store(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, Some(path.to_owned()))
    }

    /// A store in memory (tests, one-shot use).
    pub fn open_in_memory() -> Result<Self, DirectoryError> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(conn: Connection, path: Option<PathBuf>) -> Result<Self, DirectoryError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(LocalStore { conn, path })
    }

    /// The file, when not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn put_certificate(&self, c: &Certificate) -> Result<String, DirectoryError> {
        let tbs = c.tbs_certificate();
        let der = c
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        let subject_der = tbs
            .subject()
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        let issuer_der = tbs
            .issuer()
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        let fp = fingerprint(c);
        self.conn.execute(
            "INSERT OR IGNORE INTO certificates
                 (fingerprint, der, subject, issuer, subject_der, issuer_der, not_after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                fp,
                der,
                tbs.subject().to_string(),
                tbs.issuer().to_string(),
                subject_der,
                issuer_der,
                unix(tbs.validity().not_after.to_system_time()),
            ],
        )?;
        Ok(fp)
    }

    /// Import a certificate (DER or PEM, one or several): filed as `local` under every
    /// address it names (a CA certificate, naming none, is kept by subject/issuer).
    /// Returns the imported certificates.
    pub fn import_certificates(&self, data: &[u8]) -> Result<Vec<Certificate>, DirectoryError> {
        let certs = parse_certificates(data)?;
        let tx = self.conn.unchecked_transaction()?;
        for c in &certs {
            let fp = self.put_certificate(c)?;
            let mut addresses = certificate_addresses(c);
            if addresses.is_empty() {
                // Kept by subject/issuer only: the empty address marks it imported.
                addresses.push(String::new());
            }
            for a in addresses {
                self.conn.execute(
                    "INSERT OR IGNORE INTO addresses (address, fingerprint, origin)
                     VALUES (?1, ?2, 'local')",
                    params![a, fp],
                )?;
            }
        }
        tx.commit()?;
        Ok(certs)
    }

    /// The imported certificates filed under `address`.
    pub fn local_certificates_for(
        &self,
        address: &str,
    ) -> Result<Vec<Certificate>, DirectoryError> {
        self.certificates_where(
            "SELECT c.der FROM certificates c JOIN addresses a ON a.fingerprint = c.fingerprint
             WHERE a.address = ?1 AND a.origin = 'local' ORDER BY c.not_after DESC",
            &normalize_address(address),
        )
    }

    fn certificates_where(
        &self,
        sql: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Certificate>, DirectoryError> {
        let mut stmt = self.conn.prepare(sql)?;
        let ders = stmt
            .query_map([arg], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ders.iter().map(|d| decode_cert(d)).collect()
    }

    /// Every stored certificate (imported or cached) whose subject is `subject`
    /// (compared as DER).
    pub fn certificates_by_subject(
        &self,
        subject: &x509_cert::name::Name,
    ) -> Result<Vec<Certificate>, DirectoryError> {
        let der = subject
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        self.certificates_where("SELECT der FROM certificates WHERE subject_der = ?1", &der)
    }

    /// Every stored certificate issued by `issuer` (compared as DER).
    pub fn certificates_by_issuer(
        &self,
        issuer: &x509_cert::name::Name,
    ) -> Result<Vec<Certificate>, DirectoryError> {
        let der = issuer
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        self.certificates_where("SELECT der FROM certificates WHERE issuer_der = ?1", &der)
    }

    /// Keep a directory's answer for `address`: replaces any earlier cached answer
    /// for it. `ttl` is the lifetime from `now`.
    pub fn cache_lookup(
        &self,
        address: &str,
        certificates: &[Certificate],
        source: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<(), DirectoryError> {
        let address = normalize_address(address);
        let tx = self.conn.unchecked_transaction()?;
        self.conn.execute(
            "DELETE FROM addresses WHERE address = ?1 AND origin = 'cache'",
            params![address],
        )?;
        for c in certificates {
            let fp = self.put_certificate(c)?;
            self.conn.execute(
                "INSERT OR IGNORE INTO addresses (address, fingerprint, origin)
                 VALUES (?1, ?2, 'cache')",
                params![address, fp],
            )?;
        }
        let expires = now.checked_add(ttl).unwrap_or(now);
        self.conn.execute(
            "INSERT OR REPLACE INTO lookups (address, source, fetched_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![address, source, unix(now), unix(expires)],
        )?;
        self.drop_orphans()?;
        tx.commit()?;
        Ok(())
    }

    /// Forget the cached answer for `address` (imported certificates stay).
    pub fn forget_lookup(&self, address: &str) -> Result<(), DirectoryError> {
        let address = normalize_address(address);
        let tx = self.conn.unchecked_transaction()?;
        self.conn.execute(
            "DELETE FROM addresses WHERE address = ?1 AND origin = 'cache'",
            params![address],
        )?;
        self.conn
            .execute("DELETE FROM lookups WHERE address = ?1", params![address])?;
        self.drop_orphans()?;
        tx.commit()?;
        Ok(())
    }

    /// The cached answer for `address`, fresh or not (compare
    /// [`CachedLookup::expires_at`] with the time).
    pub fn cached_lookup(&self, address: &str) -> Result<Option<CachedLookup>, DirectoryError> {
        let address = normalize_address(address);
        let row = self
            .conn
            .query_row(
                "SELECT source, fetched_at, expires_at FROM lookups WHERE address = ?1",
                params![address],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?;
        let Some((source, fetched, expires)) = row else {
            return Ok(None);
        };
        let certificates = self.certificates_where(
            "SELECT c.der FROM certificates c JOIN addresses a ON a.fingerprint = c.fingerprint
             WHERE a.address = ?1 AND a.origin = 'cache' ORDER BY c.not_after DESC",
            &address,
        )?;
        Ok(Some(CachedLookup {
            certificates,
            source,
            fetched_at: from_unix(fetched),
            expires_at: from_unix(expires),
        }))
    }

    /// Forget cached answers that expired before `now` (imported certificates stay).
    /// Returns how many answers were dropped.
    pub fn purge_expired(&self, now: SystemTime) -> Result<usize, DirectoryError> {
        let tx = self.conn.unchecked_transaction()?;
        self.conn.execute(
            "DELETE FROM addresses WHERE origin = 'cache' AND address IN
                 (SELECT address FROM lookups WHERE expires_at <= ?1)",
            params![unix(now)],
        )?;
        let dropped = self.conn.execute(
            "DELETE FROM lookups WHERE expires_at <= ?1",
            params![unix(now)],
        )?;
        self.conn.execute(
            "DELETE FROM crls WHERE origin = 'cache' AND expires_at <= ?1",
            params![unix(now)],
        )?;
        self.drop_orphans()?;
        tx.commit()?;
        Ok(dropped)
    }

    /// Drop certificates filed under no address any more (cached ones whose answer
    /// was replaced or expired). Imported certificates naming no address are filed
    /// under the empty address, so they stay.
    fn drop_orphans(&self) -> Result<(), DirectoryError> {
        self.conn.execute(
            "DELETE FROM certificates WHERE fingerprint NOT IN (SELECT fingerprint FROM addresses)",
            [],
        )?;
        Ok(())
    }

    /// Every stored certificate with the addresses it is filed under.
    pub fn list(&self) -> Result<Vec<StoredCertificate>, DirectoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT fingerprint, der FROM certificates ORDER BY subject, not_after")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut addr = self.conn.prepare(
            "SELECT address, origin FROM addresses WHERE fingerprint = ?1 AND address <> ''
             ORDER BY origin, address",
        )?;
        let mut out = Vec::new();
        for (fp, der) in rows {
            let addresses = addr
                .query_map(params![fp], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(StoredCertificate {
                fingerprint: fp,
                certificate: decode_cert(&der)?,
                addresses,
            });
        }
        Ok(out)
    }

    /// Remove certificates: `selector` is an e-mail address (every certificate filed
    /// under it, imported or cached, and its cached answer) or a fingerprint (the
    /// full 64 hex digits or a prefix of at least 8). Returns how many certificates
    /// were removed.
    pub fn remove(&self, selector: &str) -> Result<usize, DirectoryError> {
        let sel = selector.trim().to_ascii_lowercase();
        let tx = self.conn.unchecked_transaction()?;
        let fps: Vec<String> = if sel.contains('@') {
            self.conn
                .execute("DELETE FROM lookups WHERE address = ?1", params![sel])?;
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT fingerprint FROM addresses WHERE address = ?1")?;
            stmt.query_map(params![sel], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?
        } else if sel.len() >= 8 && sel.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut stmt = self
                .conn
                .prepare("SELECT fingerprint FROM certificates WHERE fingerprint LIKE ?1 || '%'")?;
            stmt.query_map(params![sel], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?
        } else {
            return Err(DirectoryError::Invalid(format!(
                "{selector:?} is neither an e-mail address nor a fingerprint (8+ hex digits)"
            )));
        };
        for fp in &fps {
            self.conn
                .execute("DELETE FROM addresses WHERE fingerprint = ?1", params![fp])?;
            self.conn.execute(
                "DELETE FROM certificates WHERE fingerprint = ?1",
                params![fp],
            )?;
        }
        tx.commit()?;
        Ok(fps.len())
    }

    /// Store a CRL (DER or PEM `X509 CRL`). `origin` is `local` (imported) or `cache`
    /// (fetched from `source`, kept until `expires_at`).
    pub fn put_crl(
        &self,
        data: &[u8],
        origin: CrlOrigin,
        source: &str,
        now: SystemTime,
    ) -> Result<StoredCrl, DirectoryError> {
        let der = crl_der(data)?;
        let crl = mss_pki::decode_crl(&der)
            .map_err(|e| DirectoryError::Invalid(format!("not a CRL: {e}")))?;
        let issuer = &crl.tbs_cert_list.issuer;
        let issuer_der = issuer
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        let delta = crl
            .tbs_cert_list
            .crl_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == ID_CE_DELTA_CRL_INDICATOR);
        let fp = hex::encode(Sha256::digest(&der));
        let (origin_s, expires) = match origin {
            CrlOrigin::Local => ("local", None),
            CrlOrigin::Cache(ttl) => ("cache", Some(unix(now.checked_add(ttl).unwrap_or(now)))),
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO crls
                 (fingerprint, der, issuer, issuer_der, delta, origin, source, fetched_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                fp,
                der,
                issuer.to_string(),
                issuer_der,
                delta,
                origin_s,
                source,
                unix(now),
                expires
            ],
        )?;
        Ok(StoredCrl {
            fingerprint: fp,
            issuer: issuer.to_string(),
            delta,
            origin: origin_s.to_owned(),
            source: source.to_owned(),
        })
    }

    /// The stored CRLs (complete and delta) issued by `issuer` (compared as DER), DER.
    pub fn crls_by_issuer(
        &self,
        issuer: &x509_cert::name::Name,
    ) -> Result<Vec<Vec<u8>>, DirectoryError> {
        let der = issuer
            .to_der()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        let mut stmt = self
            .conn
            .prepare("SELECT der FROM crls WHERE issuer_der = ?1 ORDER BY delta, fetched_at")?;
        let out = stmt
            .query_map(params![der], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    /// The stored CRLs fetched from `source` (a distribution-point URL), DER, with
    /// whether every one of them is still within its cache lifetime at `now`.
    pub fn crls_by_source(
        &self,
        source: &str,
        now: SystemTime,
    ) -> Result<(Vec<Vec<u8>>, bool), DirectoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT der, expires_at FROM crls WHERE source = ?1 ORDER BY delta, fetched_at",
        )?;
        let rows = stmt
            .query_map(params![source], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<i64>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let fresh = rows.iter().all(|(_, e)| e.is_none_or(|e| e > unix(now)));
        Ok((rows.into_iter().map(|(d, _)| d).collect(), fresh))
    }

    /// Replace the CRLs cached from `source` by `crls` (each kept for `ttl`).
    pub fn cache_crls(
        &self,
        source: &str,
        crls: &[Vec<u8>],
        now: SystemTime,
        ttl: Duration,
    ) -> Result<(), DirectoryError> {
        let tx = self.conn.unchecked_transaction()?;
        self.conn.execute(
            "DELETE FROM crls WHERE source = ?1 AND origin = 'cache'",
            params![source],
        )?;
        for der in crls {
            self.put_crl(der, CrlOrigin::Cache(ttl), source, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored CRL.
    pub fn list_crls(&self) -> Result<Vec<StoredCrl>, DirectoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT fingerprint, issuer, delta, origin, source FROM crls ORDER BY issuer, delta",
        )?;
        let out = stmt
            .query_map([], |r| {
                Ok(StoredCrl {
                    fingerprint: r.get(0)?,
                    issuer: r.get(1)?,
                    delta: r.get(2)?,
                    origin: r.get(3)?,
                    source: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    /// Remove the CRLs whose fingerprint starts with `prefix` (8+ hex digits).
    pub fn remove_crl(&self, prefix: &str) -> Result<usize, DirectoryError> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < 8 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DirectoryError::Invalid(format!(
                "{prefix:?} is not a fingerprint (8+ hex digits)"
            )));
        }
        Ok(self.conn.execute(
            "DELETE FROM crls WHERE fingerprint LIKE ?1 || '%'",
            params![p],
        )?)
    }
}

/// Where a stored CRL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlOrigin {
    /// Imported by the user: kept until removed.
    Local,
    /// Fetched from a directory: kept for this lifetime.
    Cache(Duration),
}

/// Certificates from DER or PEM (`CERTIFICATE` blocks).
fn parse_certificates(data: &[u8]) -> Result<Vec<Certificate>, DirectoryError> {
    if data.first() == Some(&0x30) {
        return Certificate::from_der(data)
            .map(|c| vec![c])
            .map_err(|e| DirectoryError::Invalid(format!("not a DER certificate: {e}")));
    }
    let blocks = pem_blocks(data, "CERTIFICATE")?;
    if blocks.is_empty() {
        return Err(DirectoryError::Invalid(
            "no certificate (neither DER nor PEM CERTIFICATE)".into(),
        ));
    }
    blocks
        .iter()
        .map(|d| {
            Certificate::from_der(d)
                .map_err(|e| DirectoryError::Invalid(format!("not a certificate: {e}")))
        })
        .collect()
}

fn crl_der(data: &[u8]) -> Result<Vec<u8>, DirectoryError> {
    if data.first() == Some(&0x30) {
        return Ok(data.to_vec());
    }
    pem_blocks(data, "X509 CRL")?
        .into_iter()
        .next()
        .ok_or_else(|| DirectoryError::Invalid("no CRL (neither DER nor PEM X509 CRL)".into()))
}

/// The DER of every PEM block labelled `label`.
fn pem_blocks(data: &[u8], label: &str) -> Result<Vec<Vec<u8>>, DirectoryError> {
    let text = std::str::from_utf8(data)
        .map_err(|_| DirectoryError::Invalid("neither DER nor PEM".into()))?;
    let begin = format!("-----BEGIN {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = after.find(&end_marker) else {
            return Err(DirectoryError::Invalid(format!("unterminated PEM {label}")));
        };
        let block = &after[..end + end_marker.len()];
        let (_, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| DirectoryError::Invalid(format!("bad PEM {label}: {e}")))?;
        out.push(der);
        rest = &after[end + end_marker.len()..];
    }
    Ok(out)
}

impl Directory for LocalStore {
    /// The imported certificates filed under the address (the cache is not a
    /// directory of its own: the [`crate::Resolver`] consults it).
    fn certificates_for(&self, address: &str) -> Result<Lookup, DirectoryError> {
        Ok(Lookup {
            certificates: self.local_certificates_for(address)?,
            truncated: false,
            skipped: 0,
        })
    }

    /// `ca_dn` is matched against the issuer names (RFC 4514 strings) of the stored
    /// CRLs and the subjects of stored certificates.
    fn ca_entry(&self, ca_dn: &str) -> Result<CaEntry, DirectoryError> {
        let mut out = CaEntry::default();
        let mut stmt = self
            .conn
            .prepare("SELECT der, delta FROM crls WHERE issuer = ?1")?;
        for row in stmt.query_map(params![ca_dn], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
        })? {
            let (der, delta) = row?;
            if delta {
                out.delta_crls.push(der);
            } else {
                out.crls.push(der);
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT der FROM certificates WHERE subject = ?1")?;
        for der in stmt.query_map(params![ca_dn], |r| r.get::<_, Vec<u8>>(0))? {
            out.ca_certificates.push(der?);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("local store {}", p.display()),
            None => "local store (in memory)".to_owned(),
        }
    }
}
