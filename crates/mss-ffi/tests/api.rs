//! The C ABI from the outside: journeys, error statuses, NULL arguments, the panic
//! boundary, PIN callbacks and the last error message.

mod common;

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use mss_ffi::*;
use mss_status::*;

#[test]
fn version_is_the_crate_version() {
    assert_eq!(
        cstr(mss_version()).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn sign_encrypt_then_open_as_recipient() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let bob_cert = bob.certificate();
    let (st, sent) = sign_encrypt(&ctx, &alice, &[&bob_cert], 0, 0);
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert!(String::from_utf8_lossy(&sent).contains("application/pkcs7-mime"));

    let (st, out) = open(&ctx, &[&bob], &sent);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (message, report) = out.expect("opened");
    let text = String::from_utf8(message.bytes()).expect("utf8");
    assert!(text.contains("le compte rendu est joint"), "{text}");
    assert!(text.contains("Subject: test"), "{text}");
    let r = report.0;
    // SAFETY: `r` is a live report for the whole block.
    unsafe {
        assert!(mss_report_is_encrypted(r));
        assert!(mss_report_is_signed(r));
        assert!(!mss_report_is_authenticated_encryption(r));
        assert!(mss_report_all_signatures_valid(r));
        assert!(mss_report_is_fully_signed(r));
        assert_eq!(mss_report_signature_count(r), 1);
        assert_eq!(
            mss_report_signature_status(r, 0),
            mss_signature_status::MSS_SIGNATURE_VALID
        );
        assert_eq!(
            cstr(mss_report_signer_email(r, 0)).as_deref(),
            Some("alice@example.org")
        );
        assert!(
            cstr(mss_report_signer_subject(r, 0))
                .expect("subject")
                .contains("Alice")
        );
        assert_eq!(mss_report_signature_detail(r, 0), ptr::null());
        assert_eq!(
            cstr(mss_report_content_cipher(r)).as_deref(),
            Some("aes-256-cbc")
        );
        assert_eq!(
            cstr(mss_report_key_transport(r)).as_deref(),
            Some("rsa-pkcs1v15")
        );
        assert_eq!(mss_report_warning_count(r), 0);
        assert_eq!(
            mss_reply_level(r),
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED
        );
        // Out of range.
        assert_eq!(
            mss_report_signature_status(r, 1),
            mss_signature_status::MSS_SIGNATURE_NONE
        );
        assert_eq!(mss_report_signer_subject(r, 1), ptr::null());
        assert_eq!(mss_report_warning(r, 0), ptr::null());
    }
    let json = report.json();
    assert_eq!(json["signatures"][0]["status"], "valid");
    assert_eq!(json["encrypted"], true);
    assert_eq!(json["reply_level"], "signed-encrypted");

    // Alice can read her sent copy too.
    let (st, _) = open(&ctx, &[&alice], &sent);
    assert_eq!(st, MSS_OK, "{}", last_error());
}

#[test]
fn gcm_oaep_and_opaque_pss_are_reported() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let flags = MSS_ENCRYPT_OAEP | MSS_SIGN_OPAQUE | MSS_SIGN_PSS | MSS_SIGN_SHA512;
    let (st, sent) = sign_encrypt(
        &ctx,
        &alice,
        &[&bob.certificate()],
        mss_cipher::MSS_CIPHER_AES256_GCM as u32,
        flags,
    );
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (st, out) = open(&ctx, &[&bob], &sent);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (_, report) = out.expect("opened");
    // SAFETY: live report.
    unsafe {
        assert!(mss_report_is_authenticated_encryption(report.0));
        assert_eq!(
            cstr(mss_report_content_cipher(report.0)).as_deref(),
            Some("aes-256-gcm")
        );
        assert_eq!(
            cstr(mss_report_key_transport(report.0)).as_deref(),
            Some("rsa-oaep-sha256")
        );
    }
    let json = report.json();
    assert_eq!(json["layers"][1]["kind"], "signed-opaque");
    assert!(
        json["signatures"][0]["signature_algorithm"]
            .as_str()
            .expect("alg")
            .contains("pss"),
        "{json}"
    );
}

#[test]
fn sign_then_open_trusted_untrusted_and_tampered() {
    let alice = Id::pem(&people().alice);
    let trusting = Ctx::trusting();
    let mut out = ptr::null_mut();
    // SAFETY: live handles and slices; writable output.
    let st = unsafe {
        mss_sign(
            trusting.0,
            alice.0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            0,
            &mut out,
        )
    };
    assert_eq!(st, MSS_OK, "{}", last_error());
    let signed = Buf(out).bytes();
    assert!(String::from_utf8_lossy(&signed).contains("multipart/signed"));

    let (st, opened) = open(&trusting, &[], &signed);
    assert_eq!(st, MSS_OK);
    let (_, report) = opened.expect("opened");
    // SAFETY: live report.
    unsafe {
        assert_eq!(
            mss_report_signature_status(report.0, 0),
            mss_signature_status::MSS_SIGNATURE_VALID
        );
        assert!(!mss_report_is_encrypted(report.0));
        assert_eq!(mss_report_content_cipher(report.0), ptr::null());
        assert_eq!(
            mss_reply_level(report.0),
            mss_security_level::MSS_LEVEL_SIGNED
        );
    }

    // No trust anchor: the signature verifies but the signer is untrusted.
    let (st, opened) = open(&Ctx::bare(), &[], &signed);
    assert_eq!(st, MSS_OK);
    let (_, report) = opened.expect("opened");
    // SAFETY: live report.
    unsafe {
        assert_eq!(
            mss_report_signature_status(report.0, 0),
            mss_signature_status::MSS_SIGNATURE_UNTRUSTED
        );
        assert!(cstr(mss_report_signature_detail(report.0, 0)).is_some());
        assert!(!mss_report_all_signatures_valid(report.0));
        assert!(!mss_report_is_fully_signed(report.0));
    }

    // Altered content: the call succeeds, the verdict is INVALID.
    let text = String::from_utf8(signed).expect("utf8");
    let tampered = text.replacen("le compte rendu", "le compte RENDU", 1);
    assert_ne!(tampered, text);
    let (st, opened) = open(&trusting, &[], tampered.as_bytes());
    assert_eq!(st, MSS_OK);
    let (_, report) = opened.expect("opened");
    // SAFETY: live report.
    unsafe {
        assert_eq!(
            mss_report_signature_status(report.0, 0),
            mss_signature_status::MSS_SIGNATURE_INVALID
        );
    }
}

#[test]
fn encrypt_with_sender_certificate_and_errors_of_open() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let carol = Id::pem(&people().carol);
    let alice_cert = alice.certificate();
    let bob_cert = bob.certificate();
    let recipients = [slice(&bob_cert)];
    let sender = slice(&alice_cert);
    let mut out = ptr::null_mut();
    // SAFETY: live handles and slices; writable output.
    let st = unsafe {
        mss_encrypt(
            ctx.0,
            ptr::null(),
            &sender,
            recipients.as_ptr(),
            1,
            mss_cipher::MSS_CIPHER_AES128_CBC as u32,
            0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            &mut out,
        )
    };
    assert_eq!(st, MSS_OK, "{}", last_error());
    let sent = Buf(out).bytes();

    let (st, opened) = open(&ctx, &[&bob], &sent);
    assert_eq!(st, MSS_OK, "{}", last_error());
    let (_, report) = opened.expect("opened");
    // SAFETY: live report.
    unsafe {
        assert_eq!(mss_report_signature_count(report.0), 0);
        assert_eq!(
            cstr(mss_report_warning(report.0, 0)).as_deref(),
            Some("unauthenticated-encryption")
        );
        assert_eq!(
            mss_reply_level(report.0),
            mss_security_level::MSS_LEVEL_ENCRYPTED
        );
    }

    // Carol is not a recipient; nobody at all is not either.
    assert_eq!(open(&ctx, &[&carol], &sent).0, MSS_NOT_A_RECIPIENT);
    assert!(last_error().contains("not addressed"), "{}", last_error());
    assert_eq!(open(&ctx, &[], &sent).0, MSS_NOT_A_RECIPIENT);

    // Both sender forms at once.
    let mut out = ptr::null_mut();
    // SAFETY: as above.
    let st = unsafe {
        mss_encrypt(
            ctx.0,
            alice.0,
            &sender,
            recipients.as_ptr(),
            1,
            0,
            0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            &mut out,
        )
    };
    assert_eq!(st, MSS_INVALID_ARGUMENT);
    assert!(out.is_null());
}

#[test]
fn garbage_inputs_are_errors_not_crashes() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);

    for junk in [
        &b"\x30\x82\xff\xff garbage"[..],
        b"not a message at all",
        b"\xff\xfe\x00\x01",
    ] {
        let (st, _) = open(&ctx, &[&bob], junk);
        assert!(
            matches!(st, MSS_MALFORMED_MESSAGE | MSS_UNSUPPORTED_CONTENT),
            "{st:?}: {}",
            last_error()
        );
    }
    // A well-formed MIME entity with an undecodable S/MIME body.
    let bad = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\
Content-Transfer-Encoding: base64\r\n\r\nMIIB!!!!\r\n";
    assert_eq!(open(&ctx, &[&bob], bad).0, MSS_MALFORMED_MESSAGE);

    // Certificates that are not certificates.
    let (st, _) = sign_encrypt(&ctx, &alice, &[b"\x30\x03\x02\x01\x01"], 0, 0);
    assert_eq!(st, MSS_INVALID_CERTIFICATE);
    let (st, _) = sign_encrypt(&ctx, &alice, &[b"hello"], 0, 0);
    assert_eq!(st, MSS_INVALID_CERTIFICATE);
    let two = [people().ca_cert.clone(), people().ca_cert.clone()].concat();
    let (st, _) = sign_encrypt(&ctx, &alice, &[&two], 0, 0);
    assert_eq!(st, MSS_INVALID_CERTIFICATE);
    assert!(
        last_error().contains("expected one certificate"),
        "{}",
        last_error()
    );
    let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    // SAFETY: live context and slice.
    let st = unsafe { mss_context_add_trust_anchor(ctx.0, garbage.as_ptr(), garbage.len()) };
    assert_eq!(st, MSS_INVALID_CERTIFICATE);

    // Identities that are not identities.
    let mut id = ptr::null_mut();
    let junk_key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    // SAFETY: live slice, writable output.
    let st = unsafe {
        mss_identity_open_bytes(
            junk_key.as_ptr(),
            junk_key.len(),
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_IDENTITY_NO_CERTIFICATE, "{}", last_error());
    let junk = [&junk_key[..], &people().ca_cert].concat();
    // SAFETY: live slice, writable output.
    let st = unsafe {
        mss_identity_open_bytes(
            junk.as_ptr(),
            junk.len(),
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_IDENTITY_MALFORMED, "{}", last_error());
    assert!(id.is_null());
    // A DER blob is read as PKCS#12, which needs a password: no callback → cancelled.
    let empty_sequence = [0x30u8, 0x00];
    // SAFETY: as above.
    let st = unsafe {
        mss_identity_open_bytes(
            empty_sequence.as_ptr(),
            empty_sequence.len(),
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_CANCELLED, "{}", last_error());

    // File paths: missing file, invalid UTF-8.
    let missing = c("/nonexistent/mss-ffi/alice.p12");
    // SAFETY: NUL-terminated path, writable output.
    let st = unsafe { mss_identity_open_file(missing.as_ptr(), None, ptr::null_mut(), &mut id) };
    assert_eq!(st, MSS_IO_ERROR);
    assert!(
        last_error().contains("/nonexistent/mss-ffi/alice.p12"),
        "{}",
        last_error()
    );
    let not_utf8 = [0xffu8, 0xfe, b'x', 0];
    // SAFETY: NUL-terminated bytes.
    let st = unsafe {
        mss_identity_open_file(
            not_utf8.as_ptr().cast::<c_char>(),
            None,
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_INVALID_UTF8);
    assert!(id.is_null());
}

#[test]
fn invalid_flags_ciphers_policies_and_levels() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob_cert = Id::pem(&people().bob).certificate();
    assert_eq!(
        sign_encrypt(&ctx, &alice, &[&bob_cert], 99, 0).0,
        MSS_INVALID_ARGUMENT
    );
    assert!(last_error().contains("cipher"));
    assert_eq!(
        sign_encrypt(&ctx, &alice, &[&bob_cert], 0, 0x8000_0000).0,
        MSS_INVALID_ARGUMENT
    );
    assert_eq!(
        sign_encrypt(
            &ctx,
            &alice,
            &[&bob_cert],
            0,
            MSS_SIGN_SHA384 | MSS_SIGN_SHA512
        )
        .0,
        MSS_INVALID_ARGUMENT
    );
    let mut out = ptr::null_mut();
    // SAFETY: live handles, writable output.
    let st = unsafe {
        mss_sign(
            ctx.0,
            alice.0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            MSS_ENCRYPT_OAEP,
            &mut out,
        )
    };
    assert_eq!(st, MSS_INVALID_ARGUMENT, "mss_sign takes no encrypt flag");
    // SAFETY: live context.
    assert_eq!(
        unsafe { mss_context_set_policy(ctx.0, 7) },
        MSS_INVALID_ARGUMENT
    );

    // 3DES: refused by the standard policy, produced under the legacy one.
    let des = mss_cipher::MSS_CIPHER_DES_EDE3_CBC as u32;
    assert_eq!(
        sign_encrypt(&ctx, &alice, &[&bob_cert], des, 0).0,
        MSS_POLICY_VIOLATION
    );
    // SAFETY: live context.
    let st = unsafe { mss_context_set_policy(ctx.0, mss_policy::MSS_POLICY_LEGACY as u32) };
    assert_eq!(st, MSS_OK);
    assert_eq!(sign_encrypt(&ctx, &alice, &[&bob_cert], des, 0).0, MSS_OK);

    // Secure reply: level none copies, an unknown level is refused.
    let mut out = ptr::null_mut();
    // SAFETY: live handles, NULL recipients with length 0, writable output.
    let st = unsafe {
        mss_secure_reply(
            ctx.0,
            0,
            alice.0,
            ptr::null(),
            0,
            0,
            0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            &mut out,
        )
    };
    assert_eq!(st, MSS_OK);
    assert_eq!(Buf(out).bytes(), DRAFT);
    let mut out = ptr::null_mut();
    // SAFETY: as above.
    let st = unsafe {
        mss_secure_reply(
            ctx.0,
            9,
            alice.0,
            ptr::null(),
            0,
            0,
            0,
            DRAFT.as_ptr(),
            DRAFT.len(),
            &mut out,
        )
    };
    assert_eq!(st, MSS_INVALID_ARGUMENT);
    assert!(out.is_null());
}

/// A pointer that is never dereferenced, to see that outputs are left alone on failure.
fn sentinel<T>() -> *mut T {
    std::ptr::dangling_mut::<T>()
}

#[test]
fn null_arguments_are_reported_and_outputs_untouched() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let bob_cert = bob.certificate();
    let rec = [slice(&bob_cert)];
    let null_rec = [mss_slice {
        data: ptr::null(),
        len: 3,
    }];
    let m = DRAFT.as_ptr();
    let n = DRAFT.len();
    let mut b: *mut mss_buffer = sentinel();
    let mut r: *mut mss_report = sentinel();
    let mut i: *mut mss_identity = sentinel();
    let ids = [bob.0 as *const mss_identity];
    let null_ids = [ptr::null::<mss_identity>()];

    // SAFETY: every pointer is NULL, live, or a sentinel output that mss must not write on
    // failure; the assertions below check that it did not.
    let statuses = unsafe {
        [
            mss_context_new(ptr::null_mut()),
            mss_context_add_trust_anchor(ptr::null_mut(), m, n),
            mss_context_add_trust_anchor(ctx.0, ptr::null(), 0),
            mss_context_add_certificate(ptr::null_mut(), m, n),
            mss_context_set_policy(ptr::null_mut(), 0),
            mss_context_set_progress(ptr::null_mut(), None, ptr::null_mut()),
            mss_identity_open_file(ptr::null(), None, ptr::null_mut(), &mut i),
            mss_identity_open_bytes(ptr::null(), 0, ptr::null(), None, ptr::null_mut(), &mut i),
            mss_identity_open_bytes(m, n, ptr::null(), None, ptr::null_mut(), ptr::null_mut()),
            mss_identity_certificate(ptr::null(), &mut b),
            mss_identity_certificate(alice.0, ptr::null_mut()),
            mss_sign(ptr::null(), alice.0, m, n, 0, &mut b),
            mss_sign(ctx.0, ptr::null(), m, n, 0, &mut b),
            mss_sign(ctx.0, alice.0, ptr::null(), n, 0, &mut b),
            mss_sign(ctx.0, alice.0, m, n, 0, ptr::null_mut()),
            mss_encrypt(
                ctx.0,
                ptr::null(),
                ptr::null(),
                rec.as_ptr(),
                1,
                0,
                0,
                m,
                n,
                &mut b,
            ),
            mss_encrypt(
                ctx.0,
                alice.0,
                ptr::null(),
                ptr::null(),
                1,
                0,
                0,
                m,
                n,
                &mut b,
            ),
            mss_encrypt(
                ctx.0,
                alice.0,
                ptr::null(),
                null_rec.as_ptr(),
                1,
                0,
                0,
                m,
                n,
                &mut b,
            ),
            mss_sign_encrypt(ctx.0, alice.0, rec.as_ptr(), 1, 0, 0, m, n, ptr::null_mut()),
            mss_sign_encrypt(ptr::null(), alice.0, rec.as_ptr(), 1, 0, 0, m, n, &mut b),
            mss_secure_reply(ctx.0, 3, ptr::null(), rec.as_ptr(), 1, 0, 0, m, n, &mut b),
            mss_open(ptr::null(), ids.as_ptr(), 1, m, n, &mut b, &mut r),
            mss_open(ctx.0, ptr::null(), 1, m, n, &mut b, &mut r),
            mss_open(ctx.0, null_ids.as_ptr(), 1, m, n, &mut b, &mut r),
            mss_open(ctx.0, ids.as_ptr(), 1, ptr::null(), n, &mut b, &mut r),
            mss_open(ctx.0, ids.as_ptr(), 1, m, n, ptr::null_mut(), &mut r),
            mss_open(ctx.0, ids.as_ptr(), 1, m, n, &mut b, ptr::null_mut()),
            mss_report_to_json(ptr::null(), &mut b),
        ]
    };
    for (k, st) in statuses.iter().enumerate() {
        assert_eq!(*st, MSS_NULL_ARGUMENT, "call #{k}");
    }
    assert_eq!(b, sentinel());
    assert_eq!(r, sentinel());
    assert_eq!(i, sentinel());
    assert!(
        last_error().contains("must not be NULL"),
        "{}",
        last_error()
    );

    // Accessors and destructors accept NULL.
    // SAFETY: NULL is documented as accepted.
    unsafe {
        mss_context_free(ptr::null_mut());
        mss_identity_free(ptr::null_mut());
        mss_report_free(ptr::null_mut());
        mss_buffer_free(ptr::null_mut());
        assert_eq!(mss_buffer_data(ptr::null()), ptr::null());
        assert_eq!(mss_buffer_len(ptr::null()), 0);
        assert!(!mss_report_is_encrypted(ptr::null()));
        assert!(!mss_report_is_signed(ptr::null()));
        assert!(!mss_report_all_signatures_valid(ptr::null()));
        assert!(!mss_report_is_fully_signed(ptr::null()));
        assert_eq!(mss_report_signature_count(ptr::null()), 0);
        assert_eq!(
            mss_report_signature_status(ptr::null(), 0),
            mss_signature_status::MSS_SIGNATURE_NONE
        );
        assert_eq!(mss_report_signer_subject(ptr::null(), 0), ptr::null());
        assert_eq!(mss_report_signer_email(ptr::null(), 0), ptr::null());
        assert_eq!(mss_report_content_cipher(ptr::null()), ptr::null());
        assert_eq!(mss_report_warning_count(ptr::null()), 0);
        assert_eq!(mss_report_warning(ptr::null(), 0), ptr::null());
        // Fails safe: no report, the strictest level.
        assert_eq!(
            mss_reply_level(ptr::null()),
            mss_security_level::MSS_LEVEL_SIGNED_ENCRYPTED
        );
    }
}

#[test]
fn last_error_message_truncates_like_snprintf_and_is_per_thread() {
    let ctx = Ctx::trusting();
    // SAFETY: live context.
    assert_eq!(
        unsafe { mss_context_set_policy(ctx.0, 42) },
        MSS_INVALID_ARGUMENT
    );
    let full = last_error();
    assert_eq!(full, "unknown policy 42");

    let mut small = [0x55u8; 8];
    // SAFETY: `small` has 8 writable bytes.
    let n = unsafe { mss_last_error_message(small.as_mut_ptr().cast::<c_char>(), small.len()) };
    assert_eq!(
        n,
        full.len(),
        "returns the full length even when truncating"
    );
    assert!(n >= small.len(), "the caller can see it was truncated");
    assert_eq!(&small[..7], &full.as_bytes()[..7]);
    assert_eq!(small[7], 0, "NUL-terminated");

    let mut one = [0x55u8; 1];
    // SAFETY: one writable byte.
    let n = unsafe { mss_last_error_message(one.as_mut_ptr().cast::<c_char>(), 1) };
    assert_eq!((n, one[0]), (full.len(), 0));

    // A NULL buffer with a length writes nothing (and does not crash).
    // SAFETY: NULL is accepted.
    assert_eq!(
        unsafe { mss_last_error_message(ptr::null_mut(), 100) },
        full.len()
    );

    // Another thread has its own (empty) message.
    let other = std::thread::spawn(last_error).join().expect("thread");
    assert_eq!(other, "");
    assert_eq!(last_error(), full);

    // A success clears it.
    // SAFETY: live context.
    assert_eq!(unsafe { mss_context_set_policy(ctx.0, 0) }, MSS_OK);
    assert_eq!(last_error(), "");
}

#[test]
fn truncation_respects_utf8_boundaries() {
    let ctx = Ctx::trusting();
    let mut id = ptr::null_mut();
    let path = c("/nonexistent/é/é/é");
    // SAFETY: NUL-terminated path, writable output.
    let st = unsafe { mss_identity_open_file(path.as_ptr(), None, ptr::null_mut(), &mut id) };
    assert_eq!(st, MSS_IO_ERROR);
    drop(ctx);
    let full = last_error();
    let cut = full.find('é').expect("é") + 1; // inside the two-byte é
    let mut buf = vec![0x55u8; cut + 1];
    // SAFETY: `buf` has cut + 1 writable bytes.
    unsafe { mss_last_error_message(buf.as_mut_ptr().cast::<c_char>(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).expect("NUL");
    assert_eq!(end, cut - 1, "cut before the partial character");
    assert!(std::str::from_utf8(&buf[..end]).is_ok());
}

static PROGRESS_CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C-unwind" fn record_progress(userdata: *mut c_void, done: u64, total: u64) {
    // SAFETY: the test passes a pointer to a live Vec<(u64, u64)> used by this thread only.
    let calls = unsafe { &mut *userdata.cast::<Vec<(u64, u64)>>() };
    calls.push((done, total));
    PROGRESS_CALLS.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C-unwind" fn panicking_progress(_: *mut c_void, _: u64, _: u64) {
    panic!("progress callback exploded");
}

#[test]
fn progress_is_reported_at_start_and_end() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let mut calls: Vec<(u64, u64)> = Vec::new();
    // SAFETY: live context; `calls` outlives every use of the context below.
    let st = unsafe {
        mss_context_set_progress(
            ctx.0,
            Some(record_progress),
            (&raw mut calls).cast::<c_void>(),
        )
    };
    assert_eq!(st, MSS_OK);
    let mut out = ptr::null_mut();
    // SAFETY: live handles, writable output.
    let st = unsafe { mss_sign(ctx.0, alice.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_OK);
    let signed = Buf(out).bytes();
    let n = DRAFT.len() as u64;
    assert_eq!(calls, vec![(0, n), (n, n)]);
    calls.clear();
    let (st, _) = open(&ctx, &[], &signed);
    assert_eq!(st, MSS_OK);
    let m = signed.len() as u64;
    assert_eq!(calls, vec![(0, m), (m, m)]);
    // Removing the callback stops the calls.
    // SAFETY: live context.
    unsafe { mss_context_set_progress(ctx.0, None, ptr::null_mut()) };
    let before = PROGRESS_CALLS.load(Ordering::SeqCst);
    assert_eq!(open(&ctx, &[], &signed).0, MSS_OK);
    assert_eq!(PROGRESS_CALLS.load(Ordering::SeqCst), before);
}

#[test]
fn a_panic_inside_a_call_becomes_internal_error() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    // SAFETY: live context; the callback takes no userdata.
    let st = unsafe { mss_context_set_progress(ctx.0, Some(panicking_progress), ptr::null_mut()) };
    assert_eq!(st, MSS_OK);
    let mut out: *mut mss_buffer = sentinel();
    // SAFETY: live handles, sentinel output that must stay untouched.
    let st = unsafe { mss_sign(ctx.0, alice.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_INTERNAL_ERROR);
    assert_eq!(out, sentinel());
    let msg = last_error();
    assert!(
        msg.contains("panic") && msg.contains("progress callback exploded"),
        "{msg}"
    );
    // The handles are still usable after the panic.
    // SAFETY: live context.
    unsafe { mss_context_set_progress(ctx.0, None, ptr::null_mut()) };
    let mut out = ptr::null_mut();
    // SAFETY: as above.
    let st = unsafe { mss_sign(ctx.0, alice.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_OK);
    drop(Buf(out));
}

// ---- PIN callbacks ----

struct PinScript {
    /// What to return: Ok(bytes to write) or Err(return value).
    answer: Result<Vec<u8>, c_int>,
    prompts: Vec<(String, c_int, usize)>,
}

unsafe extern "C-unwind" fn scripted_pin(
    userdata: *mut c_void,
    prompt: *const c_char,
    retries_left: c_int,
    buf: *mut c_char,
    buf_len: usize,
) -> c_int {
    // SAFETY: the test passes a live PinScript used by this thread only.
    let script = unsafe { &mut *userdata.cast::<PinScript>() };
    script
        .prompts
        .push((cstr(prompt).expect("prompt"), retries_left, buf_len));
    match &script.answer {
        Ok(pin) => {
            let n = pin.len().min(buf_len);
            // SAFETY: mss gives `buf_len` writable bytes; n <= buf_len.
            unsafe { ptr::copy_nonoverlapping(pin.as_ptr(), buf.cast::<u8>(), n) };
            c_int::try_from(pin.len()).expect("small")
        }
        Err(code) => *code,
    }
}

unsafe extern "C-unwind" fn panicking_pin(
    _: *mut c_void,
    _: *const c_char,
    _: c_int,
    _: *mut c_char,
    _: usize,
) -> c_int {
    panic!("PIN dialog exploded");
}

fn open_with_script(
    pem: &str,
    answer: Result<Vec<u8>, c_int>,
) -> (mss_status, PinScript, Option<Id>) {
    let mut script = PinScript {
        answer,
        prompts: Vec::new(),
    };
    let label = c("alice.pem");
    let mut id = ptr::null_mut();
    // SAFETY: live slice and label; `script` outlives the call; writable output.
    let st = unsafe {
        mss_identity_open_bytes(
            pem.as_ptr(),
            pem.len(),
            label.as_ptr(),
            Some(scripted_pin),
            (&raw mut script).cast::<c_void>(),
            &mut id,
        )
    };
    let id = (st == MSS_OK).then(|| Id(id));
    (st, script, id)
}

#[test]
fn pin_callback_gives_the_password() {
    let pem = alice_encrypted_pem("correct horse");
    let (st, script, id) = open_with_script(&pem, Ok(b"correct horse".to_vec()));
    assert_eq!(st, MSS_OK, "{}", last_error());
    assert_eq!(
        script.prompts,
        vec![("password for alice.pem".to_owned(), -1, 1024)]
    );
    // The identity works: it signs.
    let ctx = Ctx::trusting();
    let id = id.expect("identity");
    let mut out = ptr::null_mut();
    // SAFETY: live handles, writable output.
    let st = unsafe { mss_sign(ctx.0, id.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_OK);
    drop(Buf(out));
}

#[test]
fn pin_callback_wrong_cancelled_and_misbehaving() {
    let pem = alice_encrypted_pem("correct horse");
    let (st, _, _) = open_with_script(&pem, Ok(b"wrong".to_vec()));
    assert_eq!(st, MSS_BAD_PASSWORD, "{}", last_error());
    let (st, _, _) = open_with_script(&pem, Err(-1));
    assert_eq!(st, MSS_CANCELLED);
    let (st, _, _) = open_with_script(&pem, Err(5000));
    assert_eq!(st, MSS_INVALID_ARGUMENT, "length beyond the buffer");
    let (st, _, _) = open_with_script(&pem, Ok(vec![0xff, 0xfe]));
    assert_eq!(st, MSS_INVALID_ARGUMENT);
    assert!(last_error().contains("UTF-8"));

    // No callback although a password is needed.
    let mut id = ptr::null_mut();
    // SAFETY: live slice, writable output.
    let st = unsafe {
        mss_identity_open_bytes(
            pem.as_ptr(),
            pem.len(),
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_CANCELLED);

    // A panicking callback is caught at the boundary.
    let mut id: *mut mss_identity = sentinel();
    // SAFETY: live slice; the callback takes no userdata; sentinel output.
    let st = unsafe {
        mss_identity_open_bytes(
            pem.as_ptr(),
            pem.len(),
            ptr::null(),
            Some(panicking_pin),
            ptr::null_mut(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_INTERNAL_ERROR);
    assert_eq!(id, sentinel());
    assert!(last_error().contains("PIN dialog exploded"));

    // An unencrypted PEM never calls the callback.
    let (st, script, _) = open_with_script(&people().bob, Err(-1));
    assert_eq!(st, MSS_OK);
    assert!(script.prompts.is_empty());
}

#[test]
fn pkcs12_file_opens_with_the_pin_callback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p12 = common::openssl(
        &[
            "pkcs12",
            "-export",
            "-passout",
            "pass:s3cret",
            "-name",
            "alice",
        ],
        people().alice.as_bytes(),
    );
    let path = dir.path().join("alice.p12");
    std::fs::write(&path, p12).expect("write");
    let cpath = c(path.to_str().expect("utf8 path"));
    let mut script = PinScript {
        answer: Ok(b"s3cret".to_vec()),
        prompts: Vec::new(),
    };
    let mut id = ptr::null_mut();
    // SAFETY: NUL-terminated path; `script` outlives the call; writable output.
    let st = unsafe {
        mss_identity_open_file(
            cpath.as_ptr(),
            Some(scripted_pin),
            (&raw mut script).cast::<c_void>(),
            &mut id,
        )
    };
    assert_eq!(st, MSS_OK, "{}", last_error());
    let id = Id(id);
    assert_eq!(script.prompts[0].0, "password for alice.p12");
    let alice_pem = Id::pem(&people().alice);
    assert_eq!(id.certificate(), alice_pem.certificate());
}

#[test]
fn handles_are_send_and_sync_where_documented() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<mss_identity>();
    send_sync::<mss_report>();
    send_sync::<mss_buffer>();
}

#[test]
fn a_configured_context_and_identities_serve_several_threads() {
    let ctx = Ctx::trusting();
    let alice = Id::pem(&people().alice);
    let bob = Id::pem(&people().bob);
    let bob_cert = bob.certificate();
    // Raw handles cross threads as addresses: the C API documents both as shareable once
    // configured / opened.
    let (c, a, b) = (ctx.0 as usize, alice.0 as usize, bob.0 as usize);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let bob_cert = bob_cert.clone();
            std::thread::spawn(move || {
                let recipients = [slice(&bob_cert)];
                let mut out = ptr::null_mut();
                // SAFETY: the handles outlive the threads (joined below) and are only read.
                let st = unsafe {
                    mss_sign_encrypt(
                        c as *const mss_context,
                        a as *const mss_identity,
                        recipients.as_ptr(),
                        1,
                        0,
                        0,
                        DRAFT.as_ptr(),
                        DRAFT.len(),
                        &mut out,
                    )
                };
                assert_eq!(st, MSS_OK, "{}", last_error());
                let sent = Buf(out).bytes();
                let ids = [b as *const mss_identity];
                let (mut m, mut r) = (ptr::null_mut(), ptr::null_mut());
                // SAFETY: as above; writable outputs.
                let st = unsafe {
                    mss_open(
                        c as *const mss_context,
                        ids.as_ptr(),
                        1,
                        sent.as_ptr(),
                        sent.len(),
                        &mut m,
                        &mut r,
                    )
                };
                assert_eq!(st, MSS_OK, "{}", last_error());
                let (_m, r) = (Buf(m), Rep(r));
                // SAFETY: live report.
                assert!(unsafe { mss_report_all_signatures_valid(r.0) });
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
}

#[test]
fn pkcs11_identity_errors_are_typed() {
    let mut out: *mut mss_identity = ptr::null_mut();
    let uri = c("pkcs11:token=CPS3%20ABSENT");
    // SAFETY: valid NUL-terminated strings and a writable out pointer.
    unsafe {
        assert_eq!(
            mss_identity_open_pkcs11(ptr::null(), ptr::null(), None, ptr::null_mut(), &mut out),
            MSS_NULL_ARGUMENT
        );
        let not_a_uri = c("/tmp/alice.p12");
        assert_eq!(
            mss_identity_open_pkcs11(
                not_a_uri.as_ptr(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut out
            ),
            MSS_INVALID_ARGUMENT
        );
        let missing = c("/nonexistent/libnothing-pkcs11.so");
        assert_eq!(
            mss_identity_open_pkcs11(
                uri.as_ptr(),
                missing.as_ptr(),
                None,
                ptr::null_mut(),
                &mut out
            ),
            MSS_CARD_NO_MODULE
        );
        assert!(last_error().contains("libnothing"), "{}", last_error());
    }
    assert!(out.is_null(), "no identity on failure");
}

#[test]
fn pkcs11_absent_card_says_insert_your_card() {
    let module = "/usr/lib/softhsm/libsofthsm2.so";
    assert!(
        std::path::Path::new(module).exists(),
        "SoftHSM2 is required for this test: apt-get install softhsm2 (or bash scripts/install-deps.sh)"
    );
    // An empty token directory: the module loads, no token matches.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut out: *mut mss_identity = ptr::null_mut();
    let uri = c(&format!("pkcs11:token=CPS3%20ABSENT?module-path={module}"));
    // The module reads SOFTHSM2_CONF when loaded; a child process keeps this test's
    // environment change away from the others.
    if std::env::var_os("MSS_FFI_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "pkcs11_absent_card_says_insert_your_card",
                "--nocapture",
            ])
            .env("MSS_FFI_CHILD", "1")
            .env("SOFTHSM2_CONF", &conf)
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    // SAFETY: valid strings and out pointer.
    let st = unsafe {
        mss_identity_open_pkcs11(uri.as_ptr(), ptr::null(), None, ptr::null_mut(), &mut out)
    };
    assert_eq!(st, MSS_CARD_ABSENT, "{}", last_error());
    assert!(last_error().contains("insert your"), "{}", last_error());
}

#[test]
fn revocation_setting_hard_and_soft_fail() {
    let alice = Id::pem(&people().alice);
    let ctx = Ctx::trusting();
    let mut out = ptr::null_mut();
    // SAFETY: live handles and slices; writable output.
    let st = unsafe { mss_sign(ctx.0, alice.0, DRAFT.as_ptr(), DRAFT.len(), 0, &mut out) };
    assert_eq!(st, MSS_OK, "{}", last_error());
    let signed = Buf(out).bytes();
    let status_with = |mode: mss_revocation, soft: bool| {
        // SAFETY: live context, exclusive here.
        let st = unsafe { mss_context_set_revocation(ctx.0, mode as u32, soft) };
        assert_eq!(st, MSS_OK);
        let (st, opened) = open(&ctx, &[], &signed);
        assert_eq!(st, MSS_OK);
        let (_, report) = opened.expect("opened");
        // SAFETY: live report.
        let status = unsafe { mss_report_signature_status(report.0, 0) };
        (status, report.json())
    };
    // The test CA publishes no CRL and no responder: hard fail is untrusted...
    let (st, json) = status_with(mss_revocation::MSS_REVOCATION_CRL, false);
    assert_eq!(st, mss_signature_status::MSS_SIGNATURE_UNTRUSTED, "{json}");
    assert_eq!(json["signatures"][0]["revocation"][0]["status"], "unknown");
    // ...soft fail is valid, with the warning and the source "none".
    let (st, json) = status_with(mss_revocation::MSS_REVOCATION_OCSP_THEN_CRL, true);
    assert_eq!(st, mss_signature_status::MSS_SIGNATURE_VALID, "{json}");
    assert_eq!(json["signatures"][0]["revocation"][0]["source"], "none");
    assert!(json["warnings"].to_string().contains("revocation-unknown"));
    // Off again: nothing checked.
    let (st, json) = status_with(mss_revocation::MSS_REVOCATION_OFF, false);
    assert_eq!(st, mss_signature_status::MSS_SIGNATURE_VALID);
    assert_eq!(json["signatures"][0]["revocation"], serde_json::json!([]));
    // SAFETY: live context / NULL.
    unsafe {
        assert_eq!(
            mss_context_set_revocation(ctx.0, 5, false),
            MSS_INVALID_ARGUMENT
        );
        assert_eq!(
            mss_context_set_revocation(ptr::null_mut(), 0, false),
            MSS_NULL_ARGUMENT
        );
    }
}
