//! Trust anchors from files: DER, PEM (one or many), a directory, PKCS#7 bundles made
//! by `openssl crl2pkcs7` (DER and PEM).

use std::path::Path;
use std::process::Command;

use der::{Decode, Encode};
use mss_pki::anchors::{AnchorError, load_path, parse_certificates};
use x509_cert::Certificate;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/pkits/certs/"
);

fn der(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}.crt")).expect("PKITS vectors in ../shared/vectors")
}

fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap()
}

fn openssl(args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .status()
        .expect("openssl is needed (scripts/install-deps.sh installs it)");
    assert!(st.success(), "openssl {args:?}");
}

fn subjects(certs: &[Certificate]) -> Vec<String> {
    certs
        .iter()
        .map(|c| c.tbs_certificate().subject().to_string())
        .collect()
}

#[test]
fn files_directories_and_pkcs7_bundles() {
    let root = der("TrustAnchorRootCertificate");
    let good = der("GoodCACert");
    let old = der("Validpre2000UTCnotBeforeDateTest3EE");
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);

    std::fs::write(p("root.der"), &root).unwrap();
    let one = load_path(&p("root.der")).unwrap();
    assert_eq!(one[0].to_der().unwrap(), root);

    // PEM with several blocks, a key-like block in between is skipped.
    let text = format!(
        "comment\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{}{}",
        pem(&root),
        pem(&good),
        pem(&old)
    );
    std::fs::write(p("bundle.pem"), &text).unwrap();
    let many = load_path(&p("bundle.pem")).unwrap();
    assert_eq!(many.len(), 3);
    assert!(
        subjects(&many)[2].contains("pre2000"),
        "1950 certificate read"
    );

    // PKCS#7 certs-only, DER and PEM, from openssl.
    std::fs::write(p("a.pem"), pem(&root)).unwrap();
    std::fs::write(p("b.pem"), pem(&good)).unwrap();
    let s = |x: &Path| x.to_str().unwrap().to_owned();
    for (form, name) in [("DER", "chain.p7b"), ("PEM", "chain-pem.p7c")] {
        openssl(&[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            &s(&p("a.pem")),
            "-certfile",
            &s(&p("b.pem")),
            "-outform",
            form,
            "-out",
            &s(&p(name)),
        ]);
        let got = load_path(&p(name)).unwrap();
        let mut names = subjects(&got);
        names.sort();
        let mut want = subjects(&[
            Certificate::from_der(&root).unwrap(),
            Certificate::from_der(&good).unwrap(),
        ]);
        want.sort();
        assert_eq!(names, want, "{name}");
    }

    // The directory: every file with a known extension (2+3+1+2+2 = 10), others ignored.
    std::fs::write(p("README.txt"), "not a certificate").unwrap();
    let all = load_path(tmp.path()).unwrap();
    assert_eq!(all.len(), 10);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("x.pem");
    std::fs::write(&f, "hello").unwrap();
    assert!(matches!(load_path(&f), Err(AnchorError::Decode { .. })));
    assert!(matches!(
        load_path(&tmp.path().join("missing.pem")),
        Err(AnchorError::Io { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_path(empty.path()),
        Err(AnchorError::Empty { .. })
    ));
    let root = der("TrustAnchorRootCertificate");
    for cut in [1, 5, 100, root.len() - 1] {
        assert!(parse_certificates(&root[..cut]).is_err());
    }
    assert!(parse_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA").is_err());
}
