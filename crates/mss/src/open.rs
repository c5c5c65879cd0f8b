//! The open journey: peel every S/MIME layer (any nesting), verify each signer and its
//! chain, decrypt, and hand back the clear MIME message with a [`Report`].
//!
//! Nothing is cached: every call verifies again, at the time given (default: now).

use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use mss_algs::keys::DecryptionKey;
use mss_algs::policy::{Policy, StandardPolicy};
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::enveloped::KekKey;
use mss_cms::mime::{self, Headers, SmimeEntity};
use mss_cms::signed::{self, SignatureError, SignerResult};
use mss_cms::{CmsError, enveloped};

use crate::Error;
use crate::coverage::{self, Mailboxes, NestedSigned};
use crate::report::{
    CpsSigner, Layer, LayerKind, Report, SignatureReport, SignatureStatus, SignerInfo,
};
use crate::trust::{RevocationOptions, TimeSource, judge_path};

static STANDARD: StandardPolicy = StandardPolicy;

/// Maximum number of S/MIME layers peeled (a triple wrap has three).
pub const MAX_LAYERS: usize = 8;

/// What [`open`] needs.
pub struct OpenOptions<'a> {
    /// Keys that may decrypt (the professional's confidentiality keys).
    pub keys: Vec<&'a dyn DecryptionKey>,
    /// The authorities the caller trusts.
    pub trust_anchors: Vec<Certificate>,
    /// Other certificates the caller knows (intermediate CAs, a local store).
    pub extra_certs: Vec<Certificate>,
    /// The algorithm policy (default [`StandardPolicy`]).
    pub policy: &'a dyn Policy,
    /// Reference time for validity checks (default: now).
    pub time: Option<SystemTime>,
    /// Pre-shared key-encryption keys, by key identifier (KEKRecipientInfo).
    pub kek_keys: Vec<KekKey>,
    /// Revocation checking (default off; see [`crate::trust`]).
    pub revocation: RevocationOptions<'a>,
    /// Validate each signer's path at its signingTime attribute (reported as such;
    /// a signer without one is validated at [`OpenOptions::time`] / now, with a
    /// `no-signing-time` warning).
    pub at_signing_time: bool,
}

impl Default for OpenOptions<'_> {
    fn default() -> Self {
        OpenOptions {
            keys: Vec::new(),
            trust_anchors: Vec::new(),
            extra_certs: Vec::new(),
            policy: &STANDARD,
            time: None,
            kek_keys: Vec::new(),
            revocation: RevocationOptions::default(),
            at_signing_time: false,
        }
    }
}

/// The outcome of [`open`].
#[derive(Debug, Clone)]
pub struct Opened {
    /// The clear MIME message: the received RFC 5322 headers with the innermost entity.
    pub message: Vec<u8>,
    /// What protected it and who signed it.
    pub report: Report,
    /// Every signer as it stood, for signed receipts (RFC 2634).
    pub(crate) evidence: Vec<crate::receipt::SignerEvidence>,
}

/// The bytes are a bare CMS object (DER/BER, or PEM "CMS"/"PKCS7"), not MIME.
fn bare_cms(input: &[u8]) -> Option<Vec<u8>> {
    if input.first() == Some(&0x30) {
        return Some(input.to_vec());
    }
    let text = std::str::from_utf8(input).ok()?.trim_start();
    for label in ["CMS", "PKCS7"] {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        if let Some(rest) = text.strip_prefix(&begin) {
            let body = rest.split(&end).next()?;
            return mime::decode_transfer_encoding(body.as_bytes(), Some("base64")).ok();
        }
    }
    None
}

/// Open a received message: MIME (S/MIME, any nesting) or a bare CMS object.
pub fn open(message: &[u8], opts: &OpenOptions) -> Result<Opened, Error> {
    let time = opts.time.unwrap_or_else(SystemTime::now);
    let mut report = Report::default();
    let mut ctx = Ctx {
        opts,
        time,
        report: &mut report,
        from: None,
        evidence: Vec::new(),
        sender: None,
        part: None,
    };

    let (outer, mut entity): (Option<Headers>, Vec<u8>) = match bare_cms(message) {
        Some(der) => (None, ctx.peel_cms(&der)?.unwrap_or_default()),
        None => {
            let (h, _) = mime::split_header_body(message);
            let headers = Headers::parse(h)?;
            ctx.from = headers.get("From");
            ctx.sender = headers.get("Sender");
            (Some(headers), message.to_vec())
        }
    };
    for _ in 0..MAX_LAYERS + 1 {
        let kind = match mime::classify(&entity) {
            Ok((_, kind)) => kind,
            // Inside a CMS layer the content need not be MIME (a bare CMS object may hold
            // any bytes): it is then handed back as it stands.
            Err(_) if !ctx.report.layers.is_empty() && !looks_like_mime(&entity) => {
                ctx.report.warn("inner-content-not-mime");
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let next = match kind {
            SmimeEntity::Plain => break,
            SmimeEntity::MultipartSigned {
                signed_part,
                signature,
                ..
            } => {
                let ci = ContentInfo::from_ber(&signature)?;
                if ci.kind() != ContentType::SignedData {
                    return Err(Error::Malformed(
                        "the signature part is not a SignedData".into(),
                    ));
                }
                let sd = signed::parse(&ci.content)?;
                ctx.signed_layer(&sd, Some(&signed_part), LayerKind::SignedDetached);
                signed_part
            }
            SmimeEntity::Pkcs7Mime { der, .. } => match ctx.peel_cms(&der)? {
                Some(inner) => inner,
                None => break,
            },
        };
        if ctx.report.layers.len() > MAX_LAYERS {
            return Err(Error::Malformed(format!(
                "more than {MAX_LAYERS} S/MIME layers"
            )));
        }
        entity = next;
    }
    let outer_signatures: Vec<usize> = (0..ctx.report.signatures.len())
        .filter(|&i| !ctx.report.signatures[i].countersignature)
        .collect();
    let mailboxes = Mailboxes {
        from: ctx.from.clone(),
        sender: ctx.sender.clone(),
    };
    let checks = coverage::Checks {
        extra_certs: &opts.extra_certs,
        policy: opts.policy,
    };
    let parts = coverage::analyse(&entity, &outer_signatures, &mailboxes, checks, &mut ctx)?;
    ctx.report.parts = parts;
    if ctx.report.encrypted && !ctx.report.authenticated_encryption && !ctx.report.is_signed() {
        report_warn(ctx.report, "unauthenticated-encryption");
    }
    let entity = crate::protected::after_open(outer.as_ref(), entity, ctx.report);
    let evidence = ctx.evidence;
    let message = match outer {
        Some(h) => mime::merge_outer_headers(&h, &entity),
        None => entity,
    };
    crate::mdn::note_request(&message, &mut report);
    Ok(Opened {
        message,
        report,
        evidence,
    })
}

/// Does `entity` start like a MIME entity (a header field, or an empty header block)?
fn looks_like_mime(entity: &[u8]) -> bool {
    if entity.starts_with(b"\r\n") || entity.starts_with(b"\n") {
        return true;
    }
    let line = entity.split(|b| *b == b'\n').next().unwrap_or_default();
    match line.iter().position(|b| *b == b':') {
        Some(colon) => colon > 0 && line[..colon].iter().all(|b| b.is_ascii_graphic()),
        None => false,
    }
}

fn report_warn(r: &mut Report, w: &str) {
    r.warn(w);
}

pub(crate) struct Ctx<'a, 'r> {
    pub(crate) opts: &'a OpenOptions<'a>,
    pub(crate) time: SystemTime,
    pub(crate) report: &'r mut Report,
    pub(crate) from: Option<String>,
    pub(crate) evidence: Vec<crate::receipt::SignerEvidence>,
    pub(crate) sender: Option<String>,
    /// The MIME part path of the nested signed entity being verified (`None`: an outer
    /// layer).
    pub(crate) part: Option<String>,
}

impl coverage::Verifier for Ctx<'_, '_> {
    fn verify_nested(
        &mut self,
        path: &str,
        nested: &NestedSigned,
        from: Option<&str>,
        sender: Option<&str>,
    ) -> Vec<usize> {
        let saved = (
            std::mem::replace(&mut self.from, from.map(str::to_string)),
            std::mem::replace(&mut self.sender, sender.map(str::to_string)),
            self.part.replace(path.to_string()),
        );
        let first = self.report.signatures.len();
        self.record_signed_layer(&nested.sd, nested.results.clone(), nested.kind);
        (self.from, self.sender, self.part) = saved;
        (first..self.report.signatures.len())
            .filter(|&i| !self.report.signatures[i].countersignature)
            .collect()
    }
    fn warn(&mut self, w: &str) {
        self.report.warn(w);
    }
}

impl Ctx<'_, '_> {
    /// Peel one CMS layer; returns the inner content, or `None` for a certs-only message.
    fn peel_cms(&mut self, der: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let ci = ContentInfo::from_ber(der)?;
        match ci.kind() {
            ContentType::SignedData => {
                let sd = signed::parse(&ci.content)?;
                if sd.signers.is_empty() {
                    return Ok(None); // certs-only
                }
                let content = sd.content.clone();
                self.signed_layer(&sd, None, LayerKind::SignedOpaque);
                if sd.content_type == mss_cms::receipt::ID_CT_RECEIPT {
                    // A signed receipt (RFC 2634): its content is not a message.
                    return Ok(None);
                }
                Ok(Some(content.unwrap_or_default()))
            }
            ContentType::EnvelopedData | ContentType::AuthEnvelopedData => {
                let d = enveloped::decrypt_with(
                    &ci,
                    &self.opts.keys,
                    &self.opts.kek_keys,
                    self.opts.policy,
                )
                .map_err(|e| match e {
                    CmsError::Alg(mss_algs::AlgError::PolicyViolation { what, .. }) => {
                        Error::PolicyViolation {
                            policy: self.opts.policy.name().to_string(),
                            what,
                        }
                    }
                    other => other.into(),
                })?;
                self.report.record_decryption(
                    d.authenticated,
                    d.cipher,
                    &d.key_management,
                    &d.warnings,
                );
                Ok(Some(d.content.to_vec()))
            }
            ContentType::Data => Err(Error::Unsupported("bare id-data content".into())),
            _ => Err(Error::Unsupported(format!(
                "CMS content type {}",
                ci.content_type
            ))),
        }
    }

    fn signed_layer(
        &mut self,
        sd: &signed::ParsedSignedData,
        detached: Option<&[u8]>,
        kind: LayerKind,
    ) {
        let results = signed::verify(sd, detached, &self.opts.extra_certs, self.opts.policy);
        self.record_signed_layer(sd, results, kind);
    }

    /// Judge verification `results` of `sd` (chain, revocation) into the report as one
    /// signed layer; shared with the streaming open.
    pub(crate) fn record_signed_layer(
        &mut self,
        sd: &signed::ParsedSignedData,
        results: Vec<SignerResult>,
        kind: LayerKind,
    ) {
        let mut indexes = Vec::new();
        let mut pool = sd.certificates.clone();
        pool.extend(self.opts.extra_certs.iter().cloned());
        let mut crls = Vec::new();
        for der in &sd.crls {
            match mss_pki::decode_crl(der) {
                Ok(c) => crls.push(c),
                Err(_) => self.report.warn("undecodable-crl-in-message"),
            }
        }
        let mut signer_index = 0;
        for r in results {
            let mut rep = self.judge(&r, &pool, &crls);
            if !r.countersignature {
                if let Some(s) = sd.signers.get(signer_index) {
                    rep.capabilities = crate::capabilities::announced_ciphers(s)
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect();
                }
                signer_index += 1;
            }
            indexes.push(self.report.signatures.len());
            self.report.signatures.push(rep);
        }
        if sd.signers.is_empty() {
            self.report.warn("signed layer without any signer");
        }
        crate::receipt::collect(sd, &indexes, self.report, &mut self.evidence);
        self.report.layers.push(Layer {
            kind,
            signatures: indexes,
            part: self.part.clone(),
        });
    }

    fn judge(
        &mut self,
        r: &SignerResult,
        pool: &[Certificate],
        crls: &[x509_cert::crl::CertificateList],
    ) -> SignatureReport {
        let mut chain = Vec::new();
        let mut revocation = Vec::new();
        let mut validation = None;
        for w in &r.warnings {
            self.report.warn(w.clone());
        }
        let signer = match &r.certificate {
            Some(c) => SignerInfo {
                subject: c.tbs_certificate().subject().to_string(),
                email: certificate_email(c),
                cps: mss_token::cps_identity(c).map(|i| CpsSigner {
                    national_id: i.national_id,
                    surname: i.surname,
                    given_name: i.given_name,
                    profession: i.profession,
                }),
            },
            None => SignerInfo {
                subject: r.signer_id.clone(),
                email: None,
                cps: None,
            },
        };
        let (status, detail) = match (&r.outcome, &r.certificate) {
            (Err(SignatureError::CertificateNotFound | SignatureError::Unsupported(_)), _) => (
                SignatureStatus::Unknown,
                r.outcome.as_ref().err().map(|e| e.to_string()),
            ),
            (Err(e), _) => (SignatureStatus::Invalid, Some(e.to_string())),
            (Ok(()), None) => (SignatureStatus::Unknown, Some("no certificate".into())),
            (Ok(()), Some(cert)) => {
                let j = judge_path(
                    cert,
                    pool,
                    &self.opts.trust_anchors,
                    self.opts.policy,
                    &self.opts.revocation,
                    crls,
                    (self.time, self.opts.time.is_some()),
                    self.opts.at_signing_time,
                    r.signing_time,
                );
                for w in &j.warnings {
                    self.report.warn(w.clone());
                }
                revocation = j.revocation;
                validation = Some((j.time, j.source));
                match j.path {
                    Ok(path) => {
                        for w in path.warnings() {
                            self.report.warn(w.clone());
                        }
                        chain = path
                            .chain()
                            .iter()
                            .map(|c| c.tbs_certificate().subject().to_string())
                            .collect();
                        match mss_pki::check_smime_signer(cert) {
                            Ok(()) => (SignatureStatus::Valid, None),
                            Err(e) => (SignatureStatus::Untrusted, Some(e.to_string())),
                        }
                    }
                    Err(e @ mss_pki::PathError::Expired { .. }) => {
                        (SignatureStatus::Expired, Some(e.to_string()))
                    }
                    Err(e @ mss_pki::PathError::Revoked { .. }) => {
                        (SignatureStatus::Revoked, Some(e.to_string()))
                    }
                    Err(e) => (SignatureStatus::Untrusted, Some(e.to_string())),
                }
            }
        };
        if status == SignatureStatus::Valid
            && !r.countersignature
            && coverage::signer_mismatch(
                signer.email.as_deref(),
                self.from.as_deref(),
                self.sender.as_deref(),
            )
        {
            self.report.warn("signer-mismatch");
        }
        SignatureReport {
            status,
            signer,
            digest: r
                .digest
                .map(|d| d.name().to_string())
                .unwrap_or_else(|| "unknown".into()),
            signature_algorithm: r
                .algorithm
                .map(|a| a.name())
                .unwrap_or_else(|| "unknown".into()),
            signing_time: r.signing_time.map(rfc3339),
            detail,
            countersignature: r.countersignature,
            chain,
            revocation,
            validation_time: validation.map(|(t, _)| rfc3339(t)),
            validation_time_source: validation.map(|(_, s): (SystemTime, TimeSource)| s),
            capabilities: Vec::new(),
        }
    }
}

/// The e-mail address of a certificate: SAN rfc822Name, else PKCS#9 emailAddress in the subject.
pub fn certificate_email(c: &Certificate) -> Option<String> {
    if let Ok(Some((_, san))) = c.tbs_certificate().get_extension::<SubjectAltName>() {
        for n in san.0.iter() {
            if let GeneralName::Rfc822Name(m) = n {
                return Some(m.to_string());
            }
        }
    }
    for atv in c.tbs_certificate().subject().iter() {
        if atv.oid == mss_algs::oid::EMAIL_ADDRESS
            && let Ok(s) = atv.value.decode_as::<der::asn1::Ia5String>()
        {
            return Some(s.to_string());
        }
    }
    None
}

fn rfc3339(t: SystemTime) -> String {
    match der::DateTime::from_system_time(t) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        ),
        Err(_) => "unrepresentable".into(),
    }
}
