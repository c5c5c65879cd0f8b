//! Helpers shared by the integration tests: running the `openssl` CLI.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Run `openssl` with `args` in `dir`; panics (fails the test) with a clear message if
/// OpenSSL is missing or the command fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs the `openssl` command-line tool (OpenSSL 3) on PATH: {e}")
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Write `data` to `dir/name` and return the name.
pub fn write<'a>(dir: &Path, name: &'a str, data: &[u8]) -> &'a str {
    std::fs::write(dir.join(name), data).expect("write fixture");
    name
}

/// Read `dir/name`.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("read fixture")
}
