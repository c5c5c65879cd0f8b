//! The audit log: append-only, hash-chained entries.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and the entry's fields
//! (length-prefixed); the first entry chains to a genesis value derived from the store
//! id. The head (last sequence number and hash) is also kept in the store header, so
//! that removing entries at the end is detected as well as altering or removing any
//! entry in the middle. Someone who can write the file can still rewrite the whole
//! chain: keep a copy of the head printed by `mss keystore audit --verify` elsewhere
//! (see `docs/delegation.md`).

use rusqlite::{Connection, OptionalExtension, params};

use crate::KeystoreError;
use crate::crypto::{encode_fields, sha256};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// The store was created.
    Create,
    /// The holder granted access to a delegate.
    Grant,
    /// A delegate accepted a grant (their slot was created).
    Accept,
    /// The holder revoked a delegation (the slot was destroyed).
    Revoke,
    /// A delegation reached its end date (the slot was destroyed).
    Expiry,
    /// The confidentiality key opened a message (holder's card or delegate).
    Use,
    /// The recovery secret unlocked the store (degraded mode).
    RecoveryUnlock,
    /// The confidentiality key opened a message in degraded mode.
    RecoveryUse,
    /// A wrong recovery secret was tried.
    RecoveryFailed,
    /// The holder rolled the confidentiality key and the key-encryption key.
    Rekey,
    /// The certificate of a generated key was installed.
    InstallCertificate,
}

impl AuditEvent {
    /// The name stored in the log.
    pub fn name(self) -> &'static str {
        match self {
            AuditEvent::Create => "create",
            AuditEvent::Grant => "grant",
            AuditEvent::Accept => "accept",
            AuditEvent::Revoke => "revoke",
            AuditEvent::Expiry => "expiry",
            AuditEvent::Use => "use",
            AuditEvent::RecoveryUnlock => "recovery-unlock",
            AuditEvent::RecoveryUse => "recovery-use",
            AuditEvent::RecoveryFailed => "recovery-failed",
            AuditEvent::Rekey => "rekey",
            AuditEvent::InstallCertificate => "install-certificate",
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Sequence number, from 1.
    pub seq: i64,
    /// When (seconds since the Unix epoch, UTC).
    pub time: i64,
    /// What happened ([`AuditEvent::name`]).
    pub event: String,
    /// Who: the identity's subject and fingerprint, or `recovery secret`.
    pub actor: String,
    /// The slot used or changed, when there is one.
    pub slot: Option<i64>,
    /// The Message-ID of the message opened, for uses.
    pub message_id: Option<String>,
    /// Free-form details (the delegate, the dates, the key…).
    pub detail: String,
    /// The previous entry's hash, hex.
    pub prev: String,
    /// This entry's hash, hex.
    pub hash: String,
}

/// The hash the first entry chains to.
pub(crate) fn genesis(store_id: &[u8]) -> Vec<u8> {
    sha256(&encode_fields(&[b"mss-keystore audit v1", store_id]))
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev: &[u8],
    seq: i64,
    time: i64,
    event: &str,
    actor: &str,
    slot: Option<i64>,
    message_id: Option<&str>,
    detail: &str,
) -> Vec<u8> {
    let slot = slot.map(|s| s.to_be_bytes().to_vec()).unwrap_or_default();
    let mid = message_id.map(|m| format!("+{m}")).unwrap_or_default();
    sha256(&encode_fields(&[
        prev,
        &seq.to_be_bytes(),
        &time.to_be_bytes(),
        event.as_bytes(),
        actor.as_bytes(),
        &slot,
        mid.as_bytes(),
        detail.as_bytes(),
    ]))
}

/// What an entry says, before it is chained.
pub(crate) struct NewEntry<'a> {
    pub event: AuditEvent,
    pub actor: &'a str,
    pub slot: Option<i64>,
    pub message_id: Option<&'a str>,
    pub detail: String,
}

/// Append `e` at `time` (inside the caller's transaction) and move the head.
pub(crate) fn append(conn: &Connection, time: i64, e: &NewEntry<'_>) -> Result<i64, KeystoreError> {
    let head: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h),
        None => (1, genesis(&crate::store::meta_blob(conn, "store_id")?)),
    };
    let hash = entry_hash(
        &prev,
        seq,
        time,
        e.event.name(),
        e.actor,
        e.slot,
        e.message_id,
        &e.detail,
    );
    conn.execute(
        "INSERT INTO audit (seq, time, event, actor, slot, message_id, detail, prev, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            seq,
            time,
            e.event.name(),
            e.actor,
            e.slot,
            e.message_id,
            e.detail,
            prev,
            hash
        ],
    )?;
    crate::store::set_meta(
        conn,
        "audit_head",
        &encode_fields(&[&seq.to_be_bytes(), &hash]),
    )?;
    Ok(seq)
}

/// Every entry, in order.
pub(crate) fn entries(conn: &Connection) -> Result<Vec<AuditEntry>, KeystoreError> {
    let mut st = conn.prepare(
        "SELECT seq, time, event, actor, slot, message_id, detail, prev, hash FROM audit ORDER BY seq",
    )?;
    let rows = st.query_map([], |r| {
        Ok(AuditEntry {
            seq: r.get(0)?,
            time: r.get(1)?,
            event: r.get(2)?,
            actor: r.get(3)?,
            slot: r.get(4)?,
            message_id: r.get(5)?,
            detail: r.get(6)?,
            prev: hex::encode(r.get::<_, Vec<u8>>(7)?),
            hash: hex::encode(r.get::<_, Vec<u8>>(8)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The result of a verification: how many entries, and the head to keep elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Number of entries (the last sequence number).
    pub entries: i64,
    /// The last entry's hash, hex.
    pub hash: String,
}

/// Check the chain from the genesis value to the head kept in the header.
pub(crate) fn verify(conn: &Connection) -> Result<AuditHead, KeystoreError> {
    let store_id = crate::store::meta_blob(conn, "store_id")?;
    let mut prev = genesis(&store_id);
    let mut expected_seq = 1;
    for e in entries(conn)? {
        let broken = |why: &str| KeystoreError::AuditBroken {
            seq: e.seq,
            why: why.to_owned(),
        };
        if e.seq != expected_seq {
            return Err(KeystoreError::AuditBroken {
                seq: expected_seq,
                why: "entry missing".into(),
            });
        }
        if e.prev != hex::encode(&prev) {
            return Err(broken("does not chain to the previous entry"));
        }
        let hash = entry_hash(
            &prev,
            e.seq,
            e.time,
            &e.event,
            &e.actor,
            e.slot,
            e.message_id.as_deref(),
            &e.detail,
        );
        if e.hash != hex::encode(&hash) {
            return Err(broken("its content does not match its hash"));
        }
        prev = hash;
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    let head = crate::store::meta_blob(conn, "audit_head")?;
    if head != encode_fields(&[&last.to_be_bytes(), &prev]) {
        return Err(KeystoreError::AuditBroken {
            seq: last + 1,
            why: "the log does not end at the head recorded in the store header (entries removed)"
                .into(),
        });
    }
    Ok(AuditHead {
        entries: last,
        hash: hex::encode(prev),
    })
}
