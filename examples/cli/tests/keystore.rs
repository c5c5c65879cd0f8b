//! `mss keystore …`, `mss delegate …`, `mss open --keystore` and `mss sign --keystore`
//! on the real binary: with software identities (PEM files from the test CA of
//! mss-token) and with two SoftHSM2 cards laid out like CPS3 cards (the fixture of
//! mss-token's PKCS#11 tests, shared by path). Missing SoftHSM2 / OpenSC / OpenSSL
//! fail the tests with an install hint; nothing is skipped.
#![forbid(unsafe_code)]

#[path = "../../../crates/mss-token/tests/pkcs11_support/mod.rs"]
mod pkcs11_support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use mss_token::{CertificateAuthority, PersonProfile, SoftwareIdentity};
use pkcs11_support::{DELEGATE_TOKEN, Fixture, PIN, TOKEN};

const PIN_VAR: &str = "MSS_KS_TEST_PIN";
const SECRET_VAR: &str = "MSS_KS_TEST_RECOVERY";
/// The cheap Argon2id parameters of the test stores (stored in the recovery slot).
const CHEAP_KDF: [&str; 4] = ["--kdf-memory-kib", "256", "--kdf-passes", "1"];

fn draft(mid: &str) -> String {
    format!(
        "From: Dr Alice Martin <alice@test.mssante.invalid>\r\n\
         To: Dr Jean Dupont <jean.dupont@test.mssante.invalid>\r\n\
         Subject: Compte rendu\r\n\
         Message-ID: {mid}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         Tension arterielle 12/8, traitement inchange.\r\n"
    )
}

/// Software identities written as PEM files once per test binary.
struct People {
    ca: CertificateAuthority,
    ids: Vec<(&'static str, SoftwareIdentity)>,
}

fn people() -> &'static People {
    static P: OnceLock<People> = OnceLock::new();
    P.get_or_init(|| {
        let ca = CertificateAuthority::new("Keystore CLI CA", 2048).expect("CA");
        let mut ids = Vec::new();
        for (name, cn, mail) in [
            (
                "holder",
                "Dr Jean Dupont",
                "jean.dupont@test.mssante.invalid",
            ),
            (
                "conf",
                "Dr Jean Dupont (confidentialite)",
                "jean.dupont@test.mssante.invalid",
            ),
            (
                "conf2",
                "Dr Jean Dupont (2027)",
                "jean.dupont@test.mssante.invalid",
            ),
            (
                "delegate",
                "Dr Marie Remplacante",
                "marie@test.mssante.invalid",
            ),
            ("other", "Dr Paul Autre", "paul@test.mssante.invalid"),
            ("alice", "Dr Alice Martin", "alice@test.mssante.invalid"),
        ] {
            ids.push((
                name,
                ca.issue(&PersonProfile::new(cn, mail)).expect("issue"),
            ));
        }
        People { ca, ids }
    })
}

/// Write every identity (`NAME.pem`: key and certificate; `NAME.crt`: certificate) and
/// the CA certificate into `dir`.
fn lay_out(dir: &Path) {
    let p = people();
    for (name, id) in &p.ids {
        std::fs::write(dir.join(format!("{name}.pem")), &*id.to_pem().expect("pem"))
            .expect("write");
        let cert = der::EncodePem::to_pem(id.certificate(), der::pem::LineEnding::LF).expect("pem");
        std::fs::write(dir.join(format!("{name}.crt")), cert).expect("write");
    }
    let ca = der::EncodePem::to_pem(p.ca.certificate(), der::pem::LineEnding::LF).expect("pem");
    std::fs::write(dir.join("ca.crt"), ca).expect("write");
}

fn mss(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mss"));
    cmd.current_dir(dir)
        .args(args)
        .env(PIN_VAR, "")
        .env_remove("MSS_PKCS11_MODULE")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run mss")
}

fn expect(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Alice signs and encrypts a draft with `mid` to `to` (a certificate file).
fn send(dir: &Path, to: &str, mid: &str, file: &str) {
    std::fs::write(dir.join("draft.eml"), draft(mid)).expect("draft");
    let out = mss(
        dir,
        &[],
        &[
            "encrypt",
            "--to",
            to,
            "--sign-with",
            "alice.pem",
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            file,
        ],
    );
    expect(&out, 0, "encrypt");
}

fn open_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "open",
        "--keystore",
        "store.mss",
        "--trust",
        "ca.crt",
        "--in",
        file,
        "--out",
        "clear.eml",
    ];
    v.extend_from_slice(extra);
    v
}

/// `mss delegate VERB --keystore store.mss --identity IDENTITY --pin-env PIN_VAR REST…`
/// with a software identity (a PEM file in `dir`).
fn delegate(dir: &Path, verb: &str, identity: &str, rest: &[&str]) -> Output {
    let mut args = vec![
        "delegate",
        verb,
        "--keystore",
        "store.mss",
        "--identity",
        identity,
        "--pin-env",
        PIN_VAR,
    ];
    args.extend_from_slice(rest);
    mss(dir, &[], &args)
}

fn audit(dir: &Path) -> String {
    let out = mss(
        dir,
        &[],
        &["keystore", "audit", "--keystore", "store.mss", "--verify"],
    );
    expect(&out, 0, "audit --verify");
    assert!(
        stderr(&out).contains("audit log verified"),
        "{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn recovery(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .expect("recovery file")
        .trim()
        .to_owned()
}

#[test]
fn software_identities_create_open_degraded_delegate_revoke_rekey() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    lay_out(d);
    let mut create = vec![
        "keystore",
        "create",
        "--keystore",
        "store.mss",
        "--identity",
        "holder.pem",
        "--pin-env",
        PIN_VAR,
        "--import-key",
        "conf.pem",
        "--import-password-env",
        PIN_VAR,
        "--recovery-out",
        "recovery.txt",
    ];
    create.extend_from_slice(&CHEAP_KDF);
    expect(&mss(d, &[], &create), 0, "keystore create");
    // The recovery file is private, and never overwritten.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("recovery.txt"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let again = mss(d, &[], &create);
    assert_ne!(again.status.code(), Some(0), "create twice");
    let secret = recovery(d, "recovery.txt");
    assert_eq!(secret.len(), 39, "{secret}");

    // The holder opens a message encrypted to the confidentiality certificate.
    send(d, "conf.crt", "<msg-1@test.mssante.invalid>", "m1.eml");
    let out = mss(
        d,
        &[],
        &open_args(
            "m1.eml",
            &["--identity", "holder.pem", "--pin-env", PIN_VAR],
        ),
    );
    expect(&out, 0, "holder opens");
    assert!(
        std::fs::read_to_string(d.join("clear.eml"))
            .expect("clear")
            .contains("Tension")
    );
    // Without the key store, the holder's own key does not open it.
    let out = mss(
        d,
        &[],
        &[
            "open",
            "--identity",
            "holder.pem",
            "--pin-env",
            PIN_VAR,
            "--trust",
            "ca.crt",
            "--in",
            "m1.eml",
        ],
    );
    expect(&out, 12, "holder without the key store");

    // Degraded mode: the recovery secret opens, signatures are still verified…
    let out = mss(
        d,
        &[(SECRET_VAR, &secret.to_lowercase())],
        &open_args(
            "m1.eml",
            &["--recovery-env", SECRET_VAR, "--report-json", "r.json"],
        ),
    );
    expect(&out, 0, "degraded open");
    assert!(stderr(&out).contains("degraded mode"), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).expect("report")).expect("json");
    assert_eq!(report["signatures"][0]["status"], "valid", "{report}");
    // …but signing is refused: it needs the card.
    let out = mss(
        d,
        &[(SECRET_VAR, &secret)],
        &[
            "sign",
            "--keystore",
            "store.mss",
            "--recovery-env",
            SECRET_VAR,
            "--in",
            "draft.eml",
        ],
    );
    expect(&out, 16, "sign in degraded mode");
    assert!(
        stderr(&out).contains("signing needs the card"),
        "{}",
        stderr(&out)
    );
    // A wrong secret (well formed) and a mistyped one.
    let wrong = "0000-0000-0000-0000-0000-0000-0000-0000";
    let out = mss(
        d,
        &[(SECRET_VAR, wrong)],
        &open_args("m1.eml", &["--recovery-env", SECRET_VAR]),
    );
    expect(&out, 12, "wrong recovery secret");
    assert!(
        stderr(&out).contains("wrong recovery secret"),
        "{}",
        stderr(&out)
    );
    let mut typo: Vec<char> = secret.chars().collect();
    typo[1] = if typo[1] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let out = mss(
        d,
        &[(SECRET_VAR, &typo)],
        &open_args("m1.eml", &["--recovery-env", SECRET_VAR]),
    );
    expect(&out, 2, "mistyped recovery secret");
    assert!(stderr(&out).contains("mistyped"), "{}", stderr(&out));

    // Delegation: grant, pending is unusable, wrong delegate, accept, open, no
    // re-delegation, revoke.
    let out = delegate(
        d,
        "grant",
        "holder.pem",
        &[
            "--to",
            "delegate.crt",
            "--until",
            "2030-01-01T00:00:00Z",
            "--from",
            "2020-01-01T00:00:00+01:00",
        ],
    );
    expect(&out, 0, "grant");
    let out = mss(d, &[], &["delegate", "list", "--keystore", "store.mss"]);
    expect(&out, 0, "list");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("pending") && listed.contains("Marie"),
        "{listed}"
    );
    let delegate_open = open_args(
        "m1.eml",
        &["--identity", "delegate.pem", "--pin-env", PIN_VAR],
    );
    let out = mss(d, &[], &delegate_open);
    expect(&out, 12, "pending grant");
    assert!(stderr(&out).contains("pending"), "{}", stderr(&out));
    let out = delegate(d, "accept", "other.pem", &[]);
    expect(&out, 1, "wrong delegate accepts");
    assert!(
        stderr(&out).contains("no pending grant"),
        "{}",
        stderr(&out)
    );
    let out = delegate(d, "accept", "delegate.pem", &[]);
    expect(&out, 0, "accept");
    send(d, "conf.crt", "<msg-2@test.mssante.invalid>", "m2.eml");
    let out = mss(
        d,
        &[],
        &open_args(
            "m2.eml",
            &["--identity", "delegate.pem", "--pin-env", PIN_VAR],
        ),
    );
    expect(&out, 0, "delegate opens");
    let out = delegate(
        d,
        "grant",
        "delegate.pem",
        &["--to", "other.crt", "--until", "2030-01-01T00:00:00Z"],
    );
    expect(&out, 1, "re-delegation");
    assert!(stderr(&out).contains("cannot delegate"), "{}", stderr(&out));
    let out = delegate(
        d,
        "grant",
        "holder.pem",
        &["--to", "other.crt", "--until", "2001-01-01T00:00:00Z"],
    );
    expect(&out, 1, "a delegation ending in the past");
    let out = delegate(
        d,
        "grant",
        "holder.pem",
        &["--to", "other.crt", "--until", "next week"],
    );
    expect(&out, 2, "not a date");
    let out = delegate(d, "revoke", "holder.pem", &["--delegate", "delegate.crt"]);
    expect(&out, 0, "revoke");
    let out = mss(d, &[], &delegate_open);
    expect(&out, 12, "revoked delegate");
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));

    // The audit log: who, which slot, which Message-ID.
    let log = audit(d);
    for needle in [
        "create by",
        "use by CN=Dr Jean Dupont",
        "message <msg-1@test.mssante.invalid>",
        "recovery-unlock",
        "recovery-use",
        "grant by",
        "accept by CN=Dr Marie Remplacante",
        "use by CN=Dr Marie Remplacante",
        "message <msg-2@test.mssante.invalid>",
        "revoke by",
    ] {
        assert!(log.contains(needle), "{needle} not in\n{log}");
    }
    let out = mss(
        d,
        &[],
        &["keystore", "audit", "--keystore", "store.mss", "--json"],
    );
    expect(&out, 0, "audit --json");
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        entries.as_array().is_some_and(|a| a.len() >= 8),
        "{entries}"
    );

    // Rekey: new key; old mail still opens, new mail too; a new recovery secret.
    let mut rekey = vec![
        "keystore",
        "rekey",
        "--keystore",
        "store.mss",
        "--identity",
        "holder.pem",
        "--pin-env",
        PIN_VAR,
        "--import-key",
        "conf2.pem",
        "--import-password-env",
        PIN_VAR,
        "--recovery-out",
        "recovery2.txt",
    ];
    rekey.extend_from_slice(&CHEAP_KDF);
    expect(&mss(d, &[], &rekey), 0, "rekey");
    send(d, "conf2.crt", "<msg-3@test.mssante.invalid>", "m3.eml");
    let holder_open = |f| open_args(f, &["--identity", "holder.pem", "--pin-env", PIN_VAR]);
    expect(
        &mss(d, &[], &holder_open("m1.eml")),
        0,
        "old mail after rekey",
    );
    expect(
        &mss(d, &[], &holder_open("m3.eml")),
        0,
        "new mail after rekey",
    );
    let out = mss(
        d,
        &[(SECRET_VAR, &secret)],
        &open_args("m1.eml", &["--recovery-env", SECRET_VAR]),
    );
    expect(&out, 12, "the old recovery secret after rekey");
    let secret2 = recovery(d, "recovery2.txt");
    let out = mss(
        d,
        &[(SECRET_VAR, &secret2)],
        &open_args("m3.eml", &["--recovery-env", SECRET_VAR]),
    );
    expect(&out, 0, "the new recovery secret");
    assert!(audit(d).contains("rekey by"));

    // Tampering with the audit log is detected.
    let conn = rusqlite::Connection::open(d.join("store.mss")).expect("sqlite");
    conn.execute(
        "UPDATE audit SET message_id = '<forged@test>' WHERE message_id = '<msg-2@test.mssante.invalid>'",
        [],
    )
    .expect("tamper");
    let out = mss(
        d,
        &[],
        &["keystore", "audit", "--keystore", "store.mss", "--verify"],
    );
    expect(&out, 1, "tampered audit log");
    assert!(
        stderr(&out).contains("audit log broken"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_generated_key_gets_its_certificate_from_the_ca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    lay_out(d);
    // The production Argon2id parameters (the default), stored in the recovery slot.
    let create = [
        "keystore",
        "create",
        "--keystore",
        "store.mss",
        "--identity",
        "holder.pem",
        "--pin-env",
        PIN_VAR,
        "--generate",
        "--csr-out",
        "req.pem",
        "--recovery-out",
        "recovery.txt",
    ];
    let out = mss(d, &[], &create);
    expect(&out, 0, "create --generate");
    let kdf: String = rusqlite::Connection::open(d.join("store.mss"))
        .expect("sqlite")
        .query_row("SELECT kdf FROM slots WHERE kind = 'recovery'", [], |r| {
            r.get(0)
        })
        .expect("kdf");
    assert_eq!(kdf, r#"{"memory_kib":65536,"passes":3,"lanes":1}"#);
    // Before the certificate: nothing to open with.
    send(d, "conf.crt", "<early@test>", "early.eml");
    expect(
        &mss(
            d,
            &[],
            &open_args(
                "early.eml",
                &["--identity", "holder.pem", "--pin-env", PIN_VAR],
            ),
        ),
        12,
        "no certificate yet",
    );
    std::fs::write(d.join("ca.pem"), &*people().ca.identity_pem().expect("ca")).expect("ca");
    let signed = Command::new("openssl")
        .current_dir(d)
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
            "new.crt",
            "-set_serial",
            "777",
        ])
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let out = mss(
        d,
        &[],
        &[
            "keystore",
            "install-cert",
            "--keystore",
            "store.mss",
            "--identity",
            "holder.pem",
            "--pin-env",
            PIN_VAR,
            "--cert",
            "new.crt",
        ],
    );
    expect(&out, 0, "install-cert");
    send(d, "new.crt", "<gen@test>", "gen.eml");
    expect(
        &mss(
            d,
            &[],
            &open_args(
                "gen.eml",
                &["--identity", "holder.pem", "--pin-env", PIN_VAR],
            ),
        ),
        0,
        "open with the generated key",
    );
}

#[test]
fn two_cards_holder_and_delegate() {
    let fx = Fixture::get();
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    lay_out(d);
    let module = fx.module.display().to_string();
    let holder = format!("pkcs11:token={}", TOKEN.replace(' ', "%20"));
    let delegate = format!("pkcs11:token={}", DELEGATE_TOKEN.replace(' ', "%20"));
    let aut2 = fx.file("aut2.pem").display().to_string();
    let card = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mss"));
        cmd.current_dir(d)
            .args(args)
            .env("SOFTHSM2_CONF", fx.conf())
            .env(PIN_VAR, PIN)
            .env("MSS_PKCS11_MODULE", &module)
            .stdin(std::process::Stdio::null());
        cmd.output().expect("run mss")
    };
    let mut create = vec![
        "keystore",
        "create",
        "--keystore",
        "store.mss",
        "--identity",
        &holder,
        "--pin-env",
        PIN_VAR,
        "--import-key",
        "conf.pem",
        "--recovery-out",
        "recovery.txt",
    ];
    create.extend_from_slice(&CHEAP_KDF);
    expect(&card(&create), 0, "create with the holder's card");
    send(d, "conf.crt", "<card-1@test>", "m1.eml");
    let holder_open = open_args("m1.eml", &["--identity", &holder, "--pin-env", PIN_VAR]);
    expect(&card(&holder_open), 0, "the holder's card opens");
    // A wrong PIN opens nothing (and tells).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mss"));
    let wrong = cmd
        .current_dir(d)
        .args(&holder_open)
        .env("SOFTHSM2_CONF", fx.conf())
        .env(PIN_VAR, "0000")
        .env("MSS_PKCS11_MODULE", &module)
        .output()
        .expect("run");
    assert_ne!(wrong.status.code(), Some(0));
    let grant = [
        "delegate",
        "grant",
        "--keystore",
        "store.mss",
        "--identity",
        &holder,
        "--pin-env",
        PIN_VAR,
        "--to",
        &aut2,
        "--until",
        "2030-01-01T00:00:00Z",
    ];
    expect(&card(&grant), 0, "grant with the holder's card");
    let delegate_open = open_args("m1.eml", &["--identity", &delegate, "--pin-env", PIN_VAR]);
    expect(&card(&delegate_open), 12, "pending");
    let accept = [
        "delegate",
        "accept",
        "--keystore",
        "store.mss",
        "--identity",
        &delegate,
        "--pin-env",
        PIN_VAR,
    ];
    expect(&card(&accept), 0, "accept with the delegate's card");
    expect(&card(&delegate_open), 0, "the delegate's card opens");
    let redelegate = [
        "delegate",
        "grant",
        "--keystore",
        "store.mss",
        "--identity",
        &delegate,
        "--pin-env",
        PIN_VAR,
        "--to",
        "other.crt",
        "--until",
        "2030-01-01T00:00:00Z",
    ];
    expect(&card(&redelegate), 1, "no re-delegation");
    let revoke = [
        "delegate",
        "revoke",
        "--keystore",
        "store.mss",
        "--identity",
        &holder,
        "--pin-env",
        PIN_VAR,
        "--delegate",
        &aut2,
    ];
    expect(&card(&revoke), 0, "revoke");
    expect(&card(&delegate_open), 12, "revoked");
    expect(&card(&holder_open), 0, "the holder still opens");
    let log = audit(d);
    let accept_line = log
        .lines()
        .find(|l| l.contains(" accept by "))
        .unwrap_or_else(|| panic!("no accept entry in\n{log}"));
    assert!(accept_line.contains("CN=810009876543"), "{log}");
    assert!(log.contains("message <card-1@test>"), "{log}");
}
