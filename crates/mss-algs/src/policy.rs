//! The algorithm policy: one object that decides what may be produced and what may be
//! accepted, passed down through every layer.
//!
//! Modelled on sequoia-openpgp's `Policy`: verdicts are data, the reference use is
//! explicit. [`StandardPolicy`] produces only modern algorithms and accepts historic
//! ones for reading with a warning (except MD5 signatures, refused). [`LegacyPolicy`]
//! is the explicit, dangerous choice needed to *produce* historic algorithms.

use std::fmt::Debug;

use crate::cipher::ContentCipher;
use crate::digest::DigestAlgorithm;
use crate::key_agreement::{KeyAgreementAlgorithm, KeyAgreementScheme};
use crate::key_wrap::KeyWrapAlgorithm;
use crate::rsa::KeyTransport;
use crate::signature::{SignatureAlgorithm, SignatureScheme};

/// Whether an algorithm is about to be produced (sending) or accepted (opening).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// Writing a new message.
    Produce,
    /// Reading or verifying a received message.
    Accept,
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Allowed,
    /// Accepted, but the report must carry this warning (e.g. `weak-algorithm: sha1`).
    Weak(String),
    /// Not allowed; the reason names the algorithm and the policy.
    Refused(String),
}

impl Verdict {
    /// True unless refused.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Verdict::Refused(_))
    }
}

/// An algorithm policy. Implementations must be cheap to consult and thread-safe.
pub trait Policy: Send + Sync + Debug {
    /// The policy's name, used in refusals ("refused by policy standard: …").
    fn name(&self) -> &str;
    /// May this digest be used (in a signature, or as a message digest)?
    fn digest(&self, alg: DigestAlgorithm, usage: Usage) -> Verdict;
    /// May this signature algorithm be used with a key of `key_bits`?
    fn signature(&self, alg: &SignatureAlgorithm, key_bits: usize, usage: Usage) -> Verdict;
    /// May this content cipher be used?
    fn content_cipher(&self, cipher: ContentCipher, usage: Usage) -> Verdict;
    /// May this key transport be used with a key of `key_bits`?
    fn key_transport(&self, kt: &KeyTransport, key_bits: usize, usage: Usage) -> Verdict;
    /// May this key wrap be used (KEKRecipientInfo, or inside key agreement)?
    ///
    /// The default applies the standard rules (historic wraps: weak when accepted,
    /// refused when produced).
    fn key_wrap(&self, alg: KeyWrapAlgorithm, usage: Usage) -> Verdict {
        STANDARD.key_wrap(alg, usage)
    }
    /// May this key agreement (with its key wrap) be used with a key of `key_bits`
    /// (DH prime or curve size)?
    ///
    /// The default applies the standard rules.
    fn key_agreement(&self, alg: &KeyAgreementAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        STANDARD.key_agreement(alg, key_bits, usage)
    }
}

/// The default policy: produce modern algorithms only (SHA-256+, AES, RSA ≥ 2048,
/// ECDSA P-256/P-384, Ed25519, ECDH / X25519 with AES wrap); accept historic ones (MD2,
/// MD5 and SHA-1 digests, DES, 3DES, RC2, RC4, DSA, DH, RSA 1024, 3DES / RC2 wrap) with
/// a `weak-algorithm` warning; refuse MD2 / MD5 signatures and RSA / DSA / DH keys
/// below 1024 bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardPolicy;

/// The explicit legacy policy: everything mss implements may be produced and accepted,
/// historic algorithms still flagged `weak-algorithm`. Use only to talk to old systems.
#[derive(Debug, Clone, Copy, Default)]
pub struct LegacyPolicy;

/// Smallest RSA modulus either policy will touch at all.
const RSA_MIN_BITS_EVER: usize = 1024;
/// Smallest RSA modulus considered modern.
const RSA_MIN_BITS_MODERN: usize = 2048;
/// Smallest EC key (curve size) either policy accepts.
const EC_MIN_BITS: usize = 256;

fn weak(what: &str) -> Verdict {
    Verdict::Weak(format!("weak-algorithm: {what}"))
}

/// Combine two verdicts: the worse wins; two warnings are joined.
fn worst(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Refused(r), _) | (_, Verdict::Refused(r)) => Verdict::Refused(r),
        (Verdict::Weak(x), Verdict::Weak(y)) => Verdict::Weak(format!("{x}; {y}")),
        (Verdict::Weak(x), Verdict::Allowed) | (Verdict::Allowed, Verdict::Weak(x)) => {
            Verdict::Weak(x)
        }
        (Verdict::Allowed, Verdict::Allowed) => Verdict::Allowed,
    }
}

fn verb(usage: Usage) -> &'static str {
    match usage {
        Usage::Produce => "producing",
        Usage::Accept => "accepting",
    }
}

/// The rules shared by both policies; `legacy` relaxes what may be produced (and MD5
/// signatures on input).
#[derive(Debug, Clone, Copy)]
struct Rules {
    name: &'static str,
    legacy: bool,
}

impl Rules {
    fn refuse(&self, usage: Usage, what: &str, why: &str) -> Verdict {
        let hint = if self.legacy || usage == Usage::Accept {
            String::new()
        } else {
            "; use --allow-legacy".to_owned()
        };
        Verdict::Refused(format!(
            "policy {} refuses {} {what} ({why}{hint})",
            self.name,
            verb(usage)
        ))
    }

    /// Historic algorithm: weak where allowed, refused when producing under standard.
    fn historic(&self, usage: Usage, what: &str) -> Verdict {
        if usage == Usage::Produce && !self.legacy {
            self.refuse(usage, what, "historic")
        } else {
            weak(what)
        }
    }

    fn digest(&self, alg: DigestAlgorithm, usage: Usage) -> Verdict {
        match alg {
            DigestAlgorithm::Md2 | DigestAlgorithm::Md5 | DigestAlgorithm::Sha1 => {
                self.historic(usage, alg.name())
            }
            _ => Verdict::Allowed,
        }
    }

    /// DSA / DH: the prime must be ≥ 1024 bits; the algorithm itself is historic.
    fn finite_field(&self, what: &str, key_bits: usize, usage: Usage) -> Verdict {
        if key_bits < RSA_MIN_BITS_EVER {
            Verdict::Refused(format!(
                "policy {} refuses {} a {what} key of {key_bits} bits (minimum {RSA_MIN_BITS_EVER})",
                self.name,
                verb(usage)
            ))
        } else {
            self.historic(usage, what)
        }
    }

    /// EC keys: P-256 and larger.
    fn ec_size(&self, key_bits: usize, usage: Usage) -> Verdict {
        if key_bits < EC_MIN_BITS {
            Verdict::Refused(format!(
                "policy {} refuses {} an EC key of {key_bits} bits (minimum {EC_MIN_BITS})",
                self.name,
                verb(usage)
            ))
        } else {
            Verdict::Allowed
        }
    }

    fn key_wrap(&self, alg: KeyWrapAlgorithm, usage: Usage) -> Verdict {
        if alg.is_historic() {
            self.historic(usage, alg.name())
        } else {
            Verdict::Allowed
        }
    }

    fn key_agreement(&self, alg: &KeyAgreementAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        let scheme = match alg.scheme {
            KeyAgreementScheme::EsDh => self.finite_field("esdh", key_bits, usage),
            KeyAgreementScheme::EcdhX963 {
                kdf: DigestAlgorithm::Sha1,
            } => worst(
                self.historic(usage, "ecdh-x963-sha1"),
                self.ec_size(key_bits, usage),
            ),
            _ => self.ec_size(key_bits, usage),
        };
        worst(scheme, self.key_wrap(alg.wrap, usage))
    }

    fn key_size(&self, key_bits: usize, usage: Usage) -> Verdict {
        if key_bits < RSA_MIN_BITS_EVER {
            Verdict::Refused(format!(
                "policy {} refuses {} an RSA key of {key_bits} bits (minimum {RSA_MIN_BITS_EVER})",
                self.name,
                verb(usage)
            ))
        } else if key_bits < RSA_MIN_BITS_MODERN {
            self.historic(usage, &format!("rsa-{key_bits}"))
        } else {
            Verdict::Allowed
        }
    }

    fn signature(&self, alg: &SignatureAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        let md = matches!(alg.digest, DigestAlgorithm::Md5 | DigestAlgorithm::Md2);
        // Pure Ed25519 does not sign with its `digest` (only the messageDigest attribute
        // uses it, and that is judged by `digest()`).
        let digest = if !alg.is_prehash() {
            Verdict::Allowed
        } else if md && usage == Usage::Accept && !self.legacy {
            self.refuse(usage, &alg.name(), "MD2 and MD5 signatures are forgeable")
        } else {
            match alg.digest {
                DigestAlgorithm::Md2 | DigestAlgorithm::Md5 | DigestAlgorithm::Sha1 => {
                    self.historic(usage, &alg.name())
                }
                _ => Verdict::Allowed,
            }
        };
        let key = match alg.scheme {
            SignatureScheme::Dsa => self.finite_field("dsa", key_bits, usage),
            SignatureScheme::Ecdsa => self.ec_size(key_bits, usage),
            SignatureScheme::Ed25519 => Verdict::Allowed,
            _ => self.key_size(key_bits, usage),
        };
        worst(digest, key)
    }

    fn content_cipher(&self, cipher: ContentCipher, usage: Usage) -> Verdict {
        if cipher.is_historic() {
            self.historic(usage, cipher.name())
        } else {
            Verdict::Allowed
        }
    }

    fn key_transport(&self, kt: &KeyTransport, key_bits: usize, usage: Usage) -> Verdict {
        let alg = match kt {
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Md5 | DigestAlgorithm::Md2,
            } => self.refuse(usage, &kt.name(), "not implemented"),
            _ => Verdict::Allowed,
        };
        worst(alg, self.key_size(key_bits, usage))
    }
}

const STANDARD: Rules = Rules {
    name: "standard",
    legacy: false,
};
const LEGACY: Rules = Rules {
    name: "legacy",
    legacy: true,
};

impl Policy for StandardPolicy {
    fn name(&self) -> &str {
        STANDARD.name
    }
    fn digest(&self, alg: DigestAlgorithm, usage: Usage) -> Verdict {
        STANDARD.digest(alg, usage)
    }
    fn signature(&self, alg: &SignatureAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        STANDARD.signature(alg, key_bits, usage)
    }
    fn content_cipher(&self, cipher: ContentCipher, usage: Usage) -> Verdict {
        STANDARD.content_cipher(cipher, usage)
    }
    fn key_transport(&self, kt: &KeyTransport, key_bits: usize, usage: Usage) -> Verdict {
        STANDARD.key_transport(kt, key_bits, usage)
    }
    fn key_wrap(&self, alg: KeyWrapAlgorithm, usage: Usage) -> Verdict {
        STANDARD.key_wrap(alg, usage)
    }
    fn key_agreement(&self, alg: &KeyAgreementAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        STANDARD.key_agreement(alg, key_bits, usage)
    }
}

impl Policy for LegacyPolicy {
    fn name(&self) -> &str {
        LEGACY.name
    }
    fn digest(&self, alg: DigestAlgorithm, usage: Usage) -> Verdict {
        LEGACY.digest(alg, usage)
    }
    fn signature(&self, alg: &SignatureAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        LEGACY.signature(alg, key_bits, usage)
    }
    fn content_cipher(&self, cipher: ContentCipher, usage: Usage) -> Verdict {
        LEGACY.content_cipher(cipher, usage)
    }
    fn key_transport(&self, kt: &KeyTransport, key_bits: usize, usage: Usage) -> Verdict {
        LEGACY.key_transport(kt, key_bits, usage)
    }
    fn key_wrap(&self, alg: KeyWrapAlgorithm, usage: Usage) -> Verdict {
        LEGACY.key_wrap(alg, usage)
    }
    fn key_agreement(&self, alg: &KeyAgreementAlgorithm, key_bits: usize, usage: Usage) -> Verdict {
        LEGACY.key_agreement(alg, key_bits, usage)
    }
}

impl Verdict {
    /// Turn a refusal into [`crate::AlgError::PolicyViolation`] (for `policy`), keeping
    /// `Allowed` and `Weak` verdicts as `Ok`.
    pub fn into_result(self, policy: &dyn Policy) -> Result<Verdict, crate::AlgError> {
        match self {
            Verdict::Refused(what) => Err(crate::AlgError::PolicyViolation {
                policy: policy.name().to_owned(),
                what,
            }),
            v => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DigestAlgorithm::*;
    use Usage::*;

    fn refused(v: &Verdict) -> bool {
        matches!(v, Verdict::Refused(_))
    }
    fn is_weak(v: &Verdict) -> bool {
        matches!(v, Verdict::Weak(_))
    }

    #[test]
    fn names() {
        assert_eq!(StandardPolicy.name(), "standard");
        assert_eq!(LegacyPolicy.name(), "legacy");
    }

    #[test]
    fn digest_table() {
        let s = StandardPolicy;
        let l = LegacyPolicy;
        for d in [Sha224, Sha256, Sha384, Sha512] {
            for u in [Produce, Accept] {
                assert_eq!(s.digest(d, u), Verdict::Allowed);
                assert_eq!(l.digest(d, u), Verdict::Allowed);
            }
        }
        assert!(refused(&s.digest(Sha1, Produce)));
        assert!(refused(&s.digest(Md5, Produce)));
        assert_eq!(
            s.digest(Sha1, Accept),
            Verdict::Weak("weak-algorithm: sha1".into())
        );
        assert_eq!(
            s.digest(Md5, Accept),
            Verdict::Weak("weak-algorithm: md5".into())
        );
        assert!(is_weak(&l.digest(Sha1, Produce)));
        assert!(is_weak(&l.digest(Md5, Produce)));
        assert!(is_weak(&l.digest(Sha1, Accept)));
    }

    #[test]
    fn cipher_table() {
        let s = StandardPolicy;
        let l = LegacyPolicy;
        for &c in ContentCipher::ALL {
            if c.is_historic() {
                assert!(refused(&s.content_cipher(c, Produce)), "{c:?}");
                assert_eq!(
                    s.content_cipher(c, Accept),
                    Verdict::Weak(format!("weak-algorithm: {}", c.name()))
                );
                assert!(is_weak(&l.content_cipher(c, Produce)), "{c:?}");
                assert!(is_weak(&l.content_cipher(c, Accept)), "{c:?}");
                continue;
            }
            for u in [Produce, Accept] {
                assert_eq!(s.content_cipher(c, u), Verdict::Allowed, "{c:?}");
                assert_eq!(l.content_cipher(c, u), Verdict::Allowed, "{c:?}");
            }
        }
        assert_eq!(
            s.content_cipher(ContentCipher::DesEde3Cbc, Produce),
            Verdict::Refused(
                "policy standard refuses producing des-ede3-cbc (historic; use --allow-legacy)"
                    .into()
            )
        );
        assert_eq!(
            s.content_cipher(ContentCipher::DesEde3Cbc, Accept),
            Verdict::Weak("weak-algorithm: des-ede3-cbc".into())
        );
        assert!(is_weak(
            &l.content_cipher(ContentCipher::DesEde3Cbc, Produce)
        ));
        assert!(is_weak(
            &l.content_cipher(ContentCipher::DesEde3Cbc, Accept)
        ));
    }

    #[test]
    fn signature_table() {
        let s = StandardPolicy;
        let l = LegacyPolicy;
        let v15 = SignatureAlgorithm::rsa_pkcs1v15;
        let pss = SignatureAlgorithm::rsa_pss;
        for d in [Sha224, Sha256, Sha384, Sha512] {
            for a in [v15(d), pss(d)] {
                assert_eq!(s.signature(&a, 2048, Produce), Verdict::Allowed);
                assert_eq!(s.signature(&a, 4096, Accept), Verdict::Allowed);
                assert!(refused(&s.signature(&a, 1024, Produce)));
                assert!(is_weak(&s.signature(&a, 1024, Accept)));
                assert!(refused(&s.signature(&a, 1023, Accept)));
                assert!(refused(&s.signature(&a, 512, Accept)));
                assert!(is_weak(&l.signature(&a, 1024, Produce)));
                assert!(refused(&l.signature(&a, 512, Produce)));
            }
        }
        // SHA-1
        assert!(refused(&s.signature(&v15(Sha1), 2048, Produce)));
        assert!(is_weak(&s.signature(&v15(Sha1), 2048, Accept)));
        assert!(is_weak(&l.signature(&v15(Sha1), 2048, Produce)));
        // MD5: refused on input by standard, weak under legacy.
        let md5 = v15(Md5);
        assert!(refused(&s.signature(&md5, 2048, Accept)));
        assert!(refused(&s.signature(&md5, 2048, Produce)));
        assert!(is_weak(&l.signature(&md5, 2048, Accept)));
        assert!(is_weak(&l.signature(&md5, 2048, Produce)));
        // Both weak: both warnings reported.
        match s.signature(&v15(Sha1), 1024, Accept) {
            Verdict::Weak(w) => {
                assert!(w.contains("sha1"), "{w}");
                assert!(w.contains("1024"), "{w}");
            }
            v => panic!("expected weak, got {v:?}"),
        }
        if let Verdict::Refused(r) = s.signature(&md5, 2048, Accept) {
            assert!(r.contains("standard") && r.contains("md5"), "{r}");
        }
    }

    #[test]
    fn historic_digest_md2() {
        let s = StandardPolicy;
        assert!(refused(&s.digest(Md2, Produce)));
        assert_eq!(
            s.digest(Md2, Accept),
            Verdict::Weak("weak-algorithm: md2".into())
        );
        assert!(is_weak(&LegacyPolicy.digest(Md2, Produce)));
        // MD2 signatures: refused on input unless legacy, like MD5.
        let md2 = SignatureAlgorithm::rsa_pkcs1v15(Md2);
        assert!(refused(&s.signature(&md2, 2048, Accept)));
        assert!(is_weak(&LegacyPolicy.signature(&md2, 2048, Accept)));
    }

    #[test]
    fn dsa_ec_ed25519_signatures() {
        let s = StandardPolicy;
        let l = LegacyPolicy;
        let dsa1 = SignatureAlgorithm::dsa(Sha1);
        let dsa256 = SignatureAlgorithm::dsa(Sha256);
        // DSA is historic whatever the digest: weak on input, refused for production.
        match s.signature(&dsa256, 2048, Accept) {
            Verdict::Weak(w) => assert!(w.contains("dsa"), "{w}"),
            v => panic!("expected weak, got {v:?}"),
        }
        match s.signature(&dsa1, 1024, Accept) {
            Verdict::Weak(w) => assert!(w.contains("dsa") && w.contains("sha1"), "{w}"),
            v => panic!("expected weak, got {v:?}"),
        }
        assert!(refused(&s.signature(&dsa256, 2048, Produce)));
        assert!(is_weak(&l.signature(&dsa256, 2048, Produce)));
        assert!(refused(&s.signature(&dsa1, 512, Accept)));
        assert!(refused(&l.signature(&dsa1, 512, Produce)));
        // ECDSA: allowed at 256 and 384 bits, whatever the RSA thresholds say.
        for d in [Sha256, Sha384, Sha512] {
            let e = SignatureAlgorithm::ecdsa(d);
            for u in [Produce, Accept] {
                assert_eq!(s.signature(&e, 256, u), Verdict::Allowed);
                assert_eq!(s.signature(&e, 384, u), Verdict::Allowed);
            }
            assert!(refused(&s.signature(&e, 192, Accept)));
        }
        assert!(is_weak(&s.signature(
            &SignatureAlgorithm::ecdsa(Sha1),
            256,
            Accept
        )));
        assert!(refused(&s.signature(
            &SignatureAlgorithm::ecdsa(Sha1),
            256,
            Produce
        )));
        // Ed25519: allowed both ways.
        let ed = SignatureAlgorithm::ed25519();
        assert_eq!(s.signature(&ed, 256, Produce), Verdict::Allowed);
        assert_eq!(s.signature(&ed, 256, Accept), Verdict::Allowed);
    }

    #[test]
    fn key_wrap_and_agreement_table() {
        use crate::key_agreement::KeyAgreementScheme as S;
        let s = StandardPolicy;
        let l = LegacyPolicy;
        for w in [
            KeyWrapAlgorithm::Aes128,
            KeyWrapAlgorithm::Aes192,
            KeyWrapAlgorithm::Aes256,
        ] {
            assert_eq!(s.key_wrap(w, Produce), Verdict::Allowed);
        }
        for w in [
            KeyWrapAlgorithm::TripleDes,
            KeyWrapAlgorithm::Rc2 {
                effective_bits: 128,
            },
        ] {
            assert!(refused(&s.key_wrap(w, Produce)));
            assert!(is_weak(&s.key_wrap(w, Accept)));
            assert!(is_weak(&l.key_wrap(w, Produce)));
        }
        let ecdh = KeyAgreementAlgorithm {
            scheme: S::EcdhX963 { kdf: Sha256 },
            wrap: KeyWrapAlgorithm::Aes128,
        };
        assert_eq!(s.key_agreement(&ecdh, 256, Produce), Verdict::Allowed);
        assert!(refused(&s.key_agreement(&ecdh, 160, Accept)));
        let x25519 = KeyAgreementAlgorithm {
            scheme: S::EcdhHkdf { kdf: Sha256 },
            wrap: KeyWrapAlgorithm::Aes256,
        };
        assert_eq!(s.key_agreement(&x25519, 256, Produce), Verdict::Allowed);
        let esdh = KeyAgreementAlgorithm {
            scheme: S::EsDh,
            wrap: KeyWrapAlgorithm::TripleDes,
        };
        assert!(refused(&s.key_agreement(&esdh, 2048, Produce)));
        match s.key_agreement(&esdh, 2048, Accept) {
            Verdict::Weak(w) => assert!(w.contains("esdh") && w.contains("3des-wrap"), "{w}"),
            v => panic!("expected weak, got {v:?}"),
        }
        assert!(is_weak(&l.key_agreement(&esdh, 1024, Produce)));
        assert!(refused(&l.key_agreement(&esdh, 512, Accept)));
    }

    #[test]
    fn key_transport_table() {
        let s = StandardPolicy;
        let l = LegacyPolicy;
        for kt in [
            KeyTransport::RsaPkcs1v15,
            KeyTransport::RsaOaep { hash: Sha1 },
            KeyTransport::RsaOaep { hash: Sha256 },
        ] {
            assert_eq!(s.key_transport(&kt, 2048, Produce), Verdict::Allowed);
            assert_eq!(s.key_transport(&kt, 3072, Accept), Verdict::Allowed);
            assert!(refused(&s.key_transport(&kt, 1024, Produce)));
            assert!(is_weak(&s.key_transport(&kt, 1024, Accept)));
            assert!(refused(&s.key_transport(&kt, 768, Accept)));
            assert!(is_weak(&l.key_transport(&kt, 1024, Produce)));
            assert_eq!(l.key_transport(&kt, 2048, Produce), Verdict::Allowed);
        }
    }

    #[test]
    fn verdict_helpers() {
        assert!(Verdict::Allowed.is_allowed());
        assert!(Verdict::Weak("x".into()).is_allowed());
        assert!(!Verdict::Refused("x".into()).is_allowed());
        let err = StandardPolicy
            .content_cipher(ContentCipher::DesEde3Cbc, Produce)
            .into_result(&StandardPolicy)
            .expect_err("refused");
        assert!(
            matches!(err, crate::AlgError::PolicyViolation { ref policy, .. } if policy == "standard")
        );
        assert_eq!(
            Verdict::Allowed.into_result(&StandardPolicy),
            Ok(Verdict::Allowed)
        );
    }
}
