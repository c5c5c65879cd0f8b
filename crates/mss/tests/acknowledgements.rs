//! Acknowledgements through the facade: ESS signed receipts (RFC 2634) and disposition
//! notifications (RFC 8098), with software identities. OpenSSL interoperability for
//! receipts is in `tests/tests/interop_receipts.rs`.

mod common;

use mss::{
    DispositionType, EncryptOptions, MdnOptions, MdnStatus, MessageOptions, OpenOptions,
    ReceiptStatus, ReceiptsFromSpec, RequestReceipt, SignOptions,
};
use mss_token::SoftwareIdentity;

use common::{carol, cert, pki};

const DRAFT: &[u8] = b"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n\
Subject: CR DUPONT Jean\r\nMessage-ID: <ack-1@example.test>\r\n\
Disposition-Notification-To: Alice <alice@example.test>\r\n\r\nCompte rendu.\r\n";

const OTHER: &[u8] = b"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n\
Subject: autre\r\nMessage-ID: <ack-2@example.test>\r\n\
Disposition-Notification-To: alice@example.test\r\n\r\nAutre.\r\n";

fn opts(key: Option<&SoftwareIdentity>) -> OpenOptions<'_> {
    common::open_options(key)
}

fn with_receipt(from: ReceiptsFromSpec) -> MessageOptions {
    MessageOptions {
        receipt_request: Some(RequestReceipt { from, to: vec![] }),
        ..Default::default()
    }
}

fn signed_with_request(draft: &[u8], from: ReceiptsFromSpec) -> Vec<u8> {
    mss::sign_message(
        draft,
        &pki().alice,
        &SignOptions::default(),
        &with_receipt(from),
    )
    .unwrap()
}

#[test]
fn a_requested_receipt_is_produced_and_verifies() {
    let p = pki();
    let sent = signed_with_request(DRAFT, ReceiptsFromSpec::All);
    let opened = mss::open(&sent, &opts(None)).unwrap();
    let rr = &opened.report.receipt_requests;
    assert_eq!(rr.len(), 1, "{:#}", opened.report.to_json());
    assert_eq!(rr[0].receipts_from, "all");
    assert_eq!(rr[0].receipts_to, ["alice@example.test"]);
    assert_eq!(rr[0].signed_content_identifier.len(), 64);

    let receipt = mss::create_receipt(&sent, &opts(None), &p.bob, &SignOptions::default()).unwrap();
    assert_eq!(receipt.receipts_to, ["alice@example.test"]);
    let text = String::from_utf8_lossy(&receipt.message);
    assert!(text.contains("smime-type=signed-receipt"), "{text}");
    assert!(text.contains("In-Reply-To: <ack-1@example.test>"), "{text}");

    let v = mss::verify_receipt(&receipt.message, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Valid, "{v:?}");
    assert_eq!(
        v.signer.as_ref().unwrap().signer.email.as_deref(),
        Some("bob@example.test")
    );
    assert_eq!(
        v.signed_content_identifier.as_deref(),
        Some(rr[0].signed_content_identifier.as_str())
    );
    // The bare CMS form verifies too.
    let v = mss::verify_receipt(&receipt.cms, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Valid);
}

#[test]
fn a_receipt_for_another_message_is_unrelated() {
    let p = pki();
    let sent = signed_with_request(DRAFT, ReceiptsFromSpec::All);
    let other = signed_with_request(OTHER, ReceiptsFromSpec::All);
    let receipt = mss::create_receipt(&sent, &opts(None), &p.bob, &SignOptions::default()).unwrap();
    let v = mss::verify_receipt(&receipt.message, &other, &opts(None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Unrelated, "{v:?}");
    // Not a receipt at all: an error, not a verdict.
    assert!(mss::verify_receipt(&other, &sent, &opts(None)).is_err());
}

#[test]
fn an_untrusted_receipt_signer_is_not_valid() {
    let p = pki();
    let sent = signed_with_request(DRAFT, ReceiptsFromSpec::All);
    let receipt = mss::create_receipt(&sent, &opts(None), &p.bob, &SignOptions::default()).unwrap();
    let no_anchor = OpenOptions::default();
    let v = mss::verify_receipt(&receipt.message, &sent, &no_anchor).unwrap();
    assert_eq!(v.status, ReceiptStatus::Untrusted, "{v:?}");
}

#[test]
fn a_tampered_receipt_is_invalid() {
    let p = pki();
    let sent = signed_with_request(DRAFT, ReceiptsFromSpec::All);
    let receipt = mss::create_receipt(&sent, &opts(None), &p.bob, &SignOptions::default()).unwrap();
    // Flip one bit of the receipt's signature value (the last bytes of the DER).
    let mut cms = receipt.cms.clone();
    let n = cms.len();
    cms[n - 3] ^= 0x01;
    let v = mss::verify_receipt(&cms, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, ReceiptStatus::Invalid, "{v:?}");
}

#[test]
fn receipts_are_refused_when_not_asked_or_not_verified() {
    let p = pki();
    let plain = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let e = mss::create_receipt(&plain, &opts(None), &p.bob, &SignOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not request"), "{e}");

    let sent = signed_with_request(DRAFT, ReceiptsFromSpec::All);
    let e = mss::create_receipt(
        &sent,
        &OpenOptions::default(),
        &p.bob,
        &SignOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not valid and trusted"), "{e}");

    let listed = signed_with_request(
        DRAFT,
        ReceiptsFromSpec::Only(vec!["carol@example.test".into()]),
    );
    let e = mss::create_receipt(&listed, &opts(None), &p.bob, &SignOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not ask"), "{e}");
    let ok = mss::create_receipt(&listed, &opts(None), carol(), &SignOptions::default());
    assert!(ok.is_ok());

    let receipt = mss::create_receipt(&sent, &opts(None), &p.bob, &SignOptions::default()).unwrap();
    let e = mss::create_receipt(
        &receipt.message,
        &opts(None),
        &p.alice,
        &SignOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("itself a signed receipt"), "{e}");

    let e = mss::encrypt_message(
        DRAFT,
        &[cert(&p.bob)],
        &cert(&p.alice),
        &EncryptOptions::default(),
        &with_receipt(ReceiptsFromSpec::All),
    )
    .unwrap_err();
    assert!(matches!(e, mss::Error::InvalidRequest(_)), "{e}");
}

#[test]
fn receipts_for_signed_and_encrypted_messages() {
    let p = pki();
    let sent = mss::sign_and_encrypt_message(
        DRAFT,
        &p.alice,
        &[cert(&p.bob)],
        None,
        &EncryptOptions::default(),
        &with_receipt(ReceiptsFromSpec::FirstTier),
    )
    .unwrap();
    let receipt =
        mss::create_receipt(&sent, &opts(Some(&p.bob)), &p.bob, &SignOptions::default()).unwrap();
    assert_eq!(
        receipt.original.receipt_requests[0].receipts_from,
        "first-tier"
    );
    // Alice checks it against her sent copy, which she can decrypt.
    let v = mss::verify_receipt(&receipt.message, &sent, &opts(Some(&p.alice))).unwrap();
    assert_eq!(v.status, ReceiptStatus::Valid, "{v:?}");
    // Without her key she cannot read the original: an error, not a verdict.
    assert!(mss::verify_receipt(&receipt.message, &sent, &opts(None)).is_err());
}

// ------------------------------------------------------------------------- MDN

#[test]
fn an_mdn_for_an_encrypted_message_is_encrypted_back_and_matches() {
    let p = pki();
    let sent = common::alice_to_bob(DRAFT);
    let opened = mss::open(&sent, &opts(Some(&p.bob))).unwrap();
    assert_eq!(
        opened.report.disposition_notification_to.as_deref(),
        Some("Alice <alice@example.test>")
    );
    let mdn = mss::create_mdn(
        &sent,
        &opts(Some(&p.bob)),
        &p.bob,
        None,
        &[],
        &MdnOptions::default(),
    )
    .unwrap();
    assert!(mdn.encrypted);
    assert_eq!(mdn.to, "alice@example.test");
    let text = String::from_utf8_lossy(&mdn.message);
    assert!(text.contains("enveloped-data"), "{text}");
    assert!(!text.contains("DUPONT"), "nothing of the original in clear");

    let v = mss::verify_mdn(&mdn.message, &sent, &opts(Some(&p.alice))).unwrap();
    assert_eq!(v.status, MdnStatus::Valid, "{v:?}");
    assert_eq!(v.disposition_type, "processed");
    assert!(v.modifiers.is_empty());
    assert_eq!(
        v.disposition,
        "automatic-action/MDN-sent-automatically; processed"
    );
    assert_eq!(v.final_recipient, "bob@example.test");
    assert_eq!(
        v.original_message_id.as_deref(),
        Some("<ack-1@example.test>")
    );
    assert!(v.report.encrypted);
    assert!(v.reporting_ua.as_deref().unwrap().starts_with("mss;"));

    // Against another sent message: unrelated.
    let other = mss::sign(OTHER, &p.alice, &SignOptions::default()).unwrap();
    let v = mss::verify_mdn(&mdn.message, &other, &opts(Some(&p.alice))).unwrap();
    assert_eq!(v.status, MdnStatus::Unrelated, "{v:?}");
}

#[test]
fn an_mdn_for_a_signed_message_is_signed_and_can_say_displayed() {
    let p = pki();
    let sent = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let mdn = mss::create_mdn(
        &sent,
        &opts(None),
        &p.bob,
        None,
        &[],
        &MdnOptions {
            disposition: DispositionType::Displayed,
            original_part: mss::OriginalPart::Full,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!mdn.encrypted);
    let text = String::from_utf8_lossy(&mdn.message);
    assert!(text.contains("multipart/signed"), "{text}");
    assert!(
        text.contains("report-type=disposition-notification"),
        "{text}"
    );
    assert!(text.contains("message/rfc822"), "{text}");
    let v = mss::verify_mdn(&mdn.message, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, MdnStatus::Valid, "{v:?}");
    assert_eq!(v.disposition_type, "displayed");
}

#[test]
fn an_mdn_signed_by_someone_else_or_unsigned_is_not_valid() {
    let p = pki();
    let sent = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let forged = mss::create_mdn(
        &sent,
        &opts(None),
        carol(),
        None,
        &[],
        &MdnOptions {
            final_recipient: Some("bob@example.test".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let v = mss::verify_mdn(&forged.message, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, MdnStatus::Untrusted, "{v:?}");
    assert!(v.detail.unwrap().contains("final recipient"));

    let fields = mss::DispositionFields {
        reporting_ua: None,
        original_recipient: None,
        final_recipient: "bob@example.test".into(),
        original_message_id: Some("<ack-1@example.test>".into()),
        disposition: DispositionType::Processed,
        error: None,
    };
    let opened = mss::open(&sent, &opts(None)).unwrap();
    let unsigned = mss::build_mdn_draft(
        &opened.message,
        &fields,
        "bob@example.test",
        "alice@example.test",
        None,
        mss::OriginalPart::Headers,
    )
    .unwrap();
    let v = mss::verify_mdn(&unsigned, &sent, &opts(None)).unwrap();
    assert_eq!(v.status, MdnStatus::Unsigned, "{v:?}");
}

#[test]
fn an_unreadable_message_gets_an_error_notification() {
    let p = pki();
    // Addressed to Bob only: Carol cannot decrypt it.
    let sent = common::alice_to_bob(DRAFT);
    let mdn = mss::create_mdn(
        &sent,
        &opts(Some(carol())),
        carol(),
        None,
        &[],
        &MdnOptions::default(),
    )
    .unwrap();
    assert!(!mdn.encrypted, "nothing of the original is quoted");
    let v = mss::verify_mdn(&mdn.message, &sent, &opts(Some(&p.alice))).unwrap();
    assert_eq!(v.status, MdnStatus::Valid, "{v:?}");
    assert_eq!(v.modifiers, ["error"]);
    assert!(
        v.error.as_deref().unwrap().contains("cannot decrypt"),
        "{v:?}"
    );

    // No Disposition-Notification-To: no notification.
    let quiet = mss::sign(
        b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: x\r\n\r\nx\r\n",
        &p.alice,
        &SignOptions::default(),
    )
    .unwrap();
    let e = mss::create_mdn(
        &quiet,
        &opts(None),
        &p.bob,
        None,
        &[],
        &MdnOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, mss::Error::InvalidRequest(_)), "{e}");
}
