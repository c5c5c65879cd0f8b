//! Streaming `multipart/signed` (RFC 8551 §3.5.3): a `Write` adaptor that writes the
//! first part as it arrives while hashing it and appends the detached signature at the
//! end, and a `Read` adaptor that hands out the first part while hashing it and
//! verifies the signature part when it arrives.
//!
//! The signature comes after the content, so the reader must choose the digests before
//! seeing the signers: it hashes with the algorithms the `micalg` parameter names plus
//! SHA-256 (or, without a usable `micalg`, with SHA-1, SHA-256, SHA-384 and SHA-512).
//! A signer using another digest is reported as unsupported rather than buffered: no
//! temporary file is ever needed. The first part is canonicalised (bare LF and CR
//! become CRLF) as it streams, as the in-memory path does for parts with bare LFs.
//! The boundary is drawn at random (128 bits) before the content is seen; the writer
//! cannot look ahead for it in the content.

use std::io::{self, Read, Write};

use mss_algs::digest::DigestAlgorithm;
use mss_algs::policy::Policy;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::hash::Hashing;
use super::signed::StreamVerified;
use crate::CmsError;
use crate::content::{ContentInfo, ContentType};
use crate::mime::encoding::{Canon, canonical_prefix};
use crate::mime::{self, HeaderField, Headers};
use crate::signed::{self, SignParams, SignerSpec};

/// Largest preamble, delimiter line or signature part read.
const MAX_AUX: usize = 16 * 1024 * 1024;

fn malformed(what: impl Into<String>) -> CmsError {
    CmsError::Malformed(what.into())
}

fn io_err(e: CmsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Writes a `multipart/signed` message: the outer header fields, the first part as it
/// is written (it must be a canonical MIME entity: CRLF line ends), then the detached
/// signature. Call [`finish`](Self::finish) at the end.
pub struct MultipartSignedWriter<'a, W: Write> {
    out: W,
    boundary: String,
    hashing: Hashing,
    signers: &'a [SignerSpec<'a>],
    params: SignParams,
    policy: &'a dyn Policy,
    /// Extra signed attributes of every signer.
    extra_attrs: Vec<Attribute>,
}

impl<W: Write> std::fmt::Debug for MultipartSignedWriter<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartSignedWriter")
            .field("boundary", &self.boundary)
            .finish()
    }
}

impl<'a, W: Write> MultipartSignedWriter<'a, W> {
    /// Write the header block and the first delimiter.
    pub fn new(
        mut out: W,
        outer: &Headers,
        signers: &'a [SignerSpec<'a>],
        params: &SignParams,
        policy: &'a dyn Policy,
    ) -> Result<Self, CmsError> {
        if signers.is_empty() {
            return Err(CmsError::Unsupported("no signer given".into()));
        }
        let mut digests: Vec<DigestAlgorithm> = Vec::new();
        for s in signers {
            if !digests.contains(&s.algorithm.digest) {
                digests.push(s.algorithm.digest);
            }
        }
        let micalg: Vec<&str> = digests.iter().map(|d| d.micalg()).collect();
        let micalg = mime::smime::sanitize_token(&micalg.join(","), true);
        let micalg = if micalg.contains(',') {
            format!("\"{micalg}\"")
        } else {
            micalg
        };
        let boundary = mime::smime::fresh_boundary(&[]);
        let mut h = mime::smime::outer_block(outer);
        h.fields.push(HeaderField {
            name: "Content-Type".into(),
            value: format!(
                " multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg={micalg}; boundary=\"{boundary}\""
            )
            .into_bytes(),
        });
        let mut head = h.to_bytes();
        head.extend_from_slice(
            b"\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n",
        );
        head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.write_all(&head).map_err(CmsError::Io)?;
        Ok(MultipartSignedWriter {
            out,
            boundary,
            hashing: Hashing::new(digests.iter().map(|d| d.hasher()).collect()),
            signers,
            params: SignParams {
                detached: true,
                ..params.clone()
            },
            policy,
            extra_attrs: Vec::new(),
        })
    }

    /// Hash the content on the writing thread, never on a thread of its own. For a
    /// writer whose output already goes through a thread (an [`super::EnvelopedWriter`]
    /// encrypting a large content) on a machine with two cores: there, a third busy
    /// thread costs more in copies and waits than it gives (see `docs/performance.md`).
    pub fn with_hashing_on_this_thread(mut self) -> Self {
        self.hashing.on_this_thread();
        self
    }

    /// Add extra signed attributes (a `receiptRequest`…) to every signer, as
    /// [`signed::sign_with_attributes`] does; they are used by [`finish`](Self::finish).
    pub fn with_signed_attributes(mut self, attrs: Vec<Attribute>) -> Self {
        self.extra_attrs = attrs;
        self
    }

    /// Sign (the keys are used here) and write the signature part; returns the inner
    /// writer.
    pub fn finish(mut self) -> Result<W, CmsError> {
        let e = CmsError::Io;
        let digests = self.hashing.finish()?;
        let der = signed::sign_digests_with_attributes(
            &digests,
            self.signers,
            &self.params,
            &self.extra_attrs,
            self.policy,
        )?;
        let b = &self.boundary;
        let mut tail = format!("\r\n--{b}\r\n").into_bytes();
        tail.extend_from_slice(
            b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\
              Content-Transfer-Encoding: base64\r\n\
              Content-Disposition: attachment; filename=smime.p7s\r\n\r\n",
        );
        tail.extend_from_slice(&mime::encode_base64_lines(&der));
        tail.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        self.out.write_all(&tail).map_err(e)?;
        self.out.flush().map_err(e)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for MultipartSignedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hashing.update(buf);
        self.out.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Preamble,
    FirstPart,
    Done,
}

/// What a line starting at a line start is with respect to the boundary.
enum Probe {
    /// Not a delimiter.
    No,
    /// A delimiter line, this long (line end included).
    Delimiter(usize),
    /// Cannot tell yet: more input is needed.
    NeedMore,
}

/// Hands out the first part of a `multipart/signed` body (the signed entity, canonical
/// CRLF) while hashing it; when it ends, reads the signature part and verifies every
/// signer ([`results`](Self::results)).
pub struct MultipartSignedReader<'a, R: Read> {
    inner: R,
    dash_boundary: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    state: State,
    canon: Canon,
    out: Vec<u8>,
    out_pos: usize,
    hashing: Option<Hashing>,
    extra_certs: &'a [Certificate],
    policy: &'a dyn Policy,
    verified: Option<StreamVerified>,
}

impl<R: Read> std::fmt::Debug for MultipartSignedReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartSignedReader")
            .field("state", &self.state)
            .finish()
    }
}

/// The digest algorithms a streaming verifier hashes a signed part with, for the
/// `micalg` parameter of its `multipart/signed`: those it names plus SHA-256, or
/// without a usable `micalg` SHA-1, SHA-256, SHA-384 and SHA-512.
pub fn micalg_digests(micalg: Option<&str>) -> Vec<DigestAlgorithm> {
    let known = [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha224,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
        DigestAlgorithm::Md5,
    ];
    let mut v: Vec<DigestAlgorithm> = micalg
        .unwrap_or_default()
        .split(',')
        .filter_map(|m| {
            let m = m.trim().trim_matches('"').to_ascii_lowercase();
            known.iter().copied().find(|d| d.micalg() == m)
        })
        .collect();
    if v.is_empty() {
        v = vec![
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ];
    } else if !v.contains(&DigestAlgorithm::Sha256) {
        v.push(DigestAlgorithm::Sha256);
    }
    v.dedup();
    v
}

impl<'a, R: Read> MultipartSignedReader<'a, R> {
    /// Read the body of a `multipart/signed` entity whose `Content-Type` is `ct`.
    pub fn new(
        inner: R,
        ct: &mime::ContentType,
        extra_certs: &'a [Certificate],
        policy: &'a dyn Policy,
    ) -> Result<Self, CmsError> {
        let boundary = ct
            .param("boundary")
            .filter(|b| !b.is_empty() && b.len() <= 70)
            .ok_or_else(|| malformed("multipart/signed without a usable boundary"))?;
        let digests = micalg_digests(ct.param("micalg"));
        Ok(MultipartSignedReader {
            inner,
            dash_boundary: format!("--{boundary}").into_bytes(),
            buf: Vec::with_capacity(128 * 1024),
            start: 0,
            eof: false,
            state: State::Preamble,
            canon: Canon::default(),
            out: Vec::with_capacity(64 * 1024 + 1024),
            out_pos: 0,
            hashing: Some(Hashing::new(digests.iter().map(|d| d.hasher()).collect())),
            extra_certs,
            policy,
            verified: None,
        })
    }

    /// The verification, once the first part was read to its end.
    pub fn results(&self) -> Option<&StreamVerified> {
        self.verified.as_ref()
    }

    /// Read the input left after the close delimiter to its end, discarding it.
    pub fn drain_input(&mut self) -> Result<(), CmsError> {
        let mut sink = [0u8; 8192];
        while self
            .inner
            .read(&mut sink)
            .map_err(|e| malformed(format!("read error: {e}")))?
            > 0
        {}
        Ok(())
    }

    /// Read more input into the buffer; false at the end of input.
    fn more(&mut self) -> Result<bool, CmsError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let at = self.buf.len();
        self.buf.resize(at + 64 * 1024, 0);
        let n = self
            .inner
            .read(&mut self.buf[at..])
            .map_err(|e| malformed(format!("read error: {e}")))?;
        self.buf.truncate(at + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Is the line starting at `i` of the buffer a delimiter?
    fn probe(&self, i: usize) -> Probe {
        let rest = &self.buf[i..];
        let db = &self.dash_boundary;
        let k = rest.len().min(db.len());
        if rest[..k] != db[..k] {
            return Probe::No;
        }
        if rest.len() < db.len() {
            return if self.eof { Probe::No } else { Probe::NeedMore };
        }
        let after = &rest[db.len()..];
        let after = after.strip_prefix(b"--").unwrap_or(after);
        for (j, &b) in after.iter().enumerate() {
            match b {
                b' ' | b'\t' | b'\r' => {}
                b'\n' => return Probe::Delimiter(rest.len() - after.len() + j + 1),
                _ => return Probe::No,
            }
            if j > 1000 {
                return Probe::No;
            }
        }
        if self.eof {
            // A delimiter on the last line, without a line end.
            Probe::Delimiter(rest.len())
        } else {
            Probe::NeedMore
        }
    }

    /// Skip the preamble up to and including the first delimiter line.
    fn skip_preamble(&mut self) -> Result<(), CmsError> {
        let mut line_start = self.start;
        loop {
            while line_start < self.buf.len() {
                match self.probe(line_start) {
                    Probe::Delimiter(n) => {
                        self.start = line_start + n;
                        self.state = State::FirstPart;
                        return Ok(());
                    }
                    Probe::NeedMore => break,
                    Probe::No => {}
                }
                match memchr::memchr(b'\n', &self.buf[line_start..]) {
                    Some(p) => line_start += p + 1,
                    None => {
                        line_start = self.buf.len();
                        break;
                    }
                }
            }
            if line_start > MAX_AUX {
                return Err(malformed("multipart/signed preamble too long"));
            }
            // Keep what is needed: the line being probed.
            if line_start > self.start {
                self.start = line_start;
            }
            if !self.more()? {
                return Err(malformed("multipart/signed: no delimiter found"));
            }
            line_start = self.start;
        }
    }

    /// Produce the next piece of the first part into `out`; at its end, verify.
    fn step(&mut self) -> Result<(), CmsError> {
        if self.state == State::Preamble {
            self.skip_preamble()?;
        }
        loop {
            // Look for a delimiter at each line start after `start`.
            let region = &self.buf[self.start..];
            let mut safe = region.len();
            let mut found = None;
            let mut from = 0;
            while let Some(p) = memchr::memchr(b'\n', &region[from..]) {
                let nl = from + p;
                match self.probe(self.start + nl + 1) {
                    Probe::No => from = nl + 1,
                    Probe::Delimiter(n) => {
                        found = Some((nl, n));
                        break;
                    }
                    Probe::NeedMore => {
                        safe = nl;
                        break;
                    }
                }
                if nl + 1 >= region.len() {
                    // The line after this LF has not arrived: wait for it.
                    safe = nl;
                    break;
                }
            }
            if let Some((nl, n)) = found {
                // The line break before the delimiter belongs to it.
                let end = if nl > 0 && region[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                let (s, e) = (self.start, self.start + end);
                self.emit(s, e);
                self.canon.finish(&mut self.out);
                self.hash_out();
                self.start += nl + 1 + n;
                self.state = State::Done;
                return self.verify();
            }
            // Keep back a CR that may start the delimiter's line break.
            let safe_end = if safe > 0 && region[safe - 1] == b'\r' {
                safe - 1
            } else {
                safe
            };
            if self.eof {
                return Err(malformed("multipart/signed: the signature part is missing"));
            }
            if safe_end > 0 {
                let (s, e) = (self.start, self.start + safe_end);
                self.emit(s, e);
                self.start += safe_end;
                self.hash_out();
                return Ok(());
            }
            if self.buf.len() - self.start > MAX_AUX {
                return Err(malformed("multipart/signed: delimiter line too long"));
            }
            self.more()?;
        }
    }

    fn emit(&mut self, s: usize, e: usize) {
        self.out.clear();
        self.out_pos = 0;
        let mut canon = std::mem::take(&mut self.canon);
        canon.push(&self.buf[s..e], &mut self.out);
        self.canon = canon;
    }

    fn hash_out(&mut self) {
        if let Some(h) = self.hashing.as_mut() {
            h.update(&self.out);
        }
    }

    /// Read the signature part and verify every signer.
    fn verify(&mut self) -> Result<(), CmsError> {
        let mut rest = self.buf[self.start..].to_vec();
        self.buf = Vec::new();
        self.start = 0;
        let mut chunk = [0u8; 8192];
        loop {
            let n = self
                .inner
                .read(&mut chunk)
                .map_err(|e| malformed(format!("read error: {e}")))?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
            if rest.len() > MAX_AUX {
                return Err(malformed("multipart/signed: signature part too large"));
            }
        }
        let boundary = String::from_utf8_lossy(&self.dash_boundary[2..]).into_owned();
        let mut body = self.dash_boundary.clone();
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&rest);
        let parts =
            mime::split_multipart(&body, &boundary).map_err(|e| malformed(e.to_string()))?;
        let [part] = parts.as_slice() else {
            return Err(malformed(format!(
                "multipart/signed: {} body parts, expected 2",
                parts.len() + 1
            )));
        };
        let (hb, sbody) = mime::split_header_body(part);
        let sh = Headers::parse(hb).map_err(|e| malformed(e.to_string()))?;
        let essence = sh.content_type().essence();
        let is_sig = mime::smime::SIG_PROTOCOLS.contains(&essence.as_str())
            || essence == "application/octet-stream";
        if !is_sig {
            return Err(malformed(format!(
                "second part is {essence}, not a PKCS #7 signature"
            )));
        }
        let der =
            mime::decode_transfer_encoding(sbody, sh.get("content-transfer-encoding").as_deref())
                .map_err(|e| malformed(e.to_string()))?;
        let ci = ContentInfo::from_ber(&der)?;
        if ci.kind() != ContentType::SignedData {
            return Err(malformed("the signature part is not a SignedData"));
        }
        let sd = signed::parse(&ci.content)?;
        let digests = match self.hashing.take() {
            Some(h) => h.finish()?,
            None => Vec::new(),
        };
        let results = signed::verify_digests(&sd, &digests, self.extra_certs, self.policy);
        self.verified = Some(StreamVerified {
            signed_data: sd,
            results,
        });
        Ok(())
    }
}

/// Canonicalises the line ends of what it reads (bare LF and bare CR become CRLF).
#[derive(Debug)]
pub struct CanonReader<R: Read> {
    inner: R,
    canon: Canon,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> CanonReader<R> {
    /// Canonicalise what `inner` gives.
    pub fn new(inner: R) -> Self {
        CanonReader {
            inner,
            canon: Canon::default(),
            // Only for the rare read after a CR that ended a chunk (allocated then).
            raw: Vec::new(),
            out: Vec::with_capacity(128 * 1024),
            out_pos: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for CanonReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() || buf.is_empty() {
                let avail = &self.out[self.out_pos..];
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            self.out.clear();
            self.out_pos = 0;
            if self.canon.pending_cr {
                // The CR's successor decides: through the line-by-line path.
                if self.raw.is_empty() {
                    self.raw = vec![0; 8 * 1024];
                }
                let n = self.inner.read(&mut self.raw)?;
                if n == 0 {
                    self.eof = true;
                    self.canon.finish(&mut self.out);
                } else {
                    self.canon.push(&self.raw[..n], &mut self.out);
                }
                continue;
            }
            // Read straight into `buf`: canonical text (the usual case) is handed out
            // without a copy; from the first irregular line end on, the rest goes
            // through `Canon` and what does not fit waits in `out`.
            let n = self.inner.read(buf)?;
            if n == 0 {
                self.eof = true;
                return Ok(0);
            }
            let p = canonical_prefix(&buf[..n]);
            if p == n {
                return Ok(n);
            }
            self.canon.push(&buf[p..n], &mut self.out);
            let m = self.out.len().min(buf.len() - p);
            buf[p..p + m].copy_from_slice(&self.out[..m]);
            self.out_pos = m;
            if p + m > 0 {
                return Ok(p + m);
            }
            // Only a CR was read: its successor is needed.
        }
    }
}

impl<R: Read> Read for MultipartSignedReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() && self.state != State::Done {
            self.out.clear();
            self.out_pos = 0;
            self.step().map_err(io_err)?;
        }
        let avail = &self.out[self.out_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}
