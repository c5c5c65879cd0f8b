//! The outer `ContentInfo` (RFC 5652 §3): reading its type and content from BER input,
//! and wrapping built content.
//!
//! ```text
//! ContentInfo ::= SEQUENCE {
//!   contentType ContentType,
//!   content [0] EXPLICIT ANY DEFINED BY contentType }
//! ```

use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::ObjectIdentifier as Oid;

use crate::CmsError;
use crate::ber;

/// CMS content types mss handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentType {
    /// id-data.
    Data,
    /// id-signedData.
    SignedData,
    /// id-envelopedData.
    EnvelopedData,
    /// id-ct-authEnvelopedData.
    AuthEnvelopedData,
    /// Something else (the OID is kept).
    Other(ObjectIdentifier),
}

impl ContentType {
    /// Classify an OID.
    pub fn from_oid(oid: ObjectIdentifier) -> Self {
        use mss_algs::oid as o;
        if oid == o::ID_DATA {
            ContentType::Data
        } else if oid == o::ID_SIGNED_DATA {
            ContentType::SignedData
        } else if oid == o::ID_ENVELOPED_DATA {
            ContentType::EnvelopedData
        } else if oid == o::ID_CT_AUTH_ENVELOPED_DATA {
            ContentType::AuthEnvelopedData
        } else {
            ContentType::Other(oid)
        }
    }
}

/// A parsed `ContentInfo`: the type and the normalised (DER-shaped) content TLV.
#[derive(Debug, Clone)]
pub struct ContentInfo {
    /// The content type OID.
    pub content_type: ObjectIdentifier,
    /// The content's full TLV (e.g. the `SignedData` SEQUENCE), definite-length.
    pub content: Vec<u8>,
}

impl ContentInfo {
    /// Parse BER or DER input.
    pub fn from_ber(input: &[u8]) -> Result<Self, CmsError> {
        let norm = ber::normalize(input)?;
        let h = ber::read_header(&norm)?;
        if h.class != 0 || h.number != 16 || !h.constructed {
            return Err(CmsError::Malformed("ContentInfo is not a SEQUENCE".into()));
        }
        let len = h.length.unwrap_or(0);
        let body = &norm[h.header_len..h.header_len + len];
        let children = ber::split_tlvs(body)?;
        let [(oh, oid_tlv), (ch, explicit)] = children.as_slice() else {
            return Err(CmsError::Malformed(
                "ContentInfo must have two fields".into(),
            ));
        };
        if oh.class != 0 || oh.number != 6 {
            return Err(CmsError::Malformed(
                "ContentInfo.contentType is not an OID".into(),
            ));
        }
        let content_type = Oid::from_der(oid_tlv)?;
        if ch.class != 2 || ch.number != 0 || !ch.constructed {
            return Err(CmsError::Malformed(
                "ContentInfo.content is not [0] EXPLICIT".into(),
            ));
        }
        let inner = &explicit[ch.header_len..];
        let parts = ber::split_tlvs(inner)?;
        let [(_, content)] = parts.as_slice() else {
            return Err(CmsError::Malformed(
                "ContentInfo.content must hold one element".into(),
            ));
        };
        Ok(ContentInfo {
            content_type,
            content: content.to_vec(),
        })
    }

    /// The content type, classified.
    pub fn kind(&self) -> ContentType {
        ContentType::from_oid(self.content_type)
    }

    /// The payload of an `id-data` ContentInfo (RFC 5652 §4): the value of its
    /// `OCTET STRING`, whether it was sent primitive or BER-segmented (RFC 4134 §3.1,
    /// §3.2).
    ///
    /// Another content type, or a content that is not an `OCTET STRING`, is
    /// [`CmsError::Malformed`].
    pub fn data_content(&self) -> Result<Vec<u8>, CmsError> {
        if self.kind() != ContentType::Data {
            return Err(CmsError::Malformed(format!(
                "ContentInfo of type {} is not id-data",
                self.content_type
            )));
        }
        let h = ber::read_header(&self.content)?;
        if !h.is_octet_string() || h.constructed {
            return Err(CmsError::Malformed(
                "id-data content is not an OCTET STRING".into(),
            ));
        }
        let len = h
            .length
            .ok_or_else(|| CmsError::Malformed("id-data content has no length".into()))?;
        let end = h
            .header_len
            .checked_add(len)
            .filter(|e| *e == self.content.len());
        let end = end.ok_or_else(|| {
            CmsError::Malformed("id-data content length does not match its encoding".into())
        })?;
        Ok(self.content[h.header_len..end].to_vec())
    }

    /// Encode `ContentInfo { content_type, [0] content }` as DER.
    pub fn encode(content_type: ObjectIdentifier, content_tlv: &[u8]) -> Result<Vec<u8>, CmsError> {
        use der::Encode;
        let oid = content_type
            .to_der()
            .map_err(|e| CmsError::Encoding(e.to_string()))?;
        let explicit = ber::encode_tlv(2, true, 0, content_tlv);
        let mut body = oid;
        body.extend_from_slice(&explicit);
        Ok(ber::encode_tlv(0, true, 16, &body))
    }
}
