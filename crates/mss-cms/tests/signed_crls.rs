//! The SignedData `crls [1]` field is read (a certs-and-CRLs bundle made by
//! `openssl crl2pkcs7` from a PKITS CRL).

use std::process::Command;

use mss_cms::content::ContentInfo;
use mss_cms::signed;

const PKITS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/pkits/"
);

#[test]
fn crls_in_a_signed_data_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle.p7b");
    let crl = format!("{PKITS}crls/GoodCACRL.crl");
    let st = Command::new("openssl")
        .args([
            "crl2pkcs7",
            "-inform",
            "DER",
            "-in",
            &crl,
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&out)
        .status()
        .expect("openssl is needed (scripts/install-deps.sh installs it)");
    assert!(st.success());
    let der = std::fs::read(&out).unwrap();
    let ci = ContentInfo::from_ber(&der).unwrap();
    let sd = signed::parse(&ci.content).unwrap();
    assert!(sd.signers.is_empty());
    assert_eq!(sd.crls.len(), 1);
    assert_eq!(sd.crls[0], std::fs::read(&crl).unwrap());
}
