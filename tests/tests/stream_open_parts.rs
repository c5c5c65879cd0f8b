//! The parts of a streamed open (issue #9): `open_stream` analyses the clear message as
//! `mss::open` does (nested signed parts, signer mismatch, partial signature, encrypted
//! parts left closed, protected headers) over messages made by OpenSSL and the RFC 9216
//! examples, with the same report and clear bytes; and a nested `multipart/signed`
//! part larger than the streaming bounds is verified in a child process whose peak RSS
//! is read back.

use std::io::{Read, Write};

use mss::stream::{PARTS_NOT_ANALYSED, encrypt_stream, open_stream, sign_stream};
use mss::{EncryptOptions, LayerKind, OpenOptions, SignOptions, SignatureStatus};
use mss_cms::mime::Headers;
use mss_tests::{PASSWORD, User, Workdir, assert_streams_alike};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;
use x509_cert::der::Decode;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD).expect("identity")
}

fn options<'a>(w: &Workdir, bob: &'a SoftwareIdentity) -> OpenOptions<'a> {
    OpenOptions {
        keys: vec![bob],
        trust_anchors: vec![Certificate::from_der(&w.pki.ca_der).expect("CA")],
        ..OpenOptions::default()
    }
}

/// A multipart/mixed message from `from` with these parts.
fn mixed(from: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: bob\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\npreamble\r\n"
    )
    .into_bytes();
    for p in parts {
        m.extend_from_slice(b"--=_outer\r\n");
        m.extend_from_slice(p);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--=_outer--\r\nepilogue\r\n");
    m
}

/// OpenSSL's S/MIME output without its MIME-Version line (a part's header block).
fn part(smime: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(smime).expect("S/MIME is text");
    text.replacen("MIME-Version: 1.0\r\n", "", 1)
        .replacen("MIME-Version: 1.0\n", "", 1)
        .into_bytes()
}

#[test]
fn openssl_made_parts_open_alike_in_memory_and_streaming() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let alice_addr = w.pki.alice.email.clone();
    let text = b"Content-Type: text/plain\r\n\r\nCompte rendu.\r\n".to_vec();
    // OpenSSL writes LF line ends in its MIME output: the signed part is canonicalised.
    let detached = part(w.openssl_sign("alice", &text, false, &[]));
    let opaque_by_bob = part(w.openssl_sign("bob", &text, true, &[]));
    let encrypted = part(w.openssl_encrypt(&text, &["bob"], &["-aes256"], &[]));
    let mut forward = format!(
        "Content-Type: message/rfc822\r\n\r\nFrom: {}\r\nSubject: fwd\r\n",
        w.pki.bob.email
    )
    .into_bytes();
    forward.extend_from_slice(&w.openssl_sign("bob", &text, false, &[]));
    let plain = mixed(
        &alice_addr,
        &[&text, &detached, &opaque_by_bob, &encrypted, &forward],
    );
    let report = assert_streams_alike(&plain, options(&w, &bob)).expect("opens");
    let warned = |w: &str| report.warnings.iter().any(|x| x == w);
    assert!(warned("partial-signature"), "{:?}", report.warnings);
    assert!(warned("signer-mismatch"), "{:?}", report.warnings);
    assert!(
        warned("nested-encryption-not-opened"),
        "{:?}",
        report.warnings
    );
    assert!(!warned(PARTS_NOT_ANALYSED));
    let parts: Vec<&str> = report
        .layers
        .iter()
        .filter_map(|l| l.part.as_deref())
        .collect();
    assert_eq!(parts, ["2", "3", "5"], "{:#}", report.to_json());
    assert!(
        report
            .signatures
            .iter()
            .all(|s| s.status == SignatureStatus::Valid),
        "{:#}",
        report.to_json()
    );
    // The same message encrypted whole by OpenSSL, and signed then encrypted by mss.
    w.write("plain.eml", &plain);
    let sealed = w.openssl_encrypt(&plain, &["bob"], &["-aes256"], &[]);
    assert_streams_alike(&sealed, options(&w, &bob)).expect("opens");
    let wrapped = mss::sign_and_encrypt(
        &plain,
        &identity(&w.pki.alice),
        &[Certificate::from_der(&w.pki.bob.cert_der).expect("bob")],
        None,
        &EncryptOptions::default(),
    )
    .expect("sign and encrypt");
    let report = assert_streams_alike(&wrapped, options(&w, &bob)).expect("opens");
    assert!(report.protected_headers.is_some(), "{:#}", report.to_json());
    // A changed byte inside the first nested signed part (the second copy of the
    // text): never reported valid.
    let at = plain
        .windows(13)
        .enumerate()
        .filter(|(_, x)| x == b"Compte rendu.")
        .nth(1)
        .expect("signed text")
        .0;
    let mut bad = plain.clone();
    bad[at] = b'K';
    let report = assert_streams_alike(&bad, options(&w, &bob)).expect("opens");
    assert!(!report.all_signatures_valid());
}

fn rfc9216(dir: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../shared/vectors/rfc9216-examples-cms/{dir}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("vector {path} missing: {e}"))
}

#[test]
fn rfc9216_examples_open_alike_in_memory_and_streaming() {
    let key = |k: &str, c: &str| {
        let pem = [rfc9216("certs-and-keys", k), rfc9216("certs-and-keys", c)].concat();
        SoftwareIdentity::from_pem(&String::from_utf8(pem).expect("PEM"), None).expect("key")
    };
    let bob = key("lamps-bob.decrypt.p8.pem", "lamps-bob.encrypt.crt");
    let dana = key("lamps-dana.decrypt.p8.pem", "lamps-dana.encrypt.crt");
    let mut opened = 0;
    for name in [
        "authEnvelopedForBobChaCha20Poly1305.p7m",
        "authEnvelopedForDanaX25519HKDF.p7m",
        "encryptedForBobAndDana.p7m",
        "encryptedForBobRSAOaep.p7m",
        "signedByAliceAndCarlosNoCerts.p7m",
        "signedByAliceRSA.p7m",
        "signedByAliceRSAPSS.p7m",
        "signedByCarlosEd25519.p7m",
    ] {
        let msg = rfc9216("binary-files", name);
        let opts = OpenOptions {
            keys: vec![&bob, &dana],
            ..OpenOptions::default()
        };
        if assert_streams_alike(&msg, opts).is_some() {
            opened += 1;
        }
    }
    assert!(opened >= 7, "only {opened} examples opened");
    // A signer without signed attributes signs the content itself, which a streamed
    // opaque layer does not keep: it is verified from the content's digest, with the
    // in-memory result, and a changed content is caught.
    let msg = rfc9216("binary-files", "signedByAliceRSA.p7m");
    let opts = OpenOptions::default();
    let in_memory = mss::open(&msg, &opts).expect("open");
    let mut out = Vec::new();
    let streamed = open_stream(&mut msg.as_slice(), &mut out, &opts, &mut |_| {}).expect("open");
    assert_ne!(streamed.signatures[0].status, SignatureStatus::Unknown);
    assert_eq!(streamed.signatures, in_memory.report.signatures);
    assert!(out == in_memory.message);
    let content = &in_memory.message[..in_memory.message.len().min(40)];
    let at = msg
        .windows(content.len())
        .position(|w| w == content)
        .expect("the content is in the message");
    let mut bad = msg.clone();
    bad[at + 2] ^= 0x20;
    let streamed = open_stream(&mut bad.as_slice(), &mut Vec::new(), &opts, &mut |_| {});
    let in_memory = mss::open(&bad, &opts).expect("open");
    assert!(!in_memory.report.all_signatures_valid());
    assert!(!streamed.expect("open").all_signatures_valid());
}

#[test]
fn pem_cms_objects_open_alike_in_memory_and_streaming() {
    // RFC 7468 "CMS" and "PKCS7" PEM around the RFC 9216 examples, LF or CRLF lines,
    // whitespace before: both opens accept them and agree; a PEM object whose body is
    // not base64 fails both.
    let key = |k: &str, c: &str| {
        let pem = [rfc9216("certs-and-keys", k), rfc9216("certs-and-keys", c)].concat();
        SoftwareIdentity::from_pem(&String::from_utf8(pem).expect("PEM"), None).expect("key")
    };
    let bob = key("lamps-bob.decrypt.p8.pem", "lamps-bob.encrypt.crt");
    let mut opened = 0;
    for (name, label, crlf) in [
        ("encryptedForBobRSAOaep.p7m", "CMS", false),
        ("signedByAliceRSA.p7m", "PKCS7", true),
        ("signedByAliceRSAPSS.p7m", "CMS", true),
    ] {
        let body = mss_cms::mime::encode_base64_lines(&rfc9216("binary-files", name));
        let mut pem = format!("\n-----BEGIN {label}-----\r\n").into_bytes();
        pem.extend_from_slice(&body);
        pem.extend_from_slice(format!("-----END {label}-----\r\n").as_bytes());
        if !crlf {
            pem.retain(|&b| b != b'\r');
        }
        let opts = OpenOptions {
            keys: vec![&bob],
            ..OpenOptions::default()
        };
        let report = assert_streams_alike(&pem, opts).unwrap_or_else(|| panic!("{name}"));
        assert!(!report.layers.is_empty(), "{name}");
        opened += 1;
    }
    assert_eq!(opened, 3);
    let bad = b"-----BEGIN CMS-----\nnot*base64\n-----END CMS-----\n";
    assert!(assert_streams_alike(bad, OpenOptions::default()).is_none());
}

/// Raw bytes of the large signed attachment: over the 16 MiB the streamed open keeps of
/// a part, and over it again once in base64.
const LARGE: u64 = 13 * 1024 * 1024;
const BOUND_KIB: u64 = 64 * 1024;

/// Counts what is written.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The child: a multipart/mixed (a text part, then a `multipart/signed` part of about
/// 17.6 MiB signed by Alice) encrypted to Bob, written and opened as streams.
#[test]
#[ignore = "run in a child process by a_large_nested_signed_part_streams_in_bounded_memory"]
fn child_opens_a_large_nested_signed_part() {
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let bob = identity(&w.pki.bob);
    let path = w.path("entity.eml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    f.write_all(
        b"Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n--=_outer\r\n\
Content-Type: text/plain\r\n\r\nVoir l'imagerie jointe.\r\n--=_outer\r\n",
    )
    .expect("write");
    let attachment = std::io::Cursor::new(
        b"Content-Type: application/dicom\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec(),
    )
    .chain(mss_cms::stream::Base64EncodeReader::new(
        std::io::repeat(0x5a).take(LARGE),
    ));
    let mut attachment = attachment;
    sign_stream(
        &mut attachment,
        &mut f,
        &Headers::default(),
        &alice,
        &SignOptions::default(),
        &mut |_| {},
    )
    .expect("sign_stream");
    f.write_all(b"\r\n--=_outer--\r\n").expect("write");
    f.flush().expect("flush");
    drop(f);
    let mut outer = Headers::default();
    outer.set("From", &w.pki.alice.email);
    outer.set("To", &w.pki.bob.email);
    let sealed = w.path("sealed.eml");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&sealed).expect("create"));
    encrypt_stream(
        &mut std::fs::File::open(&path).expect("entity"),
        &mut out,
        &outer,
        &[],
        &Certificate::from_der(&w.pki.bob.cert_der).expect("bob"),
        &EncryptOptions::default(),
        &mut |_| {},
    )
    .expect("encrypt_stream");
    out.flush().expect("flush");
    drop(out);
    let mut sink = Counter(0);
    let report = open_stream(
        &mut std::fs::File::open(&sealed).expect("sealed"),
        &mut sink,
        &options(&w, &bob),
        &mut |_| {},
    )
    .expect("open_stream");
    assert!(sink.0 > LARGE * 4 / 3, "{} bytes written", sink.0);
    let json = report.to_json();
    assert!(!report.has_warning(PARTS_NOT_ANALYSED), "{json:#}");
    assert!(report.has_warning("partial-signature"), "{json:#}");
    assert_eq!(report.signatures.len(), 1, "{json:#}");
    assert_eq!(
        report.signatures[0].status,
        SignatureStatus::Valid,
        "{json:#}"
    );
    let nested = &report.layers[1];
    assert_eq!(nested.kind, LayerKind::SignedDetached);
    assert_eq!(nested.part.as_deref(), Some("2"));
    let parts: Vec<(&str, &str, usize)> = report
        .parts
        .iter()
        .map(|p| (p.path.as_str(), p.content_type.as_str(), p.signed_by.len()))
        .collect();
    assert_eq!(
        parts,
        [("1", "text/plain", 0), ("2", "application/dicom", 1)]
    );
    mss_tests::print_vm_hwm();
}

#[test]
fn a_large_nested_signed_part_streams_in_bounded_memory() {
    let hwm = mss_tests::child_peak_rss_kib("child_opens_a_large_nested_signed_part");
    eprintln!("child peak RSS: {hwm} KiB for a nested signed part of {LARGE} raw bytes");
    assert!(
        hwm < BOUND_KIB,
        "peak RSS {hwm} KiB (bound {BOUND_KIB} KiB)"
    );
}
