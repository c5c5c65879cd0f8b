//! The streaming facade (`mss::stream`): sign+encrypt then open, checked against the
//! in-memory `open`, and a message larger than the memory bound streamed through both
//! in a child process whose peak RSS (VmHWM) is read back.

use std::io::{Read, Write};

use mss::stream::{open_stream, sign_and_encrypt_stream};
use mss::{EncryptOptions, OpenOptions, SignatureStatus};
use mss_cms::mime::Headers;
use mss_tests::{PASSWORD, User, Workdir};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD).expect("identity")
}

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("certificate DER")
}

/// A MIME entity of `len` body bytes, generated as it is read.
struct Entity {
    head: Vec<u8>,
    pos: usize,
    left: u64,
    /// Offset of the next body byte.
    x: u64,
}

impl Entity {
    fn new(len: u64) -> Self {
        Entity {
            head: b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec(),
            pos: 0,
            left: len,
            x: 0,
        }
    }
}

impl Read for Entity {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let n = (self.left.min(buf.len() as u64)) as usize;
        // Each byte depends on its offset only (not on how the reads are cut).
        for b in &mut buf[..n] {
            let i = self.x;
            *b = ((i ^ (i >> 7)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8;
            self.x += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn protect(w: &Workdir, len: u64, out: &mut dyn Write) {
    let alice = identity(&w.pki.alice);
    let bob = cert(&w.pki.bob.cert_der);
    let mut outer = Headers::default();
    outer.set("From", &w.pki.alice.email);
    outer.set("To", &w.pki.bob.email);
    outer.set("Subject", "imaging");
    let mut last = 0;
    sign_and_encrypt_stream(
        &mut Entity::new(len),
        out,
        &outer,
        &alice,
        &[bob],
        None,
        &EncryptOptions::default(),
        &mut |n| last = n,
    )
    .expect("sign_and_encrypt_stream");
    assert!(last >= len, "progress reached {last} of {len}");
}

fn options<'a>(w: &Workdir, bob: &'a SoftwareIdentity) -> OpenOptions<'a> {
    OpenOptions {
        keys: vec![bob],
        trust_anchors: vec![cert(&w.pki.ca_der)],
        // One validation time for both opens, so that their reports compare equal.
        time: Some(std::time::SystemTime::now()),
        ..OpenOptions::default()
    }
}

#[test]
fn streamed_sign_and_encrypt_opens_in_memory_and_streaming_alike() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let mut msg = Vec::new();
    protect(&w, 300_000, &mut msg);
    let opts = options(&w, &bob);
    let in_memory = mss::open(&msg, &opts).expect("open");
    let mut streamed = Vec::new();
    let report =
        open_stream(&mut msg.as_slice(), &mut streamed, &opts, &mut |_| {}).expect("open_stream");
    assert_eq!(report, in_memory.report);
    assert!(streamed == in_memory.message);
    assert!(report.encrypted);
    assert_eq!(report.signatures.len(), 1);
    assert_eq!(report.signatures[0].status, SignatureStatus::Valid);
    // The body is the generated content.
    let mut expected = Vec::new();
    Entity::new(300_000)
        .read_to_end(&mut expected)
        .expect("entity");
    assert!(streamed.ends_with(&expected[expected.len() - 1000..]));
    // A modified message fails or reports an invalid signature, never a valid one.
    let mut bad = msg.clone();
    let at = bad.len() - 5000;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    match open_stream(&mut bad.as_slice(), &mut Vec::new(), &opts, &mut |_| {}) {
        Err(_) => {}
        Ok(r) => assert!(!r.all_signatures_valid()),
    }
}

const CHILD: &str = "MSS_STREAM_RSS_CHILD";
const BIG: u64 = 160 * 1024 * 1024;
const BOUND_KIB: u64 = 64 * 1024;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The child: 160 MiB through sign+encrypt to a file, then open from it to a sink.
#[test]
fn child_streams_a_large_message() {
    if std::env::var_os(CHILD).is_none() {
        return; // run only as the child of `large_message_streams_in_bounded_memory`
    }
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let path = w.path("big.eml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    protect(&w, BIG, &mut f);
    f.flush().expect("flush");
    drop(f);
    let mut input = std::fs::File::open(&path).expect("open");
    let mut count = 0u64;
    let mut sink = Counter(&mut count);
    let report =
        open_stream(&mut input, &mut sink, &options(&w, &bob), &mut |_| {}).expect("open_stream");
    assert_eq!(report.signatures[0].status, SignatureStatus::Valid);
    assert!(count > BIG);
    println!("VmHWM-kiB={}", vm_hwm_kib());
}

struct Counter<'a>(&'a mut u64);

impl Write for Counter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        *self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn large_message_streams_in_bounded_memory() {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_streams_a_large_message", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hwm: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM-kiB="))
        .and_then(|v| v.trim().parse().ok())
        .expect("the child reports its VmHWM");
    eprintln!("child peak RSS: {hwm} KiB for {BIG} bytes");
    assert!(
        hwm < BOUND_KIB,
        "peak RSS {hwm} KiB for a {BIG}-byte message (bound {BOUND_KIB} KiB)"
    );
}
