//! `mss_context`: the caller's configuration (trust anchors, other certificates, algorithm
//! policy, progress callback), passed to every operation.

use std::ffi::c_void;

use mss::{LegacyPolicy, Policy, StandardPolicy};
use x509_cert::Certificate;

use crate::buffer::{bytes, handle, out_ptr, parse_certificates};
use crate::status::{Failure, guard, guard_value, mss_status};

static STANDARD: StandardPolicy = StandardPolicy;
static LEGACY: LegacyPolicy = LegacyPolicy;

/// Algorithm policies for `mss_context_set_policy`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum mss_policy {
    /// The default: produces SHA-256+, AES and RSA >= 2048 only; accepts SHA-1, 3DES and
    /// RSA-1024 on receipt with a `weak-algorithm` warning; refuses MD5 signatures.
    MSS_POLICY_STANDARD = 0,
    /// Also produces historic algorithms (3DES, SHA-1) for old correspondents. The
    /// dangerous choice: use only on explicit request.
    MSS_POLICY_LEGACY = 1,
}

/// Revocation checking of the signers in `mss_open`, for `mss_context_set_revocation`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum mss_revocation {
    /// The default: no revocation checking.
    MSS_REVOCATION_OFF = 0,
    /// CRLs: carried by the message, or fetched from the distribution points (http).
    MSS_REVOCATION_CRL = 1,
    /// OCSP: the responder named in each certificate (http).
    MSS_REVOCATION_OCSP = 2,
    /// CRLs, then OCSP when the CRLs cannot tell.
    MSS_REVOCATION_CRL_THEN_OCSP = 3,
    /// OCSP, then CRLs when OCSP cannot tell.
    MSS_REVOCATION_OCSP_THEN_CRL = 4,
}

/// Called with the progress of a long operation: `done` bytes out of `total`; `total` is
/// 0 when unknown (a streaming call given no total). See `mss_context_set_progress`.
///
/// `userdata` is the pointer given to `mss_context_set_progress`. The callback runs on the
/// thread that called the operation, before the operation returns. It must not call mss
/// with the same context. Declared `C-unwind` on the Rust side: a C++ exception thrown
/// from it aborts the process; do not throw.
pub type mss_progress_callback =
    Option<unsafe extern "C-unwind" fn(userdata: *mut c_void, done: u64, total: u64)>;

/// Configuration shared by the operations: trust anchors, other known certificates, the
/// algorithm policy and an optional progress callback.
///
/// Created by `mss_context_new`, freed by `mss_context_free`. Thread-safety: the setters
/// (`mss_context_add_*`, `mss_context_set_*`) need exclusive access; once configured,
/// a context may be used by several threads at once (every operation takes it `const`),
/// provided the progress callback, if any, is itself thread-safe.
///
/// Future settings (a PKCS#11 module path, a certificate directory, a key store) will be
/// new `mss_context_set_*` functions; the struct being opaque, adding them keeps the ABI.
pub struct mss_context {
    pub(crate) trust_anchors: Vec<Certificate>,
    pub(crate) extra_certs: Vec<Certificate>,
    pub(crate) policy: mss_policy,
    pub(crate) revocation: Option<mss::RevocationMode>,
    pub(crate) revocation_soft_fail: bool,
    progress: mss_progress_callback,
    progress_userdata: *mut c_void,
}

impl mss_context {
    pub(crate) fn policy(&self) -> &'static dyn Policy {
        match self.policy {
            mss_policy::MSS_POLICY_STANDARD => &STANDARD,
            mss_policy::MSS_POLICY_LEGACY => &LEGACY,
        }
    }

    /// Report progress to the caller's callback, if any.
    pub(crate) fn progress(&self, done: u64, total: u64) {
        if let Some(cb) = self.progress {
            // SAFETY: the caller registered this function pointer and userdata together
            // with `mss_context_set_progress` and promised they stay valid while the
            // context is used; the callback is `C-unwind`, so a panic or unwind coming
            // out of it is caught by the entry point's boundary.
            unsafe { cb(self.progress_userdata, done, total) }
        }
    }
}

/// Create a context with the standard policy, no trust anchor and no progress callback.
///
/// On success `*out` receives a context owned by the caller, to free with
/// `mss_context_free`. On failure `*out` is left untouched.
///
/// # Safety
///
/// `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_new(out: *mut *mut mss_context) -> mss_status {
    guard(|| {
        out_ptr(out, "out")?;
        let ctx = Box::new(mss_context {
            trust_anchors: Vec::new(),
            extra_certs: Vec::new(),
            policy: mss_policy::MSS_POLICY_STANDARD,
            revocation: None,
            revocation_soft_fail: false,
            progress: None,
            progress_userdata: std::ptr::null_mut(),
        });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(ctx) };
        Ok(())
    })
}

/// Free a context. NULL is accepted and ignored. Identities, reports and buffers obtained
/// with it stay valid (they do not borrow it).
///
/// # Safety
///
/// `ctx` must be NULL or a live context, not used by another thread, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_free(ctx: *mut mss_context) {
    guard_value((), || {
        if !ctx.is_null() {
            // SAFETY: allocated by mss_context_new with Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(ctx) });
        }
    })
}

/// Trust the certificate(s) in `data`: one DER certificate, or PEM text with one or more
/// `CERTIFICATE` blocks (a bundle). Signers must chain to one of them to be `VALID`.
///
/// The bytes are copied. Nothing is added if any certificate fails to parse
/// (`MSS_INVALID_CERTIFICATE`).
///
/// # Safety
///
/// `ctx` must be NULL or a live context used by no other thread; `data` must be NULL or
/// point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_add_trust_anchor(
    ctx: *mut mss_context,
    data: *const u8,
    len: usize,
) -> mss_status {
    guard(|| {
        // SAFETY: NULL or a live context with exclusive access, per the caller.
        let ctx = unsafe { ctx.as_mut() }.ok_or_else(|| Failure::null("ctx"))?;
        // SAFETY: per the caller.
        let data = unsafe { bytes(data, len, "data") }?;
        let certs = parse_certificates(data, "trust anchor")?;
        ctx.trust_anchors.extend(certs);
        Ok(())
    })
}

/// Add other certificates mss may use to build signers' chains (intermediate CAs,
/// correspondents' certificates): one DER certificate or PEM `CERTIFICATE` blocks. They
/// are not trusted by themselves.
///
/// # Safety
///
/// As `mss_context_add_trust_anchor`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_add_certificate(
    ctx: *mut mss_context,
    data: *const u8,
    len: usize,
) -> mss_status {
    guard(|| {
        // SAFETY: NULL or a live context with exclusive access, per the caller.
        let ctx = unsafe { ctx.as_mut() }.ok_or_else(|| Failure::null("ctx"))?;
        // SAFETY: per the caller.
        let data = unsafe { bytes(data, len, "data") }?;
        let certs = parse_certificates(data, "certificate")?;
        ctx.extra_certs.extend(certs);
        Ok(())
    })
}

/// Choose the algorithm policy: a `mss_policy` value (`MSS_POLICY_STANDARD`, the default,
/// or `MSS_POLICY_LEGACY`). Any other value is `MSS_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `ctx` must be NULL or a live context used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_set_policy(ctx: *mut mss_context, policy: u32) -> mss_status {
    guard(|| {
        // SAFETY: NULL or a live context with exclusive access, per the caller.
        let ctx = unsafe { ctx.as_mut() }.ok_or_else(|| Failure::null("ctx"))?;
        ctx.policy = match policy {
            0 => mss_policy::MSS_POLICY_STANDARD,
            1 => mss_policy::MSS_POLICY_LEGACY,
            other => return Err(Failure::invalid(format!("unknown policy {other}"))),
        };
        Ok(())
    })
}

/// Choose how `mss_open` checks that signers' certificates are not revoked: a
/// `mss_revocation` value (`MSS_REVOCATION_OFF`, the default, `_CRL`, `_OCSP`,
/// `_CRL_THEN_OCSP`, `_OCSP_THEN_CRL`); any other value is `MSS_INVALID_ARGUMENT`.
/// CRLs come from the message and the certificates' http distribution points, OCSP
/// from their http responders (network access during `mss_open`). When no source can
/// tell, the signer is `UNTRUSTED` unless `soft_fail`, which accepts it with a
/// `revocation-unknown` warning in the report. A revoked signer is `REVOKED`. The
/// report's JSON gives each signer's chain and which source answered.
///
/// # Safety
///
/// `ctx` must be NULL or a live context used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_set_revocation(
    ctx: *mut mss_context,
    mode: u32,
    soft_fail: bool,
) -> mss_status {
    guard(|| {
        // SAFETY: NULL or a live context with exclusive access, per the caller.
        let ctx = unsafe { ctx.as_mut() }.ok_or_else(|| Failure::null("ctx"))?;
        ctx.revocation = match mode {
            0 => None,
            1 => Some(mss::RevocationMode::Crl),
            2 => Some(mss::RevocationMode::Ocsp),
            3 => Some(mss::RevocationMode::CrlThenOcsp),
            4 => Some(mss::RevocationMode::OcspThenCrl),
            other => return Err(Failure::invalid(format!("unknown revocation mode {other}"))),
        };
        ctx.revocation_soft_fail = soft_fail;
        Ok(())
    })
}

/// Set (or, with `callback == NULL`, remove) the progress callback.
///
/// The in-memory calls (`mss_sign`, `mss_encrypt`, `mss_open`, ...) call it with
/// `done == 0` when they start and with `done == total` when they have succeeded,
/// `total` being the input length. The streaming calls (`mss_*_stream`) call it with
/// `done == 0` first, after every read with the number of input bytes read so far
/// (non-decreasing), and once more with the final count after success; their `total`
/// is the one the caller passed (0 when unknown). `userdata` is passed back untouched;
/// mss never frees it.
///
/// # Safety
///
/// `ctx` must be NULL or a live context used by no other thread. `callback` and
/// `userdata` must stay valid for as long as the context is used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_context_set_progress(
    ctx: *mut mss_context,
    callback: mss_progress_callback,
    userdata: *mut c_void,
) -> mss_status {
    guard(|| {
        // SAFETY: NULL or a live context with exclusive access, per the caller.
        let ctx = unsafe { ctx.as_mut() }.ok_or_else(|| Failure::null("ctx"))?;
        ctx.progress = callback;
        ctx.progress_userdata = userdata;
        Ok(())
    })
}

/// Borrow a context argument.
///
/// # Safety
///
/// As [`handle`].
pub(crate) unsafe fn context<'a>(ctx: *const mss_context) -> Result<&'a mss_context, Failure> {
    // SAFETY: per the caller.
    unsafe { handle(ctx, "ctx") }
}
