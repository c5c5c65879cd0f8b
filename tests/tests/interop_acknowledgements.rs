//! Interoperability of issue #11's additions with OpenSSL (`openssl cms`) and NSS
//! (`cmsutil`):
//!
//! - ESS signed receipts, both directions: OpenSSL requests (`-receipt_request_all`),
//!   mss answers, OpenSSL checks (`-verify_receipt`); mss requests, OpenSSL answers
//!   (`-sign_receipt`), mss checks;
//! - header protection: messages with protected headers (RFC 9788) still decrypt and
//!   verify in OpenSSL and NSS, which see the protected header section as the start of
//!   the inner entity.
//!
//! Each mss message is sent twice: in memory (`mss::*_message`) and streaming
//! (`mss::stream::*_message_stream`, issue #9).

use mss::{
    Certificate, DecryptionKey, EncryptOptions, MessageOptions, OpenOptions, ProtectHeaders,
    ReceiptStatus, ReceiptsFromSpec, RequestReceipt, SignOptions,
};
use mss_tests::{PASSWORD, User, Workdir, contains, mime};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD)
        .unwrap_or_else(|e| panic!("load {}'s PKCS#12: {e}", u.name))
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

fn opts<'a>(w: &Workdir, key: Option<&'a SoftwareIdentity>) -> OpenOptions<'a> {
    OpenOptions {
        keys: key.map(|k| k as &dyn DecryptionKey).into_iter().collect(),
        trust_anchors: vec![Certificate::from_der(&w.pki.ca_der).expect("CA")],
        ..OpenOptions::default()
    }
}

/// `mss::sign_message`, or its streaming counterpart when `streamed`.
fn sign_message(
    streamed: bool,
    draft: &[u8],
    signer: &SoftwareIdentity,
    opts: &SignOptions,
    msg: &MessageOptions,
) -> Vec<u8> {
    if !streamed {
        return mss::sign_message(draft, signer, opts, msg).expect("sign_message");
    }
    let mut out = Vec::new();
    mss::stream::sign_message_stream(&mut &draft[..], &mut out, signer, opts, msg, &mut |_| {})
        .expect("sign_message_stream");
    out
}

/// `mss::sign_and_encrypt_message` (or streaming) to `to`, default options.
fn sign_and_encrypt(
    streamed: bool,
    draft: &[u8],
    signer: &SoftwareIdentity,
    to: &[Certificate],
) -> Vec<u8> {
    let (opts, msg) = (EncryptOptions::default(), MessageOptions::default());
    if !streamed {
        return mss::sign_and_encrypt_message(draft, signer, to, None, &opts, &msg)
            .expect("sign_and_encrypt_message");
    }
    let mut out = Vec::new();
    mss::stream::sign_and_encrypt_message_stream(
        &mut &draft[..],
        &mut out,
        signer,
        to,
        None,
        &opts,
        &msg,
        &mut |_| {},
    )
    .expect("sign_and_encrypt_message_stream");
    out
}

/// `mss::encrypt_message` (or streaming) to `to`, default options.
fn encrypt(streamed: bool, draft: &[u8], to: &[Certificate], sender: &Certificate) -> Vec<u8> {
    let (opts, msg) = (EncryptOptions::default(), MessageOptions::default());
    if !streamed {
        return mss::encrypt_message(draft, to, sender, &opts, &msg).expect("encrypt_message");
    }
    let mut out = Vec::new();
    mss::stream::encrypt_message_stream(
        &mut &draft[..],
        &mut out,
        to,
        sender,
        &opts,
        &msg,
        &mut |_| {},
    )
    .expect("encrypt_message_stream");
    out
}

fn draft(w: &Workdir, tag: &str) -> Vec<u8> {
    let mut d = format!(
        "From: {}\r\nTo: {}\r\nSubject: CR DUPONT Jean {tag}\r\n\
         Message-ID: <{tag}@example.test>\r\n",
        w.pki.alice.email, w.pki.bob.email
    )
    .into_bytes();
    d.extend_from_slice(&mss_tests::sample_content(tag));
    d
}

/// `openssl cms -verify_receipt RECEIPT -in ORIGINAL -CAfile ca.pem`.
fn openssl_verify_receipt(w: &Workdir, receipt: &[u8], original: &[u8]) -> Result<(), String> {
    let r = w.write("receipt.eml", receipt);
    let o = w.write("original.eml", original);
    let out = w.try_openssl(&[
        "cms",
        "-verify_receipt",
        r.to_str().unwrap(),
        "-in",
        o.to_str().unwrap(),
        "-CAfile",
        "ca.pem",
    ]);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn openssl_requests_a_receipt_mss_answers_and_openssl_verifies_it() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    for opaque in [false, true] {
        let original = w.openssl_sign(
            "alice",
            &mss_tests::sample_content("openssl-rr"),
            opaque,
            &[
                "-receipt_request_all",
                "-receipt_request_to",
                &w.pki.alice.email,
            ],
        );
        let opened = mss::open(&original, &opts(&w, None)).expect("mss opens");
        let rr = &opened.report.receipt_requests;
        assert_eq!(rr.len(), 1, "{:#}", opened.report.to_json());
        assert_eq!(rr[0].receipts_from, "all");
        assert_eq!(rr[0].receipts_to, std::slice::from_ref(&w.pki.alice.email));

        let receipt =
            mss::create_receipt(&original, &opts(&w, None), &bob, &SignOptions::default())
                .expect("mss signs the receipt");
        openssl_verify_receipt(&w, &receipt.message, &original)
            .unwrap_or_else(|e| panic!("OpenSSL rejects mss's receipt (opaque {opaque}): {e}"));
        // And mss agrees with itself on OpenSSL's original.
        let v = mss::verify_receipt(&receipt.message, &original, &opts(&w, None)).unwrap();
        assert_eq!(v.status, ReceiptStatus::Valid, "{v:?}");
    }
}

#[test]
fn openssl_rejects_an_mss_receipt_for_another_message() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let rr = [
        "-receipt_request_all",
        "-receipt_request_to",
        w.pki.alice.email.as_str(),
    ];
    let first = w.openssl_sign("alice", &mss_tests::sample_content("a"), false, &rr);
    let second = w.openssl_sign("alice", &mss_tests::sample_content("b"), false, &rr);
    let receipt =
        mss::create_receipt(&first, &opts(&w, None), &bob, &SignOptions::default()).unwrap();
    assert!(openssl_verify_receipt(&w, &receipt.message, &second).is_err());
    let v = mss::verify_receipt(&receipt.message, &second, &opts(&w, None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Unrelated, "{v:?}");
}

#[test]
fn mss_requests_a_receipt_openssl_answers_and_mss_verifies_it() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    for (streamed, opaque) in [(false, false), (false, true), (true, false), (true, true)] {
        let sent = sign_message(
            streamed,
            &draft(&w, "mss-rr"),
            &alice,
            &SignOptions {
                opaque,
                ..SignOptions::default()
            },
            &MessageOptions {
                receipt_request: Some(RequestReceipt {
                    from: ReceiptsFromSpec::Only(vec![w.pki.bob.email.clone()]),
                    to: vec![],
                }),
                ..MessageOptions::default()
            },
        );
        // OpenSSL reads our request: it prints it, and answers it.
        let s = w.write("mss-sent.eml", &sent);
        let printed = w.openssl(&["cms", "-cmsout", "-print", "-in", s.to_str().unwrap()]);
        let printed = String::from_utf8_lossy(&printed.stdout);
        assert!(printed.contains("id-smime-aa-receiptRequest"), "{printed}");
        let out = w.path("openssl-receipt.eml");
        w.openssl(&[
            "cms",
            "-sign_receipt",
            "-in",
            s.to_str().unwrap(),
            "-signer",
            "bob.pem",
            "-inkey",
            "bob.key",
            "-out",
            out.to_str().unwrap(),
        ]);
        let receipt = w.read("openssl-receipt.eml");
        assert!(contains(&receipt, b"signed-receipt"));
        let v = mss::verify_receipt(&receipt, &sent, &opts(&w, None)).unwrap();
        assert_eq!(
            v.status,
            ReceiptStatus::Valid,
            "streamed {streamed}, opaque {opaque}: {v:?}"
        );
        assert_eq!(
            v.signer.as_ref().unwrap().signer.email.as_deref(),
            Some(w.pki.bob.email.as_str())
        );
        // OpenSSL agrees on its own receipt for our message.
        openssl_verify_receipt(&w, &receipt, &sent)
            .unwrap_or_else(|e| panic!("OpenSSL rejects its receipt for mss's message: {e}"));
    }
}

#[test]
fn an_openssl_receipt_checked_against_a_message_without_request_is_unrelated() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let with = mss::sign_message(
        &draft(&w, "with"),
        &alice,
        &SignOptions::default(),
        &MessageOptions {
            receipt_request: Some(RequestReceipt::default()),
            ..MessageOptions::default()
        },
    )
    .unwrap();
    let without = mss::sign(&draft(&w, "without"), &alice, &SignOptions::default()).unwrap();
    let s = w.write("with.eml", &with);
    let out = w.path("r.eml");
    w.openssl(&[
        "cms",
        "-sign_receipt",
        "-in",
        s.to_str().unwrap(),
        "-signer",
        "bob.pem",
        "-inkey",
        "bob.key",
        "-out",
        out.to_str().unwrap(),
    ]);
    let receipt = w.read("r.eml");
    let v = mss::verify_receipt(&receipt, &without, &opts(&w, None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Unrelated, "{v:?}");
    // OpenSSL refuses to answer a message that requests nothing.
    let s = w.write("without.eml", &without);
    let o = w.try_openssl(&[
        "cms",
        "-sign_receipt",
        "-in",
        s.to_str().unwrap(),
        "-signer",
        "bob.pem",
        "-inkey",
        "bob.key",
    ]);
    assert!(!o.status.success());
}

// ------------------------------------------------------------ header protection

#[test]
fn protected_signed_and_encrypted_messages_open_in_openssl() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    for streamed in [false, true] {
        protected_signed_and_encrypted_message_opens_in_openssl(&w, &alice, streamed);
    }
}

fn protected_signed_and_encrypted_message_opens_in_openssl(
    w: &Workdir,
    alice: &SoftwareIdentity,
    streamed: bool,
) {
    let d = draft(w, "hp-sign-enc");
    let sent = sign_and_encrypt(streamed, &d, alice, &[cert(&w.pki.bob)]);
    let top = mime::parse(&sent);
    assert_eq!(top.header("Subject"), Some("[...]"));
    let signed = w
        .openssl_decrypt(&sent, "bob")
        .unwrap_or_else(|e| panic!("OpenSSL cannot decrypt: {e}"));
    let content = w
        .openssl_verify(&signed)
        .unwrap_or_else(|e| panic!("OpenSSL rejects the inner signature: {e}"));
    // OpenSSL hands out the protected entity: the real Subject and the HP-Outer record
    // are its first header lines.
    let inner = mime::parse(&content);
    assert_eq!(inner.header("Subject"), Some("CR DUPONT Jean hp-sign-enc"));
    assert_eq!(inner.header("HP-Outer"), Some("From: alice@example.test"));
    assert!(
        inner.param("hp").is_some_and(|v| v == "cipher"),
        "{inner:?}"
    );
    assert!(contains(&inner.decoded_body(), "compte rendu".as_bytes()));
}

#[test]
fn protected_encrypted_messages_open_in_openssl_and_nss() {
    for streamed in [false, true] {
        protected_encrypted_message_opens_in_openssl_and_nss(streamed);
    }
}

fn protected_encrypted_message_opens_in_openssl_and_nss(streamed: bool) {
    let w = Workdir::new();
    let d = draft(&w, "hp-enc");
    let sent = encrypt(streamed, &d, &[cert(&w.pki.bob)], &cert(&w.pki.alice));
    assert_eq!(mime::parse(&sent).header("Subject"), Some("[...]"));
    let got = w
        .openssl_decrypt(&sent, "bob")
        .unwrap_or_else(|e| panic!("OpenSSL cannot decrypt: {e}"));
    assert_eq!(
        mime::parse(&got).header("Subject"),
        Some("CR DUPONT Jean hp-enc")
    );
    let db = w.nss();
    let got = db
        .decode(&mime::cms_of(&sent), None)
        .unwrap_or_else(|e| panic!("NSS cannot decrypt: {e}"));
    assert_eq!(
        mime::parse(&got).header("Subject"),
        Some("CR DUPONT Jean hp-enc")
    );
}

#[test]
fn protected_signed_only_messages_verify_in_openssl() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    for (streamed, opaque) in [(false, false), (false, true), (true, false), (true, true)] {
        let sent = sign_message(
            streamed,
            &draft(&w, "hp-clear"),
            &alice,
            &SignOptions {
                opaque,
                ..SignOptions::default()
            },
            &MessageOptions {
                protect_headers: ProtectHeaders::Always,
                ..MessageOptions::default()
            },
        );
        let content = w.openssl_verify(&sent).unwrap_or_else(|e| {
            panic!("OpenSSL rejects (streamed {streamed}, opaque {opaque}): {e}")
        });
        let inner = mime::parse(&content);
        assert_eq!(inner.header("Subject"), Some("CR DUPONT Jean hp-clear"));
        assert!(inner.param("hp").is_some_and(|v| v == "clear"));
    }
}
