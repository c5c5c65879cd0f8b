//! Throughput of the facade at 4 KiB, 1 MiB and 64 MiB: sign, verify (open of a signed
//! message), encrypt, decrypt (open of an encrypted message), sign+encrypt and open (of
//! a signed then encrypted message), in memory and streaming ([`Fixture::operations`]).
//! RSA-2048, SHA-256, AES-256-CBC (and AES-256-GCM for encryption), keys from the test
//! CA of `mss-token`.
//!
//! Run with `cargo bench -p mss-benches --bench throughput` (`-- 4KiB` for one size). The
//! 64 MiB cases take 10 samples. See `docs/performance.md` for figures,
//! `benches/small_ratio.rs` for the 4 KiB operations against an RSA private-key
//! operation measured alongside, and `benches/compare-openssl.sh` for the side-by-side
//! with `openssl cms`.
#![forbid(unsafe_code)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mss_benches::Fixture;

fn bench(c: &mut Criterion) {
    for (label, len) in [
        ("4KiB", 4 * 1024),
        ("1MiB", 1024 * 1024),
        ("64MiB", 64 * 1024 * 1024),
    ] {
        let f = Fixture::new(len);
        let mut group = c.benchmark_group(format!("mss-{label}"));
        group.throughput(Throughput::Bytes(f.draft_len() as u64));
        if len >= 64 * 1024 * 1024 {
            group.sample_size(10);
        }
        let mut ops = f.operations();
        if len == 4 * 1024 {
            ops.insert(0, f.rsa_private_op());
        }
        for op in &ops {
            group.bench_function(BenchmarkId::new(op.name, &op.variant), |b| {
                b.iter(|| (op.run)())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
