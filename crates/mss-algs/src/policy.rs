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
use crate::rsa::KeyTransport;
use crate::signature::SignatureAlgorithm;

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
}

/// The default policy: produce modern algorithms only (SHA-256+, AES, RSA ≥ 2048);
/// accept historic ones (SHA-1, 3DES, RSA 1024) with a `weak-algorithm` warning;
/// refuse MD5 signatures and RSA keys below 1024 bits.
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
            DigestAlgorithm::Md5 | DigestAlgorithm::Sha1 => self.historic(usage, alg.name()),
            _ => Verdict::Allowed,
        }
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
        let digest = if alg.digest == DigestAlgorithm::Md5 && usage == Usage::Accept && !self.legacy
        {
            self.refuse(usage, &alg.name(), "MD5 signatures are forgeable")
        } else {
            match alg.digest {
                DigestAlgorithm::Md5 | DigestAlgorithm::Sha1 => self.historic(usage, &alg.name()),
                _ => Verdict::Allowed,
            }
        };
        worst(digest, self.key_size(key_bits, usage))
    }

    fn content_cipher(&self, cipher: ContentCipher, usage: Usage) -> Verdict {
        match cipher {
            ContentCipher::DesEde3Cbc => self.historic(usage, cipher.name()),
            _ => Verdict::Allowed,
        }
    }

    fn key_transport(&self, kt: &KeyTransport, key_bits: usize, usage: Usage) -> Verdict {
        let alg = match kt {
            KeyTransport::RsaOaep {
                hash: DigestAlgorithm::Md5,
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
            if c == ContentCipher::DesEde3Cbc {
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
