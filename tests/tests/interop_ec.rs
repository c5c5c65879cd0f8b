//! The elliptic-curve family and the other non-RSA keys against OpenSSL 3, both
//! directions: DSA, ECDSA P-256 / P-384 and Ed25519 signatures; ECDH (P-256, P-384),
//! X25519 and X9.42 DH key agreement recipients; KEK recipients. The keys and their
//! certificates (issued by a CA made here, trusted by both sides) are made with the
//! `openssl` command line; a missing OpenSSL fails the tests.

use std::sync::OnceLock;

use mss::{
    Certificate, DecryptionKey, EncryptOptions, KekKey, LegacyPolicy, OpenOptions, Opened, Policy,
    SignOptions, SignatureStatus, StandardPolicy,
};
use mss_tests::{Workdir, assert_carries};
use mss_token::SoftwareIdentity;
use x509_cert::der::{Decode, DecodePem};

static LEGACY: LegacyPolicy = LegacyPolicy;
static STANDARD: StandardPolicy = StandardPolicy;

/// The non-RSA users: (name, genpkey arguments, signs?).
const USERS: [(&str, &[&str], bool); 8] = [
    ("dsa", &["-paramfile", "dsa-params.pem"], true),
    (
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        true,
    ),
    (
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        true,
    ),
    ("ed25519", &["-algorithm", "ED25519"], true),
    ("x25519", &["-algorithm", "X25519"], false),
    ("dh", &["-paramfile", "dh-params.pem"], false),
    (
        "p384kx",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        false,
    ),
    (
        "p256kx",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        false,
    ),
];

/// The files made once per test binary: `ecca.pem`/`ecca.key` and, per user,
/// `NAME.key` and `NAME.pem`.
fn files() -> &'static Vec<(String, Vec<u8>)> {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let w = Workdir::new();
        w.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ecca.key",
            "-out",
            "ecca.pem",
            "-subj",
            "/CN=MSS EC Test CA",
            "-days",
            "2",
        ]);
        w.openssl(&[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:2048",
            "-out",
            "dsa-params.pem",
        ]);
        w.openssl(&[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DHX",
            "-pkeyopt",
            "dh_rfc5114:2",
            "-out",
            "dh-params.pem",
        ]);
        let mut out = Vec::new();
        for (name, gen_args, signs) in USERS {
            let key = format!("{name}.key");
            let cert = format!("{name}.pem");
            let mut args = vec!["genpkey"];
            args.extend_from_slice(gen_args);
            args.extend(["-out", &key]);
            w.openssl(&args);
            let usage = if signs {
                "digitalSignature,nonRepudiation"
            } else {
                "keyAgreement"
            };
            let ext = format!(
                "[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,{usage}\n\
                 extendedKeyUsage=emailProtection\nsubjectAltName=email:{name}@example.test\n"
            );
            w.write(format!("{name}.ext"), ext.as_bytes());
            let csr = format!("{name}.csr");
            let subj = format!("/CN={name} user/emailAddress={name}@example.test");
            // Agreement keys cannot sign a request: the CA key signs it, the
            // certificate carries the user's key (-force_pubkey).
            let csr_key = if signs {
                key.clone()
            } else {
                "ecca.key".to_owned()
            };
            w.openssl(&[
                "req", "-new", "-key", &csr_key, "-subj", &subj, "-out", &csr,
            ]);
            let public = format!("{name}.pub");
            w.openssl(&["pkey", "-in", &key, "-pubout", "-out", &public]);
            let extfile = format!("{name}.ext");
            let mut x509 = vec![
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ecca.pem",
                "-CAkey",
                "ecca.key",
                "-CAcreateserial",
                "-extfile",
                &extfile,
                "-extensions",
                "v3",
                "-days",
                "2",
                "-out",
                &cert,
            ];
            if !signs {
                x509.extend(["-force_pubkey", &public]);
            }
            w.openssl(&x509);
            out.push((key.clone(), w.read(&key)));
            out.push((cert.clone(), w.read(&cert)));
        }
        out.push(("ecca.pem".into(), w.read("ecca.pem")));
        out
    })
}

/// A work directory with the shared RSA PKI and the files above.
fn workdir() -> Workdir {
    let w = Workdir::new();
    for (name, data) in files() {
        w.write(name, data);
    }
    w
}

fn identity(w: &Workdir, name: &str) -> SoftwareIdentity {
    let text = format!(
        "{}{}",
        String::from_utf8(w.read(format!("{name}.key"))).expect("PEM"),
        String::from_utf8(w.read(format!("{name}.pem"))).expect("PEM")
    );
    SoftwareIdentity::from_pem(&text, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cert(w: &Workdir, name: &str) -> Certificate {
    Certificate::from_pem(w.read(format!("{name}.pem"))).expect("certificate")
}

fn open(
    w: &Workdir,
    msg: &[u8],
    keys: Vec<&dyn DecryptionKey>,
    kek_keys: Vec<KekKey>,
    policy: &'static dyn Policy,
) -> Result<Opened, mss::Error> {
    let opts = OpenOptions {
        keys,
        trust_anchors: vec![
            cert(w, "ecca"),
            Certificate::from_der(&w.pki.ca_der).expect("CA"),
        ],
        policy,
        kek_keys,
        ..OpenOptions::default()
    };
    mss::open(msg, &opts)
}

/// The signers OpenSSL 3.0 handles in CMS. Ed25519 is not among them: OpenSSL 3.0's
/// `cms -sign` fails with "no default digest" for an Ed25519 key and its verifier
/// refuses RFC 8419's SHA-512 digestAlgorithm ("invalid digest"), so Ed25519 is
/// covered by mss's own round trips, not here.
const SIGNERS: [&str; 3] = ["dsa", "p256", "p384"];

#[test]
fn openssl_signatures_verify_in_mss() {
    let w = workdir();
    for name in SIGNERS {
        let content = mss_tests::sample_content(&format!("openssl-{name}"));
        let msg = w.openssl_sign(name, &content, false, &["-certfile", "ecca.pem"]);
        let opened = open(&w, &msg, Vec::new(), Vec::new(), &STANDARD)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = &opened.report;
        assert_eq!(r.signatures.len(), 1, "{name}: {:#}", r.to_json());
        assert_eq!(
            r.signatures[0].status,
            SignatureStatus::Valid,
            "{name}: {:#}",
            r.to_json()
        );
        assert_carries(&opened.message, &content);
        // The same message with a byte of the content changed does not verify.
        let tampered = flip_content(&msg, &content);
        let bad = open(&w, &tampered, Vec::new(), Vec::new(), &STANDARD).expect("opens");
        assert_ne!(
            bad.report.signatures[0].status,
            SignatureStatus::Valid,
            "{name}"
        );
    }
}

fn flip_content(msg: &[u8], content: &[u8]) -> Vec<u8> {
    let needle = b"Bonjour";
    let at = msg
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("content not found in {}", content.len()));
    let mut out = msg.to_vec();
    out[at] ^= 0x01;
    out
}

#[test]
fn mss_signatures_verify_in_openssl() {
    let w = workdir();
    for name in SIGNERS {
        let id = identity(&w, name);
        let draft =
            mss_tests::sample_draft(name, &format!("{name}@example.test"), "bob@example.test");
        // DSA is historic: produced under the legacy policy only.
        let policy: &'static dyn Policy = if name == "dsa" { &LEGACY } else { &STANDARD };
        for opaque in [false, true] {
            let msg = mss::sign(
                &draft,
                &id,
                &SignOptions {
                    opaque,
                    policy,
                    ..SignOptions::default()
                },
            )
            .unwrap_or_else(|e| panic!("mss signs with {name}: {e}"));
            let clear = w
                .openssl_verify_with(&msg, &["-CAfile", "ecca.pem"])
                .unwrap_or_else(|e| panic!("OpenSSL verifies mss's {name} signature: {e}"));
            assert_carries(&clear, &mss_tests::inner_of(&draft));
        }
    }
}

/// (recipient, needs the legacy policy to be produced). X25519 is not among them:
/// OpenSSL 3.0's CMS has no X25519 key agreement ("operation not supported for this
/// keytype"); it is covered by mss's own round trips.
const AGREEMENT: [(&str, bool); 3] = [("p256kx", false), ("p384kx", false), ("dh", true)];

#[test]
fn openssl_key_agreement_recipients_decrypt_in_mss() {
    let w = workdir();
    for (name, _) in AGREEMENT {
        let content = mss_tests::sample_content(&format!("openssl-kari-{name}"));
        let msg = w.openssl_encrypt(&content, &[name], &["-aes256"], &[]);
        let id = identity(&w, name);
        let opened = open(&w, &msg, vec![&id], Vec::new(), &STANDARD)
            .unwrap_or_else(|e| panic!("mss decrypts OpenSSL's message to {name}: {e}"));
        assert!(opened.report.encrypted);
        assert_carries(&opened.message, &content);
        // Another key (same curve for EC, another kind for DH) cannot.
        let other = identity(
            &w,
            match name {
                "p256kx" => "p256",
                "p384kx" => "p384",
                _ => "p256kx",
            },
        );
        assert!(open(&w, &msg, vec![&other], Vec::new(), &STANDARD).is_err());
    }
}

#[test]
fn mss_key_agreement_recipients_decrypt_in_openssl() {
    let w = workdir();
    for (name, legacy) in AGREEMENT {
        let draft =
            mss_tests::sample_draft(name, &w.pki.alice.email, &format!("{name}@example.test"));
        let opts = EncryptOptions {
            policy: if legacy { &LEGACY } else { &STANDARD },
            ..EncryptOptions::default()
        };
        let alice = Certificate::from_der(&w.pki.alice.cert_der).expect("alice");
        let msg = mss::encrypt(&draft, &[cert(&w, name)], &alice, &opts)
            .unwrap_or_else(|e| panic!("mss encrypts to {name}: {e}"));
        let clear = w
            .openssl_decrypt(&msg, name)
            .unwrap_or_else(|e| panic!("OpenSSL decrypts mss's message to {name}: {e}"));
        assert_carries(&clear, &mss_tests::inner_of(&draft));
        // The sender's RSA copy is still there.
        assert!(w.openssl_decrypt(&msg, "alice").is_ok());
    }
}

#[test]
fn openssl_kek_recipient_decrypts_in_mss() {
    let w = workdir();
    let id = "6b65792d6964";
    for wrap in ["-aes128-wrap", "-aes256-wrap"] {
        let key_hex = if wrap == "-aes256-wrap" {
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        } else {
            "000102030405060708090a0b0c0d0e0f"
        };
        let content = mss_tests::sample_content("openssl-kek");
        let msg = w.openssl_encrypt(
            &content,
            &[],
            &["-aes256", "-secretkey", key_hex, "-secretkeyid", id, wrap],
            &[],
        );
        let kek = KekKey {
            id: hex::decode(id).expect("hex"),
            key: hex::decode(key_hex).expect("hex").into(),
        };
        let opened = open(&w, &msg, Vec::new(), vec![kek.clone()], &STANDARD)
            .unwrap_or_else(|e| panic!("mss decrypts OpenSSL's KEK message ({wrap}): {e}"));
        assert_carries(&opened.message, &content);
        // A wrong key of the same identifier does not.
        let mut wrong = kek;
        wrong.key[0] ^= 1;
        assert!(open(&w, &msg, Vec::new(), vec![wrong], &STANDARD).is_err());
    }
}

#[test]
fn mss_kek_recipient_decrypts_in_openssl() {
    use mss_algs::key_wrap::KeyWrapAlgorithm;
    use mss_cms::enveloped::{KekSpec, Recipient, encrypt_to};
    let w = workdir();
    let id = "6d73732d6b656b"; // "mss-kek"
    for (wrap, key_hex) in [
        (KeyWrapAlgorithm::Aes128, "f0e1d2c3b4a5968778695a4b3c2d1e0f"),
        (
            KeyWrapAlgorithm::Aes256,
            "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef",
        ),
    ] {
        let kek = KekKey {
            id: hex::decode(id).expect("hex"),
            key: hex::decode(key_hex).expect("hex").into(),
        };
        let content = mss_tests::sample_content("mss-kek");
        let der = encrypt_to(
            &content,
            &[Recipient::Kek(KekSpec { key: &kek, wrap })],
            mss::ContentCipher::Aes256Cbc,
            &STANDARD,
        )
        .unwrap_or_else(|e| panic!("mss encrypts to a KEK recipient ({wrap:?}): {e}"));
        let input = w.write(format!("kek-{}.der", wrap.name()), &der);
        let out = w.path(format!("kek-{}.clear", wrap.name()));
        let o = w.try_openssl(&[
            "cms".to_string(),
            "-decrypt".into(),
            "-binary".into(),
            "-inform".into(),
            "DER".into(),
            "-in".into(),
            input.display().to_string(),
            "-secretkey".into(),
            key_hex.into(),
            "-secretkeyid".into(),
            id.into(),
            "-out".into(),
            out.display().to_string(),
        ]);
        assert!(
            o.status.success(),
            "OpenSSL decrypts mss's KEK message ({wrap:?}): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(std::fs::read(&out).expect("clear"), content);
    }
}
