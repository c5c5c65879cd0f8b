//! The symmetric primitives of the store: AES-256-GCM sealing, HKDF sub-keys, HMAC
//! integrity tags, RSA wrapping of the key-encryption key to a certificate.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::DecryptionKey;
use mss_algs::rsa::KeyTransport;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::KeystoreError;

/// Length of the key-encryption key and of every derived key.
pub(crate) const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// A 256-bit secret key.
pub(crate) type Secret = Zeroizing<[u8; KEY_LEN]>;

/// `n` random bytes from the operating system.
pub(crate) fn random(n: usize) -> Result<Vec<u8>, KeystoreError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|_| KeystoreError::Rng)?;
    Ok(b)
}

/// A fresh random 256-bit key.
pub(crate) fn random_key() -> Result<Secret, KeystoreError> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut k[..]).map_err(|_| KeystoreError::Rng)?;
    Ok(k)
}

/// A secret from exactly [`KEY_LEN`] bytes.
pub(crate) fn secret_from(bytes: &[u8]) -> Option<Secret> {
    let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// AES-256-GCM: `nonce || ciphertext || tag`, with a random 96-bit nonce.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, KeystoreError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeystoreError::Rng)?;
    let nonce = random(NONCE_LEN)?;
    let nonce_arr = aes_gcm::Nonce::try_from(nonce.as_slice()).map_err(|_| KeystoreError::Rng)?;
    let ct = cipher
        .encrypt(&nonce_arr, Payload { msg: plain, aad })
        .map_err(|_| KeystoreError::Key(AlgError::DecryptionFailed))?;
    let mut out = nonce;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open what [`seal`] produced; `None` when the key, the AAD or the data is wrong.
pub(crate) fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let nonce = aes_gcm::Nonce::try_from(nonce).ok()?;
    cipher
        .decrypt(&nonce, Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

/// A sub-key of the key-encryption key for one purpose (HKDF-SHA256, the store id as
/// salt).
pub(crate) fn subkey(kek: &[u8; KEY_LEN], store_id: &[u8], purpose: &str) -> Secret {
    let hk = Hkdf::<Sha256>::new(Some(store_id), kek);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail.
    let _ = hk.expand(
        format!("mss-keystore v1 {purpose}").as_bytes(),
        &mut out[..],
    );
    out
}

/// Length-prefixed concatenation, so that fields cannot slide into each other.
pub(crate) fn encode_fields(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// HMAC-SHA256 over length-prefixed fields.
pub(crate) fn mac(key: &[u8; KEY_LEN], fields: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    m.update(&encode_fields(fields));
    m.finalize().into_bytes().to_vec()
}

/// Constant-time check of an HMAC-SHA256 tag.
pub(crate) fn mac_ok(key: &[u8; KEY_LEN], fields: &[&[u8]], tag: &[u8]) -> bool {
    let expected = mac(key, fields);
    expected.len() == tag.len() && bool::from(expected.ct_eq(tag))
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// The key transports a key-encryption key is wrapped with, best first: RSA-OAEP with
/// SHA-256 (what the CPS card offers), then PKCS#1 v1.5 for cards and modules that
/// refuse OAEP-SHA256 parameters (SoftHSM 2.6 accepts OAEP with SHA-1 only).
pub(crate) fn transports() -> [KeyTransport; 2] {
    [
        KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        },
        KeyTransport::RsaPkcs1v15,
    ]
}

/// One RSA wrapping of the key-encryption key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Wrap {
    /// The key transport name (`rsa-oaep-sha256`, `rsa-pkcs1v15`).
    pub transport: String,
    /// The RSA ciphertext, hex.
    pub wrapped: String,
}

/// Wrap `kek` to the RSA public key of `cert` with every transport of [`transports`].
pub(crate) fn wrap_to(cert: &Certificate, kek: &[u8]) -> Result<Vec<Wrap>, KeystoreError> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid != mss_algs::oid::RSA_ENCRYPTION {
        return Err(KeystoreError::Invalid(format!(
            "the certificate of {} has no RSA key: key store slots need a certificate with \
             an RSA key able to decrypt (on a CPS card, the authentication certificate)",
            cert.tbs_certificate().subject()
        )));
    }
    transports()
        .iter()
        .map(|kt| {
            Ok(Wrap {
                transport: kt.name(),
                wrapped: hex::encode(mss_algs::rsa::encrypt_key(spki, kt, kek)?),
            })
        })
        .collect()
}

/// Unwrap the key-encryption key with `key` (a card or a software key): the first wrap
/// whose result matches the stored check value wins. Returns the key and the wrap
/// that worked.
///
/// A card-level failure (mechanism refused, card removed, PIN) is reported only when
/// no wrap worked.
pub(crate) fn unwrap_with(
    key: &dyn DecryptionKey,
    wraps: &[Wrap],
    check: impl Fn(&[u8; KEY_LEN]) -> bool,
) -> Result<(Secret, Wrap), KeystoreError> {
    let mut card_error = None;
    for w in wraps {
        let kt = KeyTransport::from_name(&w.transport).map_err(|_| {
            KeystoreError::Tampered(format!("unknown key transport {}", w.transport))
        })?;
        let ct = hex::decode(&w.wrapped)
            .map_err(|_| KeystoreError::Tampered("a wrapped key is not hex".into()))?;
        let expected = matches!(kt, KeyTransport::RsaPkcs1v15).then_some(KEY_LEN);
        match key.decrypt_key(&kt, &ct, expected) {
            Ok(plain) => {
                if let Some(k) = secret_from(&plain)
                    && check(&k)
                {
                    return Ok((k, w.clone()));
                }
            }
            Err(AlgError::DecryptionFailed) => {}
            Err(e) => card_error = Some(e),
        }
    }
    match card_error {
        Some(e) => Err(KeystoreError::Key(e)),
        None => Err(KeystoreError::Tampered(
            "no wrapped key opens with this identity's key".into(),
        )),
    }
}

/// The certificate's SHA-256 fingerprint, hex.
pub(crate) fn fingerprint(cert: &Certificate) -> Result<String, KeystoreError> {
    use der::Encode;
    Ok(hex::encode(sha256(&cert.to_der()?)))
}

/// How an identity is named in the audit log and in listings: its subject and the
/// start of its certificate's fingerprint.
pub(crate) fn describe(cert: &Certificate) -> String {
    let fp = fingerprint(cert).unwrap_or_default();
    format!(
        "{} [sha256:{}]",
        cert.tbs_certificate().subject(),
        fp.get(..16).unwrap_or(&fp)
    )
}
