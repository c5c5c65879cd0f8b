//! A test PKI: `mss_token::ca::CertificateAuthority` for the root and people, plus
//! what it does not do — end-entity certificates with an LDAP CRL distribution point,
//! and CRLs / delta CRLs signed by the root (built with x509-cert, signed with the
//! root's RSA key taken from its PEM).
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use der::asn1::{Ia5String, Uint};
use der::referenced::OwnedToRef;
use der::{Decode, Encode, EncodePem};
use mss_token::ca::{CertificateAuthority, KeyUsageProfile, PersonProfile};
use pkcs8::DecodePrivateKey;
use signature::{SignatureEncoding, Signer};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, BasicConstraints, CrlDistributionPoints, CrlNumber,
    ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

const ID_KP_EMAIL_PROTECTION: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");

/// The root and its signing key.
pub struct TestPki {
    /// The CA.
    pub ca: CertificateAuthority,
    key: rsa::PrivateKey,
    serial: std::sync::atomic::AtomicU8,
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
        TestPki {
            ca,
            key,
            serial: std::sync::atomic::AtomicU8::new(1),
        }
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
        self.signer_key_with_dp(cn, email, dp_url).1
    }

    /// A signer identity (key and certificate) whose CRL distribution point is `dp_url`.
    #[allow(dead_code)] // used by the CLI tests only
    pub fn signer_identity_with_dp(
        &self,
        cn: &str,
        email: &str,
        dp_url: &str,
    ) -> mss_token::SoftwareIdentity {
        let (key, cert) = self.signer_key_with_dp(cn, email, dp_url);
        mss_token::SoftwareIdentity::from_parts(cert, vec![self.root().clone()], key)
            .expect("identity")
    }

    fn signer_key_with_dp(
        &self,
        cn: &str,
        email: &str,
        dp_url: &str,
    ) -> (rsa::PrivateKey, Certificate) {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("key");
        let spki_der = {
            use pkcs8::EncodePublicKey;
            key.to_public_key().to_public_key_der().expect("spki")
        };
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).expect("spki");
        let profile = DpProfile {
            subject: Name::from_str_rfc4514(&format!("CN={cn}")),
            issuer: self.root().tbs_certificate().subject().clone(),
            email: Ia5String::new(email).expect("ascii"),
            dp: Ia5String::new(dp_url).expect("ascii url"),
        };
        let now = SystemTime::now();
        let validity = Validity::new(
            time(now - Duration::from_secs(3600)),
            time(now + Duration::from_secs(365 * 86_400)),
        );
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let serial = SerialNumber::new(&[0x40, n, 0x5a]).expect("serial");
        let builder = CertificateBuilder::new(profile, serial, validity, spki).expect("builder");
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let cert = builder
            .build::<_, rsa::pkcs1v15::Signature>(&signer)
            .expect("sign");
        (key, cert)
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

trait FromRfc4514 {
    fn from_str_rfc4514(s: &str) -> Name;
}

impl FromRfc4514 for Name {
    fn from_str_rfc4514(s: &str) -> Name {
        s.parse().expect("name")
    }
}

struct DpProfile {
    subject: Name,
    issuer: Name,
    email: Ia5String,
    dp: Ia5String,
}

impl BuilderProfile for DpProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut exts: Vec<Extension> = Vec::new();
        let bc = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        exts.push(bc.to_extension(tbs.subject(), &exts)?);
        let ku = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        exts.push(ku.to_extension(tbs.subject(), &exts)?);
        let eku = ExtendedKeyUsage(vec![ID_KP_EMAIL_PROTECTION]);
        exts.push(eku.to_extension(tbs.subject(), &exts)?);
        let san = SubjectAltName(vec![GeneralName::Rfc822Name(self.email.clone())]);
        exts.push(san.to_extension(tbs.subject(), &exts)?);
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        exts.push(ski.to_extension(tbs.subject(), &exts)?);
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(issuer_ski.0),
            ..Default::default()
        };
        exts.push(aki.to_extension(tbs.subject(), &exts)?);
        let dps = CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![
                GeneralName::UniformResourceIdentifier(self.dp.clone()),
            ])),
            reasons: None,
            crl_issuer: None,
        }]);
        exts.push(dps.to_extension(tbs.subject(), &exts)?);
        Ok(exts)
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
