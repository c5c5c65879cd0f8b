//! The streaming facade (`mss::stream`): sign+encrypt then open, checked against the
//! in-memory `open`, and a message larger than the memory bound streamed through both
//! in a child process whose peak RSS (VmHWM) is read back.

use std::io::{Read, Write};

use mss::stream::{open_stream, secure_reply_stream, sign_and_encrypt_stream};
use mss::{EncryptOptions, OpenOptions, SecurityLevel, SignatureStatus};
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

#[test]
fn a_streamed_reply_keeps_the_level_asked_as_in_memory() {
    // Every level: the streamed reply opens to the in-memory reply's report (layers,
    // reply level) and clear message; no protection copies the draft as it stands.
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let to_bob = [cert(&w.pki.bob.cert_der)];
    let mut draft = format!(
        "From: {}\r\nTo: {}\r\nSubject: Re: imaging\r\nContent-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        w.pki.alice.email, w.pki.bob.email
    )
    .into_bytes();
    let mut body = Vec::new();
    Entity::new(200_000).read_to_end(&mut body).expect("body");
    draft.extend_from_slice(&mss_cms::mime::encode_base64_lines(&body));
    let opts = options(&w, &bob);
    for level in [
        SecurityLevel::None,
        SecurityLevel::Signed,
        SecurityLevel::Encrypted,
        SecurityLevel::SignedEncrypted,
    ] {
        let enc = EncryptOptions::default();
        let in_memory =
            mss::secure_reply(&draft, level, &alice, &to_bob, None, &enc).expect("secure_reply");
        let mut streamed = Vec::new();
        let mut last = 0;
        secure_reply_stream(
            &mut draft.as_slice(),
            &mut streamed,
            level,
            &alice,
            &to_bob,
            None,
            &enc,
            &mut |n| last = n,
        )
        .expect("secure_reply_stream");
        assert_eq!(last, draft.len() as u64, "{level:?}: progress");
        if level == SecurityLevel::None {
            assert!(streamed == draft);
            continue;
        }
        let a = mss::open(&in_memory, &opts).expect("open in-memory reply");
        let b = mss::open(&streamed, &opts).expect("open streamed reply");
        assert_eq!(b.report.layers, a.report.layers, "{level:?}");
        assert_eq!(
            mss::reply_level(&b.report),
            mss::reply_level(&a.report),
            "{level:?}"
        );
        assert!(b.report.all_signatures_valid(), "{level:?}");
        assert!(b.message == a.message, "{level:?}");
        let expected = if level == SecurityLevel::Signed {
            SecurityLevel::Signed
        } else {
            SecurityLevel::SignedEncrypted
        };
        assert_eq!(mss::reply_level(&b.report), expected);
    }
}

/// Accepts `left` bytes, then fails as a full disk does.
struct FullDisk {
    left: usize,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Gives `left` bytes of `data`, then fails as a vanished device does.
struct Vanishing<'a> {
    data: &'a [u8],
    left: usize,
}

impl Read for Vanishing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the device is gone"));
        }
        let n = buf.len().min(self.left).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_failing_input_or_output_is_an_io_error_not_a_malformed_message() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let to_bob = [cert(&w.pki.bob.cert_der)];
    let mut draft = b"Subject: scan\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let mut body = Vec::new();
    Entity::new(3 << 20).read_to_end(&mut body).expect("body");
    draft.extend_from_slice(&mss_cms::mime::encode_base64_lines(&body));
    let send = |input: &mut dyn Read, out: &mut dyn Write| {
        mss::stream::sign_and_encrypt_message_stream(
            input,
            out,
            &alice,
            &to_bob,
            None,
            &EncryptOptions::default(),
            &mss::MessageOptions::default(),
            &mut |_| {},
        )
    };
    let is_io = |r: Result<(), mss::Error>, kind: std::io::ErrorKind, what: &str| match r {
        Err(mss::Error::Io(e)) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        other => panic!("{what}: {other:?}"),
    };
    // The output fills up early (in the header) and late (past the threads' start).
    for left in [10, 2 << 20] {
        let r = send(&mut draft.as_slice(), &mut FullDisk { left });
        is_io(r, std::io::ErrorKind::StorageFull, "full disk");
    }
    let r = send(
        &mut Vanishing {
            data: &draft,
            left: 1 << 20,
        },
        &mut Vec::new(),
    );
    is_io(r, std::io::ErrorKind::Other, "vanishing input");
    // Opening: the output fails; a truncated message is the message's fault.
    let mut sealed = Vec::new();
    send(&mut draft.as_slice(), &mut sealed).expect("send");
    let opts = options(&w, &bob);
    let r = open_stream(
        &mut sealed.as_slice(),
        &mut FullDisk { left: 1 << 20 },
        &opts,
        &mut |_| {},
    );
    is_io(
        r.map(drop),
        std::io::ErrorKind::StorageFull,
        "open to a full disk",
    );
    let cut = &sealed[..sealed.len() / 2];
    match open_stream(&mut &cut[..], &mut Vec::new(), &opts, &mut |_| {}) {
        Err(mss::Error::Io(e)) => panic!("a truncated message blamed on I/O: {e}"),
        Err(_) => {}
        Ok(r) => panic!("a truncated message opened: {r:?}"),
    }
}

const BIG: u64 = 160 * 1024 * 1024;
const BOUND_KIB: u64 = 64 * 1024;

/// A draft of `len` body bytes sent with the default message options (RFC 9788 header
/// protection) and a receipt request, through `sign_and_encrypt_message_stream`.
fn protect_draft(w: &Workdir, len: u64, out: &mut dyn Write) {
    let alice = identity(&w.pki.alice);
    let head = format!(
        "From: {}\r\nTo: {}\r\nSubject: imaging DUPONT\r\n",
        w.pki.alice.email, w.pki.bob.email
    );
    let mut draft = std::io::Cursor::new(head).chain(Entity::new(len));
    mss::stream::sign_and_encrypt_message_stream(
        &mut draft,
        out,
        &alice,
        &[cert(&w.pki.bob.cert_der)],
        None,
        &EncryptOptions::default(),
        &mss::MessageOptions {
            receipt_request: Some(mss::RequestReceipt::default()),
            ..mss::MessageOptions::default()
        },
        &mut |_| {},
    )
    .expect("sign_and_encrypt_message_stream");
}

/// The child: 160 MiB through sign+encrypt to a file (header protection and a receipt
/// request, as `mss encrypt --sign-with` sends by default), then open from it to a sink.
#[test]
#[ignore = "run in a child process by large_message_streams_in_bounded_memory"]
fn child_streams_a_large_message() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let path = w.path("big.eml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    protect_draft(&w, BIG, &mut f);
    f.flush().expect("flush");
    drop(f);
    let mut input = std::fs::File::open(&path).expect("open");
    let mut count = 0u64;
    let mut sink = Counter(&mut count);
    let report =
        open_stream(&mut input, &mut sink, &options(&w, &bob), &mut |_| {}).expect("open_stream");
    assert_eq!(report.signatures[0].status, SignatureStatus::Valid);
    assert_eq!(report.receipt_requests.len(), 1);
    assert!(count > BIG);
    mss_tests::print_vm_hwm();
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
    let hwm = mss_tests::child_peak_rss_kib("child_streams_a_large_message");
    eprintln!("child peak RSS: {hwm} KiB for {BIG} bytes");
    assert!(
        hwm < BOUND_KIB,
        "peak RSS {hwm} KiB for a {BIG}-byte message (bound {BOUND_KIB} KiB)"
    );
}

fn entity_bytes(len: u64) -> Vec<u8> {
    let mut v = Vec::new();
    Entity::new(len).read_to_end(&mut v).expect("entity");
    v
}

#[test]
fn streamed_signatures_open_like_in_memory_and_verify_in_openssl() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let opts = options(&w, &bob);
    let mut outer = Headers::default();
    outer.set("From", &w.pki.alice.email);
    outer.set("Subject", "scan");
    // multipart/signed needs a canonical (7-bit, CRLF) entity: the body in base64.
    let mut entity =
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
    entity.extend_from_slice(&mss_cms::mime::encode_base64_lines(&entity_bytes(
        1_000_003,
    )));
    for opaque in [false, true] {
        let mut msg = Vec::new();
        mss::stream::sign_stream(
            &mut entity.as_slice(),
            &mut msg,
            &outer,
            &alice,
            &mss::SignOptions {
                opaque,
                ..mss::SignOptions::default()
            },
            &mut |_| {},
        )
        .expect("sign_stream");
        let in_memory = mss::open(&msg, &opts).expect("open");
        let mut streamed = Vec::new();
        let report = open_stream(&mut msg.as_slice(), &mut streamed, &opts, &mut |_| {})
            .expect("open_stream");
        assert_eq!(report, in_memory.report, "opaque={opaque}");
        assert!(streamed == in_memory.message, "opaque={opaque}");
        assert_eq!(report.signatures[0].status, SignatureStatus::Valid);
        assert!(streamed.ends_with(&entity[entity.len() - 4096..]));
        w.write("signed.eml", &msg);
        w.openssl(&[
            "cms",
            "-verify",
            "-in",
            "signed.eml",
            "-CAfile",
            "ca.pem",
            "-out",
            "v.out",
        ]);
        // A changed body byte: the signature no longer verifies (or the message no
        // longer parses), never a valid report.
        let mut bad = msg.clone();
        let at = bad.len() / 2;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        match open_stream(&mut bad.as_slice(), &mut Vec::new(), &opts, &mut |_| {}) {
            Err(_) => {}
            Ok(r) => assert!(!r.all_signatures_valid(), "opaque={opaque}"),
        }
    }
}

#[test]
fn openssl_streamed_detached_and_nested_messages_open_while_streaming() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let opts = options(&w, &bob);
    let mut entity = b"Content-Type: text/plain\r\n\r\n".to_vec();
    for i in 0..40_000 {
        entity.extend_from_slice(format!("line {i} of a long report\r\n").as_bytes());
    }
    w.write("entity.txt", &entity);
    // Detached, streamed by openssl (its -stream output is multipart/signed).
    w.openssl(&[
        "cms",
        "-sign",
        "-stream",
        "-in",
        "entity.txt",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-out",
        "det.eml",
    ]);
    // Signed then encrypted, both streamed by openssl.
    w.openssl(&[
        "cms",
        "-encrypt",
        "-stream",
        "-aes-256-cbc",
        "-in",
        "det.eml",
        "-out",
        "nested.eml",
        "bob.pem",
    ]);
    for name in ["det.eml", "nested.eml"] {
        let msg = w.read(name);
        let in_memory = mss::open(&msg, &opts).expect("open");
        let mut streamed = Vec::new();
        let report = open_stream(&mut msg.as_slice(), &mut streamed, &opts, &mut |_| {})
            .expect("open_stream");
        assert_eq!(report, in_memory.report, "{name}");
        assert!(streamed == in_memory.message, "{name}");
        assert_eq!(
            report.signatures[0].status,
            SignatureStatus::Valid,
            "{name}"
        );
    }
}

#[test]
fn any_read_sizes_give_the_same_result() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let opts = options(&w, &bob);
    let mut entity = b"Content-Type: text/plain\r\n\r\n".to_vec();
    for i in 0..3000 {
        entity.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    let mut detached = Vec::new();
    mss::stream::sign_stream(
        &mut entity.as_slice(),
        &mut detached,
        &Headers::default(),
        &alice,
        &mss::SignOptions::default(),
        &mut |_| {},
    )
    .expect("sign");
    let mut enveloped = Vec::new();
    mss::stream::encrypt_stream(
        &mut detached.as_slice(),
        &mut enveloped,
        &Headers::default(),
        &[],
        &cert(&w.pki.bob.cert_der),
        &EncryptOptions::default(),
        &mut |_| {},
    )
    .expect("encrypt");
    let reference = mss::open(&enveloped, &opts).expect("open");
    assert_eq!(
        reference.report.signatures[0].status,
        SignatureStatus::Valid
    );
    for step in [1usize, 2, 3, 7, 64, 4097] {
        let mut out = Vec::new();
        let mut input = mss_tests::Pieces {
            data: &enveloped,
            step,
        };
        let report = open_stream(&mut input, &mut out, &opts, &mut |_| {}).expect("open_stream");
        assert_eq!(report, reference.report, "step {step}");
        assert!(out == reference.message, "step {step}");
    }
}

#[test]
fn a_binary_entity_is_not_signed_detached() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let mut entity = Vec::new();
    Entity::new(1000).read_to_end(&mut entity).expect("entity");
    let r = mss::stream::sign_stream(
        &mut entity.as_slice(),
        &mut Vec::new(),
        &Headers::default(),
        &alice,
        &mss::SignOptions::default(),
        &mut |_| {},
    );
    assert!(matches!(r, Err(mss::Error::InvalidRequest(_))), "{r:?}");
}
