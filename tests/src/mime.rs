//! Just enough MIME to move CMS objects between S/MIME messages and raw DER/BER.
//!
//! mss reads and writes S/MIME (`application/pkcs7-mime`, `multipart/signed`);
//! `cmsutil` reads and writes bare CMS. These helpers wrap and unwrap, nothing more:
//! they are test tooling, not a MIME implementation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A parsed MIME entity: its header fields (unfolded) and its raw body.
#[derive(Debug, Clone)]
pub struct Entity {
    /// Header fields, in order, names as written.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// Split `msg` into header fields and body (at the first empty line, CRLF or LF).
pub fn parse(msg: &[u8]) -> Entity {
    let (head, body) = split_head(msg);
    let text = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Entity {
        headers,
        body: body.to_vec(),
    }
}

fn split_head(msg: &[u8]) -> (&[u8], &[u8]) {
    // The header ends at the first empty line; a message may start with it.
    if msg.starts_with(b"\r\n") {
        return (&[], &msg[2..]);
    }
    if msg.starts_with(b"\n") {
        return (&[], &msg[1..]);
    }
    let crlf = crate::find(msg, b"\r\n\r\n").map(|i| (i + 2, i + 4));
    let lf = crate::find(msg, b"\n\n").map(|i| (i + 1, i + 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((h, b)) => (&msg[..h], &msg[b..]),
        None => (msg, &[]),
    }
}

impl Entity {
    /// The value of the first header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type, lower-cased (`text/plain` when absent, as RFC 2045 says).
    pub fn mime_type(&self) -> String {
        self.header("Content-Type")
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_else(|| "text/plain".to_string())
    }

    /// A Content-Type parameter (`boundary`, `smime-type`, `protocol`, …), unquoted.
    pub fn param(&self, name: &str) -> Option<String> {
        let ct = self.header("Content-Type")?;
        for p in ct.split(';').skip(1) {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case(name)
            {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
        None
    }

    /// The body decoded from base64 (whitespace ignored).
    pub fn base64_body(&self) -> Vec<u8> {
        let clean: Vec<u8> = self
            .body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        STANDARD
            .decode(&clean)
            .unwrap_or_else(|e| panic!("body is not base64: {e}"))
    }

    /// The body with its Content-Transfer-Encoding undone (base64, quoted-printable;
    /// identity for 7bit, 8bit, binary or none).
    pub fn decoded_body(&self) -> Vec<u8> {
        let cte = self
            .header("Content-Transfer-Encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match cte.as_str() {
            "base64" => self.base64_body(),
            "quoted-printable" => decode_quoted_printable(&self.body),
            _ => self.body.clone(),
        }
    }

    /// The raw parts of a multipart body (RFC 2046 §5.1.1: the CRLF before a
    /// delimiter belongs to the delimiter).
    pub fn parts(&self) -> Vec<Vec<u8>> {
        let boundary = self
            .param("boundary")
            .unwrap_or_else(|| panic!("not a multipart entity: {:?}", self.header("Content-Type")));
        let delim = format!("--{boundary}").into_bytes();
        let body = &self.body;
        // Positions of delimiter lines (at the start of the body or after a LF).
        let mut starts = Vec::new();
        let mut i = 0;
        while let Some(off) = crate::find(&body[i..], &delim) {
            let at = i + off;
            if at == 0 || body[at - 1] == b'\n' {
                starts.push(at);
            }
            i = at + delim.len();
        }
        let mut parts = Vec::new();
        for w in starts.windows(2) {
            let (a, b) = (w[0], w[1]);
            // Skip the delimiter line itself.
            let line_end = crate::find(&body[a..], b"\n")
                .map(|x| a + x + 1)
                .unwrap_or(b);
            let mut end = b;
            if end > line_end && body[end - 1] == b'\n' {
                end -= 1;
                if end > line_end && body[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            parts.push(body[line_end..end].to_vec());
        }
        parts
    }
}

/// The CMS object (DER/BER bytes) carried by an S/MIME message: the base64 body of an
/// `application/pkcs7-mime` message, or the signature part of a `multipart/signed`.
pub fn cms_of(msg: &[u8]) -> Vec<u8> {
    let e = parse(msg);
    match e.mime_type().as_str() {
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => e.base64_body(),
        "multipart/signed" => {
            let parts = e.parts();
            assert_eq!(parts.len(), 2, "multipart/signed must have two parts");
            parse(&parts[1]).base64_body()
        }
        other => panic!("not an S/MIME message: Content-Type {other}"),
    }
}

/// The signed MIME entity (first part, byte for byte) of a `multipart/signed` message.
pub fn signed_part(msg: &[u8]) -> Vec<u8> {
    let e = parse(msg);
    assert_eq!(
        e.mime_type(),
        "multipart/signed",
        "not a multipart/signed message"
    );
    let parts = e.parts();
    assert_eq!(parts.len(), 2, "multipart/signed must have two parts");
    parts[0].clone()
}

fn base64_lines(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 38);
    for chunk in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// Wrap a CMS object as an `application/pkcs7-mime` message (`smime_type`:
/// `signed-data`, `enveloped-data`, `authEnveloped-data`).
pub fn pkcs7_mime(der: &[u8], smime_type: &str) -> Vec<u8> {
    format!(
        "MIME-Version: 1.0\r\n\
         Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\
         \r\n{}",
        base64_lines(der)
    )
    .into_bytes()
}

/// Build a `multipart/signed` message from the signed entity and a detached
/// SignedData (`micalg`: `sha-256`, …).
pub fn multipart_signed(content: &[u8], signature_der: &[u8], micalg: &str) -> Vec<u8> {
    let boundary = "----mss-tests-boundary-7f3a9c";
    let mut m = format!(
        "MIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; \
         micalg={micalg}; boundary=\"{boundary}\"\r\n\
         \r\n\
         This is an S/MIME signed message\r\n\
         \r\n--{boundary}\r\n"
    )
    .into_bytes();
    m.extend_from_slice(content);
    m.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\n\
             Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
             \r\n{}\r\n--{boundary}--\r\n",
            base64_lines(signature_der)
        )
        .as_bytes(),
    );
    m
}

/// Replace the signature of a `multipart/signed` message, keeping its signed part.
pub fn with_signature(msg: &[u8], signature_der: &[u8]) -> Vec<u8> {
    let e = parse(msg);
    let micalg = e.param("micalg").unwrap_or_else(|| "sha-256".to_string());
    multipart_signed(&signed_part(msg), signature_der, &micalg)
}

/// Replace the signed part of a `multipart/signed` message, keeping its signature.
pub fn with_signed_part(msg: &[u8], content: &[u8]) -> Vec<u8> {
    let e = parse(msg);
    let micalg = e.param("micalg").unwrap_or_else(|| "sha-256".to_string());
    multipart_signed(content, &cms_of(msg), &micalg)
}

/// Decode quoted-printable (RFC 2045 §6.7): `=XX` escapes and soft line breaks.
pub fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'=' {
            out.push(c);
            i += 1;
            continue;
        }
        // Soft line break: '=' then optional trailing blanks then CRLF or LF.
        let mut j = i + 1;
        while j < body.len() && (body[j] == b' ' || body[j] == b'\t') {
            j += 1;
        }
        if body.get(j) == Some(&b'\r') && body.get(j + 1) == Some(&b'\n') {
            i = j + 2;
            continue;
        }
        if body.get(j) == Some(&b'\n') || j == body.len() {
            i = j + 1;
            continue;
        }
        match (
            body.get(i + 1).and_then(|&c| hex(c)),
            body.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => panic!("invalid quoted-printable escape at byte {i}"),
        }
    }
    out
}
