//! Message Disposition Notifications (RFC 8098) as the MSSanté client specification
//! uses them: a signed (and, when the original was, encrypted) acknowledgement that a
//! message was received and processed, or could not be.
//!
//! - [`create_mdn`] opens a received message that carries `Disposition-Notification-To`
//!   and builds the `multipart/report; report-type=disposition-notification` answer —
//!   a human-readable part, the `message/disposition-notification` part
//!   (Reporting-UA, Original-Recipient, Final-Recipient, Original-Message-ID,
//!   `Disposition: automatic-action/MDN-sent-automatically; processed`, or
//!   `processed/error` with an `Error:` field) and the original's header section
//!   (`text/rfc822-headers`) or the whole original (`message/rfc822`) — then signs it,
//!   and encrypts it to the original's sender when the original was encrypted;
//! - [`verify_mdn`] opens a received MDN, verifies it, reads the notification fields and
//!   matches it to the sent message by Message-ID.
//!
//! The MIME is built with this workspace's MIME layer (`mss_cms::mime`); no crate
//! builds or reads RFC 8098 reports.

use std::time::SystemTime;

use serde::Serialize;
use x509_cert::Certificate;

use mss_algs::keys::SigningKey;
use mss_cms::mime::{self, Headers};

use crate::Error;
use crate::compose::{MessageOptions, sign_and_encrypt_message, sign_message};
use crate::coverage::mailbox_addresses;
use crate::open::{OpenOptions, certificate_email, open};
use crate::report::{Report, SignatureStatus};
use crate::send::EncryptOptions;

/// Note, in the report, the `Disposition-Notification-To` of the clear message.
pub(crate) fn note_request(message: &[u8], report: &mut Report) {
    let (hb, _) = mime::split_header_body(message);
    if let Ok(h) = Headers::parse(hb) {
        report.disposition_notification_to = h.get("Disposition-Notification-To");
    }
}

/// The disposition type (RFC 8098 §3.2.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DispositionType {
    /// Processed without being displayed (e.g. integrated into the patient record):
    /// what automatic MSSanté acknowledgements say.
    #[default]
    Processed,
    /// Displayed to the recipient.
    Displayed,
    /// Deleted without being displayed.
    Deleted,
    /// Sent somewhere else without being displayed.
    Dispatched,
}

impl DispositionType {
    fn as_str(self) -> &'static str {
        match self {
            DispositionType::Processed => "processed",
            DispositionType::Displayed => "displayed",
            DispositionType::Deleted => "deleted",
            DispositionType::Dispatched => "dispatched",
        }
    }
}

/// What of the original goes in the third part of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OriginalPart {
    /// Its header section (`text/rfc822-headers`), the default.
    #[default]
    Headers,
    /// The whole clear message (`message/rfc822`).
    Full,
}

/// How to build a disposition notification.
#[derive(Debug, Clone)]
pub struct MdnOptions<'a> {
    /// The disposition (default `processed`).
    pub disposition: DispositionType,
    /// An error: the disposition gets the `error` modifier and an `Error:` field.
    pub error: Option<String>,
    /// `Final-Recipient` address (default: the signer's certificate address).
    pub final_recipient: Option<String>,
    /// `Original-Recipient` address (default: the original's `Original-Recipient`
    /// field, if present; otherwise none).
    pub original_recipient: Option<String>,
    /// `Reporting-UA` (default `mss; mss <version>`).
    pub reporting_ua: Option<String>,
    /// The human-readable part (default: a short sentence in French and English).
    pub human_text: Option<String>,
    /// What of the original to include.
    pub original_part: OriginalPart,
    /// Algorithms for signing and encrypting the MDN.
    pub encrypt: EncryptOptions<'a>,
}

impl Default for MdnOptions<'_> {
    fn default() -> Self {
        MdnOptions {
            disposition: DispositionType::Processed,
            error: None,
            final_recipient: None,
            original_recipient: None,
            reporting_ua: None,
            human_text: None,
            original_part: OriginalPart::Headers,
            encrypt: EncryptOptions::default(),
        }
    }
}

/// A disposition notification ready to send.
#[derive(Debug, Clone)]
pub struct Mdn {
    /// The signed (and maybe encrypted) S/MIME message.
    pub message: Vec<u8>,
    /// The address it goes to (the original's `Disposition-Notification-To`).
    pub to: String,
    /// Whether it is encrypted (it is when the original was).
    pub encrypted: bool,
    /// The report of opening the original.
    pub original: Report,
}

/// Dates as RFC 5322 wants them (UTC).
fn rfc5322_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match der::DateTime::from_system_time(t) {
        Ok(dt) => format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
            WEEKDAYS[(days % 7) as usize],
            dt.day(),
            MONTHS[usize::from(dt.month().clamp(1, 12)) - 1],
            dt.year(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        ),
        Err(_) => "Thu, 01 Jan 1970 00:00:00 +0000".into(),
    }
}

fn random_hex(n: usize) -> Result<String, Error> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| Error::Key(format!("random generator: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The fields of a `message/disposition-notification` part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispositionFields {
    /// `Reporting-UA`.
    pub reporting_ua: Option<String>,
    /// `Original-Recipient` address (without `rfc822;`).
    pub original_recipient: Option<String>,
    /// `Final-Recipient` address (without `rfc822;`).
    pub final_recipient: String,
    /// `Original-Message-ID`.
    pub original_message_id: Option<String>,
    /// The disposition type.
    pub disposition: DispositionType,
    /// `Error:` text; when set, the disposition carries the `error` modifier.
    pub error: Option<String>,
}

/// Build the (unsigned) MDN draft answering a message whose clear header section is
/// `original_headers` (and clear bytes `original`, used for [`OriginalPart::Full`]).
/// `from` is the notifying address, `to` the `Disposition-Notification-To` one.
pub fn build_mdn_draft(
    original: &[u8],
    fields: &DispositionFields,
    from: &str,
    to: &str,
    human_text: Option<&str>,
    part: OriginalPart,
) -> Result<Vec<u8>, Error> {
    let (ohb, _) = mime::split_header_body(original);
    let oh = Headers::parse(ohb)?;
    let boundary = format!("=_mss_mdn_{}", random_hex(12)?);
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("mss.invalid");
    let mut h = Headers::default();
    h.set("From", from);
    h.set("To", to);
    let subject = oh.get("Subject").unwrap_or_default();
    h.set_text(
        "Subject",
        &format!("Accusé de réception / Disposition notification: {subject}"),
    );
    h.set("Date", &rfc5322_date(SystemTime::now()));
    h.set("Message-ID", &format!("<mdn.{}@{domain}>", random_hex(16)?));
    if let Some(id) = &fields.original_message_id {
        h.set("In-Reply-To", id);
        h.set("References", id);
    }
    h.set("Auto-Submitted", "auto-replied");
    h.set("MIME-Version", "1.0");
    h.set(
        "Content-Type",
        &format!("multipart/report; report-type=disposition-notification; boundary=\"{boundary}\""),
    );
    let disposition = match &fields.error {
        Some(_) => format!("{}/error", fields.disposition.as_str()),
        None => fields.disposition.as_str().to_string(),
    };
    let default_text = match &fields.error {
        None => format!(
            "Le message \"{subject}\" a été reçu et traité par {}.\r\n\
             The message \"{subject}\" was received and processed by {}.\r\n",
            fields.final_recipient, fields.final_recipient
        ),
        Some(e) => format!(
            "Le message \"{subject}\" n'a pas pu être traité par {} : {e}\r\n\
             The message \"{subject}\" could not be processed by {}: {e}\r\n",
            fields.final_recipient, fields.final_recipient
        ),
    };
    let mut dn = Headers::default();
    if let Some(ua) = &fields.reporting_ua {
        dn.set("Reporting-UA", ua);
    }
    if let Some(r) = &fields.original_recipient {
        dn.set("Original-Recipient", &format!("rfc822;{r}"));
    }
    dn.set(
        "Final-Recipient",
        &format!("rfc822;{}", fields.final_recipient),
    );
    if let Some(id) = &fields.original_message_id {
        dn.set("Original-Message-ID", id);
    }
    dn.set(
        "Disposition",
        &format!("automatic-action/MDN-sent-automatically; {disposition}"),
    );
    if let Some(e) = &fields.error {
        dn.set("Error", e);
    }
    let mut out = h.to_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
    let text = human_text
        .map(|t| format!("{t}\r\n"))
        .unwrap_or(default_text);
    out.extend_from_slice(&mime::canonicalize(text.as_bytes()));
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: message/disposition-notification\r\n\r\n");
    out.extend_from_slice(&dn.to_bytes());
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    match part {
        OriginalPart::Headers => {
            out.extend_from_slice(b"Content-Type: text/rfc822-headers\r\n\r\n");
            out.extend_from_slice(&oh.to_bytes());
        }
        OriginalPart::Full => {
            out.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
            out.extend_from_slice(&mime::canonicalize(original));
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// Answer the disposition notification request of `original` (a received message):
/// open it with `open_opts`, build the MDN (see the module doc), sign it with `signer`
/// and — when the original was encrypted — encrypt it to `recipient_certs`, or to the
/// original signer's certificate when none is given, and to `sender_encryption_cert`
/// (default: the signer's), so that the sent copy stays readable.
///
/// When the original cannot be opened (decryption fails…), an error notification
/// (`processed/error`, `Error:` the reason) is built from its outer header section, and
/// is encrypted only to the given `recipient_certs`. Refused when the message asks for no
/// notification.
pub fn create_mdn(
    original: &[u8],
    open_opts: &OpenOptions,
    signer: &dyn SigningKey,
    sender_encryption_cert: Option<&Certificate>,
    recipient_certs: &[Certificate],
    opts: &MdnOptions,
) -> Result<Mdn, Error> {
    let (clear, report, signer_cert, open_error) = match open(original, open_opts) {
        Ok(o) => {
            let cert = o.evidence.first().and_then(|e| e.certificate.clone());
            (o.message, o.report, cert, None)
        }
        Err(e @ (Error::NotARecipient { .. } | Error::DecryptionFailed | Error::Key(_))) => {
            let (hb, _) = mime::split_header_body(original);
            let mut h = Headers::parse(hb)?;
            h.fields
                .retain(|f| !f.name.to_ascii_lowercase().starts_with("content-"));
            let mut m = h.to_bytes();
            m.extend_from_slice(b"\r\n");
            let mut report = Report::default();
            note_request(&m, &mut report);
            report.encrypted = true;
            (m, report, None, Some(e.to_string()))
        }
        Err(e) => return Err(e),
    };
    let to = report.disposition_notification_to.clone().ok_or_else(|| {
        Error::InvalidRequest(
            "the message asks for no disposition notification (no Disposition-Notification-To)"
                .into(),
        )
    })?;
    let to_addr = mailbox_addresses(&to).into_iter().next().ok_or_else(|| {
        Error::Malformed(format!("Disposition-Notification-To {to:?} has no address"))
    })?;
    let (ohb, _) = mime::split_header_body(&clear);
    let oh = Headers::parse(ohb)?;
    let me = match &opts.final_recipient {
        Some(a) => a.clone(),
        None => certificate_email(signer.certificate()).ok_or_else(|| {
            Error::InvalidRequest(
                "the signer's certificate has no e-mail address: give the final recipient".into(),
            )
        })?,
    };
    let original_recipient = opts.original_recipient.clone().or_else(|| {
        oh.get("Original-Recipient").map(|v| {
            v.split_once(';')
                .map(|(_, a)| a.trim().to_string())
                .unwrap_or(v)
        })
    });
    let fields = DispositionFields {
        reporting_ua: Some(
            opts.reporting_ua
                .clone()
                .unwrap_or_else(|| format!("mss; mss {}", env!("CARGO_PKG_VERSION"))),
        ),
        original_recipient,
        final_recipient: me.clone(),
        original_message_id: oh.get_unfolded("Message-ID"),
        disposition: opts.disposition,
        error: open_error.or_else(|| opts.error.clone()),
    };
    let draft = build_mdn_draft(
        &clear,
        &fields,
        &me,
        &to_addr,
        opts.human_text.as_deref(),
        opts.original_part,
    )?;
    let msg_opts = MessageOptions::default();
    let (message, encrypted) = if report.encrypted {
        let recipients: Vec<Certificate> = if recipient_certs.is_empty() {
            signer_cert.into_iter().collect()
        } else {
            recipient_certs.to_vec()
        };
        if recipients.is_empty() {
            if fields.error.is_some() {
                // The original could not be read: nothing confidential is quoted.
                let signed = sign_message(&draft, signer, &opts.encrypt.sign, &msg_opts)?;
                return Ok(Mdn {
                    message: signed,
                    to: to_addr,
                    encrypted: false,
                    original: report,
                });
            }
            return Err(Error::InvalidRequest(
                "the original was encrypted: the notification must be too, and no certificate \
                 of its sender is known (the original is unsigned): give one"
                    .into(),
            ));
        }
        (
            sign_and_encrypt_message(
                &draft,
                signer,
                &recipients,
                sender_encryption_cert,
                &opts.encrypt,
                &msg_opts,
            )?,
            true,
        )
    } else {
        let sign = crate::SignOptions {
            policy: opts.encrypt.policy,
            ..opts.encrypt.sign
        };
        (sign_message(&draft, signer, &sign, &msg_opts)?, false)
    };
    Ok(Mdn {
        message,
        to: to_addr,
        encrypted,
        original: report,
    })
}

/// The verdict on a received MDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MdnStatus {
    /// Signed by the final recipient, valid and trusted, and about the sent message.
    Valid,
    /// Not signed: anyone could have written it.
    Unsigned,
    /// A signature does not verify.
    Invalid,
    /// The signature verifies but its signer is untrusted, or is not the final recipient.
    Untrusted,
    /// It is about another message (Original-Message-ID differs).
    Unrelated,
}

/// The outcome of [`verify_mdn`].
#[derive(Debug, Clone, Serialize)]
pub struct MdnVerification {
    /// The verdict.
    pub status: MdnStatus,
    /// Why the verdict is not `valid`, in words.
    pub detail: Option<String>,
    /// `Reporting-UA`.
    pub reporting_ua: Option<String>,
    /// `Original-Recipient` address.
    pub original_recipient: Option<String>,
    /// `Final-Recipient` address.
    pub final_recipient: String,
    /// `Original-Message-ID`.
    pub original_message_id: Option<String>,
    /// The Message-ID of the sent message it was matched against.
    pub sent_message_id: Option<String>,
    /// The whole `Disposition` field.
    pub disposition: String,
    /// The disposition type (`processed`, `displayed`…).
    pub disposition_type: String,
    /// Disposition modifiers (`error`…).
    pub modifiers: Vec<String>,
    /// `Error:` text.
    pub error: Option<String>,
    /// The report of opening the MDN (its signatures).
    pub report: Report,
}

fn strip_addr_type(v: &str) -> String {
    v.split_once(';')
        .map(|(_, a)| a.trim().to_string())
        .unwrap_or_else(|| v.trim().to_string())
}

fn norm_id(id: &str) -> String {
    id.split_whitespace().collect::<String>()
}

/// Find the `message/disposition-notification` part of a `multipart/report`.
fn notification_part(message: &[u8]) -> Result<Headers, Error> {
    let (hb, body) = mime::split_header_body(message);
    let h = Headers::parse(hb)?;
    let ct = h.content_type();
    if ct.essence() != "multipart/report"
        || !ct
            .param("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("disposition-notification"))
    {
        return Err(Error::Malformed(format!(
            "not a disposition notification ({})",
            ct.essence()
        )));
    }
    let boundary = ct
        .param("boundary")
        .ok_or_else(|| Error::Malformed("multipart/report without boundary".into()))?;
    for part in mime::split_multipart(body, boundary)? {
        let (phb, pbody) = mime::split_header_body(&part);
        let ph = Headers::parse(phb)?;
        if ph.content_type().essence() == "message/disposition-notification" {
            let decoded = mime::decode_transfer_encoding(
                pbody,
                ph.get_unfolded("Content-Transfer-Encoding").as_deref(),
            )?;
            // Some agents separate field groups by blank lines: drop them.
            let lines: Vec<&[u8]> = decoded
                .split(|b| *b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .filter(|l| !l.is_empty())
                .collect();
            return Ok(Headers::parse(&lines.join(&b"\r\n"[..]))?);
        }
    }
    Err(Error::Malformed(
        "multipart/report without a message/disposition-notification part".into(),
    ))
}

/// Verify a received disposition notification and match it to `sent`, the message it
/// should be about (the sender's copy; `opts` must decrypt it when it is encrypted, and
/// carries the trust anchors for the MDN's signer).
pub fn verify_mdn(mdn: &[u8], sent: &[u8], opts: &OpenOptions) -> Result<MdnVerification, Error> {
    let opened = open(mdn, opts)?;
    let fields = notification_part(&opened.message)?;
    let final_recipient = fields
        .get("Final-Recipient")
        .map(|v| strip_addr_type(&v))
        .ok_or_else(|| Error::Malformed("MDN without Final-Recipient".into()))?;
    let disposition = fields
        .get("Disposition")
        .ok_or_else(|| Error::Malformed("MDN without Disposition".into()))?;
    let after_mode = disposition
        .split_once(';')
        .map(|(_, t)| t.trim())
        .ok_or_else(|| Error::Malformed(format!("Disposition {disposition:?}")))?;
    let (dtype, modifiers) = match after_mode.split_once('/') {
        Some((t, m)) => (
            t.trim().to_ascii_lowercase(),
            m.split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect(),
        ),
        None => (after_mode.to_ascii_lowercase(), Vec::new()),
    };
    let original_message_id = fields.get_unfolded("Original-Message-ID");
    let sent_opened = open(sent, opts)?;
    let (shb, _) = mime::split_header_body(&sent_opened.message);
    let sent_message_id = Headers::parse(shb)?.get_unfolded("Message-ID");
    let mut v = MdnVerification {
        status: MdnStatus::Valid,
        detail: None,
        reporting_ua: fields.get("Reporting-UA"),
        original_recipient: fields
            .get("Original-Recipient")
            .map(|r| strip_addr_type(&r)),
        final_recipient: final_recipient.clone(),
        original_message_id: original_message_id.clone(),
        sent_message_id: sent_message_id.clone(),
        disposition: disposition.clone(),
        disposition_type: dtype,
        modifiers,
        error: fields.get("Error"),
        report: opened.report,
    };
    let matches = match (&original_message_id, &sent_message_id) {
        (Some(a), Some(b)) => norm_id(a) == norm_id(b),
        _ => false,
    };
    let r = &v.report;
    let (status, detail) = if !matches {
        (
            MdnStatus::Unrelated,
            Some("Original-Message-ID does not name the sent message".to_string()),
        )
    } else if r.signatures.is_empty() {
        (
            MdnStatus::Unsigned,
            Some("the notification is not signed".into()),
        )
    } else if r
        .signatures
        .iter()
        .any(|s| s.status == SignatureStatus::Invalid)
    {
        (
            MdnStatus::Invalid,
            Some("a signature of the notification does not verify".into()),
        )
    } else if !r.all_signatures_valid() {
        (
            MdnStatus::Untrusted,
            Some("the notification's signer is not trusted".into()),
        )
    } else if !r.signatures.iter().any(|s| {
        !s.countersignature
            && s.signer
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&final_recipient))
    }) {
        (
            MdnStatus::Untrusted,
            Some(format!(
                "the notification is not signed by its final recipient {final_recipient}"
            )),
        )
    } else {
        (MdnStatus::Valid, None)
    };
    v.status = status;
    v.detail = detail;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_rfc5322() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_421_200);
        assert_eq!(rfc5322_date(t), "Sat, 29 Nov 2025 13:00:00 +0000");
        assert_eq!(
            rfc5322_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
    }

    #[test]
    fn an_error_notification_reads_back() {
        let original = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: cr\r\n\
Message-ID: <1@example.test>\r\nDisposition-Notification-To: a@example.test\r\n\r\nbody\r\n";
        let fields = DispositionFields {
            reporting_ua: Some("mss; test".into()),
            original_recipient: None,
            final_recipient: "b@example.test".into(),
            original_message_id: Some("<1@example.test>".into()),
            disposition: DispositionType::Processed,
            error: Some("decryption failed".into()),
        };
        let draft = build_mdn_draft(
            original,
            &fields,
            "b@example.test",
            "a@example.test",
            None,
            OriginalPart::Headers,
        )
        .unwrap();
        let f = notification_part(&draft).unwrap();
        assert_eq!(
            f.get("Disposition").as_deref(),
            Some("automatic-action/MDN-sent-automatically; processed/error")
        );
        assert_eq!(f.get("Error").as_deref(), Some("decryption failed"));
        assert_eq!(
            f.get("Final-Recipient").as_deref(),
            Some("rfc822;b@example.test")
        );
        assert!(notification_part(original).is_err());
    }
}
