//! A small real PKI for revocation tests, made with the `openssl` command line: a root
//! CA, end-entity certificates with AIA (OCSP) and CRL distribution points on
//! 127.0.0.1, a delegated OCSP responder, an `index.txt` (good / revoked / absent),
//! a CRL from `openssl ca -gencrl`; plus `openssl ocsp` responders and a tiny HTTP
//! file server, all on 127.0.0.1 and stopped on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use der::Decode;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is needed (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Pki {
    pub dir: tempfile::TempDir,
    /// Port of the OCSP responder named in the AIA of the end entities.
    pub ocsp_port: u16,
    /// Port of the HTTP server named in their CRL distribution point.
    pub crl_port: u16,
}

impl Pki {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn cert(&self, name: &str) -> Certificate {
        let pem = std::fs::read(self.path(&format!("{name}.crt"))).unwrap();
        mss_pki::anchors::parse_certificates(&pem)
            .unwrap()
            .remove(0)
    }
    pub fn crl(&self) -> CertificateList {
        CertificateList::from_der(&std::fs::read(self.path("ca.crl")).unwrap()).unwrap()
    }

    /// Root CA `ca`; end entities `good` (serial 0x1001), `revoked` (0x1002,
    /// keyCompromise), `unknown` (0x1003, not in the index); delegated responder
    /// `responder` (id-kp-OCSPSigning); `rogue`, issued by the CA without that usage.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ocsp_port = free_port();
        let crl_port = free_port();
        let key = |n: &str| {
            openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    &format!("{n}.key"),
                ],
            )
        };
        key("ca");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3650",
                "-subj",
                "/C=FR/O=mss test/CN=mss test CA",
                "-set_serial",
                "1",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let ee_ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=emailProtection\n\
             authorityInfoAccess=OCSP;URI:http://127.0.0.1:{ocsp_port}/\n\
             crlDistributionPoints=URI:http://127.0.0.1:{crl_port}/ca.crl\n"
        );
        std::fs::write(d.join("ee.ext"), ee_ext).unwrap();
        std::fs::write(
            d.join("responder.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
        )
        .unwrap();
        std::fs::write(
            d.join("rogue.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n",
        )
        .unwrap();
        for (name, serial, ext) in [
            ("good", "0x1001", "ee.ext"),
            ("revoked", "0x1002", "ee.ext"),
            ("unknown", "0x1003", "ee.ext"),
            ("responder", "0x1004", "responder.ext"),
            ("rogue", "0x1005", "rogue.ext"),
        ] {
            key(name);
            openssl(
                d,
                &[
                    "req",
                    "-new",
                    "-key",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/C=FR/O=mss test/CN={name}/emailAddress={name}@example.test"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-set_serial",
                    serial,
                    "-days",
                    "365",
                    "-extfile",
                    ext,
                    "-out",
                    &format!("{name}.crt"),
                ],
            );
        }
        // index.txt: V/R, expiry, revocation time[,reason], serial, file, subject.
        let line = |state: &str, rev: &str, serial: &str, cn: &str| {
            format!(
                "{state}\t351231000000Z\t{rev}\t{serial}\tunknown\t/C=FR/O=mss test/CN={cn}/emailAddress={cn}@example.test\n"
            )
        };
        let index = [
            line("V", "", "1001", "good"),
            line("R", "240101000000Z,keyCompromise", "1002", "revoked"),
            line("V", "", "1004", "responder"),
            line("V", "", "1005", "rogue"),
        ]
        .concat();
        std::fs::write(d.join("index.txt"), index).unwrap();
        std::fs::write(d.join("index.txt.attr"), "unique_subject = no\n").unwrap();
        std::fs::write(d.join("crlnumber"), "01\n").unwrap();
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca=CA_default\n[CA_default]\ndatabase=index.txt\ncrlnumber=crlnumber\n\
             default_md=sha256\ndefault_crl_days=7\ncrl_extensions=crl_ext\n[crl_ext]\n\
             authorityKeyIdentifier=keyid:always\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "ca",
                "-gencrl",
                "-config",
                "ca.cnf",
                "-keyfile",
                "ca.key",
                "-cert",
                "ca.crt",
                "-out",
                "ca.pem.crl",
            ],
        );
        openssl(
            d,
            &[
                "crl",
                "-in",
                "ca.pem.crl",
                "-outform",
                "DER",
                "-out",
                "ca.crl",
            ],
        );
        Pki {
            dir,
            ocsp_port,
            crl_port,
        }
    }

    /// A CRL of the CA (same revocations) with the given thisUpdate / nextUpdate.
    pub fn crl_between(
        &self,
        this: std::time::SystemTime,
        next: std::time::SystemTime,
    ) -> CertificateList {
        let f = |t: std::time::SystemTime| {
            let d = der::DateTime::from_system_time(t).unwrap();
            format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minutes(),
                d.seconds()
            )
        };
        let d = self.dir.path();
        openssl(
            d,
            &[
                "ca",
                "-gencrl",
                "-config",
                "ca.cnf",
                "-keyfile",
                "ca.key",
                "-cert",
                "ca.crt",
                "-crl_lastupdate",
                &f(this),
                "-crl_nextupdate",
                &f(next),
                "-out",
                "between.crl",
            ],
        );
        openssl(
            d,
            &[
                "crl",
                "-in",
                "between.crl",
                "-outform",
                "DER",
                "-out",
                "between.der",
            ],
        );
        CertificateList::from_der(&std::fs::read(d.join("between.der")).unwrap()).unwrap()
    }

    /// `openssl ocsp` signing with `signer` (`ca`, `responder`, `rogue`) on `port` (all
    /// interfaces: openssl 3.0 takes a port number only).
    pub fn responder(&self, signer: &str, port: u16) -> Server {
        let log_path = self.path(&format!("ocsp-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new("openssl")
            .current_dir(self.dir.path())
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                &port.to_string(),
                "-rsigner",
                &format!("{signer}.crt"),
                "-rkey",
                &format!("{signer}.key"),
                "-CA",
                "ca.crt",
                "-ndays",
                "1",
            ])
            // The CA answers without certificates (its key is known): the signature is
            // then the last element of the response.
            .args(if signer == "ca" {
                &["-resp_no_certs"][..]
            } else {
                &[]
            })
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("openssl is needed");
        // openssl ocsp serves one connection at a time and stalls on an empty one, so
        // readiness is read from its log ("ACCEPT …"), not probed by connecting.
        for _ in 0..400 {
            if std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("ACCEPT")) {
                return Server::Process(child);
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("openssl ocsp on port {port} did not start")
    }

    /// An HTTP server on `port` serving the files of the PKI directory.
    pub fn http(&self, port: u16) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let root = self.dir.path().to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hits2 = hits.clone();
        let handle = std::thread::spawn(move || {
            // Bounded: at most 64 requests, then the thread ends.
            for stream in listener.incoming().take(64) {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = stream else { continue };
                hits2.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let file = root.join(path);
                match (path.contains(".."), std::fs::read(&file)) {
                    (false, Ok(body)) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(&body);
                    }
                    _ => {
                        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    }
                }
            }
        });
        Server::Thread {
            stop,
            port,
            handle: Some(handle),
            hits,
        }
    }
}

pub enum Server {
    Process(Child),
    Thread {
        stop: Arc<AtomicBool>,
        port: u16,
        handle: Option<JoinHandle<()>>,
        hits: Arc<std::sync::atomic::AtomicUsize>,
    },
}

impl Server {
    /// Requests served so far (HTTP server only).
    pub fn hits(&self) -> usize {
        match self {
            Server::Thread { hits, .. } => hits.load(Ordering::SeqCst),
            Server::Process(_) => 0,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self {
            Server::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Server::Thread {
                stop, port, handle, ..
            } => {
                stop.store(true, Ordering::SeqCst);
                let _ = TcpStream::connect(("127.0.0.1", *port)); // wake the accept
                if let Some(h) = handle.take() {
                    let _ = h.join();
                }
            }
        }
    }
}
