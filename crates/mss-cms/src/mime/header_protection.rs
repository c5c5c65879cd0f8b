//! Header protection for S/MIME (RFC 9788), and the older `protected-headers="v1"`
//! form on input (draft-autocrypt-lamps-protected-headers).
//!
//! Plain S/MIME protects only the body: From, To, Subject, Date travel outside the
//! signature and in clear. RFC 9788 copies them into the cryptographic payload (the
//! innermost MIME entity) and marks it with the Content-Type parameter `hp`:
//!
//! - `hp="clear"` (signed-only): the protected header fields are the ones of the outer
//!   message, now signed;
//! - `hp="cipher"` (encrypted): the outer header section follows a *header
//!   confidentiality policy* — mss uses `hcp_baseline` (§3.2.1): the outer Subject
//!   becomes `[...]`, Keywords and Comments are dropped, the rest is kept — and the inner
//!   header section records, in `HP-Outer` fields, exactly what was left outside, so that
//!   the receiver can tell the sender's obscuring from an alteration in transit.
//!
//! This module owns the MIME side: building the protected payload ([`protect`]),
//! finding and reading protected headers in a received payload ([`recover`]), and
//! comparing them with the outer header section ([`compare`]). It is written by hand
//! because no crate implements RFC 9788; it reuses this crate's header parser.
//!
//! Legacy display elements (§2.1.1, the `hp-legacy-display` text part) are not
//! produced; on input, the `protected-headers="v1"` legacy display part is left in the
//! body and reported.

use super::{ContentType, HeaderField, Headers, MimeError, split_header_body, split_multipart};

/// Which kind of header protection to apply when sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpMode {
    /// `hp="cipher"`: the message is encrypted; the outer headers are obscured
    /// (`hcp_baseline`) and recorded in `HP-Outer` fields.
    Cipher,
    /// `hp="clear"`: the message is signed only; the headers are signed, the outer
    /// header section is unchanged.
    Clear,
}

/// Which form of header protection a received payload uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpScheme {
    /// RFC 9788 `hp="cipher"`.
    Cipher,
    /// RFC 9788 `hp="clear"`.
    Clear,
    /// The older `protected-headers="v1"` Content-Type parameter.
    LegacyV1,
}

impl HpScheme {
    /// A stable name for reports: `hp-cipher`, `hp-clear`, `legacy-v1`.
    pub fn name(self) -> &'static str {
        match self {
            HpScheme::Cipher => "hp-cipher",
            HpScheme::Clear => "hp-clear",
            HpScheme::LegacyV1 => "legacy-v1",
        }
    }
}

/// The obscured Subject of `hcp_baseline` (RFC 9788 §3.2.1).
pub const OBSCURED_SUBJECT: &str = "[...]";

/// Header fields a reader sees and relies on: compared between the outer header
/// section and the protected one even when only one side has them (a `Cc` added in
/// transit is a difference). Other outer fields (Received, DKIM-Signature…) are added
/// by transport and are compared only when the protected section has them.
pub const USER_FACING: [&str; 11] = [
    "From",
    "Sender",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Disposition-Notification-To",
];

fn is_structural(name: &str) -> bool {
    name.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("content-"))
        || name.eq_ignore_ascii_case("mime-version")
        || name.eq_ignore_ascii_case("hp-outer")
}

/// `hcp_baseline`: the outer value of a field, or `None` when the field is removed.
fn hcp_baseline(name: &str, value: &[u8]) -> Option<Vec<u8>> {
    if name.eq_ignore_ascii_case("subject") {
        Some(format!(" {OBSCURED_SUBJECT}").into_bytes())
    } else if name.eq_ignore_ascii_case("keywords") || name.eq_ignore_ascii_case("comments") {
        None
    } else {
        Some(value.to_vec())
    }
}

/// A Content-Type value without its `hp` parameter; `None` when it has none. The
/// marking mss appends (`;` CRLF SP `hp="…"`) is cut off, leaving the rest byte for
/// byte; another placement makes the value rewritten from its parsed form.
fn without_hp(value: &[u8]) -> Option<Vec<u8>> {
    let ct = ContentType::parse(&unfold(value)).ok()?;
    let hp = ct.param("hp")?;
    let suffix = format!(";\r\n hp=\"{hp}\"");
    if let Some(rest) = value.strip_suffix(suffix.as_bytes())
        && ContentType::parse(&unfold(rest)).is_ok_and(|c| c.param("hp").is_none())
    {
        return Some(rest.to_vec());
    }
    let mut v = format!(" {}", ct.essence());
    for (n, pv) in ct.params.iter().filter(|(n, _)| n != "hp") {
        let escaped = pv.replace('\\', "\\\\").replace('"', "\\\"");
        v.push_str(&format!(";\r\n {n}=\"{escaped}\""));
    }
    Some(v.into_bytes())
}

/// Add `; hp="<mode>"` to the Content-Type field of `headers` (creating
/// `text/plain; charset=utf-8` when absent) and drop any earlier `hp` marking.
fn mark_content_type(headers: &mut Headers, hp: &str) {
    let Some(field) = headers
        .fields
        .iter_mut()
        .find(|f| f.name.eq_ignore_ascii_case("content-type"))
    else {
        headers.fields.insert(
            0,
            HeaderField {
                name: "Content-Type".into(),
                value: format!(" text/plain; charset=utf-8; hp=\"{hp}\"").into_bytes(),
            },
        );
        return;
    };
    let mut value = without_hp(&field.value).unwrap_or_else(|| field.value.clone());
    while value
        .last()
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';'))
    {
        value.pop();
    }
    value.extend_from_slice(format!(";\r\n hp=\"{hp}\"").as_bytes());
    field.value = value;
}

/// Build the protected payload (RFC 9788 §2).
///
/// `outer` is the draft's header section without its Content-* fields and
/// `inner_entity` the canonical MIME entity to be signed or encrypted (as returned by
/// [`super::split_draft`]). Returns the header section to put outside and the new
/// inner entity: the entity's own Content-* fields (Content-Type marked with `hp`),
/// then a copy of every non-structural outer field, then — for [`HpMode::Cipher`] — one
/// `HP-Outer` field per field left outside, then the body unchanged.
pub fn protect(
    outer: &Headers,
    inner_entity: &[u8],
    mode: HpMode,
) -> Result<(Headers, Vec<u8>), MimeError> {
    let (hb, body) = split_header_body(inner_entity);
    let (new_outer, mut entity) = protect_header_block(outer, hb, mode)?;
    entity.extend_from_slice(body);
    Ok((new_outer, entity))
}

/// The header part of [`protect`], for a payload whose body is not at hand (it is
/// streamed, see `mss::stream`): `inner_header` is the entity's header section (its
/// blank line may be included). Returns the header section to put outside and the
/// protected entity's header section followed by its blank line; the body goes after
/// it unchanged.
pub fn protect_header_block(
    outer: &Headers,
    inner_header: &[u8],
    mode: HpMode,
) -> Result<(Headers, Vec<u8>), MimeError> {
    let mut inner = Headers::parse(inner_header)?;
    inner.fields.retain(|f| {
        let n = &f.name;
        !(n.eq_ignore_ascii_case("hp-outer") || n.eq_ignore_ascii_case("mime-version"))
    });
    let (mark, new_outer) = match mode {
        HpMode::Clear => ("clear", outer.clone()),
        HpMode::Cipher => {
            let mut h = Headers::default();
            for f in &outer.fields {
                if let Some(v) = hcp_baseline(&f.name, &f.value) {
                    h.fields.push(HeaderField {
                        name: f.name.clone(),
                        value: v,
                    });
                }
            }
            ("cipher", h)
        }
    };
    mark_content_type(&mut inner, mark);
    let mut protected: Vec<HeaderField> = outer
        .fields
        .iter()
        .filter(|f| !is_structural(&f.name))
        .cloned()
        .collect();
    if mode == HpMode::Cipher {
        let mut records = Headers::default();
        for f in new_outer.fields.iter().filter(|f| !is_structural(&f.name)) {
            // Folded at spaces like any field (a long To list stays under 998 columns).
            records.append("HP-Outer", &format!("{}: {}", f.name, unfold(&f.value)));
        }
        protected.extend(records.fields);
    }
    // Protected fields first, as a mail reader expects the message header there.
    protected.extend(inner.fields);
    let headers = Headers { fields: protected };
    let mut block = headers.to_bytes();
    block.extend_from_slice(b"\r\n");
    Ok((new_outer, block))
}

fn unfold(raw: &[u8]) -> String {
    let s: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    String::from_utf8_lossy(&s).trim().to_owned()
}

/// Protected header fields found in a received payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// Which form of protection.
    pub scheme: HpScheme,
    /// The protected header fields (non-structural fields of the payload, without
    /// `HP-Outer`), in order.
    pub headers: Headers,
    /// The `HP-Outer` records (`hp="cipher"` only): what the sender left outside, as a
    /// header section; `None` when the payload has none.
    pub hp_outer: Option<Headers>,
    /// A `protected-headers="v1"` legacy display part (a `text/plain` part repeating
    /// the Subject for old readers) is the first part of the body.
    pub legacy_display: bool,
}

/// Read the protected headers of a received payload (the innermost entity of a signed
/// and/or encrypted message). `Ok(None)` when the payload is not marked with `hp` or
/// `protected-headers="v1"`.
pub fn recover(inner_entity: &[u8]) -> Result<Option<Protected>, MimeError> {
    let (hb, body) = split_header_body(inner_entity);
    let headers = Headers::parse(hb)?;
    recover_from(&headers, |ct| has_legacy_display(ct, body))
}

/// [`recover`] for a payload known by its header section only (a payload that streams):
/// `legacy_display` tells whether its body starts with a legacy display part (see
/// [`is_legacy_display_part`]); it is asked only for a `protected-headers="v1"` payload.
pub fn recover_from(
    headers: &Headers,
    legacy_display: impl FnOnce(&ContentType) -> bool,
) -> Result<Option<Protected>, MimeError> {
    let ct = headers.content_type();
    let scheme = match ct.param("hp").map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "cipher" => HpScheme::Cipher,
        Some(v) if v == "clear" => HpScheme::Clear,
        Some(v) => {
            return Err(MimeError::Malformed(format!(
                "unknown header protection hp={v:?}"
            )));
        }
        None => match ct.param("protected-headers") {
            Some(v) if v.trim().eq_ignore_ascii_case("v1") => HpScheme::LegacyV1,
            _ => return Ok(None),
        },
    };
    let mut protected = Headers::default();
    let mut records = Headers::default();
    let mut has_records = false;
    for f in &headers.fields {
        if f.name.eq_ignore_ascii_case("hp-outer") {
            has_records = true;
            let v = unfold(&f.value);
            let (name, value) = v.split_once(':').ok_or_else(|| {
                MimeError::Malformed(format!("HP-Outer field without a field name: {v:?}"))
            })?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
                return Err(MimeError::Malformed(format!(
                    "HP-Outer field with a bad field name: {v:?}"
                )));
            }
            records.fields.push(HeaderField {
                name: name.to_owned(),
                value: format!(" {}", value.trim()).into_bytes(),
            });
        } else if !is_structural(&f.name) {
            protected.fields.push(f.clone());
        }
    }
    let legacy_display = scheme == HpScheme::LegacyV1 && legacy_display(&ct);
    Ok(Some(Protected {
        scheme,
        headers: protected,
        hp_outer: (scheme == HpScheme::Cipher && has_records).then_some(records),
        legacy_display,
    }))
}

/// A multipart whose first part is `text/plain; protected-headers="v1"`.
fn has_legacy_display(ct: &ContentType, body: &[u8]) -> bool {
    if ct.mime_type != "multipart" {
        return false;
    }
    let Some(boundary) = ct.param("boundary") else {
        return false;
    };
    let Ok(parts) = split_multipart(body, boundary) else {
        return false;
    };
    parts.first().is_some_and(|p| {
        let (phb, _) = split_header_body(p);
        Headers::parse(phb).is_ok_and(|h| is_legacy_display_part(&h))
    })
}

/// Is a part with these header fields a legacy display part
/// (`text/plain; protected-headers="v1"`)?
pub fn is_legacy_display_part(h: &Headers) -> bool {
    let pct = h.content_type();
    pct.essence() == "text/plain"
        && pct
            .param("protected-headers")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("v1"))
}

/// The payload as a reader sees it once its protected headers are recovered: without
/// its `HP-Outer` fields (they describe the transport, not the message) and without
/// the `hp` Content-Type parameter, so that the entity reads as the sender wrote it.
/// A payload whose header section does not parse is returned unchanged.
pub fn unmark(inner_entity: &[u8]) -> Vec<u8> {
    let (hb, body) = split_header_body(inner_entity);
    let Ok(mut h) = Headers::parse(hb) else {
        return inner_entity.to_vec();
    };
    let had_records = h.get_raw("hp-outer").is_some();
    h.remove("hp-outer");
    let mut unmarked = false;
    if let Some(f) = h
        .fields
        .iter_mut()
        .find(|f| f.name.eq_ignore_ascii_case("content-type"))
        && let Some(v) = without_hp(&f.value)
    {
        f.value = v;
        unmarked = true;
    }
    if !had_records && !unmarked {
        return inner_entity.to_vec();
    }
    let mut out = h.to_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// One field whose outer value differs from its protected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderDifference {
    /// The field name (as spelt in the protected section, or the outer one).
    pub name: String,
    /// The outer value (unfolded, RFC 2047 decoded, several fields joined by `, `),
    /// `None` when the field is absent outside.
    pub outer: Option<String>,
    /// The protected value, `None` when the field is absent from the protected section.
    pub protected: Option<String>,
}

/// The value of every field `name` of `h`, joined, with whitespace runs collapsed.
fn joined(h: &Headers, name: &str) -> Option<String> {
    let all = h.get_all(name);
    if all.is_empty() {
        return None;
    }
    Some(
        all.join(", ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The fields compared between `outer` and `protected`: every non-structural field of
/// `protected`, and the [`USER_FACING`] ones of `outer`, each name once, in that order.
pub fn compared_names(outer: &Headers, protected: &Headers) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let fields = protected.fields.iter().map(|f| f.name.as_str()).chain(
        USER_FACING
            .iter()
            .copied()
            .filter(|n| outer.get_raw(n).is_some()),
    );
    for n in fields {
        if !is_structural(n) && !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.to_owned());
        }
    }
    names
}

/// The fields whose values differ between `outer` and `protected` (see
/// [`compared_names`]).
pub fn compare(outer: &Headers, protected: &Headers) -> Vec<HeaderDifference> {
    compared_names(outer, protected)
        .into_iter()
        .filter_map(|name| {
            let o = joined(outer, &name);
            let p = joined(protected, &name);
            (o != p).then_some(HeaderDifference {
                name,
                outer: o,
                protected: p,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTER: &[u8] = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n\
Subject: DUPONT Jean 01/02/1960\r\nKeywords: cr\r\nMessage-ID: <1@example.test>\r\n";
    const INNER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour.\r\n";

    fn outer() -> Headers {
        Headers::parse(OUTER).unwrap()
    }

    #[test]
    fn cipher_obscures_the_subject_and_records_the_outer_fields() {
        let (new_outer, entity) = protect(&outer(), INNER, HpMode::Cipher).unwrap();
        assert_eq!(new_outer.get("Subject").as_deref(), Some(OBSCURED_SUBJECT));
        assert!(new_outer.get("Keywords").is_none());
        assert_eq!(
            new_outer.get("From").as_deref(),
            Some("Alice <alice@example.test>")
        );
        let p = recover(&entity).unwrap().expect("protected");
        assert_eq!(p.scheme, HpScheme::Cipher);
        assert_eq!(
            p.headers.get("Subject").as_deref(),
            Some("DUPONT Jean 01/02/1960")
        );
        assert_eq!(p.headers.get("Keywords").as_deref(), Some("cr"));
        let rec = p.hp_outer.expect("HP-Outer records");
        assert_eq!(rec.get("Subject").as_deref(), Some(OBSCURED_SUBJECT));
        assert!(rec.get("Keywords").is_none());
        assert!(compare(&new_outer, &rec).is_empty());
        let d = compare(&new_outer, &p.headers);
        let names: Vec<&str> = d.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["Subject", "Keywords"]);
        assert!(String::from_utf8_lossy(&entity).contains("hp=\"cipher\""));
        assert!(String::from_utf8_lossy(&entity).ends_with("\r\n\r\nBonjour.\r\n"));
        let stripped = unmark(&entity);
        let text = String::from_utf8_lossy(&stripped);
        assert!(!text.contains("HP-Outer"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "the sender's Content-Type, byte for byte: {text}"
        );
    }

    #[test]
    fn clear_keeps_the_outer_section_and_signs_a_copy() {
        let (new_outer, entity) = protect(&outer(), INNER, HpMode::Clear).unwrap();
        assert_eq!(new_outer, outer());
        let p = recover(&entity).unwrap().expect("protected");
        assert_eq!(p.scheme, HpScheme::Clear);
        assert!(p.hp_outer.is_none());
        assert!(compare(&new_outer, &p.headers).is_empty());
        let mut altered = outer();
        altered.set("Subject", "changed in transit");
        let d = compare(&altered, &p.headers);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name, "Subject");
        assert_eq!(d[0].outer.as_deref(), Some("changed in transit"));
    }

    #[test]
    fn an_added_user_facing_field_is_a_difference() {
        let (_, entity) = protect(&outer(), INNER, HpMode::Clear).unwrap();
        let p = recover(&entity).unwrap().unwrap();
        let mut altered = outer();
        altered.append("Cc", "eve@example.test");
        altered.append("Received", "by relay");
        let d = compare(&altered, &p.headers);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].name, "Cc");
        assert!(d[0].protected.is_none());
    }

    #[test]
    fn unmarked_payloads_and_bad_markings() {
        assert_eq!(recover(INNER).unwrap(), None);
        assert!(recover(b"Content-Type: text/plain; hp=\"other\"\r\n\r\nx").is_err());
        assert!(
            recover(b"Content-Type: text/plain; hp=\"cipher\"\r\nHP-Outer: nocolon\r\n\r\nx")
                .is_err()
        );
        let legacy = b"Content-Type: text/plain; protected-headers=\"v1\"\r\nSubject: s\r\n\r\nx";
        let p = recover(legacy).unwrap().unwrap();
        assert_eq!(p.scheme, HpScheme::LegacyV1);
        assert_eq!(p.headers.get("Subject").as_deref(), Some("s"));
        assert!(!p.legacy_display);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Any Subject (ASCII or not, RFC 2047-encoded when needed) survives
        /// protection, and the records describe the outer section exactly.
        #[test]
        fn any_subject_round_trips(subject in "[ -~éàçÉ€患者]{0,120}", cipher in proptest::bool::ANY) {
            let mut outer = Headers::default();
            outer.set("From", "alice@example.test");
            outer.set_text("Subject", &subject);
            let mode = if cipher { HpMode::Cipher } else { HpMode::Clear };
            let (new_outer, entity) = protect(&outer, INNER, mode).unwrap();
            let p = recover(&entity).unwrap().unwrap();
            proptest::prop_assert_eq!(p.headers.get("Subject"), outer.get("Subject"));
            match p.hp_outer {
                Some(rec) => proptest::prop_assert!(compare(&new_outer, &rec).is_empty()),
                None => proptest::prop_assert!(!cipher),
            }
            let shown = unmark(&entity);
            proptest::prop_assert!(shown.ends_with(b"\r\n\r\nBonjour.\r\n"));
        }

        /// Hostile payloads: an error or an answer, never a panic.
        #[test]
        fn arbitrary_payloads_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut entity = b"Content-Type: text/plain; hp=cipher\r\nHP-Outer: ".to_vec();
            entity.extend_from_slice(&data);
            let _ = recover(&entity);
            let _ = recover(&data);
            let _ = unmark(&entity);
        }
    }

    #[test]
    fn a_long_recipient_list_is_recorded_on_folded_lines() {
        let to: Vec<String> = (0..80).map(|i| format!("dr{i}@hopital.example")).collect();
        let mut outer = outer();
        outer.set("To", &to.join(", "));
        let (new_outer, entity) = protect(&outer, INNER, HpMode::Cipher).unwrap();
        assert!(entity.split(|b| *b == b'\n').all(|l| l.len() <= 999));
        let rec = recover(&entity).unwrap().unwrap().hp_outer.unwrap();
        assert!(compare(&new_outer, &rec).is_empty());
        assert_eq!(rec.get("To"), outer.get("To"));
    }

    #[test]
    fn the_header_block_alone_gives_the_same_entity() {
        for mode in [HpMode::Cipher, HpMode::Clear] {
            let (outer_a, whole) = protect(&outer(), INNER, mode).unwrap();
            let (hb, body) = split_header_body(INNER);
            // With or without its blank line, as a streaming reader hands it over.
            let with_blank = &INNER[..INNER.len() - body.len()];
            for block in [hb, with_blank] {
                let (outer_b, head) = protect_header_block(&outer(), block, mode).unwrap();
                assert_eq!(outer_b, outer_a);
                assert!(head.ends_with(b"\r\n\r\n"));
                assert_eq!([head.as_slice(), body].concat(), whole);
            }
        }
    }

    #[test]
    fn an_existing_hp_marking_is_replaced() {
        let marked = b"Content-Type: text/plain; hp=\"clear\"\r\nHP-Outer: Subject: x\r\n\r\nbody";
        let (_, entity) = protect(&outer(), marked, HpMode::Cipher).unwrap();
        let text = String::from_utf8_lossy(&entity);
        assert_eq!(text.matches("HP-Outer: Subject").count(), 1, "{text}");
    }
}
