//! The historic 2001 algorithms: DES, RC2, RC4 content ciphers, AES / 3DES / RC2 key
//! wrap, the RFC 2631 KDF. Known answers from the RFCs, OpenSSL cross-checks (with its
//! legacy provider: these tests FAIL if it is missing), RFC 4134 example 5.2, properties.

mod common;

use std::path::PathBuf;

use der::{Decode, Encode};
use mss_algs::AlgError;
use mss_algs::cipher::{CipherParams, ContentCipher};
use mss_algs::digest::DigestAlgorithm;
use mss_algs::key_agreement::rfc2631_kdf;
use mss_algs::key_wrap::KeyWrapAlgorithm;
use mss_algs::oid;
use mss_algs::rsa::KeyTransport;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("hex")
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn params(cipher: ContentCipher, iv: &[u8]) -> CipherParams {
    CipherParams {
        cipher,
        iv: iv.to_vec(),
        tag_len: 16,
    }
}

#[test]
fn rc2_rfc2268_vectors() {
    // RFC 2268 §5: (key, effective bits, plaintext, ciphertext). With a zero IV the
    // first CBC block is the ECB block of the RFC.
    let cases = [
        (
            "0000000000000000",
            63,
            "0000000000000000",
            "ebb773f993278eff",
        ),
        (
            "ffffffffffffffff",
            64,
            "ffffffffffffffff",
            "278b27e42e2f0d49",
        ),
        (
            "3000000000000000",
            64,
            "1000000000000001",
            "30649edf9be7d2c2",
        ),
        ("88", 64, "0000000000000000", "61a8a244adacccf0"),
        ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
        (
            "88bca90e90875a7f0f79c384627bafb2",
            64,
            "0000000000000000",
            "1a807d272bbe5db1",
        ),
        (
            "88bca90e90875a7f0f79c384627bafb2",
            128,
            "0000000000000000",
            "2269552ab0f85ca6",
        ),
        (
            "88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e",
            129,
            "0000000000000000",
            "5b78d3a43dfff1f1",
        ),
    ];
    for (key, bits, pt, ct) in cases {
        let p = params(
            ContentCipher::Rc2Cbc {
                effective_bits: bits,
            },
            &[0; 8],
        );
        let out = p.encrypt_cbc(&h(key), &h(pt)).expect("encrypt");
        assert_eq!(hex::encode(&out[..8]), ct, "key {key} bits {bits}");
        assert_eq!(
            &p.decrypt_cbc(&h(key), &out).expect("decrypt")[..],
            &h(pt)[..]
        );
    }
}

#[test]
fn rc4_known_vectors() {
    // The classic published RC4 test vectors.
    for (key, pt, ct) in [
        (&b"Key"[..], &b"Plaintext"[..], "bbf316e8d940af0ad3"),
        (b"Wiki", b"pedia", "1021bf0420"),
        (b"Secret", b"Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ] {
        let p = params(ContentCipher::Rc4, &[]);
        assert_eq!(hex::encode(p.encrypt_cbc(key, pt).expect("rc4")), ct);
        assert_eq!(&p.decrypt_cbc(key, &h(ct)).expect("rc4")[..], pt);
    }
}

#[test]
fn historic_ciphers_match_openssl_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pt = b"Messagerie Securisee de Sante: the 2001 ciphers, cross-checked with OpenSSL.";
    common::write(d, "pt.bin", pt);
    for (cipher, name) in [
        (ContentCipher::DesCbc, "des-cbc"),
        (ContentCipher::Rc2Cbc { effective_bits: 40 }, "rc2-40-cbc"),
        (ContentCipher::Rc2Cbc { effective_bits: 64 }, "rc2-64-cbc"),
        (
            ContentCipher::Rc2Cbc {
                effective_bits: 128,
            },
            "rc2-cbc",
        ),
        (ContentCipher::Rc4, "rc4"),
    ] {
        let key: Vec<u8> = (0..cipher.key_len()).map(|i| (i * 11 + 3) as u8).collect();
        let iv: Vec<u8> = (0..cipher.iv_len()).map(|i| (0x50 + i) as u8).collect();
        let mut args = vec![
            "enc".to_owned(),
            "-provider".into(),
            "legacy".into(),
            "-provider".into(),
            "default".into(),
            format!("-{name}"),
            "-K".into(),
            hex::encode(&key),
        ];
        if !iv.is_empty() {
            args.extend(["-iv".to_owned(), hex::encode(&iv)]);
        }
        let mut enc = args.clone();
        enc.extend(["-in".to_owned(), "pt.bin".into()]);
        let enc: Vec<&str> = enc.iter().map(String::as_str).collect();
        let ct = common::openssl(d, &enc);
        let p = params(cipher, &iv);
        assert_eq!(p.encrypt_cbc(&key, pt).expect("encrypt"), ct, "{name}");
        assert_eq!(
            &p.decrypt_cbc(&key, &ct).expect("decrypt")[..],
            &pt[..],
            "{name}"
        );
        // OpenSSL decrypts ours.
        let ours = p.encrypt_cbc(&key, b"mss -> openssl").expect("encrypt");
        common::write(d, "ct.bin", &ours);
        let mut dec = args.clone();
        dec.extend(["-d".to_owned(), "-in".into(), "ct.bin".into()]);
        let dec: Vec<&str> = dec.iter().map(String::as_str).collect();
        assert_eq!(common::openssl(d, &dec), b"mss -> openssl", "{name}");
    }
}

#[test]
fn rc2_and_rc4_parameters() {
    // RC2CBCParameter with the RFC 2268 versions, as OpenSSL writes them (see `openssl
    // cms -encrypt -rc2-40`: INTEGER 160).
    for (bits, version) in [(40u16, 160u32), (64, 120), (128, 58), (56, 52)] {
        let p = params(
            ContentCipher::Rc2Cbc {
                effective_bits: bits,
            },
            &[9; 8],
        );
        let ai = p.to_algorithm_identifier().expect("encode");
        assert_eq!(ai.oid, oid::RC2_CBC);
        let der = ai
            .parameters
            .as_ref()
            .expect("params")
            .to_der()
            .expect("der");
        let mut want = der::asn1::Uint::new(&version.to_be_bytes())
            .expect("uint")
            .to_der()
            .expect("der");
        want.extend(
            der::asn1::OctetString::new([9u8; 8])
                .expect("os")
                .to_der()
                .expect("der"),
        );
        assert_eq!(&der[2..], &want[..], "{bits}");
        assert_eq!(CipherParams::from_algorithm_identifier(&ai), Ok(p));
    }
    // The bare-IV form (RFC 2268 §6) means 32 effective bits, and is written back so.
    let bare = spki::AlgorithmIdentifierOwned {
        oid: oid::RC2_CBC,
        parameters: Some(
            der::asn1::Any::encode_from(&der::asn1::OctetString::new([1u8; 8]).expect("os"))
                .expect("any"),
        ),
    };
    let p = CipherParams::from_algorithm_identifier(&bare).expect("bare IV");
    assert_eq!(p.cipher, ContentCipher::Rc2Cbc { effective_bits: 32 });
    assert_eq!(p.cipher.key_len(), 4);
    assert_eq!(p.to_algorithm_identifier().expect("encode"), bare);
    // Unknown versions are refused, not guessed.
    let odd = spki::AlgorithmIdentifierOwned {
        oid: oid::RC2_CBC,
        parameters: Some(
            der::asn1::Any::from_der(&h("300d020107 0408 0101010101010101")).expect("any"),
        ),
    };
    assert!(matches!(
        CipherParams::from_algorithm_identifier(&odd),
        Err(AlgError::InvalidParameters { .. })
    ));
    // RC4: OpenSSL writes an empty OCTET STRING; absent and NULL are accepted too.
    let p = CipherParams::generate(ContentCipher::Rc4).expect("rc4");
    let ai = p.to_algorithm_identifier().expect("encode");
    assert_eq!(
        ai.parameters
            .as_ref()
            .expect("params")
            .to_der()
            .expect("der"),
        [4, 0]
    );
    for parameters in [None, Some(der::asn1::Any::null())] {
        let ai = spki::AlgorithmIdentifierOwned {
            oid: oid::RC4,
            parameters,
        };
        assert_eq!(CipherParams::from_algorithm_identifier(&ai), Ok(p.clone()));
    }
    let with_iv = spki::AlgorithmIdentifierOwned {
        oid: oid::RC4,
        parameters: Some(
            der::asn1::Any::encode_from(&der::asn1::OctetString::new([1u8; 8]).expect("os"))
                .expect("any"),
        ),
    };
    assert!(CipherParams::from_algorithm_identifier(&with_iv).is_err());
}

#[test]
fn openssl_cms_rc2_and_rc4_parameters_parse() {
    // What `openssl cms -encrypt` writes for each historic cipher parses to the right
    // cipher (effective bits from the RC2 version).
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    common::openssl(
        d,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
            "-subj", "/CN=mss", "-days", "2",
        ],
    );
    common::write(d, "m.txt", b"hello");
    for (flag, want) in [
        ("-des", ContentCipher::DesCbc),
        ("-rc2-40", ContentCipher::Rc2Cbc { effective_bits: 40 }),
        ("-rc2-64", ContentCipher::Rc2Cbc { effective_bits: 64 }),
        (
            "-rc2",
            ContentCipher::Rc2Cbc {
                effective_bits: 128,
            },
        ),
        ("-rc4", ContentCipher::Rc4),
    ] {
        let der = common::openssl(
            d,
            &[
                "cms",
                "-encrypt",
                "-provider",
                "legacy",
                "-provider",
                "default",
                flag,
                "-in",
                "m.txt",
                "-outform",
                "DER",
                "c.pem",
            ],
        );
        let ci = cms::content_info::ContentInfo::from_der(&der).expect("ContentInfo");
        let ed: cms::enveloped_data::EnvelopedData = ci.content.decode_as().expect("env");
        let p = CipherParams::from_algorithm_identifier(&ed.encrypted_content.content_enc_alg)
            .expect("params");
        assert_eq!(p.cipher, want, "{flag}");
        assert_eq!(
            p.cipher.key_len(),
            if want == ContentCipher::DesCbc {
                8
            } else {
                match want {
                    ContentCipher::Rc2Cbc { effective_bits: 40 } => 5,
                    ContentCipher::Rc2Cbc { effective_bits: 64 } => 8,
                    _ => 16,
                }
            }
        );
    }
}

#[test]
fn rfc4134_5_2_rc2_128_with_bobs_rsa_key() {
    let v = vectors().join("rfc4134");
    let der = std::fs::read(v.join("5.2.bin")).expect("5.2.bin");
    let content = std::fs::read(v.join("ExContent.bin")).expect("ExContent.bin");
    let bob = std::fs::read(v.join("BobPrivRSAEncrypt.pri")).expect("bob key");
    let bob = mss_algs::keys::SoftwarePrivateKey::from_pkcs8_der(&bob).expect("bob");
    let ci = cms::content_info::ContentInfo::from_der(&der).expect("ContentInfo");
    let ed: cms::enveloped_data::EnvelopedData = ci.content.decode_as().expect("env");
    let ri = ed.recip_infos.0.iter().next().expect("one recipient");
    let cms::enveloped_data::RecipientInfo::Ktri(ktri) = ri else {
        panic!("expected KeyTransRecipientInfo");
    };
    let kt = KeyTransport::from_algorithm_identifier(&ktri.key_enc_alg).expect("kt");
    let cek = mss_algs::rsa::decrypt_key(
        bob.as_rsa().expect("rsa"),
        &kt,
        ktri.enc_key.as_bytes(),
        None,
    )
    .expect("cek");
    let p = CipherParams::from_algorithm_identifier(&ed.encrypted_content.content_enc_alg)
        .expect("RC2 parameters");
    // The section title says RC2/128; its text and the message say RC2/40 (version
    // 160, a 5-byte key): the effective bits come from the parameters.
    assert_eq!(p.cipher, ContentCipher::Rc2Cbc { effective_bits: 40 });
    assert_eq!(cek.len(), p.cipher.key_len());
    let ct = ed.encrypted_content.encrypted_content.expect("content");
    assert_eq!(
        &p.decrypt_cbc(&cek, ct.as_bytes()).expect("decrypt")[..],
        &content[..]
    );
}

#[test]
fn aes_key_wrap_rfc3394_vectors() {
    let kd128 = "00112233445566778899AABBCCDDEEFF";
    let kd256 = "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F";
    let kek128 = "000102030405060708090A0B0C0D0E0F";
    let kek192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
    let kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    let cases = [
        // §4.1, §4.2, §4.3, §4.6
        (
            KeyWrapAlgorithm::Aes128,
            kek128,
            kd128,
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
        ),
        (
            KeyWrapAlgorithm::Aes192,
            kek192,
            kd128,
            "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
        ),
        (
            KeyWrapAlgorithm::Aes256,
            kek256,
            kd128,
            "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
        ),
        (
            KeyWrapAlgorithm::Aes256,
            kek256,
            kd256,
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
        ),
    ];
    for (w, kek, data, want) in cases {
        let wrapped = w.wrap(&h(kek), &h(data)).expect("wrap");
        assert_eq!(hex::encode_upper(&wrapped), want);
        assert_eq!(
            &w.unwrap(&h(kek), &wrapped).expect("unwrap")[..],
            &h(data)[..]
        );
        let mut bad = wrapped.clone();
        bad[0] ^= 0x80;
        assert_eq!(w.unwrap(&h(kek), &bad), Err(AlgError::DecryptionFailed));
    }
}

#[test]
fn rfc2631_kdf_vectors() {
    // RFC 2631 §2.1.6.
    let zz = h("000102030405060708090a0b0c0d0e0f10111213");
    let kek = rfc2631_kdf(&zz, &oid::ID_ALG_CMS3DES_WRAP, 192, None).expect("kdf");
    assert_eq!(
        hex::encode(&kek[..]),
        "a09661392376f7044d9052a397883246b67f5f1ef63eb5fb"
    );
    let party_a = h(
        "0123456789abcdeffedcba9876543201 0123456789abcdeffedcba9876543201 \
                     0123456789abcdeffedcba9876543201 0123456789abcdeffedcba9876543201",
    );
    let kek = rfc2631_kdf(&zz, &oid::ID_ALG_CMSRC2_WRAP, 128, Some(&party_a)).expect("kdf");
    assert_eq!(hex::encode(&kek[..]), "48950c46e0530075403cce72889604e0");
}

#[test]
fn historic_key_wraps_round_trip_and_detect_corruption() {
    let kek3 = (1..=24u8).collect::<Vec<_>>();
    let cek3 = (100..124u8).collect::<Vec<_>>();
    let w = KeyWrapAlgorithm::TripleDes;
    let wrapped = w.wrap(&kek3, &cek3).expect("wrap");
    assert_eq!(wrapped.len(), 40);
    let back = w.unwrap(&kek3, &wrapped).expect("unwrap");
    // The unwrapped key is the CEK with DES odd parity set (RFC 3217 §3.1 step 1).
    for (a, b) in back.iter().zip(&cek3) {
        assert_eq!(a & 0xfe, b & 0xfe);
        assert_eq!(a.count_ones() % 2, 1);
    }
    // Two wraps of the same key differ (random IV) and both unwrap.
    let again = w.wrap(&kek3, &cek3).expect("wrap");
    assert_ne!(again, wrapped);
    assert_eq!(w.unwrap(&kek3, &again).expect("unwrap"), back);
    for i in [0usize, 17, 39] {
        let mut bad = wrapped.clone();
        bad[i] ^= 1;
        assert_eq!(
            w.unwrap(&kek3, &bad),
            Err(AlgError::DecryptionFailed),
            "byte {i}"
        );
    }
    assert_eq!(
        w.unwrap(&kek3, &wrapped[..32]),
        Err(AlgError::DecryptionFailed)
    );
    assert!(matches!(
        w.wrap(&kek3, &cek3[..16]),
        Err(AlgError::InvalidKey(_))
    ));
    assert!(matches!(
        w.wrap(&kek3[..16], &cek3),
        Err(AlgError::InvalidKey(_))
    ));

    let rc2 = KeyWrapAlgorithm::Rc2 {
        effective_bits: 128,
    };
    let kek = [7u8; 16];
    for len in [5usize, 7, 8, 16, 24, 32] {
        let cek: Vec<u8> = (0..len as u8).collect();
        let wrapped = rc2.wrap(&kek, &cek).expect("wrap");
        assert_eq!(wrapped.len() % 8, 0);
        assert_eq!(&rc2.unwrap(&kek, &wrapped).expect("unwrap")[..], &cek[..]);
        let mut bad = wrapped.clone();
        bad[wrapped.len() / 2] ^= 4;
        assert_eq!(rc2.unwrap(&kek, &bad), Err(AlgError::DecryptionFailed));
        assert_eq!(
            rc2.unwrap(&[8u8; 16], &wrapped),
            Err(AlgError::DecryptionFailed)
        );
    }
}

#[test]
fn key_wrap_for_content_ciphers() {
    assert_eq!(
        KeyWrapAlgorithm::for_content_cipher(ContentCipher::DesEde3Cbc),
        KeyWrapAlgorithm::TripleDes
    );
    assert_eq!(
        KeyWrapAlgorithm::for_content_cipher(ContentCipher::Aes256Gcm),
        KeyWrapAlgorithm::Aes256
    );
    assert!(matches!(
        KeyWrapAlgorithm::for_content_cipher(ContentCipher::Rc4),
        KeyWrapAlgorithm::Rc2 { .. }
    ));
    assert_eq!(DigestAlgorithm::Md2.output_len(), 16);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn historic_ciphers_round_trip(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        which in 0usize..5,
        seed in any::<u8>(),
    ) {
        let cipher = [
            ContentCipher::DesCbc,
            ContentCipher::Rc2Cbc { effective_bits: 40 },
            ContentCipher::Rc2Cbc { effective_bits: 64 },
            ContentCipher::Rc2Cbc { effective_bits: 128 },
            ContentCipher::Rc4,
        ][which];
        let p = CipherParams::generate(cipher).expect("params");
        let key: Vec<u8> = (0..cipher.key_len()).map(|i| seed.wrapping_add(i as u8)).collect();
        let ct = p.encrypt_cbc(&key, &data).expect("encrypt");
        let back = p.decrypt_cbc(&key, &ct).expect("decrypt");
        prop_assert_eq!(&back[..], &data[..]);
        let ai = p.to_algorithm_identifier().expect("encode");
        prop_assert_eq!(CipherParams::from_algorithm_identifier(&ai).expect("decode"), p);
    }

    #[test]
    fn key_wraps_round_trip(
        seed in any::<u8>(),
        blocks in 2usize..6,
        which in 0usize..5,
        flip in any::<usize>(),
    ) {
        let w = KeyWrapAlgorithm::ALL[which];
        let kek: Vec<u8> = (0..w.kek_len()).map(|i| seed.wrapping_mul(31).wrapping_add(i as u8)).collect();
        let len = if w == KeyWrapAlgorithm::TripleDes { 24 } else { blocks * 8 };
        let cek: Vec<u8> = (0..len).map(|i| seed ^ (i as u8)).collect();
        let wrapped = w.wrap(&kek, &cek).expect("wrap");
        let back = w.unwrap(&kek, &wrapped).expect("unwrap");
        if w == KeyWrapAlgorithm::TripleDes {
            prop_assert!(back.iter().zip(&cek).all(|(a, b)| a & 0xfe == b & 0xfe));
        } else {
            prop_assert_eq!(&back[..], &cek[..]);
        }
        let mut bad = wrapped.clone();
        let i = flip % bad.len();
        bad[i] ^= 1 << (flip % 8);
        prop_assert_eq!(w.unwrap(&kek, &bad), Err(AlgError::DecryptionFailed));
    }
}
