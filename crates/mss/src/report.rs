//! The report of an open: what protected the message, who signed it, and whether to
//! believe them. Serialisable as the JSON the CLI and the C API hand out.

use serde::Serialize;

pub use crate::coverage::PartCoverage;

/// A signer's final verdict, after signature and trust checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// Cryptographically valid, and the signer chains to a trusted authority.
    Valid,
    /// The signature does not verify (content or signature altered, or refused algorithm).
    Invalid,
    /// The signature verifies but the signer does not chain to a trusted authority.
    Untrusted,
    /// The signature verifies but a certificate of the chain is outside its validity.
    Expired,
    /// The signer's certificate is revoked.
    Revoked,
    /// The signer's certificate is missing or an algorithm is unknown.
    Unknown,
}

/// Who signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerInfo {
    /// The certificate subject (RFC 4514 string), or the signer identifier when the
    /// certificate is missing.
    pub subject: String,
    /// The e-mail address in the certificate (SAN rfc822Name, else emailAddress).
    pub email: Option<String>,
    /// The health professional's identity when the certificate is a CPS one (national
    /// identifier in a multi-valued RDN with surname and given name, profession in `title`).
    pub cps: Option<CpsSigner>,
}

/// A CPS card holder as named by the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpsSigner {
    /// National identifier (e.g. `810001234567`: 8 + RPPS number).
    pub national_id: String,
    /// Surname.
    pub surname: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Profession (`title`), e.g. `Médecin`.
    pub profession: Option<String>,
}

/// One signer's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// The verdict.
    pub status: SignatureStatus,
    /// The signer.
    pub signer: SignerInfo,
    /// Digest algorithm name (`sha256`…), or `unknown`.
    pub digest: String,
    /// Signature algorithm name (`rsa-pkcs1v15-sha256`…), or `unknown`.
    pub signature_algorithm: String,
    /// signingTime (RFC 3339, UTC) when present. Claimed by the signer, not proven.
    pub signing_time: Option<String>,
    /// Why the status is not `valid`, in words.
    pub detail: Option<String>,
    /// True for a countersignature (it signs the previous signer's signature value).
    pub countersignature: bool,
    /// The validated chain, leaf first, anchor last (subjects); empty when no path
    /// validated (`detail` says why).
    pub chain: Vec<String>,
    /// Revocation outcome per certificate of the chain, leaf first (empty when
    /// revocation is off); for a failed path, the certificate that failed it.
    pub revocation: Vec<crate::trust::RevocationReport>,
    /// The time the path was validated at (RFC 3339, UTC), when a path was sought.
    pub validation_time: Option<String>,
    /// Where that time came from: `now`, `given`, or `signing-time`.
    pub validation_time_source: Option<crate::trust::TimeSource>,
    /// The content ciphers the signer announced in its signed sMIMECapabilities
    /// (`aes-256-gcm`…, preferred first; see [`crate::capabilities`]).
    pub capabilities: Vec<String>,
}

/// What one layer of the message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    /// multipart/signed (detached signature).
    SignedDetached,
    /// application/pkcs7-mime; smime-type=signed-data (opaque signature).
    SignedOpaque,
    /// EnvelopedData.
    Enveloped,
    /// AuthEnvelopedData.
    AuthEnveloped,
}

/// One S/MIME layer, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// What the layer is.
    pub kind: LayerKind,
    /// For signed layers, the indexes into [`Report::signatures`] of its signers.
    pub signatures: Vec<usize>,
    /// `None` for a layer that wraps the whole message; for a signed entity nested
    /// inside the displayed message (a signed part of a `multipart/mixed`, a forwarded
    /// signed `message/rfc822`), its MIME part path (see [`PartCoverage`]).
    pub part: Option<String>,
}

/// The report of [`crate::open`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Was the message encrypted?
    pub encrypted: bool,
    /// Was the encryption integrity-protected (AuthEnvelopedData)?
    pub authenticated_encryption: bool,
    /// The content cipher (`aes-256-cbc`…) of the (innermost) encryption layer.
    pub content_cipher: Option<String>,
    /// The key management that reached our key, whatever its kind (despite the field's
    /// name): `rsa-pkcs1v15`, `rsa-oaep-sha256`…, `ecdh-hkdf-sha256/aes128-wrap`,
    /// `esdh/3des-wrap`, `kek/aes128-wrap`.
    pub key_transport: Option<String>,
    /// Every signer of every signed layer.
    pub signatures: Vec<SignatureReport>,
    /// Warnings (`weak-algorithm: …`, `unauthenticated-encryption`, `signer-mismatch`…).
    pub warnings: Vec<String>,
    /// The layers, outermost first.
    pub layers: Vec<Layer>,
    /// The protected header fields (RFC 9788), when the message carries them.
    pub protected_headers: Option<crate::protected::ProtectedHeaders>,
    /// Signed receipts the signers ask for (RFC 2634 `receiptRequest`).
    pub receipt_requests: Vec<crate::receipt::ReceiptRequestReport>,
    /// The address a disposition notification (MDN, RFC 8098) is asked for, from the
    /// `Disposition-Notification-To` field of the clear message.
    pub disposition_notification_to: Option<String>,
    /// The leaf parts of the displayed message and the signatures covering each one
    /// (see [`crate::coverage`]).
    pub parts: Vec<PartCoverage>,
}

impl Report {
    /// Record a decryption layer (in memory or streamed): cipher, key management,
    /// policy warnings and the layer itself.
    pub(crate) fn record_decryption(
        &mut self,
        authenticated: bool,
        cipher: mss_algs::cipher::ContentCipher,
        key_management: &mss_cms::enveloped::KeyManagement,
        warnings: &[String],
    ) {
        self.encrypted = true;
        self.authenticated_encryption = authenticated;
        self.content_cipher = Some(cipher.name().to_string());
        self.key_transport = Some(key_management.name());
        for w in warnings {
            self.warn(w.clone());
        }
        self.layers.push(Layer {
            kind: if authenticated {
                LayerKind::AuthEnveloped
            } else {
                LayerKind::Enveloped
            },
            signatures: Vec::new(),
            part: None,
        });
    }

    /// Did any layer carry a signature?
    pub fn is_signed(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l.kind, LayerKind::SignedDetached | LayerKind::SignedOpaque))
    }
    /// True when there is at least one signature and every one is valid and trusted.
    pub fn all_signatures_valid(&self) -> bool {
        !self.signatures.is_empty()
            && self
                .signatures
                .iter()
                .all(|s| s.status == SignatureStatus::Valid)
    }
    /// True when every displayed part is covered by at least one signature, every
    /// signature is valid and trusted, and neither `partial-signature` nor
    /// `signer-mismatch` was warned: what the CLI's exit 0 means for a signed message.
    pub fn fully_signed(&self) -> bool {
        self.all_signatures_valid()
            && !self.parts.is_empty()
            && self.parts.iter().all(|p| !p.signed_by.is_empty())
            && !self.has_warning("partial-signature")
            && !self.has_warning("signer-mismatch")
    }
    /// Does the report carry a warning named `name` (exactly, or `name: …`)?
    pub fn has_warning(&self, name: &str) -> bool {
        self.warnings
            .iter()
            .any(|w| w == name || w.strip_prefix(name).is_some_and(|r| r.starts_with(':')))
    }
    /// The report as JSON (the CLI's `--report-json`, the C API's `mss_report_to_json`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("signed".into(), serde_json::Value::Bool(self.is_signed()));
            o.insert(
                "reply_level".into(),
                serde_json::to_value(reply_level(self)).unwrap_or(serde_json::Value::Null),
            );
        }
        v
    }
    pub(crate) fn warn(&mut self, w: impl Into<String>) {
        let w = w.into();
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }
}

/// The security level a reply or forward must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityLevel {
    /// Neither signed nor encrypted.
    None,
    /// Signed only.
    Signed,
    /// Encrypted only (the reply is signed and encrypted: mss never lowers, and signs
    /// whenever it encrypts).
    Encrypted,
    /// Signed and encrypted.
    SignedEncrypted,
}

/// The level a reply to (or forward of) the opened message keeps by default: the
/// original's, so that a confidential exchange never continues in clear.
pub fn reply_level(original: &Report) -> SecurityLevel {
    match (original.is_signed(), original.encrypted) {
        (false, false) => SecurityLevel::None,
        (true, false) => SecurityLevel::Signed,
        (false, true) => SecurityLevel::Encrypted,
        (true, true) => SecurityLevel::SignedEncrypted,
    }
}
