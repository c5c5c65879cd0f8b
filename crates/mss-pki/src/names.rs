//! Distinguished-name comparison (RFC 5280 §7.1: case-insensitive, whitespace-folded
//! string attributes) and name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)(c)).
//!
//! Internal to the validator: it owns how names are compared, never whether a path is
//! trusted.

use der::asn1::Any;
use der::{Encode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{Name, RelativeDistinguishedName};

use crate::oids;

/// One attribute value, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Value {
    Text(String),
    Raw(Vec<u8>),
}

/// A relative distinguished name: its attribute type/value pairs, sorted.
pub(crate) type NormRdn = Vec<(String, Value)>;
/// A distinguished name, normalised: one entry per RDN, in order.
pub(crate) type NormName = Vec<NormRdn>;

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn value(v: &Any) -> Value {
    let b = v.value();
    let text = match v.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(b).ok().map(str::to_owned)
        }
        Tag::TeletexString => Some(b.iter().map(|&c| char::from(c)).collect()),
        Tag::BmpString if b.len().is_multiple_of(2) => {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    };
    match text {
        Some(t) => Value::Text(fold(&t)),
        None => Value::Raw(v.to_der().unwrap_or_default()),
    }
}

pub(crate) fn norm_rdn(rdn: &RelativeDistinguishedName) -> NormRdn {
    let mut r: NormRdn = rdn
        .iter()
        .map(|atv| (atv.oid.to_string(), value(&atv.value)))
        .collect();
    r.sort();
    r
}

/// Normalise a name for comparison.
pub(crate) fn norm(n: &Name) -> NormName {
    n.iter_rdn().map(norm_rdn).collect()
}

/// RFC 5280 §7.1 name equality.
pub fn names_match(a: &Name, b: &Name) -> bool {
    norm(a) == norm(b)
}

fn dn_within(subject: &NormName, base: &NormName) -> bool {
    subject.len() >= base.len() && subject[..base.len()] == base[..]
}

fn email_within(mailbox: &str, c: &str) -> bool {
    let m = mailbox.to_ascii_lowercase();
    let c = c.to_ascii_lowercase();
    if c.contains('@') {
        return m == c;
    }
    let Some((_, host)) = m.rsplit_once('@') else {
        return false;
    };
    if c.starts_with('.') {
        host.ends_with(&c)
    } else {
        host == c
    }
}

fn dns_within(name: &str, c: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let c = c.trim_end_matches('.').to_ascii_lowercase();
    if c.is_empty() {
        return true;
    }
    if let Some(stripped) = c.strip_prefix('.') {
        return n.ends_with(&format!(".{stripped}"));
    }
    n == c || n.ends_with(&format!(".{c}"))
}

fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once(':')?;
    let rest = rest.strip_prefix("//")?;
    let auth = rest.split(['/', '?', '#']).next()?;
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let host = if auth.starts_with('[') {
        auth.split(']').next()?.trim_start_matches('[')
    } else {
        auth.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn uri_within(uri: &str, c: &str) -> bool {
    let Some(host) = uri_host(uri) else {
        return false;
    };
    let c = c.to_ascii_lowercase();
    if c.starts_with('.') {
        host.ends_with(&c)
    } else {
        host == c
    }
}

fn ip_within(addr: &[u8], c: &[u8]) -> bool {
    if c.len() != addr.len() * 2 {
        return false;
    }
    let (net, mask) = c.split_at(addr.len());
    addr.iter()
        .zip(net)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m)
}

/// The name forms a certificate presents to name constraints.
#[derive(Debug, Default)]
pub(crate) struct SubjectNames {
    pub(crate) dns: Vec<NormName>,
    pub(crate) email: Vec<String>,
    pub(crate) dns_names: Vec<String>,
    pub(crate) uris: Vec<String>,
    pub(crate) ips: Vec<Vec<u8>>,
    /// Name forms present that constraints cannot be checked against.
    pub(crate) other: Vec<u8>,
}

impl SubjectNames {
    pub(crate) fn new(subject: &Name, san: Option<&[GeneralName]>) -> Self {
        let mut s = SubjectNames::default();
        if !subject.is_empty() {
            s.dns.push(norm(subject));
        }
        for atv in subject.iter() {
            if atv.oid == oids::EMAIL_ADDRESS
                && let Value::Text(t) = value(&atv.value)
            {
                s.email.push(t);
            }
        }
        for gn in san.unwrap_or_default() {
            match gn {
                GeneralName::DirectoryName(n) => s.dns.push(norm(n)),
                GeneralName::Rfc822Name(e) => s.email.push(e.to_string()),
                GeneralName::DnsName(d) => s.dns_names.push(d.to_string()),
                GeneralName::UniformResourceIdentifier(u) => s.uris.push(u.to_string()),
                GeneralName::IpAddress(ip) => s.ips.push(ip.as_bytes().to_vec()),
                GeneralName::OtherName(_) => s.other.push(0),
                GeneralName::EdiPartyName(_) => s.other.push(5),
                GeneralName::RegisteredId(_) => s.other.push(8),
            }
        }
        s
    }
}

fn form(gn: &GeneralName) -> u8 {
    match gn {
        GeneralName::OtherName(_) => 0,
        GeneralName::Rfc822Name(_) => 1,
        GeneralName::DnsName(_) => 2,
        GeneralName::DirectoryName(_) => 4,
        GeneralName::EdiPartyName(_) => 5,
        GeneralName::UniformResourceIdentifier(_) => 6,
        GeneralName::IpAddress(_) => 7,
        GeneralName::RegisteredId(_) => 8,
    }
}

/// Does any name of `names` of the subtree's form fall within the subtree? Returns
/// one boolean per name of that form.
fn matches(names: &SubjectNames, base: &GeneralName, counter: &mut usize) -> Vec<bool> {
    *counter += 1;
    match base {
        GeneralName::DirectoryName(b) => {
            let b = norm(b);
            names.dns.iter().map(|n| dn_within(n, &b)).collect()
        }
        GeneralName::Rfc822Name(c) => names
            .email
            .iter()
            .map(|e| email_within(e, c.as_str()))
            .collect(),
        GeneralName::DnsName(c) => names
            .dns_names
            .iter()
            .map(|d| dns_within(d, c.as_str()))
            .collect(),
        GeneralName::UniformResourceIdentifier(c) => names
            .uris
            .iter()
            .map(|u| uri_within(u, c.as_str()))
            .collect(),
        GeneralName::IpAddress(c) => names
            .ips
            .iter()
            .map(|a| ip_within(a, c.as_bytes()))
            .collect(),
        _ => Vec::new(),
    }
}

fn count_of_form(names: &SubjectNames, f: u8) -> usize {
    match f {
        1 => names.email.len(),
        2 => names.dns_names.len(),
        4 => names.dns.len(),
        6 => names.uris.len(),
        7 => names.ips.len(),
        other => names.other.iter().filter(|&&o| o == other).count(),
    }
}

/// The permitted and excluded subtrees met so far on the path.
#[derive(Debug, Default, Clone)]
pub(crate) struct Constraints {
    /// One list per certificate that carried permittedSubtrees: every list constrains.
    permitted: Vec<Vec<GeneralName>>,
    excluded: Vec<GeneralName>,
}

impl Constraints {
    pub(crate) fn add(
        &mut self,
        permitted: Option<&[GeneralName]>,
        excluded: Option<&[GeneralName]>,
    ) {
        if let Some(p) = permitted {
            self.permitted.push(p.to_vec());
        }
        if let Some(e) = excluded {
            self.excluded.extend_from_slice(e);
        }
    }

    /// Check `names` against the constraints; `Err` names the violated rule.
    pub(crate) fn check(&self, names: &SubjectNames, counter: &mut usize) -> Result<(), String> {
        for list in &self.permitted {
            let mut forms: Vec<u8> = list.iter().map(form).collect();
            forms.sort_unstable();
            forms.dedup();
            for f in forms {
                let n = count_of_form(names, f);
                if n == 0 {
                    continue;
                }
                if !matches!(f, 1 | 2 | 4 | 6 | 7) {
                    return Err(format!("cannot check name form {f} against constraints"));
                }
                let mut ok = vec![false; n];
                for base in list.iter().filter(|b| form(b) == f) {
                    for (o, m) in ok.iter_mut().zip(matches(names, base, counter)) {
                        *o |= m;
                    }
                }
                if ok.iter().any(|o| !o) {
                    return Err(format!(
                        "a name of form {f} is outside the permitted subtrees"
                    ));
                }
            }
        }
        for base in &self.excluded {
            let f = form(base);
            if !matches!(f, 1 | 2 | 4 | 6 | 7) {
                if count_of_form(names, f) > 0 {
                    return Err(format!("cannot check name form {f} against constraints"));
                }
                continue;
            }
            if matches(names, base, counter).into_iter().any(|m| m) {
                return Err(format!(
                    "a name of form {f} is within the excluded subtrees"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(dns_within("a.example.com", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(email_within("x@mail.example.com", ".example.com"));
        assert!(!email_within("x@example.com", ".example.com"));
        assert!(email_within("x@example.com", "example.com"));
        assert!(uri_within("http://user@host.test:80/x", "host.test"));
        assert!(!uri_within("http://other.test/", "host.test"));
        assert!(ip_within(&[10, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
        assert!(!ip_within(&[11, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
    }
}
