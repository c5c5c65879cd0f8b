//! Sending with the message-level options of RFC 9788 and RFC 2634: header protection
//! and a request for a signed receipt.
//!
//! [`sign_message`], [`encrypt_message`] and [`sign_and_encrypt_message`] are the send
//! calls with [`MessageOptions`]; [`crate::sign`], [`crate::encrypt`] and
//! [`crate::sign_and_encrypt`] are these with the default options (headers protected
//! when encrypting, no receipt requested).

use der::asn1::{Ia5String, OctetString};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;

use mss_algs::keys::SigningKey;
use mss_cms::mime::header_protection::{self, HpMode};
use mss_cms::mime::{self, Headers};
use mss_cms::receipt::{ReceiptRequest, ReceiptsFrom};

use crate::Error;
use crate::send::{EncryptOptions, SignOptions, envelope, recipients_with_sender, sign_entity};

/// When to protect the header fields (RFC 9788).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtectHeaders {
    /// Encrypted messages only (`hp="cipher"`, outer Subject `[...]`): the default.
    #[default]
    WhenEncrypting,
    /// Also signed-only messages (`hp="clear"`: the headers are signed, nothing is hidden).
    Always,
    /// Never (the RFC 8551 layout: headers outside, unsigned and in clear).
    Never,
}

/// Who is asked for a signed receipt (RFC 2634 `receiptsFrom`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReceiptsFromSpec {
    /// Every recipient (`allReceipts`).
    #[default]
    All,
    /// First-tier recipients only, not members of a mailing list (`firstTierRecipients`).
    FirstTier,
    /// Only these addresses (`receiptList`).
    Only(Vec<String>),
}

/// A request for an ESS signed receipt (RFC 2634 §2.7), carried as the
/// `receiptRequest` signed attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestReceipt {
    /// Who should return a receipt.
    pub from: ReceiptsFromSpec,
    /// Where receipts go (e-mail addresses, at most 16); empty means the draft's From.
    pub to: Vec<String>,
}

/// Message-level send options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageOptions {
    /// Header protection (default: when encrypting).
    pub protect_headers: ProtectHeaders,
    /// Ask the recipients for a signed receipt (needs a signature).
    pub receipt_request: Option<RequestReceipt>,
}

fn general_names(addr: &str) -> Result<Vec<GeneralName>, Error> {
    let ia5 = Ia5String::new(addr)
        .map_err(|_| Error::InvalidRequest(format!("{addr:?} is not an ASCII e-mail address")))?;
    if !addr.contains('@')
        || addr
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return Err(Error::InvalidRequest(format!(
            "{addr:?} is not an e-mail address"
        )));
    }
    Ok(vec![GeneralName::Rfc822Name(ia5)])
}

/// The `receiptRequest` attribute for `req`, with a fresh random 32-byte
/// signedContentIdentifier; `From` addresses of `outer` stand for an empty `to`.
fn receipt_request_attribute(req: &RequestReceipt, outer: &Headers) -> Result<Attribute, Error> {
    let to: Vec<String> = if req.to.is_empty() {
        crate::coverage::mailbox_addresses(&outer.get("From").unwrap_or_default())
    } else {
        req.to.clone()
    };
    if to.is_empty() {
        return Err(Error::InvalidRequest(
            "a receipt request needs a destination: give one, or a From address in the draft"
                .into(),
        ));
    }
    if to.len() > mss_cms::receipt::UB_RECEIPTS_TO {
        return Err(Error::InvalidRequest(
            "a receipt request names at most 16 destinations".into(),
        ));
    }
    let receipts_from = match &req.from {
        ReceiptsFromSpec::All => ReceiptsFrom::AllOrFirstTier(0),
        ReceiptsFromSpec::FirstTier => ReceiptsFrom::AllOrFirstTier(1),
        ReceiptsFromSpec::Only(list) => {
            if list.is_empty() {
                return Err(Error::InvalidRequest(
                    "a receipt request from a list needs at least one address".into(),
                ));
            }
            ReceiptsFrom::ReceiptList(
                list.iter()
                    .map(|a| general_names(a))
                    .collect::<Result<_, _>>()?,
            )
        }
    };
    let mut id = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| Error::Key(format!("random generator: {e}")))?;
    let rr = ReceiptRequest {
        signed_content_identifier: OctetString::new(id.to_vec())
            .map_err(|e| Error::Malformed(e.to_string()))?,
        receipts_from,
        receipts_to: to
            .iter()
            .map(|a| general_names(a))
            .collect::<Result<_, _>>()?,
    };
    Ok(rr.to_attribute()?)
}

/// The extra signed attributes `opts` asks for (a `receiptRequest`); `outer` is the
/// draft's header section (its From stands for an empty receipt destination).
pub(crate) fn extra_attributes(
    opts: &MessageOptions,
    outer: &Headers,
) -> Result<Vec<Attribute>, Error> {
    match &opts.receipt_request {
        Some(r) => Ok(vec![receipt_request_attribute(r, outer)?]),
        None => Ok(Vec::new()),
    }
}

/// Which header protection `opts` asks for on a message encrypted or not; `None`:
/// none.
pub(crate) fn hp_mode(opts: &MessageOptions, encrypted: bool) -> Option<HpMode> {
    match (opts.protect_headers, encrypted) {
        (ProtectHeaders::Never, _) | (ProtectHeaders::WhenEncrypting, false) => None,
        (_, true) => Some(HpMode::Cipher),
        (ProtectHeaders::Always, false) => Some(HpMode::Clear),
    }
}

/// Apply header protection: the new outer headers and inner entity.
fn protect(
    outer: Headers,
    inner: Vec<u8>,
    encrypted: bool,
    opts: &MessageOptions,
) -> Result<(Headers, Vec<u8>), Error> {
    match hp_mode(opts, encrypted) {
        None => Ok((outer, inner)),
        Some(mode) => Ok(header_protection::protect(&outer, &inner, mode)?),
    }
}

/// A receipt request needs a signature: the error of [`encrypt_message`] and its
/// streaming counterpart when one is asked without signing.
pub(crate) fn check_no_receipt_request(msg: &MessageOptions) -> Result<(), Error> {
    if msg.receipt_request.is_some() {
        return Err(Error::InvalidRequest(
            "a signed receipt can only be requested on a signed message (sign and encrypt)".into(),
        ));
    }
    Ok(())
}

/// Sign a draft with message-level options: `hp="clear"` header protection with
/// [`ProtectHeaders::Always`], a `receiptRequest` when asked.
pub fn sign_message(
    draft: &[u8],
    signer: &dyn SigningKey,
    opts: &SignOptions,
    msg: &MessageOptions,
) -> Result<Vec<u8>, Error> {
    let (outer, inner) = mime::split_draft(draft)?;
    let extra = extra_attributes(msg, &outer)?;
    let (outer, inner) = protect(outer, inner, false, msg)?;
    sign_entity(&outer, &inner, signer, opts, &extra)
}

/// Encrypt a draft with message-level options (headers protected with `hp="cipher"`
/// unless [`ProtectHeaders::Never`]). A receipt request needs a signature: use
/// [`sign_and_encrypt_message`].
pub fn encrypt_message(
    draft: &[u8],
    recipients: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
    msg: &MessageOptions,
) -> Result<Vec<u8>, Error> {
    check_no_receipt_request(msg)?;
    let (outer, inner) = mime::split_draft(draft)?;
    let (outer, inner) = protect(outer, inner, true, msg)?;
    envelope(
        &outer,
        &inner,
        &recipients_with_sender(recipients, sender),
        opts,
    )
}

/// Sign then encrypt a draft with message-level options. The protected headers
/// (`hp="cipher"`) are in the signed entity, so they are both signed and encrypted.
pub fn sign_and_encrypt_message(
    draft: &[u8],
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    msg: &MessageOptions,
) -> Result<Vec<u8>, Error> {
    let (outer, inner) = mime::split_draft(draft)?;
    let extra = extra_attributes(msg, &outer)?;
    let (outer, inner) = protect(outer, inner, true, msg)?;
    let sign_opts = SignOptions {
        policy: opts.policy,
        ..opts.sign
    };
    let signed_entity = sign_entity(&Headers::default(), &inner, signer, &sign_opts, &extra)?;
    let sender = sender_encryption_cert.unwrap_or_else(|| signer.certificate());
    envelope(
        &outer,
        &signed_entity,
        &recipients_with_sender(recipients, sender),
        opts,
    )
}
