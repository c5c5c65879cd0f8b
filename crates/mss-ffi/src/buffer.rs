//! Bytes handed to C (`mss_buffer`), byte slices received from C (`mss_slice`), and the
//! pointer checks every entry point uses to turn raw arguments into references.

use std::ffi::{CStr, c_char};

use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::status::{Failure, guard_value, mss_status};

/// Bytes produced by mss (a message, a report as JSON, a certificate), owned by the
/// library until `mss_buffer_free`.
///
/// The bytes are followed by a NUL byte that `mss_buffer_len` does not count, so text
/// outputs (MIME messages, JSON) can be used as C strings directly; binary contents may
/// still hold NUL bytes of their own. The memory is zeroed when the buffer is freed (a
/// decrypted message is confidential).
///
/// Thread-safety: immutable; may be read from several threads at once, freed once.
pub struct mss_buffer {
    /// The bytes and the trailing NUL.
    data: Zeroizing<Vec<u8>>,
}

impl mss_buffer {
    /// Take ownership of `bytes` (zeroized on free).
    pub(crate) fn new(bytes: Vec<u8>) -> Box<mss_buffer> {
        // Copy into an allocation of the final size (a `push` could reallocate and leave
        // the old, unzeroed copy behind), then zero the original.
        let bytes = Zeroizing::new(bytes);
        let mut data = Zeroizing::new(Vec::with_capacity(bytes.len() + 1));
        data.extend_from_slice(&bytes);
        data.push(0);
        Box::new(mss_buffer { data })
    }

    /// The bytes, without the trailing NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..self.data.len() - 1]
    }
}

/// A borrowed byte slice passed by the caller (e.g. one certificate in an array).
///
/// mss only reads `len` bytes from `data` during the call and keeps no pointer to them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mss_slice {
    /// The first byte (must not be NULL).
    pub data: *const u8,
    /// The number of bytes.
    pub len: usize,
}

/// The first byte of the buffer's contents, or NULL if `buffer` is NULL.
///
/// The pointer is borrowed: valid until `mss_buffer_free(buffer)`. A NUL byte follows the
/// last byte (see `mss_buffer`).
///
/// # Safety
///
/// `buffer` must be NULL or a live buffer returned by mss.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_buffer_data(buffer: *const mss_buffer) -> *const u8 {
    guard_value(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live buffer.
        match unsafe { buffer.as_ref() } {
            Some(b) => b.data.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// The number of bytes in the buffer (the trailing NUL not counted); 0 if `buffer` is NULL.
///
/// # Safety
///
/// `buffer` must be NULL or a live buffer returned by mss.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_buffer_len(buffer: *const mss_buffer) -> usize {
    guard_value(0, || {
        // SAFETY: the caller passes NULL or a live buffer.
        unsafe { buffer.as_ref() }.map_or(0, |b| b.as_bytes().len())
    })
}

/// Zero and free a buffer. NULL is accepted and ignored. The buffer must not be used
/// afterwards, nor freed twice.
///
/// # Safety
///
/// `buffer` must be NULL or a live buffer returned by mss, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_buffer_free(buffer: *mut mss_buffer) {
    guard_value((), || {
        if !buffer.is_null() {
            // SAFETY: the caller passes a buffer that mss allocated with Box::into_raw and
            // that has not been freed; ownership comes back here once.
            drop(unsafe { Box::from_raw(buffer) });
        }
    })
}

/// Borrow `len` bytes at `data`; NULL is `MSS_NULL_ARGUMENT` (even with `len == 0`).
///
/// # Safety
///
/// `data` must be NULL or point to `len` readable bytes that stay valid and unmodified
/// for `'a`.
pub(crate) unsafe fn bytes<'a>(
    data: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if data.is_null() {
        return Err(Failure::null(what));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what}: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, at most isize::MAX bytes; readability and lifetime are the
    // caller's guarantee (documented on every entry point).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Borrow an array of `len` items at `items`; NULL is accepted only when `len == 0`.
///
/// # Safety
///
/// `items` must be NULL or point to `len` initialised values valid for `'a`.
pub(crate) unsafe fn array<'a, T>(
    items: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if items.is_null() {
        return Err(Failure::null(what));
    }
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Failure::invalid(format!(
            "{what}: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL and the size fits isize; validity is the caller's guarantee.
    Ok(unsafe { std::slice::from_raw_parts(items, len) })
}

/// Borrow a handle; NULL is `MSS_NULL_ARGUMENT`.
///
/// # Safety
///
/// `handle` must be NULL or point to a live `T` created by mss, valid for `'a`.
pub(crate) unsafe fn handle<'a, T>(handle: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: NULL or live, per the caller.
    unsafe { handle.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// Borrow a NUL-terminated UTF-8 string; NULL is `MSS_NULL_ARGUMENT`.
///
/// # Safety
///
/// `s` must be NULL or a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn utf8<'a>(s: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if s.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str().map_err(|_| {
        Failure::new(
            mss_status::MSS_INVALID_UTF8,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Check that an output pointer is not NULL.
pub(crate) fn out_ptr<T>(out: *mut *mut T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::null(what))
    } else {
        Ok(())
    }
}

/// Certificates from DER (one) or PEM (one or more `CERTIFICATE` blocks).
pub(crate) fn parse_certificates(input: &[u8], what: &str) -> Result<Vec<Certificate>, Failure> {
    use der::Decode;
    let bad = |e: String| Failure::new(mss_status::MSS_INVALID_CERTIFICATE, format!("{what}: {e}"));
    if input.first() == Some(&0x30) {
        return Certificate::from_der(input)
            .map(|c| vec![c])
            .map_err(|e| bad(format!("not a DER certificate: {e}")));
    }
    let text = std::str::from_utf8(input).map_err(|_| bad("neither DER nor PEM".into()))?;
    if !text.contains("-----BEGIN") {
        return Err(bad("neither DER nor PEM".into()));
    }
    let certs = Certificate::load_pem_chain(input)
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate found".into()));
    }
    Ok(certs)
}

/// Exactly one certificate, DER or PEM.
pub(crate) fn parse_certificate(input: &[u8], what: &str) -> Result<Certificate, Failure> {
    let mut certs = parse_certificates(input, what)?;
    if certs.len() != 1 {
        return Err(Failure::new(
            mss_status::MSS_INVALID_CERTIFICATE,
            format!("{what}: expected one certificate, found {}", certs.len()),
        ));
    }
    Ok(certs.remove(0))
}
