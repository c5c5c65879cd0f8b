//! MIME layer for S/MIME v3 (RFC 2045–2047, RFC 2231, RFC 1847, RFC 5751).
//!
//! This module owns everything between raw RFC 5322 message bytes and the
//! CMS layer: header parsing and serialisation, Content-Type parsing,
//! transfer encodings, canonicalisation to CRLF, splitting multipart bodies,
//! classifying an entity as `multipart/signed`, `application/pkcs7-mime` or
//! plain, and building the outgoing S/MIME entities.
//!
//! # Why this is hand-written
//!
//! The `mail-parser` crate (0.11 is the newest that builds here) was
//! considered and rejected: S/MIME verification needs the *exact* bytes of
//! the first body part of a `multipart/signed` entity (RFC 1847 §2.1, RFC 5751
//! §3.5.3) and of each header field, while `mail-parser` is deliberately
//! lenient (it repairs broken input, decodes eagerly, and has no configurable
//! caps on nesting, part count or header size), pulls in a large dependency
//! tree that is not in our lock file, and offers no serialiser for the
//! outgoing direction. What we need is small: a strict, bounded, byte-exact
//! parser and a few builders, which is what this module implements with only
//! `std`, `base64` and `thiserror`.
//!
//! # Caps (bounded work on hostile input)
//!
//! | what | cap | error |
//! | --- | --- | --- |
//! | one header field (name + raw value with folding) | [`MAX_FIELD_LEN`] = 1 MiB | [`MimeError::LineTooLong`] |
//! | number of header fields in one block | [`MAX_FIELDS`] = 10 000 | [`MimeError::TooManyFields`] |
//! | body parts in one multipart | [`MAX_PARTS`] = 1 000 | [`MimeError::TooManyParts`] |
//! | nesting depth where this module recurses | [`MAX_DEPTH`] = 32 | [`MimeError::TooDeep`] |
//! | boundary length | [`MAX_BOUNDARY_LEN`] = 200 (RFC 2046 says 70; we are lenient on input, emit 40) | [`MimeError::MissingBoundary`] |
//!
//! Body lines are not capped in length on input (a base64 body on one line
//! is common); the work done is linear in the input size.
//!
//! # Line endings
//!
//! Input may use CRLF or bare LF (files stored on Unix). All output of this
//! module uses CRLF. See [`canonicalize`] and [`SmimeEntity::MultipartSigned`]
//! for how bare-LF input is mapped to the canonical form that was signed.

pub(crate) mod encoding;
pub mod header_protection;
mod headers;
mod multipart;
pub(crate) mod smime;

#[cfg(test)]
mod tests;

pub use encoding::{
    canonicalize, decode_transfer_encoding, encode_base64_lines, encode_quoted_printable,
};
pub use headers::{ContentType, HeaderField, Headers, decode_rfc2047};
pub use multipart::{Delim, delimiter_kind, split_header_body, split_multipart};
pub use smime::{
    SmimeEntity, build_multipart_signed, build_pkcs7_mime, classify, is_pkcs7_entity,
    is_signature_part, merge_outer_headers, smime_signed_protocol, split_draft,
};

/// Maximum size in bytes of one header field (name, colon and raw value with
/// its folding line breaks).
pub const MAX_FIELD_LEN: usize = 1024 * 1024;
/// Maximum number of header fields in one header block.
pub const MAX_FIELDS: usize = 10_000;
/// Maximum number of body parts accepted in one multipart body.
pub const MAX_PARTS: usize = 1_000;
/// Maximum nesting depth for the recursive walks of this module.
pub const MAX_DEPTH: usize = 32;
/// Maximum accepted boundary length (RFC 2046 allows 70; we accept more on
/// input for interoperability).
pub const MAX_BOUNDARY_LEN: usize = 200;

/// Errors of the MIME layer. Bad input always yields one of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// The input does not follow the MIME/RFC 5322 syntax; the text says where.
    #[error("malformed MIME: {0}")]
    Malformed(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("MIME structure nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// More than [`MAX_PARTS`] body parts in one multipart.
    #[error("more than {MAX_PARTS} body parts in a multipart")]
    TooManyParts,
    /// More than [`MAX_FIELDS`] fields in one header block.
    #[error("more than {MAX_FIELDS} header fields")]
    TooManyFields,
    /// One header field longer than [`MAX_FIELD_LEN`].
    #[error("header field longer than {MAX_FIELD_LEN} bytes")]
    LineTooLong,
    /// The body does not decode under its Content-Transfer-Encoding.
    #[error("bad Content-Transfer-Encoding: {0}")]
    BadTransferEncoding(String),
    /// A multipart entity has no usable `boundary` parameter.
    #[error("multipart entity without a valid boundary parameter")]
    MissingBoundary,
    /// A multipart/signed entity lacks its signature part (or has extra parts).
    #[error("multipart/signed: {0}")]
    BadSignedStructure(String),
}
