//! `ber::normalize` at scale and on hostile shapes: a 50 MB segmented, indefinite-length
//! eContent normalises in linear time, and floods of tiny segments or elements do not
//! amplify memory.

use std::time::Instant;

use mss_cms::ber;
use mss_cms::content::{ContentInfo, ContentType};
use mss_cms::signed;

const ID_DATA: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A BER SignedData (no signer) whose eContent is `content`, as a constructed,
/// indefinite-length OCTET STRING of `segment`-byte pieces.
fn big_signed_data(content: &[u8], segment: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / segment * 4 + 64);
    out.extend_from_slice(&[0x30, 0x80]); // ContentInfo
    out.extend_from_slice(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ]);
    out.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80]); // [0] SignedData
    out.extend_from_slice(&[0x02, 0x01, 0x01, 0x31, 0x00]); // version 1, digestAlgorithms {}
    out.extend_from_slice(&[0x30, 0x80]); // EncapsulatedContentInfo
    out.extend_from_slice(&ID_DATA);
    out.extend_from_slice(&[0xa0, 0x80, 0x24, 0x80]);
    for chunk in content.chunks(segment) {
        out.push(0x04);
        push_len(&mut out, chunk.len());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // OCTET STRING, [0], eContentInfo
    out.extend_from_slice(&[0x31, 0x00]); // signerInfos {}
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // SignedData, [0], ContentInfo
    out
}

#[test]
fn fifty_megabytes_of_segmented_econtent() {
    let pattern: Vec<u8> = (0..=250u8).collect();
    let content = pattern.repeat(50 * 1024 * 1024 / pattern.len());
    let input = big_signed_data(&content, 1000);
    let start = Instant::now();
    let ci = ContentInfo::from_ber(&input).expect("ContentInfo");
    assert_eq!(ci.kind(), ContentType::SignedData);
    let sd = signed::parse(&ci.content).expect("SignedData");
    let elapsed = start.elapsed();
    assert_eq!(sd.content.as_deref(), Some(content.as_slice()));
    assert!(sd.signers.is_empty());
    eprintln!("50 MB BER eContent: normalised and parsed in {elapsed:?}");
}

#[test]
fn segment_size_does_not_change_the_cost_class() {
    // 2 MB in 1-byte segments (3 bytes of BER per content byte): linear, not quadratic.
    let pattern: Vec<u8> = (0..13u8).collect();
    let content = pattern.repeat(2 * 1024 * 1024 / pattern.len());
    let input = big_signed_data(&content, 1);
    let ci = ContentInfo::from_ber(&input).expect("ContentInfo");
    let sd = signed::parse(&ci.content).expect("SignedData");
    assert_eq!(sd.content.as_deref(), Some(content.as_slice()));
}

#[test]
fn flood_of_empty_segments_and_elements() {
    // 1 M empty OCTET STRING segments: the result is an empty string.
    let mut input = vec![0x24, 0x80];
    for _ in 0..1_000_000 {
        input.extend_from_slice(&[0x04, 0x00]);
    }
    input.extend_from_slice(&[0, 0]);
    assert_eq!(ber::normalize(&input).expect("normalise"), vec![0x04, 0x00]);
    // 1 M NULLs in an indefinite SEQUENCE: normalised to the same bytes, definite.
    let mut input = vec![0x30, 0x80];
    for _ in 0..1_000_000 {
        input.extend_from_slice(&[0x05, 0x00]);
    }
    input.extend_from_slice(&[0, 0]);
    let out = ber::normalize(&input).expect("normalise");
    assert_eq!(out.len(), 2_000_000 + 5);
    assert_eq!(&out[..5], &[0x30, 0x83, 0x1e, 0x84, 0x80]);
}

#[test]
fn hostile_lengths_and_shapes_are_errors() {
    let cases: &[&[u8]] = &[
        &[],
        &[0x30],
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], // length past the end
        &[0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0], // 9 length octets
        &[0x04, 0x80, 0x00, 0x00],             // indefinite primitive
        &[0x24, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00], // foreign segment
        &[0x30, 0x80, 0x05, 0x00],             // no end-of-contents
        &[0x30, 0x04, 0x05, 0x00, 0x00, 0x00], // EOC in definite
        &[0x30, 0x80, 0x00, 0x01, 0x00],       // EOC with a length
        &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00], // tag number overflow
        &[0x05, 0x00, 0x01],                   // trailing data
    ];
    for (i, c) in cases.iter().enumerate() {
        assert!(ber::normalize(c).is_err(), "case {i}: {c:02x?}");
        assert!(ContentInfo::from_ber(c).is_err(), "case {i}");
    }
    // Nesting beyond the limit.
    let mut deep = [0x30, 0x80].repeat(ber::MAX_DEPTH + 2);
    deep.extend(vec![0u8; 2 * (ber::MAX_DEPTH + 2)]);
    assert!(ber::normalize(&deep).is_err());
}
