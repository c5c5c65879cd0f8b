//! The line-end canonicalisers — streaming (`CanonReader`, whose fast path hands out
//! already-canonical text without copying it) and in memory (`mime::canonicalize`,
//! the same vectorised check underneath) — against a byte-by-byte oracle, whatever the
//! line ends, the sizes of the inner reads and the sizes of the caller's buffers.

use std::io::Read;

use mss_cms::mime::canonicalize;
use mss_cms::stream::CanonReader;
use proptest::prelude::*;

/// The oracle: CRLF stays, a bare CR or a bare LF becomes CRLF.
fn oracle(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Gives at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Read all of `r` with buffers of `size` bytes.
fn read_all(mut r: impl Read, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; size];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Text made of runs of letters and line ends of every kind (CRLF, LF, CR, LFCR, CRCR).
fn text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[a-z]{0,90}".prop_map(String::into_bytes),
        3 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\n\r".to_vec()),
        1 => Just(b"\r\r".to_vec()),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn streams_as_in_memory(data in text(), step in 1usize..300, size in 1usize..300) {
        let want = oracle(&data);
        let got = read_all(CanonReader::new(Trickle { data: &data, step }), size);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(canonicalize(&data), want);
    }
}

#[test]
fn long_canonical_text_is_unchanged_and_irregular_ends_are_fixed_anywhere() {
    // Long CRLF text (the fast path, block by block), then one irregular line end at
    // every position of a few blocks: each must be found, whatever its place in a block.
    let line = b"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ab\r\n";
    let canonical: Vec<u8> = line.iter().copied().cycle().take(78 * 200).collect();
    assert_eq!(
        read_all(CanonReader::new(&canonical[..]), 64 * 1024),
        canonical
    );
    for at in (0..400).filter(|i| canonical[*i] != b'\r' && canonical[*i] != b'\n') {
        for bad in [&b"\n"[..], b"\r", b"\r\r\n", b"\n\n"] {
            let mut data = canonical.clone();
            data.splice(at..at, bad.iter().copied());
            let want = oracle(&data);
            assert_eq!(canonicalize(&data), want, "{bad:?} at {at}, in memory");
            for size in [1, 77, 4096, 64 * 1024] {
                assert_eq!(
                    read_all(CanonReader::new(&data[..]), size),
                    want,
                    "{bad:?} at {at}, buffers of {size}"
                );
            }
        }
    }
}
