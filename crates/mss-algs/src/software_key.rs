//! Software private keys of every kind mss handles, read from PKCS#8 DER/PEM: RSA,
//! DSA, EC (P-256, P-384), Ed25519, X25519 and X9.42 Diffie-Hellman. Identities
//! (`mss-token`) wrap one of these; it signs ([`SoftwarePrivateKey::sign_digest`],
//! [`SoftwarePrivateKey::sign_message`]) and agrees keys
//! ([`SoftwarePrivateKey::agree`]). Re-exported from [`crate::keys`].

use der::asn1::{OctetString, Uint};
use der::{Decode, Encode};
use pkcs8::DecodePrivateKey;
use signature::Signer;
use signature::hazmat::PrehashSigner;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::AlgError;
use crate::digest::DigestAlgorithm;
use crate::oid;
use crate::public_key::{
    DhDomainParameters, DhPublicKey, EcPublicKey, dh_modpow, ec_curve, key_bytes, raw_spki,
    uint_bits, x25519_public_key,
};
use crate::rsa::RsaPrivateKey;
use crate::signature::{SignatureAlgorithm, SignatureScheme};

/// The kind of a [`SoftwarePrivateKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA.
    Rsa,
    /// DSA.
    Dsa,
    /// ECDSA / ECDH on P-256.
    EcP256,
    /// ECDSA / ECDH on P-384.
    EcP384,
    /// Ed25519 (signing).
    Ed25519,
    /// X25519 (key agreement).
    X25519,
    /// X9.42 Diffie-Hellman (key agreement).
    Dh,
}

enum Inner {
    Rsa(RsaPrivateKey),
    Dsa(Box<dsa::SigningKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    X25519(x25519_dalek::StaticSecret),
    Dh {
        params: DhDomainParameters,
        x: Zeroizing<Vec<u8>>,
        y: Vec<u8>,
    },
}

/// A private key held in memory. Its `Debug` shows the kind only.
pub struct SoftwarePrivateKey {
    inner: Inner,
}

impl std::fmt::Debug for SoftwarePrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwarePrivateKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

fn bad(what: impl Into<String>) -> AlgError {
    AlgError::InvalidKey(what.into())
}

fn random_32() -> Result<Zeroizing<[u8; 32]>, AlgError> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut b[..]).map_err(|_| AlgError::Rng)?;
    Ok(b)
}

fn random_ec<S>(len: usize, f: impl Fn(&[u8]) -> Option<S>) -> Result<S, AlgError> {
    // A uniformly random string is a valid scalar except with negligible probability.
    for _ in 0..8 {
        let b = crate::cipher::random_bytes(len)?;
        if let Some(k) = f(&b) {
            return Ok(k);
        }
    }
    Err(AlgError::Rng)
}

impl SoftwarePrivateKey {
    /// Wrap an RSA key.
    pub fn from_rsa(key: RsaPrivateKey) -> Self {
        Self {
            inner: Inner::Rsa(key),
        }
    }

    /// The RSA key, if this is one (for [`crate::rsa`]'s functions).
    pub fn as_rsa(&self) -> Option<&RsaPrivateKey> {
        match &self.inner {
            Inner::Rsa(k) => Some(k),
            _ => None,
        }
    }

    /// Read a PKCS#8 `PrivateKeyInfo` (RFC 5208 / RFC 5958), unencrypted DER: RSA,
    /// DSA (`id-dsa` with Dss-Parms), EC (`id-ecPublicKey`, P-256 / P-384), Ed25519,
    /// X25519 (RFC 8410), DH (`dhpublicnumber` with X9.42 DomainParameters).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, AlgError> {
        let info =
            pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| bad(format!("PKCS#8: {e}")))?;
        let alg = info.algorithm.oid;
        let fail = |e: pkcs8::Error| bad(format!("PKCS#8 {alg}: {e}"));
        let inner = if alg == oid::RSA_ENCRYPTION || alg == oid::ID_RSASSA_PSS {
            Inner::Rsa(RsaPrivateKey::from_pkcs8_der(der).map_err(fail)?)
        } else if alg == oid::ID_DSA {
            Inner::Dsa(Box::new(
                dsa::SigningKey::from_pkcs8_der(der).map_err(fail)?,
            ))
        } else if alg == oid::ID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
            match curve {
                Some(c) if c == oid::SECP256R1 => {
                    Inner::P256(p256::SecretKey::from_pkcs8_der(der).map_err(fail)?)
                }
                Some(c) if c == oid::SECP384R1 => {
                    Inner::P384(p384::SecretKey::from_pkcs8_der(der).map_err(fail)?)
                }
                Some(c) => return Err(AlgError::Unsupported(format!("elliptic curve {c}"))),
                None => return Err(bad("EC private key without a named curve")),
            }
        } else if alg == oid::ID_ED25519 || alg == oid::ID_X25519 {
            // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING, inside privateKey.
            let inner = OctetString::from_der(info.private_key.as_bytes())
                .map_err(|e| bad(format!("CurvePrivateKey: {e}")))?;
            let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
                inner
                    .as_bytes()
                    .try_into()
                    .map_err(|_| bad("curve private key is 32 bytes"))?,
            );
            if alg == oid::ID_ED25519 {
                Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&bytes))
            } else {
                Inner::X25519(x25519_dalek::StaticSecret::from(*bytes))
            }
        } else if alg == oid::DH_PUBLIC_NUMBER {
            let params_any = info
                .algorithm
                .parameters
                .ok_or_else(|| bad("DH private key without domain parameters"))?;
            let params: DhDomainParameters = params_any
                .decode_as()
                .map_err(|e| bad(format!("DH DomainParameters: {e}")))?;
            let x = Uint::from_der(info.private_key.as_bytes())
                .map_err(|e| bad(format!("DH private value: {e}")))?;
            let x = Zeroizing::new(x.as_bytes().to_vec());
            Self::dh_from_parts(params, x)?.inner
        } else {
            return Err(AlgError::Unsupported(format!(
                "private key algorithm {alg}"
            )));
        };
        Ok(Self { inner })
    }

    /// Read a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, AlgError> {
        let (label, der) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|e| bad(format!("PEM: {e}")))?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(bad(format!("PEM label {label:?} (expected PRIVATE KEY)")));
        }
        Self::from_pkcs8_der(&der)
    }

    fn dh_from_parts(params: DhDomainParameters, x: Zeroizing<Vec<u8>>) -> Result<Self, AlgError> {
        let g = params.g.as_bytes().to_vec();
        let y = dh_modpow(&params, &g, &x)?;
        let skip = y.iter().take_while(|b| **b == 0).count();
        let y = y[skip..].to_vec();
        Ok(Self {
            inner: Inner::Dh { params, x, y },
        })
    }

    /// A fresh key of `kind` (EC P-256 / P-384, Ed25519, X25519; RSA, DSA and DH keys
    /// are generated elsewhere: [`crate::rsa::generate_private_key`],
    /// [`SoftwarePrivateKey::generate_dh`]).
    pub fn generate(kind: KeyKind) -> Result<Self, AlgError> {
        let inner = match kind {
            KeyKind::EcP256 => Inner::P256(random_ec(32, |b| p256::SecretKey::from_slice(b).ok())?),
            KeyKind::EcP384 => Inner::P384(random_ec(48, |b| p384::SecretKey::from_slice(b).ok())?),
            KeyKind::Ed25519 => {
                Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&*random_32()?))
            }
            KeyKind::X25519 => Inner::X25519(x25519_dalek::StaticSecret::from(*random_32()?)),
            k => {
                return Err(AlgError::Unsupported(format!(
                    "generating a {k:?} key here"
                )));
            }
        };
        Ok(Self { inner })
    }

    /// A fresh DH key for `params`: `x` uniformly random in `[2, q - 2]` (by rejection),
    /// `y = g^x mod p`.
    pub fn generate_dh(params: &DhDomainParameters) -> Result<Self, AlgError> {
        let q = params.q.as_bytes();
        let q_bits = uint_bits(q);
        if q_bits < 160 {
            return Err(bad("DH subgroup order below 160 bits"));
        }
        let len = q_bits.div_ceil(8);
        let top_mask = if q_bits.is_multiple_of(8) {
            0xff
        } else {
            (1u8 << (q_bits % 8)) - 1
        };
        let q_trim = &q[q.len() - len..];
        for _ in 0..128 {
            let mut x = crate::cipher::random_bytes(len)?;
            if let Some(first) = x.first_mut() {
                *first &= top_mask;
            }
            // 1 < x < q - 1 (compared as big-endian strings of equal length).
            let small = x[..len - 1].iter().all(|b| *b == 0) && x[len - 1] < 2;
            if small || x.as_slice() >= q_trim {
                continue;
            }
            return Self::dh_from_parts(params.clone(), x);
        }
        Err(AlgError::Rng)
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        match &self.inner {
            Inner::Rsa(_) => KeyKind::Rsa,
            Inner::Dsa(_) => KeyKind::Dsa,
            Inner::P256(_) => KeyKind::EcP256,
            Inner::P384(_) => KeyKind::EcP384,
            Inner::Ed25519(_) => KeyKind::Ed25519,
            Inner::X25519(_) => KeyKind::X25519,
            Inner::Dh { .. } => KeyKind::Dh,
        }
    }

    /// Key size for the policy (as [`crate::signature::public_key_bits`] gives it for
    /// the public key).
    pub fn key_bits(&self) -> usize {
        match &self.inner {
            Inner::Rsa(k) => crate::rsa::private_key_bits(k),
            Inner::Dsa(k) => k.verifying_key().components().p().bit_width() as usize,
            Inner::P256(_) | Inner::Ed25519(_) | Inner::X25519(_) => 256,
            Inner::P384(_) => 384,
            Inner::Dh { params, .. } => params.p_bits(),
        }
    }

    /// The public key, as a SubjectPublicKeyInfo (with its parameters / named curve).
    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, AlgError> {
        let from_doc = |doc: spki::Result<der::Document>| -> Result<_, AlgError> {
            let doc = doc.map_err(|e| bad(format!("public key encoding: {e}")))?;
            SubjectPublicKeyInfoOwned::from_der(doc.as_bytes())
                .map_err(|e| bad(format!("public key encoding: {e}")))
        };
        match &self.inner {
            Inner::Rsa(k) => from_doc(k.to_public_key().to_public_key_der()),
            Inner::Dsa(k) => from_doc(k.verifying_key().to_public_key_der()),
            Inner::P256(k) => EcPublicKey::P256(k.public_key()).to_spki(true),
            Inner::P384(k) => EcPublicKey::P384(k.public_key()).to_spki(true),
            Inner::Ed25519(k) => raw_spki(oid::ID_ED25519, k.verifying_key().as_bytes()),
            Inner::X25519(k) => {
                raw_spki(oid::ID_X25519, x25519_dalek::PublicKey::from(k).as_bytes())
            }
            Inner::Dh { params, y, .. } => DhPublicKey {
                params: params.clone(),
                y: y.clone(),
            }
            .to_spki(true),
        }
    }

    /// The DH domain parameters of a DH key.
    pub fn dh_params(&self) -> Option<&DhDomainParameters> {
        match &self.inner {
            Inner::Dh { params, .. } => Some(params),
            _ => None,
        }
    }

    /// Whether this key can produce `alg`.
    pub fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        match (&self.inner, alg.scheme) {
            (Inner::Rsa(_), SignatureScheme::RsaPkcs1v15 | SignatureScheme::RsaPss) => true,
            (Inner::Dsa(_), SignatureScheme::Dsa) => matches!(
                alg.digest,
                DigestAlgorithm::Sha1 | DigestAlgorithm::Sha224 | DigestAlgorithm::Sha256
            ),
            (Inner::P256(_) | Inner::P384(_), SignatureScheme::Ecdsa) => {
                !matches!(alg.digest, DigestAlgorithm::Md2 | DigestAlgorithm::Md5)
            }
            (Inner::Ed25519(_), SignatureScheme::Ed25519) => true,
            _ => false,
        }
    }

    /// Sign a digest computed with `alg.digest` (RSA, DSA, ECDSA; DSA and ECDSA
    /// signatures are DER `Dss-Sig-Value` / `ECDSA-Sig-Value`, with RFC 6979 nonces).
    /// Pure Ed25519 refuses: use [`SoftwarePrivateKey::sign_message`].
    pub fn sign_digest(
        &self,
        alg: &SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, AlgError> {
        if !self.supports(alg) {
            return Err(AlgError::Unsupported(format!(
                "{} with a {:?} key",
                alg.name(),
                self.kind()
            )));
        }
        if !alg.is_prehash() {
            return Err(AlgError::InvalidParameters {
                alg: alg.name(),
                reason: "pure EdDSA signs the message: use sign_message".to_owned(),
            });
        }
        if digest.len() != alg.digest.output_len() {
            return Err(AlgError::InvalidParameters {
                alg: alg.name(),
                reason: format!("digest is {} bytes", digest.len()),
            });
        }
        let op = |e: signature::Error| AlgError::KeyOperation(format!("{}: {e}", alg.name()));
        let der_err = |e: der::Error| AlgError::KeyOperation(format!("{}: {e}", alg.name()));
        match &self.inner {
            Inner::Rsa(k) => crate::rsa::sign_digest(k, alg, digest),
            Inner::Dsa(k) => {
                let sig = match alg.digest {
                    DigestAlgorithm::Sha1 => k.sign_prehashed_rfc6979::<sha1::Sha1>(digest),
                    DigestAlgorithm::Sha224 => k.sign_prehashed_rfc6979::<sha2::Sha224>(digest),
                    _ => k.sign_prehashed_rfc6979::<sha2::Sha256>(digest),
                }
                .map_err(op)?;
                sig.to_der().map_err(der_err)
            }
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k)
                    .sign_prehash(digest)
                    .map_err(op)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Inner::P384(k) => {
                let sig: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k)
                    .sign_prehash(digest)
                    .map_err(op)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            _ => Err(AlgError::Unsupported(alg.name())),
        }
    }

    /// Sign `message` (in CMS: the DER of the signed attributes): hashed with
    /// `alg.digest` then signed for the hash-then-sign schemes, signed as is by pure
    /// Ed25519 (RFC 8419).
    pub fn sign_message(
        &self,
        alg: &SignatureAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, AlgError> {
        if alg.is_prehash() {
            return self.sign_digest(alg, &alg.digest.digest(message));
        }
        match &self.inner {
            Inner::Ed25519(k) if alg.scheme == SignatureScheme::Ed25519 => {
                let sig: ed25519_dalek::Signature = k.sign(message);
                Ok(sig.to_bytes().to_vec())
            }
            _ => Err(AlgError::Unsupported(format!(
                "{} with a {:?} key",
                alg.name(),
                self.kind()
            ))),
        }
    }

    /// Raw key agreement with the other party's public key (an `OriginatorPublicKey`
    /// or a certificate's SPKI): the ECDH x-coordinate (RFC 5753), the X25519 output
    /// (RFC 7748; an all-zero output is refused), or the DH `ZZ` padded to the length of
    /// `p` (RFC 2631 §2.1.1). The other key's parameters, when present, must be ours.
    pub fn agree(&self, other: &SubjectPublicKeyInfoOwned) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        match &self.inner {
            Inner::P256(k) => {
                let pk = match EcPublicKey::from_sec1(
                    &oid::SECP256R1,
                    &peer_point(other, &oid::SECP256R1)?,
                )? {
                    EcPublicKey::P256(p) => p,
                    _ => return Err(bad("curve mismatch")),
                };
                let ss = k.diffie_hellman(&pk);
                Ok(Zeroizing::new(ss.raw_secret_bytes().to_vec()))
            }
            Inner::P384(k) => {
                let pk = match EcPublicKey::from_sec1(
                    &oid::SECP384R1,
                    &peer_point(other, &oid::SECP384R1)?,
                )? {
                    EcPublicKey::P384(p) => p,
                    _ => return Err(bad("curve mismatch")),
                };
                let ss = k.diffie_hellman(&pk);
                Ok(Zeroizing::new(ss.raw_secret_bytes().to_vec()))
            }
            Inner::X25519(k) => {
                let pk = x25519_public_key(other)?;
                let ss = k.diffie_hellman(&pk);
                if !ss.was_contributory() {
                    return Err(bad("X25519 shared secret is zero (low-order point)"));
                }
                Ok(Zeroizing::new(ss.as_bytes().to_vec()))
            }
            Inner::Dh { params, x, .. } => {
                if let Some(p) = &other.algorithm.parameters
                    && !p.is_null()
                    && DhDomainParameters::from_any(p)? != *params
                {
                    return Err(bad("DH domain parameters differ"));
                }
                let peer = DhPublicKey::from_spki(other, Some(params))?;
                dh_modpow(params, &peer.y, x)
            }
            _ => Err(AlgError::Unsupported(format!(
                "key agreement with a {:?} key",
                self.kind()
            ))),
        }
    }
}

/// The peer's EC point, checking its curve (when named) is `curve`.
fn peer_point(
    other: &SubjectPublicKeyInfoOwned,
    curve: &const_oid::ObjectIdentifier,
) -> Result<Vec<u8>, AlgError> {
    if let Some(c) = ec_curve(other)?
        && c != *curve
    {
        return Err(bad(format!("peer key on curve {c}, ours is {curve}")));
    }
    Ok(key_bytes(other)?.to_vec())
}
