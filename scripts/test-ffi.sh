#!/usr/bin/env bash
# The C ABI end to end: build libmss_ffi, install it into a staging prefix with its header
# and pkg-config file, build examples/c/sign_encrypt_open.c and examples/c/stream_files.c
# against it, run them under valgrind (shared library) and AddressSanitizer (static
# library), then run the Python binding's tests.
#
#   bash scripts/test-ffi.sh
#
# Needs: cargo, gcc, g++, valgrind, pkg-config, openssl, python3 (+ pytest, installed with
# pip when missing). Debian: apt-get install gcc g++ valgrind pkg-config openssl python3 python3-pip
# Exits non-zero on the first failure. CARGO_TARGET_DIR is honoured.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

section() {
    printf '\n==== ffi: %s ====\n' "$*"
}

# ---- tools: fail (never skip) when one is missing ----
declare -A PKG_OF=(
    [cargo]="rustup (https://rustup.rs)"
    [gcc]=gcc
    [g++]=g++
    [valgrind]=valgrind
    [pkg-config]=pkg-config
    [openssl]=openssl
    [python3]=python3
)
missing=()
for tool in cargo gcc g++ valgrind pkg-config openssl python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (Debian package: ${PKG_OF[$tool]})")
done
if [ "${#missing[@]}" -ne 0 ]; then
    printf 'test-ffi: missing tool: %s\n' "${missing[@]}" >&2
    echo "test-ffi: install them, e.g. apt-get install gcc g++ valgrind pkg-config openssl python3" >&2
    exit 1
fi
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    section "installing pytest"
    python3 -m pip install --quiet pytest || {
        echo "test-ffi: pytest is missing and 'python3 -m pip install pytest' failed" >&2
        echo "test-ffi: install it (Debian: apt-get install python3-pytest)" >&2
        exit 1
    }
fi

section "cargo build -p mss-ffi"
cargo build -p mss-ffi
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
LIBDIR_BUILD="$TARGET_DIR/debug"
for f in libmss_ffi.so libmss_ffi.a; do
    [ -f "$LIBDIR_BUILD/$f" ] || { echo "test-ffi: $LIBDIR_BUILD/$f was not built" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mss-ffi-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

section "staging install (prefix $WORK/prefix) and pkg-config"
PREFIX="$WORK/prefix"
mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include"
cp "$LIBDIR_BUILD/libmss_ffi.so" "$LIBDIR_BUILD/libmss_ffi.a" "$PREFIX/lib/"
cp bindings/c/mss.h "$PREFIX/include/"
sed "s|^prefix=.*|prefix=$PREFIX|" bindings/c/mss.pc >"$PREFIX/lib/pkgconfig/mss.pc"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
pkg-config --exists --print-errors mss
echo "mss $(pkg-config --modversion mss): $(pkg-config --cflags --libs mss)"

section "header: gcc -std=c99 and g++ -std=c++11, warnings as errors"
printf '#include <mss.h>\nint main(void) { return mss_version() == 0; }\n' >"$WORK/h.c"
cp "$WORK/h.c" "$WORK/h.cpp"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags mss) -c "$WORK/h.c" -o "$WORK/h.o"
# shellcheck disable=SC2046
g++ -std=c++11 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags mss) -c "$WORK/h.cpp" -o "$WORK/hpp.o"

section "test PKI (openssl): CA, Alice (encrypted PEM), Bob (PKCS#12)"
PASS="mss-ffi-test-password"
PKI="$WORK/pki"
mkdir -p "$PKI"
cat >"$PKI/ext.cnf" <<'EOF'
[person]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:copy
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
    -days 30 -subj "/CN=mss-ffi test CA" -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
for who in alice bob; do
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$who.key" -out "$PKI/$who.csr" \
        -subj "/CN=${who^}/emailAddress=$who@example.org" 2>/dev/null
    openssl x509 -req -in "$PKI/$who.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
        -CAcreateserial -days 30 -sha256 -out "$PKI/$who.crt" \
        -extfile "$PKI/ext.cnf" -extensions person 2>/dev/null
done
# Alice: PEM identity, key encrypted (PKCS#8, PBES2 AES-256-CBC), certificate, CA.
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$PKI/alice.key" -passout "pass:$PASS" \
    -out "$PKI/alice.pem"
cat "$PKI/alice.crt" "$PKI/ca.pem" >>"$PKI/alice.pem"
# Bob: PKCS#12 (OpenSSL defaults: PBES2 AES-256-CBC, HMAC-SHA-256 MAC).
openssl pkcs12 -export -inkey "$PKI/bob.key" -in "$PKI/bob.crt" -certfile "$PKI/ca.pem" \
    -name bob -passout "pass:$PASS" -out "$PKI/bob.p12"
ARGS=("$PKI/ca.pem" "$PKI/alice.pem" "$PKI/bob.p12" "$PASS")

section "example against the shared library, under valgrind"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -g examples/c/sign_encrypt_open.c -o "$WORK/example" \
    $(pkg-config --cflags --libs mss) -Wl,-rpath,"$PREFIX/lib"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    "$WORK/example" "${ARGS[@]}" >"$WORK/valgrind.out"
cat "$WORK/valgrind.out"
grep -q '^OK: signature valid$' "$WORK/valgrind.out"
grep -q '"status":"valid"' "$WORK/valgrind.out"

section "example against the static library, with AddressSanitizer"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-omit-frame-pointer \
    examples/c/sign_encrypt_open.c -o "$WORK/example-asan" $(pkg-config --cflags mss) \
    -L"$PREFIX/lib" -Wl,-Bstatic -lmss_ffi -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-l mss | sed 's/-lmss_ffi//')
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=98 UBSAN_OPTIONS=halt_on_error=1 \
    "$WORK/example-asan" "${ARGS[@]}" >"$WORK/asan.out"
grep -q '^OK: signature valid$' "$WORK/asan.out"
echo "ASan: no error, no leak"

section "example: a wrong password fails with MSS_BAD_PASSWORD (4001)"
if "$WORK/example" "$PKI/ca.pem" "$PKI/alice.pem" "$PKI/bob.p12" wrong 2>"$WORK/wrong.err" >/dev/null; then
    echo "test-ffi: the example succeeded with a wrong password" >&2
    exit 1
fi
grep -q 'status 4001' "$WORK/wrong.err"
cat "$WORK/wrong.err"

section "streaming example (examples/c/stream_files.c): FILE* callbacks, valgrind and ASan"
stream_start=$SECONDS
# A draft with a 7-bit body: the clear message must end with the same bytes.
make_draft() { # SIZE_KIB OUT
    {
        printf 'From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n'
        printf 'Subject: Imagerie\r\nContent-Type: text/plain; charset=us-ascii\r\n'
        printf 'Content-Transfer-Encoding: 7bit\r\n\r\n'
    } >"$2"
    openssl rand -base64 $(($1 * 768)) | sed 's/$/\r/' >"$2.body"
    cat "$2.body" >>"$2"
}
check_stream() { # OUTPUT_LOG WORKDIR DRAFT
    grep -q '^OK: streamed signature valid$' "$1"
    grep -q '^full disk: status 1010' "$1"
    [ ! -e "$2/clear.eml.part" ]
    tail -c "$(stat -c %s "$3.body")" "$2/clear.eml" | cmp - "$3.body"
}
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -g examples/c/stream_files.c -o "$WORK/stream" \
    $(pkg-config --cflags --libs mss) -Wl,-rpath,"$PREFIX/lib"
mkdir -p "$WORK/s-valgrind" "$WORK/s-asan"
make_draft 256 "$WORK/draft-small.eml"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    "$WORK/stream" "${ARGS[@]}" "$WORK/draft-small.eml" "$WORK/s-valgrind" >"$WORK/s-valgrind.out"
cut -c1-200 "$WORK/s-valgrind.out"
check_stream "$WORK/s-valgrind.out" "$WORK/s-valgrind" "$WORK/draft-small.eml"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-omit-frame-pointer \
    examples/c/stream_files.c -o "$WORK/stream-asan" $(pkg-config --cflags mss) \
    -L"$PREFIX/lib" -Wl,-Bstatic -lmss_ffi -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-l mss | sed 's/-lmss_ffi//')
make_draft 4096 "$WORK/draft-large.eml"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=98 UBSAN_OPTIONS=halt_on_error=1 \
    "$WORK/stream-asan" "${ARGS[@]}" "$WORK/draft-large.eml" "$WORK/s-asan" >"$WORK/s-asan.out"
check_stream "$WORK/s-asan.out" "$WORK/s-asan" "$WORK/draft-large.eml"
echo "streaming example: valgrind (256 KiB) and ASan (4 MiB) clean, clear body identical" \
    "($((SECONDS - stream_start)) s)"

section "python binding (pytest)"
MSS_LIBRARY="$PREFIX/lib/libmss_ffi.so" PYTHONPATH="$ROOT/bindings/python" python3 -m pytest -q -p no:cacheprovider bindings/python/tests

section "all checks passed"
