//! A small certificate authority issuing S/MIME certificates.
//!
//! Used by `mss demo` (to give every participant of the demonstration an identity)
//! and by tests. It is deliberately minimal: a self-signed RSA root and end-entity
//! certificates with the RFC 8550 S/MIME profile (rfc822Name in subjectAltName,
//! keyUsage per role, extendedKeyUsage emailProtection), signed with
//! sha256WithRSAEncryption, with an optional CRL distribution point
//! ([`PersonProfile::crl_distribution_point`]). It does not sign CRLs and persists
//! nothing beyond [`CertificateAuthority::identity_pem`].
//!
//! Certificates are assembled with `x509-cert`'s builder; the two profiles below
//! (root and end entity) decide the extensions, since the builder's stock profiles
//! (CA/Browser Forum TLS) do not describe S/MIME certificates.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{Ia5String, Utf8StringRef};
use der::{Any, Decode, Encode};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::constraints::BasicConstraints;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use crate::{SoftwareIdentity, TokenError};

const ID_AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ID_KP_EMAIL_PROTECTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");

/// Smallest and largest RSA key sizes the CA generates.
const MIN_BITS: usize = 1024;
const MAX_BITS: usize = 8192;

/// What an end-entity key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsageProfile {
    /// Signing (digitalSignature, nonRepudiation) and encryption (keyEncipherment).
    SignAndEncrypt,
    /// Signing only.
    SignOnly,
    /// Encryption only.
    EncryptOnly,
}

/// The person a certificate is issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonProfile {
    /// Subject common name.
    pub common_name: String,
    /// E-mail address (subjectAltName rfc822Name).
    pub email: String,
    /// RSA key size in bits.
    pub bits: usize,
    /// Key usage.
    pub usage: KeyUsageProfile,
    /// Validity in days from now.
    pub valid_days: u32,
    /// A CRL distribution point URI (`ldap://…`, `http://…`) written in the
    /// certificate's cRLDistributionPoints extension; none by default.
    pub crl_distribution_point: Option<String>,
}

impl PersonProfile {
    /// A 2048-bit sign-and-encrypt profile valid for one year.
    pub fn new(common_name: &str, email: &str) -> Self {
        PersonProfile {
            common_name: common_name.to_owned(),
            email: email.to_owned(),
            bits: 2048,
            usage: KeyUsageProfile::SignAndEncrypt,
            valid_days: 365,
            crl_distribution_point: None,
        }
    }
}

/// A self-signed RSA root that issues S/MIME end-entity certificates.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    identity: SoftwareIdentity,
}

impl CertificateAuthority {
    /// Create a root: a new RSA key of `bits` bits and a self-signed certificate
    /// (basicConstraints CA:true critical, keyUsage keyCertSign+cRLSign critical,
    /// subjectKeyIdentifier), valid for ten years.
    pub fn new(common_name: &str, bits: usize) -> Result<Self, TokenError> {
        let key = generate_key(bits)?;
        let spki = spki_of(&key)?;
        let subject = common_name_to_name(common_name)?;
        let validity = validity(Duration::from_secs(3650 * 86_400))?;
        let profile = RootProfile { subject };
        let builder =
            CertificateBuilder::new(profile, random_serial()?, validity, spki).map_err(issuance)?;
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
        let certificate = builder
            .build::<_, rsa::pkcs1v15::Signature>(&signer)
            .map_err(issuance)?;
        Ok(CertificateAuthority {
            identity: SoftwareIdentity::from_parts(certificate, Vec::new(), key)?,
        })
    }

    /// Use an existing identity (e.g. one saved with
    /// [`CertificateAuthority::identity_pem`]) as the CA.
    pub fn from_identity(identity: SoftwareIdentity) -> Self {
        CertificateAuthority { identity }
    }

    /// The CA certificate (the trust anchor for what it issues).
    pub fn certificate(&self) -> &Certificate {
        self.identity.certificate()
    }

    /// The CA's own identity.
    pub fn identity(&self) -> &SoftwareIdentity {
        &self.identity
    }

    /// The CA key and certificate as PEM, to persist the CA. Holds the private key.
    pub fn identity_pem(&self) -> Result<Zeroizing<String>, TokenError> {
        self.identity.to_pem()
    }

    /// Issue an end-entity identity: new RSA key, certificate with subject CN,
    /// subjectAltName rfc822Name, keyUsage (critical) per `profile.usage`,
    /// extendedKeyUsage emailProtection, subject and authority key identifiers,
    /// basicConstraints CA:false, a random 16-byte serial, validity from one hour ago
    /// to `valid_days` from now, signed with sha256WithRSAEncryption. The chain of
    /// the result holds the CA certificate.
    pub fn issue(&self, profile: &PersonProfile) -> Result<SoftwareIdentity, TokenError> {
        let email = Ia5String::new(&profile.email).map_err(|_| {
            TokenError::Issuance(format!("e-mail address is not ASCII: {:?}", profile.email))
        })?;
        if !profile.email.contains('@') {
            return Err(TokenError::Issuance(format!(
                "not an e-mail address: {:?}",
                profile.email
            )));
        }
        let crl_dp = match &profile.crl_distribution_point {
            Some(uri) => Some(Ia5String::new(uri).map_err(|_| {
                TokenError::Issuance(format!("distribution point is not ASCII: {uri:?}"))
            })?),
            None => None,
        };
        let key = generate_key(profile.bits)?;
        let spki = spki_of(&key)?;
        let ee = EndEntityProfile {
            subject: common_name_to_name(&profile.common_name)?,
            issuer: self.certificate().tbs_certificate().subject().clone(),
            email,
            usage: profile.usage,
            crl_dp,
        };
        let validity = validity(Duration::from_secs(u64::from(profile.valid_days) * 86_400))?;
        let builder =
            CertificateBuilder::new(ee, random_serial()?, validity, spki).map_err(issuance)?;
        let ca_key = self.identity.rsa_key().ok_or_else(|| {
            TokenError::Unsupported(format!(
                "issuing with a {:?} CA key (RSA only)",
                self.identity.key_kind()
            ))
        })?;
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(ca_key.clone());
        let certificate = builder
            .build::<_, rsa::pkcs1v15::Signature>(&signer)
            .map_err(issuance)?;
        SoftwareIdentity::from_parts(certificate, vec![self.certificate().clone()], key)
    }
}

fn issuance(e: impl std::fmt::Display) -> TokenError {
    TokenError::Issuance(e.to_string())
}

fn generate_key(bits: usize) -> Result<rsa::PrivateKey, TokenError> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(TokenError::Unsupported(format!(
            "RSA key size {bits} (allowed: {MIN_BITS}..={MAX_BITS})"
        )));
    }
    rsa::PrivateKey::new(&mut getrandom::SysRng, bits)
        .map_err(|e| TokenError::KeyGeneration(e.to_string()))
}

fn spki_of(key: &rsa::PrivateKey) -> Result<SubjectPublicKeyInfoOwned, TokenError> {
    use pkcs8::EncodePublicKey;
    let der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| TokenError::KeyGeneration(e.to_string()))?;
    Ok(SubjectPublicKeyInfoOwned::from_der(der.as_bytes())?)
}

/// A positive 16-byte random serial number (RFC 5280 §4.1.2.2).
fn random_serial() -> Result<SerialNumber, TokenError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::KeyGeneration(e.to_string()))?;
    // Clear the sign bit and set the next one, so the value is positive and
    // encodes on exactly 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

/// From one hour ago (clock skew) to `duration` from now.
fn validity(duration: Duration) -> Result<Validity, TokenError> {
    let now = SystemTime::now();
    let not_before = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
    let not_after = now
        .checked_add(duration)
        .ok_or_else(|| TokenError::Issuance("validity period too long".into()))?;
    Ok(Validity::new(
        Time::try_from(not_before)?,
        Time::try_from(not_after)?,
    ))
}

/// `CN=<common_name>` as a UTF8String, without any DN-string parsing (so commas and
/// other special characters in names need no escaping).
fn common_name_to_name(common_name: &str) -> Result<Name, TokenError> {
    if common_name.is_empty() {
        return Err(TokenError::Issuance("empty common name".into()));
    }
    let value = Any::encode_from(&Utf8StringRef::new(common_name)?)?;
    let mut rdn = RelativeDistinguishedName::default();
    rdn.insert(AttributeTypeAndValue {
        oid: ID_AT_COMMON_NAME,
        value,
    })?;
    let mut rdns = RdnSequence::default();
    rdns.push(rdn);
    Ok(Name::from_der(&rdns.to_der()?)?)
}

/// The self-signed root profile.
struct RootProfile {
    subject: Name,
}

impl BuilderProfile for RootProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut exts: Vec<Extension> = Vec::new();
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        exts.push(bc.to_extension(tbs.subject(), &exts)?);
        let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        exts.push(ku.to_extension(tbs.subject(), &exts)?);
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        exts.push(ski.to_extension(tbs.subject(), &exts)?);
        Ok(exts)
    }
}

/// The S/MIME end-entity profile.
struct EndEntityProfile {
    subject: Name,
    issuer: Name,
    email: Ia5String,
    usage: KeyUsageProfile,
    crl_dp: Option<Ia5String>,
}

impl BuilderProfile for EndEntityProfile {
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
        let ku = match self.usage {
            KeyUsageProfile::SignAndEncrypt => KeyUsage(
                KeyUsages::DigitalSignature
                    | KeyUsages::NonRepudiation
                    | KeyUsages::KeyEncipherment,
            ),
            KeyUsageProfile::SignOnly => {
                KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)
            }
            KeyUsageProfile::EncryptOnly => KeyUsage(KeyUsages::KeyEncipherment.into()),
        };
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
        if let Some(uri) = &self.crl_dp {
            let dps = CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![
                    GeneralName::UniformResourceIdentifier(uri.clone()),
                ])),
                reasons: None,
                crl_issuer: None,
            }]);
            exts.push(dps.to_extension(tbs.subject(), &exts)?);
        }
        Ok(exts)
    }
}
