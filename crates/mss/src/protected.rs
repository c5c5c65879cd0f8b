//! Opening protected headers (RFC 9788, and the older `protected-headers="v1"`): the
//! header fields found inside the signature or encryption are recovered, compared with
//! the outer ones, and the differences reported.
//!
//! Inside the cryptographic layers the protected fields are authoritative (the clear
//! message shows them in place of the outer ones). A difference the sender made on
//! purpose — the outer Subject `[...]` of an encrypted message, recorded in `HP-Outer` —
//! is `expected`; any other one (a signed-only message whose outer Subject was changed
//! in transit, a `Cc` added outside) raises the warning `header-mismatch: <Field>`.

use serde::Serialize;

use mss_cms::mime::Headers;
use mss_cms::mime::header_protection::{self, HpScheme, OBSCURED_SUBJECT};

use crate::report::Report;

/// One protected header field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderValue {
    /// Field name as written.
    pub name: String,
    /// Value, unfolded and RFC 2047 decoded.
    pub value: String,
}

/// A field whose outer value differs from the protected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderDifference {
    /// Field name.
    pub name: String,
    /// The value outside (unprotected), `None` when absent outside.
    pub outer: Option<String>,
    /// The protected value, `None` when the field is not protected.
    pub protected: Option<String>,
    /// True when the sender obscured the field on purpose (encrypted message: recorded in
    /// `HP-Outer`, or a legacy `...` Subject); false means altered outside the
    /// protection, and is also a `header-mismatch` warning.
    pub expected: bool,
}

/// The protected headers of an opened message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedHeaders {
    /// `hp-cipher`, `hp-clear` (RFC 9788) or `legacy-v1` (`protected-headers="v1"`).
    pub scheme: String,
    /// The protected header fields, in order.
    pub headers: Vec<HeaderValue>,
    /// Differences between the outer header section and the protected one.
    pub differences: Vec<HeaderDifference>,
    /// The body starts with a legacy display part (`protected-headers="v1"` text part
    /// repeating the Subject for readers without header protection).
    pub legacy_display: bool,
}

fn values(h: &Headers) -> Vec<HeaderValue> {
    h.fields
        .iter()
        .map(|f| HeaderValue {
            name: f.name.clone(),
            value: Headers {
                fields: vec![f.clone()],
            }
            .get(&f.name)
            .unwrap_or_default(),
        })
        .collect()
}

/// After the last layer is peeled: recover the protected headers of `entity` into the
/// report and return the entity without its `HP-Outer` records. Only a payload inside at
/// least one signed or encrypted layer is looked at.
pub(crate) fn after_open(outer: Option<&Headers>, entity: Vec<u8>, report: &mut Report) -> Vec<u8> {
    if report.layers.is_empty() {
        return entity;
    }
    let (hb, _) = mss_cms::mime::split_header_body(&entity);
    if Headers::parse(hb).is_err() {
        // Not a MIME entity: nothing to recover (the opener says so already).
        return entity;
    }
    if record(outer, header_protection::recover(&entity), report) {
        header_protection::unmark(&entity)
    } else {
        entity
    }
}

/// Record the protected headers `recovered` from the payload (compared with the `outer`
/// header section) into the report; true when the payload is to be unmarked
/// ([`header_protection::unmark`]). Shared with the streaming open, which recovers them
/// from the payload's header section ([`header_protection::recover_from`]).
pub(crate) fn record(
    outer: Option<&Headers>,
    recovered: Result<Option<header_protection::Protected>, mss_cms::mime::MimeError>,
    report: &mut Report,
) -> bool {
    let p = match recovered {
        Ok(Some(p)) => p,
        Ok(None) => return false,
        Err(e) => {
            report.warn(format!("malformed-header-protection: {e}"));
            return false;
        }
    };
    let encrypted = report.encrypted;
    if p.scheme == HpScheme::Cipher && !encrypted {
        // The sender claims confidentiality the message does not have.
        report.warn("header-protection-cipher-without-encryption");
    }
    let mut differences = Vec::new();
    if let Some(outer) = outer {
        let deviations_from_record: Option<Vec<String>> = p.hp_outer.as_ref().map(|rec| {
            header_protection::compare(outer, rec)
                .into_iter()
                .map(|d| d.name.to_ascii_lowercase())
                .collect()
        });
        for d in header_protection::compare(outer, &p.headers) {
            let expected = encrypted
                && match &deviations_from_record {
                    Some(dev) => !dev.contains(&d.name.to_ascii_lowercase()),
                    None => {
                        d.name.eq_ignore_ascii_case("subject")
                            && d.outer
                                .as_deref()
                                .is_none_or(|o| o == "..." || o == OBSCURED_SUBJECT)
                    }
                };
            if !expected {
                report.warn(format!("header-mismatch: {}", d.name));
            }
            differences.push(HeaderDifference {
                name: d.name,
                outer: d.outer,
                protected: d.protected,
                expected,
            });
        }
    }
    report.protected_headers = Some(ProtectedHeaders {
        scheme: p.scheme.name().to_string(),
        headers: values(&p.headers),
        differences,
        legacy_display: p.legacy_display,
    });
    true
}
