//! The CLI's streaming path (`--stream`; automatic for input files of 8 MiB or more,
//! with every send option): a 9 MiB draft signed and encrypted with the default options
//! (RFC 9788 header protection, `hp="cipher"`), then opened, by `mss` and checked with
//! `openssl cms`; a tampered message leaves no output file; a streamed open gives the
//! report, clear message and exit code of the in-memory open. Identities come from
//! `mss demo --dir`.

use std::path::Path;
use std::process::{Command, Output};

fn mss(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mss")
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is needed (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `mss open --identity bob.pem --trust ca.pem ARGS…`
fn open_as_bob(dir: &Path, args: &[&str]) -> Output {
    mss(
        dir,
        &[
            &["open", "--identity", "bob.pem", "--trust", "ca.pem"],
            args,
        ]
        .concat(),
    )
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn large_drafts_take_the_streaming_path_end_to_end() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let d = tmp.path();
    ok(&mss(d, &["demo", "--dir", "."]), "mss demo");
    // 9 MiB of binary content, no transfer encoding declared: base64-encoded on the fly.
    let content: Vec<u8> = (0..9 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut draft =
        b"From: alice.martin@demo.mssante.test\r\nTo: bob@example.test\r\nSubject: scan\r\n\
Content-Type: application/octet-stream\r\n\r\n"
            .to_vec();
    draft.extend_from_slice(&content);
    std::fs::write(d.join("big.eml"), &draft).expect("write draft");
    std::fs::write(d.join("content.bin"), &content).expect("write content");

    let sealed = mss(
        d,
        &[
            "encrypt",
            "--sign-with",
            "alice.pem",
            "--to",
            "bob.pem",
            "--in",
            "big.eml",
            "--out",
            "sealed.eml",
        ],
    );
    ok(&sealed, "mss encrypt (streaming)");
    // Streamed (BER with indefinite lengths: base64 "MIAG" for 30 80 06, where the
    // in-memory path writes DER), with the Subject obscured outside.
    let sealed_msg = std::fs::read(d.join("sealed.eml")).expect("sealed");
    let head_end = sealed_msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header block");
    let head = String::from_utf8_lossy(&sealed_msg[..head_end]);
    assert!(head.contains("\r\nSubject: [...]"), "{head}");
    assert!(!head.contains("scan"), "{head}");
    assert!(sealed_msg[head_end + 4..].starts_with(b"MIAG"));
    // OpenSSL decrypts, verifies, and finds the content.
    openssl(
        d,
        &[
            "cms",
            "-decrypt",
            "-in",
            "sealed.eml",
            "-recip",
            "bob.pem",
            "-inkey",
            "bob.pem",
            "-out",
            "signed.eml",
        ],
    );
    openssl(
        d,
        &[
            "cms",
            "-verify",
            "-in",
            "signed.eml",
            "-CAfile",
            "ca.pem",
            "-out",
            "entity.eml",
        ],
    );
    let entity = std::fs::read(d.join("entity.eml")).expect("entity");
    let at = entity
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header block");
    // OpenSSL hands out the protected entity: the real Subject, the record of what was
    // left outside, the hp="cipher" marking.
    let protected = String::from_utf8_lossy(&entity[..at]);
    assert!(protected.contains("Subject: scan\r\n"), "{protected}");
    assert!(
        protected.contains("HP-Outer: Subject: [...]"),
        "{protected}"
    );
    assert!(protected.contains("hp=\"cipher\""), "{protected}");
    std::fs::write(d.join("body.b64"), &entity[at + 4..]).expect("body");
    openssl(d, &["base64", "-d", "-in", "body.b64", "-out", "body.bin"]);
    assert!(std::fs::read(d.join("body.bin")).expect("body") == content);

    // mss opens it while streaming, with a valid report.
    let opened = open_as_bob(
        d,
        &[
            "--stream",
            "--in",
            "sealed.eml",
            "--out",
            "clear.eml",
            "--report-json",
            "report.json",
        ],
    );
    ok(&opened, "mss open (streaming)");
    let clear = std::fs::read(d.join("clear.eml")).expect("clear");
    assert!(clear.ends_with(&entity[at + 4..]));
    let report = std::fs::read_to_string(d.join("report.json")).expect("report");
    assert!(report.contains("\"valid\""), "{report}");
    // Opened without --stream (it streams anyway: the input is over 8 MiB), the
    // protected headers are recovered.
    let opened = open_as_bob(
        d,
        &[
            "--in",
            "sealed.eml",
            "--out",
            "clear-mem.eml",
            "--report-json",
            "report-mem.json",
        ],
    );
    ok(&opened, "mss open (automatic streaming)");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("report-mem.json")).expect("report"))
            .expect("JSON");
    assert_eq!(report["protected_headers"]["scheme"], "hp-cipher");
    assert_eq!(report["signatures"][0]["status"], "valid");
    let clear = std::fs::read(d.join("clear-mem.eml")).expect("clear");
    assert!(clear.ends_with(&entity[at + 4..]));
    assert!(String::from_utf8_lossy(&clear[..1000]).contains("Subject: scan\r\n"));

    // A changed byte in the middle: never a clean open (an error, or a report that is
    // not valid).
    let mut bad = std::fs::read(d.join("sealed.eml")).expect("sealed");
    let i = bad.len() / 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(d.join("bad.eml"), &bad).expect("write");
    let failed = open_as_bob(
        d,
        &["--stream", "--in", "bad.eml", "--out", "bad-clear.eml"],
    );
    assert_ne!(
        failed.status.code(),
        Some(0),
        "a tampered message opened cleanly"
    );
    // A truncated message: an error, and no output file left behind.
    std::fs::write(d.join("cut.eml"), &bad[..bad.len() / 2]).expect("write");
    let cut = open_as_bob(
        d,
        &["--stream", "--in", "cut.eml", "--out", "cut-clear.eml"],
    );
    assert_ne!(cut.status.code(), Some(0));
    assert!(
        !d.join("cut-clear.eml").exists(),
        "no output after a failure"
    );
}

#[test]
fn stream_flag_on_standard_input_and_output() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let d = tmp.path();
    ok(&mss(d, &["demo", "--dir", "."]), "mss demo");
    // Declared 7bit: sent as it stands, its LF line ends made CRLF.
    let draft = b"From: alice.martin@demo.mssante.test\r\nSubject: hello\r\nContent-Transfer-Encoding: 7bit\r\n\r\nline one\nline two\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .current_dir(d)
        .args(["sign", "--stream", "--identity", "alice.pem"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mss");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(draft)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    ok(&out, "mss sign --stream");
    std::fs::write(d.join("signed.eml"), &out.stdout).expect("write");
    let v = openssl(
        d,
        &["cms", "-verify", "-in", "signed.eml", "-CAfile", "ca.pem"],
    );
    assert!(String::from_utf8_lossy(&v.stdout).contains("line one\r\nline two\r\n"));
}

/// The report without its validation times (both opens validate at "now").
fn report_without_times(path: &Path) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("validation_time");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("report")).expect("report JSON");
    strip(&mut v);
    v
}

/// A streamed open (`--stream`, automatic for inputs of 8 MiB or more) analyses the
/// parts of the clear message as the in-memory open does: the same report, clear
/// message and exit code for a signed multipart (0), a partial signature (a signed part
/// beside unsigned text) and a signed and encrypted message with protected headers.
#[test]
fn streamed_open_gives_the_in_memory_report_and_exit_code() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let d = tmp.path();
    ok(&mss(d, &["demo", "--dir", "."]), "mss demo");
    let draft =
        b"From: alice.martin@demo.mssante.test\r\nTo: bob@example.test\r\nSubject: two parts\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
one\r\n--b1\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--b1--\r\n";
    std::fs::write(d.join("mixed.eml"), draft).expect("write");
    let sign = |input: &str, output: &str| {
        let args = [
            "sign",
            "--identity",
            "alice.pem",
            "--in",
            input,
            "--out",
            output,
        ];
        ok(&mss(d, &args), "mss sign");
    };
    sign("mixed.eml", "signed.eml");
    // A signed part inside an unsigned multipart.
    std::fs::write(
        d.join("part.eml"),
        b"Content-Type: text/plain\r\n\r\nKind regards\r\n",
    )
    .expect("write");
    sign("part.eml", "signed-part.eml");
    let signed_part = std::fs::read(d.join("signed-part.eml")).expect("signed part");
    let at = signed_part
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header block");
    // Keep only the part's own (Content-*) header fields.
    let head = String::from_utf8_lossy(&signed_part[..at]).to_string();
    let mut partial = b"From: alice.martin@demo.mssante.test\r\nTo: bob@example.test\r\n\
Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\n\
You are fired.\r\n--b2\r\n"
        .to_vec();
    let mut in_content = false;
    for line in head.split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-") {
            in_content = true;
        } else if !line.starts_with([' ', '\t']) {
            in_content = false;
        }
        if in_content {
            partial.extend_from_slice(line.as_bytes());
            partial.extend_from_slice(b"\r\n");
        }
    }
    partial.extend_from_slice(&signed_part[at + 2..]);
    partial.extend_from_slice(b"\r\n--b2--\r\n");
    std::fs::write(d.join("partial.eml"), &partial).expect("write");
    // Signed and encrypted, protected headers (the default).
    ok(
        &mss(
            d,
            &[
                "encrypt",
                "--sign-with",
                "alice.pem",
                "--to",
                "bob.pem",
                "--in",
                "mixed.eml",
                "--out",
                "sealed.eml",
            ],
        ),
        "mss encrypt",
    );
    for (name, exit) in [("signed.eml", 0), ("partial.eml", -1), ("sealed.eml", 0)] {
        let open = |stream: bool, tag: &str| {
            let (clear, report) = (format!("{tag}.eml"), format!("{tag}.json"));
            let mut args = vec!["open", "--identity", "bob.pem", "--trust", "ca.pem"];
            args.extend(["--in", name, "--out", &clear, "--report-json", &report]);
            if stream {
                args.push("--stream");
            }
            let out = mss(d, &args);
            (
                out.status.code(),
                std::fs::read(d.join(&clear)).expect("clear message"),
                report_without_times(&d.join(&report)),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (code, clear, report, stderr) = open(false, "mem");
        if exit >= 0 {
            assert_eq!(code, Some(exit), "{name}: {stderr}");
        } else {
            // A partial signature is never exit 0.
            assert!(code.is_some_and(|c| c != 0), "{name}: {stderr}");
            assert!(report.to_string().contains("partial-signature"), "{report}");
        }
        let (s_code, s_clear, s_report, s_stderr) = open(true, "streamed");
        assert_eq!(s_code, code, "{name}: {s_stderr}");
        assert_eq!(s_report, report, "{name}");
        assert!(s_clear == clear, "{name}: clear messages differ");
        assert!(
            !s_report.to_string().contains("parts-not-analysed"),
            "{name}"
        );
    }
}

#[test]
fn a_full_disk_is_a_failure_not_a_malformed_message() {
    // Standard output on /dev/full: every write fails with ENOSPC. The streaming send
    // and the streaming open stop with exit 1 and say why; they never blame the message
    // (exit 13).
    let tmp = tempfile::tempdir().expect("temporary directory");
    let d = tmp.path();
    ok(&mss(d, &["demo", "--dir", "."]), "mss demo");
    let mut draft =
        b"From: alice.martin@demo.mssante.test\r\nTo: bob@example.test\r\nSubject: scan\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
    for i in 0..20_000u32 {
        draft.extend_from_slice(format!("{i:076}\r\n").as_bytes());
    }
    std::fs::write(d.join("draft.eml"), &draft).expect("write draft");
    let full = || std::fs::File::create("/dev/full").expect("/dev/full");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mss"))
            .current_dir(d)
            .args(args)
            .stdout(full())
            .output()
            .expect("run mss")
    };
    let send = [
        "encrypt",
        "--stream",
        "--sign-with",
        "alice.pem",
        "--to",
        "bob.pem",
        "--in",
        "draft.eml",
    ];
    let sign = [
        "sign",
        "--stream",
        "--identity",
        "alice.pem",
        "--in",
        "draft.eml",
    ];
    for args in [&send[..], &sign[..]] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
        assert!(!err.contains("malformed"), "{args:?}: {err}");
    }
    let mut sealed = send.to_vec();
    sealed.extend(["--out", "sealed.eml"]);
    ok(&mss(d, &sealed), "mss encrypt --stream");
    let out = run(&[
        "open",
        "--stream",
        "--identity",
        "bob.pem",
        "--trust",
        "ca.pem",
        "--in",
        "sealed.eml",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "open: {err}");
    assert!(err.contains("No space left on device"), "open: {err}");
}
