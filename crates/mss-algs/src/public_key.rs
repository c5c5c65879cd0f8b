//! Public keys other than RSA, read from a `SubjectPublicKeyInfo` (or a CMS
//! `OriginatorPublicKey`, which has the same shape): DSA (RFC 3279 §2.3.2), EC P-256 /
//! P-384 (RFC 5480), Ed25519 and X25519 (RFC 8410), X9.42 Diffie-Hellman (RFC 3279
//! §2.3.3, `dhpublicnumber`).

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd, Resize};
use der::asn1::{Any, BitString, Uint};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::AlgError;
use crate::digest::decode_params;
use crate::oid;

/// Largest DH / DSA prime mss works with.
pub(crate) const MAX_PRIME_BITS: usize = 8192;

fn bad_key(what: impl Into<String>) -> AlgError {
    AlgError::InvalidKey(what.into())
}

/// The BIT STRING contents of a public key (no unused bits allowed).
pub(crate) fn key_bytes(spki: &SubjectPublicKeyInfoOwned) -> Result<&[u8], AlgError> {
    spki.subject_public_key
        .as_bytes()
        .ok_or_else(|| bad_key("public key BIT STRING has unused bits"))
}

/// X9.42 `DomainParameters` (RFC 3279 §2.3.3): `p`, `g`, `q`, optional `j` and
/// `validationParms` (kept, not checked).
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
pub struct DhDomainParameters {
    /// The prime `p`.
    pub p: Uint,
    /// The generator `g`.
    pub g: Uint,
    /// The subgroup order `q`.
    pub q: Uint,
    /// The cofactor `j`, if given.
    #[asn1(optional = "true")]
    pub j: Option<Uint>,
    /// `ValidationParms`, if given (not checked by mss).
    #[asn1(optional = "true")]
    pub validation_parms: Option<Any>,
}

impl DhDomainParameters {
    /// Size of `p` in bits.
    pub fn p_bits(&self) -> usize {
        uint_bits(self.p.as_bytes())
    }

    fn modulus(&self) -> Result<(Odd<BoxedUint>, u32), AlgError> {
        let bits = self.p_bits();
        if !(512..=MAX_PRIME_BITS).contains(&bits) {
            return Err(bad_key(format!("DH prime of {bits} bits")));
        }
        let p = BoxedUint::from_be_slice_vartime(self.p.as_bytes());
        let precision = p.bits_precision();
        let p = Odd::new(p)
            .into_option()
            .ok_or_else(|| bad_key("DH prime is even"))?;
        Ok((p, precision))
    }

    /// Parse from an `AlgorithmIdentifier`'s parameters.
    pub fn from_any(params: &Any) -> Result<Self, AlgError> {
        decode_params("dhpublicnumber", params)
    }
}

/// Number of significant bits of a big-endian unsigned integer.
pub(crate) fn uint_bits(be: &[u8]) -> usize {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let rest = &be[skip..];
    match rest.first() {
        None => 0,
        Some(top) => (rest.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// A Diffie-Hellman public key (`dhpublicnumber`): its domain parameters and `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhPublicKey {
    /// The domain parameters (from the key, or inherited).
    pub params: DhDomainParameters,
    /// The public value `y`, big-endian without leading zeros.
    pub y: Vec<u8>,
}

impl DhPublicKey {
    /// Read from a SubjectPublicKeyInfo / OriginatorPublicKey; `fallback_params` are
    /// used when the key's own parameters are absent or NULL (as in a CMS originator key,
    /// RFC 3370 §4.1.1, whose parameters are the recipient's).
    pub fn from_spki(
        spki: &SubjectPublicKeyInfoOwned,
        fallback_params: Option<&DhDomainParameters>,
    ) -> Result<Self, AlgError> {
        if spki.algorithm.oid != oid::DH_PUBLIC_NUMBER {
            return Err(AlgError::Unsupported(format!(
                "public key algorithm {} (expected dhpublicnumber)",
                spki.algorithm.oid
            )));
        }
        let params = match &spki.algorithm.parameters {
            Some(p) if !p.is_null() => DhDomainParameters::from_any(p)?,
            _ => fallback_params
                .cloned()
                .ok_or_else(|| bad_key("DH public key without domain parameters"))?,
        };
        let y = Uint::from_der(key_bytes(spki)?).map_err(|e| bad_key(format!("DH y: {e}")))?;
        let key = Self {
            params,
            y: y.as_bytes().to_vec(),
        };
        key.validate()?;
        Ok(key)
    }

    /// RFC 2631 §2.1.5 public-key validation: `1 < y < p - 1` and `y^q = 1 mod p`.
    pub fn validate(&self) -> Result<(), AlgError> {
        let (p, precision) = self.params.modulus()?;
        let y = BoxedUint::from_be_slice_vartime(&self.y);
        if y.bits_precision() > precision {
            return Err(bad_key("DH y is larger than p"));
        }
        let y = y.resize(precision);
        let p_minus_1 = p.as_ref().wrapping_sub(BoxedUint::one());
        if y <= BoxedUint::one().resize(precision) || y >= p_minus_1 {
            return Err(bad_key("DH y out of range"));
        }
        let q = BoxedUint::from_be_slice_vartime(self.params.q.as_bytes());
        let params = BoxedMontyParams::new_vartime(p);
        let one = BoxedMontyForm::new(y, &params).pow(&q).retrieve();
        if one != BoxedUint::one().resize(precision) {
            return Err(bad_key("DH y is not in the subgroup of order q"));
        }
        Ok(())
    }

    /// Encode as a SubjectPublicKeyInfo; with `with_params` false the parameters are
    /// absent (the CMS originator-key form, RFC 3370 §4.1.1).
    pub fn to_spki(&self, with_params: bool) -> Result<SubjectPublicKeyInfoOwned, AlgError> {
        let enc = |e: der::Error| bad_key(format!("DH key encoding: {e}"));
        let parameters = if with_params {
            Some(Any::encode_from(&self.params).map_err(enc)?)
        } else {
            None
        };
        let y = Uint::new(&self.y).map_err(enc)?.to_der().map_err(enc)?;
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid::DH_PUBLIC_NUMBER,
                parameters,
            },
            subject_public_key: BitString::from_bytes(&y).map_err(enc)?,
        })
    }
}

/// `base^exp mod p` in constant time with respect to `exp`, as a big-endian string of
/// exactly the length of `p` (the ZZ of RFC 2631 §2.1.1, leading zeros kept).
pub(crate) fn dh_modpow(
    params: &DhDomainParameters,
    base: &[u8],
    exp: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, AlgError> {
    let (p, precision) = params.modulus()?;
    let p_len = params.p_bits().div_ceil(8);
    let b = BoxedUint::from_be_slice_vartime(base);
    if b.bits_precision() > precision {
        return Err(bad_key("DH value larger than p"));
    }
    let b = b.resize(precision);
    if b >= *p.as_ref() {
        return Err(bad_key("DH value larger than p"));
    }
    if exp.is_empty() || exp.len() > MAX_PRIME_BITS / 8 {
        return Err(bad_key("DH exponent length"));
    }
    let e = BoxedUint::from_be_slice(exp, u32::try_from(exp.len() * 8).unwrap_or(u32::MAX))
        .map_err(|_| bad_key("DH exponent"))?;
    let params_m = BoxedMontyParams::new(p);
    let r = BoxedMontyForm::new(b, &params_m).pow(&e).retrieve();
    let bytes = zeroize::Zeroizing::new(r.to_be_bytes().to_vec());
    let start = bytes.len().saturating_sub(p_len);
    let mut out = zeroize::Zeroizing::new(vec![0u8; p_len.saturating_sub(bytes.len())]);
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    Ok(out)
}

/// An EC public key on a curve mss supports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EcPublicKey {
    /// NIST P-256.
    P256(p256::PublicKey),
    /// NIST P-384.
    P384(p384::PublicKey),
}

impl EcPublicKey {
    /// Curve size in bits.
    pub fn bits(&self) -> usize {
        match self {
            EcPublicKey::P256(_) => 256,
            EcPublicKey::P384(_) => 384,
        }
    }

    /// The named-curve OID.
    pub fn curve_oid(&self) -> const_oid::ObjectIdentifier {
        match self {
            EcPublicKey::P256(_) => oid::SECP256R1,
            EcPublicKey::P384(_) => oid::SECP384R1,
        }
    }

    /// The uncompressed SEC1 point.
    pub fn to_sec1_bytes(&self) -> Vec<u8> {
        match self {
            EcPublicKey::P256(k) => k.to_sec1_bytes().to_vec(),
            EcPublicKey::P384(k) => k.to_sec1_bytes().to_vec(),
        }
    }

    /// Parse a SEC1 point on the curve named by `curve`.
    pub fn from_sec1(curve: &const_oid::ObjectIdentifier, point: &[u8]) -> Result<Self, AlgError> {
        let bad = |_| bad_key("EC point not on the curve");
        if *curve == oid::SECP256R1 {
            p256::PublicKey::from_sec1_bytes(point)
                .map(EcPublicKey::P256)
                .map_err(bad)
        } else if *curve == oid::SECP384R1 {
            p384::PublicKey::from_sec1_bytes(point)
                .map(EcPublicKey::P384)
                .map_err(bad)
        } else {
            Err(AlgError::Unsupported(format!("elliptic curve {curve}")))
        }
    }

    /// Encode as a SubjectPublicKeyInfo: `id-ecPublicKey` with the named curve, or with
    /// absent parameters when `with_curve` is false (CMS originator keys, RFC 5753 §3.1.1).
    pub fn to_spki(&self, with_curve: bool) -> Result<SubjectPublicKeyInfoOwned, AlgError> {
        let enc = |e: der::Error| bad_key(format!("EC key encoding: {e}"));
        let parameters = if with_curve {
            Some(Any::encode_from(&self.curve_oid()).map_err(enc)?)
        } else {
            None
        };
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid::ID_EC_PUBLIC_KEY,
                parameters,
            },
            subject_public_key: BitString::from_bytes(&self.to_sec1_bytes()).map_err(enc)?,
        })
    }
}

/// The named curve of an `id-ecPublicKey` SPKI (None when parameters are absent/NULL).
pub(crate) fn ec_curve(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<Option<const_oid::ObjectIdentifier>, AlgError> {
    if spki.algorithm.oid != oid::ID_EC_PUBLIC_KEY {
        return Err(AlgError::Unsupported(format!(
            "public key algorithm {} (expected id-ecPublicKey)",
            spki.algorithm.oid
        )));
    }
    match &spki.algorithm.parameters {
        None => Ok(None),
        Some(p) if p.is_null() => Ok(None),
        Some(p) => decode_params::<const_oid::ObjectIdentifier>("id-ecPublicKey", p)
            .map(Some)
            .map_err(|_| AlgError::Unsupported("explicit EC parameters".to_owned())),
    }
}

/// Read an EC public key (`id-ecPublicKey` with a named curve).
pub fn ec_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<EcPublicKey, AlgError> {
    let curve = ec_curve(spki)?.ok_or_else(|| bad_key("EC public key without a curve"))?;
    EcPublicKey::from_sec1(&curve, key_bytes(spki)?)
}

/// Read a DSA public key, with `inherited_params` (Dss-Parms) used when the SPKI has
/// none (RFC 3279 §2.3.2).
pub fn dsa_verifying_key(
    spki: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
) -> Result<dsa::VerifyingKey, AlgError> {
    if spki.algorithm.oid != oid::ID_DSA {
        return Err(AlgError::Unsupported(format!(
            "public key algorithm {} (expected id-dsa)",
            spki.algorithm.oid
        )));
    }
    let params = dsa_params(spki, inherited_params)?;
    let components: dsa::Components = decode_params("id-dsa", params)
        .map_err(|_| bad_key("DSA parameters (sizes 1024/160, 2048/224, 2048/256, 3072/256)"))?;
    let y = Uint::from_der(key_bytes(spki)?).map_err(|e| bad_key(format!("DSA y: {e}")))?;
    let y = BoxedUint::from_be_slice_vartime(y.as_bytes());
    dsa::VerifyingKey::from_components(components, y).map_err(|_| bad_key("DSA public key y"))
}

fn dsa_params<'a>(
    spki: &'a SubjectPublicKeyInfoOwned,
    inherited_params: Option<&'a Any>,
) -> Result<&'a Any, AlgError> {
    match &spki.algorithm.parameters {
        Some(p) if !p.is_null() => Ok(p),
        _ => inherited_params.ok_or_else(|| {
            bad_key("DSA key without domain parameters (inherit them from the issuer)")
        }),
    }
}

/// Read an Ed25519 public key (`id-Ed25519`, RFC 8410).
pub fn ed25519_verifying_key(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<ed25519_dalek::VerifyingKey, AlgError> {
    if spki.algorithm.oid != oid::ID_ED25519 {
        return Err(AlgError::Unsupported(format!(
            "public key algorithm {} (expected id-Ed25519)",
            spki.algorithm.oid
        )));
    }
    let bytes: &[u8; 32] = key_bytes(spki)?
        .try_into()
        .map_err(|_| bad_key("Ed25519 public key is 32 bytes"))?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| bad_key("Ed25519 public key"))
}

/// Read an X25519 public key (`id-X25519`, RFC 8410).
pub fn x25519_public_key(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<x25519_dalek::PublicKey, AlgError> {
    if spki.algorithm.oid != oid::ID_X25519 {
        return Err(AlgError::Unsupported(format!(
            "public key algorithm {} (expected id-X25519)",
            spki.algorithm.oid
        )));
    }
    let bytes: [u8; 32] = key_bytes(spki)?
        .try_into()
        .map_err(|_| bad_key("X25519 public key is 32 bytes"))?;
    Ok(x25519_dalek::PublicKey::from(bytes))
}

/// An RFC 8410 SPKI for a 32-byte Ed25519 / X25519 public key.
pub(crate) fn raw_spki(
    alg: const_oid::ObjectIdentifier,
    key: &[u8],
) -> Result<SubjectPublicKeyInfoOwned, AlgError> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: alg,
            parameters: None,
        },
        subject_public_key: BitString::from_bytes(key)
            .map_err(|e| bad_key(format!("public key encoding: {e}")))?,
    })
}

/// Key size for the policy, for every non-RSA key type.
pub(crate) fn non_rsa_key_bits(
    spki: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
) -> Result<usize, AlgError> {
    let alg = spki.algorithm.oid;
    if alg == oid::ID_DSA {
        let params = dsa_params(spki, inherited_params)?;
        #[derive(der::Sequence)]
        struct DssParms {
            p: Uint,
            q: Uint,
            g: Uint,
        }
        let d: DssParms = decode_params("id-dsa", params)?;
        let _ = (&d.q, &d.g);
        return Ok(uint_bits(d.p.as_bytes()));
    }
    if alg == oid::ID_EC_PUBLIC_KEY {
        return Ok(ec_public_key(spki)?.bits());
    }
    if alg == oid::ID_ED25519 || alg == oid::ID_X25519 {
        return Ok(256);
    }
    if alg == oid::DH_PUBLIC_NUMBER {
        let params = match &spki.algorithm.parameters {
            Some(p) if !p.is_null() => DhDomainParameters::from_any(p)?,
            _ => match inherited_params {
                Some(p) => DhDomainParameters::from_any(p)?,
                None => return Err(bad_key("DH key without domain parameters")),
            },
        };
        return Ok(params.p_bits());
    }
    Err(AlgError::Unsupported(format!("public key algorithm {alg}")))
}
