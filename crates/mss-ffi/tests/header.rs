//! The committed header `bindings/c/mss.h` is what cbindgen generates from this crate, and
//! it compiles as C99 and C++ with warnings as errors; `bindings/c/mss.pc` carries the
//! crate's version.
//!
//! After changing the C API, regenerate the header with
//! `MSS_BLESS=1 cargo test -p mss-ffi --test header` and commit it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

fn header_path() -> PathBuf {
    repo_root().join("bindings/c/mss.h")
}

fn generate() -> String {
    let dir = manifest_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn committed_header_is_up_to_date() {
    let generated = generate();
    let path = header_path();
    if std::env::var_os("MSS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write bindings/c/mss.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "bindings/c/mss.h is stale: regenerate it with \
         `MSS_BLESS=1 cargo test -p mss-ffi --test header` and commit it"
    );
}

#[test]
fn header_declares_the_whole_api() {
    let h = generate();
    for name in [
        "typedef struct mss_context mss_context;",
        "typedef struct mss_identity mss_identity;",
        "typedef struct mss_report mss_report;",
        "typedef struct mss_buffer mss_buffer;",
        "MSS_OK = 0",
        "MSS_NULL_ARGUMENT = 1001",
        "MSS_INTERNAL_ERROR = 1004",
        "MSS_POLICY_VIOLATION = 2001",
        "MSS_NOT_A_RECIPIENT = 3002",
        "MSS_BAD_PASSWORD = 4001",
        "mss_context_new(",
        "mss_context_add_trust_anchor(",
        "mss_context_set_policy(",
        "mss_context_set_revocation(",
        "mss_context_set_progress(",
        "mss_identity_open_file(",
        "mss_identity_open_bytes(",
        "mss_sign(",
        "mss_encrypt(",
        "mss_sign_encrypt(",
        "mss_open(",
        "MSS_READ_CALLBACK_FAILED = 1009",
        "MSS_WRITE_CALLBACK_FAILED = 1010",
        "typedef int (*mss_read_callback)(void *userdata, uint8_t *buf, size_t len, size_t *out_n);",
        "mss_sign_stream(",
        "mss_encrypt_stream(",
        "mss_sign_encrypt_stream(",
        "mss_open_stream(",
        "mss_reply_level(",
        "mss_report_to_json(",
        "mss_last_error_message(",
        "mss_version(",
        "#define MSS_SIGN_OPAQUE 1",
    ] {
        assert!(h.contains(name), "header lacks {name:?}");
    }
}

fn compile(compiler: &str, args: &[&str], source: &Path, dir: &Path) {
    let status = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(dir)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(dir.join(format!("{compiler}.o")))
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {compiler} ({e}): install it (Debian: apt-get install gcc g++)")
        });
    assert!(
        status.success(),
        "{compiler} {args:?} rejects the generated mss.h"
    );
}

#[test]
fn header_compiles_as_c99_and_cxx() {
    // The generated text (equal to the committed file when the test above passes).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mss.h"), generate()).expect("write mss.h");
    let c = dir.path().join("use.c");
    std::fs::write(
        &c,
        "#include \"mss.h\"\n#include \"mss.h\"\nint main(void) { mss_status s = MSS_OK; \
         (void)mss_version(); return (int)s; }\n",
    )
    .expect("write");
    compile(
        "gcc",
        &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"],
        &c,
        dir.path(),
    );
    let cc = dir.path().join("use.cpp");
    std::fs::copy(&c, &cc).expect("copy");
    compile(
        "g++",
        &["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"],
        &cc,
        dir.path(),
    );
}

#[test]
fn pkg_config_file_matches_the_crate() {
    let pc = std::fs::read_to_string(repo_root().join("bindings/c/mss.pc")).expect("mss.pc");
    assert!(
        pc.lines()
            .any(|l| l == format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "bindings/c/mss.pc: Version must be {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        pc.lines().any(|l| l.starts_with("prefix=")),
        "mss.pc needs a prefix variable"
    );
    assert!(pc.contains("-lmss_ffi"), "mss.pc must link -lmss_ffi");
}
