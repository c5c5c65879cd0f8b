//! The streaming base64 encoder and decoder (SIMD, `base64-simd`) against an
//! independent oracle (the `base64` crate), whatever the sizes of the writes and reads.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_cms::mime::encode_base64_lines;
use mss_cms::stream::{Base64EncodeReader, Base64Reader, Base64Writer};
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
