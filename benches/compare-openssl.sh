#!/usr/bin/env bash
# Side-by-side throughput and peak memory of `openssl cms` and the `mss` CLI on one
# generated message (RSA-2048 keys, AES-256-CBC, SHA-256), as in issue #9:
#   sign+encrypt: openssl cms -sign -stream | openssl cms -encrypt -stream
#                 vs  mss encrypt --sign-with … --stream --no-protect-headers
#                     (the same work as openssl), and mss's default (RFC 9788 header
#                     protection, hp="cipher": the header section only, the body streams)
#   open:         openssl cms -decrypt | openssl cms -verify
#                 vs  mss open --stream (of the openssl message and of the mss one)
# Usage: benches/compare-openssl.sh [SIZE_MIB [RUNS]]   (default 256 MiB, 3 runs)
# BENCH_DIR=/dev/shm puts the message and the outputs in memory (tmpfs): the disk then
# bounds neither side (on a VM whose page cache is reclaimed, it otherwise can).
# Needs: openssl, GNU time (/usr/bin/time), a release build of the CLI (built here when
# missing). Prints, as the median of RUNS alternating runs: seconds, MB/s, CPU seconds
# (user + system), peak RSS, and the ratios (mss throughput / openssl's).
set -euo pipefail

SIZE_MIB="${1:-256}"
RUNS="${2:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MSS="$TARGET/release/mss"
if [ ! -x "$MSS" ]; then
    (cd "$ROOT" && cargo build --release -q -p mss-cli)
fi
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 1; }

W="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mss-bench.XXXXXX")"
trap 'rm -rf "$W"' EXIT
cd "$W"

# --- keys: a CA, Alice (signer), Bob (recipient) -------------------------------------
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
    -subj "/CN=Bench CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign
for u in alice bob; do
    q openssl req -newkey rsa:2048 -nodes -keyout "$u.key" -out "$u.csr" \
        -subj "/CN=$u/emailAddress=$u@example.test"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s@example.test\n' "$u" > "$u.ext"
    q openssl x509 -req -in "$u.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days 30 -extfile "$u.ext" -out "$u.pem"
    cat "$u.key" "$u.pem" > "$u-identity.pem"
done

# --- the message: headers + a base64 body of SIZE_MIB MiB of random bytes -----------
{
    printf 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: bench\r\n'
    printf 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom | base64 -w 76 | sed 's/$/\r/'
} > msg.eml
BYTES=$(stat -c %s msg.eml)

# measure NAME COMMAND…: runs it under GNU time (after a sync, so that writing back the
# previous run's output does not land on this one), appends wall and CPU seconds and
# peak RSS (KiB) to the run records.
declare -A SECS CPU RSS
measure() {
    local name="$1"; shift
    sync
    /usr/bin/time -v -o "time.$name" "$@" >/dev/null 2>"err.$name" || {
        echo "$name failed:" >&2; cat "err.$name" >&2; exit 1; }
    local wall user sys
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "time.$name" |
        awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    user=$(sed -n 's/.*User time (seconds): //p' "time.$name")
    sys=$(sed -n 's/.*System time (seconds): //p' "time.$name")
    SECS[$name]="${SECS[$name]:-} $wall"
    CPU[$name]="${CPU[$name]:-} $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    RSS[$name]="${RSS[$name]:-} $(sed -n 's/.*Maximum resident set size (kbytes): //p' "time.$name")"
}

# median of the numbers in $1
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The runs alternate OpenSSL and mss, so that a change of load hits both alike.
for ((run = 1; run <= RUNS; run++)); do
    measure openssl-sign+encrypt sh -c "openssl cms -sign -stream -binary -in msg.eml \
        -signer alice.pem -inkey alice.key | openssl cms -encrypt -stream -binary \
        -aes-256-cbc -out ossl.eml bob.pem"
    measure mss-sign+encrypt "$MSS" encrypt --stream --no-protect-headers \
        --sign-with alice-identity.pem --to bob.pem --cipher aes-256-cbc --in msg.eml \
        --out mss.eml
    measure mss-sign+encrypt-hp "$MSS" encrypt --stream --sign-with alice-identity.pem \
        --to bob.pem --cipher aes-256-cbc --in msg.eml --out mss-hp.eml
    measure openssl-open sh -c "openssl cms -decrypt -in ossl.eml -recip bob.pem \
        -inkey bob.key | openssl cms -verify -CAfile ca.pem -out /dev/null"
    measure mss-open "$MSS" open --stream --identity bob-identity.pem --trust ca.pem \
        --in mss.eml --out opened.eml
    measure mss-open-openssl-msg "$MSS" open --stream --identity bob-identity.pem \
        --trust ca.pem --in ossl.eml --out opened2.eml
done

printf '\n%s MiB message (%s bytes), %s, %s cores, median of %s runs, load average %s\n' \
    "$SIZE_MIB" "$BYTES" "$(openssl version | cut -d' ' -f1-2)" "$(nproc)" "$RUNS" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-24s %10s %10s %10s %12s\n' operation seconds MB/s 'CPU s' 'peak RSS MB'
declare -A MED
for n in openssl-sign+encrypt mss-sign+encrypt mss-sign+encrypt-hp openssl-open mss-open \
    mss-open-openssl-msg; do
    MED[$n]=$(median "${SECS[$n]}")
    awk -v n="$n" -v s="${MED[$n]}" -v c="$(median "${CPU[$n]}")" \
        -v r="$(median "${RSS[$n]}")" -v b="$BYTES" 'BEGIN {
        mbs = (s > 0) ? b / 1e6 / s : 0
        printf "%-24s %10.2f %10.1f %10.2f %12.1f\n", n, s, mbs, c, r / 1024 }'
done
printf '(seconds of each run:'
for n in openssl-sign+encrypt mss-sign+encrypt mss-sign+encrypt-hp; do printf ' %s:%s' "$n" "${SECS[$n]}"; done
printf ')\n'
awk -v a="${MED[openssl-sign+encrypt]}" -v b="${MED[mss-sign+encrypt]}" \
    -v c="${MED[openssl-open]}" -v d="${MED[mss-open]}" -v e="${MED[mss-open-openssl-msg]}" 'BEGIN {
    printf "\nratios (mss throughput / openssl throughput; targets: sign+encrypt >= 1.5, open >= 5)\n"
    printf "  sign+encrypt: %.2f\n", (b > 0) ? a / b : 0
    printf "  open:         %.2f (mss message), %.2f (openssl message)\n", (d > 0) ? c / d : 0, (e > 0) ? c / e : 0 }'
