//! Exit codes of the `mss` command (documented in the README; scripts rely on them).

use mss::{Report, SignatureStatus};

/// Success: for `open`, every signature is valid and trusted, or the message is not
/// signed (and, if encrypted, decrypted).
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
/// `sign --keystore`: the key store cannot sign (degraded mode, or no --identity):
/// signing needs the card.
pub const SIGNING_NEEDS_CARD: u8 = 16;
/// `encrypt --to-address` / `lookup`: a recipient has no usable encryption certificate
/// (every missing address is named on stderr; nothing was written).
pub const MISSING_RECIPIENTS: u8 = 15;
/// `encrypt --to-address` / `lookup`: the directory could not be reached and nothing
/// was cached for an address (unknown, not missing).
pub const DIRECTORY_UNREACHABLE: u8 = 17;

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
    } else {
        OK
    }
}
