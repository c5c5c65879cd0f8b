//! The C ABI with the CPS card: `mss_identity_open_pkcs11` on a SoftHSM2 token laid out
//! like a CPS3 card (mss-token's fixture, shared by path). The card signs, the sent copy
//! is encrypted to its authentication certificate, and the card reopens it.
#![allow(unsafe_code)]

#[path = "../../mss-token/tests/pkcs11_support/mod.rs"]
mod pkcs11_support;

use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

use mss_ffi::*;
use mss_status::*;
use pkcs11_support::{Fixture, PIN, TOKEN};

const DRAFT: &[u8] = b"From: jean.dupont@example.test\r\nTo: confrere@example.test\r\n\
Subject: cr\r\n\r\nCompte rendu.\r\n";

/// Counts its calls; answers `PIN`.
unsafe extern "C-unwind" fn card_pin(
    userdata: *mut c_void,
    _prompt: *const c_char,
    _retries_left: c_int,
    buf: *mut c_char,
    buf_len: usize,
) -> c_int {
    // SAFETY: the test passes a live usize counter used by this thread only.
    unsafe { *userdata.cast::<usize>() += 1 };
    let pin = PIN.as_bytes();
    assert!(pin.len() <= buf_len);
    // SAFETY: `buf` has `buf_len` writable bytes.
    unsafe { ptr::copy_nonoverlapping(pin.as_ptr().cast::<c_char>(), buf, pin.len()) };
    pin.len() as c_int
}

#[test]
fn the_card_signs_and_reopens_its_sent_copy_through_the_c_abi() {
    pkcs11_support::run(
        "the_card_signs_and_reopens_its_sent_copy_through_the_c_abi",
        &[],
        |fx: &Fixture| {
            let uri = CString::new(format!("pkcs11:token={}", TOKEN.replace(' ', "%20"))).unwrap();
            let module = CString::new(fx.module.display().to_string()).unwrap();
            let mut calls = 0usize;
            let mut id: *mut mss_identity = ptr::null_mut();
            // SAFETY: valid strings, callback and out pointer; `calls` outlives the call.
            let st = unsafe {
                mss_identity_open_pkcs11(
                    uri.as_ptr(),
                    module.as_ptr(),
                    Some(card_pin),
                    (&raw mut calls).cast(),
                    &mut id,
                )
            };
            assert_eq!(st, MSS_OK);
            assert_eq!(calls, 1, "one PIN entry");

            let ca =
                pkcs11_support::openssl(&fx.dir, &["x509", "-in", "ca.pem", "-outform", "DER"]);
            let mut ctx: *mut mss_context = ptr::null_mut();
            // SAFETY: writable out pointer; live context and slice.
            unsafe {
                assert_eq!(mss_context_new(&mut ctx), MSS_OK);
                assert_eq!(
                    mss_context_add_trust_anchor(ctx, ca.as_ptr(), ca.len()),
                    MSS_OK
                );
            }
            // Signed and encrypted to nobody else: the sender's copy goes to the card's
            // authentication certificate.
            let mut sealed: *mut mss_buffer = ptr::null_mut();
            // SAFETY: live handles; empty recipient list; writable output.
            let st = unsafe {
                mss_sign_encrypt(
                    ctx,
                    id,
                    ptr::null(),
                    0,
                    0,
                    0,
                    DRAFT.as_ptr(),
                    DRAFT.len(),
                    &mut sealed,
                )
            };
            assert_eq!(st, MSS_OK);
            let ids = [id as *const mss_identity];
            let (mut msg, mut rep) = (ptr::null_mut(), ptr::null_mut());
            // SAFETY: live handles and buffer; writable outputs.
            let st = unsafe {
                mss_open(
                    ctx,
                    ids.as_ptr(),
                    1,
                    mss_buffer_data(sealed),
                    mss_buffer_len(sealed),
                    &mut msg,
                    &mut rep,
                )
            };
            assert_eq!(st, MSS_OK);
            // SAFETY: live report and buffer.
            unsafe {
                assert!(mss_report_is_encrypted(rep));
                assert!(mss_report_all_signatures_valid(rep));
                let clear = std::slice::from_raw_parts(mss_buffer_data(msg), mss_buffer_len(msg));
                assert!(clear.windows(13).any(|w| w == b"Compte rendu."));
                mss_report_free(rep);
                mss_buffer_free(msg);
                mss_buffer_free(sealed);
                mss_context_free(ctx);
                mss_identity_free(id);
            }
            assert_eq!(calls, 1, "the session stays logged in: no second PIN entry");
        },
    );
}
