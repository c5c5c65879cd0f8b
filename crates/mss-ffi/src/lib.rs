//! # mss-ffi — the C ABI of mss
//!
//! `libmss_ffi.so` / `libmss_ffi.a` with the header `bindings/c/mss.h` (generated from this
//! crate by cbindgen, committed, checked by `tests/header.rs`) and `bindings/c/mss.pc`.
//! The shape follows rustls-ffi:
//!
//! - opaque handles `mss_context`, `mss_identity`, `mss_report`, `mss_buffer`, created by
//!   `mss_<object>_new` / `_open_*` (or as outputs of operations) and released by
//!   `mss_<object>_free`, which accepts NULL;
//! - every fallible call returns a [`mss_status`] with stable numbers
//!   grouped by subsystem; outputs come last and are written only on success; NULL
//!   arguments are `MSS_NULL_ARGUMENT`, never a crash;
//! - every entry point runs inside `catch_unwind`: a panic becomes `MSS_INTERNAL_ERROR`;
//! - callbacks are nullable function pointers taking `void *userdata` first;
//! - large messages stream through `mss_*_stream` calls: a read callback in, a write
//!   callback out (errno-style return, count through an out-pointer, as rustls-ffi);
//! - the reason for the last failure on a thread is `mss_last_error_message`.
//!
//! The library picks the backends: software identities (PKCS#12 / PEM) from `mss-token`
//! today, PKCS#11 and the directory later. See `docs/c-api.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// C names (`mss_context`, `MSS_OK`) are the API.
#![allow(non_camel_case_types)]

pub mod buffer;
pub mod context;
pub mod identity;
pub mod ops;
pub mod report;
pub mod status;
pub mod stream;

pub use buffer::*;
pub use context::*;
pub use identity::*;
pub use ops::*;
pub use report::*;
pub use status::*;
pub use stream::*;

use std::ffi::c_char;

/// The library version, e.g. `0.1.0`: a static NUL-terminated string, never to be freed.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn mss_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
