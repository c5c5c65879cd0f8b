//! The key store with two cards: SoftHSM2 tokens laid out like CPS3 cards (the fixture
//! of mss-token's PKCS#11 tests, shared by path), the holder's and a delegate's. The
//! card slot is unwrapped on the card, grants are signed by the card's signature key.
//! Missing SoftHSM2 / OpenSC / OpenSSL fail the test with an install hint.
#![forbid(unsafe_code)]

#[path = "../../mss-token/tests/pkcs11_support/mod.rs"]
mod pkcs11_support;

use std::time::{SystemTime, UNIX_EPOCH};

use mss_algs::rsa::{KeyTransport, encrypt_key};
use mss_keystore::{GrantStatus, KdfParams, KeyStore, KeystoreError, NewKey, SlotKind};
use mss_token::{CertificateAuthority, CpsCard, FixedPin, Identity, PersonProfile};
use pkcs11_support::{DELEGATE_TOKEN, Fixture, PIN, TOKEN, run};
use x509_cert::Certificate;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn card(fx: &Fixture, token: &str) -> CpsCard {
    CpsCard::open(&fx.uri(token, ""), None, &FixedPin::new(PIN)).expect("open the card")
}

fn use_key(session: &mss_keystore::KeySession, cert: &Certificate, mid: &str) {
    let cek = [0x42u8; 32];
    let enc = encrypt_key(
        cert.tbs_certificate().subject_public_key_info(),
        &KeyTransport::RsaPkcs1v15,
        &cek,
    )
    .expect("encrypt");
    session.set_message_id(Some(mid));
    let got = session.decryption_keys()[0]
        .decrypt_key(&KeyTransport::RsaPkcs1v15, &enc, Some(32))
        .expect("decrypt");
    assert_eq!(&got[..], &cek[..]);
}

#[test]
fn two_cards_holder_and_delegate() {
    run("two_cards_holder_and_delegate", &[], |fx| {
        let holder = card(fx, TOKEN);
        let delegate = card(fx, DELEGATE_TOKEN);
        let ca = CertificateAuthority::new("Keystore Card CA", 2048).expect("CA");
        let conf = ca
            .issue(&PersonProfile::new(
                "Dr Jean Dupont (confidentialite)",
                "jean.dupont@test.mssante.invalid",
            ))
            .expect("confidentiality key");
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("store.mss");
        let (mut store, created) = KeyStore::create(
            &path,
            &holder,
            NewKey::Import(Box::new(conf.clone())),
            KdfParams::insecure_for_tests(),
        )
        .expect("create with the card");
        // The card slot uses what the card does: SoftHSM 2.6 refuses OAEP-SHA256, so
        // PKCS#1 v1.5 (a card that does OAEP-SHA256 gets it).
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        let transport: String = conn
            .query_row("SELECT transport FROM slots WHERE kind = 'card'", [], |r| {
                r.get(0)
            })
            .expect("card slot");
        assert!(
            transport == "rsa-pkcs1v15" || transport == "rsa-oaep-sha256",
            "{transport}"
        );
        // The card slot is bound to the AUT certificate, grants to the SIG one.
        assert_eq!(
            &store.holder_decryption_certificate().expect("cert"),
            holder.decryption_key().expect("aut").certificate()
        );
        assert_eq!(
            &store.holder_signing_certificate().expect("cert"),
            holder.signing_key().expect("sig").certificate()
        );

        // The holder opens with the card.
        let s = store.unlock(&holder).expect("holder unlocks with the card");
        assert_eq!(s.slot_kind(), SlotKind::Card);
        use_key(&s, conf.certificate(), "<card@test>");
        // Degraded mode: no card.
        let r = store
            .unlock_with_recovery(&created.recovery)
            .expect("recovery");
        use_key(&r, conf.certificate(), "<degraded@test>");

        // Delegation to the second card's AUT certificate.
        let to = delegate
            .decryption_key()
            .expect("aut")
            .certificate()
            .clone();
        store
            .grant(&holder, &to, None, now() + 3600)
            .expect("grant signed by the holder's card");
        assert!(store.unlock(&delegate).is_err(), "pending grant");
        let g = store
            .accept(&delegate)
            .expect("accept with the delegate's card");
        assert_eq!(g.status, GrantStatus::Active);
        let d = store.unlock(&delegate).expect("delegate unlocks");
        assert_eq!(d.slot_kind(), SlotKind::Delegate);
        use_key(&d, conf.certificate(), "<delegate@test>");
        // The delegate cannot delegate further, nor revoke.
        assert!(matches!(
            store.grant(&delegate, conf.certificate(), None, now() + 60),
            Err(KeystoreError::NoRedelegation)
        ));
        assert!(store.revoke(&delegate, &to).is_err());
        assert_eq!(store.revoke(&holder, &to).expect("revoke"), 1);
        assert!(matches!(
            store.unlock(&delegate),
            Err(KeystoreError::DelegationRevoked)
        ));
        let log = store.audit_log().expect("log");
        let ev: Vec<&str> = log.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            ev,
            [
                "create",
                "use",
                "recovery-unlock",
                "recovery-use",
                "grant",
                "accept",
                "use",
                "revoke"
            ]
        );
        assert!(log[6].actor.contains("MARTIN"), "{}", log[6].actor);
        assert_eq!(log[6].message_id.as_deref(), Some("<delegate@test>"));
        store.verify_audit().expect("audit verifies");
    });
}
