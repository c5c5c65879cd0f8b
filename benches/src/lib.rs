//! Fixtures of the mss benchmarks (run with `cargo bench -p mss-benches`): drafts of a
//! given size and the operations measured on them, shared by the criterion benches
//! (`benches/throughput.rs`) and the interleaved small-message ratios
//! (`benches/small_ratio.rs`). The keys are those of the cross-crate tests
//! (`mss_tests::soft::soft_pki`: a test CA, Alice and Bob, RSA-2048). The side-by-side
//! with OpenSSL is `benches/compare-openssl.sh`.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::Write;

use mss::stream::{encrypt_stream, open_stream, sign_and_encrypt_stream, sign_stream};
use mss::{ContentCipher, DigestAlgorithm, EncryptOptions, OpenOptions, SignOptions, SigningKey};
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::mime::Headers;
use mss_tests::soft::{SoftPki, soft_pki};
use x509_cert::Certificate;

/// A draft with a base64 body of `len` pseudo-random bytes (already 7-bit: the
/// in-memory and streaming paths protect the same entity).
pub fn draft(len: usize) -> Vec<u8> {
    let body = mss_tests::pseudo_random(len);
    let mut d = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: bench\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    d.extend_from_slice(&mss_cms::mime::encode_base64_lines(&body));
    d
}

/// The inner entity of `draft` (Content-* fields and body) and its outer fields.
/// Panics if `d` is not a draft (a broken fixture).
pub fn split(d: &[u8]) -> (Headers, Vec<u8>) {
    let mut input = d;
    let (outer, mut entity) = mss::stream::draft_stream(&mut input).expect("draft");
    let mut v = Vec::new();
    std::io::copy(&mut entity, &mut v).expect("entity");
    (outer, v)
}

/// One measured operation: `name`/`variant` as criterion shows them (`sign`/`memory`).
pub struct Operation<'a> {
    /// What is done: sign, verify, encrypt, decrypt, sign+encrypt, open.
    pub name: &'static str,
    /// How: `memory`, `stream`, with the cipher for encryption.
    pub variant: String,
    /// Do it once (panics on failure: a broken fixture).
    pub run: Box<dyn Fn() + 'a>,
}

fn op<'a>(name: &'static str, variant: &str, run: Box<dyn Fn() + 'a>) -> Operation<'a> {
    Operation {
        name,
        variant: variant.into(),
        run,
    }
}

/// A draft of a given size, its inner entity, and the messages made from it to open.
pub struct Fixture {
    keys: &'static SoftPki,
    draft: Vec<u8>,
    outer: Headers,
    entity: Vec<u8>,
    to_bob: Vec<Certificate>,
    alice_cert: Certificate,
    signed: Vec<u8>,
    encrypted: Vec<u8>,
    both: Vec<u8>,
}

impl Fixture {
    /// A fixture of `len` content bytes.
    pub fn new(len: usize) -> Fixture {
        let keys = soft_pki();
        let draft = draft(len);
        let (outer, entity) = split(&draft);
        let to_bob = vec![keys.bob.certificate().clone()];
        let alice_cert = keys.alice.certificate().clone();
        let signed = mss::sign(&draft, &keys.alice, &SignOptions::default()).expect("sign");
        let encrypted = mss::encrypt(&draft, &to_bob, &alice_cert, &EncryptOptions::default())
            .expect("encrypt");
        let both = mss::sign_and_encrypt(
            &draft,
            &keys.alice,
            &to_bob,
            None,
            &EncryptOptions::default(),
        )
        .expect("sign_and_encrypt");
        Fixture {
            keys,
            draft,
            outer,
            entity,
            to_bob,
            alice_cert,
            signed,
            encrypted,
            both,
        }
    }

    /// The size of the draft in bytes.
    pub fn draft_len(&self) -> usize {
        self.draft.len()
    }

    /// The yardstick for small messages: one RSA-2048 private-key operation (PKCS #1
    /// v1.5 signature of a SHA-256 digest) with Alice's software key.
    pub fn rsa_private_op(&self) -> Operation<'_> {
        let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
        let digest = DigestAlgorithm::Sha256.digest(b"bench");
        Operation {
            name: "rsa2048-private-op",
            variant: "sign-digest".into(),
            run: Box::new(move || {
                black_box(
                    self.keys
                        .alice
                        .sign_digest(&alg, black_box(&digest))
                        .expect("sign"),
                );
            }),
        }
    }

    /// `mss::open` of `m` (`msg` names the operation in a panic).
    fn open_memory<'a>(&'a self, msg: &'static str, m: &'a [u8]) -> Box<dyn Fn() + 'a> {
        let opts = self.open_options();
        Box::new(move || {
            black_box(mss::open(black_box(m), &opts).expect(msg));
        })
    }

    /// `mss::stream::open_stream` of `m` into a sink.
    fn open_streaming<'a>(&'a self, msg: &'static str, m: &'a [u8]) -> Box<dyn Fn() + 'a> {
        let opts = self.open_options();
        Box::new(move || {
            let mut sink = std::io::sink();
            black_box(open_stream(&mut &m[..], &mut sink, &opts, &mut |_| {}).expect(msg));
        })
    }

    fn open_options(&self) -> OpenOptions<'_> {
        OpenOptions {
            keys: vec![&self.keys.bob],
            trust_anchors: vec![self.keys.ca.certificate().clone()],
            ..OpenOptions::default()
        }
    }

    /// Sign, verify (open of a signed message), encrypt (AES-256-CBC and -GCM), decrypt
    /// (open of an encrypted message), sign+encrypt and open (of a signed then encrypted
    /// message), each in memory and streaming.
    pub fn operations(&self) -> Vec<Operation<'_>> {
        let k = self.keys;
        let open_memory = |msg, m| self.open_memory(msg, m);
        let open_streaming = |msg, m| self.open_streaming(msg, m);
        let mut ops = vec![
            op(
                "sign",
                "memory",
                Box::new(|| {
                    black_box(
                        mss::sign(black_box(&self.draft), &k.alice, &SignOptions::default())
                            .expect("sign"),
                    );
                }),
            ),
            op(
                "sign",
                "stream",
                Box::new(|| {
                    let mut out = Vec::with_capacity(self.draft.len() * 2);
                    sign_stream(
                        &mut self.entity.as_slice(),
                        &mut out,
                        &self.outer,
                        &k.alice,
                        &SignOptions::default(),
                        &mut |_| {},
                    )
                    .expect("sign_stream");
                    black_box(out);
                }),
            ),
            op("verify", "memory", open_memory("verify", &self.signed)),
            op("verify", "stream", open_streaming("verify", &self.signed)),
        ];
        for cipher in [ContentCipher::Aes256Cbc, ContentCipher::Aes256Gcm] {
            let opts = EncryptOptions {
                cipher,
                ..EncryptOptions::default()
            };
            ops.push(op(
                "encrypt",
                &format!("memory-{}", cipher.name()),
                Box::new(move || {
                    black_box(
                        mss::encrypt(
                            black_box(&self.draft),
                            &self.to_bob,
                            &self.alice_cert,
                            &opts,
                        )
                        .expect("encrypt"),
                    );
                }),
            ));
            ops.push(op(
                "encrypt",
                &format!("stream-{}", cipher.name()),
                Box::new(move || {
                    let mut out = Vec::with_capacity(self.draft.len() * 2);
                    encrypt_stream(
                        &mut self.entity.as_slice(),
                        &mut out,
                        &self.outer,
                        &self.to_bob,
                        &self.alice_cert,
                        &opts,
                        &mut |_| {},
                    )
                    .expect("encrypt_stream");
                    black_box(out);
                }),
            ));
        }
        ops.push(op(
            "decrypt",
            "memory",
            open_memory("decrypt", &self.encrypted),
        ));
        ops.push(op(
            "decrypt",
            "stream",
            open_streaming("decrypt", &self.encrypted),
        ));
        ops.push(op(
            "sign+encrypt",
            "memory",
            Box::new(|| {
                black_box(
                    mss::sign_and_encrypt(
                        black_box(&self.draft),
                        &k.alice,
                        &self.to_bob,
                        None,
                        &EncryptOptions::default(),
                    )
                    .expect("sign_and_encrypt"),
                );
            }),
        ));
        ops.push(op(
            "sign+encrypt",
            "stream",
            Box::new(|| {
                let mut out = Vec::with_capacity(self.draft.len() * 2);
                sign_and_encrypt_stream(
                    &mut self.entity.as_slice(),
                    &mut out,
                    &self.outer,
                    &k.alice,
                    &self.to_bob,
                    None,
                    &EncryptOptions::default(),
                    &mut |_| {},
                )
                .expect("sign_and_encrypt_stream");
                out.flush().expect("flush");
                black_box(out);
            }),
        ));
        ops.push(op("open", "memory", open_memory("open", &self.both)));
        ops.push(op("open", "stream", open_streaming("open", &self.both)));
        ops
    }
}
