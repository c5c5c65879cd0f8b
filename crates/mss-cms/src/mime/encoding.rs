//! Canonicalisation (CRLF) and Content-Transfer-Encodings (RFC 2045 §6):
//! base64 via `base64-simd` (with our own whitespace stripping and line
//! wrapping), quoted-printable by hand (no well-kept crate does QP with the
//! signing-safe rules below, and they are short).

use super::MimeError;

/// Maximum length of an encoded line (RFC 2045 §6.7 and §6.8), without CRLF.
const LINE_WIDTH: usize = 76;

/// Convert to canonical form: every line ending becomes CRLF.
///
/// CRLF is kept, a bare LF becomes CRLF and a bare CR becomes CRLF. The
/// function is idempotent. Removing every CR from the result gives the input
/// with each CRLF and each bare CR replaced by LF.
pub fn canonicalize(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 2);
    let mut canon = Canon::default();
    canon.push(data, &mut out);
    canon.finish(&mut out);
    out
}

/// Canonicalises line ends (bare LF and bare CR become CRLF) across chunks.
#[derive(Debug, Default)]
pub(crate) struct Canon {
    /// A CR ended the last chunk: its successor decides.
    pub(crate) pending_cr: bool,
}

/// Bytes checked at a time by [`canonical_prefix`]: a branch-free loop over a block
/// that the compiler vectorises, so that already-canonical text (the usual case) is
/// checked at memory speed rather than line by line.
const CANON_BLOCK: usize = 64;

/// The length of the longest prefix of `data` that canonicalisation leaves as it is
/// when no CR is pending before it: every CR in it is followed by LF, every LF follows
/// a CR, and it does not end with a CR whose successor is not known yet.
pub(crate) fn canonical_prefix(data: &[u8]) -> usize {
    let n = data.len();
    if n == 0 {
        return 0;
    }
    if data[0] == b'\n' {
        return 0;
    }
    // Position j is irregular when (data[j] is CR) != (data[j + 1] is LF).
    let mut j = 0;
    while j + CANON_BLOCK < n {
        let a = &data[j..j + CANON_BLOCK];
        let b = &data[j + 1..j + 1 + CANON_BLOCK];
        let mut acc = 0u8;
        for k in 0..CANON_BLOCK {
            acc |= u8::from(a[k] == b'\r') ^ u8::from(b[k] == b'\n');
        }
        if acc != 0 {
            break;
        }
        j += CANON_BLOCK;
    }
    while j + 1 < n {
        if (data[j] == b'\r') != (data[j + 1] == b'\n') {
            // A bare CR ends the prefix before it; a bare LF (data[j + 1]) after j + 1.
            return if data[j] == b'\r' { j } else { j + 1 };
        }
        j += 1;
    }
    if data[n - 1] == b'\r' { n - 1 } else { n }
}

impl Canon {
    /// Append the canonical form of `data` (the next chunk) to `out`.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        if self.pending_cr && !rest.is_empty() {
            out.extend_from_slice(b"\r\n");
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        loop {
            let p = canonical_prefix(rest);
            out.extend_from_slice(&rest[..p]);
            rest = &rest[p..];
            match rest {
                [] => return,
                // A CR at the end: its successor comes with the next chunk.
                [b'\r'] => {
                    self.pending_cr = true;
                    return;
                }
                // A bare CR, or a bare LF: each becomes CRLF.
                [b'\r' | b'\n', tail @ ..] => {
                    out.extend_from_slice(b"\r\n");
                    rest = tail;
                }
                // canonical_prefix stops only before a CR or a LF.
                [_, tail @ ..] => {
                    out.push(rest[0]);
                    rest = tail;
                }
            }
        }
    }

    /// Append what the end of the text decides (a last CR becomes CRLF).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            out.extend_from_slice(b"\r\n");
            self.pending_cr = false;
        }
    }
}

/// Decode a body by its Content-Transfer-Encoding.
///
/// `cte` is the raw header value (case-insensitive, surrounding whitespace
/// ignored); `None` means 7bit. `7bit`, `8bit` and `binary` return the body
/// as is. `base64` ignores spaces, tabs and line breaks but rejects any
/// other character outside the alphabet (padding is optional).
/// `quoted-printable` handles soft line breaks (`=` at end of line, also
/// with trailing transport whitespace), `=XX` escapes (either case), drops
/// trailing whitespace of each line (RFC 2045 §6.7 rule 3) and keeps each
/// hard line break as it stood (CRLF or LF). Any other encoding is an error.
pub fn decode_transfer_encoding(body: &[u8], cte: Option<&str>) -> Result<Vec<u8>, MimeError> {
    let cte = cte.map(|c| c.trim().to_ascii_lowercase());
    match cte.as_deref() {
        None | Some("") | Some("7bit") | Some("8bit") | Some("binary") => Ok(body.to_vec()),
        Some("base64") => decode_base64(body),
        Some("quoted-printable") => decode_quoted_printable(body),
        Some(other) => Err(MimeError::BadTransferEncoding(format!(
            "unsupported encoding {other:?}"
        ))),
    }
}

/// Decode base64 text, ignoring whitespace, padding optional (WHATWG forgiving base64,
/// the decoder the streaming `Base64Reader` uses too), with `base64-simd`.
fn decode_base64(body: &[u8]) -> Result<Vec<u8>, MimeError> {
    let mut compact = Vec::with_capacity(body.len());
    push_base64_text(&mut compact, body);
    base64_simd::forgiving_decode_to_vec(&compact)
        .map_err(|e| MimeError::BadTransferEncoding(format!("base64: {e}")))
}

/// Append the base64 characters of `text` to `carry`, without its line breaks (skipped
/// run by run) and other whitespace.
pub(crate) fn push_base64_text(carry: &mut Vec<u8>, text: &[u8]) {
    let mut rest = text;
    while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
        push_base64_run(carry, &rest[..i]);
        rest = &rest[i + 1..];
    }
    push_base64_run(carry, rest);
}

/// Append a run of base64 text without line breaks, dropping its whitespace.
fn push_base64_run(carry: &mut Vec<u8>, text: &[u8]) {
    if memchr::memchr3(b' ', b'\t', b'\x0c', text).is_none() {
        carry.extend_from_slice(text);
    } else {
        carry.extend(text.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn decode_quoted_printable(body: &[u8]) -> Result<Vec<u8>, MimeError> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        // One physical line and its line break (CRLF, LF or none at EOF).
        let (line, brk, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => {
                let (line, brk_start) = match p.checked_sub(1).and_then(|q| rest.get(q)) {
                    Some(b'\r') => (&rest[..p - 1], p - 1),
                    _ => (&rest[..p], p),
                };
                (line, &rest[brk_start..=p], &rest[p + 1..])
            }
            None => (rest, &rest[rest.len()..], &rest[rest.len()..]),
        };
        rest = next;
        let mut line = line;
        while let Some((last, head)) = line.split_last() {
            if *last == b' ' || *last == b'\t' {
                line = head;
            } else {
                break;
            }
        }
        let (line, soft) = match line.split_last() {
            Some((b'=', head)) => (head, true),
            _ => (line, false),
        };
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            if b == b'=' {
                let hi = line.get(i + 1).copied().and_then(hex_val);
                let lo = line.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => {
                        return Err(MimeError::BadTransferEncoding(
                            "quoted-printable: '=' not followed by two hex digits".into(),
                        ));
                    }
                }
                i += 3;
            } else {
                out.push(b);
                i += 1;
            }
        }
        if !soft {
            out.extend_from_slice(brk);
        }
    }
    Ok(out)
}

/// Encode as base64 in lines of 76 characters, each ended by CRLF
/// (the last line too). Empty input gives empty output.
pub fn encode_base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base64_lines_len(data.len()));
    append_base64_lines(data, &mut Vec::new(), &mut out);
    out
}

/// The length of [`encode_base64_lines`]'s output for `n` bytes of input.
pub(crate) fn base64_lines_len(n: usize) -> usize {
    let chars = n.div_ceil(3) * 4;
    chars + chars.div_ceil(LINE_WIDTH) * 2
}

/// Append the base64 of `data` to `out` in lines of 76 characters, each ended by CRLF
/// (the last line too), using `scratch` for the unbroken text. The encoding is SIMD
/// (`base64-simd`, CPU features detected at run time). Text split over several calls
/// forms one unbroken encoding when every call but the last gives a multiple of 57
/// bytes (one line).
pub(crate) fn append_base64_lines(data: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    let b64 = base64_simd::STANDARD;
    let need = b64.encoded_length(data.len());
    if scratch.len() < need {
        // Grown, never shrunk: no zero-filling on every call.
        scratch.resize(need, 0);
    }
    let text = b64.encode(data, base64_simd::Out::from_slice(&mut scratch[..need]));
    out.reserve(text.len() + text.len().div_ceil(LINE_WIDTH) * 2);
    for line in text.chunks(LINE_WIDTH) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// Encode text as quoted-printable (RFC 2045 §6.7) with lines of at most 76
/// characters and CRLF line breaks.
///
/// CRLF pairs in the input are hard line breaks; any other CR or LF is
/// encoded. Besides what RFC 2045 requires (`=`, controls, 8-bit bytes,
/// whitespace at end of line), a line starting with `From ` or `.` gets its
/// first character encoded, so that mbox and SMTP transports cannot alter a
/// signed text. The output ends with CRLF exactly when the input does.
pub fn encode_quoted_printable(data: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 8);
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    let mut ends_with_break = false;
    while !rest.is_empty() {
        match memchr::memmem::find(rest, b"\r\n") {
            Some(p) => {
                lines.push(&rest[..p]);
                rest = &rest[p + 2..];
                ends_with_break = rest.is_empty();
            }
            None => {
                lines.push(rest);
                rest = &rest[rest.len()..];
            }
        }
    }
    let count = lines.len();
    for (n, line) in lines.into_iter().enumerate() {
        let mut col = 0usize;
        let len = line.len();
        for (i, &b) in line.iter().enumerate() {
            let at_start = i == 0;
            let at_end = i + 1 == len;
            let must_encode = match b {
                b'=' => true,
                b' ' | b'\t' => at_end,
                33..=126 => at_start && ((b == b'F' && line.starts_with(b"From ")) || b == b'.'),
                _ => true,
            };
            let width = if must_encode { 3 } else { 1 };
            // Keep room for a soft break '=' unless this is the last char.
            let limit = if at_end { LINE_WIDTH } else { LINE_WIDTH - 1 };
            if col + width > limit {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if must_encode {
                out.push(b'=');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
            } else {
                out.push(b);
            }
            col += width;
        }
        if n + 1 < count || ends_with_break {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strip_cr(v: &[u8]) -> Vec<u8> {
        v.iter().copied().filter(|&b| b != b'\r').collect()
    }

    /// CRLF and bare CR → LF: what the canonical form means once CRs are gone.
    fn to_lf(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut it = v.iter().copied().peekable();
        while let Some(b) = it.next() {
            if b == b'\r' {
                if it.peek() == Some(&b'\n') {
                    it.next();
                }
                out.push(b'\n');
            } else {
                out.push(b);
            }
        }
        out
    }

    #[test]
    fn canonicalize_examples() {
        assert_eq!(canonicalize(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd");
        assert_eq!(canonicalize(b"\r\r\n\n"), b"\r\n\r\n\r\n");
        assert_eq!(canonicalize(b""), b"");
        assert_eq!(canonicalize(b"no break"), b"no break");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn canonicalize_idempotent(data in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b' '), any::<u8>()], 0..200)) {
            let once = canonicalize(&data);
            prop_assert_eq!(canonicalize(&once), once.clone());
            // Every CR is followed by LF and every LF preceded by CR.
            for (i, &b) in once.iter().enumerate() {
                if b == b'\r' { prop_assert_eq!(once.get(i + 1), Some(&b'\n')); }
                if b == b'\n' { prop_assert!(i > 0 && once[i - 1] == b'\r'); }
            }
            prop_assert_eq!(strip_cr(&once), to_lf(&data));
        }

        #[test]
        fn canonicalize_preserves_content_without_bare_cr(data in proptest::collection::vec(
            prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"x"[..]), Just(&b"\t "[..]), Just(&b"\xc3\xa9"[..])], 0..100)) {
            let data: Vec<u8> = data.concat();
            prop_assert_eq!(strip_cr(&canonicalize(&data)), strip_cr(&data));
        }

        #[test]
        fn qp_round_trip(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let enc = encode_quoted_printable(&data);
            for line in enc.split(|&b| b == b'\n') {
                prop_assert!(line.len() <= LINE_WIDTH + 1);
                prop_assert!(line.iter().all(|&b| b.is_ascii() && (b >= 32 || b == b'\r' || b == b'\t')));
            }
            prop_assert_eq!(decode_transfer_encoding(&enc, Some("quoted-printable")).unwrap(), data);
        }

        #[test]
        fn base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let enc = encode_base64_lines(&data);
            prop_assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= LINE_WIDTH + 1));
            prop_assert_eq!(decode_transfer_encoding(&enc, Some("BASE64")).unwrap(), data);
        }
    }

    #[test]
    fn identity_encodings() {
        for cte in [None, Some("7bit"), Some(" 8BIT "), Some("binary")] {
            assert_eq!(
                decode_transfer_encoding(b"a=b\r\n", cte).unwrap(),
                b"a=b\r\n"
            );
        }
        assert!(matches!(
            decode_transfer_encoding(b"x", Some("x-uuencode")),
            Err(MimeError::BadTransferEncoding(_))
        ));
    }

    #[test]
    fn base64_whitespace_and_errors() {
        let ok =
            decode_transfer_encoding(b"SGVs\r\nbG8s\n IHdv\tcmxk\r\n", Some("base64")).unwrap();
        assert_eq!(ok, b"Hello, world");
        // Missing padding accepted.
        assert_eq!(
            decode_transfer_encoding(b"SGk", Some("base64")).unwrap(),
            b"Hi"
        );
        assert_eq!(
            decode_transfer_encoding(b"SGk=", Some("base64")).unwrap(),
            b"Hi"
        );
        for bad in [
            &b"SGV*bG8="[..],
            b"SGVsbG8=\x00",
            b"SGk=SGk=",
            b"S",
            b"SGVs-G8=",
        ] {
            assert!(
                matches!(
                    decode_transfer_encoding(bad, Some("base64")),
                    Err(MimeError::BadTransferEncoding(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(encode_base64_lines(b""), b"");
        let long = encode_base64_lines(&[0u8; 100]);
        assert_eq!(long.len(), 136 + 4);
        assert_eq!(&long[76..78], b"\r\n");
    }

    #[test]
    fn qp_decode_cases() {
        let d = |s: &[u8]| decode_transfer_encoding(s, Some("Quoted-Printable"));
        assert_eq!(d(b"a=3Db").unwrap(), b"a=b");
        assert_eq!(d(b"caf=C3=A9").unwrap(), "café".as_bytes());
        assert_eq!(d(b"caf=c3=a9").unwrap(), "café".as_bytes());
        assert_eq!(d(b"soft=\r\nbreak\r\n").unwrap(), b"softbreak\r\n");
        assert_eq!(d(b"soft= \t\nbreak\n").unwrap(), b"softbreak\n");
        assert_eq!(d(b"trailing   \r\nx").unwrap(), b"trailing\r\nx");
        assert_eq!(d(b"keep=20\r\n").unwrap(), b"keep \r\n");
        assert_eq!(d(b"end=").unwrap(), b"end");
        assert_eq!(d(b"").unwrap(), b"");
        for bad in [&b"a=3"[..], b"a=ZZ", b"a=\x01b", b"=G0"] {
            assert!(
                matches!(d(bad), Err(MimeError::BadTransferEncoding(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn qp_encode_cases() {
        assert_eq!(encode_quoted_printable(b"a=b \r\n"), b"a=3Db=20\r\n");
        assert_eq!(
            encode_quoted_printable(b"From here\r\n.\r\n"),
            b"=46rom here\r\n=2E\r\n"
        );
        assert_eq!(encode_quoted_printable("é".as_bytes()), b"=C3=A9");
        let long = vec![b'x'; 200];
        let enc = encode_quoted_printable(&long);
        assert!(enc.starts_with(&[b'x'; 75]));
        assert_eq!(&enc[75..78], b"=\r\n");
        assert_eq!(
            decode_transfer_encoding(&enc, Some("quoted-printable")).unwrap(),
            long
        );
    }
}
