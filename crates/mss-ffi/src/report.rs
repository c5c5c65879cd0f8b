//! `mss_report`: what protected an opened message and who signed it, with accessors that
//! lend C strings for as long as the report lives, and its JSON form.

use std::ffi::{CString, c_char};

use mss::{Report, SecurityLevel, SignatureStatus};

use crate::buffer::{handle, mss_buffer, out_ptr};
use crate::status::{guard, guard_value, mss_status};

/// A signer's verdict, from `mss_report_signature_status`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum mss_signature_status {
    /// No such signature: NULL report or index out of range.
    MSS_SIGNATURE_NONE = 0,
    /// Cryptographically valid and the signer chains to a trust anchor.
    MSS_SIGNATURE_VALID = 1,
    /// Does not verify: content or signature altered, or algorithm refused.
    MSS_SIGNATURE_INVALID = 2,
    /// Verifies, but the signer does not chain to a trust anchor (or its certificate is not
    /// fit for S/MIME signing).
    MSS_SIGNATURE_UNTRUSTED = 3,
    /// Verifies, but a certificate of the chain is outside its validity period.
    MSS_SIGNATURE_EXPIRED = 4,
    /// The signer's certificate is revoked.
    MSS_SIGNATURE_REVOKED = 5,
    /// The signer's certificate is missing or an algorithm is unknown.
    MSS_SIGNATURE_UNKNOWN = 6,
}

/// The security level a reply or forward must keep, from `mss_reply_level`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum mss_security_level {
    /// Neither signed nor encrypted.
    MSS_LEVEL_NONE = 0,
    /// Signed.
    MSS_LEVEL_SIGNED = 1,
    /// Encrypted (mss signs whenever it encrypts: a reply is signed and encrypted).
    MSS_LEVEL_ENCRYPTED = 2,
    /// Signed and encrypted.
    MSS_LEVEL_SIGNED_ENCRYPTED = 3,
}

impl From<SecurityLevel> for mss_security_level {
    fn from(l: SecurityLevel) -> Self {
        match l {
            SecurityLevel::None => mss_security_level::MSS_LEVEL_NONE,
            SecurityLevel::Signed => mss_security_level::MSS_LEVEL_SIGNED,
            SecurityLevel::Encrypted => mss_security_level::MSS_LEVEL_ENCRYPTED,
            SecurityLevel::SignedEncrypted => mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED,
        }
    }
}

/// The report of `mss_open`: encryption, every signer and its verdict, warnings.
///
/// Owned by the caller, freed with `mss_report_free`. Strings returned by the accessors
/// are borrowed: UTF-8, NUL-terminated, valid until the report is freed. Thread-safety:
/// immutable; may be read by several threads at once.
pub struct mss_report {
    report: Report,
    subjects: Vec<CString>,
    emails: Vec<Option<CString>>,
    details: Vec<Option<CString>>,
    content_cipher: Option<CString>,
    key_transport: Option<CString>,
    warnings: Vec<CString>,
}

fn c_string(s: &str) -> CString {
    // Interior NULs (possible in a hostile certificate's subject) become U+FFFD.
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

impl mss_report {
    pub(crate) fn new(report: Report) -> Box<mss_report> {
        let subjects = report
            .signatures
            .iter()
            .map(|s| c_string(&s.signer.subject))
            .collect();
        let emails = report
            .signatures
            .iter()
            .map(|s| s.signer.email.as_deref().map(c_string))
            .collect();
        let details = report
            .signatures
            .iter()
            .map(|s| s.detail.as_deref().map(c_string))
            .collect();
        Box::new(mss_report {
            content_cipher: report.content_cipher.as_deref().map(c_string),
            key_transport: report.key_transport.as_deref().map(c_string),
            warnings: report.warnings.iter().map(|w| c_string(w)).collect(),
            subjects,
            emails,
            details,
            report,
        })
    }

    /// The facade's report.
    pub fn report(&self) -> &Report {
        &self.report
    }
}

fn opt_ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Read a report argument for an accessor; `None` when NULL.
///
/// # Safety
///
/// `r` must be NULL or a live report.
unsafe fn get<'a>(r: *const mss_report) -> Option<&'a mss_report> {
    // SAFETY: per the caller.
    unsafe { r.as_ref() }
}

/// Was the message encrypted? False if `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_is_encrypted(report: *const mss_report) -> bool {
    // SAFETY: per the caller.
    guard_value(false, || {
        unsafe { get(report) }.is_some_and(|r| r.report.encrypted)
    })
}

/// Was the encryption integrity-protected (AuthEnvelopedData, AES-GCM)? False if `report`
/// is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_is_authenticated_encryption(report: *const mss_report) -> bool {
    guard_value(false, || {
        // SAFETY: per the caller.
        unsafe { get(report) }.is_some_and(|r| r.report.authenticated_encryption)
    })
}

/// Did any layer carry a signature? False if `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_is_signed(report: *const mss_report) -> bool {
    // SAFETY: per the caller.
    guard_value(false, || {
        unsafe { get(report) }.is_some_and(|r| r.report.is_signed())
    })
}

/// True when there is at least one signature and every one is `MSS_SIGNATURE_VALID`.
/// False if `report` is NULL. This does not say that the signatures cover the whole
/// message: see [`mss_report_is_fully_signed`].
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_all_signatures_valid(report: *const mss_report) -> bool {
    guard_value(false, || {
        // SAFETY: per the caller.
        unsafe { get(report) }.is_some_and(|r| r.report.all_signatures_valid())
    })
}

/// True when the whole displayed message is covered by signatures that are all valid
/// and trusted, with no `partial-signature` and no `signer-mismatch` warning: what the
/// CLI's exit 0 means for a signed message. Prefer it to
/// [`mss_report_all_signatures_valid`], which stays true for a valid signed part inside
/// an unsigned message. False if `report` is NULL or the message is not signed.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_is_fully_signed(report: *const mss_report) -> bool {
    guard_value(false, || {
        // SAFETY: per the caller.
        unsafe { get(report) }.is_some_and(|r| r.report.fully_signed())
    })
}

/// The number of signers, over every signed layer; 0 if `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_signature_count(report: *const mss_report) -> usize {
    // SAFETY: per the caller.
    guard_value(0, || {
        unsafe { get(report) }.map_or(0, |r| r.report.signatures.len())
    })
}

/// The verdict on signer `index` (0-based); `MSS_SIGNATURE_NONE` if `report` is NULL or
/// `index` is out of range.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_signature_status(
    report: *const mss_report,
    index: usize,
) -> mss_signature_status {
    use mss_signature_status::*;
    guard_value(MSS_SIGNATURE_NONE, || {
        // SAFETY: per the caller.
        let Some(s) = unsafe { get(report) }.and_then(|r| r.report.signatures.get(index)) else {
            return MSS_SIGNATURE_NONE;
        };
        match s.status {
            SignatureStatus::Valid => MSS_SIGNATURE_VALID,
            SignatureStatus::Invalid => MSS_SIGNATURE_INVALID,
            SignatureStatus::Untrusted => MSS_SIGNATURE_UNTRUSTED,
            SignatureStatus::Expired => MSS_SIGNATURE_EXPIRED,
            SignatureStatus::Revoked => MSS_SIGNATURE_REVOKED,
            SignatureStatus::Unknown => MSS_SIGNATURE_UNKNOWN,
        }
    })
}

/// Signer `index`'s certificate subject (RFC 4514), or its identifier when the certificate
/// is missing. Borrowed: valid until `mss_report_free`. NULL if `report` is NULL or `index`
/// is out of range.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_signer_subject(
    report: *const mss_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        opt_ptr(unsafe { get(report) }.and_then(|r| r.subjects.get(index)))
    })
}

/// Signer `index`'s e-mail address (certificate SAN rfc822Name, else emailAddress).
/// Borrowed: valid until `mss_report_free`. NULL if there is none, `report` is NULL or
/// `index` is out of range.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_signer_email(
    report: *const mss_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        let r = unsafe { get(report) };
        opt_ptr(r.and_then(|r| r.emails.get(index)).and_then(Option::as_ref))
    })
}

/// Why signer `index` is not `MSS_SIGNATURE_VALID`, in words (English). Borrowed: valid
/// until `mss_report_free`. NULL for a valid signature, a NULL report or an index out of
/// range.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_signature_detail(
    report: *const mss_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        let r = unsafe { get(report) };
        opt_ptr(
            r.and_then(|r| r.details.get(index))
                .and_then(Option::as_ref),
        )
    })
}

/// The content cipher of the (innermost) encryption layer, e.g. `aes-256-cbc`. Borrowed:
/// valid until `mss_report_free`. NULL if the message was not encrypted or `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_content_cipher(report: *const mss_report) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        opt_ptr(unsafe { get(report) }.and_then(|r| r.content_cipher.as_ref()))
    })
}

/// The key transport that reached our key, e.g. `rsa-pkcs1v15` or `rsa-oaep-sha256`.
/// Borrowed: valid until `mss_report_free`. NULL if not encrypted or `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_key_transport(report: *const mss_report) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        opt_ptr(unsafe { get(report) }.and_then(|r| r.key_transport.as_ref()))
    })
}

/// The number of warnings; 0 if `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_warning_count(report: *const mss_report) -> usize {
    // SAFETY: per the caller.
    guard_value(0, || unsafe { get(report) }.map_or(0, |r| r.warnings.len()))
}

/// Warning `index`, e.g. `weak-algorithm: …`, `unauthenticated-encryption`,
/// `signer-mismatch`. Borrowed: valid until `mss_report_free`. NULL if `report` is NULL or
/// `index` is out of range.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_warning(
    report: *const mss_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        opt_ptr(unsafe { get(report) }.and_then(|r| r.warnings.get(index)))
    })
}

/// The security level a reply to (or forward of) the opened message must keep: the
/// original's, so that a confidential exchange never continues in clear.
///
/// Fails safe: a NULL `report` gives `MSS_LEVEL_SIGNED_ENCRYPTED`.
///
/// # Safety
///
/// `report` must be NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_reply_level(report: *const mss_report) -> mss_security_level {
    let strictest = mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED;
    guard_value(strictest, || {
        // SAFETY: per the caller.
        unsafe { get(report) }.map_or(strictest, |r| mss::reply_level(&r.report).into())
    })
}

/// The whole report as JSON (UTF-8, the same document as the CLI's `--report-json`), in a
/// new buffer owned by the caller (free with `mss_buffer_free`).
///
/// # Safety
///
/// `report` must be NULL or a live report; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_to_json(
    report: *const mss_report,
    out: *mut *mut mss_buffer,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let r = unsafe { handle(report, "report") }?;
        out_ptr(out, "out")?;
        let json = r.report.to_json().to_string().into_bytes();
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(mss_buffer::new(json)) };
        Ok(())
    })
}

/// Free a report and the strings it lent. NULL is accepted and ignored.
///
/// # Safety
///
/// `report` must be NULL or a live report not in use by another thread, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_report_free(report: *mut mss_report) {
    guard_value((), || {
        if !report.is_null() {
            // SAFETY: allocated by mss_open with Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(report) });
        }
    })
}
