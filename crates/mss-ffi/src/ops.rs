//! The operations: sign, encrypt, sign and encrypt, secure a reply, open. Each turns its
//! raw arguments into facade types, calls the facade once and writes its outputs last.

use mss::{
    ContentCipher, DigestAlgorithm, EncryptOptions, KeyTransport, SecurityLevel, SignOptions,
    SignatureScheme,
};
use x509_cert::Certificate;

use crate::buffer::{array, bytes, handle, mss_buffer, mss_slice, out_ptr, parse_certificate};
use crate::context::{context, mss_context};
use crate::identity::{identity_certificate, mss_identity};
use crate::report::{mss_report, mss_security_level};
use crate::status::{Failure, guard, mss_status};

/// Sign flag: an opaque signature (`application/pkcs7-mime; smime-type=signed-data`)
/// instead of the default detached `multipart/signed`.
pub const MSS_SIGN_OPAQUE: u32 = 1;
/// Sign flag: RSASSA-PSS instead of the default RSA PKCS#1 v1.5.
pub const MSS_SIGN_PSS: u32 = 2;
/// Sign flag: SHA-384 instead of the default SHA-256.
pub const MSS_SIGN_SHA384: u32 = 4;
/// Sign flag: SHA-512 instead of the default SHA-256.
pub const MSS_SIGN_SHA512: u32 = 8;
/// Encrypt flag: wrap content keys with RSA-OAEP (SHA-256) instead of the default, most
/// widely read, RSA PKCS#1 v1.5.
pub const MSS_ENCRYPT_OAEP: u32 = 0x100;

pub(crate) const SIGN_FLAGS: u32 =
    MSS_SIGN_OPAQUE | MSS_SIGN_PSS | MSS_SIGN_SHA384 | MSS_SIGN_SHA512;
pub(crate) const ENCRYPT_FLAGS: u32 = MSS_ENCRYPT_OAEP;

/// Content ciphers for the `cipher` argument of the encrypting calls.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum mss_cipher {
    /// The default (today AES-256-CBC).
    MSS_CIPHER_DEFAULT = 0,
    /// AES-128-CBC (EnvelopedData).
    MSS_CIPHER_AES128_CBC = 1,
    /// AES-192-CBC (EnvelopedData).
    MSS_CIPHER_AES192_CBC = 2,
    /// AES-256-CBC (EnvelopedData).
    MSS_CIPHER_AES256_CBC = 3,
    /// 3DES (EnvelopedData); produced only under `MSS_POLICY_LEGACY`.
    MSS_CIPHER_DES_EDE3_CBC = 4,
    /// AES-128-GCM (AuthEnvelopedData).
    MSS_CIPHER_AES128_GCM = 5,
    /// AES-256-GCM (AuthEnvelopedData).
    MSS_CIPHER_AES256_GCM = 6,
}

fn cipher(value: u32) -> Result<ContentCipher, Failure> {
    Ok(match value {
        0 | 3 => ContentCipher::Aes256Cbc,
        1 => ContentCipher::Aes128Cbc,
        2 => ContentCipher::Aes192Cbc,
        4 => ContentCipher::DesEde3Cbc,
        5 => ContentCipher::Aes128Gcm,
        6 => ContentCipher::Aes256Gcm,
        other => return Err(Failure::invalid(format!("unknown cipher {other}"))),
    })
}

pub(crate) fn check_flags(flags: u32, allowed: u32) -> Result<(), Failure> {
    if flags & !allowed != 0 {
        return Err(Failure::invalid(format!(
            "unknown flags {:#x}",
            flags & !allowed
        )));
    }
    Ok(())
}

pub(crate) fn sign_options(ctx: &mss_context, flags: u32) -> Result<SignOptions<'static>, Failure> {
    let digest = match (flags & MSS_SIGN_SHA384 != 0, flags & MSS_SIGN_SHA512 != 0) {
        (false, false) => DigestAlgorithm::Sha256,
        (true, false) => DigestAlgorithm::Sha384,
        (false, true) => DigestAlgorithm::Sha512,
        (true, true) => {
            return Err(Failure::invalid(
                "MSS_SIGN_SHA384 and MSS_SIGN_SHA512 are exclusive",
            ));
        }
    };
    Ok(SignOptions {
        opaque: flags & MSS_SIGN_OPAQUE != 0,
        digest,
        scheme: if flags & MSS_SIGN_PSS != 0 {
            SignatureScheme::RsaPss
        } else {
            SignatureScheme::RsaPkcs1v15
        },
        policy: ctx.policy(),
    })
}

pub(crate) fn encrypt_options(
    ctx: &mss_context,
    cipher_value: u32,
    flags: u32,
) -> Result<EncryptOptions<'static>, Failure> {
    Ok(EncryptOptions {
        cipher: cipher(cipher_value)?,
        key_transport: if flags & MSS_ENCRYPT_OAEP != 0 {
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            }
        } else {
            KeyTransport::RsaPkcs1v15
        },
        sign: sign_options(ctx, flags & SIGN_FLAGS)?,
        policy: ctx.policy(),
    })
}

/// Parse the recipients' certificates.
///
/// # Safety
///
/// `recipients` must be NULL (with `len == 0`) or point to `len` slices, each pointing to
/// readable bytes.
pub(crate) unsafe fn recipients(
    recipients: *const mss_slice,
    len: usize,
) -> Result<Vec<Certificate>, Failure> {
    // SAFETY: per the caller.
    let slices = unsafe { array(recipients, len, "recipients") }?;
    slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let what = format!("recipients[{i}]");
            // SAFETY: each slice points to readable bytes per the caller.
            let data = unsafe { bytes(s.data, s.len, &what) }?;
            parse_certificate(data, &what)
        })
        .collect()
}

/// The sender's certificate of `mss_encrypt`: from an identity or a certificate slice,
/// exactly one of them non-NULL.
///
/// # Safety
///
/// `sender` NULL or a live identity; `sender_certificate` NULL or a slice of readable bytes.
pub(crate) unsafe fn sender_certificate(
    sender: *const mss_identity,
    sender_certificate: *const mss_slice,
) -> Result<Certificate, Failure> {
    Ok(match (sender.is_null(), sender_certificate.is_null()) {
        (true, true) => return Err(Failure::null("sender and sender_certificate")),
        (false, false) => {
            return Err(Failure::invalid(
                "give either sender or sender_certificate, not both",
            ));
        }
        // SAFETY: non-NULL and live per the caller.
        (false, true) => identity_certificate(unsafe { handle(sender, "sender") }?)?.clone(),
        (true, false) => {
            // SAFETY: non-NULL, pointing to a slice of readable bytes per the caller.
            let s = unsafe { *sender_certificate };
            // SAFETY: per the caller.
            let data = unsafe { bytes(s.data, s.len, "sender_certificate") }?;
            parse_certificate(data, "sender_certificate")?
        }
    })
}

/// The decryption keys of `identities` (NULL when `len` is 0).
///
/// # Safety
///
/// `identities` NULL or `len` pointers, each NULL or a live identity, valid for `'a`.
pub(crate) unsafe fn decryption_keys<'a>(
    identities: *const *const mss_identity,
    len: usize,
) -> Result<Vec<&'a dyn mss::DecryptionKey>, Failure> {
    // SAFETY: per the caller.
    let ids = unsafe { array(identities, len, "identities") }?;
    ids.iter()
        .enumerate()
        .map(|(i, p)| {
            // SAFETY: each pointer is NULL or a live identity per the caller.
            unsafe { handle(*p, &format!("identities[{i}]")) }
                .and_then(|id| id.inner.decryption_key().map_err(Failure::from))
        })
        .collect()
}

/// The facade's open options for `ctx`: its trust anchors, certificates, policy and
/// revocation settings, with `http` fetching CRLs and OCSP answers.
pub(crate) fn open_options<'a>(
    ctx: &mss_context,
    keys: Vec<&'a dyn mss::DecryptionKey>,
    http: &'a mss::trust::HttpFetcher,
) -> mss::OpenOptions<'a> {
    let mut opts = mss::OpenOptions {
        keys,
        trust_anchors: ctx.trust_anchors.clone(),
        extra_certs: ctx.extra_certs.clone(),
        policy: ctx.policy(),
        time: None,
        ..Default::default()
    };
    opts.revocation.mode = ctx.revocation;
    opts.revocation.soft_fail = ctx.revocation_soft_fail;
    opts.revocation.fetcher = Some(http);
    opts.revocation.ocsp = Some(http);
    opts
}

/// Run `op` on `input` between the two progress calls and hand its bytes to `*out`.
///
/// # Safety
///
/// `out` must be non-NULL and writable (checked by the caller with `out_ptr`).
unsafe fn produce(
    ctx: &mss_context,
    input: &[u8],
    out: *mut *mut mss_buffer,
    op: impl FnOnce() -> Result<Vec<u8>, mss::Error>,
) -> Result<(), Failure> {
    ctx.progress(0, input.len() as u64);
    let result = op()?;
    ctx.progress(input.len() as u64, input.len() as u64);
    // SAFETY: non-NULL and writable per the caller.
    unsafe { *out = Box::into_raw(mss_buffer::new(result)) };
    Ok(())
}

/// Sign a draft (an RFC 5322 message: headers, blank line, body). The headers stay
/// outside; the body becomes a canonical MIME entity and is signed.
///
/// `flags`: 0 (detached `multipart/signed`, RSA PKCS#1 v1.5, SHA-256) or a combination of
/// `MSS_SIGN_OPAQUE`, `MSS_SIGN_PSS`, `MSS_SIGN_SHA384` / `MSS_SIGN_SHA512`. On success
/// `*out` receives the signed message in a new buffer owned by the caller (free with
/// `mss_buffer_free`); on failure `*out` is untouched. The policy of `ctx` applies.
///
/// # Safety
///
/// `ctx`, `identity`: NULL or live handles; `msg`: NULL or `msg_len` readable bytes;
/// `out`: NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_sign(
    ctx: *const mss_context,
    identity: *const mss_identity,
    msg: *const u8,
    msg_len: usize,
    flags: u32,
    out: *mut *mut mss_buffer,
) -> mss_status {
    guard(|| {
        // SAFETY (this block's borrows): per the caller's contract above.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per the caller.
        let msg = unsafe { bytes(msg, msg_len, "msg") }?;
        out_ptr(out, "out")?;
        check_flags(flags, SIGN_FLAGS)?;
        let opts = sign_options(ctx, flags)?;
        let key = id.inner.signing_key().map_err(Failure::from)?;
        // SAFETY: `out` checked above.
        unsafe { produce(ctx, msg, out, || mss::sign(msg, key, &opts)) }
    })
}

/// Encrypt a draft to `recipients` and to the sender (always: the sent copy must stay
/// readable by its author). Nothing is signed: prefer `mss_sign_encrypt`.
///
/// The sender is given either as an identity (`sender`, whose certificate is used) or as
/// a certificate (`sender_certificate`, DER or PEM): exactly one must be non-NULL.
/// `recipients` is an array of `recipients_len` certificates (DER or PEM, one per slice);
/// it may be NULL when `recipients_len` is 0. `cipher`: a `mss_cipher` value. `flags`: 0 or
/// `MSS_ENCRYPT_OAEP`. On success `*out` receives the message (`application/pkcs7-mime`)
/// in a new buffer owned by the caller; on failure `*out` is untouched.
///
/// # Safety
///
/// Handles NULL or live; `sender_certificate` NULL or a slice of readable bytes;
/// `recipients` NULL or `recipients_len` slices of readable bytes; `msg` NULL or
/// `msg_len` readable bytes; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_encrypt(
    ctx: *const mss_context,
    sender: *const mss_identity,
    sender_certificate: *const mss_slice,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    msg: *const u8,
    msg_len: usize,
    out: *mut *mut mss_buffer,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let sender_cert = unsafe { self::sender_certificate(sender, sender_certificate) }?;
        // SAFETY: per the caller.
        let recipients = unsafe { self::recipients(recipients, recipients_len) }?;
        // SAFETY: per the caller.
        let msg = unsafe { bytes(msg, msg_len, "msg") }?;
        out_ptr(out, "out")?;
        check_flags(flags, ENCRYPT_FLAGS)?;
        let opts = encrypt_options(ctx, cipher, flags)?;
        // SAFETY: `out` checked above.
        unsafe {
            produce(ctx, msg, out, || {
                mss::encrypt(msg, &recipients, &sender_cert, &opts)
            })
        }
    })
}

/// Sign a draft with `identity`, then encrypt the signed entity to `recipients` and to the
/// signer's own certificate. The usual way to send.
///
/// `recipients`, `cipher` as in `mss_encrypt`; `flags`: sign flags (`MSS_SIGN_*`) and
/// `MSS_ENCRYPT_OAEP`. On success `*out` receives the message in a new buffer owned by
/// the caller; on failure `*out` is untouched.
///
/// # Safety
///
/// As `mss_encrypt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_sign_encrypt(
    ctx: *const mss_context,
    identity: *const mss_identity,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    msg: *const u8,
    msg_len: usize,
    out: *mut *mut mss_buffer,
) -> mss_status {
    // Signing and encrypting is the signed-and-encrypted reply level: one code path.
    // SAFETY: the caller's promises are those of `mss_secure_reply`.
    unsafe {
        mss_secure_reply(
            ctx,
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED as u32,
            identity,
            recipients,
            recipients_len,
            cipher,
            flags,
            msg,
            msg_len,
            out,
        )
    }
}

/// Secure a reply or forward at `level` (a `mss_security_level`, normally
/// `mss_reply_level` of the original's report): `MSS_LEVEL_NONE` copies the draft
/// unchanged, `MSS_LEVEL_SIGNED` signs, the encrypted levels sign and encrypt.
///
/// Other arguments as in `mss_sign_encrypt`; `recipients` is used only when encrypting.
///
/// # Safety
///
/// As `mss_encrypt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_secure_reply(
    ctx: *const mss_context,
    level: u32,
    identity: *const mss_identity,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    msg: *const u8,
    msg_len: usize,
    out: *mut *mut mss_buffer,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per the caller.
        let recipients = unsafe { self::recipients(recipients, recipients_len) }?;
        // SAFETY: per the caller.
        let msg = unsafe { bytes(msg, msg_len, "msg") }?;
        out_ptr(out, "out")?;
        let level = security_level(level)?;
        check_flags(flags, SIGN_FLAGS | ENCRYPT_FLAGS)?;
        let opts = encrypt_options(ctx, cipher, flags)?;
        let key = id.inner.signing_key().map_err(Failure::from)?;
        let own = identity_certificate(id)?;
        // SAFETY: `out` checked above.
        unsafe {
            produce(ctx, msg, out, || {
                mss::secure_reply(msg, level, key, &recipients, Some(own), &opts)
            })
        }
    })
}

/// The `mss_security_level` value `level`.
pub(crate) fn security_level(level: u32) -> Result<SecurityLevel, Failure> {
    Ok(match level {
        0 => SecurityLevel::None,
        1 => SecurityLevel::Signed,
        2 => SecurityLevel::Encrypted,
        3 => SecurityLevel::SignedEncrypted,
        other => return Err(Failure::invalid(format!("unknown security level {other}"))),
    })
}

/// Open a received message: MIME (S/MIME, any nesting) or a bare CMS object (DER, BER,
/// PEM). Every signature and its chain is verified against the trust anchors of `ctx` on
/// every call; encrypted layers are decrypted with one of `identities`.
///
/// `identities`: an array of `identities_len` identities that may decrypt; NULL when
/// `identities_len` is 0 (signed-only messages). On success, `*out_message` receives the
/// clear MIME message (received headers + innermost entity) and `*out_report` the report,
/// both owned by the caller (`mss_buffer_free`, `mss_report_free`). A signature that
/// does not verify is *not* an error: the call succeeds and the report says so. On
/// failure nothing is written.
///
/// # Safety
///
/// `ctx` NULL or live; `identities` NULL or `identities_len` pointers to live identities;
/// `msg` NULL or `msg_len` readable bytes; outputs NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_open(
    ctx: *const mss_context,
    identities: *const *const mss_identity,
    identities_len: usize,
    msg: *const u8,
    msg_len: usize,
    out_message: *mut *mut mss_buffer,
    out_report: *mut *mut mss_report,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let keys = unsafe { decryption_keys(identities, identities_len) }?;
        // SAFETY: per the caller.
        let msg = unsafe { bytes(msg, msg_len, "msg") }?;
        out_ptr(out_message, "out_message")?;
        out_ptr(out_report, "out_report")?;
        let http = mss::trust::HttpFetcher::default();
        let opts = open_options(ctx, keys, &http);
        ctx.progress(0, msg.len() as u64);
        let opened = mss::open(msg, &opts)?;
        ctx.progress(msg.len() as u64, msg.len() as u64);
        let message = mss_buffer::new(opened.message);
        let report = mss_report::new(opened.report);
        // SAFETY: both outputs are non-NULL and writable per the caller; nothing can fail
        // after this point, so both or neither are written.
        unsafe {
            *out_message = Box::into_raw(message);
            *out_report = Box::into_raw(report);
        }
        Ok(())
    })
}
