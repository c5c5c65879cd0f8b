//! Streaming use cases: `io::Read` in, `io::Write` out, memory bounded whatever the
//! size of the message (see [`mss_cms::stream`]).
//!
//! - [`sign_message_stream`] / [`encrypt_message_stream`] /
//!   [`sign_and_encrypt_message_stream`]: send a draft read from a stream with the
//!   [`crate::MessageOptions`] of the in-memory [`crate::sign_message`]… (RFC 9788
//!   header protection, on by default when encrypting; an ESS receipt request): the
//!   same structure, the body streamed (module `stream_send`);
//! - [`secure_reply_stream`]: a reply or forward at the original's security level, as
//!   [`crate::secure_reply`];
//! - [`sign_stream`] / [`encrypt_stream`] / [`sign_and_encrypt_stream`]: protect a MIME
//!   entity read from a stream as it stands (no header protection);
//! - [`open_stream`]: decrypt and verify an `application/pkcs7-mime` message (or a bare
//!   CMS object: BER, DER or PEM), writing the clear message as it comes, and return the
//!   same [`Report`] as [`crate::open`].
//!
//! Streaming releases content before its end is checked: when `open_stream` returns an
//! error, what was written must be discarded; when it returns a report, the report
//! says whether to believe what was written. A progress callback receives the number
//! of input bytes consumed so far.
//!
//! A draft is read by [`draft_stream`] without reading its body: a body that needs
//! re-encoding to 7 bits is base64-encoded on the fly (the in-memory calls may choose
//! quoted-printable).

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;
use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use mss_algs::keys::SigningKey;
use mss_cms::enveloped::Recipient;
use mss_cms::mime::{self, Headers, header_protection};
use mss_cms::signed::{SignParams, SignerSpec};
use mss_cms::stream::{
    Base64Reader, Base64Writer, CmsReader, EnvelopedWriter, MultipartSignedReader,
    MultipartSignedWriter, SignedWriter, read_cms,
};

use crate::Error;
use crate::coverage;
use crate::open::{Ctx, OpenOptions};
use crate::report::{LayerKind, Report};
use crate::send::{EncryptOptions, SignOptions};

pub use crate::stream_send::{
    encrypt_message_stream, secure_reply_stream, sign_and_encrypt_message_stream,
    sign_message_stream,
};

/// Largest header block read before a body.
const MAX_HEADER_BLOCK: usize = 1024 * 1024;

/// Counts the bytes read through it and reports them to a callback.
pub(crate) struct Counting<'p, R> {
    inner: R,
    count: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl<'p, R> Counting<'p, R> {
    /// Count the bytes read from `inner`, from zero.
    pub(crate) fn new(inner: R, progress: &'p mut dyn FnMut(u64)) -> Self {
        Counting {
            inner,
            count: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.progress)(self.count);
        Ok(n)
    }
}

pub(crate) fn io_error(e: io::Error) -> Error {
    // Errors of the CMS layer travel through `io::Error` inside the readers; the
    // readers' own complaints about the message are `InvalidData` (or a premature end).
    // Anything else is the input or the output failing, not the message.
    let about_the_message = matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    );
    if !e.get_ref().is_some_and(|i| i.is::<mss_cms::CmsError>()) {
        return if about_the_message {
            Error::Malformed(e.to_string())
        } else {
            Error::Io(e)
        };
    }
    match e.into_inner().map(|i| i.downcast::<mss_cms::CmsError>()) {
        Some(Ok(c)) => Error::from(*c),
        _ => Error::Malformed("I/O error while streaming".into()),
    }
}

fn cms(e: mss_cms::CmsError) -> Error {
    Error::from(e)
}

/// Copy `r` to `w` in 64 KiB chunks.
pub(crate) fn pump(r: &mut dyn Read, w: &mut dyn Write) -> Result<u64, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            return Ok(total);
        }
        w.write_all(&buf[..n]).map_err(io_error)?;
        total += n as u64;
    }
}

/// The `application/pkcs7-mime` header block (headers and blank line, no body).
fn pkcs7_head(outer: &Headers, smime_type: &str) -> Vec<u8> {
    mime::build_pkcs7_mime(outer, smime_type, &[])
}

fn recipients<'c>(
    recipients: &'c [Certificate],
    sender: &'c Certificate,
    opts: &EncryptOptions,
) -> Result<Vec<Recipient<'c>>, Error> {
    let mut all: Vec<&Certificate> = Vec::new();
    for c in recipients.iter().chain(std::iter::once(sender)) {
        if !all.contains(&c) {
            all.push(c);
        }
    }
    all.into_iter()
        .map(|c| {
            crate::send::check_recipient(c)?;
            Ok(Recipient::for_certificate(c, opts.key_transport, false)?)
        })
        .collect()
}

/// Encrypt the MIME entity read from `entity` to `recipients` and the sender, writing an
/// `application/pkcs7-mime` message (`outer` header fields first) to `out`.
pub fn encrypt_stream(
    entity: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    recipient_certs: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let rs = recipients(recipient_certs, sender, opts)?;
    let smime_type = if opts.cipher.is_aead() {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    out.write_all(&pkcs7_head(outer, smime_type))
        .map_err(io_error)?;
    let mut env = EnvelopedWriter::new_base64(out, &rs, opts.cipher, opts.policy).map_err(cms)?;
    let mut input = Counting {
        inner: entity,
        count: 0,
        progress,
    };
    pump(&mut input, &mut env)?;
    env.finish().map_err(io_error)?;
    Ok(())
}

/// Sign then encrypt the MIME entity read from `entity` (a canonical entity: CRLF line
/// ends), writing an `application/pkcs7-mime` enveloped message to `out`: inside, a
/// detached `multipart/signed` as [`crate::sign_and_encrypt`] writes it, or an opaque
/// signed-data with `opts.sign.opaque` or when the entity declares a `binary` / `8bit`
/// transfer encoding. The content is read once. The entity is sent as it stands (no
/// header protection): [`sign_and_encrypt_message_stream`] takes a draft and
/// [`crate::MessageOptions`].
#[allow(clippy::too_many_arguments)]
pub fn sign_and_encrypt_stream(
    entity: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    signer: &dyn SigningKey,
    recipient_certs: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    sign_and_encrypt_stream_with(
        entity,
        out,
        outer,
        signer,
        recipient_certs,
        sender_encryption_cert,
        opts,
        Vec::new(),
        progress,
    )
}

/// [`sign_and_encrypt_stream`] with extra signed attributes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_and_encrypt_stream_with(
    entity: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    signer: &dyn SigningKey,
    recipient_certs: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    extra: Vec<Attribute>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let sender = sender_encryption_cert.unwrap_or_else(|| signer.certificate());
    let rs = recipients(recipient_certs, sender, opts)?;
    let sign_opts = SignOptions {
        policy: opts.policy,
        ..opts.sign
    };
    let smime_type = if opts.cipher.is_aead() {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    out.write_all(&pkcs7_head(outer, smime_type))
        .map_err(io_error)?;
    let mut env = EnvelopedWriter::new_base64(out, &rs, opts.cipher, opts.policy).map_err(cms)?;
    let mut input = Counting {
        inner: entity,
        count: 0,
        progress,
    };
    // As in memory: a detached multipart/signed inside, unless opaque signing is asked
    // or the entity is binary (then opaque: it is never exposed to transport inside).
    let mut buffered = BufReader::with_capacity(64 * 1024, &mut input);
    let block = read_header_block(&mut buffered)?;
    let sign_opts = SignOptions {
        opaque: sign_opts.opaque || is_8bit_entity(&block),
        ..sign_opts
    };
    let mut whole = io::Cursor::new(block).chain(buffered);
    // The encryption has a thread of its own once the content is large; on two cores
    // a hashing thread as well would only add copies and waits.
    let hashing_thread = std::thread::available_parallelism().is_ok_and(|n| n.get() > 2);
    sign_entity_stream(
        &mut whole,
        &mut env,
        &Headers::default(),
        signer,
        &sign_opts,
        extra,
        hashing_thread,
    )?;
    env.finish().map_err(io_error)?;
    Ok(())
}

/// Sign the MIME entity read from `entity` (a canonical entity: CRLF line ends),
/// writing to `out` a detached `multipart/signed` message, or with
/// [`SignOptions::opaque`] an `application/pkcs7-mime; smime-type=signed-data` one.
/// A detached signature of an entity declaring a `binary` or `8bit` transfer encoding
/// is refused ([`Error::InvalidRequest`]). The entity is sent as it stands (no header
/// protection): [`sign_message_stream`] takes a draft and [`crate::MessageOptions`].
pub fn sign_stream(
    entity: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    signer: &dyn SigningKey,
    opts: &SignOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    sign_stream_with(entity, out, outer, signer, opts, Vec::new(), progress)
}

/// [`sign_stream`] with extra signed attributes.
pub(crate) fn sign_stream_with(
    entity: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    signer: &dyn SigningKey,
    opts: &SignOptions,
    extra: Vec<Attribute>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let mut input = Counting {
        inner: entity,
        count: 0,
        progress,
    };
    // A detached signature is over the entity's exact bytes, which mail transport
    // may re-encode unless they are 7-bit: refuse a binary or 8-bit entity.
    let mut buffered = BufReader::with_capacity(64 * 1024, &mut input);
    let block = read_header_block(&mut buffered)?;
    if !opts.opaque && is_8bit_entity(&block) {
        return Err(Error::InvalidRequest(
            "a binary or 8-bit entity cannot be signed detached: sign it opaque or give it \
             a 7-bit transfer encoding"
                .into(),
        ));
    }
    let mut whole = io::Cursor::new(block).chain(buffered);
    sign_entity_stream(&mut whole, out, outer, signer, opts, extra, true)
}

/// Does this header block declare a `binary` or `8bit` transfer encoding?
fn is_8bit_entity(block: &[u8]) -> bool {
    Headers::parse(block)
        .ok()
        .and_then(|h| h.get("content-transfer-encoding"))
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "binary" || v == "8bit"
        })
}

/// Sign `input` into `out`; the content is hashed on a thread of its own when large
/// unless `hashing_thread` is false.
fn sign_entity_stream(
    input: &mut dyn Read,
    out: &mut dyn Write,
    outer: &Headers,
    signer: &dyn SigningKey,
    opts: &SignOptions,
    extra: Vec<Attribute>,
    hashing_thread: bool,
) -> Result<(), Error> {
    let signers = [SignerSpec {
        key: signer,
        algorithm: opts.algorithm_for(signer),
        identify_by_ski: false,
    }];
    let params = SignParams {
        detached: !opts.opaque,
        signing_time: None,
    };
    if opts.opaque {
        out.write_all(&pkcs7_head(outer, "signed-data"))
            .map_err(io_error)?;
        let mut signed = SignedWriter::new(Base64Writer::new(out), &signers, &params, opts.policy)
            .map_err(cms)?
            .with_signed_attributes(extra);
        if !hashing_thread {
            signed = signed.with_hashing_on_this_thread();
        }
        pump(input, &mut signed)?;
        signed.finish().map_err(cms)?.finish().map_err(io_error)?;
    } else {
        let mut signed = MultipartSignedWriter::new(out, outer, &signers, &params, opts.policy)
            .map_err(cms)?
            .with_signed_attributes(extra);
        if !hashing_thread {
            signed = signed.with_hashing_on_this_thread();
        }
        pump(input, &mut signed)?;
        signed.finish().map_err(cms)?;
    }
    Ok(())
}

/// Is this header field one of the entity's own (Content-*, MIME-Version)?
fn is_content_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("content-") || n == "mime-version"
}

/// Read a draft (RFC 5322 header fields, blank line, body) from `input` without
/// reading its body: returns its outer header fields (everything but Content-* and
/// MIME-Version) and a reader of the inner MIME entity to protect — the draft's
/// Content-* fields (`text/plain` when it has none) and its body, base64-encoded on the
/// fly unless the draft declares it `7bit`, `quoted-printable` or `base64` already (such
/// a body, and a `text/*` body before encoding, gets CRLF line ends). A `multipart/*` or
/// `message/*` body (which RFC 2045 §6.4 forbids to encode) is sent as it stands, its
/// line ends made CRLF unless it is declared `binary`: its parts keep their own
/// encodings (a mail client gives attachments base64). The streaming counterpart of the
/// in-memory draft handling of [`crate::sign`] and [`crate::encrypt`], for bodies of
/// any size.
pub fn draft_stream<'r>(input: &'r mut dyn Read) -> Result<(Headers, Box<dyn Read + 'r>), Error> {
    let mut buffered = BufReader::with_capacity(64 * 1024, input);
    let block = read_header_block(&mut buffered)?;
    let draft = Headers::parse(&block)?;
    let mut outer = Headers::default();
    let mut inner = Headers::default();
    for f in draft.fields {
        if is_content_field(&f.name) {
            if !f.name.eq_ignore_ascii_case("mime-version") {
                inner.fields.push(f);
            }
        } else {
            outer.fields.push(f);
        }
    }
    if inner.get("content-type").is_none() {
        inner.set("Content-Type", "text/plain; charset=utf-8");
    }
    let cte = inner
        .get("content-transfer-encoding")
        .map(|v| v.trim().to_ascii_lowercase());
    let composite = matches!(
        inner.content_type().mime_type.as_str(),
        "multipart" | "message"
    );
    let body: Box<dyn Read + 'r> = match cte.as_deref() {
        // A composite entity is never encoded as a whole.
        Some("binary") if composite => Box::new(buffered),
        _ if composite => Box::new(mss_cms::stream::CanonReader::new(buffered)),
        // Already 7-bit: only the line ends are made canonical (CRLF).
        Some("7bit" | "quoted-printable" | "base64") => {
            Box::new(mss_cms::stream::CanonReader::new(buffered))
        }
        _ => {
            inner.remove("content-transfer-encoding");
            inner.set("Content-Transfer-Encoding", "base64");
            let text = inner.content_type().essence().starts_with("text/");
            let raw: Box<dyn Read + 'r> = if text {
                Box::new(mss_cms::stream::CanonReader::new(buffered))
            } else {
                Box::new(buffered)
            };
            Box::new(mss_cms::stream::Base64EncodeReader::new(raw))
        }
    };
    let mut head = inner.to_bytes();
    head.extend_from_slice(b"\r\n");
    Ok((outer, Box::new(io::Cursor::new(head).chain(body))))
}

/// Read a header block (up to and including the blank line) from `r`.
pub(crate) fn read_header_block(r: &mut dyn BufRead) -> Result<Vec<u8>, Error> {
    let mut block = Vec::new();
    loop {
        let start = block.len();
        let n = r.read_until(b'\n', &mut block).map_err(io_error)?;
        let line = &block[start..];
        if n == 0 || line == b"\r\n" || line == b"\n" {
            return Ok(block);
        }
        if block.len() > MAX_HEADER_BLOCK {
            return Err(Error::Malformed("header block too large".into()));
        }
    }
}

/// Is this entity an `application/pkcs7-mime` (or `x-pkcs7-mime`) one?
fn is_pkcs7_mime(h: &Headers) -> bool {
    let e = h.content_type().essence();
    e == "application/pkcs7-mime" || e == "application/x-pkcs7-mime"
}

fn body_reader<'r>(h: &Headers, r: Box<dyn Read + 'r>) -> Box<dyn Read + 'r> {
    let cte = h
        .get("content-transfer-encoding")
        .map(|v| v.trim().to_ascii_lowercase());
    if cte.as_deref() == Some("base64") {
        Box::new(Base64Reader::new(r))
    } else {
        r
    }
}

/// One S/MIME layer being read: a CMS object (`application/pkcs7-mime` body or bare
/// BER/DER) or a `multipart/signed` body. Reading it gives the inner entity.
enum LayerReader<'a> {
    Cms(CmsReader<'a, Box<dyn Read + 'a>>),
    Multipart(MultipartSignedReader<'a, Box<dyn Read + 'a>>),
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LayerReader::Cms(r) => r.read(buf),
            LayerReader::Multipart(r) => r.read(buf),
        }
    }
}

impl LayerReader<'_> {
    fn drain_input(&mut self) -> Result<(), mss_cms::CmsError> {
        match self {
            LayerReader::Cms(r) => r.drain_input(),
            LayerReader::Multipart(r) => r.drain_input(),
        }
    }

    fn finished(&self) -> Result<Finished, Error> {
        let not_verified = || Error::Malformed("signed layer not verified".into());
        Ok(match self {
            LayerReader::Cms(CmsReader::Decrypt(d)) => Finished::Decrypted(d.info().clone()),
            LayerReader::Cms(CmsReader::Verify(v)) => {
                Finished::Verified(v.results().cloned().ok_or_else(not_verified)?, false)
            }
            LayerReader::Multipart(m) => {
                Finished::Verified(m.results().cloned().ok_or_else(not_verified)?, true)
            }
        })
    }
}

/// Is this entity a `multipart/signed` one with an S/MIME signature?
fn is_smime_multipart_signed(h: &Headers) -> bool {
    let ct = h.content_type();
    ct.essence() == "multipart/signed"
        && ct.param("protocol").is_none_or(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "application/pkcs7-signature" || p == "application/x-pkcs7-signature"
        })
}

/// The warning of a streamed open that could not analyse a part of the clear message
/// within its memory bounds (an `application/pkcs7-mime` part or a signature part
/// larger than 16 MiB, a nested header block larger than 1 MiB, a signed part with a
/// bare CR before a bare LF, whose canonical form was not hashed): that part is listed as
/// one opaque leaf covered only by the signatures around it, so a reader must not take
/// it as covered by a signature it may hold. [`crate::open`] never gives it.
pub const PARTS_NOT_ANALYSED: &str = "parts-not-analysed";

/// Writes to `out` and scans what is written; a scan error is kept for the caller.
struct Tee<'o, 's, 'c> {
    out: &'o mut dyn Write,
    scanner: &'s mut crate::stream_parts::PartScanner<'c>,
    error: Option<Error>,
}

impl Write for Tee<'_, '_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        if let Err(e) = self.scanner.push(&buf[..n]) {
            self.error = Some(e);
            return Err(io::Error::other("the scan of the parts failed"));
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Bytes looked at before deciding what the input of [`open_stream`] is.
const PEEK: usize = 4096;

/// The length of a PEM `CMS` or `PKCS7` BEGIN line (and the whitespace before it) at
/// the start of `head`, when there is one.
fn pem_begin(head: &[u8]) -> Option<usize> {
    let skip = head.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = &head[skip..];
    ["CMS", "PKCS7"].iter().find_map(|label| {
        let begin = format!("-----BEGIN {label}-----");
        rest.starts_with(begin.as_bytes())
            .then_some(skip + begin.len())
    })
}

/// The base64 body of a PEM object: what comes before its END line (base64 text holds
/// no `-`), the rest left unread.
struct PemBody<R: BufRead>(R);

impl<R: BufRead> Read for PemBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.0.fill_buf()?;
        let end = memchr::memchr(b'-', avail).unwrap_or(avail.len());
        let n = end.min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.0.consume(n);
        Ok(n)
    }
}

/// Open a message read from `input`: every S/MIME layer (enveloped, auth-enveloped,
/// opaque signed, `multipart/signed`; nested) is decrypted or verified while
/// streaming, and the clear message (the received outer header fields merged with the
/// innermost entity, protected headers restored, as [`crate::open`] gives it) is
/// written to `out`. Signatures are judged (chain, revocation) as by [`crate::open`].
/// The parts of the clear message are analysed while they stream (nested signed parts
/// verified and reported by part path, coverage, protected headers compared, signer
/// mismatch), so that the [`Report`] is the same as [`crate::open`]'s, in bounded
/// memory; a part beyond the bounds is reported [`PARTS_NOT_ANALYSED`].
/// A bare CMS object is accepted too, BER/DER or PEM (`CMS` or `PKCS7`, RFC 7468), as by
/// [`crate::open`] (then only the inner content is written).
pub fn open_stream(
    input: &mut dyn Read,
    out: &mut dyn Write,
    opts: &OpenOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, Error> {
    let time = opts.time.unwrap_or_else(SystemTime::now);
    let mut report = Report::default();
    let counting = Counting {
        inner: input,
        count: 0,
        progress,
    };
    let mut raw = BufReader::with_capacity(64 * 1024, counting);
    // The start of the input, whatever the sizes of its reads, to tell a bare CMS object
    // (DER, or PEM after some whitespace) from a MIME message; it is read again after.
    let mut head = Vec::with_capacity(PEEK);
    while head.len() < PEEK {
        let avail = raw.fill_buf().map_err(io_error)?;
        if avail.is_empty() {
            break;
        }
        let n = avail.len().min(PEEK - head.len());
        head.extend_from_slice(&avail[..n]);
        raw.consume(n);
    }
    let pem = pem_begin(&head);
    let first = head.first().copied();
    let mut buffered = io::Cursor::new(head).chain(raw);
    let sink: Rc<RefCell<Vec<Finished>>> = Rc::new(RefCell::new(Vec::new()));
    let mut ctx = Ctx {
        opts,
        time,
        report: &mut report,
        from: None,
        evidence: Vec::new(),
        sender: None,
        part: None,
    };
    let checks = coverage::Checks {
        extra_certs: &opts.extra_certs,
        policy: opts.policy,
    };
    // The top-level headers (none for a bare CMS object), the current entity's headers
    // with its raw header block, and its (raw) body.
    let mut outer: Option<Headers> = None;
    let mut current: (Option<HeaderBlock>, Box<dyn Read + '_>) = if let Some(n) = pem {
        // A PEM "CMS" / "PKCS7" object: its base64 body, up to the END line.
        buffered.consume(n);
        (None, Box::new(Base64Reader::new(PemBody(buffered))))
    } else if first == Some(0x30) {
        (None, Box::new(buffered))
    } else {
        let block = read_header_block(&mut buffered)?;
        let h = Headers::parse(&block)?;
        ctx.from = h.get("From");
        ctx.sender = h.get("Sender");
        outer = Some(h.clone());
        (Some((h, block)), Box::new(buffered))
    };
    let mut layers = 0;
    // The innermost entity's header fields and the scan of its parts (`None`: the
    // content of the innermost layer is not MIME).
    let mut innermost: Option<(Headers, crate::stream_parts::PartScanner<'_>)> = None;
    loop {
        let (h, body) = current;
        let layer = match &h {
            None => LayerReader::Cms(
                read_cms(
                    body,
                    &opts.keys,
                    &opts.kek_keys,
                    &opts.extra_certs,
                    opts.policy,
                )
                .map_err(cms)?,
            ),
            Some((h, _)) if is_pkcs7_mime(h) => LayerReader::Cms(
                read_cms(
                    body_reader(h, body),
                    &opts.keys,
                    &opts.kek_keys,
                    &opts.extra_certs,
                    opts.policy,
                )
                .map_err(cms)?,
            ),
            Some((h, _)) if is_smime_multipart_signed(h) => LayerReader::Multipart(
                MultipartSignedReader::new(body, &h.content_type(), &opts.extra_certs, opts.policy)
                    .map_err(cms)?,
            ),
            Some((h, block)) => {
                // The innermost entity: its header block (without its header
                // protection marks, as `crate::open` gives it), then its body, scanned
                // for its parts as it is written.
                let unmark = layers > 0
                    && matches!(header_protection::recover_from(h, |_| false), Ok(Some(_)));
                let head = if unmark {
                    header_protection::unmark(block)
                } else {
                    block.clone()
                };
                let head = match &outer {
                    Some(o) => mime::merge_outer_headers(o, &head),
                    None => head,
                };
                out.write_all(&head).map_err(io_error)?;
                crate::mdn::note_request(&head, ctx.report);
                let mut scanner = crate::stream_parts::PartScanner::new(checks);
                scanner.push(block)?;
                let mut body = body;
                let mut tee = Tee {
                    out,
                    scanner: &mut scanner,
                    error: None,
                };
                let pumped = pump(&mut body, &mut tee);
                if let Some(e) = tee.error {
                    return Err(e);
                }
                pumped?;
                drop(body);
                innermost = Some((h.clone(), scanner));
                break;
            }
        };
        layers += 1;
        if layers > crate::open::MAX_LAYERS {
            return Err(Error::Malformed(format!(
                "more than {} S/MIME layers",
                crate::open::MAX_LAYERS
            )));
        }
        let mut inner = BufReader::with_capacity(64 * 1024, layer);
        let block = read_header_block(&mut inner)?;
        match Headers::parse(&block) {
            Ok(h) if !block.is_empty() && looks_like_header_block(&block) => {
                current = (
                    Some((h, block)),
                    Box::new(LayerEnd {
                        inner: Some(inner),
                        sink: Rc::clone(&sink),
                    }),
                );
            }
            _ => {
                // Not MIME inside a CMS layer: handed back as it stands.
                ctx.report.warn("inner-content-not-mime");
                out.write_all(&block).map_err(io_error)?;
                let mut rest = LayerEnd {
                    inner: Some(inner),
                    sink: Rc::clone(&sink),
                };
                pump(&mut rest, out)?;
                break;
            }
        }
    }
    for f in sink.borrow_mut().drain(..) {
        record_end(&mut ctx, f)?;
    }
    // The parts, as `crate::open` reports them.
    let outer_signatures: Vec<usize> = (0..ctx.report.signatures.len())
        .filter(|&i| !ctx.report.signatures[i].countersignature)
        .collect();
    let mailboxes = coverage::Mailboxes {
        from: ctx.from.clone(),
        sender: ctx.sender.clone(),
    };
    let (tree, protected) = match innermost {
        Some((h, scanner)) => {
            let scanned = scanner.finish()?;
            (scanned.tree, Some((h, scanned.legacy_display)))
        }
        None => (
            coverage::Node::Leaf("application/octet-stream".into()),
            None,
        ),
    };
    ctx.report.parts = coverage::report(&tree, &outer_signatures, &mailboxes, &mut ctx)?;
    drop(tree);
    if ctx.report.encrypted && !ctx.report.authenticated_encryption && !ctx.report.is_signed() {
        ctx.report.warn("unauthenticated-encryption");
    }
    if let Some((h, legacy_display)) = protected
        && layers > 0
    {
        let recovered = header_protection::recover_from(&h, |_| legacy_display);
        crate::protected::record(outer.as_ref(), recovered, ctx.report);
    }
    Ok(report)
}

/// An entity's header fields and its raw header block (blank line included).
type HeaderBlock = (Headers, Vec<u8>);

/// Does this block start like MIME header fields (or an empty header block)?
fn looks_like_header_block(block: &[u8]) -> bool {
    if block.starts_with(b"\r\n") || block.starts_with(b"\n") {
        return true;
    }
    let line = block.split(|b| *b == b'\n').next().unwrap_or_default();
    match line.iter().position(|b| *b == b':') {
        Some(colon) => colon > 0 && line[..colon].iter().all(|b| b.is_ascii_graphic()),
        None => false,
    }
}

/// A finished layer's outcome, kept until the whole message was read.
enum Finished {
    Decrypted(mss_cms::stream::StreamDecrypted),
    /// A signed layer; true for `multipart/signed`.
    Verified(mss_cms::stream::StreamVerified, bool),
}

/// Wraps a layer's reader: when it reaches its end, its own input is read to the end
/// too (so that the layers around it finish first) and its outcome is kept.
struct LayerEnd<'a> {
    inner: Option<BufReader<LayerReader<'a>>>,
    sink: Rc<RefCell<Vec<Finished>>>,
}

impl Read for LayerEnd<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(r) = self.inner.as_mut() else {
            return Ok(0);
        };
        let n = r.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(r) = self.inner.take()
        {
            let mut reader = r.into_inner();
            let f = reader.finished().map_err(io::Error::other)?;
            reader
                .drain_input()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.sink.borrow_mut().push(f);
        }
        Ok(n)
    }
}

fn record_end(ctx: &mut Ctx<'_, '_>, f: Finished) -> Result<(), Error> {
    match f {
        Finished::Decrypted(d) => {
            ctx.report
                .record_decryption(d.authenticated, d.cipher, &d.key_management, &d.warnings);
        }
        Finished::Verified(v, detached) => {
            let kind = if detached {
                LayerKind::SignedDetached
            } else {
                LayerKind::SignedOpaque
            };
            ctx.record_signed_layer(&v.signed_data, v.results, kind);
        }
    }
    Ok(())
}
