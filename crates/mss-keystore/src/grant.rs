//! Signed statements: the holder's grant and the delegate's acceptance.
//!
//! A statement is canonical JSON (fields in a fixed order, no spaces: `serde_json` on
//! a struct) in an opaque CMS SignedData made by `mss-cms`, signed with the signature
//! key of the card (or software identity) that makes it. Verification re-reads the
//! signed bytes, never the copy of the fields kept in the database.

use base64::Engine;
use der::{Decode, Encode};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_algs::oid;
use mss_algs::policy::StandardPolicy;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::signed::{self, SignParams, SignerSpec};
use x509_cert::Certificate;

use crate::KeystoreError;

/// What a grant says. Canonical JSON of this struct is what the holder signs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct GrantPayload {
    /// `mss-keystore grant v1`.
    pub purpose: String,
    /// The store, hex.
    pub store: String,
    /// The delegate's decryption-capable certificate, base64 DER.
    pub delegate_cert: String,
    /// Start (seconds since the epoch).
    pub not_before: i64,
    /// End (seconds since the epoch).
    pub not_after: i64,
    /// When the grant was made.
    pub issued: i64,
    /// A random nonce, hex (two grants never sign the same bytes).
    pub nonce: String,
}

/// What an acceptance says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct AcceptPayload {
    /// `mss-keystore accept v1`.
    pub purpose: String,
    /// The store, hex.
    pub store: String,
    /// SHA-256 of the signed grant accepted, hex.
    pub grant: String,
    /// When.
    pub accepted: i64,
}

pub(crate) const GRANT_PURPOSE: &str = "mss-keystore grant v1";
pub(crate) const ACCEPT_PURPOSE: &str = "mss-keystore accept v1";

impl GrantPayload {
    /// The delegate certificate the grant names.
    pub fn delegate(&self) -> Result<Certificate, KeystoreError> {
        let der = base64::engine::general_purpose::STANDARD
            .decode(&self.delegate_cert)
            .map_err(|_| {
                KeystoreError::InvalidGrant("the delegate certificate is not base64".into())
            })?;
        Certificate::from_der(&der)
            .map_err(|e| KeystoreError::InvalidGrant(format!("the delegate certificate: {e}")))
    }

    /// Encode a certificate for [`GrantPayload::delegate_cert`].
    pub fn encode_cert(cert: &Certificate) -> Result<String, KeystoreError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(cert.to_der()?))
    }
}

fn algorithm_for(key: &dyn SigningKey) -> SignatureAlgorithm {
    let key_oid = key
        .certificate()
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .oid;
    if key_oid == oid::ID_EC_PUBLIC_KEY {
        SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256)
    } else if key_oid == oid::ID_ED25519 {
        SignatureAlgorithm::ed25519()
    } else if key_oid == oid::ID_DSA {
        SignatureAlgorithm::dsa(DigestAlgorithm::Sha256)
    } else {
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256)
    }
}

/// Sign `payload` (serialised canonically) with `key`: a DER ContentInfo.
pub(crate) fn sign<T: serde::Serialize>(
    payload: &T,
    key: &dyn SigningKey,
) -> Result<Vec<u8>, KeystoreError> {
    let json = serde_json::to_vec(payload)
        .map_err(|e| KeystoreError::Invalid(format!("encoding a statement: {e}")))?;
    let spec = SignerSpec {
        key,
        algorithm: algorithm_for(key),
        identify_by_ski: false,
    };
    Ok(signed::sign(
        &json,
        &[spec],
        &SignParams {
            detached: false,
            signing_time: None,
        },
        &StandardPolicy,
    )?)
}

/// Verify that `signed_der` is a statement signed by `signer` (exactly one valid
/// signature, made with that very certificate) and return its payload.
pub(crate) fn verify<T: serde::de::DeserializeOwned>(
    signed_der: &[u8],
    signer: &Certificate,
) -> Result<T, KeystoreError> {
    let bad = |why: &str| KeystoreError::InvalidGrant(why.to_owned());
    let ci = ContentInfo::from_ber(signed_der).map_err(|e| bad(&format!("not CMS: {e}")))?;
    if ci.kind() != ContentType::SignedData {
        return Err(bad("not a SignedData"));
    }
    let sd = signed::parse(&ci.content).map_err(|e| bad(&format!("malformed: {e}")))?;
    let results = signed::verify(&sd, None, std::slice::from_ref(signer), &StandardPolicy);
    let signer_der = signer.to_der()?;
    let [result] = results.as_slice() else {
        return Err(bad("it must carry exactly one signature"));
    };
    if let Err(e) = &result.outcome {
        return Err(bad(&format!("the signature does not verify: {e}")));
    }
    let by = result
        .certificate
        .as_ref()
        .map(|c| c.to_der())
        .transpose()?;
    if by.as_deref() != Some(signer_der.as_slice()) {
        return Err(bad("it is not signed by the expected certificate"));
    }
    let content = sd.content.ok_or_else(|| bad("no content"))?;
    serde_json::from_slice(&content).map_err(|e| bad(&format!("content: {e}")))
}
