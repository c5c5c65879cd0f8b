//! Directory verbs and flags: `mss lookup`, `mss store import|list|remove`, and the
//! `--to-address` resolution of `mss encrypt` (local store, then LDAP, cache on
//! failure; see `docs/directory.md`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use mss::Certificate;
use mss::directory::select::encryption_certificates;
use mss::directory::{
    CertificateSummary, CrlOrigin, Directory, DirectoryError, LdapConfig, LdapDirectory,
    LocalStore, Origin,
};

use crate::{Failure, exit};

/// How to reach an LDAP directory.
#[derive(Args, Debug, Default)]
pub struct LdapArgs {
    /// LDAP directory to look certificates up in: `ldap://host[:port]` or
    /// `ldaps://host[:port]` (e.g. ldap://annuaire.gip-cps.fr).
    #[arg(long = "ldap", value_name = "URL")]
    pub ldap: Option<String>,
    /// Search base for people (e.g. o=gip-cps,c=fr). Required with --ldap.
    #[arg(long = "ldap-base", value_name = "DN")]
    pub ldap_base: Option<String>,
    /// Bind DN for a simple bind (default: anonymous).
    #[arg(long = "ldap-bind-dn", value_name = "DN")]
    pub ldap_bind_dn: Option<String>,
    /// Read the bind password from this environment variable (with --ldap-bind-dn).
    #[arg(long = "ldap-password-env", value_name = "VAR")]
    pub ldap_password_env: Option<String>,
    /// Search filter, `{address}` standing for the e-mail address
    /// (default `(mail={address})`).
    #[arg(long = "ldap-filter", value_name = "TEMPLATE")]
    pub ldap_filter: Option<String>,
    /// Connection and search timeout in seconds (default 10).
    #[arg(long = "ldap-timeout", value_name = "SECS")]
    pub ldap_timeout: Option<u64>,
    /// How long a directory answer cached in the store is used without asking the
    /// directory again, in seconds (default 86400). Past it the directory is asked,
    /// and the cached answer only serves (with a warning) when it is unreachable.
    #[arg(long = "cache-ttl", value_name = "SECS")]
    pub cache_ttl: Option<u64>,
}

/// Where the local certificate store is.
#[derive(Args, Debug, Default)]
pub struct StoreArgs {
    /// The local certificate store (SQLite). Default: $XDG_DATA_HOME/mss/store.sqlite,
    /// else ~/.local/share/mss/store.sqlite.
    #[arg(long = "store", value_name = "FILE")]
    pub store: Option<PathBuf>,
}

/// `mss lookup`.
#[derive(Args, Debug)]
pub struct LookupArgs {
    /// The e-mail addresses to look up.
    #[arg(value_name = "ADDRESS", required = true)]
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub ldap: LdapArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `mss store`.
#[derive(Args, Debug)]
pub struct StoreCommandArgs {
    #[command(subcommand)]
    pub action: StoreAction,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What to do with the store.
#[derive(Subcommand, Debug)]
pub enum StoreAction {
    /// Import certificates (PEM, possibly several, or DER), or CRLs with --crl.
    Import {
        /// The files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// The files are CRLs (PEM `X509 CRL` or DER), kept by issuer.
        #[arg(long)]
        crl: bool,
    },
    /// List the certificates (imported and cached) and CRLs.
    List,
    /// Remove certificates by e-mail address or SHA-256 fingerprint (8+ hex digits),
    /// or CRLs by fingerprint with --crl.
    Remove {
        /// Addresses or fingerprints.
        #[arg(value_name = "ADDRESS_OR_FINGERPRINT", required = true)]
        selectors: Vec<String>,
        /// Remove CRLs instead of certificates.
        #[arg(long)]
        crl: bool,
    },
}

fn directory_failure(e: DirectoryError) -> Failure {
    let code = match e {
        DirectoryError::Unreachable(_) => exit::DIRECTORY_UNREACHABLE,
        DirectoryError::InvalidUrl { .. } | DirectoryError::Config(_) => exit::USAGE,
        _ => exit::FAILURE,
    };
    Failure::new(code, e.to_string())
}

impl LdapArgs {
    /// The configured directory, if any (checks flags before any network use).
    pub fn directory(&self) -> Result<Option<LdapDirectory>, Failure> {
        let Some(url) = &self.ldap else {
            if self.ldap_base.is_some() {
                return Err(Failure::new(exit::USAGE, "--ldap-base needs --ldap URL"));
            }
            return Ok(None);
        };
        let base = self
            .ldap_base
            .as_deref()
            .ok_or_else(|| Failure::new(exit::USAGE, "--ldap needs --ldap-base DN"))?;
        let mut config = LdapConfig::new(url, base);
        if let Some(f) = &self.ldap_filter {
            config = config.with_filter_template(f);
        }
        if let Some(t) = self.ldap_timeout {
            config = config.with_timeout(Duration::from_secs(t.max(1)));
        }
        match (&self.ldap_bind_dn, &self.ldap_password_env) {
            (Some(dn), Some(var)) => {
                let pw = std::env::var(var).map_err(|_| {
                    Failure::new(
                        exit::USAGE,
                        format!("--ldap-password-env {var}: the variable is not set"),
                    )
                })?;
                config = config.with_bind(dn, Zeroizing::new(pw));
            }
            (Some(dn), None) => config = config.with_bind(dn, Zeroizing::new(String::new())),
            (None, Some(_)) => {
                return Err(Failure::new(
                    exit::USAGE,
                    "--ldap-password-env needs --ldap-bind-dn",
                ));
            }
            (None, None) => {}
        }
        LdapDirectory::new(config)
            .map(Some)
            .map_err(directory_failure)
    }
}

impl StoreArgs {
    /// The store file: --store, else the default location.
    pub fn path(&self) -> Result<PathBuf, Failure> {
        match &self.store {
            Some(p) => Ok(p.clone()),
            None => mss::directory::default_store_path().ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "no default store location (neither XDG_DATA_HOME nor HOME is set): give --store FILE",
                )
            }),
        }
    }

    /// Open (create) the store.
    pub fn open(&self) -> Result<LocalStore, Failure> {
        let path = self.path()?;
        LocalStore::open(&path).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))
    }
}

/// Resolve `--to-address` recipients (local store, then the directory; the answer is
/// cached in the store). Prints a warning per address a cache served because the
/// directory was unreachable. Fails with every unresolved address named.
pub fn resolve_addresses(
    addresses: &[String],
    ldap: &LdapArgs,
    store: &StoreArgs,
    guidance: Option<&str>,
) -> Result<Vec<Certificate>, Failure> {
    if addresses.is_empty() {
        return Ok(Vec::new());
    }
    let directory = ldap.directory()?;
    let store = store.open()?;
    let mut sources = mss::RecipientSources {
        store: Some(&store),
        directory: directory.as_ref().map(|d| d as &dyn Directory),
        ..Default::default()
    };
    if let Some(g) = guidance {
        sources.guidance = g.to_owned();
    }
    if let Some(t) = ldap.cache_ttl {
        sources.cache_ttl = Duration::from_secs(t);
    }
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let (resolved, warnings) = mss::resolve_recipients(&refs, &sources)?;
    for w in warnings {
        eprintln!("mss: warning: {w}");
    }
    Ok(resolved.into_iter().map(|r| r.certificate).collect())
}

fn origin_text(o: &Origin) -> String {
    match o {
        Origin::LocalStore => "local store".into(),
        Origin::Directory { source, truncated } => format!(
            "directory {source}{}",
            if *truncated {
                " (answer capped by the server)"
            } else {
                ""
            }
        ),
        Origin::Cache {
            source,
            directory_unreachable,
            expired,
            ..
        } => {
            let mut s = format!("cache of {source}");
            if let Some(why) = directory_unreachable {
                s.push_str(&format!(
                    " — directory unreachable{} ({why})",
                    if *expired {
                        ", cached answer past its lifetime"
                    } else {
                        ""
                    }
                ));
            }
            s
        }
    }
}

/// `mss lookup`: every certificate found for each address (store, then directory),
/// the ones usable for encryption marked. Exit 0 when every address has one,
/// [`exit::MISSING_RECIPIENTS`] when one has none, [`exit::DIRECTORY_UNREACHABLE`] when
/// the directory could not be asked.
pub fn lookup_cmd(a: LookupArgs) -> Result<u8, Failure> {
    let directory = a.ldap.directory()?;
    let store = match (&a.store.store, &directory) {
        // Without --store, lookups against a directory do not touch the default store.
        (None, Some(_)) => None,
        _ => Some(a.store.open()?),
    };
    let now = std::time::SystemTime::now();
    let (mut missing, mut unknown) = (false, false);
    for address in &a.addresses {
        let mut found: Vec<(Certificate, String)> = Vec::new();
        if let Some(s) = &store {
            let local = s
                .local_certificates_for(address)
                .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            found.extend(
                local
                    .into_iter()
                    .map(|c| (c, origin_text(&Origin::LocalStore))),
            );
        }
        let mut unreachable = None;
        let mut truncated = false;
        if let Some(d) = &directory {
            match d.certificates_for(address) {
                Ok(l) => {
                    truncated = l.truncated;
                    let from = origin_text(&Origin::Directory {
                        source: d.describe(),
                        truncated: l.truncated,
                    });
                    for c in l.certificates {
                        if !found.iter().any(|(f, _)| *f == c) {
                            found.push((c, from.clone()));
                        }
                    }
                }
                Err(DirectoryError::Unreachable(why)) => unreachable = Some(why),
                Err(e) => return Err(directory_failure(e)),
            }
        }
        let certs: Vec<Certificate> = found.iter().map(|(c, _)| c.clone()).collect();
        let usable = encryption_certificates(&certs, address, now);
        println!("{address}: {} certificate(s)", found.len());
        for (c, from) in &found {
            let role = match usable.iter().position(|u| u == c) {
                Some(0) => "encryption (chosen)",
                Some(_) => "encryption",
                None => "not for encryption to this address",
            };
            println!("- {role}, from {from}");
            println!("{}", CertificateSummary::of(c));
        }
        if truncated {
            println!("  note: the directory capped its answer (size limit)");
        }
        if let Some(why) = unreachable {
            println!("  directory unreachable: {why}");
            if usable.is_empty() {
                unknown = true;
                continue;
            }
        }
        if usable.is_empty() {
            println!("  no certificate usable for encryption to {address}");
            missing = true;
        }
    }
    // As for `encrypt`: a missing certificate outweighs an unreachable directory.
    Ok(if missing {
        exit::MISSING_RECIPIENTS
    } else if unknown {
        exit::DIRECTORY_UNREACHABLE
    } else {
        exit::OK
    })
}

/// `mss store …`.
pub fn store_cmd(a: StoreCommandArgs) -> Result<u8, Failure> {
    let store = a.store.open()?;
    let fail = |e: DirectoryError| Failure::new(exit::FAILURE, e.to_string());
    match a.action {
        StoreAction::Import { files, crl } => {
            for f in files {
                let data = std::fs::read(&f).map_err(|e| {
                    Failure::new(exit::FAILURE, format!("cannot read {}: {e}", f.display()))
                })?;
                let name = f.display().to_string();
                if crl {
                    let c = store
                        .put_crl(&data, CrlOrigin::Local, &name, std::time::SystemTime::now())
                        .map_err(|e| Failure::new(exit::FAILURE, format!("{name}: {e}")))?;
                    println!(
                        "imported {}CRL of {} ({})",
                        if c.delta { "delta " } else { "" },
                        c.issuer,
                        &c.fingerprint[..16]
                    );
                } else {
                    let certs = store
                        .import_certificates(&data)
                        .map_err(|e| Failure::new(exit::FAILURE, format!("{name}: {e}")))?;
                    for c in certs {
                        let s = CertificateSummary::of(&c);
                        println!(
                            "imported {} <{}> ({})",
                            s.subject,
                            s.addresses.join(", "),
                            &s.fingerprint[..16]
                        );
                    }
                }
            }
        }
        StoreAction::List => {
            let certs = store.list().map_err(fail)?;
            println!("{} certificate(s)", certs.len());
            for c in certs {
                let kind = if c.is_local() { "imported" } else { "cached" };
                let addrs: Vec<String> = c
                    .addresses
                    .iter()
                    .map(|(a, o)| format!("{a} ({o})"))
                    .collect();
                println!("- {kind}: {}", addrs.join(", "));
                println!("{}", CertificateSummary::of(&c.certificate));
            }
            let crls = store.list_crls().map_err(fail)?;
            println!("{} CRL(s)", crls.len());
            for c in crls {
                println!(
                    "- {}CRL of {} ({}, from {}) sha256 {}",
                    if c.delta { "delta " } else { "" },
                    c.issuer,
                    c.origin,
                    c.source,
                    c.fingerprint
                );
            }
        }
        StoreAction::Remove { selectors, crl } => {
            let mut total = 0;
            for s in &selectors {
                let n = if crl {
                    store.remove_crl(s)
                } else {
                    store.remove(s)
                }
                .map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
                println!("{s}: removed {n}");
                total += n;
            }
            if total == 0 {
                return Err(Failure::new(exit::FAILURE, "nothing matched"));
            }
        }
    }
    Ok(exit::OK)
}
