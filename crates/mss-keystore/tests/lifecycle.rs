//! The key store's whole life with software identities (PKCS#12-style keys from the
//! test CA): create, holder opens, degraded mode, delegation (grant, accept, use,
//! revoke, expiry, re-delegation, wrong delegate), tampering, rekey.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mss_algs::rsa::{KeyTransport, encrypt_key};
use mss_keystore::{
    GrantStatus, KdfParams, KeyStore, KeystoreError, NewKey, RecoverySecret, SlotKind,
};
use mss_token::{CertificateAuthority, PersonProfile, SoftwareIdentity};
use x509_cert::Certificate;

/// The people of the tests, issued once per test binary.
struct People {
    ca: CertificateAuthority,
    holder: SoftwareIdentity,
    /// The confidentiality key stored in the key store (its own certificate).
    conf: SoftwareIdentity,
    delegate: SoftwareIdentity,
    other: SoftwareIdentity,
}

fn people() -> &'static People {
    static P: OnceLock<People> = OnceLock::new();
    P.get_or_init(|| {
        let ca = CertificateAuthority::new("Keystore Test CA", 2048).expect("CA");
        let issue = |cn: &str, mail: &str| ca.issue(&PersonProfile::new(cn, mail)).expect("issue");
        People {
            holder: issue("Dr Jean Dupont", "jean.dupont@test.mssante.invalid"),
            conf: issue(
                "Dr Jean Dupont (confidentialite)",
                "jean.dupont@test.mssante.invalid",
            ),
            delegate: issue("Dr Marie Remplacante", "marie@test.mssante.invalid"),
            other: issue("Dr Paul Autre", "paul@test.mssante.invalid"),
            ca,
        }
    })
}

/// A raw row of the audit table.
type AuditRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn create(dir: &Path) -> (PathBuf, KeyStore, RecoverySecret) {
    let p = people();
    let path = dir.join("store.mss");
    let (store, created) = KeyStore::create(
        &path,
        &p.holder,
        NewKey::Import(Box::new(p.conf.clone())),
        KdfParams::insecure_for_tests(),
    )
    .expect("create");
    assert!(created.csr_pem.is_none());
    (path, store, created.recovery)
}

/// A content key encrypted to `cert` as a sender would (RSA-OAEP SHA-256).
fn sealed_to(cert: &Certificate) -> (Vec<u8>, Vec<u8>) {
    let cek = vec![0x5au8; 32];
    let kt = oaep();
    let enc =
        encrypt_key(cert.tbs_certificate().subject_public_key_info(), &kt, &cek).expect("encrypt");
    (cek, enc)
}

fn oaep() -> KeyTransport {
    KeyTransport::RsaOaep {
        hash: mss_algs::digest::DigestAlgorithm::Sha256,
    }
}

/// Open "a message" (unwrap its content key) with the session's keys.
fn open_with(session: &mss_keystore::KeySession, cert: &Certificate, mid: &str) -> Vec<u8> {
    let (cek, enc) = sealed_to(cert);
    session.set_message_id(Some(mid));
    let keys = session.decryption_keys();
    let key = keys
        .iter()
        .find(|k| k.certificate() == cert)
        .expect("a key for the certificate");
    let got = key.decrypt_key(&oaep(), &enc, None).expect("decrypt");
    assert_eq!(&got[..], &cek[..]);
    got.to_vec()
}

fn events(store: &KeyStore) -> Vec<String> {
    store
        .audit_log()
        .expect("audit")
        .into_iter()
        .map(|e| e.event)
        .collect()
}

fn sql(path: &Path, statement: &str) {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let n = conn.execute(statement, []).expect("tamper");
    assert!(n > 0, "{statement} changed nothing");
}

#[test]
fn create_then_the_holder_opens_and_every_use_is_audited() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, _) = create(dir.path());
    // Creating again never clobbers the store.
    assert!(matches!(
        KeyStore::create(
            &path,
            &p.holder,
            NewKey::Import(Box::new(p.conf.clone())),
            KdfParams::insecure_for_tests()
        ),
        Err(KeystoreError::AlreadyExists(_))
    ));
    let session = store.unlock(&p.holder).expect("holder unlocks");
    assert_eq!(session.slot_kind(), SlotKind::Card);
    assert_eq!(session.current_certificate(), Some(p.conf.certificate()));
    open_with(&session, p.conf.certificate(), "<m1@test>");
    open_with(&session, p.conf.certificate(), "<m2@test>");
    assert_eq!(session.uses(), 2);
    let log = store.audit_log().expect("log");
    let uses: Vec<_> = log.iter().filter(|e| e.event == "use").collect();
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0].message_id.as_deref(), Some("<m1@test>"));
    assert_eq!(uses[1].message_id.as_deref(), Some("<m2@test>"));
    assert!(uses[0].actor.contains("Jean Dupont"), "{}", uses[0].actor);
    assert_eq!(uses[0].slot, Some(session.slot()));
    let head = store.verify_audit().expect("verify");
    assert_eq!(head.entries, 3);
    // Someone else has no access.
    assert!(matches!(
        store.unlock(&p.other),
        Err(KeystoreError::NoAccess(_))
    ));
    // The file is its owner's only, and does not hold the key in clear.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let raw = std::fs::read(&path).expect("read");
    let pem = p.conf.to_pem().expect("pem");
    let key_line = pem.lines().nth(1).expect("a key line");
    assert!(
        !raw.windows(key_line.len())
            .any(|w| w == key_line.as_bytes())
    );
}

#[test]
fn degraded_mode_opens_with_the_recovery_secret_only() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, secret) = create(dir.path());
    let typed = secret.expose().to_lowercase();
    let session = store
        .unlock_with_recovery(&RecoverySecret::parse(&typed).expect("parse"))
        .expect("recovery unlock");
    assert_eq!(session.slot_kind(), SlotKind::Recovery);
    open_with(&session, p.conf.certificate(), "<degraded@test>");
    let ev = events(&store);
    assert_eq!(ev, ["create", "recovery-unlock", "recovery-use"]);
    // Another well-formed secret: refused, and nothing is recorded as a use.
    let wrong = RecoverySecret::generate().expect("secret");
    assert!(matches!(
        store.unlock_with_recovery(&wrong),
        Err(KeystoreError::WrongRecoverySecret)
    ));
    assert_eq!(
        events(&store),
        [
            "create",
            "recovery-unlock",
            "recovery-use",
            "recovery-failed"
        ]
    );
    // A typo is told apart from a wrong secret.
    let mut t: Vec<char> = secret.expose().chars().collect();
    t[0] = if t[0] == 'A' { 'B' } else { 'A' };
    assert!(matches!(
        RecoverySecret::parse(&t.into_iter().collect::<String>()),
        Err(KeystoreError::RecoverySecretMistyped(_))
    ));
    // The parameters stored in the slot are what unlocking uses.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let kdf: String = conn
        .query_row("SELECT kdf FROM slots WHERE kind = 'recovery'", [], |r| {
            r.get(0)
        })
        .expect("kdf");
    assert!(kdf.contains("\"memory_kib\":256"), "{kdf}");
    store.verify_audit().expect("verify");
}

#[test]
fn grant_accept_use_revoke() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (_path, mut store, _) = create(dir.path());
    let g = store
        .grant(&p.holder, p.delegate.certificate(), None, now() + 3600)
        .expect("grant");
    assert_eq!(g.status, GrantStatus::Pending);
    assert_eq!(g.slot, None);
    // A pending grant opens nothing.
    let err = store.unlock(&p.delegate).expect_err("pending");
    assert!(err.to_string().contains("pending"), "{err}");
    // Only the delegate it names can accept it.
    assert!(matches!(
        store.accept(&p.other),
        Err(KeystoreError::NoPendingGrant(_))
    ));
    let g = store.accept(&p.delegate).expect("accept");
    assert_eq!(g.status, GrantStatus::Active);
    let slot = g.slot.expect("slot");
    assert!(store.accept(&p.delegate).is_err(), "accepted twice");
    let session = store.unlock(&p.delegate).expect("delegate unlocks");
    assert_eq!(session.slot_kind(), SlotKind::Delegate);
    assert_eq!(session.slot(), slot);
    open_with(&session, p.conf.certificate(), "<for-the-locum@test>");
    let log = store.audit_log().expect("log");
    let last = log.last().expect("entry");
    assert_eq!(last.event, "use");
    assert!(last.actor.contains("Marie"), "{}", last.actor);
    assert_eq!(last.slot, Some(slot));
    // No re-delegation, no revocation by the delegate.
    assert!(matches!(
        store.grant(&p.delegate, p.other.certificate(), None, now() + 60),
        Err(KeystoreError::NoRedelegation)
    ));
    assert!(matches!(
        store.revoke(&p.delegate, p.delegate.certificate()),
        Err(KeystoreError::NotHolder(_))
    ));
    // Someone who is neither: not the holder either.
    assert!(matches!(
        store.grant(&p.other, p.other.certificate(), None, now() + 60),
        Err(KeystoreError::NotHolder(_))
    ));
    assert_eq!(
        store
            .revoke(&p.holder, p.delegate.certificate())
            .expect("revoke"),
        1
    );
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::DelegationRevoked)
    ));
    let list = store.delegations().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, GrantStatus::Revoked);
    assert_eq!(list[0].slot, None);
    let conn = rusqlite::Connection::open(store.path()).expect("sqlite");
    let slots: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM slots WHERE kind = 'delegate'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(slots, 0, "the revoked delegate's slot is destroyed");
    assert_eq!(
        events(&store),
        ["create", "grant", "accept", "use", "revoke"]
    );
    store.verify_audit().expect("verify");
    // A session opened before the revocation was the delegate's while active (see the
    // threat model); a new grant is possible after revocation.
    store
        .grant(&p.holder, p.delegate.certificate(), None, now() + 60)
        .expect("grant again");
}

#[test]
fn an_ended_delegation_opens_nothing_and_its_slot_is_destroyed() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, _) = create(dir.path());
    let start = now();
    // Bad dates are refused.
    assert!(
        store
            .grant(&p.holder, p.delegate.certificate(), None, start - 10)
            .is_err()
    );
    assert!(
        store
            .grant(
                &p.holder,
                p.delegate.certificate(),
                Some(start + 100),
                start + 50
            )
            .is_err()
    );
    store
        .grant(
            &p.holder,
            p.delegate.certificate(),
            Some(start + 600),
            start + 3600,
        )
        .expect("grant");
    store.accept(&p.delegate).expect("accept before the start");
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::DelegationNotYetValid(_))
    ));
    store
        .at_time(UNIX_EPOCH + Duration::from_secs((start + 1200) as u64))
        .expect("later");
    store.unlock(&p.delegate).expect("within the dates");
    // Past the end: the next opening of the store destroys the slot.
    let mut later = KeyStore::open(&path).expect("reopen");
    later
        .at_time(UNIX_EPOCH + Duration::from_secs((start + 3601) as u64))
        .expect("after the end");
    assert!(matches!(
        later.unlock(&p.delegate),
        Err(KeystoreError::DelegationExpired(_))
    ));
    let list = later.delegations().expect("list");
    assert_eq!(list[0].status, GrantStatus::Expired);
    assert_eq!(list[0].slot, None);
    assert_eq!(events(&later).last().map(String::as_str), Some("expiry"));
    later.verify_audit().expect("verify");
    // The holder is unaffected.
    later.unlock(&p.holder).expect("holder");
}

#[test]
fn tampered_grants_are_refused() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, _) = create(dir.path());
    store
        .grant(&p.holder, p.delegate.certificate(), None, now() + 3600)
        .expect("grant");
    // One byte of the signed grant changed: not accepted.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let signed: Vec<u8> = conn
        .query_row("SELECT signed FROM grants", [], |r| r.get(0))
        .expect("signed");
    let json_at = signed
        .windows(8)
        .position(|w| w == b"not_afte")
        .expect("payload in the SignedData");
    let mut bad = signed.clone();
    bad[json_at + 12] ^= 0x01;
    conn.execute("UPDATE grants SET signed = ?1", [&bad])
        .expect("tamper");
    assert!(matches!(
        store.accept(&p.delegate),
        Err(KeystoreError::InvalidGrant(_))
    ));
    conn.execute("UPDATE grants SET signed = ?1", [&signed])
        .expect("restore");
    store.accept(&p.delegate).expect("accept");
    store.unlock(&p.delegate).expect("unlock");
    // The end date extended in the table (not in the signed grant): refused.
    sql(&path, "UPDATE grants SET not_after = not_after + 86400");
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::InvalidGrant(_))
    ));
    sql(&path, "UPDATE grants SET not_after = not_after - 86400");
    store.unlock(&p.delegate).expect("restored");
    // A grant signed by someone else than the holder: refused.
    let forged = {
        let mut other = KeyStore::create(
            &dir.path().join("other.mss"),
            &p.other,
            NewKey::Import(Box::new(p.conf.clone())),
            KdfParams::insecure_for_tests(),
        )
        .expect("other store")
        .0;
        other
            .grant(&p.other, p.delegate.certificate(), None, now() + 3600)
            .expect("grant in the other store");
        let c = rusqlite::Connection::open(other.path()).expect("sqlite");
        c.query_row("SELECT signed FROM grants", [], |r| r.get::<_, Vec<u8>>(0))
            .expect("signed")
    };
    conn.execute("UPDATE grants SET signed = ?1", [&forged])
        .expect("swap");
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::InvalidGrant(_))
    ));
}

#[test]
fn a_tampered_audit_log_is_detected() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, _) = create(dir.path());
    let session = store.unlock(&p.holder).expect("unlock");
    for i in 0..3 {
        open_with(&session, p.conf.certificate(), &format!("<m{i}@test>"));
    }
    store.verify_audit().expect("intact");
    // An entry altered.
    sql(
        &path,
        "UPDATE audit SET message_id = '<other@test>' WHERE seq = 3",
    );
    match store.verify_audit() {
        Err(KeystoreError::AuditBroken { seq, .. }) => assert_eq!(seq, 3),
        other => panic!("{other:?}"),
    }
    sql(
        &path,
        "UPDATE audit SET message_id = '<m1@test>' WHERE seq = 3",
    );
    store.verify_audit().expect("restored");
    // An entry removed in the middle.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let row: AuditRow = conn
        .query_row("SELECT * FROM audit WHERE seq = 2", [], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .expect("row");
    sql(&path, "DELETE FROM audit WHERE seq = 2");
    assert!(matches!(
        store.verify_audit(),
        Err(KeystoreError::AuditBroken { seq: 2, .. })
    ));
    conn.execute(
        "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8
        ],
    )
    .expect("put back");
    store.verify_audit().expect("restored");
    // The last entries removed (the chain is still consistent, the head is not).
    sql(
        &path,
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
    );
    assert!(matches!(
        store.verify_audit(),
        Err(KeystoreError::AuditBroken { .. })
    ));
    // A time changed.
    sql(&path, "UPDATE audit SET time = time + 1 WHERE seq = 1");
    assert!(matches!(
        store.verify_audit(),
        Err(KeystoreError::AuditBroken { seq: 1, .. })
    ));
}

#[test]
fn a_tampered_store_is_detected() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (path, mut store, secret) = create(dir.path());
    store
        .grant(&p.holder, p.delegate.certificate(), None, now() + 3600)
        .expect("grant");
    store.accept(&p.delegate).expect("accept");
    // The encrypted key altered: no identity opens it.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM keys", [], |r| r.get(0))
        .expect("sealed");
    let mut bad = sealed.clone();
    bad[20] ^= 0x01;
    conn.execute("UPDATE keys SET sealed = ?1", [&bad])
        .expect("tamper");
    assert!(matches!(
        store.unlock(&p.holder),
        Err(KeystoreError::Tampered(_))
    ));
    assert!(matches!(
        store.unlock_with_recovery(&secret),
        Err(KeystoreError::Tampered(_))
    ));
    conn.execute("UPDATE keys SET sealed = ?1", [&sealed])
        .expect("restore");
    store.unlock(&p.holder).expect("restored");
    // The holder's certificate replaced in the header (to accept forged grants).
    let holder: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'holder_sign_cert'",
            [],
            |r| r.get(0),
        )
        .expect("holder");
    let other = {
        use der::Encode;
        p.other.certificate().to_der().expect("der")
    };
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'holder_sign_cert'",
        [&other],
    )
    .expect("swap holder");
    assert!(matches!(
        store.unlock(&p.holder),
        Err(KeystoreError::Tampered(_))
    ));
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::Tampered(_))
    ));
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'holder_sign_cert'",
        [&holder],
    )
    .expect("restore holder");
    store.unlock(&p.delegate).expect("restored");
    // A slot turned into another kind, or re-pointed at another grant: its MAC fails.
    sql(
        &path,
        "UPDATE slots SET kind = 'card' WHERE kind = 'delegate'",
    );
    assert!(matches!(
        store.unlock(&p.delegate),
        Err(KeystoreError::Tampered(_))
    ));
    sql(
        &path,
        "UPDATE slots SET kind = 'delegate' WHERE grant_id IS NOT NULL",
    );
    store.unlock(&p.delegate).expect("restored");
    // Not a key store at all.
    std::fs::write(dir.path().join("junk.mss"), b"not sqlite").expect("junk");
    assert!(KeyStore::open(&dir.path().join("junk.mss")).is_err());
    assert!(matches!(
        KeyStore::open(&dir.path().join("missing.mss")),
        Err(KeystoreError::NotAKeyStore(_))
    ));
}

#[test]
fn rekey_keeps_old_keys_and_delegates_and_replaces_the_recovery_secret() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let (_path, mut store, old_secret) = create(dir.path());
    store
        .grant(&p.holder, p.delegate.certificate(), None, now() + 3600)
        .expect("grant");
    store.accept(&p.delegate).expect("accept");
    store
        .grant(&p.holder, p.other.certificate(), None, now() + 3600)
        .expect("pending grant");
    let new_conf =
        p.ca.issue(&PersonProfile::new(
            "Dr Jean Dupont (2027)",
            "jean.dupont@test.mssante.invalid",
        ))
        .expect("new key");
    // Only the holder rekeys.
    assert!(
        store
            .rekey(
                &p.delegate,
                NewKey::Import(Box::new(new_conf.clone())),
                KdfParams::insecure_for_tests()
            )
            .is_err()
    );
    let rekeyed = store
        .rekey(
            &p.holder,
            NewKey::Import(Box::new(new_conf.clone())),
            KdfParams::insecure_for_tests(),
        )
        .expect("rekey");
    let session = store.unlock(&p.holder).expect("holder");
    assert_eq!(session.current_certificate(), Some(new_conf.certificate()));
    open_with(&session, new_conf.certificate(), "<new@test>");
    open_with(&session, p.conf.certificate(), "<old@test>");
    // The delegate keeps access; the pending grant can still be accepted.
    let ds = store.unlock(&p.delegate).expect("delegate");
    open_with(&ds, p.conf.certificate(), "<old-for-delegate@test>");
    store.accept(&p.other).expect("accept after rekey");
    // The old recovery secret no longer opens; the new one does.
    assert!(matches!(
        store.unlock_with_recovery(&old_secret),
        Err(KeystoreError::WrongRecoverySecret)
    ));
    store
        .unlock_with_recovery(&rekeyed.recovery)
        .expect("new recovery secret");
    assert!(events(&store).contains(&"rekey".to_string()));
    store.verify_audit().expect("verify");
}

#[test]
fn a_generated_key_waits_for_its_certificate() {
    let p = people();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("gen.mss");
    let (mut store, created) = KeyStore::create(
        &path,
        &p.holder,
        NewKey::Generate { bits: 2048 },
        KdfParams::insecure_for_tests(),
    )
    .expect("create");
    let csr = created.csr_pem.expect("a request");
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    assert!(matches!(
        store.unlock(&p.holder),
        Err(KeystoreError::CertificateMissing)
    ));
    // The CA (OpenSSL here) signs the request.
    std::fs::write(dir.path().join("req.pem"), &csr).expect("csr");
    std::fs::write(
        dir.path().join("ca.pem"),
        &*p.ca.identity_pem().expect("ca"),
    )
    .expect("ca");
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "x509",
            "-req",
            "-in",
            "req.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.pem",
            "-days",
            "30",
            "-out",
            "cert.pem",
            "-set_serial",
            "4242",
        ])
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert_pem = std::fs::read_to_string(dir.path().join("cert.pem")).expect("cert");
    // A certificate for another key is refused.
    let wrong =
        der::EncodePem::to_pem(p.other.certificate(), der::pem::LineEnding::LF).expect("pem");
    assert!(store.install_certificate(&p.holder, &wrong).is_err());
    assert!(store.install_certificate(&p.delegate, &cert_pem).is_err());
    store
        .install_certificate(&p.holder, &cert_pem)
        .expect("install");
    let session = store.unlock(&p.holder).expect("unlock");
    let cert = session.current_certificate().expect("cert").clone();
    assert_eq!(
        cert.tbs_certificate().subject(),
        p.holder.certificate().tbs_certificate().subject()
    );
    open_with(&session, &cert, "<gen@test>");
    store.verify_audit().expect("verify");
}
