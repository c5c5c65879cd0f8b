//! The streaming text codecs against independent oracles, whatever the sizes of the
//! writes and reads: the base64 encoder and decoder (SIMD, `base64-simd`) against the
//! `base64` crate, and the line-end canonicalisers — streaming (`CanonReader`, whose
//! fast path hands out already-canonical text without copying it) and in memory
//! (`mime::canonicalize`, the same vectorised check underneath) — against a
//! byte-by-byte oracle.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_cms::mime::{canonicalize, encode_base64_lines};
use mss_cms::stream::{Base64EncodeReader, Base64Reader, Base64Writer, CanonReader};
use proptest::prelude::*;

/// The oracle: one base64 string cut into 76-character CRLF lines.
fn oracle(data: &[u8]) -> Vec<u8> {
    let text = STANDARD.encode(data);
    let mut out = Vec::new();
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads at most `step` bytes per call.
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

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writer_matches_the_oracle(
        data in proptest::collection::vec(any::<u8>(), 0..200_000),
        steps in proptest::collection::vec(1usize..70_000, 1..8),
    ) {
        let mut w = Base64Writer::new(Vec::new());
        let mut rest = data.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let n = rest.len().min(steps[i % steps.len()]);
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            i += 1;
        }
        let text = w.finish().unwrap();
        prop_assert_eq!(&text, &oracle(&data));
        prop_assert_eq!(&encode_base64_lines(&data), &text);
        let mut pulled = Vec::new();
        Base64EncodeReader::new(Trickle { data: &data, step: steps[0] })
            .read_to_end(&mut pulled)
            .unwrap();
        prop_assert_eq!(&pulled, &text);
    }

    #[test]
    fn reader_decodes_any_line_shape(
        data in proptest::collection::vec(any::<u8>(), 0..100_000),
        width in 1usize..200,
        lf_only in any::<bool>(),
        step in 1usize..70_000,
        keep_padding in any::<bool>(),
    ) {
        let mut text = STANDARD.encode(&data).into_bytes();
        if !keep_padding {
            while text.last() == Some(&b'=') {
                text.pop();
            }
        }
        let brk: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
        let mut wrapped = Vec::new();
        for line in text.chunks(width) {
            wrapped.extend_from_slice(line);
            wrapped.extend_from_slice(brk);
        }
        let mut out = Vec::new();
        Base64Reader::new(Trickle { data: &wrapped, step }).read_to_end(&mut out).unwrap();
        prop_assert_eq!(out, data);
    }
}

#[test]
fn reader_refuses_what_is_not_base64() {
    for bad in [&b"QUJD\r\nR$VG\r\n"[..], b"QUJD\r\nRE=G\r\n", b"Q\r\n"] {
        let mut out = Vec::new();
        let err = Base64Reader::new(bad).read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{bad:?}");
    }
}

/// The canonicalisation oracle: CRLF stays, a bare CR or a bare LF becomes CRLF.
fn canon_oracle(data: &[u8]) -> Vec<u8> {
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
        let want = canon_oracle(&data);
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
            let want = canon_oracle(&data);
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
