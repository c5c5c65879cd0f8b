//! Header protection (RFC 9788) through the facade: what is sent, what is recovered
//! and reported, and the shared `protected-headers="v1"` samples
//! (`shared/vectors/protected-headers`, from the autocrypt protected-headers project).

mod common;

use mss::{
    Certificate, EncryptOptions, MessageOptions, ProtectHeaders, SignOptions, SignatureStatus,
};

use mss_token::SoftwareIdentity;

use common::{cert, open_with as open_as, pki};

const SUBJECT: &str = "XDM/1.0/DDM+CR DUPONT Jean 01/02/1960";
const DRAFT: &[u8] = b"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n\
Subject: XDM/1.0/DDM+CR DUPONT Jean 01/02/1960\r\nMessage-ID: <hp-1@example.test>\r\n\
Keywords: patient\r\n\r\nCompte rendu joint.\r\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn headers_of(msg: &[u8]) -> String {
    let t = text(msg);
    t.split("\r\n\r\n").next().unwrap_or_default().to_string()
}

#[test]
fn encrypted_messages_hide_the_subject_and_open_with_it() {
    let p = pki();
    let sent = common::alice_to_bob(DRAFT);
    let outer = headers_of(&sent);
    assert!(outer.contains("Subject: [...]"), "{outer}");
    assert!(
        !text(&sent).contains("DUPONT"),
        "the patient's name is not in clear"
    );
    assert!(
        !outer.contains("Keywords"),
        "hcp_baseline drops Keywords: {outer}"
    );
    assert!(outer.contains("Message-ID: <hp-1@example.test>"), "{outer}");

    let opened = open_as(&sent, Some(&p.bob), vec![p.ca.certificate().clone()]);
    let r = &opened.report;
    assert!(r.all_signatures_valid(), "{:#}", r.to_json());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let ph = r.protected_headers.as_ref().expect("protected headers");
    assert_eq!(ph.scheme, "hp-cipher");
    assert!(
        ph.headers
            .iter()
            .any(|h| h.name == "Subject" && h.value == SUBJECT)
    );
    let names: Vec<&str> = ph.differences.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Subject", "Keywords"], "{:#}", r.to_json());
    assert!(ph.differences.iter().all(|d| d.expected));
    let clear = headers_of(&opened.message);
    assert!(clear.contains(&format!("Subject: {SUBJECT}")), "{clear}");
    assert!(!clear.contains("HP-Outer"), "{clear}");
    assert!(!clear.contains("[...]"), "{clear}");
    assert!(text(&opened.message).ends_with("Compte rendu joint.\r\n"));
    let json = r.to_json();
    assert_eq!(json["protected_headers"]["scheme"], "hp-cipher");
}

#[test]
fn encrypt_only_also_protects_and_never_turns_it_off() {
    let p = pki();
    let sent = mss::encrypt(
        DRAFT,
        &[cert(&p.bob)],
        &cert(&p.alice),
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(headers_of(&sent).contains("Subject: [...]"));
    let opened = open_as(&sent, Some(&p.bob), vec![]);
    assert!(headers_of(&opened.message).contains(SUBJECT));
    assert_eq!(
        opened.report.protected_headers.as_ref().unwrap().scheme,
        "hp-cipher"
    );

    let plain = mss::encrypt_message(
        DRAFT,
        &[cert(&p.bob)],
        &cert(&p.alice),
        &EncryptOptions::default(),
        &MessageOptions {
            protect_headers: ProtectHeaders::Never,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(headers_of(&plain).contains(SUBJECT));
    let opened = open_as(&plain, Some(&p.bob), vec![]);
    assert!(opened.report.protected_headers.is_none());
}

#[test]
fn an_outer_header_altered_in_transit_is_flagged_when_encrypted() {
    let p = pki();
    let sent = common::alice_to_bob(DRAFT);
    let forged = text(&sent).replace(
        "To: Bob <bob@example.test>",
        "To: Bob <bob@example.test>, eve@example.test",
    );
    assert_ne!(forged.as_bytes(), &sent[..]);
    let opened = open_as(
        forged.as_bytes(),
        Some(&p.bob),
        vec![p.ca.certificate().clone()],
    );
    let r = &opened.report;
    assert!(
        r.warnings.iter().any(|w| w == "header-mismatch: To"),
        "{:?}",
        r.warnings
    );
    let d = r
        .protected_headers
        .as_ref()
        .unwrap()
        .differences
        .iter()
        .find(|d| d.name == "To")
        .expect("To differs");
    assert!(!d.expected);
    assert!(headers_of(&opened.message).contains("To: Bob <bob@example.test>\r\n"));
}

#[test]
fn signed_only_protection_is_opt_in_and_flags_a_changed_subject() {
    let p = pki();
    let unprotected = mss::sign(DRAFT, &p.alice, &SignOptions::default()).unwrap();
    let opened = open_as(&unprotected, None, vec![p.ca.certificate().clone()]);
    assert!(opened.report.protected_headers.is_none());

    let signed = mss::sign_message(
        DRAFT,
        &p.alice,
        &SignOptions::default(),
        &MessageOptions {
            protect_headers: ProtectHeaders::Always,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(headers_of(&signed).contains(SUBJECT), "nothing hidden");
    assert!(text(&signed).contains("hp=\"clear\""));
    let opened = open_as(&signed, None, vec![p.ca.certificate().clone()]);
    let r = &opened.report;
    assert!(r.all_signatures_valid());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let ph = r.protected_headers.as_ref().unwrap();
    assert_eq!(ph.scheme, "hp-clear");
    assert!(ph.differences.is_empty());

    let changed = text(&signed).replacen(
        &format!("Subject: {SUBJECT}"),
        "Subject: Rien d'important",
        1,
    );
    let opened = open_as(changed.as_bytes(), None, vec![p.ca.certificate().clone()]);
    let r = &opened.report;
    assert_eq!(r.signatures[0].status, SignatureStatus::Valid);
    assert!(
        r.warnings.iter().any(|w| w == "header-mismatch: Subject"),
        "{:?}",
        r.warnings
    );
    let d = &r.protected_headers.as_ref().unwrap().differences;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].outer.as_deref(), Some("Rien d'important"));
    assert_eq!(d[0].protected.as_deref(), Some(SUBJECT));
    assert!(!d[0].expected);
    assert!(
        headers_of(&opened.message).contains(SUBJECT),
        "the signed Subject wins"
    );
}

#[test]
fn an_unsigned_unencrypted_hp_marking_is_not_believed() {
    let msg = b"From: a@example.test\r\nSubject: outer\r\nContent-Type: text/plain; hp=\"clear\"\r\n\r\nx\r\n";
    let opened = open_as(msg, None, vec![]);
    assert!(opened.report.protected_headers.is_none());
}

// ------------------------------------------------------------ shared samples

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/vectors/protected-headers/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sample_bob() -> SoftwareIdentity {
    let pem = String::from_utf8(vector("bob.p12")).unwrap();
    SoftwareIdentity::from_pem(&pem, Some("bob")).expect("bob.p12 (password bob)")
}

fn sample_ca() -> Vec<Certificate> {
    use der::DecodePem;
    vec![Certificate::from_pem(vector("sample-ca.pem")).expect("sample CA")]
}

struct Expect {
    file: &'static str,
    subject: &'static str,
    signed: bool,
    encrypted: bool,
    legacy_display: bool,
}

#[test]
fn the_legacy_v1_samples_open_with_their_protected_headers() {
    let bob = sample_bob();
    let cases = [
        Expect {
            file: "smime-multipart-signed.eml",
            subject: "The FooCorp contract",
            signed: true,
            encrypted: false,
            legacy_display: false,
        },
        Expect {
            file: "smime-onepart-signed.eml",
            subject: "The FooCorp contract",
            signed: true,
            encrypted: false,
            legacy_display: false,
        },
        Expect {
            file: "smime-sign+enc.eml",
            subject: "BarCorp contract signed, let's go!",
            signed: true,
            encrypted: true,
            legacy_display: false,
        },
        Expect {
            file: "smime-sign+enc+legacy-disp.eml",
            subject: "BarCorp contract signed, let's go!",
            signed: true,
            encrypted: true,
            legacy_display: true,
        },
        Expect {
            file: "smime-enc+legacy-disp.eml",
            subject: "BarCorp contract signed, let's go!",
            signed: false,
            encrypted: true,
            legacy_display: true,
        },
    ];
    for c in cases {
        let opened = open_as(&vector(c.file), Some(&bob), sample_ca());
        let r = &opened.report;
        let json = r.to_json();
        assert_eq!(r.encrypted, c.encrypted, "{}: {json:#}", c.file);
        assert_eq!(r.is_signed(), c.signed, "{}: {json:#}", c.file);
        if c.signed {
            assert!(r.all_signatures_valid(), "{}: {json:#}", c.file);
            assert_eq!(
                r.signatures[0].signer.email.as_deref(),
                Some("alice@smime.example")
            );
        }
        let ph = r
            .protected_headers
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no protected headers: {json:#}", c.file));
        assert_eq!(ph.scheme, "legacy-v1", "{}", c.file);
        assert_eq!(ph.legacy_display, c.legacy_display, "{}", c.file);
        assert!(
            ph.headers
                .iter()
                .any(|h| h.name == "Subject" && h.value == c.subject),
            "{}: {json:#}",
            c.file
        );
        assert!(
            !r.warnings.iter().any(|w| w.starts_with("header-mismatch")),
            "{}: {:?}",
            c.file,
            r.warnings
        );
        if c.encrypted {
            // The outer Subject was "...": obscured by the sender, expected.
            let d: Vec<_> = ph.differences.iter().collect();
            assert_eq!(d.len(), 1, "{}: {json:#}", c.file);
            assert_eq!(d[0].name, "Subject");
            assert_eq!(d[0].outer.as_deref(), Some("..."));
            assert!(d[0].expected);
        } else {
            assert!(ph.differences.is_empty(), "{}: {json:#}", c.file);
        }
        let clear = headers_of(&opened.message);
        assert!(
            clear.contains(&format!("Subject: {}", c.subject)),
            "{}: {clear}",
            c.file
        );
    }
}

#[test]
fn a_sample_whose_outer_subject_was_changed_is_flagged() {
    let msg = text(&vector("smime-multipart-signed.eml"));
    let changed = msg.replacen(
        "Subject: The FooCorp contract",
        "Subject: Nothing to see",
        1,
    );
    let opened = open_as(changed.as_bytes(), None, sample_ca());
    let r = &opened.report;
    assert!(r.all_signatures_valid(), "{:#}", r.to_json());
    assert!(
        r.warnings.iter().any(|w| w == "header-mismatch: Subject"),
        "{:?}",
        r.warnings
    );
}
