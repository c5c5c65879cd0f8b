//! The PKCS#11 backend against a real module: SoftHSM2 with tokens laid out like a
//! CPS3 card (see `pkcs11_support`). Signatures are checked by OpenSSL, decryptions
//! use keys OpenSSL encrypted.
#![forbid(unsafe_code)]

mod pkcs11_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use der::{DecodePem, Encode};
use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{SignatureAlgorithm, verify_digest};
use mss_token::pkcs11::{CardError, KeyRole, PinStatus, Pkcs11Module};
use mss_token::{
    CertificateAuthority, CpsCard, FixedPin, PersonProfile, PinRequest, PinSource, TokenError,
    cps_identity, open_identity,
};
use pkcs11_support::{Fixture, PIN, TOKEN, USAGE_TOKEN, openssl, run};
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// A PIN source that counts its calls and remembers the last request.
struct CountingPin {
    pin: &'static str,
    calls: AtomicUsize,
    last: std::sync::Mutex<Option<PinRequest>>,
}

impl CountingPin {
    fn new(pin: &'static str) -> Self {
        CountingPin {
            pin,
            calls: AtomicUsize::new(0),
            last: std::sync::Mutex::new(None),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl PinSource for CountingPin {
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().expect("lock") = Some(request.clone());
        Ok(Zeroizing::new(self.pin.to_owned()))
    }
}

fn open(fx: &Fixture) -> CpsCard {
    CpsCard::open(&fx.uri(TOKEN, ""), None, &FixedPin::new(PIN)).expect("open the card")
}

fn cert(fx: &Fixture, name: &str) -> Certificate {
    let pem = std::fs::read_to_string(fx.file(&format!("{name}.pem"))).expect("read cert");
    Certificate::from_pem(&pem).expect("parse cert")
}

/// Verify a raw signature over `digest` with OpenSSL and the certificate `cert_file`.
fn openssl_verify(
    fx: &Fixture,
    cert_file: &str,
    alg: &SignatureAlgorithm,
    digest: &[u8],
    sig: &[u8],
) {
    let tag = format!("{}-{}", alg.name(), std::process::id());
    let dgst = fx.file(&format!("{tag}.dgst"));
    let sigf = fx.file(&format!("{tag}.sig"));
    std::fs::write(&dgst, digest).expect("write digest");
    std::fs::write(&sigf, sig).expect("write signature");
    let md = format!("digest:{}", alg.digest.name());
    let mut args = vec!["pkeyutl", "-verify", "-certin", "-inkey", cert_file, "-in"];
    let (d, s) = (
        dgst.to_string_lossy().into_owned(),
        sigf.to_string_lossy().into_owned(),
    );
    args.extend([d.as_str(), "-sigfile", s.as_str(), "-pkeyopt", md.as_str()]);
    let salt = format!("rsa_pss_saltlen:{}", alg.salt_len);
    if alg.scheme == mss_algs::signature::SignatureScheme::RsaPss {
        args.extend([
            "-pkeyopt",
            "rsa_padding_mode:pss",
            "-pkeyopt",
            salt.as_str(),
        ]);
    }
    let out = openssl(&fx.dir, &args);
    assert!(
        String::from_utf8_lossy(&out).contains("Signature Verified Successfully"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// Encrypt `plain` to `cert_file` with OpenSSL (`pkeyopts` select the padding).
fn openssl_encrypt(fx: &Fixture, cert_file: &str, plain: &[u8], pkeyopts: &[&str]) -> Vec<u8> {
    let tag = format!("enc-{}-{}", pkeyopts.len(), std::process::id());
    let input = fx.file(&format!("{tag}.in"));
    std::fs::write(&input, plain).expect("write plaintext");
    let input = input.to_string_lossy().into_owned();
    let mut args = vec![
        "pkeyutl", "-encrypt", "-certin", "-inkey", cert_file, "-in", &input,
    ];
    for o in pkeyopts {
        args.extend(["-pkeyopt", o]);
    }
    openssl(&fx.dir, &args)
}

#[test]
fn sign_pkcs1v15_on_the_card_verified_by_openssl() {
    run("sign_pkcs1v15_on_the_card_verified_by_openssl", &[], |fx| {
        let card = open(fx);
        let sig_id = card.signing_identity().expect("signing identity");
        assert_eq!(sig_id.key_label(), "CPS_PRIV_SIG");
        for d in [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            let alg = SignatureAlgorithm::rsa_pkcs1v15(d);
            assert!(sig_id.supports(&alg));
            let digest = d.digest(b"Compte rendu de consultation");
            let sig = sig_id.sign_digest(&alg, &digest).expect("sign");
            assert_eq!(sig.len(), 256);
            openssl_verify(fx, "sig.pem", &alg, &digest, &sig);
            let spki = sig_id
                .certificate()
                .tbs_certificate()
                .subject_public_key_info();
            verify_digest(spki, &alg, &digest, &sig).expect("mss verifies too");
        }
    });
}

#[test]
fn sign_pss_on_the_card_verified_by_openssl() {
    run("sign_pss_on_the_card_verified_by_openssl", &[], |fx| {
        let card = open(fx);
        let sig_id = card.signing_identity().expect("signing identity");
        for d in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            let alg = SignatureAlgorithm::rsa_pss(d);
            let digest = d.digest(b"ordonnance");
            let sig = sig_id.sign_digest(&alg, &digest).expect("sign");
            openssl_verify(fx, "sig.pem", &alg, &digest, &sig);
            let spki = sig_id
                .certificate()
                .tbs_certificate()
                .subject_public_key_info();
            verify_digest(spki, &alg, &digest, &sig).expect("mss verifies too");
        }
        // A digest of the wrong length is refused before reaching the card.
        let alg = SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256);
        assert!(matches!(
            sig_id.sign_digest(&alg, &[0u8; 20]),
            Err(AlgError::InvalidParameters { .. })
        ));
    });
}

#[test]
fn decrypt_pkcs1v15_and_oaep_keys_encrypted_by_openssl() {
    run(
        "decrypt_pkcs1v15_and_oaep_keys_encrypted_by_openssl",
        &[],
        |fx| {
            let card = open(fx);
            let aut = card.decryption_identity().expect("decryption identity");
            assert_eq!(aut.key_label(), "CPS_PRIV_AUT");
            let cek: Vec<u8> = (0u8..32)
                .map(|i| i.wrapping_mul(7).wrapping_add(3))
                .collect();
            let cases: [(KeyTransport, &[&str]); 2] = [
                (KeyTransport::RsaPkcs1v15, &["rsa_padding_mode:pkcs1"]),
                (
                    KeyTransport::RsaOaep {
                        hash: DigestAlgorithm::Sha1,
                    },
                    &[
                        "rsa_padding_mode:oaep",
                        "rsa_oaep_md:sha1",
                        "rsa_mgf1_md:sha1",
                    ],
                ),
            ];
            for (kt, opts) in cases {
                let enc = openssl_encrypt(fx, "aut.pem", &cek, opts);
                let plain = aut.decrypt_key(&kt, &enc, Some(32)).expect("decrypt");
                assert_eq!(&plain[..], &cek[..], "{}", kt.name());
                let plain = aut.decrypt_key(&kt, &enc, None).expect("decrypt");
                assert_eq!(&plain[..], &cek[..], "{}", kt.name());
            }
            // OAEP with SHA-256 (what the CPS card offers): SoftHSM 2.6 accepts OAEP with
            // SHA-1 only and refuses the parameters, which must come back as a card-level
            // KeyOperation error (propagated by the CMS layer), never as a wrong key or a
            // silent DecryptionFailed. A module that supports it must decrypt correctly.
            let kt = KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            };
            let enc = openssl_encrypt(
                fx,
                "aut.pem",
                &cek,
                &[
                    "rsa_padding_mode:oaep",
                    "rsa_oaep_md:sha256",
                    "rsa_mgf1_md:sha256",
                ],
            );
            match aut.decrypt_key(&kt, &enc, Some(32)) {
                Ok(plain) => assert_eq!(&plain[..], &cek[..]),
                Err(AlgError::KeyOperation(m)) => {
                    assert!(
                        m.contains("ArgumentsBad") || m.contains("MechanismParamInvalid"),
                        "{m}"
                    )
                }
                Err(other) => panic!("OAEP-SHA256: {other:?}"),
            }
        },
    );
}

#[test]
fn bad_ciphertexts_fail_without_an_oracle() {
    run("bad_ciphertexts_fail_without_an_oracle", &[], |fx| {
        let card = open(fx);
        let aut = card.decryption_identity().expect("decryption identity");
        // Random bytes below the modulus: invalid padding in both schemes.
        let mut junk = vec![0x11u8; 256];
        junk[0] = 0x00;
        // v1.5 with an expected length: implicit rejection, a random key of that length.
        let k1 = aut
            .decrypt_key(&KeyTransport::RsaPkcs1v15, &junk, Some(24))
            .expect("implicit rejection");
        let k2 = aut
            .decrypt_key(&KeyTransport::RsaPkcs1v15, &junk, Some(24))
            .expect("implicit rejection");
        assert_eq!(k1.len(), 24);
        assert_ne!(k1, k2, "random each time");
        // A valid v1.5 block of the wrong length: also a random key of the right length.
        let short = openssl_encrypt(fx, "aut.pem", &[7u8; 16], &["rsa_padding_mode:pkcs1"]);
        let k = aut
            .decrypt_key(&KeyTransport::RsaPkcs1v15, &short, Some(32))
            .expect("implicit rejection");
        assert_eq!(k.len(), 32);
        assert_ne!(&k[..16], &[7u8; 16]);
        // OAEP and v1.5 without a length: the uniform failure.
        let oaep = KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha1,
        };
        assert_eq!(
            aut.decrypt_key(&oaep, &junk, Some(32)),
            Err(AlgError::DecryptionFailed)
        );
        assert_eq!(
            aut.decrypt_key(&KeyTransport::RsaPkcs1v15, &junk, None),
            Err(AlgError::DecryptionFailed)
        );
    });
}

#[test]
fn identities_are_paired_by_id_with_roles_chain_and_cps_identity() {
    run(
        "identities_are_paired_by_id_with_roles_chain_and_cps_identity",
        &[],
        |fx| {
            let card = open(fx);
            assert_eq!(card.token_label(), TOKEN);
            assert!(card.is_cps());
            let ids = card.identities();
            assert_eq!(ids.len(), 2, "{ids:?}");
            let sig = card.signing_identity().expect("sig");
            let aut = card.decryption_identity().expect("aut");
            assert_eq!(sig.role(), KeyRole::Signature);
            assert_eq!(sig.id(), &[0x02]);
            assert_eq!(sig.certificate_label(), "Certificat de Signature CPS");
            assert_eq!(aut.role(), KeyRole::Authentication);
            assert_eq!(aut.id(), &[0x01]);
            assert_eq!(
                SigningKey::certificate(sig).to_der().expect("der"),
                cert(fx, "sig").to_der().expect("der")
            );
            assert_eq!(
                DecryptionKey::certificate(aut).to_der().expect("der"),
                cert(fx, "aut").to_der().expect("der")
            );
            assert!(sig.can_sign() && !sig.can_decrypt());
            assert!(aut.can_sign() && aut.can_decrypt());
            // The CA certificate on the token is shipped as the chain.
            assert_eq!(SigningKey::chain(sig).len(), 1);
            assert_eq!(
                SigningKey::chain(sig)[0].to_der().expect("der"),
                cert(fx, "ca").to_der().expect("der")
            );
            let who = cps_identity(SigningKey::certificate(sig)).expect("CPS identity");
            assert_eq!(who.national_id, "810001234567");
            assert_eq!(who.surname.as_deref(), Some("DUPONT"));
            assert_eq!(who.given_name.as_deref(), Some("JEAN"));
            assert_eq!(who.profession.as_deref(), Some("Médecin"));
            // Debug shows labels and subjects, nothing secret.
            let shown = format!("{card:?}");
            assert!(shown.contains("CPS_PRIV_SIG"), "{shown}");
            assert!(!shown.to_lowercase().contains("pin"), "{shown}");
        },
    );
}

#[test]
fn each_use_has_its_own_key_and_mismatches_are_errors() {
    run(
        "each_use_has_its_own_key_and_mismatches_are_errors",
        &[],
        |fx| {
            let card = open(fx);
            let sig = card.signing_identity().expect("sig");
            // The signature key may not decrypt: a KeyOperation error, which the CMS layer
            // propagates instead of replacing it by a random key.
            let enc = openssl_encrypt(fx, "sig.pem", &[1u8; 32], &["rsa_padding_mode:pkcs1"]);
            match sig.decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(32)) {
                Err(AlgError::KeyOperation(m)) => {
                    assert!(
                        m.contains("keyEncipherment") && m.contains("CPS_PRIV_SIG"),
                        "{m}"
                    )
                }
                other => panic!("expected a key-usage error, got {other:?}"),
            }
        },
    );
}

#[test]
fn a_key_whose_certificate_forbids_signing_does_not_sign() {
    run(
        "a_key_whose_certificate_forbids_signing_does_not_sign",
        &[],
        |fx| {
            let pins = FixedPin::new(PIN);
            let card = CpsCard::open(&fx.uri(USAGE_TOKEN, ""), None, &pins).expect("open");
            match card.signing_identity() {
                Err(CardError::KeyUsage(m)) => {
                    assert!(
                        m.contains("CPS_PRIV_SIG") && m.contains("digitalSignature"),
                        "{m}"
                    )
                }
                other => panic!("expected a key-usage error, got {other:?}"),
            }
            // Named explicitly, the AUT key still refuses to sign: its certificate says
            // keyEncipherment only.
            let card = CpsCard::open(&fx.uri(USAGE_TOKEN, ";object=CPS_PRIV_AUT"), None, &pins)
                .expect("open");
            assert!(card.signing_identity().is_err());
            let aut = card.decryption_identity().expect("decryption identity");
            let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
            assert!(!aut.supports(&alg));
            match aut.sign_digest(&alg, &[0u8; 32]) {
                Err(AlgError::KeyOperation(m)) => assert!(m.contains("digitalSignature"), "{m}"),
                other => panic!("expected a key-usage error, got {other:?}"),
            }
            // Decryption works with it.
            let enc = openssl_encrypt(fx, "encr.pem", &[9u8; 16], &["rsa_padding_mode:pkcs1"]);
            let plain = aut
                .decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(16))
                .expect("decrypt");
            assert_eq!(&plain[..], &[9u8; 16]);
        },
    );
}

#[test]
fn a_wrong_pin_is_refused_once_and_never_retried() {
    run("a_wrong_pin_is_refused_once_and_never_retried", &[], |fx| {
        let pins = CountingPin::new("0000");
        match CpsCard::open(&fx.uri(TOKEN, ""), None, &pins) {
            Err(e @ CardError::WrongPin { .. }) => {
                let CardError::WrongPin {
                    status,
                    retries_left,
                } = &e
                else {
                    unreachable!()
                };
                // SoftHSM sets no PIN flags: one failure is known, the CPS maximum is 3.
                assert_eq!(*status, PinStatus::CountLow);
                assert_eq!(*retries_left, Some(2));
                assert_eq!(
                    e.to_string(),
                    "wrong PIN: 2 tries left before the card locks"
                );
            }
            other => panic!("expected WrongPin, got {other:?}"),
        }
        assert_eq!(pins.calls(), 1, "the PIN must not be retried");
        let req = pins.last.lock().expect("lock").clone().expect("a request");
        assert_eq!(req.retries_left, Some(3));
        assert!(req.what.contains(TOKEN), "{}", req.what);
        // The right PIN works afterwards.
        let good = CountingPin::new(PIN);
        CpsCard::open(&fx.uri(TOKEN, ""), None, &good).expect("open");
        assert_eq!(good.calls(), 1);
    });
}

#[test]
fn a_cancelled_pin_is_reported() {
    run("a_cancelled_pin_is_reported", &[], |fx| {
        let r = CpsCard::open(&fx.uri(TOKEN, ""), None, &mss_token::NoPin);
        assert!(matches!(r, Err(CardError::PinCancelled)), "{r:?}");
    });
}

#[test]
fn an_absent_card_asks_to_insert_it() {
    run("an_absent_card_asks_to_insert_it", &[], |fx| {
        let pins = CountingPin::new(PIN);
        let e = CpsCard::open(&fx.uri("CPS3 ABSENT", ""), None, &pins).expect_err("no such card");
        let msg = e.to_string();
        assert!(matches!(e, CardError::NoToken { .. }), "{e:?}");
        assert!(msg.contains("insert your CPS card"), "{msg}");
        assert!(
            msg.contains("token=CPS3%20ABSENT") && msg.contains(TOKEN),
            "{msg}"
        );
        assert_eq!(pins.calls(), 0);
        // Two tokens and a URI without a token: ambiguous, both CPS.
        let uri = format!("pkcs11:?module-path={}", fx.module.display());
        let e = CpsCard::open(&uri, None, &pins).expect_err("ambiguous");
        assert!(matches!(e, CardError::AmbiguousToken { .. }), "{e:?}");
    });
}

#[test]
fn an_absent_module_is_reported() {
    run("an_absent_module_is_reported", &[], |_fx| {
        let pins = FixedPin::new(PIN);
        let e = CpsCard::open("pkcs11:token=CPS3", None, &pins).expect_err("no module");
        assert!(matches!(e, CardError::NoModule), "{e:?}");
        assert!(e.to_string().contains("MSS_PKCS11_MODULE"));
        let e = CpsCard::open(
            "pkcs11:token=CPS3?module-path=/nonexistent/libcps3_pkcs11_lux.so",
            None,
            &pins,
        )
        .expect_err("no such module");
        assert!(matches!(e, CardError::ModuleLoad { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/libcps3_pkcs11_lux.so"));
        let e = CpsCard::open(
            "pkcs11:token=CPS3",
            Some(Path::new("/nonexistent.so")),
            &pins,
        )
        .expect_err("no such module");
        assert!(matches!(e, CardError::ModuleLoad { .. }), "{e:?}");
    });
}

#[test]
fn the_module_comes_from_the_environment_or_the_argument() {
    let module = pkcs11_support::softhsm_module();
    let module = module.to_string_lossy().into_owned();
    run(
        "the_module_comes_from_the_environment_or_the_argument",
        &[("MSS_PKCS11_MODULE", module.as_str())],
        |fx| {
            let pins = FixedPin::new(PIN);
            let card = CpsCard::open("pkcs11:token=CPS3%20TEST", None, &pins).expect("env");
            assert_eq!(card.token_label(), TOKEN);
            let m = Pkcs11Module::load(&fx.module).expect("load");
            let card2 = CpsCard::open("pkcs11:token=CPS3%20TEST", Some(&fx.module), &pins)
                .expect("argument");
            assert_eq!(card2.module().path(), m.path());
            let labels: Vec<String> = m
                .tokens()
                .expect("tokens")
                .into_iter()
                .map(|t| t.label)
                .collect();
            assert!(labels.contains(&TOKEN.to_owned()) && labels.contains(&USAGE_TOKEN.to_owned()));
        },
    );
}

#[test]
fn one_login_serves_a_hundred_signatures() {
    run("one_login_serves_a_hundred_signatures", &[], |fx| {
        let pins = CountingPin::new(PIN);
        let card = CpsCard::open(&fx.uri(TOKEN, ""), None, &pins).expect("open");
        let sig = card.signing_identity().expect("sig");
        let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
        let spki = SigningKey::certificate(sig)
            .tbs_certificate()
            .subject_public_key_info();
        for i in 0..100u32 {
            let digest = DigestAlgorithm::Sha256.digest(&i.to_be_bytes());
            let s = sig.sign_digest(&alg, &digest).expect("sign");
            verify_digest(spki, &alg, &digest, &s).expect("verify");
        }
        assert_eq!(pins.calls(), 1);
    });
}

#[test]
fn two_threads_sign_with_one_card() {
    run("two_threads_sign_with_one_card", &[], |fx| {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CpsCard>();
        assert_send_sync::<mss_token::CardIdentity>();
        let pins = CountingPin::new(PIN);
        let card = Arc::new(CpsCard::open(&fx.uri(TOKEN, ""), None, &pins).expect("open"));
        let handles: Vec<_> = (0..2u8)
            .map(|t| {
                let card = Arc::clone(&card);
                std::thread::spawn(move || {
                    let sig = card.signing_identity().expect("sig");
                    let aut = card.decryption_identity().expect("aut");
                    for i in 0..20u8 {
                        let alg = if i % 2 == 0 {
                            SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256)
                        } else {
                            SignatureAlgorithm::rsa_pss(DigestAlgorithm::Sha256)
                        };
                        let digest = DigestAlgorithm::Sha256.digest(&[t, i]);
                        let s = sig.sign_digest(&alg, &digest).expect("sign");
                        let spki = SigningKey::certificate(sig)
                            .tbs_certificate()
                            .subject_public_key_info();
                        verify_digest(spki, &alg, &digest, &s).expect("verify");
                        // Interleave another key's operations on the same session.
                        let a = aut
                            .sign_digest(
                                &SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256),
                                &digest,
                            )
                            .expect("aut sign");
                        assert_eq!(a.len(), 256);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(pins.calls(), 1);
    });
}

#[test]
fn a_logged_out_card_is_a_key_operation_error_not_a_decryption_failure() {
    run(
        "a_logged_out_card_is_a_key_operation_error_not_a_decryption_failure",
        &[],
        |fx| {
            let card = open(fx);
            let aut = card.decryption_identity().expect("aut").clone();
            let sig = card.signing_identity().expect("sig").clone();
            let enc = openssl_encrypt(fx, "aut.pem", &[5u8; 32], &["rsa_padding_mode:pkcs1"]);
            assert_eq!(
                &aut.decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(32))
                    .expect("decrypt")[..],
                &[5u8; 32]
            );
            // Another session of this application logs the token out (as a card reset
            // would): every session of the token loses its login.
            let ctx = cryptoki::context::Pkcs11::new(&fx.module).expect("module");
            let _ = ctx.initialize(cryptoki::context::CInitializeArgs::new(
                cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
            ));
            let slot = cryptoki::slot::Slot::try_from(card.slot_id()).expect("slot");
            let other = ctx.open_ro_session(slot).expect("session");
            other.logout().expect("logout");
            // v1.5 with an expected length must NOT become a random key here: the CMS layer
            // propagates KeyOperation and would hide anything else.
            match aut.decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(32)) {
                Err(AlgError::KeyOperation(m)) => assert!(m.contains("logged in"), "{m}"),
                other => panic!("expected KeyOperation, got {other:?}"),
            }
            let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
            assert!(matches!(
                sig.sign_digest(&alg, &[0u8; 32]),
                Err(AlgError::KeyOperation(_))
            ));
            // Closing the sessions (as pulling the card does) is "card removed".
            drop(other);
            ctx.finalize().expect("finalize");
            match aut.decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(32)) {
                Err(AlgError::KeyOperation(m)) => assert!(m.contains("removed"), "{m}"),
                other => panic!("expected KeyOperation, got {other:?}"),
            }
        },
    );
}

#[test]
fn uris_select_objects_and_identities_print_their_uri() {
    run(
        "uris_select_objects_and_identities_print_their_uri",
        &[],
        |fx| {
            let pins = FixedPin::new(PIN);
            let card = CpsCard::open(&fx.uri(TOKEN, ";id=%02"), None, &pins).expect("open");
            assert_eq!(card.identities().len(), 1);
            assert_eq!(
                card.signing_identity().expect("sig").key_label(),
                "CPS_PRIV_SIG"
            );
            assert!(matches!(
                card.decryption_identity(),
                Err(CardError::KeyUsage(_))
            ));
            let card = CpsCard::open(
                &fx.uri(TOKEN, ";object=Certificat%20d'Authentification%20CPS"),
                None,
                &pins,
            )
            .expect("open");
            let aut = &card.identities()[0];
            assert_eq!(aut.key_label(), "CPS_PRIV_AUT");
            // A named AUT key may sign (its certificate allows digitalSignature).
            assert_eq!(
                card.signing_identity().expect("named").key_label(),
                "CPS_PRIV_AUT"
            );
            let uri = aut.uri().to_string();
            assert_eq!(
                uri,
                "pkcs11:token=CPS3%20TEST;object=CPS_PRIV_AUT;id=%01;type=private"
            );
            let again = CpsCard::open(&uri, Some(&fx.module), &pins).expect("reopen");
            assert_eq!(again.identities().len(), 1);
            let e = CpsCard::open(&fx.uri(TOKEN, ";object=NOPE"), None, &pins).expect_err("none");
            assert!(matches!(e, CardError::NoIdentity { .. }), "{e:?}");
        },
    );
}

#[test]
fn open_identity_dispatches_between_files_and_cards() {
    run(
        "open_identity_dispatches_between_files_and_cards",
        &[],
        |fx| {
            let pins = FixedPin::new(PIN);
            let card = open_identity(&fx.uri(TOKEN, ""), None, &pins).expect("card");
            assert!(card.description().contains(TOKEN));
            let s = card.signing_key().expect("signing key");
            assert_eq!(
                s.certificate().to_der().expect("der"),
                cert(fx, "sig").to_der().expect("der")
            );
            let d = card.decryption_key().expect("decryption key");
            assert_eq!(
                d.certificate().to_der().expect("der"),
                cert(fx, "aut").to_der().expect("der")
            );
            // A PEM file is a software identity.
            let ca = CertificateAuthority::new("Soft CA", 2048).expect("ca");
            let soft = ca
                .issue(&PersonProfile::new("Alice", "alice@example.org"))
                .expect("issue");
            let path = fx.file(&format!("soft-{}.pem", std::process::id()));
            std::fs::write(&path, soft.to_pem().expect("pem").as_bytes()).expect("write");
            let id = open_identity(&path.to_string_lossy(), None, &pins).expect("file");
            assert!(id.description().contains("software"));
            let alg = SignatureAlgorithm::rsa_pkcs1v15(DigestAlgorithm::Sha256);
            let digest = DigestAlgorithm::Sha256.digest(b"x");
            let sig = id
                .signing_key()
                .expect("key")
                .sign_digest(&alg, &digest)
                .expect("sign");
            verify_digest(
                soft.certificate()
                    .tbs_certificate()
                    .subject_public_key_info(),
                &alg,
                &digest,
                &sig,
            )
            .expect("verify");
            let e = open_identity("/nonexistent/id.p12", None, &pins).expect_err("no file");
            assert!(matches!(e, CardError::Token(TokenError::Io(_))), "{e:?}");
        },
    );
}
