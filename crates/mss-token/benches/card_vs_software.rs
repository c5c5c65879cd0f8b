//! Signatures per second: the same RSA-2048 key on a PKCS#11 token (SoftHSM2, laid
//! out like a CPS3 card) and in software (`SoftwareIdentity`).
//!
//! Run with `cargo bench -p mss-token --bench card_vs_software`. Needs softhsm2,
//! opensc and openssl (see `tests/pkcs11_support`): like the tests, the bench
//! builds the token directory, then runs itself again with `SOFTHSM2_CONF` set.
#![forbid(unsafe_code)]

#[path = "../tests/pkcs11_support/mod.rs"]
mod pkcs11_support;

use std::hint::black_box;
use std::process::{Command, ExitCode};

use criterion::{Criterion, Throughput};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_algs::signature::SignatureAlgorithm;
use mss_token::{CpsCard, FixedPin, SoftwareIdentity};
use pkcs11_support::{Fixture, PIN, TOKEN};

fn bench(c: &mut Criterion, fx: &Fixture) {
    let card = CpsCard::open(&fx.uri(TOKEN, ""), None, &FixedPin::new(PIN)).expect("open card");
    let on_card = card.signing_identity().expect("signing identity");
    let mut pem = std::fs::read_to_string(fx.file("sig.key")).expect("key");
    pem.push_str(&std::fs::read_to_string(fx.file("sig.pem")).expect("cert"));
    let software = SoftwareIdentity::from_pem(&pem, None).expect("software identity");
    let digest = DigestAlgorithm::Sha256.digest(b"bench");
    for alg in [
        SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
        SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256),
    ] {
        let mut group = c.benchmark_group(format!("rsa2048-{}", alg.name()));
        group.throughput(Throughput::Elements(1));
        group.bench_function("softhsm", |b| {
            b.iter(|| on_card.sign_digest(&alg, black_box(&digest)).expect("sign"))
        });
        group.bench_function("software", |b| {
            b.iter(|| {
                software
                    .sign_digest(&alg, black_box(&digest))
                    .expect("sign")
            })
        });
        group.finish();
    }
}

fn main() -> ExitCode {
    let Some(fx) = Fixture::from_env() else {
        // SoftHSM reads SOFTHSM2_CONF when initialised: run again with it set.
        let fx = Fixture::get();
        let exe = std::env::current_exe().expect("current executable");
        let status = Command::new(exe)
            .args(std::env::args_os().skip(1))
            .envs(fx.child_env())
            .status()
            .expect("run the bench with the token directory");
        return if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    };
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &fx);
    c.final_summary();
    ExitCode::SUCCESS
}
