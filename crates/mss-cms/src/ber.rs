//! BER input: a bounded tag-length-value reader and a BER → DER-shaped normaliser.
//!
//! Mail clients (Outlook, Apple Mail, NSS/Thunderbird) emit CMS in BER: indefinite
//! lengths and constructed (segmented) OCTET STRINGs. The `der` crate's BER mode covers
//! only part of that (it rejects, for instance, an indefinite length nested in an `ANY`
//! field decoded later, which is how `cms`'s `ContentInfo` carries its content), so this
//! module is written by hand: it rewrites any BER encoding into definite lengths with
//! primitive strings, after which the RustCrypto `cms` / `x509-cert` types decode it as
//! DER. It is also the seed of the streaming reader.
//!
//! The one place where BER cannot be normalised without the schema is an IMPLICIT tag on
//! a constructed string. CMS has one such field: `EncryptedContentInfo.encryptedContent
//! [0] IMPLICIT OCTET STRING`. It is recognised by its position (a `[0]` after an OID
//! and an `AlgorithmIdentifier` in a SEQUENCE, holding only OCTET STRING segments).
//!
//! Limits: nesting depth [`MAX_DEPTH`]; lengths are checked against the input before
//! any allocation, so a hostile length cannot reserve memory.

use crate::CmsError;

/// Maximum nesting depth accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed identifier + length header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The identifier octet(s) as a (class+constructed bits, tag number) pair: `class` is
    /// the top two bits of the first octet (0 universal, 1 application, 2 context, 3 private).
    pub class: u8,
    /// True when the constructed bit is set.
    pub constructed: bool,
    /// The tag number.
    pub number: u32,
    /// `None` for the indefinite form.
    pub length: Option<usize>,
    /// Size of the header in bytes.
    pub header_len: usize,
}

impl Header {
    /// True for a universal OCTET STRING (primitive or constructed).
    pub fn is_octet_string(&self) -> bool {
        self.class == 0 && self.number == 4
    }
    fn is_end_of_contents(&self) -> bool {
        self.class == 0 && self.number == 0 && !self.constructed
    }
}

fn malformed(what: &str) -> CmsError {
    CmsError::Malformed(format!("BER: {what}"))
}

/// Read the header at the start of `input`.
pub fn read_header(input: &[u8]) -> Result<Header, CmsError> {
    let first = *input
        .first()
        .ok_or_else(|| malformed("truncated identifier"))?;
    let class = first >> 6;
    let constructed = first & 0x20 != 0;
    let mut pos = 1;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        loop {
            let b = *input
                .get(pos)
                .ok_or_else(|| malformed("truncated tag number"))?;
            pos += 1;
            if number > (u32::MAX >> 7) {
                return Err(malformed("tag number too large"));
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l0 = *input
        .get(pos)
        .ok_or_else(|| malformed("truncated length"))?;
    pos += 1;
    let length = if l0 < 0x80 {
        Some(usize::from(l0))
    } else if l0 == 0x80 {
        if !constructed {
            return Err(malformed("indefinite length on a primitive element"));
        }
        None
    } else {
        let n = usize::from(l0 & 0x7f);
        if n > std::mem::size_of::<usize>() || n > 8 {
            return Err(malformed("length too large"));
        }
        let mut len: usize = 0;
        for _ in 0..n {
            let b = *input
                .get(pos)
                .ok_or_else(|| malformed("truncated length"))?;
            pos += 1;
            len = len
                .checked_mul(256)
                .ok_or_else(|| malformed("length overflow"))?
                | usize::from(b);
        }
        Some(len)
    };
    if let Some(len) = length
        && len > input.len().saturating_sub(pos)
    {
        return Err(malformed("length runs past the end of the input"));
    }
    Ok(Header {
        class,
        constructed,
        number,
        length,
        header_len: pos,
    })
}

/// A decoded element: header, and its normalised (definite, DER-shaped) children or value.
struct Element {
    header: Header,
    /// Normalised value bytes (for constructed: concatenated normalised children).
    value: Vec<u8>,
    /// Bytes consumed from the input, header included.
    consumed: usize,
}

fn encode_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn encode_identifier(out: &mut Vec<u8>, class: u8, constructed: bool, number: u32) {
    let first = (class << 6) | if constructed { 0x20 } else { 0 };
    if number < 0x1f {
        out.push(first | number as u8);
    } else {
        out.push(first | 0x1f);
        let mut groups = Vec::new();
        let mut n = number;
        loop {
            groups.push((n & 0x7f) as u8);
            n >>= 7;
            if n == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
        }
    }
}

/// Encode a TLV with the given identifier and value.
pub fn encode_tlv(class: u8, constructed: bool, number: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    encode_identifier(&mut out, class, constructed, number);
    encode_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Universal string types whose constructed form is a concatenation of segments.
fn is_universal_string_type(number: u32) -> bool {
    matches!(
        number,
        3 | 4 | 12 | 18 | 19 | 20 | 21 | 22 | 25 | 26 | 27 | 28 | 30
    )
}

/// Append the normalised TLV `(h, value)` to `out`.
fn write_tlv(out: &mut Vec<u8>, h: &Header, value: &[u8]) {
    encode_identifier(out, h.class, h.constructed, h.number);
    encode_length(out, value.len());
    out.extend_from_slice(value);
}

/// Is the third child `c` of a SEQUENCE whose first two children are `first` the
/// `[0] IMPLICIT OCTET STRING` of an `EncryptedContentInfo` sent constructed?
fn is_implicit_octets(first: &[Option<Header>; 2], c: &Header) -> bool {
    let oid_then_seq = matches!(
        first,
        [Some(a), Some(b)] if a.class == 0 && a.number == 6 && b.class == 0 && b.number == 16
    );
    oid_then_seq && c.class == 2 && c.number == 0 && c.constructed
}

/// Parse one element and return it normalised.
///
/// Children are written into the parent's value as soon as they are parsed, so that
/// the work and memory are linear in the input: each nesting level copies the content
/// once, and no per-child bookkeeping is kept (a flood of tiny segments costs no more
/// than their bytes).
fn parse_element(input: &[u8], depth: usize) -> Result<Element, CmsError> {
    if depth > MAX_DEPTH {
        return Err(CmsError::Malformed("BER: nesting too deep".into()));
    }
    let header = read_header(input)?;
    let body = &input[header.header_len..];
    if !header.constructed {
        let len = header
            .length
            .ok_or_else(|| malformed("indefinite primitive"))?;
        let value = body
            .get(..len)
            .ok_or_else(|| malformed("truncated value"))?
            .to_vec();
        return Ok(Element {
            header,
            value,
            consumed: header.header_len + len,
        });
    }
    // Constructed: parse children.
    let (region, definite) = match header.length {
        Some(len) => (
            body.get(..len)
                .ok_or_else(|| malformed("truncated value"))?,
            true,
        ),
        None => (body, false),
    };
    // A constructed universal string is the concatenation of its segments, emitted
    // primitive; a SEQUENCE may hold EncryptedContentInfo's [0] IMPLICIT OCTET STRING.
    let is_string = header.class == 0 && is_universal_string_type(header.number);
    let is_sequence = header.class == 0 && header.number == 16;
    let mut value = Vec::new();
    let mut first: [Option<Header>; 2] = [None, None];
    let mut index = 0usize;
    let mut pos = 0;
    let mut terminated = definite;
    while pos < region.len() {
        let rest = &region[pos..];
        let h = read_header(rest)?;
        if h.is_end_of_contents() {
            if definite {
                return Err(malformed("end-of-contents inside a definite length"));
            }
            if h.length != Some(0) {
                return Err(malformed("end-of-contents with a non-zero length"));
            }
            pos += h.header_len;
            terminated = true;
            break;
        }
        let child = parse_element(rest, depth + 1)?;
        pos += child.consumed;
        let ch = child.header;
        if is_string {
            if ch.class != 0 || ch.number != header.number {
                return Err(malformed("constructed string with a foreign segment"));
            }
            value.extend_from_slice(&child.value);
        } else if is_sequence && index == 2 && is_implicit_octets(&first, &ch) {
            // The normalised children of the [0] are OCTET STRING TLVs: concatenate.
            let segs = split_children(&child.value)?;
            if segs.iter().all(|(sh, _)| sh.is_octet_string()) {
                let merged_len: usize = segs.iter().map(|(_, v)| v.len()).sum();
                encode_identifier(&mut value, 2, false, 0);
                encode_length(&mut value, merged_len);
                for (_, v) in segs {
                    value.extend_from_slice(v);
                }
            } else {
                write_tlv(&mut value, &ch, &child.value);
            }
        } else {
            write_tlv(&mut value, &ch, &child.value);
        }
        if let Some(slot) = first.get_mut(index) {
            *slot = Some(ch);
        }
        index += 1;
    }
    if !terminated {
        return Err(malformed("missing end-of-contents"));
    }
    let consumed = header.header_len + pos;
    let mut header = header;
    if is_string {
        header.constructed = false;
    }
    Ok(Element {
        header,
        value,
        consumed,
    })
}

/// Split normalised (definite) content into its child TLVs: `(header, value)`.
pub fn split_children(content: &[u8]) -> Result<Vec<(Header, &[u8])>, CmsError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let rest = &content[pos..];
        let h = read_header(rest)?;
        let len = h
            .length
            .ok_or_else(|| malformed("indefinite length in normalised data"))?;
        let v = &rest[h.header_len..h.header_len + len];
        out.push((h, v));
        pos += h.header_len + len;
    }
    Ok(out)
}

/// Split normalised content into its child TLVs, each as its full encoding.
pub fn split_tlvs(content: &[u8]) -> Result<Vec<(Header, &[u8])>, CmsError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let rest = &content[pos..];
        let h = read_header(rest)?;
        let len = h
            .length
            .ok_or_else(|| malformed("indefinite length in normalised data"))?;
        out.push((h, &rest[..h.header_len + len]));
        pos += h.header_len + len;
    }
    Ok(out)
}

/// Normalise one BER element at the start of `input` to definite lengths and primitive
/// strings. Trailing bytes after the element are refused.
pub fn normalize(input: &[u8]) -> Result<Vec<u8>, CmsError> {
    let e = parse_element(input, 0)?;
    if input[e.consumed..].iter().any(|b| *b != 0) {
        return Err(malformed("trailing data after the element"));
    }
    Ok(encode_tlv(
        e.header.class,
        e.header.constructed,
        e.header.number,
        &e.value,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_sequence_and_segmented_octets() {
        // SEQUENCE (indef) { OCTET STRING (constructed, indef) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x00,
            0x00,
        ];
        let der = normalize(&ber).unwrap();
        assert_eq!(der, vec![0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c']);
    }

    #[test]
    fn encrypted_content_implicit_octets_merged() {
        // SEQUENCE { OID 1.2, SEQUENCE {}, [0] constructed { 04 01 'x', 04 01 'y' } }
        let ber = [
            0x30, 0x80, 0x06, 0x01, 0x2a, 0x30, 0x00, 0xa0, 0x80, 0x04, 0x01, b'x', 0x04, 0x01,
            b'y', 0x00, 0x00, 0x00, 0x00,
        ];
        let der = normalize(&ber).unwrap();
        assert_eq!(
            der,
            vec![
                0x30, 0x09, 0x06, 0x01, 0x2a, 0x30, 0x00, 0x80, 0x02, b'x', b'y'
            ]
        );
    }

    #[test]
    fn explicit_context_tag_kept() {
        // SEQUENCE { OID, [0] { OCTET STRING (constructed) { 'x' } } } — eContent: keep [0].
        let ber = [
            0x30, 0x80, 0x06, 0x01, 0x2a, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x01, b'x', 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        let der = normalize(&ber).unwrap();
        assert_eq!(
            der,
            vec![0x30, 0x08, 0x06, 0x01, 0x2a, 0xa0, 0x03, 0x04, 0x01, b'x']
        );
    }

    #[test]
    fn hostile_inputs_are_errors() {
        assert!(normalize(&[]).is_err());
        assert!(normalize(&[0x30]).is_err());
        assert!(normalize(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(normalize(&[0x30, 0x80, 0x04, 0x00]).is_err()); // no end-of-contents
        assert!(normalize(&[0x04, 0x80, 0x00, 0x00]).is_err()); // indefinite primitive
        let mut deep = [0x30, 0x80].repeat(200);
        deep.extend(vec![0u8; 400]);
        assert!(normalize(&deep).is_err());
        // truncated at every byte
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x00, 0x00, 0x00, 0x00,
        ];
        for i in 0..ber.len() {
            assert!(normalize(&ber[..i]).is_err(), "prefix {i}");
        }
    }

    #[test]
    fn long_tags_and_lengths() {
        let value = vec![7u8; 300];
        let tlv = encode_tlv(2, false, 40, &value);
        let der = normalize(&tlv).unwrap();
        assert_eq!(der, tlv);
        let h = read_header(&tlv).unwrap();
        assert_eq!((h.class, h.number, h.length), (2, 40, Some(300)));
    }
}
