//! Choosing the content cipher from what the recipients announced.
//!
//! A signed S/MIME message carries, in its signed attributes, the sMIMECapabilities of
//! its sender (RFC 8551 §2.5.2): the content ciphers it can decrypt, preferred first.
//! [`crate::open`] reports them per valid signer ([`crate::SignatureReport::capabilities`]).
//!
//! # The rule
//!
//! The sender prefers authenticated encryption (AuthEnvelopedData with AES-GCM, RFC 5083
//! and RFC 5084), which defeats EFAIL-style ciphertext malleability, **when every
//! recipient is known to read it**: [`preferred_cipher`] returns AES-256-GCM when every
//! recipient's list announces it, else AES-128-GCM when every list announces that, else
//! the fallback (AES-256-CBC by default: what every S/MIME v3 client reads). A recipient
//! whose capabilities are unknown (no signed message received from them yet) keeps the
//! fallback for the whole message. The sender itself is a recipient of its own sent copy
//! and reads AES-GCM, so it is not listed.

use mss_algs::cipher::ContentCipher;
use mss_cms::attributes::SmimeCapability;
use mss_cms::signed::ParsedSigner;

use crate::report::{Report, SignatureStatus};

/// The content ciphers announced by a signer's signed sMIMECapabilities attribute, in
/// the signer's order of preference (unknown algorithms are skipped). Empty when the
/// attribute is absent or unreadable.
pub fn announced_ciphers(signer: &ParsedSigner) -> Vec<ContentCipher> {
    use der::Decode;
    let Ok(info) = &signer.info else {
        return Vec::new();
    };
    let Some(attrs) = &info.signed_attrs else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in attrs.iter() {
        if a.oid != mss_algs::oid::SMIME_CAPABILITIES {
            continue;
        }
        for v in a.values.iter() {
            let Ok(der) = der::Encode::to_der(v) else {
                continue;
            };
            let Ok(caps) = Vec::<SmimeCapability>::from_der(&der) else {
                continue;
            };
            for c in caps {
                if let Ok(cipher) = ContentCipher::from_oid(&c.capability_id)
                    && !out.contains(&cipher)
                {
                    out.push(cipher);
                }
            }
        }
    }
    out
}

/// The content cipher for a message to recipients whose announced ciphers are
/// `recipients` (one list per recipient; `None` when unknown): see the module rule.
pub fn preferred_cipher(
    recipients: &[Option<&[ContentCipher]>],
    fallback: ContentCipher,
) -> ContentCipher {
    for aead in [ContentCipher::Aes256Gcm, ContentCipher::Aes128Gcm] {
        if !recipients.is_empty()
            && recipients
                .iter()
                .all(|r| r.is_some_and(|list| list.contains(&aead)))
        {
            return aead;
        }
    }
    fallback
}

/// The content cipher for a reply to the signers of `original` (and to the sender's own
/// copy): the valid signers' announced ciphers decide, by [`preferred_cipher`]. A
/// message without a valid signer gives `fallback`. Replying to more people than the
/// original's signers, call [`preferred_cipher`] with every recipient's list.
pub fn reply_cipher(original: &Report, fallback: ContentCipher) -> ContentCipher {
    let lists: Vec<Vec<ContentCipher>> = original
        .signatures
        .iter()
        .filter(|s| s.status == SignatureStatus::Valid && !s.countersignature)
        .map(|s| {
            s.capabilities
                .iter()
                .filter_map(|n| ContentCipher::from_name(n).ok())
                .collect()
        })
        .collect();
    let refs: Vec<Option<&[ContentCipher]>> = lists.iter().map(|l| Some(l.as_slice())).collect();
    preferred_cipher(&refs, fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentCipher::*;

    #[test]
    fn aead_only_when_every_recipient_reads_it() {
        let gcm: &[ContentCipher] = &[Aes256Gcm, Aes128Gcm, Aes256Cbc];
        let gcm128: &[ContentCipher] = &[Aes128Gcm, Aes256Cbc];
        let cbc: &[ContentCipher] = &[Aes256Cbc, Aes128Cbc];
        assert_eq!(preferred_cipher(&[Some(gcm)], Aes256Cbc), Aes256Gcm);
        assert_eq!(
            preferred_cipher(&[Some(gcm), Some(gcm128)], Aes256Cbc),
            Aes128Gcm
        );
        assert_eq!(
            preferred_cipher(&[Some(gcm), Some(cbc)], Aes256Cbc),
            Aes256Cbc
        );
        assert_eq!(preferred_cipher(&[Some(gcm), None], Aes256Cbc), Aes256Cbc);
        assert_eq!(preferred_cipher(&[], Aes128Cbc), Aes128Cbc);
    }
}
