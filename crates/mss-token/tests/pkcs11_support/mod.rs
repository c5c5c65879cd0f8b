//! A SoftHSM2 token laid out like a CPS3 card, for the PKCS#11 tests and the bench.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the module is initialised, once per process,
//! and changing the environment of a running (multi-threaded) test process is not
//! sound. So the fixture is built once by the test process, and each test body runs
//! in a child process — the same test binary, filtered to that one test — started
//! with `SOFTHSM2_CONF` pointing into the fixture directory. Each child has its own
//! module instance and its own login state, so tests cannot disturb each other; the
//! children run one at a time, as SoftHSM's file store does not expect several
//! processes to use one token directory at once.
//!
//! Missing tools (softhsm2, opensc's pkcs11-tool, openssl) make the tests fail with
//! an install hint; they are never skipped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The user PIN of every test token.
pub const PIN: &str = "1234";
/// The SO PIN of every test token.
pub const SO_PIN: &str = "12345678";
/// The CPS-like token: SIG and AUT key pairs, their certificates, the CA certificate.
pub const TOKEN: &str = "CPS3 TEST";
/// A token with a single AUT key whose certificate allows keyEncipherment only.
pub const USAGE_TOKEN: &str = "CPS3 USAGE";
/// A second CPS-like card, of another person (a delegate, a colleague): SIG and AUT
/// key pairs (`sig2.pem`, `aut2.pem`) from the same test CA.
pub const DELEGATE_TOKEN: &str = "CPS3 DELEGATE";

const INSTALL_HINT: &str = "the PKCS#11 tests need SoftHSM2, OpenSC and OpenSSL: \
                            apt-get install -y softhsm2 opensc openssl \
                            (or set MSS_TEST_SOFTHSM_MODULE to libsofthsm2.so)";
const ENV_DIR: &str = "MSS_P11_FIXTURE_DIR";
const ENV_MODULE: &str = "MSS_P11_FIXTURE_MODULE";

/// A prepared token directory.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Where the tokens, the configuration and the PEM files are.
    pub dir: PathBuf,
    /// The SoftHSM2 module.
    pub module: PathBuf,
}

impl Fixture {
    /// A file of the fixture: `ca.pem`, `sig.pem`, `aut.pem`, `sig.key`, `aut.key`, …
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The SoftHSM2 configuration file.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// `pkcs11:token=<token>` + `extra` path attributes + `?module-path=<module>`.
    pub fn uri(&self, token: &str, extra: &str) -> String {
        let token = token.replace(' ', "%20");
        format!(
            "pkcs11:token={token}{extra}?module-path={}",
            self.module.display()
        )
    }

    /// The environment a child process needs to see the tokens.
    pub fn child_env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("SOFTHSM2_CONF", self.conf()),
            (ENV_DIR, self.dir.clone()),
            (ENV_MODULE, self.module.clone()),
        ]
    }

    /// In a child process started by [`run`], the fixture it was given.
    pub fn from_env() -> Option<Fixture> {
        let dir = PathBuf::from(std::env::var_os(ENV_DIR)?);
        let module = PathBuf::from(std::env::var_os(ENV_MODULE)?);
        let conf = PathBuf::from(std::env::var_os("SOFTHSM2_CONF")?);
        (conf == dir.join("softhsm2.conf")).then_some(Fixture { dir, module })
    }

    /// The fixture of this process, built on first use.
    pub fn get() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| match Fixture::from_env() {
            Some(f) => f,
            None => build(),
        })
    }
}

/// Run `body` against the SoftHSM tokens, in a child process (see the module docs).
///
/// `name` is the test's name as libtest knows it (the function name for a test at
/// the top of the file); `env` is added to the child's environment.
pub fn run(name: &str, env: &[(&str, &str)], body: impl FnOnce(&Fixture)) {
    if let Some(fixture) = Fixture::from_env() {
        body(&fixture);
        return;
    }
    let fixture = Fixture::get();
    // One child at a time: SoftHSM's file store is not safe against several
    // processes reading and rewriting the same token files at once.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let exe = std::env::current_exe().expect("current test executable");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_remove("MSS_PKCS11_MODULE");
    for (k, v) in fixture.child_env() {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("start the test in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "test {name} failed in its SoftHSM child process ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// The SoftHSM2 module: `MSS_TEST_SOFTHSM_MODULE`, or the Debian/Ubuntu locations.
pub fn softhsm_module() -> PathBuf {
    if let Some(p) = std::env::var_os("MSS_TEST_SOFTHSM_MODULE") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "MSS_TEST_SOFTHSM_MODULE={} does not exist",
            p.display()
        );
        return p;
    }
    let candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
        "/usr/lib64/pkcs11/libsofthsm2.so",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libsofthsm2.so not found; {INSTALL_HINT}"))
}

fn tool(name: &str, conf: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(name)
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Run `openssl` with `args` (in `dir`), panicking with its output on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Remove fixture directories left by test processes that are gone.
fn clean_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("softhsm-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Issue a CPS-like end-entity certificate from the test CA, with `key_usage`.
fn issue(dir: &Path, name: &str, subject: &str, key_usage: &str, email: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let der = format!("{name}.der");
    let ext = format!("{name}.ext");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-utf8",
            "-multivalue-rdn",
            "-subj",
            subject,
        ],
    );
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,{key_usage}\n\
             extendedKeyUsage=emailProtection,clientAuth\n\
             subjectAltName=email:{email}\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        ),
    )
    .expect("write extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            "30",
            "-extfile",
            &ext,
            "-out",
            &pem,
            "-set_serial",
        ]
        .iter()
        .copied()
        .chain([serial(name).as_str()])
        .collect::<Vec<_>>(),
    );
    openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
}

fn serial(name: &str) -> String {
    format!(
        "0x{:x}",
        0x1000 + name.len() * 17 + usize::from(name.as_bytes()[0])
    )
}

/// Put a key pair and its certificate on `token` with the CPS labels.
fn import(fx: &Fixture, token: &str, name: &str, id: &str, key_label: &str, cert_label: &str) {
    let module = fx.module.to_string_lossy().into_owned();
    let base = [
        "--module",
        &module,
        "--login",
        "--pin",
        PIN,
        "--token-label",
        token,
    ];
    let key = fx.file(&format!("{name}.key"));
    let der = fx.file(&format!("{name}.der"));
    let key = key.to_string_lossy();
    let der = der.to_string_lossy();
    let mut args = base.to_vec();
    args.extend([
        "--write-object",
        &key,
        "--type",
        "privkey",
        "--id",
        id,
        "--label",
        key_label,
    ]);
    tool("pkcs11-tool", &fx.conf(), &args);
    let mut args = base.to_vec();
    args.extend([
        "--write-object",
        &der,
        "--type",
        "cert",
        "--id",
        id,
        "--label",
        cert_label,
    ]);
    tool("pkcs11-tool", &fx.conf(), &args);
}

fn build() -> Fixture {
    let module = softhsm_module();
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    clean_stale(&base);
    let dir = base.join(format!("softhsm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).expect("create the token directory");
    let fx = Fixture { dir, module };
    std::fs::write(
        fx.conf(),
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            fx.dir.join("tokens").display()
        ),
    )
    .expect("write softhsm2.conf");
    for label in [TOKEN, USAGE_TOKEN, DELEGATE_TOKEN] {
        tool(
            "softhsm2-util",
            &fx.conf(),
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ],
        );
    }
    openssl(
        &fx.dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=TEST AC CLASSE-1/O=ANS TEST/C=FR",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        &fx.dir,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
    let subject = "/CN=810001234567+SN=DUPONT+GN=JEAN/title=Médecin/O=TEST/C=FR";
    let email = "jean.dupont@test.mssante.invalid";
    issue(
        &fx.dir,
        "sig",
        subject,
        "digitalSignature,nonRepudiation",
        email,
    );
    issue(
        &fx.dir,
        "aut",
        subject,
        "digitalSignature,keyEncipherment",
        email,
    );
    issue(&fx.dir, "encr", subject, "keyEncipherment", email);
    // The delegate's card: another person (distinct serials: see `serial`).
    let subject2 = "/CN=810009876543+SN=MARTIN+GN=CLAIRE/title=Médecin/O=TEST/C=FR";
    let email2 = "claire.martin@test.mssante.invalid";
    issue(
        &fx.dir,
        "sig2",
        subject2,
        "digitalSignature,nonRepudiation",
        email2,
    );
    issue(
        &fx.dir,
        "aut2",
        subject2,
        "digitalSignature,keyEncipherment",
        email2,
    );
    import(
        &fx,
        TOKEN,
        "aut",
        "01",
        "CPS_PRIV_AUT",
        "Certificat d'Authentification CPS",
    );
    import(
        &fx,
        TOKEN,
        "sig",
        "02",
        "CPS_PRIV_SIG",
        "Certificat de Signature CPS",
    );
    // The CA certificate, without a key: the identities' chain.
    let module = fx.module.to_string_lossy().into_owned();
    let ca = fx.file("ca.der").to_string_lossy().into_owned();
    tool(
        "pkcs11-tool",
        &fx.conf(),
        &[
            "--module",
            &module,
            "--login",
            "--pin",
            PIN,
            "--token-label",
            TOKEN,
            "--write-object",
            &ca,
            "--type",
            "cert",
            "--id",
            "ca",
            "--label",
            "AC TEST",
        ],
    );
    import(
        &fx,
        USAGE_TOKEN,
        "encr",
        "01",
        "CPS_PRIV_AUT",
        "Certificat d'Authentification CPS",
    );
    import(
        &fx,
        DELEGATE_TOKEN,
        "aut2",
        "01",
        "CPS_PRIV_AUT",
        "Certificat d'Authentification CPS",
    );
    import(
        &fx,
        DELEGATE_TOKEN,
        "sig2",
        "02",
        "CPS_PRIV_SIG",
        "Certificat de Signature CPS",
    );
    fx
}
