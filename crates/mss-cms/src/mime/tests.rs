//! Tests of the S/MIME classification, the builders, draft splitting, and
//! parsing of the shared real-world sample messages.

use super::*;

fn sig_der() -> Vec<u8> {
    // Not real DER; the MIME layer does not look inside.
    (0u8..=255).cycle().take(700).collect()
}

fn b64(data: &[u8]) -> String {
    String::from_utf8(encode_base64_lines(data)).unwrap()
}

fn signed_lf_message() -> String {
    format!(
        "From: a@example.org\n\
         Subject: =?utf-8?Q?R=C3=A9sultats?=\n\
         MIME-Version: 1.0\n\
         Content-Type: Multipart/Signed; Protocol=\"application/x-pkcs7-signature\";\n\
         \tmicalg=SHA-256; boundary=\"=_b_42\"\n\
         \n\
         This is the preamble.\n\
         --=_b_42  \n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Bonjour,\n\
         ligne 2\n\
         \n\
         --=_b_42\n\
         Content-Type: application/x-pkcs7-signature; name=smime.p7s\n\
         Content-Transfer-Encoding: BASE64\n\
         \n\
         {}\n\
         --=_b_42--\n\
         epilogue\n",
        b64(&sig_der())
    )
}

#[test]
fn classify_multipart_signed_lf_preamble_epilogue() {
    let msg = signed_lf_message();
    let (h, e) = classify(msg.as_bytes()).unwrap();
    assert_eq!(h.get("subject").unwrap(), "Résultats");
    match e {
        SmimeEntity::MultipartSigned {
            signed_part,
            signature,
            micalg,
            protocol,
        } => {
            assert_eq!(
                signed_part,
                b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nligne 2\r\n"
            );
            assert_eq!(signature, sig_der());
            assert_eq!(micalg.as_deref(), Some("sha-256"));
            assert_eq!(protocol, "application/x-pkcs7-signature");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn classify_multipart_signed_crlf_is_byte_exact() {
    let msg = canonicalize(signed_lf_message().as_bytes());
    // A bare CR inside the signed part must survive untouched when the
    // message is otherwise canonical (no bare LF).
    let msg = String::from_utf8(msg)
        .unwrap()
        .replace("ligne 2", "ligne\r2 \t");
    let (_, e) = classify(msg.as_bytes()).unwrap();
    let SmimeEntity::MultipartSigned { signed_part, .. } = e else {
        panic!("not multipart/signed");
    };
    assert_eq!(
        signed_part,
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nligne\r2 \t\r\n"
    );
}

#[test]
fn classify_multipart_signed_errors() {
    let one_part = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
    assert!(matches!(
        classify(one_part.as_bytes()),
        Err(MimeError::BadSignedStructure(_))
    ));
    let no_boundary =
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"\r\n\r\n--b\r\n";
    assert_eq!(
        classify(no_boundary.as_bytes()).unwrap_err(),
        MimeError::MissingBoundary
    );
    let bad_b64 = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nMII*\r\n--b--\r\n";
    assert!(matches!(
        classify(bad_b64.as_bytes()),
        Err(MimeError::BadTransferEncoding(_))
    ));
    let wrong_second = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n\r\nMIIB\r\n--b--\r\n";
    assert!(matches!(
        classify(wrong_second.as_bytes()),
        Err(MimeError::BadSignedStructure(_))
    ));
    let empty_sig = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n--b--\r\n";
    assert!(matches!(
        classify(empty_sig.as_bytes()),
        Err(MimeError::BadSignedStructure(_))
    ));
    let three = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\n";
    assert!(matches!(
        classify(three.as_bytes()),
        Err(MimeError::BadSignedStructure(_))
    ));
    let truncated = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n";
    assert!(matches!(
        classify(truncated.as_bytes()),
        Err(MimeError::Malformed(_))
    ));
}

#[test]
fn classify_other_kinds() {
    let pgp = "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n";
    assert_eq!(classify(pgp.as_bytes()).unwrap().1, SmimeEntity::Plain);
    assert_eq!(
        classify(b"Subject: x\r\n\r\nhello").unwrap().1,
        SmimeEntity::Plain
    );
    assert_eq!(
        classify(b"Content-Type: text/html\r\n\r\n<p>").unwrap().1,
        SmimeEntity::Plain
    );

    let der = sig_der();
    let x = format!(
        "Content-Type: APPLICATION/X-PKCS7-MIME; smime-type=Enveloped-Data\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        b64(&der)
    );
    assert_eq!(
        classify(x.as_bytes()).unwrap().1,
        SmimeEntity::Pkcs7Mime {
            smime_type: Some("enveloped-data".into()),
            der: der.clone()
        }
    );
    let oct = format!(
        "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"SMIME.P7M\"\nContent-Transfer-Encoding: base64\n\n{}",
        b64(&der)
    );
    assert_eq!(
        classify(oct.as_bytes()).unwrap().1,
        SmimeEntity::Pkcs7Mime {
            smime_type: None,
            der: der.clone()
        }
    );
    let p7c = format!(
        "Content-Type: application/octet-stream; name=certs.p7c\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        b64(&der)
    );
    assert!(matches!(
        classify(p7c.as_bytes()).unwrap().1,
        SmimeEntity::Pkcs7Mime { smime_type: Some(t), .. } if t == "certs-only"
    ));
    let other_oct = "Content-Type: application/octet-stream; name=a.pdf\r\n\r\nxx";
    assert_eq!(
        classify(other_oct.as_bytes()).unwrap().1,
        SmimeEntity::Plain
    );
    let empty = "Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\n";
    assert!(matches!(
        classify(empty.as_bytes()),
        Err(MimeError::Malformed(_))
    ));
    let bad = "Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB!!\r\n";
    assert!(matches!(
        classify(bad.as_bytes()),
        Err(MimeError::BadTransferEncoding(_))
    ));
    assert!(classify(b"bad header line\r\n\r\nbody").is_err());
}

fn outer_headers() -> Headers {
    let mut h = Headers::parse(
        b"From: Dr A <a@example.org>\r\nTo: b@example.org\r\nSubject: =?utf-8?Q?=C3=A9t=C3=A9?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nX-Mailer: mss\r\n",
    )
    .unwrap();
    h.remove("content-type");
    h
}

#[test]
fn build_multipart_signed_round_trip() {
    let (_, inner) = split_draft(
        "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nBonjour é\n--not a boundary\n\n"
            .as_bytes(),
    )
    .unwrap();
    let sig = sig_der();
    let msg = build_multipart_signed(&outer_headers(), &inner, &sig, "SHA-256");
    assert!(!has_bare_lf(&msg));
    let (h, e) = classify(&msg).unwrap();
    assert_eq!(h.get("subject").unwrap(), "été");
    assert_eq!(h.get_all("mime-version"), vec!["1.0"]);
    assert_eq!(h.get("x-mailer").unwrap(), "mss");
    let ct = h.content_type();
    let boundary = ct.param("boundary").unwrap().to_owned();
    assert!(!String::from_utf8_lossy(&inner).contains(&boundary));
    assert_eq!(
        e,
        SmimeEntity::MultipartSigned {
            signed_part: inner.clone(),
            signature: sig.clone(),
            micalg: Some("sha-256".into()),
            protocol: "application/pkcs7-signature".into(),
        }
    );
    // Two builds use different boundaries.
    let msg2 = build_multipart_signed(&outer_headers(), &inner, &sig, "sha-256");
    let (h2, _) = classify(&msg2).unwrap();
    assert_ne!(h2.content_type().param("boundary").unwrap(), boundary);
    // Inner entity without trailing CRLF, empty signature edge, micalg list.
    let msg3 = build_multipart_signed(
        &Headers::default(),
        b"Content-Type: text/plain\r\n\r\nx",
        &sig_der(),
        "sha-256, sha-1",
    );
    let (h3, e3) = classify(&msg3).unwrap();
    assert_eq!(h3.content_type().param("micalg"), Some("sha-256,sha-1"));
    assert!(
        matches!(e3, SmimeEntity::MultipartSigned { signed_part, .. } if signed_part == b"Content-Type: text/plain\r\n\r\nx")
    );
}

fn has_bare_lf(d: &[u8]) -> bool {
    d.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || d[i - 1] != b'\r'))
}

#[test]
fn build_multipart_signed_empty_signature_is_rejected_on_read() {
    let msg = build_multipart_signed(
        &Headers::default(),
        b"Content-Type: text/plain\r\n\r\nx",
        b"",
        "sha-256",
    );
    assert!(matches!(
        classify(&msg),
        Err(MimeError::BadSignedStructure(_))
    ));
}

#[test]
fn build_pkcs7_mime_round_trip() {
    for (t, file) in [
        ("enveloped-data", "smime.p7m"),
        ("signed-data", "smime.p7m"),
        ("authEnveloped-data", "smime.p7m"),
        ("certs-only", "smime.p7c"),
    ] {
        let der = sig_der();
        let msg = build_pkcs7_mime(&outer_headers(), t, &der);
        assert!(!has_bare_lf(&msg));
        let (h, e) = classify(&msg).unwrap();
        assert_eq!(h.content_type().param("name"), Some(file));
        assert_eq!(h.get("content-transfer-encoding").unwrap(), "base64");
        assert_eq!(h.get("to").unwrap(), "b@example.org");
        assert_eq!(h.get_all("mime-version"), vec!["1.0"]);
        assert_eq!(
            e,
            SmimeEntity::Pkcs7Mime {
                smime_type: Some(t.to_ascii_lowercase()),
                der
            }
        );
    }
    // Nested: the signed message inside an enveloped one.
    let signed = build_multipart_signed(
        &Headers::default(),
        b"Content-Type: text/plain\r\n\r\nhi\r\n",
        &sig_der(),
        "sha-256",
    );
    let (_, e) = classify(&signed).unwrap();
    assert!(matches!(e, SmimeEntity::MultipartSigned { .. }));
}

#[test]
fn split_draft_without_content_type() {
    let draft =
        b"From: a@example.org\nTo: b@example.org\nSubject: Hi\nMIME-Version: 1.0\n\nHello\nWorld\n";
    let (outer, inner) = split_draft(draft).unwrap();
    assert_eq!(
        outer
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        vec!["From", "To", "Subject", "MIME-Version"]
    );
    assert_eq!(
        inner,
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\nWorld\r\n"
    );
}

#[test]
fn split_draft_with_content_type_and_8bit() {
    let draft = "Subject: CR\r\nContent-Type: text/plain;\r\n charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\nX-Priority: 1\r\n\r\nRésultat = normal \r\nFrom the lab\r\n";
    let (outer, inner) = split_draft(draft.as_bytes()).unwrap();
    assert_eq!(outer.get("x-priority").unwrap(), "1");
    assert!(outer.get("content-type").is_none());
    assert!(inner.is_ascii());
    let (h, body) = split_header_body(&inner);
    let h = Headers::parse(h).unwrap();
    assert_eq!(
        h.get_raw("content-type").unwrap(),
        b" text/plain;\r\n charset=\"utf-8\""
    );
    assert_eq!(
        h.get("content-transfer-encoding").unwrap(),
        "quoted-printable"
    );
    assert_eq!(body, b"R=C3=A9sultat =3D normal=20\r\n=46rom the lab\r\n");
    assert_eq!(
        decode_transfer_encoding(body, Some("quoted-printable")).unwrap(),
        "Résultat = normal \r\nFrom the lab\r\n".as_bytes()
    );
}

#[test]
fn split_draft_binary_long_lines_and_multipart() {
    // Non-text 8-bit content → base64 of its bytes as they are (an LF is data).
    let draft = b"Content-Type: application/octet-stream\n\n\x00\x01\xff\n";
    let (_, inner) = split_draft(draft).unwrap();
    let (h, body) = split_header_body(&inner);
    let h = Headers::parse(h).unwrap();
    assert_eq!(h.get("content-transfer-encoding").unwrap(), "base64");
    assert_eq!(
        decode_transfer_encoding(body, Some("base64")).unwrap(),
        b"\x00\x01\xff\n"
    );
    // Long ASCII line → quoted-printable.
    let long = format!("Subject: l\n\n{}\n", "a".repeat(1200));
    let (_, inner) = split_draft(long.as_bytes()).unwrap();
    assert!(inner.split(|&b| b == b'\n').all(|l| l.len() <= 78));
    assert!(
        String::from_utf8_lossy(&inner).contains("Content-Transfer-Encoding: quoted-printable")
    );
    // Multipart with an 8-bit part: each part re-encoded, structure kept.
    let mp = "Content-Type: multipart/mixed; boundary=XX\n\npreamble\n--XX\nContent-Type: text/plain; charset=utf-8\n\nÉté\n--XX\nContent-Type: text/plain\n\nascii\n--XX--\n";
    let (_, inner) = split_draft(mp.as_bytes()).unwrap();
    assert!(inner.is_ascii());
    let (h, body) = split_header_body(&inner);
    let h = Headers::parse(h).unwrap();
    let parts = split_multipart(body, h.content_type().param("boundary").unwrap()).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0],
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=89t=C3=A9"
    );
    assert_eq!(parts[1], b"Content-Type: text/plain\r\n\r\nascii");
    // 7-bit multipart stays byte-identical (only CRLF canonicalised).
    let clean = "Content-Type: multipart/mixed; boundary=XX\n\npre\n--XX\n\nx\n--XX--\nepi\n";
    let (_, inner) = split_draft(clean.as_bytes()).unwrap();
    assert_eq!(inner, canonicalize(clean.as_bytes()));
    // Deep nesting is bounded.
    let mut deep = String::new();
    for i in 0..40 {
        deep.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
        ));
    }
    deep.push_str("Content-Type: text/plain\n\né\n");
    for i in (0..40).rev() {
        deep.push_str(&format!("--b{i}--\n"));
    }
    assert_eq!(
        split_draft(deep.as_bytes()).unwrap_err(),
        MimeError::TooDeep
    );
    // A draft without a blank line: headers only.
    let (outer, inner) = split_draft(b"Subject: only\n").unwrap();
    assert_eq!(outer.get("subject").unwrap(), "only");
    assert_eq!(inner, b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
}

#[test]
fn merge_outer_headers_cases() {
    let outer = Headers::parse(
        b"Received: x\r\nFrom: a@example.org\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n",
    )
    .unwrap();
    let inner = b"Content-Type: text/plain; charset=utf-8\r\nSubject: Real subject\r\nMIME-Version: 1.0\r\n\r\nbody\r\n";
    let merged = merge_outer_headers(&outer, inner);
    assert_eq!(
        merged,
        b"Received: x\r\nFrom: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nSubject: Real subject\r\n\r\nbody\r\n"
    );
    let merged = merge_outer_headers(&outer, b"\r\njust text");
    assert_eq!(
        merged,
        b"Received: x\r\nFrom: a@example.org\r\nSubject: ...\r\nMIME-Version: 1.0\r\n\r\njust text"
    );
}

// ---- Real samples -------------------------------------------------------

fn vector(rel: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/vectors/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("test vector {path} missing: {e}"))
}

#[test]
fn sample_rfc4134_4_8_multipart_signed() {
    let data = vector("rfc4134/4.8.eml");
    let (h, e) = classify(&data).unwrap();
    assert_eq!(h.get("subject").unwrap(), "Example 4.8");
    let SmimeEntity::MultipartSigned {
        signed_part,
        signature,
        micalg,
        protocol,
    } = e
    else {
        panic!("4.8 is multipart/signed");
    };
    // The first part has no header: it starts with the blank line.
    assert_eq!(signed_part, b"\r\nThis is some sample content.");
    assert_eq!(micalg.as_deref(), Some("sha1"));
    assert_eq!(protocol, "application/pkcs7-signature");
    assert_eq!(signature.first(), Some(&0x30));
    assert!(signature.len() > 800);
}

#[test]
fn sample_rfc4134_pkcs7_mime() {
    for (file, t) in [
        ("rfc4134/4.9.eml", "signed-data"),
        ("rfc4134/5.3.eml", "enveloped-data"),
    ] {
        let data = vector(file);
        let (_, e) = classify(&data).unwrap();
        let SmimeEntity::Pkcs7Mime { smime_type, der } = e else {
            panic!("{file} is application/pkcs7-mime");
        };
        assert_eq!(smime_type.as_deref(), Some(t), "{file}");
        assert_eq!(der.first(), Some(&0x30), "{file}");
        // DER length in the outer TLV (0x82 two-byte form) matches the data.
        assert_eq!(der.get(1), Some(&0x82), "{file}");
        let len = usize::from(der[2]) << 8 | usize::from(der[3]);
        assert_eq!(len + 4, der.len(), "{file}");
    }
}

#[test]
fn sample_protected_headers() {
    let data = vector("protected-headers/smime-multipart-signed.eml");
    let (h, e) = classify(&data).unwrap();
    assert_eq!(h.get("subject").unwrap(), "The FooCorp contract");
    let SmimeEntity::MultipartSigned {
        signed_part,
        signature,
        micalg,
        ..
    } = e
    else {
        panic!("multipart/signed expected");
    };
    assert!(signed_part.starts_with(
        b"Content-Type: text/plain; charset=\"us-ascii\"; protected-headers=\"v1\"\r\nFrom: "
    ));
    assert!(signed_part.ends_with(b"Example Corp\r\n"));
    assert!(!has_bare_lf(&signed_part));
    assert_eq!(micalg.as_deref(), Some("sha-256"));
    assert_eq!(signature.first(), Some(&0x30));

    for (file, t) in [
        ("smime-onepart-signed.eml", "signed-data"),
        ("smime-enc+legacy-disp.eml", "enveloped-data"),
        ("smime-sign+enc.eml", "enveloped-data"),
        ("smime-sign+enc+legacy-disp.eml", "enveloped-data"),
    ] {
        let data = vector(&format!("protected-headers/{file}"));
        let (h, e) = classify(&data).unwrap();
        assert!(h.get("message-id").is_some(), "{file}");
        let SmimeEntity::Pkcs7Mime { smime_type, der } = e else {
            panic!("{file}: pkcs7-mime expected");
        };
        assert_eq!(smime_type.as_deref(), Some(t), "{file}");
        assert_eq!(der.first(), Some(&0x30), "{file}");
    }
    // The decrypted inner entities are themselves classifiable.
    for file in [
        "smime-sign+enc.inner",
        "smime-onepart-signed.inner",
        "smime-sign+enc.inner.inner",
    ] {
        let data = vector(&format!("protected-headers/{file}"));
        classify(&data).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

// ---- Robustness: arbitrary input never panics, work stays bounded -------

mod robustness {
    use super::super::*;
    use proptest::prelude::*;

    fn mime_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(&b"\r\n"[..]),
                Just(&b"\n"[..]),
                Just(&b"--b"[..]),
                Just(&b"--"[..]),
                Just(&b"Content-Type: multipart/signed; boundary=b; protocol=\"application/pkcs7-signature\"\n"[..]),
                Just(&b"Content-Type: application/pkcs7-mime\n"[..]),
                Just(&b"Content-Transfer-Encoding: base64\n"[..]),
                Just(&b"=?utf-8?q?=C3?="[..]),
                Just(&b" "[..]),
                Just(&b"MIIB"[..]),
                Just(&b"\xff"[..]),
                Just(&b";\"(\\"[..]),
                Just(&b"X: y"[..]),
            ],
            0..60,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_panic_on_arbitrary_input(data in mime_bytes()) {
            let _ = classify(&data);
            let _ = split_multipart(&data, "b");
            let _ = split_draft(&data);
            let _ = decode_transfer_encoding(&data, Some("quoted-printable"));
            let text = String::from_utf8_lossy(&data);
            let _ = ContentType::parse(&text);
            let _ = decode_rfc2047(&text);
            if let Ok(h) = Headers::parse(&data) {
                let _ = merge_outer_headers(&h, &data);
                let again = Headers::parse(&h.to_bytes()).unwrap();
                prop_assert_eq!(again.to_bytes(), h.to_bytes());
            }
        }

        #[test]
        fn no_panic_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = classify(&data);
            let _ = split_draft(&data);
            let _ = decode_rfc2047(&String::from_utf8_lossy(&data));
        }
    }

    #[test]
    fn many_encoded_word_candidates_stay_linear() {
        let mut s = "=?a?Q?".repeat(150_000);
        s.push_str("=?utf-8?Q?ok?=");
        let out = decode_rfc2047(&s);
        assert!(out.ends_with("ok"));
        let h = Headers::parse(format!("Subject: {}\r\n", "=?x?Q?a".repeat(100_000)).as_bytes())
            .unwrap();
        assert!(h.get("subject").unwrap().len() > 600_000);
    }
}

/// A binary attachment given raw (no transfer encoding declared) is base64-encoded
/// byte for byte: its LF, CR and CRLF bytes are data, not line ends. A text body in
/// the same situation is still canonicalised.
#[test]
fn split_draft_keeps_binary_bytes_exactly() {
    let data: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .chain(*b"\n\r\r\n\x00\xff")
        .collect();
    for ct in ["application/octet-stream", "image/png", "application/pdf"] {
        let mut draft = format!("Subject: scan\r\nContent-Type: {ct}\r\n\r\n").into_bytes();
        draft.extend_from_slice(&data);
        let (_, inner) = split_draft(&draft).unwrap();
        let (h, body) = split_header_body(&inner);
        let h = Headers::parse(h).unwrap();
        assert_eq!(h.get("content-transfer-encoding").unwrap(), "base64");
        assert_eq!(
            decode_transfer_encoding(body, Some("base64")).unwrap(),
            data,
            "{ct}"
        );
    }
    let (_, inner) =
        split_draft(b"Content-Type: text/plain\r\n\r\nd\xc3\xa9j\xc3\xa0\nvu\n").unwrap();
    let (_, body) = split_header_body(&inner);
    assert_eq!(body, b"d=C3=A9j=C3=A0\r\nvu\r\n");
}

#[test]
fn seven_bit_check_at_its_limits() {
    // 998 octets is the longest line kept as it is (RFC 5322 §2.1.1), also as the last
    // line without a line end; 999 is re-encoded.
    let cte = |body: &str| {
        let draft = format!("Subject: l\r\n\r\n{body}");
        let (_, inner) = split_draft(draft.as_bytes()).unwrap();
        let (h, _) = split_header_body(&inner);
        Headers::parse(h).unwrap().get("content-transfer-encoding")
    };
    let ok = "a".repeat(998);
    let long = "a".repeat(999);
    assert_eq!(cte(&format!("x\r\n{ok}\r\ny\r\n")), None);
    assert_eq!(cte(&format!("x\r\n{ok}")), None);
    assert_eq!(
        cte(&format!("x\r\n{long}\r\ny\r\n")).as_deref(),
        Some("quoted-printable")
    );
    assert_eq!(
        cte(&format!("x\r\n{long}")).as_deref(),
        Some("quoted-printable")
    );
    // An 8-bit byte or a NUL anywhere in a long body, whatever its place in the blocks
    // the check goes through, is found.
    let base: Vec<u8> =
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy\r\n"
            .iter()
            .copied()
            .cycle()
            .take(74 * 30)
            .collect();
    for at in [0, 1, 63, 64, 65, 127, 1000, base.len() - 3] {
        for bad in [0x00u8, 0x80, 0xff] {
            let mut body = base.clone();
            body[at] = bad;
            let mut draft = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
            draft.extend_from_slice(&body);
            let (_, inner) = split_draft(&draft).unwrap();
            let (h, _) = split_header_body(&inner);
            let h = Headers::parse(h).unwrap();
            assert_eq!(
                h.get("content-transfer-encoding").as_deref(),
                Some("base64"),
                "{bad:#x} at {at}"
            );
        }
    }
    let mut draft = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
    draft.extend_from_slice(&base);
    let (_, inner) = split_draft(&draft).unwrap();
    assert!(inner.ends_with(&base), "a 7-bit body stays as it is");
}
