//! The LDAP v3 backend (`ldap3`, sync API).
//!
//! Each operation opens its own connection (anonymous or simple bind), runs one search
//! and unbinds: lookups are rare (once per recipient before a send) and a connection
//! kept across them would only add failure modes. Entries are read with a small,
//! non-panicking walker over the BER structure `ldap3` hands back, since its
//! `SearchEntry::construct` panics on a malformed entry and a directory answer is
//! untrusted input.
//!
//! Size limits: the client asks for at most [`LdapConfig::size_limit`] entries, and a
//! server that caps the answer (sizeLimitExceeded, as the GIP-CPS directory did at 10
//! entries) is not an error: the entries received are used and the answer is flagged
//! [`crate::Lookup::truncated`].

use std::fmt;
use std::time::Duration;

use der::Decode;
use ldap3::asn1::{PL, StructureTag};
use ldap3::{LdapConn, LdapConnSettings, LdapError, ResultEntry, Scope, SearchOptions};
use x509_cert::Certificate;
use x509_cert::ext::pkix::CrlDistributionPoints;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use zeroize::Zeroizing;

use crate::{CaEntry, Directory, DirectoryError, Lookup};

/// LDAP result codes mss treats specially (RFC 4511 appendix A).
const RC_SUCCESS: u32 = 0;
const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;
const RC_NO_SUCH_OBJECT: u32 = 32;

/// The person attributes that carry certificates.
const USER_CERTIFICATE: &str = "userCertificate";
const USER_SMIME_CERTIFICATE: &str = "userSMIMECertificate";
/// The CA entry attributes.
const CA_CERTIFICATE: &str = "cACertificate";
const CRL: &str = "certificateRevocationList";
const ARL: &str = "authorityRevocationList";
const DELTA_CRL: &str = "deltaRevocationList";

/// Simple-bind credentials. The password is zeroized on drop and never printed.
#[derive(Clone)]
pub struct SimpleBind {
    /// The bind DN.
    pub dn: String,
    /// The password.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for SimpleBind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleBind")
            .field("dn", &self.dn)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How to reach and query an LDAP directory.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]` (a path or query is ignored).
    pub url: String,
    /// Search base for people, e.g. `o=gip-cps,c=fr`.
    pub base: String,
    /// Simple bind; `None` binds anonymously.
    pub bind: Option<SimpleBind>,
    /// Search filter with `{address}` where the (escaped) e-mail address goes.
    /// Default `(mail={address})`.
    pub filter_template: String,
    /// Connection and per-operation timeout. Default 10 s.
    pub timeout: Duration,
    /// The most entries asked for in one search (the server may cap lower). Default 50.
    pub size_limit: i32,
}

impl LdapConfig {
    /// Anonymous, `(mail={address})`, 10 s timeout, 50 entries at most.
    pub fn new(url: &str, base: &str) -> Self {
        LdapConfig {
            url: url.to_owned(),
            base: base.to_owned(),
            bind: None,
            filter_template: "(mail={address})".to_owned(),
            timeout: Duration::from_secs(10),
            size_limit: 50,
        }
    }

    /// Bind with a DN and password.
    pub fn with_bind(mut self, dn: &str, password: Zeroizing<String>) -> Self {
        self.bind = Some(SimpleBind {
            dn: dn.to_owned(),
            password,
        });
        self
    }

    /// Use another filter template (must contain `{address}`).
    pub fn with_filter_template(mut self, template: &str) -> Self {
        self.filter_template = template.to_owned();
        self
    }

    /// Set the connection and operation timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Set the client-side size limit.
    pub fn with_size_limit(mut self, limit: i32) -> Self {
        self.size_limit = limit;
        self
    }
}

/// An LDAP v3 directory.
#[derive(Debug, Clone)]
pub struct LdapDirectory {
    config: LdapConfig,
    server: url::Url,
}

/// One entry of an answer: its attributes (name as returned, values).
struct RawEntry {
    attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// Values of every returned attribute whose base name (before `;`) is `name`.
    fn values(&self, name: &str) -> impl Iterator<Item = &Vec<u8>> {
        self.attributes
            .iter()
            .filter(move |(n, _)| {
                n.split(';')
                    .next()
                    .is_some_and(|b| b.eq_ignore_ascii_case(name))
            })
            .flat_map(|(_, v)| v.iter())
    }
}

fn parse_server(url: &str) -> Result<url::Url, DirectoryError> {
    let invalid = |reason: String| DirectoryError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    match parsed.scheme() {
        "ldap" | "ldaps" => {}
        other => return Err(invalid(format!("scheme {other:?} (ldap or ldaps)"))),
    }
    Ok(parsed)
}

/// `scheme://host[:port]` of a parsed LDAP URL, or `None` when it names no host.
fn server_of(url: &url::Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Some(match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

fn map_ldap_error(e: LdapError) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } => refused(result.rc, &result.text),
        LdapError::FilterParsing => {
            DirectoryError::Config("the search filter does not parse".into())
        }
        LdapError::UrlParsing { source } => DirectoryError::InvalidUrl {
            url: String::new(),
            reason: source.to_string(),
        },
        LdapError::UnknownScheme(s) => DirectoryError::InvalidUrl {
            url: String::new(),
            reason: format!("scheme {s:?}"),
        },
        // I/O, timeouts, TLS, DNS, the connection task gone: the server was not reached
        // (or stopped answering).
        other => DirectoryError::Unreachable(other.to_string()),
    }
}

fn refused(code: u32, text: &str) -> DirectoryError {
    let message = if text.is_empty() {
        match code {
            3 => "time limit exceeded",
            11 => "administrative limit exceeded",
            32 => "no such object",
            48 => "inappropriate authentication",
            49 => "invalid credentials",
            50 => "insufficient access rights",
            51 => "busy",
            52 => "unavailable",
            53 => "unwilling to perform",
            _ => "error",
        }
        .to_owned()
    } else {
        text.to_owned()
    };
    DirectoryError::Refused { code, message }
}

/// The entry of a search answer, read without panicking; `None` for referrals and
/// intermediate messages.
fn read_entry(entry: ResultEntry) -> Result<Option<RawEntry>, DirectoryError> {
    if entry.is_ref() || entry.is_intermediate() {
        return Ok(None);
    }
    let bad = |what: &str| DirectoryError::Malformed(format!("search entry: {what}"));
    let mut parts = entry
        .0
        .match_id(4)
        .and_then(StructureTag::expect_constructed)
        .ok_or_else(|| bad("not a SearchResultEntry"))?
        .into_iter();
    parts
        .next()
        .and_then(StructureTag::expect_primitive)
        .ok_or_else(|| bad("no DN"))?;
    let mut attributes = Vec::new();
    let list = parts
        .next()
        .and_then(StructureTag::expect_constructed)
        .ok_or_else(|| bad("no attribute list"))?;
    for partial in list {
        let mut pa = partial
            .expect_constructed()
            .ok_or_else(|| bad("attribute is not a sequence"))?
            .into_iter();
        let name = pa
            .next()
            .and_then(StructureTag::expect_primitive)
            .ok_or_else(|| bad("attribute without a type"))?;
        let name = String::from_utf8(name).map_err(|_| bad("attribute type is not UTF-8"))?;
        let values = match pa.next().map(|t| t.payload) {
            Some(PL::C(values)) => values
                .into_iter()
                .map(|v| v.expect_primitive().ok_or_else(|| bad("constructed value")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(bad("attribute without a value set")),
        };
        attributes.push((name, values));
    }
    Ok(Some(RawEntry { attributes }))
}

impl LdapDirectory {
    /// A directory reached with `config`. Checks the URL scheme, the base and the
    /// filter template; does not connect.
    pub fn new(config: LdapConfig) -> Result<Self, DirectoryError> {
        let server = parse_server(&config.url)?;
        if server_of(&server).is_none() {
            return Err(DirectoryError::InvalidUrl {
                url: config.url.clone(),
                reason: "no host".into(),
            });
        }
        if !config.filter_template.contains("{address}") {
            return Err(DirectoryError::Config(format!(
                "filter template {:?} has no {{address}}",
                config.filter_template
            )));
        }
        if config.size_limit < 1 {
            return Err(DirectoryError::Config(
                "size limit must be at least 1".into(),
            ));
        }
        Ok(LdapDirectory { config, server })
    }

    /// The configuration.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Connect to `server` (`scheme://host:port`) and bind: with the configured
    /// credentials when `server` is the configured one, anonymously otherwise (a
    /// distribution point on another host gets no password).
    fn connect(&self, server: &str) -> Result<LdapConn, DirectoryError> {
        let settings = LdapConnSettings::new().set_conn_timeout(self.config.timeout);
        let mut conn = LdapConn::with_settings(settings, server).map_err(map_ldap_error)?;
        let own = server_of(&self.server).as_deref() == Some(server);
        if let (true, Some(bind)) = (own, &self.config.bind) {
            conn.with_timeout(self.config.timeout);
            let res = conn
                .simple_bind(&bind.dn, &bind.password)
                .map_err(map_ldap_error)?;
            if res.rc != RC_SUCCESS {
                return Err(refused(res.rc, &res.text));
            }
        }
        Ok(conn)
    }

    /// One search on `server`; sizeLimitExceeded keeps the entries and sets the flag.
    fn search(
        &self,
        server: &str,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<(Vec<RawEntry>, bool), DirectoryError> {
        let mut conn = self.connect(server)?;
        let timelimit = i32::try_from(self.config.timeout.as_secs().max(1)).unwrap_or(i32::MAX);
        conn.with_search_options(
            SearchOptions::new()
                .sizelimit(self.config.size_limit)
                .timelimit(timelimit),
        );
        conn.with_timeout(self.config.timeout);
        let result = conn.search(base, scope, filter, attrs.to_vec());
        // Best effort: the answer is what matters.
        let _ = conn.unbind();
        let result = result.map_err(map_ldap_error)?;
        let truncated = match result.1.rc {
            RC_SUCCESS => false,
            RC_SIZE_LIMIT_EXCEEDED => true,
            RC_NO_SUCH_OBJECT => return Err(DirectoryError::NoSuchEntry(base.to_owned())),
            // timeLimitExceeded, busy, unavailable: the server cannot answer now.
            rc @ (3 | 51 | 52) => {
                return Err(DirectoryError::Unreachable(
                    refused(rc, &result.1.text).to_string(),
                ));
            }
            rc => return Err(refused(rc, &result.1.text)),
        };
        let mut entries = Vec::new();
        for e in result.0 {
            if let Some(entry) = read_entry(e)? {
                entries.push(entry);
            }
        }
        Ok((entries, truncated))
    }

    fn own_server(&self) -> String {
        // Checked in `new`.
        server_of(&self.server).unwrap_or_default()
    }

    /// The revocation lists a CRL distribution point URL names
    /// (`ldap://host:port/cn=CA,o=…?certificateRevocationList;binary?base?objectClass=pkiCA`):
    /// the values of the URL's attributes (every CRL attribute of the entry when the
    /// URL names none) on the entry it names, fetched from the URL's host (the
    /// configured server when the URL names no host, `ldap:///…`).
    pub fn fetch_crls_by_url(&self, ldap_url: &str) -> Result<Vec<Vec<u8>>, DirectoryError> {
        let url = parse_server(ldap_url)?;
        let params = ldap3::get_url_params(&url).map_err(|e| DirectoryError::InvalidUrl {
            url: ldap_url.to_owned(),
            reason: e.to_string(),
        })?;
        let server = server_of(&url).unwrap_or_else(|| self.own_server());
        let wanted: Vec<&str> = params
            .attrs
            .iter()
            .copied()
            .filter(|a| !a.is_empty() && *a != "*")
            .collect();
        let attrs: Vec<&str> = if wanted.is_empty() {
            vec![
                "certificateRevocationList;binary",
                "authorityRevocationList;binary",
                "deltaRevocationList;binary",
            ]
        } else {
            wanted
        };
        let (entries, _) =
            self.search(&server, &params.base, params.scope, &params.filter, &attrs)?;
        let names: Vec<&str> = attrs
            .iter()
            .map(|a| a.split(';').next().unwrap_or(a))
            .collect();
        Ok(entries
            .iter()
            .flat_map(|e| names.iter().flat_map(|n| e.values(n)))
            .cloned()
            .collect())
    }

    /// [`LdapDirectory::fetch_crls_by_url`] through the store's cache: a fetched
    /// answer replaces the CRLs cached for that URL (lifetime `ttl`); when the server
    /// cannot be reached, the CRLs cached for the URL are returned, even past their
    /// lifetime (the validator still checks each CRL's nextUpdate), with `true` as
    /// the second value. Without a cached copy the error stays
    /// [`DirectoryError::Unreachable`].
    pub fn fetch_crls_by_url_cached(
        &self,
        ldap_url: &str,
        store: &crate::LocalStore,
        now: std::time::SystemTime,
        ttl: Duration,
    ) -> Result<(Vec<Vec<u8>>, bool), DirectoryError> {
        match self.fetch_crls_by_url(ldap_url) {
            Ok(crls) => {
                store.cache_crls(ldap_url, &crls, now, ttl)?;
                Ok((crls, false))
            }
            Err(DirectoryError::Unreachable(why)) => {
                let (cached, _) = store.crls_by_source(ldap_url, now)?;
                if cached.is_empty() {
                    Err(DirectoryError::Unreachable(why))
                } else {
                    Ok((cached, true))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Every revocation list (CRL, ARL, delta CRL) of the CA entry `ca_dn` on the
    /// configured server.
    pub fn ca_crls(&self, ca_dn: &str) -> Result<Vec<Vec<u8>>, DirectoryError> {
        Ok(self.ca_entry(ca_dn)?.all_crls())
    }

    /// The revocation lists reachable from `cert`'s CRL distribution points that are
    /// LDAP URLs (other schemes are skipped). A distribution point that fails makes the
    /// whole call fail: a missing CRL must not look like "not revoked".
    pub fn crls_for_certificate(&self, cert: &Certificate) -> Result<Vec<Vec<u8>>, DirectoryError> {
        let mut out = Vec::new();
        for url in crl_distribution_point_urls(cert) {
            if url.starts_with("ldap://") || url.starts_with("ldaps://") {
                out.extend(self.fetch_crls_by_url(&url)?);
            }
        }
        Ok(out)
    }
}

/// The URIs of a certificate's CRL distribution points (full names only).
pub fn crl_distribution_point_urls(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, dps))) = cert
        .tbs_certificate()
        .get_extension::<CrlDistributionPoints>()
    else {
        return Vec::new();
    };
    dps.0
        .iter()
        .filter_map(|dp| match &dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

impl Directory for LdapDirectory {
    fn certificates_for(&self, address: &str) -> Result<Lookup, DirectoryError> {
        let address = address.trim();
        if address.is_empty() {
            return Err(DirectoryError::Invalid("empty e-mail address".into()));
        }
        let filter = self
            .config
            .filter_template
            .replace("{address}", &ldap3::ldap_escape(address));
        let (entries, truncated) = self.search(
            &self.own_server(),
            &self.config.base,
            Scope::Subtree,
            &filter,
            &[
                "userCertificate;binary",
                USER_SMIME_CERTIFICATE,
                "userSMIMECertificate;binary",
            ],
        )?;
        let mut lookup = Lookup {
            truncated,
            ..Lookup::default()
        };
        let push = |c: Certificate, lookup: &mut Lookup| {
            if !lookup.certificates.contains(&c) {
                lookup.certificates.push(c);
            }
        };
        for e in &entries {
            for der in e.values(USER_CERTIFICATE) {
                match Certificate::from_der(der) {
                    Ok(c) => push(c, &mut lookup),
                    Err(_) => lookup.skipped += 1,
                }
            }
            for bag in e.values(USER_SMIME_CERTIFICATE) {
                match certificates_of_pkcs7(bag) {
                    Some(certs) => certs.into_iter().for_each(|c| push(c, &mut lookup)),
                    None => lookup.skipped += 1,
                }
            }
        }
        Ok(lookup)
    }

    fn ca_entry(&self, ca_dn: &str) -> Result<CaEntry, DirectoryError> {
        let (entries, _) = self.search(
            &self.own_server(),
            ca_dn,
            Scope::Base,
            "(objectClass=*)",
            &[
                "cACertificate;binary",
                "certificateRevocationList;binary",
                "authorityRevocationList;binary",
                "deltaRevocationList;binary",
            ],
        )?;
        let mut out = CaEntry::default();
        for e in &entries {
            out.ca_certificates
                .extend(e.values(CA_CERTIFICATE).cloned());
            out.crls.extend(e.values(CRL).cloned());
            out.authority_crls.extend(e.values(ARL).cloned());
            out.delta_crls.extend(e.values(DELTA_CRL).cloned());
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.own_server(), self.config.base)
    }
}

/// The certificates of a PKCS#7 / CMS certificate bag (a SignedData, usually without
/// signers), as `userSMIMECertificate` holds. `None` when it is not one.
fn certificates_of_pkcs7(der: &[u8]) -> Option<Vec<Certificate>> {
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    let ci = ContentInfo::from_der(der).ok()?;
    if ci.content_type != const_oid::db::rfc5911::ID_SIGNED_DATA {
        return None;
    }
    let sd: SignedData = ci.content.decode_as().ok()?;
    Some(
        sd.certificates
            .map(|set| {
                set.0
                    .iter()
                    .filter_map(|c| match c {
                        CertificateChoices::Certificate(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The trust layer's CRL source for `ldap://` and `ldaps://` distribution points: what
/// [`LdapDirectory::fetch_crls_by_url`] finds. Other schemes are left to the next
/// fetcher (`FetchError::UnsupportedScheme`, see `mss_pki::fetch::Fetchers`). An unreachable
/// server is a network error, so the revocation policy's hard or soft fail decides,
/// never "not revoked".
impl mss_pki::fetch::CrlFetcher for LdapDirectory {
    fn fetch_crls(&self, uri: &str) -> Result<Vec<Vec<u8>>, mss_pki::fetch::FetchError> {
        let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("ldap" | "ldaps") => {}
            Some(other) => return Err(mss_pki::fetch::FetchError::UnsupportedScheme(other.into())),
            None => {
                return Err(mss_pki::fetch::FetchError::BadUri {
                    uri: uri.into(),
                    reason: "no scheme".into(),
                });
            }
        }
        self.fetch_crls_by_url(uri).map_err(|e| match e {
            DirectoryError::InvalidUrl { reason, .. } => mss_pki::fetch::FetchError::BadUri {
                uri: uri.into(),
                reason,
            },
            other => mss_pki::fetch::FetchError::Network {
                uri: uri.into(),
                reason: other.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn prim(id: u64, v: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::P(v.to_vec()),
        }
    }

    fn cons(class: TagClass, id: u64, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    fn entry(t: StructureTag) -> ResultEntry {
        ResultEntry::new(t)
    }

    #[test]
    fn entries_are_read_without_panicking() {
        let good = cons(
            TagClass::Application,
            4,
            vec![
                prim(4, b"cn=a,o=b"),
                cons(
                    TagClass::Universal,
                    16,
                    vec![cons(
                        TagClass::Universal,
                        16,
                        vec![
                            prim(4, b"userCertificate;binary"),
                            cons(TagClass::Universal, 17, vec![prim(4, &[0x30, 0x00])]),
                        ],
                    )],
                ),
            ],
        );
        let e = read_entry(entry(good))
            .expect("well-formed")
            .expect("an entry");
        assert_eq!(e.values("usercertificate").count(), 1);
        assert_eq!(e.values("mail").count(), 0);

        // Hostile shapes: errors, never panics.
        let hostile = [
            cons(TagClass::Application, 4, vec![]),
            cons(TagClass::Application, 4, vec![prim(4, b"dn")]),
            cons(
                TagClass::Application,
                4,
                vec![prim(4, &[0xff]), prim(4, b"x")],
            ),
            cons(
                TagClass::Application,
                4,
                vec![
                    prim(4, b"dn"),
                    cons(TagClass::Universal, 16, vec![prim(4, b"x")]),
                ],
            ),
            cons(
                TagClass::Application,
                4,
                vec![
                    prim(4, b"dn"),
                    cons(
                        TagClass::Universal,
                        16,
                        vec![cons(TagClass::Universal, 16, vec![prim(4, b"mail")])],
                    ),
                ],
            ),
            prim(4, b"not an entry"),
        ];
        for h in hostile {
            assert!(matches!(
                read_entry(entry(h)),
                Err(DirectoryError::Malformed(_))
            ));
        }
    }

    #[test]
    fn servers_and_urls() {
        let u = parse_server("ldap://annuaire.gip-cps.fr/o=gip-cps,c=fr").expect("url");
        assert_eq!(server_of(&u).as_deref(), Some("ldap://annuaire.gip-cps.fr"));
        let u = parse_server("ldaps://127.0.0.1:636").expect("url");
        assert_eq!(server_of(&u).as_deref(), Some("ldaps://127.0.0.1:636"));
        let u = parse_server("ldap:///cn=CA,o=x?certificateRevocationList;binary").expect("url");
        assert_eq!(server_of(&u), None);
        assert!(parse_server("http://x").is_err());
        assert!(parse_server("not a url").is_err());
        assert!(LdapDirectory::new(LdapConfig::new("ldap:///o=x", "o=x")).is_err());
        assert!(LdapDirectory::new(LdapConfig::new("ldap://h", "o=x").with_size_limit(0)).is_err());
    }
}
