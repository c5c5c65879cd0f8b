//! The historic 2001 algorithms against OpenSSL 3 with its legacy provider, both
//! directions: content ciphers DES, RC2-40/64/128, RC4 (and AES-192-CBC, 3DES), and
//! MD5 signatures. OpenSSL or its legacy provider missing is a failure, not a skip.

use mss::{
    Certificate, ContentCipher, DecryptionKey, EncryptOptions, LegacyPolicy, OpenOptions, Opened,
    Policy, SignOptions, SignatureStatus, StandardPolicy,
};
use mss_tests::{PASSWORD, User, Workdir, assert_carries};
use mss_token::SoftwareIdentity;
use x509_cert::der::Decode;

static LEGACY: LegacyPolicy = LegacyPolicy;
static STANDARD: StandardPolicy = StandardPolicy;

/// The provider options every OpenSSL run of this file uses.
const PROVIDERS: [&str; 4] = ["-provider", "legacy", "-provider", "default"];

fn identity(u: &User) -> SoftwareIdentity {
    SoftwareIdentity::from_pkcs12(&u.p12, PASSWORD)
        .unwrap_or_else(|e| panic!("load {}'s PKCS#12: {e}", u.name))
}

fn cert(u: &User) -> Certificate {
    Certificate::from_der(&u.cert_der).expect("certificate DER")
}

/// Fail (never skip) when OpenSSL's legacy provider cannot be loaded.
fn require_legacy_provider(w: &Workdir) {
    let out = w.try_openssl(&["list", "-providers", "-provider", "legacy"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("legacy"),
        "OpenSSL's legacy provider is required by these tests (DES, RC2, RC4, MD5): \
         `openssl list -providers -provider legacy` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn open(
    w: &Workdir,
    msg: &[u8],
    key: Option<&SoftwareIdentity>,
    policy: &'static dyn Policy,
) -> Result<Opened, mss::Error> {
    let keys: Vec<&dyn DecryptionKey> = key.map(|k| k as &dyn DecryptionKey).into_iter().collect();
    let opts = OpenOptions {
        keys,
        trust_anchors: vec![Certificate::from_der(&w.pki.ca_der).expect("CA")],
        policy,
        ..OpenOptions::default()
    };
    mss::open(msg, &opts)
}

/// `openssl cms -decrypt` with the legacy provider loaded.
fn openssl_decrypt(w: &Workdir, msg: &[u8], user: &str) -> Vec<u8> {
    let input = w.write(format!("{user}-legacy-in.eml"), msg);
    let out = w.path(format!("{user}-legacy-out"));
    let mut args: Vec<String> = vec!["cms".into(), "-decrypt".into(), "-binary".into()];
    args.extend(PROVIDERS.iter().map(|s| s.to_string()));
    args.extend([
        "-recip".into(),
        format!("{user}.pem"),
        "-inkey".into(),
        format!("{user}.key"),
        "-inform".into(),
        "SMIME".into(),
        "-in".into(),
        input.display().to_string(),
        "-out".into(),
        out.display().to_string(),
    ]);
    w.openssl(&args);
    std::fs::read(&out).expect("read decrypted content")
}

const HISTORIC: [(&str, &str); 7] = [
    ("des-cbc", "-des"),
    ("rc2-40", "-rc2-40"),
    ("rc2-64", "-rc2-64"),
    ("rc2-128", "-rc2-128"),
    ("rc4", "-rc4"),
    ("aes-192-cbc", "-aes192"),
    ("des-ede3-cbc", "-des3"),
];

#[test]
fn mss_produces_each_historic_cipher_under_legacy_policy_and_openssl_decrypts() {
    let w = Workdir::new();
    require_legacy_provider(&w);
    let draft = mss_tests::sample_draft("legacy-cipher", &w.pki.alice.email, &w.pki.bob.email);
    for (name, _) in HISTORIC {
        let cipher = ContentCipher::from_name(name).expect("cipher name");
        let opts = EncryptOptions {
            cipher,
            policy: &LEGACY,
            ..EncryptOptions::default()
        };
        let msg = mss::encrypt(&draft, &[cert(&w.pki.bob)], &cert(&w.pki.alice), &opts)
            .unwrap_or_else(|e| panic!("mss encrypts with {name}: {e}"));
        let clear = openssl_decrypt(&w, &msg, "bob");
        assert_carries(&clear, &mss_tests::inner_of(&draft));
        // The standard policy refuses to produce the historic ones (not AES-192).
        let standard = EncryptOptions {
            cipher,
            ..EncryptOptions::default()
        };
        let refused = mss::encrypt(&draft, &[cert(&w.pki.bob)], &cert(&w.pki.alice), &standard);
        if cipher.is_historic() {
            assert!(
                matches!(refused, Err(mss::Error::PolicyViolation { .. })),
                "{name}: {refused:?}"
            );
        } else {
            assert!(refused.is_ok(), "{name}");
        }
    }
}

#[test]
fn openssl_historic_ciphers_decrypt_in_mss_with_a_weak_algorithm_warning() {
    let w = Workdir::new();
    require_legacy_provider(&w);
    let content = mss_tests::sample_content("openssl-legacy-cipher");
    let bob = identity(&w.pki.bob);
    for (name, flag) in HISTORIC {
        let mut opts: Vec<&str> = PROVIDERS.to_vec();
        opts.push(flag);
        let msg = w.openssl_encrypt(&content, &["bob"], &opts, &[]);
        // Reading them is allowed by the standard policy, with a warning.
        let opened = open(&w, &msg, Some(&bob), &STANDARD)
            .unwrap_or_else(|e| panic!("mss decrypts OpenSSL's {flag}: {e}"));
        let r = &opened.report;
        assert_eq!(r.content_cipher.as_deref(), Some(name), "{flag}");
        assert_carries(&opened.message, &content);
        let weak = r
            .warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains(name));
        let cipher = ContentCipher::from_name(name).expect("name");
        assert_eq!(weak, cipher.is_historic(), "{flag}: {:?}", r.warnings);
        // Someone else's key does not open it.
        assert!(open(&w, &msg, Some(&identity(&w.pki.carol)), &STANDARD).is_err());
    }
}

#[test]
fn openssl_md5_signature_is_refused_unless_legacy_policy() {
    let w = Workdir::new();
    require_legacy_provider(&w);
    let content = mss_tests::sample_content("openssl-md5");
    let mut extra: Vec<&str> = PROVIDERS.to_vec();
    extra.extend(["-md", "md5"]);
    let msg = w.openssl_sign("alice", &content, false, &extra);
    let standard = open(&w, &msg, None, &STANDARD).expect("mss opens");
    assert_eq!(standard.report.signatures.len(), 1);
    assert_ne!(
        standard.report.signatures[0].status,
        SignatureStatus::Valid,
        "MD5 is not valid under the standard policy"
    );
    assert!(!standard.report.all_signatures_valid());
    let legacy = open(&w, &msg, None, &LEGACY).expect("mss opens");
    assert_eq!(
        legacy.report.signatures[0].status,
        SignatureStatus::Valid,
        "{:#}",
        legacy.report.to_json()
    );
    assert!(
        legacy
            .report
            .warnings
            .iter()
            .any(|w| w.starts_with("weak-algorithm") && w.contains("md5")),
        "{:?}",
        legacy.report.warnings
    );
    assert_carries(&legacy.message, &content);
}

#[test]
fn mss_md5_signature_under_legacy_policy_verifies_in_openssl() {
    let w = Workdir::new();
    require_legacy_provider(&w);
    let alice = identity(&w.pki.alice);
    let draft = mss_tests::sample_draft("mss-md5", &w.pki.alice.email, &w.pki.bob.email);
    let md5 = mss::DigestAlgorithm::from_name("md5").expect("md5");
    let refused = mss::sign(
        &draft,
        &alice,
        &SignOptions {
            digest: md5,
            ..SignOptions::default()
        },
    );
    assert!(
        matches!(refused, Err(mss::Error::PolicyViolation { .. })),
        "{refused:?}"
    );
    let msg = mss::sign(
        &draft,
        &alice,
        &SignOptions {
            digest: md5,
            policy: &LEGACY,
            ..SignOptions::default()
        },
    )
    .expect("MD5 under the legacy policy");
    let mut trust: Vec<&str> = PROVIDERS.to_vec();
    trust.extend(["-CAfile", "ca.pem"]);
    let clear = w
        .openssl_verify_with(&msg, &trust)
        .unwrap_or_else(|e| panic!("OpenSSL verifies mss's MD5 signature: {e}"));
    assert_carries(&clear, &mss_tests::inner_of(&draft));
}
