//! Software identities: a private key held in memory with its certificate and chain,
//! loaded from PKCS#12 or PEM, or built from parts.
//!
//! The key may be of any kind [`SoftwarePrivateKey`] reads: RSA, DSA, EC (P-256,
//! P-384), Ed25519, X25519 or X9.42 Diffie-Hellman. The key's certificate is found by
//! comparing public keys, which works whatever the order of the input and whether or
//! not `localKeyId` attributes are present; the other certificates become the chain.
//! Key kinds mss does not know are [`TokenError::Unsupported`] with the key
//! algorithm's OID.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString, Uint};
use der::{Decode, Encode, EncodePem, Sequence};
use mss_algs::AlgError;
use mss_algs::key_agreement::{KeyAgreementAlgorithm, recipient_kek};
use mss_algs::keys::{DecryptionKey, KeyKind, SigningKey, SoftwarePrivateKey};
use mss_algs::rsa::{KeyTransport, RsaPrivateKey};
use mss_algs::signature::SignatureAlgorithm;
use pkcs1::DecodeRsaPrivateKey;
use pkcs8::{DecodePublicKey, EncodePrivateKey, LineEnding};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::pem::{looks_like_pem, parse_blocks};
use crate::pin::{PinRequest, PinSource};
use crate::{TokenError, pkcs12};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A private key in memory, with the PKCS#8 DER it was read from when there is one
/// (so that [`SoftwareIdentity::to_pem`] can write any kind of key back).
struct HeldKey {
    key: SoftwarePrivateKey,
    pkcs8: Option<Zeroizing<Vec<u8>>>,
}

/// A certificate, its chain and a private key, all in memory.
///
/// The key is zeroized when the last clone of the identity is dropped. `Debug` shows
/// the subject and the key kind only.
#[derive(Clone)]
pub struct SoftwareIdentity {
    certificate: Certificate,
    chain: Vec<Certificate>,
    key: Arc<HeldKey>,
}

impl fmt::Debug for SoftwareIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareIdentity")
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .field("key_kind", &self.key.key.kind())
            .finish_non_exhaustive()
    }
}

impl SoftwareIdentity {
    /// Build an identity from a certificate, its chain (leaf excluded) and an RSA key.
    ///
    /// Fails with [`TokenError::KeyMismatch`] if the key is not the certificate's.
    pub fn from_parts(
        certificate: Certificate,
        chain: Vec<Certificate>,
        key: RsaPrivateKey,
    ) -> Result<Self, TokenError> {
        Self::from_parts_any(certificate, chain, SoftwarePrivateKey::from_rsa(key))
    }

    /// Build an identity from a certificate, its chain (leaf excluded) and a key of any
    /// kind (RSA, DSA, EC, Ed25519, X25519, DH).
    ///
    /// Fails with [`TokenError::KeyMismatch`] if the key is not the certificate's.
    pub fn from_parts_any(
        certificate: Certificate,
        chain: Vec<Certificate>,
        key: SoftwarePrivateKey,
    ) -> Result<Self, TokenError> {
        let held = HeldKey { key, pkcs8: None };
        if !key_matches(&held.key, &certificate)? {
            return Err(TokenError::KeyMismatch);
        }
        Ok(SoftwareIdentity {
            certificate,
            chain,
            key: Arc::new(held),
        })
    }

    /// Load a PKCS#12 (RFC 7292) PFX, DER or BER encoded.
    ///
    /// The MAC is verified first; a wrong password is [`TokenError::BadPassword`].
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, TokenError> {
        let contents = pkcs12::parse(der, password)?;
        let keys = contents.keys.iter().map(|k| key_from_pkcs8(k)).collect();
        assemble(keys, contents.certificates)
    }

    /// Load a PEM bundle: one private key (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY` with
    /// `password`, or the traditional OpenSSL `RSA PRIVATE KEY`, `EC PRIVATE KEY` and
    /// `DSA PRIVATE KEY`) and one or more `CERTIFICATE`s, in any order. A bundle
    /// holding a `PKCS12` block is read as PKCS#12 with `password` (empty if `None`).
    ///
    /// An encrypted key without password is [`TokenError::PasswordRequired`].
    pub fn from_pem(pem: &str, password: Option<&str>) -> Result<Self, TokenError> {
        let blocks = parse_blocks(pem)?;
        let mut keys = Vec::new();
        let mut certs = Vec::new();
        for block in &blocks {
            let label = block.label.as_str();
            match label {
                "CERTIFICATE" | "X509 CERTIFICATE" => {
                    certs.push(
                        Certificate::from_der(&block.der)
                            .map_err(|e| TokenError::Malformed(format!("certificate: {e}")))?,
                    );
                }
                "PRIVATE KEY" => keys.push(key_from_pkcs8(&block.der)),
                "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY" => {
                    if block.legacy_encrypted {
                        return Err(TokenError::Unsupported(
                            "legacy OpenSSL-encrypted PEM key (Proc-Type: 4,ENCRYPTED); convert it with `openssl pkcs8 -topk8`".into(),
                        ));
                    }
                    keys.push(traditional_key(label, &block.der));
                }
                "ENCRYPTED PRIVATE KEY" => {
                    let password = password.ok_or(TokenError::PasswordRequired)?;
                    let plain = pkcs12::decrypt_private_key_info(&block.der, password)?;
                    keys.push(key_from_pkcs8(&plain));
                }
                "PKCS12" => return Self::from_pkcs12(&block.der, password.unwrap_or("")),
                // CRLs, parameters, trusted-certificate blocks: not part of an identity.
                _ => {}
            }
        }
        assemble(keys, certs)
    }

    /// Load an identity from a file: PEM text (the password is asked for only if
    /// the key is encrypted) or DER PKCS#12 (the password is always asked for).
    pub fn load(path: &Path, pins: &dyn PinSource) -> Result<Self, TokenError> {
        let data = Zeroizing::new(std::fs::read(path)?);
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Self::load_bytes(&data, &label, pins)
    }

    /// Like [`SoftwareIdentity::load`], from bytes; `label` names the input in the
    /// password request (`password for {label}`).
    pub fn load_bytes(data: &[u8], label: &str, pins: &dyn PinSource) -> Result<Self, TokenError> {
        let request = PinRequest {
            what: format!("password for {label}"),
            retries_left: None,
        };
        if looks_like_pem(data) {
            let text = std::str::from_utf8(data)
                .map_err(|_| TokenError::Malformed("PEM file is not UTF-8 text".into()))?;
            let needs_password = parse_blocks(text)?
                .iter()
                .any(|b| matches!(b.label.as_str(), "ENCRYPTED PRIVATE KEY" | "PKCS12"));
            if needs_password {
                let pw = pins.pin(&request)?;
                Self::from_pem(text, Some(&pw))
            } else {
                Self::from_pem(text, None)
            }
        } else {
            let pw = pins.pin(&request)?;
            Self::from_pkcs12(data, &pw)
        }
    }

    /// The identity as PEM: the key (unencrypted PKCS#8), the certificate, then
    /// the chain. Handle with care: the result holds the private key.
    ///
    /// A non-RSA key built with [`SoftwareIdentity::from_parts_any`] (not read from
    /// PKCS#8) cannot be written: [`TokenError::Unsupported`].
    pub fn to_pem(&self) -> Result<Zeroizing<String>, TokenError> {
        let key = match (&self.key.pkcs8, self.key.key.as_rsa()) {
            (Some(der), _) => Zeroizing::new(
                der::pem::encode_string("PRIVATE KEY", LineEnding::LF, der)
                    .map_err(|e| TokenError::Malformed(format!("PKCS#8 encoding: {e}")))?,
            ),
            (None, Some(rsa)) => rsa
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| TokenError::Malformed(format!("PKCS#8 encoding: {e}")))?,
            (None, None) => {
                return Err(TokenError::Unsupported(format!(
                    "writing a {:?} key built from parts",
                    self.key.key.kind()
                )));
            }
        };
        let mut out = Zeroizing::new(String::with_capacity(
            key.len() + 2048 * (1 + self.chain.len()),
        ));
        out.push_str(&key);
        for cert in std::iter::once(&self.certificate).chain(&self.chain) {
            out.push_str(&cert.to_pem(LineEnding::LF)?);
        }
        Ok(out)
    }

    /// The end-entity certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The other certificates (intermediates, possibly the root), leaf excluded.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The kind of the private key (RSA, DSA, EC, Ed25519, X25519, DH).
    pub fn key_kind(&self) -> KeyKind {
        self.key.key.kind()
    }

    /// The private key. Handle with care.
    pub fn private_key(&self) -> &SoftwarePrivateKey {
        &self.key.key
    }

    /// The RSA private key, for the certificate authority of this crate.
    pub(crate) fn rsa_key(&self) -> Option<&RsaPrivateKey> {
        self.key.key.as_rsa()
    }
}

/// Whether `key` is the private half of `cert`'s public key.
fn key_matches(key: &SoftwarePrivateKey, cert: &Certificate) -> Result<bool, TokenError> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    if let Some(rsa_key) = key.as_rsa() {
        if spki.algorithm.oid != RSA_ENCRYPTION && spki.algorithm.oid != ID_RSASSA_PSS {
            return Ok(false);
        }
        let spki_der = spki.to_der()?;
        return match rsa::PublicKey::from_public_key_der(&spki_der) {
            Ok(public) => Ok(public == rsa_key.to_public_key()),
            Err(_) => Ok(false),
        };
    }
    let ours: SubjectPublicKeyInfoOwned = match key.public_key_info() {
        Ok(s) => s,
        Err(_) => return Ok(false),
    };
    Ok(ours.algorithm.oid == spki.algorithm.oid
        && ours.subject_public_key.raw_bytes() == spki.subject_public_key.raw_bytes())
}

/// The token error for a key that the algorithm layer could not read.
fn key_error(e: AlgError) -> TokenError {
    match e {
        AlgError::Unsupported(what) => TokenError::Unsupported(what),
        other => TokenError::Malformed(format!("private key: {other}")),
    }
}

/// Decode a PKCS#8 `PrivateKeyInfo` of any kind mss handles.
fn key_from_pkcs8(der: &[u8]) -> Result<HeldKey, TokenError> {
    let key = SoftwarePrivateKey::from_pkcs8_der(der).map_err(key_error)?;
    Ok(HeldKey {
        key,
        pkcs8: Some(Zeroizing::new(der.to_vec())),
    })
}

/// SEC 1 `ECPrivateKey` (RFC 5915), the body of an `EC PRIVATE KEY` PEM block.
#[derive(Sequence)]
struct EcPrivateKey {
    version: u8,
    private_key: OctetString,
    #[asn1(context_specific = "0", optional = "true")]
    parameters: Option<ObjectIdentifier>,
    #[asn1(context_specific = "1", optional = "true")]
    public_key: Option<BitString>,
}

/// OpenSSL's traditional DSA key: `SEQUENCE { version, p, q, g, y, x }`.
#[derive(Sequence)]
struct TraditionalDsaKey {
    version: Uint,
    p: Uint,
    q: Uint,
    g: Uint,
    y: Uint,
    x: Uint,
}

/// `Dss-Parms` (RFC 3279).
#[derive(Sequence)]
struct DssParms {
    p: Uint,
    q: Uint,
    g: Uint,
}

/// Wrap a key in a PKCS#8 `PrivateKeyInfo` and read it.
fn wrap_pkcs8(
    algorithm: ObjectIdentifier,
    parameters_der: &[u8],
    private_key: &[u8],
) -> Result<HeldKey, TokenError> {
    let params = der::AnyRef::from_der(parameters_der)?;
    let info = pkcs8::PrivateKeyInfoRef::new(
        AlgorithmIdentifierRef {
            oid: algorithm,
            parameters: Some(params),
        },
        der::asn1::OctetStringRef::new(private_key)?,
    );
    let der = Zeroizing::new(info.to_der()?);
    key_from_pkcs8(&der)
}

/// Read a traditional OpenSSL PEM key body (`RSA`, `EC` or `DSA PRIVATE KEY`).
fn traditional_key(label: &str, der: &[u8]) -> Result<HeldKey, TokenError> {
    match label {
        "RSA PRIVATE KEY" => {
            let rsa = RsaPrivateKey::from_pkcs1_der(der)
                .map_err(|e| TokenError::Malformed(format!("PKCS#1 key: {e}")))?;
            Ok(HeldKey {
                key: SoftwarePrivateKey::from_rsa(rsa),
                pkcs8: None,
            })
        }
        "EC PRIVATE KEY" => {
            let ec = EcPrivateKey::from_der(der)
                .map_err(|e| TokenError::Malformed(format!("SEC 1 EC key: {e}")))?;
            if ec.version != 1 {
                return Err(TokenError::Malformed(format!(
                    "SEC 1 EC key version {}",
                    ec.version
                )));
            }
            let curve = ec.parameters.ok_or_else(|| {
                TokenError::Malformed("SEC 1 EC key without a named curve".into())
            })?;
            // PKCS#8 carries the SEC 1 structure itself, the curve moving to the
            // algorithm parameters (RFC 5915 §2).
            let inner = Zeroizing::new(
                EcPrivateKey {
                    version: 1,
                    private_key: ec.private_key.clone(),
                    parameters: None,
                    public_key: ec.public_key.clone(),
                }
                .to_der()?,
            );
            wrap_pkcs8(ID_EC_PUBLIC_KEY, &curve.to_der()?, &inner)
        }
        _ => {
            let dsa = TraditionalDsaKey::from_der(der)
                .map_err(|e| TokenError::Malformed(format!("DSA key: {e}")))?;
            let params = DssParms {
                p: dsa.p.clone(),
                q: dsa.q.clone(),
                g: dsa.g.clone(),
            }
            .to_der()?;
            let x = Zeroizing::new(dsa.x.to_der()?);
            wrap_pkcs8(ID_DSA, &params, &x)
        }
    }
}

/// Pick the first key that has a certificate; the other certificates form the chain.
fn assemble(
    keys: Vec<Result<HeldKey, TokenError>>,
    mut certs: Vec<Certificate>,
) -> Result<SoftwareIdentity, TokenError> {
    if keys.is_empty() {
        return Err(TokenError::NoKey);
    }
    if certs.is_empty() {
        return Err(TokenError::NoCertificate);
    }
    let mut first_error = None;
    for key in keys {
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let mut found = None;
        for (i, cert) in certs.iter().enumerate() {
            if key_matches(&key.key, cert)? {
                found = Some(i);
                break;
            }
        }
        if let Some(i) = found {
            let certificate = certs.remove(i);
            let leaf_der = certificate.to_der()?;
            // Drop duplicates of the leaf from the chain.
            let mut chain = Vec::with_capacity(certs.len());
            for c in certs {
                if c.to_der()? != leaf_der {
                    chain.push(c);
                }
            }
            return Ok(SoftwareIdentity {
                certificate,
                chain,
                key: Arc::new(key),
            });
        }
    }
    Err(first_error.unwrap_or(TokenError::KeyMismatch))
}

impl SigningKey for SoftwareIdentity {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// What the key can compute; whether it *may* (MD5, SHA-1…) is the policy's call.
    fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        self.key.key.supports(alg)
    }

    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError> {
        if !self.supports(alg) {
            return Err(AlgError::Unsupported(format!(
                "{} with a software {:?} key",
                alg.name(),
                self.key.key.kind()
            )));
        }
        self.key.key.sign_digest(alg, digest)
    }

    fn sign_message(&self, alg: &SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, AlgError> {
        if !self.supports(alg) {
            return Err(AlgError::Unsupported(format!(
                "{} with a software {:?} key",
                alg.name(),
                self.key.key.kind()
            )));
        }
        self.key.key.sign_message(alg, message)
    }
}

impl DecryptionKey for SoftwareIdentity {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn decrypt_key(
        &self,
        alg: &KeyTransport,
        encrypted: &[u8],
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        match self.key.key.as_rsa() {
            Some(rsa) => mss_algs::rsa::decrypt_key(rsa, alg, encrypted, expected_len),
            None => Err(AlgError::Unsupported(format!(
                "key transport ({}) with a {:?} key",
                alg.name(),
                self.key.key.kind()
            ))),
        }
    }

    fn agree_kek(
        &self,
        alg: &KeyAgreementAlgorithm,
        originator: &SubjectPublicKeyInfoOwned,
        ukm: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        recipient_kek(&self.key.key, originator, alg, ukm)
    }
}

#[cfg(test)]
mod tests {
    use rsa::traits::PrivateKeyParts;

    use crate::CertificateAuthority;

    #[test]
    fn debug_shows_subject_and_no_key_material() {
        let ca = CertificateAuthority::new("Debug Test CA", 1024).expect("ca");
        let id = ca.identity();
        let shown = format!("{id:?} {ca:?} {:#?}", id);
        assert!(shown.contains("CN=Debug Test CA"), "{shown}");
        let d = id.rsa_key().expect("rsa").d().to_be_bytes();
        let d_hex: String = d
            .iter()
            .skip_while(|b| **b == 0)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(d_hex.len() > 200);
        let lower = shown.to_lowercase();
        // No 8-byte window of the private exponent appears, in hex of either case.
        for start in (0..d_hex.len() - 16).step_by(16) {
            assert!(
                !lower.contains(&d_hex[start..start + 16]),
                "private exponent leaked"
            );
        }
        for prime in id.rsa_key().expect("rsa").primes() {
            let p_hex: String = prime
                .to_be_bytes()
                .iter()
                .skip_while(|b| **b == 0)
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(!lower.contains(&p_hex[..16]), "prime leaked");
        }
    }
}
