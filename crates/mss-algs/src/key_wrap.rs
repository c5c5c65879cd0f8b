//! Key-wrap algorithms (CMS `KeyEncryptionAlgorithmIdentifier` of a KEKRecipientInfo,
//! and the `KeyWrapAlgorithm` inside a KeyAgreeRecipientInfo's key-agreement parameters).
//!
//! - AES key wrap (RFC 3394, `id-aes*-wrap`, RFC 3565): the `aes-kw` crate, which is of
//!   the cipher 0.5 generation. Its parameters are absent (RFC 3565 §2.3.2); NULL is
//!   accepted on input.
//! - Triple-DES key wrap (RFC 3217 §3, `id-alg-CMS3DESwrap`, NULL parameters) and RC2
//!   key wrap (RFC 3217 §4, `id-alg-CMSRC2wrap`, parameters `RC2wrapParameter ::=
//!   RC2ParameterVersion`) are written here by hand: no maintained RustCrypto crate of
//!   the digest 0.11 / cipher 0.5 generation implements them (`aes-kw` is AES only, and
//!   the `cms` crate has no key-wrap code of its own). Both are built on the `des` and
//!   `rc2` block ciphers with the `cbc` mode, following the RFC step by step; the
//!   SHA-1 key checksum is compared in constant time and every unwrap failure is the
//!   single [`AlgError::DecryptionFailed`].

use cipher::block_padding::NoPadding;
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt};
use cipher::{InnerIvInit, KeyInit};
use const_oid::ObjectIdentifier;
use digest::Digest;
use spki::AlgorithmIdentifierOwned;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::AlgError;
use crate::cipher::{
    ContentCipher, random_bytes, rc2_cipher, rc2_effective_bits, rc2_parameter_version,
};
use crate::digest::{decode_params, encode_params};
use crate::oid;

/// A key-wrap algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyWrapAlgorithm {
    /// AES-128 key wrap (RFC 3394).
    Aes128,
    /// AES-192 key wrap (RFC 3394).
    Aes192,
    /// AES-256 key wrap (RFC 3394).
    Aes256,
    /// Triple-DES key wrap (RFC 3217 §3). Historic.
    TripleDes,
    /// RC2 key wrap (RFC 3217 §4) with a 128-bit KEK of `effective_bits`. Historic.
    Rc2 {
        /// Effective key bits of the RC2 KEK (RFC 2268), normally 128.
        effective_bits: u16,
    },
}

/// The fixed IV of the second encryption pass of RFC 3217 (§3.1 step 9, §4.1 step 10).
const RFC3217_IV: [u8; 8] = [0x4a, 0xdd, 0xa2, 0x2c, 0x79, 0xe8, 0x21, 0x05];

impl KeyWrapAlgorithm {
    /// Every key-wrap algorithm, for enumeration.
    pub const ALL: &'static [KeyWrapAlgorithm] = &[
        KeyWrapAlgorithm::Aes128,
        KeyWrapAlgorithm::Aes192,
        KeyWrapAlgorithm::Aes256,
        KeyWrapAlgorithm::TripleDes,
        KeyWrapAlgorithm::Rc2 {
            effective_bits: 128,
        },
    ];

    /// OID of the algorithm.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            KeyWrapAlgorithm::Aes128 => oid::ID_AES128_WRAP,
            KeyWrapAlgorithm::Aes192 => oid::ID_AES192_WRAP,
            KeyWrapAlgorithm::Aes256 => oid::ID_AES256_WRAP,
            KeyWrapAlgorithm::TripleDes => oid::ID_ALG_CMS3DES_WRAP,
            KeyWrapAlgorithm::Rc2 { .. } => oid::ID_ALG_CMSRC2_WRAP,
        }
    }

    /// Name: `aes128-wrap`, `aes192-wrap`, `aes256-wrap`, `3des-wrap`, `rc2-wrap`.
    pub fn name(self) -> &'static str {
        match self {
            KeyWrapAlgorithm::Aes128 => "aes128-wrap",
            KeyWrapAlgorithm::Aes192 => "aes192-wrap",
            KeyWrapAlgorithm::Aes256 => "aes256-wrap",
            KeyWrapAlgorithm::TripleDes => "3des-wrap",
            KeyWrapAlgorithm::Rc2 { .. } => "rc2-wrap",
        }
    }

    /// Parse a name as [`KeyWrapAlgorithm::name`] gives it (case-insensitive).
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let lower = name.to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == lower)
            .ok_or_else(|| AlgError::Unsupported(format!("key wrap {name:?}")))
    }

    /// Length of the key-encryption key in bytes (RC2 key wrap: a 128-bit KEK).
    pub fn kek_len(self) -> usize {
        match self {
            KeyWrapAlgorithm::Aes128 | KeyWrapAlgorithm::Rc2 { .. } => 16,
            KeyWrapAlgorithm::Aes192 | KeyWrapAlgorithm::TripleDes => 24,
            KeyWrapAlgorithm::Aes256 => 32,
        }
    }

    /// True for the historic wraps (3DES, RC2).
    pub fn is_historic(self) -> bool {
        matches!(
            self,
            KeyWrapAlgorithm::TripleDes | KeyWrapAlgorithm::Rc2 { .. }
        )
    }

    /// The wrap that RFC 3370 §4.3 / RFC 3565 / RFC 5753 §8 pair with a content
    /// cipher: 3DES wrap for 3DES, RC2 wrap for DES, RC2 and RC4 (3DES wrap takes only
    /// 3DES keys), AES wrap of the same
    /// size for AES.
    pub fn for_content_cipher(cipher: ContentCipher) -> Self {
        match cipher {
            ContentCipher::Aes192Cbc => KeyWrapAlgorithm::Aes192,
            ContentCipher::Aes256Cbc | ContentCipher::Aes256Gcm => KeyWrapAlgorithm::Aes256,
            ContentCipher::DesEde3Cbc => KeyWrapAlgorithm::TripleDes,
            // 3DES wrap takes 3DES keys only (RFC 3217 §3); RC2 wrap takes any length.
            ContentCipher::DesCbc | ContentCipher::Rc2Cbc { .. } | ContentCipher::Rc4 => {
                KeyWrapAlgorithm::Rc2 {
                    effective_bits: 128,
                }
            }
            _ => KeyWrapAlgorithm::Aes128,
        }
    }

    /// Encode as an `AlgorithmIdentifier`: AES with absent parameters, 3DES with NULL,
    /// RC2 with its `RC2ParameterVersion`.
    pub fn to_algorithm_identifier(self) -> Result<AlgorithmIdentifierOwned, AlgError> {
        let parameters = match self {
            KeyWrapAlgorithm::TripleDes => Some(der::asn1::Any::null()),
            KeyWrapAlgorithm::Rc2 { effective_bits } => {
                let v = rc2_parameter_version(effective_bits).ok_or_else(|| {
                    AlgError::InvalidParameters {
                        alg: self.name().to_owned(),
                        reason: format!("no RC2ParameterVersion for {effective_bits} bits"),
                    }
                })?;
                Some(encode_params(self.name(), &v)?)
            }
            _ => None,
        };
        Ok(AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters,
        })
    }

    /// Parse an `AlgorithmIdentifier`.
    pub fn from_algorithm_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, AlgError> {
        let null_or_absent = alg.parameters.as_ref().is_none_or(|p| p.is_null());
        let bad = |name: &str, reason: &str| AlgError::InvalidParameters {
            alg: name.to_owned(),
            reason: reason.to_owned(),
        };
        let out = match alg.oid {
            o if o == oid::ID_AES128_WRAP => KeyWrapAlgorithm::Aes128,
            o if o == oid::ID_AES192_WRAP => KeyWrapAlgorithm::Aes192,
            o if o == oid::ID_AES256_WRAP => KeyWrapAlgorithm::Aes256,
            o if o == oid::ID_ALG_CMS3DES_WRAP => KeyWrapAlgorithm::TripleDes,
            o if o == oid::ID_ALG_CMSRC2_WRAP => {
                let p = alg
                    .parameters
                    .as_ref()
                    .ok_or_else(|| bad("rc2-wrap", "missing RC2wrapParameter"))?;
                let v: u32 = decode_params("rc2-wrap", p)?;
                let effective_bits = rc2_effective_bits(v)
                    .ok_or_else(|| bad("rc2-wrap", "unsupported RC2ParameterVersion"))?;
                return Ok(KeyWrapAlgorithm::Rc2 { effective_bits });
            }
            o => return Err(AlgError::Unsupported(format!("key wrap algorithm {o}"))),
        };
        if !null_or_absent {
            return Err(bad(out.name(), "parameters must be absent or NULL"));
        }
        Ok(out)
    }

    fn check_kek(self, kek: &[u8]) -> Result<(), AlgError> {
        if kek.len() == self.kek_len() {
            Ok(())
        } else {
            Err(AlgError::InvalidKey(format!(
                "{} needs a {}-byte key-encryption key, got {}",
                self.name(),
                self.kek_len(),
                kek.len()
            )))
        }
    }

    /// Wrap `cek` under `kek`.
    ///
    /// AES: `cek` is a multiple of 8 bytes, at least 16. 3DES: `cek` is a 24-byte 3DES
    /// key (its parity bits are set, RFC 3217 §3.1 step 1). RC2: 1 to 255 bytes.
    pub fn wrap(self, kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, AlgError> {
        self.check_kek(kek)?;
        match self {
            KeyWrapAlgorithm::Aes128 => aes_wrap::<aes::Aes128>(kek, cek),
            KeyWrapAlgorithm::Aes192 => aes_wrap::<aes::Aes192>(kek, cek),
            KeyWrapAlgorithm::Aes256 => aes_wrap::<aes::Aes256>(kek, cek),
            KeyWrapAlgorithm::TripleDes => {
                if cek.len() != 24 {
                    return Err(AlgError::InvalidKey(
                        "3DES key wrap wraps a 24-byte 3DES key".to_owned(),
                    ));
                }
                let mut cekicv = Zeroizing::new(cek.to_vec());
                set_des_parity(&mut cekicv);
                let icv = key_checksum(&cekicv);
                cekicv.extend_from_slice(&icv);
                let kek = des::TdesEde3::new_from_slice(kek)
                    .map_err(|_| AlgError::InvalidKey("3DES KEK".to_owned()))?;
                rfc3217_wrap(&kek, &cekicv)
            }
            KeyWrapAlgorithm::Rc2 { effective_bits } => {
                let len = u8::try_from(cek.len())
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or_else(|| {
                        AlgError::InvalidKey("RC2 key wrap wraps 1 to 255 bytes".to_owned())
                    })?;
                let mut lcekpad = Zeroizing::new(Vec::with_capacity(cek.len() + 16));
                lcekpad.push(len);
                lcekpad.extend_from_slice(cek);
                let pad = (8 - lcekpad.len() % 8) % 8;
                lcekpad.extend_from_slice(&random_bytes(pad)?);
                let icv = key_checksum(&lcekpad);
                lcekpad.extend_from_slice(&icv);
                let kek = rc2_cipher(kek, effective_bits)?;
                rfc3217_wrap(&kek, &lcekpad)
            }
        }
    }

    /// Unwrap `wrapped` with `kek`, checking integrity (in constant time). Any failure
    /// after the key-length check is [`AlgError::DecryptionFailed`].
    pub fn unwrap(self, kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        self.check_kek(kek)?;
        match self {
            KeyWrapAlgorithm::Aes128 => aes_unwrap::<aes::Aes128>(kek, wrapped),
            KeyWrapAlgorithm::Aes192 => aes_unwrap::<aes::Aes192>(kek, wrapped),
            KeyWrapAlgorithm::Aes256 => aes_unwrap::<aes::Aes256>(kek, wrapped),
            KeyWrapAlgorithm::TripleDes => {
                if wrapped.len() != 40 {
                    return Err(AlgError::DecryptionFailed);
                }
                let kek =
                    des::TdesEde3::new_from_slice(kek).map_err(|_| AlgError::DecryptionFailed)?;
                let mut cekicv = rfc3217_unwrap(&kek, wrapped)?;
                let icv = cekicv.split_off(24);
                let good = key_checksum(&cekicv).ct_eq(&icv[..]);
                if bool::from(good) {
                    Ok(cekicv)
                } else {
                    Err(AlgError::DecryptionFailed)
                }
            }
            KeyWrapAlgorithm::Rc2 { effective_bits } => {
                // IV (8) + at least one block of LCEKPAD (8) + ICV (8).
                if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
                    return Err(AlgError::DecryptionFailed);
                }
                let kek =
                    rc2_cipher(kek, effective_bits).map_err(|_| AlgError::DecryptionFailed)?;
                let mut lcekpad = rfc3217_unwrap(&kek, wrapped)?;
                let at = lcekpad.len() - 8;
                let icv = Zeroizing::new(lcekpad.split_off(at));
                let good = bool::from(key_checksum(&lcekpad).ct_eq(&icv[..]));
                let len = usize::from(lcekpad.first().copied().unwrap_or(0));
                // RFC 3217 §4.2 step 9: LENGTH must fit, with at most 7 octets of padding.
                let room = lcekpad.len() - 1;
                if !good || len == 0 || len > room || room - len > 7 {
                    return Err(AlgError::DecryptionFailed);
                }
                Ok(Zeroizing::new(
                    lcekpad
                        .get(1..=len)
                        .ok_or(AlgError::DecryptionFailed)?
                        .to_vec(),
                ))
            }
        }
    }
}

fn aes_wrap<C>(kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, AlgError>
where
    C: BlockCipherEncrypt<BlockSize = cipher::consts::U16> + KeyInit,
{
    if cek.len() < 16 || !cek.len().is_multiple_of(8) {
        return Err(AlgError::InvalidKey(
            "AES key wrap wraps a multiple of 8 bytes, at least 16".to_owned(),
        ));
    }
    let kw = aes_kw::AesKw::<C>::new_from_slice(kek)
        .map_err(|_| AlgError::InvalidKey("AES KEK length".to_owned()))?;
    let mut buf = vec![0u8; cek.len() + 8];
    let out = kw
        .wrap_key(cek, &mut buf)
        .map_err(|e| AlgError::InvalidKey(format!("AES key wrap: {e}")))?;
    Ok(out.to_vec())
}

fn aes_unwrap<C>(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, AlgError>
where
    C: BlockCipherEncrypt<BlockSize = cipher::consts::U16>
        + BlockCipherDecrypt<BlockSize = cipher::consts::U16>
        + KeyInit,
{
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(AlgError::DecryptionFailed);
    }
    let kw = aes_kw::AesKw::<C>::new_from_slice(kek).map_err(|_| AlgError::DecryptionFailed)?;
    let mut buf = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    // aes-kw compares the recovered integrity value in one 64-bit comparison (no
    // early exit over bytes) and zeroes the output on failure.
    kw.unwrap_key(wrapped, &mut buf)
        .map_err(|_| AlgError::DecryptionFailed)?;
    Ok(buf)
}

/// RFC 3217 §2: the first 8 octets of SHA-1 of `key`.
fn key_checksum(key: &[u8]) -> [u8; 8] {
    let d = sha1::Sha1::digest(key);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Set odd parity on every octet (DES keys).
fn set_des_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        let high = *b & 0xfe;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

fn cbc_enc<C: BlockCipherEncrypt + Clone>(
    c: &C,
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, AlgError> {
    let enc = cbc::Encryptor::<C>::inner_iv_slice_init(c.clone(), iv)
        .map_err(|_| AlgError::InvalidKey("key wrap IV".to_owned()))?;
    Ok(enc.encrypt_padded_vec::<NoPadding>(data))
}

fn cbc_dec<C: BlockCipherDecrypt + Clone>(
    c: &C,
    iv: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let dec = cbc::Decryptor::<C>::inner_iv_slice_init(c.clone(), iv)
        .map_err(|_| AlgError::DecryptionFailed)?;
    dec.decrypt_padded_vec::<NoPadding>(data)
        .map(Zeroizing::new)
        .map_err(|_| AlgError::DecryptionFailed)
}

/// RFC 3217 steps common to both wraps: CBC with a random IV, prefix the IV, reverse,
/// CBC again with the fixed IV.
fn rfc3217_wrap<C: BlockCipherEncrypt + Clone>(
    kek: &C,
    payload: &[u8],
) -> Result<Vec<u8>, AlgError> {
    let iv = random_bytes(8)?;
    let temp1 = cbc_enc(kek, &iv, payload)?;
    let mut temp2 = Zeroizing::new(Vec::with_capacity(8 + temp1.len()));
    temp2.extend_from_slice(&iv);
    temp2.extend_from_slice(&temp1);
    temp2.reverse();
    cbc_enc(kek, &RFC3217_IV, &temp2)
}

/// The inverse of [`rfc3217_wrap`]: returns the payload (still carrying its checksum).
fn rfc3217_unwrap<C: BlockCipherDecrypt + Clone>(
    kek: &C,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let mut temp3 = cbc_dec(kek, &RFC3217_IV, wrapped)?;
    temp3.reverse();
    let (iv, temp1) = temp3.split_at(8);
    cbc_dec(kek, iv, temp1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity() {
        let mut k = [0x00u8, 0x01, 0xfe, 0xff, 0x10];
        set_des_parity(&mut k);
        assert_eq!(k, [0x01, 0x01, 0xfe, 0xfe, 0x10]);
        for b in k {
            assert_eq!(b.count_ones() % 2, 1);
        }
    }

    #[test]
    fn identifiers_round_trip() {
        for &w in KeyWrapAlgorithm::ALL {
            let ai = w.to_algorithm_identifier().expect("encode");
            assert_eq!(KeyWrapAlgorithm::from_algorithm_identifier(&ai), Ok(w));
            assert_eq!(KeyWrapAlgorithm::from_name(w.name()), Ok(w));
        }
        let ai = KeyWrapAlgorithm::TripleDes
            .to_algorithm_identifier()
            .expect("3des");
        assert!(ai.parameters.as_ref().is_some_and(|p| p.is_null()));
        let ai = KeyWrapAlgorithm::Aes128
            .to_algorithm_identifier()
            .expect("aes");
        assert!(ai.parameters.is_none());
    }
}
