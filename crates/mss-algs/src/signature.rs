//! Signature algorithms: naming, CMS `AlgorithmIdentifier` encoding, and verification.
//!
//! Signing is a private-key operation and lives behind [`crate::keys::SigningKey`]; this
//! module verifies with a public key from a certificate's `SubjectPublicKeyInfo`.
//!
//! Schemes: RSA PKCS#1 v1.5 and PSS, DSA (RFC 3279 / RFC 5758, `dsa` crate; a key whose
//! SPKI omits the domain parameters inherits them from its issuer, RFC 3279 §2.3.2 — see
//! [`verify_digest_with_params`]), ECDSA on P-256 and P-384 (RFC 5753 / RFC 5758, DER
//! `ECDSA-Sig-Value`) and Ed25519 (RFC 8419, *pure* mode). Pure EdDSA signs the message
//! itself — for CMS, the DER of the signed attributes — not a digest:
//! [`SignatureAlgorithm::is_prehash`] says which, and [`verify_message`] handles both.
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
use der::asn1::Any;
use digest::{Digest, FixedOutputReset};
use pkcs1::RsaPublicKeyRef;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss};
use signature::hazmat::PrehashVerifier;
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
    /// DSA (FIPS 186, RFC 3279 §2.2.2, RFC 5758 §3.1). Historic.
    Dsa,
    /// ECDSA (RFC 5758 §3.2) on the curve of the key (P-256 or P-384).
    Ecdsa,
    /// Ed25519 in pure mode (RFC 8032, RFC 8419). The `digest` of the algorithm is only
    /// the CMS message digest (SHA-512 by RFC 8419 §3.1); the signature covers the message.
    Ed25519,
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
        DigestAlgorithm::Md2 => oid::MD2_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Md5 => oid::MD5_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha1 => oid::SHA1_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha224 => oid::SHA224_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha256 => oid::SHA256_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha384 => oid::SHA384_WITH_RSA_ENCRYPTION,
        DigestAlgorithm::Sha512 => oid::SHA512_WITH_RSA_ENCRYPTION,
    }
}

fn dsa_oid(d: DigestAlgorithm) -> Option<const_oid::ObjectIdentifier> {
    match d {
        DigestAlgorithm::Sha1 => Some(oid::ID_DSA_WITH_SHA1),
        DigestAlgorithm::Sha224 => Some(oid::ID_DSA_WITH_SHA224),
        DigestAlgorithm::Sha256 => Some(oid::ID_DSA_WITH_SHA256),
        _ => None,
    }
}

fn ecdsa_oid(d: DigestAlgorithm) -> Option<const_oid::ObjectIdentifier> {
    match d {
        DigestAlgorithm::Sha1 => Some(oid::ECDSA_WITH_SHA1),
        DigestAlgorithm::Sha224 => Some(oid::ECDSA_WITH_SHA224),
        DigestAlgorithm::Sha256 => Some(oid::ECDSA_WITH_SHA256),
        DigestAlgorithm::Sha384 => Some(oid::ECDSA_WITH_SHA384),
        DigestAlgorithm::Sha512 => Some(oid::ECDSA_WITH_SHA512),
        _ => None,
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

    /// DSA with `digest` (SHA-1, SHA-224 or SHA-256 have signature OIDs).
    pub fn dsa(digest: DigestAlgorithm) -> Self {
        Self {
            scheme: SignatureScheme::Dsa,
            digest,
            salt_len: 0,
        }
    }

    /// ECDSA with `digest` (the curve is the key's).
    pub fn ecdsa(digest: DigestAlgorithm) -> Self {
        Self {
            scheme: SignatureScheme::Ecdsa,
            digest,
            salt_len: 0,
        }
    }

    /// Ed25519 (pure), with SHA-512 as the CMS message digest (RFC 8419 §3.1).
    pub fn ed25519() -> Self {
        Self {
            scheme: SignatureScheme::Ed25519,
            digest: DigestAlgorithm::Sha512,
            salt_len: 0,
        }
    }

    /// True when the scheme signs a digest computed by the caller with `self.digest`
    /// (RSA, DSA, ECDSA); false for pure EdDSA, which signs the whole message (in CMS:
    /// the DER of the signed attributes) — use [`verify_message`] and
    /// [`crate::keys::SoftwarePrivateKey::sign_message`] then.
    pub fn is_prehash(&self) -> bool {
        self.scheme != SignatureScheme::Ed25519
    }

    /// Human/JSON name: `rsa-pkcs1v15-sha256`, `rsa-pss-sha256`, `dsa-sha1`,
    /// `ecdsa-sha256`, `ed25519`, …
    ///
    /// ECDSA names carry no curve: the `AlgorithmIdentifier` does not either (the curve is
    /// the key's); [`SignatureAlgorithm::from_name`] also accepts `ecdsa-p256-sha256`.
    pub fn name(&self) -> String {
        let scheme = match self.scheme {
            SignatureScheme::RsaPkcs1v15 => "rsa-pkcs1v15",
            SignatureScheme::RsaPss => "rsa-pss",
            SignatureScheme::Dsa => "dsa",
            SignatureScheme::Ecdsa => "ecdsa",
            SignatureScheme::Ed25519 => return "ed25519".to_owned(),
        };
        format!("{scheme}-{}", self.digest.name())
    }

    /// Parse a name as [`SignatureAlgorithm::name`] gives it (`rsa-pss-sha256`,
    /// `dsa-sha1`, `ecdsa-sha256`, `ecdsa-p256-sha256`, `ecdsa-p384-sha384`, `ed25519`).
    /// PSS gets the default salt length (the digest length).
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let lower = name.to_ascii_lowercase();
        if lower == "ed25519" {
            return Ok(Self::ed25519());
        }
        if let Some(d) = lower.strip_prefix("dsa-") {
            return Ok(Self::dsa(DigestAlgorithm::from_name(d)?));
        }
        if let Some(rest) = lower.strip_prefix("ecdsa-") {
            let d = rest
                .strip_prefix("p256-")
                .or_else(|| rest.strip_prefix("p384-"))
                .unwrap_or(rest);
            return Ok(Self::ecdsa(DigestAlgorithm::from_name(d)?));
        }
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
    ///
    /// DSA, ECDSA and Ed25519 identifiers have absent parameters (RFC 3279, RFC 5758,
    /// RFC 8410).
    pub fn to_algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        let absent = |oid| {
            Ok(AlgorithmIdentifierOwned {
                oid,
                parameters: None,
            })
        };
        match self.scheme {
            SignatureScheme::Dsa => match dsa_oid(self.digest) {
                Some(o) => absent(o),
                None => Err(AlgError::Unsupported(self.name())),
            },
            SignatureScheme::Ecdsa => match ecdsa_oid(self.digest) {
                Some(o) => absent(o),
                None => Err(AlgError::Unsupported(self.name())),
            },
            SignatureScheme::Ed25519 => absent(oid::ID_ED25519),
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
    ///
    /// Also: `id-dsa` (as RFC 4134's DSA signers write it; the digest is `digest`),
    /// `id-dsa-with-sha1/224/256`, `ecdsa-with-SHA1/224/256/384/512`, `id-ecPublicKey`
    /// (seen from old signers; the digest is `digest`) and `id-Ed25519`.
    pub fn from_algorithm_identifier(
        sig_alg: &AlgorithmIdentifierOwned,
        digest: DigestAlgorithm,
    ) -> Result<Self, AlgError> {
        let agree = |alg: Self, name: &str| -> Result<Self, AlgError> {
            check_null_or_absent(sig_alg, name)?;
            if alg.digest != digest {
                return Err(AlgError::InvalidParameters {
                    alg: name.to_owned(),
                    reason: format!(
                        "signature algorithm digest disagrees with digestAlgorithm {}",
                        digest.name()
                    ),
                });
            }
            Ok(alg)
        };
        if sig_alg.oid == oid::ID_DSA {
            return agree(Self::dsa(digest), "id-dsa");
        }
        if sig_alg.oid == oid::ID_EC_PUBLIC_KEY {
            // Some old signers put the key OID here; its parameters (if any) name a curve.
            return Ok(Self::ecdsa(digest));
        }
        if sig_alg.oid == oid::ID_ED25519 {
            if sig_alg.parameters.is_some() {
                return Err(AlgError::InvalidParameters {
                    alg: "id-Ed25519".to_owned(),
                    reason: "parameters must be absent".to_owned(),
                });
            }
            return Ok(Self {
                digest,
                ..Self::ed25519()
            });
        }
        if let Some(&d) = DigestAlgorithm::ALL
            .iter()
            .find(|d| dsa_oid(**d) == Some(sig_alg.oid))
        {
            return agree(Self::dsa(d), &format!("id-dsa-with-{}", d.name()));
        }
        if let Some(&d) = DigestAlgorithm::ALL
            .iter()
            .find(|d| ecdsa_oid(**d) == Some(sig_alg.oid))
        {
            return agree(Self::ecdsa(d), &format!("ecdsa-with-{}", d.name()));
        }
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
/// length `alg.salt_len` that the signature's parameters announced. A DSA key must carry
/// its domain parameters here; use [`verify_digest_with_params`] for inherited ones.
/// Pure Ed25519 cannot verify a digest: use [`verify_message`].
pub fn verify_digest(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &SignatureAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), AlgError> {
    verify_digest_with_params(spki, None, alg, digest, signature)
}

/// As [`verify_digest`], with the DSA domain parameters the key inherits from its
/// issuer (RFC 3279 §2.3.2: the issuer certificate's `subjectPublicKeyInfo.algorithm
/// .parameters`) when the key's own SPKI omits them. Parameters present in `spki` win.
pub fn verify_digest_with_params(
    spki: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
    alg: &SignatureAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), AlgError> {
    check_digest_len(alg, digest)?;
    match alg.scheme {
        SignatureScheme::RsaPkcs1v15 | SignatureScheme::RsaPss => {
            verify_rsa(spki, alg, digest, signature)
        }
        SignatureScheme::Dsa => {
            let vk = crate::public_key::dsa_verifying_key(spki, inherited_params)?;
            let sig = dsa::Signature::try_from(signature).map_err(|_| AlgError::BadSignature)?;
            vk.verify_prehash(digest, &sig)
                .map_err(|_| AlgError::BadSignature)
        }
        SignatureScheme::Ecdsa => match crate::public_key::ec_public_key(spki)? {
            crate::public_key::EcPublicKey::P256(pk) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| AlgError::BadSignature)?;
                p256::ecdsa::VerifyingKey::from(pk)
                    .verify_prehash(digest, &sig)
                    .map_err(|_| AlgError::BadSignature)
            }
            crate::public_key::EcPublicKey::P384(pk) => {
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|_| AlgError::BadSignature)?;
                p384::ecdsa::VerifyingKey::from(pk)
                    .verify_prehash(digest, &sig)
                    .map_err(|_| AlgError::BadSignature)
            }
        },
        SignatureScheme::Ed25519 => Err(AlgError::InvalidParameters {
            alg: alg.name(),
            reason: "pure EdDSA signs the message, not a digest: use verify_message".to_owned(),
        }),
    }
}

/// Verify `signature` over `message` (in CMS: the DER of the signed attributes, or the
/// content when there are none). Hash-then-sign schemes hash `message` with
/// `alg.digest` first; pure Ed25519 verifies the message itself (RFC 8419).
pub fn verify_message(
    spki: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
    alg: &SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AlgError> {
    if alg.is_prehash() {
        let digest = alg.digest.digest(message);
        return verify_digest_with_params(spki, inherited_params, alg, &digest, signature);
    }
    let vk = crate::public_key::ed25519_verifying_key(spki)?;
    let sig =
        ed25519_dalek::Signature::from_slice(signature).map_err(|_| AlgError::BadSignature)?;
    vk.verify_strict(message, &sig)
        .map_err(|_| AlgError::BadSignature)
}

fn check_digest_len(alg: &SignatureAlgorithm, digest: &[u8]) -> Result<(), AlgError> {
    if alg.is_prehash() && digest.len() != alg.digest.output_len() {
        return Err(AlgError::InvalidParameters {
            alg: alg.name(),
            reason: format!(
                "digest is {} bytes, expected {}",
                digest.len(),
                alg.digest.output_len()
            ),
        });
    }
    Ok(())
}

fn verify_rsa(
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
            DigestAlgorithm::Md2 => verify_v15::<md2::Md2>(&pk, digest, signature),
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
                DigestAlgorithm::Md2 => verify_pss::<md2::Md2>(&pk, digest, signature, s),
                DigestAlgorithm::Md5 => verify_pss::<md5::Md5>(&pk, digest, signature, s),
                DigestAlgorithm::Sha1 => verify_pss::<sha1::Sha1>(&pk, digest, signature, s),
                DigestAlgorithm::Sha224 => verify_pss::<sha2::Sha224>(&pk, digest, signature, s),
                DigestAlgorithm::Sha256 => verify_pss::<sha2::Sha256>(&pk, digest, signature, s),
                DigestAlgorithm::Sha384 => verify_pss::<sha2::Sha384>(&pk, digest, signature, s),
                DigestAlgorithm::Sha512 => verify_pss::<sha2::Sha512>(&pk, digest, signature, s),
            }
        }
        _ => Err(AlgError::Unsupported(format!(
            "{} with an RSA key",
            alg.name()
        ))),
    }
}

/// Size in bits of the public key, for the policy: the RSA modulus, the DSA or DH
/// prime `p`, the EC curve (256, 384), 256 for Ed25519 and X25519. A DSA key without
/// its own parameters needs [`public_key_bits_with_params`].
pub fn public_key_bits(spki: &SubjectPublicKeyInfoOwned) -> Result<usize, AlgError> {
    public_key_bits_with_params(spki, None)
}

/// As [`public_key_bits`], with inherited DSA domain parameters (RFC 3279 §2.3.2).
pub fn public_key_bits_with_params(
    spki: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
) -> Result<usize, AlgError> {
    let alg = spki.algorithm.oid;
    if alg != oid::RSA_ENCRYPTION && alg != oid::ID_RSASSA_PSS {
        return crate::public_key::non_rsa_key_bits(spki, inherited_params);
    }
    let (n, _) = rsa_public_components(spki)?;
    let Some(&top) = n.first() else {
        return Err(AlgError::InvalidKey("RSA modulus is zero".to_owned()));
    };
    let top_bits = 8 - usize::try_from(top.leading_zeros()).unwrap_or(0);
    Ok((n.len() - 1) * 8 + top_bits)
}
