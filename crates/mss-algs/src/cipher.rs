//! Content-encryption algorithms (CMS `ContentEncryptionAlgorithmIdentifier`).
//!
//! CBC modes use PKCS#7 padding (RFC 5652 §6.3). The padding is removed here by hand
//! rather than with `cipher`'s `Pkcs7` unpadder because that one returns early on the
//! first bad byte: ours inspects the whole last block with `subtle` and answers with a
//! single [`AlgError::DecryptionFailed`], so that it cannot serve as a padding oracle.
//!
//! The historic ciphers (RFC 3370 §5): single DES-CBC (`desCBC`, IV as an OCTET STRING),
//! RC2-CBC (RFC 2268 with the `RC2CBCParameter` of RFC 3370 §5.2: the effective key
//! bits are carried in [`ContentCipher::Rc2Cbc`]) and RC4 (a stream cipher: no IV, no
//! padding; OpenSSL writes an empty OCTET STRING as its parameters, which we write too
//! and accept along with absent and NULL). They are read by default with a
//! `weak-algorithm` warning and produced only under the legacy policy.
//!
//! GCM follows RFC 5084 (`GCMParameters { aes-nonce, aes-ICVlen DEFAULT 12 }`): tag
//! lengths 12 to 16 are supported, nonces must be the recommended 12 bytes.

use aes_gcm::AesGcm;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use cipher::block_padding::{NoPadding, Pkcs7};
use cipher::consts::{U12, U13, U14, U15, U16};
use cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    KeyInit, KeyIvInit, StreamCipher,
};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use spki::AlgorithmIdentifierOwned;
use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

use crate::AlgError;
use crate::digest::{decode_params, encode_params};
use crate::oid;

/// A content-encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentCipher {
    /// AES-128 in CBC mode.
    Aes128Cbc,
    /// AES-192 in CBC mode.
    Aes192Cbc,
    /// AES-256 in CBC mode.
    Aes256Cbc,
    /// Triple DES (EDE, three keys) in CBC mode. Historic.
    DesEde3Cbc,
    /// AES-128 in GCM mode (AuthEnvelopedData only).
    Aes128Gcm,
    /// AES-256 in GCM mode (AuthEnvelopedData only).
    Aes256Gcm,
    /// Single DES in CBC mode (`desCBC`, 8-byte key). Historic.
    DesCbc,
    /// RC2 in CBC mode (RFC 2268) with the given effective key bits. Historic.
    ///
    /// mss produces 40, 64 and 128 bits (keys of 5, 8 and 16 bytes, as OpenSSL's
    /// `rc2-40-cbc`, `rc2-64-cbc` and `rc2-cbc`); it reads those, 56 bits, any value
    /// ≥ 256, and the bare-IV parameter form, which RFC 2268 §6 defines as 32 bits.
    Rc2Cbc {
        /// Effective key bits (RFC 2268 §2, "T1").
        effective_bits: u16,
    },
    /// RC4 stream cipher (16-byte key, no IV, no padding). Historic.
    Rc4,
}

/// RFC 3370 §5.2 `RC2CBCParameter` (the version is OPTIONAL here to accept the RFC 2268
/// form without it).
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
struct Rc2CbcParameter {
    #[asn1(optional = "true")]
    version: Option<u32>,
    iv: OctetString,
}

/// RFC 2268 §6 `RC2ParameterVersion` for the effective key bits mss knows: the
/// table's entries for 40, 56, 64 and 128 bits, and `b` itself for `b >= 256`.
pub fn rc2_parameter_version(effective_bits: u16) -> Option<u32> {
    match effective_bits {
        40 => Some(160),
        56 => Some(52),
        64 => Some(120),
        128 => Some(58),
        b if b >= 256 => Some(u32::from(b)),
        _ => None,
    }
}

/// The inverse of [`rc2_parameter_version`].
pub fn rc2_effective_bits(version: u32) -> Option<u16> {
    match version {
        160 => Some(40),
        52 => Some(56),
        120 => Some(64),
        58 => Some(128),
        v if v >= 256 => u16::try_from(v).ok().filter(|b| *b <= 1024),
        _ => None,
    }
}

/// The GCM nonce length mss accepts and produces (RFC 5084 §3.2 recommends 12).
pub const GCM_NONCE_LEN: usize = 12;
/// The GCM tag length mss produces.
pub const GCM_TAG_LEN: usize = 16;
/// The `aes-ICVlen` DEFAULT of RFC 5084 when the field is absent.
pub const GCM_DEFAULT_TAG_LEN: usize = 12;

/// Fill a fresh buffer of `len` bytes from the operating system RNG.
pub(crate) fn random_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut buf).map_err(|_| AlgError::Rng)?;
    Ok(buf)
}

impl ContentCipher {
    /// Every cipher, for enumeration in tests and CLI help.
    pub const ALL: &'static [ContentCipher] = &[
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes192Cbc,
        ContentCipher::Aes256Cbc,
        ContentCipher::DesEde3Cbc,
        ContentCipher::Aes128Gcm,
        ContentCipher::Aes256Gcm,
        ContentCipher::DesCbc,
        ContentCipher::Rc2Cbc { effective_bits: 40 },
        ContentCipher::Rc2Cbc { effective_bits: 64 },
        ContentCipher::Rc2Cbc {
            effective_bits: 128,
        },
        ContentCipher::Rc4,
    ];

    /// True for the historic ciphers (3DES, DES, RC2, RC4).
    pub fn is_historic(self) -> bool {
        matches!(
            self,
            ContentCipher::DesEde3Cbc
                | ContentCipher::DesCbc
                | ContentCipher::Rc2Cbc { .. }
                | ContentCipher::Rc4
        )
    }

    /// OID of the algorithm.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            ContentCipher::Aes128Cbc => oid::ID_AES128_CBC,
            ContentCipher::Aes192Cbc => oid::ID_AES192_CBC,
            ContentCipher::Aes256Cbc => oid::ID_AES256_CBC,
            ContentCipher::DesEde3Cbc => oid::DES_EDE3_CBC,
            ContentCipher::Aes128Gcm => oid::ID_AES128_GCM,
            ContentCipher::Aes256Gcm => oid::ID_AES256_GCM,
            ContentCipher::DesCbc => oid::DES_CBC,
            ContentCipher::Rc2Cbc { .. } => oid::RC2_CBC,
            ContentCipher::Rc4 => oid::RC4,
        }
    }

    /// Look up by OID. For RC2 the effective key bits live in the parameters; this
    /// answers 128 bits — use [`CipherParams::from_algorithm_identifier`] to read them.
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, AlgError> {
        if *oid == oid::RC2_CBC {
            return Ok(ContentCipher::Rc2Cbc {
                effective_bits: 128,
            });
        }
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.oid() == *oid)
            .ok_or_else(|| AlgError::Unsupported(format!("content-encryption algorithm {oid}")))
    }

    /// CLI name: `aes-128-cbc`, `aes-192-cbc`, `aes-256-cbc`, `des-ede3-cbc`, `aes-128-gcm`,
    /// `aes-256-gcm`, `des-cbc`, `rc2-40`, `rc2-64`, `rc2-128`, `rc4` (`rc2-cbc` for an RC2
    /// effective key size other than 40, 64 and 128 bits).
    pub fn name(self) -> &'static str {
        match self {
            ContentCipher::Aes128Cbc => "aes-128-cbc",
            ContentCipher::Aes192Cbc => "aes-192-cbc",
            ContentCipher::Aes256Cbc => "aes-256-cbc",
            ContentCipher::DesEde3Cbc => "des-ede3-cbc",
            ContentCipher::Aes128Gcm => "aes-128-gcm",
            ContentCipher::Aes256Gcm => "aes-256-gcm",
            ContentCipher::DesCbc => "des-cbc",
            ContentCipher::Rc2Cbc { effective_bits: 40 } => "rc2-40",
            ContentCipher::Rc2Cbc { effective_bits: 64 } => "rc2-64",
            ContentCipher::Rc2Cbc {
                effective_bits: 128,
            } => "rc2-128",
            ContentCipher::Rc2Cbc { .. } => "rc2-cbc",
            ContentCipher::Rc4 => "rc4",
        }
    }

    /// Parse a CLI name (as `name()` gives; case-insensitive; `3des` also names
    /// `des-ede3-cbc`, `des` names `des-cbc`, and OpenSSL's `rc2-40-cbc`, `rc2-64-cbc`
    /// and `rc2-cbc` name the RC2 variants).
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let lower = name.to_ascii_lowercase();
        let rc2 = |b| Ok(ContentCipher::Rc2Cbc { effective_bits: b });
        match lower.as_str() {
            "3des" | "des3" => return Ok(ContentCipher::DesEde3Cbc),
            "des" => return Ok(ContentCipher::DesCbc),
            "rc2-40-cbc" => return rc2(40),
            "rc2-64-cbc" => return rc2(64),
            "rc2-cbc" | "rc2" | "rc2-128-cbc" => return rc2(128),
            _ => {}
        }
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.name() == lower)
            .ok_or_else(|| AlgError::Unsupported(format!("content-encryption algorithm {name:?}")))
    }

    /// Key length in bytes (the length mss generates; RC2 decryption also accepts any
    /// key of 1 to 128 bytes, since a sender's key length is not tied to the effective
    /// bits: RC2 at 40/56/64/128 bits gives 5/7/8/16 bytes, the bare-IV 32-bit form 4,
    /// other sizes 16).
    pub fn key_len(self) -> usize {
        match self {
            ContentCipher::Aes128Cbc | ContentCipher::Aes128Gcm => 16,
            ContentCipher::Aes192Cbc | ContentCipher::DesEde3Cbc => 24,
            ContentCipher::Aes256Cbc | ContentCipher::Aes256Gcm => 32,
            ContentCipher::DesCbc => 8,
            ContentCipher::Rc2Cbc { effective_bits } => match effective_bits {
                32 => 4,
                40 => 5,
                56 => 7,
                64 => 8,
                _ => 16,
            },
            ContentCipher::Rc4 => 16,
        }
    }

    /// Block size in bytes (1 for the RC4 stream cipher).
    pub fn block_len(self) -> usize {
        match self {
            ContentCipher::DesEde3Cbc | ContentCipher::DesCbc | ContentCipher::Rc2Cbc { .. } => 8,
            ContentCipher::Rc4 => 1,
            _ => 16,
        }
    }

    /// IV length in bytes for CBC (the block size), nonce length for GCM.
    pub fn iv_len(self) -> usize {
        match self {
            ContentCipher::DesEde3Cbc | ContentCipher::DesCbc | ContentCipher::Rc2Cbc { .. } => 8,
            ContentCipher::Aes128Gcm | ContentCipher::Aes256Gcm => GCM_NONCE_LEN,
            ContentCipher::Rc4 => 0,
            _ => 16,
        }
    }

    /// True for AEAD ciphers (GCM), which go in AuthEnvelopedData.
    pub fn is_aead(self) -> bool {
        matches!(self, ContentCipher::Aes128Gcm | ContentCipher::Aes256Gcm)
    }

    /// A fresh random key of the right length.
    pub fn generate_key(self) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        random_bytes(self.key_len())
    }
}

/// RFC 5084 `GCMParameters`.
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
struct GcmParameters {
    /// `aes-nonce`.
    nonce: OctetString,
    /// `aes-ICVlen AES-GCM-ICVlen DEFAULT 12`.
    #[asn1(optional = "true")]
    icv_len: Option<u8>,
}

/// A content cipher together with its parameters (IV or nonce + tag length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherParams {
    /// The algorithm.
    pub cipher: ContentCipher,
    /// The IV (CBC, block size) or nonce (GCM, 12 bytes recommended).
    pub iv: Vec<u8>,
    /// GCM tag length in bytes (12..=16); ignored for CBC.
    pub tag_len: usize,
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8], pt: &[u8]) -> Result<Vec<u8>, AlgError>
where
    C: BlockCipherEncrypt + KeyInit,
{
    let enc = cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| AlgError::InvalidKey("wrong key or IV length for CBC".to_owned()))?;
    Ok(enc.encrypt_padded_vec::<Pkcs7>(pt))
}

fn cbc_decrypt_raw<C>(key: &[u8], iv: &[u8], ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError>
where
    C: BlockCipherDecrypt + KeyInit,
{
    let dec =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| AlgError::DecryptionFailed)?;
    dec.decrypt_padded_vec::<NoPadding>(ct)
        .map(Zeroizing::new)
        .map_err(|_| AlgError::DecryptionFailed)
}

fn cbc_encrypt_with<C: BlockCipherEncrypt>(
    cipher: C,
    iv: &[u8],
    pt: &[u8],
) -> Result<Vec<u8>, AlgError> {
    let enc = cbc::Encryptor::<C>::inner_iv_slice_init(cipher, iv)
        .map_err(|_| AlgError::InvalidKey("wrong IV length for CBC".to_owned()))?;
    Ok(enc.encrypt_padded_vec::<Pkcs7>(pt))
}

fn cbc_decrypt_raw_with<C: BlockCipherDecrypt>(
    cipher: C,
    iv: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let dec = cbc::Decryptor::<C>::inner_iv_slice_init(cipher, iv)
        .map_err(|_| AlgError::DecryptionFailed)?;
    dec.decrypt_padded_vec::<NoPadding>(ct)
        .map(Zeroizing::new)
        .map_err(|_| AlgError::DecryptionFailed)
}

/// Largest RC2 effective key size (RFC 2268: T1 ≤ 1024).
const RC2_MAX_EFFECTIVE_BITS: u16 = 1024;

/// An RC2 block cipher with `effective_bits`, refusing (rather than panicking on) key
/// lengths outside 1..=128 bytes and effective sizes outside 1..=1024 bits.
pub(crate) fn rc2_cipher(key: &[u8], effective_bits: u16) -> Result<rc2::Rc2, AlgError> {
    if key.is_empty() || key.len() > 128 {
        return Err(AlgError::InvalidKey(
            "RC2 keys are 1 to 128 bytes".to_owned(),
        ));
    }
    if effective_bits == 0 || effective_bits > RC2_MAX_EFFECTIVE_BITS {
        return Err(AlgError::InvalidKey(format!(
            "RC2 effective key bits {effective_bits} (1..=1024)"
        )));
    }
    Ok(rc2::Rc2::new_with_eff_key_len(
        key,
        usize::from(effective_bits),
    ))
}

/// Apply the RC4 keystream to `data` (encryption and decryption are the same).
fn rc4_apply(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let mut c = rc4::Rc4::new_from_slice(key)
        .map_err(|_| AlgError::InvalidKey("RC4 keys are 1 to 256 bytes".to_owned()))?;
    let mut buf = Zeroizing::new(data.to_vec());
    c.apply_keystream(&mut buf);
    Ok(buf)
}

/// Check and strip PKCS#7 padding in constant time (with respect to the padding bytes).
pub(crate) fn strip_pkcs7(
    mut buf: Zeroizing<Vec<u8>>,
    block: usize,
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let n = buf.len();
    if n == 0 || !n.is_multiple_of(block) {
        return Err(AlgError::DecryptionFailed);
    }
    let Some(&pad) = buf.last() else {
        return Err(AlgError::DecryptionFailed);
    };
    let block_u8 = u8::try_from(block).map_err(|_| AlgError::DecryptionFailed)?;
    // 1 <= pad <= block
    let mut good: Choice = !pad.ct_eq(&0) & !pad.ct_gt(&block_u8);
    let last_block = buf.get(n - block..).ok_or(AlgError::DecryptionFailed)?;
    for (i, &b) in last_block.iter().rev().enumerate() {
        let i = u8::try_from(i).map_err(|_| AlgError::DecryptionFailed)?;
        let in_pad = pad.ct_gt(&i);
        good &= !in_pad | b.ct_eq(&pad);
    }
    if bool::from(good) {
        buf.truncate(n - usize::from(pad));
        Ok(buf)
    } else {
        Err(AlgError::DecryptionFailed)
    }
}

fn gcm_seal<A>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    pt: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), AlgError>
where
    A: KeyInit + AeadInOut,
{
    let aead = A::new_from_slice(key)
        .map_err(|_| AlgError::InvalidKey("wrong key length for GCM".to_owned()))?;
    let nonce = Nonce::<A>::try_from(nonce).map_err(|_| AlgError::InvalidParameters {
        alg: "aes-gcm".to_owned(),
        reason: "nonce must be 12 bytes".to_owned(),
    })?;
    let mut buf = pt.to_vec();
    let tag = aead
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        .map_err(|_| AlgError::InvalidParameters {
            alg: "aes-gcm".to_owned(),
            reason: "message too long".to_owned(),
        })?;
    Ok((buf, tag.to_vec()))
}

fn gcm_open<A>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AlgError>
where
    A: KeyInit + AeadInOut,
{
    let aead = A::new_from_slice(key).map_err(|_| AlgError::DecryptionFailed)?;
    let nonce = Nonce::<A>::try_from(nonce).map_err(|_| AlgError::DecryptionFailed)?;
    let tag = Tag::<A>::try_from(tag).map_err(|_| AlgError::DecryptionFailed)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    aead.decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| AlgError::DecryptionFailed)?;
    Ok(buf)
}

/// Instantiate `$f::<AesGcm<$aes, U12, TagSize>>` for the runtime tag length.
macro_rules! with_gcm {
    ($aes:ty, $tag_len:expr, $f:ident, $err:expr, ($($arg:expr),*)) => {
        match $tag_len {
            12 => $f::<AesGcm<$aes, U12, U12>>($($arg),*),
            13 => $f::<AesGcm<$aes, U12, U13>>($($arg),*),
            14 => $f::<AesGcm<$aes, U12, U14>>($($arg),*),
            15 => $f::<AesGcm<$aes, U12, U15>>($($arg),*),
            16 => $f::<AesGcm<$aes, U12, U16>>($($arg),*),
            _ => Err($err),
        }
    };
}

impl CipherParams {
    /// Fresh random parameters for `cipher` (random IV / 12-byte nonce, 16-byte tag).
    pub fn generate(cipher: ContentCipher) -> Result<Self, AlgError> {
        let iv = random_bytes(cipher.iv_len())?.to_vec();
        Ok(Self {
            cipher,
            iv,
            tag_len: GCM_TAG_LEN,
        })
    }

    fn invalid(&self, reason: impl Into<String>) -> AlgError {
        AlgError::InvalidParameters {
            alg: self.cipher.name().to_owned(),
            reason: reason.into(),
        }
    }

    /// Check IV / nonce / tag length against the algorithm.
    pub(crate) fn validate(&self) -> Result<(), AlgError> {
        if self.iv.len() != self.cipher.iv_len() {
            return Err(self.invalid(format!(
                "IV/nonce must be {} bytes, got {}",
                self.cipher.iv_len(),
                self.iv.len()
            )));
        }
        if let ContentCipher::Rc2Cbc { effective_bits } = self.cipher
            && (effective_bits == 0 || effective_bits > RC2_MAX_EFFECTIVE_BITS)
        {
            return Err(self.invalid(format!("RC2 effective key bits {effective_bits}")));
        }
        if self.cipher.is_aead() && !(12..=16).contains(&self.tag_len) {
            return Err(self.invalid(format!(
                "unsupported GCM tag length {} (12..=16 supported)",
                self.tag_len
            )));
        }
        Ok(())
    }

    /// Parse an `AlgorithmIdentifier` (OID + parameters: IV OCTET STRING for CBC,
    /// `GCMParameters` for GCM, `RC2CBCParameter` or a bare IV for RC2, nothing, NULL or
    /// an empty OCTET STRING for RC4).
    pub fn from_algorithm_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, AlgError> {
        let cipher = ContentCipher::from_oid(&alg.oid)?;
        if cipher == ContentCipher::Rc4 {
            let ok = match &alg.parameters {
                None => true,
                Some(p) if p.is_null() => true,
                Some(p) => decode_params::<OctetString>("rc4", p)
                    .map(|o| o.as_bytes().is_empty())
                    .unwrap_or(false),
            };
            if !ok {
                return Err(AlgError::InvalidParameters {
                    alg: "rc4".to_owned(),
                    reason: "RC4 takes no IV".to_owned(),
                });
            }
            return Ok(Self {
                cipher,
                iv: Vec::new(),
                tag_len: GCM_TAG_LEN,
            });
        }
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| AlgError::InvalidParameters {
                alg: cipher.name().to_owned(),
                reason: "missing parameters".to_owned(),
            })?;
        let out = if let ContentCipher::Rc2Cbc { .. } = cipher {
            let bad = |reason: String| AlgError::InvalidParameters {
                alg: "rc2-cbc".to_owned(),
                reason,
            };
            let (bits, iv) = if der::Tagged::tag(params) == der::Tag::OctetString {
                // RFC 2268 §6: the bare IV means 32 effective key bits.
                let iv: OctetString = decode_params("rc2-cbc", params)?;
                (32, iv)
            } else {
                let p: Rc2CbcParameter = decode_params("rc2-cbc", params)?;
                let bits = match p.version {
                    None => 32,
                    Some(v) => rc2_effective_bits(v)
                        .ok_or_else(|| bad(format!("unsupported rc2ParameterVersion {v}")))?,
                };
                (bits, p.iv)
            };
            Self {
                cipher: ContentCipher::Rc2Cbc {
                    effective_bits: bits,
                },
                iv: iv.as_bytes().to_vec(),
                tag_len: GCM_TAG_LEN,
            }
        } else if cipher.is_aead() {
            let p: GcmParameters = decode_params(cipher.name(), params)?;
            Self {
                cipher,
                iv: p.nonce.as_bytes().to_vec(),
                tag_len: p.icv_len.map_or(GCM_DEFAULT_TAG_LEN, usize::from),
            }
        } else {
            let iv: OctetString = decode_params(cipher.name(), params)?;
            Self {
                cipher,
                iv: iv.as_bytes().to_vec(),
                tag_len: GCM_TAG_LEN,
            }
        };
        out.validate()?;
        Ok(out)
    }

    /// Encode as an `AlgorithmIdentifier`.
    pub fn to_algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        self.validate()?;
        let name = self.cipher.name();
        let nonce = OctetString::new(self.iv.clone()).map_err(|e| self.invalid(e.to_string()))?;
        let parameters = if self.cipher == ContentCipher::Rc4 {
            // What OpenSSL writes for RC4: an empty OCTET STRING.
            encode_params(name, &nonce)?
        } else if let ContentCipher::Rc2Cbc { effective_bits } = self.cipher {
            if effective_bits == 32 {
                encode_params(name, &nonce)?
            } else {
                let version = rc2_parameter_version(effective_bits).ok_or_else(|| {
                    self.invalid(format!(
                        "no rc2ParameterVersion for {effective_bits} effective bits"
                    ))
                })?;
                encode_params(
                    name,
                    &Rc2CbcParameter {
                        version: Some(version),
                        iv: nonce,
                    },
                )?
            }
        } else if self.cipher.is_aead() {
            let icv_len = if self.tag_len == GCM_DEFAULT_TAG_LEN {
                None // DER: DEFAULT values are omitted
            } else {
                Some(u8::try_from(self.tag_len).map_err(|_| self.invalid("tag length"))?)
            };
            encode_params(name, &GcmParameters { nonce, icv_len })?
        } else {
            encode_params(name, &nonce)?
        };
        Ok(AlgorithmIdentifierOwned {
            oid: self.cipher.oid(),
            parameters: Some(parameters),
        })
    }

    /// CBC: encrypt with PKCS#7 padding (RC4: the bare keystream, no padding). Errors
    /// for AEAD ciphers.
    pub fn encrypt_cbc(&self, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.validate()?;
        if let ContentCipher::Rc2Cbc { effective_bits } = self.cipher {
            // Any RC2 key length is legal; the effective bits are separate.
            let c = rc2_cipher(key, effective_bits)?;
            return cbc_encrypt_with(c, &self.iv, plaintext);
        }
        if self.cipher == ContentCipher::Rc4 {
            // RC4 keys are 1 to 256 bytes; 16 is what mss (and OpenSSL) generate.
            return Ok(rc4_apply(key, plaintext)?.to_vec());
        }
        if key.len() != self.cipher.key_len() {
            return Err(AlgError::InvalidKey(format!(
                "{} needs a {}-byte key",
                self.cipher.name(),
                self.cipher.key_len()
            )));
        }
        match self.cipher {
            ContentCipher::Aes128Cbc => cbc_encrypt::<Aes128>(key, &self.iv, plaintext),
            ContentCipher::Aes192Cbc => cbc_encrypt::<Aes192>(key, &self.iv, plaintext),
            ContentCipher::Aes256Cbc => cbc_encrypt::<Aes256>(key, &self.iv, plaintext),
            ContentCipher::DesEde3Cbc => cbc_encrypt::<des::TdesEde3>(key, &self.iv, plaintext),
            ContentCipher::DesCbc => cbc_encrypt::<des::Des>(key, &self.iv, plaintext),
            ContentCipher::Rc4 => Ok(rc4_apply(key, plaintext)?.to_vec()),
            ContentCipher::Rc2Cbc { .. } => Err(self.invalid("unreachable")),
            ContentCipher::Aes128Gcm | ContentCipher::Aes256Gcm => {
                Err(self.invalid("AEAD cipher used as CBC; use encrypt_aead"))
            }
        }
    }

    /// CBC: decrypt and strip PKCS#7 padding (checked in constant time); RC4: apply the
    /// keystream. Any failure is [`AlgError::DecryptionFailed`]. RC2 accepts a key of
    /// any length (1 to 128 bytes), RC4 of 1 to 256 bytes.
    pub fn decrypt_cbc(
        &self,
        key: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        if self.validate().is_err() {
            return Err(AlgError::DecryptionFailed);
        }
        if let ContentCipher::Rc2Cbc { effective_bits } = self.cipher {
            let c = rc2_cipher(key, effective_bits).map_err(|_| AlgError::DecryptionFailed)?;
            return strip_pkcs7(cbc_decrypt_raw_with(c, &self.iv, ciphertext)?, 8);
        }
        if self.cipher == ContentCipher::Rc4 {
            return rc4_apply(key, ciphertext).map_err(|_| AlgError::DecryptionFailed);
        }
        if key.len() != self.cipher.key_len() {
            return Err(AlgError::DecryptionFailed);
        }
        let (raw, block) = match self.cipher {
            ContentCipher::Aes128Cbc => (cbc_decrypt_raw::<Aes128>(key, &self.iv, ciphertext)?, 16),
            ContentCipher::Aes192Cbc => (cbc_decrypt_raw::<Aes192>(key, &self.iv, ciphertext)?, 16),
            ContentCipher::Aes256Cbc => (cbc_decrypt_raw::<Aes256>(key, &self.iv, ciphertext)?, 16),
            ContentCipher::DesEde3Cbc => (
                cbc_decrypt_raw::<des::TdesEde3>(key, &self.iv, ciphertext)?,
                8,
            ),
            ContentCipher::DesCbc => (cbc_decrypt_raw::<des::Des>(key, &self.iv, ciphertext)?, 8),
            ContentCipher::Rc4 => {
                return rc4_apply(key, ciphertext).map_err(|_| AlgError::DecryptionFailed);
            }
            ContentCipher::Aes128Gcm | ContentCipher::Aes256Gcm | ContentCipher::Rc2Cbc { .. } => {
                return Err(AlgError::DecryptionFailed);
            }
        };
        strip_pkcs7(raw, block)
    }

    /// GCM: encrypt, returning `(ciphertext, tag)`; `aad` is the DER of the
    /// authenticated attributes (or empty).
    pub fn encrypt_aead(
        &self,
        key: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), AlgError> {
        self.validate()?;
        let bad_tag = self.invalid("unsupported tag length");
        match self.cipher {
            ContentCipher::Aes128Gcm => {
                with_gcm!(
                    Aes128,
                    self.tag_len,
                    gcm_seal,
                    bad_tag,
                    (key, &self.iv, aad, plaintext)
                )
            }
            ContentCipher::Aes256Gcm => {
                with_gcm!(
                    Aes256,
                    self.tag_len,
                    gcm_seal,
                    bad_tag,
                    (key, &self.iv, aad, plaintext)
                )
            }
            _ => Err(self.invalid("not an AEAD cipher; use encrypt_cbc")),
        }
    }

    /// GCM: decrypt and verify the tag. Any failure is [`AlgError::DecryptionFailed`].
    pub fn decrypt_aead(
        &self,
        key: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        if self.validate().is_err() || tag.len() != self.tag_len {
            return Err(AlgError::DecryptionFailed);
        }
        let fail = AlgError::DecryptionFailed;
        match self.cipher {
            ContentCipher::Aes128Gcm => {
                with_gcm!(
                    Aes128,
                    self.tag_len,
                    gcm_open,
                    fail,
                    (key, &self.iv, aad, ciphertext, tag)
                )
            }
            ContentCipher::Aes256Gcm => {
                with_gcm!(
                    Aes256,
                    self.tag_len,
                    gcm_open,
                    fail,
                    (key, &self.iv, aad, ciphertext, tag)
                )
            }
            _ => Err(AlgError::DecryptionFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(buf: &[u8], block: usize) -> Result<Vec<u8>, AlgError> {
        strip_pkcs7(Zeroizing::new(buf.to_vec()), block).map(|v| v.to_vec())
    }

    #[test]
    fn pkcs7_padding_checks() {
        let mut good = vec![0x41u8; 13];
        good.extend_from_slice(&[3, 3, 3]);
        assert_eq!(strip(&good, 16), Ok(vec![0x41; 13]));
        assert_eq!(strip(&[16u8; 16], 16), Ok(vec![]));
        assert_eq!(strip(&[1u8; 8], 8), Ok(vec![1u8; 7]));
        let mut bad_inner = good.clone();
        bad_inner[14] = 2; // 03 02 03
        assert_eq!(strip(&bad_inner, 16), Err(AlgError::DecryptionFailed));
        let mut zero = good.clone();
        zero[15] = 0;
        assert_eq!(strip(&zero, 16), Err(AlgError::DecryptionFailed));
        assert_eq!(strip(&[17u8; 16], 16), Err(AlgError::DecryptionFailed));
        assert_eq!(strip(&[9u8; 8], 8), Err(AlgError::DecryptionFailed));
        assert_eq!(strip(&[], 16), Err(AlgError::DecryptionFailed));
        assert_eq!(strip(&[1u8; 15], 16), Err(AlgError::DecryptionFailed));
        // Pad byte 16 but one of the 16 bytes differs.
        let mut full = [16u8; 32];
        full[16] = 15;
        assert_eq!(strip(&full, 16), Err(AlgError::DecryptionFailed));
    }

    #[test]
    fn gcm_parameters_der() {
        // SEQUENCE { OCTET STRING (12 bytes), INTEGER 16 }
        let p = CipherParams {
            cipher: ContentCipher::Aes128Gcm,
            iv: vec![7; 12],
            tag_len: 16,
        };
        let ai = p.to_algorithm_identifier().expect("encode");
        let der = der::Encode::to_der(ai.parameters.as_ref().expect("params")).expect("der");
        let mut expected = vec![0x30, 17, 0x04, 12];
        expected.extend_from_slice(&[7; 12]);
        expected.extend_from_slice(&[0x02, 0x01, 0x10]);
        assert_eq!(der, expected);
        // Tag length 12 is the DEFAULT: omitted on encode, and assumed on decode.
        let p12 = CipherParams {
            tag_len: 12,
            ..p.clone()
        };
        let ai12 = p12.to_algorithm_identifier().expect("encode");
        let der12 = der::Encode::to_der(ai12.parameters.as_ref().expect("params")).expect("der");
        assert_eq!(der12.len(), 2 + 14);
        assert_eq!(CipherParams::from_algorithm_identifier(&ai12), Ok(p12));
    }
}
