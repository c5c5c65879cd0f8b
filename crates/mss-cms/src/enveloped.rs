//! EnvelopedData (RFC 5652 §6), AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) and
//! EncryptedData (RFC 5652 §8), with key-transport recipients (RSA PKCS#1 v1.5 and
//! OAEP), key-agreement recipients (ESDH, ECDH P-256/P-384, X25519: RFC 3370, RFC 5753,
//! RFC 8418) and KEK recipients (a pre-shared key-encryption key, RFC 5652 §6.2.3).
//!
//! CBC ciphers produce EnvelopedData, AEAD ciphers AuthEnvelopedData. Decryption finds
//! the recipient info that names one of the caller's keys and asks that key (software
//! or card) to unwrap the content-encryption key. For RSA PKCS#1 v1.5 any unwrap
//! failure is replaced by a random key (implicit rejection, RFC 3218 §2.3.2), so the
//! only failure a sender can observe is the final, uniform "decryption failed".

use cms::authenveloped_data::AuthEnvelopedData;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KekIdentifier, KekRecipientInfo,
    KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo, KeyTransRecipientInfo,
    OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientIdentifier,
    RecipientInfo, RecipientInfos, RecipientKeyIdentifier,
};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode, Tagged};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use zeroize::Zeroizing;

use mss_algs::AlgError;
use mss_algs::cipher::{CipherParams, ContentCipher};
use mss_algs::key_agreement::{self, KeyAgreementAlgorithm};
use mss_algs::key_wrap::KeyWrapAlgorithm;
use mss_algs::keys::DecryptionKey;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage, Verdict};
use mss_algs::rsa::{KeyTransport, encrypt_key};
use mss_algs::signature::{public_key_bits, public_key_bits_with_params};
use spki::SubjectPublicKeyInfoOwned;

use crate::content::{ContentInfo, ContentType};
use crate::signed::{check_verdict, name_policy, subject_key_identifier};
use crate::{CmsError, ber};

/// One recipient to encrypt to.
#[derive(Debug, Clone)]
pub struct RecipientSpec<'a> {
    /// The recipient's encryption certificate (RSA).
    pub certificate: &'a Certificate,
    /// How the content-encryption key is wrapped for this recipient.
    pub key_transport: KeyTransport,
    /// Identify the recipient by subjectKeyIdentifier instead of issuerAndSerialNumber.
    pub identify_by_ski: bool,
}

/// A symmetric key-encryption key shared beforehand with a correspondent, named by its
/// key identifier (KEKRecipientInfo, RFC 5652 §6.2.3).
#[derive(Clone)]
pub struct KekKey {
    /// The `kekid.keyIdentifier`.
    pub id: Vec<u8>,
    /// The key-encryption key (16, 24 or 32 bytes for AES wrap, 24 for 3DES wrap).
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for KekKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KekKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A key-agreement recipient (EC P-256/P-384, X25519 or DH certificate).
#[derive(Debug, Clone)]
pub struct KeyAgreeSpec<'a> {
    /// The recipient's certificate (its key is the static key agreed with).
    pub certificate: &'a Certificate,
    /// The scheme and key wrap; `None` picks [`KeyAgreementAlgorithm::default_for`]
    /// (for ESDH with the key wrap that fits the content cipher).
    pub algorithm: Option<KeyAgreementAlgorithm>,
    /// Identify the recipient by subjectKeyIdentifier (rKeyId) instead of
    /// issuerAndSerialNumber.
    pub identify_by_ski: bool,
}

/// A KEK recipient: the content key is wrapped under a pre-shared key.
#[derive(Debug, Clone)]
pub struct KekSpec<'a> {
    /// The shared key and its identifier.
    pub key: &'a KekKey,
    /// The key-wrap algorithm (its KEK length must be the key's length).
    pub wrap: KeyWrapAlgorithm,
}

/// Any recipient [`encrypt_to`] can address.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Recipient<'a> {
    /// Key transport (RSA).
    KeyTransport(RecipientSpec<'a>),
    /// Key agreement (ESDH, ECDH, X25519).
    KeyAgreement(KeyAgreeSpec<'a>),
    /// A pre-shared key-encryption key.
    Kek(KekSpec<'a>),
}

impl<'a> Recipient<'a> {
    /// The key management the certificate's key calls for: key transport with
    /// `key_transport` for RSA keys, key agreement with the default algorithm for EC,
    /// X25519 and DH keys; other keys are [`CmsError::Unsupported`].
    pub fn for_certificate(
        certificate: &'a Certificate,
        key_transport: KeyTransport,
        identify_by_ski: bool,
    ) -> Result<Self, CmsError> {
        let key_oid = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .algorithm
            .oid;
        if key_oid == oid::RSA_ENCRYPTION || key_oid == oid::ID_RSASSA_PSS {
            Ok(Recipient::KeyTransport(RecipientSpec {
                certificate,
                key_transport,
                identify_by_ski,
            }))
        } else if key_oid == oid::ID_EC_PUBLIC_KEY
            || key_oid == oid::ID_X25519
            || key_oid == oid::DH_PUBLIC_NUMBER
        {
            Ok(Recipient::KeyAgreement(KeyAgreeSpec {
                certificate,
                algorithm: None,
                identify_by_ski,
            }))
        } else {
            Err(CmsError::Unsupported(format!(
                "no key management for a {key_oid} recipient key"
            )))
        }
    }
}

/// How the content-encryption key reached the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyManagement {
    /// Key transport (KeyTransRecipientInfo).
    KeyTransport(KeyTransport),
    /// Key agreement (KeyAgreeRecipientInfo).
    KeyAgreement(KeyAgreementAlgorithm),
    /// A pre-shared key-encryption key (KEKRecipientInfo).
    Kek(KeyWrapAlgorithm),
    /// The content key itself was given by the caller (EncryptedData).
    Direct,
}

impl KeyManagement {
    /// Name for reports: `rsa-pkcs1v15`, `ecdh-hkdf-sha256/aes128-wrap`,
    /// `kek/aes128-wrap`, `direct`.
    pub fn name(&self) -> String {
        match self {
            KeyManagement::KeyTransport(kt) => kt.name().to_string(),
            KeyManagement::KeyAgreement(ka) => ka.name(),
            KeyManagement::Kek(w) => format!("kek/{}", w.name()),
            KeyManagement::Direct => "direct".to_owned(),
        }
    }
}

fn enc<T: Encode>(v: &T) -> Result<Vec<u8>, CmsError> {
    v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))
}

/// Encrypt `content` (an id-data payload: a MIME entity) to key-transport `recipients`
/// and return the DER `ContentInfo` (EnvelopedData for CBC ciphers, AuthEnvelopedData
/// for GCM). See [`encrypt_to`] for key-agreement and KEK recipients.
pub fn encrypt(
    content: &[u8],
    recipients: &[RecipientSpec<'_>],
    cipher: ContentCipher,
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    let all: Vec<Recipient<'_>> = recipients
        .iter()
        .cloned()
        .map(Recipient::KeyTransport)
        .collect();
    encrypt_to(content, &all, cipher, policy)
}

fn rid_for(cert: &Certificate, by_ski: bool) -> Result<RecipientIdentifier, CmsError> {
    if by_ski {
        let ski = subject_key_identifier(cert).ok_or_else(|| {
            CmsError::Unsupported("the recipient's certificate has no subjectKeyIdentifier".into())
        })?;
        Ok(RecipientIdentifier::SubjectKeyIdentifier(
            SubjectKeyIdentifier(OctetString::new(ski)?),
        ))
    } else {
        Ok(RecipientIdentifier::IssuerAndSerialNumber(
            IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            },
        ))
    }
}

/// Encrypt `content` to any mix of recipients (key transport, key agreement, KEK) and
/// return the DER `ContentInfo` (EnvelopedData for CBC ciphers, AuthEnvelopedData for
/// GCM).
pub fn encrypt_to(
    content: &[u8],
    recipients: &[Recipient<'_>],
    cipher: ContentCipher,
    policy: &dyn Policy,
) -> Result<Vec<u8>, CmsError> {
    if recipients.is_empty() {
        return Err(CmsError::Unsupported("no recipient given".into()));
    }
    check_verdict(policy.content_cipher(cipher, Usage::Produce))
        .map_err(|e| name_policy(e, policy))?;
    let params = CipherParams::generate(cipher)?;
    let key = cipher.generate_key()?;
    let (recip_infos, all_v0) = recipient_infos(recipients, cipher, &key, policy)?;
    let alg = params.to_algorithm_identifier()?;
    if cipher.is_aead() {
        let (ct, tag) = params.encrypt_aead(&key, &[], content)?;
        let aed = AuthEnvelopedData {
            version: CmsVersion::V0,
            originator_info: None,
            recip_infos,
            auth_encrypted_content_info: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                content_enc_alg: alg,
                encrypted_content: Some(OctetString::new(ct)?),
            },
            auth_attrs: None,
            mac: OctetString::new(tag)?,
            unauth_attrs: None,
        };
        ContentInfo::encode(oid::ID_CT_AUTH_ENVELOPED_DATA, &enc(&aed)?)
    } else {
        let ct = params.encrypt_cbc(&key, content)?;
        let ed = EnvelopedData {
            version: if all_v0 {
                CmsVersion::V0
            } else {
                CmsVersion::V2
            },
            originator_info: None,
            recip_infos,
            encrypted_content: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                content_enc_alg: alg,
                encrypted_content: Some(OctetString::new(ct)?),
            },
            unprotected_attrs: None,
        };
        ContentInfo::encode(oid::ID_ENVELOPED_DATA, &enc(&ed)?)
    }
}

/// The recipient infos giving `key` (the content-encryption key of `cipher`) to every
/// recipient, each checked against `policy`; the flag is true when all of them are
/// version-0 key-transport infos (EnvelopedData version 0). Shared with the streaming
/// writer ([`crate::stream`]).
pub(crate) fn recipient_infos(
    recipients: &[Recipient<'_>],
    cipher: ContentCipher,
    key: &[u8],
    policy: &dyn Policy,
) -> Result<(RecipientInfos, bool), CmsError> {
    let mut infos = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        match recipient {
            Recipient::KeyTransport(r) => {
                let spki = r.certificate.tbs_certificate().subject_public_key_info();
                let bits = public_key_bits(spki)?;
                check_verdict(policy.key_transport(&r.key_transport, bits, Usage::Produce))
                    .map_err(|e| name_policy(e, policy))?;
                let rid = rid_for(r.certificate, r.identify_by_ski)?;
                let version = if r.identify_by_ski {
                    CmsVersion::V2
                } else {
                    CmsVersion::V0
                };
                let enc_key = encrypt_key(spki, &r.key_transport, key)?;
                infos.push(RecipientInfo::Ktri(KeyTransRecipientInfo {
                    version,
                    rid,
                    key_enc_alg: r.key_transport.to_algorithm_identifier()?,
                    enc_key: OctetString::new(enc_key)?,
                }));
            }
            Recipient::KeyAgreement(r) => {
                let spki = r.certificate.tbs_certificate().subject_public_key_info();
                let alg = match r.algorithm {
                    Some(a) => a,
                    None => {
                        let mut a = KeyAgreementAlgorithm::default_for(spki)?;
                        // ESDH's usual 3DES wrap only wraps 3DES keys: other content
                        // ciphers get their own wrap (RFC 3370 §4.1.1 leaves it open).
                        if a.scheme == key_agreement::KeyAgreementScheme::EsDh {
                            a.wrap = KeyWrapAlgorithm::for_content_cipher(cipher);
                        }
                        a
                    }
                };
                let bits = public_key_bits(spki)?;
                check_verdict(policy.key_agreement(&alg, bits, Usage::Produce))
                    .map_err(|e| name_policy(e, policy))?;
                let originated = key_agreement::originate(spki, None, &alg, None)?;
                let wrapped = alg.wrap(&originated.kek, key)?;
                let rid = match rid_for(r.certificate, r.identify_by_ski)? {
                    RecipientIdentifier::IssuerAndSerialNumber(ias) => {
                        KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(ias)
                    }
                    RecipientIdentifier::SubjectKeyIdentifier(ski) => {
                        KeyAgreeRecipientIdentifier::RKeyId(RecipientKeyIdentifier {
                            subject_key_identifier: ski,
                            date: None,
                            other: None,
                        })
                    }
                };
                infos.push(RecipientInfo::Kari(KeyAgreeRecipientInfo {
                    version: CmsVersion::V3,
                    originator: OriginatorIdentifierOrKey::OriginatorKey(OriginatorPublicKey {
                        algorithm: originated.originator_key.algorithm,
                        public_key: originated.originator_key.subject_public_key,
                    }),
                    ukm: None,
                    key_enc_alg: alg.to_algorithm_identifier()?,
                    recipient_enc_keys: vec![RecipientEncryptedKey {
                        rid,
                        enc_key: OctetString::new(wrapped)?,
                    }],
                }));
            }
            Recipient::Kek(r) => {
                check_verdict(policy.key_wrap(r.wrap, Usage::Produce))
                    .map_err(|e| name_policy(e, policy))?;
                let wrapped = r.wrap.wrap(&r.key.key, key)?;
                infos.push(RecipientInfo::Kekri(KekRecipientInfo {
                    version: CmsVersion::V4,
                    kek_id: KekIdentifier {
                        kek_identifier: OctetString::new(r.key.id.clone())?,
                        date: None,
                        other: None,
                    },
                    key_enc_alg: r.wrap.to_algorithm_identifier()?,
                    encrypted_key: OctetString::new(wrapped)?,
                }));
            }
        }
    }
    let all_v0 = infos
        .iter()
        .all(|i| matches!(i, RecipientInfo::Ktri(k) if k.version == CmsVersion::V0));
    let recip_infos =
        RecipientInfos::try_from(infos).map_err(|e| CmsError::Encoding(e.to_string()))?;
    Ok((recip_infos, all_v0))
}

/// The result of a successful decryption.
#[derive(Debug)]
pub struct Decrypted {
    /// The clear content (a MIME entity for S/MIME).
    pub content: Zeroizing<Vec<u8>>,
    /// The inner content type (id-data for S/MIME).
    pub content_type: ObjectIdentifier,
    /// The content cipher.
    pub cipher: ContentCipher,
    /// The key transport, when the content key reached us by key transport; for the
    /// other key managements this field is a placeholder (`RsaPkcs1v15`): read
    /// [`Decrypted::key_management`].
    pub key_transport: KeyTransport,
    /// How the content key reached us (key transport, key agreement, KEK, direct).
    pub key_management: KeyManagement,
    /// True for AuthEnvelopedData (integrity-protected encryption).
    pub authenticated: bool,
    /// Policy warnings (e.g. `weak-algorithm: des-ede3-cbc`).
    pub warnings: Vec<String>,
    /// How many recipients the message was addressed to.
    pub recipient_count: usize,
}

fn matches_rid(cert: &Certificate, rid: &RecipientIdentifier) -> bool {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(ias) => {
            cert.tbs_certificate().issuer() == &ias.issuer
                && cert.tbs_certificate().serial_number() == &ias.serial_number
        }
        RecipientIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_identifier(cert).as_deref() == Some(ski.0.as_bytes())
        }
    }
}

/// The additional authenticated data of an AuthEnvelopedData: the DER of its
/// `authAttrs` as received, with the `[1] IMPLICIT` tag replaced by `SET OF` (RFC 5083
/// §2.2), or `None` when the field is absent. Taken from the received bytes (not
/// re-encoded) so that what is authenticated is exactly what was sent.
pub(crate) fn auth_attrs_aad(aed_tlv: &[u8]) -> Result<Option<Vec<u8>>, CmsError> {
    let h = ber::read_header(aed_tlv)?;
    let body = aed_tlv
        .get(h.header_len..)
        .ok_or_else(|| CmsError::Malformed("AuthEnvelopedData: truncated".into()))?;
    // version, [0] originatorInfo, recipientInfos, authEncryptedContentInfo,
    // [1] authAttrs, mac, [2] unauthAttrs: [1] occurs only as authAttrs.
    for (fh, tlv) in ber::split_tlvs(body)? {
        if fh.class == 2 && fh.number == 1 && fh.constructed {
            let mut v = tlv.to_vec();
            v[0] = 0x31;
            return Ok(Some(v));
        }
    }
    Ok(None)
}

pub(crate) fn note(v: Verdict, warnings: &mut Vec<String>) -> Result<(), CmsError> {
    match v {
        Verdict::Allowed => Ok(()),
        Verdict::Weak(w) => {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
            Ok(())
        }
        Verdict::Refused(what) => Err(CmsError::Alg(AlgError::PolicyViolation {
            policy: String::new(),
            what,
        })),
    }
}

/// Decrypt an EnvelopedData or AuthEnvelopedData `ContentInfo` with one of `keys`.
pub fn decrypt(
    ci: &ContentInfo,
    keys: &[&dyn DecryptionKey],
    policy: &dyn Policy,
) -> Result<Decrypted, CmsError> {
    decrypt_with(ci, keys, &[], policy)
}

fn matches_kari_rid(cert: &Certificate, rid: &KeyAgreeRecipientIdentifier) -> bool {
    match rid {
        KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(ias) => {
            cert.tbs_certificate().issuer() == &ias.issuer
                && cert.tbs_certificate().serial_number() == &ias.serial_number
        }
        KeyAgreeRecipientIdentifier::RKeyId(rkid) => {
            subject_key_identifier(cert).as_deref()
                == Some(rkid.subject_key_identifier.0.as_bytes())
        }
    }
}

/// The originator's public key as a SubjectPublicKeyInfo. ECDH and ESDH originator keys
/// come without parameters (RFC 5753 §3.1.1, RFC 3370 §4.1.1): they are the
/// recipient's, taken from its certificate.
fn originator_spki(
    originator: &OriginatorIdentifierOrKey,
    recipient: &SubjectPublicKeyInfoOwned,
) -> Result<SubjectPublicKeyInfoOwned, CmsError> {
    let OriginatorIdentifierOrKey::OriginatorKey(opk) = originator else {
        return Err(CmsError::Unsupported(
            "static-static key agreement (originator named by certificate)".into(),
        ));
    };
    let mut algorithm = opk.algorithm.clone();
    let absent = algorithm
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == der::Tag::Null);
    if absent && (algorithm.oid == oid::ID_EC_PUBLIC_KEY || algorithm.oid == oid::DH_PUBLIC_NUMBER)
    {
        if algorithm.oid != recipient.algorithm.oid {
            return Err(CmsError::Malformed(
                "the originator key is not of the recipient's key type".into(),
            ));
        }
        algorithm.parameters = recipient.algorithm.parameters.clone();
    }
    Ok(SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: opk.public_key.clone(),
    })
}

/// Decrypt an EnvelopedData or AuthEnvelopedData `ContentInfo` with one of `keys`
/// (key transport, key agreement) or one of `kek_keys` (KEK recipients).
pub fn decrypt_with(
    ci: &ContentInfo,
    keys: &[&dyn DecryptionKey],
    kek_keys: &[KekKey],
    policy: &dyn Policy,
) -> Result<Decrypted, CmsError> {
    let (recip_infos, eci, mac, aad, authenticated) = match ci.kind() {
        ContentType::EnvelopedData => {
            let ed = EnvelopedData::from_der(&ci.content)?;
            // RFC 5652 §6.1: 0, 2, 3 or 4 depending on the recipient infos and the
            // originator info; anything else is not an EnvelopedData mss understands.
            if !matches!(
                ed.version,
                CmsVersion::V0 | CmsVersion::V2 | CmsVersion::V3 | CmsVersion::V4
            ) {
                return Err(CmsError::Malformed(format!(
                    "EnvelopedData version {:?}",
                    ed.version
                )));
            }
            (
                ed.recip_infos,
                ed.encrypted_content,
                None,
                Vec::new(),
                false,
            )
        }
        ContentType::AuthEnvelopedData => {
            let aed = AuthEnvelopedData::from_der(&ci.content)?;
            // RFC 5083 §2.1: "version is the syntax version number. It MUST be set to 0."
            if aed.version != CmsVersion::V0 {
                return Err(CmsError::Malformed(format!(
                    "AuthEnvelopedData version {:?} (must be 0)",
                    aed.version
                )));
            }
            let aad = auth_attrs_aad(&ci.content)?;
            if aed.auth_attrs.is_some() != aad.is_some() {
                return Err(CmsError::Malformed(
                    "AuthEnvelopedData: authAttrs could not be read".into(),
                ));
            }
            let aad = aad.unwrap_or_default();
            (
                aed.recip_infos,
                aed.auth_encrypted_content_info,
                Some(aed.mac),
                aad,
                true,
            )
        }
        _ => {
            return Err(CmsError::Unsupported(format!(
                "not an enveloped content type: {}",
                ci.content_type
            )));
        }
    };
    let mut warnings = Vec::new();
    let params = CipherParams::from_algorithm_identifier(&eci.content_enc_alg)?;
    if params.cipher.is_aead() != authenticated {
        return Err(CmsError::Malformed(
            "content cipher does not fit the content type".into(),
        ));
    }
    note(
        policy.content_cipher(params.cipher, Usage::Accept),
        &mut warnings,
    )
    .map_err(|e| name_policy(e, policy))?;
    let ciphertext = eci
        .encrypted_content
        .as_ref()
        .ok_or_else(|| CmsError::Unsupported("detached encrypted content".into()))?;
    let recipient_count = recip_infos.0.len();
    for ri in recip_infos.0.iter() {
        let Some((cek, management)) =
            recipient_key(ri, &params, keys, kek_keys, policy, &mut warnings)?
        else {
            continue;
        };
        let content = match &mac {
            Some(tag) => params.decrypt_aead(&cek, &aad, ciphertext.as_bytes(), tag.as_bytes())?,
            None => params.decrypt_cbc(&cek, ciphertext.as_bytes())?,
        };
        return Ok(Decrypted {
            content,
            content_type: eci.content_type,
            cipher: params.cipher,
            key_transport: match management {
                KeyManagement::KeyTransport(kt) => kt,
                _ => KeyTransport::RsaPkcs1v15,
            },
            key_management: management,
            authenticated,
            warnings,
            recipient_count,
        });
    }
    Err(CmsError::NotARecipient {
        recipients: recipient_count,
    })
}

pub(crate) type RecoveredKey = Option<(Zeroizing<Vec<u8>>, KeyManagement)>;

/// The content-encryption key from one recipient info, when it names one of the keys.
pub(crate) fn recipient_key(
    ri: &RecipientInfo,
    params: &CipherParams,
    keys: &[&dyn DecryptionKey],
    kek_keys: &[KekKey],
    policy: &dyn Policy,
    warnings: &mut Vec<String>,
) -> Result<RecoveredKey, CmsError> {
    match ri {
        RecipientInfo::Ktri(ktri) => {
            let Some(key) = keys
                .iter()
                .find(|k| matches_rid(k.certificate(), &ktri.rid))
            else {
                return Ok(None);
            };
            let kt = KeyTransport::from_algorithm_identifier(&ktri.key_enc_alg)?;
            let bits = public_key_bits(
                key.certificate()
                    .tbs_certificate()
                    .subject_public_key_info(),
            )?;
            note(policy.key_transport(&kt, bits, Usage::Accept), warnings)
                .map_err(|e| name_policy(e, policy))?;
            let expected = params.cipher.key_len();
            // Implicit rejection (RFC 3218 §2.3.2): for PKCS#1 v1.5 the fallback key is
            // drawn before the unwrap, whatever its outcome, and any failure (an error,
            // a key of the wrong length) silently becomes that random key; the content
            // decryption then fails like any wrong key would.
            let fallback = match kt {
                KeyTransport::RsaPkcs1v15 => Some(params.cipher.generate_key()?),
                _ => None,
            };
            let cek = match (
                fallback,
                key.decrypt_key(&kt, ktri.enc_key.as_bytes(), Some(expected)),
            ) {
                (_, Ok(k)) if k.len() == expected => k,
                (Some(random), _) => random,
                (_, Ok(_)) => return Err(AlgError::DecryptionFailed.into()),
                (_, Err(e @ AlgError::KeyOperation(_))) => return Err(e.into()),
                (_, Err(_)) => return Err(AlgError::DecryptionFailed.into()),
            };
            Ok(Some((cek, KeyManagement::KeyTransport(kt))))
        }
        RecipientInfo::Kari(kari) => {
            let Some((key, rek)) = kari.recipient_enc_keys.iter().find_map(|rek| {
                keys.iter()
                    .find(|k| matches_kari_rid(k.certificate(), &rek.rid))
                    .map(|k| (*k, rek))
            }) else {
                return Ok(None);
            };
            let alg = KeyAgreementAlgorithm::from_algorithm_identifier(&kari.key_enc_alg)?;
            let recipient_spki = key
                .certificate()
                .tbs_certificate()
                .subject_public_key_info();
            let originator = originator_spki(&kari.originator, recipient_spki)?;
            let bits = public_key_bits_with_params(recipient_spki, None)?;
            note(policy.key_agreement(&alg, bits, Usage::Accept), warnings)
                .map_err(|e| name_policy(e, policy))?;
            note(policy.key_wrap(alg.wrap, Usage::Accept), warnings)
                .map_err(|e| name_policy(e, policy))?;
            let ukm = kari.ukm.as_ref().map(|u| u.as_bytes());
            let kek = match key.agree_kek(&alg, &originator, ukm) {
                Ok(k) => k,
                Err(e @ (AlgError::KeyOperation(_) | AlgError::Unsupported(_))) => {
                    return Err(e.into());
                }
                Err(_) => return Err(AlgError::DecryptionFailed.into()),
            };
            let cek = alg
                .unwrap(&kek, rek.enc_key.as_bytes())
                .map_err(|_| CmsError::Alg(AlgError::DecryptionFailed))?;
            Ok(Some((cek, KeyManagement::KeyAgreement(alg))))
        }
        RecipientInfo::Kekri(kekri) => {
            let Some(kek) = kek_keys
                .iter()
                .find(|k| k.id.as_slice() == kekri.kek_id.kek_identifier.as_bytes())
            else {
                return Ok(None);
            };
            let wrap = KeyWrapAlgorithm::from_algorithm_identifier(&kekri.key_enc_alg)?;
            note(policy.key_wrap(wrap, Usage::Accept), warnings)
                .map_err(|e| name_policy(e, policy))?;
            let cek = wrap
                .unwrap(&kek.key, kekri.encrypted_key.as_bytes())
                .map_err(|_| CmsError::Alg(AlgError::DecryptionFailed))?;
            Ok(Some((cek, KeyManagement::Kek(wrap))))
        }
        _ => Ok(None),
    }
}

/// Decrypt an EncryptedData `ContentInfo` (RFC 5652 §8) with the content-encryption
/// key itself, agreed out of band.
pub fn decrypt_encrypted_data(
    ci: &ContentInfo,
    key: &[u8],
    policy: &dyn Policy,
) -> Result<Decrypted, CmsError> {
    if ci.content_type != oid::ID_ENCRYPTED_DATA {
        return Err(CmsError::Unsupported(format!(
            "not an EncryptedData: {}",
            ci.content_type
        )));
    }
    let ed = cms::encrypted_data::EncryptedData::from_der(&ci.content)?;
    let eci = ed.enc_content_info;
    let params = CipherParams::from_algorithm_identifier(&eci.content_enc_alg)?;
    if params.cipher.is_aead() {
        return Err(CmsError::Unsupported(
            "EncryptedData with an AEAD cipher".into(),
        ));
    }
    let mut warnings = Vec::new();
    note(
        policy.content_cipher(params.cipher, Usage::Accept),
        &mut warnings,
    )
    .map_err(|e| name_policy(e, policy))?;
    let ciphertext = eci
        .encrypted_content
        .as_ref()
        .ok_or_else(|| CmsError::Unsupported("detached encrypted content".into()))?;
    let content = params.decrypt_cbc(key, ciphertext.as_bytes())?;
    Ok(Decrypted {
        content,
        content_type: eci.content_type,
        cipher: params.cipher,
        key_transport: KeyTransport::RsaPkcs1v15,
        key_management: KeyManagement::Direct,
        authenticated: false,
        warnings,
        recipient_count: 0,
    })
}
