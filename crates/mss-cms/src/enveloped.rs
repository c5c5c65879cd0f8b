//! EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084)
//! with key-transport recipients (RSA PKCS#1 v1.5 and OAEP).
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
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use zeroize::Zeroizing;

use mss_algs::AlgError;
use mss_algs::cipher::{CipherParams, ContentCipher};
use mss_algs::keys::DecryptionKey;
use mss_algs::oid;
use mss_algs::policy::{Policy, Usage, Verdict};
use mss_algs::rsa::{KeyTransport, encrypt_key};
use mss_algs::signature::public_key_bits;

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

fn enc<T: Encode>(v: &T) -> Result<Vec<u8>, CmsError> {
    v.to_der().map_err(|e| CmsError::Encoding(e.to_string()))
}

/// Encrypt `content` (an id-data payload: a MIME entity) to `recipients` and return the
/// DER `ContentInfo` (EnvelopedData for CBC ciphers, AuthEnvelopedData for GCM).
pub fn encrypt(
    content: &[u8],
    recipients: &[RecipientSpec<'_>],
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
    let mut infos = Vec::with_capacity(recipients.len());
    for r in recipients {
        let spki = r.certificate.tbs_certificate().subject_public_key_info();
        let bits = public_key_bits(spki)?;
        check_verdict(policy.key_transport(&r.key_transport, bits, Usage::Produce))
            .map_err(|e| name_policy(e, policy))?;
        let (version, rid) = if r.identify_by_ski {
            let ski = subject_key_identifier(r.certificate).ok_or_else(|| {
                CmsError::Unsupported(
                    "the recipient's certificate has no subjectKeyIdentifier".into(),
                )
            })?;
            (
                CmsVersion::V2,
                RecipientIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(OctetString::new(
                    ski,
                )?)),
            )
        } else {
            (
                CmsVersion::V0,
                RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                    issuer: r.certificate.tbs_certificate().issuer().clone(),
                    serial_number: r.certificate.tbs_certificate().serial_number().clone(),
                }),
            )
        };
        let enc_key = encrypt_key(spki, &r.key_transport, &key)?;
        infos.push(RecipientInfo::Ktri(KeyTransRecipientInfo {
            version,
            rid,
            key_enc_alg: r.key_transport.to_algorithm_identifier()?,
            enc_key: OctetString::new(enc_key)?,
        }));
    }
    let all_v0 = infos
        .iter()
        .all(|i| matches!(i, RecipientInfo::Ktri(k) if k.version == CmsVersion::V0));
    let recip_infos =
        RecipientInfos::try_from(infos).map_err(|e| CmsError::Encoding(e.to_string()))?;
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

/// The result of a successful decryption.
#[derive(Debug)]
pub struct Decrypted {
    /// The clear content (a MIME entity for S/MIME).
    pub content: Zeroizing<Vec<u8>>,
    /// The inner content type (id-data for S/MIME).
    pub content_type: ObjectIdentifier,
    /// The content cipher.
    pub cipher: ContentCipher,
    /// How the content key reached us.
    pub key_transport: KeyTransport,
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
fn auth_attrs_aad(aed_tlv: &[u8]) -> Result<Option<Vec<u8>>, CmsError> {
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

fn note(v: Verdict, warnings: &mut Vec<String>) -> Result<(), CmsError> {
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
        let RecipientInfo::Ktri(ktri) = ri else {
            continue;
        };
        let Some(key) = keys
            .iter()
            .find(|k| matches_rid(k.certificate(), &ktri.rid))
        else {
            continue;
        };
        let kt = KeyTransport::from_algorithm_identifier(&ktri.key_enc_alg)?;
        let bits = public_key_bits(
            key.certificate()
                .tbs_certificate()
                .subject_public_key_info(),
        )?;
        note(
            policy.key_transport(&kt, bits, Usage::Accept),
            &mut warnings,
        )
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
        let content = match &mac {
            Some(tag) => params.decrypt_aead(&cek, &aad, ciphertext.as_bytes(), tag.as_bytes())?,
            None => params.decrypt_cbc(&cek, ciphertext.as_bytes())?,
        };
        return Ok(Decrypted {
            content,
            content_type: eci.content_type,
            cipher: params.cipher,
            key_transport: kt,
            authenticated,
            warnings,
            recipient_count,
        });
    }
    Err(CmsError::NotARecipient {
        recipients: recipient_count,
    })
}
