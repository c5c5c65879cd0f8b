//! Private-key operations checked by OpenSSL: signatures it verifies, keys it
//! encrypted that we decrypt.

mod common;

use common::*;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::SignatureAlgorithm;
use mss_token::SoftwareIdentity;

fn identity(dir: &std::path::Path) -> SoftwareIdentity {
    openssl_ca_and_leaf(dir);
    SoftwareIdentity::from_pem(
        &format!(
            "{}{}",
            read_text(dir, "leaf.key"),
            read_text(dir, "leaf.pem")
        ),
        None,
    )
    .expect("identity")
}

#[test]
fn signatures_verify_with_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = identity(d);
    let message = b"Compte rendu d'hospitalisation";
    for (digest, name) in [
        (DigestAlgorithm::Sha1, "sha1"),
        (DigestAlgorithm::Sha256, "sha256"),
        (DigestAlgorithm::Sha384, "sha384"),
        (DigestAlgorithm::Sha512, "sha512"),
    ] {
        let h = digest.digest(message);
        std::fs::write(d.join("digest.bin"), &h).expect("write");
        for pss in [false, true] {
            let alg = if pss {
                SignatureAlgorithm::rsa_pss(digest)
            } else {
                SignatureAlgorithm::rsa_pkcs1v15(digest)
            };
            assert!(id.supports(&alg));
            let sig = id
                .sign_digest(&alg, &h)
                .unwrap_or_else(|e| panic!("sign {name} pss={pss}: {e}"));
            std::fs::write(d.join("sig.bin"), &sig).expect("write");
            let digest_opt = format!("digest:{name}");
            let mut args = vec![
                "pkeyutl",
                "-verify",
                "-certin",
                "-inkey",
                "leaf.pem",
                "-in",
                "digest.bin",
                "-sigfile",
                "sig.bin",
                "-pkeyopt",
                &digest_opt,
            ];
            let salt = format!("rsa_pss_saltlen:{}", digest.output_len());
            if pss {
                args.extend_from_slice(&["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", &salt]);
            }
            let out = openssl(d, &args);
            assert!(
                out.contains("Signature Verified Successfully"),
                "{name} pss={pss}: {out}"
            );
            // A signature over another digest must not verify (the check above can fail).
            let mut other = h.clone();
            other[0] ^= 1;
            std::fs::write(d.join("digest.bin"), &other).expect("write");
            let (ok, _) = openssl_status(d, &args);
            assert!(!ok, "tampered digest verified");
            std::fs::write(d.join("digest.bin"), &h).expect("write");
        }
    }
    // MD5 is the policy's call (LegacyPolicy produces it): the key computes it, and a
    // digest of the wrong length is refused.
    let md5 = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Md5);
    assert!(id.supports(&md5));
    let sig = id.sign_digest(&md5, &[0; 16]).expect("MD5 signature");
    let spki = id.certificate().tbs_certificate().subject_public_key_info();
    mss_algs::signature::verify_digest(spki, &md5, &[0; 16], &sig).expect("verifies");
    assert!(mss_algs::signature::verify_digest(spki, &md5, &[1; 16], &sig).is_err());
    assert!(id.sign_digest(&md5, &[0; 20]).is_err());
}

#[test]
fn decrypts_keys_openssl_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = identity(d);
    let cek: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    std::fs::write(d.join("cek.bin"), &cek).expect("write");
    let cases: [(KeyTransport, &[&str]); 3] = [
        (KeyTransport::RsaPkcs1v15, &[]),
        (
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha1,
            },
            &["-pkeyopt", "rsa_padding_mode:oaep"],
        ),
        (
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            },
            &[
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ],
        ),
    ];
    for (kt, opts) in cases {
        let mut args = vec![
            "pkeyutl", "-encrypt", "-certin", "-inkey", "leaf.pem", "-in", "cek.bin", "-out",
            "enc.bin",
        ];
        args.extend_from_slice(opts);
        openssl(d, &args);
        let enc = read(d, "enc.bin");
        let got = id
            .decrypt_key(&kt, &enc, Some(32))
            .unwrap_or_else(|e| panic!("{kt:?}: {e}"));
        assert_eq!(&got[..], &cek[..], "{kt:?}");
    }
}
