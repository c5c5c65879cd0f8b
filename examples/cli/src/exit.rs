//! Exit codes of the `mss` command (documented in the README; scripts rely on them).

use mss::{Report, SignatureStatus};

/// Success: for `open`, the whole displayed message is covered by signatures that are
/// all valid and trusted, with the signer matching From (and Sender), or the message is
/// not signed at all (and, if encrypted, decrypted).
pub const OK: u8 = 0;
/// Any other failure (I/O, identity, missing certificate file…).
pub const FAILURE: u8 = 1;
/// Command-line usage error (also clap's own code).
pub const USAGE: u8 = 2;
/// `open`: at least one signature is invalid (content or signature altered).
pub const INVALID_SIGNATURE: u8 = 10;
/// `open`: signatures verify, but a signer is untrusted, expired, revoked or unknown.
pub const UNTRUSTED_SIGNER: u8 = 11;
/// `open`: the message cannot be decrypted (not a recipient, wrong key, corrupted).
pub const CANNOT_DECRYPT: u8 = 12;
/// `open`: malformed or unsupported input.
pub const MALFORMED: u8 = 13;
/// The algorithm policy refused the operation (see --allow-legacy).
pub const POLICY: u8 = 14;
/// `open`: every signature is valid and trusted, but the report carries a warning that
/// changes what the reader may believe: `partial-signature` (only some displayed parts
/// are signed) or `signer-mismatch` (the signer is not the From/Sender address).
pub const SIGNATURE_WARNING: u8 = 15;
/// `sign --keystore`: the key store cannot sign (degraded mode, or no --identity):
/// signing needs the card.
pub const SIGNING_NEEDS_CARD: u8 = 16;
/// `encrypt --to-address` / `lookup`: the directory could not be reached and nothing
/// was cached for an address (unknown, not missing).
pub const DIRECTORY_UNREACHABLE: u8 = 17;
/// `encrypt --to-address` / `lookup`: a recipient has no usable encryption certificate
/// (every missing address is named on stderr; nothing was written).
pub const MISSING_RECIPIENTS: u8 = 18;

/// The warnings that deny exit 0 to a message whose signatures are all valid.
pub const WARNINGS_THAT_MATTER: &[&str] = &[
    "partial-signature",
    "signer-mismatch",
    mss::stream::PARTS_NOT_ANALYSED,
];

/// The exit code `open` gives for a report.
pub fn for_report(r: &Report) -> u8 {
    if r.signatures
        .iter()
        .any(|s| s.status == SignatureStatus::Invalid)
    {
        INVALID_SIGNATURE
    } else if r
        .signatures
        .iter()
        .any(|s| s.status != SignatureStatus::Valid)
    {
        UNTRUSTED_SIGNER
    } else if r.is_signed() && r.signatures.is_empty() {
        INVALID_SIGNATURE
    } else if WARNINGS_THAT_MATTER.iter().any(|w| r.has_warning(w))
        || (r.is_signed() && !r.fully_signed())
    {
        SIGNATURE_WARNING
    } else {
        OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mss::{PartCoverage, SignatureReport, SignerInfo};

    fn sig(status: SignatureStatus) -> SignatureReport {
        SignatureReport {
            status,
            signer: SignerInfo {
                subject: "CN=x".into(),
                email: Some("x@example.test".into()),
                cps: None,
            },
            digest: "sha256".into(),
            signature_algorithm: "rsa-pkcs1v15-sha256".into(),
            signing_time: None,
            detail: None,
            countersignature: false,
            chain: Vec::new(),
            revocation: Vec::new(),
            validation_time: None,
            validation_time_source: None,
            capabilities: Vec::new(),
        }
    }

    fn part(path: &str, signed_by: &[usize]) -> PartCoverage {
        PartCoverage {
            path: path.into(),
            content_type: "text/plain".into(),
            signed_by: signed_by.to_vec(),
        }
    }

    fn signed(statuses: &[SignatureStatus], parts: Vec<PartCoverage>) -> Report {
        Report {
            signatures: statuses.iter().map(|s| sig(*s)).collect(),
            layers: vec![mss::Layer {
                kind: mss::LayerKind::SignedDetached,
                signatures: (0..statuses.len()).collect(),
                part: None,
            }],
            parts,
            ..Default::default()
        }
    }

    #[test]
    fn exit_zero_only_for_wholly_covered_valid_or_unsigned() {
        use SignatureStatus::*;
        let unsigned = Report {
            parts: vec![part("", &[])],
            ..Default::default()
        };
        assert_eq!(for_report(&unsigned), OK);
        assert_eq!(for_report(&signed(&[Valid], vec![part("", &[0])])), OK);
        assert_eq!(
            for_report(&signed(&[Valid, Valid], vec![part("", &[0, 1])])),
            OK
        );
        // One invalid signer among valid ones spoils the message.
        assert_eq!(
            for_report(&signed(&[Valid, Invalid], vec![part("", &[0, 1])])),
            INVALID_SIGNATURE
        );
        assert_eq!(
            for_report(&signed(&[Valid, Untrusted], vec![part("", &[0, 1])])),
            UNTRUSTED_SIGNER
        );
        // A part that no signature covers.
        assert_eq!(
            for_report(&signed(&[Valid], vec![part("1", &[]), part("2", &[0])])),
            SIGNATURE_WARNING
        );
        for w in WARNINGS_THAT_MATTER {
            let mut r = signed(&[Valid], vec![part("", &[0])]);
            r.warnings.push((*w).to_string());
            assert_eq!(for_report(&r), SIGNATURE_WARNING, "{w}");
        }
        // Other warnings (weak-algorithm under an explicit legacy policy) keep 0.
        let mut r = signed(&[Valid], vec![part("", &[0])]);
        r.warnings.push("weak-algorithm: sha1".into());
        assert_eq!(for_report(&r), OK);
        // Signed layer without any signer.
        assert_eq!(
            for_report(&signed(&[], vec![part("", &[])])),
            INVALID_SIGNATURE
        );
    }
}
