//! `mss_identity`: a certificate, its chain and a private key (today a software identity
//! read from PKCS#12 or PEM), opened with the vendor's own PIN dialog.

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Mutex;

use der::Encode;
use mss_token::{Identity, NoPin, PinRequest, PinSource, SoftwareIdentity, TokenError};
use zeroize::Zeroizing;

use crate::buffer::{bytes, handle, mss_buffer, out_ptr, utf8};
use crate::status::{Failure, guard, guard_value, mss_status};

/// Size of the buffer handed to the PIN callback.
const PIN_BUFFER_LEN: usize = 1024;

/// Asks the user for a password or PIN — the vendor's own dialog.
///
/// - `userdata`: the pointer given to `mss_identity_open_*`;
/// - `prompt`: what is asked, e.g. `password for alice.p12` (UTF-8, borrowed for the
///   duration of the call);
/// - `retries_left`: attempts left before the token locks, or -1 when unknown (always
///   -1 for files);
/// - `buf`, `buf_len`: where to write the PIN (UTF-8, no terminating NUL needed). mss zeroes
///   the buffer after use.
///
/// Return the PIN's length in bytes (0 for an empty password), or a negative value to
/// cancel (`MSS_CANCELLED`). A length above `buf_len` or a PIN that is not UTF-8 is
/// `MSS_INVALID_ARGUMENT`. The callback runs on the calling thread, before
/// `mss_identity_open_*` returns; it may be called zero times (unencrypted PEM) or once.
/// Declared `C-unwind` on the Rust side: do not throw C++ exceptions from it.
pub type mss_pin_callback = Option<
    unsafe extern "C-unwind" fn(
        userdata: *mut c_void,
        prompt: *const c_char,
        retries_left: c_int,
        buf: *mut c_char,
        buf_len: usize,
    ) -> c_int,
>;

/// An identity: a certificate, its chain and the private key, able to sign and decrypt.
///
/// Created by `mss_identity_open_file` / `mss_identity_open_bytes`, freed by
/// `mss_identity_free` (which zeroes the key). Thread-safety: immutable once opened; may
/// be used by several threads at once.
pub struct mss_identity {
    pub(crate) inner: Box<dyn Identity>,
}

/// The C callback as a [`PinSource`], recording misuse (bad length, not UTF-8).
struct CallbackPin {
    callback:
        unsafe extern "C-unwind" fn(*mut c_void, *const c_char, c_int, *mut c_char, usize) -> c_int,
    userdata: *mut c_void,
    misuse: Mutex<Option<String>>,
}

// SAFETY: `PinSource` requires Send + Sync because identities may be loaded from any
// thread. A `CallbackPin` lives on the stack of one `mss_identity_open_*` call and is only
// used by that thread during the call; the raw `userdata` is never shared elsewhere.
unsafe impl Send for CallbackPin {}
// SAFETY: as above: never accessed from two threads.
unsafe impl Sync for CallbackPin {}

impl CallbackPin {
    fn misuse(&self, what: String) -> TokenError {
        if let Ok(mut m) = self.misuse.lock() {
            *m = Some(what);
        }
        TokenError::Cancelled
    }
}

impl PinSource for CallbackPin {
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        let prompt = CString::new(request.what.replace('\0', "\u{FFFD}"))
            .map_err(|_| TokenError::Cancelled)?;
        let retries = request
            .retries_left
            .map_or(-1, |r| c_int::try_from(r).unwrap_or(c_int::MAX));
        let mut buf = Zeroizing::new(vec![0u8; PIN_BUFFER_LEN]);
        // SAFETY: the function pointer and userdata come from the caller of
        // `mss_identity_open_*`, who promised they are valid for the call; `prompt` is a
        // NUL-terminated string alive until the end of this function; `buf` has
        // `buf.len()` writable bytes.
        let n = unsafe {
            (self.callback)(
                self.userdata,
                prompt.as_ptr(),
                retries,
                buf.as_mut_ptr().cast::<c_char>(),
                buf.len(),
            )
        };
        let Ok(n) = usize::try_from(n) else {
            return Err(TokenError::Cancelled);
        };
        if n > buf.len() {
            return Err(self.misuse(format!(
                "the PIN callback returned {n}, more than the buffer's {} bytes",
                buf.len()
            )));
        }
        match std::str::from_utf8(&buf[..n]) {
            Ok(pin) => Ok(Zeroizing::new(pin.to_owned())),
            Err(_) => Err(self.misuse("the PIN given by the callback is not UTF-8".into())),
        }
    }
}

fn open_with<E: Into<Failure>>(
    callback: mss_pin_callback,
    userdata: *mut c_void,
    load: impl FnOnce(&dyn PinSource) -> Result<Box<dyn Identity>, E>,
) -> Result<Box<mss_identity>, Failure> {
    let result = match callback {
        Some(callback) => {
            let pins = CallbackPin {
                callback,
                userdata,
                misuse: Mutex::new(None),
            };
            let r = load(&pins);
            if let Some(m) = pins.misuse.lock().ok().and_then(|mut m| m.take()) {
                return Err(Failure::invalid(m));
            }
            r
        }
        None => load(&NoPin),
    };
    Ok(Box::new(mss_identity {
        inner: result.map_err(Into::into)?,
    }))
}

/// Open an identity from a file: PEM (a private key, possibly encrypted, and
/// certificates) or DER PKCS#12.
///
/// `pin_callback` is asked for the password when one is needed (always for PKCS#12,
/// only for an encrypted PEM key); it may be NULL when none is needed (a password then
/// needed is `MSS_CANCELLED`). On success `*out` receives an identity owned by the
/// caller, to free with `mss_identity_free`; on failure `*out` is untouched.
///
/// # Safety
///
/// `path` must be NULL or a NUL-terminated UTF-8 string; `userdata` is passed to the
/// callback untouched; `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_identity_open_file(
    path: *const c_char,
    pin_callback: mss_pin_callback,
    userdata: *mut c_void,
    out: *mut *mut mss_identity,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let path = unsafe { utf8(path, "path") }?;
        out_ptr(out, "out")?;
        let id = open_with(pin_callback, userdata, |pins| {
            SoftwareIdentity::load(Path::new(path), pins).map(|i| Box::new(i) as Box<dyn Identity>)
        })
        .map_err(|mut f| {
            if f.status == mss_status::MSS_IO_ERROR {
                f.message = format!("{path}: {}", f.message);
            }
            f
        })?;
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(id) };
        Ok(())
    })
}

/// Open an identity from bytes (PEM text or DER PKCS#12), like `mss_identity_open_file`.
///
/// `label` names the input in the PIN prompt (`password for {label}`); NULL means
/// `identity`. The bytes are not kept.
///
/// # Safety
///
/// `data` must be NULL or point to `len` readable bytes; `label` NULL or a NUL-terminated
/// UTF-8 string; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_identity_open_bytes(
    data: *const u8,
    len: usize,
    label: *const c_char,
    pin_callback: mss_pin_callback,
    userdata: *mut c_void,
    out: *mut *mut mss_identity,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let data = unsafe { bytes(data, len, "data") }?;
        let label = if label.is_null() {
            "identity"
        } else {
            // SAFETY: non-NULL, NUL-terminated per the caller.
            unsafe { utf8(label, "label") }?
        };
        out_ptr(out, "out")?;
        let id = open_with(pin_callback, userdata, |pins| {
            SoftwareIdentity::load_bytes(data, label, pins)
                .map(|i| Box::new(i) as Box<dyn Identity>)
        })?;
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(id) };
        Ok(())
    })
}

/// The identity's certificate, DER-encoded, in a new buffer owned by the caller (free with
/// `mss_buffer_free`) — e.g. to give it to correspondents.
///
/// # Safety
///
/// `identity` must be NULL or a live identity; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_identity_certificate(
    identity: *const mss_identity,
    out: *mut *mut mss_buffer,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let id = unsafe { handle(identity, "identity") }?;
        out_ptr(out, "out")?;
        let der = identity_certificate(id)?
            .to_der()
            .map_err(|e| Failure::new(mss_status::MSS_INTERNAL_ERROR, e.to_string()))?;
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(mss_buffer::new(der)) };
        Ok(())
    })
}

/// Open an identity on a smart card (the CPS card) through PKCS#11.
///
/// `uri` is an RFC 7512 PKCS#11 URI selecting the token, e.g. `pkcs11:token=CPS3%20…`
/// (it may carry `?module-path=`); `module_path` is the PKCS#11 module (NULL: the URI's
/// `module-path`, else the environment variable `MSS_PKCS11_MODULE`). The PIN is asked
/// once through `pin_callback` (`retries_left` says how many tries remain when the card
/// tells) and is never retried on its own. The identity signs with the card's signature
/// key and decrypts with its authentication key; the session stays logged in until
/// `mss_identity_free`. Statuses: `MSS_CARD_*`, `MSS_CANCELLED`.
///
/// # Safety
///
/// `uri` must be NULL or a NUL-terminated UTF-8 string; `module_path` NULL or a
/// NUL-terminated UTF-8 string; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_identity_open_pkcs11(
    uri: *const c_char,
    module_path: *const c_char,
    pin_callback: mss_pin_callback,
    userdata: *mut c_void,
    out: *mut *mut mss_identity,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let uri = unsafe { utf8(uri, "uri") }?;
        if !uri.starts_with("pkcs11:") {
            return Err(Failure::invalid("uri must be a pkcs11: URI"));
        }
        let module = if module_path.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the caller.
            Some(Path::new(unsafe { utf8(module_path, "module_path") }?))
        };
        out_ptr(out, "out")?;
        let id = open_with(pin_callback, userdata, |pins| {
            mss_token::open_identity(uri, module, pins)
        })?;
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { *out = Box::into_raw(id) };
        Ok(())
    })
}

/// The certificate an identity is known by: its encryption (decryption) certificate,
/// which correspondents encrypt to; for a software identity the one certificate.
pub(crate) fn identity_certificate(id: &mss_identity) -> Result<&x509_cert::Certificate, Failure> {
    Ok(id
        .inner
        .decryption_key()
        .map_err(Failure::from)?
        .certificate())
}

/// Free an identity, zeroing its private key. NULL is accepted and ignored.
///
/// # Safety
///
/// `identity` must be NULL or a live identity not in use by another thread, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_identity_free(identity: *mut mss_identity) {
    guard_value((), || {
        if !identity.is_null() {
            // SAFETY: allocated by mss_identity_open_* with Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(identity) });
        }
    })
}
