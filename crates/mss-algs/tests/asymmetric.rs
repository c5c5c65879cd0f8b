//! DSA, ECDSA, Ed25519 signatures and ESDH / ECDH / X25519 key agreement: the RFC 4134
//! and RFC 9216 keys and messages, OpenSSL cross-checks in both directions (these tests
//! FAIL when `openssl` is missing), and round trips.

mod common;

use std::path::{Path, PathBuf};

use der::{Decode, DecodePem, Encode};
use mss_algs::AlgError;
use mss_algs::cipher::CipherParams;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::key_agreement::{self, KeyAgreementAlgorithm, KeyAgreementScheme};
use mss_algs::key_wrap::KeyWrapAlgorithm;
use mss_algs::keys::{KeyKind, SoftwarePrivateKey};
use mss_algs::oid;
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{
    SignatureAlgorithm, SignatureScheme, public_key_bits, public_key_bits_with_params,
    verify_digest, verify_digest_with_params, verify_message,
};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn rfc4134(name: &str) -> Vec<u8> {
    std::fs::read(vectors().join("rfc4134").join(name)).expect(name)
}

fn cert_spki(name: &str) -> SubjectPublicKeyInfoOwned {
    let cert = Certificate::from_der(&rfc4134(name)).expect(name);
    cert.tbs_certificate().subject_public_key_info().clone()
}

fn openssl_key(d: &Path, name: &str, genpkey: &[&str]) -> SoftwarePrivateKey {
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", name]);
    common::openssl(d, &args);
    let der = common::openssl(
        d,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", name, "-outform", "DER",
        ],
    );
    SoftwarePrivateKey::from_pkcs8_der(&der).expect(name)
}

fn write_spki(d: &Path, name: &str, spki: &SubjectPublicKeyInfoOwned) {
    common::write(d, name, &spki.to_der().expect("spki der"));
}

#[test]
fn rfc4134_private_keys_load() {
    for (name, kind) in [
        ("AlicePrivDSSSign.pri", KeyKind::Dsa),
        ("CarlPrivDSSSign.pri", KeyKind::Dsa),
        ("DianePrivDSSSign.pri", KeyKind::Dsa),
        ("AlicePrivRSASign.pri", KeyKind::Rsa),
        ("BobPrivRSAEncrypt.pri", KeyKind::Rsa),
        ("CarlPrivRSASign.pri", KeyKind::Rsa),
        ("DianePrivRSASignEncrypt.pri", KeyKind::Rsa),
    ] {
        let k = SoftwarePrivateKey::from_pkcs8_der(&rfc4134(name)).expect(name);
        assert_eq!(k.kind(), kind, "{name}");
        assert_eq!(k.key_bits(), 1024, "{name}");
        assert!(
            !format!("{k:?}").contains("x:"),
            "Debug must not show the key"
        );
    }
    assert!(SoftwarePrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").is_err());
}

#[test]
fn rfc4134_dsa_keys_sign_and_inherit_parameters() {
    let msg = b"This is some sample content.";
    let alg = SignatureAlgorithm::dsa(DigestAlgorithm::Sha1);
    // Alice's certificate carries its DSA parameters.
    let alice =
        SoftwarePrivateKey::from_pkcs8_der(&rfc4134("AlicePrivDSSSign.pri")).expect("alice");
    let alice_spki = cert_spki("AliceDSSSignByCarlNoInherit.cer");
    assert_eq!(
        alice.public_key_info().expect("spki").subject_public_key,
        alice_spki.subject_public_key
    );
    let sig = alice.sign_message(&alg, msg).expect("sign");
    verify_message(&alice_spki, None, &alg, msg, &sig).expect("verify");
    assert_eq!(
        verify_message(&alice_spki, None, &alg, b"other content", &sig),
        Err(AlgError::BadSignature)
    );
    assert_eq!(public_key_bits(&alice_spki), Ok(1024));

    // Diane's certificate omits them: they come from Carl's (RFC 3279 §2.3.2).
    let diane =
        SoftwarePrivateKey::from_pkcs8_der(&rfc4134("DianePrivDSSSign.pri")).expect("diane");
    let diane_spki = cert_spki("DianeDSSSignByCarlInherit.cer");
    assert!(diane_spki.algorithm.parameters.is_none());
    let carl_params = cert_spki("CarlDSSSelf.cer")
        .algorithm
        .parameters
        .expect("carl params");
    let digest = DigestAlgorithm::Sha1.digest(msg);
    let sig = diane.sign_digest(&alg, &digest).expect("sign");
    verify_digest_with_params(&diane_spki, Some(&carl_params), &alg, &digest, &sig)
        .expect("verify");
    assert!(matches!(
        verify_digest(&diane_spki, &alg, &digest, &sig),
        Err(AlgError::InvalidKey(_))
    ));
    assert!(public_key_bits(&diane_spki).is_err());
    assert_eq!(
        public_key_bits_with_params(&diane_spki, Some(&carl_params)),
        Ok(1024)
    );
    // Wrong parameters (Alice's, a different group): the signature does not verify.
    let alice_params = alice_spki
        .algorithm
        .parameters
        .clone()
        .expect("alice params");
    assert!(
        verify_digest_with_params(&diane_spki, Some(&alice_params), &alg, &digest, &sig).is_err()
    );
}

#[test]
fn rfc9216_keys_load() {
    let dir = vectors().join("rfc9216-examples-cms/certs-and-keys");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).expect(n);
    let carlos = SoftwarePrivateKey::from_pkcs8_pem(&read("lamps-carlos.p8.pem")).expect("carlos");
    assert_eq!(carlos.kind(), KeyKind::Ed25519);
    let cert = Certificate::from_pem(read("lamps-carlos.crt").as_bytes()).expect("cert");
    assert_eq!(
        &carlos.public_key_info().expect("spki"),
        cert.tbs_certificate().subject_public_key_info()
    );
    let dana =
        SoftwarePrivateKey::from_pkcs8_pem(&read("lamps-dana.decrypt.p8.pem")).expect("dana");
    assert_eq!(dana.kind(), KeyKind::X25519);
    let cert = Certificate::from_pem(read("lamps-dana.encrypt.crt").as_bytes()).expect("cert");
    assert_eq!(
        &dana.public_key_info().expect("spki"),
        cert.tbs_certificate().subject_public_key_info()
    );
    assert_eq!(
        SoftwarePrivateKey::from_pkcs8_pem(&read("lamps-alice.p8.pem"))
            .expect("alice")
            .kind(),
        KeyKind::Rsa
    );
}

/// Both KeyAgreeRecipientInfo examples of RFC 9216 addressed to Dana (X25519): with the
/// X9.63 SHA-256 KDF (the CEK must equal the one Bob gets through RSA-OAEP) and with
/// HKDF-SHA-256 (the AES-GCM tag must verify).
#[test]
fn rfc9216_x25519_key_agreement_vectors() {
    let base = vectors().join("rfc9216-examples-cms");
    let read = |n: &str| std::fs::read(base.join(n)).expect(n);
    let dana = SoftwarePrivateKey::from_pkcs8_pem(
        &String::from_utf8(read("certs-and-keys/lamps-dana.decrypt.p8.pem")).expect("utf8"),
    )
    .expect("dana");
    let bob = SoftwarePrivateKey::from_pkcs8_pem(
        &String::from_utf8(read("certs-and-keys/lamps-bob.decrypt.p8.pem")).expect("utf8"),
    )
    .expect("bob");
    let kari_cek = |ris: &cms::enveloped_data::RecipientInfos| {
        for ri in ris.0.iter() {
            if let cms::enveloped_data::RecipientInfo::Kari(kari) = ri {
                let cms::enveloped_data::OriginatorIdentifierOrKey::OriginatorKey(ok) =
                    &kari.originator
                else {
                    panic!("originator key expected");
                };
                let originator = SubjectPublicKeyInfoOwned {
                    algorithm: ok.algorithm.clone(),
                    subject_public_key: ok.public_key.clone(),
                };
                let alg = KeyAgreementAlgorithm::from_algorithm_identifier(&kari.key_enc_alg)
                    .expect("kari alg");
                let ukm = kari.ukm.as_ref().map(|u| u.as_bytes().to_vec());
                let kek = key_agreement::recipient_kek(&dana, &originator, &alg, ukm.as_deref())
                    .expect("kek");
                let rek = kari.recipient_enc_keys.first().expect("rek");
                return (
                    alg,
                    alg.unwrap(&kek, rek.enc_key.as_bytes()).expect("unwrap"),
                );
            }
        }
        panic!("no KeyAgreeRecipientInfo");
    };

    // X9.63 KDF with SHA-256, AES-128 wrap.
    let ci =
        cms::content_info::ContentInfo::from_der(&read("binary-files/encryptedForBobAndDana.p7m"))
            .expect("ci");
    let ed: cms::enveloped_data::EnvelopedData = ci.content.decode_as().expect("env");
    let (alg, cek_dana) = kari_cek(&ed.recip_infos);
    assert_eq!(
        alg,
        KeyAgreementAlgorithm {
            scheme: KeyAgreementScheme::EcdhX963 {
                kdf: DigestAlgorithm::Sha256
            },
            wrap: KeyWrapAlgorithm::Aes128,
        }
    );
    let ktri = ed
        .recip_infos
        .0
        .iter()
        .find_map(|ri| match ri {
            cms::enveloped_data::RecipientInfo::Ktri(k) => Some(k),
            _ => None,
        })
        .expect("ktri");
    let kt = KeyTransport::from_algorithm_identifier(&ktri.key_enc_alg).expect("kt");
    let cek_bob = mss_algs::rsa::decrypt_key(
        bob.as_rsa().expect("rsa"),
        &kt,
        ktri.enc_key.as_bytes(),
        None,
    )
    .expect("bob cek");
    assert_eq!(cek_dana, cek_bob);
    let p =
        CipherParams::from_algorithm_identifier(&ed.encrypted_content.content_enc_alg).expect("p");
    let ct = ed.encrypted_content.encrypted_content.expect("ct");
    let pt = p.decrypt_cbc(&cek_dana, ct.as_bytes()).expect("content");
    assert!(!pt.is_empty());

    // HKDF-SHA-256, AES-GCM content.
    let ci = cms::content_info::ContentInfo::from_der(&read(
        "binary-files/authEnvelopedForDanaX25519HKDF.p7m",
    ))
    .expect("ci");
    let ad: cms::authenveloped_data::AuthEnvelopedData = ci.content.decode_as().expect("auth");
    let (alg, cek) = kari_cek(&ad.recip_infos);
    assert!(matches!(
        alg.scheme,
        KeyAgreementScheme::EcdhHkdf {
            kdf: DigestAlgorithm::Sha256
        }
    ));
    let eci = &ad.auth_encrypted_content_info;
    let p = CipherParams::from_algorithm_identifier(&eci.content_enc_alg).expect("gcm");
    let aad = match &ad.auth_attrs {
        Some(a) => a.to_der().expect("aad"),
        None => Vec::new(),
    };
    let ct = eci.encrypted_content.as_ref().expect("ct");
    let pt = p
        .decrypt_aead(&cek, &aad, ct.as_bytes(), ad.mac.as_bytes())
        .expect("GCM tag verifies");
    assert!(!pt.is_empty());
}

#[test]
fn openssl_signatures_verify_and_ours_verify_in_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases: Vec<(&str, Vec<&str>, SignatureAlgorithm)> = vec![
        (
            "dsa.pem",
            vec!["-paramfile", "dsaparam.pem"],
            SignatureAlgorithm::dsa(DigestAlgorithm::Sha256),
        ),
        (
            "p256.pem",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha256),
        ),
        (
            "p384.pem",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha384),
        ),
        (
            "p384b.pem",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            SignatureAlgorithm::ecdsa(DigestAlgorithm::Sha512),
        ),
        (
            "ed.pem",
            vec!["-algorithm", "ED25519"],
            SignatureAlgorithm::ed25519(),
        ),
    ];
    common::openssl(
        d,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:2048",
            "-pkeyopt",
            "dsa_paramgen_q_bits:256",
            "-out",
            "dsaparam.pem",
        ],
    );
    let msg = b"signed attributes, DER";
    common::write(d, "msg.bin", msg);
    for (name, gen_args, alg) in cases {
        let key = openssl_key(d, name, &gen_args);
        assert!(key.supports(&alg), "{name}");
        let spki = key.public_key_info().expect("spki");
        write_spki(d, "pub.der", &spki);
        let mut openssl_sig = vec!["pkeyutl", "-sign", "-inkey", name, "-out", "sig.bin"];
        if alg.is_prehash() {
            common::write(d, "in.bin", &alg.digest.digest(msg));
            openssl_sig.extend(["-in", "in.bin", "-pkeyopt"]);
            openssl_sig.push(match alg.digest {
                DigestAlgorithm::Sha256 => "digest:sha256",
                DigestAlgorithm::Sha384 => "digest:sha384",
                _ => "digest:sha512",
            });
        } else {
            openssl_sig.extend(["-rawin", "-in", "msg.bin"]);
        }
        common::openssl(d, &openssl_sig);
        let sig = common::read(d, "sig.bin");
        verify_message(&spki, None, &alg, msg, &sig).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            verify_message(&spki, None, &alg, b"tampered", &sig),
            Err(AlgError::BadSignature),
            "{name}"
        );
        // Ours, verified by OpenSSL.
        let ours = key.sign_message(&alg, msg).expect("sign");
        common::write(d, "ours.bin", &ours);
        let mut verify = vec![
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-sigfile",
            "ours.bin",
        ];
        if alg.is_prehash() {
            verify.extend(["-in", "in.bin"]);
        } else {
            verify.extend(["-rawin", "-in", "msg.bin"]);
        }
        let out = common::openssl(d, &verify);
        assert!(
            String::from_utf8_lossy(&out).contains("Verified Successfully"),
            "{name}"
        );
        let bits = public_key_bits(&spki).expect("bits");
        assert_eq!(bits, key.key_bits(), "{name}");
    }
}

#[test]
fn signature_algorithm_identifiers_and_names() {
    use DigestAlgorithm::*;
    for alg in [
        SignatureAlgorithm::dsa(Sha1),
        SignatureAlgorithm::dsa(Sha256),
        SignatureAlgorithm::ecdsa(Sha256),
        SignatureAlgorithm::ecdsa(Sha384),
        SignatureAlgorithm::ecdsa(Sha512),
        SignatureAlgorithm::ed25519(),
    ] {
        let ai = alg.to_algorithm_identifier().expect("encode");
        assert!(ai.parameters.is_none(), "{}", alg.name());
        assert_eq!(
            SignatureAlgorithm::from_algorithm_identifier(&ai, alg.digest),
            Ok(alg)
        );
        assert_eq!(SignatureAlgorithm::from_name(&alg.name()), Ok(alg));
    }
    assert_eq!(
        SignatureAlgorithm::dsa(Sha256)
            .to_algorithm_identifier()
            .expect("dsa")
            .oid,
        oid::ID_DSA_WITH_SHA256
    );
    assert_eq!(
        SignatureAlgorithm::from_name("ecdsa-p256-sha256"),
        Ok(SignatureAlgorithm::ecdsa(Sha256))
    );
    assert_eq!(SignatureAlgorithm::dsa(Sha1).name(), "dsa-sha1");
    assert!(!SignatureAlgorithm::ed25519().is_prehash());
    assert!(SignatureAlgorithm::ecdsa(Sha256).is_prehash());
    // RFC 4134's DSA signers write id-dsa as signatureAlgorithm.
    let id_dsa = spki::AlgorithmIdentifierOwned {
        oid: oid::ID_DSA,
        parameters: None,
    };
    let a = SignatureAlgorithm::from_algorithm_identifier(&id_dsa, Sha1).expect("id-dsa");
    assert_eq!(a.scheme, SignatureScheme::Dsa);
    // The digest of the OID must agree with digestAlgorithm.
    let ai = SignatureAlgorithm::ecdsa(Sha384)
        .to_algorithm_identifier()
        .expect("ai");
    assert!(SignatureAlgorithm::from_algorithm_identifier(&ai, Sha256).is_err());
    assert!(
        SignatureAlgorithm::dsa(Sha512)
            .to_algorithm_identifier()
            .is_err()
    );
    // Pure Ed25519 has no digest path.
    let ed = SoftwarePrivateKey::generate(KeyKind::Ed25519).expect("ed");
    let spki = ed.public_key_info().expect("spki");
    assert!(
        ed.sign_digest(&SignatureAlgorithm::ed25519(), &[0; 64])
            .is_err()
    );
    assert!(verify_digest(&spki, &SignatureAlgorithm::ed25519(), &[0; 64], &[0; 64]).is_err());
    let sig = ed
        .sign_message(&SignatureAlgorithm::ed25519(), b"m")
        .expect("sign");
    verify_message(&spki, None, &SignatureAlgorithm::ed25519(), b"m", &sig).expect("verify");
    // A key refuses schemes it cannot do.
    assert!(
        ed.sign_message(&SignatureAlgorithm::ecdsa(Sha256), b"m")
            .is_err()
    );
}

#[test]
fn shared_secrets_match_openssl_derive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    common::openssl(
        d,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DHX",
            "-pkeyopt",
            "dh_rfc5114:2",
            "-out",
            "dhparam.pem",
        ],
    );
    for (name, args) in [
        (
            "p256",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        (
            "p384",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        ("x25519", vec!["-algorithm", "X25519"]),
        ("dh", vec!["-paramfile", "dhparam.pem"]),
    ] {
        let a = openssl_key(d, &format!("{name}-a.pem"), &args);
        let b = openssl_key(d, &format!("{name}-b.pem"), &args);
        let b_pub = b.public_key_info().expect("spki");
        write_spki(d, "peer.der", &b_pub);
        common::openssl(
            d,
            &[
                "pkey", "-pubin", "-inform", "DER", "-in", "peer.der", "-out", "peer.pem",
            ],
        );
        let z = common::openssl(
            d,
            &[
                "pkeyutl",
                "-derive",
                "-inkey",
                &format!("{name}-a.pem"),
                "-peerkey",
                "peer.pem",
            ],
        );
        let ours = a.agree(&b_pub).expect("agree");
        let mut z = z;
        if name == "dh" {
            // RFC 2631 §2.1.2: ZZ keeps its leading zero octets, as many octets as p
            // (2048 bits here); `openssl pkeyutl -derive` drops them (about one run in
            // 256 has one), and its `dh_pad` option does not reach X9.42 keys.
            assert_eq!(ours.len(), 256, "dh: ZZ is as long as p");
            let zeros = ours.len().saturating_sub(z.len());
            z.splice(0..0, std::iter::repeat_n(0u8, zeros));
        }
        assert_eq!(hex::encode(&ours[..]), hex::encode(&z), "{name}");
        let back = b.agree(&a.public_key_info().expect("spki")).expect("agree");
        assert_eq!(ours, back, "{name}");
    }
}

#[test]
fn originate_and_recipient_agree_for_every_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    common::openssl(
        d,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DHX",
            "-pkeyopt",
            "dh_rfc5114:2",
            "-out",
            "dhparam.pem",
        ],
    );
    let dh = openssl_key(d, "dh.pem", &["-paramfile", "dhparam.pem"]);
    assert_eq!(dh.key_bits(), 2048);
    let recipients = [
        SoftwarePrivateKey::generate(KeyKind::EcP256).expect("p256"),
        SoftwarePrivateKey::generate(KeyKind::EcP384).expect("p384"),
        SoftwarePrivateKey::generate(KeyKind::X25519).expect("x25519"),
        dh,
    ];
    let cek = [0x42u8; 24];
    for r in &recipients {
        let spki = r.public_key_info().expect("spki");
        let mut algs = vec![KeyAgreementAlgorithm::default_for(&spki).expect("default")];
        if r.kind() != KeyKind::Dh {
            algs.push(KeyAgreementAlgorithm {
                scheme: KeyAgreementScheme::EcdhX963 {
                    kdf: DigestAlgorithm::Sha1,
                },
                wrap: KeyWrapAlgorithm::Aes256,
            });
            algs.push(KeyAgreementAlgorithm {
                scheme: KeyAgreementScheme::EcdhHkdf {
                    kdf: DigestAlgorithm::Sha512,
                },
                wrap: KeyWrapAlgorithm::Aes192,
            });
        } else {
            algs.push(KeyAgreementAlgorithm {
                scheme: KeyAgreementScheme::EsDh,
                wrap: KeyWrapAlgorithm::Rc2 {
                    effective_bits: 128,
                },
            });
        }
        for alg in algs {
            for ukm in [None, Some(&b"user keying material"[..])] {
                let o = key_agreement::originate(&spki, None, &alg, ukm).expect("originate");
                assert_eq!(o.kek.len(), alg.wrap.kek_len());
                if r.kind() != KeyKind::X25519 {
                    assert!(o.originator_key.algorithm.parameters.is_none());
                }
                let wrapped = alg.wrap(&o.kek, &cek).expect("wrap");
                let kek =
                    key_agreement::recipient_kek(r, &o.originator_key, &alg, ukm).expect("kek");
                assert_eq!(kek, o.kek, "{:?} {}", r.kind(), alg.name());
                let back = alg.unwrap(&kek, &wrapped).expect("unwrap");
                assert_eq!(back.len(), 24);
                // Another UKM gives another KEK.
                let other = key_agreement::recipient_kek(r, &o.originator_key, &alg, Some(b"x"))
                    .expect("kek");
                assert_ne!(other, o.kek);
            }
        }
        // An originator key of another type is refused.
        let stranger = SoftwarePrivateKey::generate(KeyKind::Ed25519).expect("ed");
        let alg = KeyAgreementAlgorithm::default_for(&spki).expect("alg");
        assert!(
            key_agreement::recipient_kek(r, &stranger.public_key_info().expect("spki"), &alg, None)
                .is_err()
        );
    }
}

#[test]
fn x25519_low_order_point_is_refused() {
    let k = SoftwarePrivateKey::generate(KeyKind::X25519).expect("x25519");
    let zero = SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: oid::ID_X25519,
            parameters: None,
        },
        subject_public_key: der::asn1::BitString::from_bytes(&[0u8; 32]).expect("bits"),
    };
    assert!(matches!(k.agree(&zero), Err(AlgError::InvalidKey(_))));
}
