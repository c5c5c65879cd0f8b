//! Replays every fuzz corpus seed and every kept crash file (`fuzz/corpus/<target>/`,
//! `fuzz/artifacts/<target>/`) through the very bodies the cargo-fuzz targets run
//! (`fuzz/src/targets.rs`, included here by path), on the stable toolchain: a fixed
//! finding stays fixed, and the targets keep building and running in ordinary CI.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(name: &str, body: fn(&[u8])) -> usize {
    let root = fuzz_dir();
    let seeds = files(&root.join("corpus").join(name));
    assert!(
        seeds.len() >= 3,
        "fuzz/corpus/{name} must hold seeds (found {})",
        seeds.len()
    );
    let crashes = files(&root.join("artifacts").join(name));
    let mut n = 0;
    for path in seeds.iter().chain(&crashes) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(
            outcome.is_ok(),
            "target {name} panics on {}",
            path.display()
        );
        n += 1;
    }
    n
}

#[test]
fn every_target_has_a_replay() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["cms", "mime", "x509", "pkcs12", "open"]);
    for n in names {
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{n}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{n}.rs"
        );
    }
}

macro_rules! replay_test {
    ($test:ident, $name:literal) => {
        #[test]
        fn $test() {
            let body = targets::TARGETS
                .iter()
                .find(|(n, _)| *n == $name)
                .map(|(_, f)| *f)
                .expect("target");
            assert!(replay($name, body) >= 3);
        }
    };
}

replay_test!(replay_cms, "cms");
replay_test!(replay_mime, "mime");
replay_test!(replay_x509, "x509");
replay_test!(replay_pkcs12, "pkcs12");
replay_test!(replay_open, "open");
