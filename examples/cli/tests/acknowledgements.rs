//! `mss sign|encrypt --request-receipt`, `--protect-headers` / `--no-protect-headers`,
//! `mss receipt create|verify` and `mss mdn create|verify`, run as processes. The
//! header protection and receipt request sends run twice: in memory and with
//! `--stream` (issue #9).
//!
//! The identities come from `mss demo --dir` (a throwaway CA, Alice and Bob as PEM
//! identities), made once per test binary; each test works in its own directory.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const ALICE: &str = "alice.martin@demo.mssante.test";
const BOB: &str = "bob.durand@demo.mssante.test";

fn identities() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temporary directory");
        let out = Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(["demo", "--dir"])
            .arg(d.path())
            .output()
            .expect("run mss demo");
        assert!(
            out.status.success(),
            "mss demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    })
    .path()
}

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().expect("temporary directory");
        for f in ["ca.pem", "alice.pem", "bob.pem"] {
            std::fs::copy(identities().join(f), tmp.path().join(f)).expect("copy identity");
        }
        Dir { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).expect("write");
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn mss(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mss"))
            .current_dir(self.tmp.path())
            .args(args)
            .output()
            .expect("run mss")
    }

    /// Run and check the exit code.
    fn expect(&self, args: &[&str], code: i32) -> Output {
        let out = self.mss(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "mss {args:?}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `mss CMD… --identity IDENTITY --trust ca.pem REST…`; checks the exit code.
    fn trusting(&self, cmd: &[&str], identity: &str, rest: &[&str], code: i32) -> Output {
        let with = ["--identity", identity, "--trust", "ca.pem"];
        self.expect(&[cmd, &with[..], rest].concat(), code)
    }

    fn json(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&self.read(name)).expect("JSON")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn draft(tag: &str) -> Vec<u8> {
    format!(
        "From: Dr Alice Martin <{ALICE}>\r\nTo: {BOB}\r\nSubject: CR DUPONT Jean {tag}\r\n\
         Message-ID: <{tag}@demo.mssante.test>\r\nDisposition-Notification-To: {ALICE}\r\n\r\n\
         Compte rendu.\r\n"
    )
    .into_bytes()
}

/// The send flags with `--stream` added, or not.
fn streaming(args: &[&'static str], stream: bool) -> Vec<&'static str> {
    let mut v = args.to_vec();
    if stream {
        v.insert(1, "--stream");
    }
    v
}

#[test]
fn encrypt_protects_headers_by_default_and_can_be_told_not_to() {
    for stream in [false, true] {
        encrypt_protects_headers(stream);
    }
}

fn encrypt_protects_headers(stream: bool) {
    let d = Dir::new();
    d.write("draft.eml", &draft("hp"));
    let enc = streaming(
        &[
            "encrypt",
            "--to",
            "bob.pem",
            "--sign-with",
            "alice.pem",
            "--in",
            "draft.eml",
            "--out",
        ],
        stream,
    );
    d.expect(&[&enc[..], &["sent.eml"]].concat(), 0);
    let sent = text(&d.read("sent.eml"));
    assert!(sent.contains("Subject: [...]"), "{sent}");
    assert!(!sent.contains("DUPONT"));
    let out = d.trusting(
        &["open"],
        "bob.pem",
        &[
            "--in",
            "sent.eml",
            "--out",
            "clear.eml",
            "--report-json",
            "r.json",
        ],
        0,
    );
    assert!(text(&out.stderr).contains("protected headers: hp-cipher"));
    assert!(text(&d.read("clear.eml")).contains("Subject: CR DUPONT Jean hp"));
    assert_eq!(d.json("r.json")["protected_headers"]["scheme"], "hp-cipher");

    d.expect(
        &[&enc[..], &["plain.eml", "--no-protect-headers"]].concat(),
        0,
    );
    assert!(text(&d.read("plain.eml")).contains("Subject: CR DUPONT Jean hp"));
    // Protected headers and a receipt request together.
    d.expect(&[&enc[..], &["rr.eml", "--request-receipt"]].concat(), 0);
    let out = d.trusting(&["open"], "bob.pem", &["--in", "rr.eml"], 0);
    let err = text(&out.stderr);
    assert!(err.contains("protected headers: hp-cipher"), "{err}");
    assert!(err.contains("signed receipt requested (all)"), "{err}");
    // The two flags contradict each other: a usage error.
    d.expect(
        &[
            &enc[..],
            &["x.eml", "--protect-headers", "--no-protect-headers"],
        ]
        .concat(),
        2,
    );
}

#[test]
fn signed_only_with_protect_headers_flags_a_changed_subject() {
    for stream in [false, true] {
        signed_only_with_protect_headers(stream);
    }
}

fn signed_only_with_protect_headers(stream: bool) {
    let d = Dir::new();
    d.write("draft.eml", &draft("clear"));
    d.expect(
        &streaming(
            &[
                "sign",
                "--identity",
                "alice.pem",
                "--protect-headers",
                "--in",
                "draft.eml",
                "--out",
                "signed.eml",
            ],
            stream,
        ),
        0,
    );
    let signed = text(&d.read("signed.eml"));
    assert!(signed.contains("hp=\"clear\""));
    d.write(
        "changed.eml",
        signed
            .replacen("Subject: CR DUPONT Jean clear", "Subject: autre chose", 1)
            .as_bytes(),
    );
    let out = d.expect(
        &[
            "open",
            "--trust",
            "ca.pem",
            "--in",
            "changed.eml",
            "--report-json",
            "r.json",
        ],
        0,
    );
    assert!(
        text(&out.stderr).contains("warning: header-mismatch: Subject"),
        "{}",
        text(&out.stderr)
    );
    let v = d.json("r.json");
    assert_eq!(v["protected_headers"]["differences"][0]["name"], "Subject");
    assert_eq!(v["protected_headers"]["differences"][0]["expected"], false);
}

#[test]
fn receipt_request_create_and_verify() {
    for stream in [false, true] {
        receipt_request(stream);
    }
}

fn receipt_request(stream: bool) {
    let d = Dir::new();
    d.write("draft.eml", &draft("rr"));
    d.expect(
        &streaming(
            &[
                "sign",
                "--identity",
                "alice.pem",
                "--request-receipt",
                "--receipt-from",
                BOB,
                "--in",
                "draft.eml",
                "--out",
                "sent.eml",
            ],
            stream,
        ),
        0,
    );
    let out = d.expect(&["open", "--trust", "ca.pem", "--in", "sent.eml"], 0);
    assert!(
        text(&out.stderr).contains("signed receipt requested (list)"),
        "{}",
        text(&out.stderr)
    );
    let out = d.trusting(
        &["receipt", "create"],
        "bob.pem",
        &["--in", "sent.eml", "--out", "receipt.eml"],
        0,
    );
    assert!(text(&out.stderr).contains(ALICE));
    assert!(text(&d.read("receipt.eml")).contains("smime-type=signed-receipt"));
    d.expect(
        &[
            "receipt",
            "verify",
            "--trust",
            "ca.pem",
            "--original",
            "sent.eml",
            "--in",
            "receipt.eml",
            "--report-json",
            "v.json",
        ],
        0,
    );
    assert_eq!(d.json("v.json")["status"], "valid");
    // --trust takes a directory of anchors, as on `mss open`.
    std::fs::create_dir(d.path("anchors")).expect("mkdir");
    std::fs::copy(d.path("ca.pem"), d.path("anchors/ca.pem")).expect("copy");
    d.expect(
        &[
            "receipt",
            "verify",
            "--trust",
            "anchors",
            "--original",
            "sent.eml",
            "--in",
            "receipt.eml",
        ],
        0,
    );
    // Not trusting the CA: untrusted (11).
    d.expect(
        &[
            "receipt",
            "verify",
            "--original",
            "sent.eml",
            "--in",
            "receipt.eml",
        ],
        11,
    );
    // Alice is not in the receipt list: she is refused.
    d.trusting(
        &["receipt", "create"],
        "alice.pem",
        &["--in", "sent.eml"],
        1,
    );
    // Against another message: 10.
    d.write("other.eml", &draft("other"));
    d.expect(
        &streaming(
            &[
                "sign",
                "--identity",
                "alice.pem",
                "--request-receipt",
                "--in",
                "other.eml",
                "--out",
                "other-sent.eml",
            ],
            stream,
        ),
        0,
    );
    let out = d.expect(
        &[
            "receipt",
            "verify",
            "--trust",
            "ca.pem",
            "--original",
            "other-sent.eml",
            "--in",
            "receipt.eml",
        ],
        10,
    );
    assert!(text(&out.stderr).contains("UNRELATED"));
    // A receipt request without a signature is a usage error.
    d.expect(
        &streaming(
            &[
                "encrypt",
                "--to",
                "bob.pem",
                "--sender-cert",
                "alice.pem",
                "--request-receipt",
                "--in",
                "draft.eml",
            ],
            stream,
        ),
        2,
    );
}

#[test]
fn mdn_create_and_verify_for_an_encrypted_message() {
    let d = Dir::new();
    d.write("draft.eml", &draft("mdn"));
    d.expect(
        &[
            "encrypt",
            "--to",
            "bob.pem",
            "--sign-with",
            "alice.pem",
            "--in",
            "draft.eml",
            "--out",
            "sent.eml",
        ],
        0,
    );
    let out = d.trusting(&["open"], "bob.pem", &["--in", "sent.eml"], 0);
    assert!(text(&out.stderr).contains("disposition notification requested"));
    let out = d.trusting(
        &["mdn", "create"],
        "bob.pem",
        &["--in", "sent.eml", "--out", "mdn.eml"],
        0,
    );
    assert!(text(&out.stderr).contains("(encrypted)"));
    d.trusting(
        &["mdn", "verify"],
        "alice.pem",
        &[
            "--original",
            "sent.eml",
            "--in",
            "mdn.eml",
            "--report-json",
            "v.json",
        ],
        0,
    );
    let v = d.json("v.json");
    assert_eq!(v["status"], "valid");
    assert_eq!(v["disposition_type"], "processed");
    assert_eq!(v["final_recipient"], BOB);
    assert_eq!(v["original_message_id"], "<mdn@demo.mssante.test>");
    // --trust takes a directory of anchors, as on `mss open`.
    std::fs::create_dir(d.path("anchors")).expect("mkdir");
    std::fs::copy(d.path("ca.pem"), d.path("anchors/ca.pem")).expect("copy");
    d.expect(
        &[
            "mdn",
            "verify",
            "--identity",
            "alice.pem",
            "--trust",
            "anchors",
            "--original",
            "sent.eml",
            "--in",
            "mdn.eml",
        ],
        0,
    );

    // An error disposition, displayed by the verifier.
    d.trusting(
        &["mdn", "create"],
        "bob.pem",
        &[
            "--error",
            "dossier patient introuvable",
            "--in",
            "sent.eml",
            "--out",
            "mdn-error.eml",
        ],
        0,
    );
    let out = d.trusting(
        &["mdn", "verify"],
        "alice.pem",
        &["--original", "sent.eml", "--in", "mdn-error.eml"],
        0,
    );
    assert!(
        text(&out.stderr).contains("processed/error"),
        "{}",
        text(&out.stderr)
    );
    d.expect(
        &[
            "mdn",
            "create",
            "--identity",
            "bob.pem",
            "--disposition",
            "read",
            "--in",
            "sent.eml",
        ],
        2,
    );
}
