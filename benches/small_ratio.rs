//! Small messages (4 KiB) against their RSA private-key operation, the yardstick of
//! issue #9 ("no more than 1.5× the cost of their RSA private-key operation").
//!
//! Criterion measures each benchmark at its own time, and on a shared machine the
//! speed of the CPU moves by 10–40 % from one minute to the next: a ratio of two
//! criterion figures measures the host as much as mss. Here every round times the RSA
//! operation and then each operation back to back, a few iterations each, and the
//! ratio is taken within the round; the median over the rounds is printed with the
//! 90th percentile. Run with `cargo bench -p mss-benches --bench small_ratio`
//! (`ROUNDS=N` to change the number of rounds, 40 by default).
#![forbid(unsafe_code)]

use std::time::Instant;

use mss_benches::{Fixture, Operation};

/// Iterations of each operation per round.
const ITERATIONS: u32 = 8;

/// Seconds per iteration of `op`, over `ITERATIONS` iterations.
fn time(op: &Operation<'_>) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        (op.run)();
    }
    start.elapsed().as_secs_f64() / f64::from(ITERATIONS)
}

/// The value at quantile `q` (0..=1) of `v`, sorted here.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not supported here.
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let f = Fixture::new(4 * 1024);
    let rsa = f.rsa_private_op();
    let ops = f.operations();
    // Warm up (allocator, caches, the first chain validation).
    time(&rsa);
    for op in &ops {
        time(op);
    }
    let mut rsa_times = Vec::with_capacity(rounds);
    let mut times = vec![Vec::with_capacity(rounds); ops.len()];
    let mut ratios = vec![Vec::with_capacity(rounds); ops.len()];
    for _ in 0..rounds {
        let r = time(&rsa);
        rsa_times.push(r);
        for (i, op) in ops.iter().enumerate() {
            let t = time(op);
            times[i].push(t);
            ratios[i].push(t / r);
        }
    }
    println!(
        "4 KiB operations against one RSA-2048 private-key operation, measured in the same \
         rounds ({rounds} rounds of {ITERATIONS} iterations)"
    );
    println!(
        "RSA-2048 private-key operation: median {:.2} ms",
        quantile(&mut rsa_times, 0.5) * 1e3
    );
    println!(
        "{:<34} {:>10} {:>12} {:>12}",
        "operation", "median ms", "median ratio", "p90 ratio"
    );
    for (i, op) in ops.iter().enumerate() {
        println!(
            "{:<34} {:>10.2} {:>12.2} {:>12.2}",
            format!("{}/{}", op.name, op.variant),
            quantile(&mut times[i], 0.5) * 1e3,
            quantile(&mut ratios[i], 0.5),
            quantile(&mut ratios[i], 0.9),
        );
    }
}
