//! Throughput of the facade at 4 KiB, 1 MiB and 64 MiB: sign, verify (open of a signed
//! message), encrypt, decrypt (open of an encrypted message) and open (of a signed then
//! encrypted message), in memory and streaming. RSA-2048, SHA-256, AES-256-CBC (and
//! AES-256-GCM for encryption), keys from the test CA of `mss-token`.
//!
//! Run with `cargo bench -p mss-benches --bench throughput` (`-- 4KiB` for one size). The
//! 64 MiB cases take 10 samples. See `docs/performance.md` for figures and
//! `benches/compare-openssl.sh` for the side-by-side with `openssl cms`.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::Write;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mss::stream::{encrypt_stream, open_stream, sign_and_encrypt_stream, sign_stream};
use mss::{ContentCipher, EncryptOptions, OpenOptions, SignOptions};
use mss_benches::{draft, split};
use mss_tests::soft::soft_pki;

fn bench(c: &mut Criterion) {
    let k = soft_pki();
    let bob_cert = k.bob.certificate().clone();
    let to_bob = std::slice::from_ref(&bob_cert);
    let alice_cert = k.alice.certificate().clone();
    let open_opts = OpenOptions {
        keys: vec![&k.bob],
        trust_anchors: vec![k.ca.certificate().clone()],
        ..OpenOptions::default()
    };
    let sign_opts = SignOptions::default();
    for (label, len) in [
        ("4KiB", 4 * 1024),
        ("1MiB", 1024 * 1024),
        ("64MiB", 64 * 1024 * 1024),
    ] {
        let d = draft(len);
        let (outer, entity) = split(&d);
        let mut group = c.benchmark_group(format!("mss-{label}"));
        group.throughput(Throughput::Bytes(d.len() as u64));
        if len >= 64 * 1024 * 1024 {
            group.sample_size(10);
        }
        // Messages to open.
        let signed = mss::sign(&d, &k.alice, &sign_opts).expect("sign");
        let encrypted =
            mss::encrypt(&d, to_bob, &alice_cert, &EncryptOptions::default()).expect("encrypt");
        let both = mss::sign_and_encrypt(&d, &k.alice, to_bob, None, &EncryptOptions::default())
            .expect("sign_and_encrypt");

        if len == 4 * 1024 {
            // The yardstick for small messages: one RSA-2048 private-key operation.
            use mss::SigningKey;
            let alg =
                mss_algs::signature::SignatureAlgorithm::rsa_pkcs1v15(mss::DigestAlgorithm::Sha256);
            let digest = mss::DigestAlgorithm::Sha256.digest(b"bench");
            group.bench_function(BenchmarkId::new("rsa2048-private-op", "sign-digest"), |b| {
                b.iter(|| k.alice.sign_digest(&alg, black_box(&digest)).expect("sign"))
            });
        }
        group.bench_function(BenchmarkId::new("sign", "memory"), |b| {
            b.iter(|| mss::sign(black_box(&d), &k.alice, &sign_opts).expect("sign"))
        });
        group.bench_function(BenchmarkId::new("sign", "stream"), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(d.len() * 2);
                sign_stream(
                    &mut entity.as_slice(),
                    &mut out,
                    &outer,
                    &k.alice,
                    &sign_opts,
                    &mut |_| {},
                )
                .expect("sign_stream");
                out
            })
        });
        group.bench_function(BenchmarkId::new("verify", "memory"), |b| {
            b.iter(|| mss::open(black_box(&signed), &open_opts).expect("open"))
        });
        group.bench_function(BenchmarkId::new("verify", "stream"), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                open_stream(&mut signed.as_slice(), &mut sink, &open_opts, &mut |_| {})
                    .expect("open")
            })
        });
        for cipher in [ContentCipher::Aes256Cbc, ContentCipher::Aes256Gcm] {
            let opts = EncryptOptions {
                cipher,
                ..EncryptOptions::default()
            };
            group.bench_function(
                BenchmarkId::new("encrypt", format!("memory-{}", cipher.name())),
                |b| {
                    b.iter(|| {
                        mss::encrypt(black_box(&d), to_bob, &alice_cert, &opts).expect("encrypt")
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new("encrypt", format!("stream-{}", cipher.name())),
                |b| {
                    b.iter(|| {
                        let mut out = Vec::with_capacity(d.len() * 2);
                        encrypt_stream(
                            &mut entity.as_slice(),
                            &mut out,
                            &outer,
                            to_bob,
                            &alice_cert,
                            &opts,
                            &mut |_| {},
                        )
                        .expect("encrypt_stream");
                        out
                    })
                },
            );
        }
        group.bench_function(BenchmarkId::new("decrypt", "memory"), |b| {
            b.iter(|| mss::open(black_box(&encrypted), &open_opts).expect("open"))
        });
        group.bench_function(BenchmarkId::new("decrypt", "stream"), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                open_stream(
                    &mut encrypted.as_slice(),
                    &mut sink,
                    &open_opts,
                    &mut |_| {},
                )
                .expect("open")
            })
        });
        group.bench_function(BenchmarkId::new("sign+encrypt", "stream"), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(d.len() * 2);
                sign_and_encrypt_stream(
                    &mut entity.as_slice(),
                    &mut out,
                    &outer,
                    &k.alice,
                    to_bob,
                    None,
                    &EncryptOptions::default(),
                    &mut |_| {},
                )
                .expect("sign_and_encrypt_stream");
                out.flush().expect("flush");
                out
            })
        });
        group.bench_function(BenchmarkId::new("open", "memory"), |b| {
            b.iter(|| mss::open(black_box(&both), &open_opts).expect("open"))
        });
        group.bench_function(BenchmarkId::new("open", "stream"), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                open_stream(&mut both.as_slice(), &mut sink, &open_opts, &mut |_| {}).expect("open")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
