//! An unlocked key store: the confidentiality keys as [`DecryptionKey`]s whose every
//! use is written to the audit log before the key it unwrapped is handed back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use mss_algs::AlgError;
use mss_algs::key_agreement::KeyAgreementAlgorithm;
use mss_algs::keys::DecryptionKey;
use mss_algs::rsa::KeyTransport;
use mss_token::SoftwareIdentity;
use rusqlite::Connection;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::KeystoreError;
use crate::audit::{self, AuditEvent, NewEntry};
use crate::store::SlotKind;
use crate::time::unix;

struct Inner {
    conn: Mutex<Connection>,
    actor: String,
    slot: i64,
    kind: SlotKind,
    message_id: Mutex<Option<String>>,
    uses: Mutex<usize>,
    now: Option<i64>,
}

impl Inner {
    fn record(&self, key_id: i64, cert: &Certificate) -> Result<(), KeystoreError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mid = self
            .message_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let event = if self.kind == SlotKind::Recovery {
            AuditEvent::RecoveryUse
        } else {
            AuditEvent::Use
        };
        let now = self.now.unwrap_or_else(|| unix(SystemTime::now()));
        let tx = conn.unchecked_transaction()?;
        audit::append(
            &tx,
            now,
            &NewEntry {
                event,
                actor: &self.actor,
                slot: Some(self.slot),
                message_id: Some(mid.as_deref().unwrap_or("(no Message-ID)")),
                detail: format!(
                    "{} slot; key {key_id} ({})",
                    self.kind.name(),
                    cert.tbs_certificate().subject()
                ),
            },
        )?;
        tx.commit()?;
        *self.uses.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Ok(())
    }
}

/// An unlocked store: who unlocked it, through which slot, and its keys.
///
/// Its keys decrypt; they cannot sign (signing needs the card). Set the Message-ID of
/// the message about to be opened with [`KeySession::set_message_id`]: each use is
/// recorded with it.
pub struct KeySession {
    inner: Arc<Inner>,
    keys: Vec<SessionKey>,
}

impl std::fmt::Debug for KeySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySession")
            .field("actor", &self.inner.actor)
            .field("slot", &self.inner.slot)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl KeySession {
    pub(crate) fn new(
        conn: Connection,
        actor: String,
        slot: i64,
        kind: SlotKind,
        keys: Vec<(i64, SoftwareIdentity)>,
        now: Option<i64>,
    ) -> Self {
        let inner = Arc::new(Inner {
            conn: Mutex::new(conn),
            actor,
            slot,
            kind,
            message_id: Mutex::new(None),
            uses: Mutex::new(0),
            now,
        });
        let keys = keys
            .into_iter()
            .map(|(key_id, identity)| SessionKey {
                inner: Arc::clone(&inner),
                key_id,
                identity,
            })
            .collect();
        KeySession { inner, keys }
    }

    /// The keys, current first, for the `mss` facade's `OpenOptions::keys`.
    pub fn decryption_keys(&self) -> Vec<&dyn DecryptionKey> {
        self.keys.iter().map(|k| k as &dyn DecryptionKey).collect()
    }

    /// The current key's certificate (the one correspondents encrypt to).
    pub fn current_certificate(&self) -> Option<&Certificate> {
        self.keys.first().map(|k| k.identity.certificate())
    }

    /// The Message-ID recorded with the next uses.
    pub fn set_message_id(&self, message_id: Option<&str>) {
        *self
            .inner
            .message_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = message_id.map(str::to_owned);
    }

    /// Who unlocked the store.
    pub fn actor(&self) -> &str {
        &self.inner.actor
    }

    /// The slot that was opened.
    pub fn slot(&self) -> i64 {
        self.inner.slot
    }

    /// The kind of that slot (recovery = degraded mode).
    pub fn slot_kind(&self) -> SlotKind {
        self.inner.kind
    }

    /// How many uses were recorded through this session.
    pub fn uses(&self) -> usize {
        *self
            .inner
            .uses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One confidentiality key of a session.
struct SessionKey {
    inner: Arc<Inner>,
    key_id: i64,
    identity: SoftwareIdentity,
}

fn unrecorded(e: KeystoreError) -> AlgError {
    AlgError::KeyOperation(format!(
        "the use of the key could not be recorded in the audit log, so it is refused: {e}"
    ))
}

impl DecryptionKey for SessionKey {
    fn certificate(&self) -> &Certificate {
        self.identity.certificate()
    }

    fn decrypt_key(
        &self,
        alg: &KeyTransport,
        encrypted: &[u8],
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        let key = self.identity.decrypt_key(alg, encrypted, expected_len)?;
        self.inner
            .record(self.key_id, self.identity.certificate())
            .map_err(unrecorded)?;
        Ok(key)
    }

    fn agree_kek(
        &self,
        alg: &KeyAgreementAlgorithm,
        originator: &SubjectPublicKeyInfoOwned,
        ukm: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        let key = self.identity.agree_kek(alg, originator, ukm)?;
        self.inner
            .record(self.key_id, self.identity.certificate())
            .map_err(unrecorded)?;
        Ok(key)
    }
}
