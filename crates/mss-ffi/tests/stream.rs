//! The streaming C calls (`mss_*_stream`) from the outside: read and write callbacks over
//! memory and files, round trips with the in-memory calls, progress, failing callbacks,
//! NULL arguments, and a large message in a child process whose peak RSS is read back.

mod common;

use std::ffi::{c_int, c_void};
use std::fs::File;
use std::io::{Read, Write};
use std::ptr;

use common::*;
use mss_ffi::*;
use mss_status::*;

const EIO: c_int = 5;
const ENOSPC: c_int = 28;

// ---- the caller's side: inputs and outputs behind the callbacks ----

/// A draft whose body (`len` bytes, binary) is generated as it is read.
struct Generated {
    head: Vec<u8>,
    pos: usize,
    left: u64,
    x: u64,
}

impl Generated {
    fn new(len: u64) -> Self {
        Generated {
            head: b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n\
Subject: imagerie\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\r\n"
                .to_vec(),
            pos: 0,
            left: len,
            x: 0,
        }
    }

    fn bytes(len: u64) -> Vec<u8> {
        let mut v = Vec::new();
        Generated::new(len).read_to_end(&mut v).expect("generate");
        v
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let n = self.left.min(buf.len() as u64) as usize;
        for b in &mut buf[..n] {
            let i = self.x;
            *b = ((i ^ (i >> 7)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8;
            self.x += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// What the read callback reads from, and how it misbehaves.
struct Source {
    input: Box<dyn Read>,
    /// At most this many bytes per call (to vary the cuts).
    chunk: usize,
    read: u64,
    /// Return `code` once this many bytes were read.
    fail_after: Option<u64>,
    code: c_int,
    /// Claim one byte more than the buffer holds.
    overclaim: bool,
    failed: bool,
    calls_after_failure: usize,
}

impl Source {
    fn new(input: impl Read + 'static) -> Self {
        Source {
            input: Box::new(input),
            chunk: usize::MAX,
            read: 0,
            fail_after: None,
            code: EIO,
            overclaim: false,
            failed: false,
            calls_after_failure: 0,
        }
    }

    fn bytes(data: &[u8]) -> Self {
        Source::new(std::io::Cursor::new(data.to_vec()))
    }

    fn ud(&mut self) -> *mut c_void {
        (self as *mut Source).cast()
    }
}

unsafe extern "C-unwind" fn read_cb(
    userdata: *mut c_void,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> c_int {
    // SAFETY: the tests pass a live `Source` as userdata.
    let s = unsafe { &mut *userdata.cast::<Source>() };
    assert!(!buf.is_null() && !out_n.is_null() && len > 0);
    if s.failed {
        s.calls_after_failure += 1;
    }
    if s.overclaim {
        // SAFETY: `out_n` is writable.
        unsafe { *out_n = len + 1 };
        return 0;
    }
    if s.fail_after.is_some_and(|at| s.read >= at) {
        s.failed = true;
        return s.code;
    }
    // SAFETY: mss passes `len` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(buf, len.min(s.chunk)) };
    let n = s.input.read(buf).expect("test input");
    s.read += n as u64;
    // SAFETY: `out_n` is writable.
    unsafe { *out_n = n };
    0
}

/// What the write callback writes to, and how it misbehaves.
struct Sink {
    out: Box<dyn Write>,
    /// Keep a copy of the bytes (else only count them).
    keep: Option<Vec<u8>>,
    /// Accept at most this many bytes per call (short writes).
    chunk: usize,
    written: u64,
    fail_after: Option<u64>,
    code: c_int,
    /// Report 0 bytes written.
    stall: bool,
    failed: bool,
    calls_after_failure: usize,
}

impl Sink {
    fn to(out: impl Write + 'static) -> Self {
        Sink {
            out: Box::new(out),
            keep: None,
            chunk: usize::MAX,
            written: 0,
            fail_after: None,
            code: ENOSPC,
            stall: false,
            failed: false,
            calls_after_failure: 0,
        }
    }

    fn memory() -> Self {
        Sink {
            keep: Some(Vec::new()),
            ..Sink::to(std::io::sink())
        }
    }

    fn counting() -> Self {
        Sink::to(std::io::sink())
    }

    fn bytes(&self) -> &[u8] {
        self.keep.as_deref().expect("a memory sink")
    }

    fn ud(&mut self) -> *mut c_void {
        (self as *mut Sink).cast()
    }
}

unsafe extern "C-unwind" fn write_cb(
    userdata: *mut c_void,
    buf: *const u8,
    len: usize,
    out_n: *mut usize,
) -> c_int {
    // SAFETY: the tests pass a live `Sink` as userdata.
    let s = unsafe { &mut *userdata.cast::<Sink>() };
    assert!(!buf.is_null() && !out_n.is_null() && len > 0);
    if s.failed {
        s.calls_after_failure += 1;
    }
    if s.stall {
        // SAFETY: `out_n` is writable.
        unsafe { *out_n = 0 };
        return 0;
    }
    if s.fail_after.is_some_and(|at| s.written >= at) {
        s.failed = true;
        return s.code;
    }
    let n = len.min(s.chunk);
    // SAFETY: mss passes `len` readable bytes.
    let data = unsafe { std::slice::from_raw_parts(buf, n) };
    s.out.write_all(data).expect("test output");
    if let Some(k) = s.keep.as_mut() {
        k.extend_from_slice(data);
    }
    s.written += n as u64;
    // SAFETY: `out_n` is writable.
    unsafe { *out_n = n };
    0
}

unsafe extern "C-unwind" fn panicking_write(
    _: *mut c_void,
    _: *const u8,
    _: usize,
    _: *mut usize,
) -> c_int {
    panic!("write callback exploded");
}

unsafe extern "C-unwind" fn record_progress(userdata: *mut c_void, done: u64, total: u64) {
    // SAFETY: the tests pass a live Vec<(u64, u64)> used by this thread only.
    let calls = unsafe { &mut *userdata.cast::<Vec<(u64, u64)>>() };
    calls.push((done, total));
}

// ---- calling the streaming functions ----

fn sign_encrypt_stream(
    ctx: &Ctx,
    from: &Id,
    to: &[&[u8]],
    flags: u32,
    src: &mut Source,
    sink: &mut Sink,
    total: u64,
) -> mss_status {
    let slices: Vec<mss_slice> = to.iter().map(|c| slice(c)).collect();
    // SAFETY: live handles and slices; the callbacks' userdata outlive the call.
    unsafe {
        mss_sign_encrypt_stream(
            ctx.0,
            from.0,
            slices.as_ptr(),
            slices.len(),
            0,
            flags,
            Some(read_cb),
            src.ud(),
            Some(write_cb),
            sink.ud(),
            total,
        )
    }
}

fn open_stream(
    ctx: &Ctx,
    ids: &[&Id],
    src: &mut Source,
    sink: &mut Sink,
    total: u64,
) -> (mss_status, Option<Rep>) {
    let ptrs: Vec<*const mss_identity> = ids.iter().map(|i| i.0 as *const _).collect();
    let mut r: *mut mss_report = ptr::dangling_mut();
    // SAFETY: live handles; the callbacks' userdata outlive the call; writable output.
    let st = unsafe {
        mss_open_stream(
            ctx.0,
            ptrs.as_ptr(),
            ptrs.len(),
            Some(read_cb),
            src.ud(),
            Some(write_cb),
            sink.ud(),
            total,
            &mut r,
        )
    };
    if st == MSS_OK {
        (st, Some(Rep(r)))
    } else {
        assert_eq!(r, ptr::dangling_mut(), "report written on failure");
        (st, None)
    }
}

/// Alice's message to Bob, signed and encrypted through the streaming call.
fn streamed_to_bob(ctx: &Ctx, alice: &Id, bob: &Id, draft: &[u8]) -> Vec<u8> {
    let mut src = Source::bytes(draft);
    src.chunk = 10_000;
    let mut sink = Sink::memory();
    sink.chunk = 7_000;
    let st = sign_encrypt_stream(ctx, alice, &[&bob.certificate()], 0, &mut src, &mut sink, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    sink.bytes().to_vec()
}

fn assert_valid_from_alice(report: &Rep, encrypted: bool) {
    // SAFETY: live report.
    unsafe {
        assert_eq!(mss_report_is_encrypted(report.0), encrypted);
        assert_eq!(mss_report_signature_count(report.0), 1);
        assert_eq!(
            mss_report_signature_status(report.0, 0),
            mss_signature_status::MSS_SIGNATURE_VALID
        );
        assert!(mss_report_all_signatures_valid(report.0));
        assert_eq!(
            cstr(mss_report_signer_email(report.0, 0)).as_deref(),
            Some("alice@example.org")
        );
    }
}

/// Decode base64 text (whitespace skipped): a reference independent of mss.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The body of a clear message, base64-decoded when the streaming calls encoded it (they
/// base64-encode a draft body not declared 7-bit).
fn clear_body(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let at = text.find("\r\n\r\n").expect("blank line");
    if text[..at]
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: base64")
    {
        base64_decode(&text[at + 4..])
    } else {
        message[at + 4..].to_vec()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---- round trips ----

#[test]
fn stream_encrypt_then_stream_open_round_trip() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let draft = Generated::bytes(300_000);
    let sent = streamed_to_bob(&ctx, &alice, &bob, &draft);
    assert!(contains(&sent, b"application/pkcs7-mime"));
    // Header protection as in memory (RFC 9788): the Subject is hidden outside.
    assert!(contains(&sent, b"Subject: [...]"));
    assert!(!contains(&sent, b"imagerie"));

    let mut src = Source::bytes(&sent);
    src.chunk = 4093;
    let mut sink = Sink::memory();
    let (st, report) = open_stream(&ctx, &[&bob], &mut src, &mut sink, sent.len() as u64);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let report = report.expect("report");
    assert_valid_from_alice(&report, true);
    // The body was base64-encoded on the fly: the clear message carries it.
    let clear = sink.bytes();
    assert!(contains(clear, b"Subject: imagerie"));
    let body_start = draft.len() - 300_000;
    let body = &draft[body_start..];
    let text = String::from_utf8_lossy(clear);
    let b64_at = text.find("\r\n\r\n").expect("blank line") + 4;
    let decoded = base64_decode(&text[b64_at..]);
    assert!(decoded == body, "the body comes back unchanged");

    // Alice reads her sent copy too; Carol cannot.
    let carol = Id::pem(&people().carol);
    let (st, _) = open_stream(
        &ctx,
        &[&alice],
        &mut Source::bytes(&sent),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (st, _) = open_stream(
        &ctx,
        &[&carol],
        &mut Source::bytes(&sent),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_NOT_A_RECIPIENT, "{}", last_error());
}

#[test]
fn streamed_messages_open_in_memory_and_in_memory_ones_open_streamed() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);

    // Stream out, in-memory open: the same clear message as the streamed open.
    let sent = streamed_to_bob(&ctx, &alice, &bob, DRAFT);
    let (st, opened) = open(&ctx, &[&bob], &sent);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (message, report) = opened.expect("opened");
    assert_valid_from_alice(&report, true);
    let mut sink = Sink::memory();
    let (st, streamed) = open_stream(&ctx, &[&bob], &mut Source::bytes(&sent), &mut sink, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert!(sink.bytes() == message.bytes().as_slice());
    assert_eq!(
        streamed.expect("report").json()["signatures"],
        report.json()["signatures"]
    );

    // The same CMS object alone, as PEM (RFC 7468 "CMS"): both opens accept it.
    let at = sent
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header")
        + 4;
    let pem = [
        &b"-----BEGIN CMS-----\r\n"[..],
        &sent[at..],
        b"-----END CMS-----\r\n",
    ]
    .concat();
    let (st, opened) = open(&ctx, &[&bob], &pem);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (message, report) = opened.expect("opened");
    assert_valid_from_alice(&report, true);
    let mut sink = Sink::memory();
    let (st, streamed) = open_stream(&ctx, &[&bob], &mut Source::bytes(&pem), &mut sink, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert_valid_from_alice(&streamed.expect("report"), true);
    assert!(sink.bytes() == message.bytes().as_slice());

    // In-memory sign+encrypt (headers protected), streamed open.
    let (st, sent) = sign_encrypt(&ctx, &alice, &[&bob.certificate()], 0, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let mut sink = Sink::memory();
    let (st, report) = open_stream(&ctx, &[&bob], &mut Source::bytes(&sent), &mut sink, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert_valid_from_alice(&report.expect("report"), true);
    assert!(contains(
        &clear_body(sink.bytes()),
        b"le compte rendu est joint"
    ));

    // Streamed signing, detached and opaque, opened in memory and streamed.
    for flags in [0, MSS_SIGN_OPAQUE | MSS_SIGN_PSS] {
        let mut sink = Sink::memory();
        // SAFETY: live handles; the callbacks' userdata outlive the call.
        let st = unsafe {
            mss_sign_stream(
                ctx.0,
                alice.0,
                flags,
                Some(read_cb),
                Source::bytes(DRAFT).ud(),
                Some(write_cb),
                sink.ud(),
                0,
            )
        };
        assert_eq!(st, MSS_OK, "{}", last_error());
        let signed = sink.bytes().to_vec();
        let (st, opened) = open(&ctx, &[], &signed);
        assert_eq!(st, MSS_OK, "{}", last_error());
        let (message, report) = opened.expect("opened");
        assert_valid_from_alice(&report, false);
        assert!(contains(
            &clear_body(&message.bytes()),
            b"le compte rendu est joint"
        ));
        let (st, report) = open_stream(
            &ctx,
            &[],
            &mut Source::bytes(&signed),
            &mut Sink::counting(),
            0,
        );
        assert_eq!(st, MSS_OK, "{}", last_error());
        assert_valid_from_alice(&report.expect("report"), false);
    }

    // In-memory signing, streamed open.
    let mut out = ptr::null_mut();
    // SAFETY: live handles, writable output.
    let st = unsafe { mss_sign(ctx.0, alice.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_OK);
    let signed = Buf(out).bytes();
    let (st, report) = open_stream(
        &ctx,
        &[],
        &mut Source::bytes(&signed),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert_valid_from_alice(&report.expect("report"), false);
}

#[test]
fn encrypt_stream_between_files_opens_in_memory() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let dir = tempfile::tempdir().expect("tempdir");
    let draft_path = dir.path().join("draft.eml");
    let sent_path = dir.path().join("sent.eml");
    std::fs::write(&draft_path, DRAFT).expect("write draft");
    let mut src = Source::new(File::open(&draft_path).expect("open draft"));
    let mut sink = Sink::to(File::create(&sent_path).expect("create"));
    let to = alice.certificate();
    let bob_cert = bob.certificate();
    let recipients = [slice(&bob_cert)];
    let sender = slice(&to);
    // The sender given as a certificate; AES-256-GCM, RSA-OAEP.
    // SAFETY: live handles and slices; the callbacks' userdata outlive the call.
    let st = unsafe {
        mss_encrypt_stream(
            ctx.0,
            ptr::null(),
            &sender,
            recipients.as_ptr(),
            1,
            mss_cipher::MSS_CIPHER_AES256_GCM as u32,
            MSS_ENCRYPT_OAEP,
            Some(read_cb),
            src.ud(),
            Some(write_cb),
            sink.ud(),
            DRAFT.len() as u64,
        )
    };
    assert_eq!(st, MSS_OK, "{}", last_error());
    drop(sink);
    let sent = std::fs::read(&sent_path).expect("read sent");
    for reader in [&bob, &alice] {
        let (st, opened) = open(&ctx, &[reader], &sent);
        assert_eq!(st, MSS_OK, "{}", last_error());
        let (message, report) = opened.expect("opened");
        assert!(contains(
            &clear_body(&message.bytes()),
            b"le compte rendu est joint"
        ));
        // SAFETY: live report.
        unsafe {
            assert!(mss_report_is_authenticated_encryption(report.0));
            assert!(!mss_report_is_signed(report.0));
            assert_eq!(
                cstr(mss_report_key_transport(report.0)).as_deref(),
                Some("rsa-oaep-sha256")
            );
        }
    }
}

// ---- progress ----

#[test]
fn progress_is_frequent_and_monotonic_on_a_multi_mib_message() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let mut calls: Vec<(u64, u64)> = Vec::new();
    // SAFETY: live context; `calls` outlives every use of the context below.
    let st = unsafe {
        mss_context_set_progress(
            ctx.0,
            Some(record_progress),
            (&raw mut calls).cast::<c_void>(),
        )
    };
    assert_eq!(st, MSS_OK);
    let draft = Generated::bytes(3 * 1024 * 1024);
    let n = draft.len() as u64;
    let mut sink = Sink::memory();
    let st = sign_encrypt_stream(
        &ctx,
        &alice,
        &[&bob.certificate()],
        0,
        &mut Source::bytes(&draft),
        &mut sink,
        n,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    let check = |calls: &[(u64, u64)], n: u64, total: u64| {
        assert!(calls.len() > 10, "only {} progress calls", calls.len());
        assert_eq!(calls.first(), Some(&(0, total)));
        assert_eq!(calls.last(), Some(&(n, total)));
        assert!(calls.iter().all(|&(_, t)| t == total));
        assert!(
            calls.windows(2).all(|w| w[0].0 <= w[1].0),
            "progress goes backwards"
        );
    };
    check(&calls, n, n);

    // Open with an unknown total: total 0 throughout, done reaches the message size.
    let sent = sink.bytes().to_vec();
    calls.clear();
    let (st, _) = open_stream(
        &ctx,
        &[&bob],
        &mut Source::bytes(&sent),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    check(&calls, sent.len() as u64, 0);
    // SAFETY: live context.
    unsafe { mss_context_set_progress(ctx.0, None, ptr::null_mut()) };
}

// ---- failing callbacks ----

#[test]
fn a_write_callback_failing_midway_stops_the_open_and_reports_nothing() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let sent = streamed_to_bob(&ctx, &alice, &bob, &Generated::bytes(2 * 1024 * 1024));
    let mut sink = Sink::counting();
    sink.fail_after = Some(200_000);
    let (st, report) = open_stream(&ctx, &[&bob], &mut Source::bytes(&sent), &mut sink, 0);
    assert_eq!(st, MSS_WRITE_CALLBACK_FAILED);
    assert!(report.is_none());
    let msg = last_error();
    assert!(
        msg.contains("write callback") && msg.contains("code 28"),
        "{msg}"
    );
    assert!(sink.failed);
    assert_eq!(
        sink.calls_after_failure, 0,
        "called again after its failure"
    );
    assert!(sink.written >= 200_000 && sink.written < 2 * 1024 * 1024);

    // The same on the sending side.
    let mut sink = Sink::counting();
    sink.fail_after = Some(100_000);
    let st = sign_encrypt_stream(
        &ctx,
        &alice,
        &[&bob.certificate()],
        0,
        &mut Source::bytes(&Generated::bytes(1024 * 1024)),
        &mut sink,
        0,
    );
    assert_eq!(st, MSS_WRITE_CALLBACK_FAILED);
    assert_eq!(sink.calls_after_failure, 0);

    // A callback that accepts nothing is a failure too, not an endless loop.
    let mut sink = Sink::counting();
    sink.stall = true;
    let (st, _) = open_stream(&ctx, &[&bob], &mut Source::bytes(&sent), &mut sink, 0);
    assert_eq!(st, MSS_WRITE_CALLBACK_FAILED);
    assert!(last_error().contains("0 bytes written"), "{}", last_error());
}

#[test]
fn a_read_callback_error_stops_the_operation_with_its_code() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let draft = Generated::bytes(1024 * 1024);
    let mut src = Source::bytes(&draft);
    src.fail_after = Some(300_000);
    let st = sign_encrypt_stream(
        &ctx,
        &alice,
        &[&bob.certificate()],
        0,
        &mut src,
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_READ_CALLBACK_FAILED);
    let msg = last_error();
    assert!(
        msg.contains("read callback") && msg.contains("code 5"),
        "{msg}"
    );
    assert_eq!(src.calls_after_failure, 0);

    // While opening, with a code of the caller's choosing: nothing is reported.
    let sent = streamed_to_bob(&ctx, &alice, &bob, &draft);
    let mut src = Source::bytes(&sent);
    src.fail_after = Some(sent.len() as u64 / 2);
    src.code = -42;
    let (st, report) = open_stream(&ctx, &[&bob], &mut src, &mut Sink::counting(), 0);
    assert_eq!(st, MSS_READ_CALLBACK_FAILED);
    assert!(report.is_none());
    assert!(last_error().contains("code -42"), "{}", last_error());

    // A failure at the very end (after the whole message) still fails the open.
    let mut src = Source::bytes(&sent);
    src.fail_after = Some(sent.len() as u64);
    let (st, report) = open_stream(&ctx, &[&bob], &mut src, &mut Sink::counting(), 0);
    assert_eq!(st, MSS_READ_CALLBACK_FAILED);
    assert!(report.is_none());

    // Claiming more bytes than the buffer holds is refused.
    let mut src = Source::bytes(&sent);
    src.overclaim = true;
    let (st, _) = open_stream(&ctx, &[&bob], &mut src, &mut Sink::counting(), 0);
    assert_eq!(st, MSS_READ_CALLBACK_FAILED);
    assert!(last_error().contains("bytes read into a buffer"));
}

#[test]
fn a_streamed_reply_keeps_the_level_asked() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let bob_cert = bob.certificate();
    let to = [slice(&bob_cert)];
    let reply = |level: u32, src: &mut Source, sink: &mut Sink| {
        // SAFETY: live handles and slices; the callbacks' userdata outlive the call.
        unsafe {
            mss_secure_reply_stream(
                ctx.0,
                level,
                alice.0,
                to.as_ptr(),
                to.len(),
                0,
                0,
                Some(read_cb),
                src.ud(),
                Some(write_cb),
                sink.ud(),
                0,
            )
        }
    };
    for (level, expected) in [
        (
            mss_security_level::MSS_LEVEL_SIGNED,
            mss_security_level::MSS_LEVEL_SIGNED,
        ),
        (
            mss_security_level::MSS_LEVEL_ENCRYPTED,
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED,
        ),
        (
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED,
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED,
        ),
    ] {
        let mut src = Source::bytes(DRAFT);
        src.chunk = 100;
        let mut sink = Sink::memory();
        assert_eq!(
            reply(level as u32, &mut src, &mut sink),
            MSS_OK,
            "{}",
            last_error()
        );
        let (st, opened) = open(&ctx, &[&bob], sink.bytes());
        assert_eq!(st, MSS_OK, "{}", last_error());
        let (message, report) = opened.expect("opened");
        let encrypted = expected == mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED;
        assert_valid_from_alice(&report, encrypted);
        // SAFETY: live report.
        assert_eq!(unsafe { mss_reply_level(report.0) }, expected);
        assert!(contains(
            &clear_body(&message.bytes()),
            b"le compte rendu est joint"
        ));
    }
    // No protection: the draft as it stands.
    let mut sink = Sink::memory();
    let st = reply(
        mss_security_level::MSS_LEVEL_NONE as u32,
        &mut Source::bytes(DRAFT),
        &mut sink,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert!(sink.bytes() == DRAFT);
    // An unknown level: refused before any callback.
    let mut src = Source::bytes(DRAFT);
    let mut sink = Sink::memory();
    assert_eq!(reply(7, &mut src, &mut sink), MSS_INVALID_ARGUMENT);
    assert!(last_error().contains("security level"));
    assert_eq!(src.read, 0, "the read callback was called");
    assert!(sink.bytes().is_empty());
}

#[test]
fn a_tampered_stream_is_never_reported_valid() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let sent = streamed_to_bob(&ctx, &alice, &bob, &Generated::bytes(200_000));
    for at in [sent.len() / 2, sent.len() - 3000, sent.len() - 40] {
        let mut bad = sent.clone();
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        let (st, report) = open_stream(
            &ctx,
            &[&bob],
            &mut Source::bytes(&bad),
            &mut Sink::counting(),
            0,
        );
        if let Some(r) = report {
            // SAFETY: live report.
            assert!(!unsafe { mss_report_all_signatures_valid(r.0) }, "at {at}");
        } else {
            assert_ne!(st, MSS_OK);
        }
    }
    // Not a message at all.
    let (st, _) = open_stream(
        &ctx,
        &[&bob],
        &mut Source::bytes(b"\x30\x80\x02\x01"),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_MALFORMED_MESSAGE, "{}", last_error());
}

#[test]
fn a_panicking_callback_becomes_internal_error() {
    let ctx = Ctx::trusting();
    let bob = Id::pem(&people().bob);
    let alice = Id::pem(&people().alice);
    let sent = streamed_to_bob(&ctx, &alice, &bob, DRAFT);
    let mut r: *mut mss_report = ptr::dangling_mut();
    let ids = [bob.0 as *const mss_identity];
    let mut src = Source::bytes(&sent);
    // SAFETY: live handles; the callbacks' userdata outlive the call.
    let st = unsafe {
        mss_open_stream(
            ctx.0,
            ids.as_ptr(),
            1,
            Some(read_cb),
            src.ud(),
            Some(panicking_write),
            ptr::null_mut(),
            0,
            &mut r,
        )
    };
    assert_eq!(st, MSS_INTERNAL_ERROR);
    assert_eq!(r, ptr::dangling_mut());
    assert!(last_error().contains("write callback exploded"));

    // A panic while the hashing and encryption threads run (past 1 MiB): the call
    // returns, and the handles still work.
    // SAFETY: live context; the callback takes no userdata.
    let st = unsafe { mss_context_set_progress(ctx.0, Some(panic_late), ptr::null_mut()) };
    assert_eq!(st, MSS_OK);
    let st = sign_encrypt_stream(
        &ctx,
        &alice,
        &[&bob.certificate()],
        0,
        &mut Source::bytes(&Generated::bytes(3 * 1024 * 1024)),
        &mut Sink::counting(),
        0,
    );
    assert_eq!(st, MSS_INTERNAL_ERROR);
    assert!(last_error().contains("progress callback exploded"));
    // SAFETY: live context.
    unsafe { mss_context_set_progress(ctx.0, None, ptr::null_mut()) };
    assert!(!streamed_to_bob(&ctx, &alice, &bob, DRAFT).is_empty());
}

unsafe extern "C-unwind" fn panic_late(_: *mut c_void, done: u64, _: u64) {
    if done > 2 * 1024 * 1024 {
        panic!("progress callback exploded");
    }
}

// ---- NULL arguments ----

#[test]
fn null_arguments_are_reported_and_no_callback_is_called() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let bob_cert = bob.certificate();
    let to = [slice(&bob_cert)];
    let ids = [bob.0 as *const mss_identity];
    let mut src = Source::bytes(DRAFT);
    let mut sink = Sink::memory();
    let (r, w) = (src.ud(), sink.ud());
    let mut report: *mut mss_report = ptr::dangling_mut();
    let rd: mss_read_callback = Some(read_cb);
    let wr: mss_write_callback = Some(write_cb);
    // SAFETY: every non-NULL argument is live; the NULL ones are the point.
    let cases: Vec<(&str, mss_status)> = unsafe {
        vec![
            (
                "ctx",
                mss_sign_stream(ptr::null(), alice.0, 0, rd, r, wr, w, 0),
            ),
            (
                "identity",
                mss_sign_stream(ctx.0, ptr::null(), 0, rd, r, wr, w, 0),
            ),
            (
                "read",
                mss_sign_stream(ctx.0, alice.0, 0, None, r, wr, w, 0),
            ),
            (
                "write",
                mss_sign_stream(ctx.0, alice.0, 0, rd, r, None, w, 0),
            ),
            (
                "sender and sender_certificate",
                mss_encrypt_stream(
                    ctx.0,
                    ptr::null(),
                    ptr::null(),
                    to.as_ptr(),
                    1,
                    0,
                    0,
                    rd,
                    r,
                    wr,
                    w,
                    0,
                ),
            ),
            (
                "recipients",
                mss_sign_encrypt_stream(ctx.0, alice.0, ptr::null(), 1, 0, 0, rd, r, wr, w, 0),
            ),
            (
                "reply identity",
                mss_secure_reply_stream(
                    ctx.0,
                    1,
                    ptr::null(),
                    to.as_ptr(),
                    1,
                    0,
                    0,
                    rd,
                    r,
                    wr,
                    w,
                    0,
                ),
            ),
            (
                "reply write",
                mss_secure_reply_stream(ctx.0, 0, alice.0, to.as_ptr(), 1, 0, 0, rd, r, None, w, 0),
            ),
            (
                "identities",
                mss_open_stream(ctx.0, ptr::null(), 1, rd, r, wr, w, 0, &mut report),
            ),
            (
                "out_report",
                mss_open_stream(ctx.0, ids.as_ptr(), 1, rd, r, wr, w, 0, ptr::null_mut()),
            ),
            (
                "read",
                mss_open_stream(ctx.0, ids.as_ptr(), 1, None, r, wr, w, 0, &mut report),
            ),
        ]
    };
    for (what, st) in cases {
        assert_eq!(st, MSS_NULL_ARGUMENT, "{what}");
    }
    assert_eq!(report, ptr::dangling_mut());
    assert_eq!(src.read, 0, "the read callback was called");
    assert!(sink.bytes().is_empty(), "the write callback was called");
    // Bad values are refused before any callback too.
    // SAFETY: live arguments.
    let st =
        unsafe { mss_sign_encrypt_stream(ctx.0, alice.0, to.as_ptr(), 1, 99, 0, rd, r, wr, w, 0) };
    assert_eq!(st, MSS_INVALID_ARGUMENT);
    // SAFETY: live arguments.
    let st = unsafe { mss_sign_stream(ctx.0, alice.0, 0x8000, rd, r, wr, w, 0) };
    assert_eq!(st, MSS_INVALID_ARGUMENT);
    assert_eq!(src.read, 0);
}

// ---- a large message in bounded memory ----

/// Content bytes of the large message.
const BIG: u64 = 64 * 1024 * 1024;
/// Its peak RSS bound: half the message, so that an in-memory path cannot pass.
const BOUND_KIB: u64 = 32 * 1024;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The child: BIG bytes through `mss_sign_encrypt_stream` to a file, then through
/// `mss_open_stream` from the file to a counting sink.
#[test]
#[ignore = "run in a child process by a_large_message_streams_through_the_c_api_in_bounded_memory"]
fn child_streams_a_large_message_through_the_c_api() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.eml");
    let mut sink = Sink::to(std::io::BufWriter::new(
        File::create(&path).expect("create"),
    ));
    let st = sign_encrypt_stream(
        &ctx,
        &alice,
        &[&bob.certificate()],
        0,
        &mut Source::new(Generated::new(BIG)),
        &mut sink,
        0,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    drop(sink);
    let mut sink = Sink::counting();
    let size = std::fs::metadata(&path).expect("size").len();
    let (st, report) = open_stream(
        &ctx,
        &[&bob],
        &mut Source::new(File::open(&path).expect("open")),
        &mut sink,
        size,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert_valid_from_alice(&report.expect("report"), true);
    assert!(sink.written > BIG, "{} bytes out", sink.written);
    println!("VmHWM-kiB={}", vm_hwm_kib());
}

#[test]
fn a_large_message_streams_through_the_c_api_in_bounded_memory() {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_streams_a_large_message_through_the_c_api",
            "--ignored",
            "--nocapture",
        ])
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
    eprintln!("child peak RSS: {hwm} KiB for {BIG} content bytes");
    assert!(
        hwm < BOUND_KIB,
        "peak RSS {hwm} KiB for {BIG} content bytes (bound {BOUND_KIB} KiB)"
    );
}
