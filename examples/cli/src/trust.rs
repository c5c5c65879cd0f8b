//! `mss open` trust options: anchors from files, directories and `.p7b` bundles,
//! `--crl`, `--revocation`, `--revocation-soft-fail`, `--at`, `--at-signing-time`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Args;

use mss::trust::{Fetchers, HttpFetcher};
use mss::{Certificate, OpenOptions, RevocationMode};

use crate::{Failure, exit};

/// Revocation and time options of `mss open`.
#[derive(Args, Debug, Default)]
pub struct TrustArgs {
    /// A CRL (DER or PEM) to check revocation with. Repeatable. Implies
    /// `--revocation crl` unless `--revocation` says otherwise.
    #[arg(long = "crl", value_name = "FILE")]
    pub crls: Vec<PathBuf>,
    /// Revocation checking: `off`, `crl` (given, in the message, fetched from the
    /// distribution points over http), `ocsp` (the AIA responder), `both` (CRL then
    /// OCSP) or `ocsp-first` (OCSP then CRL). Default: `crl` with --crl or --ldap (whose
    /// directory serves `ldap://` distribution points), else `off`.
    #[arg(long, value_name = "MODE")]
    pub revocation: Option<String>,
    /// When no revocation source can tell, accept the signer (reported as
    /// `revocation-unknown`) instead of failing.
    #[arg(long)]
    pub revocation_soft_fail: bool,
    /// Validate at this time (RFC 3339, e.g. `2026-01-31T12:00:00Z`) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Validate each signer at its signingTime attribute (reported as such; without
    /// one, at --at or now, with a `no-signing-time` warning).
    #[arg(long)]
    pub at_signing_time: bool,
}

/// The certificates of a `--trust` argument: a file (PEM with one or many
/// certificates, DER, PKCS#7 `.p7b` DER or PEM) or a directory of such files.
pub fn load_anchors(path: &Path) -> Result<Vec<Certificate>, Failure> {
    mss::trust::load_anchors(path).map_err(|e| Failure::new(exit::FAILURE, format!("--trust: {e}")))
}

fn mode(s: &str) -> Result<Option<RevocationMode>, Failure> {
    Ok(Some(match s {
        "off" => return Ok(None),
        "crl" => RevocationMode::Crl,
        "ocsp" => RevocationMode::Ocsp,
        "both" | "crl-first" => RevocationMode::CrlThenOcsp,
        "ocsp-first" => RevocationMode::OcspThenCrl,
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!("--revocation {other}: expected off, crl, ocsp, both or ocsp-first"),
            ));
        }
    }))
}

/// Put the options into `opts` (the fetchers live as long as they do): CRLs are fetched
/// through `crl_sources` (http, and the LDAP directory when `directory` is configured,
/// which also makes `crl` the default revocation mode), OCSP goes over `http`.
pub fn apply<'a>(
    a: &TrustArgs,
    http: &'a HttpFetcher,
    crl_sources: &'a Fetchers<'a>,
    directory: bool,
    opts: &mut OpenOptions<'a>,
) -> Result<(), Failure> {
    let default = if a.crls.is_empty() && !directory {
        "off"
    } else {
        "crl"
    };
    opts.revocation.mode = mode(a.revocation.as_deref().unwrap_or(default))?;
    opts.revocation.soft_fail = a.revocation_soft_fail;
    opts.revocation.fetcher = Some(crl_sources);
    opts.revocation.ocsp = Some(http);
    for p in &a.crls {
        let data = std::fs::read(p).map_err(|e| {
            Failure::new(exit::FAILURE, format!("cannot read {}: {e}", p.display()))
        })?;
        let der = if data.starts_with(b"-----BEGIN") {
            der::pem::decode_vec(&data)
                .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", p.display())))?
                .1
        } else {
            data
        };
        opts.revocation
            .crls
            .push(mss::trust::decode_crl(&der).map_err(|e| {
                Failure::new(exit::FAILURE, format!("{}: not a CRL: {e}", p.display()))
            })?);
    }
    if let Some(t) = &a.at {
        opts.time = Some(parse_rfc3339(t).ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!("--at {t}: expected RFC 3339, e.g. 2026-01-31T12:00:00Z"),
            )
        })?);
    }
    opts.at_signing_time = a.at_signing_time;
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (a space may stand for `T`).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !matches!(rb[0], b'+' | b'-') {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if rb[0] == b'-' { -v } else { v }
        }
    };
    let dt = der::DateTime::new(
        u16::try_from(y).ok()?,
        u8::try_from(mo).ok()?,
        u8::try_from(d).ok()?,
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(se).ok()?,
    )
    .ok()?;
    let local = i64::try_from(dt.unix_duration().as_secs()).ok()?;
    let utc = u64::try_from(local - offset).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let t = |s| {
            parse_rfc3339(s).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
        };
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2026-01-31T12:00:00Z"), Some(1_769_860_800));
        assert_eq!(t("2026-01-31T13:00:00+01:00"), Some(1_769_860_800));
        assert_eq!(t("2026-01-31 11:30:00.25-00:30"), Some(1_769_860_800));
        for bad in [
            "",
            "2026-01-31",
            "2026-01-31T12:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-31T12:00:00+1:00",
            "2026-01-31T12:00:00.Z",
            "20260131T120000Z...",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }
}
