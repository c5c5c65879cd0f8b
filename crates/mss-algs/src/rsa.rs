//! RSA private- and public-key operations for software keys: signing a digest, key
//! transport (PKCS#1 v1.5 and OAEP).
//!
//! PKCS#1 v1.5 decryption uses *implicit rejection* (RFC 3218 §2.3.2, RFC 5652 §11.4 note):
//! on any padding failure a pseudo-random key of the expected length, derived from the
//! private key and the ciphertext, is returned instead of an error, in constant time, so
//! that neither errors nor timing tell which step failed. The content decryption that
//! follows then fails in the ordinary way.
//!
//! The v1.5 unpadding is written here on top of `rsa::hazmat` rather than taken from
//! `rsa::Pkcs1v15Encrypt`: that type's own implicit rejection returns a synthetic
//! message of pseudo-random *length*, whereas CMS knows the length of the content key
//! it expects and must get a key of exactly that length (the fallback is
//! `HMAC-SHA-256(SHA-256(d), label ‖ counter ‖ ciphertext)`, expanded to the length).
//!
//! `RSAES-OAEP-params` (RFC 4055 §4.1) is a small `der` structure declared here, for
//! the same reasons as `RSASSA-PSS-params` in [`crate::signature`]. The hash
//! identifiers inside are written with *absent* parameters (RFC 5754), which is also
//! what OpenSSL's CMS writes for OAEP; NULL is accepted on input.

use const_oid::AssociatedOid;
use digest::{Digest, FixedOutputReset};
use getrandom::SysRng;
use hmac::{Hmac, KeyInit, Mac};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, Pss};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

pub use ::rsa::PrivateKey as RsaPrivateKey;
pub use ::rsa::PublicKey as RsaPublicKey;

use crate::AlgError;
use crate::digest::{DigestAlgorithm, decode_params, encode_params, mgf1_identifier, parse_mgf1};
use crate::oid;
use crate::signature::{SignatureAlgorithm, SignatureScheme, rsa_public_key};

/// An RSA key-transport algorithm (CMS `KeyEncryptionAlgorithmIdentifier` of a
/// KeyTransRecipientInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyTransport {
    /// RSAES-PKCS1-v1_5 (`rsaEncryption`).
    RsaPkcs1v15,
    /// RSAES-OAEP (RFC 3560) with `hash` for both the label hash and MGF1, empty label.
    RsaOaep {
        /// SHA-1 (the RFC 3560 default) or SHA-256.
        hash: DigestAlgorithm,
    },
}

/// RFC 4055 `RSAES-OAEP-params`; defaults handled explicitly in this module.
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
struct RsaOaepParams {
    /// `hashFunc [0] AlgorithmIdentifier DEFAULT sha1Identifier`
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    /// `maskGenFunc [1] AlgorithmIdentifier DEFAULT mgf1SHA1Identifier`
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    /// `pSourceFunc [2] AlgorithmIdentifier DEFAULT pSpecifiedEmptyIdentifier`
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    p_source: Option<AlgorithmIdentifierOwned>,
}

const OAEP: &str = "id-RSAES-OAEP";

fn oaep_invalid(reason: impl Into<String>) -> AlgError {
    AlgError::InvalidParameters {
        alg: OAEP.to_owned(),
        reason: reason.into(),
    }
}

impl KeyTransport {
    /// Name: `rsa-pkcs1v15`, `rsa-oaep-sha1`, `rsa-oaep-sha256`.
    pub fn name(&self) -> String {
        match self {
            KeyTransport::RsaPkcs1v15 => "rsa-pkcs1v15".to_owned(),
            KeyTransport::RsaOaep { hash } => format!("rsa-oaep-{}", hash.name()),
        }
    }

    /// Parse a name (as `name()` gives; `rsa-oaep` alone means SHA-256).
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "rsa-pkcs1v15" | "rsa" | "rsaencryption" => Ok(KeyTransport::RsaPkcs1v15),
            "rsa-oaep" => Ok(KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Sha256,
            }),
            _ => {
                let hash = lower
                    .strip_prefix("rsa-oaep-")
                    .ok_or_else(|| AlgError::Unsupported(format!("key transport {name:?}")))
                    .and_then(DigestAlgorithm::from_name)?;
                let kt = KeyTransport::RsaOaep { hash };
                kt.check_supported()?;
                Ok(kt)
            }
        }
    }

    fn check_supported(&self) -> Result<(), AlgError> {
        match self {
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Md5 | DigestAlgorithm::Md2,
            } => Err(AlgError::Unsupported(
                "RSAES-OAEP with MD5 or MD2".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// Encode as AlgorithmIdentifier (`rsaEncryption` with NULL; `id-RSAES-OAEP` with
    /// `RSAES-OAEP-params`, omitting SHA-1 defaults as DER requires).
    pub fn to_algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        self.check_supported()?;
        match self {
            KeyTransport::RsaPkcs1v15 => Ok(AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(der::asn1::Any::null()),
            }),
            KeyTransport::RsaOaep { hash } => {
                let params = if *hash == DigestAlgorithm::Sha1 {
                    RsaOaepParams {
                        hash: None,
                        mask_gen: None,
                        p_source: None,
                    }
                } else {
                    RsaOaepParams {
                        hash: Some(hash.to_algorithm_identifier()),
                        mask_gen: Some(mgf1_identifier(OAEP, *hash, false)?),
                        p_source: None,
                    }
                };
                Ok(AlgorithmIdentifierOwned {
                    oid: oid::ID_RSAES_OAEP,
                    parameters: Some(encode_params(OAEP, &params)?),
                })
            }
        }
    }

    /// Parse an AlgorithmIdentifier (absent OAEP params mean SHA-1/MGF1-SHA-1).
    pub fn from_algorithm_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, AlgError> {
        if alg.oid == oid::RSA_ENCRYPTION {
            return match &alg.parameters {
                None => Ok(KeyTransport::RsaPkcs1v15),
                Some(p) if p.is_null() => Ok(KeyTransport::RsaPkcs1v15),
                Some(_) => Err(AlgError::InvalidParameters {
                    alg: "rsaEncryption".to_owned(),
                    reason: "parameters must be NULL or absent".to_owned(),
                }),
            };
        }
        if alg.oid != oid::ID_RSAES_OAEP {
            return Err(AlgError::Unsupported(format!(
                "key transport algorithm {}",
                alg.oid
            )));
        }
        let params = match &alg.parameters {
            None => RsaOaepParams {
                hash: None,
                mask_gen: None,
                p_source: None,
            },
            Some(p) if p.is_null() => {
                return Err(oaep_invalid("parameters must be RSAES-OAEP-params"));
            }
            Some(p) => decode_params::<RsaOaepParams>(OAEP, p)?,
        };
        let hash = match &params.hash {
            Some(h) => DigestAlgorithm::from_algorithm_identifier(h)?,
            None => DigestAlgorithm::Sha1,
        };
        let mgf_hash = match &params.mask_gen {
            Some(m) => parse_mgf1(OAEP, m)?,
            None => DigestAlgorithm::Sha1,
        };
        if mgf_hash != hash {
            return Err(AlgError::Unsupported(format!(
                "RSAES-OAEP with hash {} and MGF1-{}",
                hash.name(),
                mgf_hash.name()
            )));
        }
        if let Some(p) = &params.p_source {
            if p.oid != oid::ID_P_SPECIFIED {
                return Err(oaep_invalid(format!("unsupported pSourceFunc {}", p.oid)));
            }
            let label: der::asn1::OctetString = match &p.parameters {
                Some(l) => decode_params(OAEP, l)?,
                None => return Err(oaep_invalid("id-pSpecified without label")),
            };
            if !label.as_bytes().is_empty() {
                return Err(AlgError::Unsupported(
                    "RSAES-OAEP with a non-empty label".to_owned(),
                ));
            }
        }
        let kt = KeyTransport::RsaOaep { hash };
        kt.check_supported()?;
        Ok(kt)
    }
}

fn oaep_encrypt<D>(pk: &RsaPublicKey, cek: &[u8]) -> Result<Vec<u8>, AlgError>
where
    D: 'static + Digest + FixedOutputReset + Send + Sync,
{
    pk.encrypt(&mut SysRng, Oaep::<D>::new(), cek)
        .map_err(|e| AlgError::InvalidKey(format!("RSA-OAEP encryption: {e}")))
}

fn oaep_decrypt<D>(key: &RsaPrivateKey, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError>
where
    D: 'static + Digest + FixedOutputReset + Send + Sync,
{
    key.decrypt(Oaep::<D>::new(), ct)
        .map(Zeroizing::new)
        .map_err(|_| AlgError::DecryptionFailed)
}

/// Encrypt a content-encryption key to the RSA public key in `spki`.
pub fn encrypt_key(
    spki: &SubjectPublicKeyInfoOwned,
    kt: &KeyTransport,
    cek: &[u8],
) -> Result<Vec<u8>, AlgError> {
    kt.check_supported()?;
    let pk = rsa_public_key(spki)?;
    match kt {
        KeyTransport::RsaPkcs1v15 => pk
            .encrypt(&mut SysRng, Pkcs1v15Encrypt, cek)
            .map_err(|e| AlgError::InvalidKey(format!("RSA PKCS#1 v1.5 encryption: {e}"))),
        KeyTransport::RsaOaep { hash } => match hash {
            DigestAlgorithm::Sha1 => oaep_encrypt::<sha1::Sha1>(&pk, cek),
            DigestAlgorithm::Sha224 => oaep_encrypt::<sha2::Sha224>(&pk, cek),
            DigestAlgorithm::Sha256 => oaep_encrypt::<sha2::Sha256>(&pk, cek),
            DigestAlgorithm::Sha384 => oaep_encrypt::<sha2::Sha384>(&pk, cek),
            DigestAlgorithm::Sha512 => oaep_encrypt::<sha2::Sha512>(&pk, cek),
            DigestAlgorithm::Md5 | DigestAlgorithm::Md2 => Err(AlgError::Unsupported(
                "RSAES-OAEP with MD5 or MD2".to_owned(),
            )),
        },
    }
}

/// Raw RSA decryption (RSADP + I2OSP): the encoded message, `k` bytes, or `None` when
/// the ciphertext is not a valid representative (wrong length, `c >= n`) or the private
/// operation fails.
fn raw_decrypt(key: &RsaPrivateKey, ct: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k = key.size();
    if ct.len() != k {
        return None;
    }
    let c = BoxedUint::from_be_slice(ct, key.n_bits_precision()).ok()?;
    let m = Zeroizing::new(rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut SysRng), &c).ok()?);
    let bytes = Zeroizing::new(m.to_be_bytes());
    let start = bytes.len().checked_sub(k)?;
    Some(Zeroizing::new(bytes.get(start..)?.to_vec()))
}

/// Constant-time check of `EM = 00 02 PS 00 M` (PS at least 8 non-zero bytes).
/// Returns the validity and the index of the first byte of `M` (meaningful only when valid).
fn check_pkcs1v15_padding(em: &[u8]) -> (Choice, usize) {
    let mut good = Choice::from(1u8);
    let mut looking = Choice::from(1u8);
    let mut zero_index: u64 = 0;
    for (i, &b) in em.iter().enumerate() {
        let i64v = i as u64;
        match i {
            0 => good &= b.ct_eq(&0),
            1 => good &= b.ct_eq(&2),
            _ => {
                let is_zero = b.ct_eq(&0);
                let first = looking & is_zero;
                zero_index.conditional_assign(&i64v, first);
                looking &= !is_zero;
            }
        }
    }
    // A separator must exist, and PS (indices 2..zero_index) must be >= 8 bytes long.
    good &= !looking;
    good &= zero_index.ct_gt(&9);
    (good, (zero_index as usize).saturating_add(1))
}

/// The implicit-rejection fallback key: HMAC-SHA-256 keyed with SHA-256 of the private
/// exponent, over a label, a block counter and the ciphertext, expanded to `len` bytes.
fn implicit_rejection_key(
    key: &RsaPrivateKey,
    ct: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let d = Zeroizing::new(key.d().to_be_bytes());
    let kdk = Zeroizing::new(sha2::Sha256::digest(&d[..]).to_vec());
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&kdk)
            .map_err(|_| AlgError::KeyOperation("HMAC key".to_owned()))?;
        mac.update(b"mss pkcs1v15 implicit rejection");
        mac.update(&counter.to_be_bytes());
        mac.update(ct);
        out.extend_from_slice(&mac.finalize().into_bytes());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

fn decrypt_pkcs1v15(
    key: &RsaPrivateKey,
    ct: &[u8],
    expected_len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let k = key.size();
    let em = raw_decrypt(key, ct);
    match expected_len {
        None => {
            let em = em.ok_or(AlgError::DecryptionFailed)?;
            let (good, start) = check_pkcs1v15_padding(&em);
            if bool::from(good) {
                em.get(start..)
                    .map(|m| Zeroizing::new(m.to_vec()))
                    .ok_or(AlgError::DecryptionFailed)
            } else {
                Err(AlgError::DecryptionFailed)
            }
        }
        Some(len) => {
            let fallback = implicit_rejection_key(key, ct, len)?;
            // Publicly impossible lengths, and ciphertexts that are not even a valid
            // representative, depend on public data only: answer with the fallback.
            let Some(em) = em else { return Ok(fallback) };
            if len == 0 || len > k.saturating_sub(11) {
                return Ok(fallback);
            }
            let (mut good, start) = check_pkcs1v15_padding(&em);
            let msg_len = (k as u64).wrapping_sub(start as u64);
            good &= msg_len.ct_eq(&(len as u64));
            // Always read the last `len` bytes of EM: they are M when `good`.
            let tail = em.get(k - len..).ok_or(AlgError::DecryptionFailed)?;
            let mut out = Zeroizing::new(vec![0u8; len]);
            for ((o, &f), &m) in out.iter_mut().zip(fallback.iter()).zip(tail.iter()) {
                *o = u8::conditional_select(&f, &m, good);
            }
            Ok(out)
        }
    }
}

/// Decrypt a content-encryption key with a software RSA key.
///
/// For [`KeyTransport::RsaPkcs1v15`] with `expected_len` given, implicit rejection
/// applies: the result is `Ok` with a key of `expected_len` bytes whether or not the
/// padding was right. For OAEP any failure is [`AlgError::DecryptionFailed`].
pub fn decrypt_key(
    key: &RsaPrivateKey,
    kt: &KeyTransport,
    encrypted: &[u8],
    expected_len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let out = match kt {
        KeyTransport::RsaPkcs1v15 => return decrypt_pkcs1v15(key, encrypted, expected_len),
        KeyTransport::RsaOaep { hash } => match hash {
            DigestAlgorithm::Sha1 => oaep_decrypt::<sha1::Sha1>(key, encrypted)?,
            DigestAlgorithm::Sha224 => oaep_decrypt::<sha2::Sha224>(key, encrypted)?,
            DigestAlgorithm::Sha256 => oaep_decrypt::<sha2::Sha256>(key, encrypted)?,
            DigestAlgorithm::Sha384 => oaep_decrypt::<sha2::Sha384>(key, encrypted)?,
            DigestAlgorithm::Sha512 => oaep_decrypt::<sha2::Sha512>(key, encrypted)?,
            DigestAlgorithm::Md5 | DigestAlgorithm::Md2 => {
                return Err(AlgError::Unsupported(
                    "RSAES-OAEP with MD5 or MD2".to_owned(),
                ));
            }
        },
    };
    match expected_len {
        Some(len) if len != out.len() => Err(AlgError::DecryptionFailed),
        _ => Ok(out),
    }
}

fn sign_v15<D: Digest + AssociatedOid>(
    key: &RsaPrivateKey,
    digest: &[u8],
) -> Result<Vec<u8>, AlgError> {
    key.sign(Pkcs1v15Sign::new::<D>(), digest)
        .map_err(|e| AlgError::KeyOperation(format!("RSA PKCS#1 v1.5 signature: {e}")))
}

fn sign_pss<D: Digest + FixedOutputReset>(
    key: &RsaPrivateKey,
    digest: &[u8],
    salt_len: usize,
) -> Result<Vec<u8>, AlgError> {
    key.sign_with_rng(&mut SysRng, Pss::<D>::new_with_salt(salt_len), digest)
        .map_err(|e| AlgError::KeyOperation(format!("RSA-PSS signature: {e}")))
}

/// Sign an already computed digest with a software RSA key (v1.5 or PSS as `alg` says).
/// PSS uses MGF1 over `alg.digest` and a fresh random salt of `alg.salt_len` bytes.
pub fn sign_digest(
    key: &RsaPrivateKey,
    alg: &SignatureAlgorithm,
    digest: &[u8],
) -> Result<Vec<u8>, AlgError> {
    if digest.len() != alg.digest.output_len() {
        return Err(AlgError::InvalidParameters {
            alg: alg.name(),
            reason: format!(
                "digest is {} bytes, expected {}",
                digest.len(),
                alg.digest.output_len()
            ),
        });
    }
    match alg.scheme {
        SignatureScheme::RsaPkcs1v15 => match alg.digest {
            DigestAlgorithm::Md2 => sign_v15::<md2::Md2>(key, digest),
            DigestAlgorithm::Md5 => sign_v15::<md5::Md5>(key, digest),
            DigestAlgorithm::Sha1 => sign_v15::<sha1::Sha1>(key, digest),
            DigestAlgorithm::Sha224 => sign_v15::<sha2::Sha224>(key, digest),
            DigestAlgorithm::Sha256 => sign_v15::<sha2::Sha256>(key, digest),
            DigestAlgorithm::Sha384 => sign_v15::<sha2::Sha384>(key, digest),
            DigestAlgorithm::Sha512 => sign_v15::<sha2::Sha512>(key, digest),
        },
        SignatureScheme::RsaPss => {
            let s = alg.salt_len;
            match alg.digest {
                DigestAlgorithm::Md2 => sign_pss::<md2::Md2>(key, digest, s),
                DigestAlgorithm::Md5 => sign_pss::<md5::Md5>(key, digest, s),
                DigestAlgorithm::Sha1 => sign_pss::<sha1::Sha1>(key, digest, s),
                DigestAlgorithm::Sha224 => sign_pss::<sha2::Sha224>(key, digest, s),
                DigestAlgorithm::Sha256 => sign_pss::<sha2::Sha256>(key, digest, s),
                DigestAlgorithm::Sha384 => sign_pss::<sha2::Sha384>(key, digest, s),
                DigestAlgorithm::Sha512 => sign_pss::<sha2::Sha512>(key, digest, s),
            }
        }
        _ => Err(AlgError::Unsupported(format!(
            "{} with an RSA key",
            alg.name()
        ))),
    }
}

/// Generate a fresh RSA private key of `bits` bits (public exponent 65537) with the
/// operating system RNG. Slow in debug builds; meant for tests and tooling.
pub fn generate_private_key(bits: usize) -> Result<RsaPrivateKey, AlgError> {
    RsaPrivateKey::new(&mut SysRng, bits)
        .map_err(|e| AlgError::InvalidKey(format!("RSA key generation: {e}")))
}

/// Size in bits of a private key's modulus, for the policy.
pub fn private_key_bits(key: &RsaPrivateKey) -> usize {
    key.n().bit_width_vartime() as usize
}
