//! Streaming CMS: messages larger than memory, in bounded memory.
//!
//! - [`ber`]: an incremental BER reader over `io::Read` (indefinite lengths, segmented
//!   OCTET STRINGs of any depth) and BER writing helpers;
//! - [`enveloped`]: [`EnvelopedWriter`] (EnvelopedData / AuthEnvelopedData as an
//!   `io::Write`) and [`DecryptReader`] (decryption as an `io::Read`);
//! - [`signed`]: [`SignedWriter`] (opaque SignedData, content hashed as it streams) and
//!   [`VerifyReader`] (content handed out while hashed, signers verified at its end);
//! - [`multipart`]: [`MultipartSignedWriter`] / [`MultipartSignedReader`] (detached
//!   `multipart/signed`, the first part hashed as it streams);
//! - [`Base64Writer`] / [`Base64EncodeReader`] / [`Base64Reader`]: the base64 body of an
//!   `application/pkcs7-mime` entity, encoded and decoded in chunks.
//!
//! Memory stays bounded by the segment size (64 KiB) plus the non-content elements
//! (certificates, recipient and signer infos: at most [`ber::MAX_ELEMENT`] each),
//! whatever the size of the content. Not streamed: AuthEnvelopedData carrying
//! authenticated attributes (refused by the reader, never produced by mss: GCM
//! authenticates them before the content, but they come after it).

pub mod ber;
pub mod enveloped;
mod hash;
pub mod multipart;
pub mod signed;

use std::io::{self, Read, Write};

use const_oid::ObjectIdentifier;
use der::Decode;

use mss_algs::keys::DecryptionKey;
use mss_algs::oid;
use mss_algs::policy::Policy;
use x509_cert::Certificate;

pub use enveloped::{DecryptReader, EnvelopedWriter, StreamDecrypted};
pub use multipart::{CanonReader, MultipartSignedReader, MultipartSignedWriter};
pub use signed::{SignedWriter, StreamVerified, VerifyReader};

use crate::CmsError;
use crate::enveloped::KekKey;
use crate::mime::encoding::{append_base64_lines, push_base64_text};

/// Input bytes per base64 line (76 characters).
const LINE_IN: usize = 57;
/// Lines encoded per batch.
const BATCH_LINES: usize = 1024;
/// Input bytes per batch of lines.
const BATCH: usize = LINE_IN * BATCH_LINES;

/// The state of a base64 encoding in 76-character CRLF lines, fed in pieces of any
/// size: complete lines are appended to a text buffer as soon as they are whole (whole
/// runs of lines encoded straight from the input), less than a line is kept. It is
/// `Send`, so the encoding can move to another thread with the data it encodes (the
/// encrypting thread of an armored [`EnvelopedWriter`]).
#[derive(Debug, Default)]
pub(crate) struct Base64Lines {
    /// Less than one line of input.
    pending: Vec<u8>,
    scratch: Vec<u8>,
}

impl Base64Lines {
    /// Append the lines of `data` that are complete to `text`.
    pub(crate) fn push(&mut self, mut data: &[u8], text: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let n = (LINE_IN - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.pending.len() < LINE_IN {
                return;
            }
            append_base64_lines(&self.pending, &mut self.scratch, text);
            self.pending.clear();
        }
        let whole = data.len() / LINE_IN * LINE_IN;
        if whole > 0 {
            append_base64_lines(&data[..whole], &mut self.scratch, text);
        }
        self.pending.extend_from_slice(&data[whole..]);
    }

    /// Append the last, partial line (if any) to `text`.
    pub(crate) fn finish(&mut self, text: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            append_base64_lines(&self.pending, &mut self.scratch, text);
            self.pending.clear();
        }
    }
}

/// Text gathered before it is written out.
const TEXT_BATCH: usize = 78 * BATCH_LINES;

/// Encodes what is written as base64 in 76-character CRLF lines (the last line too), as
/// [`crate::mime::encode_base64_lines`] does in memory. Call
/// [`finish`](Self::finish) at the end.
#[derive(Debug)]
pub struct Base64Writer<W: Write> {
    out: W,
    lines: Base64Lines,
    /// Encoded lines not yet written out.
    text: Vec<u8>,
}

impl<W: Write> Base64Writer<W> {
    /// Encode into `out`.
    pub fn new(out: W) -> Self {
        Base64Writer {
            out,
            lines: Base64Lines::default(),
            text: Vec::with_capacity(TEXT_BATCH + 80),
        }
    }

    /// Encode the last partial line; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.lines.finish(&mut self.text);
        self.out.write_all(&self.text)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Base64Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // At most a batch at a time, so that the text stays bounded.
        let n = buf.len().min(BATCH);
        self.lines.push(&buf[..n], &mut self.text);
        if self.text.len() >= TEXT_BATCH {
            self.out.write_all(&self.text)?;
            self.text.clear();
        }
        Ok(n)
    }

    /// Write out the complete lines encoded so far (less than a line stays pending)
    /// and flush the inner writer.
    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.text)?;
        self.text.clear();
        self.out.flush()
    }
}

/// Encodes what it reads from the inner reader as base64 in 76-character CRLF lines
/// (the pull counterpart of [`Base64Writer`]).
#[derive(Debug)]
pub struct Base64EncodeReader<R: Read> {
    inner: R,
    raw: Vec<u8>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Base64EncodeReader<R> {
    /// Encode what `inner` gives.
    pub fn new(inner: R) -> Self {
        Base64EncodeReader {
            inner,
            raw: Vec::with_capacity(BATCH),
            scratch: Vec::with_capacity(BATCH / 3 * 4),
            out: Vec::with_capacity(78 * BATCH_LINES),
            out_pos: 0,
            eof: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        while self.out_pos >= self.out.len() && !self.eof {
            self.out.clear();
            self.out_pos = 0;
            // Fill a whole batch of lines (or up to the end of input).
            let want = BATCH;
            self.raw.resize(want, 0);
            let mut have = 0;
            while have < want {
                let n = self.inner.read(&mut self.raw[have..])?;
                if n == 0 {
                    self.eof = true;
                    break;
                }
                have += n;
            }
            append_base64_lines(&self.raw[..have], &mut self.scratch, &mut self.out);
        }
        Ok(())
    }
}

impl<R: Read> Read for Base64EncodeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let avail = &self.out[self.out_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Decodes base64 text read from the inner reader, ignoring line breaks and other
/// whitespace; anything else that is not base64 is an `InvalidData` error.
#[derive(Debug)]
pub struct Base64Reader<R: Read> {
    inner: R,
    text: Vec<u8>,
    /// Base64 characters waiting for a complete quantum.
    carry: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Base64Reader<R> {
    /// Decode from `inner`.
    pub fn new(inner: R) -> Self {
        Base64Reader {
            inner,
            text: vec![0; 64 * 1024],
            carry: Vec::with_capacity(64 * 1024 + 4),
            out: Vec::with_capacity(48 * 1024 + 3),
            out_pos: 0,
            eof: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        while self.out_pos >= self.out.len() && !self.eof {
            self.out.clear();
            self.out_pos = 0;
            let n = self.inner.read(&mut self.text)?;
            if n == 0 {
                self.eof = true;
            }
            push_base64_text(&mut self.carry, &self.text[..n]);
            let take = if self.eof {
                self.carry.len()
            } else {
                self.carry.len() / 4 * 4
            };
            if take == 0 {
                continue;
            }
            // Forgiving (WHATWG) decoding: padding optional at the end, as the
            // in-memory decoder of `mime` accepts it.
            self.out.resize(take, 0);
            let n = base64_simd::forgiving_decode(
                &self.carry[..take],
                base64_simd::Out::from_slice(&mut self.out),
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            .len();
            self.out.truncate(n);
            self.carry.drain(..take);
        }
        Ok(())
    }
}

impl<R: Read> Read for Base64Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let avail = &self.out[self.out_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A CMS message being read: what its `ContentInfo` turned out to be.
#[derive(Debug)]
pub enum CmsReader<'a, R: Read> {
    /// EnvelopedData / AuthEnvelopedData: read the plaintext.
    Decrypt(DecryptReader<R>),
    /// SignedData: read the encapsulated content, then look at the results.
    Verify(VerifyReader<'a, R>),
}

/// Read a `ContentInfo` header from `input` and get ready to stream its content:
/// decryption with `keys` / `kek_keys`, or verification against the message's
/// certificates and `extra_certs`.
pub fn read_cms<'a, R: Read>(
    input: R,
    keys: &[&dyn DecryptionKey],
    kek_keys: &[KekKey],
    extra_certs: &'a [Certificate],
    policy: &'a dyn Policy,
) -> Result<CmsReader<'a, R>, CmsError> {
    let mut ber = ber::BerReader::new(input);
    let ci_end = ber.open("ContentInfo", |h| h.is_universal(16))?;
    let ct = ber.expect_element("contentType", |h| h.is_universal(6))?;
    let ct = ObjectIdentifier::from_der(&ct)?;
    if ct == oid::ID_SIGNED_DATA {
        Ok(CmsReader::Verify(VerifyReader::after_content_type(
            ber,
            ci_end,
            ct,
            extra_certs,
            policy,
        )?))
    } else if ct == oid::ID_ENVELOPED_DATA || ct == oid::ID_CT_AUTH_ENVELOPED_DATA {
        Ok(CmsReader::Decrypt(DecryptReader::after_content_type(
            ber, ci_end, ct, keys, kek_keys, policy,
        )?))
    } else {
        Err(CmsError::Unsupported(format!(
            "CMS content type {ct} cannot be streamed"
        )))
    }
}

impl<R: Read> CmsReader<'_, R> {
    /// Read the input left after the CMS object to its end (it is discarded): for a
    /// layer nested in another one, this lets the outer layer reach and check its end.
    pub fn drain_input(&mut self) -> Result<(), CmsError> {
        match self {
            CmsReader::Decrypt(d) => d.drain_input(),
            CmsReader::Verify(v) => v.drain_input(),
        }
    }
}

impl<R: Read> Read for CmsReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            CmsReader::Decrypt(d) => d.read(buf),
            CmsReader::Verify(v) => v.read(buf),
        }
    }
}
