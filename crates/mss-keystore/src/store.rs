//! The key store file: schema, slots, delegation, rekey.
// SQLite rows are read as tuples, named where they are destructured.
#![allow(clippy::type_complexity)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::{Decode, Encode, EncodePem};
use mss_token::{Identity, SoftwareIdentity};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::KeystoreError;
use crate::audit::{self, AuditEntry, AuditEvent, AuditHead, NewEntry};
use crate::crypto::{self, KEY_LEN, Secret, Wrap};
use crate::grant::{self, ACCEPT_PURPOSE, AcceptPayload, GRANT_PURPOSE, GrantPayload};
use crate::recovery::{KdfParams, RecoverySecret};
use crate::session::KeySession;
use crate::time::{format_rfc3339, unix};

/// The format version written in the header.
const FORMAT: &[u8] = b"mss-keystore 1";

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE keys (
    id INTEGER PRIMARY KEY,
    created INTEGER NOT NULL,
    retired INTEGER,
    cert BLOB,
    spki BLOB NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE grants (
    id INTEGER PRIMARY KEY,
    delegate_cert BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    signed BLOB NOT NULL,
    status TEXT NOT NULL,
    pending_wraps TEXT,
    acceptance BLOB,
    created INTEGER NOT NULL
);
CREATE TABLE slots (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    cert BLOB,
    grant_id INTEGER,
    transport TEXT,
    wrapped BLOB NOT NULL,
    kdf TEXT,
    salt BLOB,
    created INTEGER NOT NULL,
    mac BLOB NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    slot INTEGER,
    message_id TEXT,
    detail TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
);
";

/// The kind of a key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// The holder's card (the key-encryption key RSA-wrapped to its decryption
    /// certificate).
    Card,
    /// The recovery secret (degraded mode).
    Recovery,
    /// An active delegate's card.
    Delegate,
}

impl SlotKind {
    /// The name stored in the file.
    pub fn name(self) -> &'static str {
        match self {
            SlotKind::Card => "card",
            SlotKind::Recovery => "recovery",
            SlotKind::Delegate => "delegate",
        }
    }

    fn parse(s: &str) -> Result<Self, KeystoreError> {
        match s {
            "card" => Ok(SlotKind::Card),
            "recovery" => Ok(SlotKind::Recovery),
            "delegate" => Ok(SlotKind::Delegate),
            other => Err(KeystoreError::Tampered(format!(
                "unknown slot kind {other:?}"
            ))),
        }
    }
}

/// The state of a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// Granted by the holder, not yet accepted: opens nothing.
    Pending,
    /// Accepted: the delegate has a slot.
    Active,
    /// Revoked by the holder: the slot is destroyed.
    Revoked,
    /// Past its end date: the slot is destroyed.
    Expired,
}

impl GrantStatus {
    /// The name stored in the file.
    pub fn name(self) -> &'static str {
        match self {
            GrantStatus::Pending => "pending",
            GrantStatus::Active => "active",
            GrantStatus::Revoked => "revoked",
            GrantStatus::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Result<Self, KeystoreError> {
        match s {
            "pending" => Ok(GrantStatus::Pending),
            "active" => Ok(GrantStatus::Active),
            "revoked" => Ok(GrantStatus::Revoked),
            "expired" => Ok(GrantStatus::Expired),
            other => Err(KeystoreError::Tampered(format!(
                "unknown grant status {other:?}"
            ))),
        }
    }
}

/// A delegation, as listed.
#[derive(Debug, Clone)]
pub struct GrantInfo {
    /// The grant's number in the store.
    pub id: i64,
    /// The delegate's decryption-capable certificate.
    pub delegate: Certificate,
    /// The delegate, as named in the audit log (subject and fingerprint).
    pub delegate_name: String,
    /// Start (seconds since the epoch).
    pub not_before: i64,
    /// End (seconds since the epoch).
    pub not_after: i64,
    /// The state.
    pub status: GrantStatus,
    /// The delegate's slot, while the delegation is active.
    pub slot: Option<i64>,
}

impl GrantInfo {
    /// One line for listings: `#1 active <subject> 2026-…Z → 2026-…Z`.
    pub fn summary(&self) -> String {
        format!(
            "#{} {} {} from {} until {}{}",
            self.id,
            self.status.name(),
            self.delegate_name,
            format_rfc3339(self.not_before),
            format_rfc3339(self.not_after),
            self.slot
                .map(|s| format!(" (slot {s})"))
                .unwrap_or_default()
        )
    }
}

/// The confidentiality key to put in the store.
pub enum NewKey {
    /// An existing key and its certificate (e.g. an IGC-Santé software certificate
    /// read from PKCS#12).
    Import(Box<SoftwareIdentity>),
    /// A new RSA key of this many bits, generated here; a PKCS#10 request for the CA is
    /// handed back and the certificate installed later
    /// ([`KeyStore::install_certificate`]).
    Generate {
        /// RSA modulus size (2048 to 4096).
        bits: usize,
    },
}

/// What creating a store or rekeying hands back, to show once.
#[derive(Debug)]
pub struct Created {
    /// The recovery secret: show it to the holder once, never store it beside the file.
    pub recovery: RecoverySecret,
    /// For [`NewKey::Generate`]: the certificate request (PEM) to send to the CA.
    pub csr_pem: Option<String>,
}

/// An open key store file.
///
/// Every change is one SQLite transaction (rollback journal, `synchronous=FULL`): a
/// process killed at any point leaves the previous or the next state.
pub struct KeyStore {
    conn: Connection,
    path: PathBuf,
    store_id: Vec<u8>,
    now: Option<i64>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Read a header value.
pub(crate) fn meta_blob(conn: &Connection, name: &str) -> Result<Vec<u8>, KeystoreError> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| KeystoreError::Tampered(format!("header field {name} is missing")))
}

/// Write a header value.
pub(crate) fn set_meta(conn: &Connection, name: &str, value: &[u8]) -> Result<(), KeystoreError> {
    conn.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) \
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

/// Open a connection with the store's settings.
pub(crate) fn connect(path: &Path, create: bool) -> Result<Connection, KeystoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.is_file() {
        return Err(KeystoreError::NotAKeyStore(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;")?;
    Ok(conn)
}

/// A stored row of the slots table.
struct SlotRow {
    id: i64,
    kind: SlotKind,
    cert: Option<Vec<u8>>,
    grant_id: Option<i64>,
    transport: Option<String>,
    wrapped: Vec<u8>,
    kdf: Option<String>,
    salt: Option<Vec<u8>>,
    mac: Vec<u8>,
}

impl SlotRow {
    fn fields(&self) -> Vec<Vec<u8>> {
        vec![
            b"slot".to_vec(),
            self.id.to_be_bytes().to_vec(),
            self.kind.name().as_bytes().to_vec(),
            self.cert.clone().unwrap_or_default(),
            self.grant_id.unwrap_or(-1).to_be_bytes().to_vec(),
            self.transport.clone().unwrap_or_default().into_bytes(),
            self.wrapped.clone(),
            self.kdf.clone().unwrap_or_default().into_bytes(),
            self.salt.clone().unwrap_or_default(),
        ]
    }

    fn compute_mac(&self, mac_key: &[u8; KEY_LEN]) -> Vec<u8> {
        let f = self.fields();
        let refs: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
        crypto::mac(mac_key, &refs)
    }

    fn mac_ok(&self, mac_key: &[u8; KEY_LEN]) -> bool {
        let f = self.fields();
        let refs: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
        crypto::mac_ok(mac_key, &refs, &self.mac)
    }

    fn wrap(&self) -> Result<Wrap, KeystoreError> {
        Ok(Wrap {
            transport: self.transport.clone().ok_or_else(|| {
                KeystoreError::Tampered(format!("slot {} has no transport", self.id))
            })?,
            wrapped: hex::encode(&self.wrapped),
        })
    }
}

const SLOT_COLUMNS: &str = "id, kind, cert, grant_id, transport, wrapped, kdf, salt, mac";

fn slot_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(SlotRow, String)> {
    let kind: String = r.get(1)?;
    Ok((
        SlotRow {
            id: r.get(0)?,
            kind: SlotKind::Card,
            cert: r.get(2)?,
            grant_id: r.get(3)?,
            transport: r.get(4)?,
            wrapped: r.get(5)?,
            kdf: r.get(6)?,
            salt: r.get(7)?,
            mac: r.get(8)?,
        },
        kind,
    ))
}

fn slots_where(
    conn: &Connection,
    clause: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<SlotRow>, KeystoreError> {
    let mut st = conn.prepare(&format!(
        "SELECT {SLOT_COLUMNS} FROM slots WHERE {clause} ORDER BY id"
    ))?;
    let rows = st
        .query_map(p, slot_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(mut s, kind)| {
            s.kind = SlotKind::parse(&kind)?;
            Ok(s)
        })
        .collect()
}

/// Insert a slot and its MAC; returns its id.
#[allow(clippy::too_many_arguments)]
fn insert_slot(
    tx: &Transaction<'_>,
    mac_key: &[u8; KEY_LEN],
    kind: SlotKind,
    cert: Option<Vec<u8>>,
    grant_id: Option<i64>,
    transport: Option<String>,
    wrapped: Vec<u8>,
    kdf: Option<String>,
    salt: Option<Vec<u8>>,
    now: i64,
) -> Result<i64, KeystoreError> {
    tx.execute(
        "INSERT INTO slots (kind, cert, grant_id, transport, wrapped, kdf, salt, created, mac) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, x'')",
        params![
            kind.name(),
            cert,
            grant_id,
            transport,
            wrapped,
            kdf,
            salt,
            now
        ],
    )?;
    let id = tx.last_insert_rowid();
    let row = SlotRow {
        id,
        kind,
        cert,
        grant_id,
        transport,
        wrapped,
        kdf,
        salt,
        mac: Vec::new(),
    };
    tx.execute(
        "UPDATE slots SET mac = ?1 WHERE id = ?2",
        params![row.compute_mac(mac_key), id],
    )?;
    Ok(id)
}

fn kek_check(kek: &[u8; KEY_LEN], store_id: &[u8]) -> Vec<u8> {
    crypto::mac(&crypto::subkey(kek, store_id, "check"), &[b"kek check"])
}

fn key_aad(store_id: &[u8], id: i64, cert: Option<&[u8]>) -> Vec<u8> {
    crypto::encode_fields(&[
        b"key",
        store_id,
        &id.to_be_bytes(),
        cert.unwrap_or_default(),
    ])
}

fn recovery_aad(store_id: &[u8], kdf: &str, salt: &[u8]) -> Vec<u8> {
    crypto::encode_fields(&[b"recovery", store_id, kdf.as_bytes(), salt])
}

/// The recovery slot's content: KEK sealed under Argon2id(secret).
fn recovery_slot(
    kek: &[u8; KEY_LEN],
    store_id: &[u8],
    params: KdfParams,
) -> Result<(RecoverySecret, String, Vec<u8>, Vec<u8>), KeystoreError> {
    let secret = RecoverySecret::generate()?;
    let salt = crypto::random(16)?;
    let kdf = serde_json::to_string(&params)
        .map_err(|e| KeystoreError::Invalid(format!("KDF parameters: {e}")))?;
    let wrapping = params.derive(&secret, &salt)?;
    let sealed = crypto::seal(&wrapping, &recovery_aad(store_id, &kdf, &salt), &kek[..])?;
    Ok((secret, kdf, salt, sealed))
}

/// Header fields covered by the header MAC.
fn meta_fields(conn: &Connection) -> Result<Vec<Vec<u8>>, KeystoreError> {
    let mut out = vec![b"meta".to_vec()];
    for name in [
        "format",
        "store_id",
        "holder_sign_cert",
        "holder_decrypt_cert",
        "kek_check",
    ] {
        out.push(meta_blob(conn, name)?);
    }
    Ok(out)
}

fn meta_mac(conn: &Connection, mac_key: &[u8; KEY_LEN]) -> Result<Vec<u8>, KeystoreError> {
    let f = meta_fields(conn)?;
    let refs: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
    Ok(crypto::mac(mac_key, &refs))
}

fn same_der(cert: &Certificate, der: &[u8]) -> bool {
    cert.to_der().map(|d| d == der).unwrap_or(false)
}

/// The confidentiality key material for a new key row: sealed plaintext, certificate,
/// public key, request.
struct KeyMaterial {
    plain: Zeroizing<String>,
    cert: Option<Vec<u8>>,
    spki: Vec<u8>,
    csr_pem: Option<String>,
}

fn key_material(new_key: NewKey, subject_of: &Certificate) -> Result<KeyMaterial, KeystoreError> {
    match new_key {
        NewKey::Import(id) => {
            let cert = id.certificate();
            let spki = cert.tbs_certificate().subject_public_key_info().to_der()?;
            Ok(KeyMaterial {
                plain: id.to_pem()?,
                cert: Some(cert.to_der()?),
                spki,
                csr_pem: None,
            })
        }
        NewKey::Generate { bits } => {
            use pkcs8::EncodePrivateKey;
            use x509_cert::builder::{Builder, RequestBuilder};
            if !(2048..=4096).contains(&bits) {
                return Err(KeystoreError::Invalid(format!(
                    "RSA key size {bits}: 2048 to 4096 bits"
                )));
            }
            let key = mss_algs::rsa::generate_private_key(bits)?;
            let pem = key
                .to_pkcs8_pem(der::pem::LineEnding::LF)
                .map_err(|e| KeystoreError::Invalid(format!("PKCS#8 encoding: {e}")))?;
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
            let csr = RequestBuilder::new(subject_of.tbs_certificate().subject().clone())
                .and_then(|b| b.build::<_, rsa::pkcs1v15::Signature>(&signer))
                .map_err(|e| KeystoreError::Invalid(format!("certificate request: {e}")))?;
            let spki = csr.info.public_key.to_der()?;
            let csr_pem = csr
                .to_pem(der::pem::LineEnding::LF)
                .map_err(|e| KeystoreError::Invalid(format!("certificate request: {e}")))?;
            Ok(KeyMaterial {
                plain: Zeroizing::new(pem.to_string()),
                cert: None,
                spki,
                csr_pem: Some(csr_pem),
            })
        }
    }
}

/// What unlocking a slot gives.
pub(crate) struct Unlocked {
    pub kek: Secret,
    pub slot: i64,
    pub kind: SlotKind,
    pub actor: String,
}

impl KeyStore {
    /// Create a store at `path` (which must not exist) for `holder` (a card or a
    /// software identity: its decryption-capable certificate gets the card slot, its
    /// signature certificate signs grants), holding `new_key`, with a recovery slot
    /// derived with `kdf`.
    ///
    /// The card slot is tried on the card before anything is written: RSA-OAEP with
    /// SHA-256 if the card does it, else PKCS#1 v1.5. The file appears complete or not
    /// at all (built beside `path`, then linked into place).
    pub fn create(
        path: &Path,
        holder: &dyn Identity,
        new_key: NewKey,
        kdf: KdfParams,
    ) -> Result<(KeyStore, Created), KeystoreError> {
        kdf.validate()?;
        if path.exists() {
            return Err(KeystoreError::AlreadyExists(path.display().to_string()));
        }
        let dec = holder.decryption_key()?;
        let sig = holder.signing_key()?;
        let dec_cert = dec.certificate().clone();
        let kek = crypto::random_key()?;
        let wraps = crypto::wrap_to(&dec_cert, &kek[..])?;
        let (_, card_wrap) = crypto::unwrap_with(dec, &wraps, |k| k[..] == kek[..])?;
        let material = key_material(new_key, &dec_cert)?;
        let store_id = crypto::random(16)?;
        let now = unix(SystemTime::now());

        let tmp = path.with_file_name(format!(
            ".{}.creating-{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        let built = (|| -> Result<RecoverySecret, KeystoreError> {
            let mut conn = connect(&tmp, true)?;
            let tx = conn.transaction()?;
            tx.execute_batch(SCHEMA)?;
            set_meta(&tx, "format", FORMAT)?;
            set_meta(&tx, "store_id", &store_id)?;
            set_meta(&tx, "holder_sign_cert", &sig.certificate().to_der()?)?;
            set_meta(&tx, "holder_decrypt_cert", &dec_cert.to_der()?)?;
            set_meta(&tx, "kek_check", &kek_check(&kek, &store_id))?;
            let mac_key = crypto::subkey(&kek, &store_id, "mac");
            set_meta(&tx, "meta_mac", &meta_mac(&tx, &mac_key)?)?;
            let key_id = insert_key(&tx, &kek, &store_id, &material, now)?;
            let card_slot = insert_slot(
                &tx,
                &mac_key,
                SlotKind::Card,
                Some(dec_cert.to_der()?),
                None,
                Some(card_wrap.transport.clone()),
                hex::decode(&card_wrap.wrapped).map_err(|_| KeystoreError::Rng)?,
                None,
                None,
                now,
            )?;
            let (secret, kdf_json, salt, sealed) = recovery_slot(&kek, &store_id, kdf)?;
            insert_slot(
                &tx,
                &mac_key,
                SlotKind::Recovery,
                None,
                None,
                None,
                sealed,
                Some(kdf_json.clone()),
                Some(salt),
                now,
            )?;
            let actor = crypto::describe(&dec_cert);
            audit::append(
                &tx,
                now,
                &NewEntry {
                    event: AuditEvent::Create,
                    actor: &actor,
                    slot: Some(card_slot),
                    message_id: None,
                    detail: format!(
                        "key {key_id}{}; card slot {} ({}); recovery slot Argon2id {kdf_json}",
                        if material.cert.is_some() {
                            ""
                        } else {
                            " (generated, awaiting its certificate)"
                        },
                        card_slot,
                        card_wrap.transport
                    ),
                },
            )?;
            tx.commit()?;
            Ok(secret)
        })();
        let secret = match built {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // Readable and writable by its owner only (a team share can widen it on purpose).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
        }
        // Link into place: fails if someone created `path` meanwhile (never clobbered).
        let linked = match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(KeystoreError::AlreadyExists(path.display().to_string()))
            }
            // A file system without hard links (some network shares): rename, after
            // checking again that nothing is there.
            Err(_) if !path.exists() => std::fs::rename(&tmp, path).map_err(Into::into),
            other => other.map_err(Into::into),
        };
        let _ = std::fs::remove_file(&tmp);
        linked?;
        let store = KeyStore::open(path)?;
        Ok((
            store,
            Created {
                recovery: secret,
                csr_pem: material.csr_pem,
            },
        ))
    }

    /// Open an existing store, and destroy the slots of delegations past their end date
    /// (recorded in the audit log).
    pub fn open(path: &Path) -> Result<KeyStore, KeystoreError> {
        let conn = connect(path, false)?;
        let format = conn
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .map_err(|e| KeystoreError::NotAKeyStore(format!("{}: {e}", path.display())))?;
        if format != FORMAT {
            return Err(KeystoreError::NotAKeyStore(format!(
                "{}: unknown format {:?}",
                path.display(),
                String::from_utf8_lossy(&format)
            )));
        }
        let store_id = meta_blob(&conn, "store_id")?;
        let mut store = KeyStore {
            conn,
            path: path.to_path_buf(),
            store_id,
            now: None,
        };
        store.expire()?;
        Ok(store)
    }

    /// Evaluate dates at `time` instead of the system clock (audits of what a store
    /// allowed at some moment, tests of expiry). Destroys the slots of delegations
    /// ended by then.
    pub fn at_time(&mut self, time: SystemTime) -> Result<(), KeystoreError> {
        self.now = Some(unix(time));
        self.expire()?;
        Ok(())
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| unix(SystemTime::now()))
    }

    /// The holder's signature certificate (the one that signs grants).
    pub fn holder_signing_certificate(&self) -> Result<Certificate, KeystoreError> {
        Ok(Certificate::from_der(&meta_blob(
            &self.conn,
            "holder_sign_cert",
        )?)?)
    }

    /// The holder's decryption certificate (the card slot's).
    pub fn holder_decryption_certificate(&self) -> Result<Certificate, KeystoreError> {
        Ok(Certificate::from_der(&meta_blob(
            &self.conn,
            "holder_decrypt_cert",
        )?)?)
    }

    /// Destroy the slots of delegations past their end date, and drop pending grants
    /// past theirs; each is an `expiry` entry of the audit log. Returns how many.
    pub fn expire(&mut self) -> Result<usize, KeystoreError> {
        let now = self.now();
        let tx = self.conn.transaction()?;
        let ended: Vec<(i64, Vec<u8>, i64, String)> = {
            let mut st = tx.prepare(
                "SELECT id, delegate_cert, not_after, status FROM grants \
                 WHERE status IN ('pending', 'active') AND not_after <= ?1 ORDER BY id",
            )?;
            st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?
        };
        for (id, cert, not_after, status) in &ended {
            let slots: Vec<i64> = {
                let mut st = tx.prepare("SELECT id FROM slots WHERE grant_id = ?1")?;
                st.query_map([id], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            tx.execute("DELETE FROM slots WHERE grant_id = ?1", [id])?;
            tx.execute(
                "UPDATE grants SET status = 'expired', pending_wraps = NULL WHERE id = ?1",
                [id],
            )?;
            let who = Certificate::from_der(cert)
                .map(|c| crypto::describe(&c))
                .unwrap_or_else(|_| "an undecodable certificate".into());
            audit::append(
                &tx,
                now,
                &NewEntry {
                    event: AuditEvent::Expiry,
                    actor: "mss (end date reached)",
                    slot: slots.first().copied(),
                    message_id: None,
                    detail: format!(
                        "grant #{id} ({status}) to {who} ended {}; slot destroyed",
                        format_rfc3339(*not_after)
                    ),
                },
            )?;
        }
        tx.commit()?;
        Ok(ended.len())
    }

    fn store_hex(&self) -> String {
        hex::encode(&self.store_id)
    }

    /// Check the header MAC and a slot's MAC with the unlocked key.
    fn check_integrity(&self, kek: &[u8; KEY_LEN], slot: &SlotRow) -> Result<(), KeystoreError> {
        let mac_key = crypto::subkey(kek, &self.store_id, "mac");
        let f = meta_fields(&self.conn)?;
        let refs: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
        if !crypto::mac_ok(&mac_key, &refs, &meta_blob(&self.conn, "meta_mac")?) {
            return Err(KeystoreError::Tampered(
                "the store header does not match its MAC".into(),
            ));
        }
        if !slot.mac_ok(&mac_key) {
            return Err(KeystoreError::Tampered(format!(
                "slot {} does not match its MAC",
                slot.id
            )));
        }
        Ok(())
    }

    fn check_kek(&self, k: &[u8; KEY_LEN]) -> bool {
        let stored = meta_blob(&self.conn, "kek_check").unwrap_or_default();
        let ours = kek_check(k, &self.store_id);
        ours.len() == stored.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(&ours[..], &stored[..]))
    }

    /// Explain why an identity without a slot has no access.
    fn no_slot(&self, cert_der: &[u8], who: &str) -> KeystoreError {
        let status: Option<String> = self
            .conn
            .query_row(
                "SELECT status FROM grants WHERE delegate_cert = ?1 ORDER BY id DESC LIMIT 1",
                [cert_der],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        match status.as_deref() {
            Some("pending") => KeystoreError::NoAccess(format!(
                "{who} (the grant is pending: the delegate must accept it first)"
            )),
            Some("revoked") => KeystoreError::DelegationRevoked,
            Some("expired") => KeystoreError::DelegationExpired("its end date".into()),
            _ => KeystoreError::NoAccess(who.to_owned()),
        }
    }

    /// Unlock with a card or software identity: the holder's card slot or an active
    /// delegate's slot. Checks the slot and header MACs, and a delegate's grant.
    pub(crate) fn unlock_identity(&mut self, id: &dyn Identity) -> Result<Unlocked, KeystoreError> {
        self.expire()?;
        let dec = id.decryption_key()?;
        let cert = dec.certificate();
        let cert_der = cert.to_der()?;
        let who = crypto::describe(cert);
        let slots = slots_where(
            &self.conn,
            "cert = ?1 AND kind IN ('card', 'delegate')",
            [&cert_der],
        )?;
        let Some(slot) = slots.into_iter().next() else {
            return Err(self.no_slot(&cert_der, &who));
        };
        let grant = match slot.kind {
            SlotKind::Delegate => {
                let gid = slot.grant_id.ok_or_else(|| {
                    KeystoreError::Tampered(format!("slot {} has no grant", slot.id))
                })?;
                let row: Option<(i64, i64, Vec<u8>, String, Vec<u8>)> = self
                    .conn
                    .query_row(
                        "SELECT not_before, not_after, signed, status, delegate_cert FROM grants WHERE id = ?1",
                        [gid],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?;
                let (nb, na, signed, status, dcert) = row.ok_or_else(|| {
                    KeystoreError::Tampered(format!("slot {} names a missing grant", slot.id))
                })?;
                if GrantStatus::parse(&status)? != GrantStatus::Active || dcert != cert_der {
                    return Err(KeystoreError::Tampered(format!(
                        "slot {} does not match its grant",
                        slot.id
                    )));
                }
                if self.now() < nb {
                    return Err(KeystoreError::DelegationNotYetValid(format_rfc3339(nb)));
                }
                Some((gid, nb, na, signed))
            }
            _ => None,
        };
        let (kek, _) = crypto::unwrap_with(dec, &[slot.wrap()?], |k| self.check_kek(k))?;
        self.check_integrity(&kek, &slot)?;
        if let Some((gid, nb, na, signed)) = grant {
            let payload: GrantPayload =
                grant::verify(&signed, &self.holder_signing_certificate()?)?;
            self.check_payload(&payload, &cert_der, nb, na)
                .map_err(|e| KeystoreError::InvalidGrant(format!("grant #{gid}: {e}")))?;
        }
        Ok(Unlocked {
            kek,
            slot: slot.id,
            kind: slot.kind,
            actor: who,
        })
    }

    fn check_payload(
        &self,
        p: &GrantPayload,
        cert_der: &[u8],
        nb: i64,
        na: i64,
    ) -> Result<(), KeystoreError> {
        if p.purpose != GRANT_PURPOSE || p.store != self.store_hex() {
            return Err(KeystoreError::InvalidGrant(
                "it is not a grant of this store".into(),
            ));
        }
        if !same_der(&p.delegate()?, cert_der) {
            return Err(KeystoreError::InvalidGrant(
                "it names another delegate".into(),
            ));
        }
        if p.not_before != nb || p.not_after != na {
            return Err(KeystoreError::InvalidGrant("its dates were altered".into()));
        }
        Ok(())
    }

    /// Unlock with the recovery secret (degraded mode); recorded in the audit log.
    pub(crate) fn unlock_recovery(
        &mut self,
        secret: &RecoverySecret,
    ) -> Result<Unlocked, KeystoreError> {
        self.expire()?;
        let slot = slots_where(&self.conn, "kind = 'recovery'", [])?
            .into_iter()
            .next()
            .ok_or_else(|| KeystoreError::Tampered("the recovery slot is missing".into()))?;
        let kdf_json = slot.kdf.clone().unwrap_or_default();
        let params: KdfParams = serde_json::from_str(&kdf_json)
            .map_err(|_| KeystoreError::Tampered("recovery slot parameters".into()))?;
        let salt = slot.salt.clone().unwrap_or_default();
        let wrapping = params.derive(secret, &salt)?;
        let Some(plain) = crypto::open(
            &wrapping,
            &recovery_aad(&self.store_id, &kdf_json, &salt),
            &slot.wrapped,
        ) else {
            // Failed attempts are part of the trail (someone trying secrets).
            let now = self.now();
            let tx = self.conn.transaction()?;
            audit::append(
                &tx,
                now,
                &NewEntry {
                    event: AuditEvent::RecoveryFailed,
                    actor: RECOVERY_ACTOR,
                    slot: Some(slot.id),
                    message_id: None,
                    detail: "a wrong recovery secret was tried".into(),
                },
            )?;
            tx.commit()?;
            return Err(KeystoreError::WrongRecoverySecret);
        };
        let kek = crypto::secret_from(&plain).ok_or(KeystoreError::WrongRecoverySecret)?;
        if !self.check_kek(&kek) {
            return Err(KeystoreError::Tampered(
                "the recovery slot holds another key".into(),
            ));
        }
        self.check_integrity(&kek, &slot)?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        audit::append(
            &tx,
            now,
            &NewEntry {
                event: AuditEvent::RecoveryUnlock,
                actor: RECOVERY_ACTOR,
                slot: Some(slot.id),
                message_id: None,
                detail: "degraded mode: the store was unlocked without the card".into(),
            },
        )?;
        tx.commit()?;
        Ok(Unlocked {
            kek,
            slot: slot.id,
            kind: SlotKind::Recovery,
            actor: RECOVERY_ACTOR.into(),
        })
    }

    /// The confidentiality keys (current first, then retired ones for old mail).
    pub(crate) fn load_keys(
        &self,
        kek: &[u8; KEY_LEN],
    ) -> Result<Vec<(i64, Option<SoftwareIdentity>)>, KeystoreError> {
        let key = crypto::subkey(kek, &self.store_id, "keys");
        let mut st = self
            .conn
            .prepare("SELECT id, cert, sealed FROM keys ORDER BY retired IS NOT NULL, id DESC")?;
        let rows: Vec<(i64, Option<Vec<u8>>, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, cert, sealed) in rows {
            let plain = crypto::open(&key, &key_aad(&self.store_id, id, cert.as_deref()), &sealed)
                .ok_or_else(|| KeystoreError::Tampered(format!("key {id} does not decrypt")))?;
            let text = std::str::from_utf8(&plain)
                .map_err(|_| KeystoreError::Tampered(format!("key {id} is not PEM")))?;
            let identity = match cert {
                Some(_) => Some(SoftwareIdentity::from_pem(text, None)?),
                None => None,
            };
            out.push((id, identity));
        }
        Ok(out)
    }

    /// Unlock with a card or software identity (holder or active delegate) and get a
    /// session whose keys open messages, each use recorded in the audit log.
    pub fn unlock(&mut self, id: &dyn Identity) -> Result<KeySession, KeystoreError> {
        let u = self.unlock_identity(id)?;
        self.session(u)
    }

    /// Unlock with the recovery secret (degraded mode: decryption only, no card, no
    /// signing). The unlock and every use are recorded.
    pub fn unlock_with_recovery(
        &mut self,
        secret: &RecoverySecret,
    ) -> Result<KeySession, KeystoreError> {
        let u = self.unlock_recovery(secret)?;
        self.session(u)
    }

    fn session(&self, u: Unlocked) -> Result<KeySession, KeystoreError> {
        let keys: Vec<(i64, SoftwareIdentity)> = self
            .load_keys(&u.kek)?
            .into_iter()
            .filter_map(|(id, k)| k.map(|k| (id, k)))
            .collect();
        if keys.is_empty() {
            return Err(KeystoreError::CertificateMissing);
        }
        let conn = connect(&self.path, false)?;
        Ok(KeySession::new(
            conn, u.actor, u.slot, u.kind, keys, self.now,
        ))
    }

    /// Require the holder: the identity's signature certificate is the holder's and its
    /// card opens the card slot. A delegate gets [`KeystoreError::NoRedelegation`].
    fn require_holder(
        &mut self,
        id: &dyn Identity,
        what: &'static str,
    ) -> Result<Unlocked, KeystoreError> {
        let sig = id.signing_key()?;
        let holder = meta_blob(&self.conn, "holder_sign_cert")?;
        if sig.certificate().to_der()? != holder {
            let dec_der = id.decryption_key()?.certificate().to_der()?;
            let is_delegate: bool = self.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM grants WHERE delegate_cert = ?1)",
                [&dec_der],
                |r| r.get(0),
            )?;
            return Err(if is_delegate && what == "grant access" {
                KeystoreError::NoRedelegation
            } else {
                KeystoreError::NotHolder(what)
            });
        }
        let u = self.unlock_identity(id)?;
        if u.kind != SlotKind::Card {
            return Err(KeystoreError::NotHolder(what));
        }
        Ok(u)
    }

    /// The holder (card + PIN) grants `delegate` (their decryption-capable
    /// certificate) access from `not_before` (default: now) to `not_after`. The grant
    /// is signed with the holder's signature key and stays pending until the delegate
    /// accepts it.
    pub fn grant(
        &mut self,
        holder: &dyn Identity,
        delegate: &Certificate,
        not_before: Option<i64>,
        not_after: i64,
    ) -> Result<GrantInfo, KeystoreError> {
        let u = self.require_holder(holder, "grant access")?;
        let now = self.now();
        let nb = not_before.unwrap_or(now);
        if not_after <= nb || not_after <= now {
            return Err(KeystoreError::Invalid(format!(
                "the delegation must end after it starts and in the future (from {} until {})",
                format_rfc3339(nb),
                format_rfc3339(not_after)
            )));
        }
        let dcert = delegate.to_der()?;
        if dcert == meta_blob(&self.conn, "holder_decrypt_cert")? {
            return Err(KeystoreError::Invalid(
                "the holder cannot delegate to themselves".into(),
            ));
        }
        let open: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM grants WHERE delegate_cert = ?1 AND status IN ('pending', 'active'))",
            [&dcert],
            |r| r.get(0),
        )?;
        if open {
            return Err(KeystoreError::Invalid(format!(
                "{} already has a pending or active delegation: revoke it first",
                crypto::describe(delegate)
            )));
        }
        let wraps = crypto::wrap_to(delegate, &u.kek[..])?;
        let payload = GrantPayload {
            purpose: GRANT_PURPOSE.into(),
            store: self.store_hex(),
            delegate_cert: GrantPayload::encode_cert(delegate)?,
            not_before: nb,
            not_after,
            issued: now,
            nonce: hex::encode(crypto::random(16)?),
        };
        let signed = grant::sign(&payload, holder.signing_key()?)?;
        let wraps_json = serde_json::to_string(&wraps)
            .map_err(|e| KeystoreError::Invalid(format!("encoding: {e}")))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO grants (delegate_cert, not_before, not_after, signed, status, pending_wraps, created) \
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
            params![dcert, nb, not_after, signed, wraps_json, now],
        )?;
        let gid = tx.last_insert_rowid();
        audit::append(
            &tx,
            now,
            &NewEntry {
                event: AuditEvent::Grant,
                actor: &u.actor,
                slot: Some(u.slot),
                message_id: None,
                detail: format!(
                    "grant #{gid} to {} from {} until {} (pending acceptance)",
                    crypto::describe(delegate),
                    format_rfc3339(nb),
                    format_rfc3339(not_after)
                ),
            },
        )?;
        tx.commit()?;
        self.grant_info(gid)
    }

    /// The delegate (their own card + PIN) accepts the grant addressed to them: their
    /// card must open the key-encryption key wrapped to their certificate (proof of
    /// possession of the decryption key) and their signature key signs the acceptance;
    /// then their slot is created.
    pub fn accept(&mut self, delegate: &dyn Identity) -> Result<GrantInfo, KeystoreError> {
        self.expire()?;
        let dec = delegate.decryption_key()?;
        let cert_der = dec.certificate().to_der()?;
        let who = crypto::describe(dec.certificate());
        let row: Option<(i64, i64, i64, Vec<u8>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT id, not_before, not_after, signed, pending_wraps FROM grants \
                 WHERE delegate_cert = ?1 AND status = 'pending' ORDER BY id DESC LIMIT 1",
                [&cert_der],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((gid, nb, na, signed, wraps)) = row else {
            let active: bool = self.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM grants WHERE delegate_cert = ?1 AND status = 'active')",
                [&cert_der],
                |r| r.get(0),
            )?;
            return Err(if active {
                KeystoreError::Invalid(format!("{who} has already accepted the delegation"))
            } else {
                KeystoreError::NoPendingGrant(who)
            });
        };
        let payload: GrantPayload = grant::verify(&signed, &self.holder_signing_certificate()?)?;
        self.check_payload(&payload, &cert_der, nb, na)?;
        let wraps: Vec<Wrap> = serde_json::from_str(wraps.as_deref().unwrap_or("[]"))
            .map_err(|_| KeystoreError::Tampered(format!("grant #{gid}: wrapped keys")))?;
        let (kek, wrap) = crypto::unwrap_with(dec, &wraps, |k| self.check_kek(k))?;
        // The header (and so the holder certificate the grant was checked against) is
        // authentic.
        let mac_key = crypto::subkey(&kek, &self.store_id, "mac");
        if !crypto::mac_ok(
            &mac_key,
            &meta_fields(&self.conn)?
                .iter()
                .map(Vec::as_slice)
                .collect::<Vec<_>>(),
            &meta_blob(&self.conn, "meta_mac")?,
        ) {
            return Err(KeystoreError::Tampered(
                "the store header does not match its MAC".into(),
            ));
        }
        // The acceptance is signed by the same person's signature key.
        let sig = delegate.signing_key()?;
        let (s, d) = (
            sig.certificate().tbs_certificate(),
            dec.certificate().tbs_certificate(),
        );
        if s.subject() != d.subject() || s.issuer() != d.issuer() {
            return Err(KeystoreError::Invalid(
                "the identity's signature and decryption certificates are not of the same person"
                    .into(),
            ));
        }
        let now = self.now();
        let acceptance = grant::sign(
            &AcceptPayload {
                purpose: ACCEPT_PURPOSE.into(),
                store: self.store_hex(),
                grant: hex::encode(crypto::sha256(&signed)),
                accepted: now,
            },
            sig,
        )?;
        let tx = self.conn.transaction()?;
        let slot = insert_slot(
            &tx,
            &mac_key,
            SlotKind::Delegate,
            Some(cert_der),
            Some(gid),
            Some(wrap.transport.clone()),
            hex::decode(&wrap.wrapped)
                .map_err(|_| KeystoreError::Tampered("wrapped key".into()))?,
            None,
            None,
            now,
        )?;
        tx.execute(
            "UPDATE grants SET status = 'active', pending_wraps = NULL, acceptance = ?1 WHERE id = ?2",
            params![acceptance, gid],
        )?;
        audit::append(
            &tx,
            now,
            &NewEntry {
                event: AuditEvent::Accept,
                actor: &who,
                slot: Some(slot),
                message_id: None,
                detail: format!(
                    "grant #{gid} accepted; delegate slot {slot} ({})",
                    wrap.transport
                ),
            },
        )?;
        tx.commit()?;
        self.grant_info(gid)
    }

    /// The holder (card + PIN) revokes every pending or active delegation to
    /// `delegate`: slots destroyed, grants marked revoked. Returns how many.
    pub fn revoke(
        &mut self,
        holder: &dyn Identity,
        delegate: &Certificate,
    ) -> Result<usize, KeystoreError> {
        let u = self.require_holder(holder, "revoke a delegation")?;
        let dcert = delegate.to_der()?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare(
                "SELECT id FROM grants WHERE delegate_cert = ?1 AND status IN ('pending', 'active') ORDER BY id",
            )?;
            st.query_map([&dcert], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        if ids.is_empty() {
            return Err(KeystoreError::Invalid(format!(
                "{} has no pending or active delegation",
                crypto::describe(delegate)
            )));
        }
        for gid in &ids {
            let slot: Option<i64> = tx
                .query_row("SELECT id FROM slots WHERE grant_id = ?1", [gid], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute("DELETE FROM slots WHERE grant_id = ?1", [gid])?;
            tx.execute(
                "UPDATE grants SET status = 'revoked', pending_wraps = NULL WHERE id = ?1",
                [gid],
            )?;
            audit::append(
                &tx,
                now,
                &NewEntry {
                    event: AuditEvent::Revoke,
                    actor: &u.actor,
                    slot,
                    message_id: None,
                    detail: format!(
                        "grant #{gid} to {} revoked{}",
                        crypto::describe(delegate),
                        slot.map(|s| format!("; slot {s} destroyed"))
                            .unwrap_or_default()
                    ),
                },
            )?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    fn grant_info(&self, gid: i64) -> Result<GrantInfo, KeystoreError> {
        self.delegations()?
            .into_iter()
            .find(|g| g.id == gid)
            .ok_or_else(|| KeystoreError::Tampered(format!("grant #{gid} vanished")))
    }

    /// Every delegation ever granted, oldest first.
    pub fn delegations(&self) -> Result<Vec<GrantInfo>, KeystoreError> {
        let mut st = self.conn.prepare(
            "SELECT g.id, g.delegate_cert, g.not_before, g.not_after, g.status, \
             (SELECT s.id FROM slots s WHERE s.grant_id = g.id) FROM grants g ORDER BY g.id",
        )?;
        let rows: Vec<(i64, Vec<u8>, i64, i64, String, Option<i64>)> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, cert, nb, na, status, slot)| {
                let delegate = Certificate::from_der(&cert)?;
                Ok(GrantInfo {
                    id,
                    delegate_name: crypto::describe(&delegate),
                    delegate,
                    not_before: nb,
                    not_after: na,
                    status: GrantStatus::parse(&status)?,
                    slot,
                })
            })
            .collect()
    }

    /// The audit log, in order (not verified: see [`KeyStore::verify_audit`]).
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, KeystoreError> {
        audit::entries(&self.conn)
    }

    /// Verify the audit log end to end; returns the head to keep elsewhere.
    pub fn verify_audit(&self) -> Result<AuditHead, KeystoreError> {
        audit::verify(&self.conn)
    }

    /// Install the certificate the CA issued for a generated key (holder card + PIN).
    /// `pem` holds the certificate, and possibly its chain.
    pub fn install_certificate(
        &mut self,
        holder: &dyn Identity,
        pem: &str,
    ) -> Result<(), KeystoreError> {
        let u = self.require_holder(holder, "install a certificate")?;
        let keys_key = crypto::subkey(&u.kek, &self.store_id, "keys");
        let first = pem
            .find("-----BEGIN CERTIFICATE-----")
            .ok_or_else(|| KeystoreError::Invalid("no certificate in the file".into()))?;
        let cert_pem = &pem[first..];
        let end = cert_pem
            .find("-----END CERTIFICATE-----")
            .ok_or_else(|| KeystoreError::Invalid("truncated certificate".into()))?;
        use der::DecodePem;
        let cert = Certificate::from_pem(&cert_pem[..end + "-----END CERTIFICATE-----".len()])
            .map_err(|e| KeystoreError::Invalid(format!("certificate: {e}")))?;
        let spki = cert.tbs_certificate().subject_public_key_info().to_der()?;
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT id, sealed FROM keys WHERE cert IS NULL AND spki = ?1",
                [&spki],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (kid, sealed) = row.ok_or_else(|| {
            KeystoreError::Invalid("no generated key of the store awaits this certificate".into())
        })?;
        let plain = crypto::open(&keys_key, &key_aad(&self.store_id, kid, None), &sealed)
            .ok_or_else(|| KeystoreError::Tampered(format!("key {kid} does not decrypt")))?;
        let mut bundle = Zeroizing::new(
            String::from_utf8(plain.to_vec())
                .map_err(|_| KeystoreError::Tampered(format!("key {kid} is not PEM")))?,
        );
        bundle.push_str(cert_pem);
        let id = SoftwareIdentity::from_pem(&bundle, None)?;
        let full = id.to_pem()?;
        let cert_der = cert.to_der()?;
        let resealed = crypto::seal(
            &keys_key,
            &key_aad(&self.store_id, kid, Some(&cert_der)),
            full.as_bytes(),
        )?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE keys SET cert = ?1, sealed = ?2 WHERE id = ?3",
            params![cert_der, resealed, kid],
        )?;
        audit::append(
            &tx,
            now,
            &NewEntry {
                event: AuditEvent::InstallCertificate,
                actor: &u.actor,
                slot: Some(u.slot),
                message_id: None,
                detail: format!("key {kid}: certificate {}", crypto::describe(&cert)),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The holder (card + PIN) rolls the confidentiality key: `new_key` becomes the
    /// current key, the old ones stay (retired) to read old mail; the key-encryption
    /// key is replaced too, every slot re-wrapped (active delegates keep their access,
    /// pending grants are re-wrapped) and a new recovery secret replaces the old one.
    pub fn rekey(
        &mut self,
        holder: &dyn Identity,
        new_key: NewKey,
        kdf: KdfParams,
    ) -> Result<Created, KeystoreError> {
        kdf.validate()?;
        let u = self.require_holder(holder, "rekey")?;
        let old_keys_key = crypto::subkey(&u.kek, &self.store_id, "keys");
        let kek = crypto::random_key()?;
        let keys_key = crypto::subkey(&kek, &self.store_id, "keys");
        let mac_key = crypto::subkey(&kek, &self.store_id, "mac");
        let dec_cert = self.holder_decryption_certificate()?;
        let material = key_material(new_key, &dec_cert)?;
        let now = self.now();
        let store_id = self.store_id.clone();
        let tx = self.conn.transaction()?;
        // Re-seal every key under the new key-encryption key.
        let keys: Vec<(i64, Option<Vec<u8>>, Vec<u8>)> = {
            let mut st = tx.prepare("SELECT id, cert, sealed FROM keys")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        for (id, cert, sealed) in keys {
            let aad = key_aad(&store_id, id, cert.as_deref());
            let plain = crypto::open(&old_keys_key, &aad, &sealed)
                .ok_or_else(|| KeystoreError::Tampered(format!("key {id} does not decrypt")))?;
            tx.execute(
                "UPDATE keys SET sealed = ?1, retired = COALESCE(retired, ?2) WHERE id = ?3",
                params![crypto::seal(&keys_key, &aad, &plain)?, now, id],
            )?;
        }
        let key_id = insert_key(&tx, &kek, &store_id, &material, now)?;
        set_meta(&tx, "kek_check", &kek_check(&kek, &store_id))?;
        set_meta(&tx, "meta_mac", &meta_mac(&tx, &mac_key)?)?;
        // Re-wrap the card and delegate slots with the transport each one uses.
        let mut recovery = None;
        let slots = slots_where(&tx, "1 = 1", [])?;
        for mut slot in slots {
            match slot.kind {
                SlotKind::Recovery => {
                    let (secret, kdf_json, salt, sealed) = recovery_slot(&kek, &store_id, kdf)?;
                    slot.kdf = Some(kdf_json);
                    slot.salt = Some(salt);
                    slot.wrapped = sealed;
                    recovery = Some(secret);
                }
                SlotKind::Card | SlotKind::Delegate => {
                    let cert = Certificate::from_der(slot.cert.as_deref().unwrap_or_default())?;
                    let transport = slot.transport.clone().unwrap_or_default();
                    let w = crypto::wrap_to(&cert, &kek[..])?
                        .into_iter()
                        .find(|w| w.transport == transport)
                        .ok_or_else(|| {
                            KeystoreError::Tampered(format!("slot {}: transport", slot.id))
                        })?;
                    slot.wrapped = hex::decode(&w.wrapped).map_err(|_| KeystoreError::Rng)?;
                }
            }
            slot.mac = slot.compute_mac(&mac_key);
            tx.execute(
                "UPDATE slots SET wrapped = ?1, kdf = ?2, salt = ?3, mac = ?4 WHERE id = ?5",
                params![slot.wrapped, slot.kdf, slot.salt, slot.mac, slot.id],
            )?;
        }
        let pending: Vec<(i64, Vec<u8>)> = {
            let mut st =
                tx.prepare("SELECT id, delegate_cert FROM grants WHERE status = 'pending'")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        for (gid, cert) in pending {
            let wraps = crypto::wrap_to(&Certificate::from_der(&cert)?, &kek[..])?;
            let json = serde_json::to_string(&wraps)
                .map_err(|e| KeystoreError::Invalid(format!("encoding: {e}")))?;
            tx.execute(
                "UPDATE grants SET pending_wraps = ?1 WHERE id = ?2",
                params![json, gid],
            )?;
        }
        let recovery = recovery
            .ok_or_else(|| KeystoreError::Tampered("the recovery slot is missing".into()))?;
        audit::append(
            &tx,
            now,
            &NewEntry {
                event: AuditEvent::Rekey,
                actor: &u.actor,
                slot: Some(u.slot),
                message_id: None,
                detail: format!(
                    "new key {key_id}{}; new key-encryption key, every slot re-wrapped, new recovery secret",
                    if material.cert.is_some() {
                        ""
                    } else {
                        " (generated, awaiting its certificate)"
                    }
                ),
            },
        )?;
        tx.commit()?;
        Ok(Created {
            recovery,
            csr_pem: material.csr_pem,
        })
    }
}

/// The actor named for recovery-secret operations.
pub(crate) const RECOVERY_ACTOR: &str = "recovery secret (degraded mode)";

fn insert_key(
    tx: &Transaction<'_>,
    kek: &[u8; KEY_LEN],
    store_id: &[u8],
    m: &KeyMaterial,
    now: i64,
) -> Result<i64, KeystoreError> {
    tx.execute(
        "INSERT INTO keys (created, cert, spki, sealed) VALUES (?1, ?2, ?3, x'')",
        params![now, m.cert, m.spki],
    )?;
    let id = tx.last_insert_rowid();
    let key = crypto::subkey(kek, store_id, "keys");
    let sealed = crypto::seal(
        &key,
        &key_aad(store_id, id, m.cert.as_deref()),
        m.plain.as_bytes(),
    )?;
    tx.execute(
        "UPDATE keys SET sealed = ?1 WHERE id = ?2",
        params![sealed, id],
    )?;
    Ok(id)
}
