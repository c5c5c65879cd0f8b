//! S/MIME entity classification (RFC 5751 §3, RFC 1847) and builders for
//! outgoing `multipart/signed` and `application/pkcs7-mime` entities.
//!
//! The boundary of a built `multipart/signed` is random (std's randomly
//! keyed SipHash over time, process id and a counter — uniqueness, not
//! secrecy, is what matters) and checked not to occur in the signed content.
//! It starts with `----=_`, a sequence that can appear neither in base64 nor
//! in quoted-printable output.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{
    ContentType, HeaderField, Headers, MAX_DEPTH, MimeError, canonicalize,
    decode_transfer_encoding, encode_base64_lines, encode_quoted_printable, split_header_body,
    split_multipart,
};

/// What an S/MIME entity is, for the opener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmimeEntity {
    /// `multipart/signed` with protocol `application/pkcs7-signature` (or
    /// `application/x-pkcs7-signature`).
    MultipartSigned {
        /// The first body part, exactly as it stands between the line break
        /// ending the first delimiter line and the line break preceding the
        /// second delimiter (that line break belongs to the delimiter,
        /// RFC 2046 §5.1.1). If these bytes contain a bare LF (a message
        /// stored with Unix line ends) they are canonicalised (every line
        /// ending made CRLF, see [`canonicalize`]) since the signature was
        /// computed over the canonical CRLF form; otherwise they are
        /// returned untouched.
        signed_part: Vec<u8>,
        /// The detached signature (DER/BER), transfer-decoded from the
        /// second part.
        signature: Vec<u8>,
        /// The `micalg` parameter, lowercase, if present.
        micalg: Option<String>,
        /// The signature protocol, lowercase (`application/pkcs7-signature`
        /// or `application/x-pkcs7-signature`).
        protocol: String,
    },
    /// `application/pkcs7-mime` or `application/x-pkcs7-mime` (or an
    /// `application/octet-stream` named `*.p7m`, `*.p7c`, `*.p7z`).
    Pkcs7Mime {
        /// The `smime-type` parameter, lowercase (`signed-data`,
        /// `enveloped-data`, `authenveloped-data`, `certs-only`,
        /// `compressed-data`); for octet-stream, derived from the file
        /// extension (`.p7c` → certs-only, `.p7z` → compressed-data, `.p7m` → none).
        smime_type: Option<String>,
        /// The body, transfer-decoded: CMS ContentInfo in DER or BER.
        der: Vec<u8>,
    },
    /// Anything else (including PGP/MIME `multipart/signed`): not an S/MIME layer.
    Plain,
}

pub(crate) const SIG_PROTOCOLS: [&str; 2] = [
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
];

fn is_content_header(name: &str) -> bool {
    name.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("content-"))
}

/// File name from Content-Type `name` or Content-Disposition `filename`, lowercase.
fn file_name(headers: &Headers, ct: &ContentType) -> Option<String> {
    if let Some(n) = ct.param("name") {
        return Some(n.to_ascii_lowercase());
    }
    let disp = headers.get_unfolded("content-disposition")?;
    // Content-Disposition shares the parameter syntax of Content-Type; give
    // the parser a dummy type so that one grammar serves both.
    let parsed = ContentType::parse(&format!("x/{disp}")).ok()?;
    parsed.param("filename").map(str::to_ascii_lowercase)
}

fn body_der(headers: &Headers, body: &[u8]) -> Result<Vec<u8>, MimeError> {
    let cte = headers.get_unfolded("content-transfer-encoding");
    let der = decode_transfer_encoding(body, cte.as_deref())?;
    if der.is_empty() {
        return Err(MimeError::Malformed("empty S/MIME body".into()));
    }
    Ok(der)
}

fn has_bare_lf(data: &[u8]) -> bool {
    data.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || data.get(i - 1) != Some(&b'\r')))
}

/// Parse the top-level entity (headers + body) and classify it.
///
/// Errors on a malformed S/MIME structure: missing boundary, wrong number
/// of parts or missing signature part, bad transfer encoding, empty body.
/// A missing or unparseable Content-Type means `text/plain` (RFC 2045), i.e.
/// [`SmimeEntity::Plain`].
pub fn classify(entity: &[u8]) -> Result<(Headers, SmimeEntity), MimeError> {
    let (hb, body) = split_header_body(entity);
    let headers = Headers::parse(hb)?;
    let ct = headers.content_type();
    let kind = match (ct.mime_type.as_str(), ct.subtype.as_str()) {
        ("multipart", "signed") => classify_signed(&ct, body)?,
        ("application", "pkcs7-mime" | "x-pkcs7-mime") => SmimeEntity::Pkcs7Mime {
            smime_type: ct
                .param("smime-type")
                .map(|s| s.trim().to_ascii_lowercase()),
            der: body_der(&headers, body)?,
        },
        ("application", "octet-stream") => {
            let smime_type = match file_name(&headers, &ct) {
                Some(n) if n.ends_with(".p7m") => Some(None),
                Some(n) if n.ends_with(".p7c") => Some(Some("certs-only".to_owned())),
                Some(n) if n.ends_with(".p7z") => Some(Some("compressed-data".to_owned())),
                _ => None,
            };
            match smime_type {
                Some(smime_type) => SmimeEntity::Pkcs7Mime {
                    smime_type,
                    der: body_der(&headers, body)?,
                },
                None => SmimeEntity::Plain,
            }
        }
        _ => SmimeEntity::Plain,
    };
    Ok((headers, kind))
}

/// Does [`classify`] take an entity with these header fields for an
/// [`SmimeEntity::Pkcs7Mime`] one (`application/pkcs7-mime`, or an octet-stream named
/// `*.p7m`, `*.p7c`, `*.p7z`)? Lets a streaming reader decide before the body.
pub fn is_pkcs7_entity(headers: &Headers) -> bool {
    let ct = headers.content_type();
    match (ct.mime_type.as_str(), ct.subtype.as_str()) {
        ("application", "pkcs7-mime" | "x-pkcs7-mime") => true,
        ("application", "octet-stream") => file_name(headers, &ct)
            .is_some_and(|n| n.ends_with(".p7m") || n.ends_with(".p7c") || n.ends_with(".p7z")),
        _ => false,
    }
}

/// The protocol of a `multipart/signed` entity whose Content-Type is `ct`, lowercase,
/// when [`classify`] takes it for an S/MIME one (`None`: PGP/MIME or another protocol,
/// classified [`SmimeEntity::Plain`]); `Some("")` when there is no protocol parameter.
pub fn smime_signed_protocol(ct: &ContentType) -> Option<String> {
    match ct.param("protocol").map(|p| p.trim().to_ascii_lowercase()) {
        Some(p) if !SIG_PROTOCOLS.contains(&p.as_str()) => None,
        Some(p) => Some(p),
        None => Some(String::new()),
    }
}

/// Is the second part of a `multipart/signed` with these header fields a signature
/// part that [`classify`] accepts?
pub fn is_signature_part(sig_headers: &Headers) -> bool {
    let sig_ct = sig_headers.content_type();
    let sig_essence = sig_ct.essence();
    SIG_PROTOCOLS.contains(&sig_essence.as_str())
        || (sig_essence == "application/octet-stream"
            && file_name(sig_headers, &sig_ct).is_some_and(|n| n.ends_with(".p7s")))
}

fn classify_signed(ct: &ContentType, body: &[u8]) -> Result<SmimeEntity, MimeError> {
    let protocol = ct.param("protocol").map(|p| p.trim().to_ascii_lowercase());
    if let Some(p) = &protocol
        && !SIG_PROTOCOLS.contains(&p.as_str())
    {
        // PGP/MIME or another protocol: not ours.
        return Ok(SmimeEntity::Plain);
    }
    let boundary = ct.param("boundary").ok_or(MimeError::MissingBoundary)?;
    let parts = split_multipart(body, boundary)?;
    let (first, second) = match parts.as_slice() {
        [first, second] => (first, second),
        [_] => {
            return Err(MimeError::BadSignedStructure(
                "missing signature part".into(),
            ));
        }
        _ => {
            return Err(MimeError::BadSignedStructure(format!(
                "{} body parts, expected 2",
                parts.len()
            )));
        }
    };
    let (shb, sbody) = split_header_body(second);
    let sig_headers = Headers::parse(shb)?;
    let sig_ct = sig_headers.content_type();
    let sig_essence = sig_ct.essence();
    let is_sig = SIG_PROTOCOLS.contains(&sig_essence.as_str())
        || (sig_essence == "application/octet-stream"
            && file_name(&sig_headers, &sig_ct).is_some_and(|n| n.ends_with(".p7s")));
    if !is_sig {
        return Err(MimeError::BadSignedStructure(format!(
            "second part is {sig_essence}, not a PKCS #7 signature"
        )));
    }
    let signature = body_der(&sig_headers, sbody).map_err(|e| match e {
        MimeError::Malformed(_) => MimeError::BadSignedStructure("empty signature part".into()),
        other => other,
    })?;
    let protocol = match protocol {
        Some(p) => p,
        None if SIG_PROTOCOLS.contains(&sig_essence.as_str()) => sig_essence,
        None => SIG_PROTOCOLS[0].to_owned(),
    };
    let signed_part = if has_bare_lf(first) {
        canonicalize(first)
    } else {
        first.clone()
    };
    Ok(SmimeEntity::MultipartSigned {
        signed_part,
        signature,
        micalg: ct.param("micalg").map(|m| m.trim().to_ascii_lowercase()),
        protocol,
    })
}

/// Longest line allowed in a 7-bit/8-bit body (RFC 5322 §2.1.1), without CRLF.
const MAX_LINE: usize = 998;

/// 7-bit clean (RFC 2045 §2.7): no 8-bit byte, no NUL, lines ≤ 998.
/// `data` must be canonical (CRLF).
fn is_7bit_clean(data: &[u8]) -> bool {
    // 64 bytes at a time without an early exit inside a block, so that the compiler
    // vectorises the check; then the line lengths, line end to line end (`memchr`).
    let no_8bit_or_nul = data.chunks(64).all(|block| {
        block
            .iter()
            .fold(0u8, |bad, &b| bad | u8::from(b == 0) | (b & 0x80))
            == 0
    });
    let mut line_start = 0;
    no_8bit_or_nul
        && memchr::memchr_iter(b'\n', data)
            .chain(std::iter::once(data.len()))
            .all(|end| {
                // A line ended by LF carries its CR (the data is canonical); the last,
                // unended one does not.
                let limit = if end < data.len() {
                    MAX_LINE + 1
                } else {
                    MAX_LINE
                };
                let ok = end - line_start <= limit;
                line_start = end + 1;
                ok
            })
}

/// Make an entity body transport-safe (7-bit), recursing into multipart
/// and message/rfc822 bodies. Updates `headers` (Content-Transfer-Encoding).
fn make_7bit(headers: &mut Headers, body: &[u8], depth: usize) -> Result<Vec<u8>, MimeError> {
    if depth > MAX_DEPTH {
        return Err(MimeError::TooDeep);
    }
    let ct = headers.content_type();
    let cte = headers
        .get_unfolded("content-transfer-encoding")
        .map(|c| c.to_ascii_lowercase());
    let is_binary = cte.as_deref() == Some("binary");
    let canonical = if is_binary {
        body.to_vec()
    } else {
        canonicalize(body)
    };
    if !is_binary && is_7bit_clean(&canonical) {
        return Ok(canonical);
    }
    match ct.mime_type.as_str() {
        "multipart" => {
            let boundary = ct.param("boundary").ok_or(MimeError::MissingBoundary)?;
            let parts = split_multipart(&canonical, boundary)?;
            let mut out = Vec::with_capacity(canonical.len() + canonical.len() / 3);
            for part in parts {
                let (phb, pbody) = split_header_body(&part);
                let mut ph = Headers::parse(phb)?;
                let pbody = make_7bit(&mut ph, pbody, depth + 1)?;
                out.extend_from_slice(b"--");
                out.extend_from_slice(boundary.as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&ph.to_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&pbody);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"--\r\n");
            headers.remove("content-transfer-encoding");
            Ok(out)
        }
        "message" if ct.subtype == "rfc822" || ct.subtype == "global" => {
            let (mhb, mbody) = split_header_body(&canonical);
            let mut mh = Headers::parse(mhb)?;
            let mbody = make_7bit(&mut mh, mbody, depth + 1)?;
            headers.remove("content-transfer-encoding");
            let mut out = mh.to_bytes();
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&mbody);
            Ok(out)
        }
        _ => {
            if matches!(cte.as_deref(), Some("base64" | "quoted-printable")) {
                // Already encoded; re-encoding would double-encode.
                return Ok(canonical);
            }
            if ct.mime_type == "text" && !is_binary {
                headers.set("Content-Transfer-Encoding", "quoted-printable");
                Ok(encode_quoted_printable(&canonical))
            } else if ct.mime_type == "text" {
                headers.set("Content-Transfer-Encoding", "base64");
                Ok(encode_base64_lines(&canonical))
            } else {
                // Not text, and not 7-bit: binary data (an image, a PDF). Line ends
                // are only canonical for text (RFC 5751 §3.1.1): its bytes are
                // encoded exactly as they are, never with LF made CRLF.
                headers.set("Content-Transfer-Encoding", "base64");
                Ok(encode_base64_lines(body))
            }
        }
    }
}

/// Split a draft message into (outer headers, inner entity).
///
/// Outer headers are every field that is not a `Content-*` field (From,
/// To, Subject, Date, Message-ID, Received, X-…, and MIME-Version).
/// The inner entity is the `Content-*` fields (with `Content-Type:
/// text/plain; charset=utf-8` added if absent), a blank line and the body,
/// all with CRLF line ends. A body that is not 7-bit clean (8-bit bytes,
/// NUL, or lines over 998 octets) is re-encoded: quoted-printable for
/// `text/*`, base64 otherwise; inside `multipart/*` and `message/rfc822`
/// each part is re-encoded recursively (depth ≤ [`MAX_DEPTH`]), and the
/// multipart preamble and epilogue are then dropped. A body with
/// `Content-Transfer-Encoding: binary`, or a non-`text/*` body that is not 7-bit
/// clean, is not canonicalised but base64-encoded byte for byte.
pub fn split_draft(draft: &[u8]) -> Result<(Headers, Vec<u8>), MimeError> {
    let (hb, body) = split_header_body(draft);
    let headers = Headers::parse(hb)?;
    let (inner_fields, outer_fields): (Vec<HeaderField>, Vec<HeaderField>) = headers
        .fields
        .into_iter()
        .partition(|f| is_content_header(&f.name));
    let outer = Headers {
        fields: outer_fields,
    };
    let mut inner = Headers {
        fields: inner_fields,
    };
    if inner.get_raw("content-type").is_none() {
        inner.fields.insert(
            0,
            HeaderField {
                name: "Content-Type".into(),
                value: b" text/plain; charset=utf-8".to_vec(),
            },
        );
    }
    let body = make_7bit(&mut inner, body, 0)?;
    let mut entity = inner.to_bytes();
    entity.extend_from_slice(b"\r\n");
    entity.extend_from_slice(&body);
    Ok((outer, entity))
}

/// Outer headers without Content-* and MIME-Version, then `MIME-Version: 1.0`.
pub(crate) fn outer_block(outer: &Headers) -> Headers {
    let mut h = outer.clone();
    h.fields
        .retain(|f| !is_content_header(&f.name) && !f.name.eq_ignore_ascii_case("mime-version"));
    h.fields.push(HeaderField {
        name: "MIME-Version".into(),
        value: b" 1.0".to_vec(),
    });
    h
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

static BOUNDARY_COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64(salt: u64) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write_u64(BOUNDARY_COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u64(salt);
    h.finish()
}

/// A boundary (40 chars) not occurring in `content`. Each try draws 128
/// fresh bits, so the loop ends at the first try in practice.
pub(crate) fn fresh_boundary(content: &[u8]) -> String {
    loop {
        let b = format!("----=_mss_{:016x}{:016x}", random_u64(1), random_u64(2));
        if !contains(content, b.as_bytes()) {
            return b;
        }
    }
}

/// Keep only token characters (and `,` for micalg lists).
pub(crate) fn sanitize_token(s: &str, allow_comma: bool) -> String {
    s.chars()
        .filter(|&c| {
            c.is_ascii_alphanumeric()
                || "-_.+!#$%&'*^`{|}~".contains(c)
                || (allow_comma && c == ',')
        })
        .collect()
}

/// Build a `multipart/signed` message (RFC 5751 §3.5.3).
///
/// Output: the outer headers (without Content-* and MIME-Version),
/// `MIME-Version: 1.0`, `Content-Type: multipart/signed;
/// protocol="application/pkcs7-signature"; micalg=…; boundary="…"`, a blank
/// line, a short preamble, the first part = `inner_entity` bytes exactly
/// (it should already be canonical CRLF, as produced by [`split_draft`]),
/// the signature part (`application/pkcs7-signature; name=smime.p7s`,
/// base64, attachment `smime.p7s`) and the close delimiter. CRLF throughout.
/// `micalg` is reduced to token characters (quoted if it lists several).
pub fn build_multipart_signed(
    outer: &Headers,
    inner_entity: &[u8],
    signature_der: &[u8],
    micalg: &str,
) -> Vec<u8> {
    let boundary = fresh_boundary(inner_entity);
    let micalg = sanitize_token(&micalg.to_ascii_lowercase(), true);
    let micalg = if micalg.contains(',') {
        format!("\"{micalg}\"")
    } else {
        micalg
    };
    let mut h = outer_block(outer);
    h.fields.push(HeaderField {
        name: "Content-Type".into(),
        value: format!(
            " multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg={micalg}; boundary=\"{boundary}\""
        )
        .into_bytes(),
    });
    let sig_b64 = encode_base64_lines(signature_der);
    let mut out = h.to_bytes();
    out.reserve(inner_entity.len() + sig_b64.len() + 512);
    out.extend_from_slice(
        b"\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n",
    );
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(inner_entity);
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\
          Content-Transfer-Encoding: base64\r\n\
          Content-Disposition: attachment; filename=smime.p7s\r\n\r\n",
    );
    out.extend_from_slice(&sig_b64);
    if sig_b64.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// Build an `application/pkcs7-mime` entity (RFC 5751 §3.2).
///
/// Output: outer headers (without Content-* and MIME-Version),
/// `MIME-Version: 1.0`, `Content-Type: application/pkcs7-mime;
/// smime-type=<t>; name=smime.p7m`, `Content-Transfer-Encoding: base64`,
/// `Content-Disposition: attachment; filename=smime.p7m`, a blank line and
/// the base64 body in 76-column lines. The file name follows RFC 5751
/// §3.2.1: `smime.p7c` for certs-only, `smime.p7z` for compressed-data,
/// `smime.p7m` otherwise. `smime_type` is reduced to token characters.
pub fn build_pkcs7_mime(outer: &Headers, smime_type: &str, der: &[u8]) -> Vec<u8> {
    // The type keeps its registered spelling (RFC 8551 §3.2.2: `authEnveloped-data`).
    let t = sanitize_token(smime_type, false);
    let file = match t.to_ascii_lowercase().as_str() {
        "certs-only" => "smime.p7c",
        "compressed-data" => "smime.p7z",
        _ => "smime.p7m",
    };
    let mut h = outer_block(outer);
    h.fields.push(HeaderField {
        name: "Content-Type".into(),
        value: format!(" application/pkcs7-mime; smime-type={t}; name={file}").into_bytes(),
    });
    h.fields.push(HeaderField {
        name: "Content-Transfer-Encoding".into(),
        value: b" base64".to_vec(),
    });
    h.fields.push(HeaderField {
        name: "Content-Disposition".into(),
        value: format!(" attachment; filename={file}").into_bytes(),
    });
    let mut out = h.to_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&encode_base64_lines(der));
    out
}

/// Recompose the clear message after the last S/MIME layer is removed.
///
/// Result: the outer headers of the received message without Content-*
/// and MIME-Version, then `MIME-Version: 1.0`, then the inner entity's
/// header fields and body. The inner entity's own MIME-Version is dropped,
/// and inner non-Content header fields (protected headers, RFC 7508 /
/// draft-ietf-lamps-header-protection, e.g. a real Subject hidden behind
/// "...") replace outer fields of the same name. Header lines come out
/// CRLF; the inner body is copied unchanged. An inner entity whose header
/// block does not parse is appended unchanged after the outer headers.
pub fn merge_outer_headers(outer: &Headers, inner_entity: &[u8]) -> Vec<u8> {
    let (ihb, ibody) = split_header_body(inner_entity);
    let Ok(mut inner) = Headers::parse(ihb) else {
        let mut out = outer_block(outer).to_bytes();
        out.extend_from_slice(inner_entity);
        return out;
    };
    inner.remove("mime-version");
    let mut h = outer_block(outer);
    for f in inner.fields.iter().filter(|f| !is_content_header(&f.name)) {
        let name = f.name.clone();
        h.fields.retain(|o| !o.name.eq_ignore_ascii_case(&name));
    }
    // Keep MIME-Version last among the outer fields.
    h.remove("mime-version");
    h.fields.push(HeaderField {
        name: "MIME-Version".into(),
        value: b" 1.0".to_vec(),
    });
    let mut out = h.to_bytes();
    out.extend_from_slice(&inner.to_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(ibody);
    out
}
