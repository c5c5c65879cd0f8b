//! Shared helpers for the CMS engine tests: CA-issued 2048-bit identities (generated
//! once per test binary), sign/verify and encrypt/decrypt shorthands, and a DER → BER
//! re-encoder.
#![allow(dead_code)]

use std::sync::OnceLock;

use mss_algs::cipher::ContentCipher;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::policy::{LegacyPolicy, Policy, StandardPolicy};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::SignatureAlgorithm;
use mss_cms::CmsError;
use mss_cms::ber;
use mss_cms::content::ContentInfo;
use mss_cms::enveloped::{self, Decrypted, RecipientSpec};
use mss_cms::signed::{self, ParsedSignedData, SignParams, SignerResult, SignerSpec};
use mss_token::SoftwareIdentity;
use mss_token::ca::{CertificateAuthority, PersonProfile};

/// A CA and three people it issued 2048-bit sign-and-encrypt identities to.
pub struct People {
    pub ca: CertificateAuthority,
    pub alice: SoftwareIdentity,
    pub bob: SoftwareIdentity,
    pub carol: SoftwareIdentity,
}

/// The test identities, generated once per test binary (2048-bit key generation is
/// the slow part of these tests; the three people are generated in parallel).
pub fn people() -> &'static People {
    static PEOPLE: OnceLock<People> = OnceLock::new();
    PEOPLE.get_or_init(|| {
        let ca = CertificateAuthority::new("mss-cms test CA", 2048).expect("CA");
        let (alice, bob, carol) = std::thread::scope(|s| {
            let issue = |cn: &'static str, mail: &'static str| {
                let ca = &ca;
                s.spawn(move || ca.issue(&PersonProfile::new(cn, mail)).expect("issue"))
            };
            let a = issue("Alice", "alice@example.test");
            let b = issue("Bob", "bob@example.test");
            let c = issue("Carol", "carol@example.test");
            (
                a.join().expect("alice"),
                b.join().expect("bob"),
                c.join().expect("carol"),
            )
        });
        People {
            ca,
            alice,
            bob,
            carol,
        }
    })
}

/// Every signature algorithm mss produces.
pub fn signature_algorithms() -> Vec<SignatureAlgorithm> {
    use mss_algs::digest::DigestAlgorithm::*;
    let mut v = Vec::new();
    for d in [Sha256, Sha384, Sha512] {
        v.push(SignatureAlgorithm::rsa_pkcs1v15(d));
        v.push(SignatureAlgorithm::rsa_pss(d));
    }
    v
}

/// The content ciphers mss produces for S/MIME (3DES only under the legacy policy).
/// Listed here rather than taken from `ContentCipher::ALL`, which also holds the
/// historic ciphers that are read but not written.
pub const CIPHERS: [ContentCipher; 6] = [
    ContentCipher::Aes128Cbc,
    ContentCipher::Aes192Cbc,
    ContentCipher::Aes256Cbc,
    ContentCipher::DesEde3Cbc,
    ContentCipher::Aes128Gcm,
    ContentCipher::Aes256Gcm,
];

/// Every key transport mss produces.
pub fn key_transports() -> [KeyTransport; 3] {
    use mss_algs::digest::DigestAlgorithm::*;
    [
        KeyTransport::RsaPkcs1v15,
        KeyTransport::RsaOaep { hash: Sha1 },
        KeyTransport::RsaOaep { hash: Sha256 },
    ]
}

/// The policy that may produce `cipher` (3DES needs the legacy one).
pub fn policy_for(cipher: ContentCipher) -> &'static dyn Policy {
    if cipher == ContentCipher::DesEde3Cbc {
        &LegacyPolicy
    } else {
        &StandardPolicy
    }
}

/// Sign `content` with one signer.
pub fn sign_one(
    content: &[u8],
    key: &dyn SigningKey,
    alg: SignatureAlgorithm,
    ski: bool,
    detached: bool,
) -> Vec<u8> {
    let spec = SignerSpec {
        key,
        algorithm: alg,
        identify_by_ski: ski,
    };
    signed::sign(
        content,
        &[spec],
        &SignParams {
            detached,
            signing_time: None,
        },
        &StandardPolicy,
    )
    .expect("sign")
}

/// Parse a SignedData ContentInfo (BER or DER).
pub fn parse_signed(input: &[u8]) -> Result<ParsedSignedData, CmsError> {
    let ci = ContentInfo::from_ber(input)?;
    signed::parse(&ci.content)
}

/// Parse and verify with the standard policy.
pub fn verify(input: &[u8], detached: Option<&[u8]>) -> Result<Vec<SignerResult>, CmsError> {
    let sd = parse_signed(input)?;
    Ok(signed::verify(&sd, detached, &[], &StandardPolicy))
}

/// Encrypt to `recipients` (certificate, transport, identify by SKI).
pub fn encrypt(
    content: &[u8],
    recipients: &[(&SoftwareIdentity, KeyTransport, bool)],
    cipher: ContentCipher,
) -> Vec<u8> {
    let specs: Vec<RecipientSpec<'_>> = recipients
        .iter()
        .map(|(id, kt, ski)| RecipientSpec {
            certificate: id.certificate(),
            key_transport: *kt,
            identify_by_ski: *ski,
        })
        .collect();
    enveloped::encrypt(content, &specs, cipher, policy_for(cipher)).expect("encrypt")
}

/// Parse and decrypt with one key, under the policy fit for `cipher`.
pub fn decrypt_with(
    input: &[u8],
    key: &dyn DecryptionKey,
    cipher: ContentCipher,
) -> Result<Decrypted, CmsError> {
    let ci = ContentInfo::from_ber(input)?;
    enveloped::decrypt(&ci, &[key], policy_for(cipher))
}

/// Where `needle` occurs in `hay` (first occurrence).
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Re-encode DER as BER the way streaming mail clients do: every constructed element
/// gets an indefinite length, every OCTET STRING longer than 3 bytes becomes a
/// constructed string of 3-byte segments, and so does EncryptedContentInfo's
/// `[0] IMPLICIT OCTET STRING` (recognised, as the normaliser does, by its position).
pub fn to_ber(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(der.len() * 2);
    write_ber(der, false, &mut out);
    out
}

fn write_segments(identifier: u8, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[identifier, 0x80]);
    for chunk in value.chunks(3) {
        out.extend_from_slice(&[0x04, chunk.len() as u8]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0, 0]);
}

fn write_ber(tlv: &[u8], implicit_octets: bool, out: &mut Vec<u8>) {
    let h = ber::read_header(tlv).expect("DER header");
    assert!(h.number < 31, "test helper handles low tag numbers only");
    let value = &tlv[h.header_len..];
    if implicit_octets && !h.constructed && value.len() > 3 {
        write_segments(tlv[0] | 0x20, value, out);
    } else if h.constructed {
        out.extend_from_slice(&[tlv[0], 0x80]);
        let children = ber::split_tlvs(value).expect("DER children");
        let is_sequence = h.class == 0 && h.number == 16;
        let oid_then_seq = children.len() >= 3
            && children[0].0.class == 0
            && children[0].0.number == 6
            && children[1].0.class == 0
            && children[1].0.number == 16;
        for (i, (ch, ctlv)) in children.iter().enumerate() {
            let implicit = is_sequence && oid_then_seq && i == 2 && ch.class == 2 && ch.number == 0;
            write_ber(ctlv, implicit, out);
        }
        out.extend_from_slice(&[0, 0]);
    } else if h.is_octet_string() && value.len() > 3 {
        write_segments(0x24, value, out);
    } else {
        out.extend_from_slice(tlv);
    }
}
