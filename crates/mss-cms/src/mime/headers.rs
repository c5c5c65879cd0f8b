//! Header blocks (RFC 5322 §2.2), RFC 2047 encoded-words, and Content-Type
//! parsing with RFC 2231 parameter continuations and charsets.
//!
//! Header fields are kept byte-exact as they stood (name, and the raw value
//! after the colon including its folding), so that a header block can be
//! re-emitted unchanged apart from line endings. Decoding (unfolding,
//! RFC 2047, charsets) happens only on the read accessors.
//!
//! Charsets are decoded by hand (UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15,
//! Windows-1252) rather than through `encoding_rs`: these cover French mail
//! and the tables are a few lines; an unknown charset leaves the
//! encoded-word undecoded rather than guessing.

use base64::Engine as _;

use super::{MAX_DEPTH, MAX_FIELD_LEN, MAX_FIELDS, MimeError};

/// One header field, raw as it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// Field name without the colon (and without whitespace before the colon).
    pub name: String,
    /// Raw value: every byte after the colon (leading space included) up to
    /// the end of the field, with folding line breaks (CRLF or LF + WSP) as
    /// they stood; the final line break is not included.
    pub value: Vec<u8>,
}

/// An ordered header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// The fields, in order of appearance.
    pub fields: Vec<HeaderField>,
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes to text: UTF-8 when valid, otherwise ISO-8859-1 (raw 8-bit headers
/// from legacy mailers are overwhelmingly Latin-1/Windows-1252 in France).
fn bytes_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Unfold (drop every CR and LF, RFC 5322 §2.2.3) and trim.
fn unfold(raw: &[u8]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    bytes_to_string(&bytes).trim().to_owned()
}

impl Headers {
    /// Parse a header block: header lines ended by CRLF or LF, without the
    /// blank separator line (a trailing blank line is tolerated).
    ///
    /// Errors: a line without a colon, an empty or invalid field name, a
    /// continuation line before any field, text after a blank line, a field
    /// longer than [`MAX_FIELD_LEN`], more than [`MAX_FIELDS`] fields.
    pub fn parse(block: &[u8]) -> Result<Headers, MimeError> {
        let mut fields: Vec<HeaderField> = Vec::new();
        // (line start, colon index) of the field being read, and its end.
        let mut current: Option<(usize, usize, usize)> = None;
        let mut pos = 0usize;
        let finish = |cur: Option<(usize, usize, usize)>,
                      fields: &mut Vec<HeaderField>|
         -> Result<(), MimeError> {
            if let Some((start, colon, end)) = cur {
                let name_bytes = block.get(start..colon).unwrap_or_default();
                let mut name_end = name_bytes.len();
                while name_end > 0 && name_bytes.get(name_end - 1).copied().is_some_and(is_wsp) {
                    name_end -= 1;
                }
                let name = name_bytes.get(..name_end).unwrap_or_default();
                if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                    return Err(MimeError::Malformed(format!(
                        "invalid header field name {:?}",
                        String::from_utf8_lossy(name)
                    )));
                }
                if fields.len() >= MAX_FIELDS {
                    return Err(MimeError::TooManyFields);
                }
                fields.push(HeaderField {
                    name: String::from_utf8_lossy(name).into_owned(),
                    value: block.get(colon + 1..end).unwrap_or_default().to_vec(),
                });
            }
            Ok(())
        };
        while pos < block.len() {
            let rest = block.get(pos..).unwrap_or_default();
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
            let content_end = pos + content_len;
            if line.is_empty() {
                // Blank line: only allowed as the very end of the block.
                if rest.iter().all(|&b| b == b'\r' || b == b'\n') {
                    break;
                }
                return Err(MimeError::Malformed(
                    "blank line inside header block".into(),
                ));
            }
            if line.first().copied().is_some_and(is_wsp) {
                match current.as_mut() {
                    Some((_, _, end)) => *end = content_end,
                    None => {
                        return Err(MimeError::Malformed(
                            "continuation line before the first header field".into(),
                        ));
                    }
                }
            } else {
                finish(current.take(), &mut fields)?;
                let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
                    MimeError::Malformed(format!(
                        "header line without colon: {:?}",
                        String::from_utf8_lossy(line.get(..line.len().min(60)).unwrap_or_default())
                    ))
                })?;
                current = Some((pos, pos + colon, content_end));
            }
            if let Some((start, _, end)) = current
                && end - start > MAX_FIELD_LEN
            {
                return Err(MimeError::LineTooLong);
            }
            pos += line_len;
        }
        finish(current.take(), &mut fields)?;
        Ok(Headers { fields })
    }

    /// First field of that name (case-insensitive): unfolded, trimmed, with
    /// RFC 2047 encoded-words decoded. Use for unstructured fields (Subject,
    /// From display names…); see [`Headers::get_unfolded`] for structured ones.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_raw(name).map(|v| decode_rfc2047(&unfold(v)))
    }

    /// First field of that name, unfolded and trimmed, without RFC 2047
    /// decoding (for structured fields such as Content-Type).
    pub fn get_unfolded(&self, name: &str) -> Option<String> {
        self.get_raw(name).map(unfold)
    }

    /// Raw value of the first field of that name (see [`HeaderField::value`]).
    pub fn get_raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_slice())
    }

    /// All fields of that name, in order, decoded as by [`Headers::get`].
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| decode_rfc2047(&unfold(&f.value)))
            .collect()
    }

    /// Replace the first field of that name (removing the others) or append
    /// it. The value is used as given (UTF-8 allowed, RFC 6532); CR and LF
    /// are replaced by spaces (no header injection) and long values are
    /// folded at spaces. Characters not allowed in a field name are dropped
    /// from `name`. See [`Headers::set_text`] for RFC 2047 encoding.
    pub fn set(&mut self, name: &str, value: &str) {
        let field = make_field(name, &fold_value(&sanitize_value(value), name.len()));
        self.put(field);
    }

    /// Like [`Headers::set`], but a non-ASCII value is written as RFC 2047
    /// UTF-8 encoded-words (for unstructured fields such as Subject).
    pub fn set_text(&mut self, name: &str, value: &str) {
        let value = sanitize_value(value);
        let folded = if value.is_ascii() {
            fold_value(&value, name.len())
        } else {
            encode_rfc2047(&value)
        };
        self.put(make_field(name, &folded));
    }

    /// Append a field, keeping existing ones of the same name (same
    /// sanitising and folding as [`Headers::set`]).
    pub fn append(&mut self, name: &str, value: &str) {
        let field = make_field(name, &fold_value(&sanitize_value(value), name.len()));
        self.fields.push(field);
    }

    fn put(&mut self, field: HeaderField) {
        match self
            .fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(&field.name))
        {
            Some(i) => {
                let name = field.name.clone();
                if let Some(slot) = self.fields.get_mut(i) {
                    *slot = field;
                }
                let mut idx = 0usize;
                self.fields.retain(|f| {
                    let keep = idx <= i || !f.name.eq_ignore_ascii_case(&name);
                    idx += 1;
                    keep
                });
            }
            None => self.fields.push(field),
        }
    }

    /// Remove every field of that name (case-insensitive).
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
    }

    /// Serialise: `name:value` CRLF for each field, folding preserved, every
    /// line ending CRLF, no trailing blank line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.fields {
            out.extend_from_slice(f.name.as_bytes());
            out.push(b':');
            out.extend_from_slice(&super::canonicalize(&f.value));
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The Content-Type, or `text/plain; charset=us-ascii` when the field is
    /// absent or unparseable (RFC 2045 §5.2).
    pub fn content_type(&self) -> ContentType {
        self.get_unfolded("content-type")
            .and_then(|v| ContentType::parse(&v).ok())
            .unwrap_or_default()
    }
}

fn sanitize_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn make_field(name: &str, folded_value: &str) -> HeaderField {
    let name: String = name
        .chars()
        .filter(|&c| c.is_ascii() && (33..=126).contains(&(c as u32)) && c != ':')
        .collect();
    let mut value = Vec::with_capacity(folded_value.len() + 1);
    value.push(b' ');
    value.extend_from_slice(folded_value.as_bytes());
    HeaderField { name, value }
}

/// Fold at spaces so that lines stay near 78 characters (RFC 5322 §2.1.1).
fn fold_value(value: &str, name_len: usize) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut col = name_len + 2;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if col + 1 + word.len() > 78 && col > 1 {
                out.push_str("\r\n");
                col = 0;
            }
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// Encode text as folded RFC 2047 UTF-8 "B" encoded-words (each ≤ 75 chars).
fn encode_rfc2047(value: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Longest encoded-word looked at (RFC 2047 says 75; lenient, but bounded).
const MAX_ENCODED_WORD: usize = 4096;

/// Decode the RFC 2047 encoded-words of an (unfolded) header text.
///
/// Supports `B` and `Q` encodings and the charsets UTF-8, US-ASCII,
/// ISO-8859-1, ISO-8859-15 and Windows-1252 (RFC 2231 `*lang` suffix
/// ignored). Whitespace between adjacent encoded-words is dropped (§6.2), and
/// adjacent words of the same charset are joined before charset decoding, so
/// a UTF-8 character split across two words decodes correctly. Malformed
/// words or unknown charsets are left as they stand.
pub fn decode_rfc2047(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let flush = |pending: &mut Option<(String, Vec<u8>)>, out: &mut String| {
        if let Some((cs, bytes)) = pending.take() {
            out.push_str(&decode_charset(&cs, &bytes).unwrap_or_else(|| bytes_to_string(&bytes)));
        }
    };
    let mut rest = text;
    let mut last_encoded = false;
    while let Some(p) = rest.find("=?") {
        let before = rest.get(..p).unwrap_or_default();
        let cand = rest.get(p..).unwrap_or_default();
        match parse_encoded_word(cand) {
            Some((charset, bytes, consumed)) => {
                let adjacent = last_encoded && before.chars().all(|c| c == ' ' || c == '\t');
                if !adjacent {
                    flush(&mut pending, &mut out);
                    out.push_str(before);
                }
                match pending.as_mut() {
                    Some((cs, buf)) if *cs == charset => buf.extend_from_slice(&bytes),
                    _ => {
                        flush(&mut pending, &mut out);
                        pending = Some((charset, bytes));
                    }
                }
                rest = cand.get(consumed..).unwrap_or_default();
                last_encoded = true;
            }
            None => {
                flush(&mut pending, &mut out);
                out.push_str(before);
                out.push_str("=?");
                rest = cand.get(2..).unwrap_or_default();
                last_encoded = false;
            }
        }
    }
    flush(&mut pending, &mut out);
    out.push_str(rest);
    out
}

/// Parse one encoded-word at the start of `s`: (charset lowercase, bytes, length consumed).
fn parse_encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let b = s.as_bytes();
    let body = b.get(2..)?;
    let q1 = body.iter().take(100).position(|&c| c == b'?')?;
    let charset_full = std::str::from_utf8(body.get(..q1)?).ok()?;
    let charset = charset_full.split('*').next()?.to_ascii_lowercase();
    if charset.is_empty()
        || !charset
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:+".contains(&c))
    {
        return None;
    }
    let enc = *body.get(q1 + 1)?;
    if *body.get(q1 + 2)? != b'?' {
        return None;
    }
    let text_start = q1 + 3;
    let text_region = body.get(text_start..)?;
    // The encoded text has no '?', space or control: stop at the first such
    // byte, which keeps the total work linear over many candidates.
    let end = text_region
        .iter()
        .take(MAX_ENCODED_WORD)
        .position(|&c| c == b'?' || c <= b' ' || c >= 0x7f)?;
    if text_region.get(end) != Some(&b'?') || text_region.get(end + 1) != Some(&b'=') {
        return None;
    }
    let encoded = text_region.get(..end)?;
    let bytes = match enc {
        b'B' | b'b' => {
            const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                    .with_decode_allow_trailing_bits(true),
            );
            ENGINE.decode(encoded).ok()?
        }
        b'Q' | b'q' => {
            let mut v = Vec::with_capacity(encoded.len());
            let mut i = 0;
            while let Some(&c) = encoded.get(i) {
                match c {
                    b'_' => v.push(b' '),
                    b'=' => {
                        let h = hex(*encoded.get(i + 1)?)?;
                        let l = hex(*encoded.get(i + 2)?)?;
                        v.push(h << 4 | l);
                        i += 2;
                    }
                    other => v.push(other),
                }
                i += 1;
            }
            v
        }
        _ => return None,
    };
    // Unknown charset: leave the word undecoded.
    decode_charset(&charset, b"")?;
    Some((charset, bytes, 2 + text_start + end + 2))
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Windows-1252 0x80..=0x9F (undefined positions map to the C1 control).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Decode bytes in a charset; `None` for an unknown charset.
fn decode_charset(charset: &str, bytes: &[u8]) -> Option<String> {
    match charset.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" => {
            Some(bytes.iter().map(|&b| char::from(b)).collect())
        }
        "iso-8859-15" | "iso8859-15" | "latin-9" | "latin9" => Some(
            bytes
                .iter()
                .map(|&b| match b {
                    0xA4 => '€',
                    0xA6 => 'Š',
                    0xA8 => 'š',
                    0xB4 => 'Ž',
                    0xB8 => 'ž',
                    0xBC => 'Œ',
                    0xBD => 'œ',
                    0xBE => 'Ÿ',
                    other => char::from(other),
                })
                .collect(),
        ),
        "windows-1252" | "cp1252" => Some(
            bytes
                .iter()
                .map(|&b| match b {
                    0x80..=0x9F => CP1252_HIGH
                        .get(usize::from(b - 0x80))
                        .copied()
                        .unwrap_or('\u{fffd}'),
                    other => char::from(other),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A parsed Content-Type (RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Top-level type, lowercase (e.g. `multipart`).
    pub mime_type: String,
    /// Subtype, lowercase (e.g. `signed`).
    pub subtype: String,
    /// Parameters in order: lowercase name, unquoted value with RFC 2231
    /// continuations joined and charset-decoded. A name given twice keeps
    /// its first value.
    pub params: Vec<(String, String)>,
}

impl Default for ContentType {
    /// `text/plain; charset=us-ascii` (RFC 2045 §5.2).
    fn default() -> Self {
        ContentType {
            mime_type: "text".into(),
            subtype: "plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
        }
    }
}

fn is_tspecial(b: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&b)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skip whitespace and (nested) comments.
    fn skip_cfws(&mut self) -> Result<(), MimeError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'(') => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek() {
                            None => return Err(MimeError::Malformed("unclosed comment".into())),
                            Some(b'\\') => self.i += 2,
                            Some(b'(') => {
                                depth += 1;
                                if depth > MAX_DEPTH {
                                    return Err(MimeError::TooDeep);
                                }
                                self.i += 1;
                            }
                            Some(b')') => {
                                self.i += 1;
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn token(&mut self) -> Option<&str> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b > b' ' && b < 0x7f && !is_tspecial(b) {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            None
        } else {
            std::str::from_utf8(self.s.get(start..self.i)?).ok()
        }
    }

    /// A parameter value: quoted-string, or (lenient) any run of bytes up
    /// to `;`, whitespace or `(` — real mail has unquoted `=` and `/` in
    /// boundaries and names.
    fn value(&mut self) -> Result<Vec<u8>, MimeError> {
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut v = Vec::new();
            loop {
                match self.peek() {
                    None => return Err(MimeError::Malformed("unterminated quoted string".into())),
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(v);
                    }
                    Some(b'\\') => {
                        let c = self.s.get(self.i + 1).copied().ok_or_else(|| {
                            MimeError::Malformed("unterminated quoted string".into())
                        })?;
                        v.push(c);
                        self.i += 2;
                    }
                    Some(c) => {
                        v.push(c);
                        self.i += 1;
                    }
                }
            }
        }
        let start = self.i;
        while let Some(b) = self.peek() {
            if b == b';' || b == b'(' || b == b'"' || b.is_ascii_whitespace() {
                break;
            }
            self.i += 1;
        }
        Ok(self.s.get(start..self.i).unwrap_or_default().to_vec())
    }
}

/// Highest RFC 2231 continuation index accepted.
const MAX_CONTINUATIONS: u32 = 999;

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Split `charset'lang'value` (RFC 2231 §4); missing quotes → no charset.
fn split_ext_value(v: &[u8]) -> (Option<String>, &[u8]) {
    let mut it = v.splitn(3, |&b| b == b'\'');
    match (it.next(), it.next(), it.next()) {
        (Some(cs), Some(_lang), Some(rest)) => {
            (Some(String::from_utf8_lossy(cs).to_ascii_lowercase()), rest)
        }
        _ => (None, v),
    }
}

impl ContentType {
    /// Parse an (unfolded) Content-Type value: `type/subtype *(; name=value)`.
    ///
    /// Names are case-insensitive (stored lowercase); values may be quoted
    /// (backslash escapes honoured) or not; comments are skipped; empty
    /// parameters and a trailing `;` are tolerated. RFC 2231 extended
    /// values (`name*=charset'lang'%XX`) and continuations (`name*0`,
    /// `name*1*`, …) are decoded and joined.
    pub fn parse(value: &str) -> Result<ContentType, MimeError> {
        let mut c = Cursor {
            s: value.as_bytes(),
            i: 0,
        };
        c.skip_cfws()?;
        let mime_type = c
            .token()
            .ok_or_else(|| MimeError::Malformed("Content-Type without type".into()))?
            .to_ascii_lowercase();
        c.skip_cfws()?;
        if c.peek() != Some(b'/') {
            return Err(MimeError::Malformed("Content-Type without '/'".into()));
        }
        c.i += 1;
        c.skip_cfws()?;
        let subtype = c
            .token()
            .ok_or_else(|| MimeError::Malformed("Content-Type without subtype".into()))?
            .to_ascii_lowercase();
        // Raw parameters: (name lowercase, value bytes).
        let mut raw: Vec<(String, Vec<u8>)> = Vec::new();
        loop {
            c.skip_cfws()?;
            match c.peek() {
                None => break,
                Some(b';') => c.i += 1,
                Some(other) => {
                    return Err(MimeError::Malformed(format!(
                        "Content-Type: unexpected {:?} where ';' was expected",
                        char::from(other)
                    )));
                }
            }
            c.skip_cfws()?;
            if c.peek().is_none() || c.peek() == Some(b';') {
                continue;
            }
            let name = c
                .token()
                .ok_or_else(|| MimeError::Malformed("Content-Type: bad parameter name".into()))?
                .to_ascii_lowercase();
            // `*` is not a tspecial, so RFC 2231 names come in whole.
            c.skip_cfws()?;
            if c.peek() != Some(b'=') {
                return Err(MimeError::Malformed(format!(
                    "Content-Type: parameter {name:?} without '='"
                )));
            }
            c.i += 1;
            c.skip_cfws()?;
            let v = c.value()?;
            if raw.len() >= super::MAX_PARTS {
                return Err(MimeError::Malformed(
                    "too many Content-Type parameters".into(),
                ));
            }
            raw.push((name, v));
        }
        Ok(ContentType {
            mime_type,
            subtype,
            params: join_rfc2231(raw),
        })
    }

    /// Value of a parameter (name case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `type/subtype`, lowercase.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.mime_type, self.subtype)
    }
}

/// Apply RFC 2231: decode `name*` values and join `name*N[*]` continuations.
fn join_rfc2231(raw: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    struct Seg {
        index: u32,
        extended: bool,
        value: Vec<u8>,
    }
    // base name → segments, in order of first appearance.
    let mut order: Vec<(String, Vec<Seg>, bool)> = Vec::new();
    for (name, value) in raw {
        let (base, seg) = match name.split_once('*') {
            None => (name, None),
            Some((base, suffix)) => {
                if suffix.is_empty() {
                    (base.to_owned(), Some((0u32, true, false)))
                } else {
                    let (num, ext) = match suffix.strip_suffix('*') {
                        Some(n) => (n, true),
                        None => (suffix, false),
                    };
                    match num.parse::<u32>() {
                        Ok(n) if n <= MAX_CONTINUATIONS && !num.starts_with('+') => {
                            (base.to_owned(), Some((n, ext, true)))
                        }
                        // Not an RFC 2231 name: keep it verbatim.
                        _ => (name, None),
                    }
                }
            }
        };
        let (index, extended, is_cont) = seg.unwrap_or((0, false, false));
        let entry = match order.iter_mut().find(|(n, _, _)| *n == base) {
            Some(e) => e,
            None => {
                order.push((base, Vec::new(), is_cont));
                match order.last_mut() {
                    Some(e) => e,
                    None => continue,
                }
            }
        };
        // A plain parameter seen first wins over a later one of the same name.
        if entry.1.iter().any(|s| s.index == index) {
            continue;
        }
        entry.1.push(Seg {
            index,
            extended,
            value,
        });
    }
    order
        .into_iter()
        .map(|(name, mut segs, _)| {
            segs.sort_by_key(|s| s.index);
            let mut charset: Option<String> = None;
            let mut bytes = Vec::new();
            let mut any_ext = false;
            for (i, s) in segs.iter().enumerate() {
                if s.extended {
                    any_ext = true;
                    let v: &[u8] = if i == 0 {
                        let (cs, rest) = split_ext_value(&s.value);
                        charset = cs;
                        rest
                    } else {
                        &s.value
                    };
                    bytes.extend_from_slice(&percent_decode(v));
                } else {
                    bytes.extend_from_slice(&s.value);
                }
            }
            let text = if any_ext {
                charset
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .and_then(|c| decode_charset(c, &bytes))
                    .unwrap_or_else(|| bytes_to_string(&bytes))
            } else {
                bytes_to_string(&bytes)
            };
            (name, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serialise() {
        let block = b"From: a@b\nSubject: hello\n world\r\nX-Empty:\nTo : c@d\n";
        let h = Headers::parse(block).unwrap();
        assert_eq!(h.fields.len(), 4);
        assert_eq!(h.fields[1].value, b" hello\n world");
        assert_eq!(h.get("subject").unwrap(), "hello world");
        assert_eq!(h.get_raw("SUBJECT").unwrap(), b" hello\n world");
        assert_eq!(h.get("x-empty").unwrap(), "");
        assert_eq!(h.get("to").unwrap(), "c@d");
        assert_eq!(
            h.to_bytes(),
            b"From: a@b\r\nSubject: hello\r\n world\r\nX-Empty:\r\nTo: c@d\r\n"
        );
        let again = Headers::parse(&h.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), h.to_bytes());
        assert_eq!(again.get("subject"), h.get("subject"));
        // No final line break, trailing blank line tolerated.
        assert_eq!(Headers::parse(b"A: 1").unwrap().get("a").unwrap(), "1");
        assert_eq!(Headers::parse(b"A: 1\r\n\r\n").unwrap().fields.len(), 1);
        assert_eq!(Headers::parse(b"").unwrap().fields.len(), 0);
    }

    #[test]
    fn parse_errors() {
        for bad in [
            &b" folded: first\n"[..],
            b"no colon here\n",
            b": empty name\n",
            b"bad name: x\n",
            b"A: 1\n\nB: 2\n",
        ] {
            assert!(
                matches!(Headers::parse(bad), Err(MimeError::Malformed(_))),
                "{bad:?}"
            );
        }
        let mut long = b"X: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_FIELD_LEN));
        assert_eq!(Headers::parse(&long), Err(MimeError::LineTooLong));
        let many = b"A: 1\n".repeat(MAX_FIELDS + 1);
        assert_eq!(Headers::parse(&many), Err(MimeError::TooManyFields));
    }

    #[test]
    fn get_all_set_remove() {
        let mut h = Headers::parse(b"Received: 1\nA: x\nReceived: 2\nreceived: 3\n").unwrap();
        assert_eq!(h.get_all("RECEIVED"), vec!["1", "2", "3"]);
        h.set("Received", "new\r\nInjected: yes");
        assert_eq!(h.get_all("received"), vec!["new  Injected: yes"]);
        assert_eq!(h.fields[0].name, "Received");
        assert!(h.get("injected").is_none());
        h.set("B", "y");
        assert_eq!(h.fields.last().unwrap().name, "B");
        h.append("B", "z");
        assert_eq!(h.get_all("b"), vec!["y", "z"]);
        h.remove("b");
        assert!(h.get("B").is_none());
        assert_eq!(h.to_bytes(), b"Received: new  Injected: yes\r\nA: x\r\n");
        let long = "word ".repeat(40);
        h.set("Long", &long);
        let bytes = h.to_bytes();
        assert!(bytes.split(|&b| b == b'\n').all(|l| l.len() <= 80));
        assert_eq!(h.get("long").unwrap(), long.trim());
    }

    #[test]
    fn rfc2047() {
        let h = Headers::parse(
            b"Subject: =?utf-8?B?Q29tcHRlLXJlbmR1IGQnYW5hbHlzZSDDqXTDqQ==?=\n\
              Sub2: =?ISO-8859-1?Q?Caf=E9_cr=E8me?= et =?iso-8859-15?q?=A4?=\n\
              Sub3: =?utf-8?q?a?=  \n =?utf-8?q?b?= c\n\
              Sub4: =?utf-8?B?w6k=?==?utf-8?B?w6k=?=\n\
              Sub5: =?unknown?Q?x?= =?utf-8?Q?bad=Z?= plain\n\
              Sub6: =?utf-8?B?w6==?= =?windows-1252?Q?=80=96?=\n\
              Sub7: =?UTF-8*fr?Q?d=C3=A9j=C3=A0?=\n",
        )
        .unwrap();
        assert_eq!(h.get("subject").unwrap(), "Compte-rendu d'analyse été");
        assert_eq!(h.get("sub2").unwrap(), "Café crème et €");
        assert_eq!(h.get("sub3").unwrap(), "ab c");
        assert_eq!(h.get("sub4").unwrap(), "éé");
        assert_eq!(
            h.get("sub5").unwrap(),
            "=?unknown?Q?x?= =?utf-8?Q?bad=Z?= plain"
        );
        assert_eq!(h.get("sub7").unwrap(), "déjà");
        // A UTF-8 character split over two words.
        assert_eq!(
            decode_rfc2047("=?utf-8?B?w6k=?= =?utf-8?Q?=C3?= =?utf-8?Q?=A9?="),
            "éé"
        );
        assert_eq!(h.get("sub6").unwrap().chars().last(), Some('–'));
        let mut h2 = Headers::default();
        let subject = "Résultats d'examens — patient n° 42, très urgent, à lire avant demain";
        h2.set_text("Subject", subject);
        assert!(h2.to_bytes().is_ascii());
        assert_eq!(h2.get("subject").unwrap(), subject);
        h2.set_text("Plain", "ascii only");
        assert_eq!(h2.get_raw("plain").unwrap(), b" ascii only");
    }

    #[test]
    fn content_type_basic() {
        let ct = ContentType::parse(
            "Multipart/Signed; Protocol=\"application/pkcs7-signature\"; micalg=SHA-256;\r\n boundary=\"----=_Part \\\"q\\\"\" (comment (nested))",
        )
        .unwrap();
        assert_eq!(ct.essence(), "multipart/signed");
        assert_eq!(ct.param("PROTOCOL"), Some("application/pkcs7-signature"));
        assert_eq!(ct.param("micalg"), Some("SHA-256"));
        assert_eq!(ct.param("boundary"), Some("----=_Part \"q\""));
        let ct = ContentType::parse("text/plain;charset=utf-8;").unwrap();
        assert_eq!(
            ct.params,
            vec![("charset".to_string(), "utf-8".to_string())]
        );
        let ct = ContentType::parse("multipart/mixed; boundary=----=_NextPart_000_0001").unwrap();
        assert_eq!(ct.param("boundary"), Some("----=_NextPart_000_0001"));
        let ct = ContentType::parse("text/plain; a=1; A=2").unwrap();
        assert_eq!(ct.param("a"), Some("1"));
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/plain x",
            "text/plain; a",
            "text/plain; a=\"x",
            "text/plain (x",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad:?}");
        }
        let h = Headers::parse(b"Content-Type: garbage\n").unwrap();
        assert_eq!(h.content_type(), ContentType::default());
        assert_eq!(
            Headers::default().content_type().param("charset"),
            Some("us-ascii")
        );
    }

    #[test]
    fn content_type_rfc2231() {
        let ct = ContentType::parse(
            "application/octet-stream; name*0*=utf-8''compte%20rendu%20; name*2=.pdf; name*1*=%C3%A9t%C3%A9",
        )
        .unwrap();
        assert_eq!(ct.param("name"), Some("compte rendu été.pdf"));
        let ct = ContentType::parse("text/plain; title*=iso-8859-1'fr'caf%E9; x*0=\"a b\"; x*1=c")
            .unwrap();
        assert_eq!(ct.param("title"), Some("café"));
        assert_eq!(ct.param("x"), Some("a bc"));
        let ct = ContentType::parse("text/plain; y*=''%41%4").unwrap();
        assert_eq!(ct.param("y"), Some("A%4"));
        let ct = ContentType::parse("text/plain; z*x=1").unwrap();
        assert_eq!(ct.param("z*x"), Some("1"));
    }
}
