//! Every algorithm combination the policies allow, through the facade, on arbitrary
//! content: sign → verify for each signature scheme × digest, encrypt → decrypt for each
//! content cipher × key transport / agreement (StandardPolicy; the historic ones under
//! LegacyPolicy); a corrupted signature value or AEAD ciphertext / tag is detected.
//! Keys are made once (OnceLock): RSA from the shared test PKI, the others with the
//! `openssl` command line (a missing OpenSSL fails the test).

use std::sync::OnceLock;

use mss::{
    Certificate, ContentCipher, DecryptionKey, DigestAlgorithm, EncryptOptions, KeyTransport,
    LegacyPolicy, OpenOptions, Policy, SignOptions, SignatureScheme, SignatureStatus,
    StandardPolicy,
};
use mss_tests::der::{Node, signed_data};
use mss_tests::{PASSWORD, Workdir, assert_carries};
use mss_token::SoftwareIdentity;
use proptest::prelude::*;
use x509_cert::der::{Decode, DecodePem};

static LEGACY: LegacyPolicy = LegacyPolicy;
static STANDARD: StandardPolicy = StandardPolicy;

/// The identities and certificates, made once.
struct Keys {
    ca: Certificate,
    ec_ca: Certificate,
    alice: SoftwareIdentity,
    bob: SoftwareIdentity,
    /// name → identity, for the non-RSA keys.
    others: Vec<(&'static str, SoftwareIdentity)>,
}

impl Keys {
    fn get(&self, name: &str) -> &SoftwareIdentity {
        match name {
            "alice" => &self.alice,
            "bob" => &self.bob,
            _ => {
                &self
                    .others
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("no key {name}"))
                    .1
            }
        }
    }
}

const MADE: [(&str, &[&str], bool); 6] = [
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
    (
        "p256kx",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        false,
    ),
    ("x25519", &["-algorithm", "X25519"], false),
    ("dh", &["-paramfile", "dh-params.pem"], false),
];

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
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
            "/CN=MSS Combinations CA",
            "-days",
            "2",
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
        let mut others = Vec::new();
        for (name, gen_args, signs) in MADE {
            let key = format!("{name}.key");
            let mut args = vec!["genpkey"];
            args.extend_from_slice(gen_args);
            args.extend(["-out", &key]);
            w.openssl(&args);
            let usage = if signs {
                "digitalSignature"
            } else {
                "keyAgreement"
            };
            let ext = format!(
                "[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,{usage}\n\
                 extendedKeyUsage=emailProtection\nsubjectAltName=email:{name}@example.test\n"
            );
            w.write(format!("{name}.ext"), ext.as_bytes());
            let csr = format!("{name}.csr");
            let public = format!("{name}.pub");
            let cert = format!("{name}.pem");
            let extfile = format!("{name}.ext");
            let subj = format!("/CN={name}");
            let csr_key = if signs {
                key.clone()
            } else {
                "ecca.key".into()
            };
            w.openssl(&[
                "req", "-new", "-key", &csr_key, "-subj", &subj, "-out", &csr,
            ]);
            w.openssl(&["pkey", "-in", &key, "-pubout", "-out", &public]);
            w.openssl(&[
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
                "-force_pubkey",
                &public,
                "-out",
                &cert,
            ]);
            let text = format!(
                "{}{}",
                String::from_utf8(w.read(&key)).expect("PEM"),
                String::from_utf8(w.read(&cert)).expect("PEM")
            );
            let id = SoftwareIdentity::from_pem(&text, None).expect("identity");
            others.push((name, id));
        }
        Keys {
            ca: Certificate::from_der(&w.pki.ca_der).expect("CA"),
            ec_ca: Certificate::from_pem(w.read("ecca.pem")).expect("CA"),
            alice: SoftwareIdentity::from_pkcs12(&w.pki.alice.p12, PASSWORD).expect("alice"),
            bob: SoftwareIdentity::from_pkcs12(&w.pki.bob.p12, PASSWORD).expect("bob"),
            others,
        }
    })
}

/// (signer, RSA scheme, digest, policy)
fn signature_combinations() -> Vec<(
    &'static str,
    SignatureScheme,
    DigestAlgorithm,
    &'static dyn Policy,
)> {
    use DigestAlgorithm::*;
    let mut out: Vec<(&str, SignatureScheme, DigestAlgorithm, &'static dyn Policy)> = Vec::new();
    for d in [Sha256, Sha384, Sha512] {
        out.push(("alice", SignatureScheme::RsaPkcs1v15, d, &STANDARD));
        out.push(("alice", SignatureScheme::RsaPss, d, &STANDARD));
        out.push(("p256", SignatureScheme::RsaPkcs1v15, d, &STANDARD));
        out.push(("p384", SignatureScheme::RsaPkcs1v15, d, &STANDARD));
    }
    out.push(("ed25519", SignatureScheme::RsaPkcs1v15, Sha512, &STANDARD));
    for d in [Sha1, Md5] {
        out.push(("alice", SignatureScheme::RsaPkcs1v15, d, &LEGACY));
    }
    out.push(("p256", SignatureScheme::RsaPkcs1v15, Sha1, &LEGACY));
    out
}

/// (recipient, key transport for RSA, cipher, policy)
fn encryption_combinations() -> Vec<(
    &'static str,
    KeyTransport,
    ContentCipher,
    &'static dyn Policy,
)> {
    let mut out: Vec<(&str, KeyTransport, ContentCipher, &'static dyn Policy)> = Vec::new();
    let oaep = KeyTransport::RsaOaep {
        hash: DigestAlgorithm::Sha256,
    };
    for &c in ContentCipher::ALL {
        // X9.42 DH (ESDH, historic) is produced under the legacy policy, with the key
        // wrap that fits the content cipher (3DES wrap only wraps 3DES keys).
        out.push(("dh", KeyTransport::RsaPkcs1v15, c, &LEGACY));
        if c.is_historic() {
            out.push(("bob", KeyTransport::RsaPkcs1v15, c, &LEGACY));
        } else {
            out.push(("bob", KeyTransport::RsaPkcs1v15, c, &STANDARD));
            out.push(("bob", oaep, c, &STANDARD));
            for r in ["p256kx", "x25519"] {
                out.push((r, KeyTransport::RsaPkcs1v15, c, &STANDARD));
            }
        }
    }
    out
}

fn open_opts<'a>(keys: Vec<&'a dyn DecryptionKey>, policy: &'static dyn Policy) -> OpenOptions<'a> {
    let k = self::keys();
    OpenOptions {
        keys,
        trust_anchors: vec![k.ca.clone(), k.ec_ca.clone()],
        policy,
        ..OpenOptions::default()
    }
}

fn draft(body: &str) -> Vec<u8> {
    format!(
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: combinations\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Arbitrary text bodies: lines of printable characters, some non-ASCII, CRLF ends.
fn body() -> impl Strategy<Value = String> {
    prop::collection::vec("[ -~éàçÉ€]{0,70}", 1..12).prop_map(|lines| lines.join("\r\n"))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_signature_combination_round_trips_and_detects_corruption(
        text in body(),
        flip in 0usize..64,
    ) {
        let k = keys();
        let draft = draft(&text);
        for (signer, scheme, digest, policy) in signature_combinations() {
            let what = format!("{signer} {scheme:?} {digest:?} {}", policy.name());
            let opts = SignOptions { opaque: true, digest, scheme, policy };
            let msg = mss::sign(&draft, k.get(signer), &opts)
                .unwrap_or_else(|e| panic!("{what}: sign: {e}"));
            let opened = mss::open(&msg, &open_opts(Vec::new(), policy))
                .unwrap_or_else(|e| panic!("{what}: open: {e}"));
            prop_assert_eq!(opened.report.signatures.len(), 1);
            prop_assert_eq!(
                opened.report.signatures[0].status,
                SignatureStatus::Valid,
                "{}: {:#}", what, opened.report.to_json()
            );
            assert_carries(&opened.message, &mss_tests::inner_of(&draft));
            // One byte of the signature value changed: Invalid.
            let mut tree = Node::parse(&mss_tests::mime::cms_of(&msg));
            let sig = signed_data::signature(&mut tree);
            let at = flip % sig.len();
            sig[at] ^= 0x01;
            let bad = tree.to_der();
            let status = match mss::open(&bad, &open_opts(Vec::new(), policy)) {
                Ok(o) => o.report.signatures.first().map(|s| s.status),
                Err(_) => None,
            };
            prop_assert_ne!(status, Some(SignatureStatus::Valid), "{}: byte {}", what, at);
        }
    }

    #[test]
    fn every_encryption_combination_round_trips_and_aead_detects_corruption(
        text in body(),
        flip in 0usize..48,
    ) {
        let k = keys();
        let draft = draft(&text);
        for (recipient, key_transport, cipher, policy) in encryption_combinations() {
            let what = format!("{recipient} {} {} {}", key_transport.name(), cipher.name(), policy.name());
            let opts = EncryptOptions { cipher, key_transport, policy, ..EncryptOptions::default() };
            let to = k.get(recipient);
            let msg = mss::encrypt(&draft, &[to.certificate().clone()], k.alice.certificate(), &opts)
                .unwrap_or_else(|e| panic!("{what}: encrypt: {e}"));
            for reader in [to, &k.alice] {
                let opened = mss::open(&msg, &open_opts(vec![reader as &dyn DecryptionKey], policy))
                    .unwrap_or_else(|e| panic!("{what}: open: {e}"));
                prop_assert!(opened.report.encrypted);
                prop_assert_eq!(opened.report.content_cipher.as_deref(), Some(cipher.name()));
                prop_assert_eq!(opened.report.authenticated_encryption, cipher.is_aead());
                assert_carries(&opened.message, &mss_tests::inner_of(&draft));
            }
            // The other one cannot read it.
            let outsider = if recipient == "p256kx" { k.get("x25519") } else { k.get("p256kx") };
            prop_assert!(mss::open(&msg, &open_opts(vec![outsider], policy)).is_err(), "{}", what);
            if cipher.is_aead() {
                // AuthEnvelopedData ends with the ciphertext, then the 16-byte tag in its
                // OCTET STRING: flip one byte of the tag or of the last 30 ciphertext bytes.
                let mut der = mss_tests::mime::cms_of(&msg);
                let n = der.len();
                let at = if flip < 16 { n - 1 - flip } else { n - 18 - 1 - (flip - 16) };
                der[at] ^= 0x01;
                prop_assert!(
                    mss::open(&der, &open_opts(vec![to as &dyn DecryptionKey], policy)).is_err(),
                    "{}: byte {} of {} changed and still decrypted", what, at, n
                );
            }
        }
    }
}
