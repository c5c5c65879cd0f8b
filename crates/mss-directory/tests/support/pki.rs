//! A test PKI: `mss_token::ca::CertificateAuthority` for the root and people (with an
//! LDAP CRL distribution point for the revocation tests), plus what it does not do:
//! CRLs / delta CRLs signed by the root (built with x509-cert, signed with the root's
//! RSA key taken from its PEM).
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use der::asn1::Uint;
use der::referenced::OwnedToRef;
use der::{Encode, EncodePem};
use mss_token::ca::{CertificateAuthority, KeyUsageProfile, PersonProfile};
use pkcs8::DecodePrivateKey;
use signature::{SignatureEncoding, Signer};
use x509_cert::Certificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::time::Time;

/// The root and its signing key.
pub struct TestPki {
    /// The CA.
    pub ca: CertificateAuthority,
    key: rsa::PrivateKey,
}

fn time(t: SystemTime) -> Time {
    Time::try_from(t).expect("time")
}

impl TestPki {
    /// A new root `CN=<name>` (RSA 2048).
    pub fn new(name: &str) -> Self {
        let ca = CertificateAuthority::new(name, 2048).expect("CA");
        let pem = ca.identity_pem().expect("CA PEM");
        let start = pem.find("-----BEGIN PRIVATE KEY-----").expect("key block");
        let end_marker = "-----END PRIVATE KEY-----";
        let end = pem.find(end_marker).expect("key end") + end_marker.len();
        let key = rsa::PrivateKey::from_pkcs8_pem(&pem[start..end]).expect("CA key");
        TestPki { ca, key }
    }

    /// The root certificate.
    pub fn root(&self) -> &Certificate {
        self.ca.certificate()
    }

    /// DER of the root certificate.
    pub fn root_der(&self) -> Vec<u8> {
        self.root().to_der().expect("der")
    }

    /// An S/MIME certificate from the stock CA profile.
    pub fn person(
        &self,
        cn: &str,
        email: &str,
        usage: KeyUsageProfile,
        valid_days: u32,
    ) -> Certificate {
        let mut p = PersonProfile::new(cn, email);
        p.usage = usage;
        p.valid_days = valid_days;
        self.ca.issue(&p).expect("issue").certificate().clone()
    }

    /// An S/MIME identity (key and certificate) from the stock CA profile.
    pub fn identity(
        &self,
        cn: &str,
        email: &str,
        usage: KeyUsageProfile,
    ) -> mss_token::SoftwareIdentity {
        let mut p = PersonProfile::new(cn, email);
        p.usage = usage;
        self.ca.issue(&p).expect("issue")
    }

    /// A signing certificate whose CRL distribution point is `dp_url`.
    pub fn signer_with_dp(&self, cn: &str, email: &str, dp_url: &str) -> Certificate {
        self.signer_identity_with_dp(cn, email, dp_url)
            .certificate()
            .clone()
    }

    /// A signer identity (key and certificate) whose CRL distribution point is `dp_url`.
    #[allow(dead_code)] // used by the CLI tests only
    pub fn signer_identity_with_dp(
        &self,
        cn: &str,
        email: &str,
        dp_url: &str,
    ) -> mss_token::SoftwareIdentity {
        self.ca
            .issue(&PersonProfile {
                usage: KeyUsageProfile::SignOnly,
                crl_distribution_point: Some(dp_url.to_owned()),
                ..PersonProfile::new(cn, email)
            })
            .expect("issue")
    }

    /// A CRL v2 of the root, number `number`, revoking `revoked` (keyCompromise is not
    /// set: reason unspecified); a delta CRL of base `delta_of` when given.
    pub fn crl(&self, number: u8, revoked: &[&Certificate], delta_of: Option<u8>) -> Vec<u8> {
        let issuer = self.root().tbs_certificate().subject().clone();
        let now = SystemTime::now();
        let mut exts: Vec<Extension> = Vec::new();
        exts.push(
            CrlNumber(Uint::new(&[number]).expect("uint"))
                .to_extension(&issuer, &exts)
                .expect("ext"),
        );
        let ski = SubjectKeyIdentifier::try_from(
            self.root()
                .tbs_certificate()
                .subject_public_key_info()
                .owned_to_ref(),
        )
        .expect("ski");
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(ski.0),
            ..Default::default()
        };
        exts.push(aki.to_extension(&issuer, &exts).expect("aki"));
        if let Some(base) = delta_of {
            exts.push(
                BaseCrlNumber(Uint::new(&[base]).expect("uint"))
                    .to_extension(&issuer, &exts)
                    .expect("delta"),
            );
        }
        let revoked: Vec<RevokedCert> = revoked
            .iter()
            .map(|c| RevokedCert {
                serial_number: c.tbs_certificate().serial_number().clone(),
                revocation_date: time(now - Duration::from_secs(600)),
                crl_entry_extensions: None,
            })
            .collect();
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: self.root().signature_algorithm().clone(),
            issuer,
            this_update: time(now - Duration::from_secs(1800)),
            next_update: Some(time(now + Duration::from_secs(7 * 86_400))),
            revoked_certificates: if revoked.is_empty() {
                None
            } else {
                Some(revoked)
            },
            crl_extensions: Some(exts),
        };
        let tbs_der = tbs.to_der().expect("tbs");
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let sig: rsa::pkcs1v15::Signature = signer.try_sign(&tbs_der).expect("sign");
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: self.root().signature_algorithm().clone(),
            signature: der::asn1::BitString::from_bytes(&sig.to_vec()).expect("bits"),
        }
        .to_der()
        .expect("crl der")
    }
}

/// A degenerate PKCS#7 SignedData carrying `certs` (what `userSMIMECertificate`
/// holds), made with `openssl crl2pkcs7`.
pub fn pkcs7_bag(certs: &[&Certificate]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let mut args: Vec<String> = vec![
        "crl2pkcs7".into(),
        "-nocrl".into(),
        "-outform".into(),
        "DER".into(),
    ];
    for (i, c) in certs.iter().enumerate() {
        let p = dir.path().join(format!("c{i}.pem"));
        std::fs::write(&p, c.to_pem(der::pem::LineEnding::LF).ok()?).ok()?;
        args.push("-certfile".into());
        args.push(p.display().to_string());
    }
    let out = std::process::Command::new("openssl")
        .args(&args)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}
