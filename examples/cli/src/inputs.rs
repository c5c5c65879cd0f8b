//! What several verbs load the same way: identities, `--trust` anchors, `--cert`
//! extras, the decryption keys of the identities, and a JSON report staged beside its
//! destination (`mss open`, `mss receipt`, `mss mdn`).

use std::path::{Path, PathBuf};

use mss::{Certificate, DecryptionKey};
use mss_token::Identity;

use crate::{
    Failure, PinArgs, Staged, card_failure, exit, load_certs, load_identity, stage, trust,
};

/// Every `--identity` (PKCS#12 or PEM file, or a `pkcs11:` URI), in order.
pub fn identities(specs: &[String], pin: &PinArgs) -> Result<Vec<Box<dyn Identity>>, Failure> {
    specs.iter().map(|s| load_identity(s, pin)).collect()
}

/// The trust anchors of every `--trust` (files, directories, PKCS#7 `.p7b`).
pub fn anchors(paths: &[PathBuf]) -> Result<Vec<Certificate>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(trust::load_anchors(p)?);
    }
    Ok(out)
}

/// The certificates of every `--cert` (PEM with one or many certificates, or DER).
pub fn extra_certs(paths: &[PathBuf]) -> Result<Vec<Certificate>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load_certs(p)?);
    }
    Ok(out)
}

/// The decryption key of each identity; one that fails to load (card, PIN) is an
/// error, never silently dropped.
pub fn decryption_keys<'a, I>(ids: I) -> Result<Vec<&'a dyn DecryptionKey>, Failure>
where
    I: IntoIterator<Item = &'a dyn Identity>,
{
    ids.into_iter()
        .map(|i| i.decryption_key().map_err(card_failure))
        .collect()
}

/// A JSON report (`to_json` serialises it, e.g. `|| serde_json::to_vec_pretty(&v)`)
/// with a final newline, written beside `path` but not yet in place; `None` when no
/// path is given (`to_json` is then not called).
pub fn stage_json(
    path: Option<&Path>,
    to_json: impl FnOnce() -> serde_json::Result<Vec<u8>>,
) -> Result<Option<Staged>, Failure> {
    let Some(p) = path else { return Ok(None) };
    let mut json = to_json().map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    json.push(b'\n');
    stage(p, &json).map(Some)
}

/// Open options with these decryption keys, trust anchors and extra certificates.
pub fn open_options<'a>(
    keys: Vec<&'a dyn DecryptionKey>,
    anchors: Vec<Certificate>,
    extra: Vec<Certificate>,
    allow_legacy: bool,
) -> mss::OpenOptions<'a> {
    #[allow(clippy::needless_update)]
    mss::OpenOptions {
        keys,
        trust_anchors: anchors,
        extra_certs: extra,
        policy: crate::policy(allow_legacy),
        ..Default::default()
    }
}

/// The options `mss receipt verify` and `mss mdn verify` open with: every identity's
/// decryption key, the `--trust` anchors and the `--cert` extras.
pub fn verify_options<'a>(
    ids: &'a [Box<dyn Identity>],
    trust: &[PathBuf],
    certs: &[PathBuf],
    allow_legacy: bool,
) -> Result<mss::OpenOptions<'a>, Failure> {
    let anchors = anchors(trust)?;
    let extra = extra_certs(certs)?;
    let keys = decryption_keys(ids.iter().map(|i| i.as_ref()))?;
    Ok(open_options(keys, anchors, extra, allow_legacy))
}

/// Print `verdict` and the report's summary on standard error, then put the staged
/// JSON report (if any) in place.
pub fn conclude(
    staged: Option<Staged>,
    verdict: &str,
    report: &mss::Report,
) -> Result<(), Failure> {
    eprintln!("{verdict}");
    eprint!("{}", crate::demo::summary(report));
    if let Some(f) = staged {
        f.persist()?;
    }
    Ok(())
}
