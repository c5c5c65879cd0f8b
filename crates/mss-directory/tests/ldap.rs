//! The LDAP backend against a real OpenLDAP `slapd` on 127.0.0.1, loaded with people
//! (several certificates each) and a CA entry with its CRL, ARL and delta CRL.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::Encode;
use mss_algs::policy::StandardPolicy;
use mss_directory::select::encryption_certificates;
use mss_directory::{
    Directory, DirectoryError, LdapConfig, LdapDirectory, LocalStore, Origin, ResolveError,
    Resolver, crl_distribution_point_urls,
};
use mss_pki::{ValidationError, ValidationOptions, Validator};
use mss_token::ca::KeyUsageProfile;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use support::pki::{TestPki, pkcs7_bag};
use support::slapd::{Ldif, SUFFIX, Slapd, free_port};

/// The people of the test directory (made once: RSA key generation is slow).
struct People {
    pki: TestPki,
    alice_sig: Certificate,
    alice_enc: Certificate,
    alice_dual: Certificate,
    bob: Certificate,
    carol_sig: Certificate,
    team: Certificate,
    ldif: String,
}

fn der(c: &Certificate) -> Vec<u8> {
    c.to_der().expect("der")
}

fn people() -> &'static People {
    static P: OnceLock<People> = OnceLock::new();
    P.get_or_init(|| {
        let pki = TestPki::new("Test CA");
        let alice_sig = pki.person(
            "Alice Martin",
            "alice@sante.fr",
            KeyUsageProfile::SignOnly,
            365,
        );
        let alice_enc = pki.person(
            "Alice Martin",
            "alice@sante.fr",
            KeyUsageProfile::EncryptOnly,
            365,
        );
        let alice_dual = pki.person(
            "Alice Martin",
            "alice@sante.fr",
            KeyUsageProfile::SignAndEncrypt,
            365,
        );
        let bob = pki.person(
            "Bob Durand",
            "bob@sante.fr",
            KeyUsageProfile::SignAndEncrypt,
            365,
        );
        let carol_sig = pki.person(
            "Carol Petit",
            "carol@sante.fr",
            KeyUsageProfile::SignOnly,
            365,
        );
        let team = pki.person("Equipe", "team@sante.fr", KeyUsageProfile::EncryptOnly, 365);
        let mut ldif = Ldif::new();
        // Signature certificate first: the directory's order must not decide.
        ldif.person(
            "Alice Martin",
            "alice@sante.fr",
            &[der(&alice_sig), der(&alice_dual), der(&alice_enc)],
            None,
        );
        let bag = pkcs7_bag(&[&bob]).expect("openssl crl2pkcs7 (a test peer)");
        ldif.person("Bob Durand", "bob@sante.fr", &[], Some(&bag));
        ldif.person("Carol Petit", "carol@sante.fr", &[der(&carol_sig)], None);
        for i in 1..=12 {
            ldif.person(&format!("Membre {i}"), "team@sante.fr", &[der(&team)], None);
        }
        let crl = pki.crl(1, &[], None);
        let arl = pki.crl(1, &[], None);
        ldif.ca("Test CA", &pki.root_der(), &crl, &arl, None);
        People {
            pki,
            alice_sig,
            alice_enc,
            alice_dual,
            bob,
            carol_sig,
            team,
            ldif: ldif.text().to_owned(),
        }
    })
}

fn directory(server: &Slapd) -> LdapDirectory {
    LdapDirectory::new(LdapConfig::new(&server.url(), SUFFIX)).expect("config")
}

#[test]
fn lookup_by_address_returns_every_certificate_and_the_encryption_one_first() {
    let p = people();
    let server = Slapd::start(&p.ldif, None);
    let dir = directory(&server);
    let lookup = dir.certificates_for("Alice@Sante.FR").expect("lookup");
    assert!(!lookup.truncated);
    assert_eq!(
        lookup.certificates.len(),
        3,
        "signature, dual-use and encryption"
    );
    for c in [&p.alice_sig, &p.alice_enc, &p.alice_dual] {
        assert!(lookup.certificates.contains(c));
    }
    let usable = encryption_certificates(&lookup.certificates, "alice@sante.fr", SystemTime::now());
    assert_eq!(usable, vec![p.alice_enc.clone(), p.alice_dual.clone()]);
    assert!(
        !usable.contains(&p.alice_sig),
        "a signature-only certificate never encrypts"
    );

    // The resolver picks the encryption certificate.
    let r = Resolver::new(None, Some(&dir))
        .resolve("alice@sante.fr")
        .expect("resolve");
    assert_eq!(r.best(), Some(&p.alice_enc));
    assert!(matches!(
        r.origin,
        Origin::Directory {
            truncated: false,
            ..
        }
    ));
    assert!(r.warning().is_none());
}

#[test]
fn user_smime_certificate_bags_are_read() {
    let p = people();
    let server = Slapd::start(&p.ldif, None);
    let dir = directory(&server);
    let lookup = dir.certificates_for("bob@sante.fr").expect("lookup");
    assert_eq!(lookup.certificates, vec![p.bob.clone()]);
    let r = Resolver::new(None, Some(&dir))
        .resolve("bob@sante.fr")
        .expect("resolve");
    assert_eq!(r.best(), Some(&p.bob));
}

#[test]
fn missing_recipient_is_no_certificate() {
    let p = people();
    let server = Slapd::start(&p.ldif, None);
    let dir = directory(&server);
    let nobody = dir.certificates_for("nobody@sante.fr").expect("lookup");
    assert!(nobody.certificates.is_empty());
    let resolver = Resolver::new(None, Some(&dir));
    assert_eq!(
        resolver.resolve("nobody@sante.fr").unwrap_err(),
        ResolveError::NoCertificate {
            address: "nobody@sante.fr".into()
        }
    );
    // Carol only publishes a signature certificate: nothing to encrypt to.
    assert_eq!(
        dir.certificates_for("carol@sante.fr")
            .expect("lookup")
            .certificates,
        vec![p.carol_sig.clone()]
    );
    assert!(matches!(
        resolver.resolve("carol@sante.fr"),
        Err(ResolveError::NoCertificate { .. })
    ));
    // A filter-special address is escaped, not interpreted.
    assert!(
        dir.certificates_for("*)(mail=*")
            .expect("lookup")
            .certificates
            .is_empty()
    );
}

#[test]
fn size_limited_answers_are_flagged_not_failed() {
    let p = people();
    // The GIP-CPS directory returned at most 10 entries; 12 entries share team@.
    let server = Slapd::start(&p.ldif, Some(10));
    let dir = directory(&server);
    let lookup = dir
        .certificates_for("team@sante.fr")
        .expect("capped answer is not an error");
    assert!(lookup.truncated, "sizeLimitExceeded must be reported");
    assert_eq!(lookup.certificates, vec![p.team.clone()]);
    let r = Resolver::new(None, Some(&dir))
        .resolve("team@sante.fr")
        .expect("resolve");
    assert!(matches!(
        r.origin,
        Origin::Directory {
            truncated: true,
            ..
        }
    ));
    assert!(
        r.warning()
            .expect("warning")
            .starts_with("directory-truncated")
    );
    // One entry: not truncated under the same limit.
    assert!(
        !dir.certificates_for("alice@sante.fr")
            .expect("lookup")
            .truncated
    );

    // The client-side limit is honoured too.
    let unlimited = Slapd::start(&p.ldif, None);
    let capped = LdapDirectory::new(LdapConfig::new(&unlimited.url(), SUFFIX).with_size_limit(3))
        .expect("config");
    assert!(
        capped
            .certificates_for("team@sante.fr")
            .expect("lookup")
            .truncated
    );
    assert!(
        !directory(&unlimited)
            .certificates_for("team@sante.fr")
            .expect("lookup")
            .truncated
    );
}

#[test]
fn server_down_serves_the_cache_or_says_unreachable() {
    let p = people();
    let mut server = Slapd::start(&p.ldif, None);
    let dir = LdapDirectory::new(
        LdapConfig::new(&server.url(), SUFFIX).with_timeout(Duration::from_secs(5)),
    )
    .expect("config");
    let store = LocalStore::open_in_memory().expect("store");
    let now = SystemTime::now();
    let mut resolver = Resolver::new(Some(&store), Some(&dir));
    resolver.time = now;

    // Online: the directory answers and the answer is cached.
    let r = resolver.resolve("alice@sante.fr").expect("online");
    assert!(matches!(r.origin, Origin::Directory { .. }));
    let cached = store
        .cached_lookup("alice@sante.fr")
        .expect("cache")
        .expect("cached");
    assert_eq!(
        cached.certificates.len(),
        2,
        "the usable certificates are cached"
    );

    server.stop();
    assert!(matches!(
        dir.certificates_for("alice@sante.fr"),
        Err(DirectoryError::Unreachable(_))
    ));

    // Within its lifetime the cache answers without the network.
    let r = resolver.resolve("alice@sante.fr").expect("fresh cache");
    assert_eq!(r.best(), Some(&p.alice_enc));
    assert!(matches!(
        r.origin,
        Origin::Cache {
            expired: false,
            directory_unreachable: None,
            ..
        }
    ));

    // Past its lifetime the directory is asked; it is down, so the cache serves and
    // says so.
    resolver.time = now + Duration::from_secs(2 * 86_400);
    let r = resolver.resolve("alice@sante.fr").expect("stale cache");
    assert_eq!(r.best(), Some(&p.alice_enc));
    match &r.origin {
        Origin::Cache {
            expired: true,
            directory_unreachable: Some(_),
            ..
        } => {}
        other => panic!("unexpected origin {other:?}"),
    }
    assert!(
        r.warning()
            .expect("warning")
            .starts_with("directory-unreachable")
    );

    // Never cached: the directory is unreachable — not "no certificate".
    match resolver.resolve("bob@sante.fr") {
        Err(ResolveError::DirectoryUnreachable { address, .. }) => {
            assert_eq!(address, "bob@sante.fr")
        }
        other => panic!("expected DirectoryUnreachable, got {other:?}"),
    }

    // Back online: the directory answers again.
    server.restart();
    let r = resolver.resolve("bob@sante.fr").expect("online again");
    assert!(matches!(r.origin, Origin::Directory { .. }));
}

#[test]
fn ca_entry_holds_certificate_crl_arl_and_delta() {
    let p = people();
    let pki = &p.pki;
    let crl = pki.crl(3, &[&p.alice_sig], None);
    let delta = pki.crl(4, &[&p.bob], Some(3));
    let arl = pki.crl(3, &[], None);
    let mut ldif = Ldif::new();
    ldif.ca("Test CA", &pki.root_der(), &crl, &arl, Some(&delta));
    let server = Slapd::start(ldif.text(), None);
    let dir = directory(&server);
    let entry = dir
        .ca_entry(&format!("cn=Test CA,ou=ac,{SUFFIX}"))
        .expect("CA entry");
    assert_eq!(entry.ca_certificates, vec![pki.root_der()]);
    assert_eq!(entry.crls, vec![crl.clone()]);
    assert_eq!(entry.authority_crls, vec![arl.clone()]);
    assert_eq!(entry.delta_crls, vec![delta.clone()]);
    assert_eq!(
        dir.ca_crls(&format!("cn=Test CA,ou=ac,{SUFFIX}"))
            .expect("crls"),
        vec![crl, arl, delta]
    );
    assert!(matches!(
        dir.ca_entry(&format!("cn=Nobody,ou=ac,{SUFFIX}")),
        Err(DirectoryError::NoSuchEntry(_))
    ));
}

#[test]
fn revoked_signer_found_through_an_ldap_distribution_point() {
    let p = people();
    let pki = &p.pki;
    // The port goes into the certificates' distribution points before slapd starts.
    let port = free_port();
    let dp = format!(
        "ldap://127.0.0.1:{port}/cn=Test%20CA,ou=ac,o=gip-cps,c=fr?certificateRevocationList;binary?base?objectClass=pkiCA"
    );
    let delta_dp = format!(
        "ldap://127.0.0.1:{port}/cn=Test%20CA,ou=ac,o=gip-cps,c=fr?deltaRevocationList;binary?base?objectClass=pkiCA"
    );
    let revoked = pki.signer_with_dp("Dr Revoked", "revoked@sante.fr", &dp);
    let good = pki.signer_with_dp("Dr Good", "good@sante.fr", &dp);
    let revoked_in_delta = pki.signer_with_dp("Dr Delta", "delta@sante.fr", &dp);
    assert_eq!(crl_distribution_point_urls(&revoked), vec![dp.clone()]);
    let crl = pki.crl(5, &[&revoked], None);
    let delta = pki.crl(6, &[&revoked_in_delta], Some(5));
    let arl = pki.crl(5, &[], None);
    let mut ldif = Ldif::new();
    ldif.ca("Test CA", &pki.root_der(), &crl, &arl, Some(&delta));
    let server = Slapd::start_on(port, ldif.text(), None);
    // The client is configured for another base: the URL alone says where to go.
    let dir = LdapDirectory::new(LdapConfig::new(&server.url(), "ou=people,o=gip-cps,c=fr"))
        .expect("config");

    let fetched = dir.fetch_crls_by_url(&dp).expect("fetch by URL");
    assert_eq!(fetched, vec![crl.clone()]);
    assert_eq!(
        dir.crls_for_certificate(&revoked).expect("by certificate"),
        vec![crl.clone()]
    );
    let crls: Vec<_> = fetched
        .iter()
        .map(|d| mss_pki::decode_crl(d).expect("CRL"))
        .collect();
    let anchors = vec![pki.root().clone()];
    let policy = StandardPolicy;
    let v = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(SystemTime::now()).with_crls(&crls),
        &policy,
    );
    match v.build(&revoked) {
        Err(ValidationError::Revoked { subject, .. }) => assert!(subject.contains("Dr Revoked")),
        other => panic!("expected revoked, got {other:?}"),
    }
    v.build(&good)
        .expect("a signer absent from the CRL validates");
    v.build(&revoked_in_delta)
        .expect("without the delta CRL, the delta-revoked signer still looks good");

    // With the delta CRL (fetched from the CA entry, or by its own URL) it is revoked.
    let all = dir
        .ca_crls(&format!("cn=Test CA,ou=ac,{SUFFIX}"))
        .expect("CA entry CRLs");
    assert_eq!(all.len(), 3);
    assert_eq!(
        dir.fetch_crls_by_url(&delta_dp).expect("delta"),
        vec![delta.clone()]
    );
    let crls: Vec<_> = all
        .iter()
        .map(|d| mss_pki::decode_crl(d).expect("CRL"))
        .collect();
    let v = Validator::new(
        &anchors,
        &[],
        ValidationOptions::at(SystemTime::now()).with_crls(&crls),
        &policy,
    );
    assert!(matches!(
        v.build(&revoked_in_delta),
        Err(ValidationError::Revoked { .. })
    ));
    assert!(matches!(
        v.build(&revoked),
        Err(ValidationError::Revoked { .. })
    ));
    v.build(&good).expect("still good");

    // Through the store's cache: fetched and cached; the server goes down, the cached
    // CRL still answers (and says it comes from the cache).
    let store = LocalStore::open_in_memory().expect("store");
    let now = SystemTime::now();
    let (c, from_cache) = dir
        .fetch_crls_by_url_cached(&dp, &store, now, Duration::from_secs(3600))
        .expect("online");
    assert_eq!((c, from_cache), (vec![crl.clone()], false));
    let mut server = server;
    server.stop();
    let (c, from_cache) = dir
        .fetch_crls_by_url_cached(&dp, &store, now, Duration::from_secs(3600))
        .expect("cached");
    assert_eq!((c, from_cache), (vec![crl.clone()], true));
    assert!(matches!(
        dir.fetch_crls_by_url_cached(&delta_dp, &store, now, Duration::from_secs(3600)),
        Err(DirectoryError::Unreachable(_))
    ));
    server.restart();

    // A distribution point naming a missing entry is an error, not an empty CRL set.
    let missing = format!(
        "ldap://127.0.0.1:{port}/cn=Nobody,ou=ac,o=gip-cps,c=fr?certificateRevocationList;binary?base?objectClass=pkiCA"
    );
    assert!(matches!(
        dir.fetch_crls_by_url(&missing),
        Err(DirectoryError::NoSuchEntry(_))
    ));
}

#[test]
fn configuration_and_bind_errors_are_typed() {
    assert!(matches!(
        LdapDirectory::new(LdapConfig::new("http://127.0.0.1", SUFFIX)),
        Err(DirectoryError::InvalidUrl { .. })
    ));
    assert!(matches!(
        LdapDirectory::new(
            LdapConfig::new("ldap://127.0.0.1", SUFFIX).with_filter_template("(mail=x)")
        ),
        Err(DirectoryError::Config(_))
    ));
    // Nobody listens on a fresh free port: unreachable, quickly.
    let closed = LdapDirectory::new(LdapConfig::new(
        &format!("ldap://127.0.0.1:{}", free_port()),
        SUFFIX,
    ))
    .expect("config");
    assert!(matches!(
        closed.certificates_for("alice@sante.fr"),
        Err(DirectoryError::Unreachable(_))
    ));
    assert!(matches!(
        closed.fetch_crls_by_url("https://example.invalid/ca.crl"),
        Err(DirectoryError::InvalidUrl { .. })
    ));

    let p = people();
    let server = Slapd::start(&p.ldif, None);
    let wrong = LdapDirectory::new(LdapConfig::new(&server.url(), SUFFIX).with_bind(
        &format!("cn=admin,{SUFFIX}"),
        Zeroizing::new("wrong".into()),
    ))
    .expect("config");
    assert!(matches!(
        wrong.certificates_for("alice@sante.fr"),
        Err(DirectoryError::Refused { code: 49, .. })
    ));
    let right = LdapDirectory::new(
        LdapConfig::new(&server.url(), SUFFIX)
            .with_bind(
                &format!("cn=admin,{SUFFIX}"),
                Zeroizing::new("secret".into()),
            )
            .with_filter_template("(&(objectClass=inetOrgPerson)(mail={address}))"),
    )
    .expect("config");
    assert_eq!(
        right
            .certificates_for("alice@sante.fr")
            .expect("bound lookup")
            .certificates
            .len(),
        3
    );
    assert!(
        !format!("{:?}", right.config()).contains("secret"),
        "password never in Debug"
    );
}

#[test]
fn ldaps_to_an_untrusted_server_fails_closed() {
    let p = people();
    let server = Slapd::start_ldaps(&p.ldif);
    assert!(server.url().starts_with("ldaps://"));
    let dir = directory(&server);
    // The server's self-signed certificate chains to no system root: the TLS handshake
    // fails and nothing is read (no fallback to clear text).
    match dir.certificates_for("alice@sante.fr") {
        Err(DirectoryError::Unreachable(why)) => {
            assert!(
                why.to_ascii_lowercase().contains("certificate")
                    || why.contains("tls")
                    || why.contains("rustls"),
                "{why}"
            )
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}
