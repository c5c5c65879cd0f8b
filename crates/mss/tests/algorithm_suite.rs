//! The facade with the non-RSA families, on the RFC 9216 example identities
//! (`/work/shared/vectors/rfc9216-examples-cms/certs-and-keys`; missing files fail):
//! an Ed25519 signer reported as such, automatic key agreement for an X25519
//! recipient, and KEK keys passed to `open`.

use std::path::PathBuf;

use mss::{ContentCipher, EncryptOptions, KekKey, OpenOptions, SignOptions, SignatureStatus};
use mss_token::SoftwareIdentity;

const DRAFT: &[u8] = b"From: Carlos <carlos@smime.example>\r\nTo: Dana <dana@smime.example>\r\nSubject: suite\r\n\r\nBonjour Dana.\r\n";

fn text(name: &str) -> String {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/rfc9216-examples-cms/certs-and-keys"
    ))
    .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector {} missing: {e}", path.display()))
}

fn identity(key: &str, crt: &str) -> SoftwareIdentity {
    SoftwareIdentity::from_pem(&format!("{}\n{}", text(key), text(crt)), None).expect("identity")
}

#[test]
fn ed25519_signer_is_reported_and_altered_content_is_invalid() {
    let carlos = identity("lamps-carlos.p8.pem", "lamps-carlos.crt");
    for opaque in [false, true] {
        let msg = mss::sign(
            DRAFT,
            &carlos,
            &SignOptions {
                opaque,
                ..SignOptions::default()
            },
        )
        .expect("signs with Ed25519");
        let opened = mss::open(&msg, &OpenOptions::default()).expect("opens");
        let sigs = &opened.report.signatures;
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].signature_algorithm, "ed25519");
        assert_eq!(sigs[0].digest, "sha512");
        assert!(!sigs[0].countersignature);
        // No anchor given: cryptographically fine, not trusted.
        assert_eq!(sigs[0].status, SignatureStatus::Untrusted, "{:?}", sigs[0]);
        if !opaque {
            let text = String::from_utf8(msg.clone()).expect("MIME is text");
            let tampered = text.replacen("Bonjour Dana.", "Bonjour Dan!.", 1);
            assert_ne!(tampered, text);
            let opened = mss::open(tampered.as_bytes(), &OpenOptions::default()).expect("opens");
            assert_eq!(opened.report.signatures[0].status, SignatureStatus::Invalid);
        }
    }
}

#[test]
fn x25519_recipient_gets_key_agreement_automatically() {
    let dana = identity("lamps-dana.decrypt.p8.pem", "lamps-dana.encrypt.crt");
    let bob = identity("lamps-bob.decrypt.p8.pem", "lamps-bob.encrypt.crt");
    let msg = mss::encrypt(
        DRAFT,
        &[dana.certificate().clone()],
        bob.certificate(),
        &EncryptOptions {
            cipher: ContentCipher::Aes128Gcm,
            ..EncryptOptions::default()
        },
    )
    .expect("encrypts to an X25519 and an RSA recipient");
    for (who, expect) in [
        (&dana, "ecdh-hkdf-sha256/aes128-wrap"),
        (&bob, "rsa-pkcs1v15"),
    ] {
        let opened = mss::open(
            &msg,
            &OpenOptions {
                keys: vec![who],
                ..OpenOptions::default()
            },
        )
        .expect("opens");
        assert!(opened.report.encrypted && opened.report.authenticated_encryption);
        assert_eq!(opened.report.key_transport.as_deref(), Some(expect));
        let clear = String::from_utf8(opened.message).expect("text");
        assert!(clear.contains("Bonjour Dana."), "{clear}");
    }
}

#[test]
fn kek_keys_open_a_kek_recipient_message() {
    use mss_algs::key_wrap::KeyWrapAlgorithm;
    use mss_cms::enveloped::{self, KekSpec, Recipient};
    let kek = KekKey {
        id: b"service-urgences".to_vec(),
        key: zeroize::Zeroizing::new(vec![0x11; 16]),
    };
    let inner = b"Content-Type: text/plain\r\n\r\nSecret partage.\r\n";
    let der = enveloped::encrypt_to(
        inner,
        &[Recipient::Kek(KekSpec {
            key: &kek,
            wrap: KeyWrapAlgorithm::Aes128,
        })],
        ContentCipher::Aes128Cbc,
        &mss::StandardPolicy,
    )
    .expect("encrypts");
    let opened = mss::open(
        &der,
        &OpenOptions {
            kek_keys: vec![kek.clone()],
            ..OpenOptions::default()
        },
    )
    .expect("opens with the KEK");
    assert_eq!(
        opened.report.key_transport.as_deref(),
        Some("kek/aes128-wrap")
    );
    assert!(String::from_utf8_lossy(&opened.message).contains("Secret partage."));
    assert!(mss::open(&der, &OpenOptions::default()).is_err());
}
