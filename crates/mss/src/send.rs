//! The send journey: draft → canonical inner entity → SignedData and/or EnvelopedData →
//! S/MIME message with the RFC 5322 headers kept outside.

use x509_cert::Certificate;

use mss_algs::cipher::ContentCipher;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_algs::oid;
use mss_algs::policy::{Policy, StandardPolicy};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{SignatureAlgorithm, SignatureScheme};
use mss_cms::enveloped::{self, Recipient};
use mss_cms::mime::{self, Headers};
use mss_cms::signed::{self, SignParams, SignerSpec};

use crate::Error;
use crate::report::SecurityLevel;

static STANDARD: StandardPolicy = StandardPolicy;

/// How to sign.
#[derive(Debug, Clone, Copy)]
pub struct SignOptions<'a> {
    /// Opaque (`application/pkcs7-mime; smime-type=signed-data`) instead of the default
    /// detached `multipart/signed`, which stays readable without S/MIME.
    pub opaque: bool,
    /// Digest (default SHA-256).
    pub digest: DigestAlgorithm,
    /// RSA PKCS#1 v1.5 (default) or PSS, for RSA signers. Other signers use the scheme
    /// of their key: DSA, ECDSA (with `digest`) or Ed25519 (SHA-512, RFC 8419).
    pub scheme: SignatureScheme,
    /// The algorithm policy (default [`StandardPolicy`]).
    pub policy: &'a dyn Policy,
}

impl Default for SignOptions<'_> {
    fn default() -> Self {
        SignOptions {
            opaque: false,
            digest: DigestAlgorithm::Sha256,
            scheme: SignatureScheme::RsaPkcs1v15,
            policy: &STANDARD,
        }
    }
}

impl SignOptions<'_> {
    /// The signature algorithm for `signer`: its key type decides the scheme, except
    /// for RSA keys where [`SignOptions::scheme`] chooses v1.5 or PSS.
    pub(crate) fn algorithm_for(&self, signer: &dyn SigningKey) -> SignatureAlgorithm {
        let key_oid = signer
            .certificate()
            .tbs_certificate()
            .subject_public_key_info()
            .algorithm
            .oid;
        if key_oid == oid::ID_DSA {
            SignatureAlgorithm::dsa(self.digest)
        } else if key_oid == oid::ID_EC_PUBLIC_KEY {
            SignatureAlgorithm::ecdsa(self.digest)
        } else if key_oid == oid::ID_ED25519 {
            SignatureAlgorithm::ed25519()
        } else {
            self.algorithm()
        }
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.scheme {
            SignatureScheme::RsaPss => SignatureAlgorithm::rsa_pss(self.digest),
            _ => SignatureAlgorithm::rsa_pkcs1v15(self.digest),
        }
    }
}

/// How to encrypt.
#[derive(Debug, Clone, Copy)]
pub struct EncryptOptions<'a> {
    /// Content cipher (default AES-256-CBC; GCM ciphers produce AuthEnvelopedData).
    pub cipher: ContentCipher,
    /// Key transport for RSA recipients (default RSA PKCS#1 v1.5, the most widely read;
    /// OAEP on request). The key management is picked per recipient from its
    /// certificate's key: RSA → key transport with this, EC / X25519 / DH → key
    /// agreement with the usual algorithm for the key
    /// ([`mss_algs::key_agreement::KeyAgreementAlgorithm::default_for`]).
    pub key_transport: KeyTransport,
    /// Signing options for [`sign_and_encrypt`] (its policy is replaced by `policy`).
    pub sign: SignOptions<'a>,
    /// The algorithm policy (default [`StandardPolicy`]).
    pub policy: &'a dyn Policy,
}

impl Default for EncryptOptions<'_> {
    fn default() -> Self {
        EncryptOptions {
            cipher: ContentCipher::Aes256Cbc,
            key_transport: KeyTransport::RsaPkcs1v15,
            sign: SignOptions::default(),
            policy: &STANDARD,
        }
    }
}

/// Sign a draft (an RFC 5322 message). The headers stay outside, the content is signed.
///
/// With message-level options (header protection, receipt request): [`crate::sign_message`].
pub fn sign(draft: &[u8], signer: &dyn SigningKey, opts: &SignOptions) -> Result<Vec<u8>, Error> {
    crate::compose::sign_message(draft, signer, opts, &Default::default())
}

/// Sign `inner` with `extra` signed attributes (e.g. a receipt request).
pub(crate) fn sign_entity(
    outer: &Headers,
    inner: &[u8],
    signer: &dyn SigningKey,
    opts: &SignOptions,
    extra: &[x509_cert::attr::Attribute],
) -> Result<Vec<u8>, Error> {
    let alg = opts.algorithm_for(signer);
    let spec = SignerSpec {
        key: signer,
        algorithm: alg,
        identify_by_ski: false,
    };
    let params = SignParams {
        detached: !opts.opaque,
        signing_time: None,
    };
    let cms =
        signed::sign_with_attributes(inner, oid::ID_DATA, &[spec], &params, extra, opts.policy)?;
    Ok(if opts.opaque {
        mime::build_pkcs7_mime(outer, "signed-data", &cms)
    } else {
        mime::build_multipart_signed(outer, inner, &cms, alg.digest.micalg())
    })
}

pub(crate) fn recipients_with_sender<'c>(
    recipients: &'c [Certificate],
    sender: &'c Certificate,
) -> Vec<&'c Certificate> {
    let mut all: Vec<&Certificate> = Vec::with_capacity(recipients.len() + 1);
    for c in recipients.iter().chain(std::iter::once(sender)) {
        if !all.contains(&c) {
            all.push(c);
        }
    }
    all
}

/// EC, X25519 and DH recipient keys are reached by key agreement.
fn is_key_agreement_key(c: &Certificate) -> bool {
    let key_oid = c.tbs_certificate().subject_public_key_info().algorithm.oid;
    key_oid == oid::ID_EC_PUBLIC_KEY
        || key_oid == oid::ID_X25519
        || key_oid == oid::DH_PUBLIC_NUMBER
}

/// S/MIME recipient checks for a key-agreement key (RFC 8551 §4.4.2, RFC 5753 §7):
/// keyUsage (when present) must allow keyAgreement, extendedKeyUsage (when present)
/// must include emailProtection.
fn check_key_agreement_recipient(c: &Certificate) -> Result<(), Error> {
    use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
    let tbs = c.tbs_certificate();
    let refuse = |what: &str| {
        Error::InvalidRequest(format!(
            "certificate {} is not valid for encryption ({what})",
            tbs.subject()
        ))
    };
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) if !ku.0.contains(KeyUsages::KeyAgreement) => {
            return Err(refuse("keyUsage"));
        }
        Err(_) => return Err(refuse("unreadable keyUsage")),
        _ => {}
    }
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, eku)))
            if !eku.0.iter().any(|o| {
                *o == oid::ID_KP_EMAIL_PROTECTION || *o == oid::ANY_EXTENDED_KEY_USAGE
            }) =>
        {
            Err(refuse("extendedKeyUsage"))
        }
        Err(_) => Err(refuse("unreadable extendedKeyUsage")),
        _ => Ok(()),
    }
}

/// Refuse a certificate that is not fit to encrypt to (shared with the streaming path).
pub(crate) fn check_recipient(c: &Certificate) -> Result<(), Error> {
    if is_key_agreement_key(c) {
        check_key_agreement_recipient(c)
    } else {
        mss_pki::check_smime_recipient(c).map_err(|e| Error::InvalidRequest(e.to_string()))
    }
}

pub(crate) fn envelope(
    outer: &Headers,
    inner: &[u8],
    recipients: &[&Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    for c in recipients {
        if is_key_agreement_key(c) {
            check_key_agreement_recipient(c)?;
        } else {
            mss_pki::check_smime_recipient(c).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        }
    }
    let specs: Vec<Recipient> = recipients
        .iter()
        .map(|c| Recipient::for_certificate(c, opts.key_transport, false))
        .collect::<Result<_, _>>()?;
    let cms = enveloped::encrypt_to(inner, &specs, opts.cipher, opts.policy)?;
    let smime_type = if opts.cipher.is_aead() {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    Ok(mime::build_pkcs7_mime(outer, smime_type, &cms))
}

/// Encrypt a draft to `recipients` and to the `sender`'s own certificate (always: the
/// sent copy must stay readable by its author). The header fields are protected
/// (RFC 9788 `hp="cipher"`: the outer Subject reads `[...]`); see
/// [`crate::encrypt_message`] to choose.
pub fn encrypt(
    draft: &[u8],
    recipients: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    crate::compose::encrypt_message(draft, recipients, sender, opts, &Default::default())
}

/// Sign a draft, then encrypt the signed entity to `recipients` and to the sender
/// (`sender_encryption_cert`, or the signer's certificate when `None`). The header
/// fields are protected (RFC 9788 `hp="cipher"`); see [`crate::sign_and_encrypt_message`].
pub fn sign_and_encrypt(
    draft: &[u8],
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    crate::compose::sign_and_encrypt_message(
        draft,
        signer,
        recipients,
        sender_encryption_cert,
        opts,
        &Default::default(),
    )
}

/// Secure a reply or forward at `level` — by default the original's
/// ([`crate::reply_level`]), so that a confidential exchange never continues in clear.
/// [`SecurityLevel::Encrypted`] is raised to signed and encrypted: mss signs whenever it
/// encrypts. [`SecurityLevel::None`] returns the draft unchanged.
pub fn secure_reply(
    draft: &[u8],
    level: SecurityLevel,
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    match level {
        SecurityLevel::None => Ok(draft.to_vec()),
        SecurityLevel::Signed => sign(
            draft,
            signer,
            &SignOptions {
                policy: opts.policy,
                ..opts.sign
            },
        ),
        SecurityLevel::Encrypted | SecurityLevel::SignedEncrypted => {
            sign_and_encrypt(draft, signer, recipients, sender_encryption_cert, opts)
        }
    }
}
