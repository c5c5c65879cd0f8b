//! Signature coverage of the displayed message ("Johnny, You Are Fired", 2019).
//!
//! After [`crate::open`] has peeled the outer S/MIME layers, the entity left is what a
//! mail client displays. A signed entity can still hide *inside* it: a `multipart/signed`
//! or an opaque signed `application/pkcs7-mime` part within an unsigned
//! `multipart/mixed` (partial signing), or a forwarded `message/rfc822` that was signed
//! by someone else (wrapping). This module walks the displayed MIME tree, asks the
//! caller to verify every nested signed entity (so that each one is reported as a layer
//! of its own, with its MIME part path, never flattened into "signed"), and lists every
//! leaf part with the signatures that cover it.
//!
//! # Rules
//!
//! - A part is covered by the signatures of the outer layers (which sign the whole
//!   displayed entity) and by those of every nested signed entity on its path.
//! - `partial-signature` is warned when the message carries a nested signature but either
//!   no outer layer signs the whole displayed message, or some part is covered by no
//!   signature at all. Such a message never gets the CLI's exit 0.
//! - Signed wrappers are transparent in part paths: the content of a `multipart/signed`
//!   at path `2` is still path `2`; the parts of a multipart at path `2` are `2.1`, `2.2`…
//!   (the whole message is the empty path).
//! - A part that cannot be parsed (a multipart without boundary, a broken nested
//!   signature…) is listed as one opaque leaf covered only by the signatures around it,
//!   and warned as `malformed-part`; the caps below still fail the open.
//! - Encrypted parts nested inside the displayed message are **not** decrypted (EFAIL's
//!   direct exfiltration needs a client that decrypts a part and displays it next to
//!   attacker-controlled parts); they are listed as leaves and warned as
//!   `nested-encryption-not-opened`.
//!
//! # Bounds
//!
//! The walk recurses at most [`MAX_PART_DEPTH`] levels and lists at most
//! [`MAX_TOTAL_PARTS`] leaf parts; beyond either the open fails with
//! [`Error::Malformed`]. Each multipart is split by the MIME layer, which caps the parts
//! of one multipart at [`mss_cms::mime::MAX_PARTS`].

use serde::Serialize;

use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::mime::{self, Headers, SmimeEntity};
use mss_cms::signed;

use crate::Error;

/// Maximum depth of the displayed MIME tree walked for coverage (multiparts, forwarded
/// messages and nested signed entities all count).
pub const MAX_PART_DEPTH: usize = mss_cms::mime::MAX_DEPTH;
/// Maximum number of leaf parts listed for one message.
pub const MAX_TOTAL_PARTS: usize = 10_000;

/// One leaf part of the displayed message and the signatures that cover it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartCoverage {
    /// The MIME part path (`""` for the whole message, `"2.1"` for the first part of the
    /// second part); signed wrappers are transparent.
    pub path: String,
    /// The part's content type (`text/plain`…).
    pub content_type: String,
    /// Indexes into [`crate::Report::signatures`] of the signatures that cover this
    /// part (empty: nothing signs it).
    pub signed_by: Vec<usize>,
}

/// A signed entity found inside the displayed message.
pub(crate) enum NestedSigned<'a> {
    /// A `multipart/signed`: the signature's DER and the exact signed bytes.
    Detached {
        /// The SignedData.
        sd: &'a signed::ParsedSignedData,
        /// The first body part, canonical.
        signed_part: &'a [u8],
    },
    /// An opaque signed-data.
    Opaque {
        /// The SignedData (content inside).
        sd: &'a signed::ParsedSignedData,
    },
}

/// What the walk needs from the open: verify one nested signed entity.
pub(crate) trait Verifier {
    /// Verify `nested` at part `path`, comparing its signers with the mailboxes of the
    /// enclosing message (`from`, `sender`); returns the indexes of its signatures.
    fn verify_nested(
        &mut self,
        path: &str,
        nested: NestedSigned<'_>,
        from: Option<&str>,
        sender: Option<&str>,
    ) -> Vec<usize>;
    /// Record a warning.
    fn warn(&mut self, w: &str);
}

/// The author mailboxes in force while walking (those of the innermost enclosing
/// message, which changes at a `message/rfc822`).
#[derive(Clone, Default)]
pub(crate) struct Mailboxes {
    pub(crate) from: Option<String>,
    pub(crate) sender: Option<String>,
}

/// Walk the displayed `entity` (already stripped of its outer layers); `outer` are the
/// indexes of the outer layers' signatures. Returns the leaf parts.
pub(crate) fn analyse(
    entity: &[u8],
    outer: &[usize],
    mailboxes: &Mailboxes,
    verifier: &mut dyn Verifier,
) -> Result<Vec<PartCoverage>, Error> {
    let mut w = Walk {
        verifier,
        parts: Vec::new(),
        nested_signatures: false,
    };
    if mime::classify(entity).is_err() {
        // Not MIME (a bare CMS object may carry any bytes): one opaque part.
        w.parts.push(PartCoverage {
            path: String::new(),
            content_type: "application/octet-stream".into(),
            signed_by: outer.to_vec(),
        });
    } else {
        w.walk(entity, String::new(), outer.to_vec(), mailboxes, 0)?;
    }
    let uncovered = w.parts.iter().any(|p| p.signed_by.is_empty());
    if w.nested_signatures && (outer.is_empty() || uncovered) {
        w.verifier.warn("partial-signature");
    }
    Ok(w.parts)
}

struct Walk<'v> {
    verifier: &'v mut dyn Verifier,
    parts: Vec<PartCoverage>,
    nested_signatures: bool,
}

fn child(path: &str, i: usize) -> String {
    if path.is_empty() {
        (i + 1).to_string()
    } else {
        format!("{path}.{}", i + 1)
    }
}

/// Errors that are caps on the work done: they fail the open. Other MIME errors inside
/// the displayed message make the part an opaque leaf (`malformed-part`).
fn is_cap(e: &mime::MimeError) -> bool {
    matches!(
        e,
        mime::MimeError::TooDeep
            | mime::MimeError::TooManyParts
            | mime::MimeError::TooManyFields
            | mime::MimeError::LineTooLong
    )
}

/// The content type an unparsable entity declares, if its header can be read.
fn essence_of(entity: &[u8]) -> String {
    let (h, _) = mime::split_header_body(entity);
    Headers::parse(h)
        .map(|h| h.content_type().essence())
        .unwrap_or_else(|_| "application/octet-stream".into())
}

impl Walk<'_> {
    /// A part that cannot be parsed: listed as one opaque leaf, covered only by the
    /// signatures around it (never by a signature it may contain), with a warning.
    fn malformed(
        &mut self,
        path: String,
        content_type: String,
        covering: &[usize],
    ) -> Result<(), Error> {
        self.verifier.warn("malformed-part");
        self.leaf(path, content_type, covering)
    }

    fn leaf(
        &mut self,
        path: String,
        content_type: String,
        covering: &[usize],
    ) -> Result<(), Error> {
        if self.parts.len() >= MAX_TOTAL_PARTS {
            return Err(Error::Malformed(format!(
                "more than {MAX_TOTAL_PARTS} MIME parts"
            )));
        }
        self.parts.push(PartCoverage {
            path,
            content_type,
            signed_by: covering.to_vec(),
        });
        Ok(())
    }

    fn walk(
        &mut self,
        entity: &[u8],
        path: String,
        covering: Vec<usize>,
        mailboxes: &Mailboxes,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > MAX_PART_DEPTH {
            return Err(Error::Malformed(format!(
                "MIME parts nested deeper than {MAX_PART_DEPTH} levels"
            )));
        }
        let (headers, kind) = match mime::classify(entity) {
            Ok(x) => x,
            Err(e) if is_cap(&e) => return Err(e.into()),
            Err(_) => return self.malformed(path, essence_of(entity), &covering),
        };
        match kind {
            SmimeEntity::MultipartSigned {
                signed_part,
                signature,
                ..
            } => {
                let Ok(sd) = parse_signed(&signature) else {
                    return self.malformed(path, "multipart/signed".into(), &covering);
                };
                self.nested_signatures = true;
                let sigs = self.verifier.verify_nested(
                    &path,
                    NestedSigned::Detached {
                        sd: &sd,
                        signed_part: &signed_part,
                    },
                    mailboxes.from.as_deref(),
                    mailboxes.sender.as_deref(),
                );
                let mut inner = covering;
                inner.extend(sigs);
                self.walk(&signed_part, path, inner, mailboxes, depth + 1)
            }
            SmimeEntity::Pkcs7Mime { der, .. } => {
                let essence = headers.content_type().essence();
                let Ok(ci) = ContentInfo::from_ber(&der) else {
                    return self.malformed(path, essence, &covering);
                };
                match ci.kind() {
                    ContentType::SignedData => {
                        let Ok(sd) = signed::parse(&ci.content) else {
                            return self.malformed(path, essence, &covering);
                        };
                        if sd.signers.is_empty() {
                            return self.leaf(path, essence, &covering);
                        }
                        self.nested_signatures = true;
                        let sigs = self.verifier.verify_nested(
                            &path,
                            NestedSigned::Opaque { sd: &sd },
                            mailboxes.from.as_deref(),
                            mailboxes.sender.as_deref(),
                        );
                        let mut inner = covering;
                        inner.extend(sigs);
                        let content = sd.content.clone().unwrap_or_default();
                        if mime::classify(&content).is_ok() {
                            self.walk(&content, path, inner, mailboxes, depth + 1)
                        } else {
                            self.leaf(path, "application/octet-stream".into(), &inner)
                        }
                    }
                    _ => {
                        self.verifier.warn("nested-encryption-not-opened");
                        self.leaf(path, essence, &covering)
                    }
                }
            }
            SmimeEntity::Plain => {
                let ct = headers.content_type();
                let essence = ct.essence();
                let (_, body) = mime::split_header_body(entity);
                if essence.starts_with("multipart/") {
                    let Some(boundary) = ct.param("boundary") else {
                        return self.malformed(path, essence, &covering);
                    };
                    let parts = match mime::split_multipart(body, boundary) {
                        Ok(p) => p,
                        Err(e) if is_cap(&e) => return Err(e.into()),
                        Err(_) => return self.malformed(path, essence, &covering),
                    };
                    for (i, p) in parts.iter().enumerate() {
                        self.walk(p, child(&path, i), covering.clone(), mailboxes, depth + 1)?;
                    }
                    Ok(())
                } else if essence == "message/rfc822" {
                    let inner = inner_mailboxes(body).unwrap_or_default();
                    self.walk(body, path, covering, &inner, depth + 1)
                } else {
                    self.leaf(path, essence, &covering)
                }
            }
        }
    }
}

fn parse_signed(signature: &[u8]) -> Result<signed::ParsedSignedData, Error> {
    let ci = ContentInfo::from_ber(signature)?;
    if ci.kind() != ContentType::SignedData {
        return Err(Error::Malformed(
            "the signature part is not a SignedData".into(),
        ));
    }
    Ok(signed::parse(&ci.content)?)
}

/// The From and Sender of a forwarded message.
fn inner_mailboxes(message: &[u8]) -> Option<Mailboxes> {
    let (h, _) = mime::split_header_body(message);
    let h = Headers::parse(h).ok()?;
    Some(Mailboxes {
        from: h.get("From"),
        sender: h.get("Sender"),
    })
}

/// The addresses of an RFC 5322 mailbox list (`Name <a@b>, c@d`): the part in angle
/// brackets when there is one, else the bare token.
pub(crate) fn mailbox_addresses(list: &str) -> Vec<String> {
    list.split(',')
        .filter_map(|m| {
            let m = m.trim();
            let addr = match (m.rfind('<'), m.rfind('>')) {
                (Some(a), Some(b)) if a < b => &m[a + 1..b],
                _ => m,
            };
            let addr = addr.trim();
            addr.contains('@').then(|| addr.to_string())
        })
        .collect()
}

/// Does a signer with certificate address `email` mismatch the message's author?
///
/// The signer must be one of the From addresses **and**, when a Sender field is present,
/// the Sender address: a message "From: the doctor" signed by the Sender (a secretary,
/// or an attacker) is a signer mismatch, because clients display the From. A signer
/// whose certificate carries no address always mismatches. With neither From nor Sender
/// (a bare CMS object) there is nothing to compare.
pub(crate) fn signer_mismatch(
    email: Option<&str>,
    from: Option<&str>,
    sender: Option<&str>,
) -> bool {
    if from.is_none() && sender.is_none() {
        return false;
    }
    let Some(email) = email else {
        return true;
    };
    let listed = |list: Option<&str>| {
        list.is_some_and(|l| {
            mailbox_addresses(l)
                .iter()
                .any(|a| a.eq_ignore_ascii_case(email))
        })
    };
    !listed(from) || (sender.is_some() && !listed(sender))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_rules() {
        let a = Some("a@x.test");
        assert!(!signer_mismatch(a, Some("A <a@x.test>"), None));
        assert!(!signer_mismatch(a, Some("A <A@X.test>"), Some("a@x.test")));
        assert!(signer_mismatch(a, Some("b@x.test"), None));
        assert!(signer_mismatch(a, Some("b@x.test"), Some("a@x.test")));
        assert!(signer_mismatch(a, Some("a@x.test"), Some("b@x.test")));
        assert!(signer_mismatch(None, Some("a@x.test"), None));
        assert!(signer_mismatch(a, None, Some("b@x.test")));
        assert!(!signer_mismatch(a, None, None));
        assert!(!signer_mismatch(None, None, None));
    }

    #[test]
    fn child_paths() {
        assert_eq!(child("", 0), "1");
        assert_eq!(child("2", 2), "2.3");
    }
}
