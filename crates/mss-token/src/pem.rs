//! A lenient PEM splitter for key-and-certificate bundles.
//!
//! Why hand-written: `der`'s PEM decoder (`pem-rfc7468`) implements RFC 7468's
//! *strict* grammar for a single document, whereas the bundles people have are lax:
//! several blocks in one file, explanatory text between them (`Bag Attributes`
//! lines from `openssl pkcs12 -nodes`), CRLF line ends, other line widths, and
//! RFC 1421 headers. This module finds each `-----BEGIN X-----` … `-----END X-----`
//! block and decodes its Base64 body; interpretation is left to the caller.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::TokenError;

/// One decoded PEM block.
pub(crate) struct PemBlock {
    /// The label, e.g. `CERTIFICATE`.
    pub(crate) label: String,
    /// The decoded body.
    pub(crate) der: Zeroizing<Vec<u8>>,
    /// Whether RFC 1421 headers announced encryption (`Proc-Type: 4,ENCRYPTED`).
    pub(crate) legacy_encrypted: bool,
}

/// Whether `data` looks like PEM text (a BEGIN line somewhere near the start).
pub(crate) fn looks_like_pem(data: &[u8]) -> bool {
    let head = &data[..data.len().min(64 * 1024)];
    head.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Split `text` into PEM blocks.
pub(crate) fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, TokenError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut legacy_encrypted = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.starts_with("-----") {
                return Err(TokenError::Malformed(format!(
                    "PEM block {label}: unexpected {line}"
                )));
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED") {
                    legacy_encrypted = true;
                }
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(TokenError::Malformed(format!(
                "PEM block {label} has no END line"
            )));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| TokenError::Malformed(format!("PEM block {label}: {e}")))?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der: Zeroizing::new(der),
            legacy_encrypted,
        });
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks_with_text_and_crlf() {
        let text = "Bag Attributes\r\n    friendlyName: x\r\n-----BEGIN FOO-----\r\nAAEC\r\nAw==\r\n-----END FOO-----\r\njunk\n-----BEGIN BAR-----\nBAU=\n-----END BAR-----\n";
        let blocks = parse_blocks(text).expect("parse");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "FOO");
        assert_eq!(&blocks[0].der[..], &[0, 1, 2, 3]);
        assert_eq!(blocks[1].label, "BAR");
        assert_eq!(&blocks[1].der[..], &[4, 5]);
        assert!(looks_like_pem(text.as_bytes()));
        assert!(!looks_like_pem(&[0x30, 0x82, 0x01]));
    }

    #[test]
    fn unterminated_or_bad_base64_is_malformed() {
        assert!(matches!(
            parse_blocks("-----BEGIN X-----\nAAAA\n"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_blocks("-----BEGIN X-----\n!!!\n-----END X-----\n"),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn legacy_encryption_header_is_flagged() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let blocks = parse_blocks(text).expect("parse");
        assert!(blocks[0].legacy_encrypted);
    }
}
