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
use crate::report::LayerKind;

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

/// The MIME structure of the displayed message, as far as coverage is concerned: built
/// from bytes in memory by [`build`], or while the message streams by
/// [`crate::stream_parts`], then reported by [`report`] (the same code for both opens).
///
/// Nested signatures are checked (the cryptographic part, [`signed::verify`] or
/// [`signed::verify_digests`]) when the tree is built; they are judged (chain,
/// revocation, signer mismatch) and reported when the tree is reported, in the order of
/// the walk.
#[derive(Debug)]
pub(crate) enum Node {
    /// A leaf part of this content type.
    Leaf(String),
    /// A part that cannot be parsed (`malformed-part`), listed as one opaque leaf.
    Malformed(String),
    /// An encrypted part, never opened (`nested-encryption-not-opened`).
    Encrypted(String),
    /// A part the streaming open could not analyse within its bounds
    /// ([`crate::stream::PARTS_NOT_ANALYSED`]): listed as one opaque leaf covered only
    /// by the signatures around it.
    NotAnalysed(String),
    /// The parts of a multipart, in order (paths `p.1`, `p.2`…).
    Multipart(Vec<Node>),
    /// A forwarded `message/rfc822`: its authors and its content.
    Message(Mailboxes, Box<Node>),
    /// A nested signed entity (`multipart/signed` or opaque signed-data) and what it signs.
    Signed(Box<NestedSigned>, Box<Node>),
}

/// A signed entity found inside the displayed message, verified (not yet judged).
#[derive(Debug)]
pub(crate) struct NestedSigned {
    /// The SignedData (without its encapsulated content, already walked).
    pub(crate) sd: signed::ParsedSignedData,
    /// The outcome of the cryptographic check of every signer.
    pub(crate) results: Vec<signed::SignerResult>,
    /// Detached (`multipart/signed`) or opaque.
    pub(crate) kind: LayerKind,
}

/// What the report needs from the open: judge one nested signed entity.
pub(crate) trait Verifier {
    /// Judge `nested` at part `path`, comparing its signers with the mailboxes of the
    /// enclosing message (`from`, `sender`); returns the indexes of its signatures.
    fn verify_nested(
        &mut self,
        path: &str,
        nested: &NestedSigned,
        from: Option<&str>,
        sender: Option<&str>,
    ) -> Vec<usize>;
    /// Record a warning.
    fn warn(&mut self, w: &str);
}

/// The author mailboxes in force while walking (those of the innermost enclosing
/// message, which changes at a `message/rfc822`).
#[derive(Clone, Default, Debug)]
pub(crate) struct Mailboxes {
    pub(crate) from: Option<String>,
    pub(crate) sender: Option<String>,
}

/// What checking a nested signature needs.
#[derive(Clone, Copy)]
pub(crate) struct Checks<'a> {
    pub(crate) extra_certs: &'a [x509_cert::Certificate],
    pub(crate) policy: &'a dyn mss_algs::policy::Policy,
}

/// Walk the displayed `entity` (already stripped of its outer layers); `outer` are the
/// indexes of the outer layers' signatures. Returns the leaf parts.
pub(crate) fn analyse(
    entity: &[u8],
    outer: &[usize],
    mailboxes: &Mailboxes,
    checks: Checks<'_>,
    verifier: &mut dyn Verifier,
) -> Result<Vec<PartCoverage>, Error> {
    let tree = if mime::classify(entity).is_err() {
        // Not MIME (a bare CMS object may carry any bytes): one opaque part.
        Node::Leaf("application/octet-stream".into())
    } else {
        build(entity, 0, checks)?
    };
    report(&tree, outer, mailboxes, verifier)
}

/// Report the leaf parts of `tree` (the displayed message), judging its nested
/// signatures through `verifier`; `outer` are the indexes of the outer layers'
/// signatures.
pub(crate) fn report(
    tree: &Node,
    outer: &[usize],
    mailboxes: &Mailboxes,
    verifier: &mut dyn Verifier,
) -> Result<Vec<PartCoverage>, Error> {
    let mut w = Walk {
        verifier,
        parts: Vec::new(),
        nested_signatures: false,
    };
    w.walk(tree, String::new(), outer.to_vec(), mailboxes)?;
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
pub(crate) fn is_cap(e: &mime::MimeError) -> bool {
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

/// The error of a walk nested too deep.
pub(crate) fn too_deep() -> Error {
    Error::Malformed(format!(
        "MIME parts nested deeper than {MAX_PART_DEPTH} levels"
    ))
}

/// The error of a message with too many leaf parts.
pub(crate) fn too_many_parts() -> Error {
    Error::Malformed(format!("more than {MAX_TOTAL_PARTS} MIME parts"))
}

impl Walk<'_> {
    fn leaf(&mut self, path: String, content_type: &str, covering: &[usize]) -> Result<(), Error> {
        if self.parts.len() >= MAX_TOTAL_PARTS {
            return Err(too_many_parts());
        }
        self.parts.push(PartCoverage {
            path,
            content_type: content_type.to_string(),
            signed_by: covering.to_vec(),
        });
        Ok(())
    }

    fn walk(
        &mut self,
        node: &Node,
        path: String,
        covering: Vec<usize>,
        mailboxes: &Mailboxes,
    ) -> Result<(), Error> {
        match node {
            Node::Leaf(ct) => self.leaf(path, ct, &covering),
            Node::Malformed(ct) => {
                self.verifier.warn("malformed-part");
                self.leaf(path, ct, &covering)
            }
            Node::Encrypted(ct) => {
                self.verifier.warn("nested-encryption-not-opened");
                self.leaf(path, ct, &covering)
            }
            Node::NotAnalysed(ct) => {
                self.verifier.warn(crate::stream::PARTS_NOT_ANALYSED);
                self.leaf(path, ct, &covering)
            }
            Node::Multipart(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    self.walk(p, child(&path, i), covering.clone(), mailboxes)?;
                }
                Ok(())
            }
            Node::Message(inner_mailboxes, inner) => {
                self.walk(inner, path, covering, inner_mailboxes)
            }
            Node::Signed(nested, inner) => {
                self.nested_signatures = true;
                let sigs = self.verifier.verify_nested(
                    &path,
                    nested,
                    mailboxes.from.as_deref(),
                    mailboxes.sender.as_deref(),
                );
                let mut covering = covering;
                covering.extend(sigs);
                self.walk(inner, path, covering, mailboxes)
            }
        }
    }
}

/// Build the coverage tree of `entity` (in memory), at nesting `depth`.
pub(crate) fn build(entity: &[u8], depth: usize, checks: Checks<'_>) -> Result<Node, Error> {
    if depth > MAX_PART_DEPTH {
        return Err(too_deep());
    }
    let (headers, kind) = match mime::classify(entity) {
        Ok(x) => x,
        Err(e) if is_cap(&e) => return Err(e.into()),
        Err(_) => return Ok(Node::Malformed(essence_of(entity))),
    };
    match kind {
        SmimeEntity::MultipartSigned {
            signed_part,
            signature,
            ..
        } => {
            let Ok(sd) = parse_signed(&signature) else {
                return Ok(Node::Malformed("multipart/signed".into()));
            };
            let results =
                signed::verify(&sd, Some(&signed_part), checks.extra_certs, checks.policy);
            let inner = build(&signed_part, depth + 1, checks)?;
            Ok(Node::Signed(
                Box::new(NestedSigned {
                    sd,
                    results,
                    kind: LayerKind::SignedDetached,
                }),
                Box::new(inner),
            ))
        }
        SmimeEntity::Pkcs7Mime { der, .. } => {
            let essence = headers.content_type().essence();
            pkcs7_node(&der, essence, depth, checks)
        }
        SmimeEntity::Plain => {
            let ct = headers.content_type();
            let essence = ct.essence();
            let (_, body) = mime::split_header_body(entity);
            if essence.starts_with("multipart/") {
                let Some(boundary) = ct.param("boundary") else {
                    return Ok(Node::Malformed(essence));
                };
                let parts = match mime::split_multipart(body, boundary) {
                    Ok(p) => p,
                    Err(e) if is_cap(&e) => return Err(e.into()),
                    Err(_) => return Ok(Node::Malformed(essence)),
                };
                let mut nodes = Vec::with_capacity(parts.len());
                for p in &parts {
                    nodes.push(build(p, depth + 1, checks)?);
                }
                Ok(Node::Multipart(nodes))
            } else if essence == "message/rfc822" {
                let inner = inner_mailboxes(body).unwrap_or_default();
                Ok(Node::Message(
                    inner,
                    Box::new(build(body, depth + 1, checks)?),
                ))
            } else {
                Ok(Node::Leaf(essence))
            }
        }
    }
}

/// The node of an `application/pkcs7-mime` part whose transfer-decoded body is `der`.
pub(crate) fn pkcs7_node(
    der: &[u8],
    essence: String,
    depth: usize,
    checks: Checks<'_>,
) -> Result<Node, Error> {
    let Ok(ci) = ContentInfo::from_ber(der) else {
        return Ok(Node::Malformed(essence));
    };
    match ci.kind() {
        ContentType::SignedData => {
            let Ok(mut sd) = signed::parse(&ci.content) else {
                return Ok(Node::Malformed(essence));
            };
            if sd.signers.is_empty() {
                return Ok(Node::Leaf(essence));
            }
            let results = signed::verify(&sd, None, checks.extra_certs, checks.policy);
            // The content is walked now; only a receipt's is kept (as evidence).
            let content = if sd.content_type == mss_cms::receipt::ID_CT_RECEIPT {
                sd.content.clone()
            } else {
                sd.content.take()
            }
            .unwrap_or_default();
            let inner = if mime::classify(&content).is_ok() {
                build(&content, depth + 1, checks)?
            } else {
                Node::Leaf("application/octet-stream".into())
            };
            Ok(Node::Signed(
                Box::new(NestedSigned {
                    sd,
                    results,
                    kind: LayerKind::SignedOpaque,
                }),
                Box::new(inner),
            ))
        }
        _ => Ok(Node::Encrypted(essence)),
    }
}

pub(crate) fn parse_signed(signature: &[u8]) -> Result<signed::ParsedSignedData, Error> {
    let ci = ContentInfo::from_ber(signature)?;
    if ci.kind() != ContentType::SignedData {
        return Err(Error::Malformed(
            "the signature part is not a SignedData".into(),
        ));
    }
    Ok(signed::parse(&ci.content)?)
}

/// The From and Sender of a forwarded message.
pub(crate) fn inner_mailboxes(message: &[u8]) -> Option<Mailboxes> {
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
