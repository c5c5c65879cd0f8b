//! Software identities: an RSA private key held in memory with its certificate and
//! chain, loaded from PKCS#12 or PEM, or built from parts.
//!
//! The key's certificate is found by comparing public keys (modulus and exponent),
//! which works whatever the order of the input and whether or not `localKeyId`
//! attributes are present; the other certificates become the chain.
//!
//! Only RSA keys are supported for now; other key types are
//! [`TokenError::Unsupported`] with the key algorithm's OID.

use std::fmt;
use std::path::Path;

use const_oid::ObjectIdentifier;
use der::{Decode, Encode, EncodePem};
use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::rsa::{KeyTransport, RsaPrivateKey};
use mss_algs::signature::{SignatureAlgorithm, SignatureScheme};
use pkcs1::DecodeRsaPrivateKey;
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::pem::{looks_like_pem, parse_blocks};
use crate::pin::{PinRequest, PinSource};
use crate::{TokenError, pkcs12};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// A certificate, its chain and an RSA private key, all in memory.
///
/// The key is zeroized when the identity is dropped. `Debug` shows the subject only.
#[derive(Clone)]
pub struct SoftwareIdentity {
    certificate: Certificate,
    chain: Vec<Certificate>,
    key: RsaPrivateKey,
}

impl fmt::Debug for SoftwareIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareIdentity")
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl SoftwareIdentity {
    /// Build an identity from a certificate, its chain (leaf excluded) and the key.
    ///
    /// Fails with [`TokenError::KeyMismatch`] if the key is not the certificate's.
    pub fn from_parts(
        certificate: Certificate,
        chain: Vec<Certificate>,
        key: RsaPrivateKey,
    ) -> Result<Self, TokenError> {
        if !key_matches(&key, &certificate)? {
            return Err(TokenError::KeyMismatch);
        }
        Ok(SoftwareIdentity {
            certificate,
            chain,
            key,
        })
    }

    /// Load a PKCS#12 (RFC 7292) PFX, DER or BER encoded.
    ///
    /// The MAC is verified first; a wrong password is [`TokenError::BadPassword`].
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, TokenError> {
        let contents = pkcs12::parse(der, password)?;
        let keys = contents
            .keys
            .iter()
            .map(|k| rsa_key_from_pkcs8(k))
            .collect();
        assemble(keys, contents.certificates)
    }

    /// Load a PEM bundle: one private key (`PRIVATE KEY`, `RSA PRIVATE KEY`, or
    /// `ENCRYPTED PRIVATE KEY` with `password`) and one or more `CERTIFICATE`s, in
    /// any order. A bundle holding a `PKCS12` block is read as PKCS#12 with
    /// `password` (empty if `None`).
    ///
    /// An encrypted key without password is [`TokenError::PasswordRequired`].
    pub fn from_pem(pem: &str, password: Option<&str>) -> Result<Self, TokenError> {
        let blocks = parse_blocks(pem)?;
        let mut keys = Vec::new();
        let mut certs = Vec::new();
        for block in &blocks {
            match block.label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" => {
                    certs.push(
                        Certificate::from_der(&block.der)
                            .map_err(|e| TokenError::Malformed(format!("certificate: {e}")))?,
                    );
                }
                "PRIVATE KEY" => keys.push(rsa_key_from_pkcs8(&block.der)),
                "RSA PRIVATE KEY" => {
                    if block.legacy_encrypted {
                        return Err(TokenError::Unsupported(
                            "legacy OpenSSL-encrypted PEM key (Proc-Type: 4,ENCRYPTED); convert it with `openssl pkcs8 -topk8`".into(),
                        ));
                    }
                    keys.push(
                        RsaPrivateKey::from_pkcs1_der(&block.der)
                            .map_err(|e| TokenError::Malformed(format!("PKCS#1 key: {e}"))),
                    );
                }
                "ENCRYPTED PRIVATE KEY" => {
                    let password = password.ok_or(TokenError::PasswordRequired)?;
                    let plain = pkcs12::decrypt_private_key_info(&block.der, password)?;
                    keys.push(rsa_key_from_pkcs8(&plain));
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
    pub fn to_pem(&self) -> Result<Zeroizing<String>, TokenError> {
        let key = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| TokenError::Malformed(format!("PKCS#8 encoding: {e}")))?;
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

    /// The private key, for the certificate authority of this crate.
    pub(crate) fn private_key(&self) -> &RsaPrivateKey {
        &self.key
    }
}

/// Whether `key` is the private half of `cert`'s public key.
fn key_matches(key: &RsaPrivateKey, cert: &Certificate) -> Result<bool, TokenError> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid != RSA_ENCRYPTION && spki.algorithm.oid != ID_RSASSA_PSS {
        return Ok(false);
    }
    let spki_der = spki.to_der()?;
    match rsa::PublicKey::from_public_key_der(&spki_der) {
        Ok(public) => Ok(public == key.to_public_key()),
        Err(_) => Ok(false),
    }
}

/// Decode a PKCS#8 `PrivateKeyInfo`, refusing non-RSA keys with their OID.
fn rsa_key_from_pkcs8(der: &[u8]) -> Result<RsaPrivateKey, TokenError> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| TokenError::Malformed(format!("PKCS#8 key: {e}")))?;
    let oid = info.algorithm.oid;
    if oid != RSA_ENCRYPTION && oid != ID_RSASSA_PSS {
        return Err(TokenError::Unsupported(format!(
            "private key algorithm {oid}"
        )));
    }
    RsaPrivateKey::from_pkcs8_der(der).map_err(|e| TokenError::Malformed(format!("RSA key: {e}")))
}

/// Pick the first key that has a certificate; the other certificates form the chain.
fn assemble(
    keys: Vec<Result<RsaPrivateKey, TokenError>>,
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
            if key_matches(&key, cert)? {
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
                key,
            });
        }
    }
    Err(first_error.unwrap_or(TokenError::KeyMismatch))
}

fn digest_supported(d: DigestAlgorithm) -> bool {
    matches!(
        d,
        DigestAlgorithm::Sha1
            | DigestAlgorithm::Sha224
            | DigestAlgorithm::Sha256
            | DigestAlgorithm::Sha384
            | DigestAlgorithm::Sha512
    )
}

impl SigningKey for SoftwareIdentity {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        matches!(
            alg.scheme,
            SignatureScheme::RsaPkcs1v15 | SignatureScheme::RsaPss
        ) && digest_supported(alg.digest)
    }

    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError> {
        if !self.supports(alg) {
            return Err(AlgError::Unsupported(format!(
                "{:?} with {:?} for a software RSA key",
                alg.scheme, alg.digest
            )));
        }
        mss_algs::rsa::sign_digest(&self.key, alg, digest)
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
        mss_algs::rsa::decrypt_key(&self.key, alg, encrypted, expected_len)
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
        let d = id.private_key().d().to_be_bytes();
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
        for prime in id.private_key().primes() {
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
