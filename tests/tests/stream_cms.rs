//! Streaming CMS (`mss_cms::stream`) against `openssl cms` and against the in-memory path:
//! 8 MiB messages written by our streaming writers are read by `openssl cms`, and
//! `openssl cms -stream` output is read by our streaming readers.

use std::io::{Read, Write};

use mss_algs::cipher::ContentCipher;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::DecryptionKey;
use mss_algs::policy::StandardPolicy;
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::content::ContentInfo;
use mss_cms::enveloped::{self, Recipient};
use mss_cms::signed::{SignParams, SignerSpec};
use mss_cms::stream::{
    Base64Reader, Base64Writer, CmsReader, DecryptReader, EnvelopedWriter, SignedWriter,
    VerifyReader, read_cms,
};
use mss_tests::{PASSWORD, User, Workdir, pseudo_random as content};
use mss_token::SoftwareIdentity;
use x509_cert::Certificate;
use x509_cert::der::Decode;

static POLICY: StandardPolicy = StandardPolicy;

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD).expect("identity")
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

/// Write `data` in uneven pieces.
fn write_uneven<W: Write>(w: &mut W, data: &[u8]) {
    let mut i = 0;
    let mut step = 1;
    while i < data.len() {
        let end = (i + step).min(data.len());
        w.write_all(&data[i..end]).expect("write");
        i = end;
        step = step * 3 % 100_003 + 1;
    }
}

fn stream_encrypt(data: &[u8], to: &Certificate, cipher: ContentCipher) -> Vec<u8> {
    let r = [Recipient::for_certificate(to, KeyTransport::RsaPkcs1v15, false).expect("recipient")];
    let mut w = EnvelopedWriter::new(Vec::new(), &r, cipher, &POLICY).expect("writer");
    write_uneven(&mut w, data);
    w.finish().expect("finish")
}

fn stream_decrypt(msg: &[u8], key: &SoftwareIdentity) -> Result<Vec<u8>, std::io::Error> {
    let keys: [&dyn DecryptionKey; 1] = [key];
    let mut r = DecryptReader::new(msg, &keys, &[], &POLICY)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn streamed_envelopes_decrypt_in_memory_and_back() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    for cipher in [
        ContentCipher::Aes256Cbc,
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes256Gcm,
        ContentCipher::Aes128Gcm,
    ] {
        for len in [0usize, 1, 16, 65_535, 65_536, 200_001] {
            let data = content(len);
            let msg = stream_encrypt(&data, &cert(&w.pki.bob), cipher);
            let ci = ContentInfo::from_ber(&msg).expect("BER ContentInfo");
            let d = enveloped::decrypt(&ci, &[&bob], &POLICY).expect("in-memory decrypt");
            assert_eq!(d.content.as_slice(), data.as_slice(), "{}", cipher.name());
            assert_eq!(d.cipher, cipher);
            // In-memory DER output read by the streaming reader.
            let der = enveloped::encrypt(
                &data,
                &[enveloped::RecipientSpec {
                    certificate: &cert(&w.pki.bob),
                    key_transport: KeyTransport::RsaPkcs1v15,
                    identify_by_ski: false,
                }],
                cipher,
                &POLICY,
            )
            .expect("encrypt");
            assert_eq!(stream_decrypt(&der, &bob).expect("stream decrypt"), data);
            assert_eq!(stream_decrypt(&msg, &bob).expect("stream decrypt"), data);
        }
    }
}

/// `EnvelopedWriter::new_base64` (base64 encoded on the encrypting thread once there is
/// one): the text is in 76-character CRLF lines, decodes to the ContentInfo that
/// decrypts to the content, on both sides of the threading threshold (1 MiB) and with
/// a small last batch.
#[test]
fn armored_envelopes_are_base64_lines_of_the_same_message() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let bob_cert = cert(&w.pki.bob);
    let r = [
        Recipient::for_certificate(&bob_cert, KeyTransport::RsaPkcs1v15, false).expect("recipient"),
    ];
    for cipher in [ContentCipher::Aes256Cbc, ContentCipher::Aes256Gcm] {
        for len in [
            0usize,
            100,
            1024 * 1024 - 1,
            1024 * 1024 + 17,
            3 * 1024 * 1024 + 5,
        ] {
            let data = content(len);
            let mut env =
                EnvelopedWriter::new_base64(Vec::new(), &r, cipher, &POLICY).expect("writer");
            write_uneven(&mut env, &data);
            let text = env.finish().expect("finish");
            let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            assert_eq!(lines.last(), Some(&&b""[..]), "ends with a line break");
            for line in &lines[..lines.len() - 1] {
                assert!(line.ends_with(b"\r") && line.len() <= 77, "{len}");
            }
            // All lines but the last are full.
            for line in &lines[..lines.len().saturating_sub(2)] {
                assert_eq!(line.len(), 77, "{len}");
            }
            let keys: [&dyn DecryptionKey; 1] = [&bob];
            let mut back = Vec::new();
            DecryptReader::new(Base64Reader::new(text.as_slice()), &keys, &[], &POLICY)
                .expect("reader")
                .read_to_end(&mut back)
                .expect("decrypt");
            assert!(back == data, "{} {len}", cipher.name());
        }
    }
}

#[test]
fn streamed_decryption_detects_tampering_and_wrong_recipient() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let carol = identity(&w.pki.carol);
    let data = content(300_000);
    for cipher in [ContentCipher::Aes256Gcm, ContentCipher::Aes256Cbc] {
        let mut msg = stream_encrypt(&data, &cert(&w.pki.bob), cipher);
        let keys: [&dyn DecryptionKey; 1] = [&carol];
        assert!(matches!(
            DecryptReader::new(msg.as_slice(), &keys, &[], &POLICY),
            Err(mss_cms::CmsError::NotARecipient { recipients: 1 })
        ));
        // Flip a bit of the last ciphertext bytes (GCM: the tag check fails; CBC: the
        // content or its padding changes).
        let at = msg.len() - 200;
        msg[at] ^= 0x01;
        match stream_decrypt(&msg, &bob) {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData),
            Ok(out) => {
                assert!(!cipher.is_aead(), "GCM must refuse a modified message");
                assert_ne!(out, data);
            }
        }
        // Truncated input: an error, never a short success.
        let short = &msg[..msg.len() / 2];
        assert!(stream_decrypt(short, &bob).is_err());
    }
}

#[test]
fn stream_encrypted_8_mib_decrypts_in_openssl() {
    let w = Workdir::new();
    let data = content(8 * 1024 * 1024 + 123);
    let input = w.write("content.bin", &data);
    for (cipher, name) in [
        (ContentCipher::Aes256Cbc, "cbc"),
        (ContentCipher::Aes256Gcm, "gcm"),
    ] {
        let msg = stream_encrypt(&data, &cert(&w.pki.bob), cipher);
        w.write(format!("{name}.der"), &msg);
        w.openssl(&[
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &format!("{name}.der"),
            "-recip",
            "bob.pem",
            "-inkey",
            "bob.key",
            "-out",
            &format!("{name}.out"),
        ]);
        assert!(
            w.read(format!("{name}.out")) == data,
            "{name}: openssl output differs"
        );
    }
    let _ = input;
}

#[test]
fn openssl_stream_output_opens_with_the_streaming_readers() {
    let w = Workdir::new();
    let bob = identity(&w.pki.bob);
    let data = content(8 * 1024 * 1024 + 5);
    w.write("content.bin", &data);
    for cipher in ["-aes-256-cbc", "-aes-128-gcm"] {
        w.openssl(&[
            "cms",
            "-encrypt",
            "-stream",
            "-binary",
            cipher,
            "-in",
            "content.bin",
            "-outform",
            "DER",
            "-out",
            "enc.der",
            "bob.pem",
        ]);
        assert_eq!(
            stream_decrypt(&w.read("enc.der"), &bob).expect("decrypt"),
            data,
            "{cipher}"
        );
        // The same in S/MIME form (base64 body), through the base64 reader.
        w.openssl(&[
            "cms",
            "-encrypt",
            "-stream",
            "-binary",
            cipher,
            "-in",
            "content.bin",
            "-outform",
            "DER",
            "-out",
            "enc2.der",
            "bob.pem",
        ]);
        let mut b64 = Base64Writer::new(Vec::new());
        b64.write_all(&w.read("enc2.der")).expect("b64");
        let text = b64.finish().expect("b64");
        assert!(text.split(|b| *b == b'\n').all(|l| l.len() <= 78));
        let keys: [&dyn DecryptionKey; 1] = [&bob];
        let mut r = DecryptReader::new(Base64Reader::new(text.as_slice()), &keys, &[], &POLICY)
            .expect("reader");
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        assert!(out == data);
    }
    // Opaque signed, streamed by openssl (indefinite lengths, segmented content).
    w.openssl(&[
        "cms",
        "-sign",
        "-nodetach",
        "-stream",
        "-binary",
        "-in",
        "content.bin",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-outform",
        "DER",
        "-out",
        "signed.der",
    ]);
    let signed = w.read("signed.der");
    let mut r = match read_cms(signed.as_slice(), &[], &[], &[], &POLICY).expect("read_cms") {
        CmsReader::Verify(v) => v,
        CmsReader::Decrypt(_) => panic!("a SignedData was expected"),
    };
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read");
    assert!(out == data);
    let v = r.results().expect("verified at the end");
    assert_eq!(v.results.len(), 1);
    assert_eq!(v.results[0].outcome, Ok(()));
    // The same message with one content byte changed: digest mismatch at the end.
    let mut bad = signed.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x20;
    let mut r = VerifyReader::new(bad.as_slice(), &[], &POLICY).expect("reader");
    let mut sink = Vec::new();
    r.read_to_end(&mut sink).expect("read");
    assert_eq!(
        r.results().expect("results").results[0].outcome,
        Err(mss_cms::signed::SignatureError::DigestMismatch)
    );
}

#[test]
fn stream_signed_opaque_verifies_in_openssl_and_in_memory() {
    // Past 1 MiB the content is hashed on a thread of its own, or on the writing thread
    // when asked (sign+encrypt on two cores): both must give the same valid signature.
    let w = Workdir::new();
    let alice = identity(&w.pki.alice);
    let data = content(8 * 1024 * 1024 + 77);
    let signers = [SignerSpec {
        key: &alice,
        algorithm: SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
        identify_by_ski: false,
    }];
    for on_this_thread in [false, true] {
        let mut s = SignedWriter::new(Vec::new(), &signers, &SignParams::default(), &POLICY)
            .expect("writer");
        if on_this_thread {
            s = s.with_hashing_on_this_thread();
        }
        write_uneven(&mut s, &data);
        let msg = s.finish().expect("finish");
        w.write("s.der", &msg);
        w.openssl(&[
            "cms", "-verify", "-binary", "-inform", "DER", "-in", "s.der", "-CAfile", "ca.pem",
            "-out", "s.out",
        ]);
        assert!(
            w.read("s.out") == data,
            "hashed on this thread: {on_this_thread}"
        );
        let ci = ContentInfo::from_ber(&msg).expect("ContentInfo");
        let sd = mss_cms::signed::parse(&ci.content).expect("parse");
        assert!(sd.content.as_deref() == Some(data.as_slice()));
        let results = mss_cms::signed::verify(&sd, None, &[], &POLICY);
        assert_eq!(
            results[0].outcome,
            Ok(()),
            "hashed on this thread: {on_this_thread}"
        );
    }
}
