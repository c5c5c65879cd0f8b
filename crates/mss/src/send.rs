//! The send journey: draft → canonical inner entity → SignedData and/or EnvelopedData →
//! S/MIME message with the RFC 5322 headers kept outside.

use x509_cert::Certificate;

use mss_algs::cipher::ContentCipher;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::SigningKey;
use mss_algs::policy::{Policy, StandardPolicy};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{SignatureAlgorithm, SignatureScheme};
use mss_cms::enveloped::{self, RecipientSpec};
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
    /// RSA PKCS#1 v1.5 (default) or PSS.
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
    /// Key transport for every recipient (default RSA PKCS#1 v1.5, the most widely read;
    /// OAEP on request).
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
pub fn sign(draft: &[u8], signer: &dyn SigningKey, opts: &SignOptions) -> Result<Vec<u8>, Error> {
    let (outer, inner) = mime::split_draft(draft)?;
    sign_entity(&outer, &inner, signer, opts)
}

fn sign_entity(
    outer: &Headers,
    inner: &[u8],
    signer: &dyn SigningKey,
    opts: &SignOptions,
) -> Result<Vec<u8>, Error> {
    let alg = opts.algorithm();
    let spec = SignerSpec {
        key: signer,
        algorithm: alg,
        identify_by_ski: false,
    };
    let params = SignParams {
        detached: !opts.opaque,
        signing_time: None,
    };
    let cms = signed::sign(inner, &[spec], &params, opts.policy)?;
    Ok(if opts.opaque {
        mime::build_pkcs7_mime(outer, "signed-data", &cms)
    } else {
        mime::build_multipart_signed(outer, inner, &cms, alg.digest.micalg())
    })
}

fn recipients_with_sender<'c>(
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

fn envelope(
    outer: &Headers,
    inner: &[u8],
    recipients: &[&Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    for c in recipients {
        mss_pki::check_smime_recipient(c).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    }
    let specs: Vec<RecipientSpec> = recipients
        .iter()
        .map(|c| RecipientSpec {
            certificate: c,
            key_transport: opts.key_transport,
            identify_by_ski: false,
        })
        .collect();
    let cms = enveloped::encrypt(inner, &specs, opts.cipher, opts.policy)?;
    let smime_type = if opts.cipher.is_aead() {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    Ok(mime::build_pkcs7_mime(outer, smime_type, &cms))
}

/// Encrypt a draft to `recipients` and to the `sender`'s own certificate (always: the
/// sent copy must stay readable by its author).
pub fn encrypt(
    draft: &[u8],
    recipients: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let (outer, inner) = mime::split_draft(draft)?;
    envelope(
        &outer,
        &inner,
        &recipients_with_sender(recipients, sender),
        opts,
    )
}

/// Sign a draft, then encrypt the signed entity to `recipients` and to the sender
/// (`sender_encryption_cert`, or the signer's certificate when `None`).
pub fn sign_and_encrypt(
    draft: &[u8],
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let (outer, inner) = mime::split_draft(draft)?;
    let sign_opts = SignOptions {
        policy: opts.policy,
        ..opts.sign
    };
    let signed_entity = sign_entity(&Headers::default(), &inner, signer, &sign_opts)?;
    let sender = sender_encryption_cert.unwrap_or_else(|| signer.certificate());
    envelope(
        &outer,
        &signed_entity,
        &recipients_with_sender(recipients, sender),
        opts,
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
