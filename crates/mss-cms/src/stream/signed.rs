//! Streaming opaque SignedData: a `Write` adaptor that hashes the encapsulated content
//! while writing it out, and a `Read` adaptor that hands out the encapsulated content
//! while hashing it, verifying every signer when the content ends.
//!
//! Signing and verification proper are the in-memory module's
//! ([`crate::signed::sign_digests`], [`crate::signed::verify_digests`]); only the
//! content is streamed. The SignedData header (version, digestAlgorithms) precedes the
//! content, so the writer derives it from the signers and checks at the end that the
//! signed structure agrees.

use std::io::{self, Read, Write};

use cms::signed_data::EncapsulatedContentInfo;
use const_oid::ObjectIdentifier;
use der::asn1::SetOfVec;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

use mss_algs::digest::{DigestAlgorithm, Hasher};
use mss_algs::oid;
use mss_algs::policy::Policy;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::ber::{self, BerReader, End, OctetStream};
use super::enveloped::SEGMENT;
use super::hash::Hashing;
use crate::content::ContentInfo;
use crate::signed::{self, ParsedSignedData, SignParams, SignerResult, SignerSpec};
use crate::{CmsError, ber as inmem};

fn io_err(e: CmsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn enc<T: Encode>(v: &T) -> Result<Vec<u8>, CmsError> {
    v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))
}

/// The distinct digest algorithms of `signers`, in order.
fn digests_of(signers: &[SignerSpec<'_>]) -> Vec<DigestAlgorithm> {
    let mut v: Vec<DigestAlgorithm> = Vec::new();
    for s in signers {
        if !v.contains(&s.algorithm.digest) {
            v.push(s.algorithm.digest);
        }
    }
    v
}

/// Signs a content as it is written: an opaque SignedData `ContentInfo` with the
/// content in 64 KiB segments of an indefinite-length OCTET STRING, the certificates
/// and signer infos after it. Call [`finish`](Self::finish) at the end.
pub struct SignedWriter<'a, W: Write> {
    out: W,
    hashing: Hashing,
    signers: &'a [SignerSpec<'a>],
    params: SignParams,
    policy: &'a dyn Policy,
    /// The version and digestAlgorithms TLVs written before the content.
    head: (Vec<u8>, Vec<u8>),
    pending: Vec<u8>,
    /// Extra signed attributes of every signer.
    extra_attrs: Vec<Attribute>,
}

impl<W: Write> std::fmt::Debug for SignedWriter<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedWriter")
            .field("signers", &self.signers.len())
            .finish()
    }
}

impl<'a, W: Write> SignedWriter<'a, W> {
    /// Start an opaque signed message (`params.detached` is ignored).
    pub fn new(
        mut out: W,
        signers: &'a [SignerSpec<'a>],
        params: &SignParams,
        policy: &'a dyn Policy,
    ) -> Result<Self, CmsError> {
        if signers.is_empty() {
            return Err(CmsError::Unsupported("no signer given".into()));
        }
        let digests = digests_of(signers);
        let any_ski = signers.iter().any(|s| s.identify_by_ski);
        let version = enc(&der::asn1::Int::new(&[if any_ski { 3 } else { 1 }])?)?;
        let algs: Vec<AlgorithmIdentifierOwned> = digests
            .iter()
            .map(|d| AlgorithmIdentifierOwned {
                oid: d.oid(),
                parameters: None,
            })
            .collect();
        let algs = enc(&SetOfVec::try_from(algs).map_err(|e| CmsError::Encoding(e.to_string()))?)?;
        let mut head = Vec::new();
        head.extend_from_slice(&[0x30, 0x80]);
        head.extend_from_slice(&enc(&oid::ID_SIGNED_DATA)?);
        head.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80]);
        head.extend_from_slice(&version);
        head.extend_from_slice(&algs);
        head.extend_from_slice(&[0x30, 0x80]);
        head.extend_from_slice(&enc(&oid::ID_DATA)?);
        head.extend_from_slice(&[0xa0, 0x80, 0x24, 0x80]);
        out.write_all(&head).map_err(CmsError::Io)?;
        Ok(SignedWriter {
            out,
            hashing: Hashing::new(digests.iter().map(|d| d.hasher()).collect()),
            signers,
            params: params.clone(),
            policy,
            head: (version, algs),
            pending: Vec::with_capacity(SEGMENT),
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

    fn flush_segment(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.hashing.update(&self.pending);
        ber::write_segment(&mut self.out, &self.pending)?;
        self.pending.clear();
        Ok(())
    }

    /// Sign (the signing keys are used here), write the certificates and signer infos
    /// and the end of the structure; returns the inner writer.
    pub fn finish(mut self) -> Result<W, CmsError> {
        let e = CmsError::Io;
        self.flush_segment().map_err(e)?;
        let digests = self.hashing.finish()?;
        let der = signed::sign_digests_with_attributes(
            &digests,
            self.signers,
            &self.params,
            &self.extra_attrs,
            self.policy,
        )?;
        let ci = ContentInfo::from_ber(&der)?;
        let h = inmem::read_header(&ci.content)?;
        let body = ci
            .content
            .get(h.header_len..)
            .ok_or_else(|| CmsError::Encoding("SignedData truncated".into()))?;
        let fields = inmem::split_tlvs(body)?;
        if fields.len() < 4
            || fields[0].1 != self.head.0.as_slice()
            || fields[1].1 != self.head.1.as_slice()
        {
            return Err(CmsError::Encoding(
                "the SignedData header written before the content does not match".into(),
            ));
        }
        // OCTET STRING, [0] eContent, EncapsulatedContentInfo
        self.out.write_all(&[0, 0, 0, 0, 0, 0]).map_err(e)?;
        for (_, tlv) in &fields[3..] {
            self.out.write_all(tlv).map_err(e)?;
        }
        // SignedData, [0], ContentInfo
        self.out.write_all(&[0, 0, 0, 0, 0, 0]).map_err(e)?;
        self.out.flush().map_err(e)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SignedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(SEGMENT - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == SEGMENT {
            self.flush_segment()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The outcome of a streamed verification.
#[derive(Debug, Clone)]
pub struct StreamVerified {
    /// The SignedData as received, without its content.
    pub signed_data: ParsedSignedData,
    /// One result per signer (and countersignature), as [`signed::verify`] gives.
    pub results: Vec<SignerResult>,
}

/// Hands out the encapsulated content of an opaque SignedData while hashing it; when
/// the content ends, the rest of the structure is read and every signer verified
/// ([`results`](Self::results)). A content whose signature does not verify is still
/// handed out: the caller decides from the results.
pub struct VerifyReader<'a, R: Read> {
    ber: BerReader<R>,
    oct: Option<OctetStream>,
    hashing: Option<Hashing>,
    /// version, digestAlgorithms, eContentType TLVs (to rebuild the structure).
    head: Vec<Vec<u8>>,
    content_type: ObjectIdentifier,
    /// Ends of ContentInfo, [0], SignedData, EncapsulatedContentInfo, and of the
    /// `[0] eContent` when present.
    ends: [End; 4],
    econtent_end: Option<End>,
    extra_certs: &'a [Certificate],
    policy: &'a dyn Policy,
    verified: Option<StreamVerified>,
}

impl<R: Read> std::fmt::Debug for VerifyReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyReader")
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl<'a, R: Read> VerifyReader<'a, R> {
    /// Read the `ContentInfo` and SignedData up to the encapsulated content.
    pub fn new(
        input: R,
        extra_certs: &'a [Certificate],
        policy: &'a dyn Policy,
    ) -> Result<Self, CmsError> {
        let mut ber = BerReader::new(input);
        let ci_end = ber.open("ContentInfo", |h| h.is_universal(16))?;
        let ct = ber.expect_element("contentType", |h| h.is_universal(6))?;
        let ct = ObjectIdentifier::from_der(&ct)?;
        Self::after_content_type(ber, ci_end, ct, extra_certs, policy)
    }

    pub(crate) fn after_content_type(
        mut ber: BerReader<R>,
        ci_end: End,
        ct: ObjectIdentifier,
        extra_certs: &'a [Certificate],
        policy: &'a dyn Policy,
    ) -> Result<Self, CmsError> {
        if ct != oid::ID_SIGNED_DATA {
            return Err(CmsError::Unsupported(format!("not a SignedData: {ct}")));
        }
        let explicit_end = ber.open("[0] content", |h| h.is_context(0))?;
        let sd_end = ber.open("SignedData", |h| h.is_universal(16))?;
        let version = ber.expect_element("version", |h| h.is_universal(2))?;
        let algs = ber.expect_element("digestAlgorithms", |h| h.is_universal(17))?;
        let algs = inmem::normalize(&algs)?;
        let set = SetOfVec::<AlgorithmIdentifierOwned>::from_der(&algs)?;
        let mut hashers: Vec<Hasher> = Vec::new();
        for a in set.iter() {
            if let Ok(d) = DigestAlgorithm::from_algorithm_identifier(a)
                && !hashers.iter().any(|h| h.algorithm() == d)
            {
                hashers.push(d.hasher());
            }
        }
        let eci_end = ber.open("EncapsulatedContentInfo", |h| h.is_universal(16))?;
        let ect = ber.expect_element("eContentType", |h| h.is_universal(6))?;
        let content_type = ObjectIdentifier::from_der(&ect)?;
        let (oct, econtent_end) = if ber.at_end(eci_end)? {
            (None, None)
        } else {
            let e = ber.open("[0] eContent", |h| h.is_context(0))?;
            let h = ber.header()?;
            if !h.is_universal(4) {
                return Err(CmsError::Malformed("eContent OCTET STRING expected".into()));
            }
            (Some(OctetStream::start(&ber, &h)?), Some(e))
        };
        Ok(VerifyReader {
            ber,
            oct,
            hashing: Some(Hashing::new(hashers)),
            head: vec![inmem::normalize(&version)?, algs, ect],
            content_type,
            ends: [ci_end, explicit_end, sd_end, eci_end],
            econtent_end,
            extra_certs,
            policy,
            verified: None,
        })
    }

    /// The eContentType.
    pub fn content_type(&self) -> ObjectIdentifier {
        self.content_type
    }

    /// The verification, once the whole content was read (`None` before).
    pub fn results(&self) -> Option<&StreamVerified> {
        self.verified.as_ref()
    }

    /// Read the input left after the structure to its end, discarding it.
    pub fn drain_input(&mut self) -> Result<(), CmsError> {
        self.ber.drain().map(|_| ())
    }

    /// Read whatever follows the content and verify.
    fn finish(&mut self) -> Result<(), CmsError> {
        let [ci_end, explicit_end, sd_end, eci_end] = self.ends;
        if let Some(e) = self.econtent_end {
            self.ber.close(e, "[0] eContent")?;
        }
        self.ber.close(eci_end, "EncapsulatedContentInfo")?;
        let mut rest = Vec::new();
        while !self.ber.at_end(sd_end)? {
            let h = self.ber.header()?;
            rest.push(inmem::normalize(&self.ber.element(&h)?)?);
        }
        self.ber.close(sd_end, "SignedData")?;
        self.ber.close(explicit_end, "ContentInfo [0]")?;
        self.ber.close(ci_end, "ContentInfo")?;
        // The SignedData without its content, re-assembled for the in-memory parser.
        let eci = enc(&EncapsulatedContentInfo {
            econtent_type: self.content_type,
            econtent: None,
        })?;
        let mut body = Vec::new();
        body.extend_from_slice(&self.head[0]);
        body.extend_from_slice(&self.head[1]);
        body.extend_from_slice(&eci);
        for r in &rest {
            body.extend_from_slice(r);
        }
        let tlv = inmem::encode_tlv(0, true, 16, &body);
        let sd = signed::parse(&tlv)?;
        let digests = match self.hashing.take() {
            Some(h) => h.finish()?,
            None => Vec::new(),
        };
        let results = if self.oct.is_some() {
            signed::verify_digests(&sd, &digests, self.extra_certs, self.policy)
        } else {
            // Detached SignedData given alone: there is no content to verify against.
            signed::verify(&sd, None, self.extra_certs, self.policy)
        };
        self.verified = Some(StreamVerified {
            signed_data: sd,
            results,
        });
        Ok(())
    }
}

impl<R: Read> Read for VerifyReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.verified.is_some() || buf.is_empty() {
            return Ok(0);
        }
        let n = match self.oct.as_mut() {
            Some(o) => o.next(&mut self.ber, buf).map_err(io_err)?,
            None => 0,
        };
        if n == 0 {
            self.finish().map_err(io_err)?;
            return Ok(0);
        }
        if let Some(h) = self.hashing.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}
