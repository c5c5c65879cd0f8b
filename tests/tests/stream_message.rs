//! The streaming send path with message options (`mss::stream::*_message_stream`):
//! RFC 9788 header protection and RFC 2634 receipt requests give the same message as
//! the in-memory `mss::*_message` calls. For several drafts (text, multipart with an
//! attachment, non-ASCII Subject, several To and Cc) and every option combination, the
//! streamed message and the in-memory one are both opened with `mss::open` and with
//! `mss::stream::open_stream`, and what each opener recovers (clear message, protected
//! header report, receipt request, layers) must agree; the expected structure is also
//! checked directly (an obscured outer Subject, the `hp` marking).

use mss::stream::{
    encrypt_message_stream, open_stream, sign_and_encrypt_message_stream, sign_message_stream,
};
use mss::{
    Certificate, ContentCipher, EncryptOptions, MessageOptions, OpenOptions, ProtectHeaders,
    ReceiptsFromSpec, Report, RequestReceipt, SignOptions, SignatureStatus,
};
use mss_tests::{PASSWORD, User, Workdir, lf, mime};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD).expect("identity")
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

/// The drafts: name and bytes.
fn drafts(w: &Workdir) -> Vec<(&'static str, Vec<u8>)> {
    let (a, b) = (&w.pki.alice.email, &w.pki.bob.email);
    let head = |subject: &str, extra: &str| {
        format!(
            "From: Dr Alice Martin <{a}>\r\nTo: {b}\r\n{extra}Subject: {subject}\r\n\
             Date: Mon, 01 Jan 2024 10:00:00 +0100\r\nMessage-ID: <hp-stream@example.test>\r\n\
             MIME-Version: 1.0\r\n"
        )
    };
    let mut text = head("CR DUPONT Jean 01/02/1960", "Keywords: cr\r\n").into_bytes();
    text.extend_from_slice(&mss_tests::sample_content("text"));

    let mut multipart = head("Imagerie DUPONT", "").into_bytes();
    multipart.extend_from_slice(
        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
          --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\
          Content-Transfer-Encoding: quoted-printable\r\n\r\n\
          Ci-joint le compte rendu, =C3=A0 lire.\r\n\
          --b1\r\nContent-Type: application/pdf; name=\"cr.pdf\"\r\n\
          Content-Disposition: attachment; filename=\"cr.pdf\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n\
          JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n\
          --b1--\r\n",
    );

    let mut non_ascii = head(
        "=?utf-8?q?Compte_rendu_=E2=80=94_H=C3=A9l=C3=A8ne_M=C3=BCller?=",
        "",
    )
    .into_bytes();
    non_ascii.extend_from_slice(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nvoir le dossier.\r\n",
    );

    let to: Vec<String> = (0..12).map(|i| format!("dr{i}@hopital.example")).collect();
    let cc = format!("{a}, secretariat@hopital.example, archives@hopital.example");
    let mut several = head(
        "Staff du lundi",
        &format!("To: {}\r\nCc: {cc}\r\n", to.join(", ")),
    )
    .into_bytes();
    several.extend_from_slice(&mss_tests::sample_content("several"));

    vec![
        ("text", text),
        ("multipart", multipart),
        ("non-ascii-subject", non_ascii),
        ("several-recipients", several),
    ]
}

/// What one opener recovered from one message, with what varies from one send to the
/// next left out (signing time, signedContentIdentifier, multipart boundaries, the
/// body's transfer encoding: a re-encoded body is base64 when streamed).
#[derive(Debug, PartialEq)]
struct Recovered {
    /// The clear message's header fields (Content-Transfer-Encoding aside) and its
    /// decoded body.
    headers: Vec<(String, String)>,
    body: String,
    encrypted: bool,
    signatures: Vec<SignatureStatus>,
    layers: Vec<mss::LayerKind>,
    warnings: Vec<String>,
    protected_headers: Option<mss::ProtectedHeaders>,
    /// receipts_from, its list, receipts_to.
    receipt_requests: Vec<(String, Vec<String>, Vec<String>)>,
    /// The displayed parts (path, content type) and the signatures covering them.
    parts: Vec<(String, String, Vec<usize>)>,
}

fn recovered(message: &[u8], report: &Report) -> Recovered {
    let e = mime::parse(message);
    Recovered {
        headers: e
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
            .cloned()
            .collect(),
        body: String::from_utf8_lossy(&lf(&e.decoded_body())).into_owned(),
        encrypted: report.encrypted,
        signatures: report.signatures.iter().map(|s| s.status).collect(),
        layers: report.layers.iter().map(|l| l.kind).collect(),
        warnings: report.warnings.clone(),
        protected_headers: report.protected_headers.clone(),
        receipt_requests: report
            .receipt_requests
            .iter()
            .map(|r| {
                (
                    r.receipts_from.clone(),
                    r.receipts_from_list.clone(),
                    r.receipts_to.clone(),
                )
            })
            .collect(),
        parts: report
            .parts
            .iter()
            .map(|p| (p.path.clone(), p.content_type.clone(), p.signed_by.clone()))
            .collect(),
    }
}

/// The sent message's own header fields, the multipart boundary left out.
fn sent_headers(msg: &[u8]) -> Vec<(String, String)> {
    mime::parse(msg)
        .headers
        .into_iter()
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("Content-Type") {
                let v: Vec<&str> = v
                    .split(';')
                    .filter(|p| !p.trim().to_ascii_lowercase().starts_with("boundary="))
                    .collect();
                (n, v.join(";"))
            } else {
                (n, v)
            }
        })
        .collect()
}

/// Open `msg` in memory and streaming.
fn open_both(msg: &[u8], opts: &OpenOptions<'_>) -> (Recovered, Recovered) {
    let opened = mss::open(msg, opts).expect("mss::open");
    let mut clear = Vec::new();
    let report = open_stream(&mut &msg[..], &mut clear, opts, &mut |_| {}).expect("open_stream");
    (
        recovered(&opened.message, &opened.report),
        recovered(&clear, &report),
    )
}

#[derive(Debug, Clone, Copy)]
enum Send {
    Sign { opaque: bool },
    Encrypt { cipher: ContentCipher },
    SignAndEncrypt { opaque: bool },
}

impl Send {
    fn signs(self) -> bool {
        !matches!(self, Send::Encrypt { .. })
    }
    fn encrypts(self) -> bool {
        !matches!(self, Send::Sign { .. })
    }
}

fn receipt_request(w: &Workdir) -> RequestReceipt {
    RequestReceipt {
        from: ReceiptsFromSpec::Only(vec![w.pki.bob.email.clone()]),
        to: vec![],
    }
}

/// Send `draft` in memory and streaming with the same options.
fn send_both(
    w: &Workdir,
    alice: &SoftwareIdentity,
    draft: &[u8],
    send: Send,
    msg: &MessageOptions,
) -> (Vec<u8>, Vec<u8>) {
    let bob = [cert(&w.pki.bob)];
    let mut streamed = Vec::new();
    let mut progress = 0u64;
    let memory = match send {
        Send::Sign { opaque } => {
            let opts = SignOptions {
                opaque,
                ..SignOptions::default()
            };
            sign_message_stream(
                &mut &draft[..],
                &mut streamed,
                alice,
                &opts,
                msg,
                &mut |n| progress = n,
            )
            .expect("sign_message_stream");
            mss::sign_message(draft, alice, &opts, msg).expect("sign_message")
        }
        Send::Encrypt { cipher } => {
            let opts = EncryptOptions {
                cipher,
                ..EncryptOptions::default()
            };
            let sender = cert(&w.pki.alice);
            encrypt_message_stream(
                &mut &draft[..],
                &mut streamed,
                &bob,
                &sender,
                &opts,
                msg,
                &mut |n| progress = n,
            )
            .expect("encrypt_message_stream");
            mss::encrypt_message(draft, &bob, &sender, &opts, msg).expect("encrypt_message")
        }
        Send::SignAndEncrypt { opaque } => {
            let mut opts = EncryptOptions::default();
            opts.sign.opaque = opaque;
            sign_and_encrypt_message_stream(
                &mut &draft[..],
                &mut streamed,
                alice,
                &bob,
                None,
                &opts,
                msg,
                &mut |n| progress = n,
            )
            .expect("sign_and_encrypt_message_stream");
            mss::sign_and_encrypt_message(draft, alice, &bob, None, &opts, msg)
                .expect("sign_and_encrypt_message")
        }
    };
    assert_eq!(progress, draft.len() as u64, "progress counts the draft");
    (memory, streamed)
}

#[test]
fn streamed_messages_with_options_open_like_in_memory_ones() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let opts = OpenOptions {
        keys: vec![&bob],
        trust_anchors: vec![Certificate::from_der(&w.pki.ca_der).expect("CA")],
        time: Some(std::time::SystemTime::now()),
        ..OpenOptions::default()
    };
    let sends = [
        Send::Sign { opaque: false },
        Send::Sign { opaque: true },
        Send::Encrypt {
            cipher: ContentCipher::Aes256Cbc,
        },
        Send::Encrypt {
            cipher: ContentCipher::Aes256Gcm,
        },
        Send::SignAndEncrypt { opaque: false },
        Send::SignAndEncrypt { opaque: true },
    ];
    let mut cases = 0;
    for (name, draft) in drafts(&w) {
        for send in sends {
            for hp in [
                ProtectHeaders::WhenEncrypting,
                ProtectHeaders::Always,
                ProtectHeaders::Never,
            ] {
                for rr in [false, true] {
                    if rr && !send.signs() {
                        continue;
                    }
                    let msg = MessageOptions {
                        protect_headers: hp,
                        receipt_request: rr.then(|| receipt_request(&w)),
                    };
                    let case = format!("{name} {send:?} {hp:?} receipt {rr}");
                    let (memory, streamed) = send_both(&w, &alice, &draft, send, &msg);
                    assert_eq!(sent_headers(&streamed), sent_headers(&memory), "{case}");
                    let (mem_open, mem_stream_open) = open_both(&memory, &opts);
                    let (str_open, str_stream_open) = open_both(&streamed, &opts);
                    assert_eq!(str_open, mem_open, "{case}: mss::open");
                    assert_eq!(
                        str_stream_open, mem_stream_open,
                        "{case}: mss::stream::open_stream"
                    );
                    check_structure(&w, &case, &streamed, &str_open, send, hp, rr);
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 4 * (4 * 6 + 2 * 3));
}

/// What the options ask for is there (so that the comparison cannot pass on two equal
/// mistakes).
fn check_structure(
    w: &Workdir,
    case: &str,
    sent: &[u8],
    opened: &Recovered,
    send: Send,
    hp: ProtectHeaders,
    rr: bool,
) {
    let outer = mime::parse(sent);
    let scheme = match (hp, send.encrypts()) {
        (ProtectHeaders::Never, _) | (ProtectHeaders::WhenEncrypting, false) => None,
        (_, true) => Some("hp-cipher"),
        (ProtectHeaders::Always, false) => Some("hp-clear"),
    };
    assert_eq!(
        opened.protected_headers.as_ref().map(|p| p.scheme.as_str()),
        scheme,
        "{case}"
    );
    let subject = outer.header("Subject").expect("outer Subject");
    assert_eq!(subject == "[...]", scheme == Some("hp-cipher"), "{case}");
    if let Some(p) = &opened.protected_headers {
        let protected_subject = p.headers.iter().find(|h| h.name == "Subject");
        assert!(
            protected_subject.is_some_and(|s| s.value != "[...]"),
            "{case}"
        );
        // Every difference is the sender's own obscuring.
        assert!(p.differences.iter().all(|d| d.expected), "{case}: {p:?}");
        assert!(
            !opened.warnings.iter().any(|w| w.starts_with("header-")),
            "{case}"
        );
    }
    // The clear message shows the real Subject.
    let shown = opened
        .headers
        .iter()
        .find(|(n, _)| n == "Subject")
        .map(|(_, v)| v.as_str());
    assert_ne!(shown, Some("[...]"), "{case}");
    assert_eq!(opened.encrypted, send.encrypts(), "{case}");
    if case.starts_with("multipart") {
        // Sent as a multipart (never base64-encoded whole): its parts are analysed.
        assert!(
            opened.parts.iter().any(|p| p.1 == "application/pdf"),
            "{case}: {:?}",
            opened.parts
        );
    }
    if send.signs() {
        assert_eq!(opened.signatures, [SignatureStatus::Valid], "{case}");
    }
    let want_rr = if rr {
        vec![(
            "list".to_string(),
            vec![w.pki.bob.email.clone()],
            vec![w.pki.alice.email.clone()],
        )]
    } else {
        vec![]
    };
    assert_eq!(opened.receipt_requests, want_rr, "{case}");
}

#[test]
fn a_receipt_request_without_a_signature_is_refused_while_streaming() {
    let w = Workdir::new();
    let draft = &drafts(&w)[0].1;
    let msg = MessageOptions {
        receipt_request: Some(receipt_request(&w)),
        ..MessageOptions::default()
    };
    let mut out = Vec::new();
    let e = encrypt_message_stream(
        &mut &draft[..],
        &mut out,
        &[cert(&w.pki.bob)],
        &cert(&w.pki.alice),
        &EncryptOptions::default(),
        &msg,
        &mut |_| {},
    )
    .expect_err("refused");
    assert!(matches!(e, mss::Error::InvalidRequest(_)), "{e:?}");
    assert!(out.is_empty());
    // No destination: no From in the draft and none given.
    let alice = identity(&w.pki.alice);
    let e = sign_message_stream(
        &mut &b"To: bob@example.test\r\nSubject: x\r\n\r\nbody\r\n"[..],
        &mut out,
        &alice,
        &SignOptions::default(),
        &MessageOptions {
            receipt_request: Some(RequestReceipt::default()),
            ..MessageOptions::default()
        },
        &mut |_| {},
    )
    .expect_err("refused");
    assert!(matches!(e, mss::Error::InvalidRequest(_)), "{e:?}");
}
