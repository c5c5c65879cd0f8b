//! Message digests: identification by OID and name, `AlgorithmIdentifier` encoding, and
//! incremental hashing.
//!
//! [`Hasher`] dispatches over the RustCrypto hashers (`md2`, `md-5`, `sha1`, `sha2`) with a
//! private enum so that callers can stream data without generics.

use const_oid::ObjectIdentifier;
use der::asn1::Any;
use der::{Decode, Encode};
use digest::Digest;
use spki::AlgorithmIdentifierOwned;

use crate::AlgError;
use crate::oid;

/// A digest algorithm mss knows.
///
/// MD5 is present to *verify* old mail; the policy decides whether it may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// MD2 (RFC 1319). Verification of historic mail only.
    Md2,
    /// MD5 (RFC 1321). Verification of historic mail only.
    Md5,
    /// SHA-1 (FIPS 180-4). Historic.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// Every digest, for enumeration in tests and CLI help.
    pub const ALL: &'static [DigestAlgorithm] = &[
        DigestAlgorithm::Md2,
        DigestAlgorithm::Md5,
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha224,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ];

    /// The algorithm's OID (as used in CMS `DigestAlgorithmIdentifier`).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            DigestAlgorithm::Md2 => oid::ID_MD2,
            DigestAlgorithm::Md5 => oid::ID_MD5,
            DigestAlgorithm::Sha1 => oid::ID_SHA1,
            DigestAlgorithm::Sha224 => oid::ID_SHA224,
            DigestAlgorithm::Sha256 => oid::ID_SHA256,
            DigestAlgorithm::Sha384 => oid::ID_SHA384,
            DigestAlgorithm::Sha512 => oid::ID_SHA512,
        }
    }

    /// Look an algorithm up by OID.
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, AlgError> {
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.oid() == *oid)
            .ok_or_else(|| AlgError::Unsupported(format!("digest algorithm {oid}")))
    }

    /// Short lower-case name: `md2`, `md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md2 => "md2",
            DigestAlgorithm::Md5 => "md5",
            DigestAlgorithm::Sha1 => "sha1",
            DigestAlgorithm::Sha224 => "sha224",
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// Parse a short name (as `name()` gives, also accepting `sha-256` style).
    ///
    /// Matching ignores ASCII case and dashes/underscores: `SHA256`, `sha-256` and
    /// `sha_256` all name SHA-256.
    pub fn from_name(name: &str) -> Result<Self, AlgError> {
        let norm: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.name() == norm)
            .ok_or_else(|| AlgError::Unsupported(format!("digest algorithm {name:?}")))
    }

    /// The `micalg` parameter value of multipart/signed (RFC 5751 §3.4.3.2): `sha-256`, `md5`, …
    pub fn micalg(self) -> &'static str {
        match self {
            DigestAlgorithm::Md2 => "md2",
            DigestAlgorithm::Md5 => "md5",
            DigestAlgorithm::Sha1 => "sha-1",
            DigestAlgorithm::Sha224 => "sha-224",
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha384 => "sha-384",
            DigestAlgorithm::Sha512 => "sha-512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Md2 | DigestAlgorithm::Md5 => 16,
            DigestAlgorithm::Sha1 => 20,
            DigestAlgorithm::Sha224 => 28,
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        let inner = match self {
            DigestAlgorithm::Md2 => Inner::Md2(md2::Md2::new()),
            DigestAlgorithm::Md5 => Inner::Md5(md5::Md5::new()),
            DigestAlgorithm::Sha1 => Inner::Sha1(sha1::Sha1::new()),
            DigestAlgorithm::Sha224 => Inner::Sha224(sha2::Sha224::new()),
            DigestAlgorithm::Sha256 => Inner::Sha256(sha2::Sha256::new()),
            DigestAlgorithm::Sha384 => Inner::Sha384(sha2::Sha384::new()),
            DigestAlgorithm::Sha512 => Inner::Sha512(sha2::Sha512::new()),
        };
        Hasher { inner }
    }

    /// Hash `data` in one go.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }

    /// The CMS `DigestAlgorithmIdentifier`: the OID with *absent* parameters
    /// (RFC 5754 §2; RFC 3370 §2.1 for MD5 and SHA-1).
    pub fn to_algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    /// Parse a `DigestAlgorithmIdentifier`; absent and NULL parameters are both accepted
    /// (RFC 4055 §2.1, RFC 5754 §2), anything else is refused.
    pub fn from_algorithm_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, AlgError> {
        let d = Self::from_oid(&alg.oid)?;
        match &alg.parameters {
            None => Ok(d),
            Some(p) if p.is_null() => Ok(d),
            Some(_) => Err(AlgError::InvalidParameters {
                alg: d.name().to_owned(),
                reason: "digest parameters must be absent or NULL".to_owned(),
            }),
        }
    }

    /// The hash `AlgorithmIdentifier` as it appears inside RSASSA-PSS / RSAES-OAEP
    /// parameters: with NULL parameters, exactly as RFC 4055 §2.1 spells
    /// `sha256Identifier` & co. (and as OpenSSL writes them).
    pub(crate) fn to_rfc4055_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(Any::null()),
        }
    }
}

/// Decode algorithm parameters held in an `ANY` as `T`.
pub(crate) fn decode_params<T>(alg: &str, params: &Any) -> Result<T, AlgError>
where
    T: for<'a> Decode<'a>,
{
    let bad = |e: String| AlgError::InvalidParameters {
        alg: alg.to_owned(),
        reason: e,
    };
    let der = params.to_der().map_err(|e| bad(e.to_string()))?;
    T::from_der(&der).map_err(|e| bad(e.to_string()))
}

/// Encode `value` as an `ANY` (for an `AlgorithmIdentifier`'s parameters).
pub(crate) fn encode_params<T: Encode>(alg: &str, value: &T) -> Result<Any, AlgError> {
    let bad = |e: der::Error| AlgError::InvalidParameters {
        alg: alg.to_owned(),
        reason: e.to_string(),
    };
    let der = value.to_der().map_err(bad)?;
    Any::from_der(&der).map_err(bad)
}

/// Parse an `MGF1` `AlgorithmIdentifier` (RFC 4055: `id-mgf1` with a hash
/// `AlgorithmIdentifier` as parameters) and return the MGF1 hash.
pub(crate) fn parse_mgf1(
    alg: &str,
    mgf: &AlgorithmIdentifierOwned,
) -> Result<DigestAlgorithm, AlgError> {
    if mgf.oid != oid::ID_MGF1 {
        return Err(AlgError::Unsupported(format!(
            "mask generation function {} in {alg}",
            mgf.oid
        )));
    }
    let params = mgf
        .parameters
        .as_ref()
        .ok_or_else(|| AlgError::InvalidParameters {
            alg: alg.to_owned(),
            reason: "MGF1 without hash parameters".to_owned(),
        })?;
    let hash: AlgorithmIdentifierOwned = decode_params(alg, params)?;
    DigestAlgorithm::from_algorithm_identifier(&hash)
}

/// Build `id-mgf1` with `hash` as parameters; the hash identifier carries NULL
/// parameters when `null` is set (RFC 4055 style), none otherwise (RFC 5754 style).
pub(crate) fn mgf1_identifier(
    alg: &str,
    hash: DigestAlgorithm,
    null: bool,
) -> Result<AlgorithmIdentifierOwned, AlgError> {
    let hash_id = if null {
        hash.to_rfc4055_identifier()
    } else {
        hash.to_algorithm_identifier()
    };
    Ok(AlgorithmIdentifierOwned {
        oid: oid::ID_MGF1,
        parameters: Some(encode_params(alg, &hash_id)?),
    })
}

#[derive(Clone)]
enum Inner {
    Md2(md2::Md2),
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// An incremental hasher for one [`DigestAlgorithm`] (streaming-friendly).
#[derive(Clone)]
pub struct Hasher {
    inner: Inner,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> DigestAlgorithm {
        match self.inner {
            Inner::Md2(_) => DigestAlgorithm::Md2,
            Inner::Md5(_) => DigestAlgorithm::Md5,
            Inner::Sha1(_) => DigestAlgorithm::Sha1,
            Inner::Sha224(_) => DigestAlgorithm::Sha224,
            Inner::Sha256(_) => DigestAlgorithm::Sha256,
            Inner::Sha384(_) => DigestAlgorithm::Sha384,
            Inner::Sha512(_) => DigestAlgorithm::Sha512,
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::Md2(h) => h.update(data),
            Inner::Md5(h) => h.update(data),
            Inner::Sha1(h) => h.update(data),
            Inner::Sha224(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
            Inner::Sha384(h) => h.update(data),
            Inner::Sha512(h) => h.update(data),
        }
    }

    /// Finish and return the digest.
    pub fn finalize(self) -> Vec<u8> {
        match self.inner {
            Inner::Md2(h) => h.finalize().to_vec(),
            Inner::Md5(h) => h.finalize().to_vec(),
            Inner::Sha1(h) => h.finalize().to_vec(),
            Inner::Sha224(h) => h.finalize().to_vec(),
            Inner::Sha256(h) => h.finalize().to_vec(),
            Inner::Sha384(h) => h.finalize().to_vec(),
            Inner::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(d: DigestAlgorithm, data: &[u8]) -> String {
        hex::encode(d.digest(data))
    }

    #[test]
    fn known_answers_abc() {
        // RFC 1321 A.5, FIPS 180-2 appendix examples ("abc").
        assert_eq!(
            hx(DigestAlgorithm::Md5, b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hx(DigestAlgorithm::Md5, b""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hx(DigestAlgorithm::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hx(DigestAlgorithm::Sha224, b"abc"),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            hx(DigestAlgorithm::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hx(DigestAlgorithm::Sha384, b"abc"),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            hx(DigestAlgorithm::Sha512, b"abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn md2_rfc1319_vectors() {
        // RFC 1319 A.5 test suite.
        let cases: [(&[u8], &str); 5] = [
            (b"", "8350e5a3e24c153df2275c9f80692773"),
            (b"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"),
            (b"abc", "da853b0d3f88d99b30283a69e6ded6bb"),
            (b"message digest", "ab4f496bfb2a530b219ff33031fe06b0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "4e8ddff3650292ab5a4108c3aa47940b",
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(hx(DigestAlgorithm::Md2, msg), want);
        }
        assert_eq!(DigestAlgorithm::from_name("MD2"), Ok(DigestAlgorithm::Md2));
        assert_eq!(
            DigestAlgorithm::from_oid(&oid::ID_MD2),
            Ok(DigestAlgorithm::Md2)
        );
    }

    #[test]
    fn known_answer_two_block_sha256_streamed() {
        // FIPS 180-2 B.2: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let mut h = DigestAlgorithm::Sha256.hasher();
        for chunk in msg.chunks(7) {
            std::io::Write::write_all(&mut h, chunk).expect("hasher write");
        }
        assert_eq!(h.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(
            hex::encode(h.finalize()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn names_oids_lengths() {
        for &d in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_oid(&d.oid()), Ok(d));
            assert_eq!(DigestAlgorithm::from_name(d.name()), Ok(d));
            assert_eq!(DigestAlgorithm::from_name(d.micalg()), Ok(d));
            assert_eq!(d.digest(b"x").len(), d.output_len());
            assert_eq!(d.hasher().algorithm(), d);
            let ai = d.to_algorithm_identifier();
            assert!(ai.parameters.is_none());
            assert_eq!(DigestAlgorithm::from_algorithm_identifier(&ai), Ok(d));
            assert_eq!(
                DigestAlgorithm::from_algorithm_identifier(&d.to_rfc4055_identifier()),
                Ok(d)
            );
        }
        assert_eq!(
            DigestAlgorithm::from_name("SHA256"),
            Ok(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            DigestAlgorithm::from_name("sha-1"),
            Ok(DigestAlgorithm::Sha1)
        );
        assert_eq!(DigestAlgorithm::from_name("MD5"), Ok(DigestAlgorithm::Md5));
        assert!(DigestAlgorithm::from_name("sha3-256").is_err());
        assert_eq!(DigestAlgorithm::Sha256.micalg(), "sha-256");
        assert_eq!(DigestAlgorithm::Sha1.micalg(), "sha-1");
        assert_eq!(DigestAlgorithm::Md5.micalg(), "md5");
        assert!(matches!(
            DigestAlgorithm::from_oid(&oid::ID_DATA),
            Err(AlgError::Unsupported(_))
        ));
        let bad = AlgorithmIdentifierOwned {
            oid: oid::ID_SHA256,
            parameters: Some(
                Any::encode_from(&der::asn1::OctetString::new(vec![1u8]).expect("os"))
                    .expect("any"),
            ),
        };
        assert!(matches!(
            DigestAlgorithm::from_algorithm_identifier(&bad),
            Err(AlgError::InvalidParameters { .. })
        ));
    }
}
