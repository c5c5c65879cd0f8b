//! ESS signed receipts (RFC 2634 §2): the `receiptRequest` signed attribute, the
//! `Receipt` content (`id-ct-receipt`) and the `msgSigDigest` attribute binding a
//! receipt to the signature it acknowledges.
//!
//! Neither `cms` nor any other RustCrypto crate defines these types, so they are
//! written here in the RustCrypto style (types mirror the ASN.1 of RFC 2634 §5, module
//! `ExtendedSecurityServices`, IMPLICIT TAGS). Building and checking a receipt against
//! the original message is the facade's job (`mss::receipt`); this module only knows
//! the structures and the digest.

use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Choice, Decode, Encode, Sequence};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralNames;

use mss_algs::digest::DigestAlgorithm;

use crate::CmsError;
use crate::attributes;

/// `id-aa-receiptRequest` (RFC 2634 §2.7).
pub const ID_AA_RECEIPT_REQUEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.1");
/// `id-ct-receipt` (RFC 2634 §2.8): the eContentType of a signed receipt.
pub const ID_CT_RECEIPT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.1");
/// `id-aa-msgSigDigest` (RFC 2634 §2.12).
pub const ID_AA_MSG_SIG_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.5");
/// `id-aa-contentIdentifier` (RFC 2634 §2.9).
pub const ID_AA_CONTENT_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.7");

/// Upper bound of `receiptsTo` (RFC 2634 `ub-receiptsTo`).
pub const UB_RECEIPTS_TO: usize = 16;

/// ```text
/// ReceiptsFrom ::= CHOICE {
///   allOrFirstTier [0] AllOrFirstTier,
///   receiptList [1] SEQUENCE OF GeneralNames }
/// AllOrFirstTier ::= INTEGER { allReceipts (0), firstTierRecipients (1) }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum ReceiptsFrom {
    /// 0: every recipient; 1: first-tier recipients (not mailing-list members).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    AllOrFirstTier(i64),
    /// Only the recipients named here.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    ReceiptList(Vec<GeneralNames>),
}

/// ```text
/// ReceiptRequest ::= SEQUENCE {
///   signedContentIdentifier ContentIdentifier,   -- OCTET STRING
///   receiptsFrom ReceiptsFrom,
///   receiptsTo SEQUENCE SIZE (1..ub-receiptsTo) OF GeneralNames }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ReceiptRequest {
    /// Identifies the signed content; copied into the receipt.
    pub signed_content_identifier: OctetString,
    /// Who is asked for a receipt.
    pub receipts_from: ReceiptsFrom,
    /// Where receipts go.
    pub receipts_to: Vec<GeneralNames>,
}

/// ```text
/// Receipt ::= SEQUENCE {
///   version ESSVersion,            -- v1 (1)
///   contentType ContentType,
///   signedContentIdentifier ContentIdentifier,
///   originatorSignatureValue OCTET STRING }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Receipt {
    /// Always 1.
    pub version: u8,
    /// The eContentType of the original message.
    pub content_type: ObjectIdentifier,
    /// The original's `signedContentIdentifier`.
    pub signed_content_identifier: OctetString,
    /// The signature value of the original signer this receipt acknowledges.
    pub originator_signature_value: OctetString,
}

fn one_value_attr(oid: ObjectIdentifier, der: &[u8]) -> Result<Attribute, CmsError> {
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(der)?)
        .map_err(|e| CmsError::Encoding(e.to_string()))?;
    Ok(Attribute { oid, values })
}

impl ReceiptRequest {
    /// The signed attribute carrying this request.
    pub fn to_attribute(&self) -> Result<Attribute, CmsError> {
        one_value_attr(ID_AA_RECEIPT_REQUEST, &self.to_der()?)
    }

    /// The request among signed attributes, if any. Several requests, or one that does
    /// not decode or has no `receiptsTo`, are malformed.
    pub fn from_attributes(attrs: &[Attribute]) -> Result<Option<ReceiptRequest>, CmsError> {
        let Some(v) = attributes::single_value(attrs, ID_AA_RECEIPT_REQUEST)? else {
            return Ok(None);
        };
        let rr: ReceiptRequest = v
            .decode_as()
            .map_err(|e| CmsError::Malformed(format!("receiptRequest: {e}")))?;
        if rr.receipts_to.is_empty() || rr.receipts_to.len() > UB_RECEIPTS_TO {
            return Err(CmsError::Malformed(
                "receiptRequest: receiptsTo must name 1 to 16 destinations".into(),
            ));
        }
        Ok(Some(rr))
    }
}

/// The `msgSigDigest` of a signer (RFC 2634 §5.2): the digest, with the original
/// signer's digest algorithm, of the DER of its signed attributes (`SET OF`, as they
/// were signed).
pub fn msg_sig_digest(digest: DigestAlgorithm, signed_attrs_der: &[u8]) -> Vec<u8> {
    digest.digest(signed_attrs_der)
}

/// The `msgSigDigest` signed attribute.
pub fn msg_sig_digest_attribute(value: &[u8]) -> Result<Attribute, CmsError> {
    let os = OctetString::new(value.to_vec())?;
    one_value_attr(ID_AA_MSG_SIG_DIGEST, &os.to_der()?)
}

/// The `msgSigDigest` value among signed attributes, if present.
pub fn msg_sig_digest_of(attrs: &[Attribute]) -> Result<Option<Vec<u8>>, CmsError> {
    match attributes::single_value(attrs, ID_AA_MSG_SIG_DIGEST)? {
        None => Ok(None),
        Some(v) => {
            let os: OctetString = v
                .decode_as()
                .map_err(|e| CmsError::Malformed(format!("msgSigDigest: {e}")))?;
            Ok(Some(os.as_bytes().to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::Ia5String;
    use x509_cert::ext::pkix::name::GeneralName;

    fn names(addr: &str) -> GeneralNames {
        vec![GeneralName::Rfc822Name(Ia5String::new(addr).unwrap())]
    }

    #[test]
    fn receipt_request_round_trips_with_implicit_tags() {
        for from in [
            ReceiptsFrom::AllOrFirstTier(0),
            ReceiptsFrom::AllOrFirstTier(1),
            ReceiptsFrom::ReceiptList(vec![names("bob@example.test")]),
        ] {
            let rr = ReceiptRequest {
                signed_content_identifier: OctetString::new(vec![7u8; 32]).unwrap(),
                receipts_from: from.clone(),
                receipts_to: vec![names("alice@example.test")],
            };
            let der = rr.to_der().unwrap();
            // receiptsFrom is [0] IMPLICIT INTEGER (0x80) or [1] IMPLICIT SEQUENCE (0xa1).
            let expected_tag = match from {
                ReceiptsFrom::AllOrFirstTier(_) => 0x80,
                ReceiptsFrom::ReceiptList(_) => 0xa1,
            };
            assert_eq!(der[2 + 2 + 32], expected_tag, "{der:02x?}");
            let attr = rr.to_attribute().unwrap();
            let back = ReceiptRequest::from_attributes(&[attr]).unwrap().unwrap();
            assert_eq!(back, rr);
        }
    }

    #[test]
    fn a_request_without_destinations_is_malformed() {
        let rr = ReceiptRequest {
            signed_content_identifier: OctetString::new(vec![1u8]).unwrap(),
            receipts_from: ReceiptsFrom::AllOrFirstTier(0),
            receipts_to: vec![],
        };
        let attr = rr.to_attribute().unwrap();
        assert!(ReceiptRequest::from_attributes(&[attr]).is_err());
        assert_eq!(ReceiptRequest::from_attributes(&[]).unwrap(), None);
    }

    #[test]
    fn msg_sig_digest_attribute_round_trips() {
        let d = msg_sig_digest(DigestAlgorithm::Sha256, b"attrs");
        let a = msg_sig_digest_attribute(&d).unwrap();
        assert_eq!(msg_sig_digest_of(&[a]).unwrap(), Some(d));
    }
}
