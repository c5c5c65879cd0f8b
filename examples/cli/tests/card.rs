//! The CLI with a card: a SoftHSM2 token laid out like a CPS3 card (the fixture of
//! mss-token's PKCS#11 tests, shared by path), named by a `pkcs11:` URI. Missing
//! SoftHSM2 / OpenSC / OpenSSL fail the test with an install hint; nothing is skipped.
#![forbid(unsafe_code)]

#[path = "../../../crates/mss-token/tests/pkcs11_support/mod.rs"]
mod pkcs11_support;

use std::path::Path;
use std::process::{Command, Output};

use pkcs11_support::{Fixture, PIN, TOKEN};

const PIN_VAR: &str = "MSS_CLI_CARD_PIN";

const DRAFT: &str = "From: Jean Dupont <jean.dupont@test.mssante.invalid>\r\n\
To: Bob Durand <bob@example.test>\r\n\
Subject: Compte rendu\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Cher confrere,\r\n\
Tension arterielle 12/8, traitement inchange.\r\n";

/// `mss ARGS` in `dir`, seeing the fixture's tokens, with `pin` in [`PIN_VAR`].
fn mss(fx: &Fixture, dir: &Path, pin: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .current_dir(dir)
        .args(args)
        .env("SOFTHSM2_CONF", fx.conf())
        .env(PIN_VAR, pin)
        .env_remove("MSS_PKCS11_MODULE")
        .output()
        .expect("run mss")
}

fn expect(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_card_signs_for_openssl_and_decrypts_its_sent_copy() {
    let fx = Fixture::get();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("draft.eml"), DRAFT).expect("draft");
    let uri = format!("pkcs11:token={}", TOKEN.replace(' ', "%20"));
    let module = fx.module.display().to_string();
    let ca = fx.file("ca.pem").display().to_string();
    let aut = fx.file("aut.pem").display().to_string();

    // Sign with the card's signature key (module by --module).
    let out = mss(
        fx,
        d,
        PIN,
        &[
            "sign",
            "--identity",
            &uri,
            "--module",
            &module,
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "signed.eml",
        ],
    );
    expect(&out, 0, "mss sign with the card");
    // OpenSSL verifies it against the card's CA.
    let verified = Command::new("openssl")
        .current_dir(d)
        .args([
            "cms",
            "-verify",
            "-CAfile",
            &ca,
            "-in",
            "signed.eml",
            "-out",
            "clear.txt",
        ])
        .output()
        .expect("run openssl (is OpenSSL installed?)");
    assert!(
        verified.status.success(),
        "openssl verifies the card's signature: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let clear = std::fs::read_to_string(d.join("clear.txt")).expect("clear");
    assert!(clear.contains("Tension arterielle 12/8"), "{clear}");
    // mss opens it too, valid and trusted.
    let out = mss(fx, d, PIN, &["open", "--trust", &ca, "--in", "signed.eml"]);
    expect(&out, 0, "mss open");

    // Sign and encrypt without --sender-cert: the sent copy goes to the card's
    // decryption (AUT) certificate, so the card opens what it sent (the recipient is
    // that certificate too: the fixture has no other encryption certificate).
    let out = mss(
        fx,
        d,
        PIN,
        &[
            "encrypt",
            "--to",
            &aut,
            "--sign-with",
            &uri,
            "--module",
            &module,
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "sealed.eml",
        ],
    );
    expect(&out, 0, "mss encrypt --sign-with the card");
    let out = mss(
        fx,
        d,
        PIN,
        &[
            "open",
            "--identity",
            &uri,
            "--module",
            &module,
            "--pin-env",
            PIN_VAR,
            "--trust",
            &ca,
            "--in",
            "sealed.eml",
            "--out",
            "opened.eml",
        ],
    );
    expect(&out, 0, "mss open with the card");
    let opened = std::fs::read_to_string(d.join("opened.eml")).expect("opened");
    assert!(opened.contains("Tension arterielle 12/8"), "{opened}");

    // A wrong PIN fails, says so, and writes nothing.
    let out = mss(
        fx,
        d,
        "0000",
        &[
            "sign",
            "--identity",
            &uri,
            "--module",
            &module,
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "wrong.eml",
        ],
    );
    expect(&out, 1, "wrong PIN");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(stderr.contains("pin"), "{stderr}");
    assert!(!d.join("wrong.eml").exists());
    // Put the retry counter back for the other tests of the token.
    let out = mss(
        fx,
        d,
        PIN,
        &[
            "sign",
            "--identity",
            &uri,
            "--module",
            &module,
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "again.eml",
        ],
    );
    expect(&out, 0, "the right PIN after a wrong one");
}
