//! `mss open` trust options end to end: `--trust` as a .p7b and a directory,
//! `--revocation ocsp` against `openssl ocsp`, `--crl`, `--revocation-soft-fail`,
//! `--at`, `--at-signing-time`; a revoked signer exits 11 with the reason printed.

#[path = "../../../crates/mss-pki/tests/support/pki.rs"]
mod pki;

use std::process::{Command, Output};

use pki::{Pki, openssl};
use serde_json::Value;

const DRAFT: &str = "From: good <good@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: trust\r\n\r\nHello.\r\n";

/// `mss ARGS` in the PKI directory (no standard input; bounded by the mss client
/// timeouts: every server it talks to is local).
fn mss(pki: &Pki, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .current_dir(pki.dir.path())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A message signed by `name` with `openssl cms` (detached, signingTime included).
fn sign(pki: &Pki, name: &str) -> String {
    let d = pki.dir.path();
    std::fs::write(d.join("draft.txt"), DRAFT).unwrap();
    let out = format!("{name}.eml");
    openssl(
        d,
        &[
            "cms",
            "-sign",
            "-in",
            "draft.txt",
            "-signer",
            &format!("{name}.crt"),
            "-inkey",
            &format!("{name}.key"),
            "-out",
            &out,
            "-crlfeol",
        ],
    );
    out
}

fn report(pki: &Pki) -> Value {
    serde_json::from_slice(&std::fs::read(pki.path("r.json")).unwrap()).unwrap()
}

#[test]
fn trust_revocation_and_time_options() {
    let pki = Pki::new();
    let d = pki.dir.path();
    openssl(
        d,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "ca.crt",
            "-outform",
            "DER",
            "-out",
            "ca.p7b",
        ],
    );
    std::fs::create_dir(d.join("anchors")).unwrap();
    std::fs::copy(d.join("ca.crt"), d.join("anchors/ca.pem")).unwrap();
    let good = sign(&pki, "good");
    let revoked = sign(&pki, "revoked");
    let unknown = sign(&pki, "unknown");
    let base = |msg: &str| -> Vec<String> {
        [
            "open",
            "--trust",
            "ca.p7b",
            "--in",
            msg,
            "--out",
            "clear.eml",
            "--report-json",
            "r.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |msg: &str, extra: &[&str]| {
        let mut a = base(msg);
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        mss(&pki, &a)
    };

    // No revocation asked: valid, the chain reported.
    let o = run(&good, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(&pki)["signatures"][0]["chain"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A directory of anchors.
    let o = mss(
        &pki,
        &[
            "open",
            "--trust",
            "anchors",
            "--in",
            &good,
            "--out",
            "clear.eml",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // OCSP.
    let responder = pki.responder("responder", pki.ocsp_port);
    let o = run(&good, &["--revocation", "ocsp"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("revocation: good (source ocsp)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        report(&pki)["signatures"][0]["revocation"][0]["source"],
        "ocsp"
    );
    let o = run(&revoked, &["--revocation", "ocsp"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("revoked (KeyCompromise, by ocsp)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(report(&pki)["signatures"][0]["status"], "revoked");
    let o = run(&unknown, &["--revocation", "ocsp"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    let o = run(
        &unknown,
        &["--revocation", "ocsp", "--revocation-soft-fail"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: revocation-unknown"),
        "{}",
        stderr(&o)
    );
    drop(responder);

    // A CRL file (implies --revocation crl); both = CRL first.
    let o = run(&revoked, &["--crl", "ca.pem.crl"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(stderr(&o).contains("by crl"), "{}", stderr(&o));
    let o = run(&good, &["--crl", "ca.crl", "--revocation", "both"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // CRL fetched from the distribution point over HTTP.
    let server = pki.http(pki.crl_port);
    let o = run(&revoked, &["--revocation", "crl"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(server.hits() >= 1);
    drop(server);

    // Time: far in the future the certificate has expired; at the signing time not.
    let o = run(&good, &["--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    let o = run(
        &good,
        &["--at", "2099-01-01T00:00:00Z", "--at-signing-time"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("(signing time)"), "{}", stderr(&o));
    assert_eq!(
        report(&pki)["signatures"][0]["validation_time_source"],
        "signing-time"
    );

    // Usage errors.
    assert_eq!(code(&run(&good, &["--revocation", "sometimes"])), 2);
    assert_eq!(code(&run(&good, &["--at", "tomorrow"])), 2);
    let o = mss(&pki, &["open", "--trust", "missing.p7b", "--in", &good]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}
