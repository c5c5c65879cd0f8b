#!/usr/bin/env bash
# The mss test command: peers, formatting, lints, tests, docs.
#
#   bash scripts/test.sh
#
# Exits non-zero as soon as a step fails. The environment (CI, CARGO_TARGET_DIR, …)
# is passed through to cargo unchanged.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

start=$SECONDS

section "install-deps (openssl, NSS tools, SoftHSM2, OpenSC, OpenLDAP)"
bash scripts/install-deps.sh
for tool in openssl cmsutil certutil pk12util softhsm2-util pkcs11-tool; do
    printf '  %-9s %s\n' "$tool" "$(command -v "$tool")"
done
openssl version

section "cargo deny (licences, duplicate crates, sources; advisories when reachable)"
if cargo deny fetch db >/dev/null 2>&1; then
    cargo deny check advisories bans licenses sources
else
    echo "  !! the RustSec advisory database cannot be fetched from here (no network to its"
    echo "  !! git host): advisories are NOT checked in this run; see deny.toml"
    cargo deny check bans licenses sources
fi

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test"
cargo test --workspace

section "C ABI: header, C example under valgrind and ASan, Python binding"
bash scripts/test-ffi.sh

section "cargo doc (-D warnings)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps

section "all checks passed in $((SECONDS - start)) s"
