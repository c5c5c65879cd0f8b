//! `mss lookup`, `mss store` and `mss encrypt --to-address` on the real binary, with a
//! real `slapd` (mss-directory's test support).

#[path = "../../../crates/mss-directory/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use der::{Encode, EncodePem};
use mss_token::KeyUsageProfile;

use support::pki::TestPki;
use support::slapd::{Ldif, SUFFIX, Slapd, free_port, write_file};

const DRAFT: &[u8] =
    b"From: sender@sante.fr\r\nTo: alice@sante.fr\r\nSubject: CR\r\n\r\nCompte rendu.\r\n";

fn mss(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mss"));
    cmd.args(args)
        .current_dir(dir)
        // The default store location must stay inside the test directory.
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn mss");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        if let Some(data) = stdin {
            input.write_all(data).expect("write stdin");
        }
    }
    child.wait_with_output().expect("mss output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn store_import_list_remove_and_encrypt_to_address() {
    let pki = TestPki::new("CLI Store CA");
    let sender = pki.identity("Sender", "sender@sante.fr", KeyUsageProfile::SignAndEncrypt);
    let alice = pki.identity("Alice", "alice@sante.fr", KeyUsageProfile::EncryptOnly);
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write_file(
        d,
        "alice.pem",
        alice
            .certificate()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    );
    write_file(d, "sender.pem", sender.to_pem().expect("pem").as_bytes());
    write_file(d, "alice-id.pem", alice.to_pem().expect("pem").as_bytes());
    write_file(
        d,
        "ca.pem",
        pki.root()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    );
    write_file(d, "crl.der", &pki.crl(1, &[], None));
    write_file(d, "draft.eml", DRAFT);

    // Default location: $XDG_DATA_HOME/mss/store.sqlite.
    let out = mss(d, &["store", "import", "alice.pem"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("alice@sante.fr"));
    assert!(d.join("xdg/mss/store.sqlite").exists());
    let out = mss(d, &["store", "import", "--crl", "crl.der"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mss(d, &["store", "list"], None);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("1 certificate(s)") && listed.contains("1 CRL(s)"),
        "{listed}"
    );
    assert!(
        listed.contains("imported: alice@sante.fr (local)"),
        "{listed}"
    );

    // Encrypt by address from the store, open as Alice.
    let out = mss(
        d,
        &[
            "encrypt",
            "--to-address",
            "alice@sante.fr",
            "--sign-with",
            "sender.pem",
            "--in",
            "draft.eml",
            "--out",
            "sealed.eml",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mss(
        d,
        &[
            "open",
            "--identity",
            "alice-id.pem",
            "--trust",
            "ca.pem",
            "--in",
            "sealed.eml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Compte rendu."));

    // Remove, then the address is missing: exit 18, nothing written.
    let out = mss(d, &["store", "remove", "alice@sante.fr"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mss(
        d,
        &[
            "encrypt",
            "--to-address",
            "alice@sante.fr",
            "--to-address",
            "bob@sante.fr",
            "--sign-with",
            "sender.pem",
            "--in",
            "draft.eml",
            "--out",
            "again.eml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("no certificate for alice@sante.fr, bob@sante.fr"),
        "{err}"
    );
    assert!(err.contains("mss store import"), "guidance: {err}");
    assert!(!d.join("again.eml").exists(), "nothing is produced");

    // Neither --to nor --to-address: usage.
    let out = mss(
        d,
        &["encrypt", "--sign-with", "sender.pem", "--in", "draft.eml"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lookup_and_encrypt_through_ldap() {
    let pki = TestPki::new("CLI LDAP CA");
    let sender = pki.identity("Sender", "sender@sante.fr", KeyUsageProfile::SignAndEncrypt);
    let alice = pki.identity("Alice", "alice@sante.fr", KeyUsageProfile::EncryptOnly);
    let alice_sig = pki.person("Alice", "alice@sante.fr", KeyUsageProfile::SignOnly, 365);
    let bob = pki.identity("Bob", "bob@sante.fr", KeyUsageProfile::SignAndEncrypt);
    let mut ldif = Ldif::new();
    ldif.person(
        "Alice",
        "alice@sante.fr",
        &[
            alice_sig.to_der().expect("der"),
            alice.certificate().to_der().expect("der"),
        ],
        None,
    );
    let mut server = Slapd::start(ldif.text(), None);
    let url = server.url();
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write_file(d, "sender.pem", sender.to_pem().expect("pem").as_bytes());
    write_file(
        d,
        "bob.pem",
        bob.certificate()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    );
    write_file(d, "alice-id.pem", alice.to_pem().expect("pem").as_bytes());
    write_file(d, "bob-id.pem", bob.to_pem().expect("pem").as_bytes());
    write_file(
        d,
        "ca.pem",
        pki.root()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    );

    let out = mss(
        d,
        &[
            "lookup",
            "--ldap",
            &url,
            "--ldap-base",
            SUFFIX,
            "alice@sante.fr",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("alice@sante.fr: 2 certificate(s)"),
        "{shown}"
    );
    assert!(shown.contains("encryption (chosen)"), "{shown}");
    assert!(
        shown.contains("not for encryption to this address"),
        "{shown}"
    );
    assert!(
        shown.contains(&mss::directory::fingerprint(alice.certificate())),
        "{shown}"
    );
    assert!(
        shown.contains("keyEncipherment") && shown.contains("CN=CLI LDAP CA"),
        "{shown}"
    );
    let out = mss(
        d,
        &[
            "lookup",
            "--ldap",
            &url,
            "--ldap-base",
            SUFFIX,
            "nobody@sante.fr",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(18));

    // Mixed: Alice from LDAP, Bob from a file. The answer is cached with no lifetime
    // (--cache-ttl 0): every later send asks the directory first.
    let out = mss(
        d,
        &[
            "encrypt",
            "--to-address",
            "alice@sante.fr",
            "--to",
            "bob.pem",
            "--ldap",
            &url,
            "--ldap-base",
            SUFFIX,
            "--store",
            "s.sqlite",
            "--cache-ttl",
            "0",
            "--sign-with",
            "sender.pem",
            "--out",
            "sealed.eml",
        ],
        Some(DRAFT),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for id in ["alice-id.pem", "bob-id.pem"] {
        let out = mss(
            d,
            &[
                "open",
                "--identity",
                id,
                "--trust",
                "ca.pem",
                "--in",
                "sealed.eml",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{id}: {}", text(&out.stderr));
    }

    // Directory down: the cached answer (from the send above) serves, with a warning
    // saying the directory is unreachable; an address never cached is "directory
    // unreachable" (exit 17), not missing.
    server.stop();
    let out = mss(
        d,
        &[
            "encrypt",
            "--to-address",
            "alice@sante.fr",
            "--ldap",
            &url,
            "--ldap-base",
            SUFFIX,
            "--store",
            "s.sqlite",
            "--sign-with",
            "sender.pem",
            "--out",
            "cached.eml",
        ],
        Some(DRAFT),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: directory-unreachable: alice@sante.fr"),
        "{err}"
    );
    let out = mss(
        d,
        &[
            "open",
            "--identity",
            "alice-id.pem",
            "--trust",
            "ca.pem",
            "--in",
            "cached.eml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = mss(
        d,
        &[
            "encrypt",
            "--to-address",
            "carol@sante.fr",
            "--ldap",
            &url,
            "--ldap-base",
            SUFFIX,
            "--store",
            "s.sqlite",
            "--sign-with",
            "sender.pem",
            "--out",
            "none.eml",
        ],
        Some(DRAFT),
    );
    assert_eq!(out.status.code(), Some(17), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("directory unreachable") && err.contains("carol@sante.fr"),
        "{err}"
    );
    assert!(!d.join("none.eml").exists());

    // --ldap without --ldap-base is a usage error; a closed port is unreachable.
    let out = mss(d, &["lookup", "--ldap", &url, "alice@sante.fr"], None);
    assert_eq!(out.status.code(), Some(2));
    let closed = format!("ldap://127.0.0.1:{}", free_port());
    let out = mss(
        d,
        &[
            "lookup",
            "--ldap",
            &closed,
            "--ldap-base",
            SUFFIX,
            "alice@sante.fr",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(17), "{}", text(&out.stdout));
}

/// `mss open --ldap` (and its alias `mss verify`): the CRL at the signer's `ldap://`
/// distribution point is fetched from the directory and a revoked signer exits 11;
/// without --ldap nothing is fetched (revocation off) and the same message exits 0;
/// a server that is down fails hard (exit 11), never "not revoked".
#[test]
fn open_fetches_crls_from_ldap_distribution_points() {
    let pki = TestPki::new("CLI LDAP CRL CA");
    let port = free_port();
    let dp = format!(
        "ldap://127.0.0.1:{port}/cn=CLI%20CA,ou=ac,o=gip-cps,c=fr?certificateRevocationList;binary?base?objectClass=pkiCA"
    );
    let revoked = pki.signer_identity_with_dp("Dr Revoked", "sender@sante.fr", &dp);
    let good = pki.signer_identity_with_dp("Dr Good", "sender@sante.fr", &dp);
    let crl = pki.crl(3, &[revoked.certificate()], None);
    let arl = pki.crl(3, &[], None);
    let mut ldif = Ldif::new();
    ldif.ca("CLI CA", &pki.root_der(), &crl, &arl, None);
    let mut server = Slapd::start_on(port, ldif.text(), None);

    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write_file(d, "draft.eml", DRAFT);
    write_file(
        d,
        "ca.pem",
        pki.root()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    );
    for (name, id) in [("revoked", &revoked), ("good", &good)] {
        write_file(
            d,
            &format!("{name}.pem"),
            id.to_pem().expect("pem").as_bytes(),
        );
        let out = mss(
            d,
            &[
                "sign",
                "--identity",
                &format!("{name}.pem"),
                "--in",
                "draft.eml",
                "--out",
                &format!("{name}.eml"),
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let url = server.url();
    let open = |verb: &str, file: &str, ldap: bool| {
        let mut args = vec![
            verb,
            "--trust",
            "ca.pem",
            "--in",
            file,
            "--out",
            "clear.eml",
        ];
        if ldap {
            args.extend(["--ldap", &url, "--ldap-base", SUFFIX]);
        }
        mss(d, &args, None)
    };

    let out = open("open", "revoked.eml", true);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("revoked"), "{all}");
    let out = open("verify", "revoked.eml", true);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    let out = open("open", "good.eml", true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Without --ldap, revocation is off: the revoked signer is not caught.
    let out = open("open", "revoked.eml", false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Directory down: the status cannot be had, hard fail.
    server.stop();
    let out = open("open", "good.eml", true);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
}
