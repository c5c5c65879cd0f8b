//! PKCS#11 URIs (RFC 7512): `pkcs11:token=CPS3%20TEST;object=CPS_PRIV_SIG?module-path=/usr/lib/…`.
//!
//! Path attributes (separated by `;`) select the token and the object; query
//! attributes (separated by `&`) name the module. Values are percent-decoded; `id` is
//! raw bytes, the others must be UTF-8. `pin-value` and `pin-source` are refused: the
//! PIN is always asked through the [`crate::PinSource`], never carried in a URI.
//! Vendor attributes (`x-…`) are ignored; any other unknown attribute, or an attribute
//! given twice, is an error rather than something silently left out of the selection.

use std::fmt;
use std::path::PathBuf;

use super::CardError;

/// The `type` path attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectType {
    /// `private`: a private key.
    Private,
    /// `public`: a public key.
    Public,
    /// `cert`: a certificate.
    Cert,
    /// `secret-key`.
    SecretKey,
    /// `data`.
    Data,
}

impl ObjectType {
    fn parse(s: &str) -> Result<Self, CardError> {
        Ok(match s {
            "private" => ObjectType::Private,
            "public" => ObjectType::Public,
            "cert" => ObjectType::Cert,
            "secret-key" => ObjectType::SecretKey,
            "data" => ObjectType::Data,
            other => return Err(CardError::Uri(format!("unknown object type {other:?}"))),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            ObjectType::Private => "private",
            ObjectType::Public => "public",
            ObjectType::Cert => "cert",
            ObjectType::SecretKey => "secret-key",
            ObjectType::Data => "data",
        }
    }
}

/// A parsed `pkcs11:` URI. Every attribute is optional; an absent one matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// `token`: the token label (on a CPS card, contains `CPS3` or `CPS4`).
    pub token: Option<String>,
    /// `manufacturer`: the token manufacturer.
    pub manufacturer: Option<String>,
    /// `serial`: the token serial number.
    pub serial: Option<String>,
    /// `model`: the token model.
    pub model: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `slot-description`.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`.
    pub slot_manufacturer: Option<String>,
    /// `library-manufacturer`.
    pub library_manufacturer: Option<String>,
    /// `library-description`.
    pub library_description: Option<String>,
    /// `library-version` (`M` or `M.m`), kept as text.
    pub library_version: Option<String>,
    /// `object`: the label of the key or of the certificate.
    pub object: Option<String>,
    /// `id`: the CKA_ID shared by a key and its certificate.
    pub id: Option<Vec<u8>>,
    /// `type`: the object type.
    pub object_type: Option<ObjectType>,
    /// `module-path` (query): the module's file.
    pub module_path: Option<PathBuf>,
    /// `module-name` (query): the module's name, e.g. `cps3_pkcs11_lux` for
    /// `libcps3_pkcs11_lux.so`, found on the system library path.
    pub module_name: Option<String>,
}

impl Pkcs11Uri {
    /// Parse a `pkcs11:` URI (the scheme is case-insensitive).
    pub fn parse(uri: &str) -> Result<Self, CardError> {
        let rest = strip_scheme(uri)
            .ok_or_else(|| CardError::Uri("the URI must start with \"pkcs11:\"".into()))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut out = Pkcs11Uri::default();
        if path.contains('#') || query.is_some_and(|q| q.contains('#')) {
            return Err(CardError::Uri("fragments (#) are not allowed".into()));
        }
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, raw) = split_attr(attr)?;
            match name {
                "token" => set(&mut out.token, name, text(name, raw)?)?,
                "manufacturer" => set(&mut out.manufacturer, name, text(name, raw)?)?,
                "serial" => set(&mut out.serial, name, text(name, raw)?)?,
                "model" => set(&mut out.model, name, text(name, raw)?)?,
                "slot-description" => set(&mut out.slot_description, name, text(name, raw)?)?,
                "slot-manufacturer" => set(&mut out.slot_manufacturer, name, text(name, raw)?)?,
                "library-manufacturer" => {
                    set(&mut out.library_manufacturer, name, text(name, raw)?)?
                }
                "library-description" => set(&mut out.library_description, name, text(name, raw)?)?,
                "library-version" => set(&mut out.library_version, name, text(name, raw)?)?,
                "object" => set(&mut out.object, name, text(name, raw)?)?,
                "id" => set(&mut out.id, name, percent_decode(raw)?)?,
                "slot-id" => {
                    let t = text(name, raw)?;
                    let n = t
                        .parse::<u64>()
                        .map_err(|_| CardError::Uri(format!("slot-id {t:?} is not a number")))?;
                    set(&mut out.slot_id, name, n)?
                }
                "type" => set(
                    &mut out.object_type,
                    name,
                    ObjectType::parse(&text(name, raw)?)?,
                )?,
                _ if name.starts_with("x-") => {}
                _ => {
                    return Err(CardError::Uri(format!("unknown path attribute {name:?}")));
                }
            }
        }
        for attr in query.into_iter().flat_map(|q| q.split('&')) {
            if attr.is_empty() {
                continue;
            }
            let (name, raw) = split_attr(attr)?;
            match name {
                "module-path" => set(&mut out.module_path, name, PathBuf::from(text(name, raw)?))?,
                "module-name" => set(&mut out.module_name, name, text(name, raw)?)?,
                "pin-value" | "pin-source" => {
                    return Err(CardError::Uri(format!(
                        "{name} is not accepted: the PIN is asked for when the card is opened"
                    )));
                }
                _ if name.starts_with("x-") => {}
                _ => {
                    return Err(CardError::Uri(format!("unknown query attribute {name:?}")));
                }
            }
        }
        Ok(out)
    }

    /// Whether the URI says anything about which token to use.
    pub fn selects_token(&self) -> bool {
        self.token.is_some()
            || self.manufacturer.is_some()
            || self.serial.is_some()
            || self.model.is_some()
            || self.slot_id.is_some()
            || self.slot_description.is_some()
            || self.slot_manufacturer.is_some()
    }

    /// Whether the URI names an object (`object` or `id`).
    pub fn selects_object(&self) -> bool {
        self.object.is_some() || self.id.is_some()
    }

    /// The token-selecting attributes as URI text (for messages), e.g. `token=CPS3%20TEST`.
    pub fn token_part(&self) -> String {
        let mut parts = Vec::new();
        push_text(&mut parts, "token", &self.token);
        push_text(&mut parts, "manufacturer", &self.manufacturer);
        push_text(&mut parts, "serial", &self.serial);
        push_text(&mut parts, "model", &self.model);
        if let Some(n) = self.slot_id {
            parts.push(format!("slot-id={n}"));
        }
        push_text(&mut parts, "slot-description", &self.slot_description);
        push_text(&mut parts, "slot-manufacturer", &self.slot_manufacturer);
        parts.join(";")
    }
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in canonical form: percent-encoded values, `id` fully encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        push_text(
            &mut parts,
            "library-manufacturer",
            &self.library_manufacturer,
        );
        push_text(&mut parts, "library-description", &self.library_description);
        push_text(&mut parts, "library-version", &self.library_version);
        let token = self.token_part();
        if !token.is_empty() {
            parts.push(token);
        }
        push_text(&mut parts, "object", &self.object);
        if let Some(id) = &self.id {
            let hex: String = id.iter().map(|b| format!("%{b:02X}")).collect();
            parts.push(format!("id={hex}"));
        }
        if let Some(t) = self.object_type {
            parts.push(format!("type={}", t.as_str()));
        }
        write!(f, "pkcs11:{}", parts.join(";"))?;
        let mut query = Vec::new();
        if let Some(p) = &self.module_path {
            query.push(format!(
                "module-path={}",
                percent_encode(&p.to_string_lossy(), true)
            ));
        }
        push_text(&mut query, "module-name", &self.module_name);
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

fn push_text(parts: &mut Vec<String>, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        parts.push(format!("{name}={}", percent_encode(v, false)));
    }
}

/// Whether `s` starts with a `pkcs11:` scheme (case-insensitive).
pub(crate) fn strip_scheme(s: &str) -> Option<&str> {
    let head = s.get(..7)?;
    head.eq_ignore_ascii_case("pkcs11:").then(|| &s[7..])
}

fn split_attr(attr: &str) -> Result<(&str, &str), CardError> {
    attr.split_once('=')
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| CardError::Uri(format!("attribute {attr:?} has no name=value form")))
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), CardError> {
    if slot.is_some() {
        return Err(CardError::Uri(format!("attribute {name:?} is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn text(name: &str, raw: &str) -> Result<String, CardError> {
    String::from_utf8(percent_decode(raw)?)
        .map_err(|_| CardError::Uri(format!("value of {name:?} is not UTF-8")))
}

/// Decode `%XX` escapes; a `%` not followed by two hex digits is an error.
pub(crate) fn percent_decode(raw: &str) -> Result<Vec<u8>, CardError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| CardError::Uri(format!("bad percent escape in {raw:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-encode everything but RFC 3986 unreserved characters and those RFC 7512
/// allows unescaped in values (`:[]@!$'()*+,=&` in the path; `/` too in the query).
fn percent_encode(value: &str, query: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~:[]@!$'()*+,=".contains(&b)
            || (!query && b == b'&')
            || (query && (b == b'/' || b == b'?' || b == b'|'));
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_token_object_id_and_module_path() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=CPS3%20TEST;object=CPS_PRIV_SIG;id=%01%ab;type=private\
             ?module-path=/usr/lib/libcps3_pkcs11_lux.so",
        )
        .expect("parse");
        assert_eq!(u.token.as_deref(), Some("CPS3 TEST"));
        assert_eq!(u.object.as_deref(), Some("CPS_PRIV_SIG"));
        assert_eq!(u.id.as_deref(), Some(&[0x01, 0xab][..]));
        assert_eq!(u.object_type, Some(ObjectType::Private));
        assert_eq!(
            u.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/libcps3_pkcs11_lux.so"))
        );
        assert!(u.selects_token());
        assert!(u.selects_object());
    }

    #[test]
    fn empty_uri_and_scheme_case() {
        let u = Pkcs11Uri::parse("PKCS11:").expect("parse");
        assert_eq!(u, Pkcs11Uri::default());
        assert!(!u.selects_token());
        assert!(Pkcs11Uri::parse("pkcs11:;").is_ok());
    }

    #[test]
    fn utf8_labels_and_plain_id_bytes() {
        let u = Pkcs11Uri::parse("pkcs11:object=Certificat%20d'Authentification%20CPS;id=AB")
            .expect("parse");
        assert_eq!(
            u.object.as_deref(),
            Some("Certificat d'Authentification CPS")
        );
        assert_eq!(u.id.as_deref(), Some(&b"AB"[..]));
        let u = Pkcs11Uri::parse("pkcs11:token=M%C3%A9decin").expect("parse");
        assert_eq!(u.token.as_deref(), Some("Médecin"));
    }

    #[test]
    fn slot_id_and_token_part() {
        let u = Pkcs11Uri::parse("pkcs11:slot-id=3;serial=12%2034").expect("parse");
        assert_eq!(u.slot_id, Some(3));
        assert_eq!(u.token_part(), "serial=12%2034;slot-id=3");
        assert!(Pkcs11Uri::parse("pkcs11:slot-id=x").is_err());
    }

    #[test]
    fn refuses_malformed_and_unsafe_uris() {
        for bad in [
            "token=x",
            "pkcs11",
            "pkcs11:token=a;token=b",
            "pkcs11:token=%4",
            "pkcs11:token=%zz",
            "pkcs11:token",
            "pkcs11:=x",
            "pkcs11:frobnicate=1",
            "pkcs11:type=banana",
            "pkcs11:token=%ff%fe",
            "pkcs11:token=a?pin-value=1234",
            "pkcs11:token=a?pin-source=file:/pin",
            "pkcs11:token=a?module-path=/a&module-path=/b",
            "pkcs11:token=a#frag",
        ] {
            assert!(
                matches!(Pkcs11Uri::parse(bad), Err(CardError::Uri(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn pin_value_is_never_echoed() {
        let e = Pkcs11Uri::parse("pkcs11:token=a?pin-value=9876").expect_err("refused");
        assert!(!e.to_string().contains("9876"), "{e}");
    }

    #[test]
    fn vendor_attributes_are_ignored() {
        let u = Pkcs11Uri::parse("pkcs11:token=a;x-vendor=1?x-other=2").expect("parse");
        assert_eq!(u.token.as_deref(), Some("a"));
    }

    #[test]
    fn display_round_trips() {
        let text = "pkcs11:token=CPS3%20TEST;object=CPS_PRIV_AUT;id=%02%FF;type=private\
                    ?module-path=/usr/lib/softhsm/libsofthsm2.so";
        let u = Pkcs11Uri::parse(text).expect("parse");
        assert_eq!(u.to_string(), text);
        assert_eq!(Pkcs11Uri::parse(&u.to_string()).expect("reparse"), u);
    }
}
