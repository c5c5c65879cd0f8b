//! Status codes, the thread-local last error message and the panic boundary every entry
//! point runs inside. This module owns the mapping from the facade's and the token layer's
//! errors to `mss_status`; the other modules only return `Failure`s.

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mss_token::{CardError, TokenError};

/// The result of every call that can fail. Numbers are stable: a retired number stays
/// reserved and is never reused.
///
/// Ranges: `0` success; `1xxx` usage (arguments, buffers, internal errors); `2xxx`
/// cryptography and algorithm policy; `3xxx` the message (malformed, not addressed to
/// the caller, decryption failed); `4xxx` identities (password, PIN, key files);
/// `5xxx` reserved for the certificate directory (e.g. missing recipient certificates),
/// not returned yet. A caller that meets an unknown number should treat it by its range.
///
/// After any status other than `MSS_OK`, `mss_last_error_message` gives the reason in
/// words, on the same thread.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum mss_status {
    /// Success. Outputs have been written.
    MSS_OK = 0,
    /// A required pointer argument was NULL.
    MSS_NULL_ARGUMENT = 1001,
    /// An argument is out of range or inconsistent (unknown flag, cipher or policy value,
    /// index, a request the facade refuses such as a recipient certificate not fit for
    /// S/MIME encryption).
    MSS_INVALID_ARGUMENT = 1002,
    /// The caller's buffer is too small (reserved: `mss_last_error_message` truncates
    /// instead, like `snprintf`).
    MSS_BUFFER_TOO_SMALL = 1003,
    /// A bug in mss: a Rust panic was caught at the boundary (or an error mss does not
    /// know how to classify). The handles passed in are still valid and must still be freed.
    MSS_INTERNAL_ERROR = 1004,
    /// The feature is not available in this build of the library.
    MSS_UNSUPPORTED = 1005,
    /// A string argument is not valid UTF-8.
    MSS_INVALID_UTF8 = 1006,
    /// Reading a file failed (missing, unreadable), or reading or writing a stream
    /// failed outside the callbacks.
    MSS_IO_ERROR = 1007,
    /// A certificate argument is neither a DER certificate nor PEM `CERTIFICATE` blocks
    /// (or a single certificate was expected and there are several).
    MSS_INVALID_CERTIFICATE = 1008,
    /// The read callback of a streaming call (`mss_*_stream`) returned an error code (or
    /// claimed more bytes than asked): the operation stopped. `mss_last_error_message`
    /// gives the code. Discard what was written.
    MSS_READ_CALLBACK_FAILED = 1009,
    /// The write callback of a streaming call returned an error code (or claimed 0 or
    /// more bytes than given): the operation stopped. `mss_last_error_message` gives the
    /// code. Discard what was written.
    MSS_WRITE_CALLBACK_FAILED = 1010,
    /// The algorithm policy refuses the operation (e.g. producing 3DES under the standard
    /// policy; see `mss_context_set_policy`).
    MSS_POLICY_VIOLATION = 2001,
    /// A private-key operation failed.
    MSS_KEY_OPERATION_FAILED = 2002,
    /// The message is not well-formed MIME / CMS.
    MSS_MALFORMED_MESSAGE = 3001,
    /// None of the identities given to `mss_open` is a recipient of the message.
    MSS_NOT_A_RECIPIENT = 3002,
    /// Decryption failed: corrupted or forged message, or wrong key.
    MSS_DECRYPTION_FAILED = 3003,
    /// Well-formed but not handled by mss (content type, algorithm).
    MSS_UNSUPPORTED_CONTENT = 3004,
    /// Wrong password (or a corrupted PKCS#12 file: the two cannot be told apart).
    MSS_BAD_PASSWORD = 4001,
    /// The PIN callback cancelled (returned a negative value), or a password was needed and
    /// no callback was given.
    MSS_CANCELLED = 4002,
    /// The identity is not well-formed (PEM, PKCS#12, key).
    MSS_IDENTITY_MALFORMED = 4003,
    /// The identity uses something mss does not implement (key type, PBE algorithm).
    MSS_IDENTITY_UNSUPPORTED = 4004,
    /// The identity holds no private key.
    MSS_IDENTITY_NO_KEY = 4005,
    /// The identity holds no certificate.
    MSS_IDENTITY_NO_CERTIFICATE = 4006,
    /// No certificate of the identity matches its private key.
    MSS_IDENTITY_KEY_MISMATCH = 4007,
    /// Another identity error.
    MSS_IDENTITY_ERROR = 4008,
    /// No PKCS#11 module given, or it cannot be loaded.
    MSS_CARD_NO_MODULE = 4101,
    /// No card (token) matches: insert your card.
    MSS_CARD_ABSENT = 4102,
    /// The card was removed, or its session closed, during the operation.
    MSS_CARD_REMOVED = 4103,
    /// Wrong PIN; `mss_last_error_message` says how many tries are left when the card tells.
    MSS_CARD_WRONG_PIN = 4104,
    /// The card's PIN is locked.
    MSS_CARD_PIN_LOCKED = 4105,
    /// The card holds no identity matching the URI, or the key may not be used this way.
    MSS_CARD_NO_IDENTITY = 4106,
    /// Another card or PKCS#11 module error.
    MSS_CARD_ERROR = 4107,
}

/// A failed call: the status and the message stored for `mss_last_error_message`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: mss_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: mss_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Self {
        Failure::new(
            mss_status::MSS_NULL_ARGUMENT,
            format!("{what} must not be NULL"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(mss_status::MSS_INVALID_ARGUMENT, message)
    }
}

impl From<mss::Error> for Failure {
    fn from(e: mss::Error) -> Self {
        use mss_status::*;
        let status = match &e {
            mss::Error::PolicyViolation { .. } => MSS_POLICY_VIOLATION,
            mss::Error::NotARecipient { .. } => MSS_NOT_A_RECIPIENT,
            mss::Error::DecryptionFailed => MSS_DECRYPTION_FAILED,
            mss::Error::Malformed(_) => MSS_MALFORMED_MESSAGE,
            mss::Error::Unsupported(_) => MSS_UNSUPPORTED_CONTENT,
            mss::Error::Key(_) => MSS_KEY_OPERATION_FAILED,
            mss::Error::InvalidRequest(_) => MSS_INVALID_ARGUMENT,
            mss::Error::Io(_) => MSS_IO_ERROR,
            _ => MSS_INTERNAL_ERROR,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<CardError> for Failure {
    fn from(e: CardError) -> Self {
        use mss_status::*;
        let status = match &e {
            CardError::Token(t) => return Failure::new(token_status(t), format!("identity: {t}")),
            CardError::NoModule | CardError::ModuleLoad { .. } => MSS_CARD_NO_MODULE,
            CardError::NoToken { .. } | CardError::AmbiguousToken { .. } => MSS_CARD_ABSENT,
            CardError::CardRemoved | CardError::NotLoggedIn => MSS_CARD_REMOVED,
            CardError::WrongPin { .. } => MSS_CARD_WRONG_PIN,
            CardError::PinLocked => MSS_CARD_PIN_LOCKED,
            CardError::PinCancelled => MSS_CANCELLED,
            CardError::Uri(_) => MSS_INVALID_ARGUMENT,
            CardError::NoIdentity { .. } | CardError::KeyUsage(_) => MSS_CARD_NO_IDENTITY,
            _ => MSS_CARD_ERROR,
        };
        Failure::new(status, format!("card: {e}"))
    }
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        Failure::new(token_status(&e), format!("identity: {e}"))
    }
}

fn token_status(e: &TokenError) -> mss_status {
    use mss_status::*;
    match e {
        TokenError::Io(_) => MSS_IO_ERROR,
        TokenError::BadPassword => MSS_BAD_PASSWORD,
        TokenError::Cancelled | TokenError::PasswordRequired => MSS_CANCELLED,
        TokenError::Malformed(_) => MSS_IDENTITY_MALFORMED,
        TokenError::Unsupported(_) => MSS_IDENTITY_UNSUPPORTED,
        TokenError::NoKey => MSS_IDENTITY_NO_KEY,
        TokenError::NoCertificate => MSS_IDENTITY_NO_CERTIFICATE,
        TokenError::KeyMismatch => MSS_IDENTITY_KEY_MISMATCH,
        _ => MSS_IDENTITY_ERROR,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    // NUL bytes would cut the C string short: replace them.
    let message = if message.contains('\0') {
        message.replace('\0', "\u{FFFD}")
    } else {
        message
    };
    LAST_ERROR.with(|m| *m.borrow_mut() = message);
}

fn clear_last_error() {
    LAST_ERROR.with(|m| m.borrow_mut().clear());
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Run the body of a status-returning entry point inside the panic boundary; record the
/// last error message (or clear it on success).
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> mss_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            mss_status::MSS_OK
        }
        Ok(Err(f)) => {
            set_last_error(f.message);
            f.status
        }
        Err(payload) => {
            set_last_error(format!(
                "internal error: a panic was caught at the C boundary: {}",
                panic_message(payload.as_ref())
            ));
            mss_status::MSS_INTERNAL_ERROR
        }
    }
}

/// Run the body of an entry point that returns a value (accessors, `_free`) inside the
/// panic boundary; a panic yields `fallback`. The last error message is left alone.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Copy the calling thread's last error message into `buf` and return its length in bytes,
/// not counting the terminating NUL — like `snprintf`.
///
/// The message describes the last call on this thread that returned a status: it is
/// empty after a success. When `buf_len` is at least the returned value plus one, the
/// whole message and a NUL were written; otherwise the message was truncated to
/// `buf_len - 1` bytes (cut on a UTF-8 character boundary) and NUL-terminated, so call
/// again with a buffer of `return value + 1` bytes. With `buf == NULL` or
/// `buf_len == 0` nothing is written (use it to ask for the length).
///
/// Thread-safe: each thread has its own message. The message is UTF-8 and never contains
/// passwords, PINs or key material.
///
/// # Safety
///
/// `buf` must be NULL or point to `buf_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mss_last_error_message(buf: *mut c_char, buf_len: usize) -> usize {
    guard_value(0, || {
        LAST_ERROR.with(|m| {
            let m = m.borrow();
            if !buf.is_null() && buf_len > 0 {
                let mut n = m.len().min(buf_len - 1);
                while !m.is_char_boundary(n) {
                    n -= 1;
                }
                // SAFETY: the caller guarantees `buf` points to `buf_len` writable bytes;
                // n + 1 <= buf_len, and the source is a distinct Rust allocation.
                unsafe {
                    std::ptr::copy_nonoverlapping(m.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            m.len()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_catches_panics_and_records_them() {
        let st = guard(|| panic!("boom-{}", 42));
        assert_eq!(st, mss_status::MSS_INTERNAL_ERROR);
        let msg = LAST_ERROR.with(|m| m.borrow().clone());
        assert!(msg.contains("boom-42"), "{msg}");
        assert_eq!(guard(|| Ok(())), mss_status::MSS_OK);
        assert!(LAST_ERROR.with(|m| m.borrow().is_empty()));
    }

    #[test]
    fn nul_bytes_in_messages_are_replaced() {
        let st = guard(|| Err(Failure::invalid("a\0b")));
        assert_eq!(st, mss_status::MSS_INVALID_ARGUMENT);
        assert_eq!(LAST_ERROR.with(|m| m.borrow().clone()), "a\u{FFFD}b");
    }
}
