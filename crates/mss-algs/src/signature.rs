//! Signature algorithms: naming, CMS `AlgorithmIdentifier` encoding, and verification.
//!
//! Signing is a private-key operation and lives behind [`crate::keys::SigningKey`]; this
//! module verifies with a public key from a certificate's `SubjectPublicKeyInfo`.
//!
//! `RSASSA-PSS-params` (RFC 4055 §3.1) is declared here as a small `der` structure
//! rather than taken from `pkcs1::RsaPssParams`, because that type limits the salt
//! length to a `u8` (a 4096-bit key can carry a larger salt) and compares hash
//! identifiers byte-for-byte (so NULL vs. absent parameters would change its reading).
//! Inside these parameters the hash identifiers are written with NULL parameters, as
//! RFC 4055 §2.1 spells `sha256Identifier` & co. and as OpenSSL writes PSS parameters
//! (so that our encoding is byte-identical to OpenSSL's); both NULL and absent are
//! accepted on input.

use const_oid::AssociatedOid;
use digest::{Digest, FixedOutputReset};
use pkcs1::RsaPublicKeyRef;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss};
use spki::der::Decode;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::AlgError;
use crate::digest::{DigestAlgorithm, decode_params, encode_params, mgf1_identifier, parse_mgf1};
use crate::oid;

/// The scheme, independent of the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    RsaPkcs1v15,
    /// RSASSA-PSS (RFC 8017 §8.1, RFC 4056 for CMS), MGF1 with the same digest.
    RsaPss,
}

/// A complete signature algorithm: scheme + digest (+ PSS salt length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureAlgorithm {
    /// The scheme.
    pub scheme: SignatureScheme,
    /// The digest the message (or signed attributes) is hashed with.
    pub digest: DigestAlgorithm,
    /// PSS salt length in bytes (ignored for PKCS#1 v1.5). Default: digest length.
    pub salt_len: usize,
}

/// RFC 4055 `RSASSA-PSS-params`. Fields are `Option`s so that defaults are applied
/// (and omitted on encoding, as DER requires) explicitly in this module.
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
struct RsaPssParams {
    /// `hashAlgorithm [0] HashAlgorithm DEFAULT sha1Identifier`
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    /// `maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier`
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    /// `saltLength [2] INTEGER DEFAULT 20`
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    /// `trailerField [3] TrailerField DEFAULT trailerFieldBC` (= 1)
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

const PSS_DEFAULT_SALT_LEN: u32 = 20;

fn pss_invalid(reason: impl Into<String>) -> AlgError {
    AlgError::InvalidParameters {
        alg: "id-RSASSA-PSS".to_owned(),
        reason: reason.into(),
    }
}

/// Parameters must be absent or NULL for the v1.5 signature OIDs and `rsaEncryption`.
fn check_null_or_absent(alg: &AlgorithmIdentifierOwned, name: &str) -> Result<(), AlgError> {
    match &alg.parameters {
        None => Ok(()),
        Some(p) if p.is_null() => Ok(()),
        Some(_) => Err(AlgError::InvalidParameters {
            alg: name.to_owned(),
            reason: "parameters must be NULL or absent".to_owned(),
        }),
    }
}

fn pkcs1v15_oid(d: DigestAlgorithm) -> const_oid::ObjectIdentifier {
    match d {
        DigestAlgorithm::Md5 => oid::MD5_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha1 => oid::SHA1_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha224 => oid::SHA224_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha256 => oid::SHA256_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha384 => oid::SHA384_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha512 => oid::SHA512_WITH_RSA_ENCRYPTION,
    }
}

impl SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with `digest`.
    pub fn rsa_pkcs1v15(digest: DigestAlgorithm) -> Self {
        Self {
            scheme: SignatureScheme::RsaPkcs1v15,
            digest,
            salt_len: 0,
        }
    }

    /// RSA-PSS with `digest`, MGF1(`digest`) and a salt as long as the digest.
    pub fn rsa_pss(digest: DigestAlgorithm) -> Self {
        Self {
            scheme: SignatureScheme::RsaPss,
            digest,
            salt_len: digest.output_len(),
        }
    }

    /// Human/JSON name: `rsa-pkcs1v15-sha256`, `rsa-pss-sha256`, …
    pub fn name(&self) -> String {
        let scheme = match self.scheme {
            SignatureScheme::RsaPkcs1v15 => "rsa-pkcs1v15",
            SignatureScheme::RsaPss => "rsa-pss",
        };
        format!("{scheme}-{}", self.digest.name())
    }

    /// Parse a name as [`SignatureAlgorithm::name`] gives it (`rsa-pss-sha256`, …).
    /// PSS gets the default salt length (the digest length).
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let lower = name.to_ascii_lowercase();
        if let Some(d) = lower.strip_prefix("rsa-pkcs1v15-") {
            return Ok(Self::rsa_pkcs1v15(DigestAlgorithm::from_name(d)?));
        }
        if let Some(d) = lower.strip_prefix("rsa-pss-") {
            return Ok(Self::rsa_pss(DigestAlgorithm::from_name(d)?));
        }
        Err(AlgError::Unsupported(format!(
            "signature algorithm {name:?}"
        )))
    }

    /// The `signatureAlgorithm` of a CMS SignerInfo: `sha256WithRSAEncryption` (NULL
    /// parameters) for v1.5, `id-RSASSA-PSS` with `RSASSA-PSS-params` for PSS.
    pub fn to_algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        match self.scheme {
            SignatureScheme::RsaPkcs1v15 => Ok(AlgorithmIdentifierOwned {
                oid: pkcs1v15_oid(self.digest),
                parameters: Some(der::asn1::Any::null()),
            }),
            SignatureScheme::RsaPss => {
                let name = "id-RSASSA-PSS";
                let sha1 = self.digest == DigestAlgorithm::Sha1;
                let salt = u32::try_from(self.salt_len)
                    .map_err(|_| pss_invalid("salt length too large"))?;
                let params = RsaPssParams {
                    hash: (!sha1).then(|| self.digest.to_rfc4055_identifier()),
                    mask_gen: if sha1 {
                        None
                    } else {
                        Some(mgf1_identifier(name, self.digest, true)?)
                    },
                    salt_len: (salt != PSS_DEFAULT_SALT_LEN).then_some(salt),
                    trailer_field: None,
                };
                Ok(AlgorithmIdentifierOwned {
                    oid: oid::ID_RSASSA_PSS,
                    parameters: Some(encode_params(name, &params)?),
                })
            }
        }
    }

    /// Interpret a SignerInfo's `signatureAlgorithm`, given its `digestAlgorithm`.
    /// Accepts `rsaEncryption` and the `shaXWithRSAEncryption`/`md5WithRSAEncryption`
    /// OIDs for v1.5 (the OID's digest must agree with `digest` when it names one), and
    /// `id-RSASSA-PSS` with parameters (hash and MGF1 hash must agree with `digest`).
    pub fn from_algorithm_identifier(
        sig_alg: &AlgorithmIdentifierOwned,
        digest: DigestAlgorithm,
    ) -> Result<Self, AlgError> {
        if sig_alg.oid == oid::RSA_ENCRYPTION {
            check_null_or_absent(sig_alg, "rsaEncryption")?;
            return Ok(Self::rsa_pkcs1v15(digest));
        }
        if let Some(&d) = DigestAlgorithm::ALL
            .iter()
            .find(|d| pkcs1v15_oid(**d) == sig_alg.oid)
        {
            let name = format!("{}WithRSAEncryption", d.name());
            check_null_or_absent(sig_alg, &name)?;
            if d != digest {
                return Err(AlgError::InvalidParameters {
                    alg: name,
                    reason: format!(
                        "signature algorithm digest disagrees with digestAlgorithm {}",
                        digest.name()
                    ),
                });
            }
            return Ok(Self::rsa_pkcs1v15(d));
        }
        if sig_alg.oid == oid::ID_RSASSA_PSS {
            let name = "id-RSASSA-PSS";
            let params: RsaPssParams = match &sig_alg.parameters {
                Some(p) => decode_params(name, p)?,
                None => return Err(pss_invalid("missing RSASSA-PSS-params")),
            };
            let hash = match &params.hash {
                Some(h) => DigestAlgorithm::from_algorithm_identifier(h)?,
                None => DigestAlgorithm::Sha1,
            };
            let mgf_hash = match &params.mask_gen {
                Some(m) => parse_mgf1(name, m)?,
                None => DigestAlgorithm::Sha1,
            };
            if hash != digest {
                return Err(pss_invalid(format!(
                    "PSS hash {} disagrees with digestAlgorithm {}",
                    hash.name(),
                    digest.name()
                )));
            }
            if mgf_hash != hash {
                return Err(AlgError::Unsupported(format!(
                    "RSASSA-PSS with MGF1-{} and hash {}",
                    mgf_hash.name(),
                    hash.name()
                )));
            }
            if params.trailer_field.is_some_and(|t| t != 1) {
                return Err(pss_invalid("trailerField must be 1"));
            }
            let salt_len = params.salt_len.unwrap_or(PSS_DEFAULT_SALT_LEN);
            let salt_len = usize::try_from(salt_len).map_err(|_| pss_invalid("salt length"))?;
            return Ok(Self {
                scheme: SignatureScheme::RsaPss,
                digest: hash,
                salt_len,
            });
        }
        Err(AlgError::Unsupported(format!(
            "signature algorithm {}",
            sig_alg.oid
        )))
    }
}

/// The smallest and largest RSA moduli mss will work with at all; the policy decides
/// what is acceptable within that range.
const RSA_MIN_BITS: usize = 512;
const RSA_MAX_BITS: usize = 16384;

/// Extract the RSA public key from a `SubjectPublicKeyInfo` (`rsaEncryption`, or
/// `id-RSASSA-PSS` keys).
pub(crate) fn rsa_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<rsa::PublicKey, AlgError> {
    let (n, e) = rsa_public_components(spki)?;
    let n = BoxedUint::from_be_slice_vartime(n.as_slice());
    let e = BoxedUint::from_be_slice_vartime(e.as_slice());
    rsa::PublicKey::new_with_size_limits(n, e, RSA_MIN_BITS..=RSA_MAX_BITS)
        .map_err(|e| AlgError::InvalidKey(format!("RSA public key: {e}")))
}

/// The big-endian modulus and exponent (leading zeros stripped).
fn rsa_public_components(spki: &SubjectPublicKeyInfoOwned) -> Result<(Vec<u8>, Vec<u8>), AlgError> {
    let alg = spki.algorithm.oid;
    if alg != oid::RSA_ENCRYPTION && alg != oid::ID_RSASSA_PSS {
        return Err(AlgError::Unsupported(format!("public key algorithm {alg}")));
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| AlgError::InvalidKey("public key BIT STRING has unused bits".to_owned()))?;
    let key = RsaPublicKeyRef::from_der(bits)
        .map_err(|e| AlgError::InvalidKey(format!("RSAPublicKey: {e}")))?;
    Ok((
        key.modulus.as_bytes().to_vec(),
        key.public_exponent.as_bytes().to_vec(),
    ))
}

fn verify_v15<D: Digest + AssociatedOid>(
    pk: &rsa::PublicKey,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), AlgError> {
    pk.verify(Pkcs1v15Sign::new::<D>(), digest, sig)
        .map_err(|_| AlgError::BadSignature)
}

fn verify_pss<D: Digest + FixedOutputReset>(
    pk: &rsa::PublicKey,
    digest: &[u8],
    sig: &[u8],
    salt_len: usize,
) -> Result<(), AlgError> {
    pk.verify(Pss::<D>::new_with_salt(salt_len), digest, sig)
        .map_err(|_| AlgError::BadSignature)
}

/// Verify `signature` over an already computed `digest` with the public key `spki`.
///
/// PSS signatures are verified with MGF1 over the same digest and exactly the salt
/// length `alg.salt_len` that the signature's parameters announced.
pub fn verify_digest(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &SignatureAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), AlgError> {
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
    let pk = rsa_public_key(spki)?;
    if signature.len() != pk.size() {
        return Err(AlgError::BadSignature);
    }
    match alg.scheme {
        SignatureScheme::RsaPkcs1v15 => match alg.digest {
            DigestAlgorithm::Md5 => verify_v15::<md5::Md5>(&pk, digest, signature),
            DigestAlgorithm::Sha1 => verify_v15::<sha1::Sha1>(&pk, digest, signature),
            DigestAlgorithm::Sha224 => verify_v15::<sha2::Sha224>(&pk, digest, signature),
            DigestAlgorithm::Sha256 => verify_v15::<sha2::Sha256>(&pk, digest, signature),
            DigestAlgorithm::Sha384 => verify_v15::<sha2::Sha384>(&pk, digest, signature),
            DigestAlgorithm::Sha512 => verify_v15::<sha2::Sha512>(&pk, digest, signature),
        },
        SignatureScheme::RsaPss => {
            let s = alg.salt_len;
            match alg.digest {
                DigestAlgorithm::Md5 => verify_pss::<md5::Md5>(&pk, digest, signature, s),
                DigestAlgorithm::Sha1 => verify_pss::<sha1::Sha1>(&pk, digest, signature, s),
                DigestAlgorithm::Sha224 => verify_pss::<sha2::Sha224>(&pk, digest, signature, s),
                DigestAlgorithm::Sha256 => verify_pss::<sha2::Sha256>(&pk, digest, signature, s),
                DigestAlgorithm::Sha384 => verify_pss::<sha2::Sha384>(&pk, digest, signature, s),
                DigestAlgorithm::Sha512 => verify_pss::<sha2::Sha512>(&pk, digest, signature, s),
            }
        }
    }
}

/// Size in bits of the public key (RSA modulus), for the policy.
pub fn public_key_bits(spki: &SubjectPublicKeyInfoOwned) -> Result<usize, AlgError> {
    let (n, _) = rsa_public_components(spki)?;
    let Some(&top) = n.first() else {
        return Err(AlgError::InvalidKey("RSA modulus is zero".to_owned()));
    };
    let top_bits = 8 - usize::try_from(top.leading_zeros()).unwrap_or(0);
    Ok((n.len() - 1) * 8 + top_bits)
}
