//! Entity splitting: header block / body (RFC 5322 §2.1) and multipart
//! bodies (RFC 2046 §5.1.1), byte-exact.
//!
//! A delimiter line is `--boundary` at the start of a line, optionally
//! followed by `--` (close delimiter), then only transport padding (spaces
//! and tabs) up to the line break or the end of the input. The line break
//! *preceding* a delimiter belongs to the delimiter, so a part's bytes end
//! before it. Preamble and epilogue are ignored. Both CRLF and bare LF line
//! breaks are recognised; parts are returned exactly as they stand.

use super::{MAX_BOUNDARY_LEN, MAX_PARTS, MimeError};

/// Split an entity into (header block, body).
///
/// The header block keeps the line break of its last line; the blank
/// separator line belongs to neither. CRLF or bare LF are accepted. Without
/// a blank line everything is headers and the body is empty; an entity that
/// starts with a blank line has no headers.
pub fn split_header_body(data: &[u8]) -> (&[u8], &[u8]) {
    if let Some(body) = data.strip_prefix(b"\r\n") {
        return (&data[..0], body);
    }
    if let Some(body) = data.strip_prefix(b"\n") {
        return (&data[..0], body);
    }
    let mut from = 0usize;
    while let Some(p) = data
        .get(from..)
        .and_then(|r| r.iter().position(|&b| b == b'\n'))
    {
        let nl = from + p;
        let after = data.get(nl + 1..).unwrap_or_default();
        if let Some(body) = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
        {
            return (data.get(..=nl).unwrap_or_default(), body);
        }
        from = nl + 1;
    }
    (data, &data[data.len()..])
}

/// What a line is with respect to the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    /// Not a delimiter line: content.
    No,
    /// A delimiter: a body part starts after it.
    Part,
    /// The close delimiter.
    Close,
}

/// What `line` (without its line break) is for `dash_boundary` (`--` and the boundary),
/// as [`split_multipart`] tells it: shared with streaming splitters.
pub fn delimiter_kind(line: &[u8], dash_boundary: &[u8]) -> Delim {
    let Some(rest) = line.strip_prefix(dash_boundary) else {
        return Delim::No;
    };
    let (kind, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (Delim::Close, r),
        None => (Delim::Part, rest),
    };
    if rest.iter().all(|&b| b == b' ' || b == b'\t') {
        kind
    } else {
        Delim::No
    }
}

/// Split a multipart body into its body parts, each as the exact bytes
/// between the end of a delimiter line and the line break preceding the
/// next delimiter.
///
/// Errors: [`MimeError::MissingBoundary`] for an empty or overlong boundary
/// (more than [`MAX_BOUNDARY_LEN`]); [`MimeError::Malformed`] when no
/// delimiter is found, there is no body part, or the close delimiter is
/// missing (a truncated message); [`MimeError::TooManyParts`] beyond
/// [`MAX_PARTS`].
pub fn split_multipart(entity_body: &[u8], boundary: &str) -> Result<Vec<Vec<u8>>, MimeError> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(MimeError::MissingBoundary);
    }
    let mut dash_boundary = b"--".to_vec();
    dash_boundary.extend_from_slice(boundary.as_bytes());

    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut prev_content_end = 0usize;
    let mut pos = 0usize;
    let mut closed = false;
    while pos < entity_body.len() {
        let rest = entity_body.get(pos..).unwrap_or_default();
        let (content_len, line_len) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => {
                let c = if p > 0 && rest.get(p - 1) == Some(&b'\r') {
                    p - 1
                } else {
                    p
                };
                (c, p + 1)
            }
            None => (rest.len(), rest.len()),
        };
        let line = rest.get(..content_len).unwrap_or_default();
        let kind = delimiter_kind(line, &dash_boundary);
        if kind != Delim::No {
            if let Some(start) = part_start {
                // The line break before the delimiter belongs to it.
                let end = if pos == 0 { 0 } else { prev_content_end };
                let bytes = if start <= end {
                    entity_body.get(start..end).unwrap_or_default().to_vec()
                } else {
                    Vec::new()
                };
                if parts.len() >= MAX_PARTS {
                    return Err(MimeError::TooManyParts);
                }
                parts.push(bytes);
            }
            if kind == Delim::Close {
                if part_start.is_none() {
                    return Err(MimeError::Malformed(
                        "multipart: close delimiter before any body part".into(),
                    ));
                }
                closed = true;
                break;
            }
            part_start = Some(pos + line_len);
        }
        prev_content_end = pos + content_len;
        pos += line_len;
    }
    if part_start.is_none() {
        return Err(MimeError::Malformed(format!(
            "multipart: no delimiter line for boundary {boundary:?}"
        )));
    }
    if !closed {
        return Err(MimeError::Malformed(
            "multipart: missing close delimiter (truncated message?)".into(),
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_body() {
        assert_eq!(
            split_header_body(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"),
            (&b"A: 1\r\nB: 2\r\n"[..], &b"body\r\n"[..])
        );
        assert_eq!(
            split_header_body(b"A: 1\nB: 2\n\nbody\n\nmore"),
            (&b"A: 1\nB: 2\n"[..], &b"body\n\nmore"[..])
        );
        assert_eq!(split_header_body(b"A: 1\n"), (&b"A: 1\n"[..], &b""[..]));
        assert_eq!(split_header_body(b"A: 1"), (&b"A: 1"[..], &b""[..]));
        assert_eq!(split_header_body(b"\r\nbody"), (&b""[..], &b"body"[..]));
        assert_eq!(split_header_body(b"\nbody"), (&b""[..], &b"body"[..]));
        assert_eq!(
            split_header_body(b"A: 1\r\n\r\n"),
            (&b"A: 1\r\n"[..], &b""[..])
        );
        assert_eq!(split_header_body(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn multipart_basic() {
        let body =
            b"preamble\r\n--b\r\nA\r\n\r\n--b \t\r\nB\r\n--b--  \r\nepilogue\r\n--b\r\nC\r\n";
        let parts = split_multipart(body, "b").unwrap();
        assert_eq!(parts, vec![b"A\r\n".to_vec(), b"B".to_vec()]);
        // LF only, no preamble, delimiter at EOF without line break.
        let parts = split_multipart(b"--b\nA\n--b\n\n--b--", "b").unwrap();
        assert_eq!(parts, vec![b"A".to_vec(), b"".to_vec()]);
        // Directly consecutive delimiters: an empty part.
        let parts = split_multipart(b"--b\r\n--b\r\nx\r\n--b--\r\n", "b").unwrap();
        assert_eq!(parts, vec![b"".to_vec(), b"x".to_vec()]);
        // Lines that only start like a delimiter are content.
        let parts = split_multipart(b"--b\r\n--bb\r\n--b-\r\n --b\r\n--b--", "b").unwrap();
        assert_eq!(parts, vec![b"--bb\r\n--b-\r\n --b".to_vec()]);
    }

    #[test]
    fn multipart_errors() {
        assert_eq!(
            split_multipart(b"--b\r\n", ""),
            Err(MimeError::MissingBoundary)
        );
        assert_eq!(
            split_multipart(b"x", &"a".repeat(MAX_BOUNDARY_LEN + 1)),
            Err(MimeError::MissingBoundary)
        );
        assert!(matches!(
            split_multipart(b"no delimiter\r\n", "b"),
            Err(MimeError::Malformed(_))
        ));
        assert!(matches!(
            split_multipart(b"--b\r\nA\r\n", "b"),
            Err(MimeError::Malformed(_))
        ));
        assert!(matches!(
            split_multipart(b"--b--\r\n", "b"),
            Err(MimeError::Malformed(_))
        ));
        let mut many = b"--b\r\nx\r\n".repeat(MAX_PARTS + 1);
        many.extend_from_slice(b"--b--\r\n");
        assert_eq!(split_multipart(&many, "b"), Err(MimeError::TooManyParts));
        let mut ok = b"--b\r\nx\r\n".repeat(MAX_PARTS);
        ok.extend_from_slice(b"--b--\r\n");
        assert_eq!(split_multipart(&ok, "b").unwrap().len(), MAX_PARTS);
    }
}
