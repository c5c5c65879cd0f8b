//! The local SQLite store: import, lookups by address / subject / issuer, cache
//! lifetime, CRLs, removal, persistence.

mod support;

use std::time::{Duration, SystemTime};

use der::EncodePem;
use mss_directory::{
    CrlOrigin, Directory, DirectoryError, LocalStore, Origin, ResolveError, Resolver,
};
use mss_token::ca::KeyUsageProfile;

use support::pki::TestPki;

#[test]
fn import_lookup_list_remove_and_reopen() {
    let pki = TestPki::new("Store CA");
    let enc = pki.person("Alice", "alice@sante.fr", KeyUsageProfile::EncryptOnly, 365);
    let sig = pki.person("Alice", "alice@sante.fr", KeyUsageProfile::SignOnly, 365);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("sub").join("store.sqlite");
    {
        let store = LocalStore::open(&path).expect("open");
        // PEM with two certificates, then DER of the CA.
        let pem = format!(
            "{}{}",
            enc.to_pem(der::pem::LineEnding::LF).expect("pem"),
            sig.to_pem(der::pem::LineEnding::LF).expect("pem")
        );
        assert_eq!(
            store
                .import_certificates(pem.as_bytes())
                .expect("import")
                .len(),
            2
        );
        store
            .import_certificates(&pki.root_der())
            .expect("import CA");
        // Importing twice is idempotent.
        store.import_certificates(pem.as_bytes()).expect("again");
    }
    let store = LocalStore::open(&path).expect("reopen");
    let found = store
        .local_certificates_for("ALICE@sante.fr")
        .expect("lookup");
    assert_eq!(found.len(), 2);
    assert!(found.contains(&enc) && found.contains(&sig));
    let issued = store
        .certificates_by_issuer(pki.root().tbs_certificate().subject())
        .expect("by issuer");
    assert_eq!(issued.len(), 3, "the self-signed CA is its own issuer");
    assert_eq!(
        store
            .certificates_by_subject(pki.root().tbs_certificate().subject())
            .expect("by subject"),
        vec![pki.root().clone()]
    );
    let listed = store.list().expect("list");
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|s| s.is_local()));

    // Only the encryption certificate resolves.
    let r = Resolver::new(Some(&store), None)
        .resolve("alice@sante.fr")
        .expect("resolve");
    assert_eq!(r.certificates, vec![enc.clone()]);
    assert_eq!(r.origin, Origin::LocalStore);
    assert_eq!(
        store
            .certificates_for("alice@sante.fr")
            .expect("trait")
            .certificates
            .len(),
        2
    );

    // Remove by fingerprint prefix, then by address.
    let fp = mss_directory::fingerprint(&sig);
    assert_eq!(store.remove(&fp[..12]).expect("remove"), 1);
    assert_eq!(
        store
            .local_certificates_for("alice@sante.fr")
            .expect("lookup"),
        vec![enc.clone()]
    );
    assert_eq!(store.remove("alice@sante.fr").expect("remove"), 1);
    assert!(
        store
            .local_certificates_for("alice@sante.fr")
            .expect("lookup")
            .is_empty()
    );
    assert!(matches!(
        Resolver::new(Some(&store), None).resolve("alice@sante.fr"),
        Err(ResolveError::NoCertificate { .. })
    ));
    assert_eq!(store.list().expect("list").len(), 1, "the CA stays");
    assert!(matches!(
        store.remove("abc"),
        Err(DirectoryError::Invalid(_))
    ));
}

#[test]
fn bad_input_is_a_typed_error() {
    let store = LocalStore::open_in_memory().expect("store");
    assert!(matches!(
        store.import_certificates(b"hello"),
        Err(DirectoryError::Invalid(_))
    ));
    assert!(matches!(
        store.import_certificates(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(DirectoryError::Invalid(_))
    ));
    assert!(matches!(
        store.import_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
        Err(DirectoryError::Invalid(_))
    ));
    assert!(matches!(
        store.put_crl(b"not a crl", CrlOrigin::Local, "x", SystemTime::now()),
        Err(DirectoryError::Invalid(_))
    ));
    // A file that is not a database.
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("junk.sqlite");
    std::fs::write(&p, b"this is not an SQLite database, not at all........").expect("write");
    assert!(matches!(
        LocalStore::open(&p),
        Err(DirectoryError::Store(_))
    ));
}

#[test]
fn cache_has_a_lifetime_and_is_purged() {
    let pki = TestPki::new("Cache CA");
    let enc = pki.person("Bob", "bob@sante.fr", KeyUsageProfile::EncryptOnly, 365);
    let store = LocalStore::open_in_memory().expect("store");
    let now = SystemTime::now();
    store
        .cache_lookup(
            "Bob@Sante.fr",
            std::slice::from_ref(&enc),
            "ldap://x (o=y)",
            now,
            Duration::from_secs(60),
        )
        .expect("cache");
    let c = store
        .cached_lookup("bob@sante.fr")
        .expect("read")
        .expect("cached");
    assert_eq!(c.certificates, vec![enc.clone()]);
    assert_eq!(c.source, "ldap://x (o=y)");
    assert!(c.expires_at > now);
    // Cached, not imported: the store as a directory does not offer it.
    assert!(
        store
            .local_certificates_for("bob@sante.fr")
            .expect("local")
            .is_empty()
    );
    assert!(!store.list().expect("list")[0].is_local());

    // Fresh: served without any directory.
    let mut resolver = Resolver::new(Some(&store), None);
    resolver.time = now;
    let r = resolver.resolve("bob@sante.fr").expect("fresh");
    assert!(matches!(r.origin, Origin::Cache { expired: false, .. }));
    // Expired, and no directory to ask: nothing.
    resolver.time = now + Duration::from_secs(120);
    assert!(matches!(
        resolver.resolve("bob@sante.fr"),
        Err(ResolveError::NoCertificate { .. })
    ));

    // Forgetting an answer (the directory now says "none") drops it at once.
    store
        .cache_lookup(
            "carol@sante.fr",
            std::slice::from_ref(&enc),
            "ldap://x (o=y)",
            now,
            Duration::from_secs(60),
        )
        .expect("cache");
    store.forget_lookup("Carol@sante.fr").expect("forget");
    assert!(
        store
            .cached_lookup("carol@sante.fr")
            .expect("read")
            .is_none()
    );

    assert_eq!(
        store
            .purge_expired(now + Duration::from_secs(120))
            .expect("purge"),
        1
    );
    assert!(store.cached_lookup("bob@sante.fr").expect("read").is_none());
    assert!(
        store.list().expect("list").is_empty(),
        "cached certificates go with their answer"
    );
}

#[test]
fn crls_by_issuer_with_deltas() {
    let pki = TestPki::new("CRL CA");
    let victim = pki.person("Eve", "eve@sante.fr", KeyUsageProfile::SignOnly, 365);
    let base = pki.crl(1, &[&victim], None);
    let delta = pki.crl(2, &[], Some(1));
    let store = LocalStore::open_in_memory().expect("store");
    let now = SystemTime::now();
    let b = store
        .put_crl(&base, CrlOrigin::Local, "base.crl", now)
        .expect("base");
    assert!(!b.delta);
    let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &delta).expect("pem");
    let d = store
        .put_crl(
            pem.as_bytes(),
            CrlOrigin::Cache(Duration::from_secs(60)),
            "ldap://x",
            now,
        )
        .expect("delta");
    assert!(d.delta);
    let issuer = pki.root().tbs_certificate().subject();
    assert_eq!(
        store.crls_by_issuer(issuer).expect("by issuer"),
        vec![base.clone(), delta.clone()]
    );
    let entry = store.ca_entry(&issuer.to_string()).expect("entry");
    assert_eq!(entry.crls, vec![base.clone()]);
    assert_eq!(entry.delta_crls, vec![delta.clone()]);
    assert_eq!(store.list_crls().expect("list").len(), 2);
    // The cached delta expires, the imported base stays.
    store
        .purge_expired(now + Duration::from_secs(120))
        .expect("purge");
    assert_eq!(store.crls_by_issuer(issuer).expect("by issuer"), vec![base]);
    assert_eq!(store.remove_crl(&b.fingerprint[..10]).expect("remove"), 1);
    assert!(store.list_crls().expect("list").is_empty());
}
