//! The parts of a streamed open: a push-based MIME scanner that builds, while the clear
//! message is written, the same coverage tree ([`coverage::Node`]) as the in-memory
//! [`crate::open`] builds from bytes, in bounded memory.
//!
//! [`crate::stream::open_stream`] tees the clear entity into a [`PartScanner`]. The
//! scanner keeps a stack of the entities being read (at most [`MAX_PART_DEPTH`] deep):
//!
//! - of each entity, only its header block is kept (at most [`MAX_HEADER_BLOCK`] bytes);
//! - a multipart body is split line by line as [`mime::split_multipart`] splits it
//!   (the line break before a delimiter belongs to the delimiter, an outer boundary ends
//!   the inner parts); a part is never buffered, it is handed on to the scanner of the
//!   part;
//! - the first part of a nested S/MIME `multipart/signed` is hashed while it streams,
//!   raw and, once a bare LF shows, in canonical form (what [`mime::classify`] signs),
//!   with the algorithms of [`mss_cms::stream::multipart::micalg_digests`] (those its
//!   `micalg` names plus SHA-256, or all the common ones); its signature part is kept (at
//!   most [`MAX_HELD_PART`] bytes) and verified with [`signed::verify_digests`] when the
//!   part ends;
//! - an `application/pkcs7-mime` part is kept whole (at most [`MAX_HELD_PART`] bytes)
//!   and handed to the in-memory builder [`coverage::build`] when it ends.
//!
//! The tree is then reported by [`coverage::report`], the code the in-memory open uses,
//! so that both opens give the same [`crate::Report`].
//!
//! # Where a bound is exceeded
//!
//! A part beyond a bound is listed as one opaque leaf covered only by the signatures
//! around it, and the open is warned [`crate::stream::PARTS_NOT_ANALYSED`] (the
//! in-memory open would have analysed it): an `application/pkcs7-mime` part or a
//! signature part larger than [`MAX_HELD_PART`], a nested header block larger than
//! [`MAX_HEADER_BLOCK`], and a signed part holding both a bare CR and, later, a bare LF
//! (its canonical form cannot be rebuilt from what was hashed). A delimiter-like line
//! padded with more than [`MAX_HEADER_BLOCK`] bytes of spaces fails the open.
//!
//! # Known differences with the in-memory open
//!
//! A nested signer whose digest algorithm was not hashed (neither in `micalg` nor
//! SHA-256; SHA-224 without `micalg`), or a pure Ed25519 one without signed attributes
//! (it signs the content, which was only hashed), is reported `unknown`, as by the
//! streamed outer layers; other signers without signed attributes are verified from
//! the content's digest. The caps
//! ([`coverage::MAX_TOTAL_PARTS`], [`mime::MAX_PARTS`], nesting depth) are checked as the
//! parts come, also inside a multipart that later proves malformed.
//!
//! Written by hand: no crate parses MIME incrementally with the byte-exact splitting
//! rules of [`mss_cms::mime`], which the signatures depend on.

use mss_algs::digest::{DigestAlgorithm, Hasher};
use mss_cms::mime::{self, Delim, Headers, delimiter_kind, header_protection};
use mss_cms::signed;

use crate::Error;
use crate::coverage::{self, Checks, MAX_PART_DEPTH, Mailboxes, NestedSigned, Node};
use crate::report::LayerKind;

/// Largest nested header block kept.
pub(crate) const MAX_HEADER_BLOCK: usize = 1024 * 1024;
/// Largest `application/pkcs7-mime` part or `multipart/signed` signature part kept.
pub(crate) const MAX_HELD_PART: usize = 16 * 1024 * 1024;

/// What the whole scan gives.
pub(crate) struct Scanned {
    /// The coverage tree of the displayed message.
    pub(crate) tree: Node,
    /// The body starts with a legacy display part (`protected-headers="v1"`).
    pub(crate) legacy_display: bool,
}

/// Shared by every level of the scan.
struct Shared<'a> {
    checks: Checks<'a>,
    leaves: usize,
}

impl Shared<'_> {
    fn count_leaf(&mut self) -> Result<(), Error> {
        self.leaves += 1;
        if self.leaves > coverage::MAX_TOTAL_PARTS {
            return Err(coverage::too_many_parts());
        }
        Ok(())
    }
}

/// Scans the displayed message as it streams (see the module documentation).
pub(crate) struct PartScanner<'a> {
    root: Entity,
    shared: Shared<'a>,
}

impl<'a> PartScanner<'a> {
    /// A scanner of one whole entity (header block, blank line, body).
    pub(crate) fn new(checks: Checks<'a>) -> Self {
        PartScanner {
            root: Entity::new(0),
            shared: Shared { checks, leaves: 0 },
        }
    }

    /// The next bytes of the entity.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), Error> {
        self.root.push(data, &mut self.shared)
    }

    /// The entity ended: its coverage tree.
    pub(crate) fn finish(mut self) -> Result<Scanned, Error> {
        self.root.end_header(&mut self.shared)?;
        let headers = self.root.headers.clone();
        let (tree, first) = self.root.end(&mut self.shared)?;
        let legacy_display = headers.is_some_and(|h| h.content_type().mime_type == "multipart")
            && first.is_some_and(|h| header_protection::is_legacy_display_part(&h));
        Ok(Scanned {
            tree,
            legacy_display,
        })
    }
}

/// One entity being read.
struct Entity {
    depth: usize,
    /// Its header fields, once read and parsed.
    headers: Option<Headers>,
    state: EntityState,
}

enum EntityState {
    /// Reading the header block: the bytes so far, and how far they were searched.
    Header(Vec<u8>, usize),
    Body(Body),
}

enum Body {
    /// The rest is not looked at: the node is known.
    Skip(Node),
    Multipart(Box<Multipart>),
    /// A forwarded message: its content.
    Message(Box<Entity>),
    /// An `application/pkcs7-mime` entity kept whole (`None`: beyond the bound).
    Pkcs7(String, Option<Vec<u8>>),
}

/// Where the header block ends: (end of the header block, start of the body), as
/// [`mime::split_header_body`] splits; `None` while undecided.
fn header_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    if from == 0 {
        if buf.starts_with(b"\r\n") {
            return Some((0, 2));
        }
        if buf.starts_with(b"\n") {
            return Some((0, 1));
        }
    }
    let mut pos = from;
    while let Some(p) = memchr::memchr(b'\n', &buf[pos..]) {
        let nl = pos + p;
        let after = &buf[nl + 1..];
        if after.starts_with(b"\r\n") {
            return Some((nl + 1, nl + 3));
        }
        if after.starts_with(b"\n") {
            return Some((nl + 1, nl + 2));
        }
        pos = nl + 1;
    }
    None
}

impl Entity {
    fn new(depth: usize) -> Self {
        Entity {
            depth,
            headers: None,
            state: EntityState::Header(Vec::new(), 0),
        }
    }

    fn push(&mut self, data: &[u8], sh: &mut Shared<'_>) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.state {
            EntityState::Header(buf, searched) => {
                buf.extend_from_slice(data);
                // Search again from the line before the new bytes (a blank line may
                // straddle two pushes).
                match header_end(buf, searched.saturating_sub(2)) {
                    Some((hb_end, body_start)) => {
                        let buf = std::mem::take(buf);
                        self.start_body(buf, hb_end, body_start, sh)
                    }
                    None if buf.len() > MAX_HEADER_BLOCK => {
                        self.state = EntityState::Body(Body::Skip(Node::NotAnalysed(
                            "application/octet-stream".into(),
                        )));
                        Ok(())
                    }
                    None => {
                        *searched = buf.len();
                        Ok(())
                    }
                }
            }
            EntityState::Body(body) => match body {
                Body::Skip(_) => Ok(()),
                Body::Multipart(m) => m.push(data, sh),
                Body::Message(inner) => inner.push(data, sh),
                Body::Pkcs7(_, held) => {
                    if let Some(b) = held {
                        if b.len() + data.len() > MAX_HELD_PART {
                            *held = None;
                        } else {
                            b.extend_from_slice(data);
                        }
                    }
                    Ok(())
                }
            },
        }
    }

    /// The header block `buf[..hb_end]` is read; the body starts at `body_start`.
    fn start_body(
        &mut self,
        buf: Vec<u8>,
        hb_end: usize,
        body_start: usize,
        sh: &mut Shared<'_>,
    ) -> Result<(), Error> {
        let headers = match Headers::parse(&buf[..hb_end]) {
            Ok(h) => h,
            Err(e) if coverage::is_cap(&e) => return Err(e.into()),
            Err(_) => {
                self.state = EntityState::Body(Body::Skip(Node::Malformed(
                    "application/octet-stream".into(),
                )));
                return Ok(());
            }
        };
        let ct = headers.content_type();
        let essence = ct.essence();
        let body = if ct.mime_type == "multipart"
            && ct.subtype == "signed"
            && mime::smime_signed_protocol(&ct).is_some()
        {
            match boundary(&ct) {
                Some(b) => Body::Multipart(Box::new(Multipart::new(
                    essence,
                    b,
                    Some(SignedPart::new(ct.param("micalg"))),
                    self.depth,
                ))),
                None => Body::Skip(Node::Malformed(essence)),
            }
        } else if mime::is_pkcs7_entity(&headers) {
            Body::Pkcs7(essence, Some(Vec::new()))
        } else if ct.mime_type == "multipart" {
            match boundary(&ct) {
                Some(b) => Body::Multipart(Box::new(Multipart::new(essence, b, None, self.depth))),
                None => Body::Skip(Node::Malformed(essence)),
            }
        } else if essence == "message/rfc822" {
            Body::Message(Box::new(child_entity(self.depth)?))
        } else {
            Body::Skip(Node::Leaf(essence))
        };
        self.headers = Some(headers);
        let pkcs7 = matches!(body, Body::Pkcs7(..));
        self.state = EntityState::Body(body);
        if pkcs7 {
            // The whole entity is kept, header block included.
            self.push(&buf, sh)
        } else {
            self.push(&buf[body_start..], sh)
        }
    }

    /// The entity ends: if its header block has not ended, it is all header block (with
    /// an empty body).
    fn end_header(&mut self, sh: &mut Shared<'_>) -> Result<(), Error> {
        if let EntityState::Header(buf, _) = &mut self.state {
            let buf = std::mem::take(buf);
            let len = buf.len();
            self.start_body(buf, len, len, sh)?;
        }
        Ok(())
    }

    /// The entity ended: its node, and the header fields of its first part (for a
    /// multipart that splits).
    fn end(mut self, sh: &mut Shared<'_>) -> Result<(Node, Option<Headers>), Error> {
        self.end_header(sh)?;
        let EntityState::Body(body) = self.state else {
            return Err(Error::Malformed("MIME scanner state".into()));
        };
        let (node, first) = match body {
            Body::Skip(node) => (node, None),
            Body::Multipart(m) => m.end(sh)?,
            Body::Message(mut inner) => {
                inner.end_header(sh)?;
                let mailboxes = inner
                    .headers
                    .as_ref()
                    .map(|h| Mailboxes {
                        from: h.get("From"),
                        sender: h.get("Sender"),
                    })
                    .unwrap_or_default();
                let (node, _) = inner.end(sh)?;
                (Node::Message(mailboxes, Box::new(node)), None)
            }
            Body::Pkcs7(essence, held) => match held {
                Some(entity) => (coverage::build(&entity, self.depth, sh.checks)?, None),
                None => (Node::NotAnalysed(essence), None),
            },
        };
        if matches!(
            node,
            Node::Leaf(_) | Node::Malformed(_) | Node::Encrypted(_) | Node::NotAnalysed(_)
        ) {
            sh.count_leaf()?;
        }
        Ok((node, first))
    }
}

fn child_entity(depth: usize) -> Result<Entity, Error> {
    if depth + 1 > MAX_PART_DEPTH {
        return Err(coverage::too_deep());
    }
    Ok(Entity::new(depth + 1))
}

/// The boundary of a multipart, when [`mime::split_multipart`] accepts it.
fn boundary(ct: &mime::ContentType) -> Option<String> {
    ct.param("boundary")
        .filter(|b| !b.is_empty() && b.len() <= mime::MAX_BOUNDARY_LEN)
        .map(str::to_string)
}

/// Can a line that starts with `line` (no line break yet) still be a delimiter?
fn may_be_delimiter(line: &[u8], dash: &[u8]) -> bool {
    if line.len() <= dash.len() {
        return dash.starts_with(line);
    }
    let Some(rest) = line.strip_prefix(dash) else {
        return false;
    };
    let rest = match rest.strip_prefix(b"--") {
        Some(r) => r,
        None if rest == b"-" => return true,
        None => rest,
    };
    // A last CR may be the start of the line break.
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    rest.iter().all(|&b| b == b' ' || b == b'\t')
}

enum MpState {
    Preamble,
    Part,
    Epilogue,
    /// A close delimiter before any part: malformed.
    Broken,
}

/// The part being read.
enum Current {
    None,
    Entity(Box<Entity>),
    /// The signature part of a `multipart/signed` (`None`: beyond the bound).
    Signature(Option<Vec<u8>>),
    /// A part past the second of a `multipart/signed`.
    Ignored,
}

/// A multipart body being split.
struct Multipart {
    essence: String,
    depth: usize,
    dash: Vec<u8>,
    state: MpState,
    /// The current line's bytes not handed on yet (while it may be a delimiter).
    line: Vec<u8>,
    /// The current line may still be a delimiter.
    holding: bool,
    /// A CR held back at the end of what was handed on (it may start a CRLF).
    cr: bool,
    /// The previous line's break, handed on only if no delimiter follows it.
    pending: &'static [u8],
    current: Current,
    parts: usize,
    nodes: Vec<Node>,
    first_headers: Option<Headers>,
    /// A nested S/MIME `multipart/signed`: the hashing of its first part.
    signed: Option<SignedPart>,
    signature: Option<Option<Vec<u8>>>,
}

impl Multipart {
    fn new(essence: String, boundary: String, signed: Option<SignedPart>, depth: usize) -> Self {
        Multipart {
            essence,
            depth,
            dash: format!("--{boundary}").into_bytes(),
            state: MpState::Preamble,
            line: Vec::new(),
            holding: true,
            cr: false,
            pending: b"",
            current: Current::None,
            parts: 0,
            nodes: Vec::new(),
            first_headers: None,
            signed,
            signature: None,
        }
    }

    /// Hand part bytes on to the current part.
    fn forward(&mut self, data: &[u8], sh: &mut Shared<'_>) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.current {
            Current::Entity(e) => {
                if self.parts == 0
                    && let Some(s) = self.signed.as_mut()
                {
                    s.update(data);
                }
                e.push(data, sh)
            }
            Current::Signature(held) => {
                if let Some(b) = held {
                    if b.len() + data.len() > MAX_HELD_PART {
                        *held = None;
                    } else {
                        b.extend_from_slice(data);
                    }
                }
                Ok(())
            }
            Current::Ignored | Current::None => Ok(()),
        }
    }

    /// Hand the pending line break on.
    fn flush_pending(&mut self, sh: &mut Shared<'_>) -> Result<(), Error> {
        let p = std::mem::take(&mut self.pending);
        self.forward(p, sh)
    }

    fn push(&mut self, data: &[u8], sh: &mut Shared<'_>) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            if self.holding && self.line.is_empty() && rest[0] != b'-' {
                // Lines that do not start with '-' cannot be delimiters: hand the run
                // of whole lines up to the next line starting with '-' on at once (a
                // base64 attachment goes through in one piece).
                let end = match memchr::memmem::find(rest, b"\n-") {
                    Some(p) => Some(p),
                    None => memchr::memrchr(b'\n', rest),
                };
                if let Some(nl) = end {
                    self.flush_pending(sh)?;
                    let crlf = nl > 0 && rest[nl - 1] == b'\r';
                    let content = if crlf { &rest[..nl - 1] } else { &rest[..nl] };
                    self.forward(content, sh)?;
                    self.pending = if crlf { b"\r\n" } else { b"\n" };
                    rest = &rest[nl + 1..];
                    continue;
                }
            }
            let nl = memchr::memchr(b'\n', rest);
            let (seg, complete) = match nl {
                Some(p) => (&rest[..p], true),
                None => (rest, false),
            };
            rest = match nl {
                Some(p) => &rest[p + 1..],
                None => &[],
            };
            if self.holding {
                self.line.extend_from_slice(seg);
                if complete {
                    let line = std::mem::take(&mut self.line);
                    let (content, crlf) = match line.strip_suffix(b"\r") {
                        Some(c) => (c, true),
                        None => (&line[..], false),
                    };
                    match delimiter_kind(content, &self.dash) {
                        Delim::No => {
                            self.flush_pending(sh)?;
                            self.forward(content, sh)?;
                            self.pending = if crlf { b"\r\n" } else { b"\n" };
                        }
                        kind => {
                            self.pending = b"";
                            self.delimiter(kind, sh)?;
                        }
                    }
                    self.line = line;
                    self.line.clear();
                } else if !may_be_delimiter(&self.line, &self.dash) {
                    self.holding = false;
                    self.flush_pending(sh)?;
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                        self.cr = true;
                    }
                    self.forward(&line, sh)?;
                    line.clear();
                    self.line = line;
                } else if self.line.len() > MAX_HEADER_BLOCK {
                    return Err(Error::Malformed(
                        "multipart: a delimiter line padded beyond the bound".into(),
                    ));
                }
            } else if complete {
                // The end of a content line.
                let cr = std::mem::take(&mut self.cr);
                if cr && seg.is_empty() {
                    self.pending = b"\r\n";
                } else {
                    if cr {
                        self.forward(b"\r", sh)?;
                    }
                    match seg.strip_suffix(b"\r") {
                        Some(c) => {
                            self.forward(c, sh)?;
                            self.pending = b"\r\n";
                        }
                        None => {
                            self.forward(seg, sh)?;
                            self.pending = b"\n";
                        }
                    }
                }
                self.holding = true;
            } else {
                // More of a content line.
                if std::mem::take(&mut self.cr) {
                    self.forward(b"\r", sh)?;
                }
                let seg = match seg.strip_suffix(b"\r") {
                    Some(c) => {
                        self.cr = true;
                        c
                    }
                    None => seg,
                };
                self.forward(seg, sh)?;
            }
        }
        Ok(())
    }

    /// End the current part, if any.
    fn end_part(&mut self, sh: &mut Shared<'_>) -> Result<(), Error> {
        match std::mem::replace(&mut self.current, Current::None) {
            Current::Entity(mut e) => {
                e.end_header(sh)?;
                let headers = e.headers.clone();
                let (node, _) = e.end(sh)?;
                if self.parts == 0 {
                    self.first_headers = headers;
                }
                self.nodes.push(node);
            }
            Current::Signature(held) => self.signature = Some(held),
            Current::Ignored | Current::None => return Ok(()),
        }
        Ok(())
    }

    fn start_part(&mut self) -> Result<(), Error> {
        self.current = match (&self.signed, self.parts) {
            (Some(_), 1) => Current::Signature(Some(Vec::new())),
            (Some(_), n) if n > 1 => Current::Ignored,
            _ => Current::Entity(Box::new(child_entity(self.depth)?)),
        };
        Ok(())
    }

    fn delimiter(&mut self, kind: Delim, sh: &mut Shared<'_>) -> Result<(), Error> {
        match self.state {
            MpState::Preamble => {
                if kind == Delim::Close {
                    self.state = MpState::Broken;
                } else {
                    self.state = MpState::Part;
                    self.start_part()?;
                }
            }
            MpState::Part => {
                if self.parts >= mime::MAX_PARTS {
                    return Err(mime::MimeError::TooManyParts.into());
                }
                self.end_part(sh)?;
                self.parts += 1;
                if kind == Delim::Close {
                    self.state = MpState::Epilogue;
                } else {
                    self.start_part()?;
                }
            }
            MpState::Epilogue | MpState::Broken => {}
        }
        Ok(())
    }

    fn end(mut self: Box<Self>, sh: &mut Shared<'_>) -> Result<(Node, Option<Headers>), Error> {
        // The last line, without a line break.
        if self.holding && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            match delimiter_kind(&line, &self.dash) {
                Delim::No => {
                    self.flush_pending(sh)?;
                    self.forward(&line, sh)?;
                }
                kind => self.delimiter(kind, sh)?,
            }
        }
        if !matches!(self.state, MpState::Epilogue) {
            // No delimiter, no part, or no close delimiter (a truncated message).
            if let Current::Entity(e) = std::mem::replace(&mut self.current, Current::None) {
                e.end(sh)?;
            }
            return Ok((Node::Malformed(self.essence), None));
        }
        let Some(signed) = self.signed.take() else {
            return Ok((Node::Multipart(self.nodes), self.first_headers));
        };
        let node = self.signed_node(signed, sh.checks)?;
        Ok((node, None))
    }

    /// The node of a nested S/MIME `multipart/signed` that split.
    fn signed_node(
        mut self: Box<Self>,
        signed: SignedPart,
        checks: Checks<'_>,
    ) -> Result<Node, Error> {
        let malformed = || Ok(Node::Malformed("multipart/signed".into()));
        if self.parts != 2 {
            return malformed();
        }
        let Some(Some(part)) = self.signature.take() else {
            return Ok(Node::NotAnalysed("multipart/signed".into()));
        };
        let (shb, sbody) = mime::split_header_body(&part);
        let sig_headers = match Headers::parse(shb) {
            Ok(h) => h,
            Err(e) if coverage::is_cap(&e) => return Err(e.into()),
            Err(_) => return malformed(),
        };
        if !mime::is_signature_part(&sig_headers) {
            return malformed();
        }
        let der = match mime::decode_transfer_encoding(
            sbody,
            sig_headers
                .get_unfolded("content-transfer-encoding")
                .as_deref(),
        ) {
            Ok(d) if !d.is_empty() => d,
            _ => return malformed(),
        };
        let Ok(sd) = coverage::parse_signed(&der) else {
            return malformed();
        };
        let Some(digests) = signed.finish() else {
            return Ok(Node::NotAnalysed("multipart/signed".into()));
        };
        let Some(first) = self.nodes.pop() else {
            return malformed();
        };
        let results = signed::verify_digests(&sd, &digests, checks.extra_certs, checks.policy);
        Ok(Node::Signed(
            Box::new(NestedSigned {
                sd,
                results,
                kind: LayerKind::SignedDetached,
            }),
            Box::new(first),
        ))
    }
}

/// The hashing of the first part of a nested `multipart/signed`: raw, and in canonical
/// form from the first bare LF on (as [`mime::classify`] canonicalises a signed part
/// with a bare LF).
struct SignedPart {
    raw: Vec<Hasher>,
    /// The canonical form's hashers, once a bare LF showed (before it, both forms are
    /// the same bytes).
    canon: Option<Vec<Hasher>>,
    /// The last byte hashed raw was a CR.
    prev_cr: bool,
    /// The last byte of the canonical form was a CR whose LF is not written yet.
    canon_cr: bool,
    /// A bare CR came before any bare LF.
    bare_cr: bool,
    /// A bare LF came after a bare CR: the canonical form was not hashed.
    broken: bool,
    scratch: Vec<u8>,
}

/// Append the canonical form of `data` to `out` (`cr`: a CR is waiting for its LF).
fn canonical(cr: &mut bool, data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        if std::mem::take(cr) {
            out.push(b'\n');
            if b == b'\n' {
                continue;
            }
        }
        match b {
            b'\r' => {
                out.push(b'\r');
                *cr = true;
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            other => out.push(other),
        }
    }
}

impl SignedPart {
    fn new(micalg: Option<&str>) -> Self {
        SignedPart {
            raw: mss_cms::stream::multipart::micalg_digests(micalg)
                .into_iter()
                .map(DigestAlgorithm::hasher)
                .collect(),
            canon: None,
            prev_cr: false,
            canon_cr: false,
            bare_cr: false,
            broken: false,
            scratch: Vec::new(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut fresh = false;
        if self.canon.is_none() && !self.broken {
            if self.prev_cr && data[0] != b'\n' {
                self.bare_cr = true;
            }
            let mut fork = None;
            for p in memchr::memchr2_iter(b'\r', b'\n', data) {
                if data[p] == b'\n' {
                    let after_cr = if p == 0 {
                        self.prev_cr
                    } else {
                        data[p - 1] == b'\r'
                    };
                    if !after_cr {
                        fork = Some(p);
                        break;
                    }
                } else if data.get(p + 1).is_some_and(|&b| b != b'\n') {
                    self.bare_cr = true;
                }
            }
            if let Some(p) = fork {
                if self.bare_cr {
                    self.broken = true;
                } else {
                    let mut canon = self.raw.clone();
                    for h in canon.iter_mut() {
                        h.update(&data[..p]);
                    }
                    self.scratch.clear();
                    canonical(&mut self.canon_cr, &data[p..], &mut self.scratch);
                    for h in canon.iter_mut() {
                        h.update(&self.scratch);
                    }
                    self.canon = Some(canon);
                    fresh = true;
                }
            }
        }
        if !fresh && let Some(canon) = self.canon.as_mut() {
            self.scratch.clear();
            canonical(&mut self.canon_cr, data, &mut self.scratch);
            for h in canon.iter_mut() {
                h.update(&self.scratch);
            }
        }
        for h in self.raw.iter_mut() {
            h.update(data);
        }
        self.prev_cr = data.last() == Some(&b'\r');
    }

    /// The digests of the signed part as [`mime::classify`] gives it (`None`: its
    /// canonical form could not be hashed).
    fn finish(self) -> Option<Vec<(DigestAlgorithm, Vec<u8>)>> {
        if self.broken {
            return None;
        }
        let hashers = match self.canon {
            Some(mut canon) => {
                if self.canon_cr {
                    for h in canon.iter_mut() {
                        h.update(b"\n");
                    }
                }
                canon
            }
            None => self.raw,
        };
        Some(
            hashers
                .into_iter()
                .map(|h| (h.algorithm(), h.finalize()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mss_algs::policy::StandardPolicy;

    static POLICY: StandardPolicy = StandardPolicy;

    fn checks() -> Checks<'static> {
        Checks {
            extra_certs: &[],
            policy: &POLICY,
        }
    }

    /// The scan of `entity` pushed `step` bytes at a time.
    fn scan(entity: &[u8], step: usize) -> Result<String, String> {
        let mut s = PartScanner::new(checks());
        for chunk in entity.chunks(step) {
            s.push(chunk).map_err(|e| e.to_string())?;
        }
        s.finish()
            .map(|x| format!("{:?} {}", x.tree, x.legacy_display))
            .map_err(|e| e.to_string())
    }

    fn in_memory(entity: &[u8]) -> Result<String, String> {
        let legacy = mss_cms::mime::header_protection::recover(entity)
            .ok()
            .flatten()
            .is_some_and(|p| p.legacy_display);
        coverage::build(entity, 0, checks())
            .map(|t| format!("{t:?} {legacy}"))
            .map_err(|e| e.to_string())
    }

    const CORPUS: &[&[u8]] = &[
        b"Content-Type: text/plain\r\n\r\nhello\r\n",
        b"Content-Type: text/plain\r\n",
        b"",
        b"\r\nbody",
        b"Subject: x\n\nbody\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>\r\n--b\r\n\r\nplain\r\n--b--\r\nepilogue\r\n--b\r\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nA\n--b\n\n--b--",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\nx\r\n--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--bb\r\n--b-\r\n --b\r\n--b--",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t \r\nContent-Type: image/png\r\n\r\nxx\r\n--b--  \r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nA: 1\r\n\r\nunclosed\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--b\r\nx\r\n--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\na\r\n--i\r\nContent-Type: text/html\r\n\r\nb\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.test\r\nContent-Type: multipart/mixed; boundary=j\r\n\r\n--j\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--j--\r\n--o--\r\n",
        // An outer boundary ends an unclosed inner multipart.
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\nx\r\n--o\r\ny\r\n--o--\r\n",
        b"Content-Type: multipart/mixed; boundary=o; protected-headers=v1\r\nSubject: s\r\n\r\n--o\r\nContent-Type: text/plain; protected-headers=\"v1\"\r\n\r\nSubject: s\r\n--o\r\nContent-Type: text/plain\r\n\r\nbody\r\n--o--\r\n",
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggEh\r\n--o\r\nContent-Type: application/octet-stream; name=a.p7m\r\n\r\nnot base64 at all\r\n--o\r\nContent-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n--o--\r\n",
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\nsigned\r\n--s\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--s--\r\n--o\r\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=p\r\n\r\n--p\r\nContent-Type: text/plain\r\n\r\nx\r\n--p\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--p--\r\n--o\r\nContent-Type: multipart/signed; boundary=t\r\n\r\n--t\r\nx\r\n--t--\r\n--o--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nline\rwith bare CR\r\r\n--b\r\r\n--b--\r",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nno header end\r\n--b--",
        b"garbage without colon\r\n\r\nbody",
    ];

    #[test]
    fn scan_builds_the_in_memory_tree() {
        // The corpus exercises the tree (not only leaves).
        let nested = in_memory(CORPUS[14]).unwrap_or_default();
        assert!(nested.contains("Message") && nested.contains("Multipart([Multipart"));
        assert!(in_memory(CORPUS[16]).is_ok_and(|t| t.ends_with("true")));
        for (i, e) in CORPUS.iter().enumerate() {
            let want = in_memory(e);
            for step in [1, 2, 3, 5, 7, 13, 64, 100_000] {
                assert_eq!(scan(e, step), want, "entity {i} step {step}");
            }
        }
    }

    #[test]
    fn signed_part_hash_is_the_classified_one() {
        let parts: [&[u8]; 5] = [
            b"a\r\nb\r\n",
            b"a\nb\r\nc\n",
            b"a\rb\r\n",
            b"a\r\nb\n\rc\r",
            b"\n\n",
        ];
        for p in parts {
            let canon = if p
                .iter()
                .enumerate()
                .any(|(i, &b)| b == b'\n' && (i == 0 || p[i - 1] != b'\r'))
            {
                mss_cms::mime::canonicalize(p)
            } else {
                p.to_vec()
            };
            for step in [1, 2, 3, 100] {
                let mut s = SignedPart::new(Some("sha-256"));
                for c in p.chunks(step) {
                    s.update(c);
                }
                let bare_cr_first = p.windows(2).position(|w| w[0] == b'\r' && w[1] != b'\n')
                    < p.iter()
                        .enumerate()
                        .position(|(i, &b)| b == b'\n' && (i == 0 || p[i - 1] != b'\r'));
                match s.finish() {
                    Some(d) => assert_eq!(
                        d[0].1,
                        DigestAlgorithm::Sha256.digest(&canon),
                        "{p:?} step {step}"
                    ),
                    None => assert!(bare_cr_first, "{p:?}"),
                }
            }
        }
    }

    /// A random MIME-like entity of at most `depth` levels: multiparts (closed or not,
    /// with preamble, epilogue, padded delimiters, stray delimiter-like lines), forwarded
    /// messages, signed-looking and pkcs7-looking parts, with CRLF, LF or bare CR ends.
    fn random_entity(next: &mut dyn FnMut(usize) -> usize, depth: usize, out: &mut String) {
        let eol =
            |next: &mut dyn FnMut(usize) -> usize| ["\r\n", "\r\n", "\r\n", "\n", "\r"][next(5)];
        let noise = [
            "text", "", "--b", "--c--", "--bc", "--d \t", "x\ry", " folded", "-", "--",
        ];
        let kind = if depth == 0 { next(2) } else { next(6) };
        match kind {
            2..=4 => {
                let b = ["b", "c", "d"][next(3)];
                let ct = [
                    "multipart/mixed",
                    "multipart/signed; protocol=\"application/pkcs7-signature\"",
                    "multipart/alternative",
                ][next(3)];
                out.push_str(&format!("Content-Type: {ct}; boundary={b}"));
                out.push_str(eol(next));
                if next(3) == 0 {
                    out.push_str("X-Extra: 1");
                    out.push_str(eol(next));
                }
                out.push_str(eol(next));
                if next(2) == 0 {
                    out.push_str(noise[next(noise.len())]);
                    out.push_str(eol(next));
                }
                for _ in 0..1 + next(3) {
                    out.push_str(&format!("--{b}{}", ["", " ", "\t "][next(3)]));
                    out.push_str(eol(next));
                    random_entity(next, depth - 1, out);
                    out.push_str(eol(next));
                }
                if next(5) != 0 {
                    out.push_str(&format!("--{b}--"));
                    if next(4) != 0 {
                        out.push_str(eol(next));
                    }
                }
                if next(2) == 0 {
                    out.push_str(noise[next(noise.len())]);
                    out.push_str(eol(next));
                }
            }
            5 => {
                out.push_str("Content-Type: message/rfc822");
                out.push_str(eol(next));
                out.push_str(eol(next));
                out.push_str("From: a@b.test");
                out.push_str(eol(next));
                random_entity(next, depth - 1, out);
            }
            _ => {
                out.push_str(
                    [
                        "Content-Type: text/plain",
                        "Content-Type: application/pkcs7-mime",
                        "Content-Type: application/pkcs7-signature",
                        "",
                    ][next(4)],
                );
                out.push_str(eol(next));
                for _ in 0..next(4) {
                    out.push_str(eol(next));
                    out.push_str(noise[next(noise.len())]);
                }
            }
        }
    }

    /// Random entities scanned in random pieces: the tree is the in-memory one, and
    /// nothing panics.
    #[test]
    fn random_entities_scan_like_in_memory() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut nested = 0;
        for case in 0..3000 {
            let mut e = String::new();
            random_entity(&mut next, 3, &mut e);
            let want = in_memory(e.as_bytes());
            if want.as_ref().is_ok_and(|t| t.contains("Multipart([")) {
                nested += 1;
            }
            let step = 1 + next(9);
            assert_eq!(
                scan(e.as_bytes(), step),
                want,
                "case {case} step {step}: {e:?}"
            );
        }
        assert!(
            nested >= 300,
            "only {nested} random entities split into parts"
        );
    }
}
