//! Content-cipher tests: known answers, OpenSSL cross-checks, failure modes, properties.

mod common;

use mss_algs::AlgError;
use mss_algs::cipher::{CipherParams, ContentCipher};
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("hex")
}

fn cbc(cipher: ContentCipher, iv: &[u8]) -> CipherParams {
    CipherParams {
        cipher,
        iv: iv.to_vec(),
        tag_len: 16,
    }
}

const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 \
                            30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

#[test]
fn aes_cbc_sp800_38a_vectors() {
    let iv = h("000102030405060708090a0b0c0d0e0f");
    let pt = h(SP800_38A_PT);
    let cases = [
        // F.2.1 CBC-AES128.Encrypt
        (
            ContentCipher::Aes128Cbc,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 \
             73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
        ),
        // F.2.3 CBC-AES192.Encrypt
        (
            ContentCipher::Aes192Cbc,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a \
             571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
        ),
        // F.2.5 CBC-AES256.Encrypt
        (
            ContentCipher::Aes256Cbc,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d \
             39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
        ),
    ];
    for (cipher, key, ct) in cases {
        let key = h(key);
        let p = cbc(cipher, &iv);
        let out = p.encrypt_cbc(&key, &pt).expect("encrypt");
        // PKCS#7 adds one full block of padding to block-aligned input.
        assert_eq!(out.len(), pt.len() + 16);
        assert_eq!(&out[..64], &h(ct)[..], "{cipher:?}");
        let back = p.decrypt_cbc(&key, &out).expect("decrypt");
        assert_eq!(&back[..], &pt[..]);
    }
}

#[test]
fn cbc_matches_openssl_including_3des() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pt = b"Messagerie Securisee de Sante: 3DES and AES-CBC cross-check with OpenSSL.";
    common::write(d, "pt.bin", pt);
    for (cipher, name) in [
        (ContentCipher::DesEde3Cbc, "des-ede3-cbc"),
        (ContentCipher::Aes128Cbc, "aes-128-cbc"),
        (ContentCipher::Aes192Cbc, "aes-192-cbc"),
        (ContentCipher::Aes256Cbc, "aes-256-cbc"),
    ] {
        let key: Vec<u8> = (0..cipher.key_len()).map(|i| (i * 7 + 1) as u8).collect();
        let iv: Vec<u8> = (0..cipher.iv_len()).map(|i| (0xa0 + i) as u8).collect();
        let ct = common::openssl(
            d,
            &[
                "enc",
                &format!("-{name}"),
                "-K",
                &hex::encode(&key),
                "-iv",
                &hex::encode(&iv),
                "-in",
                "pt.bin",
            ],
        );
        let p = cbc(cipher, &iv);
        assert_eq!(p.encrypt_cbc(&key, pt).expect("encrypt"), ct, "{name}");
        assert_eq!(&p.decrypt_cbc(&key, &ct).expect("decrypt")[..], &pt[..]);
        // And OpenSSL decrypts ours.
        common::write(d, "ct.bin", &p.encrypt_cbc(&key, b"x").expect("encrypt"));
        let back = common::openssl(
            d,
            &[
                "enc",
                "-d",
                &format!("-{name}"),
                "-K",
                &hex::encode(&key),
                "-iv",
                &hex::encode(&iv),
                "-in",
                "ct.bin",
            ],
        );
        assert_eq!(back, b"x");
    }
}

#[test]
fn des_ede3_cbc_round_trip() {
    let p = CipherParams::generate(ContentCipher::DesEde3Cbc).expect("params");
    assert_eq!(p.iv.len(), 8);
    let key = ContentCipher::DesEde3Cbc.generate_key().expect("key");
    assert_eq!(key.len(), 24);
    for n in [0usize, 1, 7, 8, 9, 100] {
        let pt = vec![0x5au8; n];
        let ct = p.encrypt_cbc(&key, &pt).expect("encrypt");
        assert_eq!(ct.len(), (n / 8 + 1) * 8);
        assert_eq!(&p.decrypt_cbc(&key, &ct).expect("decrypt")[..], &pt[..]);
    }
}

#[test]
fn cbc_bad_padding_and_lengths_fail_uniformly() {
    // RC4 is a stream cipher: no padding to check.
    for &cipher in ContentCipher::ALL
        .iter()
        .filter(|c| !c.is_aead() && **c != ContentCipher::Rc4)
    {
        let p = CipherParams::generate(cipher).expect("params");
        let key = cipher.generate_key().expect("key");
        let bs = cipher.iv_len();
        let pt = vec![0x11u8; bs * 2]; // block aligned: last block is all padding (bs, bs, …)
        let ct = p.encrypt_cbc(&key, &pt).expect("encrypt");
        // Flip the last byte of the second-to-last block: the pad byte becomes bs ^ 1
        // (> bs for 8 and 16), deterministically invalid.
        let mut bad = ct.clone();
        let i = bad.len() - bs - 1;
        bad[i] ^= 1;
        assert_eq!(p.decrypt_cbc(&key, &bad), Err(AlgError::DecryptionFailed));
        // Truncated (not a multiple of the block size), empty, wrong key length.
        assert_eq!(
            p.decrypt_cbc(&key, &ct[..ct.len() - 1]),
            Err(AlgError::DecryptionFailed)
        );
        assert_eq!(p.decrypt_cbc(&key, &[]), Err(AlgError::DecryptionFailed));
        // (RC2 takes keys of any length, so a shorter key is just a wrong key.)
        if !matches!(cipher, ContentCipher::Rc2Cbc { .. }) {
            assert_eq!(
                p.decrypt_cbc(&key[1..], &ct),
                Err(AlgError::DecryptionFailed)
            );
        }
        // Wrong IV length in params.
        let short_iv = CipherParams {
            iv: vec![0; 3],
            ..p.clone()
        };
        assert_eq!(
            short_iv.decrypt_cbc(&key, &ct),
            Err(AlgError::DecryptionFailed)
        );
        assert!(matches!(
            short_iv.encrypt_cbc(&key, &pt),
            Err(AlgError::InvalidParameters { .. })
        ));
        if !matches!(cipher, ContentCipher::Rc2Cbc { .. }) {
            assert!(matches!(
                p.encrypt_cbc(&key[1..], &pt),
                Err(AlgError::InvalidKey(_))
            ));
        }
        // CBC params refuse AEAD use.
        assert!(p.encrypt_aead(&key, b"", &pt).is_err());
        assert_eq!(
            p.decrypt_aead(&key, b"", &ct, &[0; 16]),
            Err(AlgError::DecryptionFailed)
        );
    }
}

/// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4 and 16.
#[test]
fn aes_gcm_known_answers() {
    let iv = h("cafebabefacedbaddecaf888");
    let p64 = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
    );
    let p60 = &p64[..60];
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let k128 = h("feffe9928665731c6d6a8f9467308308");
    let k256 = h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    type Case<'a> = (
        ContentCipher,
        &'a [u8],
        &'a [u8],
        &'a [u8],
        &'a str,
        &'a str,
    );
    let cases: [Case; 3] = [
        (
            ContentCipher::Aes128Gcm,
            &k128,
            &p64,
            b"",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
            "4d5c2af327cd64a62cf35abd2ba6fab4",
        ),
        (
            ContentCipher::Aes128Gcm,
            &k128,
            p60,
            &aad,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        ),
        (
            ContentCipher::Aes256Gcm,
            &k256,
            p60,
            &aad,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];
    for (cipher, key, pt, aad, ct, tag) in cases {
        let (ct, tag) = (h(ct), h(tag));
        for tag_len in 12..=16 {
            let p = CipherParams {
                cipher,
                iv: iv.clone(),
                tag_len,
            };
            let (c, t) = p.encrypt_aead(key, aad, pt).expect("encrypt");
            assert_eq!(c, ct);
            assert_eq!(t, tag[..tag_len], "tag_len {tag_len}");
            assert_eq!(&p.decrypt_aead(key, aad, &c, &t).expect("decrypt")[..], pt);
            // Wrong AAD, wrong tag length.
            assert_eq!(
                p.decrypt_aead(key, b"other", &c, &t),
                Err(AlgError::DecryptionFailed)
            );
            assert_eq!(
                p.decrypt_aead(key, aad, &c, &tag[..tag_len - 1]),
                Err(AlgError::DecryptionFailed)
            );
        }
    }
}

#[test]
fn gcm_refuses_unsupported_parameters() {
    let key = ContentCipher::Aes128Gcm.generate_key().expect("key");
    let mut p = CipherParams::generate(ContentCipher::Aes128Gcm).expect("params");
    assert_eq!((p.iv.len(), p.tag_len), (12, 16));
    p.tag_len = 8;
    assert!(matches!(
        p.encrypt_aead(&key, b"", b"x"),
        Err(AlgError::InvalidParameters { .. })
    ));
    assert!(matches!(
        p.to_algorithm_identifier(),
        Err(AlgError::InvalidParameters { .. })
    ));
    p.tag_len = 16;
    p.iv = vec![0; 16];
    assert!(matches!(
        p.encrypt_aead(&key, b"", b"x"),
        Err(AlgError::InvalidParameters { .. })
    ));
    // GCM params refuse CBC use.
    let p = CipherParams::generate(ContentCipher::Aes256Gcm).expect("params");
    assert!(p.encrypt_cbc(&[0; 32], b"x").is_err());
    assert_eq!(
        p.decrypt_cbc(&[0; 32], &[0; 16]),
        Err(AlgError::DecryptionFailed)
    );
}

#[test]
fn names_oids_and_algorithm_identifier_round_trips() {
    for &cipher in ContentCipher::ALL {
        assert_eq!(ContentCipher::from_name(cipher.name()), Ok(cipher));
        if let ContentCipher::Rc2Cbc { .. } = cipher {
            // The effective key bits live in the parameters, not the OID.
            assert_eq!(
                ContentCipher::from_oid(&cipher.oid()).map(|c| c.oid()),
                Ok(cipher.oid())
            );
        } else {
            assert_eq!(ContentCipher::from_oid(&cipher.oid()), Ok(cipher));
        }
        let p = CipherParams::generate(cipher).expect("params");
        assert_eq!(p.iv.len(), cipher.iv_len());
        let ai = p.to_algorithm_identifier().expect("encode");
        assert_eq!(ai.oid, cipher.oid());
        assert_eq!(
            CipherParams::from_algorithm_identifier(&ai).expect("decode"),
            p
        );
        assert_eq!(cipher.generate_key().expect("key").len(), cipher.key_len());
    }
    assert_eq!(
        ContentCipher::from_name("3des"),
        Ok(ContentCipher::DesEde3Cbc)
    );
    assert_eq!(
        ContentCipher::from_name("AES-256-CBC"),
        Ok(ContentCipher::Aes256Cbc)
    );
    assert_eq!(
        ContentCipher::from_name("rc2-40"),
        Ok(ContentCipher::Rc2Cbc { effective_bits: 40 })
    );
    assert_eq!(ContentCipher::from_name("des"), Ok(ContentCipher::DesCbc));
    assert!(ContentCipher::from_name("rc5").is_err());
    assert!(ContentCipher::Aes128Gcm.is_aead() && !ContentCipher::Aes128Cbc.is_aead());
    // Missing parameters are refused.
    let ai = spki::AlgorithmIdentifierOwned {
        oid: ContentCipher::Aes128Cbc.oid(),
        parameters: None,
    };
    assert!(matches!(
        CipherParams::from_algorithm_identifier(&ai),
        Err(AlgError::InvalidParameters { .. })
    ));
}

#[test]
fn algorithm_identifier_matches_openssl_cms_encoding() {
    // What `openssl cms -encrypt -aes-256-cbc` writes: AES-256-CBC with an OCTET STRING IV.
    use der::{Decode, Encode};
    let iv = [0x42u8; 16];
    let mut expected = h("301d060960864801650304012a0410");
    expected.extend_from_slice(&iv);
    let ai = cbc(ContentCipher::Aes256Cbc, &iv)
        .to_algorithm_identifier()
        .expect("encode");
    assert_eq!(ai.to_der().expect("der"), expected);
    let back = spki::AlgorithmIdentifierOwned::from_der(&expected).expect("decode");
    assert_eq!(
        CipherParams::from_algorithm_identifier(&back)
            .expect("params")
            .iv,
        iv
    );
    // GCM with aes-ICVlen absent means 12 (RFC 5084 DEFAULT).
    let mut gcm = h("301b060960864801650304012e300e040c");
    gcm.extend_from_slice(&[9u8; 12]);
    let back = spki::AlgorithmIdentifierOwned::from_der(&gcm).expect("decode");
    let p = CipherParams::from_algorithm_identifier(&back).expect("params");
    assert_eq!(
        (p.cipher, p.tag_len, p.iv),
        (ContentCipher::Aes256Gcm, 12, vec![9u8; 12])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cbc_round_trip(data in proptest::collection::vec(any::<u8>(), 0..300), which in 0usize..4) {
        let cipher = [ContentCipher::Aes128Cbc, ContentCipher::Aes192Cbc, ContentCipher::Aes256Cbc, ContentCipher::DesEde3Cbc][which];
        let p = CipherParams::generate(cipher).expect("params");
        let key = cipher.generate_key().expect("key");
        let ct = p.encrypt_cbc(&key, &data).expect("encrypt");
        prop_assert_eq!(&p.decrypt_cbc(&key, &ct).expect("decrypt")[..], &data[..]);
    }

    #[test]
    fn gcm_round_trip_and_tamper(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
        wide in any::<bool>(),
        pos in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let cipher = if wide { ContentCipher::Aes256Gcm } else { ContentCipher::Aes128Gcm };
        let p = CipherParams::generate(cipher).expect("params");
        let key = cipher.generate_key().expect("key");
        let (ct, tag) = p.encrypt_aead(&key, &aad, &data).expect("encrypt");
        prop_assert_eq!(&p.decrypt_aead(&key, &aad, &ct, &tag).expect("decrypt")[..], &data[..]);
        // Any single-byte change to ciphertext or tag must fail.
        let mut joined = ct.clone();
        joined.extend_from_slice(&tag);
        let i = pos.index(joined.len());
        joined[i] ^= flip;
        let (c2, t2) = joined.split_at(ct.len());
        prop_assert_eq!(p.decrypt_aead(&key, &aad, c2, t2), Err(AlgError::DecryptionFailed));
    }
}
