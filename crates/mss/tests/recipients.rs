//! Sending to addresses: every recipient resolved (local store, then a real slapd
//! directory) before anything is encrypted; missing certificates and an unreachable
//! directory stop the send with an error naming every address.

#[path = "../../mss-directory/tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime};

use der::Encode;
use mss::directory::{LdapConfig, LdapDirectory, LocalStore, Origin};
use mss::{
    EncryptOptions, Error, OpenOptions, RecipientSources, UnresolvedReason, encrypt_to_addresses,
    open, sign_and_encrypt_to_addresses,
};
use mss_token::KeyUsageProfile;

use support::pki::TestPki;
use support::slapd::{Ldif, SUFFIX, Slapd, free_port};

const DRAFT: &[u8] = b"From: sender@sante.fr\r\nTo: alice@sante.fr, bob@sante.fr\r\nSubject: CR\r\n\r\nCompte rendu.\r\n";

#[test]
fn every_address_resolved_then_encrypted_and_opened() {
    let pki = TestPki::new("Facade CA");
    let sender = pki.identity("Sender", "sender@sante.fr", KeyUsageProfile::SignAndEncrypt);
    let alice = pki.identity("Alice", "alice@sante.fr", KeyUsageProfile::EncryptOnly);
    let alice_sig = pki.person("Alice", "alice@sante.fr", KeyUsageProfile::SignOnly, 365);
    let bob = pki.identity("Bob", "bob@sante.fr", KeyUsageProfile::SignAndEncrypt);
    let mut ldif = Ldif::new();
    ldif.person(
        "Alice",
        "alice@sante.fr",
        &[
            alice_sig.to_der().expect("der"),
            alice.certificate().to_der().expect("der"),
        ],
        None,
    );
    let mut server = Slapd::start(ldif.text(), None);
    let dir = LdapDirectory::new(LdapConfig::new(&server.url(), SUFFIX)).expect("config");
    // Bob is in the local store only; Alice in the directory only.
    let store = LocalStore::open_in_memory().expect("store");
    store
        .import_certificates(&bob.certificate().to_der().expect("der"))
        .expect("import");
    let sources = RecipientSources {
        store: Some(&store),
        directory: Some(&dir),
        ..Default::default()
    };
    let sent = sign_and_encrypt_to_addresses(
        DRAFT,
        &sender,
        &["alice@sante.fr", "Bob@Sante.fr", "ALICE@sante.fr"],
        &[],
        None,
        &EncryptOptions::default(),
        &sources,
    )
    .expect("sent");
    assert_eq!(sent.recipients.len(), 2, "duplicates resolved once");
    assert_eq!(&sent.recipients[0].certificate, alice.certificate());
    assert!(matches!(
        sent.recipients[0].origin,
        Origin::Directory { .. }
    ));
    assert_eq!(&sent.recipients[1].certificate, bob.certificate());
    assert_eq!(sent.recipients[1].origin, Origin::LocalStore);
    assert!(sent.warnings.is_empty());
    for who in [&alice, &bob, &sender] {
        let opened = open(
            &sent.message,
            &OpenOptions {
                keys: vec![who],
                trust_anchors: vec![pki.root().clone()],
                ..OpenOptions::default()
            },
        )
        .expect("each recipient and the sender open it");
        assert!(opened.report.encrypted);
        assert!(opened.report.all_signatures_valid());
    }

    // Directory down: Alice comes from the cache (past its lifetime here), and the
    // result says the directory was unreachable.
    server.stop();
    let sources = RecipientSources {
        store: Some(&store),
        directory: Some(&dir),
        time: Some(SystemTime::now() + Duration::from_secs(2 * 86_400)),
        ..Default::default()
    };
    let sent = encrypt_to_addresses(
        DRAFT,
        &["alice@sante.fr"],
        &[],
        sender.certificate(),
        &EncryptOptions::default(),
        &sources,
    )
    .expect("cache serves");
    assert!(matches!(
        sent.recipients[0].origin,
        Origin::Cache {
            directory_unreachable: Some(_),
            ..
        }
    ));
    assert_eq!(sent.warnings.len(), 1);
    assert!(sent.warnings[0].starts_with("directory-unreachable: alice@sante.fr"));
}

#[test]
fn missing_certificates_are_all_named_and_nothing_is_produced() {
    let pki = TestPki::new("Facade CA 2");
    let sender = pki.person(
        "Sender",
        "sender@sante.fr",
        KeyUsageProfile::SignAndEncrypt,
        365,
    );
    let bob = pki.person("Bob", "bob@sante.fr", KeyUsageProfile::EncryptOnly, 365);
    let store = LocalStore::open_in_memory().expect("store");
    store
        .import_certificates(&bob.to_der().expect("der"))
        .expect("import");
    let sources = RecipientSources {
        store: Some(&store),
        guidance: "Demandez son certificat au destinataire.".into(),
        ..Default::default()
    };
    let err = encrypt_to_addresses(
        DRAFT,
        &["alice@sante.fr", "bob@sante.fr", "carol@sante.fr"],
        &[],
        &sender,
        &EncryptOptions::default(),
        &sources,
    )
    .expect_err("two certificates are missing");
    let Error::UnresolvedRecipients(u) = &err else {
        panic!("unexpected error {err}");
    };
    assert_eq!(u.missing(), vec!["alice@sante.fr", "carol@sante.fr"]);
    assert!(u.unreachable().is_empty());
    let text = err.to_string();
    assert!(
        text.contains("no certificate for alice@sante.fr, carol@sante.fr"),
        "{text}"
    );
    assert!(
        text.contains("Demandez son certificat au destinataire."),
        "{text}"
    );
    assert!(!text.contains("bob@"), "{text}");
}

#[test]
fn unreachable_directory_without_cache_is_not_no_certificate() {
    let pki = TestPki::new("Facade CA 3");
    let sender = pki.person(
        "Sender",
        "sender@sante.fr",
        KeyUsageProfile::SignAndEncrypt,
        365,
    );
    let dir = LdapDirectory::new(LdapConfig::new(
        &format!("ldap://127.0.0.1:{}", free_port()),
        SUFFIX,
    ))
    .expect("config");
    let store = LocalStore::open_in_memory().expect("store");
    let sources = RecipientSources {
        store: Some(&store),
        directory: Some(&dir),
        ..Default::default()
    };
    let err = encrypt_to_addresses(
        DRAFT,
        &["alice@sante.fr", "bob@sante.fr"],
        &[],
        &sender,
        &EncryptOptions::default(),
        &sources,
    )
    .expect_err("unreachable");
    let Error::UnresolvedRecipients(u) = &err else {
        panic!("unexpected error {err}");
    };
    assert_eq!(u.unreachable(), vec!["alice@sante.fr", "bob@sante.fr"]);
    assert!(u.missing().is_empty());
    assert!(matches!(
        u.unresolved[0].reason,
        UnresolvedReason::DirectoryUnreachable(_)
    ));
    let text = err.to_string();
    assert!(text.contains("directory unreachable"), "{text}");
    assert!(!text.contains("no certificate"), "{text}");
}
