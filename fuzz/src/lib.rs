//! Fuzz target bodies for mss (see `targets`); the `fuzz_targets/` binaries are thin
//! libFuzzer wrappers around them.
#![forbid(unsafe_code)]

pub mod targets;
