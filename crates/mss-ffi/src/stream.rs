//! The streaming calls: `mss_sign_stream`, `mss_encrypt_stream`,
//! `mss_sign_encrypt_stream`, `mss_open_stream`. The message comes in through a read
//! callback and goes out through a write callback (the shape of rustls-ffi's
//! `rustls_read_callback` / `rustls_write_callback`), through the facade's `mss::stream`
//! functions, in memory bounded whatever the size of the message.
//!
//! The glue is thin: `CallbackReader` and `CallbackWriter` turn the callbacks into
//! `io::Read` / `io::Write`, count the bytes read for the progress callback and keep the
//! first callback failure, which then wins over whatever error the facade made of it
//! (the facade sees only an `io::Error`), so that a failing callback always gives its
//! own status and code.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::io::{self, Read, Write};

use mss::MessageOptions;
use zeroize::Zeroizing;

use crate::buffer::{handle, mss_slice, out_ptr};
use crate::context::{context, mss_context};
use crate::identity::{identity_certificate, mss_identity};
use crate::ops::{
    ENCRYPT_FLAGS, SIGN_FLAGS, check_flags, decryption_keys, encrypt_options, open_options,
    recipients, security_level, sender_certificate, sign_options,
};
use crate::report::{mss_report, mss_security_level};
use crate::status::{Failure, guard, mss_status};

/// Reads the next bytes of the input of a streaming call.
///
/// Write at most `len` bytes into `buf`, store their number in `*out_n` and return 0.
/// `*out_n == 0` with a 0 return means the end of the input (mss may ask again: report
/// the end again). Any other return value is an error code of your choosing (an `errno`
/// value such as `EIO` is the convention): the operation stops, returns
/// `MSS_READ_CALLBACK_FAILED`, and `mss_last_error_message` carries the code. mss does
/// not retry: handle `EINTR` / `EAGAIN` inside the callback (block until data comes).
/// Storing more than `len` in `*out_n` is an error too.
///
/// `userdata` is the `read_userdata` given to the call. Called only on the calling
/// thread, only during the call, never again after it returned an error. Declared
/// `C-unwind` on the Rust side: do not throw C++ exceptions or `longjmp` out of it.
pub type mss_read_callback = Option<
    unsafe extern "C-unwind" fn(
        userdata: *mut c_void,
        buf: *mut u8,
        len: usize,
        out_n: *mut usize,
    ) -> c_int,
>;

/// Writes the next bytes of the output of a streaming call.
///
/// Consume up to `len` bytes (`len > 0`) from `buf`, store how many in `*out_n` (at
/// least 1: a short write is fine, mss calls again with the rest) and return 0. Any
/// other return value is an error code of your choosing (`errno` style): the operation
/// stops, returns `MSS_WRITE_CALLBACK_FAILED`, and `mss_last_error_message` carries the
/// code. Storing 0 or more than `len` in `*out_n` is an error too.
///
/// `userdata` is the `write_userdata` given to the call. Called only on the calling
/// thread, only during the call, never again after it returned an error. `buf` is
/// borrowed for the duration of the callback only (copy what you keep). Do not throw
/// C++ exceptions or `longjmp` out of it.
pub type mss_write_callback = Option<
    unsafe extern "C-unwind" fn(
        userdata: *mut c_void,
        buf: *const u8,
        len: usize,
        out_n: *mut usize,
    ) -> c_int,
>;

type ReadFn = unsafe extern "C-unwind" fn(*mut c_void, *mut u8, usize, *mut usize) -> c_int;
type WriteFn = unsafe extern "C-unwind" fn(*mut c_void, *const u8, usize, *mut usize) -> c_int;

/// Output bytes gathered before one call of the write callback.
const WRITE_CHUNK: usize = 64 * 1024;

/// The first failure of a caller's callback in one call.
type Failed = RefCell<Option<Failure>>;

fn stopped() -> io::Error {
    io::Error::other("a stream callback failed")
}

/// The read callback as `io::Read`; reports progress after every read.
struct CallbackReader<'a> {
    callback: ReadFn,
    userdata: *mut c_void,
    failed: &'a Failed,
    ctx: &'a mss_context,
    /// Bytes read so far.
    done: u64,
    /// The caller's total (0: unknown), passed through to the progress callback.
    total: u64,
}

impl Read for CallbackReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.borrow().is_some() {
            return Err(stopped());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0usize;
        // SAFETY: `buf` is `buf.len()` writable bytes and `n` a writable usize, both valid
        // for the duration of the call; the function pointer and userdata are the
        // caller's, valid during the operation per its contract. `C-unwind`: an unwind
        // out of it reaches the entry point's boundary.
        let code = unsafe { (self.callback)(self.userdata, buf.as_mut_ptr(), buf.len(), &mut n) };
        let failure = if code != 0 {
            Some(format!(
                "the read callback failed with code {code} after {} bytes",
                self.done
            ))
        } else if n > buf.len() {
            Some(format!(
                "the read callback reported {n} bytes read into a buffer of {}",
                buf.len()
            ))
        } else {
            None
        };
        if let Some(message) = failure {
            *self.failed.borrow_mut() =
                Some(Failure::new(mss_status::MSS_READ_CALLBACK_FAILED, message));
            return Err(stopped());
        }
        if n > 0 {
            self.done += n as u64;
            self.ctx.progress(self.done, self.total);
        }
        Ok(n)
    }
}

/// The write callback as `io::Write`, through a zeroized buffer of `WRITE_CHUNK`
/// bytes (decrypted content passes through it).
struct CallbackWriter<'a> {
    callback: WriteFn,
    userdata: *mut c_void,
    failed: &'a Failed,
    pending: Zeroizing<Vec<u8>>,
    /// Bytes accepted by the callback so far.
    written: u64,
}

impl CallbackWriter<'_> {
    /// Hand `data` to the callback, all of it.
    fn emit(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.failed.borrow().is_some() {
                return Err(stopped());
            }
            let mut n = 0usize;
            // SAFETY: `data` is readable for its length and `n` writable during the call;
            // the function pointer and userdata are the caller's, valid during the
            // operation per its contract.
            let code = unsafe { (self.callback)(self.userdata, data.as_ptr(), data.len(), &mut n) };
            let failure = if code != 0 {
                Some(format!(
                    "the write callback failed with code {code} after {} bytes",
                    self.written
                ))
            } else if n == 0 || n > data.len() {
                Some(format!(
                    "the write callback reported {n} bytes written of {}",
                    data.len()
                ))
            } else {
                None
            };
            if let Some(message) = failure {
                *self.failed.borrow_mut() =
                    Some(Failure::new(mss_status::MSS_WRITE_CALLBACK_FAILED, message));
                return Err(stopped());
            }
            self.written += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    /// Hand the pending bytes to the callback.
    fn drain(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = self.emit(&pending);
        // Keep the (zeroized) allocation for the next bytes.
        self.pending = pending;
        self.pending.clear();
        result
    }
}

impl Write for CallbackWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed.borrow().is_some() {
            return Err(stopped());
        }
        if self.pending.len() + buf.len() > WRITE_CHUNK {
            self.drain()?;
        }
        if buf.len() >= WRITE_CHUNK {
            self.emit(buf)?;
        } else {
            self.pending.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

impl Drop for CallbackWriter<'_> {
    fn drop(&mut self) {
        // Never write on drop: bytes left pending after a failure are discarded (and
        // zeroized with the buffer).
        self.pending.clear();
    }
}

/// Run `op` over the caller's callbacks: progress 0 first, after every read, and the
/// final count once `op` succeeded and every byte was written. A callback failure wins
/// over the facade's error (and over a success, which cannot follow one anyway).
fn run<T>(
    ctx: &mss_context,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
    op: impl FnOnce(&mut dyn Read, &mut dyn Write) -> Result<T, mss::Error>,
) -> Result<T, Failure> {
    let read = read.ok_or_else(|| Failure::null("read"))?;
    let write = write.ok_or_else(|| Failure::null("write"))?;
    let failed: Failed = RefCell::new(None);
    let mut reader = CallbackReader {
        callback: read,
        userdata: read_userdata,
        failed: &failed,
        ctx,
        done: 0,
        total,
    };
    let mut writer = CallbackWriter {
        callback: write,
        userdata: write_userdata,
        failed: &failed,
        pending: Zeroizing::new(Vec::with_capacity(WRITE_CHUNK)),
        written: 0,
    };
    ctx.progress(0, total);
    let result = op(&mut reader, &mut writer).map_err(Failure::from);
    let result = match result {
        Ok(value) => writer.drain().map(|()| value).map_err(|_| {
            failed
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Failure::new(mss_status::MSS_INTERNAL_ERROR, "output lost"))
        }),
        Err(e) => Err(e),
    };
    drop(writer);
    if let Some(f) = failed.borrow_mut().take() {
        return Err(f);
    }
    let value = result?;
    ctx.progress(reader.done, total);
    Ok(value)
}

/// Sign a draft read through `read`, writing the signed message through `write`: the
/// streaming `mss_sign`, in bounded memory whatever the size of the draft.
///
/// The draft (RFC 5322 header fields, blank line, body) is read once: its Content-*
/// fields and body become the signed entity (a body not declared `7bit`,
/// `quoted-printable` or `base64` is base64-encoded on the fly), its other header fields
/// stay outside. `flags` as in `mss_sign`. A detached signature of a draft declaring a
/// `binary` or `8bit` transfer encoding is refused (`MSS_INVALID_ARGUMENT`): sign it
/// with `MSS_SIGN_OPAQUE`.
///
/// Progress: the context's progress callback is called with `done = 0` first, then after
/// every read with the number of input bytes read so far, and once more with the final
/// count after success. `total` is passed through as its `total` argument: the input
/// length when you know it, or 0 for "unknown" (then show bytes, not a percentage).
///
/// On failure the output already written is incomplete: discard it. A failing `read`
/// callback gives `MSS_READ_CALLBACK_FAILED`, a failing `write` callback
/// `MSS_WRITE_CALLBACK_FAILED`, their code in `mss_last_error_message`.
///
/// # Safety
///
/// `ctx`, `identity`: NULL or live handles. `read` / `write`: NULL or functions
/// following `mss_read_callback` / `mss_write_callback`, called with `read_userdata` /
/// `write_userdata`, which must stay valid until the call returns.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mss_sign_stream(
    ctx: *const mss_context,
    identity: *const mss_identity,
    flags: u32,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let id = unsafe { handle(identity, "identity") }?;
        check_flags(flags, SIGN_FLAGS)?;
        let opts = sign_options(ctx, flags)?;
        let key = id.inner.signing_key().map_err(Failure::from)?;
        run(
            ctx,
            read,
            read_userdata,
            write,
            write_userdata,
            total,
            |input, out| {
                mss::stream::sign_message_stream(
                    input,
                    out,
                    key,
                    &opts,
                    &MessageOptions::default(),
                    &mut |_| {},
                )
            },
        )
    })
}

/// Encrypt a draft read through `read` to `recipients` and to the sender, writing the
/// `application/pkcs7-mime` message through `write`: the streaming `mss_encrypt`.
///
/// Arguments as in `mss_encrypt` (the sender as an identity or as a certificate, exactly
/// one non-NULL; `cipher` a `mss_cipher`; `flags` 0 or `MSS_ENCRYPT_OAEP`); the draft
/// is read as in `mss_sign_stream`; `read`, `write`, `total`, progress and failures as
/// in `mss_sign_stream`.
///
/// As `mss_encrypt`, the header fields are protected (RFC 9788 `hp="cipher"`: the outer
/// Subject reads "[...]", `mss_open` / `mss_open_stream` restore it); only the header
/// section is rebuilt, the body streams.
///
/// # Safety
///
/// As `mss_encrypt` for the handles and certificates, as `mss_sign_stream` for the
/// callbacks.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mss_encrypt_stream(
    ctx: *const mss_context,
    sender: *const mss_identity,
    sender_certificate: *const mss_slice,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let sender_cert = unsafe { self::sender_certificate(sender, sender_certificate) }?;
        // SAFETY: per the caller.
        let recipients = unsafe { self::recipients(recipients, recipients_len) }?;
        check_flags(flags, ENCRYPT_FLAGS)?;
        let opts = encrypt_options(ctx, cipher, flags)?;
        run(
            ctx,
            read,
            read_userdata,
            write,
            write_userdata,
            total,
            |input, out| {
                mss::stream::encrypt_message_stream(
                    input,
                    out,
                    &recipients,
                    &sender_cert,
                    &opts,
                    &MessageOptions::default(),
                    &mut |_| {},
                )
            },
        )
    })
}

/// Sign a draft read through `read` with `identity`, then encrypt it to `recipients`
/// and to the signer's own certificate, writing the message through `write`: the
/// streaming `mss_sign_encrypt`, the usual way to send a large message.
///
/// Arguments as in `mss_sign_encrypt` (`flags`: `MSS_SIGN_*` and `MSS_ENCRYPT_OAEP`);
/// the draft is read as in `mss_sign_stream` (inside the encryption, a draft declaring
/// a `binary` or `8bit` body is signed opaque); `read`, `write`, `total`, progress and
/// failures as in `mss_sign_stream`. The header fields are protected as by
/// `mss_sign_encrypt` (see `mss_encrypt_stream`).
///
/// # Safety
///
/// As `mss_sign_encrypt` for the handles and certificates, as `mss_sign_stream` for the
/// callbacks.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mss_sign_encrypt_stream(
    ctx: *const mss_context,
    identity: *const mss_identity,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
) -> mss_status {
    // Signing and encrypting is the signed-and-encrypted reply level: one code path, as
    // for the in-memory calls.
    // SAFETY: the caller's promises are those of `mss_secure_reply_stream`.
    unsafe {
        mss_secure_reply_stream(
            ctx,
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED as u32,
            identity,
            recipients,
            recipients_len,
            cipher,
            flags,
            read,
            read_userdata,
            write,
            write_userdata,
            total,
        )
    }
}

/// Secure a reply or forward read through `read` at `level` (a `mss_security_level`,
/// normally `mss_reply_level` of the original's report), writing it through `write`:
/// the streaming `mss_secure_reply`, for replies and forwards that carry a large
/// attachment on. `MSS_LEVEL_NONE` copies the draft unchanged, `MSS_LEVEL_SIGNED` signs
/// it as `mss_sign_stream` does, the encrypted levels sign and encrypt it as
/// `mss_sign_encrypt_stream` does.
///
/// Other arguments as in `mss_sign_encrypt_stream`; `recipients` is used only when
/// encrypting.
///
/// # Safety
///
/// As `mss_sign_encrypt_stream`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mss_secure_reply_stream(
    ctx: *const mss_context,
    level: u32,
    identity: *const mss_identity,
    recipients: *const mss_slice,
    recipients_len: usize,
    cipher: u32,
    flags: u32,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per the caller.
        let recipients = unsafe { self::recipients(recipients, recipients_len) }?;
        let level = security_level(level)?;
        check_flags(flags, SIGN_FLAGS | ENCRYPT_FLAGS)?;
        let opts = encrypt_options(ctx, cipher, flags)?;
        let key = id.inner.signing_key().map_err(Failure::from)?;
        let own = identity_certificate(id)?;
        run(
            ctx,
            read,
            read_userdata,
            write,
            write_userdata,
            total,
            |input, out| {
                mss::stream::secure_reply_stream(
                    input,
                    out,
                    level,
                    key,
                    &recipients,
                    Some(own),
                    &opts,
                    &mut |_| {},
                )
            },
        )
    })
}

/// Open a message read through `read`, writing the clear message through `write` as it
/// is decrypted: the streaming `mss_open`, in bounded memory whatever the size of the
/// message.
///
/// **The clear message is written before the end of the message is checked. If this
/// call returns anything but `MSS_OK`, everything written through `write` must be
/// discarded: it may be truncated, forged or not addressed to you.** Write to a
/// temporary file and keep it only on `MSS_OK`, then read the report: with `MSS_OK` the
/// report says whether to believe what was written, exactly as for `mss_open` (a
/// signature that does not verify is not an error).
///
/// Every S/MIME layer (enveloped, auth-enveloped, opaque signed, `multipart/signed`,
/// nested) is decrypted or verified while streaming; a bare CMS object (BER, DER or
/// PEM) is accepted too (then only its content is written). `identities` as in
/// `mss_open`. The parts inside the clear message are analysed while they stream
/// (nested signed parts, protected header fields), so the report is `mss_open`'s; only
/// a part beyond the streaming bounds (a signature or `application/pkcs7-mime` part
/// over 16 MiB, a nested header block over 1 MiB) is left unanalysed, with the
/// `parts-not-analysed` warning.
///
/// On `MSS_OK`, `*out_report` receives the report, owned by the caller
/// (`mss_report_free`); on failure it is untouched. `read`, `write`, `total`, progress
/// and callback failures as in `mss_sign_stream` (`total`: the length of the message).
///
/// # Safety
///
/// As `mss_open` for `ctx`, `identities` and `out_report`, as `mss_sign_stream` for the
/// callbacks.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mss_open_stream(
    ctx: *const mss_context,
    identities: *const *const mss_identity,
    identities_len: usize,
    read: mss_read_callback,
    read_userdata: *mut c_void,
    write: mss_write_callback,
    write_userdata: *mut c_void,
    total: u64,
    out_report: *mut *mut mss_report,
) -> mss_status {
    guard(|| {
        // SAFETY: per the caller.
        let ctx = unsafe { context(ctx) }?;
        // SAFETY: per the caller.
        let keys = unsafe { decryption_keys(identities, identities_len) }?;
        out_ptr(out_report, "out_report")?;
        let http = mss::trust::HttpFetcher::default();
        let opts = open_options(ctx, keys, &http);
        let report = run(
            ctx,
            read,
            read_userdata,
            write,
            write_userdata,
            total,
            |input, out| mss::stream::open_stream(input, out, &opts, &mut |_| {}),
        )?;
        let report = mss_report::new(report);
        // SAFETY: non-NULL and writable per the caller.
        unsafe { *out_report = Box::into_raw(report) };
        Ok(())
    })
}
