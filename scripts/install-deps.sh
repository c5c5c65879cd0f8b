#!/usr/bin/env bash
# Install the external peers the mss test suite talks to, when they are missing.
#
#   openssl         -> `openssl` (OpenSSL's `cms` command)
#   libnss3-tools   -> `cmsutil`, `certutil`, `pk12util` (Mozilla NSS)
#   softhsm2        -> `softhsm2-util` and the PKCS#11 module the card tests drive
#   opensc          -> `pkcs11-tool` (lays out the test card)
#   gcc, g++, valgrind, pkg-config, python3 -> the C ABI's example and Python binding
#   slapd, ldap-utils -> OpenLDAP `slapd` + `ldapadd`/`ldapsearch` (mss-directory tests;
#                   installed without starting the system service: the tests run their own)
#   cargo-deny      -> supply-chain checks (not a Debian package: `cargo install --locked`,
#                      built without its release profile's fat LTO and single codegen
#                      unit: about 2.5 minutes on a 2-core machine instead of 7.5, once)
#
# Debian/Ubuntu only (apt-get). Runs as root, or through sudo otherwise.
# Idempotent: prints nothing and touches nothing when every tool is present.
set -euo pipefail

# command -> Debian package providing it
declare -A PKG_OF=(
    [openssl]=openssl
    [cmsutil]=libnss3-tools
    [certutil]=libnss3-tools
    [pk12util]=libnss3-tools
    [softhsm2-util]=softhsm2
    [pkcs11-tool]=opensc
    [gcc]=gcc
    [g++]=g++
    [valgrind]=valgrind
    [pkg-config]=pkg-config
    [python3]=python3
    [slapd]=slapd
    [ldapsearch]=ldap-utils
)

# slapd lives in /usr/sbin, which a non-root PATH may lack.
have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}
# cargo-deny is a Rust tool, built from crates.io into ~/.cargo/bin.
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version >/dev/null 2>&1; then
    echo "install-deps: installing cargo-deny $CARGO_DENY_VERSION (cargo install --locked, a few minutes)"
    # cargo-deny's release profile asks for fat LTO and one codegen unit: three times
    # the build time for a tool that checks a lock file in a second.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
        cargo install --locked --quiet "cargo-deny@$CARGO_DENY_VERSION"
fi

missing=()
for cmd in "${!PKG_OF[@]}"; do
    if ! have "$cmd"; then
        pkg="${PKG_OF[$cmd]}"
        case " ${missing[*]-} " in
            *" $pkg "*) ;;
            *) missing+=("$pkg") ;;
        esac
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages (${missing[*]}) and no apt-get on this system;" >&2
    echo "install-deps: install them with your package manager (tools: ${!PKG_OF[*]})." >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages (slapd) must not start system services: a temporary policy-rc.d denies it.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup_policy() {
    if [ "$own_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
}
trap cleanup_policy EXIT
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
