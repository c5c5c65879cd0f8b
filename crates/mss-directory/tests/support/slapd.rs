//! A throwaway OpenLDAP `slapd` on 127.0.0.1: a `slapd.conf` and an mdb database in a
//! temporary directory, the schemas mss needs (core — with pkiCA, certificationAuthority
//! and deltaCRL — cosine, inetorgperson), data loaded with `slapadd` before start.
//!
//! A missing `slapd` fails the test (it is never skipped), saying how to install it:
//! `scripts/install-deps.sh` (Debian `slapd`, `ldap-utils`).
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The suffix of the test directory, as the GIP-CPS directory had it.
pub const SUFFIX: &str = "o=gip-cps,c=fr";

/// Where slapd is; fails the test when it is not installed.
pub fn slapd_binary() -> PathBuf {
    for p in ["/usr/sbin/slapd", "/usr/local/sbin/slapd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("slapd");
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "`slapd` (OpenLDAP) is required by the directory tests and is not installed.\n\
         Install it with `bash scripts/install-deps.sh` (as root or with sudo), which \
         installs Debian's slapd and ldap-utils without starting the system service."
    );
}

fn slapadd_binary(slapd: &Path) -> PathBuf {
    slapd.with_file_name("slapadd")
}

fn schema_dir() -> PathBuf {
    for d in ["/etc/ldap/schema", "/etc/openldap/schema"] {
        if Path::new(d).join("core.schema").exists() {
            return PathBuf::from(d);
        }
    }
    panic!("no OpenLDAP schema directory (/etc/ldap/schema)");
}

fn module_dir() -> Option<PathBuf> {
    [
        "/usr/lib/ldap",
        "/usr/lib/x86_64-linux-gnu/openldap",
        "/usr/lib64/openldap",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|d| d.exists())
}

/// A running slapd; killed on drop.
pub struct Slapd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    slapd: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Listens for `ldaps://` (TLS from the first byte) instead of `ldap://`.
    tls: bool,
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Slapd {
    /// Start a slapd with `ldif` loaded; `size_limit` caps answers to anonymous users
    /// (`sizelimit` in slapd.conf).
    pub fn start(ldif: &str, size_limit: Option<u32>) -> Slapd {
        Self::start_on(free_port(), ldif, size_limit)
    }

    /// [`Slapd::start`] on a given port (chosen earlier with [`free_port`], e.g. to
    /// put it in certificates' distribution points).
    pub fn start_on(port: u16, ldif: &str, size_limit: Option<u32>) -> Slapd {
        Self::start_with(port, ldif, size_limit, false)
    }

    /// A slapd listening for `ldaps://` only, with a self-signed server certificate
    /// for 127.0.0.1 made by `openssl req` (so no client trusts it).
    pub fn start_ldaps(ldif: &str) -> Slapd {
        Self::start_with(free_port(), ldif, None, true)
    }

    fn start_with(port: u16, ldif: &str, size_limit: Option<u32>, tls: bool) -> Slapd {
        let slapd = slapd_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db dir");
        let schema = schema_dir();
        let mut conf = String::new();
        for s in ["core", "cosine", "inetorgperson"] {
            conf.push_str(&format!("include {}/{s}.schema\n", schema.display()));
        }
        if let Some(m) = module_dir()
            && (m.join("back_mdb.la").exists() || m.join("back_mdb.so").exists())
        {
            conf.push_str(&format!(
                "modulepath {}\nmoduleload back_mdb\n",
                m.display()
            ));
        }
        conf.push_str(&format!("pidfile {}/slapd.pid\n", dir.path().display()));
        if let Some(n) = size_limit {
            conf.push_str(&format!("sizelimit {n}\n"));
        }
        if tls {
            let key = dir.path().join("server.key");
            let cert = dir.path().join("server.pem");
            let out = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args([
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .output()
                .expect("openssl (a test peer: scripts/install-deps.sh)");
            assert!(
                out.status.success(),
                "openssl req: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            conf.push_str(&format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                cert.display(),
                key.display()
            ));
        }
        conf.push_str(&format!(
            "database mdb\nmaxsize 67108864\nsuffix \"{SUFFIX}\"\nrootdn \"cn=admin,{SUFFIX}\"\n\
             rootpw secret\ndirectory {}\nindex objectClass eq\nindex mail eq\n\
             access to * by * read\n",
            db.display()
        ));
        let conf_path = dir.path().join("slapd.conf");
        std::fs::write(&conf_path, conf).expect("write slapd.conf");
        let ldif_path = dir.path().join("data.ldif");
        std::fs::write(&ldif_path, ldif).expect("write ldif");
        let out = Command::new(slapadd_binary(&slapd))
            .arg("-q")
            .arg("-f")
            .arg(&conf_path)
            .arg("-l")
            .arg(&ldif_path)
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut s = Slapd {
            child: None,
            dir,
            slapd,
            port,
            tls,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let conf_path = self.dir.path().join("slapd.conf");
        // To a file, not a pipe nobody reads (a full pipe would block slapd).
        let log_path = self.dir.path().join("slapd.log");
        let log = std::fs::File::create(&log_path).expect("slapd log");
        let child = Command::new(&self.slapd)
            .arg("-f")
            .arg(&conf_path)
            .arg("-h")
            .arg(format!("{}/", self.url()))
            .arg("-d")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn slapd");
        self.child = Some(child);
        // Wait until it accepts connections (a readiness wait, not a timed assertion).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("slapd exited ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ldap://127.0.0.1:PORT` (`ldaps://` for a TLS server)
    pub fn url(&self) -> String {
        let scheme = if self.tls { "ldaps" } else { "ldap" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Stop the server (the port then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// LDIF builder: entries with base64 values for binary attributes.
#[derive(Default)]
pub struct Ldif {
    text: String,
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl Ldif {
    /// The suffix and the organisational units `ou=people` and `ou=ac`.
    pub fn new() -> Self {
        let mut l = Ldif::default();
        l.raw(&format!(
            "dn: {SUFFIX}\nobjectClass: organization\no: gip-cps\n\n\
             dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=ac,{SUFFIX}\nobjectClass: organizationalUnit\nou: ac\n\n"
        ));
        l
    }

    /// Append raw LDIF.
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// An inetOrgPerson `cn=<cn>,ou=people,…` with `mail` and `userCertificate;binary`
    /// values, and optionally a `userSMIMECertificate` bag.
    pub fn person(
        &mut self,
        cn: &str,
        mail: &str,
        certs: &[Vec<u8>],
        smime: Option<&[u8]>,
    ) -> &mut Self {
        let mut e = format!(
            "dn: cn={cn},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\ncn: {cn}\nsn: {cn}\nmail: {mail}\n"
        );
        for c in certs {
            e.push_str(&format!("userCertificate;binary:: {}\n", b64(c)));
        }
        if let Some(s) = smime {
            e.push_str(&format!("userSMIMECertificate:: {}\n", b64(s)));
        }
        e.push('\n');
        self.raw(&e)
    }

    /// A CA entry `cn=<cn>,ou=ac,…` (pkiCA, certificationAuthority-style attributes,
    /// deltaCRL) with its certificate, CRL, ARL and delta CRL.
    pub fn ca(
        &mut self,
        cn: &str,
        cert: &[u8],
        crl: &[u8],
        arl: &[u8],
        delta: Option<&[u8]>,
    ) -> &mut Self {
        let mut e = format!(
            "dn: cn={cn},ou=ac,{SUFFIX}\nobjectClass: applicationProcess\nobjectClass: pkiCA\n\
             objectClass: deltaCRL\ncn: {cn}\n\
             cACertificate;binary:: {}\ncertificateRevocationList;binary:: {}\n\
             authorityRevocationList;binary:: {}\n",
            b64(cert),
            b64(crl),
            b64(arl)
        );
        if let Some(d) = delta {
            e.push_str(&format!("deltaRevocationList;binary:: {}\n", b64(d)));
        }
        e.push('\n');
        self.raw(&e)
    }

    /// The LDIF text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Write `data` to a file in `dir` and return its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).expect("create");
    f.write_all(data).expect("write");
    p
}
