//! Shared helpers for the cross-crate and interoperability tests of mss.
//!
//! - [`require`], [`run`], [`run_with_input`], [`try_run`]: drive the external peers
//!   (OpenSSL's `openssl cms`, NSS's `cmsutil`/`certutil`/`pk12util`). A missing peer is a
//!   test **failure** whose message says how to install it — never a skip.
//! - [`Pki`]: a small PKI made with the `openssl` command line (root CA, users
//!   `alice@example.test`, `bob@example.test`, `carol@example.test`, and `mallory`, who
//!   is issued by another, untrusted CA). It is generated once per test binary and kept
//!   in memory; [`Workdir`] writes it to a per-test temporary directory, and
//!   [`Workdir::nss`] builds an NSS database from it.
//! - [`mime`]: just enough MIME to move CMS between S/MIME messages (what mss speaks)
//!   and raw DER/BER (what `cmsutil` speaks).
//! - [`der`]: a minimal DER tree, to tamper with CMS structures in precise places.
//! - [`soft`]: an in-memory PKI (CA, Alice, Bob) made with `mss_token::ca`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod der;
pub mod mime;
pub mod soft;
mod stream_alike;

pub use stream_alike::{Pieces, assert_streams_alike};

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Deterministic pseudo-random content of `len` bytes (xorshift: incompressible, every
/// byte value), the same for every caller.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Password of every PKCS#12 file of the test PKI.
pub const PASSWORD: &str = "mss-test-pin";

/// Which Debian package provides an external tool, for the install hint.
fn package_of(tool: &str) -> &'static str {
    match tool {
        "openssl" => "openssl",
        "cmsutil" | "certutil" | "pk12util" => "libnss3-tools",
        _ => "(unknown package)",
    }
}

/// Find `tool` on `PATH`, or panic with instructions to install it.
///
/// Tests that need a peer call this first: a missing peer fails the test, it does not
/// skip it.
pub fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "required peer `{tool}` is not installed.\n\
         Install it with `bash scripts/install-deps.sh` (as root or with sudo), \
         or `apt-get install {}` on Debian/Ubuntu.",
        package_of(tool)
    );
}

/// A [`Command`] for `tool`, after [`require`]-ing it.
pub fn tool(tool: &str) -> Command {
    Command::new(require(tool))
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run `cmd` with `input` on its standard input (empty when `None`), returning its
/// output whatever its exit status.
pub fn try_run(cmd: &mut Command, input: Option<&[u8]>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let data = input.unwrap_or_default().to_vec();
    // Feed stdin from a thread so that a large output cannot dead-lock us.
    let feeder = std::thread::spawn(move || {
        // The peer may exit without reading everything (e.g. on error): ignore EPIPE.
        let _ = stdin.write_all(&data);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for `{}`: {e}", describe(cmd)));
    feeder.join().expect("stdin feeder thread");
    out
}

/// Run `cmd` and return its output; panic with its stderr when it fails.
pub fn run(cmd: &mut Command) -> Output {
    run_with_input(cmd, &[])
}

/// Run `cmd` with `input` on its standard input; panic with its stderr when it fails.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let out = try_run(cmd, Some(input));
    if !out.status.success() {
        panic!(
            "`{}` failed ({}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    out
}

/// Replace CRLF by LF, to compare texts whatever their line ends.
pub fn lf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Replace bare LF by CRLF (the canonical form of MIME text).
pub fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for &b in lf(text).iter() {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// Position of the first occurrence of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A MIME entity to sign or encrypt, unique per call (so that no test can pass on a
/// stale file): text/plain with CRLF line ends and some non-ASCII text.
pub fn sample_content(tag: &str) -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Bonjour Bob,\r\n\
         compte rendu d'hospitalisation — test {tag}, n° {n}-{nanos}.\r\n\
         Cordialement,\r\n\
         Alice\r\n"
    )
    .into_bytes()
}

/// A complete draft message (RFC 5322 headers + MIME entity), as a mail client would
/// hand it to mss.
pub fn sample_draft(tag: &str, from: &str, to: &str) -> Vec<u8> {
    let mut d = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: mss interop {tag}\r\n\
         Date: Mon, 01 Jan 2024 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
    )
    .into_bytes();
    d.extend_from_slice(&sample_content(tag));
    d
}

/// A Content-Type value without its RFC 9788 `hp` parameter.
fn without_hp(value: &str) -> String {
    value
        .split(';')
        .filter(|p| {
            !p.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("hp"))
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The opened message carries `content` (the signed/encrypted MIME entity): the same
/// body once its transfer encoding is undone (mss may re-encode 8bit text as
/// quoted-printable before signing), line ends aside, and the same header lines
/// (Content-Transfer-Encoding aside). mss protects the header fields of the messages it
/// encrypts (RFC 9788): a peer without header protection sees them, and the `hp`
/// Content-Type parameter, in the entity it decrypts; the `hp` parameter is not
/// compared.
pub fn assert_carries(opened: &[u8], content: &[u8]) {
    let got = crate::mime::parse(opened);
    let want = crate::mime::parse(content);
    assert_eq!(
        String::from_utf8_lossy(&lf(&got.decoded_body())),
        String::from_utf8_lossy(&lf(&want.decoded_body())),
        "opened body differs; opened message:\n{}",
        String::from_utf8_lossy(opened)
    );
    for (name, value) in &want.headers {
        if !name.eq_ignore_ascii_case("Content-Transfer-Encoding") {
            let got_value = got.header(name).map(|v| {
                if name.eq_ignore_ascii_case("Content-Type") {
                    without_hp(v)
                } else {
                    v.to_string()
                }
            });
            assert_eq!(
                got_value.as_deref(),
                Some(value.as_str()),
                "header {name} of the opened message"
            );
        }
    }
}

/// The MIME entity of a draft (what gets signed or encrypted): its `Content-*`
/// header fields and its body.
pub fn inner_of(draft: &[u8]) -> Vec<u8> {
    let e = crate::mime::parse(draft);
    let mut out = Vec::new();
    for (n, v) in &e.headers {
        if n.to_ascii_lowercase().starts_with("content-") {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&e.body);
    out
}

/// One user of the test PKI: RSA-2048 key, certificate (SAN email, keyUsage
/// digitalSignature + keyEncipherment, EKU emailProtection), PKCS#12.
#[derive(Debug, Clone)]
pub struct User {
    /// Short name (`alice`), also the PKCS#12 friendly name and NSS nickname.
    pub name: String,
    /// E-mail address (subjectAltName rfc822Name and subject emailAddress).
    pub email: String,
    /// PKCS#8 private key, PEM (`BEGIN PRIVATE KEY`).
    pub key_pem: String,
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Certificate, DER.
    pub cert_der: Vec<u8>,
    /// PKCS#12 (key + certificate + issuing CA), encrypted with [`PASSWORD`].
    pub p12: Vec<u8>,
}

/// The test PKI, made with the `openssl` command line, kept in memory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The trusted root CA certificate, PEM.
    pub ca_pem: String,
    /// The trusted root CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// `alice@example.test`, issued by the root CA.
    pub alice: User,
    /// `bob@example.test`, issued by the root CA.
    pub bob: User,
    /// `carol@example.test`, issued by the root CA (for substitution attacks).
    pub carol: User,
    /// Another CA, which tests do not trust, PEM.
    pub other_ca_pem: String,
    /// `mallory@example.test`, issued by the untrusted CA.
    pub mallory: User,
}

fn openssl_in(dir: &Path, args: &[&str]) -> Output {
    run(tool("openssl").current_dir(dir).args(args))
}

fn make_ca(dir: &Path, stem: &str, cn: &str) {
    let key = format!("{stem}.key");
    let pem = format!("{stem}.pem");
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
            &format!("/O=MSS Tests/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
        ],
    );
}

fn make_user(dir: &Path, ca: &str, name: &str, display: &str) -> User {
    let email = format!("{name}@example.test");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let der = format!("{name}.der");
    let p12 = format!("{name}.p12");
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
            &format!("/O=MSS Tests/CN={display}/emailAddress={email}"),
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
            &format!("0x{}", serial_hex(name)),
            "-days",
            "825",
            "-sha256",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
    openssl_in(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
    openssl_in(
        dir,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &pem,
            "-certfile",
            &format!("{ca}.pem"),
            "-name",
            name,
            "-passout",
            &format!("pass:{PASSWORD}"),
            "-out",
            &p12,
        ],
    );
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
    User {
        name: name.to_string(),
        email,
        key_pem: String::from_utf8(read(&key)).expect("PEM is ASCII"),
        cert_pem: String::from_utf8(read(&pem)).expect("PEM is ASCII"),
        cert_der: read(&der),
        p12: read(&p12),
    }
}

/// A distinct, positive, 16-byte serial number per user and per run.
fn serial_hex(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("4{:015x}{:016x}", h & 0x0fff_ffff_ffff_ffff, nanos as u64)
}

impl Pki {
    /// Generate a fresh PKI with `openssl` (about 2 s: six RSA-2048 keys).
    pub fn generate() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("mss-pki-")
            .tempdir()
            .expect("create temporary directory");
        let d = dir.path();
        make_ca(d, "ca", "MSS Test Root CA");
        make_ca(d, "other-ca", "Untrusted Test CA");
        let alice = make_user(d, "ca", "alice", "Alice Martin");
        let bob = make_user(d, "ca", "bob", "Bob Durand");
        let carol = make_user(d, "ca", "carol", "Carol Petit");
        let mallory = make_user(d, "other-ca", "mallory", "Mallory Faux");
        let read = |f: &str| std::fs::read(d.join(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
        openssl_in(
            d,
            &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
        );
        Pki {
            ca_pem: String::from_utf8(read("ca.pem")).expect("PEM is ASCII"),
            ca_der: read("ca.der"),
            other_ca_pem: String::from_utf8(read("other-ca.pem")).expect("PEM is ASCII"),
            alice,
            bob,
            carol,
            mallory,
        }
    }

    /// The PKI shared by all tests of this test binary (generated on first use).
    pub fn shared() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Pki::generate)
    }

    /// The users, in a fixed order.
    pub fn users(&self) -> [&User; 4] {
        [&self.alice, &self.bob, &self.carol, &self.mallory]
    }
}

/// A per-test temporary directory holding the shared [`Pki`] as files:
/// `ca.pem`, `ca.der`, `other-ca.pem`, and for each user `NAME.key` (PKCS#8 PEM),
/// `NAME.pem`, `NAME.der`, `NAME.p12`, `NAME-identity.pem` (key + certificate + CA).
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
    /// The PKI whose files are in this directory.
    pub pki: &'static Pki,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    /// A new directory with the shared PKI's files.
    pub fn new() -> Workdir {
        let pki = Pki::shared();
        let dir = tempfile::Builder::new()
            .prefix("mss-test-")
            .tempdir()
            .expect("create temporary directory");
        let w = Workdir { dir, pki };
        w.write("ca.pem", pki.ca_pem.as_bytes());
        w.write("ca.der", &pki.ca_der);
        w.write("other-ca.pem", pki.other_ca_pem.as_bytes());
        for u in pki.users() {
            w.write(format!("{}.key", u.name), u.key_pem.as_bytes());
            w.write(format!("{}.pem", u.name), u.cert_pem.as_bytes());
            w.write(format!("{}.der", u.name), &u.cert_der);
            w.write(format!("{}.p12", u.name), &u.p12);
            w.write(
                format!("{}-identity.pem", u.name),
                format!("{}{}{}", u.key_pem, u.cert_pem, pki.ca_pem).as_bytes(),
            );
        }
        w
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `data` to `name` in the directory; returns its path.
    pub fn write(&self, name: impl AsRef<Path>, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Read `name` from the directory.
    pub fn read(&self, name: impl AsRef<Path>) -> Vec<u8> {
        let p = self.path(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// `openssl ARGS…` run in the directory; panics on failure.
    pub fn openssl<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run(tool("openssl").current_dir(self.dir()).args(args))
    }

    /// `openssl ARGS…` run in the directory, whatever its exit status.
    pub fn try_openssl<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        try_run(tool("openssl").current_dir(self.dir()).args(args), None)
    }

    /// Create an NSS database in `nssdb/` holding the root CA (trusted `CT,C,C`),
    /// Bob's identity (key + certificate, from his PKCS#12, nickname `bob`) and
    /// Alice's certificate (nickname `alice`, no key).
    pub fn nss(&self) -> NssDb {
        let dir = self.path("nssdb");
        std::fs::create_dir_all(&dir).expect("create nssdb directory");
        let db = NssDb { dir };
        let d = db.arg();
        run(tool("certutil").args(["-N", "--empty-password", "-d", &d]));
        run(tool("certutil")
            .args([
                "-A",
                "-n",
                "mss-test-ca",
                "-t",
                "CT,C,C",
                "-d",
                &d,
                "-a",
                "-i",
            ])
            .arg(self.path("ca.pem")));
        run(tool("pk12util")
            .args(["-d", &d, "-K", "", "-W", PASSWORD, "-i"])
            .arg(self.path("bob.p12")));
        run(tool("certutil")
            .args(["-A", "-n", "alice", "-t", ",,", "-d", &d, "-a", "-i"])
            .arg(self.path("alice.pem")));
        db
    }
}

/// An NSS database directory (see [`Workdir::nss`]).
#[derive(Debug, Clone)]
pub struct NssDb {
    /// Its directory.
    pub dir: PathBuf,
}

impl NssDb {
    /// The `-d` argument: `sql:DIR`.
    pub fn arg(&self) -> String {
        format!("sql:{}", self.dir.display())
    }

    /// `cmsutil ARGS… -d sql:DIR` with `input` on stdin; panics on failure.
    pub fn cmsutil(&self, args: &[&str], input: &[u8]) -> Output {
        run_with_input(tool("cmsutil").args(args).args(["-d", &self.arg()]), input)
    }

    /// `cmsutil ARGS… -d sql:DIR` with `input` on stdin, whatever its exit status.
    pub fn try_cmsutil(&self, args: &[&str], input: &[u8]) -> Output {
        try_run(
            tool("cmsutil").args(args).args(["-d", &self.arg()]),
            Some(input),
        )
    }
}

/// OpenSSL `cms` operations on S/MIME messages, run in a [`Workdir`].
///
/// Inputs and outputs are S/MIME (what mss speaks); a failure of the peer where the
/// test expects success panics with the peer's stderr.
impl Workdir {
    fn unique(&self, stem: &str) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        format!("{stem}-{}", N.fetch_add(1, Ordering::Relaxed))
    }

    /// `openssl cms -sign` as `signer` (detached `multipart/signed`, or opaque with
    /// `-nodetach`), with `extra` options (e.g. `-keyopt rsa_padding_mode:pss`).
    pub fn openssl_sign(
        &self,
        signer: &str,
        content: &[u8],
        opaque: bool,
        extra: &[&str],
    ) -> Vec<u8> {
        let input = self.write(self.unique("sign-in"), content);
        let out = self.path(self.unique("signed.eml"));
        let mut args: Vec<String> = ["cms", "-sign", "-binary", "-signer"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(format!("{signer}.pem"));
        args.extend(["-inkey".into(), format!("{signer}.key")]);
        args.extend(["-certfile".into(), "ca.pem".into()]);
        if opaque {
            args.push("-nodetach".into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["-in".into(), input.display().to_string()]);
        args.extend([
            "-outform".into(),
            "SMIME".into(),
            "-out".into(),
            out.display().to_string(),
        ]);
        self.openssl(&args);
        std::fs::read(&out).expect("read openssl output")
    }

    /// `openssl cms -verify -CAfile ca.pem` of an S/MIME message: `Ok(content)` or
    /// `Err(stderr)`.
    pub fn openssl_verify(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        self.openssl_verify_with(msg, &["-CAfile", "ca.pem"])
    }

    /// `openssl cms -verify` with explicit trust options.
    pub fn openssl_verify_with(&self, msg: &[u8], trust: &[&str]) -> Result<Vec<u8>, String> {
        let input = self.write(self.unique("verify-in.eml"), msg);
        let out = self.path(self.unique("verified"));
        // No `-binary`: OpenSSL's binary mode mis-reads CRLF-framed multipart/signed
        // (it keeps a line break of the delimiter); text mode canonicalises to CRLF,
        // which is what S/MIME signs anyway.
        let mut args: Vec<String> = vec!["cms".into(), "-verify".into()];
        args.extend(trust.iter().map(|s| s.to_string()));
        args.extend([
            "-inform".into(),
            "SMIME".into(),
            "-in".into(),
            input.display().to_string(),
        ]);
        args.extend(["-out".into(), out.display().to_string()]);
        let o = self.try_openssl(&args);
        if o.status.success() {
            Ok(std::fs::read(&out).expect("read verified content"))
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    /// `openssl cms -encrypt` of `content` to the certificates of `recipients`, with
    /// `opts` placed before the recipients (cipher such as `-aes256`, `-keyid`) and
    /// `keyopts` after each `-recip` (e.g. `-keyopt rsa_padding_mode:oaep`).
    pub fn openssl_encrypt(
        &self,
        content: &[u8],
        recipients: &[&str],
        opts: &[&str],
        keyopts: &[&str],
    ) -> Vec<u8> {
        let input = self.write(self.unique("enc-in"), content);
        let out = self.path(self.unique("encrypted.eml"));
        let mut args: Vec<String> = vec!["cms".into(), "-encrypt".into(), "-binary".into()];
        args.extend(opts.iter().map(|s| s.to_string()));
        for r in recipients {
            args.extend(["-recip".into(), format!("{r}.pem")]);
            args.extend(keyopts.iter().map(|s| s.to_string()));
        }
        args.extend(["-in".into(), input.display().to_string()]);
        args.extend([
            "-outform".into(),
            "SMIME".into(),
            "-out".into(),
            out.display().to_string(),
        ]);
        self.openssl(&args);
        std::fs::read(&out).expect("read openssl output")
    }

    /// `openssl cms -decrypt` of an S/MIME message with `user`'s key and certificate:
    /// `Ok(content)` or `Err(stderr)`.
    pub fn openssl_decrypt(&self, msg: &[u8], user: &str) -> Result<Vec<u8>, String> {
        let input = self.write(self.unique("dec-in.eml"), msg);
        let out = self.path(self.unique("decrypted"));
        let o = self.try_openssl(&[
            "cms".to_string(),
            "-decrypt".into(),
            "-binary".into(),
            "-recip".into(),
            format!("{user}.pem"),
            "-inkey".into(),
            format!("{user}.key"),
            "-inform".into(),
            "SMIME".into(),
            "-in".into(),
            input.display().to_string(),
            "-out".into(),
            out.display().to_string(),
        ]);
        if o.status.success() {
            Ok(std::fs::read(&out).expect("read decrypted content"))
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }
}

/// NSS `cmsutil` operations (raw CMS in and out, BER as NSS writes it).
impl NssDb {
    fn tmp(&self, stem: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        self.dir
            .join(format!("{stem}-{}", N.fetch_add(1, Ordering::Relaxed)))
    }

    /// `cmsutil -S -N nick` (opaque; `-T` detached when `detached`), with a signing time.
    pub fn sign(&self, nick: &str, content: &[u8], detached: bool) -> Vec<u8> {
        let mut args = vec!["-S", "-G", "-N", nick];
        if detached {
            args.push("-T");
        }
        self.cmsutil(&args, content).stdout
    }

    /// `cmsutil -D`: decode, verify every signature (with the database's trust) and
    /// decrypt; `detached` is the content of a detached signature.
    /// `Ok(content)` only when cmsutil succeeds *and* reports every signer
    /// `GoodSignature`; `Err(diagnostics)` otherwise.
    pub fn decode(&self, cms: &[u8], detached: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let content_file = detached.map(|c| {
            let p = self.tmp("detached");
            std::fs::write(&p, c).expect("write detached content");
            p
        });
        let mut args = vec!["-D".to_string()];
        if let Some(p) = &content_file {
            args.extend(["-c".into(), p.display().to_string()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.try_cmsutil(&argv, cms);
        if !out.status.success() {
            return Err(format!(
                "cmsutil -D failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Second pass for the per-signer status (cmsutil -h does not fail on a bad one).
        let mut hargs = argv.clone();
        hargs.extend(["-n", "-h", "9"]);
        let info = self.try_cmsutil(&hargs, cms);
        let text = String::from_utf8_lossy(&info.stdout).replace('\0', "");
        for field in text.split(';') {
            if let Some((k, v)) = field.trim().split_once('=')
                && k.ends_with(".status")
                && v != "GoodSignature"
            {
                return Err(format!("cmsutil reports {k}={v}: {text}"));
            }
        }
        Ok(out.stdout)
    }

    /// Whether cmsutil's report of `cms` names at least one signer with `GoodSignature`.
    pub fn has_good_signature(&self, cms: &[u8], detached: Option<&[u8]>) -> bool {
        let mut args = vec!["-D".to_string(), "-n".into(), "-h".into(), "9".into()];
        if let Some(c) = detached {
            let p = self.tmp("detached");
            std::fs::write(&p, c).expect("write detached content");
            args.extend(["-c".into(), p.display().to_string()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let info = self.try_cmsutil(&argv, cms);
        String::from_utf8_lossy(&info.stdout).contains("status=GoodSignature")
    }

    /// `cmsutil -E -r RECIPIENTS` (comma-separated nicknames or e-mail addresses).
    pub fn encrypt(&self, recipients: &str, content: &[u8]) -> Vec<u8> {
        self.cmsutil(&["-E", "-r", recipients], content).stdout
    }
}

/// The peak resident set size of this process so far (`VmHWM`), in KiB.
pub fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Print this process's peak RSS for [`child_peak_rss_kib`] (the last step of the
/// child test).
pub fn print_vm_hwm() {
    println!("VmHWM-kiB={}", vm_hwm_kib());
}

/// Run the `#[ignore]`d test `name` of the current test binary in a child process (so
/// that its memory is its own) and return the peak RSS in KiB it printed with
/// [`print_vm_hwm`]; panics when the child fails.
pub fn child_peak_rss_kib(name: &str) -> u64 {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--ignored", "--nocapture"])
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM-kiB="))
        .and_then(|v| v.trim().parse().ok())
        .expect("the child reports its VmHWM")
}
