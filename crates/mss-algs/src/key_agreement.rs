//! Key agreement for CMS KeyAgreeRecipientInfo: the algorithm identifiers, the key
//! derivation functions, and both sides of the exchange.
//!
//! - X9.42 ephemeral-static Diffie-Hellman (`id-alg-ESDH`, RFC 2631, RFC 3370 §4.1.1):
//!   `ZZ = y^x mod p` with `crypto-bigint` (constant time in the exponent), the RFC 2631
//!   §2.1.2 KDF (SHA-1 over `ZZ ‖ OtherInfo`, `OtherInfo` with `KeySpecificInfo
//!   {algorithm, counter}`, `partyAInfo` = UKM, `suppPubInfo` = KEK length in bits).
//! - ECDH ephemeral-static on P-256 / P-384 and X25519 (RFC 5753 §3.1, RFC 8418) with
//!   the ANSI X9.63 KDF (`dhSinglePass-stdDH-sha*kdf-scheme`) or HKDF
//!   (`dhSinglePass-stdDH-hkdf-sha*-scheme`, RFC 8418 §2.2: no salt, the DER of
//!   `ECC-CMS-SharedInfo` as info), both over `ECC-CMS-SharedInfo {keyInfo = the key-wrap
//!   AlgorithmIdentifier, entityUInfo = UKM, suppPubInfo = KEK length in bits}`.
//!
//! The RFC 2631 and X9.63 KDFs are a few lines over `digest` and are written here (no
//! crate of the digest 0.11 generation provides the CMS forms of them); HKDF is the
//! `hkdf` crate. The CMS layer calls [`originate`] (sender: fresh ephemeral key, KEK)
//! and [`recipient_kek`] (recipient: static private key + originator key, KEK), then
//! wraps or unwraps the content key with [`KeyAgreementAlgorithm::wrap`].

use der::asn1::{Any, OctetString};
use der::{Encode, Sequence};
use digest::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::AlgError;
use crate::digest::{DigestAlgorithm, decode_params, encode_params};
use crate::key_wrap::KeyWrapAlgorithm;
use crate::keys::{KeyKind, SoftwarePrivateKey};
use crate::oid;
use crate::public_key::{DhDomainParameters, DhPublicKey, ec_curve};

/// The key-agreement scheme (with its KDF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAgreementScheme {
    /// X9.42 ephemeral-static DH with the RFC 2631 KDF (SHA-1). Historic.
    EsDh,
    /// ECDH / X25519 ephemeral-static with the ANSI X9.63 KDF over `kdf`
    /// (`dhSinglePass-stdDH-<kdf>kdf-scheme`).
    EcdhX963 {
        /// The KDF hash: SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512.
        kdf: DigestAlgorithm,
    },
    /// ECDH / X25519 ephemeral-static with HKDF over `kdf`
    /// (`dhSinglePass-stdDH-hkdf-<kdf>-scheme`, RFC 8418).
    EcdhHkdf {
        /// The HKDF hash: SHA-256, SHA-384 or SHA-512.
        kdf: DigestAlgorithm,
    },
}

/// A complete key-agreement algorithm: the scheme and the key wrap that its
/// `AlgorithmIdentifier` carries as parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyAgreementAlgorithm {
    /// The scheme and KDF.
    pub scheme: KeyAgreementScheme,
    /// The key-wrap algorithm for the content-encryption key.
    pub wrap: KeyWrapAlgorithm,
}

/// The result of the sender's side: the ephemeral public key to put in
/// `originator [0] originatorKey` and the derived key-encryption key.
#[derive(Debug)]
pub struct Originated {
    /// `OriginatorPublicKey` (same shape as a SubjectPublicKeyInfo). For ECDH the
    /// `id-ecPublicKey` parameters are absent, for DH the `dhpublicnumber` parameters are
    /// absent (RFC 5753 §3.1.1, RFC 3370 §4.1.1: they are the recipient's).
    pub originator_key: SubjectPublicKeyInfoOwned,
    /// The key-encryption key for [`KeyAgreementAlgorithm::wrap`].
    pub kek: Zeroizing<Vec<u8>>,
}

const X963: [(DigestAlgorithm, const_oid::ObjectIdentifier); 5] = [
    (DigestAlgorithm::Sha1, oid::DH_SINGLE_PASS_STD_DH_SHA1KDF),
    (
        DigestAlgorithm::Sha224,
        oid::DH_SINGLE_PASS_STD_DH_SHA224KDF,
    ),
    (
        DigestAlgorithm::Sha256,
        oid::DH_SINGLE_PASS_STD_DH_SHA256KDF,
    ),
    (
        DigestAlgorithm::Sha384,
        oid::DH_SINGLE_PASS_STD_DH_SHA384KDF,
    ),
    (
        DigestAlgorithm::Sha512,
        oid::DH_SINGLE_PASS_STD_DH_SHA512KDF,
    ),
];
const HKDF: [(DigestAlgorithm, const_oid::ObjectIdentifier); 3] = [
    (
        DigestAlgorithm::Sha256,
        oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA256,
    ),
    (
        DigestAlgorithm::Sha384,
        oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA384,
    ),
    (
        DigestAlgorithm::Sha512,
        oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA512,
    ),
];

impl KeyAgreementAlgorithm {
    /// The usual algorithm for a recipient key: ESDH + 3DES wrap for DH; X9.63-SHA-256 +
    /// AES-128 wrap for P-256; X9.63-SHA-384 + AES-256 wrap for P-384; HKDF-SHA-256 +
    /// AES-128 wrap for X25519 (RFC 8418's examples).
    pub fn default_for(recipient: &SubjectPublicKeyInfoOwned) -> Result<Self, AlgError> {
        let alg = recipient.algorithm.oid;
        let (scheme, wrap) = if alg == oid::DH_PUBLIC_NUMBER {
            (KeyAgreementScheme::EsDh, KeyWrapAlgorithm::TripleDes)
        } else if alg == oid::ID_X25519 {
            (
                KeyAgreementScheme::EcdhHkdf {
                    kdf: DigestAlgorithm::Sha256,
                },
                KeyWrapAlgorithm::Aes128,
            )
        } else if ec_curve(recipient)? == Some(oid::SECP384R1) {
            (
                KeyAgreementScheme::EcdhX963 {
                    kdf: DigestAlgorithm::Sha384,
                },
                KeyWrapAlgorithm::Aes256,
            )
        } else {
            (
                KeyAgreementScheme::EcdhX963 {
                    kdf: DigestAlgorithm::Sha256,
                },
                KeyWrapAlgorithm::Aes128,
            )
        };
        Ok(Self { scheme, wrap })
    }

    /// The scheme OID.
    pub fn oid(&self) -> Result<const_oid::ObjectIdentifier, AlgError> {
        let find = |table: &[(DigestAlgorithm, const_oid::ObjectIdentifier)], d| {
            table
                .iter()
                .find(|(x, _)| *x == d)
                .map(|(_, o)| *o)
                .ok_or_else(|| AlgError::Unsupported(self.name()))
        };
        match self.scheme {
            KeyAgreementScheme::EsDh => Ok(oid::ID_ALG_ESDH),
            KeyAgreementScheme::EcdhX963 { kdf } => find(&X963, kdf),
            KeyAgreementScheme::EcdhHkdf { kdf } => find(&HKDF, kdf),
        }
    }

    /// Name: `esdh/3des-wrap`, `ecdh-x963-sha256/aes128-wrap`, `ecdh-hkdf-sha256/aes128-wrap`.
    pub fn name(&self) -> String {
        let scheme = match self.scheme {
            KeyAgreementScheme::EsDh => "esdh".to_owned(),
            KeyAgreementScheme::EcdhX963 { kdf } => format!("ecdh-x963-{}", kdf.name()),
            KeyAgreementScheme::EcdhHkdf { kdf } => format!("ecdh-hkdf-{}", kdf.name()),
        };
        format!("{scheme}/{}", self.wrap.name())
    }

    /// True for the historic parts: ESDH, the SHA-1 KDF, or a historic wrap.
    pub fn is_historic(&self) -> bool {
        matches!(
            self.scheme,
            KeyAgreementScheme::EsDh
                | KeyAgreementScheme::EcdhX963 {
                    kdf: DigestAlgorithm::Sha1
                }
        ) || self.wrap.is_historic()
    }

    /// The `keyEncryptionAlgorithm` of a KeyAgreeRecipientInfo: the scheme OID with the
    /// key-wrap `AlgorithmIdentifier` as parameters (RFC 3370 §4.1.1, RFC 5753 §3.1.1).
    pub fn to_algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        let wrap = self.wrap.to_algorithm_identifier()?;
        Ok(AlgorithmIdentifierOwned {
            oid: self.oid()?,
            parameters: Some(encode_params("key agreement", &wrap)?),
        })
    }

    /// Parse a KeyAgreeRecipientInfo's `keyEncryptionAlgorithm`.
    pub fn from_algorithm_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, AlgError> {
        let scheme = if alg.oid == oid::ID_ALG_ESDH {
            KeyAgreementScheme::EsDh
        } else if let Some((d, _)) = X963.iter().find(|(_, o)| *o == alg.oid) {
            KeyAgreementScheme::EcdhX963 { kdf: *d }
        } else if let Some((d, _)) = HKDF.iter().find(|(_, o)| *o == alg.oid) {
            KeyAgreementScheme::EcdhHkdf { kdf: *d }
        } else {
            return Err(AlgError::Unsupported(format!(
                "key agreement algorithm {}",
                alg.oid
            )));
        };
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| AlgError::InvalidParameters {
                alg: alg.oid.to_string(),
                reason: "missing KeyWrapAlgorithm parameters".to_owned(),
            })?;
        let wrap_id: AlgorithmIdentifierOwned = decode_params("key agreement", params)?;
        let wrap = KeyWrapAlgorithm::from_algorithm_identifier(&wrap_id)?;
        Ok(Self { scheme, wrap })
    }

    /// Derive the key-encryption key from the raw shared secret and the optional UKM.
    pub fn derive_kek(
        &self,
        shared_secret: &[u8],
        ukm: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        let len = self.wrap.kek_len();
        let bits = u32::try_from(len * 8).map_err(|_| AlgError::Unsupported(self.name()))?;
        match self.scheme {
            KeyAgreementScheme::EsDh => rfc2631_kdf(shared_secret, &self.wrap.oid(), bits, ukm),
            KeyAgreementScheme::EcdhX963 { kdf } => {
                let info = ecc_cms_shared_info(&self.wrap.to_algorithm_identifier()?, ukm, bits)?;
                x963_kdf(kdf, shared_secret, &info, len)
            }
            KeyAgreementScheme::EcdhHkdf { kdf } => {
                let info = ecc_cms_shared_info(&self.wrap.to_algorithm_identifier()?, ukm, bits)?;
                hkdf_expand(kdf, shared_secret, &info, len)
            }
        }
    }

    /// Wrap the content-encryption key under `kek` (see [`KeyWrapAlgorithm::wrap`]).
    pub fn wrap(&self, kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.wrap.wrap(kek, cek)
    }

    /// Unwrap the content-encryption key (see [`KeyWrapAlgorithm::unwrap`]).
    pub fn unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        self.wrap.unwrap(kek, wrapped)
    }

    fn check_key_type(&self, key_alg: &const_oid::ObjectIdentifier) -> Result<(), AlgError> {
        let ok = match self.scheme {
            KeyAgreementScheme::EsDh => *key_alg == oid::DH_PUBLIC_NUMBER,
            _ => *key_alg == oid::ID_EC_PUBLIC_KEY || *key_alg == oid::ID_X25519,
        };
        if ok {
            Ok(())
        } else {
            Err(AlgError::Unsupported(format!(
                "{} with a {key_alg} key",
                self.name()
            )))
        }
    }
}

/// RFC 2631 §2.1.2 `KeySpecificInfo`.
#[derive(Sequence)]
struct KeySpecificInfo {
    algorithm: const_oid::ObjectIdentifier,
    counter: OctetString,
}

/// RFC 2631 §2.1.2 `OtherInfo` (explicitly tagged, as in RFC 2631's example).
#[derive(Sequence)]
struct OtherInfo {
    key_info: KeySpecificInfo,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    party_a_info: Option<OctetString>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    supp_pub_info: OctetString,
}

/// RFC 5753 §7.2 `ECC-CMS-SharedInfo`.
#[derive(Sequence)]
struct EccCmsSharedInfo {
    key_info: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    entity_u_info: Option<OctetString>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    supp_pub_info: OctetString,
}

fn enc_err(e: der::Error) -> AlgError {
    AlgError::InvalidParameters {
        alg: "key derivation".to_owned(),
        reason: e.to_string(),
    }
}

/// The RFC 2631 §2.1.2 KDF: `KEK = SHA-1(ZZ ‖ OtherInfo(counter = 1)) ‖ SHA-1(ZZ ‖
/// OtherInfo(2)) ‖ …`, truncated to `kek_bits / 8` bytes; `wrap_oid` is the key-wrap
/// algorithm, `party_a_info` the UKM.
pub fn rfc2631_kdf(
    zz: &[u8],
    wrap_oid: &const_oid::ObjectIdentifier,
    kek_bits: u32,
    party_a_info: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let len =
        usize::try_from(kek_bits / 8).map_err(|_| AlgError::Unsupported("KEK length".into()))?;
    let party_a_info = party_a_info
        .map(OctetString::new)
        .transpose()
        .map_err(enc_err)?;
    let supp = OctetString::new(kek_bits.to_be_bytes()).map_err(enc_err)?;
    let mut out = Zeroizing::new(Vec::with_capacity(len + 20));
    let mut counter: u32 = 1;
    while out.len() < len {
        let info = OtherInfo {
            key_info: KeySpecificInfo {
                algorithm: *wrap_oid,
                counter: OctetString::new(counter.to_be_bytes()).map_err(enc_err)?,
            },
            party_a_info: party_a_info.clone(),
            supp_pub_info: supp.clone(),
        }
        .to_der()
        .map_err(enc_err)?;
        let mut h = sha1::Sha1::new();
        h.update(zz);
        h.update(&info);
        out.extend_from_slice(&h.finalize());
        counter = counter
            .checked_add(1)
            .ok_or(AlgError::Unsupported("KEK length".into()))?;
    }
    out.truncate(len);
    Ok(out)
}

/// DER of RFC 5753 `ECC-CMS-SharedInfo { keyInfo = wrap, entityUInfo = ukm,
/// suppPubInfo = kek_bits as 4 big-endian octets }`.
pub fn ecc_cms_shared_info(
    wrap: &AlgorithmIdentifierOwned,
    ukm: Option<&[u8]>,
    kek_bits: u32,
) -> Result<Vec<u8>, AlgError> {
    EccCmsSharedInfo {
        key_info: wrap.clone(),
        entity_u_info: ukm.map(OctetString::new).transpose().map_err(enc_err)?,
        supp_pub_info: OctetString::new(kek_bits.to_be_bytes()).map_err(enc_err)?,
    }
    .to_der()
    .map_err(enc_err)
}

fn x963_with<D: Digest>(z: &[u8], info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut h = D::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        h.update(info);
        out.extend_from_slice(&h.finalize());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// The ANSI X9.63 KDF (SEC 1 §3.6.1): `Hash(Z ‖ counter ‖ SharedInfo)` for counter = 1,
/// 2, …, truncated to `len` bytes.
pub fn x963_kdf(
    digest: DigestAlgorithm,
    z: &[u8],
    shared_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    if len > 1024 {
        return Err(AlgError::Unsupported(
            "X9.63 KDF output over 1024 bytes".into(),
        ));
    }
    Ok(match digest {
        DigestAlgorithm::Sha1 => x963_with::<sha1::Sha1>(z, shared_info, len),
        DigestAlgorithm::Sha224 => x963_with::<sha2::Sha224>(z, shared_info, len),
        DigestAlgorithm::Sha256 => x963_with::<sha2::Sha256>(z, shared_info, len),
        DigestAlgorithm::Sha384 => x963_with::<sha2::Sha384>(z, shared_info, len),
        DigestAlgorithm::Sha512 => x963_with::<sha2::Sha512>(z, shared_info, len),
        d => {
            return Err(AlgError::Unsupported(format!(
                "X9.63 KDF with {}",
                d.name()
            )));
        }
    })
}

/// HKDF (RFC 5869) with no salt: `HKDF-Expand(HKDF-Extract(∅, ikm), info, len)`.
pub fn hkdf_expand(
    digest: DigestAlgorithm,
    ikm: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    let too_long = |_| AlgError::Unsupported("HKDF output too long".into());
    match digest {
        DigestAlgorithm::Sha256 => hkdf::Hkdf::<sha2::Sha256>::new(None, ikm)
            .expand(info, &mut out)
            .map_err(too_long)?,
        DigestAlgorithm::Sha384 => hkdf::Hkdf::<sha2::Sha384>::new(None, ikm)
            .expand(info, &mut out)
            .map_err(too_long)?,
        DigestAlgorithm::Sha512 => hkdf::Hkdf::<sha2::Sha512>::new(None, ikm)
            .expand(info, &mut out)
            .map_err(too_long)?,
        d => return Err(AlgError::Unsupported(format!("HKDF with {}", d.name()))),
    }
    Ok(out)
}

/// Sender side: generate an ephemeral key on the recipient's group (curve, X25519, or
/// the DH domain parameters of the recipient's key — `inherited_params` when its
/// certificate omits them), agree with the recipient's public key and derive the KEK.
pub fn originate(
    recipient: &SubjectPublicKeyInfoOwned,
    inherited_params: Option<&Any>,
    alg: &KeyAgreementAlgorithm,
    ukm: Option<&[u8]>,
) -> Result<Originated, AlgError> {
    let key_alg = recipient.algorithm.oid;
    alg.check_key_type(&key_alg)?;
    let (ephemeral, originator_key) = if key_alg == oid::DH_PUBLIC_NUMBER {
        let inherited = inherited_params
            .map(DhDomainParameters::from_any)
            .transpose()?;
        let peer = DhPublicKey::from_spki(recipient, inherited.as_ref())?;
        let eph = SoftwarePrivateKey::generate_dh(&peer.params)?;
        let mut spki = eph.public_key_info()?;
        spki.algorithm.parameters = None;
        (eph, spki)
    } else if key_alg == oid::ID_X25519 {
        let eph = SoftwarePrivateKey::generate(KeyKind::X25519)?;
        let spki = eph.public_key_info()?;
        (eph, spki)
    } else {
        let curve = ec_curve(recipient)?.ok_or_else(|| {
            AlgError::InvalidKey("recipient EC key without a named curve".to_owned())
        })?;
        let kind = if curve == oid::SECP256R1 {
            KeyKind::EcP256
        } else if curve == oid::SECP384R1 {
            KeyKind::EcP384
        } else {
            return Err(AlgError::Unsupported(format!("elliptic curve {curve}")));
        };
        let eph = SoftwarePrivateKey::generate(kind)?;
        let mut spki = eph.public_key_info()?;
        spki.algorithm.parameters = None;
        (eph, spki)
    };
    let mut recipient = recipient.clone();
    if key_alg == oid::DH_PUBLIC_NUMBER && recipient.algorithm.parameters.is_none() {
        recipient.algorithm.parameters = inherited_params.cloned();
    }
    let shared = ephemeral.agree(&recipient)?;
    let kek = alg.derive_kek(&shared, ukm)?;
    Ok(Originated {
        originator_key,
        kek,
    })
}

/// Recipient side: agree with the originator's public key using the static private
/// key, and derive the KEK.
pub fn recipient_kek(
    key: &SoftwarePrivateKey,
    originator: &SubjectPublicKeyInfoOwned,
    alg: &KeyAgreementAlgorithm,
    ukm: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    alg.check_key_type(&originator.algorithm.oid)?;
    let shared = key.agree(originator)?;
    alg.derive_kek(&shared, ukm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip() {
        for scheme in [
            KeyAgreementScheme::EsDh,
            KeyAgreementScheme::EcdhX963 {
                kdf: DigestAlgorithm::Sha1,
            },
            KeyAgreementScheme::EcdhX963 {
                kdf: DigestAlgorithm::Sha256,
            },
            KeyAgreementScheme::EcdhX963 {
                kdf: DigestAlgorithm::Sha512,
            },
            KeyAgreementScheme::EcdhHkdf {
                kdf: DigestAlgorithm::Sha384,
            },
        ] {
            for &wrap in KeyWrapAlgorithm::ALL {
                let a = KeyAgreementAlgorithm { scheme, wrap };
                let ai = a.to_algorithm_identifier().expect("encode");
                assert_eq!(KeyAgreementAlgorithm::from_algorithm_identifier(&ai), Ok(a));
            }
        }
        let bad = KeyAgreementAlgorithm {
            scheme: KeyAgreementScheme::EcdhHkdf {
                kdf: DigestAlgorithm::Sha1,
            },
            wrap: KeyWrapAlgorithm::Aes128,
        };
        assert!(bad.to_algorithm_identifier().is_err());
    }

    #[test]
    fn x963_kdf_differs_by_shared_info_and_counter_blocks() {
        let a = x963_kdf(DigestAlgorithm::Sha256, b"z", b"info", 48).expect("kdf");
        let b = x963_kdf(DigestAlgorithm::Sha256, b"z", b"inf0", 48).expect("kdf");
        assert_ne!(a, b);
        // First block is SHA-256(Z ‖ 00000001 ‖ info).
        let mut h = sha2::Sha256::new();
        h.update(b"z");
        h.update([0, 0, 0, 1]);
        h.update(b"info");
        assert_eq!(&a[..32], &h.finalize()[..]);
        let mut h = sha2::Sha256::new();
        h.update(b"z");
        h.update([0, 0, 0, 2]);
        h.update(b"info");
        assert_eq!(&a[32..], &h.finalize()[..16]);
    }
}
