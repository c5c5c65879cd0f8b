//! PKCS#12 (RFC 7292) reader: the PFX structure, its MAC, its password-encrypted
//! contents, and the PKCS#12 key-derivation function (RFC 7292 Appendix B).
//!
//! This module owns everything PKCS#12-specific; what comes out is a list of
//! PKCS#8 private keys (DER, zeroized on drop) and X.509 certificates, which
//! [`crate::SoftwareIdentity`] turns into an identity.
//!
//! Why hand-written: the `pkcs12` crate (0.2.0-pre.0) pins `cms = "=0.3.0-pre.1"`,
//! which cannot coexist with the workspace's `cms = "=0.3.0-rc.0"` (both are in the
//! same semver-compatible range), and it provides neither MAC verification nor
//! decryption. The ASN.1 types below are small hand-written decoders (rather than
//! `der` derives) because the PKCS#12 structures are full of `[0] EXPLICIT ANY`
//! fields and are often BER-encoded (indefinite lengths, constructed OCTET STRINGs):
//! each decoder keeps the raw TLV of the `ANY` and parses it once its type is known.
//! PBES2 decryption is delegated to the `pkcs5` crate; the legacy PKCS#12 PBE schemes
//! (SHA-1 + 3DES / RC2) are not implemented by any crate of this generation, so they
//! are implemented here on top of `des`, `rc2` and `cbc`.
//!
//! Supported:
//! - integrity: password MAC (HMAC with SHA-1, SHA-224, SHA-256, SHA-384, SHA-512,
//!   key from the PKCS#12 KDF), verified in constant time; files without MAC;
//! - privacy: `data` and `encryptedData` content infos; PBES2 (PBKDF2 + AES-CBC or
//!   3DES-CBC), `pbeWithSHAAnd3-KeyTripleDES-CBC`, `pbeWithSHAAnd2-KeyTripleDES-CBC`,
//!   `pbeWithSHAAnd128BitRC2-CBC`, `pbeWithSHAAnd40BitRC2-CBC`;
//! - bags: `keyBag`, `pkcs8ShroudedKeyBag`, `certBag` (x509Certificate),
//!   `safeContentsBag` (nested); other bags are skipped.
//!
//! Not supported (typed [`TokenError::Unsupported`]): public-key integrity and privacy
//! modes (`signedData`, `envelopedData`), PBMAC1 (RFC 9579), RC4-based PBE.
//!
//! Passwords: the PKCS#12 KDF takes the password as a BMPString (UTF-16BE) with a
//! trailing NUL, whereas PBES2 takes its UTF-8 bytes. An empty password is ambiguous:
//! some producers use the two-byte NUL, others (OpenSSL with a "NULL" password) the
//! empty string; both are tried for the MAC, and the variant that verifies is used
//! for decryption too.

use cipher::block_padding::Pkcs7;
use cipher::{BlockCipherDecrypt, BlockModeDecrypt, InnerIvInit, KeyInit};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode, EncodingRules, Header, Reader, SliceReader, Tag, TagNumber};
use digest::Digest;
use digest::block_api::BlockSizeUser;
use hmac::{Hmac, Mac};
use spki::AlgorithmIdentifierOwned;
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::TokenError;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

const KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
const PKCS8_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const SAFE_CONTENTS_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.6");
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");

const PBE_SHA1_RC4_128: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.1");
const PBE_SHA1_RC4_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.2");
const PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
const PBE_SHA1_2DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4");
const PBE_SHA1_RC2_128: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
const PBE_SHA1_RC2_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBMAC1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.14");

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Iteration counts above this are refused (a file could otherwise make loading
/// take hours).
const MAX_ITERATIONS: u32 = 10_000_000;
/// Nesting limit for `safeContentsBag`.
const MAX_BAG_DEPTH: usize = 4;

/// The purpose byte ("ID") of the PKCS#12 KDF (RFC 7292 B.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfPurpose {
    /// ID 1: key material for encryption or decryption.
    Key = 1,
    /// ID 2: an initial value (IV).
    Iv = 2,
    /// ID 3: a MAC key.
    Mac = 3,
}

/// Encode a password as the PKCS#12 KDF wants it: BMPString (UTF-16 big-endian)
/// followed by a two-byte NUL terminator. The empty password gives `00 00`.
pub fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * password.len() + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key-derivation function (RFC 7292 Appendix B.2) with hash `D`.
///
/// `password` is already encoded (see [`bmp_password`]); `iterations` below 1 count
/// as 1. Returns `len` bytes.
pub fn derive_key<D: Digest + BlockSizeUser>(
    password: &[u8],
    salt: &[u8],
    purpose: KdfPurpose,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let v = <D as BlockSizeUser>::block_size();
    // 1. D = v/8 copies of ID.
    let diversifier = vec![purpose as u8; v];
    // 2.-4. I = S || P, each the input repeated to a multiple of v bytes.
    let s_len = v * salt.len().div_ceil(v);
    let p_len = v * password.len().div_ceil(v);
    let mut i_block: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(s_len + p_len));
    i_block.extend(salt.iter().cycle().take(s_len));
    i_block.extend(password.iter().cycle().take(p_len));

    let mut out = Zeroizing::new(Vec::with_capacity(len));
    while out.len() < len {
        // 6.A. A_i = H^r(D || I).
        let mut h = D::new();
        h.update(&diversifier);
        h.update(&i_block[..]);
        let mut a = Zeroizing::new(h.finalize().to_vec());
        for _ in 1..iterations {
            a = Zeroizing::new(D::digest(&a[..]).to_vec());
        }
        // 7. A = A_1 || A_2 || ...
        let take = (len - out.len()).min(a.len());
        out.extend(a.iter().take(take));
        if out.len() >= len {
            break;
        }
        // 6.B. B = A_i repeated to v bytes; 6.C. I_j = (I_j + B + 1) mod 2^v.
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().cycle().take(v).copied().collect());
        for chunk in i_block.chunks_mut(v) {
            let mut carry: u16 = 1;
            for (x, y) in chunk.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = (sum & 0xff) as u8;
                carry = sum >> 8;
            }
        }
    }
    out
}

/// What a PKCS#12 file holds, once verified and decrypted.
pub struct Pkcs12Contents {
    /// Private keys as PKCS#8 `PrivateKeyInfo` DER, in file order.
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    /// X.509 certificates, in file order.
    pub certificates: Vec<Certificate>,
}

impl std::fmt::Debug for Pkcs12Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs12Contents")
            .field("keys", &self.keys.len())
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// Parse a PKCS#12 PFX (DER or BER), verify its MAC and decrypt its contents.
///
/// A wrong password (MAC mismatch, or bad padding after decryption) is
/// [`TokenError::BadPassword`]; structural problems are [`TokenError::Malformed`].
pub fn parse(der: &[u8], password: &str) -> Result<Pkcs12Contents, TokenError> {
    let pfx = Pfx::from_ber(der).map_err(|e| malformed("PFX", e))?;
    if pfx.version != 3 {
        return Err(TokenError::Unsupported(format!(
            "PFX version {}",
            pfx.version
        )));
    }
    let auth_safe_bytes = match pfx.auth_safe.content_type {
        ID_DATA => data_content(&pfx.auth_safe)?,
        ID_SIGNED_DATA => {
            return Err(TokenError::Unsupported(
                "PKCS#12 public-key integrity mode (signedData)".into(),
            ));
        }
        other => {
            return Err(TokenError::Unsupported(format!(
                "PKCS#12 authSafe content type {other}"
            )));
        }
    };

    let passwords = Passwords::new(password);
    let password = match &pfx.mac_data {
        Some(mac) => passwords.verify_mac(mac, &auth_safe_bytes)?,
        // No integrity protection (`openssl pkcs12 -nomac`): nothing to check.
        None => passwords.primary(),
    };

    let auth_safe = Vec::<ContentInfo>::from_ber(&auth_safe_bytes)
        .map_err(|e| malformed("AuthenticatedSafe", e))?;
    let mut contents = Pkcs12Contents {
        keys: Vec::new(),
        certificates: Vec::new(),
    };
    for ci in &auth_safe {
        let safe_contents: Zeroizing<Vec<u8>> = match ci.content_type {
            ID_DATA => Zeroizing::new(data_content(ci)?),
            ID_ENCRYPTED_DATA => {
                let tlv = ci
                    .content
                    .as_deref()
                    .ok_or_else(|| TokenError::Malformed("encryptedData without content".into()))?;
                let ed = EncryptedData::from_ber(tlv).map_err(|e| malformed("EncryptedData", e))?;
                if ed.content_type != ID_DATA {
                    return Err(TokenError::Unsupported(format!(
                        "encrypted content type {}",
                        ed.content_type
                    )));
                }
                let ct = ed.encrypted_content.ok_or_else(|| {
                    TokenError::Malformed("encryptedData without encryptedContent".into())
                })?;
                decrypt_pbe(&ed.algorithm, &password, ct.as_bytes())?
            }
            ID_ENVELOPED_DATA => {
                return Err(TokenError::Unsupported(
                    "PKCS#12 public-key privacy mode (envelopedData)".into(),
                ));
            }
            other => {
                return Err(TokenError::Unsupported(format!(
                    "PKCS#12 content type {other}"
                )));
            }
        };
        read_safe_contents(
            &safe_contents,
            ci.content_type == ID_ENCRYPTED_DATA,
            &password,
            &mut contents,
            0,
        )?;
    }
    Ok(contents)
}

/// Decrypt a PKCS#8 `EncryptedPrivateKeyInfo` (PEM `ENCRYPTED PRIVATE KEY`) with
/// PBES2 or a PKCS#12 PBE scheme; returns the `PrivateKeyInfo` DER.
pub(crate) fn decrypt_private_key_info(
    der: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let epki = EncryptedPrivateKeyInfo::from_ber(der)
        .map_err(|e| malformed("EncryptedPrivateKeyInfo", e))?;
    let password = Passwords::new(password).primary();
    let plain = decrypt_pbe(&epki.algorithm, &password, epki.data.as_bytes())?;
    if pkcs8::PrivateKeyInfoRef::from_der(&plain).is_err() {
        return Err(TokenError::BadPassword);
    }
    Ok(plain)
}

fn malformed(what: &str, e: der::Error) -> TokenError {
    TokenError::Malformed(format!("{what}: {e}"))
}

/// The payload of a `data` ContentInfo: the OCTET STRING's value.
fn data_content(ci: &ContentInfo) -> Result<Vec<u8>, TokenError> {
    let tlv = ci
        .content
        .as_deref()
        .ok_or_else(|| TokenError::Malformed("data ContentInfo without content".into()))?;
    let os = OctetString::from_ber(tlv).map_err(|e| malformed("data content", e))?;
    Ok(os.into_bytes().into_vec())
}

/// Read the bags of a SafeContents; `decrypted` says whether `bytes` come out of a
/// decryption (then garbage means a wrong password rather than a malformed file).
fn read_safe_contents(
    bytes: &[u8],
    decrypted: bool,
    password: &Password,
    out: &mut Pkcs12Contents,
    depth: usize,
) -> Result<(), TokenError> {
    if depth > MAX_BAG_DEPTH {
        return Err(TokenError::Malformed(
            "safeContentsBag nested too deeply".into(),
        ));
    }
    let bags = Vec::<SafeBag>::from_ber(bytes).map_err(|e| {
        if decrypted {
            // Decryption with a wrong key and lucky padding yields garbage here.
            TokenError::BadPassword
        } else {
            malformed("SafeContents", e)
        }
    })?;
    for bag in bags {
        match bag.bag_id {
            KEY_BAG => {
                out.keys.push(Zeroizing::new(bag.value.clone()));
            }
            PKCS8_SHROUDED_KEY_BAG => {
                let epki = EncryptedPrivateKeyInfo::from_ber(&bag.value)
                    .map_err(|e| malformed("EncryptedPrivateKeyInfo", e))?;
                let plain = decrypt_pbe(&epki.algorithm, password, epki.data.as_bytes())?;
                // The plaintext must be a PrivateKeyInfo; garbage means a wrong key.
                if pkcs8::PrivateKeyInfoRef::from_der(&plain).is_err() {
                    return Err(TokenError::BadPassword);
                }
                out.keys.push(plain);
            }
            CERT_BAG => {
                let cb = CertBag::from_ber(&bag.value).map_err(|e| malformed("CertBag", e))?;
                if cb.cert_id == X509_CERTIFICATE {
                    let cert = Certificate::from_der(cb.value.as_bytes())
                        .map_err(|e| malformed("certificate", e))?;
                    out.certificates.push(cert);
                }
            }
            SAFE_CONTENTS_BAG => {
                read_safe_contents(&bag.value, decrypted, password, out, depth + 1)?
            }
            // crlBag, secretBag and unknown bags carry nothing an identity needs.
            _ => {}
        }
    }
    Ok(())
}

/// A password in both encodings PKCS#12 uses.
struct Passwords {
    utf8: Zeroizing<Vec<u8>>,
    bmp: Zeroizing<Vec<u8>>,
}

/// The password variant in use after MAC verification.
struct Password {
    /// For PBES2 (PBKDF2): UTF-8 bytes.
    utf8: Zeroizing<Vec<u8>>,
    /// For the PKCS#12 KDF: BMPString with NUL, or empty for the "NULL" password.
    bmp: Zeroizing<Vec<u8>>,
}

impl Passwords {
    fn new(password: &str) -> Self {
        Passwords {
            utf8: Zeroizing::new(password.as_bytes().to_vec()),
            bmp: bmp_password(password),
        }
    }

    fn primary(&self) -> Password {
        Password {
            utf8: self.utf8.clone(),
            bmp: self.bmp.clone(),
        }
    }

    /// Verify the MAC; return the password variant that verified it.
    fn verify_mac(&self, mac: &MacData, data: &[u8]) -> Result<Password, TokenError> {
        if mac.algorithm.oid == PBMAC1 {
            return Err(TokenError::Unsupported(
                "PBMAC1 (RFC 9579) PKCS#12 MAC".into(),
            ));
        }
        check_iterations(mac.iterations)?;
        if mac_matches(mac, &self.bmp, data)? {
            return Ok(self.primary());
        }
        if self.utf8.is_empty() {
            let null = Zeroizing::new(Vec::new());
            if mac_matches(mac, &null, data)? {
                return Ok(Password {
                    utf8: Zeroizing::new(Vec::new()),
                    bmp: null,
                });
            }
        }
        Err(TokenError::BadPassword)
    }
}

fn check_iterations(iterations: u32) -> Result<(), TokenError> {
    if iterations > MAX_ITERATIONS {
        return Err(TokenError::Unsupported(format!(
            "iteration count {iterations} exceeds {MAX_ITERATIONS}"
        )));
    }
    Ok(())
}

fn mac_matches(mac: &MacData, bmp_password: &[u8], data: &[u8]) -> Result<bool, TokenError> {
    fn hmac_with<D>(password: &[u8], mac: &MacData, data: &[u8]) -> Result<Vec<u8>, TokenError>
    where
        D: hmac::EagerHash + BlockSizeUser,
    {
        let key = derive_key::<D>(
            password,
            mac.salt.as_bytes(),
            KdfPurpose::Mac,
            mac.iterations,
            <D as Digest>::output_size(),
        );
        let mut h = <Hmac<D> as hmac::KeyInit>::new_from_slice(&key)
            .map_err(|_| TokenError::Malformed("MAC key".into()))?;
        h.update(data);
        Ok(h.finalize().into_bytes().to_vec())
    }
    let computed = match mac.algorithm.oid {
        SHA1 => hmac_with::<sha1::Sha1>(bmp_password, mac, data)?,
        SHA224 => hmac_with::<sha2::Sha224>(bmp_password, mac, data)?,
        SHA256 => hmac_with::<sha2::Sha256>(bmp_password, mac, data)?,
        SHA384 => hmac_with::<sha2::Sha384>(bmp_password, mac, data)?,
        SHA512 => hmac_with::<sha2::Sha512>(bmp_password, mac, data)?,
        other => {
            return Err(TokenError::Unsupported(format!(
                "PKCS#12 MAC digest {other}"
            )));
        }
    };
    Ok(bool::from(computed.as_slice().ct_eq(mac.digest.as_bytes())))
}

/// Decrypt `ciphertext` with a password-based encryption scheme.
fn decrypt_pbe(
    alg: &AlgorithmIdentifierOwned,
    password: &Password,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    match alg.oid {
        PBES2 => {
            let alg_der = alg.to_der()?;
            let scheme = pkcs5::EncryptionScheme::try_from(alg_der.as_slice())
                .map_err(|e| TokenError::Unsupported(format!("PBES2 parameters: {e}")))?;
            if let Some(params) = scheme.pbes2()
                && let pkcs5::pbes2::Kdf::Pbkdf2(p) = &params.kdf
            {
                check_iterations(p.iteration_count)?;
            }
            let mut buf = Zeroizing::new(ciphertext.to_vec());
            let len = match scheme.decrypt_in_place(&password.utf8[..], &mut buf[..]) {
                Ok(pt) => pt.len(),
                Err(pkcs5::Error::DecryptFailed) => return Err(TokenError::BadPassword),
                Err(e) => return Err(TokenError::Unsupported(format!("PBES2: {e}"))),
            };
            buf.truncate(len);
            Ok(buf)
        }
        PBE_SHA1_3DES => pkcs12_pbe::<des::TdesEde3>(alg, password, ciphertext, 24, None),
        PBE_SHA1_2DES => pkcs12_pbe::<des::TdesEde2>(alg, password, ciphertext, 16, None),
        PBE_SHA1_RC2_128 => pkcs12_pbe::<rc2::Rc2>(alg, password, ciphertext, 16, Some(128)),
        PBE_SHA1_RC2_40 => pkcs12_pbe::<rc2::Rc2>(alg, password, ciphertext, 5, Some(40)),
        PBE_SHA1_RC4_128 | PBE_SHA1_RC4_40 => Err(TokenError::Unsupported(format!(
            "RC4-based PKCS#12 PBE {}",
            alg.oid
        ))),
        other => Err(TokenError::Unsupported(format!(
            "encryption algorithm {other}"
        ))),
    }
}

/// A block cipher that the legacy PKCS#12 PBE schemes use.
trait PbeCipher: BlockCipherDecrypt + Sized {
    fn make(key: &[u8], rc2_effective_bits: Option<usize>) -> Result<Self, TokenError>;
}

impl PbeCipher for des::TdesEde3 {
    fn make(key: &[u8], _: Option<usize>) -> Result<Self, TokenError> {
        <Self as KeyInit>::new_from_slice(key)
            .map_err(|_| TokenError::Malformed("3DES key length".into()))
    }
}

impl PbeCipher for des::TdesEde2 {
    fn make(key: &[u8], _: Option<usize>) -> Result<Self, TokenError> {
        <Self as KeyInit>::new_from_slice(key)
            .map_err(|_| TokenError::Malformed("2-key 3DES key length".into()))
    }
}

impl PbeCipher for rc2::Rc2 {
    fn make(key: &[u8], bits: Option<usize>) -> Result<Self, TokenError> {
        Ok(rc2::Rc2::new_with_eff_key_len(
            key,
            bits.unwrap_or(8 * key.len()),
        ))
    }
}

/// PKCS#12 PBE (RFC 7292 Appendix C): key and IV from the PKCS#12 KDF with SHA-1,
/// CBC mode with PKCS#7 padding.
fn pkcs12_pbe<C>(
    alg: &AlgorithmIdentifierOwned,
    password: &Password,
    ciphertext: &[u8],
    key_len: usize,
    rc2_bits: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>, TokenError>
where
    C: PbeCipher,
    cbc::Decryptor<C>: BlockModeDecrypt + InnerIvInit<Inner = C>,
{
    let params_der = alg
        .parameters
        .as_ref()
        .ok_or_else(|| TokenError::Malformed("PKCS#12 PBE without parameters".into()))?
        .to_der()?;
    let params =
        Pkcs12PbeParams::from_ber(&params_der).map_err(|e| malformed("pkcs-12PbeParams", e))?;
    check_iterations(params.iterations)?;
    let salt = params.salt.as_bytes();
    let key = derive_key::<sha1::Sha1>(
        &password.bmp,
        salt,
        KdfPurpose::Key,
        params.iterations,
        key_len,
    );
    let iv = derive_key::<sha1::Sha1>(&password.bmp, salt, KdfPurpose::Iv, params.iterations, 8);
    let cipher = C::make(&key, rc2_bits)?;
    let dec = cbc::Decryptor::<C>::inner_iv_slice_init(cipher, &iv)
        .map_err(|_| TokenError::Malformed("IV length".into()))?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = dec
        .decrypt_padded::<Pkcs7>(&mut buf[..])
        .map_err(|_| TokenError::BadPassword)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

// ---------------------------------------------------------------------------
// ASN.1 types (decode only).

/// Read the TLV inside a `[number] EXPLICIT` wrapper given as a complete TLV.
fn explicit_inner(tlv: &[u8], number: u32) -> der::Result<&[u8]> {
    let mut r = SliceReader::new_with_encoding_rules(tlv, EncodingRules::Ber)?;
    let header = Header::decode(&mut r)?;
    let expected = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(number),
    };
    header.tag().assert_eq(expected)?;
    r.tlv_bytes()
}

/// Skip whatever fields remain in the current SEQUENCE (extensions, attributes).
fn skip_rest<'a, R: Reader<'a>>(r: &mut R) -> der::Result<()> {
    while !r.is_finished() {
        r.tlv_bytes()?;
    }
    Ok(())
}

/// ```text
/// PFX ::= SEQUENCE {
///     version     INTEGER {v3(3)}(v3,...),
///     authSafe    ContentInfo,
///     macData     MacData OPTIONAL
/// }
/// ```
struct Pfx {
    version: u8,
    auth_safe: ContentInfo,
    mac_data: Option<MacData>,
}

impl<'a> Decode<'a> for Pfx {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let version = r.decode()?;
            let auth_safe = r.decode()?;
            let mac_data = if r.is_finished() {
                None
            } else {
                Some(r.decode()?)
            };
            skip_rest(r)?;
            Ok(Pfx {
                version,
                auth_safe,
                mac_data,
            })
        })
    }
}

/// ```text
/// ContentInfo ::= SEQUENCE {
///     contentType ContentType,
///     content     [0] EXPLICIT ANY DEFINED BY contentType OPTIONAL }
/// ```
/// `content` keeps the TLV inside the `[0]` wrapper.
struct ContentInfo {
    content_type: ObjectIdentifier,
    content: Option<Vec<u8>>,
}

impl<'a> Decode<'a> for ContentInfo {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let content_type = r.decode()?;
            let content = if r.is_finished() {
                None
            } else {
                Some(explicit_inner(r.tlv_bytes()?, 0)?.to_vec())
            };
            skip_rest(r)?;
            Ok(ContentInfo {
                content_type,
                content,
            })
        })
    }
}

/// ```text
/// MacData ::= SEQUENCE {
///     mac         DigestInfo,
///     macSalt     OCTET STRING,
///     iterations  INTEGER DEFAULT 1 }
/// DigestInfo ::= SEQUENCE {
///     digestAlgorithm DigestAlgorithmIdentifier,
///     digest Digest }
/// ```
struct MacData {
    algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
    salt: OctetString,
    iterations: u32,
}

impl<'a> Decode<'a> for MacData {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let (algorithm, digest) = r.sequence(|r| {
                let a: AlgorithmIdentifierOwned = r.decode()?;
                let d: OctetString = r.decode()?;
                Ok::<_, der::Error>((a, d))
            })?;
            let salt = r.decode()?;
            let iterations = if r.is_finished() { 1 } else { r.decode()? };
            skip_rest(r)?;
            Ok(MacData {
                algorithm,
                digest,
                salt,
                iterations,
            })
        })
    }
}

/// ```text
/// EncryptedData ::= SEQUENCE {
///     version CMSVersion,
///     encryptedContentInfo EncryptedContentInfo,
///     unprotectedAttrs [1] IMPLICIT UnprotectedAttributes OPTIONAL }
/// EncryptedContentInfo ::= SEQUENCE {
///     contentType ContentType,
///     contentEncryptionAlgorithm ContentEncryptionAlgorithmIdentifier,
///     encryptedContent [0] IMPLICIT EncryptedContent OPTIONAL }
/// ```
struct EncryptedData {
    content_type: ObjectIdentifier,
    algorithm: AlgorithmIdentifierOwned,
    encrypted_content: Option<OctetString>,
}

impl<'a> Decode<'a> for EncryptedData {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let _version: u8 = r.decode()?;
            let eci = r.sequence(|r| {
                let content_type = r.decode()?;
                let algorithm = r.decode()?;
                let encrypted_content =
                    r.context_specific::<OctetString>(TagNumber(0), der::TagMode::Implicit)?;
                skip_rest(r)?;
                Ok::<_, der::Error>(EncryptedData {
                    content_type,
                    algorithm,
                    encrypted_content,
                })
            })?;
            skip_rest(r)?;
            Ok(eci)
        })
    }
}

/// ```text
/// SafeBag ::= SEQUENCE {
///     bagId          BAG-TYPE.&id ({PKCS12BagSet}),
///     bagValue       [0] EXPLICIT BAG-TYPE.&Type({PKCS12BagSet}{@bagId}),
///     bagAttributes  SET OF PKCS12Attribute OPTIONAL }
/// ```
/// `value` keeps the TLV inside the `[0]` wrapper; attributes are not needed (the
/// key's certificate is found by public key) and are skipped.
struct SafeBag {
    bag_id: ObjectIdentifier,
    value: Vec<u8>,
}

impl<'a> Decode<'a> for SafeBag {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let bag_id = r.decode()?;
            let value = explicit_inner(r.tlv_bytes()?, 0)?.to_vec();
            skip_rest(r)?;
            Ok(SafeBag { bag_id, value })
        })
    }
}

/// ```text
/// CertBag ::= SEQUENCE {
///     certId      BAG-TYPE.&id   ({CertTypes}),
///     certValue   [0] EXPLICIT BAG-TYPE.&Type ({CertTypes}{@certId}) }
/// x509Certificate BAG-TYPE ::= {OCTET STRING IDENTIFIED BY {certTypes 1}}
/// ```
struct CertBag {
    cert_id: ObjectIdentifier,
    value: OctetString,
}

impl<'a> Decode<'a> for CertBag {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let cert_id = r.decode()?;
            let tlv = explicit_inner(r.tlv_bytes()?, 0)?;
            // sdsiCertificate is an IA5String: keep an empty value, ignored later.
            let value = if cert_id == X509_CERTIFICATE {
                OctetString::from_ber(tlv)?
            } else {
                OctetString::new(Vec::new())?
            };
            skip_rest(r)?;
            Ok(CertBag { cert_id, value })
        })
    }
}

/// ```text
/// EncryptedPrivateKeyInfo ::= SEQUENCE {
///     encryptionAlgorithm  EncryptionAlgorithmIdentifier,
///     encryptedData        EncryptedData }
/// ```
/// (`pkcs8::EncryptedPrivateKeyInfo` only accepts PBES2; PKCS#12 files mostly use
/// the PKCS#12 PBE schemes here.)
struct EncryptedPrivateKeyInfo {
    algorithm: AlgorithmIdentifierOwned,
    data: OctetString,
}

impl<'a> Decode<'a> for EncryptedPrivateKeyInfo {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let algorithm = r.decode()?;
            let data = r.decode()?;
            skip_rest(r)?;
            Ok(EncryptedPrivateKeyInfo { algorithm, data })
        })
    }
}

/// ```text
/// pkcs-12PbeParams ::= SEQUENCE {
///     salt        OCTET STRING,
///     iterations  INTEGER }
/// ```
struct Pkcs12PbeParams {
    salt: OctetString,
    iterations: u32,
}

impl<'a> Decode<'a> for Pkcs12PbeParams {
    type Error = der::Error;
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let salt = r.decode()?;
            let iterations = r.decode()?;
            skip_rest(r)?;
            Ok(Pkcs12PbeParams { salt, iterations })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic PKCS#12 KDF vector (password "smeg", from OpenSSL's test suite,
    /// also in BouncyCastle's PKCS12Test).
    #[test]
    fn kdf_known_vector() {
        let salt = [0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F];
        let key = derive_key::<sha1::Sha1>(&bmp_password("smeg"), &salt, KdfPurpose::Key, 1, 24);
        assert_eq!(
            hex_of(&key),
            "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"
        );
        let iv = derive_key::<sha1::Sha1>(&bmp_password("smeg"), &salt, KdfPurpose::Iv, 1, 8);
        assert_eq!(hex_of(&iv), "79993dfe048d3b76");
    }

    #[test]
    fn bmp_password_encoding() {
        assert_eq!(&bmp_password("")[..], &[0, 0]);
        assert_eq!(&bmp_password("aé")[..], &[0, 0x61, 0, 0xe9, 0, 0]);
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
