//! Secrets never show (issue #10 §5): the `Debug` output of every type that holds a
//! private key, a key-encryption key or a PIN/password, and the errors of a failed
//! unlock, carry no byte of the secret in any of the forms `Debug` could print it
//! (hex, decimal list, base64, text).

use mss_algs::keys::SoftwarePrivateKey;
use mss_cms::enveloped::KekKey;
use mss_token::{FixedPin, PinRequest, PinSource, SoftwareIdentity};

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/rfc4134")
}

/// Every way `Debug` (or a careless format) could spell a window of `secret`.
fn spellings(secret: &[u8]) -> Vec<String> {
    use base64::Engine;
    let mut out = Vec::new();
    for w in secret.windows(8).step_by(4) {
        out.push(w.iter().map(|b| format!("{b:02x}")).collect());
        out.push(w.iter().map(|b| format!("{b:02X}")).collect());
        out.push(
            w.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    for w in b64.as_bytes().chunks(12).filter(|c| c.len() == 12) {
        out.push(String::from_utf8_lossy(w).into_owned());
    }
    out
}

fn assert_no_secret(what: &str, shown: &str, secret: &[u8]) {
    for s in spellings(secret) {
        assert!(
            !shown.contains(&s),
            "{what} shows secret bytes ({s}): {shown}"
        );
    }
}

#[test]
fn private_keys_do_not_show_in_debug() {
    let key = std::fs::read(vectors().join("BobPrivRSAEncrypt.pri")).expect("key");
    let cert = std::fs::read(vectors().join("BobRSASignByCarl.cer")).expect("cert");
    let id = SoftwareIdentity::from_parts_any(
        der::Decode::from_der(&cert).expect("certificate"),
        Vec::new(),
        SoftwarePrivateKey::from_pkcs8_der(&key).expect("key"),
    )
    .expect("Bob");
    // The PKCS#8 DER minus its first 30 bytes (version, algorithm: public) is secret.
    let secret = &key[30..];
    for (what, shown) in [
        ("SoftwareIdentity {:?}", format!("{id:?}")),
        ("SoftwareIdentity {:#?}", format!("{id:#?}")),
        ("SoftwarePrivateKey", format!("{:?}", id.private_key())),
    ] {
        assert_no_secret(what, &shown, secret);
    }
    let raw = SoftwarePrivateKey::from_pkcs8_der(&key).expect("key");
    assert_no_secret("SoftwarePrivateKey", &format!("{raw:#?}"), secret);
    assert!(format!("{raw:?}").contains("SoftwarePrivateKey"));
    // The identity's Debug still says who it is.
    assert!(format!("{id:?}").contains("Bob"), "{id:?}");
}

#[test]
fn key_encryption_keys_do_not_show_in_debug() {
    let key: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let kek = KekKey {
        id: b"kek-1".to_vec(),
        key: zeroize::Zeroizing::new(key.clone()),
    };
    let shown = format!("{kek:?} {kek:#?}");
    assert_no_secret("KekKey", &shown, &key);
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn pins_and_passwords_do_not_show() {
    let pin = "S3cr3t-PIN-4242";
    let fixed = FixedPin::new(pin);
    let shown = format!("{fixed:?} {fixed:#?}");
    assert!(!shown.contains(pin), "{shown}");
    let request = PinRequest {
        what: "password for bob.p12".into(),
        retries_left: None,
    };
    let given = fixed.pin(&request).expect("pin");
    assert_eq!(given.as_str(), pin);
    // A failed unlock says "bad password", never the password tried.
    let p12 = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/pkcs12/bob-aes.p12"),
    )
    .expect("seed");
    let err = mss_token::pkcs12::parse(&p12, pin).expect_err("wrong password");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(pin), "{shown}");
    }
    assert!(matches!(err, mss_token::TokenError::BadPassword), "{err:?}");
    let err = SoftwareIdentity::load_bytes(&p12, "bob-aes.p12", &fixed).expect_err("wrong");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(pin), "{shown}");
    }
    // And the right password opens it (the seed is what the fuzz target decrypts).
    SoftwareIdentity::load_bytes(&p12, "bob-aes.p12", &FixedPin::new("mss-test-pin"))
        .expect("the seed's password");
}
