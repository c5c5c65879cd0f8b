//! ESS signed receipts (RFC 2634 §2), like `openssl cms -receipt_request_* /
//! -sign_receipt / -verify_receipt`.
//!
//! - requesting: [`crate::MessageOptions::receipt_request`] puts a `receiptRequest`
//!   signed attribute in the signature;
//! - answering: [`create_receipt`] opens the received message, checks that its signature
//!   is valid and that the request names this recipient, and signs a `Receipt`
//!   (`id-ct-receipt`) carrying the original signature value, with the `msgSigDigest`
//!   of the original signed attributes;
//! - checking: [`verify_receipt`] opens the receipt and the sent message (the sender's
//!   copy, decrypted with the sender's key when it was encrypted), and binds them:
//!   same signature value, content type and signedContentIdentifier, and a
//!   `msgSigDigest` equal to the digest of the original signed attributes.
//!
//! Receipts are signed, not encrypted: they carry no content of the original message
//! (only its signature value and identifier).

use der::asn1::OctetString;
use der::{Decode, Encode};
use serde::Serialize;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;

use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_cms::mime::{self, Headers};
use mss_cms::receipt::{self as ess, ID_CT_RECEIPT, Receipt, ReceiptRequest, ReceiptsFrom};
use mss_cms::signed::{self, ParsedSignedData, SignParams, SignerSpec};

use crate::Error;
use crate::open::{OpenOptions, certificate_email, open};
use crate::report::{Report, SignatureReport, SignatureStatus};
use crate::send::SignOptions;

/// A signer as it stood in an opened message (kept for receipts).
#[derive(Debug, Clone)]
pub(crate) struct SignerEvidence {
    /// eContentType of its SignedData.
    content_type: der::asn1::ObjectIdentifier,
    /// The encapsulated content, for a receipt (`id-ct-receipt`) only.
    content: Option<Vec<u8>>,
    /// Its signature value.
    signature: Vec<u8>,
    /// Its signed attributes as received (`SET OF`).
    signed_attrs_der: Option<Vec<u8>>,
    /// Its signed attributes, decoded.
    attrs: Vec<Attribute>,
    /// Its digest algorithm, when known.
    digest: Option<DigestAlgorithm>,
    /// Its certificate, when the message carries it.
    pub(crate) certificate: Option<Certificate>,
    /// Its index in [`Report::signatures`].
    pub(crate) report_index: usize,
    /// Its receipt request, when it asks for one (and the request decodes).
    receipt_request: Option<ReceiptRequest>,
}

/// A signer's request for a signed receipt, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptRequestReport {
    /// Index of the requesting signer in [`Report::signatures`].
    pub signer: usize,
    /// The signedContentIdentifier, hexadecimal.
    pub signed_content_identifier: String,
    /// `all`, `first-tier` or `list`.
    pub receipts_from: String,
    /// With `list`: the addresses asked for a receipt.
    pub receipts_from_list: Vec<String>,
    /// Where receipts go.
    pub receipts_to: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The e-mail addresses (rfc822Name) of a GeneralNames list; other names as text.
fn addresses(names: &[GeneralName]) -> Vec<String> {
    names
        .iter()
        .map(|n| match n {
            GeneralName::Rfc822Name(m) => m.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn describe(rr: &ReceiptRequest, signer: usize) -> ReceiptRequestReport {
    let (from, list) = match &rr.receipts_from {
        ReceiptsFrom::AllOrFirstTier(1) => ("first-tier", Vec::new()),
        ReceiptsFrom::AllOrFirstTier(_) => ("all", Vec::new()),
        ReceiptsFrom::ReceiptList(l) => ("list", l.iter().flat_map(|g| addresses(g)).collect()),
    };
    ReceiptRequestReport {
        signer,
        signed_content_identifier: hex(rr.signed_content_identifier.as_bytes()),
        receipts_from: from.into(),
        receipts_from_list: list,
        receipts_to: rr.receipts_to.iter().flat_map(|g| addresses(g)).collect(),
    }
}

/// Record the signers of a signed layer (`indexes`: the layer's entries in
/// [`Report::signatures`], each signer followed by its countersignatures).
pub(crate) fn collect(
    sd: &ParsedSignedData,
    indexes: &[usize],
    report: &mut Report,
    evidence: &mut Vec<SignerEvidence>,
) {
    let top: Vec<usize> = indexes
        .iter()
        .copied()
        .filter(|i| {
            report
                .signatures
                .get(*i)
                .is_some_and(|s| !s.countersignature)
        })
        .collect();
    for (s, index) in sd.signers.iter().zip(&top) {
        let Ok(info) = &s.info else { continue };
        let attrs: Vec<Attribute> = info
            .signed_attrs
            .as_ref()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default();
        let receipt_request = match ReceiptRequest::from_attributes(&attrs) {
            Ok(rr) => rr,
            Err(e) => {
                report.warn(format!("malformed-receipt-request: {e}"));
                None
            }
        };
        if let Some(rr) = &receipt_request {
            report.receipt_requests.push(describe(rr, *index));
        }
        evidence.push(SignerEvidence {
            content_type: sd.content_type,
            content: (sd.content_type == ID_CT_RECEIPT)
                .then(|| sd.content.clone())
                .flatten(),
            signature: info.signature.as_bytes().to_vec(),
            signed_attrs_der: s.signed_attrs_der.clone(),
            attrs,
            digest: DigestAlgorithm::from_oid(&info.digest_alg.oid).ok(),
            certificate: sd
                .certificates
                .iter()
                .find(|c| signed::matches_sid(c, &info.sid))
                .cloned(),
            report_index: *index,
            receipt_request,
        });
    }
}

/// A signed receipt ready to send.
#[derive(Debug, Clone)]
pub struct SignedReceipt {
    /// The receipt as an S/MIME message (`application/pkcs7-mime;
    /// smime-type=signed-receipt`), From the signer, To the requested destinations.
    pub message: Vec<u8>,
    /// The bare CMS SignedData (DER), for non-MIME transports.
    pub cms: Vec<u8>,
    /// Where the receipt must go (the request's `receiptsTo`).
    pub receipts_to: Vec<String>,
    /// The report of the original message (opened to answer it).
    pub original: Report,
}

/// Answer a receipt request: open `original` with `open_opts` and sign a receipt for
/// its first signer asking for one.
///
/// Refused ([`Error::InvalidRequest`]) when the message asks for no receipt, is itself
/// a receipt, its signature is not valid and trusted (RFC 2634 §2.3: receipts are only
/// returned for verified signatures), or the request lists who should answer and the
/// signer's address is not among them.
pub fn create_receipt(
    original: &[u8],
    open_opts: &OpenOptions,
    signer: &dyn SigningKey,
    opts: &SignOptions,
) -> Result<SignedReceipt, Error> {
    let opened = open(original, open_opts)?;
    if opened
        .evidence
        .iter()
        .any(|e| e.content_type == ID_CT_RECEIPT)
    {
        return Err(Error::InvalidRequest(
            "the message is itself a signed receipt: receipts are never acknowledged".into(),
        ));
    }
    let ev = opened
        .evidence
        .iter()
        .find(|e| e.receipt_request.is_some())
        .ok_or_else(|| {
            Error::InvalidRequest("the message does not request a signed receipt".into())
        })?;
    let rr = ev
        .receipt_request
        .as_ref()
        .ok_or_else(|| Error::InvalidRequest("no receipt request".into()))?;
    let status = opened
        .report
        .signatures
        .get(ev.report_index)
        .map(|s| s.status);
    if status != Some(SignatureStatus::Valid) {
        return Err(Error::InvalidRequest(format!(
            "the requesting signature is not valid and trusted ({}): no receipt is returned",
            status
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "unknown".into())
        )));
    }
    let me = certificate_email(signer.certificate());
    if let ReceiptsFrom::ReceiptList(list) = &rr.receipts_from {
        let listed = list
            .iter()
            .flat_map(|g| addresses(g))
            .any(|a| me.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&a)));
        if !listed {
            return Err(Error::InvalidRequest(format!(
                "the receipt request does not ask {} for a receipt",
                me.as_deref().unwrap_or("this signer")
            )));
        }
    }
    let digest = ev.digest.ok_or_else(|| {
        Error::Unsupported("the original signer's digest algorithm is unknown".into())
    })?;
    let attrs_der = ev
        .signed_attrs_der
        .as_deref()
        .ok_or_else(|| Error::Malformed("the requesting signer has no signed attributes".into()))?;
    let receipt = Receipt {
        version: 1,
        content_type: ev.content_type,
        signed_content_identifier: rr.signed_content_identifier.clone(),
        originator_signature_value: OctetString::new(ev.signature.clone())
            .map_err(|e| Error::Malformed(e.to_string()))?,
    };
    let receipt_der = receipt
        .to_der()
        .map_err(|e| Error::Malformed(e.to_string()))?;
    let msd = ess::msg_sig_digest_attribute(&ess::msg_sig_digest(digest, attrs_der))?;
    let spec = SignerSpec {
        key: signer,
        algorithm: opts.algorithm_for(signer),
        identify_by_ski: false,
    };
    let params = SignParams {
        detached: false,
        signing_time: None,
    };
    let cms = signed::sign_with_attributes(
        &receipt_der,
        ID_CT_RECEIPT,
        &[spec],
        &params,
        &[msd],
        opts.policy,
    )?;
    let receipts_to: Vec<String> = rr.receipts_to.iter().flat_map(|g| addresses(g)).collect();
    let mut h = Headers::default();
    if let Some(m) = &me {
        h.set("From", m);
    }
    h.set("To", &receipts_to.join(", "));
    h.set("Subject", "Signed receipt");
    let original_headers = mime::split_header_body(&opened.message).0;
    if let Ok(oh) = Headers::parse(original_headers)
        && let Some(id) = oh.get_unfolded("Message-ID")
    {
        h.set("In-Reply-To", &id);
        h.set("References", &id);
    }
    let message = mime::build_pkcs7_mime(&h, "signed-receipt", &cms);
    Ok(SignedReceipt {
        message,
        cms,
        receipts_to,
        original: opened.report,
    })
}

/// The verdict on a received receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptStatus {
    /// The receipt is validly signed by a trusted signer and acknowledges the original.
    Valid,
    /// The receipt's signature does not verify, or its msgSigDigest is wrong or missing.
    Invalid,
    /// The receipt verifies but its signer is not trusted (or expired, revoked, unknown).
    Untrusted,
    /// The receipt acknowledges another message (other signature value, content type or
    /// identifier), or the original did not ask for a receipt.
    Unrelated,
}

/// The outcome of [`verify_receipt`].
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptVerification {
    /// The verdict.
    pub status: ReceiptStatus,
    /// Why the verdict is not `valid`, in words.
    pub detail: Option<String>,
    /// Who signed the receipt, and that signature's own verdict.
    pub signer: Option<SignatureReport>,
    /// The signedContentIdentifier acknowledged, hexadecimal.
    pub signed_content_identifier: Option<String>,
    /// The report of opening the receipt.
    pub report: Report,
}

impl ReceiptVerification {
    fn with(status: ReceiptStatus, detail: impl Into<String>, base: ReceiptVerification) -> Self {
        ReceiptVerification {
            status,
            detail: Some(detail.into()),
            ..base
        }
    }
}

/// Check a received signed receipt against the message it acknowledges (`original`:
/// the sender's copy as sent, or the signed message; `opts` must be able to decrypt it
/// when it is encrypted, and holds the trust anchors for the receipt's signer).
///
/// An error means one of the two could not be read (not a receipt, cannot decrypt…); a
/// receipt that does not check is a [`ReceiptStatus`] other than `Valid`.
pub fn verify_receipt(
    receipt: &[u8],
    original: &[u8],
    opts: &OpenOptions,
) -> Result<ReceiptVerification, Error> {
    let rec = open(receipt, opts)?;
    let ev = rec
        .evidence
        .iter()
        .find(|e| e.content_type == ID_CT_RECEIPT)
        .ok_or_else(|| Error::Malformed("not a signed receipt (id-ct-receipt)".into()))?;
    let signer = rec.report.signatures.get(ev.report_index).cloned();
    let base = ReceiptVerification {
        status: ReceiptStatus::Valid,
        detail: None,
        signer: signer.clone(),
        signed_content_identifier: None,
        report: rec.report.clone(),
    };
    let content = ev
        .content
        .as_deref()
        .ok_or_else(|| Error::Malformed("the signed receipt has no content".into()))?;
    let parsed =
        Receipt::from_der(content).map_err(|e| Error::Malformed(format!("Receipt: {e}")))?;
    if parsed.version != 1 {
        return Err(Error::Unsupported(format!(
            "Receipt version {}",
            parsed.version
        )));
    }
    let base = ReceiptVerification {
        signed_content_identifier: Some(hex(parsed.signed_content_identifier.as_bytes())),
        ..base
    };
    let orig = open(original, opts)?;
    let Some(oev) = orig
        .evidence
        .iter()
        .find(|e| e.signature == parsed.originator_signature_value.as_bytes())
    else {
        return Ok(ReceiptVerification::with(
            ReceiptStatus::Unrelated,
            "the receipt acknowledges another signature",
            base,
        ));
    };
    let Some(rr) = &oev.receipt_request else {
        return Ok(ReceiptVerification::with(
            ReceiptStatus::Unrelated,
            "the original message did not request a receipt",
            base,
        ));
    };
    if rr.signed_content_identifier != parsed.signed_content_identifier {
        return Ok(ReceiptVerification::with(
            ReceiptStatus::Unrelated,
            "the signedContentIdentifier differs from the request's",
            base,
        ));
    }
    if parsed.content_type != oev.content_type {
        return Ok(ReceiptVerification::with(
            ReceiptStatus::Unrelated,
            "the receipt names another content type",
            base,
        ));
    }
    let claimed = match ess::msg_sig_digest_of(&ev.attrs) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Ok(ReceiptVerification::with(
                ReceiptStatus::Invalid,
                "the receipt has no msgSigDigest attribute",
                base,
            ));
        }
        Err(e) => {
            return Ok(ReceiptVerification::with(
                ReceiptStatus::Invalid,
                e.to_string(),
                base,
            ));
        }
    };
    let (Some(digest), Some(attrs)) = (oev.digest, oev.signed_attrs_der.as_deref()) else {
        return Err(Error::Malformed(
            "the original signer has no signed attributes".into(),
        ));
    };
    if ess::msg_sig_digest(digest, attrs) != claimed {
        return Ok(ReceiptVerification::with(
            ReceiptStatus::Invalid,
            "msgSigDigest does not match the original's signed attributes",
            base,
        ));
    }
    Ok(match signer.as_ref().map(|s| s.status) {
        Some(SignatureStatus::Valid) => base,
        Some(SignatureStatus::Invalid) => ReceiptVerification::with(
            ReceiptStatus::Invalid,
            signer
                .and_then(|s| s.detail)
                .unwrap_or_else(|| "the receipt's signature does not verify".into()),
            base,
        ),
        _ => ReceiptVerification::with(
            ReceiptStatus::Untrusted,
            signer
                .and_then(|s| s.detail)
                .unwrap_or_else(|| "the receipt's signer is not trusted".into()),
            base,
        ),
    })
}
