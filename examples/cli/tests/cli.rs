//! The `mss` command-line contract, tested on the real binary.
//!
//! Every test runs `mss` (`CARGO_BIN_EXE_mss`) as a process in its own temporary
//! directory. The test PKI is made with the `openssl` command line once per test binary
//! (a root CA with alice and bob, and eve under another CA; RSA-2048, SAN e-mail,
//! keyUsage digitalSignature+keyEncipherment, EKU emailProtection; PEM identities and
//! PKCS#12 files, OpenSSL 3 default and `-legacy`). A missing `openssl` fails the tests
//! with an install hint; nothing is skipped.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Password of every PKCS#12 file of the test PKI.
const PASSWORD: &str = "cli-test-pass";
/// The environment variable the tests give to `--pin-env`.
const PIN_VAR: &str = "MSS_CLI_TEST_PIN";
/// No `mss` run may take longer (a forgotten `--pin-env` would prompt on a terminal).
const TIMEOUT: Duration = Duration::from_secs(180);

// ------------------------------------------------------------------ processes

/// Find `tool` on `PATH`, or fail with instructions to install it.
fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` is required by the mss CLI tests and is not installed.\n\
         Install it with `bash scripts/install-deps.sh` (as root or with sudo), \
         or `apt-get install openssl` on Debian/Ubuntu."
    );
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Wait for `child` at most [`TIMEOUT`]; kill it and fail the test beyond.
fn wait_bounded(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` did not finish within {TIMEOUT:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("collecting the output of `{what}`: {e}"))
}

/// Run `cmd` with `input` on standard input; the output whatever the exit status.
fn run_raw(cmd: &mut Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = describe(cmd);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let data = input.to_vec();
    // Feed stdin from a thread so that a large output cannot dead-lock us; the process
    // may exit without reading everything (EPIPE is fine).
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    // Read the pipes while waiting, so that a chatty process never blocks on them.
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let mut out = wait_bounded(child, &what);
    feeder.join().expect("stdin feeder thread");
    out.stdout = out_reader.join().expect("stdout reader thread");
    out.stderr = err_reader.join().expect("stderr reader thread");
    out
}

/// What a run of `mss` gave.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    what: String,
}

impl Run {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Fail unless the exit code is `code`.
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "`{}` exited {} instead of {code}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.what,
            self.code,
            self.stderr,
            String::from_utf8_lossy(&self.stdout)
        );
        self
    }

    fn ok(&self) -> &Self {
        self.expect_code(0)
    }
}

// ------------------------------------------------------------------ the test PKI

/// The files of the test PKI, made once and kept in memory.
struct Pki {
    files: Vec<(String, Vec<u8>)>,
}

fn openssl_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(require("openssl"));
    cmd.current_dir(dir).args(args);
    let out = run_raw(&mut cmd, b"");
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n{}",
        describe(&cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn make_ca(dir: &Path, stem: &str, cn: &str) {
    let key = format!("{stem}.key");
    let pem = format!("{stem}.pem");
    let der = format!("{stem}.der");
    openssl_in(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ],
    );
    openssl_in(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-out",
            &pem,
            "-days",
            "3650",
            "-sha256",
            "-subj",
            &format!("/O=MSS CLI Tests/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
        ],
    );
    openssl_in(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
}

/// A user `name` issued by CA `ca`: `name.key`, `name.pem` (certificate), `name.der`,
/// `name-id.pem` (key + certificate), `name.p12` (OpenSSL 3 default) and
/// `name-legacy.p12` (`-legacy`: RC2/3DES, SHA-1 MAC).
fn make_user(dir: &Path, ca: &str, name: &str, display: &str, serial: &str) {
    let email = format!("{name}@example.test");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = emailProtection\n\
             subjectAltName = email:{email}\n\
             subjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid:always\n"
        ),
    )
    .expect("write extension file");
    openssl_in(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ],
    );
    openssl_in(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/O=MSS CLI Tests/CN={display}"),
        ],
    );
    openssl_in(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            serial,
            "-days",
            "825",
            "-sha256",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
    openssl_in(
        dir,
        &[
            "x509",
            "-in",
            &pem,
            "-outform",
            "DER",
            "-out",
            &format!("{name}.der"),
        ],
    );
    let mut id = std::fs::read(dir.join(&key)).expect("read key");
    id.extend(std::fs::read(dir.join(&pem)).expect("read certificate"));
    std::fs::write(dir.join(format!("{name}-id.pem")), id).expect("write PEM identity");
    let pass = format!("pass:{PASSWORD}");
    let cafile = format!("{ca}.pem");
    for (file, legacy) in [
        (format!("{name}.p12"), false),
        (format!("{name}-legacy.p12"), true),
    ] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &pem,
            "-certfile",
            &cafile,
            "-name",
            name,
            "-passout",
            &pass,
            "-out",
            &file,
        ];
        if legacy {
            args.push("-legacy");
        }
        openssl_in(dir, &args);
    }
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("mss-cli-pki-")
            .tempdir()
            .expect("temporary directory");
        let d = tmp.path();
        make_ca(d, "ca", "MSS CLI Test Root CA");
        make_ca(d, "eve-ca", "Eve's Own CA");
        make_user(d, "ca", "alice", "Alice Martin", "0x41A1CE");
        make_user(d, "ca", "bob", "Bob Durand", "0x0B0B");
        make_user(d, "eve-ca", "eve", "Eve Faux", "0x0E0E");
        // A bundle of several authorities, the one that matters last.
        let mut bundle = std::fs::read(d.join("eve-ca.pem")).expect("read eve-ca.pem");
        bundle.extend(std::fs::read(d.join("ca.pem")).expect("read ca.pem"));
        std::fs::write(d.join("bundle.pem"), bundle).expect("write bundle.pem");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(d).expect("list PKI directory") {
            let entry = entry.expect("directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".csr") || name.ends_with(".ext") || name.ends_with(".srl") {
                continue;
            }
            files.push((name, std::fs::read(entry.path()).expect("read PKI file")));
        }
        Pki { files }
    })
}

// ------------------------------------------------------------------ a test's directory

/// The draft every test sends (alice to bob).
const DRAFT: &str = "From: Alice Martin <alice@example.test>\r\n\
To: Bob Durand <bob@example.test>\r\n\
Subject: Compte rendu\r\n\
Message-ID: <cli-test@example.test>\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Cher confrere,\r\n\
Tension arterielle 12/8, traitement inchange.\r\n\
Bien confraternellement.\r\n";

/// A line of the draft's body, to find in what comes out.
const BODY_LINE: &str = "Tension arterielle 12/8, traitement inchange.";

/// A temporary directory holding the test PKI and `draft.eml`, where `mss` runs.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix("mss-cli-test-")
            .tempdir()
            .expect("temporary directory");
        for (name, data) in &pki().files {
            std::fs::write(tmp.path().join(name), data).expect("install PKI file");
        }
        std::fs::write(tmp.path().join("draft.eml"), DRAFT).expect("write draft");
        Dir { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    fn command(&self, pin: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mss"));
        cmd.current_dir(self.tmp.path()).env(PIN_VAR, pin);
        cmd
    }

    /// `mss ARGS` with empty standard input and the right password in [`PIN_VAR`].
    fn mss(&self, args: &[&str]) -> Run {
        self.mss_full(args, b"", PASSWORD)
    }

    /// `mss ARGS` with `input` on standard input.
    fn mss_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        self.mss_full(args, input, PASSWORD)
    }

    fn mss_full(&self, args: &[&str], input: &[u8], pin: &str) -> Run {
        let mut cmd = self.command(pin);
        cmd.args(args);
        let what = describe(&cmd);
        let out = run_raw(&mut cmd, input);
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            what,
        }
    }

    /// `openssl ARGS` in the directory; fails the test when openssl fails.
    fn openssl(&self, args: &[&str]) -> Output {
        openssl_in(self.tmp.path(), args)
    }

    /// `openssl ARGS`, whatever its exit status.
    fn try_openssl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(require("openssl"));
        cmd.current_dir(self.tmp.path()).args(args);
        run_raw(&mut cmd, b"")
    }

    /// `mss open --trust ca.pem [--identity ID --pin-env VAR] --in FILE --report-json`,
    /// expecting exit `code`; returns the run and the parsed (shape-checked) report.
    fn open(&self, file: &str, identity: Option<&str>, code: i32) -> (Run, Value) {
        let report = format!("{file}.report.json");
        let mut args = vec![
            "open",
            "--trust",
            "ca.pem",
            "--in",
            file,
            "--report-json",
            &report,
        ];
        if let Some(id) = identity {
            args.extend(["--identity", id, "--pin-env", PIN_VAR]);
        }
        let run = self.mss(&args);
        run.expect_code(code);
        let json = self.report(&report);
        (run, json)
    }

    /// Parse a JSON report file and check its shape.
    fn report(&self, name: &str) -> Value {
        let v: Value = serde_json::from_slice(&self.read(name))
            .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        check_report_shape(&v);
        v
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The clear text carries the draft's body.
fn assert_body(clear: &[u8]) {
    assert!(
        contains(clear, BODY_LINE.as_bytes()),
        "the draft's body is missing from:\n{}",
        String::from_utf8_lossy(clear)
    );
}

// ------------------------------------------------------------------ the JSON report

fn field<'v>(o: &'v serde_json::Map<String, Value>, key: &str, ctx: &str) -> &'v Value {
    o.get(key)
        .unwrap_or_else(|| panic!("{ctx}: key {key:?} missing in {o:?}"))
}

const STATUSES: [&str; 6] = [
    "valid",
    "invalid",
    "untrusted",
    "expired",
    "revoked",
    "unknown",
];

/// `{"encrypted": bool, "content_cipher": str|null, "signatures": [{"status": …,
/// "signer": {"subject": str, "email": str|null}, "digest": str,
/// "signature_algorithm": str}], "warnings": [str]}`.
fn check_report_shape(v: &Value) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("report is not an object: {v}"));
    let encrypted = field(o, "encrypted", "report")
        .as_bool()
        .unwrap_or_else(|| panic!("encrypted is not a bool: {v}"));
    let cipher = field(o, "content_cipher", "report");
    assert!(
        cipher.is_string() || cipher.is_null(),
        "content_cipher: {cipher}"
    );
    assert_eq!(
        cipher.is_string(),
        encrypted,
        "content_cipher iff encrypted: {v}"
    );
    let sigs = field(o, "signatures", "report")
        .as_array()
        .unwrap_or_else(|| panic!("signatures is not an array: {v}"));
    for s in sigs {
        let s = s
            .as_object()
            .unwrap_or_else(|| panic!("signature is not an object: {s}"));
        let status = field(s, "status", "signature")
            .as_str()
            .unwrap_or_else(|| panic!("status is not a string: {s:?}"));
        assert!(STATUSES.contains(&status), "unknown status {status:?}");
        let signer = field(s, "signer", "signature")
            .as_object()
            .unwrap_or_else(|| panic!("signer is not an object: {s:?}"));
        assert!(field(signer, "subject", "signer").is_string(), "{signer:?}");
        let email = field(signer, "email", "signer");
        assert!(email.is_string() || email.is_null(), "{signer:?}");
        assert!(field(s, "digest", "signature").is_string(), "{s:?}");
        assert!(
            field(s, "signature_algorithm", "signature").is_string(),
            "{s:?}"
        );
    }
    let warnings = field(o, "warnings", "report")
        .as_array()
        .unwrap_or_else(|| panic!("warnings is not an array: {v}"));
    assert!(warnings.iter().all(Value::is_string), "warnings: {v}");
}

fn signatures(v: &Value) -> &Vec<Value> {
    v["signatures"].as_array().expect("signatures")
}

/// Exactly one signature, with `status`, by `email`.
fn assert_one_signature(v: &Value, status: &str, email: &str) {
    let sigs = signatures(v);
    assert_eq!(sigs.len(), 1, "{v:#}");
    assert_eq!(sigs[0]["status"], status, "{v:#}");
    assert_eq!(sigs[0]["signer"]["email"], email, "{v:#}");
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("warning string").to_string())
        .collect()
}

// ------------------------------------------------------------------ sign

#[test]
fn sign_variants_open_valid_with_the_specified_report() {
    // (extra flags, opaque?, digest, words expected in the signature algorithm)
    let cases: [(&[&str], bool, &str, &[&str]); 5] = [
        (&[], false, "sha256", &["pkcs1v15", "sha256"]),
        (&["--opaque"], true, "sha256", &["pkcs1v15", "sha256"]),
        (&["--pss"], false, "sha256", &["pss", "sha256"]),
        (
            &["--digest", "sha384"],
            false,
            "sha384",
            &["pkcs1v15", "sha384"],
        ),
        (
            &["--opaque", "--pss", "--digest", "sha512"],
            true,
            "sha512",
            &["pss", "sha512"],
        ),
    ];
    let d = Dir::new();
    for (i, (flags, opaque, digest, alg_words)) in cases.iter().enumerate() {
        let out = format!("signed-{i}.eml");
        let mut args = vec![
            "sign",
            "--identity",
            "alice-id.pem",
            "--in",
            "draft.eml",
            "--out",
            &out,
        ];
        args.extend_from_slice(flags);
        let run = d.mss(&args);
        run.ok();
        assert!(
            run.stdout.is_empty(),
            "with --out, nothing on stdout: {flags:?}"
        );
        let signed = d.read(&out);
        let expected_type: &[u8] = if *opaque {
            b"application/pkcs7-mime"
        } else {
            b"multipart/signed"
        };
        assert!(
            contains(&signed, expected_type),
            "{flags:?}: not {}",
            String::from_utf8_lossy(expected_type)
        );
        assert!(
            contains(&signed, b"Subject: Compte rendu"),
            "{flags:?}: headers are kept outside"
        );

        let clear = format!("clear-{i}.eml");
        let report = format!("report-{i}.json");
        let run = d.mss(&[
            "open",
            "--trust",
            "ca.pem",
            "--in",
            &out,
            "--out",
            &clear,
            "--report-json",
            &report,
        ]);
        run.ok();
        assert!(run.stdout.is_empty(), "with --out, nothing on stdout");
        assert!(
            run.stderr.contains("VALID"),
            "human summary on stderr: {}",
            run.stderr
        );
        assert_body(&d.read(&clear));
        let v = d.report(&report);
        assert_eq!(v["encrypted"], false, "{v:#}");
        assert!(v["content_cipher"].is_null(), "{v:#}");
        assert_one_signature(&v, "valid", "alice@example.test");
        let sig = &signatures(&v)[0];
        assert!(
            sig["signer"]["subject"]
                .as_str()
                .unwrap()
                .contains("Alice Martin"),
            "{v:#}"
        );
        assert_eq!(sig["digest"], *digest, "{flags:?}: {v:#}");
        let alg = sig["signature_algorithm"].as_str().unwrap();
        for w in *alg_words {
            assert!(
                alg.contains(w),
                "{flags:?}: signature_algorithm {alg:?} lacks {w:?}"
            );
        }
        assert!(
            warnings(&v).is_empty(),
            "{flags:?}: unexpected warnings {v:#}"
        );
    }
}

#[test]
fn sign_and_open_through_stdin_and_stdout() {
    let d = Dir::new();
    for flags in [&[][..], &["--opaque"][..]] {
        let mut args = vec!["sign", "--identity", "alice-id.pem"];
        args.extend_from_slice(flags);
        let signed = d.mss_stdin(&args, DRAFT.as_bytes());
        signed.ok();
        assert!(
            contains(&signed.stdout, b"Subject: Compte rendu"),
            "signed message on stdout"
        );
        let opened = d.mss_stdin(&["open", "--trust", "ca.pem"], &signed.stdout);
        opened.ok();
        assert_body(&opened.stdout);
        assert!(
            !contains(&opened.stdout, b"application/pkcs7"),
            "stdout is the clear message"
        );
        assert!(opened.stderr.contains("VALID"), "{}", opened.stderr);
    }
}

#[test]
fn sign_with_pkcs12_identities_and_pin_env() {
    let d = Dir::new();
    for id in ["alice.p12", "alice-legacy.p12"] {
        let out = format!("{id}.eml");
        d.mss(&[
            "sign",
            "--identity",
            id,
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            &out,
        ])
        .ok();
        let (_, v) = d.open(&out, None, 0);
        assert_one_signature(&v, "valid", "alice@example.test");
    }
}

#[test]
fn a_wrong_or_missing_password_fails_without_output() {
    let d = Dir::new();
    for id in ["alice.p12", "alice-legacy.p12"] {
        let run = d.mss_full(
            &[
                "sign",
                "--identity",
                id,
                "--pin-env",
                PIN_VAR,
                "--in",
                "draft.eml",
                "--out",
                "out.eml",
            ],
            b"",
            "not-the-password",
        );
        assert_ne!(run.code, 0, "a wrong password must fail: {}", run.stderr);
        assert!(
            run.stderr.contains(id),
            "the message names the identity: {}",
            run.stderr
        );
        assert!(
            run.stderr.to_lowercase().contains("password"),
            "{}",
            run.stderr
        );
        assert!(!d.exists("out.eml"), "no output file after a failure");
    }
    // Unset variable: say which one.
    let run = d.mss(&[
        "sign",
        "--identity",
        "alice.p12",
        "--pin-env",
        "MSS_CLI_TEST_UNSET_VARIABLE",
        "--in",
        "draft.eml",
        "--out",
        "out.eml",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("MSS_CLI_TEST_UNSET_VARIABLE"),
        "name the unset variable: {}",
        run.stderr
    );
    assert!(!d.exists("out.eml"));

    // encrypt --sign-with and open --identity too.
    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--in",
        "draft.eml",
        "--out",
        "sealed.eml",
    ])
    .ok();
    let run = d.mss_full(
        &[
            "encrypt",
            "--to",
            "bob.pem",
            "--sign-with",
            "alice.p12",
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "out.eml",
        ],
        b"",
        "not-the-password",
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(!d.exists("out.eml"));
    let run = d.mss_full(
        &[
            "open",
            "--identity",
            "bob.p12",
            "--pin-env",
            PIN_VAR,
            "--trust",
            "ca.pem",
            "--in",
            "sealed.eml",
            "--out",
            "out.eml",
            "--report-json",
            "r.json",
        ],
        b"",
        "not-the-password",
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        !d.exists("out.eml") && !d.exists("r.json"),
        "no output file after a failure"
    );
}

#[test]
fn a_failed_command_leaves_an_existing_output_file_untouched() {
    let d = Dir::new();
    d.write("out.eml", b"previous content");
    let run = d.mss_full(
        &[
            "sign",
            "--identity",
            "alice.p12",
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            "out.eml",
        ],
        b"",
        "not-the-password",
    );
    assert_ne!(run.code, 0);
    assert_eq!(d.read("out.eml"), b"previous content");
}

// ------------------------------------------------------------------ encrypt

#[test]
fn encrypt_with_each_cipher_opens_for_bob_and_for_alice() {
    let d = Dir::new();
    for cipher in [
        "aes-256-cbc",
        "aes-192-cbc",
        "aes-128-cbc",
        "aes-128-gcm",
        "aes-256-gcm",
    ] {
        let out = format!("sealed-{cipher}.eml");
        let run = d.mss(&[
            "encrypt",
            "--to",
            "bob.pem",
            "--sender-cert",
            "alice.pem",
            "--cipher",
            cipher,
            "--in",
            "draft.eml",
            "--out",
            &out,
        ]);
        run.ok();
        assert!(run.stdout.is_empty());
        let sealed = d.read(&out);
        assert!(contains(&sealed, b"application/pkcs7-mime"), "{cipher}");
        assert!(
            !contains(&sealed, BODY_LINE.as_bytes()),
            "{cipher}: the body is not in clear"
        );
        for id in ["bob-id.pem", "alice-id.pem"] {
            let clear = format!("{out}.{id}.txt");
            let report = format!("{out}.{id}.json");
            let run = d.mss(&[
                "open",
                "--identity",
                id,
                "--trust",
                "ca.pem",
                "--in",
                &out,
                "--out",
                &clear,
                "--report-json",
                &report,
            ]);
            run.ok();
            assert_body(&d.read(&clear));
            let v = d.report(&report);
            assert_eq!(v["encrypted"], true, "{cipher}/{id}: {v:#}");
            assert_eq!(v["content_cipher"], cipher, "{cipher}/{id}: {v:#}");
            assert!(signatures(&v).is_empty(), "{v:#}");
        }
    }
}

#[test]
fn encrypt_oaep_and_key_transport_by_name() {
    let d = Dir::new();
    let cases: [(&[&str], &str); 3] = [
        (&["--oaep"], "rsaesOaep"),
        (&["--key-transport", "rsa-oaep-sha256"], "rsaesOaep"),
        (&[], "rsaEncryption"),
    ];
    for (i, (flags, oid_name)) in cases.iter().enumerate() {
        let out = format!("sealed-{i}.eml");
        let mut args = vec![
            "encrypt",
            "--to",
            "bob.pem",
            "--sender-cert",
            "alice.pem",
            "--in",
            "draft.eml",
            "--out",
            &out,
        ];
        args.extend_from_slice(flags);
        d.mss(&args).ok();
        let printed = d.openssl(&["cms", "-cmsout", "-print", "-in", &out]);
        let printed = String::from_utf8_lossy(&printed.stdout);
        assert!(
            printed.contains(oid_name),
            "{flags:?}: key transport {oid_name} expected in\n{printed}"
        );
        for id in ["bob-id.pem", "alice-id.pem"] {
            let (run, v) = d.open(&out, Some(id), 0);
            assert_eq!(v["encrypted"], true);
            assert!(
                run.stderr.contains(if oid_name.contains("Oaep") {
                    "rsa-oaep"
                } else {
                    "rsa-pkcs1v15"
                }),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn sign_with_pkcs12_then_encrypt_opens_for_both() {
    let d = Dir::new();
    for (i, id) in ["alice.p12", "alice-legacy.p12"].iter().enumerate() {
        let out = format!("sealed-{i}.eml");
        d.mss(&[
            "encrypt",
            "--to",
            "bob.der",
            "--sign-with",
            id,
            "--pin-env",
            PIN_VAR,
            "--cipher",
            "aes-256-gcm",
            "--in",
            "draft.eml",
            "--out",
            &out,
        ])
        .ok();
        for reader in ["bob.p12", "alice-legacy.p12", "bob-id.pem"] {
            let (run, v) = d.open(&out, Some(reader), 0);
            assert_eq!(v["encrypted"], true, "{v:#}");
            assert_eq!(v["content_cipher"], "aes-256-gcm", "{v:#}");
            assert_one_signature(&v, "valid", "alice@example.test");
            assert_body(&run.stdout);
        }
    }
}

#[test]
fn several_recipients_each_open() {
    let d = Dir::new();
    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--to",
        "eve.der",
        "--sender-cert",
        "alice.der",
        "--in",
        "draft.eml",
        "--out",
        "sealed.eml",
    ])
    .ok();
    for id in ["bob-id.pem", "eve-id.pem", "alice-id.pem"] {
        let (run, v) = d.open("sealed.eml", Some(id), 0);
        assert_eq!(v["encrypted"], true);
        assert_body(&run.stdout);
    }
}

#[test]
fn recipient_certificates_in_pem_and_der() {
    let d = Dir::new();
    for (to, sender) in [
        ("bob.pem", "alice.pem"),
        ("bob.der", "alice.der"),
        ("bob-id.pem", "alice.pem"),
    ] {
        let out = format!("sealed-{to}.eml");
        d.mss(&[
            "encrypt",
            "--to",
            to,
            "--sender-cert",
            sender,
            "--in",
            "draft.eml",
            "--out",
            &out,
        ])
        .ok();
        for id in ["bob-id.pem", "alice-id.pem"] {
            let (run, _) = d.open(&out, Some(id), 0);
            assert_body(&run.stdout);
        }
    }
}

#[test]
fn someone_not_a_recipient_cannot_decrypt_and_gets_no_file() {
    let d = Dir::new();
    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sign-with",
        "alice.p12",
        "--pin-env",
        PIN_VAR,
        "--in",
        "draft.eml",
        "--out",
        "sealed.eml",
    ])
    .ok();
    for id in [
        &["--identity", "eve-id.pem"][..],
        &["--identity", "eve.p12", "--pin-env", PIN_VAR][..],
        &[][..],
    ] {
        let mut args = vec![
            "open",
            "--trust",
            "ca.pem",
            "--in",
            "sealed.eml",
            "--out",
            "clear.eml",
            "--report-json",
            "r.json",
        ];
        args.extend_from_slice(id);
        let run = d.mss(&args);
        run.expect_code(12);
        assert!(run.stderr.contains("decrypt"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            !d.exists("clear.eml"),
            "no --out file when decryption fails"
        );
        assert!(!d.exists("r.json"), "no report when decryption fails");
    }
}

#[test]
fn encrypt_without_sender_certificate_is_a_usage_error() {
    let d = Dir::new();
    let run = d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--in",
        "draft.eml",
        "--out",
        "out.eml",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("--sender-cert"), "{}", run.stderr);
    assert!(run.stderr.contains("--sign-with"), "{}", run.stderr);
    assert!(
        run.stderr.contains("sent copy"),
        "explain why: {}",
        run.stderr
    );
    assert!(!d.exists("out.eml"));

    // The usage error comes before reading standard input: with stdin left open, the
    // command must still end at once.
    let mut child = d
        .command(PASSWORD)
        .args(["encrypt", "--to", "bob.pem"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mss");
    let stdin = child.stdin.take();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait mss") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let status =
        status.expect("`mss encrypt` without a sender waited on standard input instead of failing");
    assert_eq!(status.code(), Some(2));
}

// ------------------------------------------------------------------ policy

#[test]
fn triple_des_needs_allow_legacy_and_is_reported_weak() {
    let d = Dir::new();
    let run = d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--cipher",
        "des-ede3-cbc",
        "--in",
        "draft.eml",
        "--out",
        "legacy.eml",
    ]);
    run.expect_code(14);
    assert!(
        run.stderr.contains("policy standard"),
        "name the policy: {}",
        run.stderr
    );
    assert!(run.stderr.contains("des-ede3-cbc"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--allow-legacy"),
        "say how to override: {}",
        run.stderr
    );
    assert!(
        !d.exists("legacy.eml"),
        "no output file when the policy refuses"
    );

    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--cipher",
        "des-ede3-cbc",
        "--allow-legacy",
        "--in",
        "draft.eml",
        "--out",
        "legacy.eml",
    ])
    .ok();
    let (run, v) = d.open("legacy.eml", Some("bob-id.pem"), 0);
    assert_body(&run.stdout);
    assert_eq!(v["content_cipher"], "des-ede3-cbc");
    assert!(
        warnings(&v).iter().any(|w| w.starts_with("weak-algorithm")),
        "a weak-algorithm warning is expected: {v:#}"
    );
    assert!(run.stderr.contains("weak-algorithm"), "{}", run.stderr);
}

#[test]
fn sha1_signing_needs_allow_legacy() {
    let d = Dir::new();
    let run = d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--digest",
        "sha1",
        "--in",
        "draft.eml",
        "--out",
        "s.eml",
    ]);
    run.expect_code(14);
    assert!(run.stderr.contains("policy"), "{}", run.stderr);
    assert!(!d.exists("s.eml"));
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--digest",
        "sha1",
        "--allow-legacy",
        "--in",
        "draft.eml",
        "--out",
        "s.eml",
    ])
    .ok();
    assert!(d.exists("s.eml"));
}

// ------------------------------------------------------------------ open verdicts

/// Flip one byte of `needle` inside `data`.
fn flip_in(data: &[u8], needle: &[u8]) -> Vec<u8> {
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)));
    let mut out = data.to_vec();
    out[at + 1] ^= 0x01; // "12/8" -> "02/8"
    out
}

#[test]
fn a_tampered_signed_message_exits_10() {
    let d = Dir::new();
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "signed.eml",
    ])
    .ok();
    let tampered = flip_in(&d.read("signed.eml"), b"12/8");
    d.write("tampered.eml", &tampered);
    let (run, v) = d.open("tampered.eml", None, 10);
    assert!(run.stderr.contains("INVALID"), "{}", run.stderr);
    assert_one_signature(&v, "invalid", "alice@example.test");

    // Opaque: flip a byte of the signed content inside the CMS (bare DER input).
    d.mss(&[
        "sign",
        "--opaque",
        "--identity",
        "alice-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "opaque.eml",
    ])
    .ok();
    d.openssl(&[
        "cms",
        "-cmsout",
        "-in",
        "opaque.eml",
        "-outform",
        "DER",
        "-out",
        "opaque.der",
    ]);
    let der = d.read("opaque.der");
    d.mss(&["open", "--trust", "ca.pem", "--in", "opaque.der"])
        .ok();
    d.write("opaque-tampered.der", &flip_in(&der, b"12/8"));
    let (_, v) = d.open("opaque-tampered.der", None, 10);
    assert_one_signature(&v, "invalid", "alice@example.test");

    // The tampered signed message, then encrypted to bob: decrypted fine, still 10.
    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--in",
        "tampered.eml",
        "--out",
        "tampered-sealed.eml",
    ])
    .ok();
    let (_, v) = d.open("tampered-sealed.eml", Some("bob-id.pem"), 10);
    assert_eq!(v["encrypted"], true, "{v:#}");
    assert_one_signature(&v, "invalid", "alice@example.test");
}

#[test]
fn a_signer_under_an_untrusted_authority_exits_11() {
    let d = Dir::new();
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "signed.eml",
    ])
    .ok();
    let run = d.mss(&[
        "open",
        "--trust",
        "eve-ca.pem",
        "--in",
        "signed.eml",
        "--report-json",
        "r.json",
    ]);
    run.expect_code(11);
    assert!(run.stderr.contains("UNTRUSTED"), "{}", run.stderr);
    let v = d.report("r.json");
    assert_one_signature(&v, "untrusted", "alice@example.test");
    // No --trust at all: nobody is trusted.
    d.mss(&["open", "--in", "signed.eml"]).expect_code(11);
    // Eve signs, only alice's authority is trusted.
    d.mss(&[
        "sign",
        "--identity",
        "eve-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "eve.eml",
    ])
    .ok();
    let (_, v) = d.open("eve.eml", None, 11);
    assert_one_signature(&v, "untrusted", "eve@example.test");
}

#[test]
fn a_trust_bundle_with_several_authorities() {
    let d = Dir::new();
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "alice.eml",
    ])
    .ok();
    d.mss(&[
        "sign",
        "--identity",
        "eve-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "eve.eml",
    ])
    .ok();
    // Eve signs a draft whose From is Alice: valid and trusted, but a signer mismatch,
    // which never exits 0 (15).
    for (file, email, code) in [
        ("alice.eml", "alice@example.test", 0),
        ("eve.eml", "eve@example.test", 15),
    ] {
        let run = d.mss(&[
            "open",
            "--trust",
            "bundle.pem",
            "--in",
            file,
            "--report-json",
            "r.json",
        ]);
        run.expect_code(code);
        let report = d.report("r.json");
        assert_one_signature(&report, "valid", email);
        let mismatch = report["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w == "signer-mismatch"));
        assert_eq!(mismatch, code == 15, "{report}");
    }
    // Repeated --trust, PEM and DER.
    d.mss(&[
        "open",
        "--trust",
        "eve-ca.pem",
        "--trust",
        "ca.der",
        "--in",
        "alice.eml",
    ])
    .ok();
}

#[test]
fn garbage_input_exits_13_without_output() {
    let d = Dir::new();
    let mut random = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..600 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push((x >> 24) as u8);
    }
    let mut fake_der = vec![0x30, 0x82, 0x02, 0x00];
    fake_der.extend_from_slice(&random[..100]);
    let garbage: [(&str, Vec<u8>); 4] = [
        ("text", b"this is not a mail message at all\n".to_vec()),
        ("random", random),
        ("der", fake_der),
        (
            "pkcs7",
            b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\
              Content-Transfer-Encoding: base64\r\n\r\nTm90IENNUw==\r\n"
                .to_vec(),
        ),
    ];
    for (name, data) in &garbage {
        let file = format!("{name}.bin");
        d.write(&file, data);
        let run = d.mss(&[
            "open",
            "--identity",
            "bob-id.pem",
            "--trust",
            "ca.pem",
            "--in",
            &file,
            "--out",
            "clear.eml",
            "--report-json",
            "r.json",
        ]);
        run.expect_code(13);
        assert!(
            !d.exists("clear.eml") && !d.exists("r.json"),
            "{name}: no output after a failure"
        );
        // Through stdin as well.
        d.mss_stdin(&["open", "--trust", "ca.pem"], data)
            .expect_code(13);
    }
}

#[test]
fn exit_codes_for_usage_errors() {
    let d = Dir::new();
    d.mss(&["sign"]).expect_code(2);
    d.mss(&["open", "--no-such-flag"]).expect_code(2);
    d.mss(&["encrypt", "--sender-cert", "alice.pem", "--in", "draft.eml"])
        .expect_code(2);
    d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--cipher",
        "rot13",
        "--in",
        "draft.eml",
    ])
    .expect_code(2);
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--digest",
        "crc32",
        "--in",
        "draft.eml",
    ])
    .expect_code(2);
    // A missing input file is "other" (1), not a usage error.
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--in",
        "no-such-file.eml",
    ])
    .expect_code(1);
}

// ------------------------------------------------------------------ OpenSSL interop

#[test]
fn openssl_verifies_what_mss_signs() {
    let d = Dir::new();
    for (i, flags) in [
        &[][..],
        &["--opaque"][..],
        &["--pss"][..],
        &["--digest", "sha384"][..],
    ]
    .iter()
    .enumerate()
    {
        let out = format!("signed-{i}.eml");
        let mut args = vec![
            "sign",
            "--identity",
            "alice.p12",
            "--pin-env",
            PIN_VAR,
            "--in",
            "draft.eml",
            "--out",
            &out,
        ];
        args.extend_from_slice(flags);
        d.mss(&args).ok();
        let content = format!("content-{i}.txt");
        let verified = d.try_openssl(&[
            "cms", "-verify", "-CAfile", "ca.pem", "-in", &out, "-out", &content,
        ]);
        assert!(
            verified.status.success(),
            "openssl cms -verify rejects `mss sign {flags:?}`:\n{}",
            String::from_utf8_lossy(&verified.stderr)
        );
        assert_body(&d.read(&content));
        // And refuses it when alice's authority is not the one trusted.
        let refused = d.try_openssl(&[
            "cms",
            "-verify",
            "-CAfile",
            "eve-ca.pem",
            "-in",
            &out,
            "-out",
            "x.txt",
        ]);
        assert!(
            !refused.status.success(),
            "openssl must not trust alice under eve's CA"
        );
    }
}

#[test]
fn openssl_decrypts_what_mss_encrypts() {
    let d = Dir::new();
    let cases: [&[&str]; 4] = [
        &["--sender-cert", "alice.pem"],
        &[
            "--sender-cert",
            "alice.pem",
            "--cipher",
            "aes-128-cbc",
            "--oaep",
        ],
        &["--sender-cert", "alice.pem", "--cipher", "aes-256-gcm"],
        &[
            "--sign-with",
            "alice.p12",
            "--pin-env",
            PIN_VAR,
            "--cipher",
            "aes-128-gcm",
        ],
    ];
    for (i, flags) in cases.iter().enumerate() {
        let out = format!("sealed-{i}.eml");
        let mut args = vec![
            "encrypt",
            "--to",
            "bob.pem",
            "--in",
            "draft.eml",
            "--out",
            &out,
        ];
        args.extend_from_slice(flags);
        d.mss(&args).ok();
        for (cert, key) in [("bob.pem", "bob.key"), ("alice.pem", "alice.key")] {
            let clear = format!("clear-{i}-{cert}.txt");
            let run = d.try_openssl(&[
                "cms", "-decrypt", "-recip", cert, "-inkey", key, "-in", &out, "-out", &clear,
            ]);
            assert!(
                run.status.success(),
                "openssl cms -decrypt ({cert}) rejects `mss encrypt {flags:?}`:\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
            assert_body(&d.read(&clear));
        }
        let run = d.try_openssl(&[
            "cms", "-decrypt", "-recip", "eve.pem", "-inkey", "eve.key", "-in", &out, "-out",
            "eve.txt",
        ]);
        assert!(!run.status.success(), "eve is not a recipient");
    }
}

#[test]
fn mss_opens_what_openssl_signs() {
    let d = Dir::new();
    for (i, extra) in [
        &[][..],
        &["-nodetach"][..],
        &["-md", "sha512"][..],
        &["-keyopt", "rsa_padding_mode:pss"][..],
    ]
    .iter()
    .enumerate()
    {
        let out = format!("openssl-signed-{i}.eml");
        let mut args = vec![
            "cms",
            "-sign",
            "-signer",
            "alice.pem",
            "-inkey",
            "alice.key",
            "-certfile",
            "ca.pem",
            "-in",
            "draft.eml",
            "-out",
            &out,
        ];
        args.extend_from_slice(extra);
        d.openssl(&args);
        let (run, v) = d.open(&out, None, 0);
        assert_one_signature(&v, "valid", "alice@example.test");
        assert_body(&run.stdout);
        assert_eq!(v["encrypted"], false);
    }
    // Tampered OpenSSL output: 10.
    d.openssl(&[
        "cms",
        "-sign",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-in",
        "draft.eml",
        "-out",
        "o.eml",
    ]);
    d.write("o-tampered.eml", &flip_in(&d.read("o.eml"), b"12/8"));
    d.open("o-tampered.eml", None, 10);
}

#[test]
fn mss_opens_what_openssl_encrypts() {
    let d = Dir::new();
    for (cipher_flag, name) in [
        ("-aes256", "aes-256-cbc"),
        ("-aes128", "aes-128-cbc"),
        ("-aes-256-gcm", "aes-256-gcm"),
    ] {
        let out = format!("openssl{cipher_flag}.eml");
        d.openssl(&[
            "cms",
            "-encrypt",
            cipher_flag,
            "-in",
            "draft.eml",
            "-out",
            &out,
            "bob.pem",
        ]);
        let (run, v) = d.open(&out, Some("bob-id.pem"), 0);
        assert_body(&run.stdout);
        assert_eq!(v["encrypted"], true);
        assert_eq!(v["content_cipher"], name);
        // Alice is not a recipient of this one.
        d.mss(&[
            "open",
            "--identity",
            "alice-id.pem",
            "--trust",
            "ca.pem",
            "--in",
            &out,
        ])
        .expect_code(12);
    }
    // Signed by OpenSSL, then encrypted by OpenSSL: opened, decrypted and verified.
    d.openssl(&[
        "cms",
        "-sign",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-in",
        "draft.eml",
        "-out",
        "os.eml",
    ]);
    d.openssl(&[
        "cms", "-encrypt", "-aes256", "-in", "os.eml", "-out", "ose.eml", "bob.pem",
    ]);
    let (_, v) = d.open("ose.eml", Some("bob.p12"), 0);
    assert_eq!(v["encrypted"], true);
    assert_one_signature(&v, "valid", "alice@example.test");
}

// ------------------------------------------------------------------ demo and help

#[test]
fn demo_runs_from_nothing() {
    let d = Dir::new();
    let run = d.mss(&["demo"]);
    run.ok();
    let out = run.stdout_text();
    assert!(out.contains("VALID"), "{out}");
    assert!(
        out.contains("INVALID"),
        "the tampered copy is reported: {out}"
    );
    assert!(out.contains("Caught"), "{out}");
    assert!(!out.contains("NOT CAUGHT"), "{out}");
    assert!(out.contains("--dir"), "say how to keep the files: {out}");
}

#[test]
fn demo_keeps_its_files_with_dir() {
    let d = Dir::new();
    let run = d.mss(&["demo", "--dir", "kept/demo"]);
    run.ok();
    let kept =
        std::fs::canonicalize(d.path("kept/demo")).expect("demo --dir creates the directory");
    for f in ["ca.pem", "alice.pem", "bob.pem", "signed.eml", "sealed.eml"] {
        assert!(kept.join(f).is_file(), "demo --dir keeps {f}");
    }
    let out = run.stdout_text();
    assert!(
        out.contains(&kept.join("sealed.eml").display().to_string()),
        "the try-it line points at the kept files: {out}"
    );
    // The kept identities open the kept sealed message, trusting the kept authority.
    for id in ["bob.pem", "alice.pem"] {
        let report = format!("{id}.json");
        let run = d.mss(&[
            "open",
            "--trust",
            "kept/demo/ca.pem",
            "--identity",
            &format!("kept/demo/{id}"),
            "--in",
            "kept/demo/sealed.eml",
            "--report-json",
            &report,
        ]);
        run.ok();
        assert!(run.stdout_text().contains("12/8"), "{}", run.stdout_text());
        let v = d.report(&report);
        assert_eq!(v["encrypted"], true, "{v:#}");
        assert_eq!(v["content_cipher"], "aes-256-gcm", "{v:#}");
        assert_one_signature(&v, "valid", "alice.martin@demo.mssante.test");
    }
    // The kept signed message opens too; our test authority does not vouch for it.
    d.mss(&[
        "open",
        "--trust",
        "kept/demo/ca.pem",
        "--in",
        "kept/demo/signed.eml",
    ])
    .ok();
    d.mss(&["open", "--trust", "ca.pem", "--in", "kept/demo/signed.eml"])
        .expect_code(11);
}

/// `mss [SUBCOMMAND] --help` exits 0 and lists every flag of the contract.
#[test]
fn help_lists_the_contract_flags() {
    let d = Dir::new();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--help"], &["sign", "encrypt", "open", "demo"]),
        (
            &["sign", "--help"],
            &[
                "--identity",
                "--opaque",
                "--digest",
                "--in",
                "--out",
                "--pss",
                "--allow-legacy",
                "--pin-env",
            ],
        ),
        (
            &["encrypt", "--help"],
            &[
                "--to",
                "--sign-with",
                "--cipher",
                "--in",
                "--out",
                "--sender-cert",
                "--oaep",
                "--key-transport",
                "--allow-legacy",
                "--pin-env",
                "aes-256-cbc",
                "aes-128-cbc",
                "aes-128-gcm",
                "aes-256-gcm",
                "des-ede3-cbc",
            ],
        ),
        (
            &["open", "--help"],
            &[
                "--identity",
                "--trust",
                "--in",
                "--out",
                "--report-json",
                "--pin-env",
            ],
        ),
        (&["demo", "--help"], &["--dir"]),
    ];
    for (args, words) in cases {
        let run = d.mss(args);
        run.ok();
        let text = run.stdout_text();
        for w in words {
            let found = text
                .split(|c: char| {
                    c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == '[' || c == ']'
                })
                .any(|tok| tok == *w);
            assert!(found, "`mss {}` does not list {w}:\n{text}", args.join(" "));
        }
    }
}

// ------------------------------------------------------------------ historic algorithms

#[test]
fn historic_ciphers_need_allow_legacy_and_openssl_reads_them() {
    let d = Dir::new();
    for (name, shown) in [
        ("des", "des-cbc"),
        ("rc2-40", "rc2-40"),
        ("rc2-64", "rc2-64"),
        ("rc2-128", "rc2-128"),
        ("rc4", "rc4"),
    ] {
        let out = format!("{name}.eml");
        let args = [
            "encrypt",
            "--to",
            "bob.pem",
            "--sender-cert",
            "alice.pem",
            "--cipher",
            name,
            "--in",
            "draft.eml",
            "--out",
            &out,
        ];
        let run = d.mss(&args);
        run.expect_code(14);
        assert!(
            run.stderr.contains("policy standard"),
            "{name}: name the policy: {}",
            run.stderr
        );
        assert!(run.stderr.contains(shown), "{name}: {}", run.stderr);
        assert!(!d.exists(&out), "{name}: no output when refused");

        let mut legacy = args.to_vec();
        legacy.push("--allow-legacy");
        d.mss(&legacy).ok();
        let (run, v) = d.open(&out, Some("bob-id.pem"), 0);
        assert_body(&run.stdout);
        assert_eq!(v["content_cipher"], shown, "{v:#}");
        assert!(
            warnings(&v).iter().any(|w| w.starts_with("weak-algorithm")),
            "{name}: a weak-algorithm warning is expected: {v:#}"
        );
        // OpenSSL 3 with its legacy provider decrypts it too.
        let clear = format!("{name}.clear");
        d.openssl(&[
            "cms",
            "-decrypt",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-in",
            &out,
            "-recip",
            "bob.pem",
            "-inkey",
            "bob-id.pem",
            "-out",
            &clear,
        ]);
        assert_body(&d.read(&clear));
    }
}

#[test]
fn md5_digest_is_refused_on_sign_and_encrypt_without_allow_legacy() {
    let d = Dir::new();
    let run = d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--digest",
        "md5",
        "--in",
        "draft.eml",
        "--out",
        "md5.eml",
    ]);
    run.expect_code(14);
    assert!(run.stderr.contains("policy standard"), "{}", run.stderr);
    assert!(run.stderr.to_lowercase().contains("md5"), "{}", run.stderr);
    assert!(!d.exists("md5.eml"));
    let run = d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sign-with",
        "alice-id.pem",
        "--digest",
        "md5",
        "--in",
        "draft.eml",
        "--out",
        "md5e.eml",
    ]);
    run.expect_code(14);
    assert!(run.stderr.contains("policy standard"), "{}", run.stderr);
    assert!(!d.exists("md5e.eml"));
    // SHA-1 on encrypt+sign: refused, then produced under --allow-legacy.
    let args = [
        "encrypt",
        "--to",
        "bob.pem",
        "--sign-with",
        "alice-id.pem",
        "--digest",
        "sha1",
        "--in",
        "draft.eml",
        "--out",
        "sha1e.eml",
    ];
    d.mss(&args).expect_code(14);
    assert!(!d.exists("sha1e.eml"));
    let mut legacy = args.to_vec();
    legacy.push("--allow-legacy");
    d.mss(&legacy).ok();
    let (_, v) = d.open("sha1e.eml", Some("bob-id.pem"), 0);
    assert!(
        warnings(&v).iter().any(|w| w.starts_with("weak-algorithm")),
        "{v:#}"
    );
}

#[test]
fn unknown_cipher_or_digest_names_are_usage_errors() {
    let d = Dir::new();
    let run = d.mss(&[
        "encrypt",
        "--to",
        "bob.pem",
        "--sender-cert",
        "alice.pem",
        "--cipher",
        "blowfish",
        "--in",
        "draft.eml",
        "--out",
        "x.eml",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("--cipher blowfish"), "{}", run.stderr);
    let run = d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--digest",
        "whirlpool",
        "--in",
        "draft.eml",
        "--out",
        "x.eml",
    ]);
    run.expect_code(2);
    assert!(!d.exists("x.eml"));
}

#[test]
fn a_pkcs11_identity_without_a_module_fails_cleanly() {
    let d = Dir::new();
    let mut cmd = d.command(PASSWORD);
    cmd.env_remove("MSS_PKCS11_MODULE").args([
        "sign",
        "--identity",
        "pkcs11:token=CPS",
        "--pin-env",
        PIN_VAR,
        "--in",
        "draft.eml",
        "--out",
        "card.eml",
    ]);
    let out = run_raw(&mut cmd, b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pkcs11:token=CPS"), "{stderr}");
    assert!(!d.exists("card.eml"));
    // A module path that does not exist is named.
    let run = d.mss(&[
        "sign",
        "--identity",
        "pkcs11:token=CPS",
        "--module",
        "/nonexistent/libpkcs11.so",
        "--pin-env",
        PIN_VAR,
        "--in",
        "draft.eml",
        "--out",
        "card.eml",
    ]);
    run.expect_code(1);
    assert!(!d.exists("card.eml"));
}

#[test]
fn an_ec_identity_signs_with_ecdsa_and_openssl_verifies() {
    let d = Dir::new();
    d.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ec.key",
        "-out",
        "ec.pem",
        "-subj",
        "/CN=Alice EC/emailAddress=alice@example.test",
        "-addext",
        "keyUsage=critical,digitalSignature",
        "-addext",
        "extendedKeyUsage=emailProtection",
        "-addext",
        "subjectAltName=email:alice@example.test",
        "-days",
        "2",
    ]);
    let mut bundle = d.read("ec.key");
    bundle.extend(d.read("ec.pem"));
    d.write("ec-id.pem", &bundle);
    d.mss(&[
        "sign",
        "--identity",
        "ec-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "ec.eml",
    ])
    .ok();
    let out = d.try_openssl(&[
        "cms",
        "-verify",
        "-noverify",
        "-in",
        "ec.eml",
        "-out",
        "ec.txt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(contains(&d.read("ec.txt"), b"Tension arterielle 12/8"));
    let print = d.openssl(&["cms", "-cmsout", "-print", "-in", "ec.eml"]);
    let text = String::from_utf8_lossy(&print.stdout);
    assert!(text.contains("ecdsa-with-SHA256"), "{text}");
    // mss verifies it with the certificate as the trust anchor.
    let run = d.mss(&["open", "--trust", "ec.pem", "--in", "ec.eml"]);
    run.ok();
}

#[test]
fn a_signed_part_inside_an_unsigned_message_exits_15() {
    let d = Dir::new();
    d.mss(&[
        "sign",
        "--identity",
        "alice-id.pem",
        "--in",
        "draft.eml",
        "--out",
        "signed.eml",
    ])
    .ok();
    let signed = d.read("signed.eml");
    let at = signed
        .windows(30)
        .position(|w| w == b"Content-Type: multipart/signed")
        .expect("multipart/signed");
    let mut msg = b"From: Alice Martin <alice@example.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"W\"\r\n\r\n--W\r\n\
        Content-Type: text/plain\r\n\r\nYou are fired.\r\n--W\r\n"
        .to_vec();
    msg.extend_from_slice(&signed[at..]);
    msg.extend_from_slice(b"\r\n--W--\r\n");
    d.write("partial.eml", &msg);
    let (run, v) = d.open("partial.eml", None, 15);
    assert!(run.stderr.contains("partial-signature"), "{}", run.stderr);
    assert_one_signature(&v, "valid", "alice@example.test");
    assert_eq!(v["layers"][0]["part"], "2", "{v}");
    assert_eq!(v["parts"][0]["path"], "1", "{v}");
    assert_eq!(v["parts"][0]["signed_by"], serde_json::json!([]), "{v}");
    assert_eq!(v["parts"][1]["signed_by"], serde_json::json!([0]), "{v}");
    // The signed message itself, opened whole, is covered and exits 0.
    let (_, v) = d.open("signed.eml", None, 0);
    assert_eq!(v["parts"][0]["signed_by"], serde_json::json!([0]), "{v}");
}
