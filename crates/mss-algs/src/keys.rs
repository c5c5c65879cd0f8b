//! The key-operation traits: what an identity (a software key, a smart card) must do.
//!
//! The CMS layer never sees where a key lives: it asks a [`SigningKey`] to sign a
//! digest and a [`DecryptionKey`] to unwrap a content-encryption key. Software keys
//! (`mss-token`'s PKCS#12/PEM backend) and PKCS#11 keys implement both.

use x509_cert::Certificate;
use zeroize::Zeroizing;

use spki::SubjectPublicKeyInfoOwned;

use crate::AlgError;
use crate::key_agreement::KeyAgreementAlgorithm;
use crate::rsa::KeyTransport;
use crate::signature::SignatureAlgorithm;

/// A private key that can sign, with its certificate.
pub trait SigningKey: Send + Sync {
    /// The signer's certificate (end entity).
    fn certificate(&self) -> &Certificate;
    /// Intermediate CA certificates to ship with signatures (leaf excluded, may be empty).
    fn chain(&self) -> &[Certificate];
    /// Whether this key can produce `alg` (scheme and digest).
    fn supports(&self, alg: &SignatureAlgorithm) -> bool;
    /// Sign a digest computed by the caller with `alg.digest`.
    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError>;
    /// Sign a whole message, for schemes that do not sign a prehash (pure Ed25519,
    /// RFC 8419: in CMS the message is the DER of the signed attributes). Keys that only
    /// do prehash schemes keep the default, which hashes and calls [`Self::sign_digest`].
    fn sign_message(&self, alg: &SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, AlgError> {
        if !alg.is_prehash() {
            return Err(AlgError::Unsupported(format!(
                "{} needs a key that signs messages",
                alg.name()
            )));
        }
        self.sign_digest(alg, &alg.digest.digest(message))
    }
}

/// A private key that can unwrap content-encryption keys, with its certificate.
pub trait DecryptionKey: Send + Sync {
    /// The certificate whose public key the sender encrypted to.
    fn certificate(&self) -> &Certificate;
    /// Decrypt an encrypted content-encryption key.
    ///
    /// For [`KeyTransport::RsaPkcs1v15`] with `expected_len` given, an implementation
    /// should apply implicit rejection (see [`crate::rsa::decrypt_key`]); callers
    /// replace any error by a random key as well, so that failures do not show.
    fn decrypt_key(
        &self,
        alg: &KeyTransport,
        encrypted: &[u8],
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError>;
    /// Key agreement (a KeyAgreeRecipientInfo, RFC 5652 §6.2.2): derive the
    /// key-encryption key from the originator's public key and the user keying material,
    /// as [`crate::key_agreement::recipient_kek`] does for software keys. Keys that only
    /// do key transport (RSA, the CPS card) keep the default refusal.
    fn agree_kek(
        &self,
        alg: &KeyAgreementAlgorithm,
        originator: &SubjectPublicKeyInfoOwned,
        ukm: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        let _ = (originator, ukm);
        Err(AlgError::Unsupported(format!(
            "this key cannot do key agreement ({})",
            alg.name()
        )))
    }
}

pub use crate::software_key::{KeyKind, SoftwarePrivateKey};
