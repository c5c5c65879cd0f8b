//! Crash safety: a child process (this test binary, running the ignored
//! `writer_child` test) changes the store in a loop — grant, accept, use, revoke,
//! rekey — and is killed with SIGKILL at random moments, many times. After each kill
//! the store must open, its audit log must verify, and its tables must agree with
//! each other and with the log: the previous or the next state, never a mix.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mss_keystore::{GrantStatus, KdfParams, KeyStore, NewKey};
use mss_token::{CertificateAuthority, FixedPin, PersonProfile, SoftwareIdentity};

const CHILD_DIR: &str = "MSS_KEYSTORE_CRASH_DIR";
const KILLS: usize = 30;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn load(dir: &Path, name: &str) -> SoftwareIdentity {
    SoftwareIdentity::load(&dir.join(name), &FixedPin::new("")).expect("identity")
}

/// The writer: runs until killed.
#[test]
#[ignore = "child process of kill_during_write_leaves_a_consistent_store"]
fn writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let holder = load(dir, "holder.pem");
    let delegate = load(dir, "delegate.pem");
    let conf = load(dir, "conf.pem");
    let path = dir.join("store.mss");
    let mut store = KeyStore::open(&path).expect("open");
    let (cek, enc) = {
        let cek = [7u8; 32];
        let enc = mss_algs::rsa::encrypt_key(
            conf.certificate()
                .tbs_certificate()
                .subject_public_key_info(),
            &mss_algs::rsa::KeyTransport::RsaPkcs1v15,
            &cek,
        )
        .expect("encrypt");
        (cek, enc)
    };
    let mut round = 0u64;
    loop {
        round += 1;
        // Whatever state the last kill left: bring it back to "no delegation".
        if store
            .delegations()
            .expect("list")
            .iter()
            .any(|g| matches!(g.status, GrantStatus::Pending | GrantStatus::Active))
        {
            store
                .revoke(&holder, delegate.certificate())
                .expect("revoke");
        }
        store
            .grant(&holder, delegate.certificate(), None, now() + 3600)
            .expect("grant");
        store.accept(&delegate).expect("accept");
        let session = store.unlock(&delegate).expect("unlock");
        session.set_message_id(Some(&format!("<round-{round}@crash.test>")));
        let key = session.decryption_keys()[0];
        let got = key
            .decrypt_key(&mss_algs::rsa::KeyTransport::RsaPkcs1v15, &enc, Some(32))
            .expect("use");
        assert_eq!(&got[..], &cek[..]);
        store
            .revoke(&holder, delegate.certificate())
            .expect("revoke");
        if round.is_multiple_of(3) {
            store
                .rekey(
                    &holder,
                    NewKey::Import(Box::new(conf.clone())),
                    KdfParams::insecure_for_tests(),
                )
                .expect("rekey");
        }
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    u64::from_le_bytes(b) % n
}

fn count(conn: &rusqlite::Connection, q: &str) -> i64 {
    conn.query_row(q, [], |r| r.get(0)).expect(q)
}

/// The store after a kill: opens, audit verifies, tables agree with the log.
fn check(path: &Path, holder: &SoftwareIdentity, kill: usize) {
    let mut store = KeyStore::open(path).unwrap_or_else(|e| panic!("kill {kill}: open: {e}"));
    let head = store
        .verify_audit()
        .unwrap_or_else(|e| panic!("kill {kill}: audit: {e}"));
    store
        .unlock(holder)
        .unwrap_or_else(|e| panic!("kill {kill}: holder unlock: {e}"));
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    let ev = |name: &str| {
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM audit WHERE event = '{name}'"),
        )
    };
    let grants = count(&conn, "SELECT COUNT(*) FROM grants");
    let accepted = count(
        &conn,
        "SELECT COUNT(*) FROM grants WHERE acceptance IS NOT NULL",
    );
    let revoked = count(
        &conn,
        "SELECT COUNT(*) FROM grants WHERE status = 'revoked'",
    );
    let keys = count(&conn, "SELECT COUNT(*) FROM keys");
    assert_eq!(ev("grant"), grants, "kill {kill}: grants vs log");
    assert_eq!(ev("accept"), accepted, "kill {kill}: acceptances vs log");
    assert_eq!(ev("revoke"), revoked, "kill {kill}: revocations vs log");
    assert_eq!(ev("rekey"), keys - 1, "kill {kill}: keys vs log");
    // Active ⇔ a slot; pending ⇔ wrapped keys waiting; ended ⇒ neither.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM grants WHERE status = 'active'"),
        count(&conn, "SELECT COUNT(*) FROM slots WHERE kind = 'delegate'"),
        "kill {kill}: active grants vs delegate slots"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM grants g WHERE status = 'active' AND \
             (SELECT COUNT(*) FROM slots s WHERE s.grant_id = g.id) != 1"
        ),
        0,
        "kill {kill}"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM grants WHERE (status = 'pending') != (pending_wraps IS NOT NULL)"
        ),
        0,
        "kill {kill}: pending wraps"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM slots WHERE kind IN ('card', 'recovery')"
        ),
        2,
        "kill {kill}: card and recovery slots"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM audit"), head.entries);
}

#[test]
fn kill_during_write_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let ca = CertificateAuthority::new("Crash CA", 2048).expect("CA");
    let issue = |cn: &str| {
        ca.issue(&PersonProfile::new(cn, "x@crash.test"))
            .expect("issue")
    };
    let holder = issue("Holder");
    for (name, id) in [
        ("holder.pem", &holder),
        ("delegate.pem", &issue("Delegate")),
        ("conf.pem", &issue("Confidentiality")),
    ] {
        std::fs::write(d.join(name), &*id.to_pem().expect("pem")).expect("write");
    }
    let path = d.join("store.mss");
    KeyStore::create(
        &path,
        &holder,
        NewKey::Import(Box::new(load(d, "conf.pem"))),
        KdfParams::insecure_for_tests(),
    )
    .expect("create");
    let exe = std::env::current_exe().expect("test binary");
    let entries = || {
        count(
            &rusqlite::Connection::open(&path).expect("sqlite"),
            "SELECT COUNT(*) FROM audit",
        )
    };
    for kill in 0..KILLS {
        let before = entries();
        let mut child = Command::new(&exe)
            .args([
                "writer_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, d)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the writer");
        // Wait until the writer is writing (its first change is committed), then let it
        // go on for a random while: the kill lands anywhere in its loop of changes.
        let started = Instant::now();
        while entries() == before {
            if let Some(status) = child.try_wait().expect("poll") {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("the writer stopped by itself ({status}):\n{err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the writer made no change in two minutes"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(random_below(200)));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        check(&path, &holder, kill);
    }
}
