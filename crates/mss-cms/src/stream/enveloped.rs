//! Streaming EnvelopedData (AES-CBC …) and AuthEnvelopedData (AES-GCM): a `Write`
//! adaptor that encrypts as the content arrives, and a `Read` adaptor that decrypts a
//! `ContentInfo` of any BER/DER shape as it is read.
//!
//! The recipient infos are built and read by the in-memory module
//! ([`crate::enveloped`]): only the content is streamed. The output is
//! `ContentInfo { [0] { EnvelopedData } }` with indefinite lengths around the content
//! and the ciphertext as a constructed `[0] IMPLICIT OCTET STRING` of 64 KiB segments —
//! the shape `openssl cms -stream` writes.

use std::io::{self, Read, Write};

use cms::enveloped_data::RecipientInfos;
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use mss_algs::cipher::{CipherParams, ContentCipher};
use mss_algs::cipher_stream::{ContentDecryptor, ContentEncryptor};
use mss_algs::keys::DecryptionKey;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage};

use super::Base64Lines;
use super::ber::{self, BerReader, End, OctetStream};
use crate::enveloped::{KekKey, KeyManagement, Recipient, note, recipient_infos, recipient_key};
use crate::signed::{check_verdict, name_policy};
use crate::{CmsError, ber as inmem};

/// Plaintext is encrypted and written in segments of this size.
pub const SEGMENT: usize = 64 * 1024;

fn io_err(e: CmsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn enc<T: Encode>(v: &T) -> Result<Vec<u8>, CmsError> {
    v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))
}

/// Encrypts a content as it is written, producing an EnvelopedData (CBC ciphers) or
/// AuthEnvelopedData (GCM) `ContentInfo` on the inner writer. Call
/// [`finish`](Self::finish) at the end: dropping the writer leaves the output truncated.
pub struct EnvelopedWriter<W: Write> {
    out: W,
    /// Base64 lines around the whole output ([`EnvelopedWriter::new_base64`]); it moves
    /// to the encrypting thread with the encryption.
    armor: Option<Base64Lines>,
    /// Base64 text not yet written out.
    text: Vec<u8>,
    /// Is the output base64 ([`EnvelopedWriter::new_base64`])?
    armored: bool,
    enc: Option<Encrypting>,
    pending: Zeroizing<Vec<u8>>,
    ct: Vec<u8>,
    /// Batch buffers back from the encrypting thread, to be filled again.
    spare: Vec<Job>,
    aead: bool,
    written: u64,
}

/// Plaintext bytes encrypted inline before the encryption moves to its own thread.
const THREAD_AFTER: u64 = 1024 * 1024;

/// Batches queued for the encrypting thread at most: 2 MiB, more than a scheduler
/// time slice of work, so that neither side waits on the other when both share two
/// cores with a third thread.
const QUEUE: usize = 8;

/// Plaintext handed to the encrypting thread at a time (fewer wake-ups than one
/// segment at a time); its ciphertext is written as segments of [`SEGMENT`].
const BATCH: usize = 4 * SEGMENT;

/// Batch buffers kept for reuse at most.
const SPARE: usize = QUEUE;

/// Write `bytes` to `out`, through the base64 lines of `armor` when there are.
fn put<W: Write>(
    out: &mut W,
    armor: &mut Option<Base64Lines>,
    text: &mut Vec<u8>,
    bytes: &[u8],
) -> io::Result<()> {
    match armor {
        None => out.write_all(bytes),
        Some(lines) => {
            lines.push(bytes, text);
            if text.len() >= TEXT_BATCH {
                out.write_all(text)?;
                text.clear();
            }
            Ok(())
        }
    }
}

/// Append the base64 text of `ct` as BER segments of at most [`SEGMENT`] bytes.
fn armor_segments(lines: &mut Base64Lines, ct: &[u8], text: &mut Vec<u8>) {
    for seg in ct.chunks(SEGMENT) {
        let mut h = Vec::with_capacity(8);
        ber::write_header(&mut h, 0x04, seg.len());
        lines.push(&h, text);
        lines.push(seg, text);
    }
}

/// Base64 text gathered before it is written out.
const TEXT_BATCH: usize = 256 * 1024;

/// A batch for the encrypting thread: plaintext in, ciphertext out (in place), and
/// the base64 text of its segments when the output is armored.
struct Job {
    data: Zeroizing<Vec<u8>>,
    text: Vec<u8>,
}

/// The content encryption: inline for small contents, then on a second thread so that
/// it overlaps with what produces the plaintext (hashing, base64) and what consumes
/// the ciphertext. Segments go through a bounded queue in order; the ciphertext comes
/// back through an unbounded one that the writer empties after each segment, so at
/// most `QUEUE + 1` segments are in flight.
enum Encrypting {
    Inline(ContentEncryptor),
    Threaded {
        tx: std::sync::mpsc::SyncSender<Job>,
        rx: std::sync::mpsc::Receiver<Job>,
        handle: std::thread::JoinHandle<Finished>,
    },
}

fn worker_gone() -> io::Error {
    io::Error::other("the encrypting thread stopped")
}

impl<W: Write> std::fmt::Debug for EnvelopedWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopedWriter")
            .field("aead", &self.aead)
            .finish()
    }
}

impl<W: Write> EnvelopedWriter<W> {
    /// Start an enveloped message to `recipients` (any mix, as for
    /// [`crate::enveloped::encrypt_to`]): the recipient infos are written at once.
    pub fn new(
        out: W,
        recipients: &[Recipient<'_>],
        cipher: ContentCipher,
        policy: &dyn Policy,
    ) -> Result<Self, CmsError> {
        Self::start(out, recipients, cipher, policy, None)
    }

    /// As [`new`](Self::new), writing the `ContentInfo` as base64 in 76-character CRLF
    /// lines (the body of an `application/pkcs7-mime` entity): the same text as
    /// `EnvelopedWriter::new(Base64Writer::new(out), …)`, but encoded on the encrypting
    /// thread once there is one, which takes that work off the producing thread.
    pub fn new_base64(
        out: W,
        recipients: &[Recipient<'_>],
        cipher: ContentCipher,
        policy: &dyn Policy,
    ) -> Result<Self, CmsError> {
        Self::start(
            out,
            recipients,
            cipher,
            policy,
            Some(Base64Lines::default()),
        )
    }

    fn start(
        mut out: W,
        recipients: &[Recipient<'_>],
        cipher: ContentCipher,
        policy: &dyn Policy,
        mut armor: Option<Base64Lines>,
    ) -> Result<Self, CmsError> {
        if recipients.is_empty() {
            return Err(CmsError::Unsupported("no recipient given".into()));
        }
        check_verdict(policy.content_cipher(cipher, Usage::Produce))
            .map_err(|e| name_policy(e, policy))?;
        let params = CipherParams::generate(cipher)?;
        let key = cipher.generate_key()?;
        let (infos, all_v0) = recipient_infos(recipients, cipher, &key, policy)?;
        let aead = cipher.is_aead();
        let (ct_oid, version) = if aead {
            (oid::ID_CT_AUTH_ENVELOPED_DATA, 0u8)
        } else {
            (oid::ID_ENVELOPED_DATA, if all_v0 { 0 } else { 2 })
        };
        let mut head = Vec::with_capacity(4096);
        head.extend_from_slice(&[0x30, 0x80]);
        head.extend_from_slice(&enc(&ct_oid)?);
        head.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, version]);
        head.extend_from_slice(&enc(&infos)?);
        head.extend_from_slice(&[0x30, 0x80]);
        head.extend_from_slice(&enc(&oid::ID_DATA)?);
        head.extend_from_slice(&enc(&params.to_algorithm_identifier()?)?);
        head.extend_from_slice(&[0xa0, 0x80]);
        let mut text = Vec::new();
        put(&mut out, &mut armor, &mut text, &head).map_err(CmsError::Io)?;
        Ok(EnvelopedWriter {
            out,
            armored: armor.is_some(),
            armor,
            text,
            enc: Some(Encrypting::Inline(ContentEncryptor::new(&params, &key)?)),
            pending: Zeroizing::new(Vec::with_capacity(SEGMENT)),
            ct: Vec::with_capacity(SEGMENT + 32),
            spare: Vec::new(),
            aead,
            written: 0,
        })
    }

    /// Write the BER segments of `ct`.
    fn put_segments(&mut self, ct: &[u8]) -> io::Result<()> {
        for seg in ct.chunks(SEGMENT) {
            let mut h = Vec::with_capacity(8);
            ber::write_header(&mut h, 0x04, seg.len());
            put(&mut self.out, &mut self.armor, &mut self.text, &h)?;
            put(&mut self.out, &mut self.armor, &mut self.text, seg)?;
        }
        Ok(())
    }

    /// Write what came back from the encrypting thread; keep its buffers for reuse.
    fn take_back(&mut self, mut job: Job) -> io::Result<()> {
        if self.armored {
            // Encoded on the thread, in whole lines (what was pending here was written
            // out when the encoding moved there).
            self.out.write_all(&job.text)?;
        } else {
            self.put_segments(&job.data)?;
        }
        // The buffers serve again (no new allocation, no page faults).
        if self.spare.len() < SPARE {
            job.data.clear();
            job.text.clear();
            self.spare.push(job);
        }
        Ok(())
    }

    fn flush_segment(&mut self) -> io::Result<()> {
        self.written += self.pending.len() as u64;
        if self.written >= THREAD_AFTER
            && let Some(Encrypting::Inline(_)) = &self.enc
            && let Some(Encrypting::Inline(mut e)) = self.enc.take()
        {
            let (tx, in_rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
            let (out_tx, rx) = std::sync::mpsc::channel::<Job>();
            // The base64 state moves with the encryption: from now on the thread
            // encodes, in order.
            let mut armor = self.armor.take();
            if armor.is_some() && !self.text.is_empty() {
                self.out.write_all(&self.text)?;
                self.text.clear();
            }
            let handle = std::thread::spawn(move || {
                // Encrypted in place: the batch comes back as its ciphertext (and its
                // base64 text when armored).
                for mut job in in_rx {
                    e.update_in_place(&mut job.data);
                    if let Some(lines) = armor.as_mut() {
                        armor_segments(lines, &job.data, &mut job.text);
                    }
                    if out_tx.send(job).is_err() {
                        break;
                    }
                }
                let mut last = Vec::new();
                let tag = e.finish(&mut last);
                Finished { last, tag, armor }
            });
            self.enc = Some(Encrypting::Threaded { tx, rx, handle });
        }
        match self.enc.as_mut() {
            None => Err(io::Error::other("the enveloped writer is finished")),
            Some(Encrypting::Inline(e)) => {
                let mut ct = std::mem::take(&mut self.ct);
                ct.clear();
                e.update(&self.pending, &mut ct);
                self.pending.clear();
                let r = self.put_segments(&ct);
                self.ct = ct;
                r
            }
            Some(Encrypting::Threaded { tx, .. }) => {
                let next = self.spare.pop().unwrap_or_else(|| Job {
                    data: Zeroizing::new(Vec::with_capacity(BATCH)),
                    text: Vec::new(),
                });
                let data = std::mem::replace(&mut self.pending, next.data);
                tx.send(Job {
                    data,
                    text: next.text,
                })
                .map_err(|_| worker_gone())?;
                while let Some(Encrypting::Threaded { rx, .. }) = &self.enc
                    && let Ok(job) = rx.try_recv()
                {
                    self.take_back(job)?;
                }
                Ok(())
            }
        }
    }

    /// Write the last segment, the end of the structure (and the GCM tag); returns the
    /// inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_segment()?;
        let e = self
            .enc
            .take()
            .ok_or_else(|| io::Error::other("the enveloped writer is finished"))?;
        let (last, tag) = match e {
            Encrypting::Inline(e) => {
                let mut last = Vec::new();
                let tag = e.finish(&mut last);
                (last, tag)
            }
            Encrypting::Threaded { tx, rx, handle } => {
                drop(tx);
                for job in rx {
                    self.take_back(job)?;
                }
                let done = handle.join().map_err(|_| worker_gone())?;
                if done.armor.is_some() {
                    self.armor = done.armor;
                }
                (done.last, done.tag)
            }
        };
        self.put_segments(&last)?;
        // [0] encryptedContent, EncryptedContentInfo
        let mut tail = vec![0u8; 4];
        if self.aead {
            ber::write_header(&mut tail, 0x04, tag.len());
            tail.extend_from_slice(&tag);
        }
        // (Auth)EnvelopedData, [0], ContentInfo
        tail.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        put(&mut self.out, &mut self.armor, &mut self.text, &tail)?;
        if let Some(lines) = self.armor.as_mut() {
            lines.finish(&mut self.text);
        }
        self.out.write_all(&self.text)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What the encrypting thread hands back at the end.
struct Finished {
    last: Vec<u8>,
    tag: Vec<u8>,
    armor: Option<Base64Lines>,
}

impl<W: Write> Write for EnvelopedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // One segment at a time inline; batches once the encryption has its thread.
        let limit = match self.enc {
            Some(Encrypting::Threaded { .. }) => BATCH,
            _ => SEGMENT,
        };
        let n = buf.len().min(limit.saturating_sub(self.pending.len()));
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= limit {
            self.flush_segment()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What a streamed decryption found (the counterpart of
/// [`crate::enveloped::Decrypted`] without the content).
#[derive(Debug, Clone)]
pub struct StreamDecrypted {
    /// The inner content type (id-data for S/MIME).
    pub content_type: ObjectIdentifier,
    /// The content cipher.
    pub cipher: ContentCipher,
    /// How the content key reached us.
    pub key_management: KeyManagement,
    /// True for AuthEnvelopedData.
    pub authenticated: bool,
    /// Policy warnings.
    pub warnings: Vec<String>,
    /// How many recipients the message was addressed to.
    pub recipient_count: usize,
}

/// Decrypts an EnvelopedData / AuthEnvelopedData as it is read: the plaintext comes
/// out of [`Read::read`]. The padding (CBC) or tag (GCM) is checked when the content
/// ends: a failure then is an `InvalidData` error carrying a [`CmsError`], and
/// everything read before it must be discarded (it is not authentic).
pub struct DecryptReader<R: Read> {
    ber: BerReader<R>,
    oct: OctetStream,
    dec: Option<ContentDecryptor>,
    ct: Vec<u8>,
    out: Zeroizing<Vec<u8>>,
    out_pos: usize,
    /// The ends of ContentInfo, [0], (Auth)EnvelopedData, EncryptedContentInfo.
    ends: [End; 4],
    info: StreamDecrypted,
    finished: bool,
}

impl<R: Read> std::fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptReader")
            .field("info", &self.info)
            .finish()
    }
}

impl<R: Read> DecryptReader<R> {
    /// Read the `ContentInfo` header and the (Auth)EnvelopedData up to its content,
    /// find the recipient info of one of `keys` / `kek_keys` and get ready to decrypt.
    pub fn new(
        input: R,
        keys: &[&dyn DecryptionKey],
        kek_keys: &[KekKey],
        policy: &dyn Policy,
    ) -> Result<Self, CmsError> {
        let mut ber = BerReader::new(input);
        let ci_end = ber.open("ContentInfo", |h| h.is_universal(16))?;
        let ct = ber.expect_element("contentType", |h| h.is_universal(6))?;
        let ct = ObjectIdentifier::from_der(&ct)?;
        Self::after_content_type(ber, ci_end, ct, keys, kek_keys, policy)
    }

    /// Continue after the `ContentInfo` header and content type (read by the caller).
    pub(crate) fn after_content_type(
        mut ber: BerReader<R>,
        ci_end: End,
        ct: ObjectIdentifier,
        keys: &[&dyn DecryptionKey],
        kek_keys: &[KekKey],
        policy: &dyn Policy,
    ) -> Result<Self, CmsError> {
        let authenticated = if ct == oid::ID_ENVELOPED_DATA {
            false
        } else if ct == oid::ID_CT_AUTH_ENVELOPED_DATA {
            true
        } else {
            return Err(CmsError::Unsupported(format!(
                "not an enveloped content type: {ct}"
            )));
        };
        let explicit_end = ber.open("[0] content", |h| h.is_context(0))?;
        let ed_end = ber.open("EnvelopedData", |h| h.is_universal(16))?;
        let version = ber.expect_element("version", |h| h.is_universal(2))?;
        let version = der::asn1::Int::from_der(&version)?;
        let v = version.as_bytes();
        let ok = if authenticated {
            v == [0]
        } else {
            matches!(v, [0] | [2] | [3] | [4])
        };
        if !ok {
            return Err(CmsError::Malformed(
                "unexpected EnvelopedData version".into(),
            ));
        }
        let mut h = ber.header()?;
        if h.is_context(0) {
            ber.element(&h)?; // originatorInfo: not needed to decrypt
            h = ber.header()?;
        }
        if !h.is_universal(17) {
            return Err(CmsError::Malformed("recipientInfos expected".into()));
        }
        let infos = ber.element(&h)?;
        let infos = RecipientInfos::from_der(&inmem::normalize(&infos)?)?;
        let eci_end = ber.open("EncryptedContentInfo", |h| h.is_universal(16))?;
        let inner_ct = ber.expect_element("contentType", |h| h.is_universal(6))?;
        let inner_ct = ObjectIdentifier::from_der(&inner_ct)?;
        let alg = ber.expect_element("contentEncryptionAlgorithm", |h| h.is_universal(16))?;
        let alg = AlgorithmIdentifierOwned::from_der(&inmem::normalize(&alg)?)?;
        let mut warnings = Vec::new();
        let params = CipherParams::from_algorithm_identifier(&alg)?;
        if params.cipher.is_aead() != authenticated {
            return Err(CmsError::Malformed(
                "content cipher does not fit the content type".into(),
            ));
        }
        note(
            policy.content_cipher(params.cipher, Usage::Accept),
            &mut warnings,
        )
        .map_err(|e| name_policy(e, policy))?;
        let recipient_count = infos.0.len();
        let mut found = None;
        for ri in infos.0.iter() {
            if let Some(k) = recipient_key(ri, &params, keys, kek_keys, policy, &mut warnings)? {
                found = Some(k);
                break;
            }
        }
        let Some((cek, management)) = found else {
            return Err(CmsError::NotARecipient {
                recipients: recipient_count,
            });
        };
        if ber.at_end(eci_end)? {
            return Err(CmsError::Unsupported("detached encrypted content".into()));
        }
        let h = ber.header()?;
        if !h.is_context(0) {
            return Err(CmsError::Malformed("encryptedContent [0] expected".into()));
        }
        let oct = OctetStream::start(&ber, &h)?;
        Ok(DecryptReader {
            ber,
            oct,
            dec: Some(ContentDecryptor::new(&params, &cek)?),
            ct: vec![0; SEGMENT],
            out: Zeroizing::new(Vec::with_capacity(SEGMENT + 32)),
            out_pos: 0,
            ends: [ci_end, explicit_end, ed_end, eci_end],
            info: StreamDecrypted {
                content_type: inner_ct,
                cipher: params.cipher,
                key_management: management,
                authenticated,
                warnings,
                recipient_count,
            },
            finished: false,
        })
    }

    /// What was found so far (complete once the reader returned 0).
    pub fn info(&self) -> &StreamDecrypted {
        &self.info
    }

    /// Read the input left after the structure to its end, discarding it.
    pub fn drain_input(&mut self) -> Result<(), CmsError> {
        self.ber.drain().map(|_| ())
    }

    /// Read the end of the structure and check padding or tag.
    fn finish(&mut self) -> Result<(), CmsError> {
        let [ci_end, explicit_end, ed_end, eci_end] = self.ends;
        self.ber.close(eci_end, "EncryptedContentInfo")?;
        let mut tag = None;
        let mut h = if self.ber.at_end(ed_end)? {
            None
        } else {
            Some(self.ber.header()?)
        };
        if self.info.authenticated {
            if let Some(x) = &h
                && x.is_context(1)
            {
                return Err(CmsError::Unsupported(
                    "AuthEnvelopedData with authenticated attributes cannot be streamed \
                     (they are authenticated before the content)"
                        .into(),
                ));
            }
            let m = h
                .take()
                .filter(|x| x.is_universal(4) && !x.constructed)
                .ok_or_else(|| CmsError::Malformed("mac expected".into()))?;
            let mac = self.ber.element(&m)?;
            tag = Some(mac[m.raw.len()..].to_vec());
            if !self.ber.at_end(ed_end)? {
                h = Some(self.ber.header()?);
            }
        }
        if let Some(x) = h {
            // unprotectedAttrs [1] / unauthAttrs [2]: not used by mss, skipped.
            if !(x.is_context(1) || x.is_context(2)) {
                return Err(CmsError::Malformed(
                    "unexpected field after the encrypted content".into(),
                ));
            }
            self.ber.element(&x)?;
        }
        self.ber.close(ed_end, "EnvelopedData")?;
        self.ber.close(explicit_end, "ContentInfo [0]")?;
        self.ber.close(ci_end, "ContentInfo")?;
        let dec = self
            .dec
            .take()
            .ok_or_else(|| CmsError::Malformed("decryption already finished".into()))?;
        self.out.clear();
        self.out_pos = 0;
        dec.finish(tag.as_deref(), &mut self.out)?;
        Ok(())
    }

    fn refill(&mut self) -> Result<(), CmsError> {
        while self.out_pos >= self.out.len() && !self.finished {
            self.out.clear();
            self.out_pos = 0;
            let n = self.oct.next(&mut self.ber, &mut self.ct)?;
            if n == 0 {
                self.finish()?;
                self.finished = true;
            } else if let Some(d) = self.dec.as_mut() {
                d.update(&self.ct[..n], &mut self.out);
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill().map_err(io_err)?;
        let avail = &self.out[self.out_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}
